//! Membership over chitchat with real servers: three nodes of one mesh (a hub, a
//! witness and a trust fork, founded together on loopback ports picked at run time)
//! find each other by gossip with what their logs hold, measure each other's latency,
//! and after one shuts down the others see it suspect, then down; the topology record
//! follows and stays valid against the seed schema.

use super::util::{Client, free_port, key};
use govmesh_core::entry::NodeSpec;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;
use govmesh_node::{RunningNode, join, load_token, mesh_genesis, now, serve};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SEED_DIR: &str = "../../../shared/reference/promethios-v1-schemas";
const DEADLINE: Duration = Duration::from_secs(60);

struct Node {
    dir: TempDir,
    addr: SocketAddr,
    key: KeyPair,
    running: Option<RunningNode>,
}

impl Node {
    fn id(&self) -> &str {
        self.key.node_id()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self) -> Client {
        Client::new(&self.url())
    }
}

/// Founds a mesh of `roles` on fresh loopback ports; every node joins the same genesis.
async fn found(roles: &[NodeType]) -> Vec<Node> {
    let mut nodes: Vec<Node> = roles
        .iter()
        .enumerate()
        .map(|(i, _)| Node {
            dir: tempfile::tempdir().unwrap(),
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            key: key(40 + i as u8),
            running: None,
        })
        .collect();
    let founders = nodes
        .iter()
        .zip(roles)
        .map(|(n, t)| NodeSpec {
            node_id: n.id().to_owned(),
            node_type: *t,
            public_key: n.key.public(),
            network_address: Some(n.url()),
            display_name: Some(format!("{t:?}")),
            node_policy_capabilities: vec![],
        })
        .collect();
    assert_eq!(
        roles[0],
        NodeType::GovernanceHub,
        "the first node signs the genesis"
    );
    let genesis = mesh_genesis("gossip-mesh", &nodes[0].key, founders, now()).unwrap();
    for n in &mut nodes {
        join(n.dir.path(), n.key.clone(), &genesis).unwrap();
        n.running = Some(serve(n.dir.path(), n.addr).await.unwrap());
    }
    nodes
}

/// Polls `f` until it returns `Some`, or fails with `what` and the last value seen.
async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) if start.elapsed() > DEADLINE => {
                panic!("gave up waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn gossip_entry<'a>(view: &'a Value, node_id: &str) -> Option<&'a Value> {
    view["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["node_id"] == json!(node_id))
}

fn topo_node<'a>(topo: &'a Value, node_id: &str) -> &'a Value {
    topo["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == json!(node_id))
        .unwrap_or_else(|| panic!("{node_id} not in the topology: {topo}"))
}

fn seed_topology_schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(SEED_DIR)
        .join("governance_mesh_topology.schema.v1.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the seed topology schema {}: {e}", path.display()));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::from_str(&text).unwrap())
        .unwrap()
}

fn assert_valid(v: &jsonschema::Validator, topo: &Value) {
    let errors: Vec<String> = v
        .iter_errors(topo)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "topology fails the seed schema: {errors:#?}\n{topo}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_see_each_other_and_a_stopped_node_goes_suspect_then_down() {
    let schema = seed_topology_schema();
    let mut nodes = found(&[
        NodeType::GovernanceHub,
        NodeType::ComplianceWitness,
        NodeType::TrustFork,
    ])
    .await;

    // Everyone sees everyone live, with the role, URL and log facts they publish.
    for n in &nodes {
        let c = n.client();
        let (s, me) = c.get("/v1/gossip").await;
        assert_eq!(s, 200, "{me}");
        assert_eq!(me["enabled"], true, "{me}");
        assert_eq!(me["gossip_address"], json!(n.addr.to_string()));
        for other in nodes.iter().filter(|o| o.id() != n.id()) {
            let (oid, ourl) = (other.id().to_owned(), other.url());
            let oc = other.client();
            until(&format!("{} to see {oid} live", n.id()), || async {
                let (_, v) = c.get("/v1/gossip").await;
                let e = gossip_entry(&v, &oid).ok_or_else(|| v.to_string())?;
                let (_, st) = oc.get("/v1/status").await;
                let kv = &e["key_values"];
                let ok = e["liveness"] == "live"
                    && e["registered"] == true
                    && e["address_matches_registry"] == true
                    && kv["url"] == json!(ourl)
                    && kv["node_id"] == json!(oid)
                    && kv["log_size"] == json!(st["log_size"].to_string())
                    && kv["root"].as_str().is_some_and(|r| r.len() == 64)
                    && kv["heads"]
                        .as_str()
                        .and_then(|h| serde_json::from_str::<Value>(h).ok())
                        .is_some_and(|h| h.as_object().is_some_and(|m| !m.is_empty()));
                if ok { Ok(()) } else { Err(e.to_string()) }
            })
            .await;
        }
    }

    // The hub's log grows; the others learn its new size and heads from gossip.
    let hub = &nodes[0];
    let token = load_token(hub.dir.path()).unwrap();
    let (s, r) = hub
        .client()
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.4", "proposed_text": "new text", "rationale": "why",
                    "diff": [{"path": "/sync_deadline_secs", "operation": "replace", "value": 600}]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let hub_size = hub.client().log_size().await;
    assert!(hub_size >= 2);
    for n in &nodes[1..] {
        let c = n.client();
        let hid = hub.id().to_owned();
        until("the hub's new log size in gossip", || async {
            let (_, v) = c.get("/v1/gossip").await;
            let e = gossip_entry(&v, &hid).ok_or_else(|| v.to_string())?;
            let size: u64 = e["key_values"]["log_size"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| e.to_string())?;
            if size >= hub_size {
                Ok(())
            } else {
                Err(e.to_string())
            }
        })
        .await;
    }

    // Latency gets measured; the topology shows every node live with connections.
    let hc = hub.client();
    let ids: Vec<String> = nodes.iter().map(|n| n.id().to_owned()).collect();
    let topo = until(
        "connections with observed latency in the topology",
        || async {
            let (s, t) = hc.get("/v1/topology").await;
            if s != 200 {
                return Err(t.to_string());
            }
            let conns = t["connections"].as_array().cloned().unwrap_or_default();
            let measured = |a: &str, b: &str| {
                conns.iter().any(|c| {
                    c["source_node_id"] == json!(a)
                        && c["target_node_id"] == json!(b)
                        && c["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0)
                })
            };
            // The hub's own probes and one reported by another node over gossip.
            let ok = measured(&ids[0], &ids[1])
            && measured(&ids[0], &ids[2])
            && measured(&ids[1], &ids[0])
            // Liveness is observed, not assumed: wait for a moment all three are live.
            && ids.iter().all(|id| topo_node(&t, id)["liveness"] == "reachable")
            && t["health_status"]["overall_status"] == "healthy";
            if ok { Ok(t) } else { Err(t.to_string()) }
        },
    )
    .await;
    assert_valid(&schema, &topo);
    assert_eq!(topo["health_status"]["node_counts"]["healthy"], 3, "{topo}");
    let (_, g) = hc.get("/v1/gossip").await;
    let lat = &gossip_entry(&g, &ids[1]).unwrap()["latency"];
    assert!(lat["samples"].as_u64().unwrap() >= 1, "{g}");

    // Stop the trust fork: the others see it suspect, then down.
    let fork = nodes.pop().unwrap();
    let fork_id = fork.id().to_owned();
    fork.running.unwrap().shutdown().await.unwrap();
    for n in &nodes {
        let c = n.client();
        let e = until(
            &format!("{} to see the stopped fork down", n.id()),
            || async {
                let (_, v) = c.get("/v1/gossip").await;
                let e = gossip_entry(&v, &fork_id)
                    .ok_or_else(|| v.to_string())?
                    .clone();
                if e["liveness"] == "down" {
                    Ok(e)
                } else {
                    Err(e.to_string())
                }
            },
        )
        .await;
        let seen: Vec<&str> = e["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["liveness"].as_str().unwrap())
            .collect();
        let live = seen.iter().rposition(|l| *l == "live").expect("was live");
        assert_eq!(
            &seen[live..],
            &["live", "suspect", "down"],
            "the fork must go suspect before down: {e}"
        );
    }
    let topo = until("the stopped fork offline in the topology", || async {
        let (_, t) = hc.get("/v1/topology").await;
        if topo_node(&t, &fork_id)["liveness"] == "unreachable" {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    })
    .await;
    assert_valid(&schema, &topo);
    assert_eq!(
        topo_node(&topo, &fork_id)["status"],
        "active",
        "registry status stays"
    );
    assert_eq!(topo["health_status"]["node_counts"]["offline"], 1, "{topo}");
    assert_eq!(
        topo["health_status"]["overall_status"], "degraded",
        "{topo}"
    );
    assert!(
        !topo["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["source_node_id"] == json!(fork_id)),
        "a down node reports no connections: {topo}"
    );

    for n in nodes {
        n.running.unwrap().shutdown().await.unwrap();
        drop(n.dir);
    }
}

/// Stopping a node is told: the hub's event stream (`GET /v1/events`) sends a `node`
/// event saying the stopped trust fork is unreachable, and the hub's topology page
/// draws it so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_an_event_and_down_on_the_topology_page() {
    let mut nodes = found(&[NodeType::GovernanceHub, NodeType::TrustFork]).await;
    let fork_id = nodes[1].id().to_owned();
    let hc = nodes[0].client();
    until("the hub to see the fork reachable", || async {
        let (_, t) = hc.get("/v1/topology").await;
        if topo_node(&t, &fork_id)["liveness"] == "reachable" {
            Ok(())
        } else {
            Err(t.to_string())
        }
    })
    .await;
    let mut stream = hc
        .http
        .get(format!("{}/v1/events", hc.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let mut seen = String::new();
    while !seen.contains("event: hello") {
        seen.push_str(&String::from_utf8_lossy(
            &stream.chunk().await.unwrap().unwrap(),
        ));
    }

    let fork = nodes.pop().unwrap();
    fork.running.unwrap().shutdown().await.unwrap();
    // The stream's node events about the fork, until one says it is unreachable.
    let mut told = Vec::new();
    let read = async {
        loop {
            let chunk = stream.chunk().await.unwrap().expect("the stream ended");
            seen.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = seen.find("\n\n") {
                let event: String = seen.drain(..end + 2).collect();
                let Some(data) = event.strip_prefix("event: node\ndata: ") else {
                    continue;
                };
                let v: Value = serde_json::from_str(data.trim()).unwrap();
                if v["node_id"] != json!(fork_id) {
                    continue;
                }
                told.push(v["liveness"].as_str().unwrap().to_owned());
                if v["liveness"] == "unreachable" {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("no node event said the fork is down; seen {seen:?}"));
    assert_eq!(
        told.last().map(String::as_str),
        Some("unreachable"),
        "{told:?}"
    );
    drop(stream);

    // The topology page draws the fork unreachable.
    let (s, html) = hc.get_text("/topology").await;
    assert_eq!(s, 200);
    let at = html
        .find(&format!(r#"data-node="{fork_id}""#))
        .expect("the fork is drawn");
    let circle = &html[at..];
    let class = circle[circle.find("<circle class=\"").unwrap() + 15..]
        .split('"')
        .next()
        .unwrap();
    assert_eq!(class, "fork unreachable", "{circle:.300}");
    for n in nodes {
        n.running.unwrap().shutdown().await.unwrap();
    }
}
