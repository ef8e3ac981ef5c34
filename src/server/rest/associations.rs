//! Associations between two records: list, add and remove.

use super::{
    association_list, default_selection, id_of, object_json, object_of, with_associations, Caller,
    RestResult, Selection,
};
use crate::hub::{associations, records};
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;

pub(super) async fn list_associations(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id, to)): Path<(String, String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    let to = object_of(&to)?;
    let id = id_of(object, &id)?;
    let portal = caller.principal.portal_id;
    records::get_or_404(&state.pool, portal, object, id).await?;
    let ids = associations::list_ids(&state.pool, portal, (object, id), to).await?;
    Ok(Json(association_list(object, to, &ids)).into_response())
}

async fn change_association(
    state: &AppState,
    caller: &Caller,
    object: &str,
    id: &str,
    to: &str,
    to_id: &str,
    add: bool,
) -> RestResult {
    let object = object_of(object)?;
    let to = object_of(to)?;
    let a = (object, id_of(object, id)?);
    let b = (to, id_of(to, to_id)?);
    let portal = caller.principal.portal_id;
    if add {
        associations::associate(&state.pool, portal, a, b, &caller.origin).await?;
        let r = records::get_or_404(&state.pool, portal, object, a.1).await?;
        let mut o = object_json(&r, &Selection::Names(default_selection(object)));
        with_associations(state, portal, &r, &[to], &mut o).await?;
        Ok(Json(o).into_response())
    } else {
        associations::dissociate(&state.pool, portal, a, b, &caller.origin).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

pub(super) async fn associate(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id)): Path<(String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, true).await
}

pub(super) async fn dissociate(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id)): Path<(String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, false).await
}

/// HubSpot v3 puts an association type at the end (`contact_to_company`); there is
/// one type per pair here, so it is accepted and ignored.
pub(super) async fn associate_typed(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id, _kind)): Path<(String, String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, true).await
}

pub(super) async fn dissociate_typed(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id, _kind)): Path<(String, String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, false).await
}
