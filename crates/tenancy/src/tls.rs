//! The certificate authorities tenantpos trusts when it speaks TLS to its dependencies:
//! PostgreSQL (`sslmode=verify-ca`/`verify-full` without `sslrootcert`), Redis (`rediss://`)
//! and peers (`https://`). The system's store by default; `TENANTPOS_TLS_CA_FILE` replaces it
//! with the authorities of one PEM file (a deployment's private CA), as `SSL_CERT_FILE` does
//! for OpenSSL.

use std::path::Path;
use std::sync::{Arc, Once};

use anyhow::{Context, bail};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

#[derive(Clone)]
pub struct TrustedRoots {
    /// The PEM file's certificates, or `None` for the system's store.
    custom: Option<Arc<CustomRoots>>,
}

struct CustomRoots {
    pem: Vec<u8>,
    certificates: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.custom {
            Some(custom) => write!(f, "TrustedRoots({} from a file)", custom.certificates.len()),
            None => f.write_str("TrustedRoots(system)"),
        }
    }
}

impl TrustedRoots {
    /// The operating system's certificate authorities.
    pub fn system() -> Self {
        Self { custom: None }
    }

    /// The certificate authorities of the PEM file at `path` (`TENANTPOS_TLS_CA_FILE`), or the
    /// system's when there is none.
    pub fn from_setting(path: Option<&Path>) -> anyhow::Result<Self> {
        match path.filter(|path| !path.as_os_str().is_empty()) {
            Some(path) => Self::from_pem_file(path).context("TENANTPOS_TLS_CA_FILE"),
            None => Ok(Self::system()),
        }
    }

    /// The certificate authorities of the PEM file at `path`.
    pub fn from_pem_file(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_pem(pem).with_context(|| format!("{}", path.display()))
    }

    /// The certificate authorities of `pem`, at least one.
    pub fn from_pem(pem: Vec<u8>) -> anyhow::Result<Self> {
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .context("not a PEM file of certificates")?;
        if certificates.is_empty() {
            bail!("holds no PEM certificate");
        }
        Ok(Self {
            custom: Some(Arc::new(CustomRoots { pem, certificates })),
        })
    }

    /// A rustls store of these authorities.
    pub fn store(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        match &self.custom {
            Some(custom) => {
                store.add_parsable_certificates(custom.certificates.iter().cloned());
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for error in &found.errors {
                    tracing::warn!(%error, "a system certificate authority could not be read");
                }
                store.add_parsable_certificates(found.certs);
            }
        }
        store
    }

    /// For the Redis client: `None` leaves it on the system's store.
    pub fn redis_certificates(&self) -> Option<redis::TlsCertificates> {
        self.custom.as_ref().map(|custom| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(custom.pem.clone()),
        })
    }

    /// For an HTTP client: the authorities that replace its built-in ones, if any.
    pub fn http_certificates(&self) -> anyhow::Result<Option<Vec<reqwest::Certificate>>> {
        let Some(custom) = &self.custom else {
            return Ok(None);
        };
        custom
            .certificates
            .iter()
            .map(|der| reqwest::Certificate::from_der(der).context("a CA certificate"))
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Some)
    }
}

/// Makes aws-lc-rs the process's rustls provider (the Redis client asks for the process's),
/// once, before any TLS configuration is built.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err only when another provider was installed first, which serves as well.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}
