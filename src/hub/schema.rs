//! Property schemas of the four object types: the default properties (defined here, in
//! code, the same for every portal), custom properties (rows of `hub_properties`, added
//! by admins in Settings → Properties), and the validation and normalisation of values.
//!
//! Values are stored as normalised text (see [`PropertyType`]); [`normalise_value`] is
//! the one place that turns what a person, script or sync sent into that text, or into
//! a sentence saying what is wrong. [`ObjectSchema::validate_patch`] applies it to a
//! whole patch and returns every field's problem at once.

use super::HubError;
use crate::model::crm::{
    NewPropertyRequest, ObjectSchemaView, ObjectType, PipelineView, PropertyDef, PropertyOption,
    PropertyType, WriteOrigin,
};
use crate::model::{FieldError, Refused};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Longest text value accepted, in characters.
pub const MAX_TEXT_LEN: usize = 65_536;
/// Custom properties per object type and portal.
pub const MAX_CUSTOM_PROPERTIES: i64 = 500;

/// Computed by the hub for every record; nobody can write them.
pub const COMPUTED: [&str; 3] = ["hs_object_id", "createdate", "lastmodifieddate"];

/// What a write sends for one property: text, a number, a bool, an array (multiple
/// options) or null / "" to clear it.
pub type PropertyValues = BTreeMap<String, Value>;

/// A normalised patch: `None` clears the property.
pub type NormalisedPatch = BTreeMap<String, Option<String>>;

fn opt(value: &str, label: &str) -> PropertyOption {
    PropertyOption {
        value: value.into(),
        label: label.into(),
    }
}

fn prop(name: &str, label: &str, kind: PropertyType) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        label: label.into(),
        kind,
        options: Vec::new(),
        required: false,
        read_only: false,
        computed: false,
        custom: false,
        description: String::new(),
    }
}

fn with_options(mut p: PropertyDef, options: &[(&str, &str)]) -> PropertyDef {
    p.options = options.iter().map(|(v, l)| opt(v, l)).collect();
    p
}

fn required(mut p: PropertyDef) -> PropertyDef {
    p.required = true;
    p
}

fn lifecycle_stage() -> PropertyDef {
    with_options(
        prop(
            "lifecyclestage",
            "Lifecycle stage",
            PropertyType::Enumeration,
        ),
        &[
            ("subscriber", "Subscriber"),
            ("lead", "Lead"),
            ("marketingqualifiedlead", "Marketing qualified lead"),
            ("salesqualifiedlead", "Sales qualified lead"),
            ("opportunity", "Opportunity"),
            ("customer", "Customer"),
            ("evangelist", "Evangelist"),
            ("other", "Other"),
        ],
    )
}

/// The default properties of an object type, computed ones last. Pipeline and stage
/// options of deals are filled from the portal's pipelines by [`load`].
pub fn default_properties(object: ObjectType) -> Vec<PropertyDef> {
    use PropertyType::*;
    let mut props = match object {
        ObjectType::Contacts => vec![
            prop("email", "Email", Email),
            prop("firstname", "First name", String),
            prop("lastname", "Last name", String),
            prop("phone", "Phone number", Phone),
            prop("mobilephone", "Mobile phone number", Phone),
            prop("company", "Company name", String),
            prop("jobtitle", "Job title", String),
            prop("website", "Website URL", String),
            prop("address", "Street address", String),
            prop("city", "City", String),
            prop("zip", "Postal code", String),
            prop("country", "Country/Region", String),
            lifecycle_stage(),
            with_options(
                prop("hs_lead_status", "Lead status", Enumeration),
                &[
                    ("NEW", "New"),
                    ("OPEN", "Open"),
                    ("IN_PROGRESS", "In progress"),
                    ("OPEN_DEAL", "Open deal"),
                    ("UNQUALIFIED", "Unqualified"),
                    ("ATTEMPTED_TO_CONTACT", "Attempted to contact"),
                    ("CONNECTED", "Connected"),
                    ("BAD_TIMING", "Bad timing"),
                ],
            ),
            prop("date_of_birth", "Date of birth", Date),
            prop("hs_email_optout", "Unsubscribed from all email", Bool),
        ],
        ObjectType::Companies => vec![
            required(prop("name", "Company name", String)),
            prop("domain", "Company domain name", String),
            with_options(
                prop("industry", "Industry", Enumeration),
                &[
                    ("ACCOUNTING", "Accounting"),
                    ("COMPUTER_SOFTWARE", "Computer software"),
                    ("CONSTRUCTION", "Construction"),
                    ("CONSUMER_GOODS", "Consumer goods"),
                    ("EDUCATION_MANAGEMENT", "Education management"),
                    ("FINANCIAL_SERVICES", "Financial services"),
                    ("HOSPITAL_HEALTH_CARE", "Hospital & health care"),
                    ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and supply chain"),
                    ("MARKETING_AND_ADVERTISING", "Marketing and advertising"),
                    ("RETAIL", "Retail"),
                    ("TELECOMMUNICATIONS", "Telecommunications"),
                    ("OTHER", "Other"),
                ],
            ),
            prop("phone", "Phone number", Phone),
            prop("address", "Street address", String),
            prop("city", "City", String),
            prop("zip", "Postal code", String),
            prop("country", "Country/Region", String),
            prop("numberofemployees", "Number of employees", Number),
            prop("annualrevenue", "Annual revenue", Number),
            prop("description", "Description", String),
            lifecycle_stage(),
        ],
        ObjectType::Deals => vec![
            required(prop("dealname", "Deal name", String)),
            prop("amount", "Amount", Number),
            required(prop("pipeline", "Pipeline", Enumeration)),
            required(prop("dealstage", "Deal stage", Enumeration)),
            prop("closedate", "Close date", Date),
            with_options(
                prop("dealtype", "Deal type", Enumeration),
                &[
                    ("newbusiness", "New business"),
                    ("existingbusiness", "Existing business"),
                ],
            ),
            with_options(
                prop("hs_priority", "Priority", Enumeration),
                &[("low", "Low"), ("medium", "Medium"), ("high", "High")],
            ),
            prop("description", "Deal description", String),
        ],
        ObjectType::Invoices => vec![
            prop("number", "Invoice number", String),
            prop("amount", "Amount", Number),
            with_options(
                prop("currency", "Currency", Enumeration),
                &[
                    ("EUR", "Euro"),
                    ("USD", "US dollar"),
                    ("GBP", "Pound sterling"),
                    ("CHF", "Swiss franc"),
                    ("JPY", "Japanese yen"),
                    ("CAD", "Canadian dollar"),
                ],
            ),
            with_options(
                prop("status", "Invoice status", Enumeration),
                &[
                    ("draft", "Draft"),
                    ("open", "Open"),
                    ("paid", "Paid"),
                    ("voided", "Voided"),
                ],
            ),
            prop("issue_date", "Invoice date", Date),
            prop("due_date", "Due date", Date),
            prop("description", "Description", String),
        ],
    };
    let mut id = prop("hs_object_id", "Record ID", Number);
    let mut created = prop("createdate", "Create date", Datetime);
    let mut modified = prop("lastmodifieddate", "Last modified date", Datetime);
    for p in [&mut id, &mut created, &mut modified] {
        p.read_only = true;
        p.computed = true;
    }
    props.extend([id, created, modified]);
    props
}

/// Columns of the list page, in order.
pub fn list_columns(object: ObjectType) -> &'static [&'static str] {
    match object {
        ObjectType::Contacts => &[
            "lastname",
            "email",
            "phone",
            "company",
            "lifecyclestage",
            "createdate",
        ],
        ObjectType::Companies => &[
            "name",
            "domain",
            "industry",
            "city",
            "country",
            "createdate",
        ],
        ObjectType::Deals => &["dealname", "amount", "dealstage", "closedate", "createdate"],
        ObjectType::Invoices => &[
            "number",
            "amount",
            "currency",
            "status",
            "due_date",
            "createdate",
        ],
    }
}

/// Columns the list pages sort by: each has an index (migrations/…_hub.sql), so
/// keyset paging in that order stays fast at a million records. Any property can be a
/// REST search sort; the others are correct but scan.
pub fn sortable(object: ObjectType) -> &'static [&'static str] {
    match object {
        ObjectType::Contacts => &[
            "lastname",
            "firstname",
            "email",
            "company",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
        ],
        ObjectType::Companies => &[
            "name",
            "domain",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
        ],
        ObjectType::Deals => &[
            "dealname",
            "amount",
            "closedate",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
        ],
        ObjectType::Invoices => &[
            "number",
            "amount",
            "due_date",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
        ],
    }
}

/// Properties of the "Create" dialog, in order (required ones are always included).
pub fn create_form(object: ObjectType) -> &'static [&'static str] {
    match object {
        ObjectType::Contacts => &[
            "email",
            "firstname",
            "lastname",
            "phone",
            "company",
            "jobtitle",
            "lifecyclestage",
        ],
        ObjectType::Companies => &["name", "domain", "industry", "city", "country"],
        ObjectType::Deals => &["dealname", "amount", "pipeline", "dealstage", "closedate"],
        ObjectType::Invoices => &["number", "amount", "currency", "status", "due_date"],
    }
}

/// The properties of one object type in one portal, with pipeline options filled in.
#[derive(Debug, Clone)]
pub struct ObjectSchema {
    pub object: ObjectType,
    pub properties: Vec<PropertyDef>,
    pub pipelines: Vec<PipelineView>,
    index: HashMap<String, usize>,
    /// deal stage id → its pipeline id
    stage_pipeline: HashMap<String, String>,
}

impl ObjectSchema {
    pub fn new(object: ObjectType, custom: Vec<PropertyDef>, pipelines: Vec<PipelineView>) -> Self {
        let mut properties = default_properties(object);
        let mut stage_pipeline = HashMap::new();
        if object == ObjectType::Deals {
            for p in properties.iter_mut() {
                match p.name.as_str() {
                    "pipeline" => {
                        p.options = pipelines.iter().map(|pl| opt(&pl.id, &pl.label)).collect()
                    }
                    "dealstage" => {
                        p.options = pipelines
                            .iter()
                            .flat_map(|pl| pl.stages.iter().map(|s| opt(&s.id, &s.label)))
                            .collect()
                    }
                    _ => {}
                }
            }
            for pl in &pipelines {
                for s in &pl.stages {
                    stage_pipeline.insert(s.id.clone(), pl.id.clone());
                }
            }
        }
        // Custom properties go before the computed ones.
        let computed_at = properties
            .iter()
            .position(|p| p.computed)
            .unwrap_or(properties.len());
        properties.splice(computed_at..computed_at, custom);
        let index = properties
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        ObjectSchema {
            object,
            properties,
            pipelines,
            index,
            stage_pipeline,
        }
    }

    pub fn get(&self, name: &str) -> Option<&PropertyDef> {
        self.index.get(name).map(|&i| &self.properties[i])
    }

    pub fn view(&self) -> ObjectSchemaView {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut create = names(create_form(self.object));
        for p in &self.properties {
            if p.required && !create.contains(&p.name) {
                create.push(p.name.clone());
            }
        }
        ObjectSchemaView {
            object: self.object,
            properties: self.properties.clone(),
            list_columns: names(list_columns(self.object)),
            sortable: names(sortable(self.object)),
            create_form: create,
            pipelines: self.pipelines.clone(),
        }
    }

    /// Checks and normalises a patch. Every problem is reported, one per field:
    /// unknown properties, computed or read-only ones (read-only is refused to people
    /// and API tokens only), and values that do not fit the property's type.
    pub fn validate_patch(
        &self,
        patch: &PropertyValues,
        origin: &WriteOrigin,
    ) -> Result<NormalisedPatch, Vec<FieldError>> {
        let mut out = NormalisedPatch::new();
        let mut errors = Vec::new();
        for (name, value) in patch {
            let Some(def) = self.get(name) else {
                errors.push(field_error(
                    name,
                    format!("There is no property “{name}” on {}. Check the name in Settings → Properties.", self.object),
                ));
                continue;
            };
            if def.computed {
                errors.push(field_error(
                    name,
                    format!("{} is set by Tandem and cannot be changed.", def.label),
                ));
                continue;
            }
            if def.read_only && origin.is_person_or_script() {
                errors.push(field_error(
                    name,
                    format!(
                        "{} is read-only: only syncs and imports write it.",
                        def.label
                    ),
                ));
                continue;
            }
            match normalise_value(def, value) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(message) => errors.push(field_error(name, message)),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Checks a record as it would be after a write: required properties have a value
    /// and a deal's stage belongs to its pipeline. `touched` limits the required check
    /// on updates to the properties the patch clears (old records stay editable).
    pub fn check_record(
        &self,
        merged: &BTreeMap<String, String>,
        touched: Option<&NormalisedPatch>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for p in self.properties.iter().filter(|p| p.required && !p.computed) {
            let considered = touched.is_none_or(|t| t.contains_key(&p.name));
            if considered && merged.get(&p.name).is_none_or(|v| v.is_empty()) {
                errors.push(field_error(&p.name, format!("{} is required.", p.label)));
            }
        }
        if self.object == ObjectType::Deals {
            if let (Some(stage), Some(pipeline)) = (merged.get("dealstage"), merged.get("pipeline"))
            {
                let touched_stage = touched
                    .is_none_or(|t| t.contains_key("dealstage") || t.contains_key("pipeline"));
                if touched_stage && self.stage_pipeline.get(stage) != Some(pipeline) {
                    let label = self
                        .pipelines
                        .iter()
                        .find(|p| &p.id == pipeline)
                        .map(|p| p.label.clone())
                        .unwrap_or_else(|| pipeline.clone());
                    errors.push(field_error(
                        "dealstage",
                        format!("The stage “{stage}” is not a stage of the pipeline “{label}”. Pick one of its stages."),
                    ));
                }
            }
        }
        errors
    }

    /// The id of the first pipeline: deals created without one go there.
    pub fn default_pipeline(&self) -> Option<&str> {
        self.pipelines.first().map(|p| p.id.as_str())
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Turns a sent value into its stored text (`None` clears), or says what is wrong.
pub fn normalise_value(def: &PropertyDef, value: &Value) -> Result<Option<String>, String> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) if def.kind == PropertyType::MultiEnumeration => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => parts.push(s.trim().to_string()),
                    Value::Number(n) => parts.push(n.to_string()),
                    _ => return Err(format!("{} takes a list of option values.", def.label)),
                }
            }
            parts.join(";")
        }
        Value::Array(_) | Value::Object(_) => {
            return Err(format!(
                "{} takes a single value, not a list or an object.",
                def.label
            ))
        }
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_TEXT_LEN {
        return Err(format!(
            "{} is longer than {MAX_TEXT_LEN} characters.",
            def.label
        ));
    }
    let label = &def.label;
    let normalised = match def.kind {
        PropertyType::String => {
            if def.name == "domain" {
                normalise_domain(&text)
            } else {
                text
            }
        }
        PropertyType::Number => normalise_number(&text).ok_or_else(|| {
            format!("{label} must be a number, like 1200 or 99.5 (got “{text}”).")
        })?,
        PropertyType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => "true".into(),
            "false" | "no" | "0" | "off" => "false".into(),
            _ => return Err(format!("{label} must be true or false (got “{text}”).")),
        },
        PropertyType::Date => parse_date(&text)
            .ok_or_else(|| format!("{label} must be a date like 2026-01-31 (got “{text}”)."))?
            .format("%Y-%m-%d")
            .to_string(),
        PropertyType::Datetime => format_datetime(parse_datetime(&text).ok_or_else(|| {
            format!("{label} must be a date and time like 2026-01-31T09:30:00Z (got “{text}”).")
        })?),
        PropertyType::Enumeration => match_option(def, &text)?,
        PropertyType::MultiEnumeration => {
            let mut values: Vec<String> = Vec::new();
            for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let v = match_option(def, part)?;
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            if values.is_empty() {
                return Ok(None);
            }
            values.join(";")
        }
        PropertyType::Email => normalise_email(&text)
            .ok_or_else(|| format!("“{text}” is not a valid email address."))?,
        PropertyType::Phone => normalise_phone(&text).ok_or_else(|| {
            format!("{label} must be a phone number, like +49 30 1234567 (got “{text}”).")
        })?,
    };
    Ok(Some(normalised))
}

fn match_option(def: &PropertyDef, text: &str) -> Result<String, String> {
    if let Some(o) = def.options.iter().find(|o| o.value == text) {
        return Ok(o.value.clone());
    }
    if let Some(o) = def.options.iter().find(|o| {
        o.value.eq_ignore_ascii_case(text) || o.label.to_lowercase() == text.to_lowercase()
    }) {
        return Ok(o.value.clone());
    }
    let mut list: Vec<&str> = def
        .options
        .iter()
        .take(10)
        .map(|o| o.value.as_str())
        .collect();
    if def.options.len() > 10 {
        list.push("…");
    }
    Err(format!(
        "“{text}” is not an option of {}. Options: {}.",
        def.label,
        if list.is_empty() {
            "none yet".to_string()
        } else {
            list.join(", ")
        }
    ))
}

/// Emails: trimmed, lower-cased, and valid (with a dot in the domain, as CRMs expect).
pub fn normalise_email(text: &str) -> Option<String> {
    let e = text.trim().to_lowercase();
    let valid = email_address::EmailAddress::is_valid(&e)
        && !e.chars().any(char::is_whitespace)
        && e.rsplit_once('@')
            .is_some_and(|(_, d)| d.contains('.') && !d.ends_with('.'));
    valid.then_some(e)
}

/// The comparison key of an email for matching: trimmed and lower-cased, valid or not.
pub fn email_key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Company domains: lower-case host without scheme, `www.`, path or port.
pub fn normalise_domain(text: &str) -> String {
    let t = text.trim().to_lowercase();
    let t = t
        .split_once("://")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(t);
    let host = t.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    host.strip_prefix("www.")
        .unwrap_or(host)
        .trim_end_matches('.')
        .to_string()
}

fn normalise_phone(text: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || " +()-./".contains(c) || c == 'x' || c == 'X';
    let lower = text.to_lowercase();
    let body = lower.replace("ext.", "x").replace("ext", "x");
    if !body.chars().all(allowed) {
        return None;
    }
    let digits = body.chars().filter(char::is_ascii_digit).count();
    if !(3..=20).contains(&digits) {
        return None;
    }
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Plain decimal text, canonical: no `+`, no leading zeros, no trailing fraction zeros.
pub fn normalise_number(text: &str) -> Option<String> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.contains(['e', 'E']) {
        let f: f64 = t.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        return normalise_number(&format!("{f}"));
    }
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if int.len() > 30 || frac.len() > 30 {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::new();
    if neg && !(int == "0" && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

fn epoch_millis(text: &str) -> Option<DateTime<Utc>> {
    if text.len() >= 10 && text.chars().all(|c| c.is_ascii_digit()) {
        let ms: i64 = text.parse().ok()?;
        return Utc.timestamp_millis_opt(ms).single();
    }
    None
}

pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_datetime(text).map(|d| d.date_naive()))
}

pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Some(d) = epoch_millis(text) {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The stored form of datetimes: UTC, milliseconds, `Z`.
pub fn format_datetime(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

// ---------------------------------------------------------------------------------
// Loading and custom properties.

#[derive(sqlx::FromRow)]
struct CustomRow {
    name: String,
    label: String,
    #[sqlx(rename = "type")]
    kind: String,
    options: sqlx::types::Json<Vec<PropertyOption>>,
    required: bool,
    read_only: bool,
    description: String,
}

impl CustomRow {
    fn into_def(self) -> PropertyDef {
        PropertyDef {
            name: self.name,
            label: self.label,
            kind: PropertyType::parse(&self.kind).unwrap_or(PropertyType::String),
            options: self.options.0,
            required: self.required,
            read_only: self.read_only,
            computed: false,
            custom: true,
            description: self.description,
        }
    }
}

async fn custom_properties(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
) -> sqlx::Result<Vec<PropertyDef>> {
    let rows: Vec<CustomRow> = sqlx::query_as(
        "SELECT name, label, type, options, required, read_only, description FROM hub_properties
         WHERE portal_id = $1 AND object = $2 ORDER BY display_order, created_at, name",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(CustomRow::into_def).collect())
}

/// The schema of one object type in one portal (two small queries).
pub async fn load(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
) -> sqlx::Result<ObjectSchema> {
    let custom = custom_properties(pool, portal_id, object).await?;
    let pipelines = if object == ObjectType::Deals {
        super::pipelines::list(pool, portal_id).await?
    } else {
        Vec::new()
    };
    Ok(ObjectSchema::new(object, custom, pipelines))
}

/// An internal name from a label: `Customer tier` → `customer_tier`.
pub fn name_from_label(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    let out = if out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out
    } else {
        format!("p_{out}")
    };
    out.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('_')
        .to_string()
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Adds a custom property (admins only; the caller checks). Errors name the field.
pub async fn create_property(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    req: NewPropertyRequest,
) -> Result<PropertyDef, HubError> {
    let mut errors = Vec::new();
    let label = req.label.trim().to_string();
    if label.is_empty() || label.chars().count() > 100 {
        errors.push(field_error(
            "label",
            "Give the property a label of 1 to 100 characters.",
        ));
    }
    let name = match req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => name_from_label(&label),
    };
    if !valid_name(&name) {
        errors.push(field_error(
            "name",
            "The internal name must start with a letter and use only a-z, 0-9 and _ (at most 63 characters).",
        ));
    } else if name.starts_with("hs_") || default_properties(object).iter().any(|p| p.name == name) {
        errors.push(field_error(
            "name",
            format!("“{name}” is a default property of {object} (or uses the reserved hs_ prefix); choose another name."),
        ));
    }
    let mut options = Vec::new();
    if req.kind.has_options() {
        for o in &req.options {
            let value = o.value.trim().to_string();
            let label = if o.label.trim().is_empty() {
                value.clone()
            } else {
                o.label.trim().to_string()
            };
            if value.is_empty() || value.contains(';') {
                errors.push(field_error(
                    "options",
                    "Every option needs a value without “;”.",
                ));
                break;
            }
            if options.iter().any(|x: &PropertyOption| x.value == value) {
                errors.push(field_error(
                    "options",
                    format!("The option “{value}” is listed twice."),
                ));
                break;
            }
            options.push(PropertyOption { value, label });
        }
        if req.options.is_empty() {
            errors.push(field_error(
                "options",
                "A dropdown or checkbox property needs at least one option.",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Refused::validation(errors).into());
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM hub_properties WHERE portal_id = $1 AND object = $2",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .fetch_one(pool)
    .await?;
    if count >= MAX_CUSTOM_PROPERTIES {
        return Err(Refused::conflict(format!(
            "{object} already has {MAX_CUSTOM_PROPERTIES} custom properties, the most a portal can have."
        ))
        .with_hint("Delete custom properties you no longer use in Settings → Properties.").into());
    }
    let row: Option<CustomRow> = sqlx::query_as(
        "INSERT INTO hub_properties (portal_id, object, name, label, type, options, required, read_only, description, display_order)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (portal_id, object, name) DO NOTHING
         RETURNING name, label, type, options, required, read_only, description",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .bind(&name)
    .bind(&label)
    .bind(req.kind.as_str())
    .bind(sqlx::types::Json(&options))
    .bind(req.required)
    .bind(req.read_only)
    .bind(req.description.trim())
    .bind(count as i32)
    .fetch_optional(pool)
    .await?;
    row.map(CustomRow::into_def).ok_or_else(|| {
        Refused::field(
            "name",
            format!("A property named “{name}” already exists on {object}."),
        )
        .into()
    })
}

/// Deletes a custom property that no record has a value for.
pub async fn delete_property(
    pool: &PgPool,
    portal_id: Uuid,
    object: ObjectType,
    name: &str,
) -> Result<(), HubError> {
    if default_properties(object).iter().any(|p| p.name == name) {
        return Err(Refused::field(
            "name",
            format!("“{name}” is a default property; it cannot be deleted."),
        )
        .into());
    }
    let mut tx = pool.begin().await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT name FROM hub_properties WHERE portal_id = $1 AND object = $2 AND name = $3 FOR UPDATE")
            .bind(portal_id)
            .bind(object.as_str())
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Err(Refused::not_found("The property").into());
    }
    let in_use: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM hub_records WHERE portal_id = $1 AND object = $2 AND properties ? $3)",
    )
    .bind(portal_id)
    .bind(object.as_str())
    .bind(name)
    .fetch_one(&mut *tx)
    .await?;
    if in_use {
        return Err(
            Refused::conflict(format!("Some {object} still have a value for “{name}”."))
                .with_hint("Clear the property on those records first, then delete it.")
                .into(),
        );
    }
    sqlx::query("DELETE FROM hub_properties WHERE portal_id = $1 AND object = $2 AND name = $3")
        .bind(portal_id)
        .bind(object.as_str())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(kind: PropertyType) -> PropertyDef {
        let mut p = prop("x", "X", kind);
        p.options = vec![opt("gold", "Gold"), opt("silver", "Silver")];
        p
    }

    #[test]
    fn values_are_normalised_per_type() {
        use PropertyType::*;
        let cases: &[(PropertyType, Value, Option<&str>)] = &[
            (String, json!("  hello "), Some("hello")),
            (String, json!(""), None),
            (String, Value::Null, None),
            (Number, json!("0012.500"), Some("12.5")),
            (Number, json!(42), Some("42")),
            (Number, json!("-0.0"), Some("0")),
            (Number, json!("+7"), Some("7")),
            (Number, json!("1e3"), Some("1000")),
            (Bool, json!("Yes"), Some("true")),
            (Bool, json!(false), Some("false")),
            (Date, json!("2026-01-31"), Some("2026-01-31")),
            (Date, json!("2026-01-31T23:00:00Z"), Some("2026-01-31")),
            (
                Datetime,
                json!("2026-01-31T10:00:00+02:00"),
                Some("2026-01-31T08:00:00.000Z"),
            ),
            (
                Datetime,
                json!("2026-01-31"),
                Some("2026-01-31T00:00:00.000Z"),
            ),
            (
                Datetime,
                json!("1769853600000"),
                Some("2026-01-31T10:00:00.000Z"),
            ),
            (Enumeration, json!("gold"), Some("gold")),
            (Enumeration, json!("SILVER"), Some("silver")),
            (
                MultiEnumeration,
                json!("gold; silver;gold"),
                Some("gold;silver"),
            ),
            (
                MultiEnumeration,
                json!(["silver", "gold"]),
                Some("silver;gold"),
            ),
            (
                Email,
                json!("  Anna.Muller@Example.COM "),
                Some("anna.muller@example.com"),
            ),
            (Phone, json!("+49  30 123456"), Some("+49 30 123456")),
            (
                Phone,
                json!("(555) 123-4567 ext. 12"),
                Some("(555) 123-4567 ext. 12"),
            ),
        ];
        for (kind, input, want) in cases {
            let got = normalise_value(&def(*kind), input);
            assert_eq!(got, Ok(want.map(str::to_string)), "{kind:?} {input}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_a_sentence() {
        use PropertyType::*;
        let cases: &[(PropertyType, Value, &str)] = &[
            (Number, json!("12,5"), "must be a number"),
            (Number, json!("abc"), "must be a number"),
            (Bool, json!("maybe"), "true or false"),
            (Date, json!("31/01/2026"), "must be a date"),
            (Datetime, json!("yesterday"), "date and time"),
            (
                Enumeration,
                json!("bronze"),
                "not an option of X. Options: gold, silver",
            ),
            (MultiEnumeration, json!("gold;bronze"), "not an option"),
            (Email, json!("not-an-email"), "not a valid email"),
            (Email, json!("anna@localhost"), "not a valid email"),
            (Email, json!("an na@example.com"), "not a valid email"),
            (Phone, json!("call me"), "phone number"),
            (String, json!({"a": 1}), "single value"),
        ];
        for (kind, input, want) in cases {
            let err = normalise_value(&def(*kind), input).unwrap_err();
            assert!(err.contains(want), "{kind:?} {input}: {err}");
        }
    }

    #[test]
    fn domains_and_names() {
        assert_eq!(
            normalise_domain(" https://WWW.Acme.com/about?x=1 "),
            "acme.com"
        );
        assert_eq!(normalise_domain("acme.co.uk:443"), "acme.co.uk");
        assert_eq!(
            name_from_label("Customer tier (2026)"),
            "customer_tier_2026"
        );
        assert_eq!(name_from_label("2nd phone"), "p_2nd_phone");
    }

    #[test]
    fn patches_report_every_field() {
        let schema = ObjectSchema::new(ObjectType::Contacts, Vec::new(), Vec::new());
        let patch: PropertyValues = [
            ("email".to_string(), json!("nope")),
            ("createdate".to_string(), json!("2026-01-01")),
            ("shoe_size".to_string(), json!("44")),
            ("firstname".to_string(), json!("Anna")),
        ]
        .into_iter()
        .collect();
        let errs = schema
            .validate_patch(&patch, &WriteOrigin::System)
            .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["createdate", "email", "shoe_size"]);
    }

    #[test]
    fn read_only_properties_are_refused_to_people_but_not_to_syncs() {
        let mut custom = prop("erp_id", "ERP id", PropertyType::String);
        custom.read_only = true;
        custom.custom = true;
        let schema = ObjectSchema::new(ObjectType::Contacts, vec![custom], Vec::new());
        let patch: PropertyValues = [("erp_id".to_string(), json!("E-1"))].into_iter().collect();
        let user = WriteOrigin::User(Uuid::nil());
        assert_eq!(
            schema.validate_patch(&patch, &user).unwrap_err()[0].field,
            "erp_id"
        );
        let sync = WriteOrigin::Sync(Uuid::nil());
        assert_eq!(
            schema.validate_patch(&patch, &sync).unwrap()["erp_id"].as_deref(),
            Some("E-1")
        );
    }

    #[test]
    fn required_properties_and_stages_are_checked() {
        let pipelines = vec![PipelineView {
            id: "default".into(),
            label: "Sales pipeline".into(),
            display_order: 0,
            stages: vec![crate::model::crm::StageView {
                id: "closedwon".into(),
                label: "Closed won".into(),
                display_order: 0,
                probability: Some(1.0),
                is_closed: true,
            }],
        }];
        let schema = ObjectSchema::new(ObjectType::Deals, Vec::new(), pipelines);
        let mut merged = BTreeMap::new();
        merged.insert("pipeline".to_string(), "default".to_string());
        merged.insert("dealstage".to_string(), "elsewhere".to_string());
        let fields: Vec<String> = schema
            .check_record(&merged, None)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["dealname", "dealstage"]);
        merged.insert("dealstage".to_string(), "closedwon".to_string());
        merged.insert("dealname".to_string(), "Big one".to_string());
        assert!(schema.check_record(&merged, None).is_empty());
    }
}
