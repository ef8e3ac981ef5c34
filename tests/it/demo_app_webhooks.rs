//! Webhook delivery to a real local HTTP receiver: signatures recomputed with HMAC,
//! retries with backoff after failures, and the drop / duplicate faults.

use crate::demo_app_common::*;
use hmac::{Hmac, Mac};
use http::StatusCode;
use serde_json::json;
use sha2::Sha256;
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;
use tandem::demo_app::webhooks;

/// Verifies `t=<unix>,v1=<hex>` independently of the demo app's code.
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Ok(sig) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&sig).is_ok()
}

async fn subscribe(demo: &Demo, token: &str, url: &str, secret: &str) -> String {
    let r = demo
        .post(token, "/v1/webhooks", json!({"url": url, "secret": secret}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn drained(demo: &Demo) {
    let pool = demo.state.pool.clone();
    eventually(
        Duration::from_secs(15),
        "the webhook queue to drain",
        || {
            let pool = pool.clone();
            async move { (webhooks::pending_count(&pool).await.ok()? == 0).then_some(()) }
        },
    )
    .await;
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn every_change_is_delivered_signed(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let receiver = Receiver::start(0).await;
    let sub = subscribe(&demo, &token, &receiver.url, "whsec_test_secret").await;
    let listed = demo.get(&token, "/v1/webhooks").await;
    assert_eq!(listed.body["results"][0]["id"], sub.as_str());
    assert!(
        listed.body["results"][0].get("secret").is_none(),
        "secrets are not listed"
    );

    let id = demo
        .create(&token, "contacts", json!({"email": "hook@example.com"}))
        .await;
    let got = receiver
        .wait_for("contact.created", |b| b["type"] == "contact.created")
        .await;
    let d = &got[0];
    assert!(
        verify("whsec_test_secret", &d.signature, &d.body),
        "signature {} must verify",
        d.signature
    );
    assert!(!verify("another-secret", &d.signature, &d.body));
    let mut tampered = d.body.to_vec();
    tampered.push(b' ');
    assert!(
        !verify("whsec_test_secret", &d.signature, &tampered),
        "a changed body fails"
    );
    let t: i64 = d
        .signature
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 60,
        "the timestamp is now"
    );

    let body = d.json();
    assert_eq!(
        body["delivery_id"],
        d.delivery.as_str(),
        "X-Demo-Delivery names the delivery"
    );
    assert_eq!(body["subscription_id"], sub.as_str());
    assert!(body["account_id"].is_string());
    assert_eq!(body["object"], "contacts");
    assert_eq!(body["object_id"], id.as_str());
    assert!(body["occurred_at"].is_string());
    assert_eq!(body["data"]["id"], id.as_str());
    assert_eq!(body["data"]["properties"]["email"], "hook@example.com");

    demo.batch(
        &token,
        "contacts",
        json!([{"id": id, "properties": {"first_name": "Hook"}}]),
    )
    .await;
    let got = receiver
        .wait_for("contact.updated", |b| b["type"] == "contact.updated")
        .await;
    assert_eq!(got[0].json()["data"]["properties"]["first_name"], "Hook");

    demo.admin(
        reqwest::Method::POST,
        "/admin/events",
        Some(json!({"contact_id": id, "type": "email.opened", "properties": {"subject": "Hi"}})),
    )
    .await;
    let got = receiver
        .wait_for("email.opened", |b| b["type"] == "email.opened")
        .await;
    assert_eq!(got[0].json()["data"]["contact_id"], id.as_str());

    demo.delete(&token, &format!("/v1/contacts/{id}")).await;
    let got = receiver
        .wait_for("contact.deleted", |b| b["type"] == "contact.deleted")
        .await;
    assert_eq!(got[0].json()["data"]["deleted"], true);
    for r in receiver.all() {
        assert!(verify("whsec_test_secret", &r.signature, &r.body));
    }

    // Other objects: company.created; deleting the subscription stops deliveries.
    demo.create(&token, "companies", json!({"name": "Hooli"}))
        .await;
    receiver
        .wait_for("company.created", |b| b["type"] == "company.created")
        .await;
    assert_eq!(
        demo.delete(&token, &format!("/v1/webhooks/{sub}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let before = receiver.all().len();
    demo.create(&token, "companies", json!({"name": "After"}))
        .await;
    drained(&demo).await;
    assert_eq!(
        receiver.all().len(),
        before,
        "no delivery after unsubscribing"
    );

    let bad = demo
        .post(
            &token,
            "/v1/webhooks",
            json!({"url": "ftp://nope", "secret": "s"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn failed_deliveries_are_retried_until_acknowledged(pool: PgPool) {
    let demo = start(&pool, |c| c.webhook_retry_base = Duration::from_millis(30)).await;
    let token = demo.token("acme").await;
    // The receiver fails the first three requests.
    let receiver = Receiver::start(3).await;
    subscribe(&demo, &token, &receiver.url, "s3cret").await;
    demo.create(&token, "contacts", json!({"email": "retry@example.com"}))
        .await;
    let got = eventually(Duration::from_secs(15), "four attempts", || {
        let r = receiver.clone();
        async move {
            let all = r.all();
            (all.len() >= 4).then_some(all)
        }
    })
    .await;
    let ids: Vec<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "a retry is the same delivery: {ids:?}"
    );
    for r in &got {
        assert!(
            verify("s3cret", &r.signature, &r.body),
            "every attempt is signed"
        );
    }
    drained(&demo).await;
    let stats = demo.admin(reqwest::Method::GET, "/admin/stats", None).await;
    assert_eq!(stats.body["webhooks"]["failed_attempts"], 3);
    assert_eq!(stats.body["webhooks"]["delivered"], 1);
    assert_eq!(stats.body["webhooks"]["pending"], 0);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM webhook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 4);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn deliveries_that_never_succeed_are_given_up(pool: PgPool) {
    let demo = start(&pool, |c| {
        c.webhook_retry_base = Duration::from_millis(10);
        c.webhook_max_attempts = 3;
    })
    .await;
    let token = demo.token("acme").await;
    let receiver = Receiver::start(u32::MAX).await;
    subscribe(&demo, &token, &receiver.url, "s").await;
    demo.create(&token, "contacts", json!({"email": "never@example.com"}))
        .await;
    drained(&demo).await;
    assert_eq!(receiver.all().len(), 3);
    let (failed, error): (bool, Option<String>) =
        sqlx::query_as("SELECT failed_at IS NOT NULL, last_error FROM webhook_deliveries")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(failed);
    assert!(error.unwrap().contains("500"));
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn the_duplicate_fault_sends_deliveries_twice(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let receiver = Receiver::start(0).await;
    subscribe(&demo, &token, &receiver.url, "dup").await;
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/faults",
            Some(json!({"webhook_duplicate_rate": 1.0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for i in 0..3 {
        demo.create(
            &token,
            "contacts",
            json!({"email": format!("d{i}@example.com")}),
        )
        .await;
    }
    drained(&demo).await;
    let mut by_delivery: HashMap<String, usize> = HashMap::new();
    for r in receiver.all() {
        assert!(verify("dup", &r.signature, &r.body));
        *by_delivery.entry(r.delivery).or_default() += 1;
    }
    assert_eq!(by_delivery.len(), 3);
    assert!(by_delivery.values().all(|n| *n == 2), "{by_delivery:?}");
    let stats = demo.admin(reqwest::Method::GET, "/admin/stats", None).await;
    assert_eq!(stats.body["webhooks"]["duplicated"], 3);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn the_drop_fault_loses_deliveries_and_the_change_feed_still_has_them(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let receiver = Receiver::start(0).await;
    subscribe(&demo, &token, &receiver.url, "drop").await;
    demo.admin(
        reqwest::Method::POST,
        "/admin/faults",
        Some(json!({"webhook_drop_rate": 1.0})),
    )
    .await;
    let id = demo
        .create(&token, "contacts", json!({"email": "lost@example.com"}))
        .await;
    drained(&demo).await;
    assert!(receiver.all().is_empty(), "dropped deliveries never arrive");
    let stats = demo.admin(reqwest::Method::GET, "/admin/stats", None).await;
    assert_eq!(stats.body["webhooks"]["dropped"], 1);
    // The safety net: the change feed has the record.
    let feed = demo.get(&token, "/v1/contacts/changes").await;
    assert_eq!(feed.body["results"][0]["id"], id.as_str());

    // Back to normal, and a delay: deliveries arrive again.
    demo.admin(reqwest::Method::DELETE, "/admin/faults", None)
        .await;
    demo.admin(
        reqwest::Method::POST,
        "/admin/faults",
        Some(json!({"webhook_delay_ms": 200})),
    )
    .await;
    let started = std::time::Instant::now();
    demo.create(&token, "contacts", json!({"email": "late@example.com"}))
        .await;
    receiver
        .wait_for("the delayed delivery", |b| {
            b["data"]["properties"]["email"] == "late@example.com"
        })
        .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}
