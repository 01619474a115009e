//! `hygiene import --from repolinter`: a version 2 ruleset in the shape of repolinter's
//! default (tests/fixtures/repolinter.ruleset.json, written for these tests) converts
//! into a policy that satisfies the published schema, lists every rule it cannot
//! convert with the reason, and judges a fixture repository as repolinter's rules do
//! (the expected verdicts below follow repolinter 0.12's rule code, rule by rule).

use std::collections::BTreeSet;
use std::path::Path;

use govmesh_hygiene::import::from_repolinter;
use govmesh_hygiene::{CheckOptions, Policy, check};

use crate::util::{fixtures_dir, materialise};

fn imported() -> govmesh_hygiene::import::Imported {
    let text = std::fs::read_to_string(fixtures_dir().join("repolinter.ruleset.json"))
        .expect("fixture ruleset");
    from_repolinter(&text).expect("the ruleset converts")
}

#[test]
fn repolinter_ruleset_converts_and_satisfies_the_schema() {
    let imported = imported();
    let json = serde_json::to_value(&imported.rules).expect("json");
    insta::assert_json_snapshot!("repolinter_converted_rules", json);
    insta::assert_json_snapshot!("repolinter_not_converted", imported.unsupported);
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.schema.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path).expect("schema")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "converted policy vs schema: {errors:?}");
    Policy::from_json_value(json, "converted").expect("the converted policy loads");
    // Every rule is either converted or listed, and what is listed says why.
    let converted: BTreeSet<String> = imported
        .rules
        .rules
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    for name in [
        "javascript-package-present",
        "license-detected",
        "license-detected-on",
        "no-secrets-in-history",
        "package-json-valid",
        "badge",
        "lookbehind",
    ] {
        assert!(!converted.contains(&format!("repolinter/{name}")), "{name}");
        assert!(
            imported
                .unsupported
                .iter()
                .any(|u| u.starts_with(&format!("{name}: "))),
            "{name} is not listed: {:?}",
            imported.unsupported
        );
    }
    assert_eq!(converted.len(), 21, "{converted:?}");
}

#[test]
fn converted_rules_judge_the_fixture_as_repolinter_does() {
    let policy = imported().rules.into_policy().expect("policy");
    let dir = materialise("repolinter");
    let report = check(dir.path(), &policy, &CheckOptions::default()).expect("check runs");
    insta::assert_json_snapshot!("repolinter_fixture_findings", report);
    let failed: BTreeSet<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.strip_prefix("repolinter/").unwrap_or(&f.rule),
                f.path.as_str(),
            )
        })
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        // fail-message first; case-insensitive braces find nothing.
        ("conduct-present", "."),
        // SECURITY.md is case-sensitive here (no nocase): .github/security.md is not it.
        ("security-policy-present", "."),
        ("changelog-present", "."),
        // Without dirs: true, the directory .github/PULL_REQUEST_TEMPLATE/ does not
        // count (with it, .github/ISSUE_TEMPLATE/ does: issue-template-present passes).
        ("pull-request-template-present", "."),
        // Without the m flag, ^ is the start of the README only.
        ("readme-starts-with-license", "README.md"),
        // node_modules/ is excluded by "!node_modules/**".
        ("no-binaries", "bin/tool.exe"),
        // fail-on-non-existent: no CODE_OF_CONDUCT file is a failure.
        ("conduct-has-contact-strict", "."),
        // License is on line 7, past lineCount 5; oneline.js has no complete line.
        ("js-headers", "src/bad.js"),
        // No .py file at all: file-starts-with fails unless succeed-on-non-existent.
        ("py-headers", "."),
        ("no-passwords", "config/app.ini"),
        // nocase: config/.ENV matches **/.env.
        ("no-env-files", "config/.ENV"),
        ("no-large-files", "assets/big.txt"),
        ("notice-present", "."),
    ]
    .into_iter()
    .collect();
    assert_eq!(failed, expected);
    let severity = |rule: &str| {
        report
            .findings
            .iter()
            .find(|f| f.rule == format!("repolinter/{rule}"))
            .map(|f| f.severity)
    };
    use govmesh_hygiene::Severity;
    assert_eq!(severity("changelog-present"), Some(Severity::Warning));
    assert_eq!(severity("no-binaries"), Some(Severity::Error));
    let conduct = report
        .findings
        .iter()
        .find(|f| f.rule == "repolinter/conduct-present")
        .expect("finding");
    assert!(
        conduct
            .message
            .starts_with("Say how people are expected to behave. No file matches"),
        "{}",
        conduct.message
    );
    let strict = report
        .findings
        .iter()
        .find(|f| f.rule == "repolinter/conduct-has-contact-strict")
        .expect("finding");
    assert!(
        strict.message.contains("an email address"),
        "{}",
        strict.message
    );
}

#[test]
fn directory_existence_accepts_a_file_as_repolinter_does() {
    // repolinter's directory-existence is file-existence with dirs: true, whose search
    // returns files too.
    let ruleset = r#"{"version": 2, "rules": {"docs": {"level": "error", "rule": {"type": "directory-existence", "options": {"globsAny": ["license*"]}}}}}"#;
    let policy = from_repolinter(ruleset)
        .expect("converts")
        .rules
        .into_policy()
        .expect("policy");
    let dir = materialise("repolinter");
    let report = check(dir.path(), &policy, &CheckOptions::default()).expect("check");
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn bad_rulesets_are_clear_errors() {
    for (text, wanted) in [
        ("[1, 2]", "object"),
        (r#"{"rules": {}}"#, "version"),
        (r#"{"version": 1, "rules": {}}"#, "version 1"),
        (r#"{"version": 2}"#, "rules"),
        (
            r#"{"version": 2, "rules": {"x": {"level": "fatal", "rule": {"type": "file-existence"}}}}"#,
            "level 'fatal'",
        ),
        (
            r#"{"version": 2, "rules": {"x": {"level": "error"}}}"#,
            "no rule.type",
        ),
        ("rules: [", "YAML"),
    ] {
        let err = from_repolinter(text).expect_err(text).to_string();
        assert!(err.contains(wanted), "{text}: {err}");
    }
}

/// The same verdicts from repolinter itself (`npm install repolinter`; run with
/// `GOVMESH_REPOLINTER=/path/to/node_modules/.bin/repolinter cargo test -p
/// govmesh-hygiene -- --ignored repolinter_itself`): for every converted rule, the
/// failing (rule, path) pairs are the same, "." standing for a rule about the
/// repository as a whole.
#[test]
#[ignore = "needs repolinter (npm) in GOVMESH_REPOLINTER"]
fn repolinter_itself_agrees_on_the_fixture() {
    let bin = std::env::var("GOVMESH_REPOLINTER").expect(
        "set GOVMESH_REPOLINTER to the repolinter binary (npm install repolinter; node_modules/.bin/repolinter)",
    );
    let imported = imported();
    let converted: BTreeSet<String> = imported
        .rules
        .rules
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| {
            v["id"]
                .as_str()
                .map(|s| s.trim_start_matches("repolinter/").to_string())
        })
        .collect();
    let policy = imported.rules.into_policy().expect("policy");
    let dir = materialise("repolinter");
    // Ours first: repolinter applies a rule's fix (here: creates NOTICE) unless dry.
    let report = check(dir.path(), &policy, &CheckOptions::default()).expect("check runs");
    let ours: BTreeSet<(String, String)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.trim_start_matches("repolinter/").to_string(),
                f.path.clone(),
            )
        })
        .collect();
    let ruleset = fixtures_dir().join("repolinter.ruleset.json");
    let out = std::process::Command::new(&bin)
        .args([
            "lint",
            &dir.path().to_string_lossy(),
            "-r",
            &ruleset.to_string_lossy(),
            "-f",
            "json",
            "--dryRun",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "repolinter's output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let root = dir.path().to_string_lossy().to_string();
    let mut expected = BTreeSet::new();
    for result in theirs["results"].as_array().expect("results") {
        let name = result["ruleInfo"]["name"]
            .as_str()
            .expect("rule name")
            .to_string();
        if !converted.contains(&name) || result["lintResult"]["passed"].as_bool() != Some(false) {
            continue;
        }
        for target in result["lintResult"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if target["passed"].as_bool() == Some(false) {
                let path = match target["path"].as_str() {
                    Some(p) => p
                        .trim_start_matches(&root)
                        .trim_start_matches('/')
                        .to_string(),
                    None => ".".to_string(),
                };
                expected.insert((name.clone(), path));
            }
        }
    }
    assert_eq!(ours, expected, "ours vs repolinter's failing targets");
    assert!(!expected.is_empty());
}
