//! `/settings` (API.md §7).

use axum::extract::State;
use tenancy::extract::Json;
use tenancy::{AnyRole, ApiError, Authorized, CacheKey, OwnerOnly, TenantScope};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AuthState;
use crate::settings::{self, SettingsPatch, TenantSettings};

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new().routes(routes!(get_settings, patch_settings))
}

/// The tenant's settings.
#[utoipa::path(get, path = "/settings", tag = "settings",
    responses((status = 200, body = TenantSettings)))]
async fn get_settings(
    State(state): State<AuthState>,
    caller: Authorized<AnyRole>,
) -> Result<Json<TenantSettings>, ApiError> {
    let tenant = &caller.tenant().id;
    let cached = state
        .tenancy
        .cache
        .get::<settings::StoredSettings>(tenant, CacheKey::Settings);
    let stored = match cached.await {
        Some(stored) => stored,
        None => {
            let tx = state.tenancy.db.begin(&caller.context).await?;
            let stored = settings::load_settings(&tx).await?;
            tx.commit().await?;
            state
                .tenancy
                .cache
                .set(tenant, CacheKey::Settings, &stored)
                .await;
            stored
        }
    };
    Ok(Json(TenantSettings::new(caller.tenant(), stored)))
}

/// Changes any field of the settings but `tenant_id`; `name` and `business_type` change the
/// tenant's catalog entry too. The settings are committed only once the catalog changed.
#[utoipa::path(patch, path = "/settings", tag = "settings",
    request_body = SettingsPatch,
    responses((status = 200, body = TenantSettings), (status = 403, description = "forbidden"),
              (status = 422, description = "validation_failed")))]
async fn patch_settings(
    State(state): State<AuthState>,
    caller: Authorized<OwnerOnly>,
    Json(patch): Json<SettingsPatch>,
) -> Result<Json<TenantSettings>, ApiError> {
    let patch = patch.validate()?;
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let stored = settings::update_settings(&tx, &patch.settings).await?;
    let tenant = if patch.changes_catalog() {
        let id = &caller.tenant().id;
        state
            .tenancy
            .catalog
            .update_profile(id, patch.name.as_deref(), patch.business_type)
            .await?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "tenant {id} left the catalog while changing its settings"
                ))
            })?
    } else {
        caller.tenant().clone()
    };
    tx.commit().await?;
    let id = &caller.tenant().id;
    state.tenancy.cache.invalidate(id, CacheKey::Settings).await;
    state
        .tenancy
        .cache
        .invalidate(id, CacheKey::DashboardSummary)
        .await;
    Ok(Json(TenantSettings::new(&tenant, stored)))
}
