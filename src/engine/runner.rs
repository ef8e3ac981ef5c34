//! How a sync runs: the initial sync's three steps and the incremental flows, all built
//! on one batch routine — gather records and index rows, ask `plan::decide` about each,
//! carry the decisions out, and commit the index, the counters and the checkpoint in
//! the transaction that ends (or continues) the job.
//!
//! Crash safety: hub writes, index rows, counters and checkpoints commit together (the
//! hub is our own database). App creates are first recorded as *pending* with an
//! idempotency key, committed before the call, so a retried batch re-sends the same key
//! and the app answers with the record it already made; apps without idempotency are
//! reconciled by identifier on the next pass. A checkpoint only moves with the work it
//! covers: a crash anywhere repeats at most the current batch, and repeating is harmless.

use super::definition::{self, Checkpoint, NextStep, Progress, SyncRow};
use super::hub_side::{self, HubRecord};
use super::index::{self, Activity, IndexRow, RowUpdate};
use super::plan::{
    self, choose_match, decide, identifiers, Candidate, Decision, DuplicateTracker, MatchOutcome,
    Pairing, Side, WriteKind,
};
use super::queue::{self, Job, NewJob};
use super::troubleshoot::{self, RecordFailure};
use crate::connectors::{AppRecord, Connector, ConnectorError, RecordWrite};
use crate::hub::{changes, schema::ObjectSchema, ObjectType, WriteOrigin};
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const INITIAL: &str = "initial_sync";
pub const HUB_CHANGES: &str = "hub_changes";
pub const APP_CHANGES: &str = "app_changes";
pub const EVENTS: &str = "events";
pub const RETRY: &str = "retry_failed";
pub const RESYNC_DELETED: &str = "resync_deleted";

/// Hub records indexed per step, app records per page and per batch of the app pass.
const INDEX_CHUNK: i64 = 2000;
const PAGE: usize = 100;
const APP_BATCH: usize = 1000;
/// How long a job of the initial sync goes on with batch after batch before it lets the
/// queue (and other jobs) have a turn.
const HOLD_FOR: Duration = Duration::from_secs(5);
const FEED_CHUNK: i64 = 500;

/// How a job ended, for the worker.
#[derive(Debug)]
pub enum Outcome {
    /// Committed; the job is gone.
    Done,
    /// Committed a chunk; run again right away.
    Continue,
    /// Nothing committed (transient failure); try again later.
    RetryLater { after: Duration, error: String },
    /// The sync cannot run until a person acts (reconnect, fix settings).
    Blocked { error: String },
}

/// What a batch needs of its sync.
pub struct Run<'a> {
    pub pool: &'a PgPool,
    pub config: &'a crate::platform::Config,
    pub sync: &'a SyncRow,
    pub connector: Arc<dyn Connector>,
    pub hub_object: ObjectType,
    pub schema: ObjectSchema,
}

/// One record or pair going through the engine.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub row: Option<IndexRow>,
    pub hub: Option<HubRecord>,
    pub app: Option<AppRecord>,
    /// Decided before `decide` (duplicates found while matching).
    pub preset: Option<plan::Exclusion>,
    /// *Resync deleted* / *Restore*: recreate the missing side.
    pub recreate: bool,
}

/// A failure of a whole batch: nothing of it is committed.
#[derive(Debug)]
pub struct BatchError {
    pub error: String,
    pub retry_after: Option<Duration>,
    pub stop: Stop,
}

/// What a failed batch means for its sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Transient (the app or the database): the job is retried with backoff.
    Retry,
    /// Waits for a person to reconnect the account; tried again now and then.
    Pause,
    /// Cannot work as set up (a missing permission, an app or object that is gone): the
    /// sync is turned off and the admins are told why.
    TurnOff,
}

impl BatchError {
    pub fn new(stop: Stop, error: impl Into<String>) -> Self {
        BatchError {
            error: error.into(),
            retry_after: None,
            stop,
        }
    }
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> Self {
        BatchError::new(Stop::Retry, format!("database: {e}"))
    }
}

impl From<ConnectorError> for BatchError {
    fn from(e: ConnectorError) -> Self {
        let retry_after = match &e {
            ConnectorError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        };
        let stop = match e {
            ConnectorError::ReconnectNeeded { .. } => Stop::Pause,
            ConnectorError::Permission { .. } => Stop::TurnOff,
            _ => Stop::Retry,
        };
        BatchError {
            error: e.to_string(),
            retry_after,
            stop,
        }
    }
}

fn app_values(a: &AppRecord) -> &plan::Record {
    &a.properties
}

/// How a batch moves its checkpoint and its job, in the batch's own transaction.
pub enum Finish {
    /// An initial sync step's checkpoint. With `hold`, the job goes on in this worker:
    /// its lease is renewed, not released.
    Step { checkpoint: Checkpoint, hold: bool },
    /// The hub change feed, consumed up to `last`.
    HubFeed { last: i64, done: bool },
    /// The app change feed, consumed up to `cursor`, as it was at `read_at`.
    AppFeed {
        cursor: String,
        more: bool,
        read_at: chrono::DateTime<chrono::Utc>,
    },
    /// A paged job (retry, resync) remembers where it is in its payload.
    JobAfter { last: i64 },
}

async fn finish(
    conn: &mut PgConnection,
    job: &Job,
    sync: &SyncRow,
    f: Finish,
) -> sqlx::Result<bool> {
    match f {
        Finish::Step { checkpoint, hold } => {
            if !definition::save_checkpoint(conn, sync, &checkpoint).await? {
                return Ok(false);
            }
            if hold {
                queue::extend(conn, job, super::worker::lease()).await
            } else {
                queue::release(conn, job, Duration::ZERO, None, true).await
            }
        }
        Finish::HubFeed { last, done } => {
            if !definition::advance_hub_feed(conn, sync.id, last).await? {
                return Ok(false);
            }
            if done {
                queue::complete(conn, job).await
            } else {
                queue::release(conn, job, Duration::ZERO, None, true).await
            }
        }
        Finish::AppFeed {
            cursor,
            more,
            read_at,
        } => {
            definition::save_app_feed(conn, sync.id, &cursor).await?;
            if more {
                queue::release(conn, job, Duration::ZERO, None, true).await
            } else {
                index::clear_queued(conn, sync.id, read_at).await?;
                queue::complete(conn, job).await
            }
        }
        Finish::JobAfter { last } => {
            queue::set_after(conn, job, last).await?;
            queue::release(conn, job, Duration::ZERO, None, true).await
        }
    }
}

/// Carries out the decisions for `items` and commits them with `then` (the checkpoint
/// and the job's end). `Ok(false)`: nothing was committed because the job's lease was
/// lost or the settings changed meanwhile; another run redoes it.
pub async fn process(
    run: &Run<'_>,
    job: &Job,
    items: Vec<Item>,
    then: Finish,
) -> Result<bool, BatchError> {
    let settings = &run.sync.settings.0;
    let options = &run.sync.options.0;
    let sync_id = run.sync.id;

    // 1. Decide.
    let decisions: Vec<Decision> = items
        .iter()
        .map(|it| {
            if let Some(e) = &it.preset {
                return Decision::Excluded(e.clone());
            }
            let snapshot = it
                .row
                .as_ref()
                .and_then(|r| r.snapshot.as_ref())
                .map(|s| &s.0);
            let paired = it.row.as_ref().is_some_and(IndexRow::is_paired);
            let pairing = match (snapshot, it.recreate, paired) {
                (Some(s), true, _) => Pairing::Recreate(s),
                (Some(s), false, true) => Pairing::Paired(s),
                _ => Pairing::New,
            };
            let hub = it.hub.as_ref().filter(|h| !h.archived).map(|h| &h.values);
            let app = it.app.as_ref().filter(|a| !a.deleted).map(app_values);
            decide(settings, hub, app, pairing)
        })
        .collect();

    // 2. App creates are recorded as pending (with their idempotency key) before the call.
    let mut app_writes: Vec<(usize, RecordWrite)> = Vec::new();
    let mut pending: Vec<(i64, Uuid)> = Vec::new();
    for (i, (it, d)) in items.iter().zip(&decisions).enumerate() {
        let Some(w) = d.write_to(Side::App) else {
            continue;
        };
        let (id, key) = match w.kind {
            WriteKind::Update => (
                it.app
                    .as_ref()
                    .map(|a| a.id.clone())
                    .or_else(|| it.row.as_ref().and_then(|r| r.app_id.clone())),
                None,
            ),
            WriteKind::Create => {
                let key = it
                    .row
                    .as_ref()
                    .and_then(|r| r.pending_key)
                    .unwrap_or_else(Uuid::new_v4);
                if let Some(row) = &it.row {
                    if row.pending_key != Some(key) {
                        pending.push((row.id, key));
                    }
                }
                (None, Some(key))
            }
        };
        app_writes.push((
            i,
            RecordWrite {
                id,
                properties: w.values.clone(),
                associations: Default::default(),
                idempotency_key: key.map(|k| k.to_string()),
            },
        ));
    }
    if !pending.is_empty() {
        let mut conn = run.pool.acquire().await?;
        index::mark_pending(&mut conn, run.sync.id, &pending).await?;
    }

    // 3. The app's writes, in batches; per-item errors fail only their record.
    let mut app_results: HashMap<usize, Result<AppRecord, RecordFailure>> = HashMap::new();
    if !app_writes.is_empty() {
        let (positions, writes): (Vec<usize>, Vec<RecordWrite>) = app_writes.into_iter().unzip();
        let results = run.connector.write(&run.sync.app_object, writes).await?;
        for (pos, r) in positions.into_iter().zip(results) {
            app_results.insert(pos, r.map_err(|e| troubleshoot::app_refused(&e)));
        }
    }
    // Deletions propagate to the app before the index says so.
    if options.propagate_deletes {
        for (it, d) in items.iter().zip(&decisions) {
            if let (Decision::Deleted { side: Side::Hub }, Some(app_id)) =
                (d, it.row.as_ref().and_then(|r| r.app_id.as_ref()))
            {
                match run.connector.delete(&run.sync.app_object, app_id).await {
                    Ok(()) | Err(ConnectorError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    // 4. One transaction: hub writes, index rows, counters, activity, checkpoint.
    let mut tx = run.pool.begin().await?;
    // Hub writes go in two statements, creates and updates (a refused record fails
    // alone); an update whose hub record is unknown creates one.
    let hub_id_of = |it: &Item| {
        it.hub
            .as_ref()
            .map(|h| h.id)
            .or(it.row.as_ref().and_then(|r| r.hub_id))
    };
    let mut hub_written: HashMap<usize, Result<HubRecord, crate::hub::HubError>> = {
        let mut creates: Vec<(usize, &plan::Record)> = Vec::new();
        let mut updates: Vec<(usize, (i64, &plan::Record))> = Vec::new();
        for (i, (it, d)) in items.iter().zip(&decisions).enumerate() {
            let Decision::Sync(p) = d else { continue };
            let Some(w) = p.hub.as_ref() else { continue };
            if matches!(app_results.get(&i), Some(Err(_))) {
                continue;
            }
            match (w.kind, hub_id_of(it)) {
                (WriteKind::Update, Some(id)) => updates.push((i, (id, &w.values))),
                _ => creates.push((i, &w.values)),
            }
        }
        let mut written = HashMap::new();
        let (create_at, creates): (Vec<usize>, Vec<&plan::Record>) = creates.into_iter().unzip();
        let (update_at, updates): (Vec<usize>, Vec<(i64, &plan::Record)>) =
            updates.into_iter().unzip();
        for (positions, writes) in [
            (create_at, hub_side::Writes::Create(&creates)),
            (update_at, hub_side::Writes::Update(&updates)),
        ] {
            if positions.is_empty() {
                continue;
            }
            let results =
                hub_side::write_many(&mut tx, &run.schema, run.sync.portal_id, sync_id, writes)
                    .await?;
            written.extend(positions.into_iter().zip(results));
        }
        written
    };
    let mut saves: Vec<(Option<i64>, RowUpdate)> = Vec::with_capacity(items.len());
    let mut saved_items: Vec<usize> = Vec::with_capacity(items.len());
    let mut activity: Vec<(usize, &'static str, String, Option<serde_json::Value>)> = Vec::new();
    let (mut synced, mut failed) = (0i64, 0i64);
    let mut archive_in_hub: Vec<i64> = Vec::new();
    let mut synced_pairs: Vec<super::associations::Pair> = Vec::new();
    for (i, (it, d)) in items.iter().zip(decisions).enumerate() {
        let prev_state = it.row.as_ref().map(|r| r.state.as_str());
        let mut u = RowUpdate {
            hub_id: hub_id_of(it),
            app_id: it
                .app
                .as_ref()
                .map(|a| a.id.clone())
                .or(it.row.as_ref().and_then(|r| r.app_id.clone())),
            label: it
                .hub
                .as_ref()
                .map(|h| h.label.clone())
                .filter(|l| !l.is_empty())
                .or_else(|| it.app.as_ref().map(|a| hub_side::label_of(&a.properties)))
                .or_else(|| it.row.as_ref().map(|r| r.label.clone()))
                .unwrap_or_default(),
            ..Default::default()
        };
        let mut keys: Vec<plan::Identifier> = Vec::new();
        if let Some(h) = it.hub.as_ref().filter(|h| !h.archived) {
            keys.extend(identifiers(settings, Side::Hub, &h.values));
        }
        if let Some(a) = it.app.as_ref().filter(|a| !a.deleted) {
            keys.extend(identifiers(settings, Side::App, &a.properties));
        }
        u.keys = index::keys_text(&keys);
        match d {
            Decision::Sync(plan) => {
                let mut failure = None;
                let mut app_note = None;
                if let Some(res) = app_results.remove(&i) {
                    match res {
                        Ok(rec) => {
                            app_note = Some(
                                if plan
                                    .app
                                    .as_ref()
                                    .is_some_and(|w| w.kind == WriteKind::Create)
                                {
                                    "created_in_app"
                                } else {
                                    "updated_in_app"
                                },
                            );
                            u.app_id = Some(rec.id.clone());
                        }
                        Err(f) => failure = Some(f),
                    }
                }
                let mut hub_note = None;
                if failure.is_none() {
                    if let Some(result) = hub_written.remove(&i) {
                        match result {
                            Ok(rec) => {
                                hub_note = Some(if u.hub_id.is_none() {
                                    "created_in_hub"
                                } else {
                                    "updated_in_hub"
                                });
                                u.hub_id = Some(rec.id);
                                if u.label.is_empty() {
                                    u.label = rec.label;
                                }
                            }
                            Err(e) => failure = Some(troubleshoot::hub_refused(&e)),
                        }
                    }
                }
                match failure {
                    Some(f) => {
                        failed += 1;
                        fail(&mut u, &f);
                        activity.push((i, "failed", f.message.clone(), None));
                    }
                    None => {
                        if let (Some(hub_id), Some(app_id)) = (u.hub_id, u.app_id.clone()) {
                            synced_pairs.push(super::associations::Pair {
                                hub_id,
                                app_id,
                                app_associations: it
                                    .app
                                    .as_ref()
                                    .map(|a| a.associations.clone())
                                    .unwrap_or_default(),
                            });
                        }
                        u.state = "syncing";
                        u.snapshot = Some(plan.snapshot.clone());
                        u.synced_now = hub_note.is_some() || app_note.is_some();
                        if u.synced_now {
                            synced += 1;
                        }
                        let fields: Vec<String> =
                            plan.notes.iter().map(|n| n.hub_property.clone()).collect();
                        for (note, side) in [(hub_note, "hub"), (app_note, "app")] {
                            if let Some(kind) = note {
                                let verb = if kind.starts_with("created") {
                                    "Created in"
                                } else {
                                    "Updated in"
                                };
                                let what = if fields.is_empty() || verb == "Created in" {
                                    String::new()
                                } else {
                                    format!(": {}", fields.join(", "))
                                };
                                activity.push((
                                    i,
                                    kind,
                                    format!("{verb} {side}{what}"),
                                    serde_json::to_value(&plan.notes).ok(),
                                ));
                            }
                        }
                    }
                }
            }
            Decision::Excluded(e) => {
                u.state = "excluded";
                u.reason_code = Some(e.code().to_string());
                u.message = Some(e.to_string());
                u.hint = Some(e.hint().to_string());
                if matches!(e, plan::Exclusion::Duplicate { .. }) {
                    // A duplicate does not claim identifiers: the first record keeps them.
                    u.keys.clear();
                }
                if prev_state != Some("excluded") {
                    activity.push((i, "excluded", e.to_string(), None));
                }
            }
            Decision::Failed(f) => {
                failed += 1;
                let f = RecordFailure::from(&f);
                fail(&mut u, &f);
                activity.push((i, "failed", f.message.clone(), None));
            }
            Decision::Deleted { side } => {
                u.state = "deleted";
                u.deleted_side = Some(if side == Side::Hub { "hub" } else { "app" });
                let propagated = options.propagate_deletes;
                u.reason_code = Some("deleted".into());
                u.message = Some(format!(
                    "The record was deleted in the {side}.{}",
                    if propagated {
                        " It was deleted on the other side too (deletions propagate for this sync)."
                    } else {
                        " The deletion was not propagated."
                    }
                ));
                u.hint = Some(troubleshoot::guide("deleted").fix.to_string());
                if propagated && side == Side::App {
                    if let Some(h) = u.hub_id {
                        archive_in_hub.push(h);
                    }
                }
                if prev_state != Some("deleted") {
                    activity.push((i, "deleted", u.message.clone().unwrap_or_default(), None));
                }
            }
            Decision::Skipped(_) => continue,
        }
        if it.row.is_none() && u.hub_id.is_none() && u.app_id.is_none() {
            continue;
        }
        saves.push((it.row.as_ref().map(|r| r.id), u));
        saved_items.push(i);
    }
    let mut saved_ids: Vec<Option<i64>> = vec![None; items.len()];
    let ids = index::save_many(&mut tx, sync_id, run.sync.generation, &saves).await?;
    for (i, id) in saved_items.into_iter().zip(ids) {
        saved_ids[i] = Some(id);
    }
    for h in &archive_in_hub {
        // The hub's own archive path keeps the change feed and provenance right.
        sqlx::query("SAVEPOINT archive").execute(&mut *tx).await?;
        if crate::hub::records::archive_in(
            &mut tx,
            run.sync.portal_id,
            run.hub_object,
            *h,
            &WriteOrigin::Sync(sync_id),
        )
        .await
        .is_err()
        {
            sqlx::query("ROLLBACK TO SAVEPOINT archive")
                .execute(&mut *tx)
                .await?;
        }
    }
    let log: Vec<Activity> = activity
        .into_iter()
        .filter_map(|(i, kind, message, details)| {
            saved_ids[i].map(|index_id| Activity {
                index_id,
                kind,
                message,
                details,
            })
        })
        .collect();
    index::log_activity(&mut tx, sync_id, &log).await?;
    index::tally(&mut tx, sync_id, synced, failed).await?;
    if !finish(&mut tx, job, run.sync, then).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    if let Err(e) =
        super::associations::sync_pairs(run.pool, run.sync, &run.connector, &synced_pairs).await
    {
        tracing::warn!(sync = %run.sync.id, error = %e, "associations not synced this time");
    }
    Ok(true)
}

fn fail(u: &mut RowUpdate, f: &RecordFailure) {
    u.state = "failed";
    u.reason_code = Some(f.code.clone());
    u.message = Some(f.message.clone());
    u.field = f.field.clone();
    u.hint = Some(f.hint.clone());
    u.retry_in_secs = f.retry_in;
}

/// Finds, for unpaired records of one side, their partner among the index's rows of the
/// other side (the match key), first seen wins. `side` is the side of `records`.
pub async fn match_records(
    conn: &mut PgConnection,
    sync: &SyncRow,
    side: Side,
    records: Vec<(Option<IndexRow>, Option<HubRecord>, Option<AppRecord>)>,
) -> sqlx::Result<Vec<Item>> {
    let settings = &sync.settings.0;
    let mut tracker = DuplicateTracker::new();
    let mut claimed: HashSet<i64> = HashSet::new();
    let identified: Vec<Vec<plan::Identifier>> = records
        .iter()
        .map(|(_, hub, app)| {
            let values = match side {
                Side::App => app.as_ref().map(|a| &a.properties),
                Side::Hub => hub.as_ref().map(|h| &h.values),
            };
            values
                .map(|v| identifiers(settings, side, v))
                .unwrap_or_default()
        })
        .collect();
    // Every candidate of the batch in one query, then looked up by identifier.
    let all_keys: Vec<String> =
        index::keys_text(&identified.iter().flatten().cloned().collect::<Vec<_>>());
    let candidates_rows = index::with_keys(conn, sync.id, &all_keys).await?;
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (at, r) in candidates_rows.iter().enumerate() {
        for k in &r.keys {
            by_key.entry(k.as_str()).or_default().push(at);
        }
    }
    let mut merged_away: Vec<IndexRow> = Vec::new();
    let mut out = Vec::with_capacity(records.len());
    for ((row, hub, app), ids) in records.into_iter().zip(identified) {
        let own_id = match side {
            Side::App => app.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
            Side::Hub => hub.as_ref().map(|h| h.id.to_string()).unwrap_or_default(),
        };
        let mut item = Item {
            row,
            hub,
            app,
            ..Default::default()
        };
        if ids.is_empty() {
            out.push(item);
            continue;
        }
        if let Err(e) = tracker.check(&own_id, &ids) {
            item.preset = Some(e);
            out.push(item);
            continue;
        }
        let own_row = item.row.as_ref().map(|r| r.id);
        let mut at: Vec<usize> = index::keys_text(&ids)
            .iter()
            .filter_map(|k| by_key.get(k.as_str()))
            .flatten()
            .copied()
            .collect();
        // Oldest first, as the query returned them.
        at.sort_unstable();
        at.dedup();
        let rows: Vec<&IndexRow> = at
            .into_iter()
            .map(|i| &candidates_rows[i])
            .filter(|r| {
                Some(r.id) != own_row
                    && r.reason_code.as_deref() != Some("duplicate")
                    && !merged_away.iter().any(|m| m.id == r.id)
            })
            .collect();
        let candidates: Vec<Candidate> = rows
            .iter()
            .map(|r| {
                let (their_id, paired_with) = match side {
                    // App records look for hub rows; a hub row already holding an app record is taken.
                    Side::App => (
                        r.hub_id.map(|h| h.to_string()).unwrap_or_default(),
                        r.app_id
                            .clone()
                            .or_else(|| r.hub_id.is_none().then(String::new)),
                    ),
                    Side::Hub => (
                        r.app_id.clone().unwrap_or_default(),
                        r.hub_id
                            .map(|h| h.to_string())
                            .or_else(|| r.app_id.is_none().then(String::new)),
                    ),
                };
                Candidate {
                    id: their_id,
                    identifiers: r
                        .keys
                        .iter()
                        .filter_map(|k| index::key_from_text(k))
                        .collect(),
                    paired_with: paired_with.or_else(|| {
                        claimed
                            .contains(&r.id)
                            .then(|| "an earlier record".to_string())
                    }),
                }
            })
            .collect();
        match choose_match(&ids, &candidates) {
            MatchOutcome::Matched { index: at, .. } => {
                let partner = rows[at].clone();
                claimed.insert(partner.id);
                // Merge into the partner's row; a row of our own (e.g. an old exclusion) is dropped.
                if let Some(own) = item.row.take() {
                    merged_away.push(own);
                }
                item.row = Some(partner);
            }
            MatchOutcome::NoMatch => {}
            MatchOutcome::Taken(e) => item.preset = Some(e),
        }
        out.push(item);
    }
    let merged_away: Vec<i64> = merged_away.iter().map(|r| r.id).collect();
    index::remove(conn, sync.id, &merged_away).await?;
    Ok(out)
}

/// Loads the hub records and app records of index rows (either side may be missing).
pub async fn complete_items(run: &Run<'_>, items: &mut [Item]) -> Result<(), BatchError> {
    let hub_ids: Vec<i64> = items
        .iter()
        .filter(|i| i.hub.is_none())
        .filter_map(|i| i.row.as_ref().and_then(|r| r.hub_id))
        .collect();
    if !hub_ids.is_empty() {
        let found: HashMap<i64, HubRecord> =
            hub_side::get_many(run.pool, run.sync.portal_id, run.hub_object, &hub_ids)
                .await?
                .into_iter()
                .map(|h| (h.id, h))
                .collect();
        for it in items.iter_mut().filter(|i| i.hub.is_none()) {
            if let Some(id) = it.row.as_ref().and_then(|r| r.hub_id) {
                it.hub = found.get(&id).cloned();
            }
        }
    }
    let app_ids: Vec<String> = items
        .iter()
        .filter(|i| i.app.is_none())
        .filter_map(|i| i.row.as_ref().and_then(|r| r.app_id.clone()))
        .collect();
    if !app_ids.is_empty() {
        let found: HashMap<String, AppRecord> = run
            .connector
            .read(&run.sync.app_object, &app_ids)
            .await?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        for it in items.iter_mut().filter(|i| i.app.is_none()) {
            if let Some(id) = it.row.as_ref().and_then(|r| r.app_id.clone()) {
                it.app = found.get(&id).cloned();
            }
        }
    }
    Ok(())
}

/// One step of the initial sync (hub indexing, app pass or hub pass); the job comes back
/// until the last step is done.
pub async fn initial_step(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let mut progress = sync.progress.0.clone();
    match sync.step.as_str() {
        "hub_index" => {
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
        "app_pass" => app_pass(run, job, progress).await,
        "hub_pass" => {
            let mut conn = run.pool.acquire().await?;
            let rows =
                index::undecided_hub_rows(&mut conn, sync.id, sync.hub_checkpoint, PAGE as i64)
                    .await?;
            if rows.is_empty() {
                drop(conn);
                return finish_initial(run, job).await;
            }
            let last = rows.last().map(|r| r.id).unwrap_or_default();
            let mut items: Vec<Item> = rows
                .into_iter()
                .map(|r| Item {
                    row: Some(r),
                    ..Default::default()
                })
                .collect();
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
        _ => finish_initial(run, job).await,
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
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let known: HashMap<String, IndexRow> = index::by_app_ids(&mut conn, sync.id, &ids)
        .await?
        .into_iter()
        .map(|r| (r.app_id.clone().unwrap_or_default(), r))
        .collect();
    let mut paired = Vec::new();
    let mut fresh = Vec::new();
    for rec in records {
        match known.get(&rec.id) {
            Some(row) if row.is_paired() || row.state == "deleted" => paired.push(Item {
                row: Some(row.clone()),
                app: Some(rec),
                ..Default::default()
            }),
            // Seen before without a pair (excluded, failed): matched again under the current settings.
            other => fresh.push((other.cloned(), None, Some(rec))),
        }
    }
    let mut items = match_records(&mut conn, sync, Side::App, fresh).await?;
    drop(conn);
    items.extend(paired);
    complete_items(run, &mut items).await?;
    Ok(items)
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
        super::notify::initial_sync_completed(run.pool, run.config, sync).await;
    }
    Ok(Outcome::Done)
}

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
        let mut tx = run.pool.begin().await?;
        if queue::complete(&mut tx, job).await? {
            tx.commit().await?;
        }
        return Ok(Outcome::Done);
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
pub async fn app_changes(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    // The database's clock, as the queued marks use it.
    let read_at = index::clock(&mut *run.pool.acquire().await?).await?;
    let page = run
        .connector
        .changes(&sync.app_object, sync.app_feed_cursor.as_deref(), PAGE)
        .await?;
    let mut conn = run.pool.acquire().await?;
    let ids: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
    let rows: HashMap<String, IndexRow> = index::by_app_ids(&mut conn, sync.id, &ids)
        .await?
        .into_iter()
        .map(|r| (r.app_id.clone().unwrap_or_default(), r))
        .collect();
    // The latest version of each record in this page.
    let mut latest: HashMap<String, AppRecord> = HashMap::new();
    for r in page.records {
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
    let mut items = match_records(&mut conn, sync, Side::App, fresh).await?;
    drop(conn);
    items.extend(paired);
    complete_items(run, &mut items).await?;
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

/// Records whose failure may have been temporary, once their retry time has come.
pub async fn retry_failed(run: &Run<'_>, job: &Job, all: bool) -> Result<Outcome, BatchError> {
    let sync = run.sync;
    let after = job
        .payload
        .get("after")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let mut conn = run.pool.acquire().await?;
    let rows = index::failed_due(&mut conn, sync.id, all, after, PAGE as i64).await?;
    drop(conn);
    let Some(last) = rows.last().map(|r| r.id) else {
        let mut tx = run.pool.begin().await?;
        if queue::complete(&mut tx, job).await? {
            tx.commit().await?;
        }
        return Ok(Outcome::Done);
    };
    let mut items: Vec<Item> = rows
        .into_iter()
        .map(|r| Item {
            row: Some(r),
            ..Default::default()
        })
        .collect();
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
    let after = job
        .payload
        .get("after")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
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
        let mut tx = run.pool.begin().await?;
        if queue::complete(&mut tx, job).await? {
            tx.commit().await?;
        }
        return Ok(Outcome::Done);
    };
    let mut items: Vec<Item> = rows
        .into_iter()
        .map(|r| Item {
            row: Some(r),
            recreate: true,
            ..Default::default()
        })
        .collect();
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
            crate::connectors::EventKind::EmailOpened => ("email_opened", "Opened an email"),
            crate::connectors::EventKind::EmailClicked => {
                ("email_clicked", "Clicked a link in an email")
            }
        };
        let subject = e
            .properties
            .get("subject")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let event = crate::hub::timeline::NewTimelineEvent {
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
        match crate::hub::timeline::insert_in(
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
