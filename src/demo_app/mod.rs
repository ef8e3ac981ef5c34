//! The bundled "Demo CRM": a separate third-party app that Tandem syncs with, run as
//! its own process (`tandem demo-app`) with its own database. It knows nothing of
//! Tandem: it only speaks HTTP — an OAuth 2.0 server, a REST API with paging, a change
//! feed, batch writes and search, signed webhooks, an email-event feed, switchable
//! faults, request counters and a small web UI. See docs/demo-app.md.

// Handlers return early with a ready `Response` as their error; boxing it everywhere
// would only add noise.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod config;
pub mod db;
pub mod events;
pub mod faults;
pub mod oauth;
pub mod objects;
pub mod records;
pub mod seed;
pub mod stats;
pub mod ui;
pub mod webhooks;

pub use config::DemoConfig;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use faults::{Faults, RateLimiter};
use serde_json::json;
use sqlx::PgPool;
use stats::Stats;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// Everything a handler or the webhook worker needs; cheap to clone.
#[derive(Clone)]
pub struct DemoState {
    pub pool: PgPool,
    pub config: Arc<DemoConfig>,
    pub faults: Arc<RwLock<Faults>>,
    pub limiter: Arc<RateLimiter>,
    pub stats: Arc<Stats>,
    /// Wakes the webhook worker after a write, so deliveries leave at once.
    pub webhook_wake: Arc<Notify>,
    /// The client webhooks are delivered with.
    pub http: reqwest::Client,
}

impl DemoState {
    pub fn new(pool: PgPool, config: DemoConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("DemoCRM-Webhooks/1.0")
            .build()
            .unwrap_or_default();
        DemoState {
            pool,
            faults: Arc::new(RwLock::new(config.faults.clone())),
            config: Arc::new(config),
            limiter: Arc::new(RateLimiter::default()),
            stats: Arc::new(Stats::default()),
            webhook_wake: Arc::new(Notify::new()),
            http,
        }
    }

    /// The fault settings in force right now.
    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn wake_webhooks(&self) {
        self.webhook_wake.notify_one();
    }
}

/// Guards the `/admin/*` routes: `X-Admin-Key` must match `DEMO_APP_ADMIN_KEY`.
async fn admin_only(State(state): State<DemoState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-admin-key")
        .and_then(|v| v.to_str().ok());
    if given == Some(state.config.admin_key.as_str()) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "error": "invalid_admin_key",
                "message": "Admin endpoints need the header X-Admin-Key: <DEMO_APP_ADMIN_KEY> (default demo-admin-key).",
            })),
        )
            .into_response()
    }
}

/// The demo app's whole HTTP surface; tests serve it on 127.0.0.1:0.
pub fn router(state: DemoState) -> Router {
    let v1 = Router::new()
        .route("/v1/me", get(api::me))
        .route("/v1/pipelines", get(api::pipelines))
        .route("/v1/events", get(api::event_feed))
        .route("/v1/webhooks", get(api::subscriptions).post(api::subscribe))
        .route("/v1/webhooks/{id}", axum::routing::delete(api::unsubscribe))
        .route("/v1/schema/{object}", get(api::schema))
        .route("/v1/{object}", get(api::list))
        .route("/v1/{object}/batch", post(api::batch))
        .route("/v1/{object}/batch/read", post(api::batch_read))
        .route("/v1/{object}/search", get(api::search))
        .route("/v1/{object}/changes", get(api::changes))
        .route("/v1/{object}/changes/latest", get(api::changes_latest))
        .route(
            "/v1/{object}/{id}",
            get(api::get_one).delete(api::delete_one),
        )
        .route(
            "/v1/{object}/{id}/associations/{to_object}/{to_id}",
            put(api::associate).delete(api::associate),
        )
        .route_layer(from_fn_with_state(state.clone(), api::guard));
    let admin = Router::new()
        .route(
            "/admin/faults",
            get(faults::get_faults)
                .post(faults::post_faults)
                .delete(faults::reset_faults),
        )
        .route("/admin/stats", get(stats::get_stats))
        .route("/admin/stats/reset", post(stats::reset_stats))
        .route("/admin/events", post(api::admin_event))
        .route("/admin/seed", post(api::admin_seed))
        .route_layer(from_fn_with_state(state.clone(), admin_only));

    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/oauth/authorize",
            get(oauth::authorize_page).post(oauth::authorize_submit),
        )
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .merge(admin)
        .merge(ui::routes())
        .merge(v1)
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), stats::record))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    // The login and consent pages must not be framed (click-jacking).
    res.headers_mut().insert(
        "x-frame-options",
        axum::http::HeaderValue::from_static("DENY"),
    );
    res
}

async fn not_found() -> Response {
    api::error(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is nothing here. The API is under /v1 (see docs/demo-app.md); the web UI starts at /.",
    )
}

async fn healthz(State(state): State<DemoState>) -> Response {
    match sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
    {
        Ok(_) => Json(json!({"status": "ok", "database": "ok", "app": "demo-crm"})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "error", "database": "unreachable", "message": e.to_string()})),
        )
            .into_response(),
    }
}

/// Registers Tandem's OAuth client (upsert) so the configured id/secret always work.
pub async fn register_tandem_client(state: &DemoState) -> anyhow::Result<()> {
    oauth::register_client(
        &state.pool,
        &state.config.client_id,
        &state.config.client_secret,
        "Tandem",
        &state.config.redirect_prefixes,
    )
    .await
    .context("registering the OAuth client failed")
}

/// Migrates, registers the client, starts the webhook worker; returns the state.
pub async fn prepare(pool: PgPool, config: DemoConfig) -> anyhow::Result<DemoState> {
    db::MIGRATOR
        .run(&pool)
        .await
        .context("demo app migrations failed")?;
    let state = DemoState::new(pool, config);
    register_tandem_client(&state).await?;
    tokio::spawn(webhooks::run_worker(state.clone()));
    Ok(state)
}

/// `tandem demo-app serve`: until Ctrl-C or SIGTERM.
pub async fn serve(config: DemoConfig) -> anyhow::Result<()> {
    let pool = db::migrate(&config.database_url).await?;
    let addr = config.addr;
    let public_url = config.public_url.clone();
    let state = prepare(pool, config).await?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}; is another demo app running? Set DEMO_APP_ADDR")
    })?;
    tracing::info!(%addr, "demo app listening");
    println!("Demo CRM is serving on {public_url}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(crate::support::shutdown_signal())
        .await
        .context("demo app server error")
}
