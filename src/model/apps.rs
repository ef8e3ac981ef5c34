use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The marketplace card and listing page of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppListing {
    pub id: String,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub category: String,
    /// (app object label, hub object) pairs it syncs.
    pub objects: Vec<(String, String)>,
    pub two_way: bool,
    pub event_sync: bool,
    /// `false` for apps listed but not installable in this build.
    pub available: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    /// The grant was revoked or expired: a person must run the install again.
    NeedsReconnect,
    Disconnected,
}

impl ConnectionStatus {
    pub fn label(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "Connected",
            ConnectionStatus::NeedsReconnect => "Needs reconnecting",
            ConnectionStatus::Disconnected => "Disconnected",
        }
    }
}

/// One connected account of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub id: Uuid,
    pub app: String,
    pub app_name: String,
    pub account_id: String,
    pub account_name: String,
    pub status: ConnectionStatus,
    pub status_message: Option<String>,
    pub connected_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub webhook_url: String,
}

/// An app with the accounts connected to this portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedApp {
    pub listing: AppListing,
    pub connections: Vec<ConnectionView>,
}

/// Where to send the browser (or a script) to authorise an install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallStart {
    pub authorization_url: String,
    pub state: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}
