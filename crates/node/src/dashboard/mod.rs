//! The dashboard: server-rendered HTML pages (maud, compiled in) over the same view
//! functions the JSON API serves (crate::api, crate::seal, the council's view), with
//! our own CSS and a little vanilla JavaScript embedded at compile time. Pages read
//! fully without JavaScript; bad input is a 4xx HTML page, never a panic.

mod actions;
pub(crate) use actions::request_body;
mod layout;
mod live;
mod pages;
mod topology;

use crate::council::Council;
use crate::error::ApiError;
use crate::gossip::Gossip;
use crate::route_table::route_table;
use crate::seal::{PulledHead, Seals};
use crate::shared::Shared;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

/// The stylesheet, served at `/static/dashboard.css`.
const CSS: &str = include_str!("static/dashboard.css");
/// The script, served at `/static/dashboard.js`.
const JS: &str = include_str!("static/dashboard.js");

/// What the pages read: the shared parts and the services whose views they show.
#[derive(Clone)]
pub(crate) struct Dash {
    shared: Shared,
    gossip: Option<Arc<Gossip>>,
    seals: Seals,
    pulled: Option<PulledHead>,
    council: Option<Arc<Council>>,
    /// The event streams' shared source.
    live: live::Broadcast,
}

route_table!(Dash {
    GET "/" => pages::overview,
    GET "/topology" => pages::topology,
    GET "/nodes/{id}" => pages::node,
    GET "/proposals" => pages::proposals,
    GET "/proposals/{id}" => pages::proposal,
    GET "/contracts" => pages::contracts,
    GET "/contracts/{id}" => pages::contract,
    GET "/sync" => pages::sync,
    GET "/domains" => pages::domains,
    GET "/domains/{id}" => pages::domain,
    GET "/trust" => pages::trust,
    GET "/log" => pages::log,
    POST "/actions/{name}" => actions::act,
    GET "/static/dashboard.css" => stylesheet,
    GET "/static/dashboard.js" => script,
    GET "/v1/ui/components" => ui_components,
    GET "/v1/events" => live::events,
    GET "/v1/feed.atom" => live::feed,
});

/// The dashboard's pages and assets.
pub fn routes(
    shared: Shared,
    gossip: Option<Arc<Gossip>>,
    seals: Seals,
    pulled: Option<PulledHead>,
    council: Option<Arc<Council>>,
) -> Router {
    table().with_state(Dash {
        shared,
        gossip,
        seals,
        pulled,
        council,
        live: live::Broadcast::default(),
    })
}

/// A page that could not be shown: an HTML page with the status and the API's
/// message (unknown ids are 404, bad queries 400).
#[derive(Debug)]
pub(crate) enum PageError {
    /// The API's refusal, shown as the error page.
    Api(ApiError),
    /// A page already rendered, with its status.
    Rendered(StatusCode, String),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError::Api(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Api(e) => {
                let title = e.status.canonical_reason().unwrap_or("Error");
                let body = layout::error_page(e.status.as_u16(), title, &e.message);
                (e.status, Html(body.into_string())).into_response()
            }
            PageError::Rendered(status, html) => (status, Html(html)).into_response(),
        }
    }
}

pub(crate) type PageResult = Result<Html<String>, PageError>;

/// Query-string extraction whose refusal is a 400 page naming what is wrong.
pub(crate) struct PageQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S>
    for PageQuery<T>
{
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| PageQuery(q))
            .map_err(|r| PageError::Api(ApiError::bad_request("bad_query", r.body_text())))
    }
}

/// A path segment (an id); never refused, as any text is a possible (unknown) id.
pub(crate) type PageId = Path<String>;

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
        .into_response()
}

/// The seed's UI components, by id, and the pages that implement them.
pub(crate) const UI_COMPONENTS: &[(&str, &str, &[&str], &str)] = &[
    (
        "UI-12.21",
        "Codex Contract Dashboard",
        &["/", "/contracts", "/contracts/{id}"],
        "The governing contract and every other contract: revisions, clause text and rules, diffs and the hash chain, next to the mesh's state.",
    ),
    (
        "UI-12.33",
        "Schema/Contract Drift Alert",
        &["/sync", "/"],
        "Nodes that have not acknowledged the adopted revision by the clause 5.4 deadline, since when, with the sync record behind the alert.",
    ),
    (
        "UI-12.66",
        "Governance Mesh Visualization",
        &["/topology", "/nodes/{id}"],
        "The mesh as a graph: nodes by role and liveness, measured connections with latency, domains as groups.",
    ),
    (
        "mesh-topology-viewer",
        "Mesh Topology Viewer",
        &["/topology", "/nodes/{id}"],
        "Visualizes the governance mesh topology.",
    ),
    (
        "proposal-management-interface",
        "Proposal Management Interface",
        &["/proposals", "/proposals/{id}"],
        "Creation of and voting on proposals: filters, tally against quorum, threshold and veto, votes, withdrawal.",
    ),
    (
        "contract-sync-dashboard",
        "Contract Sync Dashboard",
        &["/sync"],
        "Contract synchronization status: which nodes hold each revision, which lag or failed, the seal and its witness cosignatures.",
    ),
    (
        "domain-management-tools",
        "Domain Management Tools",
        &["/domains", "/domains/{id}"],
        "Governance domains: members, admin, shared clauses, local overrides, voting policy; changes start a proposal.",
    ),
];

/// `GET /v1/ui/components`: the registry of the seed's UI components.
async fn ui_components() -> axum::Json<Value> {
    let list: Vec<Value> = UI_COMPONENTS
        .iter()
        .map(|(id, name, pages, description)| {
            json!({"component_id": id, "name": name, "pages": pages, "description": description})
        })
        .collect();
    axum::Json(json!({"components": list}))
}
