//! `hygiene import`: converts an ls-lint configuration (`.ls-lint.yml`) into our policy
//! (rule-list form), and lists what has no equivalent. (repolinter rulesets are not
//! converted yet.)

use yaml_rust2::{Yaml, YamlLoader};

use crate::finding::Severity;
use crate::naming::Case;
use crate::policy::{Rule, RuleSet, Target};

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

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(|s| s.trim_start_matches("./").to_string())
                .collect()
        })
        .unwrap_or_default()
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
    let rules = doc
        .get("rules")
        .and_then(|r| r.as_object())
        .ok_or_else(|| {
            ImportError::Shape("no 'rules' object (a repolinter v2 ruleset has one)".into())
        })?;
    let mut out = Vec::new();
    let mut unsupported = Vec::new();
    for (name, rule) in rules {
        let severity = match rule
            .get("level")
            .and_then(|l| l.as_str())
            .unwrap_or("error")
        {
            "off" => {
                unsupported.push(format!("{name}: level off, not converted"));
                continue;
            }
            "warning" => Severity::Warning,
            _ => Severity::Error,
        };
        if rule.get("where").is_some() {
            unsupported.push(format!("{name}: its 'where' condition has no equivalent; the rule is converted unconditionally"));
        }
        if rule.get("fix").is_some() {
            unsupported.push(format!("{name}: its 'fix' has no equivalent"));
        }
        let kind = rule
            .pointer("/rule/type")
            .and_then(|t| t.as_str())
            .unwrap_or("");
        let options = rule.pointer("/rule/options").cloned().unwrap_or_default();
        let id = format!("repolinter/{name}");
        let why = Some(format!("converted from repolinter rule '{name}'"));
        let flags = options.get("flags").and_then(|f| f.as_str()).unwrap_or("");
        let pattern = |content: &str| {
            if flags.contains('i') {
                format!("(?i){content}")
            } else {
                content.to_string()
            }
        };
        match kind {
            "file-existence" | "directory-existence" => {
                let globs = strings(&options["globsAny"]);
                if globs.is_empty() || globs.iter().any(|g| g.contains("**")) {
                    unsupported.push(format!("{name}: {kind} with globs {globs:?} (only names or one-level globs convert)"));
                    continue;
                }
                let dir = kind == "directory-existence";
                out.push(Rule::RequiredFile {
                    id,
                    severity,
                    any_of: globs
                        .into_iter()
                        .map(|g| if dir { format!("{g}/") } else { g })
                        .collect(),
                    locations: vec![".".into()],
                    case_insensitive: true,
                    why,
                });
            }
            "file-contents" | "file-not-contents" => {
                let Some(content) = options.get("content").and_then(|c| c.as_str()) else {
                    unsupported.push(format!("{name}: {kind} without 'content'"));
                    continue;
                };
                let globs = strings(&options["globsAll"]);
                let (pattern, except) = (pattern(content), Vec::new());
                out.push(if kind == "file-contents" {
                    Rule::RequiredContent {
                        id,
                        severity,
                        pattern,
                        globs,
                        except,
                        why,
                    }
                } else {
                    Rule::ForbiddenContent {
                        id,
                        severity,
                        pattern,
                        globs,
                        except,
                        why,
                    }
                });
            }
            "file-type-exclusion" => {
                let all = strings(&options["type"]);
                let (except, globs): (Vec<String>, Vec<String>) =
                    all.into_iter().partition(|g| g.starts_with('!'));
                let except = except
                    .into_iter()
                    .map(|g| g.trim_start_matches('!').to_string())
                    .collect();
                out.push(Rule::ForbiddenFile {
                    id,
                    severity,
                    globs,
                    except,
                    why,
                });
            }
            other => unsupported.push(format!("{name}: rule type '{other}' has no equivalent")),
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

    const RULESET: &str = r#"{
      "$schema": "https://raw.githubusercontent.com/todogroup/repolinter/master/rulesets/schema.json",
      "version": 2,
      "axioms": {"linguist": "language"},
      "rules": {
        "license-file-exists": {"level": "error", "rule": {"type": "file-existence", "options": {"globsAny": ["LICENSE*", "COPYING*"], "nocase": true}}},
        "readme-references-license": {"level": "warning", "rule": {"type": "file-contents", "options": {"globsAll": ["README*"], "content": "license", "flags": "i"}}},
        "binaries-not-present": {"level": "error", "rule": {"type": "file-type-exclusion", "options": {"type": ["**/*.exe", "**/*.dll", "!node_modules/**"]}}},
        "test-directory-exists": {"level": "warning", "rule": {"type": "directory-existence", "options": {"globsAny": ["**/test*"]}}},
        "source-license-headers-exist": {"level": "warning", "rule": {"type": "file-starts-with", "options": {"globsAll": ["**/*.js"], "lineCount": 5, "patterns": ["Copyright"]}}},
        "notice-file-exists": {"level": "off", "rule": {"type": "file-existence", "options": {"globsAny": ["NOTICE*"]}}}
      }
    }"#;

    #[test]
    fn converts_the_common_rules_and_lists_the_rest() {
        let imported = from_repolinter(RULESET).expect("converts");
        let policy = imported.rules.clone().into_policy().expect("valid");
        assert_eq!(
            policy.structure.required[0].any_of,
            ["LICENSE*", "COPYING*"]
        );
        assert_eq!(policy.content.required_patterns[0].pattern, "(?i)license");
        assert_eq!(policy.structure.forbidden[0].except, ["node_modules/**"]);
        assert_eq!(imported.unsupported.len(), 3, "{:?}", imported.unsupported);
        // The same ruleset in YAML converts the same way.
        let yaml = "version: 2\nrules:\n  license-file-exists:\n    level: error\n    rule:\n      type: file-existence\n      options:\n        globsAny: [LICENSE*, COPYING*]\n";
        let from_yaml = from_repolinter(yaml).expect("yaml");
        let license_rule = imported
            .rules
            .rules
            .iter()
            .find(|r| matches!(r, Rule::RequiredFile { id, .. } if id == "repolinter/license-file-exists"))
            .expect("converted");
        assert_eq!(&from_yaml.rules.rules[0], license_rule);
    }
}
