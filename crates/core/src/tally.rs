//! The tally: quorum, threshold, veto, weights and early decision, per the governing
//! domain's policy (overridable per clause). Pure arithmetic over counted votes.
//!
//! The rules, in order: quorum (cast weight / eligible weight >= quorum; abstain and
//! veto count as cast), veto (veto weight / cast weight >= veto rejects), threshold
//! (approve / (approve + reject) must strictly exceed it). A proposal is decided early
//! as soon as no way the remaining eligible weight could still vote (or not vote) would
//! change the outcome, or (where the policy sets `super_quorum`) as soon as approve
//! weight reaches that share of the eligible weight while the proposal would pass now.
//!
//! Delegation: an eligible voter who has not voted lends its weight to its delegate's
//! vote, following the chain (A -> B -> C) to the first delegate who voted; a voter's
//! own vote always counts for itself ([`count`]).

use crate::model::{
    DelegatedWeights, ProposalStatus, Vote, VoteChoice, VotingPolicy, VotingResult,
};
use std::collections::BTreeMap;

/// Weight cast per choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Weights {
    pub approve: u64,
    pub reject: u64,
    pub abstain: u64,
    pub veto: u64,
}

impl Weights {
    pub fn cast(&self) -> u128 {
        self.approve as u128 + self.reject as u128 + self.abstain as u128 + self.veto as u128
    }

    pub fn of(r: &VotingResult) -> Weights {
        Weights {
            approve: r.approve_weight,
            reject: r.reject_weight,
            abstain: r.abstain_weight,
            veto: r.veto_weight,
        }
    }

    /// These weights less what delegates cast for others: what voters cast themselves.
    fn minus_delegated(&self, d: &DelegatedWeights) -> Weights {
        Weights {
            approve: self.approve.saturating_sub(d.approve),
            reject: self.reject.saturating_sub(d.reject),
            abstain: self.abstain.saturating_sub(d.abstain),
            veto: self.veto.saturating_sub(d.veto),
        }
    }

    fn plus(mut self, choice: VoteChoice, w: u64) -> Weights {
        let slot = match choice {
            VoteChoice::Approve => &mut self.approve,
            VoteChoice::Reject => &mut self.reject,
            VoteChoice::Abstain => &mut self.abstain,
            VoteChoice::Veto => &mut self.veto,
        };
        *slot = slot.saturating_add(w);
        self
    }
}

/// The final decision, with its reason in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: ProposalStatus,
    pub reason: String,
}

fn ratio(num: u128, den: u128) -> f64 {
    num as f64 / den as f64
}

pub fn quorum_reached(policy: &VotingPolicy, eligible: u64, w: &Weights) -> bool {
    eligible > 0 && ratio(w.cast(), eligible as u128) >= policy.quorum
}

/// The decision if voting ended now with these weights.
pub fn decide(policy: &VotingPolicy, eligible: u64, w: &Weights) -> Decision {
    let rejected = |reason: String| Decision {
        outcome: ProposalStatus::Rejected,
        reason,
    };
    if eligible == 0 {
        return rejected("quorum not reached: no eligible voting weight".into());
    }
    if !quorum_reached(policy, eligible, w) {
        return rejected(format!(
            "quorum not reached: {} of {} eligible weight cast, {} needed",
            w.cast(),
            eligible,
            policy.quorum
        ));
    }
    let cast = w.cast();
    if w.veto > 0 && ratio(w.veto as u128, cast) >= policy.veto {
        return rejected(format!(
            "vetoed: veto weight {} of {} cast reaches the veto share {}",
            w.veto, cast, policy.veto
        ));
    }
    let decisive = w.approve as u128 + w.reject as u128;
    if decisive == 0 {
        return rejected("threshold not met: no approve or reject votes".into());
    }
    if ratio(w.approve as u128, decisive) > policy.threshold {
        Decision {
            outcome: ProposalStatus::Adopted,
            reason: format!(
                "adopted: approve weight {} of {} approve+reject exceeds the threshold {}",
                w.approve, decisive, policy.threshold
            ),
        }
    } else {
        rejected(format!(
            "threshold not met: approve weight {} of {} approve+reject does not exceed {}",
            w.approve, decisive, policy.threshold
        ))
    }
}

/// The decision if it no longer depends on how (or whether) the remaining eligible
/// weight votes. Checking the extremes is enough: all-approve is the best case for
/// adoption, and each way to fail (no quorum, veto, threshold) is worst at one of
/// "nobody else votes", "all veto", "all reject".
pub fn decide_early(policy: &VotingPolicy, eligible: u64, w: &Weights) -> Option<Decision> {
    decide_early_delegated(policy, eligible, w, &DelegatedWeights::default())
}

/// [`decide_early`] where `delegated` of the weights was cast by delegates for voters
/// who may still vote themselves: that weight is as free as the weight not cast. A
/// policy that lets voters change their vote decides nothing early this way (any cast
/// vote may still move until the end); only a super-quorum ends it sooner.
pub fn decide_early_delegated(
    policy: &VotingPolicy,
    eligible: u64,
    w: &Weights,
    delegated: &DelegatedWeights,
) -> Option<Decision> {
    if policy.allow_vote_change {
        return None;
    }
    let own = w.minus_delegated(delegated);
    let remaining = (eligible as u128).saturating_sub(own.cast());
    let remaining = u64::try_from(remaining).unwrap_or(u64::MAX);
    let now = decide(policy, eligible, w);
    if remaining == 0 {
        return Some(now);
    }
    let same = [
        VoteChoice::Approve,
        VoteChoice::Reject,
        VoteChoice::Veto,
        VoteChoice::Abstain,
    ]
    .iter()
    .all(|c| decide(policy, eligible, &own.plus(*c, remaining)).outcome == now.outcome);
    same.then_some(now)
}

/// Early adoption by super-quorum (OpenZeppelin GovernorSuperQuorum): approve weight
/// reaches `super_quorum` of the eligible weight and the proposal would pass if voting
/// ended now. Votes after it do not count, so unlike [`decide_early`] this decision
/// depends on which votes came first (as in OpenZeppelin).
pub fn decide_super_quorum(policy: &VotingPolicy, eligible: u64, w: &Weights) -> Option<Decision> {
    if policy.super_quorum <= 0.0 || eligible == 0 {
        return None;
    }
    if ratio(w.approve as u128, eligible as u128) < policy.super_quorum {
        return None;
    }
    let now = decide(policy, eligible, w);
    (now.outcome == ProposalStatus::Adopted).then(|| Decision {
        outcome: ProposalStatus::Adopted,
        reason: format!(
            "adopted early by super-quorum: approve weight {} of {} eligible reaches {}; {}",
            w.approve, eligible, policy.super_quorum, now.reason
        ),
    })
}

/// Refreshes the derived fields of `r` (quorum, outcome, reason) from its weights.
/// `closing` is true when the voting period is over: the outcome is then final.
pub fn evaluate(policy: &VotingPolicy, r: &mut VotingResult, closing: bool) {
    let w = Weights::of(r);
    r.quorum_reached = quorum_reached(policy, r.eligible_weight, &w);
    let decision = if closing {
        Some(decide(policy, r.eligible_weight, &w))
    } else {
        decide_early_delegated(
            policy,
            r.eligible_weight,
            &w,
            &r.delegated.unwrap_or_default(),
        )
        .or_else(|| decide_super_quorum(policy, r.eligible_weight, &w))
    };
    match decision {
        Some(d) => {
            r.outcome = Some(d.outcome);
            r.reason = d.reason;
        }
        None => {
            r.outcome = None;
            r.reason = format!(
                "open: {} of {} eligible weight cast; quorum {}, threshold {}, veto {}",
                w.cast(),
                r.eligible_weight,
                policy.quorum,
                policy.threshold,
                policy.veto
            );
        }
    }
}

/// Adds one counted vote to the running counts (does not re-evaluate).
pub fn add_vote(r: &mut VotingResult, choice: VoteChoice, weight: u64) {
    let (n, w) = match choice {
        VoteChoice::Approve => (&mut r.approve_votes, &mut r.approve_weight),
        VoteChoice::Reject => (&mut r.reject_votes, &mut r.reject_weight),
        VoteChoice::Abstain => (&mut r.abstain_votes, &mut r.abstain_weight),
        VoteChoice::Veto => (&mut r.veto_votes, &mut r.veto_weight),
    };
    *n += 1;
    *w = w.saturating_add(weight);
    r.total_votes += 1;
}

/// The counts from scratch (no decision): the frozen eligible voters with their
/// weights, their delegations (delegator -> delegate) and the counted votes, one per
/// voter (votes by non-eligible voters are ignored).
///
/// Each eligible voter's weight goes to its own vote if it voted; else along its
/// delegation chain to the first delegate that voted (A -> B -> C: if B did not vote
/// and C did, A's weight goes to C's choice); else nowhere. A chain that leaves the
/// eligible voters or comes back on itself ends there (loops are refused when
/// delegating, so the second only guards).
pub fn count(
    eligible: &BTreeMap<String, u64>,
    delegations: &BTreeMap<String, String>,
    votes: &[Vote],
) -> VotingResult {
    let mut r = VotingResult {
        eligible_weight: eligible.values().fold(0u64, |a, w| a.saturating_add(*w)),
        ..VotingResult::default()
    };
    let mut choice_of: BTreeMap<&str, VoteChoice> = BTreeMap::new();
    for v in votes {
        if let Some(w) = eligible.get(&v.voter) {
            add_vote(&mut r, v.choice, *w);
            choice_of.insert(v.voter.as_str(), v.choice);
        }
    }
    if delegations.is_empty() {
        return r;
    }
    for (voter, w) in eligible {
        if choice_of.contains_key(voter.as_str()) {
            continue;
        }
        if let Some(choice) = resolve_delegate(voter, eligible, delegations, &choice_of) {
            add_weight(&mut r, choice, *w);
            let d = r.delegated.get_or_insert_with(DelegatedWeights::default);
            let slot = match choice {
                VoteChoice::Approve => &mut d.approve,
                VoteChoice::Reject => &mut d.reject,
                VoteChoice::Abstain => &mut d.abstain,
                VoteChoice::Veto => &mut d.veto,
            };
            *slot = slot.saturating_add(*w);
        }
    }
    r
}

/// The choice `voter`'s weight follows: the vote of the first delegate on its chain
/// that voted.
fn resolve_delegate(
    voter: &str,
    eligible: &BTreeMap<String, u64>,
    delegations: &BTreeMap<String, String>,
    choice_of: &BTreeMap<&str, VoteChoice>,
) -> Option<VoteChoice> {
    let mut seen = std::collections::BTreeSet::from([voter]);
    let mut at = voter;
    while let Some(next) = delegations.get(at) {
        if !eligible.contains_key(next) || !seen.insert(next.as_str()) {
            return None;
        }
        if let Some(c) = choice_of.get(next.as_str()) {
            return Some(*c);
        }
        at = next;
    }
    None
}

/// Adds weight (not a vote) to a choice: delegated weight.
fn add_weight(r: &mut VotingResult, choice: VoteChoice, weight: u64) {
    let w = match choice {
        VoteChoice::Approve => &mut r.approve_weight,
        VoteChoice::Reject => &mut r.reject_weight,
        VoteChoice::Abstain => &mut r.abstain_weight,
        VoteChoice::Veto => &mut r.veto_weight,
    };
    *w = w.saturating_add(weight);
}

/// The whole tally from scratch: [`count`], then the decision under `policy`.
pub fn tally(
    policy: &VotingPolicy,
    eligible: &BTreeMap<String, u64>,
    delegations: &BTreeMap<String, String>,
    votes: &[Vote],
    closing: bool,
) -> VotingResult {
    let mut r = count(eligible, delegations, votes);
    evaluate(policy, &mut r, closing);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(quorum: f64, threshold: f64, veto: f64) -> VotingPolicy {
        VotingPolicy {
            quorum,
            threshold,
            veto,
            voting_period_secs: 60,
            weights: BTreeMap::new(),
            default_weight: 1,
            min_trust_score: None,
            weight_by_trust: false,
            ..VotingPolicy::default()
        }
    }

    fn w(approve: u64, reject: u64, abstain: u64, veto: u64) -> Weights {
        Weights {
            approve,
            reject,
            abstain,
            veto,
        }
    }

    fn check(p: &VotingPolicy, eligible: u64, ws: Weights, want: ProposalStatus, reason: &str) {
        let d = decide(p, eligible, &ws);
        assert_eq!(d.outcome, want, "{ws:?}: {}", d.reason);
        assert!(d.reason.starts_with(reason), "{ws:?}: {}", d.reason);
    }

    #[test]
    fn final_decisions() {
        use ProposalStatus::{Adopted, Rejected};
        let p = policy(0.334, 0.5, 0.334);
        check(&p, 3, w(2, 1, 0, 0), Adopted, "adopted");
        check(&p, 3, w(1, 1, 0, 0), Rejected, "threshold not met"); // 0.5 is not > 0.5
        check(&p, 3, w(1, 0, 0, 0), Rejected, "quorum not reached"); // 1/3 < 0.334
        check(&p, 3, w(0, 0, 2, 0), Rejected, "threshold not met");
        check(&p, 3, w(1, 0, 0, 2), Rejected, "vetoed");
        check(&p, 0, w(0, 0, 0, 0), Rejected, "quorum not reached");
        let strict = policy(0.334, 0.667, 0.334);
        check(&strict, 3, w(2, 1, 0, 0), Rejected, "threshold not met"); // 0.6667 > 0.667? no
        check(&strict, 3, w(3, 0, 0, 0), Adopted, "adopted");
    }

    #[test]
    fn veto_share_boundary() {
        // 1 of 3 cast is 0.333..., below a 0.334 veto share: not vetoed, adopted.
        let d = decide(&policy(0.334, 0.5, 0.334), 3, &w(2, 0, 0, 1));
        assert_eq!(d.outcome, ProposalStatus::Adopted, "{}", d.reason);
        let d = decide(&policy(0.334, 0.5, 0.3), 3, &w(2, 0, 0, 1));
        assert!(d.reason.starts_with("vetoed"), "{}", d.reason);
        let d = decide(&policy(0.334, 0.5, 0.5), 3, &w(2, 0, 0, 1));
        assert_eq!(d.outcome, ProposalStatus::Adopted, "{}", d.reason);
    }

    /// Veto is a share of the weight cast, so reject (or abstain) weight dilutes it: the
    /// tally is monotonic in approve weight but not in reject weight. Pinned so that a
    /// change of this rule is a conscious one.
    #[test]
    fn reject_weight_dilutes_a_veto() {
        let p = policy(0.0, 0.0, 0.44);
        assert!(decide(&p, 10, &w(3, 2, 0, 4)).reason.starts_with("vetoed"));
        assert_eq!(
            decide(&p, 10, &w(3, 3, 0, 4)).outcome,
            ProposalStatus::Adopted
        );
    }

    #[test]
    fn early_decisions() {
        let p = policy(0.334, 0.5, 0.334);
        // 2 of 3 approve: remaining 1 reject gives 2/3 > 0.5, veto gives 1/3 < 0.334: adopted.
        assert_eq!(
            decide_early(&p, 3, &w(2, 0, 0, 0)).map(|d| d.outcome),
            Some(ProposalStatus::Adopted)
        );
        // 1 of 3 approve: not yet decided.
        assert_eq!(decide_early(&p, 3, &w(1, 0, 0, 0)), None);
        // 2 of 3 reject: even one more approve cannot pass.
        assert_eq!(
            decide_early(&p, 3, &w(0, 2, 0, 0)).map(|d| d.outcome),
            Some(ProposalStatus::Rejected)
        );
        // Nobody voted: undecided.
        assert_eq!(decide_early(&p, 3, &w(0, 0, 0, 0)), None);
    }

    #[test]
    fn tally_from_votes_ignores_ineligible() {
        use crate::digest::Digest;
        use crate::stamp::Timestamp;
        let p = policy(0.334, 0.5, 0.334);
        let eligible: BTreeMap<String, u64> = [
            ("a".to_string(), 2),
            ("b".to_string(), 1),
            ("c".to_string(), 1),
        ]
        .into();
        let vote = |voter: &str, choice| Vote {
            proposal_id: "p".into(),
            voter: voter.into(),
            choice,
            weight: 0,
            reason: None,
            timestamp: Timestamp(0),
            index: 0,
            entry_hash: Digest::default(),
            sequence: 0,
        };
        let r = tally(
            &p,
            &eligible,
            &BTreeMap::new(),
            &[
                vote("a", VoteChoice::Approve),
                vote("zz", VoteChoice::Reject),
            ],
            false,
        );
        assert_eq!(r.eligible_weight, 4);
        assert_eq!(r.approve_weight, 2);
        assert_eq!(r.reject_votes, 0);
        assert!(r.quorum_reached);
        assert_eq!(r.outcome, None);
        let r = tally(
            &p,
            &eligible,
            &BTreeMap::new(),
            &[vote("a", VoteChoice::Approve)],
            true,
        );
        assert_eq!(r.outcome, Some(ProposalStatus::Adopted));
    }

    /// Issue 14's boundaries, one row each: (what, policy, eligible, weights, outcome,
    /// reason prefix). "One unit of weight" is the smallest step: weights are integers.
    #[test]
    fn boundaries() {
        use ProposalStatus::{Adopted, Rejected};
        let q = |quorum| policy(quorum, 0.5, 0.334);
        let rows: Vec<(&str, VotingPolicy, u64, Weights, ProposalStatus, &str)> = vec![
            (
                "quorum reached exactly",
                q(0.5),
                10,
                w(5, 0, 0, 0),
                Adopted,
                "adopted",
            ),
            (
                "quorum missed by one unit",
                q(0.5),
                10,
                w(4, 0, 0, 0),
                Rejected,
                "quorum not reached",
            ),
            (
                "quorum counts abstain",
                q(0.5),
                10,
                w(1, 0, 4, 0),
                Adopted,
                "adopted",
            ),
            (
                "tie fails the 0.5 threshold",
                q(0.0),
                10,
                w(3, 3, 0, 0),
                Rejected,
                "threshold not met",
            ),
            (
                "one more approve passes",
                q(0.0),
                10,
                w(4, 3, 0, 0),
                Adopted,
                "adopted",
            ),
            (
                "veto share reached exactly",
                policy(0.0, 0.5, 0.25),
                8,
                w(6, 0, 0, 2),
                Rejected,
                "vetoed",
            ),
            (
                "veto share missed by one unit",
                policy(0.0, 0.5, 0.25),
                9,
                w(7, 0, 0, 2),
                Adopted,
                "adopted",
            ),
            (
                "no eligible weight",
                q(0.0),
                0,
                w(0, 0, 0, 0),
                Rejected,
                "quorum not reached",
            ),
        ];
        for (what, p, eligible, ws, want, reason) in rows {
            let d = decide(&p, eligible, &ws);
            assert_eq!(d.outcome, want, "{what}: {}", d.reason);
            assert!(d.reason.starts_with(reason), "{what}: {}", d.reason);
        }
    }

    /// The expedited track judges with its own quorum and threshold: the same weights
    /// may fail there and pass on the normal track (the fallback's second judgement).
    #[test]
    fn expedited_track_boundaries() {
        let normal = VotingPolicy {
            expedited_voting_period_secs: 10,
            expedited_threshold: 0.667,
            expedited_quorum: 0.5,
            ..policy(0.3, 0.5, 0.334)
        };
        let fast = normal.expedited();
        assert_eq!(
            (fast.quorum, fast.threshold, fast.voting_period_secs),
            (0.5, 0.667, 10)
        );
        let rows = [
            // (weights of 12, expedited outcome, normal outcome)
            (
                w(4, 0, 0, 0),
                ProposalStatus::Rejected,
                ProposalStatus::Adopted,
            ), // quorum 4/12 < 0.5
            (
                w(6, 0, 0, 0),
                ProposalStatus::Adopted,
                ProposalStatus::Adopted,
            ), // quorum exactly 0.5
            (
                w(4, 2, 0, 0),
                ProposalStatus::Rejected,
                ProposalStatus::Adopted,
            ), // 0.6667 < 0.667
            (
                w(5, 2, 0, 0),
                ProposalStatus::Adopted,
                ProposalStatus::Adopted,
            ), // 0.714
            (
                w(3, 3, 0, 0),
                ProposalStatus::Rejected,
                ProposalStatus::Rejected,
            ), // a tie fails both
        ];
        for (ws, on_fast, on_normal) in rows {
            assert_eq!(decide(&fast, 12, &ws).outcome, on_fast, "{ws:?} expedited");
            assert_eq!(decide(&normal, 12, &ws).outcome, on_normal, "{ws:?} normal");
        }
    }

    #[test]
    fn super_quorum_decides_early_only_when_it_would_pass_now() {
        let p = VotingPolicy {
            super_quorum: 0.6,
            ..policy(0.334, 0.9, 0.334)
        };
        let early = |ws: Weights| decide_super_quorum(&p, 10, &ws).map(|d| d.outcome);
        assert_eq!(early(w(6, 0, 0, 0)), Some(ProposalStatus::Adopted)); // exactly 0.6
        assert_eq!(early(w(5, 0, 0, 0)), None); // one unit short
        assert_eq!(early(w(6, 1, 0, 0)), None); // 6/7 does not exceed 0.9
        assert_eq!(early(w(6, 0, 0, 4)), None); // vetoed now: 4 of 10 cast
        // Without it, 6 of 10 approving is not decided early: 4 rejects could follow.
        assert_eq!(decide_early(&p, 10, &w(6, 0, 0, 0)), None);
        let mut r = VotingResult {
            eligible_weight: 10,
            approve_weight: 6,
            ..VotingResult::default()
        };
        evaluate(&p, &mut r, false);
        assert_eq!(r.outcome, Some(ProposalStatus::Adopted));
        assert!(
            r.reason.starts_with("adopted early by super-quorum"),
            "{}",
            r.reason
        );
        let off = VotingPolicy {
            super_quorum: 0.0,
            ..p.clone()
        };
        assert_eq!(decide_super_quorum(&off, 10, &w(10, 0, 0, 0)), None);
    }

    fn voted(voter: &str, choice: VoteChoice) -> Vote {
        Vote {
            proposal_id: "p".into(),
            voter: voter.into(),
            choice,
            weight: 0,
            reason: None,
            timestamp: crate::stamp::Timestamp(0),
            index: 0,
            entry_hash: crate::digest::Digest::default(),
            sequence: 0,
        }
    }

    /// Delegation chains: each row is the delegations, the votes, and the expected
    /// (approve, reject, delegated) weights, over voters a..e weighing 1, 2, 4, 8, 16.
    #[test]
    fn delegation_chains() {
        use VoteChoice::{Approve, Reject};
        let eligible: BTreeMap<String, u64> = [("a", 1), ("b", 2), ("c", 4), ("d", 8), ("e", 16)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        type Row<'a> = (
            &'a str,
            Vec<(&'a str, &'a str)>,
            Vec<(&'a str, VoteChoice)>,
            (u64, u64, u64),
        );
        let rows: Vec<Row> = vec![
            ("no delegation", vec![], vec![("c", Approve)], (4, 0, 0)),
            ("a -> c", vec![("a", "c")], vec![("c", Approve)], (5, 0, 1)),
            (
                "chain a -> b -> c, only c votes",
                vec![("a", "b"), ("b", "c")],
                vec![("c", Approve)],
                (7, 0, 3),
            ),
            (
                "chain stops at the first delegate that voted",
                vec![("a", "b"), ("b", "c")],
                vec![("b", Reject), ("c", Approve)],
                (4, 3, 1),
            ),
            (
                "the delegator's own vote overrides",
                vec![("a", "c")],
                vec![("a", Reject), ("c", Approve)],
                (4, 1, 0),
            ),
            (
                "nobody on the chain voted",
                vec![("a", "b")],
                vec![("c", Approve)],
                (4, 0, 0),
            ),
            (
                "a chain out of the eligible voters ends",
                vec![("a", "zz")],
                vec![("c", Approve)],
                (4, 0, 0),
            ),
            (
                "a loop (refused on entry) counts nothing",
                vec![("a", "b"), ("b", "a")],
                vec![("c", Approve)],
                (4, 0, 0),
            ),
            (
                "two chains into one delegate",
                vec![("a", "e"), ("b", "d"), ("d", "e")],
                vec![("e", Reject)],
                (0, 27, 11),
            ),
        ];
        for (what, dels, votes, (approve, reject, delegated)) in rows {
            let d: BTreeMap<String, String> = dels
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            let vs: Vec<Vote> = votes.iter().map(|(v, c)| voted(v, *c)).collect();
            let r = count(&eligible, &d, &vs);
            assert_eq!(
                (
                    r.approve_weight,
                    r.reject_weight,
                    r.delegated.map_or(0, |d| d.total())
                ),
                (approve, reject, delegated),
                "{what}"
            );
            assert_eq!(
                r.total_votes,
                votes.len() as u64,
                "{what}: delegated weight is no vote"
            );
            assert_eq!(r.eligible_weight, 31);
        }
    }

    fn arb_policy() -> impl Strategy<Value = VotingPolicy> {
        (0.0f64..=1.0, 0.0f64..=1.0, 0.0f64..=1.0).prop_map(|(q, t, v)| policy(q, t, v))
    }

    fn arb_choice() -> impl Strategy<Value = VoteChoice> {
        prop_oneof![
            Just(VoteChoice::Approve),
            Just(VoteChoice::Reject),
            Just(VoteChoice::Abstain),
            Just(VoteChoice::Veto)
        ]
    }

    proptest! {
        /// Once decided early, the outcome stays the same whatever the rest do.
        #[test]
        fn early_decision_is_final(
            p in arb_policy(),
            voters in proptest::collection::vec((1u64..5, arb_choice(), any::<bool>()), 1..12),
        ) {
            let eligible: u64 = voters.iter().map(|v| v.0).sum();
            let mut ws = Weights::default();
            let mut decided: Option<ProposalStatus> = None;
            for (weight, choice, votes) in &voters {
                if !votes { continue; }
                ws = ws.plus(*choice, *weight);
                let early = decide_early(&p, eligible, &ws).map(|d| d.outcome);
                if let Some(prev) = decided {
                    prop_assert_eq!(early, Some(prev));
                }
                if early.is_some() { decided = early; }
            }
            if let Some(prev) = decided {
                prop_assert_eq!(decide(&p, eligible, &ws).outcome, prev);
            }
        }

        /// More approve weight never turns an adoption into a rejection.
        #[test]
        fn monotonic_in_approve(
            p in arb_policy(),
            a in 0u64..20, r in 0u64..20, ab in 0u64..20, v in 0u64..20, extra in 1u64..20,
            spare in 0u64..40,
        ) {
            let eligible = a + r + ab + v + extra + spare;
            let before = decide(&p, eligible, &w(a, r, ab, v)).outcome;
            let after = decide(&p, eligible, &w(a + extra, r, ab, v)).outcome;
            if before == ProposalStatus::Adopted {
                prop_assert_eq!(after, ProposalStatus::Adopted);
            }
        }

        /// No order of votes (changes included, delegation and super-quorum on) adopts a
        /// proposal whose approve weight does not exceed the threshold share of approve
        /// plus reject weight when it is adopted.
        #[test]
        fn no_vote_order_adopts_below_threshold(
            p in arb_policy(),
            sq in prop_oneof![Just(0.0f64), 0.0f64..=1.0],
            dels in proptest::collection::vec((0usize..6, 0usize..6), 0..6),
            votes in proptest::collection::vec((0usize..6, arb_choice()), 1..16),
        ) {
            let p = VotingPolicy { super_quorum: sq, ..p };
            let names = ["a", "b", "c", "d", "e", "f"];
            let eligible: BTreeMap<String, u64> =
                names.iter().enumerate().map(|(i, n)| (n.to_string(), i as u64 + 1)).collect();
            let mut d: BTreeMap<String, String> = BTreeMap::new();
            for (a, b) in dels {
                if a != b { d.insert(names[a].into(), names[b].into()); }
            }
            let mut counted: Vec<Vote> = Vec::new();
            for (who, c) in votes {
                // A later vote by the same voter replaces its earlier one.
                counted.retain(|v| v.voter != names[who]);
                counted.push(voted(names[who], c));
                let r = tally(&p, &eligible, &d, &counted, false);
                if r.outcome == Some(ProposalStatus::Adopted) {
                    let decisive = r.approve_weight as f64 + r.reject_weight as f64;
                    prop_assert!(r.approve_weight as f64 / decisive > p.threshold, "{r:?}");
                    break;
                }
                if r.outcome.is_some() { break; }
            }
        }

        /// Without super-quorum, the outcome of one batch of votes (one per voter) does
        /// not depend on their order: an early decision is final, so deciding on a
        /// prefix gives what the whole batch gives at the close.
        #[test]
        fn outcome_does_not_depend_on_the_order_of_a_batch(
            p in arb_policy(),
            delegate in any::<bool>(),
            batch in proptest::collection::vec((1u64..6, arb_choice(), any::<bool>()), 1..8),
            seed in any::<u64>(),
        ) {
            let eligible: BTreeMap<String, u64> =
                batch.iter().enumerate().map(|(i, (wt, _, _))| (format!("v{i}"), *wt)).collect();
            // Delegation, if asked: every non-voter delegates to the first voter.
            let mut d: BTreeMap<String, String> = BTreeMap::new();
            let votes: Vec<Vote> = batch
                .iter()
                .enumerate()
                .filter(|(_, (_, _, votes))| *votes)
                .map(|(i, (_, c, _))| voted(&format!("v{i}"), *c))
                .collect();
            if delegate && let Some(first) = votes.first() {
                for (i, (_, _, votes)) in batch.iter().enumerate() {
                    if !votes { d.insert(format!("v{i}"), first.voter.clone()); }
                }
            }
            let run = |order: &[Vote]| {
                let mut counted = Vec::new();
                for v in order {
                    counted.push(v.clone());
                    let r = tally(&p, &eligible, &d, &counted, false);
                    if let Some(o) = r.outcome { return o; }
                }
                tally(&p, &eligible, &d, &counted, true).outcome.expect("closing decides")
            };
            let forward = run(&votes);
            let mut shuffled = votes.clone();
            // A deterministic permutation from the seed (rotation, then reversal).
            if !shuffled.is_empty() {
                let k = (seed as usize) % shuffled.len();
                shuffled.rotate_left(k);
                if seed & 1 == 1 { shuffled.reverse(); }
            }
            prop_assert_eq!(run(&shuffled), forward);
            let mut backward = votes.clone();
            backward.reverse();
            prop_assert_eq!(run(&backward), forward);
        }

        /// The decision is always adopted or rejected; adopted implies quorum reached.
        #[test]
        fn adopted_implies_quorum(
            p in arb_policy(), a in 0u64..20, r in 0u64..20, ab in 0u64..20, v in 0u64..20,
            spare in 0u64..40,
        ) {
            let ws = w(a, r, ab, v);
            let eligible = a + r + ab + v + spare;
            let d = decide(&p, eligible, &ws);
            prop_assert!(matches!(d.outcome, ProposalStatus::Adopted | ProposalStatus::Rejected));
            if d.outcome == ProposalStatus::Adopted {
                prop_assert!(quorum_reached(&p, eligible, &ws));
                prop_assert!(a > 0);
            }
        }
    }
}
