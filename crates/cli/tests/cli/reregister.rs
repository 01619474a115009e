//! `govmesh serve --re-register` with real processes (3 hubs, 1 witness): a node
//! served on another address than its registered one is refused with a message
//! naming `--re-register`; with it, the node submits an `update_node` entry and its
//! peers call it at the new address: the council's leader replicates to the moved hub
//! there (its log grows with new entries only through Raft), and the seal goes on
//! with the moved witness's cosignatures.

use crate::mesh::*;
use crate::util::*;
use std::time::{Duration, Instant};

/// Polls `check` until it holds; panics with `what` after [`WAIT`].
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The size of the seal `url` serves, if any.
fn seal_size(url: &str) -> Option<u64> {
    let r = http().get(format!("{url}/v1/log/seal")).send().ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.text().ok()?.lines().nth(1)?.parse().ok()
}

#[test]
fn a_node_moves_only_when_told_to_re_register_and_its_peers_follow() {
    let mut mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 1,
        forks: 0,
    });
    let hub1 = mesh.node("hub-1").url.clone();
    let key = mesh.node("hub-1").key();
    for name in ["hub-3", "witness-1"] {
        let n = mesh.node(name);
        n.proc.take().unwrap().terminate();
        let old_url = n.url.clone();
        let listen = format!("127.0.0.1:{}", free_port());
        let dir = n.dir.clone();
        let id = n.node_id.clone();
        // Without --re-register: refused, saying how to move.
        let o = govmesh(&["serve", "--data", s(&dir), "--listen", &listen]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("registered at {old_url}")) && e.contains("--re-register"),
            "{e}"
        );
        // --re-register with --behind-proxy contradicts itself.
        let o = govmesh(&[
            "serve",
            "--data",
            s(&dir),
            "--listen",
            &listen,
            "--re-register",
            "--behind-proxy",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        // With it, the node serves there and registers the address.
        n.listen = listen.clone();
        n.url = format!("http://{listen}");
        n.start_with_args(&["--re-register"]);
        let new_url = n.url.clone();
        wait_for(
            &format!("every node registering {name} at {new_url}"),
            || {
                mesh.nodes.iter().filter(|n| n.proc.is_some()).all(|n| {
                    try_get(&n.url, &format!("/v1/nodes/{id}"))
                        .is_some_and(|v| v["network_address"] == new_url.as_str())
                })
            },
        );
        // Served again on the new address, no flag is needed any more.
        let n = mesh.node(name);
        n.proc.take().unwrap().terminate();
        n.start();
    }
    // The leader's council names hub-3 at its new address.
    let hub3_url = mesh.node("hub-3").url.clone();
    let hub3_id = mesh.node("hub-3").node_id.clone();
    wait_for("the council calling hub-3 at its new address", || {
        try_get(&hub1, "/v1/council").is_some_and(|c| {
            c["members"].as_array().is_some_and(|ms| {
                ms.iter()
                    .any(|m| m["node_id"] == hub3_id.as_str() && m["url"] == hub3_url.as_str())
            })
        })
    });
    // New entries reach the moved hub (through Raft, at its new address), and the
    // moved witness cosigns them.
    for i in 0..3 {
        propose(&hub1, &key, i).expect("hub-1 proposes");
    }
    let (size, _) = mesh.converged();
    wait_for(&format!("a seal of size {size}"), || {
        seal_size(&hub1) == Some(size)
    });
    let v = ok_json(&["verify", "--json", "--node", &hub3_url]);
    assert_eq!(v["entries"].as_u64(), Some(size), "{v}");
}
