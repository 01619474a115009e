//! `evidence`: proof of misbehaviour (today a checkpoint fork signed by hubs).

use super::{Ctx, Event, RecordedFork, RejectCode, Rejection, State, rej};
use crate::entry::{EvidenceKind, EvidenceOp};
use crate::evidence::{CheckpointFork, mesh_origin, verify_checkpoint_fork};
use crate::keys::PublicKey;
use crate::model::NodeType;

impl State {
    pub(super) fn evidence(&mut self, op: &EvidenceOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        match op.kind {
            EvidenceKind::CheckpointFork => {}
        }
        let mesh_id = self
            .mesh_id
            .ok_or_else(|| rej(RejectCode::Genesis, "no genesis"))?;
        let origin = mesh_origin(&mesh_id);
        let hubs: Vec<(&str, PublicKey)> = self
            .nodes
            .values()
            .filter(|n| n.node_type == NodeType::GovernanceHub)
            .map(|n| (n.node_id.as_str(), n.public_key))
            .collect();
        let proof = verify_checkpoint_fork(&op.notes, &origin, &hubs)
            .map_err(|e| rej(RejectCode::BadEvidence, format!("checkpoint_fork: {e}")))?;
        let (size, lo, hi) = proof.key();
        if let Some(old) = self
            .forks
            .iter()
            .find(|f| (f.size, f.roots[0], f.roots[1]) == (size, lo, hi))
        {
            return Err(rej(
                RejectCode::Duplicate,
                format!(
                    "this fork at size {} is already recorded (entry {} at index {})",
                    proof.size, old.entry_hash, old.index
                ),
            ));
        }
        let event = Event::CheckpointForkRecorded {
            size: proof.size,
            signers: proof.signers.to_vec(),
        };
        let notes = [op.notes[0].clone(), op.notes[1].clone()];
        // Two roots at one size under one hub's key prove that hub equivocated; with
        // two signers the state cannot tell which root is the log's, so nobody is
        // suspended on this evidence alone.
        let [a, b] = &proof.signers;
        let twice = (a == b).then(|| a.clone());
        self.forks.push(RecordedFork {
            size,
            roots: [lo, hi],
            index: ctx.index,
            entry_hash: ctx.hash,
        });
        self.retired.checkpoint_forks.push(CheckpointFork {
            index: ctx.index,
            entry_hash: ctx.hash,
            reported_by: ctx.author.to_owned(),
            timestamp: ctx.at,
            proof,
            notes,
        });
        let mut events = vec![event];
        if let Some(hub) = twice {
            let reason = format!(
                "signed two checkpoints of size {size} with different roots (evidence entry {})",
                ctx.hash
            );
            events.extend(self.suspend_for_equivocation(&hub, reason, ctx));
        }
        Ok(events)
    }
}
