//! Configuration from the environment (`DATABASE_URL`, `TANDEM_*`), with defaults that
//! make `make run` work with nothing set.

use crate::connectors::hubspot::HubSpotConfig;
use crate::connectors::AppsConfig;
use anyhow::Context;
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// Where `serve` listens (`TANDEM_ADDR`, default 127.0.0.1:3000).
    pub addr: SocketAddr,
    /// The address people and apps use to reach Tandem (`TANDEM_PUBLIC_URL`); OAuth
    /// callbacks and webhook URLs are built from it, and cookies get `Secure` when it is https.
    pub public_url: String,
    /// Local state: generated secrets, the admin password, exports (`TANDEM_DATA_DIR`).
    pub data_dir: PathBuf,
    /// SMTP server for emails (`TANDEM_SMTP_URL`); emails are off when unset.
    pub smtp_url: Option<String>,
    /// Where the compiled site (WASM, CSS, assets) lives (`LEPTOS_SITE_ROOT`).
    pub site_root: String,
    /// The connectors' settings: the bundled Demo CRM (`TANDEM_DEMO_APP_URL`,
    /// `TANDEM_DEMO_CLIENT_ID`, `TANDEM_DEMO_CLIENT_SECRET`) and Tandem's own rate limit
    /// per connected account (`TANDEM_APP_RATE_LIMIT`, `95/10` by default, `off` for none).
    pub apps: AppsConfig,
}

/// `"95/10"` → 95 requests per 10 s; `"off"` → no limit.
pub fn parse_rate_limit(s: &str) -> anyhow::Result<Option<(u32, f64)>> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (n, secs) = s.split_once('/').ok_or_else(|| {
        anyhow::anyhow!("write the rate limit as requests/seconds, e.g. 95/10, or off")
    })?;
    let n: u32 = n
        .trim()
        .parse()
        .context("the number of requests must be a whole number")?;
    let secs: f64 = secs
        .trim()
        .parse()
        .context("the window must be a number of seconds")?;
    anyhow::ensure!(n > 0 && secs > 0.0, "the rate limit must be positive");
    Ok(Some((n, secs)))
}

pub const DEFAULT_DEMO_APP_URL: &str = "http://127.0.0.1:3100";
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tandem";

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let seconds = |name: &str| -> anyhow::Result<Option<std::time::Duration>> {
            var(name)
                .map(|v| {
                    let secs: f64 = v
                        .trim()
                        .parse()
                        .with_context(|| format!("{name} is not a number of seconds"))?;
                    std::time::Duration::try_from_secs_f64(secs).context(name.to_string())
                })
                .transpose()
        };
        let addr: SocketAddr = var("TANDEM_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .context("TANDEM_ADDR must look like 127.0.0.1:3000")?;
        let public_url = var("TANDEM_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let data_dir: PathBuf = var("TANDEM_DATA_DIR")
            .unwrap_or_else(|| ".tandem".into())
            .into();
        // `make run` leaves the address of its project-local database here, so that other
        // commands (`tandem token create`, `tandem seed`) find it without DATABASE_URL.
        let local_database_url = || {
            std::fs::read_to_string(data_dir.join("database_url"))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Ok(Config {
            database_url: var("DATABASE_URL")
                .or_else(local_database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            addr,
            public_url,
            data_dir,
            smtp_url: var("TANDEM_SMTP_URL"),
            site_root: var("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            apps: AppsConfig {
                demo_app_url: var("TANDEM_DEMO_APP_URL")
                    .unwrap_or_else(|| DEFAULT_DEMO_APP_URL.into()),
                demo_client_id: var("TANDEM_DEMO_CLIENT_ID").unwrap_or_else(|| "tandem".into()),
                demo_client_secret: var("TANDEM_DEMO_CLIENT_SECRET")
                    .unwrap_or_else(|| "tandem-demo-secret".into()),
                app_rate_limit: match var("TANDEM_APP_RATE_LIMIT") {
                    Some(v) => parse_rate_limit(&v).context("TANDEM_APP_RATE_LIMIT")?,
                    None => Some((95, 10.0)),
                },
                carddav_poll_every: seconds("TANDEM_CARDDAV_POLL_SECS")?
                    .unwrap_or(std::time::Duration::from_secs(30)),
                bottlecrm_poll_every: seconds("TANDEM_BOTTLECRM_POLL_SECS")?
                    .unwrap_or(std::time::Duration::from_secs(60)),
                hubspot: {
                    let default = HubSpotConfig::default();
                    let api_url = var("TANDEM_HUBSPOT_API_URL")
                        .unwrap_or(default.api_url)
                        .trim_end_matches('/')
                        .to_string();
                    HubSpotConfig {
                        token_url: var("TANDEM_HUBSPOT_TOKEN_URL")
                            .unwrap_or_else(|| format!("{api_url}/oauth/v1/token")),
                        authorize_url: var("TANDEM_HUBSPOT_AUTHORIZE_URL")
                            .unwrap_or(default.authorize_url),
                        client: match (
                            var("TANDEM_HUBSPOT_CLIENT_ID"),
                            var("TANDEM_HUBSPOT_CLIENT_SECRET"),
                        ) {
                            (Some(id), Some(secret)) => Some((id, secret)),
                            (None, None) => None,
                            _ => anyhow::bail!(
                                "set both TANDEM_HUBSPOT_CLIENT_ID and TANDEM_HUBSPOT_CLIENT_SECRET (Tandem's app at HubSpot), or neither"
                            ),
                        },
                        rate_limit: match var("TANDEM_HUBSPOT_RATE_LIMIT") {
                            Some(v) => parse_rate_limit(&v)
                                .context("TANDEM_HUBSPOT_RATE_LIMIT")?
                                .map(|(n, secs)| (n, std::time::Duration::from_secs_f64(secs)))
                                .context("TANDEM_HUBSPOT_RATE_LIMIT cannot be off: HubSpot limits every account")?,
                            None => default.rate_limit,
                        },
                        poll_every: seconds("TANDEM_HUBSPOT_POLL_SECS")?
                            .unwrap_or(default.poll_every),
                        api_url,
                    }
                },
            },
        })
    }

    /// A configuration for tests: the given database, everything else local.
    pub fn for_tests(database_url: &str, data_dir: PathBuf) -> Self {
        Config {
            database_url: database_url.into(),
            addr: "127.0.0.1:0".parse().expect("valid literal address"),
            public_url: "http://127.0.0.1:3000".into(),
            data_dir,
            smtp_url: None,
            site_root: "target/site".into(),
            apps: AppsConfig {
                demo_app_url: DEFAULT_DEMO_APP_URL.into(),
                demo_client_id: "tandem".into(),
                demo_client_secret: "tandem-demo-secret".into(),
                app_rate_limit: Some((95, 10.0)),
                carddav_poll_every: std::time::Duration::from_secs(30),
                bottlecrm_poll_every: std::time::Duration::from_secs(60),
                hubspot: HubSpotConfig::default(),
            },
        }
    }

    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn leptos_options(&self) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("tandem")
            .site_root(self.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(self.addr)
            .build()
    }
}
