//! `govmesh demo`: founds a mesh of governance hubs, compliance witnesses and trust
//! forks in one directory, runs every node as its own `govmesh serve` child process on
//! loopback, and then — over HTTP, as any client would, through different nodes — runs
//! one proposal through a vote into contract revision 2 and leaves a second one open.
//! `DIR/mesh.json` lists the nodes for scripts; `DIR/keys/` holds the hubs' voting
//! identities. A second run on the same directory restarts the nodes and skips the
//! story. Ctrl-C stops every child.

use crate::client::NodeClient;
use crate::commands::{ProposeArgs, print_diff, propose_op, rules_diff};
use crate::keyfile;
use crate::local::{DEFAULT_LISTEN, init_tracing, parse_listen, runtime, stop_signal};
use crate::logging::LogFormat;
use anyhow::{Context, Result, bail};
use govmesh_core::entry::{NodeSpec, Operation, VoteOp};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{NodeType, VoteChoice};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The file listing the demo's nodes.
pub const MESH_FILE: &str = "mesh.json";
/// How long the demo waits for a node to come up, a leader to be elected, or the
/// nodes to agree, before it gives up (or, for agreement, says so and goes on).
const WAIT: Duration = Duration::from_secs(60);

/// How many nodes of each role.
#[derive(Debug, Clone, Copy)]
pub struct MeshSize {
    pub hubs: usize,
    pub witnesses: usize,
    pub forks: usize,
}

/// One node of `mesh.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeshNode {
    /// Short name: hub-1, witness-1, fork-1, ...
    pub name: String,
    pub node_id: String,
    pub node_type: NodeType,
    pub url: String,
    /// The node's data directory (`govmesh serve --data` it).
    pub data: PathBuf,
    /// The serving process, while the demo runs.
    pub pid: Option<u32>,
}

/// `DIR/mesh.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeshFile {
    pub mesh_name: String,
    pub mesh_id: String,
    /// The first hub's web page.
    pub dashboard: String,
    pub nodes: Vec<MeshNode>,
}

impl MeshFile {
    pub fn read(dir: &Path) -> Result<MeshFile> {
        let p = dir.join(MESH_FILE);
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a demo mesh file", p.display()))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let p = dir.join(MESH_FILE);
        let tmp = dir.join(format!("{MESH_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self)? + "\n";
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))
    }
}

fn default_dir() -> PathBuf {
    let t = time::OffsetDateTime::now_utc();
    PathBuf::from(format!(
        "govmesh-demo-{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn key_path(dir: &Path, i: usize) -> PathBuf {
    dir.join("keys").join(format!("hub-{i}.key"))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A free loopback port ([`govmesh_node::free_loopback_port`]).
pub fn free_port() -> Result<u16> {
    govmesh_node::free_loopback_port().context("picking a free loopback port")
}

/// The first hub's address: `listen` if given (port 0 picks one), else the default if
/// free, else a free port.
fn first_address(listen: Option<&str>) -> Result<String> {
    match listen {
        Some(l) => {
            let a = parse_listen(l)?;
            if a.port() == 0 {
                Ok(format!("{}:{}", a.ip(), free_port()?))
            } else {
                Ok(a.to_string())
            }
        }
        None => {
            if TcpListener::bind(DEFAULT_LISTEN).is_ok() {
                Ok(DEFAULT_LISTEN.to_owned())
            } else {
                say(&format!(
                    "{DEFAULT_LISTEN} is taken; the first hub listens on a free port instead"
                ));
                Ok(format!("127.0.0.1:{}", free_port()?))
            }
        }
    }
}

/// Creates `DIR/keys` (0700).
fn keys_dir(dir: &Path) -> Result<()> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("cannot create {}", keys.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", keys.display()))?;
    }
    Ok(())
}

/// Founds a mesh of `size` in `dir/nodes/<name>`: keys, addresses on free loopback
/// ports (the first hub on `first`), one genesis signed by hub-1, every node joined.
/// Hub keys are also written to `dir/keys/hub-<i>.key` (the voting identities).
pub fn create_mesh(dir: &Path, mesh_name: &str, size: MeshSize, first: &str) -> Result<MeshFile> {
    if size.hubs == 0 {
        bail!("--hubs must be at least 1: the council orders the log");
    }
    keys_dir(dir)?;
    let mut plan: Vec<(String, NodeType, KeyPair, String)> = Vec::new();
    for (prefix, ty, n) in [
        ("hub", NodeType::GovernanceHub, size.hubs),
        ("witness", NodeType::ComplianceWitness, size.witnesses),
        ("fork", NodeType::TrustFork, size.forks),
    ] {
        for i in 1..=n {
            let name = format!("{prefix}-{i}");
            let key = if ty == NodeType::GovernanceHub {
                keyfile::create(&key_path(dir, i))?
            } else {
                keyfile::generate()?
            };
            let addr = if plan.is_empty() {
                first.to_owned()
            } else {
                format!("127.0.0.1:{}", free_port()?)
            };
            plan.push((name, ty, key, addr));
        }
    }
    let founders: Vec<NodeSpec> = plan
        .iter()
        .map(|(name, ty, key, addr)| NodeSpec {
            node_id: key.node_id().to_owned(),
            node_type: *ty,
            public_key: key.public(),
            network_address: Some(format!("http://{addr}")),
            display_name: Some(name.clone()),
            node_policy_capabilities: Vec::new(),
        })
        .collect();
    let genesis = govmesh_node::mesh_genesis(mesh_name, &plan[0].2, founders, govmesh_node::now())?;
    let mut nodes = Vec::new();
    let mut mesh_id = String::new();
    for (name, ty, key, addr) in plan {
        let data = dir.join("nodes").join(&name);
        let info = govmesh_node::join(&data, key, &genesis)?;
        mesh_id = info.mesh_id;
        nodes.push(MeshNode {
            name,
            node_id: info.node_id,
            node_type: ty,
            url: format!("http://{addr}"),
            data,
            pid: None,
        });
    }
    let mesh = MeshFile {
        mesh_name: mesh_name.to_owned(),
        mesh_id,
        dashboard: format!("{}/", nodes[0].url),
        nodes,
    };
    mesh.write(dir)?;
    Ok(mesh)
}

/// The serving child processes; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Children {
    pub procs: Vec<(String, Child)>,
}

impl Children {
    /// Asks every child to stop (SIGTERM) and waits for it; kills what is left after
    /// `grace`.
    pub fn stop(&mut self, grace: Duration) {
        for (_, c) in &mut self.procs {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let deadline = Instant::now() + grace;
        for (_, c) in &mut self.procs {
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        self.procs.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Starts `govmesh serve --data <node>` for every node (on the address in its
/// `node.json`), its output appended to `<node>/serve.log`, and waits until each
/// answers `GET /v1/status`. A child is told to stop when this process goes away
/// (its stdin closes), so a killed demo leaves no nodes behind.
pub fn start_nodes(mesh: &mut MeshFile, log_format: LogFormat) -> Result<Children> {
    let exe = std::env::current_exe().context("finding the govmesh executable")?;
    let mut children = Children { procs: Vec::new() };
    for n in &mut mesh.nodes {
        let log_path = n.data.join("serve.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = Command::new(&exe);
        cmd.args(["serve", "--stop-with-parent", "--data"])
            .arg(&n.data)
            .arg("--log-format")
            .arg(match log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            })
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log);
        if std::env::var_os("GOVMESH_LOG").is_none() {
            cmd.env("GOVMESH_LOG", "info");
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} ({})", n.name, exe.display()))?;
        n.pid = Some(child.id());
        children.procs.push((n.name.clone(), child));
    }
    for (i, n) in mesh.nodes.iter().enumerate() {
        wait_up(n, &mut children.procs[i].1)?;
    }
    Ok(children)
}

/// Whether the process `pid` still runs `govmesh serve` on `data` (a demo killed a
/// moment ago leaves nodes that are still closing their ledgers). Reads `/proc`; where
/// there is none, says no.
fn still_serving(pid: u32, data: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let data = data.to_string_lossy();
    let ours = cmdline.split(|b| *b == 0).any(|arg| arg == data.as_bytes());
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    ours && !zombie
}

/// Waits until the processes `mesh.json` recorded for its nodes have exited.
fn wait_previous_gone(mesh: &MeshFile) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    for n in &mesh.nodes {
        let Some(pid) = n.pid else { continue };
        while still_serving(pid, &n.data) {
            if Instant::now() > deadline {
                bail!(
                    "node {} still runs as process {pid}; stop it first (kill {pid})",
                    n.name
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// How long a node may take to answer after it was started (issue 16: a resume that
/// cannot reach a node says which and why within 30 s).
const UP_WAIT: Duration = Duration::from_secs(30);

/// Polls the node until it answers as itself; fails naming the node, the address and
/// the reason (with its log's tail) if the process exits, if it came up at another
/// address than the mesh's, or if [`UP_WAIT`] passes.
fn wait_up(n: &MeshNode, child: &mut Child) -> Result<()> {
    let client = NodeClient::new(&n.url)?;
    let deadline = Instant::now() + UP_WAIT;
    let log = n.data.join("serve.log");
    loop {
        let last = match client.get("/v1/status") {
            Ok(v) if v.get("node_id").and_then(Value::as_str) == Some(&n.node_id) => {
                return Ok(());
            }
            Ok(v) => format!(
                "another node answers there ({})",
                v.get("node_id")
                    .and_then(Value::as_str)
                    .unwrap_or("no node id")
            ),
            Err(e) => format!("{e:#}"),
        };
        if let Ok(Some(st)) = child.try_wait() {
            bail!(
                "node {} exited ({st}) before it came up; the end of {}:\n{}",
                n.name,
                log.display(),
                log_tail(&log)
            );
        }
        // `serve` writes where it listens; a node moved elsewhere is not waited for.
        if let Ok(at) = std::fs::read_to_string(n.data.join(govmesh_node::URL_FILE))
            && at.trim() != n.url.trim_end_matches('/')
        {
            bail!(
                "node {} listens at {} but the mesh expects it at {} (its node.json was \
                 changed?); stop the demo and serve it at its registered address",
                n.name,
                at.trim(),
                n.url
            );
        }
        if Instant::now() > deadline {
            bail!(
                "node {} did not answer at {} within {UP_WAIT:?}: {last}; the end of {}:\n{}",
                n.name,
                n.url,
                log.display(),
                log_tail(&log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn log_tail(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Whether the hubs run a council (`GET /v1/council` answers) and, if so, waits for a
/// leader. Without one every submission goes through hub-1.
fn wait_council(hub1: &str) -> Result<bool> {
    let client = NodeClient::new(hub1)?;
    let deadline = Instant::now() + WAIT;
    loop {
        match client.get("/v1/council") {
            Ok(v) if !v["leader"].is_null() => return Ok(true),
            Ok(_) => {}
            Err(e) if format!("{e:#}").contains("404") => return Ok(false),
            Err(_) => {}
        }
        if Instant::now() > deadline {
            bail!("the council elected no leader within {WAIT:?} (see the hubs' serve.log)");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until every node holds the same log (size and root) as hub-1 and the log has
/// settled; returns the nodes that do not after `deadline`. Settled: every contract
/// sync record on hub-1 is past `in_progress` (each node's `ack_sync` of the adopted
/// revision is in the log: the acks arrive after the story's last entry, so a log
/// that is merely equal can still grow), or the equal log has not changed for 3 s
/// (a node that never acknowledges).
pub fn wait_converged(mesh: &MeshFile, deadline: Duration) -> Vec<String> {
    const QUIET: Duration = Duration::from_secs(3);
    let end = Instant::now() + deadline;
    let mut same_since: Option<(Instant, (u64, String))> = None;
    loop {
        let status = |url: &str| -> Option<(u64, String)> {
            let v = NodeClient::new(url).ok()?.get("/v1/status").ok()?;
            Some((v["log_size"].as_u64()?, v["root"].as_str()?.to_owned()))
        };
        let want = status(&mesh.nodes[0].url);
        let behind: Vec<String> = mesh
            .nodes
            .iter()
            .filter(|n| want.is_none() || status(&n.url) != want)
            .map(|n| n.name.clone())
            .collect();
        if Instant::now() > end {
            return behind;
        }
        if let (true, Some(w)) = (behind.is_empty(), want) {
            let since = match &same_since {
                Some((t, v)) if *v == w => *t,
                _ => Instant::now(),
            };
            same_since = Some((since, w));
            if all_synced(&mesh.nodes[0].url) || since.elapsed() >= QUIET {
                return behind;
            }
        } else {
            same_since = None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether every contract sync record on the node is past `created`/`in_progress`.
fn all_synced(url: &str) -> bool {
    let Some(v) = NodeClient::new(url).ok().and_then(|c| {
        c.get_list("/v1/sync", &[], "sync_records", &Default::default())
            .ok()
    }) else {
        return false;
    };
    v["sync_records"].as_array().is_some_and(|records| {
        records
            .iter()
            .all(|r| !matches!(r["status"].as_str(), Some("created" | "in_progress") | None))
    })
}

pub fn run(
    data: Option<PathBuf>,
    listen: Option<String>,
    size: MeshSize,
    log_format: LogFormat,
) -> Result<i32> {
    init_tracing(log_format);
    let dir = data.unwrap_or_else(default_dir);
    // Say where, absolutely: the hints below name files in it.
    let dir = if dir.is_relative() {
        std::env::current_dir()
            .context("the current directory")?
            .join(dir)
    } else {
        dir
    };
    let resume = dir.join(MESH_FILE).exists();
    let mut mesh = if resume {
        say(&format!(
            "resuming the demo in {} (delete it to start over)",
            dir.display()
        ));
        let mesh = MeshFile::read(&dir)?;
        wait_previous_gone(&mesh)?;
        mesh
    } else {
        if dir.join("nodes").exists() {
            bail!(
                "{} holds a half-created demo (nodes/ without {MESH_FILE}); delete it or pick another --data",
                dir.display()
            );
        }
        say(&format!("creating a demo mesh in {}", dir.display()));
        let first = first_address(listen.as_deref())?;
        let mesh = create_mesh(&dir, "govmesh-demo", size, &first)?;
        say(&format!(
            "founded mesh govmesh-demo: {} governance hubs, {} compliance witnesses, {} trust forks (hub keys in {})",
            size.hubs,
            size.witnesses,
            size.forks,
            dir.join("keys").display()
        ));
        mesh
    };
    let hubs = mesh
        .nodes
        .iter()
        .filter(|n| n.node_type == NodeType::GovernanceHub)
        .count();
    let keys = (1..=hubs)
        .map(|i| keyfile::read(&key_path(&dir, i)))
        .collect::<Result<Vec<_>>>()?;

    let mut children = start_nodes(&mut mesh, log_format)?;
    mesh.write(&dir)?;
    for n in &mesh.nodes {
        say(&format!(
            "govmesh node {} ({}, {}) listening on {}",
            n.name,
            serde_json::to_value(n.node_type)?.as_str().unwrap_or("?"),
            n.node_id,
            n.url
        ));
    }

    let story = wait_council(&mesh.nodes[0].url).and_then(|council| {
        if resume {
            open_proposals(&mesh.nodes[0].url)
        } else {
            // Without a council only hub-1 orders; with one, any node takes entries.
            let through: Vec<&MeshNode> = if council {
                mesh.nodes.iter().collect()
            } else {
                say("(no council on these hubs: every entry goes through hub-1)");
                vec![&mesh.nodes[0]]
            };
            story(&through, &keys).map(|open| vec![open])
        }
    });
    let open = match story {
        Ok(o) => o,
        Err(e) => {
            children.stop(Duration::from_secs(10));
            return Err(e.context("the demo story failed"));
        }
    };
    let behind = wait_converged(&mesh, WAIT);
    if behind.is_empty() {
        if mesh.nodes.len() == 1 {
            say("the node holds the whole log");
        } else {
            say(&format!("all {} nodes hold the same log", mesh.nodes.len()));
        }
    } else {
        say(&format!(
            "not yet at hub-1's log after {WAIT:?}: {} (see their serve.log)",
            behind.join(", ")
        ));
    }

    let url = mesh.nodes[0].url.clone();
    say("");
    say("try (in another terminal):");
    if let Ok(exe) = std::env::current_exe() {
        // `cargo run` users have no `govmesh` on their PATH yet.
        if let Some(bin) = exe.parent() {
            say(&format!("  export PATH=\"{}:$PATH\"", bin.display()));
        }
    }
    let kp = |i| key_path(&dir, i).display().to_string();
    say(&format!("  export GOVMESH_NODE={url}"));
    say("  govmesh status");
    say("  govmesh contract history codex");
    say("  govmesh contract diff codex --from 1 --to 2");
    say("  govmesh proposal list");
    if let Some(last) = mesh.nodes.last() {
        say(&format!("  govmesh status --node {}", last.url));
    }
    for p in &open {
        say(&format!("  govmesh proposal show {p}"));
        for i in (1..=hubs).filter(|&i| i != 2 || hubs == 1) {
            say(&format!("  govmesh vote --key {} {p} approve", kp(i)));
        }
    }
    say("  govmesh verify");
    say(&format!("  jq . {}", dir.join(MESH_FILE).display()));
    say(&format!(
        "  open {} in a browser; the API is under {url}/v1/",
        mesh.dashboard
    ));
    say("");
    say(&format!(
        "serving {} nodes (dashboard {}) until Ctrl-C",
        mesh.nodes.len(),
        mesh.dashboard
    ));

    let rt = runtime()?;
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut gone = std::collections::BTreeSet::new();
        let stop = stop_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => {}
            }
            for (name, c) in &mut children.procs {
                if let Ok(Some(st)) = c.try_wait()
                    && gone.insert(name.clone())
                {
                    say(&format!(
                        "node {name} exited ({st}); restart it with govmesh serve --data {}",
                        dir.join("nodes").join(&*name).display()
                    ));
                }
            }
        }
    });
    say("shutting down");
    children.stop(Duration::from_secs(15));
    for n in &mut mesh.nodes {
        n.pid = None;
    }
    mesh.write(&dir)?;
    Ok(0)
}

fn open_proposals(url: &str) -> Result<Vec<String>> {
    let client = NodeClient::new(url)?;
    let l = client.get_list(
        "/v1/proposals",
        &[("status", "voting".to_owned())],
        "proposals",
        &Default::default(),
    )?;
    Ok(l.get("proposals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p.get("proposal_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect())
}

fn events(resp: &Value) -> Vec<Value> {
    resp.get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The story: hub-1 proposes to amend clause 5.2.5; the hubs vote approve, reject (hub-2,
/// when there are three hubs or more), approve... until it is adopted; then hub-2 (or
/// hub-1) proposes a change to clause 11.0 that stays open. Entries go through the
/// nodes of `through` in turn. Returns the open proposal's id.
fn story(through: &[&MeshNode], keys: &[KeyPair]) -> Result<String> {
    let mut turn = 0usize;
    let mut next = || {
        let n = through[turn % through.len()];
        turn += 1;
        n
    };
    let node = next();
    let client = NodeClient::new(&node.url)?;
    let codex = client.get("/v1/contracts/codex")?;
    let text_of = |id: &str| -> Result<String> {
        codex
            .get("clauses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("clause_id").and_then(Value::as_str) == Some(id))
            .and_then(|c| c.get("text").and_then(Value::as_str))
            .map(str::to_owned)
            .with_context(|| format!("the node's codex has no clause {id}"))
    };

    say("");
    say(&format!(
        "1. hub-1 proposes to amend clause 5.2.5 (repository hygiene): contributing guidelines become required, through {}",
        node.name
    ));
    let args = ProposeArgs {
        contract: "codex".into(),
        clause: "5.2.5".into(),
        text: format!(
            "{}\nEvery repository states how contributions are proposed and reviewed.",
            text_of("5.2.5")?
        ),
        rationale: "Contributors who cannot find the rules send changes nobody can review.".into(),
        rules_patch: None,
        domain: None,
        voting_period: None,
        scope: None,
        local_node: None,
        resolves: None,
        expedited: false,
    };
    // structure/contributing is the third rule of clause 5.2.5: a warning becomes an
    // error, which `govmesh hygiene --node` then enforces.
    let patch = json!([{"op": "replace", "path": "/rules/2/severity", "value": "error"}]);
    let op = propose_op(&client, &args, rules_diff(&patch)?)?;
    let pid = op.proposal_id.clone();
    client.submit(&keys[0], Operation::Propose(op))?;
    say(&format!("   proposal {pid} is open for voting"));

    let mut adopted = None;
    let mut last_client = client;
    for (i, key) in keys.iter().enumerate() {
        let choice = if i == 1 && keys.len() >= 3 {
            VoteChoice::Reject
        } else {
            VoteChoice::Approve
        };
        let node = next();
        let c = NodeClient::new(&node.url)?;
        let resp = c.submit(
            key,
            Operation::Vote(VoteOp {
                proposal_id: pid.clone(),
                choice,
                reason: None,
                sequence: 0,
            }),
        )?;
        let word = serde_json::to_value(choice)?;
        say(&format!(
            "2.{} hub-{} votes {} (through {})",
            i + 1,
            i + 1,
            word.as_str().unwrap_or("?"),
            node.name
        ));
        last_client = c;
        for e in events(&resp) {
            match e.get("event").and_then(Value::as_str) {
                Some("proposal_adopted") => {
                    adopted = e.get("revision").and_then(Value::as_u64);
                }
                Some("proposal_rejected") => bail!(
                    "proposal {pid} was rejected: {}",
                    e.get("reason").and_then(Value::as_str).unwrap_or("")
                ),
                _ => {}
            }
        }
        if adopted.is_some() {
            break;
        }
    }
    // The node that took the last vote may apply it a moment after the leader did.
    let p = get_until(&last_client, &format!("/v1/proposals/{pid}"), |p| {
        adopted.is_none() || p["status"] == "adopted"
    })?;
    let status = p.get("status").and_then(Value::as_str).unwrap_or("?");
    let reason = p
        .pointer("/voting_result/reason")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(rev) = adopted else {
        bail!("proposal {pid} is {status} after every hub voted, not adopted: {reason}");
    };
    say(&format!(
        "3. the tally decided: {status} ({reason}); codex is now at revision {rev}"
    ));
    print_diff(&clause_diff(&last_client, rev)?);

    second_contract(&NodeClient::new(&next().url)?, keys)?;

    let proposer = if keys.len() >= 2 { 2 } else { 1 };
    let node = next();
    let client = NodeClient::new(&node.url)?;
    // Propose against revision `rev`: wait until this node holds it.
    get_until(&client, "/v1/contracts/codex", |c| c["revision"] == rev)?;
    say("");
    say(&format!(
        "7. hub-{proposer} proposes to seal checkpoints more often (clause 11.0), through {}; left open for you",
        node.name
    ));
    let args = ProposeArgs {
        contract: "codex".into(),
        clause: "11.0".into(),
        text: text_of("11.0")?.replace("max_interval_secs", "max_interval_secs (30 seconds)"),
        rationale: "Fresher seals shorten the window in which a fork can go unnoticed.".into(),
        rules_patch: None,
        domain: None,
        voting_period: None,
        scope: None,
        local_node: None,
        resolves: None,
        expedited: false,
    };
    let patch = json!([{"op": "replace", "path": "/checkpoint/max_interval_secs", "value": 30}]);
    let op = propose_op(&client, &args, rules_diff(&patch)?)?;
    let open = op.proposal_id.clone();
    client.submit(&keys[proposer - 1], Operation::Propose(op))?;
    say(&format!("   proposal {open} is open for voting"));
    Ok(open)
}

/// Votes approve with each hub's key in turn until the proposal is decided.
fn approve_until_decided(client: &NodeClient, keys: &[KeyPair], pid: &str) -> Result<Value> {
    let path = format!("/v1/proposals/{pid}");
    for k in keys {
        // The node may not hold the proposal yet if it forwarded the entry.
        let p = get_until(client, &path, |p| p["proposal_id"] == pid)?;
        if p["status"] != "voting" {
            break;
        }
        let member = client.submit(
            k,
            Operation::Vote(VoteOp {
                proposal_id: pid.to_owned(),
                choice: VoteChoice::Approve,
                reason: None,
                sequence: 0,
            }),
        );
        // A hub outside the deciding domain is refused (not_member): the next one votes.
        if let Err(e) = member
            && !e.to_string().contains("not_member")
        {
            return Err(e);
        }
    }
    get_until(client, &format!("/v1/proposals/{pid}"), |p| {
        p["status"] != "voting"
    })
}

/// Federated and local governance side by side: a second trust domain, a second
/// contract it decides, and a local override of one of its clauses on a trust fork.
fn second_contract(client: &NodeClient, keys: &[KeyPair]) -> Result<()> {
    use govmesh_core::entry::{DomainSpec, ProposeOp};
    use govmesh_core::model::{Changes, Clause, ContractDraft, GovernanceScope};
    let nodes = client.get_list("/v1/nodes", &[], "nodes", &Default::default())?;
    let fork = nodes
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|n| n["node_type"] == "trust_fork")
        .and_then(|n| n["node_id"].as_str())
        .map(str::to_owned);
    let stewards: Vec<&KeyPair> = keys.iter().take(2).collect();
    say("");
    say(&format!(
        "4. hub-1 defines the trust domain \"data stewards\" ({}){}",
        stewards
            .iter()
            .enumerate()
            .map(|(i, _)| format!("hub-{}", i + 1))
            .collect::<Vec<_>>()
            .join(", "),
        match &fork {
            Some(f) => format!(", which lets trust fork {f} keep its own retention clause"),
            None => String::new(),
        }
    ));
    let domain_id = uuid::Uuid::new_v4().to_string();
    let spec = DomainSpec {
        domain_id: domain_id.clone(),
        name: "data stewards".into(),
        description: "Decides the data-retention contract.".into(),
        admin_node_id: keys[0].node_id().to_owned(),
        member_nodes: stewards.iter().map(|k| k.node_id().to_owned()).collect(),
        shared_clauses: Vec::new(),
        local_overrides: fork
            .iter()
            .map(|f| (f.clone(), vec!["2".to_owned()]))
            .collect(),
        contract_id: None,
        policy: Default::default(),
        clause_policies: Default::default(),
    };
    client.submit(&keys[0], Operation::DefineDomain(spec))?;

    say(
        "5. hub-1 proposes a second contract, data-retention, decided by the stewards; the council votes",
    );
    let codex = client.get("/v1/contracts/codex")?;
    let c55: Clause = serde_json::from_value(
        codex["clauses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["clause_id"] == "5.5")
            .cloned()
            .context("the codex has no clause 5.5")?,
    )?;
    let clause = |id: &str, title: &str, text: &str, rules: Value| Clause {
        clause_id: id.into(),
        title: title.into(),
        text: text.into(),
        rules,
    };
    let create = ProposeOp {
        proposal_id: uuid::Uuid::new_v4().to_string(),
        contract_id: "codex".into(),
        target_contract_clause: "5.5".into(),
        base_clause_hash: c55.hash().map_err(|e| anyhow::anyhow!("{e}"))?,
        domain_id: None,
        rationale: "Backups and logs need a retention rule every node applies.".into(),
        changes: Changes {
            current_text: c55.text.clone(),
            proposed_text: c55.text,
            diff: Vec::new(),
        },
        voting_period_secs: None,
        create_contract: Some(ContractDraft {
            contract_id: "data-retention".into(),
            label: "Data retention v1".into(),
            domain_id: domain_id.clone(),
            clauses: vec![
                clause(
                    "1",
                    "Scope",
                    "This contract covers the mesh's logs and backups.",
                    json!({"covers": ["logs", "backups"]}),
                ),
                clause(
                    "2",
                    "Retention",
                    "Backups are kept for 30 days.",
                    json!({"backup_retention_days": 30}),
                ),
            ],
        }),
        governance_scope: None,
        local_node: None,
        conflict_resolution: None,
        expedited: false,
        restore_rights: None,
    };
    let pid = create.proposal_id.clone();
    client.submit(&keys[0], Operation::Propose(create))?;
    let p = approve_until_decided(client, keys, &pid)?;
    if p["status"] != "adopted" {
        bail!("the data-retention proposal {pid} was not adopted: {p}");
    }
    let c = get_until(client, "/v1/contracts/data-retention", |c| {
        c["revision"] == 1
    })?;
    say(&format!(
        "   contract data-retention revision 1 ({}), decided by domain {domain_id}",
        c["contract_hash"].as_str().unwrap_or("")
    ));

    let Some(fork) = fork else {
        say("6. (no trust fork in this mesh: no local override shown)");
        return Ok(());
    };
    say(&format!(
        "6. the stewards let trust fork {fork} keep backups 7 days: a local override of clause 2"
    ));
    let c2: Clause = serde_json::from_value(
        c["clauses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["clause_id"] == "2")
            .cloned()
            .context("data-retention has no clause 2")?,
    )?;
    let local = ProposeOp {
        proposal_id: uuid::Uuid::new_v4().to_string(),
        contract_id: "data-retention".into(),
        target_contract_clause: "2".into(),
        base_clause_hash: c2.hash().map_err(|e| anyhow::anyhow!("{e}"))?,
        domain_id: None,
        rationale: "fork-1 runs on a small disk.".into(),
        changes: Changes {
            current_text: c2.text,
            proposed_text: "Backups on this node are kept for 7 days.".into(),
            diff: vec![govmesh_core::model::DiffOp {
                path: "/backup_retention_days".into(),
                operation: govmesh_core::model::PatchOperation::Replace,
                value: json!(7),
            }],
        },
        voting_period_secs: None,
        create_contract: None,
        governance_scope: Some(GovernanceScope::Local),
        local_node: Some(fork.clone()),
        conflict_resolution: None,
        expedited: false,
        restore_rights: None,
    };
    let pid = local.proposal_id.clone();
    client.submit(&keys[0], Operation::Propose(local))?;
    let p = approve_until_decided(client, keys, &pid)?;
    say(&format!(
        "   {}: govmesh contract show data-retention --for {fork}",
        p["status"].as_str().unwrap_or("?")
    ));
    Ok(())
}

/// GETs `path` until `ok` holds for the answer (a node catching up), for at most
/// [`WAIT`]; then returns the last answer.
fn get_until(client: &NodeClient, path: &str, ok: impl Fn(&Value) -> bool) -> Result<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        // A node that forwarded an entry holds it once it has replicated it: until
        // then it may not know the proposal at all (404).
        match client.get(path) {
            Ok(v) if ok(&v) || Instant::now() > deadline => return Ok(v),
            Err(e) if Instant::now() > deadline => return Err(e),
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The diff from revision `rev - 1` to `rev` as the node serves it, or computed here
/// from the two revisions if the node cannot.
fn clause_diff(client: &NodeClient, rev: u64) -> Result<Value> {
    let from = rev - 1;
    if let Ok(d) = client.get(&format!("/v1/contracts/codex/diff?from={from}&to={rev}")) {
        return Ok(d);
    }
    let get = |n: u64| -> Result<govmesh_core::model::Contract> {
        let v = client.get(&format!("/v1/contracts/codex/revisions/{n}"))?;
        serde_json::from_value(v).with_context(|| format!("codex revision {n} as served"))
    };
    let d = govmesh_core::diff::contract_diff(&get(from)?, &get(rev)?);
    Ok(serde_json::to_value(d)?)
}
