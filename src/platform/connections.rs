//! Connected accounts: storage with tokens sealed at rest, the token source connectors
//! use (refreshing transparently, one refresher at a time), disconnecting.

use super::notifications::{notify_admins, NewNotification};
use super::secrets::{SecretKey, Slot};
use crate::connectors::http::TokenSource;
use crate::connectors::{
    registry, AppDefinition, ConnectionSettings, ConnectorError, CredentialKind, OAuthMetadata,
};
use crate::model::ApiError;
use crate::model::{ConnectionStatus, ConnectionView};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{ClientId, ClientSecret, RefreshToken, RequestTokenError, TokenResponse, TokenUrl};
use oauth2::{EndpointNotSet, EndpointSet, StandardRevocableToken};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// Tokens are refreshed this long before they expire, so a request never races expiry.
const REFRESH_MARGIN_SECS: i64 = 30;

pub fn status_from_db(s: &str) -> ConnectionStatus {
    match s {
        "connected" => ConnectionStatus::Connected,
        "needs_reconnect" => ConnectionStatus::NeedsReconnect,
        _ => ConnectionStatus::Disconnected,
    }
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: Uuid,
    app: String,
    account_id: String,
    account_name: String,
    status: String,
    status_message: Option<String>,
    connected_by: Option<String>,
    created_at: DateTime<Utc>,
}

const VIEW_SELECT: &str =
    "SELECT c.id, c.app, c.account_id, c.account_name, c.status, c.status_message,
        u.email AS connected_by, c.created_at
    FROM connections c LEFT JOIN users u ON u.id = c.connected_by";

fn to_view(r: ViewRow, public_url: &str) -> ConnectionView {
    let app_name = registry::listings()
        .into_iter()
        .find(|l| l.id == r.app)
        .map(|l| l.name)
        .unwrap_or_else(|| r.app.clone());
    ConnectionView {
        webhook_url: format!("{public_url}/webhooks/{}", r.id),
        id: r.id,
        app_name,
        app: r.app,
        account_id: r.account_id,
        account_name: r.account_name,
        status: status_from_db(&r.status),
        status_message: r.status_message,
        connected_by: r.connected_by.unwrap_or_else(|| "a removed user".into()),
        created_at: r.created_at,
    }
}

pub async fn list(
    pool: &PgPool,
    portal_id: Uuid,
    public_url: &str,
) -> sqlx::Result<Vec<ConnectionView>> {
    let rows: Vec<ViewRow> = sqlx::query_as(&format!(
        "{VIEW_SELECT} WHERE c.portal_id = $1 ORDER BY c.app, c.created_at"
    ))
    .bind(portal_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| to_view(r, public_url)).collect())
}

/// One connection of the portal; another portal's id is "not found".
pub async fn get(
    pool: &PgPool,
    portal_id: Uuid,
    id: Uuid,
    public_url: &str,
) -> Result<ConnectionView, ApiError> {
    let row: Option<ViewRow> = sqlx::query_as(&format!(
        "{VIEW_SELECT} WHERE c.portal_id = $1 AND c.id = $2"
    ))
    .bind(portal_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| to_view(r, public_url))
        .ok_or_else(|| ApiError::not_found("The connection"))
}

pub struct NewConnection<'a> {
    pub portal_id: Uuid,
    pub app: &'a str,
    pub account_id: &'a str,
    pub account_name: &'a str,
    pub credential: CredentialKind,
    pub settings: &'a ConnectionSettings,
    /// The OAuth access token, or the password or API key of a credential app.
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub connected_by: Uuid,
}

/// Where a connection's sealed `column` lives: tokens are bound to their row.
fn slot(column: &str, id: Uuid) -> Slot {
    Slot::new("connections", column, id)
}

/// Stores a freshly authorised account; connecting the same external account again
/// updates its tokens instead of adding a second connection. Returns (id, is_new).
pub async fn upsert(
    pool: &PgPool,
    key: &SecretKey,
    c: NewConnection<'_>,
) -> anyhow::Result<(Uuid, bool)> {
    let mut tx = pool.begin().await?;
    // The row first: its id is part of what the tokens are sealed with.
    let (id, inserted): (Uuid, bool) = sqlx::query_as(
        "INSERT INTO connections (portal_id, app, account_id, account_name, token_expires_at,
             scopes, connected_by, credential_kind, settings)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (portal_id, app, account_id) DO UPDATE SET
             account_name = EXCLUDED.account_name,
             token_expires_at = EXCLUDED.token_expires_at,
             scopes = EXCLUDED.scopes,
             credential_kind = EXCLUDED.credential_kind, settings = EXCLUDED.settings,
             status = 'connected', status_message = NULL, updated_at = now()
         RETURNING id, (xmax = 0) AS inserted",
    )
    .bind(c.portal_id)
    .bind(c.app)
    .bind(c.account_id)
    .bind(c.account_name)
    .bind(c.expires_at)
    .bind(&c.scopes)
    .bind(c.connected_by)
    .bind(c.credential)
    .bind(sqlx::types::Json(c.settings))
    .fetch_one(&mut *tx)
    .await?;
    let access = key.encrypt(c.access_token, &slot("access_token_enc", id))?;
    let refresh = c
        .refresh_token
        .map(|t| key.encrypt(t, &slot("refresh_token_enc", id)))
        .transpose()?;
    sqlx::query(
        "UPDATE connections SET access_token_enc = $2, refresh_token_enc = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(access)
    .bind(refresh)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, inserted))
}

pub async fn set_webhook(
    pool: &PgPool,
    key: &SecretKey,
    id: Uuid,
    subscription_id: Option<&str>,
    secret: Option<&str>,
) -> anyhow::Result<()> {
    let sealed = secret
        .map(|s| key.encrypt(s, &slot("webhook_secret_enc", id)))
        .transpose()?;
    sqlx::query(
        "UPDATE connections SET webhook_subscription_id = $2, webhook_secret_enc = $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(subscription_id)
    .bind(sealed)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_status(
    pool: &PgPool,
    id: Uuid,
    status: ConnectionStatus,
    message: Option<&str>,
) -> sqlx::Result<()> {
    let status = match status {
        ConnectionStatus::Connected => "connected",
        ConnectionStatus::NeedsReconnect => "needs_reconnect",
        ConnectionStatus::Disconnected => "disconnected",
    };
    sqlx::query(
        "UPDATE connections SET status = $2, status_message = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(message)
    .execute(pool)
    .await?;
    Ok(())
}

/// What the webhook receiver needs of a connection.
pub struct WebhookTarget {
    pub portal_id: Uuid,
    pub app: String,
    pub secret: Option<String>,
    pub status: ConnectionStatus,
}

pub async fn webhook_target(
    pool: &PgPool,
    key: &SecretKey,
    id: Uuid,
) -> anyhow::Result<Option<WebhookTarget>> {
    let row: Option<(Uuid, String, Option<String>, String)> = sqlx::query_as(
        "SELECT portal_id, app, webhook_secret_enc, status FROM connections WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|(portal_id, app, secret, status)| {
        Ok(WebhookTarget {
            portal_id,
            app,
            secret: secret
                .map(|s| key.decrypt(&s, &slot("webhook_secret_enc", id)))
                .transpose()?,
            status: status_from_db(&status),
        })
    })
    .transpose()
}

/// What a token endpoint answers beyond the standard fields (an `instance_url`, an
/// account id, …): kept in the connection's settings, where its connector finds them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenExtras {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl oauth2::ExtraTokenFields for TokenExtras {}

pub type TokenAnswer = oauth2::StandardTokenResponse<TokenExtras, BasicTokenType>;

/// An OAuth client whose token answers keep their extra fields.
pub type OAuthClient<HasAuthUrl = EndpointNotSet> = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The settings a token answer gives a connection: its extras, and the endpoint when it
/// names one (`instance_url`, as Salesforce-style apps answer).
pub fn settings_from_token(extras: &TokenExtras) -> ConnectionSettings {
    ConnectionSettings {
        base_url: extras
            .fields
            .get("instance_url")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        username: None,
        extras: extras.fields.clone(),
    }
}

/// The OAuth client for an app's token endpoint (refresh and exchange).
pub fn token_client(meta: &OAuthMetadata) -> anyhow::Result<OAuthClient> {
    // A client with no endpoint set yet: `set_token_uri` below makes it an `OAuthClient`.
    type Unset = oauth2::Client<
        BasicErrorResponse,
        TokenAnswer,
        BasicTokenIntrospectionResponse,
        StandardRevocableToken,
        BasicRevocationErrorResponse,
    >;
    Ok(Unset::new(ClientId::new(meta.client_id.clone()))
        .set_client_secret(ClientSecret::new(meta.client_secret.clone()))
        .set_token_uri(TokenUrl::new(meta.token_url.clone())?))
}

/// A client that never follows redirects: token endpoints must answer directly (and
/// following them would be an SSRF vector).
pub fn oauth_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap_or_default()
}

/// The access token of one connection, refreshed when it is (about to be) expired or
/// refused. Refreshes hold the connection row's lock, so two workers never both spend the
/// same rotating refresh token (the app would revoke the grant as a replay). A password
/// or API key (no `oauth`) cannot be refreshed: refused, the connection needs a person.
pub struct ConnectionTokens {
    pub pool: PgPool,
    pub key: SecretKey,
    pub connection_id: Uuid,
    pub oauth: Option<OAuthMetadata>,
}

impl ConnectionTokens {
    async fn mark_needs_reconnect(&self, message: &str) {
        let _ = set_status(
            &self.pool,
            self.connection_id,
            ConnectionStatus::NeedsReconnect,
            Some(message),
        )
        .await;
        let row: Option<(Uuid, String, String)> =
            sqlx::query_as("SELECT portal_id, app, account_name FROM connections WHERE id = $1")
                .bind(self.connection_id)
                .fetch_optional(&self.pool)
                .await
                .ok()
                .flatten();
        if let Some((portal_id, app, account)) = row {
            let title = format!("{account} needs reconnecting");
            let body = format!(
                "Tandem can no longer reach this account ({message}). Its syncs are paused until you reconnect it."
            );
            let link = format!("/settings/integrations/connected-apps/{app}");
            let _ = notify_admins(
                &self.pool,
                portal_id,
                NewNotification {
                    kind: "reconnect_needed",
                    title: &title,
                    body: &body,
                    link: Some(&link),
                },
            )
            .await;
        }
    }
}

#[async_trait]
impl TokenSource for ConnectionTokens {
    async fn access_token(&self) -> Result<String, ConnectorError> {
        let row: Option<(String, Option<String>, Option<DateTime<Utc>>, Option<String>)> = sqlx::query_as(
            "SELECT status, access_token_enc, token_expires_at, status_message FROM connections WHERE id = $1",
        )
        .bind(self.connection_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ConnectorError::Transient { message: format!("database: {e}") })?;
        let Some((status, Some(sealed), expires_at, message)) = row else {
            return Err(ConnectorError::ReconnectNeeded {
                message: "the connection has no access token".into(),
            });
        };
        if status != "connected" {
            return Err(ConnectorError::ReconnectNeeded {
                message: message.unwrap_or_else(|| "the connection is not active".into()),
            });
        }
        let token = self
            .key
            .decrypt(&sealed, &slot("access_token_enc", self.connection_id))
            .map_err(|e| ConnectorError::Permanent {
                message: e.to_string(),
            })?;
        match expires_at {
            Some(at) if at <= Utc::now() + chrono::Duration::seconds(REFRESH_MARGIN_SECS) => {
                self.refresh(&token).await
            }
            _ => Ok(token),
        }
    }

    async fn refresh(&self, rejected: &str) -> Result<String, ConnectorError> {
        let Some(oauth) = &self.oauth else {
            let message = "the app no longer accepts the saved password or key";
            self.mark_needs_reconnect(message).await;
            return Err(ConnectorError::ReconnectNeeded {
                message: message.into(),
            });
        };
        let db = |e: sqlx::Error| ConnectorError::Transient {
            message: format!("database: {e}"),
        };
        let sealed_err = |e: anyhow::Error| ConnectorError::Permanent {
            message: e.to_string(),
        };
        let mut tx = self.pool.begin().await.map_err(db)?;
        let (access, refresh): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT access_token_enc, refresh_token_enc FROM connections WHERE id = $1 FOR UPDATE",
        )
        .bind(self.connection_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let current = access
            .map(|a| {
                self.key
                    .decrypt(&a, &slot("access_token_enc", self.connection_id))
            })
            .transpose()
            .map_err(sealed_err)?;
        // Someone refreshed while we waited for the lock: use their token.
        if let Some(current) = current.filter(|c| c != rejected) {
            return Ok(current);
        }
        let Some(refresh) = refresh
            .map(|r| {
                self.key
                    .decrypt(&r, &slot("refresh_token_enc", self.connection_id))
            })
            .transpose()
            .map_err(sealed_err)?
        else {
            drop(tx);
            self.mark_needs_reconnect("the app gave no refresh token")
                .await;
            return Err(ConnectorError::ReconnectNeeded {
                message: "no refresh token".into(),
            });
        };
        let client = token_client(oauth).map_err(sealed_err)?;
        let answer = client
            .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
            .request_async(&oauth_http_client())
            .await;
        let token = match answer {
            Ok(t) => t,
            Err(RequestTokenError::ServerResponse(r))
                if matches!(
                    r.error(),
                    BasicErrorResponseType::InvalidGrant
                        | BasicErrorResponseType::UnauthorizedClient
                ) =>
            {
                drop(tx);
                let message = "the app revoked Tandem's access (refresh refused)";
                self.mark_needs_reconnect(message).await;
                return Err(ConnectorError::ReconnectNeeded {
                    message: message.into(),
                });
            }
            Err(e) => {
                return Err(ConnectorError::Transient {
                    message: format!("refreshing the access token failed: {e}"),
                })
            }
        };
        let new_access = token.access_token().secret().clone();
        // Rotating apps send a new refresh token; others keep the old one valid.
        let new_refresh = token
            .refresh_token()
            .map(|r| r.secret().clone())
            .unwrap_or(refresh);
        let expires_at = token
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| Utc::now() + d);
        sqlx::query(
            "UPDATE connections SET access_token_enc = $2, refresh_token_enc = $3, token_expires_at = $4,
                 updated_at = now() WHERE id = $1",
        )
        .bind(self.connection_id)
        .bind(
            self.key
                .encrypt(&new_access, &slot("access_token_enc", self.connection_id))
                .map_err(sealed_err)?,
        )
        .bind(
            self.key
                .encrypt(&new_refresh, &slot("refresh_token_enc", self.connection_id))
                .map_err(sealed_err)?,
        )
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(new_access)
    }
}

/// A connector for a stored connection, with its settings and credentials.
pub async fn connector_for(
    pool: &PgPool,
    key: &SecretKey,
    app: &Arc<dyn AppDefinition>,
    connection_id: Uuid,
) -> Result<Arc<dyn crate::connectors::Connector>, ApiError> {
    let (kind, settings): (CredentialKind, sqlx::types::Json<ConnectionSettings>) =
        sqlx::query_as("SELECT credential_kind, settings FROM connections WHERE id = $1")
            .bind(connection_id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| ApiError::not_found("The connection"))?;
    let oauth = match kind {
        CredentialKind::Oauth2 => Some(app.oauth().ok_or_else(|| {
            ApiError::bad_request("This app cannot be connected in this version of Tandem.")
        })?),
        CredentialKind::Basic | CredentialKind::ApiKey => None,
    };
    let tokens = ConnectionTokens {
        pool: pool.clone(),
        key: key.clone(),
        connection_id,
        oauth,
    };
    Ok(app.connect(&settings.0, Arc::new(tokens)))
}

/// Sealed secrets of a connection, for revocation at disconnect.
pub async fn sealed_tokens(
    pool: &PgPool,
    key: &SecretKey,
    id: Uuid,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let (a, r): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT access_token_enc, refresh_token_enc FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?;
    Ok((
        a.map(|s| key.decrypt(&s, &slot("access_token_enc", id)))
            .transpose()?,
        r.map(|s| key.decrypt(&s, &slot("refresh_token_enc", id)))
            .transpose()?,
    ))
}

/// Forgets the tokens of a disconnected account; its row (and its syncs' history) stays.
pub async fn clear_tokens(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections SET access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL,
             webhook_secret_enc = NULL, webhook_subscription_id = NULL, status = 'disconnected',
             status_message = 'Disconnected by a user', updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn webhook_subscription(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT webhook_subscription_id FROM connections WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}
