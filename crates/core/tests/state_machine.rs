//! The governance state machine end to end: real Ed25519 keys, signed entries, the
//! Codex genesis, proposals through votes to adoption or rejection, and every refusal
//! leaving the state exactly as it was.

use govmesh_core::Timestamp;
use govmesh_core::codex::codex_genesis;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{
    CloseOp, DomainSpec, LogRecord, NodeSpec, Operation, ProposeOp, UpdateNodeOp, VoteOp,
    WithdrawOp, sign_entry,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{
    Changes, DiffOp, NodeStatus, NodeType, PatchOperation, Privilege, ProposalStatus, VoteChoice,
};
use govmesh_core::state::{Applied, Event, RejectCode, Rejection, State};
use serde_json::{Value, json};

const T0: i64 = 1_764_154_800_000;

/// A mesh under test: keys, the state, and the log of accepted records.
struct Mesh {
    hubs: Vec<KeyPair>,
    state: State,
    log: Vec<LogRecord>,
    now: Timestamp,
    next_id: u8,
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
        let hubs: Vec<KeyPair> = (1..=3).map(key).collect();
        let mut founders: Vec<NodeSpec> = hubs
            .iter()
            .map(|k| spec(k, NodeType::GovernanceHub))
            .collect();
        founders.push(spec(&key(9), NodeType::ComplianceWitness));
        let genesis = codex_genesis("test-mesh", founders);
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
        self.submit_env(&sign_entry(k, op))
    }

    fn hub(&self, i: usize) -> KeyPair {
        self.hubs[i].clone()
    }

    fn advance(&mut self, secs: u64) {
        self.now = self.now.plus_secs(secs);
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        uuid::Builder::from_random_bytes([self.next_id; 16])
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
