//! `govmesh bench council`: how many signed votes per second a Raft council of hubs on
//! loopback commits with many concurrent clients, measured side by side with an etcd
//! cluster of the same size doing puts of the same payload size, in one run, so that
//! the ratio means something on a noisy machine.
//!
//! Both systems run as separate processes on loopback ports picked at run time; the
//! load comes from this process (one HTTP client per simulated client, each sending
//! its next request as soon as the previous one is answered). Signing and proposal
//! setup happen before the clock starts.

use crate::demo::free_port;
use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::codex::codex_genesis;
use govmesh_core::entry::{
    LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, sign_entry, sign_entry_at,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, Clause, NodeType, VoteChoice};
use govmesh_core::stamp::Timestamp;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `govmesh bench council`.
#[derive(Debug, Clone)]
pub struct CouncilBench {
    pub hubs: usize,
    pub clients: usize,
    /// Votes in all (rounded up to a multiple of `clients`).
    pub votes: usize,
    /// The etcd binary (Debian package `etcd-server`); `None` skips the comparison.
    pub etcd: Option<PathBuf>,
    /// Keep the working directory here instead of a temporary one.
    pub dir: Option<PathBuf>,
    /// Runs of each system, alternating which goes first.
    pub rounds: usize,
    pub json: bool,
}

/// What one load run measured.
#[derive(Debug, Clone)]
struct LoadResult {
    ok: usize,
    failed: usize,
    first_error: Option<String>,
    wall: Duration,
    latencies: Vec<Duration>,
    /// CPU time the servers (every hub or etcd member) used during the load.
    server_cpu: Option<Duration>,
    /// CPU time this process (the clients) used during the load.
    client_cpu: Option<Duration>,
}

impl LoadResult {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64()
    }

    /// Server CPU microseconds per committed operation.
    fn server_cpu_per_op(&self) -> Option<f64> {
        let c = self.server_cpu?;
        (self.ok > 0).then(|| c.as_secs_f64() * 1e6 / self.ok as f64)
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut v = self.latencies.clone();
        v.sort();
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "failed": self.failed,
            "first_error": self.first_error,
            "wall_secs": self.wall.as_secs_f64(),
            "per_sec": self.rate(),
            "p50_ms": self.percentile(0.50).as_secs_f64() * 1e3,
            "p99_ms": self.percentile(0.99).as_secs_f64() * 1e3,
            "max_ms": self.percentile(1.0).as_secs_f64() * 1e3,
            "server_cpu_secs": self.server_cpu.map(|d| d.as_secs_f64()),
            "client_cpu_secs": self.client_cpu.map(|d| d.as_secs_f64()),
            "server_cpu_us_per_op": self.server_cpu_per_op(),
        })
    }
}

/// CPU time (user + system, every thread) process `pid` has used so far, from
/// `/proc/PID/stat`; `None` where there is no procfs.
pub(crate) fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux architecture we build for.
    Some(Duration::from_millis(ticks * 10))
}

/// Child processes killed when dropped, so a failed run leaves nothing behind.
#[derive(Default)]
pub(crate) struct Procs(Vec<(String, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Procs {
    fn spawn(&mut self, name: &str, cmd: &mut Command, log: &Path) -> Result<()> {
        let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
        self.spawn_into(name, cmd, out)
    }

    /// [`Procs::spawn`], appending to `log` (a restarted node keeps one log).
    pub(crate) fn spawn_appending(
        &mut self,
        name: &str,
        cmd: &mut Command,
        log: &Path,
    ) -> Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("{}", log.display()))?;
        self.spawn_into(name, cmd, out)
    }

    /// The process id of the running child `name`.
    pub(crate) fn pid(&self, name: &str) -> Option<u32> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, c)| c.id())
    }

    /// SIGKILL to child `name` (no goodbye), and reaps it.
    pub(crate) fn kill(&mut self, name: &str) {
        self.0.retain_mut(|(n, c)| {
            if n != name {
                return true;
            }
            let _ = c.kill();
            let _ = c.wait();
            false
        });
    }

    /// Kills and reaps every child.
    pub(crate) fn kill_all(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.0.clear();
    }

    /// The child's stdin is a pipe this process holds open for the child's life (in
    /// its [`Child`]): a node started with `--stop-with-parent` stops when it closes,
    /// which the kernel does when this process dies, however it dies. (With stdin on
    /// `/dev/null` such a node would read end-of-file at once and stop.)
    fn spawn_into(&mut self, name: &str, cmd: &mut Command, out: std::fs::File) -> Result<()> {
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.0.push((name.to_owned(), child));
        Ok(())
    }

    /// CPU time all children have used so far.
    fn cpu(&self) -> Option<Duration> {
        self.0
            .iter()
            .map(|(_, c)| process_cpu(&c.id().to_string()))
            .sum()
    }

    /// Fails if a child has already exited (with the tail of its log).
    fn check_alive(&mut self, logs: &Path) -> Result<()> {
        for (name, c) in &mut self.0 {
            if let Some(status) = c.try_wait()? {
                let log =
                    std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                bail!(
                    "{name} exited ({status}); last lines of its log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        Ok(())
    }
}

pub fn run(opts: CouncilBench) -> Result<i32> {
    if opts.hubs == 0 || opts.clients == 0 || opts.votes == 0 || opts.rounds == 0 {
        bail!("--hubs, --clients, --votes and --rounds must be at least 1");
    }
    let tmp;
    let work = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("{}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempdir()?;
            tmp.clone()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let per_client = opts.votes.div_ceil(opts.clients);
    eprintln!(
        "council: {} hubs, {} clients, {} votes ({} proposals x {} voters)",
        opts.hubs,
        opts.clients,
        per_client * opts.clients,
        per_client,
        opts.clients
    );
    // Each round starts a fresh council and a fresh etcd cluster and loads one after
    // the other; the order alternates (etcd first in odd rounds, with the vote size
    // of the round before), so that a machine getting slower or faster during the
    // run weighs on both. The ratio reported is the median of the rounds' ratios.
    let mut rounds: Vec<(LoadResult, Option<LoadResult>)> = Vec::new();
    let mut payload = None;
    for k in 0..opts.rounds {
        let dir = work.join(format!("round-{k}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
        let etcd_once = |payload: usize| -> Result<Option<LoadResult>> {
            match &opts.etcd {
                Some(bin) => Ok(Some(
                    rt.block_on(etcd_run(bin, &opts, &dir, per_client, payload))?,
                )),
                None => Ok(None),
            }
        };
        let round = match payload {
            Some(p) if k % 2 == 1 => {
                let etcd = etcd_once(p)?;
                let (gov, p) = rt.block_on(govmesh_run(&opts, &dir, per_client))?;
                payload = Some(p);
                (gov, etcd)
            }
            _ => {
                let (gov, p) = rt.block_on(govmesh_run(&opts, &dir, per_client))?;
                payload = Some(p);
                (gov, etcd_once(p)?)
            }
        };
        rounds.push(round);
    }
    let payload = payload.unwrap_or(0);
    let per_round_ratios: Vec<f64> = rounds
        .iter()
        .filter_map(|(g, e)| Some(g.rate() / e.as_ref()?.rate()))
        .collect();
    let ratio = median(&per_round_ratios);
    let failed: usize = rounds.iter().map(|(g, _)| g.failed).sum();
    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "hubs": opts.hubs,
                "clients": opts.clients,
                "payload_bytes": payload,
                "rounds": rounds.iter().map(|(g, e)| json!({
                    "govmesh": g.to_json(),
                    "etcd": e.as_ref().map(LoadResult::to_json),
                    "ratio": e.as_ref().map(|e| g.rate() / e.rate()),
                })).collect::<Vec<_>>(),
                "ratio": ratio,
            }))?
        );
    } else {
        println!(
            "{} hubs vs {} etcd members, {} concurrent clients, payload {} bytes, {} rounds",
            opts.hubs, opts.hubs, opts.clients, payload, opts.rounds
        );
        println!(
            "| round | system | committed | failed | per second | p50 | p99 | max | server CPU per op | client CPU |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let row = |k: usize, name: &str, r: &LoadResult| {
            println!(
                "| {k} | {name} | {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.0} ms | {} | {} |",
                r.ok,
                r.failed,
                r.rate(),
                r.percentile(0.5).as_secs_f64() * 1e3,
                r.percentile(0.99).as_secs_f64() * 1e3,
                r.percentile(1.0).as_secs_f64() * 1e3,
                r.server_cpu_per_op()
                    .map_or("-".into(), |us| format!("{us:.0} us")),
                r.client_cpu
                    .map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f64())),
            )
        };
        for (k, (gov, etcd)) in rounds.iter().enumerate() {
            row(k + 1, "govmesh council (signed votes)", gov);
            if let Some(e) = etcd {
                row(k + 1, "etcd (puts)", e);
            }
        }
        if let Some(r) = ratio {
            let each: Vec<String> = per_round_ratios.iter().map(|r| format!("{r:.2}")).collect();
            println!(
                "ratio govmesh / etcd: {r:.2} (median of the rounds: {})",
                each.join(", ")
            );
        }
        let cpu: Vec<f64> = rounds
            .iter()
            .filter_map(|(g, e)| Some(g.server_cpu_per_op()? / e.as_ref()?.server_cpu_per_op()?))
            .collect();
        if let Some(c) = median(&cpu) {
            println!("server CPU per op, govmesh / etcd: {c:.2} (median of the rounds)");
        }
        for (k, (gov, etcd)) in rounds.iter().enumerate() {
            for (name, r) in [("govmesh", Some(gov)), ("etcd", etcd.as_ref())] {
                if let Some(err) = r.and_then(|r| r.first_error.as_ref()) {
                    println!("round {}: first {name} error: {err}", k + 1);
                }
            }
        }
    }
    if opts.dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// The median (the mean of the middle two for an even count); `None` if empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

pub(crate) fn tempdir() -> Result<PathBuf> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    let d = std::env::temp_dir().join(format!("govmesh-bench-{}", hex_encode(&b)));
    std::fs::create_dir_all(&d).with_context(|| format!("{}", d.display()))?;
    Ok(d)
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn new_key() -> Result<KeyPair> {
    govmesh_node::generate_key().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The bench mesh's genesis: `hubs` council hubs with their addresses, and one voter
/// identity per client, which clause 5.5 lets vote and the council domain counts as
/// members. The council domain's policy needs every member to vote (quorum 1), so
/// no proposal closes early and every vote of the run is accepted.
pub(crate) fn bench_genesis(
    hubs: &[(KeyPair, String)],
    voters: &[KeyPair],
) -> Result<(LogRecord, String, Clause)> {
    bench_genesis_window(hubs, voters, None)
}

/// [`bench_genesis`] with clause 5.4's `replay_window_secs` set to `window` (the
/// Codex's own otherwise).
pub(crate) fn bench_genesis_window(
    hubs: &[(KeyPair, String)],
    voters: &[KeyPair],
    window: Option<u64>,
) -> Result<(LogRecord, String, Clause)> {
    let mut founders: Vec<NodeSpec> = hubs
        .iter()
        .map(|(k, url)| NodeSpec {
            node_id: k.node_id().to_owned(),
            node_type: NodeType::GovernanceHub,
            public_key: k.public(),
            network_address: Some(url.clone()),
            display_name: None,
            node_policy_capabilities: Vec::new(),
        })
        .collect();
    founders.extend(voters.iter().map(|k| NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type: NodeType::TrustFork,
        public_key: k.public(),
        network_address: None,
        display_name: None,
        node_policy_capabilities: Vec::new(),
    }));
    let mut g = codex_genesis("council-bench", founders);
    if let Some(w) = window {
        let c54 = g
            .contract
            .clauses
            .iter_mut()
            .find(|c| c.clause_id == "5.4")
            .context("the Codex has no clause 5.4")?;
        *c54.rules
            .pointer_mut("/replay_window_secs")
            .context("clause 5.4 has no replay_window_secs")? = json!(w);
    }
    let c55 = g
        .contract
        .clauses
        .iter_mut()
        .find(|c| c.clause_id == "5.5")
        .context("the Codex has no clause 5.5")?;
    let tf = c55
        .rules
        .pointer_mut("/role_privileges/trust_fork")
        .context("clause 5.5 has no role_privileges.trust_fork")?;
    *tf = json!(["can_vote_on_proposal"]);
    let council = g.domains.first_mut().context("the genesis has no domain")?;
    council
        .member_nodes
        .extend(voters.iter().map(|k| k.node_id().to_owned()));
    council.policy.quorum = Some(1.0);
    council.policy.veto = Some(1.0);
    let contract_id = g.contract.contract_id.clone();
    let clause = g
        .contract
        .clauses
        .iter()
        .find(|c| c.clause_id == "11.0")
        .cloned()
        .context("the Codex has no clause 11.0")?;
    let env = sign_entry(&hubs[0].0, Operation::Genesis(g));
    let rec = LogRecord {
        index: 0,
        timestamp: now(),
        envelope: env,
    };
    Ok((rec, contract_id, clause))
}

pub(crate) fn now() -> Timestamp {
    govmesh_node::now()
}

/// Polls `url` until its JSON answer satisfies `ok`, for at most a minute.
async fn wait_json(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<()> {
    let deadline = Duration::from_secs(60);
    let t = Instant::now();
    while t.elapsed() < deadline {
        if get_json(client, url).await.is_some_and(|v| ok(&v)) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("timed out after {deadline:?} waiting for {what}")
}

/// Joins `key` to the mesh `genesis` in `dir` and starts `govmesh serve` there on
/// `url`'s address, logging to `logs/<name>.log`.
#[allow(clippy::too_many_arguments)]
fn join_and_serve(
    procs: &mut Procs,
    exe: &Path,
    name: &str,
    dir: &Path,
    key: &KeyPair,
    genesis: &LogRecord,
    url: &str,
    logs: &Path,
) -> Result<()> {
    govmesh_node::join(dir, key.clone(), genesis)
        .map_err(|e| anyhow::anyhow!("joining {name}: {e}"))?;
    procs.spawn(
        name,
        Command::new(exe)
            .arg("serve")
            // A bench killed before it stops its nodes must not leave them running.
            .arg("--stop-with-parent")
            .arg("--data")
            .arg(dir)
            .arg("--listen")
            .arg(url.trim_start_matches("http://"))
            .env("RUST_LOG", "warn"),
        &logs.join(format!("{name}.log")),
    )
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let r = client.get(url).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// Runs the govmesh side; returns the result and the mean vote body size in bytes.
async fn govmesh_run(
    opts: &CouncilBench,
    work: &Path,
    per_client: usize,
) -> Result<(LoadResult, usize)> {
    let exe = std::env::current_exe().context("finding the govmesh binary")?;
    let mut hubs = Vec::new();
    for _ in 0..opts.hubs {
        let port = free_port()?;
        hubs.push((new_key()?, format!("http://127.0.0.1:{port}")));
    }
    let voters: Vec<KeyPair> = (0..opts.clients)
        .map(|_| new_key())
        .collect::<Result<_>>()?;
    let (genesis, contract_id, clause) = bench_genesis(&hubs, &voters)?;
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut procs = Procs(Vec::new());
    for (i, (key, url)) in hubs.iter().enumerate() {
        let dir = work.join(format!("hub-{i}"));
        join_and_serve(
            &mut procs,
            &exe,
            &format!("hub-{i}"),
            &dir,
            key,
            &genesis,
            url,
            &logs,
        )?;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    // Up, and a leader elected that every hub knows.
    for (i, (_, url)) in hubs.iter().enumerate() {
        wait_json(
            &client,
            &format!("{url}/v1/council"),
            &format!("hub {i} to know a leader"),
            |v| v.get("leader").is_some_and(|l| !l.is_null()),
        )
        .await
        .or_else(|e| procs.check_alive(&logs).and(Err(e)))?;
    }

    // Setup, untimed: one proposal per round of votes, by the first hub.
    let base = clause.hash().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut proposals = Vec::new();
    for p in 0..per_client {
        let id = uuid::Uuid::new_v4().to_string();
        let op = ProposeOp::amend(
            id.clone(),
            contract_id.clone(),
            "11.0",
            base,
            format!("council benchmark round {p}"),
            Changes {
                current_text: clause.text.clone(),
                proposed_text: format!("{}\nBenchmark round {p}.", clause.text),
                diff: Vec::new(),
            },
        );
        let env = sign_entry_at(&hubs[0].0, Operation::Propose(op), now());
        let r = client
            .post(format!("{}/v1/entries", hubs[0].1))
            .json(&env)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!(
                "proposal {p} refused: {}",
                r.text().await.unwrap_or_default()
            );
        }
        proposals.push(id);
    }
    // Pre-sign every vote: client j is voter j; half approve, half reject.
    let mut bodies: Vec<Vec<Vec<u8>>> = Vec::with_capacity(opts.clients);
    let mut total_bytes = 0usize;
    for (j, voter) in voters.iter().enumerate() {
        let mut mine = Vec::with_capacity(per_client);
        for pid in &proposals {
            let choice = if j % 2 == 0 {
                VoteChoice::Approve
            } else {
                VoteChoice::Reject
            };
            let env = sign_entry_at(
                voter,
                Operation::Vote(VoteOp::new(pid.clone(), choice)),
                now(),
            );
            let b = serde_json::to_vec(&env)?;
            total_bytes += b.len();
            mine.push(b);
        }
        bodies.push(mine);
    }
    let payload = total_bytes / (opts.clients * per_client);
    let urls: Vec<String> = (0..opts.clients)
        .map(|j| format!("{}/v1/entries", hubs[j % hubs.len()].1))
        .collect();
    let r = measured_load(&procs, &client, urls, bodies).await;
    procs.check_alive(&logs)?;
    Ok((r, payload))
}

/// [`load`] of JSON bodies, with the CPU time the servers in `procs` and this process
/// used meanwhile.
async fn measured_load(
    procs: &Procs,
    client: &reqwest::Client,
    urls: Vec<String>,
    bodies: Vec<Vec<Vec<u8>>>,
) -> LoadResult {
    let (s0, c0) = (procs.cpu(), process_cpu("self"));
    let mut r = load(client, urls, bodies, "application/json").await;
    let (s1, c1) = (procs.cpu(), process_cpu("self"));
    r.server_cpu = s0.zip(s1).map(|(a, b)| b.saturating_sub(a));
    r.client_cpu = c0.zip(c1).map(|(a, b)| b.saturating_sub(a));
    r
}

/// Each client sends its bodies in order to its URL, one at a time; all clients at once.
async fn load(
    client: &reqwest::Client,
    urls: Vec<String>,
    bodies: Vec<Vec<Vec<u8>>>,
    content_type: &'static str,
) -> LoadResult {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (url, mine) in urls.into_iter().zip(bodies) {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(mine.len());
            let mut failed = 0usize;
            let mut first_error = None;
            for b in mine {
                let t = Instant::now();
                let r = c
                    .post(&url)
                    .header("content-type", content_type)
                    .body(b)
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        true
                    }
                    Ok(r) => {
                        let s = r.status();
                        let t = r.text().await.unwrap_or_default();
                        first_error.get_or_insert(format!("{s}: {t}"));
                        false
                    }
                    Err(e) => {
                        first_error.get_or_insert(e.to_string());
                        false
                    }
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    failed += 1;
                }
            }
            (lat, failed, first_error)
        }));
    }
    let mut r = LoadResult {
        ok: 0,
        failed: 0,
        first_error: None,
        wall: Duration::ZERO,
        latencies: Vec::new(),
        server_cpu: None,
        client_cpu: None,
    };
    for t in tasks {
        match t.await {
            Ok((lat, failed, err)) => {
                r.ok += lat.len();
                r.failed += failed;
                r.latencies.extend(lat);
                if r.first_error.is_none() {
                    r.first_error = err;
                }
            }
            Err(e) => {
                r.failed += 1;
                r.first_error.get_or_insert(e.to_string());
            }
        }
    }
    r.wall = start.elapsed();
    r
}

/// Runs the etcd side: a cluster of `hubs` members on loopback, the same number of
/// clients, each doing `per_client` puts of `payload` bytes through etcd's HTTP/JSON
/// gateway (the same transport our clients use).
async fn etcd_run(
    bin: &Path,
    opts: &CouncilBench,
    work: &Path,
    per_client: usize,
    payload: usize,
) -> Result<LoadResult> {
    let n = opts.hubs;
    let mut members = Vec::new();
    for i in 0..n {
        members.push((format!("m{i}"), free_port()?, free_port()?));
    }
    let cluster: Vec<String> = members
        .iter()
        .map(|(name, _, peer)| format!("{name}=http://127.0.0.1:{peer}"))
        .collect();
    let cluster = cluster.join(",");
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut procs = Procs(Vec::new());
    for (name, client_port, peer_port) in &members {
        let data = work.join(format!("etcd-{name}"));
        procs.spawn(
            &format!("etcd-{name}"),
            Command::new(bin)
                .arg("--name")
                .arg(name)
                .arg("--data-dir")
                .arg(&data)
                .arg("--listen-client-urls")
                .arg(format!("http://127.0.0.1:{client_port}"))
                .arg("--advertise-client-urls")
                .arg(format!("http://127.0.0.1:{client_port}"))
                .arg("--listen-peer-urls")
                .arg(format!("http://127.0.0.1:{peer_port}"))
                .arg("--initial-advertise-peer-urls")
                .arg(format!("http://127.0.0.1:{peer_port}"))
                .arg("--initial-cluster")
                .arg(&cluster)
                .arg("--initial-cluster-token")
                .arg("govmesh-bench")
                .arg("--initial-cluster-state")
                .arg("new")
                .arg("--log-level")
                .arg("warn"),
            &logs.join(format!("etcd-{name}.log")),
        )?;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    for (name, client_port, _) in &members {
        wait_json(
            &client,
            &format!("http://127.0.0.1:{client_port}/health"),
            &format!("etcd {name} to be healthy"),
            |v| v["health"] == "true",
        )
        .await
        .or_else(|e| procs.check_alive(&logs).and(Err(e)))?;
    }
    let value = STANDARD.encode(vec![b'v'; payload]);
    let bodies: Vec<Vec<Vec<u8>>> = (0..opts.clients)
        .map(|j| {
            (0..per_client)
                .map(|k| {
                    let key = STANDARD.encode(format!("bench/{j}/{k}"));
                    serde_json::to_vec(&json!({"key": key, "value": value}))
                        .expect("JSON of strings")
                })
                .collect()
        })
        .collect();
    let urls: Vec<String> = (0..opts.clients)
        .map(|j| format!("http://127.0.0.1:{}/v3/kv/put", members[j % n].1))
        .collect();
    let r = measured_load(&procs, &client, urls, bodies).await;
    procs.check_alive(&logs)?;
    Ok(r)
}

/// `govmesh bench ...`: benchmarks that need real processes.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Signed votes per second committed by a council of hubs with concurrent clients,
    /// beside an etcd cluster of the same size doing puts of the same payload size.
    Council {
        #[arg(long, default_value_t = 3, value_name = "N")]
        hubs: usize,
        #[arg(long, default_value_t = 64, value_name = "N")]
        clients: usize,
        /// Votes in all (rounded up to a multiple of --clients).
        #[arg(long, default_value_t = 6400, value_name = "N")]
        votes: usize,
        /// The etcd server binary (Debian: etcd-server).
        #[arg(long, default_value = "etcd", value_name = "PATH")]
        etcd: PathBuf,
        /// Skip the etcd comparison.
        #[arg(long)]
        no_etcd: bool,
        /// Rounds, each with a fresh council and a fresh etcd cluster run one after
        /// the other (alternating which goes first); the ratio is the rounds' median.
        #[arg(long, default_value_t = 3, value_name = "N")]
        rounds: usize,
        /// Keep the working directory (data dirs and logs) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// `govmesh verify` of an exported log (JSON lines) beside bare Ed25519
    /// verification of the same entries on one core.
    Verify {
        /// Entries in the generated log.
        #[arg(long, default_value_t = 100_000, value_name = "N")]
        entries: u64,
        /// Keep the export here (else it is deleted).
        #[arg(long, value_name = "FILE")]
        keep: Option<PathBuf>,
    },
    /// A 3-hub, 2-witness, 3-fork mesh on loopback under proposals and votes while
    /// nodes are killed (-9) and restarted, a hub is cut off and healed, a fork's disk
    /// fills and a hub's clock runs 5 minutes off; then checks that every
    /// acknowledged entry is on every node, one log, one state, every entry verified.
    Chaos {
        /// How long the load and the faults run.
        #[arg(long, default_value = "600", value_name = "SECONDS")]
        duration: u64,
        /// Keep the working directory (data dirs and logs) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Mixed load on a 3-hub council (reads and signed votes from a Rust load
    /// generator): errors, throughput, p50/p99 latency, and the hubs' resident memory
    /// over time and its growth after warm-up.
    Soak {
        /// How long the load runs.
        #[arg(long, default_value = "600", value_name = "SECONDS")]
        duration: u64,
        /// Concurrent readers.
        #[arg(long, default_value_t = 8, value_name = "N")]
        readers: usize,
        /// Concurrent writers (each a voter identity sending signed votes).
        #[arg(long, default_value_t = 8, value_name = "N")]
        writers: usize,
        /// Keep the working directory (data dirs and logs) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// CPU per node of an idle mesh on loopback (share of one core over a window,
    /// from /proc), mean and max, beside the bench process's own CPU as the floor.
    Idle {
        #[arg(long, default_value_t = 3, value_name = "N")]
        hubs: usize,
        #[arg(long, default_value_t = 2, value_name = "N")]
        witnesses: usize,
        #[arg(long, default_value_t = 5, value_name = "N")]
        forks: usize,
        /// Rest after convergence before the window opens.
        #[arg(long, default_value_t = 15, value_name = "SECONDS")]
        settle: u64,
        /// The measured window.
        #[arg(long, default_value_t = 60, value_name = "SECONDS")]
        window: u64,
        /// Keep the working directory (data dirs and logs) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// From a proposal's adoption to every node holding the new revision (its
    /// ack_sync committed): median and p99 over a series of adoptions.
    Convergence {
        #[arg(long, default_value_t = 3, value_name = "N")]
        hubs: usize,
        #[arg(long, default_value_t = 2, value_name = "N")]
        witnesses: usize,
        #[arg(long, default_value_t = 10, value_name = "N")]
        forks: usize,
        #[arg(long, default_value_t = 20, value_name = "N")]
        adoptions: usize,
        /// Keep the working directory (data dirs and logs) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

pub fn dispatch(cmd: BenchCommand, json: bool) -> Result<i32> {
    match cmd {
        BenchCommand::Idle {
            hubs,
            witnesses,
            forks,
            settle,
            window,
            dir,
        } => crate::bench_idle::run(
            crate::bench_idle::IdleOptions {
                hubs,
                witnesses,
                forks,
                settle: Duration::from_secs(settle),
                window: Duration::from_secs(window),
                dir,
            },
            json,
        ),
        BenchCommand::Council {
            hubs,
            clients,
            votes,
            etcd,
            no_etcd,
            rounds,
            dir,
        } => run(CouncilBench {
            hubs,
            clients,
            votes,
            etcd: (!no_etcd).then_some(etcd),
            dir,
            rounds,
            json,
        }),
        BenchCommand::Verify { entries, keep } => {
            crate::bench_verify::run(entries, keep.as_deref(), json)
        }
        BenchCommand::Convergence {
            hubs,
            witnesses,
            forks,
            adoptions,
            dir,
        } => convergence(hubs, witnesses, forks, adoptions, dir, json),
        BenchCommand::Chaos { duration, dir } => {
            crate::chaos::run(Duration::from_secs(duration), dir, json)
        }
        BenchCommand::Soak {
            duration,
            readers,
            writers,
            dir,
        } => crate::soak::run(
            crate::soak::SoakOptions {
                duration: Duration::from_secs(duration),
                readers,
                writers,
                dir,
            },
            json,
        ),
    }
}

fn convergence(
    hubs: usize,
    witnesses: usize,
    forks: usize,
    adoptions: usize,
    dir: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    if hubs < 2 || adoptions == 0 {
        bail!("--hubs must be at least 2 (two approvals adopt) and --adoptions at least 1");
    }
    let work = match &dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("{}", d.display()))?;
            d.clone()
        }
        None => tempdir()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let r = rt.block_on(convergence_run(hubs, witnesses, forks, adoptions, &work));
    if dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    let (log_ms, seen_ms) = r?;
    let stats = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let pick = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
        (pick(0.5), pick(0.99), v[v.len() - 1])
    };
    let (lm, lp, lmax) = stats(&log_ms);
    let (sm, sp, smax) = stats(&seen_ms);
    let nodes = hubs + witnesses + forks;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "hubs": hubs, "witnesses": witnesses, "forks": forks,
                "adoptions": adoptions,
                "log_ms": {"median": lm, "p99": lp, "max": lmax, "all": log_ms},
                "observed_ms": {"median": sm, "p99": sp, "max": smax, "all": seen_ms},
            }))?
        );
    } else {
        println!(
            "{nodes} nodes ({hubs} hubs, {witnesses} witnesses, {forks} trust forks), {adoptions} adoptions"
        );
        println!("| measure | median | p99 | max |");
        println!("|---|---|---|---|");
        println!(
            "| adoption to last ack_sync, council time | {lm:.0} ms | {lp:.0} ms | {lmax:.0} ms |"
        );
        println!(
            "| adoption answer to sync completed, seen by a client | {sm:.0} ms | {sp:.0} ms | {smax:.0} ms |"
        );
    }
    Ok(0)
}

/// Returns, per adoption, (completion_time - adoption time) from the sync record, and
/// the time from the deciding vote's answer until a client saw the record completed.
async fn convergence_run(
    hubs: usize,
    witnesses: usize,
    forks: usize,
    adoptions: usize,
    work: &Path,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let exe = std::env::current_exe().context("finding the govmesh binary")?;
    let mut nodes: Vec<(KeyPair, NodeType, String)> = Vec::new();
    for (n, t) in [
        (hubs, NodeType::GovernanceHub),
        (witnesses, NodeType::ComplianceWitness),
        (forks, NodeType::TrustFork),
    ] {
        for _ in 0..n {
            nodes.push((new_key()?, t, format!("http://127.0.0.1:{}", free_port()?)));
        }
    }
    let founders: Vec<NodeSpec> = nodes
        .iter()
        .map(|(k, t, url)| NodeSpec {
            node_id: k.node_id().to_owned(),
            node_type: *t,
            public_key: k.public(),
            network_address: Some(url.clone()),
            display_name: None,
            node_policy_capabilities: Vec::new(),
        })
        .collect();
    let genesis = govmesh_node::mesh_genesis("convergence-bench", &nodes[0].0, founders, now())
        .map_err(|e| anyhow::anyhow!("genesis: {e}"))?;
    let (contract_id, mut clause) = {
        let p = genesis
            .envelope
            .payload_bytes()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let v: Value = serde_json::from_slice(&p)?;
        let id = v
            .pointer("/contract/contract_id")
            .and_then(Value::as_str)
            .context("genesis has no contract id")?
            .to_owned();
        let cl = v
            .pointer("/contract/clauses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|c| c["clause_id"] == "11.0").cloned())
            .context("the Codex has no clause 11.0")?;
        (id, serde_json::from_value::<Clause>(cl)?)
    };
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut procs = Procs(Vec::new());
    for (i, (key, t, url)) in nodes.iter().enumerate() {
        let name = format!("{}-{i}", t.as_str());
        let d = work.join(&name);
        join_and_serve(&mut procs, &exe, &name, &d, key, &genesis, url, &logs)?;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    for (i, (_, t, url)) in nodes.iter().enumerate() {
        wait_json(
            &client,
            &format!("{url}/v1/status"),
            &format!("{} {i} to serve", t.as_str()),
            |_| true,
        )
        .await
        .or_else(|e| procs.check_alive(&logs).and(Err(e)))?;
    }
    let hub0 = nodes[0].2.clone();
    // The genesis revision synced everywhere first: the mesh is up and acking.
    wait_sync_completed(&client, &hub0, &contract_id, 1, Duration::from_secs(120))
        .await
        .or_else(|e| procs.check_alive(&logs).and(Err(e)))?;

    let mut log_ms = Vec::new();
    let mut seen_ms = Vec::new();
    for round in 0..adoptions {
        let base = clause.hash().map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = format!("{}\nConvergence round {round}.", clause.text);
        let pid = uuid::Uuid::new_v4().to_string();
        let op = ProposeOp::amend(
            pid.clone(),
            contract_id.clone(),
            "11.0",
            base,
            format!("convergence benchmark round {round}"),
            Changes {
                current_text: clause.text.clone(),
                proposed_text: text.clone(),
                diff: Vec::new(),
            },
        );
        post_entry(
            &client,
            &hub0,
            &sign_entry_at(&nodes[0].0, Operation::Propose(op), now()),
        )
        .await?;
        let mut decided = None;
        for (i, (key, _, url)) in nodes.iter().take(hubs).enumerate() {
            let vote = Operation::Vote(VoteOp::new(pid.clone(), VoteChoice::Approve));
            // Votes go through different hubs, as clients would send them.
            post_entry(&client, url, &sign_entry_at(key, vote, now())).await?;
            let t = Instant::now();
            // The hub that answered holds the entry (it answers once applied).
            let p = get_json(&client, &format!("{url}/v1/proposals/{pid}")).await;
            let status = p
                .as_ref()
                .and_then(|p| {
                    p.pointer("/status")
                        .or_else(|| p.pointer("/proposal/status"))
                })
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if status == "adopted" {
                decided = Some((i, t));
                break;
            }
            if status == "rejected" || status == "withdrawn" {
                bail!("round {round}: proposal {pid} ended {status}");
            }
        }
        let Some((_, answered)) = decided else {
            bail!("round {round}: proposal {pid} not adopted after every hub approved");
        };
        let revision = get_json(&client, &format!("{hub0}/v1/contracts/{contract_id}"))
            .await
            .and_then(|c| c["revision"].as_u64())
            .context("reading the contract's revision after adoption")?;
        let rec = wait_sync_completed(
            &client,
            &hub0,
            &contract_id,
            revision,
            Duration::from_secs(60),
        )
        .await
        .or_else(|e| procs.check_alive(&logs).and(Err(e)))?;
        seen_ms.push(answered.elapsed().as_secs_f64() * 1e3);
        let at = rec["timestamp"].as_str().unwrap_or_default();
        let done = rec["completion_time"].as_str().unwrap_or_default();
        let ms = rfc3339_ms(done)? - rfc3339_ms(at)?;
        log_ms.push(ms as f64);
        eprintln!("round {round}: revision {revision} everywhere after {ms} ms (council time)");
        clause.text = text;
    }
    procs.check_alive(&logs)?;
    Ok((log_ms, seen_ms))
}

fn rfc3339_ms(s: &str) -> Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("timestamp {s:?}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

async fn post_entry(
    client: &reqwest::Client,
    url: &str,
    env: &govmesh_core::dsse::Envelope,
) -> Result<Value> {
    let r = client
        .post(format!("{url}/v1/entries"))
        .json(env)
        .send()
        .await
        .with_context(|| format!("POST {url}/v1/entries"))?;
    let s = r.status();
    let body = r.text().await.unwrap_or_default();
    if !s.is_success() {
        bail!("{url} refused an entry ({s}): {body}");
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Polls the node's sync records until `revision` of `contract_id` is completed;
/// returns the record.
async fn wait_sync_completed(
    client: &reqwest::Client,
    url: &str,
    contract_id: &str,
    revision: u64,
    deadline: Duration,
) -> Result<Value> {
    let t = Instant::now();
    let mut last = Value::Null;
    while t.elapsed() < deadline {
        if let Some(v) = get_json(
            client,
            &format!("{url}/v1/sync?contract={contract_id}&limit=1000"),
        )
        .await
            && let Some(rec) = v["sync_records"].as_array().and_then(|a| {
                a.iter()
                    .find(|r| r["contract_id"] == contract_id && r["revision"] == revision)
            })
        {
            if rec["status"] == "completed" {
                return Ok(rec.clone());
            }
            last = rec.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!(
        "revision {revision} of {contract_id} not synced everywhere after {deadline:?}; last record: {last}"
    )
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[0.9, 1.2, 0.7]), Some(0.9));
        assert_eq!(median(&[1.0, 0.5, 0.75, 2.0]), Some(0.875));
    }
}
