//! The commands that act on a running node over its HTTP API: propose, vote, withdraw,
//! register nodes and define domains (signed locally with `--key` or through the
//! operator endpoints), and the read-only views of contracts, proposals, nodes,
//! domains and status.

use crate::client::{ListArgs, NodeClient};
use crate::{
    AuthArgs, Choice, ContractCommand, DomainCommand, NodeArg, NodeCommand, NodeTypeArg,
    ProposalCommand,
};
use anyhow::{Context, Result, bail};
use govmesh_core::diff::text_diff;
use govmesh_core::entry::{
    CancelOp, DelegateOp, DomainSpec, NodeSpec, Operation, ProposeOp, UndelegateOp, VoteOp,
    WithdrawOp,
};
use govmesh_core::keys::{KeyPair, PublicKey};
use govmesh_core::model::{Changes, Clause, DiffOp, NodeType, PolicyOverride, VoteChoice};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Who signs: this user's key, or the node itself through its operator token.
pub enum Signer {
    Key(Box<KeyPair>),
    Operator(String),
}

pub fn signer(auth: &AuthArgs) -> Result<Signer> {
    if let Some(k) = &auth.key {
        return Ok(Signer::Key(Box::new(crate::keyfile::read(k)?)));
    }
    let token_file = match (&auth.token, &auth.data) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.join("operator.token"),
        (None, None) => bail!(
            "say who signs: --key FILE to sign locally, or --token FILE / --data DIR to act as the node"
        ),
    };
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("cannot read operator token {}", token_file.display()))?;
    govmesh_node::datadir::refuse_readable_by_others(&token_file)?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("operator token file {} is empty", token_file.display());
    }
    Ok(Signer::Operator(token))
}

pub fn print_json(v: &Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Human lines for the events an accepted entry caused.
fn print_events(resp: &Value) {
    for e in resp
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let line = match s(e, "event") {
            "proposal_opened" => format!("proposal {} is open for voting", s(e, "proposal_id")),
            "vote_counted" => format!("vote by {} counted", s(e, "voter")),
            "equivocation_recorded" => format!(
                "a second, different vote by {} was kept as equivocation evidence",
                s(e, "voter")
            ),
            "proposal_adopted" => format!(
                "proposal {} ADOPTED: {} revision {}",
                s(e, "proposal_id"),
                s(e, "contract_id"),
                n(e, "revision")
            ),
            "proposal_rejected" => format!(
                "proposal {} REJECTED: {}",
                s(e, "proposal_id"),
                s(e, "reason")
            ),
            "proposal_withdrawn" => format!("proposal {} withdrawn", s(e, "proposal_id")),
            "node_registered" => format!("node {} registered", s(e, "node_id")),
            "node_updated" => format!("node {} updated", s(e, "node_id")),
            "domain_defined" => format!("domain {} defined", s(e, "domain_id")),
            "vote_changed" => format!("vote by {} changed (the last vote counts)", s(e, "voter")),
            "voting_extended" => format!(
                "quorum reached late: voting on {} now ends {}",
                s(e, "proposal_id"),
                s(e, "voting_ends")
            ),
            "expedited_fell_back" => format!(
                "proposal {} failed on the expedited track; now on the normal track until {}",
                s(e, "proposal_id"),
                s(e, "voting_ends")
            ),
            "proposal_queued" => format!(
                "proposal {} ADOPTED; takes effect at {} unless a guardian cancels it",
                s(e, "proposal_id"),
                s(e, "effective_at")
            ),
            "proposal_cancelled" => format!(
                "proposal {} CANCELLED by guardian {}",
                s(e, "proposal_id"),
                s(e, "guardian")
            ),
            "delegation_set" => format!(
                "{} delegates to {} in domain {}",
                s(e, "delegator"),
                s(e, "delegate"),
                s(e, "domain_id")
            ),
            "delegation_revoked" => format!(
                "{} revoked its delegation in domain {}",
                s(e, "delegator"),
                s(e, "domain_id")
            ),
            "node_suspended" => format!("node {} SUSPENDED: {}", s(e, "node_id"), s(e, "reason")),
            "rights_restored" => format!(
                "node {} has its rights back (proposal {})",
                s(e, "node_id"),
                s(e, "proposal_id")
            ),
            "refusal_recorded" => format!(
                "refused submission of {} recorded ({})",
                s(e, "signer"),
                s(e, "code")
            ),
            "seal_recorded" => format!(
                "seal of size {} recorded; cosigned by {}",
                n(e, "size"),
                e["witnesses"]
            ),
            other => format!("{other}: {e}"),
        };
        outln!("  {line}");
    }
}

fn print_accepted(resp: &Value) {
    outln!(
        "entry {} ({}) appended, hash {}",
        n(resp, "index"),
        s(resp, "kind"),
        s(resp, "entry_hash")
    );
    print_events(resp);
}

pub struct ProposeArgs {
    pub contract: String,
    pub clause: String,
    pub text: String,
    pub rationale: String,
    pub rules_patch: Option<PathBuf>,
    pub domain: Option<String>,
    pub voting_period: Option<u64>,
    /// Federated (none), isolated or local.
    pub scope: Option<govmesh_core::model::GovernanceScope>,
    pub local_node: Option<String>,
    /// The conflict this proposal resolves, and how.
    pub resolves: Option<(String, govmesh_core::model::ResolutionType)>,
    /// Ask for the expedited track.
    pub expedited: bool,
}

impl ProposeArgs {
    fn conflict_resolution(&self) -> Option<govmesh_core::model::ConflictResolution> {
        self.resolves
            .as_ref()
            .map(|(id, t)| govmesh_core::model::ConflictResolution {
                conflict_id: id.clone(),
                resolution_id: uuid::Uuid::new_v4().to_string(),
                resolution_type: *t,
            })
    }
}

/// Reads a rules patch file: RFC 6902 JSON Patch (`op`), or the seed's diff form
/// (`operation`) as it is.
pub fn read_rules_patch(path: &Path) -> Result<Vec<DiffOp>> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read rules patch {}", path.display()))?;
    let v = govmesh_core::canonical::parse_strict(&text)
        .map_err(|e| anyhow::anyhow!("rules patch {}: {e}", path.display()))?;
    rules_diff(&v).with_context(|| format!("rules patch {}", path.display()))
}

pub fn rules_diff(v: &Value) -> Result<Vec<DiffOp>> {
    let ops = v
        .as_array()
        .context("a JSON Patch is an array of operations")?;
    if ops.iter().all(|o| o.get("operation").is_some()) {
        return serde_json::from_value(v.clone()).context("not a list of seed diff operations");
    }
    govmesh_core::patch::from_json_patch(v).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds a signed proposal against the clause as the node currently has it.
pub fn propose_op(client: &NodeClient, a: &ProposeArgs, diff: Vec<DiffOp>) -> Result<ProposeOp> {
    let contract = client.get(&format!("/v1/contracts/{}", a.contract))?;
    let clause = contract
        .get("clauses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("clause_id").and_then(Value::as_str) == Some(a.clause.as_str()))
        .cloned()
        .with_context(|| format!("contract {} has no clause {}", a.contract, a.clause))?;
    let clause: Clause = serde_json::from_value(clause)
        .with_context(|| format!("clause {} as the node serves it", a.clause))?;
    let base = clause
        .hash()
        .map_err(|e| anyhow::anyhow!("hashing clause {}: {e}", a.clause))?;
    Ok(ProposeOp {
        proposal_id: uuid::Uuid::new_v4().to_string(),
        contract_id: a.contract.clone(),
        target_contract_clause: a.clause.clone(),
        base_clause_hash: base,
        domain_id: a.domain.clone(),
        rationale: a.rationale.clone(),
        changes: Changes {
            current_text: clause.text.clone(),
            proposed_text: a.text.clone(),
            diff,
        },
        voting_period_secs: a.voting_period,
        create_contract: None,
        governance_scope: a.scope,
        local_node: a.local_node.clone(),
        conflict_resolution: a.conflict_resolution(),
        expedited: a.expedited,
        restore_rights: None,
    })
}

pub fn propose(node: &NodeArg, auth: &AuthArgs, a: ProposeArgs, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let signer = signer(auth)?;
    let diff = match &a.rules_patch {
        Some(p) => read_rules_patch(p)?,
        None => Vec::new(),
    };
    let (resp, pid) = match signer {
        Signer::Key(key) => {
            let op = propose_op(&client, &a, diff)?;
            let pid = op.proposal_id.clone();
            let mut resp = client.submit(&key, Operation::Propose(op))?;
            resp["proposal_id"] = json!(pid);
            (resp, pid)
        }
        Signer::Operator(token) => {
            let mut body = json!({
                "contract_id": a.contract,
                "clause": a.clause,
                "proposed_text": a.text,
                "rationale": a.rationale,
                "diff": diff,
            });
            if let Some(d) = &a.domain {
                body["domain_id"] = json!(d);
            }
            if let Some(p) = a.voting_period {
                body["voting_period_secs"] = json!(p);
            }
            if let Some(sc) = a.scope {
                body["governance_scope"] = json!(sc);
            }
            if let Some(n) = &a.local_node {
                body["local_node"] = json!(n);
            }
            if let Some(r) = a.conflict_resolution() {
                body["conflict_resolution"] = json!(r);
            }
            if a.expedited {
                body["expedited"] = json!(true);
            }
            let resp = client.post("/v1/operator/propose", &body, Some(&token))?;
            let pid = resp
                .get("proposal_id")
                .and_then(Value::as_str)
                .context("the node's answer has no proposal_id")?
                .to_owned();
            (resp, pid)
        }
    };
    if json {
        print_json(&resp);
    } else {
        outln!("{pid}");
    }
    Ok(0)
}

/// `govmesh connect` / `disconnect`: a locally signed topology entry.
pub fn connect(node: &NodeArg, auth: &AuthArgs, op: Operation, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let Signer::Key(key) = signer(auth)? else {
        bail!("{} is signed locally: give --key FILE", op.kind());
    };
    let resp = client.submit(&key, op)?;
    if json {
        print_json(&resp);
    } else {
        outln!(
            "{} appended at index {}",
            s(&resp, "kind"),
            n(&resp, "index")
        );
    }
    Ok(0)
}

fn choice(c: Choice) -> VoteChoice {
    match c {
        Choice::Approve => VoteChoice::Approve,
        Choice::Reject => VoteChoice::Reject,
        Choice::Abstain => VoteChoice::Abstain,
        Choice::Veto => VoteChoice::Veto,
    }
}

pub struct VoteArgs {
    pub proposal_id: String,
    pub choice: Choice,
    pub reason: Option<String>,
    /// None: one more than the signer's counted vote (0 for a first vote).
    pub sequence: Option<u64>,
}

pub fn vote(node: &NodeArg, auth: &AuthArgs, a: VoteArgs, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let resp = match signer(auth)? {
        Signer::Key(key) => {
            let sequence = match a.sequence {
                Some(n) => n,
                None => next_sequence(&client, &a.proposal_id, key.node_id())?,
            };
            client.submit(
                &key,
                Operation::Vote(VoteOp {
                    proposal_id: a.proposal_id,
                    choice: choice(a.choice),
                    reason: a.reason,
                    sequence,
                }),
            )?
        }
        Signer::Operator(token) => {
            let mut body = json!({"proposal_id": a.proposal_id, "choice": choice(a.choice)});
            if let Some(r) = a.reason {
                body["reason"] = json!(r);
            }
            if let Some(n) = a.sequence {
                body["sequence"] = json!(n);
            }
            client.post("/v1/operator/vote", &body, Some(&token))?
        }
    };
    if json {
        print_json(&resp);
    } else {
        print_accepted(&resp);
    }
    Ok(0)
}

/// One more than `voter`'s counted vote on the proposal, 0 if it has none.
fn next_sequence(client: &NodeClient, proposal_id: &str, voter: &str) -> Result<u64> {
    let p = client.get(&format!("/v1/proposals/{proposal_id}"))?;
    Ok(p.get("votes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|v| v.get("voter").and_then(Value::as_str) == Some(voter))
        .map_or(0, |v| n(v, "sequence").saturating_add(1)))
}

/// `govmesh delegate` (`to` set) and `govmesh undelegate` (`to` none).
pub fn delegate(
    node: &NodeArg,
    auth: &AuthArgs,
    domain_id: &str,
    to: Option<&str>,
    json: bool,
) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let resp = match (signer(auth)?, to) {
        (Signer::Key(key), Some(d)) => client.submit(
            &key,
            Operation::Delegate(DelegateOp {
                domain_id: domain_id.to_owned(),
                delegate: d.to_owned(),
            }),
        )?,
        (Signer::Key(key), None) => client.submit(
            &key,
            Operation::Undelegate(UndelegateOp {
                domain_id: domain_id.to_owned(),
            }),
        )?,
        (Signer::Operator(token), Some(d)) => client.post(
            "/v1/operator/delegate",
            &json!({"domain_id": domain_id, "delegate": d}),
            Some(&token),
        )?,
        (Signer::Operator(token), None) => client.post(
            "/v1/operator/undelegate",
            &json!({"domain_id": domain_id}),
            Some(&token),
        )?,
    };
    if json {
        print_json(&resp);
    } else {
        print_accepted(&resp);
    }
    Ok(0)
}

/// `govmesh cancel`: the guardian cancels an adopted proposal during its timelock.
pub fn cancel(
    node: &NodeArg,
    auth: &AuthArgs,
    proposal_id: &str,
    reason: Option<String>,
    json: bool,
) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let resp = match signer(auth)? {
        Signer::Key(key) => client.submit(
            &key,
            Operation::Cancel(CancelOp {
                proposal_id: proposal_id.to_owned(),
                reason,
            }),
        )?,
        Signer::Operator(token) => {
            let mut body = json!({"proposal_id": proposal_id});
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            client.post("/v1/operator/cancel", &body, Some(&token))?
        }
    };
    if json {
        print_json(&resp);
    } else {
        print_accepted(&resp);
    }
    Ok(0)
}

/// `govmesh restore`: proposes to restore a suspended node's rights; prints the id.
pub fn restore(
    node: &NodeArg,
    auth: &AuthArgs,
    node_id: &str,
    rationale: String,
    voting_period: Option<u64>,
    json: bool,
) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let (resp, pid) = match signer(auth)? {
        Signer::Key(key) => {
            let a = ProposeArgs {
                contract: govmesh_core::codex::CODEX_CONTRACT_ID.to_owned(),
                clause: govmesh_core::model::GOVERNANCE_CLAUSE.to_owned(),
                text: String::new(),
                rationale,
                rules_patch: None,
                domain: None,
                voting_period,
                scope: None,
                local_node: None,
                resolves: None,
                expedited: false,
            };
            let mut op = propose_op(&client, &a, Vec::new())?;
            op.changes.proposed_text = op.changes.current_text.clone();
            op.restore_rights = Some(node_id.to_owned());
            let pid = op.proposal_id.clone();
            let mut resp = client.submit(&key, Operation::Propose(op))?;
            resp["proposal_id"] = json!(pid);
            (resp, pid)
        }
        Signer::Operator(token) => {
            let mut body = json!({"node_id": node_id, "rationale": rationale});
            if let Some(p) = voting_period {
                body["voting_period_secs"] = json!(p);
            }
            let resp = client.post("/v1/operator/restore", &body, Some(&token))?;
            let pid = resp
                .get("proposal_id")
                .and_then(Value::as_str)
                .context("the node's answer has no proposal_id")?
                .to_owned();
            (resp, pid)
        }
    };
    if json {
        print_json(&resp);
    } else {
        outln!("{pid}");
    }
    Ok(0)
}

pub fn withdraw(
    node: &NodeArg,
    auth: &AuthArgs,
    proposal_id: &str,
    reason: Option<String>,
    json: bool,
) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let resp = match signer(auth)? {
        Signer::Key(key) => client.submit(
            &key,
            Operation::Withdraw(WithdrawOp {
                proposal_id: proposal_id.to_owned(),
                reason,
            }),
        )?,
        Signer::Operator(token) => {
            let mut body = json!({"proposal_id": proposal_id});
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            client.post("/v1/operator/withdraw", &body, Some(&token))?
        }
    };
    if json {
        print_json(&resp);
    } else {
        print_accepted(&resp);
    }
    Ok(0)
}

fn print_contract(c: &Value) {
    outln!(
        "{} {} revision {}",
        s(c, "contract_id"),
        s(c, "label"),
        n(c, "revision")
    );
    outln!("  hash        {}", s(c, "contract_hash"));
    if let Some(p) = c.get("parent_hash").and_then(Value::as_str) {
        outln!("  parent      {p}");
    }
    if let Some(p) = c.get("adopted_by_proposal").and_then(Value::as_str) {
        outln!("  adopted by  proposal {p}");
    }
    outln!("  adopted at  {}", s(c, "adopted_at"));
    if let Some(d) = c.get("domain_id").and_then(Value::as_str) {
        outln!("  decided by  domain {d}");
    }
    if let Some(n) = c.get("effective_for").and_then(Value::as_str) {
        outln!(
            "  effective for node {n}: {} clause(s) overridden locally",
            c.get("overridden").and_then(Value::as_u64).unwrap_or(0)
        );
    }
    for cl in c
        .get("clauses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        outln!();
        outln!("  {} {}", s(cl, "clause_id"), s(cl, "title"));
        if let Some(o) = cl.get("override") {
            outln!(
                "    [overridden: {} override by proposal {}{}]",
                s(o, "scope"),
                s(o, "proposal_id"),
                match o.get("conflict").filter(|c| !c.is_null()) {
                    Some(c) => format!(
                        "; in conflict with revision {} (conflict {})",
                        n(c, "revision"),
                        s(c, "conflict_id")
                    ),
                    None => String::new(),
                }
            );
        }
        for line in s(cl, "text").lines() {
            outln!("    {line}");
        }
        if let Some(r) = cl.get("rules") {
            outln!("    rules: {r}");
        }
    }
}

/// Prints a contract diff (core `diff::ContractDiff` as the API serves it): each
/// changed clause's unified text diff and rule changes.
pub fn print_diff(d: &Value) {
    outln!(
        "{} revision {} -> {}",
        s(d, "contract_id"),
        n(d, "from_revision"),
        n(d, "to_revision")
    );
    outln!("  from {}", s(d, "from_hash"));
    outln!("  to   {}", s(d, "to_hash"));
    if let Some(l) = d.get("label") {
        outln!("  label {} -> {}", s(l, "old"), s(l, "new"));
    }
    let clauses = d.get("clauses").and_then(Value::as_array);
    if clauses.is_none_or(|c| c.is_empty()) {
        outln!("  no clause changed");
    }
    for c in clauses.into_iter().flatten() {
        outln!();
        outln!("  clause {} {}", s(c, "clause_id"), s(c, "change"));
        if let Some(t) = c.get("title") {
            outln!("    title {:?} -> {:?}", s(t, "old"), s(t, "new"));
        }
        for line in s(c, "text_diff").lines() {
            outln!("    {line}");
        }
        for r in c
            .get("rule_changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = r.get("path").and_then(Value::as_str).unwrap_or("");
            let path = if path.is_empty() { "(all rules)" } else { path };
            match (r.get("old"), r.get("new")) {
                (Some(o), Some(nw)) => outln!("    rules {path}: {o} -> {nw}"),
                (None, Some(nw)) => outln!("    rules {path}: added {nw}"),
                (Some(o), None) => outln!("    rules {path}: removed {o}"),
                (None, None) => outln!("    rules {path}: {}", s(r, "change")),
            }
        }
    }
}

/// Reads a clauses file: a JSON array of clauses, each with `id` (or `clause_id`),
/// `title`, `text` and `rules`.
pub fn read_clauses(path: &Path) -> Result<Vec<Clause>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read clauses file {}", path.display()))?;
    let v = govmesh_core::canonical::parse_strict(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("clauses file {}: {e}", path.display()))?;
    let items = v.as_array().with_context(|| {
        format!(
            "clauses file {}: not a JSON array of clauses",
            path.display()
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut c = c.clone();
            if let Some(m) = c.as_object_mut()
                && !m.contains_key("clause_id")
                && let Some(id) = m.remove("id")
            {
                m.insert("clause_id".into(), id);
            }
            serde_json::from_value::<Clause>(c).with_context(|| {
                format!(
                    "clauses file {}: clause {} needs id, title, text and rules",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// `govmesh contract create`: the proposal under the Codex's clause 5.5 that creates
/// a contract.
fn create_contract(client: &NodeClient, auth: &AuthArgs, req: Value, json: bool) -> Result<i32> {
    let resp = match signer(auth)? {
        Signer::Key(key) => {
            let codex = client.get(&format!(
                "/v1/contracts/{}",
                govmesh_core::codex::CODEX_CONTRACT_ID
            ))?;
            let clause = codex
                .get("clauses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c.get("clause_id").and_then(Value::as_str) == Some("5.5"))
                .cloned()
                .context("the Codex the node serves has no clause 5.5")?;
            let clause: Clause =
                serde_json::from_value(clause).context("clause 5.5 as the node serves it")?;
            let draft: govmesh_core::model::ContractDraft = serde_json::from_value(json!({
                "contract_id": req["contract_id"],
                "label": req["label"],
                "domain_id": req["domain_id"],
                "clauses": req["clauses"],
            }))?;
            let op = ProposeOp {
                proposal_id: uuid::Uuid::new_v4().to_string(),
                contract_id: govmesh_core::codex::CODEX_CONTRACT_ID.to_owned(),
                target_contract_clause: "5.5".into(),
                base_clause_hash: clause
                    .hash()
                    .map_err(|e| anyhow::anyhow!("hashing clause 5.5: {e}"))?,
                domain_id: None,
                rationale: req["rationale"].as_str().unwrap_or_default().to_owned(),
                changes: Changes {
                    current_text: clause.text.clone(),
                    proposed_text: clause.text,
                    diff: Vec::new(),
                },
                voting_period_secs: None,
                create_contract: Some(draft),
                governance_scope: None,
                local_node: None,
                conflict_resolution: None,
                expedited: false,
                restore_rights: None,
            };
            let pid = op.proposal_id.clone();
            let mut r = client.submit(&key, Operation::Propose(op))?;
            r["proposal_id"] = json!(pid);
            r
        }
        Signer::Operator(token) => client.post("/v1/operator/contracts", &req, Some(&token))?,
    };
    if json {
        print_json(&resp);
    } else {
        outln!("{}", s(&resp, "proposal_id"));
    }
    Ok(0)
}

pub fn contract(node: &NodeArg, cmd: ContractCommand, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    match cmd {
        ContractCommand::Create {
            auth,
            id,
            title,
            domain,
            clauses,
            rationale,
        } => {
            let clauses = read_clauses(&clauses)?;
            let rationale = rationale.unwrap_or_else(|| format!("Create contract {id} ({title})."));
            let req = json!({
                "contract_id": id,
                "label": title,
                "domain_id": domain,
                "clauses": clauses,
                "rationale": rationale,
            });
            return create_contract(&client, &auth, req, json);
        }
        ContractCommand::Show {
            id,
            revision,
            for_node,
        } => {
            let path = match (revision, for_node) {
                (Some(r), _) => format!("/v1/contracts/{id}/revisions/{r}"),
                (None, Some(n)) => format!("/v1/contracts/{id}?node={n}"),
                (None, None) => format!("/v1/contracts/{id}"),
            };
            let c = client.get(&path)?;
            if json {
                print_json(&c);
            } else {
                print_contract(&c);
            }
        }
        ContractCommand::Diff { id, from, to } => {
            let d = client.get(&format!("/v1/contracts/{id}/diff?from={from}&to={to}"))?;
            if json {
                print_json(&d);
            } else {
                print_diff(&d);
            }
        }
        ContractCommand::History { id, page } => {
            let h = client.get_list(
                &format!("/v1/contracts/{id}/revisions"),
                &[],
                "revisions",
                &page,
            )?;
            if json {
                print_json(&h);
            } else {
                for r in h
                    .get("revisions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    outln!(
                        "revision {:>3}  {}  {}  {}",
                        n(r, "revision"),
                        s(r, "adopted_at"),
                        s(r, "contract_hash"),
                        r.get("adopted_by_proposal")
                            .and_then(Value::as_str)
                            .map(|p| format!("proposal {p}"))
                            .unwrap_or_else(|| "genesis".into())
                    );
                }
            }
        }
    }
    Ok(0)
}

fn tally_line(p: &Value) -> String {
    let r = p.get("voting_result").cloned().unwrap_or(Value::Null);
    format!(
        "approve {} reject {} abstain {} veto {}",
        n(&r, "approve_votes"),
        n(&r, "reject_votes"),
        n(&r, "abstain_votes"),
        n(&r, "veto_votes")
    )
}

pub fn proposal(node: &NodeArg, cmd: ProposalCommand, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    match cmd {
        ProposalCommand::List {
            status,
            contract,
            clause,
            author,
            since,
            until,
            page,
        } => {
            let filters = query_of(&[
                ("status", status),
                ("contract", contract),
                ("clause", clause),
                ("author", author),
                ("since", since),
                ("until", until),
            ]);
            let l = client.get_list("/v1/proposals", &filters, "proposals", &page)?;
            if json {
                print_json(&l);
                return Ok(0);
            }
            print_next_cursor(&l);
            let list = l.get("proposals").and_then(Value::as_array);
            if list.is_none_or(|l| l.is_empty()) {
                outln!("no proposals");
            }
            for p in list.into_iter().flatten() {
                outln!(
                    "{}  {:<9} {} clause {:<6} {}  {}",
                    s(p, "proposal_id"),
                    s(p, "status"),
                    s(p, "contract_id"),
                    s(p, "target_contract_clause"),
                    tally_line(p),
                    s(p, "rationale").lines().next().unwrap_or("")
                );
            }
        }
        ProposalCommand::Show { id } => {
            let p = client.get(&format!("/v1/proposals/{id}"))?;
            if json {
                print_json(&p);
                return Ok(0);
            }
            outln!("proposal {}", s(&p, "proposal_id"));
            outln!("  status      {}", s(&p, "status"));
            outln!(
                "  target      {} clause {}",
                s(&p, "contract_id"),
                s(&p, "target_contract_clause")
            );
            if let Some(c) = p.get("create_contract").filter(|c| c.is_object()) {
                outln!(
                    "  creates     contract {} ({}), {} clause(s), decided by domain {}",
                    s(c, "contract_id"),
                    s(c, "label"),
                    c.get("clauses")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len),
                    s(c, "domain_id")
                );
            }
            let scope = s(&p, "governance_scope");
            if scope != "federated" && !scope.is_empty() {
                match p.get("local_node").and_then(Value::as_str) {
                    Some(n) => outln!("  scope       {scope}: a local override on node {n}"),
                    None => {
                        outln!("  scope       {scope}: a local override for the domain's members")
                    }
                }
            }
            if let Some(r) = p.get("conflict_resolution").filter(|r| r.is_object()) {
                outln!(
                    "  resolves    conflict {} by {}",
                    s(r, "conflict_id"),
                    s(r, "resolution_type")
                );
            }
            outln!("  proposed by {}", s(&p, "proposed_by"));
            outln!("  domain      {}", s(&p, "domain_id"));
            outln!(
                "  voting      {} .. {}",
                s(&p, "voting_starts"),
                s(&p, "voting_ends")
            );
            outln!("  tally       {}", tally_line(&p));
            if let Some(r) = p.get("voting_result") {
                outln!("  result      {}", s(r, "reason"));
            }
            if let Some(r) = p.get("adopted_revision").and_then(Value::as_u64) {
                outln!("  adopted as  revision {r}");
            }
            outln!("  rationale   {}", s(&p, "rationale"));
            if let Some(ch) = p.get("changes") {
                let clause = s(&p, "target_contract_clause");
                let diff = text_diff(clause, s(ch, "current_text"), s(ch, "proposed_text"));
                if diff.is_empty() {
                    outln!("  text        unchanged");
                }
                for line in diff.lines() {
                    outln!("  text        {line}");
                }
                for op in ch
                    .get("diff")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    outln!("  rules       {op}");
                }
            }
            for v in p
                .get("votes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                outln!(
                    "  vote        {} {} (weight {}) at {}",
                    s(v, "voter"),
                    s(v, "choice"),
                    n(v, "weight"),
                    s(v, "timestamp")
                );
            }
        }
    }
    Ok(0)
}

fn node_type(t: NodeTypeArg) -> NodeType {
    match t {
        NodeTypeArg::GovernanceHub => NodeType::GovernanceHub,
        NodeTypeArg::ComplianceWitness => NodeType::ComplianceWitness,
        NodeTypeArg::TrustFork => NodeType::TrustFork,
    }
}

pub fn node(node: &NodeArg, cmd: NodeCommand, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    match cmd {
        NodeCommand::List {
            node_type: ty,
            status,
            page,
        } => {
            let filters = query_of(&[
                ("type", ty.map(|t| node_type(t).as_str().to_owned())),
                ("status", status),
            ]);
            let l = client.get_list("/v1/nodes", &filters, "nodes", &page)?;
            if json {
                print_json(&l);
                return Ok(0);
            }
            print_next_cursor(&l);
            for x in l
                .get("nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                outln!(
                    "{}  {:<18} {:<9} {}",
                    s(x, "node_id"),
                    s(x, "node_type"),
                    s(x, "status"),
                    x.get("display_name")
                        .or_else(|| x.get("network_address"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
            }
        }
        NodeCommand::Show { id } => {
            let x = client.get(&format!("/v1/nodes/{id}"))?;
            if json {
                print_json(&x);
                return Ok(0);
            }
            for k in [
                "node_id",
                "node_type",
                "status",
                "public_key",
                "network_address",
                "display_name",
                "registered_at",
                "registered_by",
                "last_seen",
            ] {
                if let Some(v) = x.get(k).and_then(Value::as_str) {
                    outln!("{k:<16} {v}");
                }
            }
            if let Some(p) = x.get("privileges") {
                outln!("{:<16} {p}", "privileges");
            }
        }
        NodeCommand::Register {
            auth,
            node_type: t,
            public_key,
            node_id,
            network_address,
            display_name,
        } => {
            let pk = PublicKey::from_base64(&public_key)
                .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?;
            let node_id = node_id.unwrap_or_else(|| pk.derived_node_id());
            let resp = match signer(&auth)? {
                Signer::Key(key) => {
                    let mut r = client.submit(
                        &key,
                        Operation::RegisterNode(NodeSpec {
                            node_id: node_id.clone(),
                            node_type: node_type(t),
                            public_key: pk,
                            network_address,
                            display_name,
                            node_policy_capabilities: Vec::new(),
                        }),
                    )?;
                    r["node_id"] = json!(node_id);
                    r
                }
                Signer::Operator(token) => {
                    let mut body = json!({
                        "node_type": node_type(t),
                        "public_key": pk,
                        "node_id": node_id,
                    });
                    if let Some(a) = network_address {
                        body["network_address"] = json!(a);
                    }
                    if let Some(d) = display_name {
                        body["display_name"] = json!(d);
                    }
                    client.post("/v1/operator/nodes", &body, Some(&token))?
                }
            };
            if json {
                print_json(&resp);
            } else {
                outln!("{}", s(&resp, "node_id"));
            }
        }
    }
    Ok(0)
}

pub fn domain(node: &NodeArg, cmd: DomainCommand, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    match cmd {
        DomainCommand::List { page } => {
            let l = client.get_list("/v1/domains", &[], "domains", &page)?;
            if json {
                print_json(&l);
                return Ok(0);
            }
            print_next_cursor(&l);
            for d in l
                .get("domains")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                outln!(
                    "{}  {}  {} members  admin {}",
                    s(d, "domain_id"),
                    s(d, "name"),
                    d.get("member_nodes")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len),
                    s(d, "admin_node_id")
                );
            }
        }
        DomainCommand::Show { id } => {
            let d = client.get(&format!("/v1/domains/{id}"))?;
            if json {
                print_json(&d);
                return Ok(0);
            }
            outln!("domain {} ({})", s(&d, "domain_id"), s(&d, "name"));
            outln!("  description {}", s(&d, "description"));
            outln!("  admin       {}", s(&d, "admin_node_id"));
            for m in d
                .get("member_nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                outln!("  member      {}", m.as_str().unwrap_or("-"));
            }
            if let Some(p) = d.get("policy") {
                outln!("  policy      {p}");
            }
            if let Some(p) = d.get("clause_policies") {
                outln!("  per clause  {p}");
            }
        }
        DomainCommand::Define {
            auth,
            id,
            name,
            description,
            admin,
            members,
            shared_clauses,
            contract,
            quorum,
            threshold,
            veto,
            voting_period,
            weights,
            default_weight,
            min_trust_score,
            weight_by_trust,
            clause_policies,
            voting_rules,
            local_overrides,
        } => {
            let pair = |v: &str, what: &str| -> Result<(String, String)> {
                v.split_once('=')
                    .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
                    .with_context(|| format!("--{what} {v:?}: expected KEY=VALUE"))
            };
            let mut weight_map = std::collections::BTreeMap::new();
            for w in &weights {
                let (node, n) = pair(w, "weight")?;
                let n: u64 = n
                    .parse()
                    .with_context(|| format!("--weight {w:?}: the weight is a whole number"))?;
                weight_map.insert(node, n);
            }
            let mut policy = PolicyOverride {
                quorum,
                threshold,
                veto,
                voting_period_secs: voting_period,
                weights: (!weight_map.is_empty()).then_some(weight_map),
                default_weight,
                min_trust_score,
                weight_by_trust: weight_by_trust.then_some(true),
                ..PolicyOverride::default()
            };
            if !voting_rules.is_empty() {
                let mut v = serde_json::to_value(&policy)?;
                for r in &voting_rules {
                    let (key, j) = pair(r, "voting-rule")?;
                    let value: Value = serde_json::from_str(&j).with_context(|| {
                        format!("--voting-rule {r:?}: the value is JSON (true, 0.8, 3600)")
                    })?;
                    v[key.as_str()] = value;
                }
                policy = serde_json::from_value(v)
                    .context("--voting-rule: not a rule of a voting policy")?;
            }
            let mut per_clause = std::collections::BTreeMap::new();
            for c in &clause_policies {
                let (clause, j) = pair(c, "clause-policy")?;
                let o: PolicyOverride = serde_json::from_str(&j).with_context(|| {
                    format!(
                        "--clause-policy {c:?}: a policy is JSON with quorum, threshold, veto, voting_period_secs, weights, default_weight, min_trust_score, weight_by_trust"
                    )
                })?;
                per_clause.insert(clause, o);
            }
            let mut overrides: std::collections::BTreeMap<String, Vec<String>> =
                std::collections::BTreeMap::new();
            for o in &local_overrides {
                let (node, clause) = pair(o, "local-override")?;
                overrides.entry(node).or_default().push(clause);
            }
            let domain_id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let resp = match signer(&auth)? {
                Signer::Key(key) => {
                    let spec = DomainSpec {
                        domain_id: domain_id.clone(),
                        name,
                        description,
                        admin_node_id: admin.unwrap_or_else(|| key.node_id().to_owned()),
                        member_nodes: members,
                        shared_clauses,
                        local_overrides: overrides,
                        policy,
                        contract_id: contract,
                        clause_policies: per_clause,
                    };
                    let mut r = client.submit(&key, Operation::DefineDomain(spec))?;
                    r["domain_id"] = json!(domain_id);
                    r
                }
                Signer::Operator(token) => {
                    let mut body = json!({
                        "domain_id": domain_id,
                        "name": name,
                        "description": description,
                        "member_nodes": members,
                        "shared_clauses": shared_clauses,
                        "policy": policy,
                        "clause_policies": per_clause,
                        "local_overrides": overrides,
                    });
                    if let Some(c) = contract {
                        body["contract_id"] = json!(c);
                    }
                    // The node itself administers the domain unless told otherwise.
                    let admin = match admin {
                        Some(a) => a,
                        None => s(&client.get("/v1/status")?, "node_id").to_owned(),
                    };
                    body["admin_node_id"] = json!(admin);
                    client.post("/v1/operator/domains", &body, Some(&token))?
                }
            };
            if json {
                print_json(&resp);
            } else {
                outln!("{}", s(&resp, "domain_id"));
            }
        }
    }
    Ok(0)
}

pub fn status(node: &NodeArg, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let st = client.get("/v1/status")?;
    if json {
        print_json(&st);
        return Ok(0);
    }
    outln!("node      {} ({})", s(&st, "node_id"), s(&st, "node_type"));
    outln!("mesh      {} {}", s(&st, "mesh_name"), s(&st, "mesh_id"));
    outln!("log size  {}", n(&st, "log_size"));
    outln!("root      {}", s(&st, "root"));
    if let Some(heads) = st.get("contract_heads").and_then(Value::as_object) {
        for (id, h) in heads {
            outln!(
                "contract  {id} revision {} {}",
                n(h, "revision"),
                s(h, "contract_hash")
            );
        }
    }
    outln!("url       {}", s(&st, "url"));
    let ip = &st["integration_points"];
    if ip.is_object() {
        let vnm = &ip["verification_node_manager"];
        outln!(
            "nodes     {} registered {}",
            n(vnm, "registered_nodes"),
            vnm["by_status"]
        );
        let cs = &ip["consensus_service"];
        outln!(
            "council   {} member(s), leader {}, term {}, commit index {}",
            cs["council_members"].as_array().map_or(0, Vec::len),
            cs["leader"]["node_id"].as_str().unwrap_or("-"),
            cs["term"],
            cs["commit_index"]
        );
        let tm = &ip["network_topology_manager"];
        outln!(
            "topology  {} (health {}), {} connection(s)",
            s(tm, "overall_status"),
            tm["health_score"],
            n(tm, "connections")
        );
        let seal = &ip["seal_distribution_service"]["latest_seal"];
        if seal.is_object() {
            outln!(
                "seal      size {}, {} cosigner(s), held by {} node(s)",
                n(seal, "size"),
                seal["cosigners"].as_array().map_or(0, Vec::len),
                seal["held_by"].as_array().map_or(0, Vec::len)
            );
        } else {
            outln!("seal      none held yet");
        }
        let ta = &ip["trust_aggregation_service"];
        outln!(
            "trust     {}; {} observation(s)",
            computation_line(&ta["last_computation"]),
            n(ta, "observations")
        );
    }
    Ok(0)
}

fn f(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// A bar of `width` cells for a share in [0, 1].
fn bar(share: f64, width: usize) -> String {
    let filled = ((share.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "#".repeat(filled), ".".repeat(width - filled))
}

fn computation_line(c: &Value) -> String {
    if c.is_null() {
        return "none yet".into();
    }
    format!(
        "after entry {} ({}, Codex revision {}): {} iteration(s), {}",
        n(c, "index"),
        s(c, "cause"),
        n(c, "revision"),
        n(c, "iterations"),
        if c.get("converged").and_then(Value::as_bool) == Some(true) {
            "converged"
        } else {
            "not converged (max_iterations reached)"
        }
    )
}

/// `govmesh trust [NODE]`.
pub fn trust(node: &NodeArg, subject: Option<&str>, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let Some(id) = subject else {
        let v = client.get("/v1/trust")?;
        if json {
            print_json(&v);
            return Ok(0);
        }
        outln!(
            "last computation  {}",
            computation_line(&v["last_computation"])
        );
        outln!(
            "observations      {} ({} since the last computation)",
            n(&v, "observations"),
            n(&v, "pending_observations")
        );
        let scores = v["scores"].as_array().cloned().unwrap_or_default();
        let top = scores
            .iter()
            .filter_map(|l| f(l, "score"))
            .fold(0.0, f64::max);
        outln!(
            "{:>4}  {:<36}  {:<18}  {:>8}  bar",
            "rank",
            "node",
            "role",
            "score"
        );
        for l in &scores {
            let score = f(l, "score");
            outln!(
                "{:>4}  {:<36}  {:<18}  {:>8}  {}{}",
                l.get("rank")
                    .and_then(Value::as_u64)
                    .map_or("-".into(), |r| r.to_string()),
                s(l, "node_id"),
                s(l, "node_type"),
                score.map_or("-".into(), |x| format!("{x:.6}")),
                score.map_or(String::new(), |x| bar(
                    if top > 0.0 { x / top } else { 0.0 },
                    20
                )),
                if l.get("pre_trusted").and_then(Value::as_bool) == Some(true) {
                    "  pre-trusted"
                } else {
                    ""
                }
            );
        }
        return Ok(0);
    };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        bail!("NODE {id:?} is not a node id (letters, digits and '-')");
    }
    let v = client.get(&format!("/v1/trust/{id}"))?;
    if json {
        print_json(&v);
        return Ok(0);
    }
    outln!(
        "node              {} ({}, {})",
        s(&v, "node_id"),
        s(&v, "node_type"),
        s(&v, "status")
    );
    match f(&v, "score") {
        Some(x) => outln!(
            "score             {x:.6} (rank {} of {}){}",
            n(&v, "rank"),
            n(&v, "of"),
            if v.get("pre_trusted").and_then(Value::as_bool) == Some(true) {
                ", pre-trusted"
            } else {
                ""
            }
        ),
        None => outln!("score             none yet (registered after the last computation)"),
    }
    outln!(
        "last computation  {}",
        computation_line(&v["last_computation"])
    );
    outln!("observations received:");
    for r in v["received"].as_array().into_iter().flatten() {
        outln!(
            "  {:<24} {:<9} x{:<6} weight {}",
            s(r, "kind"),
            s(r, "effect"),
            n(r, "count"),
            f(r, "weight").unwrap_or(0.0)
        );
    }
    outln!("observed by:");
    for p in v["observers"].as_array().into_iter().flatten() {
        outln!(
            "  {:<36} +{} -{} local trust {}",
            s(p, "node_id"),
            f(p, "positive").unwrap_or(0.0),
            f(p, "negative").unwrap_or(0.0),
            f(p, "local_trust").unwrap_or(0.0)
        );
    }
    outln!("history:");
    for h in v["history"].as_array().into_iter().flatten() {
        outln!(
            "  entry {:>8} {:<8} r{:<3} {:.6} rank {}",
            n(h, "index"),
            s(h, "cause"),
            n(h, "revision"),
            f(h, "score").unwrap_or(0.0),
            n(h, "rank")
        );
    }
    Ok(0)
}

pub fn sync_status(
    node: &NodeArg,
    contract: Option<String>,
    status: Option<String>,
    page: &ListArgs,
    json: bool,
) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let filters = query_of(&[("contract", contract), ("status", status)]);
    let v = client.get_list("/v1/sync", &filters, "sync_records", page)?;
    if json {
        print_json(&v);
        return Ok(0);
    }
    print_next_cursor(&v);
    let records = v
        .get("sync_records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let count = |r: &Value, k: &str| r.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    for r in records {
        outln!(
            "{} r{:<3} {:<11} acked {}/{}  failed {}  deadline {}  hash {}",
            s(&r, "contract_id"),
            r.get("revision").map(Value::to_string).unwrap_or_default(),
            s(&r, "status"),
            count(&r, "successful_nodes"),
            count(&r, "target_node_ids"),
            count(&r, "failed_nodes"),
            s(&r, "deadline"),
            s(&r, "contract_hash")
        );
    }
    Ok(0)
}

pub fn topology(node: &NodeArg, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let t = client.get("/v1/topology")?;
    if json {
        print_json(&t);
        return Ok(0);
    }
    let h = t.get("health_status").cloned().unwrap_or(Value::Null);
    outln!(
        "health    {} (score {})",
        s(&h, "overall_status"),
        h.get("health_score")
            .map(Value::to_string)
            .unwrap_or_default()
    );
    let list = |k: &str| -> Vec<Value> {
        t.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for x in list("nodes") {
        outln!(
            "node      {}  {:<18} {:<9} {:<11} last seen {}{}",
            s(&x, "node_id"),
            s(&x, "node_type"),
            s(&x, "status"),
            s(&x, "liveness"),
            s(&x, "last_seen"),
            x.get("latency_ms")
                .and_then(Value::as_f64)
                .map_or(String::new(), |ms| format!("  rtt {ms:.2} ms"))
        );
    }
    for d in list("domains") {
        outln!(
            "domain    {}  {} ({} members)",
            s(&d, "domain_id"),
            s(&d, "name"),
            d.get("member_nodes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        );
    }
    let conns = list("connections");
    if conns.is_empty() {
        outln!("connections none");
    }
    for c in &conns {
        print_connection(c);
    }
    let summary = t.get("connections_summary").cloned().unwrap_or(Value::Null);
    if summary.get("complete") == Some(&Value::Bool(false)) {
        outln!(
            "connections {} declared, {} observed of which {} shown; all: govmesh topology connections",
            summary
                .get("declared")
                .map(Value::to_string)
                .unwrap_or_default(),
            summary
                .get("observed")
                .map(Value::to_string)
                .unwrap_or_default(),
            summary
                .get("observed_in_record")
                .map(Value::to_string)
                .unwrap_or_default(),
        );
    }
    Ok(0)
}

fn print_connection(c: &Value) {
    let latency = c
        .get("latency_ms")
        .and_then(Value::as_f64)
        .map_or("-".to_owned(), |ms| format!("{ms:.2} ms"));
    outln!(
        "connection {} -> {}  {:<6} {}",
        s(c, "source_node_id"),
        s(c, "target_node_id"),
        s(c, "connection_type"),
        latency
    );
}

/// `govmesh topology connections`: every connection, paged
/// (`GET /v1/topology/connections`).
pub fn topology_connections(
    node: &NodeArg,
    declared: Option<bool>,
    of: Option<String>,
    page: &ListArgs,
    json: bool,
) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let filters = query_of(&[("declared", declared.map(|d| d.to_string())), ("node", of)]);
    let l = client.get_list("/v1/topology/connections", &filters, "connections", page)?;
    if json {
        print_json(&l);
        return Ok(0);
    }
    print_next_cursor(&l);
    let list = l.get("connections").and_then(Value::as_array);
    if list.is_none_or(|l| l.is_empty()) {
        outln!("connections none");
    }
    for c in list.into_iter().flatten() {
        print_connection(c);
    }
    Ok(0)
}

/// The filters given, as query pairs.
fn query_of(filters: &[(&'static str, Option<String>)]) -> Vec<(&'static str, String)> {
    filters
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect()
}

/// After one page (`--limit`/`--cursor`), where the next starts (on stderr, so stdout
/// stays the list).
fn print_next_cursor(page: &Value) {
    if let Some(c) = page.get("next_cursor").and_then(Value::as_str) {
        eprintln!("next cursor: {c}");
    }
}

/// What `govmesh log entries` lists.
pub struct EntryFilter {
    pub start: u64,
    pub kind: Option<String>,
    pub author: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// `govmesh log entries`: one line per record (index, time, type, author).
pub fn log_entries(node: &NodeArg, f: EntryFilter, page: &ListArgs, json: bool) -> Result<i32> {
    let client = NodeClient::new(&node.node)?;
    let mut filters = query_of(&[
        ("kind", f.kind),
        ("author", f.author),
        ("since", f.since),
        ("until", f.until),
    ]);
    filters.push(("start", f.start.to_string()));
    let v = client.get_list("/v1/log/entries", &filters, "entries", page)?;
    if json {
        print_json(&v);
        return Ok(0);
    }
    print_next_cursor(&v);
    for r in v
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let payload = r
            .pointer("/envelope/payload")
            .and_then(Value::as_str)
            .and_then(|p| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(p).ok()
            })
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null);
        outln!(
            "{:>8}  {}  {:<14} {}",
            n(r, "index"),
            s(r, "timestamp"),
            s(&payload, "type"),
            s(&payload, "author")
        );
    }
    Ok(0)
}
