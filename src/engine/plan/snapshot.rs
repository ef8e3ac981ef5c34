//! The snapshot: what each side held for each mapped field after the last successful sync.
//!
//! It is the memory that turns "the two sides differ" into "*this* side changed": a
//! field whose current value is the same (for sync purposes) as its snapshot value has
//! not changed on that side. Values are stored per side and per field name, as that side
//! holds them (after conversion), because the two sides may legitimately differ (an
//! option value `C` in the app is `customer` in the hub; a field one side may not write).
//!
//! Empty values are not stored: absent means empty, as everywhere in the engine. The
//! index keeps a snapshot as JSON next to the pair and replaces it only after the writes
//! of a decision succeeded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::settings::Side;
use super::values::Value;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Hub property → value.
    #[serde(default)]
    pub hub: BTreeMap<String, Value>,
    /// App field → value.
    #[serde(default)]
    pub app: BTreeMap<String, Value>,
    /// Which side's record the sync created, if it created one (shown in the record
    /// detail, and tells a pair made by the sync from one made by matching).
    #[serde(default)]
    pub created_by_sync: Option<Side>,
}

impl Snapshot {
    pub fn values(&self, side: Side) -> &BTreeMap<String, Value> {
        match side {
            Side::Hub => &self.hub,
            Side::App => &self.app,
        }
    }

    /// The last synced value of `field` on `side`; `None` when empty or never synced.
    pub fn get(&self, side: Side, field: &str) -> Option<&Value> {
        self.values(side).get(field)
    }

    /// Sets (or, for `None`, forgets) the value of `field` on `side`.
    pub fn set(&mut self, side: Side, field: &str, value: Option<Value>) {
        let values = match side {
            Side::Hub => &mut self.hub,
            Side::App => &mut self.app,
        };
        match value {
            Some(v) => {
                values.insert(field.to_string(), v);
            }
            None => {
                values.remove(field);
            }
        }
    }
}
