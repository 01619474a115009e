//! The governance records: nodes, contracts and clauses, trust domains and their
//! voting policies, proposals, votes. Field names and enums follow the seed's v1
//! schemas where a seed record exists.

use crate::canonical::{JsonError, hash_canonical, record_hash};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The seed's phase id, carried by proposals and topology records.
pub const PHASE_ID: &str = "5.5";
/// The Codex clauses every seed record names, in the seed's order.
pub const CODEX_CLAUSES: [&str; 5] = ["5.5", "5.4", "11.0", "11.1", "5.2.5"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    GovernanceHub,
    ComplianceWitness,
    TrustFork,
}

impl NodeType {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::GovernanceHub => "governance_hub",
            NodeType::ComplianceWitness => "compliance_witness",
            NodeType::TrustFork => "trust_fork",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Active,
    Inactive,
    Pending,
    Suspended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    CanProposePolicy,
    CanVoteOnProposal,
    CanValidateAttestation,
    CanOverridePolicy,
}

/// A node as the registry in the log knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node_id: String,
    pub node_type: NodeType,
    pub status: NodeStatus,
    /// The privileges clause 5.5 currently gives this node's role (derived).
    pub privileges: Vec<Privilege>,
    pub public_key: PublicKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_address: Option<String>,
    #[serde(default)]
    pub node_policy_capabilities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub registered_at: Timestamp,
    /// Node id of the registering node (itself for founders).
    pub registered_by: String,
    /// Time of this node's last entry in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// Set while the node's voting and proposing rights are suspended (proven
    /// equivocation under clause 5.5 `suspend_on_equivocation`), until a proposal
    /// restores them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
}

/// Why and since when a node may not vote, propose or delegate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub since: Timestamp,
    /// The proof, in words: which evidence of which equivocation.
    pub reason: String,
    /// The entry whose evidence suspended the node (the second vote, or the `evidence`
    /// entry of a checkpoint fork).
    pub evidence_entry: Digest,
    pub evidence_index: u64,
}

/// One numbered clause of a contract: text for people, rules for machines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    pub clause_id: String,
    pub title: String,
    pub text: String,
    pub rules: Value,
}

impl Clause {
    /// SHA-256 over the clause's canonical JSON: what a proposal is written against.
    pub fn hash(&self) -> Result<Digest, JsonError> {
        hash_canonical(self)
    }
}

/// One revision of a governance contract. Revision 1 comes from the genesis; revision
/// n+1 from the adoption of a proposal against revision n.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub contract_id: String,
    pub label: String,
    pub revision: u64,
    pub clauses: Vec<Clause>,
    /// `contract_hash` of revision n-1; none for revision 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_hash: Option<Digest>,
    /// The proposal whose adoption made this revision; none for revision 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_by_proposal: Option<String>,
    pub adopted_at: Timestamp,
    /// The trust domain that decides changes to this contract; none for the governing
    /// contract (the Codex), which clause 5.5's council domain decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Hash of this record without this field.
    pub contract_hash: Digest,
}

impl Contract {
    pub fn compute_hash(&self) -> Result<Digest, JsonError> {
        record_hash(self, "contract_hash")
    }

    pub fn clause(&self, clause_id: &str) -> Option<&Clause> {
        self.clauses.iter().find(|c| c.clause_id == clause_id)
    }
}

/// The seed's connection types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionType {
    #[default]
    Direct,
    Relay,
    Backup,
}

/// A connection between two nodes declared by a `connect` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeclaredConnection {
    pub source_node_id: String,
    pub target_node_id: String,
    pub connection_type: ConnectionType,
    pub declared_by: String,
    pub declared_at: Timestamp,
}

/// Where an adopted proposal applies (the seed proposal's `governance_scope`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GovernanceScope {
    /// Mesh-wide: a new revision of the contract.
    #[default]
    Federated,
    /// Within one domain: a local override for its members.
    Isolated,
    /// On one node: a local override for that node.
    Local,
}

impl GovernanceScope {
    pub fn as_str(self) -> &'static str {
        match self {
            GovernanceScope::Federated => "federated",
            GovernanceScope::Isolated => "isolated",
            GovernanceScope::Local => "local",
        }
    }
}

/// How a proposal resolves a conflict between a federated change and a local
/// override (the seed proposal's `conflict_resolution`): `policy_a` keeps the
/// federated clause (the override is dropped), `policy_b` keeps the override (re-based
/// onto the new revision), `compromise` makes the proposal's text and rules the
/// override.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConflictResolution {
    pub conflict_id: String,
    pub resolution_id: String,
    pub resolution_type: ResolutionType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionType {
    PolicyA,
    PolicyB,
    Compromise,
}

/// A clause as it applies to some nodes only: adopted by an isolated (a domain's
/// members) or local (one node) proposal, against the federated clause of
/// `base_revision`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalOverride {
    pub contract_id: String,
    pub clause_id: String,
    pub scope: GovernanceScope,
    /// The domain whose members it applies to (isolated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// The node it applies to (local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    pub text: String,
    pub rules: Value,
    /// The proposal that adopted (or last resolved) it.
    pub proposal_id: String,
    /// The federated revision it was written against.
    pub base_revision: u64,
    pub adopted_at: Timestamp,
    /// Set when a federated change to the clause was adopted after it; cleared by
    /// the proposal that resolves the conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<OverrideConflict>,
}

/// A federated change adopted over a local override, waiting for a resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideConflict {
    pub conflict_id: String,
    /// The federated revision that changed the clause.
    pub revision: u64,
    /// The proposal that adopted it.
    pub proposal_id: String,
    pub since: Timestamp,
}

/// A new contract as a proposal under the Codex draws it up: adopted, it becomes the
/// contract's revision 1, decided from then on by `domain_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractDraft {
    pub contract_id: String,
    pub label: String,
    pub domain_id: String,
    pub clauses: Vec<Clause>,
}

/// Voting policy; every field optional so that domains and clauses can override
/// parts of a policy. [`VotingPolicy::resolve`] fills the gaps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veto: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voting_period_secs: Option<u64>,
    /// Vote weight by node id; nodes not named weigh `default_weight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<BTreeMap<String, u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_weight: Option<u64>,
    /// Whether a voter may change its vote before the end (a higher `sequence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_vote_change: Option<bool>,
    /// The expedited track's voting period; 0: the policy offers no expedited track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expedited_voting_period_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expedited_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expedited_quorum: Option<f64>,
    /// Approve share of eligible weight that adopts early; 0: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub super_quorum: Option<f64>,
    /// Time left to vote after quorum is first reached late; 0: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_quorum_extension_secs: Option<u64>,
    /// Whether weight delegated by `delegate` entries counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<bool>,
    /// Time between adoption and taking effect; 0: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelock_secs: Option<u64>,
    /// Most proposals one node may have voting at once in the domain; 0: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_proposals: Option<u64>,
    /// The least trust score (clause 5.4 trust model, the last computation before the
    /// proposal opened) a member needs to be eligible to vote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_trust_score: Option<f64>,
    /// Weigh each eligible member's vote by its trust score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_by_trust: Option<bool>,
}

/// Default `expedited_threshold` (Cosmos x/gov's).
pub const DEFAULT_EXPEDITED_THRESHOLD: f64 = 0.667;
/// Default `expedited_quorum`.
pub const DEFAULT_EXPEDITED_QUORUM: f64 = 0.5;

fn default_expedited_threshold() -> f64 {
    DEFAULT_EXPEDITED_THRESHOLD
}

fn default_expedited_quorum() -> f64 {
    DEFAULT_EXPEDITED_QUORUM
}

fn is_default_expedited_threshold(v: &f64) -> bool {
    *v == DEFAULT_EXPEDITED_THRESHOLD
}

fn is_default_expedited_quorum(v: &f64) -> bool {
    *v == DEFAULT_EXPEDITED_QUORUM
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// A complete voting policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VotingPolicy {
    /// Share of eligible weight that must vote (abstain and veto count).
    pub quorum: f64,
    /// Approve share of approve+reject weight that must be exceeded.
    pub threshold: f64,
    /// Veto share of cast weight at or above which the proposal is rejected.
    pub veto: f64,
    pub voting_period_secs: u64,
    #[serde(default)]
    pub weights: BTreeMap<String, u64>,
    pub default_weight: u64,
    // The voting features of issue 14. Each defaults to today's behaviour (off) and is
    // not serialized at its default, so records written before them hash the same.
    /// A voter may replace its vote with one of a higher `sequence` before the end.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_vote_change: bool,
    /// The expedited track's voting period; 0: no expedited track is offered.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub expedited_voting_period_secs: u64,
    /// The expedited track's threshold (approve share of approve+reject to exceed).
    #[serde(
        default = "default_expedited_threshold",
        skip_serializing_if = "is_default_expedited_threshold"
    )]
    pub expedited_threshold: f64,
    /// The expedited track's quorum (share of eligible weight that must vote).
    #[serde(
        default = "default_expedited_quorum",
        skip_serializing_if = "is_default_expedited_quorum"
    )]
    pub expedited_quorum: f64,
    /// Approve weight reaching this share of the eligible weight adopts the proposal
    /// at once if it would pass now (OpenZeppelin GovernorSuperQuorum); 0: off.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub super_quorum: f64,
    /// When quorum is first reached with less than this left to vote, the end moves to
    /// this long after that vote (OpenZeppelin GovernorPreventLateQuorum); 0: off.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub late_quorum_extension_secs: u64,
    /// Whether weight delegated with `delegate` entries counts for the delegate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub delegation: bool,
    /// Time between adoption and taking effect, during which clause 5.5's guardian
    /// role may cancel; 0: an adopted proposal takes effect at once.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub timelock_secs: u64,
    /// Most proposals one node may have voting at once in the deciding domain; 0: no
    /// limit.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub max_open_proposals: u64,
    /// Members whose trust score is below this are not eligible (none: no minimum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_trust_score: Option<f64>,
    /// An eligible member's weight is its weight times its trust score in millionths
    /// ([`crate::trust::weigh`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub weight_by_trust: bool,
}

impl Default for VotingPolicy {
    /// The Codex genesis default policy (quorum 0.334, threshold 0.5, veto 0.334, a
    /// week, weight 1 each) with every optional voting feature off.
    fn default() -> Self {
        VotingPolicy {
            quorum: 0.334,
            threshold: 0.5,
            veto: 0.334,
            voting_period_secs: 604_800,
            weights: BTreeMap::new(),
            default_weight: 1,
            allow_vote_change: false,
            expedited_voting_period_secs: 0,
            expedited_threshold: DEFAULT_EXPEDITED_THRESHOLD,
            expedited_quorum: DEFAULT_EXPEDITED_QUORUM,
            super_quorum: 0.0,
            late_quorum_extension_secs: 0,
            delegation: false,
            timelock_secs: 0,
            max_open_proposals: 0,
            min_trust_score: None,
            weight_by_trust: false,
        }
    }
}

impl VotingPolicy {
    /// Applies overrides in order, later ones winning.
    pub fn resolve(base: &VotingPolicy, overrides: &[&PolicyOverride]) -> VotingPolicy {
        let mut p = base.clone();
        for o in overrides {
            if let Some(v) = o.quorum {
                p.quorum = v;
            }
            if let Some(v) = o.threshold {
                p.threshold = v;
            }
            if let Some(v) = o.veto {
                p.veto = v;
            }
            if let Some(v) = o.voting_period_secs {
                p.voting_period_secs = v;
            }
            if let Some(v) = &o.weights {
                p.weights.extend(v.iter().map(|(k, w)| (k.clone(), *w)));
            }
            if let Some(v) = o.default_weight {
                p.default_weight = v;
            }
            if let Some(v) = o.allow_vote_change {
                p.allow_vote_change = v;
            }
            if let Some(v) = o.expedited_voting_period_secs {
                p.expedited_voting_period_secs = v;
            }
            if let Some(v) = o.expedited_threshold {
                p.expedited_threshold = v;
            }
            if let Some(v) = o.expedited_quorum {
                p.expedited_quorum = v;
            }
            if let Some(v) = o.super_quorum {
                p.super_quorum = v;
            }
            if let Some(v) = o.late_quorum_extension_secs {
                p.late_quorum_extension_secs = v;
            }
            if let Some(v) = o.delegation {
                p.delegation = v;
            }
            if let Some(v) = o.timelock_secs {
                p.timelock_secs = v;
            }
            if let Some(v) = o.max_open_proposals {
                p.max_open_proposals = v;
            }
            if let Some(v) = o.min_trust_score {
                p.min_trust_score = Some(v);
            }
            if let Some(v) = o.weight_by_trust {
                p.weight_by_trust = v;
            }
        }
        p
    }

    /// The policy of the expedited track: its quorum and threshold in place of the
    /// normal ones, its voting period.
    pub fn expedited(&self) -> VotingPolicy {
        VotingPolicy {
            quorum: self.expedited_quorum,
            threshold: self.expedited_threshold,
            voting_period_secs: self.expedited_voting_period_secs,
            ..self.clone()
        }
    }

    pub fn weight_of(&self, node_id: &str) -> u64 {
        self.weights
            .get(node_id)
            .copied()
            .unwrap_or(self.default_weight)
    }
}

impl PolicyOverride {
    /// Checks that the shares (quorum, threshold, veto, min_trust_score) are numbers
    /// in [0, 1].
    pub fn check_shares(&self) -> Result<(), String> {
        for (name, v) in [
            ("quorum", self.quorum),
            ("threshold", self.threshold),
            ("veto", self.veto),
            ("expedited_threshold", self.expedited_threshold),
            ("expedited_quorum", self.expedited_quorum),
            ("super_quorum", self.super_quorum),
            ("min_trust_score", self.min_trust_score),
        ] {
            if let Some(x) = v
                && !(0.0..=1.0).contains(&x)
            {
                return Err(format!("{name} is {x}, must be a number in [0, 1]"));
            }
        }
        Ok(())
    }
}

impl VotingPolicy {
    /// Checks that the shares (quorum, threshold, veto) are numbers in [0, 1].
    pub fn check_shares(&self) -> Result<(), String> {
        PolicyOverride {
            quorum: Some(self.quorum),
            threshold: Some(self.threshold),
            veto: Some(self.veto),
            expedited_threshold: Some(self.expedited_threshold),
            expedited_quorum: Some(self.expedited_quorum),
            super_quorum: Some(self.super_quorum),
            min_trust_score: self.min_trust_score,
            ..PolicyOverride::default()
        }
        .check_shares()
    }
}

/// Bounds on a proposal's voting period (clause 5.5 `voting_period_bounds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodBounds {
    pub min_secs: u64,
    pub max_secs: u64,
}

/// The machine-readable rules of clause 5.5 (Governance Mesh Integration) that the
/// state machine enforces: which role holds which privilege, which operation needs
/// which privilege, the default voting policy and its per-clause overrides.
/// Other keys in the clause's rules are allowed and ignored here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GovernanceRules {
    /// Privileges per `node_type`.
    pub role_privileges: BTreeMap<String, Vec<Privilege>>,
    /// What an operation (`type` tag) needs: a role privilege, or `any_active_node`;
    /// operations not named need no privilege either.
    pub operation_privileges: BTreeMap<String, OperationPrivilege>,
    pub default_voting_policy: VotingPolicy,
    #[serde(default)]
    pub clause_voting_policies: BTreeMap<String, PolicyOverride>,
    pub voting_period_bounds: PeriodBounds,
    /// The domain that governs a proposal that names none.
    pub default_domain_id: String,
    /// Whether proven equivocation (a double vote; a checkpoint fork signed twice by
    /// one hub) suspends the node's voting and proposing rights at once. Absent (logs
    /// from before the rule): false.
    #[serde(default)]
    pub suspend_on_equivocation: bool,
    /// The role whose nodes may cancel an adopted proposal during its timelock.
    /// Absent: nobody may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelock_guardian_role: Option<NodeType>,
}

/// The clause whose rules are [`GovernanceRules`].
pub const GOVERNANCE_CLAUSE: &str = "5.5";

impl GovernanceRules {
    /// Reads and checks clause 5.5's rules; the error says which part is wrong.
    pub fn from_rules(rules: &Value) -> Result<GovernanceRules, String> {
        let r = GovernanceRules::deserialize(rules)
            .map_err(|e| format!("clause 5.5 rules are malformed: {e}"))?;
        r.default_voting_policy
            .check_shares()
            .map_err(|e| format!("clause 5.5 default_voting_policy: {e}"))?;
        for (clause, o) in &r.clause_voting_policies {
            o.check_shares()
                .map_err(|e| format!("clause 5.5 clause_voting_policies[{clause:?}]: {e}"))?;
        }
        let b = r.voting_period_bounds;
        if b.min_secs > b.max_secs {
            return Err(format!(
                "clause 5.5 voting_period_bounds: min_secs {} > max_secs {}",
                b.min_secs, b.max_secs
            ));
        }
        let d = r.default_voting_policy.voting_period_secs;
        if d < b.min_secs || d > b.max_secs {
            return Err(format!(
                "clause 5.5 default_voting_policy.voting_period_secs {d} is outside voting_period_bounds [{}, {}]",
                b.min_secs, b.max_secs
            ));
        }
        Ok(r)
    }

    /// The privileges clause 5.5 gives a role.
    pub fn privileges_of(&self, node_type: NodeType) -> Vec<Privilege> {
        let mut p = self
            .role_privileges
            .get(node_type.as_str())
            .cloned()
            .unwrap_or_default();
        p.sort();
        p.dedup();
        p
    }

    pub fn role_has(&self, node_type: NodeType, privilege: Privilege) -> bool {
        self.role_privileges
            .get(node_type.as_str())
            .is_some_and(|ps| ps.contains(&privilege))
    }
}

/// What clause 5.5's `operation_privileges` names for an operation: a privilege the
/// author's role must hold, or `any_active_node` (every registered active node may).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OperationPrivilege {
    Role(Privilege),
    Open(OpenOperation),
}

/// The one value of [`OperationPrivilege::Open`]: `any_active_node`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenOperation {
    AnyActiveNode,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::CanProposePolicy => "can_propose_policy",
            Privilege::CanVoteOnProposal => "can_vote_on_proposal",
            Privilege::CanValidateAttestation => "can_validate_attestation",
            Privilege::CanOverridePolicy => "can_override_policy",
        }
    }
}

/// A trust domain (seed topology `domains[]` fields plus its voting policy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    pub domain_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub admin_node_id: String,
    pub member_nodes: Vec<String>,
    #[serde(default)]
    pub shared_clauses: Vec<String>,
    #[serde(default)]
    pub local_overrides: BTreeMap<String, Vec<String>>,
    /// The contract whose clauses `shared_clauses` names; none: the governing contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    /// Overrides of the contract's default voting policy for this domain.
    #[serde(default)]
    pub policy: PolicyOverride,
    /// Per-clause overrides within this domain.
    #[serde(default)]
    pub clause_policies: BTreeMap<String, PolicyOverride>,
    pub defined_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Draft,
    Voting,
    Adopted,
    Rejected,
    Withdrawn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchOperation {
    Add,
    Remove,
    Replace,
}

/// One change to a clause's rules, in the seed's form (`operation` rather than JSON
/// Patch's `op`; `path` is a JSON Pointer into the clause's `rules`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffOp {
    pub path: String,
    pub operation: PatchOperation,
    /// The new value; `null` for `remove`.
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    pub current_text: String,
    pub proposed_text: String,
    #[serde(default)]
    pub diff: Vec<DiffOp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteChoice {
    Approve,
    Reject,
    Abstain,
    Veto,
}

/// The tally as it stands (seed `voting_result` plus weights and the decision).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VotingResult {
    pub approve_votes: u64,
    pub reject_votes: u64,
    pub abstain_votes: u64,
    pub veto_votes: u64,
    pub total_votes: u64,
    pub approve_weight: u64,
    pub reject_weight: u64,
    pub abstain_weight: u64,
    pub veto_weight: u64,
    pub eligible_weight: u64,
    /// Of the weights above, what delegates cast for voters who did not vote (by
    /// choice); none without delegated weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated: Option<DelegatedWeights>,
    pub quorum_reached: bool,
    /// `adopted` or `rejected` once decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ProposalStatus>,
    /// Why the outcome is what it is (or why it is still open), in words.
    pub reason: String,
}

/// Weight delegates cast for others, per choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedWeights {
    pub approve: u64,
    pub reject: u64,
    pub abstain: u64,
    pub veto: u64,
}

impl DelegatedWeights {
    pub fn total(&self) -> u64 {
        self.approve
            .saturating_add(self.reject)
            .saturating_add(self.abstain)
            .saturating_add(self.veto)
    }
}

/// A proposal, in the seed's proposal schema plus govmesh fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub proposal_id: String,
    pub proposed_by: String,
    pub contract_id: String,
    pub target_contract_clause: String,
    /// Hash of the clause the proposal was written against.
    pub base_clause_hash: Digest,
    /// Revision of the contract when the proposal was made.
    pub base_revision: u64,
    pub domain_id: String,
    pub rationale: String,
    pub changes: Changes,
    pub status: ProposalStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub voting_starts: Timestamp,
    pub voting_ends: Timestamp,
    pub voting_result: VotingResult,
    pub phase_id: String,
    pub codex_clauses: Vec<String>,
    pub governance_scope: String,
    /// Whether the target clause is shared by (claimed by) a domain (seed field).
    #[serde(default)]
    pub shared_clause: bool,
    /// Whether the proposal makes a local override (isolated or local scope).
    #[serde(default)]
    pub local_override: bool,
    /// The node a local-scope proposal applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<ConflictResolution>,
    /// Hashes of the signed entries behind this proposal (propose, votes, close).
    pub attestation_hashes: Vec<Digest>,
    /// Contract revision this proposal created, once adopted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_revision: Option<u64>,
    /// The contract this proposal creates (a proposal under the Codex's clause 5.5
    /// that changes no clause); adopted, it is that contract's revision 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_contract: Option<ContractDraft>,
    /// The suspended node whose voting and proposing rights this proposal restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_rights: Option<String>,
    /// The proposer asked for the expedited track.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expedited: bool,
    /// When an expedited proposal that failed fell back to the normal track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expedited_fallback_at: Option<Timestamp>,
    /// `voting_ends` before late-quorum protection moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voting_ends_before_extension: Option<Timestamp>,
    /// For an adopted proposal under a timelock: when it takes effect (by an `enact`
    /// entry at or after this time) unless the guardian cancels it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelock_ends: Option<Timestamp>,
    /// When the timelocked adoption took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enacted_at: Option<Timestamp>,
    /// The guardian that cancelled the adoption during its timelock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

/// The voting track a proposal is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VotingTrack {
    Normal,
    Expedited,
}

impl Proposal {
    /// The track it is voted on now: expedited until it falls back.
    pub fn track(&self) -> VotingTrack {
        if self.expedited && self.expedited_fallback_at.is_none() {
            VotingTrack::Expedited
        } else {
            VotingTrack::Normal
        }
    }

    /// Adopted by its vote and waiting out its timelock.
    pub fn in_timelock(&self) -> bool {
        self.status == ProposalStatus::Adopted
            && self.timelock_ends.is_some()
            && self.enacted_at.is_none()
    }
}

/// A counted vote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub proposal_id: String,
    pub voter: String,
    pub choice: VoteChoice,
    pub weight: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub timestamp: Timestamp,
    pub index: u64,
    pub entry_hash: Digest,
    /// The voter's sequence number; a higher one replaces its earlier vote where the
    /// policy allows vote changes.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub sequence: u64,
}

/// Two different signed votes by one key on one proposal: the first counts, the
/// second is kept as evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Equivocation {
    pub proposal_id: String,
    pub voter: String,
    pub first_entry: Digest,
    pub second_entry: Digest,
    pub first_index: u64,
    pub second_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Value {
        json!({
            "role_privileges": {
                "governance_hub": ["can_propose_policy", "can_vote_on_proposal", "can_override_policy"],
                "compliance_witness": ["can_validate_attestation"],
                "trust_fork": []
            },
            "operation_privileges": {"propose": "can_propose_policy", "vote": "can_vote_on_proposal"},
            "default_voting_policy": {"quorum": 0.334, "threshold": 0.5, "veto": 0.334,
                                      "voting_period_secs": 604800, "default_weight": 1},
            "clause_voting_policies": {"5.5": {"threshold": 0.667}},
            "voting_period_bounds": {"min_secs": 60, "max_secs": 7776000},
            "default_domain_id": "2f1d3c4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f",
            "something_else": "is ignored"
        })
    }

    #[test]
    fn governance_rules_read_and_checked() {
        let r = GovernanceRules::from_rules(&rules()).unwrap();
        assert!(r.role_has(NodeType::GovernanceHub, Privilege::CanOverridePolicy));
        assert!(!r.role_has(NodeType::TrustFork, Privilege::CanVoteOnProposal));
        assert_eq!(
            r.privileges_of(NodeType::ComplianceWitness),
            vec![Privilege::CanValidateAttestation]
        );
        assert_eq!(r.default_voting_policy.weights, BTreeMap::new());
        let p = VotingPolicy::resolve(
            &r.default_voting_policy,
            &[&r.clause_voting_policies["5.5"]],
        );
        assert_eq!((p.quorum, p.threshold), (0.334, 0.667));

        let broken = |path: &str, v: Value| {
            let mut x = rules();
            *x.pointer_mut(path).unwrap() = v;
            GovernanceRules::from_rules(&x).unwrap_err()
        };
        assert!(broken("/default_voting_policy/quorum", json!(1.5)).contains("quorum"));
        assert!(broken("/clause_voting_policies/5.5/threshold", json!(-0.1)).contains("5.5"));
        assert!(broken("/voting_period_bounds/min_secs", json!(9_000_000)).contains("min_secs"));
        assert!(broken("/operation_privileges/vote", json!("can_fly")).contains("malformed"));
        assert!(broken("/default_voting_policy/voting_period_secs", json!(10)).contains("outside"));
    }
}
