//! Storage of records (contacts, companies, deals, invoices), their associations,
//! pipelines, the change feed and search. Every write takes the account's next change
//! sequence values (which serialises the account's writers, see the migration) and queues
//! its webhooks in the same transaction.

use super::objects::{canonical_pair, validate, ErrorCode, ItemError, Object, PipelineIndex};
use super::webhooks;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Pages hold at most this many records.
pub const MAX_PAGE: i64 = 100;
/// Batches hold at most this many inputs.
pub const MAX_BATCH: usize = 100;

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub object: Object,
    pub properties: Map<String, Value>,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Other object (`companies`) → ids, for every object this one can be associated with.
    pub associations: BTreeMap<&'static str, Vec<String>>,
}

impl Record {
    /// The record as every endpoint and webhook shows it. Deleted records (tombstones)
    /// carry `"deleted": true`.
    pub fn to_json(&self) -> Value {
        let mut properties = self.properties.clone();
        if self.object == Object::Contacts {
            properties.insert("created_at".into(), Value::String(rfc3339(self.created_at)));
        }
        let mut v = json!({
            "id": self.id.to_string(),
            "object": self.object.as_str(),
            "properties": properties,
            "associations": self.associations,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "archived": self.archived,
        });
        if self.archived {
            v["deleted"] = Value::Bool(true);
        }
        v
    }

    /// A property as text, for pages.
    pub fn text(&self, name: &str) -> String {
        match self.properties.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    object: String,
    properties: Json<Map<String, Value>>,
    archived: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, object, properties, archived, created_at, updated_at";

/// Rows plus their associations, in the rows' order.
async fn with_associations(conn: &mut PgConnection, rows: Vec<Row>) -> sqlx::Result<Vec<Record>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut links: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    if !ids.is_empty() {
        // Both stored directions. Only live records have associations: deleting a
        // record removes its links, so no join with `records` is needed here.
        let found: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT from_id, to_object, to_id FROM associations WHERE from_id = ANY($1)
             UNION ALL
             SELECT to_id, from_object, from_id FROM associations WHERE to_id = ANY($1)
             ORDER BY 3",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        for (id, other_object, other_id) in found {
            links.entry(id).or_default().push((other_object, other_id));
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let object = Object::parse(&row.object)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown object {}", row.object).into()))?;
        let mut associations: BTreeMap<&'static str, Vec<String>> = object
            .associable()
            .iter()
            .map(|o| (o.as_str(), Vec::new()))
            .collect();
        for (other_object, other_id) in links.remove(&row.id).unwrap_or_default() {
            if let Some(list) =
                Object::parse(&other_object).and_then(|o| associations.get_mut(o.as_str()))
            {
                list.push(other_id.to_string());
            }
        }
        out.push(Record {
            id: row.id,
            object,
            properties: row.properties.0,
            archived: row.archived,
            created_at: row.created_at,
            updated_at: row.updated_at,
            associations,
        });
    }
    Ok(out)
}

async fn load(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<Vec<Record>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM records WHERE id = ANY($1) ORDER BY id"
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    with_associations(conn, rows).await
}

/// One live record of the account (deleted ones are `None`).
pub async fn get(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    id: i64,
) -> sqlx::Result<Option<Record>> {
    Ok(get_many(pool, account_id, object, &[id]).await?.pop())
}

/// Live records of the account among `ids`, in id order (unknown or deleted ones left out).
pub async fn get_many(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    ids: &[i64],
) -> sqlx::Result<Vec<Record>> {
    let mut conn = pool.acquire().await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM records WHERE id = ANY($1) AND account_id = $2 AND object = $3 AND NOT archived
         ORDER BY id"
    ))
    .bind(ids)
    .bind(account_id)
    .bind(object.as_str())
    .fetch_all(&mut *conn)
    .await?;
    with_associations(&mut conn, rows).await
}

/// A page of live records in id order, after `after_id`. Ids never change and are never
/// reused, so a scan that follows the cursor sees every record that exists throughout
/// the scan exactly once, however often those records are updated meanwhile.
pub async fn list(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    after_id: i64,
    limit: i64,
    updated_since: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<Record>> {
    let mut conn = pool.acquire().await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM records
          WHERE account_id = $1 AND object = $2 AND id > $3 AND NOT archived
            AND ($4::timestamptz IS NULL OR updated_at >= $4)
          ORDER BY id LIMIT $5"
    ))
    .bind(account_id)
    .bind(object.as_str())
    .bind(after_id)
    .bind(updated_since)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_associations(&mut conn, rows).await
}

/// The most recently updated live records, for the UI.
pub async fn recent(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    query: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Record>> {
    let mut conn = pool.acquire().await?;
    let pattern = query.map(|q| {
        format!(
            "%{}%",
            q.trim()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM records
          WHERE account_id = $1 AND object = $2 AND NOT archived
            AND ($3::text IS NULL OR properties::text ILIKE $3)
          ORDER BY updated_at DESC, id DESC LIMIT $4"
    ))
    .bind(account_id)
    .bind(object.as_str())
    .bind(pattern)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_associations(&mut conn, rows).await
}

pub async fn count(pool: &PgPool, account_id: i64, object: Object) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM records WHERE account_id = $1 AND object = $2 AND NOT archived",
    )
    .bind(account_id)
    .bind(object.as_str())
    .fetch_one(pool)
    .await
}

/// A page of the change feed: records (deleted ones included, as tombstones) whose
/// latest change comes after `after_seq`, in change order, with each one's sequence.
pub async fn changes(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    after_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, Record)>> {
    let mut conn = pool.acquire().await?;
    let seqs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, change_seq FROM records
          WHERE account_id = $1 AND object = $2 AND change_seq > $3
          ORDER BY change_seq LIMIT $4",
    )
    .bind(account_id)
    .bind(object.as_str())
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = seqs.iter().map(|(id, _)| *id).collect();
    let mut by_id: HashMap<i64, Record> = load(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(seqs
        .into_iter()
        .filter_map(|(id, seq)| by_id.remove(&id).map(|r| (seq, r)))
        .collect())
}

/// The account's current change sequence: a change-feed cursor at "now".
pub async fn latest_seq(pool: &PgPool, account_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT change_seq FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchBy {
    Email,
    Domain,
    Name,
}

/// Live records whose email, domain or name equals `value`, compared trimmed and
/// case-insensitively (oldest first, at most 100).
pub async fn search(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    by: SearchBy,
    value: &str,
) -> sqlx::Result<Vec<Record>> {
    let expr = match (by, object) {
        (SearchBy::Email, _) => "lower(btrim(properties ->> 'email'))".to_string(),
        (SearchBy::Domain, _) => "lower(btrim(properties ->> 'domain'))".to_string(),
        (SearchBy::Name, Object::Contacts) => {
            "lower(btrim(concat_ws(' ', btrim(properties ->> 'first_name'), btrim(properties ->> 'last_name'))))"
                .to_string()
        }
        (SearchBy::Name, o) => format!("lower(btrim(properties ->> '{}'))", o.title_field()),
    };
    let mut conn = pool.acquire().await?;
    // The object is written into the statement (it is one of four fixed names) so that
    // the partial indexes on email, domain and name serve every execution.
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM records
          WHERE account_id = $1 AND object = '{}' AND NOT archived AND {expr} = lower(btrim($2))
          ORDER BY id LIMIT 100",
        object.as_str()
    ))
    .bind(account_id)
    .bind(value)
    .fetch_all(&mut *conn)
    .await?;
    with_associations(&mut conn, rows).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Stage {
    pub id: i64,
    pub pipeline_id: i64,
    pub label: String,
    pub display_order: i32,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: i64,
    pub label: String,
    pub display_order: i32,
    pub stages: Vec<Stage>,
}

impl Pipeline {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "label": self.label,
            "display_order": self.display_order,
            "stages": self.stages.iter().map(|s| json!({
                "id": s.id.to_string(),
                "label": s.label,
                "display_order": s.display_order,
            })).collect::<Vec<_>>(),
        })
    }
}

pub async fn pipelines(conn: &mut PgConnection, account_id: i64) -> sqlx::Result<Vec<Pipeline>> {
    let heads: Vec<(i64, String, i32)> =
        sqlx::query_as("SELECT id, label, display_order FROM pipelines WHERE account_id = $1 ORDER BY display_order, id")
            .bind(account_id)
            .fetch_all(&mut *conn)
            .await?;
    let stages: Vec<Stage> = sqlx::query_as(
        "SELECT s.id, s.pipeline_id, s.label, s.display_order FROM pipeline_stages s
           JOIN pipelines p ON p.id = s.pipeline_id
          WHERE p.account_id = $1 ORDER BY s.display_order, s.id",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(heads
        .into_iter()
        .map(|(id, label, display_order)| Pipeline {
            id,
            label,
            display_order,
            stages: stages
                .iter()
                .filter(|s| s.pipeline_id == id)
                .cloned()
                .collect(),
        })
        .collect())
}

pub async fn pipeline_index(
    conn: &mut PgConnection,
    account_id: i64,
) -> sqlx::Result<PipelineIndex> {
    Ok(PipelineIndex {
        stages: pipelines(conn, account_id)
            .await?
            .into_iter()
            .map(|p| {
                (
                    p.id.to_string(),
                    p.stages.iter().map(|s| s.id.to_string()).collect(),
                )
            })
            .collect(),
    })
}

/// Creates a pipeline with its stages, in the given order.
pub async fn create_pipeline(
    conn: &mut PgConnection,
    account_id: i64,
    label: &str,
    display_order: i32,
    stages: &[&str],
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO pipelines (account_id, label, display_order) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(account_id)
    .bind(label)
    .bind(display_order)
    .fetch_one(&mut *conn)
    .await?;
    for (i, stage) in stages.iter().enumerate() {
        sqlx::query(
            "INSERT INTO pipeline_stages (pipeline_id, label, display_order) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(stage)
        .bind(i as i32)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// The account's change sequence, locked for the rest of the transaction.
pub struct Sequence {
    account_id: i64,
    start: i64,
    current: i64,
}

impl Sequence {
    pub async fn lock(conn: &mut PgConnection, account_id: i64) -> sqlx::Result<Sequence> {
        let current: i64 =
            sqlx::query_scalar("SELECT change_seq FROM accounts WHERE id = $1 FOR UPDATE")
                .bind(account_id)
                .fetch_one(&mut *conn)
                .await?;
        Ok(Sequence {
            account_id,
            start: current,
            current,
        })
    }

    pub fn advance(&mut self) -> i64 {
        self.current += 1;
        self.current
    }

    /// Stores the new value; call before committing.
    pub async fn finish(self, conn: &mut PgConnection) -> sqlx::Result<()> {
        if self.current != self.start {
            sqlx::query("UPDATE accounts SET change_seq = $1 WHERE id = $2")
                .bind(self.current)
                .bind(self.account_id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// One input of `POST /v1/{object}/batch`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    #[serde(default, deserialize_with = "id_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Other object → ids; replaces the associations with that object.
    #[serde(default)]
    pub associations: Option<Map<String, Value>>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(serde::de::Error::custom("id must be a string")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    Created,
    Updated,
}

#[derive(Debug)]
pub enum ItemOutcome {
    Done {
        status: ItemStatus,
        record: Record,
        /// A create answered from an earlier one with the same idempotency key.
        replayed: bool,
    },
    Failed(ItemError),
}

/// A batch input that could not even be read (wrong JSON shape) fails on its own.
pub enum BatchItem {
    Input(BatchInput),
    Malformed(String),
}

/// Creates and updates in one transaction; each item succeeds or fails on its own.
pub async fn batch(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    items: Vec<BatchItem>,
) -> anyhow::Result<Vec<ItemOutcome>> {
    let mut tx = pool.begin().await?;
    let mut seq = Sequence::lock(&mut tx, account_id).await?;
    let pipelines = if object == Object::Deals {
        pipeline_index(&mut tx, account_id).await?
    } else {
        PipelineIndex::default()
    };
    let mut outcomes = Vec::with_capacity(items.len());
    // Records of other objects whose associations changed, touched once at the end.
    let mut touched: BTreeSet<i64> = BTreeSet::new();
    let mut written: Vec<(usize, ItemStatus, i64)> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let input = match item {
            BatchItem::Input(i) => i,
            BatchItem::Malformed(message) => {
                outcomes.push(Some(ItemOutcome::Failed(ItemError {
                    code: ErrorCode::Validation,
                    message,
                    field: None,
                })));
                continue;
            }
        };
        let result = match &input.id {
            None => create_one(&mut tx, &mut seq, account_id, object, &input, &pipelines).await?,
            Some(id) => {
                update_one(
                    &mut tx, &mut seq, account_id, object, id, &input, &pipelines,
                )
                .await?
            }
        };
        match result {
            Ok(Written::Changed { status, id, others }) => {
                touched.extend(others);
                written.push((index, status, id));
                outcomes.push(None);
            }
            Ok(Written::Unchanged {
                status,
                id,
                replayed,
            }) => {
                let record = load(&mut tx, &[id])
                    .await?
                    .pop()
                    .ok_or_else(|| anyhow::anyhow!("record {id} vanished"))?;
                outcomes.push(Some(ItemOutcome::Done {
                    status,
                    record,
                    replayed,
                }));
            }
            Err(e) => outcomes.push(Some(ItemOutcome::Failed(e))),
        }
    }
    // Webhooks carry the records as they are at the end of the batch.
    for id in &touched {
        touch(&mut tx, &mut seq, account_id, *id).await?;
    }
    let ids: Vec<i64> = written.iter().map(|(_, _, id)| *id).collect();
    let loaded: HashMap<i64, Record> = load(&mut tx, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    for (index, status, id) in written {
        // The same record may have been written twice in one batch (an idempotent replay).
        let record = match loaded.get(&id) {
            Some(r) => r.clone(),
            None => anyhow::bail!("record {id} vanished"),
        };
        let kind = if status == ItemStatus::Created {
            "created"
        } else {
            "updated"
        };
        webhooks::enqueue_record(&mut tx, account_id, &record, kind).await?;
        outcomes[index] = Some(ItemOutcome::Done {
            status,
            record,
            replayed: false,
        });
    }
    seq.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(outcomes.into_iter().flatten().collect())
}

enum Written {
    Changed {
        status: ItemStatus,
        id: i64,
        /// Records at the other end of associations that were added or removed.
        others: Vec<i64>,
    },
    Unchanged {
        status: ItemStatus,
        id: i64,
        replayed: bool,
    },
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

async fn create_one(
    conn: &mut PgConnection,
    seq: &mut Sequence,
    account_id: i64,
    object: Object,
    input: &BatchInput,
    pipelines: &PipelineIndex,
) -> anyhow::Result<Result<Written, ItemError>> {
    let key = input
        .idempotency_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if let Some(key) = key {
        if key.len() > 200 {
            return Ok(Err(ItemError::validation(
                "idempotency_key",
                "An idempotency key has at most 200 characters.",
            )));
        }
        if let Some(found) = by_idempotency_key(conn, account_id, key).await? {
            return Ok(found_by_key(object, key, found));
        }
    }
    let properties = match validate(object, None, &input.properties, pipelines) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let wanted =
        match resolve_associations(conn, account_id, object, input.associations.as_ref()).await? {
            Ok(w) => w,
            Err(e) => return Ok(Err(e)),
        };
    let change = seq.advance();
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO records (account_id, object, properties, change_seq, idempotency_key)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(account_id)
    .bind(object.as_str())
    .bind(Json(&properties))
    .bind(change)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        // Another request with the same key committed first.
        let key = key.unwrap_or_default();
        let found = by_idempotency_key(conn, account_id, key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("idempotency key conflict without a record"))?;
        return Ok(found_by_key(object, key, found));
    };
    let others = set_associations(conn, account_id, object, id, &wanted).await?;
    Ok(Ok(Written::Changed {
        status: ItemStatus::Created,
        id,
        others,
    }))
}

async fn by_idempotency_key(
    conn: &mut PgConnection,
    account_id: i64,
    key: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT id, object FROM records WHERE account_id = $1 AND idempotency_key = $2")
        .bind(account_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
}

fn found_by_key(
    object: Object,
    key: &str,
    (id, found_object): (i64, String),
) -> Result<Written, ItemError> {
    if found_object != object.as_str() {
        return Err(ItemError::validation(
            "idempotency_key",
            format!("The idempotency key `{key}` was already used to create a record of {found_object}; use a new key."),
        ));
    }
    Ok(Written::Unchanged {
        status: ItemStatus::Created,
        id,
        replayed: true,
    })
}

#[allow(clippy::too_many_arguments)]
async fn update_one(
    conn: &mut PgConnection,
    seq: &mut Sequence,
    account_id: i64,
    object: Object,
    raw_id: &str,
    input: &BatchInput,
    pipelines: &PipelineIndex,
) -> anyhow::Result<Result<Written, ItemError>> {
    if input.idempotency_key.is_some() {
        return Ok(Err(ItemError::validation(
            "idempotency_key",
            "Idempotency keys are for creates; an update with an id can simply be retried.",
        )));
    }
    let not_found = || {
        ItemError::not_found(
            Some("id"),
            format!(
                "There is no {} record with id {raw_id} (it may have been deleted).",
                object.as_str()
            ),
        )
    };
    let Some(id) = parse_id(raw_id) else {
        return Ok(Err(not_found()));
    };
    let existing: Option<Json<Map<String, Value>>> = sqlx::query_scalar(
        "SELECT properties FROM records WHERE id = $1 AND account_id = $2 AND object = $3 AND NOT archived FOR UPDATE",
    )
    .bind(id)
    .bind(account_id)
    .bind(object.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(Json(existing)) = existing else {
        return Ok(Err(not_found()));
    };
    let properties = match validate(object, Some(&existing), &input.properties, pipelines) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let wanted =
        match resolve_associations(conn, account_id, object, input.associations.as_ref()).await? {
            Ok(w) => w,
            Err(e) => return Ok(Err(e)),
        };
    let others = set_associations(conn, account_id, object, id, &wanted).await?;
    // Writing the values a record already has changes nothing and sends no webhook, so
    // a sync that writes back what it read does not start a ping-pong.
    if properties == existing && others.is_empty() {
        return Ok(Ok(Written::Unchanged {
            status: ItemStatus::Updated,
            id,
            replayed: false,
        }));
    }
    sqlx::query(
        "UPDATE records SET properties = $2, updated_at = now(), change_seq = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(Json(&properties))
    .bind(seq.advance())
    .execute(&mut *conn)
    .await?;
    Ok(Ok(Written::Changed {
        status: ItemStatus::Updated,
        id,
        others,
    }))
}

/// Checks the `associations` of an input: other object → the live records to link.
async fn resolve_associations(
    conn: &mut PgConnection,
    account_id: i64,
    object: Object,
    input: Option<&Map<String, Value>>,
) -> anyhow::Result<Result<Vec<(Object, Vec<i64>)>, ItemError>> {
    let Some(input) = input else {
        return Ok(Ok(Vec::new()));
    };
    let mut out = Vec::new();
    for (name, value) in input {
        let field = format!("associations.{name}");
        let Some(other) = Object::parse(name).filter(|o| object.associable().contains(o)) else {
            let allowed: Vec<&str> = object.associable().iter().map(|o| o.as_str()).collect();
            return Ok(Err(ItemError::validation(
                &field,
                format!(
                    "{} cannot be associated with {name}; they can be with: {}.",
                    object.as_str(),
                    allowed.join(", ")
                ),
            )));
        };
        let Some(list) = value.as_array() else {
            return Ok(Err(ItemError::validation(
                &field,
                format!("{field} must be a list of record ids."),
            )));
        };
        let mut ids = Vec::new();
        for v in list {
            let raw = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Ok(Err(ItemError::validation(
                        &field,
                        format!("{field} must be a list of record ids."),
                    )))
                }
            };
            match parse_id(&raw) {
                Some(id) => ids.push(id),
                None => {
                    return Ok(Err(ItemError::not_found(
                        Some(&field),
                        format!("There is no {name} record with id {raw}."),
                    )))
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let live: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM records WHERE id = ANY($1) AND account_id = $2 AND object = $3 AND NOT archived",
        )
        .bind(&ids)
        .bind(account_id)
        .bind(other.as_str())
        .fetch_all(&mut *conn)
        .await?;
        if let Some(missing) = ids.iter().find(|id| !live.contains(id)) {
            return Ok(Err(ItemError::not_found(
                Some(&field),
                format!("There is no {name} record with id {missing} (it may have been deleted)."),
            )));
        }
        out.push((other, ids));
    }
    Ok(Ok(out))
}

/// Makes the record's associations with each listed object exactly the given ids;
/// returns the records at the other end that were linked or unlinked.
async fn set_associations(
    conn: &mut PgConnection,
    account_id: i64,
    object: Object,
    id: i64,
    wanted: &[(Object, Vec<i64>)],
) -> sqlx::Result<Vec<i64>> {
    let mut changed = Vec::new();
    for (other, ids) in wanted {
        let current: Vec<i64> = sqlx::query_scalar(
            "SELECT to_id FROM associations WHERE from_id = $1 AND to_object = $2
             UNION SELECT from_id FROM associations WHERE to_id = $1 AND from_object = $2",
        )
        .bind(id)
        .bind(other.as_str())
        .fetch_all(&mut *conn)
        .await?;
        for gone in current.iter().filter(|c| !ids.contains(c)) {
            unlink(conn, id, *gone).await?;
            changed.push(*gone);
        }
        for new in ids.iter().filter(|i| !current.contains(i)) {
            link(conn, account_id, object, id, *other, *new).await?;
            changed.push(*new);
        }
    }
    Ok(changed)
}

async fn link(
    conn: &mut PgConnection,
    account_id: i64,
    a: Object,
    a_id: i64,
    b: Object,
    b_id: i64,
) -> sqlx::Result<bool> {
    let Some((from, to)) = canonical_pair(a, b) else {
        return Ok(false);
    };
    let (from_id, to_id) = if from == a {
        (a_id, b_id)
    } else {
        (b_id, a_id)
    };
    let done = sqlx::query(
        "INSERT INTO associations (account_id, from_id, from_object, to_id, to_object) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(account_id)
    .bind(from_id)
    .bind(from.as_str())
    .bind(to_id)
    .bind(to.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

async fn unlink(conn: &mut PgConnection, a_id: i64, b_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM associations WHERE (from_id = $1 AND to_id = $2) OR (from_id = $2 AND to_id = $1)",
    )
    .bind(a_id)
    .bind(b_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records a change to a record without changing its properties (its associations
/// changed): new change sequence, `updated_at`, and an `updated` webhook.
async fn touch(
    conn: &mut PgConnection,
    seq: &mut Sequence,
    account_id: i64,
    id: i64,
) -> anyhow::Result<()> {
    let done = sqlx::query(
        "UPDATE records SET updated_at = now(), change_seq = $3 WHERE id = $1 AND account_id = $2 AND NOT archived",
    )
    .bind(id)
    .bind(account_id)
    .bind(seq.advance())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() > 0 {
        if let Some(record) = load(conn, &[id]).await?.pop() {
            webhooks::enqueue_record(conn, account_id, &record, "updated").await?;
        }
    }
    Ok(())
}

/// Soft delete: the record leaves lists and search, loses its associations, and appears
/// in the change feed and a `deleted` webhook as a tombstone. `false` when there was no
/// such live record.
pub async fn delete(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    id: i64,
) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await?;
    let mut seq = Sequence::lock(&mut tx, account_id).await?;
    let done = sqlx::query(
        "UPDATE records SET archived = true, updated_at = now(), change_seq = $4
          WHERE id = $1 AND account_id = $2 AND object = $3 AND NOT archived",
    )
    .bind(id)
    .bind(account_id)
    .bind(object.as_str())
    .bind(seq.advance())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    // The `deleted` webhook still shows what the record was linked to; then the links go.
    let record = load(&mut tx, &[id])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("record {id} vanished"))?;
    webhooks::enqueue_record(&mut tx, account_id, &record, "deleted").await?;
    sqlx::query("DELETE FROM associations WHERE from_id = $1 OR to_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    seq.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

#[derive(Debug)]
pub enum AssociationError {
    /// One of the two records does not exist (or is deleted).
    NotFound(String),
    /// These objects cannot be associated.
    NotAllowed(String),
}

/// `PUT` (link = true) or `DELETE` one association. Both records get a new change and
/// an `updated` webhook when the association really changed. Returns the first record.
pub async fn associate(
    pool: &PgPool,
    account_id: i64,
    object: Object,
    id: i64,
    other: Object,
    other_id: i64,
    link_them: bool,
) -> anyhow::Result<Result<Record, AssociationError>> {
    if !object.associable().contains(&other) {
        let allowed: Vec<&str> = object.associable().iter().map(|o| o.as_str()).collect();
        return Ok(Err(AssociationError::NotAllowed(format!(
            "{} cannot be associated with {}; they can be with: {}.",
            object.as_str(),
            other.as_str(),
            allowed.join(", ")
        ))));
    }
    let mut tx = pool.begin().await?;
    let mut seq = Sequence::lock(&mut tx, account_id).await?;
    for (o, i) in [(object, id), (other, other_id)] {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM records WHERE id = $1 AND account_id = $2 AND object = $3 AND NOT archived)",
        )
        .bind(i)
        .bind(account_id)
        .bind(o.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Ok(Err(AssociationError::NotFound(format!(
                "There is no {} record with id {i} (it may have been deleted).",
                o.as_str()
            ))));
        }
    }
    let changed = if link_them {
        link(&mut tx, account_id, object, id, other, other_id).await?
    } else {
        unlink(&mut tx, id, other_id).await?
    };
    if changed {
        touch(&mut tx, &mut seq, account_id, id).await?;
        touch(&mut tx, &mut seq, account_id, other_id).await?;
    }
    seq.finish(&mut tx).await?;
    let record = load(&mut tx, &[id])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("record {id} vanished"))?;
    tx.commit().await?;
    Ok(Ok(record))
}
