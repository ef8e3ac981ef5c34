//! The webhook receiver: a signature header costs one HMAC, whatever it holds.

use crate::engine_common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use tandem::connectors::webhook::sign;
use tandem::platform::connections;

async fn post(s: &Stack, id: uuid::Uuid, signature: String, body: Vec<u8>) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/webhooks/{id}", s.tandem_url))
        .header("content-type", "application/json")
        .header("X-Demo-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[sqlx::test]
async fn a_signature_header_with_many_entries_is_refused_unread(pool: PgPool) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    let secret = connections::webhook_target(s.pool(), &s.state.secret_key, id)
        .await
        .unwrap()
        .and_then(|t| t.secret)
        .expect("a webhook secret");
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::to_vec(&json!({
        "delivery_id": "many-1", "type": "contact.updated", "object": "contacts",
        "object_id": "123", "occurred_at": chrono::Utc::now(), "data": {}
    }))
    .unwrap();
    let good = sign(&secret, now, &body);

    // Rotating secrets send a few candidates: the right one among them is found.
    let few = format!("t={now},v1={},v1=,v1={good}", "0".repeat(64));
    let (status, answer) = post(&s, id, few, body.clone()).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("stored")),
        "{answer}"
    );

    // Thousands of entries would each cost an HMAC over the body: refused before any.
    let many = format!("t={now},{}v1={good}", "v1=,".repeat(20_000));
    let (status, answer) = post(&s, id, many, body.clone()).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "malformed", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("more than 8"),
        "{answer}"
    );
    let just_over = format!("t={now},{}v1={good}", "v1=,".repeat(7));
    let (status, _) = post(&s, id, just_over, body).await;
    assert_eq!(status, 400);
}
