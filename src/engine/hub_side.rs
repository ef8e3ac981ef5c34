//! The hub as the engine sees it: records as plain property maps, writes made with the
//! sync's origin (so the change feed lets the sync recognise its own echoes), schema
//! fields for the mapping editor. The only engine module that calls into `hub`.

use super::plan::{self, ObjectKind};
use super::EngineError;
use crate::hub::HubError;
use crate::hub::{changes, records, schema, ObjectType, WriteOrigin};
use crate::model::{FieldOption, PipelineOption};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub fn object_type(hub_object: &str) -> Option<ObjectType> {
    ObjectType::parse(hub_object)
}

pub fn object_kind(hub_object: &str) -> Option<ObjectKind> {
    Some(match object_type(hub_object)? {
        ObjectType::Contacts => ObjectKind::Contact,
        ObjectType::Companies => ObjectKind::Company,
        ObjectType::Deals => ObjectKind::Deal,
        ObjectType::Invoices => ObjectKind::Invoice,
    })
}

/// The hub's properties of an object, as the mapping editor offers them. Computed
/// properties are shown read-only (they can flow to the app, never from it).
pub async fn fields(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
) -> Result<Vec<FieldOption>, EngineError> {
    let schema = schema::load(pool, portal_id, object).await?;
    Ok(schema
        .properties
        .iter()
        .map(|p| FieldOption {
            name: p.name.clone(),
            label: p.label.clone(),
            kind: p.kind.field_type(),
            required: p.required,
            read_only: p.computed,
            options: p
                .options
                .iter()
                .map(|o| (o.value.clone(), o.label.clone()))
                .collect(),
        })
        .collect())
}

pub async fn pipelines(pool: &PgPool, portal_id: Uuid) -> Result<Vec<PipelineOption>, EngineError> {
    Ok(crate::hub::pipelines::list(pool, portal_id)
        .await?
        .into_iter()
        .map(|p| PipelineOption {
            id: p.id,
            label: p.label,
            stages: p.stages.into_iter().map(|s| (s.id, s.label)).collect(),
        })
        .collect())
}

/// A hub record reduced to what the engine decides on.
#[derive(Debug, Clone)]
pub struct HubRecord {
    pub id: i64,
    pub values: plan::Record,
    pub archived: bool,
    /// A short, human name for lists ([`label_of`]).
    pub label: String,
}

pub fn to_plan(r: &records::Record) -> HubRecord {
    let values: plan::Record = r
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    HubRecord {
        id: r.id,
        label: label_of(&values),
        values,
        archived: r.archived_at.is_some(),
    }
}

/// A short, human name for lists: email, then name, then number or title.
pub fn label_of(values: &plan::Record) -> String {
    label_by(|k| values.get(k).and_then(|v| v.as_str()))
}

fn label_by<'a>(value: impl Fn(&str) -> Option<&'a str>) -> String {
    let text = |k: &str| value(k).map(str::trim).filter(|s| !s.is_empty());
    if let Some(e) = text("email") {
        return e.to_string();
    }
    let full = [
        text("firstname"),
        text("lastname"),
        text("first_name"),
        text("last_name"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    if !full.is_empty() {
        return full;
    }
    ["name", "dealname", "title", "number", "invoice_number"]
        .into_iter()
        .find_map(|k| text(k).map(str::to_string))
        .unwrap_or_default()
}

pub async fn get_many(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    ids: &[i64],
) -> sqlx::Result<Vec<HubRecord>> {
    Ok(records::get_many(pool, portal_id, object, ids)
        .await?
        .iter()
        .map(to_plan)
        .collect())
}

pub async fn scan(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<HubRecord>> {
    Ok(
        records::scan(pool, portal_id, object, Some(after), limit, false)
            .await?
            .iter()
            .map(to_plan)
            .collect(),
    )
}

pub async fn count(pool: &PgPool, portal_id: Uuid, object: ObjectType) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM hub_records WHERE portal_id = $1 AND object = $2 AND archived_at IS NULL")
        .bind(portal_id)
        .bind(object.as_str())
        .fetch_one(pool)
        .await
}

fn patch(values: &plan::Record) -> schema::PropertyValues {
    values.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A batch of hub writes of one kind.
#[derive(Clone, Copy)]
pub enum Writes<'a> {
    Create(&'a [&'a plan::Record]),
    Update(&'a [(i64, &'a plan::Record)]),
}

impl<'a> Writes<'a> {
    fn len(&self) -> usize {
        match self {
            Writes::Create(v) => v.len(),
            Writes::Update(v) => v.len(),
        }
    }

    fn one(&self, i: usize) -> Writes<'a> {
        match *self {
            Writes::Create(v) => Writes::Create(&v[i..=i]),
            Writes::Update(v) => Writes::Update(&v[i..=i]),
        }
    }
}

/// What the engine keeps of a hub record it wrote.
#[derive(Debug, Clone)]
pub struct WrittenRecord {
    pub id: i64,
    pub label: String,
}

impl WrittenRecord {
    fn of(r: &records::Record) -> WrittenRecord {
        WrittenRecord {
            id: r.id,
            label: label_by(|k| r.properties.get(k).map(String::as_str)),
        }
    }
}

async fn write_batch(
    conn: &mut PgConnection,
    schema: &schema::ObjectSchema,
    portal_id: Uuid,
    origin: &WriteOrigin,
    writes: Writes<'_>,
    feed: &mut changes::Deferred,
) -> sqlx::Result<Vec<Result<WrittenRecord, HubError>>> {
    Ok(match writes {
        Writes::Create(values) => {
            let inputs: Vec<schema::PropertyValues> = values.iter().map(|v| patch(v)).collect();
            records::create_each_in(conn, schema, portal_id, &inputs, origin, feed)
                .await?
                .into_iter()
                .map(|r| r.map(|r| WrittenRecord::of(&r)))
                .collect()
        }
        Writes::Update(values) => {
            let inputs: Vec<(i64, schema::PropertyValues)> =
                values.iter().map(|(id, v)| (*id, patch(v))).collect();
            records::update_each_in(conn, schema, portal_id, &inputs, origin, feed)
                .await?
                .into_iter()
                .map(|r| r.map(|u| WrittenRecord::of(&u.record)))
                .collect()
        }
    })
}

/// Writes a batch inside the caller's transaction, all in one statement; a record the
/// hub refuses (invalid, an email another contact has, archived) fails alone. Should
/// the database itself refuse the batch, each record is tried on its own, so one bad
/// record never holds up the others. The change rows are kept in `feed`, for the
/// caller to append before it commits.
pub async fn write_many(
    conn: &mut PgConnection,
    schema: &schema::ObjectSchema,
    portal_id: Uuid,
    sync_id: Uuid,
    writes: Writes<'_>,
    feed: &mut changes::Deferred,
) -> sqlx::Result<Vec<Result<WrittenRecord, HubError>>> {
    let origin = WriteOrigin::Sync(sync_id);
    sqlx::query("SAVEPOINT hub_batch")
        .execute(&mut *conn)
        .await?;
    match write_batch(conn, schema, portal_id, &origin, writes, feed).await {
        Ok(results) => {
            sqlx::query("RELEASE SAVEPOINT hub_batch")
                .execute(&mut *conn)
                .await?;
            return Ok(results);
        }
        Err(sqlx::Error::Database(e)) => {
            tracing::warn!(error = %e, "the hub refused a batch; writing its records one by one");
            sqlx::query("ROLLBACK TO SAVEPOINT hub_batch")
                .execute(&mut *conn)
                .await?;
        }
        Err(e) => return Err(e),
    }
    let mut out = Vec::with_capacity(writes.len());
    for i in 0..writes.len() {
        sqlx::query("SAVEPOINT hub_one").execute(&mut *conn).await?;
        match write_batch(conn, schema, portal_id, &origin, writes.one(i), feed).await {
            Ok(mut r) => {
                sqlx::query("RELEASE SAVEPOINT hub_one")
                    .execute(&mut *conn)
                    .await?;
                out.push(
                    r.pop()
                        .unwrap_or_else(|| Err(HubError::internal("no answer"))),
                );
            }
            Err(sqlx::Error::Database(e)) => {
                sqlx::query("ROLLBACK TO SAVEPOINT hub_one")
                    .execute(&mut *conn)
                    .await?;
                out.push(Err(HubError::internal(format!(
                    "the hub's database refused the record: {e}"
                ))));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub async fn load_schema(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
) -> sqlx::Result<schema::ObjectSchema> {
    schema::load(pool, portal_id, object).await
}
