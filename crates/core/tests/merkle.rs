//! RFC 6962 / RFC 9162 Merkle tree: the published 8-leaf test vectors (as the
//! certificate-transparency implementations use them), exhaustive checks on small
//! trees against a plain recursive reference, and property tests on random trees.

use govmesh_core::Digest;
use govmesh_core::merkle::{
    MerkleTree, ProofError, leaf_hash, node_hash, root_of, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn h(s: &str) -> Digest {
    Digest::from_hex(s).unwrap()
}

fn hs(list: &[&str]) -> Vec<Digest> {
    list.iter().map(|s| h(s)).collect()
}

/// The leaves of the RFC 6962 test tree.
fn vector_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

fn vector_tree() -> MerkleTree {
    MerkleTree::from_leaf_hashes(vector_leaves().iter().map(|l| leaf_hash(l)))
}

/// Published roots of the test tree at sizes 1..=8.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Published inclusion proofs: (leaf index, tree size, path).
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Digest>)> {
    vec![
        (0, 1, vec![]),
        (
            0,
            8,
            hs(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            5,
            8,
            hs(&[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
        (
            2,
            3,
            hs(&["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        ),
        (
            1,
            5,
            hs(&[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]),
        ),
    ]
}

/// Published consistency proofs: (old size, new size, proof).
fn consistency_vectors() -> Vec<(u64, u64, Vec<Digest>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            hs(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            6,
            8,
            hs(&[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
        (
            2,
            5,
            hs(&[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]),
        ),
        (
            6,
            7,
            hs(&[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
    ]
}

fn flip(d: &Digest, byte: usize, bit: u8) -> Digest {
    let mut out = *d;
    out.0[byte % 32] ^= 1 << (bit % 8);
    out
}

#[test]
fn roots_match_the_published_vectors() {
    let tree = vector_tree();
    let leaves: Vec<Digest> = vector_leaves().iter().map(|l| leaf_hash(l)).collect();
    assert_eq!(tree.root_at(0).unwrap(), h(EMPTY_ROOT));
    assert_eq!(root_of(&[]), h(EMPTY_ROOT));
    for (i, want) in ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(tree.root_at(size).unwrap(), h(want), "root_at({size})");
        assert_eq!(root_of(&leaves[..=i]), h(want), "root_of({size})");
        let grown = MerkleTree::from_leaf_hashes(leaves[..=i].iter().copied());
        assert_eq!(grown.root(), h(want), "root of a tree of {size}");
    }
    assert_eq!(
        tree.root_at(9),
        Err(ProofError::SizeOutOfRange { size: 9, have: 8 })
    );
}

#[test]
fn inclusion_proofs_match_the_published_vectors() {
    let tree = vector_tree();
    let leaves = vector_leaves();
    for (index, size, want) in inclusion_vectors() {
        let proof = tree.inclusion_proof(index, size).unwrap();
        assert_eq!(proof, want, "inclusion proof for {index} in {size}");
        let root = h(ROOTS[size as usize - 1]);
        let leaf = leaf_hash(&leaves[index as usize]);
        verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
        for (what, probe) in corrupted_inclusions(index, size, &proof, &root, &leaf) {
            assert!(
                verify_inclusion(
                    &probe.leaf,
                    probe.index,
                    probe.size,
                    &probe.proof,
                    &probe.root
                )
                .is_err(),
                "{what} verified for {index} in {size}"
            );
        }
    }
}

#[test]
fn consistency_proofs_match_the_published_vectors() {
    let tree = vector_tree();
    for (old, new, want) in consistency_vectors() {
        let proof = tree.consistency_proof(old, new).unwrap();
        assert_eq!(proof, want, "consistency proof {old} -> {new}");
        let (r1, r2) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();
        if proof.is_empty() {
            continue;
        }
        for (what, p) in corrupted_consistency(old, new, &r1, &r2, &proof) {
            assert!(
                verify_consistency(p.old, p.new, &p.r1, &p.r2, &p.proof).is_err(),
                "{what} verified for {old} -> {new}"
            );
        }
    }
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let tree = vector_tree();
    let some = h(ROOTS[0]);
    assert_eq!(
        tree.inclusion_proof(8, 8),
        Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        tree.inclusion_proof(0, 9),
        Err(ProofError::SizeOutOfRange { size: 9, have: 8 })
    );
    assert_eq!(
        tree.inclusion_proof(0, 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        tree.consistency_proof(0, 3),
        Err(ProofError::BadSizes { old: 0, new: 3 })
    );
    assert_eq!(
        tree.consistency_proof(4, 3),
        Err(ProofError::BadSizes { old: 4, new: 3 })
    );
    assert_eq!(
        tree.consistency_proof(2, 9),
        Err(ProofError::SizeOutOfRange { size: 9, have: 8 })
    );
    assert_eq!(
        verify_inclusion(&some, 0, 0, &[], &some),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        verify_inclusion(&some, 0, u64::MAX, &[], &some),
        Err(ProofError::WrongLength {
            got: 0,
            expected: 64
        })
    );
    assert!(verify_inclusion(&some, u64::MAX - 1, u64::MAX, &[some; 64], &some).is_err());
    assert_eq!(
        verify_consistency(0, 1, &some, &some, &[]),
        Err(ProofError::BadSizes { old: 0, new: 1 })
    );
    assert_eq!(
        verify_consistency(2, 1, &some, &some, &[]),
        Err(ProofError::BadSizes { old: 2, new: 1 })
    );
    // Equal sizes: the roots must match and the proof must be empty.
    verify_consistency(5, 5, &some, &some, &[]).unwrap();
    assert_eq!(
        verify_consistency(5, 5, &some, &h(EMPTY_ROOT), &[]),
        Err(ProofError::RootMismatch)
    );
    assert!(verify_consistency(5, 5, &some, &some, &[some]).is_err());
    assert!(verify_consistency(1, u64::MAX, &some, &some, &[some; 3]).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &some, &some, &[some; 3]).is_err());
}

struct InclusionProbe {
    leaf: Digest,
    index: u64,
    size: u64,
    proof: Vec<Digest>,
    root: Digest,
}

/// The ways a verifier must refuse an inclusion proof that was valid for `index` in
/// `size`, except size changes, which `size_changes_agree_with_the_reference` covers.
fn corrupted_inclusions(
    index: u64,
    size: u64,
    proof: &[Digest],
    root: &Digest,
    leaf: &Digest,
) -> Vec<(String, InclusionProbe)> {
    let probe = |leaf: Digest, index: u64, proof: Vec<Digest>, root: Digest| InclusionProbe {
        leaf,
        index,
        size,
        proof,
        root,
    };
    let mut out = vec![];
    for other in [index.wrapping_sub(1), index + 1, index ^ 2, index ^ 1] {
        if other != index {
            out.push((
                format!("index {other}"),
                probe(*leaf, other, proof.to_vec(), *root),
            ));
        }
    }
    out.push((
        "wrong leaf".into(),
        probe(leaf_hash(b"wrong"), index, proof.to_vec(), *root),
    ));
    out.push((
        "empty root".into(),
        probe(*leaf, index, proof.to_vec(), h(EMPTY_ROOT)),
    ));
    let mut longer = proof.to_vec();
    longer.push(*root);
    out.push(("trailing root".into(), probe(*leaf, index, longer, *root)));
    let mut longer = vec![*root];
    longer.extend_from_slice(proof);
    out.push(("preceding root".into(), probe(*leaf, index, longer, *root)));
    if !proof.is_empty() {
        out.push((
            "removed last".into(),
            probe(*leaf, index, proof[..proof.len() - 1].to_vec(), *root),
        ));
    }
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i] = flip(&p[i], 0, 3);
        out.push((
            format!("proof[{i}] bit flip"),
            probe(*leaf, index, p, *root),
        ));
    }
    for byte in 0..32 {
        out.push((
            format!("root byte {byte}"),
            probe(*leaf, index, proof.to_vec(), flip(root, byte, byte as u8)),
        ));
        out.push((
            format!("leaf byte {byte}"),
            probe(flip(leaf, byte, byte as u8), index, proof.to_vec(), *root),
        ));
    }
    out
}

struct ConsistencyProbe {
    old: u64,
    new: u64,
    r1: Digest,
    r2: Digest,
    proof: Vec<Digest>,
}

fn corrupted_consistency(
    old: u64,
    new: u64,
    r1: &Digest,
    r2: &Digest,
    proof: &[Digest],
) -> Vec<(String, ConsistencyProbe)> {
    let probe = |r1: Digest, r2: Digest, proof: Vec<Digest>| ConsistencyProbe {
        old,
        new,
        r1,
        r2,
        proof,
    };
    let mut out = vec![
        ("swapped roots".into(), probe(*r2, *r1, proof.to_vec())),
        ("empty proof".into(), probe(*r1, *r2, vec![])),
        (
            "truncated proof".into(),
            probe(*r1, *r2, proof[..proof.len() - 1].to_vec()),
        ),
    ];
    for extra in [*r1, *r2, proof[0]] {
        let mut p = proof.to_vec();
        p.push(extra);
        out.push(("trailing hash".into(), probe(*r1, *r2, p)));
        let mut p = vec![extra];
        p.extend_from_slice(proof);
        out.push(("preceding hash".into(), probe(*r1, *r2, p)));
    }
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i] = flip(&p[i], 0, 4);
        out.push((format!("proof[{i}] bit flip"), probe(*r1, *r2, p)));
    }
    for byte in 0..32 {
        out.push((
            format!("old root byte {byte}"),
            probe(flip(r1, byte, byte as u8), *r2, proof.to_vec()),
        ));
        out.push((
            format!("new root byte {byte}"),
            probe(*r1, flip(r2, byte, byte as u8), proof.to_vec()),
        ));
    }
    out
}

/// The root an inclusion proof leads to, by the recursive definition of RFC 9162
/// 2.1.3.1 (the proof's last hash is the sibling at the top), or `None` if the proof
/// has the wrong length. A reference for the bit-walking verifier.
fn reference_inclusion_root(
    leaf: Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
) -> Option<Digest> {
    if index >= size {
        return None;
    }
    if size == 1 {
        return proof.is_empty().then_some(leaf);
    }
    let (&top, rest) = proof.split_last()?;
    let k = 1 << (63 - (size - 1).leading_zeros());
    if index < k {
        Some(node_hash(
            &reference_inclusion_root(leaf, index, k, rest)?,
            &top,
        ))
    } else {
        Some(node_hash(
            &top,
            &reference_inclusion_root(leaf, index - k, size - k, rest)?,
        ))
    }
}

/// The (old, new) roots a consistency proof leads to, by the recursive definition of
/// RFC 9162 2.1.4.1; `old_root` stands in for the node the proof leaves out when the
/// old tree is a complete left subtree.
fn reference_consistency_roots(
    old: u64,
    new: u64,
    whole: bool,
    old_root: Digest,
    proof: &[Digest],
) -> Option<(Digest, Digest)> {
    if old == new {
        return if whole {
            proof.is_empty().then_some((old_root, old_root))
        } else {
            match proof {
                [only] => Some((*only, *only)),
                _ => None,
            }
        };
    }
    let (&top, rest) = proof.split_last()?;
    let k = 1 << (63 - (new - 1).leading_zeros());
    if old <= k {
        let (o, s) = reference_consistency_roots(old, k, whole, old_root, rest)?;
        Some((o, node_hash(&s, &top)))
    } else {
        let (o, s) = reference_consistency_roots(old - k, new - k, false, old_root, rest)?;
        Some((node_hash(&top, &o), node_hash(&top, &s)))
    }
}

fn reference_verify_consistency(
    old: u64,
    new: u64,
    r1: &Digest,
    r2: &Digest,
    proof: &[Digest],
) -> bool {
    if old == 0 || old > new {
        return false;
    }
    reference_consistency_roots(old, new, true, *r1, proof) == Some((*r1, *r2))
}

fn random_tree(size: u64, seed: u64) -> (Vec<Digest>, MerkleTree) {
    let leaves: Vec<Digest> = (0..size)
        .map(|i| leaf_hash(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect();
    let tree = MerkleTree::from_leaf_hashes(leaves.iter().copied());
    (leaves, tree)
}

/// Every proof in every tree up to 64 leaves, against roots computed from scratch.
#[test]
fn all_proofs_of_small_trees_verify() {
    let (leaves, tree) = random_tree(64, 7);
    for n in 1..=64u64 {
        let root = root_of(&leaves[..n as usize]);
        assert_eq!(tree.root_at(n).unwrap(), root);
        for i in 0..n {
            let proof = tree.inclusion_proof(i, n).unwrap();
            verify_inclusion(&leaves[i as usize], i, n, &proof, &root).unwrap();
            assert_eq!(
                reference_inclusion_root(leaves[i as usize], i, n, &proof),
                Some(root)
            );
        }
        for m in 1..=n {
            let proof = tree.consistency_proof(m, n).unwrap();
            let old = root_of(&leaves[..m as usize]);
            verify_consistency(m, n, &old, &root, &proof).unwrap();
            assert!(reference_verify_consistency(m, n, &old, &root, &proof));
        }
    }
}

/// The tree size is not hashed into the root, so RFC 9162 cannot tell some sizes
/// apart (a proof for leaf 0 of 3 also walks leaf 0 of 4); it is the signed
/// checkpoint that binds a size to a root. Here every claimed size is checked to be
/// accepted exactly when the plain recursive definition accepts it, and most changes
/// are refused.
#[test]
fn size_changes_agree_with_the_reference() {
    let (leaves, tree) = random_tree(40, 11);
    let (mut tried, mut refused) = (0, 0);
    for n in 1..=32u64 {
        let root = tree.root_at(n).unwrap();
        for i in 0..n {
            let proof = tree.inclusion_proof(i, n).unwrap();
            let leaf = leaves[i as usize];
            for n2 in (i + 1)..=40 {
                if n2 == n {
                    continue;
                }
                let ok = verify_inclusion(&leaf, i, n2, &proof, &root).is_ok();
                let reference = reference_inclusion_root(leaf, i, n2, &proof) == Some(root);
                assert_eq!(ok, reference, "leaf {i} of {n} claimed in {n2}");
                tried += 1;
                refused += usize::from(!ok);
            }
        }
        for m in 1..n {
            let proof = tree.consistency_proof(m, n).unwrap();
            let old = tree.root_at(m).unwrap();
            for (m2, n2) in [
                (m - 1, n),
                (m + 1, n),
                (m, n + 1),
                (m, n - 1),
                (m, 2 * n),
                (m, n / 2),
            ] {
                if (m2, n2) == (m, n) {
                    continue;
                }
                let ok = verify_consistency(m2, n2, &old, &root, &proof).is_ok();
                let reference = reference_verify_consistency(m2, n2, &old, &root, &proof);
                assert_eq!(ok, reference, "{m} -> {n} claimed as {m2} -> {n2}");
                tried += 1;
                refused += usize::from(!ok);
            }
        }
    }
    // About two thirds of these claims are refused; the rest walk the same path.
    assert!(
        refused * 2 > tried,
        "only {refused} of {tried} size changes refused"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn root_at_equals_root_of_prefix(size in 1u64..300, seed in any::<u64>(), k in any::<prop::sample::Index>()) {
        let (leaves, tree) = random_tree(size, seed);
        let k = k.index(size as usize + 1);
        prop_assert_eq!(tree.root_at(k as u64).unwrap(), root_of(&leaves[..k]));
        prop_assert_eq!(tree.root(), root_of(&leaves));
    }

    #[test]
    fn inclusion_proofs_verify_and_any_change_fails(
        size in 1u64..300,
        seed in any::<u64>(),
        n in any::<prop::sample::Index>(),
        i in any::<prop::sample::Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
        which in any::<prop::sample::Index>(),
    ) {
        let (leaves, tree) = random_tree(size, seed);
        let n = n.index(size as usize) as u64 + 1;
        let i = i.index(n as usize) as u64;
        let root = tree.root_at(n).unwrap();
        let leaf = leaves[i as usize];
        let proof = tree.inclusion_proof(i, n).unwrap();
        prop_assert!(verify_inclusion(&leaf, i, n, &proof, &root).is_ok());

        prop_assert!(verify_inclusion(&flip(&leaf, byte, bit), i, n, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, i, n, &proof, &flip(&root, byte, bit)).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let w = which.index(bad.len());
            bad[w] = flip(&bad[w], byte, bit);
            prop_assert!(verify_inclusion(&leaf, i, n, &bad, &root).is_err());
        }
        for other in [i.wrapping_sub(1), i + 1, i ^ 4, n - 1 - i] {
            if other != i {
                prop_assert!(verify_inclusion(&leaf, other, n, &proof, &root).is_err());
            }
        }
        for n2 in [n - 1, n + 1, 2 * n, n / 2] {
            if n2 != n {
                let ok = verify_inclusion(&leaf, i, n2, &proof, &root).is_ok();
                prop_assert_eq!(ok, reference_inclusion_root(leaf, i, n2, &proof) == Some(root));
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_any_change_fails(
        size in 2u64..300,
        seed in any::<u64>(),
        n in any::<prop::sample::Index>(),
        m in any::<prop::sample::Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
        which in any::<prop::sample::Index>(),
    ) {
        let (leaves, tree) = random_tree(size, seed);
        let n = n.index(size as usize) as u64 + 1;
        let m = m.index(n as usize) as u64 + 1;
        let old = root_of(&leaves[..m as usize]);
        let new = root_of(&leaves[..n as usize]);
        let proof = tree.consistency_proof(m, n).unwrap();
        prop_assert!(verify_consistency(m, n, &old, &new, &proof).is_ok());

        prop_assert!(verify_consistency(m, n, &flip(&old, byte, bit), &new, &proof).is_err());
        prop_assert!(verify_consistency(m, n, &old, &flip(&new, byte, bit), &proof).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let w = which.index(bad.len());
            bad[w] = flip(&bad[w], byte, bit);
            prop_assert!(verify_consistency(m, n, &old, &new, &bad).is_err());
        }
        for (m2, n2) in [(m - 1, n), (m + 1, n), (m, n + 1), (m, n - 1), (m, 2 * n)] {
            if (m2, n2) != (m, n) {
                let ok = verify_consistency(m2, n2, &old, &new, &proof).is_ok();
                prop_assert_eq!(ok, reference_verify_consistency(m2, n2, &old, &new, &proof));
            }
        }
    }
}

/// A tree of 2^17 leaves answers for an early size with a handful of hashes; this
/// checks the answers, not the time (benchmarks time things).
#[test]
fn large_tree_answers_for_any_earlier_size() {
    let size = 1 << 17;
    let (leaves, tree) = random_tree(size + 5, 3);
    let n = 100_003u64;
    let root = tree.root_at(n).unwrap();
    assert_eq!(root, root_of(&leaves[..n as usize]));
    let proof = tree.inclusion_proof(77_777, n).unwrap();
    assert_eq!(proof.len(), 17);
    verify_inclusion(&leaves[77_777], 77_777, n, &proof, &root).unwrap();
    let proof = tree.consistency_proof(65_537, n).unwrap();
    verify_consistency(65_537, n, &tree.root_at(65_537).unwrap(), &root, &proof).unwrap();
}
