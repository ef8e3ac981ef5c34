//! Who is calling: a signed-in session or a private app token (`Authorization: Bearer`).

use super::{tokens, users, AppState};
use crate::model::crm::WriteOrigin;
use crate::model::ApiError;
use crate::model::{Role, WhoAmI};
use http::header::AUTHORIZATION;
use http::request::Parts;
use tower_sessions::Session;
use uuid::Uuid;

pub const SESSION_COOKIE: &str = "tandem_session";
pub const SESSION_USER_KEY: &str = "user_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Session,
    /// A private app token, by id: writes made with it are attributed to the token.
    Token(Uuid),
}

/// The caller of a request, always scoped to one portal.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub portal_id: Uuid,
    pub portal_slug: String,
    pub portal_name: String,
    pub via: AuthVia,
}

impl Principal {
    pub fn whoami(&self) -> WhoAmI {
        WhoAmI {
            user_id: self.user_id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            portal_id: self.portal_id,
            portal_slug: self.portal_slug.clone(),
            portal_name: self.portal_name.clone(),
            auth: match self.via {
                AuthVia::Session => "session".into(),
                AuthVia::Token(_) => "token".into(),
            },
            can_manage_apps: self.role.can_manage_apps(),
        }
    }

    /// Who a hub write made by this caller is attributed to.
    pub fn write_origin(&self) -> WriteOrigin {
        match self.via {
            AuthVia::Session => WriteOrigin::User(self.user_id),
            AuthVia::Token(id) => WriteOrigin::ApiToken(id),
        }
    }
}

/// A Bearer token wins over a cookie: scripts may carry both.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    401,
                    "unauthorized",
                    "The Authorization header is not a Bearer token.",
                )
                .with_hint("Send `Authorization: Bearer <token>` with a private app token.")
            })?;
        return tokens::authenticate(&state.pool, secret).await;
    }
    let session = parts
        .extensions
        .get::<Session>()
        .ok_or_else(ApiError::unauthorized)?;
    let user_id: Option<Uuid> = session
        .get(SESSION_USER_KEY)
        .await
        .map_err(ApiError::internal)?;
    let user_id = user_id.ok_or_else(ApiError::unauthorized)?;
    users::principal(&state.pool, user_id, AuthVia::Session)
        .await?
        .ok_or_else(ApiError::unauthorized)
}
