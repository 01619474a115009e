//! Telling people what changed: `GET /v1/events` (server-sent events fed by the
//! node's log notifier: new entries, tally changes, adoptions, seals, liveness;
//! computed once per change by one task and broadcast to every stream) and
//! `GET /v1/feed.atom` (an Atom feed of new proposals, decisions and adoptions). Both
//! read the same views as the pages.

use super::Dash;
use crate::api;
use crate::wire;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::stream::{self, Stream};
use govmesh_core::model::{Proposal, ProposalStatus};
use maud::html;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Most entries one wake-up turns into events; a client further behind gets a
/// `resync` event and reloads what it shows.
const MAX_ENTRIES_PER_WAKE: u64 = 200;

/// How often the stream looks for a newer seal when the log is quiet (seals are
/// stored after the entries they cover, by another task).
const SEAL_POLL: Duration = Duration::from_secs(2);

/// How many events a slow stream may fall behind before it is told to `resync`.
const BACKLOG: usize = 1024;

/// What the computing task keeps between wake-ups.
struct Feed {
    dash: Dash,
    log: tokio::sync::watch::Receiver<u64>,
    size: u64,
    seal_size: Option<u64>,
    /// Each node's liveness as last told (node id → liveness).
    liveness: BTreeMap<String, String>,
    queue: VecDeque<Event>,
}

/// The event streams' shared source: one task (started by the first stream, ended
/// once no stream listens) computes each change's events once and sends them to
/// every stream through a broadcast channel, so a thousand open pages cost one
/// computation per change, not a thousand.
#[derive(Clone, Default)]
pub(crate) struct Broadcast(Arc<Mutex<Option<broadcast::Sender<Event>>>>);

impl Broadcast {
    /// A receiver of the events from now on, starting the task if none runs.
    fn subscribe(&self, d: &Dash) -> broadcast::Receiver<Event> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = slot.as_ref() {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(BACKLOG);
        *slot = Some(tx.clone());
        tokio::spawn(compute(d.clone(), tx));
        rx
    }
}

/// The task behind [`Broadcast`]: wakes on the log notifier and every
/// [`SEAL_POLL`], queues the events of what changed and sends them; ends when the
/// log notifier closes or nobody listens any more.
async fn compute(d: Dash, tx: broadcast::Sender<Event>) {
    let mut log = d.shared.log_changes();
    let size = *log.borrow_and_update();
    let sealed = seal_size(&d).await;
    let seen = liveness(&d).await;
    let mut f = Feed {
        dash: d,
        log,
        size,
        seal_size: sealed,
        liveness: seen,
        queue: VecDeque::new(),
    };
    loop {
        tokio::select! {
            changed = f.log.changed() => {
                if changed.is_err() {
                    break;
                }
                let new = *f.log.borrow_and_update();
                f.entries_since(new).await;
            }
            _ = tokio::time::sleep(SEAL_POLL) => {}
        }
        let live = liveness(&f.dash).await;
        for (id, l) in &live {
            if f.liveness.get(id) != Some(l) {
                f.queue.push_back(
                    Event::default()
                        .event("node")
                        .data(json!({"node_id": id, "liveness": l}).to_string()),
                );
            }
        }
        f.liveness = live;
        let now = seal_size(&f.dash).await;
        if now.is_some() && now != f.seal_size {
            f.seal_size = now;
            f.queue.push_back(
                Event::default()
                    .event("seal")
                    .data(json!({"size": now}).to_string()),
            );
        }
        for e in f.queue.drain(..) {
            // An error only says that nobody listens right now.
            let _ = tx.send(e);
        }
        // Nobody listening: stop, under the lock a new stream would start us by.
        let mut slot = f.dash.live.0.lock().unwrap_or_else(|p| p.into_inner());
        if tx.receiver_count() == 0 {
            *slot = None;
            return;
        }
    }
    let mut slot = f.dash.live.0.lock().unwrap_or_else(|p| p.into_inner());
    *slot = None;
}

/// `GET /v1/events`: `entry` (index, type, author), `tally` (proposal id, status,
/// voting result), `adoption` (proposal, contract, revision), `seal` (size), `node`
/// (node id, liveness: a node went up or down as gossip sees it), and `resync` when
/// more changed than is worth listing (or this stream fell behind).
pub(super) async fn events(
    State(d): State<Dash>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the hello is read: nothing after it is missed.
    let rx = d.live.subscribe(&d);
    let size = *d.shared.log_changes().borrow();
    let sealed = seal_size(&d).await;
    let hello = Event::default()
        .event("hello")
        .data(json!({"log_size": size, "seal_size": sealed}).to_string());
    let s = stream::unfold((Some(hello), rx, d), |(hello, mut rx, d)| async move {
        if let Some(h) = hello {
            return Some((Ok(h), (None, rx, d)));
        }
        let e = match rx.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let size = *d.shared.log_changes().borrow();
                Event::default()
                    .event("resync")
                    .data(json!({"log_size": size}).to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(e), (None, rx, d)))
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}

async fn seal_size(d: &Dash) -> Option<u64> {
    let text = crate::seal::latest_seal_text(&d.seals, d.pulled.as_ref())
        .await
        .ok()??;
    let note = govmesh_core::checkpoint::SignedNote::parse(&text).ok()?;
    govmesh_core::checkpoint::Checkpoint::parse_body(&note.body)
        .ok()
        .map(|c| c.size)
}

/// Each node's liveness in the topology record (the gossip view).
async fn liveness(d: &Dash) -> BTreeMap<String, String> {
    let Ok(topo) = api::topology_record_view(&d.shared, d.gossip.as_deref()).await else {
        return BTreeMap::new();
    };
    topo["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            Some((
                n["node_id"].as_str()?.to_owned(),
                n["liveness"].as_str().unwrap_or("unknown").to_owned(),
            ))
        })
        .collect()
}

impl Feed {
    /// Queues the events for the entries from the last size up to `new`.
    async fn entries_since(&mut self, new: u64) {
        if new <= self.size {
            return;
        }
        let from = self.size;
        self.size = new;
        if new - from > MAX_ENTRIES_PER_WAKE {
            self.queue.push_back(
                Event::default()
                    .event("resync")
                    .data(json!({"log_size": new}).to_string()),
            );
            return;
        }
        let q = wire::EntriesQuery {
            start: from,
            end: Some(new),
            ..Default::default()
        };
        let Ok(api::EntriesPage { records, .. }) = api::entries_view(&self.dash.shared, &q).await
        else {
            return;
        };
        let mut touched = Vec::new();
        for r in &records {
            let payload = base64::engine::general_purpose::STANDARD
                .decode(&r.envelope.payload)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null);
            let kind = payload["type"].as_str().unwrap_or("").to_owned();
            self.queue.push_back(Event::default().event("entry").data(
                json!({"index": r.index, "type": kind, "author": payload["author"]}).to_string(),
            ));
            if let Some(p) = payload["proposal_id"].as_str()
                && !touched.iter().any(|t| t == p)
            {
                touched.push(p.to_owned());
            }
        }
        for id in touched {
            let Ok(v) = api::proposal_view(&self.dash.shared, &id).await else {
                continue;
            };
            let p = &v.proposal;
            self.queue.push_back(
                Event::default().event("tally").data(
                    json!({"proposal_id": id, "status": p.status, "voting_result": p.voting_result})
                        .to_string(),
                ),
            );
            if let Some(rev) = p.adopted_revision {
                self.queue.push_back(
                    Event::default().event("adoption").data(
                        json!({"proposal_id": id, "contract_id": p.contract_id, "revision": rev})
                            .to_string(),
                    ),
                );
            }
        }
    }
}

/// `GET /v1/feed.atom`: the newest 100 happenings (a proposal made, decided,
/// withdrawn, adopted into a revision), newest first.
pub(super) async fn feed(State(d): State<Dash>) -> Response {
    let status = api::status_view(&d.shared).await;
    let mut items: Vec<(govmesh_core::Timestamp, String, String, String, &str)> = Vec::new();
    let list = match api::proposals_view(&d.shared, &wire::ProposalsQuery { status: None }).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let base = d.shared.url().unwrap_or("").to_owned();
    for p in &list {
        let title = title(p);
        items.push((
            p.created_at,
            format!("urn:govmesh:proposal:{}:proposed", p.proposal_id),
            format!("Proposed: {title}"),
            format!(
                "{} clause {}, voting until {}. {}",
                p.contract_id, p.target_contract_clause, p.voting_ends, p.rationale
            ),
            "proposed",
        ));
        let decided = match p.status {
            ProposalStatus::Adopted => Some("Adopted"),
            ProposalStatus::Rejected => Some("Rejected"),
            ProposalStatus::Withdrawn => Some("Withdrawn"),
            _ => None,
        };
        if let Some(word) = decided {
            let mut text = p.voting_result.reason.clone();
            if let Some(rev) = p.adopted_revision {
                text = format!("{text} {} revision {rev} adopted.", p.contract_id);
            }
            items.push((
                p.updated_at,
                format!(
                    "urn:govmesh:proposal:{}:{}",
                    p.proposal_id,
                    word.to_lowercase()
                ),
                format!("{word}: {title}"),
                text,
                "decided",
            ));
        }
    }
    items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    items.truncate(100);
    let updated = items.first().map_or_else(crate::order::now, |i| i.0);
    let mesh = status["mesh_name"].as_str().unwrap_or("mesh");
    let mesh_id = status["mesh_id"].as_str().unwrap_or("");
    let body = html! {
        feed xmlns="http://www.w3.org/2005/Atom" {
            id { "urn:govmesh:mesh:" (mesh_id) }
            title { "govmesh " (mesh) ": proposals, decisions and adoptions" }
            updated { (updated.to_rfc3339()) }
            link rel="self" href={ (base) "/v1/feed.atom" } {}
            link rel="alternate" type="text/html" href={ (base) "/proposals" } {}
            author { name { "govmesh node " (status["node_id"].as_str().unwrap_or("")) } }
            @for (at, id, title, text, _) in &items {
                @let pid = id.split(':').nth(3).unwrap_or("");
                entry {
                    id { (id) }
                    title { (title) }
                    updated { (at.to_rfc3339()) }
                    link rel="alternate" type="text/html" href={ (base) "/proposals/" (pid) } {}
                    summary { (text) }
                }
            }
        }
    };
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}\n",
            body.into_string()
        ),
    )
        .into_response()
}

fn title(p: &Proposal) -> String {
    let first = p.rationale.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        format!(
            "change clause {} of {}",
            p.target_contract_clause, p.contract_id
        )
    } else {
        first.chars().take(90).collect()
    }
}
