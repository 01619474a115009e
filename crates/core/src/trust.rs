//! Trust aggregation (clause 5.4 `trust_model`): the model as the code reads it, the
//! local trust matrix built from observations in the log, and EigenTrust (Kamvar,
//! Schlosser, Garcia-Molina 2003) over it, in fixed-point integer arithmetic so that
//! every node computes the same scores bit for bit.
//!
//! Pure: no I/O, no clock. What in the log is an observation, and who observes whom,
//! is decided by the state room `state/trust.rs`; this module turns observations into
//! scores.
//!
//! # Arithmetic
//!
//! - A weight from the rules is held as `round(weight · 10^6)` ([`WEIGHT_SCALE`]).
//! - Local trust `s_ij = max(P_ij − N_ij, 0)` where `P_ij` (`N_ij`) is the sum of the
//!   fixed-point weights of i's positive (negative) observations of j.
//! - Normalised local trust `c_ij = floor(s_ij · floor(2^64 / Σ_k s_ik) / 2^32)`, a
//!   fraction in units of 2^-32 ([`FRAC_ONE`]); a row with `Σ_k s_ik = 0` has no
//!   outgoing trust.
//! - Scores are fractions in units of 2^-40 ([`ONE`]) and sum to exactly [`ONE`].
//! - `alpha` is held as `round(alpha · 2^32)`, `convergence_epsilon` as
//!   `max(1, round(epsilon · 2^40))`; both are a multiplication by a power of two
//!   (exact in IEEE 754) and one rounding, so every platform reads the same integers.
//! - One iteration ([`step`]): for each row i in index order with outgoing trust,
//!   `m_i = floor(t_i · (2^32 − alpha_fx) / 2^32)` and `w_j += floor(m_i · c_ij / 2^32)`
//!   for each of its cells in column order; the mass not walked, `R = ONE − Σ_j w_j`
//!   (the `alpha` share, the rows without outgoing trust, and the rounding), goes to the
//!   pre-trusted nodes: `floor(R / |P|)` each and one more unit to each of the first
//!   `R mod |P|` of them in index order. That is `t ← (1−α)·Cᵀ·t + α·p` with rows
//!   without outgoing trust taking `p`, as in the paper, with the rounding folded into
//!   `p`'s share so that the scores always sum to [`ONE`].
//! - It stops when the L1 change `Σ_j |t'_j − t_j|` is below `epsilon_fx` or after
//!   `max_iterations`.

use crate::model::NodeType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A score of 1 (the sum of all scores): scores are fractions in units of 2^-40.
pub const ONE: u64 = 1 << 40;
/// Fraction bits of `alpha` and of normalised local trust.
pub const FRAC_BITS: u32 = 32;
/// 1 in units of 2^-32.
pub const FRAC_ONE: u64 = 1 << FRAC_BITS;
/// Weights are held as millionths.
pub const WEIGHT_SCALE: u64 = 1_000_000;
/// The largest weight an observation kind may carry.
pub const MAX_WEIGHT: f64 = 1_000_000.0;
/// The most iterations a trust model may ask for.
pub const MAX_ITERATIONS: u32 = 1000;
/// Scores are recomputed after every contract revision and every this many entries.
pub const EPOCH_ENTRIES: u64 = 1000;

/// What a node was observed doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// A counted vote on a proposal (observed by the proposer).
    VoteCast,
    /// An eligible voter that had not voted when the proposal was closed at the end of
    /// its period (observed by the proposer).
    ProposalMissed,
    /// An `ack_sync` by the revision's deadline (observed by the revision's source).
    SyncAckTimely,
    /// A revision not acknowledged by its deadline (observed by its source).
    SyncAckLate,
    /// A witness cosignature on a seal a hub recorded in a `record_seal` entry
    /// (observed by that hub); `govmesh verify` checks the sealed root against the
    /// log's tree, so a recorded cosignature is consistent with the log.
    CosignatureConsistent,
    /// A submission the state machine refused, recorded by a hub in a `record_refusal`
    /// entry (observed by that hub).
    SubmissionRejected,
    /// A double vote or a forked checkpoint proven in the log.
    EquivocationProven,
}

impl ObservationKind {
    pub const ALL: [ObservationKind; 7] = [
        ObservationKind::VoteCast,
        ObservationKind::ProposalMissed,
        ObservationKind::SyncAckTimely,
        ObservationKind::SyncAckLate,
        ObservationKind::CosignatureConsistent,
        ObservationKind::SubmissionRejected,
        ObservationKind::EquivocationProven,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObservationKind::VoteCast => "vote_cast",
            ObservationKind::ProposalMissed => "proposal_missed",
            ObservationKind::SyncAckTimely => "sync_ack_timely",
            ObservationKind::SyncAckLate => "sync_ack_late",
            ObservationKind::CosignatureConsistent => "cosignature_consistent",
            ObservationKind::SubmissionRejected => "submission_rejected",
            ObservationKind::EquivocationProven => "equivocation_proven",
        }
    }

    /// Whether any log entry can give rise to this kind of observation.
    /// Every kind now: `record_seal` and `record_refusal` entries carry the two that
    /// once lived beside the log only.
    pub fn in_log(self) -> bool {
        match self {
            ObservationKind::VoteCast
            | ObservationKind::ProposalMissed
            | ObservationKind::SyncAckTimely
            | ObservationKind::SyncAckLate
            | ObservationKind::CosignatureConsistent
            | ObservationKind::SubmissionRejected
            | ObservationKind::EquivocationProven => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Positive,
    Negative,
}

/// One entry of the trust model's `observations`: how much a kind counts, and which way.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservationRule {
    pub kind: ObservationKind,
    pub effect: Effect,
    /// The weight in millionths.
    pub weight_fx: u64,
    /// The weight as written in the rules.
    pub weight: f64,
}

/// Clause 5.4's `trust_model` as the code reads it: validated, in fixed point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTrustModel", into = "RawTrustModel")]
pub struct TrustModel {
    /// `alpha` as written in the rules (what serializes).
    pub alpha: f64,
    /// `convergence_epsilon` as written in the rules.
    pub convergence_epsilon: f64,
    /// The roles whose active nodes are the pre-trusted peers `p`.
    pub pre_trusted_roles: Vec<NodeType>,
    /// `alpha` in units of 2^-32.
    pub alpha_fx: u64,
    pub max_iterations: u32,
    /// `convergence_epsilon` in units of 2^-40 (at least 1).
    pub epsilon_fx: u64,
    /// The observation kinds that count, by kind.
    pub observations: BTreeMap<ObservationKind, ObservationRule>,
}

/// `trust_model` as written in the rules (and as a [`TrustModel`] serializes: every
/// fixed-point value reads back as itself).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrustModel {
    algorithm: String,
    pre_trusted_roles: Vec<NodeType>,
    alpha: f64,
    max_iterations: u64,
    convergence_epsilon: f64,
    observations: Vec<RawObservation>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObservation {
    kind: ObservationKind,
    effect: Effect,
    weight: f64,
}

impl TryFrom<RawTrustModel> for TrustModel {
    type Error = String;

    fn try_from(r: RawTrustModel) -> Result<TrustModel, String> {
        if r.algorithm != "eigentrust" {
            return Err(format!(
                "trust_model.algorithm {:?} is not one the code computes (only \"eigentrust\")",
                r.algorithm
            ));
        }
        if !(0.0..=1.0).contains(&r.alpha) {
            return Err(format!(
                "trust_model.alpha {} must be a number in [0, 1]",
                r.alpha
            ));
        }
        if !(1..=u64::from(MAX_ITERATIONS)).contains(&r.max_iterations) {
            return Err(format!(
                "trust_model.max_iterations {} must be 1 to {MAX_ITERATIONS}",
                r.max_iterations
            ));
        }
        if !(r.convergence_epsilon > 0.0 && r.convergence_epsilon <= 2.0) {
            return Err(format!(
                "trust_model.convergence_epsilon {} must be more than 0 and at most 2",
                r.convergence_epsilon
            ));
        }
        let mut observations = BTreeMap::new();
        for o in r.observations {
            if !(0.0..=MAX_WEIGHT).contains(&o.weight) {
                return Err(format!(
                    "trust_model.observations: the weight of {} is {}, must be 0 to {MAX_WEIGHT}",
                    o.kind.as_str(),
                    o.weight
                ));
            }
            let rule = ObservationRule {
                kind: o.kind,
                effect: o.effect,
                // One IEEE multiplication and one rounding: the same integer everywhere.
                weight_fx: (o.weight * WEIGHT_SCALE as f64).round() as u64,
                weight: o.weight,
            };
            if observations.insert(o.kind, rule).is_some() {
                return Err(format!(
                    "trust_model.observations lists {} twice",
                    o.kind.as_str()
                ));
            }
        }
        let mut roles = r.pre_trusted_roles;
        roles.sort();
        roles.dedup();
        Ok(TrustModel {
            alpha: r.alpha,
            convergence_epsilon: r.convergence_epsilon,
            pre_trusted_roles: roles,
            // Multiplying by a power of two is exact; the rounding is IEEE's.
            alpha_fx: (r.alpha * FRAC_ONE as f64).round() as u64,
            max_iterations: r.max_iterations as u32,
            epsilon_fx: ((r.convergence_epsilon * ONE as f64).round() as u64).max(1),
            observations,
        })
    }
}

impl From<TrustModel> for RawTrustModel {
    fn from(m: TrustModel) -> RawTrustModel {
        RawTrustModel {
            algorithm: "eigentrust".into(),
            pre_trusted_roles: m.pre_trusted_roles.clone(),
            alpha: m.alpha,
            max_iterations: u64::from(m.max_iterations),
            convergence_epsilon: m.convergence_epsilon,
            observations: m
                .observations
                .values()
                .map(|o| RawObservation {
                    kind: o.kind,
                    effect: o.effect,
                    weight: o.weight,
                })
                .collect(),
        }
    }
}

impl Default for TrustModel {
    /// The genesis model ([`TrustModel::genesis_json`]).
    fn default() -> Self {
        serde_json::from_value(TrustModel::genesis_json()).expect("the genesis model reads")
    }
}

impl TrustModel {
    /// The trust model of the Codex genesis (clause 5.4), and the model read when the
    /// clause names none.
    pub fn genesis_json() -> serde_json::Value {
        serde_json::json!({
            "algorithm": "eigentrust",
            "pre_trusted_roles": ["governance_hub"],
            "alpha": 0.15,
            "max_iterations": 50,
            "convergence_epsilon": 0.0001,
            "observations": [
                {"kind": "vote_cast", "effect": "positive", "weight": 1},
                {"kind": "proposal_missed", "effect": "negative", "weight": 1},
                {"kind": "sync_ack_timely", "effect": "positive", "weight": 1},
                {"kind": "sync_ack_late", "effect": "negative", "weight": 1},
                {"kind": "cosignature_consistent", "effect": "positive", "weight": 2},
                {"kind": "submission_rejected", "effect": "negative", "weight": 1},
                {"kind": "equivocation_proven", "effect": "negative", "weight": 100}
            ]
        })
    }

    /// The rule for a kind; none when the model does not count it.
    pub fn rule(&self, kind: ObservationKind) -> Option<&ObservationRule> {
        self.observations.get(&kind)
    }

    /// The EigenTrust parameters.
    pub fn params(&self) -> Params {
        Params {
            alpha_fx: self.alpha_fx,
            epsilon_fx: self.epsilon_fx,
            max_iterations: self.max_iterations,
        }
    }
}

/// A score as a number in [0, 1] (for display; the fixed-point value is the score).
pub fn score_f64(fx: u64) -> f64 {
    fx as f64 / ONE as f64
}

/// i's observations of j: the sums of the fixed-point weights of each effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub positive: u64,
    pub negative: u64,
}

impl Cell {
    /// `s_ij = max(P_ij − N_ij, 0)`.
    pub fn local(&self) -> u64 {
        self.positive.saturating_sub(self.negative)
    }
}

/// The local trust matrix: one row per observer (dense node index), its cells sorted by
/// subject. Kept as state and updated per observation; normalised when scores are
/// computed, redoing only the rows changed since the last time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTrust {
    rows: Vec<Vec<(u32, Cell)>>,
    /// Normalised rows from the last computation (rebuilt after a restore).
    #[serde(skip)]
    cache: NormCache,
}

/// A cache of normalised rows and which rows changed since. Two matrices with the same
/// cells are equal whatever their caches hold.
#[derive(Clone, Debug, Default)]
struct NormCache {
    norm: Normalized,
    dirty: Vec<bool>,
}

impl PartialEq for NormCache {
    fn eq(&self, _: &NormCache) -> bool {
        true
    }
}

impl Eq for NormCache {}

/// Row `row` normalised into `out`: `c_ij = floor(s_ij · floor(2^64 / Σ_k s_ik) / 2^32)`
/// for the cells with `s_ij > 0`; nothing when the row has no outgoing trust.
fn normalize_row(row: &[(u32, Cell)], out: &mut Vec<(u32, u64)>) {
    out.clear();
    let total: u128 = row.iter().map(|(_, c)| u128::from(c.local())).sum();
    if total == 0 {
        return;
    }
    // One division per row, then a multiplication per cell. total ≥ 1, so the
    // reciprocal fits in 65 bits; u128 holds it.
    let recip = (1u128 << 64) / total;
    for (j, c) in row {
        let s = u128::from(c.local());
        if s > 0 {
            let v = (s * recip) >> 32;
            out.push((*j, v.min(u128::from(FRAC_ONE)) as u64));
        }
    }
}

impl LocalTrust {
    pub fn with_nodes(n: usize) -> LocalTrust {
        LocalTrust {
            rows: vec![Vec::new(); n],
            cache: NormCache::default(),
        }
    }

    /// Number of nodes (rows).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Makes room for `n` nodes.
    pub fn grow(&mut self, n: usize) {
        if self.rows.len() < n {
            self.rows.resize_with(n, Vec::new);
        }
    }

    /// Adds one observation by `i` of `j` with a fixed-point weight. Self-observations
    /// are not trust and are ignored (false); so are indexes out of range.
    pub fn add(&mut self, i: u32, j: u32, effect: Effect, weight_fx: u64) -> bool {
        if i == j || j as usize >= self.rows.len() {
            return false;
        }
        let Some(row) = self.rows.get_mut(i as usize) else {
            return false;
        };
        let pos = match row.binary_search_by_key(&j, |(c, _)| *c) {
            Ok(p) => p,
            Err(p) => {
                row.insert(p, (j, Cell::default()));
                p
            }
        };
        let cell = &mut row[pos].1;
        match effect {
            Effect::Positive => cell.positive = cell.positive.saturating_add(weight_fx),
            Effect::Negative => cell.negative = cell.negative.saturating_add(weight_fx),
        }
        if let Some(d) = self.cache.dirty.get_mut(i as usize) {
            *d = true;
        }
        true
    }

    /// Row `i`: (subject, cell) sorted by subject.
    pub fn row(&self, i: u32) -> &[(u32, Cell)] {
        self.rows.get(i as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every cell whose subject is `j`, by observer.
    pub fn column(&self, j: u32) -> Vec<(u32, Cell)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let p = r.binary_search_by_key(&j, |(c, _)| *c).ok()?;
                Some((i as u32, r[p].1))
            })
            .collect()
    }

    /// Number of (observer, subject) pairs with observations.
    pub fn pairs(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    /// The normalised matrix `C` computed afresh (rows summing to at most 1 in units
    /// of 2^-32; rows without outgoing trust empty).
    pub fn normalized(&self) -> Normalized {
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                normalize_row(r, &mut out);
                out
            })
            .collect();
        Normalized { rows }
    }

    /// The normalised matrix `C`, redoing only the rows observed since the last call
    /// (all of them after a restore): equal to [`Self::normalized`].
    pub fn normalized_cached(&mut self) -> &Normalized {
        let n = self.rows.len();
        let cache = &mut self.cache;
        cache.norm.rows.resize_with(n, Vec::new);
        cache.dirty.resize(n, true);
        for (i, dirty) in cache.dirty.iter_mut().enumerate() {
            if *dirty {
                normalize_row(&self.rows[i], &mut cache.norm.rows[i]);
                *dirty = false;
            }
        }
        &self.cache.norm
    }
}

/// The normalised local trust matrix `C`, by row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    rows: Vec<Vec<(u32, u64)>>,
}

impl Normalized {
    /// A matrix from rows of (column, c_ij in units of 2^-32), for tests and benchmarks.
    pub fn from_rows(rows: &[Vec<(u32, u64)>]) -> Normalized {
        Normalized {
            rows: rows.to_vec(),
        }
    }

    pub fn nodes(&self) -> usize {
        self.rows.len()
    }

    pub fn nonzeros(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    /// Row `i`: (column, c_ij in units of 2^-32).
    pub fn row(&self, i: usize) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.rows[i].iter().copied()
    }
}

/// EigenTrust's parameters in fixed point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// `alpha` in units of 2^-32.
    pub alpha_fx: u64,
    /// `convergence_epsilon` in units of 2^-40.
    pub epsilon_fx: u64,
    pub max_iterations: u32,
}

/// What one computation gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// One score per node, in units of 2^-40, summing to [`ONE`].
    pub scores: Vec<u64>,
    pub iterations: u32,
    /// Whether the last iteration changed the scores by less than epsilon.
    pub converged: bool,
    /// The L1 change of the last iteration, in units of 2^-40.
    pub delta: u64,
}

/// The pre-trusted distribution's share of a mass `rest` for node index `k` of the
/// sorted pre-trusted set (`p` uniform, the remainder to the first members).
fn share(rest: u64, k: usize, n: usize) -> u64 {
    let n64 = n as u64;
    rest / n64 + u64::from((k as u64) < rest % n64)
}

/// One iteration `t' = (1−α)·Cᵀ·t + α·p` (rows without outgoing trust and the rounding
/// to `p`) into `out`; returns the L1 change. `pretrusted` is sorted and not empty.
pub fn step(c: &Normalized, pretrusted: &[u32], alpha_fx: u64, t: &[u64], out: &mut [u64]) -> u64 {
    let keep = u128::from(FRAC_ONE - alpha_fx.min(FRAC_ONE));
    out.iter_mut().for_each(|w| *w = 0);
    for (row, ti) in c.rows.iter().zip(t) {
        if row.is_empty() || *ti == 0 {
            continue;
        }
        let m = (u128::from(*ti) * keep) >> FRAC_BITS;
        for (j, v) in row {
            out[*j as usize] += ((m * u128::from(*v)) >> FRAC_BITS) as u64;
        }
    }
    let walked: u64 = out.iter().sum();
    let rest = ONE.saturating_sub(walked);
    for (k, p) in pretrusted.iter().enumerate() {
        out[*p as usize] += share(rest, k, pretrusted.len());
    }
    t.iter().zip(out.iter()).map(|(a, b)| a.abs_diff(*b)).sum()
}

/// The pre-trusted distribution `p` as a score vector.
pub fn uniform(n: usize, pretrusted: &[u32]) -> Vec<u64> {
    let mut t = vec![0; n];
    for (k, p) in pretrusted.iter().enumerate() {
        t[*p as usize] = share(ONE, k, pretrusted.len());
    }
    t
}

/// EigenTrust over `c` with pre-trusted nodes `pretrusted` (indexes; every node when
/// empty), from `start` (the previous scores, shorter when nodes were added) or `p`.
pub fn eigentrust(
    c: &Normalized,
    pretrusted: &[u32],
    params: Params,
    start: Option<&[u64]>,
) -> Outcome {
    let n = c.nodes();
    let all: Vec<u32>;
    let mut pre: Vec<u32> = pretrusted
        .iter()
        .copied()
        .filter(|p| (*p as usize) < n)
        .collect();
    pre.sort_unstable();
    pre.dedup();
    if pre.is_empty() {
        all = (0..n as u32).collect();
        pre = all;
    }
    if n == 0 {
        return Outcome {
            scores: Vec::new(),
            iterations: 0,
            converged: true,
            delta: 0,
        };
    }
    let mut t = match start {
        Some(s) if s.iter().any(|v| *v > 0) => {
            let mut t = s.to_vec();
            t.resize(n, 0);
            t
        }
        _ => uniform(n, &pre),
    };
    let mut next = vec![0; n];
    let mut iterations = 0;
    let mut delta = 0;
    let mut converged = false;
    while iterations < params.max_iterations.max(1) {
        delta = step(c, &pre, params.alpha_fx, &t, &mut next);
        std::mem::swap(&mut t, &mut next);
        iterations += 1;
        if delta < params.epsilon_fx {
            converged = true;
            break;
        }
    }
    Outcome {
        scores: t,
        iterations,
        converged,
        delta,
    }
}

/// A share in [0, 1] (a policy's `min_trust_score`) in units of 2^-40: one
/// multiplication by a power of two (exact) and one rounding.
pub fn share_fx(share: f64) -> u64 {
    (share.clamp(0.0, 1.0) * ONE as f64).round() as u64
}

/// A vote weight under `weight_by_trust`: `weight · floor(score · 10^6)`, the score in
/// millionths (saturating).
pub fn weigh(weight: u64, score_fx: u64) -> u64 {
    let ppm = u128::from(score_fx) * 1_000_000 / u128::from(ONE);
    u64::try_from(u128::from(weight) * ppm).unwrap_or(u64::MAX)
}

/// Ranks (1 = highest) of scores, ties by index order.
pub fn ranks(scores: &[u64]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].cmp(&scores[*a]).then(a.cmp(b)));
    let mut ranks = vec![0; scores.len()];
    for (r, i) in order.into_iter().enumerate() {
        ranks[i] = r as u32 + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_genesis_model_reads_in_fixed_point() {
        let m = TrustModel::default();
        assert_eq!(m.pre_trusted_roles, vec![NodeType::GovernanceHub]);
        // 0.15 · 2^32 = 644245094.4 → 644245094.
        assert_eq!(m.alpha_fx, 644_245_094);
        // 0.0001 · 2^40 = 109951162.7776 → 109951163.
        assert_eq!(m.epsilon_fx, 109_951_163);
        assert_eq!(m.max_iterations, 50);
        let eq = m.rule(ObservationKind::EquivocationProven).unwrap();
        assert_eq!((eq.effect, eq.weight_fx), (Effect::Negative, 100_000_000));
        // It serializes as written and reads back as itself.
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["alpha"], json!(0.15));
        assert_eq!(serde_json::from_value::<TrustModel>(v).unwrap(), m);
    }

    #[test]
    fn bad_models_are_refused_naming_the_part() {
        let base = TrustModel::genesis_json();
        for (pointer, value, says) in [
            ("/algorithm", json!("pagerank"), "only \"eigentrust\""),
            ("/alpha", json!(1.5), "alpha"),
            ("/max_iterations", json!(0), "max_iterations"),
            ("/convergence_epsilon", json!(0), "convergence_epsilon"),
            ("/observations/0/weight", json!(-1), "weight of vote_cast"),
            ("/observations/1/kind", json!("vote_cast"), "twice"),
            ("/observations/0/kind", json!("bribe"), "unknown variant"),
            ("/pre_trusted_roles/0", json!("king"), "unknown variant"),
        ] {
            let mut v = base.clone();
            *v.pointer_mut(pointer).unwrap() = value;
            let e = serde_json::from_value::<TrustModel>(v)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{pointer}: {e}");
        }
        let mut v = base.clone();
        v["extra"] = json!(1);
        assert!(serde_json::from_value::<TrustModel>(v).is_err());
    }

    #[test]
    fn local_trust_ignores_self_and_normalises_rows() {
        let mut m = LocalTrust::with_nodes(3);
        assert!(!m.add(0, 0, Effect::Positive, 5));
        assert!(m.add(0, 1, Effect::Positive, 3));
        assert!(m.add(0, 2, Effect::Positive, 1));
        assert!(m.add(0, 2, Effect::Negative, 2)); // s_02 = max(1 − 2, 0) = 0
        assert!(m.add(1, 0, Effect::Positive, 1));
        let c = m.normalized();
        // Row 0: only s_01 = 3 is positive: c_01 = 3·floor(2^64/3)/2^32, one unit
        // short of 1 (the normalisation rounds down, so no row gives more than 1).
        assert_eq!(c.row(0).collect::<Vec<_>>(), vec![(1, FRAC_ONE - 1)]);
        assert_eq!(c.row(1).collect::<Vec<_>>(), vec![(0, FRAC_ONE)]);
        assert_eq!(c.row(2).count(), 0);
        assert_eq!(
            m.column(2),
            vec![(
                0,
                Cell {
                    positive: 1,
                    negative: 2
                }
            )]
        );
    }

    #[test]
    fn ranks_order_by_score_then_index() {
        assert_eq!(ranks(&[5, 9, 5, 1]), vec![2, 1, 3, 4]);
    }
}
