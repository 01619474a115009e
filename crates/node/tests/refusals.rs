//! Refusals over a real socket: each bad submission gets its JSON error and status,
//! and the log does not grow.

use super::util::{Client, Mesh, code, key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::entry::{Operation, ProposeOp, VoteOp, sign_entry, sign_entry_at};
use govmesh_core::model::{Changes, VoteChoice};
use serde_json::{Value, json};

async fn open_proposal(c: &Client, token: &str) -> String {
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.1", "proposed_text": "t", "rationale": "r"}),
            Some(token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    r["proposal_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_are_refused_and_nothing_is_stored() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = open_proposal(&c, &token).await;
    let size = c.log_size().await;
    assert_eq!(size, 2);

    let vote = |k: &govmesh_core::keys::KeyPair| {
        sign_entry_at(
            k,
            Operation::Vote(VoteOp {
                proposal_id: pid.clone(),
                choice: VoteChoice::Approve,
                reason: None,
                sequence: 0,
            }),
            govmesh_node::now(),
        )
    };

    // A replayed entry.
    let env = serde_json::to_value(vote(&m.a)).unwrap();
    let (s, r) = c.post("/v1/entries", &env, None).await;
    assert_eq!(s, 201, "{r}");
    let size = size + 1;
    let (s, r) = c.post("/v1/entries", &env, None).await;
    assert_eq!((s, code(&r)), (409, "replay"), "{r}");
    assert_eq!(c.log_size().await, size);

    // Clause 5.4 replay_window_secs (a day in the Codex): b's vote signed two days ago,
    // or a day from now, or with no signing time, is refused as stale.
    let b_vote = || {
        Operation::Vote(VoteOp {
            proposal_id: pid.clone(),
            choice: VoteChoice::Approve,
            reason: None,
            sequence: 0,
        })
    };
    let now = govmesh_node::now();
    for signed_at in [
        govmesh_core::Timestamp(now.millis() - 2 * 86_400_000),
        now.plus_secs(86_400 + 600),
    ] {
        let env = serde_json::to_value(sign_entry_at(&m.b, b_vote(), signed_at)).unwrap();
        let (s, r) = c.post("/v1/entries", &env, None).await;
        assert_eq!((s, code(&r)), (422, "stale"), "{r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&signed_at.to_string())
                && message.contains("more than replay_window_secs (86400 s) from the log time"),
            "{r}"
        );
        assert_eq!(c.log_size().await, size);
    }
    let env = serde_json::to_value(sign_entry(&m.b, b_vote())).unwrap();
    let (s, r) = c.post("/v1/entries", &env, None).await;
    assert_eq!((s, code(&r)), (422, "stale"), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("carries no signed_at"),
        "{r}"
    );
    assert_eq!(c.log_size().await, size);
    // The status shows the window and what replay detection remembers: the genesis
    // (checked before any window) and every entry since, all within the day.
    let (_, st) = c.get("/v1/status").await;
    assert_eq!(
        st["replay_detection"],
        json!({"replay_window_secs": 86_400, "remembered_before_window": 1, "remembered_in_window": size - 1}),
        "{st}"
    );

    // A forged signature: b's vote with one bit of the signature flipped.
    let mut forged = vote(&m.b);
    let mut sig = STANDARD.decode(&forged.signatures[0].sig).unwrap();
    sig[10] ^= 1;
    forged.signatures[0].sig = STANDARD.encode(sig);
    let (s, r) = c
        .post("/v1/entries", &serde_json::to_value(&forged).unwrap(), None)
        .await;
    assert_eq!((s, code(&r)), (422, "bad_signature"), "{r}");
    assert_eq!(c.log_size().await, size);

    // A payload changed after signing (b's vote turned into a veto).
    let mut altered = vote(&m.b);
    let payload = STANDARD.decode(&altered.payload).unwrap();
    let text = String::from_utf8(payload)
        .unwrap()
        .replace("approve", "veto");
    altered.payload = STANDARD.encode(text);
    let (s, r) = c
        .post(
            "/v1/entries",
            &serde_json::to_value(&altered).unwrap(),
            None,
        )
        .await;
    assert_eq!((s, code(&r)), (422, "bad_signature"), "{r}");
    assert_eq!(c.log_size().await, size);

    // An unknown signer: a well-formed entry by a key nobody registered.
    let stranger = key(99);
    let (s, r) = c
        .post(
            "/v1/entries",
            &serde_json::to_value(vote(&stranger)).unwrap(),
            None,
        )
        .await;
    assert_eq!((s, code(&r)), (422, "unknown_signer"), "{r}");
    assert_eq!(c.log_size().await, size);

    // A proposal against a clause hash that is not the clause's: stale_base. (Signed
    // with this node's own key: a hub does not record its own refused submission in
    // the log, so nothing at all is stored.)
    let stale = sign_entry_at(
        &m.me,
        Operation::Propose(ProposeOp {
            proposal_id: uuid::Uuid::new_v4().to_string(),
            contract_id: "codex".into(),
            target_contract_clause: "11.0".into(),
            base_clause_hash: govmesh_core::Digest::sha256(b"not the clause"),
            domain_id: None,
            rationale: "r".into(),
            changes: Changes {
                current_text: "x".into(),
                proposed_text: "y".into(),
                diff: vec![],
            },
            voting_period_secs: None,
            create_contract: None,
            governance_scope: None,
            local_node: None,
            conflict_resolution: None,
            expedited: false,
            restore_rights: None,
        }),
        govmesh_node::now(),
    );
    let (s, r) = c
        .post("/v1/entries", &serde_json::to_value(stale).unwrap(), None)
        .await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(code(&r), "stale_base", "{r}");
    assert_eq!(c.log_size().await, size);

    // Malformed JSON, JSON of the wrong shape, duplicate keys, wrong content type.
    let cases: &[(&str, &[u8], u16, &str)] = &[
        ("application/json", b"{not json", 400, "malformed_json"),
        ("application/json", b"", 400, "malformed_json"),
        ("application/json", b"[1, 2]", 422, "invalid_body"),
        (
            "application/json",
            br#"{"payloadType":"a","payloadType":"b","payload":"","signatures":[]}"#,
            400,
            "malformed_json",
        ),
        ("text/plain", b"{}", 415, "unsupported_media_type"),
    ];
    for (ctype, body, status, want) in cases {
        let (s, r) = c.post_raw("/v1/entries", ctype, body.to_vec(), None).await;
        assert_eq!((s, code(&r)), (*status, *want), "{ctype} {body:?}: {r}");
    }
    assert_eq!(c.log_size().await, size);

    // A 2 MiB body. The answer closes the connection (the rest of the body is
    // unread), so the same client's next request goes on a new one.
    let big = format!("{{\"payload\":\"{}\"}}", "A".repeat(2 << 20));
    let resp = c
        .http
        .post(format!("{}/v1/entries", c.url))
        .header("content-type", "application/json")
        .body(big.into_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let connection = resp.headers().get("connection").cloned();
    let r: Value = resp.json().await.unwrap();
    assert_eq!(code(&r), "body_too_large", "{r}");
    assert_eq!(
        connection.as_ref().and_then(|v| v.to_str().ok()),
        Some("close"),
        "{r}"
    );
    assert_eq!(c.log_size().await, size);

    // Operator endpoints without the token, with a wrong one, with a malformed header.
    let body = json!({"proposal_id": pid, "choice": "approve"});
    let (s, r) = c.post("/v1/operator/vote", &body, None).await;
    assert_eq!((s, code(&r)), (401, "unauthorized"), "{r}");
    let (s, r) = c.post("/v1/operator/vote", &body, Some("0000")).await;
    assert_eq!((s, code(&r)), (401, "unauthorized"), "{r}");
    let resp = c
        .http
        .post(format!("{}/v1/operator/vote", c.url))
        .header("authorization", format!("Basic {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(c.log_size().await, size);

    // Operator bodies with the wrong shape.
    for bad in [
        json!({"proposal_id": pid, "choice": "maybe"}),
        json!({"proposal_id": pid}),
        json!({"proposal_id": pid, "choice": "approve", "extra": 1}),
        // Issue 16: `reason` is a string in the OpenAPI document; a null was accepted.
        json!({"proposal_id": pid, "choice": "approve", "reason": null}),
    ] {
        let (s, r) = c.post("/v1/operator/vote", &bad, Some(&token)).await;
        assert_eq!((s, code(&r)), (422, "invalid_body"), "{bad}: {r}");
    }
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "99.9", "proposed_text": "t", "rationale": "r"}),
            Some(&token),
        )
        .await;
    assert_eq!((s, code(&r)), (422, "unknown_clause"), "{r}");
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.0", "proposed_text": "t", "rationale": "r",
                    "diff": [{"op": "move", "from": "/a", "path": "/b"}]}),
            Some(&token),
        )
        .await;
    assert_eq!((s, code(&r)), (422, "invalid_body"), "{r}");
    assert_eq!(c.log_size().await, size);

    // Bad query and path parameters.
    for path in [
        "/v1/log/entries?start=abc",
        "/v1/log/entries?start=-1",
        "/v1/log/proof/inclusion",
        "/v1/log/proof/inclusion?index=0&size=999",
        "/v1/log/proof/inclusion?index=5&size=2",
        "/v1/log/proof/consistency?from=0",
        "/v1/log/proof/consistency?from=3&to=2",
        "/v1/proposals?status=pending",
        "/v1/contracts/codex/revisions/two",
        "/v1/contracts/codex/diff?from=x",
    ] {
        let (s, r) = c.get(path).await;
        assert_eq!(s, 400, "{path}: {r}");
        assert!(!r["error"]["message"].as_str().unwrap().is_empty());
    }

    // Unknown things: JSON 404s.
    for path in [
        "/v1/nope",
        "/v1/proposals/no-such-proposal",
        "/v1/contracts/nope",
        "/v1/contracts/codex/revisions/9",
        "/v1/nodes/nobody",
        "/v1/domains/none",
        "/v1/schemas/none",
    ] {
        let (s, r) = c.get(path).await;
        assert_eq!(s, 404, "{path}: {r}");
        code(&r);
    }
    let r = c
        .http
        .delete(format!("{}/v1/status", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "method_not_allowed");

    assert_eq!(c.log_size().await, size);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_pages_clamp_and_operator_registers_nodes_and_domains() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);

    let newcomer = key(42);
    let (s, r) = c
        .post(
            "/v1/operator/nodes",
            &json!({"node_type": "trust_fork", "public_key": newcomer.public().to_base64(),
                    "display_name": "fork one"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["node_id"], newcomer.node_id());
    let (s, n) = c.get(&format!("/v1/nodes/{}", newcomer.node_id())).await;
    assert_eq!(s, 200);
    assert_eq!(n["node_type"], "trust_fork");
    // Registering the same node again is a conflict.
    let (s, r) = c
        .post(
            "/v1/operator/nodes",
            &json!({"node_type": "trust_fork", "public_key": newcomer.public().to_base64()}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 409, "{r}");

    let (s, r) = c
        .post(
            "/v1/operator/domains",
            &json!({"name": "forks", "admin_node_id": m.me.node_id(),
                    "member_nodes": [m.me.node_id(), m.a.node_id()]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let did = r["domain_id"].as_str().unwrap().to_owned();
    let (s, d) = c.get(&format!("/v1/domains/{did}")).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["name"], "forks");
    let (_, ds) = c.get("/v1/domains").await;
    assert_eq!(ds["domains"].as_array().unwrap().len(), 2, "{ds}");

    let size = c.log_size().await;
    assert_eq!(size, 3);
    for (q, want) in [
        ("start=0", 3),
        ("start=1", 2),
        ("start=1&end=2", 1),
        ("start=0&end=100", 3),
        ("start=3", 0),
        ("start=100", 0),
    ] {
        let (s, r) = c.get(&format!("/v1/log/entries?{q}")).await;
        assert_eq!(s, 200, "{q}: {r}");
        assert_eq!(r["entries"].as_array().unwrap().len(), want, "{q}");
    }
    let (s, r) = c.get("/v1/log/entries?start=2&end=1").await;
    assert_eq!(s, 400, "{r}");

    let (s, html) = c.get_text("/").await;
    assert_eq!(s, 200);
    assert!(
        html.contains(m.me.node_id()) && html.contains("test-mesh"),
        "{html}"
    );
    assert!(html.contains("/v1/openapi.json"));
    let (s, schemas) = c.get("/v1/schemas").await;
    assert_eq!(s, 200);
    let names = schemas["schemas"].as_array().unwrap();
    assert!(!names.is_empty());
    let first = names[0].as_str().unwrap();
    let (s, doc) = c.get(&format!("/v1/schemas/{first}")).await;
    assert_eq!(s, 200);
    assert!(
        doc.get("$schema").is_some() || doc.get("type").is_some(),
        "{doc}"
    );
    let (s, topo) = c.get("/v1/topology").await;
    assert_eq!(s, 200, "{topo}");
    let (s, eq) = c.get("/v1/equivocations").await;
    assert_eq!(
        (s, eq),
        (
            200,
            json!({"equivocations": [], "checkpoint_forks": [], "next_cursor": null})
        )
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_creation_as_the_operator_and_its_refusals() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (s, d) = c
        .post(
            "/v1/operator/domains",
            &json!({"name": "stewards", "admin_node_id": m.me.node_id(),
                    "member_nodes": [m.me.node_id(), m.a.node_id()]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let domain = d["domain_id"].as_str().unwrap().to_owned();
    let clauses = json!([{"clause_id": "1", "title": "Scope", "text": "All data.", "rules": {}}]);
    let body = |id: &str, domain: &str, clauses: &Value| json!({"contract_id": id, "label": "Retention", "domain_id": domain, "clauses": clauses});
    let size = c.log_size().await;
    for (b, status, want) in [
        (body("codex", &domain, &clauses), 409, "duplicate"),
        (
            body(
                "data-retention",
                "00000000-0000-4000-8000-000000000000",
                &clauses,
            ),
            422,
            "unknown_domain",
        ),
        (body("data-retention", &domain, &json!([])), 422, "schema"),
        (body("Not An Id", &domain, &clauses), 422, "schema"),
    ] {
        let (s, r) = c.post("/v1/operator/contracts", &b, Some(&token)).await;
        assert_eq!((s, code(&r)), (status, want), "{b}: {r}");
    }
    let (s, r) = c
        .post(
            "/v1/operator/contracts",
            &body("data-retention", &domain, &clauses),
            None,
        )
        .await;
    assert_eq!(s, 401, "{r}");
    assert_eq!(c.log_size().await, size, "no refused entry is stored");

    let (s, r) = c
        .post(
            "/v1/operator/contracts",
            &body("data-retention", &domain, &clauses),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let pid = r["proposal_id"].as_str().unwrap();
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["create_contract"]["domain_id"], domain.as_str(), "{p}");
    assert_eq!(p["target_contract_clause"], "5.5");
    assert_eq!(p["status"], "voting");
}
