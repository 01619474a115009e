//! `GET /v1/trust` and `GET /v1/trust/{node}`: the trust scores every node computes
//! from the log (clause 5.4 `trust_model`; core's `trust`, `state/trust.rs` and
//! `trust_view.rs`), read from the ledger's state. No computation happens here: the
//! scores are those of the last epoch the state machine completed.

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::route_table::route_table;
use crate::shared::Shared;
use axum::extract::State;
use axum::{Json, Router};
use govmesh_core::trust_view::{self, NodeTrust, TrustSummary};
use serde_json::Value;

route_table!(Shared {
    GET "/v1/trust" => summary,
    GET "/v1/trust/{node}" => node,
});

/// The trust endpoints.
pub fn routes(shared: Shared) -> Router {
    table().with_state(shared)
}

/// `GET /v1/trust`: every score with its rank, the last computation, the distribution.
pub(crate) async fn summary_view(app: &Shared) -> TrustSummary {
    let l = app.ledger().lock().await;
    trust_view::summary(l.state())
}

/// `GET /v1/trust/{node}`: one node's score, rank, observations and history.
pub(crate) async fn node_view(app: &Shared, id: &str) -> Result<NodeTrust, ApiError> {
    let l = app.ledger().lock().await;
    trust_view::node(l.state(), id)
        .ok_or_else(|| ApiError::not_found(format!("no node {id:?} is registered")))
}

async fn summary(State(app): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(crate::api::to_json(&summary_view(&app).await)?))
}

async fn node(
    State(app): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(crate::api::to_json(&node_view(&app, &id).await?)?))
}
