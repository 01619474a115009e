//! The one-node story through the CLI: three founders' keys, `init` + `serve`, a
//! proposal voted into revision 2 with locally signed entries, the read commands,
//! `verify` against the node and an exported file, tampered exports, refusals, and a
//! restart that finds everything again.

use crate::util::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::path::Path;

struct Mesh {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    keys: Vec<std::path::PathBuf>,
    node: Running,
}

fn mesh() -> Mesh {
    let dir = tmp();
    let keys: Vec<_> = (1..=3)
        .map(|i| {
            let k = dir.path().join(format!("hub-{i}.key"));
            ok(&["key", "new", "--out", s(&k)]);
            k
        })
        .collect();
    let data = dir.path().join("node");
    ok(&[
        "init",
        "--data",
        s(&data),
        "--mesh-name",
        "test-mesh",
        "--key",
        s(&keys[0]),
        "--founder",
        s(&keys[1]),
        "--founder",
        s(&keys[2]),
    ]);
    let node = Running::start(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0"]);
    let written = std::fs::read_to_string(data.join("node.url")).unwrap();
    assert_eq!(written.trim(), node.url);
    Mesh {
        _dir: dir,
        data,
        keys,
        node,
    }
}

impl Mesh {
    /// The node id of founder `i` (hub-`i+1`), from its key file.
    fn hub_id(&self, i: usize) -> String {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(&self.keys[i]).unwrap()).unwrap();
        v["node_id"].as_str().unwrap().to_owned()
    }
}

fn payload(rec: &Value) -> Value {
    let b = STANDARD
        .decode(rec["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&b).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// One millisecond later, in the council's RFC 3339 form.
fn plus_one_ms(ts: &str) -> String {
    let t = govmesh_core::Timestamp::parse(ts).unwrap();
    govmesh_core::Timestamp::from_millis(t.millis() + 1).to_rfc3339()
}

#[test]
fn propose_vote_adopt_verify_export_tamper_restart() {
    let m = mesh();
    let url = m.node.url.clone();
    let dir = m._dir.path();
    let key = |i: usize| s(&m.keys[i]).to_owned();
    // What clause 5.2.5 makes of a repository without contributing guidelines, as
    // `govmesh hygiene --node` applies the node's current rules.
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# r\n").unwrap();
    let contributing = || {
        let o = govmesh(&[
            "hygiene",
            "check",
            s(&repo),
            "--format",
            "json",
            "--node",
            &url,
        ]);
        let report: Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "structure/contributing")
            .map(|f| f["severity"].as_str().unwrap().to_owned())
    };
    assert_eq!(contributing().as_deref(), Some("warning"));

    // A proposal with a JSON Patch of the clause's rules, signed with hub-1's key.
    let patch = dir.join("patch.json");
    write_json(
        &patch,
        &json!([{"op": "replace", "path": "/rules/2/severity", "value": "error"}]),
    );
    let out = ok(&[
        "propose",
        "--node",
        &url,
        "--key",
        &key(0),
        "--contract",
        "codex",
        "--clause",
        "5.2.5",
        "--text",
        "Contributing guidelines are required.",
        "--rationale",
        "clearer reports",
        "--rules-patch",
        s(&patch),
    ]);
    let pid = out.trim().to_owned();
    assert_eq!(pid.len(), 36, "{out}");
    let p = get(&url, &format!("/v1/proposals/{pid}"));
    assert_eq!(p["status"], "voting");
    assert_eq!(p["changes"]["diff"][0]["operation"], "replace");

    // Two approvals of three decide early; the third vote finds it closed.
    let v = ok_json(&[
        "vote",
        "--json",
        "--node",
        &url,
        "--key",
        &key(0),
        &pid,
        "approve",
    ]);
    assert_eq!(v["kind"], "vote");
    ok(&["vote", "--node", &url, "--key", &key(1), &pid, "approve"]);
    let p = get(&url, &format!("/v1/proposals/{pid}"));
    assert_eq!(p["status"], "adopted", "{p}");
    let err = fails(
        &["vote", "--node", &url, "--key", &key(2), &pid, "reject"],
        1,
    );
    assert!(err.contains("not_voting"), "{err}");

    // The adopted rule governs: the same repository's finding is now an error.
    assert_eq!(contributing().as_deref(), Some("error"));

    // The contract is at revision 2 with the patched rules.
    let c = ok_json(&["contract", "show", "--json", "--node", &url]);
    assert_eq!(c["revision"], 2);
    let clause = c["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clause_id"] == "5.2.5")
        .unwrap();
    assert_eq!(clause["rules"]["rules"][2]["severity"], "error");
    assert_eq!(clause["text"], "Contributing guidelines are required.");
    let r1 = ok_json(&[
        "contract",
        "show",
        "codex",
        "--revision",
        "1",
        "--json",
        "--node",
        &url,
    ]);
    assert_eq!(c["parent_hash"], r1["contract_hash"]);
    let h = ok_json(&["contract", "history", "--json", "--node", &url]);
    assert_eq!(h["revisions"].as_array().unwrap().len(), 2);
    ok_json(&[
        "contract", "diff", "--from", "1", "--to", "2", "--json", "--node", &url,
    ]);
    let human = ok(&[
        "contract", "diff", "--from", "1", "--to", "2", "--node", &url,
    ]);
    assert!(human.contains("5.2.5"), "{human}");
    crate::crosscheck::contract_hashes_match_python(&url);

    // Read commands, human and JSON.
    let l = ok_json(&["proposal", "list", "--json", "--node", &url]);
    assert_eq!(l["proposals"].as_array().unwrap().len(), 1);
    assert!(ok(&["proposal", "show", &pid, "--node", &url]).contains("adopted"));
    let nodes = ok_json(&["node", "list", "--json", "--node", &url]);
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 3);
    assert!(ok(&["node", "list", "--node", &url]).contains("governance_hub"));
    ok_json(&["domain", "list", "--json", "--node", &url]);
    let topo = ok_json(&["topology", "--json", "--node", &url]);
    assert_eq!(topo["nodes"].as_array().unwrap().len(), 3);
    assert!(ok(&["topology", "--node", &url]).contains("governance_hub"));
    let st = ok_json(&["status", "--json", "--node", &url]);
    assert_eq!(st["contract_heads"]["codex"]["revision"], 2);
    // One sync record per revision; the two other founders run no node, so it cannot
    // complete (hub-1's own ack_sync, submitted in the background, may be in already).
    let sync = ok_json(&["sync", "status", "--json", "--node", &url]);
    let recs = sync["sync_records"].as_array().unwrap();
    assert_eq!(recs.len(), 2, "{sync}");
    assert_eq!(
        recs[1]["contract_hash"],
        st["contract_heads"]["codex"]["contract_hash"]
    );
    assert_eq!(recs[1]["target_node_ids"].as_array().unwrap().len(), 2);
    assert!(
        recs[1]["status"] == "created" || recs[1]["status"] == "in_progress",
        "{sync}"
    );
    assert!(ok(&["sync", "status", "--node", &url]).contains("codex r2"));

    // A node registered with hub-1's key; a domain defined through the operator token.
    let fork = dir.join("fork.key");
    let fk = ok_json(&["key", "new", "--json", "--out", s(&fork)]);
    let fork_id = ok(&[
        "node",
        "register",
        "--node",
        &url,
        "--key",
        &key(0),
        "--type",
        "trust_fork",
        "--public-key",
        fk["public_key"].as_str().unwrap(),
        "--display-name",
        "fork-1",
    ]);
    let fork_id = fork_id.trim();
    assert_eq!(fork_id, fk["node_id"].as_str().unwrap());
    let shown = ok_json(&["node", "show", fork_id, "--json", "--node", &url]);
    assert_eq!(shown["node_type"], "trust_fork");
    assert_eq!(shown["display_name"], "fork-1");
    let hub_id = |i: usize| m.hub_id(i);
    let dom = ok(&[
        "domain",
        "define",
        "--node",
        &url,
        "--data",
        s(&m.data),
        "--name",
        "ops",
        "--member",
        &hub_id(0),
        "--member",
        &hub_id(1),
        "--quorum",
        "0.5",
    ]);
    let shown = ok_json(&["domain", "show", dom.trim(), "--json", "--node", &url]);
    assert_eq!(shown["name"], "ops");
    assert_eq!(shown["member_nodes"].as_array().unwrap().len(), 2);
    assert_eq!(shown["policy"]["quorum"], 0.5);
    let st = ok_json(&["status", "--json", "--node", &url]);

    // Operator path: a proposal as the node itself, then withdrawn with its key.
    let out = ok(&[
        "propose",
        "--node",
        &url,
        "--data",
        s(&m.data),
        "--clause",
        "5.2.5",
        "--text",
        "Repositories carry a README.",
        "--rationale",
        "operator path",
    ]);
    let pid2 = out.trim().to_owned();
    assert_eq!(
        get(&url, &format!("/v1/proposals/{pid2}"))["status"],
        "voting"
    );
    ok(&["withdraw", "--node", &url, "--key", &key(0), &pid2]);
    assert_eq!(
        get(&url, &format!("/v1/proposals/{pid2}"))["status"],
        "withdrawn"
    );

    // Refusals: one line, non-zero.
    let err = fails(&["proposal", "show", "no-such-proposal", "--node", &url], 1);
    assert!(err.contains("node refused"), "{err}");
    let err = fails(
        &[
            "vote",
            "--node",
            &url,
            "--key",
            &key(1),
            "00000000-0000-4000-8000-000000000000",
            "approve",
        ],
        1,
    );
    // The CLI looks up the voter's last vote (for its sequence) first, so the
    // refusal can come from that lookup or from the entry itself; either names it.
    assert!(
        err.contains("unknown_proposal")
            || err.contains("no proposal \"00000000-0000-4000-8000-000000000000\""),
        "{err}"
    );
    let bad = dir.join("bad.key");
    std::fs::write(&bad, "not json").unwrap();
    let err = fails(
        &["vote", "--node", &url, "--key", s(&bad), &pid, "approve"],
        2,
    );
    assert!(err.contains("bad.key"), "{err}");
    let stranger = dir.join("stranger.key");
    ok(&["key", "new", "--out", s(&stranger)]);
    let err = fails(
        &[
            "propose",
            "--node",
            &url,
            "--key",
            s(&stranger),
            "--clause",
            "11.0",
            "--text",
            "x",
            "--rationale",
            "y",
        ],
        1,
    );
    assert!(err.contains("unknown_signer"), "{err}");
    fails(&["status", "--node", "http://127.0.0.1:9"], 2);

    // verify against the node.
    let out = ok(&["verify", "--node", &url]);
    assert!(out.contains("verified"), "{out}");
    let v = ok_json(&["verify", "--json", "--node", &url]);
    // Everything up to the status above, plus the operator's proposal and its withdrawal.
    assert_eq!(
        v["entries"].as_u64().unwrap(),
        st["log_size"].as_u64().unwrap() + 2
    );
    assert_eq!(v["contracts"]["codex"]["revisions"], 2);
    // Both served revisions hash as served.
    assert_eq!(v["served_revisions_checked"], 2);
    assert!(
        out.contains("2 served contract revision(s) hash as served"),
        "{out}"
    );
    assert_eq!(v["proposals"]["adopted"], 1);
    assert_eq!(v["proposals"]["withdrawn"], 1);

    // Export, verify the file, then tampered copies.
    let export = dir.join("log.json");
    ok(&["log", "export", "--node", &url, "--out", s(&export)]);
    let vf = ok_json(&["verify", "--json", s(&export)]);
    assert_eq!(vf["root"], v["root"]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let entries = doc["entries"].as_array().unwrap().clone();
    let mesh_id = vf["mesh_id"].as_str().unwrap().to_owned();
    ok(&["verify", s(&export), "--genesis", &mesh_id]);
    let err = fails(&["verify", s(&export), "--genesis", &"0".repeat(64)], 1);
    assert!(err.contains("entry 0"), "{err}");

    let tampered = dir.join("tampered.json");
    // 1. One vote's choice changed in its payload.
    let vi = entries
        .iter()
        .position(|r| payload(r)["type"] == "vote")
        .unwrap();
    let mut d = doc.clone();
    let mut p = payload(&entries[vi]);
    p["choice"] = json!("reject");
    d["entries"][vi]["envelope"]["payload"] = json!(STANDARD.encode(p.to_string()));
    write_json(&tampered, &d);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains(&format!("entry {vi} (vote by ")), "{err}");

    // 2. A timestamp changed (the last entry, so the order stays valid).
    let last = entries.len() - 1;
    let mut d = doc.clone();
    let ts = entries[last]["timestamp"].as_str().unwrap();
    d["entries"][last]["timestamp"] = json!(plus_one_ms(ts));
    write_json(&tampered, &d);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains(&format!("entry {last} (")), "{err}");

    // 3. An entry dropped.
    let mut d = doc.clone();
    d["entries"].as_array_mut().unwrap().remove(2);
    write_json(&tampered, &d);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains("entry 2: missing"), "{err}");

    // 4. The last entry dropped.
    let mut d = doc.clone();
    d["entries"].as_array_mut().unwrap().pop();
    write_json(&tampered, &d);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains(&format!("entry {last}: missing")), "{err}");

    // 5. The checkpoint's root changed.
    let mut d = doc.clone();
    let cp = doc["checkpoint"].as_str().unwrap();
    let lines: Vec<&str> = cp.split('\n').collect();
    let fake = STANDARD.encode([7u8; 32]);
    d["checkpoint"] = json!(cp.replacen(lines[2], &fake, 1));
    write_json(&tampered, &d);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains("checkpoint"), "{err}");

    // Graceful stop, restart: everything is still there.
    let before = get(&url, "/v1/status");
    let status = m.node.terminate();
    assert!(status.success(), "serve exited with {status:?}");
    let node = Running::start(&["serve", "--data", s(&m.data), "--listen", "127.0.0.1:0"]);
    let after = get(&node.url, "/v1/status");
    assert_eq!(after["log_size"], before["log_size"]);
    assert_eq!(after["root"], before["root"]);
    assert_eq!(after["contract_heads"], before["contract_heads"]);
    ok(&["verify", "--node", &node.url]);
}

#[test]
fn a_second_contract_is_created_decided_by_its_domain_and_verified() {
    let m = mesh();
    let url = m.node.url.clone();
    let dir = m._dir.path();
    let key = |i: usize| s(&m.keys[i]).to_owned();
    let hub_id = |i: usize| m.hub_id(i);
    // The stewards: hubs 1 and 2, administered by hub 1.
    let stewards = ok(&[
        "domain",
        "define",
        "--node",
        &url,
        "--key",
        &key(1),
        "--name",
        "data stewards",
        "--member",
        &hub_id(1),
        "--member",
        &hub_id(2),
        "--weight",
        &format!("{}=2", hub_id(1)),
        "--clause-policy",
        r#"2={"threshold":0.6}"#,
        "--local-override",
        &format!("{}=2", hub_id(0)),
    ]);
    let stewards = stewards.trim().to_owned();
    let d = ok_json(&["domain", "show", &stewards, "--json", "--node", &url]);
    assert_eq!(d["policy"]["weights"][hub_id(1)], 2, "{d}");
    assert_eq!(d["clause_policies"]["2"]["threshold"], 0.6, "{d}");
    assert_eq!(d["local_overrides"][hub_id(0)], json!(["2"]), "{d}");
    let err = fails(
        &[
            "domain",
            "define",
            "--node",
            &url,
            "--key",
            &key(1),
            "--name",
            "x",
            "--weight",
            "nope",
        ],
        2,
    );
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    let clauses = dir.join("clauses.json");
    write_json(
        &clauses,
        &json!([
            {"id": "1", "title": "Scope", "text": "Logs and backups of the mesh.", "rules": {}},
            {"id": "2", "title": "Retention", "text": "Kept 30 days.", "rules": {"retention_days": 30}}
        ]),
    );
    let pid = ok(&[
        "contract",
        "create",
        "--node",
        &url,
        "--key",
        &key(0),
        "--id",
        "data-retention",
        "--title",
        "Data retention",
        "--domain",
        &stewards,
        "--clauses",
        s(&clauses),
        "--rationale",
        "Backups need a rule.",
    ]);
    let pid = pid.trim().to_owned();
    let p = get(&url, &format!("/v1/proposals/{pid}"));
    assert_eq!(p["create_contract"]["contract_id"], "data-retention", "{p}");
    let shown = ok(&["proposal", "show", &pid, "--node", &url]);
    assert!(
        shown.contains("creates     contract data-retention (Data retention), 2 clause(s)"),
        "{shown}"
    );
    // A creation is decided by the council (clause 5.5: all three hubs).
    for i in 0..3 {
        ok(&["vote", "--node", &url, "--key", &key(i), &pid, "approve"]);
    }
    let c = ok_json(&[
        "contract",
        "show",
        "data-retention",
        "--json",
        "--node",
        &url,
    ]);
    assert_eq!(c["revision"], 1);
    assert_eq!(c["domain_id"], stewards.as_str());
    let shown = ok(&["contract", "show", "data-retention", "--node", &url]);
    assert!(
        shown.contains(&format!("decided by  domain {stewards}")),
        "{shown}"
    );
    let list = get(&url, "/v1/contracts");
    assert_eq!(list["contracts"].as_array().unwrap().len(), 2, "{list}");

    // Its clause 2 is changed by the stewards alone; hub 0 is not one of them.
    let out = ok(&[
        "propose",
        "--node",
        &url,
        "--key",
        &key(1),
        "--contract",
        "data-retention",
        "--clause",
        "2",
        "--text",
        "Kept 90 days.",
        "--rationale",
        "Audits look back a quarter.",
    ]);
    let change = out.trim().to_owned();
    let err = fails(
        &["vote", "--node", &url, "--key", &key(0), &change, "approve"],
        1,
    );
    assert!(err.contains("not_member"), "{err}");
    ok(&["vote", "--node", &url, "--key", &key(2), &change, "approve"]);
    ok(&["vote", "--node", &url, "--key", &key(1), &change, "approve"]);
    let c = ok_json(&[
        "contract",
        "show",
        "data-retention",
        "--json",
        "--node",
        &url,
    ]);
    assert_eq!(c["revision"], 2, "{c}");
    assert_eq!(
        ok_json(&["contract", "show", "--json", "--node", &url])["revision"],
        1
    );

    // The sync records and verify cover both contracts.
    let sync = get(&url, "/v1/sync");
    let recs = sync["sync_records"]
        .as_array()
        .or(sync.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        recs.iter()
            .any(|r| r["contract_id"] == "data-retention" && r["revision"] == 2),
        "{sync}"
    );
    // Hub 2 keeps its own clause 1 (a local override, decided by the stewards).
    let local = ok(&[
        "propose",
        "--node",
        &url,
        "--key",
        &key(2),
        "--contract",
        "data-retention",
        "--clause",
        "1",
        "--text",
        "Only logs.",
        "--rationale",
        "Backups live elsewhere here.",
        "--scope",
        "local",
    ]);
    let local = local.trim().to_owned();
    ok(&["vote", "--node", &url, "--key", &key(2), &local, "approve"]);
    ok(&["vote", "--node", &url, "--key", &key(1), &local, "approve"]);
    let p = get(&url, &format!("/v1/proposals/{local}"));
    assert_eq!(
        (&p["status"], &p["governance_scope"]),
        (&json!("adopted"), &json!("local")),
        "{p}"
    );
    assert_eq!(p["local_node"], hub_id(2).as_str());
    let shown = ok(&["proposal", "show", &local, "--node", &url]);
    assert!(
        shown.contains(&format!(
            "scope       local: a local override on node {}",
            hub_id(2)
        )),
        "{shown}"
    );
    let eff = ok(&[
        "contract",
        "show",
        "data-retention",
        "--for",
        &hub_id(2),
        "--node",
        &url,
    ]);
    assert!(eff.contains("1 clause(s) overridden locally"), "{eff}");
    // The effective view names the revision's adoption like the record does.
    assert!(!eff.contains("adopted at  -"), "{eff}");
    assert!(eff.contains("adopted by  proposal "), "{eff}");
    assert!(
        eff.contains(&format!("[overridden: local override by proposal {local}]")),
        "{eff}"
    );
    let plain = ok(&[
        "contract",
        "show",
        "data-retention",
        "--for",
        &hub_id(0),
        "--node",
        &url,
    ]);
    assert!(plain.contains("0 clause(s) overridden locally"), "{plain}");
    // A federated change of clause 1 flags the override as a conflict.
    let fed = ok(&[
        "propose",
        "--node",
        &url,
        "--key",
        &key(1),
        "--contract",
        "data-retention",
        "--clause",
        "1",
        "--text",
        "Logs, backups and exports.",
        "--rationale",
        "Exports too.",
    ]);
    let fed = fed.trim().to_owned();
    ok(&["vote", "--node", &url, "--key", &key(2), &fed, "approve"]);
    ok(&["vote", "--node", &url, "--key", &key(1), &fed, "approve"]);
    let eff = ok(&[
        "contract",
        "show",
        "data-retention",
        "--for",
        &hub_id(2),
        "--node",
        &url,
    ]);
    assert!(eff.contains("in conflict with revision 3"), "{eff}");
    let overrides = get(&url, "/v1/overrides");
    assert_eq!(
        overrides["overrides"][0]["conflict"]["revision"], 3,
        "{overrides}"
    );

    // A relay connection declared between hubs 1 and 2 (neither serves here: down).
    let out = ok(&[
        "connect",
        "--node",
        &url,
        "--key",
        &key(0),
        "--source",
        &hub_id(1),
        "--target",
        &hub_id(2),
        "--type",
        "relay",
    ]);
    assert!(out.starts_with("connect appended at index"), "{out}");
    let topo = ok_json(&["topology", "--json", "--node", &url]);
    let declared: Vec<&Value> = topo["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["declared"] == true)
        .collect();
    assert_eq!(declared.len(), 1, "{topo}");
    assert_eq!(
        (&declared[0]["connection_type"], &declared[0]["status"]),
        (&json!("relay"), &json!("down"))
    );
    assert!(topo["previous_topology_id"].is_string(), "{topo}");
    ok(&[
        "disconnect",
        "--node",
        &url,
        "--key",
        &key(0),
        "--source",
        &hub_id(1),
        "--target",
        &hub_id(2),
    ]);
    let err = fails(
        &[
            "disconnect",
            "--node",
            &url,
            "--key",
            &key(1),
            "--source",
            &hub_id(1),
            "--target",
            &hub_id(2),
        ],
        1,
    );
    assert!(err.contains("no connection"), "{err}");

    let v = ok_json(&["verify", "--json", "--node", &url]);
    assert_eq!(v["contracts"]["data-retention"]["revisions"], 3, "{v}");
    assert_eq!(v["served_revisions_checked"], 4);
    // A stranger's check: Python's rfc8785 hashes every served revision of both
    // contracts, as served minus contract_hash, to its contract_hash.
    crate::crosscheck::contract_hashes_match_python(&url);
}
