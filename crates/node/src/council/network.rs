//! Raft RPCs between hubs over HTTP: the client side ([`Network`], one [`HubClient`]
//! per target hub, reqwest, each request peer-signed with this hub's key) and the
//! server side (`POST /v1/council/{append,vote,snapshot}`: peer-verified against the
//! registry, governance_hub only, then handed to openraft; and `POST
//! /v1/council/forward`, entries forwarded by another hub: crate::council::forward). The body is the openraft
//! request as JSON; the answer is openraft's `Result` as JSON.

use super::{HubNode, TypeConfig};
use crate::error::ApiError;
use crate::peer_auth;
use crate::telemetry::Labels;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;
use govmesh_store::RegistryView;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

type NodeId = u64;

pub const APPEND_PATH: &str = "/v1/council/append";
pub const VOTE_PATH: &str = "/v1/council/vote";
pub const SNAPSHOT_PATH: &str = "/v1/council/snapshot";

/// Makes clients for the other hubs.
pub struct Network {
    pub(crate) http: reqwest::Client,
    pub(crate) key: KeyPair,
    /// For each target hub's registered key: requests carry a MAC under the key the
    /// two hubs share (crate::peer_auth).
    pub(crate) registry: RegistryView,
    /// Failed RPCs by target and kind (`govmesh_council_rpc_failures_total`).
    pub(crate) failures: Family<Labels, Counter>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = HubClient;

    async fn new_client(&mut self, target: NodeId, node: &HubNode) -> HubClient {
        HubClient {
            http: self.http.clone(),
            key: self.key.clone(),
            registry: self.registry.clone(),
            failures: self.failures.clone(),
            target,
            node: node.clone(),
        }
    }
}

/// Sends Raft RPCs to one hub.
pub struct HubClient {
    http: reqwest::Client,
    key: KeyPair,
    registry: RegistryView,
    failures: Family<Labels, Counter>,
    target: NodeId,
    node: HubNode,
}

#[derive(Debug)]
enum SendError {
    Unreachable(String),
    Network(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

/// An error with its causes (reqwest's own message, "error sending request", says
/// nothing of why: the cause is a refused connection, a reset, a timeout...).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

impl HubClient {
    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, SendError> {
        let body = serde_json::to_vec(req).map_err(|e| SendError::Network(e.to_string()))?;
        let url = format!("{}{path}", self.node.addr.trim_end_matches('/'));
        let mut rb = self
            .http
            .post(&url)
            .timeout(option.hard_ttl())
            .header("content-type", "application/json");
        let target_key = self
            .registry
            .current()
            .node(&self.node.node_id)
            .map(|n| n.public_key);
        for (k, v) in peer_auth::sign_request_to(
            &self.key,
            self.key.node_id(),
            target_key.as_ref(),
            "POST",
            path,
            &body,
        ) {
            rb = rb.header(k, v);
        }
        // No answer at all (refused, reset or closed before an answer, timed out) is
        // `Unreachable`, which openraft backs off from ([`HubClient::backoff`]); as a
        // `Network` error it would resend at once, and a hub whose peer closes every
        // connection (a dead proxy, a half-down host) spins hundreds of requests a second.
        let resp = rb.body(body).send().await.map_err(|e| {
            let m = format!("{url}: {}", chain(&e));
            if e.is_builder() {
                SendError::Network(m)
            } else {
                SendError::Unreachable(m)
            }
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| SendError::Network(format!("{url}: reading the answer: {}", chain(&e))))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(SendError::Network(format!(
                "{url} answered {status}: {text}"
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| SendError::Network(format!("{url}: unreadable answer: {e}")))
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        e: SendError,
    ) -> RPCError<NodeId, HubNode, RaftError<NodeId, E>> {
        let kind = match e {
            SendError::Unreachable(_) => "unreachable",
            SendError::Network(_) => "network",
        };
        self.failures
            .get_or_create(&vec![
                ("target".to_owned(), self.node.node_id.clone()),
                ("kind".to_owned(), kind.to_owned()),
            ])
            .inc();
        match e {
            SendError::Unreachable(m) => RPCError::Unreachable(Unreachable::new(&Msg(m))),
            SendError::Network(m) => RPCError::Network(NetworkError::new(&Msg(m))),
        }
    }
}

/// The pauses between tries to a hub that does not answer: short at first (a blip
/// costs little), then capped (a hub cut off costs two tries a second). openraft drops
/// the backoff at the first answer.
fn backoff_pauses() -> impl Iterator<Item = Duration> {
    (0u32..)
        .map(|i| Duration::from_millis(50u64 << i.min(4)))
        .map(|d| d.min(BACKOFF_MAX))
}

const BACKOFF_MAX: Duration = Duration::from_millis(500);

impl RaftNetwork<TypeConfig> for HubClient {
    fn backoff(&self) -> Backoff {
        Backoff::new(backoff_pauses())
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, HubNode, RaftError<NodeId>>> {
        let r: Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> = self
            .post(APPEND_PATH, &rpc, &option)
            .await
            .map_err(|e| self.rpc_error(e))?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, HubNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let r: Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> =
            self.post(SNAPSHOT_PATH, &rpc, &option)
                .await
                .map_err(|e| self.rpc_error(e))?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, HubNode, RaftError<NodeId>>> {
        let r: Result<VoteResponse<NodeId>, RaftError<NodeId>> = self
            .post(VOTE_PATH, &rpc, &option)
            .await
            .map_err(|e| self.rpc_error(e))?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// Checks the peer headers (an active governance_hub of this node's registry) before
/// reading the body (crate::peer_auth::read_body), then the MAC or signature over the
/// body, and parses it. A node without a council (a witness, a fork, a hub not
/// serving) answers 404 `no_council` without reading anything: no retry can succeed.
async fn accept<T: DeserializeOwned>(
    app: &super::Http,
    headers: &HeaderMap,
    uri: &Uri,
    body: Body,
) -> Result<(std::sync::Arc<super::Council>, T), ApiError> {
    let council = app.council().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_council",
            format!(
                "this node is a {}, not a member of the Raft council",
                app.info().node_type.as_str()
            ),
        )
        .closing()
    })?;
    let path = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .to_owned();
    let registry = app.registry().current();
    let (_, body) = peer_auth::read_body(
        &registry,
        app.key(),
        headers,
        "POST",
        &path,
        body,
        MAX_RAFT_BODY_BYTES,
        &[NodeType::GovernanceHub],
    )
    .await?;
    Ok((council, crate::bodies::raft(&body)?))
}

/// The largest Raft request body a hub reads: an append carries up to 64 entries of
/// up to 1 MiB each (the API's entry limit), so the API's 1 MiB limit cannot apply.
pub const MAX_RAFT_BODY_BYTES: usize = 80 << 20;

fn answer<T: Serialize>(v: &T) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(ApiError::internal)
}

pub(super) async fn append(
    State(app): State<super::Http>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let (c, req): (_, AppendEntriesRequest<TypeConfig>) =
        accept(&app, &headers, &uri, body).await?;
    answer(&c.raft().append_entries(req).await)
}

/// `POST /v1/council/forward`: entries another hub forwards to this one as the
/// leader (crate::council::forward): a JSON array of envelopes, at most
/// [`super::FORWARD_MAX_ENTRIES`]; the answer is one outcome per envelope, in order.
pub(super) async fn forward(
    State(app): State<super::Http>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let (c, envelopes): (_, Vec<govmesh_core::dsse::Envelope>) =
        accept(&app, &headers, &uri, body).await?;
    crate::bodies::forward_limit(&envelopes)?;
    answer(&c.take_forwarded(envelopes).await)
}

/// Decodes the body of a Raft endpoint (`path`) as its handler does
/// ([`crate::bodies::decode`]).
pub fn decode_raft_request(path: &str, body: &[u8]) -> Result<(), ApiError> {
    use crate::bodies::raft;
    match path {
        "/v1/council/append" => raft::<AppendEntriesRequest<TypeConfig>>(body).map(drop),
        "/v1/council/vote" => raft::<VoteRequest<NodeId>>(body).map(drop),
        "/v1/council/snapshot" => raft::<InstallSnapshotRequest<TypeConfig>>(body).map(drop),
        other => Err(ApiError::not_found(format!("no Raft endpoint {other}"))),
    }
}

pub(super) async fn vote(
    State(app): State<super::Http>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let (c, req): (_, VoteRequest<NodeId>) = accept(&app, &headers, &uri, body).await?;
    answer(&c.raft().vote(req).await)
}

pub(super) async fn snapshot(
    State(app): State<super::Http>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let (c, req): (_, InstallSnapshotRequest<TypeConfig>) =
        accept(&app, &headers, &uri, body).await?;
    answer(&c.raft().install_snapshot(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use govmesh_core::keys::KeyPair;

    /// A hub behind an address that accepts connections and closes them unanswered is
    /// unreachable (openraft backs off), not a network error (openraft resends at once).
    #[tokio::test]
    async fn a_peer_closing_unanswered_is_unreachable() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            while let Ok((mut c, _)) = l.accept().await {
                let mut buf = [0u8; 512];
                let _ = c.read(&mut buf).await;
            }
        });
        let client = HubClient {
            http: reqwest::Client::new(),
            key: KeyPair::from_seed([7; 32]),
            registry: RegistryView::default(),
            failures: Family::default(),
            target: 2,
            node: HubNode {
                node_id: "peer".into(),
                addr,
            },
        };
        let opt = RPCOption::new(Duration::from_secs(5));
        let r: Result<Value, SendError> = client.post(APPEND_PATH, &Value::Null, &opt).await;
        match r {
            Err(SendError::Unreachable(m)) => assert!(m.contains(APPEND_PATH), "{m}"),
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }

    /// The pauses start short and are capped.
    #[test]
    fn backoff_starts_short_and_is_capped() {
        let p: Vec<Duration> = backoff_pauses().take(8).collect();
        assert_eq!(p[0], Duration::from_millis(50));
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        assert_eq!(p[7], BACKOFF_MAX);
    }
}
