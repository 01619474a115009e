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
///
/// The straight recursive definition of RFC 9162 2.1.1, O(n); [`MerkleTree`] keeps
/// the subtree hashes instead and answers for any size in O(log n).
pub fn root_of(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => Digest::sha256(b""),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n` (for `n >= 2`): where RFC 9162 splits
/// a tree of `n` leaves.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
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

    /// Appends a leaf hash and every complete subtree it closes (amortized O(1),
    /// at most O(log n) hashes).
    pub fn push(&mut self, leaf_hash: Digest) {
        let mut level = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            if row.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
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
        self.check_size(size)?;
        if size == 0 {
            return Ok(Digest::sha256(b""));
        }
        Ok(self.range_hash(0, size))
    }

    /// Audit path for leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Digest>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::with_capacity(64);
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    /// Consistency proof between sizes `old` and `new` (RFC 9162 2.1.4).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest>, ProofError> {
        if old == 0 || old > new {
            return Err(ProofError::BadSizes { old, new });
        }
        self.check_size(new)?;
        let mut proof = Vec::with_capacity(64);
        self.subproof(old, 0, new, true, &mut proof);
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        let have = self.size();
        if size > have {
            return Err(ProofError::SizeOutOfRange { size, have });
        }
        Ok(())
    }

    /// `MTH(D[start:end])` for a subtree of the RFC recursion: `start` is a multiple
    /// of a power of two at least `end - start`, so the range splits into stored
    /// complete subtrees along the binary digits of its length.
    fn range_hash(&self, start: u64, end: u64) -> Digest {
        debug_assert!(start < end && end <= self.size());
        let mut pieces = [Digest::default(); 64];
        let mut count = 0;
        let mut at = start;
        let len = end - start;
        for level in (0..64).rev() {
            if len & (1 << level) != 0 {
                pieces[count] = self.levels[level][(at >> level) as usize];
                count += 1;
                at += 1 << level;
            }
        }
        let mut hash = pieces[count - 1];
        for piece in pieces[..count - 1].iter().rev() {
            hash = node_hash(piece, &hash);
        }
        hash
    }

    /// `PATH(m, D[start:end])`, appended leaf-side first.
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Digest>) {
        let n = end - start;
        if n == 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.range_hash(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.range_hash(start, start + k));
        }
    }

    /// `SUBPROOF(m, D[start:end], b)`.
    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Digest>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.range_hash(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.range_hash(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range_hash(start, start + k));
        }
    }
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `size`
/// leaves: the levels below the point where the paths of `index` and the last leaf
/// part, plus one per complete left subtree above it.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The number of hashes in the consistency proof between `old` and `new`
/// (`0 < old < new`).
fn consistency_proof_len(old: u64, new: u64) -> usize {
    let level = old.trailing_zeros();
    let index = (old - 1) >> level;
    let seed = usize::from(!old.is_power_of_two());
    seed + inclusion_proof_len(index, ((new - 1) >> level) + 1)
}

/// Checks an inclusion proof (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 || r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 2.1.4.2). Equal sizes need an empty proof
/// and equal roots.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<(), ProofError> {
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::BadSizes {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    // When the old tree is complete its root is the first node of the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 || fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
