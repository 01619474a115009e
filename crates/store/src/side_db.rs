//! Small SQLite files a node keeps beside its ledger (`seal.db`, `witness.db`): opened
//! the same way as the ledger's database (WAL, `synchronous=FULL`, a busy timeout), with
//! their schema created if missing and a schema version check, and errors that name
//! the file.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a side database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SideDbError {
    #[error("{path}: {action}: {source}")]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "{path}: schema version {found} is newer than this program's {supported}; \
         use a newer govmesh"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
}

/// Opens (creating if needed) the side database at `path`: WAL, `synchronous=FULL`,
/// a 5 s busy timeout, then `schema` (idempotent `CREATE TABLE IF NOT EXISTS ...`).
/// A file written by a newer schema than `version` is refused; an older or new one is
/// marked `version`.
pub fn open_side_db(path: &Path, schema: &str, version: i64) -> Result<Connection, SideDbError> {
    let err = |action: &'static str| {
        move |source| SideDbError::Sqlite {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let db = Connection::open(path).map_err(err("opening the database"))?;
    db.pragma_update(None, "journal_mode", "WAL")
        .map_err(err("enabling WAL"))?;
    db.pragma_update(None, "synchronous", "FULL")
        .map_err(err("setting synchronous=FULL"))?;
    let found: i64 = db
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err("reading the schema version"))?;
    if found > version {
        return Err(SideDbError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: version,
        });
    }
    db.execute_batch(schema)
        .map_err(err("creating the tables"))?;
    if found < version {
        db.pragma_update(None, "user_version", version)
            .map_err(err("writing the schema version"))?;
    }
    db.busy_timeout(Duration::from_secs(5))
        .map_err(err("setting the busy timeout"))?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_marks_and_refuses_a_newer_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("side.db");
        let schema = "CREATE TABLE IF NOT EXISTS t (x INTEGER);";
        let db = open_side_db(&path, schema, 1).unwrap();
        db.execute("INSERT INTO t VALUES (1)", []).unwrap();
        drop(db);
        // Opened again: same file, data kept.
        let db = open_side_db(&path, schema, 1).unwrap();
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(db);
        let e = open_side_db(&path, schema, 0).unwrap_err();
        assert!(
            matches!(e, SideDbError::NewerSchema { found: 1, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("side.db"), "{e}");
    }
}
