//! `govmesh verify` and `govmesh log export`: replays a whole governance log from
//! genesis through a fresh core `State` (every signature, schema, tether check and
//! tally), recomputes each contract's hash chain, rebuilds the Merkle tree from the
//! records' leaf bytes and checks it against the mesh's trust anchor, the **seal**
//! (clause 5.4: a checkpoint signed by a governance hub plus the `seal_threshold` of
//! witness cosignatures, checked with `govmesh_core::seal::verify_seal` against the
//! State replayed from the log itself, so hub keys, witness keys and the threshold all
//! come from the log). Works against any node of a mesh (hub, witness, trust fork)
//! and offline on an export file.
//!
//! Where clause 5.4 asks for no cosignatures (no witnesses), a hub-signed checkpoint
//! is a seal too. The node's own signed checkpoint (`/v1/log/checkpoint`, signed by the
//! serving node's registered key, whatever its role) is a claim of that node: its
//! signature and root are checked, but only a seal is trusted. Entries beyond the seal
//! are verified by replay and reported as not yet sealed, not as a failure. With a
//! node, also compares the node's status root and contract heads to the replay.
//!
//! An export file is `{"checkpoint": "<signed note>", "seal": "<seal>", "entries":
//! [LogRecord...], "leaf_hashes": ["hex"...]}`; `seal` is present when the node had
//! one; `leaf_hashes` is optional and only used to name the entry whose bytes were
//! changed when the root does not match a signed root (the list itself is trusted only
//! once its root matches that signed root).

use crate::client::NodeClient;
use crate::commands::print_json;
use crate::fail::Failure;
use anyhow::{Context, Result};
use govmesh_core::Digest;
use govmesh_core::canonical::{canonical_bytes, parse_strict};
use govmesh_core::checkpoint::{Checkpoint, SignedNote, note_key_hash};
use govmesh_core::entry::LogRecord;
use govmesh_core::merkle::{MerkleTree, leaf_hash, root_of, verify_inclusion};
use govmesh_core::seal::{SealError, VerifiedSeal, checkpoint_origin, verify_seal};
use govmesh_core::state::State;
use serde::Deserialize as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The rest of what `verify` reads besides the records: the seal, the node's signed
/// checkpoint and, when verifying a node, its status and the node itself.
pub struct Claims {
    /// The seal (`/v1/log/seal`, or the export file's `seal`); none if the node had
    /// none yet (404 `no_seal`).
    pub seal: Option<String>,
    /// The node's own signed checkpoint (`/v1/log/checkpoint`).
    pub checkpoint: Option<String>,
    /// From an export file: the leaf hash of every record.
    pub leaf_hashes: Option<Vec<Digest>>,
    /// The node's `/v1/status`, fetched before the records, when verifying a node.
    pub status: Option<Value>,
    /// The node, asked for inclusion proofs only to name the changed entry when the
    /// root does not match a signed root.
    pub node: Option<NodeClient>,
}

impl Claims {
    /// The tree sizes the claims are about (the replay keeps the State at each, since
    /// a seal is checked against the registry and rules of the log it seals).
    fn sizes(&self) -> Result<Vec<u64>> {
        let mut sizes = Vec::new();
        for (what, text) in [("seal", &self.seal), ("checkpoint", &self.checkpoint)] {
            if let Some(t) = text {
                sizes.push(parse_note(what, t)?.1.size);
            }
        }
        Ok(sizes)
    }
}

/// The seal a verification rests on.
#[derive(Debug)]
pub struct SealReport {
    pub size: u64,
    pub root: Digest,
    pub origin: String,
    pub hub: String,
    /// The witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// Clause 5.4 `seal_threshold` it was checked against.
    pub threshold: usize,
    /// `"seal"` (`/v1/log/seal`) or `"checkpoint"` (a hub-signed checkpoint, which is a
    /// seal where the threshold is 0).
    pub source: &'static str,
}

/// The node's own signed checkpoint, as checked.
#[derive(Debug)]
pub struct CheckpointReport {
    pub size: u64,
    pub origin: String,
    pub signer: String,
    pub signer_type: String,
}

/// What a successful verification found.
#[derive(Debug)]
pub struct Report {
    pub entries: u64,
    pub mesh_id: Digest,
    pub mesh_name: String,
    /// Contract id -> (revisions, head hash).
    pub contracts: BTreeMap<String, (u64, Digest)>,
    pub proposals: BTreeMap<String, u64>,
    pub root: Digest,
    pub seal: SealReport,
    pub checkpoint: Option<CheckpointReport>,
    pub status_checked: bool,
}

impl Report {
    /// Entries verified by replay but not covered by the seal.
    pub fn unsealed(&self) -> u64 {
        self.entries - self.seal.size
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ok": true,
            "entries": self.entries,
            "mesh_id": self.mesh_id,
            "mesh_name": self.mesh_name,
            "contracts": self.contracts.iter().map(|(id, (revs, head))| (id.clone(), json!({"revisions": revs, "head": head}))).collect::<serde_json::Map<_, _>>(),
            "proposals": self.proposals,
            "root": self.root,
            "seal": {
                "size": self.seal.size,
                "root": self.seal.root,
                "origin": self.seal.origin,
                "signed_by": self.seal.hub,
                "cosigned_by": self.seal.witnesses,
                "threshold": self.seal.threshold,
                "source": self.seal.source,
            },
            "unsealed_entries": self.unsealed(),
            "checkpoint": self.checkpoint.as_ref().map(|c| json!({"size": c.size, "origin": c.origin, "signed_by": c.signer, "signer_type": c.signer_type})),
            "node_status_matches": if self.status_checked { Some(true) } else { None },
        })
    }

    pub fn print_human(&self) {
        outln!(
            "verified {} entries of mesh {} ({})",
            self.entries,
            self.mesh_name,
            self.mesh_id
        );
        for (id, (revs, head)) in &self.contracts {
            outln!("contract  {id}: {revs} revision(s), hash chain intact, head {head}");
        }
        let props: Vec<String> = self
            .proposals
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        outln!(
            "proposals {}",
            if props.is_empty() {
                "none".into()
            } else {
                props.join(", ")
            }
        );
        outln!("root      {} at size {}", self.root, self.entries);
        let s = &self.seal;
        let cosigned = if s.witnesses.is_empty() {
            "no witness cosignatures".to_owned()
        } else {
            format!("cosigned by witness(es) {}", s.witnesses.join(", "))
        };
        let from = if s.source == "checkpoint" {
            ", the hub's checkpoint"
        } else {
            ""
        };
        outln!(
            "seal      size {} ({}) signed by governance hub {}, {cosigned} (clause 5.4 seal_threshold {}{from})",
            s.size,
            s.origin,
            s.hub,
            s.threshold
        );
        if self.unsealed() > 0 {
            outln!(
                "          {} newer entries verified by replay but not yet covered by a seal",
                self.unsealed()
            );
        }
        if let Some(c) = &self.checkpoint {
            outln!(
                "checkpoint size {} signed by {} {} (the node's own claim), root matches the replay",
                c.size,
                c.signer_type,
                c.signer
            );
        }
        if self.status_checked {
            outln!("node      status root and contract heads match the replay");
        }
    }
}

fn fault(msg: impl Into<String>) -> anyhow::Error {
    Failure::Verify(msg.into()).into()
}

/// Parses a signed checkpoint note (`what` names it in messages).
fn parse_note(what: &str, text: &str) -> Result<(SignedNote, Checkpoint)> {
    let note = SignedNote::parse(text).map_err(|e| fault(format!("{what}: {e}")))?;
    let cp = note
        .checkpoint()
        .map_err(|e| fault(format!("{what}: {e}")))?;
    Ok((note, cp))
}
/// `"vote by <author>"` for a record whose payload can be read.
fn describe(raw: &Value) -> String {
    let payload = raw
        .pointer("/envelope/payload")
        .and_then(Value::as_str)
        .and_then(|p| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(p).ok()
        })
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

fn code_name<T: serde::Serialize>(code: &T) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "rejected".into())
}

type Heads = BTreeMap<String, (u64, Digest)>;

fn heads(state: &State) -> Heads {
    state
        .contracts()
        .into_iter()
        .map(|c| (c.contract_id.clone(), (c.revision, c.contract_hash)))
        .collect()
}

/// A replay in progress: records are pushed one at a time (so a long log is never
/// held in memory as JSON), then [`Replay::finish`] checks chains and claims.
pub struct Replay {
    state: State,
    tree: MerkleTree,
    pinned: Option<Digest>,
    status_size: Option<u64>,
    heads_at_status: Option<Heads>,
    /// The State after the first n entries, for each size a claim is about.
    states_at: BTreeMap<u64, Option<State>>,
    /// `"vote by <author>"` of every record, for messages.
    described: Vec<String>,
}

impl Replay {
    /// A replay that keeps the State at each of `sizes` (the sizes of the seal and
    /// checkpoint it will be asked to check).
    pub fn new(genesis: Option<&str>, status: Option<&Value>, sizes: &[u64]) -> Result<Replay> {
        let pinned = genesis
            .map(|g| Digest::from_hex(g).map_err(|e| anyhow::anyhow!("--genesis: {e}")))
            .transpose()?;
        let status_size = match status {
            Some(st) => Some(
                st.get("log_size")
                    .and_then(Value::as_u64)
                    .context("the node's /v1/status has no log_size")?,
            ),
            None => None,
        };
        Ok(Replay {
            state: State::new(),
            tree: MerkleTree::new(),
            pinned,
            status_size,
            heads_at_status: None,
            states_at: sizes.iter().map(|&s| (s, None)).collect(),
            described: Vec::new(),
        })
    }

    /// Applies the next record, exactly as the log serves it.
    pub fn push(&mut self, raw: &Value) -> Result<()> {
        let (state, tree) = (&mut self.state, &mut self.tree);
        let i = tree.size();
        // Described from the payload only when something fails.
        let what = || describe(raw);
        let rec = LogRecord::deserialize(raw)
            .map_err(|e| fault(format!("entry {i} ({}): malformed record: {e}", what())))?;
        if rec.index != i {
            return Err(fault(if rec.index > i {
                format!(
                    "entry {i}: missing; the record in its place has index {} ({})",
                    rec.index,
                    what()
                )
            } else {
                format!(
                    "entry {i} ({}): out_of_order: record says index {}",
                    what(),
                    rec.index
                )
            }));
        }
        let applied = state.apply_record(&rec).map_err(|r| {
            fault(format!(
                "entry {i} ({}): {}: {}",
                what(),
                code_name(&r.code),
                r.message
            ))
        })?;
        if i == 0
            && let Some(p) = self.pinned
        {
            let got = state.mesh_id();
            if got != Some(p) {
                return Err(fault(format!(
                    "entry 0 (genesis): mesh id {} is not the pinned --genesis {p}",
                    got.map(|d| d.to_hex()).unwrap_or_default()
                )));
            }
        }
        // The leaf is the record's JCS bytes exactly as served, not a re-serialization.
        let bytes = canonical_bytes(raw)
            .map_err(|e| fault(format!("entry {i} ({}): cannot canonicalize: {e}", what())))?;
        tree.push(leaf_hash(&bytes));
        if Some(i + 1) == self.status_size {
            self.heads_at_status = Some(heads(state));
        }
        if let Some(slot) = self.states_at.get_mut(&(i + 1)) {
            *slot = Some(state.clone());
        }
        self.described
            .push(format!("{} by {}", applied.kind, applied.author));
        Ok(())
    }

    /// The State after the first `size` entries (the final one if the log is shorter,
    /// which is reported as missing entries after the signatures are checked).
    fn state_at(&self, size: u64) -> &State {
        match self.states_at.get(&size) {
            Some(Some(s)) => s,
            _ => &self.state,
        }
    }

    /// Verifies a seal against the State of the log it seals; if that fails only for
    /// want of a key or cosignature, against the whole replayed log (a key registered
    /// or rotated after the sealed size).
    fn check_seal(&self, text: &str, size: u64) -> Result<VerifiedSeal, SealError> {
        match verify_seal(text, self.state_at(size)) {
            Ok(v) => Ok(v),
            Err(
                e @ (SealError::NoHubSignature { .. }
                | SealError::BelowThreshold { .. }
                | SealError::BadRules(_)),
            ) if size < self.tree.size() => verify_seal(text, &self.state).map_err(|_| e),
            Err(e) => Err(e),
        }
    }

    /// A signed size must be within the replayed log and its root the replayed root.
    fn check_root(&self, claims: &Claims, what: &str, cp: &Checkpoint) -> Result<()> {
        let size = self.tree.size();
        if cp.size > size {
            return Err(fault(format!(
                "entry {size}: missing; the {what} covers {} entries but the log has only {size}",
                cp.size
            )));
        }
        let root = self.tree.root_at(cp.size).expect("size checked");
        if root != cp.root {
            return Err(fault(root_mismatch(
                claims,
                what,
                &self.described,
                &self.tree,
                cp,
            )));
        }
        Ok(())
    }

    /// The node's own checkpoint: signed under the mesh's origin by a registered node
    /// (any role) whose signature verifies.
    fn check_checkpoint(&self, text: &str, origin: &str) -> Result<(Checkpoint, CheckpointReport)> {
        let (note, cp) = parse_note("checkpoint", text)?;
        if cp.origin != origin {
            return Err(fault(format!(
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
                fault(format!(
                    "checkpoint: signature of {} {}: {e}",
                    code_name(&n.node_type),
                    n.node_id
                ))
            })?;
            signer.get_or_insert_with(|| (n.node_id.clone(), code_name(&n.node_type)));
        }
        let (signer, signer_type) = signer.ok_or_else(|| {
            fault(format!(
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

    /// Checks the contract hash chains, the seal, the checkpoint and the node's claims.
    pub fn finish(self, claims: &Claims) -> Result<Report> {
        let size = self.tree.size();
        if size == 0 {
            return Err(fault("the log is empty: no genesis entry"));
        }
        let state = &self.state;
        let mesh_id = state
            .mesh_id()
            .ok_or_else(|| fault("entry 0 is not a genesis"))?;

        // Every contract's hash chain.
        let mut contracts = BTreeMap::new();
        for c in state.contracts() {
            let revs = state.revisions(&c.contract_id);
            let mut prev: Option<Digest> = None;
            for (k, r) in revs.iter().enumerate() {
                let id = &c.contract_id;
                if r.revision != k as u64 + 1 {
                    return Err(fault(format!(
                        "contract {id}: revision {} is listed at position {}",
                        r.revision,
                        k + 1
                    )));
                }
                let h = r
                    .compute_hash()
                    .map_err(|e| fault(format!("contract {id} revision {}: {e}", r.revision)))?;
                if h != r.contract_hash {
                    return Err(fault(format!(
                        "contract {id} revision {}: contract_hash {} but the record hashes to {h}",
                        r.revision, r.contract_hash
                    )));
                }
                if r.parent_hash != prev {
                    return Err(fault(format!(
                        "contract {id} revision {}: parent_hash {:?} is not revision {}'s hash {:?}",
                        r.revision,
                        r.parent_hash.map(|d| d.to_hex()),
                        r.revision.saturating_sub(1),
                        prev.map(|d| d.to_hex())
                    )));
                }
                prev = Some(h);
            }
            contracts.insert(c.contract_id.clone(), (revs.len() as u64, c.contract_hash));
        }
        let mut proposals = BTreeMap::new();
        for p in state.proposals() {
            *proposals.entry(code_name(&p.status)).or_insert(0u64) += 1;
        }

        let origin = checkpoint_origin(&mesh_id);
        // The seal, if there is one: it must verify (a tampered seal is a failure, not
        // a reason to look elsewhere) and its root be the replayed root.
        let mut seal = None;
        if let Some(text) = &claims.seal {
            let (_, cp) = parse_note("seal", text)?;
            let v = self
                .check_seal(text, cp.size)
                .map_err(|e| fault(format!("seal of size {}: {e}", cp.size)))?;
            self.check_root(claims, "seal", &v.checkpoint)?;
            seal = Some(seal_report(v, "seal"));
        }
        // The node's own checkpoint: a signed claim of the node; where clause 5.4 asks
        // for no cosignatures and a hub signed it, a seal too.
        let mut checkpoint = None;
        let mut not_a_seal = None;
        if let Some(text) = &claims.checkpoint {
            let (cp, report) = self.check_checkpoint(text, &origin)?;
            self.check_root(claims, "checkpoint", &cp)?;
            match self.check_seal(text, cp.size) {
                Ok(v) if seal.as_ref().is_none_or(|s| s.size < v.checkpoint.size) => {
                    seal = Some(seal_report(v, "checkpoint"));
                }
                Ok(_) => {}
                Err(e) => not_a_seal = Some(e),
            }
            checkpoint = Some(report);
        }
        let seal = seal.ok_or_else(|| {
            let none = if claims.node.is_some() {
                "the node serves none yet (404 no_seal)"
            } else {
                "the file holds none"
            };
            fault(match not_a_seal {
                Some(e) => format!("no seal: {none} and the checkpoint is not one: {e}"),
                None => format!("no seal: {none} and no checkpoint was given"),
            })
        })?;

        // The node's own claims.
        if let (Some(st), Some(n)) = (&claims.status, self.status_size) {
            if n > size {
                return Err(fault(format!(
                    "node status says {n} entries but it served only {size}"
                )));
            }
            let claimed = st
                .get("root")
                .and_then(Value::as_str)
                .context("the node's /v1/status has no root")?;
            let ours = self.tree.root_at(n).expect("size checked");
            if claimed != ours.to_hex() {
                return Err(fault(format!(
                    "node status root {claimed} at size {n} is not the replayed root {ours}"
                )));
            }
            let ours = self.heads_at_status.clone().unwrap_or_default();
            let theirs = st
                .get("contract_heads")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (id, (rev, hash)) in &ours {
                let t = theirs.get(id);
                let trev = t.and_then(|t| t.get("revision")).and_then(Value::as_u64);
                let thash = t
                    .and_then(|t| t.get("contract_hash"))
                    .and_then(Value::as_str);
                if trev != Some(*rev) || thash != Some(hash.to_hex().as_str()) {
                    return Err(fault(format!(
                        "node status head of contract {id} is revision {trev:?} {thash:?}; the replay gives revision {rev} {hash}"
                    )));
                }
            }
            if let Some(extra) = theirs.keys().find(|k| !ours.contains_key(*k)) {
                return Err(fault(format!(
                    "node status names contract {extra}, which the replay does not have"
                )));
            }
        }

        Ok(Report {
            entries: size,
            mesh_id,
            mesh_name: state.mesh_name().unwrap_or("").to_owned(),
            contracts,
            proposals,
            root: self.tree.root(),
            seal,
            checkpoint,
            status_checked: claims.status.is_some(),
        })
    }
}

fn seal_report(v: VerifiedSeal, source: &'static str) -> SealReport {
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

/// Why the root does not match a signed root (`what`: seal or checkpoint), naming the
/// entry where the node's inclusion proofs or the exported leaf hashes (once they
/// match the signed root) allow it.
fn root_mismatch(
    src: &Claims,
    what: &str,
    described: &[String],
    tree: &MerkleTree,
    cp: &Checkpoint,
) -> String {
    let base = format!(
        "Merkle root of entries 0..{} is {} but the signed {what} says {}",
        cp.size,
        tree.root_at(cp.size)
            .map(|d| d.to_hex())
            .unwrap_or_default(),
        cp.root
    );
    if let Some(node) = &src.node {
        // The node's inclusion proofs against the signed root: the first record whose
        // leaf they do not lead to is the one that differs.
        for i in 0..cp.size {
            let Some(leaf) = tree.leaf(i) else { break };
            let proof = node
                .get(&format!(
                    "/v1/log/proof/inclusion?index={i}&size={}",
                    cp.size
                ))
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<Digest>>(v.get("proof")?.clone()).ok());
            let Some(proof) = proof else { break };
            if verify_inclusion(&leaf, i, cp.size, &proof, &cp.root).is_err() {
                return format!(
                    "entry {i} ({}): record bytes differ from what the signed log committed to ({base})",
                    described[i as usize]
                );
            }
        }
    }
    let Some(listed) = &src.leaf_hashes else {
        return format!("{base}: some entry's bytes were changed");
    };
    let n = cp.size as usize;
    if listed.len() < n || root_of(&listed[..n]) != cp.root {
        return format!("{base}; the file's leaf_hashes do not match the {what} either");
    }
    for (i, l) in listed[..n].iter().enumerate() {
        if tree.leaf(i as u64) != Some(*l) {
            return format!(
                "entry {i} ({}): record bytes differ from what the log committed to (leaf hash {}, signed log has {l})",
                described[i],
                tree.leaf(i as u64).map(|d| d.to_hex()).unwrap_or_default()
            );
        }
    }
    base
}

/// An export file as read: the records stay raw text until each is replayed.
#[derive(serde::Deserialize)]
struct ExportFile {
    #[serde(default)]
    checkpoint: Option<String>,
    #[serde(default)]
    seal: Option<String>,
    entries: Vec<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    leaf_hashes: Option<Vec<Digest>>,
}

/// Verifies what `govmesh log export` wrote, offline.
pub fn verify_file(path: &Path, genesis: Option<&str>) -> Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ExportFile = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a govmesh log export: {e}", path.display()))?;
    drop(bytes);
    let claims = Claims {
        seal: file.seal,
        checkpoint: file.checkpoint,
        leaf_hashes: file.leaf_hashes,
        status: None,
        node: None,
    };
    let mut replay = Replay::new(genesis, None, &claims.sizes()?)?;
    for (i, raw) in file.entries.iter().enumerate() {
        // Untrusted input: duplicate keys and unsafe integers are refused.
        let v = parse_strict(raw.get().as_bytes()).map_err(|e| fault(format!("entry {i}: {e}")))?;
        replay.push(&v)?;
    }
    replay.finish(&claims)
}

/// `GET /v1/log/seal`: none on 404 `no_seal` (no seal yet).
fn fetch_seal(client: &NodeClient) -> Result<Option<String>> {
    match client.get_text("/v1/log/seal") {
        Ok(t) => Ok(Some(t)),
        Err(e)
            if matches!(
                e.downcast_ref::<Failure>(),
                Some(Failure::Refused { code, .. }) if code == "no_seal"
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Verifies a node: seal, checkpoint and status first, then every record page by page
/// (so that the records cover what they claim; the log only grows in between).
pub fn verify_node(client: NodeClient, genesis: Option<&str>) -> Result<Report> {
    let seal = fetch_seal(&client)?;
    let checkpoint = client.get_text("/v1/log/checkpoint")?;
    let status = client.get("/v1/status")?;
    let claims = Claims {
        seal,
        checkpoint: Some(checkpoint),
        leaf_hashes: None,
        status: Some(status),
        node: None,
    };
    let mut replay = Replay::new(genesis, claims.status.as_ref(), &claims.sizes()?)?;
    client.for_each_entry(0, None, |raw| replay.push(raw))?;
    replay.finish(&Claims {
        node: Some(client),
        ..claims
    })
}

pub fn run(
    file: Option<&Path>,
    node: Option<String>,
    genesis: Option<&str>,
    json: bool,
) -> Result<i32> {
    let report = match file {
        Some(f) => verify_file(f, genesis)?,
        None => {
            let url = node.unwrap_or_else(|| "http://127.0.0.1:7420".into());
            verify_node(NodeClient::new(&url)?, genesis)?
        }
    };
    if json {
        print_json(&report.to_json());
    } else {
        report.print_human();
    }
    Ok(0)
}

/// `govmesh log export --out FILE`: the node's seal (if it has one), its checkpoint and
/// the entries they cover, written page by page.
pub fn export(node: &str, out: &Path, json: bool) -> Result<i32> {
    use std::io::Write;
    let client = NodeClient::new(node)?;
    let seal = fetch_seal(&client)?;
    let checkpoint = client.get_text("/v1/log/checkpoint")?;
    let node_note = |what: &str, text: &str| {
        SignedNote::parse(text)
            .and_then(|n| n.checkpoint())
            .map_err(|e| anyhow::anyhow!("the node's {what}: {e}"))
    };
    let cp = node_note("checkpoint", &checkpoint)?;
    let sealed = seal.as_deref().map(|t| node_note("seal", t)).transpose()?;
    let size = cp.size.max(sealed.as_ref().map_or(0, |s| s.size));
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut leaves = Vec::with_capacity(size as usize);
    let werr = |e: std::io::Error| anyhow::anyhow!("writing {}: {e}", tmp.display());
    write!(
        w,
        "{{\n  \"checkpoint\": {},",
        serde_json::to_string(&checkpoint)?
    )
    .map_err(werr)?;
    if let Some(s) = &seal {
        write!(w, "\n  \"seal\": {},", serde_json::to_string(s)?).map_err(werr)?;
    }
    write!(w, "\n  \"entries\": [").map_err(werr)?;
    client.for_each_entry(0, Some(size), |r| {
        let b = canonical_bytes(r).map_err(|e| anyhow::anyhow!("a served record: {e}"))?;
        let sep = if leaves.is_empty() { "" } else { "," };
        leaves.push(leaf_hash(&b));
        write!(w, "{sep}\n    {}", serde_json::to_string(r)?).map_err(werr)?;
        Ok(())
    })?;
    if leaves.len() as u64 != size {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!(
            "the node served {} entries but its checkpoint and seal cover {size}",
            leaves.len()
        );
    }
    write!(
        w,
        "\n  ],\n  \"leaf_hashes\": {}\n}}\n",
        serde_json::to_string(&leaves)?
    )
    .map_err(werr)?;
    w.flush().map_err(werr)?;
    drop(w);
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    let seal_size = sealed.as_ref().map(|s| s.size);
    if json {
        print_json(&json!({
            "out": out,
            "entries": leaves.len(),
            "checkpoint_size": cp.size,
            "root": cp.root,
            "seal_size": seal_size,
        }));
    } else {
        let with_seal = match seal_size {
            Some(n) => format!(", the seal (size {n})"),
            None => " (the node has no seal yet)".to_owned(),
        };
        outln!(
            "exported {} entries, the checkpoint (root {}){with_seal} to {}",
            leaves.len(),
            cp.root,
            out.display()
        );
    }
    Ok(0)
}
