//! Telling people: every admin of the portal hears when an initial sync completes, in
//! the notification centre and by email (when SMTP is configured).

use super::definition::SyncRow;
use crate::server::notifications::{notify_admins, NewNotification};
use crate::server::Config;
use sqlx::PgPool;

pub async fn initial_sync_completed(pool: &PgPool, config: &Config, sync: &SyncRow) {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, n FROM sync_counts WHERE sync_id = $1")
            .bind(sync.id)
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let n = |s: &str| {
        counts
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let app: Option<(String, String)> =
        sqlx::query_as("SELECT app, account_name FROM connections WHERE id = $1")
            .bind(sync.connection_id)
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
    let (app, account) = app.unwrap_or_default();
    let title = format!(
        "Initial sync of {} with {account} completed",
        sync.hub_object
    );
    let body = format!(
        "{} records are syncing, {} failed and {} are excluded. Tandem now listens for changes on both sides.",
        n("syncing"),
        n("failed"),
        n("excluded")
    );
    let link = format!(
        "/settings/integrations/connected-apps/{app}?sync={}",
        sync.id
    );
    if let Err(e) = notify_admins(
        pool,
        sync.portal_id,
        NewNotification {
            kind: "sync_completed",
            title: &title,
            body: &body,
            link: Some(&link),
        },
    )
    .await
    {
        tracing::warn!(error = %e, "notification failed");
    }
    send_admin_email(
        pool,
        config,
        sync.portal_id,
        &title,
        &format!("{body}\n\nOpen it: {}{link}", config.public_url),
    )
    .await;
}

/// Emails every Super Admin of the portal; a failure is logged, never fatal.
pub async fn send_admin_email(
    pool: &PgPool,
    config: &Config,
    portal_id: uuid::Uuid,
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
    if let Err(e) = crate::server::email::send(config, &to, subject, body).await {
        tracing::warn!(error = %e, "email failed");
    }
}
