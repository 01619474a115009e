//! The read endpoints of the HTTP API (`/v1/...`, contract in notes/api.md): the
//! ledger's state, Merkle proofs, the signed checkpoint, schemas and the OpenAPI
//! document; entry submission (`POST /v1/entries`); and the close loop's step
//! ([`close_due`]). Operator endpoints are in crate::operator.

use crate::council::Council;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::gossip::Gossip;
use crate::order::{Committed, now};
use crate::page::{Page, TimeRange};
use crate::route_table::route_table;
use crate::seal::{PulledHead, Seals};
use crate::shared::Shared;
use crate::wire;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::cosign::witness_node_id;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::LogRecord;
use govmesh_core::entry::{CloseOp, EnactOp, Operation};
use govmesh_core::model::{
    Contract, Domain, Equivocation, NodeRecord, NodeStatus, NodeType, Proposal, Vote, VotingPolicy,
    VotingTrack,
};
use govmesh_core::sync::SyncRecord;
use govmesh_core::sync::sync_records_by;
use govmesh_core::topology::{
    connection_key, derived_topology_id, topology_connections, topology_record,
};
use govmesh_core::{diff, schema};
use govmesh_store::{EquivocationFilter, ProposalFilter};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most log records one `/v1/log/entries` page returns.
pub const MAX_PAGE: u64 = govmesh_store::MAX_PAGE;

/// The OpenAPI 3.1 document served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// What the read endpoints hold: the shared parts, and gossip (the live part of the
/// topology record) where it runs.
#[derive(Clone)]
struct Reads {
    shared: Shared,
    gossip: Option<Arc<Gossip>>,
    /// For `/v1/status`'s seal distribution and consensus service.
    seals: Seals,
    pulled: Option<PulledHead>,
    council: Option<Arc<Council>>,
}

impl FromRef<Reads> for Shared {
    fn from_ref(r: &Reads) -> Shared {
        r.shared.clone()
    }
}

route_table!(Reads {
    GET "/v1/status" => status,
    GET "/v1/contracts" => contracts,
    GET "/v1/contracts/{id}" => contract,
    GET "/v1/contracts/{id}/revisions" => revisions,
    GET "/v1/contracts/{id}/revisions/{n}" => revision,
    GET "/v1/contracts/{id}/diff" => contract_diff,
    GET "/v1/contracts/{id}/clause-hashes" => clause_hashes,
    GET "/v1/overrides" => overrides,
    GET "/v1/proposals" => proposals,
    GET "/v1/proposals/{id}" => proposal,
    GET "/v1/domains" => domains,
    GET "/v1/domains/{id}" => domain,
    GET "/v1/nodes" => nodes,
    GET "/v1/nodes/{id}" => node,
    GET "/v1/topology" => topology_view,
    GET "/v1/topology/connections" => topology_connections_view,
    GET "/v1/equivocations" => equivocations,
    GET "/v1/delegations" => delegations,
    GET "/v1/sync" => sync_view,
    GET "/v1/log/checkpoint" => checkpoint,
    GET "/v1/log/entries" => log_entries,
    GET "/v1/log/proof/inclusion" => inclusion_proof,
    GET "/v1/log/proof/inclusions" => inclusion_proofs,
    GET "/v1/log/proof/consistency" => consistency_proof,
    GET "/v1/schemas" => schemas,
    GET "/v1/schemas/{name}" => schema_doc,
    GET "/v1/openapi.json" => openapi,
    POST "/v1/entries" => submit_entry,
});

/// The read endpoints and entry submission; `gossip` colours the topology record;
/// `seals`, `pulled` and `council` are what `/v1/status` reports of the seal
/// distribution and the consensus service.
pub fn routes(
    shared: Shared,
    gossip: Option<Arc<Gossip>>,
    seals: Seals,
    pulled: Option<PulledHead>,
    council: Option<Arc<Council>>,
) -> Router {
    table().with_state(Reads {
        shared,
        gossip,
        seals,
        pulled,
        council,
    })
}

pub(crate) type ApiResult<T = Json<Value>> = Result<T, ApiError>;

pub(crate) fn to_json<T: Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

/// `GET /v1/status`: who this node is, the log's size and root, the contract heads.
pub(crate) async fn status_view(app: &Shared) -> Value {
    let l = app.ledger().lock().await;
    let st = l.state();
    let mut heads = Map::new();
    for c in st.contracts() {
        heads.insert(
            c.contract_id.clone(),
            json!({"revision": c.revision, "contract_hash": c.contract_hash}),
        );
    }
    let info = app.info();
    json!({
        "node_id": info.node_id,
        "node_type": info.node_type,
        "mesh_id": st.mesh_id(),
        "mesh_name": st.mesh_name(),
        "log_size": l.tree().size(),
        "root": l.tree().root(),
        "contract_heads": heads,
        "url": app.url(),
        "version": env!("CARGO_PKG_VERSION"),
        "replay_detection": replay_detection_view(st),
    })
}

/// Clause 5.4 `replay_window_secs` in force and how many entry hashes replay detection
/// remembers (core `state/replay.rs`): those kept from before a window was in force,
/// and those within it.
fn replay_detection_view(st: &govmesh_core::state::State) -> Value {
    let (legacy, window) = st.remembered_entries();
    json!({
        "replay_window_secs": st.replay_window_secs(),
        "remembered_before_window": legacy,
        "remembered_in_window": window,
    })
}

async fn status(State(r): State<Reads>) -> ApiResult {
    let mut v = status_view(&r.shared).await;
    v["integration_points"] = integration_points_view(
        &r.shared,
        r.gossip.as_deref(),
        &r.seals,
        r.pulled.as_ref(),
        r.council.as_deref(),
    )
    .await?;
    Ok(Json(v))
}

/// The seed's five integration points of the governance mesh (Phase 5.5 with the
/// Phase 5.4 verification network), as this node sees them: the verification node
/// manager (the registry and each node's health), the consensus service (the Raft
/// council), the network topology manager, the seal distribution service and the
/// trust aggregation service.
pub(crate) async fn integration_points_view(
    app: &Shared,
    gossip: Option<&Gossip>,
    seals: &Seals,
    pulled: Option<&PulledHead>,
    council: Option<&Council>,
) -> ApiResult<Value> {
    let topology = topology_record_view(app, gossip).await?;
    let (log_size, hubs, trust) = {
        let l = app.ledger().lock().await;
        let st = l.state();
        let hubs: Vec<String> = st
            .nodes()
            .into_iter()
            .filter(|n| n.node_type == NodeType::GovernanceHub && n.status == NodeStatus::Active)
            .map(|n| n.node_id.clone())
            .collect();
        let t = govmesh_core::trust_view::summary(st);
        (l.tree().size(), hubs, t)
    };
    // Verification node manager: the registry with each node's health.
    let nodes: Vec<Value> = topology["nodes"]
        .as_array()
        .map(|ns| {
            ns.iter()
                .map(|n| {
                    json!({
                        "node_id": n["node_id"],
                        "node_type": n["node_type"],
                        "status": n["status"],
                        "liveness": n["liveness"],
                        "last_seen": n.get("last_seen"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut by_status = Map::new();
    for n in &nodes {
        let k = n["status"].as_str().unwrap_or("unknown").to_owned();
        let c = by_status.get(&k).and_then(Value::as_u64).unwrap_or(0);
        by_status.insert(k, json!(c + 1));
    }
    // Consensus service: the council as this hub runs it, or the registry's hubs as
    // a non-hub knows them (it follows the council's log by replication).
    let consensus = match council {
        Some(c) => {
            let v = c.view();
            json!({
                "council_members": v["members"],
                "leader": v["leader"],
                "term": v["term"],
                "state": v["state"],
                "commit_index": v["last_applied_index"],
                "last_log_index": v["last_log_index"],
            })
        }
        None => json!({
            "council_members": hubs,
            "leader": null,
            "term": null,
            "state": "not a council member (follows the council's log by replication)",
            "commit_index": log_size.checked_sub(1),
        }),
    };
    // Seal distribution: the latest seal this node holds, its cosigners, and the
    // nodes that hold the log it covers (by the log size each gossips).
    let seal = match crate::seal::latest_seal_text(seals, pulled).await? {
        None => Value::Null,
        Some(text) => {
            let note = SignedNote::parse(&text).map_err(ApiError::internal)?;
            let cp = Checkpoint::parse_body(&note.body).map_err(ApiError::internal)?;
            let cosigners: Vec<&str> = note
                .signatures
                .iter()
                .filter_map(|s| witness_node_id(&s.name))
                .collect();
            let mut held_by: Vec<String> = gossip
                .map(|g| g.reported_log_sizes())
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, size)| *size >= cp.size)
                .map(|(id, _)| id)
                .collect();
            if log_size >= cp.size && !held_by.contains(&app.info().node_id) {
                held_by.push(app.info().node_id.clone());
            }
            held_by.sort();
            json!({
                "size": cp.size,
                "root": cp.root.to_hex(),
                "cosigners": cosigners,
                "held_by": held_by,
            })
        }
    };
    let h = &topology["health_status"];
    let summary = &topology["connections_summary"];
    let declared = summary["declared"].as_u64().unwrap_or(0);
    let connections = declared + summary["observed"].as_u64().unwrap_or(0);
    Ok(json!({
        "verification_node_manager": {
            "registered_nodes": nodes.len(),
            "by_status": by_status,
            "nodes": nodes,
        },
        "consensus_service": consensus,
        "network_topology_manager": {
            "topology_id": topology["topology_id"],
            "topology_hash": topology["topology_hash"],
            "overall_status": h["overall_status"],
            "health_score": h["health_score"],
            "node_counts": h["node_counts"],
            "connections": connections,
            "declared_connections": declared,
        },
        "seal_distribution_service": {
            "latest_seal": seal,
            "held_by_basis": "the node's own log, and the log size each peer gossips",
        },
        "trust_aggregation_service": {
            "last_computation": to_json(&trust.last_computation)?,
            "observations": trust.observations,
            "pending_observations": trust.pending_observations,
            "distribution": to_json(&trust.distribution)?,
            "top": to_json(&trust.scores.iter().take(5).collect::<Vec<_>>())?,
        },
    }))
}

/// The hash of each clause of a revision (the current one, or `?revision=N`): what a
/// proposal names as its `base_clause_hash`, derived from the record and served beside
/// it.
async fn clause_hashes(
    State(app): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<wire::RevisionQuery>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let st = l.state();
    let current = st.contract(&id).ok_or_else(|| no_contract(&id))?;
    let c = match q.revision {
        None => current,
        Some(n) => st.revision(&id, n).ok_or_else(|| {
            ApiError::not_found(format!(
                "contract {id:?} has revisions 1 to {}, not {n}",
                current.revision
            ))
        })?,
    };
    let mut hashes = Map::new();
    for cl in &c.clauses {
        let h = cl.hash().map_err(ApiError::internal)?;
        hashes.insert(cl.clause_id.clone(), Value::String(h.to_hex()));
    }
    Ok(Json(json!({
        "contract_id": c.contract_id,
        "revision": c.revision,
        "contract_hash": c.contract_hash,
        "clause_hashes": hashes,
    })))
}

fn no_contract(id: &str) -> ApiError {
    ApiError::not_found(format!("no contract {id:?}"))
}

/// `GET /v1/contracts`: every contract at its current revision.
pub(crate) async fn contracts_view(app: &Shared) -> Vec<Contract> {
    let l = app.ledger().lock().await;
    l.state().contracts().into_iter().cloned().collect()
}

async fn contracts(State(app): State<Shared>, ApiQuery(q): ApiQuery<wire::PageQuery>) -> ApiResult {
    let page = Page::new("/v1/contracts", q.limit, q.cursor.as_deref())?;
    let p = page.take(
        contracts_view(&app).await,
        |c| c.contract_id.clone(),
        |_| true,
    )?;
    Ok(Json(
        json!({"contracts": to_json(&p.items)?, "next_cursor": p.next_cursor}),
    ))
}

/// The current revision as it hashes; with `?node=NODE_ID`, the effective contract for
/// that node instead: each clause a local override replaces for it is replaced and
/// carries `override` (the proposal, scope, and any conflict with a later federated
/// change). The effective view is derived, so it is not the hashed record.
async fn contract(
    State(app): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<wire::EffectiveQuery>,
) -> ApiResult {
    match q.node {
        Some(node_id) => Ok(Json(effective_view(&app, &id, &node_id).await?)),
        None => {
            let l = app.ledger().lock().await;
            let c = l.state().contract(&id).ok_or_else(|| no_contract(&id))?;
            Ok(Json(to_json(c)?))
        }
    }
}

/// `GET /v1/contracts/{id}?node=NODE_ID`: the current revision as it applies to the
/// node, each clause a local override replaces carrying `override`.
pub(crate) async fn effective_view(app: &Shared, id: &str, node_id: &str) -> ApiResult<Value> {
    let l = app.ledger().lock().await;
    let st = l.state();
    let c = st.contract(id).ok_or_else(|| no_contract(id))?;
    if st.node(node_id).is_none() {
        return Err(ApiError::not_found(format!("no node {node_id:?}")));
    }
    let clauses: Vec<Value> = st
        .effective_clauses(c, node_id)
        .into_iter()
        .map(|(cl, o)| {
            let mut v = to_json(&cl)?;
            if let Some(o) = o {
                v["override"] = json!({
                    "proposal_id": o.proposal_id,
                    "scope": o.scope,
                    "domain_id": o.domain_id,
                    "node_id": o.node_id,
                    "base_revision": o.base_revision,
                    "adopted_at": o.adopted_at,
                    "conflict": o.conflict,
                });
            }
            Ok(v)
        })
        .collect::<ApiResult<_>>()?;
    Ok(json!({
        "contract_id": c.contract_id,
        "label": c.label,
        "revision": c.revision,
        "contract_hash": c.contract_hash,
        "domain_id": c.domain_id,
        "parent_hash": c.parent_hash,
        "adopted_by_proposal": c.adopted_by_proposal,
        "adopted_at": c.adopted_at,
        "effective_for": node_id,
        "overridden": clauses.iter().filter(|c| c.get("override").is_some()).count(),
        "clauses": clauses,
    }))
}

/// Every local override (isolated and local proposals), with its conflict if a
/// federated change was adopted over it.
async fn overrides(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::OverrideList>,
) -> ApiResult {
    let page = Page::new("/v1/overrides", q.limit, q.cursor.as_deref())?;
    let l = app.ledger().lock().await;
    // An override is known by what it overrides: its clause and whom it applies to.
    let key = |o: &&govmesh_core::model::LocalOverride| {
        format!(
            "{}\n{}\n{}\n{}",
            o.contract_id,
            o.clause_id,
            o.domain_id.as_deref().unwrap_or(""),
            o.node_id.as_deref().unwrap_or("")
        )
    };
    let p = page.take(l.state().overrides(), key, |o| {
        q.contract.as_deref().is_none_or(|c| o.contract_id == c)
            && q.clause.as_deref().is_none_or(|c| o.clause_id == c)
    })?;
    Ok(Json(
        json!({"overrides": to_json(&p.items)?, "next_cursor": p.next_cursor}),
    ))
}

/// One line of a contract's hash chain (`GET /v1/contracts/{id}/revisions`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RevisionLink {
    pub revision: u64,
    pub contract_hash: govmesh_core::Digest,
    pub parent_hash: Option<govmesh_core::Digest>,
    pub adopted_by_proposal: Option<String>,
    pub adopted_at: govmesh_core::Timestamp,
}

/// `GET /v1/contracts/{id}/revisions`: the hash chain, oldest first.
pub(crate) async fn revisions_view(app: &Shared, id: &str) -> ApiResult<Vec<RevisionLink>> {
    let l = app.ledger().lock().await;
    let st = l.state();
    if st.contract(id).is_none() {
        return Err(no_contract(id));
    }
    Ok(st
        .revisions(id)
        .iter()
        .map(|c| RevisionLink {
            revision: c.revision,
            contract_hash: c.contract_hash,
            parent_hash: c.parent_hash,
            adopted_by_proposal: c.adopted_by_proposal.clone(),
            adopted_at: c.adopted_at,
        })
        .collect())
}

async fn revisions(
    State(app): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<wire::PageQuery>,
) -> ApiResult {
    let page = Page::new("/v1/contracts/{id}/revisions", q.limit, q.cursor.as_deref())?;
    let list = revisions_view(&app, &id).await?;
    let p = page.take(list, |r| r.revision.to_string(), |_| true)?;
    Ok(Json(
        json!({"revisions": to_json(&p.items)?, "next_cursor": p.next_cursor}),
    ))
}

/// `GET /v1/contracts/{id}/revisions/{n}` (the current one without `n`).
pub(crate) async fn revision_view(app: &Shared, id: &str, n: Option<u64>) -> ApiResult<Contract> {
    let l = app.ledger().lock().await;
    let st = l.state();
    let current = st.contract(id).ok_or_else(|| no_contract(id))?;
    let n = n.unwrap_or(current.revision);
    st.revision(id, n).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "contract {id:?} has revisions 1 to {}, not {n}",
            current.revision
        ))
    })
}

async fn revision(
    State(app): State<Shared>,
    ApiPath((id, n)): ApiPath<(String, u64)>,
) -> ApiResult {
    let c = revision_view(&app, &id, Some(n)).await?;
    Ok(Json(to_json(&c)?))
}

/// `GET /v1/contracts/{id}/diff?from&to`: clause by clause (defaults: the last change).
pub(crate) async fn diff_view(
    app: &Shared,
    id: &str,
    q: &wire::DiffQuery,
) -> ApiResult<diff::ContractDiff> {
    let l = app.ledger().lock().await;
    let st = l.state();
    let current = st.contract(id).ok_or_else(|| no_contract(id))?;
    let to = q.to.unwrap_or(current.revision);
    let from = q.from.unwrap_or(to.saturating_sub(1).max(1));
    let get = |n: u64| {
        st.revision(id, n).ok_or_else(|| {
            ApiError::not_found(format!(
                "contract {id:?} has revisions 1 to {}, not {n}",
                current.revision
            ))
        })
    };
    Ok(diff::contract_diff(get(from)?, get(to)?))
}

async fn contract_diff(
    State(app): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<wire::DiffQuery>,
) -> ApiResult {
    Ok(Json(to_json(&diff_view(&app, &id, &q).await?)?))
}

/// The proposals with `status` (all without), newest first: the live ones from the
/// state and the closed ones from the ledger's history table.
pub(crate) async fn proposals_view(
    app: &Shared,
    q: &wire::ProposalsQuery,
) -> ApiResult<Vec<Proposal>> {
    let l = app.ledger().lock().await;
    l.proposals(&ProposalFilter {
        status: q.status,
        ..ProposalFilter::default()
    })
    .map_err(ApiError::internal)
}

/// `GET /v1/proposals`: a page of proposals, newest first, filtered by status,
/// contract, clause, author and creation time. Live proposals come from the state,
/// closed ones from the ledger's history table, filtered there in SQL
/// (`Ledger::proposals_page`).
async fn proposals(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::ProposalList>,
) -> ApiResult {
    let page = Page::new("/v1/proposals", q.limit, q.cursor.as_deref())?;
    let range = TimeRange::new(q.since, q.until)?;
    let filter = ProposalFilter {
        status: q.status,
        contract: q.contract,
        clause: q.clause,
        author: q.author,
        since_ms: range.since.map(|t| t.millis()),
        until_ms: range.until.map(|t| t.millis()),
    };
    let l = app.ledger().lock().await;
    let got = l
        .proposals_page(page.after.as_deref(), &filter, page.limit)
        .map_err(ApiError::internal)?
        .ok_or_else(|| page.unknown_cursor())?;
    drop(l);
    let next_cursor = match (got.more, got.items.last()) {
        (true, Some(last)) => Some(page.cursor_after(&last.proposal_id)),
        _ => None,
    };
    Ok(Json(
        json!({"proposals": to_json(&got.items)?, "next_cursor": next_cursor}),
    ))
}

/// `GET /v1/proposals/{id}`: the proposal, its counted votes, equivocation evidence
/// and the voting policy it is tallied under.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ProposalView {
    #[serde(flatten)]
    pub proposal: Proposal,
    pub votes: Vec<Vote>,
    pub equivocations: Vec<Equivocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voting_policy: Option<VotingPolicy>,
    /// `normal` or `expedited`: the track it is voted on now.
    pub track: VotingTrack,
    /// Votes their voters replaced with a later one (vote changes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded_votes: Vec<Vote>,
    /// The delegations it is tallied with (delegator -> delegate, frozen at opening).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub delegations: BTreeMap<String, String>,
}

/// A live proposal from the state, a closed one from the ledger's history table
/// (where it was stored as the state held it).
pub(crate) async fn proposal_view(app: &Shared, id: &str) -> ApiResult<ProposalView> {
    let l = app.ledger().lock().await;
    let r = l
        .proposal_record(id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no proposal {id:?}")))?;
    let on = EquivocationFilter {
        proposal: Some(id.to_owned()),
        voter: None,
    };
    let equivocations = l
        .store()
        .equivocations(None, &on, u64::MAX)
        .map_err(ApiError::internal)?;
    drop(l);
    Ok(ProposalView {
        track: r.proposal.track(),
        proposal: r.proposal,
        votes: r.votes,
        equivocations,
        voting_policy: Some(r.voting_policy),
        superseded_votes: r.superseded_votes,
        delegations: r.delegations,
    })
}

/// The log index of the entry that made `p` (its `propose` entry, the first of its
/// `attestation_hashes`): the first record stamped at `created_at` (the log's
/// timestamps never go back, so a binary search finds it), then the record among
/// those of that same stamp whose entry hash it is. None if the log does not hold it.
pub(crate) async fn propose_entry_index(
    app: &Shared,
    p: &govmesh_core::model::Proposal,
) -> ApiResult<Option<u64>> {
    let Some(want) = p.attestation_hashes.first() else {
        return Ok(None);
    };
    let at = p.created_at.millis();
    let l = app.ledger().lock().await;
    let store = l.store();
    let stamp = |i: u64| -> ApiResult<Option<(i64, govmesh_core::digest::Digest)>> {
        Ok(store
            .record(i)
            .map_err(ApiError::internal)?
            .map(|r| (r.timestamp_ms, r.entry_hash)))
    };
    let (mut lo, mut hi) = (0, l.size());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match stamp(mid)? {
            Some((t, _)) if t < at => lo = mid + 1,
            _ => hi = mid,
        }
    }
    // Entries committed together share a stamp; a group is a batch, not the log.
    let end = l.size().min(lo.saturating_add(MAX_PAGE));
    for i in lo..end {
        match stamp(i)? {
            Some((t, h)) if t == at => {
                if &h == want {
                    return Ok(Some(i));
                }
            }
            _ => break,
        }
    }
    Ok(None)
}

async fn proposal(State(app): State<Shared>, ApiPath(id): ApiPath<String>) -> ApiResult {
    Ok(Json(to_json(&proposal_view(&app, &id).await?)?))
}

/// `GET /v1/domains`.
pub(crate) async fn domains_view(app: &Shared) -> Vec<Domain> {
    let l = app.ledger().lock().await;
    l.state().domains().into_iter().cloned().collect()
}

async fn domains(State(app): State<Shared>, ApiQuery(q): ApiQuery<wire::PageQuery>) -> ApiResult {
    let page = Page::new("/v1/domains", q.limit, q.cursor.as_deref())?;
    let p = page.take(domains_view(&app).await, |d| d.domain_id.clone(), |_| true)?;
    Ok(Json(
        json!({"domains": to_json(&p.items)?, "next_cursor": p.next_cursor}),
    ))
}

/// `GET /v1/domains/{id}`.
pub(crate) async fn domain_view(app: &Shared, id: &str) -> ApiResult<Domain> {
    let l = app.ledger().lock().await;
    l.state()
        .domain(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no domain {id:?}")))
}

async fn domain(State(app): State<Shared>, ApiPath(id): ApiPath<String>) -> ApiResult {
    Ok(Json(to_json(&domain_view(&app, &id).await?)?))
}

/// `GET /v1/nodes`: the registry.
pub(crate) async fn nodes_view(app: &Shared) -> Vec<NodeRecord> {
    let l = app.ledger().lock().await;
    l.state().nodes().into_iter().cloned().collect()
}

/// `GET /v1/nodes`: a page of the registry by node id, filtered by type and status.
async fn nodes(State(app): State<Shared>, ApiQuery(q): ApiQuery<wire::NodeList>) -> ApiResult {
    let page = Page::new("/v1/nodes", q.limit, q.cursor.as_deref())?;
    let l = app.ledger().lock().await;
    let p = page.take(
        l.state().nodes(),
        |n| n.node_id.clone(),
        |n| q.node_type.is_none_or(|t| n.node_type == t) && q.status.is_none_or(|s| n.status == s),
    )?;
    Ok(Json(
        json!({"nodes": to_json(&p.items)?, "next_cursor": p.next_cursor}),
    ))
}

/// `GET /v1/nodes/{id}`.
pub(crate) async fn node_view(app: &Shared, id: &str) -> ApiResult<NodeRecord> {
    let l = app.ledger().lock().await;
    l.state()
        .node(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no node {id:?}")))
}

async fn node(State(app): State<Shared>, ApiPath(id): ApiPath<String>) -> ApiResult {
    Ok(Json(to_json(&node_view(&app, &id).await?)?))
}

/// The seed topology record: the registry from the log plus what gossip sees live
/// (without gossip, the only live observation is this node itself and every other
/// node is judged by its registry status).
pub(crate) async fn topology_record_view(
    app: &Shared,
    gossip: Option<&Gossip>,
) -> ApiResult<Value> {
    let l = app.ledger().lock().await;
    let st = l.state();
    let at = now();
    let mesh_id = st
        .mesh_id()
        .ok_or_else(|| ApiError::internal("the ledger has no genesis"))?;
    let live = crate::gossip::topology_live(gossip, app.info(), at);
    let id = derived_topology_id(&mesh_id, l.tree().size(), at);
    Ok(topology_record(st, &id, at, &live))
}

async fn topology_view(State(reads): State<Reads>) -> ApiResult {
    Ok(Json(
        topology_record_view(&reads.shared, reads.gossip.as_deref()).await?,
    ))
}

/// Every connection of the topology (declared ones, then those gossip observes), in
/// the order of [`connection_key`]: the list the record carries a bounded part of.
pub(crate) async fn connections_view(app: &Shared, gossip: Option<&Gossip>) -> Vec<Value> {
    let l = app.ledger().lock().await;
    let live = crate::gossip::topology_live(gossip, app.info(), now());
    topology_connections(l.state(), &live)
}

/// `GET /v1/topology/connections`: a page of every connection, filtered by `declared`
/// and `node` (either end). Connections come and go with gossip, so a page starts
/// after the cursor's key whether or not that connection is still observed.
async fn topology_connections_view(
    State(reads): State<Reads>,
    ApiQuery(q): ApiQuery<wire::ConnectionList>,
) -> ApiResult {
    let page = Page::new("/v1/topology/connections", q.limit, q.cursor.as_deref())?;
    let all = connections_view(&reads.shared, reads.gossip.as_deref()).await;
    let p = page.take_ordered(all, connection_key, |c| {
        q.declared.is_none_or(|d| c["declared"] == json!(d))
            && q.node
                .as_deref()
                .is_none_or(|n| c["source_node_id"] == json!(n) || c["target_node_id"] == json!(n))
    });
    Ok(Json(json!({
        "connections": p.items,
        "next_cursor": p.next_cursor,
    })))
}

/// Contract sync records (seed contract-sync schema), one per contract revision,
/// from the `ack_sync` entries in the log (the ledger's `acks` table) and the clause
/// 5.4 deadline.
pub(crate) async fn sync_records_view(app: &Shared) -> ApiResult<Vec<SyncRecord>> {
    let l = app.ledger().lock().await;
    let store = l.store();
    let mut failed = None;
    let records = sync_records_by(l.state(), now(), |contract, revision| {
        match store.acks_of(contract, revision) {
            Ok(acks) => Some(acks.into_iter().map(|(n, a)| (n, a.timestamp)).collect()),
            Err(e) => {
                failed.get_or_insert(e);
                None
            }
        }
    });
    match failed {
        Some(e) => Err(ApiError::internal(e)),
        None => Ok(records),
    }
}

/// `GET /v1/sync`: a page of sync records by contract and revision, filtered by
/// contract and status.
async fn sync_view(State(app): State<Shared>, ApiQuery(q): ApiQuery<wire::SyncList>) -> ApiResult {
    let page = Page::new("/v1/sync", q.limit, q.cursor.as_deref())?;
    let p = page.take(
        sync_records_view(&app).await?,
        |r| format!("{}\n{}", r.contract_id, r.revision),
        |r| {
            q.contract.as_deref().is_none_or(|c| r.contract_id == c)
                && q.status.is_none_or(|s| r.status == s)
        },
    )?;
    Ok(Json(
        json!({"sync_records": to_json(&p.items)?, "next_cursor": p.next_cursor}),
    ))
}

/// Where a page of `/v1/equivocations` starts.
enum EvidenceFrom {
    Start,
    /// After the vote equivocation whose second entry has this index.
    Vote(u64),
    /// After the checkpoint fork at this position (0-based, log order).
    Fork(u64),
}

/// A cursor key's number, only as written by this list (`7`, not `07`).
fn key_number(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().filter(|n| n.to_string() == s)
}

/// `GET /v1/equivocations`: one page over the vote equivocations (log order) and then
/// the checkpoint forks (log order), split into the two lists the answer always had,
/// read from the ledger's history tables. Cursor keys: `vote` and the second vote's
/// index (unique: one equivocation per entry), or `fork` and the fork's position.
async fn equivocations(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::EvidenceList>,
) -> ApiResult {
    let page = Page::new("/v1/equivocations", q.limit, q.cursor.as_deref())?;
    let l = app.ledger().lock().await;
    let store = l.store();
    let fork_count = store
        .history_count(govmesh_store::HistoryTable::CheckpointForks)
        .map_err(ApiError::internal)?;
    let from = match page.after.as_deref().map(|k| k.split_once('\n')) {
        None => EvidenceFrom::Start,
        Some(Some(("vote", i))) => match key_number(i) {
            Some(i) if store.has_equivocation(i).map_err(ApiError::internal)? => {
                EvidenceFrom::Vote(i)
            }
            _ => return Err(page.unknown_cursor()),
        },
        Some(Some(("fork", i))) => match key_number(i) {
            Some(i) if i < fork_count => EvidenceFrom::Fork(i),
            _ => return Err(page.unknown_cursor()),
        },
        Some(_) => return Err(page.unknown_cursor()),
    };
    let voteish = q.proposal.is_some() || q.author.is_some();
    let want = page.limit as u64 + 1;
    let filter = EquivocationFilter {
        proposal: q.proposal.clone(),
        voter: q.author.clone(),
    };
    let mut votes = match from {
        EvidenceFrom::Start => store.equivocations(None, &filter, want),
        EvidenceFrom::Vote(i) => store.equivocations(Some(i), &filter, want),
        EvidenceFrom::Fork(_) => Ok(Vec::new()),
    }
    .map_err(ApiError::internal)?;
    let skip = match from {
        EvidenceFrom::Fork(i) => i + 1,
        _ => 0,
    };
    let mut forks = if voteish || votes.len() as u64 >= want {
        Vec::new()
    } else {
        store
            .checkpoint_forks(skip, want - votes.len() as u64)
            .map_err(ApiError::internal)?
    };
    let more = votes.len() + forks.len() > page.limit;
    votes.truncate(page.limit);
    forks.truncate(page.limit - votes.len());
    let next_cursor = match (more, forks.len(), votes.last()) {
        (false, ..) => None,
        (true, 0, Some(v)) => Some(page.cursor_after(&format!("vote\n{}", v.second_index))),
        (true, n, _) if n > 0 => Some(page.cursor_after(&format!("fork\n{}", skip + n as u64 - 1))),
        _ => None,
    };
    Ok(Json(json!({
        "equivocations": to_json(&votes)?,
        "checkpoint_forks": to_json(&forks)?,
        "next_cursor": next_cursor,
    })))
}

/// `GET /v1/delegations`: standing delegations, domain id -> delegator -> delegate
/// (a proposal reads them when it opens).
async fn delegations(State(app): State<Shared>) -> ApiResult {
    let l = app.ledger().lock().await;
    Ok(Json(
        json!({"delegations": to_json(l.state().all_delegations())?}),
    ))
}

async fn checkpoint(State(app): State<Shared>) -> Response {
    let note = app.signed_checkpoint().await;
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note.to_text(),
    )
        .into_response()
}

/// Most rows one filtered `/v1/log/entries` page examines: a filter that matches rarely
/// answers with fewer items (even none) and a `next_cursor`, never with a long scan.
pub const ENTRIES_SCAN: u64 = 10_000;

/// A page of log records.
pub(crate) struct EntriesPage {
    pub records: Vec<LogRecord>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/log/entries?start&end`: at most [`MAX_PAGE`] records (none past the end);
/// with `cursor` the page after the one that gave it, with `kind`, `author`, `since`
/// and `until` only the matching records.
pub(crate) async fn entries_view(app: &Shared, q: &wire::EntriesQuery) -> ApiResult<EntriesPage> {
    let page = Page::with_default(
        "/v1/log/entries",
        MAX_PAGE as usize,
        q.limit,
        q.cursor.as_deref(),
    )?;
    let range = TimeRange::new(q.since, q.until)?;
    let mut start = q.start;
    if let Some(after) = &page.after {
        start = after.parse().map_err(|_| {
            ApiError::bad_request("bad_cursor", "cursor is not a cursor of /v1/log/entries")
        })?;
    }
    let l = app.ledger().lock().await;
    let size = l.tree().size();
    if let Some(end) = q.end
        && end < q.start
    {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("end ({end}) is before start ({})", q.start),
        ));
    }
    let mut end = q.end.unwrap_or(size).min(size);
    if let Some(since) = range.since {
        start = start.max(l.first_index_at(since).map_err(ApiError::internal)?);
    }
    if let Some(until) = range.until {
        end = end.min(l.first_index_at(until).map_err(ApiError::internal)?);
    }
    if start >= end {
        return Ok(EntriesPage {
            records: Vec::new(),
            next_cursor: None,
        });
    }
    let filter = govmesh_store::RecordFilter {
        kind: q.kind.clone(),
        author: q.author.clone(),
    };
    let (records, next) = if filter == govmesh_store::RecordFilter::default() {
        // Every record is an item: read them as replication does (missing rows are
        // corruption, not an empty page).
        let stop = end.min(start + page.limit as u64);
        let records = l.records(start, stop).map_err(ApiError::internal)?;
        (records, stop)
    } else {
        l.find_records(start, end, &filter, page.limit as u64, ENTRIES_SCAN)
            .map_err(ApiError::internal)?
    };
    let next_cursor = (next < end).then(|| page.cursor_after(&next.to_string()));
    Ok(EntriesPage {
        records,
        next_cursor,
    })
}

async fn log_entries(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::EntriesQuery>,
) -> ApiResult {
    let p = entries_view(&app, &q).await?;
    Ok(Json(
        json!({"entries": to_json(&p.records)?, "next_cursor": p.next_cursor}),
    ))
}

fn proof_error(e: govmesh_core::merkle::ProofError) -> ApiError {
    ApiError::bad_request("out_of_range", e.to_string())
}

async fn inclusion_proof(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::InclusionQuery>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let tree = l.tree();
    let size = q.size.unwrap_or(tree.size());
    let proof = tree.inclusion_proof(q.index, size).map_err(proof_error)?;
    let p = wire::InclusionProof {
        index: q.index,
        size,
        leaf_hash: tree
            .leaf(q.index)
            .ok_or_else(|| ApiError::bad_request("out_of_range", format!("no leaf {}", q.index)))?,
        root: tree.root_at(size).map_err(proof_error)?,
        proof,
    };
    Ok(Json(to_json(&p)?))
}

/// `GET /v1/log/proof/inclusions?start&end&size`: the inclusion proof of each leaf
/// `start..end` (at most [`MAX_PAGE`]) in the tree of `size` (default: the current
/// size): what a page of entries is checked with in one request.
async fn inclusion_proofs(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::InclusionsQuery>,
) -> ApiResult {
    if q.end <= q.start || q.end - q.start > MAX_PAGE {
        return Err(ApiError::bad_request(
            "bad_query",
            format!(
                "start..end must hold 1 to {MAX_PAGE} leaves, not {}..{}",
                q.start, q.end
            ),
        ));
    }
    let l = app.ledger().lock().await;
    let tree = l.tree();
    let size = q.size.unwrap_or(tree.size());
    if q.end > size {
        return Err(ApiError::bad_request(
            "out_of_range",
            format!("leaves up to {} are not all in a tree of {size}", q.end),
        ));
    }
    let root = tree.root_at(size).map_err(proof_error)?;
    let proofs = (q.start..q.end)
        .map(|index| {
            Ok(wire::LeafProof {
                index,
                leaf_hash: tree.leaf(index).ok_or_else(|| {
                    ApiError::bad_request("out_of_range", format!("no leaf {index}"))
                })?,
                proof: tree.inclusion_proof(index, size).map_err(proof_error)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(to_json(&wire::InclusionProofs {
        size,
        root,
        proofs,
    })?))
}

async fn consistency_proof(
    State(app): State<Shared>,
    ApiQuery(q): ApiQuery<wire::ConsistencyQuery>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let tree = l.tree();
    let to = q.to.unwrap_or(tree.size());
    let proof = tree.consistency_proof(q.from, to).map_err(proof_error)?;
    let p = wire::ConsistencyProof {
        from: q.from,
        to,
        from_root: tree.root_at(q.from).map_err(proof_error)?,
        to_root: tree.root_at(to).map_err(proof_error)?,
        proof,
    };
    Ok(Json(to_json(&p)?))
}

async fn schemas() -> ApiResult {
    let names: Vec<&str> = schema::documents().iter().map(|(n, _)| *n).collect();
    Ok(Json(json!({"schemas": names})))
}

async fn schema_doc(ApiPath(name): ApiPath<String>) -> ApiResult<Response> {
    let doc = schema::document(&name)
        .ok_or_else(|| ApiError::not_found(format!("no schema {name:?}")))?;
    Ok(([(header::CONTENT_TYPE, "application/schema+json")], doc).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}
pub(crate) fn created(c: &Committed, extra: Option<(&str, &str)>) -> ApiResult<Response> {
    let mut v = to_json(c)?;
    if let Some((k, id)) = extra {
        v[k] = Value::String(id.to_owned());
    }
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn submit_entry(
    State(app): State<Shared>,
    ApiJson(env): ApiJson<Envelope>,
) -> ApiResult<Response> {
    let c = app.submit(env).await?;
    tracing::info!(index = c.index, kind = %c.kind, author = %c.author, "entry appended");
    created(&c, None)
}

/// Signs and submits `close` for every proposal whose voting period ended by now, and
/// `enact` for every adopted proposal whose timelock ended; returns how many entries
/// were appended. A refused entry is logged as a warning once per proposal (`warned`
/// remembers which), then at debug level.
pub(crate) async fn close_due(
    app: &Shared,
    warned: &mut std::collections::HashSet<String>,
) -> usize {
    let due = {
        let l = app.ledger().lock().await;
        let t = now();
        let st = l.state();
        let closes = st.due_closes(t).into_iter().map(|id| {
            // An expedited proposal names the track, so that its second close (after
            // a fallback) is a different entry from its first.
            let track = st.proposal(&id).filter(|p| p.expedited).map(|p| p.track());
            let op = Operation::Close(CloseOp {
                proposal_id: id.clone(),
                track,
            });
            (id, op)
        });
        let enacts = l.state().due_enactments(t).into_iter().map(|id| {
            let op = Operation::Enact(EnactOp {
                proposal_id: id.clone(),
            });
            (id, op)
        });
        closes.chain(enacts).collect::<Vec<_>>()
    };
    let mut closed = 0;
    for (proposal_id, op) in due {
        match app.submit_own(op).await {
            Ok(c) => {
                closed += 1;
                tracing::info!(%proposal_id, index = c.index, kind = %c.kind, "voting period or timelock ended; entry appended");
            }
            Err(e) if warned.insert(proposal_id.clone()) => {
                tracing::warn!(%proposal_id, error = %e, "could not close proposal")
            }
            Err(e) => tracing::debug!(%proposal_id, error = %e, "could not close proposal"),
        }
    }
    closed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::NodeInfo;
    use crate::order::{SharedLedger, SingleHub};
    use govmesh_core::codex::codex_genesis;
    use govmesh_core::entry::{ProposeOp, sign_entry, sign_entry_at};
    use govmesh_core::keys::KeyPair;
    use govmesh_core::model::{Changes, NodeType, ProposalStatus};
    use govmesh_core::stamp::Timestamp;
    use govmesh_store::Ledger;
    use std::path::Path;
    use tokio::sync::Mutex;

    /// A ledger whose genesis and one proposal were stamped three hours ago, so the
    /// proposal's voting period (at most the policy's default) is long over.
    fn ledger_with_an_expired_proposal(dir: &Path) -> (Shared, String) {
        let key = KeyPair::from_seed([11; 32]);
        let spec = crate::test_util::hub_spec(&key);
        let mut ledger = Ledger::open(dir).unwrap();
        let t0 = Timestamp::from_millis(now().millis() - 3 * 3600 * 1000);
        let genesis = sign_entry(&key, Operation::Genesis(codex_genesis("m", vec![spec])));
        ledger.append(&genesis, t0).unwrap();
        let clause = ledger
            .state()
            .contract("codex")
            .unwrap()
            .clause("11.1")
            .unwrap()
            .clone();
        let proposal_id = uuid::Uuid::new_v4().to_string();
        let propose = sign_entry_at(
            &key,
            Operation::Propose(ProposeOp {
                proposal_id: proposal_id.clone(),
                contract_id: "codex".into(),
                target_contract_clause: "11.1".into(),
                base_clause_hash: clause.hash().unwrap(),
                domain_id: None,
                rationale: "r".into(),
                changes: Changes {
                    current_text: clause.text.clone(),
                    proposed_text: "t".into(),
                    diff: vec![],
                },
                voting_period_secs: Some(3600),
                create_contract: None,
                governance_scope: None,
                local_node: None,
                conflict_resolution: None,
                expedited: false,
                restore_rights: None,
            }),
            t0,
        );
        ledger.append(&propose, t0.plus_secs(1)).unwrap();
        let info = NodeInfo {
            node_id: key.node_id().to_owned(),
            node_type: NodeType::GovernanceHub,
            mesh_name: "m".into(),
            mesh_id: ledger.state().mesh_id().unwrap().to_hex(),
            public_key: key.public(),
            listen: None,
            dir: dir.to_owned(),
        };
        let ledger: SharedLedger = Arc::new(Mutex::new(ledger));
        let orderer = Arc::new(SingleHub::new(ledger.clone()));
        let app = Shared::new(info, key, "operator-token-xyz", ledger, orderer, None).unwrap();
        (app, proposal_id)
    }

    #[tokio::test]
    async fn expired_proposals_get_closed_once() {
        let d = tempfile::tempdir().unwrap();
        let (app, pid) = ledger_with_an_expired_proposal(d.path());
        let mut warned = std::collections::HashSet::new();
        assert_eq!(close_due(&app, &mut warned).await, 1);
        {
            let l = app.ledger().lock().await;
            // Closed: out of the state, in the history table.
            assert!(l.state().proposal(&pid).is_none());
            let p = l.proposal_record(&pid).unwrap().unwrap().proposal;
            assert_ne!(p.status, ProposalStatus::Voting, "{p:?}");
            assert_eq!(l.tree().size(), 3);
            let rec = l.record(2).unwrap().unwrap();
            // The close is stamped now, after the old records.
            assert!(rec.timestamp > l.record(1).unwrap().unwrap().timestamp);
        }
        // Nothing left to close.
        assert_eq!(close_due(&app, &mut warned).await, 0);
        assert!(warned.is_empty());
    }
}
