//! The Raft council with real servers: three hubs founded by one genesis (each at a
//! loopback port picked at run time), entries submitted to a follower reach every
//! hub's log; the leader stops, a new one is elected and entries still commit; the
//! old leader comes back and catches up; Raft RPCs not signed by an active hub are
//! refused; a hub that registers its address joins the council, and leaves it when
//! set inactive.

use super::util::{Client, code, free_addr, hub_spec, key};
use govmesh_core::entry::{NodeSpec, Operation, UpdateNodeOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_node::council::COUNCIL_FILE;
use govmesh_node::peer_auth::sign_request;
use govmesh_node::{RunningNode, join, load_token, mesh_genesis, now, serve};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(60);

fn spec(k: &KeyPair, node_type: NodeType, addr: Option<SocketAddr>) -> NodeSpec {
    NodeSpec {
        node_type,
        network_address: addr.map(|a| format!("http://{a}")),
        ..hub_spec(k)
    }
}

struct Hub {
    dir: PathBuf,
    addr: SocketAddr,
    key: KeyPair,
    node: Option<RunningNode>,
}

impl Hub {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self) -> Client {
        Client::new(&self.url())
    }

    async fn start(&mut self) {
        self.node = Some(serve(&self.dir, self.addr).await.unwrap());
    }

    async fn stop(&mut self) {
        self.node.take().unwrap().shutdown().await.unwrap();
    }
}

/// Polls `f` until it returns Some, failing with `what` at the deadline.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The leader's node id if every running hub in `hubs` names the same one.
async fn agreed_leader(hubs: &[&Hub]) -> Option<String> {
    let mut leader = None;
    for h in hubs {
        let (s, v) = h.client().get("/v1/council").await;
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

/// (log size, root) when every hub in `hubs` has the same and at least `min` records.
async fn same_log(hubs: &[&Hub], min: u64) -> Option<(u64, String)> {
    let mut seen = None;
    for h in hubs {
        let (s, v) = h.client().get("/v1/status").await;
        if s != 200 {
            return None;
        }
        let here = (v["log_size"].as_u64()?, v["root"].as_str()?.to_owned());
        if here.0 < min || seen.get_or_insert(here.clone()) != &here {
            return None;
        }
    }
    seen
}

/// Whether every hub in `hubs` lists domains with all of `names`.
async fn has_domains(hubs: &[&Hub], names: &[&str]) -> bool {
    for h in hubs {
        let (s, v) = h.client().get("/v1/domains").await;
        if s != 200 {
            return false;
        }
        let have: Vec<&str> = v["domains"]
            .as_array()
            .map(|a| a.iter().filter_map(|d| d["name"].as_str()).collect())
            .unwrap_or_default();
        if !names.iter().all(|n| have.contains(n)) {
            return false;
        }
    }
    true
}

/// Runs the futures concurrently, answers in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn define_domain(hub: &Hub, name: &str) -> Value {
    let token = load_token(&hub.dir).unwrap();
    let (s, r) = hub
        .client()
        .post(
            "/v1/operator/domains",
            &json!({"name": name, "admin_node_id": hub.key.node_id(),
                    "member_nodes": [hub.key.node_id()]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "defining {name} on {}: {r}", hub.url());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hubs_agree_survive_the_leader_and_refuse_strangers() {
    let tmp = TempDir::new().unwrap();
    let keys = [key(41), key(42), key(43)];
    let witness = key(44);
    let addrs = [free_addr(), free_addr(), free_addr()];
    let mut founders: Vec<NodeSpec> = keys
        .iter()
        .zip(addrs)
        .map(|(k, a)| spec(k, NodeType::GovernanceHub, Some(a)))
        .collect();
    founders.push(spec(&witness, NodeType::ComplianceWitness, None));
    let genesis = mesh_genesis("council-test", &keys[0], founders, now()).unwrap();
    let mut hubs: Vec<Hub> = keys
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (k, addr))| {
            let dir = tmp.path().join(format!("hub{i}"));
            join(&dir, k.clone(), &genesis).unwrap();
            // Compact often, so the hub that comes back must catch up by snapshot.
            std::fs::write(
                dir.join(COUNCIL_FILE),
                r#"{"snapshot_every": 4, "keep_logs": 0, "submit_timeout_ms": 5000}"#,
            )
            .unwrap();
            Hub {
                dir,
                addr,
                key: k.clone(),
                node: None,
            }
        })
        .collect();
    for h in &mut hubs {
        h.start().await;
    }

    // A leader is elected with no human step, and every hub names it.
    let leader = eventually("a leader all three hubs agree on", || async {
        agreed_leader(&hubs.iter().collect::<Vec<_>>()).await
    })
    .await;
    let li = hubs.iter().position(|h| h.key.node_id() == leader).unwrap();
    let (_, view) = hubs[li].client().get("/v1/council").await;
    assert_eq!(view["state"], "leader", "{view}");
    assert_eq!(view["members"].as_array().unwrap().len(), 3, "{view}");

    // Entries submitted to a follower are committed and reach every hub.
    let fi = (li + 1) % 3;
    for n in 0..3 {
        let r = define_domain(&hubs[fi], &format!("from-follower-{n}")).await;
        // The follower answered once its own ledger holds the entry.
        let index = r["index"].as_u64().unwrap();
        assert!(hubs[fi].client().log_size().await > index, "{r}");
    }
    // Large entries at once: an append carrying several of them is larger than the
    // API's 1 MiB body limit, which the Raft routes do not apply.
    let token = load_token(&hubs[li].dir).unwrap();
    let big = "x".repeat(99_000);
    let sends = (0..16).map(|_| {
        let (c, token, big) = (hubs[li].client(), token.clone(), big.clone());
        async move {
            c.post(
                "/v1/operator/propose",
                &json!({"clause": "11.1", "proposed_text": big, "rationale": "large"}),
                Some(&token),
            )
            .await
        }
    });
    let mut big_ids = Vec::new();
    for (s, r) in futures_join_all(sends).await {
        assert_eq!(s, 201, "{r}");
        big_ids.push(r["proposal_id"].as_str().unwrap().to_owned());
    }
    // A refusal comes back through the follower as the state machine's answer: a
    // second genesis.
    let (s, r) = hubs[fi]
        .client()
        .post(
            "/v1/entries",
            &serde_json::to_value(&genesis.envelope).unwrap(),
            None,
        )
        .await;
    assert_eq!((s, code(&r)), (422, "genesis"), "{r}");
    let all: Vec<&Hub> = hubs.iter().collect();
    let names = ["from-follower-0", "from-follower-1", "from-follower-2"];
    eventually("the same log with the domains on all hubs", || async {
        same_log(&all, 4).await?;
        has_domains(&all, &names).await.then_some(())
    })
    .await;
    for h in &all {
        for id in &big_ids {
            let (s, v) = h.client().get(&format!("/v1/proposals/{id}")).await;
            assert_eq!(s, 200, "{} lacks {id}: {v}", h.url());
        }
    }

    // A Raft RPC not signed by an active hub is refused.
    let http = reqwest::Client::new();
    let body =
        br#"{"vote":{"leader_id":{"term":99,"node_id":1},"committed":false},"last_log_id":null}"#;
    let url = format!("{}/v1/council/vote", hubs[li].url());
    let unsigned = http
        .post(&url)
        .header("content-type", "application/json")
        .body(&body[..])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    for (signer, want) in [(key(99), 403u16), (witness.clone(), 403)] {
        let mut rb = http
            .post(&url)
            .header("content-type", "application/json")
            .body(&body[..]);
        for (k, v) in sign_request(&signer, signer.node_id(), "POST", "/v1/council/vote", body) {
            rb = rb.header(k, v);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, want, "{v}");
        assert_eq!(code(&v), "peer_forbidden", "{v}");
    }
    // Signed by a hub key for another body: refused too.
    let mut rb = http
        .post(&url)
        .header("content-type", "application/json")
        .body(&body[..]);
    for (k, v) in sign_request(
        &keys[fi],
        keys[fi].node_id(),
        "POST",
        "/v1/council/vote",
        b"{}",
    ) {
        rb = rb.header(k, v);
    }
    assert_eq!(rb.send().await.unwrap().status().as_u16(), 401);

    // Forwarded entries: only a hub may forward, a hub that does not lead answers
    // not_leader for each entry (nothing stored), and a batch has at most 256.
    let op = Operation::UpdateNode(UpdateNodeOp {
        node_id: keys[fi].node_id().to_owned(),
        status: None,
        network_address: None,
        public_key: None,
        key_proof: None,
    });
    let entry = sign_entry_at(&keys[fi], op, govmesh_node::now());
    let forward = |to: usize, signer: &KeyPair, n: usize| {
        let body = serde_json::to_vec(&vec![&entry; n]).unwrap();
        let mut rb = http
            .post(format!("{}/v1/council/forward", hubs[to].url()))
            .header("content-type", "application/json");
        for (k, v) in sign_request(
            signer,
            signer.node_id(),
            "POST",
            "/v1/council/forward",
            &body,
        ) {
            rb = rb.header(k, v);
        }
        rb.body(body).send()
    };
    let resp = forward(li, &witness, 1).await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = forward(fi, &keys[li], 2).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    for o in v.as_array().unwrap() {
        assert_eq!(o["error"]["code"], "not_leader", "{v}");
        assert_eq!(o["error"]["status"], 503, "{v}");
    }
    let resp = forward(li, &keys[fi], 257).await.unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!((status, code(&v)), (413, "too_many_entries"), "{v}");

    // Nothing changed: the leader still leads in the same term.
    let (_, after) = hubs[li].client().get("/v1/council").await;
    assert_eq!(after["term"], view["term"], "{after}");

    // The leader stops: the other two elect a new one and entries still commit.
    let (_, before) = hubs[li].client().get("/v1/council").await;
    let stopped_at = before["last_log_index"].as_u64().unwrap();
    hubs[li].stop().await;
    let rest: Vec<&Hub> = hubs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != li)
        .map(|(_, h)| h)
        .collect();
    let new_leader = eventually("a new leader among the two left", || async {
        agreed_leader(&rest).await.filter(|l| *l != leader)
    })
    .await;
    assert_ne!(new_leader, leader);
    for n in 0..2 {
        define_domain(rest[n % 2], &format!("after-failover-{n}")).await;
    }
    let names = ["after-failover-0", "after-failover-1"];
    eventually(
        "the same log with the new domains on the two hubs left",
        || async {
            same_log(&rest, 6).await?;
            has_domains(&rest, &names).await.then_some(())
        },
    )
    .await;
    // More entries until the new leader has compacted its Raft log past what the
    // stopped hub holds: it can then catch up only from a snapshot.
    let nl = rest
        .iter()
        .position(|h| h.key.node_id() == new_leader)
        .unwrap();
    let mut n = 0;
    loop {
        let (_, v) = rest[nl].client().get("/v1/council").await;
        if v["purged_index"].as_u64().is_some_and(|p| p > stopped_at) {
            break;
        }
        assert!(n < 150, "the leader never compacted its log: {v}");
        define_domain(rest[n % 2], &format!("filler-{n}")).await;
        n += 1;
        // openraft purges only when no replication uses the entries; the stream to
        // the stopped hub holds them but for a moment after each failed attempt
        // (about every 500 ms, backing off), so give it time between entries.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The old leader comes back and catches up.
    hubs[li].start().await;
    let all: Vec<&Hub> = hubs.iter().collect();
    eventually("the restarted hub caught up", || async {
        same_log(&all, 6).await?;
        has_domains(&all, &names).await.then_some(())
    })
    .await;
    eventually("all three agree on the leader again", || async {
        agreed_leader(&all).await
    })
    .await;
    // It holds a snapshot past where it stopped (the log it missed was compacted).
    let (_, back) = hubs[li].client().get("/v1/council").await;
    assert!(
        back["snapshot_index"]
            .as_u64()
            .is_some_and(|i| i > stopped_at),
        "stopped at {stopped_at}: {back}"
    );
    // And it takes part: an entry submitted to it commits everywhere.
    define_domain(&hubs[li], "after-restart").await;
    eventually("the same log after the restart", || async {
        same_log(&all, 7).await?;
        has_domains(&all, &["after-restart"]).await.then_some(())
    })
    .await;

    // One hub alone is a minority: it commits nothing and says so (503).
    let lone = (li + 2) % 3;
    for (i, h) in hubs.iter_mut().enumerate() {
        if i != lone {
            h.stop().await;
        }
    }
    let size = hubs[lone].client().log_size().await;
    let token = load_token(&hubs[lone].dir).unwrap();
    let (s, r) = hubs[lone]
        .client()
        .post(
            "/v1/operator/domains",
            &json!({"name": "alone", "admin_node_id": hubs[lone].key.node_id(),
                    "member_nodes": [hubs[lone].key.node_id()]}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 503, "{r}");
    assert!(
        ["no_leader", "not_committed", "leader_unreachable"].contains(&code(&r)),
        "{r}"
    );
    assert_eq!(hubs[lone].client().log_size().await, size);
    hubs[lone].stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hub_joins_the_council_when_it_gets_an_address_and_leaves_when_inactive() {
    let tmp = TempDir::new().unwrap();
    let keys = [key(51), key(52), key(53), key(54)];
    let addrs = [free_addr(), free_addr(), free_addr(), free_addr()];
    // The fourth hub is a founder without an address: a voting identity for now.
    let founders: Vec<NodeSpec> = keys
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (k, a))| spec(k, NodeType::GovernanceHub, (i < 3).then_some(a)))
        .collect();
    let genesis = mesh_genesis("council-membership", &keys[0], founders, now()).unwrap();
    let mut hubs: Vec<Hub> = keys
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (k, addr))| {
            let dir = tmp.path().join(format!("hub{i}"));
            join(&dir, k.clone(), &genesis).unwrap();
            Hub {
                dir,
                addr,
                key: k.clone(),
                node: None,
            }
        })
        .collect();
    for h in &mut hubs[..3] {
        h.start().await;
    }
    eventually("a leader of the three addressed hubs", || async {
        agreed_leader(&hubs[..3].iter().collect::<Vec<_>>()).await
    })
    .await;

    // The fourth hub registers its address and starts: the leader adds it.
    let new_id = keys[3].node_id().to_owned();
    let update = sign_entry_at(
        &keys[3],
        Operation::UpdateNode(UpdateNodeOp {
            node_id: new_id.clone(),
            status: None,
            network_address: Some(hubs[3].url()),
            public_key: None,
            key_proof: None,
        }),
        govmesh_node::now(),
    );
    let (s, r) = hubs[1]
        .client()
        .post("/v1/entries", &serde_json::to_value(&update).unwrap(), None)
        .await;
    assert_eq!(s, 201, "{r}");
    hubs[3].start().await;
    let all: Vec<&Hub> = hubs.iter().collect();
    eventually(
        "four voters, agreeing on the leader and the log",
        || async {
            let leader = agreed_leader(&all).await?;
            let (_, v) = hubs[0].client().get("/v1/council").await;
            let members = v["members"].as_array()?;
            let voters = members.iter().filter(|m| m["voter"] == true).count();
            (voters == 4 && !leader.is_empty()).then_some(())?;
            same_log(&all, 2).await
        },
    )
    .await;
    define_domain(&hubs[3], "via-the-new-hub").await;
    eventually("the new hub's entry everywhere", || async {
        has_domains(&all, &["via-the-new-hub"]).await.then_some(())
    })
    .await;

    // A founder sets it inactive: it leaves the council, which goes on with three.
    let deactivate = sign_entry_at(
        &keys[0],
        Operation::UpdateNode(UpdateNodeOp {
            node_id: new_id.clone(),
            status: Some(NodeStatus::Inactive),
            network_address: None,
            public_key: None,
            key_proof: None,
        }),
        govmesh_node::now(),
    );
    let (s, r) = hubs[0]
        .client()
        .post(
            "/v1/entries",
            &serde_json::to_value(&deactivate).unwrap(),
            None,
        )
        .await;
    assert_eq!(s, 201, "{r}");
    eventually("three members without the inactive hub", || async {
        let (_, v) = hubs[0].client().get("/v1/council").await;
        let members = v["members"].as_array()?;
        (members.len() == 3 && members.iter().all(|m| m["node_id"] != new_id.as_str()))
            .then_some(())
    })
    .await;
    define_domain(&hubs[2], "without-it").await;
    let three: Vec<&Hub> = hubs[..3].iter().collect();
    eventually("the three hubs go on", || async {
        has_domains(&three, &["without-it"]).await.then_some(())
    })
    .await;

    for h in &mut hubs {
        h.stop().await;
    }
}
