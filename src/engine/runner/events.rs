//! Event sync: the app's engagement events become timeline events in the hub.

use super::{BatchError, Outcome, Run, PAGE};
use crate::connectors::EventKind;
use crate::engine::definition;
use crate::engine::index;
use crate::engine::queue::{self, Job};
use crate::hub::{timeline, ObjectType, WriteOrigin};
use std::collections::HashMap;
use std::time::Duration;

/// Event sync: email opens and clicks become timeline events on hub contacts that exist.
pub async fn events(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let page = run
        .connector
        .events(sync.events_cursor.as_deref(), PAGE)
        .await?;
    let contact_ids: Vec<String> = page.events.iter().map(|e| e.contact_id.clone()).collect();
    let mut tx = run.pool.begin().await?;
    let rows: HashMap<String, i64> = index::by_app_ids(&mut tx, sync.id, &contact_ids)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.app_id?, r.hub_id?)))
        .collect();
    let (mut synced, mut skipped) = (0i64, 0i64);
    for e in &page.events {
        let Some(hub_id) = rows.get(&e.contact_id) else {
            skipped += 1;
            continue;
        };
        let (kind, title) = match e.kind {
            EventKind::EmailOpened => ("email_opened", "Opened an email"),
            EventKind::EmailClicked => ("email_clicked", "Clicked a link in an email"),
        };
        let subject = e
            .properties
            .get("subject")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let event = timeline::NewTimelineEvent {
            kind: kind.into(),
            occurred_at: e.occurred_at,
            title: if subject.is_empty() {
                title.to_string()
            } else {
                format!("{title}: {subject}")
            },
            body: String::new(),
            properties: serde_json::Value::Object(e.properties.clone()),
            external_id: Some(format!("{}:{}", sync.connection_id, e.id)),
        };
        sqlx::query("SAVEPOINT event").execute(&mut *tx).await?;
        match timeline::insert(
            &mut tx,
            sync.portal_id,
            ObjectType::Contacts,
            *hub_id,
            &event,
            &WriteOrigin::Sync(sync.id),
        )
        .await
        {
            Ok(_) => synced += 1,
            Err(_) => {
                sqlx::query("ROLLBACK TO SAVEPOINT event")
                    .execute(&mut *tx)
                    .await?;
                skipped += 1;
            }
        }
    }
    definition::save_events(&mut tx, sync.id, &page.cursor, synced, skipped).await?;
    let ok = if page.has_more {
        queue::release(&mut tx, job, Duration::ZERO, None, true).await?
    } else {
        queue::complete(&mut tx, job).await?
    };
    if ok {
        tx.commit().await?;
    }
    Ok(if page.has_more {
        Outcome::Continue
    } else {
        Outcome::Done
    })
}
