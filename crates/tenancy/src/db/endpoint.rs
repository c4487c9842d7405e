//! A PostgreSQL server, database and role, and how the connection to it is secured: the
//! `sslmode` and `sslrootcert` of its URL, with libpq's meanings (tokio-postgres knows only
//! `disable`, `prefer` and `require`, and verifies nothing itself).
//!
//! | `sslmode`      | TLS                        | server certificate checked             |
//! |----------------|----------------------------|----------------------------------------|
//! | (none)         | no                         | —                                      |
//! | `disable`      | no                         | —                                      |
//! | `prefer`       | if the server offers it    | no                                     |
//! | `require`      | yes                        | no; with `sslrootcert`, as `verify-ca` |
//! | `verify-ca`    | yes                        | signed by a trusted authority          |
//! | `verify-full`  | yes                        | that, and issued for the host          |
//!
//! The trusted authorities are those of `sslrootcert` (a PEM file, or `system`), else
//! `TrustedRoots` (`TENANTPOS_TLS_CA_FILE` or the system's). Unlike libpq, no `sslmode` means
//! no TLS: a connection is encrypted when its URL asks for it.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use futures::StreamExt;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::{TrustedRoots, install_crypto_provider};

/// A PostgreSQL connection's settings and its TLS. Reads and changes its `Config` as one
/// (`endpoint.dbname("postgres")`).
#[derive(Clone)]
pub struct PgEndpoint {
    config: Config,
    /// `None`: plain TCP (or a Unix socket).
    tls: Option<MakeRustlsConnect>,
}

impl std::fmt::Debug for PgEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEndpoint")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Deref for PgEndpoint {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

impl DerefMut for PgEndpoint {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.config
    }
}

/// The `sslmode` values of libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for Mode {
    type Err = anyhow::Error;

    fn from_str(value: &str) -> anyhow::Result<Self> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" | "allow" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => bail!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            ),
        })
    }
}

impl PgEndpoint {
    /// The endpoint of a `postgres://` URL (or a `key=value` string, whose `sslmode` can only
    /// be tokio-postgres's three). `roots` are trusted when the URL names no `sslrootcert`.
    /// The error never repeats the URL: it may hold a password.
    pub fn parse(url: &str, roots: &TrustedRoots) -> anyhow::Result<Self> {
        let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !is_url {
            let config: Config = url.parse().context("not a PostgreSQL URL")?;
            let mode = match config.get_ssl_mode() {
                SslMode::Require => Mode::Require,
                _ => Mode::Disable,
            };
            return Self::secured(config, mode, roots);
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = None;
        let mut root_file = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = || {
                url::form_urlencoded::parse(format!("v={value}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default()
            };
            match key {
                "sslmode" => mode = Some(decoded().parse::<Mode>()?),
                "sslrootcert" => root_file = Some(decoded()),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let config: Config = rest.parse().context("not a PostgreSQL URL")?;
        let root_file = root_file.filter(|file| !file.is_empty());
        let mode = match (mode.unwrap_or(Mode::Disable), &root_file) {
            // libpq: `require` with a root certificate verifies the chain.
            (Mode::Require, Some(_)) => Mode::VerifyCa,
            (mode, _) => mode,
        };
        let roots = match root_file.as_deref() {
            None => roots.clone(),
            Some("system") => TrustedRoots::system(),
            Some(file) => TrustedRoots::from_pem_file(Path::new(file)).context("sslrootcert")?,
        };
        Self::secured(config, mode, &roots)
    }

    /// An endpoint without TLS.
    pub fn plain(mut config: Config) -> Self {
        config.ssl_mode(SslMode::Disable);
        Self { config, tls: None }
    }

    fn secured(mut config: Config, mode: Mode, roots: &TrustedRoots) -> anyhow::Result<Self> {
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            Mode::Disable => return Ok(Self::plain(config)),
            Mode::Prefer | Mode::Require => Arc::new(AnyCertificate(provider())),
            Mode::VerifyCa | Mode::VerifyFull => {
                let store = roots.store();
                if store.is_empty() {
                    bail!("sslmode verify-ca/verify-full: no certificate authority to trust");
                }
                let chain =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
                        .build()
                        .context("the trusted certificate authorities")?;
                if mode == Mode::VerifyFull {
                    chain
                } else {
                    Arc::new(AnyHostname(chain))
                }
            }
        };
        config.ssl_mode(if mode == Mode::Prefer {
            SslMode::Prefer
        } else {
            SslMode::Require
        });
        let tls = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self {
            config,
            tls: Some(MakeRustlsConnect::new(tls)),
        })
    }

    /// Whether connections are made over TLS (or may be, with `sslmode=prefer`).
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Opens a connection, its driver spawned on the runtime.
    pub async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                spawn_driver(connection);
                client
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                spawn_driver(connection);
                client
            }
        };
        Ok(client)
    }

    /// deadpool-postgres's manager of connections to this endpoint.
    pub(crate) fn manager(
        self,
        settings: deadpool_postgres::ManagerConfig,
    ) -> deadpool_postgres::Manager {
        match self.tls {
            Some(tls) => deadpool_postgres::Manager::from_config(self.config, tls, settings),
            None => deadpool_postgres::Manager::from_config(self.config, NoTls, settings),
        }
    }
}

/// Drives a connection: its messages go out and its answers in. PostgreSQL's NOTICEs are
/// expected answers of idempotent DDL (`schema "t_x" already exists, skipping`), not
/// tenantpos's news: tokio-postgres would log each at INFO, burying a command's own output, so
/// they are logged at DEBUG here; a WARNING stays a warning.
fn spawn_driver<S, T>(mut connection: tokio_postgres::Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notice(notice)) => log_notice(&notice),
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, "connection closed");
                    return;
                }
            }
        }
    });
}

fn log_notice(notice: &tokio_postgres::error::DbError) {
    let (severity, message) = (notice.severity(), notice.message());
    if severity == "WARNING" {
        tracing::warn!(severity, notice = message, "PostgreSQL warning");
    } else {
        tracing::debug!(severity, notice = message, "PostgreSQL notice");
    }
}

fn provider() -> Arc<CryptoProvider> {
    install_crypto_provider();
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// `sslmode=prefer`/`require` without a root certificate: encrypted, the server unchecked
/// (libpq's meaning). The handshake's signatures are still verified.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted authority; the host name is not
/// compared with the certificate's.
#[derive(Debug)]
struct AnyHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain is checked before the name: a name error means the chain was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_sslmode_a_url_connects_without_tls() {
        let endpoint =
            PgEndpoint::parse("postgres://u:p@localhost/db", &TrustedRoots::system()).unwrap();
        assert!(!endpoint.uses_tls());
        assert_eq!(endpoint.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn libpq_modes_tokio_postgres_does_not_know_are_understood_and_removed() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let endpoint = PgEndpoint::parse(
                &format!("postgres://u:p@localhost/db?application_name=x&sslmode={mode}"),
                &TrustedRoots::system(),
            )
            .unwrap();
            assert!(endpoint.uses_tls(), "{mode}");
            assert_eq!(endpoint.get_ssl_mode(), SslMode::Require, "{mode}");
            assert_eq!(endpoint.get_application_name(), Some("x"));
        }
    }

    #[test]
    fn an_unknown_sslmode_or_a_missing_root_file_is_an_error_that_hides_the_url() {
        let error = PgEndpoint::parse(
            "postgres://u:secret@localhost/db?sslmode=verify",
            &TrustedRoots::system(),
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("sslmode"), "{error:#}");
        let error = PgEndpoint::parse(
            "postgres://u:secret@localhost/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
            &TrustedRoots::system(),
        )
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("sslrootcert"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
