//! Licensing declared outside files: `REUSE.toml` (with `closest`, `aggregate` and
//! `override` precedence, nested files) and the deprecated `.reuse/dep5`.

use regex::Regex;

/// How a REUSE.toml annotation combines with what a file says itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precedence {
    Closest,
    Aggregate,
    Override,
}

/// One `[[annotations]]` table.
#[derive(Debug, Clone)]
pub struct Annotation {
    paths: Regex,
    pub precedence: Precedence,
    pub copyrights: Vec<String>,
    pub expressions: Vec<String>,
}

/// One parsed REUSE.toml; `dir` is its directory relative to the root ("" for root).
#[derive(Debug, Clone)]
pub struct ReuseToml {
    pub dir: String,
    pub annotations: Vec<Annotation>,
}

/// Why a REUSE.toml or dep5 file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct GlobalParseError {
    pub path: String,
    pub reason: String,
}

/// reuse's glob translation for `path`: `*` stays within a directory, `**` crosses
/// them, `\` escapes.
fn translate(path: &str) -> String {
    let mut blocks = String::new();
    let mut escaping = false;
    let mut globstar = false;
    let mut prev = '\0';
    for c in path.chars() {
        if c == '\\' {
            if prev == '\\' && escaping {
                escaping = false;
                blocks.push_str(r"\\");
            } else {
                escaping = true;
            }
        } else if c == '*' {
            if escaping {
                blocks.push_str(r"\*");
                escaping = false;
            } else if prev == '*' && !globstar {
                globstar = true;
                blocks.push_str(".*");
            }
        } else if c == '/' {
            if !globstar {
                if prev == '*' {
                    blocks.push_str("[^/]*");
                }
                blocks.push('/');
            }
            escaping = false;
        } else {
            if prev == '*' && !globstar {
                blocks.push_str("[^/]*");
            }
            blocks.push_str(&regex::escape(&c.to_string()));
            globstar = false;
            escaping = false;
        }
        prev = c;
    }
    if prev == '*' && !globstar {
        blocks.push_str("[^/]*");
    }
    format!("^({blocks})$")
}

fn string_or_list(
    value: Option<&toml::Value>,
    key: &str,
    path: &str,
) -> Result<Vec<String>, GlobalParseError> {
    match value {
        None => Ok(Vec::new()),
        Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| GlobalParseError {
                        path: path.to_string(),
                        reason: format!("every item of '{key}' must be a string"),
                    })
            })
            .collect(),
        Some(_) => Err(GlobalParseError {
            path: path.to_string(),
            reason: format!("'{key}' must be a string or a list of strings"),
        }),
    }
}

impl ReuseToml {
    /// Parses the REUSE.toml at `rel_path` (relative to the root) from `text`.
    pub fn parse(rel_path: &str, text: &str) -> Result<Self, GlobalParseError> {
        let err = |reason: String| GlobalParseError {
            path: rel_path.to_string(),
            reason,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(e.message().to_string()))?;
        match table.get("version") {
            Some(toml::Value::Integer(_)) => {}
            _ => return Err(err("'version' must be an integer".into())),
        }
        let mut annotations = Vec::new();
        if let Some(items) = table.get("annotations") {
            let items = items
                .as_array()
                .ok_or_else(|| err("'annotations' must be an array of tables".into()))?;
            for item in items {
                let item = item
                    .as_table()
                    .ok_or_else(|| err("each [[annotations]] entry must be a table".into()))?;
                let paths = string_or_list(item.get("path"), "path", rel_path)?;
                if paths.is_empty() {
                    return Err(err("an [[annotations]] table needs 'path'".into()));
                }
                let precedence = match item.get("precedence").map(|p| p.as_str()) {
                    None | Some(Some("closest")) => Precedence::Closest,
                    Some(Some("aggregate")) => Precedence::Aggregate,
                    Some(Some("override")) => Precedence::Override,
                    Some(other) => {
                        return Err(err(format!(
                            "precedence must be closest, aggregate or override, not {other:?}"
                        )));
                    }
                };
                let pattern = paths
                    .iter()
                    .map(|p| translate(p))
                    .collect::<Vec<_>>()
                    .join("|");
                let paths = Regex::new(&pattern).map_err(|e| err(format!("bad path glob: {e}")))?;
                annotations.push(Annotation {
                    paths,
                    precedence,
                    copyrights: string_or_list(
                        item.get("SPDX-FileCopyrightText"),
                        "SPDX-FileCopyrightText",
                        rel_path,
                    )?,
                    expressions: string_or_list(
                        item.get("SPDX-License-Identifier"),
                        "SPDX-License-Identifier",
                        rel_path,
                    )?,
                });
            }
        }
        let dir = match rel_path.rfind('/') {
            Some(i) => rel_path[..i].to_string(),
            None => String::new(),
        };
        Ok(Self { dir, annotations })
    }

    /// The last annotation matching `rel` (a path relative to this file's directory).
    fn find(&self, rel: &str) -> Option<&Annotation> {
        self.annotations
            .iter()
            .rev()
            .find(|a| a.paths.is_match(rel))
    }

    fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.dir.is_empty() {
            Some(path)
        } else {
            path.strip_prefix(self.dir.as_str())?.strip_prefix('/')
        }
    }
}

/// Information from outside a file, grouped by precedence (reuse's
/// `NestedReuseTOML.reuse_info_of`).
#[derive(Debug, Default, Clone)]
pub struct GlobalInfo {
    pub overriding: Vec<(Vec<String>, Vec<String>)>,
    pub aggregate: Vec<(Vec<String>, Vec<String>)>,
    /// `closest`: at most one set of copyrights and one of expressions survive.
    pub closest: Vec<(Vec<String>, Vec<String>)>,
}

/// All REUSE.toml files of a project, or its dep5 file.
#[derive(Debug, Clone, Default)]
pub enum Global {
    #[default]
    None,
    Tomls(Vec<ReuseToml>),
    Dep5(Dep5),
}

impl Global {
    /// What the global files say about `path` (relative to the root, `/`-separated).
    pub fn info_of(&self, path: &str) -> GlobalInfo {
        let mut info = GlobalInfo::default();
        match self {
            Global::None => {}
            Global::Dep5(dep5) => {
                if let Some(p) = dep5.find(path) {
                    info.aggregate
                        .push((p.copyrights.clone(), vec![p.license.clone()]));
                }
            }
            Global::Tomls(tomls) => {
                // Topmost directory first (tomls are kept sorted by depth).
                let mut closest = Vec::new();
                for toml in tomls {
                    let Some(rel) = toml.relative(path) else {
                        continue;
                    };
                    let Some(item) = toml.find(rel) else { continue };
                    let entry = (item.copyrights.clone(), item.expressions.clone());
                    match item.precedence {
                        Precedence::Override => {
                            info.overriding.push(entry);
                            break;
                        }
                        Precedence::Aggregate => info.aggregate.push(entry),
                        Precedence::Closest => closest.push(entry),
                    }
                }
                let mut copyright_found = false;
                let mut licence_found = false;
                let mut keep = Vec::new();
                for (copyrights, expressions) in closest.into_iter().rev() {
                    let mut new = (Vec::new(), Vec::new());
                    if !copyright_found && !copyrights.is_empty() {
                        new.0 = copyrights;
                        copyright_found = true;
                    }
                    if !licence_found && !expressions.is_empty() {
                        new.1 = expressions;
                        licence_found = true;
                    }
                    if !new.0.is_empty() || !new.1.is_empty() {
                        keep.push(new);
                    }
                }
                keep.reverse();
                info.closest = keep;
            }
        }
        info
    }
}

/// One `Files:` paragraph of a dep5 file.
#[derive(Debug, Clone)]
pub struct Dep5Paragraph {
    patterns: Vec<Regex>,
    pub copyrights: Vec<String>,
    pub license: String,
}

/// A parsed `.reuse/dep5` (Debian machine-readable copyright format).
#[derive(Debug, Clone)]
pub struct Dep5 {
    paragraphs: Vec<Dep5Paragraph>,
}

fn dep5_glob(pattern: &str) -> Regex {
    // Debian copyright globs: `*` matches anything including `/`, `?` one character,
    // `\*`, `\?`, `\\` escape.
    let mut out = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(n) => out.push_str(&regex::escape(&n.to_string())),
                None => out.push_str(r"\\"),
            },
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    Regex::new(&out).unwrap_or_else(|_| Regex::new("$^").expect("static regex"))
}

impl Dep5 {
    /// Parses dep5 text; fields are `Name: value` with indented continuation lines.
    pub fn parse(text: &str) -> Result<Self, GlobalParseError> {
        let err = |reason: &str| GlobalParseError {
            path: ".reuse/dep5".into(),
            reason: reason.into(),
        };
        let mut paragraphs = Vec::new();
        let mut first = true;
        for block in text.replace("\r\n", "\n").split("\n\n") {
            if block.trim().is_empty() {
                continue;
            }
            let mut fields: Vec<(String, String)> = Vec::new();
            for line in block.lines() {
                if line.starts_with('#') {
                    continue;
                }
                if line.starts_with(' ') || line.starts_with('\t') {
                    let Some(last) = fields.last_mut() else {
                        return Err(err("continuation line before any field"));
                    };
                    last.1.push('\n');
                    last.1.push_str(line.trim());
                } else if let Some((name, value)) = line.split_once(':') {
                    fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                } else {
                    return Err(err("a line is neither 'Field: value' nor a continuation"));
                }
            }
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            if first {
                first = false;
                if get("format").is_none() {
                    return Err(err("the header paragraph has no 'Format' field"));
                }
                continue;
            }
            let Some(files) = get("files") else { continue };
            let copyright =
                get("copyright").ok_or_else(|| err("a Files paragraph has no Copyright"))?;
            let license = get("license").ok_or_else(|| err("a Files paragraph has no License"))?;
            paragraphs.push(Dep5Paragraph {
                patterns: files.split_whitespace().map(dep5_glob).collect(),
                copyrights: copyright
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
                license: license.lines().next().unwrap_or("").trim().to_string(),
            });
        }
        Ok(Self { paragraphs })
    }

    fn find(&self, path: &str) -> Option<&Dep5Paragraph> {
        self.paragraphs
            .iter()
            .rev()
            .find(|p| p.patterns.iter().any(|re| re.is_match(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_translate_like_reuse() {
        let re = |p: &str| Regex::new(&translate(p)).expect("glob");
        assert!(re("*.c").is_match("a.c"));
        assert!(!re("*.c").is_match("src/a.c"));
        assert!(re("**/*.c").is_match("src/a.c"));
        assert!(re("src/**").is_match("src/x/y"));
        assert!(re("\\*.c").is_match("*.c"));
        assert!(!re("\\*.c").is_match("a.c"));
    }

    #[test]
    fn nested_closest_keeps_the_deepest() {
        let root = ReuseToml::parse(
            "REUSE.toml",
            "version = 1\n[[annotations]]\npath = \"**\"\nSPDX-FileCopyrightText = \"A\"\nSPDX-License-Identifier = \"MIT\"\n",
        )
        .expect("root toml");
        let sub = ReuseToml::parse(
            "sub/REUSE.toml",
            "version = 1\n[[annotations]]\npath = \"*.c\"\nSPDX-License-Identifier = \"GPL-2.0-only\"\n",
        )
        .expect("sub toml");
        let global = Global::Tomls(vec![root, sub]);
        let info = global.info_of("sub/x.c");
        assert_eq!(
            info.closest,
            vec![
                (vec!["A".to_string()], vec![]),
                (vec![], vec!["GPL-2.0-only".to_string()])
            ]
        );
    }

    #[test]
    fn bad_precedence_is_an_error() {
        let e = ReuseToml::parse(
            "REUSE.toml",
            "version = 1\n[[annotations]]\npath = \"x\"\nprecedence = \"top\"\n",
        )
        .expect_err("must fail");
        assert!(e.to_string().contains("precedence"), "{e}");
    }
}
