//! hubspot-wire: a stateful stand-in for HubSpot's CRM API, for Tandem's HubSpot connector
//! tests (HubSpot itself cannot be reached from the test machines).
//!
//! It follows HubSpot's public documentation (developers.hubspot.com: CRM objects v3, batch,
//! search, associations v4, pipelines, properties, account info, OAuth 2.0, API usage
//! guidelines and rate limits, webhooks and request validation): paths, status codes, error
//! bodies (`status`, `message`, `correlationId`, `category`), cursor paging, the search limits
//! (200 per page, 5 filter groups, 6 filters per group, 18 in all, one sort, 10,000 results
//! per query), the `X-HubSpot-RateLimit-*` headers and 429 bodies, and signed webhook batches.
//! Where the documentation is silent it does what HubSpot is known to do; see the comments.
//! Two documented details: OAuth calls get no `-Daily` rate-limit headers and have no daily
//! limit, and webhook requests declare `X-HubSpot-Signature-Version: v1` (with the v1
//! `X-HubSpot-Signature`) while also carrying `X-HubSpot-Signature-v3`.
//!
//! Simplified: one portal, all state in memory; three object types (contacts, companies,
//! deals, also as `0-1`..`0-3`) with a fixed property set and one deal pipeline; no custom
//! properties, owners, property history or scopes checks; associations are unlabeled (each
//! pair has its default HUBSPOT_DEFINED type, no "primary"); the search `query` is a plain
//! case-insensitive substring match over a few text properties; the daily limit turns at
//! midnight UTC; webhook retries are a few over seconds rather than ten over a day; every
//! webhook subscription type is on, and every API write sends its events.
//!
//! Usage:
//!   hubspot-wire [--addr 127.0.0.1:0] [--token TOKEN]... [--client-id ID]
//!                [--client-secret SECRET] [--portal-id 62515] [--rate-max 190]
//!                [--rate-interval-ms 10000] [--search-per-sec 4] [--daily-max 1000000]
//! `--token` may be repeated; `HUBSPOT_WIRE_TOKENS` (comma-separated) gives them too.
//! On start it prints one line to stdout, `hubspot-wire listening on http://127.0.0.1:PORT`;
//! logs go to stderr (`RUST_LOG` filters them).
//!
//! Test controls, not HubSpot's (no auth, not rate limited; control.rs): `GET /healthz`,
//! `POST /_wire/webhooks` `{"target_url","enabled"}`, `POST /_wire/webhooks/drop` `{"next":N}`,
//! `POST /_wire/seed` `{"object","count","modified_from_ms","modified_span_ms","prefix"}`,
//! `POST /_wire/touch` `{"object","ids"|"all","at_ms"}`, `GET /_wire/stats`,
//! `POST /_wire/stats/reset`, `POST /_wire/oauth/expire` `{"access_token"?}`.

mod associations;
mod auth;
mod control;
mod error;
mod limits;
mod meta;
mod oauth;
mod objects;
mod schema;
mod search;
mod store;
mod webhooks;

use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[derive(Parser)]
#[command(
    name = "hubspot-wire",
    about = "A stateful HubSpot CRM API stand-in for tests"
)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Private-app access tokens accepted as `Authorization: Bearer …`.
    #[arg(long = "token", env = "HUBSPOT_WIRE_TOKENS", value_delimiter = ',')]
    tokens: Vec<String>,
    /// The OAuth app's client id.
    #[arg(long)]
    client_id: Option<String>,
    /// The OAuth app's client secret; it also signs webhooks.
    #[arg(long)]
    client_secret: Option<String>,
    #[arg(long, default_value_t = 62515)]
    portal_id: u64,
    /// Requests per token in one rolling window.
    #[arg(long, default_value_t = 190)]
    rate_max: u64,
    #[arg(long, default_value_t = 10_000)]
    rate_interval_ms: u64,
    /// Search requests per token per second.
    #[arg(long, default_value_t = 4)]
    search_per_sec: u64,
    /// Requests per private-app token per day.
    #[arg(long, default_value_t = 1_000_000)]
    daily_max: u64,
}

pub struct Config {
    pub portal_id: u64,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

pub struct App {
    pub cfg: Config,
    pub store: Mutex<store::Store>,
    pub tokens: Mutex<auth::Tokens>,
    pub limits: Mutex<limits::Limits>,
    pub hooks: Arc<webhooks::Webhooks>,
}

pub type Shared = Arc<App>;

/// A panicking handler must not take the whole server down with a poisoned lock.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn router(app: Shared) -> Router {
    use objects as o;
    let api = Router::new()
        .route("/crm/v3/objects/{object}", get(o::list).post(o::create))
        .route("/crm/v3/objects/{object}/search", post(search::search))
        .route(
            "/crm/v3/objects/{object}/batch/create",
            post(o::batch_create),
        )
        .route(
            "/crm/v3/objects/{object}/batch/update",
            post(o::batch_update),
        )
        .route(
            "/crm/v3/objects/{object}/batch/upsert",
            post(o::batch_upsert),
        )
        .route("/crm/v3/objects/{object}/batch/read", post(o::batch_read))
        .route(
            "/crm/v3/objects/{object}/batch/archive",
            post(o::batch_archive),
        )
        .route(
            "/crm/v3/objects/{object}/{id}",
            get(o::read).patch(o::update).delete(o::archive),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/default/{to}/{to_id}",
            put(associations::put_default),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/{to}/{to_id}",
            axum::routing::delete(associations::remove),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/{to}",
            get(associations::list),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/associate/default",
            post(associations::batch_associate),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/archive",
            post(associations::batch_archive),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/read",
            post(associations::batch_read),
        )
        .route("/crm/v3/pipelines/{object}", get(meta::pipelines))
        .route(
            "/crm/v3/pipelines/{object}/{pipeline_id}",
            get(meta::pipeline),
        )
        .route("/crm/v3/properties/{object}", get(meta::properties))
        .route("/crm/v3/properties/{object}/{name}", get(meta::property))
        .route("/account-info/v3/details", get(meta::account))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limits::gate,
        ));
    let open = Router::new()
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/v1/token", post(oauth::token))
        .route("/oauth/v1/access-tokens/{token}", get(oauth::token_info))
        .route("/healthz", get(control::healthz))
        .route("/_wire/webhooks", post(control::webhooks))
        .route("/_wire/webhooks/drop", post(control::drop_batches))
        .route("/_wire/seed", post(control::seed))
        .route("/_wire/touch", post(control::touch))
        .route("/_wire/stats", get(control::stats))
        .route("/_wire/stats/reset", post(control::reset_stats))
        .route("/_wire/oauth/expire", post(control::expire_tokens));
    api.merge(open)
        .fallback(|| async {
            error::ApiError::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Unknown path.")
        })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "VALIDATION_ERROR",
                "Method not allowed on this path.",
            )
        })
        .with_state(app)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let hooks = Arc::new(webhooks::Webhooks::new(
        cli.client_secret.clone(),
        cli.portal_id,
    ));
    let app = Arc::new(App {
        cfg: Config {
            portal_id: cli.portal_id,
            client_id: cli.client_id,
            client_secret: cli.client_secret,
        },
        store: Mutex::new(store::Store::default()),
        tokens: Mutex::new(auth::Tokens::new(cli.tokens)),
        limits: Mutex::new(limits::Limits::new(limits::LimitConfig {
            rate_max: cli.rate_max,
            interval_ms: cli.rate_interval_ms,
            search_per_sec: cli.search_per_sec,
            daily_max: cli.daily_max,
            portal_id: cli.portal_id,
        })),
        hooks: hooks.clone(),
    });
    tokio::spawn(hooks.run());
    let listener = tokio::net::TcpListener::bind(cli.addr).await?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "hubspot-wire listening on http://{addr}")?;
    out.flush()?;
    tracing::info!(%addr, "serving");
    axum::serve(listener, router(app)).await
}
