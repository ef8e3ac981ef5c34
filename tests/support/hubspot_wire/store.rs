//! The portal's records in memory: one table per object type, the contact email index, an
//! index by (last-modified, id) for search, the symmetric association links, and the list of
//! changes that the webhook queue turns into events.

use crate::error::ApiError;
use crate::schema::{iso, ObjectType, PIPELINE_ID};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A record by object type and id.
pub type Ref = (ObjectType, u64);

pub struct Record {
    pub id: u64,
    pub props: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
}

impl Record {
    /// A property's value; the built-ins are computed from the record itself.
    pub fn value(&self, obj: ObjectType, name: &str) -> Option<String> {
        match name {
            "hs_object_id" => Some(self.id.to_string()),
            "createdate" => Some(iso(self.created_ms)),
            n if n == obj.modified_property() => Some(iso(self.updated_ms)),
            n => self.props.get(n).cloned(),
        }
    }
}

#[derive(Default)]
pub struct Table {
    /// Every record, archived ones included, in id order.
    pub records: BTreeMap<u64, Record>,
    /// (last-modified ms, id) of the records that are not archived.
    pub by_modified: BTreeSet<(i64, u64)>,
    next_id: u64,
    /// Lower-cased email to contact id, for records that are not archived.
    by_email: HashMap<String, u64>,
}

impl Table {
    pub fn active(&self, id: u64) -> Option<&Record> {
        self.records.get(&id).filter(|r| r.archived_ms.is_none())
    }

    fn set_updated(&mut self, id: u64, ms: i64) {
        if let Some(r) = self.records.get_mut(&id) {
            if r.archived_ms.is_none() {
                self.by_modified.remove(&(r.updated_ms, id));
                self.by_modified.insert((ms, id));
            }
            r.updated_ms = ms;
        }
    }
}

/// What an API write did, for the webhook queue.
pub enum Change {
    Created(Ref),
    Property {
        target: Ref,
        name: String,
        value: String,
    },
    Deleted(Ref),
    Association {
        from: Ref,
        to: Ref,
        removed: bool,
    },
}

#[derive(Default)]
pub struct Store {
    tables: [Table; 3],
    links: HashMap<Ref, BTreeSet<Ref>>,
    changes: Vec<Change>,
}

impl Store {
    pub fn table(&self, obj: ObjectType) -> &Table {
        &self.tables[obj.index()]
    }

    fn table_mut(&mut self, obj: ObjectType) -> &mut Table {
        &mut self.tables[obj.index()]
    }

    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    pub fn exists(&self, r: Ref) -> bool {
        self.table(r.0).active(r.1).is_some()
    }

    pub fn email_owner(&self, email: &str) -> Option<u64> {
        self.table(ObjectType::Contacts)
            .by_email
            .get(&email.to_lowercase())
            .copied()
    }

    /// Finds an active record by id, or by `idProperty` (only `email` is unique here).
    pub fn resolve(
        &self,
        obj: ObjectType,
        id: &str,
        id_property: Option<&str>,
    ) -> Result<Option<u64>, ApiError> {
        match id_property {
            None | Some("hs_object_id") => Ok(id
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| self.table(obj).active(*n).is_some())),
            Some("email") if obj == ObjectType::Contacts => Ok(self.email_owner(id)),
            Some(other) => Err(ApiError::validation(format!(
                "Property {other} is not a unique identifier property for {}; use email or hs_object_id.",
                obj.name()
            ))),
        }
    }

    /// Inserts a record; API writes (`notify`) queue its creation and, as HubSpot sends a
    /// propertyChange for each value a create sets, one per property.
    pub fn insert(
        &mut self,
        obj: ObjectType,
        mut props: BTreeMap<String, String>,
        now: i64,
        notify: bool,
    ) -> u64 {
        // A deal given a stage but no pipeline lands in the default pipeline, as in HubSpot.
        if obj == ObjectType::Deals
            && props.contains_key("dealstage")
            && !props.contains_key("pipeline")
        {
            props.insert("pipeline".into(), PIPELINE_ID.into());
        }
        let table = self.table_mut(obj);
        table.next_id += 1;
        let id = table.next_id;
        if let Some(email) = props.get("email") {
            table.by_email.insert(email.to_lowercase(), id);
        }
        table.by_modified.insert((now, id));
        if notify {
            self.changes.push(Change::Created((obj, id)));
            for (name, value) in &props {
                self.changes.push(Change::Property {
                    target: (obj, id),
                    name: name.clone(),
                    value: value.clone(),
                });
            }
        }
        let record = Record {
            id,
            props,
            created_ms: now,
            updated_ms: now,
            archived_ms: None,
        };
        self.table_mut(obj).records.insert(id, record);
        id
    }

    /// Applies checked values (`None` clears); only real changes bump last-modified.
    pub fn update(
        &mut self,
        obj: ObjectType,
        id: u64,
        values: &BTreeMap<String, Option<String>>,
        now: i64,
    ) {
        let table = self.table_mut(obj);
        let Some(record) = table.records.get_mut(&id) else {
            return;
        };
        let mut changed = Vec::new();
        for (name, value) in values {
            if record.props.get(name) == value.as_ref() {
                continue;
            }
            let old = match value {
                Some(v) => record.props.insert(name.clone(), v.clone()),
                None => record.props.remove(name),
            };
            changed.push((name.clone(), old, value.clone()));
        }
        if changed.is_empty() {
            return;
        }
        for (name, old, new) in &changed {
            if name == "email" {
                if let Some(old) = old {
                    table.by_email.remove(&old.to_lowercase());
                }
                if let Some(new) = new {
                    table.by_email.insert(new.to_lowercase(), id);
                }
            }
        }
        table.set_updated(id, now);
        for (name, _, new) in changed {
            self.changes.push(Change::Property {
                target: (obj, id),
                name,
                value: new.unwrap_or_default(),
            });
        }
    }

    /// Archives (HubSpot's DELETE); the record's associations go with it.
    pub fn archive(&mut self, obj: ObjectType, id: u64, now: i64) -> bool {
        let table = self.table_mut(obj);
        let Some(record) = table
            .records
            .get_mut(&id)
            .filter(|r| r.archived_ms.is_none())
        else {
            return false;
        };
        record.archived_ms = Some(now);
        table.by_modified.remove(&(record.updated_ms, id));
        record.updated_ms = now;
        if let Some(email) = record.props.get("email") {
            table.by_email.remove(&email.to_lowercase());
        }
        if let Some(others) = self.links.remove(&(obj, id)) {
            for other in others {
                if let Some(set) = self.links.get_mut(&other) {
                    set.remove(&(obj, id));
                }
            }
        }
        self.changes.push(Change::Deleted((obj, id)));
        true
    }

    /// Associates two records both ways; a new link bumps both records' last-modified.
    pub fn link(&mut self, a: Ref, b: Ref, now: i64) -> bool {
        let added = self.links.entry(a).or_default().insert(b);
        self.links.entry(b).or_default().insert(a);
        if added {
            self.table_mut(a.0).set_updated(a.1, now);
            self.table_mut(b.0).set_updated(b.1, now);
            self.changes.push(Change::Association {
                from: a,
                to: b,
                removed: false,
            });
        }
        added
    }

    pub fn unlink(&mut self, a: Ref, b: Ref, now: i64) -> bool {
        let removed = self.links.get_mut(&a).is_some_and(|s| s.remove(&b));
        if let Some(set) = self.links.get_mut(&b) {
            set.remove(&a);
        }
        if removed {
            self.table_mut(a.0).set_updated(a.1, now);
            self.table_mut(b.0).set_updated(b.1, now);
            self.changes.push(Change::Association {
                from: a,
                to: b,
                removed: true,
            });
        }
        removed
    }

    /// The ids of `to` records associated with `from`, ascending.
    pub fn links_of(&self, from: Ref, to: ObjectType) -> Vec<u64> {
        self.links
            .get(&from)
            .map(|set| {
                set.iter()
                    .filter(|(t, _)| *t == to)
                    .map(|(_, id)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A record as v3 answers it: `names` selects properties (null when unset), `with` adds
    /// the v3 `associations` block for those object types.
    pub fn render(&self, obj: ObjectType, id: u64, names: &[String], with: &[ObjectType]) -> Value {
        let Some(r) = self.table(obj).records.get(&id) else {
            return Value::Null;
        };
        let props: Map<String, Value> = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    r.value(obj, n).map_or(Value::Null, Value::String),
                )
            })
            .collect();
        let mut out = json!({
            "id": id.to_string(),
            "properties": props,
            "createdAt": iso(r.created_ms),
            "updatedAt": iso(r.updated_ms),
            "archived": r.archived_ms.is_some(),
        });
        if let Some(at) = r.archived_ms {
            out["archivedAt"] = Value::String(iso(at));
        }
        let mut associations = Map::new();
        for &to in with {
            let ids = self.links_of((obj, id), to);
            if ids.is_empty() {
                continue;
            }
            let kind = crate::schema::v3_association_name(obj, to);
            let results: Vec<Value> = ids
                .iter()
                .map(|i| json!({"id": i.to_string(), "type": kind}))
                .collect();
            associations.insert(to.name().to_string(), json!({ "results": results }));
        }
        if !associations.is_empty() {
            out["associations"] = Value::Object(associations);
        }
        out
    }

    /// Bulk insert for tests: last-modified spread evenly over the span, no webhooks.
    pub fn seed(
        &mut self,
        obj: ObjectType,
        count: u64,
        from_ms: i64,
        span_ms: i64,
        prefix: &str,
    ) -> Result<(u64, u64), ApiError> {
        let first = self.table(obj).next_id + 1;
        let last = first + count.saturating_sub(1);
        if obj == ObjectType::Contacts {
            if let Some(taken) =
                (first..=last).find_map(|id| self.email_owner(&seed_email(prefix, id)))
            {
                return Err(ApiError::conflict(format!(
                    "Contact already exists. Existing ID: {taken}"
                )));
            }
        }
        for i in 0..count {
            let id = first + i;
            let at = from_ms + (i128::from(span_ms) * i128::from(i) / i128::from(count)) as i64;
            let props: BTreeMap<String, String> = match obj {
                ObjectType::Contacts => [
                    ("email", seed_email(prefix, id)),
                    ("firstname", format!("{prefix}{id}")),
                    ("lastname", "Seeded".to_string()),
                ],
                ObjectType::Companies => [
                    ("name", format!("{prefix} company {id}")),
                    ("domain", format!("{prefix}-{id}.example.com")),
                    ("city", "Rome".to_string()),
                ],
                ObjectType::Deals => [
                    ("dealname", format!("{prefix} deal {id}")),
                    ("amount", (id * 100).to_string()),
                    ("dealstage", "appointmentscheduled".to_string()),
                ],
            }
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            self.insert(obj, props, at, false);
        }
        Ok((first, last))
    }

    /// Sets last-modified of the given records (or all); answers how many were touched.
    pub fn touch(&mut self, obj: ObjectType, ids: Option<&[u64]>, at_ms: i64) -> usize {
        let table = self.table_mut(obj);
        let targets: Vec<u64> = match ids {
            Some(ids) => ids
                .iter()
                .copied()
                .filter(|id| table.active(*id).is_some())
                .collect(),
            None => table.by_modified.iter().map(|(_, id)| *id).collect(),
        };
        for id in &targets {
            table.set_updated(*id, at_ms);
        }
        targets.len()
    }
}

fn seed_email(prefix: &str, id: u64) -> String {
    format!("{prefix}-{id}@example.com")
}
