//! `init` and `load`: the files a data directory holds, their modes, and refusing to
//! found a mesh twice in one directory.

use super::util::{Mesh, key};
use govmesh_node::{InitOptions, NodeError, load};

#[test]
fn init_writes_secret_files_and_load_reads_them_back() {
    let m = Mesh::found();
    let d = m.dir.path();
    for f in ["node.key", "operator.token", "node.json", "govmesh.db"] {
        assert!(d.join(f).exists(), "{f} missing");
    }
    #[cfg(unix)]
    for f in ["node.key", "operator.token"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
    let token = m.token();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));

    let info = load(d).unwrap();
    assert_eq!(info, m.info);
    assert_eq!(info.node_id, m.me.node_id());
    assert_eq!(info.mesh_name, "test-mesh");
    assert_eq!(info.mesh_id.len(), 64);
    let k = govmesh_node::load_key(d).unwrap();
    assert_eq!(k.public(), m.me.public());
}

#[test]
fn init_refuses_a_directory_that_already_has_a_ledger() {
    let m = Mesh::found();
    let before = std::fs::read(m.dir.path().join("node.key")).unwrap();
    let err = govmesh_node::init(
        m.dir.path(),
        InitOptions {
            mesh_name: "again".into(),
            key: key(7),
            other_founders: vec![],
            network_address: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, NodeError::AlreadyInitialized { .. }), "{err}");
    assert!(err.to_string().contains("refusing"), "{err}");
    // Nothing was overwritten.
    assert_eq!(
        std::fs::read(m.dir.path().join("node.key")).unwrap(),
        before
    );
    assert_eq!(load(m.dir.path()).unwrap().mesh_name, "test-mesh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_directory_cannot_be_served_twice() {
    let m = Mesh::found();
    let node = m.serve().await;
    let url_before = std::fs::read_to_string(m.dir.path().join("node.url")).unwrap();
    let json_before = std::fs::read_to_string(m.dir.path().join("node.json")).unwrap();
    let err = match govmesh_node::serve(m.dir.path(), "127.0.0.1:0".parse().unwrap()).await {
        Ok(_) => panic!("a second server on the same directory started"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("locked"), "{err}");
    // The running node's files are untouched.
    let url_after = std::fs::read_to_string(m.dir.path().join("node.url")).unwrap();
    let json_after = std::fs::read_to_string(m.dir.path().join("node.json")).unwrap();
    assert_eq!((url_after, json_after), (url_before, json_before));
    node.shutdown().await.unwrap();
    // Once stopped, it can be served again.
    let again = m.serve().await;
    again.shutdown().await.unwrap();
}

#[tokio::test]
async fn serving_an_uninitialized_directory_names_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    let err = match govmesh_node::serve(d.path(), "127.0.0.1:0".parse().unwrap()).await {
        Ok(_) => panic!("served an empty directory"),
        Err(e) => e,
    };
    assert!(matches!(err, NodeError::NotInitialized { .. }), "{err}");
    assert!(err.to_string().contains("govmesh init"), "{err}");
}
