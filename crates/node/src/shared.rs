//! What every room of the node shares: who this node is (info, key, operator token
//! digest), the ledger with its registry view, the orderer, the checkpoint origin, the
//! node's URL and the log-size notifier. At the bottom of the crate: it imports no
//! subsystem, and every subsystem builds on it.

use crate::datadir::NodeInfo;
use crate::error::{ApiError, NodeError};
use crate::order::{Committed, LogNotify, Orderer, SharedLedger};
use crate::telemetry::Telemetry;
use crate::wire::checkpoint_origin;
use govmesh_core::Digest;
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{Operation, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_store::RegistryView;
use std::sync::Arc;

/// The node's shared parts (cheap to clone).
#[derive(Clone)]
pub struct Shared(Arc<Inner>);

struct Inner {
    info: NodeInfo,
    key: KeyPair,
    token_digest: Digest,
    ledger: SharedLedger,
    /// The ledger's registry view (peer authentication without the ledger's lock).
    registry: RegistryView,
    orderer: Arc<dyn Orderer>,
    url: Option<String>,
    origin: String,
    log: LogNotify,
    telemetry: Telemetry,
    started: std::time::Instant,
    refusals: crate::refusals::RefusalLimiter,
}

impl Shared {
    /// Assembles the shared parts around an orderer (the single hub, the forwarding
    /// orderer or the Raft council).
    pub fn new(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        ledger: SharedLedger,
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
    ) -> Result<Shared, NodeError> {
        let (size, registry) = ledger
            .try_lock()
            .map(|l| (l.size(), l.registry()))
            .map_err(|_| NodeError::LedgerBusy)?;
        Shared::with_notify(
            info,
            key,
            operator_token,
            (ledger, registry),
            orderer,
            url,
            LogNotify::new(size),
        )
    }

    /// As [`Shared::new`], sharing a log notifier with the orderer (which calls it
    /// when it applies entries the API did not submit, e.g. Raft followers). The
    /// ledger comes with its registry view (`Ledger::registry`, taken before the
    /// orderer could be holding the ledger).
    pub fn with_notify(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        (ledger, registry): (SharedLedger, RegistryView),
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
        log: LogNotify,
    ) -> Result<Shared, NodeError> {
        Shared::with_telemetry(
            info,
            key,
            operator_token,
            (ledger, registry),
            orderer,
            url,
            log,
            Telemetry::default(),
        )
    }

    /// As [`Shared::with_notify`], with the counters the orderer adds to too (the
    /// council's apply latencies and RPC failures).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn with_telemetry(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        (ledger, registry): (SharedLedger, RegistryView),
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
        log: LogNotify,
        telemetry: Telemetry,
    ) -> Result<Shared, NodeError> {
        let mesh_id = Digest::from_hex(&info.mesh_id).map_err(|e| NodeError::BadFile {
            path: info.dir.join(crate::datadir::NODE_FILE),
            message: format!("mesh_id: {e}"),
        })?;
        Ok(Shared(Arc::new(Inner {
            origin: checkpoint_origin(&mesh_id),
            token_digest: Digest::sha256(operator_token.as_bytes()),
            info,
            key,
            ledger,
            registry,
            orderer,
            url,
            log,
            telemetry,
            started: std::time::Instant::now(),
            refusals: Default::default(),
        })))
    }

    /// What the node counts and times (crate::telemetry).
    pub fn telemetry(&self) -> &Telemetry {
        &self.0.telemetry
    }

    /// When these parts were assembled (the node's start, for `/metrics`).
    pub fn started(&self) -> std::time::Instant {
        self.0.started
    }

    pub fn info(&self) -> &NodeInfo {
        &self.0.info
    }

    pub fn key(&self) -> &KeyPair {
        &self.0.key
    }

    pub fn ledger(&self) -> &SharedLedger {
        &self.0.ledger
    }

    /// When this hub last recorded a refusal of each signer (`crate::refusals`).
    pub(crate) fn refusal_limiter(&self) -> &crate::refusals::RefusalLimiter {
        &self.0.refusals
    }

    /// The node registry as of the ledger's last write, without the ledger's lock.
    pub fn registry(&self) -> &RegistryView {
        &self.0.registry
    }

    pub fn orderer(&self) -> &Arc<dyn Orderer> {
        &self.0.orderer
    }

    /// The checkpoint origin (`govmesh/` + 16 hex digits of the mesh id).
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    pub fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    pub(crate) fn token_digest(&self) -> &Digest {
        &self.0.token_digest
    }

    /// Signs `op` with this node's key, stamped with this node's clock as `signed_at`
    /// (clause 5.4 `replay_window_secs`), and submits it.
    pub async fn submit_own(&self, op: Operation) -> Result<Committed, ApiError> {
        let env = sign_entry_at(&self.0.key, op, crate::order::now());
        self.submit(env).await
    }

    /// Submits a signed entry through the orderer and, once committed to this node's
    /// own log, tells the log subscribers. (An orderer that forwards to a hub asks
    /// for the entry back itself; replication notifies when it arrives.)
    ///
    /// A refusal of another node's signed entry is recorded in the log by a hub
    /// (`crate::refusals`); the caller still gets the refusal.
    pub async fn submit(&self, env: Envelope) -> Result<Committed, ApiError> {
        let hub = self.0.info.node_type == govmesh_core::model::NodeType::GovernanceHub;
        let kept = hub.then(|| env.clone());
        let c = match self.0.orderer.submit(env).await {
            Ok(c) => c,
            Err(e) => {
                if let Some(env) = &kept {
                    self.refused(env, &e);
                }
                return Err(e.into());
            }
        };
        if self.0.orderer.applies_locally() {
            self.0.log.notify(c.index + 1);
        }
        Ok(c)
    }

    /// Call after anything appended to the ledger outside [`Shared::submit`]
    /// (replication, Raft apply): wakes the log subscribers.
    pub fn notify_log(&self, size: u64) {
        self.0.log.notify(size);
    }

    /// The log size, changing whenever the log grows.
    pub fn log_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.log.subscribe()
    }

    pub fn log_notify(&self) -> &LogNotify {
        &self.0.log
    }

    /// The current checkpoint as a C2SP signed note, signed by this node's key.
    pub async fn signed_checkpoint(&self) -> SignedNote {
        let (size, root) = {
            let l = self.0.ledger.lock().await;
            (l.tree().size(), l.tree().root())
        };
        let body = Checkpoint {
            origin: self.0.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .body();
        SignedNote::sign(body, &self.0.origin, &self.0.key)
    }
}

/// The registry's active governance hubs that have a `network_address` (a hub without
/// one is a voting identity, not a server), with that address: the council's
/// members, and where a non-hub forwards its entries.
pub fn active_hubs_with_address(
    state: &govmesh_core::state::State,
) -> impl Iterator<Item = (&govmesh_core::model::NodeRecord, &str)> {
    use govmesh_core::model::{NodeStatus, NodeType};
    state.nodes().into_iter().filter_map(|n| {
        let serving = n.node_type == NodeType::GovernanceHub && n.status == NodeStatus::Active;
        serving
            .then_some(n.network_address.as_deref())
            .flatten()
            .map(|a| (n, a))
    })
}
