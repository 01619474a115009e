//! The dashboard against a real node on a loopback port: every page over HTTP (HTML,
//! 4xx pages for bad input, the no-JavaScript form action, the event stream and the
//! Atom feed), and in headless Chromium driven through WebDriver (chromium-driver):
//! every page loaded and screenshotted under target/screenshots/ at 1280×800 and
//! 420 wide, a vote cast through the form and the tally and status changing without
//! a reload, and the in-browser verification badge.

use super::util::{Client, Mesh};
use govmesh_core::entry::{Operation, VoteOp, sign_entry_at};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::VoteChoice;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};

/// Proposes a change of clause 11.1 as the node's operator; returns its id.
async fn propose(c: &Client, token: &str, text: &str) -> String {
    let (s, v) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "11.1", "proposed_text": text,
                    "rationale": "Tighten the review rule\nso that every change is read twice."}),
            Some(token),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["proposal_id"].as_str().unwrap().to_owned()
}

/// A founder's vote, signed locally and submitted as an entry.
async fn vote_as(c: &Client, k: &KeyPair, proposal_id: &str, choice: VoteChoice) {
    let env = sign_entry_at(
        k,
        Operation::Vote(VoteOp {
            proposal_id: proposal_id.to_owned(),
            choice,
            reason: Some("read it twice".into()),
            sequence: 0,
        }),
        govmesh_node::now(),
    );
    let (s, v) = c
        .post("/v1/entries", &serde_json::to_value(env).unwrap(), None)
        .await;
    assert_eq!(s, 201, "{v}");
}

/// An `application/x-www-form-urlencoded` body, as a browser sends a form.
fn form_body(fields: &[(&str, String)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn page(c: &Client, path: &str) -> (u16, String, String) {
    let r = c.http.get(format!("{}{path}", c.url)).send().await.unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_and_bad_input_is_a_4xx_page() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(
        &c,
        &token,
        "Every change is read by two <reviewers> & merged.",
    )
    .await;
    vote_as(&c, &m.a, &pid, VoteChoice::Approve).await;

    let me = m.me.node_id().to_owned();
    let checks: Vec<(String, Vec<&str>)> = vec![
        (
            "/".into(),
            vec![
                "Overview",
                "test-mesh",
                "Open proposals needing a vote",
                "Tighten the review rule",
                "Latest seal",
            ],
        ),
        (
            "/topology".into(),
            vec!["<svg", "governance_hub", "connections"],
        ),
        (
            format!("/nodes/{me}"),
            vec![
                "Public key",
                "Privileges",
                "Contract heads",
                "codex",
                "Trust score",
                "rank ",
            ],
        ),
        (
            "/proposals".into(),
            vec![
                "Tighten the review rule",
                "Create a proposal",
                "Operator token",
            ],
        ),
        (
            "/proposals?status=voting&contract=codex&clause=11.1".into(),
            vec!["Tighten the review rule"],
        ),
        (
            "/proposals?status=adopted".into(),
            vec!["No proposal matches."],
        ),
        (
            format!("/proposals/{pid}"),
            vec![
                "Turnout",
                "Approve",
                "Veto",
                "quorum",
                "read it twice",
                "Cast vote",
                "Withdraw proposal",
                // The proposed text is escaped, not markup.
                "two &lt;reviewers&gt; &amp; merged",
            ],
        ),
        ("/contracts".into(), vec!["codex"]),
        (
            "/contracts/codex".into(),
            vec!["hash chain", "Clauses of revision 1", "5.5"],
        ),
        ("/sync".into(), vec!["Drift alerts", "codex revision 1"]),
        ("/domains".into(), vec!["Domains"]),
        (
            "/trust".into(),
            vec![
                "EigenTrust",
                "Last computation",
                "after entry 0 (genesis",
                "data-part=\"trust-scores\"",
                "pre-trusted",
                "What each score rests on",
                "/v1/trust",
            ],
        ),
        (
            "/log".into(),
            vec!["genesis", "propose", "vote", "inclusion"],
        ),
    ];
    for (path, wants) in &checks {
        let (s, ctype, body) = page(&c, path).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert!(ctype.starts_with("text/html"), "{path}: {ctype}");
        for w in wants {
            assert!(body.contains(w), "{path} does not show {w:?}");
        }
        assert!(
            body.contains("href=\"/v1/openapi.json\""),
            "{path}: no API link"
        );
    }
    // The topology page links each node.
    let (_, _, topo) = page(&c, "/topology").await;
    for k in [&m.me, &m.a, &m.b] {
        assert!(topo.contains(&format!("/nodes/{}", k.node_id())));
    }

    // Unknown ids and bad queries: 404 and 400 pages naming what is wrong.
    for (path, status, says) in [
        ("/proposals/no-such-proposal", 404, "no proposal"),
        ("/nodes/nobody", 404, "no node"),
        ("/contracts/nothing", 404, "no contract"),
        ("/contracts/codex?rev=9", 404, "revisions 1 to 1, not 9"),
        ("/domains/none", 404, "no domain"),
        ("/proposals?status=maybe", 400, "maybe"),
        ("/proposals?colour=red", 400, "colour"),
        ("/log?start=many", 400, "many"),
        ("/log?start=100000", 404, "no entry 100000"),
    ] {
        let (s, ctype, body) = page(&c, path).await;
        assert_eq!(s, status, "{path}: {body}");
        assert!(ctype.starts_with("text/html"), "{path}: {ctype}");
        assert!(body.contains(says), "{path}: {body}");
    }

    // The UI component registry maps the seed's components to pages that exist.
    let (s, ui) = c.get("/v1/ui/components").await;
    assert_eq!(s, 200);
    let comps = ui["components"].as_array().unwrap();
    for id in ["UI-12.21", "UI-12.33", "UI-12.66"] {
        assert!(comps.iter().any(|x| x["component_id"] == id), "{id}");
    }
    for name in [
        "Mesh Topology Viewer",
        "Proposal Management Interface",
        "Contract Sync Dashboard",
        "Domain Management Tools",
    ] {
        assert!(comps.iter().any(|x| x["name"] == name), "{name}");
    }
    let (_, domains) = c.get("/v1/domains").await;
    let domain = domains["domains"][0]["domain_id"].as_str().unwrap();
    for comp in comps {
        for p in comp["pages"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            let id = match p.split('/').nth(1).unwrap() {
                "proposals" => pid.as_str(),
                "nodes" => me.as_str(),
                "domains" => domain,
                _ => "codex",
            };
            let p = p.replace("{id}", id);
            let (s, _, _) = page(&c, &p).await;
            assert_eq!(s, 200, "{p} of {}", comp["name"]);
        }
    }

    // Without JavaScript: a form post goes through the operator endpoint; its
    // answer, refusal included, is the page.
    let form = |tok: &str| {
        vec![
            ("proposal_id", pid.clone()),
            ("choice", "reject".to_owned()),
            ("reason", String::new()),
            ("token", tok.to_owned()),
        ]
    };
    let r = c
        .http
        .post(format!("{}/actions/vote", c.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&form("wrong")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Refused (401 unauthorized): the operator token is wrong"),
        "{body}"
    );
    let r = c
        .http
        .post(format!("{}/actions/vote", c.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&form(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Done: log entry #3 (vote)"), "{body}");
    let r = c
        .http
        .post(format!("{}/actions/launch", c.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&form(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let (_, _, body) = page(&c, &format!("/proposals/{pid}")).await;
    assert!(
        body.contains("1 approve · 1 reject"),
        "the tally after the form's vote"
    );
    // Define a domain from its form: two members ticked.
    let domain_form = vec![
        ("name", "Operations".to_owned()),
        ("description", String::new()),
        ("admin_node_id", me.clone()),
        ("member_nodes", me.clone()),
        ("member_nodes", m.a.node_id().to_owned()),
        ("token", token.clone()),
    ];
    let r = c
        .http
        .post(format!("{}/actions/domains", c.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&domain_form))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Done: log entry #4 (define_domain)"),
        "{body}"
    );
    let (_, domains) = c.get("/v1/domains").await;
    let ops = domains["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Operations")
        .expect("the new domain");
    assert_eq!(ops["member_nodes"], json!([me, m.a.node_id()]));
    let (s, _, body) = page(
        &c,
        &format!("/domains/{}", ops["domain_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, 200);
    assert!(body.contains("Domain Operations"), "{body}");

    // The Atom feed names the proposal.
    let (s, ctype, feed) = page(&c, "/v1/feed.atom").await;
    assert_eq!(s, 200);
    assert!(ctype.starts_with("application/atom+xml"), "{ctype}");
    assert!(feed.starts_with("<?xml"), "{feed}");
    assert!(
        feed.contains(&format!("urn:govmesh:proposal:{pid}:proposed")),
        "{feed}"
    );
    assert!(feed.contains("Proposed: Tighten the review rule"), "{feed}");

    node.shutdown().await.unwrap();
}

/// The contract page shows the effective contract for a chosen node: its local
/// override of clause 5.2.5 marked, with the proposal behind it; the federated text for
/// another node; and a 404 page for a node that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_page_shows_a_nodes_local_override() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (s, p) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.2.5", "proposed_text": "This node checks READMEs only.",
                    "rationale": "a lab node", "governance_scope": "local"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["proposal_id"].as_str().unwrap().to_owned();
    vote_as(&c, &m.me, &pid, VoteChoice::Approve).await;
    vote_as(&c, &m.a, &pid, VoteChoice::Approve).await;
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["status"], "adopted", "{p}");

    let me = m.me.node_id();
    let (s, _, html) = page(&c, &format!("/contracts/codex?node={me}")).await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("1 clause(s) of revision 1 overridden locally"),
        "{html}"
    );
    assert!(html.contains("overridden (local)"), "{html}");
    assert!(html.contains("This node checks READMEs only."), "{html}");
    assert!(html.contains(&format!("/proposals/{pid}")), "{html}");
    let (s, _, html) = page(&c, &format!("/contracts/codex?node={}", m.a.node_id())).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("0 clause(s) of revision 1 overridden locally"),
        "{html}"
    );
    let (s, ctype, html) = page(&c, "/contracts/codex?node=nobody").await;
    assert_eq!(s, 404, "{html}");
    assert!(ctype.starts_with("text/html"), "{ctype}");
    node.shutdown().await.unwrap();
}

/// The event stream says what a new entry changed: the entry, then the tally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_report_entries_and_tallies() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(&c, &token, "t").await;
    let mut resp = c
        .http
        .get(format!("{}/v1/events", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut seen = String::new();
    // The hello comes first; the vote is sent once it is read.
    while !seen.contains("event: hello") {
        seen.push_str(&String::from_utf8_lossy(
            &resp.chunk().await.unwrap().unwrap(),
        ));
    }
    vote_as(&c, &m.b, &pid, VoteChoice::Veto).await;
    while !seen.contains("event: tally") {
        let chunk = resp.chunk().await.unwrap().expect("the stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains("event: entry\ndata: {\"author\":\""),
        "{seen}"
    );
    assert!(seen.contains("\"type\":\"vote\""), "{seen}");
    let tally = seen
        .split("event: tally\ndata: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let t: Value = serde_json::from_str(tally).unwrap();
    assert_eq!(t["proposal_id"], pid.as_str());
    assert_eq!(t["voting_result"]["veto_votes"], 1);
    drop(resp);
    node.shutdown().await.unwrap();
}

/// `GET /v1/log/proof/inclusions`: each leaf's proof as the single-leaf endpoint
/// gives it, under the same root; bad ranges are 400s naming the range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_proofs_in_one_request() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(&c, &token, "t").await;
    vote_as(&c, &m.a, &pid, VoteChoice::Approve).await;
    let size = c.log_size().await;
    assert_eq!(size, 3);
    let (s, v) = c
        .get(&format!(
            "/v1/log/proof/inclusions?start=0&end={size}&size={size}"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"], size);
    let proofs = v["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 3);
    for p in proofs {
        let i = p["index"].as_u64().unwrap();
        let (_, one) = c
            .get(&format!("/v1/log/proof/inclusion?index={i}&size={size}"))
            .await;
        assert_eq!(p["proof"], one["proof"], "leaf {i}");
        assert_eq!(p["leaf_hash"], one["leaf_hash"], "leaf {i}");
        assert_eq!(v["root"], one["root"]);
    }
    for (q, want) in [
        (
            "start=2&end=2",
            "start..end must hold 1 to 1000 leaves, not 2..2",
        ),
        (
            "start=0&end=1001",
            "start..end must hold 1 to 1000 leaves, not 0..1001",
        ),
        (
            "start=0&end=3&size=2",
            "leaves up to 3 are not all in a tree of 2",
        ),
    ] {
        let (s, v) = c.get(&format!("/v1/log/proof/inclusions?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert_eq!(v["error"]["message"], want, "{q}");
    }
    node.shutdown().await.unwrap();
}

/// Text as the pages write it (maud escapes these).
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The create form's rules patch, without JavaScript: a patch reaches the proposal;
/// a patch the node refuses is shown with the API's own message; text that is not
/// JSON is a 400 page saying so. Nothing refused reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_propose_form_carries_a_rules_patch() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let (_, _, html) = page(&c, "/proposals").await;
    assert!(html.contains(r#"name="diff""#) && html.contains("Rules patch"));
    let post = |diff: &str| {
        let fields = vec![
            ("target", "codex:5.4".to_owned()),
            ("domain_id", String::new()),
            (
                "proposed_text",
                "Nodes acknowledge within ten minutes.".to_owned(),
            ),
            ("rationale", "Slow links".to_owned()),
            ("diff", diff.to_owned()),
            ("voting_period_secs", String::new()),
            ("token", token.clone()),
        ];
        c.http
            .post(format!("{}/actions/propose", c.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&fields))
            .send()
    };
    let size = c.log_size().await;
    // A patch the node refuses: the page carries the endpoint's own message.
    let bad = r#"[{"op": "move", "from": "/a", "path": "/b"}]"#;
    let (s, api) = c
        .post(
            "/v1/operator/propose",
            &json!({"clause": "5.4", "proposed_text": "t", "rationale": "r",
                    "diff": serde_json::from_str::<Value>(bad).unwrap()}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 422, "{api}");
    let message = api["error"]["message"].as_str().unwrap();
    let r = post(bad).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&format!("Refused (422 invalid_body): {}", escaped(message))),
        "{body}"
    );
    // Not JSON at all.
    let r = post("[{op: move}]").await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("the rules patch is not JSON"), "{body}");
    assert_eq!(c.log_size().await, size, "nothing refused was logged");
    // A good patch: the proposal carries it.
    let r = post(r#"[{"op": "replace", "path": "/sync_deadline_secs", "value": 600}]"#)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Done: log entry"), "{body}");
    let (_, list) = c.get("/v1/proposals").await;
    let p = &list["proposals"][0];
    assert_eq!(p["target_contract_clause"], "5.4");
    assert_eq!(
        p["changes"]["diff"],
        json!([{"operation": "replace", "path": "/sync_deadline_secs", "value": 600}])
    );
    let (_, _, html) = page(
        &c,
        &format!("/proposals/{}", p["proposal_id"].as_str().unwrap()),
    )
    .await;
    assert!(
        html.contains("/sync_deadline_secs"),
        "the page shows the rules change"
    );
    node.shutdown().await.unwrap();
}

// ---- In the browser

/// A chromedriver process on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver; `None` (with a message) where it is not installed, unless
/// this is CI, where that is a failure.
fn start_driver() -> Option<Driver> {
    let found = Command::new("chromedriver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let msg = "chromedriver was not found: install Debian's chromium and chromium-driver \
                   (apt-get install -y chromium chromium-driver) to run the browser tests";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return None;
    }
    let port = govmesh_node::free_loopback_port().unwrap();
    let driver = Driver {
        child: Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
        url: format!("http://127.0.0.1:{port}"),
    };
    // Ready when it accepts connections.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Some(driver);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("chromedriver did not listen on {addr}");
}

async fn browser(driver: &Driver) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,800"]}),
    );
    fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of the first element `css` selects, once `done` says it is final: after
/// each look, waits for the page's next change (a refresh from the event stream, an
/// answer, or 5 s without one). Gives up after 40 looks, naming the last text.
async fn wait_until(b: &fantoccini::Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..40 {
        if let Ok(el) = b.find(fantoccini::Locator::Css(css)).await {
            last = el.text().await.unwrap_or_default();
            if done(&last) {
                return last;
            }
        }
        b.execute_async(
            "const done = arguments[arguments.length - 1];
             setTimeout(() => done(false), 5000);
             new MutationObserver((_, o) => { o.disconnect(); done(true); })
               .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});",
            vec![],
        )
        .await
        .ok();
    }
    panic!("{css} never became final; it says {last:?}");
}

async fn wait_text(b: &fantoccini::Client, css: &str, want: &str) -> String {
    wait_until(b, css, |t| t.contains(want)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium() {
    let Some(driver) = start_driver() else {
        return;
    };
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(&c, &token, "Every change is read by two reviewers.").await;
    let b = browser(&driver).await;
    let shots = screenshot_dir();
    let me = m.me.node_id().to_owned();
    let pages = [
        ("overview", "/".to_owned()),
        ("topology", "/topology".to_owned()),
        ("node", format!("/nodes/{me}")),
        ("proposals", "/proposals".to_owned()),
        ("proposal", format!("/proposals/{pid}")),
        ("contracts", "/contracts".to_owned()),
        ("contract", "/contracts/codex".to_owned()),
        ("sync", "/sync".to_owned()),
        ("domains", "/domains".to_owned()),
        ("trust", "/trust".to_owned()),
        ("log", "/log".to_owned()),
        ("not-found", "/proposals/nothing-here".to_owned()),
    ];
    for (w, h, tag) in [(1280, 800, "1280"), (420, 900, "420")] {
        b.set_window_size(w, h).await.unwrap();
        for (name, path) in &pages {
            b.goto(&format!("{}{path}", node.url)).await.unwrap();
            let h1 = b
                .find(fantoccini::Locator::Css("h1"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!h1.is_empty(), "{path} has a heading");
            let png = b.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "{path}");
            std::fs::write(shots.join(format!("{name}-{tag}.png")), png).unwrap();
        }
    }
    b.set_window_size(1280, 800).await.unwrap();

    // Follow a node from the topology graph.
    b.goto(&format!("{}/topology", node.url)).await.unwrap();
    b.find(fantoccini::Locator::Css(&format!(
        "svg a[data-node='{}']",
        m.a.node_id()
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let h1 = wait_text(&b, "h1", "Node").await;
    assert!(h1.starts_with("Node "), "{h1}");
    assert!(
        b.current_url()
            .await
            .unwrap()
            .path()
            .ends_with(m.a.node_id())
    );

    // The log page verifies its entries in the browser.
    b.goto(&format!("{}/log", node.url)).await.unwrap();
    let settled = |t: &str| !t.is_empty() && !t.contains("verifying");
    let badge = wait_until(&b, "[data-verify]", settled).await;
    assert!(badge.starts_with("verified in this browser"), "{badge}");

    // Vote through the form as the operator: the answer is shown, the tally changes
    // without a reload.
    b.goto(&format!("{}/proposals/{pid}", node.url))
        .await
        .unwrap();
    b.execute("window.__same_page = true;", vec![])
        .await
        .unwrap();
    b.find(fantoccini::Locator::Css(
        "input[name=choice][value=approve]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    b.find(fantoccini::Locator::Css("#v-token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    b.find(fantoccini::Locator::Css(
        "form[data-action=vote] button[type=submit]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let answer = wait_text(&b, "form[data-action=vote] output", "Done").await;
    assert!(answer.contains("(vote)"), "{answer}");
    wait_text(&b, "[data-part=tally] .counts", "1 approve").await;
    std::fs::write(
        shots.join("proposal-voted-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();

    // Another founder votes elsewhere (signed with its own key): two of three
    // approve, and the page shows the tally and the adoption.
    vote_as(&c, &m.a, &pid, VoteChoice::Approve).await;
    wait_text(&b, "[data-part=status]", "adopted").await;
    wait_text(&b, "[data-part=tally] .counts", "2 approve").await;
    // The vote form is gone with the vote.
    assert!(
        b.find(fantoccini::Locator::Css("form[data-action=vote]"))
            .await
            .is_err()
    );
    let same = b
        .execute("return window.__same_page === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was reloaded");
    // The votes are verified in the browser (signatures; inclusion once sealed).
    let badge = wait_until(&b, "[data-verify]", settled).await;
    assert!(badge.starts_with("verified in this browser"), "{badge}");
    std::fs::write(
        shots.join("proposal-adopted-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();

    b.close().await.unwrap();
    node.shutdown().await.unwrap();
}

/// A proxy in front of a node that serves everything as the node does, except that
/// the log entry at `index` has its council timestamp altered (its signature still
/// verifies; its leaf no longer matches the signed tree). No event stream.
async fn tampering_proxy(upstream: String, index: u64) -> String {
    proxy(upstream, Some(index), false).await
}

/// The proxy of [`tampering_proxy`]: `tamper` alters that entry; `seal_unsigned`
/// serves the hub's checkpoint (`/v1/log/checkpoint`, no witness cosignatures) as
/// the seal.
async fn proxy(upstream: String, tamper: Option<u64>, seal_unsigned: bool) -> String {
    use axum::body::Body;
    use axum::http::{Request, Response, StatusCode};
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let (http, upstream) = (http.clone(), upstream.clone());
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            if path.starts_with("/v1/events") {
                return Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Body::empty())
                    .unwrap();
            }
            let from = if seal_unsigned && path == "/v1/log/seal" {
                "/v1/log/checkpoint"
            } else {
                path.as_str()
            };
            let r = http.get(format!("{upstream}{from}")).send().await.unwrap();
            let status = r.status().as_u16();
            let ctype = r.headers().get("content-type").cloned();
            let mut bytes = r.bytes().await.unwrap().to_vec();
            if path.starts_with("/v1/log/entries") {
                let mut v: Value = serde_json::from_slice(&bytes).unwrap();
                for e in v["entries"].as_array_mut().unwrap() {
                    if Some(e["index"].as_u64().unwrap()) == tamper {
                        let t = e["timestamp"].as_str().unwrap().replacen("20", "19", 1);
                        e["timestamp"] = Value::String(t);
                    }
                }
                bytes = serde_json::to_vec(&v).unwrap();
            }
            let mut resp = Response::builder().status(status);
            if let Some(t) = ctype {
                resp = resp.header("content-type", t);
            }
            resp.body(Body::from(bytes)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A page served through a proxy that alters an entry: the browser's check names the
/// entry and the check that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_is_refused_in_chromium() {
    let Some(driver) = start_driver() else {
        return;
    };
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    propose(&c, &token, "t").await;
    // The seal covers the proposal once the log has settled at 2 entries.
    let mut sealed = false;
    for _ in 0..400 {
        let (s, text) = c.get_text("/v1/log/seal").await;
        if s == 200 && text.lines().nth(1) == Some("2") {
            sealed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(sealed, "the hub sealed its 2 entries");
    let proxy = tampering_proxy(node.url.clone(), 1).await;
    let b = browser(&driver).await;
    b.goto(&format!("{proxy}/log")).await.unwrap();
    let settled = |t: &str| !t.is_empty() && !t.contains("verifying");
    let badge = wait_until(&b, "[data-verify]", settled).await;
    assert_eq!(
        badge,
        "verification failed: entry 1: inclusion proof does not lead to the sealed root"
    );
    let mark = wait_until(&b, "[data-verify-entry='1']", |t| !t.is_empty()).await;
    assert!(mark.contains("inclusion proof"), "{mark}");
    let mark0 = wait_until(&b, "[data-verify-entry='0']", |t| !t.is_empty()).await;
    assert_eq!(mark0, "✓");
    std::fs::write(
        screenshot_dir().join("log-tampered-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();
    b.close().await.unwrap();
    node.shutdown().await.unwrap();
}

/// Votes cast through the forms of two hubs' dashboards in a three-hub council: each
/// page shows the other's vote, then the adoption, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_on_two_hubs_dashboards_show_on_both_without_reload() {
    use govmesh_core::model::NodeType;
    let Some(driver) = start_driver() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let keys = [
        super::util::key(61),
        super::util::key(62),
        super::util::key(63),
    ];
    let addrs = [
        super::util::free_addr(),
        super::util::free_addr(),
        super::util::free_addr(),
    ];
    let founders = keys
        .iter()
        .zip(addrs)
        .map(|(k, a)| super::util::spec(k, NodeType::GovernanceHub, a))
        .collect();
    let genesis =
        govmesh_node::mesh_genesis("two-dashboards", &keys[0], founders, govmesh_node::now())
            .unwrap();
    let mut nodes = Vec::new();
    let mut tokens = Vec::new();
    for (i, (k, addr)) in keys.iter().zip(addrs).enumerate() {
        let dir = tmp.path().join(format!("hub{i}"));
        govmesh_node::join(&dir, k.clone(), &genesis).unwrap();
        tokens.push(govmesh_node::load_token(&dir).unwrap());
        nodes.push(govmesh_node::serve(&dir, addr).await.unwrap());
    }
    // A proposal, once the council has a leader to order it (a refusal before then
    // names the missing leader; the proposal is retried until it is committed).
    let c0 = Client::new(&nodes[0].url);
    let mut pid = None;
    for _ in 0..600 {
        let (s, v) = c0
            .post(
                "/v1/operator/propose",
                &json!({"clause": "11.1", "proposed_text": "Two dashboards.", "rationale": "Seen from two hubs"}),
                Some(&tokens[0]),
            )
            .await;
        if s == 201 {
            pid = v["proposal_id"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = pid.expect("the council accepted the proposal");
    let path = format!("/proposals/{pid}");
    // Each hub's page, once its log holds the proposal.
    let (one, two) = (browser(&driver).await, browser(&driver).await);
    for (b, n) in [(&one, &nodes[0]), (&two, &nodes[1])] {
        let mut shown = false;
        for _ in 0..600 {
            b.goto(&format!("{}{path}", n.url)).await.unwrap();
            if b.find(fantoccini::Locator::Css("form[data-action=vote]"))
                .await
                .is_ok()
            {
                shown = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(shown, "{} shows the proposal", n.url);
        b.execute("window.__same_page = true;", vec![])
            .await
            .unwrap();
    }
    async fn vote_in(b: &fantoccini::Client, token: &str) {
        b.find(fantoccini::Locator::Css(
            "input[name=choice][value=approve]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        b.find(fantoccini::Locator::Css("#v-token"))
            .await
            .unwrap()
            .send_keys(token)
            .await
            .unwrap();
        b.find(fantoccini::Locator::Css(
            "form[data-action=vote] button[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        let answer = wait_text(b, "#notice", "Done").await;
        assert!(answer.contains("(vote)"), "{answer}");
    }
    // Hub 0's operator votes on hub 0's page; hub 1's page shows it.
    vote_in(&one, &tokens[0]).await;
    wait_text(&two, "[data-part=tally] .counts", "1 approve").await;
    // Hub 1's operator votes on hub 1's page: two of three approve, adopted on both.
    vote_in(&two, &tokens[1]).await;
    for b in [&one, &two] {
        wait_text(b, "[data-part=status]", "adopted").await;
        wait_text(b, "[data-part=tally] .counts", "2 approve").await;
        let same = b
            .execute("return window.__same_page === true;", vec![])
            .await
            .unwrap();
        assert_eq!(same, json!(true), "the page was reloaded");
    }
    std::fs::write(
        screenshot_dir().join("proposal-two-hubs-1280.png"),
        two.screenshot().await.unwrap(),
    )
    .unwrap();
    one.close().await.unwrap();
    two.close().await.unwrap();
    for n in nodes {
        n.shutdown().await.unwrap();
    }
}

/// Waits until the node's seal covers `size` entries.
async fn sealed_at(c: &Client, size: u64) {
    for _ in 0..600 {
        let (s, text) = c.get_text("/v1/log/seal").await;
        if s == 200 && text.lines().nth(1) == Some(size.to_string().as_str()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the hub never sealed {size} entries");
}

/// The text of the first element `css` selects ("" if none).
async fn text_of(b: &fantoccini::Client, css: &str) -> String {
    match b.find(fantoccini::Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Pastes a key file into the page's own-key box and uses it; returns what the box
/// says then.
async fn use_key(b: &fantoccini::Client, key_file: &str) -> String {
    let before = text_of(b, "#k-state").await;
    let area = b.find(fantoccini::Locator::Css("#k-file")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys(key_file).await.unwrap();
    b.find(fantoccini::Locator::Css("#k-use"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(b, "#k-state", |t| !t.is_empty() && t != before).await
}

/// Votes through the page's form; returns the page's notice once it says something new.
async fn vote_in_page(b: &fantoccini::Client, choice: &str) -> String {
    let before = text_of(b, "#notice").await;
    b.find(fantoccini::Locator::Css(&format!(
        "input[name=choice][value={choice}]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    b.find(fantoccini::Locator::Css(
        "form[data-action=vote] button[type=submit]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_until(b, "#notice", |t| !t.is_empty() && t != before).await
}

/// A user's own key, pasted into the proposal page, signs a vote in the browser
/// (WebCrypto Ed25519, the DSSE envelope over the JCS payload) that the node accepts
/// through `POST /v1/entries` and counts; no operator token is asked for. A key of no
/// registered node gets the API's own refusal, word for word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_signed_in_the_browser_is_counted() {
    let Some(driver) = start_driver() else {
        return;
    };
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(&c, &token, "Signed where the voter sits.").await;
    let b = browser(&driver).await;
    b.goto(&format!("{}/proposals/{pid}", node.url))
        .await
        .unwrap();
    b.execute("window.__same_page = true;", vec![])
        .await
        .unwrap();

    // A key the registry does not know: the page shows what the API says.
    let stranger = govmesh_core::keys::KeyPair::from_seed([77; 32]);
    let said = use_key(&b, &stranger.to_file_json()).await;
    assert!(said.starts_with("Signing as node"), "{said}");
    assert!(said.contains(stranger.node_id()), "{said}");
    let field = b.find(fantoccini::Locator::Css("#k-file")).await.unwrap();
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(""),
        "the pasted key is cleared"
    );
    let refused = vote_in_page(&b, "approve").await;
    let env = sign_entry_at(
        &stranger,
        Operation::Vote(VoteOp {
            proposal_id: pid.clone(),
            choice: VoteChoice::Approve,
            reason: None,
            sequence: 0,
        }),
        govmesh_node::now(),
    );
    let (s, api) = c
        .post("/v1/entries", &serde_json::to_value(env).unwrap(), None)
        .await;
    assert!(s >= 400, "{api}");
    assert_eq!(
        refused,
        format!(
            "Refused ({s} {}): {}",
            api["error"]["code"].as_str().unwrap(),
            api["error"]["message"].as_str().unwrap()
        )
    );

    // A key file whose public key is not its secret's is not used.
    let mut bad: Value = serde_json::from_str(&m.a.to_file_json()).unwrap();
    bad["public_key"] = json!(m.b.public().to_base64());
    let said = use_key(&b, &bad.to_string()).await;
    assert_eq!(said, "Key not used: public_key does not match secret_seed");

    // Founder a's key: the vote is signed in the page and counted.
    let said = use_key(&b, &m.a.to_file_json()).await;
    assert!(said.contains(m.a.node_id()), "{said}");
    let signer = b
        .find(fantoccini::Locator::Css("form[data-action=vote] .signer"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(signer.contains(m.a.node_id()), "{signer}");
    let done = vote_in_page(&b, "approve").await;
    assert!(
        done.starts_with("Done: log entry #") && done.ends_with("(vote), signed in this browser."),
        "{done}"
    );
    wait_text(&b, "[data-part=tally] .counts", "1 approve").await;
    let (_, v) = c.get(&format!("/v1/proposals/{pid}")).await;
    let votes = v["votes"].as_array().unwrap();
    assert_eq!(votes.len(), 1, "{v}");
    assert_eq!(votes[0]["voter"], m.a.node_id());
    assert_eq!(votes[0]["choice"], "approve");
    // Voting again is a change (the next sequence, as the operator endpoint and the
    // CLI number it), not a second vote with the same sequence: this policy does not
    // allow changes, so the node refuses it, and founder a is not suspended.
    let changed = vote_in_page(&b, "reject").await;
    assert!(
        changed.starts_with("Refused (422 forbidden): ")
            && changed.contains("does not allow changing a vote (allow_vote_change)"),
        "{changed}"
    );
    let (_, n) = c.get(&format!("/v1/nodes/{}", m.a.node_id())).await;
    assert!(n["suspension"].is_null(), "{n}");
    let same = b
        .execute("return window.__same_page === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was reloaded");
    std::fs::write(
        screenshot_dir().join("proposal-own-key-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();
    b.close().await.unwrap();
    node.shutdown().await.unwrap();
}

/// A proposal page verifies its propose entry beside its votes, and the overview's
/// seal badge checks the seal; served through a proxy that alters the propose entry,
/// the page names that entry and the check it failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proposal_page_verifies_its_propose_entry_in_chromium() {
    let Some(driver) = start_driver() else {
        return;
    };
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(&c, &token, "Checked where it is read.").await;
    vote_as(&c, &m.a, &pid, VoteChoice::Approve).await;
    sealed_at(&c, 3).await;
    let b = browser(&driver).await;
    let settled = |t: &str| !t.is_empty() && !t.contains("verifying");

    b.goto(&format!("{}/proposals/{pid}", node.url))
        .await
        .unwrap();
    let badge = wait_until(&b, "[data-verify]", settled).await;
    assert!(
        badge.starts_with("verified in this browser: 2 entries against the seal of 3 by hub"),
        "{badge}"
    );
    let mark = wait_until(&b, "[data-shown-type=propose]", |t| !t.is_empty()).await;
    assert_eq!(mark, "✓");
    let index = b
        .find(fantoccini::Locator::Css("[data-shown-type=propose]"))
        .await
        .unwrap()
        .attr("data-verify-entry")
        .await
        .unwrap();
    assert_eq!(index.as_deref(), Some("1"), "the propose entry is entry 1");
    std::fs::write(
        screenshot_dir().join("proposal-verified-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();

    // The overview's seal badge.
    b.goto(&format!("{}/", node.url)).await.unwrap();
    let badge = wait_until(&b, "[data-verify=seal]", settled).await;
    assert!(
        badge.starts_with("verified in this browser: seal of 3 by hub")
            && badge.ends_with("with 0 witness cosignatures (clause 5.4 requires 0)"),
        "{badge}"
    );

    // The propose entry altered on the way.
    let proxied = tampering_proxy(node.url.clone(), 1).await;
    b.goto(&format!("{proxied}/proposals/{pid}")).await.unwrap();
    let badge = wait_until(&b, "[data-verify]", settled).await;
    assert_eq!(
        badge,
        "verification failed: entry 1: inclusion proof does not lead to the sealed root"
    );
    let mark = wait_until(&b, "[data-shown-type=propose]", |t| !t.is_empty()).await;
    assert!(mark.contains("inclusion proof"), "{mark}");
    let vote = wait_until(&b, "[data-shown-type=vote]", |t| !t.is_empty()).await;
    assert_eq!(vote, "✓");
    std::fs::write(
        screenshot_dir().join("proposal-tampered-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();
    b.close().await.unwrap();
    node.shutdown().await.unwrap();
}

/// A mesh whose clause 5.4 counts one witness (seal_threshold 1), that witness not
/// running: a checkpoint served as the seal carries no cosignature, and the page's
/// check says the seal falls short of the threshold instead of trusting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_short_of_its_threshold_reads_as_failed_in_chromium() {
    use govmesh_core::entry::NodeSpec;
    use govmesh_core::model::NodeType;
    let Some(driver) = start_driver() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (hub, witness) = (super::util::key(81), super::util::key(82));
    govmesh_node::init(
        dir.path(),
        govmesh_node::InitOptions {
            mesh_name: "threshold-mesh".into(),
            key: hub.clone(),
            other_founders: vec![NodeSpec::new(&witness, NodeType::ComplianceWitness)],
            network_address: None,
        },
    )
    .unwrap();
    let node = govmesh_node::serve(dir.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let c = Client::new(&node.url);
    let (_, contract) = c.get("/v1/contracts/codex").await;
    let rules = &contract["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cl| cl["clause_id"] == "5.4")
        .unwrap()["rules"];
    assert_eq!(rules["seal_threshold"], 1, "{rules}");
    let proxied = proxy(node.url.clone(), None, true).await;
    let b = browser(&driver).await;
    b.goto(&format!("{proxied}/log")).await.unwrap();
    let settled = |t: &str| !t.is_empty() && !t.contains("verifying");
    let badge = wait_until(&b, "[data-verify]", settled).await;
    assert_eq!(
        badge,
        "verification failed: the seal carries 0 valid witness cosignatures and clause 5.4 \
         requires 1 (seal_threshold 1 of 1 counted witness)"
    );
    std::fs::write(
        screenshot_dir().join("log-below-threshold-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();
    b.close().await.unwrap();
    node.shutdown().await.unwrap();
}

/// A founder that signs two different votes with one sequence is suspended (clause 5.5
/// `suspend_on_equivocation`): its node page says so, with the evidence entry linked,
/// and names the open restore proposal once there is one; the node list (topology
/// page) marks it too. Another founder's page says nothing of the kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_node_shows_as_suspended_with_its_evidence_and_restore_proposal() {
    let m = Mesh::found();
    let token = m.token();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let pid = propose(&c, &token, "Every change is read twice.").await;
    let a = m.a.node_id().to_owned();
    vote_as(&c, &m.a, &pid, VoteChoice::Approve).await;
    vote_as(&c, &m.a, &pid, VoteChoice::Reject).await;
    let (s, v) = c.get(&format!("/v1/nodes/{a}")).await;
    assert_eq!(s, 200, "{v}");
    let evidence = v["suspension"]["evidence_index"]
        .as_u64()
        .unwrap_or_else(|| panic!("founder a is not suspended: {v}"));
    let reason = v["suspension"]["reason"].as_str().unwrap().to_owned();
    let evidence_link = format!(r##"href="/log?start={evidence}#entry-{evidence}""##);

    let (s, _, html) = page(&c, &format!("/nodes/{a}")).await;
    assert_eq!(s, 200);
    assert!(
        html.contains(r#"<span class="badge suspended">suspended</span>"#),
        "{html}"
    );
    assert!(html.contains(&evidence_link), "{html}");
    assert!(html.contains(&escaped(&reason)), "{html}");
    assert!(html.contains("No restore proposal is open"), "{html}");

    // The node list marks it, with the evidence linked.
    let (s, _, topo) = page(&c, "/topology").await;
    assert_eq!(s, 200);
    assert_eq!(topo.matches("rights suspended").count(), 1, "{topo}");
    assert!(topo.contains(&evidence_link), "{topo}");

    // Once a restore proposal is open, the node page links it.
    let (s, r) = c
        .post(
            "/v1/operator/restore",
            &json!({"node_id": a, "rationale": "the double vote was a misconfigured client"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let restore = r["proposal_id"].as_str().unwrap();
    let (_, _, html) = page(&c, &format!("/nodes/{a}")).await;
    assert!(
        html.contains(&format!(r#"href="/proposals/{restore}""#)),
        "{html}"
    );
    assert!(!html.contains("No restore proposal is open"), "{html}");

    // Founder b was never suspended.
    let (_, _, other) = page(&c, &format!("/nodes/{}", m.b.node_id())).await;
    assert!(!other.contains("badge suspended"), "{other}");
    node.shutdown().await.unwrap();
}

/// Sets form fields through the DOM (`css` → value; a checkbox given "check" is
/// checked), clicks the submit button of `form`, and returns what the form's answer
/// says once it is final (neither what it said before nor "Signing…").
async fn submit_in_page(b: &fantoccini::Client, form: &str, fields: &[(&str, &str)]) -> String {
    let out = format!("{form} output.result");
    let before = text_of(b, &out).await;
    for (css, value) in fields {
        b.execute(
            "const el = document.querySelector(arguments[0]);
             if (arguments[1] === 'check') el.checked = true; else el.value = arguments[1];",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
    }
    b.find(fantoccini::Locator::Css(&format!(
        "{form} button[type=submit]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_until(b, &out, |t| {
        !t.is_empty() && t != before && !t.starts_with("Signing") && !t.starts_with("Sending")
    })
    .await
}

/// The API's refusal as the page writes it.
fn refusal(status: u16, api: &Value) -> String {
    format!(
        "Refused ({status} {}): {}",
        api["error"]["code"].as_str().unwrap(),
        api["error"]["message"].as_str().unwrap()
    )
}

/// The log entry at `index`: its envelope's signing key id and its decoded payload.
async fn entry_at(c: &Client, index: u64) -> (String, Value) {
    use base64::Engine as _;
    let (s, v) = c
        .get(&format!("/v1/log/entries?start={index}&end={}", index + 1))
        .await;
    assert_eq!(s, 200, "{v}");
    let env = &v["entries"][0]["envelope"];
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    (
        env["signatures"][0]["keyid"].as_str().unwrap().to_owned(),
        serde_json::from_slice(&payload).unwrap(),
    )
}

/// The index in a "Done: log entry #N (kind), ..." answer.
fn done_index(answer: &str, kind: &str) -> u64 {
    assert!(
        answer.starts_with("Done: log entry #")
            && answer.contains(&format!("({kind}), signed in this browser.")),
        "{answer}"
    );
    answer["Done: log entry #".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A pasted key proposes (the create form: clause, text, rationale, a rules patch in
/// RFC 6902 form, voting period) and defines a domain, each signed in the page and
/// posted to `POST /v1/entries` without the operator token: the entries in the log
/// are signed by the key's node and carry what the forms said. A key of no registered
/// node gets the API's own refusal, word for word; a patch that cannot be converted
/// is named before anything is signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_and_a_domain_signed_in_the_browser() {
    use govmesh_core::entry::{ProposeOp, sign_entry_at};
    use govmesh_core::model::{Changes, Clause, DiffOp, PatchOperation};
    let Some(driver) = start_driver() else {
        return;
    };
    let m = Mesh::found();
    let node = m.serve().await;
    let c = Client::new(&node.url);
    let b = browser(&driver).await;
    let a = m.a.node_id().to_owned();
    let stranger = KeyPair::from_seed([78; 32]);
    let form = "form[data-action=propose]";
    let text = "Nodes acknowledge within ten minutes.";
    let patch = r#"[{"op": "replace", "path": "/sync_deadline_secs", "value": 600}]"#;
    let proposal_fields = [
        ("#p-clause", "codex:5.4"),
        ("#p-text", text),
        ("#p-rationale", "Slow links"),
        ("#p-diff", patch),
        ("#p-period", "3600"),
    ];

    b.goto(&format!("{}/proposals", node.url)).await.unwrap();
    let said = use_key(&b, &stranger.to_file_json()).await;
    assert!(said.contains(stranger.node_id()), "{said}");
    let size = c.log_size().await;
    // A patch operation the node does not take is named before anything is signed.
    let mut bad = proposal_fields;
    bad[3] = ("#p-diff", r#"[{"op": "move", "from": "/a", "path": "/b"}]"#);
    let said = submit_in_page(&b, form, &bad).await;
    assert_eq!(
        said, "The rules patch: diff[0]: unexpected field \"from\"",
        "{said}"
    );
    // The stranger's proposal, refused by the node in its own words.
    let refused = submit_in_page(&b, form, &proposal_fields).await;
    let (_, codex) = c.get("/v1/contracts/codex").await;
    let clause: Clause = serde_json::from_value(
        codex["clauses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|cl| cl["clause_id"] == "5.4")
            .unwrap()
            .clone(),
    )
    .unwrap();
    let op = ProposeOp::amend(
        uuid::Uuid::new_v4().to_string(),
        "codex",
        "5.4",
        clause.hash().unwrap(),
        "Slow links",
        Changes {
            current_text: clause.text.clone(),
            proposed_text: text.to_owned(),
            diff: vec![DiffOp {
                path: "/sync_deadline_secs".into(),
                operation: PatchOperation::Replace,
                value: json!(600),
            }],
        },
    );
    let env = sign_entry_at(&stranger, Operation::Propose(op), govmesh_node::now());
    let (s, api) = c
        .post("/v1/entries", &serde_json::to_value(env).unwrap(), None)
        .await;
    assert!(s >= 400, "{api}");
    assert_eq!(refused, refusal(s, &api));
    assert_eq!(c.log_size().await, size, "nothing refused was logged");

    // Founder a's key: the proposal is signed in the page and appended.
    let said = use_key(&b, &m.a.to_file_json()).await;
    assert!(said.contains(&a), "{said}");
    let done = submit_in_page(&b, form, &proposal_fields).await;
    let index = done_index(&done, "propose");
    assert!(done.ends_with("Open the new proposal"), "{done}");
    let (keyid, payload) = entry_at(&c, index).await;
    assert_eq!(keyid, m.a.public().keyid(), "signed by founder a's key");
    assert_eq!(payload["author"], a.as_str());
    assert_eq!(payload["type"], "propose");
    assert_eq!(payload["base_clause_hash"], clause.hash().unwrap().to_hex());
    let pid = payload["proposal_id"].as_str().unwrap();
    let link = b
        .find(fantoccini::Locator::Css(&format!("{form} output a")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(link.as_deref(), Some(format!("/proposals/{pid}").as_str()));
    let (_, p) = c.get(&format!("/v1/proposals/{pid}")).await;
    assert_eq!(p["proposed_by"], a.as_str(), "{p}");
    assert_eq!(p["changes"]["proposed_text"], text);
    assert_eq!(p["changes"]["current_text"], clause.text.as_str());
    assert_eq!(
        p["changes"]["diff"],
        json!([{"path": "/sync_deadline_secs", "operation": "replace", "value": 600}])
    );
    assert_eq!(payload["voting_period_secs"], 3600);
    std::fs::write(
        screenshot_dir().join("proposals-own-key-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();

    // A domain: refused for the stranger in the API's words, defined for founder a.
    let form = "form[data-action=domains]";
    b.goto(&format!("{}/domains", node.url)).await.unwrap();
    use_key(&b, &stranger.to_file_json()).await;
    let b_member = format!("input[name=member_nodes][value='{}']", m.b.node_id());
    let domain_fields = [
        ("#dd-name", "reviewers"),
        ("#dd-desc", "Those who read every change twice"),
        ("#dd-admin", a.as_str()),
        (b_member.as_str(), "check"),
    ];
    let refused = submit_in_page(&b, form, &domain_fields).await;
    let spec: govmesh_core::entry::DomainSpec = serde_json::from_value(json!({
        "domain_id": uuid::Uuid::new_v4().to_string(), "name": "reviewers",
        "admin_node_id": a, "member_nodes": [m.me.node_id(), m.b.node_id()],
    }))
    .unwrap();
    let env = sign_entry_at(
        &stranger,
        Operation::DefineDomain(spec),
        govmesh_node::now(),
    );
    let (s, api) = c
        .post("/v1/entries", &serde_json::to_value(env).unwrap(), None)
        .await;
    assert!(s >= 400, "{api}");
    assert_eq!(refused, refusal(s, &api));

    use_key(&b, &m.a.to_file_json()).await;
    let done = submit_in_page(&b, form, &[]).await;
    let index = done_index(&done, "define_domain");
    assert!(done.ends_with("Open the new domain"), "{done}");
    let (keyid, payload) = entry_at(&c, index).await;
    assert_eq!(keyid, m.a.public().keyid());
    assert_eq!(payload["author"], a.as_str());
    let domain_id = payload["domain_id"].as_str().unwrap();
    let (s, d) = c.get(&format!("/v1/domains/{domain_id}")).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["name"], "reviewers");
    assert_eq!(d["description"], "Those who read every change twice");
    assert_eq!(d["admin_node_id"], a.as_str());
    let mut members: Vec<&str> = d["member_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    members.sort();
    let mut want = vec![m.me.node_id(), m.b.node_id()];
    want.sort();
    assert_eq!(members, want);
    std::fs::write(
        screenshot_dir().join("domains-own-key-1280.png"),
        b.screenshot().await.unwrap(),
    )
    .unwrap();
    b.close().await.unwrap();
    node.shutdown().await.unwrap();
}
