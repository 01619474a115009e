//! govmesh-node: one node of a governance mesh, on top of the pure core and the SQLite
//! store. It keeps the node's data directory, orders entries into the governance log
//! (governance hubs through a Raft council, other nodes by forwarding to a hub and
//! replicating the log back), serves the HTTP API, and runs the mesh's services:
//! seals with witness cosignatures, the compliance witness, gossip, sync
//! acknowledgements and the close loop.
//!
//! The rooms, from the bottom up:
//! - [`shared`] (`Shared`: identity, key, ledger, registry view, orderer, origin, log
//!   notifier), with `order`, `error`, `extract`, `wire`, `datadir`, [`peer_auth`]
//!   and `route_table` beside it: they import no subsystem.
//! - The subsystems, each with its HTTP handlers next to its logic and a `routes()`
//!   plus `ROUTES`: [`council`] (hubs), [`seal`], [`witness`], [`replicate`]
//!   (non-hubs; the forwarding orderer), [`gossip`], [`attest`], `trust` (the trust scores), `acks` (no routes),
//!   `api` (the read endpoints and entry submission), `operator`, `metrics`
//!   (`/metrics`, `/healthz`, `/readyz`, reading `telemetry`'s counters) and `dashboard`
//!   (the HTML pages over the same views).
//! - At the top: `app` ([`AppState`], the composed node) and `serve` ([`router`],
//!   which merges the rooms' routers, [`ROUTES`], [`serve`]).
//!
//! Entry points: [`init`] and [`load`] (data directory), [`serve`] (bind and run),
//! [`router`] with [`AppState`] (the HTTP API without a socket, for tests).
#![forbid(unsafe_code)]

mod acks;
mod api;
mod app;
pub mod attest;
pub mod bodies;
pub mod council;
mod dashboard;
pub mod datadir;
mod error;
mod extract;
pub mod gossip;
mod metrics;
mod operator;
mod order;
mod page;
pub mod peer_auth;
mod ports;
mod refusals;
pub mod replicate;
mod route_table;
pub mod seal;
mod serve;
pub mod shared;
mod telemetry;
#[cfg(test)]
mod test_util;
mod tls;
mod trust;
mod wire;
pub mod witness;

pub use api::{MAX_PAGE, OPENAPI_JSON};
pub use app::AppState;
pub use datadir::{
    GENESIS_FILE, InitOptions, KEY_FILE, LEDGER_FILE, NODE_FILE, NodeInfo, TOKEN_FILE, URL_FILE,
    generate_key, init, join, load, load_key, load_token, mesh_genesis, read_genesis,
};
pub use error::{ApiError, NodeError};
pub use order::{Committed, LogNotify, Orderer, SharedLedger, SingleHub, SubmitError, now};
pub use ports::free_loopback_port;
pub use serve::{ROUTES, RunningNode, ServeOptions, ShutdownHandle, router, serve, serve_with};
pub use shared::Shared;
pub use tls::{TlsFiles, server_config as tls_server_config};
pub use wire::checkpoint_origin;

/// The largest request body the API reads (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;
