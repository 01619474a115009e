//! Hostile and malformed input: to `POST /v1/entries` through the router (no socket),
//! and to every role of a served mesh over real sockets (entries, operator and peer
//! endpoints). Every case is a 4xx with a JSON error body naming the problem, never a
//! 500 or a panic, and nothing is appended.

use super::peers::{PEER_POSTS, Trio};
use super::util::{Client, Mesh, key};
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::dsse::{ENTRY_PAYLOAD_TYPE, Envelope};
use govmesh_node::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// An envelope over `payload`, correctly signed by founder `a`.
fn signed(m: &Mesh, payload: &str) -> Value {
    serde_json::to_value(Envelope::sign(ENTRY_PAYLOAD_TYPE, payload.as_bytes(), &m.a)).unwrap()
}

#[tokio::test]
async fn hostile_entries_get_4xx_json_and_change_nothing() {
    let m = Mesh::found();
    let app = AppState::open(m.dir.path(), None).unwrap();
    let author = m.a.node_id().to_owned();
    let sig_ok = signed(&m, "{}")["signatures"].clone();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        b"\xff\xfe\x00garbage".to_vec(),
        b"{\"payloadType\": 1e999999}".to_vec(),
        b"{\"n\": 123456789012345678901234567890}".to_vec(),
        b"{\"n\": 9007199254740993}".to_vec(),
        b"null".to_vec(),
        b"\"just a string\"".to_vec(),
        json!({"payloadType": ENTRY_PAYLOAD_TYPE, "payload": "%%%not base64", "signatures": sig_ok})
            .to_string()
            .into_bytes(),
        json!({"payloadType": ENTRY_PAYLOAD_TYPE, "payload": b64("{}"), "signatures": []})
            .to_string()
            .into_bytes(),
        json!({"payloadType": ENTRY_PAYLOAD_TYPE, "payload": b64("{}"),
               "signatures": [{"keyid": "zz", "sig": "!!"}]})
        .to_string()
        .into_bytes(),
        json!({"payloadType": "text/plain", "payload": b64("{}"), "signatures": sig_ok})
            .to_string()
            .into_bytes(),
        json!({"payloadType": ENTRY_PAYLOAD_TYPE, "payload": b64("{}"), "signatures": sig_ok,
               "extra": true})
        .to_string()
        .into_bytes(),
    ];
    let mut envelopes: Vec<Value> = [
        "not json at all".to_owned(),
        "{}".to_owned(),
        json!({"author": author, "type": "no_such_operation"}).to_string(),
        json!({"author": author, "type": "vote"}).to_string(),
        json!({"author": author, "type": "vote", "proposal_id": "p", "choice": "maybe"})
            .to_string(),
        json!({"author": author, "type": "vote", "proposal_id": "p", "choice": "approve"})
            .to_string(),
        json!({"author": "someone-else", "type": "withdraw", "proposal_id": "p"}).to_string(),
        json!({"author": author, "type": "genesis", "mesh_name": "x"}).to_string(),
        json!({"author": author, "type": "close", "proposal_id": "p", "n": 1e308}).to_string(),
    ]
    .iter()
    .map(|p| signed(&m, p))
    .collect();
    // Signed by a key that is not a's, but claiming a's key id.
    let mut wrong_key =
        serde_json::to_value(Envelope::sign(ENTRY_PAYLOAD_TYPE, b"{}", &key(77))).unwrap();
    wrong_key["signatures"][0]["keyid"] = json!(m.a.keyid());
    envelopes.push(wrong_key);

    let all = bodies
        .into_iter()
        .chain(envelopes.iter().map(|e| e.to_string().into_bytes()));
    for (i, body) in all.enumerate() {
        let req = Request::post("/v1/entries")
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
        let resp = router(app.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("case {i}: {status} body is not JSON ({e}): {bytes:?}"));
        let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
        assert!(status.is_client_error(), "case {i} {shown}: {status} {v}");
        assert!(v["error"]["code"].is_string(), "case {i}: {v}");
        assert!(
            !v["error"]["message"].as_str().unwrap().is_empty(),
            "case {i}: {v}"
        );
    }
    assert_eq!(app.ledger().lock().await.tree().size(), 1);
}

/// The log records of a served node, as served (`/v1/log/entries`).
async fn records(c: &Client) -> Vec<Value> {
    let (s, v) = c.get("/v1/log/entries?start=0").await;
    assert_eq!(s, 200, "{v}");
    v["entries"].as_array().unwrap().clone()
}

fn record_type(r: &Value) -> String {
    let p = STANDARD
        .decode(r["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    let p: Value = serde_json::from_slice(&p).unwrap();
    p["type"].as_str().unwrap().to_owned()
}

/// Issue 16's hostile list against a hub, a witness and a fork over real sockets:
/// deeply nested JSON, invalid UTF-8, wrong types, zero and a hundred signatures, an
/// unregistered signer, a suspended signer, a signature by another key under a
/// member's key id, a stale base, a vote on a withdrawn proposal, operator calls without or with a wrong token, and peer calls
/// with junk from strangers. Every answer is a 4xx with a JSON error naming the
/// problem; afterwards every node's log is byte for byte what it was, apart from the
/// nodes' own `ack_sync` entries that their acknowledgement task adds meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_to_every_role_are_refused_and_change_no_log() {
    let t = Trio::start().await;
    let hub = &t.hub_key;
    let hc = Client::new(&t.nodes[0].url);
    let token = govmesh_node::load_token(t.dirs[0].path()).unwrap();
    // A proposal, withdrawn: votes on it are votes on a closed proposal.
    let (s, r) = hc
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.1", "proposed_text": "t", "rationale": "r"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let pid = r["proposal_id"].as_str().unwrap().to_owned();
    let (s, r) = hc
        .post(
            "/v1/operator/withdraw",
            &json!({"proposal_id": pid}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");

    // A node registered, then suspended by the hub: its entries are refused.
    let suspended = key(78);
    let (s, r) = hc
        .post(
            "/v1/operator/nodes",
            &json!({"node_type": "trust_fork", "public_key": suspended.public().to_base64()}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let suspend = json!({"author": hub.node_id(), "type": "update_node",
                         "signed_at": govmesh_node::now().to_string(),
                         "node_id": suspended.node_id(), "status": "suspended"})
    .to_string();
    let env =
        serde_json::to_value(Envelope::sign(ENTRY_PAYLOAD_TYPE, suspend.as_bytes(), hub)).unwrap();
    let (s, r) = hc.post("/v1/entries", &env, None).await;
    assert_eq!(s, 201, "{r}");
    let vote = |author: &str| {
        json!({"author": author, "type": "vote", "proposal_id": pid, "choice": "approve",
               "signed_at": govmesh_node::now().to_string()})
        .to_string()
    };
    let sign = |k: &govmesh_core::keys::KeyPair, payload: &str| {
        serde_json::to_value(Envelope::sign(ENTRY_PAYLOAD_TYPE, payload.as_bytes(), k)).unwrap()
    };
    let good = sign(hub, &vote(hub.node_id()));
    let mut hundred = good.clone();
    hundred["signatures"] = json!(vec![good["signatures"][0].clone(); 100]);
    let mut zero = good.clone();
    zero["signatures"] = json!([]);
    let stranger = key(77);
    let mut forged = sign(&stranger, &vote(hub.node_id()));
    forged["signatures"][0]["keyid"] = good["signatures"][0]["keyid"].clone();
    let mut wrong_type = good.clone();
    wrong_type["payload"] = json!(12345);
    let deep = format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    // The operator's proposal again, under a new id, written against another hash of
    // the clause: a stale base.
    let proposed = records(&hc)
        .await
        .into_iter()
        .find(|r| record_type(r) == "propose")
        .unwrap();
    let mut stale: Value = serde_json::from_slice(
        &STANDARD
            .decode(proposed["envelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    stale["proposal_id"] = json!(uuid::Uuid::new_v4().to_string());
    stale["base_clause_hash"] = json!("00".repeat(32));
    let stale = sign(hub, &stale.to_string());
    let entries: Vec<(&str, Vec<u8>)> = vec![
        ("stale base", stale.to_string().into_bytes()),
        ("deep nesting", deep.into_bytes()),
        ("invalid UTF-8", b"{\"payload\": \"\xff\xfe\"}".to_vec()),
        ("wrong type", wrong_type.to_string().into_bytes()),
        ("zero signatures", zero.to_string().into_bytes()),
        ("a hundred signatures", hundred.to_string().into_bytes()),
        (
            "unregistered signer",
            sign(&stranger, &vote(stranger.node_id()))
                .to_string()
                .into_bytes(),
        ),
        ("forged key id", forged.to_string().into_bytes()),
        (
            "suspended signer",
            sign(&suspended, &vote(suspended.node_id()))
                .to_string()
                .into_bytes(),
        ),
        (
            "vote on a withdrawn proposal",
            good.to_string().into_bytes(),
        ),
    ];

    // Settle: every node holds the hub's log as it is now (replication), then
    // snapshot each.
    let hub_size = records(&hc).await.len() as u64;
    let mut before = Vec::new();
    for n in &t.nodes {
        let c = Client::new(&n.url);
        let t0 = std::time::Instant::now();
        while c.log_size().await < hub_size {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(60),
                "{} behind",
                n.url
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        before.push(records(&c).await);
    }

    for (ni, n) in t.nodes.iter().enumerate() {
        let c = Client::new(&n.url);
        let node_token = govmesh_node::load_token(t.dirs[ni].path()).unwrap();
        let mut cases: Vec<(String, &str, Vec<u8>, Option<String>)> = entries
            .iter()
            .map(|(what, b)| (what.to_string(), "/v1/entries", b.clone(), None))
            .collect();
        for path in ["/v1/operator/vote", "/v1/operator/propose"] {
            let body = json!({"proposal_id": pid, "choice": "approve"}).to_string();
            cases.push((
                format!("{path} without a token"),
                path,
                body.clone().into_bytes(),
                None,
            ));
            cases.push((
                format!("{path} with a wrong token"),
                path,
                body.into_bytes(),
                Some("0123456789abcdef0123456789abcdef".into()),
            ));
        }
        cases.push((
            "operator vote on a withdrawn proposal".into(),
            "/v1/operator/vote",
            json!({"proposal_id": pid, "choice": "approve"})
                .to_string()
                .into_bytes(),
            Some(node_token.clone()),
        ));
        cases.push((
            "operator vote with an unknown field".into(),
            "/v1/operator/vote",
            json!({"proposal_id": pid, "choice": "approve", "x": 1})
                .to_string()
                .into_bytes(),
            Some(node_token.clone()),
        ));
        for path in PEER_POSTS {
            cases.push((
                format!("junk to {path}"),
                *path,
                b"\x00junk{{{".to_vec(),
                None,
            ));
        }
        cases.push((
            "junk checkpoint".into(),
            "/v1/witness/add-checkpoint",
            b"old 0\n\nnot a checkpoint\xff".to_vec(),
            None,
        ));
        for (what, path, body, tok) in cases {
            let mut req = c
                .http
                .post(format!("{}{path}", n.url))
                .header("content-type", "application/json")
                .body(body);
            if let Some(tok) = &tok {
                req = req.bearer_auth(tok);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("node {ni}, {what}: {status} not JSON ({e}): {text}"));
            assert!(
                (400..500).contains(&status),
                "node {ni}, {what}: {status} {v}"
            );
            let code = v["error"]["code"].as_str().unwrap_or_default();
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(
                !code.is_empty() && !message.is_empty(),
                "node {ni}, {what}: {v}"
            );
            // The hub may vote; a witness's or a fork's operator vote is refused
            // earlier (its role has no vote privilege).
            if what == "vote on a withdrawn proposal"
                || (ni == 0 && what == "operator vote on a withdrawn proposal")
            {
                assert_eq!(code, "not_voting", "node {ni}, {what}: {v}");
            }
            if what.contains("unregistered") {
                assert_eq!(code, "unknown_signer", "node {ni}, {what}: {v}");
            }
            if what == "stale base" {
                assert_eq!(code, "stale_base", "node {ni}, {what}: {v}");
            }
            if what.contains("suspended") {
                assert_eq!(code, "not_active", "node {ni}, {what}: {v}");
            }
        }
    }

    for (ni, n) in t.nodes.iter().enumerate() {
        let after = records(&Client::new(&n.url)).await;
        assert!(after.len() >= before[ni].len());
        assert_eq!(
            &after[..before[ni].len()],
            &before[ni][..],
            "node {ni}'s log changed"
        );
        // Acks arrive in the background; so do the records of refused submissions
        // signed by registered nodes with a fresh signed_at (`record_refusal`,
        // state/refusals.rs), e.g. the suspended signer's vote or a witness's vote
        // through its operator endpoint: only refusals the hostile requests earn.
        for r in &after[before[ni].len()..] {
            assert!(
                ["ack_sync", "record_refusal"].contains(&record_type(r).as_str()),
                "node {ni} appended {r}"
            );
            if record_type(r) == "record_refusal" {
                let payload: Value = serde_json::from_slice(
                    &STANDARD
                        .decode(r["envelope"]["payload"].as_str().unwrap())
                        .unwrap(),
                )
                .unwrap();
                assert!(
                    ["not_active", "not_privileged", "not_voting", "stale_base"]
                        .contains(&payload["code"].as_str().unwrap_or_default()),
                    "node {ni} recorded a refusal no hostile request here earns: {r}"
                );
            }
        }
    }
    t.stop().await;
}
