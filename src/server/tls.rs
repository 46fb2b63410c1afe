//! TLS for the reference registry (`--tls-cert`, `--tls-key`), on rustls with ring, the
//! same stack as the runner. Handshakes run in each connection's own task, within the header
//! timeout (see `conn`), so a slow client never holds up the others.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate and key could not be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Pem {
        path: std::path::PathBuf,
        source: tokio_rustls::rustls::pki_types::pem::Error,
    },
    #[error("{}: no certificate", .0.display())]
    NoCertificate(std::path::PathBuf),
    #[error("TLS: {0}")]
    Rustls(#[from] tokio_rustls::rustls::Error),
}

/// A server configuration from PEM files (a certificate chain and its key).
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let pem = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Pem { path, source }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(pem(cert))?
        .collect::<Result<_, _>>()
        .map_err(pem(cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
