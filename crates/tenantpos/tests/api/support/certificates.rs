//! A certificate authority made by the test, and what it signs: the servers of the TLS tests
//! (PostgreSQL, Redis, a peer behind a TLS proxy) present its certificates, and tenantpos is
//! told to trust it (`TENANTPOS_TLS_CA_FILE`, `sslrootcert`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};

/// A certificate authority's certificate and key, as PEM files in `directory`.
pub struct TestAuthority {
    pub certificate: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    directory: PathBuf,
}

/// A server's certificate and key, as PEM files.
pub struct ServerCertificate {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl TestAuthority {
    /// A new authority named `name`, its files in `directory` (made if missing).
    pub fn new(directory: &Path, name: &str) -> Self {
        std::fs::create_dir_all(directory).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test authority"));
        let certificate = params.self_signed(&key).unwrap();
        let path = directory.join(format!("{name}-ca.pem"));
        std::fs::write(&path, certificate.pem()).unwrap();
        Self {
            certificate: path,
            issuer: Issuer::new(params, key),
            directory: directory.to_owned(),
        }
    }

    /// A certificate for `names` (host names or IP addresses) signed by this authority.
    pub fn issue(&self, file_name: &str, names: &[&str]) -> ServerCertificate {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        let (certificate_path, key_path) = (
            self.directory.join(format!("{file_name}.crt")),
            self.directory.join(format!("{file_name}.key")),
        );
        std::fs::write(&certificate_path, certificate.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        ServerCertificate {
            certificate: certificate_path,
            key: key_path,
        }
    }
}

/// A TLS terminator in front of a plain HTTP server, as a load balancer would be: it counts
/// the TLS connections it accepted.
pub struct TlsProxy {
    pub port: u16,
    pub handshakes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsProxy {
    /// Listens on a free port, presents `certificate`, forwards to `backend_port`.
    pub async fn start(certificate: &ServerCertificate, backend_port: u16) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let chain = CertificateDer::pem_file_iter(&certificate.certificate)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&certificate.key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(client).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut backend) = TcpStream::connect(("127.0.0.1", backend_port)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                });
            }
        });
        Self {
            port,
            handshakes,
            task,
        }
    }
}
