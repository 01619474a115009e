//! Key files on disk: fresh Ed25519 identities from the OS's randomness, written with
//! mode 0600 and never over an existing file; reading them back with a clear error,
//! refusing one that group or others may read.

use anyhow::{Context, Result, bail};
use govmesh_core::keys::{KeyPair, PublicKey};
use std::fs;
use std::io::Write;
use std::path::Path;

/// A fresh identity; its node id is derived from its public key.
pub fn generate() -> Result<KeyPair> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(KeyPair::from_seed(seed))
}

/// Writes `contents` to a new file readable by its owner only; refuses to overwrite.
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} already exists; not overwriting it", path.display())
        } else {
            anyhow::anyhow!("cannot create {}: {e}", path.display())
        }
    })?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Generates a key and writes it to `path` (mode 0600).
pub fn create(path: &Path) -> Result<KeyPair> {
    let key = generate()?;
    write_secret(path, &key.to_file_json())?;
    Ok(key)
}

/// Reads a key file written by `govmesh key new` (or a node's `node.key`).
pub fn read(path: &Path) -> Result<KeyPair> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    govmesh_node::datadir::refuse_readable_by_others(path)?;
    KeyPair::from_file_json(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a govmesh key file: {e}", path.display()))
}

/// A founder given on the command line: a key file (its node id and public key) or a
/// bare base64 public key (node id derived from it).
pub fn founder(arg: &str) -> Result<(String, PublicKey)> {
    let path = Path::new(arg);
    if path.exists() {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read founder key file {arg}"))?;
        // A key file holds the secret too; only the public half is used.
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("founder key file {arg} is not JSON"))?;
        let node_id = v.get("node_id").and_then(|x| x.as_str());
        let pk = v.get("public_key").and_then(|x| x.as_str());
        let (Some(node_id), Some(pk)) = (node_id, pk) else {
            bail!("founder key file {arg} has no node_id and public_key");
        };
        let pk = PublicKey::from_base64(pk).map_err(|e| anyhow::anyhow!("founder {arg}: {e}"))?;
        return Ok((node_id.to_owned(), pk));
    }
    match PublicKey::from_base64(arg) {
        Ok(pk) => Ok((pk.derived_node_id(), pk)),
        Err(e) => bail!("founder {arg:?} is neither a key file nor a base64 public key ({e})"),
    }
}
