//! The initial sync, one step per job run: hub indexing (the hub's records and their
//! identifiers into the index), the app pass (every app record, matched against the
//! index and synced) and the hub pass (the hub records no app record matched).

use super::apply::{finish, process, Finish};
use super::{app_page_items, complete_items, BatchError, Item, Outcome, Run, PAGE};
use super::{APP_CHANGES, EVENTS, HUB_CHANGES};
use crate::connectors::AppRecord;
use crate::engine::definition::{self, Checkpoint, NextStep, Progress};
use crate::engine::hub_side;
use crate::engine::index;
use crate::engine::plan::{identifiers, Side};
use crate::engine::queue::{self, Job, NewJob};
use crate::hub::changes;
use crate::model::{InitialStep, RecordState};
use std::time::Duration;

/// Hub records indexed per step, app records per batch of the app pass.
const INDEX_CHUNK: i64 = 2000;
const APP_BATCH: usize = 1000;
/// How long a job of the initial sync goes on with batch after batch before it lets the
/// queue (and other jobs) have a turn.
const HOLD_FOR: Duration = Duration::from_secs(5);

/// One step of the initial sync (hub indexing, app pass or hub pass); the job comes back
/// until the last step is done.
pub async fn step(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let mut progress = sync.progress.0.clone();
    match sync.step {
        InitialStep::HubIndex => {
            let mut tx = run.pool.begin().await?;
            if sync.hub_checkpoint == 0 {
                // Changes made while the initial sync runs are replayed afterwards, from here.
                let position = changes::last_seq(run.pool, sync.portal_id).await?;
                let cursor = run.connector.latest_change_cursor(&sync.app_object).await?;
                definition::start_initial(&mut tx, sync, position, &cursor).await?;
                progress = Progress {
                    hub_total: hub_side::count(run.pool, sync.portal_id, run.hub_object).await?,
                    ..Default::default()
                };
            }
            let records = hub_side::scan(
                run.pool,
                sync.portal_id,
                run.hub_object,
                sync.hub_checkpoint,
                INDEX_CHUNK,
            )
            .await?;
            let rows: Vec<(i64, Vec<String>, String)> = records
                .iter()
                .map(|r| {
                    (
                        r.id,
                        index::keys_text(&identifiers(&sync.settings.0, Side::Hub, &r.values)),
                        r.label.clone(),
                    )
                })
                .collect();
            index::index_hub_records(&mut tx, sync.id, sync.generation, &rows).await?;
            progress.hub_indexed += records.len() as i64;
            let (next, last) = match records.last() {
                Some(r) => (NextStep::Stay, r.id),
                None => (NextStep::AppPass, 0),
            };
            let checkpoint = Checkpoint {
                hub: last,
                app: None,
                progress,
                next,
            };
            let ok = finish(
                &mut tx,
                job,
                sync,
                Finish::Step {
                    checkpoint,
                    hold: false,
                },
            )
            .await?;
            if ok {
                tx.commit().await?;
            }
            Ok(Outcome::Continue)
        }
        InitialStep::AppPass => app_pass(run, job, progress).await,
        InitialStep::HubPass => {
            let mut conn = run.pool.acquire().await?;
            let rows =
                index::undecided_hub_rows(&mut conn, sync.id, sync.hub_checkpoint, PAGE as i64)
                    .await?;
            if rows.is_empty() {
                drop(conn);
                return finish_initial(run, job).await;
            }
            let last = rows.last().map(|r| r.id).unwrap_or_default();
            let mut items = Item::of_rows(rows);
            drop(conn);
            complete_items(run, &mut items).await?;
            progress.hub_pass_done += items.len() as i64;
            let checkpoint = Checkpoint {
                hub: last,
                app: sync.app_checkpoint.clone(),
                progress,
                next: NextStep::Stay,
            };
            process(
                run,
                job,
                items,
                Finish::Step {
                    checkpoint,
                    hold: false,
                },
            )
            .await?;
            Ok(Outcome::Continue)
        }
        InitialStep::Done => finish_initial(run, job).await,
    }
}

/// A batch of app records for the app pass: several pages, and where to go on from.
struct AppBatch {
    records: Vec<AppRecord>,
    next_cursor: Option<String>,
}

async fn fetch_app_batch(run: &Run<'_>, cursor: Option<String>) -> Result<AppBatch, BatchError> {
    let mut batch = AppBatch {
        records: Vec::new(),
        next_cursor: cursor,
    };
    while batch.records.len() < APP_BATCH {
        let page = run
            .connector
            .list(&run.sync.app_object, batch.next_cursor.as_deref(), PAGE)
            .await?;
        batch.records.extend(page.records);
        batch.next_cursor = page.next_cursor;
        if batch.next_cursor.is_none() {
            break;
        }
    }
    Ok(batch)
}

/// The app pass: app records in batches of several pages, each matched against the index
/// and committed with the cursor after it. The next batch is fetched while one is
/// written, and the job keeps its lease for a few seconds of batches.
async fn app_pass(run: &Run<'_>, job: &Job, mut progress: Progress) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let until = std::time::Instant::now() + HOLD_FOR;
    let mut batch = fetch_app_batch(run, sync.app_checkpoint.clone()).await?;
    loop {
        let last = batch.next_cursor.is_none();
        let hold = !last && std::time::Instant::now() < until;
        let next = batch.next_cursor.clone();
        let checkpoint = next.clone();
        let seen = batch.records.len() as i64;
        let write = async {
            let items = app_items(run, batch.records).await?;
            progress.app_seen += seen;
            progress.app_estimate = progress
                .app_estimate
                .max(progress.app_seen + if last { 0 } else { PAGE as i64 });
            let next = if last {
                let mut conn = run.pool.acquire().await?;
                progress.hub_pass_total = index::undecided_count(&mut conn, sync.id).await?;
                progress.app_estimate = progress.app_seen;
                NextStep::HubPass
            } else {
                NextStep::Stay
            };
            let finish = Finish::Step {
                checkpoint: Checkpoint {
                    hub: 0,
                    app: checkpoint,
                    progress: progress.clone(),
                    next,
                },
                hold,
            };
            process(run, job, items, finish).await
        };
        let ((written, write_ms), fetched) = if hold {
            let (w, (f, fetch_ms)) = tokio::join!(timed(write), timed(fetch_app_batch(run, next)));
            (w, Some((f, fetch_ms)))
        } else {
            (timed(write).await, None)
        };
        // Where an initial sync's time goes: writing a batch, or waiting for the app.
        tracing::debug!(
            records = seen,
            write_ms,
            next_fetch_ms = fetched.as_ref().map(|(_, ms)| *ms),
            "app pass batch"
        );
        let fetched = fetched.map(|(f, _)| f);
        let committed = written?;
        match fetched {
            Some(f) if committed => batch = f?,
            _ => return Ok(Outcome::Continue),
        }
    }
}

/// Runs `f` and says how long it took, in ms.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, u64) {
    let started = std::time::Instant::now();
    let out = f.await;
    (out, started.elapsed().as_millis() as u64)
}

/// App records of the app pass as items: known pairs as they are, the others matched.
async fn app_items(run: &Run<'_>, records: Vec<AppRecord>) -> Result<Vec<Item>, BatchError> {
    let sync = run.sync;
    let mut conn = run.pool.acquire().await?;
    let known = index::by_app_id_map(&mut conn, sync.id, &records).await?;
    let mut paired = Vec::new();
    let mut fresh = Vec::new();
    for rec in records {
        match known.get(&rec.id) {
            Some(row) if row.is_paired() || row.state == RecordState::Deleted => {
                paired.push(Item {
                    row: Some(row.clone()),
                    app: Some(rec),
                    ..Default::default()
                })
            }
            // Seen before without a pair (excluded, failed): matched again under the current settings.
            other => fresh.push((other.cloned(), None, Some(rec))),
        }
    }
    app_page_items(run, &mut conn, paired, fresh).await
}

/// The initial sync is done: listen for changes, tell every admin.
async fn finish_initial(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let mut tx = run.pool.begin().await?;
    let completed = definition::complete_initial(&mut tx, sync).await?;
    if completed {
        // Whatever changed meanwhile is picked up now.
        for kind in [HUB_CHANGES, APP_CHANGES] {
            queue::enqueue(&mut tx, NewJob::new(kind, sync.id)).await?;
        }
        if sync.options.0.event_sync {
            queue::enqueue(&mut tx, NewJob::new(EVENTS, sync.id)).await?;
        }
    }
    if !queue::complete(&mut tx, job).await? {
        return Ok(Outcome::Continue);
    }
    tx.commit().await?;
    if completed {
        crate::engine::notify::initial_sync_completed(run.pool, run.config, sync).await;
    }
    Ok(Outcome::Done)
}
