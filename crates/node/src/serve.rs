//! Running a node: the router that merges every room's routes ([`router`], with the
//! one route list [`ROUTES`]), binding the listener, writing `DIR/node.url`, starting
//! the role's services, serving until told to stop, and closing proposals whose
//! voting period has ended (checked once a second).

use crate::api::close_due;
use crate::app::AppState;
use crate::datadir::{URL_FILE, load, write_atomic, write_node_json};
use crate::error::{ApiError, NodeError};
use crate::order::now;
use crate::route_table::{concat, count};
use crate::shared::Shared;
use crate::{
    api, attest, council, dashboard, gossip, metrics, operator, replicate, seal, trust, witness,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

const ROOMS: &[&[(&str, &str)]] = &[
    api::ROUTES,
    operator::ROUTES,
    attest::ROUTES,
    trust::ROUTES,
    gossip::ROUTES,
    seal::ROUTES,
    witness::ROUTES,
    council::ROUTES,
    replicate::ROUTES,
    metrics::ROUTES,
    dashboard::ROUTES,
];
const ROUTE_COUNT: usize = count(ROOMS);
const ALL_ROUTES: [(&str, &str); ROUTE_COUNT] = concat(ROOMS);

/// Every route of the API, as (method, path): the rooms' own lists, which their
/// routers serve. The OpenAPI document must describe each (a test checks it).
pub const ROUTES: &[(&str, &str)] = &ALL_ROUTES;

/// The API router: every room's routes, each with its own state, merged.
pub fn router(app: AppState) -> Router {
    let shared = app.shared().clone();
    let pulled = app.replica().map(|r| r.pulled_head());
    Router::new()
        .merge(api::routes(
            shared.clone(),
            app.gossip().cloned(),
            app.sealing().clone(),
            pulled.clone(),
            app.council().cloned(),
        ))
        .merge(operator::routes(shared.clone()))
        .merge(attest::routes(shared.clone()))
        .merge(trust::routes(shared.clone()))
        .merge(gossip::routes(shared.clone(), app.gossip().cloned()))
        .merge(seal::routes(app.sealing().clone(), pulled.clone()))
        .merge(witness::routes(
            shared.clone(),
            app.witness().cloned(),
            app.replica().cloned(),
        ))
        .merge(council::routes(shared.clone(), app.council().cloned()))
        .merge(dashboard::routes(
            shared.clone(),
            app.gossip().cloned(),
            app.sealing().clone(),
            pulled,
            app.council().cloned(),
        ))
        .merge(replicate::routes(
            app.sealing().clone(),
            app.replica().cloned(),
        ))
        .merge(metrics::routes(
            shared.clone(),
            app.sealing().clone(),
            app.council().cloned(),
            app.gossip().cloned(),
            app.replica().cloned(),
        ))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            shared.telemetry().clone(),
            observe,
        ))
        .layer(TraceLayer::new_for_http().on_failure(trace_failure))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a request handler panicked").into_response()
            },
        ))
}

/// A 5xx in the trace: ERROR, except 503, which says "not now" on purpose (`/readyz`
/// while not ready, a council without a majority, shutting down): a probe every few
/// seconds must not fill the log with ERROR lines.
fn trace_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: Duration,
    _: &tracing::Span,
) {
    match class {
        tower_http::classify::ServerErrorsFailureClass::StatusCode(
            StatusCode::SERVICE_UNAVAILABLE,
        ) => {
            tracing::debug!(latency_ms = latency.as_millis(), "503 service unavailable");
        }
        other => tracing::error!(
            classification = %other,
            latency_ms = latency.as_millis(),
            "response failed"
        ),
    }
}

/// Counts refusals by error code and times submissions (crate::telemetry).
async fn observe(
    axum::extract::State(t): axum::extract::State<crate::telemetry::Telemetry>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let submit = req.method() == Method::POST
        && (path == "/v1/entries" || path.starts_with("/v1/operator/"));
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    if submit && resp.status().is_success() {
        t.submit_seconds.observe(started.elapsed().as_secs_f64());
    }
    if resp.status().is_client_error() {
        let code = resp
            .extensions()
            .get::<crate::error::ErrorCode>()
            .map_or("unknown", |c| c.0.as_str());
        t.refused(code);
    }
    resp
}

/// Errors are JSON everywhere: an error answer that is not (an extractor's plain-text
/// rejection that no room mapped) becomes `{"error": {"code", "message"}}` with the
/// same status. C2SP's `text/x.tlog.size` conflict answer of the witness is kept.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // JSON, the C2SP witness's own answers, and the dashboard's HTML error pages
    // (a browser's 404 is a page) are what they should be.
    if ctype.starts_with("text/html") && status == StatusCode::PAYLOAD_TOO_LARGE {
        // The body was not read to its end: the connection cannot carry another
        // request.
        let mut resp = resp;
        resp.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return resp;
    }
    if ctype.starts_with("application/json")
        || ctype.starts_with("text/x.tlog.size")
        || ctype.starts_with("text/html")
    {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut out = ApiError::new(status, code, message);
    if parts.headers.get(header::CONNECTION).is_some() {
        out = out.closing();
    }
    let mut r = out.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            r.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    r
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

/// A serving node. Dropping it does not stop the server; call [`RunningNode::shutdown`]
/// (or [`ShutdownHandle::shutdown`] from elsewhere, e.g. on Ctrl-C) and then
/// [`RunningNode::wait`].
pub struct RunningNode {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The same address over HTTPS, when serving with a certificate
    /// ([`ServeOptions::tls`]), e.g. `https://127.0.0.1:41234`.
    pub https_url: Option<String>,
    pub local_addr: SocketAddr,
    pub node_id: String,
    stop: ShutdownHandle,
    task: JoinHandle<Result<(), NodeError>>,
}

/// Tells a running node to stop gracefully (finish in-flight requests, then return).
#[derive(Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

impl RunningNode {
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Waits until the server has stopped (after a shutdown signal).
    pub async fn wait(self) -> Result<(), NodeError> {
        self.task.await.map_err(|source| NodeError::Task {
            what: "server task",
            source,
        })?
    }

    /// Signals shutdown and waits for the server to stop.
    pub async fn shutdown(self) -> Result<(), NodeError> {
        self.stop.shutdown();
        self.wait().await
    }
}

/// What [`serve_with`] takes besides the data directory and the listen address.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Replication peers besides the registry's addresses (`--peer URL`); non-hubs
    /// try them first.
    pub peers: Vec<String>,
    /// How often a non-hub pulls when nobody announces (default 2 s).
    pub replication_interval: Option<Duration>,
    /// A witness that only runs the C2SP tlog-witness checks, without fetching and
    /// validating a new checkpoint's entries first: for protocol tests that offer
    /// synthetic trees. Never set it in a real mesh.
    pub witness_protocol_only: bool,
    /// Refuse to listen on an address other than the one this node's registration
    /// names (`govmesh serve` sets it unless told the node is behind a proxy): the
    /// registry and every peer keep calling the registered address, so a node that
    /// listens elsewhere has silently left the mesh. A port 0 listen (picked at run
    /// time, for tests and demos on loopback) is not refused.
    pub registered_address_only: bool,
    /// Serve HTTPS with this certificate and key besides plain HTTP, on the same
    /// address (crate::tls): for browsers, whose WebCrypto needs a secure context.
    pub tls: Option<crate::tls::TlsFiles>,
    /// With [`ServeOptions::registered_address_only`]: instead of refusing another
    /// address than the registered one, serve there and submit an `update_node` entry
    /// (signed by this node) that registers it, so peers call the node there
    /// (`govmesh serve --re-register`).
    pub re_register: bool,
}

/// Opens the data directory, binds `listen` (port 0 picks a free port) and serves.
pub async fn serve(dir: &Path, listen: SocketAddr) -> Result<RunningNode, NodeError> {
    serve_with(dir, listen, ServeOptions::default()).await
}

/// [`serve`] with options.
pub async fn serve_with(
    dir: &Path,
    listen: SocketAddr,
    opts: ServeOptions,
) -> Result<RunningNode, NodeError> {
    // The certificate first: a bad file stops the node before it binds or opens.
    let tls = opts
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    ignore_file_size_signal();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| NodeError::Bind {
            addr: listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(NodeError::LocalAddr)?;
    let url = format!("http://{local_addr}");
    let https_url = tls.is_some().then(|| format!("https://{local_addr}"));

    let d = dir.to_owned();
    let u = url.clone();
    let check_opts = opts.clone();
    let app = tokio::task::spawn_blocking(move || -> Result<(AppState, bool), NodeError> {
        // Open first: if another process serves this directory, leave its files alone.
        // Hubs order through the Raft council (crate::council); others as before.
        let app = if load(&d)?.node_type == govmesh_core::model::NodeType::GovernanceHub {
            tokio::runtime::Handle::current().block_on(AppState::open_hub(
                &d,
                Some(u),
                crate::council::CouncilSettings::for_dir(&d)?,
            ))?
        } else {
            AppState::open(&d, Some(u))?
        };
        let mut moved = false;
        if check_opts.registered_address_only
            && listen.port() != 0
            && let Err(e) = check_registered_address(&app, local_addr)
        {
            if check_opts.re_register && !local_addr.ip().is_unspecified() {
                moved = true;
            } else {
                if let Some(c) = app.council().cloned() {
                    tokio::runtime::Handle::current().block_on(c.shutdown());
                }
                return Err(if check_opts.re_register {
                    NodeError::BadOptions(format!(
                        "--re-register registers the address the node listens on, and \
                         {local_addr} is not one peers can call: give --listen HOST:PORT"
                    ))
                } else {
                    e
                });
            }
        }
        let mut info = load(&d)?;
        info.listen = Some(local_addr.to_string());
        write_node_json(&info)?;
        Ok((app, moved))
    })
    .await
    .map_err(|source| NodeError::Task {
        what: "opening the data directory",
        source,
    })??;
    let (app, moved) = app;
    if opts.witness_protocol_only
        && let Some(w) = app.witness()
    {
        w.set_validate_entries(false);
    }
    let node_id = app.info().node_id.clone();
    let url_file = dir.join(URL_FILE);
    write_atomic(&url_file, format!("{url}\n").as_bytes())?;

    let (tx, rx) = watch::channel(false);
    let stop = ShutdownHandle(Arc::new(tx));
    let mut app = app;
    let ledger = app.ledger().clone();
    let closer = tokio::spawn(close_loop(app.shared().clone(), rx.clone()));
    // Membership and liveness over UDP on the HTTP port number (crate::gossip).
    let gossip = app
        .start_gossip(
            local_addr,
            rx.clone(),
            crate::gossip::GossipSettings::default(),
        )
        .await;
    // Non-hubs replicate the log from their peers (crate::replicate), live peers
    // (gossip) first.
    let replicator =
        (app.info().node_type != govmesh_core::model::NodeType::GovernanceHub).then(|| {
            let ropts = crate::replicate::ReplicationOptions {
                peers: opts.peers.clone(),
                interval: opts
                    .replication_interval
                    .unwrap_or(crate::replicate::DEFAULT_INTERVAL),
            };
            app.start_replication(ropts, rx.clone())
        });
    // The council leader collects witness cosignatures into seals (crate::seal); a hub
    // without a council (none started) orders its own log and collects.
    let sealer =
        (app.info().node_type == govmesh_core::model::NodeType::GovernanceHub).then(|| {
            let c = app.council().cloned();
            let leader: crate::seal::LeaderCheck =
                Arc::new(move || c.as_ref().is_none_or(|c| c.is_leader()));
            crate::seal::start(app.sealing().clone(), leader, rx.clone())
        });
    // Every node acknowledges the contract revisions it holds (crate::acks).
    let acker = crate::acks::start(app.shared().clone(), rx.clone());
    if moved {
        tokio::spawn(re_register(app.shared().clone(), url.clone(), rx.clone()));
    }
    let council = app.council().cloned();
    let service = router(app);
    let mut srx = rx;
    let stopped = async move {
        let _ = srx.wait_for(|stop| *stop).await;
    };
    let served = match tls {
        Some(config) => {
            let dual = crate::tls::DualListener::new(listener, local_addr, config);
            futures_util::future::Either::Left(
                axum::serve(dual, service)
                    .with_graceful_shutdown(stopped)
                    .into_future(),
            )
        }
        None => futures_util::future::Either::Right(
            axum::serve(listener, service)
                .with_graceful_shutdown(stopped)
                .into_future(),
        ),
    };
    let task = tokio::spawn(async move {
        let served = served.await;
        let closed = closer.await;
        if let Some(r) = replicator
            && let Err(e) = r.await
        {
            tracing::warn!(error = %e, "the replication task failed");
        }
        if let Err(e) = gossip.await {
            tracing::warn!(error = %e, "the gossip task failed");
        }
        if let Err(e) = acker.await {
            tracing::warn!(error = %e, "the ack task failed");
        }
        if let Some(t) = sealer
            && let Err(e) = t.await
        {
            tracing::warn!(error = %e, "the seal task failed");
        }
        remove_url_file(&url_file);
        if let Some(c) = council {
            c.shutdown().await;
        }
        close_ledger(ledger).await;
        served.map_err(NodeError::Serve)?;
        closed.map_err(|source| NodeError::Task {
            what: "close task",
            source,
        })?;
        tracing::info!("node stopped");
        Ok(())
    });
    tracing::info!(%node_id, %url, https = https_url.as_deref().unwrap_or("no"), "govmesh node listening");
    Ok(RunningNode {
        url,
        https_url,
        local_addr,
        node_id,
        stop,
        task,
    })
}

/// [`ServeOptions::registered_address_only`]: `listening` must be the address this
/// node's registry entry names, when it names one of the form `http://HOST:PORT`.
fn check_registered_address(app: &AppState, listening: SocketAddr) -> Result<(), NodeError> {
    let node_id = &app.info().node_id;
    let registered = app
        .ledger()
        .blocking_lock()
        .state()
        .node(node_id)
        .and_then(|n| n.network_address.clone());
    let Some(registered) = registered else {
        return Ok(());
    };
    let Some(want) = crate::datadir::listen_of_address(&registered) else {
        return Ok(());
    };
    if want
        .parse::<SocketAddr>()
        .is_ok_and(|w| serves_registered(w, listening))
    {
        return Ok(());
    }
    Err(NodeError::BadOptions(format!(
        "node {node_id} is registered at {registered}, and the registry and every peer \
         call it there; refusing to listen on {listening} instead. Serve without --listen \
         (or with --listen {want}); to move the node here, pass --re-register (it \
         submits an update_node entry registering the new address); behind a proxy \
         that forwards {registered} here, pass --behind-proxy"
    )))
}

/// A write past the process's file size limit (RLIMIT_FSIZE) raises SIGXFSZ, whose
/// default action kills the process. Handled, the write fails with EFBIG instead, and
/// the store refuses it like a full disk (SQLite rolls the transaction back): the node
/// answers 5xx for what it cannot store and carries on once there is room.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // SIGXFSZ is 25 on Linux and the BSDs.
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| match signal(SignalKind::from_raw(25)) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    let mut last: Option<std::time::Instant> = None;
                    while s.recv().await.is_some() {
                        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                            tracing::error!("a write went past the file size limit (SIGXFSZ): the data directory is full");
                            last = Some(std::time::Instant::now());
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot handle SIGXFSZ"),
        });
    }
}

/// `--re-register`: submits the `update_node` entry that registers `url` as this
/// node's address, retrying while the outcome is unknown until it is in the log,
/// refused, or the node stops. It goes through this node's own orderer and, when that
/// cannot order it (a moved hub hears from no leader: the leader still calls the old
/// address), to the other hubs at their registered addresses, as any client would.
async fn re_register(app: Shared, url: String, mut stop: watch::Receiver<bool>) {
    use govmesh_core::entry::{Operation, UpdateNodeOp, sign_entry_at};
    let node_id = app.info().node_id.clone();
    let op = Operation::UpdateNode(UpdateNodeOp {
        node_id: node_id.clone(),
        status: None,
        network_address: Some(url.clone()),
        public_key: None,
        key_proof: None,
    });
    // Signed once: a retry after an unknown outcome is the same entry, refused as a
    // replay if the first attempt was committed.
    let env = sign_entry_at(app.key(), op, crate::order::now());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_default();
    let mut delay = Duration::from_millis(200);
    loop {
        let mut outcome = app.submit(env.clone()).await.map(|c| c.index);
        if outcome.as_ref().is_err_and(|e| !e.status.is_client_error()) {
            let hubs: Vec<String> = {
                let l = app.ledger().lock().await;
                crate::shared::active_hubs_with_address(l.state())
                    .filter(|(n, _)| n.node_id != node_id)
                    .map(|(_, a)| a.trim_end_matches('/').to_owned())
                    .collect()
            };
            for hub in hubs {
                let Ok(r) = http
                    .post(format!("{hub}/v1/entries"))
                    .json(&env)
                    .send()
                    .await
                else {
                    continue;
                };
                let status = r.status();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                if status.is_success() {
                    outcome = Ok(body["index"].as_u64().unwrap_or_default());
                    break;
                }
                if status.is_client_error() {
                    outcome = Err(ApiError::new(
                        status,
                        body["error"]["code"].as_str().unwrap_or("refused"),
                        body["error"]["message"].as_str().unwrap_or_default(),
                    ));
                    break;
                }
            }
        }
        match outcome {
            Ok(index) => {
                tracing::info!(%node_id, %url, index, "re-registered: peers now call this node at its new address");
                return;
            }
            // The same entry (same bytes) committed by an earlier attempt.
            Err(e) if e.code == "replay" => return,
            Err(e) if e.status.is_client_error() => {
                tracing::error!(%node_id, %url, code = %e.code, error = %e.message, "re-registering the node's address was refused");
                return;
            }
            Err(e) => {
                tracing::warn!(%node_id, %url, code = %e.code, error = %e.message, retry_in_ms = delay.as_millis() as u64, "re-registering the node's address: outcome unknown, retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Whether a listener on `listening` answers at `registered`: the same address, or
/// the same port on every interface (0.0.0.0 or ::).
fn serves_registered(registered: SocketAddr, listening: SocketAddr) -> bool {
    registered == listening
        || (listening.ip().is_unspecified() && listening.port() == registered.port())
}

/// Writes the ledger's final snapshot and releases the data directory's lock, so the
/// same directory can be served again (in this process or another).
async fn close_ledger(ledger: crate::order::SharedLedger) {
    match Arc::try_unwrap(ledger) {
        Ok(m) => {
            let l = m.into_inner();
            match tokio::task::spawn_blocking(move || l.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "closing the ledger failed"),
                Err(e) => tracing::warn!(error = %e, "closing the ledger failed"),
            }
        }
        Err(_) => tracing::warn!("the ledger is still in use after shutdown; dropping it later"),
    }
}

fn remove_url_file(path: &PathBuf) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove the URL file");
    }
}

/// Longest the close loop sleeps with nothing due (a wall clock that jumps, a close
/// that another hub's entry made moot, are caught this late at worst).
const CLOSE_FALLBACK: Duration = Duration::from_secs(30);
/// Closest spacing of two looks for due closes (a busy log changes hundreds of
/// times a second; a close that failed is retried this often).
const CLOSE_SPACING: Duration = Duration::from_secs(1);

/// Closes voting periods and enacts timelocked proposals when they end. Sleeps until
/// the next deadline in the state (at most [`CLOSE_FALLBACK`]), or until the log
/// changes (a new proposal may end sooner), looking at most once per
/// [`CLOSE_SPACING`]: an idle node with no open proposal wakes twice a minute.
async fn close_loop(app: Shared, mut stop: watch::Receiver<bool>) {
    let mut warned = HashSet::new();
    let mut log = Some(app.log_changes());
    let mut last = tokio::time::Instant::now() - CLOSE_SPACING;
    loop {
        let wait = {
            let l = app.ledger().lock().await;
            l.state().next_deadline().map_or(CLOSE_FALLBACK, |at| {
                let ms = at.millis().saturating_sub(now().millis());
                // A few ms late, so that the deadline has passed by the wall clock too.
                Duration::from_millis(ms.max(0) as u64 + 5).min(CLOSE_FALLBACK)
            })
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = async { log.as_mut()?.changed().await.ok() }, if log.is_some() => {
                if changed.is_none() {
                    log = None;
                }
            }
            _ = stop.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep_until(last + CLOSE_SPACING) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        last = tokio::time::Instant::now();
        close_due(&app, &mut warned).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `govmesh serve` refuses another address than the registered one, but listening
    /// on every interface at the registered port serves it.
    #[test]
    fn the_registered_address_is_served_there_or_on_every_interface() {
        let reg: SocketAddr = "10.0.0.5:7420".parse().unwrap();
        for (listen, ok) in [
            ("10.0.0.5:7420", true),
            ("0.0.0.0:7420", true),
            ("[::]:7420", true),
            ("127.0.0.1:7420", false),
            ("10.0.0.5:7421", false),
            ("0.0.0.0:7421", false),
        ] {
            assert_eq!(
                serves_registered(reg, listen.parse().unwrap()),
                ok,
                "{listen}"
            );
        }
    }
}
