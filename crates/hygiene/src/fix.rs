//! `hygiene fix`: adds missing REUSE information. A file that has a comment syntax we
//! know gets an SPDX header in it (after a `#!` or `<?xml` first line); a binary file,
//! or one whose syntax we do not know, gets a `<file>.license` sidecar. A text file
//! that is not valid UTF-8 is left alone: we do not change what we cannot parse.
//! Planning is pure; [`apply`] writes.

use std::path::Path;

/// How to write a comment in a file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentStyle {
    /// Each line starts with the prefix (`//`, `#`, `--`, `;`, `%`, `..`).
    Line(&'static str),
    /// One block (`/*` `*/`, `<!--` `-->`, `{#` `#}`, `(*` `*)`).
    Block(&'static str, &'static str),
}

/// The comment style for a file name, or `None` when we do not know it.
pub fn comment_style(name: &str) -> Option<CommentStyle> {
    use CommentStyle::{Block, Line};
    let lower = name.to_ascii_lowercase();
    let by_name = match lower.as_str() {
        "makefile" | "gnumakefile" | "dockerfile" | "containerfile" | "cmakelists.txt"
        | "kconfig" | "kbuild" | ".gitignore" | ".gitattributes" | ".gitmodules"
        | ".dockerignore" | ".editorconfig" | "gemfile" | "rakefile" | "vagrantfile"
        | "justfile" | "pipfile" | "requirements.txt" | "codeowners" => Some(Line("#")),
        _ => None,
    };
    if by_name.is_some() {
        return by_name;
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "rs" | "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "hh" | "java" | "kt" | "kts" | "go"
        | "js" | "mjs" | "cjs" | "jsx" | "ts" | "tsx" | "swift" | "scala" | "dart" | "cs"
        | "fs" | "groovy" | "gradle" | "proto" | "dts" | "dtsi" | "zig" | "sv" | "jsonc"
        | "json5" => Line("//"),
        "css" | "scss" | "less" => Block("/*", "*/"),
        "py" | "pyi" | "sh" | "bash" | "zsh" | "fish" | "rb" | "pl" | "pm" | "r" | "toml"
        | "yaml" | "yml" | "cmake" | "mk" | "ps1" | "nix" | "tf" | "conf" | "cfg" | "ini"
        | "properties" | "nim" | "cr" | "jl" | "ex" | "exs" | "awk" | "sed" | "dockerfile"
        | "bzl" | "bazel" | "star" | "env" => Line("#"),
        "sql" | "lua" | "hs" | "elm" | "ada" | "adb" | "ads" | "vhd" | "vhdl" => Line("--"),
        "el" | "lisp" | "clj" | "cljs" | "scm" | "ll" => Line(";"),
        "tex" | "sty" | "cls" | "erl" | "hrl" => Line("%"),
        "rst" => Line(".."),
        "vim" => Line("\""),
        "bat" | "cmd" => Line("REM"),
        "html" | "htm" | "xml" | "svg" | "md" | "markdown" | "xhtml" | "vue" | "xsl" | "xslt"
        | "plist" => Block("<!--", "-->"),
        "j2" | "jinja" | "jinja2" | "njk" => Block("{#", "#}"),
        "ml" | "mli" | "pas" => Block("(*", "*)"),
        _ => return None,
    })
}

/// What to do for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Replace the file's contents.
    Edit {
        path: String,
        old: String,
        new: String,
    },
    /// Create `path` (a `.license` sidecar) with `content`.
    Create { path: String, content: String },
    /// Leave the file; `reason` says why.
    Skip { path: String, reason: String },
}

fn tag_lines(copyright: Option<&str>, license: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(c) = copyright {
        lines.push(format!("SPDX-FileCopyrightText: {c}"));
    }
    if let Some(l) = license {
        lines.push(format!("SPDX-License-Identifier: {l}"));
    }
    lines
}

/// Plans the fix of `path` whose contents are `data`; `copyright` / `license` are the
/// values to add (`None` when that part is not missing). `binary` is reuse's verdict.
pub fn plan(
    path: &str,
    data: &[u8],
    binary: bool,
    sidecar_exists: bool,
    copyright: Option<&str>,
    license: Option<&str>,
) -> Plan {
    let lines = tag_lines(copyright, license);
    // A sidecar replaces everything the file says about itself, so it repeats the
    // notices and expressions the file already has.
    let mut sidecar_lines = Vec::new();
    if !binary {
        let own = crate::reuse::extract::extract(data);
        sidecar_lines.extend(own.copyrights.into_iter().map(|(_, c)| c));
        sidecar_lines.extend(
            own.expressions
                .into_iter()
                .map(|(_, e)| format!("SPDX-License-Identifier: {e}")),
        );
    }
    sidecar_lines.extend(lines.iter().cloned());
    let name = path.rsplit('/').next().unwrap_or(path);
    let sidecar = |why: &str| {
        if sidecar_exists {
            Plan::Skip {
                path: path.to_string(),
                reason: format!("{why}, and {path}.license exists already: add the tags there"),
            }
        } else {
            Plan::Create {
                path: format!("{path}.license"),
                content: sidecar_lines.iter().map(|l| format!("{l}\n")).collect(),
            }
        }
    };
    if binary {
        return sidecar("binary file");
    }
    let Some(style) = comment_style(name) else {
        return sidecar("no known comment syntax");
    };
    if sidecar_exists {
        return Plan::Skip {
            path: path.to_string(),
            reason: format!("{path}.license decides this file's licensing: add the tags there"),
        };
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Plan::Skip {
            path: path.to_string(),
            reason: "not valid UTF-8: not changed".into(),
        };
    };
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let header: String = match style {
        CommentStyle::Line(prefix) => lines
            .iter()
            .map(|l| format!("{prefix} {l}{newline}"))
            .collect(),
        CommentStyle::Block(open, close) => {
            let mut h = format!("{open}{newline}");
            for l in &lines {
                h.push_str(&format!("{l}{newline}"));
            }
            h.push_str(&format!("{close}{newline}"));
            h
        }
    };
    // Keep a shebang or XML declaration first.
    let keep_first = text.starts_with("#!") || text.starts_with("<?xml");
    let (first, rest) = if keep_first {
        match text.find('\n') {
            Some(i) => text.split_at(i + 1),
            None => (text, ""),
        }
    } else {
        ("", text)
    };
    let first = if keep_first && !first.ends_with('\n') {
        format!("{first}{newline}")
    } else {
        first.to_string()
    };
    let separator = if rest.is_empty() { "" } else { newline };
    Plan::Edit {
        path: path.to_string(),
        old: text.to_string(),
        new: format!("{first}{header}{separator}{rest}"),
    }
}

/// A unified diff of what a plan would change (for `--dry-run`).
pub fn diff(plan: &Plan) -> String {
    match plan {
        Plan::Edit { path, old, new } => similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string(),
        Plan::Create { path, content } => similar::TextDiff::from_lines("", content)
            .unified_diff()
            .header("/dev/null", &format!("b/{path}"))
            .to_string(),
        Plan::Skip { path, reason } => format!("# skipped {path}: {reason}\n"),
    }
}

/// Plans fixes for every file the REUSE check finds without copyright or licensing
/// information under `root`, adding `copyright` and/or `license` as needed.
pub fn plan_repository(
    root: &Path,
    copyright: &str,
    license: &str,
) -> Result<Vec<Plan>, crate::CheckError> {
    let policy = crate::Policy {
        licensing: crate::policy::Licensing {
            reuse: Some(crate::policy::ReuseRule {
                severity: crate::Severity::Error,
            }),
            ..crate::policy::Licensing::default()
        },
        ..crate::Policy::default()
    };
    let (_, reuse) = crate::check_detailed(root, &policy, &crate::CheckOptions::default())?;
    let Some(reuse) = reuse else {
        return Ok(Vec::new());
    };
    let paths: std::collections::BTreeSet<&String> = reuse
        .missing_copyright
        .iter()
        .chain(reuse.missing_licensing.iter())
        .collect();
    let mut plans = Vec::new();
    for path in paths {
        let full = root.join(path);
        let data = match std::fs::read(&full) {
            Ok(d) => d,
            Err(e) => {
                plans.push(Plan::Skip {
                    path: path.clone(),
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let binary = crate::reuse::extract::detect_encoding(&data)
            == crate::reuse::extract::Encoding::Binary;
        let sidecar_exists = root.join(format!("{path}.license")).exists();
        plans.push(plan(
            path,
            &data,
            binary,
            sidecar_exists,
            reuse.missing_copyright.contains(path).then_some(copyright),
            reuse.missing_licensing.contains(path).then_some(license),
        ));
    }
    Ok(plans)
}

/// Writes the plans under `root`; returns how many files were written.
pub fn apply(root: &Path, plans: &[Plan]) -> std::io::Result<usize> {
    let mut written = 0;
    for p in plans {
        match p {
            Plan::Edit { path, new, .. } => {
                std::fs::write(root.join(path), new)?;
                written += 1;
            }
            Plan::Create { path, content } => {
                let target = root.join(path);
                // Never overwrite: create_new fails if the file appeared meanwhile.
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(target)?
                    .write_all(content.as_bytes())?;
                written += 1;
            }
            Plan::Skip { .. } => {}
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(path: &str, text: &str) -> String {
        match plan(
            path,
            text.as_bytes(),
            false,
            false,
            Some("2026 Jane Doe"),
            Some("MIT"),
        ) {
            Plan::Edit { new, .. } => new,
            other => panic!("expected an edit, got {other:?}"),
        }
    }

    #[test]
    fn headers_in_each_style() {
        assert_eq!(
            edit("a.rs", "fn main() {}\n"),
            "// SPDX-FileCopyrightText: 2026 Jane Doe\n// SPDX-License-Identifier: MIT\n\nfn main() {}\n"
        );
        assert_eq!(
            edit("run.sh", "#!/bin/sh\necho hi\n"),
            "#!/bin/sh\n# SPDX-FileCopyrightText: 2026 Jane Doe\n# SPDX-License-Identifier: MIT\n\necho hi\n"
        );
        assert_eq!(
            edit("README.md", "# Title\r\n"),
            "<!--\r\nSPDX-FileCopyrightText: 2026 Jane Doe\r\nSPDX-License-Identifier: MIT\r\n-->\r\n\r\n# Title\r\n"
        );
        assert_eq!(
            edit("Makefile", ""),
            "# SPDX-FileCopyrightText: 2026 Jane Doe\n# SPDX-License-Identifier: MIT\n"
        );
    }

    #[test]
    fn binary_unknown_and_unparsable_files() {
        let p = plan(
            "logo.png",
            b"\x89PNG",
            true,
            false,
            Some("2026 A"),
            Some("CC0-1.0"),
        );
        assert_eq!(
            p,
            Plan::Create {
                path: "logo.png.license".into(),
                content: "SPDX-FileCopyrightText: 2026 A\nSPDX-License-Identifier: CC0-1.0\n"
                    .into()
            }
        );
        assert!(matches!(
            plan("data.weird", b"x", false, false, None, Some("MIT")),
            Plan::Create { .. }
        ));
        assert!(matches!(
            plan("a.c", b"\xff\xfe bad", false, false, None, Some("MIT")),
            Plan::Skip { .. }
        ));
        assert!(matches!(
            plan("a.c", b"int x;", false, true, None, Some("MIT")),
            Plan::Skip { .. }
        ));
    }
}
