//! The connectors' HTTP layer against the demo app's fault modes over real HTTP: 5xx are
//! retried with backoff, a 429 waits the Retry-After the app asked for, and a refused
//! record is a permanent error naming the field, never retried.

use crate::demo_app_common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem::connectors::demo::DemoApp;
use tandem::connectors::http::{AppHttp, HttpLimits, StaticToken};
use tandem::connectors::{AppDefinition, ConnectorError, RecordWrite};

fn limits(max_attempts: usize) -> HttpLimits {
    HttpLimits {
        requests: 10_000,
        per: Duration::from_secs(1),
        max_attempts,
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..HttpLimits::default()
    }
}

async fn faults(demo: &Demo, patch: Value) {
    let r = demo.admin(Method::POST, "/admin/faults", Some(patch)).await;
    assert!(r.status.is_success(), "{}", r.text);
    demo.admin(Method::POST, "/admin/stats/reset", None).await;
}

async fn served(demo: &Demo, status: &str) -> u64 {
    let stats = demo.admin(Method::GET, "/admin/stats", None).await;
    stats.body["by_endpoint"]["GET /v1/me"][status]
        .as_u64()
        .unwrap_or(0)
}

async fn server_errors(demo: &Demo) -> u64 {
    let mut n = 0;
    for s in ["500", "502", "503"] {
        n += served(demo, s).await;
    }
    n
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn server_errors_are_transient_and_retried_until_the_attempts_run_out(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let http = AppHttp::new(
        &demo.url,
        Arc::new(StaticToken(demo.token("acme").await)),
        limits(3),
    );

    faults(&demo, json!({"error_rate": 1.0})).await;
    let err = http
        .json(Method::GET, "/v1/me", &[], None::<&Value>)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(server_errors(&demo).await, 3, "one call and two retries");

    // Half the requests fail: with retries the call succeeds (all 30 failing: 1e-9).
    faults(&demo, json!({"error_rate": 0.5})).await;
    let http = AppHttp::new(
        &demo.url,
        Arc::new(StaticToken(demo.token("acme").await)),
        limits(30),
    );
    let me = http
        .json(Method::GET, "/v1/me", &[], None::<&Value>)
        .await
        .expect("retries get through");
    assert!(me.is_object(), "{me}");
    assert_eq!(served(&demo, "200").await, 1);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn a_rate_limited_call_waits_the_retry_after_then_succeeds(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let http = AppHttp::new(
        &demo.url,
        Arc::new(StaticToken(demo.token("acme").await)),
        limits(5),
    );
    faults(
        &demo,
        json!({"rate_limit": {"requests": 1, "window_secs": 1}}),
    )
    .await;

    http.json(Method::GET, "/v1/me", &[], None::<&Value>)
        .await
        .expect("within the limit");
    let started = Instant::now();
    http.json(Method::GET, "/v1/me", &[], None::<&Value>)
        .await
        .expect("served after waiting");
    assert_eq!(served(&demo, "429").await, 1, "refused once, then waited");
    assert_eq!(served(&demo, "200").await, 2);
    // The backoff alone is at most 20 ms: the wait came from Retry-After.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn refused_data_is_a_permanent_error_with_the_field_and_is_not_retried(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let http = AppHttp::new(&demo.url, Arc::new(StaticToken(token.clone())), limits(5));
    demo.admin(Method::POST, "/admin/stats/reset", None).await;

    // An HTTP 422 of the whole request.
    let err = http
        .json(
            Method::POST,
            "/v1/webhooks",
            &[],
            Some(&json!({"url": "not a url"})),
        )
        .await
        .unwrap_err();
    let ConnectorError::Invalid { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("HTTP 422"), "{message}");
    assert!(!err.is_transient());
    let stats = demo.admin(Method::GET, "/admin/stats", None).await;
    assert_eq!(
        stats.body["by_endpoint"]["POST /v1/webhooks"]["422"], 1,
        "not retried"
    );

    // A refused item of a batch names its field.
    let connector = DemoApp::new(&demo.url, "unused", "unused")
        .with_limits(limits(5))
        .connect(&Default::default(), Arc::new(StaticToken(token)));
    let results = connector
        .write(
            "contacts",
            vec![RecordWrite {
                id: None,
                properties: json!({"email": "not an email"})
                    .as_object()
                    .unwrap()
                    .clone(),
                associations: Default::default(),
                idempotency_key: None,
            }],
        )
        .await
        .expect("the batch call itself succeeds");
    let item = results.into_iter().next().unwrap().unwrap_err();
    assert_eq!(item.field.as_deref(), Some("email"), "{item:?}");
    assert!(!item.message.is_empty());
}
