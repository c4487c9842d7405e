//! `/auth/*` and `/users`; `/settings` is in `settings_routes`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tenancy::extract::{Json, Path};
use tenancy::{
    AnyRole, ApiError, Authorized, ErrorCode, OwnerOnly, OwnerOrManager, ResolvedTenant, Role,
    TenantScope,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AuthState;
use crate::password::verify_password;
use crate::users::{self, NewUser, Password, User, Username};

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(register))
        .routes(routes!(me))
        .routes(routes!(list_users))
        .routes(routes!(delete_user))
        .merge(crate::settings_routes::router())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: i64,
}

/// Logs a user of the tenant in.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    params(("x-tenant-id" = String, Header)),
    request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_credentials"),
              (status = 429, description = "rate_limited")))]
async fn login(
    State(state): State<AuthState>,
    scope: ResolvedTenant,
    Json(request): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let tenant = &scope.tenant().id;
    state
        .throttle
        .check(&state.tenancy.cache, tenant, &request.username)
        .await?;
    let record = {
        let tx = state.tenancy.db.begin(&scope).await?;
        let record = users::find_for_login(&tx, &request.username).await?;
        tx.commit().await?;
        record
    };
    let (hash, found) = match record {
        Some(record) => (Some(record.password_hash.clone()), Some(record)),
        None => (None, None),
    };
    let valid = verify_password(request.password, hash).await?;
    let Some(user) = found.filter(|_| valid) else {
        state
            .throttle
            .record_failure(&state.tenancy.cache, tenant, &request.username)
            .await;
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong username or password",
        ));
    };
    state
        .throttle
        .clear(&state.tenancy.cache, tenant, &request.username)
        .await;
    let (token, claims) = state
        .tenancy
        .keys
        .issue(tenant, user.id, user.role)
        .map_err(ApiError::internal)?;
    Ok(Json(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    username: String,
    password: String,
    role: Role,
}

/// Registers a user: owners any role, managers cashiers only.
#[utoipa::path(post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses((status = 201, body = User), (status = 409, description = "conflict"), (status = 422)))]
async fn register(
    State(state): State<AuthState>,
    caller: Authorized<OwnerOrManager>,
    Json(request): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    if caller.role == Role::Manager && request.role != Role::Cashier {
        return Err(ApiError::forbidden());
    }
    let new = NewUser {
        username: Username::parse(&request.username)?,
        password: Password::parse(request.password)?,
        role: request.role,
    };
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let user = users::create_user(&tx, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The caller.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = User)))]
async fn me(
    State(state): State<AuthState>,
    caller: Authorized<AnyRole>,
) -> Result<Json<User>, ApiError> {
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let user = users::find(&tx, caller.user_id).await?;
    tx.commit().await?;
    user.map(Json).ok_or_else(ApiError::invalid_token)
}

/// The tenant's users.
#[utoipa::path(get, path = "/users", tag = "auth", responses((status = 200, body = [User])))]
async fn list_users(
    State(state): State<AuthState>,
    caller: Authorized<OwnerOrManager>,
) -> Result<Json<Vec<User>>, ApiError> {
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let list = users::list(&tx).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Deletes a user; its tokens fail from then on.
#[utoipa::path(delete, path = "/users/{id}", tag = "auth",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "not_found"), (status = 409, description = "conflict")))]
async fn delete_user(
    State(state): State<AuthState>,
    caller: Authorized<OwnerOnly>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    if id == caller.user_id {
        return Err(ApiError::conflict("you cannot delete yourself"));
    }
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let deleted = users::delete(&tx, id).await?;
    tx.commit().await?;
    if !deleted {
        return Err(ApiError::not_found());
    }
    state.tenancy.forget_user(&caller.tenant().id, id).await;
    Ok(StatusCode::NO_CONTENT)
}
