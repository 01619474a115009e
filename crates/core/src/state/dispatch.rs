//! From an entry to its handler: order and replay checks, decoding, the signature,
//! the tether check, the match from [`Operation`] to the family that applies it, and
//! the bookkeeping every accepted entry shares.

use super::decode::{SignatureCheck, decode_entry, verify_signature};
use super::{Applied, Ctx, Event, RejectCode, Rejection, State, rej};
use crate::dsse::Envelope;
use crate::entry::{LogRecord, Operation, entry_hash};
use crate::model::NodeType;
use crate::stamp::Timestamp;

impl State {
    /// Validates and applies a new entry at council time `at` as index `size()`.
    /// On `Err` the state is unchanged. `at` must not be before the previous entry's
    /// time (`OutOfOrder`), so that a replay of the log sees the same times.
    pub fn apply(&mut self, env: &Envelope, at: Timestamp) -> Result<Applied, Rejection> {
        self.apply_checked(env, at, SignatureCheck::Verify)
    }

    /// [`State::apply`] for an entry whose signature the caller has already verified
    /// strictly (`PublicKey::verify`) under the key its signature's key id names (the
    /// Raft council's leader does so before proposing: see node/council). Every other
    /// check runs as usual, including that this key id is the author's registered one
    /// at this point of the log; so the answer is the one `apply` gives.
    pub fn apply_preverified(
        &mut self,
        env: &Envelope,
        at: Timestamp,
    ) -> Result<Applied, Rejection> {
        self.apply_checked(env, at, SignatureCheck::AlreadyVerified)
    }

    fn apply_checked(
        &mut self,
        env: &Envelope,
        at: Timestamp,
        check: SignatureCheck,
    ) -> Result<Applied, Rejection> {
        if let Some(last) = self.last_timestamp
            && at < last
        {
            return Err(rej(
                RejectCode::OutOfOrder,
                format!("timestamp {at} is before the previous entry's {last}"),
            ));
        }
        let (payload, payload_bytes) = decode_entry(env)?;
        let hash =
            entry_hash(env).map_err(|e| rej(RejectCode::Malformed, format!("envelope: {e}")))?;
        let ctx = Ctx {
            index: self.size,
            at,
            hash,
            author: &payload.author,
        };
        let windowed = self.replay.is_some();
        let events = match &payload.op {
            Operation::Genesis(g) => {
                if self.mesh_id.is_some() {
                    return Err(rej(
                        RejectCode::Genesis,
                        "the log already has a genesis entry",
                    ));
                }
                let founder = g
                    .founders
                    .iter()
                    .find(|f| f.node_id == payload.author)
                    .ok_or_else(|| {
                        rej(
                            RejectCode::UnknownSigner,
                            format!(
                                "genesis author {:?} is not one of its founders",
                                payload.author
                            ),
                        )
                    })?;
                verify_signature(
                    env,
                    &payload_bytes,
                    &founder.public_key,
                    &payload.author,
                    check,
                )?;
                if founder.node_type != NodeType::GovernanceHub {
                    return Err(rej(
                        RejectCode::NotPrivileged,
                        format!(
                            "genesis must be signed by a founding governance_hub; {:?} is a {}",
                            payload.author,
                            founder.node_type.as_str()
                        ),
                    ));
                }
                self.apply_genesis(g, &ctx)?
            }
            op => {
                if self.mesh_id.is_none() {
                    return Err(rej(
                        RejectCode::Genesis,
                        format!("a {} entry before the genesis entry", op.kind()),
                    ));
                }
                let author = self.nodes.get(&payload.author).ok_or_else(|| {
                    rej(
                        RejectCode::UnknownSigner,
                        format!("author {:?} is not a registered node", payload.author),
                    )
                })?;
                verify_signature(
                    env,
                    &payload_bytes,
                    &author.public_key,
                    &payload.author,
                    check,
                )
                .map_err(|e| self.name_retired_key(env, &payload.author).unwrap_or(e))?;
                self.check_not_replayed(&hash, payload.signed_at, at)?;
                self.tether(author, op)?;
                match op {
                    Operation::Genesis(_) => unreachable!("handled above"),
                    Operation::RegisterNode(spec) => self.register_node(spec, &ctx)?,
                    Operation::UpdateNode(u) => self.update_node(u, &ctx)?,
                    Operation::DefineDomain(d) => self.define_domain(d, &ctx)?,
                    Operation::Propose(p) => self.propose(p, &ctx)?,
                    Operation::Vote(v) => self.vote(v, &ctx)?,
                    Operation::Withdraw(w) => self.withdraw(w, &ctx)?,
                    Operation::Close(c) => self.close(c, &ctx)?,
                    Operation::AckSync(a) => self.ack_sync(a, &ctx)?,
                    Operation::Attest(a) => self.attest(a, &ctx)?,
                    Operation::Evidence(e) => self.evidence(e, &ctx)?,
                    Operation::Connect(c) => self.connect(c, &ctx)?,
                    Operation::Disconnect(d) => self.disconnect(d, &ctx)?,
                    Operation::Delegate(d) => self.delegate(d, &ctx)?,
                    Operation::Undelegate(u) => self.undelegate(u, &ctx)?,
                    Operation::Cancel(c) => self.cancel(c, &ctx)?,
                    Operation::Enact(e) => self.enact(e, &ctx)?,
                    Operation::RecordRefusal(r) => self.record_refusal(r, &ctx)?,
                    Operation::RecordSeal(r) => self.record_seal(r, &ctx)?,
                }
            }
        };
        // Bookkeeping common to every accepted entry (cannot fail).
        self.observe_trust(&payload.op, &ctx, &events);
        self.retire_finished(&payload.op, &events);
        self.remember_entry(hash, payload.signed_at, at, windowed);
        self.size += 1;
        self.last_timestamp = Some(at);
        if let Some(n) = self.nodes.get_mut(&payload.author) {
            n.last_seen = Some(at);
        }
        Ok(Applied {
            index: ctx.index,
            entry_hash: hash,
            kind: payload.op.kind().to_owned(),
            author: payload.author.clone(),
            events,
        })
    }

    /// Moves the proposals this entry closed (decided without a timelock, rejected,
    /// withdrawn, cancelled, enacted; stale rivals of an adoption) out of the live
    /// maps, after everything else this entry does has read them.
    fn retire_finished(&mut self, op: &Operation, events: &[Event]) {
        let named = match op {
            Operation::Vote(v) => Some(v.proposal_id.as_str()),
            Operation::Close(c) => Some(c.proposal_id.as_str()),
            Operation::Withdraw(w) => Some(w.proposal_id.as_str()),
            Operation::Cancel(c) => Some(c.proposal_id.as_str()),
            Operation::Enact(e) => Some(e.proposal_id.as_str()),
            _ => None,
        };
        let touched = events.iter().filter_map(|e| match e {
            Event::ProposalAdopted { proposal_id, .. }
            | Event::ProposalRejected { proposal_id, .. }
            | Event::ProposalWithdrawn { proposal_id }
            | Event::ProposalCancelled { proposal_id, .. }
            | Event::RightsRestored { proposal_id, .. }
            | Event::OverrideAdopted { proposal_id, .. }
            | Event::OverridesInConflict { proposal_id, .. } => Some(proposal_id.as_str()),
            _ => None,
        });
        let ids: Vec<String> = named
            .into_iter()
            .chain(touched)
            .filter(|id| {
                self.proposal_index.contains_key(*id)
                    && !self.open.contains(*id)
                    && !self.timelocked.contains(*id)
            })
            .map(str::to_owned)
            .collect();
        for id in ids {
            self.retire(&id);
        }
    }

    /// Applies a stamped record from a log (replay, replication, verification): the
    /// record's index must be `size()` and its timestamp not before the previous one.
    pub fn apply_record(&mut self, rec: &LogRecord) -> Result<Applied, Rejection> {
        if rec.index != self.size {
            return Err(rej(
                RejectCode::OutOfOrder,
                format!("record index {} where {} is next", rec.index, self.size),
            ));
        }
        self.apply(&rec.envelope, rec.timestamp)
    }

    /// [`State::apply_record`] for a record whose signature the caller has already
    /// verified, typically many at once with [`crate::keys::verify_batch`] over
    /// [`crate::entry::signature_parts`], under the public key whose key id the
    /// signature names. Every other check runs as usual, including that this key id is
    /// the author's registered one (a key id is the SHA-256 of its key, so a signature
    /// verified under a key with that id is the author's). For replaying a log this
    /// node already accepted; a verifier of an untrusted log should use `apply_record`,
    /// whose strict verification refuses the torsion-tweaked signatures a batch may let
    /// through (see `verify_batch`).
    pub fn apply_record_preverified(&mut self, rec: &LogRecord) -> Result<Applied, Rejection> {
        if rec.index != self.size {
            return Err(rej(
                RejectCode::OutOfOrder,
                format!("record index {} where {} is next", rec.index, self.size),
            ));
        }
        self.apply_checked(
            &rec.envelope,
            rec.timestamp,
            SignatureCheck::AlreadyVerified,
        )
    }
}
