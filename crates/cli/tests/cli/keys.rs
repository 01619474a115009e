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
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
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

/// Issue 16: under `umask 0000`, `init` made the data directory 0777 and `node.json`,
/// `genesis.json` and `LOCK` 0666, so any local user could replace them. The data
/// directory is the owner's (0700) whatever the umask, secrets and the lock 0600,
/// and no file it writes is writable by others; `serve` keeps it so.
#[test]
fn init_and_serve_under_umask_0000_keep_the_data_directory_private() {
    let d = tmp();
    let data = d.path().join("fresh").join("n");
    let exe = env!("CARGO_BIN_EXE_govmesh");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 0000; exec "$0" init --data "$1""#)
        .arg(exe)
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let check = |when: &str| {
        assert_eq!(mode(&data), 0o700, "{when}: the data directory");
        for f in ["node.key", "operator.token", "LOCK"] {
            assert_eq!(mode(&data.join(f)), 0o600, "{when}: {f}");
        }
        for f in ["node.json", "genesis.json"] {
            assert_eq!(mode(&data.join(f)), 0o644, "{when}: {f}");
        }
        for e in std::fs::read_dir(&data).unwrap() {
            let p = e.unwrap().path();
            assert_eq!(
                mode(&p) & 0o022,
                0,
                "{when}: {} is writable by others",
                p.display()
            );
        }
    };
    check("after init");
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg(r#"umask 0000; exec "$0" serve --data "$1" --listen 127.0.0.1:0"#)
        .arg(exe)
        .arg(&data);
    let node = Running::start_command(c);
    assert!(get(&node.url, "/v1/status")["log_size"].as_u64().is_some());
    drop(node);
    check("after serve");
}
