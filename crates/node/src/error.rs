//! The node's error types: [`NodeError`] for the data directory and the server's life
//! cycle, [`ApiError`] for HTTP answers (one status code plus a JSON body
//! `{"error":{"code","message"}}`; internal details go to the log, not the client).

use crate::order::SubmitError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use govmesh_core::state::{RejectCode, Rejection};
use std::path::PathBuf;

/// Errors of `init`, `load` and `serve`.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} already holds a govmesh node ({what}); refusing to initialize it again")]
    AlreadyInitialized { path: PathBuf, what: &'static str },
    #[error("{path} is not a govmesh data directory: {what} is missing (run `govmesh init` first)")]
    NotInitialized { path: PathBuf, what: &'static str },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("invalid init options: {0}")]
    BadOptions(String),
    #[error("ledger: {0}")]
    Ledger(#[source] govmesh_store::LedgerError),
    #[error("ledger: {0}")]
    Store(#[from] govmesh_store::StoreError),
    #[error("ledger: no mesh id after the genesis")]
    NoMeshId,
    #[error("ledger: {0}")]
    RaftStore(#[from] govmesh_store::raft::RaftStoreError),
    /// The council's state machine could not be opened over the ledger (why, in words).
    #[error("ledger: {0}")]
    CouncilState(String),
    #[error("the genesis entry was refused: {0}")]
    Genesis(Rejection),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server: {what} failed: {source}")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// The HTTPS certificate or key could not be used (which file, and why).
    #[error("{0}")]
    Tls(String),
    #[error("server: local address: {0}")]
    LocalAddr(#[source] std::io::Error),
    #[error("server: {0}")]
    Serve(#[source] std::io::Error),
    #[error("server: the ledger is in use while the node starts")]
    LedgerBusy,
    #[error("server: HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("server: {what}: {source}")]
    Raft {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    SideDb(#[from] govmesh_store::SideDbError),
    #[error("randomness: {0}")]
    Random(String),
}

/// A ledger error while founding or opening a node: a refused entry is the genesis
/// being refused; anything else is the ledger's own fault.
impl From<govmesh_store::LedgerError> for NodeError {
    fn from(e: govmesh_store::LedgerError) -> NodeError {
        match e {
            govmesh_store::LedgerError::Rejected(r) => NodeError::Genesis(r),
            other => NodeError::Ledger(other),
        }
    }
}

impl NodeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> NodeError {
        NodeError::Io {
            path: path.into(),
            source,
        }
    }
}

/// An HTTP error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Answered with `Connection: close` (the request's body is left unread).
    close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            close: false,
        }
    }

    /// This answer with `Connection: close`: for answers given before the request's
    /// body was read, so that a keep-alive client does not send its next request on a
    /// connection that still carries the unread body.
    pub fn closing(mut self) -> ApiError {
        self.close = true;
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A fault of the node itself: the detail is logged, the client gets a generic
    /// message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error while answering a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the node's log has the details",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

/// The `error.code` of an error answer, kept on the response for the refusal counts
/// (crate::telemetry).
#[derive(Clone, Debug)]
pub struct ErrorCode(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, Json(body)).into_response();
        resp.extensions_mut().insert(ErrorCode(self.code.clone()));
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // These are answered before the body is read (a wrong content type) or
        // while part of it is still unread (over the limit): the connection cannot
        // carry another request, and says so. Otherwise a keep-alive client may send
        // its next request on it and get a closed connection instead of an answer.
        if self.close
            || matches!(
                self.status,
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
            )
        {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// The snake_case name of a rejection code, as the API reports it.
pub fn reject_code_name(code: RejectCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{code:?}"),
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> ApiError {
        let status = match r.code {
            RejectCode::Replay | RejectCode::Duplicate | RejectCode::AlreadyEquivocated => {
                StatusCode::CONFLICT
            }
            RejectCode::Suspended => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, &reject_code_name(r.code), r.message)
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> ApiError {
        match e {
            SubmitError::Rejected(r) => r.into(),
            SubmitError::Stopped => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the node is shutting down",
            ),
            e @ (SubmitError::Ledger(_)
            | SubmitError::AppendTask(_)
            | SubmitError::Encode(_)
            | SubmitError::Council(_)) => ApiError::internal(e.to_string()),
            SubmitError::Forwarded {
                status,
                code,
                message,
            } => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                &code,
                message,
            ),
        }
    }
}
