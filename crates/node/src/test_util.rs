//! Fixtures for the crate's unit tests (the integration tests have theirs in
//! tests/util.rs).

use govmesh_core::entry::NodeSpec;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;

/// A governance hub for key `k`, without an address.
pub(crate) fn hub_spec(k: &KeyPair) -> NodeSpec {
    NodeSpec::new(k, NodeType::GovernanceHub)
}
