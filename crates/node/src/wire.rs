//! HTTP request and response shapes of the API (they live here, not in core: they are
//! the boundary, not the model), and their conversion into core operations.

use crate::error::ApiError;
use govmesh_core::Digest;
use govmesh_core::model::{DiffOp, NodeType, PatchOperation, VoteChoice};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---- C2SP tlog-witness: the add-checkpoint request (sent by crate::seal, answered by
// crate::witness).

/// Content type of the 409 answer that tells the client the size the witness holds.
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// The path of the endpoint.
pub const ADD_CHECKPOINT_PATH: &str = "/v1/witness/add-checkpoint";

/// Writes an add-checkpoint request body: `old N`, the proof lines, a blank line,
/// then the signed checkpoint.
pub fn add_checkpoint_body(old_size: u64, proof: &[Digest], note_text: &str) -> String {
    use base64::Engine as _;
    let mut out = format!("old {old_size}\n");
    for h in proof {
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(note_text);
    out
}

/// The checkpoint origin of a mesh: `govmesh/` + the first 16 hex digits of its id.
pub use govmesh_core::seal::checkpoint_origin;

/// An optional request field: absent is `None`; when present it must be a value of the
/// field's type. `null` is refused (422 invalid_body), as the OpenAPI document says:
/// none of its request fields is nullable.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeRequest {
    #[serde(default, deserialize_with = "present")]
    pub contract_id: Option<String>,
    pub clause: String,
    pub proposed_text: String,
    pub rationale: String,
    /// Seed-form diff ops (`operation`) or RFC 6902 ops (`op`), mixed freely.
    #[serde(default)]
    pub diff: Vec<Value>,
    #[serde(default, deserialize_with = "present")]
    pub domain_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub voting_period_secs: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub governance_scope: Option<govmesh_core::model::GovernanceScope>,
    #[serde(default, deserialize_with = "present")]
    pub local_node: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub conflict_resolution: Option<govmesh_core::model::ConflictResolution>,
    /// Ask for the policy's expedited track.
    #[serde(default)]
    pub expedited: bool,
}

/// `POST /v1/operator/restore`: propose to restore a suspended node's rights.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    pub node_id: String,
    pub rationale: String,
    #[serde(default)]
    pub voting_period_secs: Option<u64>,
}

/// `POST /v1/operator/delegate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegateRequest {
    pub domain_id: String,
    pub delegate: String,
}

/// `POST /v1/operator/undelegate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndelegateRequest {
    pub domain_id: String,
}

/// `POST /v1/operator/cancel`: the guardian cancels an adopted proposal in its timelock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub proposal_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /v1/operator/contracts`: a new contract, proposed under the Codex.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateContractRequest {
    pub contract_id: String,
    pub label: String,
    pub domain_id: String,
    pub clauses: Vec<govmesh_core::model::Clause>,
    #[serde(default, deserialize_with = "present")]
    pub rationale: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub voting_period_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    pub proposal_id: String,
    pub choice: VoteChoice,
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<String>,
    /// The vote's sequence number; absent: one more than this node's counted vote on
    /// the proposal (0 for a first vote), so that a second operator vote is a change.
    #[serde(default)]
    pub sequence: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub proposal_id: String,
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterNodeRequest {
    pub node_type: NodeType,
    pub public_key: govmesh_core::keys::PublicKey,
    #[serde(default, deserialize_with = "present")]
    pub node_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub network_address: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub node_policy_capabilities: Vec<String>,
}

/// `GET /v1/log/entries`: the records `start..end` (at most a page), or with `cursor`
/// the page after the previous one; filters by operation type, author and council time.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    #[serde(default)]
    pub start: u64,
    #[serde(default)]
    pub end: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// The operation's `type` (`vote`, `propose`, ...).
    #[serde(default)]
    pub kind: Option<String>,
    /// The author's node id.
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub since: Option<govmesh_core::Timestamp>,
    #[serde(default)]
    pub until: Option<govmesh_core::Timestamp>,
}

/// `GET /v1/proposals`: a page, newest first, filtered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalList {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub status: Option<govmesh_core::model::ProposalStatus>,
    /// A contract id.
    #[serde(default)]
    pub contract: Option<String>,
    /// The target clause id.
    #[serde(default)]
    pub clause: Option<String>,
    /// The proposer's node id.
    #[serde(default)]
    pub author: Option<String>,
    /// Created at or after.
    #[serde(default)]
    pub since: Option<govmesh_core::Timestamp>,
    /// Created before.
    #[serde(default)]
    pub until: Option<govmesh_core::Timestamp>,
}

/// `GET /v1/nodes`: a page of the registry by node id, filtered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeList {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default, rename = "type")]
    pub node_type: Option<NodeType>,
    #[serde(default)]
    pub status: Option<govmesh_core::model::NodeStatus>,
}

/// `GET /v1/topology/connections`: a page of every connection (declared, then
/// observed), filtered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionList {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only declared (true) or only observed (false) connections.
    #[serde(default)]
    pub declared: Option<bool>,
    /// Only connections from or to this node.
    #[serde(default)]
    pub node: Option<String>,
}

/// `GET /v1/equivocations`: a page of vote equivocations, then checkpoint forks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceList {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Equivocations on this proposal (checkpoint forks have none, so are left out).
    #[serde(default)]
    pub proposal: Option<String>,
    /// Equivocations by this voter (checkpoint forks are left out).
    #[serde(default)]
    pub author: Option<String>,
}

/// `GET /v1/sync`: a page of sync records by contract and revision, filtered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncList {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub contract: Option<String>,
    #[serde(default)]
    pub status: Option<govmesh_core::sync::SyncStatus>,
}

/// A list without filters (contracts, domains, revisions): `limit` and `cursor` only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `GET /v1/overrides`: a page, in adoption order, filtered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideList {
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub contract: Option<String>,
    #[serde(default)]
    pub clause: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    pub index: u64,
    #[serde(default)]
    pub size: Option<u64>,
}

/// `GET /v1/log/proof/inclusions`: the leaves `start..end` (at most a page).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionsQuery {
    pub start: u64,
    pub end: u64,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub from: u64,
    #[serde(default)]
    pub to: Option<u64>,
}

/// `?node=NODE_ID`: the effective contract for that node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectiveQuery {
    #[serde(default)]
    pub node: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionQuery {
    #[serde(default)]
    pub revision: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    #[serde(default)]
    pub from: Option<u64>,
    #[serde(default)]
    pub to: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalsQuery {
    #[serde(default)]
    pub status: Option<govmesh_core::model::ProposalStatus>,
}

#[derive(Debug, Serialize)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: Digest,
    pub root: Digest,
    pub proof: Vec<Digest>,
}

/// One leaf's proof in a [`InclusionProofs`] answer.
#[derive(Debug, Serialize)]
pub struct LeafProof {
    pub index: u64,
    pub leaf_hash: Digest,
    pub proof: Vec<Digest>,
}

/// The inclusion proofs of a run of leaves in the tree of `size`.
#[derive(Debug, Serialize)]
pub struct InclusionProofs {
    pub size: u64,
    pub root: Digest,
    pub proofs: Vec<LeafProof>,
}

#[derive(Debug, Serialize)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: Digest,
    pub to_root: Digest,
    pub proof: Vec<Digest>,
}

/// Converts one change of a proposal request into the seed's diff form.
pub fn diff_op(i: usize, v: Value) -> Result<DiffOp, ApiError> {
    let bad = |msg: String| ApiError::unprocessable("invalid_body", format!("diff[{i}]: {msg}"));
    let obj = v
        .as_object()
        .ok_or_else(|| bad("expected an object".into()))?;
    if obj.contains_key("operation") {
        return serde_json::from_value(v).map_err(|e| bad(e.to_string()));
    }
    let op = obj
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("needs \"operation\" (seed form) or \"op\" (RFC 6902)".into()))?;
    let path = obj
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("\"path\" must be a JSON Pointer string".into()))?
        .to_owned();
    for k in obj.keys() {
        if !matches!(k.as_str(), "op" | "path" | "value") {
            return Err(bad(format!("unexpected field {k:?}")));
        }
    }
    let value = obj.get("value").cloned();
    let (operation, value) = match (op, value) {
        ("add", Some(v)) => (PatchOperation::Add, v),
        ("replace", Some(v)) => (PatchOperation::Replace, v),
        ("remove", None) => (PatchOperation::Remove, Value::Null),
        ("add" | "replace", None) => return Err(bad(format!("\"{op}\" needs a \"value\""))),
        ("remove", Some(_)) => return Err(bad("\"remove\" takes no \"value\"".into())),
        (other, _) => {
            return Err(bad(format!(
                "op {other:?} is not supported; use add, remove or replace"
            )));
        }
    };
    Ok(DiffOp {
        path,
        operation,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: Value, expected: Result<(PatchOperation, Value), &str>) {
        match (diff_op(0, input.clone()), expected) {
            (Ok(d), Ok((op, v))) => {
                assert_eq!((d.operation, d.value), (op, v), "{input}");
                assert_eq!(d.path, "/a");
            }
            (Err(e), Err(needle)) => assert!(e.message.contains(needle), "{input}: {e}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn diff_ops_in_both_forms() {
        check(
            json!({"op": "replace", "path": "/a", "value": 2}),
            Ok((PatchOperation::Replace, json!(2))),
        );
        check(
            json!({"op": "add", "path": "/a", "value": [1]}),
            Ok((PatchOperation::Add, json!([1]))),
        );
        check(
            json!({"op": "remove", "path": "/a"}),
            Ok((PatchOperation::Remove, Value::Null)),
        );
        check(
            json!({"operation": "replace", "path": "/a", "value": "x"}),
            Ok((PatchOperation::Replace, json!("x"))),
        );
        check(
            json!({"op": "move", "path": "/a", "from": "/b"}),
            Err("unexpected field"),
        );
        check(json!({"op": "copy", "path": "/a"}), Err("not supported"));
        check(json!({"op": "add", "path": "/a"}), Err("needs a \"value\""));
        check(json!({"path": "/a"}), Err("needs \"operation\""));
        check(json!([1]), Err("expected an object"));
    }

    #[test]
    fn origin_is_prefix_of_mesh_id() {
        let d = Digest::sha256(b"x");
        let o = checkpoint_origin(&d);
        assert_eq!(o.len(), "govmesh/".len() + 16);
        assert!(d.to_hex().starts_with(&o["govmesh/".len()..]));
    }
}
