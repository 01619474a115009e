//! Dashboard page benchmark (issue 13, "Performance"): server time of the topology
//! page with 200 registered nodes and of a proposal page with 500 votes, p50 and p90
//! over 100 requests each through the node's router (no socket), next to
//! `GET /v1/status` as a baseline in the same run.
//!
//! `cargo bench -p govmesh-node --bench dashboard` (release), or
//! `cargo bench --profile dev -p govmesh-node --bench dashboard` for a quick look.
//! The mesh is founded by 500 governance hubs (every one an eligible voter) plus
//! this node; 200 of them are on the topology. Without gossip running, the topology
//! record has no measured connections: this measures the page's own work over the
//! registry (the SVG layout of 1,000 connections is not exercised here).

use axum::body::Body;
use axum::http::Request;
use govmesh_core::entry::{NodeSpec, Operation, VoteOp, sign_entry};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{NodeType, VoteChoice};
use govmesh_node::{AppState, InitOptions, init, router};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const VOTERS: usize = 500;
const RUNS: usize = 100;

fn key(i: usize) -> KeyPair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1000).to_le_bytes());
    KeyPair::from_seed(seed)
}

async fn call(
    app: &AppState,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = router(app.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

async fn measure(app: &AppState, path: &str) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut size = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let (status, bytes) = call(app, "GET", path, None, None).await;
        times.push(t.elapsed());
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&bytes));
        size = bytes.len();
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 9 / 10], size)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let me = KeyPair::from_seed([1; 32]);
    let founders: Vec<NodeSpec> = (0..VOTERS)
        .map(|i| NodeSpec::new(&key(i), NodeType::GovernanceHub))
        .collect();
    init(
        dir.path(),
        InitOptions {
            mesh_name: "bench-mesh".into(),
            key: me.clone(),
            other_founders: founders,
            network_address: None,
        },
    )
    .unwrap();
    let token = govmesh_node::load_token(dir.path()).unwrap();
    let app = AppState::open(dir.path(), None).unwrap();
    let (s, body) = call(
        &app,
        "POST",
        "/v1/operator/propose",
        Some(json!({"clause": "11.1", "proposed_text": "t", "rationale": "benchmark"})),
        Some(&token),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let pid = serde_json::from_slice::<Value>(&body).unwrap()["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Alternate approve and reject (then abstain) so that no early decision stops
    // the votes before all 500 are in.
    for i in 0..VOTERS {
        let choice = match i % 3 {
            0 => VoteChoice::Approve,
            1 => VoteChoice::Reject,
            _ => VoteChoice::Abstain,
        };
        let env = sign_entry(
            &key(i),
            Operation::Vote(VoteOp {
                proposal_id: pid.clone(),
                choice,
                reason: None,
                sequence: 0,
            }),
        );
        let (s, body) = call(
            &app,
            "POST",
            "/v1/entries",
            Some(serde_json::to_value(env).unwrap()),
            None,
        )
        .await;
        assert_eq!(s, 201, "vote {i}: {}", String::from_utf8_lossy(&body));
    }
    let (_, body) = call(&app, "GET", &format!("/v1/proposals/{pid}"), None, None).await;
    let votes = serde_json::from_slice::<Value>(&body).unwrap()["votes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(votes, VOTERS);

    println!(
        "{RUNS} requests each, through the router (no socket); {} nodes registered, {votes} votes",
        VOTERS + 1
    );
    for (name, path) in [
        ("GET /v1/status (baseline)", "/v1/status".to_owned()),
        ("GET /topology", "/topology".to_owned()),
        (
            "GET /proposals/{id} (500 votes)",
            format!("/proposals/{pid}"),
        ),
        (
            "GET /v1/proposals/{id} (500 votes, JSON)",
            format!("/v1/proposals/{pid}"),
        ),
    ] {
        let (p50, p90, size) = measure(&app, &path).await;
        println!(
            "{name:<44} p50 {:>8.2} ms  p90 {:>8.2} ms  {size} bytes",
            p50.as_secs_f64() * 1000.0,
            p90.as_secs_f64() * 1000.0
        );
    }
}
