//! The council's openraft storage: [`LogStore`] keeps the Raft log, vote and
//! committed/purged ids in `raft.db` (govmesh_store::raft); [`StateMachine`] is the
//! node's Ledger. A Raft application entry carries a batch of `{envelope, stamp_ms}`
//! (group commit; older `raft.db` files hold single ones); applying it is
//! `Ledger::append(envelope, max(stamp, last_timestamp))` for each envelope in
//! order, and a refusal is a deterministic no-op for that envelope only: its answer
//! goes back to its client and the rest of the batch is applied. A run of
//! application entries is ONE ledger transaction (`Ledger::append_stamped_all`),
//! and that same transaction records the run's last log id and the membership as
//! applied (ledger meta key [`LEDGER_APPLIED`]). `raft.db` records the applied id
//! and membership only when an apply call ends with a blank or membership entry.
//! At open, the newer of the two records counts. So the ledger's state after a
//! crash is exactly the result of applying the log up to the applied id that is
//! read back (the marker is durable exactly when the entries it covers are, and
//! raft.db's is written only after the ledger's transaction): Raft re-applies only
//! entries whose effects were never stored, against the very state they were first
//! applied to, which gives the same answers as on every other hub (no entry is lost
//! or applied twice, and a refused entry cannot become accepted because entries
//! after it were stored).
//!
//! The ledger's commits do not wait for the disk (`Ledger::defer_commit_sync`, set
//! by `Council::start`): the Raft log is the durable copy (raft.db fsyncs every
//! append; an entry is committed once a majority has it on disk), and whatever a
//! machine crash takes from the ledger's tail, with its marker, the hub re-applies
//! from the log at restart. That re-application needs the entries still in the log,
//! so raft.db never gets ahead of what the ledger has on disk: before it records an
//! applied id, a snapshot (after which the log before it may be purged) or an
//! installed snapshot, the ledger is synced (`Ledger::sync`). A snapshot is the
//! governance log's records; installing one appends the records this hub lacks
//! through `Ledger::append_records` (which verifies and replays each).

use super::{CouncilAnswer, HubNode, TypeConfig};
use crate::order::{Committed, LogNotify, SharedLedger};
use govmesh_core::entry::LogRecord;
use govmesh_core::stamp::Timestamp;
use govmesh_store::raft::{RaftEntry, RaftStore};
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, Entry, EntryPayload, LogId, LogState, RaftLogReader, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

type NodeId = u64;
type SResult<T> = Result<T, StorageError<NodeId>>;

pub(crate) type SharedRaftStore = Arc<Mutex<RaftStore>>;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";
const APPLIED: &str = "applied";
const MEMBERSHIP: &str = "membership";
const SNAPSHOT_META: &str = "snapshot_meta";
const SNAPSHOT_SIZE: &str = "snapshot_size";
/// The ledger's meta key holding the council's `(last applied log id, membership)`,
/// written in the same transaction as the entries it covers.
pub(crate) const LEDGER_APPLIED: &str = "council_applied";

fn any(e: impl std::fmt::Display) -> AnyError {
    AnyError::error(e.to_string())
}

/// Runs a closure over the Raft database off the async workers.
async fn with_db<T: Send + 'static>(
    db: &SharedRaftStore,
    f: impl FnOnce(&mut RaftStore) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = db
            .lock()
            .map_err(|_| "the Raft database lock is poisoned")?;
        f(&mut guard)
    })
    .await
    .map_err(|e| format!("Raft storage task failed: {e}"))?
}

fn get_json<T: for<'de> Deserialize<'de>>(db: &RaftStore, key: &str) -> Result<Option<T>, String> {
    match db.get(key).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("raft.db value {key:?} is unreadable: {e}")),
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(v).map_err(|e| e.to_string())
}

/// The Raft log, vote and committed/purged ids.
#[derive(Clone)]
pub struct LogStore {
    db: SharedRaftStore,
    recent: Arc<Mutex<Recent>>,
    /// When the committed id was last written.
    committed_written: Arc<Mutex<Option<std::time::Instant>>>,
}

/// The least time between two writes of the committed id.
const COMMITTED_WRITE_SPACING: std::time::Duration = std::time::Duration::from_millis(200);

impl LogStore {
    pub(crate) fn new(db: SharedRaftStore) -> LogStore {
        LogStore {
            db,
            recent: Arc::default(),
            committed_written: Arc::default(),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The last entries appended to the log, as they were appended (a contiguous run
/// ending with the log's last entry, or nothing), so that the leader sends the
/// entries it just wrote to the other hubs without reading and parsing them back
/// from raft.db. At most [`RECENT_ENVELOPES`] envelopes' worth.
#[derive(Default)]
struct Recent {
    entries: std::collections::VecDeque<Entry<TypeConfig>>,
    envelopes: usize,
}

const RECENT_ENVELOPES: usize = 8192;

fn envelopes_in(e: &Entry<TypeConfig>) -> usize {
    match &e.payload {
        EntryPayload::Normal(r) => r.items().len().max(1),
        _ => 1,
    }
}

impl Recent {
    fn first(&self) -> Option<u64> {
        self.entries.front().map(|e| e.log_id.index)
    }

    /// After `entries` were stored (each following the previous one).
    fn appended(&mut self, entries: Vec<Entry<TypeConfig>>) {
        for e in entries {
            let i = e.log_id.index;
            match self.entries.back().map(|b| b.log_id.index) {
                Some(last) if i == last + 1 => {}
                // A replacement from `i` on (a new leader's entries).
                Some(_) if self.first().is_some_and(|f| i > f) && i <= self.last_or(0) => {
                    self.truncated(i)
                }
                Some(_) => self.clear(),
                None => {}
            }
            self.envelopes += envelopes_in(&e);
            self.entries.push_back(e);
        }
        while self.envelopes > RECENT_ENVELOPES && self.entries.len() > 1 {
            if let Some(e) = self.entries.pop_front() {
                self.envelopes -= envelopes_in(&e);
            }
        }
    }

    fn last_or(&self, default: u64) -> u64 {
        self.entries.back().map_or(default, |e| e.log_id.index)
    }

    /// After the entries from `index` on were removed.
    fn truncated(&mut self, index: u64) {
        while self.entries.back().is_some_and(|e| e.log_id.index >= index) {
            if let Some(e) = self.entries.pop_back() {
                self.envelopes -= envelopes_in(&e);
            }
        }
    }

    /// After the entries up to `index` were purged.
    fn purged(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|e| e.log_id.index <= index)
        {
            if let Some(e) = self.entries.pop_front() {
                self.envelopes -= envelopes_in(&e);
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.envelopes = 0;
    }

    /// Entries `start..end` if they are all here (`end` may lie past the last entry:
    /// the log holds nothing after it).
    fn get(&self, start: u64, end: u64) -> Option<Vec<Entry<TypeConfig>>> {
        let first = self.first()?;
        if start < first || start >= end {
            return None;
        }
        let skip = (start - first) as usize;
        let take = (end - start).min(self.entries.len() as u64) as usize;
        Some(self.entries.iter().skip(skip).take(take).cloned().collect())
    }
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => e.saturating_add(1),
        Bound::Excluded(e) => *e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> SResult<Vec<Entry<TypeConfig>>> {
        let (start, end) = bounds(&range);
        if let Some(hit) = self.recent().get(start, end) {
            return Ok(hit);
        }
        with_db(&self.db, move |db| {
            let rows = db.entries(start, end).map_err(|e| e.to_string())?;
            rows.iter()
                .map(|r| {
                    serde_json::from_slice::<Entry<TypeConfig>>(&r.data)
                        .map_err(|e| format!("Raft log entry {} is unreadable: {e}", r.index))
                })
                .collect()
        })
        .await
        .map_err(|e| StorageIOError::read_logs(any(e)).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> SResult<LogState<TypeConfig>> {
        with_db(&self.db, |db| {
            let purged: Option<LogId<NodeId>> = get_json(db, PURGED)?;
            let last = match db.last_entry().map_err(|e| e.to_string())? {
                Some(r) => {
                    let e: Entry<TypeConfig> = serde_json::from_slice(&r.data)
                        .map_err(|e| format!("Raft log entry {} is unreadable: {e}", r.index))?;
                    Some(e.log_id)
                }
                None => purged,
            };
            Ok(LogState {
                last_purged_log_id: purged,
                last_log_id: last,
            })
        })
        .await
        .map_err(|e| StorageIOError::read_logs(any(e)).into())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> SResult<()> {
        let bytes = to_json(vote).map_err(|e| StorageIOError::write_vote(any(e)))?;
        with_db(&self.db, move |db| {
            db.set(VOTE, &bytes).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| StorageIOError::write_vote(any(e)).into())
    }

    async fn read_vote(&mut self) -> SResult<Option<Vote<NodeId>>> {
        with_db(&self.db, |db| get_json(db, VOTE))
            .await
            .map_err(|e| StorageIOError::read_vote(any(e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> SResult<()> {
        // Every commit calls this on every hub. The committed id is a hint (any id
        // that was committed is safe to apply after a restart, and the leader tells
        // the current one again), so it is written at most every
        // COMMITTED_WRITE_SPACING, and without waiting for the disk.
        {
            let mut last = self
                .committed_written
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < COMMITTED_WRITE_SPACING) {
                return Ok(());
            }
            *last = Some(now);
        }
        let bytes = to_json(&committed).map_err(|e| StorageIOError::write(any(e)))?;
        with_db(&self.db, move |db| {
            db.set_unsynced(COMMITTED, &bytes)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| StorageIOError::write(any(e)).into())
    }

    async fn read_committed(&mut self) -> SResult<Option<LogId<NodeId>>> {
        with_db(&self.db, |db| {
            Ok(get_json::<Option<LogId<NodeId>>>(db, COMMITTED)?.flatten())
        })
        .await
        .map_err(|e| StorageIOError::read(any(e)).into())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> SResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let rows = entries
            .iter()
            .map(|e| {
                Ok(RaftEntry {
                    index: e.log_id.index,
                    term: e.log_id.leader_id.term,
                    data: to_json(e)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| StorageIOError::write_logs(any(e)))?;
        let r = with_db(&self.db, move |db| {
            db.append(&rows).map_err(|e| e.to_string())
        })
        .await;
        match &r {
            Ok(()) => self.recent().appended(entries),
            // What is stored is unknown: read from raft.db from now on.
            Err(_) => self.recent().clear(),
        }
        match r {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.clone())));
                Err(StorageIOError::write_logs(any(e)).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> SResult<()> {
        let r = with_db(&self.db, move |db| {
            db.truncate_from(log_id.index).map_err(|e| e.to_string())
        })
        .await;
        match &r {
            Ok(()) => self.recent().truncated(log_id.index),
            Err(_) => self.recent().clear(),
        }
        r.map_err(|e| StorageIOError::write_logs(any(e)).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> SResult<()> {
        let bytes = to_json(&log_id).map_err(|e| StorageIOError::write_logs(any(e)))?;
        let r = with_db(&self.db, move |db| {
            db.purge_upto(log_id.index, &bytes)
                .map_err(|e| e.to_string())
        })
        .await;
        match &r {
            Ok(()) => self.recent().purged(log_id.index),
            Err(_) => self.recent().clear(),
        }
        r.map_err(|e| StorageIOError::write_logs(any(e)).into())
    }
}

/// What a snapshot's bytes hold: the governance log's first `records.len()` records.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    records: Vec<LogRecord>,
}

/// The state machine: the node's ledger.
pub struct StateMachine {
    ledger: SharedLedger,
    db: SharedRaftStore,
    log: LogNotify,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, HubNode>,
    /// Held while the state machine exists (the council waits for its release at
    /// shutdown, so the ledger can be closed).
    _alive: Arc<()>,
    /// Where apply latencies go (`govmesh_apply_seconds`).
    telemetry: crate::telemetry::Telemetry,
}

impl StateMachine {
    /// Loads the last applied log id and membership from `raft.db` (blocking).
    pub(crate) fn open(
        ledger: SharedLedger,
        db: SharedRaftStore,
        log: LogNotify,
        alive: Arc<()>,
        telemetry: crate::telemetry::Telemetry,
    ) -> Result<StateMachine, String> {
        let (mut applied, mut membership) = {
            let g = db
                .lock()
                .map_err(|_| "the Raft database lock is poisoned")?;
            (
                get_json::<Option<LogId<NodeId>>>(&g, APPLIED)?.flatten(),
                get_json(&g, MEMBERSHIP)?.unwrap_or_default(),
            )
        };
        // The ledger's own record of what it applied is newer when raft.db was not
        // written after the ledger's last transaction (see the module comment).
        let marker = {
            let l = ledger
                .try_lock()
                .map_err(|_| "the ledger is in use while the council opens")?;
            l.meta_get(LEDGER_APPLIED).map_err(|e| e.to_string())?
        };
        if let Some(bytes) = marker {
            type Marker = (Option<LogId<NodeId>>, StoredMembership<NodeId, HubNode>);
            let (a, m): Marker = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the ledger's {LEDGER_APPLIED:?} is unreadable: {e}"))?;
            if a.map(|l| l.index) > applied.map(|l| l.index) {
                applied = a;
                membership = m;
            }
        }
        Ok(StateMachine {
            ledger,
            db,
            log,
            applied,
            membership,
            _alive: alive,
            telemetry,
        })
    }

    async fn persist_applied(&self) -> Result<(), String> {
        let a = to_json(&self.applied)?;
        let m = to_json(&self.membership)?;
        with_db(&self.db, move |db| {
            db.set_many(&[(APPLIED, &a), (MEMBERSHIP, &m)])
                .map_err(|e| e.to_string())
        })
        .await
    }
}

/// Reads records `0..size` of the ledger, page by page.
fn all_records(ledger: &govmesh_store::Ledger, size: u64) -> Result<Vec<LogRecord>, String> {
    let mut out = Vec::with_capacity(size as usize);
    while (out.len() as u64) < size {
        let page = ledger
            .records(out.len() as u64, size)
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            return Err(format!(
                "the ledger has {} records, the snapshot needs {size}",
                out.len()
            ));
        }
        out.extend(page);
    }
    Ok(out)
}

async fn snapshot_bytes(ledger: &SharedLedger, size: u64) -> Result<Vec<u8>, String> {
    let l = ledger.clone().lock_owned().await;
    tokio::task::spawn_blocking(move || {
        let records = all_records(&l, size)?;
        to_json(&SnapshotData { records })
    })
    .await
    .map_err(|e| format!("snapshot task failed: {e}"))?
}

/// Records the snapshot of the ledger as it was when the builder was made (its size
/// and the Raft log id it covers).
pub struct SnapshotBuilder {
    db: SharedRaftStore,
    ledger: SharedLedger,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, HubNode>,
    size: u64,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> SResult<Snapshot<TypeConfig>> {
        let fail = |e: String| StorageError::from(StorageIOError::write_snapshot(None, any(e)));
        // The snapshot is the ledger's first `size` records, which never change: only
        // its metadata is stored here. openraft keeps only the metadata of a snapshot it
        // builds; the records are read when a snapshot is sent
        // (`get_current_snapshot`), not every `snapshot_every` entries while the ledger
        // waits.
        let snapshot_id = match &self.applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, self.size),
            None => format!("0-0-{}", self.size),
        };
        let meta = SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let m = to_json(&meta).map_err(fail)?;
        let s = to_json(&self.size).map_err(fail)?;
        // The snapshot's records must be on disk before raft.db says they are (the
        // log before it may then be purged).
        let ledger = self.ledger.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || ledger.sync())
            .await
            .map_err(|e| fail(format!("sync task failed: {e}")))?
            .map_err(|e| fail(e.to_string()))?;
        with_db(&self.db, move |db| {
            db.set_many(&[(SNAPSHOT_META, &m), (SNAPSHOT_SIZE, &s)])
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(fail)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

fn committed_answer(a: govmesh_store::Appended) -> CouncilAnswer {
    CouncilAnswer::Committed(Committed {
        index: a.record.index,
        entry_hash: a.applied.entry_hash,
        leaf_hash: a.leaf_hash,
        kind: a.applied.kind,
        author: a.applied.author,
        events: a.applied.events,
        timestamp: a.record.timestamp,
    })
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> SResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, HubNode>)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> SResult<Vec<CouncilAnswer>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let Some(last) = entries.last().map(|e| e.log_id) else {
            return Ok(Vec::new());
        };
        let mut ledger = self.ledger.clone().lock_owned().await;
        let mut membership = self.membership.clone();
        let started = std::time::Instant::now();
        let (answers, membership, size, marked) = tokio::task::spawn_blocking(move || {
            let mut answers = Vec::with_capacity(entries.len());
            // The last log id the ledger recorded as applied in this call.
            let mut marked = None;
            let mut i = 0;
            while i < entries.len() {
                let e = &entries[i];
                match &e.payload {
                    EntryPayload::Blank => answers.push(CouncilAnswer::Nothing),
                    EntryPayload::Membership(m) => {
                        membership = StoredMembership::new(Some(e.log_id), m.clone());
                        answers.push(CouncilAnswer::Nothing);
                    }
                    EntryPayload::Normal(_) => {
                        // The run of application entries from here: every envelope
                        // of every batch in it, and the run's last log id as the
                        // applied marker, in ONE ledger transaction (see the module
                        // comment).
                        let run: Vec<&super::CouncilRequest> = entries[i..]
                            .iter()
                            .map_while(|x| match &x.payload {
                                EntryPayload::Normal(req) => Some(req),
                                _ => None,
                            })
                            .collect();
                        let items: Vec<(govmesh_core::dsse::Envelope, Timestamp, bool)> = run
                            .iter()
                            .flat_map(|r| r.items())
                            .map(|it| {
                                (
                                    it.envelope.clone(),
                                    Timestamp::from_millis(it.stamp_ms),
                                    it.signature_verified,
                                )
                            })
                            .collect();
                        let last_of_run = entries[i + run.len() - 1].log_id;
                        let marker = to_json(&(Some(last_of_run), &membership))
                            .map_err(|err| (e.log_id, err))?;
                        let results = ledger
                            .append_stamped_all(&items, Some((LEDGER_APPLIED, &marker)))
                            .map_err(|err| (e.log_id, err.to_string()))?;
                        let mut results = results.into_iter().map(|r| match r {
                            Ok(a) => committed_answer(a),
                            Err(r) => CouncilAnswer::Rejected(r),
                        });
                        for req in &run {
                            match req {
                                super::CouncilRequest::Single(_) => {
                                    answers.push(results.next().unwrap_or(CouncilAnswer::Nothing))
                                }
                                super::CouncilRequest::Batch { batch } => {
                                    answers.push(CouncilAnswer::Batch(
                                        results.by_ref().take(batch.len()).collect(),
                                    ))
                                }
                            }
                        }
                        marked = Some(last_of_run);
                        i += run.len();
                        continue;
                    }
                }
                i += 1;
            }
            if marked != Some(last) {
                // raft.db is about to record `last` as applied: what the ledger holds
                // must be on disk first (its commits do not wait; module comment).
                ledger.sync().map_err(|err| (last, err.to_string()))?;
            }
            Ok((answers, membership, ledger.size(), marked))
        })
        .await
        .map_err(|e| StorageIOError::apply(last, any(format!("apply task failed: {e}"))))?
        .map_err(|(id, e)| StorageIOError::apply(id, any(e)))?;
        self.telemetry.applied(started.elapsed());
        self.applied = Some(last);
        self.membership = membership;
        // When the ledger's transaction already recorded `last` as applied, raft.db
        // need not (one fsync per apply, not two).
        if marked != Some(last) {
            self.persist_applied()
                .await
                .map_err(|e| StorageIOError::apply(last, any(e)))?;
        }
        self.log.notify(size);
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let size = self.ledger.lock().await.size();
        SnapshotBuilder {
            db: self.db.clone(),
            ledger: self.ledger.clone(),
            applied: self.applied,
            membership: self.membership.clone(),
            size,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> SResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, HubNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> SResult<()> {
        let sig = Some(meta.signature());
        let fail =
            |e: String| StorageError::from(StorageIOError::read_snapshot(sig.clone(), any(e)));
        let data: SnapshotData = serde_json::from_slice(snapshot.get_ref())
            .map_err(|e| fail(format!("the snapshot is not readable: {e}")))?;
        let mut ledger = self.ledger.clone().lock_owned().await;
        let size = tokio::task::spawn_blocking(move || -> Result<u64, String> {
            let have = ledger.size();
            let n = data.records.len() as u64;
            // The shared prefix must be the same log.
            let common = have.min(n);
            if common > 0 {
                let mine = ledger
                    .record(common - 1)
                    .map_err(|e| e.to_string())?
                    .ok_or("the ledger lost a record")?;
                if mine.leaf_hash() != data.records[(common - 1) as usize].leaf_hash() {
                    return Err(format!(
                        "the snapshot's record {} differs from this hub's: the logs diverged",
                        common - 1
                    ));
                }
            }
            if n > have {
                ledger
                    .append_records(&data.records[have as usize..])
                    .map_err(|e| format!("installing the snapshot's records: {e}"))?;
            }
            ledger.sync().map_err(|e| e.to_string())?;
            Ok(ledger.size())
        })
        .await
        .map_err(|e| fail(format!("snapshot task failed: {e}")))?
        .map_err(fail)?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let m = to_json(meta).map_err(fail)?;
        let s = to_json(&size).map_err(fail)?;
        let a = to_json(&self.applied).map_err(fail)?;
        let mm = to_json(&self.membership).map_err(fail)?;
        with_db(&self.db, move |db| {
            db.set_many(&[
                (SNAPSHOT_META, &m),
                (SNAPSHOT_SIZE, &s),
                (APPLIED, &a),
                (MEMBERSHIP, &mm),
            ])
            .map_err(|e| e.to_string())
        })
        .await
        .map_err(fail)?;
        self.log.notify(size);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> SResult<Option<Snapshot<TypeConfig>>> {
        let fail = |e: String| StorageError::from(StorageIOError::read_snapshot(None, any(e)));
        let stored = with_db(&self.db, |db| {
            let meta: Option<SnapshotMeta<NodeId, HubNode>> = get_json(db, SNAPSHOT_META)?;
            let size: Option<u64> = get_json(db, SNAPSHOT_SIZE)?;
            Ok(meta.zip(size))
        })
        .await
        .map_err(fail)?;
        let Some((meta, size)) = stored else {
            return Ok(None);
        };
        let data = snapshot_bytes(&self.ledger, size).await.map_err(fail)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::council::{CouncilItem, CouncilRequest};
    use govmesh_core::codex::codex_genesis;
    use govmesh_core::entry::{NodeSpec, Operation, sign_entry, sign_entry_at};
    use govmesh_core::keys::KeyPair;
    use govmesh_core::model::NodeType;
    use govmesh_core::state::RejectCode;
    use govmesh_store::Ledger;
    use openraft::testing::log_id;

    fn domain(key: &KeyPair, id: &str, admin: &str) -> Entry<TypeConfig> {
        let spec = serde_json::from_value(serde_json::json!({
            "domain_id": id, "name": id, "admin_node_id": admin, "member_nodes": [admin],
        }))
        .unwrap();
        let envelope = sign_entry_at(
            key,
            Operation::DefineDomain(spec),
            govmesh_core::stamp::Timestamp(1_800_000_000_000),
        );
        Entry {
            log_id: log_id(1, 7, 0),
            payload: EntryPayload::Normal(CouncilRequest::Single(CouncilItem {
                envelope,
                stamp_ms: 1_800_000_000_000,
                signature_verified: false,
            })),
        }
    }

    fn at(mut e: Entry<TypeConfig>, index: u64) -> Entry<TypeConfig> {
        e.log_id = log_id(1, 7, index);
        e
    }

    /// A ledger in `dir` holding a genesis founded by one hub (key from `seed`).
    fn founded(dir: &std::path::Path, seed: u8) -> (KeyPair, SharedLedger) {
        let key = KeyPair::from_seed([seed; 32]);
        let spec = NodeSpec::new(&key, NodeType::GovernanceHub);
        let mut ledger = Ledger::open(dir).unwrap();
        let genesis = sign_entry(&key, Operation::Genesis(codex_genesis("m", vec![spec])));
        ledger
            .append(&genesis, Timestamp::from_millis(1_700_000_000_000))
            .unwrap();
        // As Council::start leaves it: the state machine syncs it when it must.
        ledger.defer_commit_sync().unwrap();
        (key, Arc::new(tokio::sync::Mutex::new(ledger)))
    }

    fn open_sm(dir: &std::path::Path, ledger: SharedLedger) -> StateMachine {
        let db = Arc::new(Mutex::new(RaftStore::open(dir).unwrap()));
        StateMachine::open(
            ledger,
            db,
            LogNotify::new(0),
            Arc::new(()),
            Default::default(),
        )
        .unwrap()
    }

    /// A crash after the ledger stored an entry but before `raft.db` recorded it as
    /// applied makes Raft apply it again: that is a refused replay and changes
    /// nothing; a refused entry re-applied is refused again.
    #[tokio::test]
    async fn re_applying_after_a_crash_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (key, ledger) = founded(d.path(), 21);
        let me = key.node_id().to_owned();

        let good1 = at(domain(&key, "8a1f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me), 1);
        let bad = at(
            domain(&key, "9b2f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", "nobody"),
            2,
        );
        let good2 = at(domain(&key, "7c3f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me), 3);
        let mut sm = open_sm(d.path(), ledger.clone());
        let answers = sm
            .apply(vec![good1.clone(), bad.clone(), good2.clone()])
            .await
            .unwrap();
        assert!(
            matches!(answers[0], CouncilAnswer::Committed(_)),
            "{answers:?}"
        );
        assert!(
            matches!(answers[1], CouncilAnswer::Rejected(_)),
            "{answers:?}"
        );
        assert!(
            matches!(answers[2], CouncilAnswer::Committed(_)),
            "{answers:?}"
        );
        let (size, root) = {
            let l = ledger.lock().await;
            (l.size(), l.root())
        };
        assert_eq!(size, 3);
        assert_eq!(sm.applied_state().await.unwrap().0, Some(good2.log_id));
        drop(sm);

        // Reopened: the last applied id survived.
        let mut sm = open_sm(d.path(), ledger.clone());
        assert_eq!(sm.applied_state().await.unwrap().0, Some(good2.log_id));
        // As if the process died after the ledger stored `good2` but before raft.db
        // recorded it (the latest window the apply order allows): Raft re-applies it.
        sm.applied = Some(bad.log_id);
        let again = sm.apply(vec![good2.clone()]).await.unwrap();
        match &again[0] {
            CouncilAnswer::Rejected(r) => assert_eq!(r.code, RejectCode::Replay, "{r:?}"),
            other => panic!("expected a replay refusal, got {other:?}"),
        }
        // And a refused entry applied again against the same state is refused again.
        let bad_again = at(
            domain(&key, "9b2f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", "nobody"),
            4,
        );
        let again = sm.apply(vec![bad_again]).await.unwrap();
        assert!(matches!(again[0], CouncilAnswer::Rejected(_)), "{again:?}");
        let l = ledger.lock().await;
        assert_eq!((l.size(), l.root()), (size, root));
    }

    /// A batch entry: a refused envelope in the middle gets its own refusal and
    /// does not stop its batch-mates; the applied id is recorded by the ledger's
    /// transaction (raft.db is not written) and read back at open; old single-entry
    /// payloads still read as such.
    #[tokio::test]
    async fn a_batch_answers_each_envelope_and_records_applied_in_the_ledger() {
        let d = tempfile::tempdir().unwrap();
        let (key, ledger) = founded(d.path(), 23);
        let me = key.node_id().to_owned();
        let item = |e: Entry<TypeConfig>| match e.payload {
            EntryPayload::Normal(CouncilRequest::Single(i)) => i,
            _ => unreachable!(),
        };
        let batch = vec![
            item(domain(&key, "8a1f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me)),
            item(domain(
                &key,
                "9b2f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b",
                "nobody",
            )),
            item(domain(&key, "7c3f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me)),
        ];
        let entry = Entry::<TypeConfig> {
            log_id: log_id(1, 7, 1),
            payload: EntryPayload::Normal(CouncilRequest::Batch { batch }),
        };
        // The Raft log's JSON form reads back; a single-entry payload in the older
        // form reads as `Single`.
        let json = serde_json::to_vec(&entry).unwrap();
        let back: Entry<TypeConfig> = serde_json::from_slice(&json).unwrap();
        assert!(
            matches!(back.payload, EntryPayload::Normal(CouncilRequest::Batch { ref batch }) if batch.len() == 3)
        );
        let single = at(domain(&key, "6d4f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me), 2);
        let v = serde_json::to_value(&single).unwrap();
        assert!(v["payload"]["Normal"]["envelope"].is_object(), "{v}");
        let back: Entry<TypeConfig> = serde_json::from_value(v).unwrap();
        assert!(matches!(
            back.payload,
            EntryPayload::Normal(CouncilRequest::Single(_))
        ));

        let mut sm = open_sm(d.path(), ledger.clone());
        let answers = sm.apply(vec![entry, single]).await.unwrap();
        let CouncilAnswer::Batch(b) = &answers[0] else {
            panic!("expected a batch answer, got {answers:?}");
        };
        assert_eq!(b.len(), 3);
        assert!(matches!(b[0], CouncilAnswer::Committed(_)), "{b:?}");
        assert!(matches!(b[1], CouncilAnswer::Rejected(_)), "{b:?}");
        assert!(matches!(b[2], CouncilAnswer::Committed(_)), "{b:?}");
        assert!(
            matches!(answers[1], CouncilAnswer::Committed(_)),
            "{answers:?}"
        );
        assert_eq!(ledger.lock().await.size(), 4);
        // raft.db was not written: the ledger's record counts.
        let stored: Option<Option<LogId<NodeId>>> =
            get_json(&sm.db.lock().unwrap(), APPLIED).unwrap();
        assert_eq!(stored, None);
        drop(sm);
        let mut sm = open_sm(d.path(), ledger.clone());
        assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 7, 2)));
    }

    /// The in-memory run of recent entries answers exactly what raft.db would, or
    /// nothing: after appends, a new leader's replacement, a purge and a gap.
    #[test]
    fn recent_entries_stay_a_run_ending_at_the_last_entry() {
        let key = KeyPair::from_seed([29; 32]);
        let me = key.node_id().to_owned();
        let e = |i: u64, term: u64| Entry::<TypeConfig> {
            log_id: log_id(term, 7, i),
            ..domain(&key, "8a1f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me)
        };
        let ids = |v: Option<Vec<Entry<TypeConfig>>>| {
            v.map(|v| {
                v.iter()
                    .map(|e| (e.log_id.index, e.log_id.leader_id.term))
                    .collect::<Vec<_>>()
            })
        };
        let mut r = Recent::default();
        assert_eq!(ids(r.get(0, u64::MAX)), None);
        r.appended((1..=5).map(|i| e(i, 1)).collect());
        assert_eq!(ids(r.get(2, 4)), Some(vec![(2, 1), (3, 1)]));
        assert_eq!(ids(r.get(4, u64::MAX)), Some(vec![(4, 1), (5, 1)]));
        assert_eq!(ids(r.get(0, 3)), None, "entry 0 is not held");
        // A new leader replaces 4.. with its own entries.
        r.appended(vec![e(4, 2)]);
        assert_eq!(ids(r.get(3, u64::MAX)), Some(vec![(3, 1), (4, 2)]));
        r.truncated(4);
        assert_eq!(ids(r.get(3, u64::MAX)), Some(vec![(3, 1)]));
        r.purged(2);
        assert_eq!(ids(r.get(2, u64::MAX)), None);
        assert_eq!(ids(r.get(3, 4)), Some(vec![(3, 1)]));
        // A gap (entries after an installed snapshot): only the new run is held.
        r.appended(vec![e(10, 3)]);
        assert_eq!(ids(r.get(3, u64::MAX)), None);
        assert_eq!(ids(r.get(10, u64::MAX)), Some(vec![(10, 3)]));
        // Bounded: the oldest go first.
        r.appended(
            (11..11 + RECENT_ENVELOPES as u64)
                .map(|i| e(i, 3))
                .collect(),
        );
        assert_eq!(r.envelopes, RECENT_ENVELOPES);
        assert_eq!(r.first(), Some(11));
    }

    #[tokio::test]
    async fn a_snapshot_brings_a_fresh_ledger_to_the_same_log() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (key, la) = founded(a.path(), 22);
        let me = key.node_id().to_owned();
        let rec0 = la.lock().await.record(0).unwrap().unwrap();
        let mut lb = Ledger::open(b.path()).unwrap();
        lb.append_records(&[rec0]).unwrap();
        lb.defer_commit_sync().unwrap();
        let lb: SharedLedger = Arc::new(tokio::sync::Mutex::new(lb));

        let mut sa = open_sm(a.path(), la.clone());
        sa.apply(vec![
            at(domain(&key, "8a1f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me), 1),
            at(domain(&key, "7c3f3c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b", &me), 2),
        ])
        .await
        .unwrap();
        let snap = sa
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snap.meta.last_log_id, Some(log_id(1, 7, 2)));
        // What openraft sends a follower: the current snapshot, read when asked.
        let sent = sa.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(sent.meta, snap.meta);

        let mut sb = open_sm(b.path(), lb.clone());
        sb.install_snapshot(&sent.meta, sent.snapshot)
            .await
            .unwrap();
        assert_eq!(sb.applied_state().await.unwrap().0, Some(log_id(1, 7, 2)));
        let (ra, rb) = (la.lock().await.root(), lb.lock().await.root());
        assert_eq!(ra, rb);
        assert_eq!(lb.lock().await.size(), 3);
        // The stored snapshot is served again after a restart.
        drop(sa);
        let mut sa = open_sm(a.path(), la.clone());
        let current = sa.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snap.meta);
    }
}
