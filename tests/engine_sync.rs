//! The sync engine end to end: Tandem's hub and the demo app over real HTTP, both on
//! real Postgres databases, through the engine's job queue.

mod engine_common;

use engine_common::*;
use serde_json::json;
use sqlx::PgPool;
use tandem::hub::ObjectType;

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
    s.hub_create(
        ObjectType::Contacts,
        props(&[("email", "bob@example.com"), ("firstname", "Bob")]),
    )
    .await;
    s.hub_create(ObjectType::Contacts, props(&[("lastname", "NoMail")]))
        .await;
    let conn = s.connect("acme").await;
    // The same person in the app, with other case and whitespace and another first name.
    s.app_write(
        conn,
        "contacts",
        None,
        json!({"email": " ANN@example.com", "first_name": "Anna", "last_name": "Archer"}),
    )
    .await;
    s.app_write(
        conn,
        "contacts",
        None,
        json!({"email": "dan@example.com", "first_name": "Dan"}),
    )
    .await;
    // Seen second with the same email: a duplicate.
    s.app_write(
        conn,
        "contacts",
        None,
        json!({"email": "Dan@Example.com", "first_name": "Daniel"}),
    )
    .await;
    s.app_write(conn, "contacts", None, json!({"last_name": "Nomad"}))
        .await;

    let sync = s.create_sync(&s.contacts_input(conn)).await;
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

    let reasons: Vec<String> = s
        .index_states(sync.id)
        .await
        .into_iter()
        .filter_map(|r| r.3)
        .collect();
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
    let ann = s
        .hub_create(
            ObjectType::Contacts,
            props(&[("email", "ann@example.com"), ("firstname", "Ann")]),
        )
        .await;
    let conn = s.connect("acme").await;
    let dan = s
        .app_write(
            conn,
            "contacts",
            None,
            json!({"email": "dan@example.com", "first_name": "Dan"}),
        )
        .await;
    let sync = s.create_sync(&s.contacts_input(conn)).await;
    s.run_initial(sync.id).await;

    s.hub_update(ObjectType::Contacts, ann.id, json!({"firstname": "Annie"}))
        .await;
    s.app_write(
        conn,
        "contacts",
        Some(&dan.id),
        json!({"first_name": "Daniel"}),
    )
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
