//! Steps 1 and 2 of applying an entry: the envelope's form, the payload's JSON and
//! schema, the signature under the author's registered key; and the id and key checks
//! the operations share.

use super::{RejectCode, Rejection, rej};
use crate::canonical::parse_strict;
use crate::dsse::{ENTRY_PAYLOAD_TYPE, Envelope, pae};
use crate::entry::EntryPayload;
use crate::keys::PublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// A lower-case, hyphenated UUIDv4 (the seed's id pattern).
pub fn is_uuid_v4(s: &str) -> bool {
    match uuid::Uuid::parse_str(s) {
        Ok(u) => {
            u.get_version_num() == 4
                && matches!(u.get_variant(), uuid::Variant::RFC4122)
                && u.hyphenated().to_string() == s
        }
        Err(_) => false,
    }
}

pub(super) fn check_id(what: &str, id: &str) -> Result<(), Rejection> {
    if is_uuid_v4(id) {
        Ok(())
    } else {
        Err(rej(
            RejectCode::Schema,
            format!("{what} {id:?} is not a lower-case UUIDv4"),
        ))
    }
}

/// Refuses small-order public keys: no signature verifies under them (strict
/// verification), so such a node could never act.
pub(super) fn check_key(node_id: &str, key: &PublicKey) -> Result<(), Rejection> {
    if key.verifying_key().is_weak() {
        return Err(rej(
            RejectCode::Forbidden,
            format!(
                "public key of node {node_id:?} is a small-order point, not a usable Ed25519 key"
            ),
        ));
    }
    Ok(())
}

/// Step 1: the envelope's form, the payload's JSON, its schema and its type.
pub(super) fn decode_entry(env: &Envelope) -> Result<(EntryPayload, Vec<u8>), Rejection> {
    if env.payload_type != ENTRY_PAYLOAD_TYPE {
        return Err(rej(
            RejectCode::Malformed,
            format!(
                "payloadType is {:?}, a log entry has {ENTRY_PAYLOAD_TYPE:?}",
                env.payload_type
            ),
        ));
    }
    if env.signatures.len() != 1 {
        return Err(rej(
            RejectCode::Malformed,
            format!(
                "a log entry has exactly one signature, this one has {}",
                env.signatures.len()
            ),
        ));
    }
    let bytes = env
        .payload_bytes()
        .map_err(|e| rej(RejectCode::Malformed, e.to_string()))?;
    let value = parse_strict(&bytes)
        .map_err(|e| rej(RejectCode::Malformed, format!("entry payload: {e}")))?;
    crate::schema::validate_entry_payload(&value).map_err(|e| rej(RejectCode::Schema, e))?;
    let payload = EntryPayload::deserialize(&value)
        .map_err(|e| rej(RejectCode::Schema, format!("entry payload: {e}")))?;
    Ok((payload, bytes))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SignatureCheck {
    Verify,
    /// The caller verified the signature under the key its key id names.
    AlreadyVerified,
}

/// Step 2: the single signature carries `key`'s key id and verifies over the PAE.
pub(super) fn verify_signature(
    env: &Envelope,
    payload: &[u8],
    key: &PublicKey,
    author: &str,
    check: SignatureCheck,
) -> Result<(), Rejection> {
    let sig = &env.signatures[0];
    let keyid = key.keyid();
    if sig.keyid != keyid {
        return Err(rej(
            RejectCode::UnknownSigner,
            format!(
                "entry is signed with key id {} but author {author:?} is registered with key id {keyid}",
                sig.keyid
            ),
        ));
    }
    if check == SignatureCheck::AlreadyVerified {
        return Ok(());
    }
    let raw = STANDARD.decode(&sig.sig).map_err(|e| {
        rej(
            RejectCode::BadSignature,
            format!("signature is not base64: {e}"),
        )
    })?;
    key.verify(&pae(&env.payload_type, payload), &raw)
        .map_err(|e| rej(RejectCode::BadSignature, format!("author {author:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_ids() {
        for (id, ok) in [
            ("2f1d3c4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", true),
            ("2f1d3c4e-5b6a-4c7d-be9f-0a1b2c3d4e5f", true),
            ("2F1D3C4E-5B6A-4C7D-8E9F-0A1B2C3D4E5F", false), // upper case
            ("2f1d3c4e5b6a4c7d8e9f0a1b2c3d4e5f", false),     // no hyphens
            ("2f1d3c4e-5b6a-1c7d-8e9f-0a1b2c3d4e5f", false), // version 1
            ("2f1d3c4e-5b6a-4c7d-ce9f-0a1b2c3d4e5f", false), // wrong variant
            ("{2f1d3c4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f}", false),
            ("", false),
        ] {
            assert_eq!(is_uuid_v4(id), ok, "{id}");
        }
    }
}
