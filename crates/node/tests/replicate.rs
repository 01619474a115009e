//! Replication between real servers on loopback: one governance hub and trust_fork
//! nodes founded by one genesis (`datadir::join`). Forks reach the hub's size and root,
//! an announce makes a fork pull at once, a fork restarted catches up, a fork forwards
//! `POST /v1/entries` to the hub, and a hostile peer (a small proxy in front of the hub
//! that alters an entry, serves a forked checkpoint or a hub-signed log with an entry
//! the state machine refuses) is marked bad with the reason while the fork still
//! converges from the honest hub.

use super::util::Client;
use super::util::{free_addr, key, spec};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use govmesh_core::Digest;
use govmesh_core::checkpoint::Checkpoint;
use govmesh_core::entry::{LogRecord, NodeSpec, Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::merkle::MerkleTree;
use govmesh_core::model::{NodeType, VoteChoice};
use govmesh_node::{RunningNode, ServeOptions, join, mesh_genesis, now, serve_with};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(60);

/// One hub and `forks` trust_fork founders, each with its own data directory.
struct Mesh {
    hub: KeyPair,
    hub_dir: TempDir,
    hub_addr: SocketAddr,
    forks: Vec<(KeyPair, TempDir, SocketAddr)>,
    origin: String,
}

impl Mesh {
    fn found(forks: usize) -> Mesh {
        let a = free_addr();
        Mesh::found_with(forks, a, a)
    }

    /// The hub serves at `hub_addr` while the registry lists it at `listed` (a test
    /// decides which hub address forks learn from the log).
    fn found_with(forks: usize, hub_addr: SocketAddr, listed: SocketAddr) -> Mesh {
        Mesh::found_roles(&vec![NodeType::TrustFork; forks], hub_addr, listed)
    }

    /// A hub and one non-hub founder of each role in `roles` (`forks[i]` has role
    /// `roles[i]`).
    fn found_roles(roles: &[NodeType], hub_addr: SocketAddr, listed: SocketAddr) -> Mesh {
        let hub = key(61);
        let mut founders = vec![spec(&hub, NodeType::GovernanceHub, listed)];
        let fork_keys: Vec<(KeyPair, SocketAddr)> = (0..roles.len())
            .map(|i| (key(70 + i as u8), free_addr()))
            .collect();
        for ((k, a), role) in fork_keys.iter().zip(roles) {
            founders.push(spec(k, *role, *a));
        }
        let genesis = mesh_genesis("replication-test", &hub, founders, now()).unwrap();
        let hub_dir = tempfile::tempdir().unwrap();
        let info = join(hub_dir.path(), hub.clone(), &genesis).unwrap();
        let forks = fork_keys
            .into_iter()
            .zip(roles)
            .map(|((k, a), role)| {
                let d = tempfile::tempdir().unwrap();
                let fi = join(d.path(), k.clone(), &genesis).unwrap();
                assert_eq!(fi.node_type, *role);
                assert_eq!(fi.mesh_id, info.mesh_id);
                (k, d, a)
            })
            .collect();
        let origin = govmesh_node::checkpoint_origin(&Digest::from_hex(&info.mesh_id).unwrap());
        Mesh {
            hub,
            hub_dir,
            hub_addr,
            forks,
            origin,
        }
    }

    async fn serve_hub(&self) -> RunningNode {
        serve_with(self.hub_dir.path(), self.hub_addr, ServeOptions::default())
            .await
            .unwrap()
    }

    async fn serve_fork(&self, i: usize, opts: ServeOptions) -> RunningNode {
        let (_, d, a) = &self.forks[i];
        serve_with(d.path(), *a, opts).await.unwrap()
    }

    fn hub_token(&self) -> String {
        govmesh_node::load_token(self.hub_dir.path()).unwrap()
    }
}

fn fast() -> ServeOptions {
    ServeOptions {
        replication_interval: Some(Duration::from_millis(200)),
        ..ServeOptions::default()
    }
}

/// The `n`th key of a series no founder uses.
fn nth_key(n: u32) -> KeyPair {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    KeyPair::from_seed(seed)
}

/// Registers new trust_fork nodes `first..first + n` at the hub (each one log entry),
/// four requests at a time.
async fn grow(hub: &Client, token: &str, n: u32, first: u32) {
    let mut next = first;
    while next < first + n {
        let mut set = tokio::task::JoinSet::new();
        let end = (first + n).min(next + 4);
        for i in next..end {
            let (url, token) = (hub.url.clone(), token.to_owned());
            set.spawn(async move {
                let k = nth_key(i);
                Client::new(&url)
                    .post(
                        "/v1/operator/nodes",
                        &json!({"node_type": "trust_fork", "public_key": k.public().to_base64()}),
                        Some(&token),
                    )
                    .await
            });
        }
        next = end;
        while let Some(res) = set.join_next().await {
            let (s, r) = res.unwrap();
            assert_eq!(s, 201, "{r}");
        }
    }
}

async fn size_and_root(c: &Client) -> (u64, String) {
    let (s, v) = c.get("/v1/status").await;
    assert_eq!(s, 200, "{v}");
    (
        v["log_size"].as_u64().unwrap(),
        v["root"].as_str().unwrap().to_owned(),
    )
}

/// Polls until `fork` holds the hub's log (same size and root) and returns the size.
async fn converge(fork: &Client, hub: &Client) -> u64 {
    let t0 = Instant::now();
    loop {
        let want = size_and_root(hub).await;
        let got = size_and_root(fork).await;
        if got == want {
            return got.0;
        }
        let (_, repl) = fork.get("/v1/replication").await;
        assert!(
            t0.elapsed() < DEADLINE,
            "fork {} did not converge: has {got:?}, hub has {want:?}; replication: {repl:#}",
            fork.url
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn peer<'a>(repl: &'a Value, url: &str) -> &'a Value {
    repl["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["url"] == url)
        .unwrap_or_else(|| panic!("no peer {url} in {repl:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_reach_the_hub_and_forward_entries() {
    let m = Mesh::found(2);
    let hub = m.serve_hub().await;
    let hc = Client::new(&hub.url);
    let token = m.hub_token();
    let f0 = m.serve_fork(0, fast()).await;
    let f1 = m.serve_fork(1, fast()).await;
    let (c0, c1) = (Client::new(&f0.url), Client::new(&f1.url));

    grow(&hc, &token, 3, 100).await;
    // (Nodes also append entries of their own, e.g. ack_sync: sizes are lower bounds.)
    assert!(converge(&c0, &hc).await >= 4);
    assert!(converge(&c1, &hc).await >= 4);
    // Replicated state, not only the log: the registry holds the new nodes.
    let (_, nodes) = c1.get("/v1/nodes").await;
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 6, "{nodes}");

    // A fork forwards POST /v1/entries to the hub and returns its answer.
    let newcomer = key(120);
    let env = sign_entry_at(
        &m.hub,
        Operation::RegisterNode(NodeSpec {
            node_id: newcomer.node_id().to_owned(),
            node_type: NodeType::TrustFork,
            public_key: newcomer.public(),
            network_address: None,
            display_name: None,
            node_policy_capabilities: vec![],
        }),
        govmesh_node::now(),
    );
    let body = serde_json::to_value(&env).unwrap();
    let (s, r) = c0.post("/v1/entries", &body, None).await;
    assert_eq!(s, 201, "{r}");
    let index = r["index"].as_u64().unwrap();
    assert!(index >= 4, "{r}");
    assert_eq!(r["kind"], "register_node");
    let (_, on_hub) = hc.get(&format!("/v1/nodes/{}", newcomer.node_id())).await;
    assert_eq!(on_hub["node_id"], newcomer.node_id(), "{on_hub}");
    // The same entry again: the hub's refusal comes back as the hub gave it.
    let (s_hub, r_hub) = hc.post("/v1/entries", &body, None).await;
    let (s, r) = c0.post("/v1/entries", &body, None).await;
    assert_eq!((s, &r), (s_hub, &r_hub));
    assert_eq!(s, 409, "{r}");
    let n = converge(&c0, &hc).await;
    assert!(n > index);
    assert!(converge(&c1, &hc).await >= n);

    // What each node says about replication.
    let (s, repl) = c0.get("/v1/replication").await;
    assert_eq!(s, 200, "{repl}");
    assert_eq!(repl["replicating"], true);
    assert!(repl["size"].as_u64().unwrap() >= n, "{repl:#}");
    let hp = peer(&repl, &hub.url);
    assert_eq!(hp["node_id"], m.hub.node_id(), "{repl:#}");
    assert_eq!(hp["bad"], false, "{repl:#}");
    assert!(hp["last_pull"].is_string(), "{repl:#}");
    assert!(repl["seal_size"].as_u64().unwrap() >= 1, "{repl:#}");
    let (_, repl) = hc.get("/v1/replication").await;
    assert_eq!(repl["replicating"], false, "{repl}");
    // Each fork serves the seal it verified, so others can pull from it. The
    // fork stores the seal after the entries it covers, so poll until it has
    // caught up with the size the logs converged on; every seal it serves on
    // the way must verify.
    let t0 = Instant::now();
    loop {
        let (s, seal) = c1.get_text("/v1/log/seal").await;
        assert_eq!(s, 200, "{seal}");
        let note = govmesh_core::checkpoint::SignedNote::parse(&seal).unwrap();
        note.verify(&m.origin, &m.hub.public()).unwrap();
        if note.checkpoint().unwrap().size >= n {
            break;
        }
        assert!(
            t0.elapsed() < DEADLINE,
            "the fork's seal stayed below size {n}: {seal}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for n in [f0, f1, hub] {
        n.shutdown().await.unwrap();
    }
}

/// POSTs a peer-signed announce.
async fn announce(c: &Client, signer: &KeyPair, body: &str) -> (u16, Value) {
    let headers = govmesh_node::peer_auth::sign_request(
        signer,
        signer.node_id(),
        "POST",
        "/v1/replication/announce",
        body.as_bytes(),
    );
    let mut req = c
        .http
        .post(format!("{}/v1/replication/announce", c.url))
        .header("content-type", "text/plain")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announce_triggers_a_pull() {
    let m = Mesh::found(1);
    let hub = m.serve_hub().await;
    let hc = Client::new(&hub.url);
    // The timer would not fire again during the test: only announces make it pull.
    let fork = m
        .serve_fork(
            0,
            ServeOptions {
                replication_interval: Some(Duration::from_secs(3600)),
                ..ServeOptions::default()
            },
        )
        .await;
    let fc = Client::new(&fork.url);
    // The first round runs at start.
    let t0 = Instant::now();
    loop {
        let (_, r) = fc.get("/v1/replication").await;
        if r["rounds"].as_u64().unwrap() >= 1 && r["peers"][0]["last_pull"].is_string() {
            break;
        }
        assert!(t0.elapsed() < DEADLINE, "no first round: {r:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    grow(&hc, &m.hub_token(), 2, 130).await;
    let (_, cp) = hc.get_text("/v1/log/checkpoint").await;

    // Refusals first: unsigned, signed by an unknown key, a body that is no seal.
    let r = fc
        .http
        .post(format!("{}/v1/replication/announce", fc.url))
        .body(cp.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (s, v) = announce(&fc, &key(9), &cp).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = announce(&fc, &m.hub, "not a seal\n").await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "bad_seal");
    let (s, v) = announce(&fc, &m.hub, &cp).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["verified"], true, "{v}");
    assert!(v["announced_size"].as_u64().unwrap() >= 3, "{v}");
    assert!(converge(&fc, &hc).await >= 3);
    // A checkpoint signed by a non-hub is no seal either.
    let forged = Checkpoint {
        origin: m.origin.clone(),
        size: 3,
        root: Digest::sha256(b"x"),
        extensions: vec![],
    }
    .sign(&m.origin, &m.forks[0].0);
    // Signed by nobody this node trusts: not verified, only a reason to look.
    let (s, v) = announce(&fc, &m.hub, &forged.to_text()).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["verified"], false, "{v}");
    assert!(v.get("announced_size").is_none(), "{v}");

    fork.shutdown().await.unwrap();
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_fork_catches_up() {
    let m = Mesh::found(1);
    let hub = m.serve_hub().await;
    let hc = Client::new(&hub.url);
    let token = m.hub_token();
    let fork = m.serve_fork(0, fast()).await;
    grow(&hc, &token, 2, 140).await;
    assert!(converge(&Client::new(&fork.url), &hc).await >= 3);
    fork.shutdown().await.unwrap();

    grow(&hc, &token, 1001, 1000).await;
    let fork = m.serve_fork(0, fast()).await;
    let fc = Client::new(&fork.url);
    // More than one page of entries (1000) behind.
    assert!(converge(&fc, &hc).await >= 1004);
    // The round that appended them records where they came from.
    let t0 = Instant::now();
    loop {
        let (_, repl) = fc.get("/v1/replication").await;
        let pulled = peer(&repl, &hub.url)["entries_pulled"].as_u64().unwrap();
        if pulled >= 1001 {
            break;
        }
        assert!(t0.elapsed() < DEADLINE, "{repl:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fork.shutdown().await.unwrap();
    hub.shutdown().await.unwrap();
}

// ------------------------------------------------------------------ hostile peer

#[derive(Clone, Debug, PartialEq)]
enum Lie {
    /// Alters one entry in `/v1/log/entries`.
    TamperEntry,
    /// Serves a hub-signed checkpoint whose root is not the log's.
    ForkCheckpoint,
    /// The same, of the size of the seal the node at this URL serves (a same-size
    /// fork of what it holds).
    ForkAtSealOf(&'static str),
    /// Serves a hub-signed log one entry longer, whose last entry the state machine
    /// refuses (a vote on a proposal that does not exist).
    InvalidEntry,
}

struct Proxy {
    hub: String,
    lie: Lie,
    hub_key: KeyPair,
    origin: String,
    http: reqwest::Client,
}

impl Proxy {
    async fn fetch(&self, path_and_query: &str) -> (StatusCode, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path_and_query}", self.hub))
            .send()
            .await
            .unwrap();
        (r.status(), r.bytes().await.unwrap().to_vec())
    }

    async fn hub_records(&self) -> Vec<LogRecord> {
        let mut out: Vec<LogRecord> = Vec::new();
        loop {
            let (_, b) = self
                .fetch(&format!("/v1/log/entries?start={}", out.len()))
                .await;
            let v: Value = serde_json::from_slice(&b).unwrap();
            let page: Vec<LogRecord> = serde_json::from_value(v["entries"].clone()).unwrap();
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }

    /// The hub's log plus one refused entry, as the lying peer presents it.
    async fn invalid_log(&self) -> (Vec<LogRecord>, MerkleTree) {
        let mut recs = self.hub_records().await;
        // Signed at the last record's time, so every call builds the same log.
        let at = recs.last().unwrap().timestamp;
        let bad = sign_entry_at(
            &self.hub_key,
            Operation::Vote(VoteOp {
                proposal_id: "00000000-0000-4000-8000-000000000000".into(),
                choice: VoteChoice::Approve,
                reason: None,
                sequence: 0,
            }),
            at,
        );
        recs.push(LogRecord {
            index: recs.len() as u64,
            timestamp: at,
            envelope: bad,
        });
        let tree = MerkleTree::from_leaf_hashes(recs.iter().map(|r| r.leaf_hash()));
        (recs, tree)
    }

    fn sign(&self, size: u64, root: Digest) -> String {
        Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: vec![],
        }
        .sign(&self.origin, &self.hub_key)
        .to_text()
    }

    async fn answer(&self, method: Method, uri: Uri) -> Response {
        if method != Method::GET {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        let path = uri.path();
        let pq = uri.path_and_query().map_or(path, |p| p.as_str()).to_owned();
        let query: std::collections::HashMap<String, String> = uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let num = |k: &str| query.get(k).and_then(|v| v.parse::<u64>().ok());
        match (self.lie.clone(), path) {
            (Lie::ForkAtSealOf(node), "/v1/log/seal" | "/v1/log/checkpoint") => {
                let seal = self
                    .http
                    .get(format!("{node}/v1/log/seal"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let note = govmesh_core::checkpoint::SignedNote::parse(&seal).unwrap();
                let size = note.checkpoint().unwrap().size;
                self.sign(size, Digest::sha256(b"a forked root"))
                    .into_response()
            }
            (Lie::ForkCheckpoint, "/v1/log/seal" | "/v1/log/checkpoint") => {
                let (_, b) = self.fetch("/v1/status").await;
                let st: Value = serde_json::from_slice(&b).unwrap();
                let size = st["log_size"].as_u64().unwrap();
                self.sign(size, Digest::sha256(b"a forked root"))
                    .into_response()
            }
            (Lie::InvalidEntry, "/v1/log/seal" | "/v1/log/checkpoint") => {
                let (_, tree) = self.invalid_log().await;
                self.sign(tree.size(), tree.root()).into_response()
            }
            (Lie::InvalidEntry, "/v1/log/proof/consistency") => {
                let (_, tree) = self.invalid_log().await;
                let (from, to) = (num("from").unwrap(), num("to").unwrap());
                axum::Json(json!({
                    "from": from, "to": to,
                    "from_root": tree.root_at(from).unwrap(),
                    "to_root": tree.root_at(to).unwrap(),
                    "proof": tree.consistency_proof(from, to).unwrap(),
                }))
                .into_response()
            }
            (Lie::InvalidEntry, "/v1/log/entries") => {
                let (recs, _) = self.invalid_log().await;
                let start = num("start").unwrap_or(0) as usize;
                let end = num("end")
                    .map_or(recs.len(), |e| e as usize)
                    .min(recs.len());
                axum::Json(json!({"entries": recs[start.min(end)..end]})).into_response()
            }
            (Lie::TamperEntry, "/v1/log/entries") => {
                let (s, b) = self.fetch(&pq).await;
                let mut v: Value = serde_json::from_slice(&b).unwrap();
                if let Some(first) = v["entries"].get_mut(0) {
                    // One millisecond later: same entry, different bytes.
                    let t: govmesh_core::stamp::Timestamp =
                        serde_json::from_value(first["timestamp"].clone()).unwrap();
                    first["timestamp"] = serde_json::to_value(
                        govmesh_core::stamp::Timestamp::from_millis(t.millis() + 1),
                    )
                    .unwrap();
                }
                (s, axum::Json(v)).into_response()
            }
            _ => {
                let (s, b) = self.fetch(&pq).await;
                (s, Bytes::from(b)).into_response()
            }
        }
    }
}

async fn serve_proxy(proxy: Proxy) -> (String, tokio::task::JoinHandle<()>) {
    let proxy = Arc::new(proxy);
    let app = Router::new()
        .fallback(
            |State(p): State<Arc<Proxy>>, method: Method, uri: Uri| async move {
                p.answer(method, uri).await
            },
        )
        .with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

async fn hostile_peer_case(lie: Lie, reasons: &[&str]) {
    // The registry lists the hub where nothing listens, so the fork reaches the hub
    // only through the peers it is given: first the liar, then the hub. The liar is
    // thus always asked while the fork is behind.
    let (serving, listed) = (free_addr(), free_addr());
    let m = Mesh::found_with(1, serving, listed);
    let hub = m.serve_hub().await;
    let hc = Client::new(&hub.url);
    grow(&hc, &m.hub_token(), 3, 150).await;
    let (proxy_url, proxy_task) = serve_proxy(Proxy {
        hub: hub.url.clone(),
        lie: lie.clone(),
        hub_key: m.hub.clone(),
        origin: m.origin.clone(),
        http: reqwest::Client::new(),
    })
    .await;
    // The lying peer is given with --peer, so it is asked first.
    let fork = m
        .serve_fork(
            0,
            ServeOptions {
                peers: vec![proxy_url.clone(), hub.url.clone()],
                ..fast()
            },
        )
        .await;
    let fc = Client::new(&fork.url);
    let n = converge(&fc, &hc).await;
    assert!(n >= 4, "{lie:?}");
    let (_, repl) = fc.get("/v1/replication").await;
    let p = peer(&repl, &proxy_url);
    assert_eq!(p["bad"], true, "{lie:?}: {repl:#}");
    assert_eq!(p["source"], "option");
    let why = p["bad_reason"].as_str().unwrap();
    for reason in reasons {
        assert!(
            why.contains(reason),
            "{lie:?}: reason {why:?} lacks {reason:?}"
        );
    }
    if lie != Lie::InvalidEntry {
        // (With the invalid entry the valid records before it, which are the hub's,
        // were kept: they rebuild the signed root and pass the state machine.)
        assert_eq!(p["entries_pulled"], 0, "{repl:#}");
    }
    assert_eq!(peer(&repl, &hub.url)["bad"], false, "{repl:#}");
    // Nothing of the lie was stored: the fork's log is the hub's, entry for entry.
    let (_, mine) = fc.get(&format!("/v1/log/entries?end={n}")).await;
    let (_, theirs) = hc.get(&format!("/v1/log/entries?end={n}")).await;
    assert_eq!(mine, theirs);
    fork.shutdown().await.unwrap();
    hub.shutdown().await.unwrap();
    proxy_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_serving_a_tampered_entry_is_marked_bad() {
    hostile_peer_case(
        Lie::TamperEntry,
        // The peer's own inclusion proofs name the entry it changed.
        &[
            "tampered entry",
            "differs from the leaf the checkpoint commits to",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_serving_a_forked_checkpoint_is_marked_bad() {
    hostile_peer_case(Lie::ForkCheckpoint, &["forked checkpoint"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_serving_an_entry_the_state_machine_refuses_is_marked_bad() {
    hostile_peer_case(Lie::InvalidEntry, &["fails the state machine"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_size_fork_becomes_evidence_in_the_log() {
    let m = Mesh::found(1);
    let hub = m.serve_hub().await;
    let hc = Client::new(&hub.url);
    grow(&hc, &m.hub_token(), 3, 160).await;
    let fork = m.serve_fork(0, fast()).await;
    let fc = Client::new(&fork.url);
    // Wait until the fork holds a seal of its whole log.
    let t0 = Instant::now();
    let sealed = loop {
        let n = converge(&fc, &hc).await;
        let (_, repl) = fc.get("/v1/replication").await;
        if repl["seal_size"] == n {
            break n;
        }
        assert!(t0.elapsed() < DEADLINE, "{repl:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(sealed >= 4);
    let fork_url: &'static str = Box::leak(fork.url.clone().into_boxed_str());
    fork.shutdown().await.unwrap();

    // Back with a peer that serves a hub-signed checkpoint of the same size and
    // another root: two hub-signed notes, one size, two roots.
    let (proxy_url, proxy_task) = serve_proxy(Proxy {
        hub: hub.url.clone(),
        lie: Lie::ForkAtSealOf(fork_url),
        hub_key: m.hub.clone(),
        origin: m.origin.clone(),
        http: reqwest::Client::new(),
    })
    .await;
    let fork = m
        .serve_fork(
            0,
            ServeOptions {
                peers: vec![proxy_url.clone()],
                ..fast()
            },
        )
        .await;
    let fc = Client::new(&fork.url);
    let t0 = Instant::now();
    let forks = loop {
        let (_, eq) = hc.get("/v1/equivocations").await;
        if !eq["checkpoint_forks"].as_array().unwrap().is_empty() {
            break eq["checkpoint_forks"].clone();
        }
        let (_, repl) = fc.get("/v1/replication").await;
        assert!(
            t0.elapsed() < DEADLINE,
            "no evidence in the hub's log: {repl:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(forks[0]["size"].as_u64().unwrap() >= sealed, "{forks:#}");
    assert_eq!(forks[0]["reported_by"], m.forks[0].0.node_id(), "{forks:#}");
    // The round that found it marks the peer once the evidence is submitted.
    let t0 = Instant::now();
    let repl = loop {
        let (_, repl) = fc.get("/v1/replication").await;
        if peer(&repl, &proxy_url)["bad"] == true {
            break repl;
        }
        assert!(t0.elapsed() < DEADLINE, "{repl:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let p = peer(&repl, &proxy_url);
    assert!(
        p["bad_reason"]
            .as_str()
            .unwrap()
            .contains("forked checkpoint"),
        "{repl:#}"
    );
    assert_eq!(repl["evidence"][0]["kind"], "checkpoint_fork", "{repl:#}");
    // The evidence entry itself replicates back to the fork.
    assert!(converge(&fc, &hc).await > sealed);
    fork.shutdown().await.unwrap();
    hub.shutdown().await.unwrap();
    proxy_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_witness_forks_replicate_what_is_sealed() {
    let a = free_addr();
    let m = Mesh::found_roles(&[NodeType::ComplianceWitness, NodeType::TrustFork], a, a);
    let hub = m.serve_hub().await;
    let hc = Client::new(&hub.url);
    let witness = m.serve_fork(0, fast()).await;
    let fork = m.serve_fork(1, fast()).await;
    let (wc, fc) = (Client::new(&witness.url), Client::new(&fork.url));
    grow(&hc, &m.hub_token(), 3, 170).await;
    // The witness replicates too, and both reach the hub once the log is sealed.
    let n = converge(&fc, &hc).await;
    assert!(n >= 4);
    assert!(converge(&wc, &hc).await >= 4);

    // What the fork holds is witnessed: its seal carries the witness's cosignature
    // (clause 5.4 threshold with one witness: 1), and a bare hub checkpoint is not
    // enough for it.
    let t0 = Instant::now();
    let seal = loop {
        let (s, seal) = fc.get_text("/v1/log/seal").await;
        if s == 200 {
            break seal;
        }
        assert!(t0.elapsed() < DEADLINE, "no seal on the fork: {s} {seal}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let note = govmesh_core::checkpoint::SignedNote::parse(&seal).unwrap();
    let witness_name = format!("govmesh-witness/{}", m.forks[0].0.node_id());
    assert!(
        note.signatures.iter().any(|s| s.name == witness_name),
        "{seal}"
    );
    let (_, repl) = fc.get("/v1/replication").await;
    assert!(repl["seal_size"].as_u64().unwrap() >= 4, "{repl:#}");
    let (_, cp) = hc.get_text("/v1/log/checkpoint").await;
    let (s, v) = announce(&fc, &m.hub, &cp).await;
    assert_eq!((s, &v["verified"]), (202, &json!(false)), "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("seal_threshold"),
        "{v}"
    );
    for n in [fork, witness, hub] {
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_follow_a_three_hub_council_and_forward_through_any_hub() {
    let hubs: Vec<(KeyPair, SocketAddr)> = (0..3).map(|i| (key(90 + i), free_addr())).collect();
    let forks: Vec<(KeyPair, SocketAddr)> = (0..2).map(|i| (key(95 + i), free_addr())).collect();
    let mut founders: Vec<NodeSpec> = hubs
        .iter()
        .map(|(k, a)| spec(k, NodeType::GovernanceHub, *a))
        .collect();
    founders.extend(forks.iter().map(|(k, a)| spec(k, NodeType::TrustFork, *a)));
    let genesis = mesh_genesis("council-replication", &hubs[0].0, founders, now()).unwrap();
    let mut dirs = Vec::new();
    let mut nodes = Vec::new();
    for (k, a) in hubs.iter().chain(&forks) {
        let d = tempfile::tempdir().unwrap();
        join(d.path(), k.clone(), &genesis).unwrap();
        nodes.push(serve_with(d.path(), *a, fast()).await.unwrap());
        dirs.push(d);
    }
    let clients: Vec<Client> = nodes.iter().map(|n| Client::new(&n.url)).collect();
    let (hub_clients, fork_clients) = clients.split_at(3);

    // Entries signed by each hub, submitted to each fork: forwarded to a hub, ordered
    // by the council, replicated back to both forks.
    for (i, (k, _)) in hubs.iter().enumerate() {
        let newcomer = nth_key(200 + i as u32);
        let env = sign_entry_at(
            k,
            Operation::RegisterNode(NodeSpec {
                node_id: newcomer.node_id().to_owned(),
                node_type: NodeType::TrustFork,
                public_key: newcomer.public(),
                network_address: None,
                display_name: None,
                node_policy_capabilities: vec![],
            }),
            govmesh_node::now(),
        );
        let fc = &fork_clients[i % 2];
        let t0 = Instant::now();
        loop {
            let (s, r) = fc
                .post("/v1/entries", &serde_json::to_value(&env).unwrap(), None)
                .await;
            if s == 201 {
                break;
            }
            // Until the council has elected its first leader.
            assert_eq!(s, 503, "{r}");
            assert!(t0.elapsed() < DEADLINE, "{r}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for fc in fork_clients {
        for hc in hub_clients {
            assert!(converge(fc, hc).await >= 4);
        }
        let (_, nodes) = fc.get("/v1/nodes").await;
        assert!(nodes["nodes"].as_array().unwrap().len() >= 8, "{nodes}");
    }
    // Forks first: nothing is then forwarded to a council that is losing its quorum.
    for n in nodes.into_iter().rev() {
        n.shutdown().await.unwrap();
    }
}
