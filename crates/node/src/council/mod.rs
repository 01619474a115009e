//! The Raft council of governance hubs (openraft 0.9 over HTTP). Every hub runs a
//! [`Council`]; it is the hub's [`Orderer`]: the leader stamps `{envelope, stamp_ms}`
//! and proposes it, every hub applies committed entries to its Ledger through the
//! state machine (storage.rs), and the client is answered once the entry is
//! committed by a majority and applied (durable). A follower forwards the submission
//! to the leader's `POST /v1/entries` and answers with the leader's answer once its
//! own ledger holds the entry (or after a short wait). A one-hub mesh is a council of
//! one: the same code path. With no leader, or no commit within the submit timeout
//! (15 s), the answer is 503 (`no_leader`: nothing stored; `not_committed` or
//! `leader_unreachable`: the outcome is unknown, check the log).
//!
//! Membership at bootstrap: every active governance_hub of the registry that has a
//! `network_address` (the genesis founders on a fresh mesh), each at that address;
//! when no hub has one, this hub alone (the single-node mesh). Afterwards the leader
//! makes the membership follow the registry (register_node / update_node of hubs). Every hub
//! initializes the council with that same membership when its Raft state is pristine
//! (openraft documents this as safe when the configs agree), so a fresh mesh elects
//! a leader with no human step. Raft node ids are the first 8 bytes of
//! SHA-256(node_id); the registry node id travels with each member ([`HubNode`]).

mod forward;
mod network;
mod storage;

use crate::datadir::{NodeInfo, load, load_key, load_token};
use crate::error::{ApiError, NodeError};
use crate::order::{Committed, LogNotify, Orderer, SharedLedger, SubmitError, SubmitFuture, now};
use crate::route_table::route_table;
use crate::shared::Shared;
use crate::telemetry::Telemetry;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use govmesh_core::Digest;
use govmesh_core::dsse::Envelope;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_core::state::Rejection;
use govmesh_store::Ledger;
use govmesh_store::raft::RaftStore;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{Config, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use forward::{FORWARD_MAX_ENTRIES, FORWARD_PATH, ForwardOutcome};
pub use network::decode_raft_request;

/// A council member as Raft knows it: the registry node id and its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubNode {
    pub node_id: String,
    pub addr: String,
}

/// A signed entry and the leader's stamp.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CouncilItem {
    pub envelope: Envelope,
    pub stamp_ms: i64,
    /// The proposing leader verified the signature strictly under the registered key
    /// its key id names, before proposing; every hub's state machine then checks
    /// only that this key id is the author's at this point of the log
    /// (`State::apply_preverified`), which gives the answer a full check gives. False
    /// (and absent in older `raft.db` files) means the state machine verifies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signature_verified: bool,
}

/// Whether `envelope`'s one signature verifies strictly (`PublicKey::verify`) under
/// the registered key its key id names. False when it cannot say (an unknown key id:
/// e.g. a node registered in a batch still in flight); the state machine then
/// verifies it itself, and refuses what fails.
fn signature_verifies(registry: &govmesh_store::Registry, envelope: &Envelope) -> bool {
    let Ok((keyid, signed, sig)) = govmesh_core::entry::signature_parts(envelope) else {
        return false;
    };
    registry
        .key(&keyid)
        .is_some_and(|key| key.verify(&signed, &sig).is_ok())
}

/// The Raft application data. The leader proposes a `Batch` (group commit: the
/// submissions that arrived while earlier writes were in flight, one Raft entry);
/// `Single` is the older one-entry form, still read from existing `raft.db` files
/// (`{"envelope", "stamp_ms"}`; a batch is `{"batch": [...]}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CouncilRequest {
    Batch { batch: Vec<CouncilItem> },
    Single(CouncilItem),
}

impl CouncilRequest {
    /// The entries this Raft entry carries, in order.
    pub fn items(&self) -> &[CouncilItem] {
        match self {
            CouncilRequest::Batch { batch } => batch,
            CouncilRequest::Single(item) => std::slice::from_ref(item),
        }
    }
}

/// What applying a Raft entry answered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CouncilAnswer {
    Committed(Committed),
    Rejected(Rejection),
    /// Blank and membership entries.
    Nothing,
    /// A batch entry: one answer (`Committed` or `Rejected`) per envelope, in order.
    Batch(Vec<CouncilAnswer>),
}

openraft::declare_raft_types!(
    /// openraft's type configuration for the council.
    pub TypeConfig:
        D = CouncilRequest,
        R = CouncilAnswer,
        NodeId = u64,
        Node = HubNode,
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

/// The council's Raft id for a registry node id.
pub fn raft_id(node_id: &str) -> u64 {
    let d = Digest::sha256(node_id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_bytes()[..8]);
    u64::from_be_bytes(b)
}

/// Per-node council settings file in the data directory (optional; every field
/// optional): `{"heartbeat_ms", "election_min_ms", "election_max_ms",
/// "snapshot_every", "keep_logs", "submit_timeout_ms"}`.
pub const COUNCIL_FILE: &str = "council.json";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CouncilFile {
    heartbeat_ms: Option<u64>,
    election_min_ms: Option<u64>,
    election_max_ms: Option<u64>,
    snapshot_every: Option<u64>,
    keep_logs: Option<u64>,
    submit_timeout_ms: Option<u64>,
}

/// Group commit: at most this many envelopes, and about this many bytes, per Raft
/// entry.
const BATCH_MAX_ENTRIES: usize = 256;
const BATCH_MAX_BYTES: usize = 1 << 20;

/// A submission waiting for its batch to be committed and applied.
struct Pending {
    envelope: Envelope,
    signature_verified: bool,
    reply: tokio::sync::oneshot::Sender<Proposed>,
}

/// What proposing a batch answered for one of its envelopes.
enum Proposed {
    Answer(CouncilAnswer),
    /// This hub does not lead: the leader it knows of, if any.
    NotLeader(Option<HubNode>),
    Failed(String),
    Stopped,
}

/// About how many bytes an envelope takes in a Raft entry.
fn envelope_bytes(e: &Envelope) -> usize {
    64 + e.payload_type.len()
        + e.payload.len()
        + e.signatures
            .iter()
            .map(|s| 32 + s.keyid.len() + s.sig.len())
            .sum::<usize>()
}

/// Collects submissions into batches and proposes each batch as one Raft entry
/// (at most `in_flight` at a time); routes each envelope's answer back to its
/// submitter. Ends when every sender is gone.
async fn batch_loop(
    raft: Raft<TypeConfig>,
    in_flight: usize,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Pending>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot first: what arrives meanwhile joins this batch.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = envelope_bytes(&first.envelope);
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX_ENTRIES {
            let Ok(next) = rx.try_recv() else { break };
            bytes += envelope_bytes(&next.envelope);
            batch.push(next);
            if bytes >= BATCH_MAX_BYTES {
                break;
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let stamp_ms = now().millis();
            let (items, replies): (Vec<CouncilItem>, Vec<_>) = batch
                .into_iter()
                .map(|p| {
                    (
                        CouncilItem {
                            envelope: p.envelope,
                            stamp_ms,
                            signature_verified: p.signature_verified,
                        },
                        p.reply,
                    )
                })
                .unzip();
            let n = items.len();
            let written = raft
                .client_write(CouncilRequest::Batch { batch: items })
                .await;
            drop(permit);
            match written {
                Ok(resp) => {
                    let answers = match resp.data {
                        CouncilAnswer::Batch(a) if a.len() == n => a,
                        other => {
                            let m = format!("the council answered a batch of {n} with {other:?}");
                            for r in replies {
                                let _ = r.send(Proposed::Failed(m.clone()));
                            }
                            return;
                        }
                    };
                    for (r, a) in replies.into_iter().zip(answers) {
                        let _ = r.send(Proposed::Answer(a));
                    }
                }
                Err(e) => {
                    for r in replies {
                        let p = match &e {
                            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                                Proposed::NotLeader(f.leader_node.clone())
                            }
                            RaftError::APIError(e) => Proposed::Failed(e.to_string()),
                            RaftError::Fatal(e) => {
                                tracing::warn!(error = %e, "Raft stopped");
                                Proposed::Stopped
                            }
                        };
                        let _ = r.send(p);
                    }
                }
            }
        });
    }
}

/// How far (in Raft entries) a new hub may trail the leader and still be made a
/// voter.
const CATCH_UP_LAG: u64 = 16;

/// Timing and compaction of the council.
#[derive(Clone, Debug)]
pub struct CouncilSettings {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Build a snapshot after this many Raft entries since the last one.
    pub snapshot_every: u64,
    /// Raft entries kept before the snapshot point (followers a little behind catch up
    /// from the log rather than by snapshot).
    pub keep_logs: u64,
    /// How long a submission waits for a leader / for the forwarded answer.
    pub submit_timeout: Duration,
    /// Group commit: batches proposed to Raft and not yet answered, at most
    /// (submissions arriving meanwhile wait and form the next batch).
    pub batch_in_flight: usize,
    /// Batches a follower has forwarded to the leader and not yet had answered, at
    /// most (submissions arriving meanwhile wait and form the next batch).
    pub forward_in_flight: usize,
}

impl Default for CouncilSettings {
    fn default() -> CouncilSettings {
        CouncilSettings {
            // An idle hub's largest steady cost after gossip: a heartbeat to each
            // follower every interval. Five to ten heartbeats per election timeout,
            // as at 150 ms / 1-2 s before.
            heartbeat_ms: 250,
            election_min_ms: 1250,
            election_max_ms: 2500,
            snapshot_every: 1000,
            keep_logs: 200,
            submit_timeout: Duration::from_secs(15),
            batch_in_flight: 1,
            forward_in_flight: 2,
        }
    }
}

impl CouncilSettings {
    /// The defaults, overridden by `GOVMESH_RAFT_HEARTBEAT_MS`,
    /// `GOVMESH_RAFT_ELECTION_MIN_MS`, `GOVMESH_RAFT_ELECTION_MAX_MS`,
    /// `GOVMESH_RAFT_SNAPSHOT_EVERY`, `GOVMESH_RAFT_KEEP_LOGS`,
    /// `GOVMESH_RAFT_BATCH_IN_FLIGHT` and `GOVMESH_RAFT_FORWARD_IN_FLIGHT` when set.
    pub fn from_env() -> CouncilSettings {
        CouncilSettings::default().with_env()
    }

    fn with_env(mut self) -> CouncilSettings {
        let s = &mut self;
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
        if let Some(v) = var("GOVMESH_RAFT_HEARTBEAT_MS") {
            s.heartbeat_ms = v;
        }
        if let Some(v) = var("GOVMESH_RAFT_ELECTION_MIN_MS") {
            s.election_min_ms = v;
        }
        if let Some(v) = var("GOVMESH_RAFT_ELECTION_MAX_MS") {
            s.election_max_ms = v;
        }
        if let Some(v) = var("GOVMESH_RAFT_SNAPSHOT_EVERY") {
            s.snapshot_every = v;
        }
        if let Some(v) = var("GOVMESH_RAFT_KEEP_LOGS") {
            s.keep_logs = v;
        }
        if let Some(v) = var("GOVMESH_RAFT_BATCH_IN_FLIGHT") {
            s.batch_in_flight = (v as usize).max(1);
        }
        if let Some(v) = var("GOVMESH_RAFT_FORWARD_IN_FLIGHT") {
            s.forward_in_flight = (v as usize).max(1);
        }
        self
    }

    /// The defaults, then `DIR/council.json` if present, then the environment
    /// variables of [`CouncilSettings::from_env`].
    pub fn for_dir(dir: &Path) -> Result<CouncilSettings, NodeError> {
        let path = dir.join(COUNCIL_FILE);
        let file: CouncilFile = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| NodeError::BadFile {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CouncilFile::default(),
            Err(e) => return Err(NodeError::Io { path, source: e }),
        };
        let mut s = CouncilSettings::default();
        s.heartbeat_ms = file.heartbeat_ms.unwrap_or(s.heartbeat_ms);
        s.election_min_ms = file.election_min_ms.unwrap_or(s.election_min_ms);
        s.election_max_ms = file.election_max_ms.unwrap_or(s.election_max_ms);
        s.snapshot_every = file.snapshot_every.unwrap_or(s.snapshot_every);
        s.keep_logs = file.keep_logs.unwrap_or(s.keep_logs);
        if let Some(ms) = file.submit_timeout_ms {
            s.submit_timeout = Duration::from_millis(ms);
        }
        Ok(s.with_env())
    }

    fn raft_config(&self, cluster: &str) -> Result<Config, NodeError> {
        Config {
            cluster_name: cluster.to_owned(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_min_ms,
            election_timeout_max: self.election_max_ms,
            // At most 64 entries of at most 1 MiB each per append (the Raft routes
            // read up to network::MAX_RAFT_BODY_BYTES).
            max_payload_entries: 64,
            snapshot_max_chunk_size: 256 * 1024,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every.max(1)),
            max_in_snapshot_log_to_keep: self.keep_logs,
            ..Default::default()
        }
        .validate()
        .map_err(|e| NodeError::BadOptions(format!("Raft settings: {e}")))
    }
}

/// This hub's council member.
pub struct Council {
    raft: Raft<TypeConfig>,
    id: u64,
    node_id: String,
    ledger: SharedLedger,
    log: LogNotify,
    settings: CouncilSettings,
    sm_alive: Arc<()>,
    /// Apply latencies and failed RPCs (shared with the node's [`Shared`]).
    telemetry: Telemetry,
    /// This hub's URL (the leader's own address when the registry has none).
    url: Option<String>,
    stopping: std::sync::atomic::AtomicBool,
    /// Submissions to the group-commit loop ([`batch_loop`]).
    proposals: tokio::sync::mpsc::UnboundedSender<Pending>,
    /// The ledger's registry, for the signature check before proposing.
    registry: govmesh_store::RegistryView,
    /// Entries to forward to the leader, in batches ([`forward::forward_loop`]).
    forwards: tokio::sync::mpsc::UnboundedSender<forward::ForwardJob>,
}

/// The active governance_hub nodes of the registry that have a `network_address` (a
/// hub without one is a voting identity, not a server), by Raft id.
fn addressed_hubs(state: &govmesh_core::state::State) -> Result<BTreeMap<u64, HubNode>, NodeError> {
    let mut members = BTreeMap::new();
    for (n, addr) in crate::shared::active_hubs_with_address(state) {
        let id = raft_id(&n.node_id);
        if let Some(other) = members.insert(
            id,
            HubNode {
                node_id: n.node_id.clone(),
                addr: addr.to_owned(),
            },
        ) {
            return Err(NodeError::BadOptions(format!(
                "hubs {} and {} map to the same Raft id {id}",
                other.node_id, n.node_id
            )));
        }
    }
    Ok(members)
}

/// The membership a pristine hub bootstraps with: the addressed hubs; when there are
/// none, this hub alone at `my_url` (the single-node mesh). `None` when other hubs
/// have addresses and this one has none: it waits for the council's leader to add it
/// (two councils must never form).
fn bootstrap_members(
    state: &govmesh_core::state::State,
    me: &str,
    my_url: Option<&str>,
) -> Result<Option<BTreeMap<u64, HubNode>>, NodeError> {
    let mut members = addressed_hubs(state)?;
    if members.is_empty() {
        members.insert(
            raft_id(me),
            HubNode {
                node_id: me.to_owned(),
                addr: my_url.unwrap_or_default().to_owned(),
            },
        );
    }
    Ok(members.contains_key(&raft_id(me)).then_some(members))
}

impl Council {
    /// Opens `raft.db` beside the ledger, starts Raft and, when its state is
    /// pristine, initializes the council with the registry's hubs.
    pub async fn start(
        info: &NodeInfo,
        key: KeyPair,
        ledger: SharedLedger,
        log: LogNotify,
        url: Option<String>,
        settings: CouncilSettings,
    ) -> Result<Arc<Council>, NodeError> {
        let dir = info.dir.clone();
        let db = tokio::task::spawn_blocking(move || RaftStore::open(&dir))
            .await
            .map_err(|source| NodeError::Task {
                what: "opening raft.db",
                source,
            })??;
        let db = Arc::new(Mutex::new(db));
        let alive = Arc::new(());
        let telemetry = Telemetry::default();
        let sm = {
            let (l, d, n, a) = (ledger.clone(), db.clone(), log.clone(), alive.clone());
            let t = telemetry.clone();
            tokio::task::spawn_blocking(move || storage::StateMachine::open(l, d, n, a, t))
                .await
                .map_err(|source| NodeError::Task {
                    what: "opening raft.db",
                    source,
                })?
                .map_err(NodeError::CouncilState)?
        };
        let logs = storage::LogStore::new(db);
        let config = Arc::new(settings.raft_config(&info.mesh_id)?);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(NodeError::HttpClient)?;
        let registry = {
            let mut l = ledger.lock().await;
            // The Raft log is the durable copy; the ledger is re-applied from it
            // after a machine crash (see storage.rs).
            l.defer_commit_sync().map_err(NodeError::Store)?;
            l.registry()
        };
        let net = network::Network {
            http: http.clone(),
            key: key.clone(),
            registry: registry.clone(),
            failures: telemetry.council_rpc_failures.clone(),
        };
        let id = raft_id(&info.node_id);
        let raft = Raft::new(id, config, net, logs, sm)
            .await
            .map_err(|e| NodeError::Raft {
                what: "starting Raft",
                source: Box::new(e),
            })?;
        let (proposals, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(batch_loop(raft.clone(), settings.batch_in_flight, queue));
        let (forwards, to_forward) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(forward::forward_loop(
            http.clone(),
            key.clone(),
            registry.clone(),
            settings.forward_in_flight,
            to_forward,
        ));
        let council = Arc::new(Council {
            proposals,
            registry,
            forwards,
            raft,
            id,
            node_id: info.node_id.clone(),
            ledger,
            log,
            settings,
            sm_alive: alive,
            telemetry,
            url: url.clone(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        });
        let initialized = council
            .raft
            .is_initialized()
            .await
            .map_err(|e| NodeError::Raft {
                what: "Raft",
                source: Box::new(e),
            })?;
        if !initialized {
            let members = {
                let l = council.ledger.lock().await;
                bootstrap_members(l.state(), &info.node_id, url.as_deref())?
            };
            match members {
                Some(members) => {
                    tracing::info!(members = members.len(), "initializing the Raft council");
                    match council.raft.initialize(members).await {
                        Ok(()) => {}
                        // Another hub's initialization reached us first: same membership.
                        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                        Err(e) => {
                            return Err(NodeError::Raft {
                                what: "initializing Raft",
                                source: Box::new(e),
                            });
                        }
                    }
                }
                None => tracing::info!(
                    "this hub is not among the registry's addressed hubs yet: waiting for the \
                     council's leader to add it"
                ),
            }
        }
        tokio::spawn(membership_loop(Arc::downgrade(&council)));
        Ok(council)
    }

    pub(crate) fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// Stops Raft and waits (up to 5 s) until its state machine has let go of the
    /// ledger, so the ledger can be closed.
    pub async fn shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "stopping Raft failed");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&self.sm_alive) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether this hub leads the council now.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    /// The council as `GET /v1/council` shows it.
    pub fn view(&self) -> Value {
        let m = self.raft.metrics().borrow().clone();
        let members: Vec<Value> = m
            .membership_config
            .membership()
            .nodes()
            .map(|(id, n)| {
                json!({
                    "node_id": n.node_id,
                    "raft_id": id,
                    "url": n.addr,
                    "voter": m.membership_config.membership().voter_ids().any(|v| v == *id),
                })
            })
            .collect();
        let leader = m.current_leader.and_then(|l| {
            m.membership_config
                .membership()
                .get_node(&l)
                .map(|n| json!({"node_id": n.node_id, "raft_id": l, "url": n.addr}))
        });
        json!({
            "node_id": self.node_id,
            "raft_id": self.id,
            "state": format!("{:?}", m.state).to_lowercase(),
            "term": m.current_term,
            "leader": leader,
            "members": members,
            "last_log_index": m.last_log_index,
            "last_applied_index": m.last_applied.map(|l| l.index),
            "snapshot_index": m.snapshot.map(|l| l.index),
            "purged_index": m.purged.map(|l| l.index),
        })
    }

    /// On the leader: makes the council's membership follow the registry (active
    /// governance_hub nodes with an address; new hubs join as learners, then voters;
    /// hubs no longer active leave; changed addresses are updated).
    async fn reconcile_membership(&self) -> Result<(), String> {
        let mut desired = {
            let l = self.ledger.lock().await;
            let st = l.state();
            let mut d = addressed_hubs(st).map_err(|e| e.to_string())?;
            // The leader without a registry address (a council that began as one hub)
            // stays at its own URL.
            let me = raft_id(&self.node_id);
            let active_hub = st.node(&self.node_id).is_some_and(|n| {
                n.node_type == NodeType::GovernanceHub && n.status == NodeStatus::Active
            });
            if active_hub && !d.contains_key(&me) {
                d.insert(
                    me,
                    HubNode {
                        node_id: self.node_id.clone(),
                        addr: self.url.clone().unwrap_or_default(),
                    },
                );
            }
            d
        };
        if desired.is_empty() {
            return Ok(());
        }
        let (m, m_last, replication) = {
            let metrics = self.raft.metrics();
            let mm = metrics.borrow();
            (
                mm.membership_config.clone(),
                mm.last_log_index,
                mm.replication.clone().unwrap_or_default(),
            )
        };
        let membership = m.membership();
        if membership.get_joint_config().len() > 1 {
            return Ok(()); // a change is under way
        }
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        let nodes: BTreeMap<u64, HubNode> =
            membership.nodes().map(|(k, v)| (*k, v.clone())).collect();
        let moved: BTreeMap<u64, HubNode> = desired
            .iter()
            .filter(|(id, n)| nodes.get(id).is_some_and(|c| c != *n))
            .map(|(id, n)| (*id, n.clone()))
            .collect();
        if !moved.is_empty() {
            tracing::info!(hubs = moved.len(), "council: hub addresses changed");
            self.raft
                .change_membership(openraft::ChangeMembers::SetNodes(moved), true)
                .await
                .map_err(|e| e.to_string())?;
        }
        // A new hub becomes a voter once it has caught up as a learner (so that
        // registering an unreachable hub cannot take the council's majority away).
        let caught_up = |id: &u64| {
            voters.contains(id)
                || m_last.is_some_and(|last| {
                    replication
                        .get(id)
                        .and_then(|l| l.as_ref())
                        .is_some_and(|l| l.index + CATCH_UP_LAG >= last)
                })
        };
        let want: std::collections::BTreeSet<u64> =
            desired.keys().copied().filter(|id| caught_up(id)).collect();
        for (id, n) in std::mem::take(&mut desired) {
            if !nodes.contains_key(&id) {
                tracing::info!(hub = %n.node_id, url = %n.addr, "council: adding a hub");
                self.raft
                    .add_learner(id, n, false)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        if want != voters {
            tracing::info!(voters = want.len(), "council: changing the voters");
            self.raft
                .change_membership(openraft::ChangeMembers::ReplaceAllVoters(want), false)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn submit_inner(&self, envelope: Envelope) -> Result<Committed, SubmitError> {
        let deadline = tokio::time::Instant::now() + self.settings.submit_timeout;
        let mut pause = Duration::from_millis(20);
        // Checked once, on the leader (in parallel across requests) rather than by
        // every hub's state machine, one entry after another.
        let mut signature_verified = None;
        loop {
            // A follower that knows the leader forwards at once: its own proposer
            // would only answer "not the leader".
            let leader = match self.other_leader() {
                Some(node) => Some(node),
                None => {
                    match self
                        .propose(&envelope, &mut signature_verified, deadline)
                        .await
                    {
                        Ok(answer) => return answer,
                        Err(leader) => leader,
                    }
                }
            };
            if let Some(node) = leader.filter(|n| n.node_id != self.node_id && !n.addr.is_empty()) {
                match self.forward(&node, &envelope, deadline).await {
                    Forwarded::Answer(a) => return a,
                    // The leader could not be reached (cut off, stopped, or no longer
                    // leading): ask Raft again who leads and retry until the deadline.
                    // Resending is safe: the state machine refuses a second copy as a
                    // replay.
                    Forwarded::Retry(e) => {
                        if tokio::time::Instant::now() + pause > deadline {
                            return Err(e);
                        }
                        tracing::debug!(leader = %node.node_id, "forwarding failed; retrying");
                    }
                }
            }
            // No leader yet (an election is under way): wait and retry.
            if tokio::time::Instant::now() + pause > deadline {
                return Err(unavailable(
                    "no_leader",
                    "the council has no leader (not enough hubs reachable?); nothing was stored"
                        .into(),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The leader Raft knows of, when it is another hub with an address.
    fn other_leader(&self) -> Option<HubNode> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let leader = m.current_leader.filter(|l| *l != self.id)?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .filter(|n| !n.addr.is_empty())
            .cloned()
    }

    /// Proposes the entry through this hub's group commit: `Ok` with the answer, or
    /// `Err` with the leader Raft named when this hub does not lead.
    async fn propose(
        &self,
        envelope: &Envelope,
        signature_verified: &mut Option<bool>,
        deadline: tokio::time::Instant,
    ) -> Result<Result<Committed, SubmitError>, Option<HubNode>> {
        let verified = match *signature_verified {
            Some(v) => v,
            None if self.is_leader() => {
                let v = signature_verifies(&self.registry.current(), envelope);
                *signature_verified = Some(v);
                v
            }
            None => false,
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = self.proposals.send(Pending {
            envelope: envelope.clone(),
            signature_verified: verified,
            reply,
        });
        if queued.is_err() {
            return Ok(Err(SubmitError::Stopped));
        }
        let Ok(written) = tokio::time::timeout_at(deadline, answer).await else {
            return Ok(Err(unavailable(
                "not_committed",
                format!(
                    "the entry was not committed within {} s (is a majority of the hubs \
                     reachable?); it may still be committed later: check the log before \
                     submitting it again",
                    self.settings.submit_timeout.as_secs()
                ),
            )));
        };
        Ok(match written {
            Ok(Proposed::Answer(CouncilAnswer::Committed(c))) => Ok(c),
            Ok(Proposed::Answer(CouncilAnswer::Rejected(r))) => Err(SubmitError::Rejected(r)),
            Ok(Proposed::Answer(CouncilAnswer::Nothing | CouncilAnswer::Batch(_))) => {
                Err(SubmitError::Council("the council applied no entry".into()))
            }
            Ok(Proposed::NotLeader(leader)) => return Err(leader),
            Ok(Proposed::Failed(e)) => Err(SubmitError::Council(e)),
            // The loop is gone (the council stopped).
            Ok(Proposed::Stopped) | Err(_) => Err(SubmitError::Stopped),
        })
    }

    /// Sends the entry to the leader (batched with others: crate::council::forward);
    /// on success waits (briefly) until this hub's ledger holds it too, so the client
    /// reads its own write here.
    async fn forward(
        &self,
        leader: &HubNode,
        envelope: &Envelope,
        deadline: tokio::time::Instant,
    ) -> Forwarded {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // One attempt may not take the whole budget: a leader that is cut off may
        // hold the connection without answering.
        let attempt = left
            .min(Duration::from_secs(5).max(self.settings.submit_timeout / 3))
            .max(Duration::from_secs(1));
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = forward::ForwardJob {
            leader: leader.clone(),
            envelope: envelope.clone(),
            attempt,
            reply,
        };
        if self.forwards.send(job).is_err() {
            return Forwarded::Answer(Err(SubmitError::Stopped));
        }
        let outcome = answer
            .await
            .unwrap_or(Forwarded::Answer(Err(SubmitError::Stopped)));
        if let Forwarded::Answer(Ok(c)) = &outcome {
            let mut rx = self.log.subscribe();
            let want = c.index + 1;
            let wait = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| *s >= want));
            if wait.await.is_err() {
                tracing::warn!(index = c.index, "forwarded entry not applied here yet");
            }
        }
        outcome
    }
}

/// What forwarding to the leader gave.
enum Forwarded {
    /// The leader's answer (or a definite failure).
    Answer(Result<Committed, SubmitError>),
    /// Worth asking Raft again who leads and retrying.
    Retry(SubmitError),
}

/// Runs on every hub; acts while it leads: after each log change (and every 2 s) the
/// membership follows the registry. Ends when the council stops.
async fn membership_loop(council: std::sync::Weak<Council>) {
    let (mut rx, log) = match council.upgrade() {
        Some(c) => (c.log.subscribe(), c.log.clone()),
        None => return,
    };
    drop(log);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_error = String::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = rx.changed() => if changed.is_err() { return },
        }
        let Some(c) = council.upgrade() else { return };
        if c.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if !c.is_leader() {
            continue;
        }
        match c.reconcile_membership().await {
            Ok(()) => last_error.clear(),
            Err(e) if e != last_error => {
                tracing::warn!(error = %e, "council: changing the membership failed");
                last_error = e;
            }
            Err(_) => {}
        }
    }
}

/// A 503 answer: the council could not decide now.
fn unavailable(code: &str, message: String) -> SubmitError {
    SubmitError::Forwarded {
        status: 503,
        code: code.to_owned(),
        message,
    }
}

impl Orderer for Council {
    fn submit(&self, envelope: Envelope) -> SubmitFuture<'_> {
        Box::pin(self.submit_inner(envelope))
    }
}

/// Opens a hub's data directory with the council as its orderer (what `serve` uses
/// for governance_hub nodes): the node's shared parts and the running council.
pub async fn open_hub(
    dir: &Path,
    url: Option<String>,
    settings: CouncilSettings,
) -> Result<(Shared, Arc<Council>), NodeError> {
    let d = dir.to_owned();
    let (info, key, token, ledger) = tokio::task::spawn_blocking(move || {
        let info = load(&d)?;
        let key = load_key(&d)?;
        let token = load_token(&d)?;
        let ledger = Ledger::open_with(&d, govmesh_store::LedgerOptions::serving())
            .map_err(NodeError::Store)?;
        Ok::<_, NodeError>((info, key, token, ledger))
    })
    .await
    .map_err(|source| NodeError::Task {
        what: "opening the data directory",
        source,
    })??;
    let log = LogNotify::new(ledger.size());
    let registry = ledger.registry();
    let ledger: SharedLedger = Arc::new(tokio::sync::Mutex::new(ledger));
    let council = Council::start(
        &info,
        key.clone(),
        ledger.clone(),
        log.clone(),
        url.clone(),
        settings,
    )
    .await?;
    let shared = Shared::with_telemetry(
        info,
        key,
        &token,
        (ledger, registry),
        council.clone(),
        url,
        log,
        council.telemetry.clone(),
    );
    match shared {
        Ok(shared) => Ok((shared, council)),
        Err(e) => {
            council.shutdown().await;
            Err(e)
        }
    }
}

/// What the council endpoints hold: the council, on hubs that serve (a node without
/// one answers that it is not a member).
#[derive(Clone)]
struct Http {
    shared: Shared,
    council: Option<Arc<Council>>,
}

impl Http {
    fn council(&self) -> Option<&Arc<Council>> {
        self.council.as_ref()
    }
}

impl std::ops::Deref for Http {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

route_table!(Http {
    GET "/v1/council" => council_view,
    POST "/v1/council/append" => network::append,
    POST "/v1/council/vote" => network::vote,
    POST "/v1/council/snapshot" => network::snapshot,
    POST "/v1/council/forward" => network::forward,
});

/// The council's endpoints: its view and the peer-signed Raft RPCs.
pub fn routes(shared: Shared, council: Option<Arc<Council>>) -> Router {
    table().with_state(Http { shared, council })
}

/// `GET /v1/council`: leader, term, members with their URLs, last log and applied
/// index.
async fn council_view(State(app): State<Http>) -> Result<Json<Value>, ApiError> {
    let c = app.council().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_council",
            "this node is not a member of the Raft council (not a governance_hub)",
        )
    })?;
    Ok(Json(c.view()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use govmesh_core::codex::codex_genesis;
    use govmesh_core::entry::{Operation, sign_entry};
    use govmesh_core::stamp::Timestamp;

    /// The leader marks an entry verified only when its signature verifies under the
    /// registered key its key id names.
    #[test]
    fn only_a_good_signature_under_a_registered_key_is_marked_verified() {
        let hub = KeyPair::from_seed([31; 32]);
        let stranger = KeyPair::from_seed([32; 32]);
        let spec = crate::test_util::hub_spec(&hub);
        let mut st = govmesh_core::state::State::new();
        st.apply(
            &sign_entry(&hub, Operation::Genesis(codex_genesis("m", vec![spec]))),
            Timestamp::from_millis(1_800_000_000_000),
        )
        .unwrap();
        let registry = govmesh_store::Registry::of(&st);
        let op = || {
            Operation::DefineDomain(
                serde_json::from_value(json!({
                    "domain_id": "8a1f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", "name": "d",
                    "admin_node_id": hub.node_id(), "member_nodes": [hub.node_id()],
                }))
                .unwrap(),
            )
        };
        let good = sign_entry(&hub, op());
        assert!(signature_verifies(&registry, &good));
        // Signed by a key nobody registered.
        assert!(!signature_verifies(&registry, &sign_entry(&stranger, op())));
        // A stranger's signature claiming the hub's key id.
        let mut forged = sign_entry(&stranger, op());
        forged.signatures[0].keyid = good.signatures[0].keyid.clone();
        assert!(!signature_verifies(&registry, &forged));
        // Two signatures: not a log entry.
        let mut two = good.clone();
        two.signatures.push(good.signatures[0].clone());
        assert!(!signature_verifies(&registry, &two));
    }
}
