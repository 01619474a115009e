//! Integration tests of govmesh-store, one binary: the ledger's durability and
//! error behaviour (`ledger`) and the kill -9 crash test (`crash`).

#[path = "support/loggen.rs"]
mod loggen;

mod common;
mod crash;
mod ledger;
