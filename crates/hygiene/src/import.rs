//! `hygiene import`: converts an ls-lint configuration (`.ls-lint.yml`) or a repolinter
//! ruleset (version 2, JSON or YAML) into our policy (rule-list form), and lists what
//! has no equivalent and why.

use yaml_rust2::{Yaml, YamlLoader};

use crate::finding::Severity;
use crate::naming::Case;
use crate::policy::{PathType, Rule, RuleSet, Target};

/// Why a configuration could not be converted at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("{0}")]
    Shape(String),
}

/// A converted policy and the parts of the input that have no equivalent.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub rules: RuleSet,
    pub unsupported: Vec<String>,
}

fn case_of(name: &str) -> Option<Case> {
    Some(match name {
        "kebab-case" => Case::Kebab,
        "snake_case" => Case::Snake,
        "SCREAMING_SNAKE_CASE" => Case::ScreamingSnake,
        "camelCase" => Case::Camel,
        "PascalCase" => Case::Pascal,
        "lowercase" => Case::Lower,
        _ => return None,
    })
}

/// A regular expression for a name part in `case` (ls-lint's definitions: kebab, snake
/// and screaming snake only restrict the characters, so ls-lint 2.3 accepts
/// `__init__`, `-a-` and `A__B`).
fn case_regex(case: Case) -> &'static str {
    match case {
        Case::Kebab => r"[\p{Ll}\p{Nd}-]+",
        Case::Snake => r"[\p{Ll}\p{Nd}_]+",
        Case::ScreamingSnake => r"[\p{Lu}\p{Nd}_]+",
        Case::Camel => "[a-z][a-zA-Z0-9]*",
        Case::Pascal => "[A-Z][a-zA-Z0-9]*",
        Case::Lower => "[^A-Z]+",
        Case::Regex => ".*",
    }
}

struct Converter {
    rules: Vec<Rule>,
    unsupported: Vec<String>,
    except: Vec<String>,
}

impl Converter {
    /// One `key: "rule | rule"` entry under directory glob `dir` ("" for the root).
    fn entry(&mut self, dir: &str, key: &str, value: &str) {
        let is_dir = key == ".dir";
        let ext = if is_dir { "" } else { key };
        let mut cases = Vec::new();
        let mut regexes = Vec::new();
        for alt in value.split('|').map(str::trim) {
            if let Some(re) = alt.strip_prefix("regex:") {
                // Our patterns are anchored on the whole name already.
                let re = re.strip_prefix('^').unwrap_or(re);
                let re = re.strip_suffix('$').unwrap_or(re);
                regexes.push(re.to_string());
            } else if let Some(case) = case_of(alt) {
                cases.push(case);
            } else {
                self.unsupported.push(format!(
                    "{dir}{key}: '{alt}' has no equivalent (only case rules and regex: convert)"
                ));
            }
        }
        if cases.is_empty() && regexes.is_empty() {
            return;
        }
        let (glob, applies_to) = if is_dir {
            (format!("{dir}**"), Target::Dirs)
        } else if ext == ".*" {
            (format!("{dir}**/*"), Target::Files)
        } else {
            (format!("{dir}**/*{ext}"), Target::Files)
        };
        let id = format!("ls-lint/{dir}{key}");
        // A single camel, Pascal or lower case on a directory name, or on every file,
        // is a case rule; anything else becomes one regex over the name. ls-lint's
        // extension is everything from the first dot, so a rule for `.h` does not
        // apply to `a.inc.h`: names with a dot before the extension are accepted.
        let case_rule = (is_dir || ext == ".*")
            && matches!(cases.as_slice(), [Case::Camel | Case::Pascal | Case::Lower]);
        let (case, pattern) = if case_rule && regexes.is_empty() {
            (cases[0], None)
        } else {
            let mut alts: Vec<String> = cases.iter().map(|c| case_regex(*c).to_string()).collect();
            alts.extend(regexes);
            let suffix = if is_dir || ext == ".*" {
                String::new()
            } else {
                regex::escape(ext)
            };
            let any_ext = if ext == ".*" { r"(?:\..*)?" } else { "" };
            let compound = if is_dir || ext == ".*" {
                String::new()
            } else {
                format!(r"|[^.]*\..*{suffix}")
            };
            (
                Case::Regex,
                Some(format!("(?:{}){suffix}{any_ext}{compound}", alts.join("|"))),
            )
        };
        self.rules.push(Rule::Naming {
            id,
            severity: Severity::Error,
            glob,
            applies_to,
            case,
            pattern,
            except: self.except.clone(),
            why: Some("converted from .ls-lint.yml".into()),
        });
    }

    fn walk(&mut self, dir: &str, map: &yaml_rust2::yaml::Hash) -> Result<(), ImportError> {
        for (k, v) in map {
            let key = k.as_str().ok_or_else(|| {
                ImportError::Shape(format!("a key under '{dir}' is not a string"))
            })?;
            if key.starts_with('.') {
                match v.as_str() {
                    Some(value) => self.entry(dir, key, value),
                    None => self
                        .unsupported
                        .push(format!("{dir}{key}: value is not a string")),
                }
            } else {
                let sub = v.as_hash().ok_or_else(|| {
                    ImportError::Shape(format!("'{dir}{key}' should map extensions to rules"))
                })?;
                let sub_dir = format!("{dir}{}/", key.trim_end_matches('/'));
                self.walk(&sub_dir, sub)?;
            }
        }
        Ok(())
    }
}

/// Converts the text of an `.ls-lint.yml`.
pub fn from_ls_lint(text: &str) -> Result<Imported, ImportError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| ImportError::Yaml(e.to_string()))?;
    let doc = docs
        .first()
        .ok_or_else(|| ImportError::Shape("the file is empty".into()))?;
    let mut conv = Converter {
        rules: Vec::new(),
        unsupported: Vec::new(),
        except: Vec::new(),
    };
    if let Some(ignore) = doc["ignore"].as_vec() {
        for item in ignore {
            if let Some(p) = item.as_str() {
                let p = p.trim_end_matches('/');
                conv.except.push(p.to_string());
                conv.except.push(format!("{p}/**"));
            }
        }
    }
    match &doc["ls"] {
        Yaml::Hash(map) => conv.walk("", map)?,
        Yaml::BadValue => return Err(ImportError::Shape("no 'ls' section".into())),
        _ => return Err(ImportError::Shape("'ls' must be a mapping".into())),
    }
    for (k, _) in doc.as_hash().into_iter().flatten() {
        if let Some(key) = k.as_str().filter(|k| !matches!(*k, "ls" | "ignore")) {
            conv.unsupported
                .push(format!("top-level '{key}' has no equivalent"));
        }
    }
    Ok(Imported {
        rules: RuleSet {
            version: 1,
            rules: conv.rules,
        },
        unsupported: conv.unsupported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    const SAMPLE: &str = r#"
ls:
  .dir: kebab-case
  .js: kebab-case
  .ts: camelCase | PascalCase
  .d.ts: kebab-case
  src/models:
    .ts: PascalCase
    .json: regex:^[a-z]+$
  docs:
    .md: exists:1
ignore:
  - node_modules
  - .git
"#;

    #[test]
    fn converts_cases_alternatives_and_regexes() {
        let imported = from_ls_lint(SAMPLE).expect("converts");
        assert_eq!(imported.unsupported.len(), 1, "{:?}", imported.unsupported);
        assert!(imported.unsupported[0].contains("exists:1"));
        let policy = imported.rules.clone().into_policy().expect("valid policy");
        let ids: Vec<&str> = policy
            .naming
            .iter()
            .filter_map(|n| n.id.as_deref())
            .collect();
        assert_eq!(
            ids,
            [
                "ls-lint/.dir",
                "ls-lint/.js",
                "ls-lint/.ts",
                "ls-lint/.d.ts",
                "ls-lint/src/models/.ts",
                "ls-lint/src/models/.json"
            ]
        );
        let ts = &policy.naming[2];
        assert_eq!(ts.case, Case::Regex);
        assert_eq!(
            ts.pattern.as_deref(),
            Some(r"(?:[a-z][a-zA-Z0-9]*|[A-Z][a-zA-Z0-9]*)\.ts|[^.]*\..*\.ts")
        );
        assert_eq!(
            policy.naming[0].except,
            ["node_modules", "node_modules/**", ".git", ".git/**"]
        );
        // What we publish satisfies the schema (no nulls) and loads again.
        let text = serde_json::to_string(&imported.rules).expect("json");
        assert!(!text.contains("null"), "{text}");
        // What we publish must load again.
        let json = serde_json::to_value(&imported.rules).expect("json");
        assert_eq!(
            Policy::from_json_value(json, "imported").expect("loads"),
            policy
        );
    }

    /// The verdicts of ls-lint 2.3.1 on these names, checked by running it.
    #[test]
    fn names_are_judged_as_ls_lint_judges_them() {
        let imported = from_ls_lint(
            "ls:\n  .h: snake_case\n  .c: kebab-case | regex:^[a-z]+_test$\n  .py: SCREAMING_SNAKE_CASE\n",
        )
        .expect("converts");
        let policy = imported.rules.into_policy().expect("valid policy");
        let accepts = |rule: usize, name: &str| {
            let p = policy.naming[rule].pattern.as_deref().expect("a pattern");
            regex::Regex::new(&format!("^(?:{p})$"))
                .expect("pattern compiles")
                .is_match(name)
        };
        for name in ["__init__.h", "_x_.h", "ok.h", "Foo.inc.h", "x.1_2.h"] {
            assert!(accepts(0, name), "{name}");
        }
        for name in ["A_b.h", "a-b.h", "ok.hh"] {
            assert!(!accepts(0, name), "{name}");
        }
        for name in ["-a-.c", "a--b.c", "\u{e9}-x.c", "abc_test.c"] {
            assert!(accepts(1, name), "{name}");
        }
        assert!(!accepts(1, "a_b.c"));
        assert!(accepts(2, "_A_.py") && accepts(2, "A__B.py") && !accepts(2, "a.py"));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(matches!(
            from_ls_lint("ls: [1, 2]"),
            Err(ImportError::Shape(_))
        ));
        assert!(matches!(from_ls_lint("ls: {"), Err(ImportError::Yaml(_))));
        assert!(matches!(
            from_ls_lint("other: 1"),
            Err(ImportError::Shape(_))
        ));
    }
}

fn yaml_to_json(y: &Yaml) -> serde_json::Value {
    use serde_json::Value;
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.clone()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), yaml_to_json(v))))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A list of globs from a repolinter option (a string or an array of strings), with
/// `./` dropped; `!glob` entries (exclusions, as `matched` reads them) go to the second
/// list without the `!`.
fn globs(v: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let list: Vec<&str> = match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|s| s.as_str()).collect(),
        _ => Vec::new(),
    };
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for g in list {
        match g.strip_prefix('!') {
            Some(rest) => exclude.push(rest.trim_start_matches("./").to_string()),
            None => include.push(g.trim_start_matches("./").to_string()),
        }
    }
    (include, exclude)
}

/// The first of several option names (repolinter renamed some: `files` became
/// `globsAny`/`globsAll`) that is present.
/// The `globsAll` (or older `files`) option of a file rule: its include and `!`
/// exclude globs; an error when it includes nothing.
fn files_globs(options: &serde_json::Value) -> Result<(Vec<String>, Vec<String>), String> {
    let (include, except) = globs(option(options, &["globsAll", "files"]));
    if include.is_empty() {
        return Err("no globsAll".into());
    }
    Ok((include, except))
}

fn option<'a>(options: &'a serde_json::Value, names: &[&str]) -> &'a serde_json::Value {
    names
        .iter()
        .map(|n| &options[*n])
        .find(|v| !v.is_null())
        .unwrap_or(&serde_json::Value::Null)
}

fn flag(options: &serde_json::Value, name: &str) -> bool {
    options[name].as_bool().unwrap_or(false)
}

fn text(options: &serde_json::Value, name: &str) -> Option<String> {
    options[name].as_str().map(str::to_string)
}

/// A JavaScript regular expression (`new RegExp(source, flags)`, searched with
/// `String#search`) as a pattern for our engine, which compiles patterns with
/// multi-line anchors on: the flags become an inline group (`m` off unless given).
/// Syntax the regex crate lacks (look-around, back-references) is an error.
fn js_regex(source: &str, flags: &str) -> Result<String, String> {
    let mut on = String::new();
    let mut multi_line = false;
    for f in flags.chars() {
        match f {
            'i' => on.push('i'),
            's' => on.push('s'),
            'm' => multi_line = true,
            // global, sticky, unicode, indices: no effect on whether a search matches.
            'g' | 'y' | 'u' | 'd' => {}
            other => return Err(format!("unknown regular expression flag '{other}'")),
        }
    }
    // Without anchors, multi-line mode changes nothing: leave it out of the pattern.
    let multi_line = multi_line || !source.contains(['^', '$']);
    let group = if multi_line {
        if on.is_empty() {
            String::new()
        } else {
            format!("(?{on})")
        }
    } else {
        format!("(?{on}-m)")
    };
    let pattern = format!("{group}{source}");
    regex::bytes::RegexBuilder::new(&pattern)
        .multi_line(true)
        .build()
        .map_err(|e| format!("the regular expression {source:?} cannot be used: {e}"))?;
    Ok(pattern)
}

/// Why a repolinter rule type cannot be converted.
fn no_equivalent(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "git-grep-commits" | "git-grep-log" | "git-list-tree" => {
            "it searches the git history; our check looks at the working tree only"
        }
        "git-working-tree" => "whether the directory is a git work tree is not a rule of ours",
        "license-detectable-by-licensee" => {
            "it runs licensee's license-text matcher; the closest rules are a required LICENSE file and REUSE compliance (kind \"reuse\")"
        }
        "best-practices-badge-present" => {
            "it asks the OpenSSF Best Practices service over the network; we download nothing"
        }
        "file-no-broken-links" => "it renders markup and fetches every link; we download nothing",
        "json-schema-passes" => "our policy has no JSON Schema rule",
        "file-hash" | "file-hashes-not-exist" => "our policy has no content-hash rule",
        "any-file-contents" => {
            "our content rules apply to each file; none passes when just one file matches"
        }
        _ => return None,
    })
}

/// Converts one repolinter rule (`kind` with its `options`); `Err` says why not.
fn convert_rule(
    name: &str,
    kind: &str,
    options: &serde_json::Value,
    severity: Severity,
    notes: &mut Vec<String>,
) -> Result<Rule, String> {
    let id = format!("repolinter/{name}");
    let why = Some(format!("converted from repolinter rule '{name}'"));
    let nocase = flag(options, "nocase");
    match kind {
        "file-existence"
        | "directory-existence"
        | "file-or-directory-existence"
        | "apache-notice" => {
            let (include, except) = if kind == "apache-notice" {
                (vec!["NOTICE*".to_string()], Vec::new())
            } else {
                globs(option(options, &["globsAny", "files", "directories"]))
            };
            if include.is_empty() {
                return Err("no globsAny".into());
            }
            // directory-existence is file-existence with `dirs: true`, which makes
            // repolinter's search return files and directories alike.
            let path_type =
                if kind == "file-existence" && !flag(options, "dirs") || kind == "apache-notice" {
                    PathType::File
                } else {
                    PathType::Any
                };
            Ok(Rule::RequiredPath {
                id,
                severity,
                globs: include,
                except,
                path_type,
                globs_case_insensitive: nocase,
                message: text(options, "fail-message").or_else(|| {
                    (kind == "apache-notice").then(|| {
                        "Section 4.4 of the Apache License 2.0 describes the NOTICE file, which ASF policy asks for".to_string()
                    })
                }),
                why,
            })
        }
        "file-not-exists" | "file-type-exclusion" => {
            let key: &[&str] = if kind == "file-type-exclusion" {
                &["type"]
            } else {
                &["globsAll", "files"]
            };
            let (include, except) = globs(option(options, key));
            if include.is_empty() {
                return Err(format!("no {}", key[0]));
            }
            if kind == "file-not-exists" && options.get("pass-message").is_some() {
                notes.push(format!(
                    "{name}: its pass-message is not shown (we report failures only)"
                ));
            }
            Ok(Rule::ForbiddenFile {
                id,
                severity,
                globs: include,
                except,
                // file-type-exclusion searches files and directories alike.
                globs_case_insensitive: kind == "file-not-exists" && nocase,
                include_dirs: kind == "file-type-exclusion" || flag(options, "dirs"),
                why,
            })
        }
        "file-contents" | "file-not-contents" => {
            let content = options["content"].as_str().ok_or("no 'content'")?;
            let pattern = js_regex(content, options["flags"].as_str().unwrap_or(""))?;
            let (include, except) = files_globs(options)?;
            if flag(options, "display-result-context") {
                notes.push(format!("{name}: display-result-context is not reproduced (findings give the first matching line for forbidden content)"));
            }
            let describe = text(options, "human-readable-content");
            let fail_if_no_file = flag(options, "fail-on-non-existent");
            Ok(if kind == "file-contents" {
                Rule::RequiredContent {
                    id,
                    severity,
                    pattern,
                    globs: include,
                    except,
                    globs_case_insensitive: nocase,
                    describe,
                    fail_if_no_file,
                    why,
                }
            } else {
                Rule::ForbiddenContent {
                    id,
                    severity,
                    pattern,
                    globs: include,
                    except,
                    globs_case_insensitive: nocase,
                    describe,
                    fail_if_no_file,
                    why,
                }
            })
        }
        "file-starts-with" => {
            let (include, except) = files_globs(options)?;
            let lines = options["lineCount"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("no lineCount (a whole number)")?;
            let flags = options["flags"].as_str().unwrap_or("");
            let mut patterns = Vec::new();
            for p in options["patterns"].as_array().ok_or("no 'patterns'")? {
                let p = p.as_str().ok_or("a pattern is not a string")?;
                patterns.push(js_regex(p, flags)?);
            }
            if patterns.is_empty() {
                return Err("'patterns' is empty".into());
            }
            let mut except_paths_matching = Vec::new();
            let skip = &options["skip-paths-matching"];
            if let Some(exts) = skip["extensions"].as_array() {
                let exts: Vec<&str> = exts.iter().filter_map(|e| e.as_str()).collect();
                if !exts.is_empty() {
                    // repolinter builds `.(a|b)$` with the i flag (its dot is any character).
                    except_paths_matching.push(format!("(?i).({})$", exts.join("|")));
                }
            }
            if let Some(pats) = skip["patterns"].as_array() {
                let flags = skip["flags"].as_str().unwrap_or("");
                for p in pats
                    .iter()
                    .filter_map(|p| p.as_str())
                    .filter(|p| !p.is_empty())
                {
                    except_paths_matching.push(js_regex(p, flags)?);
                }
            }
            let skip_binary = flag(options, "skip-binary-files");
            if skip_binary {
                notes.push(format!("{name}: skip-binary-files skips binary files; repolinter 0.12 tests a Promise there and so skips every file"));
            }
            Ok(Rule::FileStartsWith {
                id,
                severity,
                globs: include,
                except,
                except_paths_matching,
                globs_case_insensitive: nocase,
                lines,
                patterns,
                describe: text(options, "human-readable-pattern"),
                skip_binary,
                // The code reads succeed-on-non-existent; the documentation says -exist.
                pass_if_no_file: flag(options, "succeed-on-non-existent")
                    || flag(options, "succeed-on-non-exist"),
                why,
            })
        }
        "large-file" => {
            let (include, except) = files_globs(options)?;
            let max_bytes = options["size"]
                .as_u64()
                .ok_or("no size (a whole number of bytes)")?;
            if flag(options, "fail-on-non-existent") {
                notes.push(format!("{name}: fail-on-non-existent has no equivalent for sizes (no finding when nothing matches)"));
            }
            Ok(Rule::MaxFileSize {
                id,
                severity,
                max_bytes,
                globs: include,
                globs_case_insensitive: nocase,
                except,
                why,
            })
        }
        other => Err(match no_equivalent(other) {
            Some(reason) => format!("rule type '{other}' has no equivalent: {reason}"),
            None => format!("rule type '{other}' is not a repolinter rule type we know"),
        }),
    }
}

/// Converts a repolinter ruleset (version 2, JSON or YAML text).
pub fn from_repolinter(text: &str) -> Result<Imported, ImportError> {
    let doc: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            let docs =
                YamlLoader::load_from_str(text).map_err(|e| ImportError::Yaml(e.to_string()))?;
            yaml_to_json(
                docs.first()
                    .ok_or_else(|| ImportError::Shape("the file is empty".into()))?,
            )
        }
    };
    if !doc.is_object() {
        return Err(ImportError::Shape(
            "a repolinter ruleset is an object".into(),
        ));
    }
    match doc.get("version").and_then(serde_json::Value::as_u64) {
        Some(2) => {}
        Some(v) => {
            return Err(ImportError::Shape(format!(
                "version {v}: only version 2 rulesets convert (repolinter migrates version 1 itself)"
            )));
        }
        None => {
            return Err(ImportError::Shape(
                "no \"version\": 2 (a version 1 ruleset? repolinter migrates those itself)".into(),
            ));
        }
    }
    let rules = doc
        .get("rules")
        .and_then(|r| r.as_object())
        .ok_or_else(|| {
            ImportError::Shape("no 'rules' object (a repolinter v2 ruleset has one)".into())
        })?;
    let mut out = Vec::new();
    let mut unsupported = Vec::new();
    if let Some(extends) = doc.get("extends").and_then(|e| e.as_str()) {
        unsupported.push(format!(
            "extends '{extends}': not fetched; convert that ruleset too and merge the rules"
        ));
    }
    let mut size_rule: Option<String> = None;
    for (name, rule) in rules {
        let level = rule
            .get("level")
            .and_then(|l| l.as_str())
            .unwrap_or("error");
        let severity = match level {
            "off" => {
                unsupported.push(format!("{name}: level off, not converted"));
                continue;
            }
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            other => {
                return Err(ImportError::Shape(format!(
                    "rule '{name}': level '{other}' is not error, warning or off"
                )));
            }
        };
        if let Some(w) = rule.get("where") {
            unsupported.push(format!(
                "{name}: runs only where {w} (repolinter axioms such as the detected language or license); not converted, as it would apply to every repository"
            ));
            continue;
        }
        let kind = rule
            .pointer("/rule/type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| ImportError::Shape(format!("rule '{name}' has no rule.type")))?;
        let options = rule
            .pointer("/rule/options")
            .cloned()
            .unwrap_or(serde_json::Value::Object(Default::default()));
        match convert_rule(name, kind, &options, severity, &mut unsupported) {
            Ok(converted) => {
                if matches!(converted, Rule::MaxFileSize { .. }) {
                    if let Some(first) = &size_rule {
                        unsupported.push(format!(
                            "{name}: our policy has one size limit and '{first}' is it; not converted"
                        ));
                        continue;
                    }
                    size_rule = Some(name.clone());
                }
                if rule.get("fix").is_some() {
                    unsupported.push(format!(
                        "{name}: converted, but its 'fix' is not (`govmesh hygiene fix` has its own fixes)"
                    ));
                }
                out.push(converted);
            }
            Err(reason) => unsupported.push(format!("{name}: {reason}")),
        }
    }
    Ok(Imported {
        rules: RuleSet {
            version: 1,
            rules: out,
        },
        unsupported,
    })
}

#[cfg(test)]
mod repolinter_tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        regex::bytes::RegexBuilder::new(pattern)
            .multi_line(true)
            .build()
            .expect("compiles")
            .is_match(text.as_bytes())
    }

    #[test]
    fn javascript_flags_become_inline_flags() {
        // No m flag: ^ and $ are the ends of the text, as String#search has them,
        // although our engine compiles patterns multi-line.
        let p = js_regex("^license", "i").expect("converts");
        assert_eq!(p, "(?i-m)^license");
        assert!(matches(&p, "License: MIT\n"));
        assert!(!matches(&p, "# Demo\nLicense: MIT\n"));
        let p = js_regex("^license", "im").expect("converts");
        assert!(matches(&p, "# Demo\nLicense: MIT\n"));
        assert_eq!(js_regex("license", "i").expect("converts"), "(?i)license");
        let p = js_regex("a.b", "gs").expect("converts");
        assert!(matches(&p, "a\nb"));
        assert!(!matches(&js_regex("a.b", "").expect("converts"), "a\nb"));
        assert!(
            js_regex("x", "q")
                .expect_err("unknown flag")
                .contains("'q'")
        );
        assert!(js_regex("(?<=a)b", "").is_err());
    }

    #[test]
    fn options_convert_with_their_names_and_aliases() {
        let ruleset = r#"{"version": 2, "rules": {
          "old-names": {"level": "warning", "rule": {"type": "file-existence", "options": {"files": ["./A*", "!A.bak"], "dirs": true}}},
          "not-there": {"rule": {"type": "file-not-exists", "options": {"globsAll": ["*.pem"], "nocase": true, "dirs": true}}}
        }}"#;
        let imported = from_repolinter(ruleset).expect("converts");
        // (Rules come out in name order.)
        assert_eq!(
            imported.rules.rules,
            vec![
                Rule::ForbiddenFile {
                    id: "repolinter/not-there".into(),
                    severity: Severity::Error,
                    globs: vec!["*.pem".into()],
                    except: vec![],
                    globs_case_insensitive: true,
                    include_dirs: true,
                    why: Some("converted from repolinter rule 'not-there'".into()),
                },
                Rule::RequiredPath {
                    id: "repolinter/old-names".into(),
                    severity: Severity::Warning,
                    globs: vec!["A*".into()],
                    except: vec!["A.bak".into()],
                    path_type: PathType::Any,
                    globs_case_insensitive: false,
                    message: None,
                    why: Some("converted from repolinter rule 'old-names'".into()),
                },
            ]
        );
        // The same in YAML.
        let yaml = "version: 2\nrules:\n  not-there:\n    rule:\n      type: file-not-exists\n      options:\n        globsAll: ['*.pem']\n        nocase: true\n        dirs: true\n";
        assert_eq!(
            from_repolinter(yaml).expect("yaml").rules.rules[0],
            imported.rules.rules[0]
        );
    }
}
