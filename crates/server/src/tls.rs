//! The serving certificate: read from PEM files, used by rustls (ring
//! provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN), and read again while the
//! server runs, so that a rotated Secret (cert-manager renews before
//! expiry) is served without a restart. The files are compared by content,
//! not watched: a Secret volume updates by swapping a `..data` symlink,
//! which a watch on the file misses (kubernetes #111947); reading the
//! files again sees it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// A certificate or key that cannot be used for TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file that cannot be read or holds nothing usable.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the pair (for example a key that does not match).
    #[error("the certificate and key cannot be used: {0}")]
    Config(String),
}

/// The certificate the server presents, with the files it came from.
pub struct ServingCertificate {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The bytes of both files when `current` was made from them.
    read: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for ServingCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServingCertificate")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn pem_error(path: &Path, message: impl ToString) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// A certified key from PEM bytes: the chain (serving certificate first)
/// and its private key (PKCS#8, PKCS#1 or SEC1), checked to match.
fn certified(
    cert: &Path,
    cert_pem: &[u8],
    key: &Path,
    key_pem: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(cert, e))?;
    if chain.is_empty() {
        return Err(pem_error(cert, "no CERTIFICATE block"));
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_error(key, e))?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&private).map_err(|e| pem_error(key, e))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(certified)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| pem_error(path, e))
}

impl ServingCertificate {
    /// Reads the PEM certificate chain at `cert` (the serving certificate
    /// first) and its PEM private key at `key`.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServingCertificate>, TlsError> {
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        let current = certified(cert, &cert_pem, key, &key_pem)?;
        Ok(Arc::new(ServingCertificate {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(current)),
            read: Mutex::new((cert_pem, key_pem)),
        }))
    }

    /// Reads both files again: `Ok(true)` when they changed and the new
    /// pair now serves every new handshake, `Ok(false)` when they did not
    /// change, an error (and the old pair keeps serving) when the new
    /// files cannot be used, for example while only one of them has been
    /// replaced.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (cert_pem, key_pem) = (read(&self.cert)?, read(&self.key)?);
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if (&cert_pem, &key_pem) == (&read.0, &read.1) {
            return Ok(false);
        }
        let next = certified(&self.cert, &cert_pem, &self.key, &key_pem)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        *read = (cert_pem, key_pem);
        Ok(true)
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The rustls configuration that presents the current certificate at
    /// each handshake.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

#[derive(Debug)]
struct Resolver(Arc<ServingCertificate>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}
