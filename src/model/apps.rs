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
    /// How an account is connected: OAuth, or a form of credentials.
    #[serde(default)]
    pub credential: CredentialKind,
    /// Also installable by signing in to the app (OAuth), beside a credential form.
    #[serde(default)]
    pub oauth: bool,
    /// What the credential form's address field shows when empty (whether it may stay
    /// empty, an example).
    #[serde(default)]
    pub address_hint: String,
}

/// How a connection signs its requests; stored in `connections.credential_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// OAuth 2.0 authorization code with PKCE; tokens refreshed as they expire.
    #[default]
    Oauth2,
    /// A server URL, a user name and a password or app password (CardDAV).
    Basic,
    /// A server URL and an API key or private-app token.
    ApiKey,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Oauth2 => "oauth2",
            CredentialKind::Basic => "basic",
            CredentialKind::ApiKey => "api_key",
        }
    }

    pub fn parse(s: &str) -> Option<CredentialKind> {
        [
            CredentialKind::Oauth2,
            CredentialKind::Basic,
            CredentialKind::ApiKey,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[cfg(feature = "ssr")]
super::text_column!(CredentialKind);

/// What a person enters to connect a credential app. `choice` picks one of the
/// collections the credentials reach, when the first answer listed several.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CredentialInput {
    pub url: String,
    #[serde(default)]
    pub username: String,
    /// The password, app password or API key; never shown again once stored.
    pub secret: String,
    #[serde(default)]
    pub choice: Option<String>,
}

/// One collection (an address book) a person can connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallChoice {
    pub id: String,
    pub label: String,
}

/// The answer of a credential install: connected, or which collection to connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CredentialInstall {
    Connected {
        connection_id: Uuid,
        reconnected: bool,
    },
    Choose {
        choices: Vec<InstallChoice>,
    },
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
