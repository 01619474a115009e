//! The Codex genesis contract (`codex`, label `v2025.05.18`): clauses 5.4, 5.5, 5.2.5,
//! 11.0 and 11.1 with their text and machine-readable rules, plus the founding
//! `codex-council` domain.
//!
//! The rules are what the state machine, the tally, the verifier and the hygiene
//! validator read; the text says the same thing for people. Changing either goes
//! through a proposal against the clause.

use crate::canonical::hash_canonical;
use crate::dsse::ENTRY_PAYLOAD_TYPE;
use crate::entry::{ContractSpec, DomainSpec, GenesisOp, NodeSpec};
use crate::model::{Clause, NodeType, PolicyOverride};
use serde_json::{Value, json};

pub const CODEX_CONTRACT_ID: &str = "codex";
pub const CODEX_LABEL: &str = "v2025.05.18";
/// Name of the founding domain of governance hubs.
pub const COUNCIL_DOMAIN_NAME: &str = "codex-council";

/// Clause ids of the genesis Codex, in contract order.
pub const GENESIS_CLAUSE_ORDER: [&str; 5] = ["5.4", "5.5", "5.2.5", "11.0", "11.1"];

/// The genesis operation of a new mesh governed by the Codex: the contract, the
/// founders as given, and the `codex-council` domain of the founding governance hubs
/// (admin: the first founder). Founding compliance witnesses become clause 5.4's
/// witness set.
pub fn codex_genesis(mesh_name: &str, founders: Vec<NodeSpec>) -> GenesisOp {
    let domain_id = council_domain_id(mesh_name, &founders);
    let hubs: Vec<String> = founders
        .iter()
        .filter(|f| f.node_type == NodeType::GovernanceHub)
        .map(|f| f.node_id.clone())
        .collect();
    let witnesses: Vec<String> = founders
        .iter()
        .filter(|f| f.node_type == NodeType::ComplianceWitness)
        .map(|f| f.node_id.clone())
        .collect();
    let council = DomainSpec {
        domain_id: domain_id.clone(),
        name: COUNCIL_DOMAIN_NAME.to_owned(),
        description: "The founding governance hubs of the mesh. It governs every proposal \
                      that names no other domain: its members vote, and the Codex default \
                      voting policy applies unless clause 5.5 or the domain overrides it."
            .to_owned(),
        admin_node_id: founders
            .first()
            .map(|f| f.node_id.clone())
            .unwrap_or_default(),
        member_nodes: hubs,
        shared_clauses: Vec::new(),
        local_overrides: Default::default(),
        contract_id: None,
        policy: PolicyOverride::default(),
        clause_policies: Default::default(),
    };
    GenesisOp {
        mesh_name: mesh_name.to_owned(),
        contract: ContractSpec {
            contract_id: CODEX_CONTRACT_ID.to_owned(),
            label: CODEX_LABEL.to_owned(),
            clauses: vec![
                clause_5_4(&witnesses),
                clause_5_5(&domain_id),
                clause_5_2_5(),
                clause_11_0(),
                clause_11_1(),
            ],
        },
        founders,
        domains: vec![council],
    }
}

/// The `codex-council` domain id: a UUIDv4-formatted id derived from the mesh name and
/// the founders' ids, so that every founder computes the same genesis.
pub fn council_domain_id(mesh_name: &str, founders: &[NodeSpec]) -> String {
    let ids: Vec<&str> = founders.iter().map(|f| f.node_id.as_str()).collect();
    let d = hash_canonical(&json!(["govmesh/codex-council/v1", mesh_name, ids]))
        .expect("strings and arrays always canonicalize");
    let mut b: [u8; 16] = d.0[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

fn clause(id: &str, title: &str, text: &[&str], rules: Value) -> Clause {
    Clause {
        clause_id: id.to_owned(),
        title: title.to_owned(),
        // One sentence per line, so that a unified diff of a change shows the
        // sentences it touches.
        text: text.join("\n"),
        rules,
    }
}

fn clause_5_4(witnesses: &[String]) -> Clause {
    // A mesh founded without witnesses has nobody to cosign: a hub-signed checkpoint is
    // then a seal on its own. Otherwise a majority of the witnesses must cosign.
    let seal_threshold = if witnesses.is_empty() {
        0
    } else {
        witnesses.len() / 2 + 1
    };
    clause(
        "5.4",
        "Distributed Verification Network",
        &[
            "Every node of the mesh verifies the governance log for itself and holds the same \
             contracts as every other node.",
            "Governance hubs sign checkpoints of the log; the compliance witnesses listed in the \
             rules check that each new checkpoint is consistent with the last one they cosigned \
             and then cosign it.",
            "A checkpoint carrying at least seal_threshold witness cosignatures is a seal; with no \
             witnesses listed, a hub-signed checkpoint is a seal by itself.",
            "A node must apply and acknowledge each new contract revision within \
             sync_deadline_secs of its seal, and a witness must answer a cosigning request within \
             checkpoint_cosign_timeout_secs; a node that does not is reported as lagging.",
            "Trust scores are computed with the trust model in the rules from observations \
             recorded in the log, with the roles listed in pre_trusted_roles as pre-trusted \
             peers; they inform and never replace the signature and privilege checks.",
            "Every entry after the genesis carries the time its author signed it, and the log \
             accepts it only within replay_window_secs of the time the log records for it, \
             either way; an entry signed earlier than that is refused as stale, so the log \
             need only remember the entries of the last window to refuse every replay.",
        ],
        json!({
            "witnesses": witnesses,
            "seal_threshold": seal_threshold,
            "sync_deadline_secs": 300,
            "checkpoint_cosign_timeout_secs": 10,
            "trust_model": crate::trust::TrustModel::genesis_json(),
            "replay_window_secs": crate::rules::GENESIS_REPLAY_WINDOW_SECS
        }),
    )
}

fn clause_5_5(default_domain_id: &str) -> Clause {
    clause(
        "5.5",
        "Governance Mesh Integration",
        &[
            "Each node has one role: governance_hub, compliance_witness or trust_fork.",
            "A node may perform an operation only if it is registered, active, and its role \
             holds the privilege that operation_privileges names for it under the current \
             revision of this contract (the tether check); for proposals and votes it must \
             also be a member of the governing domain.",
            "A proposal to change this contract is governed by the council domain named by \
             default_domain_id; the genesis defines that domain and define_domain cannot change \
             it, so no node can create a domain of its own that decides this contract.",
            "It is decided by a voting policy built from default_voting_policy, then the \
             domain's own policy, then the clause_voting_policies entry for the target clause, \
             then the domain's entry for that clause, later ones overriding earlier ones.",
            "quorum is the share of eligible weight that must vote (abstentions and vetoes \
             count); a proposal is adopted when the approving share of approve and reject \
             weight exceeds threshold, unless vetoes reach veto as a share of the weight cast.",
            "Voting closes after voting_period_secs, which a proposal may shorten or extend \
             within voting_period_bounds, or earlier once the remaining weight can no longer \
             change the outcome.",
            "Every active node may acknowledge a contract revision it holds (ack_sync, about \
             itself), attest to a repository's hygiene (attest) and submit evidence of \
             misbehaviour (evidence): operation_privileges names any_active_node for these.",
            "A node holding the privilege operation_privileges names for connect and disconnect \
             declares and withdraws the connections between nodes (direct, relay or backup).",
            "A voting policy may also let voters change their vote before the end, offer an \
             expedited track with its own period, quorum and threshold (a proposal that fails \
             there falls back to the normal track), adopt early once approvals reach a \
             super-quorum, extend the period when quorum is first reached late, count \
             delegated weight, hold an adopted change in a timelock before it takes effect, \
             and limit how many proposals one node may have open.",
            "During a timelock a node of the timelock_guardian_role may cancel the adopted \
             change; otherwise it takes effect when the timelock ends.",
            "When suspend_on_equivocation is true, proven equivocation (two different votes by \
             one node on one proposal, or two checkpoints of one size with different roots \
             signed by one hub) suspends that node's rights to vote, propose and delegate at \
             once, until an adopted proposal restores them.",
            "Changes to this clause need an approving share above 0.667, more than two thirds.",
        ],
        json!({
            "role_privileges": {
                "governance_hub": ["can_propose_policy", "can_vote_on_proposal", "can_override_policy"],
                "compliance_witness": ["can_validate_attestation"],
                "trust_fork": []
            },
            "operation_privileges": {
                "propose": "can_propose_policy",
                "vote": "can_vote_on_proposal",
                "register_node": "can_override_policy",
                "update_node": "can_override_policy",
                "define_domain": "can_override_policy",
                "connect": "can_override_policy",
                "disconnect": "can_override_policy",
                "ack_sync": "any_active_node",
                "attest": "any_active_node",
                "evidence": "any_active_node"
            },
            "default_voting_policy": {
                "quorum": 0.334,
                "threshold": 0.5,
                "veto": 0.334,
                "voting_period_secs": 604800,
                "default_weight": 1
            },
            "clause_voting_policies": {
                "5.5": {"threshold": 0.667}
            },
            "voting_period_bounds": {"min_secs": 60, "max_secs": 7776000},
            "default_domain_id": default_domain_id,
            "suspend_on_equivocation": true,
            "timelock_guardian_role": "governance_hub"
        }),
    )
}

/// The default repository hygiene policy (issue 4): the rules object of clause 5.2.5.
pub fn default_hygiene_policy() -> Value {
    json!({
        "version": 1,
        "rules": [
            {
                "id": "structure/readme",
                "kind": "required_file",
                "severity": "error",
                "any_of": ["README", "README.md", "README.rst", "README.txt", "README.adoc"],
                "locations": [".", ".github", "docs"],
                "case_insensitive": true,
                "why": "A repository must say what it is and how to use it."
            },
            {
                "id": "structure/license",
                "kind": "required_file",
                "severity": "error",
                "any_of": ["LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING", "LICENSES/"],
                "locations": ["."],
                "case_insensitive": true,
                "why": "Nobody may reuse code whose license is not stated."
            },
            {
                "id": "structure/contributing",
                "kind": "required_file",
                "severity": "warning",
                "any_of": ["CONTRIBUTING", "CONTRIBUTING.md", "CONTRIBUTING.rst", "CONTRIBUTING.txt"],
                "locations": [".", ".github", "docs"],
                "case_insensitive": true,
                "why": "Contributors need to know how changes are proposed and reviewed."
            },
            {
                "id": "structure/security",
                "kind": "required_file",
                "severity": "warning",
                "any_of": ["SECURITY", "SECURITY.md", "SECURITY.rst", "SECURITY.txt"],
                "locations": [".", ".github", "docs"],
                "case_insensitive": true,
                "why": "Vulnerability reporters need a private channel."
            },
            {
                "id": "licensing/reuse",
                "kind": "reuse",
                "severity": "error",
                "why": "Every file carries its copyright and license as REUSE 3.3 defines it."
            },
            {
                "id": "forbidden/private-keys",
                "kind": "forbidden_file",
                "severity": "error",
                "globs": ["**/id_rsa", "**/id_dsa", "**/id_ecdsa", "**/id_ed25519",
                          "**/*.key", "**/*.p12", "**/*.pfx", "**/*.jks"],
                "why": "Private keys in a repository are compromised keys."
            },
            {
                "id": "forbidden/private-key-blocks",
                "kind": "forbidden_content",
                "severity": "error",
                "pattern": "-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----",
                "why": "Private keys in a repository are compromised keys."
            },
            {
                "id": "forbidden/env-files",
                "kind": "forbidden_file",
                "severity": "error",
                "globs": ["**/.env", "**/.env.*"],
                "except": ["**/.env.example", "**/.env.sample", "**/.env.template"],
                "why": ".env files hold local secrets and settings."
            },
            {
                "id": "size/max-file-size",
                "kind": "max_file_size",
                "severity": "error",
                "max_bytes": 10485760,
                "why": "Large binaries belong in releases or LFS, not in history."
            },
            {
                "id": "docs/readme-license-section",
                "kind": "readme_sections",
                "severity": "warning",
                "sections": ["License"],
                "why": "Readers look for the license in the README."
            }
        ]
    })
}

fn clause_5_2_5() -> Clause {
    clause(
        "5.2.5",
        "Repository Hygiene",
        &[
            "Every repository governed by this mesh must satisfy the hygiene ruleset in the \
             rules of this clause; the rules are the authority and the validator enforces \
             exactly them.",
            "By default a repository must contain a README, a LICENSE file or LICENSES \
             directory, and should contain CONTRIBUTING and SECURITY files; every file must \
             carry copyright and licensing information as the REUSE specification 3.3 defines \
             it; no private keys, no .env files and no file larger than 10 MiB may be \
             committed; and the README should have a License section.",
            "A finding of error severity fails the check; warnings and informational findings \
             are reported and do not.",
            "A check result may be signed as an attestation naming this contract's revision \
             and this clause's hash, and submitted to the mesh.",
        ],
        default_hygiene_policy(),
    )
}

fn clause_11_0() -> Clause {
    clause(
        "11.0",
        "Immutable Log Chain + Sequential Hashing",
        &[
            "Every governance operation is an entry in one append-only log per mesh: a DSSE \
             envelope signed by its author with Ed25519, stamped by the council with its index \
             and time into a log record.",
            "Indices are consecutive from zero and timestamps never decrease.",
            "The Merkle leaf of a record is the RFC 8785 canonical JSON of the record; the log \
             is an RFC 6962 Merkle tree with SHA-256, leaf hash SHA-256(0x00 || leaf) and node \
             hash SHA-256(0x01 || left || right).",
            "Entries must never be changed or removed; a correction is a new entry.",
            "A governance hub signs a C2SP checkpoint of the tree at least every \
             max_interval_secs while entries are pending and after at most \
             max_entries_between entries.",
            "Every contract revision after the first names the hash of its predecessor.",
        ],
        json!({
            "log_record": {
                "fields": ["index", "timestamp", "envelope"],
                "envelope": "dsse-v1",
                "entry_payload_type": ENTRY_PAYLOAD_TYPE,
                "signature_algorithm": "ed25519",
                "index": "consecutive-from-zero",
                "timestamp": "rfc3339-utc-milliseconds-non-decreasing"
            },
            "canonicalization": "rfc8785",
            "hash_algorithm": "sha256",
            "merkle_tree": {
                "construction": "rfc6962",
                "leaf": "jcs(log_record)",
                "leaf_hash": "sha256(0x00 || leaf)",
                "node_hash": "sha256(0x01 || left || right)"
            },
            "checkpoint": {
                "format": "c2sp-tlog-checkpoint",
                "signature": "c2sp-signed-note-ed25519",
                "cosignature": "c2sp-tlog-cosignature",
                "max_interval_secs": 60,
                "max_entries_between": 1000
            },
            "contract_chain": {
                "hash": "sha256(jcs(contract without contract_hash))",
                "parent_field": "parent_hash"
            }
        }),
    )
}

fn clause_11_1() -> Clause {
    clause(
        "11.1",
        "Hash Chain Integrity Verification",
        &[
            "Anyone holding the log may verify it offline, and every node must verify every \
             entry before applying it.",
            "A verifier replays the log from the genesis entry and checks, for each entry in \
             order, the checks listed in the rules: the author's signature, the payload's \
             schema, the tether check under the contract revision current at that entry, the \
             operation's own rules, and every tally.",
            "It then checks that each contract revision's hash and parent hash chain back to \
             revision 1, that the Merkle root of the log equals the root of the signed \
             checkpoint, that the checkpoint signature verifies under a governance hub's key, \
             and that the checkpoint carries the cosignatures clause 5.4 requires.",
            "Verification stops at the first failure and reports the index of the failing \
             entry and the check it failed.",
        ],
        json!({
            "checks": [
                {"check": "signature", "applies_to": "entry",
                 "requires": "the envelope's first signature verifies under the author's registered key over DSSE PAE"},
                {"check": "schema", "applies_to": "entry",
                 "requires": "the payload matches the entry-payload JSON Schema"},
                {"check": "tether", "applies_to": "entry",
                 "requires": "the author is registered, active and privileged for the operation under the current contract revision"},
                {"check": "operation_rules", "applies_to": "entry",
                 "requires": "the operation obeys its own rules (ids, proposal status, base clause hash, patch)"},
                {"check": "tally", "applies_to": "entry",
                 "requires": "every decided proposal's outcome follows from its counted votes and voting policy"},
                {"check": "contract_hash_chain", "applies_to": "contract",
                 "requires": "every revision's contract_hash is correct and its parent_hash is the previous revision's hash"},
                {"check": "merkle_root", "applies_to": "log",
                 "requires": "the RFC 6962 root over all records equals the checkpoint's root"},
                {"check": "checkpoint_signature", "applies_to": "checkpoint",
                 "requires": "the checkpoint is signed by a registered governance hub"},
                {"check": "witness_cosignatures", "applies_to": "checkpoint",
                 "requires": "the checkpoint carries at least clause 5.4's seal_threshold cosignatures from its witnesses"}
            ],
            "order": "as listed",
            "on_failure": "stop and report the entry index and the failed check"
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use crate::model::VotingPolicy;
    use std::collections::BTreeMap;

    fn founder(n: u8, t: NodeType) -> NodeSpec {
        let k = KeyPair::from_seed([n; 32]);
        NodeSpec::new(&k, t)
    }

    fn founders() -> Vec<NodeSpec> {
        vec![
            founder(1, NodeType::GovernanceHub),
            founder(2, NodeType::GovernanceHub),
            founder(3, NodeType::ComplianceWitness),
            founder(4, NodeType::GovernanceHub),
        ]
    }

    #[test]
    fn clauses_exist_in_order_with_text() {
        let g = codex_genesis("mesh", founders());
        assert_eq!(g.contract.contract_id, "codex");
        assert_eq!(g.contract.label, "v2025.05.18");
        let ids: Vec<&str> = g
            .contract
            .clauses
            .iter()
            .map(|c| c.clause_id.as_str())
            .collect();
        assert_eq!(ids, GENESIS_CLAUSE_ORDER);
        let titles: Vec<&str> = g
            .contract
            .clauses
            .iter()
            .map(|c| c.title.as_str())
            .collect();
        assert_eq!(
            titles,
            [
                "Distributed Verification Network",
                "Governance Mesh Integration",
                "Repository Hygiene",
                "Immutable Log Chain + Sequential Hashing",
                "Hash Chain Integrity Verification"
            ]
        );
        for c in &g.contract.clauses {
            assert!(c.text.len() > 200, "clause {} text too short", c.clause_id);
            assert!(c.rules.is_object(), "clause {} rules", c.clause_id);
            assert!(
                c.text.contains("must"),
                "clause {} is not normative",
                c.clause_id
            );
        }
    }

    #[test]
    fn clause_5_5_rules_parse_into_policies() {
        let g = codex_genesis("mesh", founders());
        let r = &g.contract.clauses[1].rules;
        let base: PolicyOverride =
            serde_json::from_value(r["default_voting_policy"].clone()).unwrap();
        assert_eq!(base.quorum, Some(0.334));
        assert_eq!(base.threshold, Some(0.5));
        assert_eq!(base.veto, Some(0.334));
        assert_eq!(base.voting_period_secs, Some(604_800));
        // Complete enough to be a VotingPolicy once weights are filled in.
        let mut full = r["default_voting_policy"].clone();
        full["weights"] = json!({});
        let full: VotingPolicy = serde_json::from_value(full).unwrap();
        let per_clause: BTreeMap<String, PolicyOverride> =
            serde_json::from_value(r["clause_voting_policies"].clone()).unwrap();
        let p55 = VotingPolicy::resolve(&full, &[&per_clause["5.5"]]);
        assert_eq!(p55.threshold, 0.667);
        assert_eq!(p55.quorum, 0.334);
        assert_eq!(r["default_domain_id"], json!(g.domains[0].domain_id));
        let roles: BTreeMap<String, Vec<crate::model::Privilege>> =
            serde_json::from_value(r["role_privileges"].clone()).unwrap();
        assert_eq!(roles.len(), 3);
        let ops: BTreeMap<String, crate::model::OperationPrivilege> =
            serde_json::from_value(r["operation_privileges"].clone()).unwrap();
        assert_eq!(ops.len(), 10);
        for op in ["connect", "disconnect"] {
            assert_eq!(
                ops[op],
                crate::model::OperationPrivilege::Role(crate::model::Privilege::CanOverridePolicy),
                "{op}"
            );
        }
        for op in ["ack_sync", "attest", "evidence"] {
            assert_eq!(
                ops[op],
                crate::model::OperationPrivilege::Open(crate::model::OpenOperation::AnyActiveNode),
                "{op}"
            );
        }
        assert_eq!(
            ops["vote"],
            crate::model::OperationPrivilege::Role(crate::model::Privilege::CanVoteOnProposal)
        );
        assert_eq!(
            r["voting_period_bounds"],
            json!({"min_secs": 60, "max_secs": 7776000})
        );
    }

    #[test]
    fn council_domain_and_witnesses() {
        let f = founders();
        let g = codex_genesis("mesh", f.clone());
        let d = &g.domains[0];
        assert_eq!(d.name, "codex-council");
        assert_eq!(d.admin_node_id, f[0].node_id);
        assert_eq!(
            d.member_nodes,
            vec![
                f[0].node_id.clone(),
                f[1].node_id.clone(),
                f[3].node_id.clone()
            ]
        );
        assert_eq!(d.policy, PolicyOverride::default());
        let r54 = &g.contract.clauses[0].rules;
        assert_eq!(r54["witnesses"], json!([f[2].node_id]));
        assert_eq!(r54["seal_threshold"], json!(1));
        let no_witness = codex_genesis("mesh", vec![founder(1, NodeType::GovernanceHub)]);
        assert_eq!(
            no_witness.contract.clauses[0].rules["seal_threshold"],
            json!(0)
        );
    }

    #[test]
    fn domain_id_is_a_stable_v4_uuid() {
        let f = founders();
        let id = council_domain_id("mesh", &f);
        let u = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(id, id.to_lowercase());
        assert_eq!(id, council_domain_id("mesh", &f));
        assert_eq!(
            codex_genesis("mesh", f.clone()),
            codex_genesis("mesh", f.clone())
        );
        assert_ne!(id, council_domain_id("other mesh", &f));
        assert_ne!(id, council_domain_id("mesh", &f[..3]));
        // Pinned: a change here changes every mesh's genesis.
        let pinned = council_domain_id("pinned", &[founder(1, NodeType::GovernanceHub)]);
        assert_eq!(pinned, "e78899de-0f66-4659-8488-50a4520f001c");
        assert_eq!(
            pinned,
            council_domain_id("pinned", &[founder(1, NodeType::TrustFork)])
        );
    }

    #[test]
    fn hygiene_rules_match_issue_4_defaults() {
        let p = default_hygiene_policy();
        assert_eq!(p["version"], json!(1));
        let rules = p["rules"].as_array().unwrap();
        let sev = |id: &str| {
            rules
                .iter()
                .find(|r| r["id"] == id)
                .unwrap_or_else(|| panic!("{id}"))["severity"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(sev("structure/readme"), "error");
        assert_eq!(sev("structure/license"), "error");
        assert_eq!(sev("structure/contributing"), "warning");
        assert_eq!(sev("structure/security"), "warning");
        assert_eq!(sev("licensing/reuse"), "error");
        assert_eq!(sev("forbidden/private-keys"), "error");
        assert_eq!(sev("forbidden/env-files"), "error");
        assert_eq!(sev("size/max-file-size"), "error");
        assert_eq!(sev("docs/readme-license-section"), "warning");
        let mut ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "rule ids are unique");
        let size = rules.iter().find(|r| r["kind"] == "max_file_size").unwrap();
        assert_eq!(size["max_bytes"], json!(10 * 1024 * 1024));
    }
}
