//! Seals on the node: the latest verified seal (`DIR/seal.db`, served at
//! `GET /v1/log/seal`), and the collector that runs on the ordering hub (the council
//! leader): when the log grows it signs a checkpoint, asks every active registered
//! compliance witness that clause 5.4 lists for a cosignature (C2SP tlog-witness, in parallel, clause 5.4
//! `checkpoint_cosign_timeout_secs` each), assembles the seal as soon as clause 5.4's
//! `seal_threshold` is met, stores it and announces it (`POST /v1/replication/announce`,
//! peer-signed) to every other registered node with an address.
//!
//! Rounds coalesce: growth during a round is sealed by one more round after it, and
//! rounds start at most every [`MIN_ROUND_SPACING`] (a quiet log's first growth is
//! sealed at once; under a stream of writes the rounds, each a signature, witness
//! requests and an announce to every node, do not take the CPU the council needs). A
//! round that falls short of the threshold is retried after [`RETRY_AFTER`] even if
//! the log does not grow. A quiet log's seal is renewed once it is clause 11.0's
//! `checkpoint.max_interval_secs` old: the witnesses cosign the same checkpoint again,
//! with a new time, so a seal's age says how recently the witnesses saw the log.

use crate::error::{ApiError, NodeError};
use crate::order::now;
use crate::route_table::route_table;
use crate::shared::Shared;
use crate::wire::{ADD_CHECKPOINT_PATH, TLOG_SIZE_CONTENT_TYPE, add_checkpoint_body};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use govmesh_core::Digest;
use govmesh_core::checkpoint::Checkpoint;
use govmesh_core::cosign::{Cosignature, witness_key_name};
use govmesh_core::keys::PublicKey;
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_core::rules::{CheckpointCadence, VerificationRules};
use govmesh_core::seal::{SealError, VerifiedSeal, verify_seal};
use govmesh_store::rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The table of `DIR/seal.db`: one row, the latest verified seal.
const SEAL_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS seal (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         size INTEGER NOT NULL,
         text TEXT NOT NULL,
         stored_at_ms INTEGER NOT NULL
     );";

/// The seal database file in the data directory.
pub const SEAL_DB_FILE: &str = "seal.db";
/// The path where every node serves its latest verified seal.
pub const SEAL_PATH: &str = "/v1/log/seal";
/// The announce path (served by replication, crate::replicate).
pub const ANNOUNCE_PATH: &str = "/v1/replication/announce";
/// A round short of the threshold is tried again after this long.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
/// The least time between the starts of two rounds.
pub const MIN_ROUND_SPACING: Duration = Duration::from_millis(50);
/// How often a hub that does not lead checks whether it has become the leader.
pub const LEADER_POLL: Duration = Duration::from_secs(1);

/// Why a seal was not stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreSealError {
    #[error("the seal does not verify: {0}")]
    Invalid(#[from] SealError),
    #[error("the seal is of size {seal}, but this node holds only {have} entries")]
    Ahead { seal: u64, have: u64 },
    #[error("the seal's root at size {size} is {sealed}, this node's log has {ours} there")]
    Fork {
        size: u64,
        sealed: String,
        ours: String,
    },
    #[error("seal storage: {0}")]
    Storage(String),
}

/// The latest seal this node verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSeal {
    pub size: u64,
    pub text: String,
}

/// `DIR/seal.db`: the latest verified seal (one row; a larger seal replaces it).
pub struct SealStore {
    db: Mutex<Connection>,
}

impl SealStore {
    pub fn open(dir: &Path) -> Result<SealStore, NodeError> {
        let path = dir.join(SEAL_DB_FILE);
        let db = govmesh_store::open_side_db(&path, SEAL_SCHEMA, 1)?;
        Ok(SealStore { db: Mutex::new(db) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn latest(&self) -> Result<Option<StoredSeal>, StoreSealError> {
        self.lock()
            .query_row("SELECT size, text FROM seal WHERE id = 1", [], |r| {
                Ok(StoredSeal {
                    size: r.get::<_, i64>(0)? as u64,
                    text: r.get(1)?,
                })
            })
            .optional()
            .map_err(|e| StoreSealError::Storage(e.to_string()))
    }

    /// The latest seal with when this node stored it (unix milliseconds).
    pub fn latest_with_time(&self) -> Result<Option<(StoredSeal, i64)>, StoreSealError> {
        self.lock()
            .query_row(
                "SELECT size, text, stored_at_ms FROM seal WHERE id = 1",
                [],
                |r| {
                    Ok((
                        StoredSeal {
                            size: r.get::<_, i64>(0)? as u64,
                            text: r.get(1)?,
                        },
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| StoreSealError::Storage(e.to_string()))
    }

    /// Stores `text` (already verified, of tree size `size`) if it is larger than the
    /// stored seal, or of the same size and fresher (its newest cosignature is newer:
    /// a hub re-seals a quiet log on clause 11.0's cadence); returns whether it was
    /// stored. A seal is never replaced by a smaller or staler one.
    pub fn put(&self, size: u64, text: &str) -> Result<bool, StoreSealError> {
        let db = self.lock();
        let storage = |e: govmesh_store::rusqlite::Error| StoreSealError::Storage(e.to_string());
        let stored: Option<(i64, String)> = db
            .query_row("SELECT size, text FROM seal WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(storage)?;
        let newer = match &stored {
            None => true,
            Some((s, t)) => {
                let s = *s as u64;
                size > s || (size == s && freshness(text) > freshness(t))
            }
        };
        if !newer {
            return Ok(false);
        }
        db.execute(
            "INSERT INTO seal (id, size, text, stored_at_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET size = ?1, text = ?2, stored_at_ms = ?3",
            params![size as i64, text, now().millis()],
        )
        .map_err(storage)?;
        Ok(true)
    }
}

/// The newest cosignature time (seconds) among a seal's signature lines; 0 when none
/// parses as a cosignature (a hub's signature line does not: it has no time).
pub fn freshness(text: &str) -> u64 {
    text.split_once("\n\n")
        .map_or("", |(_, sigs)| sigs)
        .lines()
        .filter_map(|l| Cosignature::parse_line(l).ok())
        .map(|c| c.time)
        .max()
        .unwrap_or(0)
}

/// A node's seal keeping: the shared parts (the log a seal must match, the key a
/// collector signs with) and the seal store.
#[derive(Clone)]
pub struct Seals {
    shared: Shared,
    store: Arc<SealStore>,
}

impl Seals {
    pub fn new(shared: Shared, store: Arc<SealStore>) -> Seals {
        Seals { shared, store }
    }

    /// The latest verified seal of this node.
    pub fn seals(&self) -> &Arc<SealStore> {
        &self.store
    }
}

impl std::ops::Deref for Seals {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// The head replication verified last, as (size, signed note text); see
/// [`routes`].
pub type PulledHead = Arc<dyn Fn() -> Option<(u64, String)> + Send + Sync>;

/// What `GET /v1/log/seal` holds: the seals, and on a replicating node the head its
/// replication verified.
#[derive(Clone)]
struct Http {
    seals: Seals,
    pulled: Option<PulledHead>,
}

route_table!(Http {
    GET "/v1/log/seal" => get_seal,
});

/// `GET /v1/log/seal`; `pulled` (on a replicating node) is the head replication
/// verified last.
pub fn routes(seals: Seals, pulled: Option<PulledHead>) -> Router {
    table().with_state(Http { seals, pulled })
}

/// Verifies `text` as a seal against this node's State and log, and stores it if it
/// is larger than the stored one: every node serves the latest seal it has verified.
/// The node must hold the sealed entries (its log at least as large as the seal) and
/// its root at that size must be the sealed root. Returns the verified seal and
/// whether it replaced the stored one.
pub async fn store_verified_seal(
    app: &Seals,
    text: &str,
) -> Result<(VerifiedSeal, bool), StoreSealError> {
    let v = {
        let l = app.ledger().lock().await;
        let v = verify_seal(text, l.state())?;
        let (size, have) = (v.checkpoint.size, l.tree().size());
        if size > have {
            return Err(StoreSealError::Ahead { seal: size, have });
        }
        let ours = l
            .tree()
            .root_at(size)
            .map_err(|e| StoreSealError::Storage(e.to_string()))?;
        if ours != v.checkpoint.root {
            return Err(StoreSealError::Fork {
                size,
                sealed: v.checkpoint.root.to_hex(),
                ours: ours.to_hex(),
            });
        }
        v
    };
    let store = app.seals().clone();
    let (size, t) = (v.checkpoint.size, text.to_owned());
    let stored = tokio::task::spawn_blocking(move || store.put(size, &t))
        .await
        .map_err(|e| StoreSealError::Storage(e.to_string()))??;
    Ok((v, stored))
}

/// `GET /v1/log/seal`: the latest verified seal as text/plain, 404 `no_seal` before one.
///
/// On a replicating node, a head that replication verified (and holds the log of) and
/// that is larger than the stored seal is verified again, stored and served.
/// The latest seal this node has verified (`GET /v1/log/seal`), as its text; `pulled`
/// (on a replicating node) is the head replication verified last, stored first if it
/// is newer and verifies.
pub async fn latest_seal_text(
    seals: &Seals,
    pulled: Option<&PulledHead>,
) -> Result<Option<String>, ApiError> {
    let store = seals.seals().clone();
    let stored = tokio::task::spawn_blocking(move || store.latest())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let pulled = pulled
        .and_then(|head| head())
        .filter(|(size, _)| stored.as_ref().is_none_or(|s| *size > s.size));
    Ok(match (pulled, stored) {
        (Some((size, note)), stored) => match store_verified_seal(seals, &note).await {
            Ok(_) => Some(note),
            Err(e) => {
                tracing::debug!(error = %e, size, "the replicated head is not stored as a seal");
                stored.map(|s| s.text)
            }
        },
        (None, stored) => stored.map(|s| s.text),
    })
}

async fn get_seal(State(http): State<Http>) -> Response {
    match latest_seal_text(&http.seals, http.pulled.as_ref()).await {
        Ok(Some(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Ok(None) => ApiError::new(
            StatusCode::NOT_FOUND,
            "no_seal",
            "this node holds no seal yet",
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Whether this node should collect seals now (the council leader). A single hub
/// always is.
pub type LeaderCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// A witness to ask.
#[derive(Clone, Debug)]
struct WitnessTarget {
    node_id: String,
    url: String,
    key: PublicKey,
}

/// What one round needs from the state.
struct Snapshot {
    size: u64,
    root: Digest,
    witnesses: Vec<WitnessTarget>,
    threshold: usize,
    timeout: Duration,
    /// Clause 11.0's `checkpoint.max_interval_secs`: a seal this old is renewed even
    /// if the log has not grown.
    max_interval: Duration,
    /// Every other registered node with an address: (node id, url).
    peers: Vec<(String, String)>,
}

/// The collector's memory of the size each witness last cosigned (so the next
/// request carries the right old size and proof; a 409 corrects it).
type KnownSizes = Arc<Mutex<HashMap<String, u64>>>;

/// Starts the seal collector: rounds on log growth while `leader()` says so.
pub fn start(app: Seals, leader: LeaderCheck, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let known: KnownSizes = Arc::default();
        let mut log = app.log_changes();
        let mut retry = false;
        let mut last_round: Option<tokio::time::Instant> = None;
        loop {
            // Mark the size this round will see: growth during the round wakes the
            // next one at once (coalescing any number of appends into one round).
            log.borrow_and_update();
            let leading = leader();
            if leading {
                if let Some(t) = last_round {
                    tokio::time::sleep_until(t + MIN_ROUND_SPACING).await;
                    log.borrow_and_update();
                }
                last_round = Some(tokio::time::Instant::now());
                match round(&app, &http, &known).await {
                    Ok(_) => retry = false,
                    Err(e) => {
                        retry = true;
                        tracing::warn!(error = %e, "seal round failed; retrying later");
                    }
                }
            }
            // A follower checks now and then whether it leads (a new leader seals what
            // the old one left unsealed without waiting for the log to grow).
            let wait = if !leading {
                LEADER_POLL
            } else if retry {
                RETRY_AFTER
            } else {
                until_renewal(&app).await
            };
            tokio::select! {
                changed = log.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}

fn snapshot(
    app: &Seals,
    st: &govmesh_core::state::State,
    size: u64,
    root: Digest,
) -> Result<Snapshot, SealError> {
    let rules = VerificationRules::of(st).map_err(SealError::BadRules)?;
    let threshold = rules.threshold(st);
    let timeout = Duration::from_secs(rules.checkpoint_cosign_timeout_secs);
    let me = &app.info().node_id;
    let mut witnesses = Vec::new();
    let mut peers = Vec::new();
    for n in st.nodes() {
        let Some(url) = n.network_address.as_deref() else {
            continue;
        };
        let url = url.trim_end_matches('/').to_owned();
        if &n.node_id == me {
            continue;
        }
        // Only the witnesses clause 5.4 lets cosign are asked.
        if n.status == NodeStatus::Active
            && n.node_type == NodeType::ComplianceWitness
            && rules.lists(&n.node_id)
        {
            witnesses.push(WitnessTarget {
                node_id: n.node_id.clone(),
                url: url.clone(),
                key: n.public_key,
            });
        }
        peers.push((n.node_id.clone(), url));
    }
    Ok(Snapshot {
        size,
        root,
        witnesses,
        threshold,
        timeout,
        max_interval: Duration::from_secs(CheckpointCadence::of(st).max_interval_secs),
        peers,
    })
}

/// One collection round: returns the new seal, or `None` when the log is already
/// sealed at its size (or empty).
pub async fn round(
    app: &Seals,
    http: &reqwest::Client,
    known: &KnownSizes,
) -> Result<Option<VerifiedSeal>, String> {
    let snap = {
        let l = app.ledger().lock().await;
        let (size, root) = (l.tree().size(), l.tree().root());
        snapshot(app, l.state(), size, root).map_err(|e| e.to_string())?
    };
    if snap.size == 0 {
        return Ok(None);
    }
    let store = app.seals().clone();
    let sealed = tokio::task::spawn_blocking(move || store.latest_with_time())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    // A seal of the log's size is renewed once it is clause 11.0's max_interval_secs
    // old (witnesses cosign the same checkpoint again, with a new time).
    if let Some((s, at_ms)) = &sealed
        && s.size >= snap.size
        && (s.size > snap.size || age(*at_ms) < snap.max_interval)
    {
        return Ok(None);
    }
    let renewal = sealed.is_some_and(|(s, _)| s.size == snap.size);
    let origin = app.origin().to_owned();
    let checkpoint = Checkpoint {
        origin: origin.clone(),
        size: snap.size,
        root: snap.root,
        extensions: Vec::new(),
    };
    let note = checkpoint
        .try_sign(&origin, app.key())
        .map_err(|e| e.to_string())?;
    let note_text = note.to_text();

    let mut tasks = JoinSet::new();
    for w in snap.witnesses.clone() {
        let (app, http, known, note_text, body) = (
            app.clone(),
            http.clone(),
            known.clone(),
            note_text.clone(),
            note.body.clone(),
        );
        let (size, timeout) = (snap.size, snap.timeout);
        tasks.spawn(async move {
            let r = tokio::time::timeout(
                timeout,
                ask_witness(&app, &http, &known, &w, &note_text, &body, size),
            )
            .await
            .map_err(|_| Timeout(timeout));
            (w, r)
        });
    }
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    while lines.len() < snap.threshold {
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok((_, Ok(Ok(line)))) => lines.push(line),
            Ok((w, Ok(Err(e)))) => {
                app.telemetry().cosign_failed(&w.node_id, "error");
                tracing::warn!(witness = %w.node_id, url = %w.url, error = %e, "no cosignature");
                failures.push(format!("{}: {e}", w.node_id));
            }
            Ok((w, Err(Timeout(t)))) => {
                app.telemetry().cosign_failed(&w.node_id, "timeout");
                let e = format!(
                    "no answer within {} s (clause 5.4 checkpoint_cosign_timeout_secs)",
                    t.as_secs()
                );
                tracing::warn!(witness = %w.node_id, url = %w.url, error = %e, "no cosignature");
                failures.push(format!("{}: {e}", w.node_id));
            }
            Err(e) => failures.push(format!("task: {e}")),
        }
    }
    // The others keep going in the background so their witnesses keep up.
    tasks.detach_all();
    if lines.len() < snap.threshold {
        app.telemetry().seal_round("short");
        return Err(format!(
            "{} of {} cosignature(s) for size {} (clause 5.4 seal_threshold {}): {}",
            lines.len(),
            snap.witnesses.len(),
            snap.size,
            snap.threshold,
            failures.join("; ")
        ));
    }
    let mut text = note_text;
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    let (v, _) = store_verified_seal(app, &text)
        .await
        .map_err(|e| format!("the assembled seal was refused: {e}"))?;
    app.telemetry()
        .seal_round(if renewal { "renewed" } else { "sealed" });
    tracing::info!(
        size = v.checkpoint.size,
        witnesses = ?v.witness_node_ids,
        "seal stored"
    );
    announce(app, http, &snap.peers, &text);
    record_seal(app, &v, text).await;
    Ok(Some(v))
}

/// Records a seal this hub collected in the log (`record_seal`, core
/// `state/seals.rs`) when a witness cosigned it and it covers at least
/// `SEAL_RECORD_SPACING` entries more than the last recorded one (or than none): what makes the
/// witnesses' cosignatures trust observations every node derives. The record grows the
/// log, and its seal is then too close to this one to be recorded again, so a quiet
/// mesh records nothing more. Its root was checked against this node's tree by
/// `store_verified_seal`; the state machine checks the rest.
async fn record_seal(app: &Seals, v: &VerifiedSeal, text: String) {
    let due = {
        let l = app.ledger().lock().await;
        let last = l.state().recorded_seal().map_or(0, |last| last.size);
        let spacing = govmesh_core::state::SEAL_RECORD_SPACING;
        !v.witness_node_ids.is_empty() && v.checkpoint.size >= last.saturating_add(spacing)
    };
    if !due {
        return;
    }
    let size = v.checkpoint.size;
    let op = govmesh_core::entry::Operation::RecordSeal(govmesh_core::entry::RecordSealOp {
        seal: text,
    });
    match app.submit_own(op).await {
        Ok(c) => tracing::info!(size, index = c.index, "seal recorded in the log"),
        Err(e) => tracing::info!(size, error = %e, "seal not recorded in the log"),
    }
}

/// A witness that did not answer within clause 5.4's `checkpoint_cosign_timeout_secs`.
struct Timeout(Duration);

/// How long ago `at_ms` (Unix milliseconds) was.
fn age(at_ms: i64) -> Duration {
    Duration::from_millis(now().millis().saturating_sub(at_ms).max(0) as u64)
}

/// How long until the stored seal is due for renewal under clause 11.0's
/// `checkpoint.max_interval_secs` (at least [`MIN_ROUND_SPACING`]; the cadence itself
/// when nothing is sealed yet).
async fn until_renewal(app: &Seals) -> Duration {
    let max_interval = {
        let l = app.ledger().lock().await;
        Duration::from_secs(CheckpointCadence::of(l.state()).max_interval_secs)
    };
    let store = app.seals().clone();
    let stored = tokio::task::spawn_blocking(move || store.latest_with_time())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    stored
        .map_or(max_interval, |(_, at_ms)| {
            max_interval.saturating_sub(age(at_ms))
        })
        .max(MIN_ROUND_SPACING)
}

/// Sends the seal to every peer (fire and forget; failures are logged).
fn announce(app: &Seals, http: &reqwest::Client, peers: &[(String, String)], text: &str) {
    let registry = app.registry().current();
    for (node_id, url) in peers {
        let headers = crate::peer_auth::sign_request_to(
            app.key(),
            &app.info().node_id,
            registry.node(node_id).map(|n| &n.public_key),
            "POST",
            ANNOUNCE_PATH,
            text.as_bytes(),
        );
        let mut req = http
            .post(format!("{url}{ANNOUNCE_PATH}"))
            .header(header::CONTENT_TYPE.as_str(), "text/plain; charset=utf-8")
            .body(text.to_owned());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let node_id = node_id.clone();
        tokio::spawn(async move {
            match req.send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    tracing::debug!(peer = %node_id, %status, %body, "seal announce refused");
                }
                Err(e) => tracing::debug!(peer = %node_id, error = %e, "seal announce failed"),
            }
        });
    }
}

/// Asks one witness for a cosignature of `note_text`; on 409 with the witness's size,
/// retries once from that size. Returns the witness's verified cosignature line.
async fn ask_witness(
    app: &Seals,
    http: &reqwest::Client,
    known: &KnownSizes,
    w: &WitnessTarget,
    note_text: &str,
    body: &str,
    size: u64,
) -> Result<String, String> {
    let mut old = known
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&w.node_id)
        .copied()
        .unwrap_or(0)
        .min(size);
    for attempt in 0..2 {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            let l = app.ledger().lock().await;
            l.tree()
                .consistency_proof(old, size)
                .map_err(|e| format!("proof from {old} to {size}: {e}"))?
        };
        let resp = http
            .post(format!("{}{ADD_CHECKPOINT_PATH}", w.url))
            .header(header::CONTENT_TYPE.as_str(), "text/plain; charset=utf-8")
            .body(add_checkpoint_body(old, &proof, note_text))
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE.as_str())
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if status.as_u16() == 409 && ctype.starts_with(TLOG_SIZE_CONTENT_TYPE) && attempt == 0 {
            let theirs: u64 = text
                .trim_end_matches('\n')
                .parse()
                .map_err(|_| format!("409 with an unreadable size {text:?}"))?;
            if theirs > size {
                return Err(format!(
                    "the witness cosigned size {theirs}, larger than this log's {size}"
                ));
            }
            known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(w.node_id.clone(), theirs);
            old = theirs;
            continue;
        }
        if !status.is_success() {
            return Err(format!("{status}: {}", text.trim_end()));
        }
        let name = witness_key_name(&w.node_id);
        for line in text.lines() {
            let Ok(c) = Cosignature::parse_line(line) else {
                continue;
            };
            if c.is_by(&name, &w.key) {
                c.verify(body, &name, &w.key)
                    .map_err(|e| format!("its cosignature does not verify: {e}"))?;
                known
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(w.node_id.clone(), size);
                return Ok(c.line());
            }
        }
        return Err(format!("no cosignature by {name} in the answer {text:?}"));
    }
    Err("the witness's size changed between two requests".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::{InitOptions, init};
    use govmesh_core::keys::KeyPair;

    #[tokio::test]
    async fn only_seals_of_the_nodes_own_log_are_stored() {
        let d = tempfile::tempdir().unwrap();
        let key = KeyPair::from_seed([5; 32]);
        init(
            d.path(),
            InitOptions {
                mesh_name: "seal-unit".into(),
                key: key.clone(),
                other_founders: vec![],
                network_address: None,
            },
        )
        .unwrap();
        let node = crate::AppState::open(d.path(), None).unwrap();
        let app = Seals::new(node.shared().clone(), node.seals().clone());
        let origin = app.origin().to_owned();
        let (size, root) = {
            let l = app.ledger().lock().await;
            (l.tree().size(), l.tree().root())
        };
        let seal = |size: u64, root: Digest| {
            Checkpoint {
                origin: origin.clone(),
                size,
                root,
                extensions: vec![],
            }
            .sign(&origin, &key)
            .to_text()
        };
        // No witnesses in this mesh: the hub's checkpoint is a seal (threshold 0).
        assert!(app.seals().latest().unwrap().is_none());
        let (v, stored) = store_verified_seal(&app, &seal(size, root)).await.unwrap();
        assert!(stored);
        assert_eq!(v.checkpoint.size, size);
        assert_eq!(
            app.seals().latest().unwrap().unwrap().text,
            seal(size, root)
        );
        // The same size again does not replace it.
        let (_, stored) = store_verified_seal(&app, &seal(size, root)).await.unwrap();
        assert!(!stored);
        // Ahead of the log, another root, another signer: refused, nothing replaced.
        let e = store_verified_seal(&app, &seal(size + 1, root))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreSealError::Ahead { .. }), "{e}");
        let e = store_verified_seal(&app, &seal(size, Digest([9; 32])))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreSealError::Fork { .. }), "{e}");
        let stranger = KeyPair::from_seed([6; 32]);
        let forged = Checkpoint {
            origin: origin.clone(),
            size,
            root,
            extensions: vec![],
        }
        .sign(&origin, &stranger)
        .to_text();
        let e = store_verified_seal(&app, &forged).await.unwrap_err();
        assert!(
            matches!(e, StoreSealError::Invalid(SealError::NoHubSignature { .. })),
            "{e}"
        );
        assert_eq!(app.seals().latest().unwrap().unwrap().size, size);
        // A round on a log already sealed at its size does nothing.
        let known = KnownSizes::default();
        let none = round(&app, &reqwest::Client::new(), &known).await.unwrap();
        assert!(none.is_none());
    }
}
