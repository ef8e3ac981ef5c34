//! The Postgres pool and migrations.

use anyhow::Context;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tower_sessions_sqlx_store::PostgresStore;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(database_url)
        .await
        .with_context(|| {
            format!(
                "cannot connect to Postgres at {}; is it running? (`make run` starts one)",
                redact(database_url)
            )
        })
}

/// Creates the database when missing, then applies every migration and the session
/// store's table.
pub async fn migrate(database_url: &str) -> anyhow::Result<PgPool> {
    if !sqlx::Postgres::database_exists(database_url)
        .await
        .with_context(|| format!("cannot reach Postgres at {}", redact(database_url)))?
    {
        sqlx::Postgres::create_database(database_url)
            .await
            .context("cannot create the database")?;
    }
    let pool = connect(database_url).await?;
    migrate_pool(&pool).await?;
    Ok(pool)
}

pub async fn migrate_pool(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("migrations failed")?;
    PostgresStore::new(pool.clone())
        .migrate()
        .await
        .context("session store migration failed")?;
    Ok(())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
