//! Users of the portal.

use super::ApiError;
use crate::model::{Role, UserView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Every user of the caller's portal.
#[server(endpoint = "list_users", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_users() -> Result<Vec<UserView>, ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    Ok(crate::platform::users::list(&state.pool, p.portal_id).await?)
}

/// Adds a user to the caller's portal (Super Admins only).
#[server(endpoint = "create_user", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn create_user(
    email: String,
    name: String,
    password: String,
    role: Role,
) -> Result<UserView, ApiError> {
    let p = super::ssr::super_admin().await?;
    let state = super::ssr::state()?;
    let new = crate::platform::users::NewUser {
        email,
        name,
        password,
        role,
    };
    let id = crate::platform::users::create(&state.pool, p.portal_id, new).await?;
    crate::platform::users::list(&state.pool, p.portal_id)
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| ApiError::internal("created user not found"))
}
