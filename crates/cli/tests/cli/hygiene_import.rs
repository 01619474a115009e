//! `govmesh hygiene import --from repolinter`: the binary converts the hygiene crate's
//! fixture ruleset, says on stderr which rules have no equivalent, and the policy it
//! prints is one `hygiene check --policy` runs; a ruleset it cannot read is exit 2.

use crate::util::*;
use std::path::{Path, PathBuf};

fn hygiene_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hygiene/tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn hygiene_import_repolinter_then_check() {
    let dir = tmp();
    let ruleset = hygiene_fixtures().join("repolinter.ruleset.json");
    let o = govmesh(&["hygiene", "import", s(&ruleset), "--from", "repolinter"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for listed in [
        "no-secrets-in-history: rule type 'git-grep-commits' has no equivalent",
        "badge: rule type 'best-practices-badge-present' has no equivalent",
        "javascript-package-present: runs only where",
        "license-detected: level off",
    ] {
        assert!(err.contains(listed), "stderr lacks {listed:?}:\n{err}");
    }
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, stdout(&o)).unwrap();
    let repo = dir.path().join("repo");
    copy_dir(&hygiene_fixtures().join("repolinter"), &repo);
    let o = govmesh(&[
        "hygiene",
        "check",
        s(&repo),
        "--policy",
        s(&policy),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "error findings: {}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let rules: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for rule in [
        "repolinter/no-binaries",
        "repolinter/js-headers",
        "repolinter/security-policy-present",
        "repolinter/no-large-files",
    ] {
        assert!(rules.contains(rule), "{rule} missing from {rules:?}");
    }
    assert!(!rules.contains("repolinter/license-present"), "{rules:?}");
}

#[test]
fn hygiene_import_of_a_bad_ruleset_is_exit_2() {
    let dir = tmp();
    let bad = dir.path().join("ruleset.json");
    std::fs::write(&bad, r#"{"version": 1, "rules": {}}"#).unwrap();
    let line = fails(&["hygiene", "import", s(&bad), "--from", "repolinter"], 2);
    assert!(line.contains("version 1"), "{line}");
}
