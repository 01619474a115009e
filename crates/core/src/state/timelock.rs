//! `cancel` and `enact`: the timelock between adoption and taking effect. An adopted
//! proposal under a policy with `timelock_secs` keeps status `adopted` with
//! `timelock_ends` set and changes nothing yet; a node of clause 5.5's
//! `timelock_guardian_role` may cancel it before then; from then on any active node
//! (hubs do, when due) submits `enact`, and the adoption takes effect at that entry, as
//! an adoption without timelock would (a clause changed meanwhile makes it stale).

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{CancelOp, EnactOp};
use crate::model::{Proposal, ProposalStatus};
use crate::stamp::Timestamp;

impl State {
    fn timelocked_proposal(&self, proposal_id: &str) -> Result<&Proposal, Rejection> {
        let not_waiting = |status: ProposalStatus,
                           enacted_at: Option<Timestamp>,
                           cancelled_by: Option<&String>| {
            rej(
                RejectCode::NotVoting,
                format!(
                    "proposal {proposal_id:?} is not adopted and waiting out a timelock (it is {status:?}{})",
                    match (enacted_at, cancelled_by) {
                        (Some(t), _) => format!(", took effect at {t}"),
                        (_, Some(g)) => format!(", cancelled by {g:?}"),
                        _ => String::new(),
                    }
                ),
            )
        };
        let Some(p) = self.live(proposal_id) else {
            return Err(match self.closed(proposal_id) {
                Some(c) => not_waiting(c.status, c.enacted_at, c.cancelled_by.as_ref()),
                None => rej(
                    RejectCode::UnknownProposal,
                    format!("proposal {proposal_id:?} does not exist"),
                ),
            });
        };
        if !p.in_timelock() {
            return Err(not_waiting(p.status, p.enacted_at, p.cancelled_by.as_ref()));
        }
        Ok(p)
    }

    pub(super) fn cancel(&mut self, op: &CancelOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let p = self.timelocked_proposal(&op.proposal_id)?;
        let ends = p.timelock_ends.expect("in_timelock");
        let role = self.rules()?.timelock_guardian_role.ok_or_else(|| {
            rej(
                RejectCode::NotPrivileged,
                "clause 5.5 names no timelock_guardian_role: nobody may cancel an adopted proposal",
            )
        })?;
        let author = self
            .nodes
            .get(ctx.author)
            .expect("tether checked the author");
        if author.node_type != role {
            return Err(rej(
                RejectCode::NotPrivileged,
                format!(
                    "only a {} (clause 5.5 timelock_guardian_role) may cancel; {:?} is a {}",
                    role.as_str(),
                    ctx.author,
                    author.node_type.as_str()
                ),
            ));
        }
        if ctx.at >= ends {
            return Err(rej(
                RejectCode::NotVoting,
                format!(
                    "the timelock of proposal {:?} ended at {ends}: it can only take effect now",
                    op.proposal_id
                ),
            ));
        }
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.status = ProposalStatus::Rejected;
        p.voting_result.outcome = Some(ProposalStatus::Rejected);
        p.voting_result.reason = format!(
            "cancelled during its timelock by guardian {:?}{} (its vote: {})",
            ctx.author,
            op.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
            p.voting_result.reason
        );
        p.cancelled_by = Some(ctx.author.to_owned());
        p.updated_at = ctx.at;
        p.attestation_hashes.push(ctx.hash);
        self.timelocked.remove(&op.proposal_id);
        Ok(vec![Event::ProposalCancelled {
            proposal_id: op.proposal_id.clone(),
            guardian: ctx.author.to_owned(),
        }])
    }

    pub(super) fn enact(&mut self, op: &EnactOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let p = self.timelocked_proposal(&op.proposal_id)?;
        let ends = p.timelock_ends.expect("in_timelock");
        if ctx.at < ends {
            return Err(rej(
                RejectCode::TooEarly,
                format!(
                    "the timelock of proposal {:?} ends at {ends}, it is {}",
                    op.proposal_id, ctx.at
                ),
            ));
        }
        let finish = self.plan_finish(p, p.voting_result.clone(), ctx.at)?;
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.attestation_hashes.push(ctx.hash);
        Ok(self.commit_finish(finish, ctx))
    }
}
