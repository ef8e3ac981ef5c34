//! Property values as the sync engine sees them.
//!
//! Records arrive as JSON from the hub and from connectors, and apps are sloppy: a number
//! field may come back as `"12.50"`, an option as `"CUSTOMER"`, a name with a trailing
//! space. If the engine compared raw JSON, every such echo of its own write would look
//! like an edit and be written back (ping-pong). So every value is first *read* into a
//! [`Value`] using the field's declared [`FieldType`], and compared with
//! [`Value::same_as`], which is equality *for sync purposes*:
//!
//! * surrounding whitespace never counts, and `\r\n` equals `\n`;
//! * **an empty value is the same as an absent one**: `null`, `""`, whitespace, `[]`
//!   all read as `None`. Apps rarely distinguish "cleared" from "never set", and
//!   treating them alike keeps a cleared field from bouncing between `""` and `null`;
//! * numbers compare as numbers (`"12"`, `12`, `12.0` are one value);
//! * enumeration options compare without regard to case (`"Lead"` = `"lead"`);
//! * dates and date-times compare as instants, whatever their text form.
//!
//! Reading never fails: a value that does not fit its declared type (`"abc"` in a number
//! field) is kept as [`Value::Text`], so change detection still works, and the failure
//! surfaces only if that value has to be converted and written somewhere.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A record as read from either side: field name → JSON value.
pub type Record = serde_json::Map<String, serde_json::Value>;

pub use crate::model::FieldType;

/// A non-empty property value. Emptiness is `Option::None` around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Text(String),
    /// Always finite.
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// An enumeration option value, as the side spells it.
    Enumeration(String),
}

impl Value {
    /// Reads a JSON value as a field of type `ty`. `None` means empty (see module docs).
    pub fn read(ty: FieldType, json: &serde_json::Value) -> Option<Value> {
        use serde_json::Value as J;
        let text = match json {
            J::Null => return None,
            J::String(s) => clean_text(s)?,
            J::Array(items) if items.is_empty() => return None,
            J::Array(_) | J::Object(_) => return Some(Value::Text(json.to_string())),
            J::Bool(b) => {
                return Some(match ty {
                    FieldType::Text => Value::Text(b.to_string()),
                    FieldType::Enumeration => Value::Enumeration(b.to_string()),
                    _ => Value::Bool(*b),
                })
            }
            J::Number(n) => {
                let Some(x) = n.as_f64().filter(|x| x.is_finite()) else {
                    return Some(Value::Text(n.to_string()));
                };
                return Some(match ty {
                    FieldType::Text => Value::Text(format_number(x)),
                    FieldType::Enumeration => Value::Enumeration(format_number(x)),
                    FieldType::Bool if x == 0.0 || x == 1.0 => Value::Bool(x == 1.0),
                    FieldType::Date => epoch_millis(x)
                        .map(|t| Value::Date(t.date_naive()))
                        .unwrap_or(Value::Number(x)),
                    FieldType::DateTime => epoch_millis(x)
                        .map(Value::DateTime)
                        .unwrap_or(Value::Number(x)),
                    _ => Value::Number(x),
                });
            }
        };
        // A string: parse it as the declared type, or keep it as text.
        let parsed = match ty {
            FieldType::Text => None,
            FieldType::Enumeration => return Some(Value::Enumeration(text)),
            FieldType::Number => parse_number(&text).map(Value::Number),
            FieldType::Bool => parse_bool(&text).map(Value::Bool),
            FieldType::Date => parse_date(&text).map(Value::Date),
            FieldType::DateTime => parse_datetime(&text).map(Value::DateTime),
        };
        Some(parsed.unwrap_or(Value::Text(text)))
    }

    /// Reads field `field` of `record` as type `ty`; a missing field is empty.
    pub fn read_field(record: &Record, field: &str, ty: FieldType) -> Option<Value> {
        record.get(field).and_then(|json| Value::read(ty, json))
    }

    /// Equality for sync purposes (see module docs). Values of different variants are
    /// compared through their text form, numbers numerically.
    pub fn same_as(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Text(a), Text(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (DateTime(a), DateTime(b)) => a == b,
            (Enumeration(a), Enumeration(b)) => same_option(a, b),
            (Number(x), other) | (other, Number(x)) => {
                parse_number(&other.text()).is_some_and(|y| y == *x)
            }
            (Enumeration(_), _) | (_, Enumeration(_)) | (Bool(_), _) | (_, Bool(_)) => {
                same_option(&self.text(), &other.text())
            }
            _ => self.text() == other.text(),
        }
    }

    /// Sync equality of two possibly empty values.
    pub fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same_as(b),
            _ => false,
        }
    }

    /// The canonical text form: numbers without a needless `.0`, dates as ISO 8601.
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) | Value::Enumeration(s) => s.clone(),
            Value::Number(x) => format_number(*x),
            Value::Bool(b) => b.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }

    /// The JSON to send when writing this value: numbers as JSON numbers (integers when
    /// integral), dates as ISO 8601 strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Number(x) => number_json(*x),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            _ => serde_json::Value::String(self.text()),
        }
    }

    /// The JSON to send for a possibly empty value; empty clears the field (`null`).
    pub fn json_or_null(value: Option<&Value>) -> serde_json::Value {
        value.map_or(serde_json::Value::Null, Value::to_json)
    }
}

/// Trimmed text with `\r\n` as `\n`, or `None` when nothing is left.
fn clean_text(s: &str) -> Option<String> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.contains('\r') {
        Some(trimmed.replace("\r\n", "\n"))
    } else {
        Some(trimmed.to_string())
    }
}

/// Option values compare trimmed and without regard to case.
pub(super) fn same_option(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        // The common case, without allocating.
        a.eq_ignore_ascii_case(b)
    } else {
        a == b || a.to_lowercase() == b.to_lowercase()
    }
}

/// Parses a number written as text: `12`, `-3.5`, `+1e3`. Not `NaN`, not infinity, and
/// no thousands separators (their meaning depends on the locale).
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust also accepts "inf" and "NaN"; a CRM number never means those.
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    f64::from_str(s).ok().filter(|x| x.is_finite())
}

/// `true/false`, `yes/no`, `1/0`, `on/off`, in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "true" | "yes" | "1" | "on" | "y" => Some(true),
        "false" | "no" | "0" | "off" | "n" => Some(false),
        _ => None,
    }
}

/// A calendar date: `YYYY-MM-DD`, or the UTC date of a date-time.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_datetime(s).map(|t| t.date_naive()))
}

/// An instant: RFC 3339, a zone-less `YYYY-MM-DD[T ]HH:MM[:SS]` taken as UTC, or a bare
/// date taken as midnight UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// Epoch milliseconds (how many CRMs, HubSpot included, send dates), if plausible.
fn epoch_millis(x: f64) -> Option<DateTime<Utc>> {
    if x.fract() != 0.0 || x.abs() > 1.0e15 {
        return None;
    }
    // Within ±1e15 ms the cast is exact.
    Utc.timestamp_millis_opt(x as i64).single()
}

/// The shortest text that reads back as the same number; integral values without `.0`.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        // Exact: integral and well within i64 and f64's integer range.
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn number_json(x: f64) -> serde_json::Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        serde_json::Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_values_read_as_absent() {
        for json in [json!(null), json!(""), json!("   "), json!([])] {
            for ty in [FieldType::Text, FieldType::Number, FieldType::Enumeration] {
                assert_eq!(Value::read(ty, &json), None, "{json} as {ty:?}");
            }
        }
    }

    #[test]
    fn numbers_as_text_are_numbers() {
        let cases = [
            json!(12),
            json!("12"),
            json!(" 12.0 "),
            json!(12.0),
            json!("1.2e1"),
        ];
        for json in cases {
            let v = Value::read(FieldType::Number, &json);
            assert_eq!(v, Some(Value::Number(12.0)), "{json}");
        }
        // Not a number: kept as text so the failure surfaces only when converting.
        assert_eq!(
            Value::read(FieldType::Number, &json!("twelve")),
            Some(Value::Text("twelve".into()))
        );
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn sync_equality_is_robust() {
        let n = |j| Value::read(FieldType::Number, &j);
        let t = |j| Value::read(FieldType::Text, &j);
        let e = |j| Value::read(FieldType::Enumeration, &j);
        let d = |j| Value::read(FieldType::DateTime, &j);
        let cases = [
            (n(json!("12")), n(json!(12)), true),
            (n(json!("12.50")), n(json!(12.5)), true),
            (n(json!(12)), n(json!(13)), false),
            (t(json!("Ann ")), t(json!("Ann")), true),
            (t(json!("Ann")), t(json!("ann")), false),
            (t(json!("a\r\nb")), t(json!("a\nb")), true),
            (e(json!("Lead")), e(json!("LEAD")), true),
            (e(json!("lead")), e(json!("customer")), false),
            (t(json!("")), None, true),
            (
                d(json!("2024-01-02T10:00:00+02:00")),
                d(json!("2024-01-02T08:00:00Z")),
                true,
            ),
            (
                d(json!(1_704_067_200_000_i64)),
                d(json!("2024-01-01")),
                true,
            ),
            // Mixed variants: a number stored as free text.
            (n(json!(12)), t(json!("12.0")), true),
        ];
        for (i, (a, b, same)) in cases.iter().enumerate() {
            assert_eq!(
                Value::same(a.as_ref(), b.as_ref()),
                *same,
                "case {i}: {a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn written_json_reads_back_as_the_same_value() {
        let values = [
            (FieldType::Number, Value::Number(12.0)),
            (FieldType::Number, Value::Number(-0.25)),
            (
                FieldType::Date,
                Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default()),
            ),
            (FieldType::Bool, Value::Bool(false)),
            (FieldType::Enumeration, Value::Enumeration("Lead".into())),
        ];
        for (ty, v) in values {
            let back = Value::read(ty, &v.to_json());
            assert!(Value::same(back.as_ref(), Some(&v)), "{v:?} → {back:?}");
        }
        assert_eq!(Value::Number(12.0).to_json(), json!(12));
    }
}
