//! Helpers: materialise a fixture as its own git repository, run `reuse lint --json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

/// Runs git in `dir`, panicking with its output when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git must be installed to run these tests");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `dir` a git repository with everything not ignored committed, as a real
/// repository is. (reuse asks git for ignored files with `ls-files --directory`, which
/// leaves out ignored files inside *untracked* directories that also hold other files;
/// in a repository whose directories are tracked the two agree.)
pub fn commit_all(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "fixture",
        ],
    );
}

/// Copies fixture `name` into a fresh temporary git repository (so its .gitignore
/// applies and nothing of the surrounding checkout does), committed.
pub fn materialise(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures_dir().join(name), dir.path());
    commit_all(dir.path());
    dir
}

/// `reuse lint --json` in `dir`, as category -> set (license ids or paths), with
/// `invalid-spdx-expressions` taken from the files whose expressions are invalid.
/// Panics with an install hint if reuse is missing.
pub fn reuse_lint(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    if let Ok(saved) = std::env::var("GOVMESH_REUSE_JSON") {
        let data = std::fs::read(&saved)
            .unwrap_or_else(|e| panic!("cannot read GOVMESH_REUSE_JSON={saved}: {e}"));
        return categories_of(&data);
    }
    let out = Command::new("reuse")
        .args(["--root", ".", "lint", "--json"])
        .current_dir(dir)
        .env("_SUPPRESS_DEP5_WARNING", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `reuse` ({e}): install it with `pip install -r requirements-test.txt`"
            )
        });
    if serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err() {
        panic!(
            "reuse lint --json gave no JSON; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    categories_of(&out.stdout)
}

/// The categories of a `reuse lint --json` output.
pub fn categories_of(data: &[u8]) -> BTreeMap<String, BTreeSet<String>> {
    let json: serde_json::Value = serde_json::from_slice(data).expect("reuse lint JSON");
    let mut result = BTreeMap::new();
    for (key, values) in json["non_compliant"]
        .as_object()
        .expect("non_compliant object")
    {
        let set: BTreeSet<String> = values
            .as_array()
            .expect("category list")
            .iter()
            .map(|v| {
                v.as_str()
                    .expect("string")
                    .trim_start_matches("./")
                    .to_string()
            })
            .collect();
        result.insert(key.replace('_', "-"), set);
    }
    let invalid: BTreeSet<String> = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| {
            f["spdx_expressions"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x["is_valid"] == false))
        })
        .map(|f| f["path"].as_str().expect("path").to_string())
        .collect();
    result.insert("invalid-spdx-expressions".into(), invalid);
    // Not a category: the number of covered files, compared as a one-element set.
    let total = json["summary"]["files_total"]
        .as_u64()
        .expect("files_total");
    result.insert(
        "files-total".into(),
        [total.to_string()].into_iter().collect(),
    );
    result
}
