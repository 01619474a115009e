//! Closed proposals leave the in-memory state for the ledger's `proposals` table
//! (issue 15, "Bounded memory"): what the state machine decides does not change, the
//! history is served as the state served it, and the live state stays small.

use crate::loggen::LogGen;
use govmesh_core::digest::Digest;
use govmesh_core::merkle::MerkleTree;
use govmesh_core::state::State;

/// Entries of the fixed log [`replay_digest`] replays: 300 proposals, each with 5 votes
/// and withdrawn.
const FIXED_ENTRIES: u64 = 1 + 300 * 7;

/// A digest of everything the state machine decided over `gen_`'s first `n` entries,
/// replayed through a fresh `State` that is never drained: every `Applied` (events
/// included), every proposal with its votes, policy, eligible voters, superseded votes
/// and delegations (newest first), every contract revision's hash, and the Merkle root.
fn replay_digest(gen_: &LogGen, n: u64) -> Digest {
    let mut state = State::new();
    let mut tree = MerkleTree::new();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for k in 0..n {
        let rec = gen_.record(k);
        let applied = state
            .apply_record(&rec)
            .unwrap_or_else(|e| panic!("entry {k} refused: {e}"));
        parts.push(serde_json::to_vec(&applied).unwrap());
        tree.push(rec.leaf_hash());
    }
    for p in state.proposals() {
        let id = &p.proposal_id;
        parts.push(serde_json::to_vec(p).unwrap());
        parts.push(serde_json::to_vec(state.votes(id)).unwrap());
        parts.push(serde_json::to_vec(&state.voting_policy(id)).unwrap());
        parts.push(serde_json::to_vec(&state.eligible_voters(id)).unwrap());
        parts.push(serde_json::to_vec(state.superseded_votes(id)).unwrap());
        parts.push(serde_json::to_vec(&state.ballot_delegations(id)).unwrap());
    }
    for c in state.contracts() {
        for r in state.revisions(&c.contract_id) {
            parts.push(r.contract_hash.0.to_vec());
        }
    }
    parts.push(tree.root().0.to_vec());
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Digest::sha256_parts(&refs)
}

/// The digest [`replay_digest`] gives for the fixed log with the code before closed
/// proposals left the state. Computed with the `replay` branch (tip 45f4fc2, which
/// branched from main at 9fdd223, before the history step, and adds clause 5.4
/// `replay_window_secs`) plus only this file and the closing log generator as the
/// history step added them (commit 71354a2) with its entries signed at their record
/// time (`sign_entry_at`): the state machine before the history step, with replay
/// detection, on the log this generator writes now (a Codex genesis with the replay
/// window, entries with `signed_at`).
const DIGEST_BEFORE_HISTORY: &str =
    "1a76e8457ac750ba243579a6640ea4e46470339a2bff614f69ef734203ddb466";

/// The digest [`replay_digest`] gave for the fixed log as it was before clause 5.4
/// `replay_window_secs` existed ([`LogGen::closing_before_replay_rule`]), computed with
/// the code before closed proposals left the state (commit 71354a2, "store tests: a
/// generated log of closing proposals and the digest of what the state machine
/// decides on it").
const DIGEST_BEFORE_HISTORY_AND_REPLAY_RULE: &str =
    "c19dc53cf1b227b4c6898321c55c48cca1b03295dc738f579b06de2a5c50a18f";

#[test]
fn a_closing_log_replays_to_what_the_code_before_history_decided() {
    let gen_ = LogGen::closing(8, 5);
    let got = replay_digest(&gen_, FIXED_ENTRIES);
    assert_eq!(got.to_hex(), DIGEST_BEFORE_HISTORY);
}

#[test]
fn a_closing_log_from_before_the_replay_rule_replays_to_what_the_code_before_both_decided() {
    let gen_ = LogGen::closing_before_replay_rule(8, 5);
    let got = replay_digest(&gen_, FIXED_ENTRIES);
    assert_eq!(got.to_hex(), DIGEST_BEFORE_HISTORY_AND_REPLAY_RULE);
}

use crate::common::assert_consistent;
use govmesh_core::codex::CODEX_CONTRACT_ID;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{Operation, ProposeOp, VoteOp, WithdrawOp, sign_entry_at};
use govmesh_core::model::{Changes, ProposalStatus, VoteChoice};
use govmesh_store::{Ledger, LedgerOptions, ProposalFilter};

/// A fresh replay of every record of `l` through a state nobody drains: what the
/// state machine holds about every proposal, the way it held it before closed
/// proposals left the state.
fn undrained(l: &Ledger) -> State {
    let mut s = State::new();
    for k in 0..l.size() {
        s.apply_record(&l.record(k).unwrap().unwrap()).unwrap();
    }
    s
}

/// Every proposal `l` serves (live and closed, with ballots) is what an undrained
/// replay holds, and the list is the same, newest first.
fn assert_served_as_before(l: &Ledger) {
    let fresh = undrained(l);
    let listed = l.proposals(&ProposalFilter::default()).unwrap();
    let want: Vec<_> = fresh.proposals().into_iter().cloned().collect();
    assert_eq!(listed, want);
    for p in &want {
        assert_eq!(
            l.proposal_record(&p.proposal_id).unwrap(),
            fresh.proposal_record(&p.proposal_id),
            "proposal {}",
            p.proposal_id
        );
    }
}

#[test]
fn closed_proposals_leave_the_state_and_are_served_as_before_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::closing(5, 3);
    let opts = LedgerOptions {
        snapshot_every: 7,
        snapshot_share: 0.0,
        ..LedgerOptions::default()
    };
    let mut l = Ledger::open_with(dir.path(), opts.clone()).unwrap();
    // 20 proposals withdrawn, the 21st with one vote.
    let n = 1 + 20 * gen_.per_proposal() + 2;
    for k in 0..n {
        l.append(&gen_.entry(k), gen_.time(k)).unwrap();
    }
    assert_eq!(l.state().live_proposal_count(), 1);
    assert_eq!(l.state().retired_count(), 0, "every append drains them");
    assert_eq!(l.state().closed_proposal_count(), 20);
    assert_eq!(l.closed_proposal_count().unwrap(), 20);
    let first = crate::loggen::uuid_for(1);
    assert!(
        l.state().proposal(&first).is_none(),
        "closed: not in memory"
    );
    let r = l.proposal_record(&first).unwrap().unwrap();
    assert_eq!(r.proposal.status, ProposalStatus::Withdrawn);
    assert_eq!(r.votes.len(), 3);
    assert_served_as_before(&l);
    assert_consistent(&l);
    let served = l.proposals(&ProposalFilter::default()).unwrap();

    // Dropped: a snapshot plus a replay, which writes the same rows again.
    drop(l);
    let l = Ledger::open_with(dir.path(), opts.clone()).unwrap();
    assert!(l.open_report().replayed > 0);
    assert_eq!(l.open_report().migrated_proposals, 0);
    assert_eq!(l.closed_proposal_count().unwrap(), 20);
    assert_eq!(l.proposals(&ProposalFilter::default()).unwrap(), served);
    assert_served_as_before(&l);
    l.close().unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().replayed, 0);
    assert_eq!(l.state().live_proposal_count(), 1);
    assert_served_as_before(&l);
    assert_consistent(&l);
}

#[test]
fn the_live_state_stays_bounded_while_closing_proposals_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::closing(9, 7);
    let mut l = Ledger::open(dir.path()).unwrap();
    let total = 1 + 400 * gen_.per_proposal();
    let mut most_live = 0;
    let mut k = 0;
    while k < total {
        let end = (k + 97).min(total);
        let recs: Vec<_> = (k..end).map(|i| gen_.record(i)).collect();
        l.append_records(&recs).unwrap();
        most_live = most_live.max(l.state().live_proposal_count());
        assert_eq!(l.state().retired_count(), 0);
        k = end;
    }
    assert_eq!(most_live, 1, "at most the proposal being voted on is live");
    assert_eq!(l.state().live_proposal_count(), 0);
    assert_eq!(l.closed_proposal_count().unwrap(), 400);
    assert_eq!(l.state().closed_proposal_count(), 400);
    // What the state keeps of a closed proposal is a few ids, not its ballot: the
    // snapshot holds no proposal record.
    let json = serde_json::to_string(l.state()).unwrap();
    assert!(
        !json.contains("benchmark proposal"),
        "a proposal text is in memory"
    );
}

/// A hand-made log on `gen_`'s genesis: the entries and their times.
struct Script<'a> {
    gen_: &'a LogGen,
    l: Ledger,
}

impl Script<'_> {
    fn next(&mut self, hub: usize, op: Operation) {
        let k = self.l.size();
        let env: Envelope = sign_entry_at(&self.gen_.hubs[hub], op, self.gen_.time(k));
        self.l
            .append(&env, self.gen_.time(k))
            .unwrap_or_else(|e| panic!("entry {k}: {e}"));
    }

    fn propose(&mut self, hub: usize, id: &str) {
        let st = self.l.state();
        let clause = st
            .contract(CODEX_CONTRACT_ID)
            .unwrap()
            .clause("5.4")
            .unwrap()
            .clone();
        let base = st.clause_hash(CODEX_CONTRACT_ID, "5.4").unwrap();
        let op = ProposeOp::amend(
            id,
            CODEX_CONTRACT_ID,
            "5.4",
            base,
            format!("proposal {id}"),
            Changes {
                current_text: clause.text.clone(),
                proposed_text: format!("{} ({id})", clause.text),
                diff: Vec::new(),
            },
        );
        self.next(hub, Operation::Propose(op));
    }

    fn vote(&mut self, hub: usize, id: &str, choice: VoteChoice) {
        self.next(hub, Operation::Vote(VoteOp::new(id, choice)));
    }

    fn withdraw(&mut self, hub: usize, id: &str) {
        let op = WithdrawOp {
            proposal_id: id.to_owned(),
            reason: None,
        };
        self.next(hub, Operation::Withdraw(op));
    }

    /// Every proposal id of the list in pages of `limit`; `between` runs after the
    /// first page.
    fn page_all(
        &mut self,
        filter: &ProposalFilter,
        limit: usize,
        mut between: impl FnMut(&mut Self),
    ) -> Vec<String> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .l
                .proposals_page(after.as_deref(), filter, limit)
                .unwrap()
                .expect("the cursor's proposal is known");
            assert!(page.items.len() <= limit);
            ids.extend(page.items.iter().map(|p| p.proposal_id.clone()));
            if after.is_none() {
                between(self);
            }
            if !page.more {
                return ids;
            }
            after = ids.last().cloned();
        }
    }
}

#[test]
fn paging_gives_every_proposal_once_across_live_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = LogGen::new(5, 1);
    let mut s = Script {
        gen_: &gen_,
        l: Ledger::open(dir.path()).unwrap(),
    };
    s.l.append(&gen_.entry(0), gen_.time(0)).unwrap();
    let ids: Vec<String> = (1..=7).map(crate::loggen::uuid_for).collect();
    for (i, id) in ids.iter().enumerate() {
        s.propose(i % 5, id);
    }
    // 2 and 4 withdrawn; 3 rejected by three of five hubs; 1, 5, 6, 7 voting.
    s.withdraw(1, &ids[1]);
    s.withdraw(3, &ids[3]);
    for hub in 0..3 {
        s.vote(hub, &ids[2], VoteChoice::Reject);
    }
    assert_eq!(s.l.state().live_proposal_count(), 4);
    assert_eq!(s.l.closed_proposal_count().unwrap(), 3);
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let all = ProposalFilter::default();
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(
            s.page_all(&all, limit, |_| {}),
            newest_first,
            "limit {limit}"
        );
    }
    // Proposal 1 (on a later page) closes after the first page: still listed once.
    let got = s.page_all(&all, 2, |s| s.withdraw(0, &ids[0]));
    assert_eq!(got, newest_first);
    assert_eq!(s.l.closed_proposal_count().unwrap(), 4);
    assert_served_as_before(&s.l);

    let status = |st| ProposalFilter {
        status: Some(st),
        ..ProposalFilter::default()
    };
    let pick = |ks: &[usize]| ks.iter().map(|k| ids[*k].clone()).collect::<Vec<_>>();
    assert_eq!(
        s.page_all(&status(ProposalStatus::Withdrawn), 1, |_| {}),
        pick(&[3, 1, 0])
    );
    assert_eq!(
        s.page_all(&status(ProposalStatus::Rejected), 1, |_| {}),
        pick(&[2])
    );
    assert_eq!(
        s.page_all(&status(ProposalStatus::Voting), 2, |_| {}),
        pick(&[6, 5, 4])
    );
    let by = ProposalFilter {
        author: Some(gen_.hub_id(0)),
        ..ProposalFilter::default()
    };
    // Hub 0 proposed 1 (closed) and 6 (live).
    assert_eq!(s.page_all(&by, 1, |_| {}), pick(&[5, 0]));
    // Created from proposal 3's time on, before proposal 6's.
    let created = |k: usize| {
        s.l.proposal_record(&ids[k])
            .unwrap()
            .unwrap()
            .proposal
            .created_at
    };
    let window = ProposalFilter {
        since_ms: Some(created(2).millis()),
        until_ms: Some(created(5).millis()),
        ..ProposalFilter::default()
    };
    assert_eq!(s.page_all(&window, 2, |_| {}), pick(&[4, 3, 2]));
    let clause = ProposalFilter {
        contract: Some(CODEX_CONTRACT_ID.into()),
        clause: Some("5.5".into()),
        ..ProposalFilter::default()
    };
    assert!(s.page_all(&clause, 3, |_| {}).is_empty());
    // A cursor naming no proposal.
    assert!(
        s.l.proposals_page(Some("no-such-proposal"), &all, 3)
            .unwrap()
            .is_none()
    );
}

/// A data directory written by schema 3, before closed proposals left the state
/// (`tests/fixtures/schema3`, made by the code of commit 71354a2 from
/// `LogGen::closing(5, 3)` as it was then, [`LogGen::closing_before_replay_rule`] now:
/// a mesh without clause 5.4 `replay_window_secs`; 31 entries and a snapshot holding 6 withdrawn proposals,
/// then 7 entries more without a snapshot, in which a 7th proposal is withdrawn and an
/// 8th opened).
fn schema_3_dir() -> tempfile::TempDir {
    crate::common::fixture_dir("schema3")
}

#[test]
fn a_data_directory_from_before_migrates_on_open() {
    let dir = schema_3_dir();
    let gen_ = LogGen::closing_before_replay_rule(5, 3);
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.size(), 38);
    // Migration 5 unlists the snapshots of older versions (they hold history that
    // now lives in tables): the log replays from the genesis, closing the same 7.
    assert_eq!(l.open_report().snapshot_size, None);
    assert_eq!(l.open_report().replayed, 38);
    assert_eq!(l.open_report().migrated_proposals, 0);
    assert_eq!(l.closed_proposal_count().unwrap(), 7);
    assert_eq!(l.state().live_proposal_count(), 1);
    assert_eq!(
        l.store().meta_get("schema_version").unwrap().as_deref(),
        Some(&b"5"[..])
    );
    for k in 0..38 {
        assert_eq!(l.record(k).unwrap().unwrap(), gen_.record(k));
    }
    assert_served_as_before(&l);
    assert_consistent(&l);
    // Dropped before a new snapshot: replayed again, to the same rows.
    drop(l);
    let mut l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().replayed, 38);
    assert_eq!(l.closed_proposal_count().unwrap(), 7);
    // The log goes on; closing writes a snapshot without closed proposals.
    for k in 38..50 {
        l.append(&gen_.entry(k), gen_.time(k)).unwrap();
    }
    l.close().unwrap();
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!(l.open_report().snapshot_size, Some(50));
    assert_eq!(l.open_report().migrated_proposals, 0);
    assert_eq!(l.closed_proposal_count().unwrap(), 9);
    assert_served_as_before(&l);
    assert_consistent(&l);
}
