//! `govmesh key rotate` on a real multi-process mesh (3 hubs, 1 witness, 1 trust
//! fork): a fork, the witness and a hub each replace their key through an
//! `update_node` entry while running; the old key signs nothing new (refused, naming
//! the rotation), the restarted node signs with the new one (the witness's
//! cosignatures seal the log again), and `govmesh verify` replays the whole log,
//! entries signed by the old keys included.

use crate::mesh::*;
use crate::util::*;
use std::time::{Duration, Instant};

/// The public key node `id` has in `url`'s registry.
fn registered_key(url: &str, id: &str) -> Option<String> {
    try_get(url, &format!("/v1/nodes/{id}"))?["public_key"]
        .as_str()
        .map(str::to_owned)
}

/// A node's name, the key it has registered for a node, and its log head.
type View = (String, Option<String>, Option<(u64, String)>);

/// Waits until the registry of every running node (`hubs_only`: every hub but node
/// `id` itself) gives node `id` the key `pk`. Witnesses and forks take entries in once
/// a seal covers them, which after a witness's rotation needs that witness restarted
/// with its new key. A hub still running with its old key may not take in the entry
/// that rotates it: once the leader has applied it, the leader's requests to that hub
/// are made for the new key, so the hub catches up only once restarted with it.
fn wait_registered(mesh: &Mesh, id: &str, pk: &str, hubs_only: bool) {
    let deadline = Instant::now() + WAIT;
    while !mesh
        .nodes
        .iter()
        .filter(|n| {
            n.proc.is_some() && (!hubs_only || (n.node_type == "governance_hub" && n.node_id != id))
        })
        .all(|n| registered_key(&n.url, id).as_deref() == Some(pk))
    {
        // Each node's name, registered key for `id` and log head, for the message.
        let views: Vec<View> = mesh
            .nodes
            .iter()
            .filter(|n| n.proc.is_some())
            .map(|n| (n.name.clone(), registered_key(&n.url, id), log_head(&n.url)))
            .collect();
        assert!(
            Instant::now() < deadline,
            "not every node registers key {pk} for {id} within {WAIT:?}: {views:?}"
        );
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
fn every_role_rotates_its_key_and_the_log_still_verifies() {
    let mut mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 1,
        forks: 1,
    });
    let hub1 = mesh.node("hub-1").url.clone();
    // An entry signed by hub-2's first key, before any rotation.
    let hub2_key = mesh.node("hub-2").key();
    propose(&hub1, &hub2_key, 1).expect("hub-2 proposes with its first key");
    let keep = tmp();
    for name in ["fork-1", "witness-1", "hub-2"] {
        let n = mesh.node(name);
        let (dir, id) = (n.dir.clone(), n.node_id.clone());
        let old_copy = keep.path().join(format!("{name}.old.key"));
        std::fs::copy(n.key(), &old_copy).unwrap();
        let old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(n.key()).unwrap()).unwrap();
        // Through the node itself (it is running).
        let r = ok_json(&["--json", "key", "rotate", "--data", s(&dir)]);
        assert_eq!(r["node_id"], id.as_str(), "{r}");
        assert_eq!(r["restart_needed"], true, "{r}");
        let new_pk = r["public_key"].as_str().unwrap().to_owned();
        assert_ne!(new_pk, old["public_key"].as_str().unwrap(), "{name}: {r}");
        assert!(r["index"].as_u64().is_some(), "{r}");
        // The key file is replaced in place, owner-only, the staged copy gone, and
        // node.json names the new key.
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("node.key")).unwrap()).unwrap();
        assert_eq!(file["public_key"], new_pk.as_str());
        assert_eq!(file["node_id"], id.as_str());
        assert_eq!(mode(&dir.join("node.key")), 0o600);
        assert!(!dir.join("node.key.next").exists());
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("node.json")).unwrap()).unwrap();
        assert_eq!(info["public_key"], new_pk.as_str());
        // Restarted, the node signs with its new key (until then it holds the old one:
        // a rotated hub's peers no longer accept its requests).
        let n = mesh.node(name);
        n.proc.take().unwrap().terminate();
        n.start();
        wait_registered(&mesh, &id, &new_pk, false);
        mesh.leader();

        // The old key signs nothing new: refused, naming the rotation.
        let e = fails(
            &[
                "propose",
                "--node",
                &hub1,
                "--key",
                s(&old_copy),
                "--clause",
                "11.1",
                "--text",
                "By a replaced key.",
                "--rationale",
                "r",
            ],
            1,
        );
        assert!(e.contains("replaced by a key rotation"), "{name}: {e}");

        // The new key signs: a second rotation, through another node.
        let again = ok_json(&[
            "--json",
            "key",
            "rotate",
            "--data",
            s(&dir),
            "--node",
            &hub1,
        ]);
        assert_eq!(again["old_keyid"], r["keyid"], "{name}: {again}");
        let again_pk = again["public_key"].as_str().unwrap().to_owned();
        wait_registered(&mesh, &id, &again_pk, true);
        let n = mesh.node(name);
        n.proc.take().unwrap().terminate();
        n.start();
        wait_registered(&mesh, &id, &again_pk, false);
        mesh.leader();
    }
    // A rotated hub proposes with its current key.
    let hub2_key = mesh.node("hub-2").key();
    propose(&hub1, &hub2_key, 2).expect("hub-2 proposes with its new key");

    // The restarted witness cosigns with its new key: the seal covers the whole log.
    let deadline = Instant::now() + WAIT;
    let size = loop {
        let (size, _) = mesh.converged();
        if seal_size(&hub1) == Some(size) {
            break size;
        }
        assert!(
            Instant::now() < deadline,
            "no seal of size {size} within {WAIT:?} after the witness's rotation"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The whole log, entries signed by the replaced keys included, verifies through
    // every role.
    for name in ["hub-1", "witness-1", "fork-1"] {
        let url = mesh.node(name).url.clone();
        let v = ok_json(&["verify", "--json", "--node", &url]);
        assert!(v["entries"].as_u64().unwrap() >= size, "{name}: {v}");
    }
}
