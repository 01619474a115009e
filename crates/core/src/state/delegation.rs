//! `delegate` and `undelegate`: a domain member lends its voting weight to another
//! member, revocable at any time. A proposal freezes the delegations among its eligible
//! voters when it opens (with the voters themselves), so later changes apply to later
//! proposals and every tally is a function of the log; [`crate::tally::count`] resolves
//! the chains.

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::entry::{DelegateOp, UndelegateOp};

impl State {
    pub(super) fn delegate(&mut self, op: &DelegateOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let domain = self.domains.get(&op.domain_id).ok_or_else(|| {
            rej(
                RejectCode::UnknownDomain,
                format!("domain {:?} does not exist", op.domain_id),
            )
        })?;
        if !domain.member_nodes.iter().any(|m| m == ctx.author) {
            return Err(rej(
                RejectCode::NotMember,
                format!(
                    "{:?} is not a member of domain {:?} ({}): only members delegate there",
                    ctx.author, op.domain_id, domain.name
                ),
            ));
        }
        if op.delegate == ctx.author {
            return Err(rej(
                RejectCode::Forbidden,
                format!("{:?} cannot delegate to itself", ctx.author),
            ));
        }
        if !self.nodes.contains_key(&op.delegate) {
            return Err(rej(
                RejectCode::UnknownNode,
                format!("delegate {:?} is not a registered node", op.delegate),
            ));
        }
        if !domain.member_nodes.contains(&op.delegate) {
            return Err(rej(
                RejectCode::NotMember,
                format!(
                    "delegate {:?} is not a member of domain {:?} ({})",
                    op.delegate, op.domain_id, domain.name
                ),
            ));
        }
        let current = self.delegations.get(&op.domain_id);
        let mut chain = vec![ctx.author.to_owned(), op.delegate.clone()];
        let mut at = op.delegate.as_str();
        while let Some(next) = current.and_then(|d| d.get(at)) {
            chain.push(next.clone());
            if next == ctx.author {
                return Err(rej(
                    RejectCode::Forbidden,
                    format!(
                        "delegation loop refused in domain {:?}: {}",
                        op.domain_id,
                        chain.join(" -> ")
                    ),
                ));
            }
            if chain.len() > self.nodes.len() + 1 {
                break; // cannot happen: loops are refused on the way in
            }
            at = next;
        }
        self.delegations
            .entry(op.domain_id.clone())
            .or_default()
            .insert(ctx.author.to_owned(), op.delegate.clone());
        Ok(vec![Event::DelegationSet {
            domain_id: op.domain_id.clone(),
            delegator: ctx.author.to_owned(),
            delegate: op.delegate.clone(),
        }])
    }

    pub(super) fn undelegate(
        &mut self,
        op: &UndelegateOp,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        if !self.domains.contains_key(&op.domain_id) {
            return Err(rej(
                RejectCode::UnknownDomain,
                format!("domain {:?} does not exist", op.domain_id),
            ));
        }
        let removed = self
            .delegations
            .get_mut(&op.domain_id)
            .and_then(|d| d.remove(ctx.author));
        if removed.is_none() {
            return Err(rej(
                RejectCode::Forbidden,
                format!(
                    "{:?} has no delegation in domain {:?} to revoke",
                    ctx.author, op.domain_id
                ),
            ));
        }
        if self
            .delegations
            .get(&op.domain_id)
            .is_some_and(|d| d.is_empty())
        {
            self.delegations.remove(&op.domain_id);
        }
        Ok(vec![Event::DelegationRevoked {
            domain_id: op.domain_id.clone(),
            delegator: ctx.author.to_owned(),
        }])
    }
}
