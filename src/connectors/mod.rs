//! Connectors: one module per third-party app behind one trait. Connectors know nothing
//! of the hub; the engine knows them only through [`Connector`] and [`AppDefinition`].
//!
//! An [`AppDefinition`] is what Tandem knows about an app before any account is
//! connected (its listing, OAuth endpoints, webhook format); a [`Connector`] is one
//! connected account, with its tokens, rate limiter and HTTP client.

pub mod demo;
pub mod error;
pub mod http;
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
    async fn pipelines(&self) -> ConnectorResult<Vec<Pipeline>>;
    async fn associate(
        &self,
        object: &str,
        id: &str,
        to_object: &str,
        to_id: &str,
    ) -> ConnectorResult<()>;
    async fn dissociate(
        &self,
        object: &str,
        id: &str,
        to_object: &str,
        to_id: &str,
    ) -> ConnectorResult<()>;
    /// Engagement events after a cursor, for event sync.
    async fn events(&self, cursor: Option<&str>, limit: usize) -> ConnectorResult<EventPage>;
    /// Subscribes `url` to every change; returns the app's subscription id.
    async fn subscribe_webhook(&self, url: &str, secret: &str) -> ConnectorResult<String>;
    async fn unsubscribe_webhook(&self, subscription_id: &str) -> ConnectorResult<()>;
}

/// What Tandem knows of an app before an account is connected.
pub trait AppDefinition: Send + Sync {
    fn listing(&self) -> &AppListing;
    /// OAuth endpoints, or `None` when the app is not installable here.
    fn oauth(&self) -> Option<OAuthMetadata>;
    /// Verifies a webhook delivery's signature and timestamp, then parses it.
    fn verify_webhook(
        &self,
        secret: &str,
        headers: &::http::HeaderMap,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WebhookNotice, webhook::WebhookRejection>;
    /// A connector for one connected account.
    fn connect(&self, tokens: Arc<dyn http::TokenSource>) -> Arc<dyn Connector>;
}
