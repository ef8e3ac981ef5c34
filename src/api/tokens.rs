//! Private app tokens (Settings → Private app tokens), Super Admins only.

use super::ApiError;
use crate::model::{ApiTokenView, CreatedApiToken};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(endpoint = "list_tokens", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_tokens() -> Result<Vec<ApiTokenView>, ApiError> {
    let p = super::ssr::super_admin().await?;
    let state = super::ssr::state()?;
    Ok(crate::platform::tokens::list(&state.pool, p.portal_id).await?)
}

/// Creates a token acting for the caller; the secret is in the answer and nowhere else.
#[server(endpoint = "create_token", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn create_token(name: String) -> Result<CreatedApiToken, ApiError> {
    let p = super::ssr::super_admin().await?;
    let state = super::ssr::state()?;
    crate::platform::tokens::create(&state.pool, p.portal_id, p.user_id, &name).await
}

#[server(endpoint = "revoke_token", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn revoke_token(id: Uuid) -> Result<(), ApiError> {
    let p = super::ssr::super_admin().await?;
    let state = super::ssr::state()?;
    crate::platform::tokens::revoke(&state.pool, p.portal_id, id).await
}
