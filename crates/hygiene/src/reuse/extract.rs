//! Finding REUSE tags in a file's bytes the way reuse 6.2 does (`reuse/extract.py`).
//!
//! reuse detects the encoding of the first 2 KiB with libmagic (binary files are not
//! searched), reads the file in 64 KiB chunks cut at the next newline, drops
//! `REUSE-IgnoreStart` ... `REUSE-IgnoreEnd` blocks, and then looks at every line that
//! holds `SPDX-...:`, `Copyright` or `©`. Tags count anywhere in the file. Most lines
//! hold none of those words, so we find candidate lines with memchr and only decode
//! and match those.

use std::sync::LazyLock;

use memchr::memmem;
use regex::Regex;

/// What one file (or `.license` sidecar) says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileTags {
    /// Copyright notices found, with their 1-based line numbers.
    pub copyrights: Vec<(u32, String)>,
    /// `SPDX-License-Identifier` values, with their 1-based line numbers.
    pub expressions: Vec<(u32, String)>,
    /// Whether an `SPDX-FileContributor` line was found.
    pub contributor: bool,
    /// libmagic would call the file binary, so reuse does not search it.
    pub binary: bool,
}

impl FileTags {
    /// reuse's `contains_info`.
    pub fn contains_info(&self) -> bool {
        !self.copyrights.is_empty() || !self.expressions.is_empty() || self.contributor
    }
}

const HEURISTICS_CHUNK: usize = 2048;
const CHUNK_SIZE: usize = 64 * 1024;
const LINE_SIZE: usize = 1024;

/// The text encodings reuse can end up with (via python-magic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Binary,
    Utf8,
    Latin1,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

// libmagic's text_chars (src/encoding.c): F never in text, T ASCII text, I ISO-8859,
// X non-ISO extended ASCII.
const F: u8 = 0;
const T: u8 = 1;
const I: u8 = 2;
const X: u8 = 3;

const fn text_chars() -> [u8; 256] {
    let mut table = [F; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match i {
            7..=13 | 27 => T,
            0x20..=0x7e => T,
            0x85 => T,
            0x80..=0x9f => X,
            0xa0..=0xff => I,
            _ => F,
        };
        i += 1;
    }
    table
}

static TEXT_CHARS: [u8; 256] = text_chars();

fn looks_utf8(buf: &[u8]) -> bool {
    // file_looks_utf8() > 1: valid UTF-8 (a sequence cut by the end of the buffer is
    // fine) with at least one multi-byte character and only text ASCII bytes.
    let mut gotone = false;
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b & 0x80 == 0 {
            if TEXT_CHARS[b as usize] != T {
                return false;
            }
        } else if b & 0x40 == 0 {
            return false;
        } else {
            let following = if b & 0x20 == 0 {
                1
            } else if b & 0x10 == 0 {
                2
            } else if b & 0x08 == 0 {
                3
            } else if b & 0x04 == 0 {
                4
            } else if b & 0x02 == 0 {
                5
            } else {
                return false;
            };
            for _ in 0..following {
                i += 1;
                if i >= buf.len() {
                    return gotone;
                }
                if buf[i] & 0x80 == 0 || buf[i] & 0x40 != 0 {
                    return false;
                }
            }
            gotone = true;
        }
        i += 1;
    }
    gotone
}

fn looks_ucs16(buf: &[u8]) -> Option<Encoding> {
    if buf.len() < 2 {
        return None;
    }
    let big = match (buf[0], buf[1]) {
        (0xff, 0xfe) => false,
        (0xfe, 0xff) => true,
        _ => return None,
    };
    let mut i = 2;
    while i + 1 < buf.len() {
        let u = if big {
            u16::from(buf[i + 1]) | (u16::from(buf[i]) << 8)
        } else {
            u16::from(buf[i]) | (u16::from(buf[i + 1]) << 8)
        };
        if u == 0xfffe || (u < 128 && TEXT_CHARS[u as usize] != T) {
            return None;
        }
        i += 2;
    }
    Some(if big {
        Encoding::Utf16Be
    } else {
        Encoding::Utf16Le
    })
}

fn looks_ucs32(buf: &[u8]) -> Option<Encoding> {
    if buf.len() < 4 {
        return None;
    }
    let big = match (buf[0], buf[1], buf[2], buf[3]) {
        (0xff, 0xfe, 0, 0) => false,
        (0, 0, 0xfe, 0xff) => true,
        _ => return None,
    };
    let mut i = 4;
    while i + 3 < buf.len() {
        let b = [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
        let u = if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        if u == 0xfffe || (u < 128 && TEXT_CHARS[u as usize] != T) {
            return None;
        }
        i += 4;
    }
    Some(if big {
        Encoding::Utf32Be
    } else {
        Encoding::Utf32Le
    })
}

/// Whether every byte is libmagic's ASCII text (`T`): printable ASCII, 7-13, 27 (ESC)
/// or 0x85. Written without an early exit so that it vectorises: most files are
/// ASCII text, and this runs on the first 2 KiB of every file.
fn all_ascii_text(head: &[u8]) -> bool {
    head.chunks(64).all(|chunk| {
        chunk.iter().fold(true, |ok, &b| {
            ok & ((0x20..=0x7e).contains(&b) | (7..=13).contains(&b) | (b == 27) | (b == 0x85))
        })
    })
}

/// The encoding reuse (python-magic's `mime_encoding` on the first 2 KiB) assigns.
pub fn detect_encoding(head: &[u8]) -> Encoding {
    let head = &head[..head.len().min(HEURISTICS_CHUNK)];
    if all_ascii_text(head) {
        return Encoding::Utf8;
    }
    if head.starts_with(b"\xef\xbb\xbf") && (looks_utf8(&head[3..]) || head[3..].is_ascii()) {
        return Encoding::Utf8;
    }
    if looks_utf8(head) {
        return Encoding::Utf8;
    }
    if let Some(e) = looks_ucs32(head) {
        return e;
    }
    if let Some(e) = looks_ucs16(head) {
        return e;
    }
    if head
        .iter()
        .all(|&b| matches!(TEXT_CHARS[b as usize], T | I))
    {
        return Encoding::Latin1;
    }
    if head.iter().all(|&b| TEXT_CHARS[b as usize] != F) {
        // "unknown-8bit": Python cannot look it up and falls back to UTF-8.
        return Encoding::Utf8;
    }
    Encoding::Binary
}

/// Python's `str.isspace` (Rust's `char::is_whitespace` plus U+001C..U+001F).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

// Python `\s` is Unicode whitespace plus \x1c-\x1f; spelled out for the regex crate.
const WS: &str = r"[\s\x1c-\x1f]";

static ALL_MATCH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"SPDX-[^\s\x1c-\x1f]+:|Copyright|©").expect("static regex"));
static COPYRIGHT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"SPDX-(?:File|Snippet)CopyrightText:|Copyright(?:{WS}*(?:©|\([Cc]\))|{WS})|©"
    ))
    .expect("static regex")
});
/// reuse's `_END_PATTERN`: comment closers stripped from the end of a tag's value.
const END: &str = r#"(?:\*\#|\-\-\}\}|\-/|\#\}|=\#|\*\)|\][\s\x1c-\x1f]*::|\*/|'/|"[\s\x1c-\x1f]*/*>|\-\-%>|\-\->|\}|'[\s\x1c-\x1f]*/*>|:\))*"#;
/// The end of a tag's value: whitespace and comment closers up to the end of the line.
/// The leftmost match is where reuse's lazy `(?P<value>.*?)` stops.
static VALUE_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"{WS}*{END}{WS}*$")).expect("static regex"));

const LICENSE_TAG: &str = "SPDX-License-Identifier:";

/// The value of the `SPDX-License-Identifier:` tag in `text`, as reuse's
/// `_LICENSE_IDENTIFIER_PATTERN` captures it.
fn license_value(text: &str) -> Option<&str> {
    let start = text.find(LICENSE_TAG)? + LICENSE_TAG.len();
    let rest = text[start..].trim_start_matches(py_space);
    let end = VALUE_END.find(rest).map_or(rest.len(), |m| m.start());
    Some(&rest[..end])
}

/// Applies reuse's per-line logic (`extract_reuse_info`) to one line of decoded text.
fn scan_line(line: &str, line_no: u32, tags: &mut FileTags) {
    let Some(m) = ALL_MATCH.find(line) else {
        return;
    };
    let prefix: String = line[..m.start()]
        .trim_matches(py_space)
        .chars()
        .rev()
        .collect();
    let text = line.strip_suffix(prefix.as_str()).unwrap_or(line);
    if let Some(c) = COPYRIGHT.find(text) {
        let notice = &text[c.start()..];
        let end = VALUE_END.find(notice).map_or(notice.len(), |m| m.start());
        tags.copyrights.push((line_no, notice[..end].to_string()));
    } else if let Some(value) = license_value(text) {
        tags.expressions.push((line_no, value.to_string()));
    } else if text.contains("SPDX-FileContributor:") {
        tags.contributor = true;
    }
}

/// reuse's `filter_ignore_block`: removes ignore blocks from one chunk of text.
fn filter_ignore_block(text: &str, in_block: bool) -> (String, bool) {
    const START: &str = "REUSE-IgnoreStart";
    const END_TAG: &str = "REUSE-IgnoreEnd";
    let mut ignore_start = if in_block { Some(0) } else { None };
    if let Some(i) = text.find(START) {
        ignore_start = Some(i);
    }
    let ignore_end = text.find(END_TAG).map(|i| i + END_TAG.len());
    let Some(start) = ignore_start else {
        return (text.to_string(), false);
    };
    let Some(end) = ignore_end else {
        return (text[..start].to_string(), true);
    };
    if start < end {
        let (after, still) = filter_ignore_block(&text[end..], false);
        return (format!("{}{}", &text[..start], after), still);
    }
    let rest = &text[start + START.len()..];
    if let Some(i) = rest.find(END_TAG) {
        let (after, still) = filter_ignore_block(&rest[i + END_TAG.len()..], false);
        return (format!("{}{}", &text[..start], after), still);
    }
    (text[..start].to_string(), true)
}

/// Cuts `data` into reuse's chunks: 64 KiB, then up to the next newline within 1 KiB.
fn chunks<'a>(data: &'a [u8], newline: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let cut = chunk_end_after(data, pos, newline);
        out.push(&data[pos..cut]);
        pos = cut;
    }
    out
}

fn decode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Utf8 | Encoding::Binary => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| {
                    if encoding == Encoding::Utf16Le {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        Encoding::Utf32Le | Encoding::Utf32Be => bytes
            .chunks(4)
            .filter(|c| c.len() == 4)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                let u = if encoding == Encoding::Utf32Le {
                    u32::from_le_bytes(b)
                } else {
                    u32::from_be_bytes(b)
                };
                char::from_u32(u).unwrap_or('\u{fffd}')
            })
            .collect(),
    }
}

fn detect_newline(head: &[u8]) -> &'static [u8] {
    let head = &head[..head.len().min(HEURISTICS_CHUNK)];
    if memmem::find(head, b"\r\n").is_some() {
        b"\r\n"
    } else if memchr::memchr(b'\r', head).is_some() {
        b"\r"
    } else {
        b"\n"
    }
}

/// Counts lines as a text editor would (`\n`, `\r\n` and lone `\r` end lines),
/// incrementally: positions asked for only grow within a file.
struct LineCounter<'a> {
    data: &'a [u8],
    pos: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte `pos` (which must not be before the last one asked).
    fn line_at(&mut self, pos: usize) -> u32 {
        let pos = pos.max(self.pos);
        let span = &self.data[self.pos..pos];
        let lf = memchr::memchr_iter(b'\n', span).count();
        let lone_cr = memchr::memchr_iter(b'\r', span)
            .filter(|&i| self.data.get(self.pos + i + 1) != Some(&b'\n'))
            .count();
        self.line = self
            .line
            .saturating_add(u32::try_from(lf + lone_cr).unwrap_or(u32::MAX));
        self.pos = pos;
        self.line
    }
}

/// Finds the REUSE tags in a whole file's contents.
pub fn extract(data: &[u8]) -> FileTags {
    let encoding = detect_encoding(data);
    let mut tags = FileTags::default();
    match encoding {
        Encoding::Binary => {
            tags.binary = true;
        }
        Encoding::Utf8 | Encoding::Latin1 => {
            if !extract_fast(data, encoding, &mut tags) {
                tags = FileTags::default();
                extract_slow(data, encoding, &mut tags);
            }
        }
        _ => extract_slow(data, encoding, &mut tags),
    }
    tags
}

/// The trigger words of UTF-8 text, and `REUSE-Ignore`, in one SIMD pass (the regex
/// crate runs a packed multi-literal searcher for an alternation of literals). `©` is
/// U+00A9, bytes C2 A9 in UTF-8: a lone A9 byte decodes to U+FFFD, never to `©`, so
/// it cannot trigger; two-byte literals keep the searcher's fingerprints selective.
static TRIGGERS_UTF8: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r"(?-u:SPDX-|Copyright|\xC2\xA9|REUSE-Ignore)").expect("static regex")
});
/// The same for Latin-1 text, where the single byte A9 is `©`.
static TRIGGERS_LATIN1: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r"(?-u:SPDX-|Copyright|\xA9|REUSE-Ignore)").expect("static regex")
});

/// The common case: no ignore blocks, ASCII-compatible encoding; only lines that hold
/// a trigger word are decoded and matched. Returns false (having found nothing that
/// counts) when the file has `REUSE-Ignore`, which needs the exact emulation.
fn extract_fast(data: &[u8], encoding: Encoding, tags: &mut FileTags) -> bool {
    let triggers = if encoding == Encoding::Latin1 {
        &*TRIGGERS_LATIN1
    } else {
        &*TRIGGERS_UTF8
    };
    let mut hits = triggers.find_iter(data).peekable();
    if hits.peek().is_none() {
        return true;
    }
    let newline = detect_newline(data);
    let mut lines = LineCounter::new(data);
    // reuse reads 64 KiB chunks cut at a newline and searches each on its own: a
    // trigger word counts only inside one chunk, and a line ends at its chunk's end.
    let mut chunk_start = 0;
    let mut chunk_end = chunk_end_after(data, 0, newline);
    let mut next_line_start = 0;
    for m in hits {
        if data[m.start()] == b'R' {
            return false;
        }
        while m.start() >= chunk_end {
            chunk_start = chunk_end;
            chunk_end = chunk_end_after(data, chunk_start, newline);
        }
        if m.end() > chunk_end || m.start() < next_line_start {
            continue;
        }
        let chunk = &data[chunk_start..chunk_end];
        let hit = m.start() - chunk_start;
        let start = memchr::memrchr2(b'\n', b'\r', &chunk[..hit]).map_or(0, |i| i + 1);
        let end = memchr::memchr2(b'\n', b'\r', &chunk[hit..]).map_or(chunk.len(), |i| hit + i);
        next_line_start = chunk_start + (end + 1).min(chunk.len());
        let line = decode(&chunk[start..end], encoding);
        scan_line(&line, lines.line_at(chunk_start + start), tags);
    }
    true
}

/// The end of the chunk of reuse's reading that starts at `pos`: 64 KiB on, then up
/// to the next newline within 1 KiB.
fn chunk_end_after(data: &[u8], pos: usize, newline: &[u8]) -> usize {
    let end = (pos + CHUNK_SIZE).min(data.len());
    let extra_end = (end + LINE_SIZE).min(data.len());
    match memmem::find(&data[end..extra_end], newline) {
        Some(i) => end + i + newline.len(),
        None => extra_end,
    }
}

/// The exact emulation: decode each chunk, normalise newlines, drop ignore blocks.
fn extract_slow(data: &[u8], encoding: Encoding, tags: &mut FileTags) {
    let newline: Vec<u8> = match encoding {
        Encoding::Utf8 | Encoding::Latin1 | Encoding::Binary => detect_newline(data).to_vec(),
        _ => Vec::new(),
    };
    let pieces = if newline.is_empty() {
        vec![data]
    } else {
        chunks(data, &newline)
    };
    let mut in_block = false;
    let mut line_no: u32 = 1;
    for piece in pieces {
        let text = decode(piece, encoding)
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        let lines_in_piece = u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX);
        let (kept, still) = filter_ignore_block(&text, in_block);
        in_block = still;
        // After ignore blocks are cut out, line numbers are approximate: count the
        // newlines before each kept line in the kept text.
        for (i, line) in kept.split('\n').enumerate() {
            if ALL_MATCH.is_match(line) {
                scan_line(line, line_no + u32::try_from(i).unwrap_or(0), tags);
            }
        }
        line_no = line_no.saturating_add(lines_in_piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, copyrights: usize, expressions: &[&str]) {
        let tags = extract(text.as_bytes());
        assert_eq!(
            tags.copyrights.len(),
            copyrights,
            "copyrights of {text:?}: {tags:?}"
        );
        let found: Vec<&str> = tags.expressions.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(found, expressions, "expressions of {text:?}");
    }

    #[test]
    fn tags_as_reuse_reads_them() {
        check("// SPDX-License-Identifier: MIT\n", 0, &["MIT"]);
        check("/* SPDX-License-Identifier: MIT */\n", 0, &["MIT"]);
        check("<!-- SPDX-License-Identifier: MIT -->\n", 0, &["MIT"]);
        check("# SPDX-License-Identifier: MIT } }\n", 0, &["MIT }"]);
        check("SPDX-License-Identifier:\n", 0, &[""]);
        check("Copyright\n", 0, &[]);
        check("Copyright: me\n", 0, &[]);
        check("Copyright (C) me\n", 1, &[]);
        check("Copyright(c) me\n", 1, &[]);
        check(" © \n", 1, &[]);
        check("# SPDX-FileCopyrightText:\n", 1, &[]);
        check("SPDX-License-Identifier: MIT Copyright me\n", 1, &[]);
        check("a\r\nSPDX-License-Identifier: MIT\r\n", 0, &["MIT"]);
        check(
            "REUSE-IgnoreStart\nSPDX-License-Identifier: MIT\nREUSE-IgnoreEnd\n",
            0,
            &[],
        );
        check(
            "x REUSE-IgnoreStart y REUSE-IgnoreEnd SPDX-License-Identifier: A\n",
            0,
            &["A"],
        );
    }

    #[test]
    fn line_numbers_count_from_one() {
        let tags = extract(b"a\nb\n# SPDX-License-Identifier: MIT\n");
        assert_eq!(tags.expressions, vec![(3, "MIT".to_string())]);
        let tags = extract(b"a\r\nb\rc\n# SPDX-License-Identifier: MIT\r\nCopyright (C) x\n");
        assert_eq!(tags.expressions, vec![(4, "MIT".to_string())]);
        assert_eq!(tags.copyrights[0].0, 5);
    }

    #[test]
    fn binary_files_are_not_searched() {
        let tags = extract(b"\x00\x01\x02 SPDX-License-Identifier: MIT\n");
        assert!(tags.binary);
        assert!(tags.expressions.is_empty());
    }

    /// The one-pass fast path finds what the chunk-by-chunk emulation finds, with
    /// trigger words and long lines around reuse's 64 KiB chunk cuts.
    #[test]
    fn fast_path_agrees_with_the_exact_emulation() {
        let pieces: [&[u8]; 9] = [
            b"// SPDX-License-Identifier: MIT\n",
            b"/* Copyright (C) 2020 A */\n",
            b"# SPDX-FileCopyrightText: 2021 \xc2\xa9 B\n",
            b"plain text without tags\n",
            b"stray \xa9 byte and Copyright: no\n",
            b"x",
            b"\r\n",
            b"SPDX-FileContributor: C\r",
            b" \xc2\xa9 D\n",
        ];
        let mut seed: u64 = 7;
        for round in 0..40 {
            let mut data = Vec::new();
            let target = CHUNK_SIZE * (1 + round % 3) + 3000;
            while data.len() < target {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let piece = pieces[(seed >> 33) as usize % pieces.len()];
                // Long runs of one piece ("x") make lines longer than the 1 KiB look-ahead.
                let times = if (seed >> 20).is_multiple_of(50) {
                    1500
                } else {
                    1
                };
                for _ in 0..times {
                    data.extend_from_slice(piece);
                }
            }
            let encoding = detect_encoding(&data);
            let mut fast = FileTags::default();
            assert!(extract_fast(&data, encoding, &mut fast));
            let mut slow = FileTags::default();
            extract_slow(&data, encoding, &mut slow);
            assert_eq!(fast.expressions, slow.expressions, "round {round}");
            assert_eq!(fast.contributor, slow.contributor, "round {round}");
            let texts = |t: &FileTags| {
                t.copyrights
                    .iter()
                    .map(|(_, c)| c.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(texts(&fast), texts(&slow), "round {round}");
        }
    }

    #[test]
    fn latin1_copyright_sign_counts() {
        let tags = extract(b"\xa9 2020 J\xf6rg\n");
        assert_eq!(tags.copyrights.len(), 1);
    }
}
