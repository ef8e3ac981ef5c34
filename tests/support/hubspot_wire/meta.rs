//! Read-only portal metadata: property definitions, the deal pipeline, account details.

use crate::error::ApiError;
use crate::schema::{iso, ObjectType, PropertyDef, PIPELINE_ID, PIPELINE_LABEL, STAGES};
use crate::Shared;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

/// HubSpot dates its built-in definitions at the epoch.
fn epoch() -> String {
    iso(0)
}

fn property_json(order: usize, p: &PropertyDef) -> Value {
    let options: Vec<Value> = p
        .options
        .iter()
        .enumerate()
        .map(|(i, (value, label))| json!({"label": label, "value": value, "displayOrder": i, "hidden": false}))
        .collect();
    json!({
        "name": p.name,
        "label": p.label,
        "type": p.kind.type_name(),
        "fieldType": p.field_type,
        "description": "",
        "groupName": p.group,
        "options": options,
        "displayOrder": order,
        "calculated": false,
        "externalOptions": false,
        "hasUniqueValue": false,
        "hidden": false,
        "hubspotDefined": true,
        "formField": !p.read_only,
        "modificationMetadata": {
            "archivable": false,
            "readOnlyDefinition": true,
            "readOnlyValue": p.read_only,
        },
        "createdAt": epoch(),
        "updatedAt": epoch(),
        "archived": false,
    })
}

pub async fn properties(Path(object): Path<String>) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let results: Vec<Value> = obj
        .properties()
        .iter()
        .enumerate()
        .map(|(i, p)| property_json(i, p))
        .collect();
    Ok(Json(json!({ "results": results })))
}

pub async fn property(
    Path((object, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let (i, p) = obj
        .properties()
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == name)
        .ok_or_else(|| {
            ApiError::not_found(format!("Property {name} does not exist on {}.", obj.name()))
        })?;
    Ok(Json(property_json(i, p)))
}

fn pipeline_json() -> Value {
    let stages: Vec<Value> = STAGES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "id": s.id,
                "label": s.label,
                "displayOrder": i,
                "metadata": { "probability": s.probability, "isClosed": s.closed.to_string() },
                "createdAt": epoch(),
                "updatedAt": epoch(),
                "archived": false,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            })
        })
        .collect();
    json!({
        "id": PIPELINE_ID,
        "label": PIPELINE_LABEL,
        "displayOrder": 0,
        "archived": false,
        "stages": stages,
        "createdAt": epoch(),
        "updatedAt": epoch(),
    })
}

fn deals_only(object: &str) -> Result<(), ApiError> {
    match ObjectType::parse(object)? {
        ObjectType::Deals => Ok(()),
        other => Err(ApiError::validation(format!(
            "{} have no pipelines on this portal.",
            other.name()
        ))),
    }
}

pub async fn pipelines(Path(object): Path<String>) -> Result<Json<Value>, ApiError> {
    deals_only(&object)?;
    Ok(Json(json!({ "results": [pipeline_json()] })))
}

pub async fn pipeline(Path((object, id)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    deals_only(&object)?;
    if id != PIPELINE_ID {
        return Err(ApiError::not_found(format!(
            "Pipeline {id} does not exist."
        )));
    }
    Ok(Json(pipeline_json()))
}

pub async fn account(State(app): State<Shared>) -> Json<Value> {
    Json(json!({
        "portalId": app.cfg.portal_id,
        "accountType": "STANDARD",
        "timeZone": "Europe/Rome",
        "companyCurrency": "EUR",
        "additionalCurrencies": [],
        "utcOffset": "+01:00",
        "utcOffsetMilliseconds": 3_600_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "eu1",
    }))
}
