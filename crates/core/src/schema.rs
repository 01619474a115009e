//! JSON Schemas (draft 2020-12) for every entry payload and record, embedded from
//! `crates/core/schemas/` and used to validate untrusted input.
//!
//! Each schema is self-contained (shared definitions are repeated under `$defs`), so
//! anyone can validate against one served document without fetching others; nothing
//! is ever fetched remotely. Every schema is compiled once, on first use.

use jsonschema::Validator;
use serde_json::Value;
use std::sync::OnceLock;

macro_rules! schemas {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../schemas/", $name, ".schema.json")))),*]
    };
}

/// Name and JSON text of every schema, as served at `/v1/schemas/{name}`.
const DOCUMENTS: &[(&str, &str)] = schemas![
    "entry-payload",
    "envelope",
    "log-record",
    "contract",
    "clause",
    "node",
    "domain",
    "proposal",
    "vote",
    "voting-policy",
    "topology",
    "checkpoint",
    "inclusion-proof",
    "consistency-proof",
    "contract-diff",
    "hygiene-attestation",
];

/// How many validation errors a message lists at most.
const MAX_ERRORS: usize = 3;
/// Longest single error text kept (errors quote the offending value, which may be large).
const MAX_ERROR_CHARS: usize = 240;

/// The schema documents: `(name, JSON text)`, for serving at `/v1/schemas/{name}`.
pub fn documents() -> &'static [(&'static str, &'static str)] {
    DOCUMENTS
}

/// The JSON text of one schema.
pub fn document(name: &str) -> Option<&'static str> {
    DOCUMENTS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

type Compiled = Result<Validator, String>;

fn compiled() -> &'static [(&'static str, Compiled)] {
    static COMPILED: OnceLock<Vec<(&'static str, Compiled)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        DOCUMENTS
            .iter()
            .map(|(name, text)| (*name, compile(name, text)))
            .collect()
    })
}

fn compile(name: &str, text: &str) -> Compiled {
    let schema: Value = serde_json::from_str(text)
        .map_err(|e| format!("embedded schema {name:?} is not JSON: {e}"))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("embedded schema {name:?} does not compile: {e}"))
}

fn validator(name: &str) -> Result<&'static Validator, String> {
    let (_, c) = compiled()
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("no schema named {name:?}"))?;
    c.as_ref().map_err(Clone::clone)
}

/// Validates an entry payload (the decoded DSSE payload of a log entry) against the
/// `entry-payload` schema. The error names the failing JSON paths and rules (at most
/// the first three).
pub fn validate_entry_payload(v: &Value) -> Result<(), String> {
    validate("entry-payload", v)
}

/// Validates `v` against the schema called `name` (see [`documents`]).
pub fn validate(name: &str, v: &Value) -> Result<(), String> {
    let validator = validator(name)?;
    // Every entry passes here: take the cheap path when the input is valid.
    if validator.is_valid(v) {
        return Ok(());
    }
    let mut errors = validator.iter_errors(v);
    let Some(first) = errors.next() else {
        return Ok(());
    };
    // The top level and the operation's definition both check `author` and `type`:
    // report each distinct failure once.
    let mut parts = vec![describe(&first)];
    let mut more = 0usize;
    for e in errors {
        let d = describe(&e);
        if parts.contains(&d) {
            continue;
        }
        if parts.len() < MAX_ERRORS {
            parts.push(d);
        } else {
            more += 1;
        }
    }
    let mut msg = format!("does not match schema {name:?}: {}", parts.join("; "));
    if more > 0 {
        msg.push_str(&format!(" (and {more} more)"));
    }
    Err(msg)
}

fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    let path = e.instance_path().to_string();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    let mut text = e.to_string();
    if text.chars().count() > MAX_ERROR_CHARS {
        text = text.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
    }
    format!("at {path}: {text} (rule {:?})", e.kind().keyword())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{
        AckSyncOp, AttestOp, CloseOp, ContractSpec, DomainSpec, EntryPayload, EvidenceKind,
        EvidenceOp, GenesisOp, NodeSpec, Operation, ProposeOp, UpdateNodeOp, VoteOp, WithdrawOp,
    };
    use crate::keys::KeyPair;
    use crate::model::{
        Changes, Clause, DiffOp, NodeStatus, NodeType, PatchOperation, PolicyOverride, VoteChoice,
    };
    use serde_json::json;
    use std::collections::BTreeMap;

    const P: &str = "0b7e3c1a-9f2d-4c5e-8a6b-1d2e3f405162";

    fn key(n: u8) -> KeyPair {
        KeyPair::from_seed([n; 32])
    }

    fn spec(n: u8, t: NodeType) -> NodeSpec {
        let k = key(n);
        NodeSpec {
            node_id: k.node_id().to_owned(),
            node_type: t,
            public_key: k.public(),
            network_address: Some("http://127.0.0.1:7000".into()),
            display_name: Some(format!("node {n}")),
            node_policy_capabilities: vec!["hygiene".into()],
        }
    }

    fn domain() -> DomainSpec {
        DomainSpec {
            domain_id: "5f0c9a8e-2b7d-4e3f-9a1c-0d2e4f6a8b0c".into(),
            name: "council".into(),
            description: "the hubs".into(),
            admin_node_id: key(1).node_id().to_owned(),
            member_nodes: vec![key(1).node_id().to_owned(), key(2).node_id().to_owned()],
            shared_clauses: vec!["5.5".into()],
            local_overrides: BTreeMap::from([(key(2).node_id().to_owned(), vec!["5.2.5".into()])]),
            contract_id: None,
            policy: PolicyOverride {
                quorum: Some(0.5),
                weights: Some(BTreeMap::from([(key(1).node_id().to_owned(), 2)])),
                ..PolicyOverride::default()
            },
            clause_policies: BTreeMap::from([(
                "5.5".into(),
                PolicyOverride {
                    threshold: Some(0.75),
                    ..PolicyOverride::default()
                },
            )]),
        }
    }

    fn payload(op: Operation) -> Value {
        serde_json::to_value(EntryPayload {
            author: key(1).node_id().to_owned(),
            signed_at: None,
            op,
        })
        .unwrap()
    }

    fn all_kinds() -> Vec<Value> {
        let codex = crate::codex::codex_genesis(
            "test mesh",
            vec![
                spec(1, NodeType::GovernanceHub),
                spec(3, NodeType::ComplianceWitness),
            ],
        );
        let hand = GenesisOp {
            mesh_name: "m".into(),
            contract: ContractSpec {
                contract_id: "codex".into(),
                label: "v1".into(),
                clauses: vec![Clause {
                    clause_id: "1".into(),
                    title: "One".into(),
                    text: "text".into(),
                    rules: json!({}),
                }],
            },
            founders: vec![spec(1, NodeType::GovernanceHub)],
            domains: vec![domain()],
        };
        vec![
            payload(Operation::Genesis(codex)),
            payload(Operation::Genesis(hand)),
            payload(Operation::RegisterNode(spec(2, NodeType::TrustFork))),
            payload(Operation::RegisterNode(NodeSpec {
                network_address: None,
                display_name: None,
                node_policy_capabilities: vec![],
                ..spec(4, NodeType::ComplianceWitness)
            })),
            payload(Operation::UpdateNode(UpdateNodeOp {
                node_id: key(2).node_id().to_owned(),
                status: Some(NodeStatus::Suspended),
                network_address: None,
                public_key: Some(key(9).public()),
                key_proof: None,
            })),
            payload(Operation::DefineDomain(domain())),
            payload(Operation::Propose(ProposeOp {
                proposal_id: P.into(),
                contract_id: "codex".into(),
                target_contract_clause: "5.2.5".into(),
                base_clause_hash: crate::Digest::sha256(b"x"),
                domain_id: None,
                rationale: "because".into(),
                changes: Changes {
                    current_text: "a".into(),
                    proposed_text: "b".into(),
                    diff: vec![
                        DiffOp {
                            path: "/rules/0/severity".into(),
                            operation: PatchOperation::Replace,
                            value: json!("warning"),
                        },
                        DiffOp {
                            path: "/a~1b".into(),
                            operation: PatchOperation::Remove,
                            value: Value::Null,
                        },
                    ],
                },
                voting_period_secs: Some(3600),
                create_contract: None,
                governance_scope: None,
                local_node: None,
                conflict_resolution: None,
                expedited: false,
                restore_rights: None,
            })),
            payload(Operation::Vote(VoteOp {
                proposal_id: P.into(),
                choice: VoteChoice::Veto,
                reason: Some("no".into()),
                sequence: 0,
            })),
            payload(Operation::Vote(VoteOp {
                proposal_id: P.into(),
                choice: VoteChoice::Approve,
                reason: None,
                sequence: 0,
            })),
            payload(Operation::Withdraw(WithdrawOp {
                proposal_id: P.into(),
                reason: None,
            })),
            payload(Operation::Close(CloseOp {
                proposal_id: P.into(),
                track: None,
            })),
            payload(Operation::AckSync(AckSyncOp {
                contract_id: "codex".into(),
                revision: 2,
                contract_hash: crate::Digest::sha256(b"c"),
            })),
            payload(Operation::Attest(AttestOp {
                envelope: crate::attestation::sign_hygiene(
                    &key(1),
                    vec![crate::intoto::ResourceDescriptor {
                        name: None,
                        digest: BTreeMap::from([("gitCommit".into(), "ab".repeat(20))]),
                    }],
                    &crate::attestation::HygienePredicate {
                        contract_id: "codex".into(),
                        revision: 1,
                        contract_hash: None,
                        clause_id: "5.2.5".into(),
                        clause_hash: crate::Digest::sha256(b"h"),
                        summary: Default::default(),
                        passed: true,
                    },
                ),
            })),
            payload(Operation::Evidence(EvidenceOp {
                kind: EvidenceKind::CheckpointFork,
                notes: vec!["a\n".into(), "b\n".into()],
            })),
            // A refused vote (signed with signed_at) recorded by a hub.
            payload(Operation::RecordRefusal(crate::entry::RecordRefusalOp {
                envelope: crate::entry::sign_entry_at(
                    &key(2),
                    Operation::Vote(VoteOp::new(P, VoteChoice::Approve)),
                    crate::Timestamp::from_millis(1_764_154_800_123),
                ),
                code: crate::state::RejectCode::UnknownProposal,
            })),
            payload(Operation::RecordSeal(crate::entry::RecordSealOp {
                seal: "govmesh/0123456789abcdef\n1\nAAAA\n\n— govmesh/0123456789abcdef AAAA\n"
                    .into(),
            })),
        ]
    }

    #[test]
    fn every_schema_compiles_and_has_its_id() {
        for (name, text) in documents() {
            validator(name).unwrap();
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                v["$id"],
                json!(format!("https://govmesh.dev/schemas/{name}.schema.json"))
            );
            assert_eq!(
                v["$schema"],
                json!("https://json-schema.org/draft/2020-12/schema")
            );
        }
        assert!(validate("nope", &json!({})).unwrap_err().contains("nope"));
    }

    #[test]
    fn every_entry_kind_built_with_the_rust_types_validates() {
        let all = all_kinds();
        let mut kinds: Vec<&str> = all.iter().map(|v| v["type"].as_str().unwrap()).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), 13, "{kinds:?}");
        for v in &all {
            validate_entry_payload(v).unwrap_or_else(|e| panic!("{e}\n{v:#}"));
            // And what validates also deserializes.
            serde_json::from_value::<EntryPayload>(v.clone()).unwrap();
        }
    }

    fn vote() -> Value {
        payload(Operation::Vote(VoteOp {
            proposal_id: P.into(),
            choice: VoteChoice::Approve,
            reason: None,
            sequence: 0,
        }))
    }

    /// `edit` breaks a valid payload; the error must mention every `needle`.
    fn check_bad(mut v: Value, edit: impl FnOnce(&mut Value), needles: &[&str]) {
        edit(&mut v);
        let err = validate_entry_payload(&v).expect_err("bad payload accepted");
        for n in needles {
            assert!(err.contains(n), "{err:?} does not mention {n:?}");
        }
    }

    #[test]
    fn bad_payloads_fail_naming_the_field() {
        check_bad(
            vote(),
            |v| {
                v.as_object_mut().unwrap().remove("proposal_id");
            },
            &["proposal_id", "required"],
        );
        check_bad(
            vote(),
            |v| v["extra"] = json!(1),
            &["extra", "additionalProperties"],
        );
        check_bad(
            vote(),
            |v| v["choice"] = json!("maybe"),
            &["/choice", "enum"],
        );
        check_bad(
            vote(),
            |v| v["proposal_id"] = json!("0B7E3C1A-9F2D-4C5E-8A6B-1D2E3F405162"),
            &["/proposal_id", "pattern"],
        );
        check_bad(
            vote(),
            |v| v["proposal_id"] = json!("0b7e3c1a-9f2d-1c5e-8a6b-1d2e3f405162"),
            &["/proposal_id", "pattern"],
        );
        check_bad(vote(), |v| v["author"] = json!(7), &["/author", "type"]);
        let all = all_kinds();
        let of = |t: &str| all.iter().find(|v| v["type"] == t).unwrap().clone();
        check_bad(
            of("ack_sync"),
            |v| v["revision"] = json!(0),
            &["/revision", "minimum"],
        );
        check_bad(
            of("ack_sync"),
            |v| v["contract_hash"] = json!("xy"),
            &["/contract_hash", "pattern"],
        );
        check_bad(
            of("attest"),
            |v| v["envelope"]["signatures"] = json!([]),
            &["/envelope/signatures", "minItems"],
        );
        check_bad(
            of("evidence"),
            |v| v["notes"] = json!(["one"]),
            &["/notes", "minItems"],
        );
        check_bad(
            of("evidence"),
            |v| v["kind"] = json!("vote_fork"),
            &["/kind", "enum"],
        );
        check_bad(vote(), |v| v["type"] = json!("vot"), &["/type", "enum"]);
        check_bad(
            vote(),
            |v| v["reason"] = json!("x".repeat(4001)),
            &["/reason", "maxLength"],
        );
        check_bad(vote(), |v| v["reason"] = Value::Null, &["/reason", "type"]);
        let all = all_kinds();
        let propose = all.iter().find(|v| v["type"] == "propose").unwrap().clone();
        check_bad(
            propose.clone(),
            |v| v["rationale"] = json!("r".repeat(20001)),
            &["/rationale", "maxLength"],
        );
        check_bad(
            propose.clone(),
            |v| v["rationale"] = json!(""),
            &["/rationale", "minLength"],
        );
        check_bad(
            propose.clone(),
            |v| v["target_contract_clause"] = json!("5.x"),
            &["/target_contract_clause", "pattern"],
        );
        check_bad(
            propose.clone(),
            |v| v["base_clause_hash"] = json!("AB".repeat(32)),
            &["/base_clause_hash", "pattern"],
        );
        check_bad(
            propose.clone(),
            |v| v["changes"]["diff"][0]["op"] = json!("replace"),
            &["/changes/diff/0", "op"],
        );
        check_bad(
            propose,
            |v| v["changes"]["proposed_text"] = json!("t".repeat(100_001)),
            &["/changes/proposed_text", "maxLength"],
        );
        let register = all
            .iter()
            .find(|v| v["type"] == "register_node")
            .unwrap()
            .clone();
        check_bad(
            register.clone(),
            |v| v["public_key"] = json!("abc"),
            &["/public_key", "pattern"],
        );
        check_bad(
            register,
            |v| v["node_type"] = json!("governance-hub"),
            &["/node_type", "enum"],
        );
        let domain = all
            .iter()
            .find(|v| v["type"] == "define_domain")
            .unwrap()
            .clone();
        check_bad(
            domain.clone(),
            |v| v["policy"]["quorum"] = json!(1.5),
            &["/policy/quorum", "maximum"],
        );
        check_bad(
            domain.clone(),
            |v| v["policy"]["quorom"] = json!(0.5),
            &["quorom", "additionalProperties"],
        );
        check_bad(
            domain,
            |v| v["member_nodes"] = json!([]),
            &["/member_nodes", "minItems"],
        );
    }

    #[test]
    fn errors_are_capped_and_short() {
        let v = json!({"author": "x", "type": "vote", "a": "y".repeat(100_000), "b": 1,
                       "c": 2, "d": 3, "choice": 5});
        let err = validate_entry_payload(&v).unwrap_err();
        assert!(err.len() < 2000, "{} chars", err.len());
        assert_eq!(err.matches("at /").count(), 3, "{err}");
        assert!(err.contains("more)"), "{err}");
        assert!(validate_entry_payload(&json!([])).is_err());
        assert!(validate_entry_payload(&json!({"author": key(1).node_id()})).is_err());
    }

    #[test]
    fn records_validate() {
        let k = key(1);
        let env = crate::entry::sign_entry(
            &k,
            Operation::Close(CloseOp {
                proposal_id: P.into(),
                track: None,
            }),
        );
        let env_v = serde_json::to_value(&env).unwrap();
        validate("envelope", &env_v).unwrap();
        let rec = crate::entry::LogRecord {
            index: 0,
            timestamp: crate::Timestamp(1_764_154_800_123),
            envelope: env,
        };
        validate("log-record", &serde_json::to_value(&rec).unwrap()).unwrap();
        let mut bad = env_v.clone();
        bad["signatures"][0]["sig"] = json!("not base64");
        assert!(
            validate("envelope", &bad)
                .unwrap_err()
                .contains("/signatures/0/sig")
        );
        let mut bad = env_v;
        bad["signatures"] = json!([]);
        assert!(
            validate("envelope", &bad)
                .unwrap_err()
                .contains("/signatures")
        );
    }
}
