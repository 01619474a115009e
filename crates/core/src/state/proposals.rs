//! `propose` and `withdraw`: opening a proposal against a clause (its base, its diff,
//! the voting policy and eligible voters frozen at opening) and taking it back.

use super::decode::check_id;
use super::{Ballot, Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{ProposeOp, WithdrawOp};
use crate::model::{
    CODEX_CLAUSES, Clause, ContractDraft, GOVERNANCE_CLAUSE, GovernanceRules, NodeStatus, PHASE_ID,
    PolicyOverride, Privilege, Proposal, ProposalStatus, VotingPolicy, VotingResult,
};
use crate::{patch, tally};
use std::collections::BTreeMap;

impl State {
    pub(super) fn propose(&mut self, op: &ProposeOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        check_id("proposal_id", &op.proposal_id)?;
        if self.proposal_exists(&op.proposal_id) {
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
        if let Some(draft) = &op.create_contract {
            self.check_creation(op, draft, clause)?;
        }
        if let Some(node_id) = &op.restore_rights {
            self.check_restoration(op, node_id, clause)?;
        }
        let governing = self.governing_contract.as_deref() == Some(op.contract_id.as_str());
        let decider = self
            .deciding_domain(&op.contract_id, &op.target_contract_clause)
            .unwrap_or_else(|| rules.default_domain_id.clone());
        let target = self.check_scope(op, rules, ctx.author, &decider)?;
        // check_scope sets a target domain only for an isolated proposal.
        let isolated = target.as_ref().and_then(|t| t.domain_id.clone());
        // An isolated proposal is decided by the domain it applies within; any other
        // by the domain that decides the clause.
        let domain_id = isolated
            .clone()
            .or_else(|| op.domain_id.clone())
            .unwrap_or_else(|| decider.clone());
        if isolated.is_none() && domain_id != decider {
            // Any node with can_override_policy may define a domain; if such a domain
            // could decide a contract it was not given, one node could define a domain
            // of one and adopt changes alone.
            let message = if governing {
                format!(
                    "changes to the governing contract {:?} are decided by the council domain {decider:?} (clause 5.5 default_domain_id), not by domain {domain_id:?}",
                    op.contract_id
                )
            } else {
                format!(
                    "clause {} of contract {:?} is decided by domain {decider:?} ({}), not by domain {domain_id:?}, which does not share it",
                    op.target_contract_clause,
                    op.contract_id,
                    if self
                        .claimed_by(&op.contract_id, &op.target_contract_clause)
                        .is_some()
                    {
                        "the domain that shares the clause"
                    } else {
                        "the contract's governing domain"
                    }
                )
            };
            return Err(rej(RejectCode::Forbidden, message));
        }
        let domain = self.domains.get(&domain_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownDomain,
                format!("domain {domain_id:?} does not exist"),
            )
        })?;
        let clause_id = op.target_contract_clause.as_str();
        // Clause 5.5's clause_voting_policies name the governing contract's clauses.
        let overrides: Vec<&PolicyOverride> = [
            Some(&domain.policy),
            rules
                .clause_voting_policies
                .get(clause_id)
                .filter(|_| governing),
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
        if op.expedited {
            let e = policy.expedited_voting_period_secs;
            if e == 0 {
                return Err(rej(
                    RejectCode::Forbidden,
                    format!(
                        "the voting policy of domain {domain_id:?} for clause {clause_id} offers no expedited track (expedited_voting_period_secs is 0)"
                    ),
                ));
            }
            if e >= period || e < b.min_secs {
                return Err(rej(
                    RejectCode::Forbidden,
                    format!(
                        "the expedited voting period {e} s must be shorter than the normal period {period} s and within the bounds [{}, {}] s of clause 5.5",
                        b.min_secs, b.max_secs
                    ),
                ));
            }
        }
        if policy.max_open_proposals > 0 {
            let open = self
                .open
                .iter()
                .filter_map(|id| self.live(id))
                .filter(|o| o.proposed_by == ctx.author && o.domain_id == domain_id)
                .count() as u64;
            if open >= policy.max_open_proposals {
                return Err(rej(
                    RejectCode::Forbidden,
                    format!(
                        "{:?} already has {open} proposal(s) voting in domain {domain_id:?}, the most its voting policy allows (max_open_proposals {}); wait for one to be decided or withdraw one",
                        ctx.author, policy.max_open_proposals
                    ),
                ));
            }
        }
        // Suspended nodes have no vote: they are not among the eligible voters.
        let eligible: BTreeMap<String, u64> = domain
            .member_nodes
            .iter()
            .filter_map(|id| self.nodes.get(id))
            .filter(|n| {
                n.status == NodeStatus::Active
                    && n.suspension.is_none()
                    && rules.role_has(n.node_type, Privilege::CanVoteOnProposal)
            })
            // Trust: the scores of the last computation before this entry.
            .filter(|n| {
                policy.min_trust_score.is_none_or(|min| {
                    self.trust_score(&n.node_id)
                        .is_some_and(|s| s >= crate::trust::share_fx(min))
                })
            })
            .map(|n| {
                let w = policy.weight_of(&n.node_id);
                let w = if policy.weight_by_trust {
                    crate::trust::weigh(w, self.trust_score(&n.node_id).unwrap_or(0))
                } else {
                    w
                };
                (n.node_id.clone(), w)
            })
            .collect();
        // Delegations are read now, frozen with the voters.
        let delegations: BTreeMap<String, String> = if policy.delegation {
            self.delegations
                .get(&domain_id)
                .into_iter()
                .flatten()
                .filter(|(from, _)| eligible.contains_key(*from))
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect()
        } else {
            BTreeMap::new()
        };
        let eligible_weight = eligible.values().fold(0u64, |a, w| a.saturating_add(*w));
        if eligible_weight == 0 {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "domain {domain_id:?} has no eligible voting weight: nobody could decide this proposal{}",
                    if policy.min_trust_score.is_some() || policy.weight_by_trust {
                        " (its policy's min_trust_score or weight_by_trust leaves no weight; see GET /v1/trust)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let mut result = VotingResult {
            eligible_weight,
            ..VotingResult::default()
        };
        let start_policy = if op.expedited {
            policy.expedited()
        } else {
            policy.clone()
        };
        tally::evaluate(&start_policy, &mut result, false);
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
            voting_ends: ctx.at.plus_secs(start_policy.voting_period_secs),
            voting_result: result,
            phase_id: PHASE_ID.to_owned(),
            codex_clauses: CODEX_CLAUSES.iter().map(|s| (*s).to_owned()).collect(),
            governance_scope: op.governance_scope.unwrap_or_default().as_str().to_owned(),
            shared_clause: self
                .claimed_by(&op.contract_id, &op.target_contract_clause)
                .is_some(),
            local_override: target.is_some(),
            local_node: target.as_ref().and_then(|t| t.local_node.clone()),
            conflict_resolution: op.conflict_resolution.clone(),
            attestation_hashes: vec![ctx.hash],
            adopted_revision: None,
            create_contract: op.create_contract.clone(),
            restore_rights: op.restore_rights.clone(),
            expedited: op.expedited,
            expedited_fallback_at: None,
            voting_ends_before_extension: None,
            timelock_ends: None,
            enacted_at: None,
            cancelled_by: None,
        };
        self.ballots.insert(
            op.proposal_id.clone(),
            Ballot {
                policy,
                eligible,
                votes: Vec::new(),
                voted: BTreeMap::new(),
                superseded: Vec::new(),
                equivocated: BTreeMap::new(),
                delegations,
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

    /// The domain that decides proposals on `clause_id` of `contract_id`: the council
    /// for the governing contract; else the domain that shares the clause, or the
    /// contract's governing domain. None if the contract does not exist.
    pub fn deciding_domain(&self, contract_id: &str, clause_id: &str) -> Option<String> {
        if self.governing_contract.as_deref() == Some(contract_id) {
            return self.rules.as_ref().map(|r| r.default_domain_id.clone());
        }
        let contract = self.contract(contract_id)?;
        self.claimed_by(contract_id, clause_id)
            .map(|d| d.domain_id.clone())
            .or_else(|| contract.domain_id.clone())
            .or_else(|| self.rules.as_ref().map(|r| r.default_domain_id.clone()))
    }

    /// The domain that shares (claims) `clause_id` of `contract_id`, if one does.
    pub fn claimed_by(&self, contract_id: &str, clause_id: &str) -> Option<&crate::model::Domain> {
        self.domains.values().find(|d| {
            self.domain_contract(d) == Some(contract_id)
                && d.shared_clauses.iter().any(|c| c == clause_id)
        })
    }

    /// The contract whose clauses a domain's `shared_clauses` names.
    pub(super) fn domain_contract<'a>(&'a self, d: &'a crate::model::Domain) -> Option<&'a str> {
        d.contract_id
            .as_deref()
            .or(self.governing_contract.as_deref())
    }

    /// A proposal that creates a contract is made under the governing contract's
    /// clause 5.5, changes nothing in it, and draws up a new contract with distinct
    /// clauses, decided by an existing domain.
    fn check_creation(
        &self,
        op: &ProposeOp,
        draft: &ContractDraft,
        clause: &Clause,
    ) -> Result<(), Rejection> {
        let governing = self.governing_contract.as_deref().unwrap_or_default();
        if op.contract_id != governing || op.target_contract_clause != GOVERNANCE_CLAUSE {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "a proposal that creates contract {:?} is made under clause 5.5 of the governing contract {governing:?}, not clause {} of {:?}",
                    draft.contract_id, op.target_contract_clause, op.contract_id
                ),
            ));
        }
        if op.changes.proposed_text != clause.text || !op.changes.diff.is_empty() {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "a proposal that creates contract {:?} changes no clause of {governing:?}: its proposed_text must be clause 5.5's current text and its diff empty",
                    draft.contract_id
                ),
            ));
        }
        if self.contract(&draft.contract_id).is_some() {
            return Err(rej(
                RejectCode::Duplicate,
                format!("contract {:?} already exists", draft.contract_id),
            ));
        }
        if !self.domains.contains_key(&draft.domain_id) {
            return Err(rej(
                RejectCode::UnknownDomain,
                format!(
                    "contract {:?} would be governed by domain {:?}, which does not exist",
                    draft.contract_id, draft.domain_id
                ),
            ));
        }
        if draft.clauses.is_empty() {
            return Err(rej(
                RejectCode::Malformed,
                format!("contract {:?} has no clauses", draft.contract_id),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &draft.clauses {
            if !seen.insert(c.clause_id.as_str()) {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!(
                        "contract {:?} lists clause {} twice",
                        draft.contract_id, c.clause_id
                    ),
                ));
            }
            c.hash().map_err(|e| {
                rej(
                    RejectCode::Malformed,
                    format!("clause {} does not hash: {e}", c.clause_id),
                )
            })?;
        }
        Ok(())
    }

    /// A proposal that restores a suspended node's rights is made under clause 5.5 of
    /// the governing contract, changes nothing in it and names a suspended node.
    fn check_restoration(
        &self,
        op: &ProposeOp,
        node_id: &str,
        clause: &Clause,
    ) -> Result<(), Rejection> {
        let governing = self.governing_contract.as_deref().unwrap_or_default();
        if op.contract_id != governing
            || op.target_contract_clause != GOVERNANCE_CLAUSE
            || op.changes.proposed_text != clause.text
            || !op.changes.diff.is_empty()
            || op.create_contract.is_some()
            || op.governance_scope.is_some_and(|s| s != Default::default())
        {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "a proposal that restores the rights of {node_id:?} is made under clause 5.5 of the governing contract {governing:?} and changes nothing else (proposed_text the current text, no diff, no contract, federated)"
                ),
            ));
        }
        let node = self.nodes.get(node_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownNode,
                format!("node {node_id:?} is not registered"),
            )
        })?;
        if node.suspension.is_none() {
            return Err(rej(
                RejectCode::Forbidden,
                format!("node {node_id:?} is not suspended: there are no rights to restore"),
            ));
        }
        Ok(())
    }

    /// The proposal's diff applies to the clause's rules and, for the governing
    /// contract, leaves rules the code can enforce (clause 5.5 here, clauses 5.4, 11.0
    /// and 11.1 in [`crate::rules::check_change`]).
    fn check_diff(&self, op: &ProposeOp, clause: &Clause) -> Result<(), Rejection> {
        let patched = patch::apply_diff(&clause.rules, &op.changes.diff)
            .map_err(|e| rej(RejectCode::BadPatch, e.to_string()))?;
        let governing = self.governing_contract.as_deref() == Some(op.contract_id.as_str());
        if governing {
            crate::rules::check_change(&op.target_contract_clause, &clause.rules, &patched)
                .map_err(|e| {
                    rej(
                        RejectCode::BadPatch,
                        format!(
                            "the change would break clause {}: {e}",
                            op.target_contract_clause
                        ),
                    )
                })?;
        }
        if governing && op.target_contract_clause == GOVERNANCE_CLAUSE {
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

    pub(super) fn open_proposal(&self, proposal_id: &str) -> Result<&Proposal, Rejection> {
        let Some(p) = self.live(proposal_id) else {
            return Err(match self.closed(proposal_id) {
                Some(c) => rej(
                    RejectCode::NotVoting,
                    format!("proposal {proposal_id:?} is {:?}, not voting", c.status),
                ),
                None => rej(
                    RejectCode::UnknownProposal,
                    format!("proposal {proposal_id:?} does not exist"),
                ),
            });
        };
        if p.status != ProposalStatus::Voting {
            return Err(rej(
                RejectCode::NotVoting,
                format!("proposal {proposal_id:?} is {:?}, not voting", p.status),
            ));
        }
        Ok(p)
    }

    pub(super) fn withdraw(&mut self, op: &WithdrawOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let proposer = self.proposer(&op.proposal_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownProposal,
                format!("proposal {:?} does not exist", op.proposal_id),
            )
        })?;
        if proposer != ctx.author {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "only the proposer {proposer:?} may withdraw proposal {:?}",
                    op.proposal_id
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
}
