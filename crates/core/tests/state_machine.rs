//! The governance state machine end to end: real Ed25519 keys, signed entries, the
//! Codex genesis, proposals through votes to adoption or rejection, and every refusal
//! leaving the state exactly as it was.

use govmesh_core::Timestamp;
use govmesh_core::codex::codex_genesis;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{
    CloseOp, DomainSpec, LogRecord, NodeSpec, Operation, ProposeOp, UpdateNodeOp, VoteOp,
    WithdrawOp, sign_entry, sign_entry_at,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{
    Changes, DiffOp, NodeStatus, NodeType, PatchOperation, Privilege, ProposalStatus, VoteChoice,
};
use govmesh_core::state::{Applied, Event, RejectCode, Rejection, State};
use serde_json::{Value, json};

mod replay;
mod voting;

const T0: i64 = 1_764_154_800_000;

/// A mesh under test: keys, the state, and the log of accepted records.
struct Mesh {
    hubs: Vec<KeyPair>,
    state: State,
    log: Vec<LogRecord>,
    now: Timestamp,
    next_id: u32,
}

fn key(seed: u8) -> KeyPair {
    KeyPair::from_seed([seed; 32])
}

fn spec(k: &KeyPair, node_type: NodeType) -> NodeSpec {
    NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type,
        public_key: k.public(),
        network_address: None,
        display_name: None,
        node_policy_capabilities: Vec::new(),
    }
}

fn snapshot(s: &State) -> String {
    serde_json::to_string(s).expect("state serializes")
}

impl Mesh {
    /// Three founding hubs (seeds 1, 2, 3) and one founding witness (seed 9).
    fn new() -> Mesh {
        Mesh::with_genesis(|_| {})
    }

    /// [`Mesh::new`] with the Codex genesis changed by `edit` first.
    fn with_genesis(edit: impl FnOnce(&mut govmesh_core::entry::GenesisOp)) -> Mesh {
        let hubs: Vec<KeyPair> = (1..=3).map(key).collect();
        let mut founders: Vec<NodeSpec> = hubs
            .iter()
            .map(|k| spec(k, NodeType::GovernanceHub))
            .collect();
        founders.push(spec(&key(9), NodeType::ComplianceWitness));
        let mut genesis = codex_genesis("test-mesh", founders);
        edit(&mut genesis);
        let mut m = Mesh {
            hubs,
            state: State::new(),
            log: Vec::new(),
            now: Timestamp(T0),
            next_id: 1,
        };
        let env = sign_entry(&m.hubs[0], Operation::Genesis(genesis));
        m.submit_env(&env).expect("genesis applies");
        m
    }

    /// Applies an envelope now; on refusal checks the state did not change.
    fn submit_env(&mut self, env: &Envelope) -> Result<Applied, Rejection> {
        let before = snapshot(&self.state);
        let index = self.state.size();
        match self.state.apply(env, self.now) {
            Ok(a) => {
                assert_eq!(a.index, index);
                assert_eq!(self.state.size(), index + 1);
                self.log.push(LogRecord {
                    index,
                    timestamp: self.now,
                    envelope: env.clone(),
                });
                Ok(a)
            }
            Err(e) => {
                assert_eq!(
                    snapshot(&self.state),
                    before,
                    "state changed by a refused entry: {e}"
                );
                Err(e)
            }
        }
    }

    fn submit(&mut self, k: &KeyPair, op: Operation) -> Result<Applied, Rejection> {
        self.submit_env(&sign_entry_at(k, op, self.now))
    }

    fn hub(&self, i: usize) -> KeyPair {
        self.hubs[i].clone()
    }

    fn advance(&mut self, secs: u64) {
        self.now = self.now.plus_secs(secs);
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        let bytes = match u8::try_from(self.next_id) {
            Ok(n) => [n; 16],
            Err(_) => {
                let mut b = [0xa5; 16];
                b[..4].copy_from_slice(&self.next_id.to_le_bytes());
                b
            }
        };
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A propose op against the current clause.
    fn propose_op(&mut self, clause: &str, text: &str, diff: Vec<DiffOp>) -> ProposeOp {
        let c = self
            .state
            .contract("codex")
            .unwrap()
            .clause(clause)
            .unwrap()
            .clone();
        ProposeOp {
            proposal_id: self.fresh_id(),
            contract_id: "codex".into(),
            target_contract_clause: clause.into(),
            base_clause_hash: c.hash().unwrap(),
            domain_id: None,
            rationale: format!("test change of {clause}"),
            changes: Changes {
                current_text: c.text.clone(),
                proposed_text: text.into(),
                diff,
            },
            voting_period_secs: None,
            create_contract: None,
            governance_scope: None,
            local_node: None,
            conflict_resolution: None,
            expedited: false,
            restore_rights: None,
        }
    }

    /// Proposes a text change of `clause` as hub `by`; returns the proposal id.
    fn propose(&mut self, by: usize, clause: &str, text: &str) -> String {
        let op = self.propose_op(clause, text, Vec::new());
        let id = op.proposal_id.clone();
        let k = self.hub(by);
        self.submit(&k, Operation::Propose(op)).expect("propose");
        id
    }

    fn vote(&mut self, by: &KeyPair, id: &str, choice: VoteChoice) -> Result<Applied, Rejection> {
        self.submit(
            by,
            Operation::Vote(VoteOp {
                proposal_id: id.into(),
                choice,
                reason: None,
                sequence: 0,
            }),
        )
    }

    fn status(&self, id: &str) -> ProposalStatus {
        self.state.proposal(id).unwrap().status
    }
}

fn code(r: Result<Applied, Rejection>) -> RejectCode {
    match r {
        Ok(a) => panic!("expected a refusal, got {a:?}"),
        Err(e) => e.code,
    }
}

#[test]
fn lifecycle_early_adoption_creates_revision_two() {
    let mut m = Mesh::new();
    assert_eq!(m.state.size(), 1);
    assert!(m.state.mesh_id().is_some());
    assert_eq!(m.state.mesh_name(), Some("test-mesh"));
    let rev1 = m.state.contract("codex").unwrap().clone();
    assert_eq!(rev1.revision, 1);
    assert_eq!(rev1.contract_hash, rev1.compute_hash().unwrap());

    m.advance(10);
    let id = m.propose(0, "11.0", "The log is append-only, and that is that.");
    let p = m.state.proposal(&id).unwrap();
    assert_eq!(p.status, ProposalStatus::Voting);
    assert_eq!(p.voting_result.eligible_weight, 3);
    assert_eq!(p.voting_ends, p.voting_starts.plus_secs(604_800));
    assert_eq!(p.phase_id, "5.5");
    assert_eq!(p.governance_scope, "federated");

    m.advance(10);
    let a = m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
    assert_eq!(a.events.len(), 1, "one approve of three decides nothing");
    assert_eq!(m.status(&id), ProposalStatus::Voting);
    m.advance(10);
    let a = m.vote(&m.hub(1), &id, VoteChoice::Approve).unwrap();
    assert!(
        a.events.contains(&Event::ProposalAdopted {
            proposal_id: id.clone(),
            contract_id: "codex".into(),
            revision: 2
        }),
        "{:?}",
        a.events
    );
    let p = m.state.proposal(&id).unwrap();
    assert_eq!(p.status, ProposalStatus::Adopted);
    assert_eq!(p.adopted_revision, Some(2));
    assert_eq!(p.voting_result.approve_weight, 2);
    assert_eq!(p.voting_result.outcome, Some(ProposalStatus::Adopted));
    assert_eq!(p.attestation_hashes.len(), 3);
    let rev2 = m.state.contract("codex").unwrap();
    assert_eq!(rev2.revision, 2);
    assert_eq!(rev2.parent_hash, Some(rev1.contract_hash));
    assert_eq!(rev2.adopted_by_proposal.as_deref(), Some(id.as_str()));
    assert_eq!(rev2.contract_hash, rev2.compute_hash().unwrap());
    assert_eq!(
        rev2.clause("11.0").unwrap().text,
        "The log is append-only, and that is that."
    );
    assert_eq!(m.state.revisions("codex").len(), 2);
    assert_eq!(m.state.revision("codex", 1), Some(&rev1));
    // The third hub can no longer vote: the proposal is decided.
    m.advance(10);
    assert_eq!(
        code(m.vote(&m.hub(2), &id, VoteChoice::Reject)),
        RejectCode::NotVoting
    );
}

/// Hub 0 registers a new node of `node_type` from `seed`.
fn register(m: &mut Mesh, seed: u8, node_type: NodeType) -> KeyPair {
    let k = key(seed);
    let h = m.hub(0);
    m.submit(&h, Operation::RegisterNode(spec(&k, node_type)))
        .expect("register_node");
    k
}

fn council(m: &Mesh) -> String {
    m.state
        .governance_rules()
        .unwrap()
        .default_domain_id
        .clone()
}

#[test]
fn early_rejection_by_reject_votes() {
    let mut m = Mesh::new();
    let id = m.propose(0, "11.0", "new text");
    m.vote(&m.hub(0), &id, VoteChoice::Reject).unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Voting);
    let a = m.vote(&m.hub(1), &id, VoteChoice::Reject).unwrap();
    assert!(
        matches!(&a.events[1], Event::ProposalRejected { proposal_id, reason }
            if *proposal_id == id && reason.starts_with("threshold not met")),
        "{:?}",
        a.events
    );
    assert_eq!(m.status(&id), ProposalStatus::Rejected);
    assert_eq!(m.state.contract("codex").unwrap().revision, 1);
    assert!(m.state.due_closes(Timestamp(i64::MAX)).is_empty());
}

#[test]
fn veto_overrides_an_approving_majority_at_close() {
    let mut m = Mesh::new();
    let id = m.propose(0, "11.0", "new text");
    m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
    m.vote(&m.hub(1), &id, VoteChoice::Veto).unwrap();
    assert_eq!(
        m.status(&id),
        ProposalStatus::Voting,
        "hub 2 could still tip it"
    );
    let ends = m.state.proposal(&id).unwrap().voting_ends;
    assert!(m.state.due_closes(ends.plus_secs(0)).contains(&id));
    assert!(m.state.due_closes(Timestamp(ends.0 - 1)).is_empty());
    m.now = ends;
    let a = m
        .submit(
            &m.hub(2),
            Operation::Close(CloseOp {
                proposal_id: id.clone(),
                track: None,
            }),
        )
        .unwrap();
    let p = m.state.proposal(&id).unwrap();
    assert_eq!(p.status, ProposalStatus::Rejected);
    assert!(
        p.voting_result.reason.starts_with("vetoed"),
        "{}",
        p.voting_result.reason
    );
    assert!(p.voting_result.quorum_reached);
    assert_eq!(p.attestation_hashes.len(), 4, "propose, two votes, close");
    assert!(matches!(&a.events[0], Event::ProposalRejected { .. }));
}

#[test]
fn quorum_failure_at_close_and_too_early_close() {
    let mut m = Mesh::new();
    let id = m.propose(0, "11.0", "new text");
    m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
    let close = Operation::Close(CloseOp {
        proposal_id: id.clone(),
        track: None,
    });
    m.advance(604_799);
    assert_eq!(
        code(m.submit(&m.hub(1), close.clone())),
        RejectCode::TooEarly
    );
    m.advance(1);
    // Votes after the end are refused even before the close entry.
    assert_eq!(
        code(m.vote(&m.hub(1), &id, VoteChoice::Approve)),
        RejectCode::NotVoting
    );
    m.submit(&m.hub(1), close.clone()).unwrap();
    let p = m.state.proposal(&id).unwrap();
    assert_eq!(p.status, ProposalStatus::Rejected);
    assert!(!p.voting_result.quorum_reached);
    assert!(
        p.voting_result.reason.starts_with("quorum not reached"),
        "{}",
        p.voting_result.reason
    );
    // Closing twice is refused.
    assert_eq!(code(m.submit(&m.hub(2), close)), RejectCode::NotVoting);
}

#[test]
fn withdraw_only_by_the_proposer_while_voting() {
    let mut m = Mesh::new();
    let late = m.propose(1, "11.1", "too late to withdraw");
    let id = m.propose(1, "11.0", "new text");
    let w = |reason: Option<&str>| {
        Operation::Withdraw(WithdrawOp {
            proposal_id: id.clone(),
            reason: reason.map(str::to_owned),
        })
    };
    assert_eq!(code(m.submit(&m.hub(0), w(None))), RejectCode::Forbidden);
    let a = m.submit(&m.hub(1), w(Some("changed my mind"))).unwrap();
    assert_eq!(
        a.events,
        vec![Event::ProposalWithdrawn {
            proposal_id: id.clone()
        }]
    );
    assert_eq!(m.status(&id), ProposalStatus::Withdrawn);
    assert_eq!(code(m.submit(&m.hub(1), w(None))), RejectCode::NotVoting);
    assert_eq!(
        code(m.vote(&m.hub(0), &id, VoteChoice::Approve)),
        RejectCode::NotVoting
    );
    assert_eq!(m.state.due_closes(Timestamp(i64::MAX)), vec![late.clone()]);
    let unknown = Operation::Withdraw(WithdrawOp {
        proposal_id: m.fresh_id(),
        reason: None,
    });
    assert_eq!(
        code(m.submit(&m.hub(1), unknown)),
        RejectCode::UnknownProposal
    );
    // Once the period is over only the tally decides.
    m.advance(604_800);
    let too_late = Operation::Withdraw(WithdrawOp {
        proposal_id: late.clone(),
        reason: None,
    });
    assert_eq!(code(m.submit(&m.hub(1), too_late)), RejectCode::NotVoting);
    assert_eq!(m.state.due_closes(m.now), vec![late]);
}

#[test]
fn forged_and_tampered_signatures_are_refused() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut m = Mesh::new();
    let op = m.propose_op("11.0", "x", Vec::new());
    let env = sign_entry_at(&m.hub(0), Operation::Propose(op.clone()), m.now);

    let mut forged = env.clone();
    let mut sig = STANDARD.decode(&forged.signatures[0].sig).unwrap();
    sig[10] ^= 0x40;
    forged.signatures[0].sig = STANDARD.encode(&sig);
    assert_eq!(code(m.submit_env(&forged)), RejectCode::BadSignature);

    // Same signature over a different payload (another proposal id).
    let mut other = op.clone();
    other.proposal_id = m.fresh_id();
    let mut swapped = sign_entry_at(&m.hub(0), Operation::Propose(other), m.now);
    swapped.signatures = env.signatures.clone();
    assert_eq!(code(m.submit_env(&swapped)), RejectCode::BadSignature);

    let mut garbage = env.clone();
    garbage.signatures[0].sig = "not base64!".into();
    assert_eq!(code(m.submit_env(&garbage)), RejectCode::BadSignature);

    m.submit_env(&env).unwrap();
}

#[test]
fn unknown_signer_and_key_mismatch() {
    let mut m = Mesh::new();
    let op = m.propose_op("11.0", "x", Vec::new());
    // A key nobody registered, acting as itself.
    let stranger = key(50);
    assert_eq!(
        code(m.submit(&stranger, Operation::Propose(op.clone()))),
        RejectCode::UnknownSigner
    );
    // A stranger's key claiming to be hub 0.
    let impostor = key(50).with_node_id(m.hub(0).node_id().to_owned());
    let e = m
        .submit(&impostor, Operation::Propose(op.clone()))
        .unwrap_err();
    assert_eq!(e.code, RejectCode::UnknownSigner);
    assert!(e.message.contains("key id"), "{e}");
    // Hub 1's real key claiming to be hub 0.
    let other_hub = m.hub(1).with_node_id(m.hub(0).node_id().to_owned());
    assert_eq!(
        code(m.submit(&other_hub, Operation::Propose(op))),
        RejectCode::UnknownSigner
    );
}

#[test]
fn malformed_envelopes_and_payloads() {
    use govmesh_core::dsse::ENTRY_PAYLOAD_TYPE;
    let mut m = Mesh::new();
    let op = m.propose_op("11.0", "x", Vec::new());
    let env = sign_entry_at(&m.hub(0), Operation::Propose(op), m.now);

    let mut t = env.clone();
    t.payload_type = "application/json".into();
    assert_eq!(code(m.submit_env(&t)), RejectCode::Malformed);

    let mut t = env.clone();
    t.signatures.push(t.signatures[0].clone());
    assert_eq!(code(m.submit_env(&t)), RejectCode::Malformed);

    let mut t = env.clone();
    t.signatures.clear();
    assert_eq!(code(m.submit_env(&t)), RejectCode::Malformed);

    let mut t = env.clone();
    t.payload = "%%%".into();
    assert_eq!(code(m.submit_env(&t)), RejectCode::Malformed);

    // Duplicate keys are refused before anything else looks at the payload.
    let dup = format!(
        r#"{{"author":"{}","author":"x","type":"close","proposal_id":"p"}}"#,
        m.hub(0).node_id()
    );
    let t = Envelope::sign(ENTRY_PAYLOAD_TYPE, dup.as_bytes(), &m.hub(0));
    assert_eq!(code(m.submit_env(&t)), RejectCode::Malformed);

    // Well-formed JSON that is no entry.
    let body = json!({"author": m.hub(0).node_id(), "type": "teleport"});
    let t = Envelope::sign(ENTRY_PAYLOAD_TYPE, body.to_string().as_bytes(), &m.hub(0));
    assert_eq!(code(m.submit_env(&t)), RejectCode::Schema);
    let t = Envelope::sign(ENTRY_PAYLOAD_TYPE, b"[1,2,3]", &m.hub(0));
    assert_eq!(code(m.submit_env(&t)), RejectCode::Schema);
}

#[test]
fn non_members_and_unprivileged_roles_cannot_vote() {
    let mut m = Mesh::new();
    let id = m.propose(0, "11.0", "x");
    // A registered, active hub outside the council domain.
    let outsider = register(&mut m, 40, NodeType::GovernanceHub);
    let e = m.vote(&outsider, &id, VoteChoice::Approve).unwrap_err();
    assert_eq!(e.code, RejectCode::NotMember, "{e}");
    // ... nor propose there.
    let op = m.propose_op("11.0", "y", Vec::new());
    assert_eq!(
        code(m.submit(&outsider, Operation::Propose(op))),
        RejectCode::NotMember
    );
    // The founding witness has no voting privilege.
    let witness = key(9);
    let e = m.vote(&witness, &id, VoteChoice::Approve).unwrap_err();
    assert_eq!(e.code, RejectCode::NotPrivileged);
    assert!(
        e.message.contains("compliance_witness") && e.message.contains("can_vote_on_proposal"),
        "{e}"
    );
    // Unknown proposal.
    let nope = m.fresh_id();
    assert_eq!(
        code(m.vote(&m.hub(0), &nope, VoteChoice::Approve)),
        RejectCode::UnknownProposal
    );
}

#[test]
fn the_council_domain_cannot_be_redefined_and_no_other_domain_decides_the_codex() {
    // Regression: any hub may define domains, so a domain of one (or a redefined
    // council) must not be able to decide changes to the governing contract.
    let mut m = Mesh::new();
    let council_id = council(&m);
    let d = m.state.domain(&council_id).unwrap().clone();
    let mut spec = DomainSpec {
        domain_id: d.domain_id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        admin_node_id: d.admin_node_id.clone(),
        member_nodes: vec![m.hub(0).node_id().to_owned()],
        shared_clauses: d.shared_clauses.clone(),
        local_overrides: d.local_overrides.clone(),
        contract_id: None,
        policy: d.policy.clone(),
        clause_policies: d.clause_policies.clone(),
    };
    let before = serde_json::to_value(&m.state).unwrap();
    let e = m
        .submit(&m.hub(0), Operation::DefineDomain(spec.clone()))
        .unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("council domain"), "{e}");
    assert_eq!(serde_json::to_value(&m.state).unwrap(), before);

    // A domain of one may exist, but it decides nothing in the codex.
    spec.domain_id = m.fresh_id();
    spec.name = "solo".into();
    m.submit(&m.hub(0), Operation::DefineDomain(spec.clone()))
        .unwrap();
    let mut op = m.propose_op("11.0", "x", Vec::new());
    op.domain_id = Some(spec.domain_id.clone());
    let e = m.submit(&m.hub(0), Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("decided by the council domain"), "{e}");
}

#[test]
fn replay_is_refused_and_equivocation_is_kept_as_evidence() {
    let mut m = Mesh::new();
    // Without the suspension (its own test is in voting.rs), the evidence path alone.
    adopt(
        &mut m,
        "5.5",
        vec![replace("/suspend_on_equivocation", json!(false))],
    );
    let id = m.propose(0, "11.0", "x");
    let first = sign_entry_at(
        &m.hub(0),
        Operation::Vote(VoteOp {
            proposal_id: id.clone(),
            choice: VoteChoice::Approve,
            reason: None,
            sequence: 0,
        }),
        m.now,
    );
    let first_applied = m.submit_env(&first).unwrap();
    assert_eq!(code(m.submit_env(&first)), RejectCode::Replay);
    // The same vote with a reason is a different entry; same choice + reason is a replay.
    let second = Operation::Vote(VoteOp {
        proposal_id: id.clone(),
        choice: VoteChoice::Reject,
        reason: Some("on second thoughts".into()),
        sequence: 0,
    });
    let a = m.submit(&m.hub(0), second.clone()).unwrap();
    assert_eq!(
        a.events,
        vec![Event::EquivocationRecorded {
            proposal_id: id.clone(),
            voter: m.hub(0).node_id().to_owned()
        }]
    );
    assert_eq!(code(m.submit(&m.hub(0), second)), RejectCode::Replay);
    // Issue 16: one piece of evidence per voter and proposal; a third, differing vote
    // (40 of them were each appended before) is refused, naming the evidence.
    for n in 0..3 {
        let third = Operation::Vote(VoteOp {
            proposal_id: id.clone(),
            choice: VoteChoice::Abstain,
            reason: Some(format!("third thoughts {n}")),
            sequence: 0,
        });
        let size = m.log.len();
        let e = m.submit(&m.hub(0), third).unwrap_err();
        assert_eq!(e.code, RejectCode::AlreadyEquivocated, "{e}");
        assert!(e.message.contains("already equivocated"), "{e}");
        assert!(e.message.contains(&a.entry_hash.to_string()), "{e}");
        assert_eq!(m.log.len(), size);
    }
    let ev = m.state.equivocations();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].first_entry, first_applied.entry_hash);
    assert_eq!(ev[0].second_entry, a.entry_hash);
    assert_eq!(ev[0].second_index, a.index);
    // The first vote stands; the second is not counted.
    let r = &m.state.proposal(&id).unwrap().voting_result;
    assert_eq!((r.approve_votes, r.reject_votes, r.total_votes), (1, 0, 1));
    assert_eq!(m.state.votes(&id).len(), 1);
    assert_eq!(m.state.votes(&id)[0].choice, VoteChoice::Approve);
    // A replayed genesis is a genesis error.
    let g = m.log[0].envelope.clone();
    assert_eq!(code(m.submit_env(&g)), RejectCode::Genesis);
}

#[test]
fn adoption_rejects_other_proposals_on_the_clause_as_stale() {
    let mut m = Mesh::new();
    let a = m.propose(0, "11.0", "text A");
    let b = m.propose(1, "11.0", "text B");
    let other_clause = m.propose(2, "11.1", "text C");
    // Written against the same base but not yet submitted.
    let late = m.propose_op("11.0", "text D", Vec::new());
    m.vote(&m.hub(0), &a, VoteChoice::Approve).unwrap();
    let applied = m.vote(&m.hub(1), &a, VoteChoice::Approve).unwrap();
    assert!(
        applied.events.iter().any(|e| matches!(e,
            Event::ProposalRejected { proposal_id, reason }
                if *proposal_id == b && reason.starts_with("stale_base"))),
        "{:?}",
        applied.events
    );
    assert_eq!(m.status(&a), ProposalStatus::Adopted);
    assert_eq!(m.status(&b), ProposalStatus::Rejected);
    assert!(
        m.state
            .proposal(&b)
            .unwrap()
            .voting_result
            .reason
            .starts_with("stale_base")
    );
    // Other clauses do not conflict.
    assert_eq!(m.status(&other_clause), ProposalStatus::Voting);
    // A proposal written against the old hash is refused outright.
    let e = m.submit(&m.hub(2), Operation::Propose(late)).unwrap_err();
    assert_eq!(e.code, RejectCode::StaleBase, "{e}");
    // Right hash, wrong current text.
    let mut wrong_text = m.propose_op("11.0", "text E", Vec::new());
    wrong_text.changes.current_text = "text B".into();
    assert_eq!(
        code(m.submit(&m.hub(2), Operation::Propose(wrong_text))),
        RejectCode::StaleBase
    );
    // A fresh proposal on the new base is fine, and the other clause can still adopt.
    m.propose(2, "11.0", "text F");
    m.vote(&m.hub(0), &other_clause, VoteChoice::Approve)
        .unwrap();
    m.vote(&m.hub(1), &other_clause, VoteChoice::Approve)
        .unwrap();
    let c = m.state.contract("codex").unwrap();
    assert_eq!(c.revision, 3);
    assert_eq!(c.clause("11.0").unwrap().text, "text A");
    assert_eq!(c.clause("11.1").unwrap().text, "text C");
    assert_eq!(
        c.parent_hash,
        Some(m.state.revision("codex", 2).unwrap().contract_hash)
    );
}

#[test]
fn clause_5_5_needs_two_thirds_and_a_removed_privilege_is_enforced_next_entry() {
    let mut m = Mesh::new();
    let diff = vec![DiffOp {
        path: "/role_privileges/governance_hub".into(),
        operation: PatchOperation::Replace,
        value: json!(["can_vote_on_proposal", "can_override_policy"]),
    }];
    let current = m
        .state
        .contract("codex")
        .unwrap()
        .clause("5.5")
        .unwrap()
        .text
        .clone();
    let op = m.propose_op("5.5", &current, diff);
    let id = op.proposal_id.clone();
    m.submit(&m.hub(0), Operation::Propose(op)).unwrap();
    assert_eq!(m.state.voting_policy(&id).unwrap().threshold, 0.667);
    m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
    m.vote(&m.hub(1), &id, VoteChoice::Approve).unwrap();
    assert_eq!(
        m.status(&id),
        ProposalStatus::Voting,
        "2 of 3 is not above 0.667: the third vote decides"
    );
    // Hub 2 can still propose before the change is adopted.
    m.propose(2, "11.0", "before");
    m.vote(&m.hub(2), &id, VoteChoice::Approve).unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Adopted);
    let hub0 = m.state.node(m.hub(0).node_id()).unwrap();
    assert_eq!(
        hub0.privileges,
        vec![Privilege::CanVoteOnProposal, Privilege::CanOverridePolicy]
    );
    // The very next propose is refused under the new revision.
    let op = m.propose_op("11.0", "after", Vec::new());
    let e = m.submit(&m.hub(2), Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::NotPrivileged);
    assert!(e.message.contains("can_propose_policy"), "{e}");
}

#[test]
fn patches_that_do_not_apply_or_break_clause_5_5_are_refused() {
    let mut m = Mesh::new();
    let bad = vec![DiffOp {
        path: "/no/such/member".into(),
        operation: PatchOperation::Replace,
        value: json!(1),
    }];
    let op = m.propose_op("11.0", "x", bad);
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::BadPatch
    );
    let breaks = vec![DiffOp {
        path: "/role_privileges".into(),
        operation: PatchOperation::Remove,
        value: Value::Null,
    }];
    let op = m.propose_op("5.5", "x", breaks);
    let e = m.submit(&m.hub(0), Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::BadPatch);
    assert!(e.message.contains("role_privileges"), "{e}");
    let out_of_range = vec![DiffOp {
        path: "/default_voting_policy/quorum".into(),
        operation: PatchOperation::Replace,
        value: json!(2),
    }];
    let op = m.propose_op("5.5", "x", out_of_range);
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::BadPatch
    );
    // A patch that applies changes the rules on adoption.
    let good = vec![DiffOp {
        path: "/voting_period_bounds/min_secs".into(),
        operation: PatchOperation::Replace,
        value: json!(120),
    }];
    let text = m
        .state
        .contract("codex")
        .unwrap()
        .clause("5.5")
        .unwrap()
        .text
        .clone();
    let op = m.propose_op("5.5", &text, good);
    let id = op.proposal_id.clone();
    m.submit(&m.hub(0), Operation::Propose(op)).unwrap();
    for i in 0..3 {
        m.vote(&m.hub(i), &id, VoteChoice::Approve).unwrap();
    }
    assert_eq!(m.status(&id), ProposalStatus::Adopted);
    assert_eq!(
        m.state
            .governance_rules()
            .unwrap()
            .voting_period_bounds
            .min_secs,
        120
    );
    let mut op = m.propose_op("11.0", "x", Vec::new());
    op.voting_period_secs = Some(90);
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::Forbidden
    );
}

#[test]
fn proposal_rules_unknown_targets_and_periods() {
    let mut m = Mesh::new();
    let mut op = m.propose_op("11.0", "x", Vec::new());
    op.contract_id = "nope".into();
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::UnknownContract
    );
    let mut op = m.propose_op("11.0", "x", Vec::new());
    op.target_contract_clause = "99.9".into();
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::UnknownClause
    );
    let mut op = m.propose_op("11.0", "x", Vec::new());
    op.domain_id = Some(m.fresh_id());
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::UnknownDomain
    );
    for (secs, ok) in [
        (59, false),
        (60, true),
        (7_776_000, true),
        (7_776_001, false),
    ] {
        let mut op = m.propose_op("11.0", "x", Vec::new());
        op.voting_period_secs = Some(secs);
        let r = m.submit(&m.hub(0), Operation::Propose(op.clone()));
        if ok {
            r.unwrap();
            let p = m.state.proposal(&op.proposal_id).unwrap();
            assert_eq!(p.voting_ends, p.voting_starts.plus_secs(secs));
            // The same id again is a duplicate.
            assert_eq!(
                code(m.submit(&m.hub(1), Operation::Propose(op))),
                RejectCode::Duplicate
            );
        } else {
            assert_eq!(code(r), RejectCode::Forbidden, "period {secs}");
        }
    }
    let mut op = m.propose_op("11.0", "x", Vec::new());
    op.proposal_id = "4".repeat(36);
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::Propose(op))),
        RejectCode::Schema
    );
}

#[test]
fn domain_definition_and_redefinition_by_admin() {
    let mut m = Mesh::new();
    let witness = key(9);
    let domain_id = m.fresh_id();
    let mut d = DomainSpec {
        domain_id: domain_id.clone(),
        name: "heavy".into(),
        description: String::new(),
        admin_node_id: witness.node_id().to_owned(),
        member_nodes: m.hubs.iter().map(|k| k.node_id().to_owned()).collect(),
        shared_clauses: Vec::new(),
        local_overrides: Default::default(),
        contract_id: None,
        policy: Default::default(),
        clause_policies: Default::default(),
    };
    d.policy.weights = Some([(m.hub(2).node_id().to_owned(), 3)].into());
    // The witness may not create domains...
    assert_eq!(
        code(m.submit(&witness, Operation::DefineDomain(d.clone()))),
        RejectCode::NotPrivileged
    );
    m.submit(&m.hub(0), Operation::DefineDomain(d.clone()))
        .unwrap();
    // ... but as its admin it may redefine this one.
    d.description = "hub 2 weighs three".into();
    m.submit(&witness, Operation::DefineDomain(d.clone()))
        .unwrap();
    assert_eq!(
        m.state.domain(&domain_id).unwrap().description,
        "hub 2 weighs three"
    );
    let mut bad = d.clone();
    bad.member_nodes.push(key(77).node_id().to_owned());
    assert_eq!(
        code(m.submit(&witness, Operation::DefineDomain(bad))),
        RejectCode::UnknownNode
    );
    let mut bad = d;
    bad.policy.quorum = Some(1.5);
    assert_eq!(
        code(m.submit(&witness, Operation::DefineDomain(bad))),
        RejectCode::Schema
    );
}

#[test]
fn vote_weights_from_clause_5_5_are_tallied() {
    // Weights are contract policy: set by a clause 5.5 change (which needs all three
    // hubs at threshold 0.667), then applied to every later proposal.
    let mut m = Mesh::new();
    let heavy = m.hub(2).node_id().to_owned();
    let diff = vec![DiffOp {
        path: "/default_voting_policy/weights".into(),
        operation: PatchOperation::Add,
        value: json!({ heavy.clone(): 3 }),
    }];
    let op = m.propose_op("5.5", "Hub 2 weighs three.", diff);
    let id = op.proposal_id.clone();
    m.submit(&m.hub(0), Operation::Propose(op)).unwrap();
    for i in 0..3 {
        m.vote(&m.hub(i), &id, VoteChoice::Approve).unwrap();
    }
    assert_eq!(m.status(&id), ProposalStatus::Adopted);

    let id = m.propose(0, "11.0", "x");
    assert_eq!(
        m.state.proposal(&id).unwrap().voting_result.eligible_weight,
        5
    );
    m.vote(&m.hub(2), &id, VoteChoice::Approve).unwrap();
    // 3 of 5 approve: the other two rejecting gives 3/5 > 0.5, vetoing gives 2/5 >= 0.334.
    assert_eq!(m.status(&id), ProposalStatus::Voting);
    m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Adopted);
    assert_eq!(m.state.votes(&id)[0].weight, 3);
}

#[test]
fn node_registry_rules() {
    let mut m = Mesh::new();
    let witness = key(9);
    let k = key(30);
    let s = spec(&k, NodeType::TrustFork);
    assert_eq!(
        code(m.submit(&witness, Operation::RegisterNode(s.clone()))),
        RejectCode::NotPrivileged
    );
    m.submit(&m.hub(0), Operation::RegisterNode(s.clone()))
        .unwrap();
    let rec = m.state.node(k.node_id()).unwrap();
    assert_eq!(rec.status, NodeStatus::Active);
    assert_eq!(rec.registered_by, m.hub(0).node_id());
    assert!(rec.privileges.is_empty());
    assert_eq!(
        code(m.submit(&m.hub(1), Operation::RegisterNode(s.clone()))),
        RejectCode::Duplicate
    );
    let mut same_key = s.clone();
    same_key.node_id = m.fresh_id();
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::RegisterNode(same_key))),
        RejectCode::Duplicate
    );
    // The identity point is a valid encoding but no usable key.
    let mut weak = spec(&key(32), NodeType::TrustFork);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    weak.public_key = govmesh_core::keys::PublicKey::from_bytes(&identity).unwrap();
    let e = m
        .submit(&m.hub(0), Operation::RegisterNode(weak))
        .unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden, "{e}");
    let mut upper = spec(&key(31), NodeType::TrustFork);
    upper.node_id = upper.node_id.to_uppercase();
    assert_eq!(
        code(m.submit(&m.hub(0), Operation::RegisterNode(upper))),
        RejectCode::Schema
    );

    // A node moves itself without privilege, but may not change its own status.
    let upd = |node: &KeyPair, status, addr: Option<&str>| {
        Operation::UpdateNode(UpdateNodeOp {
            node_id: node.node_id().to_owned(),
            status,
            network_address: addr.map(str::to_owned),
            public_key: None,
            key_proof: None,
        })
    };
    m.submit(&k, upd(&k, None, Some("10.0.0.5:7000"))).unwrap();
    assert_eq!(
        m.state
            .node(k.node_id())
            .unwrap()
            .network_address
            .as_deref(),
        Some("10.0.0.5:7000")
    );
    assert_eq!(m.state.node(k.node_id()).unwrap().last_seen, Some(m.now));
    assert_eq!(
        code(m.submit(&k, upd(&k, Some(NodeStatus::Inactive), None))),
        RejectCode::NotPrivileged
    );
    assert_eq!(
        code(m.submit(&k, upd(&witness, None, Some("x")))),
        RejectCode::NotPrivileged
    );
    assert_eq!(
        code(m.submit(&m.hub(0), upd(&key(99), None, Some("x")))),
        RejectCode::UnknownNode
    );
    assert_eq!(
        code(m.submit(&m.hub(0), upd(&k, None, None))),
        RejectCode::Forbidden
    );

    // Suspending hub 2 stops it at the next entry.
    let hub2 = m.hub(2);
    m.submit(&m.hub(0), upd(&hub2, Some(NodeStatus::Suspended), None))
        .unwrap();
    let op = m.propose_op("11.0", "x", Vec::new());
    assert_eq!(
        code(m.submit(&hub2, Operation::Propose(op))),
        RejectCode::NotActive
    );
    // And a suspended node is not eligible on proposals opened now.
    let id = m.propose(0, "11.0", "y");
    assert_eq!(m.state.eligible_voters(&id).unwrap().len(), 2);

    // Key rotation: the old key stops working, the new one works; keys stay unique.
    let new_key = key(33).with_node_id(k.node_id().to_owned());
    let rotate = |pk| {
        Operation::UpdateNode(UpdateNodeOp {
            node_id: k.node_id().to_owned(),
            status: None,
            network_address: None,
            public_key: Some(pk),
            key_proof: None,
        })
    };
    assert_eq!(
        code(m.submit(&m.hub(0), rotate(m.hub(1).public()))),
        RejectCode::Duplicate
    );
    m.submit(&m.hub(0), rotate(new_key.public())).unwrap();
    assert_eq!(
        code(m.submit(&k, upd(&k, None, Some("a")))),
        RejectCode::UnknownSigner
    );
    m.submit(&new_key, upd(&k, None, Some("b"))).unwrap();
    assert_eq!(
        m.state.node_by_keyid(&new_key.keyid()).unwrap().node_id,
        k.node_id()
    );
    assert!(m.state.node_by_keyid(&k.keyid()).is_none());
}

#[test]
fn genesis_rules() {
    let hubs: Vec<KeyPair> = (1..=3).map(key).collect();
    let mut founders: Vec<NodeSpec> = hubs
        .iter()
        .map(|k| spec(k, NodeType::GovernanceHub))
        .collect();
    founders.push(spec(&key(9), NodeType::ComplianceWitness));
    let g = codex_genesis("g", founders.clone());
    let at = Timestamp(T0);
    let mut s = State::new();
    let empty = snapshot(&s);

    // Anything before the genesis.
    let close = sign_entry(
        &hubs[0],
        Operation::Close(CloseOp {
            proposal_id: "11111111-1111-4111-8111-111111111111".into(),
            track: None,
        }),
    );
    assert_eq!(s.apply(&close, at).unwrap_err().code, RejectCode::Genesis);
    // Signed by a non-founder, by a founding witness, or with a key that is not the
    // founder's.
    let e = s
        .apply(&sign_entry(&key(50), Operation::Genesis(g.clone())), at)
        .unwrap_err();
    assert_eq!(e.code, RejectCode::UnknownSigner);
    let e = s
        .apply(&sign_entry(&key(9), Operation::Genesis(g.clone())), at)
        .unwrap_err();
    assert_eq!(e.code, RejectCode::NotPrivileged);
    let impostor = key(50).with_node_id(hubs[1].node_id().to_owned());
    let e = s
        .apply(&sign_entry(&impostor, Operation::Genesis(g.clone())), at)
        .unwrap_err();
    assert_eq!(e.code, RejectCode::UnknownSigner);
    // Broken contents.
    let mut no55 = g.clone();
    no55.contract.clauses.retain(|c| c.clause_id != "5.5");
    let e = s
        .apply(&sign_entry(&hubs[0], Operation::Genesis(no55)), at)
        .unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden, "{e}");
    let mut twice = g.clone();
    twice.founders.push(founders[0].clone());
    assert_eq!(
        s.apply(&sign_entry(&hubs[0], Operation::Genesis(twice)), at)
            .unwrap_err()
            .code,
        RejectCode::Duplicate
    );
    let mut no_domain = g.clone();
    no_domain.domains.clear();
    assert_eq!(
        s.apply(&sign_entry(&hubs[0], Operation::Genesis(no_domain)), at)
            .unwrap_err()
            .code,
        RejectCode::UnknownDomain
    );
    assert_eq!(snapshot(&s), empty);

    let a = s
        .apply(&sign_entry(&hubs[1], Operation::Genesis(g.clone())), at)
        .unwrap();
    assert_eq!(s.mesh_id(), Some(a.entry_hash));
    assert_eq!(
        a.events[0],
        Event::MeshFounded {
            mesh_id: a.entry_hash
        }
    );
    assert_eq!(s.nodes().len(), 4);
    assert_eq!(s.domains().len(), 1);
    assert_eq!(s.governing_contract_id(), Some("codex"));
    let hub = s.node(hubs[0].node_id()).unwrap();
    assert_eq!(
        hub.privileges,
        vec![
            Privilege::CanProposePolicy,
            Privilege::CanVoteOnProposal,
            Privilege::CanOverridePolicy
        ]
    );
    assert_eq!(hub.last_seen, None);
    assert_eq!(s.node(hubs[1].node_id()).unwrap().last_seen, Some(at));
    let again = sign_entry(&hubs[0], Operation::Genesis(g));
    assert_eq!(s.apply(&again, at).unwrap_err().code, RejectCode::Genesis);
}

/// Builds a log with every kind of entry and outcome.
fn busy_mesh() -> Mesh {
    let mut m = Mesh::new();
    let a = m.propose(0, "11.0", "A");
    let b = m.propose(1, "11.0", "B");
    let c = m.propose(2, "11.1", "C");
    let d = m.propose(2, "5.2.5", "D");
    m.advance(5);
    m.vote(&m.hub(0), &a, VoteChoice::Approve).unwrap();
    m.vote(&m.hub(1), &b, VoteChoice::Approve).unwrap();
    m.vote(&m.hub(1), &a, VoteChoice::Approve).unwrap();
    m.vote(&m.hub(2), &c, VoteChoice::Abstain).unwrap();
    m.vote(&m.hub(2), &c, VoteChoice::Reject).unwrap(); // equivocation
    m.submit(
        &m.hub(2),
        Operation::Withdraw(WithdrawOp {
            proposal_id: d,
            reason: None,
        }),
    )
    .unwrap();
    register(&mut m, 60, NodeType::TrustFork);
    m.advance(604_800);
    m.submit(
        &m.hub(0),
        Operation::Close(CloseOp {
            proposal_id: c,
            track: None,
        }),
    )
    .unwrap();
    m
}

#[test]
fn replaying_the_log_gives_the_same_state() {
    let m = busy_mesh();
    let mut fresh = State::new();
    for rec in &m.log {
        fresh.apply_record(rec).unwrap();
    }
    assert_eq!(snapshot(&fresh), snapshot(&m.state));
    assert_eq!(fresh, m.state);
    // A snapshot read back continues exactly like the original.
    let restored: State = serde_json::from_str(&snapshot(&m.state)).unwrap();
    assert_eq!(restored, m.state);
    assert_eq!(snapshot(&restored), snapshot(&m.state));
}

#[test]
fn apply_record_checks_order() {
    let m = busy_mesh();
    let mut s = State::new();
    s.apply_record(&m.log[0]).unwrap();
    // Skipping an index.
    let e = s.apply_record(&m.log[2]).unwrap_err();
    assert_eq!(e.code, RejectCode::OutOfOrder);
    s.apply_record(&m.log[1]).unwrap();
    // Going back in time.
    let mut rec = m.log[2].clone();
    rec.timestamp = Timestamp(m.log[1].timestamp.0 - 1);
    assert_eq!(
        s.apply_record(&rec).unwrap_err().code,
        RejectCode::OutOfOrder
    );
    // Replaying a record already applied is out of order too (wrong index).
    assert_eq!(
        s.apply_record(&m.log[1]).unwrap_err().code,
        RejectCode::OutOfOrder
    );
    // Re-indexing an applied entry as the next one is a replay.
    let mut rec = m.log[1].clone();
    rec.index = 2;
    assert_eq!(s.apply_record(&rec).unwrap_err().code, RejectCode::Replay);
}

#[test]
fn queries() {
    let m = busy_mesh();
    let ids: Vec<&str> = m
        .state
        .proposals()
        .iter()
        .map(|p| p.proposal_id.as_str())
        .collect();
    assert_eq!(ids.len(), 4);
    // Newest first.
    let created: Vec<Timestamp> = m.state.proposals().iter().map(|p| p.created_at).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(m.state.contracts().len(), 1);
    assert!(m.state.contract("nope").is_none());
    assert!(m.state.revision("codex", 0).is_none());
    assert!(m.state.revision("codex", 3).is_none());
    assert!(m.state.revisions("nope").is_empty());
    assert!(m.state.votes("nope").is_empty());
    assert_eq!(m.state.nodes().len(), 5);
    assert_eq!(m.state.equivocations().len(), 1);
    assert_eq!(m.state.size(), m.log.len() as u64);
    assert_eq!(m.state.last_timestamp(), Some(m.now));
    // The cached clause hashes follow adoptions.
    let c = m.state.contract("codex").unwrap();
    assert_eq!(c.revision, 2);
    for clause in &c.clauses {
        assert_eq!(
            m.state.clause_hash("codex", &clause.clause_id),
            Some(clause.hash().unwrap())
        );
    }
    assert_eq!(m.state.clause_hash("codex", "99"), None);
    for p in m.state.proposals() {
        assert_ne!(p.status, ProposalStatus::Voting);
        assert_eq!(p.codex_clauses, ["5.5", "5.4", "11.0", "11.1", "5.2.5"]);
    }
}

#[test]
fn batch_verified_replay_gives_the_same_state_and_still_checks_key_ids() {
    use govmesh_core::entry::signature_parts;
    use govmesh_core::keys::verify_batch;
    let m = busy_mesh();
    // Keys by key id: founders from the genesis, the rest from the registry at the end
    // (no key rotates in this log).
    let parts: Vec<_> = m
        .log
        .iter()
        .map(|r| signature_parts(&r.envelope).unwrap())
        .collect();
    let keys: Vec<_> = parts
        .iter()
        .map(|(keyid, _, _)| m.state.node_by_keyid(keyid).unwrap().public_key)
        .collect();
    let items: Vec<(&[u8], &[u8; 64], _)> = parts
        .iter()
        .zip(&keys)
        .map(|((_, msg, sig), k)| (msg.as_slice(), sig, k))
        .collect();
    verify_batch(&items).unwrap();
    let mut s = State::new();
    for rec in &m.log {
        s.apply_record_preverified(rec).unwrap();
    }
    assert_eq!(s, m.state);

    // A signature "verified" under some other key is still refused: the key id must be
    // the author's registered one.
    let mut s = State::new();
    s.apply_record(&m.log[0]).unwrap();
    let impostor = key(50).with_node_id(m.hub(0).node_id().to_owned());
    let op = Operation::Close(CloseOp {
        proposal_id: "11111111-1111-4111-8111-111111111111".into(),
        track: None,
    });
    let rec = LogRecord {
        index: 1,
        timestamp: m.log[1].timestamp,
        envelope: sign_entry(&impostor, op),
    };
    assert_eq!(
        s.apply_record_preverified(&rec).unwrap_err().code,
        RejectCode::UnknownSigner
    );
}

mod random_logs {
    //! Random sequences of proposals, votes, withdrawals, closes and time steps: every
    //! refusal leaves the state unchanged (checked in `Mesh::submit_env`), and the
    //! invariants below hold after every run.
    use super::*;
    use govmesh_core::tally;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Propose {
            by: usize,
            clause: usize,
        },
        Vote {
            by: usize,
            proposal: usize,
            choice: VoteChoice,
        },
        Withdraw {
            by: usize,
            proposal: usize,
        },
        Close {
            by: usize,
            proposal: usize,
        },
        Wait {
            secs: u64,
        },
    }

    const CLAUSES: [&str; 3] = ["11.0", "11.1", "5.5"];

    fn choice() -> impl Strategy<Value = VoteChoice> {
        prop_oneof![
            Just(VoteChoice::Approve),
            Just(VoteChoice::Reject),
            Just(VoteChoice::Abstain),
            Just(VoteChoice::Veto)
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            2 => (0..3usize, 0..CLAUSES.len()).prop_map(|(by, clause)| Step::Propose { by, clause }),
            6 => (0..3usize, 0..8usize, choice())
                .prop_map(|(by, proposal, choice)| Step::Vote { by, proposal, choice }),
            1 => (0..3usize, 0..8usize).prop_map(|(by, proposal)| Step::Withdraw { by, proposal }),
            1 => (0..3usize, 0..8usize).prop_map(|(by, proposal)| Step::Close { by, proposal }),
            1 => prop_oneof![Just(1u64), Just(3_600), Just(604_800)].prop_map(|secs| Step::Wait { secs }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn invariants_hold(steps in proptest::collection::vec(step(), 1..40)) {
            let mut m = Mesh::new();
            let mut ids: Vec<String> = Vec::new();
            for s in steps {
                let pick = |ids: &Vec<String>, i: usize| ids.get(i % ids.len().max(1)).cloned();
                match s {
                    Step::Propose { by, clause } => {
                        let text = format!("text {}", m.state.size());
                        let op = m.propose_op(CLAUSES[clause], &text, Vec::new());
                        let id = op.proposal_id.clone();
                        if m.submit(&m.hub(by), Operation::Propose(op)).is_ok() {
                            ids.push(id);
                        }
                    }
                    Step::Vote { by, proposal, choice } => {
                        if let Some(id) = pick(&ids, proposal) {
                            let _ = m.vote(&m.hub(by), &id, choice);
                        }
                    }
                    Step::Withdraw { by, proposal } => {
                        if let Some(id) = pick(&ids, proposal) {
                            let _ = m.submit(&m.hub(by), Operation::Withdraw(WithdrawOp { proposal_id: id, reason: None }));
                        }
                    }
                    Step::Close { by, proposal } => {
                        if let Some(id) = pick(&ids, proposal) {
                            let _ = m.submit(&m.hub(by), Operation::Close(CloseOp { proposal_id: id, track: None }));
                        }
                    }
                    Step::Wait { secs } => m.advance(secs),
                }
            }
            // Replay gives the same state.
            let mut fresh = State::new();
            for rec in &m.log {
                fresh.apply_record(rec).unwrap();
            }
            prop_assert_eq!(&fresh, &m.state);
            // Each proposal's counts are the tally of its counted votes, and the status
            // agrees with the outcome.
            for p in m.state.proposals() {
                let id = &p.proposal_id;
                let policy = m.state.voting_policy(id).unwrap();
                let eligible = m.state.eligible_voters(id).unwrap();
                let votes = m.state.votes(id);
                let delegations = m.state.ballot_delegations(id).unwrap();
                let r = tally::tally(policy, eligible, delegations, votes, false);
                prop_assert_eq!(
                    (r.approve_weight, r.reject_weight, r.abstain_weight, r.veto_weight, r.total_votes),
                    (
                        p.voting_result.approve_weight,
                        p.voting_result.reject_weight,
                        p.voting_result.abstain_weight,
                        p.voting_result.veto_weight,
                        p.voting_result.total_votes
                    )
                );
                let mut voters: Vec<&str> = votes.iter().map(|v| v.voter.as_str()).collect();
                voters.sort();
                voters.dedup();
                prop_assert_eq!(voters.len(), votes.len(), "one counted vote per voter");
                match p.status {
                    ProposalStatus::Voting => prop_assert_eq!(p.voting_result.outcome, None),
                    ProposalStatus::Withdrawn => prop_assert_eq!(p.voting_result.outcome, None),
                    ProposalStatus::Adopted | ProposalStatus::Rejected => {
                        prop_assert_eq!(p.voting_result.outcome, Some(p.status))
                    }
                    ProposalStatus::Draft => prop_assert!(false, "no drafts are made"),
                }
                if p.status == ProposalStatus::Adopted {
                    let rev = m.state.revision("codex", p.adopted_revision.unwrap()).unwrap();
                    prop_assert_eq!(rev.adopted_by_proposal.as_deref(), Some(id.as_str()));
                }
            }
            // The revisions form a hash chain, and at most one proposal was adopted per
            // base clause hash.
            let revs = m.state.revisions("codex");
            for (i, r) in revs.iter().enumerate() {
                prop_assert_eq!(r.revision, i as u64 + 1);
                prop_assert_eq!(r.contract_hash, r.compute_hash().unwrap());
                if i > 0 {
                    prop_assert_eq!(r.parent_hash, Some(revs[i - 1].contract_hash));
                }
            }
            let mut bases: Vec<_> = m
                .state
                .proposals()
                .iter()
                .filter(|p| p.status == ProposalStatus::Adopted)
                .map(|p| p.base_clause_hash)
                .collect();
            let adopted = bases.len();
            bases.sort();
            bases.dedup();
            prop_assert_eq!(bases.len(), adopted);
            prop_assert_eq!(revs.len(), adopted + 1);
        }
    }
}

// ---- ack_sync, attest, evidence ------------------------------------------------

mod ops {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use govmesh_core::Digest;
    use govmesh_core::attestation::{HygienePredicate, HygieneSummary, sign_hygiene};
    use govmesh_core::checkpoint::Checkpoint;
    use govmesh_core::dsse::ENTRY_PAYLOAD_TYPE;
    use govmesh_core::entry::{AckSyncOp, AttestOp, EvidenceKind, EvidenceOp};
    use govmesh_core::evidence::mesh_origin;
    use govmesh_core::intoto::ResourceDescriptor;
    use govmesh_core::sync::{SyncStatus, pending_acks, sync_records_at, sync_records_by};
    use std::collections::BTreeMap;

    fn ack_op(m: &Mesh, revision: u64) -> AckSyncOp {
        AckSyncOp {
            contract_id: "codex".into(),
            revision,
            contract_hash: m.state.revision("codex", revision).unwrap().contract_hash,
        }
    }

    fn ack(m: &mut Mesh, k: &KeyPair, revision: u64) -> Result<Applied, Rejection> {
        let op = ack_op(m, revision);
        m.submit(k, Operation::AckSync(op))
    }

    /// Adopts a text change of 11.0 (hubs 0 and 1 approve; hub 1's vote decides).
    fn adopt(m: &mut Mesh, text: &str) -> u64 {
        let id = m.propose(0, "11.0", text);
        m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
        m.vote(&m.hub(1), &id, VoteChoice::Approve).unwrap();
        m.state.proposal(&id).unwrap().adopted_revision.unwrap()
    }

    /// Signs `payload` (any JSON, not canonicalized) as a log entry by `k`.
    fn sign_raw(k: &KeyPair, payload: &str) -> Envelope {
        Envelope::sign(ENTRY_PAYLOAD_TYPE, payload.as_bytes(), k)
    }

    #[test]
    fn ack_sync_accepts_once_per_node_and_revision() {
        let mut m = Mesh::new();
        let witness = key(9);
        let fork = register(&mut m, 40, NodeType::TrustFork);
        // Every active role may acknowledge: any_active_node in clause 5.5.
        for k in [m.hub(1), witness.clone(), fork.clone()] {
            let a = ack(&mut m, &k, 1).unwrap();
            assert_eq!(
                a.events,
                vec![Event::SyncAcknowledged {
                    contract_id: "codex".into(),
                    revision: 1,
                    node_id: k.node_id().into()
                }]
            );
            assert!(m.state.has_acked(k.node_id(), "codex", 1));
        }
        assert!(!m.state.has_acked(m.hub(2).node_id(), "codex", 1));
        // The same entry again is a replay; the same ack encoded differently is a
        // duplicate, refused naming the first.
        assert_eq!(code(ack(&mut m, &witness, 1)), RejectCode::Replay);
        let op = ack_op(&m, 1);
        let raw = format!(
            r#"{{"type":"ack_sync","revision":1,"contract_id":"codex","contract_hash":"{}","author":"{}","signed_at":"{}"}}"#,
            op.contract_hash,
            witness.node_id(),
            m.now
        );
        let e = m.submit_env(&sign_raw(&witness, &raw)).unwrap_err();
        assert_eq!(e.code, RejectCode::Duplicate, "{e}");
        assert!(e.message.contains("already acknowledged revision 1"), "{e}");
        // Unknown contract, unknown revision, wrong hash.
        let mut bad = ack_op(&m, 1);
        bad.contract_id = "other".into();
        let e = m.submit(&m.hub(2), Operation::AckSync(bad)).unwrap_err();
        assert_eq!(e.code, RejectCode::UnknownContract);
        let mut bad = ack_op(&m, 1);
        bad.revision = 2;
        let e = m.submit(&m.hub(2), Operation::AckSync(bad)).unwrap_err();
        assert_eq!(e.code, RejectCode::UnknownContract);
        assert!(e.message.contains("no revision 2"), "{e}");
        let mut bad = ack_op(&m, 1);
        bad.contract_hash = Digest::sha256(b"not it");
        let e = m.submit(&m.hub(2), Operation::AckSync(bad)).unwrap_err();
        assert_eq!(e.code, RejectCode::Mismatch);
        assert!(e.message.contains("contract_hash"), "{e}");
        // Revision 0 fails the schema.
        let raw = format!(
            r#"{{"author":"{}","contract_hash":"{}","contract_id":"codex","revision":0,"type":"ack_sync"}}"#,
            m.hub(2).node_id(),
            op.contract_hash
        );
        assert_eq!(
            m.submit_env(&sign_raw(&m.hub(2), &raw)).unwrap_err().code,
            RejectCode::Schema
        );
        // Unregistered and suspended nodes may not.
        assert_eq!(code(ack(&mut m, &key(77), 1)), RejectCode::UnknownSigner);
        m.submit(
            &m.hub(0),
            Operation::UpdateNode(UpdateNodeOp {
                node_id: fork.node_id().into(),
                status: Some(NodeStatus::Suspended),
                network_address: None,
                public_key: None,
                key_proof: None,
            }),
        )
        .unwrap();
        // (A re-encoded ack, so that it is not a replay of the fork's first one.)
        let raw = format!(
            r#"{{"type":"ack_sync","contract_hash":"{}","revision":1,"contract_id":"codex","author":"{}","signed_at":"{}"}}"#,
            op.contract_hash,
            fork.node_id(),
            m.now
        );
        let e = m.submit_env(&sign_raw(&fork, &raw)).unwrap_err();
        assert_eq!(e.code, RejectCode::NotActive);
    }

    #[test]
    fn sync_records_follow_acks_and_the_clause_5_4_deadline() {
        let mut m = Mesh::new();
        let fork = register(&mut m, 41, NodeType::TrustFork);
        m.advance(60);
        let rev = adopt(&mut m, "synced");
        assert_eq!(rev, 2);
        let adopted = m.state.contract("codex").unwrap().adopted_at;
        let sync = m.state.revision_sync("codex", 2).unwrap().clone();
        // Hub 1's vote adopted it; every other active node is a target.
        assert_eq!(sync.source_node_id, m.hub(1).node_id());
        let mut want = vec![
            m.hub(0).node_id().to_owned(),
            m.hub(2).node_id().to_owned(),
            key(9).node_id().to_owned(),
            fork.node_id().to_owned(),
        ];
        want.sort();
        let mut got = sync.target_node_ids.clone();
        got.sort();
        assert_eq!(got, want);
        // A node registered after adoption is not a target.
        let late = register(&mut m, 42, NodeType::TrustFork);
        let r2 = |m: &Mesh, now: Timestamp| {
            sync_records_at(&m.state, now)
                .into_iter()
                .find(|r| r.revision == 2)
                .unwrap()
        };
        let r = r2(&m, adopted.plus_secs(1));
        assert_eq!(r.status, SyncStatus::Created);
        assert_eq!(r.source_node_id, m.hub(1).node_id());
        assert!(!r.target_node_ids.contains(&late.node_id().to_owned()));
        assert_eq!(r.deadline, adopted.plus_secs(300));
        m.advance(10);
        {
            let h = m.hub(0);
            ack(&mut m, &h, 2)
        }
        .unwrap();
        ack(&mut m, &fork, 2).unwrap();
        // What each node still owes.
        let owed = |m: &Mesh, k: &KeyPair| -> Vec<u64> {
            pending_acks(&m.state, k.node_id())
                .iter()
                .map(|o| o.revision)
                .collect()
        };
        assert_eq!(owed(&m, &fork), Vec::<u64>::new());
        assert_eq!(
            owed(&m, &m.hub(1)),
            vec![1],
            "the source of r2 owes r1 only"
        );
        assert_eq!(owed(&m, &m.hub(2)), vec![1, 2]);
        assert_eq!(owed(&m, &late), Vec::<u64>::new(), "not a target");
        assert_eq!(owed(&m, &key(77)), Vec::<u64>::new(), "not registered");
        let op = &pending_acks(&m.state, m.hub(2).node_id())[1];
        assert_eq!(
            op.contract_hash,
            m.state.revision("codex", 2).unwrap().contract_hash
        );
        let r = r2(&m, m.now);
        assert_eq!(r.status, SyncStatus::InProgress);
        assert_eq!(r.successful_nodes.len(), 2);
        assert!(r.failed_nodes.is_empty());
        // Past the deadline: the two who did not ack have failed.
        let r = r2(&m, adopted.plus_secs(301));
        assert_eq!(r.status, SyncStatus::Partial);
        let mut failed = r.failed_nodes.clone();
        failed.sort();
        let mut want_failed = vec![m.hub(2).node_id().to_owned(), key(9).node_id().to_owned()];
        want_failed.sort();
        assert_eq!(failed, want_failed);
        // A late ack is recorded but does not count as in time.
        m.advance(400);
        {
            let h = m.hub(2);
            ack(&mut m, &h, 2)
        }
        .unwrap();
        let r = r2(&m, m.now);
        assert_eq!(r.status, SyncStatus::Partial);
        assert!(r.failed_nodes.contains(&m.hub(2).node_id().to_owned()));
        // Revision 1: the genesis author is the source; no ack past the deadline.
        let r1 = sync_records_at(&m.state, m.now)
            .into_iter()
            .find(|r| r.revision == 1)
            .unwrap();
        assert_eq!(r1.source_node_id, m.hub(0).node_id());
        assert_eq!(r1.status, SyncStatus::Failed);
        assert_eq!(r1.failed_nodes.len(), 3);
    }

    #[test]
    fn every_target_in_time_completes_the_record() {
        let mut m = Mesh::new();
        m.advance(5);
        for k in [m.hub(1), m.hub(2), key(9)] {
            ack(&mut m, &k, 1).unwrap();
        }
        let r = &sync_records_at(&m.state, m.now)[0];
        assert_eq!(r.status, SyncStatus::Completed);
        assert_eq!(r.completion_time, Some(m.now));
        assert_eq!(r.successful_nodes.len(), 3);
    }

    fn predicate(m: &Mesh, revision: u64) -> HygienePredicate {
        let rev = m.state.revision("codex", revision).unwrap();
        HygienePredicate {
            contract_id: "codex".into(),
            revision,
            contract_hash: Some(rev.contract_hash),
            clause_id: "5.2.5".into(),
            clause_hash: rev.clause("5.2.5").unwrap().hash().unwrap(),
            summary: HygieneSummary {
                files_checked: 12,
                errors: 0,
                warnings: 2,
                infos: 0,
                reuse_compliant: Some(true),
            },
            passed: true,
        }
    }

    fn subject() -> Vec<ResourceDescriptor> {
        vec![ResourceDescriptor {
            name: Some("git+HEAD".into()),
            digest: BTreeMap::from([
                ("gitCommit".into(), "1f".repeat(20)),
                ("gitTree".into(), "2e".repeat(20)),
            ]),
        }]
    }

    fn attest(m: &mut Mesh, k: &KeyPair, envelope: Envelope) -> Result<Applied, Rejection> {
        m.submit(k, Operation::Attest(AttestOp { envelope }))
    }

    #[test]
    fn attest_checks_signature_revision_and_clause_hash() {
        let mut m = Mesh::new();
        let fork = register(&mut m, 43, NodeType::TrustFork);
        let p1 = predicate(&m, 1);
        // A trust_fork may attest (any_active_node).
        let a = attest(&mut m, &fork, sign_hygiene(&fork, subject(), &p1)).unwrap();
        assert_eq!(
            a.events,
            vec![Event::AttestationRecorded {
                contract_id: "codex".into(),
                revision: 1,
                passed: true
            }]
        );
        let got = &m.state.attestations()[0];
        assert_eq!(got.attester, fork.node_id());
        assert_eq!(got.predicate, p1);
        assert_eq!(got.index, a.index);
        assert!(got.has_subject_digest(&"1F".repeat(20)));
        // Wrong clause hash, wrong contract hash, unknown revision.
        let mut p = p1.clone();
        p.clause_hash = Digest::sha256(b"other rules");
        let e = attest(&mut m, &fork, sign_hygiene(&fork, subject(), &p)).unwrap_err();
        assert_eq!(e.code, RejectCode::Mismatch);
        assert!(e.message.contains("clause_hash"), "{e}");
        let mut p = p1.clone();
        p.contract_hash = Some(Digest::sha256(b"x"));
        assert_eq!(
            code(attest(&mut m, &fork, sign_hygiene(&fork, subject(), &p))),
            RejectCode::Mismatch
        );
        let mut p = p1.clone();
        p.revision = 9;
        assert_eq!(
            code(attest(&mut m, &fork, sign_hygiene(&fork, subject(), &p))),
            RejectCode::UnknownContract
        );
        // The statement must be signed by the author's own key, correctly.
        let env = sign_hygiene(&m.hub(0), subject(), &p1);
        let e = attest(&mut m, &fork, env).unwrap_err();
        assert_eq!(e.code, RejectCode::UnknownSigner, "{e}");
        let mut env = sign_hygiene(&fork, subject(), &predicate(&m, 1));
        let mut sig = STANDARD.decode(&env.signatures[0].sig).unwrap();
        sig[0] ^= 1;
        env.signatures[0].sig = STANDARD.encode(sig);
        assert_eq!(code(attest(&mut m, &fork, env)), RejectCode::BadSignature);
        let mut env = sign_hygiene(&fork, subject(), &p1);
        env.payload_type = "application/json".into();
        assert_eq!(code(attest(&mut m, &fork, env)), RejectCode::Malformed);
        // Not a hygiene statement: other clause, no subject, bad digest.
        let mut p = p1.clone();
        p.clause_id = "5.4".into();
        assert_eq!(
            code(attest(&mut m, &fork, sign_hygiene(&fork, subject(), &p))),
            RejectCode::Schema
        );
        assert_eq!(
            code(attest(&mut m, &fork, sign_hygiene(&fork, vec![], &p1))),
            RejectCode::Schema
        );
        let mut s = subject();
        s[0].digest.insert("gitCommit".into(), "xyz".into());
        assert_eq!(
            code(attest(&mut m, &fork, sign_hygiene(&fork, s, &p1))),
            RejectCode::Schema
        );
        assert_eq!(m.state.attestations().len(), 1);
    }

    #[test]
    fn attest_names_any_existing_revision_by_its_own_clause_hash() {
        let mut m = Mesh::new();
        let p1 = predicate(&m, 1);
        // Change clause 5.2.5 (hub 1 decides).
        let id = m.propose(0, "5.2.5", "stricter hygiene");
        m.vote(&m.hub(0), &id, VoteChoice::Approve).unwrap();
        m.vote(&m.hub(1), &id, VoteChoice::Approve).unwrap();
        assert_eq!(m.state.contract("codex").unwrap().revision, 2);
        let h = m.hub(2);
        // Revision 1 still exists and its clause hash is p1's.
        attest(&mut m, &h, sign_hygiene(&h, subject(), &p1)).unwrap();
        // Revision 2 with revision 1's clause hash is refused.
        let mut p = predicate(&m, 2);
        p.clause_hash = p1.clause_hash;
        assert_eq!(
            code(attest(&mut m, &h, sign_hygiene(&h, subject(), &p))),
            RejectCode::Mismatch
        );
        let p2 = predicate(&m, 2);
        attest(&mut m, &h, sign_hygiene(&h, subject(), &p2)).unwrap();
        assert_eq!(m.state.attestations().len(), 2);
    }

    #[test]
    fn operation_privileges_of_clause_5_5_govern_attest() {
        let mut m = Mesh::new();
        let diff = vec![DiffOp {
            path: "/operation_privileges/attest".into(),
            operation: PatchOperation::Replace,
            value: json!("can_validate_attestation"),
        }];
        let text = m
            .state
            .contract("codex")
            .unwrap()
            .clause("5.5")
            .unwrap()
            .text
            .clone();
        let op = m.propose_op("5.5", &text, diff);
        let id = op.proposal_id.clone();
        m.submit(&m.hub(0), Operation::Propose(op)).unwrap();
        for i in 0..3 {
            m.vote(&m.hub(i), &id, VoteChoice::Approve).unwrap();
        }
        assert_eq!(m.status(&id), ProposalStatus::Adopted);
        let p = predicate(&m, 2);
        let h = m.hub(0);
        let e = attest(&mut m, &h, sign_hygiene(&h, subject(), &p)).unwrap_err();
        assert_eq!(e.code, RejectCode::NotPrivileged);
        assert!(e.message.contains("can_validate_attestation"), "{e}");
        let w = key(9);
        attest(&mut m, &w, sign_hygiene(&w, subject(), &p)).unwrap();
        // ack_sync stays open to everyone.
        ack(&mut m, &h, 2).unwrap();
    }

    fn note(m: &Mesh, size: u64, root: &[u8], k: &KeyPair) -> String {
        let origin = mesh_origin(&m.state.mesh_id().unwrap());
        Checkpoint {
            origin: origin.clone(),
            size,
            root: Digest::sha256(root),
            extensions: vec![],
        }
        .sign(&origin, k)
        .to_text()
    }

    fn evidence(m: &mut Mesh, k: &KeyPair, notes: Vec<String>) -> Result<Applied, Rejection> {
        m.submit(
            k,
            Operation::Evidence(EvidenceOp {
                kind: EvidenceKind::CheckpointFork,
                notes,
            }),
        )
    }

    #[test]
    fn evidence_of_a_checkpoint_fork_is_verified_and_recorded() {
        let mut m = Mesh::new();
        let w = key(9);
        let a = note(&m, 7, b"a", &m.hub(0));
        let b = note(&m, 7, b"b", &m.hub(1));
        // Any active node may submit it: here the witness.
        let applied = evidence(&mut m, &w, vec![a.clone(), b.clone()]).unwrap();
        assert_eq!(
            applied.events,
            vec![Event::CheckpointForkRecorded {
                size: 7,
                signers: vec![m.hub(0).node_id().into(), m.hub(1).node_id().into()]
            }]
        );
        let f = &m.state.checkpoint_forks()[0];
        assert_eq!(f.reported_by, w.node_id());
        assert_eq!(f.proof.size, 7);
        assert_eq!(f.notes, [a.clone(), b.clone()]);
        // The same fork again (notes swapped: a different entry) is a duplicate.
        let h2 = m.hub(2);
        let e = evidence(&mut m, &h2, vec![b.clone(), a.clone()]).unwrap_err();
        assert_eq!(e.code, RejectCode::Duplicate, "{e}");
        // What does not prove a fork.
        let bad = |m: &mut Mesh, notes: Vec<String>, needle: &str| {
            let e = evidence(m, &w, notes).unwrap_err();
            assert_eq!(e.code, RejectCode::BadEvidence, "{e}");
            assert!(e.message.contains(needle), "{e} lacks {needle:?}");
        };
        let c = note(&m, 8, b"c", &m.hub(0));
        bad(&mut m, vec![a.clone(), c], "different tree sizes");
        bad(&mut m, vec![a.clone(), a.clone()], "no fork");
        let by_witness = note(&m, 7, b"d", &w);
        bad(
            &mut m,
            vec![a.clone(), by_witness],
            "note 2 carries no signature",
        );
        let unknown = note(&m, 7, b"e", &key(99));
        bad(&mut m, vec![unknown, b.clone()], "note 1");
        let foreign = Checkpoint {
            origin: "govmesh/ffffffffffffffff".into(),
            size: 7,
            root: Digest::sha256(b"f"),
            extensions: vec![],
        }
        .sign("govmesh/ffffffffffffffff", &m.hub(0))
        .to_text();
        bad(&mut m, vec![foreign, b.clone()], "not of this mesh");
        bad(&mut m, vec![a.clone(), "not a note".into()], "note 2");
        // One note, or an unknown kind, fail the schema.
        assert_eq!(
            code(evidence(&mut m, &w, vec![a.clone()])),
            RejectCode::Schema
        );
        let raw = serde_json::to_string(&json!({
            "author": w.node_id(), "type": "evidence", "kind": "vote_fork", "notes": [a, b]
        }))
        .unwrap();
        assert_eq!(
            m.submit_env(&sign_raw(&w, &raw)).unwrap_err().code,
            RejectCode::Schema
        );
        assert_eq!(m.state.checkpoint_forks().len(), 1);
    }

    #[test]
    fn new_operations_replay_to_the_same_state() {
        let mut m = Mesh::new();
        let fork = register(&mut m, 44, NodeType::TrustFork);
        m.advance(30);
        adopt(&mut m, "replayed");
        ack(&mut m, &fork, 2).unwrap();
        {
            let h = m.hub(0);
            ack(&mut m, &h, 1)
        }
        .unwrap();
        let p = predicate(&m, 2);
        attest(&mut m, &fork, sign_hygiene(&fork, subject(), &p)).unwrap();
        let (a, b) = (note(&m, 3, b"x", &m.hub(2)), note(&m, 3, b"y", &m.hub(2)));
        evidence(&mut m, &fork, vec![a, b]).unwrap();
        let mut fresh = State::new();
        for rec in &m.log {
            fresh.apply_record(rec).unwrap();
        }
        assert_eq!(fresh, m.state);
        let restored: State = serde_json::from_str(&snapshot(&m.state)).unwrap();
        assert_eq!(restored, m.state);
        // A snapshot holds the live state only: the acks left it for the ledger's
        // table, as a ledger takes them (`take_retired`) in the entry's transaction.
        // Read back from there, the restored state gives the same sync records.
        let mut drained = m.state.clone();
        let table = drained.take_retired().acks;
        assert_eq!(table.len(), 2);
        let from_table = sync_records_by(&restored, m.now, |contract, revision| {
            let acks: BTreeMap<_, _> = table
                .iter()
                .filter(|a| a.contract_id == contract && a.revision == revision)
                .map(|a| (a.node_id.clone(), a.ack.timestamp))
                .collect();
            (!acks.is_empty()).then_some(acks)
        });
        assert_eq!(from_table, sync_records_at(&m.state, m.now));
        assert!(from_table.iter().any(|r| !r.successful_nodes.is_empty()));
    }
}

// ------------------------------------------------ every Codex rule governs (issue 12)

/// Proposes `diff` to `clause` of the Codex as hub 0 and has the three hubs approve it.
fn adopt(m: &mut Mesh, clause: &str, diff: Vec<DiffOp>) -> String {
    let text = m
        .state
        .contract("codex")
        .unwrap()
        .clause(clause)
        .unwrap()
        .text
        .clone();
    let op = m.propose_op(clause, &text, diff);
    let id = op.proposal_id.clone();
    m.submit(&m.hub(0), Operation::Propose(op))
        .expect("propose");
    for h in 0..3 {
        let k = m.hub(h);
        if m.status(&id) == ProposalStatus::Voting {
            m.vote(&k, &id, VoteChoice::Approve).expect("vote");
        }
    }
    assert_eq!(m.status(&id), ProposalStatus::Adopted);
    id
}

fn replace(path: &str, value: Value) -> DiffOp {
    DiffOp {
        path: path.into(),
        operation: PatchOperation::Replace,
        value,
    }
}

/// A seal of the mesh's log so far, signed by hub 0 and cosigned by `witnesses`.
fn seal_by(m: &Mesh, witnesses: &[&KeyPair]) -> String {
    use govmesh_core::checkpoint::Checkpoint;
    use govmesh_core::cosign::{Cosignature, witness_key_name};
    use govmesh_core::merkle::MerkleTree;
    let origin = govmesh_core::seal::checkpoint_origin(&m.state.mesh_id().unwrap());
    let tree = MerkleTree::from_leaf_hashes(m.log.iter().map(LogRecord::leaf_hash));
    let note = Checkpoint {
        origin: origin.clone(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    }
    .sign(&origin, &m.hub(0));
    let mut text = note.to_text();
    for w in witnesses {
        let line = Cosignature::sign(&note.body, &witness_key_name(w.node_id()), w, 1_800_000_000)
            .unwrap()
            .line();
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[test]
fn clause_5_4_witnesses_and_seal_threshold_govern_seals() {
    use govmesh_core::seal::{SealError, verify_seal};
    let mut m = Mesh::new();
    let (w9, w10) = (key(9), register(&mut m, 10, NodeType::ComplianceWitness));
    // The genesis lists witness 9 only: witness 10, active and registered, cannot make
    // a seal, and its cosignature beside 9's does not count.
    verify_seal(&seal_by(&m, &[&w9]), &m.state).unwrap();
    let e = verify_seal(&seal_by(&m, &[&w10]), &m.state).unwrap_err();
    assert!(
        matches!(
            &e,
            SealError::BelowThreshold {
                have: 0,
                need: 1,
                ..
            }
        ),
        "{e}"
    );
    let v = verify_seal(&seal_by(&m, &[&w9, &w10]), &m.state).unwrap();
    assert_eq!(v.witness_node_ids, vec![w9.node_id().to_owned()]);

    // Witness 9 is dropped for witness 10: now only 10's cosignature counts.
    adopt(
        &mut m,
        "5.4",
        vec![replace("/witnesses", json!([w10.node_id()]))],
    );
    verify_seal(&seal_by(&m, &[&w10]), &m.state).unwrap();
    let e = verify_seal(&seal_by(&m, &[&w9]), &m.state).unwrap_err();
    assert!(
        matches!(e, SealError::BelowThreshold { have: 0, .. }),
        "{e}"
    );

    // Both listed and the threshold raised to 2: one cosignature is no longer a seal.
    adopt(
        &mut m,
        "5.4",
        vec![
            replace("/witnesses", json!([w9.node_id(), w10.node_id()])),
            replace("/seal_threshold", json!(2)),
        ],
    );
    let e = verify_seal(&seal_by(&m, &[&w10]), &m.state).unwrap_err();
    assert!(
        matches!(
            e,
            SealError::BelowThreshold {
                have: 1,
                need: 2,
                ..
            }
        ),
        "{e}"
    );
    let v = verify_seal(&seal_by(&m, &[&w9, &w10]), &m.state).unwrap();
    assert_eq!((v.threshold, v.witness_node_ids.len()), (2, 2));
}

#[test]
fn clause_5_4_sync_deadline_and_cosign_timeout_are_read_after_adoption() {
    use govmesh_core::rules::VerificationRules;
    use govmesh_core::sync::sync_records_at;
    let mut m = Mesh::new();
    let deadline_of = |m: &Mesh| {
        let r = sync_records_at(&m.state, m.now);
        let r = r.last().unwrap();
        (r.deadline.0 - r.timestamp.0) / 1000
    };
    assert_eq!(deadline_of(&m), 300);
    assert_eq!(
        VerificationRules::of(&m.state)
            .unwrap()
            .checkpoint_cosign_timeout_secs,
        10
    );
    adopt(
        &mut m,
        "5.4",
        vec![
            replace("/sync_deadline_secs", json!(45)),
            replace("/checkpoint_cosign_timeout_secs", json!(3)),
        ],
    );
    // Revision 2's sync record (and every other) uses the new deadline.
    assert_eq!(deadline_of(&m), 45);
    assert_eq!(
        VerificationRules::of(&m.state)
            .unwrap()
            .checkpoint_cosign_timeout_secs,
        3
    );
}

#[test]
fn rules_the_code_cannot_honour_are_refused_when_proposed() {
    let mut m = Mesh::new();
    let cases: [(&str, Vec<DiffOp>, &str); 5] = [
        (
            "5.4",
            vec![replace("/seal_threshold", json!(2))],
            "more than the 1 listed witness",
        ),
        (
            "5.4",
            vec![replace("/sync_deadline_secs", json!("soon"))],
            "clause 5.4 rules are malformed",
        ),
        (
            "11.0",
            vec![replace("/canonicalization", json!("jcs-but-different"))],
            "fixed",
        ),
        ("11.1", vec![replace("/order", json!("any"))], "fixed"),
        (
            "11.0",
            vec![replace("/checkpoint/max_interval_secs", json!(0))],
            "positive integer",
        ),
    ];
    for (clause, diff, says) in cases {
        let text = m
            .state
            .contract("codex")
            .unwrap()
            .clause(clause)
            .unwrap()
            .text
            .clone();
        let op = m.propose_op(clause, &text, diff);
        let e = m.submit(&m.hub(0), Operation::Propose(op)).unwrap_err();
        assert_eq!(e.code, RejectCode::BadPatch, "{clause}: {e}");
        assert!(
            e.message.contains(says),
            "{clause}: {e} should say {says:?}"
        );
        assert!(e.message.contains(&format!("clause {clause}")), "{e}");
    }
    // The cadence itself is a setting a proposal may change.
    adopt(
        &mut m,
        "11.0",
        vec![replace("/checkpoint/max_interval_secs", json!(30))],
    );
}

#[test]
fn clause_5_5_voting_rules_govern_proposals_opened_after_adoption() {
    // Each row: a change to clause 5.5 adopted through a proposal, then what a proposal
    // on clause 11.0 opened afterwards shows.
    type Check = fn(&mut Mesh);
    let rows: [(&str, Value, Check); 3] = [
        (
            "/default_voting_policy/voting_period_secs",
            json!(3600),
            |m| {
                let id = m.propose(0, "11.0", "later");
                let p = m.state.proposal(&id).unwrap();
                assert_eq!(p.voting_ends.0 - m.now.0, 3_600_000);
            },
        ),
        (
            "/clause_voting_policies/11.0",
            json!({"threshold": 0.9}),
            |m| {
                let id = m.propose(0, "11.0", "later");
                assert_eq!(m.state.voting_policy(&id).unwrap().threshold, 0.9);
            },
        ),
        ("/voting_period_bounds/min_secs", json!(120), |m| {
            let mut op = m.propose_op("11.0", "later", Vec::new());
            op.voting_period_secs = Some(60);
            let e = m.submit(&m.hub(0), Operation::Propose(op)).unwrap_err();
            assert!(e.message.contains("120"), "{e}");
        }),
    ];
    for (path, value, check) in rows {
        let mut m = Mesh::new();
        let op = if path.starts_with("/clause_voting_policies/") {
            PatchOperation::Add
        } else {
            PatchOperation::Replace
        };
        adopt(
            &mut m,
            "5.5",
            vec![DiffOp {
                path: path.into(),
                operation: op,
                value,
            }],
        );
        check(&mut m);
    }
}

// ------------------------------------------- more than one contract, domains' claims

/// A domain of `members` administered by `admin`, defined by hub 0 (or `admin` if it
/// is a hub), sharing `clauses` of `contract`.
fn domain_spec(
    m: &mut Mesh,
    name: &str,
    admin: &KeyPair,
    members: &[&KeyPair],
    contract: Option<&str>,
    clauses: &[&str],
) -> DomainSpec {
    DomainSpec {
        domain_id: m.fresh_id(),
        name: name.into(),
        description: String::new(),
        admin_node_id: admin.node_id().to_owned(),
        member_nodes: members.iter().map(|k| k.node_id().to_owned()).collect(),
        shared_clauses: clauses.iter().map(|c| (*c).to_owned()).collect(),
        local_overrides: Default::default(),
        contract_id: contract.map(str::to_owned),
        policy: Default::default(),
        clause_policies: Default::default(),
    }
}

fn draft(id: &str, domain_id: &str) -> govmesh_core::model::ContractDraft {
    use govmesh_core::model::Clause;
    let clause = |n: &str, title: &str| Clause {
        clause_id: n.into(),
        title: title.into(),
        text: format!("{title}: records are kept for the period the rules name."),
        rules: json!({"retention_days": 30}),
    };
    govmesh_core::model::ContractDraft {
        contract_id: id.into(),
        label: "Data retention v1".into(),
        domain_id: domain_id.into(),
        clauses: vec![clause("1", "Scope"), clause("2", "Retention")],
    }
}

/// The propose op under the Codex's clause 5.5 that creates `d`.
fn creation(m: &mut Mesh, d: govmesh_core::model::ContractDraft) -> ProposeOp {
    let text = m
        .state
        .contract("codex")
        .unwrap()
        .clause("5.5")
        .unwrap()
        .text
        .clone();
    let mut op = m.propose_op("5.5", &text, Vec::new());
    op.create_contract = Some(d);
    op
}

/// A text change of `clause` of `contract`.
fn propose_on(m: &mut Mesh, contract: &str, clause: &str, text: &str) -> ProposeOp {
    let mut op = m.propose_op("5.5", "", Vec::new());
    let c = m
        .state
        .contract(contract)
        .unwrap()
        .clause(clause)
        .unwrap()
        .clone();
    op.contract_id = contract.into();
    op.target_contract_clause = clause.into();
    op.base_clause_hash = c.hash().unwrap();
    op.changes.current_text = c.text;
    op.changes.proposed_text = text.into();
    op
}

#[test]
fn a_codex_proposal_creates_a_contract_that_its_domain_then_governs() {
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.hub(0), m.hub(1), m.hub(2));
    let stewards = domain_spec(&mut m, "data stewards", &h0, &[&h0, &h1], None, &[]);
    m.submit(&h0, Operation::DefineDomain(stewards.clone()))
        .unwrap();

    // Refusals first, each leaving the state as it was (Mesh::submit checks).
    let mut bad = creation(&mut m, draft("data-retention", &stewards.domain_id));
    bad.changes.proposed_text = "a different 5.5".into();
    let e = m.submit(&h0, Operation::Propose(bad)).unwrap_err();
    assert!(e.message.contains("changes no clause"), "{e}");
    let mut bad = creation(&mut m, draft("data-retention", &stewards.domain_id));
    bad.target_contract_clause = "11.0".into();
    let c = m
        .state
        .contract("codex")
        .unwrap()
        .clause("11.0")
        .unwrap()
        .clone();
    bad.base_clause_hash = c.hash().unwrap();
    bad.changes.current_text = c.text.clone();
    bad.changes.proposed_text = c.text;
    let e = m.submit(&h0, Operation::Propose(bad)).unwrap_err();
    assert!(e.message.contains("made under clause 5.5"), "{e}");
    let bad = creation(&mut m, draft("codex", &stewards.domain_id));
    assert_eq!(
        code(m.submit(&h0, Operation::Propose(bad))),
        RejectCode::Duplicate
    );
    let nowhere = m.fresh_id();
    let bad = creation(&mut m, draft("data-retention", &nowhere));
    assert_eq!(
        code(m.submit(&h0, Operation::Propose(bad))),
        RejectCode::UnknownDomain
    );
    let mut twice = draft("data-retention", &stewards.domain_id);
    twice.clauses[1].clause_id = "1".into();
    let bad = creation(&mut m, twice);
    assert_eq!(
        code(m.submit(&h0, Operation::Propose(bad))),
        RejectCode::Duplicate
    );

    // The council adopts the creation (clause 5.5: all three hubs).
    let op = creation(&mut m, draft("data-retention", &stewards.domain_id));
    let pid = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    assert_eq!(
        m.state.proposal(&pid).unwrap().domain_id,
        council(&m),
        "decided by the council"
    );
    for k in [&h0, &h1, &h2] {
        m.vote(k, &pid, VoteChoice::Approve).unwrap();
    }
    assert_eq!(m.status(&pid), ProposalStatus::Adopted);
    let dr = m.state.contract("data-retention").unwrap().clone();
    assert_eq!(dr.revision, 1);
    assert_eq!(dr.domain_id.as_deref(), Some(stewards.domain_id.as_str()));
    assert_eq!(dr.adopted_by_proposal.as_deref(), Some(pid.as_str()));
    assert_eq!(dr.compute_hash().unwrap(), dr.contract_hash);
    assert_eq!(
        m.state.contract("codex").unwrap().revision,
        1,
        "the Codex is unchanged"
    );
    assert_eq!(m.state.proposal(&pid).unwrap().adopted_revision, None);
    let sync = govmesh_core::sync::sync_records_at(&m.state, m.now);
    assert!(
        sync.iter()
            .any(|r| r.contract_id == "data-retention" && r.revision == 1),
        "{sync:?}"
    );

    // Its changes are decided by the stewards under their policy, not by the council.
    let op = propose_on(
        &mut m,
        "data-retention",
        "2",
        "Records are kept for 90 days.",
    );
    let id = op.proposal_id.clone();
    m.submit(&h1, Operation::Propose(op)).unwrap();
    assert_eq!(m.state.proposal(&id).unwrap().domain_id, stewards.domain_id);
    assert_eq!(
        m.state.proposal(&id).unwrap().voting_result.eligible_weight,
        2
    );
    assert_eq!(
        code(m.vote(&h2, &id, VoteChoice::Reject)),
        RejectCode::NotMember
    );
    m.vote(&h0, &id, VoteChoice::Approve).unwrap();
    m.vote(&h1, &id, VoteChoice::Approve).unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Adopted);
    let dr2 = m.state.contract("data-retention").unwrap();
    assert_eq!(dr2.revision, 2);
    assert_eq!(dr2.parent_hash, Some(dr.contract_hash));
    assert_eq!(dr2.domain_id, dr.domain_id);
    assert_eq!(m.state.contract("codex").unwrap().revision, 1);

    // The council cannot decide it, and a non-member cannot propose on it.
    let mut op = propose_on(&mut m, "data-retention", "1", "x");
    op.domain_id = Some(council(&m));
    let e = m.submit(&h0, Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("contract's governing domain"), "{e}");
    let op = propose_on(&mut m, "data-retention", "1", "x");
    assert_eq!(
        code(m.submit(&h2, Operation::Propose(op))),
        RejectCode::NotMember
    );
}

#[test]
fn a_clause_is_claimed_by_one_domain_and_only_by_the_governing_admins_leave() {
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.hub(0), m.hub(1), m.hub(2));
    let stewards = domain_spec(&mut m, "data stewards", &h0, &[&h0, &h1], None, &[]);
    m.submit(&h0, Operation::DefineDomain(stewards.clone()))
        .unwrap();
    let op = creation(&mut m, draft("data-retention", &stewards.domain_id));
    let pid = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    for k in [&h0, &h1, &h2] {
        m.vote(k, &pid, VoteChoice::Approve).unwrap();
    }
    assert_eq!(m.status(&pid), ProposalStatus::Adopted);

    // Auditors (hubs 1 and 2) take clause 2: hub 1 cannot hand it to them, the
    // stewards' admin (hub 0) can.
    let auditors = domain_spec(
        &mut m,
        "auditors",
        &h1,
        &[&h1, &h2],
        Some("data-retention"),
        &["2"],
    );
    let e = m
        .submit(&h1, Operation::DefineDomain(auditors.clone()))
        .unwrap_err();
    assert!(e.message.contains("only the admin"), "{e}");
    m.submit(&h0, Operation::DefineDomain(auditors.clone()))
        .unwrap();
    assert_eq!(
        m.state.deciding_domain("data-retention", "2").as_deref(),
        Some(auditors.domain_id.as_str())
    );
    assert_eq!(
        m.state.deciding_domain("data-retention", "1").as_deref(),
        Some(stewards.domain_id.as_str())
    );
    let op = propose_on(&mut m, "data-retention", "2", "Kept 10 years.");
    assert_eq!(
        code(m.submit(&h0, Operation::Propose(op))),
        RejectCode::NotMember
    );
    let op = propose_on(&mut m, "data-retention", "2", "Kept 10 years.");
    let id = op.proposal_id.clone();
    m.submit(&h2, Operation::Propose(op)).unwrap();
    assert_eq!(m.state.proposal(&id).unwrap().domain_id, auditors.domain_id);
    m.vote(&h1, &id, VoteChoice::Approve).unwrap();
    m.vote(&h2, &id, VoteChoice::Approve).unwrap();
    assert_eq!(m.status(&id), ProposalStatus::Adopted);
    // Naming the stewards for clause 2 is refused: they do not share it.
    let mut op = propose_on(&mut m, "data-retention", "2", "y");
    op.domain_id = Some(stewards.domain_id.clone());
    let e = m.submit(&h0, Operation::Propose(op)).unwrap_err();
    assert!(
        e.message.contains("the domain that shares the clause"),
        "{e}"
    );

    // Overlapping claims, the Codex's clauses and unknown clauses are refused.
    let rivals = domain_spec(
        &mut m,
        "rivals",
        &h0,
        &[&h0],
        Some("data-retention"),
        &["2"],
    );
    let e = m.submit(&h0, Operation::DefineDomain(rivals)).unwrap_err();
    assert_eq!(e.code, RejectCode::Forbidden);
    assert!(e.message.contains("already shared by domain"), "{e}");
    let codex = domain_spec(&mut m, "codex grab", &h0, &[&h0], None, &["5.2.5"]);
    let e = m.submit(&h0, Operation::DefineDomain(codex)).unwrap_err();
    assert!(e.message.contains("governing contract"), "{e}");
    let ghost = domain_spec(&mut m, "ghost", &h0, &[&h0], Some("data-retention"), &["9"]);
    assert_eq!(
        code(m.submit(&h0, Operation::DefineDomain(ghost))),
        RejectCode::UnknownClause
    );
    let nowhere = domain_spec(&mut m, "nowhere", &h0, &[&h0], Some("no-such"), &["1"]);
    assert_eq!(
        code(m.submit(&h0, Operation::DefineDomain(nowhere))),
        RejectCode::UnknownContract
    );
}

/// A mesh with `data-retention` created and decided by the stewards (hubs 0 and 1,
/// admin hub 0); returns the stewards' spec.
fn mesh_with_second_contract(m: &mut Mesh) -> DomainSpec {
    let (h0, h1, h2) = (m.hub(0), m.hub(1), m.hub(2));
    let stewards = domain_spec(m, "data stewards", &h0, &[&h0, &h1], None, &[]);
    m.submit(&h0, Operation::DefineDomain(stewards.clone()))
        .unwrap();
    let op = creation(m, draft("data-retention", &stewards.domain_id));
    let pid = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    for k in [&h0, &h1, &h2] {
        m.vote(k, &pid, VoteChoice::Approve).unwrap();
    }
    assert_eq!(m.status(&pid), ProposalStatus::Adopted);
    stewards
}

fn approve_all(m: &mut Mesh, id: &str, voters: &[&KeyPair]) {
    for k in voters {
        if m.status(id) == ProposalStatus::Voting {
            m.vote(k, id, VoteChoice::Approve).unwrap();
        }
    }
    assert_eq!(
        m.status(id),
        ProposalStatus::Adopted,
        "{:?}",
        m.state.proposal(id)
    );
}

fn text_for(m: &Mesh, node: &str, clause: &str) -> (String, Option<String>) {
    let c = m.state.contract("data-retention").unwrap();
    let (cl, o) = m
        .state
        .effective_clauses(c, node)
        .into_iter()
        .find(|(cl, _)| cl.clause_id == clause)
        .unwrap();
    (cl.text, o.map(|o| o.proposal_id.clone()))
}

#[test]
fn local_and_isolated_overrides_apply_to_their_nodes_and_conflicts_are_flagged() {
    use govmesh_core::model::{ConflictResolution, GovernanceScope, ResolutionType};
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.hub(0), m.hub(1), m.hub(2));
    let mut stewards = mesh_with_second_contract(&mut m);
    let fork = register(&mut m, 20, NodeType::TrustFork);
    let other = register(&mut m, 21, NodeType::TrustFork);
    // The stewards let the fork keep its own clause 2.
    stewards.local_overrides = [(fork.node_id().to_owned(), vec!["2".to_owned()])].into();
    m.submit(&h0, Operation::DefineDomain(stewards.clone()))
        .unwrap();
    let federated = text_for(&m, fork.node_id(), "2").0;

    // Local: clause 2 on the fork only, decided by the stewards; no new revision.
    let mut op = propose_on(&mut m, "data-retention", "2", "Kept 7 days on this fork.");
    op.governance_scope = Some(GovernanceScope::Local);
    op.local_node = Some(fork.node_id().to_owned());
    let local = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    let p = m.state.proposal(&local).unwrap();
    assert_eq!(
        (
            p.governance_scope.as_str(),
            p.local_override,
            p.local_node.as_deref()
        ),
        ("local", true, Some(fork.node_id()))
    );
    assert_eq!(p.domain_id, stewards.domain_id);
    approve_all(&mut m, &local, &[&h0, &h1]);
    assert_eq!(m.state.contract("data-retention").unwrap().revision, 1);
    assert_eq!(
        text_for(&m, fork.node_id(), "2"),
        ("Kept 7 days on this fork.".to_owned(), Some(local.clone()))
    );
    assert_eq!(text_for(&m, h2.node_id(), "2"), (federated.clone(), None));

    // A node neither listed nor privileged may not; nor may anyone hold their own
    // version of a clause the mesh runs on.
    let mut op = propose_on(&mut m, "data-retention", "2", "x");
    op.governance_scope = Some(GovernanceScope::Local);
    op.local_node = Some(other.node_id().to_owned());
    let e = m.submit(&h0, Operation::Propose(op)).unwrap_err();
    assert_eq!(e.code, RejectCode::NotPrivileged, "{e}");
    assert!(e.message.contains("local_overrides"), "{e}");
    let text = m
        .state
        .contract("codex")
        .unwrap()
        .clause("5.5")
        .unwrap()
        .text
        .clone();
    let mut op = m.propose_op("5.5", &text, Vec::new());
    op.governance_scope = Some(GovernanceScope::Local);
    let e = m.submit(&h0, Operation::Propose(op)).unwrap_err();
    assert!(e.message.contains("governs the whole mesh"), "{e}");

    // Isolated: the auditors (hubs 1 and 2) keep their own clause 1.
    let auditors = domain_spec(&mut m, "auditors", &h1, &[&h1, &h2], None, &[]);
    m.submit(&h1, Operation::DefineDomain(auditors.clone()))
        .unwrap();
    let mut op = propose_on(&mut m, "data-retention", "1", "Auditors keep everything.");
    op.governance_scope = Some(GovernanceScope::Isolated);
    op.domain_id = Some(auditors.domain_id.clone());
    let isolated = op.proposal_id.clone();
    m.submit(&h1, Operation::Propose(op)).unwrap();
    assert_eq!(
        m.state.proposal(&isolated).unwrap().domain_id,
        auditors.domain_id
    );
    approve_all(&mut m, &isolated, &[&h1, &h2]);
    assert_eq!(text_for(&m, h2.node_id(), "1").1, Some(isolated.clone()));
    assert_eq!(text_for(&m, h0.node_id(), "1").1, None);

    // A federated change of clause 2 flags the fork's override; it still applies.
    let op = propose_on(&mut m, "data-retention", "2", "Kept 60 days.");
    let fed = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    m.vote(&h0, &fed, VoteChoice::Approve).unwrap();
    let a = m.vote(&h1, &fed, VoteChoice::Approve).unwrap();
    assert_eq!(m.state.contract("data-retention").unwrap().revision, 2);
    let o = m
        .state
        .override_for("data-retention", "2", fork.node_id())
        .unwrap();
    let conflict = o.conflict.clone().expect("flagged");
    assert_eq!(
        (conflict.revision, conflict.proposal_id.as_str()),
        (2, fed.as_str())
    );
    assert!(
        a.events.iter().any(|e| matches!(e, Event::OverridesInConflict { conflict_ids, .. } if conflict_ids == &vec![conflict.conflict_id.clone()])),
        "{:?}",
        a.events
    );
    assert_eq!(
        text_for(&m, fork.node_id(), "2").0,
        "Kept 7 days on this fork."
    );

    // A resolution must name an open conflict; policy_a drops the override.
    let resolve = |m: &mut Mesh, conflict_id: &str| {
        let mut op = propose_on(m, "data-retention", "2", "Kept 60 days.");
        op.governance_scope = Some(GovernanceScope::Local);
        op.local_node = Some(fork.node_id().to_owned());
        op.conflict_resolution = Some(ConflictResolution {
            conflict_id: conflict_id.into(),
            resolution_id: m.fresh_id(),
            resolution_type: ResolutionType::PolicyA,
        });
        op
    };
    let bogus = m.fresh_id();
    let op = resolve(&mut m, &bogus);
    let e = m.submit(&h0, Operation::Propose(op)).unwrap_err();
    assert!(e.message.contains("not an open conflict"), "{e}");
    let op = resolve(&mut m, &conflict.conflict_id);
    let id = op.proposal_id.clone();
    m.submit(&h0, Operation::Propose(op)).unwrap();
    assert_eq!(
        m.state
            .proposal(&id)
            .unwrap()
            .conflict_resolution
            .as_ref()
            .unwrap()
            .resolution_type,
        ResolutionType::PolicyA
    );
    approve_all(&mut m, &id, &[&h0, &h1]);
    assert_eq!(
        text_for(&m, fork.node_id(), "2"),
        ("Kept 60 days.".to_owned(), None)
    );
}

#[test]
fn connections_are_declared_and_withdrawn_by_privileged_nodes() {
    use govmesh_core::entry::{ConnectOp, DisconnectOp};
    use govmesh_core::model::ConnectionType;
    use govmesh_core::topology::{derived_topology_id, topology_record};
    let mut m = Mesh::new();
    let (h0, h1) = (m.hub(0), m.hub(1));
    let witness = key(9);
    let fork = register(&mut m, 20, NodeType::TrustFork);
    let connect = |s: &KeyPair, t: &KeyPair, ty| {
        Operation::Connect(ConnectOp {
            source_node_id: s.node_id().to_owned(),
            target_node_id: t.node_id().to_owned(),
            connection_type: ty,
        })
    };
    // Clause 5.5 names can_override_policy for connect: a witness lacks it.
    let e = m
        .submit(&witness, connect(&witness, &fork, ConnectionType::Direct))
        .unwrap_err();
    assert_eq!(e.code, RejectCode::NotPrivileged, "{e}");
    assert_eq!(
        code(m.submit(&h0, connect(&h0, &h0, ConnectionType::Direct))),
        RejectCode::Forbidden
    );
    assert_eq!(
        code(m.submit(&h0, connect(&h0, &key(77), ConnectionType::Direct))),
        RejectCode::UnknownNode
    );
    m.submit(&h0, connect(&fork, &h1, ConnectionType::Relay))
        .unwrap();
    let before = m.state.topology_changes().to_vec();
    m.submit(&h0, connect(&witness, &h0, ConnectionType::Backup))
        .unwrap();
    let types: Vec<ConnectionType> = m
        .state
        .connections()
        .iter()
        .map(|c| c.connection_type)
        .collect();
    assert_eq!(types.len(), 2);
    assert!(types.contains(&ConnectionType::Relay) && types.contains(&ConnectionType::Backup));

    // The topology shows them (down: no gossip here) and names the previous topology.
    let mesh_id = m.state.mesh_id().unwrap();
    let t = topology_record(
        &m.state,
        &derived_topology_id(&mesh_id, 9, m.now),
        m.now,
        &[],
    );
    govmesh_core::schema::validate("topology", &t).unwrap();
    let conns = t["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2, "{t}");
    assert!(
        conns
            .iter()
            .all(|c| c["declared"] == true && c["status"] == "down")
    );
    let (index, at) = before[0];
    assert_eq!(
        t["previous_topology_id"],
        json!(derived_topology_id(&mesh_id, index + 1, at))
    );

    let disconnect = |s: &KeyPair, t: &KeyPair| {
        Operation::Disconnect(DisconnectOp {
            source_node_id: s.node_id().to_owned(),
            target_node_id: t.node_id().to_owned(),
        })
    };
    m.submit(&h1, disconnect(&fork, &h1)).unwrap();
    assert_eq!(m.state.connections().len(), 1);
    let e = m.submit(&h0, disconnect(&fork, &h1)).unwrap_err();
    assert!(e.message.contains("no connection"), "{e}");
}

#[test]
fn a_conflict_is_resolved_by_keeping_the_override_or_a_compromise() {
    use govmesh_core::model::{ConflictResolution, GovernanceScope, ResolutionType};
    let mut m = Mesh::new();
    let (h0, h1) = (m.hub(0), m.hub(1));
    mesh_with_second_contract(&mut m);
    // Hub 1 (can_override_policy) keeps its own clause 2; then a federated change.
    let local = |m: &mut Mesh, text: &str, res: Option<(String, ResolutionType)>| {
        let mut op = propose_on(m, "data-retention", "2", text);
        op.governance_scope = Some(GovernanceScope::Local);
        op.local_node = Some(m.hub(1).node_id().to_owned());
        op.conflict_resolution = res.map(|(conflict_id, resolution_type)| ConflictResolution {
            conflict_id,
            resolution_id: m.fresh_id(),
            resolution_type,
        });
        let id = op.proposal_id.clone();
        m.submit(&m.hub(0), Operation::Propose(op)).unwrap();
        approve_all(m, &id, &[&m.hub(0), &m.hub(1)]);
        id
    };
    let federate = |m: &mut Mesh, text: &str| {
        let op = propose_on(m, "data-retention", "2", text);
        let id = op.proposal_id.clone();
        m.submit(&m.hub(0), Operation::Propose(op)).unwrap();
        approve_all(m, &id, &[&m.hub(0), &m.hub(1)]);
    };
    let conflict = |m: &Mesh| {
        m.state
            .override_for("data-retention", "2", m.hub(1).node_id())
            .and_then(|o| o.conflict.clone())
    };
    local(&mut m, "Hub 1 keeps 5 days.", None);
    federate(&mut m, "Kept 45 days.");
    let c = conflict(&m).expect("flagged");

    // policy_b: the override stands, re-based onto revision 2, the conflict cleared.
    let b = local(
        &mut m,
        "ignored: policy_b keeps the override",
        Some((c.conflict_id, ResolutionType::PolicyB)),
    );
    let o = m
        .state
        .override_for("data-retention", "2", h1.node_id())
        .unwrap()
        .clone();
    assert_eq!(
        (o.text.as_str(), o.base_revision, o.conflict.is_none()),
        ("Hub 1 keeps 5 days.", 2, true)
    );
    assert_eq!(o.proposal_id, b);
    assert_eq!(text_for(&m, h0.node_id(), "2").0, "Kept 45 days.");

    // compromise: the resolving proposal's text becomes the override.
    federate(&mut m, "Kept 40 days.");
    let c = conflict(&m).expect("flagged again");
    local(
        &mut m,
        "Hub 1 keeps 20 days.",
        Some((c.conflict_id, ResolutionType::Compromise)),
    );
    let (text, by) = text_for(&m, h1.node_id(), "2");
    assert_eq!(text, "Hub 1 keeps 20 days.");
    assert!(by.is_some());
    assert!(conflict(&m).is_none());
}

#[test]
fn an_adopted_default_domain_id_hands_the_codex_to_another_council() {
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.hub(0), m.hub(1), m.hub(2));
    let smaller = domain_spec(&mut m, "two-hub council", &h0, &[&h0, &h1], None, &[]);
    m.submit(&h0, Operation::DefineDomain(smaller.clone()))
        .unwrap();
    adopt(
        &mut m,
        "5.5",
        vec![replace("/default_domain_id", json!(smaller.domain_id))],
    );
    // Codex proposals are now decided by the two-hub council: hub 2 is out of it.
    let id = m.propose(0, "11.0", "decided by two");
    assert_eq!(m.state.proposal(&id).unwrap().domain_id, smaller.domain_id);
    assert_eq!(
        code(m.vote(&h2, &id, VoteChoice::Approve)),
        RejectCode::NotMember
    );
    assert_eq!(
        m.state.deciding_domain("codex", "11.0").as_deref(),
        Some(smaller.domain_id.as_str())
    );
    // And the new council, like the old, cannot be redefined by define_domain.
    let mut again = smaller;
    again.description = "redefined".into();
    let e = m.submit(&h0, Operation::DefineDomain(again)).unwrap_err();
    assert!(e.message.contains("council domain"), "{e}");
}

/// Issue 16, `govmesh key rotate`: a node of any role replaces its own key with an
/// `update_node` signed by the old key and carrying the new key's proof of possession.
/// Entries signed before still replay; the old key signs nothing new, and its refusal
/// names the rotation.
#[test]
fn a_node_of_any_role_rotates_its_own_key_with_a_proof_of_possession() {
    use govmesh_core::entry::key_rotation_message;
    let mut m = Mesh::new();
    let fork = register(&mut m, 40, NodeType::TrustFork);
    let witness = key(9);
    let hub = m.hub(1);
    for (i, old) in [fork, witness, hub].into_iter().enumerate() {
        let node_id = old.node_id().to_owned();
        let new = key(50 + i as u8).with_node_id(node_id.clone());
        // Without the proof only clause 5.5's update_node privilege (hubs) may rotate.
        let mut bare = UpdateNodeOp::rotate_key(&node_id, &old.public(), &new);
        bare.key_proof = None;
        let r = m.submit(&old, Operation::UpdateNode(bare));
        if i < 2 {
            assert_eq!(code(r), RejectCode::NotPrivileged, "role {i}");
        } else {
            // A hub holds the privilege: its rotation without a proof stays accepted
            // (as logs written before the proof existed have it); undo it by rotating
            // back with the other key's proof.
            r.unwrap();
            let back = UpdateNodeOp::rotate_key(&node_id, &new.public(), &old);
            m.submit(&new, Operation::UpdateNode(back)).unwrap();
        }
        // A proof by another key, or one bound to another old key, is refused.
        let other = key(70 + i as u8);
        let mut forged = UpdateNodeOp::rotate_key(&node_id, &old.public(), &new);
        forged.key_proof = UpdateNodeOp::rotate_key(&node_id, &old.public(), &other).key_proof;
        let e = m.submit(&old, Operation::UpdateNode(forged)).unwrap_err();
        assert_eq!(e.code, RejectCode::BadSignature, "{e}");
        let stale = UpdateNodeOp::rotate_key(&node_id, &other.public(), &new);
        assert_eq!(
            code(m.submit(&old, Operation::UpdateNode(stale))),
            RejectCode::BadSignature
        );
        // The real rotation.
        let before = m.state.size();
        let op = UpdateNodeOp::rotate_key(&node_id, &old.public(), &new);
        let proof = op.key_proof.clone().unwrap();
        assert_eq!(proof.len(), 88);
        let sig = base64_decode(&proof);
        new.public()
            .verify(
                &key_rotation_message(&node_id, &old.public(), &new.public()),
                &sig,
            )
            .unwrap();
        m.submit(&old, Operation::UpdateNode(op)).unwrap();
        assert_eq!(m.state.node(&node_id).unwrap().public_key, new.public());
        // The old key signs nothing new, and the refusal says why.
        let again = UpdateNodeOp {
            node_id: node_id.clone(),
            status: None,
            network_address: Some(format!("10.0.0.{i}:7000")),
            public_key: None,
            key_proof: None,
        };
        let e = m
            .submit(&old, Operation::UpdateNode(again.clone()))
            .unwrap_err();
        assert_eq!(e.code, RejectCode::UnknownSigner, "{e}");
        assert!(
            e.message.contains("replaced by a key rotation")
                && e.message.contains(&format!("log index {before}")),
            "{e}"
        );
        // The new key does.
        m.submit(&new, Operation::UpdateNode(again)).unwrap();
    }
    // The whole log, old signatures included, replays to the same state.
    let mut fresh = State::new();
    for rec in &m.log {
        fresh.apply_record(rec).unwrap();
    }
    assert_eq!(fresh, m.state);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
