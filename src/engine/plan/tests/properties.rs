//! Property tests: random edit sequences replayed through `decide`.
//!
//! The model is what the runner does: two in-memory records, edits on either side
//! between syncs (clearing values, editing the same field on both sides, options in any
//! case, numbers as text, a sloppy app that hands back what it was given in another
//! form), each sync applying the decision's writes and storing its snapshot.
#![allow(non_snake_case)] // the double underscores separate rule, situation and outcome

use proptest::prelude::*;
use serde_json::{json, Value as Json};

use super::super::*;
use super::{apply, Pair};
use FieldType::{Date, Enumeration, Number, Text};

/// A two-way contact sync: four two-way "always" fields of every kind, plus one field
/// for each rule that deliberately keeps the sides apart (only-if-empty, one-way,
/// disabled).
fn model(winner: ConflictWinner) -> SyncSettings {
    let mut s = SyncSettings::new(ObjectKind::Contact, Direction::TwoWay, winner);
    s.sync_only_with_email = false;
    s.match_key = MatchKey::None;
    s.mappings =
        vec![
            FieldMapping::new("name", Text, "full_name", Text),
            FieldMapping::same("amount", Number),
            FieldMapping::new("stage", Enumeration, "status", Enumeration).options(OptionMap::new(
                [("lead", "L"), ("customer", "C"), ("other", "O")],
            )),
            FieldMapping::same("day", Date),
            FieldMapping::same("phone", Text).policy(WritePolicy::OnlyIfEmpty),
            FieldMapping::same("notes", Text).direction(Direction::ToApp),
            FieldMapping::same("secret", Text).disabled(),
        ];
    s
}

/// The mappings that must converge: two-way, always, on.
const CONVERGING: usize = 4;

/// Values an edit may set, per mapping and side. `null` and blanks clear the field.
fn pool(mapping: usize, side: Side) -> Vec<Json> {
    let hub = side == Side::Hub;
    match mapping {
        0 => vec![
            json!("Ann"),
            json!("Ann "),
            json!(" Bob"),
            json!("Cy"),
            json!(""),
            Json::Null,
        ],
        1 if hub => vec![json!(12), json!(12.5), json!("7"), json!(0), Json::Null],
        1 => vec![
            json!("12"),
            json!("12.50 "),
            json!(7),
            json!("0.0"),
            json!(""),
            Json::Null,
        ],
        2 if hub => vec![json!("lead"), json!("Customer"), json!("OTHER"), Json::Null],
        2 => vec![json!("L"), json!("c"), json!(" o"), json!(""), Json::Null],
        3 => vec![
            json!("2024-01-02"),
            json!("2024-03-04"),
            json!("2024-03-04T00:00:00Z"),
            Json::Null,
        ],
        _ => vec![json!("1"), json!("2"), Json::Null],
    }
}

#[derive(Debug, Clone)]
struct Edit {
    side: Side,
    mapping: usize,
    value: usize,
}

fn edit() -> impl Strategy<Value = Edit> {
    (any::<bool>(), 0..7usize, 0..8usize).prop_map(|(hub, mapping, value)| Edit {
        side: if hub { Side::Hub } else { Side::App },
        mapping,
        value,
    })
}

fn apply_edit(pair: &mut Pair, settings: &SyncSettings, edit: &Edit) {
    let values = pool(edit.mapping, edit.side);
    let value = values[edit.value % values.len()].clone();
    let field = settings.mappings[edit.mapping].field(edit.side).to_string();
    let record = match edit.side {
        Side::Hub => pair.hub.as_mut(),
        Side::App => pair.app.as_mut(),
    };
    // A side that does not exist yet cannot be edited; the sync creates it.
    if let Some(record) = record {
        record.insert(field, value);
    }
}

/// A sloppy app: numbers come back as text, option values in lower case, text padded.
fn sloppy(record: &mut Record, write: &Write) {
    apply(record, write);
    for value in record.values_mut() {
        let mangled = match &*value {
            Json::Number(n) => Some(json!(n.to_string())),
            Json::String(s) if s.trim().len() == 1 => Some(json!(s.to_lowercase())),
            Json::String(s) => Some(json!(format!("{s} "))),
            _ => None,
        };
        if let Some(m) = mangled {
            *value = m;
        }
    }
}

fn read(pair: &Pair, m: &FieldMapping, side: Side) -> Option<Value> {
    let record = match side {
        Side::Hub => pair.hub.as_ref(),
        Side::App => pair.app.as_ref(),
    };
    record.and_then(|r| Value::read_field(r, m.field(side), m.field_type(side)))
}

/// Both sides hold the same value (through the mapping's conversion), or the documented
/// exception: after a conflict where the default app had no value, the other side keeps
/// its own.
fn converged(pair: &Pair, m: &FieldMapping, winner: Side) -> Result<(), String> {
    let (h, a) = (read(pair, m, Side::Hub), read(pair, m, Side::App));
    let agree = match (&h, &a) {
        (None, None) => true,
        (Some(h), Some(a)) => {
            m.convert_to(Side::App, h).is_ok_and(|c| c.same_as(a))
                || m.convert_to(Side::Hub, a).is_ok_and(|c| c.same_as(h))
        }
        _ => false,
    };
    let winner_empty = match winner {
        Side::Hub => h.is_none() && a.is_some(),
        Side::App => a.is_none() && h.is_some(),
    };
    if agree || winner_empty {
        Ok(())
    } else {
        Err(format!("{}: hub {h:?} vs app {a:?}", m.hub_property))
    }
}

#[derive(Debug, Clone, Copy)]
enum Start {
    HubOnly,
    AppOnly,
    Both,
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        Just(Start::HubOnly),
        Just(Start::AppOnly),
        Just(Start::Both)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn two_way__random_edit_sequences__converge_without_echo_writes(
        app_wins in any::<bool>(),
        start in start(),
        sloppy_app in any::<bool>(),
        initial in prop::collection::vec(edit(), 0..10),
        steps in prop::collection::vec(prop::collection::vec(edit(), 0..5), 1..8),
    ) {
        let winner = if app_wins { ConflictWinner::App } else { ConflictWinner::Hub };
        let settings = model(winner);
        let mut pair = match start {
            Start::HubOnly => Pair::new(Some(json!({})), None),
            Start::AppOnly => Pair::new(None, Some(json!({}))),
            Start::Both => Pair::new(Some(json!({})), Some(json!({}))),
        };
        for e in &initial {
            apply_edit(&mut pair, &settings, e);
        }
        let store = |r: &mut Record, w: &Write| {
            if sloppy_app { sloppy(r, w) } else { apply(r, w) }
        };
        for (n, edits) in steps.iter().enumerate() {
            for e in edits {
                apply_edit(&mut pair, &settings, e);
            }
            // The hub stores what it is given; the app may be sloppy.
            let decision = pair.decide(&settings);
            let Decision::Sync(plan) = &decision else {
                return Err(TestCaseError::fail(format!("step {n}: {decision:?}")));
            };
            if let Some(w) = &plan.hub {
                let hub = pair.hub.get_or_insert_with(Record::new);
                if w.kind == WriteKind::Create { hub.clear(); }
                apply(hub, w);
                // Never written: the disabled field, and the one-way-to-app field.
                prop_assert!(!w.values.contains_key("secret") && !w.values.contains_key("notes"));
            }
            if let Some(w) = &plan.app {
                let app = pair.app.get_or_insert_with(Record::new);
                if w.kind == WriteKind::Create { app.clear(); }
                store(app, w);
                prop_assert!(!w.values.contains_key("secret"));
            }
            pair.snapshot = Some(plan.snapshot.clone());

            for m in &settings.mappings[..CONVERGING] {
                if let Err(why) = converged(&pair, m, winner.side()) {
                    return Err(TestCaseError::fail(format!("step {n}: not converged: {why}\n{pair:?}")));
                }
            }
            // No echo: what was just written comes back as no news.
            let again = pair.decide(&settings);
            prop_assert!(again.is_nothing(), "step {}: echo {:?}\n{:?}", n, again, pair);
        }
    }
}

/// Any JSON a connector might send, sensible or not.
fn any_value() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        Just(json!("")),
        Just(json!("12")),
        Just(json!("abc")),
        Just(json!("L")),
        Just(json!("lead")),
        Just(json!("2024-01-02")),
        Just(json!(true)),
        Just(json!(1e300)),
        Just(json!(-3)),
        Just(json!([1, "x"])),
        Just(json!({"nested": 1})),
        Just(json!("NaN")),
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::TwoWay),
        Just(Direction::ToHub),
        Just(Direction::ToApp)
    ]
}

fn policy() -> impl Strategy<Value = WritePolicy> {
    prop_oneof![
        Just(WritePolicy::Always),
        Just(WritePolicy::OnlyIfEmpty),
        Just(WritePolicy::OnCreateOnly)
    ]
}

const FIELDS: [(&str, FieldType); 4] =
    [("t", Text), ("n", Number), ("e", Enumeration), ("d", Date)];

fn random_record() -> impl Strategy<Value = Option<Record>> {
    prop::option::of(prop::collection::vec(any_value(), 4).prop_map(|values| {
        FIELDS
            .iter()
            .map(|(f, _)| f.to_string())
            .zip(values)
            .collect::<Record>()
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn direction__never_writes_to_an_excluded_side__any_input(
        sync_direction in prop_oneof![Just(Direction::ToHub), Just(Direction::ToApp)],
        app_wins in any::<bool>(),
        mapping_directions in prop::collection::vec(direction(), 4),
        policies in prop::collection::vec(policy(), 4),
        hub in random_record(),
        app in random_record(),
        snapshot_values in prop::option::of(prop::collection::vec(any_value(), 8)),
        recreate in any::<bool>(),
    ) {
        let winner = if app_wins { ConflictWinner::App } else { ConflictWinner::Hub };
        let mut settings = SyncSettings::new(ObjectKind::Contact, sync_direction, winner);
        settings.sync_only_with_email = false;
        settings.match_key = MatchKey::None;
        let options = OptionMap::new([("lead", "L")]);
        settings.mappings = FIELDS
            .iter()
            .zip(mapping_directions.iter().zip(&policies))
            .map(|((f, ty), (d, p))| {
                FieldMapping::same(f, *ty).direction(*d).policy(*p).options(options.clone())
            })
            .collect();
        let snapshot = snapshot_values.map(|values| {
            let mut s = Snapshot::default();
            for (i, (f, ty)) in FIELDS.iter().enumerate() {
                s.set(Side::Hub, f, Value::read(*ty, &values[i]));
                s.set(Side::App, f, Value::read(*ty, &values[i + 4]));
            }
            s
        });
        let pairing = match (&snapshot, recreate) {
            (Some(s), true) => Pairing::Recreate(s),
            (Some(s), false) => Pairing::Paired(s),
            (None, _) => Pairing::New,
        };
        let decision = decide(&settings, hub.as_ref(), app.as_ref(), pairing);
        let excluded = match sync_direction {
            Direction::ToHub => Side::App,
            _ => Side::Hub,
        };
        prop_assert!(decision.write_to(excluded).is_none(), "{:?}", decision);
        // Each mapping's own direction holds too.
        for m in &settings.mappings {
            for side in [Side::Hub, Side::App] {
                if !m.direction.writes_to(side) {
                    let written = decision.write_to(side).is_some_and(|w| w.values.contains_key(m.field(side)));
                    prop_assert!(!written, "{} written to {:?}: {:?}", m.hub_property, side, decision);
                }
            }
        }
    }

    #[test]
    fn identity__normalisation_is_idempotent(raw in "[ a-zA-Z0-9.,&@:/_-]{0,24}") {
        if let Some(email) = normalise_email(&raw) {
            prop_assert_eq!(normalise_email(&email), Some(email.clone()));
        }
        if let Some(name) = normalise_company_name(&raw) {
            prop_assert_eq!(normalise_company_name(&name), Some(name.clone()));
        }
        if let Some(domain) = domain_from(&raw) {
            prop_assert_eq!(domain_from(&domain), Some(domain.clone()));
        }
    }

    #[test]
    fn values__written_value_reads_back_as_the_same(x in -1.0e12f64..1.0e12, text in "[ a-zA-Z0-9]{0,12}") {
        let n = Value::Number(x);
        prop_assert!(Value::same(Value::read(Number, &n.to_json()).as_ref(), Some(&n)));
        prop_assert!(Value::same(Value::read(Number, &json!(n.text())).as_ref(), Some(&n)));
        let t = Value::read(Text, &json!(text));
        let back = t.as_ref().and_then(|t| Value::read(Text, &t.to_json()));
        prop_assert!(Value::same(back.as_ref(), t.as_ref()));
    }
}
