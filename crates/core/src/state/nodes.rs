//! `register_node` and `update_node`: the node registry and key uniqueness.

use super::decode::{check_id, check_key};
use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{NodeSpec, UpdateNodeOp};
use crate::model::{GovernanceRules, NodeRecord, NodeStatus};
use crate::stamp::Timestamp;

impl State {
    pub(super) fn register_node(
        &mut self,
        spec: &NodeSpec,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        check_id("node_id", &spec.node_id)?;
        if self.nodes.contains_key(&spec.node_id) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("node {:?} is already registered", spec.node_id),
            ));
        }
        check_key(&spec.node_id, &spec.public_key)?;
        let keyid = spec.public_key.keyid();
        if let Some(holder) = self.keyids.get(&keyid) {
            return Err(rej(
                RejectCode::Duplicate,
                format!("public key {keyid} is already registered to node {holder:?}"),
            ));
        }
        let rec = new_node_record(spec, self.rules()?, ctx.at, ctx.author);
        self.keyids.insert(keyid, spec.node_id.clone());
        self.nodes.insert(spec.node_id.clone(), rec);
        self.topology_changed(ctx);
        Ok(vec![Event::NodeRegistered {
            node_id: spec.node_id.clone(),
        }])
    }

    pub(super) fn update_node(
        &mut self,
        u: &UpdateNodeOp,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        let node = self.nodes.get(&u.node_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownNode,
                format!("node {:?} is not registered", u.node_id),
            )
        })?;
        if u.status.is_none() && u.network_address.is_none() && u.public_key.is_none() {
            return Err(rej(
                RejectCode::Forbidden,
                "update_node changes nothing: give status, network_address or public_key",
            ));
        }
        let old_keyid = node.public_key.keyid();
        if let Some(k) = &u.public_key {
            check_key(&u.node_id, k)?;
        }
        let new_keyid = u.public_key.map(|k| k.keyid());
        if let Some(k) = &new_keyid
            && *k != old_keyid
            && let Some(holder) = self.keyids.get(k)
        {
            return Err(rej(
                RejectCode::Duplicate,
                format!("public key {k} is already registered to node {holder:?}"),
            ));
        }
        let node = self.nodes.get_mut(&u.node_id).expect("checked above");
        if let Some(s) = u.status {
            node.status = s;
        }
        if let Some(a) = &u.network_address {
            node.network_address = Some(a.clone());
        }
        if let (Some(k), Some(new_keyid)) = (u.public_key, new_keyid) {
            node.public_key = k;
            self.keyids.remove(&old_keyid);
            self.keyids.insert(new_keyid, u.node_id.clone());
        }
        self.topology_changed(ctx);
        Ok(vec![Event::NodeUpdated {
            node_id: u.node_id.clone(),
        }])
    }
}

pub(super) fn new_node_record(
    spec: &NodeSpec,
    rules: &GovernanceRules,
    at: Timestamp,
    registered_by: &str,
) -> NodeRecord {
    NodeRecord {
        node_id: spec.node_id.clone(),
        node_type: spec.node_type,
        status: NodeStatus::Active,
        privileges: rules.privileges_of(spec.node_type),
        public_key: spec.public_key,
        network_address: spec.network_address.clone(),
        node_policy_capabilities: spec.node_policy_capabilities.clone(),
        display_name: spec.display_name.clone(),
        registered_at: at,
        registered_by: registered_by.to_owned(),
        last_seen: None,
        suspension: None,
    }
}
