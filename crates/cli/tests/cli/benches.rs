//! The benchmarks' own hygiene: a bench killed before it stops its nodes leaves none
//! running (they are started with `--stop-with-parent`, on a stdin pipe the bench
//! holds).

use crate::util::{WAIT, bin, s, tmp};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Processes whose command line has `serve` and `dir` among its arguments, and their
/// parent process ids.
fn serving(dir: &str) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if !args.contains(&&b"serve"[..]) || !args.iter().any(|a| a.starts_with(dir.as_bytes())) {
            continue;
        }
        // A zombie has an empty command line, so whatever is listed here still runs.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        out.push((pid, ppid));
    }
    out
}

#[test]
fn nodes_of_a_killed_bench_stop() {
    let work = tmp();
    let dir = work.path().join("soak");
    let mut bench = bin()
        .args([
            "bench",
            "soak",
            "--duration",
            "600",
            "--readers",
            "1",
            "--writers",
            "1",
            "--dir",
            s(&dir),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn govmesh bench soak");
    // The load starts once the three hubs are up and have a leader: nodes that stopped
    // at once (stdin at end of file) would never get there.
    let err = bench.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + WAIT * 2;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with("soak: 3 hubs") => break,
            Ok(l) => seen.push(l),
            Err(e) => {
                let _ = bench.kill();
                panic!("the soak never started its load ({e:?}): {seen:?}");
            }
        }
    }
    let hubs = serving(s(&dir));
    assert_eq!(
        hubs.len(),
        3,
        "three hubs serving {}: {hubs:?}",
        dir.display()
    );
    for (pid, ppid) in &hubs {
        assert_eq!(*ppid, bench.id(), "hub {pid} is the bench's child");
    }
    bench.kill().expect("kill -9 the bench");
    bench.wait().expect("reap the bench");
    let t = Instant::now();
    loop {
        let left = serving(s(&dir));
        if left.is_empty() {
            break;
        }
        if t.elapsed() > WAIT {
            for (pid, _) in &left {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            panic!("hubs still serving {WAIT:?} after their bench was killed: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
