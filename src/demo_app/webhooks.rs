//! Webhooks: subscriptions, the durable outbox every change writes to in its own
//! transaction, and the background worker that delivers it — signed with
//! `X-Demo-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, retried
//! with exponential backoff on non-2xx answers and timeouts (at least once: receivers
//! see duplicates and reordering, as with real apps).

use super::records::{rfc3339, Record};
use super::DemoState;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-Demo-Signature";
pub const DELIVERY_HEADER: &str = "X-Demo-Delivery";

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "url": self.url,
            "events": ["*"],
            "created_at": rfc3339(self.created_at),
        })
    }
}

/// Checks a subscription request; returns the URL and secret to store, or what is wrong.
pub fn check_subscription(url: &str, secret: Option<&str>) -> Result<(String, String), String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|_| format!("`{url}` is not an absolute URL (expected https://host/path)."))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("`{url}` must be an http:// or https:// URL."));
    }
    let secret = match secret.map(str::trim) {
        Some(s) if s.is_empty() || s.len() > 200 => return Err(
            "The secret must have 1 to 200 characters (or leave it out to get a generated one)."
                .into(),
        ),
        Some(s) => s.to_string(),
        None => format!(
            "whsec_{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
        ),
    };
    Ok((parsed.to_string(), secret))
}

pub async fn subscribe(
    pool: &PgPool,
    account_id: i64,
    url: &str,
    secret: &str,
) -> sqlx::Result<Subscription> {
    sqlx::query_as("INSERT INTO webhook_subscriptions (account_id, url, secret) VALUES ($1, $2, $3) RETURNING id, url, created_at")
        .bind(account_id)
        .bind(url)
        .bind(secret)
        .fetch_one(pool)
        .await
}

pub async fn subscriptions(pool: &PgPool, account_id: i64) -> sqlx::Result<Vec<Subscription>> {
    sqlx::query_as(
        "SELECT id, url, created_at FROM webhook_subscriptions WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// Ends a subscription; its undelivered deliveries are abandoned. `false` if unknown.
pub async fn unsubscribe(pool: &PgPool, account_id: i64, id: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE webhook_subscriptions SET deleted_at = now() WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET failed_at = now(), last_error = 'subscription deleted'
          WHERE subscription_id = $1 AND delivered_at IS NULL AND failed_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// Queues one event for every subscription of the account (in the caller's transaction).
pub async fn enqueue(
    conn: &mut PgConnection,
    account_id: i64,
    kind: &str,
    object: &str,
    object_id: &str,
    occurred_at: DateTime<Utc>,
    data: Value,
) -> sqlx::Result<()> {
    let payload = json!({
        "account_id": account_id.to_string(),
        "type": kind,
        "object": object,
        "object_id": object_id,
        "occurred_at": rfc3339(occurred_at),
        "data": data,
    });
    sqlx::query(
        "INSERT INTO webhook_deliveries (subscription_id, account_id, payload)
         SELECT id, account_id, $2 FROM webhook_subscriptions WHERE account_id = $1 AND deleted_at IS NULL",
    )
    .bind(account_id)
    .bind(Json(payload))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `contact.created`, `deal.updated`, `invoice.deleted`… with the record as data.
pub async fn enqueue_record(
    conn: &mut PgConnection,
    account_id: i64,
    record: &Record,
    change: &str,
) -> sqlx::Result<()> {
    enqueue(
        conn,
        account_id,
        &format!("{}.{change}", record.object.singular()),
        record.object.as_str(),
        &record.id.to_string(),
        record.updated_at,
        record.to_json(),
    )
    .await
}

pub async fn pending_count(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL",
    )
    .fetch_one(pool)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct DeliveryView {
    pub delivery_id: uuid::Uuid,
    pub subscription_id: i64,
    pub kind: String,
    pub attempts: i32,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub dropped: bool,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The latest deliveries of an account, for its webhooks page.
pub async fn recent_deliveries(
    pool: &PgPool,
    account_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryView>> {
    sqlx::query_as(
        "SELECT delivery_id, subscription_id, payload ->> 'type' AS kind, attempts, delivered_at, failed_at, dropped,
                last_status, last_error, created_at
           FROM webhook_deliveries WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    delivery_id: uuid::Uuid,
    subscription_id: i64,
    payload: Json<Value>,
    attempts: i32,
    url: String,
    secret: String,
    subscription_deleted: bool,
}

/// How many deliveries one worker round claims.
const CLAIM: i64 = 32;

/// Delivers what is due now; returns how many deliveries it handled. Several workers
/// (or processes) can run this at once: claims skip rows another one holds, and a
/// claim is a lease that expires, so a crashed worker's deliveries are retried.
pub async fn deliver_due(state: &DemoState) -> sqlx::Result<usize> {
    let faults = state.faults();
    let lease = state.config.webhook_timeout * 2
        + Duration::from_millis(faults.webhook_delay_ms)
        + Duration::from_secs(30);
    let claimed: Vec<Claimed> = sqlx::query_as(
        "WITH due AS (
            SELECT id FROM webhook_deliveries
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
               AND (locked_until IS NULL OR locked_until < now())
             ORDER BY next_attempt_at, id
             LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries d
            SET attempts = d.attempts + 1, locked_until = now() + make_interval(secs => $2)
           FROM due, webhook_subscriptions s
          WHERE d.id = due.id AND s.id = d.subscription_id
         RETURNING d.id, d.delivery_id, d.subscription_id, d.payload, d.attempts, s.url, s.secret,
                   s.deleted_at IS NOT NULL AS subscription_deleted",
    )
    .bind(CLAIM)
    .bind(lease.as_secs_f64())
    .fetch_all(&state.pool)
    .await?;
    let n = claimed.len();
    let results =
        futures::future::join_all(claimed.into_iter().map(|c| deliver_one(state, c))).await;
    for r in results {
        r?;
    }
    Ok(n)
}

enum Outcome {
    Delivered(u16),
    Dropped,
    Failed { status: Option<u16>, error: String },
}

async fn deliver_one(state: &DemoState, c: Claimed) -> sqlx::Result<()> {
    let stats = &state.stats.webhooks;
    let outcome = if c.subscription_deleted {
        Outcome::Failed {
            status: None,
            error: "subscription deleted".into(),
        }
    } else {
        let faults = state.faults();
        if faults.webhook_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.webhook_delay_ms)).await;
        }
        let (drop, duplicate) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_bool(faults.webhook_drop_rate.clamp(0.0, 1.0)),
                rng.gen_bool(faults.webhook_duplicate_rate.clamp(0.0, 1.0)),
            )
        };
        if drop {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            Outcome::Dropped
        } else {
            let mut payload = c.payload.0.clone();
            payload["delivery_id"] = json!(c.delivery_id.to_string());
            payload["subscription_id"] = json!(c.subscription_id.to_string());
            let body = serde_json::to_vec(&payload).unwrap_or_default();
            let first = send(state, &c, &body).await;
            if duplicate {
                stats.duplicated.fetch_add(1, Ordering::Relaxed);
                let _ = send(state, &c, &body).await;
            }
            first
        }
    };
    match outcome {
        Outcome::Delivered(status) => {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            sqlx::query(
                "UPDATE webhook_deliveries SET delivered_at = now(), last_status = $2, last_error = NULL, locked_until = NULL
                  WHERE id = $1",
            )
            .bind(c.id)
            .bind(status as i32)
            .execute(&state.pool)
            .await?;
        }
        Outcome::Dropped => {
            sqlx::query("UPDATE webhook_deliveries SET delivered_at = now(), dropped = true, locked_until = NULL WHERE id = $1")
                .bind(c.id)
                .execute(&state.pool)
                .await?;
        }
        Outcome::Failed { status, error } => {
            let give_up = c.subscription_deleted || c.attempts >= state.config.webhook_max_attempts;
            if give_up {
                stats.gave_up.fetch_add(1, Ordering::Relaxed);
            }
            let wait = backoff(state.config.webhook_retry_base, c.attempts);
            sqlx::query(
                "UPDATE webhook_deliveries
                    SET last_status = $2, last_error = $3, locked_until = NULL,
                        failed_at = CASE WHEN $4 THEN now() END,
                        next_attempt_at = now() + make_interval(secs => $5)
                  WHERE id = $1",
            )
            .bind(c.id)
            .bind(status.map(i32::from))
            .bind(error)
            .bind(give_up)
            .bind(wait.as_secs_f64())
            .execute(&state.pool)
            .await?;
        }
    }
    Ok(())
}

/// `base × 2^(attempt-1)`, plus up to 20 % jitter, at most an hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 20).saturating_sub(1) as u32);
    let capped = exp.min(Duration::from_secs(3600));
    let jitter = rand::thread_rng().gen_range(0.0..0.2);
    capped.mul_f64(1.0 + jitter)
}

async fn send(state: &DemoState, c: &Claimed, body: &[u8]) -> Outcome {
    let stats = &state.stats.webhooks;
    stats.attempts.fetch_add(1, Ordering::Relaxed);
    let t = Utc::now().timestamp();
    let result = state
        .http
        .post(&c.url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&c.secret, t, body))
        .header(DELIVERY_HEADER, c.delivery_id.to_string())
        .body(body.to_vec())
        .send()
        .await;
    match result {
        Ok(res) if res.status().is_success() => Outcome::Delivered(res.status().as_u16()),
        Ok(res) => {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            Outcome::Failed {
                status: Some(res.status().as_u16()),
                error: format!("the receiver answered {}", res.status()),
            }
        }
        Err(e) => {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            Outcome::Failed {
                status: None,
                error: if e.is_timeout() {
                    "timed out".into()
                } else {
                    format!("request failed: {e}")
                },
            }
        }
    }
}

/// The delivery loop: runs until the pool is closed.
pub async fn run_worker(state: DemoState) {
    loop {
        match deliver_due(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!(error = %e, "webhook delivery round failed"),
        }
        tokio::select! {
            _ = state.webhook_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // Reference value computed independently (Python: hmac.new(b"s3cret", b"1700000000.{}", sha256)).
        assert_eq!(
            signature("s3cret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
        assert_ne!(signature("a", 1, b"x"), signature("b", 1, b"x"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(1);
        assert!(
            backoff(base, 1) >= Duration::from_secs(1)
                && backoff(base, 1) < Duration::from_millis(1200)
        );
        assert!(
            backoff(base, 4) >= Duration::from_secs(8)
                && backoff(base, 4) < Duration::from_millis(9600)
        );
        assert!(backoff(base, 40) <= Duration::from_secs(4320));
    }

    #[test]
    fn subscriptions_need_an_http_url() {
        assert!(check_subscription("ftp://x", Some("s")).is_err());
        assert!(check_subscription("not a url", Some("s")).is_err());
        assert!(check_subscription("http://127.0.0.1:9/hook", Some("")).is_err());
        let (url, secret) = check_subscription("http://127.0.0.1:9/hook", None).unwrap();
        assert_eq!(url, "http://127.0.0.1:9/hook");
        assert!(secret.starts_with("whsec_"));
    }
}
