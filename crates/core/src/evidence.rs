//! Evidence of misbehaviour that anyone can check offline against the registry:
//! a `checkpoint_fork` is two C2SP signed checkpoints of this mesh's log, each signed
//! by a registered governance hub, with the same origin and tree size but different
//! root hashes. One log cannot have two roots at one size, so a hub signed a fork.

use crate::checkpoint::{SignedNote, note_key_hash};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};

/// The checkpoint origin of a mesh (one definition, in [`crate::seal`]).
pub use crate::seal::checkpoint_origin as mesh_origin;

/// What a verified checkpoint fork proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkProof {
    pub origin: String,
    pub size: u64,
    /// The two roots, in the order of the notes.
    pub roots: [Digest; 2],
    /// The governance hub whose key signed each note.
    pub signers: [String; 2],
}

/// A recorded checkpoint fork (`GET /v1/equivocations`, `checkpoint_forks`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFork {
    /// Log index of the `evidence` entry.
    pub index: u64,
    pub entry_hash: Digest,
    /// Node that submitted the evidence.
    pub reported_by: String,
    pub timestamp: Timestamp,
    #[serde(flatten)]
    pub proof: ForkProof,
    /// The two signed notes, as submitted.
    pub notes: [String; 2],
}

impl ForkProof {
    /// The fork regardless of the order of the notes: (size, smaller root, larger root).
    pub fn key(&self) -> (u64, Digest, Digest) {
        let [a, b] = self.roots;
        if a <= b {
            (self.size, a, b)
        } else {
            (self.size, b, a)
        }
    }
}

/// Verifies a checkpoint fork: exactly two notes, each a checkpoint of `origin`
/// signed (under the key name `origin`) by one of `hubs` (node id, key), of the same
/// size with different roots. The error says which note and what is wrong.
pub fn verify_checkpoint_fork(
    notes: &[String],
    origin: &str,
    hubs: &[(&str, PublicKey)],
) -> Result<ForkProof, String> {
    let [a, b] = notes else {
        return Err(format!(
            "a checkpoint_fork has exactly two notes, this one has {}",
            notes.len()
        ));
    };
    let (ca, sa) = open_note(a, 1, origin, hubs)?;
    let (cb, sb) = open_note(b, 2, origin, hubs)?;
    if ca.size != cb.size {
        return Err(format!(
            "the notes are of different tree sizes ({} and {}): that is growth, not a fork",
            ca.size, cb.size
        ));
    }
    if ca.root == cb.root {
        return Err(format!(
            "both notes have root {} at size {}: they agree, there is no fork",
            ca.root, ca.size
        ));
    }
    Ok(ForkProof {
        origin: origin.to_owned(),
        size: ca.size,
        roots: [ca.root, cb.root],
        signers: [sa, sb],
    })
}

fn open_note(
    text: &str,
    n: usize,
    origin: &str,
    hubs: &[(&str, PublicKey)],
) -> Result<(crate::checkpoint::Checkpoint, String), String> {
    let note = SignedNote::parse(text).map_err(|e| format!("note {n}: {e}"))?;
    let cp = note.checkpoint().map_err(|e| format!("note {n}: {e}"))?;
    if cp.origin != origin {
        return Err(format!(
            "note {n} is a checkpoint of {:?}, not of this mesh's log {origin:?}",
            cp.origin
        ));
    }
    for (node_id, key) in hubs {
        let kh = note_key_hash(origin, key);
        if note
            .signatures
            .iter()
            .any(|s| s.name == origin && s.key_hash == kh)
        {
            note.verify(origin, key)
                .map_err(|e| format!("note {n}: hub {node_id:?}: {e}"))?;
            return Ok((cp, (*node_id).to_owned()));
        }
    }
    Err(format!(
        "note {n} carries no signature by a registered governance hub's key under the name {origin:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::keys::KeyPair;

    fn note(origin: &str, size: u64, root: &[u8], k: &KeyPair) -> String {
        Checkpoint {
            origin: origin.into(),
            size,
            root: Digest::sha256(root),
            extensions: vec![],
        }
        .sign(origin, k)
        .to_text()
    }

    #[test]
    fn fork_needs_two_hub_notes_same_size_different_roots() {
        let o = "govmesh/0123456789abcdef";
        let h = KeyPair::from_seed([1; 32]);
        let x = KeyPair::from_seed([2; 32]);
        let hubs = [("hub", h.public())];
        let p = verify_checkpoint_fork(&[note(o, 5, b"a", &h), note(o, 5, b"b", &h)], o, &hubs)
            .unwrap();
        assert_eq!(p.size, 5);
        assert_eq!(p.signers, ["hub".to_string(), "hub".to_string()]);
        let err = |notes: &[String]| verify_checkpoint_fork(notes, o, &hubs).unwrap_err();
        assert!(err(&[note(o, 5, b"a", &h)]).contains("exactly two"));
        assert!(
            err(&[note(o, 5, b"a", &h), note(o, 6, b"b", &h)]).contains("different tree sizes")
        );
        assert!(err(&[note(o, 5, b"a", &h), note(o, 5, b"a", &h)]).contains("no fork"));
        assert!(err(&[note(o, 5, b"a", &h), note(o, 5, b"b", &x)]).contains("note 2"));
        let other = "govmesh/ffffffffffffffff";
        assert!(
            err(&[note(other, 5, b"a", &h), note(o, 5, b"b", &h)]).contains("not of this mesh")
        );
        let mut forged = note(o, 5, b"b", &h);
        forged = forged.replacen("5\n", "6\n", 1);
        assert!(err(&[note(o, 5, b"a", &h), forged]).contains("does not verify"));
        assert!(err(&[note(o, 5, b"a", &h), "junk".into()]).contains("note 2"));
    }
}
