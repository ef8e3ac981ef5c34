//! Batches of up to `records::MAX_BATCH` records: create, read, update, upsert (contacts
//! by email) and archive.

use super::{
    check_batch, not_found, object_json, object_of, selection, ts, value_text, Body, Caller,
    RestError, RestResult, Selection,
};
use crate::hub::records::{self, Record};
use crate::model::crm::ObjectType;
use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub(super) struct BatchBody {
    #[serde(default)]
    inputs: Vec<Value>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default, rename = "idProperty")]
    id_property: Option<String>,
}

fn input_id(object: ObjectType, v: &Value, i: usize) -> Result<i64, RestError> {
    let raw = v.get("id").and_then(value_text).ok_or_else(|| {
        RestError(ApiError::field(
            &format!("inputs[{i}].id"),
            "Every input needs an id.",
        ))
    })?;
    raw.trim().parse::<i64>().map_err(|_| {
        RestError(ApiError::field(
            &format!("inputs[{i}].id"),
            format!("“{raw}” is not a {} id.", object.singular()),
        ))
    })
}

fn input_ids(object: ObjectType, inputs: &[Value]) -> Result<Vec<i64>, RestError> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, v)| input_id(object, v, i))
        .collect()
}

fn input_properties(v: &Value, i: usize) -> Result<BTreeMap<String, Value>, RestError> {
    match v.get("properties") {
        Some(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        None => Ok(BTreeMap::new()),
        Some(_) => Err(RestError(ApiError::field(
            &format!("inputs[{i}].properties"),
            "properties is an object of name → value.",
        ))),
    }
}

fn batch_result(results: Vec<Value>, started: DateTime<Utc>) -> Value {
    json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": ts(started),
        "completedAt": ts(Utc::now()),
    })
}

pub(super) async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, action)): Path<(String, String)>,
    Body(body): Body<BatchBody>,
) -> RestResult {
    let object = object_of(&object)?;
    let portal = caller.principal.portal_id;
    let started = Utc::now();
    check_batch(body.inputs.len())?;
    match action.as_str() {
        "create" => {
            let inputs = body
                .inputs
                .iter()
                .enumerate()
                .map(|(i, v)| input_properties(v, i))
                .collect::<Result<Vec<_>, _>>()?;
            let created =
                records::create_many(&state.pool, portal, object, &inputs, &caller.origin).await?;
            let results = created
                .iter()
                .map(|r| object_json(r, &Selection::All))
                .collect();
            Ok((StatusCode::CREATED, Json(batch_result(results, started))).into_response())
        }
        "update" => {
            let inputs = body
                .inputs
                .iter()
                .enumerate()
                .map(|(i, v)| Ok((input_id(object, v, i)?, input_properties(v, i)?)))
                .collect::<Result<Vec<_>, RestError>>()?;
            let updated =
                records::update_many(&state.pool, portal, object, &inputs, &caller.origin).await?;
            let results = updated
                .iter()
                .map(|u| object_json(&u.record, &Selection::All))
                .collect();
            Ok(Json(batch_result(results, started)).into_response())
        }
        "upsert" => {
            let results = upsert(&state, &caller, object, &body.inputs).await?;
            Ok(Json(batch_result(results, started)).into_response())
        }
        "archive" => {
            let ids = input_ids(object, &body.inputs)?;
            records::archive_many(&state.pool, portal, object, &ids, &caller.origin).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "read" => {
            let sel = selection(object, body.properties.clone());
            let mut found: Vec<Record> = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            match body.id_property.as_deref() {
                Some("email") if object == ObjectType::Contacts => {
                    for v in &body.inputs {
                        let email = v.get("id").and_then(value_text).unwrap_or_default();
                        match records::find_contacts_by_email(&state.pool, portal, &email)
                            .await?
                            .into_iter()
                            .next()
                        {
                            Some(r) => found.push(r),
                            None => missing.push(email),
                        }
                    }
                }
                Some(p) if p != "hs_object_id" => {
                    return Err(RestError(ApiError::field(
                        "idProperty",
                        format!("{p} cannot be used as an id property of {object}."),
                    )))
                }
                _ => {
                    let ids = input_ids(object, &body.inputs)?;
                    found = records::get_many(&state.pool, portal, object, &ids).await?;
                    found.retain(|r| !r.is_archived());
                    missing = ids
                        .iter()
                        .filter(|id| !found.iter().any(|r| r.id == **id))
                        .map(|id| id.to_string())
                        .collect();
                }
            }
            let results: Vec<Value> = found.iter().map(|r| object_json(r, &sel)).collect();
            let mut out = batch_result(results, started);
            if missing.is_empty() {
                return Ok(Json(out).into_response());
            }
            out["numErrors"] = json!(1);
            out["errors"] = json!([{
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": format!("Could not get some {object} objects, they may be deleted or not exist. Check that ids are valid."),
                "context": { "ids": missing },
            }]);
            Ok((StatusCode::MULTI_STATUS, Json(out)).into_response())
        }
        other => Err(not_found(format!(
            "There is no batch action “{other}”; use create, read, update, upsert or archive."
        ))),
    }
}

/// Contacts by email (HubSpot's `idProperty: email`): the contact with that email is
/// updated, or one is created with it; each result says which (`new`), in input order.
async fn upsert(
    state: &AppState,
    caller: &Caller,
    object: ObjectType,
    inputs: &[Value],
) -> Result<Vec<Value>, RestError> {
    let portal = caller.principal.portal_id;
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for (i, v) in inputs.iter().enumerate() {
        let id_property = v.get("idProperty").and_then(Value::as_str).unwrap_or("");
        if object != ObjectType::Contacts || id_property != "email" {
            return Err(RestError(ApiError::field(
                &format!("inputs[{i}].idProperty"),
                "Upserts go by email, on contacts: set idProperty to email.",
            )));
        }
        let email = v.get("id").and_then(value_text).unwrap_or_default();
        let mut properties = input_properties(v, i)?;
        properties
            .entry("email".into())
            .or_insert_with(|| json!(email));
        match records::find_contacts_by_email(&state.pool, portal, &email)
            .await?
            .first()
        {
            Some(found) => updates.push((i, found.id, properties)),
            None => creates.push((i, properties)),
        }
    }
    let created_inputs: Vec<_> = creates.iter().map(|(_, p)| p.clone()).collect();
    let update_inputs: Vec<_> = updates.iter().map(|(_, id, p)| (*id, p.clone())).collect();
    let created = if created_inputs.is_empty() {
        Vec::new()
    } else {
        records::create_many(&state.pool, portal, object, &created_inputs, &caller.origin).await?
    };
    let updated: Vec<Record> = if update_inputs.is_empty() {
        Vec::new()
    } else {
        records::update_many(&state.pool, portal, object, &update_inputs, &caller.origin)
            .await?
            .into_iter()
            .map(|u| u.record)
            .collect()
    };
    let mut results = vec![Value::Null; inputs.len()];
    let answered = creates
        .iter()
        .map(|(i, _)| *i)
        .zip(created.iter().map(|r| (r, true)))
        .chain(
            updates
                .iter()
                .map(|(i, _, _)| *i)
                .zip(updated.iter().map(|r| (r, false))),
        );
    for (i, (record, new)) in answered {
        let mut o = object_json(record, &Selection::All);
        o["new"] = json!(new);
        results[i] = o;
    }
    Ok(results)
}
