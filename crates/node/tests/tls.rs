//! HTTPS (`ServeOptions::tls`, `govmesh serve --tls-cert --tls-key`): a node served
//! with a certificate made at run time answers HTTPS on its address to a client that
//! trusts that certificate (and only it), plain HTTP on the same address still, and a
//! client trusting another certificate is refused in the handshake. Bad files stop
//! the node before it listens, naming the file.

use super::util::{Client, Mesh};
use govmesh_node::{NodeError, ServeOptions, TlsFiles};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use tokio_rustls::rustls;

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn certificate(dir: &Path, name: &str) -> (TlsFiles, rustls::pki_types::CertificateDer<'static>) {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&files.cert, c.cert.pem()).unwrap();
    std::fs::write(&files.key, c.signing_key.serialize_pem()).unwrap();
    (files, c.cert.der().clone())
}

/// An HTTPS-only client whose one trusted root is `root`.
fn https_client(
    root: rustls::pki_types::CertificateDer<'static>,
) -> HyperClient<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    axum::body::Body,
> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    // The node's provider (ring; see crates/node/src/tls.rs).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    HyperClient::builder(TokioExecutor::new()).build(https)
}

async fn get(
    client: &HyperClient<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        axum::body::Body,
    >,
    url: &str,
) -> Result<(u16, String), String> {
    let resp = client
        .get(url.parse().unwrap())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 1 << 22)
        .await
        .unwrap();
    Ok((status, String::from_utf8(body.to_vec()).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serves_https_and_http_on_one_address() {
    let m = Mesh::found();
    let certs = tempfile::tempdir().unwrap();
    let (files, der) = certificate(certs.path(), "node");
    let node = govmesh_node::serve_with(
        m.dir.path(),
        "127.0.0.1:0".parse().unwrap(),
        ServeOptions {
            tls: Some(files),
            ..ServeOptions::default()
        },
    )
    .await
    .unwrap();
    let https = node.https_url.clone().expect("an https URL");
    assert_eq!(https, format!("https://{}", node.local_addr));

    // HTTPS, verified against the certificate made above.
    let client = https_client(der);
    let (s, body) = get(&client, &format!("{https}/v1/status")).await.unwrap();
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["node_id"], m.me.node_id());
    let (s, page) = get(&client, &format!("{https}/")).await.unwrap();
    assert_eq!(s, 200);
    assert!(
        page.contains("<h1>Overview</h1>") || page.contains("Overview"),
        "{page}"
    );
    assert!(page.contains("test-mesh"));

    // Plain HTTP on the same address, as peers call it.
    let (s, v) = Client::new(&node.url).get("/v1/status").await;
    assert_eq!(s, 200);
    assert_eq!(v["node_id"], m.me.node_id());

    // A client that trusts another certificate is refused in the handshake.
    let (_, other) = certificate(certs.path(), "other");
    let e = get(&https_client(other), &format!("{https}/v1/status"))
        .await
        .unwrap_err();
    // (rcgen names both certificates alike: the trusted one's key does not sign this.)
    assert!(e.contains("InvalidCertificate"), "{e}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificate_files_stop_the_node_naming_the_file() {
    let m = Mesh::found();
    let certs = tempfile::tempdir().unwrap();
    let (a, _) = certificate(certs.path(), "a");
    let (b, _) = certificate(certs.path(), "b");
    let cases = [
        (
            TlsFiles {
                cert: certs.path().join("missing.crt"),
                key: a.key.clone(),
            },
            "cannot read the TLS certificate file",
            "missing.crt",
        ),
        (
            TlsFiles {
                cert: a.cert.clone(),
                key: certs.path().to_owned(),
            },
            "cannot read the TLS key file",
            "",
        ),
        (
            TlsFiles {
                cert: a.key.clone(),
                key: a.key.clone(),
            },
            "holds no certificate",
            "a.key",
        ),
        (
            TlsFiles {
                cert: a.cert.clone(),
                key: b.key.clone(),
            },
            "is not the key of the certificate in",
            "b.key",
        ),
    ];
    for (files, want, file) in cases {
        let r = govmesh_node::serve_with(
            m.dir.path(),
            "127.0.0.1:0".parse().unwrap(),
            ServeOptions {
                tls: Some(files),
                ..ServeOptions::default()
            },
        )
        .await;
        let Err(e) = r else {
            panic!("served with bad TLS files ({want})");
        };
        assert!(matches!(e, NodeError::Tls(_)), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(want) && msg.contains(file), "{msg}");
    }
    // The node was left alone: it serves without TLS afterwards.
    let node = m.serve().await;
    assert!(node.https_url.is_none());
    node.shutdown().await.unwrap();
}
