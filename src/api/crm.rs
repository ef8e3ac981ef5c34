//! Server functions of the hub CRM pages (lists, record page, create dialog). Thin:
//! caller → `crate::hub` → DTO. Writes carry the caller as their `WriteOrigin` (the
//! user for a session, the token for a Bearer token).

use super::ApiError;
use crate::model::crm::{
    AssociationView, ListRequest, ObjectSchemaView, ObjectType, PipelineView, RecordPage,
    RecordView, TimelineEventView, UpdatedRecord,
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde_json::Value;
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::model::crm::WriteOrigin;
    use crate::model::ApiError;
    use crate::platform::{auth::Principal, AppState};

    /// The caller, the origin of their writes, and the state.
    pub async fn caller() -> Result<(Principal, WriteOrigin, AppState), ApiError> {
        let state = crate::api::ssr::state()?;
        let principal = crate::api::ssr::principal().await?;
        let origin = principal.write_origin();
        Ok((principal, origin, state))
    }
}

/// Properties, list columns, create-form fields and (deals) pipelines of an object type.
#[server(endpoint = "crm_schema", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn crm_schema(object: ObjectType) -> Result<ObjectSchemaView, ApiError> {
    let (p, _, state) = ssr::caller().await?;
    Ok(crate::hub::schema::load(&state.pool, p.portal_id, object)
        .await?
        .view())
}

/// One page of records: search, sort (a sortable column), archived filter, cursors.
#[server(endpoint = "list_crm_records", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_crm_records(
    object: ObjectType,
    request: ListRequest,
) -> Result<RecordPage, ApiError> {
    use crate::hub::records::{self, Cursor, ListQuery, Sort, SortDir};
    let (p, _, state) = ssr::caller().await?;
    let sort = match request.sort.as_deref().filter(|s| !s.is_empty()) {
        None => Sort::newest_first(),
        Some(name) => {
            if !crate::hub::schema::sortable(object).contains(&name) {
                return Err(ApiError::field(
                    "sort",
                    format!(
                        "The {object} list cannot be sorted by “{name}”. Sort by one of: {}.",
                        crate::hub::schema::sortable(object).join(", ")
                    ),
                ));
            }
            Sort {
                property: name.to_string(),
                dir: if request.descending {
                    SortDir::Desc
                } else {
                    SortDir::Asc
                },
            }
        }
    };
    let cursor = |c: &Option<String>, field: &str| match c.as_deref().filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => Cursor::decode(c).map(Some).ok_or_else(|| {
            ApiError::field(
                field,
                "This page link is not valid; start from the first page.",
            )
        }),
    };
    let q = ListQuery {
        archived: request.archived,
        search: request.search.clone().filter(|s| !s.trim().is_empty()),
        filter_groups: Vec::new(),
        sort,
        after: cursor(&request.after, "after")?,
        before: cursor(&request.before, "before")?,
        limit: request.limit.unwrap_or(25) as usize,
    };
    let page = records::list(&state.pool, p.portal_id, object, &q).await?;
    Ok(RecordPage {
        records: page.records.iter().map(|r| r.view()).collect(),
        next: page.next.map(|c| c.encode()),
        prev: page.prev.map(|c| c.encode()),
    })
}

/// A record, archived or not.
#[server(endpoint = "get_crm_record", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn get_crm_record(object: ObjectType, id: i64) -> Result<RecordView, ApiError> {
    let (p, _, state) = ssr::caller().await?;
    Ok(
        crate::hub::records::get_or_404(&state.pool, p.portal_id, object, id)
            .await?
            .view(),
    )
}

/// Creates a record from `{property: value}`; 422 names every invalid field.
#[server(endpoint = "create_crm_record", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn create_crm_record(
    object: ObjectType,
    properties: BTreeMap<String, Value>,
) -> Result<RecordView, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    Ok(
        crate::hub::records::create(&state.pool, p.portal_id, object, &properties, &origin)
            .await?
            .view(),
    )
}

/// Changes some properties (`null` or "" clears one); returns what changed.
#[server(endpoint = "update_crm_record", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn update_crm_record(
    object: ObjectType,
    id: i64,
    properties: BTreeMap<String, Value>,
) -> Result<UpdatedRecord, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    let u = crate::hub::records::update(&state.pool, p.portal_id, object, id, &properties, &origin)
        .await?;
    Ok(UpdatedRecord {
        record: u.record.view(),
        changed: u.changed,
    })
}

/// Archives (soft-deletes) a record.
#[server(endpoint = "archive_crm_record", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn archive_crm_record(object: ObjectType, id: i64) -> Result<RecordView, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    Ok(
        crate::hub::records::set_archived(&state.pool, p.portal_id, object, id, true, &origin)
            .await?
            .view(),
    )
}

/// Restores an archived record.
#[server(endpoint = "restore_crm_record", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn restore_crm_record(object: ObjectType, id: i64) -> Result<RecordView, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    Ok(
        crate::hub::records::set_archived(&state.pool, p.portal_id, object, id, false, &origin)
            .await?
            .view(),
    )
}

/// The records associated with one (every type), with display names.
#[server(endpoint = "list_crm_associations", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_crm_associations(
    object: ObjectType,
    id: i64,
) -> Result<Vec<AssociationView>, ApiError> {
    let (p, _, state) = ssr::caller().await?;
    crate::hub::records::get_or_404(&state.pool, p.portal_id, object, id).await?;
    Ok(crate::hub::associations::list_all(&state.pool, p.portal_id, (object, id), 200).await?)
}

/// Associates two records; answers whether the association is new.
#[server(endpoint = "associate_crm_records", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn associate_crm_records(
    object: ObjectType,
    id: i64,
    to_object: ObjectType,
    to_id: i64,
) -> Result<bool, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    Ok(crate::hub::associations::set_associated(
        &state.pool,
        p.portal_id,
        (object, id),
        (to_object, to_id),
        true,
        &origin,
    )
    .await?)
}

/// Removes an association; answers whether there was one.
#[server(endpoint = "dissociate_crm_records", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn dissociate_crm_records(
    object: ObjectType,
    id: i64,
    to_object: ObjectType,
    to_id: i64,
) -> Result<bool, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    Ok(crate::hub::associations::set_associated(
        &state.pool,
        p.portal_id,
        (object, id),
        (to_object, to_id),
        false,
        &origin,
    )
    .await?)
}

/// A record's timeline, newest first.
#[server(endpoint = "list_crm_timeline", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_crm_timeline(
    object: ObjectType,
    id: i64,
) -> Result<Vec<TimelineEventView>, ApiError> {
    let (p, _, state) = ssr::caller().await?;
    crate::hub::records::get_or_404(&state.pool, p.portal_id, object, id).await?;
    Ok(crate::hub::timeline::list(&state.pool, p.portal_id, object, id, 100).await?)
}

/// Adds a note to a record's timeline.
#[server(endpoint = "add_crm_note", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn add_crm_note(object: ObjectType, id: i64, body: String) -> Result<i64, ApiError> {
    let (p, origin, state) = ssr::caller().await?;
    let text = body.trim().to_string();
    if text.is_empty() {
        return Err(ApiError::field(
            "body",
            "Write something before adding the note.",
        ));
    }
    let title: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(80)
        .collect();
    let event = crate::hub::timeline::NewTimelineEvent {
        kind: "note".into(),
        occurred_at: chrono::Utc::now(),
        title,
        body: text,
        properties: serde_json::json!({}),
        external_id: None,
    };
    let mut conn = state.pool.acquire().await?;
    Ok(
        crate::hub::timeline::insert(&mut conn, p.portal_id, object, id, &event, &origin)
            .await?
            .id,
    )
}

/// The portal's deal pipelines with their stages.
#[server(endpoint = "list_crm_pipelines", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_crm_pipelines() -> Result<Vec<PipelineView>, ApiError> {
    let (p, _, state) = ssr::caller().await?;
    Ok(crate::hub::pipelines::list(&state.pool, p.portal_id).await?)
}
