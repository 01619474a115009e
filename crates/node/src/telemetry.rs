//! The counters and histograms that requests and tasks add to while the node runs
//! (refusals by code, submit and apply latencies); `metrics.rs` reads them, with the
//! gauges it computes at scrape time, for `GET /metrics`. At the bottom of the crate:
//! it imports no subsystem.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::time::Duration;

/// Label pairs of a metric family.
pub type Labels = Vec<(String, String)>;

/// Latency buckets: 0.5 ms doubling to about 16 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// What the node counts and times (cheap to clone: every metric is shared).
#[derive(Clone)]
pub struct Telemetry {
    /// 4xx answers by their error code (`entries_refused`, `peer_unauthorized`, ...).
    pub refusals: Family<Labels, Counter>,
    /// From receiving a submission (`POST /v1/entries`, `/v1/operator/*`) to
    /// answering it: ordering, commit and apply included.
    pub submit_seconds: Histogram,
    /// Appending a batch of entries to the ledger (state machine and SQLite).
    pub apply_seconds: Histogram,
    /// Raft RPCs to another hub that failed, by target hub and kind.
    pub council_rpc_failures: Family<Labels, Counter>,
    /// Seal rounds run by the collector, by outcome (`sealed`, `renewed`, `short`).
    pub seal_rounds: Family<Labels, Counter>,
    /// Cosignature requests that failed, by witness and reason (`timeout`, `error`).
    pub cosign_failures: Family<Labels, Counter>,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        Telemetry {
            refusals: Family::default(),
            submit_seconds: latency_histogram(),
            apply_seconds: latency_histogram(),
            council_rpc_failures: Family::default(),
            seal_rounds: Family::default(),
            cosign_failures: Family::default(),
        }
    }
}

impl Telemetry {
    pub fn refused(&self, code: &str) {
        self.refusals
            .get_or_create(&vec![("code".to_owned(), code.to_owned())])
            .inc();
    }

    pub fn seal_round(&self, outcome: &str) {
        self.seal_rounds
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
    }

    pub fn cosign_failed(&self, witness: &str, reason: &str) {
        self.cosign_failures
            .get_or_create(&vec![
                ("witness".to_owned(), witness.to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .inc();
    }

    pub fn applied(&self, took: Duration) {
        self.apply_seconds.observe(took.as_secs_f64());
    }
}
