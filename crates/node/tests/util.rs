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
/// known before it starts ([`govmesh_node::free_loopback_port`]).
pub fn free_port() -> u16 {
    govmesh_node::free_loopback_port().expect("a free loopback port")
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
    NodeSpec::new(k, NodeType::GovernanceHub)
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
