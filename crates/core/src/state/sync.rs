//! `ack_sync`: a node acknowledges it holds a contract revision; and the sync facts
//! the state keeps (each ack, each revision's source and targets) for the derived
//! sync records in [`crate::sync`].

use super::{AckRef, Ctx, Event, RejectCode, Rejection, State, rej};
use crate::digest::Digest;
use crate::entry::AckSyncOp;
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};

/// One `ack_sync` as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAck {
    /// The council's time on the ack entry.
    pub timestamp: Timestamp,
    pub index: u64,
    pub entry_hash: Digest,
}

/// Where a revision came from and who should receive it, fixed at adoption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionSync {
    pub source_node_id: String,
    pub target_node_ids: Vec<String>,
}

impl State {
    pub(super) fn ack_sync(&mut self, op: &AckSyncOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        self.named_revision(&op.contract_id, op.revision, Some(&op.contract_hash))?;
        if let Some(first) = self
            .acks
            .get(&op.contract_id)
            .and_then(|r| r.get(&op.revision))
            .and_then(|a| a.get(ctx.author))
        {
            return Err(rej(
                RejectCode::Duplicate,
                format!(
                    "{:?} already acknowledged revision {} of {:?} (entry {} at index {})",
                    ctx.author, op.revision, op.contract_id, first.entry_hash, first.index
                ),
            ));
        }
        self.acks
            .entry(op.contract_id.clone())
            .or_default()
            .entry(op.revision)
            .or_default()
            .insert(
                ctx.author.to_owned(),
                AckRef {
                    index: ctx.index,
                    entry_hash: ctx.hash,
                },
            );
        self.retired
            .acks
            .entry(op.contract_id.clone())
            .or_default()
            .entry(op.revision)
            .or_default()
            .insert(
                ctx.author.to_owned(),
                SyncAck {
                    timestamp: ctx.at,
                    index: ctx.index,
                    entry_hash: ctx.hash,
                },
            );
        self.retired.ack_order.push((
            ctx.index,
            op.contract_id.clone(),
            op.revision,
            ctx.author.to_owned(),
        ));
        Ok(vec![Event::SyncAcknowledged {
            contract_id: op.contract_id.clone(),
            revision: op.revision,
            node_id: ctx.author.to_owned(),
        }])
    }
}
