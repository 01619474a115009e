//! The governance state machine: `apply(state, entry, time)` checks the signature and
//! schema, the tether check (author registered, active, privileged under the current
//! contract) and the operation's own rules, then updates contracts, nodes, domains and
//! proposals. Pure and deterministic: the same log gives the same state everywhere.

use crate::attestation::{AttestError, Attestation, HYGIENE_CLAUSE};
use crate::canonical::{JsonError, parse_strict};
use crate::digest::Digest;
use crate::dsse::{ENTRY_PAYLOAD_TYPE, Envelope, pae};
use crate::entry::{
    AckSyncOp, AttestOp, CloseOp, DomainSpec, EntryPayload, EvidenceKind, EvidenceOp, GenesisOp,
    LogRecord, NodeSpec, Operation, ProposeOp, UpdateNodeOp, VoteOp, WithdrawOp, entry_hash,
};
use crate::evidence::{CheckpointFork, mesh_origin, verify_checkpoint_fork};
use crate::keys::PublicKey;
use crate::model::{
    CODEX_CLAUSES, Clause, Contract, Domain, Equivocation, GOVERNANCE_CLAUSE, GovernanceRules,
    NodeRecord, NodeStatus, NodeType, OperationPrivilege, PHASE_ID, PolicyOverride, Privilege,
    Proposal, ProposalStatus, Vote, VotingPolicy, VotingResult,
};
use crate::stamp::Timestamp;
use crate::sync::{RevisionSync, SyncAck};
use crate::{patch, tally};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
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
    equivocations: Vec<Equivocation>,
    /// Entry hashes of every applied entry (replay detection).
    seen: BTreeSet<Digest>,
    /// `ack_sync` entries: contract id -> revision -> node id -> its ack.
    #[serde(default)]
    acks: BTreeMap<String, BTreeMap<u64, BTreeMap<String, SyncAck>>>,
    /// Where each revision came from and which nodes were to receive it (fixed when it
    /// was adopted): contract id -> revision -> sync.
    #[serde(default)]
    revision_sync: BTreeMap<String, BTreeMap<u64, RevisionSync>>,
    /// Accepted hygiene attestations, in log order.
    #[serde(default)]
    attestations: Vec<Attestation>,
    /// Proven checkpoint forks (`evidence` entries), in log order.
    #[serde(default)]
    checkpoint_forks: Vec<CheckpointFork>,
}

fn rej(code: RejectCode, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

/// A lower-case, hyphenated UUIDv4 (the seed's id pattern).
pub fn is_uuid_v4(s: &str) -> bool {
    match uuid::Uuid::parse_str(s) {
        Ok(u) => {
            u.get_version_num() == 4
                && matches!(u.get_variant(), uuid::Variant::RFC4122)
                && u.hyphenated().to_string() == s
        }
        Err(_) => false,
    }
}

fn check_id(what: &str, id: &str) -> Result<(), Rejection> {
    if is_uuid_v4(id) {
        Ok(())
    } else {
        Err(rej(
            RejectCode::Schema,
            format!("{what} {id:?} is not a lower-case UUIDv4"),
        ))
    }
}

/// Refuses small-order public keys: no signature verifies under them (strict
/// verification), so such a node could never act.
fn check_key(node_id: &str, key: &PublicKey) -> Result<(), Rejection> {
    if key.verifying_key().is_weak() {
        return Err(rej(
            RejectCode::Forbidden,
            format!(
                "public key of node {node_id:?} is a small-order point, not a usable Ed25519 key"
            ),
        ));
    }
    Ok(())
}

/// The per-entry context every operation sees.
struct Ctx<'a> {
    index: u64,
    at: Timestamp,
    hash: Digest,
    author: &'a str,
}

/// The consequences of a decided proposal, computed before anything is changed.
struct Finish {
    proposal_id: String,
    result: VotingResult,
    /// The new contract revision, and clause 5.5's new rules if they changed.
    adoption: Option<(Contract, Option<GovernanceRules>)>,
    /// Other open proposals on the same clause, rejected as stale.
    stale: Vec<String>,
    /// The adopted clause's new hash.
    clause_hash: Option<Digest>,
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

    /// Hash of a clause in the current revision of a contract ([`Clause::hash`]): what
    /// a proposal must name as `base_clause_hash`.
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

    /// Whether an entry with this hash ([`entry_hash`]) is in the log.
    pub fn contains_entry(&self, hash: &Digest) -> bool {
        self.seen.contains(hash)
    }

    /// Validates and applies a new entry at council time `at` as index `size()`.
    /// On `Err` the state is unchanged. `at` must not be before the previous entry's
    /// time (`OutOfOrder`), so that a replay of the log sees the same times.
    pub fn apply(&mut self, env: &Envelope, at: Timestamp) -> Result<Applied, Rejection> {
        self.apply_checked(env, at, SignatureCheck::Verify)
    }

    /// [`State::apply`] for an entry whose signature the caller has already verified
    /// strictly (`PublicKey::verify`) under the key its signature's key id names (the
    /// Raft council's leader does so before proposing: see node/council). Every other
    /// check runs as usual, including that this key id is the author's registered one
    /// at this point of the log; so the answer is the one `apply` gives.
    pub fn apply_preverified(
        &mut self,
        env: &Envelope,
        at: Timestamp,
    ) -> Result<Applied, Rejection> {
        self.apply_checked(env, at, SignatureCheck::AlreadyVerified)
    }

    fn apply_checked(
        &mut self,
        env: &Envelope,
        at: Timestamp,
        check: SignatureCheck,
    ) -> Result<Applied, Rejection> {
        if let Some(last) = self.last_timestamp
            && at < last
        {
            return Err(rej(
                RejectCode::OutOfOrder,
                format!("timestamp {at} is before the previous entry's {last}"),
            ));
        }
        let (payload, payload_bytes) = decode_entry(env)?;
        let hash =
            entry_hash(env).map_err(|e| rej(RejectCode::Malformed, format!("envelope: {e}")))?;
        let ctx = Ctx {
            index: self.size,
            at,
            hash,
            author: &payload.author,
        };
        let events = match &payload.op {
            Operation::Genesis(g) => {
                if self.mesh_id.is_some() {
                    return Err(rej(
                        RejectCode::Genesis,
                        "the log already has a genesis entry",
                    ));
                }
                let founder = g
                    .founders
                    .iter()
                    .find(|f| f.node_id == payload.author)
                    .ok_or_else(|| {
                        rej(
                            RejectCode::UnknownSigner,
                            format!(
                                "genesis author {:?} is not one of its founders",
                                payload.author
                            ),
                        )
                    })?;
                verify_signature(
                    env,
                    &payload_bytes,
                    &founder.public_key,
                    &payload.author,
                    check,
                )?;
                if founder.node_type != NodeType::GovernanceHub {
                    return Err(rej(
                        RejectCode::NotPrivileged,
                        format!(
                            "genesis must be signed by a founding governance_hub; {:?} is a {}",
                            payload.author,
                            founder.node_type.as_str()
                        ),
                    ));
                }
                self.apply_genesis(g, &ctx)?
            }
            op => {
                if self.mesh_id.is_none() {
                    return Err(rej(
                        RejectCode::Genesis,
                        format!("a {} entry before the genesis entry", op.kind()),
                    ));
                }
                let author = self.nodes.get(&payload.author).ok_or_else(|| {
                    rej(
                        RejectCode::UnknownSigner,
                        format!("author {:?} is not a registered node", payload.author),
                    )
                })?;
                verify_signature(
                    env,
                    &payload_bytes,
                    &author.public_key,
                    &payload.author,
                    check,
                )?;
                if self.seen.contains(&hash) {
                    return Err(rej(
                        RejectCode::Replay,
                        format!("entry {hash} is already in the log"),
                    ));
                }
                self.tether(author, op)?;
                match op {
                    Operation::Genesis(_) => unreachable!("handled above"),
                    Operation::RegisterNode(spec) => self.register_node(spec, &ctx)?,
                    Operation::UpdateNode(u) => self.update_node(u, &ctx)?,
                    Operation::DefineDomain(d) => self.define_domain(d, &ctx)?,
                    Operation::Propose(p) => self.propose(p, &ctx)?,
                    Operation::Vote(v) => self.vote(v, &ctx)?,
                    Operation::Withdraw(w) => self.withdraw(w, &ctx)?,
                    Operation::Close(c) => self.close(c, &ctx)?,
                    Operation::AckSync(a) => self.ack_sync(a, &ctx)?,
                    Operation::Attest(a) => self.attest(a, &ctx)?,
                    Operation::Evidence(e) => self.evidence(e, &ctx)?,
                }
            }
        };
        // Bookkeeping common to every accepted entry (cannot fail).
        self.seen.insert(hash);
        self.size += 1;
        self.last_timestamp = Some(at);
        if let Some(n) = self.nodes.get_mut(&payload.author) {
            n.last_seen = Some(at);
        }
        Ok(Applied {
            index: ctx.index,
            entry_hash: hash,
            kind: payload.op.kind().to_owned(),
            author: payload.author.clone(),
            events,
        })
    }

    /// Applies a stamped record from a log (replay, replication, verification): the
    /// record's index must be `size()` and its timestamp not before the previous one.
    pub fn apply_record(&mut self, rec: &LogRecord) -> Result<Applied, Rejection> {
        if rec.index != self.size {
            return Err(rej(
                RejectCode::OutOfOrder,
                format!("record index {} where {} is next", rec.index, self.size),
            ));
        }
        self.apply(&rec.envelope, rec.timestamp)
    }

    /// [`State::apply_record`] for a record whose signature the caller has already
    /// verified, typically many at once with [`crate::keys::verify_batch`] over
    /// [`crate::entry::signature_parts`], under the public key whose key id the
    /// signature names. Every other check runs as usual, including that this key id is
    /// the author's registered one (a key id is the SHA-256 of its key, so a signature
    /// verified under a key with that id is the author's). For replaying a log this
    /// node already accepted; a verifier of an untrusted log should use `apply_record`,
    /// whose strict verification refuses the torsion-tweaked signatures a batch may let
    /// through (see `verify_batch`).
    pub fn apply_record_preverified(&mut self, rec: &LogRecord) -> Result<Applied, Rejection> {
        if rec.index != self.size {
            return Err(rej(
                RejectCode::OutOfOrder,
                format!("record index {} where {} is next", rec.index, self.size),
            ));
        }
        self.apply_checked(
            &rec.envelope,
            rec.timestamp,
            SignatureCheck::AlreadyVerified,
        )
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

    /// Proposals, newest first.
    pub fn proposals(&self) -> Vec<&Proposal> {
        self.proposals.values().rev().collect()
    }

    pub fn proposal(&self, proposal_id: &str) -> Option<&Proposal> {
        self.proposals.get(self.proposal_index.get(proposal_id)?)
    }

    /// Counted votes on a proposal, in log order.
    pub fn votes(&self, proposal_id: &str) -> &[Vote] {
        self.ballots
            .get(proposal_id)
            .map(|b| b.votes.as_slice())
            .unwrap_or(&[])
    }

    /// The voting policy a proposal is decided by (frozen when it opened).
    pub fn voting_policy(&self, proposal_id: &str) -> Option<&VotingPolicy> {
        self.ballots.get(proposal_id).map(|b| &b.policy)
    }

    /// The voters eligible on a proposal with their weights (frozen when it opened).
    pub fn eligible_voters(&self, proposal_id: &str) -> Option<&BTreeMap<String, u64>> {
        self.ballots.get(proposal_id).map(|b| &b.eligible)
    }

    pub fn equivocations(&self) -> &[Equivocation] {
        &self.equivocations
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

    /// Every `ack_sync` in the log: contract id -> revision -> node id -> its ack.
    pub fn sync_acks(&self) -> &BTreeMap<String, BTreeMap<u64, BTreeMap<String, SyncAck>>> {
        &self.acks
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

    /// Accepted hygiene attestations, in log order.
    pub fn attestations(&self) -> &[Attestation] {
        &self.attestations
    }

    /// Proven checkpoint forks (`evidence` entries), in log order.
    pub fn checkpoint_forks(&self) -> &[CheckpointFork] {
        &self.checkpoint_forks
    }

    /// Proposals still voting whose period has ended by `now`: a hub submits `close`
    /// entries for these. Earliest deadline first.
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

    fn proposal_mut(&mut self, proposal_id: &str) -> Option<&mut Proposal> {
        let idx = self.proposal_index.get(proposal_id)?;
        self.proposals.get_mut(idx)
    }

    /// The tether check: the author is active and its role holds the privilege the
    /// operation needs under the current clause 5.5; proposers and voters are members
    /// of the governing domain.
    fn tether(&self, author: &NodeRecord, op: &Operation) -> Result<(), Rejection> {
        if author.status != NodeStatus::Active {
            return Err(rej(
                RejectCode::NotActive,
                format!(
                    "author {:?} is {:?}, only active nodes may write to the log",
                    author.node_id, author.status
                ),
            ));
        }
        let rules = self.rules()?;
        let exempt = match op {
            // A node may move itself to a new address without any privilege.
            Operation::UpdateNode(u) => {
                u.node_id == author.node_id && u.status.is_none() && u.public_key.is_none()
            }
            // A domain's admin may redefine it.
            Operation::DefineDomain(d) => self
                .domains
                .get(&d.domain_id)
                .is_some_and(|existing| existing.admin_node_id == author.node_id),
            _ => false,
        };
        if !exempt
            && let Some(&OperationPrivilege::Role(privilege)) =
                rules.operation_privileges.get(op.kind())
            && !rules.role_has(author.node_type, privilege)
        {
            return Err(rej(
                RejectCode::NotPrivileged,
                format!(
                    "role {} of {:?} lacks {} which clause 5.5 requires for {}",
                    author.node_type.as_str(),
                    author.node_id,
                    privilege.as_str(),
                    op.kind()
                ),
            ));
        }
        let domain_id = match op {
            Operation::Propose(p) => Some(
                p.domain_id
                    .clone()
                    .unwrap_or_else(|| rules.default_domain_id.clone()),
            ),
            Operation::Vote(v) => self.proposal(&v.proposal_id).map(|p| p.domain_id.clone()),
            _ => None,
        };
        if let Some(domain_id) = domain_id {
            let domain = self.domains.get(&domain_id).ok_or_else(|| {
                rej(
                    RejectCode::UnknownDomain,
                    format!("domain {domain_id:?} does not exist"),
                )
            })?;
            if !domain.member_nodes.contains(&author.node_id) {
                return Err(rej(
                    RejectCode::NotMember,
                    format!(
                        "{:?} is not a member of domain {domain_id:?} ({})",
                        author.node_id, domain.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn apply_genesis(&mut self, g: &GenesisOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        if g.mesh_name.trim().is_empty() {
            return Err(rej(RejectCode::Forbidden, "genesis mesh_name is empty"));
        }
        if g.founders.is_empty() {
            return Err(rej(RejectCode::Forbidden, "genesis names no founders"));
        }
        // Contract revision 1.
        let spec = &g.contract;
        if spec.contract_id.trim().is_empty() {
            return Err(rej(RejectCode::Forbidden, "genesis contract_id is empty"));
        }
        let mut clause_ids = BTreeSet::new();
        for c in &spec.clauses {
            if !clause_ids.insert(c.clause_id.as_str()) {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!("genesis contract has clause {:?} twice", c.clause_id),
                ));
            }
        }
        let gov_clause = spec
            .clauses
            .iter()
            .find(|c| c.clause_id == GOVERNANCE_CLAUSE)
            .ok_or_else(|| {
                rej(
                    RejectCode::Forbidden,
                    format!(
                        "genesis contract {:?} has no clause {GOVERNANCE_CLAUSE} (roles and voting rules)",
                        spec.contract_id
                    ),
                )
            })?;
        let rules = GovernanceRules::from_rules(&gov_clause.rules)
            .map_err(|e| rej(RejectCode::Forbidden, e))?;
        let mut contract = Contract {
            contract_id: spec.contract_id.clone(),
            label: spec.label.clone(),
            revision: 1,
            clauses: spec.clauses.clone(),
            parent_hash: None,
            adopted_by_proposal: None,
            adopted_at: ctx.at,
            contract_hash: Digest::default(),
        };
        contract.contract_hash = contract
            .compute_hash()
            .map_err(|e| rej(RejectCode::Malformed, format!("genesis contract: {e}")))?;
        let clause_hashes = contract
            .clauses
            .iter()
            .map(|c| Ok((c.clause_id.clone(), c.hash()?)))
            .collect::<Result<BTreeMap<_, _>, JsonError>>()
            .map_err(|e| rej(RejectCode::Malformed, format!("genesis clause: {e}")))?;

        // Founders.
        let mut nodes = BTreeMap::new();
        let mut keyids = BTreeMap::new();
        let mut events = vec![Event::MeshFounded { mesh_id: ctx.hash }];
        for f in &g.founders {
            check_id("founder node_id", &f.node_id)?;
            check_key(&f.node_id, &f.public_key)?;
            let keyid = f.public_key.keyid();
            if keyids.insert(keyid, f.node_id.clone()).is_some() {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!(
                        "founder {:?} reuses another founder's public key",
                        f.node_id
                    ),
                ));
            }
            let rec = new_node_record(f, &rules, ctx.at, &f.node_id);
            if nodes.insert(f.node_id.clone(), rec).is_some() {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!("founder {:?} is listed twice", f.node_id),
                ));
            }
            events.push(Event::NodeRegistered {
                node_id: f.node_id.clone(),
            });
        }

        // Domains.
        let mut domains = BTreeMap::new();
        for d in &g.domains {
            let domain = build_domain(d, &nodes, ctx.at)?;
            if domains.insert(d.domain_id.clone(), domain).is_some() {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!("genesis defines domain {:?} twice", d.domain_id),
                ));
            }
            events.push(Event::DomainDefined {
                domain_id: d.domain_id.clone(),
            });
        }
        if !domains.contains_key(&rules.default_domain_id) {
            return Err(rej(
                RejectCode::UnknownDomain,
                format!(
                    "clause 5.5 default_domain_id {:?} is not one of the genesis domains",
                    rules.default_domain_id
                ),
            ));
        }

        let targets = nodes
            .keys()
            .filter(|id| id.as_str() != ctx.author)
            .cloned()
            .collect();
        self.revision_sync.insert(
            spec.contract_id.clone(),
            BTreeMap::from([(
                1,
                RevisionSync {
                    source_node_id: ctx.author.to_owned(),
                    target_node_ids: targets,
                },
            )]),
        );
        self.mesh_id = Some(ctx.hash);
        self.mesh_name = Some(g.mesh_name.clone());
        self.governing_contract = Some(spec.contract_id.clone());
        self.rules = Some(rules);
        self.contracts
            .insert(spec.contract_id.clone(), vec![contract]);
        self.clause_hashes
            .insert(spec.contract_id.clone(), clause_hashes);
        self.nodes = nodes;
        self.keyids = keyids;
        self.domains = domains;
        Ok(events)
    }

    fn register_node(&mut self, spec: &NodeSpec, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        check_id("node_id", &spec.node_id)?;
        if self.nodes.contains_key(&spec.node_id) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("node {:?} is already registered", spec.node_id),
            ));
        }
        check_key(&spec.node_id, &spec.public_key)?;
        let keyid = spec.public_key.keyid();
        if let Some(holder) = self.keyids.get(&keyid) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("public key {keyid} is already registered to node {holder:?}"),
            ));
        }
        let rec = new_node_record(spec, self.rules()?, ctx.at, ctx.author);
        self.keyids.insert(keyid, spec.node_id.clone());
        self.nodes.insert(spec.node_id.clone(), rec);
        Ok(vec![Event::NodeRegistered {
            node_id: spec.node_id.clone(),
        }])
    }

    fn update_node(&mut self, u: &UpdateNodeOp, _ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let node = self.nodes.get(&u.node_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownNode,
                format!("node {:?} is not registered", u.node_id),
            )
        })?;
        if u.status.is_none() && u.network_address.is_none() && u.public_key.is_none() {
            return Err(rej(
                RejectCode::Forbidden,
                "update_node changes nothing: give status, network_address or public_key",
            ));
        }
        let old_keyid = node.public_key.keyid();
        if let Some(k) = &u.public_key {
            check_key(&u.node_id, k)?;
        }
        let new_keyid = u.public_key.map(|k| k.keyid());
        if let Some(k) = &new_keyid
            && *k != old_keyid
            && let Some(holder) = self.keyids.get(k)
        {
            return Err(rej(
                RejectCode::Duplicate,
                format!("public key {k} is already registered to node {holder:?}"),
            ));
        }
        let node = self.nodes.get_mut(&u.node_id).expect("checked above");
        if let Some(s) = u.status {
            node.status = s;
        }
        if let Some(a) = &u.network_address {
            node.network_address = Some(a.clone());
        }
        if let (Some(k), Some(new_keyid)) = (u.public_key, new_keyid) {
            node.public_key = k;
            self.keyids.remove(&old_keyid);
            self.keyids.insert(new_keyid, u.node_id.clone());
        }
        Ok(vec![Event::NodeUpdated {
            node_id: u.node_id.clone(),
        }])
    }

    fn define_domain(&mut self, d: &DomainSpec, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        // The council domain decides every change to the governing contract; letting one
        // privileged node redefine it (say, as a domain of one) would let that node
        // change the contract alone.
        let rules = self.rules()?;
        if d.domain_id == rules.default_domain_id {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "domain {:?} is the council domain of clause 5.5; the genesis defines it and define_domain cannot change it",
                    d.domain_id
                ),
            ));
        }
        let domain = build_domain(d, &self.nodes, ctx.at)?;
        self.domains.insert(d.domain_id.clone(), domain);
        Ok(vec![Event::DomainDefined {
            domain_id: d.domain_id.clone(),
        }])
    }

    fn propose(&mut self, op: &ProposeOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        check_id("proposal_id", &op.proposal_id)?;
        if self.proposal_index.contains_key(&op.proposal_id) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("proposal {:?} already exists", op.proposal_id),
            ));
        }
        let rules = self.rules()?;
        let contract = self.contract(&op.contract_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownContract,
                format!("contract {:?} does not exist", op.contract_id),
            )
        })?;
        let clause = contract.clause(&op.target_contract_clause).ok_or_else(|| {
            rej(
                RejectCode::UnknownClause,
                format!(
                    "contract {:?} has no clause {:?}",
                    op.contract_id, op.target_contract_clause
                ),
            )
        })?;
        let clause_hash = self
            .clause_hash(&op.contract_id, &op.target_contract_clause)
            .ok_or_else(|| rej(RejectCode::Malformed, "clause does not hash"))?;
        if clause_hash != op.base_clause_hash {
            return Err(rej(
                RejectCode::StaleBase,
                format!(
                    "clause {} of {:?} has hash {clause_hash} (revision {}), the proposal was written against {}",
                    op.target_contract_clause,
                    op.contract_id,
                    contract.revision,
                    op.base_clause_hash
                ),
            ));
        }
        if op.changes.current_text != clause.text {
            return Err(rej(
                RejectCode::StaleBase,
                format!(
                    "changes.current_text is not the current text of clause {} of {:?}",
                    op.target_contract_clause, op.contract_id
                ),
            ));
        }
        if !op.changes.diff.is_empty() {
            self.check_diff(op, clause)?;
        }
        let domain_id = op
            .domain_id
            .clone()
            .unwrap_or_else(|| rules.default_domain_id.clone());
        if self.governing_contract.as_deref() == Some(op.contract_id.as_str())
            && domain_id != rules.default_domain_id
        {
            // Any node with can_override_policy may define a domain; if such a domain
            // could decide the governing contract, one node could define a domain of
            // one and adopt changes alone.
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "changes to the governing contract {:?} are decided by the council domain {:?} (clause 5.5 default_domain_id), not by domain {domain_id:?}",
                    op.contract_id, rules.default_domain_id
                ),
            ));
        }
        let domain = self.domains.get(&domain_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownDomain,
                format!("domain {domain_id:?} does not exist"),
            )
        })?;
        let clause_id = op.target_contract_clause.as_str();
        let overrides: Vec<&PolicyOverride> = [
            Some(&domain.policy),
            rules.clause_voting_policies.get(clause_id),
            domain.clause_policies.get(clause_id),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut policy = VotingPolicy::resolve(&rules.default_voting_policy, &overrides);
        let period = op.voting_period_secs.unwrap_or(policy.voting_period_secs);
        let b = rules.voting_period_bounds;
        if period < b.min_secs || period > b.max_secs {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "voting period {period} s is outside the bounds [{}, {}] s of clause 5.5",
                    b.min_secs, b.max_secs
                ),
            ));
        }
        policy.voting_period_secs = period;
        let eligible: BTreeMap<String, u64> = domain
            .member_nodes
            .iter()
            .filter_map(|id| self.nodes.get(id))
            .filter(|n| {
                n.status == NodeStatus::Active
                    && rules.role_has(n.node_type, Privilege::CanVoteOnProposal)
            })
            .map(|n| (n.node_id.clone(), policy.weight_of(&n.node_id)))
            .collect();
        let eligible_weight = eligible.values().fold(0u64, |a, w| a.saturating_add(*w));
        if eligible_weight == 0 {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "domain {domain_id:?} has no eligible voting weight: nobody could decide this proposal"
                ),
            ));
        }
        let mut result = VotingResult {
            eligible_weight,
            ..VotingResult::default()
        };
        tally::evaluate(&policy, &mut result, false);
        if let Some(outcome) = result.outcome {
            // E.g. a threshold of 1: no vote could ever adopt it.
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "the voting policy of domain {domain_id:?} decides this proposal ({outcome:?}) before any vote: {}",
                    result.reason
                ),
            ));
        }
        let proposal = Proposal {
            proposal_id: op.proposal_id.clone(),
            proposed_by: ctx.author.to_owned(),
            contract_id: op.contract_id.clone(),
            target_contract_clause: op.target_contract_clause.clone(),
            base_clause_hash: op.base_clause_hash,
            base_revision: contract.revision,
            domain_id,
            rationale: op.rationale.clone(),
            changes: op.changes.clone(),
            status: ProposalStatus::Voting,
            created_at: ctx.at,
            updated_at: ctx.at,
            voting_starts: ctx.at,
            voting_ends: ctx.at.plus_secs(period),
            voting_result: result,
            phase_id: PHASE_ID.to_owned(),
            codex_clauses: CODEX_CLAUSES.iter().map(|s| (*s).to_owned()).collect(),
            governance_scope: "federated".to_owned(),
            attestation_hashes: vec![ctx.hash],
            adopted_revision: None,
        };
        self.ballots.insert(
            op.proposal_id.clone(),
            Ballot {
                policy,
                eligible,
                votes: Vec::new(),
                voted: BTreeMap::new(),
            },
        );
        self.proposal_index
            .insert(op.proposal_id.clone(), ctx.index);
        self.proposals.insert(ctx.index, proposal);
        self.open.insert(op.proposal_id.clone());
        Ok(vec![Event::ProposalOpened {
            proposal_id: op.proposal_id.clone(),
        }])
    }

    /// The proposal's diff applies to the clause's rules and, for clause 5.5 of the
    /// governing contract, leaves rules the state machine can enforce.
    fn check_diff(&self, op: &ProposeOp, clause: &Clause) -> Result<(), Rejection> {
        let patched = patch::apply_diff(&clause.rules, &op.changes.diff)
            .map_err(|e| rej(RejectCode::BadPatch, e.to_string()))?;
        if self.governing_contract.as_deref() == Some(op.contract_id.as_str())
            && op.target_contract_clause == GOVERNANCE_CLAUSE
        {
            let new_rules = GovernanceRules::from_rules(&patched).map_err(|e| {
                rej(
                    RejectCode::BadPatch,
                    format!("the change would break clause 5.5: {e}"),
                )
            })?;
            if !self.domains.contains_key(&new_rules.default_domain_id) {
                return Err(rej(
                    RejectCode::BadPatch,
                    format!(
                        "the change would set default_domain_id to unknown domain {:?}",
                        new_rules.default_domain_id
                    ),
                ));
            }
        }
        Ok(())
    }

    fn open_proposal(&self, proposal_id: &str) -> Result<&Proposal, Rejection> {
        let p = self.proposal(proposal_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownProposal,
                format!("proposal {proposal_id:?} does not exist"),
            )
        })?;
        if p.status != ProposalStatus::Voting {
            return Err(rej(
                RejectCode::NotVoting,
                format!("proposal {proposal_id:?} is {:?}, not voting", p.status),
            ));
        }
        Ok(p)
    }

    fn vote(&mut self, op: &VoteOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let p = self.open_proposal(&op.proposal_id)?;
        if ctx.at >= p.voting_ends {
            return Err(rej(
                RejectCode::NotVoting,
                format!(
                    "voting on proposal {:?} ended at {}",
                    op.proposal_id, p.voting_ends
                ),
            ));
        }
        let ballot = self
            .ballots
            .get(&op.proposal_id)
            .expect("every proposal has a ballot");
        let Some(&weight) = ballot.eligible.get(ctx.author) else {
            return Err(rej(
                RejectCode::NotMember,
                format!(
                    "{:?} is not among the eligible voters of proposal {:?}",
                    ctx.author, op.proposal_id
                ),
            ));
        };
        if let Some(&i) = ballot.voted.get(ctx.author) {
            let first = &ballot.votes[i];
            if first.choice == op.choice && first.reason == op.reason {
                return Err(rej(
                    RejectCode::Replay,
                    format!(
                        "{:?} already cast this vote on proposal {:?} (entry {})",
                        ctx.author, op.proposal_id, first.entry_hash
                    ),
                ));
            }
            // A second, different vote: kept as evidence, not counted.
            self.equivocations.push(Equivocation {
                proposal_id: op.proposal_id.clone(),
                voter: ctx.author.to_owned(),
                first_entry: first.entry_hash,
                second_entry: ctx.hash,
                first_index: first.index,
                second_index: ctx.index,
            });
            return Ok(vec![Event::EquivocationRecorded {
                proposal_id: op.proposal_id.clone(),
                voter: ctx.author.to_owned(),
            }]);
        }
        let mut result = p.voting_result.clone();
        tally::add_vote(&mut result, op.choice, weight);
        tally::evaluate(&ballot.policy, &mut result, false);
        let finish = match result.outcome {
            Some(_) => Some(self.plan_finish(p, result.clone(), ctx.at)?),
            None => None,
        };
        // Validated: now change the state.
        let vote = Vote {
            proposal_id: op.proposal_id.clone(),
            voter: ctx.author.to_owned(),
            choice: op.choice,
            weight,
            reason: op.reason.clone(),
            timestamp: ctx.at,
            index: ctx.index,
            entry_hash: ctx.hash,
        };
        let ballot = self
            .ballots
            .get_mut(&op.proposal_id)
            .expect("every proposal has a ballot");
        ballot
            .voted
            .insert(ctx.author.to_owned(), ballot.votes.len());
        ballot.votes.push(vote);
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.voting_result = result;
        p.updated_at = ctx.at;
        p.attestation_hashes.push(ctx.hash);
        let mut events = vec![Event::VoteCounted {
            proposal_id: op.proposal_id.clone(),
            voter: ctx.author.to_owned(),
        }];
        if let Some(f) = finish {
            events.extend(self.commit_finish(f, ctx));
        }
        Ok(events)
    }

    fn close(&mut self, op: &CloseOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let p = self.open_proposal(&op.proposal_id)?;
        if ctx.at < p.voting_ends {
            return Err(rej(
                RejectCode::TooEarly,
                format!(
                    "voting on proposal {:?} ends at {}, it is {}",
                    op.proposal_id, p.voting_ends, ctx.at
                ),
            ));
        }
        let ballot = self
            .ballots
            .get(&op.proposal_id)
            .expect("every proposal has a ballot");
        let mut result = p.voting_result.clone();
        tally::evaluate(&ballot.policy, &mut result, true);
        let finish = self.plan_finish(p, result, ctx.at)?;
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.attestation_hashes.push(ctx.hash);
        Ok(self.commit_finish(finish, ctx))
    }

    fn withdraw(&mut self, op: &WithdrawOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let p = self.proposal(&op.proposal_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownProposal,
                format!("proposal {:?} does not exist", op.proposal_id),
            )
        })?;
        if p.proposed_by != ctx.author {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "only the proposer {:?} may withdraw proposal {:?}",
                    p.proposed_by, op.proposal_id
                ),
            ));
        }
        let p = self.open_proposal(&op.proposal_id)?;
        if ctx.at >= p.voting_ends {
            // The tally decides now; a withdrawal must not pre-empt the close.
            return Err(rej(
                RejectCode::NotVoting,
                format!(
                    "voting on proposal {:?} ended at {}: it can only be closed now",
                    op.proposal_id, p.voting_ends
                ),
            ));
        }
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.status = ProposalStatus::Withdrawn;
        p.updated_at = ctx.at;
        p.attestation_hashes.push(ctx.hash);
        p.voting_result.outcome = None;
        p.voting_result.reason = match &op.reason {
            Some(r) => format!("withdrawn by the proposer: {r}"),
            None => "withdrawn by the proposer".to_owned(),
        };
        self.open.remove(&op.proposal_id);
        Ok(vec![Event::ProposalWithdrawn {
            proposal_id: op.proposal_id.clone(),
        }])
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

    fn ack_sync(&mut self, op: &AckSyncOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        self.named_revision(&op.contract_id, op.revision, Some(&op.contract_hash))?;
        if let Some(first) = self
            .acks
            .get(&op.contract_id)
            .and_then(|r| r.get(&op.revision))
            .and_then(|a| a.get(ctx.author))
        {
            return Err(rej(
                RejectCode::Duplicate,
                format!(
                    "{:?} already acknowledged revision {} of {:?} (entry {} at index {})",
                    ctx.author, op.revision, op.contract_id, first.entry_hash, first.index
                ),
            ));
        }
        self.acks
            .entry(op.contract_id.clone())
            .or_default()
            .entry(op.revision)
            .or_default()
            .insert(
                ctx.author.to_owned(),
                SyncAck {
                    timestamp: ctx.at,
                    index: ctx.index,
                    entry_hash: ctx.hash,
                },
            );
        Ok(vec![Event::SyncAcknowledged {
            contract_id: op.contract_id.clone(),
            revision: op.revision,
            node_id: ctx.author.to_owned(),
        }])
    }

    fn attest(&mut self, op: &AttestOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let author = self
            .nodes
            .get(ctx.author)
            .expect("the author is registered");
        let (st, p) = crate::attestation::open(&op.envelope, &author.public_key).map_err(|e| {
            let code = match &e {
                AttestError::PayloadType(_) | AttestError::Signatures(_) => RejectCode::Malformed,
                AttestError::WrongKey { .. } => RejectCode::UnknownSigner,
                AttestError::BadSignature(_) => RejectCode::BadSignature,
                AttestError::Statement(_) => RejectCode::Schema,
            };
            rej(code, e.to_string())
        })?;
        let rev = self.named_revision(&p.contract_id, p.revision, p.contract_hash.as_ref())?;
        let clause = rev.clause(HYGIENE_CLAUSE).ok_or_else(|| {
            rej(
                RejectCode::UnknownClause,
                format!(
                    "revision {} of {:?} has no clause {HYGIENE_CLAUSE}",
                    p.revision, p.contract_id
                ),
            )
        })?;
        let hash = clause
            .hash()
            .map_err(|e| rej(RejectCode::Malformed, format!("clause does not hash: {e}")))?;
        if hash != p.clause_hash {
            return Err(rej(
                RejectCode::Mismatch,
                format!(
                    "clause_hash {} is not the hash of clause {HYGIENE_CLAUSE} in revision {} of {:?} ({hash})",
                    p.clause_hash, p.revision, p.contract_id
                ),
            ));
        }
        let event = Event::AttestationRecorded {
            contract_id: p.contract_id.clone(),
            revision: p.revision,
            passed: p.passed,
        };
        self.attestations.push(Attestation {
            index: ctx.index,
            entry_hash: ctx.hash,
            attester: ctx.author.to_owned(),
            timestamp: ctx.at,
            subject: st.subject,
            predicate_type: st.predicate_type,
            predicate: p,
            envelope: op.envelope.clone(),
        });
        Ok(vec![event])
    }

    fn evidence(&mut self, op: &EvidenceOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        match op.kind {
            EvidenceKind::CheckpointFork => {}
        }
        let mesh_id = self
            .mesh_id
            .ok_or_else(|| rej(RejectCode::Genesis, "no genesis"))?;
        let origin = mesh_origin(&mesh_id);
        let hubs: Vec<(&str, PublicKey)> = self
            .nodes
            .values()
            .filter(|n| n.node_type == NodeType::GovernanceHub)
            .map(|n| (n.node_id.as_str(), n.public_key))
            .collect();
        let proof = verify_checkpoint_fork(&op.notes, &origin, &hubs)
            .map_err(|e| rej(RejectCode::BadEvidence, format!("checkpoint_fork: {e}")))?;
        if let Some(old) = self
            .checkpoint_forks
            .iter()
            .find(|f| f.proof.key() == proof.key())
        {
            return Err(rej(
                RejectCode::Duplicate,
                format!(
                    "this fork at size {} is already recorded (entry {} at index {})",
                    proof.size, old.entry_hash, old.index
                ),
            ));
        }
        let event = Event::CheckpointForkRecorded {
            size: proof.size,
            signers: proof.signers.to_vec(),
        };
        let notes = [op.notes[0].clone(), op.notes[1].clone()];
        self.checkpoint_forks.push(CheckpointFork {
            index: ctx.index,
            entry_hash: ctx.hash,
            reported_by: ctx.author.to_owned(),
            timestamp: ctx.at,
            proof,
            notes,
        });
        Ok(vec![event])
    }

    /// Everything a decided proposal changes, computed without changing anything.
    fn plan_finish(
        &self,
        p: &Proposal,
        mut result: VotingResult,
        at: Timestamp,
    ) -> Result<Finish, Rejection> {
        let mut finish = Finish {
            proposal_id: p.proposal_id.clone(),
            result: VotingResult::default(),
            adoption: None,
            stale: Vec::new(),
            clause_hash: None,
        };
        if result.outcome == Some(ProposalStatus::Adopted) {
            let current = self.contract(&p.contract_id).ok_or_else(|| {
                rej(
                    RejectCode::UnknownContract,
                    format!("contract {:?} does not exist", p.contract_id),
                )
            })?;
            let clause = current.clause(&p.target_contract_clause).ok_or_else(|| {
                rej(
                    RejectCode::UnknownClause,
                    format!(
                        "contract {:?} has no clause {:?}",
                        p.contract_id, p.target_contract_clause
                    ),
                )
            })?;
            let hash = self
                .clause_hash(&p.contract_id, &p.target_contract_clause)
                .ok_or_else(|| rej(RejectCode::Malformed, "clause does not hash"))?;
            let patched = if hash == p.base_clause_hash {
                patch::apply_diff(&clause.rules, &p.changes.diff).map_err(|e| e.to_string())
            } else {
                Err(format!(
                    "clause {} changed since the proposal was written (now {hash})",
                    p.target_contract_clause
                ))
            };
            match patched {
                Err(why) => {
                    result.outcome = Some(ProposalStatus::Rejected);
                    result.reason = format!("stale_base: {why}");
                }
                Ok(rules) => {
                    let mut next = current.clone();
                    next.revision = current.revision + 1;
                    next.parent_hash = Some(current.contract_hash);
                    next.adopted_by_proposal = Some(p.proposal_id.clone());
                    next.adopted_at = at;
                    for c in &mut next.clauses {
                        if c.clause_id == p.target_contract_clause {
                            c.text = p.changes.proposed_text.clone();
                            c.rules = rules.clone();
                        }
                    }
                    next.contract_hash = next
                        .compute_hash()
                        .map_err(|e| rej(RejectCode::Malformed, format!("contract hash: {e}")))?;
                    finish.clause_hash = next
                        .clause(&p.target_contract_clause)
                        .and_then(|c| c.hash().ok());
                    let new_rules = if self.governing_contract.as_deref()
                        == Some(p.contract_id.as_str())
                        && p.target_contract_clause == GOVERNANCE_CLAUSE
                    {
                        Some(GovernanceRules::from_rules(&rules).map_err(|e| {
                            rej(RejectCode::BadPatch, format!("adopted clause 5.5: {e}"))
                        })?)
                    } else {
                        None
                    };
                    finish.stale = self
                        .open
                        .iter()
                        .filter(|id| **id != p.proposal_id)
                        .filter(|id| {
                            self.proposal(id).is_some_and(|o| {
                                o.contract_id == p.contract_id
                                    && o.target_contract_clause == p.target_contract_clause
                            })
                        })
                        .cloned()
                        .collect();
                    finish.adoption = Some((next, new_rules));
                }
            }
        }
        finish.result = result;
        Ok(finish)
    }

    /// Applies a planned finish. Infallible.
    fn commit_finish(&mut self, f: Finish, ctx: &Ctx) -> Vec<Event> {
        let at = ctx.at;
        let mut events = Vec::new();
        let outcome = f.result.outcome.unwrap_or(ProposalStatus::Rejected);
        let reason = f.result.reason.clone();
        let p = self.proposal_mut(&f.proposal_id).expect("proposal exists");
        p.status = outcome;
        p.voting_result = f.result;
        p.updated_at = at;
        let contract_id = p.contract_id.clone();
        let clause_id = p.target_contract_clause.clone();
        self.open.remove(&f.proposal_id);
        match f.adoption {
            Some((contract, new_rules)) => {
                let revision = contract.revision;
                let p = self.proposal_mut(&f.proposal_id).expect("proposal exists");
                p.adopted_revision = Some(revision);
                // Every node active now is to receive the revision from the node whose
                // entry adopted it.
                let targets = self
                    .nodes
                    .values()
                    .filter(|n| n.status == NodeStatus::Active && n.node_id != ctx.author)
                    .map(|n| n.node_id.clone())
                    .collect();
                self.revision_sync
                    .entry(contract_id.clone())
                    .or_default()
                    .insert(
                        revision,
                        RevisionSync {
                            source_node_id: ctx.author.to_owned(),
                            target_node_ids: targets,
                        },
                    );
                self.contracts
                    .entry(contract_id.clone())
                    .or_default()
                    .push(contract);
                let hashes = self.clause_hashes.entry(contract_id.clone()).or_default();
                match f.clause_hash {
                    Some(h) => hashes.insert(clause_id.clone(), h),
                    None => hashes.remove(&clause_id),
                };
                if let Some(rules) = new_rules {
                    for n in self.nodes.values_mut() {
                        n.privileges = rules.privileges_of(n.node_type);
                    }
                    self.rules = Some(rules);
                }
                events.push(Event::ProposalAdopted {
                    proposal_id: f.proposal_id.clone(),
                    contract_id: contract_id.clone(),
                    revision,
                });
                for id in f.stale {
                    let reason = format!(
                        "stale_base: clause {clause_id} of {contract_id:?} was changed by proposal {} (revision {revision})",
                        f.proposal_id
                    );
                    if let Some(o) = self.proposal_mut(&id) {
                        o.status = ProposalStatus::Rejected;
                        o.voting_result.outcome = Some(ProposalStatus::Rejected);
                        o.voting_result.reason = reason.clone();
                        o.updated_at = at;
                    }
                    self.open.remove(&id);
                    events.push(Event::ProposalRejected {
                        proposal_id: id,
                        reason,
                    });
                }
            }
            None => events.push(Event::ProposalRejected {
                proposal_id: f.proposal_id,
                reason,
            }),
        }
        events
    }
}

/// Step 1: the envelope's form, the payload's JSON, its schema and its type.
fn decode_entry(env: &Envelope) -> Result<(EntryPayload, Vec<u8>), Rejection> {
    if env.payload_type != ENTRY_PAYLOAD_TYPE {
        return Err(rej(
            RejectCode::Malformed,
            format!(
                "payloadType is {:?}, a log entry has {ENTRY_PAYLOAD_TYPE:?}",
                env.payload_type
            ),
        ));
    }
    if env.signatures.len() != 1 {
        return Err(rej(
            RejectCode::Malformed,
            format!(
                "a log entry has exactly one signature, this one has {}",
                env.signatures.len()
            ),
        ));
    }
    let bytes = env
        .payload_bytes()
        .map_err(|e| rej(RejectCode::Malformed, e.to_string()))?;
    let value = parse_strict(&bytes)
        .map_err(|e| rej(RejectCode::Malformed, format!("entry payload: {e}")))?;
    crate::schema::validate_entry_payload(&value).map_err(|e| rej(RejectCode::Schema, e))?;
    let payload = EntryPayload::deserialize(&value)
        .map_err(|e| rej(RejectCode::Schema, format!("entry payload: {e}")))?;
    Ok((payload, bytes))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SignatureCheck {
    Verify,
    /// The caller verified the signature under the key its key id names.
    AlreadyVerified,
}

/// Step 2: the single signature carries `key`'s key id and verifies over the PAE.
fn verify_signature(
    env: &Envelope,
    payload: &[u8],
    key: &PublicKey,
    author: &str,
    check: SignatureCheck,
) -> Result<(), Rejection> {
    let sig = &env.signatures[0];
    let keyid = key.keyid();
    if sig.keyid != keyid {
        return Err(rej(
            RejectCode::UnknownSigner,
            format!(
                "entry is signed with key id {} but author {author:?} is registered with key id {keyid}",
                sig.keyid
            ),
        ));
    }
    if check == SignatureCheck::AlreadyVerified {
        return Ok(());
    }
    let raw = STANDARD.decode(&sig.sig).map_err(|e| {
        rej(
            RejectCode::BadSignature,
            format!("signature is not base64: {e}"),
        )
    })?;
    key.verify(&pae(&env.payload_type, payload), &raw)
        .map_err(|e| rej(RejectCode::BadSignature, format!("author {author:?}: {e}")))
}

fn new_node_record(
    spec: &NodeSpec,
    rules: &GovernanceRules,
    at: Timestamp,
    registered_by: &str,
) -> NodeRecord {
    NodeRecord {
        node_id: spec.node_id.clone(),
        node_type: spec.node_type,
        status: NodeStatus::Active,
        privileges: rules.privileges_of(spec.node_type),
        public_key: spec.public_key,
        network_address: spec.network_address.clone(),
        node_policy_capabilities: spec.node_policy_capabilities.clone(),
        display_name: spec.display_name.clone(),
        registered_at: at,
        registered_by: registered_by.to_owned(),
        last_seen: None,
    }
}

/// Checks a domain definition against the registry and builds the record.
fn build_domain(
    d: &DomainSpec,
    nodes: &BTreeMap<String, NodeRecord>,
    at: Timestamp,
) -> Result<Domain, Rejection> {
    check_id("domain_id", &d.domain_id)?;
    if d.name.trim().is_empty() {
        return Err(rej(
            RejectCode::Forbidden,
            format!("domain {:?} has an empty name", d.domain_id),
        ));
    }
    let unknown = |id: &str, what: &str| {
        rej(
            RejectCode::UnknownNode,
            format!(
                "domain {:?}: {what} {id:?} is not a registered node",
                d.domain_id
            ),
        )
    };
    if !nodes.contains_key(&d.admin_node_id) {
        return Err(unknown(&d.admin_node_id, "admin"));
    }
    let mut seen = BTreeSet::new();
    for m in &d.member_nodes {
        if !nodes.contains_key(m) {
            return Err(unknown(m, "member"));
        }
        if !seen.insert(m) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("domain {:?} lists member {m:?} twice", d.domain_id),
            ));
        }
    }
    d.policy.check_shares().map_err(|e| {
        rej(
            RejectCode::Forbidden,
            format!("domain {:?} policy: {e}", d.domain_id),
        )
    })?;
    for (clause, o) in &d.clause_policies {
        o.check_shares().map_err(|e| {
            rej(
                RejectCode::Forbidden,
                format!("domain {:?} clause_policies[{clause:?}]: {e}", d.domain_id),
            )
        })?;
    }
    Ok(Domain {
        domain_id: d.domain_id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        admin_node_id: d.admin_node_id.clone(),
        member_nodes: d.member_nodes.clone(),
        shared_clauses: d.shared_clauses.clone(),
        local_overrides: d.local_overrides.clone(),
        policy: d.policy.clone(),
        clause_policies: d.clause_policies.clone(),
        defined_at: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_ids() {
        for (id, ok) in [
            ("2f1d3c4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", true),
            ("2f1d3c4e-5b6a-4c7d-be9f-0a1b2c3d4e5f", true),
            ("2F1D3C4E-5B6A-4C7D-8E9F-0A1B2C3D4E5F", false), // upper case
            ("2f1d3c4e5b6a4c7d8e9f0a1b2c3d4e5f", false),     // no hyphens
            ("2f1d3c4e-5b6a-1c7d-8e9f-0a1b2c3d4e5f", false), // version 1
            ("2f1d3c4e-5b6a-4c7d-ce9f-0a1b2c3d4e5f", false), // wrong variant
            ("{2f1d3c4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f}", false),
            ("", false),
        ] {
            assert_eq!(is_uuid_v4(id), ok, "{id}");
        }
    }

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
