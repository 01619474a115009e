//! `govmesh init` founds a mesh with founders of every role and writes `genesis.json`;
//! `govmesh init --genesis FILE --key FILE` joins it with the same genesis record; a
//! `serve` without `--listen` comes back on the node's recorded address.

use crate::util::*;

#[test]
fn founders_of_every_role_join_one_genesis() {
    let d = tmp();
    let p = d.path();
    for name in ["hub2", "wit", "fork", "stranger"] {
        ok(&["key", "new", "--out", s(&p.join(format!("{name}.key")))]);
    }
    let hub2 = format!("{}@http://127.0.0.1:7002", s(&p.join("hub2.key")));
    let wit = format!("{}@http://127.0.0.1:7003", s(&p.join("wit.key")));
    let fork = s(&p.join("fork.key")).to_owned();
    let founded = ok_json(&[
        "--json",
        "init",
        "--data",
        s(&p.join("hub1")),
        "--mesh-name",
        "joined",
        "--network-address",
        "http://127.0.0.1:7001",
        "--founder",
        &hub2,
        "--witness",
        &wit,
        "--fork",
        &fork,
    ]);
    assert_eq!(founded["node_type"], "governance_hub");
    assert_eq!(founded["listen"], "127.0.0.1:7001");
    let genesis = p.join("hub1/genesis.json");
    assert!(genesis.exists());

    for (name, ty, listen) in [
        ("hub2", "governance_hub", Some("127.0.0.1:7002")),
        ("wit", "compliance_witness", Some("127.0.0.1:7003")),
        ("fork", "trust_fork", None),
    ] {
        let j = ok_json(&[
            "--json",
            "init",
            "--data",
            s(&p.join(name)),
            "--genesis",
            s(&genesis),
            "--key",
            s(&p.join(format!("{name}.key"))),
        ]);
        assert_eq!(j["node_type"], ty, "{j}");
        assert_eq!(j["mesh_id"], founded["mesh_id"], "{j}");
        assert_eq!(j["listen"].as_str(), listen, "{j}");
        // The genesis record is the same bytes in every directory.
        assert_eq!(
            std::fs::read(p.join(name).join("genesis.json")).unwrap(),
            std::fs::read(&genesis).unwrap()
        );
    }

    let err = fails(
        &[
            "init",
            "--data",
            s(&p.join("stranger")),
            "--genesis",
            s(&genesis),
            "--key",
            s(&p.join("stranger.key")),
        ],
        2,
    );
    assert!(err.contains("not a founder"), "{err}");
    let err = fails(
        &["init", "--data", s(&p.join("x")), "--genesis", s(&genesis)],
        2,
    );
    assert!(err.contains("--key"), "{err}");

    // The fork serves on a free port; restarted without --listen it comes back there,
    // with the same log as its founder.
    let run = Running::start(&[
        "serve",
        "--data",
        s(&p.join("fork")),
        "--listen",
        "127.0.0.1:0",
    ]);
    let url = run.url.clone();
    let root = get(&url, "/v1/status")["root"].clone();
    assert_eq!(run.terminate().code(), Some(0));
    let again = Running::start(&["serve", "--data", s(&p.join("fork"))]);
    assert_eq!(again.url, url);
    assert_eq!(get(&again.url, "/v1/status")["root"], root);
}
