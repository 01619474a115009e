//! Cross-check with an independent implementation (issue 2): the contract hash the node
//! serves equals Python `rfc8785` + `hashlib.sha256` over the same record without its
//! `contract_hash` field.

use crate::util::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

fn python_hash(record: &Value) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/contract_hash.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the cross-checks (pip install -r requirements-test.txt)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(record.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(3),
        "{err} (pip install -r requirements-test.txt)"
    );
    assert!(out.status.success(), "contract_hash.py failed: {err}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
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
