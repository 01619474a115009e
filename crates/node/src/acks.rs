//! Sync acknowledgements: every node runs [`start`]'s task. Whenever its log grows
//! (`app.log_changes()`), it looks for contract revisions it was a target of (fixed
//! at adoption, see `govmesh_core::sync`) and has not acknowledged, signs an
//! `ack_sync` for each with the node key and submits it through `app.submit` (on a
//! hub that is the council; on other nodes the forwarding orderer sends it to a hub).
//!
//! Never twice: an ack is sent only while the log shows none by this node for that
//! revision, one at a time per revision, and Ed25519 signatures are deterministic, so
//! a retry after an unclear failure is byte-identical and the state machine refuses
//! it as a replay (or a duplicate) instead of logging a second ack. Failures are
//! retried with exponential backoff (0.25 s doubling to 30 s).

use crate::shared::Shared;
use axum::http::StatusCode;
use govmesh_core::entry::{AckSyncOp, Operation, sign_entry_at};
use govmesh_core::model::NodeType;
use govmesh_core::sync::pending_acks;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// First retry delay after a failed submission.
pub const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Longest retry delay.
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// Starts the acknowledgement task; it ends when `stop` turns true.
pub fn start(app: Shared, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(app, stop))
}

/// A revision whose ack failed: when to try again and the delay after that.
struct Retry {
    at: Instant,
    delay: Duration,
}

type Key = (String, u64);

async fn run(app: Shared, mut stop: watch::Receiver<bool>) {
    if app.info().node_type != NodeType::GovernanceHub && app.orderer().applies_locally() {
        // A non-hub ordering into its own log would fork it from the hubs' log.
        tracing::warn!(
            "this node is not a governance hub and has no orderer that forwards to one: \
             it will not acknowledge contract revisions"
        );
        return;
    }
    let mut changes = app.log_changes();
    let mut retries: HashMap<Key, Retry> = HashMap::new();
    // Committed by a hub but not yet in this node's log (a forwarding orderer).
    let mut sent: HashSet<Key> = HashSet::new();
    loop {
        let owed = {
            let l = app.ledger().lock().await;
            pending_acks(l.state(), &app.info().node_id)
        };
        // Forget revisions acknowledged in the log meanwhile.
        let still = |k: &Key| {
            owed.iter()
                .any(|o| (&o.contract_id, o.revision) == (&k.0, k.1))
        };
        retries.retain(|k, _| still(k));
        sent.retain(still);
        let now = Instant::now();
        for op in owed {
            if *stop.borrow() {
                return;
            }
            let key = (op.contract_id.clone(), op.revision);
            if sent.contains(&key) || retries.get(&key).is_some_and(|r| r.at > now) {
                continue;
            }
            match submit(&app, op).await {
                Outcome::Done => {
                    retries.remove(&key);
                    sent.insert(key);
                }
                Outcome::Retry(why) => {
                    let delay = retries
                        .get(&key)
                        .map_or(FIRST_RETRY, |r| (r.delay * 2).min(MAX_RETRY));
                    tracing::debug!(contract = %key.0, revision = key.1, %why, ?delay, "ack_sync failed; will retry");
                    retries.insert(
                        key,
                        Retry {
                            at: Instant::now() + delay,
                            delay,
                        },
                    );
                }
            }
        }
        let next_retry = retries.values().map(|r| r.at).min();
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = sleep_until(next_retry) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

enum Outcome {
    /// Committed, or the log already has this ack (a replay or a duplicate).
    Done,
    Retry(String),
}

async fn submit(app: &Shared, op: AckSyncOp) -> Outcome {
    let (contract, revision) = (op.contract_id.clone(), op.revision);
    let env = sign_entry_at(app.key(), Operation::AckSync(op), crate::order::now());
    match app.submit(env).await {
        Ok(c) => {
            tracing::info!(%contract, revision, index = c.index, "acknowledged contract revision");
            Outcome::Done
        }
        Err(e) if e.status == StatusCode::CONFLICT => {
            tracing::debug!(%contract, revision, message = %e.message, "ack already in the log");
            Outcome::Done
        }
        Err(e) => Outcome::Retry(format!("{} {}: {}", e.status, e.code, e.message)),
    }
}
