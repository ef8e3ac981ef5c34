//! Process plumbing with no product in it, shared by Tandem and the bundled demo app
//! (a separate product that must know nothing of Tandem): Postgres pools, database
//! creation, URL redaction for messages, password hashes, the shutdown signal.

use anyhow::Context;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// A pool on `database_url`; `whose` names the database in the error ("" or "the demo
/// app's ").
pub async fn connect(database_url: &str, whose: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(database_url)
        .await
        .with_context(|| {
            format!(
                "cannot connect to {whose}Postgres at {}; is it running? (`make run` starts one)",
                redact(database_url)
            )
        })
}

/// Creates the database when it does not exist yet.
pub async fn create_database_if_missing(database_url: &str, whose: &str) -> anyhow::Result<()> {
    if !sqlx::Postgres::database_exists(database_url)
        .await
        .with_context(|| format!("cannot reach Postgres at {}", redact(database_url)))?
    {
        sqlx::Postgres::create_database(database_url)
            .await
            .with_context(|| format!("cannot create {whose}database"))?;
    }
    Ok(())
}

/// An Argon2 hash of a password, made on the blocking pool (it takes a core for ~50 ms).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
    })
    .await?
}

/// Whether `password` matches an Argon2 `hash`, checked on the blocking pool.
pub async fn password_matches(password: String, hash: String) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
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

/// Resolves on Ctrl-C or SIGTERM: the servers' graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
