//! Evidence, attestations and acks leave the in-memory state for the ledger's history
//! tables (issue 15, "Bounded memory"), and recorded refusals are forgotten once no
//! record could name them again: what the state machine decides does not change.

use crate::evgen::{EvidenceLog, Step, evidence_log};
use govmesh_core::digest::Digest;
use govmesh_core::merkle::MerkleTree;
use govmesh_core::state::State;
use govmesh_core::sync::sync_records_at;

/// Rounds of the fixed log [`evidence_digest`] replays.
const ROUNDS: u64 = 48;

/// A digest of everything the state machine decided over `log`, replayed through a
/// fresh `State` that is never drained: every `Applied` (events included), every
/// probe's refusal (code and message), every equivocation, checkpoint fork,
/// attestation and ack, the sync records at the end, every proposal, the trust room,
/// every contract revision's hash, and the Merkle root.
fn evidence_digest(log: &EvidenceLog) -> Digest {
    let mut state = State::new();
    let mut tree = MerkleTree::new();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for step in &log.steps {
        match step {
            Step::Record(rec) => {
                let applied = state
                    .apply_record(rec)
                    .unwrap_or_else(|e| panic!("entry {} refused: {e}", rec.index));
                parts.push(serde_json::to_vec(&applied).unwrap());
                tree.push(rec.leaf_hash());
            }
            Step::Probe(env, at) => {
                let refused = state.apply(env, *at).expect_err("a probe is refused");
                parts.push(serde_json::to_vec(&refused).unwrap());
            }
        }
    }
    parts.push(serde_json::to_vec(state.equivocations()).unwrap());
    parts.push(serde_json::to_vec(state.checkpoint_forks()).unwrap());
    parts.push(serde_json::to_vec(state.attestations()).unwrap());
    parts.push(serde_json::to_vec(state.sync_acks()).unwrap());
    let end = state.last_timestamp().unwrap();
    parts.push(serde_json::to_vec(&sync_records_at(&state, end)).unwrap());
    for p in state.proposals() {
        parts.push(serde_json::to_vec(p).unwrap());
        parts.push(serde_json::to_vec(state.votes(&p.proposal_id)).unwrap());
    }
    parts.push(serde_json::to_vec(state.trust()).unwrap());
    for c in state.contracts() {
        for r in state.revisions(&c.contract_id) {
            parts.push(r.contract_hash.0.to_vec());
        }
    }
    parts.push(tree.root().0.to_vec());
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Digest::sha256_parts(&refs)
}

/// The digest [`evidence_digest`] gave for the fixed log with the code before
/// evidence, attestations and acks left the state and refusals were pruned (main at
/// d55457c, this file and `support/evgen.rs` copied onto it).
const DIGEST_BEFORE: &str = "d249bdee10de4e3b9951e58a9def307c9d9985bc2e4680936ad5e68d2ce84343";

#[test]
fn an_evidence_log_replays_to_what_the_code_before_decided() {
    let log = evidence_log(ROUNDS);
    let records = log
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Record(_)))
        .count();
    let probes = log.steps.len() - records;
    assert_eq!((records, probes), (2 + 48 * 8 + 48, 48 * 5));
    let got = evidence_digest(&log);
    assert_eq!(got.to_hex(), DIGEST_BEFORE);
}

use crate::common::assert_consistent;
use govmesh_core::entry::LogRecord;
use govmesh_core::sync::sync_records_by;
use govmesh_store::{AttestationFilter, EquivocationFilter, HistoryTable, Ledger, LedgerOptions};

fn records(log: &EvidenceLog) -> Vec<LogRecord> {
    log.steps
        .iter()
        .filter_map(|s| match s {
            Step::Record(r) => Some(r.clone()),
            Step::Probe(..) => None,
        })
        .collect()
}

/// A fresh replay of every record of `l` through a state nobody drains.
fn undrained(l: &Ledger) -> State {
    let mut s = State::new();
    for k in 0..l.size() {
        s.apply_record(&l.record(k).unwrap().unwrap()).unwrap();
    }
    s
}

/// The ledger's history tables hold what a replay nobody drains holds, its state
/// holds none of it, and the sync records read from the `acks` table are the
/// undrained state's.
fn assert_history_served(l: &Ledger) {
    let fresh = undrained(l);
    let s = l.store();
    let all = EquivocationFilter::default();
    assert_eq!(
        s.equivocations(None, &all, u64::MAX).unwrap(),
        fresh.equivocations()
    );
    assert_eq!(
        s.checkpoint_forks(0, u64::MAX).unwrap(),
        fresh.checkpoint_forks()
    );
    assert_eq!(
        s.attestations(None, &AttestationFilter::default(), u64::MAX)
            .unwrap(),
        fresh.attestations()
    );
    let mut acks = 0;
    for (c, revs) in fresh.sync_acks() {
        for (r, by_node) in revs {
            assert_eq!(&s.acks_of(c, *r).unwrap(), by_node, "{c} revision {r}");
            acks += by_node.len() as u64;
        }
    }
    assert_eq!(s.history_count(HistoryTable::Acks).unwrap(), acks);
    let st = l.state();
    assert!(st.equivocations().is_empty());
    assert!(st.checkpoint_forks().is_empty());
    assert!(st.attestations().is_empty());
    assert!(st.sync_acks().is_empty());
    assert_eq!(st.checkpoint_fork_count(), fresh.checkpoint_forks().len());
    let end = fresh.last_timestamp().unwrap();
    let from_table = sync_records_by(st, end, |c, r| {
        let acks = s.acks_of(c, r).unwrap();
        Some(acks.into_iter().map(|(n, a)| (n, a.timestamp)).collect())
    });
    assert_eq!(from_table, sync_records_at(&fresh, end));
}

#[test]
fn evidence_attestations_and_acks_leave_the_state_for_tables_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let log = evidence_log(ROUNDS);
    let recs = records(&log);
    let opts = LedgerOptions {
        snapshot_every: 50,
        snapshot_share: 0.0,
        ..LedgerOptions::default()
    };
    let mut l = Ledger::open_with(dir.path(), opts.clone()).unwrap();
    let half = recs.len() / 2;
    let mut most_refusals = 0;
    for r in &recs[..half] {
        l.append(&r.envelope, r.timestamp).unwrap();
        most_refusals = most_refusals.max(l.state().recorded_refusal_count());
    }
    assert_history_served(&l);
    // Dropped: a snapshot plus a replay, which writes the same rows again.
    drop(l);
    let mut l = Ledger::open_with(dir.path(), opts).unwrap();
    assert!(l.open_report().replayed > 0);
    for chunk in recs[half..].chunks(37) {
        l.append_records(chunk).unwrap();
        most_refusals = most_refusals.max(l.state().recorded_refusal_count());
    }
    assert_history_served(&l);
    assert_consistent(&l);
    let s = l.store();
    assert_eq!(
        s.history_count(HistoryTable::Equivocations).unwrap(),
        ROUNDS
    );
    assert_eq!(
        s.history_count(HistoryTable::CheckpointForks).unwrap(),
        ROUNDS
    );
    assert_eq!(s.history_count(HistoryTable::Attestations).unwrap(), ROUNDS);
    // A refusal is kept 300 s after its envelope was signed; a round takes 8 s.
    assert!(
        (30..=40).contains(&most_refusals),
        "{most_refusals} refusals kept at once"
    );
    // The filters: one equivocation per proposal and per voter; attestations by
    // subject digest (the round's commit; a sha256 shared by every fourth round, in
    // any case), attester and time.
    let fresh = undrained(&l);
    let e = &fresh.equivocations()[7];
    let by_proposal = EquivocationFilter {
        proposal: Some(e.proposal_id.clone()),
        voter: None,
    };
    assert_eq!(
        s.equivocations(None, &by_proposal, 10).unwrap(),
        vec![e.clone()]
    );
    let by_voter = EquivocationFilter {
        proposal: None,
        voter: Some(e.voter.clone()),
    };
    assert_eq!(
        s.equivocations(None, &by_voter, 10).unwrap(),
        vec![e.clone()]
    );
    let paged = s.equivocations(Some(e.second_index), &all_eq(), 3).unwrap();
    assert_eq!(paged, fresh.equivocations()[8..11].to_vec());
    let subject = |d: String| AttestationFilter {
        subject: Some(d),
        ..AttestationFilter::default()
    };
    let commit = format!("{:040X}", 5);
    assert_eq!(
        s.attestations(None, &subject(commit.clone()), 10).unwrap(),
        vec![fresh.attestations()[5].clone()]
    );
    assert_eq!(s.attestation_count(&subject(commit)).unwrap(), 1);
    let every_fourth = subject(format!("{:064x}", 1));
    assert_eq!(s.attestation_count(&every_fourth).unwrap(), ROUNDS / 4);
    let got = s.attestations(None, &every_fourth, 100).unwrap();
    let want: Vec<_> = fresh
        .attestations()
        .iter()
        .skip(1)
        .step_by(4)
        .cloned()
        .collect();
    assert_eq!(got, want);
    let a = &fresh.attestations()[10];
    let window = AttestationFilter {
        since_ms: Some(a.timestamp.millis()),
        until_ms: Some(fresh.attestations()[20].timestamp.millis()),
        attester: Some(a.attester.clone()),
        ..AttestationFilter::default()
    };
    assert_eq!(
        s.attestations(None, &window, 100).unwrap(),
        fresh.attestations()[10..20].to_vec()
    );
    assert_eq!(
        s.attestations(Some(a.index), &window, 2).unwrap(),
        fresh.attestations()[11..13].to_vec()
    );
    assert_eq!(
        s.checkpoint_forks(45, 10).unwrap(),
        fresh.checkpoint_forks()[45..].to_vec()
    );
    // What the state keeps holds no attestation envelope.
    let json = serde_json::to_string(l.state()).unwrap();
    assert!(!json.contains("in-toto"), "an attestation is in memory");
    l.close().unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().replayed, 0);
    assert_history_served(&l);
}

fn all_eq() -> EquivocationFilter {
    EquivocationFilter::default()
}

/// A data directory written by schema 4, when evidence, attestations and acks were
/// in the state (`tests/fixtures/schema4`, made by the code of d55457c from
/// `evidence_log(12)`: 60 records and a snapshot, then 20 records more without one).
fn schema_4_dir() -> tempfile::TempDir {
    crate::common::fixture_dir("schema4")
}

#[test]
fn a_schema_4_data_directory_migrates_on_open() {
    let dir = schema_4_dir();
    let recs = records(&evidence_log(12));
    let mut l = Ledger::open(dir.path()).unwrap();
    assert_eq!(
        l.store().meta_get("schema_version").unwrap().as_deref(),
        Some(&b"5"[..])
    );
    // Its snapshot held the history: unlisted and deleted, the log replayed once.
    assert_eq!(l.open_report().snapshot_size, None);
    assert_eq!(l.open_report().replayed, 80);
    let snaps = dir.path().join(govmesh_store::SNAPSHOT_DIR);
    assert_eq!(std::fs::read_dir(&snaps).unwrap().count(), 0);
    for (k, r) in recs[..80].iter().enumerate() {
        assert_eq!(&l.record(k as u64).unwrap().unwrap(), r);
    }
    assert!(l.store().history_count(HistoryTable::Attestations).unwrap() > 0);
    assert_history_served(&l);
    assert_consistent(&l);
    for r in &recs[80..] {
        l.append(&r.envelope, r.timestamp).unwrap();
    }
    l.close().unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().snapshot_size, Some(recs.len() as u64));
    assert_eq!(l.open_report().replayed, 0);
    assert_eq!(
        l.store()
            .history_count(HistoryTable::Equivocations)
            .unwrap(),
        12
    );
    assert_history_served(&l);
}
