//! Issue 14 on a real mesh of `govmesh serve` processes: a hub that signs two
//! different votes on one proposal is suspended, at once and on every node, by the
//! entry that proves it; every node then refuses its votes and proposals naming the
//! suspension; an adopted proposal restores its rights everywhere.

use crate::mesh::*;
use crate::util::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Polls `path` on `url` until `pred` holds (panics after 60 s with the last answer).
fn wait_for(url: &str, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = try_get(url, path);
        if let Some(v) = &v
            && pred(v)
        {
            return v.clone();
        }
        assert!(Instant::now() < deadline, "{url}{path}: {v:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_hub_that_double_votes_is_suspended_on_every_node_until_restored() {
    let mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 1,
        forks: 1,
    });
    let (h1, h2, h3) = (&mesh.nodes[0], &mesh.nodes[1], &mesh.nodes[2]);
    let pid = propose(&h2.url, &h2.key(), 1).expect("hub-2 proposes");
    let vote = |via: &MeshNode, by: &MeshNode, choice: &str, seq: &str| {
        govmesh(&[
            "--json",
            "vote",
            "--node",
            &via.url,
            "--key",
            s(&by.key()),
            &pid,
            choice,
            "--sequence",
            seq,
        ])
    };
    assert!(vote(h1, h1, "approve", "0").status.success());
    // The same sequence, another choice, sent through another hub.
    let o = vote(h3, h1, "reject", "0");
    assert!(o.status.success(), "{}", stderr(&o));
    let events: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["equivocation_recorded", "node_suspended"],
        "{events:#}"
    );
    let evidence_index = events["index"].as_u64().unwrap();
    mesh.converged();
    // Every node, witness and trust fork included, holds the same suspension.
    for n in &mesh.nodes {
        let v = wait_for(&n.url, &format!("/v1/nodes/{}", h1.node_id), |v| {
            !v["suspension"].is_null()
        });
        assert_eq!(
            v["suspension"]["evidence_index"], evidence_index,
            "{}",
            n.name
        );
        let reason = v["suspension"]["reason"].as_str().unwrap();
        assert!(reason.contains("double vote"), "{}: {reason}", n.name);
        let eq = get(&n.url, "/v1/equivocations");
        assert_eq!(
            eq["equivocations"][0]["voter"],
            h1.node_id.as_str(),
            "{}",
            n.name
        );
    }
    // Refused through any node, with an error naming the suspension.
    for via in [h1, h2, h3] {
        let err = fails(
            &[
                "propose",
                "--node",
                &via.url,
                "--key",
                s(&h1.key()),
                "--clause",
                "11.1",
                "--text",
                "t",
                "--rationale",
                "r",
            ],
            1,
        );
        assert!(err.contains("suspended"), "{err}");
        assert!(err.contains("restores its rights"), "{err}");
    }
    let other = propose(&h2.url, &h2.key(), 2).expect("hub-2 proposes again");
    let o = govmesh(&[
        "vote",
        "--node",
        &h2.url,
        "--key",
        s(&h1.key()),
        &other,
        "approve",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("suspended"), "{}", stderr(&o));
    // The two hubs with rights restore hub-1's.
    let restore = ok(&[
        "restore",
        "--node",
        &h2.url,
        "--key",
        s(&h2.key()),
        &h1.node_id,
        "--rationale",
        "the double vote was a misconfigured client",
    ]);
    let restore = restore.trim();
    for by in [h2, h3] {
        ok(&[
            "vote",
            "--node",
            &by.url,
            "--key",
            s(&by.key()),
            restore,
            "approve",
        ]);
    }
    for n in &mesh.nodes {
        wait_for(&n.url, &format!("/v1/nodes/{}", h1.node_id), |v| {
            v["suspension"].is_null()
        });
        let p = get(&n.url, &format!("/v1/proposals/{restore}"));
        assert_eq!(p["status"], "adopted", "{}", n.name);
        assert_eq!(p["restore_rights"], h1.node_id.as_str(), "{}", n.name);
    }
    let fresh = propose(&h1.url, &h1.key(), 3).expect("hub-1 proposes again");
    assert!(!fresh.is_empty());
}
