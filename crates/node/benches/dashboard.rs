//! Dashboard benchmark (issue 13, "Performance"), each figure next to a baseline
//! measured in the same run:
//!
//! 1. Server time, p50 and p90 over 100 requests through the node's router (no
//!    socket), against `GET /v1/status`: a proposal page with 500 votes (a mesh of
//!    501 hubs, each an eligible voter); then, in a mesh of 200 nodes (hubs,
//!    witnesses and trust forks) with 1,000 declared connections and four
//!    overlapping domains, the topology page and every other page.
//! 2. Server-sent events: a node served by a child process (this benchmark run
//!    again, `GOVMESH_BENCH_SSE_SERVER=DIR`) holds 1,000 `GET /v1/events`
//!    connections open; the child's resident memory before and after, per
//!    connection; and the latency from submitting an entry to its `entry` event on
//!    every connection (p50, p99, max over 1,000 × 5), next to the submission's own
//!    round trip.
//! 3. In-browser verification of a 1,000-entry log page (`/log?start=0&per=1000`) in
//!    headless Chromium through chromedriver: the time the page's script reports
//!    (`data-verify-ms`), over 5 loads, next to the page's load time. Skipped with a
//!    message when chromedriver is not installed.
//!
//! `cargo bench -p govmesh-node --bench dashboard` (release), or
//! `cargo bench --profile dev -p govmesh-node --bench dashboard` for a quick look.

use axum::body::Body;
use axum::http::Request;
use govmesh_core::entry::{ConnectOp, DisconnectOp, NodeSpec, Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{ConnectionType, NodeType, VoteChoice};
use govmesh_node::{AppState, InitOptions, init, router};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const VOTERS: usize = 500;
const RUNS: usize = 100;
/// Nodes and declared connections of the topology mesh.
const TOPO_NODES: usize = 200;
const TOPO_LINKS_PER_NODE: usize = 5;
/// Event-stream connections held open at once, and entries sent through them.
const STREAMS: usize = 1000;
const STREAM_ROUNDS: usize = 5;
/// Entries on the log page verified in the browser.
const LOG_ENTRIES: u64 = 1000;

fn key(i: usize) -> KeyPair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1000).to_le_bytes());
    KeyPair::from_seed(seed)
}

/// Keys of the topology mesh (apart from the voters').
fn topo_key(i: usize) -> KeyPair {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 5000).to_le_bytes());
    KeyPair::from_seed(seed)
}

async fn call(
    app: &AppState,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = router(app.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

async fn measure(app: &AppState, path: &str) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut size = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let (status, bytes) = call(app, "GET", path, None, None).await;
        times.push(t.elapsed());
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&bytes));
        size = bytes.len();
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 9 / 10], size)
}

fn print_row(name: &str, p50: Duration, p90: Duration, size: usize) {
    println!(
        "{name:<48} p50 {:>8.2} ms  p90 {:>8.2} ms  {size} bytes",
        p50.as_secs_f64() * 1000.0,
        p90.as_secs_f64() * 1000.0
    );
}

fn main() {
    if let Some(dir) = std::env::var_os("GOVMESH_BENCH_SSE_SERVER") {
        return sse_server(std::path::Path::new(&dir));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        proposal_pages().await;
        topology_pages().await;
        let served = event_streams().await;
        browser_verification(served).await;
    });
}

async fn proposal_pages() {
    let dir = tempfile::tempdir().unwrap();
    let me = KeyPair::from_seed([1; 32]);
    let founders: Vec<NodeSpec> = (0..VOTERS)
        .map(|i| NodeSpec::new(&key(i), NodeType::GovernanceHub))
        .collect();
    init(
        dir.path(),
        InitOptions {
            mesh_name: "bench-mesh".into(),
            key: me.clone(),
            other_founders: founders,
            network_address: None,
        },
    )
    .unwrap();
    let token = govmesh_node::load_token(dir.path()).unwrap();
    let app = AppState::open(dir.path(), None).unwrap();
    let (s, body) = call(
        &app,
        "POST",
        "/v1/operator/propose",
        Some(json!({"clause": "11.1", "proposed_text": "t", "rationale": "benchmark"})),
        Some(&token),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let pid = serde_json::from_slice::<Value>(&body).unwrap()["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Alternate approve and reject (then abstain) so that no early decision stops
    // the votes before all 500 are in.
    for i in 0..VOTERS {
        let choice = match i % 3 {
            0 => VoteChoice::Approve,
            1 => VoteChoice::Reject,
            _ => VoteChoice::Abstain,
        };
        let env = sign_entry_at(
            &key(i),
            Operation::Vote(VoteOp {
                proposal_id: pid.clone(),
                choice,
                reason: None,
                sequence: 0,
            }),
            govmesh_node::now(),
        );
        let (s, body) = call(
            &app,
            "POST",
            "/v1/entries",
            Some(serde_json::to_value(env).unwrap()),
            None,
        )
        .await;
        assert_eq!(s, 201, "vote {i}: {}", String::from_utf8_lossy(&body));
    }
    let (_, body) = call(&app, "GET", &format!("/v1/proposals/{pid}"), None, None).await;
    let votes = serde_json::from_slice::<Value>(&body).unwrap()["votes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(votes, VOTERS);

    println!(
        "{RUNS} requests each, through the router (no socket); {} nodes registered, {votes} votes",
        VOTERS + 1
    );
    for (name, path) in [
        ("GET /v1/status (baseline)", "/v1/status".to_owned()),
        ("GET /topology", "/topology".to_owned()),
        (
            "GET /proposals/{id} (500 votes)",
            format!("/proposals/{pid}"),
        ),
        (
            "GET /v1/proposals/{id} (500 votes, JSON)",
            format!("/v1/proposals/{pid}"),
        ),
    ] {
        let (p50, p90, size) = measure(&app, &path).await;
        print_row(name, p50, p90, size);
    }
}

/// A mesh of [`TOPO_NODES`] nodes with [`TOPO_LINKS_PER_NODE`] declared connections
/// each and four overlapping domains: the topology page and every other page.
async fn topology_pages() {
    let dir = tempfile::tempdir().unwrap();
    let me = topo_key(0);
    let role = |i: usize| match i % 10 {
        6 | 7 => NodeType::ComplianceWitness,
        8 | 9 => NodeType::TrustFork,
        _ => NodeType::GovernanceHub,
    };
    let keys: Vec<KeyPair> = (0..TOPO_NODES).map(topo_key).collect();
    init(
        dir.path(),
        InitOptions {
            mesh_name: "topology-bench".into(),
            key: me.clone(),
            other_founders: keys[1..]
                .iter()
                .enumerate()
                .map(|(i, k)| NodeSpec::new(k, role(i + 1)))
                .collect(),
            network_address: None,
        },
    )
    .unwrap();
    let token = govmesh_node::load_token(dir.path()).unwrap();
    let app = AppState::open(dir.path(), None).unwrap();
    // Declared by this node (a hub: clause 5.5 lets hubs declare connections).
    for (i, k) in keys.iter().enumerate() {
        for step in 1..=TOPO_LINKS_PER_NODE {
            let env = sign_entry_at(
                &me,
                Operation::Connect(ConnectOp {
                    source_node_id: k.node_id().to_owned(),
                    target_node_id: keys[(i + step) % TOPO_NODES].node_id().to_owned(),
                    connection_type: ConnectionType::Direct,
                }),
                govmesh_node::now(),
            );
            let (s, body) = call(
                &app,
                "POST",
                "/v1/entries",
                Some(serde_json::to_value(env).unwrap()),
                None,
            )
            .await;
            assert_eq!(s, 201, "connect {i}: {}", String::from_utf8_lossy(&body));
        }
    }
    // Four domains of 60 nodes, each sharing 10 with the next.
    for d in 0..4 {
        let members: Vec<&str> = (d * 50..d * 50 + 60)
            .map(|i| keys[i % TOPO_NODES].node_id())
            .collect();
        let (s, body) = call(
            &app,
            "POST",
            "/v1/operator/domains",
            Some(
                json!({"name": format!("region {d}"), "admin_node_id": me.node_id(),
                        "member_nodes": members}),
            ),
            Some(&token),
        )
        .await;
        assert_eq!(s, 201, "domain {d}: {}", String::from_utf8_lossy(&body));
    }
    let (s, body) = call(
        &app,
        "POST",
        "/v1/operator/propose",
        Some(json!({"clause": "11.1", "proposed_text": "t", "rationale": "benchmark"})),
        Some(&token),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let pid = serde_json::from_slice::<Value>(&body).unwrap()["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = call(&app, "GET", "/v1/topology", None, None).await;
    let topo: Value = serde_json::from_slice(&body).unwrap();
    let links = topo["connections"].as_array().unwrap().len();
    assert_eq!(topo["nodes"].as_array().unwrap().len(), TOPO_NODES);
    assert_eq!(links, TOPO_NODES * TOPO_LINKS_PER_NODE);
    println!(
        "\n{RUNS} requests each, through the router; {TOPO_NODES} nodes, {links} declared connections, 4 domains of 60 (overlapping)"
    );
    let node = keys[17].node_id().to_owned();
    for (name, path) in [
        ("GET /v1/status (baseline)", "/v1/status".to_owned()),
        ("GET /topology", "/topology".to_owned()),
        ("GET /v1/topology (JSON)", "/v1/topology".to_owned()),
        ("GET / (overview)", "/".to_owned()),
        ("GET /nodes/{id}", format!("/nodes/{node}")),
        ("GET /proposals", "/proposals".to_owned()),
        ("GET /proposals/{id}", format!("/proposals/{pid}")),
        ("GET /contracts", "/contracts".to_owned()),
        ("GET /contracts/codex", "/contracts/codex".to_owned()),
        ("GET /sync", "/sync".to_owned()),
        ("GET /domains", "/domains".to_owned()),
        ("GET /trust", "/trust".to_owned()),
        ("GET /log", "/log".to_owned()),
        ("GET /log?per=1000", "/log?start=0&per=1000".to_owned()),
    ] {
        let (p50, p90, size) = measure(&app, &path).await;
        print_row(name, p50, p90, size);
    }
}

// ---- Event streams, against a node in a child process

/// The child: serves `dir` on a loopback port, prints its URL, and stops when its
/// standard input closes.
fn sse_server(dir: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let node = govmesh_node::serve(dir, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        println!("{}", node.url);
        tokio::task::spawn_blocking(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        })
        .await
        .unwrap();
        node.shutdown().await.unwrap();
    });
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The node served by the child for the stream and browser parts: its URL, the
/// founders who sign entries, and the child (stopped when dropped with stdin).
struct Served {
    url: String,
    child: std::process::Child,
    founders: Vec<KeyPair>,
    _dir: tempfile::TempDir,
    /// Entries submitted so far by [`Served::next_entry`].
    sent: usize,
}

impl Served {
    /// The next entry, each one new (the log refuses a replay): the n-th pair of
    /// founders is connected directly, by relay, as backup, then disconnected;
    /// declared by founder 0 (a hub).
    fn next_entry(&mut self) -> Value {
        let n = self.sent;
        self.sent += 1;
        // Ordered pairs of founders 1..=k: (a, b) with a != b.
        let k = self.founders.len() - 1;
        let pair = n / 4;
        assert!(pair < k * (k - 1), "more entries than founder pairs");
        let (a, r) = (pair / (k - 1), pair % (k - 1));
        let b = if r >= a { r + 1 } else { r };
        let (a, b) = (
            self.founders[a + 1].node_id().to_owned(),
            self.founders[b + 1].node_id().to_owned(),
        );
        let op = match n % 4 {
            3 => Operation::Disconnect(DisconnectOp {
                source_node_id: a,
                target_node_id: b,
            }),
            step => Operation::Connect(ConnectOp {
                source_node_id: a,
                target_node_id: b,
                connection_type: [
                    ConnectionType::Direct,
                    ConnectionType::Relay,
                    ConnectionType::Backup,
                ][step],
            }),
        };
        serde_json::to_value(sign_entry_at(&self.founders[0], op, govmesh_node::now())).unwrap()
    }
}

/// Opens one `GET /v1/events` stream and reads up to its `hello` event.
async fn open_stream(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /v1/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(12).any(|w| w == b"event: hello") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream closed before its hello");
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

/// Reads `s` until an `entry` event for log index `index` arrives.
async fn await_entry(s: &mut tokio::net::TcpStream, index: u64) {
    use tokio::io::AsyncReadExt;
    let want = format!("\"index\":{index},");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream closed");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen
            .split("event: entry\ndata: ")
            .skip(1)
            .any(|e| e.lines().next().is_some_and(|d| d.contains(&want)))
        {
            return;
        }
    }
}

async fn event_streams() -> Served {
    let dir = tempfile::tempdir().unwrap();
    // Enough founders for 1,000 distinct entries (four per ordered pair).
    let founders: Vec<KeyPair> = (0..18).map(|i| topo_key(900 + i)).collect();
    init(
        dir.path(),
        InitOptions {
            mesh_name: "stream-bench".into(),
            key: founders[0].clone(),
            other_founders: founders[1..]
                .iter()
                .map(|k| NodeSpec::new(k, NodeType::GovernanceHub))
                .collect(),
            network_address: None,
        },
    )
    .unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("GOVMESH_BENCH_SSE_SERVER", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line.trim().to_owned();
    let mut served = Served {
        url,
        child,
        founders,
        _dir: dir,
        sent: 0,
    };
    let addr: std::net::SocketAddr = served.url.trim_start_matches("http://").parse().unwrap();
    let pid = served.child.id();
    let http = reqwest::Client::new();
    // Warm the node up (first requests, the first entry) before the baseline.
    for _ in 0..3 {
        let body = served.next_entry();
        let r = http
            .post(format!("{}/v1/entries", served.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let idle = rss_kib(pid);
    let mut streams = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        streams.push(open_stream(addr).await);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = rss_kib(pid);
    println!(
        "\n{STREAMS} event streams held open by a node in its own process: resident memory {:.1} MiB idle, {:.1} MiB with the streams: {:.1} KiB per stream",
        idle as f64 / 1024.0,
        held as f64 / 1024.0,
        (held.saturating_sub(idle)) as f64 / STREAMS as f64
    );
    let mut latencies = Vec::with_capacity(STREAMS * STREAM_ROUNDS);
    let mut posts = Vec::with_capacity(STREAM_ROUNDS);
    for _ in 0..STREAM_ROUNDS {
        let body = served.next_entry();
        let sent = Instant::now();
        let r = http
            .post(format!("{}/v1/entries", served.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        posts.push(sent.elapsed());
        assert_eq!(r.status().as_u16(), 201);
        let index = r.json::<Value>().await.unwrap()["index"].as_u64().unwrap();
        let waits = streams.drain(..).map(|mut s| {
            tokio::spawn(async move {
                await_entry(&mut s, index).await;
                (s, sent.elapsed())
            })
        });
        let done = futures_util::future::join_all(waits.collect::<Vec<_>>()).await;
        for d in done {
            let (s, t) = d.unwrap();
            streams.push(s);
            latencies.push(t);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    latencies.sort();
    posts.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "entry event latency over {} deliveries ({STREAM_ROUNDS} entries × {STREAMS} streams): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the submission's own round trip (baseline) p50 {:.1} ms",
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 99 / 100]),
        ms(*latencies.last().unwrap()),
        ms(posts[posts.len() / 2])
    );
    drop(streams);
    served
}

// ---- In-browser verification

/// chromedriver on a free loopback port, stopped on drop.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser_verification(mut served: Served) {
    let http = reqwest::Client::new();
    // Up to the page's 1,000 entries (plus the genesis and the ones already sent).
    let size = |v: &Value| v["log_size"].as_u64().unwrap();
    loop {
        let st: Value = http
            .get(format!("{}/v1/status", served.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if size(&st) >= LOG_ENTRIES {
            break;
        }
        let body = served.next_entry();
        let r = http
            .post(format!("{}/v1/entries", served.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    // Sealed past the page, so that every entry's inclusion is checked.
    let mut sealed = false;
    for _ in 0..1200 {
        let text = http
            .get(format!("{}/v1/log/seal", served.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text
            .lines()
            .nth(1)
            .and_then(|l| l.parse::<u64>().ok())
            .is_some_and(|n| n >= LOG_ENTRIES)
        {
            sealed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sealed, "the node sealed its {LOG_ENTRIES} entries");
    let found = std::process::Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("\nin-browser verification: skipped (chromedriver not installed)");
        return;
    }
    let port = govmesh_node::free_loopback_port().unwrap();
    let _driver = Driver(
        std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    while std::net::TcpStream::connect(addr).is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,800"]}),
    );
    let b =
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
    let page = format!("{}/log?start=0&per={LOG_ENTRIES}", served.url);
    let mut verify = Vec::new();
    let mut loads = Vec::new();
    let mut words = String::new();
    for _ in 0..5 {
        let t = Instant::now();
        b.goto(&page).await.unwrap();
        loads.push(t.elapsed());
        let v = loop {
            let v = b
                .execute(
                    "const m = document.querySelector('[data-verify]'); return [m.dataset.verifyMs || null, m.textContent];",
                    vec![],
                )
                .await
                .unwrap();
            if !v[0].is_null() {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        words = v[1].as_str().unwrap().to_owned();
        assert!(
            words.starts_with(&format!("verified in this browser: {LOG_ENTRIES} entries")),
            "{words}"
        );
        verify.push(v[0].as_str().unwrap().parse::<f64>().unwrap());
    }
    verify.sort_by(f64::total_cmp);
    loads.sort();
    println!(
        "\nin-browser verification of a {LOG_ENTRIES}-entry log page (headless Chromium, 5 loads): median {:.0} ms (min {:.0}, max {:.0}); the page's own load (baseline) median {:.0} ms\n  the badge: {words}",
        verify[2],
        verify[0],
        verify[4],
        loads[2].as_secs_f64() * 1000.0
    );
    b.close().await.unwrap();
    drop(served.child.stdin.take());
    let _ = served.child.wait();
}
