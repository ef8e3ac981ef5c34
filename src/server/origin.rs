//! The cross-site check that keeps browser calls of server functions same-origin.

use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, HOST, ORIGIN};
use http::HeaderMap;

/// Refuses server-function calls that a browser made for another site.
///
/// Every `POST /api/*` is checked, signed in or not: a cross-site form posting the
/// attacker's own credentials to `login` would sign the victim's browser into the
/// attacker's account. Calls with a Bearer token carry no ambient authority and are not
/// checked; clients that send neither `Origin` nor `Sec-Fetch-Site` are not browsers
/// acting for someone else.
pub async fn same_origin_guard(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let is_api_post = req.method() == http::Method::POST && req.uri().path().starts_with("/api/");
    if is_api_post
        && req.headers().get(AUTHORIZATION).is_none()
        && is_cross_site(req.headers(), &state.config.public_url)
    {
        let err = ApiError::forbidden(
            "This request came from another website and was refused.",
            "Use Tandem's own pages, or call the API with a private app token.",
        );
        return super::router::api_error_response(&err).into_response();
    }
    next.run(req).await
}

/// What the browser says: `Sec-Fetch-Site` other than `same-origin` (or `none`, typed
/// by the user), or an `Origin` that is neither this host nor the public URL.
fn is_cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host);
    !same_host && origin != public_url.trim_end_matches('/')
}
