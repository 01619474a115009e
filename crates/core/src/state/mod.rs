//! The governance state machine: `apply(state, entry, time)` checks the signature and
//! schema, the tether check (author registered, active, privileged under the current
//! contract) and the operation's own rules, then updates contracts, nodes, domains and
//! proposals. Pure and deterministic: the same log gives the same state everywhere.
//!
//! One room per step and per family of operations:
//! - `dispatch`: `apply` and friends, from an entry to its handler;
//! - `decode`: the envelope, payload schema and signature; id and key checks;
//! - `tether`: the clause 5.5 privilege and membership check;
//! - `genesis`, `nodes`, `domains`, `proposals`, `votes`, `sync`, `attestations`,
//!   `evidence`: each family's `impl State` handlers and the helpers only it uses;
//! - `adoption`: a decided proposal's outcome, revision n+1 and its sync targets;
//! - `trust`: observations read from every accepted entry and the EigenTrust scores
//!   computed from them at epoch boundaries (clause 5.4 `trust_model`).
//!
//! # Adding an operation
//!
//! A new entry type touches: its `Operation` variant, op struct and `kind()` name in
//! `entry.rs`; its `op_*` definition and `type` branch in
//! `schemas/entry-payload.schema.json`; one new file here with its `impl State`
//! handler (and a `mod` line above); one line in `dispatch`'s match; an [`Event`]
//! variant if it has a consequence to report, and any state it keeps as a `State`
//! field with its query in this file. If it needs a privilege, clause 5.5's
//! `operation_privileges` in the genesis contract (`codex.rs`) names it; `tether`
//! changes only for an exemption or a domain-membership rule.

mod adoption;
mod attestations;
mod connections;
mod decode;
mod delegation;
mod dispatch;
mod domains;
mod evidence;
mod genesis;
mod nodes;
mod overrides;
mod proposals;
mod refusals;
mod replay;
mod seals;
mod suspension;
mod sync;
mod tether;
mod timelock;
mod trust;
mod votes;

pub use decode::is_uuid_v4;
pub use refusals::REFUSAL_WINDOW_SECS;
pub use seals::{RecordedSeal, SEAL_RECORD_SPACING};
pub use sync::{RevisionSync, SyncAck};
pub use trust::{
    Epoch, EpochCause, HISTORY_EPOCHS, KindTally, Observation, RECENT_PER_NODE, TrustState,
};

use crate::attestation::Attestation;
use crate::digest::Digest;
use crate::evidence::CheckpointFork;
use crate::model::{
    Contract, Domain, Equivocation, GovernanceRules, NodeRecord, Proposal, ProposalStatus, Vote,
    VotingPolicy,
};
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Why an entry was refused. `code` is stable and machine-readable (snake_case in
/// JSON); `message` says what exactly is wrong, naming the entry's fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Payload type, base64 or JSON of the envelope is wrong.
    Malformed,
    /// The payload does not match the entry's JSON Schema.
    Schema,
    /// The signature does not verify.
    BadSignature,
    /// The key id / author is not a registered node, or they do not match.
    UnknownSigner,
    /// The author is registered but not active.
    NotActive,
    /// The author's role lacks the privilege for this operation under the current contract.
    NotPrivileged,
    /// The author is not a member of the governing domain.
    NotMember,
    /// This exact entry is already in the log.
    Replay,
    /// The entry's `signed_at` is missing, or too far from the log's time for clause
    /// 5.4 `replay_window_secs`, or older than what replay detection remembers.
    Stale,
    /// The record's index or timestamp is out of order.
    OutOfOrder,
    /// A genesis where there is one already, or anything before the genesis.
    Genesis,
    UnknownContract,
    UnknownClause,
    UnknownProposal,
    UnknownDomain,
    UnknownNode,
    /// An id (proposal, node, domain) that already exists.
    Duplicate,
    /// The proposal is not open for this operation (already decided, withdrawn...).
    NotVoting,
    /// The clause changed since the proposal was written.
    StaleBase,
    /// The change's JSON Patch does not apply to the clause's rules.
    BadPatch,
    /// A `close` before the voting period ended.
    TooEarly,
    /// A hash the entry names (contract, clause) is not the log's.
    Mismatch,
    /// Evidence that does not prove what it claims.
    BadEvidence,
    /// A vote by a voter whose equivocation on the proposal is already recorded (one
    /// piece of evidence per voter and proposal).
    AlreadyEquivocated,
    /// The author's voting and proposing rights are suspended (proven equivocation).
    Suspended,
    /// Anything else the operation's rules forbid.
    Forbidden,
}

/// What applying an entry did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub index: u64,
    pub entry_hash: Digest,
    /// The operation's `type`.
    pub kind: String,
    pub author: String,
    pub events: Vec<Event>,
}

/// Notable consequences of an entry, for the API, logs and live updates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    MeshFounded {
        mesh_id: Digest,
    },
    NodeRegistered {
        node_id: String,
    },
    NodeUpdated {
        node_id: String,
    },
    DomainDefined {
        domain_id: String,
    },
    ProposalOpened {
        proposal_id: String,
    },
    VoteCounted {
        proposal_id: String,
        voter: String,
    },
    EquivocationRecorded {
        proposal_id: String,
        voter: String,
    },
    ProposalAdopted {
        proposal_id: String,
        contract_id: String,
        revision: u64,
    },
    ConnectionDeclared {
        source_node_id: String,
        target_node_id: String,
    },
    ConnectionRemoved {
        source_node_id: String,
        target_node_id: String,
    },
    /// An isolated or local proposal changed a clause for some nodes only.
    OverrideAdopted {
        proposal_id: String,
        contract_id: String,
        clause_id: String,
    },
    /// A federated change was adopted over local overrides of its clause.
    OverridesInConflict {
        proposal_id: String,
        conflict_ids: Vec<String>,
    },
    ProposalRejected {
        proposal_id: String,
        reason: String,
    },
    ProposalWithdrawn {
        proposal_id: String,
    },
    SyncAcknowledged {
        contract_id: String,
        revision: u64,
        node_id: String,
    },
    AttestationRecorded {
        contract_id: String,
        revision: u64,
        passed: bool,
    },
    CheckpointForkRecorded {
        size: u64,
        signers: Vec<String>,
    },
    /// A voter replaced its vote (a higher sequence, where the policy allows it).
    VoteChanged {
        proposal_id: String,
        voter: String,
    },
    /// Quorum was first reached late: the voting period now ends later.
    VotingExtended {
        proposal_id: String,
        voting_ends: crate::stamp::Timestamp,
    },
    /// An expedited proposal failed on its track and is now voted on the normal one.
    ExpeditedFellBack {
        proposal_id: String,
        voting_ends: crate::stamp::Timestamp,
    },
    /// An adopted proposal waits out its timelock before taking effect.
    ProposalQueued {
        proposal_id: String,
        effective_at: crate::stamp::Timestamp,
    },
    /// A guardian cancelled an adopted proposal during its timelock.
    ProposalCancelled {
        proposal_id: String,
        guardian: String,
    },
    DelegationSet {
        domain_id: String,
        delegator: String,
        delegate: String,
    },
    DelegationRevoked {
        domain_id: String,
        delegator: String,
    },
    /// Proven equivocation suspended a node's voting and proposing rights.
    NodeSuspended {
        node_id: String,
        reason: String,
    },
    /// An adopted proposal restored a suspended node's rights.
    RightsRestored {
        node_id: String,
        proposal_id: String,
    },
    /// A hub recorded a submission the state machine refused (`record_refusal`).
    RefusalRecorded {
        signer: String,
        code: RejectCode,
        envelope_hash: Digest,
    },
    /// A hub recorded a seal (`record_seal`): each listed witness cosigned it.
    SealRecorded {
        size: u64,
        root: Digest,
        witnesses: Vec<String>,
    },
}
/// What the state keeps about a proposal beyond the seed record: the voting policy and
/// eligible voters frozen when it opened, and the counted votes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Ballot {
    policy: VotingPolicy,
    /// Eligible voters and their weights, frozen at proposal creation.
    eligible: BTreeMap<String, u64>,
    votes: Vec<Vote>,
    /// Voter -> position of their counted vote in `votes`.
    voted: BTreeMap<String, usize>,
    /// Votes replaced by a later one of the same voter (vote changes), in log order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    superseded: Vec<Vote>,
    /// Delegations among the eligible voters, frozen at opening (delegator ->
    /// delegate); empty unless the policy counts delegation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    delegations: BTreeMap<String, String>,
    /// Voters whose equivocation on this proposal is recorded -> the two entries
    /// that prove it (what `vote` refuses further votes by, and `close` leaves out of
    /// `proposal_missed`). The evidence records themselves leave through
    /// [`State::take_retired`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    equivocated: BTreeMap<String, EquivocatedBy>,
}

/// The two entries of a voter's recorded equivocation on a live proposal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct EquivocatedBy {
    first_entry: Digest,
    second_entry: Digest,
}

impl Ballot {
    /// The policy the proposal is tallied under now: the expedited track's while it is
    /// on it.
    fn current_policy(&self, p: &Proposal) -> VotingPolicy {
        match p.track() {
            crate::model::VotingTrack::Expedited => self.policy.expedited(),
            crate::model::VotingTrack::Normal => self.policy.clone(),
        }
    }
}

/// A proposal with what it is tallied with: what the API serves about one proposal,
/// and what leaves the state when it closes ([`State::take_retired`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalRecord {
    /// Log index of its `propose` entry (the lists' order: newest first).
    pub index: u64,
    pub proposal: Proposal,
    /// Counted votes, in log order.
    pub votes: Vec<Vote>,
    /// Votes replaced by a later one of the same voter, in log order.
    pub superseded_votes: Vec<Vote>,
    /// The voting policy frozen when it opened.
    pub voting_policy: VotingPolicy,
    /// Eligible voters and their weights, frozen when it opened.
    pub eligible_voters: BTreeMap<String, u64>,
    /// Delegations it is tallied with (delegator -> delegate), frozen when it opened.
    pub delegations: BTreeMap<String, String>,
}

/// What the state keeps of a closed proposal (issue 15, "Bounded memory"): only what
/// later entries are decided by. A `propose` reusing its id is a duplicate; a `vote`
/// on it is tether-checked against its domain; a `withdraw` by someone else is
/// refused as not the proposer's; `vote`, `close`, `withdraw`, `cancel` and `enact`
/// are refused as not voting, naming its status. The record itself (and its
/// ballot) goes to the store's history through [`State::take_retired`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ClosedProposal {
    proposed_by: String,
    domain_id: String,
    status: ProposalStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enacted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancelled_by: Option<String>,
}

/// History that left the state since the last [`State::take_retired`]: a ledger
/// writes it to its history tables in the transaction of the records that made it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Retired {
    /// Proposals that closed, by the log index of their `propose` entry.
    pub proposals: Vec<ProposalRecord>,
    /// Recorded vote equivocations, in log order.
    pub equivocations: Vec<Equivocation>,
    /// Recorded checkpoint forks (`evidence` entries), in log order.
    pub checkpoint_forks: Vec<CheckpointFork>,
    /// Accepted hygiene attestations, in log order.
    pub attestations: Vec<Attestation>,
    /// Accepted `ack_sync` entries, in log order.
    pub acks: Vec<AckRecord>,
}

impl Retired {
    /// Nothing left the state.
    pub fn is_empty(&self) -> bool {
        self.proposals.is_empty()
            && self.equivocations.is_empty()
            && self.checkpoint_forks.is_empty()
            && self.attestations.is_empty()
            && self.acks.is_empty()
    }
}

/// One accepted `ack_sync`, as it leaves the state for the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    pub contract_id: String,
    pub revision: u64,
    pub node_id: String,
    pub ack: SyncAck,
}

/// History not yet taken by [`State::take_retired`]: closed proposals by the log
/// index of their `propose` entry, evidence, attestations and acks. Not part of the
/// governance state: not serialized, and ignored when two states are compared (a
/// state that was drained equals one that was not). Nothing the state machine decides
/// reads it; the queries read it so that a state nobody drains (tests) still answers
/// for every record.
#[derive(Clone, Debug, Default)]
struct Outbox {
    by_index: BTreeMap<u64, ProposalRecord>,
    index_of: BTreeMap<String, u64>,
    equivocations: Vec<Equivocation>,
    checkpoint_forks: Vec<CheckpointFork>,
    attestations: Vec<Attestation>,
    acks: BTreeMap<String, BTreeMap<u64, BTreeMap<String, SyncAck>>>,
    /// `acks` in log order: (index, contract id, revision, node id).
    ack_order: Vec<(u64, String, u64, String)>,
}

impl PartialEq for Outbox {
    fn eq(&self, _: &Outbox) -> bool {
        true
    }
}

impl Outbox {
    fn get(&self, id: &str) -> Option<&ProposalRecord> {
        self.by_index.get(self.index_of.get(id)?)
    }
}

/// All governance state, a deterministic function of the log.
///
/// Every map is ordered so that two states built from the same log serialize to the
/// same JSON byte for byte.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    size: u64,
    mesh_id: Option<Digest>,
    mesh_name: Option<String>,
    /// The genesis contract, whose clause 5.5 governs roles and voting.
    governing_contract: Option<String>,
    /// Clause 5.5 of the governing contract's current revision, parsed.
    rules: Option<GovernanceRules>,
    last_timestamp: Option<Timestamp>,
    /// Every revision of every contract, oldest first.
    contracts: BTreeMap<String, Vec<Contract>>,
    /// Contract id -> clause id -> hash of that clause in the current revision
    /// (a cache: hashing a clause costs more than the rest of a `propose`).
    #[serde(default)]
    clause_hashes: BTreeMap<String, BTreeMap<String, Digest>>,
    nodes: BTreeMap<String, NodeRecord>,
    /// Key id -> node id, for key uniqueness.
    keyids: BTreeMap<String, String>,
    domains: BTreeMap<String, Domain>,
    /// Proposals by the log index of their `propose` entry.
    proposals: BTreeMap<u64, Proposal>,
    /// Proposal id -> log index of its `propose` entry.
    proposal_index: BTreeMap<String, u64>,
    ballots: BTreeMap<String, Ballot>,
    /// Ids of proposals still voting.
    open: BTreeSet<String>,
    /// Closed proposals, by id: what later decisions read of them (their full
    /// records leave through [`State::take_retired`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    closed: BTreeMap<String, ClosedProposal>,
    /// Entry hashes of every entry applied while no replay window was in force
    /// (replay detection, `replay.rs`): all of them on a mesh without clause 5.4
    /// `replay_window_secs`; frozen once a window is in force.
    seen: BTreeSet<Digest>,
    /// The replay window and the entries it remembers (`replay.rs`); none while the
    /// governing contract has no `replay_window_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replay: Option<replay::ReplayWindow>,
    /// `ack_sync` entries: contract id -> revision -> node id -> the entry (what a
    /// duplicate is refused by; the acks themselves leave through
    /// [`State::take_retired`]).
    #[serde(default)]
    acks: BTreeMap<String, BTreeMap<u64, BTreeMap<String, AckRef>>>,
    /// Where each revision came from and which nodes were to receive it (fixed when it
    /// was adopted): contract id -> revision -> sync.
    #[serde(default)]
    revision_sync: BTreeMap<String, BTreeMap<u64, RevisionSync>>,
    /// Proven checkpoint forks (`evidence` entries), in log order: what a duplicate
    /// is refused by (the records leave through [`State::take_retired`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    forks: Vec<RecordedFork>,
    /// Local overrides (isolated and local proposals), in adoption order.
    #[serde(default)]
    overrides: Vec<crate::model::LocalOverride>,
    /// Declared connections: source node id -> target node id -> connection.
    #[serde(default)]
    connections: BTreeMap<String, BTreeMap<String, crate::model::DeclaredConnection>>,
    /// (index, time) of the last two entries that changed the governed topology.
    #[serde(default)]
    topology_changes: Vec<(u64, Timestamp)>,
    /// Standing delegations: domain id -> delegator -> delegate.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    delegations: BTreeMap<String, BTreeMap<String, String>>,
    /// Ids of adopted proposals waiting out their timelock.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    timelocked: BTreeSet<String>,
    /// Trust observations and scores (`trust.rs`).
    #[serde(default)]
    trust: TrustState,
    /// Key id -> the node it belonged to and the index of the `update_node` that
    /// replaced it: a replaced key signs nothing new, and its refusal says so.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    retired_keyids: BTreeMap<String, RetiredKey>,
    /// Entry hashes of refused envelopes recorded by `record_refusal` -> the recording
    /// entry's index and the envelope's `signed_at` (one record per envelope), only
    /// while a new record of the envelope could still pass the window check
    /// (`refusals.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    refusals: BTreeMap<Digest, RecordedRefusal>,
    /// The last seal recorded by `record_seal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recorded_seal: Option<RecordedSeal>,
    /// History waiting for [`State::take_retired`].
    #[serde(skip)]
    retired: Outbox,
}

/// The entry of an accepted `ack_sync`, kept for refusing a duplicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRef {
    pub index: u64,
    pub entry_hash: Digest,
}

/// A recorded checkpoint fork as the state keeps it: its key (size, smaller root,
/// larger root) and the entry that recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RecordedFork {
    size: u64,
    roots: [Digest; 2],
    index: u64,
    entry_hash: Digest,
}

/// A recorded refusal as the state keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRefusal {
    /// The index of the `record_refusal` entry.
    pub index: u64,
    /// The refused envelope's `signed_at`.
    pub signed_at: Timestamp,
}

/// A key replaced by a rotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetiredKey {
    pub node_id: String,
    pub index: u64,
}

fn rej(code: RejectCode, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

/// The per-entry context every operation sees.
struct Ctx<'a> {
    index: u64,
    at: Timestamp,
    hash: Digest,
    author: &'a str,
}

impl State {
    /// The empty state, waiting for a genesis entry.
    pub fn new() -> State {
        State::default()
    }

    /// Number of entries applied (= the index the next record gets).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Hash of the genesis entry: the mesh's identity.
    pub fn mesh_id(&self) -> Option<Digest> {
        self.mesh_id
    }

    pub fn mesh_name(&self) -> Option<&str> {
        self.mesh_name.as_deref()
    }

    /// Timestamp of the last applied entry; the next one must not be earlier.
    pub fn last_timestamp(&self) -> Option<Timestamp> {
        self.last_timestamp
    }

    /// Id of the contract whose clause 5.5 governs roles and voting (the genesis one).
    pub fn governing_contract_id(&self) -> Option<&str> {
        self.governing_contract.as_deref()
    }

    /// Clause 5.5's rules as they stand now.
    pub fn governance_rules(&self) -> Option<&GovernanceRules> {
        self.rules.as_ref()
    }

    /// Hash of a clause in the current revision of a contract
    /// ([`Clause::hash`](crate::model::Clause::hash)): what a proposal must name as
    /// `base_clause_hash`.
    pub fn clause_hash(&self, contract_id: &str, clause_id: &str) -> Option<Digest> {
        if let Some(h) = self
            .clause_hashes
            .get(contract_id)
            .and_then(|m| m.get(clause_id))
        {
            return Some(*h);
        }
        self.contract(contract_id)?.clause(clause_id)?.hash().ok()
    }

    /// Current revision of every contract.
    pub fn contracts(&self) -> Vec<&Contract> {
        self.contracts.values().filter_map(|v| v.last()).collect()
    }

    pub fn contract(&self, contract_id: &str) -> Option<&Contract> {
        self.contracts.get(contract_id).and_then(|v| v.last())
    }

    /// Revision `n` (1-based) of a contract.
    pub fn revision(&self, contract_id: &str, n: u64) -> Option<&Contract> {
        let i = usize::try_from(n.checked_sub(1)?).ok()?;
        self.contracts.get(contract_id)?.get(i)
    }

    /// All revisions of a contract, oldest first.
    pub fn revisions(&self, contract_id: &str) -> &[Contract] {
        self.contracts
            .get(contract_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Proposals, newest first: the live ones and the closed ones not yet taken by
    /// [`State::take_retired`] (a ledger takes them into its history table, and
    /// serves both).
    pub fn proposals(&self) -> Vec<&Proposal> {
        let mut all: Vec<(u64, &Proposal)> = self
            .proposals
            .iter()
            .map(|(i, p)| (*i, p))
            .chain(self.retired.by_index.iter().map(|(i, r)| (*i, &r.proposal)))
            .collect();
        all.sort_by_key(|x| std::cmp::Reverse(x.0));
        all.into_iter().map(|(_, p)| p).collect()
    }

    /// A live proposal, or a closed one not yet taken by [`State::take_retired`].
    pub fn proposal(&self, proposal_id: &str) -> Option<&Proposal> {
        self.live(proposal_id)
            .or_else(|| self.retired.get(proposal_id).map(|r| &r.proposal))
    }

    /// Proposals in memory: those voting or waiting out a timelock (closed ones
    /// leave at the entry that closes them). Bounded by what is live, not by history.
    pub fn live_proposal_count(&self) -> usize {
        self.proposals.len()
    }

    /// Proposals that closed (what the state keeps of each is a few ids; see
    /// ARCHITECTURE.md "Closed proposals").
    pub fn closed_proposal_count(&self) -> usize {
        self.closed.len()
    }

    /// Whether a proposal with this id was ever made (live or closed).
    pub fn proposal_exists(&self, proposal_id: &str) -> bool {
        self.proposal_index.contains_key(proposal_id) || self.closed.contains_key(proposal_id)
    }

    /// The node that made a proposal, live or closed.
    pub fn proposer(&self, proposal_id: &str) -> Option<&str> {
        match self.live(proposal_id) {
            Some(p) => Some(&p.proposed_by),
            None => self.closed.get(proposal_id).map(|c| c.proposed_by.as_str()),
        }
    }

    /// A proposal with its ballot: a live one, or a closed one not yet taken by
    /// [`State::take_retired`].
    pub fn proposal_record(&self, proposal_id: &str) -> Option<ProposalRecord> {
        let Some(index) = self.proposal_index.get(proposal_id) else {
            return self.retired.get(proposal_id).cloned();
        };
        let p = self.proposals.get(index)?;
        let b = self.ballots.get(proposal_id)?;
        Some(ProposalRecord {
            index: *index,
            proposal: p.clone(),
            votes: b.votes.clone(),
            superseded_votes: b.superseded.clone(),
            voting_policy: b.policy.clone(),
            eligible_voters: b.eligible.clone(),
            delegations: b.delegations.clone(),
        })
    }

    /// The log index of a live proposal's `propose` entry.
    pub fn proposal_log_index(&self, proposal_id: &str) -> Option<u64> {
        self.proposal_index.get(proposal_id).copied()
    }

    /// Live proposals with the log index of their `propose` entry, newest first.
    pub fn live_proposals(&self) -> impl Iterator<Item = (u64, &Proposal)> {
        self.proposals.iter().rev().map(|(i, p)| (*i, p))
    }

    /// Takes the history made since the last call: the proposals closed (by the
    /// index of their `propose` entry, with their ballots), the equivocations and
    /// checkpoint forks recorded, the attestations and acks accepted. A ledger writes
    /// them to its history tables in the transaction of the records that made them. A
    /// state nobody drains keeps them here and still answers for them.
    pub fn take_retired(&mut self) -> Retired {
        let r = std::mem::take(&mut self.retired);
        let mut acks = r.acks;
        let acks = r
            .ack_order
            .into_iter()
            .filter_map(|(_, contract_id, revision, node_id)| {
                let ack = acks
                    .get_mut(&contract_id)?
                    .get_mut(&revision)?
                    .remove(&node_id)?;
                Some(AckRecord {
                    contract_id,
                    revision,
                    node_id,
                    ack,
                })
            })
            .collect();
        Retired {
            proposals: r.by_index.into_values().collect(),
            equivocations: r.equivocations,
            checkpoint_forks: r.checkpoint_forks,
            attestations: r.attestations,
            acks,
        }
    }

    /// Closed proposals waiting for [`State::take_retired`].
    pub fn retired_count(&self) -> usize {
        self.retired.by_index.len()
    }

    /// Moves every proposal that is neither voting nor waiting out a timelock out of
    /// the live maps (as [`State::apply`] does at the entry that closes one): for a
    /// state restored from a snapshot written before closed proposals left the state.
    /// Returns how many moved.
    pub fn retire_closed(&mut self) -> usize {
        let ids: Vec<String> = self
            .proposal_index
            .keys()
            .filter(|id| !self.open.contains(*id) && !self.timelocked.contains(*id))
            .cloned()
            .collect();
        for id in &ids {
            self.retire(id);
        }
        ids.len()
    }

    /// Counted votes on a proposal, in log order.
    pub fn votes(&self, proposal_id: &str) -> &[Vote] {
        match self.ballots.get(proposal_id) {
            Some(b) => &b.votes,
            None => self
                .retired
                .get(proposal_id)
                .map(|r| r.votes.as_slice())
                .unwrap_or(&[]),
        }
    }

    /// The voting policy a proposal is decided by (frozen when it opened).
    pub fn voting_policy(&self, proposal_id: &str) -> Option<&VotingPolicy> {
        match self.ballots.get(proposal_id) {
            Some(b) => Some(&b.policy),
            None => self.retired.get(proposal_id).map(|r| &r.voting_policy),
        }
    }

    /// The voters eligible on a proposal with their weights (frozen when it opened).
    pub fn eligible_voters(&self, proposal_id: &str) -> Option<&BTreeMap<String, u64>> {
        match self.ballots.get(proposal_id) {
            Some(b) => Some(&b.eligible),
            None => self.retired.get(proposal_id).map(|r| &r.eligible_voters),
        }
    }

    /// Votes on a proposal that their voters replaced by a later vote, in log order.
    pub fn superseded_votes(&self, proposal_id: &str) -> &[Vote] {
        match self.ballots.get(proposal_id) {
            Some(b) => &b.superseded,
            None => self
                .retired
                .get(proposal_id)
                .map(|r| r.superseded_votes.as_slice())
                .unwrap_or(&[]),
        }
    }

    /// The delegations a proposal is tallied with (frozen when it opened).
    pub fn ballot_delegations(&self, proposal_id: &str) -> Option<&BTreeMap<String, String>> {
        match self.ballots.get(proposal_id) {
            Some(b) => Some(&b.delegations),
            None => self.retired.get(proposal_id).map(|r| &r.delegations),
        }
    }

    /// Standing delegations in a domain: delegator -> delegate.
    pub fn delegations(&self, domain_id: &str) -> Option<&BTreeMap<String, String>> {
        self.delegations.get(domain_id)
    }

    /// Every standing delegation: domain id -> delegator -> delegate.
    pub fn all_delegations(&self) -> &BTreeMap<String, BTreeMap<String, String>> {
        &self.delegations
    }

    /// Adopted proposals whose timelock has ended by `now`: a hub submits `enact`
    /// entries for these. Earliest first.
    pub fn due_enactments(&self, now: Timestamp) -> Vec<String> {
        let mut due: Vec<(Timestamp, &String)> = self
            .timelocked
            .iter()
            .filter_map(|id| {
                let ends = self.live(id)?.timelock_ends?;
                (ends <= now).then_some((ends, id))
            })
            .collect();
        due.sort();
        due.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// The index of the `record_refusal` entry that recorded the refused envelope with
    /// this entry hash, while the state keeps it: until the log's time is more than
    /// [`REFUSAL_WINDOW_SECS`] past the envelope's `signed_at` (from then on no record
    /// of it passes the window check, so none is refused as a duplicate).
    pub fn recorded_refusal(&self, envelope_hash: &Digest) -> Option<u64> {
        self.refusals.get(envelope_hash).map(|r| r.index)
    }

    /// Recorded refusals the state keeps (see [`State::recorded_refusal`]).
    pub fn recorded_refusal_count(&self) -> usize {
        self.refusals.len()
    }

    /// The last seal recorded in the log (`record_seal`).
    pub fn recorded_seal(&self) -> Option<&RecordedSeal> {
        self.recorded_seal.as_ref()
    }

    /// Recorded vote equivocations not yet taken by [`State::take_retired`], in log
    /// order (every one, in a state nobody drains).
    pub fn equivocations(&self) -> &[Equivocation] {
        &self.retired.equivocations
    }

    pub fn nodes(&self) -> Vec<&NodeRecord> {
        self.nodes.values().collect()
    }

    pub fn node(&self, node_id: &str) -> Option<&NodeRecord> {
        self.nodes.get(node_id)
    }

    /// The node holding a key id, if any.
    pub fn node_by_keyid(&self, keyid: &str) -> Option<&NodeRecord> {
        self.nodes.get(self.keyids.get(keyid)?)
    }

    pub fn domains(&self) -> Vec<&Domain> {
        self.domains.values().collect()
    }

    pub fn domain(&self, domain_id: &str) -> Option<&Domain> {
        self.domains.get(domain_id)
    }

    /// The `ack_sync` entries not yet taken by [`State::take_retired`] (every one, in
    /// a state nobody drains): contract id -> revision -> node id -> its ack.
    pub fn sync_acks(&self) -> &BTreeMap<String, BTreeMap<u64, BTreeMap<String, SyncAck>>> {
        &self.retired.acks
    }

    /// Whether `node_id` has acknowledged revision `revision` of a contract.
    pub fn has_acked(&self, node_id: &str, contract_id: &str, revision: u64) -> bool {
        self.acks
            .get(contract_id)
            .and_then(|r| r.get(&revision))
            .is_some_and(|a| a.contains_key(node_id))
    }

    /// Source and targets of a revision, fixed when it was adopted (none for a state
    /// restored from before they were recorded).
    pub fn revision_sync(&self, contract_id: &str, revision: u64) -> Option<&RevisionSync> {
        self.revision_sync.get(contract_id)?.get(&revision)
    }

    /// Accepted hygiene attestations not yet taken by [`State::take_retired`], in log
    /// order (every one, in a state nobody drains).
    pub fn attestations(&self) -> &[Attestation] {
        &self.retired.attestations
    }

    /// Proven checkpoint forks (`evidence` entries) not yet taken by
    /// [`State::take_retired`], in log order (every one, in a state nobody drains).
    pub fn checkpoint_forks(&self) -> &[CheckpointFork] {
        &self.retired.checkpoint_forks
    }

    /// Proven checkpoint forks in the log (taken or not).
    pub fn checkpoint_fork_count(&self) -> usize {
        self.forks.len()
    }

    /// Proposals still voting whose period has ended by `now`: a hub submits `close`
    /// entries for these. Earliest deadline first.
    /// The earliest moment a close or an enactment falls due (the first voting
    /// period or timelock to end), whether or not it has passed; `None` when no
    /// proposal is open or timelocked.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let closes = self.open.iter().filter_map(|id| {
            let idx = self.proposal_index.get(id)?;
            Some(self.proposals.get(idx)?.voting_ends)
        });
        let enacts = self
            .timelocked
            .iter()
            .filter_map(|id| self.live(id)?.timelock_ends);
        closes.chain(enacts).min()
    }

    pub fn due_closes(&self, now: Timestamp) -> Vec<String> {
        let mut due: Vec<(Timestamp, u64, &String)> = self
            .open
            .iter()
            .filter_map(|id| {
                let idx = *self.proposal_index.get(id)?;
                let p = self.proposals.get(&idx)?;
                (p.voting_ends <= now).then_some((p.voting_ends, idx, id))
            })
            .collect();
        due.sort();
        due.into_iter().map(|(_, _, id)| id.clone()).collect()
    }

    // ---- internals -------------------------------------------------------------

    fn rules(&self) -> Result<&GovernanceRules, Rejection> {
        self.rules.as_ref().ok_or_else(|| {
            rej(
                RejectCode::Genesis,
                "no governance rules: the genesis entry is missing",
            )
        })
    }

    /// A proposal voting or waiting out its timelock (what decisions read; never
    /// one that closed).
    fn live(&self, proposal_id: &str) -> Option<&Proposal> {
        self.proposals.get(self.proposal_index.get(proposal_id)?)
    }

    /// What the state kept of a closed proposal.
    fn closed(&self, proposal_id: &str) -> Option<&ClosedProposal> {
        self.closed.get(proposal_id)
    }

    /// Moves a closed proposal out of the live maps: its record and ballot to the
    /// outbox, what later decisions read to `closed`.
    fn retire(&mut self, proposal_id: &str) {
        let Some(index) = self.proposal_index.remove(proposal_id) else {
            return;
        };
        let Some(p) = self.proposals.remove(&index) else {
            return;
        };
        let b = self.ballots.remove(proposal_id);
        self.closed.insert(
            proposal_id.to_owned(),
            ClosedProposal {
                proposed_by: p.proposed_by.clone(),
                domain_id: p.domain_id.clone(),
                status: p.status,
                enacted_at: p.enacted_at,
                cancelled_by: p.cancelled_by.clone(),
            },
        );
        let (votes, superseded_votes, voting_policy, eligible_voters, delegations) = match b {
            Some(b) => (b.votes, b.superseded, b.policy, b.eligible, b.delegations),
            None => Default::default(),
        };
        self.retired.index_of.insert(proposal_id.to_owned(), index);
        self.retired.by_index.insert(
            index,
            ProposalRecord {
                index,
                proposal: p,
                votes,
                superseded_votes,
                voting_policy,
                eligible_voters,
                delegations,
            },
        );
    }

    fn proposal_mut(&mut self, proposal_id: &str) -> Option<&mut Proposal> {
        let idx = self.proposal_index.get(proposal_id)?;
        self.proposals.get_mut(idx)
    }

    /// The revision a hash names: it must exist and `contract_hash` must be its hash.
    fn named_revision(
        &self,
        contract_id: &str,
        revision: u64,
        contract_hash: Option<&Digest>,
    ) -> Result<&Contract, Rejection> {
        let revs = self.contracts.get(contract_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownContract,
                format!("contract {contract_id:?} does not exist"),
            )
        })?;
        let rev = self.revision(contract_id, revision).ok_or_else(|| {
            rej(
                RejectCode::UnknownContract,
                format!(
                    "contract {contract_id:?} has no revision {revision} (revisions 1 to {})",
                    revs.len()
                ),
            )
        })?;
        if let Some(h) = contract_hash
            && *h != rev.contract_hash
        {
            return Err(rej(
                RejectCode::Mismatch,
                format!(
                    "contract_hash {h} is not the hash of revision {revision} of {contract_id:?} ({})",
                    rev.contract_hash
                ),
            ));
        }
        Ok(rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_answers_queries() {
        let s = State::new();
        assert_eq!(s.size(), 0);
        assert_eq!(s.mesh_id(), None);
        assert_eq!(s.mesh_name(), None);
        assert!(s.contracts().is_empty());
        assert!(s.proposals().is_empty());
        assert!(s.nodes().is_empty());
        assert!(s.due_closes(Timestamp(i64::MAX)).is_empty());
        let back: State = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
