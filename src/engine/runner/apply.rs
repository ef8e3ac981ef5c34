//! Carrying a batch out. The pure step says what each item becomes: [`prepare`] before
//! any write (the decisions, the app's writes and deletions, the creates to record as
//! pending), [`hub_writes`] once the app answered, [`settle`] once both sides did (index
//! rows, activity lines, counters). [`process`] performs what they say, in that order,
//! and commits it with the job's end.

use super::{BatchError, Item, Run};
use crate::connectors::{AppRecord, ConnectorError, RecordWrite};
use crate::engine::associations::{self, Pair};
use crate::engine::definition::{self, Checkpoint, SyncOptions, SyncRow};
use crate::engine::hub_side;
use crate::engine::index::{self, Activity, CountDeltas, IndexRow, RowUpdate};
use crate::engine::plan::WriteKind;
use crate::engine::plan::{self, decide, identifiers, Decision, Pairing, Side, SyncSettings};
use crate::engine::queue::{self, Job};
use crate::engine::troubleshoot::{self, RecordFailure};
use crate::hub::{changes, WriteOrigin};
use crate::model::{ReasonCode, RecordState};
use sqlx::PgConnection;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

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
    /// A paged job whose position is more than an id (a relisting) keeps it under `key`.
    Payload {
        key: &'static str,
        value: serde_json::Value,
    },
}

/// Moves the checkpoint and ends or continues the job. `false`: the lease was lost or
/// the settings changed; the caller rolls back.
pub async fn finish(
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
                queue::extend(conn, job, crate::engine::worker::lease()).await
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
                // A relisting that ends here is over, in the same commit: a rerun of
                // the job reads changes again.
                index::relist_forget(conn, sync.id).await?;
                queue::remove_payload(conn, job, "relist").await?;
                queue::complete(conn, job).await
            }
        }
        Finish::JobAfter { last } => {
            queue::set_after(conn, job, last).await?;
            queue::release(conn, job, Duration::ZERO, None, true).await
        }
        Finish::Payload { key, value } => {
            queue::set_payload(conn, job, key, &value).await?;
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
    write(run, items).await?.commit(run, job, then).await
}

/// A batch written in its own transaction and not committed yet. What several batches
/// of a sync share (the state counters, the hourly tally, the checkpoint, the job, the
/// portal's feed lock) is only written by [`Written::commit`], so batches written side
/// by side never wait on each other until they commit, one after the other.
pub struct Written {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    counts: CountDeltas,
    feed: changes::Deferred,
    synced: i64,
    failed: i64,
    pairs: Vec<Pair>,
}

/// Carries out the decisions for `items`: the app's writes, then the hub's writes,
/// index rows and activity in a transaction left open for [`Written::commit`].
pub async fn write(run: &Run<'_>, items: Vec<Item>) -> Result<Written, BatchError> {
    let settings = &run.sync.settings.0;
    let options = &run.sync.options.0;
    let sync_id = run.sync.id;
    let Prepared {
        decisions,
        mut app_writes,
        pending,
        retried_creates,
        app_deletes,
    } = prepare(settings, options, &items);

    // App creates are recorded as pending (with their idempotency key) before the call.
    if !pending.is_empty() {
        let mut conn = run.pool.acquire().await?;
        index::mark_pending(&mut conn, sync_id, &pending).await?;
    }
    let mut app_results: HashMap<usize, Result<AppRecord, RecordFailure>> = HashMap::new();
    // An app whose creates are not idempotent may have made a record before a crash
    // (sent, answer lost): it is looked up by its key before the create is sent again.
    if !run.capabilities.idempotent_creates && !retried_creates.is_empty() {
        let mut found = Vec::new();
        for (pos, w) in &app_writes {
            if !retried_creates.contains(pos) {
                continue;
            }
            let Some((field, value)) = plan::app_lookup(settings, &w.properties) else {
                continue;
            };
            let existing = run
                .connector
                .find(&run.sync.app_object, &field, &value)
                .await?;
            if let Some(record) = existing.into_iter().next() {
                found.push(*pos);
                app_results.insert(*pos, Ok(record));
            }
        }
        app_writes.retain(|(pos, _)| !found.contains(pos));
    }
    // The app's writes, in one call; per-item errors fail only their record.
    if !app_writes.is_empty() {
        let (positions, writes): (Vec<usize>, Vec<RecordWrite>) = app_writes.into_iter().unzip();
        let results = run.connector.write(&run.sync.app_object, writes).await?;
        for (pos, r) in positions.into_iter().zip(results) {
            app_results.insert(pos, r.map_err(|e| troubleshoot::app_refused(&e)));
        }
    }
    // Deletions propagate to the app before the index says so.
    for app_id in &app_deletes {
        match run.connector.delete(&run.sync.app_object, app_id).await {
            Ok(()) | Err(ConnectorError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }

    // One transaction: hub writes, index rows, activity; the commit adds the rest.
    let mut tx = run.pool.begin().await?;
    // A lock held for a minute is a stuck writer or a wait no one can end (a cycle
    // through the initial sync's commit order): the batch fails and is retried instead.
    sqlx::query("SET LOCAL lock_timeout = '60s'")
        .execute(&mut *tx)
        .await?;
    let mut feed = changes::Deferred::default();
    let mut hub_results: HashMap<usize, Result<hub_side::WrittenRecord, RecordFailure>> =
        HashMap::new();
    let HubWrites { creates, updates } = hub_writes(&items, &decisions, &app_results);
    let (create_at, creates): (Vec<usize>, Vec<&plan::Record>) = creates.into_iter().unzip();
    let (update_at, updates): (Vec<usize>, Vec<(i64, &plan::Record)>) = updates.into_iter().unzip();
    for (positions, writes) in [
        (create_at, hub_side::Writes::Create(&creates)),
        (update_at, hub_side::Writes::Update(&updates)),
    ] {
        if positions.is_empty() {
            continue;
        }
        let results = hub_side::write_many(
            &mut tx,
            &run.schema,
            run.sync.portal_id,
            sync_id,
            writes,
            &mut feed,
        )
        .await?;
        for (pos, r) in positions.into_iter().zip(results) {
            hub_results.insert(pos, r.map_err(|e| troubleshoot::hub_refused(&e)));
        }
    }
    let settled = settle(
        settings,
        options,
        &items,
        decisions,
        app_results,
        hub_results,
    );
    let mut counts = CountDeltas::default();
    let ids = index::save_many(
        &mut tx,
        sync_id,
        run.sync.generation,
        &settled.saves,
        &mut counts,
    )
    .await?;
    for h in &settled.archive_in_hub {
        // The hub's own archive path keeps the change feed and provenance right.
        sqlx::query("SAVEPOINT archive").execute(&mut *tx).await?;
        if crate::hub::records::archive_in(
            &mut tx,
            run.sync.portal_id,
            run.hub_object,
            *h,
            &WriteOrigin::Sync(sync_id),
            &mut feed,
        )
        .await
        .is_err()
        {
            sqlx::query("ROLLBACK TO SAVEPOINT archive")
                .execute(&mut *tx)
                .await?;
        }
    }
    index::log_activity(&mut tx, sync_id, &settled.activity(&ids)).await?;
    Ok(Written {
        tx,
        counts,
        feed,
        synced: settled.synced,
        failed: settled.failed,
        pairs: settled.pairs,
    })
}

impl Written {
    /// Adds the counters, the tally, the change feed's rows and `then` (the checkpoint
    /// and the job's end), and commits. `Ok(false)`: rolled back, because the job's
    /// lease was lost or the settings changed meanwhile; another run redoes it.
    pub async fn commit(self, run: &Run<'_>, job: &Job, then: Finish) -> Result<bool, BatchError> {
        let Written {
            mut tx,
            counts,
            feed,
            synced,
            failed,
            pairs,
        } = self;
        let sync_id = run.sync.id;
        counts.flush(&mut tx, sync_id).await?;
        index::tally(&mut tx, sync_id, synced, failed).await?;
        if !finish(&mut tx, job, run.sync, then).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        // Last: the portal's feed lock is held from here to the commit only.
        feed.append(&mut tx).await?;
        tx.commit().await?;
        if let Err(e) = associations::sync_pairs(run.pool, run.sync, &run.connector, &pairs).await {
            tracing::warn!(sync = %run.sync.id, error = %e, "associations not synced this time");
        }
        Ok(true)
    }
}

/// What a batch does before its transaction, decided from its items alone.
#[derive(Debug)]
pub struct Prepared {
    /// One per item, in order.
    pub decisions: Vec<Decision>,
    /// The app's writes, with the position of their item.
    pub app_writes: Vec<(usize, RecordWrite)>,
    /// Rows whose app create is about to be sent, with its idempotency key.
    pub pending: Vec<(i64, Uuid)>,
    /// Positions of creates sent before (their record has a pending key): the app may
    /// have made them before a crash.
    pub retried_creates: Vec<usize>,
    /// App records to delete: hub deletions propagate (when the sync says so).
    pub app_deletes: Vec<String>,
}

pub fn prepare(settings: &SyncSettings, options: &SyncOptions, items: &[Item]) -> Prepared {
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
            let app = it
                .app
                .as_ref()
                .filter(|a| !a.deleted)
                .map(|a| &a.properties);
            decide(settings, hub, app, pairing)
        })
        .collect();

    let mut app_writes = Vec::new();
    let mut pending = Vec::new();
    let mut retried_creates = Vec::new();
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
                // A retried create re-sends its key: the app answers with what it made.
                let key = it
                    .row
                    .as_ref()
                    .and_then(|r| r.pending_key)
                    .unwrap_or_else(Uuid::new_v4);
                if let Some(row) = &it.row {
                    if row.pending_key == Some(key) {
                        retried_creates.push(i);
                    } else {
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

    let app_deletes = if options.propagate_deletes {
        items
            .iter()
            .zip(&decisions)
            .filter(|(_, d)| matches!(d, Decision::Deleted { side: Side::Hub }))
            .filter_map(|(it, _)| it.row.as_ref().and_then(|r| r.app_id.clone()))
            .collect()
    } else {
        Vec::new()
    };
    Prepared {
        decisions,
        app_writes,
        pending,
        retried_creates,
        app_deletes,
    }
}

/// The hub's writes, with the position of their item: creates and updates go in a
/// statement each (a refused record fails alone). An update whose hub record is unknown
/// creates one; a record the app refused is not written.
#[derive(Debug, Default)]
pub struct HubWrites<'a> {
    pub creates: Vec<(usize, &'a plan::Record)>,
    pub updates: Vec<(usize, (i64, &'a plan::Record))>,
}

pub fn hub_writes<'a>(
    items: &[Item],
    decisions: &'a [Decision],
    app_results: &HashMap<usize, Result<AppRecord, RecordFailure>>,
) -> HubWrites<'a> {
    let mut writes = HubWrites::default();
    for (i, (it, d)) in items.iter().zip(decisions).enumerate() {
        let Decision::Sync(p) = d else { continue };
        let Some(w) = p.hub.as_ref() else { continue };
        if matches!(app_results.get(&i), Some(Err(_))) {
            continue;
        }
        match (w.kind, hub_id_of(it)) {
            (WriteKind::Update, Some(id)) => writes.updates.push((i, (id, &w.values))),
            _ => writes.creates.push((i, &w.values)),
        }
    }
    writes
}

fn hub_id_of(it: &Item) -> Option<i64> {
    it.hub
        .as_ref()
        .map(|h| h.id)
        .or(it.row.as_ref().and_then(|r| r.hub_id))
}

/// An activity line of the item at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub at: usize,
    pub kind: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

/// What a batch leaves in the index once both sides answered.
#[derive(Default)]
pub struct Settled {
    /// Rows to save: their id (`None`: a new row) and their new state.
    pub saves: Vec<(Option<i64>, RowUpdate)>,
    /// The item of each save.
    pub saved_items: Vec<usize>,
    pub lines: Vec<Line>,
    pub synced: i64,
    pub failed: i64,
    /// Hub records to archive: app deletions propagate (when the sync says so).
    pub archive_in_hub: Vec<i64>,
    /// Pairs in sync now, for association sync.
    pub pairs: Vec<Pair>,
}

impl Settled {
    /// The activity of saved rows, given the ids their save answered; an item that left
    /// no row leaves no line.
    pub fn activity(&self, ids: &[i64]) -> Vec<Activity<'_>> {
        let saved: HashMap<usize, i64> = self
            .saved_items
            .iter()
            .copied()
            .zip(ids.iter().copied())
            .collect();
        self.lines
            .iter()
            .filter_map(|l| {
                saved.get(&l.at).map(|&index_id| Activity {
                    index_id,
                    kind: l.kind,
                    message: &l.message,
                    details: l.details.as_ref(),
                })
            })
            .collect()
    }
}

/// Each item's new index row and activity, from its decision and what the two sides
/// answered (`app_results`, `hub_results`, by item position).
pub fn settle(
    settings: &SyncSettings,
    options: &SyncOptions,
    items: &[Item],
    decisions: Vec<Decision>,
    mut app_results: HashMap<usize, Result<AppRecord, RecordFailure>>,
    mut hub_results: HashMap<usize, Result<hub_side::WrittenRecord, RecordFailure>>,
) -> Settled {
    let mut out = Settled::default();
    for (i, (it, d)) in items.iter().zip(decisions).enumerate() {
        let prev_state = it.row.as_ref().map(|r| r.state);
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
            Decision::Sync(mut plan) => {
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
                    if let Some(result) = hub_results.remove(&i) {
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
                            Err(f) => failure = Some(f),
                        }
                    }
                }
                match failure {
                    Some(f) => {
                        out.failed += 1;
                        fail(&mut u, &f);
                        out.lines.push(line(i, "failed", f.message.clone(), None));
                    }
                    None => {
                        if let (Some(hub_id), Some(app_id)) = (u.hub_id, u.app_id.clone()) {
                            out.pairs.push(Pair {
                                hub_id,
                                app_id,
                                app_associations: it
                                    .app
                                    .as_ref()
                                    .map(|a| a.associations.clone())
                                    .unwrap_or_default(),
                            });
                        }
                        u.state = RecordState::Syncing;
                        u.snapshot = Some(std::mem::take(&mut plan.snapshot));
                        u.synced_now = hub_note.is_some() || app_note.is_some();
                        if u.synced_now {
                            out.synced += 1;
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
                                // A create's notes are empty: every field was written.
                                let details = (!plan.notes.is_empty())
                                    .then(|| serde_json::to_value(&plan.notes).ok())
                                    .flatten();
                                out.lines.push(line(
                                    i,
                                    kind,
                                    format!("{verb} {side}{what}"),
                                    details,
                                ));
                            }
                        }
                    }
                }
            }
            Decision::Excluded(e) => {
                u.state = RecordState::Excluded;
                u.reason_code = Some(e.code());
                u.message = Some(e.to_string());
                u.hint = Some(e.hint().to_string());
                if matches!(e, plan::Exclusion::Duplicate { .. }) {
                    // A duplicate does not claim identifiers: the first record keeps them.
                    u.keys.clear();
                }
                if prev_state != Some(RecordState::Excluded) {
                    out.lines.push(line(i, "excluded", e.to_string(), None));
                }
            }
            Decision::Failed(f) => {
                out.failed += 1;
                let f = RecordFailure::from(&f);
                fail(&mut u, &f);
                out.lines.push(line(i, "failed", f.message.clone(), None));
            }
            Decision::Deleted { side } => {
                u.state = RecordState::Deleted;
                u.deleted_side = Some(if side == Side::Hub { "hub" } else { "app" });
                let propagated = options.propagate_deletes;
                u.reason_code = Some(ReasonCode::Deleted);
                u.message = Some(format!(
                    "The record was deleted in the {side}.{}",
                    if propagated {
                        " It was deleted on the other side too (deletions propagate for this sync)."
                    } else {
                        " The deletion was not propagated."
                    }
                ));
                u.hint = Some(troubleshoot::guide(ReasonCode::Deleted).fix.to_string());
                if propagated && side == Side::App {
                    if let Some(h) = u.hub_id {
                        out.archive_in_hub.push(h);
                    }
                }
                if prev_state != Some(RecordState::Deleted) {
                    let message = u.message.clone().unwrap_or_default();
                    out.lines.push(line(i, "deleted", message, None));
                }
            }
            Decision::Skipped(_) => continue,
        }
        if it.row.is_none() && u.hub_id.is_none() && u.app_id.is_none() {
            continue;
        }
        out.saves.push((it.row.as_ref().map(|r| r.id), u));
        out.saved_items.push(i);
    }
    out
}

fn line(
    at: usize,
    kind: &'static str,
    message: String,
    details: Option<serde_json::Value>,
) -> Line {
    Line {
        at,
        kind,
        message,
        details,
    }
}

fn fail(u: &mut RowUpdate, f: &RecordFailure) {
    u.state = RecordState::Failed;
    u.reason_code = Some(f.code);
    u.message = Some(f.message.clone());
    u.field = f.field.clone();
    u.hint = Some(f.hint.clone());
    u.retry_in_secs = f.retry_in;
}

#[cfg(test)]
mod tests {
    //! The pure step on hand-made batches: no database, no app.
    use super::*;
    use crate::engine::plan::{ConflictWinner, Direction, FieldMapping, FieldType, ObjectKind};
    use serde_json::json;

    fn settings() -> SyncSettings {
        let mut s = SyncSettings::new(ObjectKind::Contact, Direction::TwoWay, ConflictWinner::Hub);
        s.mappings = vec![
            FieldMapping::same("email", FieldType::Text),
            FieldMapping::new("firstname", FieldType::Text, "first_name", FieldType::Text),
            FieldMapping::same("phone", FieldType::Text),
        ];
        s
    }

    /// Settles with the test settings and default options, the hub having written nothing.
    fn settle_plainly(
        items: &[Item],
        decisions: Vec<Decision>,
        app_results: HashMap<usize, Result<AppRecord, RecordFailure>>,
    ) -> Settled {
        let (settings, options) = (settings(), SyncOptions::default());
        settle(
            &settings,
            &options,
            items,
            decisions,
            app_results,
            HashMap::new(),
        )
    }

    fn propagating() -> SyncOptions {
        SyncOptions {
            propagate_deletes: true,
            ..Default::default()
        }
    }

    fn values(v: serde_json::Value) -> plan::Record {
        v.as_object().cloned().unwrap_or_default()
    }

    fn row(id: i64, hub_id: Option<i64>, app_id: Option<&str>, state: RecordState) -> IndexRow {
        IndexRow {
            id,
            hub_id,
            app_id: app_id.map(str::to_string),
            keys: vec![],
            label: String::new(),
            snapshot: None,
            state,
            reason_code: None,
            message: None,
            field: None,
            hint: None,
            deleted_side: None,
            pending_key: None,
            attempts: 0,
            generation: 1,
            last_synced_at: None,
            updated_at: chrono::Utc::now(),
        }
    }

    fn hub(id: i64, v: serde_json::Value) -> hub_side::HubRecord {
        hub_side::HubRecord {
            id,
            values: values(v),
            archived: false,
            label: String::new(),
        }
    }

    fn app(id: &str, v: serde_json::Value) -> AppRecord {
        AppRecord {
            id: id.into(),
            properties: values(v),
            associations: Default::default(),
            updated_at: None,
            deleted: false,
        }
    }

    /// An indexed hub record no app record matched: the hub pass's item.
    fn unmatched_hub(row_id: i64, hub_id: i64) -> Item {
        Item {
            row: Some(row(row_id, Some(hub_id), None, RecordState::Indexed)),
            hub: Some(hub(
                hub_id,
                json!({"email": "ann@x.io", "firstname": "Ann"}),
            )),
            ..Default::default()
        }
    }

    /// A pair synced once, as the index keeps it.
    fn synced_pair(row_id: i64, hub_id: i64, app_id: &str) -> Item {
        let new = Item {
            row: Some(row(
                row_id,
                Some(hub_id),
                Some(app_id),
                RecordState::Indexed,
            )),
            hub: Some(hub(
                hub_id,
                json!({"email": "ann@x.io", "firstname": "Ann"}),
            )),
            app: Some(app(
                app_id,
                json!({"email": "ann@x.io", "first_name": "Ann"}),
            )),
            ..Default::default()
        };
        let p = prepare(
            &settings(),
            &SyncOptions::default(),
            std::slice::from_ref(&new),
        );
        let Decision::Sync(plan) = &p.decisions[0] else {
            panic!("{:?}", p.decisions[0]);
        };
        let mut item = new.clone();
        item.row.as_mut().unwrap().snapshot = Some(sqlx::types::Json(plan.snapshot.clone()));
        item.row.as_mut().unwrap().state = RecordState::Syncing;
        item
    }

    fn refused() -> RecordFailure {
        RecordFailure {
            code: ReasonCode::AppValidation,
            message: "The app refused the record: no".into(),
            field: Some("email".into()),
            hint: "fix it".into(),
            retry_in: None,
        }
    }

    #[test]
    fn a_new_app_create_is_recorded_pending_with_the_key_it_is_sent_with() {
        let items = [unmatched_hub(7, 70)];
        let p = prepare(&settings(), &SyncOptions::default(), &items);
        assert_eq!(p.app_writes.len(), 1);
        let (at, write) = &p.app_writes[0];
        assert_eq!(*at, 0);
        assert_eq!(write.id, None);
        assert_eq!(p.pending.len(), 1);
        assert_eq!(p.pending[0].0, 7);
        assert_eq!(
            write.idempotency_key,
            Some(p.pending[0].1.to_string()),
            "the pending key is the one sent"
        );
    }

    #[test]
    fn a_retried_create_resends_its_pending_key_and_marks_nothing_again() {
        let key = Uuid::new_v4();
        let mut item = unmatched_hub(7, 70);
        item.row.as_mut().unwrap().pending_key = Some(key);
        item.row.as_mut().unwrap().state = RecordState::Pending;
        let p = prepare(&settings(), &SyncOptions::default(), &[item]);
        assert!(p.pending.is_empty());
        assert_eq!(p.app_writes[0].1.idempotency_key, Some(key.to_string()));
        assert_eq!(
            p.retried_creates,
            vec![0],
            "an app without idempotent creates looks it up first"
        );
        let lookup = plan::app_lookup(&settings(), &p.app_writes[0].1.properties);
        assert_eq!(lookup, Some(("email".to_string(), "ann@x.io".to_string())));
    }

    #[test]
    fn a_created_record_is_saved_syncing_with_its_pair_and_one_activity_line() {
        let items = [unmatched_hub(7, 70)];
        let p = prepare(&settings(), &SyncOptions::default(), &items);
        let app_results = HashMap::from([(0, Ok(app("a1", json!({"email": "ann@x.io"}))))]);
        let hub = hub_writes(&items, &p.decisions, &app_results);
        assert!(hub.creates.is_empty() && hub.updates.is_empty(), "{hub:?}");
        let s = settle_plainly(&items, p.decisions, app_results);
        assert_eq!(s.saves.len(), 1);
        let (id, u) = &s.saves[0];
        assert_eq!(*id, Some(7));
        assert_eq!(u.state, RecordState::Syncing);
        assert_eq!((u.hub_id, u.app_id.as_deref()), (Some(70), Some("a1")));
        assert!(u.synced_now && u.snapshot.is_some());
        assert_eq!(u.keys, vec!["email:ann@x.io".to_string()]);
        assert_eq!((s.synced, s.failed), (1, 0));
        let kinds: Vec<(&str, &str)> = s
            .lines
            .iter()
            .map(|l| (l.kind, l.message.as_str()))
            .collect();
        assert_eq!(kinds, vec![("created_in_app", "Created in app")]);
        assert_eq!(s.pairs.len(), 1);
        assert_eq!((s.pairs[0].hub_id, s.pairs[0].app_id.as_str()), (70, "a1"));
    }

    #[test]
    fn a_record_the_app_refused_fails_alone_and_is_not_written_to_the_hub() {
        // Each side changed a field since the snapshot: the pair writes to both.
        let mut item = synced_pair(7, 70, "a1");
        item.hub = Some(hub(70, json!({"email": "ann@x.io", "firstname": "Anna"})));
        item.app = Some(app(
            "a1",
            json!({"email": "ann@x.io", "first_name": "Ann", "phone": "+1 555"}),
        ));
        let other = unmatched_hub(8, 80);
        let items = [item, other];
        let p = prepare(&settings(), &SyncOptions::default(), &items);
        assert_eq!(p.app_writes.len(), 2);
        let updated_in_hub = |app_results: &HashMap<usize, Result<AppRecord, RecordFailure>>| {
            let hub = hub_writes(&items, &p.decisions, app_results);
            assert!(hub.creates.is_empty(), "{hub:?}");
            hub.updates.iter().map(|(at, _)| *at).collect::<Vec<_>>()
        };
        let accepted = HashMap::from([(0, Ok(app("a1", json!({}))))]);
        assert_eq!(updated_in_hub(&accepted), vec![0]);
        let app_results = HashMap::from([
            (0, Err(refused())),
            (1, Ok(app("a2", json!({"email": "ann@x.io"})))),
        ]);
        assert_eq!(updated_in_hub(&app_results), Vec::<usize>::new());
        let s = settle_plainly(&items, p.decisions, app_results);
        let (_, failed) = &s.saves[0];
        assert_eq!(failed.state, RecordState::Failed);
        assert_eq!(failed.reason_code, Some(ReasonCode::AppValidation));
        assert_eq!(failed.field.as_deref(), Some("email"));
        assert_eq!(s.saves[1].1.state, RecordState::Syncing);
        assert_eq!((s.synced, s.failed), (1, 1));
        assert_eq!(s.lines[0].kind, "failed");
        assert_eq!(s.lines[0].message, "The app refused the record: no");
    }

    #[test]
    fn an_update_whose_hub_record_is_unknown_creates_one() {
        let mut item = synced_pair(7, 70, "a1");
        item.app = Some(app(
            "a1",
            json!({"email": "ann@x.io", "first_name": "Anna"}),
        ));
        let mut lost = item.clone();
        lost.hub = None;
        lost.row.as_mut().unwrap().hub_id = None;
        let items = [item, lost];
        let p = prepare(&settings(), &SyncOptions::default(), &items);
        let hub = hub_writes(&items, &p.decisions, &HashMap::new());
        assert_eq!(
            hub.updates
                .iter()
                .map(|(at, (id, _))| (*at, *id))
                .collect::<Vec<_>>(),
            vec![(0, 70)]
        );
        assert_eq!(
            hub.creates.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
            vec![1]
        );
    }

    #[test]
    fn an_exclusion_is_logged_when_the_record_becomes_excluded_not_each_time_after() {
        let no_email = |state: RecordState| Item {
            row: Some(row(7, Some(70), None, state)),
            hub: Some(hub(70, json!({"firstname": "Ann"}))),
            ..Default::default()
        };
        for (state, lines) in [(RecordState::Indexed, 1), (RecordState::Excluded, 0)] {
            let items = [no_email(state)];
            let p = prepare(&settings(), &SyncOptions::default(), &items);
            let s = settle_plainly(&items, p.decisions, HashMap::new());
            assert_eq!(s.saves[0].1.state, RecordState::Excluded);
            assert_eq!(s.saves[0].1.reason_code, Some(ReasonCode::NoValidEmail));
            assert_eq!(s.lines.len(), lines, "from {state}");
            assert_eq!((s.synced, s.failed), (0, 0));
        }
    }

    #[test]
    fn a_duplicate_gives_up_its_identifiers() {
        let mut item = unmatched_hub(7, 70);
        item.preset = Some(plan::Exclusion::Duplicate {
            first: "a0".into(),
            identifier: "email".into(),
        });
        let items = [item];
        let p = prepare(&settings(), &SyncOptions::default(), &items);
        assert!(p.app_writes.is_empty());
        let s = settle_plainly(&items, p.decisions, HashMap::new());
        assert_eq!(s.saves[0].1.reason_code, Some(ReasonCode::Duplicate));
        assert!(s.saves[0].1.keys.is_empty());
    }

    #[test]
    fn deletions_propagate_only_when_the_sync_says_so() {
        let mut in_hub = synced_pair(7, 70, "a1");
        in_hub.hub.as_mut().unwrap().archived = true;
        let mut in_app = synced_pair(8, 80, "a2");
        in_app.app.as_mut().unwrap().deleted = true;
        let items = [in_hub, in_app];
        for (options, deletes, archives) in [
            (propagating(), vec!["a1".to_string()], vec![80]),
            (SyncOptions::default(), vec![], vec![]),
        ] {
            let p = prepare(&settings(), &options, &items);
            assert_eq!(p.app_deletes, deletes);
            let s = settle(
                &settings(),
                &options,
                &items,
                p.decisions,
                HashMap::new(),
                HashMap::new(),
            );
            assert_eq!(s.archive_in_hub, archives);
            let sides: Vec<_> = s
                .saves
                .iter()
                .map(|(_, u)| (u.state, u.deleted_side))
                .collect();
            assert_eq!(
                sides,
                vec![
                    (RecordState::Deleted, Some("hub")),
                    (RecordState::Deleted, Some("app"))
                ]
            );
            assert_eq!(s.lines.len(), 2);
            assert!(
                s.lines[0]
                    .message
                    .starts_with("The record was deleted in the hub."),
                "{}",
                s.lines[0].message
            );
        }
    }

    #[test]
    fn activity_lines_take_the_ids_of_their_saved_rows() {
        let s = Settled {
            saved_items: vec![0, 2],
            lines: vec![
                line(0, "failed", "a".into(), None),
                line(1, "failed", "b".into(), None),
                line(2, "excluded", "c".into(), None),
            ],
            ..Default::default()
        };
        let a = s.activity(&[11, 33]);
        let got: Vec<(i64, &str)> = a.iter().map(|a| (a.index_id, a.kind)).collect();
        assert_eq!(got, vec![(11, "failed"), (33, "excluded")]);
    }
}
