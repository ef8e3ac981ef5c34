//! The hub CRM against a real Postgres: validation, soft delete and restore, the
//! change feed (ordering, resume, concurrency, LISTEN), per-property provenance,
//! keyset paging, index use, associations, pipelines, timeline, the generator, the
//! REST API (round trip and cross-portal isolation) and the pages' server functions.

use crate::common::*;
use axum::body::Body;
use http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;
use tandem::hub::changes::{self, ChangeKind, ChangeListener};
use tandem::hub::generator::{self, GenerateOptions};
use tandem::hub::records::{self, Cursor, Filter, FilterOp, ListQuery, Sort, SortDir};
use tandem::hub::{associations, pipelines, schema, timeline};
use tandem::model::crm::{
    NewPropertyRequest, ObjectType, PropertyOption, PropertyType, WriteOrigin,
};
use tandem::model::Role;
use uuid::Uuid;

fn props(v: Value) -> BTreeMap<String, Value> {
    v.as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

async fn setup(pool: &PgPool) -> (axum::Router, Seeded) {
    let app = test_app(pool).await;
    let s = seed_user(pool, "acme", "boss@example.com", Role::SuperAdmin).await;
    (app, s)
}

/// The text at `pointer` in each element of a JSON array.
fn texts<'a>(list: &'a Value, pointer: &str) -> Vec<&'a str> {
    let list = list.as_array().expect("an array");
    list.iter()
        .map(|e| e.pointer(pointer).and_then(Value::as_str).expect("a text"))
        .collect()
}

/// A custom property as an admin adds it with only a label and a type.
fn property(label: &str, kind: PropertyType) -> NewPropertyRequest {
    NewPropertyRequest {
        label: label.into(),
        name: None,
        kind,
        options: Vec::new(),
        required: false,
        read_only: false,
        description: String::new(),
    }
}

fn fields(err: &tandem::model::ApiError) -> Vec<&str> {
    err.fields.iter().map(|f| f.field.as_str()).collect()
}

// ---------------------------------------------------------------------------------
// Validation

#[sqlx::test]
async fn validation_errors_name_every_field(pool: PgPool) {
    let (app, s) = setup(&pool).await;
    let hub = s.hub(&pool);
    let api = s.rest(&app);
    let err = hub
        .create(
            ObjectType::Contacts,
            json!({
                "email": "not-an-email",
                "lifecyclestage": "astronaut",
                "date_of_birth": "31/12/1990",
                "createdate": "2020-01-01",
                "shoe_size": "44",
                "firstname": "Valid",
            }),
        )
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 422);
    assert_eq!(
        fields(&err),
        vec![
            "createdate",
            "date_of_birth",
            "email",
            "lifecyclestage",
            "shoe_size"
        ]
    );
    assert!(err
        .field_message("email")
        .unwrap()
        .contains("not a valid email"));
    assert!(err
        .field_message("lifecyclestage")
        .unwrap()
        .contains("Options: subscriber, lead"));
    assert!(err
        .field_message("createdate")
        .unwrap()
        .contains("cannot be changed"));

    // Numbers must parse; required fields are reported with the others.
    let err = hub
        .create(ObjectType::Deals, json!({ "amount": "12,50" }))
        .await
        .unwrap_err()
        .api();
    assert_eq!(fields(&err), vec!["amount", "dealname", "dealstage"]);
    assert!(err.field_message("dealname").unwrap().contains("required"));
    assert!(err
        .field_message("amount")
        .unwrap()
        .contains("must be a number"));

    // Nothing was written, and no change row either.
    assert_eq!(changes::last_seq(&pool, s.portal_id).await.unwrap(), 0);

    // Server functions answer 422 with the field names…
    let r = api
        .call(
            "create_crm_record",
            json!({ "object": "contacts", "properties": { "email": "nope" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "validation");
    assert_eq!(r.body["fields"][0]["field"], "email");

    // …and REST answers HubSpot's shape with 400.
    let r = api
        .post(
            "/api/crm/v3/objects/contacts",
            json!({ "properties": { "email": "nope", "hs_lead_status": "MAYBE" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    let errs = texts(&r.body["errors"], "/field");
    assert_eq!(errs, vec!["email", "hs_lead_status"]);
    assert!(r.body["correlationId"].is_string());

    // Read-only custom properties are refused to people and tokens, accepted from syncs.
    schema::create_property(
        &pool,
        s.portal_id,
        ObjectType::Contacts,
        NewPropertyRequest {
            read_only: true,
            ..property("ERP id", PropertyType::String)
        },
    )
    .await
    .unwrap();
    let err = hub
        .create(ObjectType::Contacts, json!({ "erp_id": "E1" }))
        .await
        .unwrap_err()
        .api();
    assert_eq!(fields(&err), vec!["erp_id"]);
    assert!(err.message.contains("read-only"));
    let by_sync = hub
        .by(WriteOrigin::Sync(Uuid::new_v4()))
        .create(ObjectType::Contacts, json!({ "erp_id": "E1" }))
        .await
        .unwrap();
    assert_eq!(by_sync.get("erp_id"), Some("E1"));
}

#[sqlx::test]
async fn values_are_stored_normalised(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let sys = s.hub(&pool).by(WriteOrigin::System);
    let r = sys.create(ObjectType::Companies, json!({ "name": "  Acme  ", "domain": "https://www.Acme.com/about", "numberofemployees": "0042", "industry": "retail" }))
    .await
    .unwrap();
    assert_eq!(r.get("name"), Some("Acme"));
    assert_eq!(r.get("domain"), Some("acme.com"));
    assert_eq!(r.get("numberofemployees"), Some("42"));
    assert_eq!(r.get("industry"), Some("RETAIL"));
    let c = sys
        .create(
            ObjectType::Contacts,
            json!({ "email": " Anna@Example.COM " }),
        )
        .await
        .unwrap();
    assert_eq!(c.get("email"), Some("anna@example.com"));
    // Empty values are "not set", not empty strings.
    let c2 = sys
        .create(
            ObjectType::Contacts,
            json!({ "firstname": "Bo", "lastname": "" }),
        )
        .await
        .unwrap();
    assert!(c2.get("lastname").is_none());
}

#[sqlx::test]
async fn batch_writes_for_the_engine_refuse_records_one_by_one(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let hub = s.hub(&pool);
    let taken = hub
        .create(
            ObjectType::Contacts,
            json!({ "email": "taken@example.com" }),
        )
        .await
        .unwrap();
    let schema = schema::load(&pool, s.portal_id, ObjectType::Contacts)
        .await
        .unwrap();
    let sync = WriteOrigin::Sync(Uuid::new_v4());
    let mut tx = pool.begin().await.unwrap();
    let mut feed = changes::Deferred::default();
    let created = records::create_each_in(
        &mut tx,
        &schema,
        s.portal_id,
        &[
            props(json!({ "email": "ok@example.com", "firstname": "Ok" })),
            props(json!({ "email": "not an email" })),
            props(json!({ "email": " TAKEN@example.com" })),
            props(json!({ "email": "twice@example.com" })),
            props(json!({ "email": "Twice@example.com" })),
        ],
        &sync,
        &mut feed,
    )
    .await
    .unwrap();
    let ok: Vec<bool> = created.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, false, true, false]);
    let e = created[2].as_ref().unwrap_err().api();
    assert_eq!(e.status, 409);
    assert!(
        e.message.contains(&format!("Existing ID: {}", taken.id)),
        "{}",
        e.message
    );
    assert_eq!(fields(&created[1].as_ref().unwrap_err().api()), ["email"]);
    let first = created[0].as_ref().unwrap().id;
    let fourth = created[3].as_ref().unwrap().id;

    let updated = records::update_each_in(
        &mut tx,
        &schema,
        s.portal_id,
        &[
            (first, props(json!({ "firstname": "Changed" }))),
            (fourth, props(json!({ "email": "taken@example.com" }))),
            (i64::MAX, props(json!({ "firstname": "Nobody" }))),
            (first, props(json!({ "lastname": "Again" }))),
        ],
        &sync,
        &mut feed,
    )
    .await
    .unwrap();
    let ok: Vec<bool> = updated.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, false, false]);
    assert_eq!(updated[0].as_ref().unwrap().changed, ["firstname"]);
    assert_eq!(updated[2].as_ref().unwrap_err().api().status, 404);
    feed.append(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    // What was written is there, with one change row each, from the sync.
    let feed = changes::read_after(&pool, s.portal_id, 0, 100)
        .await
        .unwrap();
    let by_sync: Vec<(i64, ChangeKind)> = feed
        .iter()
        .filter(|c| c.origin == sync)
        .map(|c| (c.record_id, c.kind))
        .collect();
    assert_eq!(
        by_sync,
        [
            (first, ChangeKind::Created),
            (fourth, ChangeKind::Created),
            (first, ChangeKind::Updated)
        ]
    );
    let stored = records::get(&pool, s.portal_id, ObjectType::Contacts, first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.get("firstname"), Some("Changed"));
    assert_eq!(stored.get("email"), Some("ok@example.com"));
}

#[sqlx::test]
async fn duplicate_contact_emails_are_refused(pool: PgPool) {
    let (app, s) = setup(&pool).await;
    let hub = s.hub(&pool);
    let api = s.rest(&app);
    let first = hub
        .create(ObjectType::Contacts, json!({ "email": "sam@example.com" }))
        .await
        .unwrap();
    let err = hub
        .create(
            ObjectType::Contacts,
            json!({ "email": "  SAM@example.com" }),
        )
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 409);
    assert!(
        err.message.contains(&format!("Existing ID: {}", first.id)),
        "{}",
        err.message
    );
    // Updating another contact to that email is refused too; archiving frees it.
    let other = hub
        .create(ObjectType::Contacts, json!({ "email": "kim@example.com" }))
        .await
        .unwrap();
    let err = hub
        .update(
            ObjectType::Contacts,
            other.id,
            json!({ "email": "sam@example.com" }),
        )
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 409);
    hub.archive(ObjectType::Contacts, first.id).await.unwrap();
    hub.update(
        ObjectType::Contacts,
        other.id,
        json!({ "email": "sam@example.com" }),
    )
    .await
    .unwrap();
    // Restoring the archived one would duplicate it now.
    let err = hub
        .restore(ObjectType::Contacts, first.id)
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 409);
    // Through REST: 409 CONFLICT.
    let r = api
        .post(
            "/api/crm/v3/objects/contacts",
            json!({ "properties": { "email": "Sam@Example.com" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["category"], "CONFLICT");
}

// ---------------------------------------------------------------------------------
// Soft delete and restore

#[sqlx::test]
async fn archive_hides_and_restore_brings_back(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let hub = s.hub(&pool);
    let c = hub
        .create(
            ObjectType::Contacts,
            json!({ "email": "gone@example.com", "firstname": "Gone" }),
        )
        .await
        .unwrap();
    let live = |archived| ListQuery {
        archived,
        ..ListQuery::default()
    };
    assert_eq!(
        hub.list(ObjectType::Contacts, &live(false))
            .await
            .unwrap()
            .records
            .len(),
        1
    );

    let archived = hub.archive(ObjectType::Contacts, c.id).await.unwrap();
    assert!(archived.is_archived());
    // Hidden from lists, finds and scans…
    assert!(hub
        .list(ObjectType::Contacts, &live(false))
        .await
        .unwrap()
        .records
        .is_empty());
    assert!(
        records::find_contacts_by_email(&pool, s.portal_id, "gone@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        records::scan(&pool, s.portal_id, ObjectType::Contacts, None, 100, false)
            .await
            .unwrap()
            .is_empty()
    );
    // …but still there: get, the archived list, scans that ask for it.
    let got = records::get(&pool, s.portal_id, ObjectType::Contacts, c.id)
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_archived());
    assert_eq!(got.get("firstname"), Some("Gone"));
    assert_eq!(
        hub.list(ObjectType::Contacts, &live(true))
            .await
            .unwrap()
            .records[0]
            .id,
        c.id
    );
    assert_eq!(
        records::scan(&pool, s.portal_id, ObjectType::Contacts, None, 100, true)
            .await
            .unwrap()
            .len(),
        1
    );
    // Archived records cannot be edited; archiving twice changes nothing.
    let err = hub
        .update(ObjectType::Contacts, c.id, json!({ "firstname": "X" }))
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 409);
    hub.archive(ObjectType::Contacts, c.id).await.unwrap();

    let restored = hub.restore(ObjectType::Contacts, c.id).await.unwrap();
    assert!(!restored.is_archived());
    assert_eq!(
        records::find_contacts_by_email(&pool, s.portal_id, " GONE@example.com ")
            .await
            .unwrap()[0]
            .id,
        c.id
    );

    let kinds: Vec<ChangeKind> = changes::read_after(&pool, s.portal_id, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            ChangeKind::Created,
            ChangeKind::Archived,
            ChangeKind::Restored
        ]
    );
}

// ---------------------------------------------------------------------------------
// Change feed

#[sqlx::test]
async fn change_feed_is_ordered_resumable_and_carries_origins(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let other = seed_user(&pool, "other", "o@example.com", Role::SuperAdmin).await;
    let user = WriteOrigin::User(s.user_id);
    let sync_id = Uuid::new_v4();
    let sync = WriteOrigin::Sync(sync_id);
    let hub = s.hub(&pool);
    let by_sync = hub.by(sync);

    let a = hub
        .create(
            ObjectType::Contacts,
            json!({ "email": "a@example.com", "firstname": "A" }),
        )
        .await
        .unwrap();
    // Another portal's writes never show in this portal's feed.
    hub.in_portal(other.portal_id)
        .create(ObjectType::Contacts, json!({ "email": "x@example.com" }))
        .await
        .unwrap();
    let u = by_sync
        .update(
            ObjectType::Contacts,
            a.id,
            json!({ "firstname": "Anna", "lastname": "Lee", "email": "a@example.com" }),
        )
        .await
        .unwrap();
    assert_eq!(
        u.changed,
        vec!["firstname", "lastname"],
        "email was sent unchanged"
    );
    // Writing the same values back changes nothing and appends nothing (no ping-pong).
    let again = by_sync
        .update(ObjectType::Contacts, a.id, json!({ "firstname": "Anna" }))
        .await
        .unwrap();
    assert!(again.changed.is_empty());
    let co = hub
        .create(ObjectType::Companies, json!({ "name": "Acme" }))
        .await
        .unwrap();
    by_sync
        .associate((ObjectType::Contacts, a.id), (ObjectType::Companies, co.id))
        .await
        .unwrap();
    hub.by(WriteOrigin::Import)
        .archive(ObjectType::Contacts, a.id)
        .await
        .unwrap();

    let all = changes::read_after(&pool, s.portal_id, 0, 100)
        .await
        .unwrap();
    let summary: Vec<(ObjectType, i64, ChangeKind)> = all
        .iter()
        .map(|c| (c.object, c.record_id, c.kind))
        .collect();
    assert_eq!(
        summary,
        vec![
            (ObjectType::Contacts, a.id, ChangeKind::Created),
            (ObjectType::Contacts, a.id, ChangeKind::Updated),
            (ObjectType::Companies, co.id, ChangeKind::Created),
            (ObjectType::Contacts, a.id, ChangeKind::Associated),
            (ObjectType::Companies, co.id, ChangeKind::Associated),
            (ObjectType::Contacts, a.id, ChangeKind::Archived),
        ]
    );
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "strictly increasing seq"
    );
    assert!(all.iter().all(|c| c.portal_id == s.portal_id));
    assert_eq!(all[0].properties, vec!["email", "firstname"]);
    assert_eq!(all[0].origin, user);
    assert_eq!(all[1].properties, vec!["firstname", "lastname"]);
    assert_eq!(
        all[1].origin,
        WriteOrigin::Sync(sync_id),
        "the engine recognises its echo"
    );
    assert_eq!(all[3].associated, Some((ObjectType::Companies, co.id)));
    assert_eq!(all[4].associated, Some((ObjectType::Contacts, a.id)));
    assert_eq!(all[5].origin, WriteOrigin::Import);

    // Resume from any position, a page at a time.
    let first_two = changes::read_after(&pool, s.portal_id, 0, 2).await.unwrap();
    assert_eq!(first_two, all[..2].to_vec());
    let rest_of = changes::read_after(&pool, s.portal_id, first_two[1].seq, 100)
        .await
        .unwrap();
    assert_eq!(rest_of, all[2..].to_vec());
    assert!(changes::read_after(&pool, s.portal_id, all[5].seq, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        changes::last_seq(&pool, s.portal_id).await.unwrap(),
        all[5].seq
    );

    // A sync reads past its own writes in the query, and still moves to the top.
    let own = WriteOrigin::Sync(sync_id);
    let others: Vec<_> = all.iter().filter(|c| c.origin != own).cloned().collect();
    assert!(others.len() < all.len(), "the test has writes of the sync");
    let page = changes::read_after_skipping(&pool, s.portal_id, 0, 100, &own)
        .await
        .unwrap();
    assert_eq!(page.changes, others);
    assert_eq!((page.reached, page.more), (all[5].seq, false));
    // A full page stops at its last change: the rest follows from there.
    let first = changes::read_after_skipping(&pool, s.portal_id, 0, 1, &own)
        .await
        .unwrap();
    assert_eq!(first.changes, others[..1].to_vec());
    assert_eq!((first.reached, first.more), (others[0].seq, true));
    let rest = changes::read_after_skipping(&pool, s.portal_id, first.reached, 100, &own)
        .await
        .unwrap();
    assert_eq!(rest.changes, others[1..].to_vec());
}

#[sqlx::test]
async fn change_feed_never_skips_under_concurrent_writers(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let portal = s.portal_id;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let pool = pool.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut pos = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let batch = changes::read_after(&pool, portal, pos, 1000).await.unwrap();
                for c in &batch {
                    assert!(c.seq > pos);
                    pos = c.seq;
                    seen.push(c.seq);
                }
                if finished && batch.is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let sys = PortalHub {
                    pool: &pool,
                    portal,
                    origin: WriteOrigin::System,
                };
                for i in 0..20 {
                    let c = sys
                        .create(
                            ObjectType::Contacts,
                            json!({ "firstname": format!("W{w}-{i}") }),
                        )
                        .await
                        .unwrap();
                    sys.update(ObjectType::Contacts, c.id, json!({ "lastname": "x" }))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let all: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM hub_changes WHERE portal_id = $1 ORDER BY seq")
            .bind(portal)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(all.len(), 240);
    assert_eq!(
        seen, all,
        "a reader following the feed saw every change, in order"
    );
}

#[sqlx::test]
async fn a_listener_wakes_when_a_change_commits(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let sys = s.hub(&pool).by(WriteOrigin::System);
    let mut listener = ChangeListener::connect(&pool).await.unwrap();
    let other = seed_user(&pool, "other", "o@example.com", Role::SuperAdmin).await;
    // A notice of another portal does not wake a wait for this one.
    sys.in_portal(other.portal_id)
        .create(ObjectType::Contacts, json!({ "firstname": "Other" }))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let c = sys
        .create(ObjectType::Contacts, json!({ "firstname": "Wake" }))
        .await
        .unwrap();
    let notice = listener
        .wait_for_portal(s.portal_id, Duration::from_secs(10))
        .await
        .unwrap()
        .expect("a notice arrives");
    let waited = started.elapsed();
    let feed = changes::read_after(&pool, s.portal_id, 0, 10)
        .await
        .unwrap();
    assert_eq!(notice.seq, feed[0].seq);
    assert_eq!(feed[0].record_id, c.id);
    assert!(waited < Duration::from_secs(2), "woke after {waited:?}");
    // No change, no notice: a timeout answers None.
    assert!(listener
        .wait_for_portal(s.portal_id, Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
}

#[sqlx::test]
async fn every_property_remembers_when_and_by_whom_it_changed(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let user = WriteOrigin::User(s.user_id);
    let sync = WriteOrigin::Sync(Uuid::new_v4());
    let hub = s.hub(&pool);
    let by_sync = hub.by(sync);
    let c = hub
        .create(
            ObjectType::Contacts,
            json!({ "email": "m@example.com", "firstname": "M", "phone": "+1 555 0100" }),
        )
        .await
        .unwrap();
    for name in ["email", "firstname", "phone"] {
        let m = c.property_changed(name).unwrap();
        assert_eq!(m.source, user);
        assert_eq!(m.at, c.created_at);
    }
    let u = by_sync
        .update(
            ObjectType::Contacts,
            c.id,
            json!({ "firstname": "Mia", "phone": null }),
        )
        .await
        .unwrap();
    let r = u.record;
    assert_eq!(r.property_changed("firstname").unwrap().source, sync);
    assert!(r.property_changed("firstname").unwrap().at > c.created_at);
    assert_eq!(
        r.property_changed("phone").unwrap().source,
        sync,
        "clearing is a change too"
    );
    assert!(r.get("phone").is_none());
    assert_eq!(
        r.property_changed("email").unwrap().source,
        user,
        "untouched properties keep theirs"
    );
    // The record page sees the same.
    assert_eq!(r.view().changes["firstname"].source, sync);
}

// ---------------------------------------------------------------------------------
// Lists: keyset paging and indexes

async fn contacts_fixture(pool: &PgPool, portal: Uuid) {
    // Lastnames with ties, case differences and gaps (NULLs), amounts for deals.
    let names = [
        "adams", "Baker", "baker", "Clark", "", "davis", "Evans", "", "baker", "Fox",
    ];
    let inputs: Vec<BTreeMap<String, Value>> = (0..57)
        .map(|i| props(json!({ "firstname": format!("P{i}"), "lastname": names[i % names.len()], "email": format!("p{i}@example.com") })))
        .collect();
    for chunk in inputs.chunks(20) {
        records::create_many(
            pool,
            portal,
            ObjectType::Contacts,
            chunk,
            &WriteOrigin::System,
        )
        .await
        .unwrap();
    }
    let deals: Vec<BTreeMap<String, Value>> = (0..23)
        .map(|i| {
            let mut p =
                props(json!({ "dealname": format!("D{i}"), "dealstage": "qualifiedtobuy" }));
            if i % 4 != 0 {
                p.insert("amount".into(), json!(((i * 37) % 11) * 100));
            }
            p
        })
        .collect();
    records::create_many(
        pool,
        portal,
        ObjectType::Deals,
        &deals,
        &WriteOrigin::System,
    )
    .await
    .unwrap();
}

async fn walk(
    pool: &PgPool,
    portal: Uuid,
    object: ObjectType,
    sort: Sort,
    limit: usize,
) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut q = ListQuery {
        sort,
        limit,
        ..ListQuery::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = records::list(pool, portal, object, &q).await.unwrap();
        assert!(page.records.len() <= limit);
        ids.extend(page.records.iter().map(|r| r.id));
        pages.push((
            page.records.iter().map(|r| r.id).collect::<Vec<_>>(),
            page.prev.clone(),
        ));
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    // Walking back with `before` gives the same pages.
    for i in (1..pages.len()).rev() {
        let prev = pages[i]
            .1
            .clone()
            .expect("a page after the first has a prev cursor");
        let back = records::list(
            pool,
            portal,
            object,
            &ListQuery {
                after: None,
                before: Some(prev),
                ..q.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            back.records.iter().map(|r| r.id).collect::<Vec<_>>(),
            pages[i - 1].0,
            "page {i} back"
        );
    }
    assert!(pages[0].1.is_none(), "the first page has no prev");
    ids
}

async fn expected(pool: &PgPool, portal: Uuid, object: &str, order: &str) -> Vec<i64> {
    sqlx::query_scalar(&format!(
        "SELECT id FROM hub_records WHERE portal_id = $1 AND object = '{object}' AND archived_at IS NULL ORDER BY {order}"
    ))
    .bind(portal)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn keyset_paging_visits_every_record_once_in_order(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    contacts_fixture(&pool, s.portal_id).await;
    let p = s.portal_id;
    let sort = |property: &str, dir| Sort {
        property: property.into(),
        dir,
    };
    // Each sort with the order Postgres gives it (ties by id, missing values last).
    let cases = [
        (
            ObjectType::Contacts,
            "lastname",
            SortDir::Asc,
            "lower(properties->>'lastname') ASC NULLS LAST, id ASC",
        ),
        (
            ObjectType::Contacts,
            "lastname",
            SortDir::Desc,
            "lower(properties->>'lastname') DESC NULLS FIRST, id DESC",
        ),
        (
            ObjectType::Deals,
            "amount",
            SortDir::Asc,
            "hub_num(properties->>'amount') ASC NULLS LAST, id ASC",
        ),
        (
            ObjectType::Deals,
            "amount",
            SortDir::Desc,
            "hub_num(properties->>'amount') DESC NULLS FIRST, id DESC",
        ),
    ];
    for limit in [1, 7, 25] {
        for (object, property, dir, order) in cases {
            assert_eq!(
                walk(&pool, p, object, sort(property, dir), limit).await,
                expected(&pool, p, object.as_str(), order).await,
                "{object} by {property} {dir:?}, {limit} a page"
            );
        }
    }
    assert_eq!(
        walk(&pool, p, ObjectType::Contacts, Sort::newest_first(), 10).await,
        expected(&pool, p, "contacts", "created_at DESC, id DESC").await
    );
    assert_eq!(
        walk(&pool, p, ObjectType::Contacts, Sort::by_id(), 10).await,
        expected(&pool, p, "contacts", "id").await
    );
    // A cursor only fits the sort it was made for.
    let first = records::list(
        &pool,
        p,
        ObjectType::Contacts,
        &ListQuery {
            limit: 5,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    let err = records::list(
        &pool,
        p,
        ObjectType::Contacts,
        &ListQuery {
            sort: sort("lastname", SortDir::Asc),
            after: first.next,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap_err()
    .api();
    assert_eq!(err.status, 400);
}

#[sqlx::test]
async fn search_and_filters_find_the_right_records(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    contacts_fixture(&pool, s.portal_id).await;
    let hub = s.hub(&pool);
    let q = |search: Option<&str>, groups: Vec<Vec<Filter>>| ListQuery {
        search: search.map(String::from),
        filter_groups: groups,
        sort: Sort::by_id(),
        limit: 200,
        ..ListQuery::default()
    };
    let f = |property: &str, op, value: Option<&str>| Filter {
        property: property.into(),
        op,
        value: value.map(String::from),
        high_value: None,
        values: Vec::new(),
    };
    let count = |page: records::Page| page.records.len();
    // Search: every word must occur (name, email…), case-insensitive.
    assert_eq!(
        count(
            hub.list(ObjectType::Contacts, &q(Some("BAKER"), vec![]))
                .await
                .unwrap()
        ),
        17
    );
    assert_eq!(
        count(
            hub.list(ObjectType::Contacts, &q(Some("baker p12@"), vec![]))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            hub.list(ObjectType::Contacts, &q(Some("100%_"), vec![]))
                .await
                .unwrap()
        ),
        0
    );
    // Filters: EQ (email key), NOT_HAS_PROPERTY, OR of groups, GT on numbers.
    let page = hub
        .list(
            ObjectType::Contacts,
            &q(
                None,
                vec![vec![f("email", FilterOp::Eq, Some(" P3@EXAMPLE.com"))]],
            ),
        )
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].get("firstname"), Some("P3"));
    let no_lastname = hub
        .list(
            ObjectType::Contacts,
            &q(
                None,
                vec![vec![f("lastname", FilterOp::NotHasProperty, None)]],
            ),
        )
        .await
        .unwrap();
    assert_eq!(no_lastname.records.len(), 11);
    let either = hub
        .list(
            ObjectType::Contacts,
            &q(
                None,
                vec![
                    vec![f("lastname", FilterOp::Eq, Some("fox"))],
                    vec![f("lastname", FilterOp::Eq, Some("ADAMS"))],
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(either.records.len(), 11);
    let big = hub
        .list(
            ObjectType::Deals,
            &q(None, vec![vec![f("amount", FilterOp::Gt, Some("800"))]]),
        )
        .await
        .unwrap();
    assert!(!big.records.is_empty());
    assert!(big
        .records
        .iter()
        .all(|r| r.get("amount").unwrap().parse::<f64>().unwrap() > 800.0));
    // A bad value names the filter.
    let err = hub
        .list(
            ObjectType::Deals,
            &q(None, vec![vec![f("amount", FilterOp::Gt, Some("lots"))]]),
        )
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.fields[0].field, "filterGroups[0].filters[0].value");
}

#[sqlx::test]
async fn list_queries_use_their_indexes(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    generator::generate(
        &pool,
        s.portal_id,
        &GenerateOptions {
            contacts: 2000,
            companies: 50,
            deals: 300,
            invoices: 100,
            seed: 3,
        },
    )
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    // Rule out the sequential scan so that the plan shows whether an index fits at all.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SET enable_sort = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let cases = [
        (ObjectType::Contacts, "lastname", "hub_contacts_lastname"),
        (ObjectType::Contacts, "email", "hub_contacts_email"),
        (ObjectType::Contacts, "createdate", "hub_records_created"),
        // One portal holds nearly every row here, so the primary key serves as well.
        (
            ObjectType::Contacts,
            "hs_object_id",
            "hub_records_scan|hub_records_pkey",
        ),
        (ObjectType::Companies, "name", "hub_companies_name"),
        (ObjectType::Deals, "amount", "hub_deals_amount"),
        (ObjectType::Invoices, "due_date", "hub_invoices_due_date"),
    ];
    for (object, property, index) in cases {
        let schema = schema::load(&pool, s.portal_id, object).await.unwrap();
        for dir in [SortDir::Asc, SortDir::Desc] {
            let sort = Sort {
                property: property.into(),
                dir,
            };
            let first = records::list_with_schema(
                &pool,
                &schema,
                s.portal_id,
                &ListQuery {
                    sort: sort.clone(),
                    limit: 25,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
            let q = ListQuery {
                sort,
                after: first.next.clone(),
                limit: 25,
                ..ListQuery::default()
            };
            let plan = records::explain_list(&mut conn, &schema, s.portal_id, &q)
                .await
                .unwrap();
            let scans: Vec<&str> = plan.lines().filter(|l| l.contains(" Scan ")).collect();
            assert!(
                !scans.is_empty()
                    && scans
                        .iter()
                        .all(|l| index.split('|').any(|i| l.contains(i))),
                "{object} by {property} {dir:?} should use {index}:\n{plan}"
            );
            // At most one sort: of the two segments' few rows, above their Append.
            let sorts = plan.lines().filter(|l| l.contains("Sort Key")).count();
            assert!(
                sorts == 0 || (sorts == 1 && plan.contains("Append")),
                "no sort of the table for {property}:\n{plan}"
            );
        }
    }
    let schema = schema::load(&pool, s.portal_id, ObjectType::Contacts)
        .await
        .unwrap();
    let q = ListQuery {
        search: Some("mueller".into()),
        limit: 25,
        ..ListQuery::default()
    };
    let plan = records::explain_list(&mut conn, &schema, s.portal_id, &q)
        .await
        .unwrap();
    assert!(
        plan.contains("hub_records_search") || plan.contains("hub_records_created"),
        "{plan}"
    );
    // Finding a contact by email uses the email index.
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM hub_records WHERE portal_id = $1 AND object = 'contacts' AND archived_at IS NULL
         AND lower(btrim(properties->>'email')) = $2",
    )
    .bind(s.portal_id)
    .bind("x@example.com")
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(plan.join("\n").contains("hub_contacts_email"), "{plan:?}");
}

#[sqlx::test]
async fn a_batch_email_lookup_is_estimated_from_the_emails_statistics(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    generator::generate(
        &pool,
        s.portal_id,
        &GenerateOptions {
            contacts: 5000,
            companies: 0,
            deals: 0,
            invoices: 0,
            seed: 5,
        },
    )
    .await
    .unwrap();
    sqlx::query("ANALYZE hub_records")
        .execute(&pool)
        .await
        .unwrap();
    // The lookup a sync's batch of hub writes makes (records::refuse_taken_emails).
    let emails: Vec<String> = (0..100).map(|i| format!("nobody{i}@example.com")).collect();
    let plan: sqlx::types::Json<serde_json::Value> = sqlx::query_scalar(
        "EXPLAIN (FORMAT JSON) SELECT lower(btrim(properties->>'email')), id FROM hub_records
         WHERE portal_id = $1 AND object = 'contacts' AND archived_at IS NULL
           AND lower(btrim(properties->>'email')) = ANY($2)",
    )
    .bind(s.portal_id)
    .bind(&emails)
    .fetch_one(&pool)
    .await
    .unwrap();
    // Without statistics on the expression (its index is partial) the planner guessed
    // half the table and scanned all of it, batch after batch.
    let rows = plan.0[0]["Plan"]["Plan Rows"].as_f64().unwrap();
    assert!(
        rows <= 200.0,
        "estimated {rows} rows for 100 emails: {}",
        plan.0
    );
}

// ---------------------------------------------------------------------------------
// Associations, pipelines, timeline, custom properties

#[sqlx::test]
async fn associations_link_both_ways(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let hub = s.hub(&pool);
    let p = s.portal_id;
    let contact = hub
        .create(ObjectType::Contacts, json!({ "firstname": "Cy" }))
        .await
        .unwrap();
    let company = hub
        .create(ObjectType::Companies, json!({ "name": "Cyco" }))
        .await
        .unwrap();
    let deal = hub
        .create(
            ObjectType::Deals,
            json!({ "dealname": "Big", "dealstage": "closedwon" }),
        )
        .await
        .unwrap();
    let invoice = hub
        .create(ObjectType::Invoices, json!({ "number": "INV-1" }))
        .await
        .unwrap();
    let (contact, company, deal, invoice) = (
        (ObjectType::Contacts, contact.id),
        (ObjectType::Companies, company.id),
        (ObjectType::Deals, deal.id),
        (ObjectType::Invoices, invoice.id),
    );
    // Either order of the ends works.
    assert!(hub.associate(company, contact).await.unwrap());
    assert!(!hub.associate(contact, company).await.unwrap());
    hub.associate(deal, contact).await.unwrap();
    hub.associate(invoice, contact).await.unwrap();
    assert_eq!(
        associations::all_ids(&pool, p, contact, ObjectType::Companies)
            .await
            .unwrap(),
        vec![company.1]
    );
    assert_eq!(
        associations::all_ids(&pool, p, company, ObjectType::Contacts)
            .await
            .unwrap(),
        vec![contact.1]
    );
    let all = associations::list_all(&pool, p, contact, 10).await.unwrap();
    let names: Vec<&str> = all.iter().map(|a| a.display_name.as_str()).collect();
    assert_eq!(names, vec!["Cyco", "Big", "Invoice INV-1"]);
    // Pairs that cannot be associated are refused; so are other portals' records.
    let err = hub.associate(invoice, company).await.unwrap_err().api();
    assert_eq!(err.status, 400);
    let other = seed_user(&pool, "other", "o@example.com", Role::SuperAdmin).await;
    let err = hub
        .in_portal(other.portal_id)
        .associate(contact, company)
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 404);
    assert!(hub.dissociate(contact, company).await.unwrap());
    assert!(!hub.dissociate(contact, company).await.unwrap());
    let kinds: Vec<_> = changes::read_after(&pool, p, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Dissociated)
        .map(|c| (c.object, c.associated))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ObjectType::Contacts, Some(company)),
            (ObjectType::Companies, Some(contact))
        ]
    );
}

#[sqlx::test]
async fn every_portal_gets_the_sales_pipeline_and_stages_are_checked(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let list = pipelines::list(&pool, s.portal_id).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "default");
    assert_eq!(list[0].label, "Sales pipeline");
    let stages: Vec<&str> = list[0].stages.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        stages,
        vec![
            "Appointment scheduled",
            "Qualified to buy",
            "Presentation scheduled",
            "Decision maker bought-in",
            "Contract sent",
            "Closed won",
            "Closed lost"
        ]
    );
    let renewals = pipelines::create(
        &pool,
        s.portal_id,
        "Renewals",
        &[
            pipelines::NewStage {
                label: "Due".into(),
                probability: Some(0.5),
                is_closed: false,
            },
            pipelines::NewStage {
                label: "Renewed".into(),
                probability: Some(1.0),
                is_closed: true,
            },
        ],
    )
    .await
    .unwrap();
    let sys = s.hub(&pool).by(WriteOrigin::System);
    // A deal without a pipeline goes to the default one; a stage must belong to the deal's pipeline.
    let d = sys
        .create(
            ObjectType::Deals,
            json!({ "dealname": "A", "dealstage": "contractsent" }),
        )
        .await
        .unwrap();
    assert_eq!(d.get("pipeline"), Some("default"));
    let err = sys
        .update(
            ObjectType::Deals,
            d.id,
            json!({ "dealstage": renewals.stages[0].id }),
        )
        .await
        .unwrap_err()
        .api();
    assert_eq!(fields(&err), vec!["dealstage"]);
    let moved = sys
        .update(
            ObjectType::Deals,
            d.id,
            json!({ "pipeline": renewals.id, "dealstage": "Renewed" }),
        )
        .await
        .unwrap();
    assert_eq!(
        moved.record.get("dealstage"),
        Some(renewals.stages[1].id.as_str()),
        "stage labels are accepted and stored as ids"
    );
}

#[sqlx::test]
async fn timeline_events_are_idempotent_per_source(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let sys = s.hub(&pool).by(WriteOrigin::System);
    let c = sys
        .create(ObjectType::Contacts, json!({ "email": "t@example.com" }))
        .await
        .unwrap();
    let sync = WriteOrigin::Sync(Uuid::new_v4());
    let by_sync = sys.by(sync);
    let event = timeline::NewTimelineEvent {
        kind: "email_opened".into(),
        occurred_at: chrono::Utc::now(),
        title: "Opened “Spring newsletter”".into(),
        body: String::new(),
        properties: json!({ "subject": "Spring newsletter" }),
        external_id: Some("evt-1".into()),
    };
    let first = by_sync
        .add_event(ObjectType::Contacts, c.id, &event)
        .await
        .unwrap();
    assert!(first.created);
    let again = by_sync
        .add_event(ObjectType::Contacts, c.id, &event)
        .await
        .unwrap();
    assert_eq!(
        again,
        timeline::Inserted {
            id: first.id,
            created: false
        }
    );
    // Archived contacts still take events; other portals' records do not exist.
    sys.archive(ObjectType::Contacts, c.id).await.unwrap();
    let click = timeline::NewTimelineEvent {
        kind: "email_clicked".into(),
        external_id: Some("evt-2".into()),
        ..event.clone()
    };
    assert!(
        by_sync
            .add_event(ObjectType::Contacts, c.id, &click)
            .await
            .unwrap()
            .created
    );
    let other = seed_user(&pool, "other", "o@example.com", Role::SuperAdmin).await;
    let err = by_sync
        .in_portal(other.portal_id)
        .add_event(ObjectType::Contacts, c.id, &click)
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 404);
    let bad = timeline::NewTimelineEvent {
        kind: "Email Opened".into(),
        ..event
    };
    assert_eq!(
        fields(
            &by_sync
                .add_event(ObjectType::Contacts, c.id, &bad)
                .await
                .unwrap_err()
                .api()
        ),
        vec!["kind"]
    );
    let list = timeline::list(&pool, s.portal_id, ObjectType::Contacts, c.id, 10)
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].source, sync);
}

#[sqlx::test]
async fn custom_properties_validate_and_cannot_be_deleted_while_used(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let tier = schema::create_property(
        &pool,
        s.portal_id,
        ObjectType::Companies,
        NewPropertyRequest {
            options: vec![
                PropertyOption {
                    value: "gold".into(),
                    label: "Gold".into(),
                },
                PropertyOption {
                    value: "silver".into(),
                    label: "".into(),
                },
            ],
            ..property("Customer tier", PropertyType::Enumeration)
        },
    )
    .await
    .unwrap();
    assert_eq!(tier.name, "customer_tier");
    assert_eq!(tier.options[1].label, "silver");
    let dup = schema::create_property(
        &pool,
        s.portal_id,
        ObjectType::Companies,
        NewPropertyRequest {
            name: Some("domain".into()),
            ..property("Domain", PropertyType::String)
        },
    )
    .await
    .unwrap_err()
    .api();
    assert_eq!(fields(&dup), vec!["name"]);
    let sys = s.hub(&pool).by(WriteOrigin::System);
    let err = sys
        .create(
            ObjectType::Companies,
            json!({ "name": "A", "customer_tier": "bronze" }),
        )
        .await
        .unwrap_err()
        .api();
    assert!(err
        .field_message("customer_tier")
        .unwrap()
        .contains("gold, silver"));
    let c = sys
        .create(
            ObjectType::Companies,
            json!({ "name": "A", "customer_tier": "Gold" }),
        )
        .await
        .unwrap();
    assert_eq!(c.get("customer_tier"), Some("gold"));
    let err = schema::delete_property(&pool, s.portal_id, ObjectType::Companies, "customer_tier")
        .await
        .unwrap_err()
        .api();
    assert_eq!(err.status, 409);
    sys.update(
        ObjectType::Companies,
        c.id,
        json!({ "customer_tier": null }),
    )
    .await
    .unwrap();
    schema::delete_property(&pool, s.portal_id, ObjectType::Companies, "customer_tier")
        .await
        .unwrap();
    assert!(schema::load(&pool, s.portal_id, ObjectType::Companies)
        .await
        .unwrap()
        .get("customer_tier")
        .is_none());
}

// ---------------------------------------------------------------------------------
// Generator

#[sqlx::test]
async fn the_generator_is_deterministic_and_messy(pool: PgPool) {
    let (_app, s) = setup(&pool).await;
    let other = seed_user(&pool, "other", "o@example.com", Role::SuperAdmin).await;
    let opts = GenerateOptions {
        contacts: 1500,
        companies: 40,
        deals: 30,
        invoices: 20,
        seed: 11,
    };
    let g = generator::generate(&pool, s.portal_id, &opts)
        .await
        .unwrap();
    generator::generate(&pool, other.portal_id, &opts)
        .await
        .unwrap();
    assert_eq!(
        (g.contacts, g.companies, g.deals, g.invoices),
        (1500, 40, 30, 20)
    );

    let dump = |portal: Uuid| {
        let pool = pool.clone();
        async move {
            let rows: Vec<(String, Value, chrono::DateTime<chrono::Utc>)> =
                sqlx::query_as("SELECT object, properties, created_at FROM hub_records WHERE portal_id = $1 ORDER BY id")
                    .bind(portal)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            rows
        }
    };
    assert_eq!(
        dump(s.portal_id).await,
        dump(other.portal_id).await,
        "same seed, same data"
    );

    let contacts = records::scan(&pool, s.portal_id, ObjectType::Contacts, None, 10_000, true)
        .await
        .unwrap();
    let emails: Vec<&str> = contacts.iter().filter_map(|c| c.get("email")).collect();
    let missing = contacts.len() - emails.len();
    let invalid = emails
        .iter()
        .filter(|e| schema::normalise_email(e).is_none())
        .count();
    let mut keys: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for e in &emails {
        keys.entry(schema::email_key(e)).or_default().push(e);
    }
    let case_twins = keys
        .values()
        .filter(|v| v.len() > 1 && v.iter().any(|e| *e != v[0]))
        .count();
    let unicode = contacts
        .iter()
        .filter(|c| {
            c.get("firstname")
                .into_iter()
                .chain(c.get("lastname"))
                .any(|n| !n.is_ascii())
        })
        .count();
    assert!(missing > 20, "contacts without email: {missing}");
    assert!(invalid > 5, "invalid emails: {invalid}");
    assert!(
        case_twins > 5,
        "emails differing only in case/whitespace: {case_twins}"
    );
    assert!(unicode > 50, "unicode names: {unicode}");
    // Twins are found together by the matching lookup.
    let (key, _) = keys.iter().find(|(_, v)| v.len() > 1).unwrap();
    assert!(
        records::find_contacts_by_email(&pool, s.portal_id, key)
            .await
            .unwrap()
            .len()
            > 1
    );

    // Provenance and feed rows like any write.
    assert!(contacts[0]
        .meta
        .values()
        .all(|m| m.source == WriteOrigin::Import));
    let feed: i64 = sqlx::query_scalar("SELECT count(*) FROM hub_changes WHERE portal_id = $1")
        .bind(s.portal_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(feed as u64, 1590 + 2 * g.associations);
    // A contact's company is one it is associated with.
    let with_company = contacts
        .iter()
        .find(|c| c.get("company").is_some())
        .unwrap();
    let ids = associations::all_ids(
        &pool,
        s.portal_id,
        (ObjectType::Contacts, with_company.id),
        ObjectType::Companies,
    )
    .await
    .unwrap();
    let company = records::get(&pool, s.portal_id, ObjectType::Companies, ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(company.get("name"), with_company.get("company"));
    // Deals sit in real stages of the default pipeline.
    let deals = records::scan(&pool, s.portal_id, ObjectType::Deals, None, 100, false)
        .await
        .unwrap();
    let schema = schema::load(&pool, s.portal_id, ObjectType::Deals)
        .await
        .unwrap();
    for d in &deals {
        assert!(
            schema.check_record(&d.properties, None).is_empty(),
            "{:?}",
            d.properties
        );
    }
}

// ---------------------------------------------------------------------------------
// REST API

#[sqlx::test]
async fn rest_round_trip(pool: PgPool) {
    let (app, s) = setup(&pool).await;
    let t = &s.token;
    let api = s.rest(&app);
    // Create
    let r = api.post("/api/crm/v3/objects/contacts", json!({ "properties": { "email": "Ada@Example.com", "firstname": "Ada", "lastname": "Lovelace", "hs_email_optout": false } })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["properties"]["email"], "ada@example.com");
    assert_eq!(r.body["properties"]["hs_email_optout"], "false");
    assert_eq!(r.body["properties"]["hs_object_id"], id.as_str());
    assert_eq!(r.body["archived"], false);
    // The token is the origin of the write.
    let token_id: Uuid = sqlx::query_scalar("SELECT id FROM api_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    let feed = changes::read_after(&pool, s.portal_id, 0, 10)
        .await
        .unwrap();
    assert_eq!(feed[0].origin, WriteOrigin::ApiToken(token_id));

    // Read: default properties, chosen ones, by email.
    let r = api.get(&format!("/api/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["properties"]["lastname"], "Lovelace");
    assert!(r.body["properties"].get("hs_email_optout").is_none());
    let r = api
        .get(&format!(
            "/api/crm/v3/objects/contacts/{id}?properties=phone,firstname"
        ))
        .await;
    assert_eq!(
        r.body["properties"],
        json!({ "phone": null, "firstname": "Ada" })
    );
    let r = api
        .get("/api/crm/v3/objects/contacts/ADA@example.com?idProperty=email")
        .await;
    assert_eq!(r.body["id"], id.as_str());

    // Update (partial)
    let r = api
        .patch(
            &format!("/api/crm/v3/objects/contacts/{id}"),
            json!({ "properties": { "jobtitle": "Analyst", "lastname": null } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["properties"]["jobtitle"], "Analyst");
    assert!(r.body["properties"].get("lastname").is_none());
    assert_eq!(r.body["properties"]["firstname"], "Ada");

    // Batch create, then list with paging
    let inputs: Vec<Value> = (0..12).map(|i| json!({ "properties": { "email": format!("b{i}@example.com"), "firstname": format!("B{i}") } })).collect();
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/create",
            json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "COMPLETE");
    assert_eq!(r.body["results"].as_array().unwrap().len(), 12);
    let mut seen = Vec::new();
    let mut url = "/api/crm/v3/objects/contacts?limit=5&properties=email".to_string();
    loop {
        let r = api.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for o in r.body["results"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_string());
        }
        match r.body["paging"]["next"]["link"].as_str() {
            Some(link) => url = link.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 13);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|s| s.parse::<i64>().unwrap());
    assert_eq!(seen, sorted, "id order");

    // Batch read (one missing → 207), update, archive
    let b0 = &seen[1];
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/read",
            json!({ "inputs": [{ "id": b0 }, { "id": "999999" }], "properties": ["firstname"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.text);
    assert_eq!(r.body["results"][0]["properties"]["firstname"], "B0");
    assert_eq!(r.body["errors"][0]["context"]["ids"], json!(["999999"]));
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/update",
            json!({ "inputs": [{ "id": b0, "properties": { "lifecyclestage": "customer" } }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["results"][0]["properties"]["lifecyclestage"],
        "customer"
    );
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/update",
            json!({ "inputs": [{ "id": b0, "properties": { "lifecyclestage": "nope" } }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["field"], "inputs[0].lifecyclestage");
    let too_many: Vec<Value> = (0..101).map(|_| json!({ "properties": {} })).collect();
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/create",
            json!({ "inputs": too_many }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Search: filters, sort, paging, total
    let r = api.post("/api/crm/v3/objects/contacts/search", json!({
        "filterGroups": [{ "filters": [{ "propertyName": "firstname", "operator": "CONTAINS_TOKEN", "value": "b1" }] }],
        "sorts": [{ "propertyName": "firstname", "direction": "DESCENDING" }],
        "properties": ["firstname"],
        "limit": 2,
    })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total"], 3, "B1, B10, B11");
    let names = texts(&r.body["results"], "/properties/firstname");
    assert_eq!(names, vec!["B11", "B10"]);
    let after = r.body["paging"]["next"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api.post("/api/crm/v3/objects/contacts/search", json!({
        "filterGroups": [{ "filters": [{ "propertyName": "firstname", "operator": "CONTAINS_TOKEN", "value": "b1" }] }],
        "sorts": ["-firstname"], "properties": ["firstname"], "limit": 2, "after": after,
    })).await;
    assert_eq!(r.body["results"][0]["properties"]["firstname"], "B1");
    assert!(r.body.get("paging").is_none());
    let r = api.post("/api/crm/v3/objects/contacts/search", json!({
        "filterGroups": [{ "filters": [{ "propertyName": "email", "operator": "HAS_PROPERTY" }, { "propertyName": "lifecyclestage", "operator": "EQ", "value": "customer" }] }]
    })).await;
    assert_eq!(r.body["total"], 1, "{}", r.text);
    let r = api.post("/api/crm/v3/objects/contacts/search", json!({ "filterGroups": [{ "filters": [{ "propertyName": "nope", "operator": "EQ", "value": "1" }] }] })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["errors"][0]["field"],
        "filterGroups[0].filters[0].propertyName"
    );

    // Associations and pipelines
    let r = api
        .post(
            "/api/crm/v3/objects/companies",
            json!({ "properties": { "name": "Analytical Engines", "domain": "engines.example" } }),
        )
        .await;
    let company = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .put(&format!(
            "/api/crm/v3/objects/contacts/{id}/associations/companies/{company}/contact_to_company"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["associations"]["companies"]["results"][0]["id"],
        company.as_str()
    );
    let r = api
        .get(&format!(
            "/api/crm/v3/objects/companies/{company}/associations/contacts"
        ))
        .await;
    assert_eq!(
        r.body["results"],
        json!([{ "id": id, "type": "company_to_contact" }])
    );
    let r = api
        .get(&format!(
            "/api/crm/v3/objects/contacts/{id}?associations=companies"
        ))
        .await;
    assert_eq!(
        r.body["associations"]["companies"]["results"][0]["type"],
        "contact_to_company"
    );
    let r = api
        .delete(&format!(
            "/api/crm/v3/objects/contacts/{id}/associations/companies/{company}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // HubSpot's v4 calls for the same, as the HubSpot connector makes them.
    let v4 = format!("/api/crm/v4/objects/contacts/{id}/associations");
    let r = api.put(&format!("{v4}/default/companies/{company}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .post(
            "/api/crm/v4/associations/contacts/companies/batch/read",
            json!({ "inputs": [{ "id": id }] }),
        )
        .await;
    assert_eq!(
        r.body["results"][0]["from"]["id"],
        id.as_str(),
        "{}",
        r.text
    );
    assert_eq!(
        r.body["results"][0]["to"][0]["toObjectId"].to_string(),
        company
    );
    let r = api.delete(&format!("{v4}/companies/{company}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .post(
            "/api/crm/v4/associations/contacts/companies/batch/read",
            json!({ "inputs": [{ "id": id }] }),
        )
        .await;
    assert_eq!(r.body["results"], json!([]), "none left: {}", r.text);
    // Upsert by email: the existing contact updated, a new one created.
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/upsert",
            json!({ "inputs": [
                { "idProperty": "email", "id": "ada@example.com", "properties": { "jobtitle": "Countess" } },
                { "idProperty": "email", "id": "grace@example.com", "properties": { "firstname": "Grace" } },
            ] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["results"][0]["id"], id.as_str());
    assert_eq!(r.body["results"][0]["new"], false);
    assert_eq!(r.body["results"][0]["properties"]["jobtitle"], "Countess");
    assert_eq!(r.body["results"][1]["new"], true);
    assert_eq!(
        r.body["results"][1]["properties"]["email"],
        "grace@example.com"
    );
    let r = api
        .post(
            "/api/crm/v3/objects/companies/batch/upsert",
            json!({ "inputs": [{ "idProperty": "name", "id": "X", "properties": {} }] }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "upserts go by email, on contacts"
    );
    let r = api.get("/api/account-info/v3/details").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["portalId"].is_string(), "{}", r.text);
    let r = api.get("/api/crm/v3/pipelines/deals").await;
    assert_eq!(r.body["results"][0]["label"], "Sales pipeline");
    assert_eq!(r.body["results"][0]["stages"].as_array().unwrap().len(), 7);
    let r = api.get("/api/crm/v3/pipelines/deals/default/stages").await;
    assert_eq!(r.body["results"][5]["metadata"]["isClosed"], "true");

    // Properties
    let r = api.get("/api/crm/v3/properties/contacts").await;
    let names = texts(&r.body["results"], "/name");
    assert!(names.contains(&"email") && names.contains(&"lifecyclestage"));
    let r = api.post("/api/crm/v3/properties/contacts", json!({ "label": "Favourite colour", "type": "enumeration", "fieldType": "checkbox", "options": [{ "label": "Red", "value": "red" }, { "label": "Blue", "value": "blue" }] })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["tandemType"], "multi_enumeration");
    let r = api
        .patch(
            &format!("/api/crm/v3/objects/contacts/{id}"),
            json!({ "properties": { "favourite_colour": "blue;red" } }),
        )
        .await;
    assert_eq!(r.body["properties"]["favourite_colour"], "blue;red");

    // Archive, read archived, restore
    let r = api
        .delete(&format!("/api/crm/v3/objects/contacts/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.get(&format!("/api/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api
        .get(&format!("/api/crm/v3/objects/contacts/{id}?archived=true"))
        .await;
    assert_eq!(r.body["archived"], true);
    assert!(r.body["archivedAt"].is_string());
    let r = api.get("/api/crm/v3/objects/contacts?archived=true").await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    let r = api
        .send(
            Method::POST,
            &format!("/api/crm/v3/objects/contacts/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["archived"], false);
    let r = api
        .post(
            "/api/crm/v3/objects/contacts/batch/archive",
            json!({ "inputs": [{ "id": id }, { "id": "424242" }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // Errors: unknown object, bad JSON, no token — always the one shape.
    let r = api.get("/api/crm/v3/objects/tickets").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    let req = Request::post("/api/crm/v3/objects/contacts")
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["status"], "error");
    let r = send(
        &app,
        Request::get("/api/crm/v3/objects/contacts")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["category"], "INVALID_AUTHENTICATION");
    let r = api.get("/api/crm/v3/objects/contacts/abc").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["category"], "OBJECT_NOT_FOUND");
}

#[sqlx::test]
async fn portal_b_cannot_read_update_or_search_portal_a(pool: PgPool) {
    let app = test_app(&pool).await;
    let a = seed_user(&pool, "portal-a", "a@example.com", Role::SuperAdmin).await;
    let b = seed_user(&pool, "portal-b", "b@example.com", Role::SuperAdmin).await;
    let (api_a, api_b) = (a.rest(&app), b.rest(&app));
    let r = api_a
        .post(
            "/api/crm/v3/objects/contacts",
            json!({ "properties": { "email": "secret@a.example", "firstname": "Secret" } }),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let company = api_a
        .post(
            "/api/crm/v3/objects/companies",
            json!({ "properties": { "name": "A corp" } }),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();

    let attempts = [
        (
            Method::GET,
            format!("/api/crm/v3/objects/contacts/{id}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/crm/v3/objects/contacts/{id}?archived=true"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/crm/v3/objects/contacts/{id}"),
            Some(json!({ "properties": { "firstname": "Pwned" } })),
        ),
        (
            Method::DELETE,
            format!("/api/crm/v3/objects/contacts/{id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/crm/v3/objects/contacts/{id}/restore"),
            None,
        ),
        (
            Method::GET,
            format!("/api/crm/v3/objects/contacts/{id}/associations/companies"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/crm/v3/objects/contacts/{id}/associations/companies/{company}"),
            None,
        ),
        (
            Method::GET,
            "/api/crm/v3/objects/contacts/secret@a.example?idProperty=email".to_string(),
            None,
        ),
        (
            Method::POST,
            "/api/crm/v3/objects/contacts/batch/update".to_string(),
            Some(json!({ "inputs": [{ "id": id, "properties": { "firstname": "Pwned" } }] })),
        ),
    ];
    for (method, path, body) in attempts {
        let r = api_b.send(method.clone(), &path, body).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.body["category"], "OBJECT_NOT_FOUND");
    }
    // Search and list: nothing of A's.
    let r = api_b
        .post(
            "/api/crm/v3/objects/contacts/search",
            json!({ "query": "secret" }),
        )
        .await;
    assert_eq!(r.body["total"], 0, "{}", r.text);
    let r = api_b.post("/api/crm/v3/objects/contacts/search", json!({ "filterGroups": [{ "filters": [{ "propertyName": "hs_object_id", "operator": "EQ", "value": id }] }] })).await;
    assert_eq!(r.body["total"], 0);
    let r = api_b.get("/api/crm/v3/objects/contacts").await;
    assert_eq!(r.body["results"], json!([]));
    let r = api_b
        .post(
            "/api/crm/v3/objects/contacts/batch/read",
            json!({ "inputs": [{ "id": id }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert_eq!(r.body["results"], json!([]));
    // Archive of a foreign id in a batch does nothing.
    api_b
        .post(
            "/api/crm/v3/objects/contacts/batch/archive",
            json!({ "inputs": [{ "id": id }] }),
        )
        .await;
    // The pages' server functions too.
    for (name, body) in [
        (
            "get_crm_record",
            json!({ "object": "contacts", "id": id.parse::<i64>().unwrap() }),
        ),
        (
            "update_crm_record",
            json!({ "object": "contacts", "id": id.parse::<i64>().unwrap(), "properties": { "firstname": "Pwned" } }),
        ),
        (
            "archive_crm_record",
            json!({ "object": "contacts", "id": id.parse::<i64>().unwrap() }),
        ),
        (
            "list_crm_timeline",
            json!({ "object": "contacts", "id": id.parse::<i64>().unwrap() }),
        ),
    ] {
        let r = api_b.call(name, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{name}: {}", r.text);
    }
    // A's record is untouched.
    let r = api_a
        .get(&format!("/api/crm/v3/objects/contacts/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["properties"]["firstname"], "Secret");
    assert_eq!(r.body["archived"], false);
}

#[sqlx::test]
async fn plain_users_edit_records_but_not_properties(pool: PgPool) {
    let app = test_app(&pool).await;
    let u = seed_user(&pool, "acme", "plain@example.com", Role::User).await;
    let api = u.rest(&app);
    let r = api
        .post(
            "/api/crm/v3/objects/contacts",
            json!({ "properties": { "firstname": "Ok" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = api
        .post(
            "/api/crm/v3/properties/contacts",
            json!({ "label": "X", "type": "string" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["category"], "MISSING_SCOPES");
    let r = api
        .call(
            "create_crm_property",
            json!({ "object": "contacts", "property": { "label": "X", "type": "string" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn the_openapi_document_lists_every_route(pool: PgPool) {
    let app = test_app(&pool).await;
    let r = send(
        &app,
        Request::get("/api/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in tandem::server::rest::ROUTES {
        assert!(
            r.body["paths"][path][method].is_object(),
            "{method} {path} missing from the document"
        );
    }
    // Every $ref points at a schema that exists.
    let text = r.text.clone();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(
            r.body["components"]["schemas"][name].is_object(),
            "missing schema {name}"
        );
    }
}

// ---------------------------------------------------------------------------------
// The pages' server functions

#[sqlx::test]
async fn server_functions_list_create_update_and_page(pool: PgPool) {
    let (app, s) = setup(&pool).await;
    let api = s.rest(&app);
    let r = api.call("create_crm_record", json!({ "object": "contacts", "properties": { "email": "ui@example.com", "firstname": "Ui", "lastname": "Person" } })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["display_name"], "Ui Person");
    let r = api.call("update_crm_record", json!({ "object": "contacts", "id": id, "properties": { "jobtitle": "Tester", "firstname": "Ui" } })).await;
    assert_eq!(r.body["changed"], json!(["jobtitle"]));
    assert_eq!(
        r.body["record"]["changes"]["jobtitle"]["by"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("token")
    );
    for i in 0..30 {
        api.call(
            "create_crm_record",
            json!({ "object": "contacts", "properties": { "firstname": format!("N{i:02}") } }),
        )
        .await;
    }
    let r = api
        .call(
            "list_crm_records",
            json!({ "object": "contacts", "request": { "sort": "firstname", "limit": 20 } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["records"].as_array().unwrap().len(), 20);
    assert_eq!(r.body["records"][0]["properties"]["firstname"], "N00");
    let next = r.body["next"].as_str().unwrap();
    let r = api.call("list_crm_records", json!({ "object": "contacts", "request": { "sort": "firstname", "limit": 20, "after": next } })).await;
    assert_eq!(r.body["records"].as_array().unwrap().len(), 11);
    assert!(r.body["next"].is_null());
    assert!(r.body["prev"].is_string());
    let r = api
        .call(
            "list_crm_records",
            json!({ "object": "contacts", "request": { "search": "tester" } }),
        )
        .await;
    assert_eq!(
        r.body["records"].as_array().unwrap().len(),
        0,
        "job titles are not searched"
    );
    let r = api
        .call(
            "list_crm_records",
            json!({ "object": "contacts", "request": { "search": "ui@" } }),
        )
        .await;
    assert_eq!(r.body["records"][0]["id"], id);
    let r = api
        .call(
            "list_crm_records",
            json!({ "object": "contacts", "request": { "sort": "jobtitle" } }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "only indexed columns sort: {}",
        r.text
    );
    let r = api.call("crm_schema", json!({ "object": "deals" })).await;
    assert_eq!(r.body["pipelines"][0]["id"], "default");
    assert!(r.body["create_form"]
        .as_array()
        .unwrap()
        .contains(&json!("dealstage")));
    let r = api
        .call(
            "add_crm_note",
            json!({ "object": "contacts", "id": id, "body": "Called, will buy." }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .call(
            "list_crm_timeline",
            json!({ "object": "contacts", "id": id }),
        )
        .await;
    assert_eq!(r.body[0]["kind"], "note");
    let _ = Cursor::decode("1");
}
