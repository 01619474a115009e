//! The API's seed records — proposals and the mesh topology — validate against the
//! seed's v1 JSON Schemas (checked where the reference folder is present).

use super::util::{Client, Mesh};
use serde_json::{Value, json};
use std::path::Path;

const SEED_DIR: &str = "../../../shared/reference/promethios-v1-schemas";

fn seed_schema(file: &str) -> Option<jsonschema::Validator> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SEED_DIR);
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let schema: Value = serde_json::from_str(&text).unwrap();
    Some(
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap(),
    )
}

fn check(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} fails the seed schema: {errors:#?}\n{instance}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_and_topology_validate_against_the_seed_schemas() {
    let (Some(proposal), Some(topology)) = (
        seed_schema("governance_proposal.schema.v1.json"),
        seed_schema("governance_mesh_topology.schema.v1.json"),
    ) else {
        eprintln!("seed schemas not found at {SEED_DIR}; skipping the seed-schema check");
        return;
    };
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.4", "proposed_text": "new text", "rationale": "why",
                    "diff": [{"path": "/sync_deadline_secs", "operation": "replace", "value": 600}]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let pid = r["proposal_id"].as_str().unwrap().to_owned();
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    check(&proposal, &p, "GET /v1/proposals/{id}");
    // The records issue 12 added: a contract's creation, a local-scope proposal, a
    // declared connection.
    let (s, d) = c
        .post(
            "/v1/operator/domains",
            &json!({"name": "stewards", "admin_node_id": m.me.node_id(),
                    "member_nodes": [m.me.node_id()]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, r) = c
        .post(
            "/v1/operator/contracts",
            &json!({"contract_id": "data-retention", "label": "Retention",
                    "domain_id": d["domain_id"],
                    "clauses": [{"clause_id": "1", "title": "Scope", "text": "All.", "rules": {}}]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.2.5", "proposed_text": "Here: README only.", "rationale": "local",
                    "governance_scope": "local"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let connect = govmesh_core::entry::sign_entry_at(
        &m.me,
        govmesh_core::entry::Operation::Connect(govmesh_core::entry::ConnectOp {
            source_node_id: m.me.node_id().to_owned(),
            target_node_id: m.a.node_id().to_owned(),
            connection_type: govmesh_core::model::ConnectionType::Backup,
        }),
        govmesh_node::now(),
    );
    let (s, r) = c
        .post(
            "/v1/entries",
            &serde_json::to_value(&connect).unwrap(),
            None,
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (_, list) = c.get("/v1/proposals").await;
    let list = list["proposals"].as_array().unwrap().clone();
    assert!(list.iter().any(|p| p["create_contract"].is_object()));
    assert!(list.iter().any(|p| p["governance_scope"] == "local"));
    for p in &list {
        check(&proposal, p, "GET /v1/proposals item");
    }
    let (s, t) = c.get("/v1/topology").await;
    assert_eq!(s, 200, "{t}");
    check(&topology, &t, "GET /v1/topology");
    assert!(
        t["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["connection_type"] == "backup" && c["declared"] == true),
        "{t}"
    );
    assert!(t["previous_topology_id"].is_string(), "{t}");
    assert!(t.to_string().contains(m.me.node_id()));
    node.shutdown().await.unwrap();
}
