//! Whole-log verification: records pushed one at a time through a fresh (or resumed)
//! [`State`] and Merkle tree, then every contract's hash chain, the seal and the serving
//! node's checkpoint checked against the replayed root and registry. No I/O: the caller
//! fetches records and notes (`govmesh verify` over HTTP or from an export file; a
//! witness from the hub it is asked to cosign for) and prints the [`Report`].
//!
//! A seal is checked with [`verify_seal`] against the State of the log it seals, so hub
//! keys, witness keys and the clause 5.4 threshold all come from the log itself. Where
//! clause 5.4 asks for no cosignatures, a hub-signed checkpoint is a seal too. The
//! node's own checkpoint is a claim of that node: its signature and root are checked,
//! but only a seal is trusted. Entries beyond the seal are verified by replay and
//! reported as not yet sealed, not as a failure.

use crate::canonical::{canonical_bytes, parse_strict};
use crate::checkpoint::{Checkpoint, SignedNote, note_key_hash};
use crate::digest::Digest;
use crate::entry::LogRecord;
use crate::merkle::{MerkleTree, leaf_hash, root_of, verify_inclusion};
use crate::model::NodeType;
use crate::seal::{SealError, VerifiedSeal, checkpoint_origin, verify_seal};
use crate::state::{RejectCode, State};
use serde::Deserialize as _;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which check a log failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A record is not JSON, not a log record, or cannot be canonicalized.
    Parse,
    /// A record is missing or out of order, or a signed size is beyond the log.
    Index,
    /// The state machine refused a record (signature, schema, tether, rules, time).
    Rejected(RejectCode),
    /// The log is empty, does not start with a genesis, or not the pinned one.
    Genesis,
    /// A contract's revisions do not form an intact hash chain.
    Chain,
    /// The replayed Merkle root is not the one a seal or checkpoint signed.
    Root,
    /// The seal does not verify, or there is none.
    Seal,
    /// The node's own checkpoint is malformed, of another origin, or badly signed.
    Checkpoint,
}

/// Why a log does not verify: the check, the entry when there is one, and the whole
/// sentence (which names the entry too).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuditError {
    /// The log index of the entry at fault, when one is.
    pub index: Option<u64>,
    pub check: Check,
    pub message: String,
}

impl AuditError {
    fn new(index: Option<u64>, check: Check, message: impl Into<String>) -> AuditError {
        AuditError {
            index,
            check,
            message: message.into(),
        }
    }
}

/// `"vote by <author>"` from a record's base64 payload, for messages.
pub fn describe_payload(payload: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    match payload {
        Some(p) => format!(
            "{} by {}",
            p.get("type").and_then(Value::as_str).unwrap_or("?"),
            p.get("author").and_then(Value::as_str).unwrap_or("?")
        ),
        None => "unreadable payload".into(),
    }
}

/// `"vote by <author>"` for a record as served, if its payload can be read.
fn describe_json(raw: &Value) -> String {
    match raw.pointer("/envelope/payload").and_then(Value::as_str) {
        Some(p) => describe_payload(p),
        None => "unreadable payload".into(),
    }
}

/// The snake_case name a value serializes to (a code or status).
fn code_name<T: serde::Serialize>(code: &T) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "rejected".into())
}

/// A record as a server sent it, with the leaf hash of its JCS bytes *as sent*: not a
/// re-serialization of the parsed record, so a record sent in another form (a
/// timestamp with an offset) does not hash to the leaf the log committed to.
#[derive(Clone, Debug)]
pub struct ServedRecord {
    pub record: LogRecord,
    pub leaf: Digest,
}

impl ServedRecord {
    /// Reads record `index` from untrusted bytes: duplicate keys and unsafe integers
    /// are refused.
    pub fn from_bytes(index: u64, bytes: &[u8]) -> Result<ServedRecord, AuditError> {
        let raw = parse_strict(bytes).map_err(|e| {
            AuditError::new(Some(index), Check::Parse, format!("entry {index}: {e}"))
        })?;
        ServedRecord::from_json(index, &raw)
    }

    /// Reads record `index` (the position it was served at) from parsed JSON.
    pub fn from_json(index: u64, raw: &Value) -> Result<ServedRecord, AuditError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            AuditError::new(
                Some(index),
                Check::Parse,
                format!("entry {index} ({}): {what}: {e}", describe_json(raw)),
            )
        };
        let record = LogRecord::deserialize(raw).map_err(|e| fail("malformed record", &e))?;
        let bytes = canonical_bytes(raw).map_err(|e| fail("cannot canonicalize", &e))?;
        Ok(ServedRecord {
            record,
            leaf: leaf_hash(&bytes),
        })
    }
}

/// Most signatures one [`crate::keys::verify_batch`] call checks in [`preverify`].
const PREVERIFY_BATCH: usize = 256;

/// Which of `records` carry a signature that verifies under the key `key_of` gives for
/// the key id it names (a key id is the SHA-256 of its key, so the answer for an id
/// never changes), checked in batches with [`crate::keys::verify_batch`]: the work
/// `govmesh verify` does on one core while the state machine applies on another. A
/// record whose key is not known yet, whose signature is malformed or that fails is
/// `false`; push it with [`Audit::push_served`], which verifies strictly and names
/// what is wrong. Those found good are pushed with [`Audit::push_served_preverified`].
///
/// Batch verification accepts what strict verification accepts, except a signature
/// whose own key holder deliberately gave its `R` a torsion component (see
/// `verify_batch`): no forgery gets through.
pub fn preverify(
    records: &[ServedRecord],
    key_of: impl Fn(&str) -> Option<crate::keys::PublicKey>,
) -> Vec<bool> {
    let mut good = vec![false; records.len()];
    let mut start = 0;
    while start < records.len() {
        let end = (start + PREVERIFY_BATCH).min(records.len());
        let mut items = Vec::with_capacity(end - start);
        for (k, r) in records[start..end].iter().enumerate() {
            if let Ok((keyid, msg, sig)) = crate::entry::signature_parts(&r.record.envelope)
                && let Some(key) = key_of(&keyid)
            {
                items.push((start + k, msg, sig, key));
            }
        }
        let batch: Vec<(&[u8], &[u8; 64], &crate::keys::PublicKey)> = items
            .iter()
            .map(|(_, m, s, k)| (m.as_slice(), s, k))
            .collect();
        if crate::keys::verify_batch(&batch).is_ok() {
            for (k, ..) in &items {
                good[*k] = true;
            }
        } else {
            // Some item is bad: find which, strictly.
            for (k, m, s, key) in &items {
                good[*k] = key.verify(m, s).is_ok();
            }
        }
        start = end;
    }
    good
}

/// A contract's head as the replay found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractHead {
    /// How many revisions it has.
    pub revisions: u64,
    /// The newest revision's `contract_hash`.
    pub head: Digest,
}

/// The current revision of every contract in `state`: contract id -> (revision, hash).
pub fn contract_heads(state: &State) -> BTreeMap<String, (u64, Digest)> {
    state
        .contracts()
        .into_iter()
        .map(|c| (c.contract_id.clone(), (c.revision, c.contract_hash)))
        .collect()
}

/// Where a seal came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealSource {
    /// A seal proper (`/v1/log/seal`, an export's `seal`).
    Seal,
    /// A hub-signed checkpoint, which is a seal where the threshold is 0.
    Checkpoint,
}

impl SealSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SealSource::Seal => "seal",
            SealSource::Checkpoint => "checkpoint",
        }
    }
}

/// The seal a verification rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealReport {
    pub size: u64,
    pub root: Digest,
    pub origin: String,
    pub hub: String,
    /// The witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// Clause 5.4 `seal_threshold` it was checked against.
    pub threshold: usize,
    pub source: SealSource,
}

impl SealReport {
    fn new(v: VerifiedSeal, source: SealSource) -> SealReport {
        SealReport {
            size: v.checkpoint.size,
            root: v.checkpoint.root,
            origin: v.checkpoint.origin,
            hub: v.hub_node_id,
            witnesses: v.witness_node_ids,
            threshold: v.threshold,
            source,
        }
    }
}

/// The node's own signed checkpoint, as checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointReport {
    pub size: u64,
    pub origin: String,
    /// The first registered node whose signature verified.
    pub signer: String,
    pub signer_type: NodeType,
}

/// What a successful verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub entries: u64,
    pub mesh_id: Digest,
    pub mesh_name: String,
    /// Contract id -> its revisions and head hash; every chain intact.
    pub contracts: BTreeMap<String, ContractHead>,
    /// Proposal status (snake_case) -> how many.
    pub proposals: BTreeMap<String, u64>,
    pub root: Digest,
    pub seal: SealReport,
    pub checkpoint: Option<CheckpointReport>,
}

impl Report {
    /// Entries verified by replay but not covered by the seal.
    pub fn unsealed(&self) -> u64 {
        self.entries - self.seal.size
    }
}

/// Where the log came from, which says what "no seal" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A serving node (it answered 404 `no_seal`).
    Node,
    /// An export file (it holds none).
    File,
}

/// The signed notes a log is checked against, besides its records.
#[derive(Clone, Copy, Debug)]
pub struct Claims<'a> {
    /// The seal; none if the source had none yet.
    pub seal: Option<&'a str>,
    /// The serving node's own signed checkpoint.
    pub checkpoint: Option<&'a str>,
    /// An export file's leaf hash of every record, used only to name the entry whose
    /// bytes changed when a root does not match (trusted only once its own root
    /// matches the signed root).
    pub leaf_hashes: Option<&'a [Digest]>,
    pub source: Source,
}

impl Claims<'_> {
    /// The tree sizes the claims are about: [`Audit::keep_state_at`] each before
    /// pushing, since a seal is checked against the registry and rules of the log it
    /// seals.
    pub fn sizes(&self) -> Result<Vec<u64>, AuditError> {
        let mut sizes = Vec::new();
        if let Some(t) = self.seal {
            sizes.push(parse_note(Check::Seal, "seal", t)?.1.size);
        }
        if let Some(t) = self.checkpoint {
            sizes.push(parse_note(Check::Checkpoint, "checkpoint", t)?.1.size);
        }
        Ok(sizes)
    }
}

/// A source of inclusion proofs (the serving node), asked only to name the entry whose
/// bytes differ when the replayed root is not a signed root.
pub trait InclusionProofs {
    /// The proof of leaf `index` in the tree of `size`; none if it cannot be had.
    fn inclusion_proof(&mut self, index: u64, size: u64) -> Option<Vec<Digest>>;
}

impl<F: FnMut(u64, u64) -> Option<Vec<Digest>>> InclusionProofs for F {
    fn inclusion_proof(&mut self, index: u64, size: u64) -> Option<Vec<Digest>> {
        self(index, size)
    }
}

/// Parses a signed checkpoint note (`what` names it in messages).
fn parse_note(
    check: Check,
    what: &str,
    text: &str,
) -> Result<(SignedNote, Checkpoint), AuditError> {
    let fail =
        |e: crate::checkpoint::NoteError| AuditError::new(None, check, format!("{what}: {e}"));
    let note = SignedNote::parse(text).map_err(fail)?;
    let cp = note.checkpoint().map_err(fail)?;
    Ok((note, cp))
}

/// The state-free half of an audit: records come in index order without a gap, and
/// their leaves build the log's Merkle tree, whose root at a signed size is checked
/// and, when it differs, the entry at fault named from inclusion proofs. [`Audit`]
/// adds the state machine to it; a node pulling entries into its own ledger (which
/// replays what it appends) uses it alone, so nothing is applied twice.
#[derive(Clone, Debug, Default)]
pub struct LeafLog {
    tree: MerkleTree,
}

impl LeafLog {
    /// Goes on from a log already held (an empty tree for a whole log).
    pub fn new(tree: MerkleTree) -> LeafLog {
        LeafLog { tree }
    }

    /// How many leaves so far.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The root of every leaf so far.
    pub fn root(&self) -> Digest {
        self.tree.root()
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Digest> {
        self.tree.root_at(size).ok()
    }

    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// Checks that `rec` is the next record: its index is the number of leaves so far.
    pub fn check_next(&self, rec: &LogRecord) -> Result<(), AuditError> {
        let i = self.tree.size();
        if rec.index == i {
            return Ok(());
        }
        let what = describe_payload(&rec.envelope.payload);
        let message = if rec.index > i {
            format!(
                "entry {i}: missing; the record in its place has index {} ({what})",
                rec.index
            )
        } else {
            format!(
                "entry {i} ({what}): out_of_order: record says index {}",
                rec.index
            )
        };
        Err(AuditError::new(Some(i), Check::Index, message))
    }

    /// Adds the leaf of a record already checked with [`LeafLog::check_next`].
    pub fn push_leaf(&mut self, leaf: Digest) {
        self.tree.push(leaf);
    }

    /// Checks that `rec` is the next record and adds its leaf (its own JCS bytes).
    pub fn push(&mut self, rec: &LogRecord) -> Result<(), AuditError> {
        self.check_next(rec)?;
        self.tree.push(rec.leaf_hash());
        Ok(())
    }

    /// The root at a signed size (`what`: seal or checkpoint), which must be within
    /// the log; the caller compares it with the signed root.
    pub fn root_for(&self, what: &str, cp: &Checkpoint) -> Result<Digest, AuditError> {
        let size = self.tree.size();
        self.tree.root_at(cp.size).map_err(|_| {
            AuditError::new(
                Some(size),
                Check::Index,
                format!(
                    "entry {size}: missing; the {what} covers {} entries but the log has only {size}",
                    cp.size
                ),
            )
        })
    }

    /// The first entry of `range` whose leaf the inclusion proofs from `proofs` do not
    /// lead to `root`, the root of the signed tree of `size`: the entry whose bytes
    /// differ from what the signed log committed to. None if every proof asked for
    /// verifies, or when `proofs` has none to give.
    pub fn first_unproven(
        &self,
        range: std::ops::Range<u64>,
        size: u64,
        root: &Digest,
        proofs: &mut dyn InclusionProofs,
    ) -> Option<u64> {
        for i in range {
            let leaf = self.tree.leaf(i)?;
            let proof = proofs.inclusion_proof(i, size)?;
            if verify_inclusion(&leaf, i, size, &proof, root).is_err() {
                return Some(i);
            }
        }
        None
    }
}

/// A replay in progress: push records in log order ([`Audit::push`]), ask for the
/// root or State at a size, check notes against them, and [`Audit::finish`] into a
/// [`Report`].
#[derive(Clone, Debug)]
pub struct Audit {
    state: State,
    leaves: LeafLog,
    pinned: Option<Digest>,
    /// The State after the first n entries, for each size asked for.
    states_at: BTreeMap<u64, Option<State>>,
    /// (kind, author) of every record pushed, as positions in `names`, for messages
    /// (`"vote by <author>"`): eight bytes a record.
    described: Vec<(u32, u32)>,
    /// The kinds and authors `described` names, each once.
    names: Vec<String>,
    name_index: std::collections::HashMap<String, u32>,
    /// Proposals that closed during the replay, by status (the state hands them out
    /// as they close and the audit keeps only their count, so its memory does not
    /// grow with the history; [`State::take_retired`]).
    closed_by_status: BTreeMap<String, u64>,
    /// The log index of `described[0]` (non-zero for a resumed audit).
    described_from: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit::new()
    }
}

impl Audit {
    /// An audit of a whole log, from genesis.
    pub fn new() -> Audit {
        Audit::resume(State::new(), MerkleTree::new())
    }

    /// An audit that goes on from a log already held: `state` and `tree` after its
    /// first `tree.size()` entries (a witness's or fork's own ledger).
    ///
    /// # Panics
    /// If the state and the tree are not of the same size.
    pub fn resume(state: State, tree: MerkleTree) -> Audit {
        assert_eq!(state.size(), tree.size(), "state and tree of one log");
        Audit {
            described_from: tree.size(),
            state,
            leaves: LeafLog::new(tree),
            pinned: None,
            states_at: BTreeMap::new(),
            described: Vec::new(),
            names: Vec::new(),
            name_index: std::collections::HashMap::new(),
            closed_by_status: BTreeMap::new(),
        }
    }

    /// Requires entry 0 to found the mesh with this id (`govmesh verify --genesis`).
    pub fn pin_genesis(&mut self, mesh_id: Digest) {
        self.pinned = Some(mesh_id);
    }

    /// Keeps a copy of the State after the first `size` entries, when the replay gets
    /// there (for checking a note of that size, see [`Claims::sizes`]).
    pub fn keep_state_at(&mut self, size: u64) {
        self.states_at.entry(size).or_insert(None);
    }

    /// How many entries have been replayed.
    pub fn size(&self) -> u64 {
        self.leaves.size()
    }

    /// The root of the replayed log.
    pub fn root(&self) -> Digest {
        self.leaves.root()
    }

    /// The root of the first `size` replayed entries.
    pub fn root_at(&self, size: u64) -> Option<Digest> {
        self.leaves.root_at(size)
    }

    /// The State after every replayed entry. The audit takes its history as it is
    /// made ([`State::take_retired`]), so the State answers for live proposals only
    /// and holds no evidence, attestation or ack records.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The replayed Merkle tree.
    pub fn tree(&self) -> &MerkleTree {
        self.leaves.tree()
    }

    /// The State after the first `size` entries, if it was kept
    /// ([`Audit::keep_state_at`]) and the replay got there.
    pub fn kept_state(&self, size: u64) -> Option<&State> {
        self.states_at.get(&size).and_then(Option::as_ref)
    }

    /// The State after the first `size` entries, or the final one if it was not kept
    /// (a log shorter than a note, reported as missing entries once signatures are
    /// checked).
    fn state_at(&self, size: u64) -> &State {
        self.kept_state(size).unwrap_or(&self.state)
    }

    /// Applies the next record, its leaf being its own JCS bytes.
    pub fn push(&mut self, rec: &LogRecord) -> Result<(), AuditError> {
        self.push_leaf(rec, rec.leaf_hash())
    }

    /// Applies the next record as it was served (its leaf hashed from the bytes sent).
    pub fn push_served(&mut self, served: &ServedRecord) -> Result<(), AuditError> {
        self.push_leaf(&served.record, served.leaf)
    }

    /// [`Audit::push_served`] for a record whose signature [`preverify`] found good
    /// under the key its key id names; every other check runs as usual, including that
    /// this key id is the author's registered key.
    pub fn push_served_preverified(&mut self, served: &ServedRecord) -> Result<(), AuditError> {
        self.push_checked(&served.record, served.leaf, true)
    }

    /// Applies records in order (a page a witness was sent) and returns the root after
    /// them. On an error the records before the bad one stay applied.
    pub fn extend<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r LogRecord>,
    ) -> Result<Digest, AuditError> {
        for rec in records {
            self.push(rec)?;
        }
        Ok(self.root())
    }

    fn push_leaf(&mut self, rec: &LogRecord, leaf: Digest) -> Result<(), AuditError> {
        self.push_checked(rec, leaf, false)
    }

    fn push_checked(
        &mut self,
        rec: &LogRecord,
        leaf: Digest,
        preverified: bool,
    ) -> Result<(), AuditError> {
        self.leaves.check_next(rec)?;
        let i = rec.index;
        // Described from the payload only when something fails.
        let what = || describe_payload(&rec.envelope.payload);
        let applied = if preverified {
            self.state.apply_record_preverified(rec)
        } else {
            self.state.apply_record(rec)
        };
        let applied = applied.map_err(|r| {
            AuditError::new(
                Some(i),
                Check::Rejected(r.code),
                format!(
                    "entry {i} ({}): {}: {}",
                    what(),
                    code_name(&r.code),
                    r.message
                ),
            )
        })?;
        if i == 0
            && let Some(p) = self.pinned
        {
            let got = self.state.mesh_id();
            if got != Some(p) {
                return Err(AuditError::new(
                    Some(0),
                    Check::Genesis,
                    format!(
                        "entry 0 (genesis): mesh id {} is not the pinned --genesis {p}",
                        got.map(|d| d.to_hex()).unwrap_or_default()
                    ),
                ));
            }
        }
        // A recorded seal's root must be the log's at its size (the state machine holds
        // no tree, so this is where `record_seal` meets the Merkle log).
        for e in &applied.events {
            if let crate::state::Event::SealRecorded { size, root, .. } = e {
                let ours = self.leaves.root_at(*size);
                if ours != Some(*root) {
                    return Err(AuditError::new(
                        Some(i),
                        Check::Root,
                        format!(
                            "entry {i} ({}): the recorded seal's root at size {size} is {root}, \
                             the log's is {}",
                            what(),
                            ours.map(|d| d.to_hex()).unwrap_or_else(|| "absent".into())
                        ),
                    ));
                }
            }
        }
        self.leaves.push_leaf(leaf);
        if let Some(slot) = self.states_at.get_mut(&(i + 1)) {
            *slot = Some(self.state.clone());
        }
        let kind = self.name(&applied.kind);
        let author = self.name(&applied.author);
        self.described.push((kind, author));
        // History leaves the state as it is made; the audit keeps what its report
        // counts (closed proposals by status) and drops the rest.
        for p in self.state.take_retired().proposals {
            *self
                .closed_by_status
                .entry(code_name(&p.proposal.status))
                .or_insert(0) += 1;
        }
        Ok(())
    }

    /// The position of `name` in `names`, added if new.
    fn name(&mut self, name: &str) -> u32 {
        if let Some(i) = self.name_index.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.name_index.insert(name.to_owned(), i);
        i
    }

    /// `"vote by <author>"` of entry `i`, if this audit replayed it.
    fn described(&self, i: u64) -> String {
        let name = |n: u32| self.names.get(n as usize).map_or("?", String::as_str);
        i.checked_sub(self.described_from)
            .and_then(|k| self.described.get(k as usize))
            .map_or_else(
                || "?".to_owned(),
                |(kind, author)| format!("{} by {}", name(*kind), name(*author)),
            )
    }

    /// Verifies a seal against the State of the log it seals; if that fails only for
    /// want of a key or cosignature, against the whole replayed log (a key registered
    /// or rotated after the sealed size). Does not check the root.
    pub fn verify_seal(&self, text: &str) -> Result<VerifiedSeal, SealError> {
        let size = SignedNote::parse(text)
            .and_then(|n| n.checkpoint())
            .map_or(self.size(), |cp| cp.size);
        match verify_seal(text, self.state_at(size)) {
            Ok(v) => Ok(v),
            Err(
                e @ (SealError::NoHubSignature { .. }
                | SealError::BelowThreshold { .. }
                | SealError::BadRules(_)),
            ) if size < self.size() => verify_seal(text, &self.state).map_err(|_| e),
            Err(e) => Err(e),
        }
    }

    /// A signed size (`what`: seal or checkpoint) must be within the replayed log and
    /// its root the replayed root; else the entry whose bytes differ is named where
    /// `leaf_hashes` or `proofs` allow.
    pub fn check_root(
        &self,
        what: &str,
        cp: &Checkpoint,
        leaf_hashes: Option<&[Digest]>,
        proofs: Option<&mut dyn InclusionProofs>,
    ) -> Result<(), AuditError> {
        let root = self.leaves.root_for(what, cp)?;
        if root != cp.root {
            return Err(self.root_mismatch(what, cp, leaf_hashes, proofs));
        }
        Ok(())
    }

    /// Why the root does not match a signed root, naming the entry where the node's
    /// inclusion proofs or the exported leaf hashes (once they match the signed root)
    /// allow it.
    fn root_mismatch(
        &self,
        what: &str,
        cp: &Checkpoint,
        listed: Option<&[Digest]>,
        proofs: Option<&mut dyn InclusionProofs>,
    ) -> AuditError {
        let tree = self.leaves.tree();
        let base = format!(
            "Merkle root of entries 0..{} is {} but the signed {what} says {}",
            cp.size,
            tree.root_at(cp.size)
                .map(|d| d.to_hex())
                .unwrap_or_default(),
            cp.root
        );
        let at = |i: u64, message: String| AuditError::new(Some(i), Check::Root, message);
        // The node's inclusion proofs against the signed root: the first record whose
        // leaf they do not lead to is the one that differs.
        if let Some(i) =
            proofs.and_then(|p| self.leaves.first_unproven(0..cp.size, cp.size, &cp.root, p))
        {
            return at(
                i,
                format!(
                    "entry {i} ({}): record bytes differ from what the signed log committed to ({base})",
                    self.described(i)
                ),
            );
        }
        let Some(listed) = listed else {
            return AuditError::new(
                None,
                Check::Root,
                format!("{base}: some entry's bytes were changed"),
            );
        };
        let n = cp.size as usize;
        if listed.len() < n || root_of(&listed[..n]) != cp.root {
            return AuditError::new(
                None,
                Check::Root,
                format!("{base}; the file's leaf_hashes do not match the {what} either"),
            );
        }
        for (i, l) in listed[..n].iter().enumerate() {
            let i = i as u64;
            if tree.leaf(i) != Some(*l) {
                return at(
                    i,
                    format!(
                        "entry {i} ({}): record bytes differ from what the log committed to (leaf hash {}, signed log has {l})",
                        self.described(i),
                        tree.leaf(i).map(|d| d.to_hex()).unwrap_or_default()
                    ),
                );
            }
        }
        AuditError::new(None, Check::Root, base)
    }

    /// The node's own checkpoint: signed under the mesh's origin by a registered node
    /// (any role) whose signature verifies. Does not check the root.
    pub fn verify_checkpoint(
        &self,
        text: &str,
        origin: &str,
    ) -> Result<(Checkpoint, CheckpointReport), AuditError> {
        let fail = |m: String| AuditError::new(None, Check::Checkpoint, m);
        let (note, cp) = parse_note(Check::Checkpoint, "checkpoint", text)?;
        if cp.origin != origin {
            return Err(fail(format!(
                "checkpoint origin {:?} is not this mesh's {origin:?}",
                cp.origin
            )));
        }
        let state = self.state_at(cp.size);
        let mut signer = None;
        for sig in note.signatures.iter().filter(|s| s.name == origin) {
            // The registry at the checkpoint's size, then the whole log's (a rotation).
            let known = state
                .nodes()
                .into_iter()
                .chain(self.state.nodes())
                .find(|n| note_key_hash(origin, &n.public_key) == sig.key_hash);
            let Some(n) = known else { continue };
            note.verify(origin, &n.public_key).map_err(|e| {
                fail(format!(
                    "checkpoint: signature of {} {}: {e}",
                    code_name(&n.node_type),
                    n.node_id
                ))
            })?;
            signer.get_or_insert_with(|| (n.node_id.clone(), n.node_type));
        }
        let (signer, signer_type) = signer.ok_or_else(|| {
            fail(format!(
                "checkpoint is not signed under {origin:?} by any registered node"
            ))
        })?;
        let report = CheckpointReport {
            size: cp.size,
            origin: cp.origin.clone(),
            signer,
            signer_type,
        };
        Ok((cp, report))
    }

    /// Every contract's hash chain: revisions numbered 1.., each hashing to its
    /// `contract_hash` and naming the one before as its parent.
    pub fn check_chains(&self) -> Result<BTreeMap<String, ContractHead>, AuditError> {
        let state = &self.state;
        let fail = |m: String| AuditError::new(None, Check::Chain, m);
        let mut contracts = BTreeMap::new();
        for c in state.contracts() {
            let revs = state.revisions(&c.contract_id);
            let mut prev: Option<Digest> = None;
            for (k, r) in revs.iter().enumerate() {
                let id = &c.contract_id;
                if r.revision != k as u64 + 1 {
                    return Err(fail(format!(
                        "contract {id}: revision {} is listed at position {}",
                        r.revision,
                        k + 1
                    )));
                }
                let h = r
                    .compute_hash()
                    .map_err(|e| fail(format!("contract {id} revision {}: {e}", r.revision)))?;
                if h != r.contract_hash {
                    return Err(fail(format!(
                        "contract {id} revision {}: contract_hash {} but the record hashes to {h}",
                        r.revision, r.contract_hash
                    )));
                }
                if r.parent_hash != prev {
                    return Err(fail(format!(
                        "contract {id} revision {}: parent_hash {:?} is not revision {}'s hash {:?}",
                        r.revision,
                        r.parent_hash.map(|d| d.to_hex()),
                        r.revision.saturating_sub(1),
                        prev.map(|d| d.to_hex())
                    )));
                }
                prev = Some(h);
            }
            contracts.insert(
                c.contract_id.clone(),
                ContractHead {
                    revisions: revs.len() as u64,
                    head: c.contract_hash,
                },
            );
        }
        Ok(contracts)
    }

    /// A contract revision as a node serves it (`GET /v1/contracts/{id}/revisions/{n}`)
    /// must be the record clause 11.0's `contract_chain` hashes: the served JSON minus
    /// `contract_hash` hashes (RFC 8785, SHA-256) to its `contract_hash`, which is the
    /// replayed revision's. A field added beside the record (a derived view) fails here.
    pub fn check_served_revision(&self, raw: &Value) -> Result<(), AuditError> {
        let fail = |m: String| AuditError::new(None, Check::Chain, m);
        let id = raw
            .get("contract_id")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("a served contract revision has no contract_id".into()))?;
        let n = raw.get("revision").and_then(Value::as_u64).ok_or_else(|| {
            fail(format!(
                "contract {id}: a served revision has no revision number"
            ))
        })?;
        let what = format!("contract {id} revision {n} as served");
        let claimed = raw
            .get("contract_hash")
            .and_then(Value::as_str)
            .and_then(|h| Digest::from_hex(h).ok())
            .ok_or_else(|| fail(format!("{what}: no contract_hash")))?;
        let replayed = self
            .state
            .revision(id, n)
            .ok_or_else(|| fail(format!("{what}: the replayed log has no such revision")))?;
        let mut rest = raw.clone();
        if let Some(m) = rest.as_object_mut() {
            m.remove("contract_hash");
        }
        let h = crate::canonical::hash_canonical(&rest)
            .map_err(|e| fail(format!("{what}: cannot canonicalize: {e}")))?;
        if h != claimed {
            // Name the fields the record does not have (a derived view served inside).
            let record = serde_json::to_value(replayed).unwrap_or_default();
            let extra: Vec<&str> = raw
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| record.get(k.as_str()).is_none())
                .map(String::as_str)
                .collect();
            let hint = if extra.is_empty() {
                String::new()
            } else {
                format!(
                    " (fields outside the contract record: {})",
                    extra.join(", ")
                )
            };
            return Err(fail(format!(
                "{what}: hashes to {h} without contract_hash, but says contract_hash {claimed}{hint}"
            )));
        }
        if replayed.contract_hash != claimed {
            return Err(fail(format!(
                "{what}: contract_hash {claimed}, but the replayed revision's is {}",
                replayed.contract_hash
            )));
        }
        Ok(())
    }

    /// Checks the contract hash chains, the seal and the node's checkpoint, in that
    /// order. `proofs` (the serving node) only helps name a changed entry.
    pub fn finish(
        &self,
        claims: &Claims<'_>,
        mut proofs: Option<&mut dyn InclusionProofs>,
    ) -> Result<Report, AuditError> {
        let size = self.size();
        if size == 0 {
            return Err(AuditError::new(
                None,
                Check::Genesis,
                "the log is empty: no genesis entry",
            ));
        }
        let state = &self.state;
        let mesh_id = state
            .mesh_id()
            .ok_or_else(|| AuditError::new(Some(0), Check::Genesis, "entry 0 is not a genesis"))?;
        let contracts = self.check_chains()?;
        let mut proposals = self.closed_by_status.clone();
        for p in state.proposals() {
            *proposals.entry(code_name(&p.status)).or_insert(0u64) += 1;
        }

        let origin = checkpoint_origin(&mesh_id);
        // The seal, if there is one: it must verify (a tampered seal is a failure, not
        // a reason to look elsewhere) and its root be the replayed root.
        let mut seal = None;
        if let Some(text) = claims.seal {
            let (_, cp) = parse_note(Check::Seal, "seal", text)?;
            let v = self.verify_seal(text).map_err(|e| {
                AuditError::new(None, Check::Seal, format!("seal of size {}: {e}", cp.size))
            })?;
            self.check_root(
                "seal",
                &v.checkpoint,
                claims.leaf_hashes,
                proofs
                    .as_mut()
                    .map(|p| &mut **p as &mut dyn InclusionProofs),
            )?;
            seal = Some(SealReport::new(v, SealSource::Seal));
        }
        // The node's own checkpoint: a signed claim of the node; where clause 5.4 asks
        // for no cosignatures and a hub signed it, a seal too.
        let mut checkpoint = None;
        let mut not_a_seal = None;
        if let Some(text) = claims.checkpoint {
            let (cp, report) = self.verify_checkpoint(text, &origin)?;
            self.check_root(
                "checkpoint",
                &cp,
                claims.leaf_hashes,
                proofs
                    .as_mut()
                    .map(|p| &mut **p as &mut dyn InclusionProofs),
            )?;
            match self.verify_seal(text) {
                Ok(v)
                    if seal
                        .as_ref()
                        .is_none_or(|s: &SealReport| s.size < v.checkpoint.size) =>
                {
                    seal = Some(SealReport::new(v, SealSource::Checkpoint));
                }
                Ok(_) => {}
                Err(e) => not_a_seal = Some(e),
            }
            checkpoint = Some(report);
        }
        let seal = seal.ok_or_else(|| {
            let none = match claims.source {
                Source::Node => "the node serves none yet (404 no_seal)",
                Source::File => "the file holds none",
            };
            AuditError::new(
                None,
                Check::Seal,
                match not_a_seal {
                    Some(e) => format!("no seal: {none} and the checkpoint is not one: {e}"),
                    None => format!("no seal: {none} and no checkpoint was given"),
                },
            )
        })?;

        Ok(Report {
            entries: size,
            mesh_id,
            mesh_name: state.mesh_name().unwrap_or("").to_owned(),
            contracts,
            proposals,
            root: self.root(),
            seal,
            checkpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::codex_genesis;
    use crate::entry::{AckSyncOp, NodeSpec, Operation, sign_entry, sign_entry_at};
    use crate::keys::KeyPair;
    use crate::merkle::MerkleTree;
    use crate::stamp::Timestamp;

    struct Log {
        hub: KeyPair,
        records: Vec<LogRecord>,
        origin: String,
    }

    /// A mesh of one hub (no witnesses: a hub-signed checkpoint is a seal) and two
    /// trust forks; the log is the genesis and each fork's ack of revision 1.
    fn log() -> Log {
        let hub = KeyPair::from_seed([1; 32]);
        let forks = [KeyPair::from_seed([2; 32]), KeyPair::from_seed([3; 32])];
        let mut founders = vec![NodeSpec::new(&hub, NodeType::GovernanceHub)];
        founders.extend(forks.iter().map(|k| NodeSpec::new(k, NodeType::TrustFork)));
        let genesis = sign_entry(&hub, Operation::Genesis(codex_genesis("m", founders)));
        let mut records = vec![LogRecord {
            index: 0,
            timestamp: Timestamp::from_millis(1_000),
            envelope: genesis,
        }];
        let mut state = State::new();
        state.apply_record(&records[0]).unwrap();
        let codex = state.contracts()[0].clone();
        for (k, fork) in forks.iter().enumerate() {
            let ack = Operation::AckSync(AckSyncOp {
                contract_id: codex.contract_id.clone(),
                revision: 1,
                contract_hash: codex.contract_hash,
            });
            let at = Timestamp::from_millis(2_000 + k as i64);
            let rec = LogRecord {
                index: k as u64 + 1,
                timestamp: at,
                envelope: sign_entry_at(fork, ack, at),
            };
            state.apply_record(&rec).unwrap();
            records.push(rec);
        }
        Log {
            hub,
            origin: checkpoint_origin(&state.mesh_id().unwrap()),
            records,
        }
    }

    impl Log {
        fn tree(&self) -> MerkleTree {
            MerkleTree::from_leaf_hashes(self.records.iter().map(LogRecord::leaf_hash))
        }

        /// A checkpoint of the first `size` records signed by `key` under `origin`.
        fn note(&self, size: u64, key: &KeyPair) -> String {
            Checkpoint {
                origin: self.origin.clone(),
                size,
                root: self.tree().root_at(size).unwrap(),
                extensions: vec![],
            }
            .sign(&self.origin, key)
            .to_text()
        }

        fn audit(&self, records: &[LogRecord]) -> Audit {
            let mut a = Audit::new();
            for r in records {
                a.push(r).unwrap();
            }
            a
        }
    }

    fn file<'a>(checkpoint: Option<&'a str>, seal: Option<&'a str>) -> Claims<'a> {
        Claims {
            seal,
            checkpoint,
            leaf_hashes: None,
            source: Source::File,
        }
    }

    /// The error names the check and the entry, and says so in its message.
    fn check<T: std::fmt::Debug>(
        got: Result<T, AuditError>,
        check: Check,
        index: Option<u64>,
        says: &str,
    ) {
        let e = got.expect_err("the check should fail");
        assert_eq!((e.check, e.index), (check, index), "{e}");
        assert!(e.message.contains(says), "{e:?} should say {says:?}");
        if let Some(i) = index {
            assert!(e.message.starts_with(&format!("entry {i}")), "{e}");
        }
        assert_eq!(e.to_string(), e.message);
    }

    #[test]
    fn a_whole_log_verifies_against_the_hub_checkpoint() {
        let l = log();
        let cp = l.note(3, &l.hub);
        let a = l.audit(&l.records);
        assert_eq!(a.root(), l.tree().root());
        let r = a.finish(&file(Some(&cp), None), None).unwrap();
        assert_eq!(r.entries, 3);
        assert_eq!(r.mesh_name, "m");
        assert_eq!(r.seal.source, SealSource::Checkpoint);
        assert_eq!((r.seal.size, r.seal.threshold, r.unsealed()), (3, 0, 0));
        assert_eq!(r.seal.hub, l.hub.node_id());
        let c = r.checkpoint.unwrap();
        assert_eq!(
            (c.signer.as_str(), c.signer_type),
            (l.hub.node_id(), NodeType::GovernanceHub)
        );
        assert_eq!(r.contracts.len(), 1);
        assert_eq!(r.contracts.values().next().unwrap().revisions, 1);
        // A seal of an earlier size: the rest is verified but unsealed.
        let seal = l.note(2, &l.hub);
        let mut a = Audit::new();
        a.keep_state_at(2);
        for rec in &l.records {
            a.push(rec).unwrap();
        }
        assert_eq!(a.kept_state(2).unwrap().size(), 2);
        let r = a.finish(&file(None, Some(&seal)), None).unwrap();
        assert_eq!(
            (r.seal.size, r.seal.source, r.unsealed()),
            (2, SealSource::Seal, 1)
        );
    }

    #[test]
    fn the_audit_drops_history_as_it_is_made_and_counts_closed_proposals() {
        use crate::entry::{ProposeOp, WithdrawOp};
        use crate::model::Changes;
        let mut l = log();
        let mut state = State::new();
        for r in &l.records {
            state.apply_record(r).unwrap();
        }
        let text = state
            .contract("codex")
            .unwrap()
            .clause("5.4")
            .unwrap()
            .text
            .clone();
        let base = state.clause_hash("codex", "5.4").unwrap();
        let id = "6f1c2a3b-1d2e-4f60-8a9b-0c1d2e3f4a5b";
        let ops = [
            Operation::Propose(ProposeOp::amend(
                id,
                "codex",
                "5.4",
                base,
                "a change",
                Changes {
                    current_text: text.clone(),
                    proposed_text: format!("{text} (changed)"),
                    diff: Vec::new(),
                },
            )),
            Operation::Withdraw(WithdrawOp {
                proposal_id: id.into(),
                reason: None,
            }),
        ];
        for op in ops {
            let at = Timestamp::from_millis(3_000 + l.records.len() as i64);
            let rec = LogRecord {
                index: l.records.len() as u64,
                timestamp: at,
                envelope: sign_entry_at(&l.hub, op, at),
            };
            l.records.push(rec);
        }
        let a = l.audit(&l.records);
        // Nothing waits in the outbox: the acks and the withdrawn proposal are gone.
        assert_eq!(a.state().retired_count(), 0);
        assert!(a.state().sync_acks().is_empty());
        assert!(a.state().proposals().is_empty());
        let cp = l.note(5, &l.hub);
        let r = a.finish(&file(Some(&cp), None), None).unwrap();
        assert_eq!(r.proposals, BTreeMap::from([("withdrawn".to_owned(), 1)]));
        // A failure still names the entry's kind and author.
        assert_eq!(a.described(4), format!("withdraw by {}", l.hub.node_id()));
    }

    #[test]
    fn a_record_that_does_not_parse_names_its_index() {
        check(
            ServedRecord::from_bytes(4, b"{\"index\": 4,"),
            Check::Parse,
            Some(4),
            "malformed JSON",
        );
        check(
            ServedRecord::from_bytes(4, br#"{"index": 4, "index": 5}"#),
            Check::Parse,
            Some(4),
            "duplicate",
        );
        let l = log();
        let mut raw = serde_json::to_value(&l.records[1]).unwrap();
        raw["extra"] = Value::Bool(true);
        check(
            ServedRecord::from_json(1, &raw),
            Check::Parse,
            Some(1),
            "(ack_sync by ",
        );
        check(
            ServedRecord::from_json(1, &raw),
            Check::Parse,
            Some(1),
            "malformed record",
        );
    }

    #[test]
    fn a_served_record_hashes_as_sent() {
        let l = log();
        let mut raw = serde_json::to_value(&l.records[1]).unwrap();
        let served = ServedRecord::from_json(1, &raw).unwrap();
        assert_eq!(served.leaf, l.records[1].leaf_hash());
        // The same instant with an offset: the same record, but not the bytes the log
        // committed to.
        let t = l.records[1].timestamp;
        raw["timestamp"] = Value::String(
            time::OffsetDateTime::from_unix_timestamp_nanos(t.0 as i128 * 1_000_000)
                .unwrap()
                .to_offset(time::macros::offset!(+1))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        );
        let served = ServedRecord::from_json(1, &raw).unwrap();
        assert_eq!(served.record, l.records[1]);
        assert_ne!(served.leaf, l.records[1].leaf_hash());
    }

    #[test]
    fn a_missing_or_repeated_record_names_its_index() {
        let l = log();
        let mut a = l.audit(&l.records[..1]);
        check(
            a.push(&l.records[2]),
            Check::Index,
            Some(1),
            "missing; the record in its place has index 2 (ack_sync by ",
        );
        let mut a = l.audit(&l.records[..2]);
        check(
            a.push(&l.records[1]),
            Check::Index,
            Some(2),
            "out_of_order: record says index 1",
        );
        assert_eq!(a.size(), 2, "a refused record is not replayed");
    }

    #[test]
    fn a_rejected_record_names_its_index_and_the_code() {
        let l = log();
        let mut forged = l.records[1].clone();
        forged.envelope.signatures[0].sig = l.records[2].envelope.signatures[0].sig.clone();
        let mut a = l.audit(&l.records[..1]);
        check(
            a.push(&forged),
            Check::Rejected(RejectCode::BadSignature),
            Some(1),
            "bad_signature",
        );
        // Time runs forwards.
        let mut early = l.records[1].clone();
        early.timestamp = Timestamp::from_millis(999);
        check(
            a.push(&early),
            Check::Rejected(RejectCode::OutOfOrder),
            Some(1),
            "before the previous entry's",
        );
        // A genesis that is not the first entry.
        let mut second = l.records[0].clone();
        second.index = 1;
        check(
            a.push(&second),
            Check::Rejected(RejectCode::Genesis),
            Some(1),
            "(genesis by ",
        );
        a.push(&l.records[1]).unwrap();
    }

    #[test]
    fn the_genesis_must_be_the_pinned_one_and_there_must_be_one() {
        let l = log();
        let mut a = Audit::new();
        a.pin_genesis(Digest([9; 32]));
        check(
            a.push(&l.records[0]),
            Check::Genesis,
            Some(0),
            "is not the pinned --genesis",
        );
        check(
            Audit::new().finish(&file(None, None), None),
            Check::Genesis,
            None,
            "the log is empty",
        );
        let mut a = Audit::new();
        a.pin_genesis(Digest::sha256(b"not this one"));
        assert!(a.push(&l.records[0]).is_err());
        let mut a = Audit::new();
        a.pin_genesis(l.audit(&l.records[..1]).state().mesh_id().unwrap());
        a.push(&l.records[0]).unwrap();
    }

    #[test]
    fn a_changed_record_fails_the_root_and_is_named_where_possible() {
        let l = log();
        let cp = l.note(3, &l.hub);
        let mut a = Audit::new();
        for (i, rec) in l.records.iter().enumerate() {
            let leaf = if i == 1 {
                Digest([1; 32])
            } else {
                rec.leaf_hash()
            };
            a.push_served(&ServedRecord {
                record: rec.clone(),
                leaf,
            })
            .unwrap();
        }
        check(
            a.finish(&file(Some(&cp), None), None),
            Check::Root,
            None,
            "some entry's bytes were changed",
        );
        // The export's leaf hashes (matching the signed root) name it.
        let leaves: Vec<Digest> = l.records.iter().map(LogRecord::leaf_hash).collect();
        let claims = Claims {
            leaf_hashes: Some(&leaves),
            ..file(Some(&cp), None)
        };
        check(
            a.finish(&claims, None),
            Check::Root,
            Some(1),
            "record bytes differ from what the log committed to",
        );
        // Leaf hashes that do not match the signed root name nothing.
        let claims = Claims {
            leaf_hashes: Some(&leaves[..2]),
            ..file(Some(&cp), None)
        };
        check(
            a.finish(&claims, None),
            Check::Root,
            None,
            "leaf_hashes do not match the checkpoint either",
        );
        // So do the node's inclusion proofs.
        let tree = l.tree();
        let mut asked = 0;
        let mut proofs = |i: u64, size: u64| {
            asked += 1;
            tree.inclusion_proof(i, size).ok()
        };
        check(
            a.finish(&file(Some(&cp), None), Some(&mut proofs)),
            Check::Root,
            Some(1),
            "entry 1 (ack_sync by ",
        );
        assert_eq!(asked, 2);
    }

    #[test]
    fn a_note_beyond_the_log_names_the_first_missing_entry() {
        let l = log();
        let cp = l.note(3, &l.hub);
        let a = l.audit(&l.records[..2]);
        check(
            a.finish(&file(Some(&cp), None), None),
            Check::Index,
            Some(2),
            "the checkpoint covers 3 entries but the log has only 2",
        );
    }

    #[test]
    fn a_bad_checkpoint_or_seal_is_named() {
        let l = log();
        let a = l.audit(&l.records);
        let stranger = KeyPair::from_seed([9; 32]);
        let cp = l.note(3, &stranger);
        check(
            a.finish(&file(Some(&cp), None), None),
            Check::Checkpoint,
            None,
            "not signed under",
        );
        let other = Checkpoint {
            origin: "govmesh/0000000000000000".into(),
            size: 3,
            root: l.tree().root(),
            extensions: vec![],
        }
        .sign("govmesh/0000000000000000", &l.hub)
        .to_text();
        check(
            a.finish(&file(Some(&other), None), None),
            Check::Checkpoint,
            None,
            "is not this mesh's",
        );
        check(
            a.finish(&file(Some("nonsense"), None), None),
            Check::Checkpoint,
            None,
            "checkpoint: ",
        );
        check(
            a.finish(&file(None, Some("nonsense")), None),
            Check::Seal,
            None,
            "seal: ",
        );
        // A seal signed by a node that is no hub does not verify.
        let fork = KeyPair::from_seed([2; 32]);
        check(
            a.finish(&file(None, Some(&l.note(3, &fork))), None),
            Check::Seal,
            None,
            "seal of size 3: ",
        );
        check(
            a.finish(&file(None, None), None),
            Check::Seal,
            None,
            "no seal: the file holds none and no checkpoint was given",
        );
        // A checkpoint by a registered node that is no hub is a claim, not a seal.
        let note = l.note(3, &fork);
        let claims = Claims {
            source: Source::Node,
            ..file(Some(&note), None)
        };
        check(
            a.finish(&claims, None),
            Check::Seal,
            None,
            "no seal: the node serves none yet (404 no_seal) and the checkpoint is not one: ",
        );
    }

    /// What a witness does with a page of new records: go on from its own state and
    /// tree, and compare the root with the checkpoint it is asked to cosign.
    #[test]
    fn a_resumed_audit_extends_a_held_log() {
        let l = log();
        let held = l.audit(&l.records[..1]);
        let mut a = Audit::resume(held.state().clone(), held.tree().clone());
        assert_eq!(a.extend(&l.records[1..]).unwrap(), l.tree().root());
        let mut a = Audit::resume(held.state().clone(), held.tree().clone());
        let mut page = l.records[1..].to_vec();
        // Entry 2 now carries entry 1's payload (another author) under its own signature.
        page[1].envelope.payload = page[0].envelope.payload.clone();
        check(
            a.extend(&page),
            Check::Rejected(RejectCode::UnknownSigner),
            Some(2),
            "entry 2 (ack_sync by ",
        );
        assert_eq!(
            a.size(),
            2,
            "the good records before the bad one are applied"
        );
        // A root mismatch beyond the resumed size names the entry it can.
        let cp = l.note(3, &l.hub);
        let mut a = Audit::resume(held.state().clone(), held.tree().clone());
        a.push_served(&ServedRecord {
            record: l.records[1].clone(),
            leaf: Digest([0; 32]),
        })
        .unwrap();
        a.push(&l.records[2]).unwrap();
        let tree = l.tree();
        let mut proofs = |i: u64, size: u64| tree.inclusion_proof(i, size).ok();
        let e = a
            .check_root(
                "checkpoint",
                &SignedNote::parse(&cp).unwrap().checkpoint().unwrap(),
                None,
                Some(&mut proofs),
            )
            .unwrap_err();
        assert_eq!((e.check, e.index), (Check::Root, Some(1)));
    }

    #[test]
    fn a_leaf_log_checks_order_and_names_a_changed_leaf_without_a_state() {
        let l = log();
        // Goes on from a held tree of one entry, as a replicating node does.
        let held = MerkleTree::from_leaf_hashes([l.records[0].leaf_hash()]);
        let mut leaves = LeafLog::new(held.clone());
        check(
            leaves.push(&l.records[2]),
            Check::Index,
            Some(1),
            "entry 1: missing; the record in its place has index 2 (ack_sync by ",
        );
        check(
            leaves.push(&l.records[0]),
            Check::Index,
            Some(1),
            "out_of_order: record says index 0",
        );
        assert_eq!(leaves.size(), 1, "a refused record adds no leaf");
        for r in &l.records[1..] {
            leaves.push(r).unwrap();
        }
        assert_eq!(leaves.root(), l.tree().root());
        let cp = SignedNote::parse(&l.note(3, &l.hub))
            .unwrap()
            .checkpoint()
            .unwrap();
        assert_eq!(leaves.root_for("seal", &cp).unwrap(), cp.root);
        let signed = l.tree();
        let mut proofs = |i: u64, size: u64| signed.inclusion_proof(i, size).ok();
        assert_eq!(leaves.first_unproven(0..3, 3, &cp.root, &mut proofs), None);

        // Entry 2 served with other bytes (a later timestamp): the proofs name it.
        let mut changed = l.records[2].clone();
        changed.timestamp = Timestamp::from_millis(9_000);
        let mut leaves = LeafLog::new(held);
        leaves.push(&l.records[1]).unwrap();
        leaves.push(&changed).unwrap();
        assert_ne!(leaves.root(), cp.root);
        assert_eq!(
            leaves.first_unproven(1..3, 3, &cp.root, &mut proofs),
            Some(2)
        );
        // Without proofs to give, nothing is named.
        let mut none = |_: u64, _: u64| None;
        assert_eq!(leaves.first_unproven(1..3, 3, &cp.root, &mut none), None);
        // A size beyond the log is the first missing entry.
        let beyond = Checkpoint { size: 4, ..cp };
        check(
            leaves.root_for("seal", &beyond),
            Check::Index,
            Some(3),
            "the seal covers 4 entries but the log has only 3",
        );
    }

    #[test]
    fn a_served_revision_must_be_the_record_it_hashes() {
        let l = log();
        let a = l.audit(&l.records);
        let rev = a.state().revision("codex", 1).unwrap().clone();
        let served = serde_json::to_value(&rev).unwrap();
        a.check_served_revision(&served).unwrap();

        // A derived view served inside the record is outside its hash.
        let mut padded = served.clone();
        padded["clause_hashes"] = serde_json::json!({"5.4": "00"});
        check(
            a.check_served_revision(&padded),
            Check::Chain,
            None,
            "fields outside the contract record: clause_hashes",
        );
        // A changed field with its hash recomputed is not the replayed revision.
        let mut relabelled = served.clone();
        relabelled["label"] = "Another Codex".into();
        relabelled.as_object_mut().unwrap().remove("contract_hash");
        let h = crate::canonical::hash_canonical(&relabelled).unwrap();
        relabelled["contract_hash"] = serde_json::json!(h);
        check(
            a.check_served_revision(&relabelled),
            Check::Chain,
            None,
            "but the replayed revision's is",
        );
        let mut later = served;
        later["revision"] = 2.into();
        check(
            a.check_served_revision(&later),
            Check::Chain,
            None,
            "the replayed log has no such revision",
        );
    }
}
