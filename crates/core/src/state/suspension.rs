//! Suspension (clause 5.5 `suspend_on_equivocation`): proven equivocation — a double
//! vote, or a checkpoint fork whose two notes one hub signed — suspends the node's
//! voting, proposing and delegating rights at once, as a consequence of the entry that
//! proves it. An adopted proposal with `restore_rights` lifts it.

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::Operation;
use crate::model::{NodeRecord, Suspension};

impl State {
    /// Suspends `node_id` if clause 5.5 says equivocation does and it is not suspended
    /// already (the first proof stands). Infallible.
    pub(super) fn suspend_for_equivocation(
        &mut self,
        node_id: &str,
        reason: String,
        ctx: &Ctx,
    ) -> Vec<Event> {
        if !self
            .rules
            .as_ref()
            .is_some_and(|r| r.suspend_on_equivocation)
        {
            return Vec::new();
        }
        let Some(n) = self.nodes.get_mut(node_id) else {
            return Vec::new();
        };
        if n.suspension.is_some() {
            return Vec::new();
        }
        n.suspension = Some(Suspension {
            since: ctx.at,
            reason: reason.clone(),
            evidence_entry: ctx.hash,
            evidence_index: ctx.index,
        });
        vec![Event::NodeSuspended {
            node_id: node_id.to_owned(),
            reason,
        }]
    }

    /// Refuses the rights a suspension takes away: proposing, voting, delegating and
    /// cancelling (revoking a delegation stays allowed).
    pub(super) fn check_suspension(
        &self,
        author: &NodeRecord,
        op: &Operation,
    ) -> Result<(), Rejection> {
        let Some(s) = &author.suspension else {
            return Ok(());
        };
        if !matches!(
            op,
            Operation::Propose(_)
                | Operation::Vote(_)
                | Operation::Delegate(_)
                | Operation::Cancel(_)
        ) {
            return Ok(());
        }
        Err(rej(
            RejectCode::Suspended,
            format!(
                "{:?} is suspended since {} (entry {} at index {}: {}); it may not {} until an \
                 adopted proposal restores its rights",
                author.node_id,
                s.since,
                s.evidence_entry,
                s.evidence_index,
                s.reason,
                op.kind()
            ),
        ))
    }
}
