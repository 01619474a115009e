//! A log longer than one page of `/v1/log/entries` (1000 records): `verify --node` and
//! `log export` must fetch every page.

use crate::util::*;
use govmesh_core::entry::{NodeSpec, Operation, sign_entry};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;

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
        let env = sign_entry(
            &key,
            Operation::RegisterNode(NodeSpec {
                node_id: member.node_id().to_owned(),
                node_type: NodeType::TrustFork,
                public_key: member.public(),
                network_address: None,
                display_name: None,
                node_policy_capabilities: Vec::new(),
            }),
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
}
