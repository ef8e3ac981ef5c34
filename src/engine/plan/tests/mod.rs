//! Tests of `decide`: one table-driven test per rule of SPEC §2, each named after the
//! rule it checks (`rules`), and property tests that replay random edit sequences
//! through the decision (`properties`).
//!
//! The helpers model what the runner does around `decide`: two in-memory sides, writes
//! applied to them, and the snapshot stored only after the writes.

mod properties;
mod rules;

use super::{decide, Decision, Pairing, Record, Snapshot, SyncSettings, Write, WriteKind};

/// A JSON object literal as a record (anything else is an empty record).
pub(super) fn rec(value: serde_json::Value) -> Record {
    match value {
        serde_json::Value::Object(map) => map,
        _ => Record::new(),
    }
}

/// Applies a write the way a tolerant app does: `null` clears the field.
pub(super) fn apply(record: &mut Record, write: &Write) {
    for (field, value) in &write.values {
        if value.is_null() {
            record.remove(field);
        } else {
            record.insert(field.clone(), value.clone());
        }
    }
}

/// Both sides of one record and the index row the runner would keep for it.
#[derive(Debug, Clone, Default)]
pub(super) struct Pair {
    pub hub: Option<Record>,
    pub app: Option<Record>,
    pub snapshot: Option<Snapshot>,
}

impl Pair {
    pub fn new(hub: Option<serde_json::Value>, app: Option<serde_json::Value>) -> Self {
        Pair {
            hub: hub.map(rec),
            app: app.map(rec),
            snapshot: None,
        }
    }

    /// What the runner passes as pairing: paired once a snapshot is stored.
    pub fn decide(&self, settings: &SyncSettings) -> Decision {
        let pairing = match &self.snapshot {
            Some(s) => Pairing::Paired(s),
            None => Pairing::New,
        };
        decide(settings, self.hub.as_ref(), self.app.as_ref(), pairing)
    }

    /// Decides, carries out the writes (through `store` for each side, which may mangle
    /// values like a real app) and stores the snapshot. Returns the decision.
    pub fn sync_with(
        &mut self,
        settings: &SyncSettings,
        store: impl Fn(&mut Record, &Write),
    ) -> Decision {
        let decision = self.decide(settings);
        if let Decision::Sync(plan) = &decision {
            for (side, write) in [(&mut self.hub, &plan.hub), (&mut self.app, &plan.app)] {
                if let Some(write) = write {
                    let record = side.get_or_insert_with(Record::new);
                    if write.kind == WriteKind::Create {
                        record.clear();
                    }
                    store(record, write);
                }
            }
            self.snapshot = Some(plan.snapshot.clone());
        }
        decision
    }

    pub fn sync(&mut self, settings: &SyncSettings) -> Decision {
        self.sync_with(settings, apply)
    }

    /// Replaces fields of the hub record (a `null` clears).
    pub fn edit_hub(&mut self, edit: serde_json::Value) {
        edit_record(self.hub.get_or_insert_with(Record::new), edit);
    }

    pub fn edit_app(&mut self, edit: serde_json::Value) {
        edit_record(self.app.get_or_insert_with(Record::new), edit);
    }
}

fn edit_record(record: &mut Record, edit: serde_json::Value) {
    for (field, value) in rec(edit) {
        if value.is_null() {
            record.remove(&field);
        } else {
            record.insert(field, value);
        }
    }
}
