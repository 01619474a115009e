//! Clause 5.4's witness list and clause 11.0's checkpoint cadence govern the seals of
//! a real multi-process mesh (3 hubs, 2 witnesses, 1 trust fork, each its own `govmesh
//! serve`): after the council adopts a witness list without witness-2 and a threshold
//! of 1, the seals every node serves carry witness-1's cosignature alone and `govmesh
//! verify` accepts them against the log's own rules; after it adopts a
//! `max_interval_secs` of 1, the quiet log's seal is cosigned again every second and
//! reaches the fork renewed.

use crate::mesh::*;
use crate::util::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn seal_text(url: &str) -> Option<String> {
    let r = http().get(format!("{url}/v1/log/seal")).send().ok()?;
    r.status().is_success().then(|| r.text().ok()).flatten()
}

/// (size, witness key names) of a seal's text.
fn seal_parts(text: &str) -> (u64, Vec<String>) {
    let (body, sigs) = text.split_once("\n\n").unwrap();
    let size = body.lines().nth(1).unwrap().parse().unwrap();
    let names = sigs
        .lines()
        .filter_map(|l| l.strip_prefix("\u{2014} ")?.split(' ').next())
        .filter(|n| n.starts_with("govmesh-witness/"))
        .map(str::to_owned)
        .collect();
    (size, names)
}

/// Polls `url`'s seal until `done` accepts it.
fn seal_until(url: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = seal_text(url);
        if let Some(t) = &text
            && done(t)
        {
            return t.clone();
        }
        assert!(Instant::now() < deadline, "{what}: {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Proposes `patch` to `clause` of the Codex through hub-1 and has hubs 1 and 2
/// approve (two of three decide); returns the proposal's record.
fn adopt(mesh: &mut Mesh, clause: &str, patch: Value) -> Value {
    let url = mesh.node("hub-1").url.clone();
    let codex = get(&url, "/v1/contracts/codex");
    let text = codex["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clause_id"] == clause)
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = tmp();
    let file = d.path().join("patch.json");
    std::fs::write(&file, serde_json::to_vec(&patch).unwrap()).unwrap();
    let key1 = mesh.node("hub-1").key();
    let pid = ok(&[
        "propose",
        "--node",
        &url,
        "--key",
        s(&key1),
        "--clause",
        clause,
        "--text",
        &text,
        "--rationale",
        "governed seals",
        "--rules-patch",
        s(&file),
    ])
    .trim()
    .to_owned();
    for hub in ["hub-1", "hub-2"] {
        let key = mesh.node(hub).key();
        ok(&["vote", "--node", &url, "--key", s(&key), &pid, "approve"]);
    }
    let p = get(&url, &format!("/v1/proposals/{pid}"));
    assert_eq!(p["status"], "adopted", "{p}");
    p
}

#[test]
fn the_adopted_witness_list_and_cadence_govern_the_seals_of_a_mesh() {
    let mut mesh = Mesh::start(Plan {
        hubs: 3,
        witnesses: 2,
        forks: 1,
    });
    let id = |mesh: &mut Mesh, name: &str| mesh.node(name).node_id.clone();
    let (w1, w2) = (id(&mut mesh, "witness-1"), id(&mut mesh, "witness-2"));
    let fork_url = mesh.node("fork-1").url.clone();
    let name = |id: &str| format!("govmesh-witness/{id}");

    // The Codex lists both witnesses with a threshold of 2: seals carry both.
    let seal = seal_until(&fork_url, "no seal on the fork", |t| seal_parts(t).0 >= 1);
    let (_, names) = seal_parts(&seal);
    assert!(
        names.contains(&name(&w1)) && names.contains(&name(&w2)),
        "{seal}"
    );

    // Witness-2 leaves the list; the threshold becomes 1.
    adopt(
        &mut mesh,
        "5.4",
        json!([{"op": "replace", "path": "/witnesses", "value": [w1]},
               {"op": "replace", "path": "/seal_threshold", "value": 1}]),
    );
    // Then the cadence: a seal a second old is renewed.
    let p = adopt(
        &mut mesh,
        "11.0",
        json!([{"op": "replace", "path": "/checkpoint/max_interval_secs", "value": 1}]),
    );
    assert_eq!(p["voting_result"]["approve_votes"], 2, "{p}");
    let (size, _) = mesh.converged();

    // Every node serves a seal of the whole log, cosigned by witness-1 alone.
    for n in ["hub-1", "hub-2", "hub-3", "fork-1", "witness-1"] {
        let url = mesh.node(n).url.clone();
        let seal = seal_until(&url, &format!("{n} has no seal of the log"), |t| {
            seal_parts(t).0 >= size
        });
        let (_, names) = seal_parts(&seal);
        assert_eq!(names, vec![name(&w1)], "{n}: {seal}");
    }
    // `govmesh verify` checks the fork's seal against the rules the log adopted.
    let v = ok_json(&["verify", "--json", "--node", &fork_url]);
    assert_eq!(v["seal"]["threshold"], 1, "{v}");
    assert_eq!(v["seal"]["cosigned_by"], json!([w1]), "{v}");

    // Nothing more is written: the fork still receives renewed seals of the log
    // (the same checkpoint, a new cosignature).
    let (size, _) = mesh.converged();
    let first = seal_until(&fork_url, "no seal of the quiet log", |t| {
        seal_parts(t).0 == size
    });
    let renewed = seal_until(&fork_url, "the fork got no renewed seal", |t| {
        seal_parts(t).0 == size && t != first
    });
    assert_eq!(seal_parts(&renewed).1, vec![name(&w1)], "{renewed}");
    assert_eq!(mesh.converged().0, size, "renewals write no entries");
    ok(&["verify", "--node", &fork_url]);
}
