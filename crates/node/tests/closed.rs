//! Closed proposals (issue 15, "Bounded memory"): adopted, rejected and withdrawn
//! proposals leave the node's in-memory state for its history table and are served
//! exactly as before, by id and in the list, also after a restart; a closed proposal
//! still refuses votes as not voting.

use crate::util::*;
use govmesh_core::entry::{Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::VoteChoice;
use serde_json::{Value, json};

async fn propose(c: &Client, token: &str, clause: &str, text: &str) -> String {
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": clause, "proposed_text": text, "rationale": text}),
            Some(token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    r["proposal_id"].as_str().unwrap().to_owned()
}

async fn vote(c: &Client, k: &KeyPair, pid: &str, choice: VoteChoice) -> (u16, Value) {
    let env = sign_entry_at(
        k,
        Operation::Vote(VoteOp::new(pid, choice)),
        govmesh_node::now(),
    );
    c.post("/v1/entries", &serde_json::to_value(&env).unwrap(), None)
        .await
}

/// Every proposal id of `/v1/proposals` (with `query`), two at a time.
async fn listed(c: &Client, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, v) = c
            .get(&format!("/v1/proposals?limit=2{query}{cursor}"))
            .await;
        assert_eq!(s, 200, "{v}");
        for p in v["proposals"].as_array().unwrap() {
            ids.push(p["proposal_id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn closed_proposals_are_served_as_before_across_a_restart() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);

    // Adopted (a and b approve), rejected (both reject), withdrawn, and one voting.
    let adopted = propose(&c, &token, "11.0", "adopted text").await;
    let rejected = propose(&c, &token, "5.4", "rejected text").await;
    let withdrawn = propose(&c, &token, "11.1", "withdrawn text").await;
    let voting = propose(&c, &token, "11.1", "voting text").await;
    for k in [&m.a, &m.b] {
        assert_eq!(vote(&c, k, &adopted, VoteChoice::Approve).await.0, 201);
        assert_eq!(vote(&c, k, &rejected, VoteChoice::Reject).await.0, 201);
    }
    let (s, r) = c
        .post(
            "/v1/operator/withdraw",
            &json!({"proposal_id": withdrawn}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let ids = [&adopted, &rejected, &withdrawn, &voting];
    let mut served = Vec::new();
    for (id, status) in ids
        .iter()
        .zip(["adopted", "rejected", "withdrawn", "voting"])
    {
        let (s, p) = c.get(&format!("/v1/proposals/{id}")).await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["status"], status, "{p}");
        served.push(p);
    }
    assert_eq!(served[0]["votes"].as_array().unwrap().len(), 2);
    assert!(served[0]["voting_policy"].is_object());
    let (_, list) = c.get("/v1/proposals?limit=1000").await;
    let newest_first: Vec<String> = ids.iter().rev().map(|s| s.to_string()).collect();
    assert_eq!(listed(&c, "").await, newest_first);

    // A closed proposal refuses votes as before (not_voting), from what the state kept.
    let (s, r) = vote(&c, &m.me, &rejected, VoteChoice::Approve).await;
    assert_eq!((s, code(&r)), (422, "not_voting"), "{r}");

    node.shutdown().await.unwrap();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    for (id, before) in ids.iter().zip(&served) {
        let (s, p) = c.get(&format!("/v1/proposals/{id}")).await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(&p, before, "{id} after the restart");
    }
    let (_, list2) = c.get("/v1/proposals?limit=1000").await;
    assert_eq!(list2, list);
    assert_eq!(listed(&c, "").await, newest_first);
    assert_eq!(
        listed(&c, "&status=withdrawn").await,
        vec![withdrawn.clone()]
    );
    assert_eq!(listed(&c, "&status=adopted").await, vec![adopted.clone()]);
    assert_eq!(
        listed(&c, "&clause=11.1").await,
        vec![voting.clone(), withdrawn.clone()]
    );
    let (s, r) = vote(&c, &m.me, &withdrawn, VoteChoice::Approve).await;
    assert_eq!((s, code(&r)), (422, "not_voting"), "{r}");
    let (s, r) = c.get("/v1/proposals/no-such-proposal").await;
    assert_eq!(s, 404, "{r}");
    node.shutdown().await.unwrap();
}
