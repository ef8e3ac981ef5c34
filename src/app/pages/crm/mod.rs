//! Hub CRM pages: a list per object type (search, sortable columns, keyset paging,
//! "Show archived", the create dialog) and the record page (inline editing,
//! associations, timeline, archive and restore).

mod create;
mod fields;
mod list;
mod record;

pub use list::CrmListPage;
pub use record::CrmRecordPage;

/// Percent-encodes a query-string value.
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// "2026-01-31 10:00" from a timestamp.
pub(crate) fn short_time(d: chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%d %H:%M").to_string()
}
