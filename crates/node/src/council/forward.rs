//! Entries a follower hub forwards to the council's leader, in batches: the
//! submissions that arrive while earlier batches are in flight go together in one
//! peer-signed `POST /v1/council/forward` (a JSON array of envelopes), and the leader
//! answers one [`ForwardOutcome`] per envelope, in order. The leader proposes them
//! through its own group commit and never forwards them again: a hub that no longer
//! leads answers `503 not_leader` for each, and the follower asks Raft who leads and
//! retries (resending is safe: the state machine refuses a second copy as a replay).

use super::{BATCH_MAX_BYTES, Council, Forwarded, HubNode, envelope_bytes, unavailable};
use crate::order::{Committed, SubmitError};
use crate::peer_auth;
use axum::http::StatusCode;
use govmesh_core::dsse::Envelope;
use govmesh_core::keys::KeyPair;
use govmesh_core::state::Rejection;
use govmesh_store::RegistryView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

/// Where the leader takes forwarded entries.
pub const FORWARD_PATH: &str = "/v1/council/forward";
/// At most this many envelopes per forwarded batch (the leader refuses more).
pub const FORWARD_MAX_ENTRIES: usize = 256;

/// What the leader answered for one forwarded envelope.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardOutcome {
    Committed(Committed),
    Rejected(Rejection),
    /// The leader could not decide: the status, code and message its API would give.
    Error {
        status: u16,
        code: String,
        message: String,
    },
}

impl ForwardOutcome {
    fn error(status: StatusCode, code: &str, message: String) -> ForwardOutcome {
        ForwardOutcome::Error {
            status: status.as_u16(),
            code: code.to_owned(),
            message,
        }
    }
}

/// One envelope waiting to be forwarded.
pub(super) struct ForwardJob {
    pub leader: HubNode,
    pub envelope: Envelope,
    /// How long the request carrying it may take.
    pub attempt: Duration,
    pub reply: oneshot::Sender<Forwarded>,
}

/// Collects envelopes to forward into batches (one leader per batch) and sends them;
/// routes each answer back. Ends when every sender is gone.
pub(super) async fn forward_loop(
    http: reqwest::Client,
    key: KeyPair,
    registry: RegistryView,
    in_flight: usize,
    mut rx: mpsc::UnboundedReceiver<ForwardJob>,
) {
    let slots = Arc::new(Semaphore::new(in_flight.max(1)));
    let mut held: Option<ForwardJob> = None;
    loop {
        let first = match held.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => return,
            },
        };
        // Wait for a free slot first: what arrives meanwhile joins this batch.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = envelope_bytes(&first.envelope);
        let mut jobs = vec![first];
        while jobs.len() < FORWARD_MAX_ENTRIES && bytes < BATCH_MAX_BYTES {
            let Ok(next) = rx.try_recv() else { break };
            if next.leader != jobs[0].leader {
                held = Some(next);
                break;
            }
            bytes += envelope_bytes(&next.envelope);
            jobs.push(next);
        }
        let (http, key, registry) = (http.clone(), key.clone(), registry.clone());
        tokio::spawn(async move {
            send(&http, &key, &registry, jobs).await;
            drop(permit);
        });
    }
}

/// Sends one batch to its leader and answers every job.
async fn send(
    http: &reqwest::Client,
    key: &KeyPair,
    registry: &RegistryView,
    jobs: Vec<ForwardJob>,
) {
    let leader = jobs[0].leader.clone();
    let url = format!("{}{FORWARD_PATH}", leader.addr.trim_end_matches('/'));
    let attempt = jobs
        .iter()
        .map(|j| j.attempt)
        .min()
        .unwrap_or(Duration::from_secs(1));
    let envelopes: Vec<&Envelope> = jobs.iter().map(|j| &j.envelope).collect();
    let body = match serde_json::to_vec(&envelopes) {
        Ok(b) => b,
        Err(e) => {
            let m = format!("encoding forwarded entries: {e}");
            return answer_all(jobs, |_| {
                Forwarded::Answer(Err(SubmitError::Council(m.clone())))
            });
        }
    };
    let mut rb = http
        .post(&url)
        .timeout(attempt)
        .header("content-type", "application/json");
    let leader_key = registry
        .current()
        .node(&leader.node_id)
        .map(|n| n.public_key);
    for (k, v) in peer_auth::sign_request_to(
        key,
        key.node_id(),
        leader_key.as_ref(),
        "POST",
        FORWARD_PATH,
        &body,
    ) {
        rb = rb.header(k, v);
    }
    let unreachable = |why: String| {
        let url = url.clone();
        move |_: &ForwardJob| {
            Forwarded::Retry(unavailable(
                "leader_unreachable",
                format!(
                    "forwarding to the council's leader {url} failed ({why}); the entry may \
                     or may not have been committed: check the log before submitting it again"
                ),
            ))
        }
    };
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => return answer_all(jobs, unreachable(e.to_string())),
    };
    let status = resp.status();
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return answer_all(jobs, unreachable(format!("reading its answer: {e}"))),
    };
    if !status.is_success() {
        // The whole batch was refused (a peer-auth failure, a body the leader could not
        // read, or a hub that is not a council member).
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        let message = body["error"]["message"].as_str().unwrap_or("").to_owned();
        return answer_all(jobs, |_| {
            outcome_answer(ForwardOutcome::Error {
                status: status.as_u16(),
                code: code.clone(),
                message: message.clone(),
            })
        });
    }
    match serde_json::from_slice::<Vec<ForwardOutcome>>(&bytes) {
        Ok(outcomes) if outcomes.len() == jobs.len() => {
            for (job, o) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome_answer(o));
            }
        }
        Ok(outcomes) => {
            let m = format!(
                "the leader {url} answered {} outcomes for {} entries; check the log",
                outcomes.len(),
                jobs.len()
            );
            answer_all(jobs, |_| {
                Forwarded::Answer(Err(SubmitError::Council(m.clone())))
            });
        }
        Err(e) => {
            let m = format!("the leader's answer from {url} is unreadable ({e}); check the log");
            answer_all(jobs, |_| {
                Forwarded::Answer(Err(SubmitError::Council(m.clone())))
            });
        }
    }
}

fn answer_all(jobs: Vec<ForwardJob>, f: impl Fn(&ForwardJob) -> Forwarded) {
    for job in jobs {
        let a = f(&job);
        let _ = job.reply.send(a);
    }
}

/// The follower's view of one outcome: a 503 from the leader is worth retrying
/// (elsewhere, once Raft says who leads); anything else is the answer.
fn outcome_answer(o: ForwardOutcome) -> Forwarded {
    match o {
        ForwardOutcome::Committed(c) => Forwarded::Answer(Ok(c)),
        ForwardOutcome::Rejected(r) => Forwarded::Answer(Err(SubmitError::Rejected(r))),
        ForwardOutcome::Error {
            status,
            code,
            message,
        } => {
            let e = SubmitError::Forwarded {
                status,
                code,
                message: format!("(from the council's leader) {message}"),
            };
            if status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
                Forwarded::Retry(e)
            } else {
                Forwarded::Answer(Err(e))
            }
        }
    }
}

impl Council {
    /// The leader's side: proposes every forwarded envelope through this hub's group
    /// commit, concurrently, and answers each in order. Never forwards them again.
    pub(crate) async fn take_forwarded(
        self: &Arc<Self>,
        envelopes: Vec<Envelope>,
    ) -> Vec<ForwardOutcome> {
        let n = envelopes.len();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, env) in envelopes.into_iter().enumerate() {
            let c = self.clone();
            tasks.spawn(async move { (i, c.propose_here(env).await) });
        }
        let mut out: Vec<Option<ForwardOutcome>> = (0..n).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, o)) = done {
                out[i] = Some(o);
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    ForwardOutcome::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "proposing a forwarded entry failed; check the log".into(),
                    )
                })
            })
            .collect()
    }

    async fn propose_here(&self, envelope: Envelope) -> ForwardOutcome {
        let not_leader = || {
            ForwardOutcome::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_leader",
                "this hub does not lead the council (any more); nothing was stored".into(),
            )
        };
        if !self.is_leader() {
            return not_leader();
        }
        let verified = super::signature_verifies(&self.registry.current(), &envelope);
        let (reply, answer) = oneshot::channel();
        let queued = self.proposals.send(super::Pending {
            envelope,
            signature_verified: verified,
            reply,
        });
        if queued.is_err() {
            return ForwardOutcome::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopped",
                "the council is stopping; nothing was stored".into(),
            );
        }
        let deadline = Instant::now() + self.settings.submit_timeout;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(super::Proposed::Answer(super::CouncilAnswer::Committed(c)))) => {
                ForwardOutcome::Committed(c)
            }
            Ok(Ok(super::Proposed::Answer(super::CouncilAnswer::Rejected(r)))) => {
                ForwardOutcome::Rejected(r)
            }
            Ok(Ok(super::Proposed::Answer(_))) => ForwardOutcome::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                "the council applied no entry".into(),
            ),
            Ok(Ok(super::Proposed::NotLeader(_))) => not_leader(),
            Ok(Ok(super::Proposed::Failed(e))) => {
                ForwardOutcome::error(StatusCode::INTERNAL_SERVER_ERROR, "storage", e)
            }
            Ok(Ok(super::Proposed::Stopped)) | Ok(Err(_)) => ForwardOutcome::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopped",
                "the council is stopping; the entry may or may not have been committed: \
                 check the log"
                    .into(),
            ),
            Err(_) => ForwardOutcome::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_committed",
                format!(
                    "the entry was not committed within {} s; it may still be committed \
                     later: check the log before submitting it again",
                    self.settings.submit_timeout.as_secs()
                ),
            ),
        }
    }
}
