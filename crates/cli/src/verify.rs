//! `govmesh verify` and `govmesh log export`: fetches a whole governance log (from a
//! node, page by page, or from an export file) and has `govmesh_core::audit` replay it
//! from genesis through a fresh core `State` (every signature, schema, tether check and
//! tally), recompute each contract's hash chain, rebuild the Merkle tree from the
//! records' leaf bytes and check it against the mesh's trust anchor, the **seal**
//! (clause 5.4: a checkpoint signed by a governance hub plus the `seal_threshold` of
//! witness cosignatures, checked against the State replayed from the log itself, so
//! hub keys, witness keys and the threshold all come from the log); then prints the
//! report. Works against any node of a mesh (hub, witness, trust fork) and offline on
//! an export file.
//!
//! Where clause 5.4 asks for no cosignatures (no witnesses), a hub-signed checkpoint
//! is a seal too. The node's own signed checkpoint (`/v1/log/checkpoint`, signed by the
//! serving node's registered key, whatever its role) is a claim of that node: its
//! signature and root are checked, but only a seal is trusted. Entries beyond the seal
//! are verified by replay and reported as not yet sealed, not as a failure. With a
//! node, also compares the node's status root and contract heads to the replay.
//!
//! An export file comes in two formats. The streaming one (`--format jsonl`, issue 15)
//! is JSON lines: a header `{"format": "govmesh-log-export/jsonl", "checkpoint":
//! "<signed note>", "seal": "<seal>", "size": N}`, then each of the N records exactly
//! as the node served it, one per line, then `{"leaf_hashes": ["hex"...]}`. The whole
//! one (`--format json`, the first) is `{"checkpoint", "seal", "entries":
//! [LogRecord...], "leaf_hashes": [...]}`. `seal` is present when the node had one;
//! `leaf_hashes` is optional and only used to name the entry whose bytes were changed
//! when the root does not match a signed root (the list itself is trusted only once its
//! root matches that signed root).
//!
//! A file is replayed on two threads ([`replay_pipelined`]): one reads and parses the
//! records and checks their signatures in batches ([`audit::preverify`]), the other
//! applies them through the state machine, with a bounded channel between them, so
//! verification keeps both cores busy and holds a few batches in memory, not the file.

use crate::client::NodeClient;
use crate::commands::print_json;
use crate::fail::Failure;
use anyhow::{Context, Result};
use govmesh_core::Digest;
use govmesh_core::audit::{
    self, Audit, AuditError, InclusionProofs, Report, ServedRecord, Source, contract_heads,
};
use govmesh_core::canonical::canonical_bytes;
use govmesh_core::checkpoint::SignedNote;
use govmesh_core::merkle::leaf_hash;
use serde_json::{Value, json};
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
    /// The signed notes, as the audit checks them.
    fn notes(&self) -> audit::Claims<'_> {
        audit::Claims {
            seal: self.seal.as_deref(),
            checkpoint: self.checkpoint.as_deref(),
            leaf_hashes: self.leaf_hashes.as_deref(),
            source: if self.node.is_some() {
                Source::Node
            } else {
                Source::File
            },
        }
    }
}

/// What a successful verification found, and whether the node's status was compared.
#[derive(Debug)]
pub struct Verified {
    pub report: Report,
    pub status_checked: bool,
    /// Contract revisions fetched from the node and found to hash as served.
    pub revisions_checked: u64,
}

impl Verified {
    pub fn to_json(&self) -> Value {
        let r = &self.report;
        json!({
            "ok": true,
            "entries": r.entries,
            "mesh_id": r.mesh_id,
            "mesh_name": r.mesh_name,
            "contracts": r.contracts.iter().map(|(id, c)| (id.clone(), json!({"revisions": c.revisions, "head": c.head}))).collect::<serde_json::Map<_, _>>(),
            "proposals": r.proposals,
            "root": r.root,
            "seal": {
                "size": r.seal.size,
                "root": r.seal.root,
                "origin": r.seal.origin,
                "signed_by": r.seal.hub,
                "cosigned_by": r.seal.witnesses,
                "threshold": r.seal.threshold,
                "source": r.seal.source.as_str(),
            },
            "unsealed_entries": r.unsealed(),
            "checkpoint": r.checkpoint.as_ref().map(|c| json!({"size": c.size, "origin": c.origin, "signed_by": c.signer, "signer_type": code_name(&c.signer_type)})),
            "node_status_matches": if self.status_checked { Some(true) } else { None },
            "served_revisions_checked": self.revisions_checked,
        })
    }

    pub fn print_human(&self) {
        let r = &self.report;
        outln!(
            "verified {} entries of mesh {} ({})",
            r.entries,
            r.mesh_name,
            r.mesh_id
        );
        for (id, c) in &r.contracts {
            outln!(
                "contract  {id}: {} revision(s), hash chain intact, head {}",
                c.revisions,
                c.head
            );
        }
        let props: Vec<String> = r
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
        outln!("root      {} at size {}", r.root, r.entries);
        let s = &r.seal;
        let cosigned = if s.witnesses.is_empty() {
            "no witness cosignatures".to_owned()
        } else {
            format!("cosigned by witness(es) {}", s.witnesses.join(", "))
        };
        let from = if s.source == audit::SealSource::Checkpoint {
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
        if r.unsealed() > 0 {
            outln!(
                "          {} newer entries verified by replay but not yet covered by a seal",
                r.unsealed()
            );
        }
        if let Some(c) = &r.checkpoint {
            outln!(
                "checkpoint size {} signed by {} {} (the node's own claim), root matches the replay",
                c.size,
                code_name(&c.signer_type),
                c.signer
            );
        }
        if self.status_checked {
            outln!("node      status root and contract heads match the replay");
        }
        if self.revisions_checked > 0 {
            outln!(
                "node      {} served contract revision(s) hash as served to the replayed contract_hash",
                self.revisions_checked
            );
        }
    }
}

fn fault(msg: impl Into<String>) -> anyhow::Error {
    Failure::Verify(msg.into()).into()
}

/// A fault the audit found: exit code 1, its message as is.
fn audit_fault(e: AuditError) -> anyhow::Error {
    fault(e.message)
}

fn code_name<T: serde::Serialize>(code: &T) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "rejected".into())
}

/// The node's inclusion proofs, asked only to name a changed entry.
struct NodeProofs<'a>(&'a NodeClient);

impl InclusionProofs for NodeProofs<'_> {
    fn inclusion_proof(&mut self, index: u64, size: u64) -> Option<Vec<Digest>> {
        let v = self
            .0
            .get(&format!(
                "/v1/log/proof/inclusion?index={index}&size={size}"
            ))
            .ok()?;
        serde_json::from_value::<Vec<Digest>>(v.get("proof")?.clone()).ok()
    }
}

/// A replay in progress ([`govmesh_core::audit::Audit`]): records are pushed one at a
/// time as served (so a long log is never held in memory as JSON), then
/// [`Replay::finish`] checks chains and claims, and the node's status.
pub struct Replay {
    audit: Audit,
    status_size: Option<u64>,
}

impl Replay {
    /// A replay that keeps the State at each of `sizes` (the sizes of the seal and
    /// checkpoint it will be asked to check) and at the node's status size.
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
        let mut audit = Audit::new();
        if let Some(p) = pinned {
            audit.pin_genesis(p);
        }
        for &s in sizes.iter().chain(&status_size) {
            audit.keep_state_at(s);
        }
        Ok(Replay { audit, status_size })
    }

    /// Applies the next record, exactly as the log serves it.
    pub fn push(&mut self, raw: &Value) -> Result<()> {
        let rec = ServedRecord::from_json(self.audit.size(), raw).map_err(audit_fault)?;
        self.audit.push_served(&rec).map_err(audit_fault)
    }

    /// Checks the contract hash chains, the seal, the checkpoint and the node's claims.
    pub fn finish(self, claims: &Claims) -> Result<Verified> {
        let audit = &self.audit;
        let mut proofs = claims.node.as_ref().map(NodeProofs);
        let report = audit
            .finish(
                &claims.notes(),
                proofs.as_mut().map(|p| p as &mut dyn InclusionProofs),
            )
            .map_err(audit_fault)?;

        // The node's own claims.
        let size = audit.size();
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
            let ours = audit.root_at(n).expect("size checked");
            if claimed != ours.to_hex() {
                return Err(fault(format!(
                    "node status root {claimed} at size {n} is not the replayed root {ours}"
                )));
            }
            let ours = audit.kept_state(n).map(contract_heads).unwrap_or_default();
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
        // Every revision the node serves is the record it hashes (clause 11.0
        // contract_chain), and the replayed one.
        let mut revisions_checked = 0;
        if let Some(node) = &claims.node {
            for (id, c) in &report.contracts {
                for n in 1..=c.revisions {
                    let raw = node.get(&format!("/v1/contracts/{id}/revisions/{n}"))?;
                    audit.check_served_revision(&raw).map_err(audit_fault)?;
                    revisions_checked += 1;
                }
            }
        }
        Ok(Verified {
            report,
            status_checked: claims.status.is_some(),
            revisions_checked,
        })
    }
}

/// The first line of a streaming export.
pub const JSONL_FORMAT: &str = "govmesh-log-export/jsonl";

/// The header line of a streaming export.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct JsonlHeader {
    format: String,
    #[serde(default)]
    checkpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seal: Option<String>,
    size: u64,
}

/// The last line of a streaming export.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlTrailer {
    leaf_hashes: Vec<Digest>,
}

/// Records parsed and signature-checked per step of [`replay_pipelined`].
const PIPE_BATCH: usize = 512;
/// Steps in flight between the verifying and the applying thread: with the batch being
/// read and the one being applied, at most this many plus two batches are in memory.
const PIPE_DEPTH: usize = 4;

/// What the verifying thread hands the applying thread: records with whether their
/// signature verified, or the first record that could not be read.
type Checked = Result<Vec<(audit::ServedRecord, bool)>, AuditError>;

/// Replays records (`(index, bytes)` as read) on two threads: this one reads, parses
/// and batch-verifies signatures; a scoped one applies them in order through
/// `replay`'s state machine. The key of every signer the state machine has accepted so
/// far is shared with the verifying side; a record whose key it does not know yet (a
/// node registered a few records earlier) is verified strictly when applied. Errors
/// come in log order: a record that cannot be read is reported after every record
/// before it was applied.
pub fn replay_pipelined<I>(replay: &mut Replay, records: I) -> Result<()>
where
    I: Iterator<Item = Result<(u64, Vec<u8>)>>,
{
    use govmesh_core::keys::PublicKey;
    use std::collections::HashMap;
    use std::sync::{Arc, RwLock};
    let keys: Arc<RwLock<HashMap<String, PublicKey>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Checked>(PIPE_DEPTH);
    std::thread::scope(|scope| {
        let apply_keys = keys.clone();
        let applier = scope.spawn(move || -> Result<()> {
            let audit = &mut replay.audit;
            for batch in rx {
                let batch = batch.map_err(audit_fault)?;
                let mut strict = false;
                for (rec, verified) in &batch {
                    if *verified {
                        audit.push_served_preverified(rec).map_err(audit_fault)?;
                    } else {
                        strict = true;
                        audit.push_served(rec).map_err(audit_fault)?;
                    }
                }
                // A key the verifier did not know is registered now (or the record
                // failed and we stopped above): share the registry's keys.
                if strict {
                    let mut k = apply_keys.write().expect("key map lock");
                    for n in audit.state().nodes() {
                        k.entry(n.public_key.keyid()).or_insert(n.public_key);
                    }
                }
            }
            Ok(())
        });
        let mut records = records;
        let read = (|| -> Result<()> {
            loop {
                let mut batch = Vec::with_capacity(PIPE_BATCH);
                for item in records.by_ref().take(PIPE_BATCH) {
                    let (index, bytes) = item?;
                    // Untrusted input: duplicate keys and unsafe integers are refused.
                    match audit::ServedRecord::from_bytes(index, &bytes) {
                        Ok(r) => batch.push(r),
                        Err(e) => {
                            let good = {
                                let k = keys.read().expect("key map lock");
                                audit::preverify(&batch, |id| k.get(id).copied())
                            };
                            let _ = tx.send(Ok(batch.into_iter().zip(good).collect()));
                            let _ = tx.send(Err(e));
                            return Ok(());
                        }
                    }
                }
                if batch.is_empty() {
                    return Ok(());
                }
                let good = {
                    let k = keys.read().expect("key map lock");
                    audit::preverify(&batch, |id| k.get(id).copied())
                };
                if tx.send(Ok(batch.into_iter().zip(good).collect())).is_err() {
                    // The applier stopped at a bad record; its error is the answer.
                    return Ok(());
                }
            }
        })();
        drop(tx);
        let applied = applier.join().expect("the applying thread does not panic");
        applied.and(read)
    })
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

/// Verifies what `govmesh log export` wrote, offline, in either format.
pub fn verify_file(path: &Path, genesis: Option<&str>) -> Result<Verified> {
    use std::io::BufRead;
    let open = || {
        std::fs::File::open(path)
            .map(|f| std::io::BufReader::with_capacity(1 << 20, f))
            .with_context(|| format!("cannot read {}", path.display()))
    };
    let mut reader = open()?;
    let mut first = Vec::new();
    reader
        .read_until(b'\n', &mut first)
        .with_context(|| format!("cannot read {}", path.display()))?;
    match serde_json::from_slice::<JsonlHeader>(&first) {
        Ok(header) if header.format == JSONL_FORMAT => verify_jsonl(path, header, reader, genesis),
        Ok(header) => Err(anyhow::anyhow!(
            "{}: export format {:?} is not one this govmesh reads ({JSONL_FORMAT:?} or the whole-JSON form)",
            path.display(),
            header.format
        )),
        Err(_) => verify_whole(path, genesis),
    }
}

/// The streaming format: the records are read a batch at a time.
fn verify_jsonl(
    path: &Path,
    header: JsonlHeader,
    mut reader: impl std::io::BufRead,
    genesis: Option<&str>,
) -> Result<Verified> {
    let mut claims = Claims {
        seal: header.seal,
        checkpoint: header.checkpoint,
        leaf_hashes: None,
        status: None,
        node: None,
    };
    let sizes = claims.notes().sizes().map_err(audit_fault)?;
    let mut replay = Replay::new(genesis, None, &sizes)?;
    let where_ = |line: u64| format!("{} line {line}", path.display());
    let mut index = 0u64;
    let size = header.size;
    let records = std::iter::from_fn(|| {
        if index == size {
            return None;
        }
        let mut line = Vec::new();
        let read = reader.read_until(b'\n', &mut line);
        let item = match read {
            Err(e) => Err(anyhow::anyhow!("{}: {e}", where_(index + 2))),
            Ok(0) => Err(fault(format!(
                "{}: the file ends after {index} of the {size} entries its header announces",
                path.display()
            ))),
            Ok(_) => Ok((index, line)),
        };
        index += 1;
        Some(item)
    });
    replay_pipelined(&mut replay, records)?;
    let mut last = Vec::new();
    reader
        .read_until(b'\n', &mut last)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !last.iter().all(u8::is_ascii_whitespace) {
        let trailer: JsonlTrailer = serde_json::from_slice(&last).map_err(|e| {
            fault(format!(
                "{}: after the {size} entries comes neither the leaf_hashes line nor the end: {e}",
                path.display()
            ))
        })?;
        claims.leaf_hashes = Some(trailer.leaf_hashes);
    }
    replay.finish(&claims)
}

/// The whole-JSON format of the first exports: read whole, then replayed as streamed.
fn verify_whole(path: &Path, genesis: Option<&str>) -> Result<Verified> {
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
    let sizes = claims.notes().sizes().map_err(audit_fault)?;
    let mut replay = Replay::new(genesis, None, &sizes)?;
    let records = file
        .entries
        .iter()
        .enumerate()
        .map(|(i, raw)| Ok((i as u64, raw.get().as_bytes().to_vec())));
    replay_pipelined(&mut replay, records)?;
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
pub fn verify_node(client: NodeClient, genesis: Option<&str>) -> Result<Verified> {
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
    let sizes = claims.notes().sizes().map_err(audit_fault)?;
    let mut replay = Replay::new(genesis, claims.status.as_ref(), &sizes)?;
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

/// The format `govmesh log export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines: a header, one record per line, the leaf hashes (streams both ways).
    Jsonl,
    /// One JSON document (the first format; `verify` reads it whole).
    Json,
}

impl ExportFormat {
    /// `--format`, or else `jsonl` for a `.jsonl` file and `json` otherwise.
    pub fn for_path(format: Option<ExportFormat>, out: &Path) -> ExportFormat {
        format.unwrap_or(if out.extension().is_some_and(|e| e == "jsonl") {
            ExportFormat::Jsonl
        } else {
            ExportFormat::Json
        })
    }
}

/// `govmesh log export --out FILE`: the node's seal (if it has one), its checkpoint and
/// the entries they cover, written page by page.
pub fn export(node: &str, out: &Path, format: ExportFormat, json: bool) -> Result<i32> {
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
    let lines = format == ExportFormat::Jsonl;
    if lines {
        let header = JsonlHeader {
            format: JSONL_FORMAT.to_owned(),
            checkpoint: Some(checkpoint.clone()),
            seal: seal.clone(),
            size,
        };
        writeln!(w, "{}", serde_json::to_string(&header)?).map_err(werr)?;
    } else {
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
    }
    client.for_each_entry(0, Some(size), |r| {
        let b = canonical_bytes(r).map_err(|e| anyhow::anyhow!("a served record: {e}"))?;
        let text = serde_json::to_string(r)?;
        if lines {
            writeln!(w, "{text}").map_err(werr)?;
        } else {
            let sep = if leaves.is_empty() { "" } else { "," };
            write!(w, "{sep}\n    {text}").map_err(werr)?;
        }
        leaves.push(leaf_hash(&b));
        Ok(())
    })?;
    if leaves.len() as u64 != size {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!(
            "the node served {} entries but its checkpoint and seal cover {size}",
            leaves.len()
        );
    }
    if lines {
        writeln!(
            w,
            "{}",
            serde_json::to_string(&json!({"leaf_hashes": leaves}))?
        )
        .map_err(werr)?;
    } else {
        write!(
            w,
            "\n  ],\n  \"leaf_hashes\": {}\n}}\n",
            serde_json::to_string(&leaves)?
        )
        .map_err(werr)?;
    }
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
