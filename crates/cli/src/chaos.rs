//! `govmesh bench chaos`: a 3-hub + 2-witness + 3-fork mesh on loopback under
//! proposals and votes while a fault script kills -9 and restarts random nodes,
//! cuts a hub off and heals it (each hub sits behind the fault-injecting proxy of
//! [`crate::faultproxy`]), fills a fork's disk (its file size limit lowered to what
//! it holds, with `prlimit`), and runs a hub with its clock ±5 minutes off
//! (`GOVMESH_CLOCK_SKEW_SECS`). Afterwards, with every fault healed: every
//! acknowledged entry is on every node, every node holds the same log (size and
//! root) and replays it to the same state (hash of the state's JSON), and every
//! entry of it verifies. Bounded in time; prints the counts.

use crate::bench::{Procs, new_key, now, tempdir};
use crate::demo::free_port;
use crate::faultproxy::{Faults, Proxy};
use anyhow::{Context, Result, bail};
use govmesh_core::Digest;
use govmesh_core::entry::{LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, Clause, NodeType, VoteChoice};
use govmesh_core::state::State;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small random number source (xorshift64*), seeded from the OS: the fault script
/// and the load need variety, not secrecy.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Rng {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Rng(u64::from_le_bytes(b) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One node of the chaos mesh.
struct Node {
    name: String,
    node_type: NodeType,
    key: KeyPair,
    dir: PathBuf,
    /// Where it listens.
    listen: String,
    /// Its registry address: a proxy for hubs, its own address otherwise.
    address: String,
    /// Extra environment for its next start (the clock skew).
    env: Vec<(String, String)>,
    /// Index in the process list while it runs.
    running: bool,
}

impl Node {
    fn url(&self) -> String {
        format!("http://{}", self.listen)
    }
}

/// The nodes and their processes.
struct Mesh {
    exe: PathBuf,
    logs: PathBuf,
    nodes: Vec<Node>,
    procs: Procs,
}

impl Mesh {
    fn start(&mut self, i: usize) -> Result<()> {
        let n = &mut self.nodes[i];
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve")
            // A bench killed before it stops its nodes must not leave them running
            // (a kill -9 of the node by the fault script is unaffected).
            .arg("--stop-with-parent")
            .arg("--data")
            .arg(&n.dir)
            .arg("--listen")
            .arg(&n.listen)
            .env("RUST_LOG", "warn");
        if n.address != n.url() {
            cmd.arg("--behind-proxy");
        }
        for (k, v) in &n.env {
            cmd.env(k, v);
        }
        // Appended, so the log of every life of the node is kept.
        self.procs.spawn_appending(
            &n.name,
            &mut cmd,
            &self.logs.join(format!("{}.log", n.name)),
        )?;
        n.running = true;
        Ok(())
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.procs.pid(&self.nodes[i].name)
    }

    fn kill9(&mut self, i: usize) {
        self.procs.kill(&self.nodes[i].name);
        self.nodes[i].running = false;
    }

    fn running_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.running)
            .map(Node::url)
            .collect()
    }
}

/// What the load and the fault script counted.
#[derive(Default)]
struct Counts {
    submitted: AtomicU64,
    acknowledged: AtomicU64,
    refused: AtomicU64,
    unknown: AtomicU64,
}

/// `govmesh bench chaos`.
pub fn run(duration: Duration, dir: Option<PathBuf>, json_out: bool) -> Result<i32> {
    let work = match &dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("{}", d.display()))?;
            d.clone()
        }
        None => tempdir()?,
    };
    let r = chaos(duration, &work, json_out);
    if dir.is_none() && matches!(r, Ok(0)) {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        eprintln!(
            "chaos: data directories and logs kept in {}",
            work.display()
        );
    }
    r
}

fn chaos(duration: Duration, work: &Path, json_out: bool) -> Result<i32> {
    let exe = std::env::current_exe().context("finding the govmesh binary")?;
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let faults = Faults::new();
    let mut nodes = Vec::new();
    let mut proxies = Vec::new();
    for (t, n) in [
        (NodeType::GovernanceHub, 3),
        (NodeType::ComplianceWitness, 2),
        (NodeType::TrustFork, 3),
    ] {
        for i in 1..=n {
            let name = format!(
                "{}-{i}",
                match t {
                    NodeType::GovernanceHub => "hub",
                    NodeType::ComplianceWitness => "witness",
                    NodeType::TrustFork => "fork",
                }
            );
            let listen = format!("127.0.0.1:{}", free_port()?);
            let key = new_key()?;
            let address = if t == NodeType::GovernanceHub {
                let p = Proxy::start(&listen, faults.clone()).context("starting a proxy")?;
                p.set_target_id(key.node_id());
                let a = p.url.clone();
                proxies.push(p);
                a
            } else {
                format!("http://{listen}")
            };
            nodes.push(Node {
                dir: work.join(&name),
                name,
                node_type: t,
                key,
                listen,
                address,
                env: Vec::new(),
                running: false,
            });
        }
    }
    let founders: Vec<NodeSpec> = nodes
        .iter()
        .map(|n| NodeSpec {
            node_id: n.key.node_id().to_owned(),
            node_type: n.node_type,
            public_key: n.key.public(),
            network_address: Some(n.address.clone()),
            display_name: Some(n.name.clone()),
            node_policy_capabilities: Vec::new(),
        })
        .collect();
    let genesis = govmesh_node::mesh_genesis("chaos", &nodes[0].key, founders, now())
        .map_err(|e| anyhow::anyhow!("genesis: {e}"))?;
    for n in &nodes {
        govmesh_node::join(&n.dir, n.key.clone(), &genesis)
            .map_err(|e| anyhow::anyhow!("joining {}: {e}", n.name))?;
    }
    let mut mesh = Mesh {
        exe,
        logs: logs.clone(),
        nodes,
        procs: Procs::default(),
    };
    for i in 0..mesh.nodes.len() {
        mesh.start(i)?;
    }
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    wait_until(&http, Duration::from_secs(90), "a council leader", |h| {
        get(h, &mesh.nodes[0].url(), "/v1/council").is_some_and(|v| !v["leader"].is_null())
    })?;
    let clause = clause_11_1(&http, &mesh.nodes[0].url())?;
    let hubs: Vec<KeyPair> = mesh
        .nodes
        .iter()
        .filter(|n| n.node_type == NodeType::GovernanceHub)
        .map(|n| n.key.clone())
        .collect();

    let mesh = Arc::new(Mutex::new(mesh));
    let counts = Arc::new(Counts::default());
    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clause = Arc::new(Mutex::new(clause));
    let open: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    eprintln!(
        "chaos: 3 hubs, 2 witnesses, 3 forks up; load and faults for {}s",
        duration.as_secs()
    );
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..4 {
        let (mesh, counts, acked, stop, clause, open, hubs, http) = (
            mesh.clone(),
            counts.clone(),
            acked.clone(),
            stop.clone(),
            clause.clone(),
            open.clone(),
            hubs.clone(),
            http.clone(),
        );
        clients.push(std::thread::spawn(move || {
            load(
                c, &mesh, &counts, &acked, &stop, &clause, &open, &hubs, &http,
            )
        }));
    }
    let injected = fault_script(&mesh, &faults, duration, &http);
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.join();
    }
    let load_secs = started.elapsed().as_secs_f64();

    // Heal: every node runs without skew or limit; nobody is cut off.
    faults.heal();
    {
        let mut m = mesh.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..m.nodes.len() {
            if let Some(pid) = m.pid(i) {
                let _ = set_fsize(pid, None);
            }
            if !m.nodes[i].env.is_empty() || !m.nodes[i].running {
                if m.nodes[i].running {
                    m.kill9(i);
                }
                m.nodes[i].env.clear();
                m.start(i)?;
            }
        }
    }
    let m = mesh.lock().unwrap_or_else(|e| e.into_inner());
    let urls: Vec<(String, String)> = m.nodes.iter().map(|n| (n.name.clone(), n.url())).collect();
    drop(m);
    // Converged: every node the same size and root, for a few polls in a row.
    let mut heads = Vec::new();
    let converged = wait_until(&http, Duration::from_secs(180), "convergence", |h| {
        heads = urls
            .iter()
            .map(|(_, u)| {
                get(h, u, "/v1/status").map(|v| (v["log_size"].as_u64(), v["root"].clone()))
            })
            .collect();
        heads.iter().all(|x| x.is_some() && *x == heads[0])
    });
    let acked = acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut report = Report {
        duration_secs: load_secs,
        faults: injected,
        submitted: counts.submitted.load(Ordering::SeqCst),
        acknowledged: counts.acknowledged.load(Ordering::SeqCst),
        refused: counts.refused.load(Ordering::SeqCst),
        unknown: counts.unknown.load(Ordering::SeqCst),
        present_everywhere: 0,
        log_size: 0,
        same_log: converged.is_ok(),
        disk_full_lines: 0,
        state_hashes: BTreeMap::new(),
        failures: Vec::new(),
    };
    if let Err(e) = &converged {
        report
            .failures
            .push(format!("the nodes did not converge: {e}; heads {heads:?}"));
    }
    // Every node's log, replayed: every entry verifies, the state hash, and the
    // acknowledged entries it holds.
    let mut everywhere: Option<HashSet<(u64, String)>> = None;
    for (name, url) in &urls {
        match replay(&http, url) {
            Ok((size, hash, sigs)) => {
                report.log_size = report.log_size.max(size);
                report.state_hashes.insert(name.clone(), hash.to_hex());
                let have: HashSet<(u64, String)> =
                    acked.iter().filter(|a| sigs.contains(a)).cloned().collect();
                let missing = acked.len() - have.len();
                if missing > 0 {
                    report
                        .failures
                        .push(format!("{name} lacks {missing} acknowledged entries"));
                }
                everywhere = Some(match everywhere {
                    None => have,
                    Some(e) => e.intersection(&have).cloned().collect(),
                });
            }
            Err(e) => report.failures.push(format!("{name}: {e:#}")),
        }
    }
    report.present_everywhere = everywhere.map_or(0, |e| e.len() as u64);
    report.disk_full_lines = std::fs::read_to_string(logs.join("fork-3.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("SIGXFSZ") || l.contains("database or disk is full"))
        .count() as u64;
    let hashes: HashSet<&String> = report.state_hashes.values().collect();
    if hashes.len() > 1 {
        report
            .failures
            .push(format!("state hashes differ: {:?}", report.state_hashes));
    }
    drop(proxies);
    mesh.lock()
        .unwrap_or_else(|e| e.into_inner())
        .procs
        .kill_all();
    report.print(json_out)?;
    Ok(if report.failures.is_empty() { 0 } else { 1 })
}

struct Report {
    duration_secs: f64,
    faults: BTreeMap<&'static str, u64>,
    submitted: u64,
    acknowledged: u64,
    refused: u64,
    unknown: u64,
    present_everywhere: u64,
    log_size: u64,
    same_log: bool,
    /// Lines of fork-3's log about its full disk (the fault took effect).
    disk_full_lines: u64,
    state_hashes: BTreeMap<String, String>,
    failures: Vec<String>,
}

impl Report {
    fn print(&self, json_out: bool) -> Result<()> {
        let total_faults: u64 = self.faults.values().sum();
        if json_out {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "duration_secs": self.duration_secs,
                    "faults": total_faults,
                    "faults_by_kind": self.faults,
                    "submitted": self.submitted,
                    "acknowledged": self.acknowledged,
                    "refused": self.refused,
                    "outcome_unknown": self.unknown,
                    "present_everywhere": self.present_everywhere,
                    "log_size": self.log_size,
                    "same_log": self.same_log,
                    "disk_full_log_lines": self.disk_full_lines,
                    "state_hashes": self.state_hashes,
                    "failures": self.failures,
                }))?
            );
            return Ok(());
        }
        println!(
            "chaos: {:.0}s of load on 3 hubs, 2 witnesses, 3 trust forks",
            self.duration_secs
        );
        let kinds: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("faults injected     {total_faults} ({})", kinds.join(", "));
        println!("entries submitted   {}", self.submitted);
        println!("acknowledged        {}", self.acknowledged);
        println!("refused             {}", self.refused);
        println!(
            "outcome unknown     {} (connection lost, timeout, 5xx)",
            self.unknown
        );
        println!(
            "present everywhere  {} of {} acknowledged",
            self.present_everywhere, self.acknowledged
        );
        println!(
            "log size            {} (same log on every node: {})",
            self.log_size, self.same_log
        );
        println!(
            "disk full           {} lines of fork-3's log about failed writes",
            self.disk_full_lines
        );
        let hashes: HashSet<&String> = self.state_hashes.values().collect();
        println!(
            "state hash          {} distinct over {} nodes",
            hashes.len(),
            self.state_hashes.len()
        );
        if self.failures.is_empty() {
            println!(
                "result              every acknowledged entry on every node, one log, one state, every entry verified"
            );
        }
        for f in &self.failures {
            println!("FAILED              {f}");
        }
        Ok(())
    }
}

/// Clause 11.1 of the Codex as `url` serves it.
fn clause_11_1(http: &reqwest::blocking::Client, url: &str) -> Result<Clause> {
    let c = get(http, url, "/v1/contracts/codex").context("reading the Codex")?;
    let cl = c["clauses"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["clause_id"] == "11.1"))
        .cloned()
        .context("the Codex has no clause 11.1")?;
    Ok(serde_json::from_value(cl)?)
}

fn get(http: &reqwest::blocking::Client, url: &str, path: &str) -> Option<Value> {
    let r = http.get(format!("{url}{path}")).send().ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().ok()
}

fn wait_until(
    http: &reqwest::blocking::Client,
    limit: Duration,
    what: &str,
    mut ok: impl FnMut(&reqwest::blocking::Client) -> bool,
) -> Result<()> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if ok(http) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("no {what} within {limit:?}")
}

/// One load client: proposals on clause 11.1 and votes on open proposals, signed by
/// the hubs, each sent to a random running node (hubs order them; witnesses and forks
/// forward them). An entry is acknowledged when a node answers 201.
#[allow(clippy::too_many_arguments)]
fn load(
    c: usize,
    mesh: &Mutex<Mesh>,
    counts: &Counts,
    acked: &Mutex<Vec<(u64, String)>>,
    stop: &AtomicBool,
    clause: &Mutex<Clause>,
    open: &Mutex<Vec<String>>,
    hubs: &[KeyPair],
    http: &reqwest::blocking::Client,
) {
    let mut rng = Rng::new();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let urls = mesh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .running_urls();
        if urls.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let url = &urls[rng.below(urls.len())];
        let k = rng.below(hubs.len());
        let key = &hubs[k];
        let vote_on = {
            let o = open.lock().unwrap_or_else(|e| e.into_inner());
            (!o.is_empty() && rng.below(3) != 0).then(|| o[rng.below(o.len())].clone())
        };
        let voted = vote_on.clone();
        let (op, proposal) = match vote_on {
            Some(pid) => {
                // One choice per key and proposal: a second vote by a key is the same
                // vote (refused as a replay), never a different one, which would be an
                // equivocation and suspend that hub (clause 5.5) for the rest of the run.
                let pick = pid
                    .bytes()
                    .fold(k, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
                let choice =
                    [VoteChoice::Approve, VoteChoice::Reject, VoteChoice::Abstain][pick % 3];
                (Operation::Vote(VoteOp::new(pid, choice)), None)
            }
            None => {
                let cl = clause.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let Ok(base) = cl.hash() else { return };
                let pid = uuid::Uuid::new_v4().to_string();
                (
                    Operation::Propose(ProposeOp::amend(
                        pid.clone(),
                        "codex",
                        "11.1",
                        base,
                        format!("chaos client {c} entry {n}"),
                        Changes {
                            current_text: cl.text.clone(),
                            proposed_text: format!("Chaos text {c}.{n}."),
                            diff: Vec::new(),
                        },
                    )),
                    Some(pid),
                )
            }
        };
        let env = sign_entry_at(key, op, now());
        counts.submitted.fetch_add(1, Ordering::SeqCst);
        match http.post(format!("{url}/v1/entries")).json(&env).send() {
            Ok(r) if r.status().as_u16() == 201 => {
                counts.acknowledged.fetch_add(1, Ordering::SeqCst);
                let index = r
                    .json::<Value>()
                    .ok()
                    .and_then(|v| v["index"].as_u64())
                    .unwrap_or(u64::MAX);
                acked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((index, env.signatures[0].sig.clone()));
                if let Some(pid) = proposal {
                    let mut o = open.lock().unwrap_or_else(|e| e.into_inner());
                    o.push(pid);
                    if o.len() > 32 {
                        o.remove(0);
                    }
                }
            }
            Ok(r) if r.status().is_client_error() => {
                counts.refused.fetch_add(1, Ordering::SeqCst);
                let text = r.text().unwrap_or_default();
                if text.contains("stale_base")
                    && let Ok(cl) = clause_11_1(http, url)
                {
                    *clause.lock().unwrap_or_else(|e| e.into_inner()) = cl;
                }
                if (text.contains("not_voting") || text.contains("unknown_proposal"))
                    && let Some(pid) = &voted
                {
                    open.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|p| p != pid);
                }
            }
            _ => {
                counts.unknown.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Sets (or, with `None`, lifts) the soft file size limit of process `pid` (the hard
/// limit stays, so lifting needs no privilege).
fn set_fsize(pid: u32, bytes: Option<u64>) -> Result<()> {
    let limit = bytes.map_or("unlimited".to_owned(), |b| b.to_string());
    let st = Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={limit}:"))
        .status()
        .context("running prlimit (util-linux)")?;
    if !st.success() {
        bail!("prlimit --pid {pid} --fsize={limit} failed ({st})");
    }
    Ok(())
}

/// A file size limit at which the ledger's next growth fails: the smaller of the
/// database's and its write-ahead log's sizes (the WAL grows with every commit until
/// it is checkpointed into the database, which then grows).
fn full_disk_limit(dir: &Path) -> u64 {
    ["govmesh.db", "govmesh.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .filter(|&n| n > 0)
        .min()
        .unwrap_or(4096)
}

/// The fault script: until `duration` has passed, one fault at a time, each held for
/// a few seconds and healed: kill -9 and restart a random node; cut a random hub off
/// (its proxy drops everything to and from it) and heal; fill fork-3's disk (its file
/// size limit down to its largest file, so the next growth fails) and free it; run a
/// random hub with its clock 5 minutes fast or slow, then restart it on time.
fn fault_script(
    mesh: &Mutex<Mesh>,
    faults: &Faults,
    duration: Duration,
    http: &reqwest::blocking::Client,
) -> BTreeMap<&'static str, u64> {
    let mut rng = Rng::new();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let end = Instant::now() + duration;
    let pause = (duration / 24).clamp(Duration::from_secs(2), Duration::from_secs(15));
    let kinds = [
        "kill9_restart",
        "partition_hub",
        "disk_full_fork",
        "clock_skew_hub",
    ];
    let mut k = 0;
    while Instant::now() + pause < end {
        std::thread::sleep(pause);
        // Every kind in turn at first, then at random.
        let kind = if k < kinds.len() {
            kinds[k]
        } else {
            kinds[rng.below(kinds.len())]
        };
        k += 1;
        let hold = pause.min(end.saturating_duration_since(Instant::now()));
        let ok = match kind {
            "kill9_restart" => {
                let i = rng.below(8);
                let mut m = mesh.lock().unwrap_or_else(|e| e.into_inner());
                m.kill9(i);
                drop(m);
                std::thread::sleep(hold / 2);
                mesh.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .start(i)
                    .is_ok()
            }
            "partition_hub" => {
                let i = rng.below(3);
                let m = mesh.lock().unwrap_or_else(|e| e.into_inner());
                let (id, pid) = (m.nodes[i].key.node_id().to_owned(), m.pid(i));
                drop(m);
                match pid {
                    Some(pid) => {
                        faults.cut_off(&id, pid);
                        std::thread::sleep(hold);
                        faults.heal();
                        true
                    }
                    None => false,
                }
            }
            "disk_full_fork" => {
                let m = mesh.lock().unwrap_or_else(|e| e.into_inner());
                let i = 7;
                let (pid, dir) = (m.pid(i), m.nodes[i].dir.clone());
                drop(m);
                match pid {
                    Some(pid) if set_fsize(pid, Some(full_disk_limit(&dir))).is_ok() => {
                        std::thread::sleep(hold);
                        set_fsize(pid, None).is_ok()
                    }
                    _ => false,
                }
            }
            _ => {
                let i = rng.below(3);
                let skew = if rng.below(2) == 0 { "300" } else { "-300" };
                let mut m = mesh.lock().unwrap_or_else(|e| e.into_inner());
                if m.nodes[i].running {
                    m.kill9(i);
                }
                m.nodes[i].env = vec![("GOVMESH_CLOCK_SKEW_SECS".into(), skew.into())];
                let started = m.start(i).is_ok();
                drop(m);
                std::thread::sleep(hold);
                let mut m = mesh.lock().unwrap_or_else(|e| e.into_inner());
                m.kill9(i);
                m.nodes[i].env.clear();
                started && m.start(i).is_ok()
            }
        };
        if ok {
            *counts.entry(kind).or_default() += 1;
        }
        // Between faults, the council recovers (a leader again) before the next one,
        // so faults overlap only when recovery is slow.
        let urls = mesh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .running_urls();
        let _ = wait_until(http, pause * 2, "a leader", |h| {
            urls.iter()
                .take(3)
                .any(|u| get(h, u, "/v1/council").is_some_and(|v| !v["leader"].is_null()))
        });
    }
    counts
}

/// (index, signature) of an entry: what a client was answered, and what a log holds.
type EntryId = (u64, String);

/// Reads a node's whole log, replays it through the state machine (every entry's
/// signature and rules checked), and returns its size, the hash of the replayed
/// state's JSON, and every entry's [`EntryId`].
fn replay(http: &reqwest::blocking::Client, url: &str) -> Result<(u64, Digest, HashSet<EntryId>)> {
    let mut state = State::new();
    let mut sigs = HashSet::new();
    let mut start = 0u64;
    loop {
        let page = get(http, url, &format!("/v1/log/entries?start={start}"))
            .with_context(|| format!("reading {url}'s log at {start}"))?;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            break;
        }
        for e in entries {
            let rec: LogRecord = serde_json::from_value(e)?;
            state
                .apply_record(&rec)
                .map_err(|e| anyhow::anyhow!("{url}: entry {} does not verify: {e}", rec.index))?;
            if let Some(s) = rec.envelope.signatures.first() {
                sigs.insert((rec.index, s.sig.clone()));
            }
            start = rec.index + 1;
        }
    }
    let text = serde_json::to_vec(&state)?;
    Ok((state.size(), Digest::sha256(&text), sigs))
}
