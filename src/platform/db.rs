//! The Postgres pool and migrations.

use anyhow::Context;
use sqlx::postgres::PgPool;
use tower_sessions_sqlx_store::PostgresStore;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    crate::support::connect(database_url, "").await
}

/// Creates the database when missing, then applies every migration and the session
/// store's table.
pub async fn migrate(database_url: &str) -> anyhow::Result<PgPool> {
    crate::support::create_database_if_missing(database_url, "the ").await?;
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
