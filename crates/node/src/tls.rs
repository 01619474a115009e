//! HTTPS for browsers (`govmesh serve --tls-cert FILE --tls-key FILE`): browsers give
//! WebCrypto, which the dashboard verifies and signs with, only to secure contexts
//! (HTTPS, or loopback), so a node reached over the network serves HTTPS too.
//!
//! On the same port as plain HTTP: each accepted connection's first byte says which
//! it is (a TLS ClientHello starts with the handshake record type 0x16, an HTTP
//! request with a method's letter), so the registered `http://` address every peer
//! calls, and gossip on that port number, stay as they are, and a browser opens
//! `https://` on the same address. The handshake runs in the connection's own task
//! (with a deadline), never in the accept loop, so a slow client holds up no one.
//! rustls with the ring provider; PEM files read by rustls-pki-types.

use crate::error::NodeError;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// The certificate chain and private key files (PEM) a node serves HTTPS with.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`-----BEGIN CERTIFICATE-----` blocks).
    pub cert: PathBuf,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub key: PathBuf,
}

/// How long a connection may take to send its first byte and finish the handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// The first byte of a TLS connection: a handshake record (RFC 8446 section 5.1).
const TLS_HANDSHAKE: u8 = 0x16;

fn tls_error(msg: String) -> NodeError {
    NodeError::Tls(msg)
}

/// Reads `path` for `what`, naming the file in any failure.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, NodeError> {
    std::fs::read(path).map_err(|e| {
        tls_error(format!(
            "cannot read the TLS {what} file {}: {e}",
            path.display()
        ))
    })
}

/// The server configuration for `files`: the chain and key read and checked (the key
/// must be the leaf certificate's), errors naming the file and what is wrong.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, NodeError> {
    let cert_pem = read(&files.cert, "certificate")?;
    let key_pem = read(&files.key, "key")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            tls_error(format!(
                "the TLS certificate file {} is not PEM: {e}",
                files.cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(tls_error(format!(
            "the TLS certificate file {} holds no certificate (no -----BEGIN CERTIFICATE----- block)",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        tls_error(format!(
            "the TLS key file {} holds no private key ({e}); expected a -----BEGIN PRIVATE KEY----- \
             (or RSA / EC PRIVATE KEY) block",
            files.key.display()
        ))
    })?;
    // ring: no C toolchain beyond a compiler, and a build no heavier than the rest.
    // rustls 0.23.48 deprecates it for lack of post-quantum key exchange
    // (X25519MLKEM768, which its aws-lc-rs provider has); moving is one feature.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            use tokio_rustls::rustls::{Error, InconsistentKeys};
            match e {
                Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => tls_error(format!(
                    "the TLS key file {} is not the key of the certificate in {}",
                    files.key.display(),
                    files.cert.display()
                )),
                other => tls_error(format!(
                    "the TLS certificate {} with key {}: {other}",
                    files.cert.display(),
                    files.key.display()
                )),
            }
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A connection accepted by [`DualListener`]: TLS or plain.
pub(crate) type DualIo = Either<TlsStream<TcpStream>, TcpStream>;

/// A listener serving HTTPS and plain HTTP on one port: a background task accepts,
/// and each connection's own task sorts it (and shakes hands) before handing it on.
pub(crate) struct DualListener {
    ready: mpsc::Receiver<(DualIo, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl DualListener {
    pub(crate) fn new(listener: TcpListener, local: SocketAddr, config: Arc<ServerConfig>) -> Self {
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // As axum's own listener: out of descriptors and the like pass.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_DEADLINE, sort(stream, acceptor)).await {
                        Ok(Ok(io)) => {
                            let _ = tx.send((io, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "no handshake within the deadline"),
                    }
                });
            }
        });
        DualListener {
            ready,
            local,
            accepting,
        }
    }
}

impl Drop for DualListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// TLS if the first byte is a handshake record, else plain.
async fn sort(stream: TcpStream, acceptor: TlsAcceptor) -> std::io::Result<DualIo> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    if n == 1 && first[0] == TLS_HANDSHAKE {
        Ok(Either::Left(acceptor.accept(stream).await?))
    } else {
        Ok(Either::Right(stream))
    }
}

impl axum::serve::Listener for DualListener {
    type Io = DualIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (DualIo, SocketAddr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task ended (it never does while the listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        TlsFiles { cert: c, key: k }
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let good = files(dir.path(), &a.cert.pem(), &a.signing_key.serialize_pem());
        server_config(&good).unwrap();

        let missing = TlsFiles {
            cert: dir.path().join("nothing.pem"),
            key: good.key.clone(),
        };
        let e = server_config(&missing).unwrap_err().to_string();
        assert!(
            e.contains("cannot read the TLS certificate file") && e.contains("nothing.pem"),
            "{e}"
        );

        let e = server_config(&files(dir.path(), "hello", &a.signing_key.serialize_pem()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no certificate"), "{e}");

        let e = server_config(&files(dir.path(), &a.cert.pem(), &a.cert.pem()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("holds no private key") && e.contains("key.pem"),
            "{e}"
        );

        let e = server_config(&files(
            dir.path(),
            &a.cert.pem(),
            &b.signing_key.serialize_pem(),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not the key of the certificate"), "{e}");
    }
}
