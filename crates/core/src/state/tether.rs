//! The tether check (clause 5.5): the author is active, its role holds the privilege
//! the operation needs, and proposers and voters belong to the deciding domain.

use super::{RejectCode, Rejection, State, rej};
use crate::entry::Operation;
use crate::model::{NodeRecord, NodeStatus, OperationPrivilege};

impl State {
    /// The tether check: the author is active and its role holds the privilege the
    /// operation needs under the current clause 5.5; proposers and voters are members
    /// of the governing domain.
    pub(super) fn tether(&self, author: &NodeRecord, op: &Operation) -> Result<(), Rejection> {
        if author.status != NodeStatus::Active {
            return Err(rej(
                RejectCode::NotActive,
                format!(
                    "author {:?} is {:?}, only active nodes may write to the log",
                    author.node_id, author.status
                ),
            ));
        }
        self.check_suspension(author, op)?;
        let rules = self.rules()?;
        let exempt = match op {
            // A node may move itself to a new address, or rotate its own key with the
            // new key's proof of possession (checked by `update_node`), without any
            // privilege.
            Operation::UpdateNode(u) => {
                u.node_id == author.node_id
                    && u.status.is_none()
                    && (u.public_key.is_none() || u.key_proof.is_some())
            }
            // A domain's admin may redefine it.
            Operation::DefineDomain(d) => self
                .domains
                .get(&d.domain_id)
                .is_some_and(|existing| existing.admin_node_id == author.node_id),
            _ => false,
        };
        if !exempt
            && let Some(&OperationPrivilege::Role(privilege)) =
                rules.operation_privileges.get(op.kind())
            && !rules.role_has(author.node_type, privilege)
        {
            return Err(rej(
                RejectCode::NotPrivileged,
                format!(
                    "role {} of {:?} lacks {} which clause 5.5 requires for {}",
                    author.node_type.as_str(),
                    author.node_id,
                    privilege.as_str(),
                    op.kind()
                ),
            ));
        }
        let domain_id = match op {
            Operation::Propose(p) => Some(
                p.domain_id
                    .clone()
                    .or_else(|| self.deciding_domain(&p.contract_id, &p.target_contract_clause))
                    .unwrap_or_else(|| rules.default_domain_id.clone()),
            ),
            Operation::Vote(v) => match self.live(&v.proposal_id) {
                Some(p) => Some(p.domain_id.clone()),
                None => self.closed(&v.proposal_id).map(|c| c.domain_id.clone()),
            },
            _ => None,
        };
        if let Some(domain_id) = domain_id {
            let domain = self.domains.get(&domain_id).ok_or_else(|| {
                rej(
                    RejectCode::UnknownDomain,
                    format!("domain {domain_id:?} does not exist"),
                )
            })?;
            if !domain.member_nodes.contains(&author.node_id) {
                return Err(rej(
                    RejectCode::NotMember,
                    format!(
                        "{:?} is not a member of domain {domain_id:?} ({})",
                        author.node_id, domain.name
                    ),
                ));
            }
        }
        Ok(())
    }
}
