//! Hygiene attestations (issue 4): an in-toto Statement v1 about a git commit/tree,
//! whose predicate names the contract revision and clause 5.2.5 hash the repository
//! was checked against and summarises the findings. Signed as a DSSE envelope
//! (`application/vnd.in-toto+json`) by a registered node and carried in the log by an
//! `attest` entry; the state machine opens it here and checks the clause against the
//! contract it names.

use crate::digest::Digest;
use crate::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use crate::intoto::{ResourceDescriptor, STATEMENT_TYPE, Statement};
use crate::keys::{KeyPair, PublicKey};
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};

/// The predicate type of hygiene attestations.
pub const HYGIENE_PREDICATE_TYPE: &str = "https://govmesh.dev/attestation/hygiene/v1";
/// The clause whose rules a hygiene check applies.
pub const HYGIENE_CLAUSE: &str = "5.2.5";

/// The predicate of a hygiene attestation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HygienePredicate {
    pub contract_id: String,
    pub revision: u64,
    /// The revision's `contract_hash`; checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_hash: Option<Digest>,
    /// Always `5.2.5`.
    pub clause_id: String,
    /// [`crate::model::Clause::hash`] of clause 5.2.5 in that revision.
    pub clause_hash: Digest,
    /// The checker's summary (files checked, errors, warnings, infos, REUSE compliance).
    pub summary: HygieneSummary,
    /// No finding at error severity.
    pub passed: bool,
}

/// `govmesh hygiene check`'s summary, as the attestation carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HygieneSummary {
    pub files_checked: u64,
    pub errors: u64,
    pub warnings: u64,
    pub infos: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_compliant: Option<bool>,
}

/// An accepted hygiene attestation as the state keeps it (`GET /v1/attestations`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attestation {
    /// Log index of the `attest` entry.
    pub index: u64,
    pub entry_hash: Digest,
    /// Node id of the attester (the entry's author, who also signed the statement).
    pub attester: String,
    pub timestamp: Timestamp,
    pub subject: Vec<ResourceDescriptor>,
    pub predicate_type: String,
    pub predicate: HygienePredicate,
    /// The DSSE envelope as submitted: verifiable with in-toto tooling.
    pub envelope: Envelope,
}

impl Attestation {
    /// Whether any subject has this digest value (any algorithm), lower-case hex.
    pub fn has_subject_digest(&self, digest: &str) -> bool {
        let d = digest.to_ascii_lowercase();
        self.subject
            .iter()
            .any(|s| s.digest.values().any(|v| *v == d))
    }
}

/// Why an attestation envelope was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    #[error("attestation payloadType is {0:?}, expected {INTOTO_PAYLOAD_TYPE:?}")]
    PayloadType(String),
    #[error("an attestation has exactly one signature (the attester's), this one has {0}")]
    Signatures(usize),
    #[error("attestation is signed with key id {got}, the author's key id is {want}")]
    WrongKey { got: String, want: String },
    #[error("attestation signature does not verify: {0}")]
    BadSignature(String),
    #[error("attestation statement: {0}")]
    Statement(String),
}

/// The statement of a hygiene attestation.
pub fn hygiene_statement(subject: Vec<ResourceDescriptor>, p: &HygienePredicate) -> Statement {
    Statement::new(
        subject,
        HYGIENE_PREDICATE_TYPE,
        serde_json::to_value(p).expect("predicate serializes"),
    )
}

/// Signs a hygiene statement into the envelope an `attest` entry carries.
pub fn sign_hygiene(
    key: &KeyPair,
    subject: Vec<ResourceDescriptor>,
    p: &HygienePredicate,
) -> Envelope {
    hygiene_statement(subject, p).sign(key)
}

/// Opens an `attest` envelope signed by `key`: payload type, the single signature,
/// the statement's schema (`hygiene-attestation`), its type and predicate type.
/// Does not look at the contract (the state machine does).
pub fn open(env: &Envelope, key: &PublicKey) -> Result<(Statement, HygienePredicate), AttestError> {
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(AttestError::PayloadType(env.payload_type.clone()));
    }
    if env.signatures.len() != 1 {
        return Err(AttestError::Signatures(env.signatures.len()));
    }
    let want = key.keyid();
    if env.signatures[0].keyid != want {
        return Err(AttestError::WrongKey {
            got: env.signatures[0].keyid.clone(),
            want,
        });
    }
    let payload = env
        .verify(key)
        .map_err(|e| AttestError::BadSignature(e.to_string()))?;
    let value = crate::canonical::parse_strict(&payload)
        .map_err(|e| AttestError::Statement(format!("not JSON: {e}")))?;
    crate::schema::validate("hygiene-attestation", &value).map_err(AttestError::Statement)?;
    let st = Statement::deserialize(&value).map_err(|e| AttestError::Statement(e.to_string()))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != HYGIENE_PREDICATE_TYPE {
        return Err(AttestError::Statement(format!(
            "_type {:?} / predicateType {:?} is not an in-toto v1 hygiene statement",
            st.type_, st.predicate_type
        )));
    }
    let p = HygienePredicate::deserialize(&st.predicate)
        .map_err(|e| AttestError::Statement(format!("predicate: {e}")))?;
    if p.clause_id != HYGIENE_CLAUSE {
        return Err(AttestError::Statement(format!(
            "predicate clause_id is {:?}, hygiene attestations are about clause {HYGIENE_CLAUSE}",
            p.clause_id
        )));
    }
    Ok((st, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn predicate() -> HygienePredicate {
        HygienePredicate {
            contract_id: "codex".into(),
            revision: 1,
            contract_hash: None,
            clause_id: "5.2.5".into(),
            clause_hash: Digest::sha256(b"c"),
            summary: HygieneSummary {
                files_checked: 3,
                ..Default::default()
            },
            passed: true,
        }
    }

    fn subject() -> Vec<ResourceDescriptor> {
        vec![ResourceDescriptor {
            name: Some("git+HEAD".into()),
            digest: BTreeMap::from([("gitCommit".into(), "ab".repeat(20))]),
        }]
    }

    #[test]
    fn open_checks_type_key_and_schema() {
        let k = KeyPair::from_seed([7; 32]);
        let env = sign_hygiene(&k, subject(), &predicate());
        let (st, p) = open(&env, &k.public()).unwrap();
        assert_eq!(p, predicate());
        assert_eq!(st.subject, subject());
        let other = KeyPair::from_seed([8; 32]);
        assert!(matches!(
            open(&env, &other.public()),
            Err(AttestError::WrongKey { .. })
        ));
        let mut bad = env.clone();
        bad.payload_type = "text/plain".into();
        assert!(matches!(
            open(&bad, &k.public()),
            Err(AttestError::PayloadType(_))
        ));
        let mut p = predicate();
        p.clause_id = "5.4".into();
        let e = open(&sign_hygiene(&k, subject(), &p), &k.public()).unwrap_err();
        assert!(e.to_string().contains("clause_id"), "{e}");
        let e = open(&sign_hygiene(&k, vec![], &predicate()), &k.public()).unwrap_err();
        assert!(e.to_string().contains("/subject"), "{e}");
    }
}
