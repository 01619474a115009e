//! `govmesh demo`: founds a three-hub mesh in a fresh data directory, serves it
//! in-process, and then — over HTTP, as any client would — runs one proposal through
//! a vote into contract revision 2 and leaves a second one open. A second run on the
//! same directory resumes: it serves the existing node and skips the story.

use crate::client::NodeClient;
use crate::commands::{ProposeArgs, print_diff, propose_op, rules_diff};
use crate::keyfile;
use crate::local::{announce, founder_specs, init_tracing, parse_listen, runtime, stop_signal};
use anyhow::{Context, Result, bail};
use govmesh_core::entry::{Operation, VoteOp};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::VoteChoice;
use govmesh_node::{InitOptions, NodeError};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

const DEFAULT_LISTEN: &str = "127.0.0.1:7420";
const HUBS: usize = 3;

fn default_dir() -> PathBuf {
    let t = time::OffsetDateTime::now_utc();
    PathBuf::from(format!(
        "govmesh-demo-{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn key_path(dir: &Path, i: usize) -> PathBuf {
    dir.join("keys").join(format!("hub-{i}.key"))
}

/// Creates `DIR/keys` (0700) and the three hub keys (0600), reusing keys that exist.
fn hub_keys(dir: &Path) -> Result<Vec<KeyPair>> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("cannot create {}", keys.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", keys.display()))?;
    }
    (1..=HUBS)
        .map(|i| {
            let p = key_path(dir, i);
            if p.exists() {
                keyfile::read(&p)
            } else {
                keyfile::create(&p)
            }
        })
        .collect()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub fn run(data: Option<PathBuf>, listen: Option<String>) -> Result<i32> {
    init_tracing();
    let dir = data.unwrap_or_else(default_dir);
    // Say where, absolutely: the hints below name files in it.
    let dir = if dir.is_relative() {
        std::env::current_dir()
            .context("the current directory")?
            .join(dir)
    } else {
        dir
    };
    let node_dir = dir.join("node");
    let resume = node_dir.join(govmesh_node::NODE_FILE).exists();
    let keys = if resume {
        say(&format!(
            "resuming the demo in {} (delete it to start over)",
            dir.display()
        ));
        (1..=HUBS)
            .map(|i| keyfile::read(&key_path(&dir, i)))
            .collect::<Result<Vec<_>>>()?
    } else {
        say(&format!("creating a demo mesh in {}", dir.display()));
        let keys = hub_keys(&dir)?;
        let others: Vec<String> = (2..=HUBS)
            .map(|i| key_path(&dir, i).display().to_string())
            .collect();
        govmesh_node::init(
            &node_dir,
            InitOptions {
                mesh_name: "govmesh-demo".into(),
                key: keys[0].clone(),
                other_founders: founder_specs(&others)?,
                network_address: None,
            },
        )?;
        say(&format!(
            "founded mesh govmesh-demo with three governance hubs (keys in {})",
            dir.join("keys").display()
        ));
        keys
    };

    let rt = runtime()?;
    let node = match &listen {
        Some(l) => rt.block_on(govmesh_node::serve(&node_dir, parse_listen(l)?))?,
        None => match rt.block_on(govmesh_node::serve(
            &node_dir,
            parse_listen(DEFAULT_LISTEN)?,
        )) {
            Ok(n) => n,
            Err(NodeError::Bind { .. }) => {
                say(&format!(
                    "{DEFAULT_LISTEN} is taken; listening on a free port instead"
                ));
                rt.block_on(govmesh_node::serve(&node_dir, parse_listen("127.0.0.1:0")?))?
            }
            Err(e) => return Err(e.into()),
        },
    };
    announce(&node);
    let url = node.url.clone();

    // The story runs on this thread with a blocking client, outside the runtime that
    // serves the node: real requests over the socket.
    let story = if resume {
        open_proposals(&url)
    } else {
        story(&url, &keys).map(|open| vec![open])
    };
    let open = match story {
        Ok(o) => o,
        Err(e) => {
            let _ = rt.block_on(node.shutdown());
            return Err(e.context("the demo story failed"));
        }
    };
    say("");
    say("try (in another terminal):");
    if let Ok(exe) = std::env::current_exe() {
        // `cargo run` users have no `govmesh` on their PATH yet.
        if let Some(bin) = exe.parent() {
            say(&format!("  export PATH=\"{}:$PATH\"", bin.display()));
        }
    }
    let kp = |i| key_path(&dir, i).display().to_string();
    say(&format!("  export GOVMESH_NODE={url}"));
    say("  govmesh status");
    say("  govmesh contract history codex");
    say("  govmesh contract diff codex --from 1 --to 2");
    say("  govmesh proposal list");
    for p in &open {
        say(&format!("  govmesh proposal show {p}"));
        say(&format!("  govmesh vote --key {} {p} approve", kp(1)));
        say(&format!("  govmesh vote --key {} {p} approve", kp(3)));
    }
    say("  govmesh verify");
    say(&format!(
        "  open {url}/ in a browser; the API is under {url}/v1/"
    ));
    say("");
    say(&format!("serving {url} until Ctrl-C"));
    rt.block_on(async {
        stop_signal().await;
        say("shutting down");
        node.shutdown().await
    })?;
    Ok(0)
}

fn open_proposals(url: &str) -> Result<Vec<String>> {
    let client = NodeClient::new(url)?;
    let l = client.get("/v1/proposals?status=voting")?;
    Ok(l.get("proposals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p.get("proposal_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect())
}

fn events(resp: &Value) -> Vec<Value> {
    resp.get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The story: proposal 1 on clause 11.1 voted approve, reject, approve and adopted;
/// proposal 2 on clause 11.0 left open. Returns the open proposal's id.
fn story(url: &str, keys: &[KeyPair]) -> Result<String> {
    let client = NodeClient::new(url)?;
    let codex = client.get("/v1/contracts/codex")?;
    let text_of = |id: &str| -> Result<String> {
        codex
            .get("clauses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("clause_id").and_then(Value::as_str) == Some(id))
            .and_then(|c| c.get("text").and_then(Value::as_str))
            .map(str::to_owned)
            .with_context(|| format!("the node's codex has no clause {id}"))
    };

    say("");
    say("1. hub-1 proposes to amend clause 11.1 (Hash Chain Integrity Verification)");
    let args = ProposeArgs {
        contract: "codex".into(),
        clause: "11.1".into(),
        text: format!(
            "{} The report also names the failing entry's operation and author.",
            text_of("11.1")?
        ),
        rationale: "Operators fix failures faster when the report says whose entry failed.".into(),
        rules_patch: None,
        domain: None,
        voting_period: None,
    };
    let patch = json!([{"op": "replace", "path": "/on_failure",
        "value": "stop and report the entry index, its operation and author, and the failed check"}]);
    let op = propose_op(&client, &args, rules_diff(&patch)?)?;
    let pid = op.proposal_id.clone();
    client.submit(&keys[0], Operation::Propose(op))?;
    say(&format!("   proposal {pid} is open for voting"));

    let mut adopted = None;
    for (i, choice) in [VoteChoice::Approve, VoteChoice::Reject, VoteChoice::Approve]
        .into_iter()
        .enumerate()
    {
        let resp = client.submit(
            &keys[i],
            Operation::Vote(VoteOp {
                proposal_id: pid.clone(),
                choice,
                reason: None,
            }),
        )?;
        let word = serde_json::to_value(choice)?;
        say(&format!(
            "2.{} hub-{} votes {}",
            i + 1,
            i + 1,
            word.as_str().unwrap_or("?")
        ));
        for e in events(&resp) {
            match e.get("event").and_then(Value::as_str) {
                Some("proposal_adopted") => {
                    adopted = e.get("revision").and_then(Value::as_u64);
                }
                Some("proposal_rejected") => bail!(
                    "proposal {pid} was rejected: {}",
                    e.get("reason").and_then(Value::as_str).unwrap_or("")
                ),
                _ => {}
            }
        }
    }
    let p = client.get(&format!("/v1/proposals/{pid}"))?;
    let status = p.get("status").and_then(Value::as_str).unwrap_or("?");
    let reason = p
        .pointer("/voting_result/reason")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(rev) = adopted else {
        bail!("proposal {pid} is {status} after three votes, not adopted: {reason}");
    };
    say(&format!(
        "3. the tally decided: {status} ({reason}); codex is now at revision {rev}"
    ));
    print_diff(&clause_diff(&client, rev)?);

    say("");
    say("4. hub-2 proposes to seal checkpoints more often (clause 11.0); left open for you");
    let args = ProposeArgs {
        contract: "codex".into(),
        clause: "11.0".into(),
        text: text_of("11.0")?.replace("max_interval_secs", "max_interval_secs (30 seconds)"),
        rationale: "Fresher seals shorten the window in which a fork can go unnoticed.".into(),
        rules_patch: None,
        domain: None,
        voting_period: None,
    };
    let patch = json!([{"op": "replace", "path": "/checkpoint/max_interval_secs", "value": 30}]);
    let op = propose_op(&client, &args, rules_diff(&patch)?)?;
    let open = op.proposal_id.clone();
    client.submit(&keys[1], Operation::Propose(op))?;
    say(&format!("   proposal {open} is open for voting"));
    Ok(open)
}

/// The diff from revision `rev - 1` to `rev` as the node serves it, or computed here
/// from the two revisions if the node cannot.
fn clause_diff(client: &NodeClient, rev: u64) -> Result<Value> {
    let from = rev - 1;
    if let Ok(d) = client.get(&format!("/v1/contracts/codex/diff?from={from}&to={rev}")) {
        return Ok(d);
    }
    let get = |n: u64| -> Result<govmesh_core::model::Contract> {
        let v = client.get(&format!("/v1/contracts/codex/revisions/{n}"))?;
        serde_json::from_value(v).with_context(|| format!("codex revision {n} as served"))
    };
    let d = govmesh_core::diff::contract_diff(&get(from)?, &get(rev)?);
    Ok(serde_json::to_value(d)?)
}
