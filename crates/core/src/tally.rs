//! The tally: quorum, threshold, veto, weights and early decision, per the governing
//! domain's policy (overridable per clause). Pure arithmetic over counted votes.
//!
//! The rules, in order: quorum (cast weight / eligible weight >= quorum; abstain and
//! veto count as cast), veto (veto weight / cast weight >= veto rejects), threshold
//! (approve / (approve + reject) must strictly exceed it). A proposal is decided early
//! as soon as no way the remaining eligible weight could still vote (or not vote) would
//! change the outcome.

use crate::model::{ProposalStatus, Vote, VoteChoice, VotingPolicy, VotingResult};
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
    let remaining = (eligible as u128).saturating_sub(w.cast());
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
    .all(|c| decide(policy, eligible, &w.plus(*c, remaining)).outcome == now.outcome);
    same.then_some(now)
}

/// Refreshes the derived fields of `r` (quorum, outcome, reason) from its weights.
/// `closing` is true when the voting period is over: the outcome is then final.
pub fn evaluate(policy: &VotingPolicy, r: &mut VotingResult, closing: bool) {
    let w = Weights::of(r);
    r.quorum_reached = quorum_reached(policy, r.eligible_weight, &w);
    let decision = if closing {
        Some(decide(policy, r.eligible_weight, &w))
    } else {
        decide_early(policy, r.eligible_weight, &w)
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

/// The whole tally from scratch: the policy, the frozen eligible voters with their
/// weights, and the counted votes (votes by non-eligible voters are ignored).
pub fn tally(
    policy: &VotingPolicy,
    eligible: &BTreeMap<String, u64>,
    votes: &[Vote],
    closing: bool,
) -> VotingResult {
    let mut r = VotingResult {
        eligible_weight: eligible.values().fold(0u64, |a, w| a.saturating_add(*w)),
        ..VotingResult::default()
    };
    for v in votes {
        if let Some(w) = eligible.get(&v.voter) {
            add_vote(&mut r, v.choice, *w);
        }
    }
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
        };
        let r = tally(
            &p,
            &eligible,
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
        let r = tally(&p, &eligible, &[vote("a", VoteChoice::Approve)], true);
        assert_eq!(r.outcome, Some(ProposalStatus::Adopted));
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
