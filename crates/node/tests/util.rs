//! Shared helpers: founders' keys, a founded mesh in a temp dir, an HTTP client.

use govmesh_core::entry::NodeSpec;
use govmesh_core::keys::KeyPair;
use govmesh_core::model::NodeType;
use govmesh_node::{InitOptions, NodeInfo, RunningNode, init, serve};
use serde_json::Value;
use tempfile::TempDir;

pub fn key(seed: u8) -> KeyPair {
    KeyPair::from_seed([seed; 32])
}

/// A loopback address with a port free right now ([`free_port`]).
pub fn free_addr() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A loopback port free for TCP and UDP right now, for a node whose address must be
/// known before it starts (a genesis names it). Picked at random below the kernel's
/// ephemeral port range, which `bind(0)` and outgoing connections draw from, so that
/// another test's client socket cannot take it between this check and the node's
/// bind; never the same port twice in one test process.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = (ephemeral_from / 2, ephemeral_from);
    for _ in 0..10_000 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        // Without room below the ephemeral range, any free port.
        let port = if to > from + 1000 {
            from + (random % u64::from(to - from)) as u16
        } else {
            0
        };
        let Ok(tcp) = std::net::TcpListener::bind(("127.0.0.1", port)) else {
            continue;
        };
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && HANDED_OUT.lock().unwrap().insert(port)
        {
            return port;
        }
    }
    panic!("no free loopback port found");
}

/// A founder of `node_type` at `http://addr`.
pub fn spec(k: &KeyPair, node_type: NodeType, addr: std::net::SocketAddr) -> NodeSpec {
    NodeSpec {
        network_address: Some(format!("http://{addr}")),
        node_type,
        ..hub_spec(k)
    }
}

pub fn hub_spec(k: &KeyPair) -> NodeSpec {
    NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type: NodeType::GovernanceHub,
        public_key: k.public(),
        network_address: None,
        display_name: None,
        node_policy_capabilities: vec![],
    }
}

/// A mesh founded by three hubs: `me` (this node's key), `a` and `b` (who sign
/// locally and submit through `POST /v1/entries`).
pub struct Mesh {
    pub dir: TempDir,
    pub info: NodeInfo,
    pub me: KeyPair,
    pub a: KeyPair,
    pub b: KeyPair,
}

impl Mesh {
    pub fn found() -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let (me, a, b) = (key(1), key(2), key(3));
        let info = init(
            dir.path(),
            InitOptions {
                mesh_name: "test-mesh".into(),
                key: me.clone(),
                other_founders: vec![hub_spec(&a), hub_spec(&b)],
                network_address: None,
            },
        )
        .unwrap();
        Mesh {
            dir,
            info,
            me,
            a,
            b,
        }
    }

    pub fn token(&self) -> String {
        govmesh_node::load_token(self.dir.path()).unwrap()
    }

    pub async fn serve(&self) -> RunningNode {
        serve(self.dir.path(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
}

impl Client {
    pub fn new(url: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: url.to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("GET {path}: {status} body is not JSON ({e}): {text}"));
        (status, v)
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POSTs raw bytes with a content type and an optional bearer token.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {path}: {status} body is not JSON ({e}): {text}"));
        (status, v)
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        self.post_raw(
            path,
            "application/json",
            serde_json::to_vec(body).unwrap(),
            token,
        )
        .await
    }

    pub async fn log_size(&self) -> u64 {
        let (s, v) = self.get("/v1/status").await;
        assert_eq!(s, 200, "{v}");
        v["log_size"].as_u64().unwrap()
    }
}

/// The `error.code` of an error body.
pub fn code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {v}"))
}
