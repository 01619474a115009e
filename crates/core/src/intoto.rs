//! in-toto Statement v1: what govmesh attests (sync acks, hygiene results, ...),
//! wrapped in DSSE with payload type `application/vnd.in-toto+json`.

use crate::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use crate::keys::KeyPair;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Algorithm name (`sha256`, `gitCommit`, ...) to lower-hex digest.
    pub digest: BTreeMap<String, String>,
}

impl Statement {
    pub fn new(
        subject: Vec<ResourceDescriptor>,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Statement {
        Statement {
            type_: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// Signs the statement's canonical JSON into a DSSE envelope.
    pub fn sign(&self, key: &KeyPair) -> Envelope {
        let bytes = crate::canonical::canonical_bytes(self).expect("statement serializes");
        Envelope::sign(INTOTO_PAYLOAD_TYPE, &bytes, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_statement_envelope_verifies_with_intoto_payload_type() {
        let key = KeyPair::from_seed([40u8; 32]);
        let st = Statement::new(
            vec![ResourceDescriptor {
                name: None,
                digest: BTreeMap::from([("sha256".to_owned(), "0f".repeat(32))]),
            }],
            "https://govmesh.dev/attestation/hygiene/v1",
            serde_json::json!({"passed": true}),
        );
        let env = st.sign(&key);
        assert_eq!(env.payload_type, INTOTO_PAYLOAD_TYPE);
        let payload = env.verify(&key.public()).unwrap();
        let back: Statement = serde_json::from_slice(&payload).unwrap();
        assert_eq!(back, st);
        assert_eq!(back.type_, STATEMENT_TYPE);
        assert!(
            env.verify(&KeyPair::from_seed([41u8; 32]).public())
                .is_err()
        );
    }
}
