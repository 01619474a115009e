//! `govmesh verify` against every role of a real multi-process mesh (1 hub, 2
//! witnesses, 1 trust fork): the seal (hub signature plus witness cosignatures,
//! checked against the registry replayed from the log) is the trust anchor, through a
//! witness or a fork as through the hub, and offline in an exported file; a seal with
//! a tampered cosignature (in a file, or served by a rewriting proxy) fails naming the
//! witness; entries the hub holds beyond its last seal are reported as unsealed.

use crate::mesh::*;
use crate::util::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The node's seal text, if it serves one.
fn seal_text(url: &str) -> Option<String> {
    let r = http().get(format!("{url}/v1/log/seal")).send().ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.text().ok()
}

/// The tree size a seal is of (second line of the checkpoint body).
fn seal_size(text: &str) -> u64 {
    text.lines().nth(1).unwrap().parse().unwrap()
}

/// Waits until every running node holds the same log and `sealed` nodes serve a seal
/// of exactly that size; returns the size.
fn wait_sealed(mesh: &Mesh, sealed: &[&str]) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let (size, _) = mesh.converged();
        let sizes: Vec<Option<u64>> = sealed
            .iter()
            .map(|name| {
                let n = mesh.nodes.iter().find(|n| n.name == *name).unwrap();
                seal_text(&n.url).map(|t| seal_size(&t))
            })
            .collect();
        if sizes.iter().all(|s| *s == Some(size)) && mesh.converged().0 == size {
            return size;
        }
        assert!(
            Instant::now() < deadline,
            "no seal of size {size} on {sealed:?} within {WAIT:?}: {sizes:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The seal with the signature of its first witness cosignature changed (one bit of
/// the Ed25519 signature, key id kept); returns it and that witness's node id.
fn tamper_cosignature(seal: &str) -> (String, String) {
    let prefix = "\u{2014} govmesh-witness/";
    let line = seal
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no witness cosignature in the seal:\n{seal}"));
    let (name, sig) = line
        .strip_prefix("\u{2014} ")
        .unwrap()
        .split_once(' ')
        .unwrap();
    let witness = name.strip_prefix("govmesh-witness/").unwrap().to_owned();
    let mut raw = STANDARD.decode(sig).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let bad = format!("\u{2014} {name} {}", STANDARD.encode(raw));
    (seal.replacen(line, &bad, 1), witness)
}

/// An HTTP proxy to `upstream` that answers `GET /v1/log/seal` with `tamper(seal)` and
/// passes every other GET through unchanged (one request per connection). Returns its
/// URL; the thread ends with the test process.
fn rewriting_proxy(upstream: String, tamper: fn(&str) -> String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let client = http();
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // The rest of the head (GETs carry no body).
            loop {
                let mut h = String::new();
                match reader.read_line(&mut h) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if h == "\r\n" || h == "\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
            let Ok(r) = client.get(format!("{upstream}{path}")).send() else {
                continue;
            };
            let status = r.status();
            let ctype = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let mut body = r.text().unwrap_or_default();
            if path == "/v1/log/seal" && status.is_success() {
                body = tamper(&body);
            }
            let _ = write!(
                conn,
                "HTTP/1.1 {} {}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                body.len()
            );
        }
    });
    url
}

fn write_json(path: &std::path::Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

#[test]
fn verify_any_node_of_a_mesh_by_its_seal() {
    let mut mesh = Mesh::start(Plan {
        hubs: 1,
        witnesses: 2,
        forks: 1,
    });
    let id = |mesh: &Mesh, name: &str| {
        mesh.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap()
            .node_id
            .clone()
    };
    let (hub_id, fork_id) = (id(&mesh, "hub-1"), id(&mesh, "fork-1"));
    let mut witness_ids = [id(&mesh, "witness-1"), id(&mesh, "witness-2")];
    witness_ids.sort();
    let hub_url = mesh.node("hub-1").url.clone();
    let fork_url = mesh.node("fork-1").url.clone();
    let witness_url = mesh.node("witness-1").url.clone();

    // Something beyond the genesis, sealed and replicated everywhere.
    let key = mesh.node("hub-1").key();
    assert!(
        propose(&hub_url, &key, 1).is_some(),
        "the proposal is acknowledged"
    );
    let sealed = wait_sealed(&mesh, &["fork-1", "witness-1", "witness-2", "hub-1"]);
    assert!(sealed >= 2, "{sealed}");

    // Against the fork and a witness: the seal is named, the node's own checkpoint
    // (signed by its own key) is reported as its claim.
    for (url, signer, role) in [
        (&fork_url, &fork_id, "trust_fork"),
        (&witness_url, &id(&mesh, "witness-1"), "compliance_witness"),
    ] {
        let v = ok_json(&["verify", "--json", "--node", url]);
        // Later entries (acks) may be sealed meanwhile: at least the awaited seal.
        let seal = &v["seal"];
        let size = seal["size"].as_u64().unwrap();
        assert!(size >= sealed, "{v}");
        assert_eq!(seal["source"], "seal", "{v}");
        assert_eq!(seal["signed_by"], json!(hub_id), "{v}");
        let threshold = seal["threshold"].as_u64().unwrap();
        assert!(threshold >= 1, "the mesh has witnesses: {v}");
        let cosigners: Vec<String> = serde_json::from_value(seal["cosigned_by"].clone()).unwrap();
        assert!(cosigners.len() as u64 >= threshold, "{v}");
        assert!(cosigners.iter().all(|c| witness_ids.contains(c)), "{v}");
        let entries = v["entries"].as_u64().unwrap();
        assert!(entries >= size, "{v}");
        assert_eq!(v["unsealed_entries"], entries - size, "{v}");
        assert_eq!(v["checkpoint"]["signed_by"], json!(signer), "{v}");
        assert_eq!(v["checkpoint"]["signer_type"], role, "{v}");
        assert_eq!(v["node_status_matches"], true, "{v}");

        let out = ok(&["verify", "--node", url]);
        assert!(
            out.contains(&format!(
                "(govmesh/{}) signed by governance hub {hub_id}, cosigned by witness(es) ",
                &v["mesh_id"].as_str().unwrap()[..16],
            )) && out.lines().any(|l| l.starts_with("seal      size ")),
            "{out}"
        );
    }

    // Exported from the fork: the seal is in the file and verified offline.
    let d = tmp();
    let export = d.path().join("log.json");
    ok(&["log", "export", "--node", &fork_url, "--out", s(&export)]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let seal = doc["seal"]
        .as_str()
        .expect("the export holds the seal")
        .to_owned();
    let exported = seal_size(&seal);
    assert!(exported >= sealed, "{exported}");
    let vf = ok_json(&["verify", "--json", s(&export)]);
    assert_eq!(vf["seal"]["size"], exported, "{vf}");
    assert_eq!(vf["seal"]["source"], "seal", "{vf}");
    assert_eq!(vf["seal"]["signed_by"], json!(hub_id), "{vf}");
    assert_eq!(vf["checkpoint"]["signer_type"], "trust_fork", "{vf}");

    // The file's seal with one cosignature changed: refused, naming the witness.
    let (bad, witness) = tamper_cosignature(&seal);
    let mut t = doc.clone();
    t["seal"] = json!(bad);
    let tampered = d.path().join("tampered.json");
    write_json(&tampered, &t);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(
        err.contains(&format!("seal of size {exported}"))
            && err.contains(&format!("cosignature of witness {witness} is invalid")),
        "{err}"
    );
    // The last entry's timestamp changed: the root is not the sealed one, and the
    // entry is named (the file's leaf hashes match the seal).
    let entries = doc["entries"].as_array().unwrap();
    let last = entries.len() - 1;
    let ts = govmesh_core::Timestamp::parse(entries[last]["timestamp"].as_str().unwrap()).unwrap();
    let mut t = doc.clone();
    t["entries"][last]["timestamp"] =
        json!(govmesh_core::Timestamp::from_millis(ts.millis() + 1).to_rfc3339());
    write_json(&tampered, &t);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(err.contains(&format!("entry {last} (")), "{err}");
    // The seal dropped and only the fork's checkpoint left: no trust anchor.
    let mut t = doc.clone();
    t.as_object_mut().unwrap().remove("seal");
    write_json(&tampered, &t);
    let err = fails(&["verify", s(&tampered)], 1);
    assert!(
        err.contains("no seal") && err.contains("the checkpoint is not one"),
        "{err}"
    );

    // A node serving a seal with a tampered cosignature (a rewriting proxy in front of
    // the fork): refused, naming the witness.
    let proxy = rewriting_proxy(fork_url.clone(), |s| tamper_cosignature(s).0);
    let err = fails(&["verify", "--node", &proxy], 1);
    assert!(
        err.contains("seal of size ")
            && witness_ids
                .iter()
                .any(|w| err.contains(&format!("cosignature of witness {w} is invalid"))),
        "{err}"
    );
    // The same proxy passing the seal through unchanged verifies: the failure above is
    // the tampered cosignature, not the proxy.
    let honest = rewriting_proxy(fork_url.clone(), str::to_owned);
    let v = ok_json(&["verify", "--json", "--node", &honest]);
    assert!(v["seal"]["size"].as_u64().unwrap() >= sealed, "{v}");

    // The witnesses stop: the hub orders a new entry it cannot seal. Verified by
    // replay, reported as not yet covered by a seal, not a failure.
    mesh.node("witness-1").kill9();
    mesh.node("witness-2").kill9();
    assert!(
        propose(&hub_url, &key, 2).is_some(),
        "the proposal is acknowledged"
    );
    let v = ok_json(&["verify", "--json", "--node", &hub_url]);
    let size = v["seal"]["size"].as_u64().unwrap();
    assert!(size >= sealed, "{v}");
    let entries = v["entries"].as_u64().unwrap();
    assert!(entries > size, "the new entry is beyond the seal: {v}");
    assert_eq!(v["unsealed_entries"], entries - size, "{v}");
    assert_eq!(v["checkpoint"]["signer_type"], "governance_hub", "{v}");
    let out = ok(&["verify", "--node", &hub_url]);
    assert!(
        out.contains("newer entries verified by replay but not yet covered by a seal"),
        "{out}"
    );
}
