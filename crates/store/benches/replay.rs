//! Replay benchmark (issue 2, "Performance"): applies a pre-generated log of N signed
//! proposals and votes through verification, the state machine and SQLite, next to a
//! baseline of bare Ed25519 verification of the same entries in the same run, and
//! measures peak RSS of the replaying process and of a re-open of the replayed data.
//!
//! `cargo bench -p govmesh-store --bench replay` (N from `GOVMESH_BENCH_ENTRIES` or
//! `--entries N`, default 100000). The replay and the re-open each run in a child
//! process (this binary, re-executed) so that their VmHWM is theirs alone.

#[path = "../tests/support/loggen.rs"]
mod loggen;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::dsse::pae;
use govmesh_core::entry::LogRecord;
use govmesh_core::keys::PublicKey;
use govmesh_core::state::State;
use govmesh_store::{Ledger, LedgerOptions};
use loggen::LogGen;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HUBS: usize = 200;
const VOTES_PER_PROPOSAL: usize = 99;
const BATCH: usize = 1000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let rest = &args[i + 1..];
        match rest.first().map(String::as_str) {
            Some("replay") => child_replay(Path::new(&rest[1]), Path::new(&rest[2])),
            Some("reopen") => child_reopen(Path::new(&rest[1])),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    let n: u64 = args
        .iter()
        .position(|a| a == "--entries")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("GOVMESH_BENCH_ENTRIES").ok())
        .map(|s| {
            s.parse()
                .expect("--entries / GOVMESH_BENCH_ENTRIES is a number")
        })
        .unwrap_or(100_000);
    parent(n);
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn parent(n: u64) {
    let work = tempfile::tempdir().expect("temp dir");
    let log_path = work.path().join("log.jsonl");
    let data = work.path().join("data");

    // Pre-generate (untimed): the signed log, written as JSON lines for the child.
    let t = Instant::now();
    let loggen = LogGen::new(HUBS, VOTES_PER_PROPOSAL);
    let records: Vec<LogRecord> = (0..n).map(|k| loggen.record(k)).collect();
    {
        let mut w = BufWriter::new(std::fs::File::create(&log_path).expect("log file"));
        for r in &records {
            w.write_all(&r.leaf_bytes()).unwrap();
            w.write_all(b"\n").unwrap();
        }
        w.flush().unwrap();
    }
    let log_bytes = std::fs::metadata(&log_path).unwrap().len();
    eprintln!(
        "generated {n} signed entries ({HUBS} founding hubs, {VOTES_PER_PROPOSAL} votes per proposal, {:.1} MB) in {:.1} s",
        log_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // (a) Bare Ed25519: PAE bytes and signatures prepared first, only verify timed.
    let keys: HashMap<String, PublicKey> = loggen
        .hubs
        .iter()
        .map(|k| (k.keyid(), k.public()))
        .collect();
    let prepared: Vec<(PublicKey, Vec<u8>, Vec<u8>)> = records
        .iter()
        .map(|r| {
            let env = &r.envelope;
            let s = &env.signatures[0];
            (
                keys[&s.keyid],
                pae(&env.payload_type, &env.payload_bytes().unwrap()),
                STANDARD.decode(&s.sig).unwrap(),
            )
        })
        .collect();
    let t = Instant::now();
    for (key, msg, sig) in &prepared {
        key.verify(msg, sig)
            .expect("every generated signature verifies");
    }
    let verify_time = t.elapsed();
    drop(prepared);

    // State machine alone (no SQLite), for the breakdown.
    let t = Instant::now();
    let mut state = State::new();
    for r in &records {
        state
            .apply_record(r)
            .unwrap_or_else(|e| panic!("generated entry {} refused: {e}", r.index));
    }
    let state_time = t.elapsed();
    let t = Instant::now();
    let snapshot_len = serde_json::to_vec(&state).unwrap().len();
    let snapshot_time = t.elapsed();
    drop(state);
    drop(records);

    // (b) Full replay in a child process.
    let replay = run_child(&["replay", log_path.to_str().unwrap(), data.to_str().unwrap()]);
    let replay_secs: f64 = replay["ledger_secs"].parse().unwrap();
    assert_eq!(
        replay["size"],
        n.to_string(),
        "the replay applied every entry"
    );
    let reopen = run_child(&["reopen", data.to_str().unwrap()]);
    assert_eq!(reopen["size"], n.to_string());
    assert_eq!(
        reopen["root"], replay["root"],
        "re-open gives the same root"
    );

    let rate_a = rate(n, verify_time);
    let rate_b = n as f64 / replay_secs;
    let ratio = rate_b / rate_a;
    let hwm_replay: f64 = replay["vmhwm_kb"].parse::<f64>().unwrap() / 1024.0;
    let hwm_reopen: f64 = reopen["vmhwm_kb"].parse::<f64>().unwrap() / 1024.0;
    let db_mb = dir_size(&data) as f64 / 1e6;
    let check = |ok: bool| if ok { "ok" } else { "MISSED" };

    println!();
    println!(
        "govmesh replay benchmark: {n} entries (1 genesis, proposals + votes), batches of {BATCH}"
    );
    println!("{:-<78}", "");
    println!("{:<44} {:>12} {:>10}  target", "measure", "value", "unit");
    println!("{:-<78}", "");
    let row = |name: &str, v: String, unit: &str, target: String| {
        println!("{name:<44} {v:>12} {unit:>10}  {target}");
    };
    row(
        "(a) bare Ed25519 verify",
        format!("{rate_a:.0}"),
        "entries/s",
        format!("{:.2} s total", verify_time.as_secs_f64()),
    );
    row(
        "(b) full replay (verify+state+SQLite)",
        format!("{rate_b:.0}"),
        "entries/s",
        String::new(),
    );
    row(
        "(b)/(a)",
        format!("{:.0}%", ratio * 100.0),
        "",
        format!(">= 50%: {}", check(ratio >= 0.5)),
    );
    row(
        "(b) total replay time",
        format!("{replay_secs:.2}"),
        "s",
        format!(
            "< 10 s for 100k: {}",
            check(replay_secs * 100_000.0 / n as f64 <= 10.0)
        ),
    );
    row(
        "    of which Ledger::open (fresh dir)",
        replay["open_secs"].clone(),
        "s",
        String::new(),
    );
    row(
        "    of which append_records",
        replay["append_secs"].clone(),
        "s",
        String::new(),
    );
    for (name, key) in [
        ("      state machine + batch verification", "apply_secs"),
        ("      record JCS + leaf hash", "encode_secs"),
        ("      SQLite insert + commit (fsync)", "commit_secs"),
        ("      state snapshots (serialize + store)", "snapshot_secs"),
    ] {
        row(name, replay[key].clone(), "s", String::new());
    }
    row(
        "      snapshots written",
        replay["snapshots"].clone(),
        "",
        String::new(),
    );
    row(
        "    reading + parsing the log file (excluded)",
        replay["parse_secs"].clone(),
        "s",
        String::new(),
    );
    row(
        "Ledger::close (final snapshot)",
        replay["close_secs"].clone(),
        "s",
        String::new(),
    );
    row(
        "state machine alone (no SQLite)",
        format!("{:.0}", rate(n, state_time)),
        "entries/s",
        format!("{:.2} s total", state_time.as_secs_f64()),
    );
    row(
        "state snapshot (serde_json)",
        format!("{:.1}", snapshot_len as f64 / 1e6),
        "MB",
        format!("{:.3} s to serialize", snapshot_time.as_secs_f64()),
    );
    row(
        "peak RSS, replaying process",
        format!("{hwm_replay:.1}"),
        "MiB",
        format!("< 200 MB: {}", check(hwm_replay * 1.048_576 < 200.0)),
    );
    row(
        "Ledger::open of the replayed dir",
        reopen["open_secs"].clone(),
        "s",
        format!(
            "snapshot at {}, replayed {}",
            reopen["snapshot"], reopen["replayed"]
        ),
    );
    row(
        "peak RSS, re-opening process",
        format!("{hwm_reopen:.1}"),
        "MiB",
        format!("< 200 MB: {}", check(hwm_reopen * 1.048_576 < 200.0)),
    );
    row(
        "database size on disk",
        format!("{db_mb:.1}"),
        "MB",
        String::new(),
    );
    println!("{:-<78}", "");
}

/// Runs this binary as a child; its stdout is `key=value` lines.
fn run_child(args: &[&str]) -> HashMap<String, String> {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .arg("--child")
        .args(args)
        .output()
        .expect("child runs");
    if !out.status.success() {
        panic!(
            "child {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn vmhwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Streams the log file into a fresh ledger in batches, timing only the ledger.
fn child_replay(log: &Path, dir: &Path) {
    let t = Instant::now();
    let mut ledger = Ledger::open_with(dir, LedgerOptions::default()).expect("open");
    let open = t.elapsed();
    let mut lines = BufReader::new(std::fs::File::open(log).unwrap()).lines();
    let (mut parse, mut append) = (Duration::ZERO, Duration::ZERO);
    loop {
        let t = Instant::now();
        let batch: Vec<LogRecord> = lines
            .by_ref()
            .take(BATCH)
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        parse += t.elapsed();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        ledger
            .append_records(&batch)
            .unwrap_or_else(|e| panic!("the replay refused a generated entry: {e}"));
        append += t.elapsed();
    }
    let root = ledger.root();
    let size = ledger.size();
    let st = ledger.stats().clone();
    let t = Instant::now();
    ledger.close().expect("close");
    let close = t.elapsed();
    println!("size={size}");
    println!("root={root}");
    println!("open_secs={:.3}", open.as_secs_f64());
    println!("append_secs={:.3}", append.as_secs_f64());
    println!("ledger_secs={:.3}", (open + append).as_secs_f64());
    println!("parse_secs={:.3}", parse.as_secs_f64());
    println!("close_secs={:.3}", close.as_secs_f64());
    println!("apply_secs={:.3}", st.apply.as_secs_f64());
    println!("encode_secs={:.3}", st.encode.as_secs_f64());
    println!("commit_secs={:.3}", st.commit.as_secs_f64());
    println!("snapshot_secs={:.3}", st.snapshot.as_secs_f64());
    println!(
        "snapshots={} ({:.0} MB)",
        st.snapshots_written,
        st.snapshot_bytes as f64 / 1e6
    );
    println!("vmhwm_kb={}", vmhwm_kb());
}

fn child_reopen(dir: &Path) {
    let t = Instant::now();
    let ledger = Ledger::open(dir).expect("re-open");
    let open = t.elapsed();
    println!("size={}", ledger.size());
    println!("root={}", ledger.root());
    println!("open_secs={:.3}", open.as_secs_f64());
    let r = ledger.open_report();
    println!(
        "snapshot={}",
        r.snapshot_size.map_or("none".into(), |s| s.to_string())
    );
    println!("replayed={}", r.replayed);
    println!("vmhwm_kb={}", vmhwm_kb());
}
