//! Integration tests of govmesh-store, one binary: the ledger's durability and
//! error behaviour (`ledger`), the kill -9 crash test (`crash`) and trust scores
//! computed alike by two stores (`trust`).

#[path = "support/loggen.rs"]
mod loggen;

#[path = "support/evgen.rs"]
mod evgen;

mod common;
mod crash;
mod evidence;
mod full_disk;
mod history;
mod ledger;
mod trust;
