//! `define_domain`: trust domains, their members and voting policies.

use super::decode::check_id;
use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::DomainSpec;
use crate::model::{Domain, NodeRecord};
use crate::stamp::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

impl State {
    pub(super) fn define_domain(
        &mut self,
        d: &DomainSpec,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
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
        self.check_claims(d, ctx.author)?;
        let domain = build_domain(d, &self.nodes, ctx.at)?;
        self.domains.insert(d.domain_id.clone(), domain);
        self.topology_changed(ctx);
        Ok(vec![Event::DomainDefined {
            domain_id: d.domain_id.clone(),
        }])
    }
}

impl State {
    /// A domain that shares clauses claims them: proposals on them are decided by its
    /// members under its policy. The clauses must exist in the contract it names; the
    /// governing contract's clauses stay with the council; no clause is claimed by two
    /// domains; and only the admin of the contract's governing domain may hand its
    /// clauses to another domain.
    fn check_claims(&self, d: &DomainSpec, author: &str) -> Result<(), Rejection> {
        let Some(contract_id) = d
            .contract_id
            .as_deref()
            .or(self.governing_contract.as_deref())
        else {
            return Ok(());
        };
        let contract = self.contract(contract_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownContract,
                format!(
                    "domain {:?} names contract {contract_id:?}, which does not exist",
                    d.domain_id
                ),
            )
        })?;
        if d.shared_clauses.is_empty() {
            return Ok(());
        }
        if self.governing_contract.as_deref() == Some(contract_id) {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "domain {:?} cannot share clauses {:?} of the governing contract {contract_id:?}: the council domain of clause 5.5 decides them",
                    d.domain_id, d.shared_clauses
                ),
            ));
        }
        for c in &d.shared_clauses {
            if contract.clause(c).is_none() {
                return Err(rej(
                    RejectCode::UnknownClause,
                    format!(
                        "domain {:?} shares clause {c} of contract {contract_id:?}, which has no such clause",
                        d.domain_id
                    ),
                ));
            }
            if let Some(other) = self
                .claimed_by(contract_id, c)
                .filter(|o| o.domain_id != d.domain_id)
            {
                return Err(rej(
                    RejectCode::Forbidden,
                    format!(
                        "clause {c} of contract {contract_id:?} is already shared by domain {:?} ({}): two domains cannot decide one clause",
                        other.domain_id, other.name
                    ),
                ));
            }
        }
        let owner = contract.domain_id.as_deref().unwrap_or_default();
        let owner_admin = self.domains.get(owner).map(|o| o.admin_node_id.as_str());
        if d.domain_id != owner && owner_admin != Some(author) {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "only the admin {} of domain {owner:?}, which governs contract {contract_id:?}, may hand its clauses to domain {:?}",
                    owner_admin.unwrap_or("(none)"),
                    d.domain_id
                ),
            ));
        }
        Ok(())
    }
}

/// Checks a domain definition against the registry and builds the record.
pub(super) fn build_domain(
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
        contract_id: d.contract_id.clone(),
        policy: d.policy.clone(),
        clause_policies: d.clause_policies.clone(),
        defined_at: at,
    })
}
