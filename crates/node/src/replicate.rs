//! Replication to every non-hub node (trust_fork, compliance_witness): a
//! [`Replication`] task pulls the governance log from peers and a
//! [`ForwardingOrderer`] sends this node's submissions to a hub.
//!
//! A pull from a peer: fetch its head (`GET /v1/log/seal`, else its hub-signed
//! `GET /v1/log/checkpoint`) and verify it against this node's own State
//! ([`verify_head`]: a governance hub's signature and, where clause 5.4 asks for
//! witnesses, their cosignatures); check it against our own log (a consistency proof
//! from our size, or our own tree when the head is not ahead); fetch the missing
//! entries; check their leaf hashes rebuild the head's root; only then append them
//! through the state machine (`Ledger::append_records`). A peer caught serving a
//! tampered entry, a forked or inconsistent checkpoint or an entry the state machine
//! refuses is marked bad with the reason and skipped; the node carries on with the
//! next peer. Nothing a peer serves is stored unless it rebuilds a verified root.
//!
//! Pulls happen at once on an announce (`POST /v1/replication/announce`, peer-signed,
//! body = the seal) and otherwise on a timer. `GET /v1/replication` shows the peers.

use crate::error::ApiError;
use crate::gossip::Gossip;
use crate::order::{Committed, Orderer, SharedLedger, SubmitError, SubmitFuture, now};
use crate::peer_auth;
use crate::route_table::route_table;
use crate::seal::{PulledHead, SealStore, Seals};
use crate::shared::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use govmesh_core::Digest;
use govmesh_core::audit::LeafLog;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{EvidenceKind, EvidenceOp, LogRecord, Operation};
use govmesh_core::merkle::verify_consistency;
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_core::seal::{SealError, seal_threshold, verify_seal};
use govmesh_core::stamp::Timestamp;
use govmesh_core::state::State as GovState;
use govmesh_store::LedgerError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The path of the announce endpoint (signed by the announcing node).
pub const ANNOUNCE_PATH: &str = "/v1/replication/announce";
/// How often a node pulls when nobody announces. Announces wake a pull at once, so
/// this is the fallback for a missed one; every non-hub asks a hub first, so at 100
/// nodes a 2 s timer was about 50 head requests a second at one hub, idle.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Largest answer read from a peer (one page of entries is at most 1000 records).
const MAX_ANSWER_BYTES: usize = 64 << 20;
/// Entries asked for per request.
const PAGE: u64 = govmesh_store::MAX_PAGE;

/// How a node replicates.
#[derive(Clone, Debug)]
pub struct ReplicationOptions {
    /// Peers besides the registry's addresses (`--peer URL`), tried first.
    pub peers: Vec<String>,
    /// Pull this often when nobody announces.
    pub interval: Duration,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        ReplicationOptions {
            peers: Vec::new(),
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// A verified head of the log: a checkpoint signed by an active governance hub of our
/// State, with the witness cosignatures clause 5.4 asks for.
#[derive(Clone, Debug, Serialize)]
pub struct Head {
    pub size: u64,
    pub root: Digest,
    /// The hub whose signature verified.
    pub hub_node_id: String,
    /// Witnesses whose cosignatures verified.
    pub witness_node_ids: Vec<String>,
    /// The signed note as served.
    pub note: String,
}

/// Why a served head was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// Not signed by any hub we know (e.g. a node's own checkpoint) or short of
    /// cosignatures: not proof of anything, the peer just has nothing we can use.
    #[error("{0}")]
    Unusable(String),
    /// Tampered or of another mesh: the peer serves something false.
    #[error("{0}")]
    False(String),
}

/// Verifies a served head against `state`. This is the one place where heads are
/// trusted: [`govmesh_core::seal::verify_seal`] (a checkpoint of this mesh's log signed
/// by an active governance hub, with the clause 5.4 `seal_threshold` of active witness
/// cosignatures; with no witnesses the threshold is 0 and a hub-signed checkpoint is
/// a seal).
pub fn verify_head(text: &str, state: &GovState) -> Result<Head, HeadError> {
    match verify_seal(text, state) {
        Ok(v) => Ok(Head {
            size: v.checkpoint.size,
            root: v.checkpoint.root,
            hub_node_id: v.hub_node_id,
            witness_node_ids: v.witness_node_ids,
            note: text.to_owned(),
        }),
        Err(
            e @ (SealError::NoGenesis
            | SealError::NoHubSignature { .. }
            | SealError::BelowThreshold { .. }
            | SealError::BadRules(_)),
        ) => Err(HeadError::Unusable(e.to_string())),
        Err(
            e @ (SealError::Note(_)
            | SealError::WrongOrigin { .. }
            | SealError::BadHubSignature { .. }
            | SealError::BadCosignature { .. }),
        ) => Err(HeadError::False(e.to_string())),
    }
}

/// What `GET /v1/replication` shows about one peer.
#[derive(Clone, Debug, Serialize)]
pub struct PeerStatus {
    pub url: String,
    pub node_id: Option<String>,
    pub node_type: Option<NodeType>,
    /// `option` (given with `--peer`) or `registry`.
    pub source: &'static str,
    /// The last pull that succeeded (whether or not it brought entries).
    pub last_pull: Option<Timestamp>,
    /// Size of the last head verified from this peer.
    pub last_head_size: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Entries this node took from this peer.
    pub entries_pulled: u64,
    pub bad: bool,
    pub bad_reason: Option<String>,
    pub bad_since: Option<Timestamp>,
}

impl PeerStatus {
    fn new(
        url: String,
        node_id: Option<String>,
        node_type: Option<NodeType>,
        source: &'static str,
    ) -> PeerStatus {
        PeerStatus {
            url,
            node_id,
            node_type,
            source,
            last_pull: None,
            last_head_size: None,
            last_error: None,
            last_error_at: None,
            entries_pulled: 0,
            bad: false,
            bad_reason: None,
            bad_since: None,
        }
    }
}

#[derive(Default)]
struct Book {
    peers: Vec<PeerStatus>,
    /// The largest size announced to us (a verified head), to reach before a round
    /// may stop early.
    target: u64,
    /// Ask this peer first in the next round (the announcer).
    prefer: Option<String>,
    /// The latest head this node verified and holds the log of.
    head: Option<Head>,
    rounds: u64,
    last_round: Option<Timestamp>,
    evidence: Vec<Value>,
}

/// The replication service of a non-hub node, shared by its task and the API.
pub struct Replication {
    interval: Duration,
    explicit: Vec<String>,
    book: StdMutex<Book>,
    wake: Notify,
    http: reqwest::Client,
}

/// An HTTP client for node-to-node requests (loopback or LAN: short timeouts).
pub fn peer_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn normalize(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Why one pull from one peer failed.
#[derive(Debug)]
enum PullError {
    /// The peer is unreachable, slow or has nothing usable: try another.
    Soft(String),
    /// The peer served something false: mark it bad.
    Bad(String),
    /// This node's own fault (storage).
    Local(String),
}

impl Replication {
    fn new(opts: ReplicationOptions) -> Replication {
        let mut explicit: Vec<String> = Vec::new();
        for p in &opts.peers {
            let u = normalize(p);
            if !u.is_empty() && !explicit.contains(&u) {
                explicit.push(u);
            }
        }
        Replication {
            interval: opts.interval,
            explicit,
            book: StdMutex::new(Book::default()),
            wake: Notify::new(),
            http: peer_client(),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a pull now (e.g. after this node forwarded an entry of index
    /// `size - 1`): the next round goes on until the log reaches `size`.
    pub fn want(&self, size: u64) {
        {
            let mut b = self.book();
            b.target = b.target.max(size);
        }
        self.wake.notify_one();
    }

    /// The latest head this node verified (and holds the log up to).
    pub fn head(&self) -> Option<Head> {
        self.book().head.clone()
    }

    /// The peers with their state, in the order they are tried.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.book().peers.clone()
    }

    fn announced(&self, from_url: Option<String>, size: u64) {
        {
            let mut b = self.book();
            b.target = b.target.max(size);
            if from_url.is_some() {
                b.prefer = from_url;
            }
        }
        self.wake.notify_one();
    }

    /// Brings the peer list up to date with the registry: `--peer` URLs first, then
    /// active hubs, then the other nodes with an address (never this node). Keeps
    /// each known peer's history.
    fn refresh_peers(&self, state: &GovState, me: &str, my_url: Option<&str>) {
        let mut list: Vec<(String, Option<String>, Option<NodeType>, &'static str)> = Vec::new();
        for u in &self.explicit {
            list.push((u.clone(), None, None, "option"));
        }
        let mut nodes: Vec<_> = state
            .nodes()
            .into_iter()
            .filter(|n| n.node_id != me && n.status == NodeStatus::Active)
            .filter_map(|n| n.network_address.as_deref().map(|a| (normalize(a), n)))
            .filter(|(a, _)| !a.is_empty() && Some(a.as_str()) != my_url)
            .collect();
        nodes.sort_by_key(|(_, n)| n.node_type != NodeType::GovernanceHub);
        for (url, n) in nodes {
            if let Some(e) = list.iter_mut().find(|e| e.0 == url) {
                e.1 = Some(n.node_id.clone());
                e.2 = Some(n.node_type);
            } else {
                list.push((url, Some(n.node_id.clone()), Some(n.node_type), "registry"));
            }
        }
        let mut b = self.book();
        let mut old = std::mem::take(&mut b.peers);
        for (url, node_id, node_type, source) in list {
            let p = match old.iter().position(|p| p.url == url) {
                Some(i) => {
                    let mut p = old.swap_remove(i);
                    if node_id.is_some() {
                        p.node_id = node_id;
                        p.node_type = node_type;
                    }
                    p
                }
                None => PeerStatus::new(url, node_id, node_type, source),
            };
            b.peers.push(p);
        }
    }

    fn update(&self, url: &str, f: impl FnOnce(&mut PeerStatus)) {
        let mut b = self.book();
        if let Some(p) = b.peers.iter_mut().find(|p| p.url == url) {
            f(p);
        }
    }

    /// The JSON of `GET /v1/replication` (without this node's own size and root).
    pub(crate) fn view(&self) -> Value {
        let b = self.book();
        json!({
            "replicating": true,
            "interval_ms": self.interval.as_millis() as u64,
            "rounds": b.rounds,
            "last_round": b.last_round,
            "target_size": b.target,
            "seal_size": b.head.as_ref().map(|h| h.size),
            "seal_root": b.head.as_ref().map(|h| h.root),
            "seal_hub": b.head.as_ref().map(|h| h.hub_node_id.clone()),
            "seal": b.head.as_ref().map(|h| h.note.clone()),
            "peers": b.peers,
            "evidence": b.evidence,
        })
    }
}

/// A running replication with what its pulls work with: the node's shared parts and
/// seals (a verified seal is kept and served), and gossip (live peers are asked
/// first).
#[derive(Clone)]
pub struct Replica {
    seals: Seals,
    gossip: Option<Arc<Gossip>>,
    service: Arc<Replication>,
}

impl Replica {
    /// The replication service (its book of peers, heads and evidence).
    pub fn service(&self) -> &Arc<Replication> {
        &self.service
    }

    /// The head this replication verified last, for `GET /v1/log/seal`.
    pub fn pulled_head(&self) -> PulledHead {
        let r = self.service.clone();
        Arc::new(move || r.head().map(|h| (h.size, h.note)))
    }

    fn seals(&self) -> &Arc<SealStore> {
        self.seals.seals()
    }

    fn gossip(&self) -> Option<&Arc<Gossip>> {
        self.gossip.as_ref()
    }
}

impl std::ops::Deref for Replica {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.seals
    }
}

/// Starts replication for a non-hub node until `stop` turns true; returns the
/// running replication (for the HTTP handlers, the witness and the forwarding
/// orderer) and its task.
pub fn start(
    seals: Seals,
    gossip: Option<Arc<Gossip>>,
    opts: ReplicationOptions,
    stop: watch::Receiver<bool>,
) -> (Replica, JoinHandle<()>) {
    let r = Arc::new(Replication::new(opts));
    let replica = Replica {
        seals,
        gossip,
        service: r.clone(),
    };
    (replica.clone(), tokio::spawn(run(replica, r, stop)))
}

async fn run(app: Replica, r: Arc<Replication>, mut stop: watch::Receiver<bool>) {
    load_stored_seal(&app, &r).await;
    let mut tick = tokio::time::interval(r.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = r.wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if *stop.borrow() {
            return;
        }
        round(&app, &r).await;
    }
}

/// One round: try peers in order until the log has reached what was announced and
/// a peer that is not behind this node answered with a valid head.
async fn round(app: &Replica, r: &Replication) {
    let (me, my_url) = (app.info().node_id.clone(), app.url().map(normalize));
    {
        let l = app.ledger().lock().await;
        r.refresh_peers(l.state(), &me, my_url.as_deref());
    }
    // Gossip says who is alive (and how near): among hubs, and among the others,
    // live ones are asked first. Never a reason to trust a peer.
    let live: Vec<String> = app.gossip().map_or_else(Vec::new, |g| {
        g.live_peers()
            .into_iter()
            .map(|(_, url)| normalize(&url))
            .collect()
    });
    let order: Vec<String> = {
        let mut b = r.book();
        b.rounds += 1;
        b.last_round = Some(now());
        let mut peers: Vec<&PeerStatus> = b.peers.iter().filter(|p| !p.bad).collect();
        // Stable: `--peer` URLs first, then hubs, each live first.
        peers.sort_by_key(|p| {
            (
                p.source != "option",
                p.node_type != Some(NodeType::GovernanceHub),
                !live.contains(&p.url),
            )
        });
        let mut urls: Vec<String> = peers.into_iter().map(|p| p.url.clone()).collect();
        if let Some(pref) = b.prefer.take()
            && let Some(i) = urls.iter().position(|u| *u == pref)
        {
            let u = urls.remove(i);
            urls.insert(0, u);
        }
        urls
    };
    for url in order {
        let result = pull_from(app, r, &url).await;
        let own = app.ledger().lock().await.size();
        match result {
            Ok((head_size, pulled)) => {
                tracing::debug!(peer = %url, head_size, pulled, "pulled");
                r.update(&url, |p| {
                    p.last_pull = Some(now());
                    p.last_head_size = Some(head_size);
                    p.last_error = None;
                });
                // Done once this peer is not behind us and what was announced is
                // here; a peer behind us says nothing about what is new.
                if head_size >= own && own >= r.book().target {
                    return;
                }
            }
            Err(PullError::Soft(why)) => {
                tracing::debug!(peer = %url, %why, "no pull from this peer");
                r.update(&url, |p| {
                    p.last_error = Some(why);
                    p.last_error_at = Some(now());
                });
            }
            Err(PullError::Bad(why)) => {
                tracing::warn!(peer = %url, %why, "peer marked bad");
                r.update(&url, |p| {
                    p.bad = true;
                    p.bad_reason = Some(why.clone());
                    p.bad_since = Some(now());
                    p.last_error = Some(why);
                    p.last_error_at = Some(now());
                });
            }
            Err(PullError::Local(why)) => {
                tracing::error!(peer = %url, %why, "replication stopped by a local error");
                r.update(&url, |p| {
                    p.last_error = Some(format!("local: {why}"));
                    p.last_error_at = Some(now());
                });
                return;
            }
        }
    }
}

async fn get(r: &Replication, url: &str) -> Result<(u16, Vec<u8>), PullError> {
    let resp = r
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| PullError::Soft(format!("GET {url}: {e}")))?;
    let status = resp.status().as_u16();
    let body = read_capped(resp, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| PullError::Soft(format!("GET {url}: {e}")))?;
    Ok((status, body))
}

async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if buf.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn text(body: Vec<u8>, what: &str) -> Result<String, PullError> {
    String::from_utf8(body).map_err(|_| PullError::Bad(format!("{what} is not UTF-8 text")))
}

/// The peer's head: its seal. Where clause 5.4 asks for no cosignatures (no
/// witnesses) a hub's own checkpoint is a seal too, and fresher: it is asked first.
async fn fetch_head(app: &Replica, r: &Replication, base: &str) -> Result<Head, PullError> {
    let no_witnesses = {
        let l = app.ledger().lock().await;
        seal_threshold(l.state()).is_ok_and(|t| t == 0)
    };
    let paths: &[&str] = if no_witnesses {
        &["/v1/log/checkpoint", "/v1/log/seal"]
    } else {
        &["/v1/log/seal"]
    };
    let mut tried = Vec::new();
    for path in paths {
        let (status, body) = get(r, &format!("{base}{path}")).await?;
        if status == 404 {
            tried.push(format!("{path}: 404"));
            continue;
        }
        if status != 200 {
            tried.push(format!("{path}: HTTP {status}"));
            continue;
        }
        let t = text(body, &format!("the answer of {path}"))?;
        let verified = {
            let l = app.ledger().lock().await;
            verify_head(&t, l.state())
        };
        match verified {
            Ok(h) => return Ok(h),
            Err(HeadError::False(why)) => return Err(PullError::Bad(format!("{path}: {why}"))),
            Err(HeadError::Unusable(why)) => match verify_ahead(app, r, base, &t).await {
                Ok(Some(h)) => return Ok(h),
                Ok(None) => tried.push(format!("{path}: {why}")),
                Err(PullError::Soft(later)) => tried.push(format!("{path}: {why}; {later}")),
                Err(e) => return Err(e),
            },
        }
    }
    Err(PullError::Soft(format!(
        "no verifiable head ({})",
        tried.join("; ")
    )))
}

/// The most entries [`verify_ahead`] replays ahead of the log for a checkpoint whose
/// hub signature this node cannot check yet (a hub key learnt from those entries).
const PAST_ROTATION_MAX: u64 = 4 * PAGE;

/// A head short of clause 5.4's cosignatures under this node's state can still be a
/// seal under the rules of the log it seals: the entries between this node's size and
/// the head's can adopt another witness list or threshold (clause 5.4), and the hub
/// collected the seal under the rules at its size. So if the head is a checkpoint
/// signed by an active hub and extends this node's log, its entries are pulled (each
/// page checked against the signed root, as a pull checks them) and applied to a copy
/// of the state only, and the seal is verified against that copy: the state at the
/// seal's size, which the node's own state becomes when it appends them. The copy and
/// the entries are then dropped; a verified head is pulled again for real. `None`:
/// not a checkpoint ahead of this node, so nothing to learn from its entries.
///
/// The same holds for keys: a seal signed or cosigned with keys this node learns only
/// from the entries it covers (a hub's or a witness's key rotation, a newly registered
/// witness) verifies against the state at its size. Where not even the hub signature
/// verifies under this node's state, at most [`PAST_ROTATION_MAX`] entries are
/// replayed, so a stranger's note costs little.
async fn verify_ahead(
    app: &Replica,
    r: &Replication,
    base: &str,
    text: &str,
) -> Result<Option<Head>, PullError> {
    let (head, own, leaves, mut scratch) = {
        let l = app.ledger().lock().await;
        let (cp, hub) = match govmesh_core::seal::verify_hub_checkpoint(text, l.state()) {
            Ok((_, cp, hub)) => (cp, hub),
            Err(_) => {
                let Ok(cp) =
                    govmesh_core::checkpoint::SignedNote::parse(text).and_then(|n| n.checkpoint())
                else {
                    return Ok(None);
                };
                if cp.size.saturating_sub(l.size()) > PAST_ROTATION_MAX {
                    return Ok(None);
                }
                (cp, "(a key this node does not know yet)".to_owned())
            }
        };
        if cp.size <= l.size() {
            return Ok(None);
        }
        let head = Head {
            size: cp.size,
            root: cp.root,
            hub_node_id: hub,
            witness_node_ids: Vec::new(),
            note: text.to_owned(),
        };
        let own = (l.size(), l.root());
        (head, own, LeafLog::new(l.tree().clone()), l.state().clone())
    };
    pull_entries(
        app,
        r,
        base,
        &head,
        own,
        leaves,
        Sink::Scratch(&mut scratch),
    )
    .await?;
    match verify_head(text, &scratch) {
        Ok(h) => {
            tracing::info!(
                peer = %base,
                size = h.size,
                witnesses = ?h.witness_node_ids,
                "a seal under rules its own entries adopt verifies"
            );
            Ok(Some(h))
        }
        Err(HeadError::False(why)) => Err(PullError::Bad(why)),
        Err(HeadError::Unusable(why)) => Err(PullError::Soft(format!(
            "nor under the rules at its size {}: {why}",
            head.size
        ))),
    }
}

#[derive(Deserialize)]
struct ConsistencyAnswer {
    from: u64,
    to: u64,
    proof: Vec<Digest>,
}

#[derive(Deserialize)]
struct EntriesAnswer {
    entries: Vec<LogRecord>,
}

/// Pulls from one peer; returns (the peer's head size, entries appended).
async fn pull_from(app: &Replica, r: &Replication, base: &str) -> Result<(u64, u64), PullError> {
    let head = fetch_head(app, r, base).await?;
    pull_head(app, r, base, &head, true).await
}

/// For a witness asked to cosign `head` (a checkpoint signed by hub `head.hub_node_id`,
/// not yet a seal): brings this node's log up to it from `bases` (the signing hub's
/// URL first, then the other hubs': every entry is checked against the signed root,
/// so the source need not be trusted, and a hub that has just moved is still
/// registered at its old address until the entry that moves it is validated), each
/// entry replayed through the state machine, so that the witness cosigns only a log it
/// has validated entry by entry (votes, attestations, evidence). The head is not
/// stored as a seal. Retries while the node's own replication appends at the same
/// time; returns why it could not.
pub async fn validate_up_to(
    replica: Option<&Replica>,
    bases: &[String],
    head: Head,
) -> Result<(), String> {
    let Some(app) = replica else {
        return Err("this node does not replicate".into());
    };
    if bases.is_empty() {
        return Err(
            "no hub has a network address in the registry to fetch the entries from".into(),
        );
    }
    let r = app.service.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut why = Vec::new();
        for base in bases {
            match pull_head(app, &r, base.trim_end_matches('/'), &head, false).await {
                Ok(_) => return Ok(()),
                Err(PullError::Local(e)) => return Err(e),
                Err(PullError::Soft(e) | PullError::Bad(e)) => why.push(format!("{base}: {e}")),
            }
            if app.ledger().lock().await.size() >= head.size {
                // Held now (by this pull or the node's own replication): checked
                // against the signed root by the next round's pull_head.
                break;
            }
        }
        if app.ledger().lock().await.size() >= head.size {
            return pull_head(app, &r, bases[0].trim_end_matches('/'), &head, false)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    PullError::Soft(e) | PullError::Bad(e) | PullError::Local(e) => e,
                });
        }
        if std::time::Instant::now() >= deadline {
            return Err(why.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Brings this node's log up to the verified `head` from `base`; `seal`: the head is
/// a seal to keep and serve (false for a checkpoint a witness is asked to cosign).
async fn pull_head(
    app: &Replica,
    r: &Replication,
    base: &str,
    head: &Head,
    seal: bool,
) -> Result<(u64, u64), PullError> {
    let head = head.clone();
    let (own, own_root) = {
        let l = app.ledger().lock().await;
        if head.size <= l.size() {
            // Not ahead: it must agree with our own log at its size.
            let ours = l
                .tree()
                .root_at(head.size)
                .map_err(|e| PullError::Bad(format!("head of size {}: {e}", head.size)))?;
            drop(l);
            if ours != head.root {
                let why = fork_reason(&head, &ours);
                if seal {
                    record_fork(app, r, &head, base).await;
                }
                return Err(PullError::Bad(why));
            }
            if seal {
                keep_seal(app, r, &head).await;
            }
            return Ok((head.size, 0));
        }
        (l.size(), l.root())
    };

    let leaves = {
        let l = app.ledger().lock().await;
        if l.size() != own {
            return Err(PullError::Soft(
                "the log grew during the pull; retrying".into(),
            ));
        }
        LeafLog::new(l.tree().clone())
    };
    let pulled = pull_entries(app, r, base, &head, (own, own_root), leaves, Sink::Ledger).await?;
    if seal {
        keep_seal(app, r, &head).await;
    }
    tracing::info!(peer = %base, from = own, to = head.size, "replicated");
    Ok((head.size, pulled))
}

/// Where [`pull_entries`] puts the entries it has checked.
enum Sink<'a> {
    /// Appended to the node's ledger (replayed by its state machine, stored).
    Ledger,
    /// Applied to a copy of the state only, to learn the rules at the head's size.
    Scratch(&'a mut GovState),
}

/// Brings the entries `own.0..head.size` from `base` into `sink`, checked on the way:
/// the head's checkpoint must extend `own` (size, root), and each page's leaves on
/// `leaves` (a copy of the tree at `own`) must lead, by the peer's consistency proof,
/// to the signed root before the page goes to the sink. Memory stays one page however
/// far behind the node is. Returns how many entries went to the sink.
async fn pull_entries(
    app: &Replica,
    r: &Replication,
    base: &str,
    head: &Head,
    own: (u64, Digest),
    mut leaves: LeafLog,
    mut sink: Sink<'_>,
) -> Result<u64, PullError> {
    let (own, own_root) = own;
    // Ahead: its checkpoint must extend our log.
    let q = format!(
        "{base}/v1/log/proof/consistency?from={own}&to={}",
        head.size
    );
    let (status, body) = get(r, &q).await?;
    if status != 200 {
        return Err(PullError::Soft(format!(
            "consistency proof {own} to {}: HTTP {status}: {}",
            head.size,
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )));
    }
    let proof: ConsistencyAnswer = serde_json::from_slice(&body)
        .map_err(|e| PullError::Bad(format!("the consistency proof is malformed: {e}")))?;
    if proof.from != own || proof.to != head.size {
        return Err(PullError::Bad(format!(
            "asked for a consistency proof from {own} to {}, got one from {} to {}",
            head.size, proof.from, proof.to
        )));
    }
    if let Err(e) = verify_consistency(own, head.size, &own_root, &head.root, &proof.proof) {
        return Err(PullError::Bad(format!(
            "forked checkpoint: the checkpoint of size {} (root {}, signed by hub {}) is not \
             consistent with this node's log of size {own} (root {own_root}): {e}",
            head.size, head.root, head.hub_node_id
        )));
    }

    // The entries, a page at a time, each checked against the signed root before it
    // goes to the sink: the page's leaves on a copy of our tree give the root at the
    // page's end, and the peer's consistency proof from there must lead to the signed
    // root (a proof binds the old root, so a root it verifies from is the log's).
    let mut at = own;
    let mut pulled = 0;
    while at < head.size {
        let records = fetch_page(r, base, at, head.size.min(at + PAGE), head.size).await?;
        let k = at + records.len() as u64;
        for rec in &records {
            // Each the record asked for: its index is where its leaf goes.
            leaves.push(rec).map_err(|e| {
                PullError::Bad(format!("the peer did not serve the entries asked for: {e}"))
            })?;
        }
        let root_k = leaves.root();
        let checked = if k == head.size {
            if root_k == head.root {
                Ok(())
            } else {
                Err(format!("they hash to root {root_k}"))
            }
        } else {
            let q = format!("{base}/v1/log/proof/consistency?from={k}&to={}", head.size);
            let (status, body) = get(r, &q).await?;
            if status != 200 {
                return Err(PullError::Soft(format!(
                    "consistency proof {k} to {}: HTTP {status}",
                    head.size
                )));
            }
            let proof: ConsistencyAnswer = serde_json::from_slice(&body)
                .map_err(|e| PullError::Bad(format!("the consistency proof is malformed: {e}")))?;
            verify_consistency(k, head.size, &root_k, &head.root, &proof.proof).map_err(|e| {
                format!("the tree with them (root {root_k}) is not consistent with it: {e}")
            })
        };
        if let Err(why) = checked {
            let which = first_bad_entry(r, base, &leaves, at..k, head).await;
            return Err(PullError::Bad(format!(
                "tampered entry: entries {at} to {} served by this peer do not lead to the \
                 root {} of the checkpoint of size {} signed by hub {}: {why}{which}",
                k - 1,
                head.root,
                head.size,
                head.hub_node_id
            )));
        }
        match &mut sink {
            Sink::Ledger => {
                append_page(app, head, at, records).await?;
                r.update(base, |p| p.entries_pulled += k - at);
            }
            Sink::Scratch(state) => {
                for rec in &records {
                    state.apply_record(rec).map_err(|e| {
                        PullError::Bad(format!(
                            "entry {} of the checkpoint of size {} signed by hub {} is \
                             refused by the state machine: {e}",
                            rec.index, head.size, head.hub_node_id
                        ))
                    })?;
                }
            }
        }
        pulled += k - at;
        at = k;
    }
    Ok(pulled)
}

/// Entries `start..end` (fewer if the peer pages shorter, at least one); the caller
/// checks that they are the records asked for.
async fn fetch_page(
    r: &Replication,
    base: &str,
    start: u64,
    end: u64,
    head_size: u64,
) -> Result<Vec<LogRecord>, PullError> {
    let (status, body) = get(r, &format!("{base}/v1/log/entries?start={start}&end={end}")).await?;
    if status != 200 {
        return Err(PullError::Soft(format!(
            "entries {start} to {end}: HTTP {status}"
        )));
    }
    let mut page: EntriesAnswer = serde_json::from_slice(&body).map_err(|e| {
        PullError::Bad(format!("the entries from index {start} are malformed: {e}"))
    })?;
    if page.entries.is_empty() {
        return Err(PullError::Soft(format!(
            "the peer served no entries from index {start} though its head has size {head_size}"
        )));
    }
    page.entries.truncate((end - start) as usize);
    Ok(page.entries)
}

/// Appends verified records at `at` through the state machine and tells the log
/// subscribers.
async fn append_page(
    app: &Replica,
    head: &Head,
    at: u64,
    records: Vec<LogRecord>,
) -> Result<(), PullError> {
    let ledger: SharedLedger = app.ledger().clone();
    let guard = ledger.lock_owned().await;
    let telemetry = app.telemetry().clone();
    let (size, res) = tokio::task::spawn_blocking(move || {
        let mut l = guard;
        if l.size() != at {
            return (l.size(), Err(None));
        }
        let started = std::time::Instant::now();
        let res = l.append_records(&records).map(|_| ()).map_err(Some);
        telemetry.applied(started.elapsed());
        (l.size(), res)
    })
    .await
    .map_err(|e| PullError::Local(format!("append task failed: {e}")))?;
    if size > at {
        app.notify_log(size);
    }
    match res {
        Ok(()) => Ok(()),
        Err(None) => Err(PullError::Soft(
            "the log grew during the pull; retrying".into(),
        )),
        Err(Some(LedgerError::RecordRejected { index, rejection })) => {
            Err(PullError::Bad(format!(
                "entry {index} is in the checkpoint signed by hub {} but fails the state machine: \
             {rejection} (the entries before it, which pass, were kept)",
                head.hub_node_id
            )))
        }
        Err(Some(LedgerError::Rejected(rejection))) => Err(PullError::Bad(format!(
            "an entry fails the state machine: {rejection}"
        ))),
        Err(Some(e)) => Err(PullError::Local(e.to_string())),
    }
}

/// Keeps `head` as this node's latest verified head if it is larger than the one it
/// has, and stores it as this node's seal (`crate::seal`, served at
/// `GET /v1/log/seal`) so that others can pull from this node too.
async fn keep_seal(app: &Replica, r: &Replication, head: &Head) {
    if r.book().head.as_ref().is_some_and(|h| h.size >= head.size) {
        return;
    }
    if let Err(e) = crate::seal::store_verified_seal(&app.seals, &head.note).await {
        tracing::warn!(size = head.size, error = %e, "could not store the seal");
        return;
    }
    let mut b = r.book();
    if b.head.as_ref().is_none_or(|h| h.size < head.size) {
        b.head = Some(head.clone());
    }
}

/// The seal stored by an earlier run, if it still verifies.
async fn load_stored_seal(app: &Replica, r: &Replication) {
    let store = app.seals().clone();
    let Ok(Ok(Some(stored))) = tokio::task::spawn_blocking(move || store.latest()).await else {
        return;
    };
    let l = app.ledger().lock().await;
    if let Ok(h) = verify_head(&stored.text, l.state())
        && l.tree().root_at(h.size).is_ok_and(|root| root == h.root)
    {
        r.book().head = Some(h);
    }
}

fn fork_reason(head: &Head, ours: &Digest) -> String {
    format!(
        "forked checkpoint: the checkpoint of size {} signed by hub {} has root {}, this \
         node's log has root {ours} at that size",
        head.size, head.hub_node_id, head.root
    )
}

/// A same-size fork of two hub-signed checkpoints (our verified head and the one a
/// peer served) is provable offline: submit it as an `evidence` entry
/// (`checkpoint_fork`) through the orderer (to a hub), and show it at
/// `GET /v1/replication`.
async fn record_fork(app: &Replica, r: &Replication, forked: &Head, peer: &str) {
    let ours = r.head();
    let Some(ours) = ours.filter(|h| h.size == forked.size && h.root != forked.root) else {
        return;
    };
    let notes = vec![ours.note.clone(), forked.note.clone()];
    if r.book().evidence.iter().any(|e| e["notes"] == json!(notes)) {
        return;
    }
    let op = Operation::Evidence(EvidenceOp {
        kind: EvidenceKind::CheckpointFork,
        notes: notes.clone(),
    });
    let submitted = match app.submit_own(op).await {
        Ok(c) => json!({"index": c.index, "entry_hash": c.entry_hash}),
        Err(e) => json!({"error": e.to_string()}),
    };
    tracing::warn!(%peer, size = forked.size, %submitted, "checkpoint fork: evidence submitted");
    r.book().evidence.push(json!({
        "kind": "checkpoint_fork",
        "peer": peer,
        "size": forked.size,
        "notes": notes,
        "recorded_at": now(),
        "submitted": submitted,
    }));
}

/// Names the first served entry of `range` (at most 64 of them) that the peer's own
/// inclusion proofs do not lead to the signed root (best effort, for the report; the
/// refusal does not depend on it).
async fn first_bad_entry(
    r: &Replication,
    base: &str,
    leaves: &LeafLog,
    range: std::ops::Range<u64>,
    head: &Head,
) -> String {
    #[derive(Deserialize)]
    struct Inc {
        proof: Vec<Digest>,
    }
    let start = range.start;
    let mut proofs = Vec::new();
    for i in range.take(64) {
        let url = format!("{base}/v1/log/proof/inclusion?index={i}&size={}", head.size);
        let Ok((200, body)) = get(r, &url).await else {
            break;
        };
        let Ok(inc) = serde_json::from_slice::<Inc>(&body) else {
            break;
        };
        proofs.push(inc.proof);
    }
    let end = start + proofs.len() as u64;
    let mut fetched = |i: u64, _size: u64| proofs.get((i - start) as usize).cloned();
    match leaves.first_unproven(start..end, head.size, &head.root, &mut fetched) {
        Some(i) => format!("; entry {i} differs from the leaf the checkpoint commits to"),
        None => String::new(),
    }
}

// ---------------------------------------------------------------- HTTP handlers

/// What the replication endpoints hold: the node's seals (an announced seal of entries
/// this node holds is kept) and the running replication, on non-hubs that serve.
#[derive(Clone)]
struct Http {
    seals: Seals,
    replica: Option<Replica>,
}

impl Http {
    fn replication(&self) -> Option<&Arc<Replication>> {
        self.replica.as_ref().map(|r| &r.service)
    }
}

impl std::ops::Deref for Http {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.seals
    }
}

route_table!(Http {
    GET "/v1/replication" => replication_view,
    POST "/v1/replication/announce" => announce,
});

/// `GET /v1/replication` and `POST /v1/replication/announce`; `replica` is the
/// running replication (none on a hub, or a node not served).
pub fn routes(seals: Seals, replica: Option<Replica>) -> Router {
    table().with_state(Http { seals, replica })
}

/// `GET /v1/replication`.
async fn replication_view(State(app): State<Http>) -> Result<Json<Value>, ApiError> {
    let (size, root) = {
        let l = app.ledger().lock().await;
        (l.size(), l.root())
    };
    let mut v = match app.replication() {
        Some(r) => r.view(),
        None => json!({
            "replicating": false,
            "reason": "a governance hub orders the log through the council; it does not pull",
            "peers": [],
        }),
    };
    v["node_id"] = Value::String(app.info().node_id.clone());
    v["node_type"] = Value::String(app.info().node_type.as_str().to_owned());
    v["size"] = json!(size);
    v["root"] = json!(root);
    Ok(Json(v))
}

/// `POST /v1/replication/announce`: a peer-signed seal; pull at once if it is ahead.
async fn announce(
    State(app): State<Http>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let registry = app.registry().current();
    let (from, body) = peer_auth::read_body(
        &registry,
        app.key(),
        &headers,
        "POST",
        ANNOUNCE_PATH,
        body,
        crate::MAX_BODY_BYTES,
        &[
            NodeType::GovernanceHub,
            NodeType::ComplianceWitness,
            NodeType::TrustFork,
        ],
    )
    .await?;
    drop(registry);
    let (from, head, own, from_url) = {
        let t = crate::bodies::text(&body, "bad_seal", "the announced seal")?;
        let l = app.ledger().lock().await;
        let from_url = l
            .state()
            .node(&from)
            .and_then(|n| n.network_address.as_deref())
            .map(normalize);
        let head = match verify_head(t, l.state()) {
            Ok(h) => h,
            Err(HeadError::False(why)) => {
                return Err(ApiError::unprocessable(
                    "bad_seal",
                    format!("the announced seal: {why}"),
                ));
            }
            Err(HeadError::Unusable(why)) => {
                // Signed by a hub or witnesses this node does not know yet (its log
                // is behind?), or short of cosignatures: pull anyway, trusting only
                // what verifies against the log as it grows.
                let size = l.size();
                drop(l);
                let pulling = app.replication().is_some();
                if let Some(r) = app.replication() {
                    r.announced(from_url, 0);
                }
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(json!({
                        "from": from,
                        "verified": false,
                        "reason": why,
                        "size": size,
                        "pulling": pulling,
                    })),
                )
                    .into_response());
            }
        };
        (from, head, l.size(), from_url)
    };
    let pulling = match app.replication() {
        Some(r) if head.size > own => {
            r.announced(from_url, head.size);
            true
        }
        _ => false,
    };
    // A node that already holds the sealed entries (e.g. a council follower) keeps the
    // seal as its latest (crate::seal, served at GET /v1/log/seal).
    if head.size <= own
        && let Ok(text) = std::str::from_utf8(&body)
        && let Err(e) = crate::seal::store_verified_seal(&app.seals, text).await
    {
        tracing::debug!(%from, error = %e, "the announced seal was not stored");
    }
    tracing::debug!(%from, size = head.size, own, pulling, "seal announced");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "from": from,
            "verified": true,
            "announced_size": head.size,
            "size": own,
            "pulling": pulling,
        })),
    )
        .into_response())
}

// ---------------------------------------------------------------- forwarding orderer

/// The orderer of a non-hub node: sends each entry to a governance hub (active hubs
/// of the registry with an address, in turn) and returns the hub's answer.
pub struct ForwardingOrderer {
    ledger: SharedLedger,
    me: String,
    http: reqwest::Client,
    /// This node's replication, once it runs: a forwarded entry is pulled back at once.
    replication: std::sync::OnceLock<std::sync::Weak<Replication>>,
}

impl ForwardingOrderer {
    pub fn new(ledger: SharedLedger, node_id: String) -> ForwardingOrderer {
        // Longer than a hub's own submit budget (the council answers 503 after 15 s
        // without a commit), so a slow commit is answered by the hub, not cut short
        // here and resent to another hub (which would then refuse it as a replay).
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ForwardingOrderer {
            ledger,
            me: node_id,
            http,
            replication: std::sync::OnceLock::new(),
        }
    }

    /// Tells the orderer which replication pulls this node's log, so that an entry a
    /// hub committed is fetched back at once (replication notifies the log
    /// subscribers when it arrives).
    pub fn attach(&self, replication: &Arc<Replication>) {
        let _ = self.replication.set(Arc::downgrade(replication));
    }

    /// Forwards the entry; once a hub committed it, asks replication to pull it back.
    async fn submit_and_pull(&self, envelope: Envelope) -> Result<Committed, SubmitError> {
        let c = self.forward(envelope).await?;
        if let Some(r) = self.replication.get().and_then(std::sync::Weak::upgrade) {
            r.want(c.index + 1);
        }
        Ok(c)
    }

    async fn forward(&self, envelope: Envelope) -> Result<Committed, SubmitError> {
        let hubs: Vec<String> = {
            let l = self.ledger.lock().await;
            crate::shared::active_hubs_with_address(l.state())
                .filter(|(n, _)| n.node_id != self.me)
                .map(|(_, a)| normalize(a))
                .filter(|a| !a.is_empty())
                .collect()
        };
        if hubs.is_empty() {
            return Err(SubmitError::Forwarded {
                status: 503,
                code: "no_hub".into(),
                message: "no active governance hub with a network address in the registry to \
                          forward the entry to"
                    .into(),
            });
        }
        let body = serde_json::to_vec(&envelope).map_err(SubmitError::Encode)?;
        let mut failures = Vec::new();
        let mut last = None;
        for hub in hubs {
            let url = format!("{hub}/v1/entries");
            let resp = match self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{hub}: {e}"));
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let bytes = match read_capped(resp, 1 << 20).await {
                Ok(b) => b,
                Err(e) => {
                    failures.push(format!("{hub}: {e}"));
                    continue;
                }
            };
            if status == 201 || status == 200 {
                return serde_json::from_slice::<Committed>(&bytes).map_err(|e| {
                    SubmitError::Forwarded {
                        status: 502,
                        code: "bad_hub_answer".into(),
                        message: format!(
                            "hub {hub} accepted the entry but its answer does not parse: {e}"
                        ),
                    }
                });
            }
            let (code, message) = error_body(&bytes);
            let answer = SubmitError::Forwarded {
                status,
                code,
                message,
            };
            if status >= 500 {
                failures.push(format!("{hub}: HTTP {status}"));
                last = Some(answer);
                continue;
            }
            return Err(answer);
        }
        Err(last.unwrap_or_else(|| SubmitError::Forwarded {
            status: 503,
            code: "no_hub".into(),
            message: format!("no governance hub answered: {}", failures.join("; ")),
        }))
    }
}

fn error_body(bytes: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or("hub_error")
        .to_owned();
    let message = v["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned());
    (code, message)
}

impl Orderer for ForwardingOrderer {
    fn submit(&self, envelope: Envelope) -> SubmitFuture<'_> {
        Box::pin(self.submit_and_pull(envelope))
    }

    fn applies_locally(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use govmesh_core::checkpoint::Checkpoint;
    use govmesh_core::codex::codex_genesis;
    use govmesh_core::entry::{NodeSpec, sign_entry};
    use govmesh_core::keys::KeyPair;

    fn spec(k: &KeyPair, node_type: NodeType) -> NodeSpec {
        NodeSpec {
            node_type,
            network_address: Some(format!(
                "http://127.0.0.1:{}/",
                9000 + k.public().as_bytes()[0] as u16
            )),
            ..crate::test_util::hub_spec(k)
        }
    }

    /// A State founded by one hub and one trust fork (no witnesses: threshold 0).
    fn state() -> (GovState, KeyPair, KeyPair, String) {
        let (hub, fork) = (KeyPair::from_seed([1; 32]), KeyPair::from_seed([2; 32]));
        let g = codex_genesis(
            "m",
            vec![
                spec(&hub, NodeType::GovernanceHub),
                spec(&fork, NodeType::TrustFork),
            ],
        );
        let mut st = GovState::new();
        st.apply(&sign_entry(&hub, Operation::Genesis(g)), now())
            .unwrap();
        let origin = crate::wire::checkpoint_origin(&st.mesh_id().unwrap());
        (st, hub, fork, origin)
    }

    fn note(origin: &str, size: u64, signer: &KeyPair) -> String {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Digest::sha256(b"r"),
            extensions: vec![],
        }
        .sign(origin, signer)
        .to_text()
    }

    #[test]
    fn heads_are_trusted_false_or_unusable() {
        let (st, hub, fork, origin) = state();
        let h = verify_head(&note(&origin, 7, &hub), &st).unwrap();
        assert_eq!((h.size, h.hub_node_id.as_str()), (7, hub.node_id()));
        // A node's own checkpoint proves nothing and accuses nobody.
        let e = verify_head(&note(&origin, 7, &fork), &st).unwrap_err();
        assert!(matches!(e, HeadError::Unusable(_)), "{e}");
        // Another mesh's log, garbage, a hub signature that does not verify: false.
        let e = verify_head(&note("govmesh/0000000000000000", 7, &hub), &st).unwrap_err();
        assert!(matches!(e, HeadError::False(_)), "{e}");
        let e = verify_head("hello\n", &st).unwrap_err();
        assert!(matches!(e, HeadError::False(_)), "{e}");
        let good = note(&origin, 7, &hub);
        let tampered = good.replacen("\n7\n", "\n8\n", 1);
        let e = verify_head(&tampered, &st).unwrap_err();
        assert!(matches!(e, HeadError::False(_)), "{e}");
    }

    #[test]
    fn peers_come_from_options_then_hubs_then_the_rest() {
        let (st, hub, fork, _) = state();
        let r = Replication::new(ReplicationOptions {
            peers: vec!["http://x:1/".into(), "http://x:1".into(), " ".into()],
            interval: DEFAULT_INTERVAL,
        });
        // Seen from a third node: the fork and the hub are peers, hubs first.
        r.refresh_peers(&st, "someone-else", None);
        let p = r.peers();
        let urls: Vec<&str> = p.iter().map(|p| p.url.as_str()).collect();
        let hub_url = normalize(
            spec(&hub, NodeType::GovernanceHub)
                .network_address
                .as_deref()
                .unwrap(),
        );
        let fork_url = normalize(
            spec(&fork, NodeType::TrustFork)
                .network_address
                .as_deref()
                .unwrap(),
        );
        assert_eq!(urls, ["http://x:1", hub_url.as_str(), fork_url.as_str()]);
        assert_eq!(p[1].node_id.as_deref(), Some(hub.node_id()));
        assert_eq!(p[0].source, "option");
        // A node never lists itself; history survives a refresh.
        r.update(&hub_url, |p| p.bad = true);
        r.refresh_peers(&st, fork.node_id(), Some(&fork_url));
        let p = r.peers();
        assert_eq!(p.len(), 2);
        assert!(p[1].bad);
    }
}
