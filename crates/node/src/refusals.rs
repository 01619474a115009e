//! Recording refused submissions (`record_refusal`, core `state/refusals.rs`): when
//! the state machine refuses a client's entry whose signature verifies under a
//! registered node's key, the governance hub that received it signs a
//! `record_refusal` entry carrying the envelope and the code, so the refusal becomes
//! the trust observation `submission_rejected` on every node. The client still gets
//! its 4xx at once: the record is submitted in the background.
//!
//! A hub records at most one refusal per signer per [`REFUSAL_RECORD_INTERVAL`] (so a
//! misbehaving client cannot flood the log through it), never its own, and only
//! envelopes that carry `signed_at` within the window the state machine allows and
//! whose code is one a signed, well-formed entry can earn (not a replay, a bad
//! signature or an unknown signer, which the state machine would not accept as
//! proof). Whatever the hub thinks, the state machine decides: a record it refuses
//! is logged and dropped.

use crate::order::{SubmitError, now};
use crate::shared::Shared;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{EntryPayload, Operation, RecordRefusalOp};
use govmesh_core::model::NodeType;
use govmesh_core::state::{REFUSAL_WINDOW_SECS, RejectCode};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one record per signer per this interval, per hub.
pub const REFUSAL_RECORD_INTERVAL: Duration = Duration::from_secs(60);

/// When this hub last recorded a refusal of each signer.
#[derive(Default)]
pub(crate) struct RefusalLimiter(Mutex<HashMap<String, Instant>>);

impl RefusalLimiter {
    /// Whether `signer` may be recorded now (and if so, remembers that it was).
    fn admit(&self, signer: &str, at: Instant) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Forget signers whose interval is over, so the map stays small.
        m.retain(|_, last| at.duration_since(*last) < REFUSAL_RECORD_INTERVAL);
        if m.contains_key(signer) {
            return false;
        }
        m.insert(signer.to_owned(), at);
        true
    }
}

/// Codes a signed, well-formed entry of a registered node can earn.
fn recordable(code: RejectCode) -> bool {
    !matches!(
        code,
        RejectCode::Malformed
            | RejectCode::Schema
            | RejectCode::BadSignature
            | RejectCode::UnknownSigner
            | RejectCode::Replay
            | RejectCode::Stale
            | RejectCode::OutOfOrder
            | RejectCode::Genesis
    )
}

/// The envelope's author when the refusal is worth recording by this hub: a
/// well-formed entry, not a `record_refusal`, fresh `signed_at`, by another node
/// whose registered key signed it.
fn signer_to_record(app: &Shared, env: &Envelope, code: RejectCode) -> Option<String> {
    if app.info().node_type != NodeType::GovernanceHub || !recordable(code) {
        return None;
    }
    let bytes = env.payload_bytes().ok()?;
    let payload: EntryPayload = serde_json::from_slice(&bytes).ok()?;
    if matches!(payload.op, Operation::RecordRefusal(_)) || payload.author == app.info().node_id {
        return None;
    }
    let signed_at = payload.signed_at?;
    let window_ms = REFUSAL_WINDOW_SECS as i64 * 1000;
    if (now().millis() - signed_at.millis()).abs() > window_ms {
        return None;
    }
    let (keyid, signed, sig) = govmesh_core::entry::signature_parts(env).ok()?;
    let registry = app.registry().current();
    let key = registry.key(&keyid)?;
    key.verify(&signed, &sig).ok()?;
    Some(payload.author)
}

impl Shared {
    /// Called with every refusal of a submission through this node: records it in
    /// the background when this hub should (see the module documentation).
    pub(crate) fn refused(&self, env: &Envelope, err: &SubmitError) {
        let SubmitError::Rejected(r) = err else {
            return;
        };
        let Some(signer) = signer_to_record(self, env, r.code) else {
            return;
        };
        if !self.refusal_limiter().admit(&signer, Instant::now()) {
            tracing::debug!(%signer, "refusal not recorded: one per signer per minute");
            return;
        }
        let op = Operation::RecordRefusal(RecordRefusalOp {
            envelope: env.clone(),
            code: r.code,
        });
        let app = self.clone();
        tokio::spawn(async move {
            match app.submit_own(op).await {
                Ok(c) => tracing::info!(%signer, index = c.index, "refused submission recorded"),
                Err(e) => tracing::info!(%signer, error = %e, "refused submission not recorded"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_signer_per_interval() {
        let l = RefusalLimiter::default();
        let t = Instant::now();
        assert!(l.admit("a", t));
        assert!(!l.admit("a", t + Duration::from_secs(59)));
        assert!(l.admit("b", t + Duration::from_secs(59)));
        assert!(l.admit("a", t + REFUSAL_RECORD_INTERVAL));
    }

    #[test]
    fn only_codes_a_signed_entry_can_earn_are_recorded() {
        assert!(recordable(RejectCode::UnknownProposal));
        assert!(recordable(RejectCode::NotVoting));
        assert!(!recordable(RejectCode::Replay));
        assert!(!recordable(RejectCode::Stale));
        assert!(!recordable(RejectCode::BadSignature));
    }
}
