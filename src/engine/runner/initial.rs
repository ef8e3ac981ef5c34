//! The initial sync, one step per job run: hub indexing (the hub's records and their
//! identifiers into the index), the app pass (every app record, matched against the
//! index and synced) and the hub pass (the hub records no app record matched).

use super::apply::{finish, process, write, Finish};
use super::{
    complete_items, match_candidates, BatchError, Item, Outcome, Run, Stop, Unmatched, PAGE,
};
use super::{APP_CHANGES, EVENTS, HUB_CHANGES};
use crate::connectors::AppRecord;
use crate::engine::definition::{self, Checkpoint, NextStep, Progress};
use crate::engine::hub_side;
use crate::engine::index::{self, IndexRow};
use crate::engine::plan::{identifiers, Identifier, Side};
use crate::engine::queue::{self, Job, NewJob};
use crate::hub::{changes, records, schema};
use crate::model::{InitialStep, RecordState};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::Instrument;

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

/// Batches of the app pass written side by side: while one waits for its turn to commit,
/// the next is written in a transaction (and a Postgres backend) of its own.
const WRITERS: usize = 2;

/// What a record (or a batch) of the app pass may touch: identifier keys, app ids, the
/// index rows read, and the email locks its hub writes may take. A record sharing any of
/// them with a batch still in flight waits until that one committed ([`must_wait`]), so
/// it is matched against the index as if the batches before it had run alone, and no
/// batch waits for a lock held by a later one (which waits for it to commit: a cycle
/// Postgres cannot see). Kept as hashes (no strings copied per record): equal things
/// always hash alike, and a collision of two different ones only makes a record wait.
#[derive(Default)]
struct Footprint(HashSet<u64>);

impl Footprint {
    fn of(keys: &[String], app_id: &str, rows: &[i64], email_locks: &[i32]) -> Footprint {
        fn hashed(kind: u8, thing: impl Hash) -> u64 {
            let mut h = DefaultHasher::new();
            (kind, thing).hash(&mut h);
            h.finish()
        }
        let keys = keys.iter().map(|k| hashed(0, k));
        let rows = rows.iter().map(|r| hashed(1, r));
        let locks = email_locks.iter().map(|l| hashed(2, l));
        Footprint(
            keys.chain(rows)
                .chain(locks)
                .chain([hashed(3, app_id)])
                .collect(),
        )
    }

    fn shares(&self, other: &Footprint) -> bool {
        !self.0.is_disjoint(&other.0)
    }

    fn add(&mut self, other: &Footprint) {
        self.0.extend(&other.0);
    }
}

/// Which records of a batch must wait for the batches in flight (`busy`, what they
/// touch): those sharing anything with them, and those sharing anything with a record
/// that waits (so the ones left matched now never depend on one matched later).
fn must_wait(touches: &[Footprint], mut busy: Footprint) -> Vec<bool> {
    let mut waits = vec![false; touches.len()];
    let mut grew = true;
    while grew {
        grew = false;
        for (t, w) in touches.iter().zip(waits.iter_mut()) {
            if !*w && t.shares(&busy) {
                *w = true;
                busy.add(t);
                grew = true;
            }
        }
    }
    waits
}

/// The email locks an app record's hub write may take: hub emails come from app values,
/// so every value of the record that could be an email counts.
fn email_locks(portal_id: uuid::Uuid, record: &AppRecord) -> Vec<i32> {
    record
        .properties
        .values()
        .filter_map(|v| v.as_str().filter(|s| s.contains('@')))
        .map(|s| records::email_lock(portal_id, &schema::email_key(s)))
        .collect()
}

/// The job's [`Run`], owned, for the batches written on tasks of their own.
struct Owned {
    pool: sqlx::PgPool,
    config: crate::platform::Config,
    sync: crate::engine::definition::SyncRow,
    connector: Arc<dyn crate::connectors::Connector>,
    capabilities: crate::connectors::Capabilities,
    hub_object: crate::hub::ObjectType,
    schema: crate::hub::schema::ObjectSchema,
    job: Job,
}

impl Owned {
    fn of(run: &Run<'_>, job: &Job) -> Self {
        Owned {
            pool: run.pool.clone(),
            config: run.config.clone(),
            sync: run.sync.clone(),
            connector: run.connector.clone(),
            capabilities: run.capabilities.clone(),
            hub_object: run.hub_object,
            schema: run.schema.clone(),
            job: job.clone(),
        }
    }

    fn run(&self) -> Run<'_> {
        Run {
            pool: &self.pool,
            config: &self.config,
            sync: &self.sync,
            connector: self.connector.clone(),
            capabilities: self.capabilities.clone(),
            hub_object: self.hub_object,
            schema: self.schema.clone(),
        }
    }
}

/// A batch written on its own task, committing after the batch before it.
struct InFlight {
    footprint: Footprint,
    task: tokio::task::JoinHandle<Result<bool, BatchError>>,
}

impl InFlight {
    /// Waits for the batch to end: `Ok(true)` committed, `Ok(false)` rolled back (the
    /// lease was lost, the settings changed, or a batch before it did not commit).
    async fn land(self) -> Result<bool, BatchError> {
        self.task.await.unwrap_or_else(|e| {
            Err(BatchError::new(
                Stop::Retry,
                format!("a batch of the initial sync stopped: {e}"),
            ))
        })
    }
}

/// Writes `items` and commits them with `then` once the batch before it (`turn`) has
/// committed; tells the batch after it (`done`) whether it did.
async fn write_in_turn(
    owned: Arc<Owned>,
    items: Vec<Item>,
    then: Finish,
    turn: Option<oneshot::Receiver<bool>>,
    done: oneshot::Sender<bool>,
) -> Result<bool, BatchError> {
    let run = owned.run();
    let records = items.len();
    let (written, write_ms) = timed(write(&run, items)).await;
    let (ahead_committed, wait_ms) = timed(async {
        match turn {
            Some(turn) => turn.await.unwrap_or(false),
            None => true,
        }
    })
    .await;
    let (committed, commit_ms) = timed(async {
        match written {
            // Dropped uncommitted: rolled back.
            Ok(_) if !ahead_committed => Ok(false),
            Ok(w) => w.commit(&run, &owned.job, then).await,
            Err(e) => Err(e),
        }
    })
    .await;
    let _ = done.send(matches!(committed, Ok(true)));
    // Where an initial sync's time goes: writing a batch, waiting for the one before it
    // to commit, committing.
    tracing::debug!(
        records,
        write_ms,
        wait_ms,
        commit_ms,
        "app pass batch written"
    );
    committed
}

/// Waits for every batch in flight, in order; the first failure wins.
async fn land_all(in_flight: &mut VecDeque<InFlight>) -> Result<bool, BatchError> {
    let mut all = Ok(true);
    while let Some(f) = in_flight.pop_front() {
        let landed = f.land().await;
        if matches!(all, Ok(true)) {
            all = landed;
        }
    }
    all
}

/// The app pass: app records in batches of several pages, each matched against the index
/// and committed with the cursor after it, in order. The next batch is fetched while one
/// is matched, up to [`WRITERS`] are written at once, and the job keeps its lease for a
/// few seconds of batches. Records that must wait for a batch in flight go on with the
/// next batch; until they are committed, the checkpoint stays before them.
async fn app_pass(run: &Run<'_>, job: &Job, mut progress: Progress) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let owned = Arc::new(Owned::of(run, job));
    let until = std::time::Instant::now() + HOLD_FOR;
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut turn: Option<oneshot::Receiver<bool>> = None;
    // Where the batch was read from, and the records of earlier batches still to match
    // (read from `waiting_from` on).
    let mut from = sync.app_checkpoint.clone();
    let mut waiting: Vec<AppRecord> = Vec::new();
    let mut waiting_from = None;
    let mut batch = fetch_app_batch(run, from.clone()).await?;
    loop {
        let last = batch.next_cursor.is_none();
        let hold = !last && std::time::Instant::now() < until;
        let next = batch.next_cursor.clone();
        if waiting.is_empty() {
            waiting_from = from.clone();
        }
        let may_wait = hold && waiting.len() < APP_BATCH;
        let mut records = std::mem::take(&mut waiting);
        records.extend(batch.records);
        let fetch = async {
            match &next {
                Some(cursor) if hold => {
                    Some(timed(fetch_app_batch(run, Some(cursor.clone()))).await)
                }
                _ => None,
            }
        };
        let prepare = async {
            // The hub pass's total counts what every batch before the last one left.
            if last && !land_all(&mut in_flight).await? {
                return Ok(None);
            }
            let Some(matched) = match_in_turn(run, records, &mut in_flight, may_wait).await? else {
                return Ok(None);
            };
            while in_flight.len() >= WRITERS {
                if let Some(f) = in_flight.pop_front() {
                    if !f.land().await? {
                        return Ok(None);
                    }
                }
            }
            Ok::<_, BatchError>(Some(matched))
        };
        let (fetched, (prepared, match_ms)) = tokio::join!(fetch, timed(prepare));
        // `None`: a batch before this one did not commit; the job's next run redoes it.
        let Some(matched) = prepared? else {
            land_all(&mut in_flight).await?;
            return Ok(Outcome::Continue);
        };
        let matched_now = matched.items.len() as i64;
        waiting = matched.waiting;
        progress.app_seen += matched_now;
        if statistics_due(progress.app_seen - matched_now, progress.app_seen) {
            tokio::spawn(refresh_statistics(run.pool.clone()).instrument(tracing::Span::current()));
        }
        progress.app_estimate = progress
            .app_estimate
            .max(progress.app_seen + if last { 0 } else { PAGE as i64 });
        let next_step = if last {
            let mut conn = run.pool.acquire().await?;
            progress.hub_pass_total = index::undecided_count(&mut conn, sync.id).await?;
            progress.app_estimate = progress.app_seen;
            NextStep::HubPass
        } else {
            NextStep::Stay
        };
        let then = Finish::Step {
            checkpoint: Checkpoint {
                hub: 0,
                app: if waiting.is_empty() {
                    next.clone()
                } else {
                    waiting_from.clone()
                },
                progress: progress.clone(),
                next: next_step,
            },
            hold,
        };
        let (done, next_turn) = oneshot::channel();
        let task = tokio::spawn(
            write_in_turn(
                owned.clone(),
                matched.items,
                then,
                turn.replace(next_turn),
                done,
            )
            .instrument(tracing::Span::current()),
        );
        in_flight.push_back(InFlight {
            footprint: matched.footprint,
            task,
        });
        tracing::debug!(
            records = matched_now,
            waiting = waiting.len(),
            match_ms,
            next_fetch_ms = fetched.as_ref().map(|(_, ms)| *ms),
            "app pass batch matched"
        );
        match fetched {
            Some((Ok(f), _)) => {
                batch = f;
                from = next;
            }
            // The batches in flight commit what they hold; a failed fetch is retried
            // from there.
            Some((Err(e), _)) => {
                land_all(&mut in_flight).await?;
                return Err(e);
            }
            None => {
                land_all(&mut in_flight).await?;
                return Ok(Outcome::Continue);
            }
        }
    }
}

/// A batch of the app pass matched and ready to write, and the records of it that wait
/// for a batch in flight (they go on with the next batch).
struct Matched {
    items: Vec<Item>,
    footprint: Footprint,
    waiting: Vec<AppRecord>,
}

/// Matches app records against the index. Records sharing anything with a batch still
/// in flight cannot be matched before it commits: with `may_wait` they are handed back
/// (`waiting`) and the rest is matched now; without, every batch in flight lands first.
/// `None`: a batch waited for did not commit.
async fn match_in_turn(
    run: &Run<'_>,
    records: Vec<AppRecord>,
    in_flight: &mut VecDeque<InFlight>,
    may_wait: bool,
) -> Result<Option<Matched>, BatchError> {
    let sync = run.sync;
    let mut conn = run.pool.acquire().await?;
    loop {
        let known = index::by_app_id_map(&mut conn, sync.id, &records).await?;
        let identified: Vec<Option<Vec<Identifier>>> = records
            .iter()
            .map(|r| {
                let resumed = known.get(&r.id).is_some_and(resumes);
                (!resumed).then(|| identifiers(&sync.settings.0, Side::App, &r.properties))
            })
            .collect();
        let keys: Vec<Vec<String>> = identified
            .iter()
            .map(|ids| ids.as_deref().map(index::keys_text).unwrap_or_default())
            .collect();
        let mut all_keys: Vec<String> = keys.iter().flatten().cloned().collect();
        all_keys.sort_unstable();
        all_keys.dedup();
        let candidates = index::with_keys(&mut conn, sync.id, &all_keys).await?;
        let mut rows_by_key: HashMap<&str, Vec<i64>> = HashMap::new();
        for row in &candidates {
            for k in &row.keys {
                rows_by_key.entry(k.as_str()).or_default().push(row.id);
            }
        }
        let touches: Vec<Footprint> = records
            .iter()
            .zip(keys)
            .map(|(r, keys)| {
                let rows: Vec<i64> = keys
                    .iter()
                    .filter_map(|k| rows_by_key.get(k.as_str()))
                    .flatten()
                    .copied()
                    .chain(known.get(&r.id).map(|row| row.id))
                    .collect();
                Footprint::of(&keys, &r.id, &rows, &email_locks(sync.portal_id, r))
            })
            .collect();
        let mut busy = Footprint::default();
        for f in in_flight.iter() {
            busy.add(&f.footprint);
        }
        let waits = must_wait(&touches, busy);
        if !may_wait && waits.contains(&true) {
            if !land_all(in_flight).await? {
                return Ok(None);
            }
            continue;
        }
        let mut footprint = Footprint::default();
        let mut paired = Vec::new();
        let mut fresh: Unmatched = Vec::new();
        let mut fresh_ids = Vec::new();
        let mut waiting = Vec::new();
        for (((rec, ids), touch), wait) in
            records.into_iter().zip(identified).zip(&touches).zip(waits)
        {
            if wait {
                waiting.push(rec);
                continue;
            }
            footprint.add(touch);
            match (known.get(&rec.id), ids) {
                (Some(row), None) => paired.push(Item {
                    row: Some(row.clone()),
                    app: Some(rec),
                    ..Default::default()
                }),
                (row, ids) => {
                    fresh.push((row.cloned(), None, Some(rec)));
                    fresh_ids.push(ids.unwrap_or_default());
                }
            }
        }
        let mut items =
            match_candidates(&mut conn, sync, Side::App, fresh, fresh_ids, candidates).await?;
        items.extend(paired);
        drop(conn);
        complete_items(run, &mut items).await?;
        return Ok(Some(Matched {
            items,
            footprint,
            waiting,
        }));
    }
}

/// A known pair (or a pair deleted on one side) goes on as it is; other rows of the
/// record (excluded, failed) are matched again under the current settings.
fn resumes(row: &IndexRow) -> bool {
    row.is_paired() || row.state == RecordState::Deleted
}

/// Whether the app pass has just seen twice as many records as when the statistics of
/// the tables it grows were last refreshed (1,000, 2,000, 4,000, … 64,000). Past that,
/// the statistics know the sync's portal and how its records spread, and autovacuum
/// keeps them fresh enough (an ANALYZE then takes most of a second).
fn statistics_due(seen_before: i64, seen_after: i64) -> bool {
    let doublings = |seen: i64| (seen / APP_BATCH as i64).checked_ilog2();
    seen_after <= 64 * APP_BATCH as i64 && doublings(seen_before) != doublings(seen_after)
}

/// Refreshes the planner's statistics of the tables the initial sync grows. Autovacuum
/// does so about once a minute; until then Postgres plans the sync's lookups for the
/// near-empty tables it last saw (an email probe walked every contact: 6-11 s a batch
/// instead of 2 ms). Only the columns the sync's lookups filter on, and the email
/// statistics object (built whatever the column list): the full ANALYZE also computed the
/// search and sort expressions of 30,000 sampled records and the statistics of their
/// JSON, three times the work. Runs beside the sync; a failure only costs speed.
async fn refresh_statistics(pool: sqlx::PgPool) {
    const ANALYZE: &str = "ANALYZE hub_records (portal_id, object, archived_at),
        sync_index (sync_id, app_id, hub_id, state), sync_index_key";
    let (done, ms) = timed(sqlx::query(ANALYZE).execute(&pool)).await;
    match done {
        Ok(_) => tracing::debug!(ms, "statistics refreshed"),
        Err(e) => tracing::warn!("could not refresh the statistics of the synced tables: {e}"),
    }
}

/// Runs `f` and says how long it took, in ms.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, u64) {
    let started = std::time::Instant::now();
    let out = f.await;
    (out, started.elapsed().as_millis() as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn touching(keys: &[&str], app_id: &str) -> Footprint {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        Footprint::of(&keys, app_id, &[], &[])
    }

    #[test]
    fn records_touching_a_batch_in_flight_wait_and_so_do_those_touching_them() {
        let busy = touching(&["email:a"], "in-flight");
        let touches = [
            touching(&["email:x"], "1"),
            // Shares b with record 3, which shares a with the batch in flight.
            touching(&["email:b"], "2"),
            touching(&["email:a", "email:b"], "3"),
            touching(&["email:y"], "4"),
            touching(&[], "in-flight"),
        ];
        assert_eq!(must_wait(&touches, busy), [false, true, true, false, true]);
    }

    #[test]
    fn a_shared_index_row_or_email_lock_makes_a_record_wait_but_equal_text_of_two_kinds_does_not() {
        let busy = Footprint::of(&["email:a".into()], "7", &[41], &[-3]);
        let touches = [
            Footprint::of(&[], "1", &[41], &[]),
            Footprint::of(&[], "2", &[], &[-3]),
            // An app id spelled like the batch's key, a key like its app id.
            Footprint::of(&["7".into()], "email:a", &[], &[]),
        ];
        assert_eq!(must_wait(&touches, busy), [true, true, false]);
    }

    #[test]
    fn nothing_waits_when_nothing_is_in_flight() {
        let touches = [touching(&["email:a"], "1"), touching(&["email:a"], "2")];
        assert_eq!(must_wait(&touches, Footprint::default()), [false, false]);
    }

    #[test]
    fn statistics_are_refreshed_each_time_the_records_seen_double() {
        let due: Vec<i64> = (0..400)
            .map(|b| b * 500)
            .filter(|&seen| statistics_due(seen, seen + 500))
            .map(|seen| seen + 500)
            .collect();
        assert_eq!(due, [1000, 2000, 4000, 8000, 16000, 32000, 64000]);
    }
}
