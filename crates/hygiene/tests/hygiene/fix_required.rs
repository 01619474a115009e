//! `hygiene fix` creating missing required files from the built-in templates, on the
//! `fix-required` fixture (a library with SPDX headers and nothing else).

use govmesh_hygiene::fix::{Plan, apply, diff, plan_required_files};
use govmesh_hygiene::{CheckOptions, Policy, check};

use crate::util::materialise;

fn created(plans: &[Plan]) -> Vec<&str> {
    plans
        .iter()
        .filter_map(|p| match p {
            Plan::Create { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect()
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn creates_missing_required_files_that_make_the_repository_clean() {
    let dir = materialise("fix-required");
    let policy = Policy::codex_default();
    let before = listing(dir.path());
    let plans =
        plan_required_files(dir.path(), &policy, Some("2026 Jane Doe"), Some("MIT")).expect("plan");
    assert_eq!(
        created(&plans),
        [
            "README.md",
            "LICENSES/MIT.txt",
            "CONTRIBUTING.md",
            "SECURITY.md"
        ]
    );
    assert_eq!(listing(dir.path()), before, "planning writes nothing");

    // The dry-run diff shows each new file whole, with its SPDX header.
    let readme = diff(&plans[0]);
    assert!(
        readme.starts_with("--- /dev/null\n+++ b/README.md\n"),
        "{readme}"
    );
    assert!(
        readme.contains("+SPDX-License-Identifier: MIT\n"),
        "{readme}"
    );
    assert!(readme.contains("+## License\n"), "{readme}");
    let mit = diff(&plans[1]);
    assert!(mit.contains("+Copyright (c) 2026 Jane Doe\n"), "{mit}");

    assert_eq!(apply(dir.path(), &plans).expect("apply"), 4);
    let report = check(dir.path(), &policy, &CheckOptions::default()).expect("check");
    assert_eq!(report.findings, [], "findings after fix");
    assert_eq!(report.summary.reuse_compliant, Some(true));
    let again = plan_required_files(dir.path(), &policy, Some("2026 Jane Doe"), Some("MIT"))
        .expect("plan again");
    assert_eq!(again, [], "nothing left to create");
}

#[test]
fn never_overwrites_a_file_that_appears_after_planning() {
    let dir = materialise("fix-required");
    let plans =
        plan_required_files(dir.path(), &Policy::codex_default(), None, Some("MIT")).expect("plan");
    std::fs::write(dir.path().join("README.md"), "mine\n").expect("write");
    let err = apply(dir.path(), &plans).expect_err("README.md exists now");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).expect("read"),
        "mine\n"
    );
}

#[test]
fn without_a_built_in_license_text_it_says_what_to_do() {
    let dir = materialise("fix-required");
    let policy = Policy::codex_default();
    let skipped = |plans: &[Plan]| -> Vec<String> {
        plans
            .iter()
            .filter_map(|p| match p {
                Plan::Skip { path, reason } => Some(format!("{path}: {reason}")),
                _ => None,
            })
            .collect()
    };

    let none = plan_required_files(dir.path(), &policy, Some("2026 Jane Doe"), None).expect("plan");
    assert_eq!(
        created(&none),
        ["README.md", "CONTRIBUTING.md", "SECURITY.md"]
    );
    let why = skipped(&none);
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].starts_with("structure/license: no license configured: pass --license EXPR"),
        "{why:?}"
    );

    let apache = plan_required_files(
        dir.path(),
        &policy,
        None,
        Some("Apache-2.0 OR LicenseRef-Mine"),
    )
    .expect("plan");
    let why = skipped(&apache);
    assert_eq!(why.len(), 2, "{why:?}");
    assert!(
        why[0].starts_with("LICENSES/Apache-2.0.txt: Apache-2.0's text is not built in")
            && why[0].contains("reuse download Apache-2.0"),
        "{why:?}"
    );
    assert!(
        why[1].starts_with("LICENSES/LicenseRef-Mine.txt: LicenseRef-Mine is your own license"),
        "{why:?}"
    );
    assert!(!created(&apache).iter().any(|p| p.starts_with("LICENSES/")));
}
