//! What operators scrape and probe: `GET /metrics` (the Prometheus text format, 0.0.4,
//! through `prometheus-client`: log size, commit index, leader, term, seal size and
//! age, peers up and down, sync lag, refusals by code, submit and apply latencies,
//! failed council RPCs), `GET /healthz` (the process answers) and `GET /readyz`
//! (caught up with the latest seal it knows and, on a hub, the council has a leader).
//! The gauges are read at scrape time from the rooms; the counters and histograms are
//! the node's [`Telemetry`](crate::telemetry::Telemetry).

use crate::council::Council;
use crate::error::ApiError;
use crate::gossip::Gossip;
use crate::replicate::Replica;
use crate::route_table::route_table;
use crate::seal::Seals;
use crate::shared::Shared;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// What the probes read: the shared parts and the services this node runs.
#[derive(Clone)]
struct Probes {
    shared: Shared,
    seals: Seals,
    council: Option<Arc<Council>>,
    gossip: Option<Arc<Gossip>>,
    replica: Option<Replica>,
}

route_table!(Probes {
    GET "/metrics" => metrics,
    GET "/healthz" => healthz,
    GET "/readyz" => readyz,
});

/// The operators' endpoints over the node's parts and services.
pub fn routes(
    shared: Shared,
    seals: Seals,
    council: Option<Arc<Council>>,
    gossip: Option<Arc<Gossip>>,
    replica: Option<Replica>,
) -> Router {
    table().with_state(Probes {
        shared,
        seals,
        council,
        gossip,
        replica,
    })
}

/// The facts `/metrics` and `/readyz` share, read once per request.
struct Facts {
    log_size: u64,
    /// The largest verified seal this node knows (stored, or pulled by replication).
    seal_size: Option<u64>,
    /// Seconds since this node stored its latest seal.
    seal_age: Option<f64>,
    council: Option<Value>,
    /// Entries beyond the latest seal.
    unsealed: u64,
    /// Why the seal is past clause 11.0's checkpoint cadence, if it is.
    overdue: Option<String>,
}

async fn facts(p: &Probes) -> Facts {
    let store = p.seals.seals().clone();
    let stored = tokio::task::spawn_blocking(move || store.latest_with_time())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let now_ms = crate::order::now().millis();
    let pulled = p
        .replica
        .as_ref()
        .and_then(|r| r.service().view()["seal_size"].as_u64());
    let seal_size = stored.as_ref().map(|(s, _)| s.size).max(pulled);
    // Clause 11.0's cadence: how many entries wait for a seal, and since when (the
    // council's stamp on the first of them).
    let sealed = seal_size.unwrap_or(0);
    let (log_size, unsealed, overdue) = {
        let l = p.shared.ledger().lock().await;
        let unsealed = l.size().saturating_sub(sealed);
        let oldest = if unsealed > 0 {
            l.record(sealed)
                .ok()
                .flatten()
                .map(|r| r.timestamp.millis())
        } else {
            None
        };
        let age = oldest.map_or(0.0, |t| now_ms.saturating_sub(t) as f64 / 1000.0);
        let cadence = govmesh_core::rules::CheckpointCadence::of(l.state());
        (l.size(), unsealed, cadence.overdue(unsealed, age))
    };
    Facts {
        log_size,
        seal_size,
        seal_age: stored.map(|(_, at)| (now_ms.saturating_sub(at)) as f64 / 1000.0),
        council: p.council.as_ref().map(|c| c.view()),
        unsealed,
        overdue,
    }
}

fn gauge(r: &mut Registry, name: &str, help: &str, v: i64) {
    let g: Gauge = Gauge::default();
    g.set(v);
    r.register(name, help, g);
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `GET /metrics`.
async fn metrics(State(p): State<Probes>) -> Result<Response, ApiError> {
    let f = facts(&p).await;
    let t = p.shared.telemetry();
    let mut r = Registry::with_prefix("govmesh");
    gauge(
        &mut r,
        "log_size",
        "Entries in this node's governance log",
        to_i64(f.log_size),
    );
    gauge(
        &mut r,
        "unsealed_entries",
        "Entries beyond the latest seal this node knows",
        to_i64(f.unsealed),
    );
    gauge(
        &mut r,
        "seal_overdue",
        "1 when the entries beyond the latest seal are past clause 11.0's checkpoint cadence",
        i64::from(f.overdue.is_some()),
    );
    gauge(
        &mut r,
        "uptime_seconds",
        "Seconds since the node started",
        to_i64(p.shared.started().elapsed().as_secs()),
    );
    if let Some(c) = &f.council {
        let n = |k: &str| to_i64(c[k].as_u64().unwrap_or(0));
        gauge(
            &mut r,
            "council_term",
            "The Raft council's current term",
            n("term"),
        );
        gauge(
            &mut r,
            "council_last_log_index",
            "The last index of this hub's Raft log",
            n("last_log_index"),
        );
        gauge(
            &mut r,
            "commit_index",
            "The last Raft index this hub applied to its ledger (committed)",
            n("last_applied_index"),
        );
        gauge(
            &mut r,
            "council_has_leader",
            "1 when this hub knows a council leader",
            i64::from(!c["leader"].is_null()),
        );
        gauge(
            &mut r,
            "council_is_leader",
            "1 when this hub leads the council",
            i64::from(c["leader"]["node_id"] == c["node_id"]),
        );
        let leader: Family<Vec<(String, String)>, Gauge> = Family::default();
        if let Some(id) = c["leader"]["node_id"].as_str() {
            leader
                .get_or_create(&vec![("node_id".to_owned(), id.to_owned())])
                .set(1);
        }
        r.register(
            "council_leader",
            "The council leader this hub knows (1, labelled by node id)",
            leader,
        );
        gauge(
            &mut r,
            "sync_lag_entries",
            "Raft entries this hub holds but has not applied",
            (n("last_log_index") - n("last_applied_index")).max(0),
        );
    } else {
        gauge(
            &mut r,
            "sync_lag_entries",
            "Entries of the latest seal this node knows that it does not hold yet",
            to_i64(f.seal_size.unwrap_or(0).saturating_sub(f.log_size)),
        );
    }
    if let Some(size) = f.seal_size {
        gauge(
            &mut r,
            "seal_size",
            "Tree size of the latest verified seal",
            to_i64(size),
        );
    }
    if let Some(age) = f.seal_age {
        let g: Gauge<f64, AtomicU64> = Gauge::default();
        g.set(age);
        r.register(
            "seal_age_seconds",
            "Seconds since this node stored its latest verified seal",
            g,
        );
    }
    let peers: Family<Vec<(String, String)>, Gauge> = Family::default();
    if let Some(g) = &p.gossip {
        let me = p.shared.info().node_id.clone();
        let registered: Vec<String> = p
            .shared
            .registry()
            .current()
            .node_ids()
            .filter(|id| *id != me)
            .map(str::to_owned)
            .collect();
        for id in registered {
            let state = match g.liveness(&id) {
                Some(crate::gossip::Liveness::Live) => "up",
                Some(crate::gossip::Liveness::Suspect) => "suspect",
                Some(crate::gossip::Liveness::Down) => "down",
                None => "unknown",
            };
            peers
                .get_or_create(&vec![("state".to_owned(), state.to_owned())])
                .inc();
        }
    }
    r.register(
        "peers",
        "Registered peers by liveness as gossip sees them (up, suspect, down, unknown)",
        peers,
    );
    r.register(
        "refusals",
        "Requests refused (4xx) by error code",
        t.refusals.clone(),
    );
    r.register(
        "submit_seconds",
        "Time to answer a submission (POST /v1/entries, /v1/operator/*)",
        t.submit_seconds.clone(),
    );
    r.register(
        "apply_seconds",
        "Time to apply a batch of entries to the ledger",
        t.apply_seconds.clone(),
    );
    r.register(
        "council_rpc_failures",
        "Raft RPCs to other hubs that failed, by target and kind",
        t.council_rpc_failures.clone(),
    );
    r.register(
        "seal_rounds",
        "Seal rounds this hub ran, by outcome (sealed, renewed, short)",
        t.seal_rounds.clone(),
    );
    r.register(
        "cosign_failures",
        "Cosignature requests that did not count toward a seal, by witness and reason \
         (timeout: no answer within clause 5.4 checkpoint_cosign_timeout_secs; error)",
        t.cosign_failures.clone(),
    );
    let mut text = String::new();
    prometheus_text::encode(&mut text, &r).map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
        text,
    )
        .into_response())
}

/// `GET /healthz`: the process is up and answering.
async fn healthz(State(p): State<Probes>) -> Json<Value> {
    Json(json!({"status": "alive", "node_id": p.shared.info().node_id}))
}

/// `GET /readyz`: 200 when this node holds at least the latest seal it knows and, on
/// a hub, its council has a leader; 503 `not_ready` naming what is missing.
async fn readyz(State(p): State<Probes>) -> Result<Json<Value>, ApiError> {
    let f = facts(&p).await;
    let mut missing = Vec::new();
    if let Some(size) = f.seal_size
        && f.log_size < size
    {
        missing.push(format!(
            "the log holds {} entries, the latest seal {size}",
            f.log_size
        ));
    }
    if let Some(c) = &f.council
        && c["leader"].is_null()
    {
        missing.push("the council has no leader".to_owned());
    }
    // Hubs seal the log; one past clause 11.0's cadence is not doing its job.
    if f.council.is_some()
        && let Some(why) = &f.overdue
    {
        missing.push(format!("the seal is overdue: {why}"));
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("not ready: {}", missing.join("; ")),
        ));
    }
    Ok(Json(json!({
        "status": "ready",
        "node_id": p.shared.info().node_id,
        "log_size": f.log_size,
        "seal_size": f.seal_size,
        "council_leader": f.council.as_ref().map(|c| c["leader"]["node_id"].clone()),
    })))
}
