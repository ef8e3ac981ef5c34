//! Deal pipelines and their stages: list, read, and (Super Admins) create.

use super::{not_found, require_admin, value_text, Body, Caller, RestError, RestResult};
use crate::hub::pipelines;
use crate::model::crm::{ObjectType, PipelineView, StageView};
use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

fn deals_only(object: &str) -> Result<(), RestError> {
    match ObjectType::parse(object) {
        Some(ObjectType::Deals) => Ok(()),
        _ => Err(RestError(ApiError::bad_request(format!(
            "{object} have no pipelines; only deals do."
        )))),
    }
}

fn stage_json(s: &StageView) -> Value {
    json!({
        "id": s.id,
        "label": s.label,
        "displayOrder": s.display_order,
        "archived": false,
        "metadata": {
            "probability": s.probability.map(|p| p.to_string()),
            "isClosed": s.is_closed.to_string(),
        },
    })
}

fn pipeline_json(p: &PipelineView) -> Value {
    json!({
        "id": p.id,
        "label": p.label,
        "displayOrder": p.display_order,
        "archived": false,
        "stages": p.stages.iter().map(stage_json).collect::<Vec<_>>(),
    })
}

pub(super) async fn list_pipelines(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
) -> RestResult {
    deals_only(&object)?;
    let list = pipelines::list(&state.pool, caller.principal.portal_id).await?;
    Ok(
        Json(json!({ "results": list.iter().map(pipeline_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

async fn find_pipeline(
    state: &AppState,
    caller: &Caller,
    object: &str,
    id: &str,
) -> Result<PipelineView, RestError> {
    deals_only(object)?;
    pipelines::get(&state.pool, caller.principal.portal_id, id)
        .await?
        .ok_or_else(|| not_found(format!("There is no pipeline “{id}”.")))
}

pub(super) async fn read_pipeline(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
) -> RestResult {
    let p = find_pipeline(&state, &caller, &object, &id).await?;
    Ok(Json(pipeline_json(&p)).into_response())
}

pub(super) async fn list_stages(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
) -> RestResult {
    let p = find_pipeline(&state, &caller, &object, &id).await?;
    Ok(
        Json(json!({ "results": p.stages.iter().map(stage_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

#[derive(Deserialize)]
pub(super) struct PipelineIn {
    label: String,
    #[serde(default)]
    stages: Vec<StageIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageIn {
    label: String,
    #[serde(default)]
    display_order: Option<i32>,
    #[serde(default)]
    metadata: Option<Value>,
}

pub(super) async fn create_pipeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
    Body(input): Body<PipelineIn>,
) -> RestResult {
    deals_only(&object)?;
    require_admin(&caller.principal)?;
    let mut stages: Vec<(i32, usize, pipelines::NewStage)> = input
        .stages
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let meta = s.metadata.unwrap_or(Value::Null);
            let probability = meta
                .get("probability")
                .and_then(value_text)
                .and_then(|p| p.parse::<f64>().ok());
            let is_closed = meta
                .get("isClosed")
                .and_then(value_text)
                .is_some_and(|c| c == "true");
            (
                s.display_order.unwrap_or(i as i32),
                i,
                pipelines::NewStage {
                    label: s.label,
                    probability,
                    is_closed,
                },
            )
        })
        .collect();
    stages.sort_by_key(|(order, i, _)| (*order, *i));
    let stages: Vec<_> = stages.into_iter().map(|(_, _, s)| s).collect();
    let p = pipelines::create(
        &state.pool,
        caller.principal.portal_id,
        &input.label,
        &stages,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(pipeline_json(&p))).into_response())
}
