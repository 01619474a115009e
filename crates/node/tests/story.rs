//! The whole proposal story over a real socket: propose as the operator, three
//! founders vote (two sign locally and POST /v1/entries, one votes as the operator),
//! the proposal is adopted into contract revision 2, the diff shows the change, and
//! after a restart on the same directory everything is still there, with proofs and
//! a signed checkpoint that verify.

use super::util::{Client, Mesh};
use govmesh_core::Digest;
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::entry::{LogRecord, Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::merkle::{verify_consistency, verify_inclusion};
use govmesh_core::model::VoteChoice;
use serde_json::{Value, json};

const NEW_TEXT: &str =
    "Checkpoints are signed at least every 30 seconds while entries are pending.";

fn vote(k: &KeyPair, proposal_id: &str, choice: VoteChoice) -> Value {
    let env = sign_entry_at(
        k,
        Operation::Vote(VoteOp {
            proposal_id: proposal_id.to_owned(),
            choice,
            reason: None,
            sequence: 0,
        }),
        govmesh_node::now(),
    );
    serde_json::to_value(env).unwrap()
}

fn digest(v: &Value) -> Digest {
    Digest::from_hex(
        v.as_str()
            .unwrap_or_else(|| panic!("not a hex digest: {v}")),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_is_adopted_and_survives_a_restart() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    assert!(node.url.starts_with("http://127.0.0.1:"));
    let url_file = std::fs::read_to_string(m.dir.path().join("node.url")).unwrap();
    assert_eq!(url_file.trim(), node.url);
    let c = Client::new(&node.url);

    let (s, status) = c.get("/v1/status").await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["node_id"], m.me.node_id());
    assert_eq!(status["node_type"], "governance_hub");
    assert_eq!(status["mesh_name"], "test-mesh");
    assert_eq!(status["mesh_id"], m.info.mesh_id.as_str());
    assert_eq!(status["log_size"], 1);
    assert_eq!(status["url"], node.url.as_str());
    assert_eq!(status["contract_heads"]["codex"]["revision"], 1);

    let (s, nodes) = c.get("/v1/nodes").await;
    assert_eq!(s, 200);
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 3, "{nodes}");

    // Propose as the operator: new text for clause 11.0 and a rule change.
    let (s, proposed) = c
        .post(
            "/v1/operator/propose",
            &json!({
                "clause": "11.0",
                "proposed_text": NEW_TEXT,
                "rationale": "Faster checkpoints for faster verification.",
                "diff": [{"op": "replace", "path": "/checkpoint/max_interval_secs", "value": 30}],
            }),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{proposed}");
    assert_eq!(proposed["kind"], "propose");
    assert_eq!(proposed["author"], m.me.node_id());
    assert_eq!(proposed["index"], 1);
    let pid = proposed["proposal_id"].as_str().unwrap().to_owned();
    let (s, voting) = c.get("/v1/proposals?status=voting").await;
    assert_eq!(s, 200);
    assert_eq!(voting["proposals"][0]["proposal_id"], pid.as_str());

    // Founder a approves and founder b rejects, each signing locally.
    let (s, r) = c
        .post("/v1/entries", &vote(&m.a, &pid, VoteChoice::Approve), None)
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["kind"], "vote");
    assert_eq!(r["author"], m.a.node_id());
    let (s, r) = c
        .post("/v1/entries", &vote(&m.b, &pid, VoteChoice::Reject), None)
        .await;
    assert_eq!(s, 201, "{r}");
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["status"], "voting", "{p}");

    // The node's own vote (operator) decides it.
    let (s, r) = c
        .post(
            "/v1/operator/vote",
            &json!({"proposal_id": pid, "choice": "approve", "reason": "agreed"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let events = r["events"].to_string();
    assert!(events.contains("proposal_adopted"), "{events}");

    let (s, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(s, 200);
    assert_eq!(p["status"], "adopted", "{p}");
    assert_eq!(p["adopted_revision"], 2);
    assert_eq!(p["votes"].as_array().unwrap().len(), 3);
    assert_eq!(p["voting_result"]["approve_votes"], 2);
    assert_eq!(p["voting_result"]["reject_votes"], 1);
    assert_eq!(p["equivocations"], json!([]));

    let (_, r1) = c.get("/v1/contracts/codex/revisions/1").await;
    let (_, cur) = c.get("/v1/contracts/codex").await;
    assert_eq!(cur["revision"], 2);
    assert_eq!(cur["parent_hash"], r1["contract_hash"]);
    assert_eq!(cur["adopted_by_proposal"], pid.as_str());
    // The served records are what they hash; the clause hashes are served beside them.
    for rec in [&r1, &cur] {
        let mut rest = rec.clone();
        let claimed = rest
            .as_object_mut()
            .unwrap()
            .remove("contract_hash")
            .unwrap();
        let h = govmesh_core::canonical::hash_canonical(&rest).unwrap();
        assert_eq!(json!(h), claimed, "{rec}");
    }
    let (_, h1) = c.get("/v1/contracts/codex/clause-hashes?revision=1").await;
    let (_, h2) = c.get("/v1/contracts/codex/clause-hashes").await;
    assert_eq!((&h1["revision"], &h2["revision"]), (&json!(1), &json!(2)));
    assert_eq!(h2["contract_hash"], cur["contract_hash"]);
    assert_ne!(h2["clause_hashes"]["11.0"], h1["clause_hashes"]["11.0"]);
    assert_eq!(h2["clause_hashes"]["5.5"], h1["clause_hashes"]["5.5"]);
    let clause = |c: &Value| {
        c["clauses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|cl| cl["clause_id"] == "11.0")
            .unwrap()
            .clone()
    };
    assert_eq!(clause(&cur)["text"], NEW_TEXT);
    assert_eq!(clause(&cur)["rules"]["checkpoint"]["max_interval_secs"], 30);
    assert_eq!(clause(&r1)["rules"]["checkpoint"]["max_interval_secs"], 60);
    let (_, revs) = c.get("/v1/contracts/codex/revisions").await;
    assert_eq!(revs["revisions"].as_array().unwrap().len(), 2);

    let (s, diff) = c.get("/v1/contracts/codex/diff?from=1&to=2").await;
    assert_eq!(s, 200, "{diff}");
    assert_eq!(diff["from_revision"], 1);
    assert_eq!(diff["to_revision"], 2);
    assert_eq!(diff["to_hash"], cur["contract_hash"]);
    let changed = diff["clauses"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{diff}");
    assert_eq!(changed[0]["clause_id"], "11.0");
    let text_diff = changed[0]["text_diff"].as_str().unwrap();
    assert!(text_diff.contains(&format!("+{NEW_TEXT}")), "{diff}");
    let rule = &changed[0]["rule_changes"][0];
    assert_eq!(rule["path"], "/checkpoint/max_interval_secs");
    assert_eq!((&rule["old"], &rule["new"]), (&json!(60), &json!(30)));
    assert!(
        diff["unchanged_clauses"]
            .as_array()
            .unwrap()
            .contains(&json!("5.5"))
    );
    // Without parameters: the latest change.
    let (_, latest) = c.get("/v1/contracts/codex/diff").await;
    assert_eq!(latest, diff);

    let (_, before) = c.get("/v1/status").await;
    assert_eq!(before["log_size"], 5);
    check_proofs_and_checkpoint(&c, &m).await;

    // Restart on the same directory.
    node.shutdown().await.unwrap();
    assert!(!m.dir.path().join("node.url").exists());
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (_, after) = c.get("/v1/status").await;
    assert_eq!(after["log_size"], before["log_size"]);
    assert_eq!(after["root"], before["root"]);
    assert_eq!(after["contract_heads"], before["contract_heads"]);
    let (_, p2) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p2, p);
    let (_, cur2) = c.get("/v1/contracts/codex").await;
    assert_eq!(cur2, cur);
    check_proofs_and_checkpoint(&c, &m).await;

    // The restarted node keeps checking: withdrawing a decided proposal is refused with
    // a reason, and the log does not grow.
    let (s, r) = c
        .post(
            "/v1/operator/withdraw",
            &json!({"proposal_id": pid}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(super::util::code(&r), "not_voting", "{r}");
    assert_eq!(c.log_size().await, 5);
    node.shutdown().await.unwrap();
}

/// Every record's inclusion proof and every size's consistency proof verify with
/// core's verifiers; the checkpoint verifies under the node's key and names the root.
async fn check_proofs_and_checkpoint(c: &Client, m: &Mesh) {
    let (_, status) = c.get("/v1/status").await;
    let size = status["log_size"].as_u64().unwrap();
    let root = digest(&status["root"]);

    let (s, entries) = c.get("/v1/log/entries?start=0").await;
    assert_eq!(s, 200);
    let records: Vec<LogRecord> = serde_json::from_value(entries["entries"].clone()).unwrap();
    assert_eq!(records.len() as u64, size);
    for (i, rec) in records.iter().enumerate() {
        assert_eq!(rec.index, i as u64);
        let (s, p) = c
            .get(&format!("/v1/log/proof/inclusion?index={i}&size={size}"))
            .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(digest(&p["leaf_hash"]), rec.leaf_hash());
        assert_eq!(digest(&p["root"]), root);
        let proof: Vec<Digest> = serde_json::from_value(p["proof"].clone()).unwrap();
        verify_inclusion(&rec.leaf_hash(), i as u64, size, &proof, &root).unwrap();
        // A proof for another leaf does not verify this one.
        if size > 1 {
            let other = records[(i + 1) % records.len()].leaf_hash();
            assert!(verify_inclusion(&other, i as u64, size, &proof, &root).is_err());
        }
    }
    for from in 1..=size {
        let (s, p) = c
            .get(&format!("/v1/log/proof/consistency?from={from}&to={size}"))
            .await;
        assert_eq!(s, 200, "{p}");
        let proof: Vec<Digest> = serde_json::from_value(p["proof"].clone()).unwrap();
        assert_eq!(digest(&p["to_root"]), root);
        verify_consistency(from, size, &digest(&p["from_root"]), &root, &proof).unwrap();
    }

    let (s, text) = c.get_text("/v1/log/checkpoint").await;
    assert_eq!(s, 200, "{text}");
    let note = SignedNote::parse(&text).unwrap();
    let origin = format!("govmesh/{}", &m.info.mesh_id[..16]);
    note.verify(&origin, &m.me.public()).unwrap();
    assert!(note.verify(&origin, &m.a.public()).is_err());
    let cp = Checkpoint::parse_body(&note.body).unwrap();
    assert_eq!(cp.origin, origin);
    assert_eq!(cp.size, size);
    assert_eq!(cp.root, root);
}
