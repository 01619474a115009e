//! Ordering: the one narrow seam between the API and whoever decides the order of the
//! log. [`SingleHub`] is the council of one (this node stamps the time and appends);
//! the Raft council replaces it behind the same [`Orderer`] trait. Neither bypasses the
//! state machine: the ledger validates every entry through `State::apply` before it
//! is stored.

use govmesh_core::Digest;
use govmesh_core::dsse::Envelope;
use govmesh_core::stamp::Timestamp;
use govmesh_core::state::{Event, Rejection};
use govmesh_store::{Ledger, LedgerError};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// The ledger shared by the orderer and the API's readers. Held only briefly: readers
/// clone what they answer with; the writer holds it for one append. The lock is fair
/// (FIFO), so a stream of writes cannot starve reads.
pub type SharedLedger = Arc<Mutex<Ledger>>;

/// Tells whoever must react (acks, gossip, seal collection) that the log grew: holds
/// the latest log size. Whoever appends calls [`LogNotify::notify`]; readers
/// [`LogNotify::subscribe`] and wait for changes.
#[derive(Clone, Debug)]
pub struct LogNotify(Arc<tokio::sync::watch::Sender<u64>>);

impl LogNotify {
    pub fn new(size: u64) -> LogNotify {
        LogNotify(Arc::new(tokio::sync::watch::Sender::new(size)))
    }

    /// Records the new log size; wakes subscribers only when it grew.
    pub fn notify(&self, size: u64) {
        // The log only grows: a late notification of an earlier size (an API handler
        // answering for an entry applied a while ago) must not move it back, or those
        // waiting for a size already reached would wait for the next append.
        self.0.send_if_modified(|s| {
            if size > *s {
                *s = size;
                true
            } else {
                false
            }
        });
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// An entry committed to the log: durable before this is returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Committed {
    pub index: u64,
    pub entry_hash: Digest,
    pub leaf_hash: Digest,
    /// The operation's `type`.
    pub kind: String,
    pub author: String,
    pub events: Vec<Event>,
    pub timestamp: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The state machine refused the entry; nothing was stored.
    #[error("entry refused: {0}")]
    Rejected(Rejection),
    /// The ledger could not store the entry (disk, database); nothing was
    /// acknowledged. (A refusal by the state machine is `Rejected`.)
    #[error("storage: {0}")]
    Ledger(#[source] LedgerError),
    /// The blocking task that appends to the ledger failed (panicked or was cancelled).
    #[error("storage: append task failed: {0}")]
    AppendTask(#[from] tokio::task::JoinError),
    /// The entry could not be encoded for forwarding.
    #[error("storage: encoding the entry: {0}")]
    Encode(#[from] serde_json::Error),
    /// The council could not order the entry: Raft's own error, a leader's answer that
    /// does not fit the request, or an apply that produced no answer. What Raft and
    /// other hubs report reaches this hub as text, so it is kept as their sentence.
    #[error("storage: {0}")]
    Council(String),
    /// The orderer is shutting down.
    #[error("the orderer has stopped")]
    Stopped,
    /// A non-hub forwarded the entry to a hub, which answered with this error (or
    /// no hub could be reached): returned to the client as is.
    #[error("the hub answered {status} {code}: {message}")]
    Forwarded {
        status: u16,
        code: String,
        message: String,
    },
}

pub type SubmitFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Committed, SubmitError>> + Send + 'a>>;

/// Puts signed entries into the log's order. Implementations stamp the council time,
/// append through the ledger (which applies the state machine) and answer only once
/// the entry is durable.
pub trait Orderer: Send + Sync + 'static {
    fn submit(&self, envelope: Envelope) -> SubmitFuture<'_>;

    /// Whether a committed entry is in this node's ledger when `submit` returns
    /// (false for a non-hub's forwarding orderer: the entry arrives by replication).
    fn applies_locally(&self) -> bool {
        true
    }
}

/// The council of one: this hub orders every entry itself.
pub struct SingleHub {
    ledger: SharedLedger,
}

impl SingleHub {
    pub fn new(ledger: SharedLedger) -> SingleHub {
        SingleHub { ledger }
    }
}

impl Orderer for SingleHub {
    fn submit(&self, envelope: Envelope) -> SubmitFuture<'_> {
        Box::pin(async move {
            let mut ledger = self.ledger.clone().lock_owned().await;
            // SQLite commits with fsync: off the async workers.
            tokio::task::spawn_blocking(move || {
                let at = council_time(&ledger);
                let appended = ledger.append(&envelope, at).map_err(SubmitError::from)?;
                Ok(Committed {
                    index: appended.record.index,
                    entry_hash: appended.applied.entry_hash,
                    leaf_hash: appended.leaf_hash,
                    kind: appended.applied.kind,
                    author: appended.applied.author,
                    events: appended.applied.events,
                    timestamp: appended.record.timestamp,
                })
            })
            .await
            .map_err(SubmitError::AppendTask)?
        })
    }
}

/// Now, but never earlier than the last record: the log's timestamps never go back
/// even if the wall clock does.
fn council_time(ledger: &Ledger) -> Timestamp {
    let t = now();
    ledger
        .state()
        .last_timestamp()
        .map_or(t, |last| t.max(last))
}

/// The wall clock as a council timestamp (milliseconds, UTC): the one clock of the
/// node (council stamps, peer request dates, seals, voting periods).
///
/// `GOVMESH_CLOCK_SKEW_SECS` (read once; a signed number of seconds) shifts it: a
/// hidden test knob, with which `govmesh bench chaos` runs a hub whose clock is
/// minutes off.
pub fn now() -> Timestamp {
    static SKEW_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let skew = *SKEW_MS.get_or_init(|| {
        std::env::var("GOVMESH_CLOCK_SKEW_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(0, |s| s.saturating_mul(1000))
    });
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_millis(ms.saturating_add(skew))
}

impl From<LedgerError> for SubmitError {
    /// A refusal by the state machine stays a refusal; anything else is storage.
    fn from(e: LedgerError) -> SubmitError {
        match e {
            LedgerError::Rejected(r) => SubmitError::Rejected(r),
            other => SubmitError::Ledger(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LogNotify;

    /// A late notification of an earlier size does not move the log size back: a
    /// waiter for a size already reached returns at once (it used to wait for the
    /// next append, up to a follower's 5 s timeout, under load).
    #[test]
    fn the_log_size_never_goes_back() {
        let n = LogNotify::new(0);
        let rx = n.subscribe();
        n.notify(5);
        n.notify(3);
        assert_eq!(*rx.borrow(), 5);
        n.notify(7);
        assert_eq!(*rx.borrow(), 7);
    }
}
