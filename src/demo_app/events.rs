//! Email events of contacts (opens and clicks): stored with a value of the account's
//! change sequence, served as a feed with a cursor, and sent as webhooks.

use super::records::{rfc3339, Sequence};
use super::webhooks;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

pub const TYPES: [&str; 2] = ["email.opened", "email.clicked"];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailEvent {
    pub id: i64,
    pub contact_id: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub properties: Json<Map<String, Value>>,
    pub seq: i64,
}

impl EmailEvent {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "contact_id": self.contact_id.to_string(),
            "occurred_at": rfc3339(self.occurred_at),
            "properties": self.properties.0,
        })
    }
}

/// Records an event of a live contact; `None` when the contact does not exist.
pub async fn create(
    pool: &PgPool,
    account_id: Option<i64>,
    contact_id: i64,
    kind: &str,
    properties: Map<String, Value>,
    occurred_at: Option<DateTime<Utc>>,
) -> anyhow::Result<Option<EmailEvent>> {
    // Events posted by an admin name only the contact; its account follows from it.
    let account: Option<i64> = sqlx::query_scalar(
        "SELECT account_id FROM records WHERE id = $1 AND object = 'contacts' AND NOT archived
            AND ($2::bigint IS NULL OR account_id = $2)",
    )
    .bind(contact_id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    let Some(account_id) = account else {
        return Ok(None);
    };
    let mut tx = pool.begin().await?;
    let mut seq = Sequence::lock(&mut tx, account_id).await?;
    let event = insert(
        &mut tx,
        account_id,
        contact_id,
        kind,
        &properties,
        occurred_at,
        seq.advance(),
    )
    .await?;
    webhooks::enqueue(
        &mut tx,
        account_id,
        kind,
        "events",
        &event.id.to_string(),
        event.occurred_at,
        event.to_json(),
    )
    .await?;
    seq.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(event))
}

pub async fn insert(
    conn: &mut PgConnection,
    account_id: i64,
    contact_id: i64,
    kind: &str,
    properties: &Map<String, Value>,
    occurred_at: Option<DateTime<Utc>>,
    seq: i64,
) -> sqlx::Result<EmailEvent> {
    sqlx::query_as(
        "INSERT INTO email_events (account_id, contact_id, type, properties, occurred_at, seq)
         VALUES ($1, $2, $3, $4, coalesce($5, now()), $6)
         RETURNING id, contact_id, type, occurred_at, properties, seq",
    )
    .bind(account_id)
    .bind(contact_id)
    .bind(kind)
    .bind(Json(properties))
    .bind(occurred_at)
    .bind(seq)
    .fetch_one(&mut *conn)
    .await
}

/// Events after `after_seq` (in the order they were recorded), optionally only those
/// that occurred at or after `since`.
pub async fn feed(
    pool: &PgPool,
    account_id: i64,
    after_seq: i64,
    since: Option<DateTime<Utc>>,
    limit: i64,
) -> sqlx::Result<Vec<EmailEvent>> {
    sqlx::query_as(
        "SELECT id, contact_id, type, occurred_at, properties, seq FROM email_events
          WHERE account_id = $1 AND seq > $2 AND ($3::timestamptz IS NULL OR occurred_at >= $3)
          ORDER BY seq LIMIT $4",
    )
    .bind(account_id)
    .bind(after_seq)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The latest events of one contact, for its page.
pub async fn of_contact(
    pool: &PgPool,
    contact_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<EmailEvent>> {
    sqlx::query_as(
        "SELECT id, contact_id, type, occurred_at, properties, seq FROM email_events
          WHERE contact_id = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(contact_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
