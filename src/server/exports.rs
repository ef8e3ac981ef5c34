//! `GET /exports/{id}`: downloads a finished export (see `engine::export`). The caller
//! must be a signed-in user (session cookie or Bearer token) of the export's portal; the
//! link stops working after 24 hours. A browser that is not signed in is sent to the
//! sign-in page, and from there to the export's page.

use super::router::api_error_response;
use crate::engine::export;
use crate::model::ApiError;
use crate::platform::{auth, AppState};
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceExt;
use uuid::Uuid;

fn wants_html(req: &Request) -> bool {
    req.headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return api_error_response(&ApiError::not_found("The export"));
    };
    let html = wants_html(&req);
    let (parts, body) = req.into_parts();
    let principal = match auth::authenticate(&state, &parts).await {
        Ok(p) => p,
        Err(e) if e.status == 401 && html => {
            return Redirect::to(&format!("/login?next=/settings/integrations/exports/{id}"))
                .into_response()
        }
        Err(e) => return api_error_response(&e),
    };
    let (path, name) =
        match export::for_download(&state.pool, &state.config, principal.portal_id, id).await {
            Ok(found) => found,
            // A person sees the export's page, which says what happened and what to do.
            Err(_) if html => {
                return Redirect::to(&format!("/settings/integrations/exports/{id}"))
                    .into_response()
            }
            Err(e) => return api_error_response(&e.into()),
        };
    let req = Request::from_parts(parts, body);
    let mut res = match tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
    {
        Ok(res) => res.map(axum::body::Body::new),
        Err(e) => return api_error_response(&ApiError::internal(e)),
    };
    let ascii: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    if let Ok(v) = http::HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        res.headers_mut()
            .insert(http::header::CONTENT_DISPOSITION, v);
    }
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-store"),
    );
    res
}
