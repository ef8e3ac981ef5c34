//! The demo app's configuration, from `DEMO_APP_*` variables, with defaults that make
//! `tandem demo-app` work with nothing set next to a `make run` Tandem.

use super::faults::{Faults, RateLimit};
use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The database name the demo app uses on Tandem's Postgres server when
/// `DEMO_APP_DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_NAME: &str = "tandem_demo_app";
/// Where `make run` puts the hub's database; the demo app's sits beside it.
const DEFAULT_HUB_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tandem";
pub const DEFAULT_ADDR: &str = "127.0.0.1:3100";
pub const DEFAULT_ADMIN_KEY: &str = "demo-admin-key";
pub const DEFAULT_CLIENT_ID: &str = "tandem";
pub const DEFAULT_CLIENT_SECRET: &str = "tandem-demo-secret";

#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Where `tandem demo-app` listens (`DEMO_APP_ADDR`).
    pub addr: SocketAddr,
    /// How browsers and Tandem reach the demo app (`DEMO_APP_PUBLIC_URL`).
    pub public_url: String,
    /// The demo app's own database (`DEMO_APP_DATABASE_URL`).
    pub database_url: String,
    /// Guards `/admin/*` (`X-Admin-Key` header; `DEMO_APP_ADMIN_KEY`).
    pub admin_key: String,
    /// The OAuth client registered for Tandem at startup.
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URI prefixes accepted besides loopback ones (Tandem's public URL).
    pub redirect_prefixes: Vec<String>,
    /// Lifetime of access tokens (`DEMO_APP_TOKEN_TTL_SECS`).
    pub token_ttl: Duration,
    /// The fault settings the app starts with (and returns to on `DELETE /admin/faults`).
    pub faults: Faults,
    /// First retry delay of a failed webhook delivery; doubles each attempt
    /// (`DEMO_APP_WEBHOOK_RETRY_BASE_MS`, default 1000).
    pub webhook_retry_base: Duration,
    /// Attempts before a delivery is given up (`DEMO_APP_WEBHOOK_MAX_ATTEMPTS`, default 10).
    pub webhook_max_attempts: i32,
    /// Time allowed for one delivery request (`DEMO_APP_WEBHOOK_TIMEOUT_MS`, default 10000).
    pub webhook_timeout: Duration,
}

impl DemoConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let addr: SocketAddr = var("DEMO_APP_ADDR")
            .unwrap_or_else(|| DEFAULT_ADDR.into())
            .parse()
            .context("DEMO_APP_ADDR must look like 127.0.0.1:3100")?;
        let public_url = var("DEMO_APP_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let data_dir = var("TANDEM_DATA_DIR").unwrap_or_else(|| ".tandem".into());
        let database_url = match var("DEMO_APP_DATABASE_URL") {
            Some(url) => url,
            None => {
                let hub = var("DATABASE_URL")
                    .or_else(|| read_trimmed(&Path::new(&data_dir).join("database_url")))
                    .unwrap_or_else(|| DEFAULT_HUB_DATABASE_URL.into());
                sibling_database(&hub, DEFAULT_DATABASE_NAME)?
            }
        };
        let mut redirect_prefixes = Vec::new();
        if let Some(tandem) = var("TANDEM_PUBLIC_URL") {
            redirect_prefixes.push(format!("{}/", tandem.trim_end_matches('/')));
        }
        let secs = |name: &str, default: u64| -> anyhow::Result<u64> {
            match var(name) {
                Some(v) => v
                    .trim()
                    .parse()
                    .with_context(|| format!("{name} must be a whole number, got `{v}`")),
                None => Ok(default),
            }
        };
        let rate = |name: &str| -> anyhow::Result<f64> {
            match var(name) {
                Some(v) => {
                    let r: f64 = v.trim().parse().with_context(|| {
                        format!("{name} must be a number between 0 and 1, got `{v}`")
                    })?;
                    if !(0.0..=1.0).contains(&r) {
                        bail!("{name} must be between 0 and 1, got {r}");
                    }
                    Ok(r)
                }
                None => Ok(0.0),
            }
        };
        let rate_limit = match var("DEMO_APP_RATE_LIMIT") {
            Some(v) => RateLimit::parse(&v).with_context(|| {
                format!("DEMO_APP_RATE_LIMIT must look like 100/10 or off, got `{v}`")
            })?,
            None => Some(RateLimit::default()),
        };
        let faults = Faults {
            error_rate: rate("DEMO_APP_ERROR_RATE")?,
            latency_ms: secs("DEMO_APP_LATENCY_MS", 0)?,
            rate_limit,
            webhook_drop_rate: rate("DEMO_APP_WEBHOOK_DROP_RATE")?,
            webhook_duplicate_rate: rate("DEMO_APP_WEBHOOK_DUPLICATE_RATE")?,
            webhook_delay_ms: secs("DEMO_APP_WEBHOOK_DELAY_MS", 0)?,
        };
        Ok(DemoConfig {
            addr,
            public_url,
            database_url,
            admin_key: var("DEMO_APP_ADMIN_KEY").unwrap_or_else(|| DEFAULT_ADMIN_KEY.into()),
            client_id: var("DEMO_APP_CLIENT_ID").unwrap_or_else(|| DEFAULT_CLIENT_ID.into()),
            client_secret: var("DEMO_APP_CLIENT_SECRET")
                .unwrap_or_else(|| DEFAULT_CLIENT_SECRET.into()),
            redirect_prefixes,
            token_ttl: Duration::from_secs(secs("DEMO_APP_TOKEN_TTL_SECS", 3600)?.max(1)),
            faults,
            webhook_retry_base: Duration::from_millis(secs(
                "DEMO_APP_WEBHOOK_RETRY_BASE_MS",
                1000,
            )?),
            webhook_max_attempts: secs("DEMO_APP_WEBHOOK_MAX_ATTEMPTS", 10)?.clamp(1, 100) as i32,
            webhook_timeout: Duration::from_millis(
                secs("DEMO_APP_WEBHOOK_TIMEOUT_MS", 10_000)?.max(100),
            ),
        })
    }

    /// A configuration for tests: the given database, no faults, no rate limit, quick
    /// webhook retries. Tests adjust fields before building the state.
    pub fn for_tests(database_url: &str) -> Self {
        DemoConfig {
            addr: "127.0.0.1:0".parse().expect("valid literal address"),
            public_url: "http://127.0.0.1:3100".into(),
            database_url: database_url.into(),
            admin_key: DEFAULT_ADMIN_KEY.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            redirect_prefixes: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            faults: Faults {
                rate_limit: None,
                ..Faults::default()
            },
            webhook_retry_base: Duration::from_millis(50),
            webhook_max_attempts: 10,
            webhook_timeout: Duration::from_secs(5),
        }
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The URL of another database on the same Postgres server: `postgres://u@h:p/tandem`
/// → `postgres://u@h:p/tandem_demo_app`.
pub fn sibling_database(url: &str, name: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).with_context(|| {
        format!(
            "cannot read the database URL `{}`; set DEMO_APP_DATABASE_URL",
            crate::support::redact(url)
        )
    })?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_database_sits_next_to_tandems() {
        assert_eq!(
            sibling_database(
                "postgres://postgres@127.0.0.1:5432/tandem",
                "tandem_demo_app"
            )
            .unwrap(),
            "postgres://postgres@127.0.0.1:5432/tandem_demo_app"
        );
        assert_eq!(
            sibling_database("postgres://u:p@db:6543/postgres?sslmode=disable", "x").unwrap(),
            "postgres://u:p@db:6543/x?sslmode=disable"
        );
    }
}
