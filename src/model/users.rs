use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a signed-in user (or an API token acting for one) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users and private app tokens.
    SuperAdmin,
    /// May install apps and create, edit, turn off and delete syncs.
    AppMarketplace,
    /// May view records and sync status.
    User,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::SuperAdmin => "Super Admin",
            Role::AppMarketplace => "App Marketplace",
            Role::User => "User",
        }
    }

    /// Installing apps and changing syncs needs this.
    pub fn can_manage_apps(self) -> bool {
        matches!(self, Role::SuperAdmin | Role::AppMarketplace)
    }

    pub fn is_super_admin(self) -> bool {
        self == Role::SuperAdmin
    }
}

/// The answer of `whoami`: who is calling, in which portal, with which rights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub portal_id: Uuid,
    pub portal_slug: String,
    pub portal_name: String,
    /// `session` or `token`.
    pub auth: String,
    pub can_manage_apps: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the token, enough to recognise it.
    pub prefix: String,
    pub user_email: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Returned once, when a token is created: the only time the secret is visible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiToken {
    pub token: ApiTokenView,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub read: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationList {
    pub unread: i64,
    pub items: Vec<NotificationView>,
}
