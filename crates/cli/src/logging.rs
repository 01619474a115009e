//! How the `govmesh` binary logs: `GOVMESH_LOG` filters (default `warn`), as text or
//! as JSON lines (`--log-format json`), to stderr; and openraft's warnings and errors
//! rate-limited per line of code, since a hub whose peers are down would otherwise
//! log an ERROR line per peer every backoff step (issue 16). The failures themselves
//! are counted in the node's metrics (`govmesh_council_rpc_failures_total`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, filter::FilterExt};

/// The shape of log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format).
    Json,
}

/// How often one line of openraft's code may log a warning or an error.
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(30);

/// Lets an event of a rate-limited callsite through at most once per interval.
pub struct RateLimit {
    interval: Duration,
    last: Mutex<HashMap<Identifier, Instant>>,
}

impl RateLimit {
    pub fn new(interval: Duration) -> RateLimit {
        RateLimit {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event of `callsite` at `now` passes.
    pub fn admit(&self, callsite: Identifier, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match last.get(&callsite) {
            Some(t) if now.duration_since(*t) < self.interval => false,
            _ => {
                last.insert(callsite, now);
                true
            }
        }
    }
}

/// Which events are rate-limited: openraft's warnings and errors.
fn limited(meta: &Metadata<'_>) -> bool {
    meta.is_event() && meta.target().starts_with("openraft") && *meta.level() <= Level::WARN
}

impl<S> Filter<S> for RateLimit {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        !limited(meta) || self.admit(meta.callsite(), Instant::now())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // Asked per event for the limited ones; the others always pass this filter.
        if limited(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }
}

/// Installs the process's subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter =
        || EnvFilter::try_from_env("GOVMESH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let limit = || RateLimit::new(REPEAT_INTERVAL);
    let registry = tracing_subscriber::registry();
    let _ = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours only on a terminal: the demo's nodes log to files.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_filter(filter().and(limit())),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter().and(limit())),
            )
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: openraft logged an ERROR per down peer every 500 ms. One line of code
    /// now passes once per interval, however often it fires; others are not held.
    #[test]
    fn a_repeated_callsite_passes_once_per_interval() {
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site(&'static Metadata<'static>);
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                self.0
            }
        }
        static RAFT: Site = Site(&RAFT_META);
        static RAFT_META: Metadata<'static> = Metadata::new(
            "error replication",
            "openraft::replication",
            Level::ERROR,
            None,
            None,
            None,
            FieldSet::new(&[], Identifier(&RAFT)),
            Kind::EVENT,
        );
        static OURS: Site = Site(&OURS_META);
        static OURS_META: Metadata<'static> = Metadata::new(
            "ours",
            "govmesh_node::council",
            Level::ERROR,
            None,
            None,
            None,
            FieldSet::new(&[], Identifier(&OURS)),
            Kind::EVENT,
        );
        assert!(limited(&RAFT_META));
        assert!(!limited(&OURS_META));
        let r = RateLimit::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let passed = (0..120u32)
            .filter(|i| r.admit(Identifier(&RAFT), t0 + Duration::from_millis(500) * *i))
            .count();
        // 120 events over 60 s: at 0 s and at 30 s.
        assert_eq!(passed, 2);
    }
}
