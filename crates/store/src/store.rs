//! The low-level SQLite store: log records, the index of state snapshots (whose bytes
//! are files in `snapshots/` beside the database) and a key/value meta table, with
//! schema versioning and an exclusive lock on the data directory. It knows nothing of
//! governance semantics; [`crate::Ledger`] builds on it.

use crate::archive::{self, AttestationFilter, EquivocationFilter, HistoryBatch};
use crate::history::{self, ProposalFilter};
use govmesh_core::Digest;
use govmesh_core::attestation::Attestation;
use govmesh_core::evidence::CheckpointFork;
use govmesh_core::model::Equivocation;
use govmesh_core::model::Proposal;
use govmesh_core::state::{ProposalRecord, SyncAck};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The schema version this build writes. Opening a database with a newer version is
/// refused; older versions are migrated forward by [`MIGRATIONS`].
pub const SCHEMA_VERSION: u32 = 5;

/// The largest page [`Store::records`] returns.
pub const MAX_PAGE: u64 = 1000;

/// Name of the lock file held (exclusively) in the database's directory.
pub const LOCK_FILE: &str = "LOCK";

/// Meta keys the store itself owns; [`Store::meta_set`] refuses them.
const SCHEMA_VERSION_KEY: &str = "schema_version";

/// `MIGRATIONS[v - 1]` takes the schema from version `v - 1` to `v`.
///
/// Seams for later issues: the Raft council (vote, log, snapshot) and replication
/// (peer cursors) get their tables as migration 2 onwards, appended here; never
/// edit a migration that has shipped.
const MIGRATIONS: [&str; 5] = [
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE records (
    idx        INTEGER PRIMARY KEY,
    leaf       BLOB NOT NULL,
    leaf_hash  BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    entry_hash BLOB NOT NULL UNIQUE CHECK (length(entry_hash) = 32),
    kind       TEXT NOT NULL,
    author     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);

CREATE TABLE snapshots (
    covered_size INTEGER PRIMARY KEY,
    total_len    INTEGER NOT NULL,
    chunk_count  INTEGER NOT NULL
);

CREATE TABLE snapshot_chunks (
    covered_size INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    PRIMARY KEY (covered_size, seq)
);
"#,
    // 2: `records` without the UNIQUE index on `entry_hash`. Its keys are random, so
    // each appended record dirtied another index page and every commit wrote one page
    // per record to the WAL: the largest part of a council hub's ledger write. Replays
    // are refused by the state machine (its set of applied entry hashes) before
    // anything reaches the store, and nothing looks records up by entry hash.
    r#"
CREATE TABLE records_v2 (
    idx        INTEGER PRIMARY KEY,
    leaf       BLOB NOT NULL,
    leaf_hash  BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32),
    kind       TEXT NOT NULL,
    author     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
INSERT INTO records_v2 (idx, leaf, leaf_hash, entry_hash, kind, author, at_ms)
    SELECT idx, leaf, leaf_hash, entry_hash, kind, author, at_ms FROM records ORDER BY idx;
DROP TABLE records;
ALTER TABLE records_v2 RENAME TO records;
"#,
    // 3: state snapshots are files (`snapshots/`), the table only lists them with
    // their length and SHA-256. Written inside an append, a snapshot of a few MB
    // held the append (and every submission behind it) for tens of milliseconds, and
    // went through the WAL twice (commit and checkpoint). A file is written and
    // fsynced by a background thread; the append that records it writes one row.
    // The old snapshots are dropped: the next open replays the log once.
    r#"
DROP TABLE snapshot_chunks;
DROP TABLE snapshots;
CREATE TABLE snapshots (
    covered_size INTEGER PRIMARY KEY,
    total_len    INTEGER NOT NULL,
    sha256       BLOB NOT NULL CHECK (length(sha256) = 32)
);
"#,
    // 4: closed proposals leave the in-memory state for the `proposals` table
    // (`history.rs`), written in the transaction of the record that closed each. The
    // proposals a snapshot of an older version still holds are moved there when the
    // ledger opens it (`Ledger::open`).
    crate::history::CREATE,
    // 5: recorded equivocations, checkpoint forks, attestations and sync acks leave the
    // in-memory state for their tables (`archive.rs`), written in the transaction of
    // the record that made each. The snapshots of version 4 still hold them: they are
    // unlisted (their files deleted at open), and the next open replays the log once.
    crate::archive::CREATE,
];

/// The history tables of schema 5 ([`Store::history_count`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryTable {
    Equivocations,
    CheckpointForks,
    Attestations,
    Acks,
}

impl HistoryTable {
    fn name(self) -> &'static str {
        match self {
            HistoryTable::Equivocations => "equivocations",
            HistoryTable::CheckpointForks => "checkpoint_forks",
            HistoryTable::Attestations => "attestations",
            HistoryTable::Acks => "acks",
        }
    }
}

/// The directory, beside the database, that holds the state snapshot files.
pub const SNAPSHOT_DIR: &str = "snapshots";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error(
        "{path} is locked by another process{holder}: a data directory serves one node at a time"
    )]
    Locked { path: PathBuf, holder: String },
    #[error("{path} is not a usable govmesh database (corrupt or truncated?): {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} has schema version {found}, newer than this build supports ({supported}); upgrade govmesh"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: SQLite failed while {action}: {source}")]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        source: rusqlite::Error,
    },
    #[error("records must be appended in order: expected index {expected}, got {got}")]
    NotContiguous { expected: u64, got: u64 },
    #[error("snapshot covers {covered} records but the log has only {len}")]
    SnapshotBeyondLog { covered: u64, len: u64 },
    #[error("meta key {0:?} belongs to the store and cannot be set")]
    ReservedKey(String),
    #[error("stored log is invalid at index {index}: {reason}")]
    InvalidLog { index: u64, reason: String },
    #[error("stored state snapshot at size {covered} is unusable: {reason}")]
    BadSnapshot { covered: u64, reason: String },
    #[error(
        "the ledger failed to write and then failed to reload from disk ({0}); writes are refused until a reload succeeds (tried again at each write)"
    )]
    Poisoned(String),
}

/// One row of the `records` table: a log record as served plus what indexes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRow {
    pub index: u64,
    /// The record's JCS bytes, exactly as served (the Merkle leaf).
    pub leaf: Vec<u8>,
    pub leaf_hash: Digest,
    pub entry_hash: Digest,
    /// The operation's `type`.
    pub kind: String,
    /// Node id of the entry's author.
    pub author: String,
    /// The council's timestamp, milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// A `records` row as SQLite returns it, before its hashes are checked.
/// What [`Store::find_records`] selects besides an index range (`None`: anything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// The operation's `type`.
    pub kind: Option<String>,
    /// The author's node id.
    pub author: Option<String>,
}

struct RawRow {
    idx: i64,
    leaf: Vec<u8>,
    leaf_hash: Vec<u8>,
    entry_hash: Vec<u8>,
    kind: String,
    author: String,
    at_ms: i64,
}

/// A serialized state snapshot covering records `0..covered_size`, whole in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub covered_size: u64,
    pub state_json: Vec<u8>,
}

/// Something that streams a snapshot's bytes into the store.
pub trait SnapshotSource {
    /// The log size the snapshot covers.
    fn covered_size(&self) -> u64;
    /// Writes the snapshot's bytes (serialized state) to `w`.
    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()>;
}

impl SnapshotSource for Snapshot {
    fn covered_size(&self) -> u64 {
        self.covered_size
    }

    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        w.write_all(&self.state_json)
    }
}

/// A state snapshot file, written by [`write_snapshot_file`] and listed by the append
/// that records it ([`Store::append_with_meta`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    pub covered_size: u64,
    pub total_len: u64,
    pub sha256: Digest,
}

impl SnapshotFile {
    /// The file's name: size and hash, so a rewrite at the same size never replaces
    /// a listed file in place.
    pub fn file_name(&self) -> String {
        format!("{}-{}.json", self.covered_size, &self.sha256.to_hex()[..16])
    }
}

/// Writes `source` as a snapshot file in `dir` (created if missing): to a temporary
/// file, fsynced, then renamed to [`SnapshotFile::file_name`] and the directory
/// fsynced. Needs no [`Store`], so a background thread can call it; the snapshot
/// counts once an append lists it. A file no append lists is deleted when the store
/// opens.
pub fn write_snapshot_file(
    dir: &Path,
    source: &dyn SnapshotSource,
) -> Result<SnapshotFile, StoreError> {
    let io = |path: &Path, action: &'static str| {
        let path = path.to_owned();
        move |source| StoreError::Io {
            path,
            action,
            source,
        }
    };
    private_dir(dir).map_err(io(dir, "creating the snapshot directory"))?;
    let covered_size = source.covered_size();
    // Unique, so that two writers of the same size never share a temporary file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{covered_size}.{n}.json.tmp"));
    let file = File::create(&tmp).map_err(io(&tmp, "creating a snapshot file"))?;
    let mut w = HashingWriter {
        inner: std::io::BufWriter::with_capacity(1 << 16, file),
        hash: Sha256::new(),
        count: 0,
        disk_failed: false,
    };
    let written = source.write_to(&mut w).and_then(|()| w.flush());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(if w.disk_failed {
            StoreError::Io {
                path: tmp,
                action: "writing a snapshot file",
                source: e,
            }
        } else {
            StoreError::BadSnapshot {
                covered: covered_size,
                reason: format!("serializing it failed: {e}"),
            }
        });
    }
    let snap = SnapshotFile {
        covered_size,
        total_len: w.count,
        sha256: Digest(w.hash.finalize().into()),
    };
    let file = w.inner.into_inner().map_err(|e| StoreError::Io {
        path: tmp.clone(),
        action: "writing a snapshot file",
        source: e.into_error(),
    })?;
    file.sync_all()
        .map_err(io(&tmp, "syncing a snapshot file"))?;
    drop(file);
    let path = dir.join(snap.file_name());
    std::fs::rename(&tmp, &path).map_err(io(&path, "naming a snapshot file"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "syncing the snapshot directory"))?;
    Ok(snap)
}

/// What a name in the snapshot directory is.
enum SnapshotFileKind {
    Finished,
    Unfinished,
}

fn snapshot_file_kind(name: &str) -> Option<SnapshotFileKind> {
    if name.ends_with(".json.tmp") {
        Some(SnapshotFileKind::Unfinished)
    } else if name.ends_with(".json") {
        Some(SnapshotFileKind::Finished)
    } else {
        None
    }
}

/// Deletes the snapshot files in data directory `dir` and their folder if nothing else
/// is in it (best effort): for undoing a data directory whose setup failed, with no
/// store open on it.
pub fn remove_snapshot_files(dir: &Path) {
    let snapshots = dir.join(SNAPSHOT_DIR);
    let Ok(entries) = std::fs::read_dir(&snapshots) else {
        return;
    };
    for e in entries.flatten() {
        if snapshot_file_kind(&e.file_name().to_string_lossy()).is_some() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_dir(&snapshots);
}

/// Hashes and counts what passes through to the file.
struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
    count: u64,
    /// Set when writing to the file failed (not the source).
    disk_failed: bool,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self
            .inner
            .write(buf)
            .inspect_err(|_| self.disk_failed = true)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|_| self.disk_failed = true)
    }
}

/// Reads one listed snapshot file ([`Store::snapshot_reader`]); at its end it fails
/// if the length or SHA-256 differ from the listing (a truncated or altered file).
pub struct SnapshotReader {
    file: File,
    listed: SnapshotFile,
    hash: Sha256,
    read: u64,
    checked: bool,
}

impl SnapshotReader {
    pub fn covered_size(&self) -> u64 {
        self.listed.covered_size
    }

    /// Serialized length of the snapshot.
    pub fn total_len(&self) -> u64 {
        self.listed.total_len
    }
}

impl std::io::Read for SnapshotReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(out)?;
        self.hash.update(&out[..n]);
        self.read += n as u64;
        let covered = self.listed.covered_size;
        if self.read > self.listed.total_len {
            return Err(std::io::Error::other(format!(
                "snapshot file at size {covered} is longer than the {} bytes listed",
                self.listed.total_len
            )));
        }
        if n == 0 && !out.is_empty() && !self.checked {
            self.checked = true;
            if self.read != self.listed.total_len {
                return Err(std::io::Error::other(format!(
                    "snapshot file at size {covered} has {} bytes, {} are listed (truncated?)",
                    self.read, self.listed.total_len
                )));
            }
            let got = Digest(std::mem::take(&mut self.hash).finalize().into());
            if got != self.listed.sha256 {
                return Err(std::io::Error::other(format!(
                    "snapshot file at size {covered} has SHA-256 {got}, {} is listed (altered?)",
                    self.listed.sha256
                )));
            }
        }
        Ok(n)
    }
}

/// The SQLite database of one data directory.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    len: u64,
    keep_snapshots: u32,
    snapshot_dir: PathBuf,
    /// Commits return before the WAL is fsynced ([`Store::defer_commit_sync`]).
    deferred_sync: bool,
    // Held for the store's lifetime; the OS releases the lock when the process dies.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn digest_from(path: &Path, bytes: Vec<u8>, what: &str) -> Result<Digest, StoreError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| StoreError::Corrupt {
        path: path.to_owned(),
        detail: format!("{what} is {} bytes, expected 32", b.len()),
    })?;
    Ok(Digest(arr))
}

impl Store {
    /// Opens (creating if needed) the database at `path`, takes the exclusive lock
    /// `LOCK` in its directory, and creates or migrates the schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        private_dir(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            action: "creating the data directory",
            source,
        })?;
        let lock = take_lock(&dir.join(LOCK_FILE))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| sql_err(path, "opening the database", source))?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            len: 0,
            keep_snapshots: 2,
            snapshot_dir: dir.join(SNAPSHOT_DIR),
            deferred_sync: false,
            _lock: lock,
        };
        store.configure()?;
        store.migrate()?;
        store.len = store.count_records()?;
        // Files of snapshots no append listed (a crash between writing and listing)
        // and unfinished ones.
        store.remove_unlisted_snapshot_files(true)?;
        Ok(store)
    }

    /// The directory of this store's snapshot files.
    pub fn snapshot_dir(&self) -> &Path {
        &self.snapshot_dir
    }

    /// Deletes the snapshot files not listed (with `unfinished`, temporary ones
    /// too). Only this process writes there (the `LOCK` file), and a background
    /// snapshot is never being written while an append lists one.
    fn remove_unlisted_snapshot_files(&self, unfinished: bool) -> Result<(), StoreError> {
        let listed: std::collections::HashSet<String> = self
            .snapshot_files()?
            .iter()
            .map(SnapshotFile::file_name)
            .collect();
        let entries = match std::fs::read_dir(&self.snapshot_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.snapshot_dir.clone(),
                    action: "listing snapshot files",
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = match snapshot_file_kind(&name) {
                Some(SnapshotFileKind::Unfinished) => unfinished,
                Some(SnapshotFileKind::Finished) => !listed.contains(&name),
                None => false,
            };
            if stale {
                // One left behind is deleted at the next open.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// How many snapshots to keep (the newest ones); at least 1. Default 2.
    pub fn set_keep_snapshots(&mut self, keep: u32) {
        self.keep_snapshots = keep.max(1);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on a commit returns once SQLite has written it to the WAL, before
    /// the WAL is fsynced (`synchronous=NORMAL`): it survives the process dying but
    /// not the machine losing power, which may roll back the last commits (never
    /// tear one: the WAL's checksums drop a partial one). For a database whose
    /// every commit can be redone from a durable source, here a council hub's ledger
    /// (its Raft log is fsynced; see node/council). [`Store::sync`] makes everything
    /// committed so far durable.
    pub fn defer_commit_sync(&mut self) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(self.err("setting synchronous=NORMAL"))?;
        self.deferred_sync = true;
        Ok(())
    }

    /// Makes every commit so far durable: fsyncs the WAL and the database file.
    /// Nothing to do when commits are not deferred (each was fsynced).
    pub fn sync(&self) -> Result<(), StoreError> {
        if !self.deferred_sync {
            return Ok(());
        }
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        for (path, action) in [
            (PathBuf::from(wal), "syncing the WAL"),
            (self.path.clone(), "syncing the database"),
        ] {
            let synced = match File::open(&path) {
                Ok(f) => f.sync_all(),
                // No WAL: everything is in the database file.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            };
            synced.map_err(|source| StoreError::Io {
                path,
                action,
                source,
            })?;
        }
        Ok(())
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| sql_err(&self.path, action, source)
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        // Applies only to a new database (an existing one keeps its page size): 4 KiB
        // pages, SQLite's default. A council hub commits a few records at a time and
        // every commit writes each page it touched whole to the WAL (and checksums
        // it), so smaller pages mean less written per commit: 16 KiB pages, which cut
        // the overflow chains of snapshot chunks fourfold, cost about 5% more CPU per
        // vote in `govmesh bench council`.
        self.conn
            .pragma_update(None, "page_size", 4096)
            .map_err(self.err("setting the page size"))?;
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(self.err("switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("journal mode is {mode:?}, WAL could not be enabled"),
            });
        }
        // Nothing else should write (the LOCK file); fail a blocked write soon.
        self.conn
            .busy_timeout(std::time::Duration::from_secs(1))
            .map_err(self.err("setting the busy timeout"))?;
        // A page cache of 16 MB (default 2 MB) for reading back recent records and
        // snapshots, and a WAL file trimmed back after a big snapshot's checkpoint.
        self.conn
            .pragma_update(None, "cache_size", -16_000)
            .map_err(self.err("setting the cache size"))?;
        self.conn
            .pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(self.err("setting the WAL size limit"))?;
        // FULL: a commit is on disk (WAL fsynced) before it returns.
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(self.err("setting synchronous=FULL"))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&path, "starting the schema transaction", e))?;
        let tables: Vec<String> = {
            let mut st = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .map_err(|e| sql_err(&path, "reading the schema", e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<_, _>>())
                .map_err(|e| sql_err(&path, "reading the schema", e))?
        };
        let current: u32 = if tables.is_empty() {
            0
        } else if tables.iter().any(|t| t == "meta") {
            let v: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [SCHEMA_VERSION_KEY],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| sql_err(&path, "reading the schema version", e))?;
            let v = v.ok_or_else(|| StoreError::Corrupt {
                path: path.clone(),
                detail: "meta table has no schema_version".into(),
            })?;
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| StoreError::Corrupt {
                    path: path.clone(),
                    detail: format!("schema_version is not a number: {v:?}"),
                })?
        } else {
            return Err(StoreError::Corrupt {
                path: path.clone(),
                detail: format!("a SQLite database, but not govmesh's (tables: {tables:?})"),
            });
        };
        if current > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path,
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        for sql in &MIGRATIONS[current as usize..] {
            tx.execute_batch(sql)
                .map_err(|e| sql_err(&path, "migrating the schema", e))?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_string().into_bytes()],
        )
        .map_err(|e| sql_err(&path, "writing the schema version", e))?;
        tx.commit()
            .map_err(|e| sql_err(&path, "committing the schema", e))
    }

    fn count_records(&self) -> Result<u64, StoreError> {
        let (count, max): (i64, Option<i64>) = self
            .conn
            .query_row("SELECT COUNT(*), MAX(idx) FROM records", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.err("counting records"))?;
        let expected = max.map_or(0, |m| m + 1);
        if count != expected {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "records table has {count} rows but its highest index is {max:?}: the log has gaps"
                ),
            });
        }
        Ok(count as u64)
    }

    /// Number of stored records (= the index of the next one).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `rows` (whose indexes must continue the log) and, if given, lists a
    /// state snapshot file ([`write_snapshot_file`]), in one transaction that is
    /// durable when this returns. Older snapshots beyond the retention count are
    /// unlisted in the same transaction and their files deleted after it.
    pub fn append(
        &mut self,
        rows: &[RecordRow],
        snapshot: Option<&SnapshotFile>,
    ) -> Result<(), StoreError> {
        self.append_with_meta(rows, snapshot, &[])
    }

    /// Like [`Store::append`], and also sets the given meta values in the same
    /// transaction (so they are durable exactly when the rows are). Keys the store
    /// owns are refused.
    pub fn append_with_meta(
        &mut self,
        rows: &[RecordRow],
        snapshot: Option<&SnapshotFile>,
        meta: &[(&str, &[u8])],
    ) -> Result<(), StoreError> {
        self.append_with_history(rows, snapshot, meta, &HistoryBatch::default())
    }

    /// Like [`Store::append_with_meta`], and also writes the history these records
    /// made ([`HistoryBatch`]: the proposals they closed, the equivocations, forks,
    /// attestations and acks they recorded) to the history tables in the same
    /// transaction: a history row is in its table exactly when the record that made
    /// it is in the log. A row already there (a replay) is written again.
    pub fn append_with_history(
        &mut self,
        rows: &[RecordRow],
        snapshot: Option<&SnapshotFile>,
        meta: &[(&str, &[u8])],
        history: &HistoryBatch,
    ) -> Result<(), StoreError> {
        if let Some((key, _)) = meta.iter().find(|(k, _)| *k == SCHEMA_VERSION_KEY) {
            return Err(StoreError::ReservedKey((*key).to_owned()));
        }
        for (k, row) in rows.iter().enumerate() {
            let expected = self.len + k as u64;
            if row.index != expected {
                return Err(StoreError::NotContiguous {
                    expected,
                    got: row.index,
                });
            }
        }
        let new_len = self.len + rows.len() as u64;
        if let Some(s) = snapshot
            && s.covered_size > new_len
        {
            return Err(StoreError::SnapshotBeyondLog {
                covered: s.covered_size,
                len: new_len,
            });
        }
        let path = self.path.clone();
        let path = path.as_path();
        let e = |action| move |source| sql_err(path, action, source);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e("starting an append"))?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO records (idx, leaf, leaf_hash, entry_hash, kind, author, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(e("preparing the record insert"))?;
            for row in rows {
                ins.execute(params![
                    to_i64(row.index),
                    row.leaf,
                    &row.leaf_hash.0[..],
                    &row.entry_hash.0[..],
                    row.kind,
                    row.author,
                    row.timestamp_ms,
                ])
                .map_err(e("inserting a record"))?;
            }
        }
        history::insert(&tx, &history.proposals).map_err(e("writing closed proposals"))?;
        archive::insert(&tx, history).map_err(e("writing history"))?;
        if let Some(s) = snapshot {
            insert_listing(&tx, s, self.keep_snapshots).map_err(e("listing a snapshot"))?;
        }
        for (key, value) in meta {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(e("writing a meta value"))?;
        }
        tx.commit().map_err(e("committing an append"))?;
        self.len = new_len;
        if snapshot.is_some() && self.sync().is_ok() {
            // The files of the snapshots just unlisted, once the append is durable
            // (a listing lost to a crash must not name a deleted file). A failure
            // here only leaves a file for the next open to delete.
            let _ = self.remove_unlisted_snapshot_files(false);
        }
        Ok(())
    }

    /// Writes history rows on their own, in one transaction: for the history a
    /// state restored from an older snapshot, or replayed on open, makes again. Rows
    /// already there are written again with the same bytes.
    pub fn put_history(&mut self, history: &HistoryBatch) -> Result<(), StoreError> {
        if history.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&path, "starting a history write", e))?;
        history::insert(&tx, &history.proposals)
            .map_err(|e| sql_err(&path, "writing closed proposals", e))?;
        archive::insert(&tx, history).map_err(|e| sql_err(&path, "writing history", e))?;
        tx.commit()
            .map_err(|e| sql_err(&path, "committing closed proposals", e))
    }

    fn bad_history(&self, b: history::BadRow) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail: format!(
                "the closed proposal of log index {} does not decode: {}",
                b.index, b.reason
            ),
        }
    }

    /// The stored record of closed proposal `id`, if the table holds it.
    pub fn closed_proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError> {
        history::get(&self.conn, id)
            .map_err(self.err("reading a closed proposal"))?
            .map_err(|b| self.bad_history(b))
    }

    /// The log index of closed proposal `id`'s `propose` entry, if the table holds it.
    pub fn closed_proposal_index(&self, id: &str) -> Result<Option<u64>, StoreError> {
        history::index_of(&self.conn, id).map_err(self.err("reading a closed proposal"))
    }

    /// Up to `limit` closed proposals proposed before log index `before` that pass
    /// `filter` (in SQL), newest first, with the index of their `propose` entry.
    pub fn closed_proposals(
        &self,
        before: u64,
        filter: &ProposalFilter,
        limit: u64,
    ) -> Result<Vec<(u64, Proposal)>, StoreError> {
        history::page(&self.conn, before, filter, limit)
            .map_err(self.err("listing closed proposals"))?
            .map_err(|b| self.bad_history(b))
    }

    /// Number of closed proposals in the table.
    pub fn closed_proposal_count(&self) -> Result<u64, StoreError> {
        history::count(&self.conn).map_err(self.err("counting closed proposals"))
    }

    fn bad_archive(&self, b: archive::BadRow) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail: format!(
                "the {} row of log index {} does not decode: {}",
                b.table, b.index, b.reason
            ),
        }
    }

    /// Up to `limit` stored equivocations whose second entry is after log index
    /// `after`, that pass `filter`, in log order.
    pub fn equivocations(
        &self,
        after: Option<u64>,
        filter: &EquivocationFilter,
        limit: u64,
    ) -> Result<Vec<Equivocation>, StoreError> {
        archive::equivocations(&self.conn, after, filter, limit)
            .map_err(self.err("listing equivocations"))?
            .map_err(|b| self.bad_archive(b))
    }

    /// Whether an equivocation whose second entry has log index `second_index` is
    /// stored.
    pub fn has_equivocation(&self, second_index: u64) -> Result<bool, StoreError> {
        archive::has_equivocation(&self.conn, second_index)
            .map_err(self.err("reading an equivocation"))
    }

    /// Up to `limit` stored checkpoint forks from the `skip`th (0-based), in log
    /// order.
    pub fn checkpoint_forks(
        &self,
        skip: u64,
        limit: u64,
    ) -> Result<Vec<CheckpointFork>, StoreError> {
        archive::checkpoint_forks(&self.conn, skip, limit)
            .map_err(self.err("listing checkpoint forks"))?
            .map_err(|b| self.bad_archive(b))
    }

    /// Number of stored rows in a history table (`equivocations`, `checkpoint_forks`,
    /// `attestations`, `acks`).
    pub fn history_count(&self, table: HistoryTable) -> Result<u64, StoreError> {
        archive::count(&self.conn, table.name()).map_err(self.err("counting history"))
    }

    /// Up to `limit` stored attestations after log index `after` that pass `filter`,
    /// in log order.
    pub fn attestations(
        &self,
        after: Option<u64>,
        filter: &AttestationFilter,
        limit: u64,
    ) -> Result<Vec<Attestation>, StoreError> {
        archive::attestations(&self.conn, after, filter, limit)
            .map_err(self.err("listing attestations"))?
            .map_err(|b| self.bad_archive(b))
    }

    /// Number of stored attestations that pass `filter`.
    pub fn attestation_count(&self, filter: &AttestationFilter) -> Result<u64, StoreError> {
        archive::attestation_count(&self.conn, filter).map_err(self.err("counting attestations"))
    }

    /// Whether the attestation of log index `index` is stored.
    pub fn has_attestation(&self, index: u64) -> Result<bool, StoreError> {
        archive::has_attestation(&self.conn, index).map_err(self.err("reading an attestation"))
    }

    /// The stored acks of one contract revision: node id -> its ack.
    pub fn acks_of(
        &self,
        contract_id: &str,
        revision: u64,
    ) -> Result<BTreeMap<String, SyncAck>, StoreError> {
        archive::acks_of(&self.conn, contract_id, revision)
            .map_err(self.err("reading acks"))?
            .map_err(|b| self.bad_archive(b))
    }

    /// Lists a snapshot file on its own (e.g. at shutdown).
    pub fn list_snapshot(&mut self, snapshot: &SnapshotFile) -> Result<(), StoreError> {
        self.append(&[], Some(snapshot))
    }

    /// Record `i`, if stored.
    pub fn record(&self, index: u64) -> Result<Option<RecordRow>, StoreError> {
        Ok(self.records(index, index.saturating_add(1))?.pop())
    }

    /// Records `start..end`, at most [`MAX_PAGE`] of them (fewer at the end of the
    /// log); empty if `start >= end` or `start` is past the end.
    pub fn records(&self, start: u64, end: u64) -> Result<Vec<RecordRow>, StoreError> {
        let end = end.min(self.len).min(start.saturating_add(MAX_PAGE));
        if start >= end {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT idx, leaf, leaf_hash, entry_hash, kind, author, at_ms
                 FROM records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(self.err("preparing a record read"))?;
        let read = self.err("reading records");
        let mut rows = st
            .query(params![to_i64(start), to_i64(end)])
            .map_err(|e| sql_err(&self.path, "reading records", e))?;
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut next = || -> Result<Option<RawRow>, rusqlite::Error> {
            let Some(r) = rows.next()? else {
                return Ok(None);
            };
            Ok(Some(RawRow {
                idx: r.get(0)?,
                leaf: r.get(1)?,
                leaf_hash: r.get(2)?,
                entry_hash: r.get(3)?,
                kind: r.get(4)?,
                author: r.get(5)?,
                at_ms: r.get(6)?,
            }))
        };
        let raw = std::iter::from_fn(|| next().transpose())
            .collect::<Result<Vec<_>, _>>()
            .map_err(read)?;
        for (k, r) in raw.into_iter().enumerate() {
            let expected = start + k as u64;
            if r.idx != to_i64(expected) {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!(
                        "record {expected} is missing (found {} in its place)",
                        r.idx
                    ),
                });
            }
            out.push(RecordRow {
                index: expected,
                leaf: r.leaf,
                leaf_hash: digest_from(&self.path, r.leaf_hash, "leaf_hash")?,
                entry_hash: digest_from(&self.path, r.entry_hash, "entry_hash")?,
                kind: r.kind,
                author: r.author,
                timestamp_ms: r.at_ms,
            });
        }
        if out.len() as u64 != end - start {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "records {start}..{end} were expected but only {} were found",
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// The first index whose council time is at or after `ms` (the log's length if
    /// none). Times never decrease along the log (the state machine refuses a record
    /// stamped before the previous one), so this is a binary search of point reads.
    pub fn first_index_at(&self, ms: i64) -> Result<u64, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT at_ms FROM records WHERE idx = ?1")
            .map_err(self.err("preparing a time read"))?;
        let (mut lo, mut hi) = (0u64, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at: i64 = st
                .query_row(params![to_i64(mid)], |r| r.get(0))
                .map_err(self.err("reading a record's time"))?;
            if at < ms {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Up to `limit` records of `start..end` that match `filter`, in index order,
    /// examining at most `scan` rows; also the index the next search should start at
    /// (`end` when the range was searched to its end).
    pub fn find_records(
        &self,
        start: u64,
        end: u64,
        filter: &RecordFilter,
        limit: u64,
        scan: u64,
    ) -> Result<(Vec<RecordRow>, u64), StoreError> {
        let end = end.min(self.len);
        let stop = end.min(start.saturating_add(scan));
        if start >= stop {
            return Ok((Vec::new(), end.max(start)));
        }
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT idx, leaf, leaf_hash, entry_hash, kind, author, at_ms FROM records
                 WHERE idx >= ?1 AND idx < ?2 AND (?3 IS NULL OR kind = ?3)
                   AND (?4 IS NULL OR author = ?4)
                 ORDER BY idx LIMIT ?5",
            )
            .map_err(self.err("preparing a record search"))?;
        let rows = st
            .query_map(
                params![
                    to_i64(start),
                    to_i64(stop),
                    filter.kind,
                    filter.author,
                    to_i64(limit)
                ],
                |r| {
                    Ok(RawRow {
                        idx: r.get(0)?,
                        leaf: r.get(1)?,
                        leaf_hash: r.get(2)?,
                        entry_hash: r.get(3)?,
                        kind: r.get(4)?,
                        author: r.get(5)?,
                        at_ms: r.get(6)?,
                    })
                },
            )
            .map_err(self.err("searching records"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("searching records"))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(RecordRow {
                index: u64::try_from(r.idx).map_err(|_| StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("a record has the negative index {}", r.idx),
                })?,
                leaf: r.leaf,
                leaf_hash: digest_from(&self.path, r.leaf_hash, "leaf_hash")?,
                entry_hash: digest_from(&self.path, r.entry_hash, "entry_hash")?,
                kind: r.kind,
                author: r.author,
                timestamp_ms: r.at_ms,
            });
        }
        let next = match out.last() {
            Some(last) if out.len() as u64 == limit => last.index + 1,
            _ => stop,
        };
        Ok((out, next))
    }

    /// Every stored leaf hash, in log order.
    pub fn leaf_hashes(&self) -> Result<Vec<Digest>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT idx, leaf_hash FROM records ORDER BY idx")
            .map_err(self.err("preparing the leaf hash read"))?;
        let mut rows = st.query([]).map_err(self.err("reading leaf hashes"))?;
        let mut out = Vec::with_capacity(self.len as usize);
        while let Some(r) = rows.next().map_err(self.err("reading leaf hashes"))? {
            let idx: i64 = r.get(0).map_err(self.err("reading leaf hashes"))?;
            if idx != out.len() as i64 {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("record {} is missing (found {idx} in its place)", out.len()),
                });
            }
            let h: Vec<u8> = r.get(1).map_err(self.err("reading leaf hashes"))?;
            out.push(digest_from(&self.path, h, "leaf_hash")?);
        }
        Ok(out)
    }

    /// The snapshot covering the most records, if any, read whole into memory (and
    /// checked against its listing).
    pub fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        let Some(listed) = self.snapshot_files()?.into_iter().next() else {
            return Ok(None);
        };
        let mut r = self.snapshot_reader(&listed)?;
        let mut state_json = Vec::with_capacity(listed.total_len as usize);
        r.read_to_end(&mut state_json)
            .map_err(|e| StoreError::BadSnapshot {
                covered: listed.covered_size,
                reason: e.to_string(),
            })?;
        Ok(Some(Snapshot {
            covered_size: listed.covered_size,
            state_json,
        }))
    }

    /// A reader over a listed snapshot's file; it fails at the end if the file's
    /// length or SHA-256 differ from the listing.
    pub fn snapshot_reader(&self, listed: &SnapshotFile) -> Result<SnapshotReader, StoreError> {
        let path = self.snapshot_dir.join(listed.file_name());
        let file = File::open(&path).map_err(|source| StoreError::BadSnapshot {
            covered: listed.covered_size,
            reason: format!("{}: {source}", path.display()),
        })?;
        Ok(SnapshotReader {
            file,
            listed: listed.clone(),
            hash: Sha256::new(),
            read: 0,
            checked: false,
        })
    }

    /// The listed snapshots, newest (covering the most records) first.
    pub fn snapshot_files(&self) -> Result<Vec<SnapshotFile>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT covered_size, total_len, sha256 FROM snapshots
                 ORDER BY covered_size DESC",
            )
            .map_err(self.err("listing snapshots"))?;
        let rows: Vec<(i64, i64, Vec<u8>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(self.err("listing snapshots"))?;
        rows.into_iter()
            .map(|(covered, total, hash)| {
                Ok(SnapshotFile {
                    covered_size: covered.max(0) as u64,
                    total_len: total.max(0) as u64,
                    sha256: digest_from(&self.path, hash, "a snapshot's sha256")?,
                })
            })
            .collect()
    }

    /// Covered sizes of the listed snapshots, newest first.
    pub fn snapshot_sizes(&self) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .snapshot_files()?
            .iter()
            .map(|f| f.covered_size)
            .collect())
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err("reading a meta value"))
    }

    /// Sets a meta value (durably). Keys the store owns are refused.
    pub fn meta_set(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if key == SCHEMA_VERSION_KEY {
            return Err(StoreError::ReservedKey(key.to_owned()));
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(self.err("writing a meta value"))?;
        Ok(())
    }
}

/// Lists `s` and unlists all but the newest `keep` snapshots.
fn insert_listing(
    tx: &rusqlite::Transaction<'_>,
    s: &SnapshotFile,
    keep: u32,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT OR REPLACE INTO snapshots (covered_size, total_len, sha256)
         VALUES (?1, ?2, ?3)",
        params![to_i64(s.covered_size), to_i64(s.total_len), &s.sha256.0[..]],
    )?;
    tx.execute(
        "DELETE FROM snapshots WHERE covered_size NOT IN
           (SELECT covered_size FROM snapshots ORDER BY covered_size DESC LIMIT ?1)",
        [keep],
    )?;
    Ok(())
}

/// Maps SQLite's "not a database" and "corrupt" codes to [`StoreError::Corrupt`].
fn sql_err(path: &Path, action: &'static str, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_owned(),
            detail: format!("while {action}: {source}"),
        },
        _ => StoreError::Sqlite {
            path: path.to_owned(),
            action,
            source,
        },
    }
}

/// Creates `dir` (and missing parents) readable by the owner only, whatever the
/// umask; an existing directory is left as it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Takes the exclusive advisory lock on `path` and writes our pid into it.
fn take_lock(path: &Path) -> Result<File, StoreError> {
    let io = |action| {
        move |source| StoreError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    // Owner only, whatever the umask (issue 16: 0666 under umask 0000).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io("opening the lock file"))?;
    // A lock released a moment ago can still be held by a child process between its
    // fork and exec (it inherits the descriptor until exec closes it): wait a little
    // before concluding that another owner holds the directory.
    let mut tries = 0;
    let locked = loop {
        match f.try_lock() {
            Err(TryLockError::WouldBlock) if tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other,
        }
    };
    match locked {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(StoreError::Locked {
                path: path.to_owned(),
                holder,
            });
        }
        Err(TryLockError::Error(e)) => return Err(io("locking the lock file")(e)),
    }
    f.set_len(0).map_err(io("writing the lock file"))?;
    f.seek(SeekFrom::Start(0))
        .map_err(io("writing the lock file"))?;
    writeln!(f, "{}", std::process::id()).map_err(io("writing the lock file"))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u64) -> RecordRow {
        RecordRow {
            index: i,
            leaf: format!("{{\"index\":{i}}}").into_bytes(),
            leaf_hash: Digest::sha256(&i.to_be_bytes()),
            entry_hash: Digest::sha256(format!("e{i}").as_bytes()),
            kind: "vote".into(),
            author: "a".into(),
            timestamp_ms: i as i64,
        }
    }

    fn synchronous(s: &Store) -> i64 {
        s.conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn deferred_commit_sync_keeps_appends_and_syncs_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let mut s = Store::open(&p).unwrap();
            // FULL (2) unless deferred, then NORMAL (1).
            assert_eq!(synchronous(&s), 2);
            s.sync().unwrap();
            s.defer_commit_sync().unwrap();
            assert_eq!(synchronous(&s), 1);
            s.append(&[row(0), row(1)], None).unwrap();
            assert!(dir.path().join("db-wal").exists());
            s.sync().unwrap();
            s.append(&[row(2)], None).unwrap();
        }
        // A reopened store is back to FULL and holds every append.
        let s = Store::open(&p).unwrap();
        assert_eq!(synchronous(&s), 2);
        assert_eq!(s.len(), 3);
        assert_eq!(s.record(2).unwrap().unwrap(), row(2));
    }

    #[test]
    fn sync_names_the_file_it_could_not_sync() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        let mut s = Store::open(&p).unwrap();
        s.defer_commit_sync().unwrap();
        s.append(&[row(0)], None).unwrap();
        // The WAL's name made a symbolic link to itself: opening it for a sync
        // fails (too many levels of links), even for root.
        let wal = dir.path().join("db-wal");
        std::fs::rename(&wal, dir.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&wal, &wal).unwrap();
        match s.sync() {
            Err(StoreError::Io { path, action, .. }) => {
                assert_eq!(path, wal);
                assert_eq!(action, "syncing the WAL");
            }
            other => panic!("expected an I/O error naming the WAL, got {other:?}"),
        }
    }

    #[test]
    fn append_read_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let mut s = Store::open(&p).unwrap();
            assert!(s.is_empty());
            s.append(&[row(0), row(1), row(2)], None).unwrap();
            let snap = Snapshot {
                covered_size: 3,
                state_json: b"{}".to_vec(),
            };
            let file = write_snapshot_file(s.snapshot_dir(), &snap).unwrap();
            assert_eq!(file.total_len, 2);
            assert_eq!(file.sha256, Digest::sha256(b"{}"));
            s.append(&[row(3)], Some(&file)).unwrap();
            s.meta_set("k", b"v").unwrap();
            assert!(matches!(
                s.meta_set(SCHEMA_VERSION_KEY, b"9"),
                Err(StoreError::ReservedKey(_))
            ));
        }
        let s = Store::open(&p).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s.record(2).unwrap().unwrap(), row(2));
        assert_eq!(s.record(4).unwrap(), None);
        assert_eq!(s.records(1, 100).unwrap(), vec![row(1), row(2), row(3)]);
        assert!(s.records(3, 1).unwrap().is_empty());
        assert_eq!(
            s.leaf_hashes().unwrap(),
            (0..4).map(|i| row(i).leaf_hash).collect::<Vec<_>>()
        );
        let latest = s.latest_snapshot().unwrap().unwrap();
        assert_eq!(
            (latest.covered_size, &latest.state_json[..]),
            (3, &b"{}"[..])
        );
        assert_eq!(s.meta_get("k").unwrap().unwrap(), b"v");
        assert_eq!(s.meta_get("nope").unwrap(), None);
    }

    #[test]
    fn refuses_gaps_and_keeps_few_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db")).unwrap();
        s.set_keep_snapshots(2);
        assert!(matches!(
            s.append(&[row(1)], None),
            Err(StoreError::NotContiguous {
                expected: 0,
                got: 1
            })
        ));
        s.append(&[row(0)], None).unwrap();
        // A row out of order in a batch: nothing of the batch is written.
        assert!(matches!(
            s.append(&[row(1), row(3)], None),
            Err(StoreError::NotContiguous {
                expected: 2,
                got: 3
            })
        ));
        assert_eq!(s.len(), 1);
        assert_eq!(s.record(1).unwrap(), None);
        for i in 1..5 {
            let snap = Snapshot {
                covered_size: i + 1,
                state_json: vec![b'x'; 10],
            };
            let file = write_snapshot_file(s.snapshot_dir(), &snap).unwrap();
            s.append(&[row(i)], Some(&file)).unwrap();
        }
        assert_eq!(s.snapshot_sizes().unwrap(), vec![5, 4]);
        // The unlisted snapshots' files are gone.
        assert_eq!(snapshot_dir_names(&s).len(), 2);
        let too_far = Snapshot {
            covered_size: 9,
            state_json: vec![],
        };
        let file = write_snapshot_file(s.snapshot_dir(), &too_far).unwrap();
        assert!(matches!(
            s.list_snapshot(&file),
            Err(StoreError::SnapshotBeyondLog { .. })
        ));
        assert_eq!(s.snapshot_sizes().unwrap(), vec![5, 4]);
    }

    fn snapshot_dir_names(s: &Store) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(s.snapshot_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A listed snapshot file that is truncated, altered or missing fails to read,
    /// naming what is wrong; files no append listed are deleted at open.
    #[test]
    fn snapshot_files_are_checked_against_their_listing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        let mut s = Store::open(&p).unwrap();
        s.append(&[row(0)], None).unwrap();
        let big: Vec<u8> = (0..3_000_000).map(|i| (i % 251) as u8).collect();
        let snap = Snapshot {
            covered_size: 1,
            state_json: big.clone(),
        };
        let file = write_snapshot_file(s.snapshot_dir(), &snap).unwrap();
        s.list_snapshot(&file).unwrap();
        assert_eq!(s.latest_snapshot().unwrap().unwrap(), snap);
        let path = s.snapshot_dir().join(file.file_name());

        std::fs::write(&path, &big[..big.len() - 10]).unwrap();
        let e = s.latest_snapshot().unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");

        let mut altered = big.clone();
        altered[1234] ^= 1;
        std::fs::write(&path, &altered).unwrap();
        let e = s.latest_snapshot().unwrap_err().to_string();
        assert!(e.contains("altered"), "{e}");

        let mut longer = big.clone();
        longer.push(b' ');
        std::fs::write(&path, &longer).unwrap();
        let e = s.latest_snapshot().unwrap_err().to_string();
        assert!(e.contains("longer"), "{e}");

        std::fs::remove_file(&path).unwrap();
        let e = s.latest_snapshot().unwrap_err().to_string();
        assert!(e.contains(&file.file_name()), "{e}");

        // Left behind by a crash: an unfinished file and a finished but unlisted one.
        std::fs::write(&path, &big).unwrap();
        let other = Snapshot {
            covered_size: 1,
            state_json: b"{}".to_vec(),
        };
        let unlisted = write_snapshot_file(s.snapshot_dir(), &other).unwrap();
        std::fs::write(s.snapshot_dir().join("1.7.json.tmp"), b"{").unwrap();
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(snapshot_dir_names(&s), vec![file.file_name()]);
        assert_ne!(unlisted.file_name(), file.file_name());
        assert_eq!(s.latest_snapshot().unwrap().unwrap(), snap);
    }

    /// A version 1 ledger (records with a UNIQUE entry hash, snapshots in chunks)
    /// opens as the current version with every record kept, the index gone and the
    /// old snapshots dropped.
    #[test]
    fn migrates_a_version_1_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [b"1".to_vec()],
            )
            .unwrap();
            for i in 0..3u64 {
                let r = row(i);
                c.execute(
                    "INSERT INTO records (idx, leaf, leaf_hash, entry_hash, kind, author, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        i as i64,
                        r.leaf,
                        &r.leaf_hash.0[..],
                        &r.entry_hash.0[..],
                        r.kind,
                        r.author,
                        r.timestamp_ms
                    ],
                )
                .unwrap();
            }
            // A snapshot in version 1's tables, which version 3 drops.
            c.execute_batch(
                "INSERT INTO snapshots (covered_size, total_len, chunk_count) VALUES (3, 2, 1);
                 INSERT INTO snapshot_chunks (covered_size, seq, bytes) VALUES (3, 0, x'7b7d');",
            )
            .unwrap();
        }
        let mut s = Store::open(&p).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.snapshot_files().unwrap().is_empty());
        assert_eq!(
            s.records(0, 10).unwrap(),
            (0..3).map(row).collect::<Vec<_>>()
        );
        s.append(&[row(3)], None).unwrap();
        let version = s.meta_get(SCHEMA_VERSION_KEY).unwrap().unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string().into_bytes());
        let indexes: i64 = s
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
        drop(s);
        assert_eq!(Store::open(&p).unwrap().len(), 4);
    }

    #[test]
    fn refuses_newer_schema_and_foreign_databases() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        drop(Store::open(&p).unwrap());
        {
            let c = Connection::open(&p).unwrap();
            c.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                [b"99".to_vec()],
            )
            .unwrap();
        }
        let e = Store::open(&p).unwrap_err();
        assert!(
            matches!(e, StoreError::NewerSchema { found: 99, .. }),
            "{e}"
        );

        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let q = other.join("db");
        Connection::open(&q)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = Store::open(&q).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    }
}
