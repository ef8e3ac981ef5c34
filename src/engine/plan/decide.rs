//! The decision: given both sides' current records, the snapshot of the last sync and
//! the settings, what to write where — or why the record is excluded or failed.
//!
//! The rules (SPEC §2) in the order they apply:
//!
//! 1. **Entry** (records not yet paired): a contact needs a valid email when *Sync only
//!    contacts with an email address* is on; records need an identifier when the match
//!    key requires one; a deal must be in a mapped stage; each record must meet its
//!    side's filters. Only records whose side the direction reads from are checked.
//!    Paired records skip all of this and keep syncing, except the stage rule: a deal's
//!    stage cannot be written on the other side if it is not mapped.
//! 2. **Create** a lone record on the other side when the direction allows, with every
//!    mapping that flows there (whatever its write policy: the record is being created).
//!    A required app field left empty fails the record, naming the field.
//! 3. **Merge** a pair field by field. A side *changed* a field when its value is not the
//!    same as the snapshot's. One side changed → its value flows. Both changed to
//!    different values → in a two-way flow the default app wins, unless it has no value,
//!    then nothing changes; in a one-way flow the source side's value flows. A pair
//!    without a snapshot (just matched) is merged against an empty snapshot, so filled
//!    fields fill empty ones and differing values go to the default app.
//!    Then the direction (sync ∩ mapping) and the write policy may still keep the value:
//!    they are never overridden.
//! 4. **Echo suppression**: nothing is written when the target already holds the same
//!    value, and the returned snapshot holds what each side holds after the writes. So
//!    when a write comes back as a change event, every field equals its snapshot value
//!    and the next decision writes nothing.

use super::filters::first_unmet;
use super::identity::{identifiers, needs_identifier, valid_email};
use super::mapping::{FieldMapping, FieldRef, WritePolicy};
use super::outcome::{
    Decision, Exclusion, Failure, FieldOutcome, Note, Plan, Skip, Write, WriteKind,
};
use super::settings::{Direction, Flows, ObjectKind, Side, SyncSettings};
use super::snapshot::Snapshot;
use super::stages::{StageMap, StageRef};
use super::values::{Record, Value};

/// What the engine knows about the pairing of the records it passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pairing<'a> {
    /// Not paired yet: a record seen for the first time, or a pair just found by the match
    /// key. Entry rules apply.
    New,
    /// Paired, with the snapshot stored after its last successful sync.
    Paired(&'a Snapshot),
    /// Paired, its record on one side deleted, and the admin asked to recreate it
    /// (*Resync deleted records*, *Restore*). The missing record is created again.
    Recreate(&'a Snapshot),
}

/// Decides what to do with one record or pair. Total: every input has an answer, and
/// nothing here panics or does I/O.
pub fn decide(
    settings: &SyncSettings,
    hub: Option<&Record>,
    app: Option<&Record>,
    pairing: Pairing<'_>,
) -> Decision {
    let present = Present { hub, app };
    match (hub, app) {
        (None, None) => Decision::Skipped(Skip::NoRecord),
        (Some(hub), Some(app)) => {
            let (checked, base) = match pairing {
                Pairing::New => (check_entry(settings, &present), None),
                Pairing::Paired(s) | Pairing::Recreate(s) => {
                    (check_stages(settings, &present), Some(s))
                }
            };
            match checked {
                Err(exclusion) => Decision::Excluded(exclusion),
                Ok(()) => merge(settings, hub, app, base),
            }
        }
        (Some(record), None) | (None, Some(record)) => {
            let side = if hub.is_some() { Side::Hub } else { Side::App };
            let checked = match pairing {
                Pairing::Paired(_) => return Decision::Deleted { side: side.other() },
                _ if !settings.direction.reads_from(side) => {
                    return Decision::Skipped(Skip::DirectionExcludes { side })
                }
                Pairing::New => check_entry(settings, &present),
                Pairing::Recreate(_) => check_stages(settings, &present),
            };
            match checked {
                Err(exclusion) => Decision::Excluded(exclusion),
                Ok(()) => create(settings, side, record),
            }
        }
    }
}

/// The records present, by side.
struct Present<'r> {
    hub: Option<&'r Record>,
    app: Option<&'r Record>,
}

impl<'r> Present<'r> {
    fn all(&self) -> impl Iterator<Item = (Side, &'r Record)> {
        [(Side::Hub, self.hub), (Side::App, self.app)]
            .into_iter()
            .filter_map(|(side, r)| r.map(|r| (side, r)))
    }

    /// The records whose data may flow to the other side: only these must qualify.
    fn flowing(&self, direction: Direction) -> impl Iterator<Item = (Side, &'r Record)> {
        self.all()
            .filter(move |(side, _)| direction.reads_from(*side))
    }
}

/// The entry rules for records that are not paired yet.
fn check_entry(settings: &SyncSettings, present: &Present<'_>) -> Result<(), Exclusion> {
    let first_flowing = present
        .flowing(settings.direction)
        .next()
        .map_or(Side::Hub, |(side, _)| side);
    // A pair has an email when either side has one: it is the same contact.
    if settings.object == ObjectKind::Contact
        && settings.sync_only_with_email
        && !present
            .all()
            .any(|(side, r)| valid_email(settings, side, r).is_some())
    {
        return Err(Exclusion::NoValidEmail {
            side: first_flowing,
        });
    }
    if needs_identifier(settings) {
        for (side, record) in present.flowing(settings.direction) {
            if identifiers(settings, side, record).is_empty() {
                return Err(Exclusion::NoIdentifier { side });
            }
        }
    }
    check_stages(settings, present)?;
    for (side, record) in present.flowing(settings.direction) {
        if let Some(condition) = first_unmet(settings.filters(side), record) {
            return Err(Exclusion::FilterNotMet {
                side,
                condition: condition.to_string(),
            });
        }
    }
    Ok(())
}

/// Deals sync only in mapped stages (paired or not).
fn check_stages(settings: &SyncSettings, present: &Present<'_>) -> Result<(), Exclusion> {
    if settings.object != ObjectKind::Deal {
        return Ok(());
    }
    for (side, record) in present.flowing(settings.direction) {
        let stage = settings
            .stage_map
            .as_ref()
            .and_then(|map| map.read(side, record));
        let mapped = match (&settings.stage_map, &stage) {
            (Some(map), Some(stage)) => map.is_mapped(side, stage),
            _ => false,
        };
        if !mapped {
            return Err(Exclusion::UnmappedStage {
                side,
                pipeline: stage
                    .as_ref()
                    .map(|s| s.pipeline.clone())
                    .filter(|p| !p.is_empty()),
                stage: stage.map(|s| s.stage),
            });
        }
    }
    Ok(())
}

fn conversion_failure(m: &FieldMapping, from: Side, reason: String) -> Failure {
    let to = from.other();
    Failure::TypeConversion {
        field: FieldRef::new(from, m.field(from)),
        target: FieldRef::new(to, m.field(to)),
        reason,
    }
}

fn required_missing(m: &FieldMapping) -> Failure {
    Failure::RequiredFieldMissing {
        app_field: m.app_field.clone(),
        hub_property: m.hub_property.clone(),
    }
}

/// Creates the lone record of `from` on the other side.
fn create(settings: &SyncSettings, from: Side, record: &Record) -> Decision {
    let to = from.other();
    let mut values = Record::new();
    let mut snapshot = Snapshot {
        created_by_sync: Some(to),
        ..Snapshot::default()
    };
    for m in settings.mappings.iter().filter(|m| m.enabled) {
        let value = Value::read_field(record, m.field(from), m.field_type(from));
        snapshot.set(from, m.field(from), value.clone());
        // Every write policy writes on create: "on create only" and "only if empty" both
        // hold for a record that does not exist yet.
        let (true, Some(value)) = (m.flows(settings.direction).writes_to(to), value) else {
            continue;
        };
        match m.convert_to(to, &value) {
            Ok(converted) => {
                values.insert(m.field(to).to_string(), converted.to_json());
                snapshot.set(to, m.field(to), Some(converted));
            }
            Err(reason) => return Decision::Failed(conversion_failure(m, from, reason)),
        }
    }
    if let (ObjectKind::Deal, Some(map)) = (settings.object, &settings.stage_map) {
        let stage = map.read(from, record);
        let target = stage.as_ref().and_then(|s| map.translate(s, to));
        if let (Some(stage), Some(target)) = (&stage, target) {
            map.write(to, Some(target), &mut values);
            remember_stage(map, from, Some(stage), &mut snapshot);
            remember_stage(map, to, Some(target), &mut snapshot);
        }
    }
    if to == Side::App {
        // Required app fields are checked across all mappings, on or off: the app will
        // refuse the record either way, and naming the field here says how to fix it.
        let missing = settings.mappings.iter().find(|m| {
            m.required
                && values
                    .get(&m.app_field)
                    .is_none_or(serde_json::Value::is_null)
        });
        if let Some(m) = missing {
            return Decision::Failed(required_missing(m));
        }
    }
    let write = Some(Write {
        kind: WriteKind::Create,
        values,
    });
    let (hub, app) = match to {
        Side::Hub => (write, None),
        Side::App => (None, write),
    };
    Decision::Sync(Plan {
        hub,
        app,
        snapshot,
        snapshot_changed: true,
        notes: Vec::new(),
    })
}

/// What a merge collects: the updates per side, the new snapshot and the notes.
struct Merge {
    hub: Record,
    app: Record,
    snapshot: Snapshot,
    notes: Vec<Note>,
}

impl Merge {
    fn values(&mut self, side: Side) -> &mut Record {
        match side {
            Side::Hub => &mut self.hub,
            Side::App => &mut self.app,
        }
    }

    fn note(&mut self, hub_property: &str, app_field: &str, outcome: FieldOutcome) {
        self.notes.push(Note {
            hub_property: hub_property.to_string(),
            app_field: app_field.to_string(),
            outcome,
        });
    }
}

/// Merges a pair against its snapshot (`None`: just matched, merge against nothing).
fn merge(settings: &SyncSettings, hub: &Record, app: &Record, base: Option<&Snapshot>) -> Decision {
    let empty = Snapshot::default();
    let last = base.unwrap_or(&empty);
    let mut merge = Merge {
        hub: Record::new(),
        app: Record::new(),
        snapshot: Snapshot {
            created_by_sync: last.created_by_sync,
            ..Snapshot::default()
        },
        notes: Vec::new(),
    };
    for m in settings.mappings.iter().filter(|m| m.enabled) {
        if let Err(failure) = merge_field(settings, m, hub, app, last, &mut merge) {
            return Decision::Failed(failure);
        }
    }
    if let (ObjectKind::Deal, Some(map)) = (settings.object, &settings.stage_map) {
        if let Err(exclusion) = merge_stage(settings, map, hub, app, last, &mut merge) {
            return Decision::Excluded(exclusion);
        }
    }
    let update = |values: Record| {
        (!values.is_empty()).then_some(Write {
            kind: WriteKind::Update,
            values,
        })
    };
    let snapshot_changed = base != Some(&merge.snapshot);
    Decision::Sync(Plan {
        hub: update(merge.hub),
        app: update(merge.app),
        snapshot: merge.snapshot,
        snapshot_changed,
        notes: merge.notes,
    })
}

/// One side's view of a field: changed since the snapshot, and empty now.
#[derive(Debug, Clone, Copy)]
struct FieldState {
    changed: bool,
    empty: bool,
}

/// Which way one field's value goes, from who changed it, the direction and the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pick {
    /// Write the other side's value to `to`.
    Write {
        to: Side,
        conflict: bool,
    },
    Keep(Option<FieldOutcome>),
}

fn pick(flows: Flows, policy: WritePolicy, winner: Side, hub: FieldState, app: FieldState) -> Pick {
    let state = |side: Side| if side == Side::Hub { hub } else { app };
    let (to, conflict) = match (hub.changed, app.changed) {
        (false, false) => return Pick::Keep(None),
        (true, false) => (Side::App, false),
        (false, true) => (Side::Hub, false),
        // The conflict setting only arbitrates two-way flows; in a one-way flow the
        // source side is the reference, and the setting "never overrides the direction".
        (true, true) if flows.is_two_way() => {
            if state(winner).empty {
                return Pick::Keep(Some(FieldOutcome::ConflictWinnerEmpty { winner }));
            }
            (winner.other(), true)
        }
        (true, true) if flows.to_app => (Side::App, false),
        (true, true) => (Side::Hub, false),
    };
    if !flows.writes_to(to) {
        return Pick::Keep(Some(FieldOutcome::DirectionExcludes { to }));
    }
    let keeps = Pick::Keep(Some(FieldOutcome::PolicyKeeps { policy, side: to }));
    match policy {
        WritePolicy::Always => Pick::Write { to, conflict },
        WritePolicy::OnlyIfEmpty if state(to).empty => Pick::Write { to, conflict },
        WritePolicy::OnlyIfEmpty | WritePolicy::OnCreateOnly => keeps,
    }
}

/// Whether both sides already hold the same value, through the mapping's conversion.
fn agree(m: &FieldMapping, hub: Option<&Value>, app: Option<&Value>) -> bool {
    match (hub, app) {
        (None, None) => true,
        (Some(h), Some(a)) => {
            m.convert_to(Side::App, h).is_ok_and(|c| c.same_as(a))
                || m.convert_to(Side::Hub, a).is_ok_and(|c| c.same_as(h))
        }
        _ => false,
    }
}

fn merge_field(
    settings: &SyncSettings,
    m: &FieldMapping,
    hub: &Record,
    app: &Record,
    last: &Snapshot,
    merge: &mut Merge,
) -> Result<(), Failure> {
    let current = |side: Side| {
        let record = if side == Side::Hub { hub } else { app };
        Value::read_field(record, m.field(side), m.field_type(side))
    };
    let now = [current(Side::Hub), current(Side::App)];
    let idx = |side: Side| if side == Side::Hub { 0 } else { 1 };
    let before = |side: Side| last.get(side, m.field(side));
    let changed = |side: Side| !Value::same(now[idx(side)].as_ref(), before(side));
    // What each side holds afterwards; an unchanged side keeps its snapshot value
    // byte for byte, so a decision with no news returns the very same snapshot.
    let mut after = [Side::Hub, Side::App].map(|side| {
        if changed(side) {
            now[idx(side)].clone()
        } else {
            before(side).cloned()
        }
    });
    let flows = m.flows(settings.direction);
    let state = |side: Side| FieldState {
        changed: changed(side),
        empty: now[idx(side)].is_none(),
    };
    let (hub_state, app_state) = (state(Side::Hub), state(Side::App));
    if (hub_state.changed || app_state.changed) && !flows.is_none() {
        let outcome = if agree(m, now[0].as_ref(), now[1].as_ref()) {
            Some(FieldOutcome::AlreadyEqual)
        } else {
            let winner = settings.conflict_winner.side();
            match pick(flows, m.write_policy, winner, hub_state, app_state) {
                Pick::Keep(outcome) => outcome,
                Pick::Write { to, conflict } => {
                    let from = to.other();
                    let converted = match &now[idx(from)] {
                        Some(v) => Some(
                            m.convert_to(to, v)
                                .map_err(|reason| conversion_failure(m, from, reason))?,
                        ),
                        None => None,
                    };
                    if to == Side::App && m.required && converted.is_none() {
                        return Err(required_missing(m));
                    }
                    let json = Value::json_or_null(converted.as_ref());
                    merge.values(to).insert(m.field(to).to_string(), json);
                    after[idx(to)] = converted;
                    Some(FieldOutcome::Wrote { to, conflict })
                }
            }
        };
        if let Some(outcome) = outcome {
            merge.note(&m.hub_property, &m.app_field, outcome);
        }
    }
    let [hub_after, app_after] = after;
    merge.snapshot.set(Side::Hub, &m.hub_property, hub_after);
    merge.snapshot.set(Side::App, &m.app_field, app_after);
    Ok(())
}

/// The stage of a deal as remembered in the snapshot.
fn stage_in(map: &StageMap, side: Side, snapshot: &Snapshot) -> Option<StageRef> {
    let fields = map.fields(side);
    let stage = snapshot.get(side, &fields.stage)?.text();
    let pipeline = fields
        .pipeline
        .as_deref()
        .and_then(|p| snapshot.get(side, p))
        .map(Value::text)
        .unwrap_or_default();
    Some(StageRef { pipeline, stage })
}

fn remember_stage(map: &StageMap, side: Side, stage: Option<&StageRef>, snapshot: &mut Snapshot) {
    let fields = map.fields(side);
    let option = |s: &str| (!s.is_empty()).then(|| Value::Enumeration(s.to_string()));
    if let Some(p) = &fields.pipeline {
        snapshot.set(side, p, stage.and_then(|s| option(&s.pipeline)));
    }
    snapshot.set(side, &fields.stage, stage.and_then(|s| option(&s.stage)));
}

fn same_stage(a: Option<&StageRef>, b: Option<&StageRef>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_as(b),
        _ => false,
    }
}

/// A deal's pipeline and stage travel together, translated through the stage map,
/// under the sync's direction and the same change and conflict rules as fields.
fn merge_stage(
    settings: &SyncSettings,
    map: &StageMap,
    hub: &Record,
    app: &Record,
    last: &Snapshot,
    merge: &mut Merge,
) -> Result<(), Exclusion> {
    let now = [map.read(Side::Hub, hub), map.read(Side::App, app)];
    let before = [
        stage_in(map, Side::Hub, last),
        stage_in(map, Side::App, last),
    ];
    let changed = [0, 1].map(|i| !same_stage(now[i].as_ref(), before[i].as_ref()));
    let mut after = [0, 1].map(|i| {
        if changed[i] {
            now[i].clone()
        } else {
            before[i].clone()
        }
    });
    let flows = Flows::of(settings.direction, Direction::TwoWay);
    let (hub_field, app_field) = (&map.hub_fields.stage, &map.app_fields.stage);
    if changed[0] || changed[1] {
        let translated = now[0].as_ref().and_then(|h| map.translate(h, Side::App));
        let outcome = if same_stage(translated, now[1].as_ref()) {
            Some(FieldOutcome::AlreadyEqual)
        } else {
            let state = |i: usize| FieldState {
                changed: changed[i],
                empty: now[i].is_none(),
            };
            let winner = settings.conflict_winner.side();
            match pick(flows, WritePolicy::Always, winner, state(0), state(1)) {
                Pick::Keep(outcome) => outcome,
                Pick::Write { to, conflict } => {
                    let from = to.other();
                    let from_i = usize::from(from == Side::App);
                    // A deal always has a stage: an emptied one is not written.
                    match &now[from_i] {
                        None => None,
                        Some(stage) => {
                            let Some(target) = map.translate(stage, to) else {
                                return Err(Exclusion::UnmappedStage {
                                    side: from,
                                    pipeline: Some(stage.pipeline.clone())
                                        .filter(|p| !p.is_empty()),
                                    stage: Some(stage.stage.clone()),
                                });
                            };
                            map.write(to, Some(target), merge.values(to));
                            after[1 - from_i] = Some(target.clone());
                            Some(FieldOutcome::Wrote { to, conflict })
                        }
                    }
                }
            }
        };
        if let Some(outcome) = outcome {
            merge.note(hub_field, app_field, outcome);
        }
    }
    remember_stage(map, Side::Hub, after[0].as_ref(), &mut merge.snapshot);
    remember_stage(map, Side::App, after[1].as_ref(), &mut merge.snapshot);
    Ok(())
}

#[cfg(test)]
#[allow(non_snake_case)] // test names cite the rule: `subject__situation__outcome`
mod tests {
    use super::*;

    const S: FieldState = FieldState {
        changed: false,
        empty: false,
    };
    const CHANGED: FieldState = FieldState {
        changed: true,
        empty: false,
    };
    const CLEARED: FieldState = FieldState {
        changed: true,
        empty: true,
    };
    const EMPTY: FieldState = FieldState {
        changed: false,
        empty: true,
    };

    #[test]
    fn pick__the_whole_table() {
        let two_way = Flows::of(Direction::TwoWay, Direction::TwoWay);
        let to_hub = Flows::of(Direction::ToHub, Direction::TwoWay);
        let to_app = Flows::of(Direction::TwoWay, Direction::ToApp);
        use FieldOutcome::*;
        use WritePolicy::*;
        let write = |to, conflict| Pick::Write { to, conflict };
        let keep = |o| Pick::Keep(Some(o));
        let (hub, app) = (Side::Hub, Side::App);
        // (flows, policy, winner, hub, app, expected)
        let cases = [
            (two_way, Always, hub, S, S, Pick::Keep(None)),
            (two_way, Always, hub, CHANGED, S, write(app, false)),
            (two_way, Always, hub, S, CHANGED, write(hub, false)),
            (two_way, Always, hub, CLEARED, S, write(app, false)),
            (two_way, Always, hub, CHANGED, CHANGED, write(app, true)),
            (two_way, Always, app, CHANGED, CHANGED, write(hub, true)),
            (
                two_way,
                Always,
                hub,
                CLEARED,
                CHANGED,
                keep(ConflictWinnerEmpty { winner: hub }),
            ),
            (two_way, Always, app, CLEARED, CHANGED, write(hub, true)),
            (
                to_hub,
                Always,
                hub,
                CHANGED,
                S,
                keep(DirectionExcludes { to: app }),
            ),
            (to_hub, Always, hub, CHANGED, CHANGED, write(hub, false)),
            (to_app, Always, app, CHANGED, CHANGED, write(app, false)),
            (
                two_way,
                OnlyIfEmpty,
                hub,
                CHANGED,
                S,
                keep(PolicyKeeps {
                    policy: OnlyIfEmpty,
                    side: app,
                }),
            ),
            (two_way, OnlyIfEmpty, hub, CHANGED, EMPTY, write(app, false)),
            (
                two_way,
                OnCreateOnly,
                hub,
                CHANGED,
                EMPTY,
                keep(PolicyKeeps {
                    policy: OnCreateOnly,
                    side: app,
                }),
            ),
        ];
        for (i, (flows, policy, winner, h, a, want)) in cases.into_iter().enumerate() {
            assert_eq!(pick(flows, policy, winner, h, a), want, "case {i}");
        }
    }
}
