//! The composed node: [`AppState`] = the shared parts ([`Shared`]) plus the subsystems
//! this node runs (seal store, witness record, council, replication, gossip), built
//! at the top from the data directory. `serve` starts the subsystems into it and
//! `router` gives each its own part; no handler reaches another subsystem through it.

use crate::council::{Council, CouncilSettings};
use crate::datadir::{NodeInfo, load, load_key, load_token};
use crate::error::NodeError;
use crate::gossip::Gossip;
use crate::order::{LogNotify, Orderer, SharedLedger, SingleHub};
use crate::replicate::{ForwardingOrderer, Replica, Replication, ReplicationOptions};
use crate::seal::{SealStore, Seals};
use crate::shared::Shared;
use crate::witness::Witness;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;
use govmesh_store::Ledger;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// One node: its shared parts and the subsystems it runs. Dereferences to [`Shared`]
/// (info, key, ledger, orderer, submit, ...).
#[derive(Clone)]
pub struct AppState {
    shared: Shared,
    /// The latest verified seal (`DIR/seal.db`, crate::seal).
    seals: Seals,
    /// The witness record (`DIR/witness.db`) on compliance_witness nodes.
    witness: Option<Arc<Witness>>,
    /// The orderer of a non-hub, told which replication pulls its entries back.
    forwarding: Option<Arc<ForwardingOrderer>>,
    /// The Raft council, on governance_hub nodes opened with [`AppState::open_hub`].
    council: Option<Arc<Council>>,
    /// Replication, on non-hub nodes once `serve` started it.
    replica: Option<Replica>,
    /// Gossip, once `serve` started it.
    gossip: Option<Arc<Gossip>>,
}

impl AppState {
    /// Opens an initialized data directory with the single-hub orderer (hubs) or the
    /// forwarding orderer (others). Blocking (it opens the database and replays what
    /// it must); call it off the async workers.
    pub fn open(dir: &Path, url: Option<String>) -> Result<AppState, NodeError> {
        let info = load(dir)?;
        let key = load_key(dir)?;
        let token = load_token(dir)?;
        let ledger = Ledger::open_with(dir, govmesh_store::LedgerOptions::serving())
            .map_err(NodeError::Store)?;
        let ledger: SharedLedger = Arc::new(Mutex::new(ledger));
        // Non-hubs forward submissions to a hub (crate::replicate).
        if info.node_type == NodeType::GovernanceHub {
            let orderer = Arc::new(SingleHub::new(ledger.clone()));
            AppState::new(info, key, &token, ledger, orderer, url)
        } else {
            let forwarding = Arc::new(ForwardingOrderer::new(ledger.clone(), info.node_id.clone()));
            let shared = Shared::new(info, key, &token, ledger, forwarding.clone(), url)?;
            AppState::assemble(shared, Some(forwarding), None)
        }
    }

    /// Opens a hub's data directory with the Raft council as its orderer (what
    /// `serve` uses for governance_hub nodes).
    pub async fn open_hub(
        dir: &Path,
        url: Option<String>,
        settings: CouncilSettings,
    ) -> Result<AppState, NodeError> {
        let (shared, council) = crate::council::open_hub(dir, url, settings).await?;
        match AppState::assemble(shared, None, Some(council.clone())) {
            Ok(app) => Ok(app),
            Err(e) => {
                council.shutdown().await;
                Err(e)
            }
        }
    }

    /// Assembles the node from its parts (another orderer, e.g. a test's).
    pub fn new(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        ledger: SharedLedger,
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
    ) -> Result<AppState, NodeError> {
        let shared = Shared::new(info, key, operator_token, ledger, orderer, url)?;
        AppState::assemble(shared, None, None)
    }

    /// As [`AppState::new`], sharing a log notifier with the orderer (see
    /// [`Shared::with_notify`]).
    pub fn with_notify(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        ledger: (SharedLedger, govmesh_store::RegistryView),
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
        log: LogNotify,
    ) -> Result<AppState, NodeError> {
        let shared = Shared::with_notify(info, key, operator_token, ledger, orderer, url, log)?;
        AppState::assemble(shared, None, None)
    }

    /// Opens the node's side stores (`DIR/seal.db`, and `DIR/witness.db` on a
    /// compliance_witness) around its shared parts.
    fn assemble(
        shared: Shared,
        forwarding: Option<Arc<ForwardingOrderer>>,
        council: Option<Arc<Council>>,
    ) -> Result<AppState, NodeError> {
        let info = shared.info();
        let seals = Seals::new(shared.clone(), Arc::new(SealStore::open(&info.dir)?));
        let witness = if info.node_type == NodeType::ComplianceWitness {
            Some(Arc::new(Witness::open(&info.dir, shared.key().clone())?))
        } else {
            None
        };
        Ok(AppState {
            shared,
            seals,
            witness,
            forwarding,
            council,
            replica: None,
            gossip: None,
        })
    }

    /// The parts every subsystem shares.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The node's seal keeping (the store plus what verifying a seal needs).
    pub fn sealing(&self) -> &Seals {
        &self.seals
    }

    /// The latest verified seal of this node (crate::seal).
    pub fn seals(&self) -> &Arc<SealStore> {
        self.seals.seals()
    }

    /// The witness record, on compliance_witness nodes (crate::witness).
    pub fn witness(&self) -> Option<&Arc<Witness>> {
        self.witness.as_ref()
    }

    /// The Raft council member, on hubs opened with [`AppState::open_hub`].
    pub fn council(&self) -> Option<&Arc<Council>> {
        self.council.as_ref()
    }

    /// The running replication (non-hub nodes, once `serve` started it).
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// The replication service (non-hub nodes, once `serve` started it).
    pub fn replication(&self) -> Option<&Arc<Replication>> {
        self.replica.as_ref().map(Replica::service)
    }

    /// The gossip service (membership, liveness, `live_peers`), once `serve` started it.
    pub fn gossip(&self) -> Option<&Arc<Gossip>> {
        self.gossip.as_ref()
    }

    /// Starts gossip (crate::gossip) for a node listening at `http_addr`.
    pub(crate) async fn start_gossip(
        &mut self,
        http_addr: std::net::SocketAddr,
        stop: watch::Receiver<bool>,
        settings: crate::gossip::GossipSettings,
    ) -> JoinHandle<()> {
        let (gossip, task) =
            crate::gossip::start(self.shared.clone(), http_addr, stop, settings).await;
        self.gossip = Some(gossip);
        task
    }

    /// Starts replication (crate::replicate) and lets the forwarding orderer pull
    /// what it forwarded back through it.
    pub(crate) fn start_replication(
        &mut self,
        opts: ReplicationOptions,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let (replica, task) =
            crate::replicate::start(self.seals.clone(), self.gossip.clone(), opts, stop);
        if let Some(f) = &self.forwarding {
            f.attach(replica.service());
        }
        self.replica = Some(replica);
        task
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}
