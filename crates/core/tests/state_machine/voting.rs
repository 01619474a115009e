//! Issue 14's voting features and the suspension for proven equivocation, each through
//! signed entries on a real state: vote changes, the expedited track and its fallback,
//! super-quorum, late-quorum protection, delegation, the timelock with its guardian,
//! the open-proposal limit; suspension by a double vote or a checkpoint fork, and the
//! proposal that restores the rights.

use super::*;
use govmesh_core::digest::Digest;
use govmesh_core::entry::{CancelOp, DelegateOp, EnactOp, EvidenceKind, EvidenceOp, UndelegateOp};
use govmesh_core::model::{PolicyOverride, VotingTrack};

/// A mesh with a `ballots` contract decided by a domain of `n` hubs (seeds 20..)
/// under `policy`, administered by hub 0; returns the voters and the domain id.
fn voting_mesh(policy: PolicyOverride, n: u8) -> (Mesh, Vec<KeyPair>, String) {
    let mut m = Mesh::new();
    let voters: Vec<KeyPair> = (0..n)
        .map(|i| register(&mut m, 20 + i, NodeType::GovernanceHub))
        .collect();
    let h0 = m.hub(0);
    let refs: Vec<&KeyPair> = voters.iter().collect();
    let mut d = domain_spec(&mut m, "voters", &h0, &refs, None, &[]);
    d.policy = policy;
    m.submit(&h0, Operation::DefineDomain(d.clone())).unwrap();
    let op = creation(&mut m, draft("ballots", &d.domain_id));
    let pid = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    let hubs = [m.hub(0), m.hub(1), m.hub(2)];
    approve_all(&mut m, &pid, &hubs.iter().collect::<Vec<_>>());
    (m, voters, d.domain_id)
}

fn ballot_op(m: &mut Mesh, text: &str) -> ProposeOp {
    propose_on(m, "ballots", "1", text)
}

/// Proposes a text change of the ballots contract's clause 1 as `by`.
fn ballot(m: &mut Mesh, by: &KeyPair, text: &str) -> String {
    let op = ballot_op(m, text);
    let id = op.proposal_id.clone();
    m.submit(by, Operation::Propose(op)).expect("propose");
    id
}

fn vote_seq(
    m: &mut Mesh,
    k: &KeyPair,
    id: &str,
    choice: VoteChoice,
    sequence: u64,
) -> Result<Applied, Rejection> {
    m.submit(
        k,
        Operation::Vote(VoteOp {
            proposal_id: id.into(),
            choice,
            reason: None,
            sequence,
        }),
    )
}

fn result(m: &Mesh, id: &str) -> govmesh_core::model::VotingResult {
    m.state.proposal(id).unwrap().voting_result.clone()
}

fn policy(f: impl FnOnce(&mut PolicyOverride)) -> PolicyOverride {
    let mut p = PolicyOverride {
        voting_period_secs: Some(3600),
        ..PolicyOverride::default()
    };
    f(&mut p);
    p
}

#[test]
fn vote_changes_count_the_last_vote_and_a_repeated_sequence_is_equivocation() {
    let (mut m, v, _) = voting_mesh(policy(|p| p.allow_vote_change = Some(true)), 4);
    let id = ballot(&mut m, &v[0], "changed");
    vote_seq(&mut m, &v[0], &id, VoteChoice::Approve, 0).unwrap();
    m.advance(5);
    let a = vote_seq(&mut m, &v[0], &id, VoteChoice::Reject, 1).unwrap();
    assert_eq!(
        a.events,
        vec![Event::VoteChanged {
            proposal_id: id.clone(),
            voter: v[0].node_id().into()
        }]
    );
    let r = result(&m, &id);
    assert_eq!(
        (r.approve_weight, r.reject_weight, r.total_votes),
        (0, 1, 1)
    );
    assert_eq!(m.state.votes(&id).len(), 1);
    assert_eq!(m.state.votes(&id)[0].sequence, 1);
    assert_eq!(m.state.superseded_votes(&id).len(), 1);
    // Everyone has voted, and with vote changes allowed nothing is decided before the
    // end: any vote may still move.
    for k in &v[1..] {
        vote_seq(&mut m, k, &id, VoteChoice::Approve, 0).unwrap();
    }
    assert_eq!(m.status(&id), ProposalStatus::Voting);
    // A lower sequence than the counted one (2 replaced 0; 1 was never cast) is
    // equivocation, proven against the counted vote.
    let changed = vote_seq(&mut m, &v[1], &id, VoteChoice::Reject, 2).unwrap();
    let lower = vote_seq(&mut m, &v[1], &id, VoteChoice::Abstain, 1).unwrap();
    assert_eq!(
        lower.events[0],
        Event::EquivocationRecorded {
            proposal_id: id.clone(),
            voter: v[1].node_id().into()
        }
    );
    assert!(
        matches!(&lower.events[1], Event::NodeSuspended { node_id, .. } if node_id == v[1].node_id())
    );
    let e = m.state.equivocations().last().unwrap();
    assert_eq!(
        (e.first_entry, e.second_entry),
        (changed.entry_hash, lower.entry_hash)
    );
    // The same sequence with a different choice is equivocation too; the counted vote
    // stands and the node is suspended at once.
    let same = vote_seq(&mut m, &v[0], &id, VoteChoice::Veto, 1).unwrap();
    assert!(same.events.contains(&Event::EquivocationRecorded {
        proposal_id: id.clone(),
        voter: v[0].node_id().into()
    }));
    let s = m
        .state
        .node(v[0].node_id())
        .unwrap()
        .suspension
        .clone()
        .unwrap();
    assert_eq!(s.evidence_entry, same.entry_hash);
    assert!(s.reason.contains("double vote"), "{}", s.reason);
    let r = result(&m, &id);
    assert_eq!(
        (r.approve_weight, r.reject_weight, r.veto_weight),
        (2, 2, 0)
    );
    let e = vote_seq(&mut m, &v[0], &id, VoteChoice::Approve, 9).unwrap_err();
    assert_eq!(e.code, RejectCode::Suspended, "{e}");
    assert!(e.message.contains("suspended"), "{e}");
    // The period ends: 2 approve, 2 reject is a tie, which fails.
    m.advance(3600);
    m.submit(
        &m.hub(0),
        Operation::Close(CloseOp {
            proposal_id: id.clone(),
            track: None,
        }),
    )
    .unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Rejected);
}

#[test]
fn without_allow_vote_change_a_higher_sequence_is_refused_and_an_equal_one_is_equivocation() {
    let mut m = Mesh::new();
    let id = m.propose(0, "11.0", "x");
    let h0 = m.hub(0);
    vote_seq(&mut m, &h0, &id, VoteChoice::Approve, 0).unwrap();
    let e = vote_seq(&mut m, &h0, &id, VoteChoice::Reject, 1).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("allow_vote_change"), "{e}");
    let a = vote_seq(&mut m, &h0, &id, VoteChoice::Reject, 0).unwrap();
    assert_eq!(a.events.len(), 2, "{:?}", a.events);
    assert!(
        matches!(&a.events[1], Event::NodeSuspended { node_id, .. } if node_id == h0.node_id())
    );
}

#[test]
fn expedited_proposals_use_their_track_and_fall_back_to_the_normal_one() {
    let (mut m, v, _) = voting_mesh(
        policy(|p| {
            p.expedited_voting_period_secs = Some(600);
            p.expedited_quorum = Some(0.8);
            p.expedited_threshold = Some(0.667);
        }),
        5,
    );
    // Adopted on its track: 4 of 5 approve reach the expedited quorum exactly.
    let mut op = ballot_op(&mut m, "fast");
    op.expedited = true;
    let fast = op.proposal_id.clone();
    m.submit(&v[0], Operation::Propose(op)).unwrap();
    let p = m.state.proposal(&fast).unwrap();
    assert_eq!(p.track(), VotingTrack::Expedited);
    assert_eq!(p.voting_ends, p.voting_starts.plus_secs(600));
    for k in &v[..3] {
        vote_seq(&mut m, k, &fast, VoteChoice::Approve, 0).unwrap();
        assert_eq!(m.status(&fast), ProposalStatus::Voting);
    }
    vote_seq(&mut m, &v[3], &fast, VoteChoice::Approve, 0).unwrap();
    assert_eq!(m.status(&fast), ProposalStatus::Adopted);

    // Fails on its track at its end (quorum 3 of 5 < 0.8): falls back, with the
    // normal period counted from its start, and is adopted at the normal end.
    let mut op = ballot_op(&mut m, "fallback at the end");
    op.expedited = true;
    let slow = op.proposal_id.clone();
    m.submit(&v[0], Operation::Propose(op)).unwrap();
    let start = m.state.proposal(&slow).unwrap().voting_starts;
    for k in &v[..3] {
        vote_seq(&mut m, k, &slow, VoteChoice::Approve, 0).unwrap();
    }
    m.advance(599);
    let early = m.submit(
        &v[0],
        Operation::Close(CloseOp {
            proposal_id: slow.clone(),
            track: None,
        }),
    );
    assert_eq!(code(early), RejectCode::TooEarly);
    m.advance(1);
    let a = m
        .submit(
            &v[0],
            Operation::Close(CloseOp {
                proposal_id: slow.clone(),
                track: None,
            }),
        )
        .unwrap();
    assert_eq!(
        a.events,
        vec![Event::ExpeditedFellBack {
            proposal_id: slow.clone(),
            voting_ends: start.plus_secs(3600)
        }]
    );
    let p = m.state.proposal(&slow).unwrap();
    assert_eq!(
        (p.status, p.track()),
        (ProposalStatus::Voting, VotingTrack::Normal)
    );
    assert_eq!(p.expedited_fallback_at, Some(start.plus_secs(600)));
    assert!(
        p.voting_result.reason.starts_with("fell back"),
        "{}",
        p.voting_result.reason
    );
    assert_eq!(m.state.due_closes(m.now), Vec::<String>::new());
    m.advance(3000);
    assert_eq!(m.state.due_closes(m.now), vec![slow.clone()]);
    // Closing the expedited track again is refused; the normal one's close decides.
    let wrong = CloseOp {
        proposal_id: slow.clone(),
        track: Some(VotingTrack::Expedited),
    };
    assert_eq!(
        code(m.submit(&v[1], Operation::Close(wrong))),
        RejectCode::NotVoting
    );
    let close = CloseOp {
        proposal_id: slow.clone(),
        track: Some(VotingTrack::Normal),
    };
    m.submit(&v[0], Operation::Close(close)).unwrap();
    assert_eq!(m.status(&slow), ProposalStatus::Adopted);

    // Rejected on its track early (2 rejects: at most 3/5 approve < 0.667): it falls
    // back on that vote, not at its end.
    let mut op = ballot_op(&mut m, "fallback early");
    op.expedited = true;
    let rej_id = op.proposal_id.clone();
    m.submit(&v[0], Operation::Propose(op)).unwrap();
    vote_seq(&mut m, &v[3], &rej_id, VoteChoice::Reject, 0).unwrap();
    let a = vote_seq(&mut m, &v[4], &rej_id, VoteChoice::Reject, 0).unwrap();
    assert!(
        matches!(a.events[1], Event::ExpeditedFellBack { .. }),
        "{:?}",
        a.events
    );
    assert_eq!(m.status(&rej_id), ProposalStatus::Voting);

    // A policy without an expedited track refuses the request.
    let mut op = m.propose_op("11.0", "x", vec![]);
    op.expedited = true;
    let e = m.submit(&m.hub(0), Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("no expedited track"), "{e}");
}

#[test]
fn super_quorum_adopts_early_what_the_threshold_alone_would_keep_open() {
    for (super_quorum, adopted_after) in [(Some(0.6), 3), (None, 0)] {
        let (mut m, v, _) = voting_mesh(
            policy(|p| {
                p.threshold = Some(0.9);
                p.super_quorum = super_quorum;
            }),
            5,
        );
        let id = ballot(&mut m, &v[0], "popular");
        for (i, k) in v[..3].iter().enumerate() {
            vote_seq(&mut m, k, &id, VoteChoice::Approve, 0).unwrap();
            let want = if adopted_after == i + 1 {
                ProposalStatus::Adopted
            } else {
                ProposalStatus::Voting
            };
            assert_eq!(
                m.status(&id),
                want,
                "{super_quorum:?} after {} votes",
                i + 1
            );
        }
        if super_quorum.is_some() {
            let reason = result(&m, &id).reason;
            assert!(
                reason.starts_with("adopted early by super-quorum"),
                "{reason}"
            );
        }
    }
}

#[test]
fn late_quorum_extends_the_period_at_its_boundary() {
    // (seconds after opening when quorum is first reached, expected end after it)
    for (at, ends) in [(10, 3600), (3000, 3600), (3001, 3601), (3599, 4199)] {
        let (mut m, v, _) = voting_mesh(
            policy(|p| {
                p.quorum = Some(0.6);
                p.late_quorum_extension_secs = Some(600);
            }),
            5,
        );
        let id = ballot(&mut m, &v[0], "late");
        let start = m.state.proposal(&id).unwrap().voting_starts;
        vote_seq(&mut m, &v[0], &id, VoteChoice::Approve, 0).unwrap();
        vote_seq(&mut m, &v[1], &id, VoteChoice::Reject, 0).unwrap();
        m.now = start.plus_secs(at);
        let a = vote_seq(&mut m, &v[2], &id, VoteChoice::Abstain, 0).unwrap();
        let p = m.state.proposal(&id).unwrap();
        assert!(p.voting_result.quorum_reached);
        assert_eq!(p.voting_ends, start.plus_secs(ends), "quorum at {at}");
        let extended = ends != 3600;
        assert_eq!(
            a.events
                .iter()
                .any(|e| matches!(e, Event::VotingExtended { .. })),
            extended,
            "quorum at {at}: {:?}",
            a.events
        );
        assert_eq!(
            p.voting_ends_before_extension,
            extended.then(|| start.plus_secs(3600))
        );
        // Past the original end, a vote counts only where the period was extended.
        m.now = start.plus_secs(3600);
        let late = vote_seq(&mut m, &v[3], &id, VoteChoice::Approve, 0);
        if extended {
            late.unwrap();
            let e = m.submit(
                &v[0],
                Operation::Close(CloseOp {
                    proposal_id: id.clone(),
                    track: None,
                }),
            );
            assert_eq!(code(e), RejectCode::TooEarly);
        } else {
            assert_eq!(code(late), RejectCode::NotVoting);
        }
    }
}

#[test]
fn delegation_through_signed_entries_chains_loops_and_overrides() {
    let (mut m, v, domain) = voting_mesh(policy(|p| p.delegation = Some(true)), 5);
    let delegate = |m: &mut Mesh, from: &KeyPair, to: &KeyPair| {
        m.submit(
            from,
            Operation::Delegate(DelegateOp {
                domain_id: domain.clone(),
                delegate: to.node_id().into(),
            }),
        )
    };
    delegate(&mut m, &v[0], &v[1]).unwrap();
    let a = delegate(&mut m, &v[1], &v[2]).unwrap();
    assert_eq!(
        a.events,
        vec![Event::DelegationSet {
            domain_id: domain.clone(),
            delegator: v[1].node_id().into(),
            delegate: v[2].node_id().into()
        }]
    );
    // v2 -> v0 would close the loop v2 -> v0 -> v1 -> v2.
    let e = delegate(&mut m, &v[2], &v[0]).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("loop"), "{e}");
    let chain = format!(
        "{} -> {} -> {} -> {}",
        v[2].node_id(),
        v[0].node_id(),
        v[1].node_id(),
        v[2].node_id()
    );
    assert!(e.message.contains(&chain), "{e}");
    assert_eq!(code(delegate(&mut m, &v[3], &v[3])), RejectCode::Forbidden);
    let outsider = m.hub(1);
    assert_eq!(
        code(delegate(&mut m, &v[3], &outsider)),
        RejectCode::NotMember
    );

    let id = ballot(&mut m, &v[3], "delegated");
    let frozen = m.state.ballot_delegations(&id).unwrap().clone();
    assert_eq!(frozen.len(), 2);
    // v2 votes for itself and, along the chain, for v1 and v0.
    vote_seq(&mut m, &v[2], &id, VoteChoice::Approve, 0).unwrap();
    let r = result(&m, &id);
    assert_eq!((r.approve_weight, r.total_votes), (3, 1));
    assert_eq!(r.delegated.unwrap().approve, 2);
    assert_eq!(m.status(&id), ProposalStatus::Voting, "{}", r.reason);
    // v0's own vote overrides its delegation for this proposal.
    vote_seq(&mut m, &v[0], &id, VoteChoice::Reject, 0).unwrap();
    let r = result(&m, &id);
    assert_eq!((r.approve_weight, r.reject_weight), (2, 1));
    // Revoking is open at any time; open proposals keep what they froze.
    let a = m
        .submit(
            &v[1],
            Operation::Undelegate(UndelegateOp {
                domain_id: domain.clone(),
            }),
        )
        .unwrap();
    assert!(matches!(a.events[0], Event::DelegationRevoked { .. }));
    assert_eq!(m.state.ballot_delegations(&id).unwrap(), &frozen);
    let none = m.submit(
        &v[4],
        Operation::Undelegate(UndelegateOp {
            domain_id: domain.clone(),
        }),
    );
    assert_eq!(code(none), RejectCode::Forbidden);
    let next = ballot(&mut m, &v[3], "after the revocation");
    assert_eq!(m.state.ballot_delegations(&next).unwrap().len(), 1);
    // Replay gives the same state.
    let mut fresh = State::new();
    for rec in &m.log {
        fresh.apply_record(rec).unwrap();
    }
    assert_eq!(fresh, m.state);
}

#[test]
fn a_policy_without_delegation_freezes_none() {
    let mut m = Mesh::new();
    let council = council(&m);
    let h1 = m.hub(1);
    m.submit(
        &m.hub(0),
        Operation::Delegate(DelegateOp {
            domain_id: council,
            delegate: h1.node_id().into(),
        }),
    )
    .unwrap();
    let id = m.propose(2, "11.0", "x");
    assert!(m.state.ballot_delegations(&id).unwrap().is_empty());
    m.vote(&h1, &id, VoteChoice::Approve).unwrap();
    assert_eq!(result(&m, &id).approve_weight, 1);
}

#[test]
fn a_timelock_holds_the_adoption_until_enacted_and_the_guardian_may_cancel() {
    let (mut m, v, _) = voting_mesh(policy(|p| p.timelock_secs = Some(3600)), 3);
    let adopt_one = |m: &mut Mesh, text: &str| {
        let id = ballot(m, &v[0], text);
        vote_seq(m, &v[0], &id, VoteChoice::Approve, 0).unwrap();
        let a = vote_seq(m, &v[1], &id, VoteChoice::Approve, 0).unwrap();
        (id, a)
    };
    let (id, a) = adopt_one(&mut m, "locked");
    let ends = m.now.plus_secs(3600);
    // A second adoption at the same time, to be cancelled.
    let (other, _) = adopt_one(&mut m, "cancelled");
    assert!(a.events.contains(&Event::ProposalQueued {
        proposal_id: id.clone(),
        effective_at: ends
    }));
    let p = m.state.proposal(&id).unwrap();
    assert_eq!(
        (p.status, p.timelock_ends, p.adopted_revision),
        (ProposalStatus::Adopted, Some(ends), None)
    );
    assert!(p.in_timelock());
    assert_eq!(m.state.contract("ballots").unwrap().revision, 1);
    let enact = |m: &mut Mesh, id: &str| {
        m.submit(
            &m.hub(2),
            Operation::Enact(EnactOp {
                proposal_id: id.into(),
            }),
        )
    };
    let cancel = |m: &mut Mesh, k: &KeyPair, id: &str| {
        m.submit(
            k,
            Operation::Cancel(CancelOp {
                proposal_id: id.into(),
                reason: Some("unsafe".into()),
            }),
        )
    };
    // Boundaries: enact one second early is too early; a witness is no guardian.
    m.now = Timestamp(ends.0 - 1000);
    assert_eq!(m.state.due_enactments(m.now), Vec::<String>::new());
    assert_eq!(code(enact(&mut m, &id)), RejectCode::TooEarly);
    let e = cancel(&mut m, &key(9), &id).unwrap_err();
    assert_eq!(e.code, RejectCode::NotPrivileged);
    assert!(e.message.contains("timelock_guardian_role"), "{e}");
    // A guardian hub cancels the second in the last second of its lock.
    let guardian = m.hub(2);
    let a = cancel(&mut m, &guardian, &other).unwrap();
    assert_eq!(
        a.events,
        vec![Event::ProposalCancelled {
            proposal_id: other.clone(),
            guardian: m.hub(2).node_id().into()
        }]
    );
    let p = m.state.proposal(&other).unwrap();
    assert_eq!(p.status, ProposalStatus::Rejected);
    assert_eq!(p.cancelled_by.as_deref(), Some(m.hub(2).node_id()));
    assert!(
        p.voting_result.reason.contains("unsafe"),
        "{}",
        p.voting_result.reason
    );
    assert_eq!(code(enact(&mut m, &other)), RejectCode::NotVoting);
    // The first one's lock is over: a guardian can no longer cancel; it takes effect.
    m.now = ends;
    assert_eq!(m.state.due_enactments(m.now), vec![id.clone()]);
    assert_eq!(code(cancel(&mut m, &guardian, &id)), RejectCode::NotVoting);
    let a = enact(&mut m, &id).unwrap();
    assert!(a.events.contains(&Event::ProposalAdopted {
        proposal_id: id.clone(),
        contract_id: "ballots".into(),
        revision: 2
    }));
    let p = m.state.proposal(&id).unwrap();
    assert_eq!((p.adopted_revision, p.enacted_at), (Some(2), Some(ends)));
    let rev = m.state.contract("ballots").unwrap();
    assert_eq!(rev.clause("1").unwrap().text, "locked");
    assert_eq!(rev.adopted_at, ends);
    let again = m.submit(
        &m.hub(1),
        Operation::Enact(EnactOp {
            proposal_id: id.clone(),
        }),
    );
    assert_eq!(code(again), RejectCode::NotVoting);
    assert!(m.state.due_enactments(Timestamp(i64::MAX)).is_empty());
}

#[test]
fn a_node_may_have_only_so_many_proposals_open() {
    let (mut m, v, _) = voting_mesh(policy(|p| p.max_open_proposals = Some(2)), 3);
    let first = ballot(&mut m, &v[0], "one");
    ballot(&mut m, &v[0], "two");
    let op = ballot_op(&mut m, "three");
    let e = m.submit(&v[0], Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("max_open_proposals 2"), "{e}");
    // Another node is not limited by v0's proposals; v0 is again once one is withdrawn.
    ballot(&mut m, &v[1], "other");
    m.submit(
        &v[0],
        Operation::Withdraw(WithdrawOp {
            proposal_id: first,
            reason: None,
        }),
    )
    .unwrap();
    ballot(&mut m, &v[0], "three");
}

#[test]
fn a_suspended_node_may_not_vote_propose_or_delegate_until_a_proposal_restores_it() {
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.hub(0), m.hub(1), m.hub(2));
    let id = m.propose(1, "11.0", "x");
    vote_seq(&mut m, &h0, &id, VoteChoice::Approve, 0).unwrap();
    let a = vote_seq(&mut m, &h0, &id, VoteChoice::Reject, 0).unwrap();
    assert!(
        matches!(&a.events[1], Event::NodeSuspended { node_id, .. } if node_id == h0.node_id())
    );
    let other = m.propose(1, "11.1", "y");
    for e in [
        vote_seq(&mut m, &h0, &other, VoteChoice::Approve, 0).unwrap_err(),
        {
            let op = m.clone_propose_op("11.0");
            m.submit(&h0, Operation::Propose(op)).unwrap_err()
        },
        m.submit(
            &h0,
            Operation::Delegate(DelegateOp {
                domain_id: council(&m),
                delegate: h1.node_id().into(),
            }),
        )
        .unwrap_err(),
    ] {
        assert_eq!(e.code, RejectCode::Suspended, "{e}");
        assert!(e.message.contains("restores its rights"), "{e}");
    }
    // Proposals opened while it is suspended do not count it as a voter.
    assert_eq!(result(&m, &other).eligible_weight, 2);
    // Restoring needs the rights of someone else, under clause 5.5.
    let mut op = m.clone_propose_op("5.5");
    op.restore_rights = Some(h1.node_id().into());
    assert_eq!(
        code(m.submit(&h1, Operation::Propose(op))),
        RejectCode::Forbidden
    );
    let mut op = m.clone_propose_op("5.5");
    op.restore_rights = Some(h0.node_id().into());
    let restore = op.proposal_id.clone();
    m.submit(&h1, Operation::Propose(op)).unwrap();
    m.vote(&h1, &restore, VoteChoice::Approve).unwrap();
    let a = m.vote(&h2, &restore, VoteChoice::Approve).unwrap();
    assert!(a.events.contains(&Event::RightsRestored {
        node_id: h0.node_id().into(),
        proposal_id: restore.clone()
    }));
    assert_eq!(m.state.node(h0.node_id()).unwrap().suspension, None);
    assert_eq!(
        m.state.contract("codex").unwrap().revision,
        1,
        "no revision"
    );
    let after = m.propose(1, "11.1", "z");
    assert_eq!(result(&m, &after).eligible_weight, 3);
    vote_seq(&mut m, &h0, &after, VoteChoice::Approve, 0).unwrap();
}

impl Mesh {
    /// A propose op that leaves `clause` as it is (text and rules).
    fn clone_propose_op(&mut self, clause: &str) -> ProposeOp {
        let text = self
            .state
            .contract("codex")
            .unwrap()
            .clause(clause)
            .unwrap()
            .text
            .clone();
        self.propose_op(clause, &text, vec![])
    }
}

fn fork_note(m: &Mesh, size: u64, root: &[u8], k: &KeyPair) -> String {
    use govmesh_core::checkpoint::Checkpoint;
    let origin = govmesh_core::seal::checkpoint_origin(&m.state.mesh_id().unwrap());
    Checkpoint {
        origin: origin.clone(),
        size,
        root: Digest::sha256(root),
        extensions: vec![],
    }
    .sign(&origin, k)
    .to_text()
}

#[test]
fn a_checkpoint_fork_signed_twice_by_one_hub_suspends_it_and_two_signers_suspend_nobody() {
    let mut m = Mesh::new();
    let w = key(9);
    let (h0, h1) = (m.hub(0), m.hub(1));
    let two = vec![fork_note(&m, 5, b"a", &h0), fork_note(&m, 5, b"b", &h1)];
    let a = m
        .submit(
            &w,
            Operation::Evidence(EvidenceOp {
                kind: EvidenceKind::CheckpointFork,
                notes: two,
            }),
        )
        .unwrap();
    assert_eq!(a.events.len(), 1, "{:?}", a.events);
    let one = vec![fork_note(&m, 6, b"a", &h1), fork_note(&m, 6, b"b", &h1)];
    let a = m
        .submit(
            &w,
            Operation::Evidence(EvidenceOp {
                kind: EvidenceKind::CheckpointFork,
                notes: one,
            }),
        )
        .unwrap();
    assert!(
        matches!(&a.events[1], Event::NodeSuspended { node_id, reason } if node_id == h1.node_id() && reason.contains("size 6"))
    );
    let id = m.propose(0, "11.0", "x");
    assert_eq!(
        code(m.vote(&h1, &id, VoteChoice::Approve)),
        RejectCode::Suspended
    );
}

#[test]
fn clause_5_5_suspension_and_guardian_rules_govern_after_adoption() {
    let mut m = Mesh::new();
    // A timelock on changes to clause 11.0, guarded by the witnesses; and equivocation
    // no longer suspends.
    adopt(
        &mut m,
        "5.5",
        vec![
            replace("/suspend_on_equivocation", json!(false)),
            replace("/timelock_guardian_role", json!("compliance_witness")),
            DiffOp {
                path: "/clause_voting_policies/11.0".into(),
                operation: PatchOperation::Add,
                value: json!({"timelock_secs": 600}),
            },
        ],
    );
    let h0 = m.hub(0);
    let id = m.propose(1, "11.0", "x");
    vote_seq(&mut m, &h0, &id, VoteChoice::Approve, 0).unwrap();
    let a = vote_seq(&mut m, &h0, &id, VoteChoice::Reject, 0).unwrap();
    assert_eq!(a.events.len(), 1, "no suspension: {:?}", a.events);
    let a = m.vote(&m.hub(1), &id, VoteChoice::Approve).unwrap();
    assert!(
        a.events
            .iter()
            .any(|e| matches!(e, Event::ProposalQueued { .. })),
        "{:?}",
        a.events
    );
    let cancel = |m: &mut Mesh, k: &KeyPair| {
        m.submit(
            k,
            Operation::Cancel(CancelOp {
                proposal_id: id.clone(),
                reason: None,
            }),
        )
    };
    let hub = m.hub(2);
    assert_eq!(code(cancel(&mut m, &hub)), RejectCode::NotPrivileged);
    cancel(&mut m, &key(9)).unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Rejected);
}
