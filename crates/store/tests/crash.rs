//! kill -9 at random moments: a child process (this test binary, running the ignored
//! `crash::writer` test) keeps appending signed entries, singly and in batches, with
//! frequent snapshots; after each SIGKILL the ledger must open, equal a replay of its
//! stored records from genesis, and never have lost a committed record.

use crate::common::assert_consistent;
use crate::loggen::LogGen;
use govmesh_store::{Ledger, LedgerOptions};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DIR_VAR: &str = "GOVMESH_STORE_CRASH_DIR";
const HUBS: usize = 7;
const VOTES: usize = 4;

/// The child: appends forever from wherever the ledger is (run only by the parent).
#[test]
#[ignore = "run by kill_9_at_random_moments as a child process"]
fn writer() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let gen_ = LogGen::new(HUBS, VOTES);
    let opts = LedgerOptions {
        snapshot_every: 25,
        snapshot_share: 0.0,
        keep_snapshots: 2,
        ..LedgerOptions::default()
    };
    let mut ledger = Ledger::open_with(std::path::Path::new(&dir), opts).unwrap();
    loop {
        let k = ledger.size();
        if k.is_multiple_of(3) {
            let batch: Vec<_> = (k..k + 20).map(|i| gen_.record(i)).collect();
            ledger.append_records(&batch).unwrap();
        } else {
            ledger.append(&gen_.entry(k), gen_.time(k)).unwrap();
        }
    }
}

/// A small xorshift generator seeded from the clock: random kill moments, no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let gen_ = LogGen::new(HUBS, VOTES);
    let mut last_size = 0;
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args(["crash::writer", "--exact", "--ignored", "--nocapture"])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + rng.next() % 600));
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "writer exited on its own in round {round} ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let ledger = Ledger::open(dir.path()).unwrap();
        let size = ledger.size();
        assert!(
            size >= last_size,
            "round {round}: size went back from {last_size} to {size}"
        );
        assert_consistent(&ledger);
        // What is stored is exactly the generated log, nothing torn or reordered.
        if size > 0 {
            assert_eq!(
                ledger.record(size - 1).unwrap().unwrap(),
                gen_.record(size - 1)
            );
        }
        eprintln!(
            "round {round}: size {size}, report {:?}",
            ledger.open_report()
        );
        last_size = size;
        drop(ledger); // no close: the next writer starts from what the kill left
    }
    assert!(last_size > 0, "the writer never committed anything");
}
