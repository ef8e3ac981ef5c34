//! The demo CRM's objects and fields, and the validation a write goes through — like a
//! real app: unknown properties, read-only fields, required fields, email format,
//! numbers, dates and enumeration options each give a per-item error naming the field.
//! Pure: no database, no HTTP.

use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Object {
    Contacts,
    Companies,
    Deals,
    Invoices,
}

impl Object {
    pub const ALL: [Object; 4] = [
        Object::Contacts,
        Object::Companies,
        Object::Deals,
        Object::Invoices,
    ];

    pub fn parse(s: &str) -> Option<Object> {
        Object::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The name in URLs and payloads: `contacts`.
    pub fn as_str(self) -> &'static str {
        match self {
            Object::Contacts => "contacts",
            Object::Companies => "companies",
            Object::Deals => "deals",
            Object::Invoices => "invoices",
        }
    }

    /// The singular, used in webhook event types: `contact.created`.
    pub fn singular(self) -> &'static str {
        match self {
            Object::Contacts => "contact",
            Object::Companies => "company",
            Object::Deals => "deal",
            Object::Invoices => "invoice",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Object::Contacts => "Contacts",
            Object::Companies => "Companies",
            Object::Deals => "Deals",
            Object::Invoices => "Invoices",
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Object::Contacts => CONTACT_FIELDS,
            Object::Companies => COMPANY_FIELDS,
            Object::Deals => DEAL_FIELDS,
            Object::Invoices => INVOICE_FIELDS,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The property that names a record in lists and pages.
    pub fn title_field(self) -> &'static str {
        match self {
            Object::Contacts => "email",
            Object::Companies => "name",
            Object::Deals => "title",
            Object::Invoices => "invoice_number",
        }
    }

    /// Objects a record of this type can be associated with (either direction).
    pub fn associable(self) -> &'static [Object] {
        match self {
            Object::Contacts => &[Object::Companies, Object::Deals, Object::Invoices],
            Object::Companies => &[Object::Contacts, Object::Deals],
            Object::Deals => &[Object::Companies, Object::Contacts],
            Object::Invoices => &[Object::Contacts],
        }
    }
}

/// The stored direction of an association between `a` and `b`: contacts→companies,
/// deals→companies, deals→contacts, invoices→contacts. `None` when they cannot be
/// associated.
pub fn canonical_pair(a: Object, b: Object) -> Option<(Object, Object)> {
    const PAIRS: [(Object, Object); 4] = [
        (Object::Contacts, Object::Companies),
        (Object::Deals, Object::Companies),
        (Object::Deals, Object::Contacts),
        (Object::Invoices, Object::Contacts),
    ];
    PAIRS
        .into_iter()
        .find(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Email,
    Phone,
    Number,
    /// A whole number, zero or more.
    Count,
    Date,
    DateTime,
    Enumeration(&'static [(&'static str, &'static str)]),
    /// The id of one of the account's pipelines.
    Pipeline,
    /// The id of a stage of the record's pipeline.
    PipelineStage,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Text => "string",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Number | Kind::Count => "number",
            Kind::Date => "date",
            Kind::DateTime => "datetime",
            Kind::Enumeration(_) => "enumeration",
            Kind::Pipeline => "pipeline",
            Kind::PipelineStage => "pipeline_stage",
        }
    }
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub read_only: bool,
}

const fn f(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        required: false,
        read_only: false,
    }
}

const fn required(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        required: true,
        read_only: false,
    }
}

pub const LIFECYCLE_STAGES: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("other", "Other"),
];
pub const INDUSTRIES: &[(&str, &str)] = &[
    ("software", "Software"),
    ("retail", "Retail"),
    ("manufacturing", "Manufacturing"),
    ("financial_services", "Financial services"),
    ("healthcare", "Healthcare"),
    ("education", "Education"),
    ("consulting", "Consulting"),
    ("other", "Other"),
];
pub const CURRENCIES: &[(&str, &str)] = &[
    ("EUR", "Euro"),
    ("USD", "US dollar"),
    ("GBP", "Pound sterling"),
];
pub const INVOICE_STATUSES: &[(&str, &str)] = &[
    ("draft", "Draft"),
    ("open", "Open"),
    ("paid", "Paid"),
    ("void", "Void"),
];

static CONTACT_FIELDS: &[Field] = &[
    f("email", "Email", Kind::Email),
    f("first_name", "First name", Kind::Text),
    f("last_name", "Last name", Kind::Text),
    f("phone", "Phone", Kind::Phone),
    f("company_name", "Company name", Kind::Text),
    f("job_title", "Job title", Kind::Text),
    f(
        "lifecycle_stage",
        "Lifecycle stage",
        Kind::Enumeration(LIFECYCLE_STAGES),
    ),
    Field {
        name: "created_at",
        label: "Created at",
        kind: Kind::DateTime,
        required: false,
        read_only: true,
    },
];
static COMPANY_FIELDS: &[Field] = &[
    required("name", "Name", Kind::Text),
    f("domain", "Domain", Kind::Text),
    f("industry", "Industry", Kind::Enumeration(INDUSTRIES)),
    f("city", "City", Kind::Text),
    f("country", "Country", Kind::Text),
    f("employee_count", "Employees", Kind::Count),
];
static DEAL_FIELDS: &[Field] = &[
    required("title", "Title", Kind::Text),
    f("value", "Value", Kind::Number),
    f("currency", "Currency", Kind::Enumeration(CURRENCIES)),
    f("pipeline_id", "Pipeline", Kind::Pipeline),
    required("stage_id", "Stage", Kind::PipelineStage),
    f("close_date", "Close date", Kind::Date),
];
static INVOICE_FIELDS: &[Field] = &[
    required("invoice_number", "Invoice number", Kind::Text),
    required("total", "Total", Kind::Number),
    f("currency", "Currency", Kind::Enumeration(CURRENCIES)),
    f("status", "Status", Kind::Enumeration(INVOICE_STATUSES)),
    f("due_date", "Due date", Kind::Date),
];

/// `GET /v1/schema/{object}`.
pub fn schema_json(object: Object) -> Value {
    let fields: Vec<Value> = object
        .fields()
        .iter()
        .map(|f| {
            let mut v = json!({
                "name": f.name,
                "label": f.label,
                "type": f.kind.type_name(),
                "required": f.required,
                "read_only": f.read_only,
            });
            if let Kind::Enumeration(options) = f.kind {
                v["options"] = options
                    .iter()
                    .map(|(value, label)| json!({"value": value, "label": label}))
                    .collect();
            }
            v
        })
        .collect();
    let mut schema = json!({
        "object": object.as_str(),
        "label": object.label(),
        "fields": fields,
        "associations": object.associable().iter().map(|o| o.as_str()).collect::<Vec<_>>(),
    });
    if object == Object::Contacts {
        schema["required_one_of"] = json!([["email", "last_name"]]);
    }
    schema
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Validation,
    NotFound,
    ReadOnly,
}

/// Why one item of a batch was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ItemError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ItemError {
            code: ErrorCode::Validation,
            message: message.into(),
            field: Some(field.to_string()),
        }
    }
    pub fn not_found(field: Option<&str>, message: impl Into<String>) -> Self {
        ItemError {
            code: ErrorCode::NotFound,
            message: message.into(),
            field: field.map(str::to_string),
        }
    }
}

/// The account's pipelines: pipeline id → its stage ids (ids as strings).
#[derive(Debug, Default, Clone)]
pub struct PipelineIndex {
    pub stages: HashMap<String, Vec<String>>,
}

impl PipelineIndex {
    fn pipeline_of(&self, stage: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(p, _)| p.as_str())
    }
}

const MAX_TEXT: usize = 2000;

/// Validates `input` (a create when `existing` is `None`, else an update) and returns the
/// properties to store: `existing` with `input` applied, values normalised, cleared
/// values (`null`, `""`) removed.
pub fn validate(
    object: Object,
    existing: Option<&Map<String, Value>>,
    input: &Map<String, Value>,
    pipelines: &PipelineIndex,
) -> Result<Map<String, Value>, ItemError> {
    let mut props = existing.cloned().unwrap_or_default();
    for (name, value) in input {
        let Some(field) = object.field(name) else {
            let known: Vec<&str> = object
                .fields()
                .iter()
                .filter(|f| !f.read_only)
                .map(|f| f.name)
                .collect();
            return Err(ItemError::validation(
                name,
                format!(
                    "`{name}` is not a property of {}. Writable properties: {}.",
                    object.as_str(),
                    known.join(", ")
                ),
            ));
        };
        if field.read_only {
            return Err(ItemError {
                code: ErrorCode::ReadOnly,
                message: format!(
                    "`{name}` is read-only: the app sets it itself. Leave it out of the request."
                ),
                field: Some(name.clone()),
            });
        }
        match normalise(field, value)? {
            Some(v) => {
                props.insert(name.clone(), v);
            }
            None => {
                props.remove(name);
            }
        }
    }

    for field in object.fields().iter().filter(|f| f.required) {
        if !props.contains_key(field.name) {
            return Err(ItemError::validation(
                field.name,
                format!("{} is required for {}.", field.label, object.as_str()),
            ));
        }
    }
    if object == Object::Contacts
        && !props.contains_key("email")
        && !props.contains_key("last_name")
    {
        return Err(ItemError::validation(
            "email",
            "A contact needs an email address or a last name.",
        ));
    }
    if object == Object::Deals {
        check_stage(&mut props, pipelines)?;
    }
    Ok(props)
}

/// A deal's stage must belong to its pipeline; a deal given only a stage gets that
/// stage's pipeline.
fn check_stage(props: &mut Map<String, Value>, pipelines: &PipelineIndex) -> Result<(), ItemError> {
    let stage = props
        .get("stage_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let pipeline = props
        .get("pipeline_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(p) = &pipeline {
        let Some(stages) = pipelines.stages.get(p) else {
            return Err(ItemError::validation(
                "pipeline_id",
                format!("There is no pipeline {p}. GET /v1/pipelines lists the pipelines and their stages."),
            ));
        };
        if !stages.contains(&stage) {
            return Err(ItemError::validation(
                "stage_id",
                format!(
                    "Stage {stage} is not a stage of pipeline {p}. Its stages are: {}.",
                    stages.join(", ")
                ),
            ));
        }
        return Ok(());
    }
    match pipelines.pipeline_of(&stage) {
        Some(p) => {
            props.insert("pipeline_id".into(), Value::String(p.to_string()));
            Ok(())
        }
        None => Err(ItemError::validation(
            "stage_id",
            format!("There is no deal stage {stage}. GET /v1/pipelines lists the pipelines and their stages."),
        )),
    }
}

/// One value, converted to how it is stored; `None` clears the property.
fn normalise(field: &Field, value: &Value) -> Result<Option<Value>, ItemError> {
    let name = field.name;
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return Err(ItemError::validation(
                name,
                format!(
                    "{} must be a single value, not a list or an object.",
                    field.label
                ),
            ))
        }
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_TEXT {
        return Err(ItemError::validation(
            name,
            format!("{} is longer than {MAX_TEXT} characters.", field.label),
        ));
    }
    let v = match field.kind {
        Kind::Text | Kind::Phone => Value::String(text),
        Kind::Pipeline | Kind::PipelineStage => Value::String(text),
        Kind::Email => {
            if !email_address::EmailAddress::is_valid(&text) {
                return Err(ItemError::validation(
                    name,
                    format!("`{text}` is not a valid email address (expected something like name@example.com)."),
                ));
            }
            Value::String(text)
        }
        Kind::Number | Kind::Count => {
            let n: f64 = text
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| {
                    ItemError::validation(
                        name,
                        format!("{} must be a number, got `{text}`.", field.label),
                    )
                })?;
            if field.kind == Kind::Count {
                if n < 0.0 || n.fract() != 0.0 {
                    return Err(ItemError::validation(
                        name,
                        format!(
                            "{} must be a whole number of zero or more, got `{text}`.",
                            field.label
                        ),
                    ));
                }
                json!(n as i64)
            } else if n.fract() == 0.0 && n.abs() < 1e15 {
                json!(n as i64)
            } else {
                json!(n)
            }
        }
        Kind::Date => {
            let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .or_else(|| {
                    chrono::DateTime::parse_from_rfc3339(&text)
                        .ok()
                        .map(|d| d.with_timezone(&chrono::Utc).date_naive())
                })
                .ok_or_else(|| {
                    ItemError::validation(
                        name,
                        format!(
                            "{} must be a date like 2026-03-31, got `{text}`.",
                            field.label
                        ),
                    )
                })?;
            Value::String(date.format("%Y-%m-%d").to_string())
        }
        Kind::DateTime => {
            let d = chrono::DateTime::parse_from_rfc3339(&text).map_err(|_| {
                ItemError::validation(
                    name,
                    format!(
                        "{} must be a date and time like 2026-03-31T12:00:00Z, got `{text}`.",
                        field.label
                    ),
                )
            })?;
            Value::String(d.with_timezone(&chrono::Utc).to_rfc3339())
        }
        Kind::Enumeration(options) => {
            let found = options.iter().find(|(value, label)| {
                value.eq_ignore_ascii_case(&text) || label.eq_ignore_ascii_case(&text)
            });
            match found {
                Some((value, _)) => Value::String(value.to_string()),
                None => {
                    let values: Vec<&str> = options.iter().map(|(v, _)| *v).collect();
                    return Err(ItemError::validation(
                        name,
                        format!(
                            "`{text}` is not an option of {}. Options: {}.",
                            field.label,
                            values.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn pipelines() -> PipelineIndex {
        PipelineIndex {
            stages: HashMap::from([
                ("1".to_string(), vec!["10".to_string(), "11".to_string()]),
                ("2".to_string(), vec!["20".to_string()]),
            ]),
        }
    }

    fn check(object: Object, input: Value) -> Result<Map<String, Value>, ItemError> {
        validate(object, None, &props(input), &pipelines())
    }

    #[test]
    fn table_of_validation_errors() {
        let cases = [
            (
                Object::Contacts,
                json!({"first_name": "Ann"}),
                ErrorCode::Validation,
                "email",
            ),
            (
                Object::Contacts,
                json!({"email": "ann@"}),
                ErrorCode::Validation,
                "email",
            ),
            (
                Object::Contacts,
                json!({"email": "a@b.co", "shoe_size": 3}),
                ErrorCode::Validation,
                "shoe_size",
            ),
            (
                Object::Contacts,
                json!({"email": "a@b.co", "created_at": "2020-01-01T00:00:00Z"}),
                ErrorCode::ReadOnly,
                "created_at",
            ),
            (
                Object::Contacts,
                json!({"email": "a@b.co", "lifecycle_stage": "prospect"}),
                ErrorCode::Validation,
                "lifecycle_stage",
            ),
            (
                Object::Companies,
                json!({"domain": "x.com"}),
                ErrorCode::Validation,
                "name",
            ),
            (
                Object::Companies,
                json!({"name": "X", "employee_count": 2.5}),
                ErrorCode::Validation,
                "employee_count",
            ),
            (
                Object::Companies,
                json!({"name": "X", "employee_count": "many"}),
                ErrorCode::Validation,
                "employee_count",
            ),
            (
                Object::Deals,
                json!({"title": "D"}),
                ErrorCode::Validation,
                "stage_id",
            ),
            (
                Object::Deals,
                json!({"title": "D", "stage_id": "99"}),
                ErrorCode::Validation,
                "stage_id",
            ),
            (
                Object::Deals,
                json!({"title": "D", "stage_id": "20", "pipeline_id": "1"}),
                ErrorCode::Validation,
                "stage_id",
            ),
            (
                Object::Deals,
                json!({"title": "D", "stage_id": "20", "pipeline_id": "7"}),
                ErrorCode::Validation,
                "pipeline_id",
            ),
            (
                Object::Deals,
                json!({"title": "D", "stage_id": "10", "close_date": "soon"}),
                ErrorCode::Validation,
                "close_date",
            ),
            (
                Object::Invoices,
                json!({"invoice_number": "I-1"}),
                ErrorCode::Validation,
                "total",
            ),
            (
                Object::Invoices,
                json!({"invoice_number": "I-1", "total": 3, "status": "late"}),
                ErrorCode::Validation,
                "status",
            ),
            (
                Object::Invoices,
                json!({"invoice_number": ["I-1"], "total": 3}),
                ErrorCode::Validation,
                "invoice_number",
            ),
        ];
        for (object, input, code, field) in cases {
            let err = check(object, input.clone()).expect_err(&input.to_string());
            assert_eq!(err.code, code, "{input}");
            assert_eq!(
                err.field.as_deref(),
                Some(field),
                "{input}: {}",
                err.message
            );
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn values_are_normalised() {
        let p = check(
            Object::Contacts,
            json!({"email": "  Ann@Example.com ", "lifecycle_stage": "Customer", "phone": "", "last_name": null}),
        )
        .unwrap();
        assert_eq!(p["email"], "Ann@Example.com");
        assert_eq!(p["lifecycle_stage"], "customer");
        assert!(!p.contains_key("phone"));
        assert!(!p.contains_key("last_name"));

        let p = check(Object::Invoices, json!({"invoice_number": "I-1", "total": "12.50", "due_date": "2026-03-31T22:00:00Z", "currency": "eur"})).unwrap();
        assert_eq!(p["total"], json!(12.5));
        assert_eq!(p["due_date"], "2026-03-31");
        assert_eq!(p["currency"], "EUR");
    }

    #[test]
    fn a_contact_needs_an_email_or_a_last_name() {
        assert!(check(Object::Contacts, json!({"last_name": "Ødegaard"})).is_ok());
        assert!(check(Object::Contacts, json!({"email": "x@y.org"})).is_ok());
        // Clearing the email of a contact that has no last name is refused.
        let existing = props(json!({"email": "x@y.org"}));
        let err = validate(
            Object::Contacts,
            Some(&existing),
            &props(json!({"email": null})),
            &pipelines(),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("email"));
    }

    #[test]
    fn a_deal_stage_brings_its_pipeline() {
        let p = check(Object::Deals, json!({"title": "D", "stage_id": "20"})).unwrap();
        assert_eq!(p["pipeline_id"], "2");
        // Updating only the stage keeps the check against the stored pipeline.
        let err = validate(
            Object::Deals,
            Some(&p),
            &props(json!({"stage_id": "10"})),
            &pipelines(),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("stage_id"));
    }

    #[test]
    fn associations_have_one_stored_direction() {
        assert_eq!(
            canonical_pair(Object::Companies, Object::Contacts),
            Some((Object::Contacts, Object::Companies))
        );
        assert_eq!(canonical_pair(Object::Invoices, Object::Companies), None);
        for o in Object::ALL {
            for other in o.associable() {
                assert!(canonical_pair(o, *other).is_some());
            }
        }
    }

    #[test]
    fn the_schema_lists_options_and_read_only_fields() {
        let s = schema_json(Object::Contacts);
        let created = s["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "created_at")
            .unwrap();
        assert_eq!(created["read_only"], true);
        let stage = s["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "lifecycle_stage")
            .unwrap();
        assert_eq!(stage["options"].as_array().unwrap().len(), 5);
    }
}
