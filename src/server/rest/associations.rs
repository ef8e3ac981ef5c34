//! Associations between two records: list, add and remove (v3), and the v4 calls
//! HubSpot clients use: the default association, its removal, and a batch read.

use super::objects::parse_limit;
use super::{
    association_list, check_batch, default_selection, id_of, object_json, object_of, value_text,
    with_associations, Body, Caller, RestError, RestResult, Selection, ASSOCIATIONS_MAX,
};
use crate::hub::{associations, records};
use crate::model::crm::ObjectType;
use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use http::{Method, StatusCode};
use serde_json::{json, Value};

pub(super) async fn list_associations(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id, to)): Path<(String, String, String)>,
    Query(page): Query<PageParams>,
) -> RestResult {
    let object = object_of(&object)?;
    let to = object_of(&to)?;
    let id = id_of(object, &id)?;
    let limit = parse_limit(page.limit.as_deref(), ASSOCIATIONS_MAX, ASSOCIATIONS_MAX)?;
    let after = match page.after.as_deref().filter(|a| !a.is_empty()) {
        None => 0,
        Some(a) => a.parse::<i64>().map_err(|_| {
            RestError(
                ApiError::field("after", format!("“{a}” is not a paging cursor."))
                    .with_hint("Pass the `paging.next.after` value of the previous page."),
            )
        })?,
    };
    let portal = caller.principal.portal_id;
    records::get_or_404(&state.pool, portal, object, id).await?;
    // One more than asked tells whether there is a next page.
    let mut ids = associations::list_ids(
        &state.pool,
        portal,
        (object, id),
        to,
        after,
        limit as i64 + 1,
    )
    .await?;
    let more = ids.len() > limit;
    ids.truncate(limit);
    let mut body = association_list(object, to, &ids);
    if let Some(last) = ids.last().filter(|_| more) {
        body["paging"] = json!({ "next": { "after": last.to_string() } });
    }
    Ok(Json(body).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct PageParams {
    after: Option<String>,
    limit: Option<String>,
}

/// `…/objects/{object}/{id}/associations/{to}/{to_id}`. HubSpot v3 may add an
/// association type at the end (`…/contact_to_company`); there is one type per pair
/// here, so that segment is accepted and ignored (no field takes it).
#[derive(serde::Deserialize)]
pub(super) struct AssociationPath {
    object: String,
    id: String,
    to: String,
    to_id: String,
}

/// A record by object type and id.
type RecordRef = (ObjectType, i64);

impl AssociationPath {
    /// The two records the path names.
    fn ends(&self) -> Result<(RecordRef, RecordRef), RestError> {
        let object = object_of(&self.object)?;
        let to = object_of(&self.to)?;
        Ok((
            (object, id_of(object, &self.id)?),
            (to, id_of(to, &self.to_id)?),
        ))
    }
}

/// PUT adds the association and answers the record with its associations of `to`;
/// DELETE removes it (204), in v3 and v4 alike.
pub(super) async fn change_association(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    Path(path): Path<AssociationPath>,
) -> RestResult {
    let (a, b) = path.ends()?;
    let (object, to) = (a.0, b.0);
    let portal = caller.principal.portal_id;
    let add = method == Method::PUT;
    associations::set_associated(&state.pool, portal, a, b, add, &caller.origin).await?;
    if add {
        let r = records::get_or_404(&state.pool, portal, object, a.1).await?;
        let mut o = object_json(&r, &Selection::Names(default_selection(object)));
        with_associations(&state, portal, &r, &[to], &mut o).await?;
        Ok(Json(o).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// v4 `PUT …/{object}/{id}/associations/default/{to}/{to_id}`: the default (only) type.
pub(super) async fn associate_default(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<AssociationPath>,
) -> RestResult {
    let (a, b) = path.ends()?;
    let portal = caller.principal.portal_id;
    associations::set_associated(&state.pool, portal, a, b, true, &caller.origin).await?;
    Ok(Json(json!({
        "status": "COMPLETE",
        "results": [{
            "from": { "id": a.1.to_string() },
            "to": { "id": b.1.to_string() },
            "associationSpec": { "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1 },
        }],
    }))
    .into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct BatchIds {
    #[serde(default)]
    inputs: Vec<Value>,
}

/// v4 `POST /associations/{from}/{to}/batch/read`: the associated ids of up to 100
/// records; records with none are left out, as HubSpot does.
pub(super) async fn batch_read(
    State(state): State<AppState>,
    caller: Caller,
    Path((from, to)): Path<(String, String)>,
    Body(BatchIds { inputs }): Body<BatchIds>,
) -> RestResult {
    let from = object_of(&from)?;
    let to = object_of(&to)?;
    check_batch(inputs.len())?;
    let mut results = Vec::new();
    for input in &inputs {
        let raw = input.get("id").and_then(value_text).unwrap_or_default();
        let Ok(id) = id_of(from, &raw) else { continue };
        let ids =
            associations::all_ids(&state.pool, caller.principal.portal_id, (from, id), to).await?;
        if ids.is_empty() {
            continue;
        }
        let label = associations::type_label(from, to);
        let to_list: Vec<Value> = ids
            .iter()
            .map(|t| {
                json!({ "toObjectId": t, "associationTypes": [
                { "category": "HUBSPOT_DEFINED", "typeId": 1, "label": label }
            ] })
            })
            .collect();
        results.push(json!({ "from": { "id": id.to_string() }, "to": to_list }));
    }
    Ok(Json(json!({ "status": "COMPLETE", "results": results })).into_response())
}
