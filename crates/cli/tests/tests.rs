//! Integration tests of the `govmesh` binary: every test runs the real binary as child
//! processes against nodes on loopback ports picked at run time.

#[path = "cli/util.rs"]
mod util;

#[path = "cli/keys.rs"]
mod keys;

#[path = "cli/flow.rs"]
mod flow;

#[path = "cli/demo.rs"]
mod demo;

#[path = "cli/crosscheck.rs"]
mod crosscheck;

#[path = "cli/paging.rs"]
mod paging;

#[path = "cli/join.rs"]
mod join;

#[path = "cli/attest.rs"]
mod attest;

#[path = "cli/hygiene_import.rs"]
mod hygiene_import;

#[path = "cli/mesh.rs"]
mod mesh;

#[path = "../src/faultproxy.rs"]
mod proxy;

#[path = "cli/faults.rs"]
mod faults;

#[path = "cli/verify_mesh.rs"]
mod verify_mesh;

#[path = "cli/secrets.rs"]
mod secrets;

#[path = "cli/schemathesis.rs"]
mod schemathesis;

#[path = "cli/governed_seals.rs"]
mod governed_seals;

#[path = "cli/voting.rs"]
mod voting;

#[path = "cli/rotate.rs"]
mod rotate;

#[path = "cli/reregister.rs"]
mod reregister;

#[path = "cli/tls.rs"]
mod tls;
#[path = "cli/trustobs.rs"]
mod trustobs;

#[path = "cli/benches.rs"]
mod benches;
