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
    LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, WithdrawOp, sign_entry, sign_entry_at,
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
        let genesis = codex_genesis(MESH_NAME, founders);
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

    /// The signed entry with log index `k`, signed at its record time (clause 5.4
    /// `replay_window_secs`; the genesis carries no `signed_at`).
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
            sign_entry_at(&self.hubs[(p % n) as usize], op, self.time(k))
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
            sign_entry_at(author, op, self.time(k))
        } else {
            let voter = &self.hubs[((p + j) % n) as usize];
            let choice = if j % 2 == 1 {
                VoteChoice::Approve
            } else {
                VoteChoice::Reject
            };
            let op = Operation::Vote(VoteOp::new(proposal_id, choice));
            sign_entry_at(voter, op, self.time(k))
        }
    }

    /// Entry `k` stamped as a log record.
    pub fn record(&self, k: u64) -> LogRecord {
        LogRecord {
            index: k,
            timestamp: self.time(k),
            envelope: self.entry(k),
        }
    }
}
