//! Syncs: set-up, status, record lists and actions. Changing anything needs the App
//! Marketplace permission (or Super Admin); everyone signed in can look.

use super::ApiError;
use crate::model::*;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

/// The *Select* step: which app objects can sync, and which already do.
#[server(endpoint = "sync_setup_options", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn sync_setup_options(connection_id: Uuid) -> Result<Vec<ObjectPairOption>, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::setup_options(&super::ssr::state()?, p.portal_id, connection_id)
        .await
        .map_err(ApiError::from)
}

/// Fields, default mappings and pipelines (with an auto-mapped suggestion) for a pair.
#[server(endpoint = "sync_field_options", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn sync_field_options(
    connection_id: Uuid,
    app_object: String,
    hub_object: String,
) -> Result<SyncFieldChoices, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::field_options(
        &super::ssr::state()?,
        p.portal_id,
        connection_id,
        &app_object,
        &hub_object,
    )
    .await
    .map_err(ApiError::from)
}

/// Checks settings without saving: every problem, by field (`mappings[2]`, `filters[0]`).
#[server(endpoint = "validate_sync", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn validate_sync(input: SyncInput) -> Result<(), ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::validate(&super::ssr::state()?, p.portal_id, &input)
        .await
        .map(|_| ())
        .map_err(ApiError::from)
}

/// Saves a new sync and starts its initial sync.
#[server(endpoint = "create_sync", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn create_sync(input: SyncInput) -> Result<SyncView, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::create(&super::ssr::state()?, p.portal_id, p.user_id, &input)
        .await
        .map_err(ApiError::from)
}

/// Saves new settings; the initial sync runs again (records in sync are not rewritten).
#[server(endpoint = "update_sync", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn update_sync(id: Uuid, input: SyncInput) -> Result<SyncView, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::update(&super::ssr::state()?, p.portal_id, id, &input)
        .await
        .map_err(ApiError::from)
}

/// Stops a sync; its index and history are kept.
#[server(endpoint = "turn_off_sync", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn turn_off_sync(id: Uuid) -> Result<SyncView, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::set_enabled(&super::ssr::state()?, p.portal_id, id, false)
        .await
        .map_err(ApiError::from)
}

/// Turns a sync on again: its initial sync runs again.
#[server(endpoint = "turn_on_sync", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn turn_on_sync(id: Uuid) -> Result<SyncView, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::set_enabled(&super::ssr::state()?, p.portal_id, id, true)
        .await
        .map_err(ApiError::from)
}

/// Deletes a sync with its index.
#[server(endpoint = "delete_sync", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn delete_sync(id: Uuid) -> Result<(), ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::delete(&super::ssr::state()?, p.portal_id, id)
        .await
        .map_err(ApiError::from)
}

/// The syncs of one connected account (or of the portal).
#[server(endpoint = "list_syncs", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_syncs(
    #[server(default)] connection_id: Option<Uuid>,
) -> Result<Vec<SyncView>, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::list(&super::ssr::state()?, p.portal_id, connection_id)
        .await
        .map_err(ApiError::from)
}

/// Phase, progress and counts of one sync.
#[server(endpoint = "sync_status", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn sync_status(id: Uuid) -> Result<SyncView, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::view(&super::ssr::state()?, p.portal_id, id)
        .await
        .map_err(ApiError::from)
}

/// Records synced and failed per hour over the last 24 h.
#[server(endpoint = "sync_chart", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn sync_chart(id: Uuid) -> Result<Vec<HourPoint>, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::chart(&super::ssr::state()?.pool, p.portal_id, id)
        .await
        .map_err(ApiError::from)
}

/// A page of a sync's records: `state` one of syncing, failed, excluded, deleted,
/// queued (or none for all), `reason` a reason code, `search` a name, email or id.
#[server(endpoint = "list_sync_records", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_sync_records(
    sync_id: Uuid,
    #[server(default)] state: Option<String>,
    #[server(default)] reason: Option<String>,
    #[server(default)] search: Option<String>,
    #[server(default)] after: Option<i64>,
    #[server(default)] limit: Option<i64>,
) -> Result<SyncRecordPage, ApiError> {
    let p = super::ssr::principal().await?;
    let query = crate::engine::service::RecordQuery {
        selection: crate::engine::index::Selection {
            state: record_state(state)?,
            reason: reason_code(reason)?,
            search,
        },
        after,
        limit: limit.unwrap_or(50),
    };
    crate::engine::service::records(&super::ssr::state()?.pool, p.portal_id, sync_id, &query)
        .await
        .map_err(ApiError::from)
}

/// Values on both sides, activity, reason and the troubleshooting guide of one record.
#[server(endpoint = "sync_record_detail", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn sync_record_detail(
    sync_id: Uuid,
    index_id: i64,
) -> Result<SyncRecordDetails, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::record_detail(&super::ssr::state()?, p.portal_id, sync_id, index_id)
        .await
        .map_err(ApiError::from)
}

/// *Resync deleted records in hub* (`side: "hub"`) or *in app* (`"app"`); returns how many.
#[server(endpoint = "resync_deleted", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn resync_deleted(sync_id: Uuid, side: SideInput) -> Result<i64, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::resync_deleted(
        &super::ssr::state()?.pool,
        p.portal_id,
        sync_id,
        side,
        None,
    )
    .await
    .map_err(ApiError::from)
}

/// The list *Restore all deleted records* would restore, for review.
#[server(endpoint = "preview_restore_deleted", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn preview_restore_deleted(
    connection_id: Uuid,
    hub_object: String,
    destination: SideInput,
) -> Result<Vec<RestoreCandidate>, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::service::preview_restore(
        &super::ssr::state()?.pool,
        p.portal_id,
        connection_id,
        &hub_object,
        destination,
    )
    .await
    .map_err(ApiError::from)
}

/// Restores the reviewed records (`ids` from the preview; empty: all of them).
#[server(endpoint = "restore_deleted", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn restore_deleted(
    connection_id: Uuid,
    hub_object: String,
    destination: SideInput,
    #[server(default)] ids: Vec<i64>,
) -> Result<i64, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::restore(
        &super::ssr::state()?.pool,
        p.portal_id,
        connection_id,
        &hub_object,
        destination,
        ids,
    )
    .await
    .map_err(ApiError::from)
}

/// *Retry all failed*; returns how many records will be retried.
#[server(endpoint = "retry_failed", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn retry_failed(sync_id: Uuid) -> Result<i64, ApiError> {
    let p = super::ssr::app_manager().await?;
    crate::engine::service::retry_failed(&super::ssr::state()?.pool, p.portal_id, sync_id)
        .await
        .map_err(ApiError::from)
}

/// *More → Export*: starts a CSV or XLSX file of a sync's list (`state` as in
/// `list_sync_records`, none for all; `reason` and `search` narrow it the same way). It
/// is made in the background; poll `export_status`, or wait for the notification.
#[server(endpoint = "export_sync_records", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn export_sync_records(
    sync_id: Uuid,
    #[server(default)] state: Option<String>,
    #[server(default)] format: ExportFormat,
    #[server(default)] reason: Option<String>,
    #[server(default)] search: Option<String>,
) -> Result<ExportView, ApiError> {
    let p = super::ssr::principal().await?;
    let request = crate::engine::export::ExportRequest {
        selection: crate::engine::index::Selection {
            state: record_state(state)?,
            reason: reason_code(reason)?,
            search,
        },
        format,
    };
    crate::engine::export::start(
        &super::ssr::state()?.pool,
        p.portal_id,
        p.user_id,
        sync_id,
        &request,
    )
    .await
    .map_err(ApiError::from)
}

/// Where an export is; `download_url` is set while the file can be downloaded.
#[server(endpoint = "export_status", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn export_status(id: Uuid) -> Result<ExportView, ApiError> {
    let p = super::ssr::principal().await?;
    crate::engine::export::status(&super::ssr::state()?.pool, p.portal_id, id)
        .await
        .map_err(ApiError::from)
}

/// The `reason` filter: `None` when left out, a 422 on the field when not a reason code.
#[cfg(feature = "ssr")]
fn reason_code(reason: Option<String>) -> Result<Option<ReasonCode>, ApiError> {
    reason
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            ReasonCode::parse(r.trim()).ok_or_else(|| {
                ApiError::field(
                    "reason",
                    format!(
                        "“{r}” is not a reason code; use one the record list shows (for example \
                         hub_validation), or leave it out for all."
                    ),
                )
            })
        })
        .transpose()
}

/// A list's `state` argument, refused by name (a form field) when it is not a state.
#[cfg(feature = "ssr")]
fn record_state(state: Option<String>) -> Result<Option<RecordState>, ApiError> {
    state
        .map(|s| {
            RecordState::parse(&s).ok_or_else(|| {
                ApiError::field(
                    "state",
                    format!(
                        "“{s}” is not a record state; use syncing, failed, excluded, deleted or \
                         queued (or leave it out for all)."
                    ),
                )
            })
        })
        .transpose()
}
