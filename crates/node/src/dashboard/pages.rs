//! The dashboard's pages, one handler each. Every page reads the view functions the
//! JSON API serves (crate::api's `*_view`, crate::seal::latest_seal_text, the
//! council's view), never the ledger itself, and renders them with maud.

use super::layout::{
    Header, Names, diff_block, json_block, mini_tally, own_key_box, page, role_class, short,
    span_words, status_badge, status_word, tally_bars, time, token_field,
};
use super::{Dash, PageError, PageId, PageQuery, PageResult};
use crate::api;
use crate::error::ApiError;
use crate::order::now;
use crate::wire;
use axum::extract::State;
use axum::response::Html;
use base64::Engine as _;
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::cosign::witness_node_id;
use govmesh_core::model::{Proposal, ProposalStatus};
use govmesh_core::sync::{SyncRecord, SyncStatus};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

/// The header facts of every page (from `GET /v1/status`).
struct Head {
    status: Value,
}

impl Head {
    async fn of(d: &Dash) -> Head {
        Head {
            status: api::status_view(&d.shared).await,
        }
    }

    fn header(&self) -> Header<'_> {
        Header {
            mesh_name: self.status["mesh_name"].as_str().unwrap_or("mesh"),
            node_id: self.status["node_id"].as_str().unwrap_or(""),
            node_type: self.status["node_type"].as_str().unwrap_or(""),
        }
    }

    fn render(&self, title: &str, current: &str, body: Markup) -> PageResult {
        Ok(Html(
            page(&self.header(), title, current, body).into_string(),
        ))
    }
}

/// The latest seal as the overview and the sync page show it.
struct SealFacts {
    size: u64,
    root: String,
    hub: Option<String>,
    witnesses: Vec<String>,
    text: String,
}

async fn seal_facts(d: &Dash) -> Result<Option<SealFacts>, ApiError> {
    let Some(text) = crate::seal::latest_seal_text(&d.seals, d.pulled.as_ref()).await? else {
        return Ok(None);
    };
    let note = SignedNote::parse(&text).map_err(ApiError::internal)?;
    let cp = Checkpoint::parse_body(&note.body).map_err(ApiError::internal)?;
    let mut hub = None;
    let mut witnesses = Vec::new();
    for s in &note.signatures {
        match witness_node_id(&s.name) {
            Some(id) => witnesses.push(id.to_owned()),
            None if s.name == d.shared.origin() => hub = Some(hex::encode(s.key_hash)),
            None => {}
        }
    }
    Ok(Some(SealFacts {
        size: cp.size,
        root: cp.root.to_hex(),
        hub,
        witnesses,
        text,
    }))
}

fn seal_block(seal: Option<&SealFacts>, names: &Names) -> Markup {
    html! {
        @match seal {
            Some(s) => {
                dl.facts data-part="seal" {
                    dt { "Sealed size" } dd { span data-live="seal-size" { (s.size) } " entries" }
                    dt { "Root" } dd { code.hash { (s.root) } }
                    dt { "Hub signature" } dd {
                        @match &s.hub { Some(k) => { "key id " code { (k) } }, None => { "none found" } }
                    }
                    dt { "Witness cosignatures" } dd {
                        @if s.witnesses.is_empty() { "none (no witnesses: the hub's checkpoint is the seal)" }
                        @else {
                            ul.inline { @for w in &s.witnesses { li { "✓ " (names.link(w)) } } }
                        }
                    }
                }
                p { span data-verify="seal" {} }
                details { summary { "The seal as signed" } pre.note { (s.text) } }
            }
            None => { p.muted { "This node holds no seal yet." } }
        }
    }
}

/// Open proposals first (ending soonest first), then the rest, newest change first.
fn open_first(list: &mut [Proposal]) {
    list.sort_by(|a, b| {
        let open = |p: &Proposal| p.status != ProposalStatus::Voting;
        open(a)
            .cmp(&open(b))
            .then_with(|| match a.status {
                ProposalStatus::Voting => a.voting_ends.cmp(&b.voting_ends),
                _ => b.updated_at.cmp(&a.updated_at),
            })
            .then_with(|| a.proposal_id.cmp(&b.proposal_id))
    });
}

fn time_left(p: &Proposal) -> String {
    if p.status != ProposalStatus::Voting {
        return "closed".into();
    }
    let left = p.voting_ends.millis() - now().millis();
    if left <= 0 {
        "ended, closing".into()
    } else {
        format!("{} left", span_words(left))
    }
}

fn proposal_title(p: &Proposal) -> String {
    let first = p.rationale.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        format!("Change clause {}", p.target_contract_clause)
    } else {
        first.chars().take(90).collect()
    }
}

fn proposal_table(list: &[Proposal], names: &Names) -> Markup {
    html! {
        div.table-wrap {
            table.list data-part="proposals" {
                thead { tr {
                    th scope="col" { "Proposal" } th scope="col" { "Status" }
                    th scope="col" { "Target" } th scope="col" { "Tally" }
                    th scope="col" { "Voting" } th scope="col" { "Proposed by" }
                } }
                tbody {
                    @for p in list {
                        tr data-proposal=(p.proposal_id) {
                            td { a href={ "/proposals/" (p.proposal_id) } { (proposal_title(p)) } br; code.small { (short(&p.proposal_id)) } }
                            td { (status_badge(p.status)) }
                            td { (p.contract_id) " clause " (p.target_contract_clause) }
                            td { (mini_tally(&p.voting_result)) }
                            td { (time_left(p)) }
                            td { (names.link(&p.proposed_by)) }
                        }
                    }
                }
            }
        }
    }
}

// ---- Overview

pub(super) async fn overview(State(d): State<Dash>) -> PageResult {
    let head = Head::of(&d).await;
    let st = &head.status;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let all = api::proposals_view(&d.shared, &wire::ProposalsQuery { status: None }).await?;
    let mut open: Vec<Proposal> = all
        .iter()
        .filter(|p| p.status == ProposalStatus::Voting)
        .cloned()
        .collect();
    open_first(&mut open);
    let mut adopted: Vec<&Proposal> = all
        .iter()
        .filter(|p| p.status == ProposalStatus::Adopted)
        .collect();
    adopted.sort_by_key(|p| std::cmp::Reverse(p.updated_at));
    adopted.truncate(5);
    let council = d.council.as_ref().map(|c| c.view());
    let seal = seal_facts(&d).await?;
    let topo = api::topology_record_view(&d.shared, d.gossip.as_deref()).await?;
    let troubled: Vec<&Value> = topo["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["liveness"] != "reachable")
        .collect();
    let records = api::sync_records_view(&d.shared).await?;
    let lagging = drift_alerts(&records);
    let me = st["node_id"].as_str().unwrap_or("");
    head.render(
        "Overview",
        "/",
        html! {
            div.cards {
                section.card aria-labelledby="h-mesh" {
                    h2 #h-mesh { "Mesh" }
                    dl.facts {
                        dt { "Name" } dd { (st["mesh_name"].as_str().unwrap_or("")) }
                        dt { "Mesh id" } dd { code.hash { (st["mesh_id"].as_str().unwrap_or("")) } }
                        dt { "This node" } dd { (names.link(me)) " " span.role.(role_class(st["node_type"].as_str().unwrap_or(""))) { (st["node_type"].as_str().unwrap_or("")) } }
                        dt { "Log size" } dd { span data-live="log-size" { (st["log_size"]) } " entries · " a href="/log" { "explore" } }
                        dt { "Root" } dd { code.hash data-live="root" { (st["root"].as_str().unwrap_or("")) } }
                    }
                }
                section.card aria-labelledby="h-council" {
                    h2 #h-council { "Council" }
                    @match &council {
                        Some(c) => {
                            dl.facts {
                                dt { "Leader" } dd {
                                    @match c["leader"]["node_id"].as_str() {
                                        Some(l) => (names.link(l)),
                                        None => "none elected",
                                    }
                                }
                                dt { "Term" } dd { (c["term"]) }
                                dt { "This hub" } dd { (c["state"].as_str().unwrap_or("")) }
                                dt { "Members" } dd { (c["members"].as_array().map_or(0, Vec::len)) }
                            }
                        }
                        None => { p.muted { "This node is not a council member (only governance hubs are); it replicates the log the council orders." } }
                    }
                }
                section.card aria-labelledby="h-seal" {
                    h2 #h-seal { "Latest seal" }
                    (seal_block(seal.as_ref(), &names))
                }
            }
            section aria-labelledby="h-open" {
                h2 #h-open { "Open proposals needing a vote " span.count data-live="open-count" { (open.len()) } }
                @if open.is_empty() { p.muted { "No proposal is open for voting. " a href="/proposals#create" { "Create a proposal" } } }
                @else { (proposal_table(&open, &names)) }
            }
            div.cards {
                section.card aria-labelledby="h-adopted" {
                    h2 #h-adopted { "Recent adoptions" }
                    @if adopted.is_empty() { p.muted { "Nothing adopted yet." } }
                    ul.plain {
                        @for p in &adopted {
                            li {
                                a href={ "/proposals/" (p.proposal_id) } { (proposal_title(p)) }
                                " → "
                                @if let Some(r) = p.adopted_revision {
                                    a href={ "/contracts/" (p.contract_id) "?rev=" (r) } { (p.contract_id) " revision " (r) }
                                }
                                " · " (time(p.updated_at))
                            }
                        }
                    }
                }
                section.card aria-labelledby="h-trouble" data-part="trouble" {
                    h2 #h-trouble { "Nodes down or lagging" }
                    @if troubled.is_empty() && lagging.is_empty() { p.ok { "Every node is reachable and holds the adopted revisions." } }
                    ul.plain {
                        @for n in &troubled {
                            @let id = n["node_id"].as_str().unwrap_or("");
                            li { span.live.(n["liveness"].as_str().unwrap_or("unknown")) { (n["liveness"].as_str().unwrap_or("unknown")) } " " (names.link(id)) " (" (n["node_type"].as_str().unwrap_or("")) ")" }
                        }
                        @for a in &lagging {
                            li { span.live.unreachable { "lagging" } " " (names.link(&a.node)) " has not acknowledged " (a.contract) " revision " (a.revision) " · " a href="/sync" { "sync" } }
                        }
                    }
                }
            }
        },
    )
}

// ---- Topology and nodes

pub(super) async fn topology(State(d): State<Dash>) -> PageResult {
    let head = Head::of(&d).await;
    let topo = api::topology_record_view(&d.shared, d.gossip.as_deref()).await?;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let graph = super::topology::Graph::of(&topo, &names);
    let health = &topo["health_status"];
    let suspended: std::collections::HashMap<&str, &govmesh_core::model::Suspension> = nodes
        .iter()
        .filter_map(|n| n.suspension.as_ref().map(|s| (n.node_id.as_str(), s)))
        .collect();
    head.render(
        "Mesh topology",
        "/topology",
        html! {
            p.lead data-part="health" {
                "Overall " strong.health.(health["overall_status"].as_str().unwrap_or("")) { (health["overall_status"].as_str().unwrap_or("unknown")) }
                " · " (health["node_counts"]["healthy"]) " healthy, " (health["node_counts"]["degraded"]) " degraded, "
                (health["node_counts"]["offline"]) " offline · " (graph.node_count()) " nodes, " (graph.edge_count()) " connections drawn"
            }
            @let summary = &topo["connections_summary"];
            @if summary["complete"] == false {
                p.small data-part="connections-summary" {
                    "Gossip observes " (summary["observed"]) " connections; the record carries " (summary["observed_in_record"])
                    " of them (each node's fastest first) and all " (summary["declared"]) " declared ones. Every connection: "
                    a href="/v1/topology/connections" { code { "GET /v1/topology/connections" } } "."
                }
            }
            (graph.svg())
            (super::topology::legend())
            h2 { "Nodes" }
            div.table-wrap data-part="nodes" {
                table.list {
                    thead { tr { th scope="col" { "Node" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Liveness" } th scope="col" { "Latency" } th scope="col" { "Address" } } }
                    tbody {
                        @for n in topo["nodes"].as_array().into_iter().flatten() {
                            @let id = n["node_id"].as_str().unwrap_or("");
                            @let ty = n["node_type"].as_str().unwrap_or("");
                            tr {
                                td { (names.link(id)) br; code.small { (short(id)) } }
                                td { span.role.(role_class(ty)) { (ty) } }
                                td {
                                    (n["status"].as_str().unwrap_or(""))
                                    @if let Some(sus) = suspended.get(id) {
                                        " " span.badge.suspended title=(sus.reason) { "rights suspended" }
                                        " " span.small { "evidence " a href={ "/log?start=" (sus.evidence_index) "#entry-" (sus.evidence_index) } { "#" (sus.evidence_index) } }
                                    }
                                }
                                td { span.live.(n["liveness"].as_str().unwrap_or("unknown")) { (n["liveness"].as_str().unwrap_or("unknown")) } }
                                td { @match n["latency_ms"].as_f64() { Some(ms) => { (format!("{ms:.1} ms")) }, None => { "—" } } }
                                td { code.small { (n["network_address"].as_str().unwrap_or("—")) } }
                            }
                        }
                    }
                }
            }
            h2 { "Domains" }
            @if topo["domains"].as_array().is_none_or(Vec::is_empty) { p.muted { "No domains are defined." } }
            ul.plain {
                @for dm in topo["domains"].as_array().into_iter().flatten() {
                    li {
                        a href={ "/domains/" (dm["domain_id"].as_str().unwrap_or("")) } { (dm["name"].as_str().unwrap_or("")) }
                        " · " (dm["member_nodes"].as_array().map_or(0, Vec::len)) " members"
                    }
                }
            }
            p.small { "Data: " a href="/v1/topology" { code { "GET /v1/topology" } } " (the seed topology record)." }
        },
    )
}

pub(super) async fn node(State(d): State<Dash>, id: PageId) -> PageResult {
    let head = Head::of(&d).await;
    let n = api::node_view(&d.shared, &id).await?;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let topo = api::topology_record_view(&d.shared, d.gossip.as_deref()).await?;
    let live = topo["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["node_id"] == n.node_id.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    // From the whole list, not the record's bounded sample of observed links.
    let all_conns = api::connections_view(&d.shared, d.gossip.as_deref()).await;
    let conns: Vec<&Value> = all_conns
        .iter()
        .filter(|c| c["source_node_id"] == n.node_id.as_str())
        .collect();
    let records = api::sync_records_view(&d.shared).await?;
    let contracts = api::contracts_view(&d.shared).await;
    let is_me = head.status["node_id"] == n.node_id.as_str();
    let trust = crate::trust::node_view(&d.shared, &n.node_id).await.ok();
    // The open proposals that would restore a suspended node's rights.
    let restores: Vec<Proposal> = match &n.suspension {
        Some(_) => api::proposals_view(
            &d.shared,
            &wire::ProposalsQuery {
                status: Some(ProposalStatus::Voting),
            },
        )
        .await?
        .into_iter()
        .filter(|p| p.restore_rights.as_deref() == Some(n.node_id.as_str()))
        .collect(),
        None => Vec::new(),
    };
    let ty = n.node_type.as_str();
    let title = names.name(&n.node_id).to_owned();
    head.render(
        &format!("Node {title}"),
        "/topology",
        html! {
            dl.facts {
                dt { "Node id" } dd { code { (n.node_id) } }
                dt { "Role" } dd { span.role.(role_class(ty)) { (ty) } }
                dt { "Status" } dd { (serde_json::to_value(n.status).unwrap_or_default().as_str().unwrap_or("")) " (registry)" }
                @if let Some(sus) = &n.suspension {
                    dt { "Rights" } dd #suspension data-part="suspension" {
                        span.badge.suspended { "suspended" } " since " (time(sus.since)) ": may not vote, propose or delegate until a proposal restores its rights (clause 5.5 " code { "suspend_on_equivocation" } ")."
                        br;
                        span.small { (sus.reason) }
                        br;
                        "Evidence: entry " a.evidence href={ "/log?start=" (sus.evidence_index) "#entry-" (sus.evidence_index) } { "#" (sus.evidence_index) }
                        br;
                        @if restores.is_empty() {
                            "No restore proposal is open (" code { "govmesh restore " (short(&n.node_id)) "…" } " proposes one)."
                        } @else {
                            @for p in &restores {
                                "Restore proposal: " a.restore href={ "/proposals/" (p.proposal_id) } { (short(&p.proposal_id)) } " (voting, " (time_left(p)) ") "
                                (mini_tally(&p.voting_result))
                            }
                        }
                    }
                }
                dt { "Liveness" } dd { span.live.(live["liveness"].as_str().unwrap_or("unknown")) { (live["liveness"].as_str().unwrap_or("unknown")) } " (gossip, as this node sees it)" }
                dt { "Public key" } dd { code.hash { (n.public_key.to_base64()) } }
                dt { "Address" } dd { code { (n.network_address.as_deref().unwrap_or("—")) } }
                dt { "Privileges" } dd {
                    @if n.privileges.is_empty() { "none" }
                    ul.inline { @for p in &n.privileges { li { code { (serde_json::to_value(p).unwrap_or_default().as_str().unwrap_or("")) } } } }
                }
                dt { "Registered" } dd { (time(n.registered_at)) " by " (names.link(&n.registered_by)) }
                dt { "Last entry" } dd { @match n.last_seen { Some(t) => (time(t)), None => "none yet" } }
                dt { "Log size" } dd {
                    @if is_me { (head.status["log_size"]) " entries (this node)" }
                    @else { "not reported to this node's API; " a href="/sync" { "acknowledged revisions" } " say what it holds" }
                }
                dt { "Trust score" } dd {
                    @match trust.as_ref().and_then(|t| t.line.score.zip(t.line.rank).map(|s| (s, t.of))) {
                        Some(((x, r), of)) => { a href={ "/trust#trust-" (n.node_id) } { (format!("{x:.6}")) } " (rank " (r) " of " (of) ")" },
                        None => { a href="/trust" { "none computed yet" } },
                    }
                }
            }
            h2 { "Contract heads" }
            p.small { "The newest revision of each contract this node acknowledged in the log (" code { "ack_sync" } "), against the adopted head." }
            div.table-wrap {
                table.list {
                    thead { tr { th scope="col" { "Contract" } th scope="col" { "Adopted head" } th scope="col" { "Acknowledged by this node" } } }
                    tbody {
                        @for c in &contracts {
                            @let acked = records.iter().filter(|r| r.contract_id == c.contract_id && (r.successful_nodes.contains(&n.node_id) || r.source_node_id == n.node_id)).map(|r| r.revision).max();
                            tr {
                                td { a href={ "/contracts/" (c.contract_id) } { (c.contract_id) } }
                                td { "revision " (c.revision) }
                                td {
                                    @match acked {
                                        Some(r) if r == c.revision => { span.ok { "revision " (r) " ✓" } }
                                        Some(r) => { span.warn { "revision " (r) " (behind)" } }
                                        None => { span.muted { "none" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Connections" }
            @if conns.is_empty() { p.muted { "No measured connections from this node." } }
            ul.plain {
                @for c in &conns {
                    li { "→ " (names.link(c["target_node_id"].as_str().unwrap_or(""))) " "
                        @match c["latency_ms"].as_f64() { Some(ms) => { (format!("{ms:.1} ms")) }, None => {} } }
                }
            }
            p.small { "Data: " a href={ "/v1/nodes/" (n.node_id) } { code { "GET /v1/nodes/" (short(&n.node_id)) "…" } } }
        },
    )
}

// ---- Proposals

/// The proposal list's filters (query string).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProposalFilter {
    #[serde(default, deserialize_with = "empty_none")]
    status: Option<ProposalStatus>,
    #[serde(default, deserialize_with = "empty_none")]
    contract: Option<String>,
    #[serde(default, deserialize_with = "empty_none")]
    clause: Option<String>,
    #[serde(default, deserialize_with = "empty_none")]
    domain: Option<String>,
}

/// An empty form field is no filter.
fn empty_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    // Numbers come as text: read them as JSON first, then as a string (ids, enums).
    serde_json::from_str(&s)
        .or_else(|_| serde_json::from_value(Value::String(s.clone())))
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
}

pub(super) async fn proposals(
    State(d): State<Dash>,
    PageQuery(f): PageQuery<ProposalFilter>,
) -> PageResult {
    let head = Head::of(&d).await;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let mut list: Vec<Proposal> =
        api::proposals_view(&d.shared, &wire::ProposalsQuery { status: f.status })
            .await?
            .into_iter()
            .filter(|p| f.contract.as_ref().is_none_or(|c| &p.contract_id == c))
            .filter(|p| {
                f.clause
                    .as_ref()
                    .is_none_or(|c| &p.target_contract_clause == c)
            })
            .filter(|p| f.domain.as_ref().is_none_or(|c| &p.domain_id == c))
            .collect();
    open_first(&mut list);
    let contracts = api::contracts_view(&d.shared).await;
    let domains = api::domains_view(&d.shared).await;
    let clauses: Vec<(String, String, String)> = contracts
        .iter()
        .flat_map(|c| {
            c.clauses.iter().map(|cl| {
                (
                    c.contract_id.clone(),
                    cl.clause_id.clone(),
                    cl.title.clone(),
                )
            })
        })
        .collect();
    let sel = |a: Option<&String>, b: &str| a.is_some_and(|a| a == b);
    head.render(
        "Proposals",
        "/proposals",
        html! {
            form.filters method="get" action="/proposals" aria-label="Filter proposals" {
                div.field {
                    label for="f-status" { "Status" }
                    select #f-status name="status" {
                        option value="" { "any" }
                        @for s in [ProposalStatus::Voting, ProposalStatus::Adopted, ProposalStatus::Rejected, ProposalStatus::Withdrawn] {
                            option value=(status_word(s)) selected[f.status == Some(s)] { (status_word(s)) }
                        }
                    }
                }
                div.field {
                    label for="f-contract" { "Contract" }
                    select #f-contract name="contract" {
                        option value="" { "any" }
                        @for c in &contracts { option value=(c.contract_id) selected[sel(f.contract.as_ref(), &c.contract_id)] { (c.contract_id) } }
                    }
                }
                div.field {
                    label for="f-clause" { "Clause" }
                    select #f-clause name="clause" {
                        option value="" { "any" }
                        @for (_, id, title) in &clauses { option value=(id) selected[sel(f.clause.as_ref(), id)] { (id) " " (title) } }
                    }
                }
                div.field {
                    label for="f-domain" { "Domain" }
                    select #f-domain name="domain" {
                        option value="" { "any" }
                        @for dm in &domains { option value=(dm.domain_id) selected[sel(f.domain.as_ref(), &dm.domain_id)] { (dm.name) } }
                    }
                }
                div.field.actions { button type="submit" { "Filter" } " " a href="/proposals" { "clear" } }
            }
            p.small { (list.len()) @if list.len() == 1 { " proposal" } @else { " proposals" } ", open ones first." }
            @if list.is_empty() { p.muted { "No proposal matches." } } @else { (proposal_table(&list, &names)) }
            section #create aria-labelledby="h-create" {
                h2 #h-create { "Create a proposal" }
                p.small { "Signed by this node's key with its operator token and submitted through its council, as " code { "govmesh propose" } " does; or signed in this browser with your own key (below)." }
                form.action method="post" action="/actions/propose" data-api="/v1/operator/propose" data-action="propose" data-sign="propose" {
                    div.field {
                        label for="p-clause" { "Clause" }
                        select #p-clause name="target" required {
                            @for (contract, id, title) in &clauses { option value={ (contract) ":" (id) } selected[sel(f.clause.as_ref(), id)] { (contract) " · " (id) " " (title) } }
                        }
                    }
                    div.field {
                        label for="p-domain" { "Domain" }
                        select #p-domain name="domain_id" {
                            option value="" { "the contract's default" }
                            @for dm in &domains { option value=(dm.domain_id) selected[sel(f.domain.as_ref(), &dm.domain_id)] { (dm.name) } }
                        }
                    }
                    div.field {
                        label for="p-text" { "Proposed text" }
                        textarea #p-text name="proposed_text" rows="5" required {}
                    }
                    div.field {
                        label for="p-rationale" { "Rationale" }
                        textarea #p-rationale name="rationale" rows="3" required {}
                    }
                    div.field {
                        label for="p-diff" { "Rules patch (optional)" }
                        textarea #p-diff name="diff" rows="3" spellcheck="false" placeholder=r#"[{"op": "replace", "path": "/sync_deadline_secs", "value": 600}]"# {}
                        small { "A JSON array of patch operations on the clause's rules (paths inside its rules object): RFC 6902 (" code { "op" } ", " code { "path" } ", " code { "value" } ") or the seed's form (" code { "operation" } "), as " code { "govmesh propose --rules-patch" } " takes it. The node checks it." }
                    }
                    div.field {
                        label for="p-period" { "Voting period (seconds, empty for the policy's)" }
                        input #p-period type="number" name="voting_period_secs" min="1" inputmode="numeric";
                    }
                    (token_field("p-token"))
                    p.signer.small {}
                    div.field.actions { button type="submit" { "Propose" } }
                    output.result role="status" aria-live="polite" {}
                }
                (own_key_box())
            }
        },
    )
}

pub(super) async fn proposal(State(d): State<Dash>, id: PageId) -> PageResult {
    let head = Head::of(&d).await;
    let v = api::proposal_view(&d.shared, &id).await?;
    let p = &v.proposal;
    let propose_index = api::propose_entry_index(&d.shared, p).await?;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let text_diff = govmesh_core::diff::text_diff(
        &p.target_contract_clause,
        &p.changes.current_text,
        &p.changes.proposed_text,
    );
    let voting = p.status == ProposalStatus::Voting;
    head.render(
        &proposal_title(p),
        "/proposals",
        html! {
            div #proposal data-proposal=(p.proposal_id) data-status=(status_word(p.status)) {
                p.lead {
                    span data-part="status" { (status_badge(p.status)) } " "
                    span data-part="time-left" { (time_left(p)) }
                    " · " span data-verify="proposal" {}
                }
                dl.facts {
                    dt { "Proposal" } dd { code { (p.proposal_id) } }
                    dt { "Target" } dd { a href={ "/contracts/" (p.contract_id) "?rev=" (p.base_revision) } { (p.contract_id) } " clause " (p.target_contract_clause) " (written against revision " (p.base_revision) ")" }
                    dt { "Proposed by" } dd {
                        (names.link(&p.proposed_by)) " at " (time(p.created_at))
                        @if let Some(i) = propose_index {
                            " · entry " a href={ "/log?start=" (i) "#entry-" (i) } { "#" (i) } " "
                            span data-verify-entry=(i) data-shown-author=(p.proposed_by) data-shown-type="propose" {}
                        }
                    }
                    dt { "Domain" } dd { a href={ "/domains/" (p.domain_id) } { code { (short(&p.domain_id)) } } }
                    dt { "Voting" } dd { (time(p.voting_starts)) " to " (time(p.voting_ends))
                        @if let Some(before) = p.voting_ends_before_extension {
                            " (extended from " (time(before)) ": quorum was reached late)"
                        }
                    }
                    @if p.expedited {
                        dt { "Track" } dd data-part="track" {
                            @match p.expedited_fallback_at {
                                Some(t) => { "normal (fell back from expedited at " (time(t)) ")" }
                                None => { "expedited" }
                            }
                        }
                    }
                    @if let Some(t) = p.timelock_ends {
                        dt { "Takes effect" } dd data-part="timelock" {
                            @if let Some(e) = p.enacted_at { "took effect at " (time(e)) }
                            @else if let Some(g) = &p.cancelled_by { "cancelled during its timelock by " (names.link(g)) }
                            @else { "at " (time(t)) ", unless a guardian cancels it before" }
                        }
                    }
                    @if let Some(node) = &p.restore_rights {
                        dt { "Restores" } dd { "the rights of " (names.link(node)) }
                    }
                    @if let Some(d) = p.voting_result.delegated {
                        dt { "Delegated" } dd data-part="delegated" { (d.total()) " of the weight cast was cast by delegates for " (v.delegations.len()) " delegation(s)" }
                    }
                    dt { "Result" } dd data-part="reason" { (p.voting_result.reason) }
                    @if let Some(r) = p.adopted_revision {
                        dt { "Adopted as" } dd { a href={ "/contracts/" (p.contract_id) "?rev=" (r) } { "revision " (r) } }
                    }
                }
                h2 { "Tally" }
                (tally_bars(&p.voting_result, v.voting_policy.as_ref()))
                div data-part="forms" { @if voting {
                    div.cards {
                        section.card aria-labelledby="h-vote" {
                            h2 #h-vote { "Vote" }
                            form.action method="post" action="/actions/vote" data-api="/v1/operator/vote" data-action="vote" data-sign="vote" {
                                input type="hidden" name="proposal_id" value=(p.proposal_id);
                                fieldset {
                                    legend { "Choice" }
                                    @for c in ["approve", "reject", "abstain", "veto"] {
                                        label.choice { input type="radio" name="choice" value=(c) required; " " (c) }
                                    }
                                }
                                div.field { label for="v-reason" { "Reason (optional)" } input #v-reason type="text" name="reason"; }
                                (token_field("v-token"))
                                p.signer.small {}
                                div.field.actions { button type="submit" { "Cast vote" } }
                                output.result role="status" aria-live="polite" {}
                            }
                        }
                        section.card aria-labelledby="h-withdraw" {
                            h2 #h-withdraw { "Withdraw" }
                            p.small { "Only the proposer can withdraw, while voting is open." }
                            form.action method="post" action="/actions/withdraw" data-api="/v1/operator/withdraw" data-action="withdraw" data-sign="withdraw" {
                                input type="hidden" name="proposal_id" value=(p.proposal_id);
                                div.field { label for="w-reason" { "Reason (optional)" } input #w-reason type="text" name="reason"; }
                                (token_field("w-token"))
                                p.signer.small {}
                                div.field.actions { button.danger type="submit" { "Withdraw proposal" } }
                                output.result role="status" aria-live="polite" {}
                            }
                        }
                    }
                } }
                @if voting { (own_key_box()) }
                h2 { "Votes " span.count data-part="vote-count" { (v.votes.len()) } }
                div data-part="votes" { @if v.votes.is_empty() { p.muted { "No votes yet." } }
                @else {
                    div.table-wrap {
                        table.list {
                            thead { tr { th scope="col" { "Voter" } th scope="col" { "Choice" } th scope="col" { "Weight" } th scope="col" { "Time" } th scope="col" { "Reason" } th scope="col" { "Entry" } } }
                            tbody {
                                @for vote in &v.votes {
                                    @let choice = serde_json::to_value(vote.choice).unwrap_or_default();
                                    tr {
                                        td { (names.link(&vote.voter)) }
                                        td { span.choice.(choice.as_str().unwrap_or("")) { (choice.as_str().unwrap_or("")) } }
                                        td.num { (vote.weight) }
                                        td { (time(vote.timestamp)) }
                                        td { (vote.reason.as_deref().unwrap_or("")) }
                                        td { a href={ "/log?start=" (vote.index) "#entry-" (vote.index) } { "#" (vote.index) } " " span data-verify-entry=(vote.index) data-shown-author=(vote.voter) data-shown-type="vote" {} }
                                    }
                                }
                            }
                        }
                    }
                } }
                @if !v.equivocations.is_empty() {
                    h2 { "Equivocations" }
                    p.small { "A second, different vote by the same key: kept as evidence, not counted." }
                    (json_block(&serde_json::to_value(&v.equivocations).unwrap_or_default()))
                }
                h2 { "Clause text" }
                @if text_diff.is_empty() { p.muted { "The text is unchanged." } } @else { (diff_block(&text_diff)) }
                h2 { "Rules" }
                @if p.changes.diff.is_empty() { p.muted { "The rules are unchanged." } }
                @else {
                    div.table-wrap {
                        table.list {
                            thead { tr { th scope="col" { "Operation" } th scope="col" { "Path" } th scope="col" { "Value" } } }
                            tbody {
                                @for op in &p.changes.diff {
                                    tr {
                                        td { (serde_json::to_value(op.operation).unwrap_or_default().as_str().unwrap_or("")) }
                                        td { code { (op.path) } }
                                        td { code { (op.value) } }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Rationale" }
                p.rationale { (p.rationale) }
                p.small { "Data: " a href={ "/v1/proposals/" (p.proposal_id) } { code { "GET /v1/proposals/" (short(&p.proposal_id)) "…" } } }
            }
        },
    )
}

// ---- Contracts

pub(super) async fn contracts(State(d): State<Dash>) -> PageResult {
    let head = Head::of(&d).await;
    let list = api::contracts_view(&d.shared).await;
    head.render(
        "Contracts",
        "/contracts",
        html! {
            div.table-wrap {
                table.list {
                    thead { tr { th scope="col" { "Contract" } th scope="col" { "Label" } th scope="col" { "Revision" } th scope="col" { "Clauses" } th scope="col" { "Adopted" } th scope="col" { "Hash" } } }
                    tbody {
                        @for c in &list {
                            tr {
                                td { a href={ "/contracts/" (c.contract_id) } { (c.contract_id) } }
                                td { (c.label) }
                                td.num { (c.revision) }
                                td.num { (c.clauses.len()) }
                                td { (time(c.adopted_at)) }
                                td { code.small { (short(&c.contract_hash.to_hex())) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContractQuery {
    #[serde(default, deserialize_with = "empty_none")]
    rev: Option<u64>,
    #[serde(default, deserialize_with = "empty_none")]
    from: Option<u64>,
    #[serde(default, deserialize_with = "empty_none")]
    to: Option<u64>,
    /// The node whose effective contract (with its local overrides) is shown.
    #[serde(default, deserialize_with = "empty_none")]
    node: Option<String>,
}

pub(super) async fn contract(
    State(d): State<Dash>,
    id: PageId,
    PageQuery(q): PageQuery<ContractQuery>,
) -> PageResult {
    let head = Head::of(&d).await;
    let chain = api::revisions_view(&d.shared, &id).await?;
    let c = api::revision_view(&d.shared, &id, q.rev).await?;
    let latest = chain.last().map_or(1, |r| r.revision);
    let diff = if latest > 1 || q.from.is_some() {
        Some(
            api::diff_view(
                &d.shared,
                &id,
                &wire::DiffQuery {
                    from: q.from,
                    to: q.to,
                },
            )
            .await?,
        )
    } else {
        None
    };
    let intact = chain
        .windows(2)
        .all(|w| w[1].parent_hash == Some(w[0].contract_hash));
    let nodes = api::nodes_view(&d.shared).await;
    let effective = match &q.node {
        Some(n) => Some(api::effective_view(&d.shared, &id, n).await?),
        None => None,
    };
    head.render(
        &format!("Contract {}", c.contract_id),
        "/contracts",
        html! {
            p.lead { (c.label) " · revision " (c.revision) " of " (latest) }
            h2 { "Revisions and hash chain" }
            p { @if intact { span.ok { "✓ each revision names its parent's hash" } } @else { span.bad { "✗ the chain is broken" } } }
            div.table-wrap {
                table.list {
                    thead { tr { th scope="col" { "Revision" } th scope="col" { "Hash" } th scope="col" { "Parent" } th scope="col" { "Adopted by" } th scope="col" { "Adopted" } } }
                    tbody {
                        @for r in &chain {
                            tr aria-current=[(r.revision == c.revision).then_some("true")] {
                                td { a href={ "/contracts/" (c.contract_id) "?rev=" (r.revision) } { "revision " (r.revision) } }
                                td { code.small { (short(&r.contract_hash.to_hex())) } }
                                td { @match &r.parent_hash { Some(h) => { code.small { (short(&h.to_hex())) } }, None => { "—" } } }
                                td { @match &r.adopted_by_proposal { Some(p) => { a href={ "/proposals/" (p) } { code { (short(p)) } } }, None => { "genesis" } } }
                                td { (time(r.adopted_at)) }
                            }
                        }
                    }
                }
            }
            @if let Some(df) = &diff {
                h2 #diff { "Difference" }
                form.filters method="get" action={ "/contracts/" (c.contract_id) "#diff" } aria-label="Choose revisions to compare" {
                    input type="hidden" name="rev" value=(c.revision);
                    div.field { label for="d-from" { "From revision" }
                        select #d-from name="from" { @for r in &chain { option value=(r.revision) selected[r.revision == df.from_revision] { (r.revision) } } } }
                    div.field { label for="d-to" { "To revision" }
                        select #d-to name="to" { @for r in &chain { option value=(r.revision) selected[r.revision == df.to_revision] { (r.revision) } } } }
                    div.field.actions { button type="submit" { "Compare" } }
                }
                @if df.is_empty() { p.muted { "Revisions " (df.from_revision) " and " (df.to_revision) " are the same." } }
                @for cd in &df.clauses {
                    h3 { "Clause " (cd.clause_id) " " span.small { (serde_json::to_value(cd.change).unwrap_or_default().as_str().unwrap_or("")) } }
                    @if !cd.text_diff.is_empty() { (diff_block(&cd.text_diff)) }
                    @if !cd.rule_changes.is_empty() {
                        ul.plain {
                            @for rc in &cd.rule_changes {
                                li { code { (if rc.path.is_empty() { "(all rules)" } else { &rc.path }) } ": "
                                    @if let Some(o) = &rc.old { del { code { (o) } } " " }
                                    @if let Some(n) = &rc.new { ins { code { (n) } } } }
                            }
                        }
                    }
                }
            }
            h2 #effective { "Effective contract for a node" }
            form.filters method="get" action={ "/contracts/" (c.contract_id) "#effective" } aria-label="Choose a node" {
                div.field { label for="e-node" { "Node" }
                    select #e-node name="node" {
                        option value="" { "— the federated contract —" }
                        @for n in &nodes {
                            option value=(n.node_id) selected[q.node.as_deref() == Some(n.node_id.as_str())] {
                                (n.display_name.clone().unwrap_or_else(|| short(&n.node_id).to_owned())) " (" (n.node_type.as_str()) ")"
                            }
                        }
                    } }
                div.field.actions { button type="submit" { "Show" } }
            }
            @if let Some(e) = &effective {
                p { "For node " a href={ "/nodes/" (e["effective_for"].as_str().unwrap_or("")) } { code { (short(e["effective_for"].as_str().unwrap_or(""))) } }
                    ": " (e["overridden"].as_u64().unwrap_or(0)) " clause(s) of revision " (e["revision"].as_u64().unwrap_or(0)) " overridden locally." }
                @for cl in e["clauses"].as_array().into_iter().flatten() {
                    @if let Some(o) = cl.get("override") {
                        section.clause.overridden #{ "effective-" (cl["clause_id"].as_str().unwrap_or("")) } {
                            h3 { (cl["clause_id"].as_str().unwrap_or("")) " " (cl["title"].as_str().unwrap_or("")) " "
                                span.badge.overridden { "overridden (" (o["scope"].as_str().unwrap_or("")) ")" } }
                            p.clause-text { (cl["text"].as_str().unwrap_or("")) }
                            details { summary { "Rules" } (json_block(&cl["rules"])) }
                            p.small { "By proposal " a href={ "/proposals/" (o["proposal_id"].as_str().unwrap_or("")) } { code { (short(o["proposal_id"].as_str().unwrap_or(""))) } }
                                ", written against revision " (o["base_revision"].as_u64().unwrap_or(0)) "." }
                            @if let Some(conflict) = o.get("conflict").filter(|c| !c.is_null()) {
                                p.alert role="alert" { "In conflict with revision " (conflict["revision"].as_u64().unwrap_or(0))
                                    " (adopted by proposal " a href={ "/proposals/" (conflict["proposal_id"].as_str().unwrap_or("")) } { code { (short(conflict["proposal_id"].as_str().unwrap_or(""))) } }
                                    "): conflict " code { (conflict["conflict_id"].as_str().unwrap_or("")) } ", waiting for a proposal that resolves it." }
                            }
                        }
                    }
                }
                p.small { "Data: " a href={ "/v1/contracts/" (c.contract_id) "?node=" (e["effective_for"].as_str().unwrap_or("")) } { code { "GET /v1/contracts/" (c.contract_id) "?node=…" } } }
            }
            h2 { "Clauses of revision " (c.revision) }
            @for cl in &c.clauses {
                section.clause #{ "clause-" (cl.clause_id) } {
                    h3 { (cl.clause_id) " " (cl.title) }
                    p.clause-text { (cl.text) }
                    details { summary { "Rules" } (json_block(&cl.rules)) }
                    p.small { a href={ "/proposals?contract=" (c.contract_id) "&clause=" (cl.clause_id) } { "proposals on this clause" } }
                }
            }
            p.small { "Data: " a href={ "/v1/contracts/" (c.contract_id) "/revisions/" (c.revision) } { code { "GET /v1/contracts/" (c.contract_id) "/revisions/" (c.revision) } } }
        },
    )
}

// ---- Sync

/// A node that did not acknowledge an adopted head by the deadline.
pub(super) struct Drift {
    pub node: String,
    pub contract: String,
    pub revision: u64,
    pub since: govmesh_core::Timestamp,
    pub sync_id: String,
}

/// The drift alerts: for each contract's newest revision, the nodes the sync record
/// names as failed (past the clause 5.4 deadline without an acknowledgement).
fn drift_alerts(records: &[SyncRecord]) -> Vec<Drift> {
    let mut newest: std::collections::BTreeMap<&str, &SyncRecord> = Default::default();
    for r in records {
        let e = newest.entry(r.contract_id.as_str()).or_insert(r);
        if r.revision > e.revision {
            *e = r;
        }
    }
    newest
        .values()
        .flat_map(|r| {
            r.failed_nodes.iter().map(|n| Drift {
                node: n.clone(),
                contract: r.contract_id.clone(),
                revision: r.revision,
                since: r.deadline,
                sync_id: r.sync_id.clone(),
            })
        })
        .collect()
}

fn sync_word(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::Created => "created",
        SyncStatus::InProgress => "in_progress",
        SyncStatus::Completed => "completed",
        SyncStatus::Partial => "partial",
        SyncStatus::Failed => "failed",
    }
}

pub(super) async fn sync(State(d): State<Dash>) -> PageResult {
    let head = Head::of(&d).await;
    let records = api::sync_records_view(&d.shared).await?;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let seal = seal_facts(&d).await?;
    let alerts = drift_alerts(&records);
    let at = now();
    head.render(
        "Contract sync",
        "/sync",
        html! {
            section aria-labelledby="h-drift" {
                h2 #h-drift { "Drift alerts" }
                @if alerts.is_empty() { p.ok { "No drift: every node that had to acknowledge the adopted revisions did so by the deadline, or the deadline has not passed." } }
                @for a in &alerts {
                    div.alert role="alert" {
                        strong { "Schema/contract drift: " } (names.link(&a.node)) " does not hold " (a.contract) " revision " (a.revision)
                        " since " (time(a.since)) " (" (span_words(at.millis() - a.since.millis())) ") · sync record " code { (short(&a.sync_id)) }
                    }
                }
            }
            section aria-labelledby="h-seal" {
                h2 #h-seal { "Seal and witness cosignatures" }
                (seal_block(seal.as_ref(), &names))
            }
            h2 { "Revisions" }
            @for r in records.iter().rev() {
                @let pending: Vec<&String> = r.target_node_ids.iter().filter(|n| !r.successful_nodes.contains(n) && !r.failed_nodes.contains(n)).collect();
                section.card.sync {
                    h3 { a href={ "/contracts/" (r.contract_id) "?rev=" (r.revision) } { (r.contract_id) " revision " (r.revision) } " " span.badge.(sync_word(r.status)) { (sync_word(r.status)) } }
                    p.small { "Made " (time(r.timestamp)) " by " (names.link(&r.source_node_id)) " · deadline " (time(r.deadline))
                        @if let Some(t) = r.completion_time { " · completed " (time(t)) } }
                    dl.facts {
                        dt { "Hold it (" (r.successful_nodes.len() + 1) ")" } dd { ul.inline { li { (names.link(&r.source_node_id)) " (source)" } @for n in &r.successful_nodes { li { "✓ " (names.link(n)) } } } }
                        dt { "Lagging (" (pending.len()) ")" } dd { @if pending.is_empty() { "none" } ul.inline { @for n in &pending { li { (names.link(n)) " since " (time(r.timestamp)) } } } }
                        dt { "Failed (" (r.failed_nodes.len()) ")" } dd { @if r.failed_nodes.is_empty() { "none" } ul.inline { @for n in &r.failed_nodes { li.bad { "✗ " (names.link(n)) " since " (time(r.deadline)) } } } }
                    }
                }
            }
            p.small { "Data: " a href="/v1/sync" { code { "GET /v1/sync" } } ", " a href="/v1/log/seal" { code { "GET /v1/log/seal" } } }
        },
    )
}

// ---- Domains

pub(super) async fn domains(State(d): State<Dash>) -> PageResult {
    let head = Head::of(&d).await;
    let list = api::domains_view(&d.shared).await;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let contracts = api::contracts_view(&d.shared).await;
    let me = head.status["node_id"].as_str().unwrap_or("").to_owned();
    head.render(
        "Domains",
        "/domains",
        html! {
            @if list.is_empty() { p.muted { "No domains are defined." } }
            div.table-wrap {
                table.list {
                    thead { tr { th scope="col" { "Domain" } th scope="col" { "Admin" } th scope="col" { "Members" } th scope="col" { "Shared clauses" } th scope="col" { "Defined" } } }
                    tbody {
                        @for dm in &list {
                            tr {
                                td { a href={ "/domains/" (dm.domain_id) } { (dm.name) } br; span.small { (dm.description) } }
                                td { (names.link(&dm.admin_node_id)) }
                                td.num { (dm.member_nodes.len()) }
                                td { (dm.shared_clauses.join(", ")) }
                                td { (time(dm.defined_at)) }
                            }
                        }
                    }
                }
            }
            section #define aria-labelledby="h-define" {
                h2 #h-define { "Define a domain" }
                p.small { "Signed by this node's key with its operator token, as " code { "govmesh domain define" } " does, or in this browser with your own key (below); clause 5.5 says which roles may." }
                form.action method="post" action="/actions/domains" data-api="/v1/operator/domains" data-action="domains" data-sign="define_domain" {
                    div.field { label for="dd-name" { "Name" } input #dd-name type="text" name="name" required; }
                    div.field { label for="dd-desc" { "Description" } input #dd-desc type="text" name="description"; }
                    div.field {
                        label for="dd-admin" { "Admin" }
                        select #dd-admin name="admin_node_id" required {
                            @for n in &nodes { option value=(n.node_id) selected[n.node_id == me] { (names.name(&n.node_id)) " (" (n.node_type.as_str()) ")" } }
                        }
                    }
                    fieldset {
                        legend { "Members" }
                        @for n in &nodes {
                            label.choice { input type="checkbox" name="member_nodes" value=(n.node_id) checked[n.node_id == me]; " " (names.name(&n.node_id)) }
                        }
                    }
                    fieldset {
                        legend { "Shared clauses" }
                        @for c in &contracts { @for cl in &c.clauses {
                            label.choice { input type="checkbox" name="shared_clauses" value=(cl.clause_id); " " (cl.clause_id) " " (cl.title) }
                        } }
                    }
                    (token_field("dd-token"))
                    p.signer.small {}
                    div.field.actions { button type="submit" { "Define domain" } }
                    output.result role="status" aria-live="polite" {}
                }
                (own_key_box())
            }
        },
    )
}

pub(super) async fn domain(State(d): State<Dash>, id: PageId) -> PageResult {
    let head = Head::of(&d).await;
    let dm = api::domain_view(&d.shared, &id).await?;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    head.render(
        &format!("Domain {}", dm.name),
        "/domains",
        html! {
            @if !dm.description.is_empty() { p.lead { (dm.description) } }
            dl.facts {
                dt { "Domain id" } dd { code { (dm.domain_id) } }
                dt { "Admin" } dd { (names.link(&dm.admin_node_id)) }
                dt { "Defined" } dd { (time(dm.defined_at)) }
                dt { "Members (" (dm.member_nodes.len()) ")" } dd { ul.inline { @for m in &dm.member_nodes { li { (names.link(m)) } } } }
                dt { "Shared clauses" } dd { @if dm.shared_clauses.is_empty() { "none" } (dm.shared_clauses.join(", ")) }
            }
            h2 { "Local overrides" }
            @if dm.local_overrides.is_empty() { p.muted { "None." } }
            ul.plain { @for (k, v) in &dm.local_overrides { li { (names.link(k)) ": " (v.join(", ")) } } }
            h2 { "Voting policy" }
            p.small { "Overrides of the contract's default voting policy in this domain (empty: the default applies)." }
            (json_block(&serde_json::to_value(&dm.policy).unwrap_or_default()))
            @if !dm.clause_policies.is_empty() {
                h3 { "Per clause" }
                (json_block(&serde_json::to_value(&dm.clause_policies).unwrap_or_default()))
            }
            p { a.button href={ "/proposals?domain=" (dm.domain_id) "#create" } { "Propose a change in this domain" } }
            p.small { "Data: " a href={ "/v1/domains/" (dm.domain_id) } { code { "GET /v1/domains/" (short(&dm.domain_id)) "…" } } }
        },
    )
}

// ---- Trust

pub(super) async fn trust(State(d): State<Dash>) -> PageResult {
    let head = Head::of(&d).await;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let sum = crate::trust::summary_view(&d.shared).await;
    let mut details = Vec::new();
    for l in sum.scores.iter().take(TRUST_DETAILS) {
        if let Ok(n) = crate::trust::node_view(&d.shared, &l.node_id).await {
            details.push(n);
        }
    }
    let top = sum
        .scores
        .iter()
        .filter_map(|l| l.score)
        .fold(0.0, f64::max);
    let m = &sum.model;
    let roles: Vec<&str> = m.pre_trusted_roles.iter().map(|r| r.as_str()).collect();
    head.render(
        "Trust",
        "/trust",
        html! {
            p.lead { "Every node's EigenTrust score, computed by every node from the observations in the log under clause 5.4's trust model: the same scores, bit for bit, on every node." }
            dl.facts data-part="trust-computation" {
                dt { "Last computation" } dd {
                    @match &sum.last_computation {
                        Some(c) => {
                            "after entry " (c.index) " (" (format!("{:?}", c.cause).to_lowercase()) ", Codex revision " (c.revision) "), " (time(c.timestamp)) ": "
                            (c.iterations) " iteration(s), "
                            @if c.converged { "converged" } @else { "not converged (max_iterations reached)" }
                        },
                        None => { "none yet" },
                    }
                }
                dt { "Observations" } dd { (sum.observations) " counted; " (sum.pending_observations) " since the last computation (they count at the next: after an adopted revision or every 1,000 entries)" }
                dt { "Model" } dd {
                    "EigenTrust, alpha " (format!("{:.4}", m.alpha)) ", at most " (m.max_iterations) " iterations to an L1 change below " (format!("{:e}", m.convergence_epsilon))
                    "; pre-trusted: " (roles.join(", "))
                }
            }
            div.table-wrap {
                table.list data-part="trust-scores" {
                    thead { tr { th scope="col" { "Rank" } th scope="col" { "Node" } th scope="col" { "Role" } th scope="col" { "Score" } th scope="col" { "Relative to the highest" } } }
                    tbody {
                        @for l in &sum.scores {
                            tr id={ "trust-" (l.node_id) } {
                                td { @match l.rank { Some(r) => (r), None => "—" } }
                                td { (names.link(&l.node_id)) @if l.pre_trusted { " " span.badge title="pre-trusted (clause 5.4 pre_trusted_roles)" { "pre-trusted" } } }
                                td { span.role.(role_class(l.node_type.as_str())) { (l.node_type.as_str()) } }
                                td.num { @match l.score { Some(x) => (format!("{x:.6}")), None => "none yet" } }
                                td {
                                    @if let Some(x) = l.score {
                                        @let rel = if top > 0.0 { x / top * 100.0 } else { 0.0 };
                                        div.bar.trust role="img" aria-label=(format!("{rel:.0}% of the highest score")) {
                                            div.fill.approve style=(format!("width:{rel:.1}%")) {}
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "What each score rests on" }
            p.small { "Who observed whom: a proposer observes the votes on its proposal and the eligible voters that missed it; the source of a contract revision observes each acknowledgement, on time or late; a proposer observes a double vote, the reporter of a forked checkpoint each hub that signed both. Local trust is positive minus negative weight, never below 0." }
            @for n in &details {
                details data-part="trust-node" {
                    summary { (names.link(&n.line.node_id)) " — " @match n.line.score { Some(x) => (format!("{x:.6}")), None => "no score yet" } }
                    @if n.received.is_empty() { p.muted { "No observations of this node yet." } }
                    @else {
                        ul.plain {
                            @for r in &n.received {
                                li { code { (r.kind.as_str()) } " ×" (r.count) " (weight " (r.weight) @if let Some(e) = r.effect { ", " (format!("{e:?}").to_lowercase()) } ")" }
                            }
                        }
                        table.list {
                            thead { tr { th scope="col" { "Observed by" } th scope="col" { "Positive" } th scope="col" { "Negative" } th scope="col" { "Local trust" } } }
                            tbody { @for p in &n.observers { tr { td { (names.link(&p.node_id)) } td.num { (p.positive) } td.num { (p.negative) } td.num { (p.local_trust) } } } }
                        }
                    }
                    p.small { a href={ "/v1/trust/" (n.line.node_id) } { code { "GET /v1/trust/" (short(&n.line.node_id)) "…" } } " (with its history per computation)" }
                }
            }
            p.small { "Data: " a href="/v1/trust" { code { "GET /v1/trust" } } "." }
        },
    )
}

/// Nodes whose observations the trust page details (the highest ranked).
const TRUST_DETAILS: usize = 100;

// ---- Log

/// Entries per log page, unless the query asks for another count (`per`, at most
/// the API's page, [`api::MAX_PAGE`]).
const LOG_PAGE: u64 = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogQuery {
    #[serde(default, deserialize_with = "empty_none")]
    start: Option<u64>,
    #[serde(default, deserialize_with = "empty_none")]
    per: Option<u64>,
}

pub(super) async fn log(State(d): State<Dash>, PageQuery(q): PageQuery<LogQuery>) -> PageResult {
    let per = q.per.unwrap_or(LOG_PAGE);
    if !(1..=api::MAX_PAGE).contains(&per) {
        return Err(PageError::from(ApiError::bad_request(
            "bad_query",
            format!("per must be 1 to {} entries, not {per}", api::MAX_PAGE),
        )));
    }
    let head = Head::of(&d).await;
    let size = head.status["log_size"].as_u64().unwrap_or(0);
    let last_page = size.saturating_sub(1) / per * per;
    let start = q.start.map_or(last_page, |s| s / per * per);
    if start >= size.max(1) {
        return Err(PageError::from(ApiError::not_found(format!(
            "the log has {size} entries; there is no entry {start}"
        ))));
    }
    let records = api::entries_view(
        &d.shared,
        &wire::EntriesQuery {
            start,
            end: Some(start + per),
            ..Default::default()
        },
    )
    .await?
    .records;
    let nodes = api::nodes_view(&d.shared).await;
    let names = Names::of(&nodes);
    let at = |s: u64| {
        if per == LOG_PAGE {
            format!("/log?start={s}")
        } else {
            format!("/log?start={s}&per={per}")
        }
    };
    let nav = html! {
        nav.pager aria-label="Log pages" {
            @if start > 0 { a href=(at(0)) { "« first" } " " a href=(at(start - per)) rel="prev" { "‹ older" } } @else { span.muted { "« first ‹ older" } }
            " · entries " (start) "–" (start + records.len() as u64 - 1) " of " (size) " · "
            @if start + per < size { a href=(at(start + per)) rel="next" { "newer ›" } " " a href=(at(last_page)) { "latest »" } } @else { span.muted { "newer › latest »" } }
        }
    };
    head.render(
        "Log",
        "/log",
        html! {
            p.lead { span data-verify="log" data-start=(start) data-end=(start + records.len() as u64) {} }
            (nav)
            div.table-wrap {
                table.list.log {
                    thead { tr { th scope="col" { "#" } th scope="col" { "Time" } th scope="col" { "Author" } th scope="col" { "Operation" } th scope="col" { "Signature" } th scope="col" { "Proof" } th scope="col" { "Checked" } } }
                    tbody {
                        @for r in records.iter().rev() {
                            @let payload = base64::engine::general_purpose::STANDARD.decode(&r.envelope.payload).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()).unwrap_or(Value::Null);
                            @let author = payload["author"].as_str().unwrap_or("");
                            @let op = payload["type"].as_str().or_else(|| payload["operation"].as_str()).unwrap_or("?");
                            tr #{ "entry-" (r.index) } data-index=(r.index) {
                                td.num { (r.index) }
                                td { (time(r.timestamp)) }
                                td { @if author.is_empty() { "—" } @else { (names.link(author)) } }
                                td {
                                    code { (op) } " " span.small { (summary(&payload)) }
                                    details { summary { "payload" } (json_block(&payload)) }
                                }
                                td { @for s in &r.envelope.signatures { code.small title=(s.sig) { "key " (short(&s.keyid)) } } }
                                td { a href={ "/v1/log/proof/inclusion?index=" (r.index) } { "inclusion" } }
                                td { span data-verify-entry=(r.index) data-shown-author=(author) data-shown-type=(op) {} }
                            }
                        }
                    }
                }
            }
            (nav)
            p.small { "Data: " a href={ "/v1/log/entries?start=" (start) "&end=" (start + per) } { code { "GET /v1/log/entries?start=" (start) } } }
        },
    )
}

/// A few words about an operation's payload.
fn summary(p: &Value) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
    match p["type"].as_str().unwrap_or("") {
        "vote" => format!("{} on {}", s("choice"), short(&s("proposal_id"))),
        "propose" => format!(
            "{} clause {}",
            s("contract_id"),
            s("target_contract_clause")
        ),
        "withdraw" | "close" => short(&s("proposal_id")).to_owned(),
        "ack_sync" => format!("{} revision {}", s("contract_id"), p["revision"]),
        "register_node" | "update_node" => {
            format!("{} {}", short(&s("node_id")), s("node_type"))
        }
        "define_domain" => s("name"),
        "genesis" => s("mesh_name"),
        "record_refusal" => format!("refused: {}", s("code")),
        _ => String::new(),
    }
}
