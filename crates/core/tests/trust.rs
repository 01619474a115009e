//! Trust aggregation: EigenTrust against examples worked by hand and against the
//! paper's convergence property, and observations read from a real signed log
//! (clause 5.4 `trust_model`).

use govmesh_core::Timestamp;
use govmesh_core::codex::codex_genesis;
use govmesh_core::entry::{
    AckSyncOp, CloseOp, NodeSpec, Operation, ProposeOp, VoteOp, sign_entry, sign_entry_at,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, DiffOp, NodeType, PatchOperation, ProposalStatus, VoteChoice};
use govmesh_core::state::{Applied, EpochCause, KindTally, Rejection, State};
use govmesh_core::trust::{
    self, Cell, Effect, FRAC_ONE, LocalTrust, Normalized, ONE, ObservationKind, Params,
};
use serde_json::{Value, json};

// ---- EigenTrust, by hand -------------------------------------------------------

/// Three nodes A=0, B=1, C=2; A is the one pre-trusted node; alpha = 1/2.
/// Local trust: A→B 3, A→C 1 (so c_AB = 3/4, c_AC = 1/4), B→C 1 (c_BC = 1),
/// C→A 1 (c_CA = 1). Scores are in units of 2^-40, so quarters, eighths and
/// sixteenths of ONE are exact.
#[test]
fn eigentrust_matches_a_three_node_example_worked_by_hand() {
    let mut m = LocalTrust::with_nodes(3);
    m.add(0, 1, Effect::Positive, 3);
    m.add(0, 2, Effect::Positive, 1);
    m.add(1, 2, Effect::Positive, 1);
    m.add(2, 0, Effect::Positive, 2);
    m.add(2, 0, Effect::Negative, 1); // s_CA = max(2 − 1, 0) = 1
    let c = m.normalized();
    // Row A: Σ s = 4, floor(2^64 / 4) = 2^62; c_AB = 3·2^62 / 2^32 = 3·2^30 = 0.75.
    assert_eq!(
        c.row(0).collect::<Vec<_>>(),
        vec![(1, 3 * FRAC_ONE / 4), (2, FRAC_ONE / 4)]
    );
    assert_eq!(c.row(1).collect::<Vec<_>>(), vec![(2, FRAC_ONE)]);
    assert_eq!(c.row(2).collect::<Vec<_>>(), vec![(0, FRAC_ONE)]);
    let half = FRAC_ONE / 2;
    let pre = [0u32];
    // t0 = p = (1, 0, 0).
    let t0 = trust::uniform(3, &pre);
    assert_eq!(t0, vec![ONE, 0, 0]);
    // Iteration 1: m_A = (1 − 1/2)·1 = 1/2; w_B = 1/2·3/4 = 3/8, w_C = 1/2·1/4 = 1/8.
    // Walked 1/2, so the rest 1/2 (alpha's share) goes to p = A: t1 = (1/2, 3/8, 1/8).
    // L1 change: 1/2 + 3/8 + 1/8 = 1.
    let mut t1 = vec![0; 3];
    let d1 = trust::step(&c, &pre, half, &t0, &mut t1);
    assert_eq!(t1, vec![ONE / 2, 3 * ONE / 8, ONE / 8]);
    assert_eq!(d1, ONE);
    // Iteration 2: m_A = 1/4 → w_B = 3/16, w_C = 1/16; m_B = 3/16 → w_C += 3/16;
    // m_C = 1/16 → w_A = 1/16. Walked 8/16 = 1/2, rest 1/2 to A:
    // t2 = (9/16, 3/16, 4/16); L1 change 1/16 + 3/16 + 2/16 = 6/16.
    let mut t2 = vec![0; 3];
    let d2 = trust::step(&c, &pre, half, &t1, &mut t2);
    assert_eq!(t2, vec![9 * ONE / 16, 3 * ONE / 16, 4 * ONE / 16]);
    assert_eq!(d2, 6 * ONE / 16);
    // The fixed point: t_B = 1/2·3/4·t_A = 3/8 t_A; t_C = 1/2·(1/4 t_A + t_B) = 5/16 t_A;
    // t_A = 1/2·t_C + 1/2 = 5/32 t_A + 1/2, so t_A = 16/27, t_B = 6/27, t_C = 5/27.
    let eps = 1100; // ≈ 1e-9 · 2^40
    let out = trust::eigentrust(
        &c,
        &pre,
        Params {
            alpha_fx: half,
            epsilon_fx: eps,
            max_iterations: 200,
        },
        None,
    );
    assert!(out.converged, "{out:?}");
    // The change shrinks by at least (1 − alpha) = 1/2 per iteration (26 here).
    assert!((10..=40).contains(&out.iterations), "{}", out.iterations);
    for (got, (num, den)) in out.scores.iter().zip([(16u128, 27u128), (6, 27), (5, 27)]) {
        let exact = (u128::from(ONE) * num / den) as u64;
        assert!(got.abs_diff(exact) <= 2 * eps, "{got} vs {exact}");
    }
    assert_eq!(out.scores.iter().sum::<u64>(), ONE);
}

/// A row without outgoing trust follows p. A=0 (pre-trusted) trusts B=1; B trusts
/// nobody; alpha = 1/2. t_A = 1/2 (alpha) + 1/2·t_B (B's walk goes to p)
/// and t_B = 1/2·t_A, so t_A = 1/2 + 1/4 t_A: t_A = 2/3, t_B = 1/3.
#[test]
fn a_row_without_outgoing_trust_follows_the_pre_trusted() {
    let c = Normalized::from_rows(&[vec![(1, FRAC_ONE)], vec![]]);
    let out = trust::eigentrust(
        &c,
        &[0],
        Params {
            alpha_fx: FRAC_ONE / 2,
            epsilon_fx: 1000,
            max_iterations: 100,
        },
        None,
    );
    assert!(out.converged);
    assert!(out.scores[0].abs_diff(2 * ONE / 3) < 2000);
    assert!(out.scores[1].abs_diff(ONE / 3) < 2000);
    // With no pre-trusted node at all, p is uniform over every node: the rest R =
    // 1 − t_A/2 is shared, so t_A = R/2 = 1/2 − t_A/4: t_A = 2/5, t_B = 3/5.
    let none = trust::eigentrust(
        &c,
        &[],
        Params {
            alpha_fx: FRAC_ONE / 2,
            epsilon_fx: 1000,
            max_iterations: 100,
        },
        None,
    );
    assert!(none.scores[0].abs_diff(2 * ONE / 5) < 2000);
    assert_eq!(none.scores.iter().sum::<u64>(), ONE);
}

/// A small deterministic generator (64-bit LCG), so the test needs no RNG crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// The paper's convergence property: the result is the fixed point, so one more
/// iteration changes it by less than epsilon; the scores sum to one exactly in fixed
/// point; and a warm start from the result stops after one iteration.
#[test]
fn eigentrust_stops_at_its_fixed_point_and_scores_sum_to_one() {
    let model = trust::TrustModel::default();
    for seed in 1..=5u64 {
        let mut rng = Lcg(seed);
        let n = 60;
        let mut m = LocalTrust::with_nodes(n);
        for _ in 0..600 {
            let (i, j) = (
                (rng.next() % n as u64) as u32,
                (rng.next() % n as u64) as u32,
            );
            let effect = if rng.next().is_multiple_of(5) {
                Effect::Negative
            } else {
                Effect::Positive
            };
            m.add(i, j, effect, 1_000_000 * (1 + rng.next() % 3));
        }
        let c = m.normalized();
        let pre = [0, 1, 2];
        let out = trust::eigentrust(&c, &pre, model.params(), None);
        assert!(out.converged, "seed {seed}: {out:?}");
        assert!(out.iterations <= model.max_iterations);
        assert_eq!(out.scores.iter().sum::<u64>(), ONE);
        let mut again = vec![0; n];
        let d = trust::step(&c, &pre, model.alpha_fx, &out.scores, &mut again);
        assert!(d < model.epsilon_fx, "seed {seed}: {d}");
        let warm = trust::eigentrust(&c, &pre, model.params(), Some(&out.scores));
        assert_eq!(warm.iterations, 1);
    }
}

// ---- observations from a signed log --------------------------------------------

const T0: i64 = 1_764_154_800_000;

struct Mesh {
    hubs: Vec<KeyPair>,
    witness: KeyPair,
    state: State,
    now: Timestamp,
    next_id: u8,
}

fn spec(k: &KeyPair, node_type: NodeType) -> NodeSpec {
    NodeSpec::new(k, node_type)
}

impl Mesh {
    /// Three founding hubs and one founding witness.
    fn new() -> Mesh {
        let hubs: Vec<KeyPair> = (1..=3).map(|s| KeyPair::from_seed([s; 32])).collect();
        let witness = KeyPair::from_seed([9; 32]);
        let mut founders: Vec<NodeSpec> = hubs
            .iter()
            .map(|k| spec(k, NodeType::GovernanceHub))
            .collect();
        founders.push(spec(&witness, NodeType::ComplianceWitness));
        let mut m = Mesh {
            hubs,
            witness,
            state: State::new(),
            now: Timestamp(T0),
            next_id: 0,
        };
        let g = codex_genesis("trust-mesh", founders);
        let k = m.hubs[0].clone();
        m.submit(&k, Operation::Genesis(g)).expect("genesis");
        m
    }

    fn submit(&mut self, k: &KeyPair, op: Operation) -> Result<Applied, Rejection> {
        let env = match op {
            Operation::Genesis(_) => sign_entry(k, op),
            op => sign_entry_at(k, op, self.now),
        };
        self.state.apply(&env, self.now)
    }

    fn id(&self, h: usize) -> String {
        self.hubs[h].node_id().to_owned()
    }

    fn propose(
        &mut self,
        by: usize,
        clause: &str,
        diff: Vec<DiffOp>,
        period: Option<u64>,
    ) -> String {
        self.next_id += 1;
        let c = self
            .state
            .contract("codex")
            .unwrap()
            .clause(clause)
            .unwrap()
            .clone();
        let id = uuid::Builder::from_random_bytes([self.next_id; 16])
            .into_uuid()
            .to_string();
        let op = ProposeOp {
            proposal_id: id.clone(),
            contract_id: "codex".into(),
            target_contract_clause: clause.into(),
            base_clause_hash: c.hash().unwrap(),
            domain_id: None,
            rationale: "trust test".into(),
            changes: Changes {
                current_text: c.text.clone(),
                proposed_text: format!("{} (changed {})", c.text, self.next_id),
                diff,
            },
            voting_period_secs: period,
            expedited: false,
            restore_rights: None,
            create_contract: None,
            governance_scope: None,
            local_node: None,
            conflict_resolution: None,
        };
        let k = self.hubs[by].clone();
        self.submit(&k, Operation::Propose(op)).expect("propose");
        id
    }

    fn vote(&mut self, by: usize, id: &str, choice: VoteChoice) -> Applied {
        let k = self.hubs[by].clone();
        self.submit(
            &k,
            Operation::Vote(VoteOp {
                proposal_id: id.into(),
                choice,
                reason: None,
                sequence: 0,
            }),
        )
        .expect("vote")
    }

    fn ack(&mut self, k: &KeyPair, revision: u64) {
        let rev = self.state.revision("codex", revision).unwrap();
        let op = AckSyncOp {
            contract_id: "codex".into(),
            revision,
            contract_hash: rev.contract_hash,
        };
        let k = k.clone();
        self.submit(&k, Operation::AckSync(op)).expect("ack");
    }

    fn received(&self, node: &str, kind: ObservationKind) -> Option<KindTally> {
        self.state.trust().received(node)?.get(&kind).copied()
    }

    fn cell(&self, observer: &str, subject: &str) -> Option<Cell> {
        self.state
            .trust()
            .observed_by(observer)
            .into_iter()
            .find(|(s, _)| *s == subject)
            .map(|(_, c)| c)
    }
}

fn replace(path: &str, value: Value) -> DiffOp {
    DiffOp {
        path: path.into(),
        operation: PatchOperation::Replace,
        value,
    }
}

const W: u64 = 1_000_000; // a weight of 1 in millionths

#[test]
fn observations_come_from_a_signed_log_and_name_who_observed_whom() {
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.id(0), m.id(1), m.id(2));
    let wit = m.witness.node_id().to_owned();
    // The genesis computed the first epoch: everything on the pre-trusted hubs.
    let e = m.state.trust().last_epoch().unwrap().clone();
    assert_eq!((e.index, e.cause, e.revision), (0, EpochCause::Genesis, 1));
    assert_eq!(m.state.trust_score(&wit), Some(0));
    let third = m.state.trust_score(&h0).unwrap();
    assert!(third.abs_diff(ONE / 3) <= 1);

    // Revision 1's source is the genesis author (hub 0). Hub 1 acknowledges in time.
    let k1 = m.hubs[1].clone();
    m.ack(&k1, 1);
    assert_eq!(
        m.received(&h1, ObservationKind::SyncAckTimely),
        Some(KindTally {
            count: 1,
            weight_fx: W
        })
    );
    assert_eq!(
        m.cell(&h0, &h1),
        Some(Cell {
            positive: W,
            negative: 0
        })
    );

    // Hub 0 proposes; hubs 1 and 2 approve (adopted at the second vote).
    let p1 = m.propose(0, "5.4", Vec::new(), None);
    m.vote(1, &p1, VoteChoice::Approve);
    m.vote(2, &p1, VoteChoice::Approve);
    assert_eq!(
        m.state.proposal(&p1).unwrap().status,
        ProposalStatus::Adopted
    );
    // The proposer observed both votes.
    assert_eq!(
        m.cell(&h0, &h1),
        Some(Cell {
            positive: 2 * W,
            negative: 0
        })
    );
    assert_eq!(
        m.cell(&h0, &h2),
        Some(Cell {
            positive: W,
            negative: 0
        })
    );
    // The adoption was an epoch boundary.
    let e = m.state.trust().last_epoch().unwrap().clone();
    assert_eq!((e.cause, e.revision), (EpochCause::Revision, 2));
    assert_eq!(e.index, m.state.size() - 1);

    // Revision 2 came from hub 2's deciding vote; hub 0 acknowledges in time...
    let k0 = m.hubs[0].clone();
    m.ack(&k0, 2);
    assert_eq!(
        m.cell(&h2, &h0),
        Some(Cell {
            positive: W,
            negative: 0
        })
    );
    // ...then 301 s pass (the deadline is 300 s): the next entry finds hub 1 and the
    // witness late for revision 2 (observed by hub 2) and hub 2 and the witness late
    // for revision 1 (observed by hub 0). Hub 1's late ack itself adds nothing more.
    m.now = m.now.plus_secs(301);
    m.ack(&k1, 2);
    assert_eq!(
        m.cell(&h2, &h1),
        Some(Cell {
            positive: 0,
            negative: W
        })
    );
    assert_eq!(
        m.cell(&h2, &wit),
        Some(Cell {
            positive: 0,
            negative: W
        })
    );
    assert_eq!(
        m.cell(&h0, &h2),
        Some(Cell {
            positive: W,
            negative: W
        })
    );
    assert_eq!(
        m.cell(&h0, &wit),
        Some(Cell {
            positive: 0,
            negative: W
        })
    );
    assert_eq!(
        m.received(&wit, ObservationKind::SyncAckLate),
        Some(KindTally {
            count: 2,
            weight_fx: 2 * W
        })
    );
    assert_eq!(
        m.received(&h1, ObservationKind::SyncAckLate).unwrap().count,
        1
    );

    // Hub 1 proposes with a 60 s period; hub 0 votes twice, differently: proven
    // equivocation (weight 100, negative), observed by the proposer.
    let p2 = m.propose(1, "5.2.5", Vec::new(), Some(60));
    m.vote(0, &p2, VoteChoice::Approve);
    m.vote(0, &p2, VoteChoice::Reject);
    assert_eq!(
        m.cell(&h1, &h0),
        Some(Cell {
            positive: W,
            negative: 100 * W
        })
    );
    assert_eq!(
        m.received(&h0, ObservationKind::EquivocationProven),
        Some(KindTally {
            count: 1,
            weight_fx: 100 * W
        })
    );
    // Closed at the end of its period: hub 2 never voted, so it missed it.
    m.now = m.now.plus_secs(61);
    m.submit(
        &k0,
        Operation::Close(CloseOp {
            proposal_id: p2.clone(),
            track: None,
        }),
    )
    .expect("close");
    assert_eq!(
        m.cell(&h1, &h2),
        Some(Cell {
            positive: 0,
            negative: W
        })
    );
    assert_eq!(
        m.received(&h2, ObservationKind::ProposalMissed)
            .unwrap()
            .count,
        1
    );
    // Nobody observed themselves, and the witness observed nobody.
    for h in [&h0, &h1, &h2, &wit] {
        assert!(m.cell(h, h).is_none());
    }
    assert!(m.state.trust().observed_by(&wit).is_empty());
    // The observations behind hub 0, newest last, with their entries' indexes.
    let recent = m.state.trust().recent(&h0).unwrap();
    let kinds: Vec<_> = recent
        .iter()
        .map(|o| (o.kind, o.observer.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ObservationKind::SyncAckTimely, h2.as_str()),
            // Hub 0's first vote on p2 counted; its second, different one is evidence.
            (ObservationKind::VoteCast, h1.as_str()),
            (ObservationKind::EquivocationProven, h1.as_str())
        ]
    );
    // s(h1 → h0) = max(1 − 100, 0) = 0: hub 1 gives hub 0 no trust at all now.
    let c = m.state.trust().local().normalized();
    let i1 = m.state.trust().index_of(&h1).unwrap();
    let i0 = m.state.trust().index_of(&h0).unwrap();
    assert!(c.row(i1 as usize).all(|(j, _)| j != i0));
    // A replay of the same entries by another state gives the same trust byte for byte
    // (checked on real stores in govmesh-store's tests).
    let bytes = serde_json::to_vec(m.state.trust()).unwrap();
    assert!(!bytes.is_empty());
}

#[test]
fn an_adopted_trust_model_governs_from_its_revision_on() {
    let mut m = Mesh::new();
    let (h0, h1) = (m.id(0), m.id(1));
    // Raise vote_cast's weight to 5 and alpha to 0.5.
    let p = m.propose(
        0,
        "5.4",
        vec![
            replace("/trust_model/observations/0/weight", json!(5)),
            replace("/trust_model/alpha", json!(0.5)),
        ],
        None,
    );
    m.vote(1, &p, VoteChoice::Approve);
    // Observed under the genesis model: weight 1.
    assert_eq!(
        m.cell(&h0, &h1),
        Some(Cell {
            positive: W,
            negative: 0
        })
    );
    m.vote(2, &p, VoteChoice::Approve);
    assert_eq!(
        m.state.proposal(&p).unwrap().status,
        ProposalStatus::Adopted
    );
    assert_eq!(m.state.trust().model().alpha_fx, FRAC_ONE / 2);
    // Hub 2's vote was the adopting entry, observed after the adoption: weight 5.
    assert_eq!(
        m.received(&m.id(2), ObservationKind::VoteCast),
        Some(KindTally {
            count: 1,
            weight_fx: 5 * W
        })
    );
    let q = m.propose(0, "5.2.5", Vec::new(), None);
    m.vote(1, &q, VoteChoice::Reject);
    assert_eq!(
        m.cell(&h0, &h1),
        Some(Cell {
            positive: 6 * W,
            negative: 0
        })
    );
    // A model the code cannot compute is refused when proposed, naming the rule.
    m.next_id += 1;
    let c = m
        .state
        .contract("codex")
        .unwrap()
        .clause("5.4")
        .unwrap()
        .clone();
    let bad = ProposeOp {
        proposal_id: uuid::Builder::from_random_bytes([0xee; 16])
            .into_uuid()
            .to_string(),
        contract_id: "codex".into(),
        target_contract_clause: "5.4".into(),
        base_clause_hash: c.hash().unwrap(),
        domain_id: None,
        rationale: "bad".into(),
        changes: Changes {
            current_text: c.text.clone(),
            proposed_text: c.text.clone(),
            diff: vec![replace("/trust_model/algorithm", json!("pagerank"))],
        },
        voting_period_secs: None,
        create_contract: None,
        governance_scope: None,
        local_node: None,
        conflict_resolution: None,
        expedited: false,
        restore_rights: None,
    };
    let k = m.hubs[0].clone();
    let e = m.submit(&k, Operation::Propose(bad)).unwrap_err();
    assert!(e.message.contains("eigentrust"), "{e}");
}

#[test]
fn scores_are_recomputed_every_thousand_entries() {
    let mut m = Mesh::new();
    let (h1, h2) = (m.id(1), m.id(2));
    let p = m.propose(0, "5.2.5", Vec::new(), None);
    m.vote(1, &p, VoteChoice::Approve);
    // Registrations by hub 0 until the log holds 1,000 entries.
    let mut n = 0u64;
    while m.state.size() < 1000 {
        assert_eq!(m.state.trust().last_epoch().unwrap().index, 0);
        n += 1;
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        let k = KeyPair::from_seed(seed);
        let hub0 = m.hubs[0].clone();
        m.submit(
            &hub0,
            Operation::RegisterNode(spec(&k, NodeType::TrustFork)),
        )
        .expect("register");
    }
    let e = m.state.trust().last_epoch().unwrap().clone();
    assert_eq!((e.index, e.cause), (999, EpochCause::Entries));
    assert_eq!(e.scores.len(), m.state.trust().ids().len());
    assert_eq!(e.scores.iter().sum::<u64>(), ONE);
    // Hub 1 is trusted by hub 0 for its vote; hub 2 only as pre-trusted.
    assert!(m.state.trust_score(&h1).unwrap() > m.state.trust_score(&h2).unwrap());
}

/// A policy's `min_trust_score` and `weight_by_trust` (resolved like any policy field,
/// here clause 5.5's per-clause policy for 5.2.5) decide who votes and with what
/// weight, from the scores of the last computation before the proposal opened.
#[test]
fn a_policy_can_require_a_trust_score_and_weigh_votes_by_it() {
    let mut m = Mesh::new();
    let (h0, h1, h2) = (m.id(0), m.id(1), m.id(2));
    // Clause 5.5 (threshold 0.667: all three hubs) gives clause 5.2.5 a minimum score
    // of 0.3 and trust-weighted votes. Hub 0 proposes, so it observes hubs 1 and 2.
    let p = m.propose(
        0,
        "5.5",
        vec![DiffOp {
            path: "/clause_voting_policies/5.2.5".into(),
            operation: PatchOperation::Add,
            value: json!({"min_trust_score": 0.3, "weight_by_trust": true}),
        }],
        None,
    );
    for h in 0..3 {
        m.vote(h, &p, VoteChoice::Approve);
    }
    assert_eq!(
        m.state.proposal(&p).unwrap().status,
        ProposalStatus::Adopted
    );
    // The adoption's computation: hub 0's row gives hubs 1 and 2 half each; their rows
    // are empty (they observed nobody), so their walk goes to p. With a = t_h0 and
    // alpha 0.15: a = (1 − 0.85·a)/3, a = 1/3.85 ≈ 0.2597; t_h1 = t_h2 = a + 0.85·a/2
    // ≈ 0.3701.
    let score = |id: &str| m.state.trust_score(id).unwrap();
    let (s0, s1, s2) = (score(&h0), score(&h1), score(&h2));
    assert!((trust::score_f64(s0) - 1.0 / 3.85).abs() < 1e-4, "{s0}");
    assert!((trust::score_f64(s1) - 1.425 / 3.85).abs() < 1e-4, "{s1}");
    assert_eq!(s1, s2);
    let q = m.propose(1, "5.2.5", Vec::new(), None);
    let eligible = m.state.eligible_voters(&q).unwrap().clone();
    // Hub 0 (≈ 0.26) is below 0.3: not eligible. Hubs 1 and 2 weigh their score in
    // millionths.
    assert_eq!(
        eligible,
        [
            (h1.clone(), trust::weigh(1, s1)),
            (h2.clone(), trust::weigh(1, s2))
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        trust::weigh(1, s1),
        (u128::from(s1) * 1_000_000 / u128::from(ONE)) as u64
    );
    let k0 = m.hubs[0].clone();
    let refused = m
        .submit(
            &k0,
            Operation::Vote(VoteOp {
                proposal_id: q.clone(),
                choice: VoteChoice::Approve,
                reason: None,
                sequence: 0,
            }),
        )
        .unwrap_err();
    assert!(
        refused.message.contains("not among the eligible voters"),
        "{refused}"
    );
    // The policy frozen with the proposal names both rules; a proposal on another
    // clause keeps today's behaviour (every hub, weight 1).
    let pol = m.state.voting_policy(&q).unwrap();
    assert_eq!(
        (pol.min_trust_score, pol.weight_by_trust),
        (Some(0.3), true)
    );
    let r = m.propose(1, "11.0", Vec::new(), None);
    let all = m.state.eligible_voters(&r).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.values().all(|w| *w == 1));
    // A share outside [0, 1] is refused when proposed.
    let bad = m
        .state
        .contract("codex")
        .unwrap()
        .clause("5.5")
        .unwrap()
        .clone();
    let op = ProposeOp {
        proposal_id: uuid::Builder::from_random_bytes([0xdd; 16])
            .into_uuid()
            .to_string(),
        contract_id: "codex".into(),
        target_contract_clause: "5.5".into(),
        base_clause_hash: bad.hash().unwrap(),
        domain_id: None,
        rationale: "bad".into(),
        changes: Changes {
            current_text: bad.text.clone(),
            proposed_text: bad.text.clone(),
            diff: vec![replace(
                "/clause_voting_policies/5.2.5/min_trust_score",
                json!(2),
            )],
        },
        voting_period_secs: None,
        create_contract: None,
        governance_scope: None,
        local_node: None,
        conflict_resolution: None,
        expedited: false,
        restore_rights: None,
    };
    let e = m.submit(&k0, Operation::Propose(op)).unwrap_err();
    assert!(e.message.contains("min_trust_score"), "{e}");
}

// ---- refused submissions recorded in the log (`record_refusal`) -----------------

mod refusals {
    use super::*;
    use govmesh_core::dsse::Envelope;
    use govmesh_core::entry::{RecordRefusalOp, sign_entry_at};
    use govmesh_core::state::{Event, REFUSAL_WINDOW_SECS, RejectCode};

    /// A proposal id no proposal has.
    const UNKNOWN: &str = "0b6c1a52-8d3e-4f1a-9c2b-5e7d8f9a0b1c";

    fn vote_env(k: &KeyPair, proposal_id: &str, at: Timestamp) -> Envelope {
        sign_entry_at(
            k,
            Operation::Vote(VoteOp::new(proposal_id, VoteChoice::Approve)),
            at,
        )
    }

    fn record(
        m: &mut Mesh,
        by: &KeyPair,
        envelope: &Envelope,
        code: RejectCode,
    ) -> Result<Applied, Rejection> {
        m.submit(
            by,
            Operation::RecordRefusal(RecordRefusalOp {
                envelope: envelope.clone(),
                code,
            }),
        )
    }

    fn refused(r: Result<Applied, Rejection>, code: RejectCode, needle: &str) {
        let e = r.expect_err("record accepted");
        assert_eq!(e.code, code, "{e}");
        assert!(e.message.contains(needle), "{e:?} does not say {needle:?}");
    }

    #[test]
    fn a_hub_records_a_refused_vote_once_and_its_signer_is_observed() {
        let mut m = Mesh::new();
        let (h0, h1) = (m.id(0), m.id(1));
        let (k0, k1, k2) = (m.hubs[0].clone(), m.hubs[1].clone(), m.hubs[2].clone());
        let env = vote_env(&k1, UNKNOWN, m.now);
        // The submission itself is refused.
        let r = m.state.apply(&env, m.now).unwrap_err();
        assert_eq!(r.code, RejectCode::UnknownProposal);
        assert_eq!(m.received(&h1, ObservationKind::SubmissionRejected), None);
        let size = m.state.size();
        let a = record(&mut m, &k0, &env, RejectCode::UnknownProposal).expect("record");
        assert_eq!(a.kind, "record_refusal");
        let hash = govmesh_core::entry::entry_hash(&env).unwrap();
        assert_eq!(
            a.events,
            vec![Event::RefusalRecorded {
                signer: h1.clone(),
                code: RejectCode::UnknownProposal,
                envelope_hash: hash,
            }]
        );
        assert_eq!(m.state.recorded_refusal(&hash), Some(size));
        assert_eq!(
            m.received(&h1, ObservationKind::SubmissionRejected),
            Some(KindTally {
                count: 1,
                weight_fx: W
            })
        );
        assert_eq!(
            m.cell(&h0, &h1),
            Some(Cell {
                positive: 0,
                negative: W
            })
        );
        let obs = m.state.trust().recent(&h1).unwrap().back().unwrap().clone();
        assert_eq!(
            (obs.kind, obs.observer.as_str(), obs.index),
            (ObservationKind::SubmissionRejected, h0.as_str(), size)
        );
        // The same record entry again is a replay; another hub's record of the same
        // envelope is a duplicate: one refusal counts once.
        let again = sign_entry_at(
            &k0,
            Operation::RecordRefusal(RecordRefusalOp {
                envelope: env.clone(),
                code: RejectCode::UnknownProposal,
            }),
            m.now,
        );
        refused(
            m.state.apply(&again, m.now),
            RejectCode::Replay,
            "already in the log",
        );
        refused(
            record(&mut m, &k2, &env, RejectCode::UnknownProposal),
            RejectCode::Duplicate,
            "already recorded",
        );
        assert_eq!(
            m.received(&h1, ObservationKind::SubmissionRejected)
                .unwrap()
                .count,
            1
        );
        assert!(ObservationKind::SubmissionRejected.in_log());
    }

    #[test]
    fn a_record_is_refused_unless_it_proves_the_refusal() {
        let mut m = Mesh::new();
        let (k0, k1) = (m.hubs[0].clone(), m.hubs[1].clone());
        let wit = m.witness.clone();
        let env = vote_env(&k1, UNKNOWN, m.now);
        let before = m.state.clone();

        // Only a governance hub records.
        refused(
            record(&mut m, &wit, &env, RejectCode::UnknownProposal),
            RejectCode::NotPrivileged,
            "only a governance hub",
        );
        // Not its own refusal.
        refused(
            record(&mut m, &k1, &env, RejectCode::UnknownProposal),
            RejectCode::Forbidden,
            "its own refused submission",
        );
        // A forged envelope: hub 1's key id over a payload hub 1 never signed.
        let mut forged = env.clone();
        let other = vote_env(&k1, "1b6c1a52-8d3e-4f1a-9c2b-5e7d8f9a0b1c", m.now);
        forged.payload = other.payload.clone();
        refused(
            record(&mut m, &k0, &forged, RejectCode::UnknownProposal),
            RejectCode::BadEvidence,
            "not signed by its author's registered key",
        );
        // Signed by a key that is not registered.
        let stranger = vote_env(&KeyPair::from_seed([77; 32]), UNKNOWN, m.now);
        refused(
            record(&mut m, &k0, &stranger, RejectCode::UnknownProposal),
            RejectCode::BadEvidence,
            "is not a registered node",
        );
        // No signed_at, or one outside the window: an old envelope cannot be hoarded.
        let unstamped = sign_entry(
            &k1,
            Operation::Vote(VoteOp::new(UNKNOWN, VoteChoice::Approve)),
        );
        refused(
            record(&mut m, &k0, &unstamped, RejectCode::UnknownProposal),
            RejectCode::BadEvidence,
            "carries no signed_at",
        );
        let stale = vote_env(
            &k1,
            UNKNOWN,
            Timestamp(m.now.millis() - (REFUSAL_WINDOW_SECS as i64 + 1) * 1000),
        );
        refused(
            record(&mut m, &k0, &stale, RejectCode::UnknownProposal),
            RejectCode::BadEvidence,
            "more than 300 s",
        );
        // Exactly at the window's edge is in.
        let edge = vote_env(
            &k1,
            UNKNOWN,
            Timestamp(m.now.millis() - REFUSAL_WINDOW_SECS as i64 * 1000),
        );
        // The code must be the one the state machine gives now.
        refused(
            record(&mut m, &k0, &edge, RejectCode::NotVoting),
            RejectCode::Mismatch,
            "UnknownProposal",
        );
        assert_eq!(m.state, before, "a refused record changed the state");
        record(&mut m, &k0, &edge, RejectCode::UnknownProposal).expect("at the edge");

        // An envelope that would be accepted proves nothing.
        let p = m.propose(0, "5.4", Vec::new(), None);
        let good = vote_env(&k1, &p, m.now);
        refused(
            record(&mut m, &k0, &good, RejectCode::NotVoting),
            RejectCode::BadEvidence,
            "would be accepted now",
        );
        // ...and once it is in the log it is not a refusal either.
        m.state.apply(&good, m.now).expect("the vote");
        refused(
            record(&mut m, &k0, &good, RejectCode::Replay),
            RejectCode::Duplicate,
            "is in the log",
        );
    }

    /// Two meshes alike but for two refusals of hub 1 that hub 0 records: hub 0's
    /// trust in hub 1 (one vote, two refusals) drops to zero, and so does hub 1's
    /// score at the next epoch.
    #[test]
    fn recorded_refusals_lower_the_signers_score() {
        let run = |refusals: bool| {
            let mut m = Mesh::new();
            let (k0, k1) = (m.hubs[0].clone(), m.hubs[1].clone());
            if refusals {
                for pid in [UNKNOWN, "1b6c1a52-8d3e-4f1a-9c2b-5e7d8f9a0b1c"] {
                    let env = vote_env(&k1, pid, m.now);
                    record(&mut m, &k0, &env, RejectCode::UnknownProposal).expect("record");
                }
            }
            let p = m.propose(0, "5.4", Vec::new(), None);
            m.vote(1, &p, VoteChoice::Approve);
            m.vote(2, &p, VoteChoice::Approve);
            let e = m.state.trust().last_epoch().unwrap().clone();
            assert_eq!(e.cause, EpochCause::Revision);
            let h1 = m.id(1);
            (m.state.trust_score(&h1).unwrap(), m.cell(&m.id(0), &h1))
        };
        let (plain, plain_cell) = run(false);
        let (lowered, cell) = run(true);
        assert_eq!(
            plain_cell,
            Some(Cell {
                positive: W,
                negative: 0
            })
        );
        assert_eq!(
            cell,
            Some(Cell {
                positive: W,
                negative: 2 * W
            })
        );
        assert!(lowered < plain, "{lowered} vs {plain}");
    }
}

// ---- seals recorded in the log (`record_seal`) ----------------------------------

mod seals {
    use super::*;
    use govmesh_core::Digest;
    use govmesh_core::checkpoint::{Checkpoint, SignedNote};
    use govmesh_core::cosign::{Cosignature, witness_key_name};
    use govmesh_core::entry::RecordSealOp;
    use govmesh_core::seal::checkpoint_origin;
    use govmesh_core::state::{Event, RejectCode, SEAL_RECORD_SPACING};

    /// A seal of `size` signed by `hub` and cosigned by `witnesses`.
    fn seal(origin: &str, size: u64, hub: &KeyPair, witnesses: &[&KeyPair]) -> String {
        let origin = origin.to_owned();
        let body = Checkpoint {
            origin: origin.clone(),
            size,
            root: Digest([size as u8; 32]),
            extensions: vec![],
        }
        .body();
        let mut text = SignedNote::sign(body.clone(), &origin, hub).to_text();
        for w in witnesses {
            let line = Cosignature::sign(&body, &witness_key_name(w.node_id()), w, 1_764_154_800)
                .unwrap()
                .line();
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    fn record(m: &mut Mesh, by: &KeyPair, seal: String) -> Result<Applied, Rejection> {
        m.submit(by, Operation::RecordSeal(RecordSealOp { seal }))
    }

    fn refused(r: Result<Applied, Rejection>, code: RejectCode, needle: &str) {
        let e = r.expect_err("record accepted");
        assert_eq!(e.code, code, "{e}");
        assert!(e.message.contains(needle), "{e:?} does not say {needle:?}");
    }

    /// Registrations by hub 0 until the log holds `n` entries.
    fn grow_to(m: &mut Mesh, n: u64) {
        let hub0 = m.hubs[0].clone();
        while m.state.size() < n {
            let i = m.state.size();
            let mut seed = [5u8; 32];
            seed[..8].copy_from_slice(&i.to_le_bytes());
            let k = KeyPair::from_seed(seed);
            m.submit(
                &hub0,
                Operation::RegisterNode(spec(&k, NodeType::TrustFork)),
            )
            .expect("register");
        }
    }

    #[test]
    fn a_recorded_seal_makes_its_witnesses_observed_once_per_spacing() {
        let mut m = Mesh::new();
        let o = checkpoint_origin(&m.state.mesh_id().unwrap());
        let (h0, h1) = (m.id(0), m.id(1));
        let wit = m.witness.clone();
        let w = wit.node_id().to_owned();
        let (k0, k1) = (m.hubs[0].clone(), m.hubs[1].clone());
        assert!(ObservationKind::CosignatureConsistent.in_log());
        assert_eq!(m.received(&w, ObservationKind::CosignatureConsistent), None);
        // No seal is recorded before the log is one spacing long.
        refused(
            record(&mut m, &k1, seal(&o, 1, &k0, &[&wit])),
            RejectCode::Forbidden,
            "none is recorded yet; this one covers 1, the next must cover at least 1000",
        );
        grow_to(&mut m, SEAL_RECORD_SPACING);
        let size = SEAL_RECORD_SPACING;
        // Recorded by hub 1 (hub 0 signed the checkpoint).
        let a = record(&mut m, &k1, seal(&o, size, &k0, &[&wit])).expect("first seal");
        assert_eq!(a.kind, "record_seal");
        assert_eq!(
            a.events,
            vec![Event::SealRecorded {
                size,
                root: Digest([size as u8; 32]),
                witnesses: vec![w.clone()],
            }]
        );
        let r = m.state.recorded_seal().unwrap().clone();
        assert_eq!(
            (r.index, r.size, r.hub_node_id.as_str()),
            (size, size, h0.as_str())
        );
        assert_eq!(
            m.received(&w, ObservationKind::CosignatureConsistent),
            Some(KindTally {
                count: 1,
                weight_fx: 2 * W
            })
        );
        assert_eq!(
            m.cell(&h1, &w),
            Some(Cell {
                positive: 2 * W,
                negative: 0
            })
        );
        // The record grew the log; its seal (one more entry) is not recorded: the
        // next needs SEAL_RECORD_SPACING more entries. This keeps a quiet mesh quiet.
        refused(
            record(&mut m, &k1, seal(&o, size + 1, &k0, &[&wit])),
            RejectCode::Forbidden,
            "covers 1000; this one covers 1001, the next must cover at least 2000",
        );
        grow_to(&mut m, 2 * SEAL_RECORD_SPACING);
        let next = seal(&o, 2 * SEAL_RECORD_SPACING, &k0, &[&wit]);
        record(&mut m, &k1, next).expect("a spacing later");
        assert_eq!(
            m.received(&w, ObservationKind::CosignatureConsistent)
                .unwrap()
                .count,
            2
        );
        // Replaying the same record entry is a replay.
        let again = sign_entry_at(
            &k1,
            Operation::RecordSeal(RecordSealOp {
                seal: seal(&o, 2 * SEAL_RECORD_SPACING, &k0, &[&wit]),
            }),
            m.now,
        );
        refused(
            m.state.apply(&again, m.now),
            RejectCode::Replay,
            "already in the log",
        );
    }

    #[test]
    fn a_seal_record_is_refused_unless_the_seal_verifies_here() {
        let mut m = Mesh::new();
        let o = checkpoint_origin(&m.state.mesh_id().unwrap());
        let wit = m.witness.clone();
        let (k0, k1) = (m.hubs[0].clone(), m.hubs[1].clone());
        let before = m.state.clone();
        // Only a governance hub records.
        refused(
            record(&mut m, &wit, seal(&o, 1, &k0, &[&wit])),
            RejectCode::NotPrivileged,
            "only a governance hub",
        );
        // A forged cosignature: the witness's line over another checkpoint.
        let good = seal(&o, 1, &k0, &[&wit]);
        let other = seal(&o, 0, &k0, &[&wit]);
        let line = |t: &str| t.lines().last().unwrap().to_owned();
        let forged = good.replace(&line(&good), &line(&other));
        refused(
            record(&mut m, &k1, forged),
            RejectCode::BadEvidence,
            "cosignature of witness",
        );
        // No cosignature: below clause 5.4's threshold.
        refused(
            record(&mut m, &k1, seal(&o, 1, &k0, &[])),
            RejectCode::BadEvidence,
            "seal_threshold",
        );
        // Signed by a key that is no hub of this mesh.
        let stranger = KeyPair::from_seed([88; 32]);
        refused(
            record(&mut m, &k1, seal(&o, 1, &stranger, &[&wit])),
            RejectCode::BadEvidence,
            "no signature on the checkpoint by an active governance hub",
        );
        // Larger than the log.
        refused(
            record(&mut m, &k1, seal(&o, 5, &k0, &[&wit])),
            RejectCode::BadEvidence,
            "the log holds 1",
        );
        assert_eq!(m.state, before, "a refused record changed the state");
    }

    /// `govmesh verify` (core::audit) checks a recorded seal's root against the
    /// replayed tree: the state machine accepts any root (it holds no tree), the
    /// audit refuses one that is not the log's at that size.
    #[test]
    fn the_audit_checks_a_recorded_seal_against_the_tree() {
        use govmesh_core::audit::{Audit, Check};
        use govmesh_core::entry::LogRecord;
        use govmesh_core::merkle::MerkleTree;
        let m = Mesh::new();
        let o = checkpoint_origin(&m.state.mesh_id().unwrap());
        let wit = m.witness.clone();
        let (k0, k1) = (m.hubs[0].clone(), m.hubs[1].clone());
        // The log as records: the genesis, then registrations up to 1,000 entries.
        let g = codex_genesis(
            "trust-mesh",
            m.hubs
                .iter()
                .map(|k| spec(k, NodeType::GovernanceHub))
                .chain([spec(&wit, NodeType::ComplianceWitness)])
                .collect(),
        );
        let mut records = vec![LogRecord {
            index: 0,
            timestamp: m.now,
            envelope: sign_entry(&k0, Operation::Genesis(g)),
        }];
        for i in 1..SEAL_RECORD_SPACING {
            let mut seed = [5u8; 32];
            seed[..8].copy_from_slice(&i.to_le_bytes());
            let k = KeyPair::from_seed(seed);
            records.push(LogRecord {
                index: i,
                timestamp: m.now,
                envelope: sign_entry_at(
                    &k0,
                    Operation::RegisterNode(spec(&k, NodeType::TrustFork)),
                    m.now,
                ),
            });
        }
        let tree = MerkleTree::from_leaf_hashes(records.iter().map(LogRecord::leaf_hash));
        let size = SEAL_RECORD_SPACING;
        let sealed = |root: Digest| {
            let body = Checkpoint {
                origin: o.clone(),
                size,
                root,
                extensions: vec![],
            }
            .body();
            let mut text = SignedNote::sign(body.clone(), &o, &k0).to_text();
            let line =
                Cosignature::sign(&body, &witness_key_name(wit.node_id()), &wit, 1_764_154_800)
                    .unwrap()
                    .line();
            text.push_str(&line);
            text.push('\n');
            LogRecord {
                index: size,
                timestamp: m.now,
                envelope: sign_entry_at(
                    &k1,
                    Operation::RecordSeal(RecordSealOp { seal: text }),
                    m.now,
                ),
            }
        };
        let replay = |last: &LogRecord| {
            let mut a = Audit::new();
            for r in &records {
                a.push(r).unwrap();
            }
            a.push(last)
        };
        replay(&sealed(tree.root_at(size).unwrap())).expect("the log's root");
        let e = replay(&sealed(Digest([9; 32]))).expect_err("a foreign root");
        assert_eq!((e.check, e.index), (Check::Root, Some(size)), "{e}");
        assert!(
            e.message.contains("recorded seal's root at size 1000"),
            "{e}"
        );
    }
}
