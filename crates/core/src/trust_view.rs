//! Derived views of the trust room (`GET /v1/trust`, `GET /v1/trust/{node}`, the
//! dashboard's trust page, `govmesh trust`): every score with its rank, the last
//! computation, the score distribution, and for one node the observations behind its
//! score and its history per epoch.
//!
//! Scores are served twice: `score` as a number in [0, 1] (the fixed-point value
//! divided by 2^40, exact in a double) and `score_fixed`, the integer every node
//! computed (units of 2^-40, see [`crate::trust`]).

use crate::model::{NodeStatus, NodeType};
use crate::stamp::Timestamp;
use crate::state::{Epoch, EpochCause, KindTally, Observation, State};
use crate::trust::{self, Effect, ONE, ObservationKind, TrustModel, WEIGHT_SCALE, score_f64};
use serde::Serialize;
use std::collections::BTreeMap;

/// A computation of the scores, without the scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Computation {
    /// The log index of the entry after which the scores were computed.
    pub index: u64,
    pub timestamp: Timestamp,
    pub cause: EpochCause,
    /// The governing contract's revision then.
    pub revision: u64,
    pub iterations: u32,
    pub converged: bool,
    /// The last iteration's L1 change (a number; `delta_fixed` in units of 2^-40).
    pub delta: f64,
    pub delta_fixed: u64,
    /// Observations counted up to then.
    pub observations: u64,
    /// Observer/subject pairs with observations then.
    pub pairs: u64,
}

impl Computation {
    fn of(e: &Epoch) -> Computation {
        Computation {
            index: e.index,
            timestamp: e.timestamp,
            cause: e.cause,
            revision: e.revision,
            iterations: e.iterations,
            converged: e.converged,
            delta: score_f64(e.delta),
            delta_fixed: e.delta,
            observations: e.observations,
            pairs: e.pairs,
        }
    }
}

/// One node's score in the last computation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreLine {
    pub node_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub node_type: NodeType,
    pub status: NodeStatus,
    /// None for a node registered after the last computation.
    pub score: Option<f64>,
    pub score_fixed: Option<u64>,
    /// 1 for the highest score; none without a score.
    pub rank: Option<u32>,
    pub pre_trusted: bool,
}

/// How the scores are spread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Distribution {
    /// Nodes with a score.
    pub nodes: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    /// Nodes whose score is 0.
    pub zero: u64,
    /// Nodes by score band: [0, 0.1), [0.1, 0.2), ... [0.9, 1].
    pub deciles: [u64; 10],
}

/// `GET /v1/trust`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrustSummary {
    /// Clause 5.4's trust model as the code reads it.
    pub model: TrustModel,
    /// The last computation; none before the genesis.
    pub last_computation: Option<Computation>,
    /// Observations counted since the genesis.
    pub observations: u64,
    /// Observations counted since the last computation (they count at the next one).
    pub pending_observations: u64,
    /// The fixed-point scale of `score_fixed`: 2^40.
    pub score_scale: u64,
    /// Every registered node, highest score first (nodes without a score last).
    pub scores: Vec<ScoreLine>,
    pub distribution: Distribution,
    /// The computations kept, oldest first.
    pub computations: Vec<Computation>,
}

/// Who observed a node (or whom it observed), and how much.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Peer {
    pub node_id: String,
    /// Sum of the positive observations' weights.
    pub positive: f64,
    /// Sum of the negative observations' weights.
    pub negative: f64,
    /// `max(positive − negative, 0)`: the local trust `s`.
    pub local_trust: f64,
}

/// One kind of observation a node received.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Received {
    pub kind: ObservationKind,
    pub effect: Option<Effect>,
    pub count: u64,
    pub weight: f64,
}

/// A node's score at one computation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryPoint {
    pub index: u64,
    pub timestamp: Timestamp,
    pub cause: EpochCause,
    pub revision: u64,
    pub score: f64,
    pub score_fixed: u64,
    pub rank: u32,
}

/// One observation, for display.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservationLine {
    pub index: u64,
    pub kind: ObservationKind,
    pub effect: Effect,
    pub observer: String,
    pub weight: f64,
}

/// `GET /v1/trust/{node}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeTrust {
    #[serde(flatten)]
    pub line: ScoreLine,
    /// Nodes with a score.
    pub of: u64,
    pub last_computation: Option<Computation>,
    /// The observations behind the score: by kind...
    pub received: Vec<Received>,
    /// ...by observer (the node's column of the local trust matrix)...
    pub observers: Vec<Peer>,
    /// ...and the latest ones, oldest first.
    pub recent: Vec<ObservationLine>,
    /// What this node observed of others (its row).
    pub observed: Vec<Peer>,
    /// Its score at each computation kept (per revision and per 1,000 entries).
    pub history: Vec<HistoryPoint>,
}

fn weight(fx: u64) -> f64 {
    fx as f64 / WEIGHT_SCALE as f64
}

fn pretrusted(state: &State, node_id: &str) -> bool {
    state.node(node_id).is_some_and(|n| {
        n.status == NodeStatus::Active
            && state
                .trust()
                .model()
                .pre_trusted_roles
                .contains(&n.node_type)
    })
}

/// Every node's line, in rank order.
fn lines(state: &State) -> Vec<ScoreLine> {
    let t = state.trust();
    let ranks = trust::ranks(t.scores());
    let mut out: Vec<ScoreLine> = state
        .nodes()
        .into_iter()
        .map(|n| {
            let i = t.index_of(&n.node_id).map(|i| i as usize);
            let fixed = i.and_then(|i| t.scores().get(i).copied());
            ScoreLine {
                node_id: n.node_id.clone(),
                display_name: n.display_name.clone(),
                node_type: n.node_type,
                status: n.status,
                score: fixed.map(score_f64),
                score_fixed: fixed,
                rank: i.and_then(|i| ranks.get(i).copied()),
                pre_trusted: pretrusted(state, &n.node_id),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.rank.is_none(), a.rank, &a.node_id).cmp(&(b.rank.is_none(), b.rank, &b.node_id))
    });
    out
}

fn distribution(scores: &[u64]) -> Distribution {
    let mut s = scores.to_vec();
    s.sort_unstable();
    let n = s.len();
    let mut deciles = [0u64; 10];
    for v in &s {
        let band = ((u128::from(*v) * 10) / u128::from(ONE)).min(9) as usize;
        deciles[band] += 1;
    }
    let median = match n {
        0 => 0.0,
        _ if n % 2 == 1 => score_f64(s[n / 2]),
        _ => (score_f64(s[n / 2 - 1]) + score_f64(s[n / 2])) / 2.0,
    };
    Distribution {
        nodes: n as u64,
        min: s.first().copied().map_or(0.0, score_f64),
        max: s.last().copied().map_or(0.0, score_f64),
        mean: if n == 0 { 0.0 } else { 1.0 / n as f64 },
        median,
        zero: s.iter().filter(|v| **v == 0).count() as u64,
        deciles,
    }
}

/// `GET /v1/trust`: every score, the last computation, the distribution.
pub fn summary(state: &State) -> TrustSummary {
    let t = state.trust();
    let last = t.last_epoch();
    TrustSummary {
        model: t.model().clone(),
        last_computation: last.map(Computation::of),
        observations: t.observation_count(),
        pending_observations: t.observation_count() - last.map_or(0, |e| e.observations),
        score_scale: ONE,
        scores: lines(state),
        distribution: distribution(t.scores()),
        computations: t.epochs().iter().map(Computation::of).collect(),
    }
}

/// `GET /v1/trust/{node}`: none for a node that is not registered.
pub fn node(state: &State, node_id: &str) -> Option<NodeTrust> {
    let t = state.trust();
    let line = lines(state).into_iter().find(|l| l.node_id == node_id)?;
    let peers = |v: Vec<(&str, crate::trust::Cell)>| -> Vec<Peer> {
        v.into_iter()
            .map(|(id, c)| Peer {
                node_id: id.to_owned(),
                positive: weight(c.positive),
                negative: weight(c.negative),
                local_trust: weight(c.local()),
            })
            .collect()
    };
    let empty = BTreeMap::new();
    let received: &BTreeMap<ObservationKind, KindTally> = t.received(node_id).unwrap_or(&empty);
    let history = match t.index_of(node_id) {
        None => Vec::new(),
        Some(i) => t
            .epochs()
            .iter()
            .filter_map(|e| {
                let s = *e.scores.get(i as usize)?;
                Some(HistoryPoint {
                    index: e.index,
                    timestamp: e.timestamp,
                    cause: e.cause,
                    revision: e.revision,
                    score: score_f64(s),
                    score_fixed: s,
                    rank: trust::ranks(&e.scores)[i as usize],
                })
            })
            .collect(),
    };
    let recent = t
        .recent(node_id)
        .map(|r| r.iter().map(observation_line).collect())
        .unwrap_or_default();
    Some(NodeTrust {
        line,
        of: t.scores().len() as u64,
        last_computation: t.last_epoch().map(Computation::of),
        received: received
            .iter()
            .map(|(k, v)| Received {
                kind: *k,
                effect: t.model().rule(*k).map(|r| r.effect),
                count: v.count,
                weight: weight(v.weight_fx),
            })
            .collect(),
        observers: peers(t.observers_of(node_id)),
        recent,
        observed: peers(t.observed_by(node_id)),
        history,
    })
}

fn observation_line(o: &Observation) -> ObservationLine {
    ObservationLine {
        index: o.index,
        kind: o.kind,
        effect: o.effect,
        observer: o.observer.clone(),
        weight: weight(o.weight_fx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_bands_scores() {
        let d = distribution(&[0, ONE / 4, ONE / 4, ONE / 2]);
        assert_eq!(d.nodes, 4);
        assert_eq!((d.min, d.max, d.median, d.mean), (0.0, 0.5, 0.25, 0.25));
        assert_eq!(d.zero, 1);
        assert_eq!(d.deciles, [1, 0, 2, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(distribution(&[]).nodes, 0);
    }
}
