//! Helpers for integration tests: the real router over a real, freshly migrated
//! Postgres database (one per test, made by `#[sqlx::test]`).

pub mod smtp;

use axum::body::{to_bytes, Body};
use axum::Router;
use http::{header, Request, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use tandem::model::Role;
use tandem::platform::{db, portals, tokens, users, AppState, Config};
use tandem::server::app;
use tower::ServiceExt;
use uuid::Uuid;

pub async fn test_app(pool: &PgPool) -> Router {
    db::migrate_pool(pool).await.expect("migrations");
    let dir = std::env::temp_dir().join(format!("tandem-test-{}", Uuid::new_v4()));
    app(AppState::new(pool.clone(), Config::for_tests("unused", dir)).expect("state"))
}

pub struct Seeded {
    pub portal_id: Uuid,
    pub user_id: Uuid,
    pub token: String,
}

/// A portal with one user of the given role and a token acting for them.
pub async fn seed_user(pool: &PgPool, portal: &str, email: &str, role: Role) -> Seeded {
    let portal_id = portals::ensure(pool, portal, portal).await.unwrap();
    let user_id = users::create(
        pool,
        portal_id,
        users::NewUser {
            email: email.into(),
            name: "Test Person".into(),
            password: "correct horse battery".into(),
            role,
        },
    )
    .await
    .unwrap();
    let token = tokens::create(pool, portal_id, user_id, "test")
        .await
        .unwrap()
        .secret;
    Seeded {
        portal_id,
        user_id,
        token,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("router never fails");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = to_bytes(res.into_body(), 10 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// `POST /api/<name>` with a JSON body and an optional Bearer token.
pub async fn call(app: &Router, name: &str, token: Option<&str>, body: Value) -> Reply {
    let mut req =
        Request::post(format!("/api/{name}")).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    send(app, req.body(Body::from(body.to_string())).unwrap()).await
}

/// The error as scripts see it (status, code, fields), for assertions on what a domain
/// call refused.
pub trait AsApiError {
    fn api(&self) -> tandem::model::ApiError;
}

impl AsApiError for tandem::hub::HubError {
    fn api(&self) -> tandem::model::ApiError {
        self.into()
    }
}

impl AsApiError for tandem::engine::EngineError {
    fn api(&self) -> tandem::model::ApiError {
        self.into()
    }
}

impl AsApiError for tandem::model::ApiError {
    fn api(&self) -> tandem::model::ApiError {
        self.clone()
    }
}
