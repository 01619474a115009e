//! Schemathesis (PyPI, property-based testing from the OpenAPI document) against a
//! live node's `/v1/openapi.json`, without and with the operator token: no server
//! error, and every response's status, content type and body match the document, for
//! every `/v1/` operation but the `/v1/events` stream.
//!
//! Schemathesis comes with `pip install -r requirements-test.txt` (`.ci/run` does it).
//! Without it the test fails under CI (`CI` set) and is skipped with a message
//! elsewhere.

use crate::util::*;
use std::process::Command;

/// Runs the Schemathesis CLI through python3 (the `st` script may not be on PATH).
fn schemathesis(args: &[&str]) -> Option<std::process::Output> {
    let probe = Command::new("python3")
        .args(["-c", "import schemathesis"])
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    Some(
        Command::new("python3")
            .args([
                "-c",
                "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'st'; sys.exit(schemathesis())",
            ])
            .args(args)
            .output()
            .expect("python3 runs"),
    )
}

#[test]
fn the_openapi_document_describes_what_the_node_answers() {
    if schemathesis(&["--version"]).is_none() {
        let msg = "schemathesis is not installed: pip install -r requirements-test.txt";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}; skipping");
        return;
    }
    let dir = tmp();
    let key = dir.path().join("hub.key");
    ok(&["key", "new", "--out", s(&key)]);
    let data = dir.path().join("node");
    ok(&["init", "--data", s(&data), "--key", s(&key)]);
    let node = Running::start(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"]);
    let token = std::fs::read_to_string(data.join("operator.token")).unwrap();
    let auth = format!("Authorization: Bearer {}", token.trim());
    let schema = format!("{}/v1/openapi.json", node.url);
    for header in [None, Some(auth.as_str())] {
        let mut args = vec![
            "run",
            schema.as_str(),
            // The JSON API. The dashboard's pages and form actions answer browsers
            // with HTML (the document lists them for the route check), and
            // /v1/events is a stream that never ends.
            "--include-path-regex",
            "^/v1/",
            "--exclude-path",
            "/v1/events",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "1",
            "--no-color",
        ];
        if let Some(h) = header {
            args.extend(["-H", h]);
        }
        let o = schemathesis(&args).unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let with = if header.is_some() { "with" } else { "without" };
        assert!(
            o.status.success(),
            "schemathesis {with} the operator token found failures:\n{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // "N generated, N passed": the run really exercised the API.
        let line = out
            .lines()
            .find(|l| l.contains(" generated, "))
            .unwrap_or_else(|| panic!("no case count in:\n{out}"));
        let generated: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
        assert!(
            generated >= 500,
            "only {generated} cases {with} the token: {line}"
        );
        eprintln!("schemathesis {with} the operator token: {}", line.trim());
    }
}
