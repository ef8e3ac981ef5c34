//! Filters: the conditions a record must meet to *enter* a sync.
//!
//! Each side has its own list; a record must meet all conditions of its side. Filters
//! decide entry only: once a record is paired it keeps syncing even if it stops matching
//! (see `decide`), so editing a record never silently cuts it off from its twin.
//!
//! Operands come from the settings form as text; the record's value and the operand are
//! compared as numbers when both read as numbers, as instants when both read as dates,
//! and otherwise as text without regard to case or surrounding whitespace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::values::{parse_datetime, parse_number, FieldType, Record, Value};

/// One condition on one field of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    #[serde(flatten)]
    pub operator: Operator,
}

/// What the condition tests: the wizard's [`FilterOp`], one enum for both. An unknown
/// (empty) value is *not equal* to anything, so `NotEquals` holds for it; it is neither
/// greater nor less than anything; `Contains` ignores case; text is never greater or less.
pub use crate::model::FilterOp as Operator;

impl Condition {
    pub fn new(field: impl Into<String>, operator: Operator) -> Self {
        Condition {
            field: field.into(),
            operator,
        }
    }

    /// Whether `record` meets this condition.
    pub fn matches(&self, record: &Record) -> bool {
        let value = Value::read_field(record, &self.field, FieldType::Text).map(|v| v.text());
        let Some(value) = value else {
            return matches!(self.operator, Operator::IsUnknown | Operator::NotEquals(_));
        };
        match &self.operator {
            Operator::IsKnown => true,
            Operator::IsUnknown => false,
            Operator::Equals(operand) => equals(&value, operand),
            Operator::NotEquals(operand) => !equals(&value, operand),
            Operator::Contains(operand) => value
                .to_lowercase()
                .contains(&operand.trim().to_lowercase()),
            Operator::InList(operands) => operands.iter().any(|o| equals(&value, o)),
            Operator::GreaterThan(operand) => {
                compare(&value, operand) == Some(std::cmp::Ordering::Greater)
            }
            Operator::LessThan(operand) => {
                compare(&value, operand) == Some(std::cmp::Ordering::Less)
            }
        }
    }
}

/// The first condition `record` does not meet, if any.
pub fn first_unmet<'c>(conditions: &'c [Condition], record: &Record) -> Option<&'c Condition> {
    conditions.iter().find(|c| !c.matches(record))
}

/// A value as filters compare it.
#[derive(Debug, PartialEq, PartialOrd)]
enum Scalar {
    Number(f64),
    Time(DateTime<Utc>),
    Text(String),
}

fn scalar(text: &str) -> Scalar {
    if let Some(x) = parse_number(text) {
        Scalar::Number(x)
    } else if let Some(t) = parse_datetime(text) {
        Scalar::Time(t)
    } else {
        Scalar::Text(text.trim().to_lowercase())
    }
}

fn equals(value: &str, operand: &str) -> bool {
    match (scalar(value), scalar(operand)) {
        (Scalar::Number(a), Scalar::Number(b)) => a == b,
        (Scalar::Time(a), Scalar::Time(b)) => a == b,
        _ => value.trim().to_lowercase() == operand.trim().to_lowercase(),
    }
}

fn compare(value: &str, operand: &str) -> Option<std::cmp::Ordering> {
    match (scalar(value), scalar(operand)) {
        (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(&b),
        (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let field = &self.field;
        match &self.operator {
            Operator::Equals(v) => write!(f, "{field} is equal to '{v}'"),
            Operator::NotEquals(v) => write!(f, "{field} is not equal to '{v}'"),
            Operator::Contains(v) => write!(f, "{field} contains '{v}'"),
            Operator::IsKnown => write!(f, "{field} is known"),
            Operator::IsUnknown => write!(f, "{field} is unknown"),
            Operator::GreaterThan(v) => write!(f, "{field} is greater than {v}"),
            Operator::LessThan(v) => write!(f, "{field} is less than {v}"),
            Operator::InList(vs) => {
                let list: Vec<String> = vs.iter().map(|v| format!("'{v}'")).collect();
                write!(f, "{field} is any of {}", list.join(", "))
            }
        }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names cite the rule: `subject__situation__outcome`
mod tests {
    use super::*;
    use serde_json::json;
    use Operator::*;

    #[test]
    fn filters__operators_numbers_and_dates_compared_as_such() {
        let record = match json!({
            "employees": "120",
            "revenue": 99.5,
            "stage": " Customer ",
            "city": "Milano",
            "signed": "2024-03-01",
            "blank": "  ",
        }) {
            serde_json::Value::Object(map) => map,
            _ => Record::new(),
        };
        let s = |v: &str| v.to_string();
        let cases = [
            ("stage", Equals(s("customer")), true),
            ("stage", Equals(s("lead")), false),
            ("employees", Equals(s("120.0")), true),
            ("stage", NotEquals(s("lead")), true),
            ("blank", NotEquals(s("lead")), true),
            ("stage", NotEquals(s("CUSTOMER")), false),
            ("city", Contains(s("LAN")), true),
            ("city", Contains(s("roma")), false),
            ("city", IsKnown, true),
            ("blank", IsKnown, false),
            ("missing", IsUnknown, true),
            ("city", IsUnknown, false),
            // "120" > "99" as numbers, though not as text.
            ("employees", GreaterThan(s("99")), true),
            ("employees", LessThan(s("99")), false),
            ("revenue", LessThan(s("100")), true),
            ("signed", GreaterThan(s("2024-02-15")), true),
            ("signed", LessThan(s("2024-02-15T00:00:00Z")), false),
            ("city", GreaterThan(s("A")), false),
            ("missing", GreaterThan(s("0")), false),
            ("stage", InList(vec![s("lead"), s("customer")]), true),
            ("stage", InList(vec![s("lead")]), false),
        ];
        for (i, (field, op, want)) in cases.into_iter().enumerate() {
            let c = Condition::new(field, op);
            assert_eq!(c.matches(&record), want, "case {i}: {c}");
        }
        let all = [
            Condition::new("city", IsKnown),
            Condition::new("employees", LessThan(s("100"))),
        ];
        assert_eq!(first_unmet(&all, &record), Some(&all[1]));
    }

    #[test]
    fn filters__stored_as_readable_json() {
        let c = Condition::new("lifecyclestage", InList(vec!["lead".into()]));
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"field":"lifecyclestage","op":"in_list","value":["lead"]}"#
        );
        let back: Result<Condition, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(c));
        let known: Result<Condition, _> = serde_json::from_str(r#"{"field":"x","op":"is_known"}"#);
        assert_eq!(known.ok(), Some(Condition::new("x", IsKnown)));
    }
}
