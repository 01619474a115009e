//! A deterministic generator of signed governance entries for the store's tests and
//! the replay benchmark: a Codex genesis with many founding hubs, then proposals each
//! followed by votes split evenly between approve and reject, so that every proposal
//! stays open and every entry is accepted by the state machine; or
//! ([`LogGen::closing`]) each proposal withdrawn by its proposer after its votes, so
//! that proposals close as they do in a living mesh and the live state stays small.
//!
//! Entry `k` depends only on `k`, so a writer that restarts after a crash continues
//! the same log from the ledger's size.

#![allow(dead_code)]

use govmesh_core::codex::{CODEX_CONTRACT_ID, codex_genesis};
use govmesh_core::digest::Digest;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{
    GenesisOp, LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, WithdrawOp, sign_entry,
    sign_entry_at,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, NodeType, VoteChoice};
use govmesh_core::stamp::Timestamp;

/// Genesis time of generated logs (2026-11-26T00:00:00Z).
pub const T0: i64 = 1_795_651_200_000;
/// The clause every generated proposal targets.
pub const TARGET_CLAUSE: &str = "5.4";
/// The mesh name of generated logs.
pub const MESH_NAME: &str = "store-test-mesh";

pub struct LogGen {
    pub hubs: Vec<KeyPair>,
    genesis: Operation,
    base_hash: Digest,
    clause_text: String,
    /// Entries per proposal: the proposal plus its votes (and its withdrawal).
    per_proposal: u64,
    /// Each proposal's last entry withdraws it.
    withdraw: bool,
    /// Entries after the genesis carry `signed_at` (their record time).
    stamped: bool,
}

/// A well-formed lower-case UUIDv4 text for a number.
pub fn uuid_for(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (n >> 32) as u32,
        (n >> 16) as u16,
        0,
        0,
        n & 0xffff_ffff_ffff
    )
}

impl LogGen {
    /// `hubs` founding governance hubs; each proposal gets `votes` votes (fewer than
    /// half the hubs vote either way, so none is decided early).
    pub fn new(hubs: usize, votes: usize) -> LogGen {
        LogGen::build(hubs, votes, true)
    }

    fn build(hubs: usize, votes: usize, replay_rule: bool) -> LogGen {
        assert!(votes < hubs, "a proposal needs distinct voters");
        let hubs: Vec<KeyPair> = (0..hubs)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                seed[31] = 0x5a;
                KeyPair::from_seed(seed)
            })
            .collect();
        let founders = hubs
            .iter()
            .map(|k| NodeSpec {
                node_id: k.node_id().to_owned(),
                node_type: NodeType::GovernanceHub,
                public_key: k.public(),
                network_address: None,
                display_name: None,
                node_policy_capabilities: Vec::new(),
            })
            .collect();
        let mut genesis = codex_genesis(MESH_NAME, founders);
        if !replay_rule {
            strip_replay_window(&mut genesis);
        }
        let clause = genesis
            .contract
            .clauses
            .iter()
            .find(|c| c.clause_id == TARGET_CLAUSE)
            .expect("the Codex has clause 5.4")
            .clone();
        LogGen {
            hubs,
            base_hash: clause.hash().expect("clause hashes"),
            clause_text: clause.text,
            genesis: Operation::Genesis(genesis),
            per_proposal: votes as u64 + 1,
            withdraw: false,
            stamped: replay_rule,
        }
    }

    /// Like [`LogGen::new`], but each proposal is withdrawn by its proposer right after
    /// its `votes` votes (entry `votes + 1` of the proposal), so it closes.
    pub fn closing(hubs: usize, votes: usize) -> LogGen {
        LogGen {
            withdraw: true,
            per_proposal: votes as u64 + 2,
            ..LogGen::new(hubs, votes)
        }
    }

    /// Like [`LogGen::new`], but founded as a mesh was before clause 5.4's
    /// `replay_window_secs`: the genesis without the rule. Its own entries carry no
    /// `signed_at`.
    pub fn before_replay_rule(hubs: usize, votes: usize) -> LogGen {
        LogGen::build(hubs, votes, false)
    }

    /// Like [`LogGen::closing`], but the log a mesh founded before clause 5.4's
    /// `replay_window_secs` wrote: the genesis without the rule (and without the sentence
    /// that explains it), entries without `signed_at`. This is byte for byte the log
    /// `LogGen::closing` generated before the rule existed.
    pub fn closing_before_replay_rule(hubs: usize, votes: usize) -> LogGen {
        LogGen {
            withdraw: true,
            per_proposal: votes as u64 + 2,
            ..LogGen::build(hubs, votes, false)
        }
    }

    /// Entries each proposal takes (its `propose`, votes and any withdrawal).
    pub fn per_proposal(&self) -> u64 {
        self.per_proposal
    }

    /// Node id of founding hub `i`.
    pub fn hub_id(&self, i: usize) -> String {
        self.hubs[i].node_id().to_owned()
    }

    /// Council time of entry `k`: one millisecond apart.
    pub fn time(&self, k: u64) -> Timestamp {
        Timestamp::from_millis(T0 + k as i64)
    }

    /// `op` signed by `key` as entry `k`: at its record time if the log is stamped.
    fn sign(&self, key: &KeyPair, op: Operation, k: u64) -> Envelope {
        if self.stamped {
            sign_entry_at(key, op, self.time(k))
        } else {
            sign_entry(key, op)
        }
    }

    /// The signed entry with log index `k`, signed at its record time (clause 5.4
    /// `replay_window_secs`; the genesis, and every entry of a log from before the
    /// rule, carries no `signed_at`).
    pub fn entry(&self, k: u64) -> Envelope {
        if k == 0 {
            return sign_entry(&self.hubs[0], self.genesis.clone());
        }
        let p = (k - 1) / self.per_proposal;
        let j = (k - 1) % self.per_proposal;
        let n = self.hubs.len() as u64;
        let proposal_id = uuid_for(p + 1);
        if self.withdraw && j == self.per_proposal - 1 {
            let op = Operation::Withdraw(WithdrawOp {
                proposal_id,
                reason: Some(format!("benchmark withdrawal {p}")),
            });
            self.sign(&self.hubs[(p % n) as usize], op, k)
        } else if j == 0 {
            let author = &self.hubs[(p % n) as usize];
            let op = Operation::Propose(ProposeOp::amend(
                proposal_id,
                CODEX_CONTRACT_ID,
                TARGET_CLAUSE,
                self.base_hash,
                format!("benchmark proposal {p}"),
                Changes {
                    current_text: self.clause_text.clone(),
                    proposed_text: format!("{} (amendment {p})", self.clause_text),
                    diff: Vec::new(),
                },
            ));
            self.sign(author, op, k)
        } else {
            let voter = &self.hubs[((p + j) % n) as usize];
            let choice = if j % 2 == 1 {
                VoteChoice::Approve
            } else {
                VoteChoice::Reject
            };
            let op = Operation::Vote(VoteOp::new(proposal_id, choice));
            self.sign(voter, op, k)
        }
    }

    /// Entry `k` as a log record.
    pub fn record(&self, k: u64) -> LogRecord {
        LogRecord {
            index: k,
            timestamp: self.time(k),
            envelope: self.entry(k),
        }
    }
}

/// Clause 5.4 of `g` as the Codex had it before `replay_window_secs`: without the rule
/// and without the sentence (one line of the clause text) that explains it.
fn strip_replay_window(g: &mut GenesisOp) {
    let c = g
        .contract
        .clauses
        .iter_mut()
        .find(|c| c.clause_id == "5.4")
        .expect("the Codex has clause 5.4");
    if let Some(rules) = c.rules.as_object_mut() {
        rules.remove("replay_window_secs");
    }
    let keep: Vec<&str> = c
        .text
        .lines()
        .filter(|l| !l.contains("replay_window_secs"))
        .collect();
    c.text = keep.join("\n");
}
