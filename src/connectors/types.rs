//! What every connector speaks: objects and fields, records, pages, writes, pipelines,
//! events and webhook notifications, in the app's own vocabulary (the engine maps them
//! to hub properties).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The type of an app field, as the engine needs it for conversions and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    String,
    Email,
    Phone,
    Number,
    Bool,
    Date,
    Datetime,
    Enumeration { options: Vec<EnumOption> },
}

impl FieldKind {
    /// How the engine converts and compares values of this field (e-mails and phones
    /// compare as text).
    pub fn field_type(&self) -> crate::model::FieldType {
        use crate::model::FieldType;
        match self {
            FieldKind::Number => FieldType::Number,
            FieldKind::Bool => FieldType::Bool,
            FieldKind::Date => FieldType::Date,
            FieldKind::Datetime => FieldType::DateTime,
            FieldKind::Enumeration { .. } => FieldType::Enumeration,
            FieldKind::String | FieldKind::Email | FieldKind::Phone => FieldType::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnumOption {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppField {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub read_only: bool,
    /// The hub property this field maps to by default, when the connector knows one.
    pub default_hub_property: Option<String>,
}

/// The match identifiers of the hub's objects, for apps whose fields share their names:
/// contacts by `email`, companies by `name` and `domain`.
pub fn identifier_fields(hub_object: &str) -> Vec<String> {
    match hub_object {
        "contacts" => vec!["email".into()],
        "companies" => vec!["name".into(), "domain".into()],
        _ => vec![],
    }
}

/// An object type of the app (contacts, companies…) and how it pairs with the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppObject {
    pub name: String,
    pub label: String,
    /// The hub object it syncs with by default (`contacts`, `companies`, `deals`, `invoices`).
    pub hub_object: String,
    pub fields: Vec<AppField>,
    /// Fields usable as match identifiers (e.g. `email` for contacts).
    pub identifier_fields: Vec<String>,
    /// Deals: the (pipeline, stage) fields, for stage mapping.
    pub pipeline_fields: Option<(String, String)>,
}

impl AppObject {
    /// An object named like the hub's (`contacts`, `companies`, `deals`, `invoices`),
    /// matched by the hub's identifiers; deals carry their (pipeline, stage) fields.
    pub fn like_hub(object: &str, fields: Vec<AppField>, stage_fields: (&str, &str)) -> Self {
        AppObject {
            name: object.into(),
            label: crate::model::capitalised(object),
            hub_object: object.into(),
            fields,
            identifier_fields: identifier_fields(object),
            pipeline_fields: (object == "deals")
                .then(|| (stage_fields.0.to_string(), stage_fields.1.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppRecord {
    pub id: String,
    pub properties: Map<String, Value>,
    /// Associated record ids by object name.
    #[serde(default)]
    pub associations: BTreeMap<String, Vec<String>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Deleted in the app (a tombstone from a change feed).
    #[serde(default)]
    pub deleted: bool,
}

/// One page of a listing; `next_cursor` is `None` after the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    pub records: Vec<AppRecord>,
    pub next_cursor: Option<String>,
}

/// Changes since a cursor; the cursor always advances (or stays) and is kept to resume.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    pub records: Vec<AppRecord>,
    pub cursor: String,
    /// More changes are waiting beyond this page.
    pub has_more: bool,
}

/// A create (no `id`) or an update (with `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordWrite {
    pub id: Option<String>,
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub associations: BTreeMap<String, Vec<String>>,
    /// Makes a retried create return the first record instead of a duplicate.
    pub idempotency_key: Option<String>,
}

/// A per-item failure the app reported for a batch write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

pub type WriteResult = Result<AppRecord, ItemError>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    pub stages: Vec<Stage>,
}

impl Pipeline {
    /// The pipelines of a `{"results": [...]}` answer.
    pub fn list_from(answer: &Value) -> Option<Vec<Pipeline>> {
        serde_json::from_value(answer.get("results")?.clone()).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub label: String,
    /// `displayOrder` in HubSpot-shaped APIs.
    #[serde(alias = "displayOrder")]
    pub display_order: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    EmailOpened,
    EmailClicked,
}

/// An engagement event of a contact (email opened or clicked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppEvent {
    pub id: String,
    pub kind: EventKind,
    pub contact_id: String,
    pub occurred_at: DateTime<Utc>,
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<AppEvent>,
    pub cursor: String,
    pub has_more: bool,
}

/// Who the connected account is, read right after the OAuth exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountIdentity {
    pub id: String,
    pub name: String,
}

/// A verified webhook notification, reduced to what the engine acts on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookNotice {
    /// The sender's id of this delivery: the same delivery sent twice is stored once.
    pub delivery_id: String,
    pub kind: WebhookKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WebhookKind {
    RecordChanged {
        object: String,
        id: String,
        deleted: bool,
    },
    Event(AppEvent),
    /// A type we do not act on; stored, then ignored.
    Other {
        r#type: String,
    },
}

/// OAuth 2.0 endpoints and scopes of an app (authorization code + PKCE S256).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthMetadata {
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub scopes: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
}
