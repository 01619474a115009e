//! Hostile and malformed input to `POST /v1/entries` (through the router, no socket):
//! every case is a 4xx with a JSON error body, never a 500 or a panic, and nothing is
//! appended.

use super::util::{Mesh, key};
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
