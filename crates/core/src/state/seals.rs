//! `record_seal`: a governance hub puts a seal it collected into the log, so that the
//! witnesses' cosignatures become trust observations (`cosignature_consistent`) every
//! node derives the same way. Seals otherwise live beside the log (seal store).
//!
//! Accepted only if the author is an active governance hub; the seal verifies against
//! this state as any seal does ([`crate::seal::verify_seal`]: this mesh's origin, a
//! valid signature by an active hub, clause 5.4 `seal_threshold` valid cosignatures by
//! active witnesses clause 5.4 lists, a tampered line refused); its size is at most
//! the log's size before this entry; at least one witness cosignature counts (else
//! there is nothing to observe); and it covers at least [`SEAL_RECORD_SPACING`]
//! entries more than the last recorded one (none: at least that many entries), so the
//! first is recorded once the log is one trust epoch long. The state
//! machine holds no Merkle tree, so the sealed root is checked against the log's tree
//! by whoever holds it: the recording hub before submitting, and `govmesh verify`
//! (`core::audit`) on every `record_seal` it replays.

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::digest::Digest;
use crate::entry::RecordSealOp;
use serde::{Deserialize, Serialize};

/// A seal is recorded at most once per this many entries (the trust epoch length), so
/// the record entry itself (which grows the log and so is sealed in turn) never
/// triggers another record on a quiet mesh.
pub const SEAL_RECORD_SPACING: u64 = crate::trust::EPOCH_ENTRIES;

/// The last seal recorded in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSeal {
    /// The index of the `record_seal` entry.
    pub index: u64,
    pub size: u64,
    pub root: Digest,
    pub hub_node_id: String,
    /// The witnesses whose cosignatures verified, sorted.
    pub witness_node_ids: Vec<String>,
}

impl State {
    pub(super) fn record_seal(
        &mut self,
        op: &RecordSealOp,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        self.recording_hub(ctx.author, "seals")?;
        let v = crate::seal::verify_seal(&op.seal, self)
            .map_err(|e| rej(RejectCode::BadEvidence, format!("seal: {e}")))?;
        let size = v.checkpoint.size;
        if size > self.size {
            return Err(rej(
                RejectCode::BadEvidence,
                format!(
                    "the seal covers {size} entries, the log holds {} before this one",
                    self.size
                ),
            ));
        }
        if v.witness_node_ids.is_empty() {
            return Err(rej(
                RejectCode::BadEvidence,
                "the seal carries no cosignature by a witness clause 5.4 counts: nothing to record",
            ));
        }
        let next = self
            .recorded_seal
            .as_ref()
            .map_or(0, |last| last.size)
            .saturating_add(SEAL_RECORD_SPACING);
        if size < next {
            let last = match &self.recorded_seal {
                Some(l) => format!("the last recorded (index {}) covers {}", l.index, l.size),
                None => "none is recorded yet".to_owned(),
            };
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "a seal is recorded at most once per {SEAL_RECORD_SPACING} entries: {last}; \
                     this one covers {size}, the next must cover at least {next}"
                ),
            ));
        }
        self.recorded_seal = Some(RecordedSeal {
            index: ctx.index,
            size,
            root: v.checkpoint.root,
            hub_node_id: v.hub_node_id.clone(),
            witness_node_ids: v.witness_node_ids.clone(),
        });
        Ok(vec![Event::SealRecorded {
            size,
            root: v.checkpoint.root,
            witnesses: v.witness_node_ids,
        }])
    }
}
