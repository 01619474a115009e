//! The dashboard against a real node on a loopback port: every page over HTTP (HTML,
//! 4xx pages for bad input, the no-JavaScript form action, the event stream and the
//! Atom feed), and in headless Chromium driven through WebDriver (chromium-driver):
//! every page loaded and screenshotted under target/screenshots/ at 1280×800 and
//! 420 wide, a vote cast through the form and the tally and status changing without
//! a reload, and the in-browser verification badge.

use super::util::{Client, Mesh};
use govmesh_core::entry::{Operation, VoteOp, sign_entry};
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
    let env = sign_entry(
        k,
        Operation::Vote(VoteOp {
            proposal_id: proposal_id.to_owned(),
            choice,
            reason: Some("read it twice".into()),
        }),
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
            let r = http.get(format!("{upstream}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            let ctype = r.headers().get("content-type").cloned();
            let mut bytes = r.bytes().await.unwrap().to_vec();
            if path.starts_with("/v1/log/entries") {
                let mut v: Value = serde_json::from_slice(&bytes).unwrap();
                for e in v["entries"].as_array_mut().unwrap() {
                    if e["index"] == index {
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
