//! `/dashboard/summary` and `/chatbot/messages`.

use axum::extract::State;
use tenancy::extract::Json;
use tenancy::{ApiError, Authorized, CacheKey, OwnerOrManager, TenantScope};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::DashboardState;
use crate::chatbot::{self, ChatMessage, ChatReply};
use crate::summary::{Summary, build_summary};

pub(crate) fn router() -> OpenApiRouter<DashboardState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(chatbot_message))
        .routes(routes!(crate::sales::sales))
}

/// The tenant's orders, inventory and payments at a glance.
#[utoipa::path(get, path = "/dashboard/summary", tag = "dashboard",
    responses((status = 200, body = Summary), (status = 403, description = "forbidden")))]
async fn summary(
    State(state): State<DashboardState>,
    caller: Authorized<OwnerOrManager>,
) -> Result<Json<Summary>, ApiError> {
    let tenant = &caller.tenant().id;
    if let Some(summary) = state
        .cache
        .get::<Summary>(tenant, CacheKey::DashboardSummary)
        .await
    {
        return Ok(Json(summary));
    }
    let summary = build_summary(&state, &caller.context).await?;
    state
        .cache
        .set(tenant, CacheKey::DashboardSummary, &summary)
        .await;
    Ok(Json(summary))
}

/// A plain question about the tenant's summary, answered from the caller's tenant only.
#[utoipa::path(post, path = "/chatbot/messages", tag = "dashboard", request_body = ChatMessage,
    responses((status = 200, body = ChatReply), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed")))]
async fn chatbot_message(
    State(state): State<DashboardState>,
    caller: Authorized<OwnerOrManager>,
    Json(message): Json<ChatMessage>,
) -> Result<Json<ChatReply>, ApiError> {
    let question = message.validate()?;
    Ok(Json(
        chatbot::answer(&state, &caller.context, &question).await?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_routes_are_documented() {
        let (_, openapi) = super::router().split_for_parts();
        let paths = &openapi.paths.paths;
        assert!(paths["/dashboard/summary"].get.is_some());
        assert!(paths["/chatbot/messages"].post.is_some());
        assert!(paths["/dashboard/sales"].get.is_some());
        let schemas = &openapi.components.expect("components").schemas;
        for name in [
            "Summary",
            "ChatMessage",
            "ChatReply",
            "Intent",
            "OrdersSummary",
            "InventorySummary",
            "PaymentsSummary",
            "DaySales",
        ] {
            assert!(schemas.contains_key(name), "{name}");
        }
    }
}
