//! The sync engine end to end: Tandem's hub and the demo app over real HTTP, both on
//! real Postgres databases, through the engine's job queue.

use crate::common::AsApiError;
use crate::engine_common::*;
use serde_json::json;
use sqlx::PgPool;
use tandem::hub::ObjectType;
use tandem::model::RecordState;
use tandem::model::{DefaultApp, FilterOp, SideInput, StagePairInput, SyncDirection, SyncPhase};

fn first_name(r: &tandem::connectors::AppRecord) -> String {
    r.properties.get("first_name").map(text).unwrap_or_default()
}

fn app_by_email<'a>(
    all: &'a [tandem::connectors::AppRecord],
    email: &str,
) -> Vec<&'a tandem::connectors::AppRecord> {
    all.iter()
        .filter(|r| {
            r.properties
                .get("email")
                .map(text)
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
        })
        .collect()
}

#[sqlx::test]
async fn two_way_initial_sync_matches_by_email_creates_both_ways_and_excludes_with_reasons(
    pool: PgPool,
) {
    let s = stack(pool).await;
    s.hub_create(
        ObjectType::Contacts,
        props(&[
            ("email", "ann@example.com"),
            ("firstname", "Ann"),
            ("lastname", "Archer"),
        ]),
    )
    .await;
    s.hub_contact("bob@example.com", "Bob").await;
    s.hub_create(ObjectType::Contacts, props(&[("lastname", "NoMail")]))
        .await;
    let conn = s.connect("acme").await;
    // The same person in the app, with other case and whitespace and another first name.
    s.app_create(
        conn,
        "contacts",
        json!({"email": " ANN@example.com", "first_name": "Anna", "last_name": "Archer"}),
    )
    .await;
    s.app_contact(conn, "dan@example.com", "Dan").await;
    // Seen second with the same email: a duplicate.
    s.app_contact(conn, "Dan@Example.com", "Daniel").await;
    s.app_create(conn, "contacts", json!({"last_name": "Nomad"}))
        .await;

    let sync = s.sync(conn).create().await;
    let done = s.run_initial(sync.id).await;
    assert_eq!(
        done.counts.syncing,
        3,
        "ann (paired), bob (created in app), dan (created in hub): {:?}",
        s.index_states(sync.id).await
    );
    assert_eq!(
        done.counts.excluded,
        3,
        "{:?}",
        s.index_states(sync.id).await
    );
    assert_eq!(done.counts.failed, 0);

    let app = s.app_all(conn, "contacts").await;
    // Paired, not duplicated; the default app (hub) won the differing first name.
    let ann = app_by_email(&app, "ann@example.com");
    assert_eq!(ann.len(), 1);
    assert_eq!(first_name(ann[0]), "Ann");
    assert_eq!(
        app_by_email(&app, "bob@example.com").len(),
        1,
        "bob was created in the app"
    );
    let dan = s
        .hub_by_email("dan@example.com")
        .await
        .expect("dan was created in the hub");
    assert_eq!(
        dan.properties.get("firstname").map(String::as_str),
        Some("Dan"),
        "the first record seen wins"
    );
    assert_eq!(
        s.hub_all(ObjectType::Contacts).await.len(),
        4,
        "ann, bob, nomail, dan: no duplicate"
    );

    let reasons = s.reasons(sync.id).await;
    assert!(reasons.contains(&"duplicate".to_string()), "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|r| *r == "no_valid_email").count(),
        2,
        "{reasons:?}"
    );
}

#[sqlx::test]
async fn changes_flow_both_ways_and_writing_back_causes_no_echo(pool: PgPool) {
    let s = stack(pool).await;
    let ann = s.hub_contact("ann@example.com", "Ann").await;
    let conn = s.connect("acme").await;
    let dan = s.app_contact(conn, "dan@example.com", "Dan").await;
    s.sync(conn).run_initial().await;

    s.hub_update(ObjectType::Contacts, ann.id, json!({"firstname": "Annie"}))
        .await;
    s.app_update(conn, "contacts", &dan.id, json!({"first_name": "Daniel"}))
        .await;
    s.pick_up_changes().await;
    let app = s.app_all(conn, "contacts").await;
    assert_eq!(
        first_name(app_by_email(&app, "ann@example.com")[0]),
        "Annie"
    );
    let hub_dan = s.hub_by_email("dan@example.com").await.unwrap();
    assert_eq!(
        hub_dan.properties.get("firstname").map(String::as_str),
        Some("Daniel")
    );

    // Nothing changed since: looking again writes nothing anywhere.
    let before = s.demo_stats().await;
    let hub_before = s.hub_all(ObjectType::Contacts).await;
    s.pick_up_changes().await;
    s.pick_up_changes().await;
    let after = s.demo_stats().await;
    let batch_calls = |stats: &serde_json::Value| -> i64 {
        stats["requests"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter(|r| r["endpoint"].as_str().unwrap_or_default().contains("batch"))
                    .map(|r| r["count"].as_i64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    };
    assert_eq!(
        batch_calls(&before),
        batch_calls(&after),
        "no echo writes to the app: {after}"
    );
    let hub_after = s.hub_all(ObjectType::Contacts).await;
    assert_eq!(
        hub_before.iter().map(|r| r.updated_at).collect::<Vec<_>>(),
        hub_after.iter().map(|r| r.updated_at).collect::<Vec<_>>(),
        "no echo writes to the hub"
    );
}

#[sqlx::test]
async fn a_changed_email_frees_the_old_one_for_matching(pool: PgPool) {
    let s = stack(pool).await;
    let ann = s.hub_contact("ann@old.example", "Ann").await;
    let conn = s.connect("acme").await;
    let sync = s.sync(conn).run_initial().await;
    s.hub_update(
        ObjectType::Contacts,
        ann.id,
        json!({"email": "ann@new.example"}),
    )
    .await;
    s.pick_up_changes().await;
    // Someone else now has the old address in the app: a new pair, not a duplicate of Ann.
    s.app_contact(conn, "ann@old.example", "Otto").await;
    s.pick_up_changes().await;
    let otto = s
        .hub_by_email("ann@old.example")
        .await
        .expect("the app's new record reached the hub");
    assert_ne!(otto.id, ann.id);
    assert_eq!(
        otto.properties.get("firstname").map(String::as_str),
        Some("Otto")
    );
    let excluded = s
        .index_states(sync.id)
        .await
        .into_iter()
        .filter(|r| r.3.is_some())
        .count();
    assert_eq!(excluded, 0, "nothing excluded as a duplicate");
}

/// Runs one two-way contact sync with `tweak` applied to its settings; returns the
/// sync id, the connection and the paired records (hub id, app id) of `email`.
async fn paired(
    s: &Stack,
    tweak: impl FnOnce(SyncBuilder) -> SyncBuilder,
    email: &str,
) -> (uuid::Uuid, uuid::Uuid, i64, String) {
    let hub = s
        .hub_create(
            ObjectType::Contacts,
            props(&[
                ("email", email),
                ("firstname", "Start"),
                ("jobtitle", "Engineer"),
            ]),
        )
        .await;
    let conn = s.connect("acme").await;
    let sync = tweak(s.sync(conn)).run_initial().await;
    let app = app_by_email(&s.app_all(conn, "contacts").await, email)[0].clone();
    (sync.id, conn, hub.id, app.id)
}

#[sqlx::test]
async fn conflict_default_app_hub_wins_when_both_sides_changed_the_same_field(pool: PgPool) {
    let s = stack(pool).await;
    let (_, conn, hub_id, app_id) = paired(&s, |b| b, "c@example.com").await;
    s.hub_update(
        ObjectType::Contacts,
        hub_id,
        json!({"firstname": "FromHub"}),
    )
    .await;
    s.app_update(conn, "contacts", &app_id, json!({"first_name": "FromApp"}))
        .await;
    s.pick_up_changes().await;
    let app = s.app_read(conn, "contacts", &app_id).await;
    assert_eq!(first_name(&app[0]), "FromHub");
    let hub = s.hub_by_email("c@example.com").await.unwrap();
    assert_eq!(hub.properties["firstname"], "FromHub");
}

#[sqlx::test]
async fn conflict_default_app_app_wins_and_direction_is_still_respected(pool: PgPool) {
    let s = stack(pool).await;
    let (_, conn, hub_id, app_id) =
        paired(&s, |b| b.conflict_winner(DefaultApp::App), "d@example.com").await;
    s.hub_update(
        ObjectType::Contacts,
        hub_id,
        json!({"firstname": "FromHub"}),
    )
    .await;
    s.app_update(conn, "contacts", &app_id, json!({"first_name": "FromApp"}))
        .await;
    s.pick_up_changes().await;
    let hub = s.hub_by_email("d@example.com").await.unwrap();
    assert_eq!(hub.properties["firstname"], "FromApp");
}

#[sqlx::test]
async fn empty_value_of_the_default_app_changes_nothing_in_the_other_app(pool: PgPool) {
    let s = stack(pool).await;
    let (_, conn, hub_id, app_id) = paired(&s, |b| b, "e@example.com").await;
    // Both changed the job title; the default app (hub) cleared it.
    s.hub_update(ObjectType::Contacts, hub_id, json!({"jobtitle": null}))
        .await;
    s.app_update(conn, "contacts", &app_id, json!({"job_title": "Architect"}))
        .await;
    s.pick_up_changes().await;
    let app = s.app_read(conn, "contacts", &app_id).await;
    assert_eq!(
        app[0].properties.get("job_title").map(text).as_deref(),
        Some("Architect"),
        "the app keeps its value"
    );
    let hub = s.hub_by_email("e@example.com").await.unwrap();
    assert!(
        !hub.properties.contains_key("jobtitle"),
        "the hub keeps its empty value"
    );
}

#[sqlx::test]
async fn filters_limit_only_the_initial_sync_and_paired_records_keep_syncing(pool: PgPool) {
    let s = stack(pool).await;
    s.hub_create(
        ObjectType::Contacts,
        props(&[("email", "in@example.com"), ("jobtitle", "Engineer")]),
    )
    .await;
    s.hub_create(
        ObjectType::Contacts,
        props(&[("email", "out@example.com"), ("jobtitle", "Sales")]),
    )
    .await;
    let conn = s.connect("acme").await;
    let sync = s
        .sync(conn)
        .filter(
            SideInput::Hub,
            "jobtitle",
            FilterOp::Equals("Engineer".into()),
        )
        .create()
        .await;
    let done = s.run_initial(sync.id).await;
    assert_eq!(done.counts.syncing, 1);
    assert_eq!(done.counts.excluded, 1);
    let app = s.app_all(conn, "contacts").await;
    assert_eq!(
        app_by_email(&app, "out@example.com").len(),
        0,
        "filtered out at the initial sync"
    );
    // The paired record stops meeting the filter: it keeps syncing.
    let hub_in = s.hub_by_email("in@example.com").await.unwrap();
    s.hub_update(
        ObjectType::Contacts,
        hub_in.id,
        json!({"jobtitle": "Manager", "firstname": "Ines"}),
    )
    .await;
    s.pick_up_changes().await;
    let app = s.app_all(conn, "contacts").await;
    assert_eq!(first_name(app_by_email(&app, "in@example.com")[0]), "Ines");
}

#[sqlx::test]
async fn contacts_without_email_sync_when_the_option_is_off(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    s.app_create(
        conn,
        "contacts",
        json!({"last_name": "Nomail", "first_name": "Nora"}),
    )
    .await;
    let sync = s.sync(conn).without_email().create().await;
    let done = s.run_initial(sync.id).await;
    assert_eq!(
        done.counts.syncing,
        1,
        "{:?}",
        s.index_states(sync.id).await
    );
    let hub = s.hub_all(ObjectType::Contacts).await;
    assert_eq!(hub.len(), 1);
    assert_eq!(
        hub[0].properties.get("lastname").map(String::as_str),
        Some("Nomail")
    );
}

#[sqlx::test]
async fn deal_stages_map_by_auto_map_and_unmapped_stages_are_excluded(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    let options =
        tandem::engine::service::field_options(&s.state, s.admin.portal_id, conn, "deals", "deals")
            .await
            .unwrap();
    let pairs = options.suggested_stage_pairs.clone();
    let label = |p: &[tandem::model::PipelineOption], id: &str| {
        p.iter()
            .flat_map(|x| x.stages.clone())
            .find(|(i, _)| i == id)
            .map(|(_, l)| l)
            .unwrap()
    };
    let mapped: Vec<(String, String)> = pairs
        .iter()
        .map(|p| {
            (
                label(&options.hub_pipelines, &p.hub_stage),
                label(&options.app_pipelines, &p.app_stage),
            )
        })
        .collect();
    assert!(
        mapped.contains(&("Closed won".into(), "Won".into())),
        "{mapped:?}"
    );
    assert!(
        mapped.contains(&("Qualified to buy".into(), "Qualified".into())),
        "{mapped:?}"
    );
    // Keep only "Closed won": deals elsewhere are excluded with that reason.
    let won: Vec<StagePairInput> = pairs
        .into_iter()
        .filter(|p| p.hub_stage == "closedwon")
        .collect();
    let won_app = won[0].clone();
    s.hub_create(
        ObjectType::Deals,
        props(&[
            ("dealname", "Big win"),
            ("pipeline", "default"),
            ("dealstage", "closedwon"),
            ("amount", "1000"),
        ]),
    )
    .await;
    s.hub_create(
        ObjectType::Deals,
        props(&[
            ("dealname", "Early"),
            ("pipeline", "default"),
            ("dealstage", "qualifiedtobuy"),
        ]),
    )
    .await;
    let sync = s
        .sync(conn)
        .objects("deals")
        .stage_pairs(won)
        .create()
        .await;
    let done = s.run_initial(sync.id).await;
    assert_eq!(
        done.counts.syncing,
        1,
        "{:?}",
        s.index_states(sync.id).await
    );
    let reasons = s.reasons(sync.id).await;
    assert_eq!(reasons, vec!["unmapped_stage".to_string()]);
    let app = s.app_all(conn, "deals").await;
    let big = app
        .iter()
        .find(|d| d.properties.get("title").map(text).as_deref() == Some("Big win"))
        .expect("created in the app");
    assert_eq!(
        big.properties.get("stage_id").map(text).as_deref(),
        Some(won_app.app_stage.as_str())
    );
    assert_eq!(
        big.properties
            .get("value")
            .map(text)
            .as_deref()
            .and_then(|v| v.parse::<f64>().ok()),
        Some(1000.0)
    );
}

#[sqlx::test]
async fn associations_are_kept_and_removals_flow_when_both_ends_are_synced(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    let company = s
        .app_create(
            conn,
            "companies",
            json!({"name": "Acme Rockets", "domain": "rockets.example"}),
        )
        .await;
    let mut person = s.app_contact(conn, "rita@rockets.example", "Rita").await;
    person = s
        .connector(conn)
        .await
        .set_associated("contacts", &person.id, ("companies", &company.id), true)
        .await
        .map(|_| person)
        .unwrap();
    s.sync(conn).objects("companies").run_initial().await;
    s.sync(conn).run_initial().await;
    let hub_rita = s.hub_by_email("rita@rockets.example").await.unwrap();
    let hub_companies = || async {
        tandem::hub::associations::all_ids(
            s.pool(),
            s.admin.portal_id,
            (ObjectType::Contacts, hub_rita.id),
            ObjectType::Companies,
        )
        .await
        .unwrap()
    };
    let app_companies = || async {
        let rita = s
            .connector(conn)
            .await
            .read("contacts", std::slice::from_ref(&person.id))
            .await
            .unwrap();
        rita[0]
            .associations
            .get("companies")
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        hub_companies().await.len(),
        1,
        "the contact's company association reached the hub"
    );
    // And back: a hub-side association reaches the app.
    let other = s
        .hub_create(
            ObjectType::Companies,
            props(&[("name", "Globex"), ("domain", "globex.example")]),
        )
        .await;
    s.pick_up_changes().await;
    let (a, b) = (
        (ObjectType::Contacts, hub_rita.id),
        (ObjectType::Companies, other.id),
    );
    let by_user = tandem::hub::WriteOrigin::User(s.admin.user_id);
    tandem::hub::associations::set_associated(s.pool(), s.admin.portal_id, a, b, true, &by_user)
        .await
        .unwrap();
    s.pick_up_changes().await;
    assert_eq!(app_companies().await.len(), 2);

    // Removals flow too: dropped in the app, then in the hub.
    s.connector(conn)
        .await
        .set_associated("contacts", &person.id, ("companies", &company.id), false)
        .await
        .unwrap();
    s.pick_up_changes().await;
    assert_eq!(
        hub_companies().await,
        vec![other.id],
        "the association removed in the app is removed in the hub"
    );
    tandem::hub::associations::set_associated(s.pool(), s.admin.portal_id, a, b, false, &by_user)
        .await
        .unwrap();
    s.pick_up_changes().await;
    assert_eq!(
        app_companies().await,
        Vec::<String>::new(),
        "the association removed in the hub is removed in the app"
    );
}

#[sqlx::test]
async fn email_events_become_timeline_events_of_hub_contacts_that_exist(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    let known = s.app_contact(conn, "ev@example.com", "Eve").await;
    let unknown = s
        .app_create(conn, "contacts", json!({"last_name": "NoEmail"}))
        .await;
    let sync = s.sync(conn).event_sync().run_initial().await;
    let http = reqwest::Client::new();
    for (id, kind) in [
        (&known.id, "email.opened"),
        (&known.id, "email.clicked"),
        (&unknown.id, "email.opened"),
    ] {
        let res = http
            .post(format!("{}/admin/events", s.demo_url))
            .header("X-Admin-Key", "demo-admin-key")
            .json(
                &json!({"contact_id": id, "type": kind, "properties": {"subject": "Autumn offer"}}),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
    s.pick_up_changes().await;
    s.enqueue("events", sync.id).await;
    s.drain().await;
    let hub = s.hub_by_email("ev@example.com").await.unwrap();
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM hub_timeline_events WHERE record_id = $1 ORDER BY kind",
    )
    .bind(hub.id)
    .fetch_all(s.pool())
    .await
    .unwrap();
    assert_eq!(kinds, vec!["email_clicked", "email_opened"]);
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM hub_timeline_events")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(
        total, 2,
        "the event of a contact that is not in the hub is skipped"
    );
}

#[sqlx::test]
async fn deletions_are_not_propagated_and_resync_or_restore_recreates_them(pool: PgPool) {
    let s = stack(pool).await;
    let (sync_id, conn, _hub_id, app_id) = paired(&s, |b| b, "del@example.com").await;
    s.connector(conn)
        .await
        .delete("contacts", &app_id)
        .await
        .unwrap();
    s.pick_up_changes().await;
    let counts = s.counts(sync_id).await;
    assert_eq!(counts.deleted, 1);
    assert!(
        s.hub_by_email("del@example.com").await.is_some(),
        "not propagated to the hub"
    );
    // Review, then restore into the app.
    let preview = tandem::engine::service::preview_restore(
        s.pool(),
        s.admin.portal_id,
        conn,
        "contacts",
        SideInput::App,
    )
    .await
    .unwrap();
    assert_eq!(preview.len(), 1);
    assert_eq!(preview[0].label, "del@example.com");
    let n = tandem::engine::service::restore(
        s.pool(),
        s.admin.portal_id,
        conn,
        "contacts",
        SideInput::App,
        vec![preview[0].index_id],
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    s.drain().await;
    let app = s.app_all(conn, "contacts").await;
    let back = app_by_email(&app, "del@example.com");
    assert_eq!(back.len(), 1, "recreated in the app");
    assert_ne!(back[0].id, app_id);
    let counts = s.counts(sync_id).await;
    assert_eq!((counts.deleted, counts.syncing), (0, 1));
}

#[sqlx::test]
async fn turning_off_keeps_the_index_and_turning_on_runs_the_initial_sync_again(pool: PgPool) {
    let s = stack(pool).await;
    let (sync_id, conn, hub_id, _) = paired(&s, |b| b, "off@example.com").await;
    s.set_enabled(sync_id, false).await;
    s.hub_update(
        ObjectType::Contacts,
        hub_id,
        json!({"firstname": "WhileOff"}),
    )
    .await;
    s.pick_up_changes().await;
    let view = s.status(sync_id).await;
    assert_eq!(view.phase, SyncPhase::Off);
    assert_eq!(view.counts.syncing, 1, "the index is kept");
    let app = s.app_all(conn, "contacts").await;
    assert_eq!(
        first_name(app_by_email(&app, "off@example.com")[0]),
        "Start",
        "nothing syncs while off"
    );
    s.set_enabled(sync_id, true).await;
    s.run_initial(sync_id).await;
    let app = s.app_all(conn, "contacts").await;
    assert_eq!(
        app_by_email(&app, "off@example.com").len(),
        1,
        "still one record: the pair was kept"
    );
    assert_eq!(
        first_name(app_by_email(&app, "off@example.com")[0]),
        "WhileOff"
    );
}

#[sqlx::test]
async fn a_sync_without_the_permission_it_needs_is_turned_off_and_admins_are_told(pool: PgPool) {
    let s = stack(pool).await;
    // The account was connected with read access only; a two-way sync must write to it.
    let conn = s.connect_with_scope("acme", Some("crm.read")).await;
    s.hub_contact("hub-only@example.com", "Hub").await;
    let sync = s.sync(conn).create().await;
    s.settle(sync.id).await;
    let view = s.status(sync.id).await;
    assert_eq!(
        view.phase,
        SyncPhase::Off,
        "turned off, not retried forever"
    );
    let error = view.last_error.expect("the reason is kept on the sync");
    assert!(error.contains("crm.write"), "{error}");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE sync_id = $1")
        .bind(sync.id)
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(jobs, 0, "nothing is left waiting for a sync that is off");
    let notes: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT title, body, link FROM notifications WHERE kind = 'sync_turned_off' AND user_id = $1",
    )
    .bind(s.admin.user_id)
    .fetch_all(s.pool())
    .await
    .unwrap();
    assert_eq!(notes.len(), 1, "the admin is told once");
    let (title, body, link) = &notes[0];
    assert!(title.contains("turned off by errors"), "{title}");
    assert!(
        body.contains("crm.write") && body.contains("turn the sync on again"),
        "{body}"
    );
    assert!(link
        .as_deref()
        .is_some_and(|l| l.contains(&sync.id.to_string())));

    // Turning it on again with the permission still missing turns it off again, with one
    // more notice (not one per retry).
    s.set_enabled(sync.id, true).await;
    s.settle(sync.id).await;
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE kind = 'sync_turned_off'")
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert_eq!(n, 2);
}

#[sqlx::test]
async fn an_app_change_notice_shows_the_pair_queued_until_a_job_has_looked_at_it(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    let dan = s.app_contact(conn, "dan@example.com", "Dan").await;
    s.app_contact(conn, "eve@example.com", "Eve").await;
    let ann = s.hub_contact("ann@example.com", "Ann").await;
    let sync = s.sync(conn).run_initial().await;
    let counts = |v: &tandem::model::SyncView| (v.counts.syncing, v.counts.queued);
    assert_eq!(counts(&s.status(sync.id).await), (3, 0));

    // The app's webhook has arrived; no job has run since.
    s.app_update(conn, "contacts", &dan.id, json!({"first_name": "Daniel"}))
        .await;
    assert!(s.webhooks_arrived().await, "the demo app sends a webhook");
    assert_eq!(counts(&s.status(sync.id).await), (2, 1));
    let queued = s.records_in_state(sync.id, RecordState::Queued).await;
    assert_eq!(queued.rows.len(), 1, "{:?}", queued.rows);
    assert_eq!(queued.rows[0].app_id.as_deref(), Some(dan.id.as_str()));
    assert_eq!(queued.rows[0].state, RecordState::Queued);

    s.drain().await;
    assert_eq!(counts(&s.status(sync.id).await), (3, 0));
    let hub_dan = s.hub_by_email("dan@example.com").await.unwrap();
    assert_eq!(
        hub_dan.properties.get("firstname").map(String::as_str),
        Some("Daniel")
    );

    // The engine's own write to the app comes back as a webhook: once a job has seen
    // there is nothing to carry out, the pair is no longer queued.
    s.hub_update(ObjectType::Contacts, ann.id, json!({"firstname": "Annie"}))
        .await;
    s.pick_up_changes().await;
    assert_eq!(counts(&s.status(sync.id).await), (3, 0));
    let app = s.app_all(conn, "contacts").await;
    assert_eq!(
        first_name(app_by_email(&app, "ann@example.com")[0]),
        "Annie"
    );
}

#[sqlx::test]
async fn a_record_the_app_refuses_fails_with_the_reason_and_a_troubleshooting_guide(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    // The Demo CRM needs an email or a last name; this hub contact has neither.
    s.hub_create(ObjectType::Contacts, props(&[("firstname", "Solo")]))
        .await;
    let sync = s.sync(conn).without_email().create().await;
    let done = s.run_initial(sync.id).await;
    assert_eq!(done.counts.failed, 1, "{:?}", s.index_states(sync.id).await);
    let page = s.records_in_state(sync.id, RecordState::Failed).await;
    assert_eq!(page.groups.len(), 1);
    assert_eq!(page.groups[0].code.as_str(), "app_validation");
    let row = &page.rows[0];
    assert!(
        row.message
            .as_deref()
            .unwrap_or_default()
            .contains("refused"),
        "{row:?}"
    );
    let detail =
        tandem::engine::service::record_detail(&s.state, s.admin.portal_id, sync.id, row.index_id)
            .await
            .unwrap();
    let guide = detail.troubleshoot.expect("a troubleshooting guide");
    assert_eq!(guide.title, "The app refused the record");
    assert!(!guide.fix.is_empty());
    assert!(guide
        .links
        .iter()
        .any(|(_, href)| href.starts_with("/contacts/")));
    assert!(detail.activity.iter().any(|a| a.kind == "failed"));
    // Fixed on the hub side: retried on its next change and syncs.
    let solo = s.hub_all(ObjectType::Contacts).await.pop().unwrap();
    s.hub_update(ObjectType::Contacts, solo.id, json!({"lastname": "Han"}))
        .await;
    s.pick_up_changes().await;
    let counts = s.counts(sync.id).await;
    assert_eq!((counts.failed, counts.syncing), (0, 1));
}

#[sqlx::test]
async fn text_to_number_mappings_are_refused_when_saved(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    let mut bad = s
        .sync(conn)
        .objects("companies")
        .mapping("name", "employee_count", SyncDirection::TwoWay)
        .input();
    let err = tandem::engine::service::validate(&s.state, s.admin.portal_id, &bad)
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 422);
    assert!(
        err.fields.iter().any(|f| f.message.contains("number")),
        "{:?}",
        err.fields
    );
    // Number into text is fine.
    bad.mappings[0].hub_property = "city".into();
    bad.mappings[0].direction = SyncDirection::ToHub;
    tandem::engine::service::validate(&s.state, s.admin.portal_id, &bad)
        .await
        .unwrap();
}
