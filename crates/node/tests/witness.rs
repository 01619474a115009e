//! Witnesses and seals between real servers on loopback: a hub and two compliance
//! witnesses founded by one genesis produce a seal that `verify_seal` accepts (and an
//! independent Python check of the Ed25519 signatures agrees); a witness refuses a
//! second checkpoint of the same size with another root (and shows the equivocation),
//! a smaller tree, a bad consistency proof, a forged hub signature and malformed
//! bodies, and keeps its record across a restart; a witness fetches and replays a new
//! checkpoint's entries before cosigning, and refuses one whose attestation fails the
//! state machine.

use super::util::Client;
use super::util::{free_addr, key, spec};
use govmesh_core::Digest;
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::cosign::{Cosignature, witness_key_name};
use govmesh_core::entry::{LogRecord, NodeSpec};
use govmesh_core::keys::KeyPair;
use govmesh_core::merkle::MerkleTree;
use govmesh_core::model::NodeType;
use govmesh_core::seal::verify_seal;
use govmesh_core::state::State;
use govmesh_node::witness::add_checkpoint_body;
use govmesh_node::{RunningNode, ServeOptions, join, mesh_genesis, now, serve_with};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(60);

/// One hub and `n` compliance witnesses, each with its own data directory.
struct Mesh {
    hub: KeyPair,
    hub_dir: TempDir,
    hub_addr: SocketAddr,
    witnesses: Vec<(KeyPair, TempDir, SocketAddr)>,
    genesis: LogRecord,
    origin: String,
}

impl Mesh {
    fn found(n: usize) -> Mesh {
        let hub = key(81);
        let hub_addr = free_addr();
        let wkeys: Vec<(KeyPair, SocketAddr)> =
            (0..n).map(|i| (key(90 + i as u8), free_addr())).collect();
        let mut founders = vec![spec(&hub, NodeType::GovernanceHub, hub_addr)];
        for (k, a) in &wkeys {
            founders.push(spec(k, NodeType::ComplianceWitness, *a));
        }
        let genesis = mesh_genesis("witness-test", &hub, founders, now()).unwrap();
        let hub_dir = tempfile::tempdir().unwrap();
        let info = join(hub_dir.path(), hub.clone(), &genesis).unwrap();
        let witnesses = wkeys
            .into_iter()
            .map(|(k, a)| {
                let d = tempfile::tempdir().unwrap();
                let wi = join(d.path(), k.clone(), &genesis).unwrap();
                assert_eq!(wi.node_type, NodeType::ComplianceWitness);
                (k, d, a)
            })
            .collect();
        let origin = govmesh_node::checkpoint_origin(&Digest::from_hex(&info.mesh_id).unwrap());
        Mesh {
            hub,
            hub_dir,
            hub_addr,
            witnesses,
            genesis,
            origin,
        }
    }

    /// The registry of the genesis (what every node knows from the start).
    fn state(&self) -> State {
        let mut st = State::new();
        st.apply_record(&self.genesis).unwrap();
        st
    }

    async fn serve_hub(&self) -> RunningNode {
        serve_with(self.hub_dir.path(), self.hub_addr, ServeOptions::default())
            .await
            .unwrap()
    }

    async fn serve_witness(&self, i: usize) -> RunningNode {
        let (_, d, a) = &self.witnesses[i];
        serve_with(d.path(), *a, ServeOptions::default())
            .await
            .unwrap()
    }

    /// A witness running only the C2SP checks, for tests that offer synthetic trees
    /// no hub serves the entries of.
    async fn serve_protocol_witness(&self, i: usize) -> RunningNode {
        let (_, d, a) = &self.witnesses[i];
        let opts = ServeOptions {
            witness_protocol_only: true,
            ..ServeOptions::default()
        };
        serve_with(d.path(), *a, opts).await.unwrap()
    }

    /// A checkpoint of `tree` at `size`, signed by `signer` under the origin name.
    fn note(&self, tree: &MerkleTree, size: u64, signer: &KeyPair) -> String {
        Checkpoint {
            origin: self.origin.clone(),
            size,
            root: tree.root_at(size).unwrap(),
            extensions: vec![],
        }
        .sign(&self.origin, signer)
        .to_text()
    }
}

fn tree(tag: u8, n: u64) -> MerkleTree {
    MerkleTree::from_leaf_hashes((0..n).map(|i| {
        let mut d = [tag; 32];
        d[..8].copy_from_slice(&i.to_be_bytes());
        Digest(d)
    }))
}

async fn post_text(url: &str, path: &str, body: String) -> (u16, String, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

async fn add(url: &str, old: u64, proof: &[Digest], note: &str) -> (u16, String, String) {
    post_text(
        url,
        "/v1/witness/add-checkpoint",
        add_checkpoint_body(old, proof, note),
    )
    .await
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// Polls `GET /v1/log/seal` until it holds a seal of at least `size`.
async fn wait_for_seal(c: &Client, size: u64, st: &State) -> String {
    let start = Instant::now();
    loop {
        let (status, text) = c.get_text("/v1/log/seal").await;
        if status == 200 {
            let v = verify_seal(&text, st).unwrap_or_else(|e| panic!("{e}: {text}"));
            if v.checkpoint.size >= size {
                return text;
            }
        } else {
            assert_eq!(status, 404, "{text}");
            assert_eq!(error_code(&text), "no_seal");
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no seal of size {size} within {DEADLINE:?}: last {status} {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks every Ed25519 signature of a seal with Python's `cryptography` package,
/// independently of the Rust code: the hub's note signature (key id type 0x01) and each
/// witness cosignature (type 0x04, `cosignature/v1\ntime T\n` + body).
fn python_check(seal: &str, hub: &KeyPair, witnesses: &[KeyPair]) {
    let script = r#"
import sys, json, base64, hashlib, struct
try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    print("MISSING: pip install -r requirements-test.txt (cryptography)"); sys.exit(3)
inp = json.load(sys.stdin)
text = inp["seal"]
body, sigs = text.split("\n\n", 1)
body += "\n"
def kid(name, t, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([t]) + pub).digest()[:4]
lines = [l for l in sigs.split("\n") if l]
hub = base64.b64decode(inp["hub"]); origin = body.split("\n")[0]
ok_hub = False; ok_w = set()
for l in lines:
    assert l.startswith("\u2014 "), l
    name, b = l[2:].split(" ")
    raw = base64.b64decode(b)
    if name == origin and raw[:4] == kid(origin, 1, hub):
        Ed25519PublicKey.from_public_bytes(hub).verify(raw[4:], body.encode()); ok_hub = True
    for wname, wpub in inp["witnesses"]:
        pub = base64.b64decode(wpub)
        if name == wname and raw[:4] == kid(wname, 4, pub):
            assert len(raw) == 76
            t = struct.unpack(">Q", raw[4:12])[0]
            msg = ("cosignature/v1\ntime %d\n" % t + body).encode()
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[12:], msg); ok_w.add(wname)
print(json.dumps({"hub": ok_hub, "witnesses": sorted(ok_w)}))
"#;
    let input = json!({
        "seal": seal,
        "hub": hub.public().to_base64(),
        "witnesses": witnesses
            .iter()
            .map(|w| json!([witness_key_name(w.node_id()), w.public().to_base64()]))
            .collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the cross-check (pip install -r requirements-test.txt)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python cross-check failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["hub"], true, "{v}");
    let mut want: Vec<String> = witnesses
        .iter()
        .map(|w| witness_key_name(w.node_id()))
        .collect();
    want.sort();
    assert_eq!(v["witnesses"], json!(want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_and_two_witnesses_seal_the_log() {
    let m = Mesh::found(2);
    let st = m.state();
    let w0 = m.serve_witness(0).await;
    let w1 = m.serve_witness(1).await;
    let hub = m.serve_hub().await;
    let c = Client::new(&hub.url);

    // The genesis alone is sealed at once.
    let seal = wait_for_seal(&c, 1, &st).await;
    let v = verify_seal(&seal, &st).unwrap();
    assert_eq!(v.hub_node_id, m.hub.node_id());
    assert_eq!(v.threshold, 2);
    let mut want: Vec<String> = m
        .witnesses
        .iter()
        .map(|(k, _, _)| k.node_id().to_owned())
        .collect();
    want.sort();
    assert_eq!(v.witness_node_ids, want);

    // The log grows: a new seal covers it. (Other services may append entries of
    // their own meanwhile, so sizes are compared, not fixed.)
    let token = govmesh_node::load_token(m.hub_dir.path()).unwrap();
    let newcomer = key(99);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/operator/nodes", hub.url))
        .bearer_auth(&token)
        .json(&json!({"node_type": "trust_fork", "public_key": newcomer.public().to_base64()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let index = r.json::<Value>().await.unwrap()["index"].as_u64().unwrap();
    let seal2 = wait_for_seal(&c, index + 1, &st).await;
    let v2 = verify_seal(&seal2, &st).unwrap();
    assert!(v2.checkpoint.size > v.checkpoint.size);
    assert_eq!(v2.witness_node_ids, want);
    // The sealed root is the hub's root at that size.
    let (status, p) = c
        .get(&format!(
            "/v1/log/proof/consistency?from={}",
            v2.checkpoint.size
        ))
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["from_root"], json!(v2.checkpoint.root));

    // An independent implementation agrees with every signature of the seal.
    let wkeys: Vec<KeyPair> = m.witnesses.iter().map(|(k, _, _)| k.clone()).collect();
    python_check(&seal2, &m.hub, &wkeys);

    // A seal with a cosignature's time changed is refused.
    let line = seal2
        .lines()
        .find(|l| l.contains("govmesh-witness/"))
        .unwrap();
    let mut c0 = Cosignature::parse_line(line).unwrap();
    c0.time ^= 1;
    let tampered = seal2.replace(line, &c0.line());
    assert!(verify_seal(&tampered, &st).is_err());

    // Every witness serves the latest seal it verified (pulled by replication or
    // announced by the hub).
    for w in [&w0, &w1] {
        wait_for_seal(&Client::new(&w.url), v2.checkpoint.size, &st).await;
    }

    // A hub-signed checkpoint of the size witness 0 last cosigned, with another root:
    // refused, both notes kept, and submitted as a checkpoint_fork evidence entry.
    let hub_note = |size: u64, root: Digest| {
        Checkpoint {
            origin: m.origin.clone(),
            size,
            root,
            extensions: vec![],
        }
        .sign(&m.origin, &m.hub)
        .to_text()
    };
    let start = Instant::now();
    let (fork, fork_size) = loop {
        // Old size 0 from a checkpoint of size 1 asks the witness for its size.
        let (status, ctype, body) = add(&w0.url, 0, &[], &hub_note(1, Digest([1; 32]))).await;
        assert!(status == 409, "{status} {body}");
        let n: u64 = if ctype.starts_with("text/x.tlog.size") {
            body.trim_end().parse().unwrap()
        } else {
            // Size 1 is the witness's size and the root differs: that is a fork too,
            // but not the one this test makes; it cannot happen once the log grew.
            panic!("unexpected answer {body}")
        };
        assert!(n >= v2.checkpoint.size);
        let fork = hub_note(n, Digest([0x5a; 32]));
        let (status, ctype, body) = add(&w0.url, n, &[], &fork).await;
        if status == 409 && ctype.starts_with("text/x.tlog.size") {
            // The witness moved on meanwhile: ask again.
            assert!(start.elapsed() < DEADLINE);
            continue;
        }
        assert_eq!(
            (status, error_code(&body).as_str()),
            (409, "equivocation"),
            "{body}"
        );
        break (fork, n);
    };
    let cw = Client::new(&w0.url);
    let start = Instant::now();
    let (index, e_cosigned) = loop {
        let (_, v) = cw.get("/v1/witness/equivocations").await;
        let e = &v["equivocations"][0];
        assert_eq!(e["offered_note"], fork, "{v}");
        assert_eq!(e["size"], fork_size, "{v}");
        let cosigned = SignedNote::parse(e["cosigned_note"].as_str().unwrap()).unwrap();
        let cp = cosigned.checkpoint().unwrap();
        assert_eq!(cp.size, fork_size);
        assert_ne!(cp.root, Digest([0x5a; 32]));
        cosigned.verify(&m.origin, &m.hub.public()).unwrap();
        if let Some(i) = e["evidence_index"].as_u64() {
            break (i, e["cosigned_note"].as_str().unwrap().to_owned());
        }
        assert!(start.elapsed() < DEADLINE, "no evidence entry: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, v) = c
        .get(&format!("/v1/log/entries?start={index}&end={}", index + 1))
        .await;
    assert_eq!(status, 200);
    let rec: LogRecord = serde_json::from_value(v["entries"][0].clone()).unwrap();
    let payload: Value = serde_json::from_slice(&rec.envelope.payload_bytes().unwrap()).unwrap();
    assert_eq!(payload["author"], m.witnesses[0].0.node_id(), "{payload}");
    assert_eq!(payload["type"], "evidence", "{payload}");
    assert_eq!(payload["kind"], "checkpoint_fork", "{payload}");
    // The hub's state records the fork.
    let (_, v) = c.get("/v1/equivocations").await;
    let forks = v["checkpoint_forks"].as_array().unwrap();
    assert_eq!(forks.len(), 1, "{v}");
    assert_eq!(forks[0]["size"], fork_size, "{v}");
    assert_eq!(forks[0]["reported_by"], m.witnesses[0].0.node_id(), "{v}");
    assert_eq!(payload["notes"], json!([e_cosigned, fork]), "{payload}");

    // A hub is not a witness.
    let (status, _, body) = add(&hub.url, 0, &[], &hub_note(1, Digest([1; 32]))).await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_a_witness"));

    for n in [hub, w0, w1] {
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_refuses_forks_smaller_trees_bad_proofs_and_forged_hubs() {
    let m = Mesh::found(1);
    let (wkey, _, _) = &m.witnesses[0];
    let w = m.serve_protocol_witness(0).await;
    let url = w.url.clone();
    let a = tree(1, 9);
    let b = tree(2, 9);

    // First checkpoint: nothing recorded, old size 0, no proof.
    let n3 = m.note(&a, 3, &m.hub);
    let (status, ctype, body) = add(&url, 0, &[], &n3).await;
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let c = Cosignature::parse_line(body.trim_end()).unwrap();
    let note_body = SignedNote::parse(&n3).unwrap().body;
    c.verify(
        &note_body,
        &witness_key_name(wkey.node_id()),
        &wkey.public(),
    )
    .unwrap();
    assert!(body.ends_with('\n'));

    // Wrong old size: 409 with the recorded size.
    let n5 = m.note(&a, 5, &m.hub);
    let (status, ctype, body) = add(&url, 0, &[], &n5).await;
    assert_eq!((status, body.as_str()), (409, "3\n"));
    assert!(ctype.starts_with("text/x.tlog.size"), "{ctype}");

    // Bad proof: one hash changed.
    let mut proof = a.consistency_proof(3, 5).unwrap();
    let good = proof.clone();
    proof[0].0[0] ^= 1;
    let (status, _, body) = add(&url, 3, &proof, &n5).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "bad_proof"),
        "{body}"
    );
    // A proof for another tree (b) does not lead from a's size 3 either.
    let n5b = m.note(&b, 5, &m.hub);
    let (status, _, body) = add(&url, 3, &b.consistency_proof(3, 5).unwrap(), &n5b).await;
    assert_eq!(status, 422, "{body}");

    // The good proof.
    let (status, _, body) = add(&url, 3, &good, &n5).await;
    assert_eq!(status, 200, "{body}");

    // Same size, another root, hub-signed: refused and kept as evidence.
    let (status, _, body) = add(&url, 5, &[], &n5b).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "equivocation"),
        "{body}"
    );
    let cw = Client::new(&url);
    let (status, v) = cw.get("/v1/witness/equivocations").await;
    assert_eq!(status, 200);
    assert_eq!(v["witness"], true);
    let list = v["equivocations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    let e = &list[0];
    assert_eq!(e["size"], 5);
    assert_eq!(e["origin"], m.origin);
    assert_eq!(e["cosigned_note"], n5);
    assert_eq!(e["offered_note"], n5b);
    assert_eq!(e["cosigned_root"], json!(a.root_at(5).unwrap()));
    assert_eq!(e["offered_root"], json!(b.root_at(5).unwrap()));
    // Offered again, even with another old size: still refused, still one record.
    let (status, _, body) = add(&url, 0, &[], &n5b).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "equivocation"));
    let (_, v) = cw.get("/v1/witness/equivocations").await;
    assert_eq!(v["equivocations"].as_array().unwrap().len(), 1);
    // The same checkpoint as recorded is cosigned again (idempotent).
    let (status, _, _) = add(&url, 5, &[], &n5).await;
    assert_eq!(status, 200);

    // Smaller tree: old size above the checkpoint size is 400; an honest old size for
    // a smaller checkpoint does not match the record (409 with 5).
    let n4 = m.note(&a, 4, &m.hub);
    let (status, _, body) = add(&url, 5, &[], &n4).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (400, "malformed_request")
    );
    assert!(body.contains("larger than the checkpoint size"), "{body}");
    let (status, _, body) = add(&url, 4, &[], &n4).await;
    assert_eq!((status, body.as_str()), (409, "5\n"));

    // Forged hub signatures: a stranger's key under the origin name, the witness's own
    // key, and the hub's signature with one byte changed.
    let n7 = m.note(&a, 7, &m.hub);
    let proof7 = a.consistency_proof(5, 7).unwrap();
    for forger in [key(200), wkey.clone()] {
        let forged = m.note(&a, 7, &forger);
        let (status, _, body) = add(&url, 5, &proof7, &forged).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (403, "unknown_key"),
            "{body}"
        );
    }
    let mut note = SignedNote::parse(&n7).unwrap();
    note.signatures[0].signature[10] ^= 0x40;
    let (status, _, body) = add(&url, 5, &proof7, &note.to_text()).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "unknown_key"),
        "{body}"
    );

    // Another log's checkpoint: 404.
    let other = Checkpoint {
        origin: "example.com/other-log".into(),
        size: 7,
        root: a.root_at(7).unwrap(),
        extensions: vec![],
    }
    .sign("example.com/other-log", &m.hub)
    .to_text();
    let (status, _, body) = add(&url, 5, &proof7, &other).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (404, "unknown_origin")
    );

    // Malformed bodies: 400 with a reason, never a 500.
    for bad in [
        String::new(),
        "old 5\n".into(),
        "old x\n\n".into(),
        format!("old 5\nnot-base64\n\n{n7}"),
        "old 5\n\nnot a note\n".into(),
        format!("old 0\n{}\n\n{n7}", "A".repeat(43) + "="),
    ] {
        let (status, _, body) = post_text(&url, "/v1/witness/add-checkpoint", bad.clone()).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(error_code(&body), "malformed_request", "{bad:?}");
    }
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/witness/add-checkpoint"))
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The good extension is still cosigned after all that.
    let (status, _, body) = add(&url, 5, &proof7, &n7).await;
    assert_eq!(status, 200, "{body}");

    // The record survives a restart: size 7 and the equivocation.
    w.shutdown().await.unwrap();
    let w = m.serve_protocol_witness(0).await;
    let (status, _, body) = add(&w.url, 0, &[], &n7).await;
    assert_eq!((status, body.as_str()), (409, "7\n"));
    let (_, v) = Client::new(&w.url).get("/v1/witness/equivocations").await;
    assert_eq!(v["equivocations"].as_array().unwrap().len(), 1);
    let n9 = m.note(&a, 9, &m.hub);
    let (status, _, body) = add(&w.url, 7, &a.consistency_proof(7, 9).unwrap(), &n9).await;
    assert_eq!(status, 200, "{body}");
    w.shutdown().await.unwrap();
}

/// The spec's rollback race: many requests from the same old size at once. The check
/// and the update are one step, so exactly one is cosigned and every other one is told
/// the size that won.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_cannot_roll_the_record_back() {
    let m = Mesh::found(1);
    let w = m.serve_protocol_witness(0).await;
    let a = tree(3, 20);
    let (status, _, body) = add(&w.url, 0, &[], &m.note(&a, 3, &m.hub)).await;
    assert_eq!(status, 200, "{body}");
    let mut tasks = tokio::task::JoinSet::new();
    for size in 4..=20u64 {
        let (url, note) = (w.url.clone(), m.note(&a, size, &m.hub));
        let proof = a.consistency_proof(3, size).unwrap();
        tasks.spawn(async move { (size, add(&url, 3, &proof, &note).await) });
    }
    let mut won = Vec::new();
    let mut told = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (size, (status, _, body)) = r.unwrap();
        match status {
            200 => won.push(size),
            409 => told.push(body.trim_end().parse::<u64>().unwrap()),
            s => panic!("size {size}: {s} {body}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(told.len(), 16);
    assert!(told.iter().all(|&t| t == won[0]), "{told:?} vs {won:?}");
    // The record is the winner's size.
    let (status, _, body) = add(&w.url, 0, &[], &m.note(&a, 20, &m.hub)).await;
    assert_eq!((status, body), (409, format!("{}\n", won[0])));
    w.shutdown().await.unwrap();
}

/// A seal needs only the threshold: with one of three witnesses down (threshold 2) the
/// hub still seals, with the two that answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_witness_does_not_stop_the_seal() {
    let m = Mesh::found(3);
    let st = m.state();
    assert_eq!(govmesh_core::seal::seal_threshold(&st).unwrap(), 2);
    let w0 = m.serve_witness(0).await;
    let w2 = m.serve_witness(2).await;
    let hub = m.serve_hub().await;
    let seal = wait_for_seal(&Client::new(&hub.url), 1, &st).await;
    let v = verify_seal(&seal, &st).unwrap();
    let mut want = vec![
        m.witnesses[0].0.node_id().to_owned(),
        m.witnesses[2].0.node_id().to_owned(),
    ];
    want.sort();
    assert_eq!(v.witness_node_ids, want);
    for n in [hub, w0, w2] {
        n.shutdown().await.unwrap();
    }
}

/// Three council hubs and two witnesses: only the Raft leader collects, every hub
/// serves the seal (followers keep the announced one), and after the leader stops the
/// new leader seals what is appended next (the witnesses tell it their sizes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_council_leader_seals_and_a_new_leader_carries_on() {
    let hub_keys = [key(111), key(112), key(113)];
    let hub_addrs = [free_addr(), free_addr(), free_addr()];
    let wkeys = [key(121), key(122)];
    let waddrs = [free_addr(), free_addr()];
    let mut founders: Vec<NodeSpec> = hub_keys
        .iter()
        .zip(hub_addrs)
        .map(|(k, a)| spec(k, NodeType::GovernanceHub, a))
        .collect();
    for (k, a) in wkeys.iter().zip(waddrs) {
        founders.push(spec(k, NodeType::ComplianceWitness, a));
    }
    let genesis = mesh_genesis("council-seal-test", &hub_keys[0], founders, now()).unwrap();
    let mut st = State::new();
    st.apply_record(&genesis).unwrap();
    let dirs: Vec<TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, k) in hub_keys.iter().chain(wkeys.iter()).enumerate() {
        join(dirs[i].path(), k.clone(), &genesis).unwrap();
    }
    let addrs: Vec<SocketAddr> = hub_addrs.iter().chain(waddrs.iter()).copied().collect();
    let mut nodes: Vec<Option<RunningNode>> = Vec::new();
    for (d, a) in dirs.iter().zip(&addrs) {
        nodes.push(Some(
            serve_with(d.path(), *a, ServeOptions::default())
                .await
                .unwrap(),
        ));
    }
    let url = |i: usize| format!("http://{}", addrs[i]);

    // The agreed leader, among the running hubs.
    async fn leader_of(urls: &[String]) -> Option<String> {
        let mut leader = None;
        for u in urls {
            let (s, v) = Client::new(u).get("/v1/council").await;
            if s != 200 {
                return None;
            }
            let l = v["leader"]["node_id"].as_str()?.to_owned();
            if leader.get_or_insert(l.clone()) != &l {
                return None;
            }
        }
        leader
    }
    let hub_urls: Vec<String> = (0..3).map(url).collect();
    let start = Instant::now();
    let leader = loop {
        if let Some(l) = leader_of(&hub_urls).await {
            break l;
        }
        assert!(start.elapsed() < DEADLINE, "no agreed leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Register a node through a follower: the leader seals it, every node serves it.
    let li = hub_keys.iter().position(|k| k.node_id() == leader).unwrap();
    let follower = (li + 1) % 3;
    let register = |i: usize, seed: u8| {
        let token = govmesh_node::load_token(dirs[i].path()).unwrap();
        let u = url(i);
        async move {
            let r = reqwest::Client::new()
                .post(format!("{u}/v1/operator/nodes"))
                .bearer_auth(&token)
                .json(&json!({"node_type": "trust_fork",
                              "public_key": key(seed).public().to_base64()}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            r.json::<Value>().await.unwrap()["index"].as_u64().unwrap()
        }
    };
    let index = register(follower, 131).await;
    for i in 0..5 {
        let seal = wait_for_seal(&Client::new(&url(i)), index + 1, &st).await;
        let v = verify_seal(&seal, &st).unwrap();
        assert_eq!(v.hub_node_id, leader, "node {i}");
        assert_eq!(v.witness_node_ids.len(), 2, "node {i}");
    }

    // The leader stops; the two others elect a new one, which seals the next entry.
    nodes[li].take().unwrap().shutdown().await.unwrap();
    let rest: Vec<String> = (0..3).filter(|&i| i != li).map(url).collect();
    let start = Instant::now();
    let new_leader = loop {
        if let Some(l) = leader_of(&rest).await
            && l != leader
        {
            break l;
        }
        assert!(start.elapsed() < DEADLINE, "no new leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let index = register(follower, 132).await;
    for i in (0..5).filter(|&i| i != li) {
        let seal = wait_for_seal(&Client::new(&url(i)), index + 1, &st).await;
        let v = verify_seal(&seal, &st).unwrap();
        assert_eq!(v.witness_node_ids.len(), 2, "node {i}");
        // Sealed after the change of leader: by the new one.
        assert_eq!(v.hub_node_id, new_leader, "node {i}");
    }
    for n in nodes.into_iter().flatten() {
        n.shutdown().await.unwrap();
    }
}

/// A "hub" that serves a log of its own making (entries and consistency proofs), with
/// checkpoints signed by the real hub key: the witness must fetch the entries, replay
/// them and refuse to cosign when one fails — here an attestation naming a clause hash
/// that clause 5.2.5 does not have. The same log with a correct attestation is
/// cosigned, so the refusal is the attestation's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_validates_attestations_before_cosigning() {
    use axum::extract::{Query, State as AxState};
    use govmesh_core::attestation::{HygienePredicate, HygieneSummary, sign_hygiene};
    use govmesh_core::entry::{AttestOp, Operation, sign_entry_at};
    use govmesh_core::intoto::ResourceDescriptor;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    let m = Mesh::found(1);
    let st = m.state();
    let contract_id = st.governing_contract_id().unwrap().to_owned();
    let good_hash = st.clause_hash(&contract_id, "5.2.5").unwrap();
    let attest = |clause_hash: Digest| {
        let p = HygienePredicate {
            contract_id: contract_id.clone(),
            revision: 1,
            contract_hash: None,
            clause_id: "5.2.5".into(),
            clause_hash,
            summary: HygieneSummary {
                files_checked: 3,
                errors: 0,
                warnings: 0,
                infos: 0,
                reuse_compliant: Some(true),
            },
            passed: true,
        };
        let subject = vec![ResourceDescriptor {
            name: Some("repo".into()),
            digest: [("gitTree".to_owned(), "ab".repeat(20))].into(),
        }];
        let env = sign_hygiene(&m.hub, subject, &p);
        vec![
            m.genesis.clone(),
            LogRecord {
                index: 1,
                timestamp: now(),
                envelope: sign_entry_at(
                    &m.hub,
                    Operation::Attest(AttestOp { envelope: env }),
                    govmesh_node::now(),
                ),
            },
        ]
    };
    let bad_log = attest(Digest([7; 32]));
    let good_log = attest(good_hash);

    // The fake hub at the hub's registry address.
    type Log = Arc<Mutex<Vec<LogRecord>>>;
    let served: Log = Arc::new(Mutex::new(bad_log.clone()));
    async fn entries(
        AxState(log): AxState<Log>,
        Query(q): Query<HashMap<String, u64>>,
    ) -> axum::Json<Value> {
        let l = log.lock().unwrap();
        let (start, end) = (q["start"] as usize, (q["end"] as usize).min(l.len()));
        axum::Json(json!({"entries": l[start.min(end)..end]}))
    }
    async fn consistency(
        AxState(log): AxState<Log>,
        Query(q): Query<HashMap<String, u64>>,
    ) -> axum::Json<Value> {
        let l = log.lock().unwrap();
        let t = MerkleTree::from_leaf_hashes(l.iter().map(LogRecord::leaf_hash));
        let proof = t.consistency_proof(q["from"], q["to"]).unwrap();
        axum::Json(json!({"from": q["from"], "to": q["to"], "proof": proof}))
    }
    let app = axum::Router::new()
        .route("/v1/log/entries", axum::routing::get(entries))
        .route("/v1/log/proof/consistency", axum::routing::get(consistency))
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind(m.hub_addr).await.unwrap();
    let fake = tokio::spawn(async move { axum::serve(listener, app).await });

    let w = m.serve_witness(0).await;
    let note_of = |log: &[LogRecord]| {
        let t = MerkleTree::from_leaf_hashes(log.iter().map(LogRecord::leaf_hash));
        m.note(&t, 2, &m.hub)
    };
    let (status, _, body) = add(&w.url, 0, &[], &note_of(&bad_log)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "not_validated"),
        "{body}"
    );
    assert!(body.contains("5.2.5") || body.contains("clause"), "{body}");
    // Nothing was cosigned or stored: the witness's log is still the genesis alone.
    let (_, v) = Client::new(&w.url).get("/v1/status").await;
    assert_eq!(
        v["log_size"].as_u64().or(v["size"].as_u64()),
        Some(1),
        "{v}"
    );

    *served.lock().unwrap() = good_log.clone();
    let (status, _, body) = add(&w.url, 0, &[], &note_of(&good_log)).await;
    assert_eq!(status, 200, "{body}");
    let (_, v) = Client::new(&w.url).get("/v1/attestations").await;
    assert_eq!(v["attestations"].as_array().map(Vec::len), Some(1), "{v}");

    w.shutdown().await.unwrap();
    fake.abort();
}

/// The log the hub serves, replayed through the audit library (the State a seal of
/// its size is checked against).
async fn replayed(c: &Client) -> govmesh_core::audit::Audit {
    let mut audit = govmesh_core::audit::Audit::new();
    loop {
        let (s, page) = c
            .get(&format!("/v1/log/entries?start={}", audit.size()))
            .await;
        assert_eq!(s, 200, "{page}");
        let records: Vec<LogRecord> = serde_json::from_value(page["entries"].clone()).unwrap();
        if records.is_empty() {
            return audit;
        }
        audit.extend(&records).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_witness_list_decides_whom_the_hub_asks_and_what_counts() {
    let m = Mesh::found(2);
    let st = m.state();
    let (w0_id, w1_id) = (
        m.witnesses[0].0.node_id().to_owned(),
        m.witnesses[1].0.node_id().to_owned(),
    );
    let w0 = m.serve_witness(0).await;
    let w1 = m.serve_witness(1).await;
    let hub = m.serve_hub().await;
    let c = Client::new(&hub.url);
    let before = wait_for_seal(&c, 1, &st).await;
    assert_eq!(verify_seal(&before, &st).unwrap().witness_node_ids.len(), 2);

    // Clause 5.4 now lists witness 0 only, with a threshold of 1.
    let token = govmesh_node::load_token(m.hub_dir.path()).unwrap();
    let (_, codex) = c.get("/v1/contracts/codex").await;
    let text = codex["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cl| cl["clause_id"] == "5.4")
        .unwrap()["text"]
        .clone();
    let (s, p) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.4", "proposed_text": text, "rationale": "witness 1 retires",
                    "diff": [{"op": "replace", "path": "/witnesses", "value": [w0_id]},
                             {"op": "replace", "path": "/seal_threshold", "value": 1}]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["proposal_id"].as_str().unwrap().to_owned();
    let (s, v) = c
        .post(
            "/v1/operator/vote",
            &json!({"proposal_id": pid, "choice": "approve"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["status"], "adopted", "{p}");
    let adopted_at = v["index"].as_u64().unwrap();

    // Seals after the adoption carry witness 0's cosignature and not witness 1's (it
    // is no longer asked), and verify against the log's own rules.
    let start = Instant::now();
    let seal = loop {
        let (s, text) = c.get_text("/v1/log/seal").await;
        assert_eq!(s, 200, "{text}");
        let size = SignedNote::parse(&text).unwrap().checkpoint().unwrap().size;
        if size > adopted_at {
            break text;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no seal after the adoption: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let names: Vec<String> = SignedNote::parse(&seal)
        .unwrap()
        .signatures
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert!(names.contains(&witness_key_name(&w0_id)), "{seal}");
    assert!(!names.contains(&witness_key_name(&w1_id)), "{seal}");
    let audit = replayed(&c).await;
    let v = audit.verify_seal(&seal).unwrap();
    assert_eq!((v.threshold, v.witness_node_ids), (1, vec![w0_id.clone()]));

    // A seal of the same checkpoint cosigned by witness 1 alone is no seal any more.
    let (_, checkpoint) = c.get_text("/v1/log/checkpoint").await;
    let note = SignedNote::parse(&checkpoint).unwrap();
    let (k1, _, _) = &m.witnesses[1];
    let line = Cosignature::sign(&note.body, &witness_key_name(&w1_id), k1, 1_800_000_000)
        .unwrap()
        .line();
    let by_w1 = format!("{checkpoint}{line}\n");
    let e = audit.verify_seal(&by_w1).unwrap_err();
    assert!(e.to_string().contains("seal_threshold is 1"), "{e}");
    for n in [hub, w0, w1] {
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_past_the_adopted_checkpoint_cadence_reports_its_seal_overdue() {
    // One witness, not running: nothing gets sealed (threshold 1).
    let m = Mesh::found(1);
    let hub = m.serve_hub().await;
    let c = Client::new(&hub.url);
    let token = govmesh_node::load_token(m.hub_dir.path()).unwrap();
    let (_, codex) = c.get("/v1/contracts/codex").await;
    let text = codex["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cl| cl["clause_id"] == "11.0")
        .unwrap()["text"]
        .clone();
    let (s, p) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.0", "proposed_text": text, "rationale": "seal sooner",
                    "diff": [{"op": "replace", "path": "/checkpoint/max_entries_between", "value": 2}]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    // Two entries wait for a seal: within the Codex's cadence (1000 entries, 60 s).
    let ready = |c: &Client| {
        let c = Client::new(&c.url);
        async move { c.get("/readyz").await }
    };
    let (s, r) = ready(&c).await;
    assert_eq!(s, 200, "{r}");
    let pid = p["proposal_id"].as_str().unwrap();
    let (s, v) = c
        .post(
            "/v1/operator/vote",
            &json!({"proposal_id": pid, "choice": "approve"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // Adopted: three unsealed entries are now past max_entries_between 2.
    let (s, r) = ready(&c).await;
    assert_eq!(s, 503, "{r}");
    let msg = r["error"]["message"].as_str().unwrap();
    assert!(msg.contains("the seal is overdue"), "{msg}");
    assert!(msg.contains("max_entries_between is 2"), "{msg}");
    let (s, metrics) = c.get_text("/metrics").await;
    assert_eq!(s, 200);
    assert!(
        metrics.lines().any(|l| l == "govmesh_seal_overdue 1"),
        "{metrics}"
    );
    hub.shutdown().await.unwrap();
}

/// Adopts a change of `clause`'s rules through the hub's operator endpoints (the
/// single hub's vote decides) and returns the index of the adopting vote.
async fn adopt(c: &Client, token: &str, clause: &str, diff: Value) -> u64 {
    let (_, codex) = c.get("/v1/contracts/codex").await;
    let text = codex["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cl| cl["clause_id"] == clause)
        .unwrap()["text"]
        .clone();
    let (s, p) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": clause, "proposed_text": text, "rationale": "test", "diff": diff}),
            Some(token),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["proposal_id"].as_str().unwrap();
    let (s, v) = c
        .post(
            "/v1/operator/vote",
            &json!({"proposal_id": pid, "choice": "approve"}),
            Some(token),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["status"], "adopted", "{p}");
    v["index"].as_u64().unwrap()
}

/// Polls the hub's seal until `done(size, freshness)` holds; returns the seal text.
async fn seal_until(c: &Client, what: &str, done: impl Fn(u64, u64) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (s, text) = c.get_text("/v1/log/seal").await;
        if s == 200 {
            let size = SignedNote::parse(&text).unwrap().checkpoint().unwrap().size;
            if done(size, govmesh_node::seal::freshness(&text)) {
                return text;
            }
        }
        assert!(start.elapsed() < DEADLINE, "{what}: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of a metric line `name` (with its labels) on `c`, 0 when absent.
async fn metric(c: &Client, line: &str) -> f64 {
    let (_, text) = c.get_text("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_log_is_sealed_again_on_the_adopted_max_interval() {
    let m = Mesh::found(1);
    let st = m.state();
    let w = m.serve_witness(0).await;
    let hub = m.serve_hub().await;
    let c = Client::new(&hub.url);
    let token = govmesh_node::load_token(m.hub_dir.path()).unwrap();
    wait_for_seal(&c, 1, &st).await;
    // Clause 11.0's max_interval_secs becomes 1: a seal a second old is renewed.
    let at = adopt(
        &c,
        &token,
        "11.0",
        json!([{"op": "replace", "path": "/checkpoint/max_interval_secs", "value": 1}]),
    )
    .await;
    // Nothing more is submitted (the adoption's sync record and acks still follow):
    // the hub seals the same checkpoint again, cosigned later, and every renewal
    // verifies against the log's rules.
    let first_seen = std::sync::Mutex::new((0u64, 0u64));
    let renewed = seal_until(&c, "the seal was not renewed", |s, t| {
        let mut f = first_seen.lock().unwrap();
        if s != f.0 {
            *f = (s, t);
        }
        s > at && t >= f.1 + 2
    })
    .await;
    let size = SignedNote::parse(&renewed)
        .unwrap()
        .checkpoint()
        .unwrap()
        .size;
    let audit = replayed(&c).await;
    let v = audit.verify_seal(&renewed).unwrap();
    assert_eq!(v.checkpoint.size, size);
    assert!(
        metric(&c, "govmesh_seal_rounds_total{outcome=\"renewed\"}").await >= 2.0,
        "renewals are counted"
    );
    for n in [hub, w] {
        n.shutdown().await.unwrap();
    }
}

/// An HTTP proxy in front of a witness that holds every request for `delay_ms`
/// (read at each request) before passing it on.
async fn slow_proxy(
    listen: SocketAddr,
    upstream: String,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};
    use axum::response::IntoResponse;
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (http, upstream, delay_ms) = (http.clone(), upstream.clone(), delay_ms.clone());
            async move {
                let ms = delay_ms.load(std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let mut req = http.request(method, format!("{upstream}{uri}")).body(body);
                for (k, v) in &headers {
                    if k != "host" && k != "content-length" {
                        req = req.header(k, v);
                    }
                }
                match req.send().await {
                    Ok(r) => {
                        let status = r.status();
                        let ct = r.headers().get("content-type").cloned();
                        let b = r.bytes().await.unwrap_or_default();
                        let mut resp = (status, b).into_response();
                        if let Some(ct) = ct {
                            resp.headers_mut().insert("content-type", ct);
                        }
                        resp
                    }
                    Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_witness_counts_only_within_the_adopted_cosign_timeout() {
    // Two witnesses, seal_threshold 2: every seal needs witness 1, which answers
    // through a proxy that holds each request for 3 s.
    let m = Mesh::found(2);
    let st = m.state();
    let w1_id = m.witnesses[1].0.node_id().to_owned();
    let w0 = m.serve_witness(0).await;
    let (_, d1, registered) = &m.witnesses[1];
    let w1 = serve_with(d1.path(), free_addr(), ServeOptions::default())
        .await
        .unwrap();
    let delay = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(3000));
    let proxy = slow_proxy(*registered, w1.url.clone(), delay.clone()).await;
    let hub = m.serve_hub().await;
    let c = Client::new(&hub.url);
    let token = govmesh_node::load_token(m.hub_dir.path()).unwrap();
    let timeouts =
        format!("govmesh_cosign_failures_total{{witness=\"{w1_id}\",reason=\"timeout\"}}");

    // Under the Codex's 10 s timeout the slow witness's cosignature arrives in time.
    let seal = wait_for_seal(&c, 1, &st).await;
    assert_eq!(verify_seal(&seal, &st).unwrap().witness_node_ids.len(), 2);
    assert_eq!(metric(&c, &timeouts).await, 0.0);

    // Adopted: 1 s. The entries that adopt it are sealed under the new rule, which
    // the slow witness cannot meet: rounds fall short, naming the timeout.
    let at = adopt(
        &c,
        &token,
        "5.4",
        json!([{"op": "replace", "path": "/checkpoint_cosign_timeout_secs", "value": 1}]),
    )
    .await;
    let start = Instant::now();
    while metric(&c, &timeouts).await < 2.0 {
        assert!(
            start.elapsed() < DEADLINE,
            "the slow witness never timed out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, seal) = c.get_text("/v1/log/seal").await;
    let size = SignedNote::parse(&seal).unwrap().checkpoint().unwrap().size;
    assert!(
        size <= at,
        "sealed past the adoption at {at} without the slow witness: {seal}"
    );
    let (s, r) = c.get("/readyz").await;
    assert_eq!(s, 200, "{r}");

    // The same witness answering at once meets the 1 s timeout: the adoption is sealed.
    delay.store(0, std::sync::atomic::Ordering::SeqCst);
    seal_until(&c, "no seal once the witness is fast", |s, _| s > at).await;
    proxy.abort();
    for n in [hub, w0, w1] {
        n.shutdown().await.unwrap();
    }
}
