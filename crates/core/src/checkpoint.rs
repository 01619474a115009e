//! C2SP checkpoints (`tlog-checkpoint`) signed as C2SP signed notes (`signed-note`)
//! with Ed25519 keys; cosignatures (`tlog-cosignature`) come with the witnesses.
//!
//! A checkpoint body is `origin\nsize\nbase64(root)\n`; a signed note appends a blank
//! line and one `— name base64(keyhash[0..4] || signature)` line per signature.

use crate::digest::Digest;
use crate::keys::{KeyPair, PublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Signature type byte of Ed25519 in C2SP signed-note key ids and verifier keys.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// The most signature lines a note may carry (the spec asks verifiers to accept at
/// least 16; Go's `note` package allows 100).
pub const MAX_NOTE_SIGNATURES: usize = 100;
/// The largest note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// The most extension lines a checkpoint may carry.
pub const MAX_CHECKPOINT_EXTENSIONS: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("malformed signed note: {0}")]
    MalformedNote(String),
    #[error("no signature by key {name} on the note")]
    NoSignature { name: String },
    #[error("signature by {name} does not verify")]
    BadSignature { name: String },
}

fn malformed(msg: impl Into<String>) -> NoteError {
    NoteError::Malformed(msg.into())
}

fn malformed_note(msg: impl Into<String>) -> NoteError {
    NoteError::MalformedNote(msg.into())
}

/// Refuses ASCII control characters other than newline (signed-note "Format").
fn check_no_controls(text: &str, what: &str) -> Result<(), String> {
    match text
        .char_indices()
        .find(|&(_, c)| c < '\u{20}' && c != '\n')
    {
        Some((at, c)) => Err(format!(
            "{what} contains control character {:?} at byte {at}",
            c
        )),
        None => Ok(()),
    }
}

/// A key name is non-empty and has no Unicode space and no `+`.
fn check_key_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("key name is empty".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || *c == '+') {
        return Err(format!("key name {name:?} contains {c:?}"));
    }
    Ok(())
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
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        check_no_controls(text, "checkpoint").map_err(malformed)?;
        let Some(content) = text.strip_suffix('\n') else {
            return Err(malformed("the body does not end with a newline"));
        };
        let lines: Vec<&str> = content.split('\n').collect();
        if lines.len() < 3 {
            return Err(malformed(format!(
                "{} line(s); a checkpoint needs origin, tree size and root hash lines",
                lines.len()
            )));
        }
        if lines.len() - 3 > MAX_CHECKPOINT_EXTENSIONS {
            return Err(malformed(format!(
                "too many lines: {} extension lines, at most {MAX_CHECKPOINT_EXTENSIONS}",
                lines.len() - 3
            )));
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(malformed("the origin line is empty"));
        }
        let size = parse_tree_size(lines[1])?;
        let root = parse_root(lines[2])?;
        let extensions = lines[3..].iter().map(|l| l.to_string()).collect::<Vec<_>>();
        if let Some(i) = extensions.iter().position(|l| l.is_empty()) {
            return Err(malformed(format!("extension line {} is empty", i + 1)));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs this checkpoint's body as `name`.
    ///
    /// # Panics
    /// If the checkpoint cannot be written as a note (see [`Checkpoint::try_sign`]).
    pub fn sign(&self, name: &str, key: &KeyPair) -> SignedNote {
        match self.try_sign(name, key) {
            Ok(note) => note,
            Err(e) => panic!("Checkpoint::sign: {e}"),
        }
    }

    /// Signs this checkpoint's body as `name`, refusing a checkpoint whose body would
    /// not parse back to it (an empty origin, a newline or control character in a
    /// line, an empty extension line, too many extensions) and a malformed name.
    pub fn try_sign(&self, name: &str, key: &KeyPair) -> Result<SignedNote, NoteError> {
        let body = self.body();
        if Checkpoint::parse_body(&body)? != *self {
            return Err(malformed(
                "a line holds a newline, so the body reads differently",
            ));
        }
        SignedNote::try_sign(body, name, key)
    }

    /// Parses a signed checkpoint, checks the signature of `key` under `name` and
    /// returns the checkpoint.
    pub fn open(text: &str, name: &str, key: &PublicKey) -> Result<Checkpoint, NoteError> {
        let note = SignedNote::parse(text)?;
        note.verify(name, key)?;
        Checkpoint::parse_body(&note.body)
    }
}

/// Tree size: ASCII decimal, no sign, no leading zeroes except for `0` itself.
fn parse_tree_size(line: &str) -> Result<u64, NoteError> {
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!(
            "tree size {line:?} is not a decimal number"
        )));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(malformed(format!("tree size {line:?} has a leading zero")));
    }
    line.parse::<u64>()
        .map_err(|_| malformed(format!("tree size {line:?} does not fit in 64 bits")))
}

fn parse_root(line: &str) -> Result<Digest, NoteError> {
    let raw = STANDARD
        .decode(line)
        .map_err(|e| malformed(format!("root hash {line:?} is not standard base64: {e}")))?;
    let root: [u8; 32] = raw
        .try_into()
        .map_err(|v: Vec<u8>| malformed(format!("root hash is {} bytes, expected 32", v.len())))?;
    Ok(Digest(root))
}

/// One signature line of a signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: [u8; 4],
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line without its newline: `— name base64(keyhash || signature)`.
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_hash);
        raw.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}", self.name, STANDARD.encode(raw))
    }

    fn parse_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
        let bad = |why: String| malformed_note(format!("signature line {number}: {why}"));
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("does not start with an em dash (U+2014) and a space".into()))?;
        let (name, sig) = rest
            .split_once(' ')
            .ok_or_else(|| bad("needs a key name and a signature separated by a space".into()))?;
        check_key_name(name).map_err(bad)?;
        let raw = STANDARD
            .decode(sig)
            .map_err(|e| bad(format!("signature is not standard base64: {e}")))?;
        if raw.len() < 5 {
            return Err(bad(format!(
                "signature is {} bytes; needs a 4-byte key id and a signature",
                raw.len()
            )));
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_hash: raw[..4].try_into().expect("4 bytes"),
            signature: raw[4..].to_vec(),
        })
    }
}

/// A signed note: body text plus signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

/// The 4-byte key hash (key id) of a signed-note key of signature type `sig_type`:
/// `SHA-256(name || 0x0A || sig_type || pub)[..4]`. Note signatures
/// ([`ED25519_SIGNATURE_TYPE`]) and witness cosignatures
/// ([`crate::cosign::COSIGNATURE_V1_TYPE`]) differ only in the type byte.
pub fn key_hash(name: &str, sig_type: u8, key: &PublicKey) -> [u8; 4] {
    let d = Digest::sha256_parts(&[name.as_bytes(), b"\n", &[sig_type], key.as_bytes()]);
    d.0[..4].try_into().expect("4 bytes")
}

/// The vkey text of a signed-note key of signature type `sig_type`:
/// `name+hex(keyhash)+base64(sig_type || pub)`.
pub fn verifier_key(name: &str, sig_type: u8, key: &PublicKey) -> String {
    let mut raw = vec![sig_type];
    raw.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_hash(name, sig_type, key)),
        STANDARD.encode(raw)
    )
}

/// The 4-byte key hash of an Ed25519 note key: `SHA-256(name || 0x0A || 0x01 || pub)[..4]`.
pub fn note_key_hash(name: &str, key: &PublicKey) -> [u8; 4] {
    key_hash(name, ED25519_SIGNATURE_TYPE, key)
}

/// The vkey text of a note verifier key: `name+hex(keyhash)+base64(0x01 || pub)`.
pub fn note_verifier_key(name: &str, key: &PublicKey) -> String {
    verifier_key(name, ED25519_SIGNATURE_TYPE, key)
}

/// Reads a vkey written by [`note_verifier_key`] (or Go's `note.NewVerifier` form),
/// checking that its key hash matches its name and key.
pub fn parse_note_verifier_key(vkey: &str) -> Result<(String, PublicKey), NoteError> {
    let bad = |why: String| malformed_note(format!("verifier key {vkey:?}: {why}"));
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+keyhash+key".into()));
    };
    check_key_name(name).map_err(bad)?;
    if hash.len() != 8 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad("key hash is not 8 lower-case hex digits".into()));
    }
    let raw = STANDARD
        .decode(key)
        .map_err(|e| bad(format!("key is not standard base64: {e}")))?;
    let Some((&ED25519_SIGNATURE_TYPE, pub_bytes)) = raw.split_first() else {
        return Err(bad("not an Ed25519 (type 0x01) key".into()));
    };
    let pub_bytes: [u8; 32] = pub_bytes.try_into().map_err(|_| {
        bad(format!(
            "Ed25519 key is {} bytes, expected 32",
            pub_bytes.len()
        ))
    })?;
    let public = PublicKey::from_bytes(&pub_bytes).map_err(|e| bad(e.to_string()))?;
    if hex::encode(note_key_hash(name, &public)) != hash {
        return Err(bad("key hash does not match the name and key".into()));
    }
    Ok((name.to_owned(), public))
}

impl SignedNote {
    /// Signs `body` (which must end in a newline) as `name`.
    ///
    /// # Panics
    /// If the body or name is not what a signed note can carry; [`SignedNote::try_sign`]
    /// returns that as an error instead.
    pub fn sign(body: String, name: &str, key: &KeyPair) -> SignedNote {
        match SignedNote::try_sign(body, name, key) {
            Ok(note) => note,
            Err(e) => panic!("SignedNote::sign: {e}"),
        }
    }

    /// Signs `body` as `name`, refusing a body that does not end in a newline,
    /// or contains control characters, or a malformed name.
    pub fn try_sign(body: String, name: &str, key: &KeyPair) -> Result<SignedNote, NoteError> {
        check_body(&body)?;
        let mut note = SignedNote {
            body,
            signatures: Vec::new(),
        };
        note.try_add_signature(name, key)?;
        Ok(note)
    }

    /// Adds another signature over the same body (replacing an earlier signature by the
    /// same key).
    ///
    /// # Panics
    /// If `name` is not a valid key name (empty, or with a space or `+`).
    pub fn add_signature(&mut self, name: &str, key: &KeyPair) {
        if let Err(e) = self.try_add_signature(name, key) {
            panic!("SignedNote::add_signature: {e}");
        }
    }

    /// [`SignedNote::add_signature`], returning a bad name as an error.
    pub fn try_add_signature(&mut self, name: &str, key: &KeyPair) -> Result<(), NoteError> {
        check_key_name(name).map_err(malformed_note)?;
        let key_hash = note_key_hash(name, &key.public());
        let sig = NoteSignature {
            name: name.to_owned(),
            key_hash,
            signature: key.sign(self.body.as_bytes()).to_vec(),
        };
        match self
            .signatures
            .iter_mut()
            .find(|s| s.name == name && s.key_hash == key_hash)
        {
            Some(old) => *old = sig,
            None => self.signatures.push(sig),
        }
        Ok(())
    }

    /// The note's text form.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.body.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.body);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
            out.push('\n');
        }
        out
    }

    pub fn parse(text: &str) -> Result<SignedNote, NoteError> {
        if text.len() > MAX_NOTE_BYTES {
            return Err(malformed_note(format!(
                "{} bytes, more than the limit of {MAX_NOTE_BYTES}",
                text.len()
            )));
        }
        check_no_controls(text, "note").map_err(malformed_note)?;
        if !text.ends_with('\n') {
            return Err(malformed_note("does not end with a newline"));
        }
        // The text ends at the last blank line; signature lines follow it.
        let split = text
            .rfind("\n\n")
            .ok_or_else(|| malformed_note("no blank line between the text and the signatures"))?;
        let body = &text[..split + 1];
        let sig_lines: Vec<&str> = text[split + 2..]
            .strip_suffix('\n')
            .map(|s| s.split('\n').collect())
            .unwrap_or_default();
        if sig_lines.is_empty() {
            return Err(malformed_note("no signature lines after the blank line"));
        }
        if sig_lines.len() > MAX_NOTE_SIGNATURES {
            return Err(malformed_note(format!(
                "too many signature lines: {}, at most {MAX_NOTE_SIGNATURES}",
                sig_lines.len()
            )));
        }
        let signatures = sig_lines
            .iter()
            .enumerate()
            .map(|(i, line)| NoteSignature::parse_line(line, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedNote {
            body: body.to_owned(),
            signatures,
        })
    }

    /// Verifies the signature made by `key` under `name`. Signatures by other keys are
    /// ignored; every signature by this key (name and key hash) must verify.
    pub fn verify(&self, name: &str, key: &PublicKey) -> Result<(), NoteError> {
        let key_hash = note_key_hash(name, key);
        let mut found = false;
        for s in self
            .signatures
            .iter()
            .filter(|s| s.name == name && s.key_hash == key_hash)
        {
            found = true;
            key.verify(self.body.as_bytes(), &s.signature)
                .map_err(|_| NoteError::BadSignature {
                    name: name.to_owned(),
                })?;
        }
        if !found {
            return Err(NoteError::NoSignature {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// The body read as a checkpoint.
    pub fn checkpoint(&self) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse_body(&self.body)
    }
}

/// What a note body must be so that the note parses back to the same body.
fn check_body(body: &str) -> Result<(), NoteError> {
    if !body.ends_with('\n') {
        return Err(malformed_note("the text does not end with a newline"));
    }
    check_no_controls(body, "note text").map_err(malformed_note)?;
    if body.len() > MAX_NOTE_BYTES {
        return Err(malformed_note(format!(
            "the text is {} bytes, more than the limit of {MAX_NOTE_BYTES}",
            body.len()
        )));
    }
    Ok(())
}
