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

/// No username is longer (`Username::parse`). A longer one is cut to one character more before
/// it is counted, so that it is counted with no existing user's, and is never looked up.
const LONGEST_USERNAME: usize = 64;

/// Logs a user of the tenant in.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    params(("x-tenant-id" = String, Header)),
    request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_credentials"),
              (status = 429, description = "rate_limited"),
              (status = 503, description = "unavailable: too many passwords being checked, retry after Retry-After")))]
async fn login(
    State(state): State<AuthState>,
    scope: ResolvedTenant,
    Json(request): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let tenant = &scope.tenant().id;
    let cache = &state.tenancy.cache;
    let username = match request.username.char_indices().nth(LONGEST_USERNAME + 1) {
        Some((end, _)) => &request.username[..end],
        None => request.username.as_str(),
    };
    // Counted before the password is hashed, so that attempts sent at once count as if sent
    // one after another.
    let attempt = state.throttle.admit(cache, tenant, username).await?;
    let user = match authenticate(&state, &scope, username, request.password).await {
        Ok(Some(user)) => {
            state.throttle.succeeded(cache, attempt).await;
            user
        }
        Ok(None) => {
            state.throttle.failed(attempt);
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "wrong username or password",
            ));
        }
        Err(error) => {
            state.throttle.withdraw(cache, attempt).await;
            return Err(error);
        }
    };
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

/// The user whose username and password these are, if any. An unknown username takes as long
/// as a wrong password.
async fn authenticate(
    state: &AuthState,
    scope: &ResolvedTenant,
    username: &str,
    password: String,
) -> Result<Option<users::LoginRecord>, ApiError> {
    let record = if username.chars().count() > LONGEST_USERNAME {
        None
    } else {
        let tx = state.tenancy.db.begin(scope).await?;
        let record = users::find_for_login(&tx, username).await?;
        tx.commit().await?;
        record
    };
    let hash = record.as_ref().map(|record| record.password_hash.clone());
    let valid = verify_password(password, hash).await?;
    Ok(record.filter(|_| valid))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(pattern = "^[A-Za-z0-9_.@-]{3,64}$")]
    username: String,
    #[schema(min_length = 10)]
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
