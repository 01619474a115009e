//! Conformance with the seed's v1 JSON Schemas (draft-07, with format checking):
//! proposal, topology and contract sync records produced by the state machine validate against them
//! with the Rust `jsonschema` crate and with Python `jsonschema` as an independent
//! check, and our own schemas (draft 2020-12) accept the same records.

use govmesh_core::Timestamp;
use govmesh_core::checkpoint::Checkpoint;
use govmesh_core::codex::codex_genesis;
use govmesh_core::entry::{
    LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, WithdrawOp, sign_entry_at,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::merkle::MerkleTree;
use govmesh_core::model::{Changes, DiffOp, NodeType, PatchOperation, ProposalStatus, VoteChoice};
use govmesh_core::schema;
use govmesh_core::state::State;
use govmesh_core::sync::{AckBook, sync_records};
use govmesh_core::topology::{ConnectionType, LiveNode, PeerLink, topology_record};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const T0: i64 = 1_764_154_800_000;
const T0_TS: Timestamp = Timestamp(T0);
const SEED_PROPOSAL: &str = "governance_proposal.schema.v1.json";
const SEED_TOPOLOGY: &str = "governance_mesh_topology.schema.v1.json";
const SEED_SYNC: &str = "governance_contract_sync.schema.v1.json";

fn seed_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/promethios-v1-schemas");
    if dir.join(SEED_PROPOSAL).is_file() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: seed schemas not found at {}; skipping the seed-schema conformance check",
            dir.display()
        );
        None
    }
}

fn our_schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("schemas/{name}.schema.json"))
}

/// A mesh with records of every kind the seed has a schema for.
struct Records {
    state: State,
    log: Vec<LogRecord>,
    topology: Value,
}

fn spec(k: &KeyPair, t: NodeType, port: u16) -> NodeSpec {
    NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type: t,
        public_key: k.public(),
        network_address: Some(format!("http://127.0.0.1:{port}")),
        display_name: Some(format!("node on {port}")),
        node_policy_capabilities: vec!["governance".into()],
    }
}

fn build() -> Records {
    let hubs: Vec<KeyPair> = (1..=3).map(|s| KeyPair::from_seed([s; 32])).collect();
    let witness = KeyPair::from_seed([9; 32]);
    let mut founders: Vec<NodeSpec> = hubs
        .iter()
        .enumerate()
        .map(|(i, k)| spec(k, NodeType::GovernanceHub, 7001 + i as u16))
        .collect();
    founders.push(spec(&witness, NodeType::ComplianceWitness, 7009));
    let mut state = State::new();
    let mut log = Vec::new();
    let mut now = Timestamp(T0);
    let mut submit = |state: &mut State, key: &KeyPair, op: Operation| {
        now = now.plus_secs(1);
        let env = sign_entry_at(key, op, now);
        let applied = state
            .apply(&env, now)
            .unwrap_or_else(|e| panic!("entry refused: {e}"));
        log.push(LogRecord {
            index: applied.index,
            timestamp: now,
            envelope: env,
        });
    };
    submit(
        &mut state,
        &hubs[0],
        Operation::Genesis(codex_genesis("seed-check", founders)),
    );
    let fork = KeyPair::from_seed([20; 32]);
    submit(
        &mut state,
        &hubs[0],
        Operation::RegisterNode(spec(&fork, NodeType::TrustFork, 7020)),
    );

    let propose = |state: &State, id: &str, clause: &str, text: &str, diff: Vec<DiffOp>| {
        let c = state.contract("codex").unwrap().clause(clause).unwrap();
        Operation::Propose(ProposeOp {
            proposal_id: id.to_owned(),
            contract_id: "codex".into(),
            target_contract_clause: clause.into(),
            base_clause_hash: c.hash().unwrap(),
            domain_id: None,
            rationale: format!("Seed-schema check of clause {clause}."),
            changes: Changes {
                current_text: c.text.clone(),
                proposed_text: text.into(),
                diff,
            },
            voting_period_secs: Some(3600),
            create_contract: None,
            governance_scope: None,
            local_node: None,
            conflict_resolution: None,
            expedited: false,
            restore_rights: None,
        })
    };
    let vote = |id: &str, choice| {
        Operation::Vote(VoteOp {
            proposal_id: id.into(),
            choice,
            reason: Some("checked".into()),
            sequence: 0,
        })
    };
    let adopted = "6a1f0e2d-3c4b-4a59-8877-665544332211";
    let open = "7b2e1f3a-4d5c-4b6a-9988-776655443322";
    let withdrawn = "8c3f2a4b-5e6d-4c7b-aa99-887766554433";
    let op = propose(
        &state,
        adopted,
        "5.2.5",
        "Repositories must be tidy.",
        vec![DiffOp {
            path: "/rules/3/severity".into(),
            operation: PatchOperation::Replace,
            value: json!("error"),
        }],
    );
    submit(&mut state, &hubs[0], op);
    submit(&mut state, &hubs[0], vote(adopted, VoteChoice::Approve));
    submit(&mut state, &hubs[1], vote(adopted, VoteChoice::Approve));
    let op = propose(&state, open, "11.0", "The log is append-only.", vec![]);
    submit(&mut state, &hubs[1], op);
    submit(&mut state, &hubs[2], vote(open, VoteChoice::Abstain));
    let op = propose(&state, withdrawn, "11.1", "Verify everything.", vec![]);
    submit(&mut state, &hubs[2], op);
    submit(
        &mut state,
        &hubs[2],
        Operation::Withdraw(WithdrawOp {
            proposal_id: withdrawn.into(),
            reason: Some("superseded".into()),
        }),
    );
    let statuses: Vec<ProposalStatus> = state.proposals().iter().map(|p| p.status).collect();
    assert!(statuses.contains(&ProposalStatus::Adopted), "{statuses:?}");
    assert!(statuses.contains(&ProposalStatus::Voting), "{statuses:?}");
    assert!(
        statuses.contains(&ProposalStatus::Withdrawn),
        "{statuses:?}"
    );

    let me = LiveNode {
        node_id: hubs[0].node_id().to_owned(),
        reachable: true,
        suspect: false,
        last_seen: Some(now),
        latency_ms: Some(0.0),
        peers: vec![PeerLink {
            node_id: hubs[1].node_id().to_owned(),
            connection_type: ConnectionType::Direct,
            latency_ms: Some(0.4),
        }],
    };
    let topology = topology_record(
        &state,
        "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b",
        now.plus_secs(1),
        &[me],
    );
    Records {
        state,
        log,
        topology,
    }
}

/// A case for both validators: name, schema file, record, whether it must be valid.
struct Case {
    name: String,
    schema: PathBuf,
    record: Value,
    valid: bool,
}

fn seed_cases(dir: &Path, r: &Records) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in r.state.proposals() {
        cases.push(Case {
            name: format!("seed proposal {:?}", p.status),
            schema: dir.join(SEED_PROPOSAL),
            record: serde_json::to_value(p).unwrap(),
            valid: true,
        });
    }
    cases.push(Case {
        name: "seed topology".into(),
        schema: dir.join(SEED_TOPOLOGY),
        record: r.topology.clone(),
        valid: true,
    });
    // Contract sync records in every status the derivation produces: one node has
    // acknowledged revision 2 in time; revision 1 is judged before and after its deadline.
    let mut acks = AckBook::new();
    let codex = r.state.contract("codex").unwrap();
    let rev1 = r.state.revision("codex", 1).unwrap();
    let first_target = r
        .state
        .revision_sync("codex", codex.revision)
        .expect("revision 2 records its targets")
        .target_node_ids[0]
        .clone();
    acks.entry(("codex".to_owned(), codex.revision))
        .or_default()
        .insert(first_target, codex.adopted_at.plus_secs(1));
    let mut statuses = std::collections::BTreeSet::new();
    for now in [
        rev1.adopted_at.plus_secs(1),
        codex.adopted_at.plus_secs(100_000),
    ] {
        for rec in sync_records(&r.state, &acks, now) {
            statuses.insert(format!("{:?}", rec.status));
            cases.push(Case {
                name: format!("seed sync record r{} {:?}", rec.revision, rec.status),
                schema: dir.join(SEED_SYNC),
                record: serde_json::to_value(&rec).unwrap(),
                valid: true,
            });
        }
    }
    assert!(statuses.len() >= 3, "sync statuses covered: {statuses:?}");
    let mut bad = serde_json::to_value(&sync_records(&r.state, &acks, T0_TS)[0]).unwrap();
    bad["status"] = json!("done");
    cases.push(Case {
        name: "seed sync record with unknown status".into(),
        schema: dir.join(SEED_SYNC),
        record: bad,
        valid: false,
    });
    // Negative controls: the checks are not vacuous, formats included.
    let p = serde_json::to_value(r.state.proposals()[0]).unwrap();
    let mut bad = p.clone();
    bad["status"] = json!("open");
    cases.push(Case {
        name: "seed proposal with unknown status".into(),
        schema: dir.join(SEED_PROPOSAL),
        record: bad,
        valid: false,
    });
    let mut bad = p;
    bad["created_at"] = json!("2025-13-45T00:00:00Z");
    cases.push(Case {
        name: "seed proposal with impossible date".into(),
        schema: dir.join(SEED_PROPOSAL),
        record: bad,
        valid: false,
    });
    let mut bad = r.topology.clone();
    bad["nodes"][0]["network_address"] = json!("not a uri");
    cases.push(Case {
        name: "seed topology with bad network_address".into(),
        schema: dir.join(SEED_TOPOLOGY),
        record: bad,
        valid: false,
    });
    cases
}

/// Our own schemas over the same records, plus the other records the API serves.
fn our_cases(r: &Records) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: String, schema: &str, record: Value| {
        cases.push(Case {
            name,
            schema: our_schema_path(schema),
            record,
            valid: true,
        })
    };
    for p in r.state.proposals() {
        let mut v = serde_json::to_value(p).unwrap();
        add(format!("proposal {:?}", p.status), "proposal", v.clone());
        // As GET /v1/proposals/{id} serves it.
        v["votes"] = serde_json::to_value(r.state.votes(&p.proposal_id)).unwrap();
        v["equivocations"] = json!([]);
        add(format!("proposal {:?} with votes", p.status), "proposal", v);
        for vote in r.state.votes(&p.proposal_id) {
            add("vote".into(), "vote", serde_json::to_value(vote).unwrap());
        }
    }
    add("topology".into(), "topology", r.topology.clone());
    for rev in r.state.revisions("codex") {
        add(
            format!("contract revision {}", rev.revision),
            "contract",
            serde_json::to_value(rev).unwrap(),
        );
        for c in &rev.clauses {
            add(
                format!("clause {}", c.clause_id),
                "clause",
                serde_json::to_value(c).unwrap(),
            );
        }
    }
    let revs = r.state.revisions("codex");
    assert!(revs.len() >= 2, "a proposal was adopted");
    let d = govmesh_core::diff::contract_diff(&revs[0], &revs[1]);
    add(
        "contract diff".into(),
        "contract-diff",
        serde_json::to_value(&d).unwrap(),
    );
    for n in r.state.nodes() {
        add(
            format!("node {}", n.node_id),
            "node",
            serde_json::to_value(n).unwrap(),
        );
    }
    for d in r.state.domains() {
        add(
            format!("domain {}", d.name),
            "domain",
            serde_json::to_value(d).unwrap(),
        );
    }
    for p in r.state.proposals() {
        let policy = r.state.voting_policy(&p.proposal_id).unwrap();
        add(
            "voting policy".into(),
            "voting-policy",
            serde_json::to_value(policy).unwrap(),
        );
    }
    // The log's proofs and checkpoint in the JSON forms the API serves.
    let tree = MerkleTree::from_leaf_hashes(r.log.iter().map(|rec| rec.leaf_hash()));
    let size = tree.size();
    for index in [0, size / 2, size - 1] {
        let proof = tree.inclusion_proof(index, size).unwrap();
        add(
            format!("inclusion proof {index}"),
            "inclusion-proof",
            json!({"index": index, "size": size, "leaf_hash": tree.leaf(index).unwrap(),
                   "root": tree.root(), "proof": proof}),
        );
    }
    for from in [1, size / 2, size] {
        add(
            format!("consistency proof {from}..{size}"),
            "consistency-proof",
            json!({"from": from, "to": size, "from_root": tree.root_at(from).unwrap(),
                   "to_root": tree.root(), "proof": tree.consistency_proof(from, size).unwrap()}),
        );
    }
    let origin = format!("govmesh/{}", &r.state.mesh_id().unwrap().to_hex()[..16]);
    let cp = Checkpoint {
        origin: origin.clone(),
        size,
        root: tree.root(),
        extensions: vec![],
    };
    let note = cp.sign(&origin, &KeyPair::from_seed([1; 32]));
    add(
        "checkpoint".into(),
        "checkpoint",
        json!({"origin": origin, "size": size, "root": tree.root(), "note": note.to_text()}),
    );
    for rec in &r.log {
        add(
            format!("log record {}", rec.index),
            "log-record",
            serde_json::to_value(rec).unwrap(),
        );
        add(
            format!("envelope {}", rec.index),
            "envelope",
            serde_json::to_value(&rec.envelope).unwrap(),
        );
        let payload: Value =
            serde_json::from_slice(&rec.envelope.payload_bytes().unwrap()).unwrap();
        add(
            format!("entry payload {}", rec.index),
            "entry-payload",
            payload,
        );
    }
    cases
}

/// Records our schemas must refuse, so that neither check is vacuous.
fn our_negative_cases(r: &Records) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, schema: &str, record: Value| {
        cases.push(Case {
            name: name.into(),
            schema: our_schema_path(schema),
            record,
            valid: false,
        })
    };
    let p = serde_json::to_value(r.state.proposals()[0]).unwrap();
    let mut bad = p.clone();
    bad["unexpected"] = json!(true);
    add("proposal with an unknown field", "proposal", bad);
    let mut bad = p;
    bad["updated_at"] = json!("2025-02-30T00:00:00.000Z");
    add("proposal with an impossible date", "proposal", bad);
    let mut bad = r.topology.clone();
    bad["nodes"][0]["node_id"] = json!("not-a-uuid");
    add("topology with a bad node id", "topology", bad);
    let payload: Value =
        serde_json::from_slice(&r.log.last().unwrap().envelope.payload_bytes().unwrap()).unwrap();
    let mut bad = payload;
    bad["proposal_id"] = json!("8C3F2A4B-5E6D-4C7B-AA99-887766554433");
    add("entry payload with an upper-case id", "entry-payload", bad);
    cases
}

/// The Rust validator for a seed (draft-07) schema file, formats checked.
fn rust_seed_validator(path: &Path) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_errors(case: &Case) -> Vec<String> {
    let v = rust_seed_validator(&case.schema);
    v.iter_errors(&case.record)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn records_validate_against_the_seed_schemas_in_rust() {
    let Some(dir) = seed_dir() else { return };
    let r = build();
    for case in seed_cases(&dir, &r) {
        let errors = rust_errors(&case);
        if case.valid {
            assert!(
                errors.is_empty(),
                "{}: {errors:#?}\n{:#}",
                case.name,
                case.record
            );
        } else {
            assert!(!errors.is_empty(), "{}: accepted", case.name);
        }
    }
}

#[test]
fn our_schemas_accept_the_same_records() {
    let r = build();
    let mut n = 0;
    for case in our_cases(&r) {
        let name = case.schema.file_name().unwrap().to_str().unwrap();
        let name = name.trim_end_matches(".schema.json");
        schema::validate(name, &case.record)
            .unwrap_or_else(|e| panic!("{}: {e}\n{:#}", case.name, case.record));
        n += 1;
    }
    assert!(n > 30, "only {n} records checked");
    for case in our_negative_cases(&r) {
        let name = case.schema.file_name().unwrap().to_str().unwrap();
        let name = name.trim_end_matches(".schema.json");
        assert!(
            schema::validate(name, &case.record).is_err(),
            "{} accepted",
            case.name
        );
    }
}

/// Runs `tests/python/check_schemas.py` over the cases; returns each case's errors.
fn python_errors(cases: &[Case]) -> Vec<Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_schemas.py");
    let input = json!({"cases": cases.iter().map(|c| json!({
        "name": c.name, "schema": c.schema, "record": c.record,
    })).collect::<Vec<_>>()});
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3 and `pip install -r requirements-test.txt`")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("{stderr}(run `pip install -r requirements-test.txt`)"),
        other => panic!("check_schemas.py failed ({other:?}): {stderr}"),
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    results
        .iter()
        .zip(cases)
        .map(|(r, c)| {
            assert_eq!(r["name"], json!(c.name));
            serde_json::from_value(r["errors"].clone()).unwrap()
        })
        .collect()
}

#[test]
fn python_jsonschema_agrees() {
    let r = build();
    let mut cases = our_cases(&r);
    cases.extend(our_negative_cases(&r));
    if let Some(dir) = seed_dir() {
        cases.extend(seed_cases(&dir, &r));
    }
    let results = python_errors(&cases);
    for (case, errors) in cases.iter().zip(results) {
        if case.valid {
            assert!(errors.is_empty(), "python: {}: {errors:#?}", case.name);
        } else {
            assert!(!errors.is_empty(), "python accepted {}", case.name);
        }
    }
}
