//! `genesis`: the mesh's founding contract (revision 1), founders and domains.

use super::decode::{check_id, check_key};
use super::domains::build_domain;
use super::nodes::new_node_record;
use super::{Ctx, Event, RejectCode, Rejection, RevisionSync, State, rej};
use crate::canonical::JsonError;
use crate::digest::Digest;
use crate::entry::GenesisOp;
use crate::model::{Contract, GOVERNANCE_CLAUSE, GovernanceRules};
use std::collections::{BTreeMap, BTreeSet};

impl State {
    pub(super) fn apply_genesis(
        &mut self,
        g: &GenesisOp,
        ctx: &Ctx,
    ) -> Result<Vec<Event>, Rejection> {
        if g.mesh_name.trim().is_empty() {
            return Err(rej(RejectCode::Forbidden, "genesis mesh_name is empty"));
        }
        if g.founders.is_empty() {
            return Err(rej(RejectCode::Forbidden, "genesis names no founders"));
        }
        // Contract revision 1.
        let spec = &g.contract;
        if spec.contract_id.trim().is_empty() {
            return Err(rej(RejectCode::Forbidden, "genesis contract_id is empty"));
        }
        let mut clause_ids = BTreeSet::new();
        for c in &spec.clauses {
            if !clause_ids.insert(c.clause_id.as_str()) {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!("genesis contract has clause {:?} twice", c.clause_id),
                ));
            }
        }
        let gov_clause = spec
            .clauses
            .iter()
            .find(|c| c.clause_id == GOVERNANCE_CLAUSE)
            .ok_or_else(|| {
                rej(
                    RejectCode::Forbidden,
                    format!(
                        "genesis contract {:?} has no clause {GOVERNANCE_CLAUSE} (roles and voting rules)",
                        spec.contract_id
                    ),
                )
            })?;
        let rules = GovernanceRules::from_rules(&gov_clause.rules)
            .map_err(|e| rej(RejectCode::Forbidden, e))?;
        let mut contract = Contract {
            contract_id: spec.contract_id.clone(),
            label: spec.label.clone(),
            revision: 1,
            clauses: spec.clauses.clone(),
            parent_hash: None,
            adopted_by_proposal: None,
            adopted_at: ctx.at,
            domain_id: None,
            contract_hash: Digest::default(),
        };
        contract.contract_hash = contract
            .compute_hash()
            .map_err(|e| rej(RejectCode::Malformed, format!("genesis contract: {e}")))?;
        let clause_hashes = contract
            .clauses
            .iter()
            .map(|c| Ok((c.clause_id.clone(), c.hash()?)))
            .collect::<Result<BTreeMap<_, _>, JsonError>>()
            .map_err(|e| rej(RejectCode::Malformed, format!("genesis clause: {e}")))?;

        // Founders.
        let mut nodes = BTreeMap::new();
        let mut keyids = BTreeMap::new();
        let mut events = vec![Event::MeshFounded { mesh_id: ctx.hash }];
        for f in &g.founders {
            check_id("founder node_id", &f.node_id)?;
            check_key(&f.node_id, &f.public_key)?;
            let keyid = f.public_key.keyid();
            if keyids.insert(keyid, f.node_id.clone()).is_some() {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!(
                        "founder {:?} reuses another founder's public key",
                        f.node_id
                    ),
                ));
            }
            let rec = new_node_record(f, &rules, ctx.at, &f.node_id);
            if nodes.insert(f.node_id.clone(), rec).is_some() {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!("founder {:?} is listed twice", f.node_id),
                ));
            }
            events.push(Event::NodeRegistered {
                node_id: f.node_id.clone(),
            });
        }

        // Domains.
        let mut domains = BTreeMap::new();
        for d in &g.domains {
            let domain = build_domain(d, &nodes, ctx.at)?;
            if domains.insert(d.domain_id.clone(), domain).is_some() {
                return Err(rej(
                    RejectCode::Duplicate,
                    format!("genesis defines domain {:?} twice", d.domain_id),
                ));
            }
            events.push(Event::DomainDefined {
                domain_id: d.domain_id.clone(),
            });
        }
        if !domains.contains_key(&rules.default_domain_id) {
            return Err(rej(
                RejectCode::UnknownDomain,
                format!(
                    "clause 5.5 default_domain_id {:?} is not one of the genesis domains",
                    rules.default_domain_id
                ),
            ));
        }

        let targets = nodes
            .keys()
            .filter(|id| id.as_str() != ctx.author)
            .cloned()
            .collect();
        self.revision_sync.insert(
            spec.contract_id.clone(),
            BTreeMap::from([(
                1,
                RevisionSync {
                    source_node_id: ctx.author.to_owned(),
                    target_node_ids: targets,
                },
            )]),
        );
        self.mesh_id = Some(ctx.hash);
        self.mesh_name = Some(g.mesh_name.clone());
        self.governing_contract = Some(spec.contract_id.clone());
        self.rules = Some(rules);
        self.contracts
            .insert(spec.contract_id.clone(), vec![contract]);
        self.clause_hashes
            .insert(spec.contract_id.clone(), clause_hashes);
        self.nodes = nodes;
        self.keyids = keyids;
        self.domains = domains;
        self.topology_changed(ctx);
        self.refresh_replay_window(ctx.at);
        Ok(events)
    }
}
