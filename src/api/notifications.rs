//! The notification centre.

use super::ApiError;
use crate::model::NotificationList;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(endpoint = "list_notifications", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_notifications() -> Result<NotificationList, ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    Ok(crate::platform::notifications::list(&state.pool, p.user_id, 50).await?)
}

#[server(endpoint = "mark_notifications_read", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn mark_notifications_read() -> Result<(), ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    Ok(crate::platform::notifications::mark_all_read(&state.pool, p.user_id).await?)
}
