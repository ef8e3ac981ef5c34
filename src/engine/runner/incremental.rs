//! The incremental flows once a sync listens: hub changes, app changes, retries of
//! failed records and recreating deleted ones.

use super::apply::{process, Finish};
use super::{
    app_page_items, complete, complete_items, match_records, BatchError, Item, Outcome, Run, Stop,
    PAGE,
};
use crate::connectors::{AppRecord, ConnectorError};
use crate::engine::hub_side;
use crate::engine::index::{self, IndexRow};
use crate::engine::plan::Side;
use crate::engine::queue;
use crate::engine::queue::Job;
use crate::hub::{changes, WriteOrigin};
use std::collections::HashMap;
use std::time::Duration;

/// Hub changes read per run.
const FEED_CHUNK: i64 = 500;

/// Hub changes since the sync's position (its own writes skipped: they are echoes).
pub async fn hub_changes(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let own = WriteOrigin::Sync(sync.id);
    let feed = changes::read_after_skipping(
        run.pool,
        sync.portal_id,
        sync.hub_feed_position,
        FEED_CHUNK,
        &own,
    )
    .await?;
    if feed.reached <= sync.hub_feed_position {
        return complete(run.pool, job).await;
    }
    let mut ids: Vec<i64> = feed
        .changes
        .iter()
        .filter(|c| c.object == run.hub_object)
        .map(|c| c.record_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let items = if ids.is_empty() {
        Vec::new()
    } else {
        items_for_hub_ids(run, &ids).await?
    };
    let done = !feed.more;
    process(
        run,
        job,
        items,
        Finish::HubFeed {
            last: feed.reached,
            done,
        },
    )
    .await?;
    Ok(if done {
        Outcome::Done
    } else {
        Outcome::Continue
    })
}

async fn items_for_hub_ids(run: &Run<'_>, ids: &[i64]) -> Result<Vec<Item>, BatchError> {
    let mut conn = run.pool.acquire().await?;
    let rows: HashMap<i64, IndexRow> = index::by_hub_ids(&mut conn, run.sync.id, ids)
        .await?
        .into_iter()
        .filter_map(|r| r.hub_id.map(|h| (h, r)))
        .collect();
    let hubs = hub_side::get_many(run.pool, run.sync.portal_id, run.hub_object, ids).await?;
    let mut paired = Vec::new();
    let mut fresh = Vec::new();
    for h in hubs {
        match rows.get(&h.id) {
            Some(r) if r.app_id.is_some() => paired.push(Item {
                row: Some(r.clone()),
                hub: Some(h),
                ..Default::default()
            }),
            other => fresh.push((other.cloned(), Some(h), None)),
        }
    }
    let mut items = match_records(&mut conn, run.sync, Side::Hub, fresh).await?;
    drop(conn);
    items.extend(paired);
    complete_items(run, &mut items).await?;
    Ok(items)
}

/// App changes since the sync's cursor: the app's change feed is the truth; webhooks
/// only say "look now", so dropped, duplicated or reordered deliveries change nothing.
/// A cursor the app no longer accepts turns the job into a relisting (below).
pub async fn app_changes(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    if let Some(relist) = job.payload.get(RELIST) {
        let relist: Relist = serde_json::from_value(relist.clone())
            .map_err(|e| BatchError::new(Stop::Retry, format!("relist position: {e}")))?;
        return relisting(run, job, relist).await;
    }
    if !run.capabilities.change_feed {
        // No feed to read: the listing, compared with the index, is the change set.
        return start_relisting(run, job).await;
    }
    // The database's clock, as the queued marks use it.
    let read_at = index::clock(&mut *run.pool.acquire().await?).await?;
    let page = match run
        .connector
        .changes(&sync.app_object, sync.app_feed_cursor.as_deref(), PAGE)
        .await
    {
        Err(ConnectorError::CursorExpired { message }) => {
            tracing::warn!(sync_id = %sync.id, %message, "change cursor expired: listing the app again");
            return start_relisting(run, job).await;
        }
        other => other?,
    };
    let items = app_items(run, page.records).await?;
    let more = page.has_more;
    process(
        run,
        job,
        items,
        Finish::AppFeed {
            cursor: page.cursor.clone(),
            more,
            read_at,
        },
    )
    .await?;
    Ok(if more {
        Outcome::Continue
    } else {
        Outcome::Done
    })
}

/// Turns the job into a relisting (below), from the first page.
async fn start_relisting(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    // Changes made while the listing runs are read after it, from here.
    let token = run
        .connector
        .latest_change_cursor(&run.sync.app_object)
        .await?;
    let mut tx = run.pool.begin().await?;
    index::relist_forget(&mut tx, run.sync.id).await?;
    let relist = Relist { token, page: None };
    queue::set_payload(&mut tx, job, RELIST, &serde_json::json!(relist)).await?;
    queue::release(&mut tx, job, Duration::ZERO, None, true).await?;
    tx.commit().await?;
    Ok(Outcome::Continue)
}

/// The payload key of an app-changes job that lists the app again.
const RELIST: &str = "relist";

/// Where a relisting is: the app's listing cursor of the next page, and the change
/// cursor to follow once it is done (taken before it started, so nothing is missed).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Relist {
    token: String,
    page: Option<String>,
}

/// One page of the app's listing, compared with the index as the initial sync does.
/// After the last page, the paired records the app no longer lists are its deletions.
async fn relisting(run: &Run<'_>, job: &Job, relist: Relist) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let read_at = index::clock(&mut *run.pool.acquire().await?).await?;
    let page = run
        .connector
        .list(&sync.app_object, relist.page.as_deref(), PAGE)
        .await?;
    let listed: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
    index::relist_seen(&mut *run.pool.acquire().await?, sync.id, &listed).await?;
    let mut records = page.records;
    let finish = match page.next_cursor {
        Some(next) => Finish::Payload {
            key: RELIST,
            value: serde_json::json!(Relist {
                token: relist.token,
                page: Some(next),
            }),
        },
        None => {
            let gone = index::relist_unseen(&mut *run.pool.acquire().await?, sync.id).await?;
            records.extend(gone.into_iter().map(|app_id| AppRecord {
                id: app_id,
                properties: Default::default(),
                associations: Default::default(),
                updated_at: None,
                deleted: true,
            }));
            Finish::AppFeed {
                cursor: relist.token,
                more: false,
                read_at,
            }
        }
    };
    let done = matches!(finish, Finish::AppFeed { .. });
    let items = app_items(run, records).await?;
    process(run, job, items, finish).await?;
    Ok(if done {
        Outcome::Done
    } else {
        Outcome::Continue
    })
}

/// The app's records of one page as items: paired ones with their row, the others
/// matched against the index (deletions of unknown records are nothing to do).
async fn app_items(run: &Run<'_>, records: Vec<AppRecord>) -> Result<Vec<Item>, BatchError> {
    let sync = run.sync;
    let mut conn = run.pool.acquire().await?;
    let rows = index::by_app_id_map(&mut conn, sync.id, &records).await?;
    // The latest version of each record in this page.
    let mut latest: HashMap<String, AppRecord> = HashMap::new();
    for r in records {
        latest.insert(r.id.clone(), r);
    }
    let mut paired = Vec::new();
    let mut fresh = Vec::new();
    for (_, rec) in latest {
        match rows.get(&rec.id) {
            Some(row) if row.hub_id.is_some() => paired.push(Item {
                row: Some(row.clone()),
                app: Some(rec),
                ..Default::default()
            }),
            _ if rec.deleted => {}
            other => fresh.push((other.cloned(), None, Some(rec))),
        }
    }
    app_page_items(run, &mut conn, paired, fresh).await
}

/// Records whose failure may have been temporary, once their retry time has come.
pub async fn retry_failed(run: &Run<'_>, job: &Job, all: bool) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let after = job.after();
    let mut conn = run.pool.acquire().await?;
    let rows = index::failed_due(&mut conn, sync.id, all, after, PAGE as i64).await?;
    drop(conn);
    let Some(last) = rows.last().map(|r| r.id) else {
        return complete(run.pool, job).await;
    };
    let mut items = Item::of_rows(rows);
    complete_items(run, &mut items).await?;
    process(run, job, items, Finish::JobAfter { last }).await?;
    Ok(Outcome::Continue)
}

/// *Resync deleted records in hub / in app* and *Restore*: recreate the missing side of
/// deleted pairs (`payload.side` is where they were deleted; `payload.ids` limits it).
pub async fn resync_deleted(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let side = job
        .payload
        .get("side")
        .and_then(|v| v.as_str())
        .unwrap_or("hub")
        .to_string();
    let only: Option<Vec<i64>> = job
        .payload
        .get("ids")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let after = job.after();
    let mut conn = run.pool.acquire().await?;
    let rows = index::deleted_on(
        &mut conn,
        sync.id,
        &side,
        only.as_deref(),
        after,
        PAGE as i64,
    )
    .await?;
    drop(conn);
    let Some(last) = rows.last().map(|r| r.id) else {
        return complete(run.pool, job).await;
    };
    let mut items = Item::of_rows(rows);
    for it in &mut items {
        it.recreate = true;
    }
    complete_items(run, &mut items).await?;
    // The deleted side's old id is gone; the decision creates a new record there.
    for it in &mut items {
        if side == "hub" {
            if it.hub.as_ref().is_some_and(|h| h.archived) {
                it.hub = None;
            }
            if let Some(r) = it.row.as_mut() {
                r.hub_id = None;
            }
        } else if let Some(r) = it.row.as_mut() {
            r.app_id = None;
            it.app = None;
        }
    }
    process(run, job, items, Finish::JobAfter { last }).await?;
    Ok(Outcome::Continue)
}
