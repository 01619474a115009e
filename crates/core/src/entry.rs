//! Log entries: the typed operations an author signs (the DSSE payload) and the log
//! record the council stamps around the envelope.

use crate::canonical::{JsonError, MAX_SAFE_INTEGER, canonical_bytes};
use crate::digest::Digest;
use crate::dsse::{ENTRY_PAYLOAD_TYPE, Envelope};
use crate::keys::{KeyPair, PublicKey};
use crate::merkle::leaf_hash;
use crate::model::{
    Changes, Clause, ConflictResolution, ConnectionType, ContractDraft, GovernanceScope,
    NodeStatus, NodeType, PolicyOverride, VoteChoice, VotingTrack,
};
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The signed payload of a log entry: who is acting and what they do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryPayload {
    /// Node id of the author; must be bound to the signing key in the registry.
    pub author: String,
    /// When the author signed the entry, by its own clock (optional; the council's
    /// stamp is the log's time). The state machine reads it only to bound how old a
    /// refused entry a hub may record ([`RecordRefusalOp`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<Timestamp>,
    #[serde(flatten)]
    pub op: Operation,
}

/// The operations of DESIGN.md section 4 that the state machine applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    Genesis(GenesisOp),
    RegisterNode(NodeSpec),
    UpdateNode(UpdateNodeOp),
    DefineDomain(DomainSpec),
    Propose(ProposeOp),
    Vote(VoteOp),
    Withdraw(WithdrawOp),
    Close(CloseOp),
    AckSync(AckSyncOp),
    Attest(AttestOp),
    Evidence(EvidenceOp),
    Connect(ConnectOp),
    Disconnect(DisconnectOp),
    Delegate(DelegateOp),
    Undelegate(UndelegateOp),
    Cancel(CancelOp),
    Enact(EnactOp),
    RecordRefusal(RecordRefusalOp),
    RecordSeal(RecordSealOp),
}

impl Operation {
    /// The `type` tag, as it appears in the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::Genesis(_) => "genesis",
            Operation::RegisterNode(_) => "register_node",
            Operation::UpdateNode(_) => "update_node",
            Operation::DefineDomain(_) => "define_domain",
            Operation::Propose(_) => "propose",
            Operation::Vote(_) => "vote",
            Operation::Withdraw(_) => "withdraw",
            Operation::Close(_) => "close",
            Operation::AckSync(_) => "ack_sync",
            Operation::Attest(_) => "attest",
            Operation::Evidence(_) => "evidence",
            Operation::Connect(_) => "connect",
            Operation::Disconnect(_) => "disconnect",
            Operation::Delegate(_) => "delegate",
            Operation::Undelegate(_) => "undelegate",
            Operation::Cancel(_) => "cancel",
            Operation::Enact(_) => "enact",
            Operation::RecordRefusal(_) => "record_refusal",
            Operation::RecordSeal(_) => "record_seal",
        }
    }
}

/// The first entry of every log: the mesh's founding contract, founding nodes and
/// domains. Signed by one of the founding governance hubs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenesisOp {
    /// Human name of the mesh; also the checkpoint origin's last part.
    pub mesh_name: String,
    pub contract: ContractSpec,
    pub founders: Vec<NodeSpec>,
    pub domains: Vec<DomainSpec>,
}

/// Revision 1 of a contract as the genesis states it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContractSpec {
    pub contract_id: String,
    pub label: String,
    pub clauses: Vec<Clause>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub node_id: String,
    pub node_type: NodeType,
    pub public_key: PublicKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_policy_capabilities: Vec<String>,
}

impl NodeSpec {
    /// The node whose identity is `key`, in role `node_type`, with no address, display
    /// name or policy capabilities (set the fields to add them).
    pub fn new(key: &KeyPair, node_type: NodeType) -> NodeSpec {
        NodeSpec {
            node_id: key.node_id().to_owned(),
            node_type,
            public_key: key.public(),
            network_address: None,
            display_name: None,
            node_policy_capabilities: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateNodeOp {
    pub node_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_address: Option<String>,
    /// Key rotation: the node's new public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKey>,
    /// Key rotation: the new key's signature over [`key_rotation_message`] (standard
    /// base64), proving that whoever rotates holds the new secret key. Required when a
    /// node rotates its own key without clause 5.5's `update_node` privilege; checked
    /// whenever present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_proof: Option<String>,
}

/// What the new key signs in a key rotation ([`UpdateNodeOp::key_proof`]): bound to
/// the node and to the key it replaces, so a proof serves one rotation only.
pub fn key_rotation_message(node_id: &str, old: &PublicKey, new: &PublicKey) -> Vec<u8> {
    format!(
        "govmesh-key-rotation/v1\n{node_id}\n{}\n{}\n",
        old.keyid(),
        new.keyid()
    )
    .into_bytes()
}

impl UpdateNodeOp {
    /// A node's rotation of its own key from `old` to `new`, with the new key's proof
    /// of possession. The entry is to be signed with the old key.
    pub fn rotate_key(node_id: &str, old: &PublicKey, new: &KeyPair) -> UpdateNodeOp {
        use base64::Engine as _;
        let sig = new.sign(&key_rotation_message(node_id, old, &new.public()));
        UpdateNodeOp {
            node_id: node_id.to_owned(),
            status: None,
            network_address: None,
            public_key: Some(new.public()),
            key_proof: Some(base64::engine::general_purpose::STANDARD.encode(sig)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainSpec {
    pub domain_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub admin_node_id: String,
    pub member_nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_clauses: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub local_overrides: BTreeMap<String, Vec<String>>,
    /// The contract whose clauses `shared_clauses` names; none: the governing contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    #[serde(default)]
    pub policy: PolicyOverride,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clause_policies: BTreeMap<String, PolicyOverride>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposeOp {
    pub proposal_id: String,
    pub contract_id: String,
    pub target_contract_clause: String,
    /// Hash of the clause as the proposer saw it ([`Clause::hash`]).
    pub base_clause_hash: Digest,
    /// The governing domain; the contract's default domain if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    pub rationale: String,
    pub changes: Changes,
    /// Shorter or longer than the policy's voting period, if the policy allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voting_period_secs: Option<u64>,
    /// A new contract this proposal creates (then it targets the governing contract's
    /// clause 5.5 and changes nothing in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_contract: Option<ContractDraft>,
    /// Federated (absent), isolated (within `domain_id`) or local (`local_node`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance_scope: Option<GovernanceScope>,
    /// The node a local-scope proposal applies to (default: the proposer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_node: Option<String>,
    /// The conflict between a federated change and a local override it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<ConflictResolution>,
    /// Asks for the policy's expedited track (shorter period, its own quorum and
    /// threshold); if it fails there it falls back to the normal track.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expedited: bool,
    /// A suspended node whose voting and proposing rights this proposal restores
    /// (then it targets the governing contract's clause 5.5 and changes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_rights: Option<String>,
}

impl ProposeOp {
    /// A plain amendment of `clause` of `contract_id` (the clause's hash `base`
    /// before the change): every optional field absent, so the contract's own rules
    /// (domain, voting period, track) apply.
    pub fn amend(
        proposal_id: impl Into<String>,
        contract_id: impl Into<String>,
        clause: impl Into<String>,
        base_clause_hash: Digest,
        rationale: impl Into<String>,
        changes: Changes,
    ) -> ProposeOp {
        ProposeOp {
            proposal_id: proposal_id.into(),
            contract_id: contract_id.into(),
            target_contract_clause: clause.into(),
            base_clause_hash,
            domain_id: None,
            rationale: rationale.into(),
            changes,
            voting_period_secs: None,
            create_contract: None,
            governance_scope: None,
            local_node: None,
            conflict_resolution: None,
            expedited: false,
            restore_rights: None,
        }
    }
}

impl VoteOp {
    /// A first vote (sequence 0) without a reason.
    pub fn new(proposal_id: impl Into<String>, choice: VoteChoice) -> VoteOp {
        VoteOp {
            proposal_id: proposal_id.into(),
            choice,
            reason: None,
            sequence: 0,
        }
    }
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoteOp {
    pub proposal_id: String,
    pub choice: VoteChoice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The voter's sequence number on this proposal: a vote with a higher one replaces
    /// the voter's earlier vote where the policy allows vote changes; a different vote
    /// with the same or a lower one is equivocation.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sequence: u64,
}

/// Delegates the author's voting weight in a domain to another member, replacing an
/// earlier delegation there. Read when a proposal opens (frozen with its voters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelegateOp {
    pub domain_id: String,
    /// The member who votes the author's weight when the author does not vote.
    pub delegate: String,
}

/// Revokes the author's delegation in a domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UndelegateOp {
    pub domain_id: String,
}

/// A guardian (clause 5.5 `timelock_guardian_role`) cancels an adopted proposal during
/// its timelock: it never takes effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CancelOp {
    pub proposal_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Makes an adopted proposal whose timelock has ended take effect (its contract
/// revision, override or restoration). Any active node may submit it; hubs do when due.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnactOp {
    pub proposal_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WithdrawOp {
    pub proposal_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloseOp {
    pub proposal_id: String,
    /// The track whose end this closes (an expedited proposal is closed twice if it
    /// falls back: first its expedited track, then its normal one); none: the track
    /// it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<VotingTrack>,
}

/// The author acknowledges that it holds (has applied) a contract revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AckSyncOp {
    pub contract_id: String,
    pub revision: u64,
    /// The revision's `contract_hash`, as the author computed it.
    pub contract_hash: Digest,
}

/// A signed attestation about something outside the log (a repository's hygiene):
/// a DSSE envelope (payload type `application/vnd.in-toto+json`) holding an in-toto
/// Statement v1, signed by the author's key. See [`crate::attestation`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttestOp {
    pub envelope: Envelope,
}

/// Declares a connection between two registered nodes (the seed topology's
/// `connections`), replacing an earlier declaration of the same pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectOp {
    pub source_node_id: String,
    pub target_node_id: String,
    pub connection_type: ConnectionType,
}

/// Withdraws a declared connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisconnectOp {
    pub source_node_id: String,
    pub target_node_id: String,
}

/// Proof that someone misbehaved, checkable offline by anyone holding the registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceOp {
    pub kind: EvidenceKind,
    /// For `checkpoint_fork`: two C2SP signed notes (text form) of the same origin and
    /// size with different roots, each signed by a registered governance hub.
    pub notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    CheckpointFork,
}

/// A governance hub records a submission the state machine refused: the signed
/// envelope exactly as submitted and the refusal's code. The state machine accepts it
/// only if the envelope is signed by its author's registered key, carries a
/// `signed_at` close to this entry's time, is neither in the log nor recorded before,
/// and would still be refused now (see `state/refusals.rs`). It yields the trust
/// observation `submission_rejected` (the recording hub observes the signer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordRefusalOp {
    pub envelope: Envelope,
    /// The code the submission was refused with.
    pub code: crate::state::RejectCode,
}

/// A governance hub records a seal it collected (the signed note with its witness
/// cosignatures, as `GET /v1/log/seal` serves it), at most once per
/// `state::SEAL_RECORD_SPACING` entries. Each witness whose cosignature verifies
/// yields the trust observation `cosignature_consistent` (the recording hub observes
/// the witness). See `state/seals.rs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordSealOp {
    pub seal: String,
}

/// Signs an operation as `key`'s node into a log entry envelope.
pub fn sign_entry(key: &KeyPair, op: Operation) -> Envelope {
    sign_payload(
        key,
        EntryPayload {
            author: key.node_id().to_owned(),
            signed_at: None,
            op,
        },
    )
}

/// [`sign_entry`] with the author's signing time (`signed_at`): what clients submit,
/// so that a refusal of the entry can be recorded while it is fresh.
pub fn sign_entry_at(key: &KeyPair, op: Operation, at: Timestamp) -> Envelope {
    sign_payload(
        key,
        EntryPayload {
            author: key.node_id().to_owned(),
            signed_at: Some(at),
            op,
        },
    )
}

fn sign_payload(key: &KeyPair, payload: EntryPayload) -> Envelope {
    let bytes = canonical_bytes(&payload).expect("entry payload serializes");
    Envelope::sign(ENTRY_PAYLOAD_TYPE, &bytes, key)
}

/// The identity of an entry for replay detection: SHA-256 of the envelope's JCS.
///
/// Every member of an envelope is a string, so its RFC 8785 form is the members in
/// key order with JSON string escaping, which serde_json writes exactly as JCS does.
/// Written out here because the generic canonicalizer costs as much as a tenth of a
/// signature check per entry; `entry_hash_is_the_jcs_hash` pins the equality.
pub fn entry_hash(env: &Envelope) -> Result<Digest, JsonError> {
    let mut out = Vec::with_capacity(env.payload.len() + 160 * env.signatures.len() + 96);
    let string = |out: &mut Vec<u8>, s: &str| {
        serde_json::to_writer(out, s).map_err(|e| JsonError::Canonicalize(e.to_string()))
    };
    out.extend_from_slice(b"{\"payload\":");
    string(&mut out, &env.payload)?;
    out.extend_from_slice(b",\"payloadType\":");
    string(&mut out, &env.payload_type)?;
    out.extend_from_slice(b",\"signatures\":[");
    for (i, s) in env.signatures.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"keyid\":");
        string(&mut out, &s.keyid)?;
        out.extend_from_slice(b",\"sig\":");
        string(&mut out, &s.sig)?;
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(Digest::sha256(&out))
}

/// What the signature of a log entry signs, for batch verification
/// ([`crate::keys::verify_batch`]): the key id it claims, the DSSE PAE bytes and the
/// raw signature. Fails if the entry does not have exactly one well-formed signature.
pub fn signature_parts(env: &Envelope) -> Result<(String, Vec<u8>, [u8; 64]), String> {
    use base64::Engine as _;
    let [s] = env.signatures.as_slice() else {
        return Err(format!(
            "a log entry has exactly one signature, this one has {}",
            env.signatures.len()
        ));
    };
    let payload = env.payload_bytes().map_err(|e| e.to_string())?;
    let sig: [u8; 64] = base64::engine::general_purpose::STANDARD
        .decode(&s.sig)
        .map_err(|e| format!("signature is not base64: {e}"))?
        .try_into()
        .map_err(|v: Vec<u8>| format!("signature is {} bytes, not 64", v.len()))?;
    Ok((
        s.keyid.clone(),
        crate::dsse::pae(&env.payload_type, &payload),
        sig,
    ))
}

/// A log record: the author's envelope plus the council's stamp. Its JCS bytes are the
/// Merkle leaf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    pub index: u64,
    pub timestamp: Timestamp,
    pub envelope: Envelope,
}

impl LogRecord {
    /// The Merkle leaf: the record's RFC 8785 (JCS) bytes.
    ///
    /// Written directly rather than through the generic canonicalizer, which costs
    /// more than the SQLite insert of the record. JCS sorts keys by UTF-16 code units
    /// (`envelope` < `index` < `timestamp`; `payload` < `payloadType` < `signatures`;
    /// `keyid` < `sig`) and escapes strings exactly as serde_json does (`"`, `\`,
    /// controls as `\b \t \n \f \r` or lower-case `\u00xx`, nothing else). Indexes
    /// beyond 2^53 - 1, where the writer could not be sure, take the canonicalizer.
    /// Debug builds check every record against the canonicalizer;
    /// `leaf_bytes_match_the_canonicalizer_on_awkward_strings` pins the equality.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        if self.index > MAX_SAFE_INTEGER {
            return self.canonical_leaf_bytes();
        }
        let env = &self.envelope;
        let mut out = Vec::with_capacity(env.payload.len() + 256);
        let string = |out: &mut Vec<u8>, s: &str| {
            serde_json::to_writer(&mut *out, s).expect("a string serializes into a Vec");
        };
        out.extend_from_slice(br#"{"envelope":{"payload":"#);
        string(&mut out, &env.payload);
        out.extend_from_slice(br#","payloadType":"#);
        string(&mut out, &env.payload_type);
        out.extend_from_slice(br#","signatures":["#);
        for (i, sig) in env.signatures.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"keyid":"#);
            string(&mut out, &sig.keyid);
            out.extend_from_slice(br#","sig":"#);
            string(&mut out, &sig.sig);
            out.push(b'}');
        }
        out.extend_from_slice(br#"]},"index":"#);
        out.extend_from_slice(self.index.to_string().as_bytes());
        out.extend_from_slice(br#","timestamp":"#);
        string(&mut out, &self.timestamp.to_rfc3339());
        out.push(b'}');
        debug_assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&self.canonical_leaf_bytes()),
            "LogRecord::leaf_bytes disagrees with the canonicalizer"
        );
        out
    }

    /// The record's JCS bytes from the generic canonicalizer.
    fn canonical_leaf_bytes(&self) -> Vec<u8> {
        canonical_bytes(self).expect("log record serializes")
    }

    pub fn leaf_hash(&self) -> Digest {
        leaf_hash(&self.leaf_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::hash_canonical;
    use crate::dsse::EnvelopeSignature;
    use proptest::prelude::*;

    fn env(payload: String, payload_type: String, sigs: Vec<(String, String)>) -> Envelope {
        Envelope {
            payload_type,
            payload,
            signatures: sigs
                .into_iter()
                .map(|(keyid, sig)| EnvelopeSignature { keyid, sig })
                .collect(),
        }
    }

    #[test]
    fn entry_hash_of_a_signed_entry() {
        let k = KeyPair::from_seed([5u8; 32]);
        let e = sign_entry(
            &k,
            Operation::Close(CloseOp {
                proposal_id: "11111111-1111-4111-8111-111111111111".into(),
                track: None,
            }),
        );
        assert_eq!(entry_hash(&e).unwrap(), hash_canonical(&e).unwrap());
    }

    #[test]
    fn leaf_bytes_match_the_canonicalizer_on_awkward_strings() {
        let awkward = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} del \u{7f}",
            "unicode é ✓ 𝄞 \u{2028}\u{2029} \u{feff}",
        ];
        for (k, a) in awkward.iter().enumerate() {
            for index in [
                0,
                7,
                1 << 40,
                MAX_SAFE_INTEGER,
                MAX_SAFE_INTEGER + 1,
                u64::MAX,
            ] {
                let rec = LogRecord {
                    index,
                    timestamp: Timestamp::from_millis(1_764_154_800_123 + k as i64),
                    envelope: env(
                        format!("{a}x"),
                        a.to_string(),
                        vec![(a.to_string(), "c2ln".into()), ("k2".into(), a.to_string())],
                    ),
                };
                assert_eq!(
                    String::from_utf8(rec.leaf_bytes()).unwrap(),
                    String::from_utf8(rec.canonical_leaf_bytes()).unwrap(),
                    "{a:?} at {index}"
                );
            }
            let mut unsigned = LogRecord {
                index: 1,
                timestamp: Timestamp::from_millis(0),
                envelope: env(String::new(), a.to_string(), vec![]),
            };
            assert_eq!(unsigned.leaf_bytes(), unsigned.canonical_leaf_bytes());
            unsigned.timestamp = Timestamp::from_millis(-1);
            assert_eq!(unsigned.leaf_bytes(), unsigned.canonical_leaf_bytes());
        }
    }

    proptest! {
        /// The hand-written JCS of an envelope equals the canonicalizer's for any
        /// strings, control characters and non-ASCII included.
        #[test]
        fn entry_hash_is_the_jcs_hash(
            payload in any::<String>(),
            payload_type in "[\\x00-\\x7f]{0,12}|\\PC{0,12}",
            sigs in proptest::collection::vec((any::<String>(), "[\\x00-\\x20\"\\\\a-z\u{7f}\u{2028}\u{e9}]{0,10}"), 0..3),
        ) {
            let e = env(payload, payload_type, sigs);
            prop_assert_eq!(entry_hash(&e).unwrap(), hash_canonical(&e).unwrap());
        }

        /// The directly written leaf equals the canonicalizer's for any strings and
        /// times.
        #[test]
        fn leaf_bytes_are_the_jcs_bytes(
            payload in any::<String>(),
            payload_type in "[\\x00-\\x7f]{0,12}|\\PC{0,12}",
            sigs in proptest::collection::vec((any::<String>(), any::<String>()), 0..3),
            index in any::<u64>(),
            millis in -62_135_596_800_000i64..=Timestamp::MAX.0,
        ) {
            let rec = LogRecord {
                index,
                timestamp: Timestamp::from_millis(millis),
                envelope: env(payload, payload_type, sigs),
            };
            prop_assert_eq!(rec.leaf_bytes(), rec.canonical_leaf_bytes());
        }
    }
}
