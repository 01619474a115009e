//! Keys and secrets (issue 16): key and token files are 0600 and a node refuses to
//! load them when group or others may read them; no secret (the operator token, a
//! node's or a voter's private seed, in base64 or hex) appears in a node's log or in
//! any command's output over a whole story, with the node logging at debug level (as
//! JSON lines, `--log-format json`).

use crate::util::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

/// The secrets of a key file, as they could appear in text: the base64 seed as
/// stored, and the seed's hex.
fn seed_forms(key_file: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let b64 = v["secret_seed"].as_str().unwrap().to_owned();
    let raw = STANDARD.decode(&b64).unwrap();
    assert_eq!(raw.len(), 32);
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    vec![b64, hex.clone(), hex.to_uppercase()]
}

#[test]
fn no_secret_reaches_a_log_or_an_output_and_loose_files_are_refused() {
    let d = tmp();
    let keys: Vec<_> = (1..=3)
        .map(|i| {
            let k = d.path().join(format!("hub-{i}.key"));
            ok(&["key", "new", "--out", s(&k)]);
            assert_eq!(mode(&k), 0o600);
            k
        })
        .collect();
    let data = d.path().join("node");
    let mut said = ok(&[
        "init",
        "--data",
        s(&data),
        "--key",
        s(&keys[0]),
        "--founder",
        s(&keys[1]),
        "--founder",
        s(&keys[2]),
    ]);
    assert_eq!(mode(&data.join("node.key")), 0o600);
    assert_eq!(mode(&data.join("operator.token")), 0o600);

    let log_path = d.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut c = bin();
    c.env("GOVMESH_LOG", "debug")
        .args(["serve", "--data", s(&data), "--listen", "127.0.0.1:0"])
        .args(["--log-format", "json"])
        .stderr(Stdio::from(log));
    let node = Running::start_command(c);
    let url = node.url.clone();
    // A story: a proposal by the operator (token), votes signed locally, reads, a
    // refusal with a wrong token, verify.
    let pid = ok(&[
        "propose",
        "--node",
        &url,
        "--data",
        s(&data),
        "--clause",
        "11.1",
        "--text",
        "Verifiers name the failing entry.",
        "--rationale",
        "clearer reports",
    ]);
    said.push_str(&pid);
    let pid = pid.trim().to_owned();
    for k in &keys[1..] {
        said.push_str(&ok(&[
            "vote",
            "--node",
            &url,
            "--key",
            s(k),
            &pid,
            "approve",
        ]));
    }
    let wrong = d.path().join("wrong.token");
    std::fs::write(&wrong, "0123456789abcdef0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = govmesh(&["vote", "--node", &url, "--token", s(&wrong), &pid, "reject"]);
    assert!(!o.status.success());
    said.push_str(&stdout(&o));
    said.push_str(&stderr(&o));
    said.push_str(&ok(&["proposal", "--node", &url, "show", &pid]));
    said.push_str(&ok(&["verify", "--node", &url]));
    drop(node);

    let logged = std::fs::read_to_string(&log_path).unwrap();
    // `--log-format json`: one JSON object per line, at debug level too.
    let mut levels = std::collections::BTreeSet::new();
    for line in logged.lines().filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        levels.insert(v["level"].as_str().unwrap().to_owned());
    }
    assert!(levels.contains("DEBUG"), "no debug lines: {levels:?}");
    let token = std::fs::read_to_string(data.join("operator.token"))
        .unwrap()
        .trim()
        .to_owned();
    let mut secrets = vec![token];
    secrets.extend(seed_forms(&data.join("node.key")));
    for k in &keys {
        secrets.extend(seed_forms(k));
    }
    for secret in &secrets {
        assert!(
            !logged.contains(secret.as_str()),
            "a secret is in the node's log"
        );
        assert!(
            !said.contains(secret.as_str()),
            "a secret is in a command's output"
        );
    }

    // A key or token file that others may read is refused, naming the file and mode.
    std::fs::set_permissions(
        data.join("operator.token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let err = fails(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"], 2);
    assert!(err.contains("operator.token"), "{err}");
    assert!(err.contains("0644"), "{err}");
    std::fs::set_permissions(
        data.join("operator.token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(
        data.join("node.key"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let err = fails(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"], 2);
    assert!(err.contains("node.key"), "{err}");
    std::fs::set_permissions(&keys[1], std::fs::Permissions::from_mode(0o604)).unwrap();
    let err = fails(
        &[
            "vote",
            "--node",
            &url,
            "--key",
            s(&keys[1]),
            &pid,
            "approve",
        ],
        2,
    );
    assert!(err.contains("hub-2.key"), "{err}");
    assert!(err.contains("0604"), "{err}");
}
