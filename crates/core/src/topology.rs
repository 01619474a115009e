//! The mesh topology record (the seed's `governance_mesh_topology` v1): nodes from the
//! registry in the log, connections and liveness from what the node observes live,
//! trust domains, and a health summary, hashed over its canonical JSON.
//!
//! Liveness comes from gossip and is never trusted for anything security-relevant; it
//! only colours this view.

use crate::canonical::record_hash;
use crate::digest::Digest;
use crate::model::{
    CODEX_CLAUSES, DeclaredConnection, Domain, NodeRecord, NodeStatus, NodeType, PHASE_ID,
};
use crate::stamp::Timestamp;
use crate::state::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// What this node currently observes about another node (from gossip, probes, or
/// itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveNode {
    pub node_id: String,
    /// Whether the node answers (the failure detector has not declared it dead).
    pub reachable: bool,
    /// Reachable, but its heartbeats are late (the failure detector suspects it).
    #[serde(default)]
    pub suspect: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// Round-trip time to the node as observed from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The node's own connections to its peers.
    #[serde(default)]
    pub peers: Vec<PeerLink>,
}

/// One connection a node reports to a peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerLink {
    pub node_id: String,
    #[serde(default)]
    pub connection_type: ConnectionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

pub use crate::model::ConnectionType;

/// Most observed (undeclared) connections the topology record carries. Every live node
/// reports its round trip to each peer it measures, so observed links grow with the
/// square of the mesh (9,900 at 100 nodes); the record keeps every declared connection
/// (a governance fact in the log), a sample of this many observed ones, and a
/// `connections_summary` with the counts. `GET /v1/topology/connections` pages through
/// all of them.
pub const OBSERVED_IN_RECORD: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Healthy,
    Degraded,
    Offline,
}

/// The topology record of the mesh as `state` and `live` describe it at `now`.
///
/// `topology_id` must be a lower-case UUIDv4 (see [`derived_topology_id`]). Nodes
/// without live information are judged by their registry status alone.
pub fn topology_record(
    state: &State,
    topology_id: &str,
    now: Timestamp,
    live: &[LiveNode],
) -> Value {
    let mut record = topology_from(
        &state.nodes(),
        &state.domains(),
        &state.connections(),
        topology_id,
        now,
        live,
    );
    // The topology as it stood right after the change before the latest one (a
    // registration, update, domain or connection entry), named as a node serving it
    // then would have named it.
    if let (Some(mesh_id), Some((index, at))) = (state.mesh_id(), state.topology_changes().get(1)) {
        record["previous_topology_id"] = json!(derived_topology_id(&mesh_id, index + 1, *at));
    }
    if let Some(conns) = record["connections"].as_array_mut() {
        add_trust_scores(state, conns);
    }
    record["topology_hash"] =
        json!(record_hash(&record, "topology_hash").expect("topology record canonicalizes"));
    record
}

/// Each connection's trust_score: the target's EigenTrust score in the last
/// computation (clause 5.4 trust_model), absent for a node registered since.
fn add_trust_scores(state: &State, conns: &mut [Value]) {
    for c in conns {
        let score = c["target_node_id"]
            .as_str()
            .and_then(|t| state.trust_score(t));
        if let Some(s) = score {
            c["trust_score"] = json!(crate::trust::score_f64(s));
        }
    }
}

/// Every connection `state` and `live` describe, declared ones first, each part in
/// (source, target) order, with trust scores: the whole list of which the topology
/// record carries a bounded part. Its order is that of [`connection_key`].
pub fn topology_connections(state: &State, live: &[LiveNode]) -> Vec<Value> {
    let mut all = connections_from(&state.nodes(), &state.connections(), live);
    add_trust_scores(state, &mut all);
    all
}

/// [`topology_connections`] over explicit registry records (without trust scores).
pub fn connections_from(
    nodes: &[&NodeRecord],
    declared: &[&DeclaredConnection],
    live: &[LiveNode],
) -> Vec<Value> {
    let registered: BTreeSet<&str> = nodes.iter().map(|n| n.node_id.as_str()).collect();
    let (mut all, observed) = connections_of(&registered, declared, live);
    all.extend(observed);
    all
}

/// The key of a connection in the order of [`topology_connections`] (declared ones
/// first, then by source and target): what a page's cursor names.
pub fn connection_key(c: &Value) -> String {
    let kind = if c["declared"] == json!(true) {
        'd'
    } else {
        'o'
    };
    format!(
        "{kind} {} {}",
        c["source_node_id"].as_str().unwrap_or(""),
        c["target_node_id"].as_str().unwrap_or("")
    )
}

/// A UUIDv4-formatted topology id derived from the mesh, the log size and the time, so
/// that the same view gets the same id on every request.
pub fn derived_topology_id(mesh_id: &Digest, log_size: u64, now: Timestamp) -> String {
    let d = Digest::sha256_parts(&[
        b"govmesh/topology/v1\n",
        mesh_id.as_bytes(),
        &log_size.to_be_bytes(),
        &now.millis().to_be_bytes(),
    ]);
    let mut b: [u8; 16] = d.0[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// [`topology_record`] over explicit registry records.
pub fn topology_from(
    nodes: &[&NodeRecord],
    domains: &[&Domain],
    declared: &[&DeclaredConnection],
    topology_id: &str,
    now: Timestamp,
    live: &[LiveNode],
) -> Value {
    let live_by_id: BTreeMap<&str, &LiveNode> =
        live.iter().map(|l| (l.node_id.as_str(), l)).collect();
    let mut nodes: Vec<&NodeRecord> = nodes.to_vec();
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    let registered: BTreeSet<&str> = nodes.iter().map(|n| n.node_id.as_str()).collect();

    let mut counts = [0u64; 3]; // healthy, degraded, offline
    let mut expected = 0u64; // nodes meant to be up: active or pending
    let mut expected_score = 0.0f64;
    let (mut hubs, mut hubs_healthy) = (0u64, 0u64);
    let mut node_values = Vec::with_capacity(nodes.len());
    for n in &nodes {
        let l = live_by_id.get(n.node_id.as_str()).copied();
        let health = node_health(n, l);
        counts[health as usize] += 1;
        if matches!(n.status, NodeStatus::Active | NodeStatus::Pending) {
            expected += 1;
            expected_score += match health {
                Health::Healthy => 1.0,
                Health::Degraded => 0.5,
                Health::Offline => 0.0,
            };
            if n.node_type == NodeType::GovernanceHub {
                hubs += 1;
                hubs_healthy += u64::from(health == Health::Healthy);
            }
        }
        node_values.push(node_value(n, l));
    }
    let health_score = if expected == 0 {
        0.0
    } else {
        (expected_score / expected as f64 * 1000.0).round() / 1000.0
    };
    // The council needs a majority of its hubs to order the log.
    let overall = if expected == 0 || hubs_healthy * 2 <= hubs || health_score < 0.5 {
        "critical"
    } else if health_score < 1.0 {
        "degraded"
    } else {
        "healthy"
    };

    let (declared, observed) = connections_of(&registered, declared, live);
    let summary = json!({
        "declared": declared.len(),
        "observed": observed.len(),
        "observed_in_record": observed.len().min(OBSERVED_IN_RECORD),
        "complete": observed.len() <= OBSERVED_IN_RECORD,
        "all_at": "/v1/topology/connections",
    });
    let mut connections = declared;
    connections.extend(sample_observed(observed, OBSERVED_IN_RECORD));

    let mut domains: Vec<&Domain> = domains.to_vec();
    domains.sort_by(|a, b| a.domain_id.cmp(&b.domain_id));
    let domain_values: Vec<Value> = domains
        .iter()
        .map(|d| {
            json!({
                "domain_id": d.domain_id,
                "name": d.name,
                "description": d.description,
                "admin_node_id": d.admin_node_id,
                "member_nodes": d.member_nodes,
                "shared_clauses": d.shared_clauses,
                "local_overrides": d.local_overrides,
            })
        })
        .collect();

    let mut record = json!({
        "topology_id": topology_id,
        "nodes": node_values,
        "connections": connections,
        "connections_summary": summary,
        "domains": domain_values,
        "timestamp": now,
        "phase_id": PHASE_ID,
        "codex_clauses": CODEX_CLAUSES,
        "health_status": {
            "overall_status": overall,
            "health_score": health_score,
            "node_counts": {
                "healthy": counts[Health::Healthy as usize],
                "degraded": counts[Health::Degraded as usize],
                "offline": counts[Health::Offline as usize],
            }
        },
    });
    let hash = record_hash(&record, "topology_hash").expect("topology record canonicalizes");
    record["topology_hash"] = json!(hash);
    record
}

/// Declared connections (connect entries between registered nodes): up when gossip
/// sees the link (from either end), with the latency it observes; down otherwise. And
/// the links gossip sees that nobody declared (from reachable, registered nodes to
/// registered peers). Each in (source, target) order.
fn connections_of(
    registered: &BTreeSet<&str>,
    declared: &[&DeclaredConnection],
    live: &[LiveNode],
) -> (Vec<Value>, Vec<Value>) {
    let live_by_id: BTreeMap<&str, &LiveNode> =
        live.iter().map(|l| (l.node_id.as_str(), l)).collect();
    let observed = |a: &str, b: &str| {
        let link = |x: &str, y: &str| {
            live_by_id
                .get(x)
                .filter(|l| l.reachable)
                .and_then(|l| l.peers.iter().find(|p| p.node_id == y))
        };
        link(a, b).or_else(|| link(b, a))
    };
    let mut seen = BTreeSet::new();
    let mut declared_out = Vec::new();
    let mut declared: Vec<&DeclaredConnection> = declared.to_vec();
    declared.sort_by(|a, b| {
        (&a.source_node_id, &a.target_node_id).cmp(&(&b.source_node_id, &b.target_node_id))
    });
    for d in declared {
        let (s, t) = (d.source_node_id.as_str(), d.target_node_id.as_str());
        if !registered.contains(s) || !registered.contains(t) {
            continue;
        }
        seen.insert((s, t));
        seen.insert((t, s));
        let link = observed(s, t);
        let mut c = json!({
            "source_node_id": s,
            "target_node_id": t,
            "connection_type": d.connection_type,
            "declared": true,
            "status": if link.is_some() { "up" } else { "down" },
        });
        if let Some(ms) = link.and_then(latency) {
            c["latency_ms"] = json!(ms);
        }
        declared_out.push(c);
    }
    let mut observed_out: Vec<(&str, &str, Value)> = Vec::new();
    for l in live {
        if !registered.contains(l.node_id.as_str()) || !l.reachable {
            continue;
        }
        for p in &l.peers {
            if p.node_id == l.node_id
                || !registered.contains(p.node_id.as_str())
                || !seen.insert((l.node_id.as_str(), p.node_id.as_str()))
            {
                continue;
            }
            let mut c = json!({
                "source_node_id": l.node_id,
                "target_node_id": p.node_id,
                "connection_type": p.connection_type,
                "declared": false,
                "status": "up",
            });
            if let Some(ms) = latency(p) {
                c["latency_ms"] = json!(ms);
            }
            observed_out.push((l.node_id.as_str(), p.node_id.as_str(), c));
        }
    }
    observed_out.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    (
        declared_out,
        observed_out.into_iter().map(|(_, _, c)| c).collect(),
    )
}

fn latency(p: &PeerLink) -> Option<f64> {
    p.latency_ms.filter(|ms| ms.is_finite() && *ms >= 0.0)
}

/// At most `cap` of the observed connections (all of them when they fit), chosen so
/// that every source node is represented: round robin over the sources in id order,
/// each giving its fastest link not yet taken (unmeasured ones last). Returned in
/// (source, target) order. Deterministic: the same view gives the same sample.
fn sample_observed(observed: Vec<Value>, cap: usize) -> Vec<Value> {
    if observed.len() <= cap {
        return observed;
    }
    // By source (the list is in source order), each source's links fastest first.
    let mut by_source: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<&str> = None;
    for (i, c) in observed.iter().enumerate() {
        let s = c["source_node_id"].as_str();
        if last != s || by_source.is_empty() {
            by_source.push(Vec::new());
            last = s;
        }
        by_source.last_mut().expect("pushed").push(i);
    }
    let ms = |i: &usize| observed[*i]["latency_ms"].as_f64().unwrap_or(f64::INFINITY);
    for links in &mut by_source {
        links.sort_by(|a, b| ms(a).total_cmp(&ms(b)).then(a.cmp(b)));
    }
    let mut keep = BTreeSet::new();
    'rounds: for round in 0.. {
        let mut any = false;
        for links in &by_source {
            if let Some(&i) = links.get(round) {
                any = true;
                keep.insert(i);
                if keep.len() == cap {
                    break 'rounds;
                }
            }
        }
        if !any {
            break;
        }
    }
    observed
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, c)| c)
        .collect()
}

fn node_health(n: &NodeRecord, live: Option<&LiveNode>) -> Health {
    match (n.status, live) {
        (NodeStatus::Inactive | NodeStatus::Suspended, _) => Health::Offline,
        (_, Some(l)) if !l.reachable => Health::Offline,
        (_, Some(l)) if l.suspect => Health::Degraded,
        (NodeStatus::Pending, _) => Health::Degraded,
        (NodeStatus::Active, _) => Health::Healthy,
    }
}

fn node_value(n: &NodeRecord, live: Option<&LiveNode>) -> Value {
    let mut v = Map::new();
    v.insert("node_id".into(), json!(n.node_id));
    v.insert("node_type".into(), json!(n.node_type));
    v.insert("status".into(), json!(n.status));
    v.insert("privileges".into(), json!(n.privileges));
    v.insert("public_key".into(), json!(n.public_key));
    if let Some(addr) = n.network_address.as_deref().filter(|a| is_network_uri(a)) {
        v.insert("network_address".into(), json!(addr));
    }
    let last_seen = match (n.last_seen, live.and_then(|l| l.last_seen)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if let Some(t) = last_seen {
        v.insert("last_seen".into(), json!(t));
    }
    v.insert(
        "node_policy_capabilities".into(),
        json!(n.node_policy_capabilities),
    );
    if let Some(name) = &n.display_name {
        v.insert("display_name".into(), json!(name));
    }
    let liveness = match live {
        None => "unknown",
        Some(l) if !l.reachable => "unreachable",
        Some(l) if l.suspect => "suspect",
        Some(_) => "reachable",
    };
    v.insert("liveness".into(), json!(liveness));
    if let Some(ms) = live
        .and_then(|l| l.latency_ms)
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        v.insert("latency_ms".into(), json!(ms));
    }
    Value::Object(v)
}

/// An absolute URI with an authority (`scheme://host...`), as the seed's `format:
/// uri` requires of `network_address`; bare `host:port` addresses are left out of the
/// record rather than making it invalid.
fn is_network_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest_ok = !rest.is_empty()
        && !rest.starts_with('/')
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c));
    scheme_ok && rest_ok && uri_format().is_valid(&json!(s))
}

/// The `uri` format check of the JSON Schema validator the seed schemas are checked
/// with, so that what we emit is what it accepts.
fn uri_format() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(&json!({"type": "string", "format": "uri"}))
            .expect("a one-keyword schema compiles")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use crate::model::{PolicyOverride, Privilege};

    const T: i64 = 1_764_154_800_000;
    const TOPO: &str = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b";

    fn node(seed: u8, t: NodeType, status: NodeStatus) -> NodeRecord {
        let k = KeyPair::from_seed([seed; 32]);
        NodeRecord {
            node_id: k.node_id().to_owned(),
            node_type: t,
            status,
            privileges: if t == NodeType::GovernanceHub {
                vec![Privilege::CanProposePolicy, Privilege::CanVoteOnProposal]
            } else {
                vec![]
            },
            public_key: k.public(),
            network_address: Some(format!("http://127.0.0.1:70{seed:02}")),
            node_policy_capabilities: vec![],
            display_name: Some(format!("n{seed}")),
            registered_at: Timestamp(T),
            registered_by: k.node_id().to_owned(),
            last_seen: Some(Timestamp(T + 5)),
            suspension: None,
        }
    }

    fn hubs() -> Vec<NodeRecord> {
        (1..=3)
            .map(|s| node(s, NodeType::GovernanceHub, NodeStatus::Active))
            .collect()
    }

    fn domain(members: &[&NodeRecord]) -> Domain {
        Domain {
            domain_id: "5f0c9a8e-2b7d-4e3f-9a1c-0d2e4f6a8b0c".into(),
            name: "codex-council".into(),
            description: "hubs".into(),
            admin_node_id: members[0].node_id.clone(),
            member_nodes: members.iter().map(|n| n.node_id.clone()).collect(),
            shared_clauses: vec!["5.5".into()],
            local_overrides: BTreeMap::new(),
            contract_id: None,
            policy: PolicyOverride::default(),
            clause_policies: BTreeMap::new(),
            defined_at: Timestamp(T),
        }
    }

    fn live(n: &NodeRecord, reachable: bool) -> LiveNode {
        LiveNode {
            node_id: n.node_id.clone(),
            reachable,
            suspect: false,
            last_seen: Some(Timestamp(T + 60_000)),
            latency_ms: Some(1.5),
            peers: vec![],
        }
    }

    fn record(nodes: &[NodeRecord], live: &[LiveNode]) -> Value {
        let refs: Vec<&NodeRecord> = nodes.iter().collect();
        let d = domain(&refs);
        topology_from(&refs, &[&d], &[], TOPO, Timestamp(T + 120_000), live)
    }

    fn health(v: &Value) -> (String, f64, [u64; 3]) {
        let h = &v["health_status"];
        let c = &h["node_counts"];
        (
            h["overall_status"].as_str().unwrap().to_owned(),
            h["health_score"].as_f64().unwrap(),
            [
                c["healthy"].as_u64().unwrap(),
                c["degraded"].as_u64().unwrap(),
                c["offline"].as_u64().unwrap(),
            ],
        )
    }

    #[test]
    fn healthy_mesh_record_is_valid_and_hashed() {
        let nodes = hubs();
        let mut l0 = live(&nodes[0], true);
        l0.peers = vec![
            PeerLink {
                node_id: nodes[1].node_id.clone(),
                connection_type: ConnectionType::Direct,
                latency_ms: Some(0.7),
            },
            // Unknown peers and self-links are left out.
            PeerLink {
                node_id: "00000000-0000-4000-8000-000000000000".into(),
                connection_type: ConnectionType::Relay,
                latency_ms: None,
            },
            PeerLink {
                node_id: nodes[0].node_id.clone(),
                connection_type: ConnectionType::Direct,
                latency_ms: None,
            },
        ];
        let v = record(&nodes, &[l0]);
        crate::schema::validate("topology", &v).unwrap();
        assert_eq!(health(&v), ("healthy".into(), 1.0, [3, 0, 0]));
        assert_eq!(v["phase_id"], "5.5");
        assert_eq!(
            v["codex_clauses"],
            json!(["5.5", "5.4", "11.0", "11.1", "5.2.5"])
        );
        assert_eq!(v["connections"].as_array().unwrap().len(), 1);
        assert_eq!(v["connections"][0]["latency_ms"], json!(0.7));
        let ids: Vec<&str> = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["node_id"].as_str().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let first = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == json!(nodes[0].node_id))
            .unwrap();
        assert_eq!(first["liveness"], "reachable");
        assert_eq!(first["last_seen"], json!(Timestamp(T + 60_000)));
        assert_eq!(first["network_address"], "http://127.0.0.1:7001");

        let hash = Digest::from_hex(v["topology_hash"].as_str().unwrap()).unwrap();
        assert_eq!(hash, record_hash(&v, "topology_hash").unwrap());
        let mut changed = v.clone();
        changed["nodes"][0]["status"] = json!("inactive");
        assert_ne!(hash, record_hash(&changed, "topology_hash").unwrap());
    }

    #[test]
    fn health_follows_status_and_liveness() {
        let mut nodes = hubs();
        // One of three hubs unreachable: the council still has a majority.
        let v = record(&nodes, &[live(&nodes[2], false)]);
        assert_eq!(health(&v), ("degraded".into(), 0.667, [2, 0, 1]));
        // A suspect hub (late heartbeats) is degraded, shown as suspect.
        let mut late = live(&nodes[1], true);
        late.suspect = true;
        let v = record(&nodes, &[late]);
        assert_eq!(health(&v), ("degraded".into(), 0.833, [2, 1, 0]));
        let n1 = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == json!(nodes[1].node_id))
            .unwrap();
        assert_eq!(n1["liveness"], "suspect");
        crate::schema::validate("topology", &v).unwrap();
        // Two of three: no majority.
        let v = record(&nodes, &[live(&nodes[1], false), live(&nodes[2], false)]);
        assert_eq!(health(&v).0, "critical");
        // A pending witness is degraded; a suspended fork is offline but not expected up.
        nodes.push(node(7, NodeType::ComplianceWitness, NodeStatus::Pending));
        nodes.push(node(8, NodeType::TrustFork, NodeStatus::Suspended));
        let v = record(&nodes, &[]);
        assert_eq!(health(&v), ("degraded".into(), 0.875, [3, 1, 1]));
        crate::schema::validate("topology", &v).unwrap();
        // No hub up at all.
        let v = record(&nodes[3..], &[]);
        assert_eq!(health(&v).0, "critical");
        for n in v["nodes"].as_array().unwrap() {
            assert_eq!(n["liveness"], "unknown");
        }
    }

    #[test]
    fn only_absolute_uris_are_network_addresses() {
        assert!(is_network_uri("http://127.0.0.1:7000"));
        assert!(is_network_uri("https://hub.example.org/mesh"));
        assert!(is_network_uri("http://[::1]:7000"));
        assert!(!is_network_uri("127.0.0.1:7000"));
        assert!(!is_network_uri("localhost:7000"));
        assert!(!is_network_uri("http://"));
        assert!(!is_network_uri("http:///path"));
        assert!(!is_network_uri("http://a b"));
        assert!(!is_network_uri("http://ä.example"));
        let mut nodes = hubs();
        nodes[0].network_address = Some("127.0.0.1:7000".into());
        let v = record(&nodes, &[]);
        let n0 = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == json!(nodes[0].node_id))
            .unwrap();
        assert!(n0.get("network_address").is_none());
    }

    #[test]
    fn derived_ids_are_v4_and_stable() {
        let m = Digest::sha256(b"mesh");
        let a = derived_topology_id(&m, 5, Timestamp(T));
        assert_eq!(a, derived_topology_id(&m, 5, Timestamp(T)));
        assert_ne!(a, derived_topology_id(&m, 6, Timestamp(T)));
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn through_the_state_machine() {
        let keys: Vec<KeyPair> = (1..=3).map(|s| KeyPair::from_seed([s; 32])).collect();
        let founders = keys
            .iter()
            .map(|k| crate::entry::NodeSpec {
                node_id: k.node_id().to_owned(),
                node_type: NodeType::GovernanceHub,
                public_key: k.public(),
                network_address: Some("http://127.0.0.1:7000".into()),
                display_name: None,
                node_policy_capabilities: vec![],
            })
            .collect();
        let genesis = crate::codex::codex_genesis("topo-mesh", founders);
        let env = crate::entry::sign_entry(&keys[0], crate::entry::Operation::Genesis(genesis));
        let mut state = State::new();
        state.apply(&env, Timestamp(T)).unwrap();
        let me = LiveNode {
            node_id: keys[0].node_id().to_owned(),
            reachable: true,
            suspect: false,
            last_seen: Some(Timestamp(T + 1000)),
            latency_ms: None,
            peers: vec![],
        };
        let v = topology_record(&state, TOPO, Timestamp(T + 2000), &[me]);
        crate::schema::validate("topology", &v).unwrap();
        assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(v["domains"][0]["name"], "codex-council");
        assert_eq!(v["domains"][0]["member_nodes"].as_array().unwrap().len(), 3);
        assert_eq!(health(&v), ("healthy".into(), 1.0, [3, 0, 0]));
        for n in v["nodes"].as_array().unwrap() {
            assert!(
                n["privileges"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("can_vote_on_proposal"))
            );
        }
    }

    /// A fully meshed view of `n` nodes: every node reports a round trip to every other.
    fn full_mesh(n: u8) -> (Vec<NodeRecord>, Vec<LiveNode>) {
        let mut nodes = hubs();
        for s in 4..=n {
            nodes.push(node(s, NodeType::TrustFork, NodeStatus::Active));
        }
        let live = nodes
            .iter()
            .enumerate()
            .map(|(i, me)| {
                let mut l = live(me, true);
                l.peers = nodes
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(j, p)| PeerLink {
                        node_id: p.node_id.clone(),
                        connection_type: ConnectionType::Direct,
                        latency_ms: Some(1.0 + ((i * 7 + j * 13) % 50) as f64 / 10.0),
                    })
                    .collect();
                l
            })
            .collect();
        (nodes, live)
    }

    #[test]
    fn many_observed_links_keep_the_record_bounded_and_the_full_list_complete() {
        let (nodes, live) = full_mesh(40);
        let refs: Vec<&NodeRecord> = nodes.iter().collect();
        let d = domain(&refs[..3]);
        let declared = DeclaredConnection {
            source_node_id: nodes[0].node_id.clone(),
            target_node_id: nodes[5].node_id.clone(),
            connection_type: ConnectionType::Backup,
            declared_by: nodes[0].node_id.clone(),
            declared_at: Timestamp(T),
        };
        let v = topology_from(&refs, &[&d], &[&declared], TOPO, Timestamp(T + 1), &live);
        crate::schema::validate("topology", &v).unwrap();
        let conns = v["connections"].as_array().unwrap();
        // The declared one plus at most the bound of the 40 * 39 - 2 observed ones.
        let observed_total = 40 * 39 - 2;
        assert_eq!(conns.len(), 1 + OBSERVED_IN_RECORD, "{}", conns.len());
        assert_eq!(conns[0]["declared"], true);
        assert_eq!(
            v["connections_summary"],
            json!({
                "declared": 1,
                "observed": observed_total,
                "observed_in_record": OBSERVED_IN_RECORD,
                "complete": false,
                "all_at": "/v1/topology/connections",
            })
        );
        // Every reporting node appears as a source in the sample, with its fastest link.
        let sources: BTreeSet<&str> = conns[1..]
            .iter()
            .map(|c| c["source_node_id"].as_str().unwrap())
            .collect();
        assert_eq!(sources.len(), 40);
        for l in &live {
            let fastest = l
                .peers
                .iter()
                .filter(|p| {
                    !(l.node_id == nodes[0].node_id && p.node_id == nodes[5].node_id
                        || l.node_id == nodes[5].node_id && p.node_id == nodes[0].node_id)
                })
                .map(|p| p.latency_ms.unwrap())
                .fold(f64::INFINITY, f64::min);
            let best = conns[1..]
                .iter()
                .filter(|c| c["source_node_id"] == json!(l.node_id))
                .map(|c| c["latency_ms"].as_f64().unwrap())
                .fold(f64::INFINITY, f64::min);
            assert_eq!(best, fastest, "{}", l.node_id);
        }
        // The same view gives the same record.
        let again = topology_from(&refs, &[&d], &[&declared], TOPO, Timestamp(T + 1), &live);
        assert_eq!(v, again);

        // The whole list: every link once, in key order, declared first.
        let all = connections_from(&refs, &[&declared], &live);
        assert_eq!(all.len(), 1 + observed_total);
        let keys: Vec<String> = all.iter().map(connection_key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "in key order, no repeats");
        assert!(keys[0].starts_with("d "));
        // The record's connections are among them.
        for c in conns {
            assert!(all.contains(c), "{c}");
        }
    }

    #[test]
    fn a_small_mesh_record_holds_every_observed_link() {
        let (nodes, live) = full_mesh(8);
        let refs: Vec<&NodeRecord> = nodes.iter().collect();
        let v = topology_from(&refs, &[], &[], TOPO, Timestamp(T + 1), &live);
        assert_eq!(v["connections"].as_array().unwrap().len(), 56);
        assert_eq!(v["connections_summary"]["complete"], true);
        assert_eq!(
            v["connections"].as_array().unwrap(),
            &connections_from(&refs, &[], &live)
        );
    }

    #[test]
    fn declared_connections_are_up_when_gossip_sees_them_and_down_otherwise() {
        let nodes = hubs();
        let refs: Vec<&NodeRecord> = nodes.iter().collect();
        let d = domain(&refs);
        let declare = |s: &NodeRecord, t: &NodeRecord, ty| DeclaredConnection {
            source_node_id: s.node_id.clone(),
            target_node_id: t.node_id.clone(),
            connection_type: ty,
            declared_by: s.node_id.clone(),
            declared_at: Timestamp(T),
        };
        let relay = declare(&nodes[0], &nodes[1], ConnectionType::Relay);
        let backup = declare(&nodes[1], &nodes[2], ConnectionType::Backup);
        // Gossip from node 1 sees node 0 (the relay, seen from its other end).
        let mut l1 = live(&nodes[1], true);
        l1.peers = vec![PeerLink {
            node_id: nodes[0].node_id.clone(),
            connection_type: ConnectionType::Direct,
            latency_ms: Some(2.5),
        }];
        let v = topology_from(
            &refs,
            &[&d],
            &[&relay, &backup],
            TOPO,
            Timestamp(T + 120_000),
            &[l1],
        );
        crate::schema::validate("topology", &v).unwrap();
        let conns = v["connections"].as_array().unwrap();
        assert_eq!(conns.len(), 2, "the observed link is the declared one: {v}");
        let find = |t: &str| conns.iter().find(|c| c["connection_type"] == t).unwrap();
        let (r, b) = (find("relay"), find("backup"));
        assert_eq!(
            (&r["status"], &r["latency_ms"]),
            (&json!("up"), &json!(2.5))
        );
        assert_eq!(r["declared"], true);
        assert_eq!(b["status"], "down");
        assert!(b.get("latency_ms").is_none());
    }
}
