//! Installing the demo app through the real OAuth flow (Tandem and the demo app both served
//! over HTTP, real Postgres): refused callbacks store nothing, tokens are sealed at rest,
//! expired access tokens are refreshed without anyone noticing, a revoked grant asks for a
//! reconnect, accounts are not duplicated, and the webhook endpoint stores each valid
//! delivery once and refuses everything else without writing.

use crate::engine_common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tandem::connectors::webhook::{sign, MAX_BODY_BYTES};
use tandem::connectors::ConnectorError;
use tandem::model::ConnectionStatus;
use tandem::platform::{connections, install};
use uuid::Uuid;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Starts an install as the admin and answers the demo app's consent form; returns where
/// the demo app sends the browser back (Tandem's callback URL with its query).
async fn consent(s: &Stack, account: &str, decision: &str) -> String {
    s.account(account).await;
    let start = install::start(&s.state, &s.admin, "demo")
        .await
        .expect("install starts");
    let url = url::Url::parse(&start.authorization_url).expect("url");
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("username".into(), format!("{account}-admin")));
    form.push(("password".into(), "demo".into()));
    form.push(("decision".into(), decision.into()));
    let res = no_redirects()
        .post(format!("{}/oauth/authorize", s.demo_url))
        .form(&form)
        .send()
        .await
        .expect("consent");
    assert_eq!(res.status().as_u16(), 302);
    res.headers()["location"].to_str().unwrap().to_string()
}

/// Follows the demo app's redirect to Tandem's callback, as a browser without a session.
async fn callback(location: &str) -> (u16, String, Option<String>) {
    callback_with(location, None).await
}

/// The same, from a browser with a session cookie (`name=value`).
async fn callback_with(location: &str, cookie: Option<&str>) -> (u16, String, Option<String>) {
    let mut req = no_redirects().get(location);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.expect("callback");
    let status = res.status().as_u16();
    let redirect = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, res.text().await.unwrap_or_default(), redirect)
}

async fn connection_count(s: &Stack) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM connections")
        .fetch_one(s.pool())
        .await
        .unwrap()
}

fn with_state(location: &str, state: &str) -> String {
    let mut url = url::Url::parse(location).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, state.into())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

#[sqlx::test]
async fn a_callback_with_a_state_tandem_did_not_issue_is_refused_and_stores_nothing(pool: PgPool) {
    let s = stack(pool).await;
    let back = consent(&s, "acme", "allow").await;

    let (status, page, _) = callback(&with_state(&back, "forged-state")).await;
    assert_eq!(status, 400);
    assert!(page.contains("state mismatch"), "{page}");
    assert!(page.contains("Start the install again"), "{page}");
    assert_eq!(connection_count(&s).await, 0);

    // The genuine answer, in the browser of the admin who started it, still completes
    // once; replaying it is refused.
    let (cookie, _) = s.sign_in(None).await;
    let (status, _, redirect) = callback_with(&back, Some(&cookie)).await;
    assert_eq!(
        status, 303,
        "the genuine callback redirects to the app page"
    );
    assert!(redirect
        .unwrap()
        .starts_with("/settings/integrations/connected-apps/demo?connected="));
    let (status, page, _) = callback(&back).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("already used"), "{page}");
    assert_eq!(connection_count(&s).await, 1);
}

#[sqlx::test]
async fn denied_consent_shows_why_and_stores_nothing(pool: PgPool) {
    let s = stack(pool).await;
    let back = consent(&s, "acme", "deny").await;
    assert!(back.contains("error=access_denied"), "{back}");

    let (status, page, _) = callback(&back).await;
    assert_eq!(status, 400);
    assert!(page.contains("Access denied"), "{page}");
    assert!(page.contains("choose Allow"), "{page}");
    assert_eq!(connection_count(&s).await, 0);
}

#[sqlx::test]
async fn tokens_are_sealed_in_the_database(pool: PgPool) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    let (access, refresh) = connections::sealed_tokens(s.pool(), &s.state.secret_key, id)
        .await
        .unwrap();
    let (access, refresh) = (access.unwrap(), refresh.unwrap());
    // They are the real tokens: the demo app accepts the access token.
    let me = reqwest::Client::new()
        .get(format!("{}/v1/me", s.demo_url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);

    let row: String = sqlx::query_scalar("SELECT to_jsonb(c)::text FROM connections c")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert!(
        !row.contains(&access),
        "the access token is stored in plaintext"
    );
    assert!(
        !row.contains(&refresh),
        "the refresh token is stored in plaintext"
    );
    let states: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(to_jsonb(o)::text, ''), '') FROM oauth_states o",
    )
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert!(!states.is_empty() && !states.contains(&access));
    // What the token answer said beyond the tokens is kept with the connection (the
    // demo app names the account, as real CRMs name an instance or a portal).
    let (kind, settings): (String, serde_json::Value) =
        sqlx::query_as("SELECT credential_kind, settings FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert_eq!(kind, "oauth2");
    assert_eq!(settings["extras"]["account"], "acme", "{settings}");
}

#[sqlx::test]
async fn an_expired_access_token_is_refreshed_transparently(pool: PgPool) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    let (before, refresh_before) = connections::sealed_tokens(s.pool(), &s.state.secret_key, id)
        .await
        .unwrap();
    // The app considers the token expired; Tandem still believes it valid.
    sqlx::query(
        "UPDATE oauth_tokens SET expires_at = now() - interval '1 second' WHERE kind = 'access'",
    )
    .execute(&s.demo_pool)
    .await
    .unwrap();

    let me = s
        .connector(id)
        .await
        .identity()
        .await
        .expect("the call succeeds after a refresh");
    assert!(!me.name.is_empty());
    assert_eq!(
        s.demo_stats().await["by_endpoint"]["GET /v1/me"]["401"],
        1,
        "the expired token was tried"
    );
    let (after, refresh_after) = connections::sealed_tokens(s.pool(), &s.state.secret_key, id)
        .await
        .unwrap();
    assert_ne!(before, after, "a new access token was stored");
    assert_ne!(
        refresh_before, refresh_after,
        "the rotated refresh token was stored"
    );
    let view = connections::get(s.pool(), s.admin.portal_id, id, &s.tandem_url)
        .await
        .unwrap();
    assert_eq!(view.status, ConnectionStatus::Connected);
}

#[sqlx::test]
async fn a_revoked_grant_marks_the_connection_needs_reconnecting_and_reconnecting_fixes_it(
    pool: PgPool,
) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    sqlx::query("UPDATE oauth_grants SET revoked_at = now(), revoked_reason = 'test'")
        .execute(&s.demo_pool)
        .await
        .unwrap();
    sqlx::query("UPDATE oauth_tokens SET revoked_at = now()")
        .execute(&s.demo_pool)
        .await
        .unwrap();

    let err = s.connector(id).await.identity().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::ReconnectNeeded { .. }),
        "{err:?}"
    );
    let view = connections::get(s.pool(), s.admin.portal_id, id, &s.tandem_url)
        .await
        .unwrap();
    assert_eq!(view.status, ConnectionStatus::NeedsReconnect);
    let notified: Vec<String> =
        sqlx::query_scalar("SELECT title FROM notifications WHERE kind = 'reconnect_needed'")
            .fetch_all(s.pool())
            .await
            .unwrap();
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert!(notified[0].ends_with("needs reconnecting"), "{notified:?}");

    // Running the flow again for the same account repairs the same connection.
    let again = s.connect("acme").await;
    assert_eq!(again, id);
    let view = connections::get(s.pool(), s.admin.portal_id, id, &s.tandem_url)
        .await
        .unwrap();
    assert_eq!(view.status, ConnectionStatus::Connected);
    assert!(s.connector(id).await.identity().await.is_ok());
}

#[sqlx::test]
async fn several_accounts_are_kept_apart_and_disconnect_revokes_and_keeps_history(pool: PgPool) {
    let s = stack(pool).await;
    let acme = s.connect("acme").await;
    let globex = s.connect("globex").await;
    assert_ne!(acme, globex);
    assert_eq!(
        s.connect("acme").await,
        acme,
        "the same account is not connected twice"
    );
    assert_eq!(connection_count(&s).await, 2);

    let sync = s.sync(acme).create().await;
    let (access, _) = connections::sealed_tokens(s.pool(), &s.state.secret_key, acme)
        .await
        .unwrap();
    install::disconnect(&s.state, &s.admin, acme).await.unwrap();
    tandem::engine::definition::turn_off_for_connection(&s.state.pool, acme)
        .await
        .unwrap();

    let view = connections::get(s.pool(), s.admin.portal_id, acme, &s.tandem_url)
        .await
        .unwrap();
    assert_eq!(view.status, ConnectionStatus::Disconnected);
    assert_eq!(
        connections::sealed_tokens(s.pool(), &s.state.secret_key, acme)
            .await
            .unwrap(),
        (None, None)
    );
    let at_app = reqwest::Client::new()
        .get(format!("{}/v1/me", s.demo_url))
        .bearer_auth(access.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(at_app.status().as_u16(), 401, "the app revoked the token");
    let after = s.status(sync.id).await;
    assert!(!after.enabled, "its syncs are turned off");
    // The other account is untouched.
    assert!(s.connector(globex).await.identity().await.is_ok());
}

/// The webhook secret Tandem gave the demo app when it subscribed on connect.
async fn webhook_secret(s: &Stack, id: Uuid) -> String {
    connections::webhook_target(s.pool(), &s.state.secret_key, id)
        .await
        .unwrap()
        .and_then(|t| t.secret)
        .expect("a webhook subscription was made on connect")
}

async fn deliveries(s: &Stack) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(s.pool())
        .await
        .unwrap()
}

async fn post_webhook(
    s: &Stack,
    id: Uuid,
    signature: Option<String>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/webhooks/{id}", s.tandem_url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(sig) = signature {
        req = req.header("X-Demo-Signature", sig);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn signed(secret: &str, at: i64, body: &[u8]) -> Option<String> {
    Some(format!("t={at},v1={}", sign(secret, at, body)))
}

#[sqlx::test]
async fn the_webhook_endpoint_stores_valid_deliveries_once_and_refuses_the_rest(pool: PgPool) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    let secret = webhook_secret(&s, id).await;
    let start = deliveries(&s).await;
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::to_vec(&json!({
        "delivery_id": "d-1", "type": "contact.updated", "object": "contacts",
        "object_id": "123", "occurred_at": chrono::Utc::now(), "data": {}
    }))
    .unwrap();

    let (status, answer) = post_webhook(&s, id, signed(&secret, now, &body), body.clone()).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    let (status, answer) = post_webhook(&s, id, signed(&secret, now, &body), body.clone()).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(
        deliveries(&s).await,
        start + 1,
        "stored once although sent twice"
    );

    let other = serde_json::to_vec(&json!({
        "delivery_id": "d-2", "type": "contact.updated", "object": "contacts", "object_id": "124"
    }))
    .unwrap();
    let refused = [
        (
            "forged",
            signed("not-the-secret", now, &other),
            other.clone(),
            401,
            "bad_signature",
        ),
        ("unsigned", None, other.clone(), 401, "bad_signature"),
        (
            "stale",
            signed(&secret, now - 301, &other),
            other.clone(),
            401,
            "stale",
        ),
        (
            "oversized",
            signed(&secret, now, &vec![b' '; MAX_BODY_BYTES + 1]),
            vec![b' '; MAX_BODY_BYTES + 1],
            413,
            "too_large",
        ),
        (
            "malformed",
            signed(&secret, now, b"{not json"),
            b"{not json".to_vec(),
            400,
            "malformed",
        ),
        (
            "incomplete",
            signed(&secret, now, br#"{"type":"contact.updated"}"#),
            br#"{"type":"contact.updated"}"#.to_vec(),
            400,
            "malformed",
        ),
    ];
    for (what, sig, body, want, code) in refused {
        let (status, answer) = post_webhook(&s, id, sig, body).await;
        assert_eq!(status, want, "{what}: {answer}");
        assert_eq!(answer["code"], code, "{what}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    assert_eq!(
        deliveries(&s).await,
        start + 1,
        "refused calls store nothing"
    );

    let (status, _) = post_webhook(&s, Uuid::new_v4(), signed(&secret, now, &other), other).await;
    assert_eq!(status, 404);
}

#[sqlx::test]
async fn the_demo_apps_own_deliveries_arrive_signed_and_duplicates_are_stored_once(pool: PgPool) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    let subscriptions: Value = reqwest::Client::new()
        .get(format!("{}/v1/webhooks", s.demo_url))
        .bearer_auth(
            connections::sealed_tokens(s.pool(), &s.state.secret_key, id)
                .await
                .unwrap()
                .0
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        subscriptions
            .to_string()
            .contains(&format!("/webhooks/{id}")),
        "connecting subscribed Tandem's endpoint: {subscriptions}"
    );
    s.set_faults(json!({"webhook_duplicate_rate": 1.0})).await;
    let start = deliveries(&s).await;
    s.app_write(
        id,
        "contacts",
        None,
        json!({"email": "new@acme.test", "first_name": "New"}),
    )
    .await;

    // The app sends the delivery twice and counts it delivered after both answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.demo_stats().await["webhooks"]["delivered"].as_u64() < Some(1) {
        assert!(Instant::now() < deadline, "the demo app did not deliver");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.demo_stats().await["webhooks"]["duplicated"], 1);
    assert_eq!(deliveries(&s).await, start + 1);
    let notice: Value =
        sqlx::query_scalar("SELECT notice FROM webhook_deliveries ORDER BY id DESC LIMIT 1")
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert!(notice.to_string().contains("contacts"), "{notice}");
}
