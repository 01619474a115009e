//! `govmesh serve --tls-cert FILE --tls-key FILE` as a real process: with a
//! certificate made at run time (rcgen) the node answers HTTPS on its address with that
//! certificate, and plain HTTP on the same address still (peers call the registered
//! http:// address; crates/node/src/tls.rs); a bad certificate file stops the node
//! before it listens, with one `error:` line naming the file (exit code 2, an I/O error
//! as the CLI's codes go).

use crate::util::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// A self-signed certificate for 127.0.0.1 and localhost, as PEM files `name.crt`
/// and `name.key` in `dir`; returns their paths and the certificate's DER.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key, c.cert.der().clone())
}

/// `GET path` over TLS to `addr` (host:port), trusting only `root`: the status line,
/// the body, and the certificate the server presented; or the TLS error.
fn https_get(
    addr: &str,
    path: &str,
    root: CertificateDer<'static>,
) -> Result<(String, String, CertificateDer<'static>), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    // The node's provider (ring; see crates/node/src/tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), host).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
    let unwrap_tls = |e: std::io::Error| -> rustls::Error {
        match e.into_inner().map(|i| i.downcast::<rustls::Error>()) {
            Some(Ok(e)) => *e,
            other => panic!("not a TLS error: {other:?}"),
        }
    };
    tls.write_all(request.as_bytes()).map_err(unwrap_tls)?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A server that closes without close_notify after the whole response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(unwrap_tls(e)),
    }
    let presented = tls.conn.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_owned();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
        presented,
    ))
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

/// A one-founder mesh's data directory in `dir`; returns it and the node id.
fn node_dir(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("hub.key");
    ok(&["key", "new", "--out", s(&key)]);
    let id: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let data = dir.join("node");
    ok(&[
        "init",
        "--data",
        s(&data),
        "--mesh-name",
        "tls-mesh",
        "--key",
        s(&key),
    ]);
    (data, id["node_id"].as_str().unwrap().to_owned())
}

#[test]
fn serve_answers_https_with_the_given_certificate_and_http_too() {
    let dir = tmp();
    let (data, node_id) = node_dir(dir.path());
    let (cert, key, der) = certificate(dir.path(), "node");
    let mut node = Running::start(&[
        "serve",
        "--data",
        s(&data),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        s(&cert),
        "--tls-key",
        s(&key),
    ]);
    let addr = node.url.strip_prefix("http://").unwrap().to_owned();
    let line = node.wait_line(|l| l.starts_with("dashboard over HTTPS: "));
    assert_eq!(line, format!("dashboard over HTTPS: https://{addr}/"));

    // HTTPS on the node's address, with the certificate it was given.
    let (status, body, presented) = https_get(&addr, "/v1/status", der.clone()).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(
        presented, der,
        "the node presents the certificate it was given"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["node_id"], node_id.as_str());
    let (status, page, _) = https_get(&addr, "/", der).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains("tls-mesh"), "{page}");

    // Plain HTTP on the same address, as the design has peers call it.
    let v = get(&node.url, "/v1/status");
    assert_eq!(v["node_id"], node_id.as_str());

    // A client that trusts another certificate is refused in the handshake.
    let (_, _, other) = certificate(dir.path(), "other");
    let e = https_get(&addr, "/v1/status", other).unwrap_err();
    assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e:?}");
    assert!(node.terminate().success());
}

#[test]
fn a_bad_certificate_file_stops_serve_naming_the_file() {
    let dir = tmp();
    let (data, _) = node_dir(dir.path());
    let (cert, key, _) = certificate(dir.path(), "node");
    let (_, other_key, _) = certificate(dir.path(), "other");
    let missing = dir.path().join("missing.crt");
    let cases: [(&Path, &Path, &str, &Path); 3] = [
        (
            &missing,
            &key,
            "cannot read the TLS certificate file",
            &missing,
        ),
        // A key where the certificate should be.
        (&key, &key, "holds no certificate", &key),
        (
            &cert,
            &other_key,
            "is not the key of the certificate in",
            &other_key,
        ),
    ];
    for (cert, key, want, named) in cases {
        let port = free_port().to_string();
        let listen = format!("127.0.0.1:{port}");
        // An I/O error (2), as the CLI's codes go: one `error:` line, and the
        // process has ended (it never served).
        let line = fails(
            &[
                "serve",
                "--data",
                s(&data),
                "--listen",
                &listen,
                "--tls-cert",
                s(cert),
                "--tls-key",
                s(key),
            ],
            2,
        );
        assert!(line.contains(want), "{line}");
        assert!(line.contains(s(named)), "{line}");
    }
}
