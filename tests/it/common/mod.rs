//! Helpers for integration tests: the real router over a real, freshly migrated
//! Postgres database (one per test, made by `#[sqlx::test]`).

pub mod smtp;

use axum::body::{to_bytes, Body};
use axum::Router;
use http::{header, Method, Request, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeMap;
use tandem::hub::records::{self, ListQuery, Page, Record, Updated};
use tandem::hub::{associations, timeline, HubError};
use tandem::model::crm::{ObjectType, WriteOrigin};
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

impl Seeded {
    /// Hub writes in this portal, made by this user.
    pub fn hub<'a>(&self, pool: &'a PgPool) -> PortalHub<'a> {
        PortalHub {
            pool,
            portal: self.portal_id,
            origin: WriteOrigin::User(self.user_id),
        }
    }

    /// REST calls with this user's token.
    pub fn rest<'a>(&'a self, app: &'a Router) -> Rest<'a> {
        Rest {
            app,
            token: &self.token,
        }
    }
}

/// A JSON object as the hub's property values.
pub fn values(v: Value) -> BTreeMap<String, Value> {
    v.as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One portal's hub, written to by one origin: `hub.create(object, json!({..}))` for
/// `records::create(pool, portal, object, &values, &origin)`. The domain's answer is
/// returned as it is, for the test to unwrap or to check the refusal.
#[derive(Clone, Copy)]
pub struct PortalHub<'a> {
    pub pool: &'a PgPool,
    pub portal: Uuid,
    pub origin: WriteOrigin,
}

impl<'a> PortalHub<'a> {
    /// The same portal, written by `origin`.
    pub fn by(&self, origin: WriteOrigin) -> PortalHub<'a> {
        PortalHub { origin, ..*self }
    }

    /// Another portal, written by the same origin.
    pub fn in_portal(&self, portal: Uuid) -> PortalHub<'a> {
        PortalHub { portal, ..*self }
    }

    pub async fn create(&self, object: ObjectType, props: Value) -> Result<Record, HubError> {
        records::create(self.pool, self.portal, object, &values(props), &self.origin).await
    }

    pub async fn update(
        &self,
        object: ObjectType,
        id: i64,
        patch: Value,
    ) -> Result<Updated, HubError> {
        records::update(
            self.pool,
            self.portal,
            object,
            id,
            &values(patch),
            &self.origin,
        )
        .await
    }

    pub async fn list(&self, object: ObjectType, q: &ListQuery) -> Result<Page, HubError> {
        records::list(self.pool, self.portal, object, q).await
    }

    pub async fn archive(&self, object: ObjectType, id: i64) -> Result<Record, HubError> {
        records::set_archived(self.pool, self.portal, object, id, true, &self.origin).await
    }

    pub async fn restore(&self, object: ObjectType, id: i64) -> Result<Record, HubError> {
        records::set_archived(self.pool, self.portal, object, id, false, &self.origin).await
    }

    pub async fn associate(
        &self,
        a: (ObjectType, i64),
        b: (ObjectType, i64),
    ) -> Result<bool, HubError> {
        associations::set_associated(self.pool, self.portal, a, b, true, &self.origin).await
    }

    pub async fn add_event(
        &self,
        object: ObjectType,
        id: i64,
        event: &timeline::NewTimelineEvent,
    ) -> Result<timeline::Inserted, HubError> {
        let mut conn = self.pool.acquire().await?;
        timeline::insert(&mut conn, self.portal, object, id, event, &self.origin).await
    }

    pub async fn dissociate(
        &self,
        a: (ObjectType, i64),
        b: (ObjectType, i64),
    ) -> Result<bool, HubError> {
        associations::set_associated(self.pool, self.portal, a, b, false, &self.origin).await
    }
}

/// REST calls with one Bearer token: `api.post(path, json!({..}))`.
pub struct Rest<'a> {
    pub app: &'a Router,
    pub token: &'a str,
}

impl Rest<'_> {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        send(self.app, req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str) -> Reply {
        self.send(Method::PUT, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// A server function, `POST /api/<name>`.
    pub async fn call(&self, name: &str, body: Value) -> Reply {
        call(self.app, name, Some(self.token), body).await
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
