//! Hub CRM DTOs shared by the server functions and the pages: object types, property
//! definitions, records, pages of records, associations, pipelines, timeline events,
//! and [`WriteOrigin`], the "who wrote this" every hub write carries.

use super::sync::FieldType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The four object types of the hub CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    Contacts,
    Companies,
    Deals,
    Invoices,
}

impl ObjectType {
    pub const ALL: [ObjectType; 4] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
        ObjectType::Invoices,
    ];

    /// The name used in URLs, the database and JSON: `contacts`, `companies`…
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
            ObjectType::Invoices => "invoices",
        }
    }

    /// Accepts the plural and singular names and HubSpot's object type ids (`0-1`…).
    pub fn parse(s: &str) -> Option<ObjectType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Some(ObjectType::Contacts),
            "companies" | "company" | "0-2" => Some(ObjectType::Companies),
            "deals" | "deal" | "0-3" => Some(ObjectType::Deals),
            "invoices" | "invoice" | "0-53" => Some(ObjectType::Invoices),
            _ => None,
        }
    }

    /// "Contacts"
    pub fn label(self) -> &'static str {
        match self {
            ObjectType::Contacts => "Contacts",
            ObjectType::Companies => "Companies",
            ObjectType::Deals => "Deals",
            ObjectType::Invoices => "Invoices",
        }
    }

    /// "contact"
    pub fn singular(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contact",
            ObjectType::Companies => "company",
            ObjectType::Deals => "deal",
            ObjectType::Invoices => "invoice",
        }
    }

    /// The list page: `/contacts`.
    pub fn path(self) -> String {
        format!("/{}", self.as_str())
    }

    /// The object types a record of this type can be associated with.
    pub fn associable(self) -> &'static [ObjectType] {
        match self {
            ObjectType::Contacts => &[
                ObjectType::Companies,
                ObjectType::Deals,
                ObjectType::Invoices,
            ],
            ObjectType::Companies => &[ObjectType::Contacts, ObjectType::Deals],
            ObjectType::Deals => &[ObjectType::Companies, ObjectType::Contacts],
            ObjectType::Invoices => &[ObjectType::Contacts],
        }
    }

    /// How people recognise a record: a contact's name (or email), a company's name…
    pub fn display_name(self, properties: &BTreeMap<String, String>) -> String {
        let get = |k: &str| {
            properties
                .get(k)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let name = match self {
            ObjectType::Contacts => {
                let full = [get("firstname"), get("lastname")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(full)
                    .filter(|s| !s.is_empty())
                    .or_else(|| get("email").map(String::from))
            }
            ObjectType::Companies => get("name").or_else(|| get("domain")).map(String::from),
            ObjectType::Deals => get("dealname").map(String::from),
            ObjectType::Invoices => get("number").map(|n| format!("Invoice {n}")),
        };
        name.unwrap_or_else(|| {
            let id = properties.get("hs_object_id").cloned().unwrap_or_default();
            format!("Unnamed {} {id}", self.singular())
                .trim_end()
                .to_string()
        })
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a property's values. Values are stored and returned as normalised text
/// (like HubSpot's API): numbers `1234.5`, bools `true`/`false`, dates `2026-01-31`,
/// datetimes `2026-01-31T10:00:00.000Z` (UTC), multi-enumerations `a;b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    String,
    Number,
    Bool,
    Date,
    Datetime,
    Enumeration,
    MultiEnumeration,
    Email,
    Phone,
}

impl PropertyType {
    /// How the sync engine converts and compares values of this type (e-mails, phones
    /// and multi-option values compare as text).
    pub fn field_type(self) -> FieldType {
        match self {
            PropertyType::Number => FieldType::Number,
            PropertyType::Bool => FieldType::Bool,
            PropertyType::Date => FieldType::Date,
            PropertyType::Datetime => FieldType::DateTime,
            PropertyType::Enumeration => FieldType::Enumeration,
            PropertyType::String
            | PropertyType::MultiEnumeration
            | PropertyType::Email
            | PropertyType::Phone => FieldType::Text,
        }
    }

    pub const ALL: [PropertyType; 9] = [
        PropertyType::String,
        PropertyType::Number,
        PropertyType::Bool,
        PropertyType::Date,
        PropertyType::Datetime,
        PropertyType::Enumeration,
        PropertyType::MultiEnumeration,
        PropertyType::Email,
        PropertyType::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Number => "number",
            PropertyType::Bool => "bool",
            PropertyType::Date => "date",
            PropertyType::Datetime => "datetime",
            PropertyType::Enumeration => "enumeration",
            PropertyType::MultiEnumeration => "multi_enumeration",
            PropertyType::Email => "email",
            PropertyType::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Option<PropertyType> {
        PropertyType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            PropertyType::String => "Text",
            PropertyType::Number => "Number",
            PropertyType::Bool => "Yes / no",
            PropertyType::Date => "Date",
            PropertyType::Datetime => "Date and time",
            PropertyType::Enumeration => "Dropdown (one option)",
            PropertyType::MultiEnumeration => "Multiple checkboxes",
            PropertyType::Email => "Email address",
            PropertyType::Phone => "Phone number",
        }
    }

    pub fn has_options(self) -> bool {
        matches!(
            self,
            PropertyType::Enumeration | PropertyType::MultiEnumeration
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyOption {
    pub value: String,
    pub label: String,
}

/// One property of an object type: a default one (defined in code) or a custom one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: PropertyType,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    #[serde(default)]
    pub required: bool,
    /// Refused from people and API tokens; syncs, imports and the system may write it
    /// unless it is also `computed`.
    #[serde(default)]
    pub read_only: bool,
    /// Computed by the hub (`hs_object_id`, `createdate`, `lastmodifieddate`): nobody writes it.
    #[serde(default)]
    pub computed: bool,
    /// Added by an admin (Settings → Properties), as opposed to a default property.
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub description: String,
}

impl PropertyDef {
    pub fn option_label<'a>(&'a self, value: &'a str) -> &'a str {
        self.options
            .iter()
            .find(|o| o.value == value)
            .map(|o| o.label.as_str())
            .unwrap_or(value)
    }

    /// A stored value as people read it (option labels instead of values).
    pub fn display_value(&self, value: &str) -> String {
        match self.kind {
            PropertyType::Enumeration => self.option_label(value).to_string(),
            PropertyType::MultiEnumeration => value
                .split(';')
                .filter(|v| !v.is_empty())
                .map(|v| self.option_label(v))
                .collect::<Vec<_>>()
                .join(", "),
            PropertyType::Bool => match value {
                "true" => "Yes".into(),
                "false" => "No".into(),
                other => other.into(),
            },
            PropertyType::Datetime => value.replace('T', " ").trim_end_matches('Z').to_string(),
            _ => value.to_string(),
        }
    }
}

/// Who wrote to the hub. Every write carries one; it is kept per property
/// (`property_meta`) and on every change-feed row, so the sync engine can tell which
/// side changed a field and recognise its own echoes (`Sync(sync_id)`).
///
/// Text form (JSON, database): `user:<uuid>`, `token:<uuid>`, `sync:<uuid>`, `import`, `system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteOrigin {
    /// A person in the UI (or a server function called with their session).
    User(Uuid),
    /// A script with a private app token (the token's id).
    ApiToken(Uuid),
    /// A sync of the engine (the sync's id).
    Sync(Uuid),
    /// A bulk load (`tandem seed`, file imports).
    Import,
    /// Tandem itself (migrations, maintenance).
    System,
}

impl WriteOrigin {
    /// `user`, `token`, `sync`, `import`, `system` (the change feed's `origin_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            WriteOrigin::User(_) => "user",
            WriteOrigin::ApiToken(_) => "token",
            WriteOrigin::Sync(_) => "sync",
            WriteOrigin::Import => "import",
            WriteOrigin::System => "system",
        }
    }

    /// The user, token or sync id.
    pub fn id(&self) -> Option<Uuid> {
        match self {
            WriteOrigin::User(id) | WriteOrigin::ApiToken(id) | WriteOrigin::Sync(id) => Some(*id),
            WriteOrigin::Import | WriteOrigin::System => None,
        }
    }

    pub fn from_parts(kind: &str, id: Option<Uuid>) -> Option<WriteOrigin> {
        match (kind, id) {
            ("user", Some(id)) => Some(WriteOrigin::User(id)),
            ("token", Some(id)) => Some(WriteOrigin::ApiToken(id)),
            ("sync", Some(id)) => Some(WriteOrigin::Sync(id)),
            ("import", _) => Some(WriteOrigin::Import),
            ("system", _) => Some(WriteOrigin::System),
            _ => None,
        }
    }

    /// Whether people and scripts are writing (read-only properties are refused to them).
    pub fn is_person_or_script(&self) -> bool {
        matches!(self, WriteOrigin::User(_) | WriteOrigin::ApiToken(_))
    }

    /// For people: "a user", "an API token", "a sync", "an import", "Tandem".
    pub fn describe(&self) -> &'static str {
        match self {
            WriteOrigin::User(_) => "a user",
            WriteOrigin::ApiToken(_) => "an API token",
            WriteOrigin::Sync(_) => "a sync",
            WriteOrigin::Import => "an import",
            WriteOrigin::System => "Tandem",
        }
    }
}

impl fmt::Display for WriteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            Some(id) => write!(f, "{}:{id}", self.kind()),
            None => f.write_str(self.kind()),
        }
    }
}

impl FromStr for WriteOrigin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, id) = match s.split_once(':') {
            Some((k, id)) => (
                k,
                Some(Uuid::parse_str(id).map_err(|e| format!("bad origin id: {e}"))?),
            ),
            None => (s, None),
        };
        WriteOrigin::from_parts(kind, id).ok_or_else(|| format!("unknown write origin `{s}`"))
    }
}

impl Serialize for WriteOrigin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WriteOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// When a property last changed, and who changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyChange {
    pub at: DateTime<Utc>,
    #[serde(rename = "by")]
    pub source: WriteOrigin,
}

/// A record as the pages and server functions show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    pub id: i64,
    pub object: ObjectType,
    pub display_name: String,
    /// Every property with a value, including the computed `hs_object_id`,
    /// `createdate` and `lastmodifieddate`.
    pub properties: BTreeMap<String, String>,
    /// Per property: when it last changed and by whom.
    pub changes: BTreeMap<String, PropertyChange>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// What the list pages ask for. Cursors come from a previous [`RecordPage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListRequest {
    #[serde(default)]
    pub search: Option<String>,
    /// A property name; the default order is newest first.
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub descending: bool,
    /// Only archived records (the "Show archived" filter).
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One page of a keyset-paged list: `next`/`prev` are opaque cursors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// The answer of an update: the record and the names of the properties that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdatedRecord {
    pub record: RecordView,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub probability: Option<f64>,
    pub is_closed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineView {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub stages: Vec<StageView>,
}

/// Everything a page needs to show and edit records of one object type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectSchemaView {
    pub object: ObjectType,
    pub properties: Vec<PropertyDef>,
    /// Columns of the list page, in order.
    pub list_columns: Vec<String>,
    /// Columns the list can sort by (each has an index, so sorting stays fast).
    pub sortable: Vec<String>,
    /// Properties of the "Create" dialog, in order.
    pub create_form: Vec<String>,
    /// Deal pipelines (deals only).
    pub pipelines: Vec<PipelineView>,
}

impl ObjectSchemaView {
    pub fn property(&self, name: &str) -> Option<&PropertyDef> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// The other end of an association, as the record page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationView {
    pub object: ObjectType,
    pub id: i64,
    pub display_name: String,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEventView {
    pub id: i64,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub title: String,
    pub body: String,
    pub properties: serde_json::Value,
    pub source: WriteOrigin,
}

/// A custom property to add (Settings → Properties).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPropertyRequest {
    pub label: String,
    /// Internal name; derived from the label when empty.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: PropertyType,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_origins_round_trip_as_text() {
        let id = Uuid::new_v4();
        for o in [
            WriteOrigin::User(id),
            WriteOrigin::ApiToken(id),
            WriteOrigin::Sync(id),
            WriteOrigin::Import,
            WriteOrigin::System,
        ] {
            let text = o.to_string();
            assert_eq!(text.parse::<WriteOrigin>().unwrap(), o);
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<WriteOrigin>(&json).unwrap(), o);
        }
        assert!(
            "sync".parse::<WriteOrigin>().is_err(),
            "a sync origin needs its id"
        );
        assert!("robot".parse::<WriteOrigin>().is_err());
    }

    #[test]
    fn object_types_parse_hubspot_names() {
        assert_eq!(ObjectType::parse("0-1"), Some(ObjectType::Contacts));
        assert_eq!(ObjectType::parse("Company"), Some(ObjectType::Companies));
        assert_eq!(ObjectType::parse("tickets"), None);
    }

    #[test]
    fn display_names_fall_back_sensibly() {
        let mut p = BTreeMap::new();
        p.insert("email".to_string(), "a@b.co".to_string());
        assert_eq!(ObjectType::Contacts.display_name(&p), "a@b.co");
        p.insert("lastname".to_string(), "Müller".to_string());
        assert_eq!(ObjectType::Contacts.display_name(&p), "Müller");
        p.insert("hs_object_id".to_string(), "7".to_string());
        assert_eq!(ObjectType::Deals.display_name(&p), "Unnamed deal 7");
    }
}
