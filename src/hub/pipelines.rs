//! Deal pipelines and their ordered stages.
//!
//! Every portal gets HubSpot's default "Sales pipeline" (id `default`) with the stages
//! Appointment scheduled, Qualified to buy, Presentation scheduled, Decision maker
//! bought-in, Contract sent, Closed won, Closed lost — seeded by a trigger on `portals`
//! (migrations/…_hub.sql), so no code path can forget it. A deal's `pipeline` and
//! `dealstage` properties hold a pipeline id and a stage id of that pipeline.

use super::HubError;
use crate::model::crm::{PipelineView, StageView};
use crate::model::{FieldError, Refused};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    pipeline_id: String,
    pipeline_label: String,
    pipeline_order: i32,
    stage_id: Option<String>,
    stage_label: Option<String>,
    stage_order: Option<i32>,
    probability: Option<f64>,
    is_closed: Option<bool>,
}

/// The deal pipelines of a portal with their stages, both in display order.
pub async fn list(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<Vec<PipelineView>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id AS pipeline_id, p.label AS pipeline_label, p.display_order AS pipeline_order,
                s.id AS stage_id, s.label AS stage_label, s.display_order AS stage_order,
                s.probability, s.is_closed
         FROM hub_pipelines p
         LEFT JOIN hub_pipeline_stages s ON s.portal_id = p.portal_id AND s.pipeline_id = p.id
         WHERE p.portal_id = $1
         ORDER BY p.display_order, p.created_at, p.id, s.display_order, s.id",
    )
    .bind(portal_id)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<PipelineView> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|p| p.id != r.pipeline_id) {
            out.push(PipelineView {
                id: r.pipeline_id.clone(),
                label: r.pipeline_label.clone(),
                display_order: r.pipeline_order,
                stages: Vec::new(),
            });
        }
        if let (Some(id), Some(label), Some(order), Some(pipeline)) =
            (r.stage_id, r.stage_label, r.stage_order, out.last_mut())
        {
            pipeline.stages.push(StageView {
                id,
                label,
                display_order: order,
                probability: r.probability,
                is_closed: r.is_closed.unwrap_or(false),
            });
        }
    }
    Ok(out)
}

pub async fn get(pool: &PgPool, portal_id: Uuid, id: &str) -> sqlx::Result<Option<PipelineView>> {
    Ok(list(pool, portal_id)
        .await?
        .into_iter()
        .find(|p| p.id == id))
}

/// A stage of a new pipeline.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewStage {
    pub label: String,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub is_closed: bool,
}

/// Adds a deal pipeline with its stages (in the given order). Ids are generated.
pub async fn create(
    pool: &PgPool,
    portal_id: Uuid,
    label: &str,
    stages: &[NewStage],
) -> Result<PipelineView, HubError> {
    let mut errors = Vec::new();
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        errors.push(FieldError {
            field: "label".into(),
            message: "Give the pipeline a label of 1 to 100 characters.".into(),
        });
    }
    if stages.is_empty() || stages.len() > 100 {
        errors.push(FieldError {
            field: "stages".into(),
            message: "A pipeline needs 1 to 100 stages.".into(),
        });
    }
    for (i, s) in stages.iter().enumerate() {
        if s.label.trim().is_empty() {
            errors.push(FieldError {
                field: format!("stages[{i}].label"),
                message: "Every stage needs a label.".into(),
            });
        }
        if s.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            errors.push(FieldError {
                field: format!("stages[{i}].probability"),
                message: "A probability is between 0 and 1.".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(Refused::validation(errors).into());
    }
    let mut tx = pool.begin().await?;
    let id: String = sqlx::query_scalar(
        "INSERT INTO hub_pipelines (portal_id, id, label, display_order)
         SELECT $1, nextval('hub_pipeline_ids')::text, $2,
                coalesce((SELECT max(display_order) + 1 FROM hub_pipelines WHERE portal_id = $1), 0)
         RETURNING id",
    )
    .bind(portal_id)
    .bind(label)
    .fetch_one(&mut *tx)
    .await?;
    for (i, s) in stages.iter().enumerate() {
        sqlx::query(
            "INSERT INTO hub_pipeline_stages (portal_id, pipeline_id, id, label, display_order, probability, is_closed)
             VALUES ($1, $2, nextval('hub_pipeline_ids')::text, $3, $4, $5, $6)",
        )
        .bind(portal_id)
        .bind(&id)
        .bind(s.label.trim())
        .bind(i as i32)
        .bind(s.probability)
        .bind(s.is_closed)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    get(pool, portal_id, &id)
        .await?
        .ok_or_else(|| HubError::internal("the new pipeline vanished"))
}
