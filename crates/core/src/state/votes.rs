//! `vote` and `close`: counting a vote, replacing it (vote changes), or recording an
//! equivocation; and settling a proposal after each: early decision, super-quorum,
//! late-quorum extension, the expedited track's fallback, or the decision at the end.

use super::adoption::Finish;
use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{CloseOp, VoteOp};
use crate::model::{Equivocation, Proposal, ProposalStatus, Vote, VotingResult, VotingTrack};
use crate::stamp::Timestamp;
use crate::tally;

/// Where a proposal stands after a vote or a close, computed before anything changes.
pub(super) enum Settled {
    /// Still voting, with these counts and (possibly moved) end.
    Open {
        result: VotingResult,
        voting_ends: Timestamp,
        /// It fell back from the expedited track.
        fell_back: bool,
        /// Late-quorum protection moved the end.
        extended: bool,
    },
    Decided(Box<Finish>),
}

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
        let mut change = None;
        if let Some(&i) = ballot.voted.get(ctx.author) {
            let last = &ballot.votes[i];
            if last.choice == op.choice && last.reason == op.reason && last.sequence == op.sequence
            {
                return Err(rej(
                    RejectCode::Replay,
                    format!(
                        "{:?} already cast this vote on proposal {:?} (entry {})",
                        ctx.author, op.proposal_id, last.entry_hash
                    ),
                ));
            }
            // One piece of evidence proves the fault: a voter with a recorded
            // equivocation on this proposal appends nothing more to it.
            if let Some(e) = ballot.equivocated.get(ctx.author) {
                return Err(rej(
                    RejectCode::AlreadyEquivocated,
                    format!(
                        "{:?} already equivocated on proposal {:?} (entries {} and {} are the \
                         evidence); further votes by it on this proposal are refused",
                        ctx.author, op.proposal_id, e.first_entry, e.second_entry
                    ),
                ));
            }
            if op.sequence > last.sequence {
                if !ballot.policy.allow_vote_change {
                    return Err(rej(
                        RejectCode::Forbidden,
                        format!(
                            "the voting policy of proposal {:?} does not allow changing a vote \
                             (allow_vote_change): {:?} voted {:?} at entry {}",
                            op.proposal_id, ctx.author, last.choice, last.entry_hash
                        ),
                    ));
                }
                change = Some(i);
            } else {
                // A different vote with the same or a lower sequence: kept as evidence
                // against the vote of that sequence (or the counted one), not counted.
                let first = if op.sequence == last.sequence {
                    last
                } else {
                    ballot
                        .superseded
                        .iter()
                        .find(|v| v.voter == ctx.author && v.sequence == op.sequence)
                        .unwrap_or(last)
                };
                let e = Equivocation {
                    proposal_id: op.proposal_id.clone(),
                    voter: ctx.author.to_owned(),
                    first_entry: first.entry_hash,
                    second_entry: ctx.hash,
                    first_index: first.index,
                    second_index: ctx.index,
                };
                let reason = format!(
                    "double vote on proposal {:?}: entries {} and {}",
                    op.proposal_id, e.first_entry, e.second_entry
                );
                if let Some(b) = self.ballots.get_mut(&op.proposal_id) {
                    b.equivocated
                        .entry(ctx.author.to_owned())
                        .or_insert(super::EquivocatedBy {
                            first_entry: e.first_entry,
                            second_entry: e.second_entry,
                        });
                }
                self.retired.equivocations.push(e);
                let mut events = vec![Event::EquivocationRecorded {
                    proposal_id: op.proposal_id.clone(),
                    voter: ctx.author.to_owned(),
                }];
                events.extend(self.suspend_for_equivocation(ctx.author, reason, ctx));
                return Ok(events);
            }
        }
        let vote = Vote {
            proposal_id: op.proposal_id.clone(),
            voter: ctx.author.to_owned(),
            choice: op.choice,
            weight,
            reason: op.reason.clone(),
            timestamp: ctx.at,
            index: ctx.index,
            entry_hash: ctx.hash,
            sequence: op.sequence,
        };
        let result = if change.is_none() && ballot.delegations.is_empty() {
            // The common case, counted incrementally.
            let mut r = p.voting_result.clone();
            tally::add_vote(&mut r, op.choice, weight);
            r
        } else {
            let mut votes = ballot.votes.clone();
            match change {
                Some(i) => votes[i] = vote.clone(),
                None => votes.push(vote.clone()),
            }
            tally::count(&ballot.eligible, &ballot.delegations, &votes)
        };
        let settled = self.settle(p, result, ctx.at, false)?;
        // Validated: now change the state.
        let ballot = self
            .ballots
            .get_mut(&op.proposal_id)
            .expect("every proposal has a ballot");
        match change {
            Some(i) => {
                let old = std::mem::replace(&mut ballot.votes[i], vote);
                ballot.superseded.push(old);
            }
            None => {
                ballot
                    .voted
                    .insert(ctx.author.to_owned(), ballot.votes.len());
                ballot.votes.push(vote);
            }
        }
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.updated_at = ctx.at;
        p.attestation_hashes.push(ctx.hash);
        let mut events = vec![match change {
            Some(_) => Event::VoteChanged {
                proposal_id: op.proposal_id.clone(),
                voter: ctx.author.to_owned(),
            },
            None => Event::VoteCounted {
                proposal_id: op.proposal_id.clone(),
                voter: ctx.author.to_owned(),
            },
        }];
        events.extend(self.commit_settled(&op.proposal_id, settled, ctx));
        Ok(events)
    }

    pub(super) fn close(&mut self, op: &CloseOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let p = self.open_proposal(&op.proposal_id)?;
        if let Some(t) = op.track
            && t != p.track()
        {
            return Err(rej(
                RejectCode::NotVoting,
                format!(
                    "proposal {:?} is on the {:?} track, not the {t:?} one this close names",
                    op.proposal_id,
                    p.track()
                ),
            ));
        }
        if ctx.at < p.voting_ends {
            return Err(rej(
                RejectCode::TooEarly,
                format!(
                    "voting on proposal {:?} ends at {}, it is {}",
                    op.proposal_id, p.voting_ends, ctx.at
                ),
            ));
        }
        let settled = self.settle(p, p.voting_result.clone(), ctx.at, true)?;
        let p = self.proposal_mut(&op.proposal_id).expect("checked above");
        p.attestation_hashes.push(ctx.hash);
        Ok(self.commit_settled(&op.proposal_id, settled, ctx))
    }

    /// Where `p` stands with counts `result` at `at` (`closing`: its period is over).
    /// On the expedited track a failure (at its end, or early) is no rejection: the
    /// proposal falls back to the normal track, its end `voting_starts` plus the normal
    /// period, and is judged again under the normal quorum and threshold. Late-quorum
    /// protection moves the end when this vote first reaches quorum late.
    pub(super) fn settle(
        &self,
        p: &Proposal,
        mut result: VotingResult,
        at: Timestamp,
        closing: bool,
    ) -> Result<Settled, Rejection> {
        let ballot = self
            .ballots
            .get(&p.proposal_id)
            .expect("every proposal has a ballot");
        let mut policy = ballot.current_policy(p);
        tally::evaluate(&policy, &mut result, closing);
        let mut voting_ends = p.voting_ends;
        let mut fell_back = false;
        if p.track() == VotingTrack::Expedited && result.outcome == Some(ProposalStatus::Rejected) {
            fell_back = true;
            policy = ballot.policy.clone();
            voting_ends = voting_ends.max(p.voting_starts.plus_secs(policy.voting_period_secs));
            let expedited_reason = std::mem::take(&mut result.reason);
            tally::evaluate(&policy, &mut result, at >= voting_ends);
            result.reason = match result.outcome {
                None => format!(
                    "fell back from the expedited track ({expedited_reason}); {}",
                    result.reason
                ),
                Some(_) => format!(
                    "{}; on the normal track after the expedited one failed ({expedited_reason})",
                    result.reason
                ),
            };
        }
        let mut extended = false;
        if result.outcome.is_none()
            && policy.late_quorum_extension_secs > 0
            && result.quorum_reached
            && !p.voting_result.quorum_reached
        {
            let late_end = at.plus_secs(policy.late_quorum_extension_secs);
            if late_end > voting_ends {
                voting_ends = late_end;
                extended = true;
            }
        }
        match result.outcome {
            Some(_) => Ok(Settled::Decided(Box::new(self.plan_finish(p, result, at)?))),
            None => Ok(Settled::Open {
                result,
                voting_ends,
                fell_back,
                extended,
            }),
        }
    }

    /// Applies what [`State::settle`] worked out. Infallible.
    pub(super) fn commit_settled(
        &mut self,
        proposal_id: &str,
        settled: Settled,
        ctx: &Ctx,
    ) -> Vec<Event> {
        match settled {
            Settled::Decided(f) => self.commit_finish(*f, ctx),
            Settled::Open {
                result,
                voting_ends,
                fell_back,
                extended,
            } => {
                let p = self.proposal_mut(proposal_id).expect("proposal exists");
                p.voting_result = result;
                p.updated_at = ctx.at;
                let mut events = Vec::new();
                if fell_back {
                    p.expedited_fallback_at = Some(ctx.at);
                    events.push(Event::ExpeditedFellBack {
                        proposal_id: proposal_id.to_owned(),
                        voting_ends,
                    });
                }
                if extended {
                    if p.voting_ends_before_extension.is_none() {
                        p.voting_ends_before_extension = Some(p.voting_ends);
                    }
                    events.push(Event::VotingExtended {
                        proposal_id: proposal_id.to_owned(),
                        voting_ends,
                    });
                }
                p.voting_ends = voting_ends;
                events
            }
        }
    }
}
