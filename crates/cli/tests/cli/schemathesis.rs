//! Schemathesis (PyPI, property-based testing from the OpenAPI document) against a
//! live node's `/v1/openapi.json`, without and with the operator token: no server
//! error, every response's status, content type and body match the document, and
//! every request the document calls valid is accepted (`positive_data_acceptance`),
//! for every `/v1/` operation but the `/v1/events` stream.
//!
//! What the server checks beyond what OpenAPI can state is excluded from the last
//! check narrowly, operation by operation, in [`POSITIVE_DATA_EXCEPTIONS`]: a
//! schema-valid request refused there is refused for a reason the document states in
//! words but cannot express as a schema.
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

/// `schemathesis.toml` operations whose schema-valid requests the node may still
/// refuse, each with the statuses it may refuse them with and why no schema says it.
/// Everywhere else a schema-valid request must get a 2xx (or 401/403/404/409, which
/// Schemathesis allows for credentials and resources that do not exist).
const POSITIVE_DATA_EXCEPTIONS: &[(&str, &str, &[&str], &str)] = &[
    (
        "POST",
        "/v1/entries",
        &["422"],
        "an entry must carry a valid Ed25519 signature by a registered key and pass the \
         state machine's rules; no schema can hold a signature check",
    ),
    (
        "POST",
        "^/v1/operator/",
        &["422"],
        "an operator action is signed as this node and refused by the state machine when \
         the log says no (unknown proposal, clause or domain, a node without the privilege): \
         state, not shape",
    ),
    (
        "GET",
        "^/v1/log/(entries|proof/inclusion|proof/consistency)$",
        &["400"],
        "a bound between two parameters (start <= end, index < size, from <= to) or \
         against the log's current size; OpenAPI has no cross-parameter constraints",
    ),
];

/// The configuration file with [`POSITIVE_DATA_EXCEPTIONS`].
fn config() -> String {
    let mut out = String::new();
    for (method, path, statuses, _why) in POSITIVE_DATA_EXCEPTIONS {
        let mut allowed = vec!["2xx", "401", "403", "404", "409"];
        allowed.extend(statuses.iter());
        let list: Vec<String> = allowed.iter().map(|s| format!("{s:?}")).collect();
        out.push_str(&format!(
            "[[operations]]\ninclude-method = {method:?}\ninclude-path-regex = {path:?}\n\
             checks.positive_data_acceptance.expected-statuses = [{}]\n\n",
            list.join(", ")
        ));
    }
    out
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
    let config_file = dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, config()).unwrap();
    for header in [None, Some(auth.as_str())] {
        let mut args = vec![
            "--config-file",
            s(&config_file),
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
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance",
            "--max-examples",
            "25",
            // One worker: with two, Hypothesis describing a strategy's lambda in two
            // threads at once tripped CPython 3.11's parser ("AST constructor recursion
            // depth mismatch", a runtime error of the tool, not of the node).
            "--workers",
            "1",
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
