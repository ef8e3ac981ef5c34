//! Incoming change notices (verified webhook deliveries) have one owner: here, in one
//! commit, each delivery is stored once by its id, the records it names show as queued
//! in their syncs, and the syncs listening to the connection get a job to read the
//! app's changes (the change feed stays the truth; a notice only says "look now").

use super::definition;
use super::queue::{self, NewJob};
use super::runner;
use crate::connectors::{WebhookKind, WebhookNotice};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Stores the notices of one delivery body; answers how many were new (a delivery sent
/// again is stored once and wakes nothing).
pub async fn receive(
    pool: &PgPool,
    connection_id: Uuid,
    notices: &[WebhookNotice],
    body: &serde_json::Value,
) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let mut new = 0;
    for notice in notices {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO webhook_deliveries (connection_id, delivery_id, notice, body, processed_at)
             VALUES ($1, $2, $3, $4, now())
             ON CONFLICT (connection_id, delivery_id) DO NOTHING
             RETURNING id",
        )
        .bind(connection_id)
        .bind(&notice.delivery_id)
        .bind(sqlx::types::Json(notice))
        .bind(body)
        .fetch_optional(&mut *tx)
        .await?;
        if id.is_none() {
            continue;
        }
        new += 1;
        if let WebhookKind::RecordChanged { object, id, .. } = &notice.kind {
            queue_record(&mut tx, connection_id, object, id).await?;
        }
    }
    if new > 0 {
        enqueue_app_work(&mut tx, connection_id).await?;
    }
    tx.commit().await?;
    Ok(new)
}

/// The syncs listening to a connection look at its app's changes (and events) now.
pub async fn enqueue_app_work(conn: &mut PgConnection, connection_id: Uuid) -> sqlx::Result<()> {
    for sync in definition::listening_for_connection(&mut *conn, connection_id).await? {
        queue::enqueue(&mut *conn, NewJob::new(runner::APP_CHANGES, sync.id)).await?;
        if sync.event_sync {
            queue::enqueue(&mut *conn, NewJob::new(runner::EVENTS, sync.id)).await?;
        }
    }
    Ok(())
}

/// Shows the record as queued in its syncs, committed with the delivery and its job, so
/// the job reads the feed after the mark (and clears it). Never worth refusing a
/// delivery for: a mark that would wait on a busy sync is skipped.
async fn queue_record(
    tx: &mut PgConnection,
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
    match super::index::mark_queued(tx, connection_id, object, app_id).await {
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
