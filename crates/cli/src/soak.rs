//! `govmesh bench soak`: a long mixed load on a 3-hub council on loopback, from a
//! load generator in this process: readers (status, proposals, log pages, the Codex,
//! the checkpoint) and writers (signed votes by voter identities, on proposals a
//! proposer keeps opening through the hubs and withdraws once every writer has voted on
//! it, so proposals close as in a living mesh and the live state keeps its size).
//! Reports errors, throughput, p50/p99 per kind, and the hubs' resident memory (VmRSS) over time with its growth after the
//! warm-up (the first fifth of the run); the target is under 10%.

use crate::bench::{Procs, bench_genesis_window, new_key, tempdir};
use crate::chaos::Rng;
use crate::demo::free_port;
use anyhow::{Context, Result, bail};
use govmesh_core::entry::{Operation, ProposeOp, VoteOp, WithdrawOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, VoteChoice};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of `govmesh bench soak`.
pub struct SoakOptions {
    pub duration: Duration,
    pub readers: usize,
    pub writers: usize,
    pub dir: Option<PathBuf>,
}

/// Latencies and errors of one kind of request.
#[derive(Default)]
struct Kind {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

impl Kind {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies.clone();
        v.sort();
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1e3
    }
}

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/PID/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn run(opts: SoakOptions, json_out: bool) -> Result<i32> {
    if opts.writers == 0 || opts.readers == 0 {
        bail!("--readers and --writers must be at least 1");
    }
    let work = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("{}", d.display()))?;
            d.clone()
        }
        None => tempdir()?,
    };
    let r = soak(&opts, &work, json_out);
    if opts.dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    r
}

fn soak(opts: &SoakOptions, work: &Path, json_out: bool) -> Result<i32> {
    let exe = std::env::current_exe().context("finding the govmesh binary")?;
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut hubs = Vec::new();
    for _ in 0..3 {
        hubs.push((new_key()?, format!("http://127.0.0.1:{}", free_port()?)));
    }
    let voters: Vec<KeyPair> = (0..opts.writers)
        .map(|_| new_key())
        .collect::<Result<_>>()?;
    // The shortest replay window clause 5.4 allows (300 s): within ten minutes the
    // hubs forget entries that left the window, so the run shows what a node keeps
    // for replay detection is bounded by the window, not by the log.
    let (genesis, contract_id, clause) = bench_genesis_window(&hubs, &voters, Some(300))?;
    let mut procs = Procs::default();
    for (i, (key, url)) in hubs.iter().enumerate() {
        let name = format!("hub-{i}");
        let dir = work.join(&name);
        govmesh_node::join(&dir, key.clone(), &genesis)
            .map_err(|e| anyhow::anyhow!("joining {name}: {e}"))?;
        procs.spawn_appending(
            &name,
            Command::new(&exe)
                .arg("serve")
                // A bench killed before it stops its hubs must not leave them running.
                .arg("--stop-with-parent")
                .arg("--data")
                .arg(&dir)
                .arg("--listen")
                .arg(url.trim_start_matches("http://"))
                .env("RUST_LOG", "warn"),
            &logs.join(format!("{name}.log")),
        )?;
    }
    let pids: Vec<u32> = (0..3)
        .map(|i| {
            procs
                .pid(&format!("hub-{i}"))
                .context("a hub did not start")
        })
        .collect::<Result<_>>()?;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(opts.readers + opts.writers + 1)
        .build()?;
    let t = Instant::now();
    while !hubs.iter().all(|(_, u)| {
        http.get(format!("{u}/v1/council"))
            .send()
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .is_some_and(|v| !v["leader"].is_null())
    }) {
        if t.elapsed() > Duration::from_secs(90) {
            bail!("no council leader within 90 s (logs in {})", logs.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let base = clause.hash().map_err(|e| anyhow::anyhow!("{e}"))?;
    let urls: Vec<String> = hubs.iter().map(|(_, u)| u.clone()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let proposals: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let reads = Arc::new(Mutex::new(Kind::default()));
    let writes = Arc::new(Mutex::new(Kind::default()));
    let proposes = Arc::new(Mutex::new(Kind::default()));
    let withdrawals = Arc::new(Mutex::new(Kind::default()));
    // Which hub proposed each proposal (it alone may withdraw it), and how many of the
    // proposals each writer has voted on (its vote answered).
    let proposers: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
    let progress: Vec<AtomicUsize> = (0..opts.writers).map(|_| AtomicUsize::new(0)).collect();
    let log_size = Arc::new(AtomicU64::new(0));
    eprintln!(
        "soak: 3 hubs, {} readers, {} writers, {}s",
        opts.readers,
        opts.writers,
        opts.duration.as_secs()
    );
    let record = |k: &Mutex<Kind>,
                  t: Instant,
                  r: std::result::Result<reqwest::blocking::Response, reqwest::Error>|
     -> Option<Value> {
        let d = t.elapsed();
        let mut k = k.lock().unwrap_or_else(|e| e.into_inner());
        match r {
            Ok(r) if r.status().is_success() => {
                k.latencies.push(d);
                r.json().ok()
            }
            Ok(r) => {
                k.errors += 1;
                let s = r.status();
                k.first_error
                    .get_or_insert_with(|| format!("{s}: {}", r.text().unwrap_or_default()));
                None
            }
            Err(e) => {
                k.errors += 1;
                k.first_error.get_or_insert_with(|| e.to_string());
                None
            }
        }
    };
    let started = Instant::now();
    let http = &http;
    let samples = std::thread::scope(|s| {
        // The proposer: keeps a few proposals ahead of the fastest writer.
        s.spawn(|| {
            let mut n = 0usize;
            let mut withdrawn = 0usize;
            while !stop.load(Ordering::SeqCst) {
                // Withdraw what every writer has voted on: a finished proposal leaves
                // the hubs' memory for their history tables.
                let voted = progress
                    .iter()
                    .map(|p| p.load(Ordering::SeqCst))
                    .min()
                    .unwrap_or(0);
                while withdrawn < voted && !stop.load(Ordering::SeqCst) {
                    let pid =
                        proposals.lock().unwrap_or_else(|e| e.into_inner())[withdrawn].clone();
                    let h = proposers.lock().unwrap_or_else(|e| e.into_inner())[withdrawn];
                    let (key, url) = &hubs[h];
                    let op = Operation::Withdraw(WithdrawOp {
                        proposal_id: pid,
                        reason: Some("soak: every writer voted".into()),
                    });
                    let env = sign_entry_at(key, op, crate::bench::now());
                    let t = Instant::now();
                    let r = http.post(format!("{url}/v1/entries")).json(&env).send();
                    record(&withdrawals, t, r);
                    withdrawn += 1;
                }
                let open = proposals.lock().unwrap_or_else(|e| e.into_inner()).len();
                let need = votes_cast(&writes) / opts.writers + 16;
                if open >= need {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let pid = uuid::Uuid::new_v4().to_string();
                let op = Operation::Propose(ProposeOp::amend(
                    pid.clone(),
                    contract_id.clone(),
                    "11.0",
                    base,
                    format!("soak proposal {n}"),
                    Changes {
                        current_text: clause.text.clone(),
                        proposed_text: format!("{}\nSoak {n}.", clause.text),
                        diff: Vec::new(),
                    },
                ));
                let h = n % hubs.len();
                let (key, url) = &hubs[h];
                let env = sign_entry_at(key, op, crate::bench::now());
                let t = Instant::now();
                let r = http.post(format!("{url}/v1/entries")).json(&env).send();
                if record(&proposes, t, r).is_some() {
                    // The proposer first: a writer's progress never runs past it.
                    proposers.lock().unwrap_or_else(|e| e.into_inner()).push(h);
                    proposals
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(pid);
                }
                n += 1;
            }
        });
        for (j, voter) in voters.iter().enumerate() {
            let (stop, proposals, writes, urls) = (&stop, &proposals, &writes, &urls);
            let progress = &progress[j];
            s.spawn(move || {
                let mut next = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let pid = proposals
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(next)
                        .cloned();
                    let Some(pid) = pid else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    next += 1;
                    let choice = if j % 2 == 0 {
                        VoteChoice::Approve
                    } else {
                        VoteChoice::Reject
                    };
                    let env = sign_entry_at(
                        voter,
                        Operation::Vote(VoteOp::new(pid, choice)),
                        crate::bench::now(),
                    );
                    let url = &urls[(j + next) % urls.len()];
                    let t = Instant::now();
                    let r = http.post(format!("{url}/v1/entries")).json(&env).send();
                    record(writes, t, r);
                    progress.store(next, Ordering::SeqCst);
                }
            });
        }
        for i in 0..opts.readers {
            let (stop, proposals, reads, urls, log_size) =
                (&stop, &proposals, &reads, &urls, &log_size);
            s.spawn(move || {
                let mut rng = Rng::new();
                while !stop.load(Ordering::SeqCst) {
                    let url = &urls[(i + rng.below(urls.len())) % urls.len()];
                    let size = log_size.load(Ordering::SeqCst);
                    let path = match rng.below(5) {
                        0 => "/v1/status".to_owned(),
                        1 => {
                            // Not the newest: a follower applies an entry a moment
                            // after the hub that answered its submission.
                            let p = proposals.lock().unwrap_or_else(|e| e.into_inner());
                            match p.len().saturating_sub(SETTLED) {
                                0 => "/v1/status".to_owned(),
                                n => format!("/v1/proposals/{}", p[rng.below(n)]),
                            }
                        }
                        2 => format!("/v1/log/entries?start={}", size.saturating_sub(50)),
                        3 => "/v1/contracts/codex".to_owned(),
                        _ => "/v1/log/checkpoint".to_owned(),
                    };
                    let t = Instant::now();
                    let r = http.get(format!("{url}{path}")).send();
                    let v = if path.ends_with("checkpoint") {
                        let mut k = reads.lock().unwrap_or_else(|e| e.into_inner());
                        match r {
                            Ok(r) if r.status().is_success() => {
                                if r.text().is_ok() {
                                    k.latencies.push(t.elapsed());
                                } else {
                                    k.errors += 1;
                                }
                            }
                            Ok(r) => {
                                k.errors += 1;
                                k.first_error.get_or_insert_with(|| r.status().to_string());
                            }
                            Err(e) => {
                                k.errors += 1;
                                k.first_error.get_or_insert_with(|| e.to_string());
                            }
                        }
                        None
                    } else {
                        record(reads, t, r)
                    };
                    if let Some(n) = v.as_ref().and_then(|v| v["log_size"].as_u64()) {
                        log_size.store(n, Ordering::SeqCst);
                    }
                }
            });
        }
        // The memory sampler, in this thread, until the end.
        let every = (opts.duration / 40).clamp(Duration::from_secs(1), Duration::from_secs(15));
        let mut samples: Vec<(f64, Vec<u64>)> = Vec::new();
        while started.elapsed() < opts.duration {
            let rss: Vec<u64> = pids.iter().map(|p| rss_kib(*p).unwrap_or(0)).collect();
            samples.push((started.elapsed().as_secs_f64(), rss));
            std::thread::sleep(every.min(opts.duration.saturating_sub(started.elapsed())));
        }
        let rss: Vec<u64> = pids.iter().map(|p| rss_kib(*p).unwrap_or(0)).collect();
        samples.push((started.elapsed().as_secs_f64(), rss));
        stop.store(true, Ordering::SeqCst);
        samples
    });
    let wall = started.elapsed().as_secs_f64();
    let alive = pids.iter().all(|p| rss_kib(*p).is_some());
    procs.kill_all();

    // Growth after warm-up: the mean of the samples in the tenth after the warm-up
    // against the mean of the last tenth, per hub.
    let warm = opts.duration.as_secs_f64() * 0.2;
    let span = opts.duration.as_secs_f64() * 0.1;
    let mean = |from: f64, to: f64, h: usize| -> Option<f64> {
        let v: Vec<f64> = samples
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, r)| r[h] as f64)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let growth: Vec<Option<f64>> = (0..3)
        .map(|h| {
            let a = mean(warm, warm + span, h)?;
            let b = mean(wall - span, wall + 1.0, h)?;
            Some((b - a) / a * 100.0)
        })
        .collect();
    let max_growth = growth.iter().flatten().cloned().fold(f64::MIN, f64::max);
    let (reads, writes, proposes, withdrawals) = (
        lock(&reads),
        lock(&writes),
        lock(&proposes),
        lock(&withdrawals),
    );
    let errors = reads.errors + writes.errors + proposes.errors + withdrawals.errors;
    let pass = errors == 0 && alive && max_growth < 10.0;
    let kinds = [
        ("reads", &*reads),
        ("votes", &*writes),
        ("proposals", &*proposes),
        ("withdrawals", &*withdrawals),
    ];
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "duration_secs": wall,
                "kinds": kinds.iter().map(|(n, k)| json!({
                    "kind": n,
                    "ok": k.latencies.len(),
                    "errors": k.errors,
                    "first_error": k.first_error,
                    "per_sec": k.latencies.len() as f64 / wall,
                    "p50_ms": k.percentile(0.5),
                    "p99_ms": k.percentile(0.99),
                })).collect::<Vec<_>>(),
                "rss_kib": samples.iter().map(|(t, r)| json!({"t": t, "hubs": r})).collect::<Vec<_>>(),
                "rss_growth_after_warmup_pct": growth,
                "hubs_alive": alive,
                "pass": pass,
            }))?
        );
    } else {
        println!(
            "soak: {wall:.0}s on 3 hubs, {} readers, {} writers",
            opts.readers, opts.writers
        );
        println!("| kind | ok | errors | per second | p50 | p99 |");
        println!("|---|---|---|---|---|---|");
        for (n, k) in kinds {
            println!(
                "| {n} | {} | {} | {:.0} | {:.1} ms | {:.1} ms |",
                k.latencies.len(),
                k.errors,
                k.latencies.len() as f64 / wall,
                k.percentile(0.5),
                k.percentile(0.99)
            );
        }
        for (n, k) in kinds {
            if let Some(e) = &k.first_error {
                println!("first {n} error: {e}");
            }
        }
        println!("RSS of the hubs (MiB) over time:");
        for (t, r) in &samples {
            let mib: Vec<String> = r
                .iter()
                .map(|k| format!("{:.1}", *k as f64 / 1024.0))
                .collect();
            println!("  {t:>6.0}s  {}", mib.join("  "));
        }
        let g: Vec<String> = growth
            .iter()
            .map(|g| g.map_or("-".into(), |g| format!("{g:+.1}%")))
            .collect();
        println!(
            "RSS growth after warm-up (first {warm:.0}s): {} (target < 10%)",
            g.join(", ")
        );
        println!(
            "result: {}",
            if pass {
                "pass"
            } else {
                "FAIL (errors, a hub died, or RSS grew 10% or more)"
            }
        );
    }
    Ok(if pass { 0 } else { 1 })
}

/// Readers ask for proposals older than the newest this many: every hub holds those.
const SETTLED: usize = 64;

fn lock(k: &Mutex<Kind>) -> std::sync::MutexGuard<'_, Kind> {
    k.lock().unwrap_or_else(|e| e.into_inner())
}

fn votes_cast(k: &Mutex<Kind>) -> usize {
    lock(k).latencies.len()
}
