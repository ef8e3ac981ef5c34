//! The demo portal every fresh install starts with, and its admin login.

use crate::model::Role;
use crate::platform::{portals, secrets::write_private, users, Config};
use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use sqlx::PgPool;

pub const DEMO_PORTAL: &str = "demo";
pub const DEMO_ADMIN: &str = "admin@example.com";
const PASSWORD_FILE: &str = "admin-password";

pub struct SeededLogin {
    pub email: String,
    pub password: String,
    /// Whether the password was generated now (first run).
    pub generated: bool,
}

/// Creates the `demo` portal and its Super Admin when missing.
///
/// The password is `TANDEM_ADMIN_PASSWORD` when set (and is reset to it), else one
/// generated on the first run and kept in the data folder, so later runs print the same.
pub async fn demo_portal(pool: &PgPool, config: &Config) -> anyhow::Result<SeededLogin> {
    let portal_id = portals::ensure(pool, DEMO_PORTAL, "Demo portal").await?;
    let from_env = std::env::var("TANDEM_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let file = config.data_dir.join(PASSWORD_FILE);
    let (password, generated) = match from_env {
        Some(p) => (p, false),
        None if file.exists() => (
            std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .trim()
                .to_string(),
            false,
        ),
        None => {
            let p = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
            std::fs::create_dir_all(&config.data_dir)?;
            write_private(&file, &p)?;
            (p, true)
        }
    };
    match users::id_by_email(pool, portal_id, DEMO_ADMIN).await? {
        Some(id) => users::set_password(pool, id, password.clone()).await?,
        None => {
            users::create(
                pool,
                portal_id,
                users::NewUser {
                    email: DEMO_ADMIN.into(),
                    name: "Demo Admin".into(),
                    password: password.clone(),
                    role: Role::SuperAdmin,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating the demo admin failed: {}", e.message))?;
        }
    }
    Ok(SeededLogin {
        email: DEMO_ADMIN.into(),
        password,
        generated,
    })
}
