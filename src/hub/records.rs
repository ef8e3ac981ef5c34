//! Records of the hub CRM: create, read, update, archive, restore, find, scan, list and
//! search. Every write goes through this module (or `associations`), takes a
//! [`WriteOrigin`], records per-property "last changed at / by" in `property_meta`,
//! and appends to the change feed in the same transaction. A property set when the
//! record was created and unchanged since has no entry there: its change is the
//! creation (`created_at`, `created_by`), filled in when the record is read, so a
//! create stores nothing twice.
//!
//! Semantics the sync engine relies on:
//! - [`create`] validates every property (one error per field) and returns the record.
//! - [`update`] is a partial patch: only the properties sent are touched; `null` or ""
//!   clears one. It returns the names that really changed; writing the same values
//!   back changes nothing, writes nothing and appends no change row.
//! - [`archive`] is a soft delete, [`restore`] undoes it; both are idempotent.
//!   Archived records are invisible to lists, finds and scans unless asked for, but
//!   [`get`] and [`get_many`] return them (with `archived_at` set).
//! - Contacts' emails are unique among live contacts of a portal (trimmed,
//!   case-insensitive), for every origin: a write that would duplicate one is refused
//!   with 409 and the existing id. Legacy data loaded by the generator may contain
//!   duplicates; [`find_contacts_by_email`] then returns them all, oldest first.
//!
//! Paging is keyset, never OFFSET: a page is "the next `limit` rows after the last row
//! seen, in (sort key, id) order". Sort keys are the expressions the migration indexes
//! (see [`sort_key`]); NULLs come last ascending and first descending, handled as a
//! separate segment so that each step is an index range scan.
//!
//! Lock order inside a write transaction, to stay deadlock-free: record rows (by id),
//! then email keys (sorted), then the portal's feed lock (taken by the first append).

use super::changes::{self, ChangeKind, NewChange};
use super::schema::{self, NormalisedPatch, ObjectSchema, PropertyValues};
use super::HubError;
use crate::model::crm::{ObjectType, PropertyChange, PropertyType, RecordView, WriteOrigin};
use crate::model::{FieldError, Refusal, Refused};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Most records per page or batch.
pub const MAX_LIMIT: usize = 200;
/// Most inputs of one batch call.
pub const MAX_BATCH: usize = 100;
const EMAIL_LOCK: i32 = 1_751_474_002;

/// Columns every record query selects.
const COLS: &str = "id, portal_id, object, properties, property_meta, created_by, created_at, updated_at, archived_at";

/// A hub record with its per-property change metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: i64,
    pub portal_id: Uuid,
    pub object: ObjectType,
    /// Stored properties (computed ones are not in here; see [`Record::with_computed`]).
    pub properties: BTreeMap<String, String>,
    /// When each property last changed and who changed it. Cleared properties keep
    /// their entry (the clearing is a change too).
    pub meta: BTreeMap<String, PropertyChange>,
    pub created_by: WriteOrigin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl Record {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }

    /// A stored property's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// When a property last changed and by whom (`None`: never set).
    pub fn property_changed(&self, name: &str) -> Option<&PropertyChange> {
        self.meta.get(name)
    }

    /// Stored properties plus `hs_object_id`, `createdate` and `lastmodifieddate`.
    pub fn with_computed(&self) -> BTreeMap<String, String> {
        let mut p = self.properties.clone();
        p.insert("hs_object_id".into(), self.id.to_string());
        p.insert(
            "createdate".into(),
            schema::format_datetime(self.created_at),
        );
        p.insert(
            "lastmodifieddate".into(),
            schema::format_datetime(self.updated_at),
        );
        p
    }

    pub fn view(&self) -> RecordView {
        let properties = self.with_computed();
        RecordView {
            id: self.id,
            object: self.object,
            display_name: self.object.display_name(&properties),
            properties,
            changes: self.meta.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: i64,
    portal_id: Uuid,
    object: String,
    properties: sqlx::types::Json<BTreeMap<String, serde_json::Value>>,
    property_meta: sqlx::types::Json<BTreeMap<String, serde_json::Value>>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
}

impl RecordRow {
    fn into_record(self) -> Record {
        let properties: BTreeMap<String, String> = self
            .properties
            .0
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some((k, s)),
                other => Some((k, other.to_string())),
            })
            .collect();
        let created_by = self.created_by.parse().unwrap_or(WriteOrigin::System);
        let changed = self
            .property_meta
            .0
            .into_iter()
            .filter_map(|(k, v)| {
                serde_json::from_value::<PropertyChange>(v)
                    .ok()
                    .map(|m| (k, m))
            })
            .collect();
        let meta = creation_meta(&properties, changed, self.created_at, created_by);
        Record {
            id: self.id,
            portal_id: self.portal_id,
            object: ObjectType::parse(&self.object).unwrap_or(ObjectType::Contacts),
            properties,
            meta,
            created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        }
    }
}

/// The per-property changes of a record: those stored (`changed`), and for every
/// property without one, its creation.
fn creation_meta(
    properties: &BTreeMap<String, String>,
    mut changed: BTreeMap<String, PropertyChange>,
    created_at: DateTime<Utc>,
    created_by: WriteOrigin,
) -> BTreeMap<String, PropertyChange> {
    for name in properties.keys() {
        if !changed.contains_key(name) {
            changed.insert(
                name.clone(),
                PropertyChange {
                    at: created_at,
                    source: created_by,
                },
            );
        }
    }
    changed
}

#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    record: RecordRow,
    sort_key: Option<String>,
}

/// The answer of [`update`].
#[derive(Debug, Clone)]
pub struct Updated {
    pub record: Record,
    /// Names of the properties whose value changed (empty: nothing was written).
    pub changed: Vec<String>,
}

// ---------------------------------------------------------------------------------
// Reads

pub async fn get(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    id: i64,
) -> sqlx::Result<Option<Record>> {
    let row: Option<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records WHERE portal_id = $1 AND object = $2 AND id = $3"
    ))
    .bind(portal_id)
    .bind(object.as_str())
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(RecordRow::into_record))
}

/// Like [`get`], but a missing record (or one of another portal) is a 404.
pub async fn get_or_404(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    id: i64,
) -> Result<Record, HubError> {
    get(pool, portal_id, object, id)
        .await?
        .ok_or_else(|| not_found(object, id))
}

/// The records with these ids (archived included), in id order; missing ids are skipped.
pub async fn get_many(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    ids: &[i64],
) -> sqlx::Result<Vec<Record>> {
    let rows: Vec<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records WHERE portal_id = $1 AND object = $2 AND id = ANY($3) ORDER BY id"
    ))
    .bind(portal_id)
    .bind(object.as_str())
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RecordRow::into_record).collect())
}

/// Live contacts whose email equals `email` trimmed and case-insensitively, oldest first.
pub async fn find_contacts_by_email(
    pool: &PgPool,
    portal_id: Uuid,
    email: &str,
) -> sqlx::Result<Vec<Record>> {
    let key = schema::email_key(email);
    if key.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records
         WHERE portal_id = $1 AND object = 'contacts' AND archived_at IS NULL
           AND lower(btrim(properties->>'email')) = $2
         ORDER BY id"
    ))
    .bind(portal_id)
    .bind(key)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RecordRow::into_record).collect())
}

/// Live companies whose name (trimmed, case-insensitive) **or** domain (normalised:
/// no scheme, `www.` or path) matches, oldest first — the hub's company matching rule.
pub async fn find_companies(
    pool: &PgPool,
    portal_id: Uuid,
    name: Option<&str>,
    domain: Option<&str>,
) -> sqlx::Result<Vec<Record>> {
    let name = name
        .map(|n| n.trim().to_lowercase())
        .filter(|n| !n.is_empty());
    let domain = domain
        .map(schema::normalise_domain)
        .filter(|d| !d.is_empty());
    if name.is_none() && domain.is_none() {
        return Ok(Vec::new());
    }
    let rows: Vec<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records
         WHERE portal_id = $1 AND object = 'companies' AND archived_at IS NULL
           AND (lower(properties->>'name') = $2 OR lower(properties->>'domain') = $3)
         ORDER BY id"
    ))
    .bind(portal_id)
    .bind(name)
    .bind(domain)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RecordRow::into_record).collect())
}

/// Every record of an object in id order, a page at a time: pass the last id seen
/// (`None` to start). The engine's hub indexing streams with this; memory stays
/// bounded by `limit`.
pub async fn scan(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    after_id: Option<i64>,
    limit: i64,
    include_archived: bool,
) -> sqlx::Result<Vec<Record>> {
    let rows: Vec<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records
         WHERE portal_id = $1 AND object = $2 AND id > $3 AND ($4 OR archived_at IS NULL)
         ORDER BY id LIMIT $5"
    ))
    .bind(portal_id)
    .bind(object.as_str())
    .bind(after_id.unwrap_or(0))
    .bind(include_archived)
    .bind(limit.clamp(1, 10_000))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RecordRow::into_record).collect())
}

/// How many live records a portal has of each object type (the generator's "is it empty").
pub async fn count_all(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM hub_records WHERE portal_id = $1")
        .bind(portal_id)
        .fetch_one(pool)
        .await
}

fn not_found(object: ObjectType, id: i64) -> HubError {
    Refused::missing(format!("There is no {} with id {id}.", object.singular())).into()
}

// ---------------------------------------------------------------------------------
// Writes

fn prefix_fields(errors: Vec<FieldError>, prefix: Option<String>) -> Vec<FieldError> {
    match prefix {
        None => errors,
        Some(p) => errors
            .into_iter()
            .map(|e| FieldError {
                field: format!("{p}.{}", e.field),
                message: e.message,
            })
            .collect(),
    }
}

/// The advisory lock (in the `EMAIL_LOCK` class) that guards one email key of a portal.
/// Computed here rather than in SQL so that a writer can tell, before it writes, whether
/// another writer's emails could make it wait (the initial sync's parallel batches).
pub fn email_lock(portal_id: Uuid, key: &str) -> i32 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(portal_id.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    i32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Locks the email keys (in lock order, so writers never wait on each other in a cycle)
/// and answers which live contacts already use them: key → the two oldest ids (enough to
/// name one that is not the record itself).
async fn lock_and_find_emails(
    conn: &mut PgConnection,
    portal_id: Uuid,
    keys: &[&str],
) -> sqlx::Result<BTreeMap<String, Vec<i64>>> {
    let mut keys: Vec<&str> = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut locks: Vec<i32> = keys.iter().map(|k| email_lock(portal_id, k)).collect();
    locks.sort_unstable();
    locks.dedup();
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, l)
         FROM unnest($2::int4[]) WITH ORDINALITY AS t(l, n) ORDER BY n",
    )
    .bind(EMAIL_LOCK)
    .bind(&locks)
    .execute(&mut *conn)
    .await?;
    // One probe per key (a LATERAL subquery with a LIMIT runs once per key), on the
    // email index as long as the statistics know how many contacts the portal has: a
    // bulk load refreshes them as it goes (the initial sync does).
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT k, r.id FROM unnest($2::text[]) AS k
         JOIN LATERAL (SELECT id FROM hub_records
                        WHERE portal_id = $1 AND object = 'contacts' AND archived_at IS NULL
                          AND lower(btrim(properties->>'email')) = k
                        ORDER BY id LIMIT 2) r ON true
         ORDER BY r.id",
    )
    .bind(portal_id)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut owners: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (key, id) in rows {
        owners.entry(key).or_default().push(id);
    }
    Ok(owners)
}

/// The 409 of an email another live contact uses.
fn email_taken(email: &str, existing: i64, field: String) -> HubError {
    Refused::conflict(format!(
        "A contact with the email {email} already exists. Existing ID: {existing}"
    ))
    .with_hint("Open or update the existing contact instead, or use another email.")
    .with_fields(vec![FieldError {
        field,
        message: format!("Already used by contact {existing}."),
    }])
    .into()
}

async fn check_unique_emails(
    conn: &mut PgConnection,
    portal_id: Uuid,
    wanted: &[(usize, String, Option<i64>)],
    batch: bool,
) -> Result<(), HubError> {
    let keys: Vec<&str> = wanted.iter().map(|(_, e, _)| e.as_str()).collect();
    let owners = lock_and_find_emails(conn, portal_id, &keys).await?;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, email, own_id) in wanted {
        let field = if batch {
            format!("inputs[{i}].email")
        } else {
            "email".to_string()
        };
        if let Some(first) = seen.insert(email.as_str(), *i) {
            return Err(Refused::validation(vec![FieldError {
                field,
                message: format!("The email {email} is used by inputs[{first}] of this batch too."),
            }])
            .into());
        }
        let existing = owners
            .get(email)
            .and_then(|ids| ids.iter().find(|id| Some(**id) != *own_id));
        if let Some(existing) = existing {
            return Err(email_taken(email, *existing, field));
        }
    }
    Ok(())
}

/// One input's email to check in a batch where each input stands on its own: its key,
/// the text to show, and the record's own id (updates).
struct EmailClaim {
    key: String,
    shown: String,
    own_id: Option<i64>,
}

/// Locks the claimed emails and refuses each input whose email a live contact other
/// than itself has, or an earlier input of the batch claims (first one wins).
async fn refuse_taken_emails<T>(
    conn: &mut PgConnection,
    portal_id: Uuid,
    planned: &mut [Result<T, HubError>],
    claim: impl Fn(&T) -> Option<EmailClaim>,
) -> sqlx::Result<()> {
    let claims: Vec<Option<EmailClaim>> = planned
        .iter()
        .map(|p| p.as_ref().ok().and_then(&claim))
        .collect();
    let keys: Vec<&str> = claims.iter().flatten().map(|c| c.key.as_str()).collect();
    let owners = lock_and_find_emails(conn, portal_id, &keys).await?;
    let mut first_input: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (p, c)) in planned.iter_mut().zip(&claims).enumerate() {
        let Some(c) = c else { continue };
        let taken = owners
            .get(&c.key)
            .and_then(|ids| ids.iter().find(|id| Some(**id) != c.own_id));
        if let Some(existing) = taken {
            *p = Err(email_taken(&c.shown, *existing, "email".into()));
        } else if let Some(first) = first_input.get(c.key.as_str()) {
            *p = Err(Refused::field(
                "email",
                format!(
                    "The email {} is used by another record of this batch (input {first}).",
                    c.shown
                ),
            )
            .into());
        } else {
            first_input.insert(&c.key, i);
        }
    }
    Ok(())
}

/// Writes the inputs planned without an error with `write` (one answer per plan, in
/// order) and answers every input: its written result or its refusal.
async fn write_planned<T, U, F>(
    planned: Vec<Result<T, HubError>>,
    write: impl FnOnce(Vec<T>) -> F,
) -> sqlx::Result<Vec<Result<U, HubError>>>
where
    F: std::future::Future<Output = sqlx::Result<Vec<U>>>,
{
    let mut out: Vec<Option<Result<U, HubError>>> = Vec::with_capacity(planned.len());
    let mut plans = Vec::new();
    for p in planned {
        match p {
            Ok(p) => {
                plans.push(p);
                out.push(None);
            }
            Err(e) => out.push(Some(Err(e))),
        }
    }
    let mut written = write(plans).await?.into_iter();
    Ok(out
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Ok(written.next().expect("one answer per plan"))))
        .collect())
}

/// Creates one record. Errors: 422 with one entry per field, 409 for a duplicate email.
pub async fn create(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    properties: &PropertyValues,
    origin: &WriteOrigin,
) -> Result<Record, HubError> {
    let schema = schema::load(pool, portal_id, object).await?;
    let mut tx = pool.begin().await?;
    let mut out = create_in(
        &mut tx,
        &schema,
        portal_id,
        std::slice::from_ref(properties),
        origin,
        false,
    )
    .await?;
    tx.commit().await?;
    out.pop()
        .ok_or_else(|| HubError::internal("create returned nothing"))
}

/// Creates up to [`MAX_BATCH`] records in one transaction: all or none. Field errors
/// are named `inputs[i].<property>`.
pub async fn create_many(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    inputs: &[PropertyValues],
    origin: &WriteOrigin,
) -> Result<Vec<Record>, HubError> {
    check_batch_size(inputs.len())?;
    let schema = schema::load(pool, portal_id, object).await?;
    let mut tx = pool.begin().await?;
    let out = create_in(&mut tx, &schema, portal_id, inputs, origin, true).await?;
    tx.commit().await?;
    Ok(out)
}

fn check_batch_size(n: usize) -> Result<(), HubError> {
    if n == 0 || n > MAX_BATCH {
        return Err(Refused::field(
            "inputs",
            format!("Send between 1 and {MAX_BATCH} inputs (got {n})."),
        )
        .into());
    }
    Ok(())
}

/// Validates one new record's properties: the values to store, or one error per field.
fn prepare_create(
    schema: &ObjectSchema,
    input: &PropertyValues,
    origin: &WriteOrigin,
) -> Result<BTreeMap<String, String>, Vec<FieldError>> {
    let (patch, mut errs) = match schema.validate_patch(input, origin) {
        Ok(p) => (p, Vec::new()),
        Err(errs) => {
            // Check the valid part too, so required fields are reported at once.
            let valid: PropertyValues = input
                .iter()
                .filter(|(k, _)| !errs.iter().any(|e| &e.field == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (
                schema.validate_patch(&valid, origin).unwrap_or_default(),
                errs,
            )
        }
    };
    let mut merged: BTreeMap<String, String> = patch
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    if schema.object == ObjectType::Deals && !merged.contains_key("pipeline") {
        if let Some(p) = schema.default_pipeline() {
            merged.insert("pipeline".into(), p.to_string());
        }
    }
    for e in schema.check_record(&merged, None) {
        if !errs.iter().any(|x| x.field == e.field) {
            errs.push(e);
        }
    }
    if errs.is_empty() {
        Ok(merged)
    } else {
        Err(errs)
    }
}

/// Inserts validated records in one statement and keeps their change rows in `feed`.
/// Only each input's id and the transaction's time (the records' `created_at`) come
/// back: the rest of each record is what was sent.
async fn insert_prepared(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    prepared: Vec<BTreeMap<String, String>>,
    origin: &WriteOrigin,
    feed: &mut changes::Deferred,
) -> sqlx::Result<Vec<Record>> {
    if prepared.is_empty() {
        return Ok(Vec::new());
    }
    let props: Vec<sqlx::types::Json<&BTreeMap<String, String>>> =
        prepared.iter().map(sqlx::types::Json).collect();
    // Ids are taken per input first (MATERIALIZED: once each), so each record is known
    // to belong to its input.
    let rows: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
        "WITH t AS MATERIALIZED (
            SELECT nextval((SELECT pg_get_serial_sequence('hub_records', 'id')::regclass)) AS id, p.props, p.n
            FROM UNNEST($3::jsonb[]) WITH ORDINALITY AS p(props, n)),
         ins AS (
            INSERT INTO hub_records (id, portal_id, object, properties, created_by)
            SELECT t.id, $1, $2, t.props, $4 FROM t)
         SELECT t.id, now() FROM t ORDER BY t.n",
    )
    .bind(portal_id)
    .bind(schema.object.as_str())
    .bind(&props)
    .bind(origin.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let records: Vec<Record> = rows
        .into_iter()
        .zip(prepared)
        .map(|((id, at), properties)| Record {
            id,
            portal_id,
            object: schema.object,
            meta: creation_meta(&properties, BTreeMap::new(), at, *origin),
            properties,
            created_by: *origin,
            created_at: at,
            updated_at: at,
            archived_at: None,
        })
        .collect();
    for r in &records {
        let names: Vec<String> = r.properties.keys().cloned().collect();
        feed.push(&NewChange {
            portal_id,
            object: schema.object,
            record_id: r.id,
            kind: ChangeKind::Created,
            properties: &names,
            origin,
            associated: None,
        });
    }
    Ok(records)
}

/// The create path inside a caller's transaction (validate all, then write all).
pub async fn create_in(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    inputs: &[PropertyValues],
    origin: &WriteOrigin,
    batch: bool,
) -> Result<Vec<Record>, HubError> {
    let mut prepared: Vec<BTreeMap<String, String>> = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match prepare_create(schema, input, origin) {
            Ok(p) => prepared.push(p),
            Err(errs) => errors.extend(prefix_fields(errs, batch.then(|| format!("inputs[{i}]")))),
        }
    }
    if !errors.is_empty() {
        return Err(Refused::validation(errors).into());
    }
    if schema.object == ObjectType::Contacts {
        let emails: Vec<(usize, String, Option<i64>)> = prepared
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.get("email").map(|e| (i, schema::email_key(e), None)))
            .collect();
        check_unique_emails(conn, portal_id, &emails, batch).await?;
    }
    let mut feed = changes::Deferred::default();
    let records = insert_prepared(conn, schema, portal_id, prepared, origin, &mut feed).await?;
    feed.append(conn).await?;
    Ok(records)
}

/// Creates each input on its own terms inside the caller's transaction: an input that
/// is invalid or whose email is taken (by a live contact or an earlier input) gets its
/// error, the others are written together. For the sync engine's batches, which append
/// the change rows kept in `feed` before they commit.
pub async fn create_each_in(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    inputs: &[PropertyValues],
    origin: &WriteOrigin,
    feed: &mut changes::Deferred,
) -> Result<Vec<Result<Record, HubError>>, sqlx::Error> {
    let mut planned: Vec<Result<BTreeMap<String, String>, HubError>> = inputs
        .iter()
        .map(|input| {
            prepare_create(schema, input, origin)
                .map_err(|fields| Refused::validation(fields).into())
        })
        .collect();
    if schema.object == ObjectType::Contacts {
        refuse_taken_emails(conn, portal_id, &mut planned, |p| {
            p.get("email").map(|email| EmailClaim {
                key: schema::email_key(email),
                shown: email.clone(),
                own_id: None,
            })
        })
        .await?;
    }
    write_planned(planned, |values| async move {
        insert_prepared(conn, schema, portal_id, values, origin, feed).await
    })
    .await
}

/// Applies a partial patch to one record. Archived records are refused (409: restore
/// first). Returns the record and the names that changed.
pub async fn update(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    id: i64,
    patch: &PropertyValues,
    origin: &WriteOrigin,
) -> Result<Updated, HubError> {
    let schema = schema::load(pool, portal_id, object).await?;
    let mut tx = pool.begin().await?;
    let mut out = update_in(
        &mut tx,
        &schema,
        portal_id,
        &[(id, patch.clone())],
        origin,
        false,
    )
    .await?;
    tx.commit().await?;
    out.pop()
        .ok_or_else(|| HubError::internal("update returned nothing"))
}

/// Updates up to [`MAX_BATCH`] records in one transaction: all or none.
pub async fn update_many(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    inputs: &[(i64, PropertyValues)],
    origin: &WriteOrigin,
) -> Result<Vec<Updated>, HubError> {
    check_batch_size(inputs.len())?;
    let schema = schema::load(pool, portal_id, object).await?;
    let mut tx = pool.begin().await?;
    let out = update_in(&mut tx, &schema, portal_id, inputs, origin, true).await?;
    tx.commit().await?;
    Ok(out)
}

/// One planned update: the locked record, its properties after the patch, and the
/// names that change.
struct UpdatePlan {
    record: Record,
    merged: BTreeMap<String, String>,
    changed: Vec<String>,
}

/// Locks the records (in id order) and plans each patch on its own: not found,
/// archived and invalid patches get their error. Emails are not checked here.
async fn plan_updates(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    inputs: &[(i64, PropertyValues)],
    origin: &WriteOrigin,
) -> sqlx::Result<Vec<Result<UpdatePlan, HubError>>> {
    let object = schema.object;
    let ids: Vec<i64> = inputs.iter().map(|(id, _)| *id).collect();
    let rows: Vec<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records WHERE portal_id = $1 AND object = $2 AND id = ANY($3) ORDER BY id FOR UPDATE"
    ))
    .bind(portal_id)
    .bind(object.as_str())
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut current: BTreeMap<i64, Record> =
        rows.into_iter().map(|r| (r.id, r.into_record())).collect();
    Ok(inputs
        .iter()
        .map(|(id, patch)| {
            let Some(record) = current.remove(id) else {
                return Err(not_found(object, *id));
            };
            if record.is_archived() {
                return Err(Refused::conflict(format!(
                    "The {} {id} is archived.",
                    object.singular()
                ))
                .with_hint("Restore it first, then change it.")
                .into());
            }
            let normalised: NormalisedPatch = schema
                .validate_patch(patch, origin)
                .map_err(Refused::validation)?;
            let mut merged = record.properties.clone();
            let mut changed = Vec::new();
            for (name, value) in &normalised {
                if merged.get(name) != value.as_ref() {
                    changed.push(name.clone());
                    match value {
                        Some(v) => merged.insert(name.clone(), v.clone()),
                        None => merged.remove(name),
                    };
                }
            }
            let errs = schema.check_record(&merged, Some(&normalised));
            if !errs.is_empty() {
                return Err(Refused::validation(errs).into());
            }
            Ok(UpdatePlan {
                record,
                merged,
                changed,
            })
        })
        .collect())
}

/// The emails a plan sets anew (the only ones to check for uniqueness).
fn new_email(plan: &UpdatePlan) -> Option<String> {
    plan.changed
        .iter()
        .any(|c| c == "email")
        .then(|| plan.merged.get("email").map(|e| schema::email_key(e)))
        .flatten()
}

/// Writes planned updates in one statement and keeps their change rows in `feed`; plans
/// that change nothing write nothing.
async fn write_updates(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    plans: Vec<UpdatePlan>,
    origin: &WriteOrigin,
    feed: &mut changes::Deferred,
) -> sqlx::Result<Vec<Updated>> {
    let changing: Vec<&UpdatePlan> = plans.iter().filter(|p| !p.changed.is_empty()).collect();
    let mut written: std::collections::HashMap<i64, Record> = if changing.is_empty() {
        Default::default()
    } else {
        let ids: Vec<i64> = changing.iter().map(|p| p.record.id).collect();
        let props: Vec<sqlx::types::Json<&BTreeMap<String, String>>> = changing
            .iter()
            .map(|p| sqlx::types::Json(&p.merged))
            .collect();
        let names: Vec<sqlx::types::Json<&Vec<String>>> = changing
            .iter()
            .map(|p| sqlx::types::Json(&p.changed))
            .collect();
        let rows: Vec<RecordRow> = sqlx::query_as(&format!(
            "UPDATE hub_records r SET
                properties = t.props,
                property_meta = r.property_meta || coalesce(
                    (SELECT jsonb_object_agg(n, jsonb_build_object('at', now(), 'by', $2::text))
                     FROM jsonb_array_elements_text(t.names) n), '{{}}'),
                updated_at = now()
             FROM UNNEST($3::bigint[], $4::jsonb[], $5::jsonb[]) AS t(id, props, names)
             WHERE r.portal_id = $1 AND r.id = t.id
             RETURNING {}",
            COLS.split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(portal_id)
        .bind(origin.to_string())
        .bind(&ids)
        .bind(&props)
        .bind(&names)
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter().map(|r| (r.id, r.into_record())).collect()
    };
    let out: Vec<Updated> = plans
        .into_iter()
        .map(|p| Updated {
            record: written.remove(&p.record.id).unwrap_or(p.record),
            changed: p.changed,
        })
        .collect();
    for u in out.iter().filter(|u| !u.changed.is_empty()) {
        feed.push(&NewChange {
            portal_id,
            object: schema.object,
            record_id: u.record.id,
            kind: ChangeKind::Updated,
            properties: &u.changed,
            origin,
            associated: None,
        });
    }
    Ok(out)
}

/// The update path inside a caller's transaction: all or none.
pub async fn update_in(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    inputs: &[(i64, PropertyValues)],
    origin: &WriteOrigin,
    batch: bool,
) -> Result<Vec<Updated>, HubError> {
    let mut ids: Vec<i64> = inputs.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(Refused::field(
            "inputs",
            format!("The record {} is listed twice in this batch.", w[0]),
        )
        .into());
    }
    let mut plans = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (i, planned) in plan_updates(conn, schema, portal_id, inputs, origin)
        .await?
        .into_iter()
        .enumerate()
    {
        match planned {
            Ok(p) => plans.push(p),
            Err(HubError::Refused(Refused {
                kind: Refusal::Invalid,
                problem: p,
            })) => errors.extend(prefix_fields(
                p.fields,
                batch.then(|| format!("inputs[{i}]")),
            )),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(Refused::validation(errors).into());
    }
    if schema.object == ObjectType::Contacts {
        let emails: Vec<(usize, String, Option<i64>)> = plans
            .iter()
            .enumerate()
            .filter_map(|(i, p)| new_email(p).map(|e| (i, e, Some(p.record.id))))
            .collect();
        check_unique_emails(conn, portal_id, &emails, batch).await?;
    }
    let mut feed = changes::Deferred::default();
    let updated = write_updates(conn, schema, portal_id, plans, origin, &mut feed).await?;
    feed.append(conn).await?;
    Ok(updated)
}

/// Updates each input on its own terms inside the caller's transaction: an input whose
/// record is missing or archived, whose patch is invalid or whose new email another live
/// contact (or an earlier input) has gets its error; the others are written together.
/// For the sync engine's batches, which append the change rows kept in `feed` before
/// they commit.
pub async fn update_each_in(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    inputs: &[(i64, PropertyValues)],
    origin: &WriteOrigin,
    feed: &mut changes::Deferred,
) -> Result<Vec<Result<Updated, HubError>>, sqlx::Error> {
    let mut planned = plan_updates(conn, schema, portal_id, inputs, origin).await?;
    let mut seen_ids = std::collections::HashSet::new();
    for (p, (id, _)) in planned.iter_mut().zip(inputs) {
        if !seen_ids.insert(*id) && p.is_ok() {
            *p = Err(Refused::field(
                "id",
                format!("The record {id} is listed twice in this batch."),
            )
            .into());
        }
    }
    if schema.object == ObjectType::Contacts {
        refuse_taken_emails(conn, portal_id, &mut planned, |p| {
            new_email(p).map(|key| EmailClaim {
                shown: key.clone(),
                key,
                own_id: Some(p.record.id),
            })
        })
        .await?;
    }
    write_planned(planned, |plans| async move {
        write_updates(conn, schema, portal_id, plans, origin, feed).await
    })
    .await
}

/// Archives the given records, ignoring ids that do not exist or are archived already
/// (HubSpot's batch archive does the same). Returns the ids archived now.
pub async fn archive_many(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    ids: &[i64],
    origin: &WriteOrigin,
) -> Result<Vec<i64>, HubError> {
    check_batch_size(ids.len())?;
    let mut tx = pool.begin().await?;
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let archived: Vec<i64> = sqlx::query_scalar(
        "WITH target AS (
            SELECT id FROM hub_records
            WHERE portal_id = $1 AND object = $2 AND id = ANY($3) AND archived_at IS NULL
            ORDER BY id FOR UPDATE)
         UPDATE hub_records r SET archived_at = now(), updated_at = now()
         FROM target WHERE r.id = target.id
         RETURNING r.id",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .bind(&sorted)
    .fetch_all(&mut *tx)
    .await?;
    let mut archived = archived;
    archived.sort_unstable();
    for id in &archived {
        changes::append(
            &mut tx,
            NewChange {
                portal_id,
                object,
                record_id: *id,
                kind: ChangeKind::Archived,
                properties: &[],
                origin,
                associated: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(archived)
}

/// Soft-deletes (`archive`) or brings back a record. Archiving an archived record
/// changes nothing; restoring a contact whose email another live contact now uses is
/// refused (409).
pub async fn set_archived(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    id: i64,
    archive: bool,
    origin: &WriteOrigin,
) -> Result<Record, HubError> {
    let mut tx = pool.begin().await?;
    let mut feed = changes::Deferred::default();
    let record =
        set_archived_in(&mut tx, portal_id, object, id, archive, origin, &mut feed).await?;
    feed.append(&mut tx).await?;
    tx.commit().await?;
    Ok(record)
}

/// Archives a record inside the caller's transaction (the sync engine's deletions),
/// keeping its change row in `feed`.
pub async fn archive_in(
    conn: &mut PgConnection,
    portal_id: Uuid,
    object: ObjectType,
    id: i64,
    origin: &WriteOrigin,
    feed: &mut changes::Deferred,
) -> Result<Record, HubError> {
    set_archived_in(conn, portal_id, object, id, true, origin, feed).await
}

async fn set_archived_in(
    tx: &mut PgConnection,
    portal_id: Uuid,
    object: ObjectType,
    id: i64,
    archive: bool,
    origin: &WriteOrigin,
    feed: &mut changes::Deferred,
) -> Result<Record, HubError> {
    let row: Option<RecordRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM hub_records WHERE portal_id = $1 AND object = $2 AND id = $3 FOR UPDATE"
    ))
    .bind(portal_id)
    .bind(object.as_str())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let record = row.ok_or_else(|| not_found(object, id))?.into_record();
    if record.is_archived() == archive {
        return Ok(record);
    }
    if !archive && object == ObjectType::Contacts {
        if let Some(email) = record.get("email") {
            check_unique_emails(
                tx,
                portal_id,
                &[(0, schema::email_key(email), Some(id))],
                false,
            )
            .await?;
        }
    }
    let row: RecordRow = sqlx::query_as(&format!(
        "UPDATE hub_records SET archived_at = CASE WHEN $3 THEN now() END, updated_at = now()
         WHERE portal_id = $1 AND id = $2 RETURNING {COLS}"
    ))
    .bind(portal_id)
    .bind(id)
    .bind(archive)
    .fetch_one(&mut *tx)
    .await?;
    feed.push(&NewChange {
        portal_id,
        object,
        record_id: id,
        kind: if archive {
            ChangeKind::Archived
        } else {
            ChangeKind::Restored
        },
        properties: &[],
        origin,
        associated: None,
    });
    Ok(row.into_record())
}

// ---------------------------------------------------------------------------------
// Lists and search (keyset paging)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    fn sql(self) -> &'static str {
        match self {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        }
    }
    fn cmp(self) -> &'static str {
        match self {
            SortDir::Asc => ">",
            SortDir::Desc => "<",
        }
    }
    fn reverse(self) -> SortDir {
        match self {
            SortDir::Asc => SortDir::Desc,
            SortDir::Desc => SortDir::Asc,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub property: String,
    pub dir: SortDir,
}

impl Sort {
    /// The list pages' default: newest first.
    pub fn newest_first() -> Sort {
        Sort {
            property: "createdate".into(),
            dir: SortDir::Desc,
        }
    }
    /// The REST API's default: id order, like HubSpot.
    pub fn by_id() -> Sort {
        Sort {
            property: "hs_object_id".into(),
            dir: SortDir::Asc,
        }
    }
    fn signature(&self) -> String {
        format!(
            "{}:{}",
            self.property,
            if self.dir == SortDir::Asc {
                "asc"
            } else {
                "desc"
            }
        )
    }
}

/// A position in a sorted list: the sort key and id of a row. Opaque to clients
/// (base64url of JSON); only valid for the sort it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "k")]
    pub key: Option<String>,
    #[serde(rename = "i")]
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses a cursor; a bare number is HubSpot's `after=<id>` for id order.
    pub fn decode(s: &str) -> Option<Cursor> {
        let s = s.trim();
        if let Ok(id) = s.parse::<i64>() {
            return Some(Cursor {
                sort: Sort::by_id().signature(),
                key: Some(id.to_string()),
                id,
            });
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

impl FilterOp {
    pub fn parse(s: &str) -> Option<FilterOp> {
        Some(match s {
            "EQ" => FilterOp::Eq,
            "NEQ" => FilterOp::Neq,
            "LT" => FilterOp::Lt,
            "LTE" => FilterOp::Lte,
            "GT" => FilterOp::Gt,
            "GTE" => FilterOp::Gte,
            "BETWEEN" => FilterOp::Between,
            "IN" => FilterOp::In,
            "NOT_IN" => FilterOp::NotIn,
            "HAS_PROPERTY" => FilterOp::HasProperty,
            "NOT_HAS_PROPERTY" => FilterOp::NotHasProperty,
            "CONTAINS_TOKEN" => FilterOp::ContainsToken,
            "NOT_CONTAINS_TOKEN" => FilterOp::NotContainsToken,
            _ => return None,
        })
    }
}

/// One condition of a search (HubSpot's filter).
#[derive(Debug, Clone)]
pub struct Filter {
    pub property: String,
    pub op: FilterOp,
    pub value: Option<String>,
    pub high_value: Option<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Only archived records (else only live ones).
    pub archived: bool,
    /// Free text: every word must occur in the record's name, email, domain…
    pub search: Option<String>,
    /// OR of groups, AND within a group.
    pub filter_groups: Vec<Vec<Filter>>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
    pub limit: usize,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            archived: false,
            search: None,
            filter_groups: Vec::new(),
            sort: Sort::newest_first(),
            after: None,
            before: None,
            limit: 50,
        }
    }
}

/// A page of records; `next` / `prev` continue in the same order.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<Record>,
    pub next: Option<Cursor>,
    pub prev: Option<Cursor>,
}

/// How a property sorts and compares in SQL. `expr` is exactly the indexed expression.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: String,
    /// SQL type the cursor's key is cast to.
    pub cast: &'static str,
    pub nullable: bool,
    pub is_id: bool,
    /// Compared lower-cased (text-like properties).
    pub lowered: bool,
    pub kind: PropertyType,
}

fn safe_name(name: &str) -> Result<&str, HubError> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(Refused::bad_request(format!("“{name}” is not a property name.")).into())
    }
}

/// The SQL sort/compare expression of a property; must stay in step with the indexes
/// of migrations/…_hub.sql.
pub fn sort_key(schema: &ObjectSchema, property: &str) -> Result<SortKey, HubError> {
    let def = schema.get(property).ok_or_else(|| {
        Refused::field(
            "sort",
            format!(
                "There is no property “{property}” on {}; pick a column to sort by.",
                schema.object
            ),
        )
    })?;
    let key = |expr: String, cast, nullable, lowered| SortKey {
        expr,
        cast,
        nullable,
        is_id: false,
        lowered,
        kind: def.kind,
    };
    Ok(match property {
        "hs_object_id" => SortKey {
            is_id: true,
            ..key("id".into(), "bigint", false, false)
        },
        "createdate" => key("created_at".into(), "timestamptz", false, false),
        "lastmodifieddate" => key("updated_at".into(), "timestamptz", false, false),
        name => {
            let name = safe_name(name)?;
            match def.kind {
                PropertyType::Number => key(
                    format!("hub_num(properties->>'{name}')"),
                    "numeric",
                    true,
                    false,
                ),
                PropertyType::Date | PropertyType::Datetime | PropertyType::Bool => {
                    key(format!("(properties->>'{name}')"), "text", true, false)
                }
                PropertyType::Email => key(
                    format!("lower(btrim(properties->>'{name}'))"),
                    "text",
                    true,
                    true,
                ),
                _ => key(format!("lower(properties->>'{name}')"), "text", true, true),
            }
        }
    })
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The WHERE clause shared by every segment: portal, object, archived, search, filters.
fn push_base(
    qb: &mut QueryBuilder<'static, Postgres>,
    schema: &ObjectSchema,
    portal_id: Uuid,
    q: &ListQuery,
) -> Result<(), HubError> {
    qb.push("portal_id = ").push_bind(portal_id);
    // The object is a literal so that the planner can use the per-object partial indexes.
    qb.push(format!(" AND object = '{}'", schema.object.as_str()));
    qb.push(if q.archived {
        " AND archived_at IS NOT NULL"
    } else {
        " AND archived_at IS NULL"
    });
    if let Some(search) = q.search.as_deref() {
        for term in search.split_whitespace().take(8) {
            let term: String = term.to_lowercase().chars().take(100).collect();
            qb.push(" AND hub_search_text(object, properties) LIKE ")
                .push_bind(format!("%{}%", escape_like(&term)));
        }
    }
    if !q.filter_groups.is_empty() {
        qb.push(" AND (");
        for (g, group) in q.filter_groups.iter().enumerate() {
            if g > 0 {
                qb.push(" OR ");
            }
            qb.push("(TRUE");
            for (f, filter) in group.iter().enumerate() {
                qb.push(" AND ");
                push_filter(
                    qb,
                    schema,
                    filter,
                    &format!("filterGroups[{g}].filters[{f}]"),
                )?;
            }
            qb.push(")");
        }
        qb.push(")");
    }
    Ok(())
}

/// A filter value in the property's stored form (lower-cased where compared so).
fn filter_value(
    key: &SortKey,
    def_kind: PropertyType,
    schema: &ObjectSchema,
    property: &str,
    raw: &str,
    field: &str,
) -> Result<String, HubError> {
    let bad = |m: String| -> HubError { Refused::field(&format!("{field}.value"), m).into() };
    if key.is_id {
        return raw
            .trim()
            .parse::<i64>()
            .map(|v| v.to_string())
            .map_err(|_| bad(format!("“{raw}” is not a record id.")));
    }
    if key.cast == "timestamptz" {
        return schema::parse_datetime(raw.trim())
            .map(schema::format_datetime)
            .ok_or_else(|| bad(format!("“{raw}” is not a date and time.")));
    }
    match def_kind {
        PropertyType::Email => Ok(schema::email_key(raw)),
        PropertyType::String | PropertyType::Phone | PropertyType::MultiEnumeration => {
            Ok(raw.trim().to_lowercase())
        }
        _ => {
            let def = schema
                .get(property)
                .ok_or_else(|| bad(format!("Unknown property {property}.")))?;
            let v = schema::normalise_value(def, &serde_json::Value::String(raw.to_string()))
                .map_err(bad)?
                .unwrap_or_default();
            Ok(if key.lowered { v.to_lowercase() } else { v })
        }
    }
}

fn push_filter(
    qb: &mut QueryBuilder<'static, Postgres>,
    schema: &ObjectSchema,
    f: &Filter,
    field: &str,
) -> Result<(), HubError> {
    let def = schema.get(&f.property).ok_or_else(|| {
        Refused::field(
            &format!("{field}.propertyName"),
            format!(
                "There is no property “{}” on {}.",
                f.property, schema.object
            ),
        )
    })?;
    let key = sort_key(schema, &f.property)?;
    let name = if def.computed {
        ""
    } else {
        safe_name(&f.property)?
    };
    let expr = key.expr.clone();
    let cast = key.cast;
    let need = |v: &Option<String>, what: &str| {
        v.clone().ok_or_else(|| {
            Refused::field(
                &format!("{field}.{what}"),
                format!("This operator needs a {what}."),
            )
        })
    };
    let value = |raw: &str| filter_value(&key, def.kind, schema, &f.property, raw, field);
    match f.op {
        FilterOp::HasProperty | FilterOp::NotHasProperty => {
            let has = if def.computed {
                "TRUE".to_string()
            } else {
                format!("(properties ? '{name}')")
            };
            if f.op == FilterOp::HasProperty {
                qb.push(has);
            } else {
                qb.push(format!("NOT {has}"));
            }
        }
        FilterOp::Eq | FilterOp::Neq if def.kind == PropertyType::MultiEnumeration => {
            let v = value(&need(&f.value, "value")?)?;
            let test = format!("(lower(properties->>'{name}') || ';') LIKE ");
            if f.op == FilterOp::Neq {
                qb.push("NOT coalesce(");
            }
            qb.push("(';' || ")
                .push(test)
                .push("'%;' || ")
                .push_bind(escape_like(&v))
                .push(" || ';%')");
            if f.op == FilterOp::Neq {
                qb.push(", FALSE)");
            }
        }
        FilterOp::Eq | FilterOp::Lt | FilterOp::Lte | FilterOp::Gt | FilterOp::Gte => {
            let op = match f.op {
                FilterOp::Eq => "=",
                FilterOp::Lt => "<",
                FilterOp::Lte => "<=",
                FilterOp::Gt => ">",
                _ => ">=",
            };
            let v = value(&need(&f.value, "value")?)?;
            qb.push(format!("{expr} {op} "))
                .push_bind(v)
                .push(format!("::{cast}"));
        }
        FilterOp::Neq => {
            let v = value(&need(&f.value, "value")?)?;
            qb.push(format!("{expr} IS DISTINCT FROM "))
                .push_bind(v)
                .push(format!("::{cast}"));
        }
        FilterOp::Between => {
            let lo = value(&need(&f.value, "value")?)?;
            let hi = value(&need(&f.high_value, "highValue")?)?;
            qb.push(format!("{expr} BETWEEN "))
                .push_bind(lo)
                .push(format!("::{cast} AND "))
                .push_bind(hi)
                .push(format!("::{cast}"));
        }
        FilterOp::In | FilterOp::NotIn => {
            if f.values.is_empty() {
                return Err(Refused::field(
                    &format!("{field}.values"),
                    "This operator needs a list of values.",
                )
                .into());
            }
            let vals = f
                .values
                .iter()
                .map(|v| value(v))
                .collect::<Result<Vec<_>, _>>()?;
            if f.op == FilterOp::In {
                qb.push(format!("{expr} = ANY("))
                    .push_bind(vals)
                    .push(format!("::{cast}[])"));
            } else {
                qb.push(format!("({expr} IS NULL OR {expr} <> ALL("))
                    .push_bind(vals)
                    .push(format!("::{cast}[]))"));
            }
        }
        FilterOp::ContainsToken | FilterOp::NotContainsToken => {
            let raw = need(&f.value, "value")?.trim().to_lowercase();
            let pattern = if raw.contains('*') {
                escape_like(&raw).replace('*', "%")
            } else {
                format!("%{}%", escape_like(&raw))
            };
            let text = if def.computed {
                format!("lower({expr}::text)")
            } else {
                format!("lower(properties->>'{name}')")
            };
            if f.op == FilterOp::ContainsToken {
                qb.push(format!("{text} LIKE ")).push_bind(pattern);
            } else {
                qb.push(format!("coalesce({text} NOT LIKE "))
                    .push_bind(pattern)
                    .push(", TRUE)");
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Segment {
    All,
    NonNull,
    Null,
}

/// Up to `limit` rows after `after` in `dir` order, each with its sort key as text.
#[allow(clippy::too_many_arguments)]
async fn fetch(
    pool: &PgPool,
    schema: &ObjectSchema,
    portal_id: Uuid,
    q: &ListQuery,
    key: &SortKey,
    dir: SortDir,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<(Record, Option<String>)>, HubError> {
    let mut qb = build_fetch("", schema, portal_id, q, key, dir, after, limit)?;
    let rows: Vec<ListRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.record.into_record(), r.sort_key))
        .collect())
}

/// The plan of the query behind one list page (tests and the benchmark check that it
/// uses the right index). Runs on the given connection, so `SET`s made there apply.
pub async fn explain_list(
    conn: &mut PgConnection,
    schema: &ObjectSchema,
    portal_id: Uuid,
    q: &ListQuery,
) -> Result<String, HubError> {
    let key = sort_key(schema, &q.sort.property)?;
    let mut qb = build_fetch(
        "EXPLAIN ",
        schema,
        portal_id,
        q,
        &key,
        q.sort.dir,
        q.after.as_ref(),
        q.limit + 1,
    )?;
    let lines: Vec<String> = qb.build_query_scalar().fetch_all(conn).await?;
    Ok(lines.join("\n"))
}

/// The SQL of [`fetch`]: one index range scan per segment (see the module docs).
#[allow(clippy::too_many_arguments)]
fn build_fetch(
    prefix: &str,
    schema: &ObjectSchema,
    portal_id: Uuid,
    q: &ListQuery,
    key: &SortKey,
    dir: SortDir,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<QueryBuilder<'static, Postgres>, HubError> {
    // Ascending: values, then NULLs; descending: NULLs, then values (the reverse).
    let segments: Vec<Segment> = if !key.nullable {
        vec![Segment::All]
    } else if dir == SortDir::Asc {
        vec![Segment::NonNull, Segment::Null]
    } else {
        vec![Segment::Null, Segment::NonNull]
    };
    let start = match after {
        Some(c) if key.nullable => {
            let wanted = if c.key.is_none() {
                Segment::Null
            } else {
                Segment::NonNull
            };
            segments.iter().position(|s| *s == wanted).unwrap_or(0)
        }
        _ => 0,
    };
    let expr = &key.expr;
    let d = dir.sql();
    let mut qb: QueryBuilder<'static, Postgres> = QueryBuilder::new(prefix);
    let used: Vec<(usize, Segment)> = segments.iter().copied().enumerate().skip(start).collect();
    let union = used.len() > 1;
    if union {
        qb.push("SELECT * FROM (");
    }
    for (n, (i, seg)) in used.iter().enumerate() {
        if n > 0 {
            qb.push(" UNION ALL ");
        }
        qb.push(format!("(SELECT {COLS}, {expr}::text AS sort_key, {i} AS seg, {expr} AS k FROM hub_records WHERE "));
        push_base(&mut qb, schema, portal_id, q)?;
        match seg {
            Segment::NonNull => {
                qb.push(format!(" AND {expr} IS NOT NULL"));
            }
            Segment::Null => {
                qb.push(format!(" AND {expr} IS NULL"));
            }
            Segment::All => {}
        }
        let cursor = if n == 0 { after } else { None };
        if let Some(c) = cursor {
            if key.is_id || *seg == Segment::Null {
                qb.push(format!(" AND id {} ", dir.cmp())).push_bind(c.id);
            } else {
                let k = c
                    .key
                    .clone()
                    .ok_or_else(|| Refused::bad_request("The page cursor is not valid."))?;
                qb.push(format!(" AND ({expr}, id) {} (", dir.cmp()))
                    .push_bind(k)
                    .push(format!("::{}, ", key.cast))
                    .push_bind(c.id)
                    .push(")");
            }
        }
        if key.is_id {
            qb.push(format!(" ORDER BY id {d}"));
        } else {
            // In the NULL segment the key is the same (NULL) everywhere: ordering by
            // (key, id) is ordering by id, and lets the planner walk the key's index.
            qb.push(format!(" ORDER BY {expr} {d}, id {d}"));
        }
        qb.push(" LIMIT ").push_bind(limit as i64).push(")");
    }
    if union {
        qb.push(format!(") u ORDER BY seg, k {d}, id {d} LIMIT "))
            .push_bind(limit as i64);
    }
    Ok(qb)
}

fn cursor_of(sort: &Sort, key: &SortKey, row: &(Record, Option<String>)) -> Cursor {
    Cursor {
        sort: sort.signature(),
        key: if key.is_id {
            Some(row.0.id.to_string())
        } else {
            row.1.clone()
        },
        id: row.0.id,
    }
}

/// One page of a list or search, in keyset order. `after` continues forward from a
/// page's `next`; `before` goes back from a page's `prev`.
pub async fn list(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    q: &ListQuery,
) -> Result<Page, HubError> {
    let schema = schema::load(pool, portal_id, object).await?;
    list_with_schema(pool, &schema, portal_id, q).await
}

pub async fn list_with_schema(
    pool: &PgPool,
    schema: &ObjectSchema,
    portal_id: Uuid,
    q: &ListQuery,
) -> Result<Page, HubError> {
    let limit = q.limit.clamp(1, MAX_LIMIT);
    let key = sort_key(schema, &q.sort.property)?;
    let signature = q.sort.signature();
    for c in [&q.after, &q.before].into_iter().flatten() {
        if c.sort != signature {
            return Err(
                Refused::bad_request("This page link belongs to another sort order.")
                    .with_hint("Start again from the first page.")
                    .into(),
            );
        }
    }
    let dir = q.sort.dir;
    if let Some(before) = &q.before {
        let mut rows = fetch(
            pool,
            schema,
            portal_id,
            q,
            &key,
            dir.reverse(),
            Some(before),
            limit + 1,
        )
        .await?;
        let more_before = rows.len() > limit;
        rows.truncate(limit);
        rows.reverse();
        if more_before {
            let next = rows.last().map(|last| cursor_of(&q.sort, &key, last));
            let prev = rows.first().map(|r| cursor_of(&q.sort, &key, r));
            return Ok(Page {
                records: rows.into_iter().map(|r| r.0).collect(),
                next,
                prev,
            });
        }
        // Back at the start: show a full first page.
        let first = ListQuery {
            before: None,
            after: None,
            ..q.clone()
        };
        return Box::pin(list_with_schema(pool, schema, portal_id, &first)).await;
    }
    let mut rows = fetch(
        pool,
        schema,
        portal_id,
        q,
        &key,
        dir,
        q.after.as_ref(),
        limit + 1,
    )
    .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|r| cursor_of(&q.sort, &key, r))
    } else {
        None
    };
    let prev = match (&q.after, rows.first()) {
        (Some(_), Some(first)) => {
            let c = cursor_of(&q.sort, &key, first);
            let earlier =
                fetch(pool, schema, portal_id, q, &key, dir.reverse(), Some(&c), 1).await?;
            (!earlier.is_empty()).then_some(c)
        }
        (Some(after), None) => Some(Cursor {
            sort: after.sort.clone(),
            key: after.key.clone(),
            id: if dir == SortDir::Asc {
                after.id.saturating_add(1)
            } else {
                after.id.saturating_sub(1)
            },
        }),
        _ => None,
    };
    Ok(Page {
        records: rows.into_iter().map(|r| r.0).collect(),
        next,
        prev,
    })
}

/// How many records match a query, counting at most `cap` (cheap at any size).
pub async fn count_capped(
    pool: &PgPool,
    schema: &ObjectSchema,
    portal_id: Uuid,
    q: &ListQuery,
    cap: i64,
) -> Result<i64, HubError> {
    let mut qb: QueryBuilder<'static, Postgres> =
        QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM hub_records WHERE ");
    push_base(&mut qb, schema, portal_id, q)?;
    qb.push(" LIMIT ").push_bind(cap).push(") t");
    Ok(qb.build_query_scalar::<i64>().fetch_one(pool).await?)
}

/// The cursor that continues after a given record in a sort order (benchmarks and
/// tools that jump into the middle of a list).
pub async fn cursor_at(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    sort: &Sort,
    id: i64,
) -> Result<Cursor, HubError> {
    let schema = schema::load(pool, portal_id, object).await?;
    let key = sort_key(&schema, &sort.property)?;
    let k: Option<String> = sqlx::query_scalar(&format!(
        "SELECT {}::text FROM hub_records WHERE portal_id = $1 AND object = $2 AND id = $3",
        key.expr
    ))
    .bind(portal_id)
    .bind(object.as_str())
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| not_found(object, id))?;
    Ok(Cursor {
        sort: sort.signature(),
        key: if key.is_id { Some(id.to_string()) } else { k },
        id,
    })
}

/// Names of the properties set on any of these records (for REST `properties` defaults).
pub fn property_names(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .flat_map(|r| r.properties.keys().cloned())
        .collect()
}
