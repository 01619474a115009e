//! `connect` and `disconnect`: the connections between nodes the mesh declares (the
//! seed topology manager's add and remove), by a node with the privilege clause 5.5's
//! `operation_privileges` names. Gossip shows which of them are up.

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{ConnectOp, DisconnectOp};
use crate::model::{DeclaredConnection, NodeStatus};

impl State {
    /// Every declared connection, by source then target.
    pub fn connections(&self) -> Vec<&DeclaredConnection> {
        self.connections.values().flat_map(|t| t.values()).collect()
    }

    /// The log index and time of the last two entries that changed the governed
    /// topology (nodes, domains, declared connections), newest first.
    pub fn topology_changes(&self) -> &[(u64, crate::stamp::Timestamp)] {
        &self.topology_changes
    }

    /// Notes that the entry of `ctx` changed the governed topology.
    pub(super) fn topology_changed(&mut self, ctx: &Ctx) {
        self.topology_changes.insert(0, (ctx.index, ctx.at));
        self.topology_changes.truncate(2);
    }

    pub(super) fn connect(&mut self, op: &ConnectOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        self.check_pair(&op.source_node_id, &op.target_node_id)?;
        for id in [&op.source_node_id, &op.target_node_id] {
            let n = self.nodes.get(id).expect("checked by check_pair");
            if n.status != NodeStatus::Active {
                return Err(rej(
                    RejectCode::NotActive,
                    format!(
                        "node {id:?} is {:?}; only active nodes are connected",
                        n.status
                    ),
                ));
            }
        }
        self.connections
            .entry(op.source_node_id.clone())
            .or_default()
            .insert(
                op.target_node_id.clone(),
                DeclaredConnection {
                    source_node_id: op.source_node_id.clone(),
                    target_node_id: op.target_node_id.clone(),
                    connection_type: op.connection_type,
                    declared_by: ctx.author.to_owned(),
                    declared_at: ctx.at,
                },
            );
        self.topology_changed(ctx);
        Ok(vec![Event::ConnectionDeclared {
            source_node_id: op.source_node_id.clone(),
            target_node_id: op.target_node_id.clone(),
        }])
    }

    pub(super) fn disconnect(
        &mut self,
        op: &DisconnectOp,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_pair(&op.source_node_id, &op.target_node_id)?;
        let removed = self
            .connections
            .get_mut(&op.source_node_id)
            .and_then(|t| t.remove(&op.target_node_id));
        if removed.is_none() {
            return Err(rej(
                RejectCode::UnknownNode,
                format!(
                    "no connection from {:?} to {:?} is declared",
                    op.source_node_id, op.target_node_id
                ),
            ));
        }
        self.connections.retain(|_, t| !t.is_empty());
        self.topology_changed(ctx);
        Ok(vec![Event::ConnectionRemoved {
            source_node_id: op.source_node_id.clone(),
            target_node_id: op.target_node_id.clone(),
        }])
    }

    fn check_pair(&self, source: &str, target: &str) -> Result<(), Rejection> {
        if source == target {
            return Err(rej(
                RejectCode::Forbidden,
                format!("a connection joins two nodes; {source:?} is named twice"),
            ));
        }
        for id in [source, target] {
            if !self.nodes.contains_key(id) {
                return Err(rej(
                    RejectCode::UnknownNode,
                    format!("node {id:?} is not registered"),
                ));
            }
        }
        Ok(())
    }
}
