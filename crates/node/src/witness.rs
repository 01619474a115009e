//! The compliance witness (clause 5.4): `POST /v1/witness/add-checkpoint` per C2SP
//! `tlog-witness`, and the equivocations it caught (`GET /v1/witness/equivocations`).
//!
//! A witness trusts the checkpoint keys of the active governance hubs in its own State
//! (key name = the mesh's checkpoint origin); a witness behind on the log still knows
//! the founding hubs from the genesis. For each origin it keeps the latest checkpoint
//! it cosigned in `DIR/witness.db` (SQLite), checks every new checkpoint against it
//! with the RFC 6962 consistency proof in the request, and answers with a C2SP
//! `cosignature/v1` line signed by its node key under `govmesh-witness/<node_id>`.
//! Checking and recording happen under one lock, so two requests cannot roll the
//! record back. A hub-signed checkpoint of the same size as the recorded one with
//! another root is refused and both notes are kept as evidence (and, where the log
//! has `evidence` entries, submitted as a `checkpoint_fork`).

use crate::error::{ApiError, NodeError};
use crate::extract::ApiBytes;
use crate::order::now;
use crate::replicate::Replica;
use crate::route_table::route_table;
use crate::shared::Shared;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use govmesh_core::Digest;
use govmesh_core::checkpoint::{Checkpoint, SignedNote, note_key_hash};
use govmesh_core::cosign::{Cosignature, witness_key_name};
use govmesh_core::keys::{KeyPair, PublicKey};
use govmesh_core::merkle::verify_consistency;
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_store::rusqlite::{self, Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use std::path::Path;
use std::sync::Mutex;

/// The tlog-witness request a seal collector sends (crate::wire, shared with it).
pub use crate::wire::{ADD_CHECKPOINT_PATH, TLOG_SIZE_CONTENT_TYPE, add_checkpoint_body};

/// The tables of `DIR/witness.db`.
const WITNESS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS witness_latest (
         origin TEXT PRIMARY KEY,
         size INTEGER NOT NULL,
         root BLOB NOT NULL,
         note TEXT NOT NULL,
         cosigned_at_ms INTEGER NOT NULL
     );
     CREATE TABLE IF NOT EXISTS witness_equivocations (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         origin TEXT NOT NULL,
         size INTEGER NOT NULL,
         cosigned_root BLOB NOT NULL,
         offered_root BLOB NOT NULL,
         cosigned_note TEXT NOT NULL,
         offered_note TEXT NOT NULL,
         detected_at_ms INTEGER NOT NULL,
         evidence_index INTEGER,
         UNIQUE (origin, size, offered_root)
     );";

/// The witness database file in the data directory.
pub const WITNESS_DB_FILE: &str = "witness.db";
/// The most consistency proof lines a request may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;
/// A parsed add-checkpoint request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Digest>,
    /// The signed checkpoint, as sent.
    pub note_text: String,
}

/// Reads an add-checkpoint request body; the error says what is malformed.
pub fn parse_add_checkpoint(body: &str) -> Result<AddCheckpoint, String> {
    use base64::Engine as _;
    let (first, mut rest) = body
        .split_once('\n')
        .ok_or("the body has no old size line (\"old N\" and a newline)")?;
    let old = first
        .strip_prefix("old ")
        .ok_or_else(|| format!("the first line {first:?} is not \"old <size>\""))?;
    if old.is_empty()
        || !old.bytes().all(|b| b.is_ascii_digit())
        || (old.len() > 1 && old.starts_with('0'))
    {
        return Err(format!(
            "old size {old:?} is not a decimal number without leading zeroes"
        ));
    }
    let old_size: u64 = old
        .parse()
        .map_err(|_| format!("old size {old:?} does not fit in 64 bits"))?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest
            .split_once('\n')
            .ok_or("no empty line after the consistency proof (the checkpoint must follow one)")?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(format!(
                "more than {MAX_PROOF_LINES} consistency proof lines"
            ));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(line)
            .map_err(|e| {
                format!(
                    "consistency proof line {} is not standard base64: {e}",
                    proof.len() + 1
                )
            })?;
        let h: [u8; 32] = raw.try_into().map_err(|v: Vec<u8>| {
            format!(
                "consistency proof line {} is {} bytes, expected 32",
                proof.len() + 1,
                v.len()
            )
        })?;
        proof.push(Digest(h));
    }
    if rest.is_empty() {
        return Err("no checkpoint after the empty line".into());
    }
    Ok(AddCheckpoint {
        old_size,
        proof,
        note_text: rest.to_owned(),
    })
}

/// A checkpoint fork seen by this witness: the note it had cosigned and the note of the
/// same size with another root it was then offered.
#[derive(Clone, Debug, Serialize)]
pub struct WitnessEquivocation {
    pub id: i64,
    pub origin: String,
    pub size: u64,
    pub cosigned_root: Digest,
    pub offered_root: Digest,
    /// The hub-signed note this witness had cosigned.
    pub cosigned_note: String,
    /// The hub-signed note of the same size with another root.
    pub offered_note: String,
    pub detected_at: govmesh_core::Timestamp,
    /// Log index of the `evidence` entry that recorded it, once submitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_index: Option<u64>,
}

/// What a witness did with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Cosigned: the signature line(s), each ending in a newline.
    Cosigned(String),
    /// Same size, another root: refused and recorded (the new row's id).
    Equivocation(WitnessEquivocation),
    /// A dry run found a new checkpoint it would cosign, signed by this hub.
    Checked(Checkpoint, String),
    /// A dry run found the size it last cosigned (a repeat or an equivocation).
    Repeat,
}

/// Why a request was refused (each maps to the C2SP status code).
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{0}")]
    Malformed(String),
    #[error("unknown checkpoint origin {found:?}; this witness cosigns {expected:?}")]
    UnknownOrigin { found: String, expected: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("old size {old} does not match the size this witness last cosigned ({latest})")]
    SizeMismatch { old: u64, latest: u64 },
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
    #[error("witness storage: {0}")]
    Storage(String),
}

impl From<WitnessError> for ApiError {
    fn from(e: WitnessError) -> ApiError {
        let msg = e.to_string();
        match e {
            WitnessError::Malformed(_) => ApiError::bad_request("malformed_request", msg),
            WitnessError::UnknownOrigin { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_origin", msg)
            }
            WitnessError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "unknown_key", msg),
            WitnessError::SizeMismatch { .. } => {
                ApiError::new(StatusCode::CONFLICT, "size_mismatch", msg)
            }
            WitnessError::BadProof(_) => ApiError::unprocessable("bad_proof", msg),
            WitnessError::Storage(m) => ApiError::internal(m),
        }
    }
}

fn storage(e: rusqlite::Error) -> WitnessError {
    WitnessError::Storage(e.to_string())
}

/// A compliance witness: its key, its name and its SQLite record.
pub struct Witness {
    db: Mutex<Connection>,
    key: KeyPair,
    name: String,
    /// Validate the entries of a new checkpoint before cosigning (the default); off
    /// only for C2SP protocol tests that offer synthetic trees.
    validate_entries: std::sync::atomic::AtomicBool,
}

struct Latest {
    size: u64,
    root: Digest,
    note: String,
}

impl Witness {
    /// Opens (creating if needed) `DIR/witness.db`.
    pub fn open(dir: &Path, key: KeyPair) -> Result<Witness, NodeError> {
        let path = dir.join(WITNESS_DB_FILE);
        let db = govmesh_store::open_side_db(&path, WITNESS_SCHEMA, 1)?;
        let name = witness_key_name(key.node_id());
        Ok(Witness {
            db: Mutex::new(db),
            key,
            name,
            validate_entries: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Turns the entry validation before cosigning on or off (see
    /// `ServeOptions::witness_protocol_only`).
    pub fn set_validate_entries(&self, on: bool) {
        self.validate_entries
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn validates_entries(&self) -> bool {
        self.validate_entries
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This witness's key name, `govmesh-witness/<node_id>`.
    pub fn key_name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn latest(db: &Connection, origin: &str) -> Result<Option<Latest>, WitnessError> {
        db.query_row(
            "SELECT size, root, note FROM witness_latest WHERE origin = ?1",
            params![origin],
            |r| {
                let size: i64 = r.get(0)?;
                let root: Vec<u8> = r.get(1)?;
                Ok((size, root, r.get::<_, String>(2)?))
            },
        )
        .optional()
        .map_err(storage)?
        .map(|(size, root, note)| {
            let root: [u8; 32] = root
                .try_into()
                .map_err(|_| WitnessError::Storage("a stored root is not 32 bytes".into()))?;
            Ok(Latest {
                size: size as u64,
                root: Digest(root),
                note,
            })
        })
        .transpose()
    }

    /// The size this witness last cosigned for `origin` (0 if never).
    pub fn latest_size(&self, origin: &str) -> Result<u64, WitnessError> {
        Ok(Self::latest(&self.lock(), origin)?.map_or(0, |l| l.size))
    }

    /// Handles one add-checkpoint request against the trusted hub keys of `origin`.
    pub fn add_checkpoint(
        &self,
        body: &str,
        origin: &str,
        hubs: &[(String, PublicKey)],
        now_ms: i64,
    ) -> Result<Outcome, WitnessError> {
        self.check_or_add(body, origin, hubs, now_ms, false)
    }

    /// Every check of [`Witness::add_checkpoint`] without signing or recording
    /// anything: `Ok(Some(checkpoint))` when the request would be cosigned as a new
    /// checkpoint (larger than the last cosigned), `Ok(None)` when it repeats the
    /// last cosigned size (a repeat or an equivocation, which the real call handles).
    pub fn precheck(
        &self,
        body: &str,
        origin: &str,
        hubs: &[(String, PublicKey)],
    ) -> Result<Option<(Checkpoint, String)>, WitnessError> {
        match self.check_or_add(body, origin, hubs, 0, true)? {
            Outcome::Checked(cp, hub) => Ok(Some((cp, hub))),
            _ => Ok(None),
        }
    }

    fn check_or_add(
        &self,
        body: &str,
        origin: &str,
        hubs: &[(String, PublicKey)],
        now_ms: i64,
        dry_run: bool,
    ) -> Result<Outcome, WitnessError> {
        let req = parse_add_checkpoint(body).map_err(WitnessError::Malformed)?;
        let note = SignedNote::parse(&req.note_text)
            .map_err(|e| WitnessError::Malformed(e.to_string()))?;
        let cp = note
            .checkpoint()
            .map_err(|e| WitnessError::Malformed(e.to_string()))?;
        if cp.origin != origin {
            return Err(WitnessError::UnknownOrigin {
                found: cp.origin,
                expected: origin.to_owned(),
            });
        }
        let signer = hubs.iter().find(|(_, key)| {
            let kh = note_key_hash(origin, key);
            note.signatures
                .iter()
                .any(|s| s.name == origin && s.key_hash == kh)
                && note.verify(origin, key).is_ok()
        });
        if signer.is_none() {
            return Err(WitnessError::Forbidden(format!(
                "no signature on the checkpoint verifies under the key of an active \
                 governance hub (key name {origin:?}); signers named: {:?}",
                note.signatures.iter().map(|s| &s.name).collect::<Vec<_>>()
            )));
        }
        if req.old_size > cp.size {
            return Err(WitnessError::Malformed(format!(
                "old size {} is larger than the checkpoint size {}",
                req.old_size, cp.size
            )));
        }

        if req.old_size == 0 && !req.proof.is_empty() {
            return Err(WitnessError::Malformed(format!(
                "old size is 0 but the request carries {} proof line(s); the proof must \
                 be empty",
                req.proof.len()
            )));
        }

        // Check and record under one lock: no other request interleaves.
        let mut db = self.lock();
        let latest = Self::latest(&db, origin)?;
        let latest_size = latest.as_ref().map_or(0, |l| l.size);
        if dry_run && latest.as_ref().is_some_and(|l| l.size == cp.size) {
            return Ok(Outcome::Repeat);
        }
        if let Some(l) = &latest
            && l.size == cp.size
            && l.root != cp.root
        {
            let e = record_equivocation(&mut db, origin, l, &cp, &req.note_text, now_ms)?;
            return Ok(Outcome::Equivocation(e));
        }
        if req.old_size != latest_size {
            return Err(WitnessError::SizeMismatch {
                old: req.old_size,
                latest: latest_size,
            });
        }
        // Old size 0 is a first checkpoint: nothing to be consistent with.
        if req.old_size != 0 {
            let old_root = latest
                .as_ref()
                .map(|l| l.root)
                .ok_or_else(|| WitnessError::Storage("a non-zero size without a record".into()))?;
            verify_consistency(req.old_size, cp.size, &old_root, &cp.root, &req.proof)
                .map_err(|e| WitnessError::BadProof(e.to_string()))?;
        }
        if dry_run {
            let hub = signer.map(|(id, _)| id.clone()).unwrap_or_default();
            return Ok(Outcome::Checked(cp, hub));
        }
        let time = (now_ms.max(0) / 1000) as u64;
        let c = Cosignature::sign(&note.body, &self.name, &self.key, time)
            .map_err(|e| WitnessError::Malformed(e.to_string()))?;
        db.execute(
            "INSERT INTO witness_latest (origin, size, root, note, cosigned_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3, note = ?4,
                 cosigned_at_ms = ?5",
            params![
                origin,
                cp.size as i64,
                cp.root.0.to_vec(),
                req.note_text,
                now_ms
            ],
        )
        .map_err(storage)?;
        Ok(Outcome::Cosigned(format!("{}\n", c.line())))
    }

    /// Every equivocation this witness caught, oldest first.
    pub fn equivocations(&self) -> Result<Vec<WitnessEquivocation>, WitnessError> {
        let db = self.lock();
        let mut st = db
            .prepare(
                "SELECT id, origin, size, cosigned_root, offered_root, cosigned_note,
                        offered_note, detected_at_ms, evidence_index
                 FROM witness_equivocations ORDER BY id",
            )
            .map_err(storage)?;
        let rows = st.query_map([], row_to_equivocation).map_err(storage)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(storage)
    }

    /// Records the log index of the `evidence` entry submitted for an equivocation.
    pub fn set_evidence_index(&self, id: i64, index: u64) -> Result<(), WitnessError> {
        self.lock()
            .execute(
                "UPDATE witness_equivocations SET evidence_index = ?2 WHERE id = ?1",
                params![id, index as i64],
            )
            .map_err(storage)?;
        Ok(())
    }
}

fn digest_col(v: Vec<u8>) -> Digest {
    let mut d = [0u8; 32];
    if v.len() == 32 {
        d.copy_from_slice(&v);
    }
    Digest(d)
}

fn row_to_equivocation(r: &rusqlite::Row<'_>) -> rusqlite::Result<WitnessEquivocation> {
    Ok(WitnessEquivocation {
        id: r.get(0)?,
        origin: r.get(1)?,
        size: r.get::<_, i64>(2)? as u64,
        cosigned_root: digest_col(r.get(3)?),
        offered_root: digest_col(r.get(4)?),
        cosigned_note: r.get(5)?,
        offered_note: r.get(6)?,
        detected_at: govmesh_core::Timestamp::from_millis(r.get(7)?),
        evidence_index: r.get::<_, Option<i64>>(8)?.map(|i| i as u64),
    })
}

fn record_equivocation(
    db: &mut Connection,
    origin: &str,
    latest: &Latest,
    cp: &Checkpoint,
    offered_note: &str,
    now_ms: i64,
) -> Result<WitnessEquivocation, WitnessError> {
    db.execute(
        "INSERT INTO witness_equivocations
             (origin, size, cosigned_root, offered_root, cosigned_note, offered_note,
              detected_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (origin, size, offered_root) DO NOTHING",
        params![
            origin,
            cp.size as i64,
            latest.root.0.to_vec(),
            cp.root.0.to_vec(),
            latest.note,
            offered_note,
            now_ms
        ],
    )
    .map_err(storage)?;
    db.query_row(
        "SELECT id, origin, size, cosigned_root, offered_root, cosigned_note, offered_note,
                detected_at_ms, evidence_index
         FROM witness_equivocations WHERE origin = ?1 AND size = ?2 AND offered_root = ?3",
        params![origin, cp.size as i64, cp.root.0.to_vec()],
        row_to_equivocation,
    )
    .map_err(storage)
}

/// The active governance hubs of the state, as (node id, key).
fn trusted_hubs(state: &govmesh_core::state::State) -> Vec<(String, PublicKey)> {
    state
        .nodes()
        .into_iter()
        .filter(|n| n.node_type == NodeType::GovernanceHub && n.status == NodeStatus::Active)
        .map(|n| (n.node_id.clone(), n.public_key))
        .collect()
}

/// What the witness endpoints hold: the witness record (on compliance_witness nodes)
/// and the running replication that fetches and replays a checkpoint's entries.
#[derive(Clone)]
struct Http {
    shared: Shared,
    witness: Option<std::sync::Arc<Witness>>,
    replica: Option<Replica>,
}

impl Http {
    fn witness(&self) -> Option<&std::sync::Arc<Witness>> {
        self.witness.as_ref()
    }
}

impl std::ops::Deref for Http {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

route_table!(Http {
    POST "/v1/witness/add-checkpoint" => add_checkpoint,
    GET "/v1/witness/equivocations" => equivocations,
});

/// The witness endpoints; without `witness` (not a compliance_witness) they say so.
pub fn routes(
    shared: Shared,
    witness: Option<std::sync::Arc<Witness>>,
    replica: Option<Replica>,
) -> Router {
    table().with_state(Http {
        shared,
        witness,
        replica,
    })
}

fn not_a_witness(app: &Http) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_a_witness",
        format!(
            "this node is a {}, not a compliance_witness",
            app.info().node_type.as_str()
        ),
    )
}

/// `POST /v1/witness/add-checkpoint` (C2SP tlog-witness).
async fn add_checkpoint(State(app): State<Http>, ApiBytes(body): ApiBytes) -> Response {
    let Some(w) = app.witness().cloned() else {
        return not_a_witness(&app).into_response();
    };
    let text = match crate::bodies::text(&body, "malformed_request", "the body") {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let hubs = {
        let l = app.ledger().lock().await;
        trusted_hubs(l.state())
    };
    let origin = app.origin().to_owned();
    let text = text.to_owned();
    if let Err(resp) = validate_entries(&app, &w, &text, &origin, &hubs).await {
        return resp;
    }
    let w2 = w.clone();
    let result = tokio::task::spawn_blocking(move || {
        w2.add_checkpoint(&text, &origin, &hubs, now().millis())
    })
    .await;
    let result = match result {
        Ok(r) => r,
        Err(e) => return ApiError::internal(format!("witness task: {e}")).into_response(),
    };
    match result {
        Ok(Outcome::Cosigned(lines)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            lines,
        )
            .into_response(),
        Ok(Outcome::Equivocation(e)) => {
            tracing::warn!(
                origin = %e.origin,
                size = e.size,
                cosigned_root = %e.cosigned_root.to_hex(),
                offered_root = %e.offered_root.to_hex(),
                "checkpoint fork: a hub-signed checkpoint of a size already cosigned with another root"
            );
            if e.evidence_index.is_none() {
                tokio::spawn(submit_evidence(app.clone(), w, e.clone()));
            }
            ApiError::new(
                StatusCode::CONFLICT,
                "equivocation",
                format!(
                    "this witness cosigned a checkpoint of size {} with root {}; the offered \
                     checkpoint has root {}. Both notes are kept as evidence \
                     (GET /v1/witness/equivocations, id {})",
                    e.size,
                    e.cosigned_root.to_hex(),
                    e.offered_root.to_hex(),
                    e.id
                ),
            )
            .into_response()
        }
        Ok(Outcome::Checked(..) | Outcome::Repeat) => {
            ApiError::internal("the witness answered a dry run to a real request").into_response()
        }
        Err(WitnessError::SizeMismatch { latest, .. }) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, TLOG_SIZE_CONTENT_TYPE)],
            format!("{latest}\n"),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Before cosigning a new checkpoint, the witness holds and has validated the log up
/// to it: it fetches the entries it lacks from the signing hub and replays them
/// through the state machine (`replicate::validate_up_to`), so that a seal means that
/// its witnesses checked every entry — signatures, votes, attestations, evidence —
/// and not only the tree's consistency. A checkpoint whose entries fail, or whose root
/// differs from the log the witness holds at that size, is refused (422
/// `not_validated`). Requests the C2SP checks refuse, and repeats of the last
/// cosigned size, go on to [`Witness::add_checkpoint`], which answers them.
async fn validate_entries(
    app: &Http,
    w: &std::sync::Arc<Witness>,
    text: &str,
    origin: &str,
    hubs: &[(String, PublicKey)],
) -> Result<(), Response> {
    if !w.validates_entries() {
        return Ok(());
    }
    let (w2, t, o, h) = (w.clone(), text.to_owned(), origin.to_owned(), hubs.to_vec());
    let checked = tokio::task::spawn_blocking(move || w2.precheck(&t, &o, &h)).await;
    let Ok(Ok(Some((cp, hub)))) = checked else {
        return Ok(());
    };
    let refuse = |why: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_validated",
            format!(
                "this witness cosigns only a log it has validated: the checkpoint of size {} \
                 (root {}) signed by hub {hub}: {why}",
                cp.size, cp.root
            ),
        )
        .into_response()
    };
    let bases = {
        let l = app.ledger().lock().await;
        if l.size() >= cp.size {
            return match l.tree().root_at(cp.size) {
                Ok(root) if root == cp.root => Ok(()),
                Ok(root) => Err(refuse(format!(
                    "this witness holds and validated that log with root {root}"
                ))),
                Err(e) => Err(refuse(e.to_string())),
            };
        }
        // The signing hub first, then the other hubs: the entries are checked against
        // the signed root whoever serves them.
        let address = |id: &str| l.state().node(id).and_then(|n| n.network_address.clone());
        let mut bases: Vec<String> = address(&hub).into_iter().collect();
        for (id, _) in hubs {
            if let Some(a) = address(id).filter(|a| !bases.contains(a)) {
                bases.push(a);
            }
        }
        bases
    };
    let head = crate::replicate::Head {
        size: cp.size,
        root: cp.root,
        hub_node_id: hub.clone(),
        witness_node_ids: Vec::new(),
        note: String::new(),
    };
    crate::replicate::validate_up_to(app.replica.as_ref(), &bases, head)
        .await
        .map_err(refuse)
}

/// Submits a checkpoint fork as an `evidence` entry (signed by this witness) and
/// records the index it got.
async fn submit_evidence(app: Http, w: std::sync::Arc<Witness>, e: WitnessEquivocation) {
    use govmesh_core::entry::{EvidenceKind, EvidenceOp, Operation};
    let op = Operation::Evidence(EvidenceOp {
        kind: EvidenceKind::CheckpointFork,
        notes: vec![e.cosigned_note.clone(), e.offered_note.clone()],
    });
    match app.submit_own(op).await {
        Ok(c) => {
            tracing::info!(
                index = c.index,
                id = e.id,
                "checkpoint fork submitted as evidence"
            );
            let (w, index) = (w, c.index);
            let _ = tokio::task::spawn_blocking(move || w.set_evidence_index(e.id, index)).await;
        }
        Err(err) => {
            tracing::warn!(id = e.id, error = %err, "could not submit the checkpoint fork as evidence")
        }
    }
}

/// `GET /v1/witness/equivocations`: the checkpoint forks this witness caught.
async fn equivocations(State(app): State<Http>) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(w) = app.witness().cloned() else {
        return Ok(Json(json!({"witness": false, "equivocations": []})));
    };
    let list = tokio::task::spawn_blocking(move || w.equivocations())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)?;
    Ok(Json(json!({"witness": true, "equivocations": list})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let proof = vec![Digest([1; 32]), Digest([2; 32])];
        let note = "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o AAAA\n";
        let body = add_checkpoint_body(3, &proof, note);
        let r = parse_add_checkpoint(&body).unwrap();
        assert_eq!(r.old_size, 3);
        assert_eq!(r.proof, proof);
        assert_eq!(r.note_text, note);
        let r = parse_add_checkpoint(&add_checkpoint_body(0, &[], note)).unwrap();
        assert_eq!((r.old_size, r.proof.len()), (0, 0));
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let note = "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o AAAA\n";
        for (body, want) in [
            ("", "no old size line"),
            ("olds 1\n\n", "is not \"old <size>\""),
            ("old 01\n\nx", "leading zeroes"),
            ("old -1\n\nx", "decimal"),
            ("old 99999999999999999999\n\nx", "64 bits"),
            ("old 1\nAAAA\n\nx", "3 bytes"),
            ("old 1\n!!\n\nx", "base64"),
            ("old 1\n", "no empty line"),
            ("old 1\n\n", "no checkpoint"),
        ] {
            let e = parse_add_checkpoint(body).unwrap_err();
            assert!(e.contains(want), "{body:?}: {e}");
        }
        let many = vec![Digest([0; 32]); MAX_PROOF_LINES + 1];
        let e = parse_add_checkpoint(&add_checkpoint_body(1, &many, note)).unwrap_err();
        assert!(e.contains("more than 63"), "{e}");
        assert!(parse_add_checkpoint(&add_checkpoint_body(1, &many[1..], note)).is_ok());
    }
}
