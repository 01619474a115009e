//! `vote` and `close`: counting a vote (or recording an equivocation) and deciding a
//! proposal early or at the end of its period.

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{CloseOp, VoteOp};
use crate::model::{Equivocation, Vote};
use crate::tally;

impl State {
    pub(super) fn vote(&mut self, op: &VoteOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
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
            // One piece of evidence proves the fault: a voter with a recorded
            // equivocation on this proposal appends nothing more to it.
            if let Some(e) = self
                .equivocations
                .iter()
                .find(|e| e.proposal_id == op.proposal_id && e.voter == ctx.author)
            {
                return Err(rej(
                    RejectCode::AlreadyEquivocated,
                    format!(
                        "{:?} already equivocated on proposal {:?} (entries {} and {} are the \
                         evidence); further votes by it on this proposal are refused",
                        ctx.author, op.proposal_id, e.first_entry, e.second_entry
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

    pub(super) fn close(&mut self, op: &CloseOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
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
}
