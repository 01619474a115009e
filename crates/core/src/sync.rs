//! Contract sync records (the seed's governance_contract_sync v1 record), derived for
//! every contract revision from the registry, the acknowledgements nodes have signed
//! and the clause 5.4 sync deadline.
//!
//! A record says where a revision has arrived: `successful_nodes` acknowledged it by the
//! deadline, `failed_nodes` had not when the deadline passed. Acknowledgements are
//! `ack_sync` entries in the log ([`ack_book`] collects them from a State nobody
//! drained; a node reads them from its ledger's `acks` table, [`sync_records_by`]);
//! until a node acknowledges, it is only a target.
//!
//! `source_node_id` is the author of the entry that brought the revision into being:
//! the genesis author for revision 1, else the author of the deciding `vote` or the
//! `close`. The council hub that stamped that entry is not recorded in the log (a log
//! record carries only index, time and the author's envelope), so the node whose
//! signed entry adopted the revision is the nearest thing the log proves.
//! `target_node_ids` are the nodes active at adoption, other than the source; the
//! deadline runs from the adoption time (the stamp of the adopting entry) for clause
//! 5.4 `sync_deadline_secs`.

use crate::digest::Digest;
use crate::model::{CODEX_CLAUSES, Contract, NodeStatus, PHASE_ID};
use crate::stamp::Timestamp;
use crate::state::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sync deadline when clause 5.4 does not set one.
pub use crate::rules::DEFAULT_SYNC_DEADLINE_SECS;

/// Acknowledgements: (contract id, revision) -> node id -> time of its ack.
pub type AckBook = BTreeMap<(String, u64), BTreeMap<String, Timestamp>>;

/// The acknowledgements a State holds (every one, if nobody took them with
/// [`State::take_retired`]), as [`sync_records`] reads them.
pub fn ack_book(state: &State) -> AckBook {
    let mut book = AckBook::new();
    for (contract, revs) in state.sync_acks() {
        for (rev, acks) in revs {
            book.insert(
                (contract.clone(), *rev),
                acks.iter().map(|(n, a)| (n.clone(), a.timestamp)).collect(),
            );
        }
    }
    book
}

/// The `ack_sync` operations `node_id` still owes: every revision, of any contract,
/// whose targets (fixed at adoption) include it and that it has not acknowledged,
/// oldest first. Nothing for a node that is not registered and active.
pub fn pending_acks(state: &State, node_id: &str) -> Vec<crate::entry::AckSyncOp> {
    if state
        .node(node_id)
        .is_none_or(|n| n.status != NodeStatus::Active)
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for head in state.contracts() {
        for rev in state.revisions(&head.contract_id) {
            let owed = state
                .revision_sync(&rev.contract_id, rev.revision)
                .is_some_and(|s| s.target_node_ids.iter().any(|t| t == node_id));
            if owed && !state.has_acked(node_id, &rev.contract_id, rev.revision) {
                out.push(crate::entry::AckSyncOp {
                    contract_id: rev.contract_id.clone(),
                    revision: rev.revision,
                    contract_hash: rev.contract_hash,
                });
            }
        }
    }
    out
}

/// [`sync_records`] with the acknowledgements in the log.
pub fn sync_records_at(state: &State, now: Timestamp) -> Vec<SyncRecord> {
    sync_records(state, &ack_book(state), now)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Before the deadline, nobody has acknowledged yet.
    Created,
    /// Before the deadline, some targets have acknowledged.
    InProgress,
    /// Every target acknowledged by the deadline.
    Completed,
    /// The deadline passed with some but not all targets acknowledged.
    Partial,
    /// The deadline passed with no target acknowledged.
    Failed,
}

/// The seed's contract sync record plus the contract id, revision and deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub sync_id: String,
    pub source_node_id: String,
    pub target_node_ids: Vec<String>,
    pub contract_id: String,
    pub revision: u64,
    pub contract_version: String,
    pub contract_hash: Digest,
    pub sync_type: String,
    pub timestamp: Timestamp,
    pub deadline: Timestamp,
    pub status: SyncStatus,
    pub phase_id: String,
    pub codex_clauses: Vec<String>,
    pub successful_nodes: Vec<String>,
    pub failed_nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Timestamp>,
}

/// One record per revision of every contract, oldest first, as of `now`.
pub fn sync_records(state: &State, acks: &AckBook, now: Timestamp) -> Vec<SyncRecord> {
    sync_records_by(state, now, |contract, revision| {
        acks.get(&(contract.to_owned(), revision)).cloned()
    })
}

/// [`sync_records`] with the acknowledgements of each revision from `acks_of`
/// (contract id, revision): node id -> time of its ack.
pub fn sync_records_by(
    state: &State,
    now: Timestamp,
    mut acks_of: impl FnMut(&str, u64) -> Option<BTreeMap<String, Timestamp>>,
) -> Vec<SyncRecord> {
    let deadline_secs = sync_deadline_secs(state);
    let active: Vec<&str> = state
        .nodes()
        .into_iter()
        .filter(|n| n.status == NodeStatus::Active)
        .map(|n| n.node_id.as_str())
        .collect();
    let mut out = Vec::new();
    for head in state.contracts() {
        for rev in state.revisions(&head.contract_id) {
            let (source, targets) = match state.revision_sync(&rev.contract_id, rev.revision) {
                Some(s) => (Some(s.source_node_id.clone()), s.target_node_ids.clone()),
                None => {
                    // A state restored from before sources and targets were recorded.
                    let source = source_node(state, rev);
                    let targets = active
                        .iter()
                        .filter(|id| Some(**id) != source.as_deref())
                        .map(|id| id.to_string())
                        .collect();
                    (source, targets)
                }
            };
            let got = acks_of(&rev.contract_id, rev.revision);
            out.push(derive(
                rev,
                source,
                targets,
                got.as_ref(),
                deadline_secs,
                now,
            ));
        }
    }
    out
}

fn derive(
    rev: &Contract,
    source: Option<String>,
    targets: Vec<String>,
    acks: Option<&BTreeMap<String, Timestamp>>,
    deadline_secs: u64,
    now: Timestamp,
) -> SyncRecord {
    let deadline = rev.adopted_at.plus_secs(deadline_secs);
    let in_time = |id: &String| -> Option<Timestamp> {
        acks.and_then(|a| a.get(id))
            .copied()
            .filter(|t| *t <= deadline)
    };
    let successful: Vec<String> = targets
        .iter()
        .filter(|id| in_time(id).is_some())
        .cloned()
        .collect();
    let past = now > deadline;
    let failed: Vec<String> = if past {
        targets
            .iter()
            .filter(|id| in_time(id).is_none())
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let status = if successful.len() == targets.len() {
        SyncStatus::Completed
    } else if past {
        if successful.is_empty() {
            SyncStatus::Failed
        } else {
            SyncStatus::Partial
        }
    } else if successful.is_empty() {
        SyncStatus::Created
    } else {
        SyncStatus::InProgress
    };
    let completion_time = (status == SyncStatus::Completed).then(|| {
        targets
            .iter()
            .filter_map(in_time)
            .max()
            .unwrap_or(rev.adopted_at)
    });
    SyncRecord {
        sync_id: uuid_from(&Digest::sha256_parts(&[
            b"govmesh-sync\n",
            &rev.contract_hash.0,
        ])),
        source_node_id: source.unwrap_or_default(),
        target_node_ids: targets,
        contract_id: rev.contract_id.clone(),
        revision: rev.revision,
        contract_version: format!("{}-r{}", rev.label, rev.revision),
        contract_hash: rev.contract_hash,
        sync_type: "full".to_owned(),
        timestamp: rev.adopted_at,
        deadline,
        status,
        phase_id: PHASE_ID.to_owned(),
        codex_clauses: CODEX_CLAUSES.iter().map(|s| s.to_string()).collect(),
        successful_nodes: successful,
        failed_nodes: failed,
        completion_time,
    }
}

/// The node that brought a revision into being: the proposer of the adopting proposal,
/// or for revision 1 the admin of the genesis council domain.
fn source_node(state: &State, rev: &Contract) -> Option<String> {
    match &rev.adopted_by_proposal {
        Some(p) => state.proposer(p).map(str::to_owned),
        None => state
            .governance_rules()
            .and_then(|r| state.domain(&r.default_domain_id))
            .map(|d| d.admin_node_id.clone()),
    }
}

/// Clause 5.4 `sync_deadline_secs` of the governing contract (the default if its
/// rules do not read; a proposal cannot adopt such rules).
fn sync_deadline_secs(state: &State) -> u64 {
    crate::rules::VerificationRules::of(state)
        .map_or(DEFAULT_SYNC_DEADLINE_SECS, |r| r.sync_deadline_secs)
}

fn uuid_from(d: &Digest) -> String {
    let mut b: [u8; 16] = d.0[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev() -> Contract {
        let mut c = Contract {
            contract_id: "codex".into(),
            label: "v2025.05.18".into(),
            revision: 2,
            clauses: vec![],
            parent_hash: None,
            adopted_by_proposal: None,
            adopted_at: Timestamp(1_000_000),
            domain_id: None,
            contract_hash: Digest::default(),
        };
        c.contract_hash = c.compute_hash().unwrap();
        c
    }

    fn check(acks: &[(&str, i64)], now: i64, status: SyncStatus, ok: &[&str], failed: &[&str]) {
        let targets = vec!["a".to_string(), "b".to_string()];
        let book: BTreeMap<String, Timestamp> = acks
            .iter()
            .map(|(id, t)| (id.to_string(), Timestamp(*t)))
            .collect();
        let r = derive(
            &rev(),
            Some("s".into()),
            targets,
            Some(&book),
            300,
            Timestamp(now),
        );
        assert_eq!(r.status, status, "acks {acks:?} at {now}");
        assert_eq!(r.successful_nodes, ok);
        assert_eq!(r.failed_nodes, failed);
        assert_eq!(r.completion_time.is_some(), status == SyncStatus::Completed);
    }

    #[test]
    fn status_follows_acks_and_the_deadline() {
        let deadline = 1_000_000 + 300_000;
        check(&[], 1_000_001, SyncStatus::Created, &[], &[]);
        check(
            &[("a", 1_000_500)],
            1_000_600,
            SyncStatus::InProgress,
            &["a"],
            &[],
        );
        check(
            &[("a", 1_000_500), ("b", 1_200_000)],
            1_200_001,
            SyncStatus::Completed,
            &["a", "b"],
            &[],
        );
        check(
            &[("a", 1_000_500)],
            deadline + 1,
            SyncStatus::Partial,
            &["a"],
            &["b"],
        );
        check(&[], deadline + 1, SyncStatus::Failed, &[], &["a", "b"]);
        // A late ack does not make a node successful.
        check(
            &[("a", 1_000_500), ("b", deadline + 5)],
            deadline + 10,
            SyncStatus::Partial,
            &["a"],
            &["b"],
        );
    }

    #[test]
    fn no_targets_is_complete_and_ids_are_uuids() {
        let r = derive(&rev(), Some("s".into()), vec![], None, 300, Timestamp(0));
        assert_eq!(r.status, SyncStatus::Completed);
        assert!(crate::state::is_uuid_v4(&r.sync_id), "{}", r.sync_id);
    }
}
