//! Cross-checks with independent implementations (issue 2): the contract hash the node
//! serves equals Python `rfc8785` + `hashlib.sha256` over the same record without its
//! `contract_hash` field; an entry signed by Python `securesystemslib` is accepted by
//! the node and by `govmesh verify`.

use crate::util::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

fn python(script: &str, args: &[&str], stdin: &str) -> String {
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the cross-checks (pip install -r requirements-test.txt)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(3),
        "{err} (pip install -r requirements-test.txt)"
    );
    assert!(out.status.success(), "{script} failed: {err}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn python_hash(record: &Value) -> String {
    python("contract_hash.py", &[], &record.to_string())
}

/// Every revision of every contract the node serves hashes the same in Python.
pub fn contract_hashes_match_python(url: &str) {
    let list = get(url, "/v1/contracts");
    let contracts = list["contracts"].as_array().unwrap();
    assert!(!contracts.is_empty());
    for c in contracts {
        let id = c["contract_id"].as_str().unwrap();
        let head = c["revision"].as_u64().unwrap();
        for n in 1..=head {
            let r = get(url, &format!("/v1/contracts/{id}/revisions/{n}"));
            let served = r["contract_hash"].as_str().unwrap();
            assert_eq!(python_hash(&r), served, "contract {id} revision {n}");
        }
        assert_eq!(python_hash(c), c["contract_hash"].as_str().unwrap());
    }
}

#[test]
fn python_hash_notices_a_changed_record() {
    // The script hashes what it is given: a changed field changes the hash, and the
    // own-hash field is ignored.
    let a = serde_json::json!({"contract_id": "x", "revision": 1, "contract_hash": "aa"});
    let b = serde_json::json!({"contract_id": "x", "revision": 2, "contract_hash": "aa"});
    let c = serde_json::json!({"contract_id": "x", "revision": 1, "contract_hash": "bb"});
    assert_ne!(python_hash(&a), python_hash(&b));
    assert_eq!(python_hash(&a), python_hash(&c));
    // The JCS bytes written by hand: {"contract_id":"x","revision":1}
    assert_eq!(
        python_hash(&a),
        "855778df2930237439ec0f0c04a36928cf3736ac9742848248baff9d2f372e90"
    );
}

#[test]
fn an_entry_signed_by_securesystemslib_is_accepted_and_verifies() {
    let d = tmp();
    let hub = d.path().join("hub.key");
    ok(&["key", "new", "--out", s(&hub)]);
    let data = d.path().join("node");
    ok(&["init", "--data", s(&data), "--key", s(&hub)]);
    let node = Running::start(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"]);

    let member = d.path().join("member.key");
    let m = ok_json(&["key", "new", "--json", "--out", s(&member)]);
    let op = serde_json::json!({
        "type": "register_node",
        "node_id": m["node_id"],
        "node_type": "trust_fork",
        "public_key": m["public_key"],
        // Clause 5.4 replay_window_secs: the log refuses an entry signed far from now.
        "signed_at": govmesh_node::now().to_string(),
    });
    let env = python("sign_entry.py", &[s(&hub), &op.to_string()], "");
    let r = http()
        .post(format!("{}/v1/entries", node.url))
        .header("content-type", "application/json")
        .body(env.clone())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
    let shown = get(
        &node.url,
        &format!("/v1/nodes/{}", m["node_id"].as_str().unwrap()),
    );
    assert_eq!(shown["node_type"], "trust_fork");
    // The same envelope again is a replay, refused.
    let r = http()
        .post(format!("{}/v1/entries", node.url))
        .header("content-type", "application/json")
        .body(env)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v = ok_json(&["verify", "--json", "--node", &node.url]);
    assert_eq!(v["entries"], 2);
}
