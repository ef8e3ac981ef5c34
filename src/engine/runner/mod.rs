//! How a sync runs: the initial sync's three steps (`initial`), the incremental flows
//! (`incremental`) and event sync (`events`), built on one batch routine (`apply`):
//! gather records and index rows, ask `plan::decide` about each, carry the decisions
//! out, and commit the index, the counters and the checkpoint in the transaction that
//! ends (or continues) the job. This module holds what they share: the job kinds and
//! their dispatch, the types a batch goes through, and gathering a batch's items.
//!
//! Crash safety: hub writes, index rows, counters and checkpoints commit together (the
//! hub is our own database). App creates are first recorded as *pending* with an
//! idempotency key, committed before the call, so a retried batch re-sends the same key
//! and the app answers with the record it already made; apps without idempotency are
//! reconciled by identifier on the next pass. A checkpoint only moves with the work it
//! covers: a crash anywhere repeats at most the current batch, and repeating is harmless.

mod apply;
mod events;
mod incremental;
mod initial;

use super::definition::SyncRow;
use super::hub_side::{self, HubRecord};
use super::index::{self, IndexRow};
use super::plan::{
    self, choose_match, identifiers, Candidate, DuplicateTracker, MatchOutcome, Side,
};
use super::queue::{self, Job};
use crate::connectors::{AppRecord, Connector, ConnectorError};
use crate::hub::{schema::ObjectSchema, ObjectType};
use crate::model::ReasonCode;
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub const INITIAL: &str = "initial_sync";
pub const HUB_CHANGES: &str = "hub_changes";
pub const APP_CHANGES: &str = "app_changes";
pub const EVENTS: &str = "events";
pub const RETRY: &str = "retry_failed";
pub const RESYNC_DELETED: &str = "resync_deleted";

/// Records per page of the app's listings and feeds, and per page of the index.
const PAGE: usize = 100;

/// Runs one job of a sync, by its kind.
pub async fn run(run: &Run<'_>, job: &Job) -> Result<Outcome, BatchError> {
    match job.kind.as_str() {
        INITIAL => initial::step(run, job).await,
        HUB_CHANGES => incremental::hub_changes(run, job).await,
        APP_CHANGES => incremental::app_changes(run, job).await,
        EVENTS => events::events(run, job).await,
        RETRY => {
            let all = job
                .payload
                .get("all")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            incremental::retry_failed(run, job, all).await
        }
        RESYNC_DELETED => incremental::resync_deleted(run, job).await,
        other => {
            tracing::warn!(kind = other, "unknown job kind dropped");
            complete(run.pool, job).await
        }
    }
}

/// Ends a job that has nothing (more) to do.
pub async fn complete(pool: &PgPool, job: &Job) -> Result<Outcome, BatchError> {
    let mut tx = pool.begin().await?;
    if queue::complete(&mut tx, job).await? {
        tx.commit().await?;
    }
    Ok(Outcome::Done)
}

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
    /// What the app can do (idempotent creates or not, …).
    pub capabilities: crate::connectors::Capabilities,
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

impl Item {
    /// Items for index rows whose records are still to be read.
    pub fn of_rows(rows: Vec<IndexRow>) -> Vec<Item> {
        rows.into_iter()
            .map(|r| Item {
                row: Some(r),
                ..Default::default()
            })
            .collect()
    }
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

/// Records of one side to match, with the index row each has already (if any).
pub type Unmatched = Vec<(Option<IndexRow>, Option<HubRecord>, Option<AppRecord>)>;

/// The identifiers of unmatched records of `side`, one list per record.
fn identify(sync: &SyncRow, side: Side, records: &Unmatched) -> Vec<Vec<plan::Identifier>> {
    let settings = &sync.settings.0;
    records
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
        .collect()
}

/// Every index row sharing an identifier with the records (their match candidates),
/// oldest first, in one query.
async fn candidates(
    conn: &mut PgConnection,
    sync: &SyncRow,
    identified: &[Vec<plan::Identifier>],
) -> sqlx::Result<Vec<IndexRow>> {
    let all_keys: Vec<String> =
        index::keys_text(&identified.iter().flatten().cloned().collect::<Vec<_>>());
    index::with_keys(conn, sync.id, &all_keys).await
}

/// Finds, for unpaired records of one side, their partner among the index's rows of the
/// other side (the match key), first seen wins. `side` is the side of `records`.
pub async fn match_records(
    conn: &mut PgConnection,
    sync: &SyncRow,
    side: Side,
    records: Unmatched,
) -> sqlx::Result<Vec<Item>> {
    let identified = identify(sync, side, &records);
    let candidates_rows = candidates(conn, sync, &identified).await?;
    match_candidates(conn, sync, side, records, identified, candidates_rows).await
}

/// [`match_records`] with the records' identifiers and candidates already read.
pub async fn match_candidates(
    conn: &mut PgConnection,
    sync: &SyncRow,
    side: Side,
    records: Unmatched,
    identified: Vec<Vec<plan::Identifier>>,
    candidates_rows: Vec<IndexRow>,
) -> sqlx::Result<Vec<Item>> {
    let mut tracker = DuplicateTracker::new();
    let mut claimed: HashSet<i64> = HashSet::new();
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
                    && r.reason_code != Some(ReasonCode::Duplicate)
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

/// The items of a page of app records: `paired` as they are, `fresh` matched against the
/// index; then each loaded with the side it lacks.
pub async fn app_page_items(
    run: &Run<'_>,
    conn: &mut PgConnection,
    paired: Vec<Item>,
    fresh: Unmatched,
) -> Result<Vec<Item>, BatchError> {
    let mut items = match_records(conn, run.sync, Side::App, fresh).await?;
    items.extend(paired);
    complete_items(run, &mut items).await?;
    Ok(items)
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
