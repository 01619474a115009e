//! The HTTP API (`/v1/...`, contract in notes/api.md): read endpoints over the ledger's
//! state, Merkle proofs and the signed checkpoint, entry submission, and the operator
//! endpoints that sign with this node's key. [`router`] builds it without a socket.

use crate::datadir::{NodeInfo, load, load_key, load_token};
use crate::error::{ApiError, NodeError};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Operator};
use crate::order::{Committed, LogNotify, Orderer, SharedLedger, SingleHub, now};
use crate::wire::{self, checkpoint_origin};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use govmesh_core::Digest;
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{
    CloseOp, DomainSpec, NodeSpec, Operation, ProposeOp, VoteOp, WithdrawOp, sign_entry,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, Contract};
use govmesh_core::sync::sync_records_at;
use govmesh_core::topology::{derived_topology_id, topology_record};
use govmesh_core::{diff, schema};
use govmesh_store::Ledger;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Mutex;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Most log records one `/v1/log/entries` page returns.
pub const MAX_PAGE: u64 = govmesh_store::MAX_PAGE;

/// Every route of the API, as (method, path). The OpenAPI document must describe each
/// (a test checks it), and `router` must serve each.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/v1/status"),
    ("GET", "/v1/contracts"),
    ("GET", "/v1/contracts/{id}"),
    ("GET", "/v1/contracts/{id}/revisions"),
    ("GET", "/v1/contracts/{id}/revisions/{n}"),
    ("GET", "/v1/contracts/{id}/diff"),
    ("GET", "/v1/proposals"),
    ("GET", "/v1/proposals/{id}"),
    ("GET", "/v1/domains"),
    ("GET", "/v1/domains/{id}"),
    ("GET", "/v1/nodes"),
    ("GET", "/v1/nodes/{id}"),
    ("GET", "/v1/topology"),
    ("GET", "/v1/gossip"),
    ("GET", "/v1/equivocations"),
    ("GET", "/v1/sync"),
    ("GET", "/v1/attestations"),
    ("GET", "/v1/log/checkpoint"),
    ("GET", "/v1/log/seal"),
    ("POST", "/v1/witness/add-checkpoint"),
    ("GET", "/v1/witness/equivocations"),
    ("GET", "/v1/log/entries"),
    ("GET", "/v1/log/proof/inclusion"),
    ("GET", "/v1/log/proof/consistency"),
    ("GET", "/v1/schemas"),
    ("GET", "/v1/schemas/{name}"),
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/entries"),
    ("POST", "/v1/operator/propose"),
    ("POST", "/v1/operator/vote"),
    ("POST", "/v1/operator/withdraw"),
    ("POST", "/v1/operator/nodes"),
    ("POST", "/v1/operator/domains"),
    ("GET", "/v1/council"),
    ("POST", "/v1/council/append"),
    ("POST", "/v1/council/vote"),
    ("POST", "/v1/council/snapshot"),
    ("POST", "/v1/council/forward"),
    ("GET", "/v1/replication"),
    ("POST", "/v1/replication/announce"),
];

/// The OpenAPI 3.1 document served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// What every handler shares: who this node is, its key, the ledger and the orderer.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    info: NodeInfo,
    key: KeyPair,
    token_digest: Digest,
    ledger: SharedLedger,
    /// The ledger's registry view (peer authentication without the ledger's lock).
    registry: govmesh_store::RegistryView,
    orderer: Arc<dyn Orderer>,
    url: Option<String>,
    origin: String,
    log: LogNotify,
    /// The Raft council, on governance_hub nodes served by `serve` (crate::council).
    council: std::sync::OnceLock<Arc<crate::council::Council>>,
    /// Set on non-hub nodes once replication starts (`replicate::start`).
    replication: std::sync::OnceLock<Arc<crate::replicate::Replication>>,
    /// Set by `serve` once gossip starts (`gossip::start`).
    gossip: std::sync::OnceLock<Arc<crate::gossip::Gossip>>,
    /// The latest verified seal (`DIR/seal.db`, crate::seal).
    seals: Arc<crate::seal::SealStore>,
    /// The witness record (`DIR/witness.db`) on compliance_witness nodes (crate::witness).
    witness: Option<Arc<crate::witness::Witness>>,
}

impl AppState {
    /// Opens an initialized data directory with the single-hub orderer. Blocking (it
    /// opens the database and replays what it must); call it off the async workers.
    pub fn open(dir: &Path, url: Option<String>) -> Result<AppState, NodeError> {
        let info = load(dir)?;
        let key = load_key(dir)?;
        let token = load_token(dir)?;
        let ledger = Ledger::open_with(dir, govmesh_store::LedgerOptions::serving())
            .map_err(|e| NodeError::Ledger(e.to_string()))?;
        let ledger: SharedLedger = Arc::new(Mutex::new(ledger));
        // Non-hubs forward submissions to a hub (crate::replicate).
        let orderer: Arc<dyn Orderer> =
            if info.node_type == govmesh_core::model::NodeType::GovernanceHub {
                Arc::new(SingleHub::new(ledger.clone()))
            } else {
                Arc::new(crate::replicate::ForwardingOrderer::new(
                    ledger.clone(),
                    info.node_id.clone(),
                ))
            };
        AppState::new(info, key, &token, ledger, orderer, url)
    }

    /// Assembles the state from its parts (another orderer, e.g. the Raft council).
    pub fn new(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        ledger: SharedLedger,
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
    ) -> Result<AppState, NodeError> {
        let (size, registry) = ledger
            .try_lock()
            .map(|l| (l.size(), l.registry()))
            .map_err(|_| NodeError::Server("the ledger is in use while the node starts".into()))?;
        AppState::with_notify(
            info,
            key,
            operator_token,
            (ledger, registry),
            orderer,
            url,
            LogNotify::new(size),
        )
    }

    /// As [`AppState::new`], sharing a log notifier with the orderer (which calls it
    /// when it applies entries the API did not submit, e.g. Raft followers). The
    /// ledger comes with its registry view (`Ledger::registry`, taken before the
    /// orderer could be holding the ledger).
    pub fn with_notify(
        info: NodeInfo,
        key: KeyPair,
        operator_token: &str,
        (ledger, registry): (SharedLedger, govmesh_store::RegistryView),
        orderer: Arc<dyn Orderer>,
        url: Option<String>,
        log: LogNotify,
    ) -> Result<AppState, NodeError> {
        let mesh_id = Digest::from_hex(&info.mesh_id).map_err(|e| NodeError::BadFile {
            path: info.dir.join(crate::datadir::NODE_FILE),
            message: format!("mesh_id: {e}"),
        })?;
        let seals = Arc::new(crate::seal::SealStore::open(&info.dir)?);
        let witness = if info.node_type == govmesh_core::model::NodeType::ComplianceWitness {
            Some(Arc::new(crate::witness::Witness::open(
                &info.dir,
                key.clone(),
            )?))
        } else {
            None
        };
        Ok(AppState(Arc::new(Inner {
            origin: checkpoint_origin(&mesh_id),
            token_digest: Digest::sha256(operator_token.as_bytes()),
            info,
            key,
            ledger,
            registry,
            orderer,
            url,
            log,
            council: std::sync::OnceLock::new(),
            replication: std::sync::OnceLock::new(),
            gossip: std::sync::OnceLock::new(),
            seals,
            witness,
        })))
    }

    pub fn info(&self) -> &NodeInfo {
        &self.0.info
    }

    pub fn key(&self) -> &KeyPair {
        &self.0.key
    }

    pub fn ledger(&self) -> &SharedLedger {
        &self.0.ledger
    }

    /// The node registry as of the ledger's last write, without the ledger's lock.
    pub fn registry(&self) -> &govmesh_store::RegistryView {
        &self.0.registry
    }

    pub fn orderer(&self) -> &Arc<dyn Orderer> {
        &self.0.orderer
    }

    /// The checkpoint origin (`govmesh/` + 16 hex digits of the mesh id).
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    pub fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    pub(crate) fn token_digest(&self) -> &Digest {
        &self.0.token_digest
    }

    /// Signs `op` with this node's key and submits it.
    pub async fn submit_own(&self, op: Operation) -> Result<Committed, ApiError> {
        let env = sign_entry(&self.0.key, op);
        self.submit(env).await
    }

    /// Submits a signed entry through the orderer and, once committed, tells the log
    /// subscribers.
    pub async fn submit(&self, env: Envelope) -> Result<Committed, ApiError> {
        let c = self.0.orderer.submit(env).await?;
        if self.0.orderer.applies_locally() {
            self.0.log.notify(c.index + 1);
        } else if let Some(r) = self.replication() {
            // Forwarded to a hub: pull it back at once (replication notifies).
            r.want(c.index + 1);
        }
        Ok(c)
    }

    /// The replication service (non-hub nodes, once `serve` started it).
    pub fn replication(&self) -> Option<&Arc<crate::replicate::Replication>> {
        self.0.replication.get()
    }

    pub(crate) fn set_replication(&self, r: Arc<crate::replicate::Replication>) {
        let _ = self.0.replication.set(r);
    }

    /// The latest verified seal of this node (crate::seal).
    pub fn seals(&self) -> &Arc<crate::seal::SealStore> {
        &self.0.seals
    }

    /// The witness record, on compliance_witness nodes (crate::witness).
    pub fn witness(&self) -> Option<&Arc<crate::witness::Witness>> {
        self.0.witness.as_ref()
    }

    /// The Raft council member, on hubs started by `serve`.
    pub fn council(&self) -> Option<&Arc<crate::council::Council>> {
        self.0.council.get()
    }

    pub(crate) fn set_council(&self, c: Arc<crate::council::Council>) {
        let _ = self.0.council.set(c);
    }

    /// Call after anything appended to the ledger outside [`AppState::submit`]
    /// (replication, Raft apply): wakes the log subscribers.
    pub fn notify_log(&self, size: u64) {
        self.0.log.notify(size);
    }

    /// The log size, changing whenever the log grows.
    pub fn log_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.log.subscribe()
    }

    pub fn log_notify(&self) -> &LogNotify {
        &self.0.log
    }

    /// The gossip service (membership, liveness, `live_peers`), once `serve` started it.
    pub fn gossip(&self) -> Option<&Arc<crate::gossip::Gossip>> {
        self.0.gossip.get()
    }

    pub(crate) fn set_gossip(&self, g: Arc<crate::gossip::Gossip>) {
        let _ = self.0.gossip.set(g);
    }

    /// The current checkpoint as a C2SP signed note, signed by this node's key.
    pub async fn signed_checkpoint(&self) -> SignedNote {
        let (size, root) = {
            let l = self.0.ledger.lock().await;
            (l.tree().size(), l.tree().root())
        };
        let body = Checkpoint {
            origin: self.0.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .body();
        SignedNote::sign(body, &self.0.origin, &self.0.key)
    }
}

/// The API router.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/", get(index_page))
        .route("/v1/status", get(status))
        .route("/v1/contracts", get(contracts))
        .route("/v1/contracts/{id}", get(contract))
        .route("/v1/contracts/{id}/revisions", get(revisions))
        .route("/v1/contracts/{id}/revisions/{n}", get(revision))
        .route("/v1/contracts/{id}/diff", get(contract_diff))
        .route("/v1/proposals", get(proposals))
        .route("/v1/proposals/{id}", get(proposal))
        .route("/v1/domains", get(domains))
        .route("/v1/domains/{id}", get(domain))
        .route("/v1/nodes", get(nodes))
        .route("/v1/nodes/{id}", get(node))
        .route("/v1/topology", get(topology_view))
        .route("/v1/gossip", get(crate::gossip::gossip_view))
        .route("/v1/equivocations", get(equivocations))
        .route("/v1/sync", get(sync_view))
        .route("/v1/attestations", get(crate::attest::list))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/seal", get(crate::seal::get_seal))
        .route(
            "/v1/witness/add-checkpoint",
            post(crate::witness::add_checkpoint),
        )
        .route(
            "/v1/witness/equivocations",
            get(crate::witness::equivocations),
        )
        .route("/v1/log/entries", get(log_entries))
        .route("/v1/log/proof/inclusion", get(inclusion_proof))
        .route("/v1/log/proof/consistency", get(consistency_proof))
        .route("/v1/schemas", get(schemas))
        .route("/v1/schemas/{name}", get(schema_doc))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/entries", post(submit_entry))
        .route("/v1/operator/propose", post(operator_propose))
        .route("/v1/operator/vote", post(operator_vote))
        .route("/v1/operator/withdraw", post(operator_withdraw))
        .route("/v1/operator/nodes", post(operator_register_node))
        .route("/v1/operator/domains", post(operator_define_domain))
        .route("/v1/council", get(crate::council::council_view))
        .route("/v1/council/append", post(crate::council::append))
        .route("/v1/council/vote", post(crate::council::vote))
        .route("/v1/council/snapshot", post(crate::council::snapshot))
        .route("/v1/council/forward", post(crate::council::forward))
        .route("/v1/replication", get(crate::replicate::replication_view))
        .route("/v1/replication/announce", post(crate::replicate::announce))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a request handler panicked").into_response()
            },
        ))
        .with_state(app)
}

type ApiResult<T = Json<Value>> = Result<T, ApiError>;

fn to_json<T: Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no such endpoint: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}

async fn index_page(State(app): State<AppState>) -> Html<String> {
    let (size, mesh) = {
        let l = app.ledger().lock().await;
        (
            l.state().size(),
            l.state().mesh_name().unwrap_or_default().to_owned(),
        )
    };
    let info = app.info();
    let links = [
        ("/v1/status", "status"),
        ("/v1/contracts", "contracts"),
        ("/v1/proposals", "proposals"),
        ("/v1/nodes", "nodes"),
        ("/v1/domains", "domains"),
        ("/v1/topology", "topology"),
        ("/v1/sync", "contract sync records"),
        ("/v1/log/checkpoint", "signed checkpoint"),
        ("/v1/log/seal", "latest seal"),
        ("/v1/log/entries", "log entries"),
        ("/v1/schemas", "JSON Schemas"),
        ("/v1/openapi.json", "OpenAPI document"),
    ]
    .iter()
    .map(|(href, name)| format!("<li><a href=\"{href}\">{name}</a> <code>{href}</code></li>"))
    .collect::<String>();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>govmesh node {id}</title></head><body>\
         <h1>govmesh node</h1><dl>\
         <dt>node</dt><dd><code>{id}</code> ({ty})</dd>\
         <dt>mesh</dt><dd>{mesh} <code>{mesh_id}</code></dd>\
         <dt>log size</dt><dd>{size}</dd></dl>\
         <h2>API</h2><ul>{links}</ul></body></html>\n",
        id = escape_html(&info.node_id),
        ty = info.node_type.as_str(),
        mesh = escape_html(&mesh),
        mesh_id = escape_html(&info.mesh_id),
    ))
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn status(State(app): State<AppState>) -> ApiResult {
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
    Ok(Json(json!({
        "node_id": info.node_id,
        "node_type": info.node_type,
        "mesh_id": st.mesh_id(),
        "mesh_name": st.mesh_name(),
        "log_size": l.tree().size(),
        "root": l.tree().root(),
        "contract_heads": heads,
        "url": app.url(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

/// A contract revision plus the hash of each clause (what proposals are written
/// against).
fn contract_json(c: &Contract) -> ApiResult<Value> {
    let mut v = to_json(c)?;
    let mut hashes = Map::new();
    for cl in &c.clauses {
        let h = cl.hash().map_err(ApiError::internal)?;
        hashes.insert(cl.clause_id.clone(), Value::String(h.to_hex()));
    }
    v["clause_hashes"] = Value::Object(hashes);
    Ok(v)
}

fn no_contract(id: &str) -> ApiError {
    ApiError::not_found(format!("no contract {id:?}"))
}

async fn contracts(State(app): State<AppState>) -> ApiResult {
    let l = app.ledger().lock().await;
    let list: Vec<&Contract> = l.state().contracts();
    Ok(Json(json!({"contracts": to_json(&list)?})))
}

async fn contract(State(app): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let l = app.ledger().lock().await;
    let c = l.state().contract(&id).ok_or_else(|| no_contract(&id))?;
    Ok(Json(contract_json(c)?))
}

async fn revisions(State(app): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let l = app.ledger().lock().await;
    let st = l.state();
    if st.contract(&id).is_none() {
        return Err(no_contract(&id));
    }
    let list: Vec<Value> = st
        .revisions(&id)
        .iter()
        .map(|c| {
            json!({
                "revision": c.revision,
                "contract_hash": c.contract_hash,
                "parent_hash": c.parent_hash,
                "adopted_by_proposal": c.adopted_by_proposal,
                "adopted_at": c.adopted_at,
            })
        })
        .collect();
    Ok(Json(json!({"revisions": list})))
}

async fn revision(
    State(app): State<AppState>,
    ApiPath((id, n)): ApiPath<(String, u64)>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let st = l.state();
    let current = st.contract(&id).ok_or_else(|| no_contract(&id))?;
    let c = st.revision(&id, n).ok_or_else(|| {
        ApiError::not_found(format!(
            "contract {id:?} has revisions 1 to {}, not {n}",
            current.revision
        ))
    })?;
    Ok(Json(contract_json(c)?))
}

async fn contract_diff(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<wire::DiffQuery>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let st = l.state();
    let current = st.contract(&id).ok_or_else(|| no_contract(&id))?;
    let to = q.to.unwrap_or(current.revision);
    let from = q.from.unwrap_or(to.saturating_sub(1).max(1));
    let get = |n: u64| {
        st.revision(&id, n).ok_or_else(|| {
            ApiError::not_found(format!(
                "contract {id:?} has revisions 1 to {}, not {n}",
                current.revision
            ))
        })
    };
    let d = diff::contract_diff(get(from)?, get(to)?);
    Ok(Json(to_json(&d)?))
}

async fn proposals(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<wire::ProposalsQuery>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let list: Vec<_> = l
        .state()
        .proposals()
        .into_iter()
        .filter(|p| q.status.is_none_or(|s| p.status == s))
        .collect();
    Ok(Json(json!({"proposals": to_json(&list)?})))
}

async fn proposal(State(app): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let l = app.ledger().lock().await;
    let st = l.state();
    let p = st
        .proposal(&id)
        .ok_or_else(|| ApiError::not_found(format!("no proposal {id:?}")))?;
    let mut v = to_json(p)?;
    v["votes"] = to_json(&st.votes(&id))?;
    let eq: Vec<_> = st
        .equivocations()
        .iter()
        .filter(|e| e.proposal_id == id)
        .collect();
    v["equivocations"] = to_json(&eq)?;
    Ok(Json(v))
}

async fn domains(State(app): State<AppState>) -> ApiResult {
    let l = app.ledger().lock().await;
    Ok(Json(json!({"domains": to_json(&l.state().domains())?})))
}

async fn domain(State(app): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let l = app.ledger().lock().await;
    let d = l
        .state()
        .domain(&id)
        .ok_or_else(|| ApiError::not_found(format!("no domain {id:?}")))?;
    Ok(Json(to_json(d)?))
}

async fn nodes(State(app): State<AppState>) -> ApiResult {
    let l = app.ledger().lock().await;
    Ok(Json(json!({"nodes": to_json(&l.state().nodes())?})))
}

async fn node(State(app): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let l = app.ledger().lock().await;
    let n = l
        .state()
        .node(&id)
        .ok_or_else(|| ApiError::not_found(format!("no node {id:?}")))?;
    Ok(Json(to_json(n)?))
}

/// The seed topology record: the registry from the log plus what gossip sees live
/// (without gossip, the only live observation is this node itself and every other
/// node is judged by its registry status).
async fn topology_view(State(app): State<AppState>) -> ApiResult {
    let l = app.ledger().lock().await;
    let st = l.state();
    let at = now();
    let mesh_id = st
        .mesh_id()
        .ok_or_else(|| ApiError::internal("the ledger has no genesis"))?;
    let live = crate::gossip::topology_live(&app, at);
    let id = derived_topology_id(&mesh_id, l.tree().size(), at);
    Ok(Json(topology_record(st, &id, at, &live)))
}

/// Contract sync records (seed contract-sync schema), one per contract revision,
/// from the `ack_sync` entries in the log and the clause 5.4 deadline.
async fn sync_view(State(app): State<AppState>) -> ApiResult {
    let l = app.ledger().lock().await;
    let records = sync_records_at(l.state(), now());
    Ok(Json(json!({"sync_records": to_json(&records)?})))
}

async fn equivocations(State(app): State<AppState>) -> ApiResult {
    let l = app.ledger().lock().await;
    Ok(Json(json!({
        "equivocations": to_json(&l.state().equivocations())?,
        "checkpoint_forks": to_json(&l.state().checkpoint_forks())?,
    })))
}

async fn checkpoint(State(app): State<AppState>) -> Response {
    let note = app.signed_checkpoint().await;
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note.to_text(),
    )
        .into_response()
}

async fn log_entries(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<wire::EntriesQuery>,
) -> ApiResult {
    let l = app.ledger().lock().await;
    let size = l.tree().size();
    if q.start >= size {
        return Ok(Json(json!({"entries": []})));
    }
    let end = q.end.unwrap_or(size).min(size).min(q.start + MAX_PAGE);
    if end < q.start {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("end ({end}) is before start ({})", q.start),
        ));
    }
    let records = l.records(q.start, end).map_err(ApiError::internal)?;
    drop(l);
    Ok(Json(json!({"entries": to_json(&records)?})))
}

fn proof_error(e: govmesh_core::merkle::ProofError) -> ApiError {
    ApiError::bad_request("out_of_range", e.to_string())
}

async fn inclusion_proof(
    State(app): State<AppState>,
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

async fn consistency_proof(
    State(app): State<AppState>,
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

fn created(c: &Committed, extra: Option<(&str, &str)>) -> ApiResult<Response> {
    let mut v = to_json(c)?;
    if let Some((k, id)) = extra {
        v[k] = Value::String(id.to_owned());
    }
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn submit_entry(
    State(app): State<AppState>,
    ApiJson(env): ApiJson<Envelope>,
) -> ApiResult<Response> {
    let c = app.submit(env).await?;
    tracing::info!(index = c.index, kind = %c.kind, author = %c.author, "entry appended");
    created(&c, None)
}

async fn operator_propose(
    State(app): State<AppState>,
    _: Operator,
    ApiJson(req): ApiJson<wire::ProposeRequest>,
) -> ApiResult<Response> {
    let diff = req
        .diff
        .into_iter()
        .enumerate()
        .map(|(i, v)| wire::diff_op(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let (contract_id, base_clause_hash, current_text) = {
        let l = app.ledger().lock().await;
        let contract_id = req.contract_id.clone().unwrap_or_else(|| {
            l.state()
                .governing_contract_id()
                .unwrap_or(govmesh_core::codex::CODEX_CONTRACT_ID)
                .to_owned()
        });
        let c = l.state().contract(&contract_id).ok_or_else(|| {
            ApiError::unprocessable("unknown_contract", format!("no contract {contract_id:?}"))
        })?;
        let cl = c.clause(&req.clause).ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_clause",
                format!("contract {contract_id:?} has no clause {:?}", req.clause),
            )
        })?;
        let hash = cl.hash().map_err(ApiError::internal)?;
        (contract_id, hash, cl.text.clone())
    };
    let proposal_id = uuid::Uuid::new_v4().to_string();
    let op = Operation::Propose(ProposeOp {
        proposal_id: proposal_id.clone(),
        contract_id,
        target_contract_clause: req.clause,
        base_clause_hash,
        domain_id: req.domain_id,
        rationale: req.rationale,
        changes: Changes {
            current_text,
            proposed_text: req.proposed_text,
            diff,
        },
        voting_period_secs: req.voting_period_secs,
    });
    let c = app.submit_own(op).await?;
    tracing::info!(%proposal_id, index = c.index, "operator proposal appended");
    created(&c, Some(("proposal_id", &proposal_id)))
}

async fn operator_vote(
    State(app): State<AppState>,
    _: Operator,
    ApiJson(req): ApiJson<wire::VoteRequest>,
) -> ApiResult<Response> {
    let op = Operation::Vote(VoteOp {
        proposal_id: req.proposal_id,
        choice: req.choice,
        reason: req.reason,
    });
    let c = app.submit_own(op).await?;
    created(&c, None)
}

async fn operator_withdraw(
    State(app): State<AppState>,
    _: Operator,
    ApiJson(req): ApiJson<wire::WithdrawRequest>,
) -> ApiResult<Response> {
    let op = Operation::Withdraw(WithdrawOp {
        proposal_id: req.proposal_id,
        reason: req.reason,
    });
    let c = app.submit_own(op).await?;
    created(&c, None)
}

async fn operator_register_node(
    State(app): State<AppState>,
    _: Operator,
    ApiJson(req): ApiJson<wire::RegisterNodeRequest>,
) -> ApiResult<Response> {
    let node_id = req
        .node_id
        .unwrap_or_else(|| req.public_key.derived_node_id());
    let op = Operation::RegisterNode(NodeSpec {
        node_id: node_id.clone(),
        node_type: req.node_type,
        public_key: req.public_key,
        network_address: req.network_address,
        display_name: req.display_name,
        node_policy_capabilities: req.node_policy_capabilities,
    });
    let c = app.submit_own(op).await?;
    created(&c, Some(("node_id", &node_id)))
}

async fn operator_define_domain(
    State(app): State<AppState>,
    _: Operator,
    ApiJson(mut req): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    if !req.contains_key("domain_id") {
        req.insert(
            "domain_id".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
    }
    let spec: DomainSpec = serde_json::from_value(Value::Object(req))
        .map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))?;
    let domain_id = spec.domain_id.clone();
    let c = app.submit_own(Operation::DefineDomain(spec)).await?;
    created(&c, Some(("domain_id", &domain_id)))
}

/// Signs and submits `close` for every proposal whose voting period ended by now;
/// returns how many were closed. A refused close is logged as a warning once per
/// proposal (`warned` remembers which), then at debug level.
pub(crate) async fn close_due(
    app: &AppState,
    warned: &mut std::collections::HashSet<String>,
) -> usize {
    let due = {
        let l = app.ledger().lock().await;
        l.state().due_closes(now())
    };
    let mut closed = 0;
    for proposal_id in due {
        let op = Operation::Close(CloseOp {
            proposal_id: proposal_id.clone(),
        });
        match app.submit_own(op).await {
            Ok(c) => {
                closed += 1;
                tracing::info!(%proposal_id, index = c.index, "voting period ended; proposal closed");
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
    use govmesh_core::codex::codex_genesis;
    use govmesh_core::model::{NodeType, ProposalStatus};
    use govmesh_core::stamp::Timestamp;

    /// A ledger whose genesis and one proposal were stamped three hours ago, so the
    /// proposal's voting period (at most the policy's default) is long over.
    fn ledger_with_an_expired_proposal(dir: &Path) -> (AppState, String) {
        let key = KeyPair::from_seed([11; 32]);
        let spec = NodeSpec {
            node_id: key.node_id().to_owned(),
            node_type: NodeType::GovernanceHub,
            public_key: key.public(),
            network_address: None,
            display_name: None,
            node_policy_capabilities: vec![],
        };
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
        let propose = sign_entry(
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
            }),
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
        let app = AppState::new(info, key, "operator-token-xyz", ledger, orderer, None).unwrap();
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
            let p = l.state().proposal(&pid).unwrap();
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

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
