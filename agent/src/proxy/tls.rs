//! TLS for the proxy (rustls with ring): clients to the proxy (a certificate and key), and
//! the proxy to the server (verified against a CA file and a server name).
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::ProxyError;

/// A read half of a client or server connection, plain or TLS.
pub type Rd = Box<dyn AsyncRead + Unpin + Send>;
/// A write half of a client or server connection, plain or TLS.
pub type Wr = Box<dyn AsyncWrite + Unpin + Send>;

fn err(what: impl Into<String>) -> ProxyError {
    ProxyError::Tls(what.into())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProxyError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(format!("{}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(format!("{}: no certificate in it", path.display())));
    }
    Ok(certs)
}

/// What clients see: the proxy's certificate chain and key (PEM files).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ProxyError> {
    let chain = certs(cert)?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| err(format!("{}: {e}", key.display())))?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err(format!("certificate and key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// How the proxy reaches the server over TLS: the CAs it trusts and the name it expects.
#[derive(Clone)]
pub struct Upstream {
    pub connector: TlsConnector,
    pub name: ServerName<'static>,
    client_config: Arc<rustls::ClientConfig>,
}

/// The server's certificate must chain to a CA in `ca` (PEM) and name `name`.
pub fn upstream(ca: &Path, name: &str) -> Result<Upstream, ProxyError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        roots
            .add(c)
            .map_err(|e| err(format!("{}: {e}", ca.display())))?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(name.to_owned())
        .map_err(|e| err(format!("server name {name:?}: {e}")))?;
    let cfg = Arc::new(cfg);
    Ok(Upstream {
        connector: TlsConnector::from(cfg.clone()),
        name,
        client_config: cfg,
    })
}

/// A blocking TLS client connection (the agent's announcer runs on a plain thread).
pub fn blocking_client(
    up: &Upstream,
    sock: std::net::TcpStream,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>, ProxyError> {
    let cfg = up.client_config.clone();
    let conn = rustls::ClientConnection::new(cfg, up.name.clone())
        .map_err(|e| err(format!("control handshake: {e}")))?;
    Ok(rustls::StreamOwned::new(conn, sock))
}

/// Splits a plain connection.
pub fn plain(s: TcpStream) -> (Rd, Wr) {
    let (r, w) = s.into_split();
    (Box::new(r), Box::new(w))
}

/// Splits a TLS connection.
pub fn split<S: AsyncRead + AsyncWrite + Send + 'static>(s: S) -> (Rd, Wr) {
    let (r, w) = tokio::io::split(s);
    (Box::new(r), Box::new(w))
}
