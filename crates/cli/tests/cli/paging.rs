//! A log longer than one page of `/v1/log/entries` (1000 records): `verify --node` and
//! `log export` must fetch every page; the streaming export (JSON lines) verifies across
//! the verifier's batches and names a tampered entry; the commands that list follow
//! cursors (issue 15).

use crate::util::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::entry::{NodeSpec, Operation, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;
use serde_json::{Value, json};

#[test]
fn verify_and_export_cross_page_boundaries() {
    let d = tmp();
    let hub = d.path().join("hub.key");
    ok(&["key", "new", "--out", s(&hub)]);
    let data = d.path().join("node");
    ok(&["init", "--data", s(&data), "--key", s(&hub)]);
    let node = Running::start(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"]);
    let key = KeyPair::from_file_json(&std::fs::read_to_string(&hub).unwrap()).unwrap();

    // Genesis + 1004 registrations: two pages.
    let client = http();
    for i in 0..1004u32 {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        seed[31] = 0x5a;
        let member = KeyPair::from_seed(seed);
        let env = sign_entry_at(
            &key,
            Operation::RegisterNode(NodeSpec {
                node_id: member.node_id().to_owned(),
                node_type: NodeType::TrustFork,
                public_key: member.public(),
                network_address: None,
                display_name: None,
                node_policy_capabilities: Vec::new(),
            }),
            govmesh_node::now(),
        );
        let r = client
            .post(format!("{}/v1/entries", node.url))
            .json(&env)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
    }

    let v = ok_json(&["verify", "--json", "--node", &node.url]);
    assert_eq!(v["entries"], 1005);
    let export = d.path().join("log.json");
    ok(&["log", "export", "--node", &node.url, "--out", s(&export)]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1005);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["index"], i as u64);
    }
    let vf = ok_json(&["verify", "--json", s(&export)]);
    assert_eq!(vf["root"], v["root"]);

    // The streaming format: same root; the old format above still verifies.
    let lines_file = d.path().join("log.jsonl");
    ok(&[
        "log",
        "export",
        "--node",
        &node.url,
        "--out",
        s(&lines_file),
    ]);
    let text = std::fs::read_to_string(&lines_file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 1005 + 1, "header, records, leaf hashes");
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["format"], "govmesh-log-export/jsonl");
    assert_eq!(header["size"], 1005);
    for (i, l) in lines[1..=1005].iter().enumerate() {
        let r: Value = serde_json::from_str(l).unwrap();
        assert_eq!(r["index"], i as u64);
    }
    let vl = ok_json(&["verify", "--json", s(&lines_file)]);
    assert_eq!(vl["root"], v["root"]);
    assert_eq!(vl["entries"], 1005);

    // Tampered: a registration's payload in the verifier's second batch (its signature
    // no longer verifies), a record dropped, the file cut short.
    let tampered = d.path().join("tampered.jsonl");
    let k = 1000 + 1; // line of record 1000
    let mut rec: Value = serde_json::from_str(lines[k]).unwrap();
    let mut payload: Value = serde_json::from_slice(
        &STANDARD
            .decode(rec["envelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    payload["display_name"] = json!("someone else");
    rec["envelope"]["payload"] = json!(STANDARD.encode(payload.to_string()));
    let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    changed[k] = rec.to_string();
    std::fs::write(&tampered, changed.join("\n") + "\n").unwrap();
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains("entry 1000 (register_node by"), "{err}");
    assert!(err.contains("signature"), "{err}");

    let mut dropped: Vec<&str> = lines.clone();
    dropped.remove(600 + 1);
    std::fs::write(&tampered, dropped.join("\n") + "\n").unwrap();
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains("entry 600: missing"), "{err}");

    std::fs::write(&tampered, lines[..700].join("\n") + "\n").unwrap();
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains("ends after 699 of the 1005 entries"), "{err}");

    // `node list` follows the cursors: 1005 nodes, each once.
    let all = ok(&["node", "list", "--node", &node.url]);
    let ids: Vec<&str> = all
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids.len(), 1005);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "by node id, each once");
    // One page at a time with --limit and --cursor.
    let o = govmesh(&["node", "list", "--node", &node.url, "--limit", "400"]);
    assert!(o.status.success());
    let page1 = stdout(&o);
    assert_eq!(page1.lines().count(), 400);
    let cursor = stderr(&o)
        .lines()
        .find_map(|l| l.strip_prefix("next cursor: "))
        .expect("a next cursor")
        .to_owned();
    let o = govmesh(&[
        "node", "list", "--node", &node.url, "--limit", "1000", "--cursor", &cursor,
    ]);
    assert!(o.status.success());
    let page2 = stdout(&o);
    assert_eq!(page2.lines().count(), 605);
    assert!(!stderr(&o).contains("next cursor"));
    let paged: Vec<&str> = page1
        .lines()
        .chain(page2.lines())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(paged, ids);
    let forks = ok(&["node", "list", "--node", &node.url, "--type", "trust_fork"]);
    assert_eq!(forks.lines().count(), 1004);
    let err = fails(
        &["node", "list", "--node", &node.url, "--cursor", "nonsense"],
        1,
    );
    assert!(err.contains("cursor"), "{err}");
    let regs = ok(&[
        "log",
        "entries",
        "--node",
        &node.url,
        "--kind",
        "register_node",
    ]);
    assert_eq!(regs.lines().count(), 1004);
}
