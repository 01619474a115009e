//! Local overrides: proposals of `isolated` scope (a domain's members) and `local` scope
//! (one node) change a clause for those nodes only, without a new revision; a federated
//! change adopted over an override flags it as a conflict until a proposal resolves it
//! (`conflict_resolution`: `policy_a`, `policy_b`, `compromise`). The effective contract
//! for a node is the current revision with the overrides that apply to it.

use super::{RejectCode, Rejection, State, rej};
use crate::digest::Digest;
use crate::entry::ProposeOp;
use crate::model::{
    Clause, Contract, GovernanceRules, GovernanceScope, LocalOverride, NodeStatus,
    OverrideConflict, Privilege, Proposal, ResolutionType,
};
use crate::stamp::Timestamp;

/// Clauses of the governing contract that the code reads for the whole mesh: a node
/// or domain cannot hold a version of its own.
const MESH_WIDE: [&str; 4] = ["5.4", "5.5", "11.0", "11.1"];

/// What a non-federated proposal targets, as checked when it is opened.
pub(super) struct Target {
    pub scope: GovernanceScope,
    /// The deciding domain (isolated: the domain it applies within).
    pub domain_id: Option<String>,
    pub local_node: Option<String>,
}

/// What adopting a proposal does to the local overrides.
pub(super) enum LocalChange {
    /// Adds the override, replacing one for the same clause and target.
    Set(LocalOverride),
    /// Removes the override for this clause and target (`policy_a`).
    Remove(LocalOverride),
}

fn same_target(a: &LocalOverride, b: &LocalOverride) -> bool {
    a.contract_id == b.contract_id
        && a.clause_id == b.clause_id
        && a.scope == b.scope
        && a.domain_id == b.domain_id
        && a.node_id == b.node_id
}

impl State {
    /// Every local override, in the order they were adopted.
    pub fn overrides(&self) -> &[LocalOverride] {
        &self.overrides
    }

    /// The override of `clause_id` of `contract_id` that applies to `node_id`: a local
    /// one for the node first, else an isolated one of a domain it is a member of (the
    /// latest adopted).
    pub fn override_for(
        &self,
        contract_id: &str,
        clause_id: &str,
        node_id: &str,
    ) -> Option<&LocalOverride> {
        let of_clause = || {
            self.overrides
                .iter()
                .rev()
                .filter(move |o| o.contract_id == contract_id && o.clause_id == clause_id)
        };
        of_clause()
            .find(|o| o.node_id.as_deref() == Some(node_id))
            .or_else(|| {
                of_clause().find(|o| {
                    o.scope == GovernanceScope::Isolated
                        && o.domain_id
                            .as_deref()
                            .and_then(|d| self.domains.get(d))
                            .is_some_and(|d| d.member_nodes.iter().any(|m| m == node_id))
                })
            })
    }

    /// The contract as it applies to `node_id`: the current revision's clauses, each
    /// with the override that replaces it for that node, if any.
    pub fn effective_clauses<'s>(
        &'s self,
        contract: &'s Contract,
        node_id: &str,
    ) -> Vec<(Clause, Option<&'s LocalOverride>)> {
        contract
            .clauses
            .iter()
            .map(
                |c| match self.override_for(&contract.contract_id, &c.clause_id, node_id) {
                    Some(o) => (
                        Clause {
                            text: o.text.clone(),
                            rules: o.rules.clone(),
                            ..c.clone()
                        },
                        Some(o),
                    ),
                    None => (c.clone(), None),
                },
            )
            .collect()
    }

    /// Checks the scope of a proposal being opened; for a federated one (without a
    /// conflict resolution) there is nothing to check.
    pub(super) fn check_scope(
        &self,
        op: &ProposeOp,
        rules: &GovernanceRules,
        author: &str,
        decider: &str,
    ) -> Result<Option<Target>, Rejection> {
        let scope = op.governance_scope.unwrap_or_default();
        if scope == GovernanceScope::Federated {
            if op.local_node.is_some() || op.conflict_resolution.is_some() {
                return Err(rej(
                    RejectCode::Forbidden,
                    "local_node and conflict_resolution belong to isolated or local proposals",
                ));
            }
            return Ok(None);
        }
        let governing = self.governing_contract.as_deref() == Some(op.contract_id.as_str());
        if op.create_contract.is_some() {
            return Err(rej(
                RejectCode::Forbidden,
                "a proposal that creates a contract is federated",
            ));
        }
        if governing && MESH_WIDE.contains(&op.target_contract_clause.as_str()) {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "clause {} of the governing contract governs the whole mesh; no domain or node can hold a version of its own",
                    op.target_contract_clause
                ),
            ));
        }
        let target = match scope {
            GovernanceScope::Isolated => {
                if op.local_node.is_some() {
                    return Err(rej(
                        RejectCode::Forbidden,
                        "an isolated proposal applies to a domain's members; local_node is for local ones",
                    ));
                }
                let d = op.domain_id.clone().ok_or_else(|| {
                    rej(
                        RejectCode::Forbidden,
                        "an isolated proposal names the domain whose members it applies to (domain_id)",
                    )
                })?;
                Target {
                    scope,
                    domain_id: Some(d),
                    local_node: None,
                }
            }
            _ => {
                let node_id = op.local_node.as_deref().unwrap_or(author);
                let node = self
                    .nodes
                    .get(node_id)
                    .filter(|n| n.status == NodeStatus::Active)
                    .ok_or_else(|| {
                        rej(
                            RejectCode::UnknownNode,
                            format!("local_node {node_id:?} is not a registered, active node"),
                        )
                    })?;
                let listed = self.domains.get(decider).is_some_and(|d| {
                    d.local_overrides
                        .get(node_id)
                        .is_some_and(|cs| cs.contains(&op.target_contract_clause))
                });
                if !listed && !rules.role_has(node.node_type, Privilege::CanOverridePolicy) {
                    return Err(rej(
                        RejectCode::NotPrivileged,
                        format!(
                            "node {node_id:?} may not override clause {} locally: its role {} lacks can_override_policy and domain {decider:?}'s local_overrides do not list the clause for it",
                            op.target_contract_clause,
                            node.node_type.as_str()
                        ),
                    ));
                }
                Target {
                    scope,
                    domain_id: None,
                    local_node: Some(node_id.to_owned()),
                }
            }
        };
        if let Some(res) = &op.conflict_resolution {
            let found = self.overrides.iter().find(|o| {
                o.contract_id == op.contract_id
                    && o.clause_id == op.target_contract_clause
                    && o.scope == target.scope
                    && o.domain_id == target.domain_id
                    && o.node_id == target.local_node
                    && o.conflict
                        .as_ref()
                        .is_some_and(|c| c.conflict_id == res.conflict_id)
            });
            if found.is_none() {
                return Err(rej(
                    RejectCode::Forbidden,
                    format!(
                        "conflict {:?} is not an open conflict of this proposal's override of clause {} of {:?}",
                        res.conflict_id, op.target_contract_clause, op.contract_id
                    ),
                ));
            }
        }
        Ok(Some(target))
    }

    /// What adopting the local proposal `p` (with its patched `rules`) does.
    pub(super) fn plan_local(
        &self,
        p: &Proposal,
        rules: serde_json::Value,
        revision: u64,
        at: Timestamp,
    ) -> LocalChange {
        let scope = if p.governance_scope == GovernanceScope::Isolated.as_str() {
            GovernanceScope::Isolated
        } else {
            GovernanceScope::Local
        };
        let mut o = LocalOverride {
            contract_id: p.contract_id.clone(),
            clause_id: p.target_contract_clause.clone(),
            scope,
            domain_id: (scope == GovernanceScope::Isolated).then(|| p.domain_id.clone()),
            node_id: p.local_node.clone(),
            text: p.changes.proposed_text.clone(),
            rules,
            proposal_id: p.proposal_id.clone(),
            base_revision: revision,
            adopted_at: at,
            conflict: None,
        };
        let existing = self.overrides.iter().find(|e| same_target(e, &o));
        match (
            p.conflict_resolution.as_ref().map(|r| r.resolution_type),
            existing,
        ) {
            (Some(ResolutionType::PolicyA), _) => LocalChange::Remove(o),
            (Some(ResolutionType::PolicyB), Some(e)) => {
                // The local policy stands, re-based onto the current revision.
                o.text = e.text.clone();
                o.rules = e.rules.clone();
                LocalChange::Set(o)
            }
            _ => LocalChange::Set(o),
        }
    }

    pub(super) fn commit_local(&mut self, change: LocalChange) {
        match change {
            LocalChange::Set(o) => {
                self.overrides.retain(|e| !same_target(e, &o));
                self.overrides.push(o);
            }
            LocalChange::Remove(o) => self.overrides.retain(|e| !same_target(e, &o)),
        }
    }

    /// A federated change of `clause_id` adopted as `revision` by `proposal_id`: every
    /// override of that clause is flagged, not dropped.
    pub(super) fn flag_conflicts(
        &mut self,
        contract_id: &str,
        clause_id: &str,
        revision: u64,
        proposal_id: &str,
        at: Timestamp,
    ) -> Vec<String> {
        let mut flagged = Vec::new();
        for o in self
            .overrides
            .iter_mut()
            .filter(|o| o.contract_id == contract_id && o.clause_id == clause_id)
        {
            let conflict_id = conflict_id(&o.proposal_id, proposal_id);
            flagged.push(conflict_id.clone());
            o.conflict = Some(OverrideConflict {
                conflict_id,
                revision,
                proposal_id: proposal_id.to_owned(),
                since: at,
            });
        }
        flagged
    }
}

/// A UUIDv4-formatted id for the conflict between an override and a federated change.
fn conflict_id(override_proposal: &str, federated_proposal: &str) -> String {
    let d = Digest::sha256(
        format!("govmesh/conflict/v1\n{override_proposal}\n{federated_proposal}").as_bytes(),
    );
    let mut b: [u8; 16] = d.0[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}
