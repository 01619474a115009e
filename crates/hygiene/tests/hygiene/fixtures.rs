//! Fixture repositories for every rule kind, checked with their policy; the findings
//! are snapshots (`tests/snapshots/`, review changes with `cargo insta review`).

use std::path::Path;

use govmesh_hygiene::{CheckOptions, Policy, Report, check};

use crate::util::{fixtures_dir, materialise};

fn run(name: &str, policy: &Policy, prepare: impl FnOnce(&Path)) -> Report {
    let dir = materialise(name);
    prepare(dir.path());
    check(dir.path(), policy, &CheckOptions::default()).expect("check runs")
}

fn codex() -> Policy {
    Policy::codex_default()
}

#[test]
fn reuse_compliant_repository_is_clean() {
    let report = run("reuse-compliant", &codex(), |dir| {
        // Ignored by .gitignore: must not be reported although it has no header.
        std::fs::write(dir.join("debug.log"), "no header\n").expect("write");
        std::fs::write(dir.join("src/trace.log"), "no header\n").expect("write");
    });
    insta::assert_json_snapshot!(report);
    assert_eq!(report.summary.reuse_compliant, Some(true));
    assert!(!report.has_errors());
}

#[test]
fn reuse_broken_repository_reports_every_category() {
    let report = run("reuse-broken", &codex(), |_| {});
    insta::assert_json_snapshot!(report);
    let rules: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.rule.as_str()).collect();
    for category in [
        "bad-licenses",
        "deprecated-licenses",
        "licenses-without-extension",
        "missing-licenses",
        "unused-licenses",
        "missing-copyright-info",
        "missing-licensing-info",
        "invalid-spdx-expressions",
    ] {
        assert!(
            rules.contains(format!("reuse/{category}").as_str()),
            "no reuse/{category} finding"
        );
    }
}

#[test]
fn reuse_toml_precedence() {
    let report = run("reuse-toml-precedence", &codex(), |_| {});
    insta::assert_json_snapshot!(report);
}

#[test]
fn reuse_dep5() {
    let report = run("reuse-dep5", &codex(), |_| {});
    insta::assert_json_snapshot!(report);
}

#[test]
fn structure_and_secrets_under_the_codex_default() {
    let report = run("structure-content", &codex(), |dir| {
        // Over the 10 MiB limit; made here rather than committed.
        let big = std::fs::File::create(dir.join("big.bin")).expect("create");
        big.set_len(10 * 1024 * 1024 + 1).expect("grow");
    });
    insta::assert_json_snapshot!(report);
}

#[test]
fn naming_content_and_size_rules_from_a_toml_policy() {
    let policy = Policy::load(&fixtures_dir().join("naming.policy.toml")).expect("policy loads");
    let report = run("naming", &policy, |_| {});
    insta::assert_json_snapshot!(report);
}

#[test]
fn only_listed_files_in_pre_commit_mode() {
    let dir = materialise("reuse-broken");
    let options = CheckOptions {
        only: Some(["no-header.c".to_string()].into_iter().collect()),
        ..CheckOptions::default()
    };
    let report = check(dir.path(), &codex(), &options).expect("check runs");
    let paths: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths.into_iter().collect::<Vec<_>>(), ["no-header.c"]);
    assert_eq!(report.summary.reuse_compliant, Some(false));
    let options = CheckOptions {
        only: Some(["plus.c".to_string()].into_iter().collect()),
        ..CheckOptions::default()
    };
    let report = check(dir.path(), &codex(), &options).expect("check runs");
    assert_eq!(report.findings, [], "plus.c is fine on its own");
    assert_eq!(report.summary.reuse_compliant, Some(true));
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_tree_are_not_followed() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.c"), "int leaked;\n").expect("write");
    let report = run("reuse-compliant", &codex(), |dir| {
        std::os::unix::fs::symlink(outside.path(), dir.join("link")).expect("symlink");
    });
    assert!(
        report.findings.iter().all(|f| !f.path.starts_with("link")),
        "{:?}",
        report.findings
    );
}

#[test]
fn a_bad_policy_names_the_rule() {
    let policy = Policy::from_json_str(
        r#"{"version": 1, "rules": [{"id": "naming/x", "kind": "naming", "glob": "[", "case": "kebab", "severity": "error"}]}"#,
        "inline",
    )
    .expect("parses");
    let dir = materialise("naming");
    let err = check(dir.path(), &policy, &CheckOptions::default()).expect_err("bad glob");
    assert!(err.to_string().contains("naming/x"), "{err}");
}

#[test]
fn tracked_files_match_git_ls_files_for_index_versions_2_and_4() {
    let dir = materialise("reuse-broken");
    for version in ["2", "4"] {
        crate::util::git(dir.path(), &["update-index", "--index-version", version]);
        let out = std::process::Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(dir.path())
            .output()
            .expect("git");
        let expected: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let got = govmesh_hygiene::gitindex::tracked_under(dir.path()).expect("index parses");
        assert_eq!(got, expected, "index version {version}");
    }
}

#[test]
fn tracked_files_count_although_gitignore_matches_them() {
    let dir = materialise("reuse-compliant");
    std::fs::write(dir.path().join("tracked.log"), "no header\n").expect("write");
    crate::util::git(dir.path(), &["add", "-f", "tracked.log"]);
    let report = check(dir.path(), &codex(), &CheckOptions::default()).expect("check runs");
    let paths: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains("tracked.log"), "{paths:?}");
}

#[test]
fn directories_of_tracked_files_are_named_although_gitignore_matches_them() {
    let policy = Policy::from_json_str(
        r#"{"version": 1, "rules": [{"id": "n/dirs", "kind": "naming", "glob": "**", "applies_to": "dirs", "case": "snake", "severity": "error"}]}"#,
        "inline",
    )
    .expect("policy");
    let dir = materialise("reuse-compliant");
    std::fs::create_dir_all(dir.path().join("Kept_Dir/Inner")).expect("mkdir");
    std::fs::write(dir.path().join("Kept_Dir/Inner/a.txt"), "x\n").expect("write");
    std::fs::write(dir.path().join(".gitignore"), "Kept_Dir/\n").expect("write");
    let named = |dir: &Path| -> Vec<String> {
        let report = check(dir, &policy, &CheckOptions::default()).expect("check runs");
        let mut paths: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.rule == "n/dirs" && f.path.starts_with("Kept_Dir"))
            .map(|f| f.path.clone())
            .collect();
        paths.sort();
        paths
    };
    assert_eq!(
        named(dir.path()),
        Vec::<String>::new(),
        "ignored, untracked"
    );
    crate::util::git(dir.path(), &["add", "-f", "Kept_Dir/Inner/a.txt"]);
    assert_eq!(named(dir.path()), ["Kept_Dir", "Kept_Dir/Inner"], "tracked");
}

#[test]
fn fix_adds_headers_and_sidecars_that_reuse_lint_accepts() {
    let dir = materialise("reuse-broken");
    let plans = govmesh_hygiene::fix::plan_repository(dir.path(), "2026 Jane Doe", Some("MIT"))
        .expect("plan");
    let planned: Vec<String> = plans
        .iter()
        .map(|p| match p {
            govmesh_hygiene::fix::Plan::Edit { path, .. } => format!("edit {path}"),
            govmesh_hygiene::fix::Plan::Create { path, .. } => format!("create {path}"),
            govmesh_hygiene::fix::Plan::Skip { path, reason } => format!("skip {path}: {reason}"),
        })
        .collect();
    insta::assert_json_snapshot!(planned);
    govmesh_hygiene::fix::apply(dir.path(), &plans).expect("apply");
    let theirs = crate::util::reuse_lint(dir.path());
    assert_eq!(
        theirs["missing-copyright-info"],
        Default::default(),
        "reuse lint after fix"
    );
    assert_eq!(
        theirs["missing-licensing-info"],
        Default::default(),
        "reuse lint after fix"
    );
    // Running it again finds nothing more to do.
    let again = govmesh_hygiene::fix::plan_repository(dir.path(), "2026 Jane Doe", Some("MIT"))
        .expect("plan");
    assert_eq!(again, []);
}

#[test]
fn required_files_may_be_one_level_globs() {
    let policy = Policy::from_json_str(
        r#"{"version": 1, "rules": [
            {"id": "r/readme", "kind": "required_file", "any_of": ["readme*"], "severity": "error"},
            {"id": "r/changelog", "kind": "required_file", "any_of": ["CHANGELOG*"], "severity": "warning"},
            {"id": "r/src", "kind": "required_file", "any_of": ["s?c/"], "locations": ["."], "severity": "error"}
        ]}"#,
        "inline",
    )
    .expect("policy");
    let report = run("naming", &policy, |_| {});
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["r/changelog"]);
}
