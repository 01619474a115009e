//! Many clients at once: concurrent submissions each get their own index (the orderer
//! serializes them), concurrent reads all succeed, and the log ends up exactly as long
//! as the number of accepted entries.

use super::util::{Client, Mesh};
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_and_reads() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = std::sync::Arc::new(Client::new(&node.url));
    const N: usize = 24;

    let mut writers = Vec::new();
    for i in 0..N {
        let (c, token) = (c.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            c.post(
                "/v1/operator/propose",
                &json!({"clause": "11.1", "proposed_text": format!("text {i}"), "rationale": "r"}),
                Some(&token),
            )
            .await
        }));
    }
    let mut readers = Vec::new();
    for i in 0..N {
        let c = c.clone();
        readers.push(tokio::spawn(async move {
            let path = match i % 3 {
                0 => "/v1/status",
                1 => "/v1/proposals",
                _ => "/v1/log/entries?start=0",
            };
            c.get(path).await
        }));
    }
    let mut indices = BTreeSet::new();
    for w in writers {
        let (s, r) = w.await.unwrap();
        assert_eq!(s, 201, "{r}");
        assert!(
            indices.insert(r["index"].as_u64().unwrap()),
            "index reused: {r}"
        );
    }
    for r in readers {
        let (s, v) = r.await.unwrap();
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(indices, (1..=N as u64).collect::<BTreeSet<_>>());
    assert_eq!(c.log_size().await, N as u64 + 1);

    // Timestamps never go back along the log.
    let (_, e) = c.get("/v1/log/entries?start=0").await;
    let stamps: Vec<String> = e["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timestamp"].as_str().unwrap().to_owned())
        .collect();
    let ts: Vec<_> = stamps
        .iter()
        .map(|s| govmesh_core::Timestamp::parse(s).unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    node.shutdown().await.unwrap();
}
