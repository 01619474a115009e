//! `register_node` and `update_node`: the node registry and key uniqueness.

use super::decode::{check_id, check_key};
use super::{Ctx, Event, RejectCode, Rejection, RetiredKey, State, rej};
use crate::entry::{NodeSpec, UpdateNodeOp, key_rotation_message};
use crate::keys::PublicKey;
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
        if let Some(proof) = &u.key_proof {
            check_key_proof(&u.node_id, &node.public_key, u.public_key.as_ref(), proof)?;
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
        if let (Some(k), Some(new_keyid)) = (u.public_key, new_keyid)
            && new_keyid != old_keyid
        {
            node.public_key = k;
            self.keyids.remove(&old_keyid);
            self.retired_keyids.remove(&new_keyid);
            self.keyids.insert(new_keyid, u.node_id.clone());
            self.retired_keyids.insert(
                old_keyid,
                RetiredKey {
                    node_id: u.node_id.clone(),
                    index: ctx.index,
                },
            );
        }
        self.topology_changed(ctx);
        Ok(vec![Event::NodeUpdated {
            node_id: u.node_id.clone(),
        }])
    }
}

/// A key rotation's proof of possession: the new key's signature over
/// [`key_rotation_message`] for this node and its current key.
fn check_key_proof(
    node_id: &str,
    old: &PublicKey,
    new: Option<&PublicKey>,
    proof: &str,
) -> Result<(), Rejection> {
    use base64::Engine as _;
    let new = new.ok_or_else(|| {
        rej(
            RejectCode::Forbidden,
            "key_proof without public_key: a proof belongs to a key rotation",
        )
    })?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(proof)
        .map_err(|e| rej(RejectCode::Malformed, format!("key_proof: {e}")))?;
    new.verify(&key_rotation_message(node_id, old, new), &sig)
        .map_err(|_| {
            rej(
                RejectCode::BadSignature,
                format!(
                    "key_proof does not verify under the new key {} for node {node_id:?} replacing key {}",
                    new.keyid(),
                    old.keyid()
                ),
            )
        })
}

impl State {
    /// The refusal of an entry signed with a key its author once held: names the
    /// rotation that replaced it.
    pub(super) fn name_retired_key(
        &self,
        env: &crate::dsse::Envelope,
        author: &str,
    ) -> Option<Rejection> {
        let keyid = &env.signatures.first()?.keyid;
        let r = self.retired_keyids.get(keyid)?;
        (r.node_id == author).then(|| {
            rej(
                RejectCode::UnknownSigner,
                format!(
                    "key {keyid} of node {author:?} was replaced by a key rotation at log index {}; a replaced key signs nothing new",
                    r.index
                ),
            )
        })
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
