//! The node's data directory: `node.key` (this node's Ed25519 key, 0600),
//! `operator.token` (bearer token of the operator endpoints, 0600), `node.json` (who
//! this node is), the ledger (`govmesh.db`) and, while serving, `node.url`.
//! `init` founds a mesh: it writes all of these and the genesis entry.

use crate::error::NodeError;
use crate::order::now;
use govmesh_core::codex;
use govmesh_core::entry::{NodeSpec, Operation, sign_entry};
use govmesh_core::keys::{KeyPair, PublicKey};
use govmesh_core::model::NodeType;
use govmesh_store::Ledger;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const KEY_FILE: &str = "node.key";
pub const TOKEN_FILE: &str = "operator.token";
pub const NODE_FILE: &str = "node.json";
pub const LEDGER_FILE: &str = "govmesh.db";
pub const URL_FILE: &str = "node.url";

/// What `init` needs to found a mesh.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub mesh_name: String,
    /// This node's key; the node is a founding `governance_hub`.
    pub key: KeyPair,
    /// The other founding nodes of the genesis.
    pub other_founders: Vec<NodeSpec>,
    /// This node's address as the registry should show it.
    pub network_address: Option<String>,
}

/// Who a data directory's node is (the content of `node.json` plus where it lives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub node_id: String,
    pub node_type: NodeType,
    pub mesh_name: String,
    /// Hex hash of the genesis entry.
    pub mesh_id: String,
    pub public_key: PublicKey,
    /// The listen address `serve` last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// The data directory (not stored in `node.json`).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// A new key from the operating system's randomness.
pub fn generate_key() -> Result<KeyPair, NodeError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| NodeError::Random(e.to_string()))?;
    Ok(KeyPair::from_seed(seed))
}

/// Creates the data directory of a new mesh's first hub and writes its genesis.
pub fn init(dir: &Path, opts: InitOptions) -> Result<NodeInfo, NodeError> {
    if opts.mesh_name.trim().is_empty() {
        return Err(NodeError::BadOptions("mesh name is empty".into()));
    }
    let me = opts.key.node_id().to_owned();
    for f in &opts.other_founders {
        if f.node_id == me || f.public_key == opts.key.public() {
            return Err(NodeError::BadOptions(format!(
                "founder {} is this node itself; list only the other founders",
                f.node_id
            )));
        }
    }
    fs::create_dir_all(dir).map_err(|e| NodeError::io(dir, e))?;
    for (file, what) in [(LEDGER_FILE, "a ledger"), (KEY_FILE, "a node key")] {
        if dir.join(file).exists() {
            return Err(NodeError::AlreadyInitialized {
                path: dir.to_owned(),
                what,
            });
        }
    }

    let mut founders = vec![NodeSpec {
        node_id: me.clone(),
        node_type: NodeType::GovernanceHub,
        public_key: opts.key.public(),
        network_address: opts.network_address.clone(),
        display_name: None,
        node_policy_capabilities: Vec::new(),
    }];
    founders.extend(opts.other_founders);
    let genesis = codex::codex_genesis(&opts.mesh_name, founders);
    let envelope = sign_entry(&opts.key, Operation::Genesis(genesis));

    let result = write_founding_files(dir, &opts.key, &envelope).and_then(|mesh_id| {
        let info = NodeInfo {
            node_id: me,
            node_type: NodeType::GovernanceHub,
            mesh_name: opts.mesh_name,
            mesh_id: mesh_id.to_hex(),
            public_key: opts.key.public(),
            listen: None,
            dir: dir.to_owned(),
        };
        write_node_json(&info)?;
        Ok(info)
    });
    if result.is_err() {
        // Leave no half-initialized directory behind: a later `init` would refuse it.
        for f in [KEY_FILE, TOKEN_FILE, NODE_FILE, LEDGER_FILE] {
            let _ = fs::remove_file(dir.join(f));
        }
        for suffix in ["-wal", "-shm"] {
            let _ = fs::remove_file(dir.join(format!("{LEDGER_FILE}{suffix}")));
        }
    }
    result
}

fn write_founding_files(
    dir: &Path,
    key: &KeyPair,
    genesis: &govmesh_core::dsse::Envelope,
) -> Result<govmesh_core::Digest, NodeError> {
    write_secret(&dir.join(KEY_FILE), key.to_file_json().as_bytes())?;
    let mut token = [0u8; 32];
    getrandom::fill(&mut token).map_err(|e| NodeError::Random(e.to_string()))?;
    write_secret(
        &dir.join(TOKEN_FILE),
        format!("{}\n", hex::encode(token)).as_bytes(),
    )?;

    let mut ledger = Ledger::open(dir).map_err(|e| NodeError::Ledger(e.to_string()))?;
    ledger
        .append(genesis, now())
        .map_err(crate::order::ledger_error_to_node)?;
    ledger
        .state()
        .mesh_id()
        .ok_or_else(|| NodeError::Ledger("no mesh id after the genesis".into()))
}

/// Reads `node.json` of an initialized data directory and checks it against `node.key`.
pub fn load(dir: &Path) -> Result<NodeInfo, NodeError> {
    let path = dir.join(NODE_FILE);
    let text = read_required(&path, dir, NODE_FILE)?;
    let mut info: NodeInfo = serde_json::from_str(&text).map_err(|e| NodeError::BadFile {
        path: path.clone(),
        message: e.to_string(),
    })?;
    info.dir = dir.to_owned();
    let key = load_key(dir)?;
    if key.node_id() != info.node_id || key.public() != info.public_key {
        return Err(NodeError::BadFile {
            path,
            message: format!(
                "names node {} but {KEY_FILE} holds the key of node {}",
                info.node_id,
                key.node_id()
            ),
        });
    }
    if !dir.join(LEDGER_FILE).exists() {
        return Err(NodeError::NotInitialized {
            path: dir.to_owned(),
            what: LEDGER_FILE,
        });
    }
    Ok(info)
}

/// This node's signing key (`node.key`).
pub fn load_key(dir: &Path) -> Result<KeyPair, NodeError> {
    let path = dir.join(KEY_FILE);
    let text = read_required(&path, dir, KEY_FILE)?;
    KeyPair::from_file_json(&text).map_err(|e| NodeError::BadFile {
        path,
        message: e.to_string(),
    })
}

/// The operator bearer token (`operator.token`, trimmed).
pub fn load_token(dir: &Path) -> Result<String, NodeError> {
    let path = dir.join(TOKEN_FILE);
    let token = read_required(&path, dir, TOKEN_FILE)?.trim().to_owned();
    if token.len() < 16 {
        return Err(NodeError::BadFile {
            path,
            message: "the operator token is shorter than 16 characters".into(),
        });
    }
    Ok(token)
}

pub(crate) fn write_node_json(info: &NodeInfo) -> Result<(), NodeError> {
    let text = serde_json::to_string_pretty(info).expect("node info serializes") + "\n";
    write_atomic(&info.dir.join(NODE_FILE), text.as_bytes())
}

fn read_required(path: &Path, dir: &Path, what: &'static str) -> Result<String, NodeError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(NodeError::NotInitialized {
            path: dir.to_owned(),
            what,
        }),
        Err(e) => Err(NodeError::io(path, e)),
    }
}

/// Writes a new file readable by the owner only; never overwrites.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| NodeError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| NodeError::io(path, e))
}

/// Writes through a temporary file and a rename, so readers never see half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(|e| NodeError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| NodeError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| NodeError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_of_an_empty_dir_names_the_missing_file() {
        let d = tempfile::tempdir().unwrap();
        let err = load(d.path()).unwrap_err();
        assert!(
            matches!(
                err,
                NodeError::NotInitialized {
                    what: NODE_FILE,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn init_refuses_itself_as_other_founder_and_empty_names() {
        let d = tempfile::tempdir().unwrap();
        let key = KeyPair::from_seed([5; 32]);
        let me = NodeSpec {
            node_id: key.node_id().to_owned(),
            node_type: NodeType::GovernanceHub,
            public_key: key.public(),
            network_address: None,
            display_name: None,
            node_policy_capabilities: vec![],
        };
        let err = init(
            d.path(),
            InitOptions {
                mesh_name: "m".into(),
                key: key.clone(),
                other_founders: vec![me],
                network_address: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, NodeError::BadOptions(_)), "{err}");
        let err = init(
            d.path(),
            InitOptions {
                mesh_name: " ".into(),
                key,
                other_founders: vec![],
                network_address: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, NodeError::BadOptions(_)), "{err}");
        assert!(!d.path().join(KEY_FILE).exists());
    }
}
