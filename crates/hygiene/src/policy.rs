//! The hygiene policy: the rules of clause 5.2.5 in machine-readable form (JSON or
//! TOML; schema in `policy.schema.json`), and the Codex default ruleset.
//!
//! The published form is the Codex's: `{"version": 1, "rules": [{"id", "kind",
//! "severity", "why", ...}]}` with one object per rule. [`Policy`] is the same rules
//! grouped by what they look at; `Policy::from_json_value` accepts either.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::finding::Severity;
use crate::naming::Case;

/// A whole policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub structure: Structure,
    #[serde(default)]
    pub naming: Vec<NamingRule>,
    #[serde(default)]
    pub content: Content,
    #[serde(default)]
    pub licensing: Licensing,
}

/// Files and directories that must or must not exist, and size limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Structure {
    #[serde(default)]
    pub required: Vec<Required>,
    #[serde(default)]
    pub forbidden: Vec<Forbidden>,
    #[serde(default)]
    pub max_file_size: Option<MaxFileSize>,
    /// Paths (full-path globs from the root) of which at least one must exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_paths: Vec<RequiredPath>,
}

/// What a [`RequiredPath`] rule accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathType {
    #[default]
    File,
    Dir,
    /// A file or a directory.
    Any,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// At least one file (or directory, per `path_type`) whose path relative to the root
/// matches one of `globs` (`*` within a directory, `**` across) and none of `except`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredPath {
    pub id: String,
    pub globs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub path_type: PathType,
    #[serde(default, skip_serializing_if = "is_default")]
    pub globs_case_insensitive: bool,
    /// Said first in the finding (e.g. a converted repolinter `fail-message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

fn default_locations() -> Vec<String> {
    vec![String::new(), ".github".into(), "docs".into()]
}

/// At least one of `any_of` (case-insensitive; a trailing `/` means a directory; `*`, `?`
/// and `[...]` make a glob within one directory) must
/// exist in one of `locations` (directories relative to the root; "" is the root).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Required {
    /// The rule id findings carry, e.g. `structure/readme`.
    pub id: String,
    pub any_of: Vec<String>,
    #[serde(default = "default_locations")]
    pub locations: Vec<String>,
    pub severity: Severity,
    #[serde(default)]
    pub why: Option<String>,
}

/// No file may match `globs` unless it matches `except`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forbidden {
    pub id: String,
    pub globs: Vec<String>,
    #[serde(default)]
    pub except: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub globs_case_insensitive: bool,
    /// Directories matching the globs are forbidden too.
    #[serde(default, skip_serializing_if = "is_default")]
    pub include_dirs: bool,
    pub severity: Severity,
    #[serde(default)]
    pub why: Option<String>,
}

/// No file may be larger than `bytes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxFileSize {
    #[serde(default = "default_size_id")]
    pub id: String,
    pub bytes: u64,
    pub severity: Severity,
    /// Only files matching these (default: every file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globs: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub globs_case_insensitive: bool,
    #[serde(default)]
    pub except: Vec<String>,
    #[serde(default)]
    pub why: Option<String>,
}

/// What a naming rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Files,
    Dirs,
}

/// Names of files (or directories) matching `glob` must follow `case`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamingRule {
    #[serde(default)]
    pub id: Option<String>,
    pub glob: String,
    #[serde(default = "default_target")]
    pub applies_to: Target,
    pub case: Case,
    /// For `case = "regex"`: must match the whole name (extension included).
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub except: Vec<String>,
    pub severity: Severity,
    #[serde(default)]
    pub why: Option<String>,
}

fn default_size_id() -> String {
    "size/max-file-size".into()
}

fn default_readme_id() -> String {
    "docs/readme-sections".into()
}

fn default_target() -> Target {
    Target::Files
}

/// Rules about what files say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    #[serde(default)]
    pub readme: Option<ReadmeRule>,
    #[serde(default)]
    pub forbidden_patterns: Vec<PatternRule>,
    #[serde(default)]
    pub required_patterns: Vec<PatternRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starts_with: Vec<StartsWithRule>,
}

/// The first `lines` complete lines of each file matching `globs` must match every
/// one of `patterns` (repolinter's `file-starts-with`). Files whose first lines are
/// empty are not judged; when no file is judged, that is a finding unless
/// `pass_if_no_file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartsWithRule {
    pub id: String,
    pub globs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// Regular expressions over the path: files whose path matches one are skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_paths_matching: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub globs_case_insensitive: bool,
    pub lines: u32,
    pub patterns: Vec<String>,
    /// Said instead of the patterns in findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describe: Option<String>,
    /// Files that are binary (by the REUSE text/binary test) are skipped.
    #[serde(default, skip_serializing_if = "is_default")]
    pub skip_binary: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub pass_if_no_file: bool,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The root README must have these headings; each entry is alternatives joined by `|`,
/// compared case-insensitively with the start of a heading's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadmeRule {
    #[serde(default = "default_readme_id")]
    pub id: String,
    pub headings: Vec<String>,
    pub severity: Severity,
    #[serde(default)]
    pub why: Option<String>,
}

/// A regular expression that files matching `globs` (default: every file) must not
/// (forbidden) or must (required) contain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    pub id: String,
    pub pattern: String,
    #[serde(default)]
    pub globs: Vec<String>,
    #[serde(default)]
    pub except: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub globs_case_insensitive: bool,
    /// Said instead of the pattern in findings (e.g. "an email address").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describe: Option<String>,
    /// When no file matches `globs`, that is a finding too.
    #[serde(default, skip_serializing_if = "is_default")]
    pub fail_if_no_file: bool,
    pub severity: Severity,
    #[serde(default)]
    pub why: Option<String>,
}

/// License rules: REUSE compliance and allowed / denied SPDX licenses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Licensing {
    #[serde(default)]
    pub reuse: Option<ReuseRule>,
    /// When non-empty, only these licenses may be used.
    #[serde(default)]
    pub allowed: Vec<String>,
    #[serde(default)]
    pub denied: Vec<String>,
    #[serde(default = "default_error")]
    pub severity: Severity,
}

impl Default for Licensing {
    fn default() -> Self {
        Self {
            reuse: None,
            allowed: Vec::new(),
            denied: Vec::new(),
            severity: Severity::Error,
        }
    }
}

fn default_error() -> Severity {
    Severity::Error
}

/// Check REUSE 3.3 compliance; every `reuse/<category>` finding gets `severity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReuseRule {
    pub severity: Severity,
}

/// The Codex rule-list form: `{"version": 1, "rules": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub version: u32,
    pub rules: Vec<Rule>,
}

fn yes() -> bool {
    true
}

/// One rule of the rule-list form; `kind` says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// One of `any_of` must exist in one of `locations` (`.` is the root).
    RequiredFile {
        id: String,
        severity: Severity,
        any_of: Vec<String>,
        #[serde(default)]
        locations: Vec<String>,
        /// Names are always compared case-insensitively; `false` is refused.
        #[serde(default = "yes")]
        case_insensitive: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// At least one path matching `globs` (full paths from the root) must exist.
    RequiredPath {
        id: String,
        severity: Severity,
        globs: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        path_type: PathType,
        #[serde(default, skip_serializing_if = "is_default")]
        globs_case_insensitive: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    ForbiddenFile {
        id: String,
        severity: Severity,
        globs: Vec<String>,
        #[serde(default)]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        globs_case_insensitive: bool,
        #[serde(default, skip_serializing_if = "is_default")]
        include_dirs: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    ForbiddenContent {
        id: String,
        severity: Severity,
        pattern: String,
        #[serde(default)]
        globs: Vec<String>,
        #[serde(default)]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        globs_case_insensitive: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        describe: Option<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        fail_if_no_file: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    RequiredContent {
        id: String,
        severity: Severity,
        pattern: String,
        #[serde(default)]
        globs: Vec<String>,
        #[serde(default)]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        globs_case_insensitive: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        describe: Option<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        fail_if_no_file: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// The first `lines` lines of matching files must match every pattern.
    FileStartsWith {
        id: String,
        severity: Severity,
        globs: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        except_paths_matching: Vec<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        globs_case_insensitive: bool,
        lines: u32,
        patterns: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        describe: Option<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        skip_binary: bool,
        #[serde(default, skip_serializing_if = "is_default")]
        pass_if_no_file: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    MaxFileSize {
        id: String,
        severity: Severity,
        max_bytes: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        globs: Vec<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        globs_case_insensitive: bool,
        #[serde(default)]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    ReadmeSections {
        id: String,
        severity: Severity,
        sections: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    Naming {
        id: String,
        severity: Severity,
        glob: String,
        #[serde(default = "default_target")]
        applies_to: Target,
        case: Case,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        #[serde(default)]
        except: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// REUSE 3.3 compliance; findings carry `reuse/<category>` ids.
    Reuse {
        id: String,
        severity: Severity,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// Licenses (SPDX identifiers) that may (`allowed`, when non-empty) or may not be used.
    Licenses {
        id: String,
        severity: Severity,
        #[serde(default)]
        allowed: Vec<String>,
        #[serde(default)]
        denied: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
}

impl RuleSet {
    /// Groups the rules into a [`Policy`].
    pub fn into_policy(self) -> Result<Policy, PolicyError> {
        if self.version != 1 {
            return Err(PolicyError::Rule {
                rule: "version".into(),
                message: format!("only version 1 is known, not {}", self.version),
            });
        }
        let mut p = Policy::default();
        for rule in self.rules {
            match rule {
                Rule::RequiredFile {
                    id,
                    severity,
                    any_of,
                    locations,
                    case_insensitive,
                    why,
                } => {
                    if !case_insensitive {
                        return Err(PolicyError::Rule {
                            rule: id,
                            message: "required files are matched case-insensitively; case_insensitive: false is not supported".into(),
                        });
                    }
                    let locations = if locations.is_empty() {
                        default_locations()
                    } else {
                        locations
                            .into_iter()
                            .map(|l| {
                                if l == "." || l == "./" {
                                    String::new()
                                } else {
                                    l.trim_start_matches("./").trim_end_matches('/').to_string()
                                }
                            })
                            .collect()
                    };
                    p.structure.required.push(Required {
                        id,
                        any_of,
                        locations,
                        severity,
                        why,
                    });
                }
                Rule::RequiredPath {
                    id,
                    severity,
                    globs,
                    except,
                    path_type,
                    globs_case_insensitive,
                    message,
                    why,
                } => {
                    p.structure.required_paths.push(RequiredPath {
                        id,
                        globs,
                        except,
                        path_type,
                        globs_case_insensitive,
                        message,
                        severity,
                        why,
                    });
                }
                Rule::ForbiddenFile {
                    id,
                    severity,
                    globs,
                    except,
                    globs_case_insensitive,
                    include_dirs,
                    why,
                } => {
                    p.structure.forbidden.push(Forbidden {
                        id,
                        globs,
                        except,
                        globs_case_insensitive,
                        include_dirs,
                        severity,
                        why,
                    });
                }
                Rule::ForbiddenContent {
                    id,
                    severity,
                    pattern,
                    globs,
                    except,
                    globs_case_insensitive,
                    describe,
                    fail_if_no_file,
                    why,
                } => {
                    p.content.forbidden_patterns.push(PatternRule {
                        id,
                        pattern,
                        globs,
                        except,
                        globs_case_insensitive,
                        describe,
                        fail_if_no_file,
                        severity,
                        why,
                    });
                }
                Rule::RequiredContent {
                    id,
                    severity,
                    pattern,
                    globs,
                    except,
                    globs_case_insensitive,
                    describe,
                    fail_if_no_file,
                    why,
                } => {
                    p.content.required_patterns.push(PatternRule {
                        id,
                        pattern,
                        globs,
                        except,
                        globs_case_insensitive,
                        describe,
                        fail_if_no_file,
                        severity,
                        why,
                    });
                }
                Rule::FileStartsWith {
                    id,
                    severity,
                    globs,
                    except,
                    except_paths_matching,
                    globs_case_insensitive,
                    lines,
                    patterns,
                    describe,
                    skip_binary,
                    pass_if_no_file,
                    why,
                } => {
                    p.content.starts_with.push(StartsWithRule {
                        id,
                        globs,
                        except,
                        except_paths_matching,
                        globs_case_insensitive,
                        lines,
                        patterns,
                        describe,
                        skip_binary,
                        pass_if_no_file,
                        severity,
                        why,
                    });
                }
                Rule::MaxFileSize {
                    id,
                    severity,
                    max_bytes,
                    globs,
                    globs_case_insensitive,
                    except,
                    why,
                } => {
                    if p.structure.max_file_size.is_some() {
                        return Err(PolicyError::Rule {
                            rule: id,
                            message: "only one max_file_size rule may be given".into(),
                        });
                    }
                    p.structure.max_file_size = Some(MaxFileSize {
                        id,
                        bytes: max_bytes,
                        severity,
                        globs,
                        globs_case_insensitive,
                        except,
                        why,
                    });
                }
                Rule::ReadmeSections {
                    id,
                    severity,
                    sections,
                    why,
                } => {
                    if p.content.readme.is_some() {
                        return Err(PolicyError::Rule {
                            rule: id,
                            message: "only one readme_sections rule may be given".into(),
                        });
                    }
                    p.content.readme = Some(ReadmeRule {
                        id,
                        headings: sections,
                        severity,
                        why,
                    });
                }
                Rule::Naming {
                    id,
                    severity,
                    glob,
                    applies_to,
                    case,
                    pattern,
                    except,
                    why,
                } => {
                    p.naming.push(NamingRule {
                        id: Some(id),
                        glob,
                        applies_to,
                        case,
                        pattern,
                        except,
                        severity,
                        why,
                    });
                }
                Rule::Reuse { severity, .. } => p.licensing.reuse = Some(ReuseRule { severity }),
                Rule::Licenses {
                    severity,
                    allowed,
                    denied,
                    ..
                } => {
                    p.licensing.allowed = allowed;
                    p.licensing.denied = denied;
                    p.licensing.severity = severity;
                }
            }
        }
        Ok(p)
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy {origin} is not valid JSON for the hygiene policy format: {message}")]
    Json { origin: String, message: String },
    #[error("policy {origin} is not valid TOML for the hygiene policy format: {message}")]
    Toml { origin: String, message: String },
    #[error("policy rule {rule}: {message}")]
    Rule { rule: String, message: String },
}

impl Policy {
    /// The Codex default ruleset: clause 5.2.5's `rules` in the genesis Codex.
    pub fn codex_default() -> Self {
        Self::from_json_value(
            govmesh_core::codex::default_hygiene_policy(),
            "the Codex default (clause 5.2.5)",
        )
        .expect("the Codex's clause 5.2.5 rules are a valid hygiene policy")
    }

    /// Parses a policy from JSON text (`origin` names it in errors).
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PolicyError::Json {
                origin: origin.into(),
                message: e.to_string(),
            })?;
        Self::from_json_value(value, origin)
    }

    /// Parses a policy from a JSON value: the Codex rule-list form (clause 5.2.5's
    /// `rules`, recognised by its `rules` array) or the grouped form.
    pub fn from_json_value(value: serde_json::Value, origin: &str) -> Result<Self, PolicyError> {
        let err = |e: serde_json::Error| PolicyError::Json {
            origin: origin.into(),
            message: e.to_string(),
        };
        if value.get("rules").is_some_and(serde_json::Value::is_array) {
            let set: RuleSet = serde_json::from_value(value).map_err(err)?;
            set.into_policy()
        } else {
            serde_json::from_value(value).map_err(err)
        }
    }

    /// Parses a policy from TOML text (either form).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let value: toml::Value =
            toml::from_str(text).map_err(|e: toml::de::Error| PolicyError::Toml {
                origin: origin.into(),
                message: e.to_string(),
            })?;
        let json = serde_json::to_value(value).map_err(|e| PolicyError::Toml {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        Self::from_json_value(json, origin)
    }

    /// Loads a policy file: `.toml` is TOML, anything else JSON.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let origin = path.display().to_string();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            Self::from_toml_str(&text, &origin)
        } else {
            Self::from_json_str(&text, &origin)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_default_parses_and_has_the_issue_rules() {
        let p = Policy::codex_default();
        let ids: Vec<&str> = p.structure.required.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "structure/readme",
                "structure/license",
                "structure/contributing",
                "structure/security"
            ]
        );
        assert_eq!(p.structure.required[1].locations, [""]);
        assert_eq!(
            p.structure.max_file_size.as_ref().map(|m| m.bytes),
            Some(10 * 1024 * 1024)
        );
        assert!(p.licensing.reuse.is_some());
    }

    #[test]
    fn toml_and_json_give_the_same_policy() {
        let toml = r#"
[[naming]]
glob = "src/**"
case = "snake"
severity = "warning"
"#;
        let json = r#"{"naming": [{"glob": "src/**", "case": "snake", "severity": "warning"}]}"#;
        assert_eq!(
            Policy::from_toml_str(toml, "t").expect("toml"),
            Policy::from_json_str(json, "j").expect("json")
        );
    }

    #[test]
    fn rule_list_form_in_toml() {
        let toml = r#"
version = 1
[[rules]]
id = "naming/src"
kind = "naming"
glob = "src/**"
case = "kebab"
severity = "error"
"#;
        let p = Policy::from_toml_str(toml, "t").expect("toml");
        assert_eq!(p.naming[0].id.as_deref(), Some("naming/src"));
        let e = Policy::from_json_str(
            r#"{"version": 1, "rules": [{"id": "x", "kind": "nope", "severity": "error"}]}"#,
            "p",
        )
        .expect_err("unknown kind");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let e = Policy::from_json_str(r#"{"structur": {}}"#, "p").expect_err("must fail");
        assert!(e.to_string().contains("structur"), "{e}");
    }
}
