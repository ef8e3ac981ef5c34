//! What the server functions, the engine and the HTTP edge share: configuration, the
//! database pool, sealed secrets, users and sign-in, API tokens, portals, connected
//! accounts and the install flow, notifications and email. Knows nothing of the web
//! server's routes, the pages or the sync engine.

pub mod auth;
pub mod config;
pub mod connections;
pub mod db;
pub mod email;
pub mod install;
pub mod notifications;
pub mod portals;
pub mod secrets;
pub mod tokens;
pub mod users;

pub use config::Config;

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
