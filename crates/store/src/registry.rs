//! The node registry (role, status and key of every node) as of the ledger's last
//! write, readable without the ledger's lock: authenticating peer requests and the
//! council leader's signature pre-check read it while the ledger is busy applying a
//! batch. The [`Ledger`](crate::Ledger) refreshes it when it opens, after a write that
//! holds a `genesis`, `register_node` or `update_node` entry (the only operations that
//! change the registry), and after reloading from disk.

use govmesh_core::keys::PublicKey;
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_core::state::State;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What the registry says of one node.
#[derive(Clone, Copy)]
pub struct RegisteredNode {
    pub node_type: NodeType,
    pub status: NodeStatus,
    pub public_key: PublicKey,
}

/// The registry at one point of the log.
#[derive(Default)]
pub struct Registry {
    nodes: HashMap<String, RegisteredNode>,
    /// Key id -> current key of a registered node.
    keys: HashMap<String, PublicKey>,
    size: u64,
}

impl Registry {
    pub fn of(state: &State) -> Registry {
        let mut nodes = HashMap::new();
        let mut keys = HashMap::new();
        for n in state.nodes() {
            nodes.insert(
                n.node_id.clone(),
                RegisteredNode {
                    node_type: n.node_type,
                    status: n.status,
                    public_key: n.public_key,
                },
            );
            keys.insert(n.public_key.keyid(), n.public_key);
        }
        Registry {
            nodes,
            keys,
            size: state.size(),
        }
    }

    pub fn node(&self, node_id: &str) -> Option<&RegisteredNode> {
        self.nodes.get(node_id)
    }

    /// Every registered node's id (any role and status).
    pub fn node_ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// The registered key with this key id (a key id is the SHA-256 of its key).
    pub fn key(&self, keyid: &str) -> Option<&PublicKey> {
        self.keys.get(keyid)
    }

    /// The log size this registry was read at.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// A shared handle on the latest [`Registry`]; clones see the same one.
#[derive(Clone, Default)]
pub struct RegistryView(Arc<RwLock<Arc<Registry>>>);

impl std::fmt::Debug for RegistryView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.current();
        f.debug_struct("RegistryView")
            .field("nodes", &r.nodes.len())
            .field("size", &r.size)
            .finish()
    }
}

impl RegistryView {
    /// The registry as of the ledger's last refresh.
    pub fn current(&self) -> Arc<Registry> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn refresh(&self, state: &State) {
        let fresh = Arc::new(Registry::of(state));
        match self.0.write() {
            Ok(mut g) => *g = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
    }
}

/// Whether an entry of this kind can change the registry.
pub(crate) fn changes_registry(kind: &str) -> bool {
    matches!(kind, "genesis" | "register_node" | "update_node")
}
