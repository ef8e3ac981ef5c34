//! `POST /webhooks/{connection_id}`: deliveries from connected apps. The signature and
//! timestamp are verified by the app's definition; rejected calls write nothing.
//! Accepted deliveries are stored durably (deduplicated by delivery id) before we answer
//! 2xx, then `NOTIFY webhook_deliveries` wakes the engine.

use crate::connectors::registry;
use crate::connectors::webhook::{WebhookRejection, MAX_BODY_BYTES};
use crate::model::ConnectionStatus;
use crate::platform::connections;
use crate::platform::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use uuid::Uuid;

fn refuse(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({ "status": "error", "code": code, "message": message })),
    )
        .into_response()
}

/// 503 after a failure of Tandem's own (logged as `what`): the app should retry.
fn unavailable(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    refuse(
        503,
        "unavailable",
        "Tandem cannot store deliveries right now; retry later.",
    )
}

fn rejection(r: WebhookRejection) -> Response {
    let code = match r {
        WebhookRejection::MissingSignature | WebhookRejection::BadSignature => "bad_signature",
        WebhookRejection::Stale { .. } => "stale",
        WebhookRejection::TooLarge => "too_large",
        WebhookRejection::TooManySignatures | WebhookRejection::Malformed(_) => "malformed",
    };
    refuse(r.status(), code, &r.to_string())
}

/// Bodies larger than this are verified and parsed on the blocking pool.
const VERIFY_INLINE_BYTES: usize = 64 << 10;

#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate,
}

/// Stores a verified delivery once; a second copy of the same delivery id is a no-op.
pub async fn store(
    pool: &sqlx::PgPool,
    connection_id: Uuid,
    notice: &crate::connectors::WebhookNotice,
    body: &serde_json::Value,
) -> sqlx::Result<Stored> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (connection_id, delivery_id, notice, body)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (connection_id, delivery_id) DO NOTHING
         RETURNING id",
    )
    .bind(connection_id)
    .bind(&notice.delivery_id)
    .bind(sqlx::types::Json(notice))
    .bind(body)
    .fetch_optional(&mut *tx)
    .await?;
    if let (Some(_), crate::connectors::WebhookKind::RecordChanged { object, id, .. }) =
        (id, &notice.kind)
    {
        queue_record(&mut tx, connection_id, object, id).await?;
    }
    if let Some(id) = id {
        sqlx::query("SELECT pg_notify('webhook_deliveries', $1)")
            .bind(format!("{connection_id}:{id}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id.map(Stored::New).unwrap_or(Stored::Duplicate))
}

/// Shows the record as queued in its syncs, committed with the delivery and its NOTIFY,
/// so the job that notice wakes reads the feed after the mark (and clears it). Never
/// worth refusing a delivery for: a mark that would wait on a busy sync is skipped.
async fn queue_record(
    tx: &mut sqlx::PgConnection,
    connection_id: Uuid,
    object: &str,
    app_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("SAVEPOINT queue_record")
        .execute(&mut *tx)
        .await?;
    // Below the deadlock timeout (1 s): a wait on a job's counters gives up first.
    sqlx::query("SET LOCAL lock_timeout = '300ms'")
        .execute(&mut *tx)
        .await?;
    match crate::engine::index::mark_queued(tx, connection_id, object, app_id).await {
        Ok(()) => {
            sqlx::query("RELEASE SAVEPOINT queue_record")
                .execute(&mut *tx)
                .await?
        }
        Err(e) => {
            tracing::debug!(error = %e, "record not shown as queued");
            sqlx::query("ROLLBACK TO SAVEPOINT queue_record")
                .execute(&mut *tx)
                .await?
        }
    };
    Ok(())
}

pub async fn receive(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(connection_id) = Uuid::parse_str(&connection_id) else {
        return refuse(404, "not_found", "No such webhook endpoint.");
    };
    // Read at most one byte past the limit: enough to know it is too large.
    let bytes = match to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(b) if b.len() <= MAX_BODY_BYTES => b,
        _ => return rejection(WebhookRejection::TooLarge),
    };
    let target =
        match connections::webhook_target(&state.pool, &state.secret_key, connection_id).await {
            Ok(Some(t)) => t,
            Ok(None) => return refuse(404, "not_found", "No such webhook endpoint."),
            Err(e) => return unavailable("webhook target lookup failed", e),
        };
    let (Some(secret), ConnectionStatus::Connected | ConnectionStatus::NeedsReconnect) =
        (target.secret, target.status)
    else {
        return refuse(
            410,
            "gone",
            "This connection is disconnected; the subscription should be removed.",
        );
    };
    let Some(def) = registry::app_definition(&state.config.apps, &target.app) else {
        return refuse(404, "not_found", "No such webhook endpoint.");
    };
    let now = chrono::Utc::now();
    // Hashing and parsing a large body would hold an async worker for milliseconds.
    let off_thread = bytes.len() > VERIFY_INLINE_BYTES;
    let check = move || {
        let notice = def.verify_webhook(&secret, &headers, &bytes, now)?;
        let raw: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| WebhookRejection::Malformed(e.to_string()))?;
        Ok::<_, WebhookRejection>((notice, raw))
    };
    let checked = if off_thread {
        match tokio::task::spawn_blocking(check).await {
            Ok(checked) => checked,
            Err(e) => return unavailable("webhook verification did not finish", e),
        }
    } else {
        check()
    };
    let (notice, raw) = match checked {
        Ok(checked) => checked,
        Err(r) => return rejection(r),
    };
    match store(&state.pool, connection_id, &notice, &raw).await {
        Ok(Stored::New(_)) => {
            // Listeners pick it up from the NOTIFY; this makes the engine look now even
            // when no worker listens (e.g. only `tandem worker` processes are running).
            let _ = crate::engine::worker::enqueue_app_work(&state.pool, connection_id).await;
            (StatusCode::OK, Json(json!({ "status": "stored" }))).into_response()
        }
        Ok(Stored::Duplicate) => {
            (StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response()
        }
        Err(e) => unavailable("storing a webhook delivery failed", e),
    }
}
