//! Issue 14's `submission_rejected` on a real mesh of `govmesh serve` processes: a
//! registered node's signed vote that the state machine refuses (a compliance witness
//! is no voter) gets its 4xx, and the hub that received it records the refusal in the
//! log (`record_refusal`); every node, the trust fork included, then shows the
//! observation in `GET /v1/trust/{node}`, and `govmesh verify` replays the record.

use crate::mesh::*;
use crate::util::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Polls `path` on `url` until `pred` holds (panics after 60 s with the last answer).
fn wait_for(url: &str, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = try_get(url, path);
        if let Some(v) = &v
            && pred(v)
        {
            return v.clone();
        }
        assert!(Instant::now() < deadline, "{url}{path}: {v:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rejected(v: &Value) -> Option<u64> {
    v["received"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == "submission_rejected")
        .and_then(|r| r["count"].as_u64())
}

#[test]
fn a_refused_signed_submission_is_recorded_and_observed_on_every_node() {
    let mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 1,
        forks: 1,
    });
    let (h1, h2) = (&mesh.nodes[0], &mesh.nodes[1]);
    let witness = mesh
        .nodes
        .iter()
        .find(|n| n.node_type == "compliance_witness")
        .expect("a witness");
    let pid = propose(&h1.url, &h1.key(), 1).expect("hub-1 proposes");
    mesh.converged();
    let path = format!("/v1/trust/{}", witness.node_id);
    assert_eq!(rejected(&get(&h2.url, &path)), None);
    // The witness votes through hub 2: refused (a witness is no voter), with its
    // error as before.
    let err = fails(
        &[
            "vote",
            "--node",
            &h2.url,
            "--key",
            s(&witness.key()),
            &pid,
            "approve",
        ],
        1,
    );
    assert!(err.contains("node refused"), "{err}");
    // Hub 2 records the refusal; every node holds the observation, by hub 2.
    for n in &mesh.nodes {
        let v = wait_for(&n.url, &path, |v| rejected(v) == Some(1));
        let obs = v["recent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == "submission_rejected")
            .unwrap_or_else(|| panic!("{}: {v:#}", n.name))
            .clone();
        assert_eq!(obs["observer"], h2.node_id.as_str(), "{}: {v:#}", n.name);
        assert_eq!(obs["effect"], "negative", "{}", n.name);
        let by_h2 = v["observers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["node_id"] == h2.node_id.as_str())
            .unwrap_or_else(|| panic!("{}: {v:#}", n.name))
            .clone();
        assert_eq!(by_h2["negative"], serde_json::json!(1.0), "{}", n.name);
    }
    mesh.converged();
    // The record is one entry of the log, by hub 2, on every node.
    for n in &mesh.nodes {
        let v = get(&n.url, "/v1/log/entries?kind=record_refusal");
        assert_eq!(
            v["entries"].as_array().unwrap().len(),
            1,
            "{}: {v:#}",
            n.name
        );
        let path = format!("/v1/log/entries?kind=record_refusal&author={}", h2.node_id);
        let v = get(&n.url, &path);
        assert_eq!(
            v["entries"].as_array().unwrap().len(),
            1,
            "{}: {v:#}",
            n.name
        );
    }
    // An offline verifier replays it.
    let out = ok(&["verify", "--node", &h1.url]);
    assert!(out.contains("verified"), "{out}");

    // `govmesh trust`: every node's line, and the witness's observations in detail,
    // as the API serves them.
    let all = ok_json(&["--json", "trust", "--node", &h1.url]);
    assert_eq!(all, get(&h1.url, "/v1/trust"));
    let table = ok(&["trust", "--node", &h1.url]);
    for n in &mesh.nodes {
        assert!(table.contains(&n.node_id), "{}: {table}", n.name);
    }
    assert!(table.contains("observations "), "{table}");
    let one = ok(&["trust", "--node", &h1.url, &witness.node_id]);
    assert!(
        one.contains(&format!("node              {}", witness.node_id)),
        "{one}"
    );
    assert!(
        one.lines().any(|l| l.contains("submission_rejected")
            && l.contains("negative")
            && l.contains("x1")),
        "{one}"
    );
    assert!(one.contains(&h2.node_id), "the observer is named: {one}");
    // A malformed id is a usage error naming it, before any request.
    let e = fails(&["trust", "--node", &h1.url, "no/such"], 2);
    assert!(e.contains("\"no/such\" is not a node id"), "{e}");
}

fn count(url: &str, path: &str) -> usize {
    get(url, path)["entries"].as_array().map_or(0, Vec::len)
}

/// Issue 14's `cosignature_consistent` on a real mesh: once the log is one trust
/// epoch (1,000 entries) long, the hub that collects the seal records it in the log
/// (`record_seal`); every node shows the witness observed by that hub; and the record
/// (which grows the log and is sealed in turn) is not followed by another one.
#[test]
fn a_seal_is_recorded_once_per_epoch_and_its_witness_observed_on_every_node() {
    use govmesh_core::entry::{NodeSpec, Operation, sign_entry_at};
    use govmesh_core::keys::KeyPair;
    use govmesh_core::model::NodeType;
    let mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 1,
        forks: 1,
    });
    let h1 = &mesh.nodes[0];
    let witness = mesh
        .nodes
        .iter()
        .find(|n| n.node_type == "compliance_witness")
        .expect("a witness");
    let key = KeyPair::from_file_json(&std::fs::read_to_string(h1.key()).unwrap()).unwrap();
    assert_eq!(count(&h1.url, "/v1/log/entries?kind=record_seal"), 0);
    // Registrations until the log holds 1,000 entries.
    let client = http();
    let mut i = 0u32;
    while get(&h1.url, "/v1/status")["log_size"].as_u64().unwrap() < 1000 {
        for _ in 0..50 {
            i += 1;
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            seed[31] = 0x7e;
            let member = KeyPair::from_seed(seed);
            let env = sign_entry_at(
                &key,
                Operation::RegisterNode(NodeSpec::new(&member, NodeType::TrustFork)),
                govmesh_node::now(),
            );
            let r = client
                .post(format!("{}/v1/entries", h1.url))
                .json(&env)
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
        }
    }
    // The leader seals the grown log and records the seal; every node holds it.
    let path = format!("/v1/trust/{}", witness.node_id);
    let mut recorder = String::new();
    for n in &mesh.nodes {
        let v = wait_for(&n.url, &path, |v| {
            v["received"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["kind"] == "cosignature_consistent"))
        });
        let obs = v["recent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == "cosignature_consistent")
            .unwrap_or_else(|| panic!("{}: {v:#}", n.name))
            .clone();
        assert_eq!(obs["effect"], "positive", "{}", n.name);
        let by = obs["observer"].as_str().unwrap().to_owned();
        if recorder.is_empty() {
            recorder = by.clone();
        }
        assert_eq!(by, recorder, "{}", n.name);
    }
    let hub = mesh
        .nodes
        .iter()
        .find(|n| n.node_id == recorder)
        .expect("the recorder is a node of the mesh");
    assert_eq!(hub.node_type, "governance_hub");
    let records = format!("/v1/log/entries?kind=record_seal&author={recorder}");
    for n in &mesh.nodes {
        wait_for(&n.url, &records, |v| {
            v["entries"].as_array().is_some_and(|e| e.len() == 1)
        });
    }
    // Quiet: the seal catches up with the record entry itself, and nothing more is
    // recorded (the next record needs 1,000 more entries).
    let size = get(&hub.url, "/v1/status")["log_size"].as_u64().unwrap();
    wait_for(&hub.url, "/v1/status", |v| {
        v["integration_points"]["seal_distribution_service"]["latest_seal"]["size"]
            .as_u64()
            .is_some_and(|s| s >= size)
    });
    let (converged, _) = mesh.converged();
    assert_eq!(converged, size, "the log grew after its seal caught up");
    for n in &mesh.nodes {
        assert_eq!(
            count(&n.url, "/v1/log/entries?kind=record_seal"),
            1,
            "{}",
            n.name
        );
    }
    let out = ok(&["verify", "--node", &h1.url]);
    assert!(out.contains("verified"), "{out}");
}
