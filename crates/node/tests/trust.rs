//! Trust over HTTP on a real server: a three-hub mesh where the node's operator
//! proposes and the other two hubs vote; `GET /v1/trust` and `GET /v1/trust/{node}`
//! serve the scores the state machine computed at the adoption, with the observations
//! behind them; `/v1/status` reports the seed's integration points; the topology
//! record's connections carry the target's score; bad ids are JSON 404s.

use super::util::{Client, Mesh, code};
use govmesh_core::entry::{Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::VoteChoice;
use serde_json::{Value, json};

fn vote(k: &KeyPair, proposal_id: &str) -> Value {
    serde_json::to_value(sign_entry_at(
        k,
        Operation::Vote(VoteOp {
            proposal_id: proposal_id.to_owned(),
            choice: VoteChoice::Approve,
            reason: None,
            sequence: 0,
        }),
        govmesh_node::now(),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_scores_and_their_observations_are_served() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (me, a, b) = (
        m.me.node_id().to_owned(),
        m.a.node_id().to_owned(),
        m.b.node_id().to_owned(),
    );

    // Before any observation: the genesis computation, p uniform over the hubs.
    let (s, t) = c.get("/v1/trust").await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["last_computation"]["cause"], "genesis", "{t}");
    assert_eq!(t["last_computation"]["index"], 0);
    assert_eq!(t["observations"], 0);
    assert_eq!(t["score_scale"], 1u64 << 40);
    assert_eq!(t["model"]["alpha"], json!(0.15), "{t}");
    let fixed: u64 = t["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["score_fixed"].as_u64().unwrap())
        .sum();
    assert_eq!(fixed, 1u64 << 40);

    // The operator's hub proposes; the two others approve (adopted at the second).
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({
                "clause": "11.1",
                "proposed_text": "Verifiers report every failure, not only the first.",
                "rationale": "More useful reports.",
            }),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let pid = r["proposal_id"].as_str().unwrap().to_owned();
    for k in [&m.a, &m.b] {
        let (s, r) = c.post("/v1/entries", &vote(k, &pid), None).await;
        assert_eq!(s, 201, "{r}");
    }
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["status"], "adopted", "{p}");

    // The node acknowledges the new revision (ack_sync) on its own, in time: the
    // revision's source (the author of the adopting vote, b) observes it. That third
    // observation comes after the revision's computation, so it is pending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, mine) = c.get(&format!("/v1/trust/{me}")).await;
        let acked = mine["received"].as_array().is_some_and(|r| {
            r.iter()
                .any(|k| k["kind"] == "sync_ack_timely" && k["count"] == 1)
        });
        if acked {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node's timely ack of revision 2 within 30 s: {mine}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (s, t) = c.get("/v1/trust").await;
    assert_eq!(s, 200, "{t}");
    let last = &t["last_computation"];
    assert_eq!(last["cause"], "revision", "{t}");
    assert_eq!(last["revision"], 2);
    assert_eq!(last["converged"], true);
    assert!(last["iterations"].as_u64().unwrap() >= 1);
    assert_eq!(t["observations"], 3, "{t}");
    assert_eq!(t["pending_observations"], 1, "{t}");
    // The voters rank above the proposer, who only gets the pre-trusted share.
    let scores = t["scores"].as_array().unwrap();
    let rank_of = |id: &str| {
        scores.iter().find(|l| l["node_id"] == id).unwrap()["rank"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rank_of(&me), 3, "{t}");
    assert!(rank_of(&a) <= 2 && rank_of(&b) <= 2);
    assert_eq!(t["distribution"]["nodes"], 3);
    assert_eq!(t["computations"].as_array().unwrap().len(), 2);

    let (s, n) = c.get(&format!("/v1/trust/{a}")).await;
    assert_eq!(s, 200, "{n}");
    assert_eq!(n["node_id"], a.as_str());
    assert_eq!(n["of"], 3);
    assert_eq!(n["received"][0]["kind"], "vote_cast", "{n}");
    assert_eq!(n["received"][0]["count"], 1);
    assert_eq!(n["observers"][0]["node_id"], me.as_str(), "{n}");
    assert_eq!(n["observers"][0]["local_trust"], json!(1.0));
    assert_eq!(n["recent"][0]["observer"], me.as_str());
    let history = n["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{n}");
    assert_eq!(history[0]["cause"], "genesis");
    assert!(history[1]["score_fixed"].as_u64() > history[0]["score_fixed"].as_u64());
    let (_, mine) = c.get(&format!("/v1/trust/{me}")).await;
    assert_eq!(mine["observed"].as_array().unwrap().len(), 2, "{mine}");

    // Unknown and malformed ids: JSON 404s naming the id.
    let (s, e) = c
        .get("/v1/trust/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!((s, code(&e)), (404, "not_found"), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("00000000"));
    let (s, e) = c.get("/v1/trust/%20").await;
    assert_eq!(s, 404, "{e}");

    // Status: the seed's five integration points, the existing fields kept.
    let (s, st) = c.get("/v1/status").await;
    assert_eq!(s, 200, "{st}");
    assert!(st["log_size"].as_u64().unwrap() >= 4);
    let ip = &st["integration_points"];
    assert_eq!(
        ip["verification_node_manager"]["registered_nodes"], 3,
        "{ip}"
    );
    assert_eq!(ip["verification_node_manager"]["by_status"]["active"], 3);
    let cs = &ip["consensus_service"];
    assert_eq!(cs["council_members"].as_array().unwrap().len(), 1, "{cs}");
    assert_eq!(cs["leader"]["node_id"], me.as_str(), "{cs}");
    assert!(cs["term"].as_u64().unwrap() >= 1);
    assert!(ip["network_topology_manager"]["overall_status"].is_string());
    assert!(ip["seal_distribution_service"].is_object());
    let ta = &ip["trust_aggregation_service"];
    assert_eq!(ta["last_computation"]["cause"], "revision", "{ta}");
    assert_eq!(ta["distribution"]["nodes"], 3);
    assert_eq!(ta["top"].as_array().unwrap().len(), 3);
}
