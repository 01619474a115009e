//! Membership and liveness. Every serving node runs chitchat (scuttlebutt gossip with a
//! phi-accrual failure detector) over UDP on the same port number as its HTTP listener,
//! publishes who it is and what its log holds (node id, role, URL, log size, root,
//! contract heads, and the HTTP round-trip times it measures to its peers), and keeps a
//! view of every other node: live, suspect (heartbeats late: phi above a lower
//! threshold) or down (declared dead by chitchat's detector).
//!
//! Gossip is never trusted for anything security-relevant: it only colours the topology
//! view (`GET /v1/topology`), feeds `GET /v1/gossip`, and helps choose peers
//! ([`Gossip::live_peers`], which only returns nodes registered and active in the log,
//! at their registry address). Anyone who can send UDP datagrams can claim anything here.

use crate::datadir::NodeInfo;
use crate::order::now;
use crate::route_table::route_table;
use crate::shared::Shared;
use axum::extract::State;
use axum::{Json, Router};
use chitchat::transport::UdpTransport;
use chitchat::{
    Chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, ProtocolVersion,
    spawn_chitchat,
};
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_core::stamp::Timestamp;
use govmesh_core::topology::{ConnectionType, LiveNode, PeerLink};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// Gossip keys every node publishes about itself.
pub const KEY_NODE_ID: &str = "node_id";
pub const KEY_NODE_TYPE: &str = "node_type";
pub const KEY_URL: &str = "url";
pub const KEY_LOG_SIZE: &str = "log_size";
pub const KEY_ROOT: &str = "root";
/// Compact JSON object: contract id → current revision.
pub const KEY_HEADS: &str = "heads";
/// Compact JSON object: peer node id → smoothed HTTP round trip in ms, as this node
/// measures it.
pub const KEY_LATENCY: &str = "latency";

/// How many liveness changes per node `GET /v1/gossip` keeps.
const MAX_TRANSITIONS: usize = 32;
/// Weight of a new round-trip sample in the moving average.
const EWMA_ALPHA: f64 = 0.3;
/// Most peers one probe round measures: the never measured first, then the longest
/// unmeasured. With every node probing every other one each round, a 100-node mesh
/// made 9,900 HTTP requests per round; bounded, a node sends at most this many and
/// each peer is measured every `ceil(peers / PROBE_FANOUT)` rounds.
const PROBE_FANOUT: usize = 8;
/// Most round trips a node gossips (its fastest measured peers): the `latency` value
/// is sent to every node each time it changes, so it must not grow with the mesh.
const REPORT_MAX: usize = 16;

/// Timing of gossip, failure detection and latency probes.
#[derive(Clone, Debug)]
pub struct GossipSettings {
    /// How often chitchat gossips (each round bumps this node's heartbeat).
    pub gossip_interval: Duration,
    /// Phi above which a live node is shown as suspect. Chitchat's phi is the time
    /// since the last heartbeat divided by the mean heartbeat interval.
    pub suspect_phi: f64,
    /// Phi above which chitchat declares a node dead (down).
    pub dead_phi: f64,
    /// How often live peers' `GET /healthz` round trip is measured.
    pub probe_interval: Duration,
    /// A probe slower than this counts as a failure.
    pub probe_timeout: Duration,
    /// How long a dead node stays in chitchat's state before it is forgotten.
    pub dead_node_grace: Duration,
}

impl Default for GossipSettings {
    fn default() -> Self {
        GossipSettings {
            gossip_interval: Duration::from_millis(500),
            suspect_phi: 3.0,
            dead_phi: 8.0,
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(2),
            dead_node_grace: Duration::from_secs(3600),
        }
    }
}

/// A node's liveness as this node's failure detector sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Heartbeats arrive on time.
    Live,
    /// Heartbeats are late (phi above the suspect threshold), or the node was just
    /// heard of and has not yet sent two heartbeats.
    Suspect,
    /// Declared dead by the failure detector.
    Down,
}

/// The gossip service of one node: its chitchat instance (if it could bind) and the
/// view it keeps of the others. Handed to whoever reads it (the API's topology, replication's peer order).
pub struct Gossip {
    node_id: String,
    settings: GossipSettings,
    self_id: Option<ChitchatId>,
    cluster_id: String,
    chitchat: Option<Arc<Mutex<Chitchat>>>,
    /// Why gossip is not running, when it is not.
    error: Option<String>,
    view: RwLock<View>,
}

#[derive(Default)]
struct View {
    /// Registered nodes as the log says (refreshed when the log grows).
    registry: BTreeMap<String, RegNode>,
    /// Other nodes by the node id they gossip (latest generation only).
    peers: BTreeMap<String, PeerView>,
    /// Round trips this node measured, by peer node id.
    latency: BTreeMap<String, LatencyStat>,
}

#[derive(Clone, Debug)]
struct RegNode {
    node_type: NodeType,
    status: NodeStatus,
    url: Option<String>,
    /// Host and port of `url` (where the node's gossip listens).
    gossip: Option<(String, u16)>,
}

#[derive(Clone, Debug)]
struct PeerView {
    chitchat_id: ChitchatId,
    heartbeat: u64,
    heartbeat_at: Instant,
    /// Wall time the heartbeat last advanced (while we watched).
    last_seen: Option<Timestamp>,
    phi: Option<f64>,
    liveness: Liveness,
    ever_live: bool,
    /// Chitchat's version of the node's key-values when they were last copied.
    version: u64,
    key_values: BTreeMap<String, String>,
    transitions: Vec<(Liveness, Timestamp)>,
}

#[derive(Clone, Debug, Default, Serialize)]
struct LatencyStat {
    /// Exponentially weighted moving average of the round trip, ms.
    ewma_ms: Option<f64>,
    last_ms: Option<f64>,
    samples: u64,
    failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<Timestamp>,
}

/// One node as chitchat reports it, copied out under its lock.
struct Observed {
    id: ChitchatId,
    heartbeat: u64,
    /// Chitchat's version of the node's key-values.
    version: u64,
    /// The key-values, copied only when `version` is not the one the view holds.
    key_values: Option<BTreeMap<String, String>>,
    live: bool,
    timeout: Option<Duration>,
}

impl Gossip {
    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Whether chitchat is running (it is not when its UDP port could not be bound).
    pub fn enabled(&self) -> bool {
        self.chitchat.is_some()
    }

    /// Registered, active nodes (not this one) that gossip says are live, at their
    /// registry URL, lowest measured round trip first (unmeasured last). For choosing
    /// peers only; never trust them because they are here.
    pub fn live_peers(&self) -> Vec<(String, String)> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(Option<f64>, String, String)> = v
            .peers
            .iter()
            .filter(|(id, p)| p.liveness == Liveness::Live && **id != self.node_id)
            .filter_map(|(id, p)| {
                let reg = v.registry.get(id)?;
                if reg.status != NodeStatus::Active || !address_matches(reg, &p.chitchat_id) {
                    return None;
                }
                let url = reg.url.clone()?;
                let rtt = v.latency.get(id).and_then(|l| l.ewma_ms);
                Some((rtt, id.clone(), url))
            })
            .collect();
        out.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.1.cmp(&b.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(&b.1),
        });
        out.into_iter().map(|(_, id, url)| (id, url)).collect()
    }

    /// The liveness of `node_id` as seen from here (`Live` for this node itself;
    /// `None` if gossip has not heard of it).
    pub fn liveness(&self, node_id: &str) -> Option<Liveness> {
        if node_id == self.node_id {
            return Some(Liveness::Live);
        }
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        v.peers.get(node_id).map(|p| p.liveness)
    }

    /// What the topology record needs: this node and every registered node gossip knows
    /// of, with liveness, last heartbeat, measured round trip and the round trips each
    /// reports to its own peers.
    pub fn live_nodes(&self, at: Timestamp) -> Vec<LiveNode> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(v.peers.len() + 1);
        let own_links = v
            .latency
            .iter()
            .filter(|(id, _)| {
                v.peers
                    .get(*id)
                    .is_some_and(|p| p.liveness != Liveness::Down)
            })
            .filter_map(|(id, l)| Some((id.clone(), l.ewma_ms?)))
            .collect::<BTreeMap<_, _>>();
        out.push(LiveNode {
            node_id: self.node_id.clone(),
            reachable: true,
            suspect: false,
            last_seen: Some(at),
            latency_ms: None,
            peers: links(&own_links),
        });
        for (id, p) in &v.peers {
            if !v.registry.contains_key(id) || *id == self.node_id {
                continue;
            }
            let reported = p
                .key_values
                .get(KEY_LATENCY)
                .and_then(|s| serde_json::from_str::<BTreeMap<String, f64>>(s).ok())
                .unwrap_or_default();
            out.push(LiveNode {
                node_id: id.clone(),
                reachable: p.liveness != Liveness::Down,
                suspect: p.liveness == Liveness::Suspect,
                last_seen: p.last_seen,
                latency_ms: v.latency.get(id).and_then(|l| l.ewma_ms),
                // A down node's old reports are not connections any more.
                peers: if p.liveness == Liveness::Down {
                    Vec::new()
                } else {
                    links(&reported)
                },
            });
        }
        out
    }

    /// The log size each registered peer gossips (not this node), by node id.
    pub fn reported_log_sizes(&self) -> BTreeMap<String, u64> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        v.peers
            .iter()
            .filter(|(id, p)| {
                **id != self.node_id && v.registry.contains_key(*id) && p.liveness != Liveness::Down
            })
            .filter_map(|(id, p)| {
                let size = p.key_values.get(KEY_LOG_SIZE)?.parse().ok()?;
                Some((id.clone(), size))
            })
            .collect()
    }

    /// `GET /v1/gossip`: everything this node's chitchat sees.
    pub fn describe(&self) -> Value {
        let Some(self_id) = &self.self_id else {
            return json!({
                "enabled": false,
                "node_id": self.node_id,
                "error": self.error,
            });
        };
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let nodes: Vec<Value> = v
            .peers
            .iter()
            .map(|(id, p)| {
                let reg = v.registry.get(id);
                json!({
                    "node_id": id,
                    "generation_id": p.chitchat_id.generation_id,
                    "gossip_address": p.chitchat_id.gossip_advertise_addr.to_string(),
                    "registered": reg.is_some(),
                    "registry_status": reg.map(|r| r.status),
                    "registry_node_type": reg.map(|r| r.node_type),
                    "address_matches_registry": reg.is_some_and(|r| address_matches(r, &p.chitchat_id)),
                    "heartbeat": p.heartbeat,
                    "since_heartbeat_ms": p.heartbeat_at.elapsed().as_millis() as u64,
                    "last_seen": p.last_seen,
                    "phi": p.phi.map(|x| (x * 1000.0).round() / 1000.0),
                    "liveness": p.liveness,
                    "transitions": p.transitions.iter()
                        .map(|(l, t)| json!({"liveness": l, "at": t}))
                        .collect::<Vec<_>>(),
                    "latency": v.latency.get(id),
                    "key_values": p.key_values,
                })
            })
            .collect();
        json!({
            "enabled": true,
            "node_id": self.node_id,
            "cluster_id": self.cluster_id,
            "generation_id": self_id.generation_id,
            "gossip_address": self_id.gossip_advertise_addr.to_string(),
            "settings": {
                "gossip_interval_ms": self.settings.gossip_interval.as_millis() as u64,
                "suspect_phi": self.settings.suspect_phi,
                "dead_phi": self.settings.dead_phi,
                "probe_interval_ms": self.settings.probe_interval.as_millis() as u64,
            },
            "nodes": nodes,
        })
    }

    /// Folds one look at chitchat's state into the view.
    fn absorb(&self, observed: Vec<Observed>, at: Timestamp) {
        let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
        // Latest generation per node id.
        let mut latest: BTreeMap<String, Observed> = BTreeMap::new();
        for o in observed {
            let id = o.id.node_id.to_string();
            if id == self.node_id {
                continue;
            }
            match latest.get(&id) {
                Some(cur) if cur.id.generation_id >= o.id.generation_id => {}
                _ => {
                    latest.insert(id, o);
                }
            }
        }
        let instant = Instant::now();
        // Nodes chitchat forgot (dead past the grace period) stay down in the view.
        for (id, p) in v.peers.iter_mut() {
            if !latest.contains_key(id) && p.liveness != Liveness::Down {
                p.liveness = Liveness::Down;
                p.phi = None;
                push_transition(p, at);
            }
        }
        for (id, o) in latest {
            let p = v.peers.entry(id).or_insert_with(|| PeerView {
                chitchat_id: o.id.clone(),
                heartbeat: o.heartbeat,
                heartbeat_at: instant,
                last_seen: None,
                phi: None,
                liveness: Liveness::Suspect,
                ever_live: false,
                version: 0,
                key_values: BTreeMap::new(),
                transitions: Vec::new(),
            });
            if p.chitchat_id != o.id {
                // A restart (new generation): start over, keeping the history.
                p.chitchat_id = o.id.clone();
                p.heartbeat = o.heartbeat;
                p.heartbeat_at = instant;
                p.ever_live = false;
            }
            if o.heartbeat != p.heartbeat {
                p.heartbeat = o.heartbeat;
                p.heartbeat_at = instant;
                p.last_seen = Some(at);
            }
            if let Some(kv) = o.key_values {
                p.key_values = kv;
                p.version = o.version;
            }
            // Chitchat's phi: time since the last heartbeat over the mean interval; the
            // detection timeout is that mean times the dead threshold.
            p.phi = o.timeout.map(|t| {
                let mean = t.as_secs_f64() / self.settings.dead_phi;
                if mean > 0.0 {
                    p.heartbeat_at.elapsed().as_secs_f64() / mean
                } else {
                    0.0
                }
            });
            let liveness = if o.live {
                match p.phi {
                    Some(phi) if phi > self.settings.suspect_phi => Liveness::Suspect,
                    _ => Liveness::Live,
                }
            } else if p.ever_live {
                Liveness::Down
            } else {
                Liveness::Suspect
            };
            if liveness == Liveness::Live {
                p.ever_live = true;
            }
            if liveness != p.liveness || p.transitions.is_empty() {
                p.liveness = liveness;
                push_transition(p, at);
            }
        }
    }

    fn record_probe(&self, node_id: &str, result: Result<f64, String>, at: Timestamp) {
        let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
        let s = v.latency.entry(node_id.to_owned()).or_default();
        s.at = Some(at);
        match result {
            Ok(ms) => {
                s.samples += 1;
                s.last_ms = Some(ms);
                s.last_error = None;
                s.ewma_ms = Some(match s.ewma_ms {
                    None => ms,
                    Some(prev) => EWMA_ALPHA * ms + (1.0 - EWMA_ALPHA) * prev,
                });
            }
            Err(e) => {
                s.failures += 1;
                s.last_error = Some(e);
            }
        }
    }

    /// Registered nodes worth probing this round: not this one, known to gossip and
    /// not down; at most [`PROBE_FANOUT`], those never probed first, then those probed
    /// longest ago.
    fn probe_targets(&self) -> Vec<(String, String)> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let mut targets: Vec<(Option<Timestamp>, String, String)> = v
            .peers
            .iter()
            .filter(|(id, p)| p.liveness != Liveness::Down && **id != self.node_id)
            .filter_map(|(id, p)| {
                let reg = v.registry.get(id)?;
                if !address_matches(reg, &p.chitchat_id) {
                    return None;
                }
                let probed = v.latency.get(id).and_then(|l| l.at);
                Some((probed, id.clone(), reg.url.clone()?))
            })
            .collect();
        targets.sort();
        targets
            .into_iter()
            .take(PROBE_FANOUT)
            .map(|(_, id, url)| (id, url))
            .collect()
    }

    /// This node's measured round trips to live peers, the [`REPORT_MAX`] fastest, as
    /// the compact JSON it gossips.
    fn latency_report(&self) -> String {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let mut measured: Vec<(f64, &str)> = v
            .latency
            .iter()
            .filter(|(id, _)| {
                v.peers
                    .get(*id)
                    .is_some_and(|p| p.liveness != Liveness::Down)
            })
            .filter_map(|(id, l)| Some(((l.ewma_ms? * 1000.0).round() / 1000.0, id.as_str())))
            .collect();
        measured.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let map: BTreeMap<&str, f64> = measured
            .into_iter()
            .take(REPORT_MAX)
            .map(|(ms, id)| (id, ms))
            .collect();
        serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
    }

    /// The chitchat version of each peer's key-values the view holds, so that a look
    /// at chitchat copies only what changed.
    fn known_versions(&self) -> HashMap<ChitchatId, u64> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        v.peers
            .values()
            .map(|p| (p.chitchat_id.clone(), p.version))
            .collect()
    }

    /// Registered nodes with a gossip address that gossip has not heard of.
    fn unknown_registered(&self) -> Vec<(String, u16)> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        v.registry
            .iter()
            .filter(|(id, r)| {
                **id != self.node_id
                    && matches!(r.status, NodeStatus::Active | NodeStatus::Pending)
                    && !v.peers.contains_key(*id)
            })
            .filter_map(|(_, r)| r.gossip.clone())
            .collect()
    }
}

fn links(map: &BTreeMap<String, f64>) -> Vec<PeerLink> {
    map.iter()
        .map(|(id, ms)| PeerLink {
            node_id: id.clone(),
            connection_type: ConnectionType::Direct,
            latency_ms: Some(*ms),
        })
        .collect()
}

fn push_transition(p: &mut PeerView, at: Timestamp) {
    if p.transitions.len() == MAX_TRANSITIONS {
        p.transitions.remove(0);
    }
    p.transitions.push((p.liveness, at));
}

/// Whether a gossiping identity is at the node's registry address: same port, and same
/// IP when the registry names one (a host name is not resolved for this).
fn address_matches(reg: &RegNode, id: &ChitchatId) -> bool {
    let Some((host, port)) = &reg.gossip else {
        return false;
    };
    let addr = id.gossip_advertise_addr;
    if addr.port() != *port {
        return false;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => ip == addr.ip(),
        Err(_) => true,
    }
}

/// Host and port of an `http://host:port[/...]` (or https) URL. A missing port is the
/// scheme's default.
pub fn url_host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.is_empty() {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        (h.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), default),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((host, port))
}

fn host_port_string((host, port): &(String, u16)) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What this node publishes and needs from its ledger.
struct LogFacts {
    size: u64,
    root: String,
    heads: String,
    registry: BTreeMap<String, RegNode>,
}

async fn log_facts(app: &Shared) -> LogFacts {
    let l = app.ledger().lock().await;
    let st = l.state();
    let heads: BTreeMap<&str, u64> = st
        .contracts()
        .into_iter()
        .map(|c| (c.contract_id.as_str(), c.revision))
        .collect();
    let registry = st
        .nodes()
        .into_iter()
        .map(|n| {
            let url = n.network_address.clone();
            let gossip = url.as_deref().and_then(url_host_port);
            (
                n.node_id.clone(),
                RegNode {
                    node_type: n.node_type,
                    status: n.status,
                    url,
                    gossip,
                },
            )
        })
        .collect();
    LogFacts {
        size: l.size(),
        root: l.root().to_hex(),
        heads: serde_json::to_string(&heads).unwrap_or_else(|_| "{}".into()),
        registry,
    }
}

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Starts gossip for a node whose HTTP listener is at `http_addr`: binds UDP on the same
/// address and port, seeds from the registry, and runs until `stop` turns true. The
/// service is returned even when UDP cannot be bound (then disabled, with the reason
/// in `GET /v1/gossip`; the node serves on without it). The returned task ends once
/// chitchat has shut down.
pub async fn start(
    app: Shared,
    http_addr: SocketAddr,
    stop: watch::Receiver<bool>,
    settings: GossipSettings,
) -> (Arc<Gossip>, JoinHandle<()>) {
    let node_id = app.info().node_id.clone();
    let cluster_id = app.info().mesh_id.clone();
    let facts = log_facts(&app).await;
    let advertise = advertise_addr(http_addr, facts.registry.get(&node_id));
    let seeds: Vec<String> = facts
        .registry
        .iter()
        .filter(|(id, _)| **id != node_id)
        .filter_map(|(_, r)| r.gossip.as_ref().map(host_port_string))
        .collect();
    let generation = u64::try_from(now().millis()).unwrap_or(0);
    let chitchat_id = ChitchatId::new(node_id.clone(), generation, advertise);
    let config = ChitchatConfig {
        chitchat_id: chitchat_id.clone(),
        cluster_id: cluster_id.clone(),
        gossip_interval: settings.gossip_interval,
        listen_addr: SocketAddr::new(http_addr.ip(), http_addr.port()),
        seed_nodes: seeds,
        failure_detector_config: FailureDetectorConfig {
            phi_threshold: settings.dead_phi,
            sampling_window_size: 1000,
            max_interval: Duration::from_secs(10),
            initial_interval: settings.gossip_interval,
            dead_node_grace_period: settings.dead_node_grace,
        },
        marked_for_deletion_grace_period: settings.dead_node_grace,
        catchup_callback: None,
        extra_liveness_predicate: None,
        protocol_version: ProtocolVersion::V1,
    };
    let url = app.url().map(str::to_owned).unwrap_or_default();
    let initial = vec![
        (KEY_NODE_ID.to_owned(), node_id.clone()),
        (KEY_NODE_TYPE.to_owned(), name_of(&app.info().node_type)),
        (KEY_URL.to_owned(), url),
        (KEY_LOG_SIZE.to_owned(), facts.size.to_string()),
        (KEY_ROOT.to_owned(), facts.root.clone()),
        (KEY_HEADS.to_owned(), facts.heads.clone()),
        (KEY_LATENCY.to_owned(), "{}".to_owned()),
    ];
    let handle = match spawn_chitchat(config, initial, &UdpTransport).await {
        Ok(h) => Ok(h),
        Err(e) => Err(format!(
            "gossip could not bind UDP {}: {e:#}",
            config_listen(http_addr)
        )),
    };
    let (chitchat, error) = match &handle {
        Ok(h) => (Some(h.chitchat()), None),
        Err(e) => {
            tracing::warn!(error = %e, "gossip disabled");
            (None, Some(e.clone()))
        }
    };
    let gossip = Arc::new(Gossip {
        node_id,
        settings: settings.clone(),
        self_id: chitchat.as_ref().map(|_| chitchat_id),
        cluster_id,
        chitchat,
        error,
        view: RwLock::new(View {
            registry: facts.registry,
            ..View::default()
        }),
    });
    let task = match handle {
        Ok(h) => tokio::spawn(run(app, gossip.clone(), h, stop)),
        Err(_) => tokio::spawn(async {}),
    };
    (gossip, task)
}

fn config_listen(http_addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(http_addr.ip(), http_addr.port())
}

/// The address peers should gossip to: the listener's, or loopback on its port when it
/// listens on every interface and the registry names no usable IP.
fn advertise_addr(http_addr: SocketAddr, me: Option<&RegNode>) -> SocketAddr {
    if !http_addr.ip().is_unspecified() {
        return http_addr;
    }
    if let Some((host, port)) = me.and_then(|r| r.gossip.as_ref())
        && *port == http_addr.port()
        && let Ok(ip) = host.parse::<IpAddr>()
    {
        return SocketAddr::new(ip, *port);
    }
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), http_addr.port())
}

async fn run(
    app: Shared,
    gossip: Arc<Gossip>,
    handle: ChitchatHandle,
    mut stop: watch::Receiver<bool>,
) {
    let chitchat = handle.chitchat();
    let mut log = app.log_changes();
    // Chitchat's view changes only when a gossip round lands (every gossip interval,
    // from each peer): looking twice a round sees each heartbeat within half a round,
    // inside the second or more phi needs to call a node suspect (above 3 mean
    // heartbeat intervals late) and far inside the one it needs to call it down (8).
    let mut observe =
        tokio::time::interval((gossip.settings.gossip_interval / 2).max(Duration::from_millis(20)));
    observe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut introduce = tokio::time::interval(gossip.settings.gossip_interval * 4);
    introduce.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let prober = tokio::spawn(probe_loop(gossip.clone(), chitchat.clone(), stop.clone()));
    // A busy log changes hundreds of times a second, and each publish reads the ledger
    // under its lock: publish at most once per tenth of a round (the newest facts; the
    // watch channel keeps only the latest change).
    let publish_gap = (gossip.settings.gossip_interval / 10).max(Duration::from_millis(20));
    let mut last_publish = tokio::time::Instant::now() - publish_gap;
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            changed = log.changed() => {
                if changed.is_err() {
                    // The notifier is gone: keep gossiping what we last published.
                    log = app.log_changes();
                    continue;
                }
                tokio::time::sleep_until(last_publish + publish_gap).await;
                publish(&app, &gossip, &chitchat).await;
                last_publish = tokio::time::Instant::now();
            }
            _ = observe.tick() => {
                let observed = observe_chitchat(&chitchat, &gossip.known_versions()).await;
                gossip.absorb(observed, now());
            }
            _ = introduce.tick() => {
                // Nodes registered after this one started are not seeds: say hello.
                for hp in gossip.unknown_registered() {
                    match tokio::net::lookup_host(host_port_string(&hp)).await {
                        Ok(mut addrs) => {
                            if let Some(a) = addrs.next() && let Err(e) = handle.gossip(a) {
                                tracing::debug!(error = %e, "gossip handshake request failed");
                            }
                        }
                        Err(e) => tracing::debug!(host = %hp.0, error = %e, "cannot resolve a registered node"),
                    }
                }
            }
        }
    }
    let _ = prober.await;
    drop(chitchat);
    if let Err(e) = handle.shutdown().await {
        tracing::warn!(error = %e, "gossip shutdown failed");
    }
}

/// Resolves once `stop` turns true (or its sender is gone), holding no borrow.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn publish(app: &Shared, gossip: &Gossip, chitchat: &Mutex<Chitchat>) {
    let facts = log_facts(app).await;
    {
        let mut c = chitchat.lock().await;
        let me = c.self_node_state();
        me.set(KEY_LOG_SIZE, facts.size);
        me.set(KEY_ROOT, &facts.root);
        me.set(KEY_HEADS, &facts.heads);
    }
    let mut v = gossip.view.write().unwrap_or_else(|e| e.into_inner());
    v.registry = facts.registry;
}

/// One look at chitchat's state: every other node's heartbeat, liveness and
/// detection timeout, and its key-values where their version is not `known` (a
/// node's key-values change every few seconds, its heartbeat several times a second).
async fn observe_chitchat(
    chitchat: &Mutex<Chitchat>,
    known: &HashMap<ChitchatId, u64>,
) -> Vec<Observed> {
    let c = chitchat.lock().await;
    let live: HashSet<&ChitchatId> = c.live_nodes().collect();
    let me = c.self_chitchat_id();
    c.node_states()
        .iter()
        .filter(|(id, _)| *id != me)
        .map(|(id, st)| {
            let version = st.max_version();
            Observed {
                id: id.clone(),
                heartbeat: u64::from(st.heartbeat()),
                version,
                key_values: (known.get(id) != Some(&version)).then(|| {
                    st.key_values()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect()
                }),
                live: live.contains(id),
                timeout: c.failure_detection_timeout(id),
            }
        })
        .collect()
}

/// Measures the `GET /healthz` round trip to every live registered peer (the same
/// listener and HTTP path as the API, without building a status: with every node
/// probing every other one, `/v1/status` made the probes the largest cost of an idle
/// mesh), folds it
/// into the moving average, and gossips the result.
async fn probe_loop(
    gossip: Arc<Gossip>,
    chitchat: Arc<Mutex<Chitchat>>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(gossip.settings.probe_timeout)
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "latency probes disabled: no HTTP client");
            return;
        }
    };
    let mut tick = tokio::time::interval(gossip.settings.probe_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = tick.tick() => {}
        }
        let mut probes = tokio::task::JoinSet::new();
        for (id, url) in gossip.probe_targets() {
            let client = client.clone();
            probes.spawn(async move {
                let started = Instant::now();
                let r = client
                    .get(format!("{}/healthz", url.trim_end_matches('/')))
                    .send()
                    .await;
                let result = match r {
                    Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                        Ok(_) => Ok(started.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => Err(format!("reading the answer: {e}")),
                    },
                    Ok(resp) => Err(format!("answered {}", resp.status())),
                    Err(e) => Err(e.to_string()),
                };
                (id, result)
            });
        }
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => { probes.abort_all(); return; }
                next = probes.join_next() => match next {
                    Some(Ok((id, result))) => gossip.record_probe(&id, result, now()),
                    Some(Err(_)) => {}
                    None => break,
                }
            }
        }
        let report = gossip.latency_report();
        chitchat
            .lock()
            .await
            .self_node_state()
            .set(KEY_LATENCY, report);
    }
}

/// What `GET /v1/gossip` holds: the gossip service once `serve` started it.
#[derive(Clone)]
struct Http {
    shared: Shared,
    gossip: Option<Arc<Gossip>>,
}

route_table!(Http {
    GET "/v1/gossip" => gossip_view,
});

/// `GET /v1/gossip`; without `gossip` (a node not served) it says gossip is off.
pub fn routes(shared: Shared, gossip: Option<Arc<Gossip>>) -> Router {
    table().with_state(Http { shared, gossip })
}

/// `GET /v1/gossip`: what this node's chitchat sees (debugging; not authenticated
/// data).
async fn gossip_view(State(app): State<Http>) -> Json<Value> {
    Json(match &app.gossip {
        Some(g) => g.describe(),
        None => json!({
            "enabled": false,
            "node_id": app.shared.info().node_id,
            "error": "gossip runs only in a serving node",
        }),
    })
}

/// The live observations for the topology record: gossip's view when it runs,
/// otherwise only this node itself.
pub(crate) fn topology_live(
    gossip: Option<&Gossip>,
    me: &NodeInfo,
    at: Timestamp,
) -> Vec<LiveNode> {
    match gossip.filter(|g| g.enabled()) {
        Some(g) => g.live_nodes(at),
        None => vec![LiveNode {
            node_id: me.node_id.clone(),
            reachable: true,
            suspect: false,
            last_seen: Some(at),
            latency_ms: None,
            peers: Vec::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_host_ports() {
        assert_eq!(
            url_host_port("http://127.0.0.1:7000"),
            Some(("127.0.0.1".into(), 7000))
        );
        assert_eq!(
            url_host_port("http://127.0.0.1:7000/"),
            Some(("127.0.0.1".into(), 7000))
        );
        assert_eq!(
            url_host_port("https://hub.example.org/mesh"),
            Some(("hub.example.org".into(), 443))
        );
        assert_eq!(
            url_host_port("http://[::1]:7001"),
            Some(("::1".into(), 7001))
        );
        assert_eq!(url_host_port("http://[::1]"), Some(("::1".into(), 80)));
        assert_eq!(url_host_port("127.0.0.1:7000"), None);
        assert_eq!(url_host_port("ftp://x:1"), None);
        assert_eq!(url_host_port("http://:7000"), None);
        assert_eq!(url_host_port("http://h:notaport"), None);
        assert_eq!(url_host_port("http://h:70000"), None);
        assert_eq!(host_port_string(&("::1".into(), 7)), "[::1]:7".to_owned());
    }

    fn reg(url: &str) -> RegNode {
        RegNode {
            node_type: NodeType::TrustFork,
            status: NodeStatus::Active,
            url: Some(url.into()),
            gossip: url_host_port(url),
        }
    }

    #[test]
    fn gossip_identity_must_sit_at_the_registry_address() {
        let id = ChitchatId::new("n", 1, "127.0.0.1:7000".parse().unwrap());
        assert!(address_matches(&reg("http://127.0.0.1:7000"), &id));
        assert!(address_matches(&reg("http://localhost:7000"), &id));
        assert!(!address_matches(&reg("http://127.0.0.1:7001"), &id));
        assert!(!address_matches(&reg("http://10.0.0.1:7000"), &id));
    }

    fn gossip(settings: GossipSettings) -> Gossip {
        Gossip {
            node_id: "me".into(),
            settings,
            self_id: None,
            cluster_id: "c".into(),
            chitchat: None,
            error: None,
            view: RwLock::new(View::default()),
        }
    }

    fn observed(node: &str, generation: u64, heartbeat: u64, live: bool) -> Observed {
        Observed {
            id: ChitchatId::new(node, generation, "127.0.0.1:7000".parse().unwrap()),
            heartbeat,
            version: 1,
            key_values: Some(BTreeMap::new()),
            live,
            timeout: Some(Duration::from_secs(8)),
        }
    }

    #[test]
    fn liveness_goes_live_then_down_and_a_new_generation_starts_over() {
        let g = gossip(GossipSettings::default());
        let t = Timestamp(1_000);
        // Heard of but not yet live by the detector: suspect (joining).
        g.absorb(vec![observed("a", 1, 1, false)], t);
        assert_eq!(g.liveness("a"), Some(Liveness::Suspect));
        g.absorb(vec![observed("a", 1, 2, true)], t);
        assert_eq!(g.liveness("a"), Some(Liveness::Live));
        g.absorb(vec![observed("a", 1, 2, false)], t);
        assert_eq!(g.liveness("a"), Some(Liveness::Down));
        // Restarted: a new generation is not live until the detector says so.
        g.absorb(
            vec![observed("a", 1, 2, false), observed("a", 2, 1, false)],
            t,
        );
        assert_eq!(g.liveness("a"), Some(Liveness::Suspect));
        g.absorb(vec![observed("a", 2, 3, true)], t);
        assert_eq!(g.liveness("a"), Some(Liveness::Live));
        // Forgotten by chitchat: down.
        g.absorb(vec![], t);
        assert_eq!(g.liveness("a"), Some(Liveness::Down));
        let kinds: Vec<Liveness> = g.view.read().unwrap().peers["a"]
            .transitions
            .iter()
            .map(|(l, _)| *l)
            .collect();
        use Liveness::*;
        assert_eq!(kinds, vec![Suspect, Live, Down, Suspect, Live, Down]);
        assert_eq!(g.liveness("me"), Some(Live));
        assert_eq!(g.liveness("nobody"), None);
    }

    #[test]
    fn late_heartbeats_make_a_live_node_suspect() {
        let g = gossip(GossipSettings {
            suspect_phi: 0.0,
            ..GossipSettings::default()
        });
        g.absorb(vec![observed("a", 1, 1, true)], Timestamp(1));
        std::thread::sleep(Duration::from_millis(5));
        g.absorb(vec![observed("a", 1, 1, true)], Timestamp(2));
        assert_eq!(g.liveness("a"), Some(Liveness::Suspect));
        let phi = g.view.read().unwrap().peers["a"].phi.unwrap();
        assert!(phi > 0.0, "{phi}");
    }

    #[test]
    fn live_peers_are_registered_active_and_at_their_address_fastest_first() {
        let g = gossip(GossipSettings::default());
        {
            let mut v = g.view.write().unwrap();
            for (id, port) in [("a", 7000), ("b", 7001), ("c", 7002), ("d", 7003)] {
                v.registry
                    .insert(id.into(), reg(&format!("http://127.0.0.1:{port}")));
            }
            v.registry.get_mut("d").unwrap().status = NodeStatus::Suspended;
        }
        let at = |id: &str, port: u16| Observed {
            id: ChitchatId::new(id, 1, SocketAddr::from(([127, 0, 0, 1], port))),
            heartbeat: 2,
            version: 1,
            key_values: Some(BTreeMap::new()),
            live: true,
            timeout: None,
        };
        g.absorb(
            vec![
                at("a", 7000),
                at("b", 7001),
                at("c", 7999), // not where the registry says
                at("d", 7003), // suspended
                at("x", 7004), // not registered
            ],
            Timestamp(1),
        );
        g.record_probe("b", Ok(0.5), Timestamp(1));
        g.record_probe("a", Ok(2.0), Timestamp(1));
        g.record_probe("a", Ok(1.0), Timestamp(1));
        g.record_probe("a", Err("boom".into()), Timestamp(1));
        assert_eq!(
            g.live_peers(),
            vec![
                ("b".to_owned(), "http://127.0.0.1:7001".to_owned()),
                ("a".to_owned(), "http://127.0.0.1:7000".to_owned()),
            ]
        );
        let s = g.view.read().unwrap().latency["a"].clone();
        assert_eq!((s.samples, s.failures), (2, 1));
        assert!((s.ewma_ms.unwrap() - 1.7).abs() < 1e-9);
        let report: BTreeMap<String, f64> = serde_json::from_str(&g.latency_report()).unwrap();
        assert_eq!(report.len(), 2);
        // Topology sees me plus the registered nodes gossip knows, not the stranger.
        let live = g.live_nodes(Timestamp(5));
        let ids: Vec<&str> = live.iter().map(|l| l.node_id.as_str()).collect();
        assert_eq!(ids, vec!["me", "a", "b", "c", "d"]);
        assert_eq!(live[0].peers.len(), 2);
    }

    #[test]
    fn key_values_are_copied_only_when_their_version_changes() {
        let g = gossip(GossipSettings::default());
        let mut o = observed("a", 1, 1, true);
        o.key_values = Some(BTreeMap::from([("log_size".to_owned(), "5".to_owned())]));
        g.absorb(vec![o], Timestamp(1));
        let known = g.known_versions();
        assert_eq!(known.values().copied().collect::<Vec<_>>(), vec![1]);
        // A look that found the same version copies nothing and keeps what we have.
        let mut o = observed("a", 1, 2, true);
        o.key_values = None;
        g.absorb(vec![o], Timestamp(2));
        let v = g.view.read().unwrap();
        assert_eq!(v.peers["a"].key_values["log_size"], "5");
        assert_eq!(v.peers["a"].heartbeat, 2);
    }

    #[test]
    fn probes_and_reports_are_bounded_whatever_the_mesh_size() {
        let g = gossip(GossipSettings::default());
        let n = 3 * PROBE_FANOUT;
        let ids: Vec<String> = (0..n).map(|i| format!("p{i:03}")).collect();
        {
            let mut v = g.view.write().unwrap();
            for (i, id) in ids.iter().enumerate() {
                v.registry
                    .insert(id.clone(), reg(&format!("http://127.0.0.1:{}", 8000 + i)));
            }
        }
        g.absorb(
            ids.iter()
                .enumerate()
                .map(|(i, id)| Observed {
                    id: ChitchatId::new(
                        id.as_str(),
                        1,
                        SocketAddr::from(([127, 0, 0, 1], 8000 + i as u16)),
                    ),
                    heartbeat: 2,
                    version: 1,
                    key_values: Some(BTreeMap::new()),
                    live: true,
                    timeout: None,
                })
                .collect(),
            Timestamp(1),
        );
        // Each round probes at most PROBE_FANOUT peers, the unmeasured first, so every
        // peer is measured once in n / PROBE_FANOUT rounds.
        let mut probed = BTreeMap::new();
        for round in 0..3 {
            let targets = g.probe_targets();
            assert_eq!(targets.len(), PROBE_FANOUT);
            for (id, _) in targets {
                *probed.entry(id.clone()).or_insert(0) += 1;
                g.record_probe(&id, Ok(1.0 + probed.len() as f64), Timestamp(10 + round));
            }
        }
        assert_eq!(probed.len(), n);
        assert!(probed.values().all(|c| *c == 1), "{probed:?}");
        // The next round starts over with those measured longest ago.
        let next: Vec<String> = g.probe_targets().into_iter().map(|(id, _)| id).collect();
        let first_round: Vec<String> = {
            let v = g.view.read().unwrap();
            let mut f: Vec<String> = v
                .latency
                .iter()
                .filter(|(_, l)| l.at == Some(Timestamp(10)))
                .map(|(id, _)| id.clone())
                .collect();
            f.sort();
            f
        };
        assert_eq!(next, first_round);
        // The gossiped report holds the REPORT_MAX fastest.
        let report: BTreeMap<String, f64> = serde_json::from_str(&g.latency_report()).unwrap();
        assert_eq!(report.len(), REPORT_MAX);
        let slowest_kept = report.values().copied().fold(0.0, f64::max);
        let v = g.view.read().unwrap();
        for (id, l) in &v.latency {
            if !report.contains_key(id) {
                assert!(l.ewma_ms.unwrap() >= slowest_kept, "{id}");
            }
        }
    }
}
