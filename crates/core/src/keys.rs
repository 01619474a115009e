//! Ed25519 identities: signing keys, public keys (base64 of the 32 raw bytes, as the
//! seed's `public_key` fields hold them), key ids and the key file format.

use crate::digest::Digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("public key is not base64 of 32 bytes: {0}")]
    BadPublicKey(String),
    #[error("signature is not 64 bytes of base64: {0}")]
    BadSignatureEncoding(String),
    #[error("signature does not verify under key {keyid}")]
    BadSignature { keyid: String },
    #[error("key file: {0}")]
    BadKeyFile(String),
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|e| KeyError::BadPublicKey(e.to_string()))
    }

    /// Standard padded base64 of the 32 raw bytes (44 characters).
    pub fn from_base64(s: &str) -> Result<PublicKey, KeyError> {
        let raw = STANDARD
            .decode(s)
            .or_else(|_| STANDARD_NO_PAD.decode(s))
            .map_err(|e| KeyError::BadPublicKey(format!("{s:?}: {e}")))?;
        let arr: [u8; 32] = raw
            .try_into()
            .map_err(|v: Vec<u8>| KeyError::BadPublicKey(format!("{} bytes", v.len())))?;
        PublicKey::from_bytes(&arr)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key id carried in every DSSE signature: lower-hex SHA-256 of the raw key.
    pub fn keyid(&self) -> String {
        Digest::sha256(self.0.as_bytes()).to_hex()
    }

    /// Strict Ed25519 verification (rejects small-order keys and malleable signatures).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| KeyError::BadSignatureEncoding(format!("{} bytes", sig.len())))?;
        let sig = ed25519_dalek::Signature::from_bytes(&sig);
        self.0
            .verify_strict(msg, &sig)
            .map_err(|_| KeyError::BadSignature {
                keyid: self.keyid(),
            })
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// A node id (UUIDv4 form) derived from this key, so that a fresh identity has an
    /// id that nobody else can claim by accident.
    pub fn derived_node_id(&self) -> String {
        let d = Digest::sha256(self.0.as_bytes());
        let mut b: [u8; 16] = d.0[..16].try_into().expect("16 bytes");
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        uuid::Uuid::from_bytes(b).to_string()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signing key with the node id it acts as.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
    node_id: String,
}

impl KeyPair {
    /// From 32 secret seed bytes (the caller brings the randomness: core reads no OS
    /// state). The node id is derived from the public key.
    pub fn from_seed(seed: [u8; 32]) -> KeyPair {
        let signing = SigningKey::from_bytes(&seed);
        let node_id = PublicKey(signing.verifying_key()).derived_node_id();
        KeyPair { signing, node_id }
    }

    pub fn with_node_id(mut self, node_id: String) -> KeyPair {
        self.node_id = node_id;
        self
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub fn keyid(&self) -> String {
        self.public().keyid()
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// A 32-byte key that only this key pair and the holder of `peer`'s secret key can
    /// compute: X25519 between the Curve25519 forms of the two Ed25519 keys (as
    /// libsodium's `crypto_sign_ed25519_*_to_curve25519` and `crypto_box` do), hashed
    /// with a context string and both public keys in byte order. Either side gets the
    /// same key. Peer requests between nodes are authenticated with an HMAC under it
    /// instead of a signature per request (node crate, `peer_auth`).
    ///
    /// Refuses a peer key of small order, with which the agreement would yield a value
    /// anyone can compute.
    pub fn shared_mac_key(&self, peer: &PublicKey) -> Result<[u8; 32], KeyError> {
        use sha2::Digest as _;
        let shared = peer
            .0
            .to_montgomery()
            .mul_clamped(self.signing.to_scalar_bytes());
        if peer.0.is_weak() || shared.0 == [0u8; 32] {
            return Err(KeyError::BadPublicKey(format!(
                "key {} is of small order: no secret can be agreed with it",
                peer.keyid()
            )));
        }
        let mine = self.public();
        let (a, b) = if mine.as_bytes() <= peer.as_bytes() {
            (mine.as_bytes(), peer.as_bytes())
        } else {
            (peer.as_bytes(), mine.as_bytes())
        };
        let mut h = sha2::Sha256::new();
        h.update(b"govmesh-peer-mac/v1\0");
        h.update(shared.0);
        h.update(a);
        h.update(b);
        Ok(h.finalize().into())
    }

    /// The key file: JSON with the node id, public key and secret seed (base64).
    pub fn to_file_json(&self) -> String {
        let f = KeyFile {
            kind: KEY_FILE_KIND.to_owned(),
            node_id: self.node_id.clone(),
            public_key: self.public().to_base64(),
            secret_seed: STANDARD.encode(self.signing.to_bytes()),
        };
        serde_json::to_string_pretty(&f).expect("key file serializes") + "\n"
    }

    pub fn from_file_json(text: &str) -> Result<KeyPair, KeyError> {
        let f: KeyFile =
            serde_json::from_str(text).map_err(|e| KeyError::BadKeyFile(e.to_string()))?;
        if f.kind != KEY_FILE_KIND {
            return Err(KeyError::BadKeyFile(format!(
                "kind is {:?}, expected {KEY_FILE_KIND:?}",
                f.kind
            )));
        }
        let seed: [u8; 32] = STANDARD
            .decode(&f.secret_seed)
            .map_err(|e| KeyError::BadKeyFile(format!("secret_seed: {e}")))?
            .try_into()
            .map_err(|_| KeyError::BadKeyFile("secret_seed is not 32 bytes".into()))?;
        let kp = KeyPair::from_seed(seed).with_node_id(f.node_id);
        if kp.public().to_base64() != f.public_key {
            return Err(KeyError::BadKeyFile(
                "public_key does not match secret_seed".into(),
            ));
        }
        Ok(kp)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({}, {:?})", self.node_id, self.public())
    }
}

const KEY_FILE_KIND: &str = "govmesh-ed25519-key";

#[derive(Serialize, Deserialize)]
struct KeyFile {
    kind: String,
    node_id: String,
    public_key: String,
    secret_seed: String,
}

/// Verifies many signatures at once with Ed25519 batch verification (about twice the
/// throughput of one-by-one checks). `Ok` means every item verifies. On `Err` the
/// batch does not say which item is bad: call [`PublicKey::verify`] on each to find
/// it.
///
/// Before the batch equation, each item gets the cheap checks that
/// [`PublicKey::verify`] (`verify_strict`) makes: the key is not of small order, the
/// signature's `R` is a canonically encoded point not of small order, and `s` is
/// reduced. One difference remains: a key holder can deliberately put a torsion
/// component into `R`; strict verification refuses such a signature, while the
/// randomized batch equation may accept it. Nobody without the secret key can make
/// one, so this never admits a forgery; a path that must match strict verification
/// bit for bit on adversarial signers should re-check accepted items singly.
pub fn verify_batch(items: &[(&[u8], &[u8; 64], &PublicKey)]) -> Result<(), KeyError> {
    let mut messages = Vec::with_capacity(items.len());
    let mut signatures = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for (i, (msg, sig, key)) in items.iter().enumerate() {
        let bad = || KeyError::BadSignature {
            keyid: format!("{} (batch item {i})", key.keyid()),
        };
        if key.0.is_weak() {
            return Err(bad());
        }
        let r_bytes: [u8; 32] = sig[..32].try_into().expect("32 bytes");
        let r = curve25519_dalek::edwards::CompressedEdwardsY(r_bytes)
            .decompress()
            .ok_or_else(bad)?;
        if r.is_small_order() || r.compress().0 != r_bytes {
            return Err(bad());
        }
        messages.push(*msg);
        signatures.push(ed25519_dalek::Signature::from_bytes(sig));
        keys.push(key.0);
    }
    if items.is_empty() {
        return Ok(());
    }
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).map_err(|_| KeyError::BadSignature {
        keyid: format!("one of {} batch items", items.len()),
    })
}

/// Unpadded standard base64 of a 64-byte signature (86 characters), the form the seed
/// schemas' `signature` fields take.
pub fn seed_signature_text(sig: &[u8; 64]) -> String {
    STANDARD_NO_PAD.encode(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_tamper() {
        let kp = KeyPair::from_seed([7u8; 32]);
        let text = kp.to_file_json();
        let back = KeyPair::from_file_json(&text).unwrap();
        assert_eq!(back.public(), kp.public());
        assert_eq!(back.node_id(), kp.node_id());
        let other = KeyPair::from_seed([8u8; 32]).public().to_base64();
        let tampered = text.replace(&kp.public().to_base64(), &other);
        assert!(KeyPair::from_file_json(&tampered).is_err());
    }

    #[test]
    fn batch_verification_accepts_good_batches_and_refuses_any_bad_item() {
        let keys: Vec<KeyPair> = (0..20u8).map(|i| KeyPair::from_seed([i; 32])).collect();
        let msgs: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        let sigs: Vec<[u8; 64]> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let pubs: Vec<PublicKey> = keys.iter().map(KeyPair::public).collect();
        verify_batch(&batch(&msgs, &sigs, &pubs)).unwrap();
        verify_batch(&[]).unwrap();
        for bad_at in [0, 7, 19] {
            for byte in [0, 31, 32, 63] {
                let mut bad = sigs.clone();
                bad[bad_at][byte] ^= 0x04;
                assert!(
                    verify_batch(&batch(&msgs, &bad, &pubs)).is_err(),
                    "item {bad_at} byte {byte}"
                );
                // Single verification finds the bad one and only it.
                let failing: Vec<usize> = (0..20)
                    .filter(|&i| pubs[i].verify(&msgs[i], &bad[i]).is_err())
                    .collect();
                assert_eq!(failing, vec![bad_at]);
            }
        }
        // A signature under the wrong key, or over another message, spoils the batch.
        let mut swapped = batch(&msgs, &sigs, &pubs);
        swapped[3].2 = &pubs[4];
        assert!(verify_batch(&swapped).is_err());
        let mut other_msg = batch(&msgs, &sigs, &pubs);
        other_msg[5].0 = b"something else";
        assert!(verify_batch(&other_msg).is_err());
        // A small-order key (the identity point) is refused as verify_strict does.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKey(VerifyingKey::from_bytes(&identity).unwrap());
        let mut zero_sig = [0u8; 64];
        zero_sig[0] = 1;
        assert!(weak.verify(b"x", &zero_sig).is_err());
        assert!(verify_batch(&[(b"x".as_slice(), &zero_sig, &weak)]).is_err());
    }

    fn batch<'a>(
        msgs: &'a [Vec<u8>],
        sigs: &'a [[u8; 64]],
        pubs: &'a [PublicKey],
    ) -> Vec<(&'a [u8], &'a [u8; 64], &'a PublicKey)> {
        msgs.iter()
            .zip(sigs)
            .zip(pubs)
            .map(|((m, s), p)| (m.as_slice(), s, p))
            .collect()
    }

    #[test]
    fn both_sides_agree_on_the_mac_key_and_nobody_else_does() {
        let a = KeyPair::from_seed([1u8; 32]);
        let b = KeyPair::from_seed([2u8; 32]);
        let c = KeyPair::from_seed([3u8; 32]);
        let ab = a.shared_mac_key(&b.public()).unwrap();
        assert_eq!(ab, b.shared_mac_key(&a.public()).unwrap());
        assert_ne!(ab, a.shared_mac_key(&c.public()).unwrap());
        assert_ne!(ab, c.shared_mac_key(&b.public()).unwrap());
        assert_ne!(ab, c.shared_mac_key(&a.public()).unwrap());
        // The identity point is a valid encoding but of small order: refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKey::from_bytes(&identity).unwrap();
        let e = a.shared_mac_key(&weak).unwrap_err();
        assert!(e.to_string().contains("small order"), "{e}");
    }

    #[test]
    fn sign_verify_and_forgery() {
        let kp = KeyPair::from_seed([1u8; 32]);
        let sig = kp.sign(b"hello");
        kp.public().verify(b"hello", &sig).unwrap();
        assert!(kp.public().verify(b"hellp", &sig).is_err());
        let mut bad = sig;
        bad[3] ^= 1;
        assert!(kp.public().verify(b"hello", &bad).is_err());
        assert_eq!(seed_signature_text(&sig).len(), 86);
        let id = kp.node_id();
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
