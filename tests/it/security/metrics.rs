//! Request metrics: labels taken from a request come from a fixed set.

use crate::common::*;
use axum::body::Body;
use http::{Method, Request};
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test]
async fn made_up_methods_do_not_become_metric_labels(pool: PgPool) {
    let app = test_app(&pool).await;
    let made_up = format!("PROBE{}", Uuid::new_v4().simple()).to_uppercase();
    let method = Method::from_bytes(made_up.as_bytes()).unwrap();
    for path in ["/healthz", "/api/whoami", "/no/such/page"] {
        send(
            &app,
            Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    }
    send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    let metrics = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert!(
        !metrics.text.contains(&made_up),
        "the raw method is a label"
    );
    assert!(
        metrics.text.contains(r#"method="other""#),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains(r#"method="GET""#), "{}", metrics.text);
}
