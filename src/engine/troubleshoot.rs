//! Every reason a record can fail, be excluded or be deleted, with what it means, how to
//! fix it, and where to go — the *Troubleshoot* panel and the API's `hint`.

use super::plan;
use crate::connectors::ItemError;
use crate::hub::HubError;
use crate::model::{ReasonCode, Refusal};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Guide {
    pub code: ReasonCode,
    pub title: &'static str,
    pub what: &'static str,
    pub fix: &'static str,
    /// `settings`, `hub_record`, `app_record` or `connection`: what to open.
    pub open: &'static str,
}

const GUIDES: &[Guide] = &[
    Guide { code: ReasonCode::TypeConversion, title: "A value could not be converted",
        what: "A field holds a value that cannot be turned into the type of the field it maps to (for example text into a number).",
        fix: "Correct the value in the record, or change the mapping in the sync settings so both fields have compatible types. The record is retried when it changes.",
        open: "settings" },
    Guide { code: ReasonCode::RequiredFieldMissing, title: "A required field is empty",
        what: "The app requires this field to create or update the record, and the mapped hub property is empty.",
        fix: "Fill the property in the hub record, or map another hub property to the required field. The record is retried when it changes.",
        open: "hub_record" },
    Guide { code: ReasonCode::AppValidation, title: "The app refused the record",
        what: "The connected app checked the record and refused it; its message says which field and why.",
        fix: "Correct the value named in the message (in the hub if it flows from there), or turn off the mapping of that field. The record is retried when it changes.",
        open: "hub_record" },
    Guide { code: ReasonCode::AppNotFound, title: "The record no longer exists in the app",
        what: "The app answered that the record is gone.",
        fix: "If it was deleted on purpose, nothing needs doing; otherwise use Actions → Resync deleted records in the app.",
        open: "app_record" },
    Guide { code: ReasonCode::HubValidation, title: "The hub refused the record",
        what: "The hub checks every value against the property's type (email, number, option…); a value from the app did not pass.",
        fix: "Correct the value in the app, or change the mapping (Settings → Properties shows each hub property's type and options). The record is retried when it changes.",
        open: "app_record" },
    Guide { code: ReasonCode::HubConflict, title: "Another hub record already has this value",
        what: "The hub keeps some values unique (a contact's email); another contact already has it.",
        fix: "Merge or correct the two records, then the sync pairs them on its next change.",
        open: "hub_record" },
    Guide { code: ReasonCode::AppError, title: "The app had a temporary problem",
        what: "The app answered with an error for this record that is usually temporary.",
        fix: "Nothing: the record is retried automatically. If it keeps failing, check the app's status.",
        open: "connection" },
    Guide { code: ReasonCode::FilterNotMet, title: "Outside the sync's filters",
        what: "The record does not meet the filters set in the sync's Limit step, so it did not enter the sync at the initial sync.",
        fix: "Change the record so it meets the filters, or edit the filters; saving the settings runs the initial sync again.",
        open: "settings" },
    Guide { code: ReasonCode::Duplicate, title: "Duplicate of another record",
        what: "Another app record with the same identifier (email, company name or domain) was seen first and syncs instead of this one.",
        fix: "Merge the duplicates in the app, or give this record its own identifier.",
        open: "app_record" },
    Guide { code: ReasonCode::NoIdentifier, title: "No value to match on",
        what: "The record has no value for the sync's match key, so it cannot be matched with a record on the other side.",
        fix: "Give the record a value for the match key, or change the match key in the sync settings.",
        open: "settings" },
    Guide { code: ReasonCode::NoValidEmail, title: "No valid email address",
        what: "The sync only includes contacts with a valid email address, and this contact has none (or an invalid one).",
        fix: "Add a valid email to the contact, or untick “Sync only contacts with an email address” in the sync's Limit step.",
        open: "settings" },
    Guide { code: ReasonCode::UnmappedStage, title: "The deal's stage is not mapped",
        what: "Only deals in mapped pipeline stages sync, and this deal's stage has no partner on the other side.",
        fix: "Map the stage in the sync's Limit step (Auto-map or Map another pipeline).",
        open: "settings" },
    Guide { code: ReasonCode::Deleted, title: "Deleted on one side",
        what: "The record was deleted in the hub or in the app. Deletions are not propagated unless the sync is set to.",
        fix: "Use Actions → Resync deleted records (or More → Restore all deleted records) to create it again on the side where it was deleted.",
        open: "hub_record" },
    Guide { code: ReasonCode::Unknown, title: "The record could not sync",
        what: "Something unexpected stopped this record.",
        fix: "Retry it with Actions → Retry all failed; if it keeps failing, the message above has the details.",
        open: "settings" },
];

pub fn guide(code: ReasonCode) -> &'static Guide {
    GUIDES
        .iter()
        .find(|g| g.code == code)
        .expect("every reason code has a guide (tested)")
}

/// A failed record: what the index stores and the lists show.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    pub code: ReasonCode,
    pub message: String,
    pub field: Option<String>,
    pub hint: String,
    /// Seconds until an automatic retry, for failures that are usually temporary.
    pub retry_in: Option<f64>,
}

impl From<&plan::Failure> for RecordFailure {
    fn from(f: &plan::Failure) -> Self {
        RecordFailure {
            code: f.code(),
            message: f.to_string(),
            field: Some(f.field()),
            hint: f.hint(),
            retry_in: None,
        }
    }
}

pub fn app_refused(e: &ItemError) -> RecordFailure {
    let code = match e.code.as_str() {
        "not_found" => ReasonCode::AppNotFound,
        "error" | "internal" | "unavailable" => ReasonCode::AppError,
        _ => ReasonCode::AppValidation,
    };
    let field = e
        .field
        .as_ref()
        .map(|f| format!(" (field {f})"))
        .unwrap_or_default();
    RecordFailure {
        code,
        message: format!("The app refused the record{field}: {}", e.message),
        field: e.field.clone(),
        hint: guide(code).fix.into(),
        retry_in: (code == ReasonCode::AppError).then_some(60.0),
    }
}

pub fn hub_refused(e: &HubError) -> RecordFailure {
    let code = if matches!(e.refused(), Some(r) if r.kind == Refusal::Conflict) {
        ReasonCode::HubConflict
    } else {
        ReasonCode::HubValidation
    };
    let field = e.refused().and_then(|r| r.problem.fields.first());
    let detail = field
        .map(|f| format!("{}: {}", f.field, f.message))
        .unwrap_or_else(|| e.to_string());
    RecordFailure {
        code,
        message: format!("The hub refused the record — {detail}"),
        field: field.map(|f| f.field.clone()),
        hint: guide(code).fix.into(),
        retry_in: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_code_has_its_guide() {
        for code in ReasonCode::ALL {
            assert_eq!(guide(code).code, code);
        }
    }

    #[test]
    fn plan_codes_have_guides() {
        let f = plan::Failure::RequiredFieldMissing {
            app_field: "last_name".into(),
            hub_property: "lastname".into(),
        };
        assert_eq!(guide(f.code()).code, f.code());
        let e = plan::Exclusion::NoValidEmail {
            side: plan::Side::App,
        };
        assert_eq!(guide(e.code()).code, e.code());
    }

    #[test]
    fn app_errors_name_the_field() {
        let f = app_refused(&ItemError {
            code: "validation".into(),
            message: "email is invalid".into(),
            field: Some("email".into()),
        });
        assert_eq!(f.code, ReasonCode::AppValidation);
        assert_eq!(f.field.as_deref(), Some("email"));
        assert!(f.message.contains("email is invalid"));
    }
}
