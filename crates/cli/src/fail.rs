//! How a command fails: which exit code a failure maps to. A node refusing a request
//! or a verification finding a fault exits 1; usage and I/O errors (anything else,
//! reported through `anyhow`) exit 2.

use std::fmt;

/// A failure that is the answer, not an accident: exit code 1.
#[derive(Debug)]
pub enum Failure {
    /// The node refused the request (API error code and message).
    Refused { code: String, message: String },
    /// Verification found a fault.
    Verify(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused { code, message } => write!(f, "node refused ({code}): {message}"),
            Failure::Verify(msg) => write!(f, "verification failed: {msg}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Exit code for an error returned by a command.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<Failure>().is_some() {
        1
    } else {
        2
    }
}

/// The one-line form of an error: the context chain joined with `: `, newlines folded.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        // anyhow's context chain repeats the inner message when it was formatted in.
        if parts.last().is_some_and(|p| p.ends_with(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ").replace(['\n', '\r'], " ")
}

/// Writes one line to stdout. A closed pipe (`govmesh ... | head`) ends the process
/// quietly instead of panicking as `println!` would.
pub fn write_line(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let r = out
        .write_fmt(args)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(2);
    }
}

/// `println!` for command output; see [`write_line`].
macro_rules! outln {
    () => { $crate::fail::write_line(format_args!("")) };
    ($($t:tt)*) => { $crate::fail::write_line(format_args!($($t)*)) };
}
