//! DSSE envelopes (Dead Simple Signing Envelope, v1): the signature wrapper of every
//! log entry and attestation. Signatures are over PAE exactly as the DSSE spec defines
//! it; `payload` and `sig` are standard padded base64.

use crate::keys::{KeyError, KeyPair, PublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Payload type of a govmesh log entry.
pub const ENTRY_PAYLOAD_TYPE: &str = "application/vnd.govmesh.entry.v1+json";
/// Payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    pub keyid: String,
    /// Base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsseError {
    #[error("envelope payload is not base64: {0}")]
    PayloadEncoding(String),
    #[error("envelope has no signature")]
    Unsigned,
    #[error("envelope has no signature with key id {0}")]
    NoSignatureFor(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// DSSE pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` with one key.
    pub fn sign(payload_type: &str, payload: &[u8], key: &KeyPair) -> Envelope {
        let sig = key.sign(&pae(payload_type, payload));
        Envelope {
            payload_type: payload_type.to_owned(),
            payload: STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: key.keyid(),
                sig: STANDARD.encode(sig),
            }],
        }
    }

    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        STANDARD
            .decode(&self.payload)
            .map_err(|e| DsseError::PayloadEncoding(e.to_string()))
    }

    /// The key id of the first signature (the author of a log entry).
    pub fn first_keyid(&self) -> Result<&str, DsseError> {
        self.signatures
            .first()
            .map(|s| s.keyid.as_str())
            .ok_or(DsseError::Unsigned)
    }

    /// Verifies the signature carrying `key`'s key id; returns the payload bytes.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>, DsseError> {
        let keyid = key.keyid();
        let s = self
            .signatures
            .iter()
            .find(|s| s.keyid == keyid)
            .ok_or_else(|| DsseError::NoSignatureFor(keyid.clone()))?;
        let payload = self.payload_bytes()?;
        let sig = STANDARD
            .decode(&s.sig)
            .map_err(|e| KeyError::BadSignatureEncoding(e.to_string()))?;
        key.verify(&pae(&self.payload_type, &payload), &sig)?;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        // The example from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = KeyPair::from_seed([3u8; 32]);
        let env = Envelope::sign(ENTRY_PAYLOAD_TYPE, b"{\"a\":1}", &k);
        assert_eq!(env.verify(&k.public()).unwrap(), b"{\"a\":1}");
        let mut t = env.clone();
        t.payload = STANDARD.encode(b"{\"a\":2}");
        assert!(t.verify(&k.public()).is_err());
        let mut t = env.clone();
        t.payload_type = "text/plain".into();
        assert!(t.verify(&k.public()).is_err());
        let other = KeyPair::from_seed([4u8; 32]);
        assert!(matches!(
            env.verify(&other.public()),
            Err(DsseError::NoSignatureFor(_))
        ));
    }
}
