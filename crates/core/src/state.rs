//! The governance state machine: `apply(state, entry, time)` checks the signature and
//! schema, the tether check (author registered, active, privileged under the current
//! contract) and the operation's own rules, then updates contracts, nodes, domains and
//! proposals. Pure and deterministic: the same log gives the same state everywhere.

use crate::digest::Digest;
use crate::dsse::Envelope;
use crate::entry::LogRecord;
use crate::model::{Contract, Domain, Equivocation, NodeRecord, Proposal, Vote};
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};

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
    ProposalRejected {
        proposal_id: String,
        reason: String,
    },
    ProposalWithdrawn {
        proposal_id: String,
    },
}

/// All governance state, a deterministic function of the log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    // H2: fields are yours to choose; keep it Serialize + Deserialize (snapshots) and
    // keep every query below cheap.
}

impl State {
    /// The empty state, waiting for a genesis entry.
    pub fn new() -> State {
        State::default()
    }

    /// Number of entries applied (= the index the next record gets).
    pub fn size(&self) -> u64 {
        todo!("H2")
    }

    /// Hash of the genesis entry: the mesh's identity.
    pub fn mesh_id(&self) -> Option<Digest> {
        todo!("H2")
    }

    pub fn mesh_name(&self) -> Option<&str> {
        todo!("H2")
    }

    /// Validates and applies a new entry at council time `at` as index `size()`.
    /// On `Err` the state is unchanged.
    pub fn apply(&mut self, env: &Envelope, at: Timestamp) -> Result<Applied, Rejection> {
        todo!("H2")
    }

    /// Applies a stamped record from a log (replay, replication, verification): the
    /// record's index must be `size()` and its timestamp not before the previous one.
    pub fn apply_record(&mut self, rec: &LogRecord) -> Result<Applied, Rejection> {
        todo!("H2")
    }

    /// Current revision of every contract.
    pub fn contracts(&self) -> Vec<&Contract> {
        todo!("H2")
    }

    pub fn contract(&self, contract_id: &str) -> Option<&Contract> {
        todo!("H2")
    }

    /// Revision `n` (1-based) of a contract.
    pub fn revision(&self, contract_id: &str, n: u64) -> Option<&Contract> {
        todo!("H2")
    }

    /// All revisions of a contract, oldest first.
    pub fn revisions(&self, contract_id: &str) -> &[Contract] {
        todo!("H2")
    }

    /// Proposals, newest first.
    pub fn proposals(&self) -> Vec<&Proposal> {
        todo!("H2")
    }

    pub fn proposal(&self, proposal_id: &str) -> Option<&Proposal> {
        todo!("H2")
    }

    /// Counted votes on a proposal, in log order.
    pub fn votes(&self, proposal_id: &str) -> &[Vote] {
        todo!("H2")
    }

    pub fn equivocations(&self) -> &[Equivocation] {
        todo!("H2")
    }

    pub fn nodes(&self) -> Vec<&NodeRecord> {
        todo!("H2")
    }

    pub fn node(&self, node_id: &str) -> Option<&NodeRecord> {
        todo!("H2")
    }

    pub fn domains(&self) -> Vec<&Domain> {
        todo!("H2")
    }

    pub fn domain(&self, domain_id: &str) -> Option<&Domain> {
        todo!("H2")
    }

    /// Proposals still voting whose period has ended by `now`: a hub submits `close`
    /// entries for these.
    pub fn due_closes(&self, now: Timestamp) -> Vec<String> {
        todo!("H2")
    }
}
