//! Users, passwords and logins of a tenant (API.md §4): `/auth/*` and `/users`; the tenant's
//! settings (API.md §7): `/settings`.

mod login_throttle;
mod password;
mod routes;
pub mod settings;
mod settings_routes;
pub mod users;

use std::sync::Arc;

use tenancy::Tenancy;
use utoipa_axum::router::OpenApiRouter;

pub use login_throttle::LoginThrottle;
pub use users::{NewUser, Password, User, Username, create_user};

#[derive(Clone)]
pub struct AuthState {
    pub tenancy: Arc<Tenancy>,
    pub throttle: Arc<LoginThrottle>,
}

/// The auth service's routes; they need the tenant resolver in front of them.
pub fn router(state: AuthState) -> OpenApiRouter {
    routes::router().with_state(state)
}
