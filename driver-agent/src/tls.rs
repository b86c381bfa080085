//! TLS to the broker (rustls on ring): the broker is verified against the given CA certificates,
//! or the system's trusted roots; the device may show a client certificate of its own, which a
//! broker such as Mosquitto can take as the device's user name (`use_identity_as_username`).

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// A client configuration trusting the certificates in `ca` (PEM), or the system's roots when
/// `None`, and showing `identity` (a PEM certificate chain and its PEM private key) when given.
/// Every failure is one line naming the file.
pub fn client_config(ca: Option<&Path>, identity: Option<(&Path, &Path)>) -> Result<Arc<ClientConfig>, String> {
    // The device's own certificate first: a bad file is named before the trust store is read.
    let identity = match identity {
        None => None,
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            if chain.is_empty() {
                return Err(format!("{}: no certificate in it", cert.display()));
            }
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            Some((chain, key, cert))
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("{}: no certificate in it", path.display()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("the system has no trusted root certificates; name the broker's CA with --tls-ca".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((chain, key, cert)) => {
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("{}: {e}", cert.display()))?
        }
    };
    Ok(Arc::new(config))
}
