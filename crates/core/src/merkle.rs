//! The RFC 6962 / RFC 9162 Merkle tree of the governance log: leaf and node hashes,
//! an append-only tree with roots at any size, inclusion and consistency proofs and
//! their verification.

use crate::digest::Digest;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("size {size} is larger than the tree ({have})")]
    SizeOutOfRange { size: u64, have: u64 },
    #[error("consistency needs 0 < old size <= new size, got {old} and {new}")]
    BadSizes { old: u64, new: u64 },
    #[error("proof has {got} hashes, expected {expected}")]
    WrongLength { got: usize, expected: usize },
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Digest {
    Digest::sha256_parts(&[&[0u8], leaf])
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    Digest::sha256_parts(&[&[1u8], &left.0, &right.0])
}

/// The root of the tree over these leaf hashes (`SHA-256("")` for the empty tree).
pub fn root_of(leaves: &[Digest]) -> Digest {
    todo!("H1")
}

/// An append-only Merkle tree kept in memory. Appending and the root are O(log n);
/// proofs for any earlier size are O(log n) hashes.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    // levels[0] = leaf hashes; levels[k][i] = hash of the complete subtree of 2^k leaves
    // starting at leaf i * 2^k.
    levels: Vec<Vec<Digest>>,
}

impl MerkleTree {
    pub fn new() -> MerkleTree {
        MerkleTree::default()
    }

    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Digest>) -> MerkleTree {
        let mut t = MerkleTree::new();
        for l in leaves {
            t.push(l);
        }
        t
    }

    pub fn push(&mut self, leaf_hash: Digest) {
        todo!("H1")
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn leaf(&self, index: u64) -> Option<Digest> {
        self.levels.first()?.get(index as usize).copied()
    }

    pub fn root(&self) -> Digest {
        self.root_at(self.size()).expect("current size")
    }

    /// The root the tree had when it held `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Digest, ProofError> {
        todo!("H1")
    }

    /// Audit path for leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Digest>, ProofError> {
        todo!("H1")
    }

    /// Consistency proof between sizes `old` and `new` (RFC 9162 2.1.4).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest>, ProofError> {
        todo!("H1")
    }
}

/// Checks an inclusion proof (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    todo!("H1")
}

/// Checks a consistency proof (RFC 9162 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<(), ProofError> {
    todo!("H1")
}
