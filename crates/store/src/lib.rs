//! govmesh-store: SQLite persistence of a node's governance log.
//!
//! - [`Store`] is the raw database (one file, WAL, `synchronous=FULL` unless deferred, an exclusive
//!   `LOCK` file in its directory): log records, the list of state snapshot files
//!   (in `snapshots/`), meta values. See
//!   the crate's README.md for the tables.
//!   Closed proposals live in its `proposals` table ([`HistoryRow`]); recorded
//!   equivocations, checkpoint forks, attestations and sync acks in theirs
//!   ([`HistoryBatch`], schema 5).
//! - [`Ledger`] is what a node uses: the store plus the [`State`](govmesh_core::state::State)
//!   and [`MerkleTree`](govmesh_core::merkle::MerkleTree) rebuilt from it, appending
//!   entries through the state machine and durably before returning.
//! - [`RegistryView`] is the node registry as of the ledger's last write, readable
//!   without the ledger's lock.
//! - [`raft::RaftStore`] is the Raft council's log, vote and snapshot metadata (`raft.db`).
//! - [`open_side_db`] opens the small SQLite files a node keeps beside them (`seal.db`,
//!   `witness.db`).
#![forbid(unsafe_code)]

mod archive;
mod history;
mod ledger;
pub mod raft;
mod registry;
mod side_db;
mod store;

pub use archive::{AttestationFilter, EquivocationFilter, HistoryBatch, Unserializable};
pub use history::{HistoryRow, ProposalFilter, status_name};
pub use ledger::{
    Appended, DB_FILE, Ledger, LedgerError, LedgerOptions, LedgerStats, OpenReport, ProposalPage,
};
pub use registry::{RegisteredNode, Registry, RegistryView};
/// The SQLite binding the side databases use (so their users need no own dependency).
pub use rusqlite;
pub use side_db::{SideDbError, open_side_db};
pub use store::{
    HistoryTable, LOCK_FILE, MAX_PAGE, RecordFilter, RecordRow, SCHEMA_VERSION, SNAPSHOT_DIR,
    Snapshot, SnapshotFile, SnapshotSource, Store, StoreError, private_dir, remove_snapshot_files,
    write_snapshot_file,
};
