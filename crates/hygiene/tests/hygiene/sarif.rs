//! Our SARIF against the official SARIF 2.1.0 JSON Schema and GitHub code scanning's
//! upload rules, with tools installed from a registry: the npm package
//! `@microsoft/sarif-multitool-linux` (MIT, Microsoft's SARIF SDK) ships both the
//! SARIF 2.1.0 schema (`sarif-2.1.0.json`) and the SARIF Multitool, whose `validate`
//! with rule kinds `Sarif;Gh` applies the schema, the spec's rules and GitHub's
//! ingestion rules (GH1xxx/GH2xxx). Independently, Python jsonschema (formats checked:
//! uri-reference...) validates every log against that schema and `sarif_check.py`
//! applies GitHub's documented rules (ruleId, message.text, relative
//! artifactLocation.uri, rule descriptions, limits).
//!
//! The tools live in `target/sarif-tools` (or `$GOVMESH_SARIF_TOOLS`); `.ci/run`
//! installs them with `npm install --prefix target/sarif-tools
//! @microsoft/sarif-multitool-linux@5.7.0`. Without them the test fails saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

use govmesh_hygiene::finding::{Finding, Report, Severity};
use govmesh_hygiene::{CheckOptions, Policy, check, output};

use crate::util::{fixtures_dir, materialise};

const PACKAGE: &str = "@microsoft/sarif-multitool-linux";
const VERSION: &str = "5.7.0";

fn tools_package() -> PathBuf {
    let root = std::env::var_os("GOVMESH_SARIF_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/sarif-tools")
                .to_path_buf()
        });
    let dir = root.join("node_modules").join(PACKAGE);
    assert!(
        dir.join("sarif-2.1.0.json").is_file() && dir.join("Sarif.Multitool").is_file(),
        "the SARIF 2.1.0 schema and validator are missing from {}: install them with \
         `npm install --no-save --prefix {} {PACKAGE}@{VERSION}` (as .ci/run does), \
         or point GOVMESH_SARIF_TOOLS at such a prefix",
        dir.display(),
        root.display()
    );
    dir
}

/// SARIF logs of real checks (every fixture under the Codex default) and of reports
/// with awkward paths, lines and no findings at all.
fn logs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "fixtures: {names:?}");
    for name in names {
        let dir = materialise(&name);
        let report = check(
            dir.path(),
            &Policy::codex_default(),
            &CheckOptions::default(),
        )
        .expect("check");
        out.push((name, output::sarif(&report, "0.1.0")));
    }
    let mut odd = Report::default();
    for (rule, severity, path, line) in [
        (
            "reuse/missing-licenses",
            Severity::Error,
            "dir with space/a b.rs",
            Some(1),
        ),
        (
            "reuse/missing-copyright-info",
            Severity::Error,
            "ünï/cödé.py",
            Some(7),
        ),
        (
            "content/forbidden",
            Severity::Warning,
            "100%#?.txt",
            Some(42),
        ),
        ("structure/security", Severity::Info, ".", None),
        ("naming/src", Severity::Warning, "src/[x]/{y}.ts", None),
    ] {
        odd.findings.push(Finding {
            rule: rule.into(),
            severity,
            path: path.into(),
            line,
            message: format!("{rule} at {path}: what is wrong, why, how to fix"),
        });
    }
    odd.finish();
    out.push(("odd-paths".into(), output::sarif(&odd, "0.1.0")));
    let mut clean = Report::default();
    clean.finish();
    out.push(("clean".into(), output::sarif(&clean, "0.1.0")));
    out
}

fn python_check(schema: &Path, files: &[PathBuf]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hygiene/sarif_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(schema)
        .args(files)
        .output()
        .expect("python3 must be installed (pip install -r requirements-test.txt)");
    assert!(
        out.status.success(),
        "sarif_check.py failed (pip install -r requirements-test.txt for jsonschema and \
         its format validators): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sarif_check.py prints JSON")
}

/// Runs the SARIF Multitool's validator with the schema, SARIF and GitHub rules; returns
/// its error-level results as "file: rule: message".
fn multitool_errors(tool: &Path, file: &Path, work: &Path) -> Vec<String> {
    let out_log = work.join(format!(
        "{}.validation.sarif",
        file.file_name().unwrap().to_string_lossy()
    ));
    let run = Command::new(tool.join("Sarif.Multitool"))
        .args([
            "validate",
            "--rule-kind",
            "Sarif;Gh",
            "--log",
            "ForceOverwrite",
            "-o",
        ])
        .arg(&out_log)
        .arg(file)
        .output()
        .expect("run Sarif.Multitool");
    assert!(
        run.status.success(),
        "Sarif.Multitool validate {}: {}\n{}",
        file.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_log).expect("validation log")).expect("json");
    let run0 = &v["runs"][0];
    assert_eq!(
        run0["invocations"][0]["executionSuccessful"],
        true,
        "the validator did not run to completion on {}",
        file.display()
    );
    run0["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["level"] == "error")
        .map(|r| {
            format!(
                "{}: {}: {}",
                file.display(),
                r["ruleId"].as_str().unwrap_or("?"),
                r["message"]["text"]
                    .as_str()
                    .or(r["message"]["id"].as_str())
                    .unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn sarif_is_valid_2_1_0_that_github_code_scanning_accepts() {
    let tool = tools_package();
    let schema = tool.join("sarif-2.1.0.json");
    let work = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for (name, text) in logs() {
        let p = work.path().join(format!("{name}.sarif"));
        std::fs::write(&p, text).expect("write");
        files.push(p);
    }
    // A broken log: both checkers must object (so a silent pass is not possible).
    let mut broken: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read")).expect("json");
    let res = &mut broken["runs"][0]["results"][0];
    res.as_object_mut().expect("a result").remove("message");
    res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        serde_json::json!("file:///etc/passwd");
    broken["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .expect("driver")
        .remove("name");
    let broken_path = work.path().join("broken.sarif");
    std::fs::write(&broken_path, broken.to_string()).expect("write");

    let mut all = files.clone();
    all.push(broken_path.clone());
    let report = python_check(&schema, &all);
    let broken_problems = report[broken_path.to_str().unwrap()]
        .as_array()
        .expect("problems")
        .clone();
    let text = serde_json::Value::Array(broken_problems.clone()).to_string();
    for needle in ["schema:", "message.text", "not relative", "driver.name"] {
        assert!(
            text.contains(needle),
            "broken log: {needle} not found in {text}"
        );
    }
    let mut problems = Vec::new();
    for f in &files {
        for p in report[f.to_str().unwrap()].as_array().expect("problems") {
            problems.push(format!("{}: {}", f.display(), p.as_str().unwrap_or("")));
        }
    }
    assert!(
        multitool_errors(&tool, &broken_path, work.path()).len() >= 2,
        "the SARIF Multitool accepted a log without message and tool name"
    );
    for f in &files {
        problems.extend(multitool_errors(&tool, f, work.path()));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
