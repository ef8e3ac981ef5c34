//! CRM v3 object endpoints: list, read, create, update, archive and the batch variants.
//!
//! Writes are checked in full before anything is stored, so a failing input fails a create
//! batch whole (HubSpot: a batch create with an invalid or conflicting input creates nothing).

use crate::auth::Principal;
use crate::error::{ApiError, Body};
use crate::schema::{association_target, iso, normalize, ObjectType, PropError, PIPELINE_ID};
use crate::store::{Ref, Store};
use crate::{lock, now_ms, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// HubSpot's batch endpoints take at most 100 inputs.
const MAX_BATCH: usize = 100;
const MAX_LIST_LIMIT: usize = 100;

pub type Params = Query<Vec<(String, String)>>;

pub fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A list parameter, given comma-separated, repeated, or both.
pub fn list_param(q: &[(String, String)], name: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Ids arrive as JSON strings or numbers.
pub fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    }
}

/// The properties an answer shows: those asked for (or the defaults), the written ones, and
/// always `hs_object_id`, `createdate` and the last-modified date, as HubSpot does.
pub fn selection(
    obj: ObjectType,
    requested: &[String],
    written: impl Iterator<Item = String>,
) -> Vec<String> {
    let mut names: BTreeSet<String> = if requested.is_empty() {
        obj.default_properties()
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        requested
            .iter()
            .filter(|n| obj.property(n).is_some())
            .cloned()
            .collect()
    };
    names.extend(["hs_object_id", "createdate", obj.modified_property()].map(String::from));
    names.extend(written.filter(|n| obj.property(n).is_some()));
    names.into_iter().collect()
}

fn associations_param(q: &[(String, String)]) -> Result<Vec<ObjectType>, ApiError> {
    let mut out = Vec::new();
    for name in list_param(q, "associations") {
        let t = ObjectType::parse(&name)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

pub fn not_found(obj: ObjectType, id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Object not found. No {} with id {id}.",
        obj.singular()
    ))
    .with("context", json!({ "id": [id] }))
}

fn email_conflict(existing: u64) -> ApiError {
    ApiError::conflict(format!("Contact already exists. Existing ID: {existing}"))
}

pub fn check_batch(n: usize) -> Result<(), ApiError> {
    if n > MAX_BATCH {
        return Err(ApiError::validation(format!(
            "Batch input exceeds the maximum of {MAX_BATCH} inputs (got {n})."
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct CreateInput {
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    associations: Vec<AssociationInput>,
}

#[derive(Deserialize)]
struct AssociationInput {
    to: IdInput,
    #[serde(default)]
    types: Vec<AssociationSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationSpec {
    association_type_id: u32,
}

#[derive(Deserialize)]
pub struct IdInput {
    pub id: Value,
}

#[derive(Deserialize)]
pub struct PatchInput {
    #[serde(default)]
    properties: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    id: Value,
    #[serde(default)]
    properties: Map<String, Value>,
    id_property: Option<String>,
}

#[derive(Deserialize)]
pub struct Inputs<T> {
    pub inputs: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRead {
    inputs: Vec<IdInput>,
    #[serde(default)]
    properties: Vec<String>,
    id_property: Option<String>,
}

/// Checks every written value; `None` clears a property.
fn check_properties(
    obj: ObjectType,
    props: &Map<String, Value>,
) -> Result<BTreeMap<String, Option<String>>, Vec<PropError>> {
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, value) in props {
        match normalize(obj, name, value) {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// A create, checked: its values and the records it is to be associated with.
struct Prepared {
    props: BTreeMap<String, String>,
    links: Vec<Ref>,
}

fn resolve_links(
    store: &Store,
    obj: ObjectType,
    inputs: &[AssociationInput],
) -> Result<Vec<Ref>, ApiError> {
    let mut links = Vec::new();
    for a in inputs {
        let id = id_text(&a.to.id);
        for t in &a.types {
            let target = association_target(obj, t.association_type_id).ok_or_else(|| {
                ApiError::validation(format!(
                    "associationTypeId {} is not a valid association type from {}.",
                    t.association_type_id,
                    obj.name()
                ))
            })?;
            let to_id = id
                .parse::<u64>()
                .ok()
                .filter(|n| store.exists((target, *n)));
            let Some(to_id) = to_id else {
                return Err(ApiError::validation(format!(
                    "Cannot associate to {} {id}: no such record.",
                    target.singular()
                )));
            };
            if !links.contains(&(target, to_id)) {
                links.push((target, to_id));
            }
        }
    }
    Ok(links)
}

/// Notes each contact email of a write, refusing one taken by another record or by an
/// earlier input of the same batch.
fn claim_email(
    store: &Store,
    claimed: &mut HashMap<String, usize>,
    email: &str,
    owner: Option<u64>,
    index: usize,
) -> Result<(), ApiError> {
    if let Some(existing) = store.email_owner(email) {
        if Some(existing) != owner {
            return Err(email_conflict(existing));
        }
    }
    if let Some(prev) = claimed.insert(email.to_lowercase(), index) {
        return Err(ApiError::validation(format!(
            "Duplicate email {email} in batch inputs {prev} and {index}."
        )));
    }
    Ok(())
}

fn prepare_creates(
    store: &Store,
    obj: ObjectType,
    inputs: &[CreateInput],
    batch: bool,
) -> Result<Vec<Prepared>, ApiError> {
    let mut claimed = HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let values = check_properties(obj, &input.properties)
            .map_err(|e| ApiError::invalid_properties(&e, batch.then_some(i)))?;
        let props: BTreeMap<String, String> = values
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        if let Some(email) = props.get("email").filter(|_| obj == ObjectType::Contacts) {
            claim_email(store, &mut claimed, email, None, i)?;
        }
        let links = resolve_links(store, obj, &input.associations)?;
        out.push(Prepared { props, links });
    }
    Ok(out)
}

/// Inserts checked creates; answers each new id with the names it wrote.
fn apply_creates(
    store: &mut Store,
    obj: ObjectType,
    prepared: Vec<Prepared>,
) -> Vec<(u64, Vec<String>)> {
    prepared
        .into_iter()
        .map(|p| {
            let now = now_ms();
            let written: Vec<String> = p.props.keys().cloned().collect();
            let id = store.insert(obj, p.props, now, true);
            for link in p.links {
                store.link((obj, id), link, now);
            }
            (id, written)
        })
        .collect()
}

fn prepare_update(
    store: &Store,
    obj: ObjectType,
    id: u64,
    props: &Map<String, Value>,
    claimed: &mut HashMap<String, usize>,
    index: Option<usize>,
) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let mut values =
        check_properties(obj, props).map_err(|e| ApiError::invalid_properties(&e, index))?;
    if obj == ObjectType::Contacts {
        if let Some(Some(email)) = values.get("email") {
            claim_email(store, claimed, email, Some(id), index.unwrap_or(0))?;
        }
    }
    let has_pipeline = store
        .table(obj)
        .active(id)
        .is_some_and(|r| r.props.contains_key("pipeline"));
    if obj == ObjectType::Deals && matches!(values.get("dealstage"), Some(Some(_))) && !has_pipeline
    {
        values
            .entry("pipeline".into())
            .or_insert_with(|| Some(PIPELINE_ID.into()));
    }
    Ok(values)
}

pub fn publish(app: &Shared, store: std::sync::MutexGuard<'_, Store>, who: &Principal) {
    let mut store = store;
    let changes = store.take_changes();
    drop(store);
    app.hooks.enqueue(changes, who);
}

pub fn batch_answer(
    results: Vec<Value>,
    started: &str,
    errors: Vec<Value>,
    ok: StatusCode,
) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso(now_ms()),
    });
    if errors.is_empty() {
        return (ok, Json(body)).into_response();
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = Value::Array(errors);
    (StatusCode::MULTI_STATUS, Json(body)).into_response()
}

pub fn missing_error(obj: ObjectType, verb: &str, ids: Vec<String>) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!(
            "Could not {verb} some {} objects, they may be deleted or not exist. Check that ids are valid.",
            obj.singular().to_uppercase()
        ),
        "context": { "ids": ids },
    })
}

pub async fn list(
    State(app): State<Shared>,
    Path(object): Path<String>,
    Query(q): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let limit = match param(&q, "limit") {
        None => 10,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::validation(format!("limit must be an integer, got {s}")))?,
    };
    if limit > MAX_LIST_LIMIT {
        return Err(ApiError::validation(format!(
            "limit must be at most {MAX_LIST_LIMIT}, got {limit}"
        )));
    }
    // The cursor is the id the next page starts at; HubSpot's is opaque to clients too.
    let after = match param(&q, "after") {
        None => 0,
        Some(s) => s.parse::<u64>().map_err(|_| {
            ApiError::validation(format!("after is not a valid paging cursor: {s}"))
        })?,
    };
    let archived = param(&q, "archived") == Some("true");
    let names = selection(obj, &list_param(&q, "properties"), std::iter::empty());
    let with = associations_param(&q)?;
    let store = lock(&app.store);
    let mut page = store
        .table(obj)
        .records
        .range(after..)
        .filter(|(_, r)| r.archived_ms.is_some() == archived)
        .map(|(id, _)| *id)
        .take(limit + 1)
        .collect::<Vec<_>>();
    let next = (page.len() > limit).then(|| page[limit]);
    page.truncate(limit);
    let results: Vec<Value> = page
        .iter()
        .map(|id| store.render(obj, *id, &names, &with))
        .collect();
    let mut out = json!({ "results": results });
    if let Some(next) = next {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut link = reqwest::Url::parse(&format!("http://{host}{}", uri.path()))
            .map_err(|e| ApiError::validation(e.to_string()))?;
        {
            let mut pairs = link.query_pairs_mut();
            for (k, v) in q.iter().filter(|(k, _)| k != "after") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("after", &next.to_string());
        }
        out["paging"] = json!({ "next": { "after": next.to_string(), "link": link.as_str() } });
    }
    Ok(Json(out))
}

pub async fn read(
    State(app): State<Shared>,
    Path((object, id)): Path<(String, String)>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let names = selection(obj, &list_param(&q, "properties"), std::iter::empty());
    let with = associations_param(&q)?;
    let store = lock(&app.store);
    let found = if param(&q, "archived") == Some("true") {
        id.parse::<u64>().ok().filter(|n| {
            store
                .table(obj)
                .records
                .get(n)
                .is_some_and(|r| r.archived_ms.is_some())
        })
    } else {
        store.resolve(obj, &id, param(&q, "idProperty"))?
    };
    let rid = found.ok_or_else(|| not_found(obj, &id))?;
    Ok(Json(store.render(obj, rid, &names, &with)))
}

pub async fn create(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path(object): Path<String>,
    Body(input): Body<CreateInput>,
) -> Result<Response, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let mut store = lock(&app.store);
    let prepared = prepare_creates(&store, obj, std::slice::from_ref(&input), false)?;
    let (id, written) = apply_creates(&mut store, obj, prepared).remove(0);
    let body = store.render(obj, id, &selection(obj, &[], written.into_iter()), &[]);
    publish(&app, store, &who);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn update(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path((object, id)): Path<(String, String)>,
    Query(q): Params,
    Body(input): Body<PatchInput>,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let mut store = lock(&app.store);
    let rid = store
        .resolve(obj, &id, param(&q, "idProperty"))?
        .ok_or_else(|| not_found(obj, &id))?;
    let values = prepare_update(
        &store,
        obj,
        rid,
        &input.properties,
        &mut HashMap::new(),
        None,
    )?;
    store.update(obj, rid, &values, now_ms());
    let body = store.render(obj, rid, &selection(obj, &[], values.into_keys()), &[]);
    publish(&app, store, &who);
    Ok(Json(body))
}

pub async fn archive(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path((object, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let mut store = lock(&app.store);
    let rid = store
        .resolve(obj, &id, None)?
        .ok_or_else(|| not_found(obj, &id))?;
    store.archive(obj, rid, now_ms());
    publish(&app, store, &who);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn batch_create(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path(object): Path<String>,
    Body(body): Body<Inputs<CreateInput>>,
) -> Result<Response, ApiError> {
    let obj = ObjectType::parse(&object)?;
    check_batch(body.inputs.len())?;
    let started = iso(now_ms());
    let mut store = lock(&app.store);
    let prepared = prepare_creates(&store, obj, &body.inputs, true)?;
    let results = apply_creates(&mut store, obj, prepared)
        .into_iter()
        .map(|(id, written)| store.render(obj, id, &selection(obj, &[], written.into_iter()), &[]))
        .collect();
    publish(&app, store, &who);
    Ok(batch_answer(
        results,
        &started,
        Vec::new(),
        StatusCode::CREATED,
    ))
}

pub async fn batch_update(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path(object): Path<String>,
    Body(body): Body<Inputs<UpdateInput>>,
) -> Result<Response, ApiError> {
    let obj = ObjectType::parse(&object)?;
    check_batch(body.inputs.len())?;
    let started = iso(now_ms());
    let mut seen = BTreeSet::new();
    let duplicates: Vec<String> = body
        .inputs
        .iter()
        .map(|i| id_text(&i.id))
        .filter(|id| !seen.insert(id.clone()))
        .collect();
    if !duplicates.is_empty() {
        return Err(ApiError::validation(format!(
            "Duplicate IDs found in batch input: [{}]. IDs must be unique",
            duplicates.join(", ")
        )));
    }
    let mut store = lock(&app.store);
    let mut claimed = HashMap::new();
    let mut planned = Vec::new();
    let mut missing = Vec::new();
    for (i, input) in body.inputs.iter().enumerate() {
        let id = id_text(&input.id);
        match store.resolve(obj, &id, input.id_property.as_deref())? {
            Some(rid) => planned.push((
                rid,
                prepare_update(&store, obj, rid, &input.properties, &mut claimed, Some(i))?,
            )),
            None => missing.push(id),
        }
    }
    let mut results = Vec::new();
    for (rid, values) in planned {
        store.update(obj, rid, &values, now_ms());
        results.push(store.render(obj, rid, &selection(obj, &[], values.into_keys()), &[]));
    }
    publish(&app, store, &who);
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![missing_error(obj, "update", missing)]
    };
    Ok(batch_answer(results, &started, errors, StatusCode::OK))
}

pub async fn batch_upsert(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path(object): Path<String>,
    Body(body): Body<Inputs<UpdateInput>>,
) -> Result<Response, ApiError> {
    let obj = ObjectType::parse(&object)?;
    check_batch(body.inputs.len())?;
    let started = iso(now_ms());
    if obj != ObjectType::Contacts {
        return Err(ApiError::validation(format!(
            "Upsert needs a unique idProperty; {} has none here (only contacts' email).",
            obj.name()
        )));
    }
    enum Plan {
        Update(u64, BTreeMap<String, Option<String>>),
        Create(Map<String, Value>),
    }
    let mut store = lock(&app.store);
    let mut claimed = HashMap::new();
    let mut plans = Vec::new();
    for (i, input) in body.inputs.iter().enumerate() {
        let key = id_text(&input.id);
        let property = input.id_property.as_deref().unwrap_or("email");
        if property != "email" {
            return Err(ApiError::validation(format!(
                "idProperty {property} is not a unique property of contacts; use email."
            )));
        }
        match store.resolve(obj, &key, Some(property))? {
            Some(rid) => plans.push(Plan::Update(
                rid,
                prepare_update(&store, obj, rid, &input.properties, &mut claimed, Some(i))?,
            )),
            None => {
                // A new record gets the idProperty value it was looked up by.
                let mut props = input.properties.clone();
                props.insert("email".into(), Value::String(key.clone()));
                let values = check_properties(obj, &props)
                    .map_err(|e| ApiError::invalid_properties(&e, Some(i)))?;
                if let Some(Some(email)) = values.get("email") {
                    claim_email(&store, &mut claimed, email, None, i)?;
                }
                plans.push(Plan::Create(props));
            }
        }
    }
    let mut results = Vec::new();
    for plan in plans {
        let (rid, written, new) = match plan {
            Plan::Update(rid, values) => {
                store.update(obj, rid, &values, now_ms());
                (rid, values.into_keys().collect::<Vec<_>>(), false)
            }
            Plan::Create(props) => {
                let input = CreateInput {
                    properties: props,
                    associations: Vec::new(),
                };
                let prepared = prepare_creates(&store, obj, std::slice::from_ref(&input), true)?;
                let (rid, written) = apply_creates(&mut store, obj, prepared).remove(0);
                (rid, written, true)
            }
        };
        let mut record = store.render(obj, rid, &selection(obj, &[], written.into_iter()), &[]);
        record["new"] = Value::Bool(new);
        results.push(record);
    }
    publish(&app, store, &who);
    Ok(batch_answer(results, &started, Vec::new(), StatusCode::OK))
}

pub async fn batch_read(
    State(app): State<Shared>,
    Path(object): Path<String>,
    Body(body): Body<BatchRead>,
) -> Result<Response, ApiError> {
    let obj = ObjectType::parse(&object)?;
    check_batch(body.inputs.len())?;
    let started = iso(now_ms());
    let names = selection(obj, &body.properties, std::iter::empty());
    let store = lock(&app.store);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &body.inputs {
        let id = id_text(&input.id);
        match store.resolve(obj, &id, body.id_property.as_deref())? {
            Some(rid) => results.push(store.render(obj, rid, &names, &[])),
            None => missing.push(id),
        }
    }
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![missing_error(obj, "get", missing)]
    };
    Ok(batch_answer(results, &started, errors, StatusCode::OK))
}

pub async fn batch_archive(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path(object): Path<String>,
    Body(body): Body<Inputs<IdInput>>,
) -> Result<StatusCode, ApiError> {
    let obj = ObjectType::parse(&object)?;
    check_batch(body.inputs.len())?;
    let mut store = lock(&app.store);
    for input in &body.inputs {
        // HubSpot answers 204 for a batch archive whatever ids it was given.
        if let Some(rid) = store.resolve(obj, &id_text(&input.id), None)? {
            store.archive(obj, rid, now_ms());
        }
    }
    publish(&app, store, &who);
    Ok(StatusCode::NO_CONTENT)
}
