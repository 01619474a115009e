//! Test harness: runs the real `govmesh` binary as child processes, serves nodes on
//! loopback ports picked at run time, and polls the API with a bounded wait.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A loopback port free for TCP and UDP right now, for a node whose address must be
/// known before it starts ([`govmesh_node::free_loopback_port`]).
pub fn free_port() -> u16 {
    govmesh_node::free_loopback_port().expect("a free loopback port")
}

/// The longest any wait in these tests may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_govmesh"));
    c.env_remove("GOVMESH_NODE").env_remove("GOVMESH_LOG");
    // GOVMESH_TEST_LOG=info shows the nodes' logs when a test needs looking into.
    if let Ok(level) = std::env::var("GOVMESH_TEST_LOG") {
        c.env("GOVMESH_LOG", level);
    }
    c
}

/// Runs `govmesh args...` to completion.
pub fn govmesh(args: &[&str]) -> Output {
    bin().args(args).output().expect("run govmesh")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and asserts success; returns stdout.
#[track_caller]
pub fn ok(args: &[&str]) -> String {
    let o = govmesh(args);
    assert!(
        o.status.success(),
        "govmesh {args:?} failed ({:?}):\n{}\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs and asserts exit code `code` with exactly one `error: ` line on stderr; returns it.
#[track_caller]
pub fn fails(args: &[&str], code: i32) -> String {
    let o = govmesh(args);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "govmesh {args:?}: expected exit {code}\nstdout: {}\nstderr: {err}",
        stdout(&o)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    lines[0].to_owned()
}

/// Parses stdout as JSON.
#[track_caller]
pub fn ok_json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("govmesh {args:?}: not JSON ({e}):\n{out}"))
}

/// A `govmesh serve` or `govmesh demo` child process; killed on drop.
pub struct Running {
    pub child: Child,
    pub url: String,
    pub lines: Receiver<String>,
    /// Stdout lines read so far (the first is the `listening on` line).
    pub seen: Vec<String>,
}

impl Running {
    /// Starts `govmesh args...` and waits for its `govmesh node <id> listening on <URL>` line.
    pub fn start(args: &[&str]) -> Running {
        Running::start_with_stderr(args, Stdio::inherit())
    }

    /// [`Running::start`] with stderr going to `stderr` (e.g. a log file).
    pub fn start_with_stderr(args: &[&str], stderr: Stdio) -> Running {
        let mut c = bin();
        c.args(args).stderr(stderr);
        Running::start_command(c)
    }

    /// [`Running::start`] of a prepared command (e.g. `sh -c 'umask 0000; exec ...'`).
    pub fn start_command(mut c: Command) -> Running {
        let mut child = c.stdout(Stdio::piped()).spawn().expect("spawn govmesh");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut r = Running {
            child,
            url: String::new(),
            lines: rx,
            seen: Vec::new(),
        };
        let line = r.wait_line(|l| l.contains(" listening on "));
        r.url = line
            .rsplit(' ')
            .next()
            .expect("URL at the end of the line")
            .to_owned();
        assert!(r.url.starts_with("http://127.0.0.1:"), "{line}");
        r
    }

    /// Reads stdout lines until one matches; panics after [`WAIT`] or at end of output.
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(e) => panic!(
                    "no matching output line ({e:?}); output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .expect("kill");
        assert!(st.success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "process did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GET a JSON document from a node; panics on a non-2xx answer.
pub fn get(url: &str, path: &str) -> Value {
    let r = http().get(format!("{url}{path}")).send().expect("GET");
    let status = r.status();
    let text = r.text().unwrap();
    assert!(status.is_success(), "GET {path}: {status}: {text}");
    serde_json::from_str(&text).unwrap()
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
