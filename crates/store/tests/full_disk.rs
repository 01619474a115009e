//! A full disk, then room again: a child process (this test binary, running the
//! ignored `full_disk::writer` test, with SIGXFSZ ignored so a write past its file
//! size limit fails with EFBIG instead of killing it) appends entries, lowers its own
//! file size limit so that every write fails, sees an append refused (and the reload
//! that undoes it fail too, as the proposals it closed must be written again), lifts
//! the limit, and must append again without reopening the ledger.

use crate::common::assert_consistent;
use crate::loggen::LogGen;
use govmesh_store::{Ledger, LedgerOptions};
use std::process::Command;
use std::time::{Duration, Instant};

const DIR_VAR: &str = "GOVMESH_STORE_FULL_DISK_DIR";

/// Sets this process's soft file size limit (`unlimited` or bytes) with `prlimit`.
fn set_fsize(limit: &str) {
    let st = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--fsize={limit}:"))
        .status()
        .expect("running prlimit (util-linux)");
    assert!(st.success(), "prlimit --fsize={limit} failed");
}

/// The child (run only by [`a_ledger_whose_disk_was_full_appends_again`]).
#[test]
#[ignore = "run by a_ledger_whose_disk_was_full_appends_again as a child process"]
fn writer() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let gen_ = LogGen::closing(3, 2);
    let opts = LedgerOptions {
        // No snapshot: a reload replays every record, closing their proposals again.
        snapshot_every: 1_000_000,
        ..LedgerOptions::default()
    };
    let mut ledger = Ledger::open_with(std::path::Path::new(&dir), opts).unwrap();
    let n = 4 * gen_.per_proposal() + 1;
    for k in 0..n {
        ledger.append(&gen_.entry(k), gen_.time(k)).unwrap();
    }
    set_fsize("1");
    let full = ledger.append(&gen_.entry(n), gen_.time(n));
    assert!(
        full.is_err(),
        "an append past the file size limit succeeded"
    );
    // The reload that undid it failed as well: the ledger refuses writes.
    let again = ledger
        .append(&gen_.entry(n), gen_.time(n))
        .expect_err("an append on a full disk succeeded");
    eprintln!("refused while full: {again}");
    set_fsize("unlimited");
    let t = Instant::now();
    loop {
        match ledger.append(&gen_.entry(n), gen_.time(n)) {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "no append 30 s after the disk had room again: {e}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    assert_eq!(ledger.size(), n + 1);
    assert_eq!(ledger.record(n).unwrap().unwrap(), gen_.record(n));
    assert_consistent(&ledger);
    eprintln!("appended again at size {}", ledger.size());
}

#[test]
fn a_ledger_whose_disk_was_full_appends_again() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // An ignored signal stays ignored across exec.
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$0\" full_disk::writer --exact --ignored --nocapture")
        .arg(&exe)
        .env(DIR_VAR, dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the writer failed: {err}");
    // The path under test: the write failed, and so did the reload that undoes it.
    assert!(
        err.contains("refused while full: the ledger failed to write and then failed to reload"),
        "{err}"
    );
    assert!(err.contains("appended again at size"), "{err}");
    let ledger = Ledger::open(dir.path()).unwrap();
    assert_consistent(&ledger);
}
