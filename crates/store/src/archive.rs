//! The history tables of schema 5 (issue 15, "Bounded memory"): recorded vote
//! equivocations, checkpoint forks, hygiene attestations and sync acks leave the
//! in-memory [`State`](govmesh_core::state::State) through its outbox
//! ([`State::take_retired`](govmesh_core::state::State::take_retired)) and are kept
//! here, one row per record, written in the transaction of the record that made them
//! (with the closed proposals of `history.rs`). A row holds the record's JSON exactly
//! as the state held it (and the API serves it) and the columns the lists filter and
//! page on. Rows are keyed by log index (an ack by contract, revision and node) and
//! written with `INSERT OR REPLACE`: a replay of records already applied writes the
//! same rows again.

use crate::history::HistoryRow;
use govmesh_core::attestation::Attestation;
use govmesh_core::evidence::CheckpointFork;
use govmesh_core::model::Equivocation;
use govmesh_core::state::{Retired, SyncAck};
use govmesh_core::{Digest, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

pub(crate) const CREATE: &str = r#"
CREATE TABLE equivocations (
    second_idx  INTEGER PRIMARY KEY,
    proposal_id TEXT NOT NULL,
    voter       TEXT NOT NULL,
    record      BLOB NOT NULL
);
CREATE INDEX equivocations_by_proposal ON equivocations (proposal_id, second_idx);

CREATE TABLE checkpoint_forks (
    idx    INTEGER PRIMARY KEY,
    record BLOB NOT NULL
);

CREATE TABLE attestations (
    idx         INTEGER PRIMARY KEY,
    contract_id TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    attester    TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    record      BLOB NOT NULL
);

CREATE TABLE attestation_subjects (
    digest TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    PRIMARY KEY (digest, idx)
) WITHOUT ROWID;

CREATE TABLE acks (
    contract_id TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    node_id     TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    entry_hash  BLOB NOT NULL CHECK (length(entry_hash) = 32),
    PRIMARY KEY (contract_id, revision, node_id)
) WITHOUT ROWID;

-- The snapshots of schema 4 hold this history in the state: they are dropped, and the
-- next open replays the log from the genesis, which fills these tables (and writes the
-- `proposals` rows again, the same).
DELETE FROM snapshots;
"#;

/// Everything that left the state with one append, serialized for its transaction.
#[derive(Clone, Debug, Default)]
pub struct HistoryBatch {
    pub proposals: Vec<HistoryRow>,
    equivocations: Vec<(u64, String, String, Vec<u8>)>,
    forks: Vec<(u64, Vec<u8>)>,
    /// (index, contract, revision, attester, time, record, subject digests).
    attestations: Vec<AttestationRow>,
    acks: Vec<(String, u64, String, SyncAck)>,
}

#[derive(Clone, Debug)]
struct AttestationRow {
    index: u64,
    contract_id: String,
    revision: u64,
    attester: String,
    at_ms: i64,
    record: Vec<u8>,
    subjects: Vec<String>,
}

/// A record of `what` at log index `index` that does not serialize.
#[derive(Debug)]
pub struct Unserializable {
    pub index: u64,
    pub what: String,
    pub error: serde_json::Error,
}

impl HistoryBatch {
    /// The rows of what left the state.
    pub fn of(r: &Retired) -> Result<HistoryBatch, Unserializable> {
        let bad = |index: u64, what: String| move |error| Unserializable { index, what, error };
        let mut b = HistoryBatch::default();
        for p in &r.proposals {
            b.proposals.push(HistoryRow::of(p).map_err(bad(
                p.index,
                format!("closed proposal {:?}", p.proposal.proposal_id),
            ))?);
        }
        for e in &r.equivocations {
            let json = serde_json::to_vec(e).map_err(bad(e.second_index, "equivocation".into()))?;
            b.equivocations
                .push((e.second_index, e.proposal_id.clone(), e.voter.clone(), json));
        }
        for f in &r.checkpoint_forks {
            let json = serde_json::to_vec(f).map_err(bad(f.index, "checkpoint fork".into()))?;
            b.forks.push((f.index, json));
        }
        for a in &r.attestations {
            let json = serde_json::to_vec(a).map_err(bad(a.index, "attestation".into()))?;
            let mut subjects: Vec<String> = a
                .subject
                .iter()
                .flat_map(|s| s.digest.values().cloned())
                .collect();
            subjects.sort();
            subjects.dedup();
            b.attestations.push(AttestationRow {
                index: a.index,
                contract_id: a.predicate.contract_id.clone(),
                revision: a.predicate.revision,
                attester: a.attester.clone(),
                at_ms: a.timestamp.millis(),
                record: json,
                subjects,
            });
        }
        for a in &r.acks {
            b.acks.push((
                a.contract_id.clone(),
                a.revision,
                a.node_id.clone(),
                a.ack.clone(),
            ));
        }
        Ok(b)
    }

    pub fn is_empty(&self) -> bool {
        self.proposals.is_empty()
            && self.equivocations.is_empty()
            && self.forks.is_empty()
            && self.attestations.is_empty()
            && self.acks.is_empty()
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Inserts (or rewrites, on a replay) the batch's rows other than the proposals,
/// inside the caller's transaction.
pub(crate) fn insert(conn: &Connection, b: &HistoryBatch) -> rusqlite::Result<()> {
    if !b.equivocations.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT OR REPLACE INTO equivocations (second_idx, proposal_id, voter, record)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, p, v, json) in &b.equivocations {
            ins.execute(params![to_i64(*i), p, v, json])?;
        }
    }
    if !b.forks.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT OR REPLACE INTO checkpoint_forks (idx, record) VALUES (?1, ?2)",
        )?;
        for (i, json) in &b.forks {
            ins.execute(params![to_i64(*i), json])?;
        }
    }
    if !b.attestations.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT OR REPLACE INTO attestations (idx, contract_id, revision, attester, at_ms, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut sub = conn.prepare_cached(
            "INSERT OR REPLACE INTO attestation_subjects (digest, idx) VALUES (?1, ?2)",
        )?;
        for a in &b.attestations {
            ins.execute(params![
                to_i64(a.index),
                a.contract_id,
                to_i64(a.revision),
                a.attester,
                a.at_ms,
                a.record
            ])?;
            for d in &a.subjects {
                sub.execute(params![d, to_i64(a.index)])?;
            }
        }
    }
    if !b.acks.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT OR REPLACE INTO acks (contract_id, revision, node_id, idx, at_ms, entry_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (c, r, n, a) in &b.acks {
            ins.execute(params![
                c,
                to_i64(*r),
                n,
                to_i64(a.index),
                a.timestamp.millis(),
                &a.entry_hash.0[..]
            ])?;
        }
    }
    Ok(())
}

/// A stored row that does not decode: which table, which index and why.
#[derive(Debug)]
pub(crate) struct BadRow {
    pub table: &'static str,
    pub index: i64,
    pub reason: String,
}

fn decode<T: serde::de::DeserializeOwned>(
    table: &'static str,
    index: i64,
    bytes: &[u8],
) -> Result<T, BadRow> {
    serde_json::from_slice(bytes).map_err(|e| BadRow {
        table,
        index,
        reason: e.to_string(),
    })
}

type Decoded<T> = rusqlite::Result<Result<T, BadRow>>;

/// What the equivocation list selects (`None`: anything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EquivocationFilter {
    pub proposal: Option<String>,
    pub voter: Option<String>,
}

/// Up to `limit` stored equivocations whose second entry's index is after `after`
/// that pass `filter`, in log order.
pub(crate) fn equivocations(
    conn: &Connection,
    after: Option<u64>,
    filter: &EquivocationFilter,
    limit: u64,
) -> Decoded<Vec<Equivocation>> {
    let mut st = conn.prepare_cached(
        "SELECT second_idx, record FROM equivocations
         WHERE second_idx > ?1 AND (?2 IS NULL OR proposal_id = ?2) AND (?3 IS NULL OR voter = ?3)
         ORDER BY second_idx LIMIT ?4",
    )?;
    let rows = st
        .query_map(
            params![
                after.map_or(-1, to_i64),
                filter.proposal,
                filter.voter,
                to_i64(limit)
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .iter()
        .map(|(i, b)| decode("equivocations", *i, b))
        .collect())
}

/// Whether an equivocation whose second entry has this index is stored.
pub(crate) fn has_equivocation(conn: &Connection, second_index: u64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM equivocations WHERE second_idx = ?1")?
        .query_row([to_i64(second_index)], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Up to `limit` stored checkpoint forks from the `skip`th on (0-based), in log order.
pub(crate) fn checkpoint_forks(
    conn: &Connection,
    skip: u64,
    limit: u64,
) -> Decoded<Vec<CheckpointFork>> {
    let mut st = conn.prepare_cached(
        "SELECT idx, record FROM checkpoint_forks ORDER BY idx LIMIT ?1 OFFSET ?2",
    )?;
    let rows = st
        .query_map(params![to_i64(limit), to_i64(skip)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .iter()
        .map(|(i, b)| decode("checkpoint_forks", *i, b))
        .collect())
}

/// Number of rows of `table` (one of this module's).
pub(crate) fn count(conn: &Connection, table: &'static str) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(to_u64(n))
}

/// What the attestation list selects (`None`: anything): the API's filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttestationFilter {
    /// A subject digest value (any algorithm), matched in lower case.
    pub subject: Option<String>,
    pub contract: Option<String>,
    pub revision: Option<u64>,
    pub attester: Option<String>,
    /// Accepted at or after (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Accepted before.
    pub until_ms: Option<i64>,
}

const ATTESTATION_WHERE: &str =
    "(?1 IS NULL OR idx IN (SELECT idx FROM attestation_subjects WHERE digest = ?1))
    AND (?2 IS NULL OR contract_id = ?2) AND (?3 IS NULL OR revision = ?3)
    AND (?4 IS NULL OR attester = ?4) AND (?5 IS NULL OR at_ms >= ?5)
    AND (?6 IS NULL OR at_ms < ?6)";

/// Up to `limit` stored attestations after log index `after` that pass `filter`, in
/// log order.
pub(crate) fn attestations(
    conn: &Connection,
    after: Option<u64>,
    f: &AttestationFilter,
    limit: u64,
) -> Decoded<Vec<Attestation>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT idx, record FROM attestations WHERE idx > ?7 AND {ATTESTATION_WHERE}
         ORDER BY idx LIMIT ?8"
    ))?;
    let subject = f.subject.as_deref().map(str::to_ascii_lowercase);
    let rows = st
        .query_map(
            params![
                subject,
                f.contract,
                f.revision.map(to_i64),
                f.attester,
                f.since_ms,
                f.until_ms,
                after.map_or(-1, to_i64),
                to_i64(limit)
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .iter()
        .map(|(i, b)| decode("attestations", *i, b))
        .collect())
}

/// Number of stored attestations that pass `filter`.
pub(crate) fn attestation_count(conn: &Connection, f: &AttestationFilter) -> rusqlite::Result<u64> {
    let subject = f.subject.as_deref().map(str::to_ascii_lowercase);
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM attestations WHERE {ATTESTATION_WHERE}"
        ))?
        .query_row(
            params![
                subject,
                f.contract,
                f.revision.map(to_i64),
                f.attester,
                f.since_ms,
                f.until_ms
            ],
            |r| r.get(0),
        )?;
    Ok(to_u64(n))
}

/// Whether an attestation of this log index is stored.
pub(crate) fn has_attestation(conn: &Connection, index: u64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM attestations WHERE idx = ?1")?
        .query_row([to_i64(index)], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The stored acks of one revision: node id -> its ack.
pub(crate) fn acks_of(
    conn: &Connection,
    contract_id: &str,
    revision: u64,
) -> Decoded<BTreeMap<String, SyncAck>> {
    let mut st = conn.prepare_cached(
        "SELECT node_id, idx, at_ms, entry_hash FROM acks WHERE contract_id = ?1 AND revision = ?2",
    )?;
    let rows = st
        .query_map(params![contract_id, to_i64(revision)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = BTreeMap::new();
    for (node, idx, at, hash) in rows {
        let Ok(h) = <[u8; 32]>::try_from(hash.as_slice()) else {
            return Ok(Err(BadRow {
                table: "acks",
                index: idx,
                reason: "entry_hash is not 32 bytes".into(),
            }));
        };
        out.insert(
            node,
            SyncAck {
                timestamp: Timestamp::from_millis(at),
                index: to_u64(idx),
                entry_hash: Digest(h),
            },
        );
    }
    Ok(Ok(out))
}
