//! The axum router: pages, server functions, health, metrics, sessions, and the
//! middleware that turns server-function errors into proper HTTP statuses.

use super::{install, metrics, origin, webhooks};
use crate::app::{shell, App};
use crate::model::ApiError;
use crate::platform::{auth, AppState};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use http::{header, HeaderValue, StatusCode};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// The whole web application; tests drive it with `oneshot`.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let sessions = SessionManagerLayer::new(PostgresStore::new(state.pool.clone()))
        .with_name(auth::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.is_https())
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let leptos_options = state.leptos_options.clone();

    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/oauth/install/{app}", get(install::install))
        .route("/oauth/callback", get(install::callback))
        .route("/webhooks/{connection_id}", post(webhooks::receive))
        .route("/exports/{id}", get(super::exports::download))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(leptos_options.clone())
        })
        .merge(crate::server::rest::router())
        .route("/api/{*path}", any(api_not_found))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(from_fn(server_fn_status))
        .layer(from_fn_with_state(state.clone(), origin::same_origin_guard))
        .layer(sessions)
        .layer(from_fn(metrics::record_request))
        .layer(TraceLayer::new_for_http())
        // No page may be framed by another site (clickjacking a sign-in or a consent),
        // and no response is content-sniffed into something it does not say it is.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

pub fn api_error_response(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, Json(err)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"tandem\""),
        );
    }
    res
}

async fn api_not_found(req: Request) -> Response {
    let err = ApiError::new(
        404,
        "not_found",
        format!(
            "There is no API function at {} {}.",
            req.method(),
            req.uri().path()
        ),
    )
    .with_hint("Server functions are called with POST; the README lists them all.");
    api_error_response(&err)
}

/// Server functions answer errors with 500 and the encoded error; ours carry their own
/// status (401, 403, 404, 422…), which this puts on the response.
async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if !res.headers().contains_key("serverfnerror") {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error body too large").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<ApiError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status) {
            if status.is_client_error() || status.is_server_error() {
                parts.status = status;
            }
        }
        if parts.status == StatusCode::UNAUTHORIZED {
            parts.headers.insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"tandem\""),
            );
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn healthz(State(state): State<AppState>) -> Response {
    match sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
    {
        Ok(_) => Json(serde_json::json!({"status": "ok", "database": "ok"})).into_response(),
        // The error's text (host names, user names) is for the operator's log, not for
        // anyone who can reach the health check.
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({
                    "status": "error",
                    "database": "unreachable",
                    "message": "The database does not answer.",
                })),
            )
                .into_response()
        }
    }
}
