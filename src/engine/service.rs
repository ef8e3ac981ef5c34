//! What the server functions call: the sync use cases behind the wizard, the status
//! views, the record lists and the actions, each portal-scoped. Permission checks are
//! the caller's (the `api` layer); this checks existence and validity.

use super::definition::{self, SyncRow};
use super::hub_side;
use super::index::{self, IndexRow, Selection};
use super::queue::{self, NewJob};
use super::runner;
use super::troubleshoot;
use super::EngineError;
use crate::connectors::{registry, AppObject, Connector};
use crate::model::*;
use crate::platform::{connections, AppState};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

async fn connector(
    state: &AppState,
    portal_id: Uuid,
    connection_id: Uuid,
) -> Result<(ConnectionView, Arc<dyn Connector>), EngineError> {
    let view = connections::get(
        &state.pool,
        portal_id,
        connection_id,
        &state.config.public_url,
    )
    .await?;
    if view.status != ConnectionStatus::Connected {
        return Err(Refused::conflict(format!(
            "{} needs reconnecting before its syncs can be set up.",
            view.account_name
        ))
        .with_hint("Open the app's page in Connected apps and choose Reconnect.")
        .into());
    }
    let def = registry::app_definition(&state.config.apps, &view.app)
        .ok_or_else(|| Refused::not_found("The app"))?;
    let c = connections::connector_for(&state.pool, &state.secret_key, &def, connection_id).await?;
    Ok((view, c))
}

fn app_unreachable(e: crate::connectors::ConnectorError) -> EngineError {
    Refused::new(
        Refusal::AppUnavailable,
        format!("The app did not answer as expected: {e}"),
    )
    .with_hint("Try again in a moment; if it persists, check the connection on the app's page.")
    .into()
}

async fn app_objects(c: &Arc<dyn Connector>) -> Result<Vec<AppObject>, EngineError> {
    c.objects().await.map_err(app_unreachable)
}

/// The *Select* step: the app's objects and the hub object each pairs with.
pub async fn setup_options(
    state: &AppState,
    portal_id: Uuid,
    connection_id: Uuid,
) -> Result<Vec<ObjectPairOption>, EngineError> {
    let (_, c) = connector(state, portal_id, connection_id).await?;
    let existing = definition::list_for_connection(&state.pool, portal_id, connection_id).await?;
    Ok(app_objects(&c)
        .await?
        .into_iter()
        .map(|o| ObjectPairOption {
            existing_sync: existing
                .iter()
                .find(|s| s.app_object == o.name)
                .map(|s| s.id),
            app_object: o.name,
            app_label: o.label,
            hub_object: o.hub_object,
        })
        .collect())
}

/// The *Configure* and *Limit* steps' choices for one object pair.
pub async fn field_options(
    state: &AppState,
    portal_id: Uuid,
    connection_id: Uuid,
    app_object: &str,
    hub_object: &str,
) -> Result<SyncFieldChoices, EngineError> {
    let (view, c) = connector(state, portal_id, connection_id).await?;
    let object = find_object(&c, app_object).await?;
    let hub_type = hub_side::object_type(hub_object).ok_or_else(|| {
        Refused::field(
            "hub_object",
            format!("The hub has no object “{hub_object}”."),
        )
    })?;
    let hub_properties = hub_side::fields(&state.pool, portal_id, hub_type).await?;
    let (hub_pipelines, app_pipelines) = if object.pipeline_fields.is_some() {
        let app = c
            .pipelines()
            .await
            .map_err(app_unreachable)?
            .into_iter()
            .map(|p| PipelineOption {
                id: p.id,
                label: p.label,
                stages: p.stages.into_iter().map(|s| (s.id, s.label)).collect(),
            })
            .collect();
        (hub_side::pipelines(&state.pool, portal_id).await?, app)
    } else {
        (vec![], vec![])
    };
    let suggested_stage_pairs = auto_map_pipelines(&hub_pipelines, &app_pipelines);
    let listing = registry::listings().into_iter().find(|l| l.id == view.app);
    Ok(SyncFieldChoices {
        default_mappings: definition::default_mappings(&object, &hub_properties),
        app_fields: definition::app_field_options(&object),
        hub_properties,
        hub_pipelines,
        app_pipelines,
        suggested_stage_pairs,
        supports_events: listing.is_some_and(|l| l.event_sync) && object.hub_object == "contacts",
    })
}

/// *Auto-map*: each hub pipeline's stages paired with the most similar app pipeline's.
pub fn auto_map_pipelines(hub: &[PipelineOption], app: &[PipelineOption]) -> Vec<StagePairInput> {
    use super::plan::{auto_map, similarity, Stage, AUTO_MAP_THRESHOLD};
    let mut out = Vec::new();
    let mut used = std::collections::HashSet::new();
    for hp in hub {
        let best = app
            .iter()
            .filter(|ap| !used.contains(&ap.id))
            .map(|ap| {
                let hs: Vec<Stage> = hp
                    .stages
                    .iter()
                    .map(|(id, l)| Stage::new(&hp.id, id, l))
                    .collect();
                let a: Vec<Stage> = ap
                    .stages
                    .iter()
                    .map(|(id, l)| Stage::new(&ap.id, id, l))
                    .collect();
                let pairs = auto_map(&hs, &a, AUTO_MAP_THRESHOLD);
                (
                    pairs.len() as f64 + similarity(&hp.label, &ap.label),
                    ap,
                    pairs,
                )
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, ap, pairs)) = best.filter(|b| !b.2.is_empty()) {
            used.insert(ap.id.clone());
            out.extend(pairs.into_iter().map(|p| StagePairInput {
                hub_pipeline: p.hub.pipeline,
                hub_stage: p.hub.stage,
                app_pipeline: p.app.pipeline,
                app_stage: p.app.stage,
            }));
        }
    }
    out
}

async fn find_object(c: &Arc<dyn Connector>, app_object: &str) -> Result<AppObject, EngineError> {
    app_objects(c)
        .await?
        .into_iter()
        .find(|o| o.name == app_object)
        .ok_or_else(|| {
            Refused::field(
                "app_object",
                format!("The app has no object “{app_object}”."),
            )
            .into()
        })
}

/// Checks a sync's settings without saving (the wizard shows the problems inline).
pub async fn validate(
    state: &AppState,
    portal_id: Uuid,
    input: &SyncInput,
) -> Result<super::plan::SyncSettings, EngineError> {
    let (_, c) = connector(state, portal_id, input.connection_id).await?;
    let object = find_object(&c, &input.app_object).await?;
    let hub_type = hub_side::object_type(&input.hub_object).ok_or_else(|| {
        Refused::field(
            "hub_object",
            format!("The hub has no object “{}”.", input.hub_object),
        )
    })?;
    if object.hub_object != hub_type.as_str() {
        return Err(Refused::field(
            "hub_object",
            format!(
                "{} in the app sync with hub {}, not {}.",
                object.label,
                object.hub_object,
                hub_type.as_str()
            ),
        )
        .into());
    }
    let hub_fields = hub_side::fields(&state.pool, portal_id, hub_type).await?;
    definition::build_settings(input, &object, &hub_fields)
}

pub async fn create(
    state: &AppState,
    portal_id: Uuid,
    user_id: Uuid,
    input: &SyncInput,
) -> Result<SyncView, EngineError> {
    let settings = validate(state, portal_id, input).await?;
    let id = definition::insert(&state.pool, portal_id, user_id, input, &settings).await?;
    view(state, portal_id, id).await
}

pub async fn update(
    state: &AppState,
    portal_id: Uuid,
    id: Uuid,
    input: &SyncInput,
) -> Result<SyncView, EngineError> {
    let row = definition::get(&state.pool, portal_id, id).await?;
    if input.connection_id != row.connection_id || input.app_object != row.app_object {
        return Err(Refused::bad_request(
            "A sync's account and app object cannot change; create another sync instead.",
        )
        .into());
    }
    let settings = validate(state, portal_id, input).await?;
    definition::update(&state.pool, &row, input, &settings).await?;
    view(state, portal_id, id).await
}

pub async fn set_enabled(
    state: &AppState,
    portal_id: Uuid,
    id: Uuid,
    enabled: bool,
) -> Result<SyncView, EngineError> {
    let row = definition::get(&state.pool, portal_id, id).await?;
    definition::set_enabled(&state.pool, &row, enabled).await?;
    view(state, portal_id, id).await
}

pub async fn delete(state: &AppState, portal_id: Uuid, id: Uuid) -> Result<(), EngineError> {
    let row = definition::get(&state.pool, portal_id, id).await?;
    definition::delete(&state.pool, &row).await
}

async fn counts(pool: &PgPool, sync_id: Uuid) -> sqlx::Result<SyncCounts> {
    Ok(SyncCounts::from_rows(&index::counts(pool, sync_id).await?))
}

fn progress(row: &SyncRow) -> SyncProgress {
    let p = &row.progress.0;
    let (label, done, total, base, span) = match row.step {
        InitialStep::HubIndex => (
            "Scanning hub records",
            p.hub_indexed,
            p.hub_total,
            0.0,
            20.0,
        ),
        InitialStep::AppPass => (
            "Syncing app records",
            p.app_seen,
            p.app_estimate.max(p.app_seen),
            20.0,
            60.0,
        ),
        InitialStep::HubPass => (
            "Syncing remaining hub records",
            p.hub_pass_done,
            p.hub_pass_total.max(p.hub_pass_done),
            80.0,
            20.0,
        ),
        InitialStep::Done => ("Done", 1, 1, 100.0, 0.0),
    };
    let frac = if total > 0 {
        done as f64 / total as f64
    } else {
        0.0
    };
    SyncProgress {
        step: row.step,
        step_label: label.into(),
        done,
        total,
        percent: (base + span * frac.clamp(0.0, 1.0))
            .round()
            .clamp(0.0, 100.0) as u8,
    }
}

/// A disabled sync is off, whatever phase it stopped in.
pub fn phase(row: &SyncRow) -> SyncPhase {
    if row.enabled {
        row.phase
    } else {
        SyncPhase::Off
    }
}

async fn to_view(state: &AppState, portal_id: Uuid, row: SyncRow) -> Result<SyncView, EngineError> {
    let connection = connections::get(
        &state.pool,
        portal_id,
        row.connection_id,
        &state.config.public_url,
    )
    .await?;
    Ok(SyncView {
        id: row.id,
        connection,
        hub_object: row.hub_object.clone(),
        app_object: row.app_object.clone(),
        enabled: row.enabled,
        phase: phase(&row),
        progress: progress(&row),
        counts: counts(&state.pool, row.id).await?,
        input: row.input.0.clone(),
        last_error: row.last_error.clone(),
        created_at: row.created_at,
        initial_completed_at: row.initial_completed_at,
    })
}

pub async fn view(state: &AppState, portal_id: Uuid, id: Uuid) -> Result<SyncView, EngineError> {
    let row = definition::get(&state.pool, portal_id, id).await?;
    to_view(state, portal_id, row).await
}

pub async fn list(
    state: &AppState,
    portal_id: Uuid,
    connection_id: Option<Uuid>,
) -> Result<Vec<SyncView>, EngineError> {
    let rows = match connection_id {
        Some(c) => definition::list_for_connection(&state.pool, portal_id, c).await?,
        None => definition::list_for_portal(&state.pool, portal_id).await?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(to_view(state, portal_id, r).await?);
    }
    Ok(out)
}

fn row_view(r: &IndexRow) -> SyncRecordRow {
    SyncRecordRow {
        index_id: r.id,
        hub_id: r.hub_id,
        app_id: r.app_id.clone(),
        label: r.label.clone(),
        state: r.state.visible(),
        reason_code: r.reason_code,
        message: r.message.clone(),
        field: r.field.clone(),
        deleted_side: r.deleted_side.clone(),
        updated_at: r.updated_at,
        last_synced_at: r.last_synced_at,
    }
}

/// A page of a sync's list: its selection, keyset-paged by index id.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub selection: Selection,
    pub after: Option<i64>,
    pub limit: i64,
}

pub async fn records(
    pool: &PgPool,
    portal_id: Uuid,
    sync_id: Uuid,
    q: &RecordQuery,
) -> Result<SyncRecordPage, EngineError> {
    definition::get(pool, portal_id, sync_id).await?;
    let state = q.selection.state;
    let limit = q.limit.clamp(1, 200);
    let rows = index::select(pool, sync_id, &q.selection, q.after.unwrap_or(0), limit + 1).await?;
    let groups: Vec<(ReasonCode, i64)> = if state.is_some_and(|s| s != RecordState::Syncing) {
        sqlx::query_as(
            "SELECT COALESCE(reason_code, 'unknown'), count(*) FROM sync_index WHERE sync_id = $1 AND state = $2
             GROUP BY 1 ORDER BY 2 DESC",
        )
        .bind(sync_id)
        .bind(state)
        .fetch_all(pool)
        .await?
    } else {
        vec![]
    };
    let total = counts(pool, sync_id).await?;
    let total = match state {
        Some(s) => total.of(s),
        None => RecordState::ALL.iter().map(|&s| total.of(s)).sum(),
    };
    let more = rows.len() as i64 > limit;
    let rows: Vec<SyncRecordRow> = rows.iter().take(limit as usize).map(row_view).collect();
    Ok(SyncRecordPage {
        next_after: if more {
            rows.last().map(|r| r.index_id)
        } else {
            None
        },
        rows,
        groups: groups
            .into_iter()
            .map(|(code, count)| ReasonGroup {
                title: troubleshoot::guide(code).title.to_string(),
                code,
                count,
            })
            .collect(),
        total,
    })
}

/// A record's detail: values on both sides, activity, reason and troubleshooting.
pub async fn record_detail(
    state: &AppState,
    portal_id: Uuid,
    sync_id: Uuid,
    index_id: i64,
) -> Result<SyncRecordDetails, EngineError> {
    let sync = definition::get(&state.pool, portal_id, sync_id).await?;
    let mut conn = state.pool.acquire().await?;
    let row = index::by_ids(&mut conn, sync_id, &[index_id])
        .await?
        .pop()
        .ok_or_else(|| Refused::not_found("The record"))?;
    drop(conn);
    let hub = match (row.hub_id, hub_side::object_type(&sync.hub_object)) {
        (Some(id), Some(t)) => hub_side::get_many(&state.pool, portal_id, t, &[id])
            .await?
            .pop(),
        _ => None,
    };
    let app = match &row.app_id {
        Some(id) => match connector(state, portal_id, sync.connection_id).await {
            Ok((_, c)) => c
                .read(&sync.app_object, std::slice::from_ref(id))
                .await
                .ok()
                .and_then(|mut v| v.pop()),
            Err(_) => None,
        },
        None => None,
    };
    let text = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let failed_field = row.field.clone().unwrap_or_default();
    let fields = sync
        .settings
        .0
        .mappings
        .iter()
        .map(|m| FieldValues {
            hub_property: m.hub_property.clone(),
            app_field: m.app_field.clone(),
            hub_value: text(hub.as_ref().and_then(|h| h.values.get(&m.hub_property))),
            app_value: text(app.as_ref().and_then(|a| a.properties.get(&m.app_field))),
            failed: !failed_field.is_empty()
                && (failed_field.contains(&m.app_field) || failed_field.contains(&m.hub_property)),
        })
        .collect();
    let activity: Vec<(chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query_as(
        "SELECT at, kind, message FROM sync_activity WHERE sync_id = $1 AND index_id = $2 ORDER BY at DESC, id DESC LIMIT 100",
    )
    .bind(sync_id)
    .bind(index_id)
    .fetch_all(&state.pool)
    .await?;
    let troubleshoot = row.reason_code.map(|code| {
        let g = troubleshoot::guide(code);
        let mut links = Vec::new();
        if let Some(h) = row.hub_id {
            links.push((
                "Open the hub record".to_string(),
                format!("/{}/{h}", sync.hub_object),
            ));
        }
        links.push((
            "Edit the sync settings".to_string(),
            format!("/settings/integrations/syncs/{}/edit", sync.id),
        ));
        if g.open == "settings" {
            links.reverse();
        }
        TroubleshootView {
            code,
            title: g.title.into(),
            what: g.what.into(),
            fix: g.fix.into(),
            links,
        }
    });
    Ok(SyncRecordDetails {
        hint: row.hint.clone(),
        row: row_view(&row),
        fields,
        activity: activity
            .into_iter()
            .map(|(at, kind, message)| ActivityView { at, kind, message })
            .collect(),
        troubleshoot,
    })
}

/// Records synced and failed per hour over the last 24 hours (empty hours included).
pub async fn chart(
    pool: &PgPool,
    portal_id: Uuid,
    sync_id: Uuid,
) -> Result<Vec<HourPoint>, EngineError> {
    definition::get(pool, portal_id, sync_id).await?;
    let rows: Vec<(chrono::DateTime<chrono::Utc>, i64, i64)> = sqlx::query_as(
        "SELECT h.hour, COALESCE(s.synced, 0), COALESCE(s.failed, 0)
         FROM generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') AS h(hour)
         LEFT JOIN sync_hourly s ON s.sync_id = $1 AND s.hour = h.hour
         ORDER BY h.hour",
    )
    .bind(sync_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(hour, synced, failed)| HourPoint {
            hour,
            synced,
            failed,
        })
        .collect())
}

/// *Resync deleted records in hub / in app*: recreates them where they were deleted.
pub async fn resync_deleted(
    pool: &PgPool,
    portal_id: Uuid,
    sync_id: Uuid,
    side: SideInput,
    ids: Option<Vec<i64>>,
) -> Result<i64, EngineError> {
    let sync = definition::get(pool, portal_id, sync_id).await?;
    let side = match side {
        SideInput::Hub => "hub",
        SideInput::App => "app",
    };
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_index WHERE sync_id = $1 AND state = 'deleted' AND deleted_side = $2
         AND ($3::bigint[] IS NULL OR id = ANY($3))",
    )
    .bind(sync.id)
    .bind(side)
    .bind(&ids)
    .fetch_one(pool)
    .await?;
    if n > 0 {
        let mut tx = pool.begin().await?;
        let mut job = NewJob::new(runner::RESYNC_DELETED, sync.id);
        job.dedupe_key = None;
        job.payload = serde_json::json!({ "side": side, "ids": ids });
        queue::enqueue(&mut tx, job).await?;
        tx.commit().await?;
    }
    Ok(n)
}

/// *Restore all deleted records*: the deleted records of one hub object that would be
/// recreated in `destination` (the side they were deleted in), across the app's syncs.
pub async fn preview_restore(
    pool: &PgPool,
    portal_id: Uuid,
    connection_id: Uuid,
    hub_object: &str,
    destination: SideInput,
) -> Result<Vec<RestoreCandidate>, EngineError> {
    let side = match destination {
        SideInput::Hub => "hub",
        SideInput::App => "app",
    };
    let rows: Vec<(Uuid, i64, String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT i.sync_id, i.id, i.label, i.deleted_side, i.updated_at FROM sync_index i JOIN syncs s ON s.id = i.sync_id
         WHERE s.portal_id = $1 AND s.connection_id = $2 AND s.hub_object = $3 AND i.state = 'deleted' AND i.deleted_side = $4
         ORDER BY i.id LIMIT 10000",
    )
    .bind(portal_id)
    .bind(connection_id)
    .bind(hub_object)
    .bind(side)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(sync_id, index_id, label, deleted_side, deleted_at)| RestoreCandidate {
                sync_id,
                index_id,
                label,
                deleted_side,
                deleted_at,
            },
        )
        .collect())
}

pub async fn restore(
    pool: &PgPool,
    portal_id: Uuid,
    connection_id: Uuid,
    hub_object: &str,
    destination: SideInput,
    ids: Vec<i64>,
) -> Result<i64, EngineError> {
    let candidates =
        preview_restore(pool, portal_id, connection_id, hub_object, destination).await?;
    let chosen: Vec<&RestoreCandidate> = candidates
        .iter()
        .filter(|c| ids.is_empty() || ids.contains(&c.index_id))
        .collect();
    let mut total = 0;
    let mut syncs: Vec<Uuid> = chosen.iter().map(|c| c.sync_id).collect();
    syncs.sort();
    syncs.dedup();
    for sync_id in syncs {
        let these: Vec<i64> = chosen
            .iter()
            .filter(|c| c.sync_id == sync_id)
            .map(|c| c.index_id)
            .collect();
        total += resync_deleted(pool, portal_id, sync_id, destination, Some(these)).await?;
    }
    Ok(total)
}

/// *Retry all failed*.
pub async fn retry_failed(
    pool: &PgPool,
    portal_id: Uuid,
    sync_id: Uuid,
) -> Result<i64, EngineError> {
    let sync = definition::get(pool, portal_id, sync_id).await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_index WHERE sync_id = $1 AND state = 'failed'",
    )
    .bind(sync.id)
    .fetch_one(pool)
    .await?;
    let mut tx = pool.begin().await?;
    let mut job = NewJob::new(runner::RETRY, sync.id);
    job.dedupe_key = Some(format!("retry-all:{}", sync.id));
    job.payload = serde_json::json!({ "all": true });
    queue::enqueue(&mut tx, job).await?;
    tx.commit().await?;
    Ok(n)
}
