//! `govmesh key new` and `govmesh init` without a running node.

use crate::util::*;

#[test]
fn key_new_writes_a_0600_key_and_refuses_to_overwrite() {
    let d = tmp();
    let k = d.path().join("a.key");
    let out = ok(&["key", "new", "--out", s(&k)]);
    assert_eq!(mode(&k), 0o600);
    let text = std::fs::read_to_string(&k).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let node_id = v["node_id"].as_str().unwrap();
    let pk = v["public_key"].as_str().unwrap();
    assert!(out.contains(node_id), "{out}");
    assert!(out.contains(pk), "{out}");

    let err = fails(&["key", "new", "--out", s(&k)], 2);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&k).unwrap(),
        text,
        "key file changed"
    );

    let j = ok_json(&["key", "new", "--json", "--out", s(&d.path().join("b.key"))]);
    assert_eq!(j["public_key"].as_str().unwrap().len(), 44);
}

#[test]
fn init_refuses_bad_inputs_with_one_line() {
    let d = tmp();
    let bad = d.path().join("bad.key");
    std::fs::write(&bad, "{\"kind\": \"nope\"}").unwrap();
    let err = fails(
        &["init", "--data", s(&d.path().join("n")), "--key", s(&bad)],
        2,
    );
    assert!(err.contains("bad.key"), "{err}");
    let err = fails(
        &[
            "init",
            "--data",
            s(&d.path().join("n")),
            "--founder",
            "not-a-key",
        ],
        2,
    );
    assert!(err.contains("not-a-key"), "{err}");

    let n = d.path().join("ok");
    let j = ok_json(&["init", "--json", "--data", s(&n)]);
    assert_eq!(j["mesh_id"].as_str().unwrap().len(), 64);
    let err = fails(&["init", "--data", s(&n)], 2);
    assert!(err.contains("refusing"), "{err}");
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let err = fails(&["vote", "some-id", "maybe"], 2);
    assert!(err.contains("maybe"), "{err}");
    let err = fails(&["key", "new"], 2);
    assert!(err.contains("--out"), "{err}");
    let err = fails(&["propose", "--clause", "5.5"], 2);
    assert!(err.contains("--text"), "{err}");
}

#[test]
fn init_takes_a_founder_as_a_bare_public_key() {
    let d = tmp();
    let other = d.path().join("other.key");
    let k = ok_json(&["key", "new", "--json", "--out", s(&other)]);
    let pk = k["public_key"].as_str().unwrap();
    let data = d.path().join("n");
    ok(&["init", "--data", s(&data), "--founder", pk]);
    let node = Running::start(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"]);
    let nodes = get(&node.url, "/v1/nodes");
    let ids: Vec<&str> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{nodes}");
    // The founder's id is derived from its key, as `key new` derives it.
    assert!(ids.contains(&k["node_id"].as_str().unwrap()), "{nodes}");
}
