//! The demo app's own database: pool, migrations (`migrations_demo_app/`), and the
//! storage of accounts, users and UI sessions.

use crate::support::{hash_password, password_matches};
use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations_demo_app");

pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    crate::support::connect(database_url, "the demo app's ").await
}

/// Creates the database when missing and applies the demo app's migrations.
pub async fn migrate(database_url: &str) -> anyhow::Result<PgPool> {
    crate::support::create_database_if_missing(database_url, "the demo app's ").await?;
    let pool = connect(database_url).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("demo app migrations failed")?;
    Ok(pool)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub label: String,
}

/// The signed-in user of a UI session or an OAuth grant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub account_id: i64,
    pub username: String,
    pub display_name: String,
    pub account_name: String,
}

pub async fn account_by_name(pool: &PgPool, name: &str) -> sqlx::Result<Option<Account>> {
    sqlx::query_as("SELECT id, name, label FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

pub async fn account_by_id(pool: &PgPool, id: i64) -> sqlx::Result<Option<Account>> {
    sqlx::query_as("SELECT id, name, label FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Creates the account when missing; returns it either way.
pub async fn ensure_account(pool: &PgPool, name: &str, label: &str) -> sqlx::Result<Account> {
    sqlx::query("INSERT INTO accounts (name, label) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(label)
        .execute(pool)
        .await?;
    sqlx::query_as("SELECT id, name, label FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}

/// Creates the user when missing (the password is only set on creation).
pub async fn ensure_user(
    pool: &PgPool,
    account_id: i64,
    username: &str,
    display_name: &str,
    password: &str,
) -> anyhow::Result<i64> {
    if let Some(id) = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await?
    {
        return Ok(id);
    }
    let hash = hash_password(password.to_string()).await?;
    let id = sqlx::query_scalar(
        "INSERT INTO users (account_id, username, display_name, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
         RETURNING id",
    )
    .bind(account_id)
    .bind(username)
    .bind(display_name)
    .bind(hash)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

const USER_COLUMNS: &str = "u.id, u.account_id, u.username, u.display_name, a.name AS account_name";

/// The user with this username and password, if both are right.
pub async fn check_login(
    pool: &PgPool,
    username: &str,
    password: &str,
) -> anyhow::Result<Option<User>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        password_hash: String,
        #[sqlx(flatten)]
        user: User,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT u.password_hash, {USER_COLUMNS} FROM users u JOIN accounts a ON a.id = u.account_id
         WHERE u.username = $1"
    ))
    .bind(username.trim())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if password_matches(password.to_string(), row.password_hash).await {
        Ok(Some(row.user))
    } else {
        Ok(None)
    }
}

pub async fn user_by_id(pool: &PgPool, id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn create_session(pool: &PgPool, user_id: i64, session_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM ui_sessions WHERE expires_at < now()")
        .execute(pool)
        .await?;
    sqlx::query("INSERT INTO ui_sessions (id_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '7 days')")
        .bind(sha256_hex(session_id))
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn session_user(pool: &PgPool, session_id: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM ui_sessions s JOIN users u ON u.id = s.user_id
         JOIN accounts a ON a.id = u.account_id
         WHERE s.id_hash = $1 AND s.expires_at > now()"
    ))
    .bind(sha256_hex(session_id))
    .fetch_optional(pool)
    .await
}

pub async fn delete_session(pool: &PgPool, session_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1")
        .bind(sha256_hex(session_id))
        .execute(pool)
        .await?;
    Ok(())
}
