//! Commands that work on this machine rather than through a node's API: `key new`,
//! `init` (found a mesh in a data directory, or join one from its genesis) and `serve`
//! (run the node in-process until Ctrl-C or SIGTERM).

use crate::commands::print_json;
use crate::keyfile;
use anyhow::{Context, Result};
use govmesh_core::entry::NodeSpec;
use govmesh_core::model::NodeType;
use govmesh_node::{InitOptions, RunningNode};
use serde_json::json;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

pub fn key_new(out: &Path, json: bool) -> Result<i32> {
    let key = keyfile::create(out)?;
    if json {
        print_json(&json!({
            "node_id": key.node_id(),
            "public_key": key.public(),
            "keyid": key.keyid(),
            "file": out,
        }));
    } else {
        outln!("node id     {}", key.node_id());
        outln!("public key  {}", key.public().to_base64());
        outln!("written to  {} (mode 0600)", out.display());
    }
    Ok(0)
}

/// `govmesh key rotate`: replaces the key of the node in `data` through an
/// `update_node` entry submitted to `node` (default: the node itself, when running).
/// The new key is staged before the submission and installed after it commits; a
/// rotation interrupted after the commit is finished by running the command again.
pub fn key_rotate(data: &Path, node: Option<&str>, json: bool) -> Result<i32> {
    use govmesh_core::entry::{Operation, UpdateNodeOp};
    use govmesh_node::datadir;
    let info = govmesh_node::load(data)?;
    let old = datadir::load_key(data)?;
    let running = std::fs::read_to_string(data.join(govmesh_node::URL_FILE))
        .ok()
        .map(|u| u.trim().to_owned());
    let url = match (node, &running) {
        (Some(u), _) => u.to_owned(),
        (None, Some(u)) => u.clone(),
        (None, None) => anyhow::bail!(
            "node {} is not running: give --node URL of a running node of the mesh to submit the rotation through",
            info.node_id
        ),
    };
    let client = crate::client::NodeClient::new(&url)?;
    let registered = |client: &crate::client::NodeClient| -> Result<String> {
        let n = client.get(&format!("/v1/nodes/{}", info.node_id))?;
        n.get("public_key")
            .and_then(|k| k.as_str())
            .map(str::to_owned)
            .with_context(|| format!("{url} serves node {} without a public_key", info.node_id))
    };
    // A rotation started before (its key staged) is carried on with the same key: the
    // entry is the same bytes, so if it committed, submitting it again is a replay.
    let new = match datadir::staged_key(data)? {
        Some(next) => next,
        None => {
            let new = keyfile::generate()?.with_node_id(info.node_id.clone());
            datadir::stage_key(data, &new)?;
            new
        }
    };
    let mut index = None;
    if registered(&client)? != new.public().to_base64() {
        let op = UpdateNodeOp::rotate_key(&info.node_id, &old.public(), &new);
        match client.submit(&old, Operation::UpdateNode(op)) {
            Ok(r) => index = r.get("index").and_then(|i| i.as_u64()),
            Err(e) => {
                let replay = matches!(
                    e.downcast_ref::<crate::fail::Failure>(),
                    Some(crate::fail::Failure::Refused { code, .. }) if code == "replay"
                );
                if !replay {
                    // The staged key stays: the next run submits the same entry.
                    return Err(e.context(format!(
                        "rotating the key of node {} through {url} (the new key stays staged in {}; running the command again carries on with it)",
                        info.node_id,
                        data.join(datadir::NEXT_KEY_FILE).display()
                    )));
                }
            }
        }
    }
    datadir::install_staged_key(data)?;
    if json {
        print_json(&json!({
            "node_id": info.node_id,
            "old_keyid": old.keyid(),
            "keyid": new.keyid(),
            "public_key": new.public(),
            "index": index,
            "restart_needed": running.is_some(),
        }));
    } else {
        outln!("node id      {}", info.node_id);
        outln!("old key id   {} (signs nothing new)", old.keyid());
        outln!("new key id   {}", new.keyid());
        if let Some(i) = index {
            outln!("rotated at   log index {i}");
        }
        outln!(
            "written to   {} (mode 0600)",
            data.join(datadir::KEY_FILE).display()
        );
        if running.is_some() {
            outln!(
                "the node is running with the old key: restart it (govmesh serve --data {}) to sign with the new one",
                data.display()
            );
        }
    }
    Ok(0)
}

/// Founders given on the command line as genesis node specs of `node_type`. Each is
/// `KEYFILE_OR_PUBKEY` or `KEYFILE_OR_PUBKEY@http://HOST:PORT` (its registry address).
pub fn founder_specs_of(founders: &[String], node_type: NodeType) -> Result<Vec<NodeSpec>> {
    founders
        .iter()
        .map(|f| {
            let (key, address) = match f.rsplit_once("@http") {
                Some((k, rest)) => (k, Some(format!("http{rest}"))),
                None => (f.as_str(), None),
            };
            let (node_id, public_key) = keyfile::founder(key)?;
            Ok(NodeSpec {
                node_id,
                node_type,
                public_key,
                network_address: address,
                display_name: None,
                node_policy_capabilities: Vec::new(),
            })
        })
        .collect()
}

/// The other founders as genesis node specs (all governance hubs).
pub fn founder_specs(founders: &[String]) -> Result<Vec<NodeSpec>> {
    founder_specs_of(founders, NodeType::GovernanceHub)
}

/// `govmesh init`: who founds the mesh, or which genesis to join.
pub struct InitArgs<'a> {
    pub data: &'a Path,
    pub mesh_name: String,
    pub key: Option<&'a Path>,
    pub hubs: &'a [String],
    pub witnesses: &'a [String],
    pub forks: &'a [String],
    pub network_address: Option<String>,
    pub genesis: Option<&'a Path>,
}

pub fn init(a: InitArgs<'_>, json: bool) -> Result<i32> {
    let data = a.data;
    let info = match a.genesis {
        Some(genesis) => {
            let Some(key) = a.key else {
                anyhow::bail!("--genesis needs --key: the key file of a founder it lists");
            };
            let key = keyfile::read(key)?;
            let record = govmesh_node::read_genesis(genesis)?;
            govmesh_node::join(data, key, &record)?
        }
        None => {
            let key = match a.key {
                Some(k) => keyfile::read(k)?,
                None => keyfile::generate()?,
            };
            let mut other_founders = founder_specs(a.hubs)?;
            other_founders.extend(founder_specs_of(a.witnesses, NodeType::ComplianceWitness)?);
            other_founders.extend(founder_specs_of(a.forks, NodeType::TrustFork)?);
            govmesh_node::init(
                data,
                InitOptions {
                    mesh_name: a.mesh_name,
                    key,
                    other_founders,
                    network_address: a.network_address,
                },
            )?
        }
    };
    let genesis_file = data.join(govmesh_node::GENESIS_FILE);
    if json {
        print_json(&json!({
            "data": data,
            "node_id": info.node_id,
            "node_type": info.node_type,
            "mesh_id": info.mesh_id,
            "mesh_name": info.mesh_name,
            "public_key": info.public_key,
            "listen": info.listen,
            "genesis": genesis_file,
        }));
    } else {
        let role = serde_json::to_value(info.node_type)?;
        outln!(
            "initialized {} as {} {}",
            data.display(),
            role.as_str().unwrap_or("node").replace('_', " "),
            info.node_id
        );
        outln!("mesh        {} ({})", info.mesh_name, info.mesh_id);
        outln!(
            "genesis     {} (other founders join with govmesh init --genesis FILE --key KEY)",
            genesis_file.display()
        );
        outln!("next        govmesh serve --data {}", data.display());
    }
    Ok(0)
}

pub fn parse_listen(listen: &str) -> Result<SocketAddr> {
    listen
        .to_socket_addrs()
        .with_context(|| format!("--listen {listen:?} is not a host:port address"))?
        .next()
        .with_context(|| format!("--listen {listen:?} resolves to no address"))
}

pub fn init_tracing(format: crate::logging::LogFormat) {
    crate::logging::init(format);
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The first stdout line of `serve` and `demo`, flushed so scripts can read it.
pub fn announce(node: &RunningNode) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "govmesh node {} listening on {}",
        node.node_id, node.url
    );
    if let Some(https) = &node.https_url {
        let _ = writeln!(out, "dashboard over HTTPS: {https}/");
    }
    let _ = out.flush();
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What `govmesh serve` is told besides the data directory.
pub struct ServeArgs<'a> {
    /// `--listen`.
    pub listen: Option<&'a str>,
    /// `--stop-with-parent`.
    pub stop_with_parent: bool,
    /// `--peer`, repeated.
    pub peers: Vec<String>,
    /// `--behind-proxy`.
    pub behind_proxy: bool,
    /// `--tls-cert` and `--tls-key`.
    pub tls: Option<govmesh_node::TlsFiles>,
    /// `--re-register`.
    pub re_register: bool,
}

/// `govmesh serve`: on `listen`, else where `node.json` says this node last listened
/// (or its registry address), else on 127.0.0.1:7420.
pub fn serve(
    data: &Path,
    args: ServeArgs<'_>,
    log_format: crate::logging::LogFormat,
) -> Result<i32> {
    let ServeArgs {
        listen,
        stop_with_parent,
        peers,
        behind_proxy,
        re_register,
        tls,
    } = args;
    init_tracing(log_format);
    let listen = match listen {
        Some(l) => l.to_owned(),
        None => govmesh_node::load(data)?
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
    };
    let addr = parse_listen(&listen)?;
    let rt = runtime()?;
    let opts = govmesh_node::ServeOptions {
        peers,
        registered_address_only: !behind_proxy,
        re_register,
        tls,
        ..Default::default()
    };
    let node = rt.block_on(govmesh_node::serve_with(data, addr, opts))?;
    announce(&node);
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    if stop_with_parent {
        // A plain thread: it stays blocked in read() until EOF, and must not hold up
        // the runtime's shutdown.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = eof_tx.send(());
        });
    }
    rt.block_on(async {
        tokio::select! {
            _ = stop_signal() => {}
            Ok(()) = eof_rx, if stop_with_parent => {}
        }
        eprintln!("shutting down");
        node.shutdown().await
    })?;
    Ok(0)
}

/// Where `serve` listens when neither `--listen` nor `node.json` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7420";
