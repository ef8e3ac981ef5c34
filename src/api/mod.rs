//! Server functions: the automation API and the UI's only way to the server.
//!
//! Every function here is thin: find the caller (session cookie or Bearer token), check
//! the permission, call the domain, map its errors. Functions meant for scripts have a
//! stable path (`POST /api/<name>`, JSON in, JSON out).

pub mod apps;
pub mod auth;
pub mod crm;
#[cfg(feature = "ssr")]
mod domain_errors;
pub mod notifications;
pub mod properties;
pub mod syncs;
pub mod tokens;
pub mod users;

pub use crate::model::{ApiError, FieldError};

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side helpers shared by the server functions.
    use super::ApiError;
    use crate::model::Role;
    use crate::platform::{auth::Principal, AppState};
    use leptos::prelude::*;

    /// The application state handed to server functions by the router.
    pub fn state() -> Result<AppState, ApiError> {
        use_context::<AppState>()
            .ok_or_else(|| ApiError::internal("application state missing from the request context"))
    }

    /// Who is calling: the session's user or the Bearer token's owner; 401 otherwise.
    pub async fn principal() -> Result<Principal, ApiError> {
        let state = state()?;
        let parts = use_context::<http::request::Parts>()
            .ok_or_else(|| ApiError::internal("request missing from the context"))?;
        crate::platform::auth::authenticate(&state, &parts).await
    }

    /// The tower-sessions session of this request.
    pub fn session() -> Result<tower_sessions::Session, ApiError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<tower_sessions::Session>().cloned())
            .ok_or_else(|| ApiError::internal("session layer missing"))
    }

    /// Like [`principal`], but only for Super Admins.
    pub async fn super_admin() -> Result<Principal, ApiError> {
        principal_if(
            Role::is_super_admin,
            "Only Super Admins can do this.",
            "Ask a Super Admin of your portal to do it, or to make you one in Settings → Users.",
        )
        .await
    }

    /// Like [`principal`], but only for users allowed to install apps and change syncs.
    pub async fn app_manager() -> Result<Principal, ApiError> {
        principal_if(
            Role::can_manage_apps,
            "You need the App Marketplace permission to do this.",
            "Ask a Super Admin to give you the App Marketplace permission in Settings → Users.",
        )
        .await
    }

    /// The caller if their role `allowed`; 403 with `message` and `hint` otherwise.
    async fn principal_if(
        allowed: fn(Role) -> bool,
        message: &str,
        hint: &str,
    ) -> Result<Principal, ApiError> {
        let p = principal().await?;
        if !allowed(p.role) {
            return Err(ApiError::forbidden(message, hint));
        }
        Ok(p)
    }
}
