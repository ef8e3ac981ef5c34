//! Who is calling: a signed-in session or a private app token (`Authorization: Bearer`).
//! Also the cross-site check that keeps cookie-authenticated calls same-origin.

use super::{tokens, users, AppState};
use crate::api::ApiError;
use crate::model::{Role, WhoAmI};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use http::request::Parts;
use tower_sessions::Session;
use uuid::Uuid;

pub const SESSION_COOKIE: &str = "tandem_session";
pub const SESSION_USER_KEY: &str = "user_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Session,
    Token,
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
                AuthVia::Token => "token".into(),
            },
            can_manage_apps: self.role.can_manage_apps(),
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

/// Refuses cookie-authenticated server-function calls from another site.
///
/// Browsers send `Origin` on every cross-site POST; a mismatch with our own host (or the
/// configured public URL) is a forged request. Calls with a Bearer token carry no ambient
/// authority and are not checked.
pub async fn same_origin_guard(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    let has_cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(SESSION_COOKIE));
    let is_api_post = req.method() == http::Method::POST && req.uri().path().starts_with("/api/");
    if is_api_post && has_cookie && headers.get(AUTHORIZATION).is_none() {
        if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let same_host = origin
                .split_once("://")
                .map(|(_, rest)| rest == host)
                .unwrap_or(false);
            if !same_host && origin != state.config.public_url {
                let err = ApiError::forbidden(
                    "This request came from another website and was refused.",
                    "Use Tandem's own pages, or call the API with a private app token.",
                );
                return super::router::api_error_response(&err).into_response();
            }
        }
    }
    next.run(req).await
}
