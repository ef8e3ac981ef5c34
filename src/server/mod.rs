//! The web server and everything only it needs: configuration, database, sessions and
//! sign-in, API tokens, notifications, health and metrics, and the axum router.

pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod db;
pub mod email;
pub mod exports;
pub mod install;
pub mod metrics;
pub mod notifications;
pub mod plain_pages;
pub mod portals;
pub mod router;
pub mod secrets;
pub mod seed;
pub mod tokens;
pub mod users;
pub mod webhooks;

pub use config::Config;
pub use router::app;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;

/// Everything a request handler or server function needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    /// Seals OAuth tokens and webhook secrets at rest.
    pub secret_key: secrets::SecretKey,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> anyhow::Result<Self> {
        let leptos_options = config.leptos_options();
        let secret_key = secrets::SecretKey::load(&config.data_dir)?;
        Ok(AppState {
            pool,
            config: Arc::new(config),
            leptos_options,
            secret_key,
        })
    }
}
