//! Associations v4: default (unlabeled) associations between contacts, companies and deals,
//! one at a time and in batches. Links are symmetric; labels and "primary" are not modelled,
//! so every link reports the pair's default HUBSPOT_DEFINED type id.

use crate::auth::Principal;
use crate::error::{ApiError, Body};
use crate::objects::{
    batch_answer, check_batch, id_text, missing_error, not_found, param, publish, IdInput, Inputs,
    Params,
};
use crate::schema::{default_association_type, iso, ObjectType};
use crate::store::{Ref, Store};
use crate::{lock, now_ms, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

/// HubSpot's page size for v4 association reads.
const MAX_PAGE: usize = 500;

fn pair(from: &str, to: &str) -> Result<(ObjectType, ObjectType, u32), ApiError> {
    let (f, t) = (ObjectType::parse(from)?, ObjectType::parse(to)?);
    let type_id = default_association_type(f, t).ok_or_else(|| {
        ApiError::validation(format!(
            "No association type between {} and {}.",
            f.name(),
            t.name()
        ))
    })?;
    Ok((f, t, type_id))
}

fn existing(store: &Store, obj: ObjectType, id: &str) -> Option<Ref> {
    id.parse::<u64>()
        .ok()
        .map(|n| (obj, n))
        .filter(|r| store.exists(*r))
}

fn spec(type_id: u32) -> Value {
    json!({ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id })
}

fn types(type_id: u32) -> Value {
    json!([{ "category": "HUBSPOT_DEFINED", "typeId": type_id, "label": null }])
}

pub async fn put_default(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (f, t, type_id) = pair(&from, &to)?;
    let started = iso(now_ms());
    let mut store = lock(&app.store);
    let a = existing(&store, f, &from_id).ok_or_else(|| not_found(f, &from_id))?;
    let b = existing(&store, t, &to_id).ok_or_else(|| not_found(t, &to_id))?;
    store.link(a, b, now_ms());
    publish(&app, store, &who);
    Ok(Json(json!({
        "status": "COMPLETE",
        "results": [{ "from": { "id": from_id }, "to": { "id": to_id }, "associationSpec": spec(type_id) }],
        "startedAt": started,
        "completedAt": iso(now_ms()),
    })))
}

pub async fn remove(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let (f, t, _) = pair(&from, &to)?;
    let mut store = lock(&app.store);
    if let (Some(a), Some(b)) = (existing(&store, f, &from_id), existing(&store, t, &to_id)) {
        store.unlink(a, b, now_ms());
    }
    publish(&app, store, &who);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(app): State<Shared>,
    Path((from, from_id, to)): Path<(String, String, String)>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let (f, t, type_id) = pair(&from, &to)?;
    let limit = param(&q, "limit")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(MAX_PAGE)
        .min(MAX_PAGE);
    let after = param(&q, "after")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let store = lock(&app.store);
    let a = existing(&store, f, &from_id).ok_or_else(|| not_found(f, &from_id))?;
    let ids: Vec<u64> = store
        .links_of(a, t)
        .into_iter()
        .filter(|id| *id >= after)
        .collect();
    let results: Vec<Value> = ids
        .iter()
        .take(limit)
        .map(|id| json!({ "toObjectId": id, "associationTypes": types(type_id) }))
        .collect();
    let mut out = json!({ "results": results });
    if let Some(next) = ids.get(limit) {
        out["paging"] = json!({ "next": { "after": next.to_string() } });
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct PairInput {
    from: IdInput,
    to: IdInput,
}

#[derive(Deserialize)]
pub struct ArchiveInput {
    from: IdInput,
    #[serde(default)]
    to: Vec<IdInput>,
}

pub async fn batch_associate(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path((from, to)): Path<(String, String)>,
    Body(body): Body<Inputs<PairInput>>,
) -> Result<Response, ApiError> {
    let (f, t, type_id) = pair(&from, &to)?;
    check_batch(body.inputs.len())?;
    let started = iso(now_ms());
    let mut store = lock(&app.store);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &body.inputs {
        let (from_id, to_id) = (id_text(&input.from.id), id_text(&input.to.id));
        match (existing(&store, f, &from_id), existing(&store, t, &to_id)) {
            (Some(a), Some(b)) => {
                store.link(a, b, now_ms());
                results.push(json!({ "from": { "id": from_id }, "to": { "id": to_id }, "associationSpec": spec(type_id) }));
            }
            (a, _) => missing.push(if a.is_none() { from_id } else { to_id }),
        }
    }
    publish(&app, store, &who);
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![missing_error(f, "associate", missing)]
    };
    Ok(batch_answer(results, &started, errors, StatusCode::OK))
}

pub async fn batch_archive(
    State(app): State<Shared>,
    Extension(who): Extension<Principal>,
    Path((from, to)): Path<(String, String)>,
    Body(body): Body<Inputs<ArchiveInput>>,
) -> Result<StatusCode, ApiError> {
    let (f, t, _) = pair(&from, &to)?;
    check_batch(body.inputs.len())?;
    let mut store = lock(&app.store);
    for input in &body.inputs {
        let Some(a) = existing(&store, f, &id_text(&input.from.id)) else {
            continue;
        };
        for target in &input.to {
            if let Some(b) = existing(&store, t, &id_text(&target.id)) {
                store.unlink(a, b, now_ms());
            }
        }
    }
    publish(&app, store, &who);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn batch_read(
    State(app): State<Shared>,
    Path((from, to)): Path<(String, String)>,
    Body(body): Body<Inputs<IdInput>>,
) -> Result<Response, ApiError> {
    let (f, t, type_id) = pair(&from, &to)?;
    check_batch(body.inputs.len())?;
    let started = iso(now_ms());
    let store = lock(&app.store);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &body.inputs {
        let id = id_text(&input.id);
        let Some(a) = existing(&store, f, &id) else {
            missing.push(id);
            continue;
        };
        let to: Vec<Value> = store
            .links_of(a, t)
            .iter()
            .map(|n| json!({ "toObjectId": n, "associationTypes": types(type_id) }))
            .collect();
        results.push(json!({ "from": { "id": id }, "to": to }));
    }
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![missing_error(f, "read associations of", missing)]
    };
    Ok(batch_answer(results, &started, errors, StatusCode::OK))
}
