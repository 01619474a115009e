//! in-toto Statement v1 inside DSSE: a signed statement verifies, carries the in-toto
//! payload type, and its payload is the statement's canonical JSON.

use govmesh_core::canonical::canonical_bytes;
use govmesh_core::dsse::INTOTO_PAYLOAD_TYPE;
use govmesh_core::intoto::{ResourceDescriptor, STATEMENT_TYPE, Statement};
use govmesh_core::keys::KeyPair;
use std::collections::BTreeMap;

pub fn sample_statement() -> Statement {
    Statement::new(
        vec![ResourceDescriptor {
            name: Some("codex@3".into()),
            digest: BTreeMap::from([("sha256".to_owned(), "ab".repeat(32))]),
        }],
        "https://govmesh.dev/attestation/sync-ack/v1",
        serde_json::json!({"contract": "codex", "revision": 3, "note": "∑ü"}),
    )
}

#[test]
fn signed_statement_verifies_with_the_intoto_payload_type() {
    let key = KeyPair::from_seed([21u8; 32]);
    let st = sample_statement();
    let env = st.sign(&key);
    assert_eq!(env.payload_type, INTOTO_PAYLOAD_TYPE);
    assert_eq!(env.payload_type, "application/vnd.in-toto+json");
    assert_eq!(env.first_keyid().unwrap(), key.keyid());
    let payload = env.verify(&key.public()).unwrap();
    assert_eq!(payload, canonical_bytes(&st).unwrap());
    let back: Statement = serde_json::from_slice(&payload).unwrap();
    assert_eq!(back, st);
    let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(v["_type"], STATEMENT_TYPE);
    assert_eq!(v["subject"][0]["digest"]["sha256"], "ab".repeat(32));

    // Someone else's key, or a statement re-labelled as a log entry, does not verify.
    let other = KeyPair::from_seed([22u8; 32]);
    assert!(env.verify(&other.public()).is_err());
    let mut relabelled = env.clone();
    relabelled.payload_type = govmesh_core::dsse::ENTRY_PAYLOAD_TYPE.into();
    assert!(relabelled.verify(&key.public()).is_err());
}
