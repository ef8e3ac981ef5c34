//! The BottleCRM connector against a real BottleCRM server (PyPI `django-crm`, one per
//! test, started with scripts/bottlecrm.sh from the copy `make test`'s bootstrap
//! installs): install with a personal access token, two-way sync of contacts, accounts
//! and opportunities, deletions (hard there), its signed webhooks, and the comparison
//! of its listing that catches what a webhook missed.

use crate::engine_common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::process::Command;
use std::time::{Duration, Instant};
use tandem::hub::records;
use tandem::model::crm::ObjectType;
use tandem::model::{CredentialInput, CredentialInstall, SyncInput};
use tandem::platform::install;
use uuid::Uuid;

/// A BottleCRM server of the test's own.
struct Server {
    name: String,
    url: String,
    token: String,
    /// A signed-in session's token: only it may manage webhooks there.
    jwt: String,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("scripts/bottlecrm.sh")
            .args(["stop", &self.name])
            .status();
    }
}

impl Server {
    fn start() -> Server {
        let name = format!("it-bcrm-{}", Uuid::new_v4().simple());
        // Servers of parallel tests start at once: a free port picked by two of them
        // makes one fail to bind, and it starts again on another.
        let mut out = None;
        for _ in 0..3 {
            let attempt = Command::new("scripts/bottlecrm.sh")
                .args(["start", &name])
                .output()
                .expect("scripts/bottlecrm.sh runs");
            let started = attempt.status.success();
            out = Some(attempt);
            if started {
                break;
            }
        }
        let out = out.expect("one attempt");
        assert!(
            out.status.success(),
            "BottleCRM did not start (make test's bootstrap installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mut parts = line.split_whitespace().map(str::to_string);
        let (Some(url), Some(token), Some(jwt)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("unexpected start line: {line}")
        };
        Server {
            name,
            url,
            token,
            jwt,
            http: reqwest::Client::new(),
        }
    }

    async fn call_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("BottleCRM answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    async fn create(&self, object: &str, body: Value) -> String {
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/{object}/"),
                Some(body),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {v}");
        v["id"].as_str().unwrap().to_string()
    }

    async fn patch(&self, object: &str, id: &str, body: Value) {
        let (status, v) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/api/{object}/{id}/"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    async fn contact_emails(&self) -> Vec<String> {
        let (status, v) = self
            .call(reqwest::Method::GET, "/api/contacts/?limit=1000", None)
            .await;
        assert_eq!(status, 200, "{v}");
        let mut emails: Vec<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["email"].as_str().map(str::to_lowercase))
            .collect();
        emails.sort();
        emails
    }
}

async fn connect(s: &Stack, server: &Server) -> Uuid {
    let input = CredentialInput {
        url: server.url.clone(),
        secret: server.token.clone(),
        ..Default::default()
    };
    match install::install_with_credentials(&s.state, &s.admin, "bottlecrm", &input)
        .await
        .expect("the install succeeds")
    {
        CredentialInstall::Connected { connection_id, .. } => connection_id,
        other => panic!("expected a connection, got {other:?}"),
    }
}

/// A hub contact with both names: BottleCRM requires them of every contact.
async fn hub_person(s: &Stack, email: &str, first: &str) {
    s.hub_create(
        ObjectType::Contacts,
        json!({ "email": email, "firstname": first, "lastname": "Hub" }),
    )
    .await;
}

fn two_way(connection: Uuid, object: &str, hub_object: &str) -> SyncInput {
    let mut input = SyncInput::new(connection, object, hub_object);
    input.propagate_deletes = true;
    input
}

#[sqlx::test]
async fn installing_checks_the_token_with_the_server(pool: PgPool) {
    let s = stack(pool).await;
    let server = Server::start();
    let (status, e) = s
        .install_over_http(
            "bottlecrm",
            json!({ "url": server.url, "secret": "bcrm_pat_wrong" }),
        )
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["fields"][0]["field"], "secret", "{e}");
    let (status, e) = s
        .install_over_http("bottlecrm", json!({ "url": "", "secret": server.token }))
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["fields"][0]["field"], "url", "{e}");
    let (status, v) = s
        .install_over_http(
            "bottlecrm",
            json!({ "url": server.url, "secret": server.token }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["outcome"], "connected", "{v}");
    let name: String = sqlx::query_scalar("SELECT account_name FROM connections")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(name, "Tandem Test (BottleCRM)");
}

#[sqlx::test]
async fn contacts_pair_create_change_and_delete_both_ways(pool: PgPool) {
    let s = stack(pool).await;
    let server = Server::start();
    server
        .create(
            "contacts",
            json!({ "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com" }),
        )
        .await;
    let bo = server
        .create(
            "contacts",
            json!({ "first_name": "Bo", "last_name": "Ray", "email": "bo@example.com" }),
        )
        .await;
    hub_person(&s, "ann@example.com", "Annie").await;
    hub_person(&s, "cy@example.com", "Cy").await;
    let connection = connect(&s, &server).await;
    let sync = s
        .create_sync(&two_way(connection, "contacts", "contacts"))
        .await;
    let view = s.run_initial(sync.id).await;
    assert_eq!(view.counts.failed, 0, "{view:?}");
    assert_eq!(
        server.contact_emails().await,
        ["ann@example.com", "bo@example.com", "cy@example.com"]
    );
    assert_eq!(s.hub_all(ObjectType::Contacts).await.len(), 3);

    // BottleCRM → hub: an edit, found by comparing the listing (no change feed there).
    server
        .patch("contacts", &bo, json!({ "title": "CTO" }))
        .await;
    s.pick_up_changes().await;
    s.settle(sync.id).await;
    let hub_bo = s.hub_by_email("bo@example.com").await.unwrap();
    assert_eq!(hub_bo.properties["jobtitle"].as_str(), "CTO");

    // Hub → BottleCRM: an edit.
    let hub_ann = s.hub_by_email("ann@example.com").await.unwrap();
    s.hub_update(
        ObjectType::Contacts,
        hub_ann.id,
        json!({ "phone": "+39 055 123" }),
    )
    .await;
    s.pick_up_changes().await;
    let (_, list) = server
        .call(
            reqwest::Method::GET,
            "/api/contacts/?email=ann@example.com",
            None,
        )
        .await;
    assert_eq!(list["results"][0]["phone"], "+39 055 123", "{list}");

    // A contact made in both at once: BottleCRM refuses the hub's create (its emails are
    // unique), and the sync pairs the two instead of failing.
    server
        .create(
            "contacts",
            json!({ "first_name": "Di", "last_name": "Twice", "email": "DI@example.com" }),
        )
        .await;
    hub_person(&s, "di@example.com", "Di").await;
    s.enqueue("hub_changes", sync.id).await;
    s.settle(sync.id).await;
    assert_eq!(s.counts(sync.id).await.failed, 0);
    assert_eq!(
        server.contact_emails().await,
        [
            "ann@example.com",
            "bo@example.com",
            "cy@example.com",
            "di@example.com"
        ]
    );

    // Deleted in BottleCRM (for good): archived in the hub; archived in the hub: deleted there.
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("/api/contacts/{bo}/"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    s.pick_up_changes().await;
    s.settle(sync.id).await;
    assert!(s.hub_by_email("bo@example.com").await.is_none());
    let hub_cy = s.hub_by_email("cy@example.com").await.unwrap();
    records::set_archived(
        s.pool(),
        s.admin.portal_id,
        ObjectType::Contacts,
        hub_cy.id,
        true,
        &tandem::hub::WriteOrigin::System,
    )
    .await
    .unwrap();
    s.pick_up_changes().await;
    assert_eq!(
        server.contact_emails().await,
        ["ann@example.com", "di@example.com"]
    );
    // The hub has the same three as BottleCRM: nothing was duplicated by the comparisons.
    assert_eq!(s.hub_all(ObjectType::Contacts).await.len(), 2);
}

#[sqlx::test]
async fn accounts_and_opportunities_sync_with_their_stages(pool: PgPool) {
    let s = stack(pool).await;
    let server = Server::start();
    let acme = server.create("accounts", json!({ "name": "Acme" })).await;
    server
        .create(
            "opportunities",
            json!({ "name": "Big one", "amount": "5000", "stage": "QUALIFICATION", "account": acme }),
        )
        .await;
    let connection = connect(&s, &server).await;
    let companies = s
        .create_sync(&two_way(connection, "accounts", "companies"))
        .await;
    s.run_initial(companies.id).await;
    let hub_companies = s.hub_all(ObjectType::Companies).await;
    assert_eq!(hub_companies.len(), 1);
    assert_eq!(hub_companies[0].properties["name"].as_str(), "Acme");

    let (_, v) = server
        .call(reqwest::Method::GET, "/api/opportunities/pipelines/", None)
        .await;
    let pipeline = v["pipelines"][0]["id"].as_str().unwrap().to_string();
    let mut input = two_way(connection, "opportunities", "deals");
    input.stage_pairs = [
        ("appointmentscheduled", "PROSPECTING"),
        ("qualifiedtobuy", "QUALIFICATION"),
        ("contractsent", "PROPOSAL"),
        ("decisionmakerboughtin", "NEGOTIATION"),
        ("closedwon", "CLOSED_WON"),
        ("closedlost", "CLOSED_LOST"),
    ]
    .iter()
    .map(|(hub, app)| tandem::model::StagePairInput {
        hub_pipeline: "default".into(),
        hub_stage: hub.to_string(),
        app_pipeline: pipeline.clone(),
        app_stage: app.to_string(),
    })
    .collect();
    let deals = s.create_sync(&input).await;
    let view = s.run_initial(deals.id).await;
    assert_eq!(view.counts.failed, 0, "{view:?}");
    let hub_deals = s.hub_all(ObjectType::Deals).await;
    assert_eq!(hub_deals.len(), 1);
    assert_eq!(
        hub_deals[0].properties["dealstage"].as_str(),
        "qualifiedtobuy"
    );

    // A deal made in the hub reaches BottleCRM in the paired stage.
    s.hub_create(
        ObjectType::Deals,
        json!({ "dealname": "From the hub", "pipeline": "default", "dealstage": "contractsent", "amount": "900" }),
    )
    .await;
    s.pick_up_changes().await;
    let (_, list) = server
        .call(reqwest::Method::GET, "/api/opportunities/?limit=10", None)
        .await;
    let made = list["opportunities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "From the hub")
        .cloned()
        .unwrap_or_else(|| panic!("not in BottleCRM: {list}"));
    assert_eq!(made["stage"], "PROPOSAL", "{made}");

    // BottleCRM refuses a won deal without its amount: the deal fails alone, with
    // BottleCRM's reason on it.
    let won = s
        .hub_create(
            ObjectType::Deals,
            json!({ "dealname": "Won, unpriced", "pipeline": "default", "dealstage": "closedwon" }),
        )
        .await;
    s.pick_up_changes().await;
    let failed = s
        .records_in_state(deals.id, tandem::model::RecordState::Failed)
        .await;
    assert_eq!(failed.rows.len(), 1, "{failed:?}");
    assert_eq!(failed.rows[0].hub_id, Some(won.id));
    let message = failed.rows[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("amount") && message.contains("won deal"),
        "BottleCRM's own reason: {message}"
    );
}

#[sqlx::test]
async fn signed_webhooks_wake_the_sync_and_the_comparison_catches_a_missed_one(pool: PgPool) {
    let s = stack(pool).await;
    let server = Server::start();
    let connection = connect(&s, &server).await;
    let sync = s
        .create_sync(&two_way(connection, "contacts", "contacts"))
        .await;
    s.run_initial(sync.id).await;
    // A personal access token may not manage webhooks there: the signed-in session does,
    // as an administrator would in BottleCRM's settings, with Tandem's URL for it.
    let target = format!("{}/webhooks/{connection}", s.tandem_url);
    let (status, hook) = server
        .call_as(
            &server.jwt,
            reqwest::Method::POST,
            "/api/webhooks/",
            Some(
                json!({ "url": target, "description": "Tandem", "format": "json",
                "events": ["contact.created", "contact.updated", "contact.deleted"] }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    tandem::platform::connections::set_webhook(
        s.pool(),
        &s.state.secret_key,
        connection,
        Some(&hook["id"].to_string()),
        Some(hook["secret"].as_str().unwrap()),
    )
    .await
    .unwrap();

    server
        .create(
            "contacts",
            json!({ "first_name": "Hook", "last_name": "Ed", "email": "hook@example.com" }),
        )
        .await;
    let deliveries = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM webhook_deliveries WHERE connection_id = $1",
        )
        .bind(connection)
        .fetch_one(s.pool())
        .await
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries().await == 0 {
        assert!(Instant::now() < deadline, "no signed delivery was taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.settle(sync.id).await;
    assert!(
        s.hub_by_email("hook@example.com").await.is_some(),
        "the notice woke the sync"
    );

    // Forged and stale deliveries are refused.
    let body = br#"{"id":"x","event":"contact.created","data":{"id":"y"}}"#;
    let now = chrono::Utc::now().timestamp();
    for header in [
        format!(
            "t={now},v1={}",
            tandem::connectors::webhook::sign("not-the-secret", now, body)
        ),
        format!(
            "t={},v1={}",
            now - 900,
            tandem::connectors::webhook::sign(hook["secret"].as_str().unwrap(), now - 900, body)
        ),
    ] {
        let res = reqwest::Client::new()
            .post(&target)
            .header("x-bottlecrm-signature", header)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
    }

    // A change whose webhook never arrives (the endpoint removed there) is found by the
    // comparison of the next poll.
    let (status, _) = server
        .call_as(
            &server.jwt,
            reqwest::Method::DELETE,
            &format!("/api/webhooks/{}/", hook["id"].as_str().unwrap_or_default()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let before = deliveries().await;
    server
        .create(
            "contacts",
            json!({ "first_name": "Quiet", "last_name": "Ly", "email": "quiet@example.com" }),
        )
        .await;
    assert_eq!(deliveries().await, before, "no webhook for this one");
    s.pick_up_changes().await;
    s.settle(sync.id).await;
    assert!(s.hub_by_email("quiet@example.com").await.is_some());
}

#[sqlx::test]
async fn a_worker_killed_during_the_initial_sync_converges_without_duplicates(pool: PgPool) {
    let s = stack(pool).await;
    let server = Server::start();
    for i in 0..300 {
        server
            .create(
                "contacts",
                json!({ "first_name": "App", "last_name": format!("P{i}"), "email": format!("app-{i}@example.com") }),
            )
            .await;
    }
    // 200 hub contacts: 100 pair by email, 100 are created in BottleCRM (its creates are
    // not idempotent: one resent after the kill is matched by its email, not doubled).
    for i in 0..200 {
        let email = if i < 100 {
            format!("app-{i}@example.com")
        } else {
            format!("hub-{i}@example.com")
        };
        hub_person(&s, &email, "Hub").await;
    }
    let connection = connect(&s, &server).await;
    let sync = s
        .create_sync(&two_way(connection, "contacts", "contacts"))
        .await;
    s.initial_sync_through_a_kill(sync.id, 40).await;

    let app = server.contact_emails().await;
    let mut unique = app.clone();
    unique.dedup();
    assert_eq!(unique.len(), app.len(), "no duplicate in BottleCRM");
    assert_eq!(app.len(), 400);
    let mut hub: Vec<String> = s
        .hub_all(ObjectType::Contacts)
        .await
        .iter()
        .filter_map(|r| r.properties.get("email").cloned())
        .collect();
    hub.sort();
    assert_eq!(hub, app);
}
