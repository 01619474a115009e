//! Helpers shared by the store's integration tests: replaying a stored log from
//! genesis with a fresh state machine and checking a ledger against it.

use govmesh_core::merkle::root_of;
use govmesh_core::state::State;
use govmesh_store::{Ledger, MAX_PAGE};

/// Checks that `ledger`'s state equals a fresh replay of all its stored records from
/// genesis, and that its root is the root of the stored leaf hashes.
pub fn assert_consistent(ledger: &Ledger) {
    let size = ledger.size();
    let mut fresh = State::new();
    let mut next = 0;
    while next < size {
        let recs = ledger.records(next, next + MAX_PAGE).expect("records read");
        assert!(!recs.is_empty(), "records {next}.. missing");
        for rec in &recs {
            fresh
                .apply_record(rec)
                .unwrap_or_else(|e| panic!("stored record {} does not replay: {e}", rec.index));
        }
        next += recs.len() as u64;
    }
    assert_eq!(fresh.size(), size);
    assert_eq!(
        serde_json::to_value(ledger.state()).unwrap(),
        serde_json::to_value(&fresh).unwrap(),
        "ledger state differs from a replay from genesis at size {size}"
    );
    let leaves = ledger.store().leaf_hashes().unwrap();
    assert_eq!(leaves.len() as u64, size);
    assert_eq!(ledger.root(), root_of(&leaves));
}
