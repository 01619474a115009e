//! Harness for fault tests with real processes: founds a mesh with `govmesh init`
//! (founders of every role on loopback ports picked at run time, or behind addresses
//! the test chooses, e.g. proxies), runs each node as its own `govmesh serve`, kills
//! and restarts them, and polls the API with deadlines (leader, sizes, roots).

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct MeshNode {
    pub name: String,
    pub node_type: &'static str,
    pub dir: PathBuf,
    /// Where the node listens.
    pub listen: String,
    /// Its URL (where it listens).
    pub url: String,
    /// Its registered address, when a proxy stands there instead of the node.
    pub proxied: bool,
    pub node_id: String,
    pub proc: Option<Running>,
}

impl MeshNode {
    /// Starts `govmesh serve --data DIR --listen ADDR`, its log appended to
    /// `DIR/serve.log` (shown if the test fails).
    pub fn start(&mut self) {
        self.start_with_args(&[]);
    }

    /// [`MeshNode::start`] with more `serve` arguments.
    pub fn start_with_args(&mut self, extra: &[&str]) {
        assert!(self.proc.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("serve.log"))
            .unwrap();
        let mut args = vec!["serve", "--data", s(&self.dir), "--listen", &self.listen];
        if self.proxied {
            args.push("--behind-proxy");
        }
        args.extend(extra);
        let r = Running::start_with_stderr(&args, log.into());
        assert_eq!(r.url, self.url, "{} came back on its address", self.name);
        self.proc = Some(r);
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        let mut r = self.proc.take().expect("running");
        r.child.kill().unwrap();
        r.child.wait().unwrap();
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("node.key")
    }
}

pub struct Mesh {
    pub nodes: Vec<MeshNode>,
    _dir: tempfile::TempDir,
}

/// How many nodes of each role; `address(i)` may give node i (in hub, witness, fork
/// order) another registry address than where it listens (a proxy).
pub struct Plan {
    pub hubs: usize,
    pub witnesses: usize,
    pub forks: usize,
}

impl Drop for Mesh {
    /// On a failed test, the end of every node's log.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for n in &self.nodes {
            let text = std::fs::read_to_string(n.dir.join("serve.log")).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "---- {} ({}, {}) serve.log, last lines:\n{}",
                n.name,
                n.node_type,
                n.node_id,
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
    }
}

impl Mesh {
    /// Founds and starts a mesh whose registry addresses are where the nodes listen.
    pub fn start(plan: Plan) -> Mesh {
        Mesh::start_with(plan, |_, listen| format!("http://{listen}"))
    }

    /// Founds a mesh: keys, `init` of hub-1 with every founder and its registry
    /// address `address(index, listen)` (called once per node), `init --genesis` of
    /// the others; then serves every node and waits for a council leader.
    pub fn start_with(plan: Plan, address: impl Fn(usize, &str) -> String) -> Mesh {
        let d = tmp();
        let root = d.path();
        let mut nodes = Vec::new();
        let mut founders: Vec<(String, String)> = Vec::new();
        let mut addrs = Vec::new();
        for (prefix, ty, n, flag) in [
            ("hub", "governance_hub", plan.hubs, "--founder"),
            ("witness", "compliance_witness", plan.witnesses, "--witness"),
            ("fork", "trust_fork", plan.forks, "--fork"),
        ] {
            for i in 1..=n {
                let name = format!("{prefix}-{i}");
                let key = root.join(format!("{name}.key"));
                ok(&["key", "new", "--out", s(&key)]);
                let listen = format!("127.0.0.1:{}", free_port());
                let addr = address(nodes.len(), &listen);
                let proxied = addr != format!("http://{listen}");
                founders.push((flag.to_owned(), format!("{}@{addr}", s(&key))));
                addrs.push(addr);
                nodes.push(MeshNode {
                    name: name.clone(),
                    node_type: ty,
                    dir: root.join(&name),
                    url: format!("http://{listen}"),
                    listen,
                    node_id: String::new(),
                    proxied,
                    proc: None,
                });
            }
        }
        let first_key = root.join("hub-1.key");
        // Not a second `address(0, ..)`: a test that starts a proxy per call would put
        // an extra proxy, which it cannot name, in hub-1's registry entry.
        let first_addr = addrs[0].clone();
        let mut args: Vec<String> = [
            "--json",
            "init",
            "--data",
            s(&nodes[0].dir),
            "--mesh-name",
            "faults",
            "--key",
            s(&first_key),
            "--network-address",
            &first_addr,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        for (flag, v) in &founders[1..] {
            args.push(flag.clone());
            args.push(v.clone());
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        nodes[0].node_id = ok_json(&a)["node_id"].as_str().unwrap().to_owned();
        let genesis = nodes[0].dir.join("genesis.json");
        for n in &mut nodes[1..] {
            let key = root.join(format!("{}.key", n.name));
            let j = ok_json(&[
                "--json",
                "init",
                "--data",
                s(&n.dir),
                "--genesis",
                s(&genesis),
                "--key",
                s(&key),
            ]);
            assert_eq!(j["node_type"], n.node_type);
            n.node_id = j["node_id"].as_str().unwrap().to_owned();
        }
        for n in &mut nodes {
            n.start();
        }
        let m = Mesh { nodes, _dir: d };
        m.leader();
        m
    }

    pub fn node(&mut self, name: &str) -> &mut MeshNode {
        self.nodes.iter_mut().find(|n| n.name == name).unwrap()
    }

    pub fn hubs(&self) -> impl Iterator<Item = &MeshNode> {
        self.nodes
            .iter()
            .filter(|n| n.node_type == "governance_hub")
    }

    /// The council leader's node id as a running hub sees it, polled until one is
    /// elected (panics after [`WAIT`]).
    pub fn leader(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            for h in self.hubs().filter(|h| h.proc.is_some()) {
                if let Some(v) = try_get(&h.url, "/v1/council")
                    && let Some(id) = v["leader"]["node_id"].as_str()
                {
                    // A running leader: a stale one just killed does not count.
                    if self
                        .nodes
                        .iter()
                        .any(|n| n.node_id == id && n.proc.is_some())
                    {
                        return id.to_owned();
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no council leader within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every running node holds the same log (size and root) and returns
    /// it; panics with every node's view after [`WAIT`].
    pub fn converged(&self) -> (u64, String) {
        let deadline = Instant::now() + WAIT;
        loop {
            let views: Vec<(String, Option<(u64, String)>)> = self
                .nodes
                .iter()
                .filter(|n| n.proc.is_some())
                .map(|n| (n.name.clone(), log_head(&n.url)))
                .collect();
            let first = views[0].1.clone();
            if let Some(head) = &first
                && views.iter().all(|(_, v)| *v == first)
            {
                return head.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the nodes did not converge within {WAIT:?}: {views:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// (log size, root) of a node, if it answers.
pub fn log_head(url: &str) -> Option<(u64, String)> {
    let v = try_get(url, "/v1/status")?;
    Some((v["log_size"].as_u64()?, v["root"].as_str()?.to_owned()))
}

/// GET a JSON document; none if the node does not answer 2xx.
pub fn try_get(url: &str, path: &str) -> Option<Value> {
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?
        .get(format!("{url}{path}"))
        .send()
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().ok()
}

/// `govmesh propose` of a small change to clause 11.1 through `url`, signed with
/// `key`; the proposal id if the node acknowledged it.
pub fn propose(url: &str, key: &Path, n: usize) -> Option<String> {
    let o = govmesh(&[
        "propose",
        "--node",
        url,
        "--key",
        s(key),
        "--clause",
        "11.1",
        "--text",
        &format!("Fault test text {n}."),
        "--rationale",
        "fault test",
    ]);
    o.status
        .success()
        .then(|| stdout(&o).trim().to_owned())
        .filter(|id| !id.is_empty())
}
