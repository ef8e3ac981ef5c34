//! The cross-site check that keeps cookie-authenticated server-function calls
//! same-origin.

use crate::model::ApiError;
use crate::platform::auth::SESSION_COOKIE;
use crate::platform::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};

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
