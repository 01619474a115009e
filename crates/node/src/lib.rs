//! govmesh-node: one node of a governance mesh on top of the pure core and the SQLite
//! store — its data directory, the ordering step (a council of one hub for now), the
//! HTTP API with its operator actions, and the server loop that closes proposals whose
//! voting period has ended.
//!
//! Entry points: [`init`] and [`load`] (data directory), [`serve`] (bind and run),
//! [`router`] with [`AppState`] (the HTTP API without a socket, for tests).
#![forbid(unsafe_code)]

mod acks;
mod api;
pub mod attest;
pub mod council;
pub mod datadir;
mod error;
mod extract;
pub mod gossip;
mod order;
pub mod peer_auth;
mod ports;
pub mod replicate;
pub mod seal;
mod serve;
mod wire;
pub mod witness;

pub use api::{AppState, MAX_PAGE, OPENAPI_JSON, ROUTES, router};
pub use datadir::{
    GENESIS_FILE, InitOptions, KEY_FILE, LEDGER_FILE, NODE_FILE, NodeInfo, TOKEN_FILE, URL_FILE,
    generate_key, init, join, load, load_key, load_token, mesh_genesis, read_genesis,
};
pub use error::{ApiError, NodeError};
pub use order::{Committed, LogNotify, Orderer, SharedLedger, SingleHub, SubmitError, now};
pub use ports::free_loopback_port;
pub use serve::{RunningNode, ServeOptions, ShutdownHandle, serve, serve_with};
pub use wire::checkpoint_origin;

/// The largest request body the API reads (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;
