//! The per-sync record index in Postgres: one row per record or pair, with the match
//! identifiers, the snapshot of the last synced values, the state and its reason.
//! Counters per state change in the same transactions, so status views never scan it.

use super::plan::{Identifier, Snapshot};
use crate::model::{ReasonCode, RecordState};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IndexRow {
    pub id: i64,
    pub hub_id: Option<i64>,
    pub app_id: Option<String>,
    pub keys: Vec<String>,
    pub label: String,
    pub snapshot: Option<Json<Snapshot>>,
    pub state: RecordState,
    pub reason_code: Option<ReasonCode>,
    pub message: Option<String>,
    pub field: Option<String>,
    pub hint: Option<String>,
    pub deleted_side: Option<String>,
    pub pending_key: Option<Uuid>,
    pub attempts: i32,
    pub generation: i32,
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl IndexRow {
    /// Paired: both records known and synced at least once.
    pub fn is_paired(&self) -> bool {
        self.hub_id.is_some() && self.app_id.is_some() && self.snapshot.is_some()
    }
}

pub const COLUMNS: &str =
    "id, hub_id, app_id, keys, label, snapshot, state, reason_code, message, field, hint,
    deleted_side, pending_key, attempts, generation, last_synced_at, updated_at";

/// Identifiers are stored as `kind:value` text so that a GIN index finds candidates.
pub fn key_text(i: &Identifier) -> String {
    match i {
        Identifier::Email(v) => format!("email:{v}"),
        Identifier::CompanyName(v) => format!("name:{v}"),
        Identifier::Domain(v) => format!("domain:{v}"),
        Identifier::Custom(v) => format!("custom:{v}"),
    }
}

pub fn key_from_text(s: &str) -> Option<Identifier> {
    let (kind, v) = s.split_once(':')?;
    let v = v.to_string();
    Some(match kind {
        "email" => Identifier::Email(v),
        "name" => Identifier::CompanyName(v),
        "domain" => Identifier::Domain(v),
        "custom" => Identifier::Custom(v),
        _ => return None,
    })
}

pub fn keys_text(ids: &[Identifier]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(key_text).collect();
    v.sort();
    v.dedup();
    v
}

/// State-count changes of one transaction, written once at its end.
#[derive(Debug, Default)]
pub struct CountDeltas(BTreeMap<RecordState, i64>);

impl CountDeltas {
    pub fn moved(&mut self, from: Option<RecordState>, to: RecordState) {
        self.moved_many(from, to, 1);
    }

    pub fn moved_many(&mut self, from: Option<RecordState>, to: RecordState, n: i64) {
        if from == Some(to) || n == 0 {
            return;
        }
        if let Some(f) = from {
            *self.0.entry(f).or_default() -= n;
        }
        *self.0.entry(to).or_default() += n;
    }

    /// A row that was in `state` is gone (deleted, e.g. merged into its partner).
    pub fn removed(&mut self, state: RecordState) {
        *self.0.entry(state).or_default() -= 1;
    }

    pub async fn flush(self, conn: &mut PgConnection, sync_id: Uuid) -> sqlx::Result<()> {
        let (states, deltas): (Vec<RecordState>, Vec<i64>) =
            self.0.into_iter().filter(|(_, n)| *n != 0).unzip();
        if states.is_empty() {
            return Ok(());
        }
        // One statement for every state (in a fixed order, so concurrent flushes lock
        // the rows alike).
        sqlx::query(
            "INSERT INTO sync_counts (sync_id, state, n)
             SELECT $1, * FROM UNNEST($2::text[], $3::bigint[])
             ON CONFLICT (sync_id, state) DO UPDATE SET n = sync_counts.n + EXCLUDED.n",
        )
        .bind(sync_id)
        .bind(&states)
        .bind(&deltas)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Hub indexing: stores the identifiers of hub records (new rows start `indexed`;
/// existing ones, e.g. pairs from before the settings changed, keep their state).
pub async fn index_hub_records(
    conn: &mut PgConnection,
    sync_id: Uuid,
    generation: i32,
    records: &[(i64, Vec<String>, String)],
) -> sqlx::Result<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = records.iter().map(|r| r.0).collect();
    // Postgres arrays cannot nest ragged arrays: keys travel as JSON.
    let keys: Vec<Json<&Vec<String>>> = records.iter().map(|r| Json(&r.1)).collect();
    let labels: Vec<&str> = records.iter().map(|r| r.2.as_str()).collect();
    let inserted: Vec<bool> = sqlx::query_scalar(
        "INSERT INTO sync_index (sync_id, hub_id, keys, label, state, generation)
         SELECT $1, t.hub_id, ARRAY(SELECT jsonb_array_elements_text(t.keys)), t.label, 'indexed', $2
         FROM UNNEST($3::bigint[], $4::jsonb[], $5::text[]) AS t(hub_id, keys, label)
         ON CONFLICT (sync_id, hub_id) WHERE hub_id IS NOT NULL DO UPDATE SET
             keys = CASE WHEN sync_index.state = 'excluded' AND sync_index.reason_code = 'duplicate'
                         THEN sync_index.keys ELSE EXCLUDED.keys END,
             label = EXCLUDED.label, generation = EXCLUDED.generation
         RETURNING xmax = 0",
    )
    .bind(sync_id)
    .bind(generation)
    .bind(&ids)
    .bind(&keys)
    .bind(&labels)
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = CountDeltas::default();
    counts.moved_many(
        None,
        RecordState::Indexed,
        inserted.iter().filter(|i| **i).count() as i64,
    );
    counts.flush(conn, sync_id).await?;
    Ok(inserted.len() as u64)
}

pub async fn by_app_ids(
    conn: &mut PgConnection,
    sync_id: Uuid,
    ids: &[String],
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND app_id = ANY($2)"
    ))
    .bind(sync_id)
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub async fn by_hub_ids(
    conn: &mut PgConnection,
    sync_id: Uuid,
    ids: &[i64],
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND hub_id = ANY($2)"
    ))
    .bind(sync_id)
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub async fn by_ids(
    conn: &mut PgConnection,
    sync_id: Uuid,
    ids: &[i64],
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND id = ANY($2) ORDER BY id"
    ))
    .bind(sync_id)
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Rows sharing any of these identifiers, oldest first (the match candidates).
pub async fn with_keys(
    conn: &mut PgConnection,
    sync_id: Uuid,
    keys: &[String],
) -> sqlx::Result<Vec<IndexRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE id IN
           (SELECT index_id FROM sync_index_key WHERE sync_id = $1 AND key = ANY($2))
         ORDER BY id"
    ))
    .bind(sync_id)
    .bind(keys)
    .fetch_all(conn)
    .await
}

/// The hub pass: hub records not decided yet (or whose app create was interrupted).
pub async fn undecided_hub_rows(
    conn: &mut PgConnection,
    sync_id: Uuid,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index
         WHERE sync_id = $1 AND id > $2 AND app_id IS NULL AND hub_id IS NOT NULL
           AND state IN ('indexed', 'pending')
         ORDER BY id LIMIT $3"
    ))
    .bind(sync_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn in_state(
    conn: &mut PgConnection,
    sync_id: Uuid,
    state: RecordState,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND state = $2 AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(sync_id)
    .bind(state)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Which records a sync's list, and an export of it, show.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// One state; `None`: every state people see.
    pub state: Option<RecordState>,
    /// One reason code.
    pub reason: Option<ReasonCode>,
    /// Words in the label or either side's id.
    pub search: Option<String>,
}

/// A page of the rows a selection shows, in id order after the id `after`.
pub async fn select(
    db: impl sqlx::PgExecutor<'_>,
    sync_id: Uuid,
    sel: &Selection,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<IndexRow>> {
    let states = sel.state.map_or(RecordState::ALL.to_vec(), |s| vec![s]);
    let search = sel
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", s.replace('%', "\\%").replace('_', "\\_")));
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND state = ANY($2) AND id > $3
           AND ($4::text IS NULL OR reason_code = $4)
           AND ($5::text IS NULL OR label ILIKE $5 OR app_id ILIKE $5 OR hub_id::text ILIKE $5)
         ORDER BY id LIMIT $6"
    ))
    .bind(sync_id)
    .bind(&states)
    .bind(after)
    .bind(sel.reason)
    .bind(&search)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many hub records the hub pass has to decide (the total its progress shows).
pub async fn undecided_count(conn: &mut PgConnection, sync_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM sync_index WHERE sync_id = $1 AND app_id IS NULL AND hub_id IS NOT NULL AND state IN ('indexed', 'pending')",
    )
    .bind(sync_id)
    .fetch_one(conn)
    .await
}

/// Failed rows after `after_id` whose retry time has come (or all of them).
pub async fn failed_due(
    conn: &mut PgConnection,
    sync_id: Uuid,
    all: bool,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND state = 'failed' AND ($2 OR retry_at <= now())
         AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(sync_id)
    .bind(all)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Pairs deleted on `side` after `after_id` (only those in `only`, if given).
pub async fn deleted_on(
    conn: &mut PgConnection,
    sync_id: Uuid,
    side: &str,
    only: Option<&[i64]>,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<IndexRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_index WHERE sync_id = $1 AND state = 'deleted' AND deleted_side = $2
         AND id > $3 AND ($4::bigint[] IS NULL OR id = ANY($4)) ORDER BY id LIMIT $5"
    ))
    .bind(sync_id)
    .bind(side)
    .bind(after_id)
    .bind(only)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Removes rows merged into their partner's, with their counts.
pub async fn remove(conn: &mut PgConnection, sync_id: Uuid, ids: &[i64]) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let states: Vec<RecordState> =
        sqlx::query_scalar("DELETE FROM sync_index WHERE id = ANY($1) RETURNING state")
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    let mut counts = CountDeltas::default();
    for state in states {
        counts.removed(state);
    }
    counts.flush(conn, sync_id).await
}

/// How many rows of the sync are in each state.
pub async fn counts(
    db: impl sqlx::PgExecutor<'_>,
    sync_id: Uuid,
) -> sqlx::Result<Vec<(RecordState, i64)>> {
    sqlx::query_as("SELECT state, n FROM sync_counts WHERE sync_id = $1")
        .bind(sync_id)
        .fetch_all(db)
        .await
}

/// Marks rows `pending` with the idempotency keys of the app creates about to be sent;
/// committed before the HTTP call, so a crash can be reconciled.
pub async fn mark_pending(
    conn: &mut PgConnection,
    sync_id: Uuid,
    rows: &[(i64, Uuid)],
) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let (ids, keys): (Vec<i64>, Vec<Uuid>) = rows.iter().copied().unzip();
    let from: Vec<RecordState> = sqlx::query_scalar(
        "WITH t AS (SELECT * FROM UNNEST($2::bigint[], $3::uuid[]) AS t(id, pending_key)),
              old AS (SELECT s.id, s.state FROM sync_index s
                      WHERE s.sync_id = $1 AND s.id IN (SELECT id FROM t) FOR UPDATE)
         UPDATE sync_index s SET state = 'pending', pending_key = t.pending_key, updated_at = now()
         FROM t JOIN old ON old.id = t.id WHERE s.id = t.id RETURNING old.state",
    )
    .bind(sync_id)
    .bind(&ids)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = CountDeltas::default();
    for state in from {
        counts.moved(Some(state), RecordState::Pending);
    }
    counts.flush(conn, sync_id).await
}

/// The final state of a record after a decision was carried out.
#[derive(Debug, Clone, Default)]
pub struct RowUpdate {
    pub hub_id: Option<i64>,
    pub app_id: Option<String>,
    pub keys: Vec<String>,
    pub label: String,
    pub snapshot: Option<Snapshot>,
    pub state: RecordState,
    pub reason_code: Option<ReasonCode>,
    pub message: Option<String>,
    pub field: Option<String>,
    pub hint: Option<String>,
    pub deleted_side: Option<&'static str>,
    pub retry_in_secs: Option<f64>,
    pub synced_now: bool,
}

/// Binds the [`Columns`] of rows to save, in order, after a statement's own parameters.
macro_rules! bind_columns {
    ($query:expr, $c:expr) => {
        $query
            .bind(&$c.hub_id)
            .bind(&$c.app_id)
            .bind(&$c.keys)
            .bind(&$c.label)
            .bind(&$c.snapshot)
            .bind(&$c.state)
            .bind(&$c.reason_code)
            .bind(&$c.message)
            .bind(&$c.field)
            .bind(&$c.hint)
            .bind(&$c.deleted_side)
            .bind(&$c.retry_in)
            .bind(&$c.synced_now)
    };
}

/// Writes rows' final states: existing rows (`Some` id) in one statement, new rows
/// (`None`) in another; answers each row's id, in order, and adds the moves of the state
/// counters to `counts` (the caller flushes them). The states moved from are those the
/// rows had when locked, not when the batch read them: a webhook may have marked a pair
/// queued meanwhile.
pub async fn save_many(
    conn: &mut PgConnection,
    sync_id: Uuid,
    generation: i32,
    rows: &[(Option<i64>, RowUpdate)],
    counts: &mut CountDeltas,
) -> sqlx::Result<Vec<i64>> {
    let (existing, new): (Vec<_>, Vec<_>) = rows.iter().partition(|(id, _)| id.is_some());
    let previous: HashMap<i64, RecordState> = if existing.is_empty() {
        HashMap::new()
    } else {
        let ids: Vec<i64> = existing.iter().filter_map(|(id, _)| *id).collect();
        let updates: Vec<&RowUpdate> = existing.iter().map(|(_, u)| u).collect();
        let c = Columns::of(&updates);
        let query = sqlx::query_as(
            "WITH t AS (
                SELECT * FROM UNNEST($3::bigint[], $4::bigint[], $5::text[], $6::jsonb[], $7::text[],
                                     $8::jsonb[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                                     $14::text[], $15::float8[], $16::bool[])
                    AS t(id, hub_id, app_id, keys, label, snapshot, state, reason_code, message,
                         field, hint, deleted_side, retry_in, synced_now)),
             locked AS (
                SELECT s.id, s.state FROM sync_index s
                WHERE s.sync_id = $1 AND s.id IN (SELECT id FROM t) FOR UPDATE)
             UPDATE sync_index s SET hub_id = t.hub_id, app_id = t.app_id,
                 keys = ARRAY(SELECT jsonb_array_elements_text(t.keys)), label = t.label,
                 snapshot = COALESCE(t.snapshot, s.snapshot), state = t.state,
                 reason_code = t.reason_code, message = t.message, field = t.field, hint = t.hint,
                 deleted_side = t.deleted_side, pending_key = NULL,
                 attempts = CASE WHEN t.state = 'failed' THEN s.attempts + 1 ELSE 0 END,
                 retry_at = CASE WHEN t.retry_in IS NULL THEN NULL ELSE now() + make_interval(secs => t.retry_in) END,
                 generation = $2,
                 last_synced_at = CASE WHEN t.synced_now THEN now() ELSE s.last_synced_at END,
                 updated_at = now()
             FROM t JOIN locked l ON l.id = t.id WHERE s.id = t.id AND s.sync_id = $1
             RETURNING s.id, l.state",
        )
        .bind(sync_id)
        .bind(generation)
        .bind(&ids);
        bind_columns!(query, c)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect()
    };
    let mut fresh_ids: Vec<i64> = if new.is_empty() {
        Vec::new()
    } else {
        let inserts: Vec<&RowUpdate> = new.iter().map(|(_, u)| u).collect();
        let c = Columns::of(&inserts);
        // Ids are taken per row first (MATERIALIZED: once each) and answered in order.
        let query = sqlx::query_scalar(
            "WITH t AS MATERIALIZED (
                SELECT nextval((SELECT pg_get_serial_sequence('sync_index', 'id')::regclass)) AS id, t.*
                FROM UNNEST($3::bigint[], $4::text[], $5::jsonb[], $6::text[], $7::jsonb[], $8::text[],
                            $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::float8[],
                            $15::bool[]) WITH ORDINALITY
                    AS t(hub_id, app_id, keys, label, snapshot, state, reason_code, message, field,
                         hint, deleted_side, retry_in, synced_now, n)),
             ins AS (
                INSERT INTO sync_index (id, sync_id, hub_id, app_id, keys, label, snapshot, state,
                                        reason_code, message, field, hint, deleted_side, attempts,
                                        retry_at, generation, last_synced_at)
                SELECT t.id, $1, t.hub_id, t.app_id, ARRAY(SELECT jsonb_array_elements_text(t.keys)),
                       t.label, t.snapshot, t.state, t.reason_code, t.message, t.field, t.hint,
                       t.deleted_side, CASE WHEN t.state = 'failed' THEN 1 ELSE 0 END,
                       CASE WHEN t.retry_in IS NULL THEN NULL ELSE now() + make_interval(secs => t.retry_in) END,
                       $2, CASE WHEN t.synced_now THEN now() END
                FROM t)
             SELECT id FROM t ORDER BY n",
        )
        .bind(sync_id)
        .bind(generation);
        bind_columns!(query, c).fetch_all(&mut *conn).await?
    };
    fresh_ids.reverse();
    let ids: Vec<i64> = rows
        .iter()
        .map(|(id, _)| {
            id.or_else(|| fresh_ids.pop())
                .expect("an id for every new row")
        })
        .collect();
    for (id, (_, u)) in ids.iter().zip(rows) {
        counts.moved(previous.get(id).copied(), u.state);
    }
    Ok(ids)
}

/// The columns of rows to save, as arrays to unnest.
struct Columns<'a> {
    hub_id: Vec<Option<i64>>,
    app_id: Vec<Option<&'a str>>,
    /// Ragged text arrays cannot travel in a Postgres array: the keys go as JSON.
    keys: Vec<Json<&'a Vec<String>>>,
    label: Vec<&'a str>,
    snapshot: Vec<Option<Json<&'a Snapshot>>>,
    state: Vec<RecordState>,
    reason_code: Vec<Option<ReasonCode>>,
    message: Vec<Option<&'a str>>,
    field: Vec<Option<&'a str>>,
    hint: Vec<Option<&'a str>>,
    deleted_side: Vec<Option<&'static str>>,
    retry_in: Vec<Option<f64>>,
    synced_now: Vec<bool>,
}

impl<'a> Columns<'a> {
    fn of(rows: &[&'a RowUpdate]) -> Self {
        Columns {
            hub_id: rows.iter().map(|u| u.hub_id).collect(),
            app_id: rows.iter().map(|u| u.app_id.as_deref()).collect(),
            keys: rows.iter().map(|u| Json(&u.keys)).collect(),
            label: rows.iter().map(|u| u.label.as_str()).collect(),
            snapshot: rows.iter().map(|u| u.snapshot.as_ref().map(Json)).collect(),
            state: rows.iter().map(|u| u.state).collect(),
            reason_code: rows.iter().map(|u| u.reason_code).collect(),
            message: rows.iter().map(|u| u.message.as_deref()).collect(),
            field: rows.iter().map(|u| u.field.as_deref()).collect(),
            hint: rows.iter().map(|u| u.hint.as_deref()).collect(),
            deleted_side: rows.iter().map(|u| u.deleted_side).collect(),
            retry_in: rows.iter().map(|u| u.retry_in_secs).collect(),
            synced_now: rows.iter().map(|u| u.synced_now).collect(),
        }
    }
}

/// A change notice from the app (a webhook) queues the pairs of that record in the
/// connection's listening syncs until a job has looked at it. Rows a job holds right
/// now are left alone: that job or the one the notice asked for will see the change.
pub async fn mark_queued(
    conn: &mut PgConnection,
    connection_id: Uuid,
    app_object: &str,
    app_id: &str,
) -> sqlx::Result<()> {
    let queued: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sync_index i SET state = 'queued', updated_at = now()
         WHERE i.id IN (
             SELECT x.id FROM sync_index x JOIN syncs s ON s.id = x.sync_id
             WHERE s.connection_id = $1 AND s.app_object = $2 AND s.enabled AND s.phase = 'listening'
               AND x.app_id = $3 AND x.state = 'syncing'
             FOR UPDATE OF x SKIP LOCKED)
         RETURNING i.sync_id",
    )
    .bind(connection_id)
    .bind(app_object)
    .bind(app_id)
    .fetch_all(&mut *conn)
    .await?;
    for sync_id in &queued {
        let mut counts = CountDeltas::default();
        counts.moved(Some(RecordState::Syncing), RecordState::Queued);
        counts.flush(conn, *sync_id).await?;
    }
    Ok(())
}

/// After a job read the app's feed to its end at `read_at`, pairs queued before then
/// have been looked at (a change the notice was about is in what the job read, or was
/// read earlier): those without a change to carry out go back to syncing.
pub async fn clear_queued(
    conn: &mut PgConnection,
    sync_id: Uuid,
    read_at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    let cleared = sqlx::query(
        "UPDATE sync_index SET state = 'syncing', updated_at = now()
         WHERE sync_id = $1 AND state = 'queued' AND updated_at < $2",
    )
    .bind(sync_id)
    .bind(read_at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let mut counts = CountDeltas::default();
    counts.moved_many(
        Some(RecordState::Queued),
        RecordState::Syncing,
        cleared as i64,
    );
    counts.flush(conn, sync_id).await
}

/// The database's clock, as the queued marks use it.
pub async fn clock(conn: &mut PgConnection) -> sqlx::Result<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("SELECT now()").fetch_one(conn).await
}

#[derive(Debug, Clone, Serialize)]
pub struct Activity<'a> {
    pub index_id: i64,
    pub kind: &'a str,
    pub message: &'a str,
    pub details: Option<&'a serde_json::Value>,
}

pub async fn log_activity(
    conn: &mut PgConnection,
    sync_id: Uuid,
    items: &[Activity<'_>],
) -> sqlx::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = items.iter().map(|a| a.index_id).collect();
    let kinds: Vec<&str> = items.iter().map(|a| a.kind).collect();
    let messages: Vec<&str> = items.iter().map(|a| a.message).collect();
    let details: Vec<Option<Json<&serde_json::Value>>> =
        items.iter().map(|a| a.details.map(Json)).collect();
    sqlx::query(
        "INSERT INTO sync_activity (sync_id, index_id, kind, message, details)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::jsonb[])",
    )
    .bind(sync_id)
    .bind(&ids)
    .bind(&kinds)
    .bind(&messages)
    .bind(&details)
    .execute(conn)
    .await?;
    Ok(())
}

/// The hourly tally behind the status chart.
pub async fn tally(
    conn: &mut PgConnection,
    sync_id: Uuid,
    synced: i64,
    failed: i64,
) -> sqlx::Result<()> {
    if synced == 0 && failed == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO sync_hourly (sync_id, hour, synced, failed) VALUES ($1, date_trunc('hour', now()), $2, $3)
         ON CONFLICT (sync_id, hour) DO UPDATE SET synced = sync_hourly.synced + $2, failed = sync_hourly.failed + $3",
    )
    .bind(sync_id)
    .bind(synced)
    .bind(failed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes app ids a relisting has seen (the app's change cursor expired).
pub async fn relist_seen(
    conn: &mut PgConnection,
    sync_id: Uuid,
    app_ids: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sync_relist_seen (sync_id, app_id) SELECT $1, unnest($2::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(sync_id)
    .bind(app_ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// The app ids of paired rows that the finished relisting did not see: deleted in the app.
pub async fn relist_unseen(conn: &mut PgConnection, sync_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT x.app_id FROM sync_index x
         WHERE x.sync_id = $1 AND x.app_id IS NOT NULL AND x.hub_id IS NOT NULL AND x.state <> 'deleted'
           AND NOT EXISTS (SELECT 1 FROM sync_relist_seen s WHERE s.sync_id = $1 AND s.app_id = x.app_id)",
    )
    .bind(sync_id)
    .fetch_all(conn)
    .await
}

pub async fn relist_forget(conn: &mut PgConnection, sync_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sync_relist_seen WHERE sync_id = $1")
        .bind(sync_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The rows of these app records, by app id.
pub async fn by_app_id_map(
    conn: &mut PgConnection,
    sync_id: Uuid,
    records: &[crate::connectors::AppRecord],
) -> sqlx::Result<HashMap<String, IndexRow>> {
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    Ok(by_app_ids(conn, sync_id, &ids)
        .await?
        .into_iter()
        .map(|r| (r.app_id.clone().unwrap_or_default(), r))
        .collect())
}
