//! The close loop inside a live server: once a proposal's voting period has ended, the
//! node itself submits a signed `close` entry and the tally decides with the votes
//! there are. Clause 5.5 first lowers its minimum voting period (a change to 5.5, so
//! all three hubs approve) so that the test needs to wait only about a second.

use super::util::{Client, Mesh};
use govmesh_core::entry::{Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::VoteChoice;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn vote(k: &KeyPair, proposal_id: &str, choice: VoteChoice) -> Value {
    serde_json::to_value(sign_entry_at(
        k,
        Operation::Vote(VoteOp {
            proposal_id: proposal_id.to_owned(),
            choice,
            reason: None,
            sequence: 0,
        }),
        govmesh_node::now(),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_closes_a_proposal_whose_period_ended() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);

    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({
                "clause": "5.5",
                "proposed_text": "Voting periods may be as short as one second.",
                "rationale": "Fast test meshes.",
                "diff": [{"op": "replace", "path": "/voting_period_bounds/min_secs", "value": 1}],
            }),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let pid = r["proposal_id"].as_str().unwrap().to_owned();
    for k in [&m.a, &m.b] {
        let (s, r) = c
            .post("/v1/entries", &vote(k, &pid, VoteChoice::Approve), None)
            .await;
        assert_eq!(s, 201, "{r}");
    }
    let (s, r) = c
        .post(
            "/v1/operator/vote",
            &json!({"proposal_id": pid, "choice": "approve"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["status"], "adopted", "{p}");

    // One approve out of three eligible: quorum (0.334) is not reached, and the
    // outcome is open until the period ends.
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({
                "clause": "11.1",
                "proposed_text": "Verifiers report every failure, not only the first.",
                "rationale": "More useful reports.",
                "voting_period_secs": 1,
            }),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let pid = r["proposal_id"].as_str().unwrap().to_owned();
    let (s, r) = c
        .post("/v1/entries", &vote(&m.a, &pid, VoteChoice::Approve), None)
        .await;
    assert_eq!(s, 201, "{r}");
    let size_before_close = c.log_size().await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let p = loop {
        let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
        if p["status"] != "voting" || Instant::now() > deadline {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(p["status"], "rejected", "{p}");
    assert_eq!(p["voting_result"]["quorum_reached"], false, "{p}");
    assert!(
        p["voting_result"]["reason"]
            .as_str()
            .unwrap()
            .contains("quorum"),
        "{p}"
    );

    // Exactly one close entry, signed by this node.
    assert_eq!(c.log_size().await, size_before_close + 1);
    let (_, e) = c
        .get(&format!("/v1/log/entries?start={size_before_close}"))
        .await;
    let rec = &e["entries"][0];
    let payload = base64_decode(rec["envelope"]["payload"].as_str().unwrap());
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["type"], "close", "{payload}");
    assert_eq!(payload["proposal_id"], pid.as_str());
    assert_eq!(payload["author"], m.me.node_id());
    node.shutdown().await.unwrap();
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
