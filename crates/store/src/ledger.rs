//! The node's durable governance log: the SQLite [`Store`] plus the in-memory
//! [`State`] and [`MerkleTree`] derived from it, kept in step. Every append is
//! validated by the state machine, then committed (WAL, `synchronous=FULL`) before it
//! is acknowledged (a council hub defers the fsync, [`Ledger::defer_commit_sync`], as
//! its Raft log is the durable copy); on open the state is rebuilt from the latest
//! usable snapshot plus a replay of the records after it.

use crate::archive::HistoryBatch;
use crate::history::ProposalFilter;
use crate::registry::{RegistryView, changes_registry};
use crate::store::{
    MAX_PAGE, RecordRow, SnapshotFile, SnapshotReader, SnapshotSource, Store, StoreError,
    write_snapshot_file,
};
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{LogRecord, signature_parts};
use govmesh_core::keys::{PublicKey, verify_batch};
use govmesh_core::merkle::{MerkleTree, leaf_hash};
use govmesh_core::model::Proposal;
use govmesh_core::state::{Applied, ProposalRecord, Rejection, Retired, State};
use govmesh_core::{Digest, Timestamp};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File name of the database inside a data directory.
pub const DB_FILE: &str = "govmesh.db";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The state machine refused the entry; nothing was stored.
    #[error("entry rejected: {0}")]
    Rejected(Rejection),
    /// A record of a batch was refused; the records before it were stored.
    #[error("record {index} rejected: {rejection}")]
    RecordRejected { index: u64, rejection: Rejection },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A newly appended entry.
#[derive(Clone, Debug)]
pub struct Appended {
    pub record: LogRecord,
    pub applied: Applied,
    pub leaf_hash: Digest,
}

/// Tuning of a [`Ledger`].
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    /// Write a state snapshot once at least this many entries were appended since the
    /// last one (and at [`Ledger::close`])...
    pub snapshot_every: u64,
    /// ...and at least this share of the log's size at the last snapshot: a snapshot
    /// is the whole state, which grows with the log, so a fixed interval would make a
    /// long log's appends cost O(size) each. With 0.5 the snapshot work stays a
    /// constant factor per entry (about three times the final state, written once
    /// over the log's life), and a crash replays at most a third of the log.
    /// 0 means a fixed interval.
    pub snapshot_share: f64,
    /// Snapshots kept (the newest).
    pub keep_snapshots: u32,
    /// Write a due snapshot's file on a background thread, from a copy of the
    /// state, and list it with a later append, instead of in the append that makes
    /// it due. A serving node does so: serializing and storing a large state took
    /// tens of milliseconds inside the append, during which every submission waited
    /// (the council's slowest answers). Memory: the copy, until written.
    pub background_snapshots: bool,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            snapshot_every: 1000,
            snapshot_share: 0.5,
            keep_snapshots: 2,
            background_snapshots: false,
        }
    }
}

impl LedgerOptions {
    /// What a serving node uses: the defaults, with snapshots in the background.
    pub fn serving() -> LedgerOptions {
        LedgerOptions {
            background_snapshots: true,
            ..LedgerOptions::default()
        }
    }
}

/// A snapshot file a background thread is writing.
#[derive(Debug)]
struct PendingSnapshot {
    done: std::sync::mpsc::Receiver<Result<SnapshotFile, String>>,
}

/// What [`Ledger::open`] did to rebuild the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Size covered by the snapshot the state was loaded from.
    pub snapshot_size: Option<u64>,
    /// Why the newer snapshots were not used (an older one, or a replay from
    /// genesis, took their place).
    pub snapshot_skipped: Option<String>,
    /// Records replayed through the state machine.
    pub replayed: u64,
    /// Closed proposals the loaded snapshot still held (written before they left
    /// the state), moved to the `proposals` table on open.
    pub migrated_proposals: u64,
}

/// One page of proposals ([`Ledger::proposals_page`]), newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProposalPage {
    pub items: Vec<Proposal>,
    /// More proposals pass the filter after the last item.
    pub more: bool,
}

/// The durable log, its Merkle tree and the governance state.
#[derive(Debug)]
pub struct Ledger {
    store: Store,
    dir: PathBuf,
    state: State,
    tree: MerkleTree,
    options: LedgerOptions,
    last_snapshot: u64,
    report: OpenReport,
    /// Set when a failed write could not be undone by reloading from disk: why, and
    /// when that reload was tried. Writes are refused until a reload succeeds; each
    /// write tries one again (at most every [`RELOAD_RETRY`]), so a ledger whose
    /// disk was full recovers once there is room, without a restart.
    poisoned: Option<(String, Instant)>,
    stats: LedgerStats,
    registry: RegistryView,
    pending: Option<PendingSnapshot>,
}

/// How long a poisoned ledger waits between reloads from disk.
const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// Cumulative time spent by [`Ledger::append`] and [`Ledger::append_records`], by
/// phase (for benchmarks and the node's metrics).
#[derive(Clone, Debug, Default)]
pub struct LedgerStats {
    /// The state machine, signature verification included.
    pub apply: Duration,
    /// Building the stored rows: the record's JCS bytes and leaf hash.
    pub encode: Duration,
    /// Inserting and committing records (SQLite, fsync).
    pub commit: Duration,
    /// Serializing and storing state snapshots.
    pub snapshot: Duration,
    pub snapshots_written: u64,
    pub snapshot_bytes: u64,
}

/// Streams the state's JSON into a snapshot file.
struct StateSnapshot<'a> {
    state: &'a State,
    covered_size: u64,
}

impl SnapshotSource for StateSnapshot<'_> {
    fn covered_size(&self) -> u64 {
        self.covered_size
    }

    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer(w, self.state).map_err(std::io::Error::other)
    }
}

/// Writes `state` (covering the log's first `size` records) as a snapshot file in
/// `dir`, for an append to list.
fn write_state_snapshot(dir: &Path, state: &State, size: u64) -> Result<SnapshotFile, StoreError> {
    write_snapshot_file(
        dir,
        &StateSnapshot {
            state,
            covered_size: size,
        },
    )
}

impl Ledger {
    /// Opens the ledger in `dir` (database `dir/govmesh.db`, created if missing).
    pub fn open(dir: &Path) -> Result<Ledger, StoreError> {
        Ledger::open_with(dir, LedgerOptions::default())
    }

    pub fn open_with(dir: &Path, options: LedgerOptions) -> Result<Ledger, StoreError> {
        let mut store = Store::open(&dir.join(DB_FILE))?;
        store.set_keep_snapshots(options.keep_snapshots);
        let (state, tree, last_snapshot, report) = load(&mut store)?;
        let registry = RegistryView::default();
        registry.refresh(&state);
        Ok(Ledger {
            registry,
            store,
            dir: dir.to_owned(),
            state,
            tree,
            options,
            last_snapshot,
            report,
            poisoned: None,
            stats: LedgerStats::default(),
            pending: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Commits stop waiting for the disk ([`Store::defer_commit_sync`]): for a
    /// ledger whose every append can be redone, as a council hub's can from its Raft
    /// log. Whoever records elsewhere that the ledger holds something must call
    /// [`Ledger::sync`] first.
    pub fn defer_commit_sync(&mut self) -> Result<(), StoreError> {
        self.store.defer_commit_sync()
    }

    /// Makes every append so far durable (a no-op unless commits are deferred).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.store.sync()
    }

    /// The node registry as of the last write, readable without this ledger (a
    /// handle that stays current).
    pub fn registry(&self) -> RegistryView {
        self.registry.clone()
    }

    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// Number of records in the log.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    pub fn root(&self) -> Digest {
        self.tree.root()
    }

    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The underlying store, for raw reads (leaf bytes exactly as stored).
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn check_usable(&mut self) -> Result<(), StoreError> {
        if self
            .poisoned
            .as_ref()
            .is_some_and(|(_, tried)| tried.elapsed() >= RELOAD_RETRY)
        {
            self.reload();
        }
        match &self.poisoned {
            Some((why, _)) => Err(StoreError::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Validates `env` as the next entry at council time `at` and appends it. Returns
    /// once the record is durable. On rejection nothing changes.
    pub fn append(&mut self, env: &Envelope, at: Timestamp) -> Result<Appended, LedgerError> {
        self.check_usable()?;
        let t = Instant::now();
        let applied = self.state.apply(env, at).map_err(LedgerError::Rejected);
        self.stats.apply += t.elapsed();
        let applied = applied?;
        let record = LogRecord {
            index: applied.index,
            timestamp: at,
            envelope: env.clone(),
        };
        let t = Instant::now();
        let row = record_row(&record, &applied);
        self.stats.encode += t.elapsed();
        let leaf_hash = row.leaf_hash;
        self.write(&[row])?;
        Ok(Appended {
            record,
            applied,
            leaf_hash,
        })
    }

    /// Validates and appends entries in order, each at council time
    /// `max(stamp, last timestamp)` (the Raft council's rule), like
    /// [`Ledger::append`] for each (an item's `bool` says its signature was already
    /// verified strictly under the key its key id names:
    /// [`State::apply_preverified`]), but a refused
    /// entry does not stop the others: every entry gets its own answer (appended or
    /// refused, in input order). The accepted entries and the given meta value
    /// (`marker`, e.g. the Raft council's last applied log id) are stored in ONE
    /// transaction, so the marker is durable exactly when these entries are. With
    /// no accepted entry, only the marker is written.
    pub fn append_stamped_all(
        &mut self,
        items: &[(Envelope, Timestamp, bool)],
        marker: Option<(&str, &[u8])>,
    ) -> Result<Vec<Result<Appended, Rejection>>, LedgerError> {
        self.check_usable()?;
        let mut answers = Vec::with_capacity(items.len());
        let mut rows = Vec::with_capacity(items.len());
        let t = Instant::now();
        for (env, stamp, verified) in items {
            let at = self
                .state
                .last_timestamp()
                .map_or(*stamp, |last| (*stamp).max(last));
            let applied = if *verified {
                self.state.apply_preverified(env, at)
            } else {
                self.state.apply(env, at)
            };
            match applied {
                Ok(applied) => {
                    let record = LogRecord {
                        index: applied.index,
                        timestamp: at,
                        envelope: env.clone(),
                    };
                    let row = record_row(&record, &applied);
                    let leaf_hash = row.leaf_hash;
                    rows.push(row);
                    answers.push(Ok(Appended {
                        record,
                        applied,
                        leaf_hash,
                    }));
                }
                Err(r) => answers.push(Err(r)),
            }
        }
        self.stats.apply += t.elapsed();
        let meta: Vec<(&str, &[u8])> = marker.into_iter().collect();
        if !rows.is_empty() || !meta.is_empty() {
            self.write_with_meta(&rows, &meta)?;
        }
        Ok(answers)
    }

    /// Applies and stores already-stamped records (replication, import, benchmarks)
    /// in one transaction. If record `k` is refused, records `0..k` are stored and
    /// the error names record `k`'s index.
    pub fn append_records(&mut self, recs: &[LogRecord]) -> Result<Vec<Applied>, LedgerError> {
        self.check_usable()?;
        let t = Instant::now();
        let (applied, refused) = apply_verified_in_batches(&mut self.state, recs);
        self.stats.apply += t.elapsed();
        let t = Instant::now();
        let rows: Vec<RecordRow> = recs
            .iter()
            .zip(&applied)
            .map(|(rec, a)| record_row(rec, a))
            .collect();
        self.stats.encode += t.elapsed();
        let refused =
            refused.map(|(index, rejection)| LedgerError::RecordRejected { index, rejection });
        if !rows.is_empty() {
            self.write(&rows)?;
        }
        match refused {
            Some(e) => Err(e),
            None => Ok(applied),
        }
    }

    /// Commits rows the state has already applied, with a snapshot when one is due;
    /// on failure restores state and tree from disk so memory never runs ahead.
    fn write(&mut self, rows: &[RecordRow]) -> Result<(), StoreError> {
        self.write_with_meta(rows, &[])
    }

    fn write_with_meta(
        &mut self,
        rows: &[RecordRow],
        meta: &[(&str, &[u8])],
    ) -> Result<(), StoreError> {
        let size = self.state.size();
        let interval = self
            .options
            .snapshot_every
            .max((self.last_snapshot as f64 * self.options.snapshot_share) as u64);
        let due = size - self.last_snapshot >= interval && self.pending.is_none();
        let background = due && self.options.background_snapshots;
        // A background snapshot that is ready is listed by this append.
        let ready = self.take_ready_snapshot(false);
        let t = Instant::now();
        let mut inline = None;
        if due && !background {
            let written = write_state_snapshot(self.store.snapshot_dir(), &self.state, size);
            self.stats.snapshot += t.elapsed();
            match written {
                Ok(f) => inline = Some(f),
                Err(e) => {
                    // The state already holds `rows`: undo them.
                    self.reload();
                    return Err(e);
                }
            }
        }
        // The history these rows made (proposals closed, evidence, attestations,
        // acks) goes to the history tables in their transaction.
        let closed = match history_rows(self.state.take_retired()) {
            Ok(c) => c,
            Err(e) => {
                self.reload();
                return Err(e);
            }
        };
        let t = Instant::now();
        let result =
            self.store
                .append_with_history(rows, ready.as_ref().or(inline.as_ref()), meta, &closed);
        self.stats.commit += t.elapsed();
        if let Err(e) = result {
            self.reload();
            return Err(e);
        }
        if let Some(f) = ready.as_ref().or(inline.as_ref()) {
            self.stats.snapshots_written += 1;
            self.stats.snapshot_bytes += f.total_len;
        }
        if inline.is_some() {
            self.last_snapshot = size;
        }
        if background {
            let t = Instant::now();
            let state = self.state.clone();
            let dir = self.store.snapshot_dir().to_owned();
            let (tx, done) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("ledger-snapshot".into())
                .spawn(move || {
                    let _ = tx
                        .send(write_state_snapshot(&dir, &state, size).map_err(|e| e.to_string()));
                });
            self.stats.snapshot += t.elapsed();
            if spawned.is_ok() {
                self.pending = Some(PendingSnapshot { done });
                self.last_snapshot = size;
            }
        }
        for r in rows {
            self.tree.push(r.leaf_hash);
        }
        if rows.iter().any(|r| changes_registry(&r.kind)) {
            self.registry.refresh(&self.state);
        }
        Ok(())
    }

    /// The background snapshot, if its thread has finished (with `wait`, once it
    /// has). One whose serialization failed (or whose thread is gone) is dropped, and
    /// a new one becomes due.
    fn take_ready_snapshot(&mut self, wait: bool) -> Option<SnapshotFile> {
        use std::sync::mpsc::TryRecvError;
        let p = self.pending.as_ref()?;
        let r = if wait {
            p.done.recv().ok()
        } else {
            match p.done.try_recv() {
                Err(TryRecvError::Empty) => return None,
                Ok(r) => Some(r),
                Err(TryRecvError::Disconnected) => None,
            }
        };
        self.pending = None;
        match r {
            Some(Ok(file)) => Some(file),
            _ => {
                // Due again at the next append.
                self.last_snapshot = 0;
                None
            }
        }
    }

    /// Waits for the background snapshot, if any, and lists it on its own (tests,
    /// and callers that want it on disk now).
    pub fn flush_snapshot(&mut self) -> Result<(), StoreError> {
        let Some(file) = self.take_ready_snapshot(true) else {
            return Ok(());
        };
        self.store.list_snapshot(&file)?;
        self.stats.snapshots_written += 1;
        self.stats.snapshot_bytes += file.total_len;
        Ok(())
    }

    /// Rebuilds state and tree from the store after a failed write (or, while
    /// poisoned, to try again).
    fn reload(&mut self) {
        match load(&mut self.store) {
            Ok((state, tree, last_snapshot, _)) => {
                self.state = state;
                self.tree = tree;
                self.last_snapshot = last_snapshot;
                self.pending = None;
                self.registry.refresh(&self.state);
                self.poisoned = None;
            }
            Err(e) => self.poisoned = Some((e.to_string(), Instant::now())),
        }
    }

    /// A proposal with its ballot: a live one from the state, a closed one from the
    /// `proposals` table.
    pub fn proposal_record(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError> {
        match self.state.proposal_record(id) {
            Some(r) => Ok(Some(r)),
            None => self.store.closed_proposal(id),
        }
    }

    /// A page of proposals, live and closed, newest first (by the log index of their
    /// `propose` entry): up to `limit` that pass `filter`, starting after proposal
    /// `after`. `None` when `after` names no proposal. A proposal that closes between
    /// two pages keeps its place (its index does not change), so following the pages
    /// gives every proposal exactly once.
    pub fn proposals_page(
        &self,
        after: Option<&str>,
        filter: &ProposalFilter,
        limit: usize,
    ) -> Result<Option<ProposalPage>, StoreError> {
        let before = match after {
            None => u64::MAX,
            Some(id) => match self.state.proposal_log_index(id) {
                Some(i) => i,
                None => match self.store.closed_proposal_index(id)? {
                    Some(i) => i,
                    None => return Ok(None),
                },
            },
        };
        let want = limit.saturating_add(1);
        let mut all: Vec<(u64, Proposal)> = self
            .state
            .live_proposals()
            .filter(|(i, p)| *i < before && filter.matches(p))
            .take(want)
            .map(|(i, p)| (i, p.clone()))
            .collect();
        all.extend(self.store.closed_proposals(before, filter, want as u64)?);
        all.sort_by_key(|x| std::cmp::Reverse(x.0));
        let more = all.len() > limit;
        all.truncate(limit);
        Ok(Some(ProposalPage {
            items: all.into_iter().map(|(_, p)| p).collect(),
            more,
        }))
    }

    /// Every proposal, live and closed, that passes `filter`, newest first.
    pub fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<Proposal>, StoreError> {
        let mut all: Vec<(u64, Proposal)> = self
            .state
            .live_proposals()
            .filter(|(_, p)| filter.matches(p))
            .map(|(i, p)| (i, p.clone()))
            .collect();
        all.extend(self.store.closed_proposals(u64::MAX, filter, u64::MAX)?);
        all.sort_by_key(|x| std::cmp::Reverse(x.0));
        Ok(all.into_iter().map(|(_, p)| p).collect())
    }

    /// Number of closed proposals in the `proposals` table.
    pub fn closed_proposal_count(&self) -> Result<u64, StoreError> {
        self.store.closed_proposal_count()
    }

    /// Record `index`, if stored.
    pub fn record(&self, index: u64) -> Result<Option<LogRecord>, StoreError> {
        self.store
            .record(index)?
            .map(|row| parse_record(&row))
            .transpose()
    }

    /// Records `start..end` (at most [`MAX_PAGE`]; fewer at the end of the log).
    pub fn records(&self, start: u64, end: u64) -> Result<Vec<LogRecord>, StoreError> {
        self.store
            .records(start, end)?
            .iter()
            .map(parse_record)
            .collect()
    }

    /// Up to `limit` records of `start..end` matching `filter`, examining at most `scan`
    /// rows, and the index a further search starts at ([`Store::find_records`]).
    pub fn find_records(
        &self,
        start: u64,
        end: u64,
        filter: &crate::store::RecordFilter,
        limit: u64,
        scan: u64,
    ) -> Result<(Vec<LogRecord>, u64), StoreError> {
        let (rows, next) = self.store.find_records(start, end, filter, limit, scan)?;
        let records = rows.iter().map(parse_record).collect::<Result<_, _>>()?;
        Ok((records, next))
    }

    /// The first index stamped at or after `at` (the size if none).
    pub fn first_index_at(&self, at: govmesh_core::Timestamp) -> Result<u64, StoreError> {
        self.store.first_index_at(at.millis())
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.meta_get(key)
    }

    pub fn meta_set(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.store.meta_set(key, value)
    }

    /// Writes a final snapshot (if anything was appended since the last) and
    /// releases the data directory.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        let size = self.state.size();
        // A background snapshot is listed if it covers everything; otherwise the
        // whole state is written now.
        let pending = self.pending.is_some();
        if let Some(file) = self.take_ready_snapshot(true)
            && file.covered_size == size
        {
            return self.store.list_snapshot(&file);
        }
        if size > self.last_snapshot || pending {
            let file = write_state_snapshot(self.store.snapshot_dir(), &self.state, size)?;
            self.store.list_snapshot(&file)?;
        }
        Ok(())
    }

    /// Where this ledger's appends spent their time so far.
    pub fn stats(&self) -> &LedgerStats {
        &self.stats
    }
}

/// The history rows of what left the state.
fn history_rows(retired: Retired) -> Result<HistoryBatch, StoreError> {
    HistoryBatch::of(&retired).map_err(|u| StoreError::InvalidLog {
        index: u.index,
        reason: format!("{} does not serialize: {}", u.what, u.error),
    })
}

/// Writes the proposals `state` closed since the last call to the history table.
fn drain_history(store: &mut Store, state: &mut State) -> Result<(), StoreError> {
    let rows = history_rows(state.take_retired())?;
    store.put_history(&rows)
}

fn record_row(rec: &LogRecord, applied: &Applied) -> RecordRow {
    let leaf = rec.leaf_bytes();
    RecordRow {
        index: rec.index,
        leaf_hash: leaf_hash(&leaf),
        leaf,
        entry_hash: applied.entry_hash,
        kind: applied.kind.clone(),
        author: applied.author.clone(),
        timestamp_ms: rec.timestamp.millis(),
    }
}

fn parse_record(row: &RecordRow) -> Result<LogRecord, StoreError> {
    let rec: LogRecord = serde_json::from_slice(&row.leaf).map_err(|e| StoreError::InvalidLog {
        index: row.index,
        reason: format!("stored record is not a log record: {e}"),
    })?;
    if rec.index != row.index {
        return Err(StoreError::InvalidLog {
            index: row.index,
            reason: format!("stored record says index {}", rec.index),
        });
    }
    Ok(rec)
}

/// State from the latest usable snapshot plus a replay of the records after it, and
/// the Merkle tree of all stored leaf hashes.
///
/// Proposals that close during the replay are written to the history table again
/// (the same rows: the records' appends wrote them), and a snapshot written before
/// closed proposals left the state has them moved there first.
fn load(store: &mut Store) -> Result<(State, MerkleTree, u64, OpenReport), StoreError> {
    let len = store.len();
    let mut report = OpenReport::default();
    let mut state = State::new();
    let mut skipped = Vec::new();
    for listed in store.snapshot_files()? {
        let restored = store
            .snapshot_reader(&listed)
            .map_err(|e| e.to_string())
            .and_then(|reader| restore_snapshot(reader, len));
        match restored {
            Ok(s) => {
                state = s;
                report.snapshot_size = Some(listed.covered_size);
                break;
            }
            Err(why) => skipped.push(why),
        }
    }
    if !skipped.is_empty() {
        report.snapshot_skipped = Some(skipped.join("; "));
    }
    report.migrated_proposals = state.retire_closed() as u64;
    drain_history(store, &mut state)?;
    let from = state.size();
    // A snapshot that still held closed proposals is replaced soon.
    let last_snapshot = if report.migrated_proposals > 0 {
        0
    } else {
        from
    };
    let mut next = from;
    while next < len {
        let rows = store.records(next, next + MAX_PAGE)?;
        let mut recs = Vec::with_capacity(rows.len());
        for row in &rows {
            let rec = parse_record(row)?;
            let recomputed = rec.leaf_hash();
            if recomputed != row.leaf_hash || leaf_hash(&row.leaf) != row.leaf_hash {
                return Err(StoreError::InvalidLog {
                    index: row.index,
                    reason: format!(
                        "stored leaf hash {} does not match the record (recomputed {recomputed})",
                        row.leaf_hash
                    ),
                });
            }
            recs.push(rec);
        }
        if let (_, Some((index, rejection))) = apply_verified_in_batches(&mut state, &recs) {
            return Err(StoreError::InvalidLog {
                index,
                reason: format!("replay refused it: {rejection}"),
            });
        }
        drain_history(store, &mut state)?;
        next += rows.len() as u64;
        if rows.is_empty() {
            break;
        }
    }
    report.replayed = next - from;
    let leaves = store.leaf_hashes()?;
    let tree = MerkleTree::from_leaf_hashes(leaves);
    if tree.size() != state.size() {
        return Err(StoreError::InvalidLog {
            index: tree.size().min(state.size()),
            reason: format!(
                "the store holds {} leaf hashes but the state covers {} records",
                tree.size(),
                state.size()
            ),
        });
    }
    Ok((state, tree, last_snapshot, report))
}

fn restore_snapshot(reader: SnapshotReader, len: u64) -> Result<State, String> {
    let covered = reader.covered_size();
    if covered > len {
        return Err(format!(
            "snapshot covers {covered} records but the log has {len}"
        ));
    }
    let state: State = serde_json::from_reader(BufReader::with_capacity(1 << 16, reader))
        .map_err(|e| format!("snapshot at size {covered} does not load: {e}"))?;
    if state.size() != covered {
        return Err(format!(
            "snapshot row says size {covered} but its state has size {}",
            state.size()
        ));
    }
    if covered > 0 && !state.trust().built() {
        // Written before the state kept trust observations: replaying from an older
        // snapshot or the genesis rebuilds them.
        return Err(format!(
            "snapshot at size {covered} predates trust observations"
        ));
    }
    Ok(state)
}

/// Most signatures verified per `verify_batch` call.
const VERIFY_BATCH: usize = 256;

/// Applies `recs` in order, verifying signatures in batches: a run of records whose
/// key ids name keys already in the registry is checked with one
/// [`verify_batch`](govmesh_core::keys::verify_batch) and then applied with
/// `apply_record_preverified`; a record whose key is not registered yet (genesis, a
/// node registered earlier in the same batch) or a run whose batch fails goes through
/// `apply_record` one by one, which verifies strictly and names the bad record.
/// Returns what was applied and, if one was refused, its index and why.
///
/// The batch equation accepts exactly the signatures strict verification accepts,
/// except a signature whose `R` its own key holder deliberately gave a torsion
/// component (see `keys::verify_batch`): no forgery gets through.
fn apply_verified_in_batches(
    state: &mut State,
    recs: &[LogRecord],
) -> (Vec<Applied>, Option<(u64, Rejection)>) {
    let mut applied = Vec::with_capacity(recs.len());
    let mut i = 0;
    while i < recs.len() {
        // The longest run from i whose signers' keys are known.
        let mut parts = Vec::new();
        let mut keys = Vec::new();
        while i + parts.len() < recs.len() && parts.len() < VERIFY_BATCH {
            let rec = &recs[i + parts.len()];
            let Ok((keyid, msg, sig)) = signature_parts(&rec.envelope) else {
                break;
            };
            let Some(node) = state.node_by_keyid(&keyid) else {
                break;
            };
            keys.push(node.public_key);
            parts.push((msg, sig));
        }
        let run = parts.len();
        let verified = run > 0 && {
            let items: Vec<(&[u8], &[u8; 64], &PublicKey)> = parts
                .iter()
                .zip(&keys)
                .map(|((m, s), k)| (m.as_slice(), s, k))
                .collect();
            verify_batch(&items).is_ok()
        };
        // An empty run means recs[i] needs the strict path on its own.
        let end = i + run.max(1);
        for rec in &recs[i..end] {
            let r = if verified {
                state.apply_record_preverified(rec)
            } else {
                state.apply_record(rec)
            };
            match r {
                Ok(a) => applied.push(a),
                Err(rejection) => return (applied, Some((rec.index, rejection))),
            }
        }
        i = end;
    }
    (applied, None)
}
