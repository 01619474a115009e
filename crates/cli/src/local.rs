//! Commands that work on this machine rather than through a node's API: `key new`,
//! `init` (found a mesh in a data directory) and `serve` (run the node in-process
//! until Ctrl-C or SIGTERM).

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

/// The other founders as genesis node specs (all governance hubs).
pub fn founder_specs(founders: &[String]) -> Result<Vec<NodeSpec>> {
    founders
        .iter()
        .map(|f| {
            let (node_id, public_key) = keyfile::founder(f)?;
            Ok(NodeSpec {
                node_id,
                node_type: NodeType::GovernanceHub,
                public_key,
                network_address: None,
                display_name: None,
                node_policy_capabilities: Vec::new(),
            })
        })
        .collect()
}

pub fn init(
    data: &Path,
    mesh_name: String,
    key: Option<&Path>,
    founders: &[String],
    network_address: Option<String>,
    json: bool,
) -> Result<i32> {
    let key = match key {
        Some(k) => keyfile::read(k)?,
        None => keyfile::generate()?,
    };
    let other_founders = founder_specs(founders)?;
    let info = govmesh_node::init(
        data,
        InitOptions {
            mesh_name,
            key,
            other_founders,
            network_address,
        },
    )?;
    if json {
        print_json(&json!({
            "data": data,
            "node_id": info.node_id,
            "mesh_id": info.mesh_id,
            "mesh_name": info.mesh_name,
            "public_key": info.public_key,
        }));
    } else {
        outln!(
            "initialized {} as governance hub {}",
            data.display(),
            info.node_id
        );
        outln!("mesh        {} ({})", info.mesh_name, info.mesh_id);
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

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GOVMESH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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

pub fn serve(data: &Path, listen: &str) -> Result<i32> {
    init_tracing();
    let addr = parse_listen(listen)?;
    let rt = runtime()?;
    let node = rt.block_on(govmesh_node::serve(data, addr))?;
    announce(&node);
    rt.block_on(async {
        stop_signal().await;
        eprintln!("shutting down");
        node.shutdown().await
    })?;
    Ok(0)
}
