//! A deterministic log that makes history other than proposals: recorded vote
//! equivocations, checkpoint forks, hygiene attestations, sync acks and recorded
//! refusals, with proposals that stay open until a late `close`; and, between its
//! records, probes (entries the state machine refuses: duplicates of each kind, a
//! vote by a suspended equivocator, a refusal recorded again inside and outside the
//! window) whose answers are part of what it decides.
//!
//! Built by driving a [`State`] (every record must be accepted, every probe refused),
//! with only what the state machine offered before history left it, so the same
//! generator runs on the code before and after.

#![allow(dead_code)]

use crate::loggen::{LogGen, uuid_for};
use govmesh_core::attestation::{HygienePredicate, HygieneSummary, sign_hygiene};
use govmesh_core::checkpoint::Checkpoint;
use govmesh_core::codex::CODEX_CONTRACT_ID;
use govmesh_core::digest::Digest;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{
    AckSyncOp, AttestOp, CloseOp, EvidenceKind, EvidenceOp, LogRecord, NodeSpec, Operation,
    ProposeOp, RecordRefusalOp, VoteOp, sign_entry_at,
};
use govmesh_core::evidence::mesh_origin;
use govmesh_core::intoto::ResourceDescriptor;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, NodeType, VoteChoice};
use govmesh_core::stamp::Timestamp;
use govmesh_core::state::{RejectCode, State};
use std::collections::BTreeMap;

/// One step of the log: a record, or a probe refused at a time.
#[derive(Clone, Debug)]
pub enum Step {
    Record(LogRecord),
    Probe(Envelope, Timestamp),
}

/// The log: its steps, and the generating state after the last record.
pub struct EvidenceLog {
    pub steps: Vec<Step>,
    pub state: State,
}

fn key(n: u64) -> KeyPair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0xe7;
    KeyPair::from_seed(seed)
}

struct Builder {
    state: State,
    steps: Vec<Step>,
    /// Milliseconds of the next record.
    now: i64,
}

impl Builder {
    fn at(&self) -> Timestamp {
        Timestamp::from_millis(self.now)
    }

    fn signed(&self, k: &KeyPair, op: Operation) -> Envelope {
        sign_entry_at(k, op, self.at())
    }

    fn record_env(&mut self, env: Envelope) {
        let rec = LogRecord {
            index: self.state.size(),
            timestamp: self.at(),
            envelope: env,
        };
        if let Err(e) = self.state.apply_record(&rec) {
            panic!("generated entry {} refused: {e}", rec.index);
        }
        self.steps.push(Step::Record(rec));
        // One second apart: the refusal window (300 s) spans a few rounds.
        self.now += 1000;
    }

    fn record(&mut self, k: &KeyPair, op: Operation) {
        let env = self.signed(k, op);
        self.record_env(env);
    }

    fn probe(&mut self, k: &KeyPair, op: Operation) {
        let env = self.signed(k, op);
        self.probe_env(env);
    }

    fn probe_env(&mut self, env: Envelope) {
        let mut s = self.state.clone();
        assert!(
            s.apply(&env, self.at()).is_err(),
            "a probe was accepted at {}",
            self.state.size()
        );
        self.steps.push(Step::Probe(env, self.at()));
    }

    fn note(&self, size: u64, root: &str, k: &KeyPair) -> String {
        let origin = mesh_origin(&self.state.mesh_id().expect("genesis"));
        Checkpoint {
            origin: origin.clone(),
            size,
            root: Digest::sha256(root.as_bytes()),
            extensions: vec![],
        }
        .sign(&origin, k)
        .to_text()
    }

    fn ack(&self) -> AckSyncOp {
        let c = self.state.contract(CODEX_CONTRACT_ID).expect("codex");
        AckSyncOp {
            contract_id: CODEX_CONTRACT_ID.into(),
            revision: c.revision,
            contract_hash: c.contract_hash,
        }
    }

    fn attestation(&self, witness: &KeyPair, round: u64) -> Envelope {
        let rev = self.state.contract(CODEX_CONTRACT_ID).expect("codex");
        let p = HygienePredicate {
            contract_id: CODEX_CONTRACT_ID.into(),
            revision: rev.revision,
            contract_hash: Some(rev.contract_hash),
            clause_id: "5.2.5".into(),
            clause_hash: rev.clause("5.2.5").expect("5.2.5").hash().expect("hash"),
            summary: HygieneSummary {
                files_checked: 10 + round,
                errors: round % 3,
                warnings: round % 5,
                infos: 0,
                reuse_compliant: Some(round.is_multiple_of(2)),
            },
            passed: round.is_multiple_of(3),
        };
        let subject = vec![ResourceDescriptor {
            name: Some(format!("git+round-{round}")),
            digest: BTreeMap::from([
                ("gitCommit".into(), format!("{round:040x}")),
                ("sha256".into(), format!("{:064x}", round % 4)),
            ]),
        }];
        sign_hygiene(witness, subject, &p)
    }
}

/// `rounds` rounds on a genesis of `6 + rounds` founding hubs and a compliance witness:
/// each opens a proposal that founder `6 + round` votes on twice (an equivocation,
/// which suspends it), records a checkpoint fork, an attestation, a
/// refusal and (for each node in turn) an ack, with probes; then, past the voting
/// period, closes every proposal.
///
/// The genesis is the Codex as it was before clause 5.4's `replay_window_secs` (a mesh
/// founded before the rule), so this is byte for byte the log the code before
/// evidence left the state generated (d55457c): `DIGEST_BEFORE` and the schema-4
/// fixture were made from it there. Its entries carry `signed_at` all the same.
pub fn evidence_log(rounds: u64) -> EvidenceLog {
    let gen_ = LogGen::before_replay_rule(6 + rounds as usize, 1);
    let hubs = gen_.hubs.clone();
    let mut b = Builder {
        state: State::new(),
        steps: Vec::new(),
        now: gen_.time(0).millis(),
    };
    b.record_env(gen_.entry(0));
    let witness = key(1_000_000);
    let spec = |k: &KeyPair, t: NodeType| NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type: t,
        public_key: k.public(),
        network_address: None,
        display_name: None,
        node_policy_capabilities: Vec::new(),
    };
    b.record(
        &hubs[0],
        Operation::RegisterNode(spec(&witness, NodeType::ComplianceWitness)),
    );
    let base = b
        .state
        .clause_hash(CODEX_CONTRACT_ID, "5.4")
        .expect("clause 5.4");
    let text = b
        .state
        .contract(CODEX_CONTRACT_ID)
        .and_then(|c| c.clause("5.4"))
        .expect("clause 5.4")
        .text
        .clone();
    // Nodes that ack, in turn: the founders, then the witness.
    let mut ackers: Vec<KeyPair> = hubs.clone();
    ackers.push(witness.clone());
    let mut first_ack: Option<(KeyPair, AckSyncOp)> = None;
    let mut refused: Vec<Envelope> = Vec::new();
    let mut forks: Vec<[String; 2]> = Vec::new();
    let mut proposals = Vec::new();
    for r in 0..rounds {
        let newcomer = hubs[6 + r as usize].clone();
        let id = uuid_for(10_000 + r);
        proposals.push(id.clone());
        let proposer = &hubs[(r % 3) as usize];
        b.record(
            proposer,
            Operation::Propose(ProposeOp::amend(
                id.clone(),
                CODEX_CONTRACT_ID,
                "5.4",
                base,
                format!("evidence round {r}"),
                Changes {
                    current_text: text.clone(),
                    proposed_text: format!("{text} (round {r})"),
                    diff: Vec::new(),
                },
            )),
        );
        b.record(
            &hubs[3],
            Operation::Vote(VoteOp::new(id.clone(), VoteChoice::Approve)),
        );
        b.record(
            &newcomer,
            Operation::Vote(VoteOp::new(id.clone(), VoteChoice::Approve)),
        );
        // The same sequence, another choice: an equivocation, and a suspension.
        b.record(
            &newcomer,
            Operation::Vote(VoteOp::new(id.clone(), VoteChoice::Reject)),
        );
        b.probe(
            &newcomer,
            Operation::Vote(VoteOp::new(id.clone(), VoteChoice::Abstain)),
        );
        // A checkpoint fork at a new size, signed by two founders.
        let size = 100 + r;
        let notes = [
            b.note(size, &format!("a{r}"), &hubs[(r % 6) as usize]),
            b.note(size, &format!("b{r}"), &hubs[((r + 1) % 6) as usize]),
        ];
        b.record(
            &witness,
            Operation::Evidence(EvidenceOp {
                kind: EvidenceKind::CheckpointFork,
                notes: notes.to_vec(),
            }),
        );
        forks.push(notes);
        // The first fork again, its notes swapped: a duplicate.
        let [x, y] = forks[0].clone();
        b.probe(
            &hubs[1],
            Operation::Evidence(EvidenceOp {
                kind: EvidenceKind::CheckpointFork,
                notes: vec![y, x],
            }),
        );
        let env = b.attestation(&witness, r);
        b.record(&witness, Operation::Attest(AttestOp { envelope: env }));
        // A vote on no proposal by founder 4, refused and recorded by founder 5.
        let bad = b.signed(
            &hubs[4],
            Operation::Vote(VoteOp::new(uuid_for(90_000 + r), VoteChoice::Approve)),
        );
        b.record(
            &hubs[5],
            Operation::RecordRefusal(RecordRefusalOp {
                envelope: bad.clone(),
                code: RejectCode::UnknownProposal,
            }),
        );
        refused.push(bad.clone());
        // Recorded again: now (a duplicate), and the first one (once out of the
        // window, refused for its age).
        for env in [bad, refused[0].clone()] {
            b.probe(
                &hubs[2],
                Operation::RecordRefusal(RecordRefusalOp {
                    envelope: env,
                    code: RejectCode::UnknownProposal,
                }),
            );
        }
        // One node acks revision 1; the first ack, signed again, is a duplicate.
        if let Some(k) = ackers.get(r as usize).cloned() {
            let op = b.ack();
            b.record(&k, Operation::AckSync(op.clone()));
            first_ack.get_or_insert((k, op));
        }
        if let Some((k, op)) = first_ack.clone() {
            b.probe(&k, Operation::AckSync(op));
        }
    }
    // Past every voting period: each proposal is closed (the equivocators are left
    // out of `proposal_missed`).
    b.now += 8 * 86_400 * 1000;
    for id in proposals {
        b.record(
            &hubs[0],
            Operation::Close(CloseOp {
                proposal_id: id,
                track: None,
            }),
        );
    }
    EvidenceLog {
        steps: b.steps,
        state: b.state,
    }
}
