//! The notification centre: per-user messages (sync completed, export ready, app needs
//! reconnecting), with an unread count for the bell.

use crate::model::{NotificationList, NotificationView};
use sqlx::PgPool;
use uuid::Uuid;

pub struct NewNotification<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub link: Option<&'a str>,
}

/// Sends one notification to every Super Admin of the portal.
pub async fn notify_admins(
    pool: &PgPool,
    portal_id: Uuid,
    n: NewNotification<'_>,
) -> sqlx::Result<u64> {
    insert(pool, portal_id, None, n).await
}

/// Sends one notification to one user of the portal (an export they asked for).
pub async fn notify_user(
    pool: &PgPool,
    portal_id: Uuid,
    user_id: Uuid,
    n: NewNotification<'_>,
) -> sqlx::Result<u64> {
    insert(pool, portal_id, Some(user_id), n).await
}

/// One row per recipient: the user given, or else every Super Admin of the portal.
async fn insert(
    pool: &PgPool,
    portal_id: Uuid,
    user_id: Option<Uuid>,
    n: NewNotification<'_>,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "INSERT INTO notifications (portal_id, user_id, kind, title, body, link)
         SELECT portal_id, id, $3, $4, $5, $6 FROM users
         WHERE portal_id = $1 AND CASE WHEN $2::uuid IS NULL THEN role = 'super_admin' ELSE id = $2 END",
    )
    .bind(portal_id)
    .bind(user_id)
    .bind(n.kind)
    .bind(n.title)
    .bind(n.body)
    .bind(n.link)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    kind: String,
    title: String,
    body: String,
    link: Option<String>,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
    created_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list(pool: &PgPool, user_id: Uuid, limit: i64) -> sqlx::Result<NotificationList> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, title, body, link, read_at, created_at FROM notifications
         WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let unread: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    Ok(NotificationList {
        unread,
        items: rows
            .into_iter()
            .map(|r| NotificationView {
                id: r.id,
                kind: r.kind,
                title: r.title,
                body: r.body,
                link: r.link,
                read: r.read_at.is_some(),
                created_at: r.created_at,
            })
            .collect(),
    })
}

pub async fn mark_all_read(pool: &PgPool, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}
