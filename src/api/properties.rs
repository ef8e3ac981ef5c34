//! Settings → Properties: custom properties of the hub's object types.

use super::ApiError;
use crate::model::crm::{NewPropertyRequest, ObjectType, PropertyDef};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Every property of an object type (default ones, then custom ones, then computed).
#[server(endpoint = "list_crm_properties", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_crm_properties(object: ObjectType) -> Result<Vec<PropertyDef>, ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    Ok(crate::hub::schema::load(&state.pool, p.portal_id, object)
        .await?
        .properties)
}

/// Adds a custom property (Super Admins).
#[server(endpoint = "create_crm_property", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn create_crm_property(
    object: ObjectType,
    property: NewPropertyRequest,
) -> Result<PropertyDef, ApiError> {
    let p = super::ssr::super_admin().await?;
    let state = super::ssr::state()?;
    Ok(crate::hub::schema::create_property(&state.pool, p.portal_id, object, property).await?)
}

/// Deletes a custom property that no record uses (Super Admins).
#[server(endpoint = "delete_crm_property", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn delete_crm_property(object: ObjectType, name: String) -> Result<(), ApiError> {
    let p = super::ssr::super_admin().await?;
    let state = super::ssr::state()?;
    Ok(crate::hub::schema::delete_property(&state.pool, p.portal_id, object, &name).await?)
}
