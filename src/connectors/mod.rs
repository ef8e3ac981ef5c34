//! Connectors: one module per third-party app behind one trait. Connectors know nothing
//! of the hub; the engine knows them only through [`Connector`] and [`AppDefinition`].
//!
//! An [`AppDefinition`] is what Tandem knows about an app before any account is
//! connected (its listing, OAuth endpoints, webhook format); a [`Connector`] is one
//! connected account, with its tokens, rate limiter and HTTP client.

pub mod bottlecrm;
pub mod carddav;
pub mod demo;
pub mod error;
pub mod http;
pub mod hubspot;
mod rate_window;
pub mod registry;
pub mod types;
pub mod webhook;

pub use crate::model::AppListing;
pub use error::ConnectorError;
pub use registry::{app_definition, app_definitions, AppsConfig};
pub use types::*;

use async_trait::async_trait;
use std::sync::Arc;

pub type ConnectorResult<T> = Result<T, ConnectorError>;

/// Most records an app accepts in one batch write.
pub const BATCH_SIZE: usize = 100;

/// One connected account of an app: everything the engine asks of it.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connected account (id and display name).
    async fn identity(&self) -> ConnectorResult<AccountIdentity>;
    /// The app's objects and fields, with default mappings and identifiers.
    async fn objects(&self) -> ConnectorResult<Vec<AppObject>>;
    /// Every record of an object, page by page in a stable order; resumable by cursor.
    async fn list(
        &self,
        object: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> ConnectorResult<RecordPage>;
    /// Changes (including deletions) after a cursor; `None` starts from the beginning.
    async fn changes(
        &self,
        object: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> ConnectorResult<ChangePage>;
    /// The cursor of "now", to follow changes from here on.
    async fn latest_change_cursor(&self, object: &str) -> ConnectorResult<String>;
    /// Records by id; missing ones are left out.
    async fn read(&self, object: &str, ids: &[String]) -> ConnectorResult<Vec<AppRecord>>;
    /// Creates and updates, batched by the connector; one result per input, in order.
    async fn write(
        &self,
        object: &str,
        writes: Vec<RecordWrite>,
    ) -> ConnectorResult<Vec<WriteResult>>;
    async fn delete(&self, object: &str, id: &str) -> ConnectorResult<()>;
    /// Records whose identifier field (`email`, `domain`, `name`) equals `value`.
    async fn find(&self, object: &str, field: &str, value: &str)
        -> ConnectorResult<Vec<AppRecord>>;
    // What follows has defaults for apps without it (see [`Capabilities`]).

    /// Deal pipelines and their stages.
    async fn pipelines(&self) -> ConnectorResult<Vec<Pipeline>> {
        Ok(Vec::new())
    }
    /// Associates two records (`associated`), or removes their association.
    async fn set_associated(
        &self,
        _object: &str,
        _id: &str,
        _to: (&str, &str),
        _associated: bool,
    ) -> ConnectorResult<()> {
        Err(unsupported("associations"))
    }
    /// Engagement events after a cursor, for event sync.
    async fn events(&self, cursor: Option<&str>, _limit: usize) -> ConnectorResult<EventPage> {
        Ok(EventPage {
            events: Vec::new(),
            cursor: cursor.unwrap_or_default().to_string(),
            has_more: false,
        })
    }
    /// Subscribes `url` to every change; returns the app's subscription id.
    async fn subscribe_webhook(&self, _url: &str, _secret: &str) -> ConnectorResult<String> {
        Err(unsupported("webhooks"))
    }
    async fn unsubscribe_webhook(&self, _subscription_id: &str) -> ConnectorResult<()> {
        Ok(())
    }
}

fn unsupported(what: &str) -> ConnectorError {
    ConnectorError::Permanent {
        message: format!("this app has no {what}"),
    }
}

/// How a person connects an account of an app.
pub use crate::model::CredentialKind;

/// Where one connected account lives and who it is, stored with the connection (its
/// secrets are sealed apart): the endpoint the connector calls, the user name of HTTP
/// Basic, and what else the app told us at install (an `instance_url`, a chosen address
/// book).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extras: serde_json::Map<String, serde_json::Value>,
}

/// An account whose credentials an app accepted, ready to be stored; or, when the
/// credentials reach several collections (address books), the ones to pick from.
#[derive(Debug, Clone, PartialEq)]
pub enum Verified {
    Account {
        identity: AccountIdentity,
        settings: ConnectionSettings,
    },
    Choose(Vec<crate::model::InstallChoice>),
}

/// How an app tells Tandem about changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeNotices {
    /// Signed webhooks, with a periodic poll as the safety net.
    Webhooks,
    /// No notices: the engine polls the change feed this often.
    Polling(std::time::Duration),
}

/// What a connector can do; the engine adapts to it. `Default` is a full-featured app.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub change_notices: ChangeNotices,
    /// A retried create with the same idempotency key returns the first record. When
    /// `false`, the engine looks a pending create up by identifier (`find`) first.
    pub idempotent_creates: bool,
    /// Most records per batch write.
    pub batch_size: usize,
    pub associations: bool,
    pub events: bool,
    /// The app has a change feed ([`Connector::changes`], deletions included). Without
    /// one, each look at the app's changes compares its whole listing with what the
    /// sync knows: the changed records, and the missing ones as deletions.
    pub change_feed: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            change_notices: ChangeNotices::Webhooks,
            idempotent_creates: true,
            batch_size: BATCH_SIZE,
            associations: true,
            events: true,
            change_feed: true,
        }
    }
}

/// What Tandem knows of an app before an account is connected.
#[async_trait]
pub trait AppDefinition: Send + Sync {
    fn listing(&self) -> &AppListing;
    /// OAuth endpoints, for apps connected through OAuth 2.0.
    fn oauth(&self) -> Option<OAuthMetadata> {
        None
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    /// Credential apps: checks what a person entered with one real call to the app, and
    /// says which account it reaches. Nothing is stored here.
    async fn verify_credentials(
        &self,
        _input: &crate::model::CredentialInput,
    ) -> ConnectorResult<Verified> {
        Err(ConnectorError::Permanent {
            message: "this app is connected through OAuth, not with a password".into(),
        })
    }
    /// Verifies a webhook delivery's signature and timestamp, then parses its notices
    /// (some apps send several in one delivery).
    fn verify_webhook(
        &self,
        _secret: &str,
        _delivery: &webhook::WebhookDelivery<'_>,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<WebhookNotice>, webhook::WebhookRejection> {
        Err(webhook::WebhookRejection::Malformed(
            "this app sends no webhooks".into(),
        ))
    }
    /// A connector for one connected account.
    fn connect(
        &self,
        settings: &ConnectionSettings,
        tokens: Arc<dyn http::TokenSource>,
    ) -> Arc<dyn Connector>;
}
