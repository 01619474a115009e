//! `GET /v1/attestations`: the hygiene attestations accepted into the log (`attest`
//! entries), in log order, a page at a time (`limit`, `cursor`, `next_cursor`), each with
//! its decoded in-toto Statement next to the DSSE envelope that can be checked with
//! in-toto tooling. Filters: `subject` (a digest value of any subject, e.g. a git
//! commit), `contract`, `revision`, `attester`, `since` and `until` (council time).

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::page::{Page, TimeRange};
use crate::route_table::route_table;
use crate::shared::Shared;
use axum::extract::State;
use axum::{Json, Router};
use govmesh_core::attestation::Attestation;
use govmesh_store::AttestationFilter;
use serde::Deserialize;
use serde_json::{Value, json};

route_table!(Shared {
    GET "/v1/attestations" => list,
});

/// `GET /v1/attestations`.
pub fn routes(shared: Shared) -> Router {
    table().with_state(shared)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationsQuery {
    /// A subject digest value (hex, any algorithm: gitCommit, gitTree, sha256...).
    #[serde(default)]
    pub subject: Option<String>,
    /// A contract id.
    #[serde(default)]
    pub contract: Option<String>,
    #[serde(default)]
    pub revision: Option<u64>,
    /// The attester's node id.
    #[serde(default)]
    pub attester: Option<String>,
    /// Accepted at or after (council time).
    #[serde(default)]
    pub since: Option<govmesh_core::Timestamp>,
    /// Accepted before.
    #[serde(default)]
    pub until: Option<govmesh_core::Timestamp>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
}

impl AttestationsQuery {
    fn check(&self) -> Result<(), ApiError> {
        if let Some(s) = &self.subject
            && (s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("subject {s:?} is not a hex digest (at most 128 hex digits)"),
            ));
        }
        Ok(())
    }

    /// The filters as the ledger's `attestations` table selects them (the same test
    /// as [`Attestation::has_subject_digest`] and the time range).
    fn filter(&self, range: &TimeRange) -> AttestationFilter {
        AttestationFilter {
            subject: self.subject.clone(),
            contract: self.contract.clone(),
            revision: self.revision,
            attester: self.attester.clone(),
            since_ms: range.since.map(|t| t.millis()),
            until_ms: range.until.map(|t| t.millis()),
        }
    }
}

/// One attestation as the API shows it: the record plus the decoded statement.
pub fn attestation_json(a: &Attestation) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(a).map_err(ApiError::internal)?;
    let statement: Value = a
        .envelope
        .payload_bytes()
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    v["statement"] = statement;
    Ok(v)
}

pub async fn list(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<AttestationsQuery>,
) -> Result<Json<Value>, ApiError> {
    q.check()?;
    let page = Page::new("/v1/attestations", q.limit, q.cursor.as_deref())?;
    let range = TimeRange::new(q.since, q.until)?;
    let filter = q.filter(&range);
    let l = app.ledger().lock().await;
    let store = l.store();
    // The cursor's key is the log index of the last attestation given out.
    let after = match page.after.as_deref() {
        None => None,
        Some(k) => match k.parse::<u64>().ok().filter(|i| i.to_string() == k) {
            Some(i) if store.has_attestation(i).map_err(ApiError::internal)? => Some(i),
            _ => return Err(page.unknown_cursor()),
        },
    };
    let total = store
        .attestation_count(&filter)
        .map_err(ApiError::internal)?;
    let mut items = store
        .attestations(after, &filter, page.limit as u64 + 1)
        .map_err(ApiError::internal)?;
    drop(l);
    let more = items.len() > page.limit;
    items.truncate(page.limit);
    let next_cursor = match (more, items.last()) {
        (true, Some(last)) => Some(page.cursor_after(&last.index.to_string())),
        _ => None,
    };
    let list = items
        .iter()
        .map(attestation_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        json!({"total": total, "attestations": list, "next_cursor": next_cursor}),
    ))
}
