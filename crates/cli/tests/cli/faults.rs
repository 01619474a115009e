//! Fault tests with real `govmesh serve` processes: the Raft leader killed with
//! SIGKILL while entries are submitted loses no acknowledged entry and no node
//! diverges; a trust fork killed and restarted catches up; a leader cut off by
//! fault-injecting proxies commits nothing while the majority goes on.

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

/// The leader among `names` as those hubs see it, once they agree on one that is not
/// `not` (panics after [`WAIT`]).
fn leader_seen_by(mesh: &Mesh, names: &[&str], not: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let seen: Vec<Option<String>> = names
            .iter()
            .map(|n| {
                let url = &mesh.nodes.iter().find(|x| x.name == *n).unwrap().url;
                try_get(url, "/v1/council")
                    .and_then(|v| v["leader"]["node_id"].as_str().map(str::to_owned))
            })
            .collect();
        if let Some(Some(l)) = seen.first()
            && l != not
            && seen.iter().all(|s| s.as_deref() == Some(l))
        {
            return l.clone();
        }
        assert!(Instant::now() < deadline, "no common leader: {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn vote(url: &str, key: &std::path::Path, pid: &str) -> bool {
    let o = govmesh(&["vote", "--node", url, "--key", s(key), pid, "approve"]);
    if !o.status.success() {
        eprintln!("vote through {url} not acknowledged: {}", stderr(&o));
    }
    o.status.success()
}

/// The leader cut off by the proxies (every registry address is one) while a proposal
/// is voted: it commits nothing, the majority elects another leader and adopts the
/// proposal, and after healing every node holds the same log.
#[test]
fn a_leader_cut_off_commits_nothing_while_the_majority_adopts() {
    use crate::proxy::{Faults, Proxy};
    let faults = Faults::new();
    let proxies = std::cell::RefCell::new(Vec::new());
    // Every registry address is a proxy (a hub cut off from the hubs could still pull
    // the log from a witness reached directly).
    let mut mesh = Mesh::start_with(
        Plan {
            hubs: 3,
            witnesses: 1,
            forks: 0,
        },
        |_, listen| {
            let p = Proxy::start(listen, faults.clone()).unwrap();
            let url = p.url.clone();
            proxies.borrow_mut().push(p);
            url
        },
    );
    assert_eq!(
        proxies.borrow().len(),
        mesh.nodes.len(),
        "one proxy per node"
    );
    for (p, n) in proxies.borrow().iter().zip(&mesh.nodes) {
        p.set_target_id(&n.node_id);
    }
    let hub1 = mesh.node("hub-1").url.clone();
    let pid = propose(&hub1, &mesh.node("hub-1").key(), 0).expect("acknowledged");
    mesh.converged();

    let leader = mesh.leader();
    let cut = mesh
        .nodes
        .iter()
        .find(|n| n.node_id == leader)
        .unwrap()
        .name
        .clone();
    let majority: Vec<String> = mesh
        .hubs()
        .filter(|h| h.name != cut)
        .map(|h| h.name.clone())
        .collect();
    let (cut_url, cut_key) = (mesh.node(&cut).url.clone(), mesh.node(&cut).key());
    let cut_pid = mesh.node(&cut).proc.as_ref().unwrap().child.id();
    faults.cut_off(&leader, cut_pid);

    // The cut-off leader is asked to commit its own vote: it cannot.
    let minority_vote = {
        let (url, key, pid) = (cut_url.clone(), cut_key.clone(), pid.clone());
        std::thread::spawn(move || vote(&url, &key, &pid))
    };
    let names: Vec<&str> = majority.iter().map(String::as_str).collect();
    let new_leader = leader_seen_by(&mesh, &names, &leader);
    assert_ne!(new_leader, leader);
    // Entries the majority acknowledged before the cut are applied by now (an election
    // took longer than that); from here the cut-off leader's log must not grow.
    let (cut_size, _) = log_head(&cut_url).unwrap();
    for name in &majority {
        let n = mesh.node(name);
        let (url, key, id) = (n.url.clone(), n.key(), n.node_id.clone());
        // A client retries until its vote is in (a first try may meet a hub whose
        // view of the leader is a moment old).
        let deadline = Instant::now() + WAIT;
        while !vote(&url, &key, &pid) {
            assert!(Instant::now() < deadline, "{name}'s vote not committed");
            let Some(p) = try_get(&url, &format!("/v1/proposals/{pid}")) else {
                continue;
            };
            let voted = p["votes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["voter"] == id);
            // Adopted by the votes already in (the policy may need only one approve).
            if voted || p["status"] == "adopted" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}'s vote not committed; cut-off leader {leader}; proposal: {p}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let maj_url = mesh.node(&majority[0]).url.clone();
    let deadline = Instant::now() + WAIT;
    while try_get(&maj_url, &format!("/v1/proposals/{pid}"))
        .is_none_or(|p| p["status"] != "adopted")
    {
        assert!(
            Instant::now() < deadline,
            "the majority did not adopt {pid}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The minority committed nothing: every entry the cut-off leader holds is the
    // majority's (its log is a prefix of theirs — entries the majority committed may
    // still reach it by a path the proxies do not see), and its vote was not
    // acknowledged (still waiting, or refused).
    let (grown, _) = log_head(&cut_url).unwrap();
    let records = |url: &str, n: u64| {
        try_get(url, &format!("/v1/log/entries?start=0&end={n}")).unwrap()["entries"].clone()
    };
    assert_eq!(
        records(&cut_url, grown),
        records(&maj_url, grown),
        "the cut-off leader holds entries the majority does not"
    );
    let p = try_get(&maj_url, &format!("/v1/proposals/{pid}")).unwrap();
    assert!(
        !p["votes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["voter"] == leader.as_str()),
        "the cut-off leader's vote reached the majority: {p}"
    );
    if grown != cut_size {
        eprintln!(
            "note: the cut-off leader received {} majority entries",
            grown - cut_size
        );
    }
    let acked_in_cut = minority_vote.is_finished() && minority_vote.join().unwrap();
    assert!(!acked_in_cut, "the cut-off leader acknowledged a vote");

    faults.heal();
    mesh.converged();
    for n in &mesh.nodes {
        assert_eq!(
            try_get(&n.url, &format!("/v1/proposals/{pid}")).unwrap()["status"],
            "adopted",
            "{}",
            n.name
        );
    }
}
