//! The paths git tracks, read from `.git/index` (versions 2, 3 and 4), so that tracked
//! files count even when a `.gitignore` pattern matches them — git's own rule, and the
//! one `reuse lint` follows (it asks git only for *untracked* ignored files).

use std::path::{Path, PathBuf};

/// Parses an index file; `None` if it is not a version 2-4 index with SHA-1 ids.
pub fn parse_index(data: &[u8]) -> Option<Vec<String>> {
    if data.len() < 12 || &data[..4] != b"DIRC" {
        return None;
    }
    let version = u32::from_be_bytes(data[4..8].try_into().ok()?);
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = u32::from_be_bytes(data[8..12].try_into().ok()?) as usize;
    let mut paths = Vec::with_capacity(count);
    let mut pos = 12;
    let mut previous: Vec<u8> = Vec::new();
    const FIXED: usize = 40 + 20 + 2; // stat data, object id, flags
    for _ in 0..count {
        let start = pos;
        let flags = u16::from_be_bytes(data.get(pos + 60..pos + 62)?.try_into().ok()?);
        pos += FIXED;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return None;
            }
            pos += 2;
        }
        if version == 4 {
            let mut c = *data.get(pos)?;
            pos += 1;
            let mut strip = usize::from(c & 127);
            while c & 128 != 0 {
                c = *data.get(pos)?;
                pos += 1;
                strip = ((strip + 1) << 7) | usize::from(c & 127);
            }
            let end = pos + memchr::memchr(0, data.get(pos..)?)?;
            let keep = previous.len().checked_sub(strip)?;
            previous.truncate(keep);
            previous.extend_from_slice(&data[pos..end]);
            pos = end + 1;
            paths.push(String::from_utf8_lossy(&previous).into_owned());
        } else {
            let end = pos + memchr::memchr(0, data.get(pos..)?)?;
            paths.push(String::from_utf8_lossy(&data[pos..end]).into_owned());
            // Entries are padded with 1-8 NULs to a multiple of 8 bytes.
            let len = end - start;
            pos = start + (len / 8 + 1) * 8;
        }
    }
    paths.dedup();
    Some(paths)
}

/// Finds the git directory and the top of the work tree that contain `root`.
fn find_git(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut dir = root.canonicalize().ok()?;
    loop {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Some((dot_git, dir));
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            let git_dir = dir.join(target);
            return Some((git_dir, dir));
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The tracked files under `root`, relative to `root` (`/`-separated), or `None` when
/// `root` is not in a git work tree or its index cannot be read.
pub fn tracked_under(root: &Path) -> Option<Vec<String>> {
    let (git_dir, top) = find_git(root)?;
    let data = std::fs::read(git_dir.join("index")).ok()?;
    let paths = parse_index(&data)?;
    let root = root.canonicalize().ok()?;
    let prefix = root.strip_prefix(&top).ok()?;
    let mut prefix: String = prefix
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if prefix.is_empty() {
        return Some(paths);
    }
    prefix.push('/');
    Some(
        paths
            .into_iter()
            .filter_map(|p| p.strip_prefix(prefix.as_str()).map(str::to_string))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_v2(name: &str) -> Vec<u8> {
        let mut e = vec![0u8; 60];
        e.extend_from_slice(&(name.len() as u16).to_be_bytes());
        e.extend_from_slice(name.as_bytes());
        let len = e.len();
        e.resize((len / 8 + 1) * 8, 0);
        e
    }

    #[test]
    fn parses_version_2() {
        let mut data = b"DIRC".to_vec();
        data.extend_from_slice(&2u32.to_be_bytes());
        data.extend_from_slice(&2u32.to_be_bytes());
        data.extend(entry_v2("a.c"));
        data.extend(entry_v2("src/longer-name.rs"));
        assert_eq!(
            parse_index(&data),
            Some(vec!["a.c".to_string(), "src/longer-name.rs".to_string()])
        );
    }

    #[test]
    fn parses_version_4_prefix_compression() {
        let mut data = b"DIRC".to_vec();
        data.extend_from_slice(&4u32.to_be_bytes());
        data.extend_from_slice(&2u32.to_be_bytes());
        for (strip, suffix) in [(0u8, "src/a.c"), (3, "b.rs")] {
            data.extend_from_slice(&[0u8; 60]);
            data.extend_from_slice(&0u16.to_be_bytes());
            data.push(strip);
            data.extend_from_slice(suffix.as_bytes());
            data.push(0);
        }
        assert_eq!(
            parse_index(&data),
            Some(vec!["src/a.c".to_string(), "src/b.rs".to_string()])
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_index(b"nope"), None);
        assert_eq!(parse_index(b"DIRC\0\0\0\x09\0\0\0\0"), None);
    }
}
