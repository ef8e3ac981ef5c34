//! Fault injection and request counters, observed from outside over HTTP.

use crate::demo_app_common::*;
use http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tandem::demo_app::faults::RateLimit;

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn half_of_the_requests_fail_when_the_error_rate_is_one_half(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/faults",
            Some(json!({"error_rate": 0.5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["error_rate"], 0.5);
    demo.admin(reqwest::Method::POST, "/admin/stats/reset", None)
        .await;

    const N: usize = 200;
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..N {
        let r = demo.get(&token, "/v1/contacts").await;
        match r.status.as_u16() {
            200 => ok += 1,
            500 | 502 | 503 => {
                assert_eq!(r.body["error"], "server_error");
                failed += 1;
            }
            other => panic!("unexpected status {other}: {}", r.text),
        }
    }
    // Binomial(200, 0.5): 60..=140 holds with probability 1 - 2e-8.
    assert!((60..=140).contains(&failed), "{failed} failures out of {N}");
    assert_eq!(ok + failed, N);

    let stats = demo.admin(reqwest::Method::GET, "/admin/stats", None).await;
    assert_eq!(stats.body["errors_injected"], failed);
    let by = &stats.body["by_endpoint"]["GET /v1/{object}"];
    assert_eq!(by["200"], ok);
    let counted_5xx: u64 = ["500", "502", "503"]
        .iter()
        .map(|s| by[*s].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted_5xx as usize, failed);
    assert_eq!(stats.body["requests_total"], N);

    // Off again: every request succeeds.
    demo.admin(
        reqwest::Method::POST,
        "/admin/faults",
        Some(json!({"error_rate": 0})),
    )
    .await;
    for _ in 0..20 {
        assert_eq!(
            demo.get(&token, "/v1/contacts").await.status,
            StatusCode::OK
        );
    }
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn tokens_above_the_rate_limit_get_429_with_retry_after(pool: PgPool) {
    let demo = start(&pool, |c| {
        c.faults.rate_limit = Some(RateLimit {
            requests: 5,
            window_secs: 60,
        })
    })
    .await;
    let token = demo.token("acme").await;
    let other = demo.token("globex").await;
    for i in 0..5 {
        assert_eq!(
            demo.get(&token, "/v1/me").await.status,
            StatusCode::OK,
            "request {i}"
        );
    }
    let limited = demo.get(&token, "/v1/me").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"], "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        demo.get(&other, "/v1/me").await.status,
        StatusCode::OK,
        "limits are per token"
    );

    let stats = demo.admin(reqwest::Method::GET, "/admin/stats", None).await;
    assert_eq!(stats.body["rate_limited"], 1);
    assert_eq!(stats.body["by_endpoint"]["GET /v1/me"]["429"], 1);
    // The busiest window: acme's 5 (the refused one is not served; globex used 1).
    assert_eq!(stats.body["rate_limit_peak_window"], 5);
    let reset = demo
        .admin(reqwest::Method::POST, "/admin/stats/reset", None)
        .await;
    assert_eq!(reset.body["rate_limit_peak_window"], 0);

    // A runtime change takes effect at once; `null` turns the limit off.
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/faults",
            Some(json!({"rate_limit": "2/30"})),
        )
        .await;
    assert_eq!(
        r.body["rate_limit"],
        json!({"requests": 2, "window_secs": 30})
    );
    assert_eq!(demo.get(&token, "/v1/me").await.status, StatusCode::OK);
    assert_eq!(demo.get(&token, "/v1/me").await.status, StatusCode::OK);
    assert_eq!(
        demo.get(&token, "/v1/me").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    demo.admin(
        reqwest::Method::POST,
        "/admin/faults",
        Some(json!({"rate_limit": null})),
    )
    .await;
    for _ in 0..10 {
        assert_eq!(demo.get(&token, "/v1/me").await.status, StatusCode::OK);
    }
    // DELETE returns to the start-up settings.
    let reset = demo
        .admin(reqwest::Method::DELETE, "/admin/faults", None)
        .await;
    assert_eq!(reset.body["rate_limit"]["requests"], 5);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn added_latency_slows_api_requests(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    demo.admin(
        reqwest::Method::POST,
        "/admin/faults",
        Some(json!({"latency_ms": 300})),
    )
    .await;
    let started = Instant::now();
    assert_eq!(demo.get(&token, "/v1/me").await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // OAuth and admin endpoints are not slowed.
    demo.admin(
        reqwest::Method::POST,
        "/admin/faults",
        Some(json!({"latency_ms": 5000})),
    )
    .await;
    let started = Instant::now();
    demo.admin(reqwest::Method::GET, "/admin/faults", None)
        .await;
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn admin_endpoints_need_the_admin_key_and_check_their_input(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    for path in ["/admin/faults", "/admin/stats"] {
        let r = demo
            .http
            .get(format!("{}{path}", demo.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let r = demo
            .http
            .get(format!("{}{path}", demo.url))
            .header("X-Admin-Key", "wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/faults",
            Some(json!({"error_rate": 1.5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/faults",
            Some(json!({"typo": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = demo
        .admin(reqwest::Method::GET, "/admin/faults", None)
        .await;
    assert_eq!(r.body["error_rate"], 0.0, "nothing changed");

    // /admin/seed fills an account for tests that only speak HTTP.
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/seed",
            Some(json!({"account": "initech", "contacts": 25, "companies": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["username"], "initech-admin");
    let token = demo.token("initech").await;
    assert_eq!(
        demo.get(&token, "/v1/contacts").await.body["results"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/seed",
            Some(json!({"account": "Bad Name"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
