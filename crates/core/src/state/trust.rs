//! The trust room: observations read from each applied entry, the local trust matrix
//! they build, and EigenTrust scores computed at epoch boundaries (clause 5.4
//! `trust_model`, [`crate::trust`]).
//!
//! Who observes whom (i observes j, adding to `c_ij`):
//! - `vote_cast`: the proposer observes each counted voter on its proposal;
//! - `proposal_missed`: when a proposal is closed at the end of its period, the proposer
//!   observes each eligible voter that had not voted (a proposal decided early, or
//!   withdrawn, misses nobody);
//! - `sync_ack_timely`: the revision's source (the author of the entry that adopted it)
//!   observes a target's `ack_sync` by the deadline (adoption time plus clause 5.4
//!   `sync_deadline_secs` in force right after the adoption);
//! - `sync_ack_late`: the source observes each target that has not acknowledged when the
//!   first entry stamped after the deadline is applied (once; a later ack adds nothing);
//! - `equivocation_proven`: the proposer observes a voter's double vote on its proposal;
//!   the reporter of a `checkpoint_fork` observes each hub that signed both notes;
//! - `submission_rejected`: the hub that recorded a refused submission
//!   (`record_refusal`) observes its signer;
//! - `cosignature_consistent`: the hub that recorded a seal (`record_seal`) observes
//!   each witness whose cosignature on it verified.
//!
//! Nobody observes themselves. Weights are those of the model in force when the
//! observation is made; EigenTrust runs with the model in force at the epoch boundary.
//!
//! Epochs: scores are computed after the genesis, after every entry that adopts a
//! contract revision, and after every [`EPOCH_ENTRIES`]th entry (index + 1 a multiple),
//! warm-started from the previous scores. Between epochs the scores stand, so anything
//! that reads them while applying an entry (a domain's `min_trust_score`,
//! `weight_by_trust`) reads the last completed epoch's.

use super::{Ctx, Event, State};
use crate::entry::Operation;
use crate::model::NodeStatus;
use crate::rules::VerificationRules;
use crate::stamp::Timestamp;
use crate::trust::{
    self, Cell, EPOCH_ENTRIES, Effect, LocalTrust, ONE, ObservationKind, TrustModel,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Epochs kept for the history of scores.
pub const HISTORY_EPOCHS: usize = 64;
/// Observations kept per subject for display.
pub const RECENT_PER_NODE: usize = 16;

/// How many observations of a kind a node received, and their summed weight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindTally {
    pub count: u64,
    /// Sum of the weights, in millionths.
    pub weight_fx: u64,
}

/// One observation as kept for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The log index of the entry it came from.
    pub index: u64,
    pub kind: ObservationKind,
    pub effect: Effect,
    pub observer: String,
    pub weight_fx: u64,
}

/// A revision whose sync deadline has not passed, and the targets yet to acknowledge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PendingSync {
    contract_id: String,
    revision: u64,
    source: String,
    waiting: BTreeSet<String>,
}

/// Why scores were computed at an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochCause {
    Genesis,
    /// The entry adopted a contract revision.
    Revision,
    /// The entry was the `EPOCH_ENTRIES`th since the last such boundary.
    Entries,
}

/// One computation of the scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// The index of the entry after which the scores were computed.
    pub index: u64,
    pub timestamp: Timestamp,
    pub cause: EpochCause,
    /// The governing contract's revision at that point.
    pub revision: u64,
    pub iterations: u32,
    pub converged: bool,
    /// The last iteration's L1 change, in units of 2^-40.
    pub delta: u64,
    /// Observations counted up to this point.
    pub observations: u64,
    /// (observer, subject) pairs with observations.
    pub pairs: u64,
    /// One score per node in [`TrustState::ids`] order (nodes registered later are
    /// absent at the end), in units of 2^-40.
    pub scores: Vec<u64>,
}

/// The trust room's state: part of [`State`], so snapshotted and replayed with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustState {
    /// Whether this state was built from the genesis (false only in a state restored
    /// from a snapshot written before trust existed).
    built: bool,
    /// Node ids by dense index, in registration order.
    ids: Vec<String>,
    index: BTreeMap<String, u32>,
    /// The trust model of the governing contract's clause 5.4 (refreshed when a
    /// revision of the governing contract is adopted).
    model: TrustModel,
    local: LocalTrust,
    /// Per subject: kind -> tally.
    received: Vec<BTreeMap<ObservationKind, KindTally>>,
    /// Per subject: its latest observations, oldest first.
    recent: Vec<VecDeque<Observation>>,
    /// Deadline (milliseconds) -> revisions due then.
    pending: BTreeMap<i64, Vec<PendingSync>>,
    /// The last epoch's scores, by dense index.
    scores: Vec<u64>,
    /// The latest epochs, oldest first.
    epochs: VecDeque<Epoch>,
    observations: u64,
}

impl TrustState {
    /// Whether the state holds every observation since the genesis.
    pub fn built(&self) -> bool {
        self.built
    }

    /// Node ids in dense-index order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// A node's dense index.
    pub fn index_of(&self, node_id: &str) -> Option<u32> {
        self.index.get(node_id).copied()
    }

    /// The model read from clause 5.4.
    pub fn model(&self) -> &TrustModel {
        &self.model
    }

    /// The local trust matrix.
    pub fn local(&self) -> &LocalTrust {
        &self.local
    }

    /// The last epoch's score of every node (units of 2^-40), in [`Self::ids`] order;
    /// nodes registered since have none.
    pub fn scores(&self) -> &[u64] {
        &self.scores
    }

    /// A node's score in the last epoch; none before its first epoch.
    pub fn score(&self, node_id: &str) -> Option<u64> {
        self.scores.get(self.index_of(node_id)? as usize).copied()
    }

    /// The latest epochs, oldest first (at most [`HISTORY_EPOCHS`]).
    pub fn epochs(&self) -> &VecDeque<Epoch> {
        &self.epochs
    }

    pub fn last_epoch(&self) -> Option<&Epoch> {
        self.epochs.back()
    }

    /// Observations counted since the genesis.
    pub fn observation_count(&self) -> u64 {
        self.observations
    }

    /// What a node received, by kind.
    pub fn received(&self, node_id: &str) -> Option<&BTreeMap<ObservationKind, KindTally>> {
        self.received.get(self.index_of(node_id)? as usize)
    }

    /// A node's latest observations, oldest first.
    pub fn recent(&self, node_id: &str) -> Option<&VecDeque<Observation>> {
        self.recent.get(self.index_of(node_id)? as usize)
    }

    /// Who observed `node_id` and how: (observer id, cell), by observer index.
    pub fn observers_of(&self, node_id: &str) -> Vec<(&str, Cell)> {
        let Some(j) = self.index_of(node_id) else {
            return Vec::new();
        };
        self.local
            .column(j)
            .into_iter()
            .map(|(i, c)| (self.ids[i as usize].as_str(), c))
            .collect()
    }

    /// Whom `node_id` observed and how: (subject id, cell).
    pub fn observed_by(&self, node_id: &str) -> Vec<(&str, Cell)> {
        let Some(i) = self.index_of(node_id) else {
            return Vec::new();
        };
        self.local
            .row(i)
            .iter()
            .map(|(j, c)| (self.ids[*j as usize].as_str(), *c))
            .collect()
    }

    fn index_node(&mut self, node_id: &str) {
        if self.index.contains_key(node_id) {
            return;
        }
        let i = self.ids.len() as u32;
        self.ids.push(node_id.to_owned());
        self.index.insert(node_id.to_owned(), i);
        self.local.grow(self.ids.len());
        self.received.push(BTreeMap::new());
        self.recent.push(VecDeque::new());
    }

    /// Counts one observation under the current model; false when it does not count
    /// (a kind the model leaves out, an unknown node, oneself).
    fn count(&mut self, index: u64, kind: ObservationKind, observer: &str, subject: &str) -> bool {
        let Some(rule) = self.model.rule(kind).copied() else {
            return false;
        };
        let (Some(i), Some(j)) = (self.index_of(observer), self.index_of(subject)) else {
            return false;
        };
        if !self.local.add(i, j, rule.effect, rule.weight_fx) {
            return false;
        }
        let t = self.received[j as usize].entry(kind).or_default();
        t.count += 1;
        t.weight_fx = t.weight_fx.saturating_add(rule.weight_fx);
        let recent = &mut self.recent[j as usize];
        if recent.len() == RECENT_PER_NODE {
            recent.pop_front();
        }
        recent.push_back(Observation {
            index,
            kind,
            effect: rule.effect,
            observer: observer.to_owned(),
            weight_fx: rule.weight_fx,
        });
        self.observations += 1;
        true
    }
}

impl State {
    /// The trust room: observations, matrix, scores.
    pub fn trust(&self) -> &TrustState {
        &self.trust
    }

    /// A node's score in the last completed epoch (units of 2^-40).
    pub fn trust_score(&self, node_id: &str) -> Option<u64> {
        self.trust.score(node_id)
    }

    /// Reads the observations an accepted entry makes and, at an epoch boundary,
    /// recomputes the scores. Called by the dispatcher after the entry's handler
    /// succeeded; cannot fail.
    pub(super) fn observe_trust(&mut self, op: &Operation, ctx: &Ctx, events: &[Event]) {
        let genesis = matches!(op, Operation::Genesis(_));
        if genesis {
            self.trust = TrustState {
                built: true,
                ..TrustState::default()
            };
            let ids: Vec<String> = self.nodes.keys().cloned().collect();
            for id in ids {
                self.trust.index_node(&id);
            }
            self.trust.model = self.trust_model_now();
        }
        let mut seen: Vec<(ObservationKind, String, String)> = Vec::new();
        // Revisions whose deadline passed before this entry: whoever has not
        // acknowledged is late.
        let due: Vec<i64> = self
            .trust
            .pending
            .range(..ctx.at.millis())
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            for p in self.trust.pending.remove(&k).unwrap_or_default() {
                for node in p.waiting {
                    seen.push((ObservationKind::SyncAckLate, p.source.clone(), node));
                }
            }
        }
        let mut boundary = genesis.then_some(EpochCause::Genesis);
        for e in events {
            match e {
                Event::NodeRegistered { node_id } => self.trust.index_node(node_id),
                Event::VoteCounted { proposal_id, voter } => {
                    if let Some(p) = self.live(proposal_id) {
                        seen.push((
                            ObservationKind::VoteCast,
                            p.proposed_by.clone(),
                            voter.clone(),
                        ));
                    }
                }
                Event::EquivocationRecorded { proposal_id, voter } => {
                    if let Some(p) = self.live(proposal_id) {
                        seen.push((
                            ObservationKind::EquivocationProven,
                            p.proposed_by.clone(),
                            voter.clone(),
                        ));
                    }
                }
                Event::CheckpointForkRecorded { signers, .. } => {
                    for s in signers {
                        seen.push((
                            ObservationKind::EquivocationProven,
                            ctx.author.to_owned(),
                            s.clone(),
                        ));
                    }
                }
                Event::RefusalRecorded { signer, .. } => seen.push((
                    ObservationKind::SubmissionRejected,
                    ctx.author.to_owned(),
                    signer.clone(),
                )),
                Event::SealRecorded { witnesses, .. } => {
                    for w in witnesses {
                        seen.push((
                            ObservationKind::CosignatureConsistent,
                            ctx.author.to_owned(),
                            w.clone(),
                        ));
                    }
                }
                Event::SyncAcknowledged {
                    contract_id,
                    revision,
                    node_id,
                } => {
                    // Still waiting: in time (a late one was counted when its deadline
                    // passed, and is no longer waiting).
                    let found = self.trust.pending.values_mut().flatten().find(|p| {
                        p.contract_id == *contract_id
                            && p.revision == *revision
                            && p.waiting.contains(node_id)
                    });
                    if let Some(p) = found {
                        p.waiting.remove(node_id);
                        seen.push((
                            ObservationKind::SyncAckTimely,
                            p.source.clone(),
                            node_id.clone(),
                        ));
                    }
                }
                Event::ProposalAdopted {
                    contract_id,
                    revision,
                    ..
                } => {
                    if self.governing_contract.as_deref() == Some(contract_id.as_str()) {
                        self.trust.model = self.trust_model_now();
                    }
                    self.await_sync(contract_id, *revision, ctx.at);
                    boundary = Some(EpochCause::Revision);
                }
                _ => {}
            }
        }
        if genesis && let Some(c) = self.governing_contract.clone() {
            self.await_sync(&c, 1, ctx.at);
        }
        if let Operation::Close(c) = op
            && let (Some(p), Some(b)) =
                (self.live(&c.proposal_id), self.ballots.get(&c.proposal_id))
        {
            for voter in b.eligible.keys() {
                let equivocated = b.equivocated.contains_key(voter);
                if !b.voted.contains_key(voter) && !equivocated {
                    seen.push((
                        ObservationKind::ProposalMissed,
                        p.proposed_by.clone(),
                        voter.clone(),
                    ));
                }
            }
        }
        for (kind, observer, subject) in seen {
            self.trust.count(ctx.index, kind, &observer, &subject);
        }
        if boundary.is_none() && (ctx.index + 1).is_multiple_of(EPOCH_ENTRIES) {
            boundary = Some(EpochCause::Entries);
        }
        if let Some(cause) = boundary {
            self.compute_trust(ctx, cause);
        }
    }

    /// Clause 5.4's trust model in the governing contract now.
    fn trust_model_now(&self) -> TrustModel {
        // Adopted revisions always read (rules::check_change refuses others).
        VerificationRules::of(self)
            .map(|r| r.trust_model)
            .unwrap_or_default()
    }

    /// Starts the sync deadline of a revision whose targets were fixed at adoption.
    fn await_sync(&mut self, contract_id: &str, revision: u64, at: Timestamp) {
        let Some(sync) = self.revision_sync(contract_id, revision) else {
            return;
        };
        let deadline_secs = VerificationRules::of(self)
            .map(|r| r.sync_deadline_secs)
            .unwrap_or(crate::rules::DEFAULT_SYNC_DEADLINE_SECS);
        let p = PendingSync {
            contract_id: contract_id.to_owned(),
            revision,
            source: sync.source_node_id.clone(),
            waiting: sync.target_node_ids.iter().cloned().collect(),
        };
        self.trust
            .pending
            .entry(at.plus_secs(deadline_secs).millis())
            .or_default()
            .push(p);
    }

    /// Runs EigenTrust over the matrix as it stands, warm-started from the last scores.
    fn compute_trust(&mut self, ctx: &Ctx, cause: EpochCause) {
        let model = &self.trust.model;
        let pretrusted: Vec<u32> = self
            .trust
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| {
                self.nodes.get(*id).is_some_and(|n| {
                    n.status == NodeStatus::Active && model.pre_trusted_roles.contains(&n.node_type)
                })
            })
            .map(|(i, _)| i as u32)
            .collect();
        let params = model.params();
        let c = self.trust.local.normalized_cached();
        let out = trust::eigentrust(c, &pretrusted, params, Some(&self.trust.scores));
        debug_assert_eq!(out.scores.iter().sum::<u64>(), ONE);
        let revision = self
            .governing_contract
            .as_deref()
            .and_then(|id| self.contract(id))
            .map_or(0, |c| c.revision);
        let epoch = Epoch {
            index: ctx.index,
            timestamp: ctx.at,
            cause,
            revision,
            iterations: out.iterations,
            converged: out.converged,
            delta: out.delta,
            observations: self.trust.observations,
            pairs: self.trust.local.pairs() as u64,
            scores: out.scores.clone(),
        };
        self.trust.scores = out.scores;
        if self.trust.epochs.len() == HISTORY_EPOCHS {
            self.trust.epochs.pop_front();
        }
        self.trust.epochs.push_back(epoch);
    }
}
