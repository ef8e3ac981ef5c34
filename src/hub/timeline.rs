//! Timeline events attached to records: email opened / clicked (written by event sync),
//! notes people add on the record page, anything else a sync reports.
//!
//! [`insert`] is what event sync calls. With an `external_id` it is idempotent per
//! source: the same event delivered twice by the same sync is stored once (the second
//! call answers the first event's id with `created: false`). Events may be added to
//! archived records (the contact exists in the hub), never to another portal's.
//! Timeline events do not go through the change feed: they never sync back.

use super::HubError;
use crate::model::crm::{ObjectType, TimelineEventView, WriteOrigin};
use crate::model::{FieldError, Refused};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

pub const MAX_TITLE: usize = 500;
pub const MAX_BODY: usize = 65_536;

/// An event to attach.
#[derive(Debug, Clone)]
pub struct NewTimelineEvent {
    /// `email_opened`, `email_clicked`, `note`… (lower-case, digits, `_`).
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub title: String,
    pub body: String,
    /// Free-form details (the email's subject, the link clicked…).
    pub properties: serde_json::Value,
    /// The source's id for the event, for idempotent inserts.
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    /// `false`: the event was there already (same source and external id).
    pub created: bool,
}

fn validate(e: &NewTimelineEvent) -> Result<(), HubError> {
    let mut errors = Vec::new();
    let kind_ok = e
        .kind
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && e.kind.len() <= 63
        && e.kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !kind_ok {
        errors.push(FieldError {
            field: "kind".into(),
            message:
                "The event kind uses a-z, 0-9 and _ and starts with a letter, e.g. email_opened."
                    .into(),
        });
    }
    if e.title.trim().is_empty() || e.title.chars().count() > MAX_TITLE {
        errors.push(FieldError {
            field: "title".into(),
            message: format!("Give the event a title of 1 to {MAX_TITLE} characters."),
        });
    }
    if e.body.chars().count() > MAX_BODY {
        errors.push(FieldError {
            field: "body".into(),
            message: format!("The text is longer than {MAX_BODY} characters."),
        });
    }
    if !e.properties.is_object() {
        errors.push(FieldError {
            field: "properties".into(),
            message: "Event properties are a JSON object.".into(),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refused::validation(errors).into())
    }
}

/// Attaches an event to a record of the portal (404 when there is none), on a pooled
/// connection or inside the caller's transaction (event sync).
pub async fn insert(
    conn: &mut sqlx::PgConnection,
    portal_id: Uuid,
    object: ObjectType,
    record_id: i64,
    event: &NewTimelineEvent,
    origin: &WriteOrigin,
) -> Result<Inserted, HubError> {
    validate(event)?;
    let source = origin.to_string();
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO hub_timeline_events (portal_id, object, record_id, kind, occurred_at, title, body, properties, source, external_id)
         SELECT $1, $2, r.id, $4, $5, $6, $7, $8, $9, $10
         FROM hub_records r WHERE r.portal_id = $1 AND r.object = $2 AND r.id = $3
         ON CONFLICT (portal_id, source, external_id) WHERE external_id IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .bind(record_id)
    .bind(&event.kind)
    .bind(event.occurred_at)
    .bind(event.title.trim())
    .bind(&event.body)
    .bind(&event.properties)
    .bind(&source)
    .bind(&event.external_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        return Ok(Inserted { id, created: true });
    }
    // Either the record is not there, or the event was stored before.
    let existing: Option<i64> = match &event.external_id {
        Some(ext) => sqlx::query_scalar(
            "SELECT e.id FROM hub_timeline_events e
             WHERE e.portal_id = $1 AND e.source = $2 AND e.external_id = $3
               AND EXISTS (SELECT 1 FROM hub_records r WHERE r.portal_id = $1 AND r.object = $4 AND r.id = $5)",
        )
        .bind(portal_id)
        .bind(&source)
        .bind(ext)
        .bind(object.as_str())
        .bind(record_id)
        .fetch_optional(&mut *conn)
        .await?,
        None => None,
    };
    existing
        .map(|id| Inserted { id, created: false })
        .ok_or_else(|| {
            Refused::missing(format!(
                "There is no {} with id {record_id}.",
                object.singular()
            ))
            .into()
        })
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    kind: String,
    occurred_at: DateTime<Utc>,
    title: String,
    body: String,
    properties: serde_json::Value,
    source: String,
}

/// A record's events, newest first.
pub async fn list(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    record_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<TimelineEventView>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, kind, occurred_at, title, body, properties, source FROM hub_timeline_events
         WHERE portal_id = $1 AND object = $2 AND record_id = $3
         ORDER BY occurred_at DESC, id DESC LIMIT $4",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .bind(record_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TimelineEventView {
            id: r.id,
            kind: r.kind,
            occurred_at: r.occurred_at,
            title: r.title,
            body: r.body,
            properties: r.properties,
            source: r.source.parse().unwrap_or(WriteOrigin::System),
        })
        .collect())
}
