//! Sign-in: redirects, throttling, parallel guesses, cross-site posts, timing, bounds.

use crate::common::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{header, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tandem::model::Role;

const EMAIL: &str = "boss@example.com";
const PASSWORD: &str = "correct horse battery";

/// The sign-in form as a browser on Tandem's own page posts it, from `client`.
struct Login<'a> {
    client: &'a str,
    email: &'a str,
    password: &'a str,
    next: Option<&'a str>,
    origin: Option<&'a str>,
    fetch_site: Option<&'a str>,
}

impl<'a> Login<'a> {
    fn new(client: &'a str, password: &'a str) -> Self {
        Login {
            client,
            email: EMAIL,
            password,
            next: None,
            origin: Some("http://tandem.test"),
            fetch_site: None,
        }
    }

    fn request(&self) -> Request<Body> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("email", self.email)
            .append_pair("password", self.password);
        if let Some(next) = self.next {
            form.append_pair("next", next);
        }
        let mut req = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "tandem.test");
        if let Some(o) = self.origin {
            req = req.header(header::ORIGIN, o);
        }
        if let Some(s) = self.fetch_site {
            req = req.header("sec-fetch-site", s);
        }
        let mut req = req.body(Body::from(form.finish())).unwrap();
        let addr = SocketAddr::new(self.client.parse().unwrap(), 40000);
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    }

    async fn send(&self, app: &axum::Router) -> Reply {
        send(app, self.request()).await
    }
}

fn signed_in(r: &Reply) -> bool {
    (r.status.is_success() || r.status.is_redirection())
        && r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("tandem_session="))
}

#[sqlx::test]
async fn sign_in_sends_the_browser_only_to_this_site(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    for (next, expected) in [
        ("/contacts?page=2", "/contacts?page=2"),
        // Browsers drop tabs and newlines from URLs: `/\t/evil.example` is `//evil.example`.
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/ /evil.example", "/"),
    ] {
        let r = Login {
            next: Some(next),
            ..Login::new("10.0.0.1", PASSWORD)
        }
        .send(&app)
        .await;
        assert!(signed_in(&r), "{next:?}: {} {}", r.status, r.text);
        assert_eq!(
            r.headers
                .get(header::LOCATION)
                .map(|l| l.to_str().unwrap_or("(not text)")),
            Some(expected),
            "next={next:?}"
        );
    }
}

#[sqlx::test]
async fn failures_from_one_client_do_not_lock_out_another_and_waits_grow(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    let attacker = "203.0.113.7";
    for _ in 0..5 {
        let r = Login::new(attacker, "wrong").send(&app).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let r = Login::new(attacker, PASSWORD).send(&app).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(
        r.body["hint"].as_str().unwrap().contains("Wait 1 minute"),
        "{}",
        r.text
    );

    // The real admin, elsewhere, signs in: others' failures are not theirs.
    let admin = Login::new("198.51.100.20", PASSWORD).send(&app).await;
    assert!(signed_in(&admin), "{} {}", admin.status, admin.text);
    let next_door = Login::new("203.0.113.8", PASSWORD).send(&app).await;
    assert!(signed_in(&next_door), "{}", next_door.text);

    // Once the wait has passed the attacker gets one more guess, and the wait doubles.
    sqlx::query("UPDATE login_attempts SET at = at - interval '61 seconds'")
        .execute(&pool)
        .await
        .unwrap();
    let r = Login::new(attacker, "wrong").send(&app).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = Login::new(attacker, "wrong").send(&app).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(
        r.body["hint"].as_str().unwrap().contains("Wait 2 minutes"),
        "{}",
        r.text
    );
}

#[sqlx::test]
async fn an_ipv6_client_is_throttled_by_its_64_prefix(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    for _ in 0..5 {
        let r = Login::new("2001:db8:1:1::1", "wrong").send(&app).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    // Anyone given a /64 has all of its addresses: the next one is the same client.
    let r = Login::new("2001:db8:1:1::2", PASSWORD).send(&app).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let other = Login::new("2001:db8:1:2::1", PASSWORD).send(&app).await;
    assert!(signed_in(&other), "{}", other.text);
}

#[sqlx::test]
async fn a_burst_of_parallel_guesses_gets_no_more_than_the_allowance(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    let replies = futures::future::join_all(
        (0..24).map(|_| async { Login::new("203.0.113.7", "wrong").send(&app).await }),
    )
    .await;
    let verified = replies
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(verified + refused, 24, "only 401s and 429s");
    assert!(verified <= 5, "{verified} guesses were checked, 5 allowed");
}

#[sqlx::test]
async fn another_site_cannot_sign_a_browser_in(pool: PgPool) {
    let app = test_app(&pool).await;
    let s = seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    // A cross-site form posting the attacker's own credentials, no cookie yet.
    let forged = Login {
        origin: Some("https://evil.example"),
        ..Login::new("10.0.0.1", PASSWORD)
    }
    .send(&app)
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert!(!signed_in(&forged));
    let no_origin = Login {
        origin: None,
        fetch_site: Some("cross-site"),
        ..Login::new("10.0.0.1", PASSWORD)
    }
    .send(&app)
    .await;
    assert_eq!(
        no_origin.status,
        StatusCode::FORBIDDEN,
        "{}",
        no_origin.text
    );

    // Tandem's own page, and a token from anywhere, still work.
    let own = Login {
        fetch_site: Some("same-origin"),
        ..Login::new("10.0.0.1", PASSWORD)
    }
    .send(&app)
    .await;
    assert!(signed_in(&own), "{} {}", own.status, own.text);
    let token = send(
        &app,
        Request::post("/api/whoami")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .header(header::AUTHORIZATION, format!("Bearer {}", s.token))
            .body(Body::from(json!({}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
}

async fn timed(app: &axum::Router, login: Login<'_>) -> Duration {
    let started = Instant::now();
    let r = login.send(app).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    started.elapsed()
}

#[sqlx::test]
async fn an_unknown_email_takes_as_long_as_a_wrong_password(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
    // The fastest of a few each: noise only ever adds time.
    for i in 0..3 {
        let client = format!("10.0.1.{i}");
        known = known.min(timed(&app, Login::new(&client, "wrong")).await);
        unknown = unknown.min(
            timed(
                &app,
                Login {
                    email: "nobody@example.com",
                    ..Login::new(&client, "wrong")
                },
            )
            .await,
        );
    }
    assert!(
        unknown * 3 >= known,
        "an unknown email answers in {unknown:?}, a wrong password in {known:?}"
    );
}

#[sqlx::test]
async fn old_attempts_are_purged_and_emails_are_capped(pool: PgPool) {
    let app = test_app(&pool).await;
    seed_user(&pool, "acme", EMAIL, Role::SuperAdmin).await;
    sqlx::query(
        "INSERT INTO login_attempts (email, succeeded, at)
         SELECT 'old' || i || '@example.com', false, now() - interval '30 days'
         FROM generate_series(1, 50) i",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = Login::new("10.0.0.1", "wrong").send(&app).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let old: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM login_attempts WHERE at < now() - interval '2 days'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(old, 0, "attempts older than the window are deleted");

    let long = format!("{}@example.com", "a".repeat(100_000));
    let r = Login {
        email: &long,
        ..Login::new("10.0.0.1", "wrong")
    }
    .send(&app)
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["fields"][0]["field"], "email", "{}", r.text);
    let longest: Option<i32> = sqlx::query_scalar("SELECT max(length(email)) FROM login_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(longest.unwrap_or(0) <= 254, "{longest:?}");
}
