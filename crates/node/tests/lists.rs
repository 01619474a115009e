//! The list endpoints page with `limit` and an opaque `cursor` (issue 15, "Lists that
//! scale"), over HTTP on a served node: following `next_cursor` gives every item exactly
//! once in the list's stable order, also when items are added between pages; filters
//! filter; a bad limit, cursor or filter is a 400 naming the parameter.

use crate::util::*;
use govmesh_core::entry::{NodeSpec, Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{NodeType, VoteChoice};
use serde_json::{Value, json};

/// Every item of `key` in `path` (which may hold filters), `limit` at a time; checks
/// that each page holds at most `limit` and that only the last has no `next_cursor`.
async fn page_through(c: &Client, path: &str, key: &str, limit: u64) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let (s, v) = c.get(&url).await;
        assert_eq!(s, 200, "{url}: {v}");
        let items = v[key].as_array().unwrap_or_else(|| panic!("{url}: {v}"));
        assert!(items.len() as u64 <= limit, "{url}: {} items", items.len());
        all.extend(items.iter().cloned());
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(v["next_cursor"].is_null(), "{url}: {v}");
                return all;
            }
        }
    }
    panic!("{path}: paging did not end");
}

fn strs(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|v| {
            v[field]
                .as_str()
                .map(str::to_owned)
                .or_else(|| v[field].as_u64().map(|n| n.to_string()))
                .unwrap_or_else(|| panic!("{field} of {v}"))
        })
        .collect()
}

fn fork_key(i: u8) -> KeyPair {
    let mut seed = [0x33; 32];
    seed[0] = i;
    KeyPair::from_seed(seed)
}

#[tokio::test]
async fn every_list_pages_with_a_cursor_and_filters() {
    let m = Mesh::found();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let token = m.token();

    // 23 trust forks (26 nodes with the founding hubs).
    for i in 0..23u8 {
        let k = fork_key(i);
        let env = sign_entry_at(
            &m.me,
            Operation::RegisterNode(NodeSpec::new(&k, NodeType::TrustFork)),
            govmesh_node::now(),
        );
        let (s, r) = c
            .post("/v1/entries", &serde_json::to_value(&env).unwrap(), None)
            .await;
        assert_eq!(s, 201, "{r}");
    }
    // 12 proposals on three clauses; b votes on each, the even ones are withdrawn.
    let clauses = ["5.4", "11.0", "11.1"];
    let mut pids = Vec::new();
    for i in 0..12 {
        let (s, r) = c
            .post(
                "/v1/operator/propose",
                &json!({"clause": clauses[i % 3], "proposed_text": format!("text {i}"),
                        "rationale": format!("paging {i}")}),
                Some(&token),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        let pid = r["proposal_id"].as_str().unwrap().to_owned();
        let vote = sign_entry_at(
            &m.b,
            Operation::Vote(VoteOp {
                proposal_id: pid.clone(),
                choice: VoteChoice::Approve,
                reason: None,
                sequence: 0,
            }),
            govmesh_node::now(),
        );
        let (s, r) = c
            .post("/v1/entries", &serde_json::to_value(&vote).unwrap(), None)
            .await;
        assert_eq!(s, 201, "{r}");
        if i % 2 == 0 {
            let (s, r) = c
                .post(
                    "/v1/operator/withdraw",
                    &json!({"proposal_id": pid}),
                    Some(&token),
                )
                .await;
            assert_eq!(s, 201, "{r}");
        }
        pids.push(pid);
    }

    // Nodes: every one once, by node id, whatever the page size.
    let (_, whole) = c.get("/v1/nodes?limit=1000").await;
    let mut expected = strs(whole["nodes"].as_array().unwrap(), "node_id");
    assert_eq!(expected.len(), 26);
    assert!(whole["next_cursor"].is_null());
    expected.sort();
    for limit in [1, 4, 25, 26] {
        let got = strs(
            &page_through(&c, "/v1/nodes", "nodes", limit).await,
            "node_id",
        );
        assert_eq!(got, expected, "limit {limit}");
    }
    let forks = page_through(&c, "/v1/nodes?type=trust_fork", "nodes", 5).await;
    assert_eq!(forks.len(), 23);
    assert!(forks.iter().all(|n| n["node_type"] == "trust_fork"));
    let hubs = page_through(
        &c,
        "/v1/nodes?type=governance_hub&status=active",
        "nodes",
        2,
    )
    .await;
    assert_eq!(hubs.len(), 3);

    // Proposals: newest first; a proposal made between pages does not disturb the rest.
    let newest_first: Vec<String> = pids.iter().rev().cloned().collect();
    let got = strs(
        &page_through(&c, "/v1/proposals", "proposals", 5).await,
        "proposal_id",
    );
    assert_eq!(got, newest_first);
    let (s, first) = c.get("/v1/proposals?limit=5").await;
    assert_eq!(s, 200);
    let (s, late) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.4", "proposed_text": "late", "rationale": "late"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{late}");
    let cursor = first["next_cursor"].as_str().unwrap();
    let (s, second) = c
        .get(&format!("/v1/proposals?limit=100&cursor={cursor}"))
        .await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(
        strs(second["proposals"].as_array().unwrap(), "proposal_id"),
        newest_first[5..].to_vec()
    );

    let voting = page_through(&c, "/v1/proposals?status=voting", "proposals", 2).await;
    assert_eq!(voting.len(), 7, "6 odd ones and the late one");
    assert!(voting.iter().all(|p| p["status"] == "voting"));
    let on_11_0 = page_through(
        &c,
        "/v1/proposals?clause=11.0&contract=codex",
        "proposals",
        3,
    )
    .await;
    assert_eq!(strs(&on_11_0, "proposal_id").len(), 4);
    assert!(
        on_11_0
            .iter()
            .all(|p| p["target_contract_clause"] == "11.0")
    );
    let mine = format!("/v1/proposals?author={}", m.me.node_id());
    assert_eq!(page_through(&c, &mine, "proposals", 4).await.len(), 13);
    let theirs = format!("/v1/proposals?author={}", m.a.node_id());
    assert!(page_through(&c, &theirs, "proposals", 4).await.is_empty());
    // A time range: from the 4th proposal's creation (inclusive) to the 9th (exclusive).
    let (_, all) = c.get("/v1/proposals?limit=1000").await;
    let all = all["proposals"].as_array().unwrap().clone();
    let created = |pid: &str| {
        all.iter().find(|p| p["proposal_id"] == pid).unwrap()["created_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (since, until) = (created(&pids[3]), created(&pids[8]));
    let ranged = page_through(
        &c,
        &format!("/v1/proposals?since={since}&until={until}"),
        "proposals",
        2,
    )
    .await;
    // RFC 3339 UTC stamps of one format order as text.
    let want: Vec<String> = all
        .iter()
        .filter(|p| {
            let t = p["created_at"].as_str().unwrap();
            t >= since.as_str() && t < until.as_str()
        })
        .map(|p| p["proposal_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(want.len() >= 5 && want.contains(&pids[3]) && !want.contains(&pids[8]));
    assert_eq!(strs(&ranged, "proposal_id"), want);

    // Log entries: every index once, in order; filters by kind, author and time.
    let size = c.log_size().await;
    for limit in [7, 1000] {
        let got = page_through(&c, "/v1/log/entries", "entries", limit).await;
        let idx: Vec<u64> = got.iter().map(|r| r["index"].as_u64().unwrap()).collect();
        assert_eq!(idx, (0..size).collect::<Vec<_>>(), "limit {limit}");
    }
    let votes = page_through(&c, "/v1/log/entries?kind=vote", "entries", 5).await;
    assert_eq!(votes.len(), 12);
    let by_b = format!("/v1/log/entries?author={}", m.b.node_id());
    assert_eq!(page_through(&c, &by_b, "entries", 5).await.len(), 12);
    let both = format!("/v1/log/entries?kind=propose&author={}", m.b.node_id());
    assert!(page_through(&c, &both, "entries", 5).await.is_empty());
    let t3 = votes[3]["timestamp"].as_str().unwrap();
    let t9 = votes[9]["timestamp"].as_str().unwrap();
    let ranged = page_through(
        &c,
        &format!("/v1/log/entries?kind=vote&since={t3}&until={t9}"),
        "entries",
        4,
    )
    .await;
    let want: Vec<Value> = votes
        .iter()
        .filter(|r| {
            let t = r["timestamp"].as_str().unwrap();
            t >= t3 && t < t9
        })
        .cloned()
        .collect();
    assert!(want.len() >= 6 && want.contains(&votes[3]) && !want.contains(&votes[9]));
    assert_eq!(ranged, want);
    // start/end still work as before, and a page short of `end` names the next.
    let (_, v) = c.get("/v1/log/entries?start=2&end=9&limit=3").await;
    let idx: Vec<u64> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![2, 3, 4]);
    let cur = v["next_cursor"].as_str().unwrap();
    let (_, v) = c
        .get(&format!("/v1/log/entries?end=9&limit=100&cursor={cur}"))
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 4, "5..9");
    assert!(v["next_cursor"].is_null());

    // The smaller lists page the same way.
    for (path, key, field) in [
        ("/v1/sync", "sync_records", "revision"),
        ("/v1/contracts", "contracts", "contract_id"),
        ("/v1/domains", "domains", "domain_id"),
        ("/v1/contracts/codex/revisions", "revisions", "revision"),
    ] {
        let (_, whole) = c.get(&format!("{path}?limit=1000")).await;
        let want = strs(whole[key].as_array().unwrap(), field);
        assert!(!want.is_empty(), "{path}");
        let got = strs(&page_through(&c, path, key, 1).await, field);
        assert_eq!(got, want, "{path}");
    }
    let (s, v) = c.get("/v1/sync?contract=nothing-such").await;
    assert_eq!(s, 200);
    assert!(v["sync_records"].as_array().unwrap().is_empty());
    for path in ["/v1/equivocations", "/v1/attestations", "/v1/overrides"] {
        let (s, v) = c.get(&format!("{path}?limit=1")).await;
        assert_eq!(s, 200, "{path}: {v}");
        assert!(v["next_cursor"].is_null(), "{path}: {v}");
    }
}

#[tokio::test]
async fn bad_paging_input_is_a_400_naming_the_parameter() {
    let m = Mesh::found();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (_, nodes) = c.get("/v1/nodes?limit=1").await;
    let node_cursor = nodes["next_cursor"].as_str().unwrap().to_owned();
    // A cursor for an item another node has and this one has not.
    let (_, entries) = c.get("/v1/log/entries?limit=1").await;
    assert!(entries["next_cursor"].is_null(), "one entry: {entries}");

    let cases: Vec<(String, &str)> = vec![
        ("/v1/nodes?limit=0".into(), "limit"),
        ("/v1/nodes?limit=1001".into(), "limit"),
        ("/v1/proposals?limit=abc".into(), "limit"),
        ("/v1/proposals?cursor=%25%25".into(), "cursor"),
        ("/v1/proposals?cursor=bm90IGEgY3Vyc29y".into(), "cursor"),
        (format!("/v1/proposals?cursor={node_cursor}"), "cursor"),
        (format!("/v1/log/entries?cursor={node_cursor}"), "cursor"),
        ("/v1/proposals?status=maybe".into(), "status"),
        ("/v1/proposals?since=yesterday".into(), "since"),
        (
            "/v1/proposals?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z".into(),
            "until",
        ),
        ("/v1/nodes?type=mainframe".into(), "type"),
        ("/v1/sync?status=done".into(), "status"),
        ("/v1/log/entries?until=soon".into(), "until"),
        ("/v1/attestations?limit=-1".into(), "limit"),
        ("/v1/equivocations?colour=red".into(), "colour"),
    ];
    for (path, param) in cases {
        let (s, v) = c.get(&path).await;
        assert_eq!(s, 400, "{path}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(param),
            "{path}: the message should name {param}: {v}"
        );
    }
}
