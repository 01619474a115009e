//! C2SP checkpoints (`tlog-checkpoint`) signed as C2SP signed notes (`signed-note`)
//! with Ed25519 keys; cosignatures (`tlog-cosignature`) come with the witnesses.
//!
//! A checkpoint body is `origin\nsize\nbase64(root)\n`; a signed note appends a blank
//! line and one `— name base64(keyhash[0..4] || signature)` line per signature.

use crate::digest::Digest;
use crate::keys::{KeyPair, PublicKey};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("no signature by key {name} on the note")]
    NoSignature { name: String },
    #[error("signature by {name} does not verify")]
    BadSignature { name: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Digest,
    /// Extension lines after the root, if any (each without its newline).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note body: `origin\nsize\nbase64(root)\n` plus extension lines.
    pub fn body(&self) -> String {
        todo!("H1")
    }

    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        todo!("H1")
    }
}

/// One signature line of a signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: [u8; 4],
    pub signature: Vec<u8>,
}

/// A signed note: body text plus signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

/// The 4-byte key hash of an Ed25519 note key: `SHA-256(name || 0x0A || 0x01 || pub)[..4]`.
pub fn note_key_hash(name: &str, key: &PublicKey) -> [u8; 4] {
    todo!("H1")
}

/// The vkey text of a note verifier key: `name+hex(keyhash)+base64(0x01 || pub)`.
pub fn note_verifier_key(name: &str, key: &PublicKey) -> String {
    todo!("H1")
}

impl SignedNote {
    /// Signs `body` (which must end in a newline) as `name`.
    pub fn sign(body: String, name: &str, key: &KeyPair) -> SignedNote {
        todo!("H1")
    }

    /// Adds another signature over the same body.
    pub fn add_signature(&mut self, name: &str, key: &KeyPair) {
        todo!("H1")
    }

    /// The note's text form.
    pub fn to_text(&self) -> String {
        todo!("H1")
    }

    pub fn parse(text: &str) -> Result<SignedNote, NoteError> {
        todo!("H1")
    }

    /// Verifies the signature made by `key` under `name`.
    pub fn verify(&self, name: &str, key: &PublicKey) -> Result<(), NoteError> {
        todo!("H1")
    }
}
