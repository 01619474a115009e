//! The node's data directory: `node.key` (this node's Ed25519 key, 0600),
//! `operator.token` (bearer token of the operator endpoints, 0600), `node.json` (who
//! this node is), the ledger (`govmesh.db`) and, while serving, `node.url`.
//! `init` founds a mesh: it writes all of these and the genesis entry. [`mesh_genesis`]
//! builds the signed genesis record of a mesh with founders of every role, and [`join`]
//! sets up any founder's directory from that record, stored byte for byte, so every
//! node's log starts identically. Every data directory also keeps `genesis.json`, the
//! genesis record as JSON, to hand to the other founders.

use crate::error::NodeError;
use crate::order::now;
use govmesh_core::codex;
use govmesh_core::entry::{LogRecord, NodeSpec, Operation, sign_entry};
use govmesh_core::keys::{KeyPair, PublicKey};
use govmesh_core::model::NodeType;
use govmesh_core::stamp::Timestamp;
use govmesh_core::state::State;
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
pub const GENESIS_FILE: &str = "genesis.json";

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
    let me = opts.key.node_id().to_owned();
    for f in &opts.other_founders {
        if f.node_id == me || f.public_key == opts.key.public() {
            return Err(NodeError::BadOptions(format!(
                "founder {} is this node itself; list only the other founders",
                f.node_id
            )));
        }
    }
    refuse_initialized(dir)?;
    let mut founders = vec![NodeSpec {
        node_id: me,
        node_type: NodeType::GovernanceHub,
        public_key: opts.key.public(),
        network_address: opts.network_address.clone(),
        display_name: None,
        node_policy_capabilities: Vec::new(),
    }];
    founders.extend(opts.other_founders);
    let genesis = mesh_genesis(&opts.mesh_name, &opts.key, founders, now())?;
    join(dir, opts.key, &genesis)
}

/// The signed genesis record (index 0, stamped `at`) of a new mesh whose founders are
/// `founders`, of any role and with their addresses. `signer` signs it and must be one
/// of the founding governance hubs; it becomes the first founder (the council domain's
/// admin). The record is checked by applying it to an empty state, so an invalid
/// founder list is refused here with the state machine's reason.
pub fn mesh_genesis(
    mesh_name: &str,
    signer: &KeyPair,
    founders: Vec<NodeSpec>,
    at: Timestamp,
) -> Result<LogRecord, NodeError> {
    if mesh_name.trim().is_empty() {
        return Err(NodeError::BadOptions("mesh name is empty".into()));
    }
    let me = signer.node_id();
    let mut ordered = Vec::with_capacity(founders.len());
    let mut rest = Vec::with_capacity(founders.len());
    for f in founders {
        if f.node_id == me {
            if f.public_key != signer.public() {
                return Err(NodeError::BadOptions(format!(
                    "founder {} is listed with another public key than the signer's",
                    f.node_id
                )));
            }
            if f.node_type != NodeType::GovernanceHub {
                return Err(NodeError::BadOptions(format!(
                    "the genesis signer {} must be a governance_hub founder",
                    f.node_id
                )));
            }
            if !ordered.is_empty() {
                return Err(NodeError::BadOptions(format!(
                    "founder {} is listed twice",
                    f.node_id
                )));
            }
            ordered.push(f);
        } else {
            rest.push(f);
        }
    }
    if ordered.is_empty() {
        return Err(NodeError::BadOptions(format!(
            "the genesis signer {me} is not among the founders"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in ordered.iter().chain(&rest) {
        if !seen.insert(f.node_id.clone()) {
            return Err(NodeError::BadOptions(format!(
                "founder {} is listed twice",
                f.node_id
            )));
        }
    }
    ordered.extend(rest);
    let genesis = codex::codex_genesis(mesh_name, ordered);
    let record = LogRecord {
        index: 0,
        timestamp: at,
        envelope: sign_entry(signer, Operation::Genesis(genesis)),
    };
    State::new()
        .apply_record(&record)
        .map_err(NodeError::Genesis)?;
    Ok(record)
}

/// Creates the data directory of `key`'s node, a founder of the mesh `genesis` starts,
/// with whatever role the genesis gives it. The genesis record is stored exactly as
/// given (same timestamp, same signature), so this node's log is byte-identical to
/// every other founder's. `node.json` gets the founder's registry address as its
/// `listen` address when that address is `http://HOST:PORT`, so a plain `serve` comes
/// up where the others expect it.
pub fn join(dir: &Path, key: KeyPair, genesis: &LogRecord) -> Result<NodeInfo, NodeError> {
    let mut state = State::new();
    state.apply_record(genesis).map_err(NodeError::Genesis)?;
    let me = key.node_id().to_owned();
    let Some(founder) = state.node(&me) else {
        return Err(NodeError::BadOptions(format!(
            "node {me} (the given key) is not a founder in this genesis"
        )));
    };
    if founder.public_key != key.public() {
        return Err(NodeError::BadOptions(format!(
            "founder {me} has another public key in this genesis than the given key's"
        )));
    }
    let node_type = founder.node_type;
    let listen = founder
        .network_address
        .as_deref()
        .and_then(listen_of_address);
    let mesh_name = state.mesh_name().unwrap_or_default().to_owned();
    refuse_initialized(dir)?;

    let result = write_joined_files(dir, &key, genesis).and_then(|mesh_id| {
        let info = NodeInfo {
            node_id: me,
            node_type,
            mesh_name,
            mesh_id: mesh_id.to_hex(),
            public_key: key.public(),
            listen,
            dir: dir.to_owned(),
        };
        write_node_json(&info)?;
        Ok(info)
    });
    if result.is_err() {
        // Leave no half-initialized directory behind: a later `init` would refuse it.
        for f in [KEY_FILE, TOKEN_FILE, NODE_FILE, LEDGER_FILE, GENESIS_FILE] {
            let _ = fs::remove_file(dir.join(f));
        }
        for suffix in ["-wal", "-shm"] {
            let _ = fs::remove_file(dir.join(format!("{LEDGER_FILE}{suffix}")));
        }
        govmesh_store::remove_snapshot_files(dir);
    }
    result
}

/// Reads a genesis record file (`genesis.json`, as `init` and `join` write it).
pub fn read_genesis(path: &Path) -> Result<LogRecord, NodeError> {
    let text = fs::read_to_string(path).map_err(|e| NodeError::io(path, e))?;
    let record: LogRecord = serde_json::from_str(&text).map_err(|e| NodeError::BadFile {
        path: path.to_owned(),
        message: format!("not a genesis log record: {e}"),
    })?;
    if record.index != 0 {
        return Err(NodeError::BadFile {
            path: path.to_owned(),
            message: format!("record index {} is not 0, so not a genesis", record.index),
        });
    }
    Ok(record)
}

/// `host:port` of an `http://host:port[/]` address, if it is one.
pub(crate) fn listen_of_address(address: &str) -> Option<String> {
    let rest = address.strip_prefix("http://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.to_string())
}

fn refuse_initialized(dir: &Path) -> Result<(), NodeError> {
    for (file, what) in [(LEDGER_FILE, "a ledger"), (KEY_FILE, "a node key")] {
        if dir.join(file).exists() {
            return Err(NodeError::AlreadyInitialized {
                path: dir.to_owned(),
                what,
            });
        }
    }
    Ok(())
}

fn write_joined_files(
    dir: &Path,
    key: &KeyPair,
    genesis: &LogRecord,
) -> Result<govmesh_core::Digest, NodeError> {
    // The directory holds the key, the token and the log: the owner's only, whatever
    // the umask (issue 16: 0777 under umask 0000, so anyone could replace files).
    govmesh_store::private_dir(dir).map_err(|e| NodeError::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| NodeError::io(dir, e))?;
    }
    write_secret(&dir.join(KEY_FILE), key.to_file_json().as_bytes())?;
    let mut token = [0u8; 32];
    getrandom::fill(&mut token).map_err(|e| NodeError::Random(e.to_string()))?;
    write_secret(
        &dir.join(TOKEN_FILE),
        format!("{}\n", hex::encode(token)).as_bytes(),
    )?;

    let mut ledger = Ledger::open(dir).map_err(NodeError::Store)?;
    ledger
        .append_records(std::slice::from_ref(genesis))
        .map_err(|e| match e {
            govmesh_store::LedgerError::RecordRejected { rejection, .. } => {
                NodeError::Genesis(rejection)
            }
            other => NodeError::from(other),
        })?;
    let mesh_id = ledger.state().mesh_id().ok_or(NodeError::NoMeshId)?;
    ledger.close().map_err(NodeError::Store)?;
    let text = serde_json::to_string_pretty(genesis).expect("log record serializes") + "\n";
    write_atomic(&dir.join(GENESIS_FILE), text.as_bytes())?;
    Ok(mesh_id)
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
    refuse_readable_by_others(&path)?;
    KeyPair::from_file_json(&text).map_err(|e| NodeError::BadFile {
        path,
        message: e.to_string(),
    })
}

/// The operator bearer token (`operator.token`, trimmed).
pub fn load_token(dir: &Path) -> Result<String, NodeError> {
    let path = dir.join(TOKEN_FILE);
    let token = read_required(&path, dir, TOKEN_FILE)?.trim().to_owned();
    refuse_readable_by_others(&path)?;
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

/// A secret (key, token) that group or others may read is refused: someone may have
/// copied it already, and a node that used it would hide that.
pub fn refuse_readable_by_others(path: &Path) -> Result<(), NodeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|e| NodeError::io(path, e))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(NodeError::BadFile {
                path: path.to_owned(),
                message: format!(
                    "a secret readable by others (mode {mode:04o}); refusing to use it. \
                     `chmod 600` it if nobody else could have read it, else make a new one"
                ),
            });
        }
    }
    Ok(())
}

/// Where `govmesh key rotate` keeps the new key while the rotation is being ordered:
/// written (0600) before the `update_node` entry is submitted, so a crash after the
/// entry commits cannot lose the only key the registry accepts.
pub const NEXT_KEY_FILE: &str = "node.key.next";

/// Stages `key` as the next key of the node in `dir` (`node.key.next`, mode 0600).
/// Refuses if one is staged already: [`staged_key`] reads it back.
pub fn stage_key(dir: &Path, key: &KeyPair) -> Result<(), NodeError> {
    write_secret(&dir.join(NEXT_KEY_FILE), key.to_file_json().as_bytes())
}

/// The staged next key, if a rotation was started.
pub fn staged_key(dir: &Path) -> Result<Option<KeyPair>, NodeError> {
    let path = dir.join(NEXT_KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).map_err(|e| NodeError::io(&path, e))?;
    refuse_readable_by_others(&path)?;
    KeyPair::from_file_json(&text)
        .map(Some)
        .map_err(|e| NodeError::BadFile {
            path,
            message: e.to_string(),
        })
}

/// Makes the staged key the node's key once its rotation is in the log: renames
/// `node.key.next` over `node.key` (atomic; the file keeps mode 0600) and records the
/// new public key in `node.json`. A crash between the two leaves `node.json` naming
/// the old key, which [`load`] reports; running this again finishes the job.
pub fn install_staged_key(dir: &Path) -> Result<KeyPair, NodeError> {
    let key = staged_key(dir)?.ok_or_else(|| NodeError::NotInitialized {
        path: dir.to_owned(),
        what: NEXT_KEY_FILE,
    })?;
    let next = dir.join(NEXT_KEY_FILE);
    let path = dir.join(KEY_FILE);
    fs::File::open(&next)
        .and_then(|f| f.sync_all())
        .map_err(|e| NodeError::io(&next, e))?;
    fs::rename(&next, &path).map_err(|e| NodeError::io(&path, e))?;
    let node = dir.join(NODE_FILE);
    let text = read_required(&node, dir, NODE_FILE)?;
    let mut info: NodeInfo = serde_json::from_str(&text).map_err(|e| NodeError::BadFile {
        path: node.clone(),
        message: e.to_string(),
    })?;
    info.dir = dir.to_owned();
    info.public_key = key.public();
    write_node_json(&info)?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NodeError::io(dir, e))?;
    Ok(key)
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
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    // Readable by all, writable by the owner, whatever the umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o644);
    }
    let mut f = opts.open(&tmp).map_err(|e| NodeError::io(&tmp, e))?;
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
        let me = NodeSpec::new(&key, NodeType::GovernanceHub);
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

    fn spec(key: &KeyPair, node_type: NodeType, port: u16) -> NodeSpec {
        NodeSpec {
            node_id: key.node_id().to_owned(),
            node_type,
            public_key: key.public(),
            network_address: Some(format!("http://127.0.0.1:{port}")),
            display_name: None,
            node_policy_capabilities: vec![],
        }
    }

    #[test]
    fn every_founder_joins_with_a_byte_identical_genesis() {
        let hub1 = KeyPair::from_seed([1; 32]);
        let hub2 = KeyPair::from_seed([2; 32]);
        let wit = KeyPair::from_seed([3; 32]);
        let fork = KeyPair::from_seed([4; 32]);
        // The signer is listed last; it becomes the first founder.
        let founders = vec![
            spec(&hub2, NodeType::GovernanceHub, 7002),
            spec(&wit, NodeType::ComplianceWitness, 7003),
            spec(&fork, NodeType::TrustFork, 7004),
            spec(&hub1, NodeType::GovernanceHub, 7001),
        ];
        let at = Timestamp::from_millis(1_700_000_000_123);
        let genesis = mesh_genesis("m", &hub1, founders, at).unwrap();
        assert_eq!(genesis.timestamp, at);

        let d = tempfile::tempdir().unwrap();
        let mut leaves = Vec::new();
        for (key, ty, port) in [
            (&hub1, NodeType::GovernanceHub, 7001),
            (&hub2, NodeType::GovernanceHub, 7002),
            (&wit, NodeType::ComplianceWitness, 7003),
            (&fork, NodeType::TrustFork, 7004),
        ] {
            let dir = d.path().join(key.node_id());
            let info = join(&dir, key.clone(), &genesis).unwrap();
            assert_eq!(info.node_type, ty);
            assert_eq!(info.listen.as_deref(), Some(&*format!("127.0.0.1:{port}")));
            let loaded = load(&dir).unwrap();
            assert_eq!(loaded, info);
            let ledger = Ledger::open(&dir).unwrap();
            let stored = ledger.record(0).unwrap().unwrap();
            assert_eq!(stored, genesis);
            assert_eq!(ledger.state().mesh_id().unwrap().to_hex(), info.mesh_id);
            let admin = &ledger.state().nodes();
            assert_eq!(admin.len(), 4);
            leaves.push((stored.leaf_bytes(), ledger.root()));
            let on_disk = read_genesis(&dir.join(GENESIS_FILE)).unwrap();
            assert_eq!(on_disk, genesis);
        }
        assert!(leaves.windows(2).all(|w| w[0] == w[1]));

        // Twice into the same directory, or a stranger's key: refused.
        let dir = d.path().join(hub1.node_id());
        let err = join(&dir, hub1.clone(), &genesis).unwrap_err();
        assert!(matches!(err, NodeError::AlreadyInitialized { .. }), "{err}");
        let stranger = KeyPair::from_seed([9; 32]);
        let sdir = d.path().join("stranger");
        let err = join(&sdir, stranger, &genesis).unwrap_err();
        assert!(err.to_string().contains("not a founder"), "{err}");
        assert!(!sdir.join(KEY_FILE).exists());
    }

    /// A join that fails after the ledger was written (here `node.json` cannot be
    /// written: a folder holds its name) leaves no ledger and no snapshot behind.
    #[test]
    fn a_failed_join_removes_the_ledger_and_its_snapshots() {
        let hub1 = KeyPair::from_seed([1; 32]);
        let founders = vec![spec(&hub1, NodeType::GovernanceHub, 7001)];
        let genesis = mesh_genesis("m", &hub1, founders, Timestamp::from_millis(1_000)).unwrap();
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join(NODE_FILE).join("in-the-way")).unwrap();
        let err = join(d.path(), hub1, &genesis).unwrap_err();
        assert!(err.to_string().contains(NODE_FILE), "{err}");
        assert!(!d.path().join(LEDGER_FILE).exists());
        assert!(!d.path().join(KEY_FILE).exists());
        assert!(!d.path().join(govmesh_store::SNAPSHOT_DIR).exists());
    }

    #[test]
    fn a_tampered_genesis_is_refused() {
        let hub1 = KeyPair::from_seed([1; 32]);
        let wit = KeyPair::from_seed([3; 32]);
        let founders = vec![
            spec(&hub1, NodeType::GovernanceHub, 7001),
            spec(&wit, NodeType::ComplianceWitness, 7003),
        ];
        let mut genesis =
            mesh_genesis("m", &hub1, founders.clone(), Timestamp::from_millis(1_000)).unwrap();
        // A valid signature by the same key, over another mesh's genesis.
        let other = mesh_genesis("n", &hub1, founders, Timestamp::from_millis(1_000)).unwrap();
        genesis.envelope.signatures = other.envelope.signatures;
        let d = tempfile::tempdir().unwrap();
        let err = join(d.path(), wit, &genesis).unwrap_err();
        assert!(matches!(err, NodeError::Genesis(_)), "{err}");
        assert!(!d.path().join(LEDGER_FILE).exists());
    }

    #[test]
    fn mesh_genesis_names_what_is_wrong() {
        let hub1 = KeyPair::from_seed([1; 32]);
        let wit = KeyPair::from_seed([3; 32]);
        let at = Timestamp::from_millis(1_000);
        let err = mesh_genesis(
            "m",
            &hub1,
            vec![spec(&wit, NodeType::ComplianceWitness, 1)],
            at,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not among the founders"), "{err}");
        let err = mesh_genesis(
            "m",
            &wit,
            vec![spec(&wit, NodeType::ComplianceWitness, 1)],
            at,
        )
        .unwrap_err();
        assert!(err.to_string().contains("governance_hub"), "{err}");
        let err = mesh_genesis(
            "m",
            &hub1,
            vec![
                spec(&hub1, NodeType::GovernanceHub, 1),
                spec(&wit, NodeType::ComplianceWitness, 2),
                spec(&wit, NodeType::TrustFork, 3),
            ],
            at,
        )
        .unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        assert_eq!(
            listen_of_address("http://127.0.0.1:80/").as_deref(),
            Some("127.0.0.1:80")
        );
        assert_eq!(listen_of_address("https://x:1"), None);
    }
}
