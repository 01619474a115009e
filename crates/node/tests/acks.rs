//! Sync acknowledgements end to end on real servers: one governance hub and two
//! trust_fork founders. The forks replicate the genesis, find they owe an `ack_sync`
//! for revision 1 and send it through their forwarding orderer to the hub; after an
//! adoption they ack revision 2. `/v1/sync` shows the records completed, every node
//! acked each revision exactly once (also after a fork restarts), and a hub-signed
//! checkpoint fork submitted as `evidence` shows in `/v1/equivocations`.

use super::util::Client;
use super::util::{free_addr, key, spec};
use govmesh_core::Digest;
use govmesh_core::checkpoint::Checkpoint;
use govmesh_core::entry::{EvidenceKind, EvidenceOp, Operation, sign_entry_at};
use govmesh_core::model::NodeType;
use govmesh_node::{ServeOptions, join, mesh_genesis, now, serve_with};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `f` until it returns `Some`, failing after [`DEADLINE`] with `what`.
async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sync_record(hub: &Client, revision: u64) -> Option<Value> {
    let (s, v) = hub.get("/v1/sync").await;
    assert_eq!(s, 200, "{v}");
    v["sync_records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["revision"] == revision)
        .cloned()
}

/// (node id, revision) -> how many `ack_sync` entries the hub's log holds.
async fn ack_counts(hub: &Client) -> BTreeMap<(String, u64), u32> {
    use base64::Engine as _;
    let (s, v) = hub.get("/v1/log/entries?start=0").await;
    assert_eq!(s, 200, "{v}");
    let mut out = BTreeMap::new();
    for rec in v["entries"].as_array().unwrap() {
        let payload = base64::engine::general_purpose::STANDARD
            .decode(rec["envelope"]["payload"].as_str().unwrap())
            .unwrap();
        let p: Value = serde_json::from_slice(&payload).unwrap();
        if p["type"] == "ack_sync" {
            *out.entry((
                p["author"].as_str().unwrap().to_owned(),
                p["revision"].as_u64().unwrap(),
            ))
            .or_insert(0) += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forks_acknowledge_each_revision_once_through_the_hub() {
    let hub_key = key(81);
    let fork_keys = [key(82), key(83)];
    let hub_addr = free_addr();
    let fork_addrs = [free_addr(), free_addr()];
    let mut founders = vec![spec(&hub_key, NodeType::GovernanceHub, hub_addr)];
    for (k, a) in fork_keys.iter().zip(fork_addrs) {
        founders.push(spec(k, NodeType::TrustFork, a));
    }
    let genesis = mesh_genesis("acks-test", &hub_key, founders, now()).unwrap();
    let hub_dir = tempfile::tempdir().unwrap();
    let info = join(hub_dir.path(), hub_key.clone(), &genesis).unwrap();
    let fork_dirs: Vec<_> = fork_keys
        .iter()
        .map(|k| {
            let d = tempfile::tempdir().unwrap();
            join(d.path(), k.clone(), &genesis).unwrap();
            d
        })
        .collect();
    let fast = || ServeOptions {
        replication_interval: Some(Duration::from_millis(200)),
        ..ServeOptions::default()
    };
    let hub = serve_with(hub_dir.path(), hub_addr, ServeOptions::default())
        .await
        .unwrap();
    let mut forks = Vec::new();
    for (d, a) in fork_dirs.iter().zip(fork_addrs) {
        forks.push(serve_with(d.path(), a, fast()).await.unwrap());
    }
    let h = Client::new(&hub.url);

    // Revision 1: the genesis author (the hub) is the source, the forks the targets.
    let r1 = until("revision 1 completed", || async {
        sync_record(&h, 1)
            .await
            .filter(|r| r["status"] == "completed")
    })
    .await;
    assert_eq!(r1["source_node_id"], hub_key.node_id());
    let mut targets: Vec<&str> = r1["target_node_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    targets.sort();
    let mut want: Vec<&str> = fork_keys.iter().map(|k| k.node_id()).collect();
    want.sort();
    assert_eq!(targets, want);
    assert_eq!(r1["successful_nodes"].as_array().unwrap().len(), 2);

    // Revision 2, adopted by the hub's vote.
    let token = govmesh_node::load_token(hub_dir.path()).unwrap();
    let (s, p) = h
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.0", "proposed_text": "acknowledged", "rationale": "acks test"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["proposal_id"].as_str().unwrap().to_owned();
    let (s, v) = h
        .post(
            "/v1/operator/vote",
            &json!({"proposal_id": pid, "choice": "approve"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let r2 = until("revision 2 completed", || async {
        sync_record(&h, 2)
            .await
            .filter(|r| r["status"] == "completed")
    })
    .await;
    assert_eq!(r2["source_node_id"], hub_key.node_id());
    assert!(r2["completion_time"].is_string(), "{r2}");

    // A fork restarted owes nothing and sends nothing more.
    let f0 = forks.remove(0);
    f0.shutdown().await.unwrap();
    let again = serve_with(fork_dirs[0].path(), fork_addrs[0], fast())
        .await
        .unwrap();
    let size = h.log_size().await;
    until("the restarted fork to catch up", || async {
        let c = Client::new(&again.url);
        (c.log_size().await == size).then_some(())
    })
    .await;
    let counts = ack_counts(&h).await;
    let mut want = BTreeMap::new();
    for k in &fork_keys {
        for rev in [1, 2] {
            want.insert((k.node_id().to_owned(), rev), 1);
        }
    }
    assert_eq!(counts, want, "each fork acks each revision exactly once");

    // Evidence of a hub checkpoint fork, submitted by a fork (forwarded to the hub).
    let origin = govmesh_node::checkpoint_origin(&Digest::from_hex(&info.mesh_id).unwrap());
    let note = |root: &[u8]| {
        Checkpoint {
            origin: origin.clone(),
            size: 2,
            root: Digest::sha256(root),
            extensions: vec![],
        }
        .sign(&origin, &hub_key)
        .to_text()
    };
    let env = sign_entry_at(
        &fork_keys[1],
        Operation::Evidence(EvidenceOp {
            kind: EvidenceKind::CheckpointFork,
            notes: vec![note(b"a"), note(b"b")],
        }),
        govmesh_node::now(),
    );
    let f1 = Client::new(&forks[0].url);
    let (s, v) = f1
        .post("/v1/entries", &serde_json::to_value(&env).unwrap(), None)
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, eq) = h.get("/v1/equivocations").await;
    assert_eq!(s, 200);
    let forks_seen = eq["checkpoint_forks"].as_array().unwrap();
    assert_eq!(forks_seen.len(), 1, "{eq}");
    assert_eq!(forks_seen[0]["size"], 2);
    assert_eq!(forks_seen[0]["reported_by"], fork_keys[1].node_id());
    assert_eq!(forks_seen[0]["signers"][0], hub_key.node_id());
    // The same evidence again is a conflict.
    let (s, v) = f1
        .post("/v1/entries", &serde_json::to_value(&env).unwrap(), None)
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, a) = h.get("/v1/attestations").await;
    assert_eq!((s, a["total"].clone()), (200, json!(0)));

    again.shutdown().await.unwrap();
    for f in forks {
        f.shutdown().await.unwrap();
    }
    hub.shutdown().await.unwrap();
}
