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

/// The digest [`replay_digest`] gave for the fixed log with the code before closed
/// proposals left the state (commit "store tests: a generated log of closing
/// proposals and the digest of what the state machine decides on it").
const DIGEST_BEFORE_HISTORY: &str = "c19dc53cf1b227b4c6898321c55c48cca1b03295dc738f579b06de2a5c50a18f";

#[test]
fn a_closing_log_replays_to_what_the_code_before_history_decided() {
    let gen_ = LogGen::closing(8, 5);
    let got = replay_digest(&gen_, FIXED_ENTRIES);
    assert_eq!(got.to_hex(), DIGEST_BEFORE_HISTORY);
}
