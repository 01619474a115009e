//! A decided proposal's consequences: the tally's outcome, the adopted revision n+1
//! (patched clause, new hash, clause 5.5's new rules), stale rivals rejected, and the
//! revision's sync source and targets. Planned first, then committed infallibly.

use super::{Ctx, Event, RejectCode, Rejection, RevisionSync, State, rej};
use crate::digest::Digest;
use crate::model::{
    Contract, GOVERNANCE_CLAUSE, GovernanceRules, NodeStatus, Proposal, ProposalStatus,
    VotingResult,
};
use crate::patch;
use crate::stamp::Timestamp;

/// The consequences of a decided proposal, computed before anything is changed.
pub(super) struct Finish {
    proposal_id: String,
    result: VotingResult,
    /// The new contract revision, and clause 5.5's new rules if they changed.
    adoption: Option<(Contract, Option<GovernanceRules>)>,
    /// Other open proposals on the same clause, rejected as stale.
    stale: Vec<String>,
    /// The adopted clause's new hash.
    clause_hash: Option<Digest>,
    /// For an isolated or local proposal: the override it sets or removes.
    local: Option<super::overrides::LocalChange>,
    /// Adopted under a timelock: it takes effect (by `enact`) at this time.
    queued: Option<Timestamp>,
    /// The suspended node whose rights the adoption restores.
    restore: Option<String>,
}

impl State {
    /// Everything a decided proposal changes, computed without changing anything.
    pub(super) fn plan_finish(
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
            local: None,
            queued: None,
            restore: None,
        };
        let timelock = self
            .ballots
            .get(&p.proposal_id)
            .map_or(0, |b| b.policy.timelock_secs);
        if result.outcome == Some(ProposalStatus::Adopted)
            && p.status == ProposalStatus::Voting
            && timelock > 0
        {
            // Decided by its vote; it takes effect (or is cancelled) later.
            finish.queued = Some(at.plus_secs(timelock));
        } else if result.outcome == Some(ProposalStatus::Adopted)
            && let Some(node_id) = &p.restore_rights
        {
            finish.restore = Some(node_id.clone());
        } else if result.outcome == Some(ProposalStatus::Adopted)
            && let Some(draft) = &p.create_contract
        {
            // A new contract: its revision 1, decided from now on by its domain.
            if self.contract(&draft.contract_id).is_some() {
                result.outcome = Some(ProposalStatus::Rejected);
                result.reason = format!(
                    "contract {:?} was created meanwhile by another proposal",
                    draft.contract_id
                );
            } else {
                let mut created = Contract {
                    contract_id: draft.contract_id.clone(),
                    label: draft.label.clone(),
                    revision: 1,
                    clauses: draft.clauses.clone(),
                    parent_hash: None,
                    adopted_by_proposal: Some(p.proposal_id.clone()),
                    adopted_at: at,
                    domain_id: Some(draft.domain_id.clone()),
                    contract_hash: Digest::default(),
                };
                created.contract_hash = created
                    .compute_hash()
                    .map_err(|e| rej(RejectCode::Malformed, format!("contract hash: {e}")))?;
                finish.adoption = Some((created, None));
            }
        } else if result.outcome == Some(ProposalStatus::Adopted) {
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
                Ok(rules) if p.local_override => {
                    // No new revision: the clause changes for the override's nodes.
                    finish.local = Some(self.plan_local(p, rules, current.revision, at));
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
                            self.live(id).is_some_and(|o| {
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
    pub(super) fn commit_finish(&mut self, f: Finish, ctx: &Ctx) -> Vec<Event> {
        let at = ctx.at;
        let mut events = Vec::new();
        let outcome = f.result.outcome.unwrap_or(ProposalStatus::Rejected);
        let reason = f.result.reason.clone();
        let p = self.proposal_mut(&f.proposal_id).expect("proposal exists");
        p.status = outcome;
        p.voting_result = f.result;
        p.updated_at = at;
        if f.queued.is_some() {
            p.timelock_ends = f.queued;
        }
        let clause_id = p.target_contract_clause.clone();
        self.open.remove(&f.proposal_id);
        if let Some(effective_at) = f.queued {
            self.timelocked.insert(f.proposal_id.clone());
            events.push(Event::ProposalQueued {
                proposal_id: f.proposal_id,
                effective_at,
            });
            return events;
        }
        if self.timelocked.remove(&f.proposal_id)
            && outcome == ProposalStatus::Adopted
            && let Some(p) = self.proposal_mut(&f.proposal_id)
        {
            p.enacted_at = Some(at);
        }
        if let Some(node_id) = f.restore {
            if let Some(n) = self.nodes.get_mut(&node_id) {
                n.suspension = None;
            }
            events.push(Event::RightsRestored {
                node_id,
                proposal_id: f.proposal_id,
            });
            return events;
        }
        if let Some(change) = f.local {
            let contract_id = self
                .live(&f.proposal_id)
                .map(|p| p.contract_id.clone())
                .unwrap_or_default();
            self.commit_local(change);
            events.push(Event::OverrideAdopted {
                proposal_id: f.proposal_id,
                contract_id,
                clause_id,
            });
            return events;
        }
        match f.adoption {
            Some((contract, new_rules)) => {
                let revision = contract.revision;
                let contract_id = contract.contract_id.clone();
                let created = revision == 1;
                if !created {
                    // (A created contract is named by the proposal's create_contract.)
                    let p = self.proposal_mut(&f.proposal_id).expect("proposal exists");
                    p.adopted_revision = Some(revision);
                }
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
                let hashes = self.clause_hashes.entry(contract_id.clone()).or_default();
                if created {
                    for c in &contract.clauses {
                        if let Ok(h) = c.hash() {
                            hashes.insert(c.clause_id.clone(), h);
                        }
                    }
                } else {
                    match f.clause_hash {
                        Some(h) => hashes.insert(clause_id.clone(), h),
                        None => hashes.remove(&clause_id),
                    };
                }
                self.contracts
                    .entry(contract_id.clone())
                    .or_default()
                    .push(contract);
                if let Some(rules) = new_rules {
                    for n in self.nodes.values_mut() {
                        n.privileges = rules.privileges_of(n.node_type);
                    }
                    self.rules = Some(rules);
                }
                if self.governing_contract.as_deref() == Some(contract_id.as_str()) {
                    self.refresh_replay_window(at);
                }
                events.push(Event::ProposalAdopted {
                    proposal_id: f.proposal_id.clone(),
                    contract_id: contract_id.clone(),
                    revision,
                });
                if !created {
                    let conflict_ids =
                        self.flag_conflicts(&contract_id, &clause_id, revision, &f.proposal_id, at);
                    if !conflict_ids.is_empty() {
                        events.push(Event::OverridesInConflict {
                            proposal_id: f.proposal_id.clone(),
                            conflict_ids,
                        });
                    }
                }
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
