//! Field mappings: which hub property syncs with which app field, how, and the value
//! conversions between them.
//!
//! Two moments matter. When the admin **saves** a mapping, [`check_mapping`] refuses
//! type pairs that would fail at random later (text → number), so the mistake is shown
//! where it can be fixed. At **sync time**, [`convert`] turns one side's value into the
//! other side's type and reports, per value, why it cannot (the record then fails with
//! that field and reason). The same option map serves both: enumerations are mapped by
//! option *value*, never by label or position.

use serde::{Deserialize, Serialize};

use super::settings::{Direction, Flows, Side};
use super::values::{parse_bool, parse_date, parse_datetime, parse_number, same_option};
use super::values::{FieldType, Value};

/// When a mapping may write to the side it flows to (the wizard's enum).
pub use crate::model::WritePolicy;

/// One hub option value paired with one app option value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionPair {
    pub hub: String,
    pub app: String,
}

/// How enumeration options translate between the sides, by option value. Lookups ignore
/// case and surrounding whitespace, like option comparison everywhere in the engine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OptionMap(pub Vec<OptionPair>);

impl OptionMap {
    /// Builds a map from `(hub value, app value)` pairs.
    pub fn new<H: Into<String>, A: Into<String>>(pairs: impl IntoIterator<Item = (H, A)>) -> Self {
        OptionMap(
            pairs
                .into_iter()
                .map(|(hub, app)| OptionPair {
                    hub: hub.into(),
                    app: app.into(),
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The option value on side `to` that pairs with `value` from the other side.
    pub fn translate(&self, value: &str, to: Side) -> Option<&str> {
        self.0.iter().find_map(|pair| {
            let (from, target) = match to {
                Side::App => (&pair.hub, &pair.app),
                Side::Hub => (&pair.app, &pair.hub),
            };
            same_option(from, value).then_some(target.as_str())
        })
    }
}

/// A hub property ↔ app field mapping of one sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMapping {
    pub hub_property: String,
    pub hub_type: FieldType,
    pub app_field: String,
    pub app_type: FieldType,
    /// Narrows the sync's direction for this field; it can never widen it.
    #[serde(default)]
    pub direction: Direction,
    /// The on/off toggle; a mapping that is off is ignored entirely.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    #[serde(default)]
    pub write_policy: WritePolicy,
    /// The app field is required (`*`): creating an app record without it fails.
    #[serde(default)]
    pub required: bool,
    /// Enumeration option values hub ↔ app.
    #[serde(default)]
    pub options: OptionMap,
}

fn enabled_default() -> bool {
    true
}

impl FieldMapping {
    /// An enabled two-way mapping that always writes, not required, without options.
    pub fn new(
        hub_property: impl Into<String>,
        hub_type: FieldType,
        app_field: impl Into<String>,
        app_type: FieldType,
    ) -> Self {
        FieldMapping {
            hub_property: hub_property.into(),
            hub_type,
            app_field: app_field.into(),
            app_type,
            direction: Direction::TwoWay,
            enabled: true,
            write_policy: WritePolicy::Always,
            required: false,
            options: OptionMap::default(),
        }
    }

    /// Same type and name on both sides.
    pub fn same(name: &str, ty: FieldType) -> Self {
        FieldMapping::new(name, ty, name, ty)
    }

    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    pub fn policy(mut self, policy: WritePolicy) -> Self {
        self.write_policy = policy;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    pub fn options(mut self, options: OptionMap) -> Self {
        self.options = options;
        self
    }

    /// The field name on `side`.
    pub fn field(&self, side: Side) -> &str {
        match side {
            Side::Hub => &self.hub_property,
            Side::App => &self.app_field,
        }
    }

    /// The field type on `side`.
    pub fn field_type(&self, side: Side) -> FieldType {
        match side {
            Side::Hub => self.hub_type,
            Side::App => self.app_type,
        }
    }

    /// Where this mapping's values may flow within a sync of direction `sync`.
    pub fn flows(&self, sync: Direction) -> Flows {
        if self.enabled {
            Flows::of(sync, self.direction)
        } else {
            Flows::default()
        }
    }

    /// Converts a value read on the side opposite `to` into `to`'s type.
    pub fn convert_to(&self, to: Side, value: &Value) -> Result<Value, String> {
        convert(value, self.field_type(to), &self.options, to)
    }
}

/// A field on one side, for messages: "hub property 'email'", "app field 'Email'".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRef {
    pub side: Side,
    pub name: String,
}

impl FieldRef {
    pub fn new(side: Side, name: &str) -> Self {
        FieldRef {
            side,
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for FieldRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.side {
            Side::Hub => write!(f, "hub property '{}'", self.name),
            Side::App => write!(f, "app field '{}'", self.name),
        }
    }
}

/// Why a mapping cannot be saved. Each says what is wrong and, via [`hint`], what to do.
///
/// [`hint`]: MappingError::hint
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error("{from} is {from_type} and {to} is {to_type}: {why}.")]
    Incompatible {
        from: FieldRef,
        from_type: FieldType,
        to: FieldRef,
        to_type: FieldType,
        why: String,
    },
    #[error("{from} and {to} have options: map each option of {from} to an option of {to}.")]
    OptionsNotMapped { from: FieldRef, to: FieldRef },
    #[error("Option '{option}' of {from} is mapped to several options of {to}: {}.", .targets.join(", "))]
    AmbiguousOption {
        from: FieldRef,
        to: FieldRef,
        option: String,
        /// The options it is mapped to, quoted.
        targets: Vec<String>,
    },
    #[error("{field} is written by more than one mapping.")]
    DuplicateTarget { field: FieldRef },
}

impl MappingError {
    /// A stable code for the API and the troubleshooting guide.
    pub fn code(&self) -> &'static str {
        match self {
            MappingError::Incompatible { .. } => "mapping_incompatible_types",
            MappingError::OptionsNotMapped { .. } => "mapping_options_not_mapped",
            MappingError::AmbiguousOption { .. } => "mapping_ambiguous_option",
            MappingError::DuplicateTarget { .. } => "mapping_duplicate_target",
        }
    }

    /// What the admin can do about it.
    pub fn hint(&self) -> String {
        match self {
            MappingError::Incompatible { from, to, .. } => format!(
                "Pick a field of a compatible type, or set this mapping's direction so it only \
                 syncs to the {} (values then only flow from {to}).",
                from.side
            ),
            MappingError::OptionsNotMapped { .. } => {
                "Open the option map of this mapping and pair the options.".to_string()
            }
            MappingError::AmbiguousOption { option, .. } => {
                format!("Keep one pair for option '{option}' in the option map.")
            }
            MappingError::DuplicateTarget { .. } => {
                "Turn one of the mappings off, or map it to another field.".to_string()
            }
        }
    }
}

/// Whether values of one type can be written into a field of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compatibility {
    Yes,
    /// Only through an option map (enumeration ↔ enumeration, yes/no ↔ enumeration).
    NeedsOptions,
    No(String),
}

/// The save-time type rules. Conversions that *always* work are allowed (number → text,
/// date → date-time); conversions that work only for some values are refused (text →
/// number), because they would fail records at random later.
pub fn compatibility(from: FieldType, to: FieldType) -> Compatibility {
    use FieldType::*;
    match (from, to) {
        (Enumeration, Enumeration) | (Bool, Enumeration) | (Enumeration, Bool) => {
            Compatibility::NeedsOptions
        }
        (a, b) if a == b => Compatibility::Yes,
        (_, Text) => Compatibility::Yes,
        (Date, DateTime) => Compatibility::Yes,
        // Keeps the UTC calendar day; the time of day is dropped.
        (DateTime, Date) => Compatibility::Yes,
        (Text, Number) => Compatibility::No(
            "text cannot be converted to a number (a value like 'n/a' or '12 units' would fail)"
                .to_string(),
        ),
        (Text, _) => Compatibility::No(format!(
            "free text cannot be converted to {} reliably",
            to.label()
        )),
        (a, b) => Compatibility::No(format!(
            "{} cannot be converted to {}",
            a.label(),
            b.label()
        )),
    }
}

/// Checks one mapping when it is saved, for the flows it will have within a sync of
/// direction `sync`. A mapping that is off is still checked: turning it on must not need
/// another check.
pub fn check_mapping(mapping: &FieldMapping, sync: Direction) -> Result<(), MappingError> {
    let flows = Flows::of(sync, mapping.direction);
    for to in [Side::Hub, Side::App] {
        if !flows.writes_to(to) {
            continue;
        }
        let from = to.other();
        let from_ref = FieldRef::new(from, mapping.field(from));
        let to_ref = FieldRef::new(to, mapping.field(to));
        match compatibility(mapping.field_type(from), mapping.field_type(to)) {
            Compatibility::Yes => {}
            Compatibility::No(why) => {
                return Err(MappingError::Incompatible {
                    from: from_ref,
                    from_type: mapping.field_type(from),
                    to: to_ref,
                    to_type: mapping.field_type(to),
                    why,
                })
            }
            Compatibility::NeedsOptions => {
                if mapping.options.is_empty() {
                    return Err(MappingError::OptionsNotMapped {
                        from: from_ref,
                        to: to_ref,
                    });
                }
                check_options_are_a_function(&mapping.options, from_ref, to_ref)?;
            }
        }
    }
    Ok(())
}

/// Each source option must translate to exactly one target option.
fn check_options_are_a_function(
    options: &OptionMap,
    from: FieldRef,
    to: FieldRef,
) -> Result<(), MappingError> {
    let side_of = |pair: &OptionPair, side: Side| match side {
        Side::Hub => pair.hub.clone(),
        Side::App => pair.app.clone(),
    };
    for (i, a) in options.0.iter().enumerate() {
        for b in &options.0[i + 1..] {
            let (a_from, b_from) = (side_of(a, from.side), side_of(b, from.side));
            let (a_to, b_to) = (side_of(a, to.side), side_of(b, to.side));
            if same_option(&a_from, &b_from) && !same_option(&a_to, &b_to) {
                return Err(MappingError::AmbiguousOption {
                    from,
                    to,
                    option: a_from,
                    targets: vec![format!("'{a_to}'"), format!("'{b_to}'")],
                });
            }
        }
    }
    Ok(())
}

/// Checks all the mappings of a sync when its settings are saved: each enabled mapping,
/// and that no field is written by two enabled mappings. Returns every problem found.
pub fn check_mappings(mappings: &[FieldMapping], sync: Direction) -> Result<(), Vec<MappingError>> {
    let mut errors: Vec<MappingError> = mappings
        .iter()
        .filter(|m| m.enabled)
        .filter_map(|m| check_mapping(m, sync).err())
        .collect();
    for side in [Side::Hub, Side::App] {
        let mut written: Vec<&str> = Vec::new();
        for m in mappings.iter().filter(|m| m.flows(sync).writes_to(side)) {
            let field = m.field(side);
            if written.contains(&field) {
                let duplicate = MappingError::DuplicateTarget {
                    field: FieldRef::new(side, field),
                };
                if !errors.contains(&duplicate) {
                    errors.push(duplicate);
                }
            } else {
                written.push(field);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Converts `value` into a field of type `to` on side `to_side`, translating options
/// through `options` when either end is an enumeration. The error is a reason for the
/// admin ("'abc' is not a number").
pub fn convert(
    value: &Value,
    to: FieldType,
    options: &OptionMap,
    to_side: Side,
) -> Result<Value, String> {
    let translated;
    let value = if !options.is_empty()
        && (to == FieldType::Enumeration || matches!(value, Value::Enumeration(_)))
    {
        let text = value.text();
        let Some(target) = options.translate(&text, to_side) else {
            return Err(format!(
                "option '{text}' has no counterpart in the option map of this mapping"
            ));
        };
        translated = Value::Enumeration(target.to_string());
        &translated
    } else {
        value
    };
    let text = value.text();
    let converted = match (to, value) {
        (FieldType::Text, _) => Some(Value::Text(text.clone())),
        (FieldType::Enumeration, _) => Some(Value::Enumeration(text.clone())),
        (FieldType::Number, Value::Number(x)) => Some(Value::Number(*x)),
        (FieldType::Number, Value::Text(_) | Value::Enumeration(_)) => {
            parse_number(&text).map(Value::Number)
        }
        (FieldType::Bool, Value::Bool(b)) => Some(Value::Bool(*b)),
        (FieldType::Bool, Value::Text(_) | Value::Enumeration(_)) => {
            parse_bool(&text).map(Value::Bool)
        }
        (FieldType::Date, Value::Date(d)) => Some(Value::Date(*d)),
        (FieldType::Date, Value::DateTime(t)) => Some(Value::Date(t.date_naive())),
        (FieldType::Date, Value::Text(_)) => parse_date(&text).map(Value::Date),
        (FieldType::DateTime, Value::DateTime(t)) => Some(Value::DateTime(*t)),
        (FieldType::DateTime, Value::Date(_) | Value::Text(_)) => {
            parse_datetime(&text).map(Value::DateTime)
        }
        _ => None,
    };
    converted.ok_or_else(|| format!("'{text}' is not {}", to.label()))
}

#[cfg(test)]
#[allow(non_snake_case)] // test names cite the rule: `subject__situation__outcome`
mod tests {
    use super::*;
    use FieldType::*;

    #[test]
    fn mapping_saved__type_compatibility_rules() {
        let options = OptionMap::new([("lead", "L")]);
        // (hub type, app type, direction, options, accepted, code when refused)
        let cases: &[(FieldType, FieldType, Direction, bool, Option<&str>)] = &[
            (Number, Text, Direction::ToApp, false, None),
            (
                Number,
                Text,
                Direction::TwoWay,
                false,
                Some("mapping_incompatible_types"),
            ),
            (
                Number,
                Text,
                Direction::ToHub,
                false,
                Some("mapping_incompatible_types"),
            ),
            (Text, Number, Direction::ToHub, false, None),
            (
                Text,
                Number,
                Direction::ToApp,
                false,
                Some("mapping_incompatible_types"),
            ),
            (
                Enumeration,
                Enumeration,
                Direction::TwoWay,
                false,
                Some("mapping_options_not_mapped"),
            ),
            (Enumeration, Enumeration, Direction::TwoWay, true, None),
            (Enumeration, Text, Direction::ToApp, false, None),
            (
                Text,
                Enumeration,
                Direction::ToApp,
                false,
                Some("mapping_incompatible_types"),
            ),
            (Bool, Bool, Direction::TwoWay, false, None),
            (Bool, Text, Direction::ToApp, false, None),
            (
                Text,
                Bool,
                Direction::ToApp,
                false,
                Some("mapping_incompatible_types"),
            ),
            (Bool, Enumeration, Direction::ToApp, true, None),
            (Date, DateTime, Direction::TwoWay, false, None),
            (
                Date,
                Number,
                Direction::ToApp,
                false,
                Some("mapping_incompatible_types"),
            ),
            (DateTime, Text, Direction::ToApp, false, None),
        ];
        for (i, (hub, app, direction, with_options, refused)) in cases.iter().enumerate() {
            let mut m = FieldMapping::new("h", *hub, "a", *app).direction(*direction);
            if *with_options {
                m = m.options(options.clone());
            }
            let got = check_mapping(&m, Direction::TwoWay).err().map(|e| e.code());
            assert_eq!(got, *refused, "case {i}: {hub:?} → {app:?} {direction:?}");
        }
    }

    #[test]
    fn mapping_saved__text_to_number_refused_with_clear_message() {
        let m = FieldMapping::new("employees", Number, "Employees", Text);
        let err = check_mapping(&m, Direction::TwoWay).expect_err("text → number is refused");
        assert_eq!(
            err.to_string(),
            "app field 'Employees' is text and hub property 'employees' is a number: text cannot \
             be converted to a number (a value like 'n/a' or '12 units' would fail)."
        );
        assert!(
            err.hint().contains("only syncs to the app"),
            "{}",
            err.hint()
        );
    }

    #[test]
    fn mapping_saved__option_map_must_translate_each_option_once() {
        let m = FieldMapping::same("stage", Enumeration)
            .options(OptionMap::new([("lead", "L"), ("Lead", "Q")]));
        let err = check_mapping(&m, Direction::TwoWay).expect_err("ambiguous");
        assert_eq!(err.code(), "mapping_ambiguous_option");
        // Two hub options onto one app option is fine one-way to the app…
        let m = FieldMapping::same("stage", Enumeration)
            .options(OptionMap::new([("lead", "L"), ("new", "L")]))
            .direction(Direction::ToApp);
        assert_eq!(check_mapping(&m, Direction::TwoWay), Ok(()));
        // …but not two-way: an app 'L' could not be translated back.
        let m = m.direction(Direction::TwoWay);
        assert!(check_mapping(&m, Direction::TwoWay).is_err());
    }

    #[test]
    fn mapping_saved__two_mappings_writing_one_field_refused() {
        let mappings = [
            FieldMapping::new("firstname", Text, "name", Text),
            FieldMapping::new("lastname", Text, "name", Text),
            FieldMapping::new("nickname", Text, "name", Text).disabled(),
        ];
        let errors = check_mappings(&mappings, Direction::TwoWay).expect_err("duplicate");
        let codes: Vec<_> = errors.iter().map(|e| (e.code(), e.to_string())).collect();
        assert_eq!(
            codes,
            [(
                "mapping_duplicate_target",
                "app field 'name' is written by more than one mapping.".to_string()
            )]
        );
        // One way to the hub, nothing writes the app field twice.
        assert!(check_mappings(&mappings[..1], Direction::ToHub).is_ok());
    }

    #[test]
    fn sync_time__conversion_succeeds_or_names_the_reason() {
        let opts = OptionMap::new([("customer", "C"), ("true", "Yes"), ("false", "No")]);
        let num = |x| Value::Number(x);
        let text = |s: &str| Value::Text(s.into());
        let cases: Vec<(Value, FieldType, Side, Result<Value, &str>)> = vec![
            (num(12.0), Text, Side::App, Ok(text("12"))),
            (num(12.5), Text, Side::App, Ok(text("12.5"))),
            (text(" 42 "), Number, Side::Hub, Ok(num(42.0))),
            (
                text("forty"),
                Number,
                Side::Hub,
                Err("'forty' is not a number"),
            ),
            (
                Value::Enumeration("Customer".into()),
                Enumeration,
                Side::App,
                Ok(Value::Enumeration("C".into())),
            ),
            (
                Value::Enumeration("c".into()),
                Enumeration,
                Side::Hub,
                Ok(Value::Enumeration("customer".into())),
            ),
            (
                Value::Enumeration("vip".into()),
                Enumeration,
                Side::App,
                Err("option 'vip' has no counterpart in the option map of this mapping"),
            ),
            (
                Value::Bool(true),
                Enumeration,
                Side::App,
                Ok(Value::Enumeration("Yes".into())),
            ),
            (
                Value::Enumeration("no".into()),
                Bool,
                Side::Hub,
                Ok(Value::Bool(false)),
            ),
            (
                text("2024-02-30"),
                Date,
                Side::Hub,
                Err("'2024-02-30' is not a date"),
            ),
        ];
        for (i, (value, to, side, want)) in cases.into_iter().enumerate() {
            let got = convert(&value, to, &opts, side);
            match want {
                Ok(v) => assert!(
                    got.as_ref().is_ok_and(|g| g.same_as(&v) && g == &v),
                    "case {i}: {got:?}"
                ),
                Err(reason) => assert_eq!(got, Err(reason.to_string()), "case {i}"),
            }
        }
    }
}
