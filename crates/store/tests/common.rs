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

/// A copy of the data directory `tests/fixtures/NAME` (its `govmesh.db` and snapshot
/// files), written by an older schema's code, in a fresh temporary directory.
pub fn fixture_dir(name: &str) -> tempfile::TempDir {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(from.join("govmesh.db"), dir.path().join("govmesh.db")).unwrap();
    let snaps = dir.path().join(govmesh_store::SNAPSHOT_DIR);
    std::fs::create_dir(&snaps).unwrap();
    for f in std::fs::read_dir(from.join("snapshots")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), snaps.join(f.file_name())).unwrap();
    }
    dir
}
