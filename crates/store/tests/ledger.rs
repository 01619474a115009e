//! The ledger across reopen, rejection, corrupt files, a second opener and a failed
//! write.

use crate::common::assert_consistent;
use crate::loggen::LogGen;
use govmesh_core::dsse::{ENTRY_PAYLOAD_TYPE, Envelope};
use govmesh_core::state::RejectCode;
use govmesh_store::{DB_FILE, Ledger, LedgerError, LedgerOptions, SNAPSHOT_DIR, StoreError};
use std::path::Path;

fn fill(ledger: &mut Ledger, gen_: &LogGen, to: u64) {
    for k in ledger.size()..to {
        let a = ledger.append(&gen_.entry(k), gen_.time(k)).unwrap();
        assert_eq!(a.record.index, k);
        assert_eq!(a.leaf_hash, a.record.leaf_hash());
    }
}

fn state_json(l: &Ledger) -> serde_json::Value {
    serde_json::to_value(l.state()).unwrap()
}

#[test]
fn reopen_after_close_and_after_drop() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let opts = LedgerOptions {
        snapshot_every: 4,
        snapshot_share: 0.0,
        keep_snapshots: 2,
        ..LedgerOptions::default()
    };
    let mut l = Ledger::open_with(dir.path(), opts.clone()).unwrap();
    assert_eq!(l.size(), 0);
    fill(&mut l, &gen_, 10);
    let (state, root) = (state_json(&l), l.root());
    l.close().unwrap();

    // Closed cleanly: loads from the final snapshot, replays nothing.
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.size(), 10);
    assert_eq!(l.root(), root);
    assert_eq!(state_json(&l), state);
    assert_eq!(l.open_report().snapshot_size, Some(10));
    assert_eq!(l.open_report().replayed, 0);
    assert_consistent(&l);
    drop(l);

    // Dropped without close after more appends: snapshot at 14 plus a replay of 15.
    let mut l = Ledger::open_with(dir.path(), opts).unwrap();
    fill(&mut l, &gen_, 15);
    let (state, root) = (state_json(&l), l.root());
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().snapshot_size, Some(14));
    assert_eq!(l.open_report().replayed, 1);
    assert_eq!((state_json(&l), l.root()), (state.clone(), root));
    assert_eq!(l.store().snapshot_sizes().unwrap(), vec![14, 10]);
    assert_consistent(&l);
    assert_eq!(l.record(3).unwrap().unwrap(), gen_.record(3));
    assert_eq!(l.record(15).unwrap(), None);
    assert_eq!(
        l.records(13, 100).unwrap(),
        vec![gen_.record(13), gen_.record(14)]
    );
    let files = l.store().snapshot_files().unwrap();
    drop(l);

    // The newest snapshot's file truncated: the older one is used, with the reason.
    let newest = dir.path().join(SNAPSHOT_DIR).join(files[0].file_name());
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    let report = l.open_report();
    assert_eq!(report.snapshot_size, Some(10), "{report:?}");
    assert_eq!(report.replayed, 5);
    let why = report.snapshot_skipped.clone().unwrap_or_default();
    assert!(why.contains("size 14"), "{why}");
    assert_eq!((state_json(&l), l.root()), (state, root));
}

#[test]
fn rejected_entries_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    fill(&mut l, &gen_, 3);
    let root = l.root();

    // A replay of an entry already in the log.
    let e = l.append(&gen_.entry(2), gen_.time(3)).unwrap_err();
    assert!(
        matches!(&e, LedgerError::Rejected(r) if r.code == RejectCode::Replay),
        "{e}"
    );
    // A forged signature: the right key id, but a signature over other bytes.
    let mut forged = gen_.entry(3);
    let author = gen_
        .hubs
        .iter()
        .find(|k| k.keyid() == forged.signatures[0].keyid)
        .unwrap();
    forged.signatures = Envelope::sign(ENTRY_PAYLOAD_TYPE, b"{}", author).signatures;
    let e = l.append(&forged, gen_.time(3)).unwrap_err();
    assert!(
        matches!(&e, LedgerError::Rejected(r) if r.code == RejectCode::BadSignature),
        "{e}"
    );
    assert_eq!(l.size(), 3);
    assert_eq!(l.store().len(), 3);
    assert_eq!(l.root(), root);
    assert_eq!(l.record(3).unwrap(), None);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!((l.size(), l.root()), (3, root));
    assert_consistent(&l);
}

#[test]
fn a_batch_keeps_the_records_before_a_refused_one() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    let mut batch: Vec<_> = (0..6).map(|k| gen_.record(k)).collect();
    batch[4].envelope = gen_.entry(2); // a replay at index 4
    let e = l.append_records(&batch).unwrap_err();
    assert!(
        matches!(&e, LedgerError::RecordRejected { index: 4, rejection } if rejection.code == RejectCode::Replay),
        "{e}"
    );
    assert_eq!(l.size(), 4);
    let applied = l.append_records(&[gen_.record(4), gen_.record(5)]).unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[1].index, 5);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.size(), 6);
    assert_consistent(&l);
}

#[test]
fn garbage_and_truncated_databases_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0x5au8; 8192]).unwrap();
    let e = Ledger::open(dir.path()).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains(DB_FILE), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    fill(&mut l, &gen_, 40);
    l.close().unwrap(); // checkpoints the WAL into the database file
    let db = dir.path().join(DB_FILE);
    let len = std::fs::metadata(&db).unwrap().len();
    truncate(&db, len / 2);
    let e = Ledger::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Corrupt { .. } | StoreError::InvalidLog { .. }
        ),
        "{e}"
    );
}

fn truncate(path: &Path, len: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
}

#[test]
fn a_second_open_of_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    let e = Ledger::open(dir.path()).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    assert!(
        e.to_string().contains(&std::process::id().to_string()),
        "{e}"
    );
    drop(l);
    Ledger::open(dir.path()).unwrap();
}

#[test]
fn a_failed_write_leaves_memory_equal_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    fill(&mut l, &gen_, 5);
    let (state, root) = (state_json(&l), l.root());

    // Another connection holds SQLite's write lock, so the commit fails after the
    // state machine has accepted the entry.
    let blocker = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let e = l.append(&gen_.entry(5), gen_.time(5)).unwrap_err();
    assert!(matches!(e, LedgerError::Store(_)), "{e}");
    assert_eq!(l.size(), 5);
    assert_eq!((state_json(&l), l.root()), (state, root));
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);

    // The same entry goes in once the lock is gone.
    fill(&mut l, &gen_, 7);
    assert_consistent(&l);
}

#[test]
fn a_forged_signature_inside_a_batch_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    let mut batch: Vec<_> = (0..30).map(|k| gen_.record(k)).collect();
    // Record 17 carries a valid signature by its author's key, over other bytes.
    let author = gen_
        .hubs
        .iter()
        .find(|k| k.keyid() == batch[17].envelope.signatures[0].keyid)
        .unwrap();
    batch[17].envelope.signatures = Envelope::sign(ENTRY_PAYLOAD_TYPE, b"{}", author).signatures;
    let e = l.append_records(&batch).unwrap_err();
    assert!(
        matches!(&e, LedgerError::RecordRejected { index: 17, rejection } if rejection.code == RejectCode::BadSignature),
        "{e}"
    );
    assert_eq!(l.size(), 17);
    assert_consistent(&l);
}

#[test]
fn snapshots_space_out_as_the_log_grows() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let opts = LedgerOptions {
        snapshot_every: 2,
        snapshot_share: 0.5,
        keep_snapshots: 10,
        ..LedgerOptions::default()
    };
    let mut l = Ledger::open_with(dir.path(), opts).unwrap();
    fill(&mut l, &gen_, 14);
    // Intervals max(2, half the last snapshot's size): 2, 2, 2, 3, 4.
    assert_eq!(l.store().snapshot_sizes().unwrap(), vec![13, 9, 6, 4, 2]);
}

/// Background snapshots: serialized off the append, stored by a later one; each is
/// the state at its size, so a reopen loads the newest and replays only the rest.
#[test]
fn background_snapshots_land_with_later_appends() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let opts = LedgerOptions {
        snapshot_every: 3,
        snapshot_share: 0.0,
        keep_snapshots: 10,
        background_snapshots: true,
    };
    let mut l = Ledger::open_with(dir.path(), opts.clone()).unwrap();
    fill(&mut l, &gen_, 14);
    l.flush_snapshot().unwrap();
    let sizes = l.store().snapshot_sizes().unwrap();
    assert!(!sizes.is_empty(), "no snapshot was stored");
    assert!(sizes.iter().all(|s| *s >= 1 && *s <= 14), "{sizes:?}");
    let newest = sizes[0];
    let (state, root) = (state_json(&l), l.root());
    drop(l);
    // Dropped without close: loads the newest snapshot and replays what follows it.
    let l = Ledger::open_with(dir.path(), opts.clone()).unwrap();
    assert_eq!(l.open_report().snapshot_size, Some(newest));
    assert_eq!(l.open_report().replayed, 14 - newest);
    assert_eq!((state_json(&l), l.root()), (state.clone(), root));
    // Closed with a snapshot still in the background: close stores the whole state.
    let mut l = l;
    fill(&mut l, &gen_, 18);
    let (state, root) = (state_json(&l), l.root());
    l.close().unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().replayed, 0);
    assert_eq!((state_json(&l), l.root()), (state, root));
}

#[test]
fn an_unusable_snapshot_falls_back_to_a_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    fill(&mut l, &gen_, 12);
    let (state, root) = (state_json(&l), l.root());
    l.close().unwrap();
    // The snapshot file replaced by another valid JSON value.
    let snaps: Vec<_> = std::fs::read_dir(dir.path().join(SNAPSHOT_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    std::fs::write(&snaps[0], b"{}").unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    let report = l.open_report();
    assert_eq!(report.snapshot_size, None);
    assert!(report.snapshot_skipped.is_some(), "{report:?}");
    assert_eq!(report.replayed, 12);
    assert_eq!((state_json(&l), l.root()), (state, root));
}

#[test]
fn the_registry_view_follows_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 3);
    let mut l = Ledger::open(dir.path()).unwrap();
    let view = l.registry();
    assert!(view.current().node(&gen_.hub_id(0)).is_none());
    fill(&mut l, &gen_, 1);
    // The handle taken before the genesis sees the founders after it.
    let r = view.current();
    let hub = r.node(&gen_.hub_id(0)).expect("a founder is registered");
    assert_eq!(hub.node_type, govmesh_core::model::NodeType::GovernanceHub);
    assert_eq!(r.key(&hub.public_key.keyid()), Some(&hub.public_key));
    assert_eq!(r.size(), 1);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    assert!(l.registry().current().node(&gen_.hub_id(4)).is_some());
}

#[test]
fn a_preverified_entry_gets_the_answer_a_full_check_gives() {
    let gen_ = LogGen::new(5, 3);
    let good = gen_.entry(1);
    // The same signature claiming another founder's key id.
    let mut wrong_key = good.clone();
    wrong_key.signatures[0].keyid = gen_.entry(2).signatures[0].keyid.clone();
    assert_ne!(wrong_key.signatures[0].keyid, good.signatures[0].keyid);
    let mut answers = Vec::new();
    for verified in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path()).unwrap();
        fill(&mut l, &gen_, 1);
        let items = vec![
            (wrong_key.clone(), gen_.time(1), verified),
            (good.clone(), gen_.time(1), verified),
        ];
        let got = l.append_stamped_all(&items, None).unwrap();
        answers.push(
            got.into_iter()
                .map(|a| a.map(|a| a.record.index).map_err(|r| (r.code, r.message)))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(answers[0], answers[1]);
    assert!(
        matches!(&answers[0][0], Err((RejectCode::UnknownSigner, _))),
        "{answers:?}"
    );
    assert_eq!(answers[0][1], Ok(1));
}
