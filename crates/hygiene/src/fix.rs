//! `hygiene fix`: adds missing REUSE information. A file that has a comment syntax we
//! know gets an SPDX header in it (after a `#!` or `<?xml` first line); a binary file,
//! or one whose syntax we do not know, gets a `<file>.license` sidecar. A text file
//! that is not valid UTF-8 is left alone: we do not change what we cannot parse.
//! [`plan_required_files`] creates the policy's missing required files (README,
//! CONTRIBUTING, SECURITY, and the license text in `LICENSES/` when a license is
//! configured) from built-in templates; nothing is downloaded.
//! Planning is pure; [`apply`] writes, and never overwrites a file it creates.

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
/// Without `license`, files that lack licensing information get only the copyright
/// (or are skipped with a reason when that is all they lack).
pub fn plan_repository(
    root: &Path,
    copyright: &str,
    license: Option<&str>,
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
        let add_copyright = reuse.missing_copyright.contains(path).then_some(copyright);
        let add_license = license.filter(|_| reuse.missing_licensing.contains(path));
        if add_copyright.is_none() && add_license.is_none() {
            plans.push(Plan::Skip {
                path: path.clone(),
                reason: "no licensing information: pass --license EXPR to add it".into(),
            });
            continue;
        }
        plans.push(plan(
            path,
            &data,
            binary,
            sidecar_exists,
            add_copyright,
            add_license,
        ));
    }
    Ok(plans)
}

/// What a required-file rule asks for, judged by the names it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Readme,
    License,
    Contributing,
    Security,
}

fn kind_of(rule: &crate::policy::Required) -> Option<Kind> {
    let stems: Vec<String> = rule
        .any_of
        .iter()
        .map(|n| {
            let n = n.trim_end_matches('/').to_ascii_lowercase();
            n.split(['.', '*']).next().unwrap_or_default().to_string()
        })
        .collect();
    let has = |s: &str| stems.iter().any(|x| x == s);
    if has("readme") {
        Some(Kind::Readme)
    } else if has("license") || has("licenses") || has("copying") {
        Some(Kind::License)
    } else if has("contributing") {
        Some(Kind::Contributing)
    } else if has("security") {
        Some(Kind::Security)
    } else {
        None
    }
}

/// The name to create for a rule: its Markdown name if it accepts one, else its first
/// plain file name.
fn file_name_for(rule: &crate::policy::Required) -> Option<&str> {
    let plain = |n: &&String| !n.ends_with('/') && !n.contains(['*', '?', '[']);
    rule.any_of
        .iter()
        .filter(plain)
        .find(|n| n.to_ascii_lowercase().ends_with(".md"))
        .or_else(|| rule.any_of.iter().find(plain))
        .map(String::as_str)
}

/// `content` as a new file at `path`, with an SPDX header (or `.license` sidecar) when
/// there is a copyright or license to state.
fn create_with_header(
    root: &Path,
    path: String,
    content: String,
    copyright: Option<&str>,
    license: Option<&str>,
) -> Vec<Plan> {
    if root.join(&path).exists() {
        return vec![Plan::Skip {
            reason: format!("{path} exists: not overwritten"),
            path,
        }];
    }
    if copyright.is_none() && license.is_none() {
        return vec![Plan::Create { path, content }];
    }
    let sidecar_exists = root.join(format!("{path}.license")).exists();
    match plan(
        &path,
        content.as_bytes(),
        false,
        sidecar_exists,
        copyright,
        license,
    ) {
        Plan::Edit { new, .. } => vec![Plan::Create { path, content: new }],
        sidecar @ Plan::Create { .. } => vec![Plan::Create { path, content }, sidecar],
        Plan::Skip { .. } => vec![Plan::Create { path, content }],
    }
}

/// Plans the creation of each file that a required-file rule of `policy` misses under
/// `root`, from the built-in templates: README (with the headings the policy's README
/// rule asks for), CONTRIBUTING, SECURITY, and for the license rule the text of each
/// license in `license` as `LICENSES/<id>.txt` (the REUSE layout). Without a license,
/// or for a license whose text is not built in, the plan says what to do instead.
/// New files get an SPDX header with `copyright` and `license`.
pub fn plan_required_files(
    root: &Path,
    policy: &crate::Policy,
    copyright: Option<&str>,
    license: Option<&str>,
) -> Result<Vec<Plan>, crate::CheckError> {
    let only_required = crate::Policy {
        structure: crate::policy::Structure {
            required: policy.structure.required.clone(),
            ..crate::policy::Structure::default()
        },
        ..crate::Policy::default()
    };
    let report = crate::check(root, &only_required, &crate::CheckOptions::default())?;
    let project = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "This project".into());
    let mut plans = Vec::new();
    for rule in &policy.structure.required {
        if !report.findings.iter().any(|f| f.rule == rule.id) {
            continue;
        }
        let skip = |reason: String| Plan::Skip {
            path: rule.id.clone(),
            reason,
        };
        let Some(kind) = kind_of(rule) else {
            plans.push(skip(format!(
                "no built-in template: create one of {}",
                rule.any_of.join(", ")
            )));
            continue;
        };
        if kind == Kind::License {
            if !rule
                .any_of
                .iter()
                .any(|n| n.eq_ignore_ascii_case("LICENSES/"))
            {
                plans.push(skip(format!(
                    "the license text is only created in the REUSE layout (LICENSES/), \
                     which this rule does not accept: create one of {}",
                    rule.any_of.join(", ")
                )));
                continue;
            }
            let Some(expression) = license.and_then(crate::reuse::expr::parse) else {
                plans.push(skip(
                    "no license configured: pass --license EXPR (e.g. MIT) to create \
                     LICENSES/<id>.txt, or add the license text yourself"
                        .into(),
                ));
                continue;
            };
            for id in &expression.licenses {
                let path = format!("LICENSES/{id}.txt");
                match crate::templates::license_text(id, copyright) {
                    // License texts carry no header: REUSE exempts LICENSES/.
                    Some(text) => plans.extend(create_with_header(root, path, text, None, None)),
                    None if id.starts_with("LicenseRef-") => plans.push(Plan::Skip {
                        path,
                        reason: format!("{id} is your own license: write its text there"),
                    }),
                    None => plans.push(Plan::Skip {
                        path,
                        reason: format!(
                            "{id}'s text is not built in and fix downloads nothing: run \
                             `reuse download {id}`, or save the text from \
                             https://spdx.org/licenses/{id}.html there"
                        ),
                    }),
                }
            }
            continue;
        }
        let Some(name) = file_name_for(rule) else {
            plans.push(skip(format!(
                "no plain file name among {}: create one yourself",
                rule.any_of.join(", ")
            )));
            continue;
        };
        let dir = rule
            .locations
            .first()
            .map(|l| l.trim_matches('/'))
            .filter(|l| !l.is_empty() && *l != ".");
        let path = match dir {
            Some(d) => format!("{d}/{name}"),
            None => name.to_string(),
        };
        let content = match kind {
            Kind::Readme => {
                let builtin = ["installation", "usage", "license"];
                let extra: Vec<String> = policy
                    .content
                    .readme
                    .iter()
                    .flat_map(|r| r.headings.iter())
                    .filter_map(|h| {
                        let alts: Vec<&str> = h.split('|').map(str::trim).collect();
                        let covered = alts.iter().any(|a| {
                            builtin
                                .iter()
                                .any(|b| b.starts_with(&a.to_ascii_lowercase()))
                        });
                        (!covered).then(|| alts[0].to_string())
                    })
                    .collect();
                crate::templates::readme(&project, &extra, license)
            }
            Kind::Contributing => crate::templates::contributing(&project, license),
            Kind::Security => crate::templates::security(&project),
            Kind::License => continue,
        };
        plans.extend(create_with_header(root, path, content, copyright, license));
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
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
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
