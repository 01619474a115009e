//! What operators run a node with, against real served nodes: `/healthz`, `/readyz`
//! (a hub once the council has a leader, any node once it holds the latest seal it
//! knows) and `/metrics` in the Prometheus text format, whose figures match the
//! node's own API and count what was done to it.

use super::peers::Trio;
use super::util::{Client, Mesh};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The samples of a Prometheus text exposition: `name{labels}` -> value. Every line
/// that is not a comment must be `name[{labels}] value`.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        assert!(
            name.starts_with("govmesh_"),
            "a metric without the govmesh_ prefix: {line:?}"
        );
        out.insert(name.to_owned(), v);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_of_a_served_hub() {
    let m = Mesh::found();
    let node = m.serve().await;
    let c = Client::new(&node.url);

    let (s, v) = c.get("/healthz").await;
    assert_eq!((s, &v["status"]), (200, &json!("alive")), "{v}");
    assert_eq!(v["node_id"], m.info.node_id);

    // Ready once the council (of one: the founders have no addresses) has a leader.
    let t0 = Instant::now();
    let ready = loop {
        let (s, v) = c.get("/readyz").await;
        if s == 200 {
            break v;
        }
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (503, Some("not_ready")),
            "{v}"
        );
        assert!(t0.elapsed() < Duration::from_secs(60), "never ready: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ready["council_leader"], m.info.node_id, "{ready}");

    // One refusal of each of two kinds, one submission.
    let (s, _) = c
        .post_raw(
            "/v1/entries",
            "application/json",
            b"{not json".to_vec(),
            None,
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.1"}),
            Some("wrong-token-0123456789"),
        )
        .await;
    assert_eq!(s, 401);
    let (s, r) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.1", "proposed_text": "t", "rationale": "r"}),
            Some(&m.token()),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let size = c.log_size().await;
    assert_eq!(size, 2);

    let r = c
        .http
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let m = samples(&text);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in:\n{text}"));
    assert_eq!(get("govmesh_log_size"), size as f64);
    assert!(get("govmesh_council_term") >= 1.0, "{text}");
    assert_eq!(get("govmesh_council_has_leader"), 1.0);
    assert_eq!(get("govmesh_council_is_leader"), 1.0);
    assert_eq!(
        get(&format!(
            "govmesh_council_leader{{node_id=\"{}\"}}",
            node.node_id
        )),
        1.0
    );
    assert!(get("govmesh_commit_index") >= 1.0, "{text}");
    assert_eq!(get("govmesh_refusals_total{code=\"malformed_json\"}"), 1.0);
    assert_eq!(get("govmesh_refusals_total{code=\"unauthorized\"}"), 1.0);
    // The one successful submission is timed; the refused ones are not.
    assert_eq!(get("govmesh_submit_seconds_count"), 1.0);
    assert!(get("govmesh_apply_seconds_count") >= 1.0, "{text}");
    assert!(
        text.contains("# TYPE govmesh_submit_seconds histogram"),
        "{text}"
    );
    assert!(m.contains_key("govmesh_sync_lag_entries"), "{text}");
    assert!(m.contains_key("govmesh_uptime_seconds"), "{text}");
    node.shutdown().await.unwrap();
}

/// A witness and a fork are ready once they hold the latest seal they know; their
/// metrics say how far behind they are and how they see their peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_hubs_are_ready_when_caught_up_and_report_their_peers() {
    let t = Trio::start().await;
    let hub = Client::new(&t.nodes[0].url);
    for n in &t.nodes[1..] {
        let c = Client::new(&n.url);
        let t0 = Instant::now();
        let ready = loop {
            let (s, v) = c.get("/readyz").await;
            if s == 200 {
                break v;
            }
            assert_eq!(v["error"]["code"], "not_ready", "{v}");
            assert!(t0.elapsed() < Duration::from_secs(60), "never ready: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(ready["council_leader"].is_null(), "{ready}");
        let seal = ready["seal_size"].as_u64().unwrap_or(0);
        assert!(ready["log_size"].as_u64().unwrap() >= seal, "{ready}");
        let (_, text) = c.get_text("/metrics").await;
        let m = samples(&text);
        assert!(!m.contains_key("govmesh_council_term"), "{text}");
        assert!(m.contains_key("govmesh_sync_lag_entries"), "{text}");
        // Two registered peers, counted once each by liveness.
        let peers: f64 = m
            .iter()
            .filter(|(k, _)| k.starts_with("govmesh_peers{"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(peers, 2.0, "{text}");
    }
    assert!(hub.log_size().await >= 1);
    t.stop().await;
}
