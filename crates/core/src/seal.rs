//! Seals (clause 5.4): a checkpoint of the governance log signed by an active
//! governance hub (key name = the mesh's checkpoint origin) and cosigned by at least
//! clause 5.4's `seal_threshold` distinct active compliance witnesses that clause 5.4's
//! `witnesses` lists (C2SP
//! `tlog-cosignature` v1, key name `govmesh-witness/<node_id>`).
//!
//! [`verify_seal`] checks a seal against a [`State`]: the hub and witness keys and the
//! threshold all come from the registry and the governing contract in the log, so a
//! node that holds the log needs nothing else to trust a seal.

use crate::checkpoint::{Checkpoint, NoteError, SignedNote, note_key_hash};
use crate::cosign::{CosignError, Cosignature, witness_key_name};
use crate::digest::Digest;
use crate::model::{NodeRecord, NodeStatus, NodeType};
use crate::rules::VerificationRules;
use crate::state::State;
use std::collections::BTreeSet;

/// The clause whose rules hold `seal_threshold`.
pub const SEAL_CLAUSE: &str = "5.4";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the seal is not a signed checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("the state holds no genesis, so there is no mesh to check a seal against")]
    NoGenesis,
    #[error("the seal is for origin {found:?}; this mesh's origin is {expected:?}")]
    WrongOrigin { expected: String, found: String },
    #[error(
        "no signature on the checkpoint by an active governance hub (key name {origin:?}); \
         signers named: {names:?}"
    )]
    NoHubSignature { origin: String, names: Vec<String> },
    #[error("the signature of governance hub {node_id} does not verify over the checkpoint")]
    BadHubSignature { node_id: String },
    #[error("the cosignature of witness {node_id} is invalid: {source}")]
    BadCosignature {
        node_id: String,
        #[source]
        source: CosignError,
    },
    #[error(
        "{have} valid cosignature(s) by active compliance witnesses that clause 5.4 lists \
         ({witnesses:?}); clause 5.4 seal_threshold is {need}"
    )]
    BelowThreshold {
        have: usize,
        need: usize,
        witnesses: Vec<String>,
    },
    #[error("clause 5.4 rules: {0}")]
    BadRules(String),
}

/// What a valid seal says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSeal {
    pub checkpoint: Checkpoint,
    /// The hub whose signature verified (the first, if several did).
    pub hub_node_id: String,
    /// The distinct witnesses whose cosignatures verified, sorted.
    pub witness_node_ids: Vec<String>,
    /// The threshold the seal was checked against.
    pub threshold: usize,
    /// The parsed note (body and every signature line, as given).
    pub note: SignedNote,
}

/// The checkpoint origin of a mesh: `govmesh/` + the first 16 hex digits of its id.
pub fn checkpoint_origin(mesh_id: &Digest) -> String {
    format!("govmesh/{}", &mesh_id.to_hex()[..16])
}

fn active(state: &State, ty: NodeType) -> impl Iterator<Item = &NodeRecord> {
    state
        .nodes()
        .into_iter()
        .filter(move |n| n.node_type == ty && n.status == NodeStatus::Active)
}

/// Clause 5.4 `seal_threshold` of the governing contract.
///
/// If the governing contract has no clause 5.4 or its rules have no `seal_threshold`,
/// the threshold is a majority of the witnesses that count (`n / 2 + 1`, or 0 with
/// none; see [`VerificationRules::threshold`]). Rules that do not read are an error.
pub fn seal_threshold(state: &State) -> Result<usize, SealError> {
    let rules = VerificationRules::of(state).map_err(SealError::BadRules)?;
    Ok(rules.threshold(state))
}

/// Verifies a seal (a signed note) against `state`; see the module documentation.
///
/// Signature lines by keys the state does not know are ignored. A line that claims to
/// be by a known hub or witness (same name and key id) and does not verify is an error:
/// a tampered seal is refused, not quietly counted short.
pub fn verify_seal(text: &str, state: &State) -> Result<VerifiedSeal, SealError> {
    let (note, checkpoint, hub_node_id) = verify_hub_checkpoint(text, state)?;
    verify_cosignatures(note, checkpoint, hub_node_id, state)
}

/// The first half of [`verify_seal`]: `text` is a checkpoint of this mesh's log with
/// a valid signature by an active governance hub of `state`. Returns the note, its
/// checkpoint and the hub. Cosignatures are not looked at.
pub fn verify_hub_checkpoint(
    text: &str,
    state: &State,
) -> Result<(SignedNote, Checkpoint, String), SealError> {
    let note = SignedNote::parse(text)?;
    let checkpoint = note.checkpoint()?;
    let mesh_id = state.mesh_id().ok_or(SealError::NoGenesis)?;
    let origin = checkpoint_origin(&mesh_id);
    if checkpoint.origin != origin {
        return Err(SealError::WrongOrigin {
            expected: origin,
            found: checkpoint.origin,
        });
    }

    let mut hub_node_id = None;
    for hub in active(state, NodeType::GovernanceHub) {
        let key_hash = note_key_hash(&origin, &hub.public_key);
        if !note
            .signatures
            .iter()
            .any(|s| s.name == origin && s.key_hash == key_hash)
        {
            continue;
        }
        note.verify(&origin, &hub.public_key)
            .map_err(|_| SealError::BadHubSignature {
                node_id: hub.node_id.clone(),
            })?;
        hub_node_id.get_or_insert_with(|| hub.node_id.clone());
    }
    let hub_node_id = hub_node_id.ok_or_else(|| SealError::NoHubSignature {
        origin: origin.clone(),
        names: note.signatures.iter().map(|s| s.name.clone()).collect(),
    })?;
    Ok((note, checkpoint, hub_node_id))
}

/// The second half of [`verify_seal`]: clause 5.4's threshold of cosignatures by the
/// active witnesses it lists, under `state`.
fn verify_cosignatures(
    note: SignedNote,
    checkpoint: Checkpoint,
    hub_node_id: String,
    state: &State,
) -> Result<VerifiedSeal, SealError> {
    // Only the witnesses clause 5.4 lists (and that are active) count; a cosignature
    // by any other key is ignored like any unknown signer's.
    let rules = VerificationRules::of(state).map_err(SealError::BadRules)?;
    let mut witnesses = BTreeSet::new();
    for w in rules.counted_witnesses(state) {
        let name = witness_key_name(&w.node_id);
        for s in note.signatures.iter().filter(|s| s.name == name) {
            let c = match Cosignature::parse_line(&s.line()) {
                Ok(c) if c.is_by(&name, &w.public_key) => c,
                // Another key or signature type under the same name: not this witness.
                Ok(_) => continue,
                Err(e) => {
                    return Err(SealError::BadCosignature {
                        node_id: w.node_id.clone(),
                        source: e,
                    });
                }
            };
            c.verify(&note.body, &name, &w.public_key)
                .map_err(|e| SealError::BadCosignature {
                    node_id: w.node_id.clone(),
                    source: e,
                })?;
            witnesses.insert(w.node_id.clone());
        }
    }
    let threshold = rules.threshold(state);
    let witness_node_ids: Vec<String> = witnesses.into_iter().collect();
    if witness_node_ids.len() < threshold {
        return Err(SealError::BelowThreshold {
            have: witness_node_ids.len(),
            need: threshold,
            witnesses: witness_node_ids,
        });
    }
    Ok(VerifiedSeal {
        checkpoint,
        hub_node_id,
        witness_node_ids,
        threshold,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::codex_genesis;
    use crate::entry::{NodeSpec, Operation, sign_entry};
    use crate::keys::KeyPair;
    use crate::stamp::Timestamp;

    fn spec(k: &KeyPair, ty: NodeType) -> NodeSpec {
        NodeSpec::new(k, ty)
    }

    struct Fixture {
        state: State,
        hub: KeyPair,
        witnesses: Vec<KeyPair>,
        body: String,
    }

    /// A mesh of one hub and three witnesses (threshold 2).
    fn fixture() -> Fixture {
        let hub = KeyPair::from_seed([1; 32]);
        let witnesses: Vec<KeyPair> = (2..5).map(|i| KeyPair::from_seed([i; 32])).collect();
        let mut founders = vec![spec(&hub, NodeType::GovernanceHub)];
        founders.extend(
            witnesses
                .iter()
                .map(|w| spec(w, NodeType::ComplianceWitness)),
        );
        let mut state = State::new();
        let g = sign_entry(&hub, Operation::Genesis(codex_genesis("m", founders)));
        state.apply(&g, Timestamp::from_millis(1_000)).unwrap();
        let body = Checkpoint {
            origin: checkpoint_origin(&state.mesh_id().unwrap()),
            size: 1,
            root: Digest([7; 32]),
            extensions: vec![],
        }
        .body();
        Fixture {
            state,
            hub,
            witnesses,
            body,
        }
    }

    fn cosign(f: &Fixture, w: usize, time: u64) -> String {
        let k = &f.witnesses[w];
        Cosignature::sign(&f.body, &witness_key_name(k.node_id()), k, time)
            .unwrap()
            .line()
    }

    fn seal(f: &Fixture, witnesses: &[usize]) -> String {
        let origin = checkpoint_origin(&f.state.mesh_id().unwrap());
        let mut text = SignedNote::sign(f.body.clone(), &origin, &f.hub).to_text();
        for &w in witnesses {
            text.push_str(&cosign(f, w, 1_700_000_000 + w as u64));
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_seal_with_the_threshold_verifies() {
        let f = fixture();
        assert_eq!(seal_threshold(&f.state).unwrap(), 2);
        let v = verify_seal(&seal(&f, &[0, 2]), &f.state).unwrap();
        assert_eq!(v.hub_node_id, f.hub.node_id());
        let mut want = vec![
            f.witnesses[0].node_id().to_owned(),
            f.witnesses[2].node_id().to_owned(),
        ];
        want.sort();
        assert_eq!(v.witness_node_ids, want);
        assert_eq!(v.checkpoint.size, 1);
        assert_eq!(v.threshold, 2);
        // All three is fine too; unknown signers are ignored.
        let mut text = seal(&f, &[0, 1, 2]);
        let stranger = KeyPair::from_seed([99; 32]);
        text.push_str(
            &Cosignature::sign(&f.body, "someone/else", &stranger, 5)
                .unwrap()
                .line(),
        );
        text.push('\n');
        assert_eq!(
            verify_seal(&text, &f.state).unwrap().witness_node_ids.len(),
            3
        );
    }

    #[test]
    fn below_threshold_is_refused_and_duplicates_count_once() {
        let f = fixture();
        let e = verify_seal(&seal(&f, &[1]), &f.state).unwrap_err();
        assert!(
            matches!(
                e,
                SealError::BelowThreshold {
                    have: 1,
                    need: 2,
                    ..
                }
            ),
            "{e}"
        );
        // The same witness twice (two times) is one witness.
        let mut text = seal(&f, &[1]);
        text.push_str(&cosign(&f, 1, 42));
        text.push('\n');
        let e = verify_seal(&text, &f.state).unwrap_err();
        assert!(
            matches!(
                e,
                SealError::BelowThreshold {
                    have: 1,
                    need: 2,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn tampered_time_or_body_is_refused() {
        let f = fixture();
        let good = seal(&f, &[0, 1]);
        // Change the time of the first cosignature (bytes 4..12 of its signature).
        let line = cosign(&f, 0, 1_700_000_000);
        let mut c = Cosignature::parse_line(&line).unwrap();
        c.time += 1;
        let text = good.replace(&line, &c.line());
        assert_ne!(text, good);
        let e = verify_seal(&text, &f.state).unwrap_err();
        assert!(
            matches!(&e, SealError::BadCosignature { node_id, source: CosignError::BadSignature { .. } }
                if node_id == f.witnesses[0].node_id()),
            "{e}"
        );
        // Change the body: the hub signature fails first.
        let text = good.replacen("\n1\n", "\n2\n", 1);
        let e = verify_seal(&text, &f.state).unwrap_err();
        assert_eq!(
            e,
            SealError::BadHubSignature {
                node_id: f.hub.node_id().to_owned()
            }
        );
    }

    #[test]
    fn hub_signature_must_be_by_an_active_hub() {
        let f = fixture();
        let origin = checkpoint_origin(&f.state.mesh_id().unwrap());
        // Signed by a witness key under the origin name: not a hub.
        let mut text = SignedNote::sign(f.body.clone(), &origin, &f.witnesses[0]).to_text();
        for w in [0, 1] {
            text.push_str(&cosign(&f, w, 7));
            text.push('\n');
        }
        let e = verify_seal(&text, &f.state).unwrap_err();
        assert!(matches!(e, SealError::NoHubSignature { .. }), "{e}");
        // Wrong origin.
        let other = f.body.replace(&origin, "govmesh/0000000000000000");
        let text = SignedNote::sign(other, "govmesh/0000000000000000", &f.hub).to_text();
        let e = verify_seal(&text, &f.state).unwrap_err();
        assert!(matches!(e, SealError::WrongOrigin { .. }), "{e}");
        // Not a note at all.
        assert!(matches!(
            verify_seal("hello\n", &f.state),
            Err(SealError::Note(_))
        ));
        assert_eq!(
            verify_seal(&seal(&f, &[0, 1]), &State::new()),
            Err(SealError::NoGenesis)
        );
    }

    #[test]
    fn no_witnesses_means_the_hub_signature_is_the_seal() {
        let hub = KeyPair::from_seed([1; 32]);
        let mut state = State::new();
        let g = sign_entry(
            &hub,
            Operation::Genesis(codex_genesis(
                "m",
                vec![spec(&hub, NodeType::GovernanceHub)],
            )),
        );
        state.apply(&g, Timestamp::from_millis(1_000)).unwrap();
        assert_eq!(seal_threshold(&state).unwrap(), 0);
        let origin = checkpoint_origin(&state.mesh_id().unwrap());
        let body = Checkpoint {
            origin: origin.clone(),
            size: 1,
            root: Digest([1; 32]),
            extensions: vec![],
        }
        .body();
        let text = SignedNote::sign(body, &origin, &hub).to_text();
        let v = verify_seal(&text, &state).unwrap();
        assert!(v.witness_node_ids.is_empty());
    }
}
