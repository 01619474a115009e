//! Durable storage for the Raft council (`DIR/raft.db` beside the ledger): the Raft
//! log (index, term, serialized entry) and small named values (vote, committed and
//! purged log ids, last applied log id and membership, snapshot metadata). Values are
//! opaque bytes here (the node serializes openraft's types as JSON), so this crate
//! does not depend on openraft. Every write is one SQLite transaction in WAL mode
//! with `synchronous=FULL`: when a call returns, what it wrote survives a crash.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// File name of the council's database inside a data directory.
pub const RAFT_FILE: &str = "raft.db";

const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum RaftStoreError {
    #[error("{path}: SQLite failed while {action}: {source}")]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        source: rusqlite::Error,
    },
    #[error(
        "{path} has Raft schema version {found}, newer than this build supports ({SCHEMA_VERSION})"
    )]
    NewerSchema { path: PathBuf, found: i64 },
    #[error("Raft log entries must be appended in order: expected index {expected}, got {got}")]
    NotContiguous { expected: u64, got: u64 },
}

/// One stored Raft log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftEntry {
    pub index: u64,
    pub term: u64,
    /// The serialized entry (opaque to the store).
    pub data: Vec<u8>,
}

/// The council's SQLite database.
pub struct RaftStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for RaftStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RaftStore {
    /// Opens (creating if needed) `dir/raft.db`. The data directory's lock is the
    /// ledger's: open the ledger first.
    pub fn open(dir: &Path) -> Result<RaftStore, RaftStoreError> {
        let path = dir.join(RAFT_FILE);
        let conn = Connection::open(&path).map_err(|source| RaftStoreError::Sqlite {
            path: path.clone(),
            action: "opening the database",
            source,
        })?;
        let store = RaftStore { conn, path };
        store.configure()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> RaftStoreError + '_ {
        move |source| RaftStoreError::Sqlite {
            path: self.path.clone(),
            action,
            source,
        }
    }

    fn configure(&self) -> Result<(), RaftStoreError> {
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(self.err("setting the busy timeout"))?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(self.err("enabling WAL"))?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(self.err("setting synchronous=FULL"))?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err("reading the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(RaftStoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        }
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS raft_log (
                     idx  INTEGER PRIMARY KEY,
                     term INTEGER NOT NULL,
                     data BLOB NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS raft_meta (
                     key   TEXT PRIMARY KEY,
                     value BLOB NOT NULL
                 );
                 PRAGMA user_version = 1;",
            )
            .map_err(self.err("creating the Raft tables"))
    }

    /// Appends entries (in index order, each following the stored last entry or
    /// replacing from its index on) in one transaction.
    pub fn append(&mut self, entries: &[RaftEntry]) -> Result<(), RaftStoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        for w in entries.windows(2) {
            if w[1].index != w[0].index + 1 {
                return Err(RaftStoreError::NotContiguous {
                    expected: w[0].index + 1,
                    got: w[1].index,
                });
            }
        }
        let path = self.path.clone();
        let e = |action| {
            let path = path.clone();
            move |source| RaftStoreError::Sqlite {
                path,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(e("starting a transaction"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO raft_log (idx, term, data) VALUES (?1, ?2, ?3)",
                )
                .map_err(e("preparing the log insert"))?;
            for en in entries {
                stmt.execute(params![en.index as i64, en.term as i64, en.data])
                    .map_err(e("appending a Raft log entry"))?;
            }
        }
        tx.commit().map_err(e("committing Raft log entries"))
    }

    /// Entries with `start <= index < end`, in order.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<RaftEntry>, RaftStoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, term, data FROM raft_log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(self.err("preparing the log read"))?;
        let end = end.min(i64::MAX as u64) as i64;
        let start = start.min(i64::MAX as u64) as i64;
        let rows = stmt
            .query_map(params![start, end], |r| {
                Ok(RaftEntry {
                    index: r.get::<_, i64>(0)? as u64,
                    term: r.get::<_, i64>(1)? as u64,
                    data: r.get(2)?,
                })
            })
            .map_err(self.err("reading Raft log entries"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("reading Raft log entries"))
    }

    /// The entry with the highest index, if any.
    pub fn last_entry(&self) -> Result<Option<RaftEntry>, RaftStoreError> {
        self.conn
            .query_row(
                "SELECT idx, term, data FROM raft_log ORDER BY idx DESC LIMIT 1",
                [],
                |r| {
                    Ok(RaftEntry {
                        index: r.get::<_, i64>(0)? as u64,
                        term: r.get::<_, i64>(1)? as u64,
                        data: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("reading the last Raft log entry"))
    }

    /// Deletes every entry with index >= `from` (conflicting entries).
    pub fn truncate_from(&mut self, from: u64) -> Result<(), RaftStoreError> {
        self.conn
            .execute(
                "DELETE FROM raft_log WHERE idx >= ?1",
                params![from.min(i64::MAX as u64) as i64],
            )
            .map(|_| ())
            .map_err(self.err("truncating the Raft log"))
    }

    /// Deletes every entry with index <= `upto` and records `purged` (the purged log
    /// id, serialized) in the same transaction.
    pub fn purge_upto(&mut self, upto: u64, purged: &[u8]) -> Result<(), RaftStoreError> {
        let path = self.path.clone();
        let e = |action| {
            let path = path.clone();
            move |source| RaftStoreError::Sqlite {
                path,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(e("starting a transaction"))?;
        tx.execute(
            "DELETE FROM raft_log WHERE idx <= ?1",
            params![upto.min(i64::MAX as u64) as i64],
        )
        .map_err(e("purging the Raft log"))?;
        tx.execute(
            "INSERT OR REPLACE INTO raft_meta (key, value) VALUES ('purged', ?1)",
            params![purged],
        )
        .map_err(e("recording the purged log id"))?;
        tx.commit().map_err(e("committing the purge"))
    }

    /// A named value.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RaftStoreError> {
        self.conn
            .query_row(
                "SELECT value FROM raft_meta WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading a Raft value"))
    }

    /// Sets several named values in one transaction.
    pub fn set_many(&mut self, values: &[(&str, &[u8])]) -> Result<(), RaftStoreError> {
        let path = self.path.clone();
        let e = |action| {
            let path = path.clone();
            move |source| RaftStoreError::Sqlite {
                path,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(e("starting a transaction"))?;
        for (k, v) in values {
            tx.execute(
                "INSERT OR REPLACE INTO raft_meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(e("writing a Raft value"))?;
        }
        tx.commit().map_err(e("committing Raft values"))
    }

    /// Sets one named value.
    pub fn set(&mut self, key: &str, value: &[u8]) -> Result<(), RaftStoreError> {
        self.set_many(&[(key, value)])
    }

    /// Sets one named value without waiting for the disk (`synchronous=OFF` for this
    /// one write): it survives the process crashing, and a power loss may take it
    /// back to an older value. For hints that can be recovered otherwise (the Raft
    /// committed id, which the leader tells again), written on every commit.
    pub fn set_unsynced(&mut self, key: &str, value: &[u8]) -> Result<(), RaftStoreError> {
        self.conn
            .pragma_update(None, "synchronous", "OFF")
            .map_err(self.err("setting synchronous=OFF"))?;
        let written = self
            .conn
            .execute(
                "INSERT OR REPLACE INTO raft_meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(self.err("writing a Raft value"));
        // Back to FULL whatever happened: every other write must be durable.
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(self.err("setting synchronous=FULL"))?;
        written.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(index: u64, term: u64) -> RaftEntry {
        RaftEntry {
            index,
            term,
            data: format!("entry {index}/{term}").into_bytes(),
        }
    }

    #[test]
    fn log_and_values_survive_a_reopen() {
        let d = tempfile::tempdir().unwrap();
        {
            let mut s = RaftStore::open(d.path()).unwrap();
            assert_eq!(s.last_entry().unwrap(), None);
            s.append(&[e(1, 1), e(2, 1), e(3, 2)]).unwrap();
            s.set("vote", b"v1").unwrap();
        }
        let mut s = RaftStore::open(d.path()).unwrap();
        assert_eq!(s.entries(0, 10).unwrap(), vec![e(1, 1), e(2, 1), e(3, 2)]);
        assert_eq!(s.last_entry().unwrap(), Some(e(3, 2)));
        assert_eq!(s.get("vote").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(s.get("nothing").unwrap(), None);

        // A conflicting suffix is replaced.
        s.truncate_from(2).unwrap();
        s.append(&[e(2, 3)]).unwrap();
        assert_eq!(s.entries(0, 10).unwrap(), vec![e(1, 1), e(2, 3)]);

        s.purge_upto(1, b"p1").unwrap();
        assert_eq!(s.entries(0, 10).unwrap(), vec![e(2, 3)]);
        assert_eq!(s.get("purged").unwrap().as_deref(), Some(&b"p1"[..]));
    }

    #[test]
    fn gaps_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut s = RaftStore::open(d.path()).unwrap();
        let err = s.append(&[e(1, 1), e(3, 1)]).unwrap_err();
        assert!(
            matches!(
                err,
                RaftStoreError::NotContiguous {
                    expected: 2,
                    got: 3
                }
            ),
            "{err}"
        );
        assert_eq!(s.entries(0, 10).unwrap(), vec![]);
    }
}
