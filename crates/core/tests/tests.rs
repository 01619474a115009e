//! The integration tests of govmesh-core, one test binary (as ripgrep's
//! `tests/tests.rs`): each module below is one concern.

mod canonical;
mod checkpoint;
mod crosscheck;
mod intoto;
mod merkle;
mod seed_schemas;
mod state_machine;
mod trust;
