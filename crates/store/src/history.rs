//! The `proposals` history table (issue 15, "Bounded memory"): a proposal that closed
//! (adopted and in effect, rejected, withdrawn, cancelled) leaves the in-memory
//! [`State`](govmesh_core::state::State) and is kept here, one row per proposal,
//! written in the transaction of the record that closed it. A row holds the proposal
//! exactly as the API serves it (its JSON), what it was tallied with (votes, replaced
//! votes, voting policy, eligible voters, delegations), and the columns the list
//! filters on. Rows are keyed by the log index of the proposal's `propose` entry, the
//! order the list gives (newest first), and written with `INSERT OR REPLACE`: a replay
//! of records already applied (open replays the records after the last snapshot)
//! writes the same rows again.

use govmesh_core::model::{Proposal, ProposalStatus, Vote, VotingPolicy};
use govmesh_core::state::ProposalRecord;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A closed proposal as stored: the indexed columns and the two JSON documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// Log index of the proposal's `propose` entry.
    pub index: u64,
    pub proposal_id: String,
    pub contract_id: String,
    pub clause_id: String,
    /// The seed's status name (`adopted`, `rejected`, `withdrawn`).
    pub status: String,
    pub author: String,
    pub created_ms: i64,
    /// When it closed (its `updated_at`).
    pub closed_ms: i64,
    /// The proposal's JSON, as served.
    pub proposal: Vec<u8>,
    /// [`StoredBallot`]'s JSON.
    pub ballot: Vec<u8>,
}

/// What a closed proposal was tallied with, stored beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredBallot {
    votes: Vec<Vote>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    superseded_votes: Vec<Vote>,
    voting_policy: VotingPolicy,
    eligible_voters: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    delegations: BTreeMap<String, String>,
}

/// The seed's name of a status (`voting`, `adopted`, ...), as the API's `status`
/// filter and the table's `status` column spell it.
pub fn status_name(s: ProposalStatus) -> String {
    match serde_json::to_value(s) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{s:?}").to_lowercase(),
    }
}

impl HistoryRow {
    /// The row of a closed proposal.
    pub fn of(rec: &ProposalRecord) -> Result<HistoryRow, serde_json::Error> {
        let p = &rec.proposal;
        let ballot = StoredBallot {
            votes: rec.votes.clone(),
            superseded_votes: rec.superseded_votes.clone(),
            voting_policy: rec.voting_policy.clone(),
            eligible_voters: rec.eligible_voters.clone(),
            delegations: rec.delegations.clone(),
        };
        Ok(HistoryRow {
            index: rec.index,
            proposal_id: p.proposal_id.clone(),
            contract_id: p.contract_id.clone(),
            clause_id: p.target_contract_clause.clone(),
            status: status_name(p.status),
            author: p.proposed_by.clone(),
            created_ms: p.created_at.millis(),
            closed_ms: p.updated_at.millis(),
            proposal: serde_json::to_vec(p)?,
            ballot: serde_json::to_vec(&ballot)?,
        })
    }
}

/// What a proposal list selects (`None`: anything): the API's filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalFilter {
    pub status: Option<ProposalStatus>,
    pub contract: Option<String>,
    pub clause: Option<String>,
    pub author: Option<String>,
    /// Created at or after (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Created before.
    pub until_ms: Option<i64>,
}

impl ProposalFilter {
    /// Whether `p` passes (the same test the SQL query makes, for live proposals).
    pub fn matches(&self, p: &Proposal) -> bool {
        self.status.is_none_or(|s| p.status == s)
            && self.contract.as_deref().is_none_or(|c| p.contract_id == c)
            && self
                .clause
                .as_deref()
                .is_none_or(|c| p.target_contract_clause == c)
            && self.author.as_deref().is_none_or(|a| p.proposed_by == a)
            && self.since_ms.is_none_or(|s| p.created_at.millis() >= s)
            && self.until_ms.is_none_or(|u| p.created_at.millis() < u)
    }
}

pub(crate) const CREATE: &str = r#"
CREATE TABLE proposals (
    idx         INTEGER PRIMARY KEY,
    proposal_id TEXT NOT NULL UNIQUE,
    contract_id TEXT NOT NULL,
    clause_id   TEXT NOT NULL,
    status      TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    closed_ms   INTEGER NOT NULL,
    proposal    BLOB NOT NULL,
    ballot      BLOB NOT NULL
);
"#;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Inserts (or rewrites, on a replay) `rows`, inside the caller's transaction.
pub(crate) fn insert(conn: &Connection, rows: &[HistoryRow]) -> rusqlite::Result<()> {
    let mut ins = conn.prepare_cached(
        "INSERT OR REPLACE INTO proposals (idx, proposal_id, contract_id, clause_id, status,
             author, created_ms, closed_ms, proposal, ballot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in rows {
        ins.execute(params![
            to_i64(r.index),
            r.proposal_id,
            r.contract_id,
            r.clause_id,
            r.status,
            r.author,
            r.created_ms,
            r.closed_ms,
            r.proposal,
            r.ballot,
        ])?;
    }
    Ok(())
}

/// A stored row that does not decode: which proposal and why.
#[derive(Debug)]
pub(crate) struct BadRow {
    pub index: i64,
    pub reason: String,
}

fn decode_proposal(index: i64, bytes: &[u8]) -> Result<Proposal, BadRow> {
    serde_json::from_slice(bytes).map_err(|e| BadRow {
        index,
        reason: format!("its proposal is not a proposal: {e}"),
    })
}

/// The stored record of proposal `id`, if it is in the table.
pub(crate) fn get(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Result<Option<ProposalRecord>, BadRow>> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT idx, proposal, ballot FROM proposals WHERE proposal_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((index, proposal, ballot)) = row else {
        return Ok(Ok(None));
    };
    Ok(decode_record(index, &proposal, &ballot).map(Some))
}

fn decode_record(index: i64, proposal: &[u8], ballot: &[u8]) -> Result<ProposalRecord, BadRow> {
    let proposal = decode_proposal(index, proposal)?;
    let b: StoredBallot = serde_json::from_slice(ballot).map_err(|e| BadRow {
        index,
        reason: format!("its ballot does not decode: {e}"),
    })?;
    Ok(ProposalRecord {
        index: u64::try_from(index).map_err(|_| BadRow {
            index,
            reason: "negative index".into(),
        })?,
        proposal,
        votes: b.votes,
        superseded_votes: b.superseded_votes,
        voting_policy: b.voting_policy,
        eligible_voters: b.eligible_voters,
        delegations: b.delegations,
    })
}

/// The log index of stored proposal `id`'s `propose` entry.
pub(crate) fn index_of(conn: &Connection, id: &str) -> rusqlite::Result<Option<u64>> {
    let i: Option<i64> = conn
        .prepare_cached("SELECT idx FROM proposals WHERE proposal_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(i.and_then(|i| u64::try_from(i).ok()))
}

/// Up to `limit` stored proposals whose `propose` index is below `before` and that
/// pass `filter`, newest first, with their indexes.
pub(crate) fn page(
    conn: &Connection,
    before: u64,
    filter: &ProposalFilter,
    limit: u64,
) -> rusqlite::Result<Result<Vec<(u64, Proposal)>, BadRow>> {
    let mut st = conn.prepare_cached(
        "SELECT idx, proposal FROM proposals
         WHERE idx < ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR contract_id = ?3)
           AND (?4 IS NULL OR clause_id = ?4) AND (?5 IS NULL OR author = ?5)
           AND (?6 IS NULL OR created_ms >= ?6) AND (?7 IS NULL OR created_ms < ?7)
         ORDER BY idx DESC LIMIT ?8",
    )?;
    let rows = st
        .query_map(
            params![
                to_i64(before),
                filter.status.map(status_name),
                filter.contract,
                filter.clause,
                filter.author,
                filter.since_ms,
                filter.until_ms,
                to_i64(limit),
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .map(|(i, bytes)| Ok((u64::try_from(i).unwrap_or(0), decode_proposal(i, &bytes)?)))
        .collect())
}

/// Number of stored proposals.
pub(crate) fn count(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM proposals", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
