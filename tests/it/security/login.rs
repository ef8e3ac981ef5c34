//! Sign-in: redirects, throttling, parallel guesses, cross-site posts, timing, bounds.

use crate::common::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{header, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
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
