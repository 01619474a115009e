//! The operator endpoints (`POST /v1/operator/...`): actions the node's operator asks
//! for with the bearer token (crate::extract::Operator), signed with this node's key
//! and submitted like any entry: propose, vote, withdraw, register a node, define a
//! domain, delegate and undelegate, cancel a timelocked adoption (guardians), propose
//! to restore a suspended node's rights.

use crate::api::{ApiResult, created};
use crate::error::ApiError;
use crate::extract::{ApiJson, Operator};
use crate::route_table::route_table;
use crate::shared::Shared;
use crate::wire;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use govmesh_core::entry::{
    CancelOp, DelegateOp, NodeSpec, Operation, ProposeOp, UndelegateOp, VoteOp, WithdrawOp,
};
use govmesh_core::model::{Changes, ContractDraft};
use serde_json::{Map, Value};

route_table!(Shared {
    POST "/v1/operator/propose" => operator_propose,
    POST "/v1/operator/vote" => operator_vote,
    POST "/v1/operator/withdraw" => operator_withdraw,
    POST "/v1/operator/nodes" => operator_register_node,
    POST "/v1/operator/domains" => operator_define_domain,
    POST "/v1/operator/contracts" => operator_create_contract,
    POST "/v1/operator/delegate" => operator_delegate,
    POST "/v1/operator/undelegate" => operator_undelegate,
    POST "/v1/operator/cancel" => operator_cancel,
    POST "/v1/operator/restore" => operator_restore,
});

/// The operator endpoints.
pub fn routes(shared: Shared) -> Router {
    table().with_state(shared)
}

async fn operator_propose(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::ProposeRequest>,
) -> ApiResult<Response> {
    let diff = crate::bodies::diff(req.diff)?;
    let (contract_id, base_clause_hash, current_text) = {
        let l = app.ledger().lock().await;
        let contract_id = req.contract_id.clone().unwrap_or_else(|| {
            l.state()
                .governing_contract_id()
                .unwrap_or(govmesh_core::codex::CODEX_CONTRACT_ID)
                .to_owned()
        });
        let c = l.state().contract(&contract_id).ok_or_else(|| {
            ApiError::unprocessable("unknown_contract", format!("no contract {contract_id:?}"))
        })?;
        let cl = c.clause(&req.clause).ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_clause",
                format!("contract {contract_id:?} has no clause {:?}", req.clause),
            )
        })?;
        let hash = cl.hash().map_err(ApiError::internal)?;
        (contract_id, hash, cl.text.clone())
    };
    let proposal_id = uuid::Uuid::new_v4().to_string();
    let op = Operation::Propose(ProposeOp {
        proposal_id: proposal_id.clone(),
        contract_id,
        target_contract_clause: req.clause,
        base_clause_hash,
        domain_id: req.domain_id,
        rationale: req.rationale,
        changes: Changes {
            current_text,
            proposed_text: req.proposed_text,
            diff,
        },
        voting_period_secs: req.voting_period_secs,
        create_contract: None,
        governance_scope: req.governance_scope,
        local_node: req.local_node,
        conflict_resolution: req.conflict_resolution,
        expedited: req.expedited,
        restore_rights: None,
    });
    let c = app.submit_own(op).await?;
    tracing::info!(%proposal_id, index = c.index, "operator proposal appended");
    created(&c, Some(("proposal_id", &proposal_id)))
}

/// Proposes a new contract as the node: a proposal under the governing contract's
/// clause 5.5 that changes nothing in it and carries the draft (`create_contract`).
async fn operator_create_contract(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::CreateContractRequest>,
) -> ApiResult<Response> {
    let (op, proposal_id) = {
        let l = app.ledger().lock().await;
        create_contract_op(l.state(), req)?
    };
    let c = app.submit_own(op).await?;
    tracing::info!(%proposal_id, index = c.index, "operator contract proposal appended");
    created(&c, Some(("proposal_id", &proposal_id)))
}

/// The propose op that creates the contract `req` drafts, against the governing
/// contract's clause 5.5 as `state` has it.
pub fn create_contract_op(
    state: &govmesh_core::state::State,
    req: wire::CreateContractRequest,
) -> ApiResult<(Operation, String)> {
    let governing = state
        .governing_contract_id()
        .and_then(|id| state.contract(id))
        .ok_or_else(|| ApiError::unprocessable("genesis", "the node holds no genesis yet"))?;
    let clause = governing
        .clause(govmesh_core::model::GOVERNANCE_CLAUSE)
        .ok_or_else(|| {
            ApiError::unprocessable("unknown_clause", "the governing contract has no clause 5.5")
        })?;
    let proposal_id = uuid::Uuid::new_v4().to_string();
    let rationale = req
        .rationale
        .unwrap_or_else(|| format!("Create contract {} ({}).", req.contract_id, req.label));
    let op = Operation::Propose(ProposeOp {
        proposal_id: proposal_id.clone(),
        contract_id: governing.contract_id.clone(),
        target_contract_clause: clause.clause_id.clone(),
        base_clause_hash: clause.hash().map_err(ApiError::internal)?,
        domain_id: None,
        rationale,
        changes: Changes {
            current_text: clause.text.clone(),
            proposed_text: clause.text.clone(),
            diff: Vec::new(),
        },
        voting_period_secs: req.voting_period_secs,
        create_contract: Some(ContractDraft {
            contract_id: req.contract_id,
            label: req.label,
            domain_id: req.domain_id,
            clauses: req.clauses,
        }),
        governance_scope: None,
        local_node: None,
        conflict_resolution: None,
        expedited: false,
        restore_rights: None,
    });
    Ok((op, proposal_id))
}

/// The propose op that restores `node_id`'s rights: under the governing contract's
/// clause 5.5, changing nothing in it.
pub fn restore_op(
    state: &govmesh_core::state::State,
    node_id: &str,
    rationale: String,
    voting_period_secs: Option<u64>,
) -> ApiResult<(Operation, String)> {
    let governing = state
        .governing_contract_id()
        .and_then(|id| state.contract(id))
        .ok_or_else(|| ApiError::unprocessable("genesis", "the node holds no genesis yet"))?;
    let clause = governing
        .clause(govmesh_core::model::GOVERNANCE_CLAUSE)
        .ok_or_else(|| {
            ApiError::unprocessable("unknown_clause", "the governing contract has no clause 5.5")
        })?;
    let proposal_id = uuid::Uuid::new_v4().to_string();
    let op = Operation::Propose(ProposeOp {
        proposal_id: proposal_id.clone(),
        contract_id: governing.contract_id.clone(),
        target_contract_clause: clause.clause_id.clone(),
        base_clause_hash: clause.hash().map_err(ApiError::internal)?,
        domain_id: None,
        rationale,
        changes: Changes {
            current_text: clause.text.clone(),
            proposed_text: clause.text.clone(),
            diff: Vec::new(),
        },
        voting_period_secs,
        create_contract: None,
        governance_scope: None,
        local_node: None,
        conflict_resolution: None,
        expedited: false,
        restore_rights: Some(node_id.to_owned()),
    });
    Ok((op, proposal_id))
}

async fn operator_restore(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::RestoreRequest>,
) -> ApiResult<Response> {
    let (op, proposal_id) = {
        let l = app.ledger().lock().await;
        restore_op(
            l.state(),
            &req.node_id,
            req.rationale,
            req.voting_period_secs,
        )?
    };
    let c = app.submit_own(op).await?;
    created(&c, Some(("proposal_id", &proposal_id)))
}

async fn operator_delegate(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::DelegateRequest>,
) -> ApiResult<Response> {
    let op = Operation::Delegate(DelegateOp {
        domain_id: req.domain_id,
        delegate: req.delegate,
    });
    created(&app.submit_own(op).await?, None)
}

async fn operator_undelegate(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::UndelegateRequest>,
) -> ApiResult<Response> {
    let op = Operation::Undelegate(UndelegateOp {
        domain_id: req.domain_id,
    });
    created(&app.submit_own(op).await?, None)
}

async fn operator_cancel(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::CancelRequest>,
) -> ApiResult<Response> {
    let op = Operation::Cancel(CancelOp {
        proposal_id: req.proposal_id,
        reason: req.reason,
    });
    created(&app.submit_own(op).await?, None)
}

async fn operator_vote(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::VoteRequest>,
) -> ApiResult<Response> {
    let sequence = match req.sequence {
        Some(s) => s,
        None => {
            let l = app.ledger().lock().await;
            let me = app.info().node_id.as_str();
            l.state()
                .votes(&req.proposal_id)
                .iter()
                .find(|v| v.voter == me)
                .map_or(0, |v| v.sequence.saturating_add(1))
        }
    };
    let op = Operation::Vote(VoteOp {
        proposal_id: req.proposal_id,
        choice: req.choice,
        reason: req.reason,
        sequence,
    });
    let c = app.submit_own(op).await?;
    created(&c, None)
}

async fn operator_withdraw(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::WithdrawRequest>,
) -> ApiResult<Response> {
    let op = Operation::Withdraw(WithdrawOp {
        proposal_id: req.proposal_id,
        reason: req.reason,
    });
    let c = app.submit_own(op).await?;
    created(&c, None)
}

async fn operator_register_node(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<wire::RegisterNodeRequest>,
) -> ApiResult<Response> {
    let node_id = req
        .node_id
        .unwrap_or_else(|| req.public_key.derived_node_id());
    let op = Operation::RegisterNode(NodeSpec {
        node_id: node_id.clone(),
        node_type: req.node_type,
        public_key: req.public_key,
        network_address: req.network_address,
        display_name: req.display_name,
        node_policy_capabilities: req.node_policy_capabilities,
    });
    let c = app.submit_own(op).await?;
    created(&c, Some(("node_id", &node_id)))
}

async fn operator_define_domain(
    State(app): State<Shared>,
    _: Operator,
    ApiJson(req): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let spec = crate::bodies::domain_spec(req)?;
    let domain_id = spec.domain_id.clone();
    let c = app.submit_own(Operation::DefineDomain(spec)).await?;
    created(&c, Some(("domain_id", &domain_id)))
}
