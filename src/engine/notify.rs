//! Telling people: every admin of the portal hears when an initial sync completes and
//! when a sync is turned off by errors, in the notification centre and by email (when
//! SMTP is configured).

use super::definition::{self, SyncRow, TurnedOff};
use super::{index, queue};
use crate::model::SyncCounts;
use crate::platform::notifications::{notify_admins, NewNotification};
use crate::platform::Config;
use sqlx::PgPool;
use uuid::Uuid;

pub async fn initial_sync_completed(pool: &PgPool, config: &Config, sync: &SyncRow) {
    let counts = SyncCounts::from_rows(&index::counts(pool, sync.id).await.unwrap_or_default());
    let (app, account) = app_and_account(pool, sync.connection_id).await;
    let title = format!(
        "Initial sync of {} with {account} completed",
        sync.hub_object
    );
    let body = format!(
        "{} records are syncing, {} failed and {} are excluded. Tandem now listens for changes on both sides.",
        counts.syncing, counts.failed, counts.excluded
    );
    let link = sync_link(&app, sync.id);
    tell_admins(
        pool,
        config,
        sync.portal_id,
        "sync_completed",
        &title,
        &body,
        &link,
    )
    .await;
}

/// A sync that cannot work as set up (a missing permission, an app or object that is
/// gone) is turned off, its waiting jobs dropped, and every admin told why and what to do.
/// The index is kept: turning it on again starts where a person expects.
pub async fn turn_off_by_error(
    pool: &PgPool,
    config: &Config,
    sync_id: Uuid,
    error: &str,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let turned_off = definition::turn_off_by_error(&mut tx, sync_id, error).await?;
    queue::delete_for_sync(&mut tx, sync_id).await?;
    tx.commit().await?;
    let Some(TurnedOff {
        portal_id,
        connection_id,
        hub_object,
    }) = turned_off
    else {
        return Ok(());
    };
    let (app, account) = app_and_account(pool, connection_id).await;
    let title = format!("Sync of {hub_object} with {account} turned off by errors");
    let body = format!(
        "{error} Nothing was lost: the sync's records and history are kept. Fix the cause \
         (for a missing permission, reconnect the account and allow everything Tandem asks \
         for), then turn the sync on again from its More menu."
    );
    let link = sync_link(&app, sync_id);
    tell_admins(
        pool,
        config,
        portal_id,
        "sync_turned_off",
        &title,
        &body,
        &link,
    )
    .await;
    Ok(())
}

async fn app_and_account(pool: &PgPool, connection_id: Uuid) -> (String, String) {
    sqlx::query_as("SELECT app, account_name FROM connections WHERE id = $1")
        .bind(connection_id)
        .fetch_optional(pool)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn sync_link(app: &str, sync_id: Uuid) -> String {
    format!("/settings/integrations/connected-apps/{app}?sync={sync_id}")
}

/// In the notification centre and by email; a failure is logged, never fatal.
async fn tell_admins(
    pool: &PgPool,
    config: &Config,
    portal_id: Uuid,
    kind: &str,
    title: &str,
    body: &str,
    link: &str,
) {
    if let Err(e) = notify_admins(
        pool,
        portal_id,
        NewNotification {
            kind,
            title,
            body,
            link: Some(link),
        },
    )
    .await
    {
        tracing::warn!(error = %e, "notification failed");
    }
    send_admin_email(
        pool,
        config,
        portal_id,
        title,
        &format!("{body}\n\nOpen it: {}{link}", config.public_url),
    )
    .await;
}

/// Emails every Super Admin of the portal; a failure is logged, never fatal.
pub async fn send_admin_email(
    pool: &PgPool,
    config: &Config,
    portal_id: Uuid,
    subject: &str,
    body: &str,
) {
    if config.smtp_url.is_none() {
        return;
    }
    let to: Vec<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE portal_id = $1 AND role = 'super_admin'")
            .bind(portal_id)
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    if let Err(e) = crate::platform::email::send(config, &to, subject, body).await {
        tracing::warn!(error = %e, "email failed");
    }
}
