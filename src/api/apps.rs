//! The marketplace and connected apps: listings, connections, install and disconnect.

use super::ApiError;
use crate::model::{
    AppListing, ConnectedApp, ConnectionView, CredentialInput, CredentialInstall, InstallStart,
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

/// Every app of the marketplace (installable or planned).
#[server(endpoint = "list_apps", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_apps() -> Result<Vec<AppListing>, ApiError> {
    super::ssr::principal().await?;
    Ok(crate::connectors::registry::listings())
}

/// The apps with at least one account connected to this portal, with their accounts.
#[server(endpoint = "list_connections", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn list_connections() -> Result<Vec<ConnectedApp>, ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    let all =
        crate::platform::connections::list(&state.pool, p.portal_id, &state.config.public_url)
            .await?;
    Ok(crate::connectors::registry::listings()
        .into_iter()
        .filter_map(|listing| {
            let connections: Vec<ConnectionView> = all
                .iter()
                .filter(|c| c.app == listing.id)
                .cloned()
                .collect();
            (!connections.is_empty()).then_some(ConnectedApp {
                listing,
                connections,
            })
        })
        .collect())
}

/// One app's listing with the accounts connected to this portal (possibly none).
#[server(endpoint = "app_connections", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn app_connections(app: String) -> Result<ConnectedApp, ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    let listing = crate::connectors::registry::listings()
        .into_iter()
        .find(|l| l.id == app)
        .ok_or_else(|| ApiError::not_found("The app"))?;
    let connections =
        crate::platform::connections::list(&state.pool, p.portal_id, &state.config.public_url)
            .await?
            .into_iter()
            .filter(|c| c.app == app)
            .collect();
    Ok(ConnectedApp {
        listing,
        connections,
    })
}

#[server(endpoint = "connection_status", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn connection_status(id: Uuid) -> Result<ConnectionView, ApiError> {
    let p = super::ssr::principal().await?;
    let state = super::ssr::state()?;
    crate::platform::connections::get(&state.pool, p.portal_id, id, &state.config.public_url).await
}

/// Installs an app connected with credentials (CardDAV: `url`, `username`, `secret`).
/// The app checks them first; nothing is stored when it refuses. When they reach several
/// address books the answer is `{"outcome":"choose","choices":[…]}`: call again with
/// `choice` set to one of their ids.
#[server(endpoint = "install_with_credentials", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn install_with_credentials(
    app: String,
    input: CredentialInput,
) -> Result<CredentialInstall, ApiError> {
    let (p, state) = (super::ssr::app_manager().await?, super::ssr::state()?);
    crate::platform::install::install_with_credentials(&state, &p, &app, &input).await
}

/// Starts an install: returns the app's authorization URL. Open it in a browser, sign in
/// to the app and choose Allow; the app sends the browser back to Tandem, which finishes
/// the install for the user who started it.
#[server(endpoint = "start_install", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn start_install(app: String) -> Result<InstallStart, ApiError> {
    let p = super::ssr::app_manager().await?;
    let state = super::ssr::state()?;
    crate::platform::install::start(&state, &p, &app).await
}

/// Revokes the account's tokens, removes its webhook, turns its syncs off; history stays.
#[server(endpoint = "disconnect", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn disconnect(id: Uuid) -> Result<(), ApiError> {
    let p = super::ssr::app_manager().await?;
    let state = super::ssr::state()?;
    crate::platform::install::disconnect(&state, &p, id).await?;
    crate::engine::definition::turn_off_for_connection(&state.pool, id).await?;
    Ok(())
}
