//! TLS for the gRPC port: the server's certificate and, with a client CA, mutual TLS (client
//! certificates optional unless required, so that API-key callers keep working).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSettings;

/// The protocols the port speaks, as ALPN names them: HTTP/2 (gRPC), preferred, and HTTP/1.1
/// (HTTP/JSON, gRPC-Web).
pub(super) const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The rustls configuration `settings` describe.
pub(super) fn server_config(settings: &TlsSettings) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?;
    let builder = match &settings.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(client_ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(client_ca)? {
                roots.add(certificate).with_context(|| {
                    format!("reading a CA certificate of {}", client_ca.display())
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
            let verifier = if settings.require_client_certificate {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .context("building the client certificate verifier")?,
            )
        }
    };
    let key = PrivateKeyDer::from_pem_file(&settings.key_file)
        .with_context(|| format!("reading the private key {}", settings.key_file.display()))?;
    let mut config = builder
        .with_single_cert(certificates(&settings.cert_file)?, key)
        .context("the TLS certificate and key do not match")?;
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file, at least one.
fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading the certificates of {}", path.display()))?;
    anyhow::ensure!(
        !certificates.is_empty(),
        "{} holds no PEM certificate",
        path.display()
    );
    Ok(certificates)
}
