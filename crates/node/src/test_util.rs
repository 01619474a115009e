//! Fixtures for the crate's unit tests (the integration tests have theirs in
//! tests/util.rs).

use govmesh_core::entry::NodeSpec;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;

/// A governance hub for key `k`, without an address.
pub(crate) fn hub_spec(k: &KeyPair) -> NodeSpec {
    NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type: NodeType::GovernanceHub,
        public_key: k.public(),
        network_address: None,
        display_name: None,
        node_policy_capabilities: vec![],
    }
}
