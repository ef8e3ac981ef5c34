//! The foundation through the real router and a real Postgres: authentication by token
//! and session, permissions, tenant isolation, CSRF, rate limiting, health and metrics.

use crate::common::*;
use axum::body::Body;
use http::{header, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use tandem::model::Role;

#[sqlx::test]
async fn whoami_without_credentials_is_401_json_not_html(pool: PgPool) {
    let app = test_app(&pool).await;
    let r = call(&app, "whoami", None, json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "unauthorized");
    assert!(r.body["hint"].as_str().unwrap().contains("Bearer"));
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("json"));
}

#[sqlx::test]
async fn whoami_with_a_token_answers_json(pool: PgPool) {
    let app = test_app(&pool).await;
    let s = seed_user(&pool, "acme", "Boss@Example.com", Role::SuperAdmin).await;
    let r = call(&app, "whoami", Some(&s.token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], "boss@example.com");
    assert_eq!(r.body["portal_slug"], "acme");
    assert_eq!(r.body["role"], "super_admin");
    assert_eq!(r.body["auth"], "token");
}

#[sqlx::test]
async fn a_forged_or_revoked_token_is_refused(pool: PgPool) {
    let app = test_app(&pool).await;
    let s = seed_user(&pool, "acme", "boss@example.com", Role::SuperAdmin).await;
    let forged = call(&app, "whoami", Some("tdm_notarealtokenatall"), json!({})).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.body["code"], "invalid_token");

    let list = call(&app, "list_tokens", Some(&s.token), json!({})).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let id = list.body[0]["id"].as_str().unwrap().to_string();
    assert!(
        list.body[0].get("token_hash").is_none(),
        "hashes never leave the server"
    );
    let revoke = call(&app, "revoke_token", Some(&s.token), json!({ "id": id })).await;
    assert_eq!(revoke.status, StatusCode::OK, "{}", revoke.text);
    let after = call(&app, "whoami", Some(&s.token), json!({})).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn tokens_are_stored_hashed(pool: PgPool) {
    let s = seed_user(&pool, "acme", "boss@example.com", Role::SuperAdmin).await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], s.token);
    assert!(!stored[0].contains(&s.token[4..]));
}

#[sqlx::test]
async fn plain_users_cannot_manage_tokens_or_users(pool: PgPool) {
    let app = test_app(&pool).await;
    let s = seed_user(&pool, "acme", "plain@example.com", Role::User).await;
    for (name, body) in [
        ("list_tokens", json!({})),
        ("create_token", json!({ "name": "x" })),
        (
            "create_user",
            json!({ "email": "a@b.co", "name": "A", "password": "longenough", "role": "user" }),
        ),
    ] {
        let r = call(&app, name, Some(&s.token), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}: {}", r.text);
        assert_eq!(r.body["code"], "forbidden");
    }
    // Reading is fine.
    let users = call(&app, "list_users", Some(&s.token), json!({})).await;
    assert_eq!(users.status, StatusCode::OK);
}

#[sqlx::test]
async fn portals_only_see_their_own_users_and_tokens(pool: PgPool) {
    let app = test_app(&pool).await;
    let a = seed_user(&pool, "portal-a", "a@example.com", Role::SuperAdmin).await;
    let b = seed_user(&pool, "portal-b", "b@example.com", Role::SuperAdmin).await;
    let users = call(&app, "list_users", Some(&b.token), json!({})).await;
    let emails: Vec<&str> = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["b@example.com"]);

    // B cannot revoke A's token: it does not exist for B.
    let a_tokens = call(&app, "list_tokens", Some(&a.token), json!({})).await;
    let a_token_id = a_tokens.body[0]["id"].clone();
    let r = call(
        &app,
        "revoke_token",
        Some(&b.token),
        json!({ "id": a_token_id }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&app, "whoami", Some(&a.token), json!({})).await.status,
        StatusCode::OK
    );
}

#[sqlx::test]
async fn validation_errors_name_the_fields(pool: PgPool) {
    let app = test_app(&pool).await;
    let s = seed_user(&pool, "acme", "boss@example.com", Role::SuperAdmin).await;
    let r = call(
        &app,
        "create_user",
        Some(&s.token),
        json!({ "email": "not-an-email", "name": "", "password": "short", "role": "user" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let fields: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["email", "name", "password"]);

    let dup = call(
        &app,
        "create_user",
        Some(&s.token),
        json!({ "email": " BOSS@example.com ", "name": "Again", "password": "longenough", "role": "user" }),
    )
    .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.body["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));

    let bad_json = call(&app, "create_user", Some(&s.token), json!({ "email": 3 })).await;
    assert_eq!(
        bad_json.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_json.text
    );
}

fn login_request(email: &str, password: &str, origin: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "tandem.test");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    req.body(Body::from(format!("email={email}&password={password}")))
        .unwrap()
}

fn session_cookie(r: &Reply) -> String {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tandem_session="))
        .expect("a session cookie")
}

#[sqlx::test]
async fn sign_in_sets_a_safe_cookie_and_cross_site_calls_are_refused(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", "boss@example.com", Role::SuperAdmin).await;
    let r = send(
        &app,
        login_request(
            "boss%40example.com",
            "correct+horse+battery",
            Some("http://tandem.test"),
        ),
    )
    .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{} {}",
        r.status,
        r.text
    );
    let cookie = session_cookie(&r);
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain http in tests");
    let pair = cookie.split(';').next().unwrap().to_string();

    let with_cookie = |origin: Option<&'static str>| {
        let mut req = Request::post("/api/whoami")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::HOST, "tandem.test")
            .header(header::COOKIE, pair.clone());
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        req.body(Body::from("{}")).unwrap()
    };
    let same = send(&app, with_cookie(Some("http://tandem.test"))).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(same.body["auth"], "session");
    let cross = send(&app, with_cookie(Some("https://evil.example"))).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.body["message"]
        .as_str()
        .unwrap()
        .contains("another website"));
}

#[sqlx::test]
async fn repeated_failed_sign_ins_are_rate_limited(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", "boss@example.com", Role::SuperAdmin).await;
    for _ in 0..5 {
        let r = send(&app, login_request("boss%40example.com", "wrong", None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.body["code"], "invalid_login");
    }
    // Even the right password is refused now, until the window passes.
    let r = send(
        &app,
        login_request("boss%40example.com", "correct+horse+battery", None),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.body["hint"].as_str().unwrap().contains("Wait 1 minute"));
}

#[sqlx::test]
async fn health_metrics_and_unknown_api_paths(pool: PgPool) {
    let app = test_app(&pool).await;
    let health = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["database"], "ok");

    let missing = call(&app, "no_such_function", None, json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "not_found");

    let metrics = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text.contains("tandem_http_requests_total"),
        "{}",
        metrics.text
    );
}

#[sqlx::test]
async fn pages_render_on_the_server(pool: PgPool) {
    let app = test_app(&pool).await;
    let login = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text.contains("Sign in"));
    let missing = send(
        &app,
        Request::get("/definitely/not/here")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.contains("Page not found"));
}
