//! Private app tokens: long random secrets shown once and stored as SHA-256 hashes.
//! A token acts as the user who created it, in that user's portal.

use super::auth::{AuthVia, Principal};
use super::users;
use crate::model::ApiError;
use crate::model::{ApiTokenView, CreatedApiToken};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

const PREFIX: &str = "tdm_";
/// How many characters of the secret are kept in clear to recognise a token.
const VISIBLE: usize = 10;

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    format!(
        "{PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    )
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    name: String,
    prefix: String,
    user_email: String,
    created_at: chrono::DateTime<chrono::Utc>,
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<TokenRow> for ApiTokenView {
    fn from(r: TokenRow) -> Self {
        ApiTokenView {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            user_email: r.user_email,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

pub async fn create(
    pool: &PgPool,
    portal_id: Uuid,
    user_id: Uuid,
    name: &str,
) -> Result<CreatedApiToken, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            "name",
            "Give the token a name of 1 to 100 characters, e.g. the script that will use it.",
        ));
    }
    let secret = generate_secret();
    let prefix: String = secret.chars().take(VISIBLE).collect();
    let row: TokenRow = sqlx::query_as(
        "WITH t AS (
            INSERT INTO api_tokens (portal_id, user_id, name, prefix, token_hash)
            SELECT $1, u.id, $3, $4, $5 FROM users u WHERE u.id = $2 AND u.portal_id = $1
            RETURNING id, name, prefix, user_id, created_at, last_used_at)
         SELECT t.id, t.name, t.prefix, u.email AS user_email, t.created_at, t.last_used_at
         FROM t JOIN users u ON u.id = t.user_id",
    )
    .bind(portal_id)
    .bind(user_id)
    .bind(name)
    .bind(&prefix)
    .bind(hash(&secret))
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found("The user"))?;
    Ok(CreatedApiToken {
        token: row.into(),
        secret,
    })
}

pub async fn list(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<Vec<ApiTokenView>> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.prefix, u.email AS user_email, t.created_at, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.portal_id = $1 AND t.revoked_at IS NULL
         ORDER BY t.created_at DESC",
    )
    .bind(portal_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn revoke(pool: &PgPool, portal_id: Uuid, token_id: Uuid) -> Result<(), ApiError> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE id = $1 AND portal_id = $2 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(portal_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("The token"));
    }
    Ok(())
}

/// Resolves a Bearer secret to its user; revoked and unknown tokens are 401.
pub async fn authenticate(pool: &PgPool, secret: &str) -> Result<Principal, ApiError> {
    let invalid = || {
        ApiError::new(
            401,
            "invalid_token",
            "This API token is not valid or was revoked.",
        )
        .with_hint("Create a new one in Settings → Private app tokens.")
    };
    if !secret.starts_with(PREFIX) {
        return Err(invalid());
    }
    // `last_used_at` is refreshed at most once a minute, so busy scripts do not write on
    // every call.
    let found: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE api_tokens SET last_used_at = CASE
             WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute' THEN now()
             ELSE last_used_at END
         WHERE token_hash = $1 AND revoked_at IS NULL
         RETURNING id, user_id",
    )
    .bind(hash(secret))
    .fetch_optional(pool)
    .await?;
    let (token_id, user_id) = found.ok_or_else(invalid)?;
    users::principal(pool, user_id, AuthVia::Token(token_id))
        .await?
        .ok_or_else(invalid)
}
