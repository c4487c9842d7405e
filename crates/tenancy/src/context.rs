//! What a handler knows about its caller once the checks of API.md §3 have passed.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Tenancy;
use crate::db::TenantScope;
use crate::error::{ApiError, ErrorCode};
use crate::tenant::Tenant;
use crate::trace_context::TraceContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Cashier,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Manager => "manager",
            Self::Cashier => "cashier",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Self::Owner),
            "manager" => Some(Self::Manager),
            "cashier" => Some(Self::Cashier),
            _ => None,
        }
    }
}

/// A tenant that passed checks 1–4 (header, existence, status). Made only by the resolver
/// middleware (or, for the operator, by `OperatorAccess::scope`); login starts from it.
#[derive(Debug, Clone)]
pub struct ResolvedTenant {
    tenant: Arc<Tenant>,
    pub(crate) tenancy: Arc<Tenancy>,
}

impl ResolvedTenant {
    pub(crate) fn new(tenant: Arc<Tenant>, tenancy: Arc<Tenancy>) -> Self {
        Self { tenant, tenancy }
    }

    pub fn tenancy(&self) -> &Arc<Tenancy> {
        &self.tenancy
    }
}

impl crate::db::sealed::Sealed for ResolvedTenant {}
impl TenantScope for ResolvedTenant {
    fn tenant(&self) -> &Tenant {
        &self.tenant
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ResolvedTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<ResolvedTenant>()
            .cloned()
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "a tenant route is served without the resolver"
                ))
            })
    }
}

/// On whose behalf a tenant's work is done.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A user who passed checks 5–9; the token is passed on to peer services.
    User {
        id: Uuid,
        role: Role,
        token: Arc<str>,
    },
    /// tenantpos itself, in the process doing the work (a sweeper finishing or undoing a
    /// saga, the operator): made only through `SystemAccess` or `OperatorAccess`.
    System,
    /// Another tenantpos service calling an internal route for this tenant without a user,
    /// proven by a service token for this tenant and this service alone.
    Service { caller: Arc<str> },
}

/// The context every service, client and repository requires: a checked tenant, on whose
/// behalf the work is done, and the request id to pass along.
#[derive(Debug, Clone)]
pub struct TenantContext {
    tenant: Arc<Tenant>,
    principal: Principal,
    request_id: Option<Arc<str>>,
    /// The request's hop of its trace, passed on to the services it calls.
    trace: Option<TraceContext>,
}

impl TenantContext {
    /// A context for tenantpos's own background work on a tenant; outside this crate only
    /// through `SystemAccess` or `OperatorAccess`.
    pub(crate) fn system(scope: &ResolvedTenant) -> Self {
        Self {
            tenant: scope.tenant.clone(),
            principal: Principal::System,
            request_id: None,
            trace: None,
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The request's hop of its trace; none for background work.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }
}

impl crate::db::sealed::Sealed for TenantContext {}
impl TenantScope for TenantContext {
    fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    fn is_background_work(&self) -> bool {
        matches!(self.principal, Principal::System)
    }
}

/// Which roles a route admits (check 9).
pub trait RolePolicy: Send + Sync + 'static {
    const ALLOWED: &'static [Role];
}

/// Every role.
pub struct AnyRole;
/// Owners and managers.
pub struct OwnerOrManager;
/// Owners only.
pub struct OwnerOnly;

impl RolePolicy for AnyRole {
    const ALLOWED: &'static [Role] = &[Role::Owner, Role::Manager, Role::Cashier];
}
impl RolePolicy for OwnerOrManager {
    const ALLOWED: &'static [Role] = &[Role::Owner, Role::Manager];
}
impl RolePolicy for OwnerOnly {
    const ALLOWED: &'static [Role] = &[Role::Owner];
}

/// The extractor of tenant routes: runs checks 5–10 of API.md §3 on a request the resolver
/// already passed through checks 1–4, and yields the `TenantContext`. A handler that takes
/// one cannot run for a caller who failed any check.
pub struct Authorized<P: RolePolicy> {
    pub context: TenantContext,
    pub user_id: Uuid,
    pub role: Role,
    policy: PhantomData<P>,
}

impl<P: RolePolicy> Deref for Authorized<P> {
    type Target = TenantContext;
    fn deref(&self) -> &TenantContext {
        &self.context
    }
}

impl<S: Send + Sync, P: RolePolicy> FromRequestParts<S> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let resolved = ResolvedTenant::from_request_parts(parts, state).await?;
        let checked = check_user::<P>(parts, &resolved).await?;
        // 10. The tenant is within its budget.
        let tenancy = &resolved.tenancy;
        tenancy
            .rate_limit
            .check(&tenancy.cache, &resolved.tenant.id)
            .await?;
        Ok(checked)
    }
}

/// The caller of an internal route: another tenantpos service, proven by a service token for
/// this tenant and this service (checked by the resolver, see `ServiceCall`), acting for a
/// user (whose token goes through checks 5–9 again) or for itself. The request budget was
/// spent by the request that started the call.
pub struct PeerCall<P: RolePolicy> {
    pub context: TenantContext,
    policy: PhantomData<P>,
}

impl<P: RolePolicy> Deref for PeerCall<P> {
    type Target = TenantContext;
    fn deref(&self) -> &TenantContext {
        &self.context
    }
}

pub const SERVICE_TOKEN_HEADER: &str = "x-service-token";

/// A request to an internal route whose service token the resolver verified: for the tenant of
/// `x-tenant-id`, to the service the route belongs to.
#[derive(Debug, Clone)]
pub(crate) struct ServiceCall {
    pub(crate) caller: Arc<str>,
}

impl<S: Send + Sync, P: RolePolicy> FromRequestParts<S> for PeerCall<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let resolved = ResolvedTenant::from_request_parts(parts, state).await?;
        let Some(service) = parts.extensions.get::<ServiceCall>().cloned() else {
            // To anyone else an internal route does not exist.
            return Err(ApiError::not_found());
        };
        let context = if parts.headers.contains_key(http::header::AUTHORIZATION) {
            check_user::<P>(parts, &resolved).await?.context
        } else {
            TenantContext {
                tenant: resolved.tenant.clone(),
                principal: Principal::Service {
                    caller: service.caller,
                },
                request_id: request_id(parts),
                trace: parts.extensions.get::<TraceContext>().copied(),
            }
        };
        Ok(Self {
            context,
            policy: PhantomData,
        })
    }
}

fn request_id(parts: &Parts) -> Option<Arc<str>> {
    parts
        .headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(Arc::from)
}

/// Checks 5–9 of API.md §3.
async fn check_user<P: RolePolicy>(
    parts: &Parts,
    resolved: &ResolvedTenant,
) -> Result<Authorized<P>, ApiError> {
    let tenancy = &resolved.tenancy;
    let request_id = request_id(parts);

    // 5. A bearer token is present.
    let token = bearer_token(parts).ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingToken,
            "an Authorization: Bearer token is required",
        )
    })?;
    // 6. It verifies.
    let claims = tenancy.keys.verify(token).map_err(|error| {
        tracing::info!(reason = %error, "token refused");
        ApiError::invalid_token()
    })?;
    // 7. It was issued for the tenant of the header.
    let tenant = resolved.tenant.clone();
    if claims.tenant_id != tenant.id.as_str() {
        tracing::warn!(token_tenant_id = %claims.tenant_id, token_subject = %claims.sub, "tenant mismatch");
        crate::instruments::tenant_mismatch();
        if let Err(error) = tenancy
            .catalog
            .record_mismatch(
                &tenant.id,
                &claims.tenant_id,
                &claims.sub.to_string(),
                request_id.as_deref(),
            )
            .await
        {
            tracing::error!(%error, "could not record a tenant mismatch");
        }
        return Err(ApiError::new(
            ErrorCode::TenantMismatch,
            "the token was not issued for this tenant",
        ));
    }
    // 8. Its user still exists and is active.
    let role = tenancy
        .user_status(resolved, claims.sub)
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    // 9. The role admits this route.
    if !P::ALLOWED.contains(&role) {
        return Err(ApiError::forbidden());
    }
    Ok(Authorized {
        context: TenantContext {
            tenant,
            principal: Principal::User {
                id: claims.sub,
                role,
                token: Arc::from(token),
            },
            request_id,
            trace: parts.extensions.get::<TraceContext>().copied(),
        },
        user_id: claims.sub,
        role,
        policy: PhantomData,
    })
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
