//! Trust scores are a function of the log: two real SQLite stores, one appending entry
//! by entry (closed and reopened from its snapshot midway, so its trust state grows
//! incrementally across a restart) and one taking the records in batches as a replica
//! does, compute the same trust state byte for byte.

use crate::loggen::LogGen;
use govmesh_core::state::EpochCause;
use govmesh_core::trust::ONE;
use govmesh_store::{Ledger, LedgerOptions};

#[test]
fn two_stores_replaying_one_log_compute_the_same_trust_byte_for_byte() {
    // 7 hubs, 3 votes per proposal: hub p mod 7 proposes, hubs p+1..p+3 vote. 2,050
    // entries are 512 proposals and a half, so the hubs are observed unevenly.
    let gen_ = LogGen::new(7, 3);
    let n = 2_050;
    let opts = LedgerOptions {
        snapshot_every: 300,
        snapshot_share: 0.0,
        ..LedgerOptions::default()
    };
    let dir_a = tempfile::tempdir().unwrap();
    let mut a = Ledger::open_with(dir_a.path(), opts.clone()).unwrap();
    for k in 0..1_200 {
        a.append(&gen_.entry(k), gen_.time(k)).unwrap();
    }
    a.close().unwrap();
    let mut a = Ledger::open_with(dir_a.path(), opts).unwrap();
    assert_eq!(a.open_report().snapshot_size, Some(1_200));
    assert_eq!(a.open_report().replayed, 0);
    for k in 1_200..n {
        a.append(&gen_.entry(k), gen_.time(k)).unwrap();
    }

    let dir_b = tempfile::tempdir().unwrap();
    let mut b = Ledger::open(dir_b.path()).unwrap();
    let records: Vec<_> = (0..n).map(|k| gen_.record(k)).collect();
    for chunk in records.chunks(500) {
        b.append_records(chunk).unwrap();
    }

    let ta = serde_json::to_vec(a.state().trust()).unwrap();
    let tb = serde_json::to_vec(b.state().trust()).unwrap();
    assert_eq!(ta, tb, "the two stores' trust states differ");

    let trust = a.state().trust();
    let epochs: Vec<_> = trust.epochs().iter().map(|e| (e.index, e.cause)).collect();
    assert_eq!(
        epochs,
        vec![
            (0, EpochCause::Genesis),
            (999, EpochCause::Entries),
            (1_999, EpochCause::Entries)
        ]
    );
    let scores = trust.scores();
    assert_eq!(scores.len(), 7);
    assert_eq!(scores.iter().sum::<u64>(), ONE);
    let mut distinct = scores.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 1, "every hub scored the same: {scores:?}");
    // Every proposer observed three voters on each of 512 proposals (the 513th has
    // no votes yet).
    assert_eq!(trust.observation_count(), 512 * 3);

    // Reopened (snapshot + replay of what follows), the replica still agrees.
    drop(b);
    let b = Ledger::open(dir_b.path()).unwrap();
    assert_eq!(serde_json::to_vec(b.state().trust()).unwrap(), ta);
}
