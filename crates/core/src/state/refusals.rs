//! `record_refusal`: a governance hub puts a submission the state machine refused into
//! the log, so that the refusal becomes a trust observation (`submission_rejected`)
//! every node derives the same way. Refused submissions are otherwise never appended.
//!
//! The entry proves the refusal rather than asserting it; it is accepted only if
//! - its author is an active governance hub, and not the refused envelope's signer;
//! - the envelope decodes as a log entry whose signature verifies under the key
//!   registered now for its author (a hub cannot invent a submission);
//! - the envelope carries `signed_at` within [`REFUSAL_WINDOW_SECS`] of this entry's
//!   time (a hub cannot hoard a valid envelope until it turns stale and then frame its
//!   signer with it);
//! - the envelope is neither in the log nor recorded before (a resent or replayed
//!   copy counts once; kept as the envelope's entry hash);
//! - applying the envelope now, at this entry's time, is refused, and with the code
//!   the record names (a dry run on a copy of the state).

use super::decode::{SignatureCheck, decode_entry, verify_signature};
use super::{Ctx, Event, RecordedRefusal, RejectCode, Rejection, State, rej};
use crate::entry::{Operation, RecordRefusalOp, entry_hash};
use crate::model::NodeType;

/// How far the refused envelope's `signed_at` may be from the recording entry's time.
pub const REFUSAL_WINDOW_SECS: u64 = 300;

impl State {
    /// The author of a record entry must be a registered governance hub; `records`
    /// names what it records, for the refusal's message.
    pub(super) fn recording_hub(&self, author: &str, records: &str) -> Result<(), Rejection> {
        let recorder = self.nodes.get(author).ok_or_else(|| {
            rej(
                RejectCode::UnknownSigner,
                format!("author {author:?} is not a registered node"),
            )
        })?;
        if recorder.node_type != NodeType::GovernanceHub {
            return Err(rej(
                RejectCode::NotPrivileged,
                format!(
                    "only a governance hub records {records}; {author:?} is a {}",
                    recorder.node_type.as_str()
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn record_refusal(
        &mut self,
        op: &RecordRefusalOp,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        self.recording_hub(ctx.author, "refused submissions")?;
        let bad = |m: String| rej(RejectCode::BadEvidence, m);
        let (payload, bytes) = decode_entry(&op.envelope).map_err(|e| {
            bad(format!(
                "the refused envelope is not a log entry: {}",
                e.message
            ))
        })?;
        if matches!(payload.op, Operation::RecordRefusal(_)) {
            return Err(rej(
                RejectCode::Forbidden,
                "a refused record_refusal entry is not recorded in turn",
            ));
        }
        let signer = payload.author.clone();
        if signer == ctx.author {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "hub {signer:?} may not record its own refused submission (nobody observes itself)"
                ),
            ));
        }
        let key = self
            .nodes
            .get(&signer)
            .map(|n| n.public_key)
            .ok_or_else(|| {
                bad(format!(
                    "the refused envelope's author {signer:?} is not a registered node"
                ))
            })?;
        verify_signature(&op.envelope, &bytes, &key, &signer, SignatureCheck::Verify).map_err(
            |e| {
                bad(format!(
                    "the refused envelope is not signed by its author's registered key: {}",
                    e.message
                ))
            },
        )?;
        let signed_at = payload.signed_at.ok_or_else(|| {
            bad("the refused envelope carries no signed_at, so its age cannot be bounded".into())
        })?;
        let window_ms = REFUSAL_WINDOW_SECS as i64 * 1000;
        if (ctx.at.millis() - signed_at.millis()).abs() > window_ms {
            return Err(bad(format!(
                "the refused envelope was signed at {signed_at}, more than {REFUSAL_WINDOW_SECS} s from this entry's time {}",
                ctx.at
            )));
        }
        let hash = entry_hash(&op.envelope)
            .map_err(|e| rej(RejectCode::Malformed, format!("refused envelope: {e}")))?;
        if self.contains_entry(&hash, Some(signed_at)) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("the refused envelope {hash} is in the log: it was accepted"),
            ));
        }
        if let Some(i) = self.refusals.get(&hash).map(|r| r.index) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("the refusal of envelope {hash} is already recorded (index {i})"),
            ));
        }
        // The dry run: on a copy, so that nothing here changes if it were accepted.
        // (Without the history waiting to be taken: nothing decides by it.)
        let retired = std::mem::take(&mut self.retired);
        let mut probe = self.clone();
        self.retired = retired;
        match probe.apply(&op.envelope, ctx.at) {
            Ok(_) => {
                return Err(bad(format!(
                    "the envelope {hash} would be accepted now, so its refusal is not proven"
                )));
            }
            Err(r) if r.code != op.code => {
                return Err(rej(
                    RejectCode::Mismatch,
                    format!(
                        "the envelope is refused now with {:?} ({}), the record says {:?}",
                        r.code, r.message, op.code
                    ),
                ));
            }
            Err(_) => {}
        }
        self.refusals.insert(
            hash,
            RecordedRefusal {
                index: ctx.index,
                signed_at,
            },
        );
        // Forget the envelopes no later record could name: every later entry is
        // stamped at or after `ctx.at`, so an envelope signed more than the window
        // before it fails the window check above, which comes before the duplicate
        // check; its refusal reads the same whether it is kept here or not.
        self.refusals
            .retain(|_, r| ctx.at.millis() - r.signed_at.millis() <= window_ms);
        Ok(vec![Event::RefusalRecorded {
            signer,
            code: op.code,
            envelope_hash: hash,
        }])
    }
}
