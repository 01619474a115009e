//! `govmesh bench verify`: how fast `govmesh verify` checks an exported log, next to
//! bare Ed25519 verification of the same entries on one core, in one run (issue 15:
//! verify at ≥ 1.5× the one-core bare rate, using both cores).
//!
//! Generates (untimed) a log of N signed entries like the replay benchmark's (a Codex
//! genesis with 200 founding hubs, then proposals each followed by 99 votes split
//! between approve and reject, so every proposal stays open), writes it as a streaming
//! export (JSON lines) with a checkpoint hub 0 signed (a seal where clause 5.4 names no
//! witnesses), then times (a) bare `PublicKey::verify` of every entry's PAE bytes on
//! this thread, prepared beforehand, and (b) `verify::verify_file` of the file, from
//! reading it to the finished report. Prints a table, then one JSON line.

use crate::verify::{JSONL_FORMAT, verify_file};
use anyhow::{Context, Result, bail};
use govmesh_core::checkpoint::Checkpoint;
use govmesh_core::codex::{CODEX_CONTRACT_ID, codex_genesis};
use govmesh_core::entry::signature_parts;
use govmesh_core::entry::{LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::merkle::MerkleTree;
use govmesh_core::model::{Changes, NodeType, VoteChoice};
use govmesh_core::seal::checkpoint_origin;
use govmesh_core::stamp::Timestamp;
use govmesh_core::state::State;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

const HUBS: usize = 200;
const VOTES_PER_PROPOSAL: u64 = 99;
/// Genesis time of the generated log (2026-11-26T00:00:00Z); entries 1 ms apart.
const T0: i64 = 1_795_651_200_000;

/// The generated log's founding hubs and genesis.
struct Generator {
    hubs: Vec<KeyPair>,
    genesis: Operation,
    clause_text: String,
    base_hash: govmesh_core::Digest,
}

impl Generator {
    fn new() -> Result<Generator> {
        let hubs: Vec<KeyPair> = (0..HUBS)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                seed[31] = 0x7b;
                KeyPair::from_seed(seed)
            })
            .collect();
        let founders = hubs
            .iter()
            .map(|k| NodeSpec::new(k, NodeType::GovernanceHub))
            .collect();
        let genesis = codex_genesis("verify-bench", founders);
        let clause = genesis
            .contract
            .clauses
            .iter()
            .find(|c| c.clause_id == "5.4")
            .context("the Codex has clause 5.4")?
            .clone();
        Ok(Generator {
            hubs,
            base_hash: clause.hash().map_err(|e| anyhow::anyhow!("{e}"))?,
            clause_text: clause.text,
            genesis: Operation::Genesis(genesis),
        })
    }

    fn record(&self, k: u64) -> LogRecord {
        // Signed at its record time, as a client whose clock agrees with the council.
        let at = Timestamp::from_millis(T0 + k as i64);
        let envelope = if k == 0 {
            sign_entry_at(&self.hubs[0], self.genesis.clone(), at)
        } else {
            let per = VOTES_PER_PROPOSAL + 1;
            let (p, j) = ((k - 1) / per, (k - 1) % per);
            let n = self.hubs.len() as u64;
            // A well-formed UUIDv4 text per proposal.
            let proposal_id = format!("00000000-0000-4000-8000-{:012x}", p + 1);
            if j == 0 {
                sign_entry_at(
                    &self.hubs[(p % n) as usize],
                    Operation::Propose(ProposeOp::amend(
                        proposal_id,
                        CODEX_CONTRACT_ID,
                        "5.4",
                        self.base_hash,
                        format!("benchmark proposal {p}"),
                        Changes {
                            current_text: self.clause_text.clone(),
                            proposed_text: format!("{} (amendment {p})", self.clause_text),
                            diff: Vec::new(),
                        },
                    )),
                    at,
                )
            } else {
                let choice = if j % 2 == 1 {
                    VoteChoice::Approve
                } else {
                    VoteChoice::Reject
                };
                sign_entry_at(
                    &self.hubs[((p + j) % n) as usize],
                    Operation::Vote(VoteOp::new(proposal_id, choice)),
                    at,
                )
            }
        };
        LogRecord {
            index: k,
            timestamp: at,
            envelope,
        }
    }
}

/// Writes entries `0..n` as a streaming export at `path` (signing on both cores), with
/// a checkpoint hub 0 signs.
fn write_export(g: &Generator, n: u64, path: &Path) -> Result<()> {
    const CHUNK: u64 = 10_000;
    let tmp = path.with_extension("records");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut tree = MerkleTree::new();
    let mut genesis_state = State::new();
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mid = start + (end - start) / 2;
        let make = |a: u64, b: u64| -> Vec<LogRecord> { (a..b).map(|k| g.record(k)).collect() };
        let (first, second) = std::thread::scope(|s| {
            let h = s.spawn(|| make(start, mid));
            let second = make(mid, end);
            (h.join().expect("generator thread"), second)
        });
        for r in first.iter().chain(&second) {
            if r.index == 0 {
                genesis_state
                    .apply_record(r)
                    .map_err(|e| anyhow::anyhow!("the generated genesis: {e}"))?;
            }
            let leaf = r.leaf_bytes();
            tree.push(govmesh_core::merkle::leaf_hash(&leaf));
            w.write_all(&leaf)?;
            w.write_all(b"\n")?;
        }
        start = end;
    }
    w.flush()?;
    drop(w);
    let mesh_id = genesis_state
        .mesh_id()
        .context("the genesis founds a mesh")?;
    let origin = checkpoint_origin(&mesh_id);
    let note = Checkpoint {
        origin: origin.clone(),
        size: n,
        root: tree.root(),
        extensions: Vec::new(),
    }
    .sign(&origin, &g.hubs[0]);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let header = json!({"format": JSONL_FORMAT, "checkpoint": note.to_text(), "size": n});
    writeln!(out, "{header}")?;
    std::io::copy(&mut std::fs::File::open(&tmp)?, &mut out)?;
    out.flush()?;
    std::fs::remove_file(&tmp)?;
    Ok(())
}

/// Bare strict verification of every entry in the export, on this thread; only the
/// verification is timed (PAE bytes and signatures are prepared a chunk at a time).
fn bare_verify(g: &Generator, path: &Path) -> Result<(u64, f64)> {
    use std::io::BufRead;
    let keys: std::collections::HashMap<String, govmesh_core::keys::PublicKey> =
        g.hubs.iter().map(|k| (k.keyid(), k.public())).collect();
    let mut lines = std::io::BufReader::new(std::fs::File::open(path)?)
        .lines()
        .skip(1);
    let (mut n, mut secs) = (0u64, 0f64);
    loop {
        let mut chunk = Vec::with_capacity(10_000);
        for l in lines.by_ref().take(10_000) {
            let r: LogRecord = serde_json::from_str(&l?)?;
            let (keyid, msg, sig) = signature_parts(&r.envelope).map_err(anyhow::Error::msg)?;
            chunk.push((keys[&keyid], msg, sig));
        }
        if chunk.is_empty() {
            return Ok((n, secs));
        }
        let t = Instant::now();
        for (key, msg, sig) in &chunk {
            key.verify(msg, sig).context("a generated signature")?;
        }
        secs += t.elapsed().as_secs_f64();
        n += chunk.len() as u64;
    }
}

/// `govmesh bench verify --entries N [--keep FILE]`.
pub fn run(entries: u64, keep: Option<&Path>, json_out: bool) -> Result<i32> {
    if entries < 2 {
        bail!("--entries must be at least 2 (a genesis and one entry)");
    }
    let dir = crate::bench::tempdir()?;
    let path = keep.map_or_else(|| dir.join("log.jsonl"), Path::to_owned);
    let result = measure(entries, &path, json_out);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(entries: u64, path: &Path, json_out: bool) -> Result<i32> {
    let g = Generator::new()?;
    let t = Instant::now();
    write_export(&g, entries, path)?;
    let size = std::fs::metadata(path)?.len();
    eprintln!(
        "generated {entries} signed entries ({:.1} MB export) in {:.1} s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let (n, bare_secs) = bare_verify(&g, path)?;
    let bare = n as f64 / bare_secs;
    eprintln!("bare Ed25519 verify on one core: {bare:.0} entries/s");
    let t = Instant::now();
    let verified = verify_file(path, None)?;
    let secs = t.elapsed().as_secs_f64();
    if verified.report.entries != entries {
        bail!(
            "verify checked {} entries, not {entries}",
            verified.report.entries
        );
    }
    let rate = entries as f64 / secs;
    let ratio = rate / bare;
    if !json_out {
        println!("govmesh verify benchmark: {entries} entries (streaming export)");
        println!("{:-<70}", "");
        println!("(a) bare Ed25519 verify, one core   {bare:>12.0} entries/s");
        println!("(b) govmesh verify FILE             {rate:>12.0} entries/s  ({secs:.2} s)");
        println!(
            "(b)/(a)                             {:>11.0}%   target >= 150%: {}",
            ratio * 100.0,
            if ratio >= 1.5 { "ok" } else { "MISSED" }
        );
        println!("{:-<70}", "");
    }
    println!(
        "{}",
        json!({
            "entries": entries,
            "verify_per_s": rate.round(),
            "bare_verify_1core_per_s": bare.round(),
            "ratio": (ratio * 100.0).round() / 100.0,
        })
    );
    Ok(0)
}
