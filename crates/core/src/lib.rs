//! govmesh-core: the pure governance model of govmesh.
//!
//! Canonical JSON, hashing, Ed25519 keys, DSSE envelopes, in-toto statements, the
//! RFC 6962 Merkle log, C2SP checkpoints, the contract/proposal/domain model and the
//! state machine that applies signed log entries. No I/O, no clock, no async runtime:
//! time enters only as the timestamp the council stamped on an entry.
#![forbid(unsafe_code)]

pub mod attestation;
pub mod audit;
pub mod canonical;
pub mod checkpoint;
pub mod codex;
pub mod cosign;
pub mod diff;
pub mod digest;
pub mod dsse;
pub mod entry;
pub mod evidence;
pub mod intoto;
pub mod keys;
pub mod merkle;
pub mod model;
pub mod patch;
pub mod rules;
pub mod schema;
pub mod seal;
pub mod stamp;
pub mod state;
pub mod sync;
pub mod tally;
pub mod topology;
pub mod trust;
pub mod trust_view;

pub use digest::Digest;
pub use stamp::Timestamp;
