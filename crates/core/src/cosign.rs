//! C2SP `tlog-cosignature` v1 (Ed25519): the timestamped cosignature a compliance
//! witness adds to a hub-signed checkpoint.
//!
//! A cosignature is a signed-note signature line `— name base64(keyid || time || sig)`:
//! the key id is `SHA-256(name || "\n" || 0x04 || pub)[..4]`, `time` is the POSIX time of
//! signing as a big-endian u64 (at most 2^63 - 1), and `sig` is an Ed25519 signature over
//! `cosignature/v1\ntime <time>\n` followed by the whole checkpoint body. A govmesh
//! witness signs with its node key under the key name `govmesh-witness/<node_id>`.

use crate::checkpoint::{self, Checkpoint};
use crate::keys::{KeyPair, PublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Signature type byte of Ed25519 cosignatures (`cosignature/v1`) in key ids and vkeys.
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;
/// The largest timestamp a cosignature may carry (2^63 - 1).
pub const MAX_COSIGNATURE_TIME: u64 = i64::MAX as u64;
/// Prefix of a govmesh witness key name; the node id follows.
pub const WITNESS_KEY_PREFIX: &str = "govmesh-witness/";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignError {
    #[error("malformed cosignature line: {0}")]
    Malformed(String),
    #[error("cosignature time {0} is above 2^63 - 1")]
    TimeOutOfRange(u64),
    #[error("cosignature by {name} has key id {found}, expected {expected} for that name and key")]
    WrongKeyId {
        name: String,
        found: String,
        expected: String,
    },
    #[error("cosignature is by {found}, expected {expected}")]
    WrongName { found: String, expected: String },
    #[error("cosignature by {name} does not verify over this checkpoint at time {time}")]
    BadSignature { name: String, time: u64 },
    #[error("the cosigned text is not a checkpoint: {0}")]
    NotACheckpoint(String),
}

/// The key name of a govmesh witness: `govmesh-witness/<node_id>`.
pub fn witness_key_name(node_id: &str) -> String {
    format!("{WITNESS_KEY_PREFIX}{node_id}")
}

/// The node id in a witness key name, if it is one.
pub fn witness_node_id(key_name: &str) -> Option<&str> {
    key_name
        .strip_prefix(WITNESS_KEY_PREFIX)
        .filter(|id| !id.is_empty())
}

/// The 4-byte key id of an Ed25519 cosigner: `SHA-256(name || 0x0A || 0x04 || pub)[..4]`
/// ([`checkpoint::key_hash`] with the cosignature type).
pub fn cosigner_key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    checkpoint::key_hash(name, COSIGNATURE_V1_TYPE, key)
}

/// The cosigner's vkey: `name+hex(keyid)+base64(0x04 || pub)`.
pub fn cosigner_verifier_key(name: &str, key: &PublicKey) -> String {
    checkpoint::verifier_key(name, COSIGNATURE_V1_TYPE, key)
}

/// The message an Ed25519 v1 cosignature signs: `cosignature/v1\ntime <t>\n` + body.
pub fn cosigned_message(checkpoint_body: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{checkpoint_body}").into_bytes()
}

/// One Ed25519 v1 cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    pub name: String,
    pub key_id: [u8; 4],
    pub time: u64,
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Cosigns a checkpoint body (which must parse as a checkpoint) at `time`.
    pub fn sign(
        checkpoint_body: &str,
        name: &str,
        key: &KeyPair,
        time: u64,
    ) -> Result<Cosignature, CosignError> {
        Checkpoint::parse_body(checkpoint_body)
            .map_err(|e| CosignError::NotACheckpoint(e.to_string()))?;
        check_name(name)?;
        if time > MAX_COSIGNATURE_TIME {
            return Err(CosignError::TimeOutOfRange(time));
        }
        Ok(Cosignature {
            name: name.to_owned(),
            key_id: cosigner_key_id(name, &key.public()),
            time,
            signature: key.sign(&cosigned_message(checkpoint_body, time)),
        })
    }

    /// The signature line without its newline: `— name base64(keyid || time || sig)`.
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + 8 + 64);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.time.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}", self.name, STANDARD.encode(raw))
    }

    /// Reads one signature line (with or without its newline) as a cosignature: the
    /// signature must be exactly 4 + 8 + 64 bytes.
    pub fn parse_line(line: &str) -> Result<Cosignature, CosignError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let bad = |why: String| CosignError::Malformed(why);
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("does not start with an em dash (U+2014) and a space".into()))?;
        let (name, sig) = rest
            .split_once(' ')
            .ok_or_else(|| bad("needs a key name and a signature separated by a space".into()))?;
        check_name(name)?;
        let raw = STANDARD
            .decode(sig)
            .map_err(|e| bad(format!("signature of {name} is not standard base64: {e}")))?;
        if raw.len() != 4 + 8 + 64 {
            return Err(bad(format!(
                "signature of {name} is {} bytes; a v1 Ed25519 cosignature is 76 \
                 (key id, time, signature)",
                raw.len()
            )));
        }
        let time = u64::from_be_bytes(raw[4..12].try_into().expect("8 bytes"));
        if time > MAX_COSIGNATURE_TIME {
            return Err(CosignError::TimeOutOfRange(time));
        }
        Ok(Cosignature {
            name: name.to_owned(),
            key_id: raw[..4].try_into().expect("4 bytes"),
            time,
            signature: raw[12..].try_into().expect("64 bytes"),
        })
    }

    /// Whether this line claims to be by `name` with `key` (name and key id match).
    pub fn is_by(&self, name: &str, key: &PublicKey) -> bool {
        self.name == name && self.key_id == cosigner_key_id(name, key)
    }

    /// Verifies this cosignature over `checkpoint_body` by `key` under `name`.
    pub fn verify(
        &self,
        checkpoint_body: &str,
        name: &str,
        key: &PublicKey,
    ) -> Result<(), CosignError> {
        if self.name != name {
            return Err(CosignError::WrongName {
                found: self.name.clone(),
                expected: name.to_owned(),
            });
        }
        let expected = cosigner_key_id(name, key);
        if self.key_id != expected {
            return Err(CosignError::WrongKeyId {
                name: name.to_owned(),
                found: hex::encode(self.key_id),
                expected: hex::encode(expected),
            });
        }
        key.verify(
            &cosigned_message(checkpoint_body, self.time),
            &self.signature,
        )
        .map_err(|_| CosignError::BadSignature {
            name: name.to_owned(),
            time: self.time,
        })
    }
}

fn check_name(name: &str) -> Result<(), CosignError> {
    if name.is_empty() {
        return Err(CosignError::Malformed("key name is empty".into()));
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || *c == '+') {
        return Err(CosignError::Malformed(format!(
            "key name {name:?} contains {c:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::SignedNote;
    use crate::digest::Digest;

    fn body() -> String {
        Checkpoint {
            origin: "example.com/behind-the-sofa".into(),
            size: 20852163,
            root: Digest(
                STANDARD
                    .decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
                    .unwrap()
                    .try_into()
                    .unwrap(),
            ),
            extensions: vec![],
        }
        .body()
    }

    /// The signed message of the spec's example, byte for byte.
    #[test]
    fn message_is_the_spec_example() {
        assert_eq!(
            String::from_utf8(cosigned_message(&body(), 1679315147)).unwrap(),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
             CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    /// The spec's example line decodes as a 76-byte v1 cosignature whose time is the
    /// 8 big-endian bytes after the key id.
    #[test]
    fn spec_example_line_parses() {
        let line = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
        let c = Cosignature::parse_line(line).unwrap();
        assert_eq!(c.name, "witness.example.com/w1");
        assert_eq!(hex::encode(c.key_id), "8d66cf3f");
        assert_eq!(c.time, 1679315147);
        assert_eq!(c.line(), line);
    }

    #[test]
    fn key_id_uses_type_0x04_not_the_note_type() {
        let k = KeyPair::from_seed([7; 32]);
        let name = witness_key_name(k.node_id());
        let id = cosigner_key_id(&name, &k.public());
        let mut pre = name.as_bytes().to_vec();
        pre.push(b'\n');
        pre.push(0x04);
        pre.extend_from_slice(k.public().as_bytes());
        assert_eq!(id, Digest::sha256(&pre).0[..4]);
        assert_ne!(id, crate::checkpoint::note_key_hash(&name, &k.public()));
        let vkey = cosigner_verifier_key(&name, &k.public());
        assert!(vkey.starts_with(&format!("{name}+{}+", hex::encode(id))));
    }

    #[test]
    fn sign_verify_round_trip_and_tampering() {
        let k = KeyPair::from_seed([9; 32]);
        let name = witness_key_name(k.node_id());
        let b = body();
        let c = Cosignature::sign(&b, &name, &k, 1_700_000_000).unwrap();
        let back = Cosignature::parse_line(&c.line()).unwrap();
        assert_eq!(back, c);
        back.verify(&b, &name, &k.public()).unwrap();
        assert!(back.is_by(&name, &k.public()));

        // Another time in the line: the signature no longer covers it.
        let mut t = back.clone();
        t.time += 1;
        assert_eq!(
            t.verify(&b, &name, &k.public()),
            Err(CosignError::BadSignature {
                name: name.clone(),
                time: 1_700_000_001
            })
        );
        // Another body (one leaf more).
        let other = b.replace("20852163", "20852164");
        assert!(matches!(
            back.verify(&other, &name, &k.public()),
            Err(CosignError::BadSignature { .. })
        ));
        // Another key under the same name: the key id differs.
        let k2 = KeyPair::from_seed([10; 32]);
        assert!(matches!(
            back.verify(&b, &name, &k2.public()),
            Err(CosignError::WrongKeyId { .. })
        ));
        // Another name.
        assert!(matches!(
            back.verify(&b, "govmesh-witness/x", &k.public()),
            Err(CosignError::WrongName { .. })
        ));
        // A plain note signature by the same key over the body is not a cosignature.
        let note = SignedNote::sign(b.clone(), &name, &k);
        assert!(matches!(
            Cosignature::parse_line(&note.signatures[0].line()),
            Err(CosignError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_out_of_range_time_and_bad_input() {
        let k = KeyPair::from_seed([9; 32]);
        let b = body();
        assert_eq!(
            Cosignature::sign(&b, "w", &k, MAX_COSIGNATURE_TIME + 1),
            Err(CosignError::TimeOutOfRange(MAX_COSIGNATURE_TIME + 1))
        );
        assert!(Cosignature::sign(&b, "w", &k, MAX_COSIGNATURE_TIME).is_ok());
        assert!(matches!(
            Cosignature::sign("not a checkpoint\n", "w", &k, 1),
            Err(CosignError::NotACheckpoint(_))
        ));
        assert!(matches!(
            Cosignature::sign(&b, "a b", &k, 1),
            Err(CosignError::Malformed(_))
        ));
        // A line whose time has the top bit set.
        let mut c = Cosignature::sign(&b, "w", &k, 5).unwrap();
        c.time = 1 << 63;
        assert_eq!(
            Cosignature::parse_line(&c.line()),
            Err(CosignError::TimeOutOfRange(1 << 63))
        );
        for line in ["", "- w AAAA", "\u{2014} w", "\u{2014} w !!!"] {
            assert!(
                matches!(
                    Cosignature::parse_line(line),
                    Err(CosignError::Malformed(_))
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn witness_names() {
        assert_eq!(witness_key_name("abc"), "govmesh-witness/abc");
        assert_eq!(witness_node_id("govmesh-witness/abc"), Some("abc"));
        assert_eq!(witness_node_id("govmesh-witness/"), None);
        assert_eq!(witness_node_id("other/abc"), None);
    }
}
