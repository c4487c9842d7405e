//! Calls from one tenantpos service to another over HTTP. Every call carries the caller's
//! tenant (`x-tenant-id`), the user's bearer token when there is a user, the request id, the
//! request's `traceparent` (`trace_context`) and a service token made for that call: this
//! tenant, this calling service, the receiving service as audience, valid for a minute. The
//! receiving service runs the checks of API.md §3 again. A peer that cannot be reached in time
//! answers 503 `unavailable` with `Retry-After`; a peer's error answer comes back as the same
//! error.

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::{Principal, SERVICE_TOKEN_HEADER, TenantContext};
use crate::db::TenantScope;
use crate::error::{ApiError, ErrorCode};
use crate::resolver::TENANT_HEADER;
use crate::tls::TrustedRoots;
use crate::token::{JwtKeys, SERVICES, ServiceSigner};
use crate::trace_context::{TRACEPARENT, TraceContext};

/// How long a call to a peer may take before it counts as unreachable.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PeerClient {
    base_url: String,
    http: reqwest::Client,
    signer: ServiceSigner,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The service an internal path belongs to (`/internal/<service>/...`): the audience of the
/// service token of a call to it.
pub fn service_of_internal_path(path: &str) -> Option<&'static str> {
    let service = path.strip_prefix("/internal/")?.split('/').next()?;
    SERVICES.into_iter().find(|known| *known == service)
}

impl PeerClient {
    /// A client of the peer at `base_url` for the service `caller` (one of `token::SERVICES`),
    /// whose name its service tokens carry. An `https://` peer is trusted when an authority
    /// of `roots` signed its certificate.
    pub fn new(
        base_url: &str,
        keys: &JwtKeys,
        caller: &'static str,
        roots: &TrustedRoots,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            SERVICES.contains(&caller),
            "{caller:?} is not a tenantpos service"
        );
        crate::tls::install_crypto_provider();
        let mut http = reqwest::Client::builder();
        if let Some(certificates) = roots.http_certificates()? {
            http = http.tls_certs_only(certificates);
        }
        let http = http
            .timeout(PEER_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(64)
            // A tenantpos server closes a connection idle for 10 s (its deadline for a request
            // head): drop ours well before, so a request never goes out on one being closed.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            signer: keys.service_signer(caller),
        })
    }

    /// Sends a JSON request on behalf of `context` and reads the JSON answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        context: &TenantContext,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<T, ApiError> {
        let audience = service_of_internal_path(path).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("{path} is not an internal route"))
        })?;
        let service_token = self
            .signer
            .issue(&context.tenant().id, audience)
            .map_err(ApiError::internal)?;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header(TENANT_HEADER, context.tenant().id.as_str())
            .header(SERVICE_TOKEN_HEADER, service_token);
        // A system or service principal is known to the peer by the service token alone.
        if let Principal::User { token, .. } = context.principal() {
            request = request.bearer_auth(token);
        }
        if let Some(request_id) = context.request_id() {
            request = request.header("x-request-id", request_id);
        }
        // The peer continues this request's trace; work without a request (a sweeper) starts
        // one per call, so every call between services carries a trace.
        let trace = context.trace().copied().unwrap_or_else(TraceContext::start);
        request = request.header(TRACEPARENT, trace.traceparent());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            tracing::warn!(peer = %self.base_url, error = %error, "peer unreachable");
            ApiError::unavailable(anyhow::anyhow!(
                "peer {} unreachable: {error}",
                self.base_url
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return response.json::<T>().await.map_err(|error| {
                ApiError::unavailable(anyhow::anyhow!(
                    "peer {} answered badly: {error}",
                    self.base_url
                ))
            });
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let envelope: serde_json::Value = response.json().await.unwrap_or_default();
        let code = envelope["error"]["code"]
            .as_str()
            .and_then(ErrorCode::parse);
        let message = envelope["error"]["message"]
            .as_str()
            .unwrap_or("peer error")
            .to_owned();
        let mut error = match code {
            // The peer's own failure is this request's dependency failure.
            Some(ErrorCode::Internal) | None => ApiError::unavailable(anyhow::anyhow!(
                "peer {} answered {status}: {message}",
                self.base_url
            )),
            Some(code) => ApiError::new(code, message),
        };
        if let Some(seconds) = retry_after {
            error = error.with_retry_after(seconds);
        }
        Err(error)
    }
}
