//! The portal's fixed schema: object types, their properties, the deal pipeline and the
//! association types between the three objects, with HubSpot's names and ids.

use crate::error::ApiError;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    Contacts,
    Companies,
    Deals,
}

impl ObjectType {
    pub const ALL: [ObjectType; 3] = [Self::Contacts, Self::Companies, Self::Deals];

    /// HubSpot accepts the plural name, the singular name and the object type id in paths.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Ok(Self::Contacts),
            "companies" | "company" | "0-2" => Ok(Self::Companies),
            "deals" | "deal" | "0-3" => Ok(Self::Deals),
            _ => Err(ApiError::validation(format!(
                "Unable to infer object type from: {s}"
            ))),
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
            Self::Deals => "deals",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Self::Contacts => "contact",
            Self::Companies => "company",
            Self::Deals => "deal",
        }
    }

    pub fn type_id(self) -> &'static str {
        match self {
            Self::Contacts => "0-1",
            Self::Companies => "0-2",
            Self::Deals => "0-3",
        }
    }

    /// Contacts keep `lastmodifieddate`; every other object `hs_lastmodifieddate`.
    pub fn modified_property(self) -> &'static str {
        match self {
            Self::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// What reads return when no `properties` are asked for (HubSpot's documented defaults).
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            Self::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            Self::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
        }
    }

    /// The properties a search `query` looks in (a subset of HubSpot's list per object).
    pub fn text_search_properties(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &["firstname", "lastname", "email", "phone", "company"],
            Self::Companies => &["name", "domain", "phone"],
            Self::Deals => &["dealname", "pipeline", "dealstage"],
        }
    }

    pub fn properties(self) -> &'static [PropertyDef] {
        match self {
            Self::Contacts => CONTACT_PROPERTIES,
            Self::Companies => COMPANY_PROPERTIES,
            Self::Deals => DEAL_PROPERTIES,
        }
    }

    pub fn property(self, name: &str) -> Option<&'static PropertyDef> {
        self.properties().iter().find(|p| p.name == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropKind {
    String,
    Number,
    Datetime,
    Enumeration,
}

impl PropKind {
    pub fn type_name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Datetime => "datetime",
            Self::Enumeration => "enumeration",
        }
    }
}

pub struct PropertyDef {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: PropKind,
    pub field_type: &'static str,
    pub group: &'static str,
    /// (value, label) pairs of an enumeration.
    pub options: &'static [(&'static str, &'static str)],
    /// Kept by the server (`hs_object_id`, create and modification dates).
    pub read_only: bool,
}

const fn prop(
    name: &'static str,
    label: &'static str,
    kind: PropKind,
    field_type: &'static str,
    group: &'static str,
) -> PropertyDef {
    PropertyDef {
        name,
        label,
        kind,
        field_type,
        group,
        options: &[],
        read_only: false,
    }
}

const fn builtin(
    name: &'static str,
    label: &'static str,
    kind: PropKind,
    group: &'static str,
) -> PropertyDef {
    PropertyDef {
        name,
        label,
        kind,
        field_type: if matches!(kind, PropKind::Number) {
            "number"
        } else {
            "date"
        },
        group,
        options: &[],
        read_only: true,
    }
}

const LIFECYCLE_STAGES: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

/// Some of HubSpot's ~150 industry options (an enumeration there, not free text).
const INDUSTRIES: &[(&str, &str)] = &[
    ("ACCOUNTING", "Accounting"),
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("CONSTRUCTION", "Construction"),
    ("CONSUMER_GOODS", "Consumer Goods"),
    ("EDUCATION_MANAGEMENT", "Education Management"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    (
        "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "Information Technology and Services",
    ),
    ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and Supply Chain"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    ("RETAIL", "Retail"),
    ("TELECOMMUNICATIONS", "Telecommunications"),
];

const CONTACT_PROPERTIES: &[PropertyDef] = &[
    builtin(
        "hs_object_id",
        "Record ID",
        PropKind::Number,
        "contactinformation",
    ),
    builtin(
        "createdate",
        "Create Date",
        PropKind::Datetime,
        "contactinformation",
    ),
    builtin(
        "lastmodifieddate",
        "Last Modified Date",
        PropKind::Datetime,
        "contactinformation",
    ),
    prop(
        "firstname",
        "First Name",
        PropKind::String,
        "text",
        "contactinformation",
    ),
    prop(
        "lastname",
        "Last Name",
        PropKind::String,
        "text",
        "contactinformation",
    ),
    prop(
        "email",
        "Email",
        PropKind::String,
        "text",
        "contactinformation",
    ),
    prop(
        "phone",
        "Phone Number",
        PropKind::String,
        "phonenumber",
        "contactinformation",
    ),
    prop(
        "company",
        "Company Name",
        PropKind::String,
        "text",
        "contactinformation",
    ),
    prop(
        "jobtitle",
        "Job Title",
        PropKind::String,
        "text",
        "contactinformation",
    ),
    prop(
        "city",
        "City",
        PropKind::String,
        "text",
        "contactinformation",
    ),
    PropertyDef {
        options: LIFECYCLE_STAGES,
        ..prop(
            "lifecyclestage",
            "Lifecycle Stage",
            PropKind::Enumeration,
            "radio",
            "contactinformation",
        )
    },
];

const COMPANY_PROPERTIES: &[PropertyDef] = &[
    builtin(
        "hs_object_id",
        "Record ID",
        PropKind::Number,
        "companyinformation",
    ),
    builtin(
        "createdate",
        "Create Date",
        PropKind::Datetime,
        "companyinformation",
    ),
    builtin(
        "hs_lastmodifieddate",
        "Last Modified Date",
        PropKind::Datetime,
        "companyinformation",
    ),
    prop(
        "name",
        "Company name",
        PropKind::String,
        "text",
        "companyinformation",
    ),
    prop(
        "domain",
        "Company Domain Name",
        PropKind::String,
        "text",
        "companyinformation",
    ),
    prop(
        "phone",
        "Phone Number",
        PropKind::String,
        "phonenumber",
        "companyinformation",
    ),
    prop(
        "city",
        "City",
        PropKind::String,
        "text",
        "companyinformation",
    ),
    PropertyDef {
        options: INDUSTRIES,
        ..prop(
            "industry",
            "Industry",
            PropKind::Enumeration,
            "select",
            "companyinformation",
        )
    },
];

const DEAL_PROPERTIES: &[PropertyDef] = &[
    builtin(
        "hs_object_id",
        "Record ID",
        PropKind::Number,
        "dealinformation",
    ),
    builtin(
        "createdate",
        "Create Date",
        PropKind::Datetime,
        "dealinformation",
    ),
    builtin(
        "hs_lastmodifieddate",
        "Last Modified Date",
        PropKind::Datetime,
        "dealinformation",
    ),
    prop(
        "dealname",
        "Deal Name",
        PropKind::String,
        "text",
        "dealinformation",
    ),
    prop(
        "amount",
        "Amount",
        PropKind::Number,
        "number",
        "dealinformation",
    ),
    prop(
        "closedate",
        "Close Date",
        PropKind::Datetime,
        "date",
        "dealinformation",
    ),
    PropertyDef {
        options: &[(PIPELINE_ID, PIPELINE_LABEL)],
        ..prop(
            "pipeline",
            "Pipeline",
            PropKind::Enumeration,
            "select",
            "dealinformation",
        )
    },
    PropertyDef {
        options: STAGE_OPTIONS,
        ..prop(
            "dealstage",
            "Deal Stage",
            PropKind::Enumeration,
            "radio",
            "dealinformation",
        )
    },
];

pub const PIPELINE_ID: &str = "default";
pub const PIPELINE_LABEL: &str = "Sales Pipeline";

pub struct Stage {
    pub id: &'static str,
    pub label: &'static str,
    pub probability: &'static str,
    pub closed: bool,
}

/// HubSpot's standard sales pipeline stages, in display order.
pub const STAGES: &[Stage] = &[
    Stage {
        id: "appointmentscheduled",
        label: "Appointment Scheduled",
        probability: "0.2",
        closed: false,
    },
    Stage {
        id: "qualifiedtobuy",
        label: "Qualified To Buy",
        probability: "0.4",
        closed: false,
    },
    Stage {
        id: "presentationscheduled",
        label: "Presentation Scheduled",
        probability: "0.6",
        closed: false,
    },
    Stage {
        id: "decisionmakerboughtin",
        label: "Decision Maker Bought-In",
        probability: "0.8",
        closed: false,
    },
    Stage {
        id: "contractsent",
        label: "Contract Sent",
        probability: "0.9",
        closed: false,
    },
    Stage {
        id: "closedwon",
        label: "Closed Won",
        probability: "1.0",
        closed: true,
    },
    Stage {
        id: "closedlost",
        label: "Closed Lost",
        probability: "0.0",
        closed: true,
    },
];

const STAGE_OPTIONS: &[(&str, &str)] = &[
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
];

/// The HUBSPOT_DEFINED association type ids (HubSpot's association type id table):
/// (from, to, default unlabeled id, primary id where the pair has one).
const ASSOCIATION_TYPES: &[(ObjectType, ObjectType, u32, Option<u32>)] = &[
    (ObjectType::Contacts, ObjectType::Companies, 279, Some(1)),
    (ObjectType::Companies, ObjectType::Contacts, 280, Some(2)),
    (ObjectType::Deals, ObjectType::Contacts, 3, None),
    (ObjectType::Contacts, ObjectType::Deals, 4, None),
    (ObjectType::Deals, ObjectType::Companies, 341, Some(5)),
    (ObjectType::Companies, ObjectType::Deals, 342, Some(6)),
];

/// The type id a v4 "default" association gets.
pub fn default_association_type(from: ObjectType, to: ObjectType) -> Option<u32> {
    ASSOCIATION_TYPES
        .iter()
        .find(|(f, t, _, _)| *f == from && *t == to)
        .map(|(_, _, id, _)| *id)
}

/// The object an association type id points to, seen from `from` (v3 create `associations`).
pub fn association_target(from: ObjectType, type_id: u32) -> Option<ObjectType> {
    ASSOCIATION_TYPES
        .iter()
        .find(|(f, _, id, primary)| *f == from && (*id == type_id || *primary == Some(type_id)))
        .map(|(_, t, _, _)| *t)
}

/// v3's association type name, e.g. `contact_to_company`.
pub fn v3_association_name(from: ObjectType, to: ObjectType) -> String {
    format!("{}_to_{}", from.singular(), to.singular())
}

/// One invalid property value, reported the way HubSpot's "Property values were not valid" does.
pub struct PropError {
    pub name: String,
    pub code: &'static str,
    pub message: String,
}

impl PropError {
    fn new(name: &str, code: &'static str, message: String) -> Self {
        Self {
            name: name.to_string(),
            code,
            message,
        }
    }
}

/// HubSpot takes property values as strings, numbers or booleans; null clears like "".
fn raw_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Checks one written value against its definition. `Ok(None)` clears the property.
pub fn normalize(obj: ObjectType, name: &str, value: &Value) -> Result<Option<String>, PropError> {
    let Some(def) = obj.property(name) else {
        return Err(PropError::new(
            name,
            "PROPERTY_DOESNT_EXIST",
            format!("Property \"{name}\" does not exist"),
        ));
    };
    if def.read_only {
        return Err(PropError::new(
            name,
            "READ_ONLY_VALUE",
            format!("\"{name}\" is a read only property; its value cannot be set."),
        ));
    }
    let text = raw_text(value);
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match def.kind {
        PropKind::String if obj == ObjectType::Contacts && name == "email" => {
            if valid_email(text) {
                Ok(Some(text.to_string()))
            } else {
                Err(PropError::new(
                    name,
                    "INVALID_EMAIL",
                    format!("Email address {text} is invalid"),
                ))
            }
        }
        PropKind::String => Ok(Some(text.to_string())),
        PropKind::Number => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(text.to_string())),
            _ => Err(PropError::new(
                name,
                "INVALID_DOUBLE",
                format!("{text} was not a valid number."),
            )),
        },
        PropKind::Datetime => match parse_instant(text) {
            Some(ms) => Ok(Some(iso(ms))),
            None => Err(PropError::new(
                name,
                "INVALID_DATE",
                format!("{text} was not a valid date: use epoch milliseconds or ISO 8601."),
            )),
        },
        PropKind::Enumeration => {
            if def.options.iter().any(|(v, _)| *v == text) {
                Ok(Some(text.to_string()))
            } else {
                let allowed: Vec<&str> = def.options.iter().map(|(v, _)| *v).collect();
                Err(PropError::new(
                    name,
                    "INVALID_OPTION",
                    format!(
                        "{text} was not one of the allowed options: [{}]",
                        allowed.join(", ")
                    ),
                ))
            }
        }
    }
}

/// A pragmatic address check: one `@`, a local part, a dotted domain, no spaces.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// Epoch milliseconds (as digits) or an ISO 8601 instant or date; dates are UTC midnight.
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// ISO 8601 with milliseconds, as HubSpot writes timestamps.
pub fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
