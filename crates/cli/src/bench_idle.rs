//! `govmesh bench idle`: the CPU an idle mesh costs. Starts a mesh of real processes
//! on loopback (hubs, witnesses, trust forks, as `govmesh demo` does, without the
//! story), waits until every node holds the same log and it has settled, lets it
//! rest, then reads each node's CPU time (user + system, all threads, from
//! `/proc/PID/stat`) at the start and end of a window and reports each node's share
//! of one core, the mean and the max. Beside it, the baseline: the CPU the bench
//! process itself used in the same window, a process that only sleeps and reads
//! `/proc` once per node at each end (the floor of what the measure can see: the
//! kernel counts CPU in 10 ms ticks).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use crate::demo::{self, MeshSize};
use crate::logging::LogFormat;

pub struct IdleOptions {
    pub hubs: usize,
    pub witnesses: usize,
    pub forks: usize,
    /// Rest after the mesh has converged, before the window opens.
    pub settle: Duration,
    /// The measured window.
    pub window: Duration,
    pub dir: Option<PathBuf>,
}

pub fn run(o: IdleOptions, json_out: bool) -> Result<i32> {
    if std::fs::metadata("/proc/self/stat").is_err() {
        bail!("bench idle reads /proc: Linux only");
    }
    let work = match &o.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => crate::bench::tempdir()?,
    };
    let r = measure(&o, &work);
    if o.dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    let (nodes, own) = r?;
    let window = o.window.as_secs_f64();
    let share = |d: Duration| 100.0 * d.as_secs_f64() / window;
    let shares: Vec<f64> = nodes.iter().map(|(_, d)| share(*d)).collect();
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    let max = shares.iter().copied().fold(0.0, f64::max);
    let total = shares.iter().sum::<f64>();
    let own = share(own);
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "hubs": o.hubs, "witnesses": o.witnesses, "forks": o.forks,
                "window_s": window,
                "nodes": nodes.iter().zip(&shares)
                    .map(|((n, _), s)| json!({"name": n, "cpu_percent": s}))
                    .collect::<Vec<_>>(),
                "mean_percent": mean, "max_percent": max, "total_percent": total,
                "baseline_bench_process_percent": own,
            }))?
        );
    } else {
        println!(
            "{} nodes ({} hubs, {} witnesses, {} trust forks), idle, {:.0} s window",
            nodes.len(),
            o.hubs,
            o.witnesses,
            o.forks,
            window
        );
        println!("| node | CPU (% of one core) |");
        println!("|---|---|");
        for ((n, _), s) in nodes.iter().zip(&shares) {
            println!("| {n} | {s:.2} |");
        }
        println!("| **mean per node** | **{mean:.2}** |");
        println!("| max per node | {max:.2} |");
        println!("| all nodes | {total:.2} |");
        println!("| baseline: this bench process (sleeps, reads /proc) | {own:.2} |");
    }
    Ok(0)
}

/// Each node's CPU time over the window, and the bench process's own.
fn measure(o: &IdleOptions, work: &std::path::Path) -> Result<(Vec<(String, Duration)>, Duration)> {
    let size = MeshSize {
        hubs: o.hubs,
        witnesses: o.witnesses,
        forks: o.forks,
    };
    let first = format!("127.0.0.1:{}", demo::free_port()?);
    let mut mesh = demo::create_mesh(work, "idle-bench", size, &first)?;
    let mut children = demo::start_nodes(&mut mesh, LogFormat::Text)?;
    let behind = demo::wait_converged(&mesh, Duration::from_secs(120));
    if !behind.is_empty() {
        bail!("nodes did not converge: {}", behind.join(", "));
    }
    std::thread::sleep(o.settle);
    let pids: Vec<(String, String)> = children
        .procs
        .iter()
        .map(|(n, c)| (n.clone(), c.id().to_string()))
        .collect();
    let cpu_all = || -> Result<Vec<Duration>> {
        pids.iter()
            .map(|(n, p)| {
                crate::bench::process_cpu(p).ok_or_else(|| anyhow::anyhow!("{n} (pid {p}) is gone"))
            })
            .collect()
    };
    let own0 = crate::bench::process_cpu("self").unwrap_or_default();
    let before = cpu_all()?;
    let start = Instant::now();
    std::thread::sleep(o.window);
    let after = cpu_all()?;
    let own1 = crate::bench::process_cpu("self").unwrap_or_default();
    let slept = start.elapsed();
    if slept > o.window + Duration::from_secs(1) {
        tracing::warn!(?slept, "the window ran long");
    }
    children.stop(Duration::from_secs(10));
    Ok((
        pids.into_iter()
            .zip(before.into_iter().zip(after))
            .map(|((n, _), (b, a))| (n, a.saturating_sub(b)))
            .collect(),
        own1.saturating_sub(own0),
    ))
}
