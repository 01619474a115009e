//! Replay benchmark (issues 2 and 15, "Performance"): applies a pre-generated log of N
//! signed proposals and votes through verification, the state machine and SQLite, next
//! to a baseline of bare Ed25519 verification of the same entries on one core in the
//! same run, and measures peak RSS of the replaying process and of a re-open of the
//! replayed data, the re-open's time, and the bytes the replay wrote per entry.
//!
//! `cargo bench -p govmesh-store --bench replay -- --entries 100000 --entries 1000000
//! [--keep DIR]`: one run per `--entries` (default `GOVMESH_BENCH_ENTRIES` or 100000),
//! smallest first. The replay and the re-open each run in a child process (this
//! binary, re-executed), so that each VmHWM is theirs alone and no run's memory
//! carries into the next. The last line printed is one JSON object
//! `{"runs": [{"entries", "rss_replay_mib", "rss_reopen_mib", "open_s",
//! "bytes_written_per_entry", "replay_per_s", "bare_verify_1core_per_s"}, ...]}`.
//! `--closing` generates a log whose proposals close (each withdrawn by its proposer
//! after its votes, [`LogGen::closing`]) instead of one whose proposals all stay open:
//! closed proposals leave the in-memory state for the ledger's `proposals` table.
//! `--keep DIR` leaves the largest run's data directory in DIR (which must not exist
//! or be empty) as a node data directory of founding hub 0 (`node.key`,
//! `operator.token`, `node.json`, `genesis.json` beside the ledger), so
//! `govmesh serve --data DIR` and `govmesh log export` work on it.

#[path = "../tests/support/loggen.rs"]
mod loggen;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::dsse::pae;
use govmesh_core::entry::LogRecord;
use govmesh_core::keys::PublicKey;
use govmesh_store::{Ledger, LedgerOptions};
use loggen::LogGen;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HUBS: usize = 200;
const VOTES_PER_PROPOSAL: usize = 99;
/// Records per `append_records` call, as replication appends them.
const BATCH: usize = 1000;
/// Records generated, or verified in the baseline, per step (bounds the parent's memory).
const CHUNK: u64 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let rest = &args[i + 1..];
        match rest.first().map(String::as_str) {
            Some("replay") => child_replay(Path::new(&rest[1]), Path::new(&rest[2])),
            Some("reopen") => child_reopen(Path::new(&rest[1])),
            Some("audit") => child_audit(Path::new(&rest[1]), true),
            Some("audit-undrained") => child_audit(Path::new(&rest[1]), false),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    let mut sizes: Vec<u64> = Vec::new();
    let mut keep: Option<PathBuf> = None;
    let mut closing = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--entries" => {
                let v = it.next().expect("--entries takes a number");
                let n: u64 = v
                    .parse()
                    .unwrap_or_else(|_| panic!("--entries {v:?} is not a number"));
                assert!(
                    n >= 2,
                    "--entries must be at least 2 (a genesis and one entry)"
                );
                sizes.push(n);
            }
            "--closing" => closing = true,
            "--keep" => keep = Some(PathBuf::from(it.next().expect("--keep takes a directory"))),
            // cargo bench passes `--bench`; anything else is a mistake worth naming.
            "--bench" => {}
            other => panic!("unknown argument {other:?} (use --entries N, --keep DIR, --closing)"),
        }
    }
    if sizes.is_empty() {
        sizes.push(
            std::env::var("GOVMESH_BENCH_ENTRIES")
                .ok()
                .map(|s| s.parse().expect("GOVMESH_BENCH_ENTRIES is a number"))
                .unwrap_or(100_000),
        );
    }
    sizes.sort_unstable();
    sizes.dedup();
    if let Some(dir) = &keep {
        let empty = std::fs::read_dir(dir).map_or(true, |mut rd| rd.next().is_none());
        assert!(
            empty,
            "--keep {}: the directory exists and is not empty",
            dir.display()
        );
    }
    let largest = *sizes.last().unwrap();
    let mut runs = Vec::new();
    for &n in &sizes {
        let keep_here = keep.as_deref().filter(|_| n == largest);
        runs.push(run(n, keep_here, closing));
    }
    println!();
    println!(
        "{:>10} {:>10} {:>10} {:>8} {:>12} {:>12} {:>12} {:>8}",
        "entries", "RSS repl", "RSS reopen", "open s", "B/entry", "replay/s", "bare 1c/s", "ratio"
    );
    for r in &runs {
        println!(
            "{:>10} {:>9.1}M {:>9.1}M {:>8.3} {:>12.0} {:>12.0} {:>12.0} {:>7.0}%",
            r["entries"].as_u64().unwrap(),
            r["rss_replay_mib"].as_f64().unwrap(),
            r["rss_reopen_mib"].as_f64().unwrap(),
            r["open_s"].as_f64().unwrap(),
            r["bytes_written_per_entry"].as_f64().unwrap(),
            r["replay_per_s"].as_f64().unwrap(),
            r["bare_verify_1core_per_s"].as_f64().unwrap(),
            100.0 * r["replay_per_s"].as_f64().unwrap()
                / r["bare_verify_1core_per_s"].as_f64().unwrap(),
        );
    }
    println!("{}", serde_json::json!({ "runs": runs }));
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Writes entries `0..n` as JSON lines, signing on both cores a chunk at a time.
fn generate(loggen: &LogGen, n: u64, path: &Path) {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("log file"));
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mid = start + (end - start) / 2;
        let lines = |a: u64, b: u64| -> Vec<Vec<u8>> {
            (a..b).map(|k| loggen.record(k).leaf_bytes()).collect()
        };
        let (first, second) = std::thread::scope(|s| {
            let h = s.spawn(|| lines(start, mid));
            let second = lines(mid, end);
            (h.join().expect("generator thread"), second)
        });
        for line in first.iter().chain(&second) {
            w.write_all(line).unwrap();
            w.write_all(b"\n").unwrap();
        }
        start = end;
    }
    w.flush().unwrap();
}

/// Bare Ed25519 verification of every entry of the log file, on this thread: each
/// chunk's PAE bytes and signatures are prepared first, only `verify` is timed.
fn bare_verify(loggen: &LogGen, path: &Path) -> (u64, Duration) {
    let keys: HashMap<String, PublicKey> = loggen
        .hubs
        .iter()
        .map(|k| (k.keyid(), k.public()))
        .collect();
    let mut lines = BufReader::new(std::fs::File::open(path).unwrap()).lines();
    let (mut n, mut timed) = (0u64, Duration::ZERO);
    loop {
        let prepared: Vec<(PublicKey, Vec<u8>, Vec<u8>)> = lines
            .by_ref()
            .take(CHUNK as usize)
            .map(|l| {
                let r: LogRecord = serde_json::from_str(&l.unwrap()).unwrap();
                let env = &r.envelope;
                let s = &env.signatures[0];
                (
                    keys[&s.keyid],
                    pae(&env.payload_type, &env.payload_bytes().unwrap()),
                    STANDARD.decode(&s.sig).unwrap(),
                )
            })
            .collect();
        if prepared.is_empty() {
            return (n, timed);
        }
        let t = Instant::now();
        for (key, msg, sig) in &prepared {
            key.verify(msg, sig)
                .expect("every generated signature verifies");
        }
        timed += t.elapsed();
        n += prepared.len() as u64;
    }
}

/// One size: generate, verify bare, replay and re-open in children; the run's figures.
fn run(n: u64, keep: Option<&Path>, closing: bool) -> serde_json::Value {
    let work = tempfile::tempdir().expect("temp dir");
    let log_path = work.path().join("log.jsonl");
    let data = keep.map_or_else(|| work.path().join("data"), Path::to_owned);

    let t = Instant::now();
    let loggen = if closing {
        LogGen::closing(HUBS, VOTES_PER_PROPOSAL)
    } else {
        LogGen::new(HUBS, VOTES_PER_PROPOSAL)
    };
    let shape = if closing {
        "each withdrawn after its votes"
    } else {
        "all left open"
    };
    generate(&loggen, n, &log_path);
    let log_bytes = std::fs::metadata(&log_path).unwrap().len();
    eprintln!(
        "[{n}] generated {n} signed entries ({HUBS} founding hubs, {VOTES_PER_PROPOSAL} votes per proposal, {shape}, {:.1} MB) in {:.1} s",
        log_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let (verified, verify_time) = bare_verify(&loggen, &log_path);
    assert_eq!(verified, n);
    let rate_a = rate(n, verify_time);
    eprintln!("[{n}] bare Ed25519 verify on one core: {rate_a:.0} entries/s");

    let replay = run_child(&["replay", log_path.to_str().unwrap(), data.to_str().unwrap()]);
    let replay_secs: f64 = replay["ledger_secs"].parse().unwrap();
    assert_eq!(
        replay["size"],
        n.to_string(),
        "the replay applied every entry"
    );
    eprintln!("[{n}] replayed in {replay_secs:.1} s");
    let reopen = run_child(&["reopen", data.to_str().unwrap()]);
    assert_eq!(reopen["size"], n.to_string());
    assert_eq!(
        reopen["root"], replay["root"],
        "re-open gives the same root"
    );

    // `govmesh verify`'s replay (core::audit::Audit, strict verification) of the same
    // log, and next to it what the Audit held before it took the state's history as
    // it is made (a State nobody drains, the tree, a description string per entry).
    let audit = run_child(&["audit", log_path.to_str().unwrap()]);
    let undrained = run_child(&["audit-undrained", log_path.to_str().unwrap()]);
    assert_eq!(
        audit["root"], replay["root"],
        "the audit gives the same root"
    );
    assert_eq!(undrained["root"], replay["root"]);
    let hwm_audit: f64 = audit["vmhwm_kb"].parse::<f64>().unwrap() / 1024.0;
    let hwm_undrained: f64 = undrained["vmhwm_kb"].parse::<f64>().unwrap() / 1024.0;
    eprintln!(
        "[{n}] audit peak RSS {hwm_audit:.1} MiB (undrained, as before: {hwm_undrained:.1} MiB)"
    );
    let rate_b = n as f64 / replay_secs;
    let ratio = rate_b / rate_a;
    let hwm_replay: f64 = replay["vmhwm_kb"].parse::<f64>().unwrap() / 1024.0;
    let hwm_reopen: f64 = reopen["vmhwm_kb"].parse::<f64>().unwrap() / 1024.0;
    let open_s: f64 = reopen["open_secs"].parse().unwrap();
    let wchar: f64 = replay["wchar"].parse().unwrap();
    let tail_wchar: f64 = replay["tail_wchar"].parse().unwrap();
    let tail_entries: f64 = replay["tail_entries"].parse().unwrap();
    let write_bytes: f64 = replay["write_bytes"].parse().unwrap();
    let dir_bytes = dir_size(&data) as f64;

    println!();
    println!(
        "govmesh replay benchmark: {n} entries (1 genesis, proposals + votes, {shape}), batches of {BATCH}"
    );
    println!("{:-<78}", "");
    println!("{:<44} {:>12} {:>10}  note", "measure", "value", "unit");
    println!("{:-<78}", "");
    let row = |name: &str, v: String, unit: &str, note: String| {
        println!("{name:<44} {v:>12} {unit:>10}  {note}");
    };
    row(
        "(a) bare Ed25519 verify, one core",
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
        "issue 15 target >= 150%".into(),
    );
    row(
        "(b) total replay time",
        format!("{replay_secs:.2}"),
        "s",
        String::new(),
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
        "bytes written per entry (write syscalls)",
        format!("{:.0}", wchar / n as f64),
        "B",
        format!("{:.1} MB in total", wchar / 1e6),
    );
    row(
        "  of the last batches (~10% of entries)",
        format!("{:.0}", tail_wchar / tail_entries),
        "B",
        format!("over the last {tail_entries} entries, close included"),
    );
    row(
        "  reaching the disk (write_bytes)",
        format!("{:.0}", write_bytes / n as f64),
        "B",
        String::new(),
    );
    row(
        "peak RSS, replaying process",
        format!("{hwm_replay:.1}"),
        "MiB",
        "issue 15 target < 150 MB".into(),
    );
    row(
        "Ledger::open of the replayed dir",
        format!("{open_s:.3}"),
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
        String::new(),
    );
    row(
        "data directory on disk",
        format!("{:.1}", dir_bytes / 1e6),
        "MB",
        String::new(),
    );
    println!("{:-<78}", "");

    if let Some(dir) = keep {
        make_node_dir(&loggen, dir, &reopen["mesh_id"], &log_path);
        eprintln!(
            "[{n}] kept the data directory in {} (founding hub 0): `govmesh serve --data {0}`",
            dir.display()
        );
    }
    let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
    serde_json::json!({
        "entries": n,
        "rss_replay_mib": round(hwm_replay, 1),
        "rss_reopen_mib": round(hwm_reopen, 1),
        "rss_audit_mib": round(hwm_audit, 1),
        "rss_audit_undrained_mib": round(hwm_undrained, 1),
        "open_s": round(open_s, 3),
        "bytes_written_per_entry": round(wchar / n as f64, 0),
        "replay_per_s": round(rate_b, 0),
        "bare_verify_1core_per_s": round(rate_a, 0),
    })
}

/// Turns the replayed ledger into founding hub 0's data directory, the files written
/// as `govmesh init` writes them (crates/node/src/datadir.rs), so a node serves it.
fn make_node_dir(loggen: &LogGen, dir: &Path, mesh_id: &str, log: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let secret = |name: &str, bytes: &[u8]| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        f.write_all(bytes).unwrap();
        f.sync_all().unwrap();
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = &loggen.hubs[0];
    secret("node.key", key.to_file_json().as_bytes());
    let mut token = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").unwrap(),
        &mut token,
    )
    .unwrap();
    let hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
    secret("operator.token", format!("{hex}\n").as_bytes());
    let node = serde_json::json!({
        "node_id": key.node_id(),
        "node_type": "governance_hub",
        "mesh_name": loggen::MESH_NAME,
        "mesh_id": mesh_id,
        "public_key": key.public(),
    });
    std::fs::write(
        dir.join("node.json"),
        serde_json::to_string_pretty(&node).unwrap() + "\n",
    )
    .unwrap();
    let first = BufReader::new(std::fs::File::open(log).unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let genesis: LogRecord = serde_json::from_str(&first).unwrap();
    std::fs::write(
        dir.join("genesis.json"),
        serde_json::to_string_pretty(&genesis).unwrap() + "\n",
    )
    .unwrap();
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

/// A field of one of this process's /proc files (`VmHWM:` of status, `wchar:` of io).
fn proc_field(file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/self/{file}"))
        .unwrap_or_else(|e| panic!("/proc/self/{file}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/{file}"))
}

fn vmhwm_kb() -> u64 {
    proc_field("status", "VmHWM:")
}

/// Bytes this process passed to write calls so far (files, WAL, snapshots; the few
/// bytes of its stdout are negligible).
fn wchar() -> u64 {
    proc_field("io", "wchar:")
}

/// Bytes in the directory, its subdirectories (snapshots) included.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some(if m.is_dir() {
                        dir_size(&e.path())
                    } else {
                        m.len()
                    })
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Streams the log file into a fresh ledger in batches, timing only the ledger.
/// Replays the log as `govmesh verify` does (`Audit::push`, strict verification), or
/// (`drained` false) as the Audit did before it took the state's history: a State
/// nobody drains, the Merkle tree and a description string per entry. Prints the
/// peak RSS and the root.
fn child_audit(log: &Path, drained: bool) {
    use govmesh_core::audit::Audit;
    use govmesh_core::merkle::MerkleTree;
    use govmesh_core::state::State;
    let mut audit = Audit::new();
    let mut state = State::new();
    let mut tree = MerkleTree::new();
    let mut described: Vec<String> = Vec::new();
    for line in BufReader::new(std::fs::File::open(log).unwrap()).lines() {
        let rec: LogRecord = serde_json::from_str(&line.unwrap()).unwrap();
        if drained {
            audit
                .push(&rec)
                .expect("the audit accepts a generated entry");
        } else {
            let a = state.apply_record(&rec).expect("a generated entry applies");
            described.push(format!("{} by {}", a.kind, a.author));
            tree.push(rec.leaf_hash());
        }
    }
    let root = if drained { audit.root() } else { tree.root() };
    assert!(drained || described.len() as u64 == tree.size());
    println!("vmhwm_kb={}", vmhwm_kb());
    println!("root={root}");
}

fn child_replay(log: &Path, dir: &Path) {
    let wchar0 = wchar();
    let t = Instant::now();
    let mut ledger = Ledger::open_with(dir, LedgerOptions::default()).expect("open");
    let open = t.elapsed();
    let total = BufReader::new(std::fs::File::open(log).unwrap())
        .lines()
        .count() as u64;
    let tail_from = total - total / 10;
    let mut tail_start: Option<(u64, u64)> = None;
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
        // The tail starts with the batch that holds entry `tail_from`.
        if tail_start.is_none() && ledger.size() + batch.len() as u64 > tail_from {
            tail_start = Some((ledger.size(), wchar()));
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
    let (tail_size, tail_wchar0) = tail_start.unwrap_or((0, wchar0));
    let end_wchar = wchar();
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
    println!("wchar={}", end_wchar - wchar0);
    println!("tail_wchar={}", end_wchar - tail_wchar0);
    println!("tail_entries={}", size - tail_size);
    println!("write_bytes={}", proc_field("io", "write_bytes:"));
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
    println!(
        "mesh_id={}",
        ledger
            .state()
            .mesh_id()
            .expect("the log has a genesis")
            .to_hex()
    );
    println!("vmhwm_kb={}", vmhwm_kb());
}
