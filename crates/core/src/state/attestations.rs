//! `attest`: a node's signed hygiene attestation, checked against the clause it names.

use super::{Ctx, Event, RejectCode, Rejection, State, rej};
use crate::attestation::{AttestError, Attestation, HYGIENE_CLAUSE};
use crate::entry::AttestOp;

impl State {
    pub(super) fn attest(&mut self, op: &AttestOp, ctx: &Ctx) -> Result<Vec<Event>, Rejection> {
        let author = self
            .nodes
            .get(ctx.author)
            .expect("the author is registered");
        let (st, p) = crate::attestation::open(&op.envelope, &author.public_key).map_err(|e| {
            let code = match &e {
                AttestError::PayloadType(_) | AttestError::Signatures(_) => RejectCode::Malformed,
                AttestError::WrongKey { .. } => RejectCode::UnknownSigner,
                AttestError::BadSignature(_) => RejectCode::BadSignature,
                AttestError::Statement(_) => RejectCode::Schema,
            };
            rej(code, e.to_string())
        })?;
        let rev = self.named_revision(&p.contract_id, p.revision, p.contract_hash.as_ref())?;
        let clause = rev.clause(HYGIENE_CLAUSE).ok_or_else(|| {
            rej(
                RejectCode::UnknownClause,
                format!(
                    "revision {} of {:?} has no clause {HYGIENE_CLAUSE}",
                    p.revision, p.contract_id
                ),
            )
        })?;
        let hash = clause
            .hash()
            .map_err(|e| rej(RejectCode::Malformed, format!("clause does not hash: {e}")))?;
        if hash != p.clause_hash {
            return Err(rej(
                RejectCode::Mismatch,
                format!(
                    "clause_hash {} is not the hash of clause {HYGIENE_CLAUSE} in revision {} of {:?} ({hash})",
                    p.clause_hash, p.revision, p.contract_id
                ),
            ));
        }
        let event = Event::AttestationRecorded {
            contract_id: p.contract_id.clone(),
            revision: p.revision,
            passed: p.passed,
        };
        self.retired.attestations.push(Attestation {
            index: ctx.index,
            entry_hash: ctx.hash,
            attester: ctx.author.to_owned(),
            timestamp: ctx.at,
            subject: st.subject,
            predicate_type: st.predicate_type,
            predicate: p,
            envelope: op.envelope.clone(),
        });
        Ok(vec![event])
    }
}
