//! Property definitions: list, read, and (Super Admins) create and delete custom ones.

use super::{not_found, object_of, require_admin, Body, Caller, ObjectPath, RestError, RestResult};
use crate::hub::schema;
use crate::model::crm::{NewPropertyRequest, PropertyDef, PropertyOption, PropertyType};
use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

fn hubspot_types(kind: PropertyType) -> (&'static str, &'static str) {
    match kind {
        PropertyType::String => ("string", "text"),
        PropertyType::Number => ("number", "number"),
        PropertyType::Bool => ("bool", "booleancheckbox"),
        PropertyType::Date => ("date", "date"),
        PropertyType::Datetime => ("datetime", "date"),
        PropertyType::Enumeration => ("enumeration", "select"),
        PropertyType::MultiEnumeration => ("enumeration", "checkbox"),
        PropertyType::Email => ("string", "email"),
        PropertyType::Phone => ("string", "phonenumber"),
    }
}

fn property_json(p: &PropertyDef, order: usize) -> Value {
    let (kind, field_type) = hubspot_types(p.kind);
    let options: Vec<Value> = p
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| json!({ "label": o.label, "value": o.value, "displayOrder": i, "hidden": false }))
        .collect();
    json!({
        "name": p.name,
        "label": p.label,
        "type": kind,
        "fieldType": field_type,
        "tandemType": p.kind.as_str(),
        "description": p.description,
        "groupName": if p.custom { "custom" } else { "default" },
        "options": options,
        "displayOrder": order,
        "required": p.required,
        "calculated": p.computed,
        "hasUniqueValue": p.name == "email",
        "hidden": false,
        "formField": !p.computed,
        "hubspotDefined": !p.custom,
        "modificationMetadata": {
            "archivable": p.custom,
            "readOnlyDefinition": !p.custom,
            "readOnlyValue": p.read_only,
        },
    })
}

pub(super) async fn list_properties(
    State(state): State<AppState>,
    caller: Caller,
    ObjectPath(object): ObjectPath,
) -> RestResult {
    let s = schema::load(&state.pool, caller.principal.portal_id, object).await?;
    let results: Vec<Value> = s
        .properties
        .iter()
        .enumerate()
        .map(|(i, p)| property_json(p, i))
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

pub(super) async fn read_property(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, name)): Path<(String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    let s = schema::load(&state.pool, caller.principal.portal_id, object).await?;
    let (i, p) = s
        .properties
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == name)
        .ok_or_else(|| not_found(format!("There is no property “{name}” on {object}.")))?;
    Ok(Json(property_json(p, i)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PropertyIn {
    #[serde(default)]
    name: Option<String>,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    field_type: Option<String>,
    #[serde(default)]
    options: Vec<OptionIn>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    read_only: bool,
}

#[derive(Deserialize)]
struct OptionIn {
    value: String,
    #[serde(default)]
    label: String,
}

pub(super) async fn create_property(
    State(state): State<AppState>,
    caller: Caller,
    ObjectPath(object): ObjectPath,
    Body(input): Body<PropertyIn>,
) -> RestResult {
    require_admin(&caller.principal)?;
    let kind = match (input.kind.as_str(), input.field_type.as_deref()) {
        ("enumeration", Some("checkbox")) => Some(PropertyType::MultiEnumeration),
        ("string", Some("email")) => Some(PropertyType::Email),
        ("string", Some("phonenumber")) => Some(PropertyType::Phone),
        (t, _) => PropertyType::parse(t),
    }
    .ok_or_else(|| {
        RestError(ApiError::field(
            "type",
            format!("“{}” is not a property type; use string, number, bool, date, datetime, enumeration, multi_enumeration, email or phone.", input.kind),
        ))
    })?;
    let req = NewPropertyRequest {
        label: input.label,
        name: input.name,
        kind,
        options: input
            .options
            .into_iter()
            .map(|o| PropertyOption {
                value: o.value,
                label: o.label,
            })
            .collect(),
        required: input.required,
        read_only: input.read_only,
        description: input.description,
    };
    let p = schema::create_property(&state.pool, caller.principal.portal_id, object, req).await?;
    Ok((StatusCode::CREATED, Json(property_json(&p, 0))).into_response())
}

pub(super) async fn delete_property(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, name)): Path<(String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    require_admin(&caller.principal)?;
    schema::delete_property(&state.pool, caller.principal.portal_id, object, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
