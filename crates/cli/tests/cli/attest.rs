//! `govmesh hygiene check --attest --key K --node URL` against a real served node:
//! the signed in-toto hygiene statement is submitted as an `attest` entry, the command
//! prints its log index, and `GET /v1/attestations` lists it by subject and contract;
//! a key the mesh does not know is refused by the node.

use crate::util::*;
use std::path::Path;

fn git(repo: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .expect("git must be installed for this test");
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn hygiene_attestation_is_submitted_and_listed() {
    let dir = tmp();
    let key = dir.path().join("hub.key");
    ok(&["key", "new", "--out", s(&key)]);
    let data = dir.path().join("node");
    ok(&[
        "init",
        "--data",
        s(&data),
        "--mesh-name",
        "attest-mesh",
        "--key",
        s(&key),
    ]);
    let node = Running::start(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"]);

    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# demo\n\n## License\n\nMIT\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "x",
        ],
    );
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    let out_file = dir.path().join("attestation.json");
    let o = govmesh(&[
        "hygiene",
        "check",
        s(&repo),
        "--format",
        "json",
        "--node",
        &node.url,
        "--attest",
        "--key",
        s(&key),
        "--attest-out",
        s(&out_file),
    ]);
    let err = stderr(&o);
    // No LICENSE, no SPDX headers: error findings, exit 1, still attested.
    assert_eq!(o.status.code(), Some(1), "{err}\n{}", stdout(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    let line = err
        .lines()
        .find(|l| l.contains("log index"))
        .unwrap_or_else(|| panic!("no index printed: {err}"));
    let index: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(index >= 1, "{line}");

    let listed = get(&node.url, &format!("/v1/attestations?subject={commit}"));
    assert_eq!(listed["total"], 1, "{listed}");
    let a = &listed["attestations"][0];
    assert_eq!(a["index"], index);
    assert_eq!(a["predicate"]["passed"], false);
    assert_eq!(a["predicate"]["clause_id"], "5.2.5");
    assert_eq!(
        a["predicate"]["summary"]["errors"],
        report["summary"]["errors"]
    );
    assert_eq!(a["statement"]["subject"][0]["digest"]["gitCommit"], commit);
    let contract = get(&node.url, "/v1/contracts/codex");
    let hashes = get(&node.url, "/v1/contracts/codex/clause-hashes");
    assert_eq!(
        a["predicate"]["clause_hash"],
        hashes["clause_hashes"]["5.2.5"]
    );
    assert_eq!(a["predicate"]["revision"], contract["revision"]);
    // The envelope written to --attest-out is the one in the log.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(a["envelope"], written);
    // Filters.
    let none = get(&node.url, "/v1/attestations?contract=other");
    assert_eq!(none["total"], 0);
    let none = get(
        &node.url,
        &format!("/v1/attestations?subject={}", "0".repeat(40)),
    );
    assert_eq!(none["total"], 0);
    let all = get(&node.url, "/v1/attestations?contract=codex&revision=1");
    assert_eq!(all["total"], 1);
    let r = http()
        .get(format!("{}/v1/attestations?subject=nothex", node.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http()
        .get(format!("{}/v1/attestations?colour=red", node.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // A key the mesh does not know: the node refuses the entry.
    let stranger = dir.path().join("stranger.key");
    ok(&["key", "new", "--out", s(&stranger)]);
    let o = govmesh(&[
        "hygiene",
        "check",
        s(&repo),
        "--node",
        &node.url,
        "--attest",
        "--key",
        s(&stranger),
    ]);
    // (A node's refusal exits 1, as everywhere in the CLI.)
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown_signer"), "{}", stderr(&o));
    let listed = get(&node.url, "/v1/attestations");
    assert_eq!(listed["total"], 1);

    // --attest without --key is a usage error.
    let o = govmesh(&[
        "hygiene",
        "check",
        s(&repo),
        "--node",
        &node.url,
        "--attest",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
