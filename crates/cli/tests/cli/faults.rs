//! Fault tests with real `govmesh serve` processes: the Raft leader killed with
//! SIGKILL while entries are submitted loses no acknowledged entry and no node
//! diverges; a trust fork killed and restarted catches up.

use crate::mesh::*;
use crate::util::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every acknowledged proposal is served by every node.
fn assert_everywhere(mesh: &Mesh, ids: &[String]) {
    for n in &mesh.nodes {
        for id in ids {
            assert!(
                try_get(&n.url, &format!("/v1/proposals/{id}")).is_some(),
                "{} lacks acknowledged proposal {id}",
                n.name
            );
        }
    }
}

#[test]
fn killing_the_leader_loses_no_acknowledged_entry() {
    let mut mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 1,
        forks: 1,
    });
    let leader = mesh.leader();
    let key = mesh.node("hub-2").key();
    let urls: Vec<String> = mesh.nodes.iter().map(|n| n.url.clone()).collect();

    // A client submits through every node in turn, and keeps what was acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let submitter = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                if let Some(id) = propose(&urls[i % urls.len()], &key, i) {
                    acked.lock().unwrap().push(id);
                }
                i += 1;
            }
        })
    };
    let wait_acks = |n: usize| {
        let deadline = Instant::now() + WAIT;
        while acked.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} entries acknowledged"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_acks(4);
    let name = mesh
        .nodes
        .iter()
        .find(|n| n.node_id == leader)
        .unwrap()
        .name
        .clone();
    mesh.node(&name).kill9();
    let before = acked.lock().unwrap().len();
    let new_leader = mesh.leader();
    assert_ne!(new_leader, leader);
    // The survivors go on committing.
    wait_acks(before + 4);
    stop.store(true, Ordering::SeqCst);
    submitter.join().unwrap();

    mesh.node(&name).start();
    let (size, _) = mesh.converged();
    let ids = acked.lock().unwrap().clone();
    assert!(
        size as usize > ids.len(),
        "size {size} for {} acks",
        ids.len()
    );
    assert_everywhere(&mesh, &ids);
}

#[test]
fn a_trust_fork_killed_and_restarted_catches_up() {
    let mut mesh = Mesh::start(Plan {
        hubs: 1,
        witnesses: 1,
        forks: 1,
    });
    let hub = mesh.node("hub-1").url.clone();
    let key = mesh.node("hub-1").key();
    let first = propose(&hub, &key, 0).expect("acknowledged");
    mesh.converged();
    mesh.node("fork-1").kill9();
    let mut ids = vec![first];
    for i in 1..4 {
        ids.push(propose(&hub, &key, i).expect("acknowledged"));
    }
    mesh.node("fork-1").start();
    mesh.converged();
    assert_everywhere(&mesh, &ids);
}
