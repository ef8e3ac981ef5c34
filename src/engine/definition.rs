//! Sync definitions: what the admin saved ([`SyncInput`]), checked against both schemas
//! and turned into the engine's [`SyncSettings`]; creating, editing, turning on and off,
//! deleting. Saving restarts the initial sync (a new generation).

use super::hub_side;
use super::plan::{
    self, check_mapping, check_mappings, FieldMapping, FieldType, KeyFields, MappingError,
    OptionMap, SyncSettings,
};
use super::queue::{self, NewJob};
use super::EngineError;
use crate::connectors::{AppObject, FieldKind};
use crate::model::{
    FieldError, FieldOption, InitialStep, MappingInput, MatchKeyInput, Refused, SideInput,
    SyncDirection, SyncInput, SyncPhase, WritePolicy,
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Options of a sync outside the per-record decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncOptions {
    pub propagate_deletes: bool,
    pub event_sync: bool,
    pub sync_associations: bool,
}

impl SyncOptions {
    pub fn of(input: &SyncInput) -> Self {
        SyncOptions {
            propagate_deletes: input.propagate_deletes,
            event_sync: input.event_sync,
            sync_associations: input.sync_associations,
        }
    }
}

/// The app's fields as the mapping editor offers them.
pub fn app_field_options(object: &AppObject) -> Vec<FieldOption> {
    object
        .fields
        .iter()
        .map(|f| {
            let options = match &f.kind {
                FieldKind::Enumeration { options } => options
                    .iter()
                    .map(|o| (o.value.clone(), o.label.clone()))
                    .collect(),
                _ => vec![],
            };
            FieldOption {
                name: f.name.clone(),
                label: f.label.clone(),
                kind: f.kind.field_type(),
                required: f.required,
                read_only: f.read_only,
                options,
            }
        })
        .collect()
}

/// The connector's default mappings that exist on the hub side.
pub fn default_mappings(object: &AppObject, hub: &[FieldOption]) -> Vec<MappingInput> {
    object
        .fields
        .iter()
        .filter_map(|f| {
            let hub_property = f.default_hub_property.clone()?;
            let h = hub.iter().find(|h| h.name == hub_property)?;
            // Stage fields are handled by the stage map, not by a mapping.
            if object
                .pipeline_fields
                .as_ref()
                .is_some_and(|(p, s)| *p == f.name || *s == f.name)
            {
                return None;
            }
            // Each way the values may flow: the field written must take them, and the
            // types must convert (free text never becomes a list of options, say).
            let converts = |from: FieldType, to: FieldType| {
                !matches!(plan::compatibility(from, to), plan::Compatibility::No(_))
            };
            let app_kind = f.kind.field_type();
            let to_hub = !h.read_only && converts(app_kind, h.kind);
            let to_app = !f.read_only && converts(h.kind, app_kind);
            let direction = match (to_hub, to_app) {
                (true, true) => SyncDirection::TwoWay,
                (true, false) => SyncDirection::ToHub,
                (false, true) => SyncDirection::ToApp,
                (false, false) => return None,
            };
            Some(MappingInput {
                hub_property,
                app_field: f.name.clone(),
                direction,
                enabled: true,
                write_policy: WritePolicy::Always,
                options: vec![],
                custom: false,
            })
        })
        .collect()
}

/// Options with the same value (or label) on both sides, for enumeration mappings the
/// admin did not pair by hand.
fn auto_options(hub: &FieldOption, app: &FieldOption) -> OptionMap {
    let norm = |s: &str| s.trim().to_lowercase();
    OptionMap::new(hub.options.iter().filter_map(|(hv, hl)| {
        app.options
            .iter()
            .find(|(av, al)| norm(av) == norm(hv) || norm(al) == norm(hl))
            .map(|(av, _)| (hv.clone(), av.clone()))
    }))
}

fn field_err(field: String, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Checks a saved sync against both schemas and builds the engine's settings. Every
/// problem is reported at once, named by the input's path (`mappings[2]`, `filters[0]`).
pub fn build_settings(
    input: &SyncInput,
    app_object: &AppObject,
    hub_fields: &[FieldOption],
) -> Result<SyncSettings, EngineError> {
    let app_fields = app_field_options(app_object);
    let kind = hub_side::object_kind(&input.hub_object).ok_or_else(|| {
        Refused::field(
            "hub_object",
            format!("The hub has no object “{}”.", input.hub_object),
        )
    })?;
    let sync_direction = input.direction;
    let mut settings = SyncSettings::new(kind, sync_direction, input.conflict_winner);
    let mut errors = Vec::new();

    let mappings = if input.mappings.is_empty() {
        default_mappings(app_object, hub_fields)
    } else {
        input.mappings.clone()
    };
    for (i, m) in mappings.iter().enumerate() {
        let at = format!("mappings[{i}]");
        let Some(app) = app_fields.iter().find(|f| f.name == m.app_field) else {
            errors.push(field_err(
                at,
                format!("The app has no field “{}”.", m.app_field),
            ));
            continue;
        };
        let Some(hub) = hub_fields.iter().find(|f| f.name == m.hub_property) else {
            errors.push(field_err(
                at,
                format!("The hub has no property “{}”.", m.hub_property),
            ));
            continue;
        };
        let mapping_dir = m.direction;
        let flows = plan::Flows::of(sync_direction, mapping_dir);
        if m.enabled && flows.to_app && app.read_only {
            errors.push(field_err(
                at.clone(),
                format!(
                    "{} is read-only in the app: set this mapping to “To hub only”.",
                    app.label
                ),
            ));
        }
        if m.enabled && flows.to_hub && hub.read_only {
            errors.push(field_err(
                at.clone(),
                format!(
                    "{} is read-only in the hub: set this mapping to “To app only”.",
                    hub.label
                ),
            ));
        }
        let mut fm = FieldMapping::new(&hub.name, hub.kind, &app.name, app.kind)
            .direction(mapping_dir)
            .policy(m.write_policy);
        if app.required {
            fm = fm.required();
        }
        if !m.enabled {
            fm = fm.disabled();
        }
        if hub.kind == FieldType::Enumeration || app.kind == FieldType::Enumeration {
            let options = if m.options.is_empty() {
                auto_options(hub, app)
            } else {
                OptionMap::new(m.options.iter().map(|o| (o.hub.clone(), o.app.clone())))
            };
            fm = fm.options(options);
        }
        // Type problems are named by the mapping's own path, so the wizard shows them
        // on its row; what only shows across mappings (a field written twice) below.
        if fm.enabled {
            if let Err(p) = check_mapping(&fm, sync_direction) {
                errors.push(field_err(at.clone(), format!("{p} {}", p.hint())));
            }
        }
        settings.mappings.push(fm);
    }
    if let Err(problems) = check_mappings(&settings.mappings, sync_direction) {
        for p in problems
            .into_iter()
            .filter(|p| matches!(p, MappingError::DuplicateTarget { .. }))
        {
            errors.push(field_err("mappings".into(), format!("{p} {}", p.hint())));
        }
    }

    for (i, f) in input.filters.iter().enumerate() {
        let fields = match f.side {
            SideInput::Hub => hub_fields,
            SideInput::App => &app_fields[..],
        };
        if !fields.iter().any(|x| x.name == f.field) {
            errors.push(field_err(
                format!("filters[{i}]"),
                format!("“{}” is not a field of that side.", f.field),
            ));
            continue;
        }
        let condition = plan::Condition::new(f.field.clone(), f.op.clone());
        match f.side {
            SideInput::Hub => settings.hub_filters.push(condition),
            SideInput::App => settings.app_filters.push(condition),
        }
    }

    settings.sync_only_with_email = input.sync_only_with_email;
    if let MatchKeyInput::Custom {
        hub_property,
        app_field,
    } = &input.match_key
    {
        if !hub_fields.iter().any(|f| &f.name == hub_property) {
            errors.push(field_err(
                "match_key".into(),
                format!("The hub has no property “{hub_property}”."),
            ));
        }
        if !app_fields.iter().any(|f| &f.name == app_field) {
            errors.push(field_err(
                "match_key".into(),
                format!("The app has no field “{app_field}”."),
            ));
        }
    }
    settings.match_key = input.match_key.clone();
    settings.app_keys = app_key_fields(app_object);

    if let Some((pipeline, stage)) = &app_object.pipeline_fields {
        let pairs = input
            .stage_pairs
            .iter()
            .map(|p| plan::StagePair {
                hub: plan::StageRef::new(&p.hub_pipeline, &p.hub_stage),
                app: plan::StageRef::new(&p.app_pipeline, &p.app_stage),
            })
            .collect();
        settings.stage_map = Some(plan::StageMap::new(
            plan::StageFields {
                pipeline: Some(pipeline.clone()),
                stage: stage.clone(),
            },
            pairs,
        ));
    }

    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(Refused::validation(errors).into())
    }
}

/// Where the app keeps the default identifiers, from the connector's identifier fields.
fn app_key_fields(object: &AppObject) -> KeyFields {
    let has = |name: &str| object.identifier_fields.iter().any(|f| f == name);
    KeyFields {
        email: has("email").then(|| "email".to_string()),
        company_name: has("name").then(|| "name".to_string()),
        company_domain: has("domain").then(|| "domain".to_string()),
    }
}

/// A sync row as the engine reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncRow {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub connection_id: Uuid,
    pub hub_object: String,
    pub app_object: String,
    pub input: sqlx::types::Json<SyncInput>,
    pub settings: sqlx::types::Json<SyncSettings>,
    pub options: sqlx::types::Json<SyncOptions>,
    pub enabled: bool,
    pub phase: SyncPhase,
    pub generation: i32,
    pub step: InitialStep,
    pub hub_checkpoint: i64,
    pub app_checkpoint: Option<String>,
    pub progress: sqlx::types::Json<Progress>,
    pub hub_feed_position: i64,
    pub app_feed_cursor: Option<String>,
    pub events_cursor: Option<String>,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub initial_completed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Initial sync progress, stored with the checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    pub hub_total: i64,
    pub hub_indexed: i64,
    pub app_seen: i64,
    /// The app's record count is unknown until the listing ends; estimated meanwhile.
    pub app_estimate: i64,
    pub hub_pass_total: i64,
    pub hub_pass_done: i64,
}

pub const SYNC_COLUMNS: &str =
    "id, portal_id, connection_id, hub_object, app_object, input, settings, options,
    enabled, phase, generation, step, hub_checkpoint, app_checkpoint, progress, hub_feed_position,
    app_feed_cursor, events_cursor, last_error, created_at, initial_completed_at";

pub async fn get(pool: &PgPool, portal_id: Uuid, id: Uuid) -> Result<SyncRow, EngineError> {
    sqlx::query_as::<_, SyncRow>(&format!(
        "SELECT {SYNC_COLUMNS} FROM syncs WHERE id = $1 AND portal_id = $2"
    ))
    .bind(id)
    .bind(portal_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Refused::not_found("The sync").into())
}

pub async fn get_any(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<SyncRow>> {
    sqlx::query_as::<_, SyncRow>(&format!("SELECT {SYNC_COLUMNS} FROM syncs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn list_for_connection(
    pool: &PgPool,
    portal_id: Uuid,
    connection_id: Uuid,
) -> sqlx::Result<Vec<SyncRow>> {
    sqlx::query_as::<_, SyncRow>(&format!(
        "SELECT {SYNC_COLUMNS} FROM syncs WHERE portal_id = $1 AND connection_id = $2 ORDER BY created_at"
    ))
    .bind(portal_id)
    .bind(connection_id)
    .fetch_all(pool)
    .await
}

pub async fn list_for_portal(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<Vec<SyncRow>> {
    sqlx::query_as::<_, SyncRow>(&format!(
        "SELECT {SYNC_COLUMNS} FROM syncs WHERE portal_id = $1 ORDER BY created_at"
    ))
    .bind(portal_id)
    .fetch_all(pool)
    .await
}

/// Stores a new sync and queues its initial sync.
pub async fn insert(
    pool: &PgPool,
    portal_id: Uuid,
    created_by: Uuid,
    input: &SyncInput,
    settings: &SyncSettings,
) -> Result<Uuid, EngineError> {
    let mut tx = pool.begin().await?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO syncs (portal_id, connection_id, hub_object, app_object, input, settings, options, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (connection_id, app_object) DO NOTHING
         RETURNING id",
    )
    .bind(portal_id)
    .bind(input.connection_id)
    .bind(&input.hub_object)
    .bind(&input.app_object)
    .bind(sqlx::types::Json(input))
    .bind(sqlx::types::Json(settings))
    .bind(sqlx::types::Json(SyncOptions::of(input)))
    .bind(created_by)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| {
        Refused::conflict(format!(
            "This account already has a sync for {}. Edit that sync instead of adding another.",
            input.app_object
        ))
    })?;
    queue::enqueue(&mut tx, NewJob::new(super::runner::INITIAL, id)).await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves new settings and restarts the initial sync (pairs and their snapshots are kept,
/// so records already in sync are not written again).
pub async fn update(
    pool: &PgPool,
    row: &SyncRow,
    input: &SyncInput,
    settings: &SyncSettings,
) -> Result<(), EngineError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE syncs SET input = $2, settings = $3, options = $4, enabled = true, updated_at = now()
         WHERE id = $1",
    )
    .bind(row.id)
    .bind(sqlx::types::Json(input))
    .bind(sqlx::types::Json(settings))
    .bind(sqlx::types::Json(SyncOptions::of(input)))
    .execute(&mut *tx)
    .await?;
    restart(&mut tx, row.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Starts the initial sync over: a new generation, checkpoints reset.
pub async fn restart(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE syncs SET generation = generation + 1, phase = 'scanning', step = 'hub_index',
             hub_checkpoint = 0, app_checkpoint = NULL, progress = '{}', initial_started_at = NULL,
             initial_completed_at = NULL, last_error = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    queue::enqueue(conn, NewJob::new(super::runner::INITIAL, id)).await
}

pub async fn set_enabled(pool: &PgPool, row: &SyncRow, enabled: bool) -> Result<(), EngineError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE syncs SET enabled = $2, updated_at = now() WHERE id = $1")
        .bind(row.id)
        .bind(enabled)
        .execute(&mut *tx)
        .await?;
    if enabled {
        restart(&mut tx, row.id).await?;
    } else {
        // Waiting jobs of a sync that is off are dropped; the index is kept.
        sqlx::query("DELETE FROM jobs WHERE sync_id = $1 AND (locked_until IS NULL OR locked_until < now())")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes a sync with its index, activity and jobs.
pub async fn delete(pool: &PgPool, row: &SyncRow) -> Result<(), EngineError> {
    sqlx::query("DELETE FROM syncs WHERE id = $1")
        .bind(row.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Turns off every sync of a connection (when it is disconnected); history stays.
pub async fn turn_off_for_connection(pool: &PgPool, connection_id: Uuid) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE syncs SET enabled = false, updated_at = now() WHERE connection_id = $1 AND enabled",
    )
    .bind(connection_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM jobs WHERE sync_id IN (SELECT id FROM syncs WHERE connection_id = $1)",
    )
    .bind(connection_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Where an initial sync goes after a batch of one of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The same step goes on from the checkpoint.
    Stay,
    /// Hub indexing is done: the app pass starts and the sync shows as syncing.
    AppPass,
    /// The app pass is done: the hub pass starts.
    HubPass,
}

/// Where an initial sync step is, saved with the batch it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub hub: i64,
    pub app: Option<String>,
    pub progress: Progress,
    pub next: NextStep,
}

/// Saves a step's checkpoint, only while the sync's settings are those the batch ran
/// with (its generation). `false`: they changed, the caller rolls back.
pub async fn save_checkpoint(
    conn: &mut PgConnection,
    sync: &SyncRow,
    checkpoint: &Checkpoint,
) -> sqlx::Result<bool> {
    let (step, phase) = match checkpoint.next {
        NextStep::Stay => (None, None),
        NextStep::AppPass => (Some(InitialStep::AppPass), Some(SyncPhase::Syncing)),
        NextStep::HubPass => (Some(InitialStep::HubPass), None),
    };
    let updated = sqlx::query(
        "UPDATE syncs SET step = COALESCE($6, step), phase = COALESCE($7, phase),
             hub_checkpoint = $3, app_checkpoint = $4, progress = $5, updated_at = now()
         WHERE id = $1 AND generation = $2",
    )
    .bind(sync.id)
    .bind(sync.generation)
    .bind(checkpoint.hub)
    .bind(&checkpoint.app)
    .bind(sqlx::types::Json(&checkpoint.progress))
    .bind(step)
    .bind(phase)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The initial sync starts: changes made while it runs are replayed afterwards, from
/// these feed positions.
pub async fn start_initial(
    conn: &mut PgConnection,
    sync: &SyncRow,
    hub_feed_position: i64,
    app_feed_cursor: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE syncs SET hub_feed_position = $2, app_feed_cursor = $3, initial_started_at = now(), phase = 'scanning'
         WHERE id = $1 AND generation = $4",
    )
    .bind(sync.id)
    .bind(hub_feed_position)
    .bind(app_feed_cursor)
    .bind(sync.generation)
    .execute(conn)
    .await?;
    Ok(())
}

/// The initial sync is done: the sync listens for changes. `false`: it was done already,
/// or its settings changed meanwhile.
pub async fn complete_initial(conn: &mut PgConnection, sync: &SyncRow) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE syncs SET step = 'done', phase = 'listening', initial_completed_at = now(), updated_at = now()
         WHERE id = $1 AND generation = $2 AND step <> 'done'",
    )
    .bind(sync.id)
    .bind(sync.generation)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The hub change feed is consumed up to `last`. `false`: the position was there already.
pub async fn advance_hub_feed(conn: &mut PgConnection, id: Uuid, last: i64) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "UPDATE syncs SET hub_feed_position = $2 WHERE id = $1 AND hub_feed_position < $2",
    )
    .bind(id)
    .bind(last)
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// The app change feed is consumed up to `cursor`, and the app was polled now.
pub async fn save_app_feed(conn: &mut PgConnection, id: Uuid, cursor: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE syncs SET app_feed_cursor = $2, last_poll_at = now() WHERE id = $1")
        .bind(id)
        .bind(cursor)
        .execute(conn)
        .await?;
    Ok(())
}

/// The app's event feed is consumed up to `cursor`; the counters grow by this page's.
pub async fn save_events(
    conn: &mut PgConnection,
    id: Uuid,
    cursor: &str,
    synced: i64,
    skipped: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE syncs SET events_cursor = $2,
             progress = jsonb_set(jsonb_set(progress, '{events_synced}', to_jsonb(COALESCE((progress->>'events_synced')::bigint, 0) + $3)),
                                  '{events_skipped}', to_jsonb(COALESCE((progress->>'events_skipped')::bigint, 0) + $4))
         WHERE id = $1",
    )
    .bind(id)
    .bind(cursor)
    .bind(synced)
    .bind(skipped)
    .execute(conn)
    .await?;
    Ok(())
}

/// A job of the sync ran well: an error shown from an earlier run is gone.
pub async fn clear_error(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE syncs SET last_error = NULL WHERE id = $1 AND last_error IS NOT NULL")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A job of the sync failed and will be retried: the sync shows why meanwhile.
pub async fn set_error(conn: &mut PgConnection, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE syncs SET last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a person is told about a sync turned off by errors.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TurnedOff {
    pub portal_id: Uuid,
    pub connection_id: Uuid,
    pub hub_object: String,
}

/// Turns off a sync that cannot work as set up, with the error that says why; `None`
/// when it was off already.
pub async fn turn_off_by_error(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
) -> sqlx::Result<Option<TurnedOff>> {
    sqlx::query_as(
        "UPDATE syncs SET enabled = false, last_error = $2, updated_at = now()
         WHERE id = $1 AND enabled RETURNING portal_id, connection_id, hub_object",
    )
    .bind(id)
    .bind(error)
    .fetch_optional(conn)
    .await
}

/// The listening syncs of a portal (those a hub change concerns).
pub async fn listening_in_portal(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM syncs WHERE portal_id = $1 AND enabled AND phase = 'listening'",
    )
    .bind(portal_id)
    .fetch_all(pool)
    .await
}

/// A listening sync of a connection, and whether it syncs events too.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listening {
    pub id: Uuid,
    pub event_sync: bool,
}

/// The listening syncs of a connection (those an app's webhook concerns).
pub async fn listening_for_connection(
    conn: &mut PgConnection,
    connection_id: Uuid,
) -> sqlx::Result<Vec<Listening>> {
    sqlx::query_as(
        "SELECT id, COALESCE((options->>'event_sync')::boolean, false) AS event_sync FROM syncs
         WHERE connection_id = $1 AND enabled AND phase = 'listening'",
    )
    .bind(connection_id)
    .fetch_all(conn)
    .await
}

/// Which safety nets a listening sync is due for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: Uuid,
    /// The app was not polled for `poll_every`.
    pub poll: bool,
    pub event_sync: bool,
    /// Failed records whose retry time has come.
    pub retry: bool,
    /// Hub changes past the sync's feed position.
    pub behind: bool,
}

/// The syncs whose safety nets are due. Apps polled on their own interval (they send no
/// change notices) are named in `polled`; the others are polled every `poll_every`.
pub async fn due_safety_nets(
    pool: &PgPool,
    poll_every: std::time::Duration,
    polled: &[(String, std::time::Duration)],
) -> sqlx::Result<Vec<Due>> {
    let apps: Vec<&str> = polled.iter().map(|(app, _)| app.as_str()).collect();
    let secs: Vec<f64> = polled
        .iter()
        .map(|(_, every)| every.as_secs_f64())
        .collect();
    sqlx::query_as(
        "SELECT s.id,
                s.last_poll_at IS NULL
                    OR s.last_poll_at < now() - make_interval(secs => COALESCE(p.secs, $1)) AS poll,
                COALESCE((s.options->>'event_sync')::boolean, false) AS event_sync,
                EXISTS (SELECT 1 FROM sync_index i WHERE i.sync_id = s.id AND i.state = 'failed' AND i.retry_at <= now()) AS retry,
                EXISTS (SELECT 1 FROM hub_changes c WHERE c.portal_id = s.portal_id AND c.seq > s.hub_feed_position) AS behind
         FROM syncs s JOIN connections c ON c.id = s.connection_id
         LEFT JOIN unnest($2::text[], $3::float8[]) AS p(app, secs) ON p.app = c.app
         WHERE s.enabled AND s.phase = 'listening'",
    )
    .bind(poll_every.as_secs_f64())
    .bind(&apps)
    .bind(&secs)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::AppField;
    use uuid::Uuid;

    fn field(name: &str, kind: FieldKind) -> AppField {
        AppField {
            name: name.into(),
            label: name.into(),
            kind,
            required: false,
            read_only: false,
            default_hub_property: None,
        }
    }

    fn app_object(name: &str, fields: Vec<AppField>) -> AppObject {
        AppObject {
            name: name.into(),
            label: name.into(),
            hub_object: name.into(),
            fields,
            identifier_fields: crate::connectors::identifier_fields(name),
            pipeline_fields: None,
        }
    }

    fn hub(name: &str, kind: FieldType) -> FieldOption {
        FieldOption {
            name: name.into(),
            label: name.into(),
            kind,
            required: false,
            read_only: false,
            options: vec![],
        }
    }

    fn mapping(hub_property: &str, app_field: &str) -> MappingInput {
        MappingInput {
            hub_property: hub_property.into(),
            app_field: app_field.into(),
            direction: SyncDirection::TwoWay,
            enabled: true,
            write_policy: WritePolicy::Always,
            options: vec![],
            custom: true,
        }
    }

    #[test]
    fn default_mappings_flow_only_the_ways_the_types_convert() {
        let defaulted = |name: &str, kind: FieldKind| AppField {
            default_hub_property: Some(name.into()),
            ..field(name, kind)
        };
        let object = app_object(
            "companies",
            vec![
                defaulted("name", FieldKind::String),
                defaulted("industry", FieldKind::String),
                defaulted("employees", FieldKind::Number),
                defaulted("founded", FieldKind::Date),
            ],
        );
        let hub_fields = vec![
            hub("name", FieldType::Text),
            hub("industry", FieldType::Enumeration),
            hub("employees", FieldType::Text),
            hub("founded", FieldType::Number),
        ];
        let got: Vec<(String, SyncDirection)> = default_mappings(&object, &hub_fields)
            .into_iter()
            .map(|m| (m.app_field, m.direction))
            .collect();
        assert_eq!(
            got,
            vec![
                ("name".to_string(), SyncDirection::TwoWay),
                // Free text never becomes an option; an option is always text.
                ("industry".to_string(), SyncDirection::ToApp),
                ("employees".to_string(), SyncDirection::ToHub),
            ],
            "a date and a number convert neither way: no default"
        );
        let input = SyncInput::new(Uuid::nil(), "companies", "companies");
        assert!(build_settings(&input, &object, &hub_fields).is_ok());
    }

    #[test]
    fn a_type_problem_is_named_by_its_mapping_so_the_wizard_shows_it_on_that_row() {
        let object = app_object(
            "contacts",
            vec![
                field("email", FieldKind::Email),
                field("score", FieldKind::Number),
            ],
        );
        let hub_fields = vec![
            hub("email", FieldType::Text),
            hub("jobtitle", FieldType::Text),
        ];
        let mut input = SyncInput {
            mappings: vec![mapping("email", "email"), mapping("jobtitle", "score")],
            ..SyncInput::new(Uuid::nil(), "contacts", "contacts")
        };
        // Text → number (hub jobtitle into app score) is refused, on mappings[1].
        let err = build_settings(&input, &object, &hub_fields)
            .unwrap_err()
            .refused()
            .map(|r| r.problem.clone())
            .unwrap();
        assert_eq!(err.fields.len(), 1, "{err:?}");
        assert_eq!(err.fields[0].field, "mappings[1]");
        assert!(
            err.fields[0].message.contains("cannot be converted"),
            "{}",
            err.fields[0].message
        );
        // Number → text only (to the hub) is fine.
        input.mappings[1].direction = SyncDirection::ToHub;
        assert!(build_settings(&input, &object, &hub_fields).is_ok());
        // Two mappings writing one field stay a problem of the whole table.
        input.mappings.push(mapping("email", "email"));
        let err = build_settings(&input, &object, &hub_fields)
            .unwrap_err()
            .refused()
            .map(|r| r.problem.clone())
            .unwrap();
        assert!(err.fields.iter().all(|f| f.field == "mappings"), "{err:?}");
    }
}
