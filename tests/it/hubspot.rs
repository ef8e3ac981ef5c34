//! The HubSpot connector against the HubSpot-wire server (tests/support/hubspot_wire: a
//! stateful server following HubSpot's public CRM v3 documentation, one process per
//! test), and against another Tandem hub through Tandem's own `/api/crm/v3`.

use crate::engine_common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tandem::hub::records;
use tandem::model::crm::ObjectType;
use tandem::model::{CredentialInput, CredentialInstall, SyncInput};
use tandem::platform::install;
use uuid::Uuid;

const TOKEN: &str = "pat-eu1-tandem-test-token";

/// A HubSpot portal: a `hubspot-wire` process of its own.
struct Portal {
    url: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Portal {
    fn start() -> Portal {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hubspot-wire"))
            .args(["--addr", "127.0.0.1:0", "--token", TOKEN])
            .args([
                "--client-id",
                HUBSPOT_CLIENT.0,
                "--client-secret",
                HUBSPOT_CLIENT.1,
            ])
            .args(["--rate-max", &HUBSPOT_RATE.0.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hubspot-wire");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("hubspot-wire says where it listens");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Portal {
            url,
            child,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("hubspot-wire answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, object: &str, properties: Value) -> String {
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                &format!("/crm/v3/objects/{object}"),
                Some(json!({ "properties": properties })),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    async fn update(&self, object: &str, id: &str, properties: Value) {
        let (status, v) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/crm/v3/objects/{object}/{id}"),
                Some(json!({ "properties": properties })),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    /// Every live record of an object, through the listing.
    async fn all(&self, object: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let (status, v) = self
                .call(
                    reqwest::Method::GET,
                    &format!(
                        "/crm/v3/objects/{object}?limit=100{after}&properties=email,firstname,lastname,name,domain,dealname,jobtitle&associations=companies"
                    ),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{v}");
            out.extend(v["results"].as_array().unwrap().iter().cloned());
            match v["paging"]["next"]["after"].as_str() {
                Some(a) => after = format!("&after={a}"),
                None => return out,
            }
        }
    }

    async fn emails(&self) -> Vec<String> {
        let mut emails: Vec<String> = self
            .all("contacts")
            .await
            .iter()
            .filter_map(|c| c["properties"]["email"].as_str().map(str::to_string))
            .collect();
        emails.sort();
        emails
    }

    async fn wire(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self
            .http
            .request(method, format!("{}/_wire/{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("hubspot-wire control");
        assert!(res.status().is_success(), "/_wire/{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    async fn stats(&self) -> Value {
        self.wire(reqwest::Method::GET, "stats", Value::Null).await
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Installs the portal with its private-app token, as the Marketplace form does.
async fn connect(s: &Stack, url: &str, token: &str) -> Uuid {
    let input = CredentialInput {
        url: url.into(),
        secret: token.into(),
        ..Default::default()
    };
    match install::install_with_credentials(&s.state, &s.admin, "hubspot", &input)
        .await
        .expect("the install succeeds")
    {
        CredentialInstall::Connected { connection_id, .. } => connection_id,
        other => panic!("expected a connection, got {other:?}"),
    }
}

fn two_way(connection: Uuid, object: &str) -> SyncInput {
    let mut input = SyncInput::new(connection, object, object);
    input.propagate_deletes = true;
    input.sync_associations = true;
    input
}

#[sqlx::test]
async fn installing_with_a_private_app_token_checks_it_first(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    let (status, e) = s
        .install_over_http(
            "hubspot",
            json!({ "url": portal.url, "secret": "pat-wrong" }),
        )
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["fields"][0]["field"], "secret", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("refused this access token"),
        "{e}"
    );
    let (status, e) = s
        .install_over_http("hubspot", json!({ "url": portal.url, "secret": "" }))
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["fields"][0]["field"], "secret", "{e}");
    let (status, e) = s
        .install_over_http(
            "hubspot",
            json!({ "url": "http://127.0.0.1:9", "secret": TOKEN }),
        )
        .await;
    assert_eq!(status, 502, "an unreachable API: {e}");
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM connections")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(none, 0, "nothing stored for refused installs");

    let (status, v) = s
        .install_over_http("hubspot", json!({ "url": portal.url, "secret": TOKEN }))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["outcome"], "connected", "{v}");
    let name: String = sqlx::query_scalar("SELECT account_name FROM connections")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert!(name.starts_with("HubSpot portal 62515"), "{name}");
}

/// The stack's state with its HubSpot app pointed at `portal` (its OAuth endpoints and
/// API), as an administrator configures `TANDEM_HUBSPOT_*`.
fn pointed_at(s: &Stack, portal: &Portal) -> tandem::platform::AppState {
    let mut config = (*s.state.config).clone();
    config.apps.hubspot.api_url = portal.url.clone();
    config.apps.hubspot.authorize_url = format!("{}/oauth/authorize", portal.url);
    config.apps.hubspot.token_url = format!("{}/oauth/v1/token", portal.url);
    tandem::platform::AppState {
        config: std::sync::Arc::new(config),
        ..s.state.clone()
    }
}

#[sqlx::test]
async fn signing_in_with_hubspot_installs_through_oauth_and_renews_the_token(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    let state = pointed_at(&s, &portal);
    let start = install::start(&state, &s.admin, "hubspot")
        .await
        .expect("the install starts");
    assert!(
        start
            .authorization_url
            .starts_with(&format!("{}/oauth/authorize?", portal.url)),
        "{}",
        start.authorization_url
    );
    // The portal's user consents at once: HubSpot sends the browser back with a code.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&start.authorization_url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let param = |k: &str| {
        back.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let done = install::complete(
        &state,
        Some(&s.admin),
        install::CallbackParams {
            code: param("code"),
            state: param("state"),
            error: param("error"),
            error_description: param("error_description"),
        },
    )
    .await
    .unwrap_or_else(|f| panic!("install failed: {} {}", f.title, f.message));
    let (name, kind): (String, String) =
        sqlx::query_as("SELECT account_name, credential_kind FROM connections WHERE id = $1")
            .bind(done.connection_id)
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert!(name.starts_with("HubSpot portal 62515"), "{name}");
    assert_eq!(kind, "oauth2");
    // HubSpot's webhooks come to this connection's URL, signed with the client secret.
    assert!(
        tandem::platform::connections::webhook_subscription(s.pool(), done.connection_id)
            .await
            .unwrap()
            .is_some()
    );

    // The access token expires (HubSpot's last 30 minutes): the connector renews it with
    // the refresh token and goes on.
    let def = tandem::connectors::app_definition(&state.config.apps, "hubspot").unwrap();
    let connector = tandem::platform::connections::connector_for(
        s.pool(),
        &s.state.secret_key,
        &def,
        done.connection_id,
    )
    .await
    .unwrap();
    portal
        .create("contacts", json!({ "email": "oauth@example.com" }))
        .await;
    portal
        .wire(reqwest::Method::POST, "oauth/expire", json!({}))
        .await;
    let page = connector
        .list("contacts", None, 10)
        .await
        .expect("a renewed token");
    assert_eq!(page.records.len(), 1);
}

#[sqlx::test]
async fn contacts_and_companies_pair_create_and_change_both_ways(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    let acme = portal
        .create(
            "companies",
            json!({ "name": "Acme", "domain": "acme.example" }),
        )
        .await;
    let ann = portal
        .create(
            "contacts",
            json!({ "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee" }),
        )
        .await;
    let (status, v) = portal
        .call(
            reqwest::Method::PUT,
            &format!("/crm/v4/objects/contacts/{ann}/associations/default/companies/{acme}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let bo = portal
        .create(
            "contacts",
            json!({ "email": "bo@example.com", "firstname": "Bo" }),
        )
        .await;
    s.hub_contact("ann@example.com", "Annie").await;
    s.hub_contact("cy@example.com", "Cy").await;

    let connection = connect(&s, &portal.url, TOKEN).await;
    let companies = s.create_sync(&two_way(connection, "companies")).await;
    s.run_initial(companies.id).await;
    let contacts = s.create_sync(&two_way(connection, "contacts")).await;
    let view = s.run_initial(contacts.id).await;
    assert_eq!(view.counts.syncing, 3, "{view:?}");
    assert_eq!(view.counts.failed, 0, "{view:?}");

    assert_eq!(
        portal.emails().await,
        ["ann@example.com", "bo@example.com", "cy@example.com"],
        "cy was created in HubSpot, ann paired by email (no duplicate)"
    );
    let hub_ann = s.hub_by_email("ann@example.com").await.unwrap();
    let companies_of_ann = tandem::hub::associations::all_ids(
        s.pool(),
        s.admin.portal_id,
        (ObjectType::Contacts, hub_ann.id),
        ObjectType::Companies,
    )
    .await
    .unwrap();
    assert_eq!(companies_of_ann.len(), 1, "the association came to the hub");
    assert!(s.hub_by_email("bo@example.com").await.is_some());

    // HubSpot → hub: an edit, found by the search on lastmodifieddate.
    portal
        .update("contacts", &bo, json!({ "lastname": "Ray" }))
        .await;
    s.pick_up_changes().await;
    s.settle(contacts.id).await;
    let hub_bo = s.hub_by_email("bo@example.com").await.unwrap();
    assert_eq!(hub_bo.properties["lastname"].as_str(), "Ray");

    // Hub → HubSpot: an edit.
    s.hub_update(
        ObjectType::Contacts,
        hub_ann.id,
        json!({ "jobtitle": "CTO" }),
    )
    .await;
    s.pick_up_changes().await;
    let (_, v) = portal
        .call(
            reqwest::Method::GET,
            &format!("/crm/v3/objects/contacts/{ann}?properties=jobtitle"),
            None,
        )
        .await;
    assert_eq!(v["properties"]["jobtitle"], "CTO", "{v}");

    // Deleted (archived) in HubSpot: archived in the hub; archived in the hub: deleted there.
    let (status, _) = portal
        .call(
            reqwest::Method::DELETE,
            &format!("/crm/v3/objects/contacts/{bo}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    s.pick_up_changes().await;
    s.settle(contacts.id).await;
    assert!(
        s.hub_by_email("bo@example.com").await.is_none(),
        "bo archived in the hub"
    );
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
    assert_eq!(portal.emails().await, ["ann@example.com"]);
    assert_eq!(portal.stats().await["rate_limited"], 0);
}

/// HubSpot's deal stages, which the hub's default pipeline shares.
const STAGES: [&str; 7] = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
];

#[sqlx::test]
async fn deals_keep_their_stage_and_associations_both_ways(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    let acme = portal
        .create(
            "companies",
            json!({ "name": "Acme", "domain": "acme.example" }),
        )
        .await;
    let big = portal
        .create(
            "deals",
            json!({ "dealname": "Big one", "amount": "5000", "pipeline": "default",
                    "dealstage": "qualifiedtobuy" }),
        )
        .await;
    let (status, v) = portal
        .call(
            reqwest::Method::PUT,
            &format!("/crm/v4/objects/deals/{big}/associations/default/companies/{acme}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let connection = connect(&s, &portal.url, TOKEN).await;
    let companies = s.create_sync(&two_way(connection, "companies")).await;
    s.run_initial(companies.id).await;
    let mut input = two_way(connection, "deals");
    input.stage_pairs = STAGES
        .iter()
        .map(|stage| tandem::model::StagePairInput {
            hub_pipeline: "default".into(),
            hub_stage: stage.to_string(),
            app_pipeline: "default".into(),
            app_stage: stage.to_string(),
        })
        .collect();
    let deals = s.create_sync(&input).await;
    let view = s.run_initial(deals.id).await;
    assert_eq!(view.counts.failed, 0, "{view:?}");

    let hub_deals = s.hub_all(ObjectType::Deals).await;
    assert_eq!(hub_deals.len(), 1);
    let deal = &hub_deals[0];
    assert_eq!(deal.properties["dealstage"].as_str(), "qualifiedtobuy");
    assert_eq!(deal.properties["amount"].as_str(), "5000");
    let deal_companies = tandem::hub::associations::all_ids(
        s.pool(),
        s.admin.portal_id,
        (ObjectType::Deals, deal.id),
        ObjectType::Companies,
    )
    .await
    .unwrap();
    assert_eq!(deal_companies.len(), 1, "the deal's company came along");

    // The stage moves in the hub: HubSpot's deal follows.
    s.hub_update(
        ObjectType::Deals,
        deal.id,
        json!({ "dealstage": "closedwon" }),
    )
    .await;
    s.pick_up_changes().await;
    let (_, v) = portal
        .call(
            reqwest::Method::GET,
            &format!("/crm/v3/objects/deals/{big}?properties=dealstage"),
            None,
        )
        .await;
    assert_eq!(v["properties"]["dealstage"], "closedwon", "{v}");
}

#[sqlx::test]
async fn a_record_hubspot_refuses_fails_alone_with_its_reason(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    s.hub_contact("good@example.com", "Good").await;
    // An address the hub takes (RFC 5322 allows a quoted local part) and HubSpot does not.
    let bad = s.hub_contact(r#""odd@home"@example.com"#, "Odd").await;
    let connection = connect(&s, &portal.url, TOKEN).await;
    let mut input = two_way(connection, "contacts");
    input.sync_associations = false;
    let sync = s.create_sync(&input).await;
    let view = s.run_initial(sync.id).await;
    assert_eq!(portal.emails().await, ["good@example.com"], "{view:?}");
    let failed = s
        .records_in_state(sync.id, tandem::model::RecordState::Failed)
        .await;
    assert_eq!(failed.rows.len(), 1, "{failed:?}");
    let row = &failed.rows[0];
    assert_eq!(row.hub_id, Some(bad.id));
    let message = row.message.clone().unwrap_or_default();
    assert!(
        message.contains("odd@home") && message.contains("invalid"),
        "HubSpot's own reason is shown: {row:?}"
    );
}

#[sqlx::test]
async fn twenty_five_thousand_contacts_modified_in_one_minute_all_sync(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    let connection = connect(&s, &portal.url, TOKEN).await;
    let mut input = two_way(connection, "contacts");
    input.sync_associations = false;
    let sync = s.create_sync(&input).await;
    s.run_initial(sync.id).await;

    // 25,000 contacts modified within the last minute, and 10,500 more that share one
    // millisecond: twice past search's 10,000 results, once inside a single date.
    let now = now_ms();
    portal
        .wire(
            reqwest::Method::POST,
            "seed",
            json!({ "object": "contacts", "count": 25_000, "modified_from_ms": now - 60_000,
                    "modified_span_ms": 60_000, "prefix": "minute" }),
        )
        .await;
    portal
        .wire(
            reqwest::Method::POST,
            "seed",
            json!({ "object": "contacts", "count": 10_500, "modified_from_ms": now - 30_000,
                    "modified_span_ms": 0, "prefix": "same-ms" }),
        )
        .await;
    // The sync follows changes from before that minute.
    let cursor = json!({ "from": now - 61_000 }).to_string();
    sqlx::query("UPDATE syncs SET app_feed_cursor = $2 WHERE id = $1")
        .bind(sync.id)
        .bind(&cursor)
        .execute(s.pool())
        .await
        .unwrap();
    s.pick_up_changes().await;
    s.settle(sync.id).await;

    let hub: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT lower(properties->>'email')) FROM hub_records
          WHERE portal_id = $1 AND object = 'contacts' AND archived_at IS NULL",
    )
    .bind(s.admin.portal_id)
    .fetch_one(s.pool())
    .await
    .unwrap();
    let stats = portal.stats().await;
    assert_eq!(
        hub,
        35_500,
        "every contact came, none skipped at the boundaries: {:?} {stats}",
        s.status(sync.id).await
    );
    assert_eq!(stats["rate_limited"], 0, "{stats}");
    assert!(stats["search_requests"].as_u64().unwrap() < 300, "{stats}");
}

#[sqlx::test]
async fn a_worker_killed_during_the_initial_sync_converges_without_duplicates(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    portal
        .wire(
            reqwest::Method::POST,
            "seed",
            json!({ "object": "contacts", "count": 1_500, "modified_from_ms": now_ms() - 60_000,
                    "modified_span_ms": 60_000, "prefix": "app" }),
        )
        .await;
    // 600 hub contacts: 300 pair with HubSpot's by email, 300 are created there (HubSpot's
    // creates are not idempotent: a create resent after the kill must not duplicate).
    for i in 0..600 {
        // Seeded contacts are named by their ids, which start at 1.
        let email = if i < 300 {
            format!("app-{}@example.com", i + 1)
        } else {
            format!("hub-{i}@example.com")
        };
        s.hub_contact(&email, "Hub").await;
    }
    let connection = connect(&s, &portal.url, TOKEN).await;
    let mut input = two_way(connection, "contacts");
    input.sync_associations = false;
    let sync = s.create_sync(&input).await;

    s.initial_sync_through_a_kill(sync.id, 40).await;

    let app = portal.emails().await;
    let mut unique = app.clone();
    unique.dedup();
    assert_eq!(unique.len(), app.len(), "no duplicate in HubSpot");
    assert_eq!(
        app.len(),
        1_800,
        "HubSpot's 1,500 and the hub's 300 new ones"
    );
    let mut hub: Vec<String> = s
        .hub_all(ObjectType::Contacts)
        .await
        .iter()
        .filter_map(|r| r.properties.get("email").cloned())
        .collect();
    hub.sort();
    assert_eq!(hub, app, "both sides hold the same contacts");
}

#[sqlx::test]
async fn signed_webhook_batches_are_taken_and_forged_ones_refused(pool: PgPool) {
    let s = stack(pool).await;
    let portal = Portal::start();
    let connection = connect(&s, &portal.url, TOKEN).await;
    let mut input = two_way(connection, "contacts");
    input.sync_associations = false;
    let sync = s.create_sync(&input).await;
    s.run_initial(sync.id).await;
    // What an OAuth install records: HubSpot's webhooks come to this connection's URL.
    tandem::platform::connections::set_webhook(
        s.pool(),
        &s.state.secret_key,
        connection,
        Some("hubspot-app-settings"),
        Some("unused: HubSpot signs with the client secret"),
    )
    .await
    .unwrap();
    let target = format!("{}/webhooks/{connection}", s.tandem_url);
    portal
        .wire(
            reqwest::Method::POST,
            "webhooks",
            json!({ "target_url": target, "enabled": true }),
        )
        .await;
    portal
        .create(
            "contacts",
            json!({ "email": "hook@example.com", "firstname": "Hook" }),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE connection_id = $1")
                .bind(connection)
                .fetch_one(s.pool())
                .await
                .unwrap();
        if n > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no delivery was taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.settle(sync.id).await;
    assert!(
        s.hub_by_email("hook@example.com").await.is_some(),
        "the notice woke the sync"
    );

    let body = br#"[{"eventId":1,"subscriptionType":"contact.creation","objectId":1}]"#;
    let ts = now_ms();
    for (signature, timestamp) in [
        (
            tandem::connectors::hubspot::notices::sign("wrong", "POST", &target, body, ts),
            ts,
        ),
        (
            tandem::connectors::hubspot::notices::sign(
                HUBSPOT_CLIENT.1,
                "POST",
                &target,
                body,
                ts - 600_000,
            ),
            ts - 600_000,
        ),
    ] {
        let res = reqwest::Client::new()
            .post(&target)
            .header("x-hubspot-signature-v3", signature)
            .header("x-hubspot-request-timestamp", timestamp.to_string())
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status().as_u16(),
            401,
            "a forged or stale delivery is refused"
        );
    }
}

#[sqlx::test]
async fn one_tandem_hub_syncs_with_another_through_its_rest_api(pool: PgPool) {
    let s = stack(pool).await;
    // The other hub: a second portal of the same server, reached over its REST API.
    let other = tandem::platform::portals::ensure(s.pool(), "remote", "Remote hub")
        .await
        .unwrap();
    let other_admin = tandem::platform::users::create(
        s.pool(),
        other,
        tandem::platform::users::NewUser {
            email: "remote@example.com".into(),
            name: "Remote".into(),
            password: "correct horse battery".into(),
            role: tandem::model::Role::SuperAdmin,
        },
    )
    .await
    .unwrap();
    let token = tandem::platform::tokens::create(s.pool(), other, other_admin, "sync")
        .await
        .unwrap()
        .secret;
    let api = format!("{}/api", s.tandem_url);
    let remote = |path: &str| format!("{api}{path}");
    let http = reqwest::Client::new();
    let res = http
        .post(remote("/crm/v3/objects/contacts"))
        .bearer_auth(&token)
        .json(&json!({ "properties": { "email": "far@example.com", "firstname": "Far" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    s.hub_contact("near@example.com", "Near").await;

    let connection = connect(&s, &api, &token).await;
    let mut input = two_way(connection, "contacts");
    input.sync_associations = false;
    let sync = s.create_sync(&input).await;
    s.run_initial(sync.id).await;
    assert!(
        s.hub_by_email("far@example.com").await.is_some(),
        "remote → this hub"
    );
    let found: Value = http
        .get(remote(
            "/crm/v3/objects/contacts/near@example.com?idProperty=email",
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["properties"]["firstname"], "Near",
        "this hub → remote: {found}"
    );

    // A change in the remote hub comes over its search on lastmodifieddate.
    let id = found["id"].as_str().unwrap();
    let res = http
        .patch(remote(&format!("/crm/v3/objects/contacts/{id}")))
        .bearer_auth(&token)
        .json(&json!({ "properties": { "lastname": "Away" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    s.pick_up_changes().await;
    s.settle(sync.id).await;
    let near = s.hub_by_email("near@example.com").await.unwrap();
    assert_eq!(near.properties["lastname"].as_str(), "Away");
}
