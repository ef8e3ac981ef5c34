//! One table-driven test per rule of SPEC §2, named `rule__situation__outcome`.
#![allow(non_snake_case)] // the double underscores separate rule, situation and outcome

use serde_json::{json, Value as Json};

use super::super::*;
use super::{apply, Pair};
use crate::model::ReasonCode;
use FieldType::{Enumeration, Number, Text};

/// A contact sync with the usual mappings (hub name → app name):
/// email, firstname → first_name, phone, lifecyclestage → status (options), employees →
/// headcount (number).
fn contacts(direction: Direction, winner: ConflictWinner) -> SyncSettings {
    let mut s = SyncSettings::new(ObjectKind::Contact, direction, winner);
    s.mappings = vec![
        FieldMapping::same("email", Text),
        FieldMapping::new("firstname", Text, "first_name", Text),
        FieldMapping::same("phone", Text),
        FieldMapping::new("lifecyclestage", Enumeration, "status", Enumeration)
            .options(OptionMap::new([("lead", "L"), ("customer", "C")])),
        FieldMapping::new("employees", Number, "headcount", Number),
    ];
    s
}

fn two_way(winner: ConflictWinner) -> SyncSettings {
    contacts(Direction::TwoWay, winner)
}

fn ann() -> Json {
    json!({"email": "ann@x.io", "firstname": "Ann", "phone": "1",
           "lifecyclestage": "lead", "employees": 10})
}

/// A pair in sync: `hub` created in the app by a plain two-way sync of `settings`'
/// mappings (all on, two-way, always), so the baseline never depends on the rule under
/// test.
fn in_sync(settings: &SyncSettings, hub: Json) -> Pair {
    let mut plain = settings.clone();
    plain.direction = Direction::TwoWay;
    plain.hub_filters.clear();
    for m in &mut plain.mappings {
        *m = m
            .clone()
            .direction(Direction::TwoWay)
            .policy(WritePolicy::Always);
        m.enabled = true;
        m.required = false;
    }
    let mut pair = Pair::new(Some(hub), None);
    let created = pair.sync(&plain);
    assert!(
        created.write_to(Side::App).is_some(),
        "baseline: {created:?}"
    );
    pair
}

/// The values written to each side, as JSON objects.
fn writes(decision: &Decision) -> (Option<Json>, Option<Json>) {
    let values = |side| {
        decision
            .write_to(side)
            .map(|w: &Write| Json::Object(w.values.clone()))
    };
    (values(Side::Hub), values(Side::App))
}

/// Rows of (name, hub edit, app edit, expected hub write, expected app write) applied to
/// a pair in sync with `base`.
type Row = (&'static str, Json, Json, Option<Json>, Option<Json>);

fn check_rows(settings: &SyncSettings, base: Json, rows: Vec<Row>) {
    for (name, hub_edit, app_edit, want_hub, want_app) in rows {
        let mut pair = in_sync(settings, base.clone());
        pair.edit_hub(hub_edit);
        pair.edit_app(app_edit);
        let decision = pair.decide(settings);
        assert!(
            matches!(decision, Decision::Sync(_)),
            "{name}: {decision:?}"
        );
        assert_eq!(writes(&decision), (want_hub, want_app), "{name}");
    }
}

#[test]
fn two_way__both_changed_same_field__default_app_wins() {
    let rows_hub_wins: Vec<Row> = vec![
        (
            "text",
            json!({"phone": "2"}),
            json!({"phone": "3"}),
            None,
            Some(json!({"phone": "2"})),
        ),
        (
            "number",
            json!({"employees": 20}),
            json!({"headcount": "30"}),
            None,
            Some(json!({"headcount": 20})),
        ),
        (
            "option",
            json!({"lifecyclestage": "customer"}),
            json!({"status": "X"}),
            None,
            Some(json!({"status": "C"})),
        ),
        (
            "both to the same value",
            json!({"phone": "2"}),
            json!({"phone": " 2 "}),
            None,
            None,
        ),
    ];
    check_rows(&two_way(ConflictWinner::Hub), ann(), rows_hub_wins);
    let rows_app_wins: Vec<Row> = vec![
        (
            "text",
            json!({"phone": "2"}),
            json!({"phone": "3"}),
            Some(json!({"phone": "3"})),
            None,
        ),
        (
            "number",
            json!({"employees": 20}),
            json!({"headcount": "30"}),
            Some(json!({"employees": 30})),
            None,
        ),
    ];
    check_rows(&two_way(ConflictWinner::App), ann(), rows_app_wins);

    // The activity log says it was a conflict.
    let mut pair = in_sync(&two_way(ConflictWinner::App), ann());
    pair.edit_hub(json!({"phone": "2"}));
    pair.edit_app(json!({"phone": "3"}));
    let decision = pair.decide(&two_way(ConflictWinner::App));
    let notes = decision.plan().map(|p| p.notes.clone()).unwrap_or_default();
    assert_eq!(
        notes,
        [Note {
            hub_property: "phone".into(),
            app_field: "phone".into(),
            outcome: FieldOutcome::Wrote {
                to: Side::Hub,
                conflict: true
            },
        }]
    );
}

#[test]
fn two_way__both_changed__default_app_has_no_value__nothing_changed_in_other_app() {
    let rows_hub_wins: Vec<Row> = vec![
        (
            "hub cleared",
            json!({"phone": null}),
            json!({"phone": "3"}),
            None,
            None,
        ),
        (
            "hub emptied",
            json!({"phone": "  "}),
            json!({"phone": "3"}),
            None,
            None,
        ),
    ];
    check_rows(&two_way(ConflictWinner::Hub), ann(), rows_hub_wins);
    let rows_app_wins: Vec<Row> = vec![
        (
            "app cleared",
            json!({"phone": "2"}),
            json!({"phone": ""}),
            None,
            None,
        ),
        // The loser clearing is an ordinary conflict the winner's value settles.
        (
            "hub cleared",
            json!({"phone": null}),
            json!({"phone": "3"}),
            Some(json!({"phone": "3"})),
            None,
        ),
    ];
    check_rows(&two_way(ConflictWinner::App), ann(), rows_app_wins);

    // Both keep their values, the snapshot remembers them, and nothing bounces later.
    let settings = two_way(ConflictWinner::Hub);
    let mut pair = in_sync(&settings, ann());
    pair.edit_hub(json!({"phone": null}));
    pair.edit_app(json!({"phone": "3"}));
    let decision = pair.sync(&settings);
    let snapshot = decision
        .plan()
        .map(|p| p.snapshot.clone())
        .unwrap_or_default();
    assert_eq!(snapshot.get(Side::Hub, "phone"), None);
    assert_eq!(
        snapshot.get(Side::App, "phone"),
        Some(&Value::Text("3".into()))
    );
    assert!(pair.decide(&settings).is_nothing());
    // The next edit on either side flows as usual.
    pair.edit_app(json!({"phone": "4"}));
    assert_eq!(
        writes(&pair.decide(&settings)),
        (Some(json!({"phone": "4"})), None)
    );
}

#[test]
fn two_way__only_one_side_changed__that_side_value_flows() {
    for winner in [ConflictWinner::Hub, ConflictWinner::App] {
        let rows: Vec<Row> = vec![
            (
                "hub text",
                json!({"phone": "2"}),
                json!({}),
                None,
                Some(json!({"phone": "2"})),
            ),
            (
                "app text",
                json!({}),
                json!({"first_name": "Annie"}),
                Some(json!({"firstname": "Annie"})),
                None,
            ),
            (
                "hub cleared",
                json!({"phone": null}),
                json!({}),
                None,
                Some(json!({"phone": null})),
            ),
            (
                "app cleared",
                json!({}),
                json!({"phone": ""}),
                Some(json!({"phone": null})),
                None,
            ),
            (
                "app option",
                json!({}),
                json!({"status": "c"}),
                Some(json!({"lifecyclestage": "customer"})),
                None,
            ),
            (
                "hub number",
                json!({"employees": "11"}),
                json!({}),
                None,
                Some(json!({"headcount": 11})),
            ),
            // A change of form only is no change.
            (
                "hub reformatted",
                json!({"employees": "10.0", "phone": " 1 "}),
                json!({}),
                None,
                None,
            ),
        ];
        check_rows(&two_way(winner), ann(), rows);
    }
}

#[test]
fn two_way__record_on_both_sides__properties_merged() {
    let hub = json!({"email": "ann@x.io", "firstname": "Ann", "phone": "1"});
    let app = json!({"email": "ann@x.io", "phone": "2", "headcount": "12", "status": "C"});
    // (default app, hub write, app write): each side fills the other's empty fields;
    // where both have a value, the default app's wins.
    let cases = [
        (
            ConflictWinner::Hub,
            Some(json!({"employees": 12, "lifecyclestage": "customer"})),
            Some(json!({"first_name": "Ann", "phone": "1"})),
        ),
        (
            ConflictWinner::App,
            Some(json!({"employees": 12, "lifecyclestage": "customer", "phone": "2"})),
            Some(json!({"first_name": "Ann"})),
        ),
    ];
    for (winner, want_hub, want_app) in cases {
        let settings = two_way(winner);
        let mut pair = Pair::new(Some(hub.clone()), Some(app.clone()));
        let decision = pair.sync(&settings);
        assert_eq!(writes(&decision), (want_hub, want_app), "{winner:?}");
        assert!(
            pair.decide(&settings).is_nothing(),
            "{winner:?}: merged pair is stable"
        );
    }
}

#[test]
fn direction__never_writes_to_a_side_the_direction_excludes__even_when_conflict_resolution_would() {
    let both_changed = (json!({"phone": "2"}), json!({"phone": "3"}));
    // (direction, default app, hub edit, app edit, hub write, app write)
    let cases = [
        // The default app (hub) would win, but the sync never writes to the app: the app,
        // the only source of a one-way sync to the hub, is the reference.
        (
            Direction::ToHub,
            ConflictWinner::Hub,
            both_changed.clone(),
            Some(json!({"phone": "3"})),
            None,
        ),
        (
            Direction::ToApp,
            ConflictWinner::App,
            both_changed.clone(),
            None,
            Some(json!({"phone": "2"})),
        ),
        (
            Direction::ToHub,
            ConflictWinner::App,
            (json!({"phone": "2"}), json!({})),
            None,
            None,
        ),
        (
            Direction::ToApp,
            ConflictWinner::Hub,
            (json!({}), json!({"phone": "3"})),
            None,
            None,
        ),
    ];
    for (direction, winner, (hub_edit, app_edit), want_hub, want_app) in cases {
        let settings = contacts(direction, winner);
        let rows: Vec<Row> = vec![("edit", hub_edit, app_edit, want_hub, want_app)];
        check_rows(&settings, ann(), rows);
    }
    // Lone records are not copied against the direction.
    let to_hub = contacts(Direction::ToHub, ConflictWinner::Hub);
    assert_eq!(
        Pair::new(Some(ann()), None).decide(&to_hub),
        Decision::Skipped(Skip::DirectionExcludes { side: Side::Hub })
    );
    let to_app = contacts(Direction::ToApp, ConflictWinner::App);
    assert_eq!(
        Pair::new(None, Some(json!({"email": "bob@x.io"}))).decide(&to_app),
        Decision::Skipped(Skip::DirectionExcludes { side: Side::App })
    );
    assert!(Pair::new(Some(ann()), None)
        .decide(&to_app)
        .write_to(Side::App)
        .is_some());
}

fn with_policy(policy: WritePolicy) -> SyncSettings {
    let mut s = two_way(ConflictWinner::Hub);
    for m in &mut s.mappings {
        if m.hub_property == "phone" {
            m.write_policy = policy;
        }
    }
    s
}

#[test]
fn write_policy__only_if_empty__never_overwrites_a_value_the_other_side_has() {
    let settings = with_policy(WritePolicy::OnlyIfEmpty);
    let rows: Vec<Row> = vec![
        (
            "hub changed, app has a value",
            json!({"phone": "2"}),
            json!({}),
            None,
            None,
        ),
        (
            "conflict, winner would overwrite",
            json!({"phone": "2"}),
            json!({"phone": "3"}),
            None,
            None,
        ),
        (
            "hub cleared: would overwrite too",
            json!({"phone": null}),
            json!({}),
            None,
            None,
        ),
        (
            "app emptied meanwhile",
            json!({"phone": "2"}),
            json!({"phone": null}),
            None,
            Some(json!({"phone": "2"})),
        ),
    ];
    check_rows(&settings, ann(), rows);
    let without_phone = json!({"email": "ann@x.io"});
    let rows: Vec<Row> = vec![(
        "fills the empty app field",
        json!({"phone": "2"}),
        json!({}),
        None,
        Some(json!({"phone": "2"})),
    )];
    check_rows(&settings, without_phone, rows);
    // Always, for contrast, overwrites.
    let rows: Vec<Row> = vec![(
        "always",
        json!({"phone": "2"}),
        json!({}),
        None,
        Some(json!({"phone": "2"})),
    )];
    check_rows(&with_policy(WritePolicy::Always), ann(), rows);
}

#[test]
fn write_policy__on_create_only__written_only_when_the_sync_creates_the_record() {
    let settings = with_policy(WritePolicy::OnCreateOnly);
    // Created by the sync: the value goes along.
    let created = Pair::new(Some(ann()), None).decide(&settings);
    let values = created
        .write_to(Side::App)
        .map(|w| w.values.clone())
        .unwrap_or_default();
    assert_eq!(values.get("phone"), Some(&json!("1")));
    assert_eq!(
        created.write_to(Side::App).map(|w| w.kind),
        Some(WriteKind::Create)
    );
    // Later changes do not.
    let rows: Vec<Row> = vec![
        ("hub update", json!({"phone": "2"}), json!({}), None, None),
        ("app update", json!({}), json!({"phone": "3"}), None, None),
    ];
    check_rows(&settings, ann(), rows);
    // A pair found by matching was not created by the sync: nothing is filled in.
    let matched = Pair::new(Some(ann()), Some(json!({"email": "ann@x.io"}))).decide(&settings);
    let (_, app_write) = writes(&matched);
    assert_eq!(
        app_write.as_ref().and_then(|w| w.get("phone")),
        None,
        "{matched:?}"
    );
}

#[test]
fn mappings__disabled_mapping__ignored() {
    let mut settings = two_way(ConflictWinner::Hub);
    settings.mappings[2] = settings.mappings[2].clone().disabled(); // phone
    let created = Pair::new(Some(ann()), None).decide(&settings);
    let plan = created.plan().cloned();
    let values = plan
        .as_ref()
        .and_then(|p| p.app.clone())
        .map(|w| w.values)
        .unwrap_or_default();
    assert!(!values.contains_key("phone"), "{values:?}");
    assert!(plan.is_some_and(|p| p.snapshot.get(Side::Hub, "phone").is_none()));
    let rows: Vec<Row> = vec![
        ("hub edit", json!({"phone": "2"}), json!({}), None, None),
        ("app edit", json!({}), json!({"phone": "3"}), None, None),
        (
            "conflict",
            json!({"phone": "2"}),
            json!({"phone": "3"}),
            None,
            None,
        ),
    ];
    check_rows(&settings, ann(), rows);
}

#[test]
fn mappings__direction_narrower_than_the_sync__honoured() {
    let mut settings = two_way(ConflictWinner::App);
    settings.mappings[2] = settings.mappings[2].clone().direction(Direction::ToApp); // phone
    let rows: Vec<Row> = vec![
        (
            "hub edit flows",
            json!({"phone": "2"}),
            json!({}),
            None,
            Some(json!({"phone": "2"})),
        ),
        (
            "app edit stays",
            json!({}),
            json!({"phone": "3"}),
            None,
            None,
        ),
        // One-way field: the hub is its source, whatever the default app.
        (
            "both",
            json!({"phone": "2"}),
            json!({"phone": "3"}),
            None,
            Some(json!({"phone": "2"})),
        ),
        (
            "other fields two-way",
            json!({}),
            json!({"first_name": "Annie"}),
            Some(json!({"firstname": "Annie"})),
            None,
        ),
    ];
    check_rows(&settings, ann(), rows);
    // A mapping never widens its sync: to-app mapping in a to-hub sync moves nothing.
    let mut to_hub = contacts(Direction::ToHub, ConflictWinner::Hub);
    to_hub.mappings[2] = to_hub.mappings[2].clone().direction(Direction::ToApp);
    let rows: Vec<Row> = vec![
        ("hub edit", json!({"phone": "2"}), json!({}), None, None),
        ("app edit", json!({}), json!({"phone": "3"}), None, None),
    ];
    check_rows(&to_hub, ann(), rows);
}

#[test]
fn filters__limit_only_which_records_enter__paired_record_keeps_syncing() {
    let mut settings = two_way(ConflictWinner::Hub);
    settings.hub_filters = vec![Condition::new(
        "lifecyclestage",
        Operator::Equals("customer".into()),
    )];
    settings.app_filters = vec![Condition::new(
        "headcount",
        Operator::GreaterThan("5".into()),
    )];
    let customer = json!({"email": "ann@x.io", "lifecyclestage": "customer", "employees": 10});
    let lead = json!({"email": "bob@x.io", "lifecyclestage": "lead"});
    let hub_filter = Exclusion::FilterNotMet {
        side: Side::Hub,
        condition: "lifecyclestage is equal to 'customer'".into(),
    };
    // (case, hub, app, excluded with)
    let cases = [
        (
            "hub record matching enters",
            Some(customer.clone()),
            None,
            None,
        ),
        (
            "hub record not matching",
            Some(lead.clone()),
            None,
            Some(hub_filter.clone()),
        ),
        (
            "app record matching",
            None,
            Some(json!({"email": "c@x.io", "headcount": 6})),
            None,
        ),
        (
            "app record not matching",
            None,
            Some(json!({"email": "c@x.io", "headcount": "3"})),
            Some(Exclusion::FilterNotMet {
                side: Side::App,
                condition: "headcount is greater than 5".into(),
            }),
        ),
        (
            "matched pair, hub side not matching",
            Some(lead.clone()),
            Some(json!({"email": "bob@x.io", "headcount": 9})),
            Some(hub_filter.clone()),
        ),
    ];
    for (name, hub, app, excluded) in cases {
        let decision = Pair::new(hub, app).decide(&settings);
        match excluded {
            Some(exclusion) => assert_eq!(decision, Decision::Excluded(exclusion), "{name}"),
            None => assert!(decision.plan().is_some(), "{name}: {decision:?}"),
        }
    }
    // Paired while matching, then no longer matching on either side: still syncing.
    let mut pair = Pair::new(Some(customer), None);
    assert!(pair.sync(&settings).plan().is_some());
    pair.edit_hub(json!({"lifecyclestage": "lead", "phone": "9"}));
    let decision = pair.sync(&settings);
    assert_eq!(
        writes(&decision),
        (None, Some(json!({"status": "L", "phone": "9"})))
    );
    pair.edit_app(json!({"headcount": 1}));
    assert_eq!(
        writes(&pair.decide(&settings)),
        (Some(json!({"employees": 1})), None)
    );
    // A one-way sync to the app never reads app records, so app filters do not apply.
    let mut to_app = settings.clone();
    to_app.direction = Direction::ToApp;
    let pair = Pair::new(
        Some(json!({"email": "d@x.io", "lifecyclestage": "customer"})),
        Some(json!({"email": "d@x.io"})),
    );
    assert!(pair.decide(&to_app).plan().is_some());
}

#[test]
fn contacts__without_valid_email__excluded_when_sync_only_with_email() {
    // (sync only with email, hub email, excluded)
    let cases = [
        (true, json!("ann@x.io"), false),
        (true, json!("  Ann@X.IO "), false),
        (true, json!("not-an-email"), true),
        (true, json!("ann@localhost"), true),
        (true, json!(null), true),
        (true, json!(""), true),
        (false, json!(null), false),
        (false, json!("not-an-email"), false),
    ];
    for (only_with_email, email, excluded) in cases {
        let mut settings = two_way(ConflictWinner::Hub);
        settings.sync_only_with_email = only_with_email;
        let decision =
            Pair::new(Some(json!({"email": email, "firstname": "Ann"})), None).decide(&settings);
        if excluded {
            assert_eq!(
                decision,
                Decision::Excluded(Exclusion::NoValidEmail { side: Side::Hub }),
                "{only_with_email} {email}"
            );
        } else {
            let kind = decision.write_to(Side::App).map(|w| w.kind);
            assert_eq!(
                kind,
                Some(WriteKind::Create),
                "{only_with_email} {email}: {decision:?}"
            );
        }
    }
    // Setting off: a contact without email is paired by being created, then keeps syncing.
    let mut settings = two_way(ConflictWinner::Hub);
    settings.sync_only_with_email = false;
    let mut pair = Pair::new(None, Some(json!({"first_name": "Bo"})));
    assert_eq!(
        pair.sync(&settings).write_to(Side::Hub).map(|w| w.kind),
        Some(WriteKind::Create)
    );
    pair.edit_app(json!({"first_name": "Bob"}));
    assert_eq!(
        writes(&pair.decide(&settings)),
        (Some(json!({"firstname": "Bob"})), None)
    );
}

fn deals(direction: Direction) -> SyncSettings {
    let mut s = SyncSettings::new(ObjectKind::Deal, direction, ConflictWinner::Hub);
    s.mappings = vec![
        FieldMapping::new("dealname", Text, "title", Text),
        FieldMapping::same("amount", Number),
    ];
    s.stage_map = Some(StageMap::new(
        StageFields {
            pipeline: None,
            stage: "stage".into(),
        },
        vec![
            StagePair {
                hub: StageRef::new("default", "appointmentscheduled"),
                app: StageRef::new("", "1"),
            },
            StagePair {
                hub: StageRef::new("default", "closedwon"),
                app: StageRef::new("", "4"),
            },
        ],
    ));
    s
}

#[test]
fn deals__stage_not_mapped__excluded_with_that_reason() {
    let settings = deals(Direction::TwoWay);
    let deal = |stage: Json| json!({"dealname": "Big", "amount": 5, "pipeline": "default", "dealstage": stage});
    let unmapped = |side, pipeline: Option<&str>, stage: Option<&str>| {
        Some(Exclusion::UnmappedStage {
            side,
            pipeline: pipeline.map(Into::into),
            stage: stage.map(Into::into),
        })
    };
    // (case, hub, app, exclusion)
    let cases = [
        (
            "mapped hub stage",
            Some(deal(json!("closedwon"))),
            None,
            None,
        ),
        (
            "unmapped hub stage",
            Some(deal(json!("closedlost"))),
            None,
            unmapped(Side::Hub, Some("default"), Some("closedlost")),
        ),
        (
            "no stage",
            Some(deal(json!(null))),
            None,
            unmapped(Side::Hub, None, None),
        ),
        (
            "mapped app stage",
            None,
            Some(json!({"title": "B", "stage": "1"})),
            None,
        ),
        (
            "unmapped app stage",
            None,
            Some(json!({"title": "B", "stage": "9"})),
            unmapped(Side::App, None, Some("9")),
        ),
    ];
    for (name, hub, app, excluded) in cases {
        let decision = Pair::new(hub, app).decide(&settings);
        match excluded {
            Some(exclusion) => assert_eq!(decision, Decision::Excluded(exclusion), "{name}"),
            None => assert!(decision.plan().is_some(), "{name}: {decision:?}"),
        }
    }
    // No stage map at all: nothing is mapped.
    let mut no_map = settings.clone();
    no_map.stage_map = None;
    assert_eq!(
        Pair::new(Some(deal(json!("closedwon"))), None).decide(&no_map),
        Decision::Excluded(Exclusion::UnmappedStage {
            side: Side::Hub,
            pipeline: None,
            stage: None
        })
    );
    // A paired deal moved to an unmapped stage is excluded too: its stage cannot be written.
    let mut pair = Pair::new(Some(deal(json!("closedwon"))), None);
    pair.sync(&settings);
    pair.edit_hub(json!({"dealstage": "closedlost"}));
    assert_eq!(
        pair.decide(&settings),
        Decision::Excluded(Exclusion::UnmappedStage {
            side: Side::Hub,
            pipeline: Some("default".into()),
            stage: Some("closedlost".into())
        })
    );
    assert_eq!(
        Exclusion::UnmappedStage {
            side: Side::Hub,
            pipeline: Some("default".into()),
            stage: Some("closedlost".into())
        }
        .to_string(),
        "The deal is in hub stage 'closedlost' of pipeline 'default', which is not mapped."
    );
}

#[test]
fn deals__stages_translated_through_the_stage_map() {
    let settings = deals(Direction::TwoWay);
    let mut pair = Pair::new(
        Some(
            json!({"dealname": "Big", "pipeline": "default", "dealstage": "appointmentscheduled"}),
        ),
        None,
    );
    let created = pair.sync(&settings);
    assert_eq!(
        writes(&created),
        (None, Some(json!({"title": "Big", "stage": "1"})))
    );
    pair.edit_app(json!({"stage": "4"}));
    let moved = pair.sync(&settings);
    assert_eq!(
        writes(&moved),
        (
            Some(json!({"pipeline": "default", "dealstage": "closedwon"})),
            None
        )
    );
    assert!(pair.decide(&settings).is_nothing());
}

#[test]
fn enumeration__values_mapped_by_option_value() {
    let settings = two_way(ConflictWinner::Hub);
    let rows: Vec<Row> = vec![
        (
            "hub option, any case",
            json!({"lifecyclestage": "Customer"}),
            json!({}),
            None,
            Some(json!({"status": "C"})),
        ),
        (
            "app option, any case",
            json!({}),
            json!({"status": "c"}),
            Some(json!({"lifecyclestage": "customer"})),
            None,
        ),
        (
            "case only is no change",
            json!({"lifecyclestage": "LEAD"}),
            json!({"status": "l"}),
            None,
            None,
        ),
    ];
    check_rows(&settings, ann(), rows);
    let mut pair = in_sync(&settings, ann());
    pair.edit_hub(json!({"lifecyclestage": "subscriber"}));
    assert_eq!(
        pair.decide(&settings),
        Decision::Failed(Failure::TypeConversion {
            field: FieldRef::new(Side::Hub, "lifecyclestage"),
            target: FieldRef::new(Side::App, "status"),
            reason: "option 'subscriber' has no counterpart in the option map of this mapping"
                .into(),
        })
    );
}

#[test]
fn conversion__value_cannot_be_converted__record_failed_with_field_and_reason() {
    let settings = two_way(ConflictWinner::Hub);
    let mut pair = in_sync(&settings, ann());
    pair.edit_app(json!({"headcount": "a dozen"}));
    let decision = pair.decide(&settings);
    let Decision::Failed(failure) = decision else {
        panic!("expected a failure, got {decision:?}");
    };
    assert_eq!(failure.code(), ReasonCode::TypeConversion);
    assert_eq!(failure.field(), "app field 'headcount'");
    assert_eq!(
        failure.to_string(),
        "The value of app field 'headcount' cannot be written to hub property 'employees': \
         'a dozen' is not a number."
    );
    assert!(
        failure.hint().contains("Correct the value"),
        "{}",
        failure.hint()
    );
    // On create too; and a bad value that does not have to flow fails nothing.
    let lone = Pair::new(None, Some(json!({"email": "c@x.io", "headcount": "many"})));
    assert_eq!(lone.decide(&settings).plan(), None);
    let to_app = contacts(Direction::ToApp, ConflictWinner::Hub);
    let mut pair = in_sync(&to_app, ann());
    pair.edit_app(json!({"headcount": "a dozen"}));
    assert!(pair.decide(&to_app).plan().is_some());
}

#[test]
fn required__app_field_missing_when_creating_in_the_app__failed_naming_it() {
    let mut settings = two_way(ConflictWinner::Hub);
    settings.mappings[1] = settings.mappings[1].clone().required(); // firstname → first_name
    let missing = Decision::Failed(Failure::RequiredFieldMissing {
        app_field: "first_name".into(),
        hub_property: "firstname".into(),
    });
    // (case, hub record, failed)
    let cases = [
        (
            "present",
            json!({"email": "ann@x.io", "firstname": "Ann"}),
            false,
        ),
        ("absent", json!({"email": "ann@x.io"}), true),
        (
            "blank",
            json!({"email": "ann@x.io", "firstname": "  "}),
            true,
        ),
    ];
    for (name, hub, failed) in cases {
        let decision = Pair::new(Some(hub), None).decide(&settings);
        if failed {
            assert_eq!(decision, missing, "{name}");
        } else {
            assert!(decision.write_to(Side::App).is_some(), "{name}");
        }
    }
    // A required field whose mapping is off cannot be filled either.
    let mut off = settings.clone();
    off.mappings[1] = off.mappings[1].clone().disabled();
    assert_eq!(Pair::new(Some(ann()), None).decide(&off), missing);
    // Creating in the hub is not concerned.
    let app_only = Pair::new(None, Some(json!({"email": "c@x.io"})));
    assert!(app_only.decide(&settings).write_to(Side::Hub).is_some());
    // Clearing it later would leave the app record invalid: failed as well.
    let mut pair = in_sync(&settings, ann());
    pair.edit_hub(json!({"firstname": null}));
    assert_eq!(pair.decide(&settings), missing);
    let Decision::Failed(f) = missing else { return };
    assert_eq!(
        (f.code(), f.field()),
        (
            ReasonCode::RequiredFieldMissing,
            "app field 'first_name'".to_string()
        )
    );
}

/// Ways an app hands back what the engine wrote.
fn mangle(how: &str) -> impl Fn(&mut Record, &Write) + '_ {
    move |record: &mut Record, write: &Write| {
        apply(record, write);
        for value in record.values_mut() {
            *value = match (how, &*value) {
                ("numbers as text", Json::Number(n)) => json!(format!("{n}.0")),
                ("options lower-cased", Json::String(s)) if s.len() == 1 => json!(s.to_lowercase()),
                ("padded text", Json::String(s)) => json!(format!(" {s}  ")),
                ("empty as empty string", Json::Null) => json!(""),
                _ => value.clone(),
            };
        }
        if how == "empty as empty string" {
            for field in ["phone", "first_name", "firstname"] {
                record.entry(field).or_insert(json!(""));
            }
        }
    }
}

#[test]
fn echo__write_that_returns_only_snapshot_values__no_further_write() {
    let settings = two_way(ConflictWinner::Hub);
    for how in [
        "as written",
        "numbers as text",
        "options lower-cased",
        "padded text",
        "empty as empty string",
    ] {
        // Created in the app, read back mangled.
        let mut pair = Pair::new(
            Some(json!({"email": "ann@x.io", "lifecyclestage": "customer", "employees": 7})),
            None,
        );
        pair.sync_with(&settings, mangle(how));
        let again = pair.decide(&settings);
        assert!(again.is_nothing(), "{how}: after create: {again:?}");
        // Updated both ways, read back mangled.
        pair.edit_hub(json!({"employees": 8, "phone": "5"}));
        pair.edit_app(json!({"status": "L"}));
        let update = pair.sync_with(&settings, mangle(how));
        assert!(
            update.write_to(Side::App).is_some() && update.write_to(Side::Hub).is_some(),
            "{how}"
        );
        let again = pair.decide(&settings);
        assert!(again.is_nothing(), "{how}: after update: {again:?}");
    }
}

#[test]
fn snapshot__nothing_changed__same_snapshot_nothing_to_store() {
    let settings = two_way(ConflictWinner::App);
    let pair = in_sync(&settings, ann());
    let decision = pair.decide(&settings);
    let plan = decision.plan().cloned();
    assert!(decision.is_nothing(), "{decision:?}");
    assert_eq!(plan.map(|p| p.snapshot), pair.snapshot);
}

#[test]
fn deleted__paired_record_gone__marked_deleted_not_recreated() {
    let settings = two_way(ConflictWinner::Hub);
    let mut pair = in_sync(&settings, ann());
    pair.app = None;
    assert_eq!(
        pair.decide(&settings),
        Decision::Deleted { side: Side::App }
    );
    let mut pair = in_sync(&settings, ann());
    pair.hub = None;
    assert_eq!(
        pair.decide(&settings),
        Decision::Deleted { side: Side::Hub }
    );
    assert_eq!(
        decide(&settings, None, None, Pairing::New),
        Decision::Skipped(Skip::NoRecord)
    );
}

#[test]
fn resync_deleted__recreates_the_missing_record_without_entry_rules() {
    let mut settings = with_policy(WritePolicy::OnCreateOnly);
    settings.hub_filters = vec![Condition::new(
        "lifecyclestage",
        Operator::Equals("customer".into()),
    )];
    let mut pair = in_sync(&settings, ann()); // a lead: no longer matches the filter
    let snapshot = pair.snapshot.clone().unwrap_or_default();
    pair.app = None;
    let decision = decide(
        &settings,
        pair.hub.as_ref(),
        None,
        Pairing::Recreate(&snapshot),
    );
    let write = decision.write_to(Side::App).cloned();
    assert_eq!(write.as_ref().map(|w| w.kind), Some(WriteKind::Create));
    // "On create only" values go along: the record is being created.
    assert_eq!(
        write.and_then(|w| w.values.get("phone").cloned()),
        Some(json!("1"))
    );
    // Not against the direction.
    let mut to_hub = settings.clone();
    to_hub.direction = Direction::ToHub;
    assert_eq!(
        decide(
            &to_hub,
            pair.hub.as_ref(),
            None,
            Pairing::Recreate(&snapshot)
        ),
        Decision::Skipped(Skip::DirectionExcludes { side: Side::Hub })
    );
}

#[test]
fn matching__record_without_identifier__excluded_no_identifier() {
    let mut companies =
        SyncSettings::new(ObjectKind::Company, Direction::TwoWay, ConflictWinner::Hub);
    companies.mappings = vec![
        FieldMapping::same("name", Text),
        FieldMapping::same("domain", Text),
    ];
    let mut custom = two_way(ConflictWinner::Hub);
    custom.match_key = MatchKey::Custom {
        hub_property: "phone".into(),
        app_field: "phone".into(),
    };
    let no_id = |side| Some(Decision::Excluded(Exclusion::NoIdentifier { side }));
    // (case, settings, hub, app, expected exclusion)
    let cases = [
        (
            "company with name",
            &companies,
            Some(json!({"name": "Acme"})),
            None,
            None,
        ),
        (
            "company with domain",
            &companies,
            Some(json!({"domain": "https://acme.com"})),
            None,
            None,
        ),
        (
            "company with neither",
            &companies,
            Some(json!({"name": " ", "domain": "n/a"})),
            None,
            no_id(Side::Hub),
        ),
        (
            "app company with neither",
            &companies,
            None,
            Some(json!({"name": ""})),
            no_id(Side::App),
        ),
        ("custom key present", &custom, Some(ann()), None, None),
        (
            "custom key missing",
            &custom,
            Some(json!({"email": "ann@x.io"})),
            None,
            no_id(Side::Hub),
        ),
    ];
    for (name, settings, hub, app, want) in cases {
        let decision = Pair::new(hub, app).decide(settings);
        match want {
            Some(excluded) => assert_eq!(decision, excluded, "{name}"),
            None => assert!(decision.plan().is_some(), "{name}: {decision:?}"),
        }
    }
    // With no match key, contacts are only paired by creation; nothing is excluded.
    let mut none = two_way(ConflictWinner::Hub);
    none.match_key = MatchKey::None;
    none.sync_only_with_email = false;
    assert!(Pair::new(Some(json!({"firstname": "Al"})), None)
        .decide(&none)
        .plan()
        .is_some());
}

#[test]
fn settings__stored_as_json_with_product_defaults() {
    let text = r#"{
        "object": "contact", "direction": "two_way", "conflict_winner": "app",
        "mappings": [{"hub_property": "email", "hub_type": "text",
                      "app_field": "Email", "app_type": "text"}]
    }"#;
    let parsed: Result<SyncSettings, _> = serde_json::from_str(text);
    let Ok(settings) = parsed else {
        panic!("settings did not parse: {parsed:?}");
    };
    assert!(settings.sync_only_with_email);
    assert_eq!(settings.match_key, MatchKey::Default);
    let m = &settings.mappings[0];
    assert!(m.enabled && !m.required);
    assert_eq!(
        (m.direction, m.write_policy),
        (Direction::TwoWay, WritePolicy::Always)
    );
    // Decisions serialise for the activity log and the API.
    let decision = Pair::new(Some(json!({"email": "x"})), None).decide(&settings);
    let json = serde_json::to_value(&decision).unwrap_or_default();
    assert_eq!(
        json,
        json!({"decision": "excluded", "reason": "no_valid_email", "side": "hub"})
    );
    let snapshot = Snapshot {
        hub: [("employees".to_string(), Value::Number(12.0))].into(),
        ..Snapshot::default()
    };
    let stored = serde_json::to_string(&snapshot).unwrap_or_default();
    assert_eq!(
        stored,
        r#"{"hub":{"employees":{"number":12.0}},"app":{},"created_by_sync":null}"#
    );
    let back: Option<Snapshot> = serde_json::from_str(&stored).ok();
    assert_eq!(back, Some(snapshot));
}
