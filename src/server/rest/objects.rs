//! Records: list, create, read, update, archive and restore one at a time.

use super::{
    id_of, object_json, object_of, parse_after, record_not_found, rest_cursor, selection,
    with_associations, Body, Caller, ObjectPath, RecordPath, RestError, RestResult, Selection,
    LIST_DEFAULT,
};
use crate::hub::associations;
use crate::hub::records::{self, ListQuery, Record, Sort};
use crate::model::crm::ObjectType;
use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Largest `limit` of the list endpoint (HubSpot's value).
const LIST_MAX: usize = 100;

pub(super) async fn list_objects(
    State(state): State<AppState>,
    caller: Caller,
    ObjectPath(object): ObjectPath,
    RawQuery(raw): RawQuery,
) -> RestResult {
    let params = Params::parse(raw);
    let limit = parse_limit(params.get("limit"), LIST_DEFAULT, LIST_MAX)?;
    let after = parse_after(params.get("after"))?;
    let q = ListQuery {
        archived: params.flag("archived"),
        sort: Sort::by_id(),
        after,
        limit,
        ..ListQuery::default()
    };
    let page = records::list(&state.pool, caller.principal.portal_id, object, &q).await?;
    let sel = selection(object, params.list("properties"));
    let to = association_targets(object, &params)?;
    let mut results = Vec::with_capacity(page.records.len());
    for r in &page.records {
        let mut o = object_json(r, &sel);
        with_associations(&state, caller.principal.portal_id, r, &to, &mut o).await?;
        results.push(o);
    }
    let mut body = json!({ "results": results });
    if let Some(next) = page.next {
        let after = rest_cursor(&next);
        body["paging"] = json!({ "next": {
            "after": after,
            "link": format!("/api/crm/v3/objects/{}?after={}&limit={limit}", object.as_str(), after),
        }});
    }
    Ok(Json(body).into_response())
}

pub(super) fn parse_limit(
    raw: Option<&str>,
    default: usize,
    max: usize,
) -> Result<usize, RestError> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                RestError(ApiError::field(
                    "limit",
                    format!("limit must be a number from 1 to {max}."),
                ))
            }),
    }
}

#[derive(Deserialize)]
pub(super) struct PropertiesInput {
    #[serde(default)]
    properties: BTreeMap<String, Value>,
}

pub(super) async fn create_object(
    State(state): State<AppState>,
    caller: Caller,
    ObjectPath(object): ObjectPath,
    Body(input): Body<PropertiesInput>,
) -> RestResult {
    let r = records::create(
        &state.pool,
        caller.principal.portal_id,
        object,
        &input.properties,
        &caller.origin,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(object_json(&r, &Selection::All))).into_response())
}

pub(super) async fn read_object(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> RestResult {
    let object = object_of(&object)?;
    let params = Params::parse(raw);
    let portal = caller.principal.portal_id;
    let record = match params.get("idProperty") {
        Some("email") if object == ObjectType::Contacts => records::find_contacts_by_email(&state.pool, portal, &id).await?.into_iter().next(),
        Some(p) if p != "hs_object_id" => {
            return Err(RestError(ApiError::field("idProperty", format!("{p} cannot be used as an id property of {object}; use email (contacts) or hs_object_id."))))
        }
        _ => records::get(&state.pool, portal, object, id_of(object, &id)?).await?,
    };
    let record = record.ok_or_else(|| record_not_found(object, &id))?;
    // Archived records are found only when asked for, like HubSpot's `archived=true`.
    if record.is_archived() && !params.flag("archived") {
        let RestError(e) = record_not_found(object, &id);
        return Err(RestError(e.with_hint(
            "It is archived: add ?archived=true to read it, or restore it.",
        )));
    }
    let mut o = object_json(&record, &selection(object, params.list("properties")));
    with_associations(
        &state,
        portal,
        &record,
        &association_targets(object, &params)?,
        &mut o,
    )
    .await?;
    Ok(Json(o).into_response())
}

pub(super) async fn update_object(
    State(state): State<AppState>,
    caller: Caller,
    RecordPath(object, id): RecordPath,
    Body(input): Body<PropertiesInput>,
) -> RestResult {
    let u = records::update(
        &state.pool,
        caller.principal.portal_id,
        object,
        id,
        &input.properties,
        &caller.origin,
    )
    .await?;
    Ok(Json(object_json(&u.record, &Selection::All)).into_response())
}

pub(super) async fn archive_object(
    State(state): State<AppState>,
    caller: Caller,
    path: RecordPath,
) -> RestResult {
    set_archived(&state, &caller, path, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn restore_object(
    State(state): State<AppState>,
    caller: Caller,
    path: RecordPath,
) -> RestResult {
    let r = set_archived(&state, &caller, path, false).await?;
    Ok(Json(object_json(&r, &Selection::All)).into_response())
}

async fn set_archived(
    state: &AppState,
    caller: &Caller,
    RecordPath(object, id): RecordPath,
    archive: bool,
) -> Result<Record, RestError> {
    let portal = caller.principal.portal_id;
    Ok(records::set_archived(&state.pool, portal, object, id, archive, &caller.origin).await?)
}

/// Query parameters; `properties=a,b&properties=c` both work.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<String>) -> Params {
        Params(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

fn association_targets(object: ObjectType, params: &Params) -> Result<Vec<ObjectType>, RestError> {
    params
        .list("associations")
        .iter()
        .map(|s| {
            let t = object_of(s)?;
            associations::canonical(object, t)
                .map(|_| t)
                .ok_or_else(|| {
                    RestError(ApiError::bad_request(format!(
                        "{object} cannot be associated with {t}."
                    )))
                })
        })
        .collect()
}
