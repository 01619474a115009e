//! `govmesh verify` and `govmesh log export`: replays a whole governance log from
//! genesis through a fresh core `State` (every signature, schema, tether check and
//! tally), recomputes each contract's hash chain, rebuilds the Merkle tree from the
//! records' leaf bytes and checks it against the hub-signed checkpoint; with a node,
//! also compares the node's status root and contract heads to the replay.
//!
//! An export file is `{"checkpoint": "<signed note>", "entries": [LogRecord...],
//! "leaf_hashes": ["hex"...]}`; `leaf_hashes` is optional and only used to name the
//! entry whose bytes were changed when the root does not match the checkpoint (the
//! list itself is trusted only once its root matches the signed checkpoint).

use crate::client::NodeClient;
use crate::commands::print_json;
use crate::fail::Failure;
use anyhow::{Context, Result};
use govmesh_core::Digest;
use govmesh_core::canonical::{canonical_bytes, parse_strict};
use govmesh_core::checkpoint::{Checkpoint, SignedNote, note_key_hash};
use govmesh_core::entry::LogRecord;
use govmesh_core::merkle::{MerkleTree, leaf_hash, root_of, verify_inclusion};
use govmesh_core::model::NodeType;
use govmesh_core::state::State;
use serde::Deserialize as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The rest of what `verify` reads besides the records: the signed checkpoint and,
/// when verifying a node, its status and the node itself.
pub struct Claims {
    pub checkpoint: String,
    /// From an export file: the leaf hash of every record.
    pub leaf_hashes: Option<Vec<Digest>>,
    /// The node's `/v1/status`, fetched before the records, when verifying a node.
    pub status: Option<Value>,
    /// The node, asked for inclusion proofs only to name the changed entry when the
    /// root does not match the checkpoint.
    pub node: Option<NodeClient>,
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
    pub checkpoint_size: u64,
    pub checkpoint_origin: String,
    pub checkpoint_signer: String,
    pub status_checked: bool,
}

impl Report {
    pub fn to_json(&self) -> Value {
        json!({
            "ok": true,
            "entries": self.entries,
            "mesh_id": self.mesh_id,
            "mesh_name": self.mesh_name,
            "contracts": self.contracts.iter().map(|(id, (revs, head))| (id.clone(), json!({"revisions": revs, "head": head}))).collect::<serde_json::Map<_, _>>(),
            "proposals": self.proposals,
            "root": self.root,
            "checkpoint": {"size": self.checkpoint_size, "origin": self.checkpoint_origin, "signed_by": self.checkpoint_signer},
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
        outln!(
            "checkpoint size {} ({}) signed by governance hub {}",
            self.checkpoint_size,
            self.checkpoint_origin,
            self.checkpoint_signer
        );
        if self.checkpoint_size < self.entries {
            outln!(
                "          {} newer entries are not yet covered by a checkpoint",
                self.entries - self.checkpoint_size
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
    /// `"vote by <author>"` of every record, for messages.
    described: Vec<String>,
}

impl Replay {
    pub fn new(genesis: Option<&str>, status: Option<&Value>) -> Result<Replay> {
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
        self.described
            .push(format!("{} by {}", applied.kind, applied.author));
        Ok(())
    }

    /// Checks the contract hash chains, the checkpoint and the node's claims.
    pub fn finish(self, claims: &Claims) -> Result<Report> {
        let Replay {
            state,
            tree,
            heads_at_status,
            described,
            status_size,
            ..
        } = self;
        if tree.size() == 0 {
            return Err(fault("the log is empty: no genesis entry"));
        }
        let size = tree.size();
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

        // The signed checkpoint.
        let note =
            SignedNote::parse(&claims.checkpoint).map_err(|e| fault(format!("checkpoint: {e}")))?;
        let cp =
            Checkpoint::parse_body(&note.body).map_err(|e| fault(format!("checkpoint: {e}")))?;
        let origin = format!("govmesh/{}", &mesh_id.to_hex()[..16]);
        if cp.origin != origin {
            return Err(fault(format!(
                "checkpoint origin {:?} is not this mesh's {origin:?}",
                cp.origin
            )));
        }
        let hubs: Vec<_> = state
            .nodes()
            .into_iter()
            .filter(|n| n.node_type == NodeType::GovernanceHub)
            .collect();
        let mut signer = None;
        for sig in note.signatures.iter().filter(|s| s.name == origin) {
            for hub in &hubs {
                if note_key_hash(&origin, &hub.public_key) == sig.key_hash {
                    note.verify(&origin, &hub.public_key).map_err(|e| {
                        fault(format!(
                            "checkpoint: signature of governance hub {}: {e}",
                            hub.node_id
                        ))
                    })?;
                    signer = Some(hub.node_id.clone());
                }
            }
        }
        let signer = signer.ok_or_else(|| {
            fault(format!(
                "checkpoint is not signed under {origin:?} by any registered governance hub"
            ))
        })?;
        // Clause 5.4: with witnesses listed, a seal needs their cosignatures.
        let seal_threshold = state
            .contracts()
            .into_iter()
            .find_map(|c| c.clause("5.4"))
            .and_then(|c| c.rules.get("seal_threshold"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if seal_threshold > 0 {
            return Err(fault(format!(
                "checkpoint: clause 5.4 requires {seal_threshold} witness cosignatures, which this verifier cannot check yet"
            )));
        }
        if cp.size > size {
            return Err(fault(format!(
                "entry {size}: missing; the checkpoint covers {} entries but the log has only {size}",
                cp.size
            )));
        }
        let root_at_cp = tree.root_at(cp.size).expect("size checked");
        if root_at_cp != cp.root {
            return Err(fault(root_mismatch(claims, &described, &tree, &cp)));
        }

        // The node's own claims.
        if let (Some(st), Some(n)) = (&claims.status, status_size) {
            if n > size {
                return Err(fault(format!(
                    "node status says {n} entries but it served only {size}"
                )));
            }
            let claimed = st
                .get("root")
                .and_then(Value::as_str)
                .context("the node's /v1/status has no root")?;
            let ours = tree.root_at(n).expect("size checked");
            if claimed != ours.to_hex() {
                return Err(fault(format!(
                    "node status root {claimed} at size {n} is not the replayed root {ours}"
                )));
            }
            let ours = heads_at_status.unwrap_or_default();
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
            root: tree.root(),
            checkpoint_size: cp.size,
            checkpoint_origin: cp.origin,
            checkpoint_signer: signer,
            status_checked: claims.status.is_some(),
        })
    }
}

/// Why the root does not match the checkpoint, naming the entry where the exported
/// leaf hashes (once they match the signed root) allow it.
fn root_mismatch(src: &Claims, described: &[String], tree: &MerkleTree, cp: &Checkpoint) -> String {
    let base = format!(
        "Merkle root of entries 0..{} is {} but the signed checkpoint says {}",
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
        return format!("{base}; the file's leaf_hashes do not match the checkpoint either");
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
    checkpoint: String,
    entries: Vec<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    leaf_hashes: Option<Vec<Digest>>,
}

/// Verifies what `govmesh log export` wrote.
pub fn verify_file(path: &Path, genesis: Option<&str>) -> Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ExportFile = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a govmesh log export: {e}", path.display()))?;
    drop(bytes);
    let mut replay = Replay::new(genesis, None)?;
    for (i, raw) in file.entries.iter().enumerate() {
        // Untrusted input: duplicate keys and unsafe integers are refused.
        let v = parse_strict(raw.get().as_bytes()).map_err(|e| fault(format!("entry {i}: {e}")))?;
        replay.push(&v)?;
    }
    replay.finish(&Claims {
        checkpoint: file.checkpoint,
        leaf_hashes: file.leaf_hashes,
        status: None,
        node: None,
    })
}

/// Verifies a node: checkpoint and status first, then every record page by page (so
/// that the records cover what the checkpoint and status claim).
pub fn verify_node(client: NodeClient, genesis: Option<&str>) -> Result<Report> {
    let checkpoint = client.get_text("/v1/log/checkpoint")?;
    let status = client.get("/v1/status")?;
    let mut replay = Replay::new(genesis, Some(&status))?;
    client.for_each_entry(0, None, |raw| replay.push(raw))?;
    replay.finish(&Claims {
        checkpoint,
        leaf_hashes: None,
        status: Some(status),
        node: Some(client),
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

/// `govmesh log export --out FILE`: the checkpoint and the entries it covers, written
/// page by page.
pub fn export(node: &str, out: &Path, json: bool) -> Result<i32> {
    use std::io::Write;
    let client = NodeClient::new(node)?;
    let checkpoint = client.get_text("/v1/log/checkpoint")?;
    let note = SignedNote::parse(&checkpoint)
        .map_err(|e| anyhow::anyhow!("the node's checkpoint: {e}"))?;
    let cp = Checkpoint::parse_body(&note.body)
        .map_err(|e| anyhow::anyhow!("the node's checkpoint: {e}"))?;
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut leaves = Vec::with_capacity(cp.size as usize);
    let werr = |e: std::io::Error| anyhow::anyhow!("writing {}: {e}", tmp.display());
    write!(
        w,
        "{{\n  \"checkpoint\": {},\n  \"entries\": [",
        serde_json::to_string(&checkpoint)?
    )
    .map_err(werr)?;
    client.for_each_entry(0, Some(cp.size), |r| {
        let b = canonical_bytes(r).map_err(|e| anyhow::anyhow!("a served record: {e}"))?;
        let sep = if leaves.is_empty() { "" } else { "," };
        leaves.push(leaf_hash(&b));
        write!(w, "{sep}\n    {}", serde_json::to_string(r)?).map_err(werr)?;
        Ok(())
    })?;
    if leaves.len() as u64 != cp.size {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!(
            "the node served {} entries but its checkpoint covers {}",
            leaves.len(),
            cp.size
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
    if json {
        print_json(
            &json!({"out": out, "entries": leaves.len(), "checkpoint_size": cp.size, "root": cp.root}),
        );
    } else {
        outln!(
            "exported {} entries and the checkpoint (root {}) to {}",
            leaves.len(),
            cp.root,
            out.display()
        );
    }
    Ok(0)
}
