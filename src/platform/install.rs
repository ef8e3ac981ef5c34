//! Installing an app: the OAuth 2.0 authorization-code flow with PKCE S256 and a random,
//! single-use `state` bound to the user who started it, expiring after ten minutes.
//! The callback exchanges the code, reads the account's identity, stores the connection
//! (tokens sealed) and subscribes Tandem's webhook endpoint. Disconnecting revokes.

use super::auth::Principal;
use super::connections::{self, oauth_http_client, token_client, NewConnection};
use super::secrets::Slot;
use super::AppState;
use crate::connectors::http::StaticToken;
use crate::connectors::{registry, AppDefinition, ConnectorError, CredentialKind, Verified};
use crate::model::ApiError;
use crate::model::{
    ConnectionStatus, CredentialInput, CredentialInstall, FieldError, InstallStart,
};
use chrono::{Duration, Utc};
use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use rand::distributions::{Alphanumeric, DistString};
use std::sync::Arc;
use uuid::Uuid;

pub const STATE_TTL_MINUTES: i64 = 10;

pub fn callback_url(state: &AppState) -> String {
    format!("{}/oauth/callback", state.config.public_url)
}

fn verifier_slot(state_hash: &str) -> Slot {
    Slot::new("oauth_states", "pkce_verifier_enc", state_hash)
}

fn installable(state: &AppState, app: &str) -> Result<Arc<dyn AppDefinition>, ApiError> {
    registry::app_definition(&state.config.apps, app)
        .filter(|d| d.oauth().is_some())
        .ok_or_else(|| {
            let listing = registry::listings().into_iter().find(|l| l.id == app);
            if let Some(l) = listing.as_ref().filter(|l| l.available && l.oauth) {
                ApiError::bad_request(format!(
                    "Signing in to {} is not set up on this Tandem server.",
                    l.name
                ))
                .with_hint("Install it with an access token from its Marketplace page, or ask the server's administrator to register Tandem's OAuth app there (see the README: TANDEM_HUBSPOT_CLIENT_ID and TANDEM_HUBSPOT_CLIENT_SECRET).")
            } else if listing.is_some() {
                ApiError::bad_request(
                    "This app is listed but cannot be installed in this version of Tandem.",
                )
            } else {
                ApiError::not_found("The app")
            }
        })
}

/// Creates a pending install and the authorization URL to send the user to.
pub async fn start(state: &AppState, who: &Principal, app: &str) -> Result<InstallStart, ApiError> {
    let def = installable(state, app)?;
    let meta = def
        .oauth()
        .ok_or_else(|| ApiError::internal("installable app without OAuth"))?;
    let client = token_client(&meta)
        .map_err(ApiError::internal)?
        .set_auth_uri(AuthUrl::new(meta.authorize_url.clone()).map_err(ApiError::internal)?)
        .set_redirect_uri(RedirectUrl::new(callback_url(state)).map_err(ApiError::internal)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(meta.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    let expires_at = Utc::now() + Duration::minutes(STATE_TTL_MINUTES);
    let state_hash = super::tokens::hash(csrf.secret());
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, portal_id, user_id, app, pkce_verifier_enc, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&state_hash)
    .bind(who.portal_id)
    .bind(who.user_id)
    .bind(app)
    .bind(
        state
            .secret_key
            .encrypt(verifier.secret(), &verifier_slot(&state_hash))?,
    )
    .bind(expires_at)
    .execute(&state.pool)
    .await?;
    Ok(InstallStart {
        authorization_url: url.to_string(),
        state: csrf.secret().clone(),
        expires_at,
    })
}

/// Why an install did not complete: shown on a page, nothing stored.
#[derive(Debug)]
pub struct InstallFailure {
    pub title: String,
    pub message: String,
    pub hint: String,
    pub status: u16,
}

fn failure(status: u16, title: &str, message: impl Into<String>, hint: &str) -> InstallFailure {
    InstallFailure {
        title: title.into(),
        message: message.into(),
        hint: hint.into(),
        status,
    }
}

const RESTART: &str = "Start the install again from the Marketplace.";

fn internal(e: &dyn std::fmt::Display) -> InstallFailure {
    tracing::error!(error = %e, "install failed");
    failure(
        500,
        "Install failed",
        "Something went wrong on our side while finishing the install.",
        RESTART,
    )
}

/// The install a callback names, unless it is unknown, already used or too old.
fn live<T>(row: Option<T>, expired: fn(&T) -> bool) -> Result<T, InstallFailure> {
    match row {
        None => Err(failure(
            400,
            "Install not recognised",
            "This answer from the app does not match an install started here (state mismatch), or it was already used.",
            RESTART,
        )),
        Some(r) if expired(&r) => Err(failure(
            400,
            "Install expired",
            format!("The install was started more than {STATE_TTL_MINUTES} minutes ago."),
            RESTART,
        )),
        Some(r) => Ok(r),
    }
}

pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// An install whose callback reached a browser without a Tandem session: whoever
/// approved at the app may not be the person who started it, so nothing is attached
/// until that person, signed in in this browser, finishes it. What the confirmation
/// page names.
pub struct PendingInstall {
    pub app_name: String,
    pub portal_name: String,
    pub started_by_name: String,
    pub started_by_email: String,
}

/// Looks an install's state up without consuming it (see [`PendingInstall`]).
pub async fn pending(state: &AppState, raw_state: &str) -> Result<PendingInstall, InstallFailure> {
    let row: Option<(String, String, String, String, bool)> = sqlx::query_as(
        "SELECT o.app, p.name, u.name, u.email, o.expires_at < now()
         FROM oauth_states o JOIN portals p ON p.id = o.portal_id JOIN users u ON u.id = o.user_id
         WHERE o.state_hash = $1 AND o.used_at IS NULL",
    )
    .bind(super::tokens::hash(raw_state))
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal(&e))?;
    let (app, portal_name, started_by_name, started_by_email, _) = live(row, |r| r.4)?;
    let app_name = registry::listings()
        .into_iter()
        .find(|l| l.id == app)
        .map(|l| l.name)
        .unwrap_or(app);
    Ok(PendingInstall {
        app_name,
        portal_name,
        started_by_name,
        started_by_email,
    })
}

pub struct Installed {
    pub app: String,
    pub connection_id: Uuid,
    pub reconnected: bool,
}

/// Completes an install. `caller` is the signed-in user of the browser, if any: a
/// different user than the one who started the install is refused.
pub async fn complete(
    state: &AppState,
    caller: Option<&Principal>,
    p: CallbackParams,
) -> Result<Installed, InstallFailure> {
    let Some(raw_state) = p.state.filter(|s| !s.is_empty()) else {
        return Err(failure(
            400,
            "Install not recognised",
            "The app sent us back without the install's state.",
            RESTART,
        ));
    };
    let state_hash = super::tokens::hash(&raw_state);
    // Single use: the state is consumed by the first callback that presents it.
    let row: Option<(Uuid, Uuid, String, String, bool)> = sqlx::query_as(
        "UPDATE oauth_states SET used_at = now()
         WHERE state_hash = $1 AND used_at IS NULL
         RETURNING portal_id, user_id, app, pkce_verifier_enc, expires_at < now()",
    )
    .bind(&state_hash)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal(&e))?;
    let (portal_id, user_id, app, sealed_verifier, _) = live(row, |r| r.4)?;
    if let Some(c) = caller {
        if c.user_id != user_id {
            return Err(failure(
                403,
                "Install started by someone else",
                "You are signed in as a different user than the one who started this install.",
                "Sign in as that user, or start your own install from the Marketplace.",
            ));
        }
    }
    let def = registry::app_definition(&state.config.apps, &app).ok_or_else(|| {
        failure(
            400,
            "App not available",
            "This app cannot be installed here.",
            RESTART,
        )
    })?;
    let name = def.listing().name.clone();
    if let Some(error) = p.error {
        let detail = p
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(if error == "access_denied" {
            failure(
                400,
                "Access denied",
                format!("You chose Deny on {name}'s consent page{detail}. Nothing was connected."),
                "To connect it, install again and choose Allow.",
            )
        } else {
            failure(
                400,
                "The app refused the install",
                format!("{name} answered `{error}`{detail}. Nothing was connected."),
                RESTART,
            )
        });
    }
    let Some(code) = p.code else {
        return Err(failure(
            400,
            "Install incomplete",
            format!("{name} sent us back without an authorization code."),
            RESTART,
        ));
    };
    let meta = def.oauth().ok_or_else(|| internal(&"app without OAuth"))?;
    let verifier = state
        .secret_key
        .decrypt(&sealed_verifier, &verifier_slot(&state_hash))
        .map_err(|e| internal(&e))?;
    let client = token_client(&meta)
        .map_err(|e| internal(&e))?
        .set_redirect_uri(RedirectUrl::new(callback_url(state)).map_err(|e| internal(&e))?);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&oauth_http_client())
        .await
        .map_err(|e| {
            failure(
                502,
                "Could not finish the install",
                format!("{name} refused to exchange the authorization code for tokens: {e}. Nothing was connected."),
                RESTART,
            )
        })?;
    let access = token.access_token().secret().clone();
    let settings = connections::settings_from_token(token.extra_fields());
    let identity = def
        .connect(&settings, Arc::new(StaticToken(access.clone())))
        .identity()
        .await
        .map_err(|e| {
            failure(
                502,
                "Could not read the account",
                format!("{name} did not tell us which account was connected: {e}"),
                RESTART,
            )
        })?;
    let (connection_id, is_new) = connections::upsert(
        &state.pool,
        &state.secret_key,
        NewConnection {
            portal_id,
            app: &app,
            account_id: &identity.id,
            account_name: &identity.name,
            credential: CredentialKind::Oauth2,
            settings: &settings,
            access_token: &access,
            refresh_token: token.refresh_token().map(|r| r.secret().as_str()),
            expires_at: token
                .expires_in()
                .and_then(|d| Duration::from_std(d).ok())
                .map(|d| Utc::now() + d),
            scopes: meta.scopes.clone(),
            connected_by: user_id,
        },
    )
    .await
    .map_err(|e| internal(&e))?;
    subscribe_webhook(state, &def, connection_id).await;
    Ok(Installed {
        app,
        connection_id,
        reconnected: !is_new,
    })
}

/// Connects an app reached with credentials instead of OAuth (a CardDAV address book):
/// the app checks them with one real call first, and nothing is stored unless it
/// accepted them. When they reach several address books, the answer lists them, and the
/// same call with `choice` set connects the chosen one.
pub async fn install_with_credentials(
    state: &AppState,
    who: &Principal,
    app: &str,
    input: &CredentialInput,
) -> Result<CredentialInstall, ApiError> {
    let def = registry::app_definition(&state.config.apps, app)
        .filter(|d| d.listing().credential != CredentialKind::Oauth2)
        .ok_or_else(|| match registry::app_definition(&state.config.apps, app) {
            Some(_) => ApiError::bad_request(
                "This app is installed through its sign-in page (OAuth), not with a password.",
            )
            .with_hint("Use the Install button on its Marketplace page."),
            None => ApiError::not_found("The app"),
        })?;
    let kind = def.listing().credential;
    let mut missing = Vec::new();
    // An API key's address may be left empty for the app's own.
    if kind == CredentialKind::Basic && input.url.trim().is_empty() {
        missing.push(FieldError {
            field: "url".into(),
            message: "Enter the server's address, e.g. https://dav.example.com/".into(),
        });
    }
    if kind == CredentialKind::Basic && input.username.trim().is_empty() {
        missing.push(FieldError {
            field: "username".into(),
            message: "Enter the user name you sign in to the server with.".into(),
        });
    }
    if input.secret.trim().is_empty() {
        missing.push(FieldError {
            field: "secret".into(),
            message: match kind {
                CredentialKind::ApiKey => {
                    "Enter the access token (an API key or private app token)."
                }
                _ => "Enter the password (or app password).",
            }
            .into(),
        });
    }
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    let name = def.listing().name.clone();
    let (identity, settings) = match def.verify_credentials(input).await {
        Ok(Verified::Account { identity, settings }) => (identity, settings),
        Ok(Verified::Choose(choices)) => return Ok(CredentialInstall::Choose { choices }),
        Err(e) => return Err(refused_credentials(&name, kind, input.url.trim(), e)),
    };
    let (connection_id, is_new) = connections::upsert(
        &state.pool,
        &state.secret_key,
        NewConnection {
            portal_id: who.portal_id,
            app,
            account_id: &identity.id,
            account_name: &identity.name,
            credential: kind,
            settings: &settings,
            access_token: &input.secret,
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
            connected_by: who.user_id,
        },
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(CredentialInstall::Connected {
        connection_id,
        reconnected: !is_new,
    })
}

/// What a person is told when the app did not accept the credentials: which field to
/// look at and what to try.
fn refused_credentials(app: &str, kind: CredentialKind, url: &str, e: ConnectorError) -> ApiError {
    let url = if url.is_empty() { app } else { url };
    match e {
        ConnectorError::AuthExpired | ConnectorError::ReconnectNeeded { .. }
            if kind == CredentialKind::ApiKey =>
        {
            ApiError::field("secret", format!("{app} refused this access token. Nothing was connected."))
                .with_hint("Copy the token again from the app (for HubSpot: Settings → Integrations → Private apps → your app → Auth); it may have been rotated or deleted.")
        }
        ConnectorError::Permission { message } if kind == CredentialKind::ApiKey => ApiError::field(
            "secret",
            format!("{app} accepted the token but refused access ({message}). Nothing was connected."),
        )
        .with_hint("Give the app's token the read and write scopes of contacts, companies and deals (and their schemas), then try again."),
        ConnectorError::AuthExpired | ConnectorError::ReconnectNeeded { .. } => ApiError::field(
            "secret",
            format!("{app} refused this user name and password. Nothing was connected."),
        )
        .with_hint("Check both. Servers with two-step sign-in (iCloud, Fastmail, Nextcloud) need an app password created in their security settings."),
        ConnectorError::Transient { message } => ApiError {
            fields: vec![FieldError { field: "url".into(), message: "Not reachable.".into() }],
            ..ApiError::new(
                502,
                "app_unavailable",
                format!("Tandem could not reach {url} ({message}). Nothing was connected."),
            )
            .with_hint("Check the address, and that the server is running and reachable from the machine Tandem runs on.")
        },
        ConnectorError::Permission { message } => ApiError::field(
            "username",
            format!("The server let this user in but refused access ({message}). Nothing was connected."),
        ),
        other => ApiError::field("url", format!("{}. Nothing was connected.", crate::model::capitalised(&other.to_string())))
            .with_hint(match kind {
                CredentialKind::ApiKey => "Leave the API address empty for the app's own, or enter the base URL of its API (for another Tandem hub: its address, e.g. https://tandem.example.com/api).",
                _ => "Enter the server's CardDAV address: for Nextcloud https://host/remote.php/dav, for Radicale https://host:5232/, or the address book's own URL.",
            }),
    }
}

/// Subscribes `/webhooks/{id}` with a fresh secret (replacing an older subscription). A
/// failure leaves the connection usable: the periodic poll still finds every change.
async fn subscribe_webhook(state: &AppState, def: &Arc<dyn AppDefinition>, connection_id: Uuid) {
    let Ok(connector) =
        connections::connector_for(&state.pool, &state.secret_key, def, connection_id).await
    else {
        return;
    };
    if let Ok(Some(old)) = connections::webhook_subscription(&state.pool, connection_id).await {
        let _ = connector.unsubscribe_webhook(&old).await;
    }
    let secret = Alphanumeric.sample_string(&mut rand::thread_rng(), 40);
    let url = format!("{}/webhooks/{connection_id}", state.config.public_url);
    let outcome = match connector.subscribe_webhook(&url, &secret).await {
        Ok(id) => connections::set_webhook(
            &state.pool,
            &state.secret_key,
            connection_id,
            Some(&id),
            Some(&secret),
        )
        .await
        .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = outcome {
        tracing::warn!(%connection_id, error = %e, "webhook subscription failed");
        let _ = connections::set_status(
            &state.pool,
            connection_id,
            ConnectionStatus::Connected,
            Some(&format!("Webhooks could not be set up ({e}); changes are picked up by the periodic poll instead.")),
        )
        .await;
    }
}

/// Revokes the tokens at the app, removes the webhook and keeps the connection's row
/// (and so its syncs' history) as *disconnected*. Its syncs are the engine's to turn off.
pub async fn disconnect(
    state: &AppState,
    who: &Principal,
    connection_id: Uuid,
) -> Result<(), ApiError> {
    let view = connections::get(
        &state.pool,
        who.portal_id,
        connection_id,
        &state.config.public_url,
    )
    .await?;
    if let Some(def) = registry::app_definition(&state.config.apps, &view.app) {
        if view.status == ConnectionStatus::Connected {
            if let Ok(connector) =
                connections::connector_for(&state.pool, &state.secret_key, &def, connection_id)
                    .await
            {
                if let Ok(Some(sub)) =
                    connections::webhook_subscription(&state.pool, connection_id).await
                {
                    let _ = connector.unsubscribe_webhook(&sub).await;
                }
            }
        }
        if let (Some(meta), Ok((access, refresh))) = (
            def.oauth(),
            connections::sealed_tokens(&state.pool, &state.secret_key, connection_id).await,
        ) {
            if let Some(url) = meta.revoke_url {
                for token in [refresh, access].into_iter().flatten() {
                    let _ = oauth_http_client()
                        .post(&url)
                        .basic_auth(&meta.client_id, Some(&meta.client_secret))
                        .form(&[("token", token.as_str())])
                        .send()
                        .await;
                }
            }
        }
    }
    connections::clear_tokens(&state.pool, connection_id).await?;
    Ok(())
}
