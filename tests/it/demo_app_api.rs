//! The demo app's REST API through real HTTP and a real Postgres: batch writes with
//! per-item validation, idempotent creates, search, associations, pipelines, schema,
//! the change feed with tombstones, email events, tenant isolation, seeding and the UI.

use crate::demo_app_common::*;
use http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashSet;
use tandem::demo_app::seed::SeedOptions;

fn ids(results: &Value) -> Vec<String> {
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn batch_writes_validate_each_item_like_a_real_app(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let results = demo
        .batch(
            &token,
            "contacts",
            json!([
                {"properties": {"email": "ann@example.com", "first_name": "Ann", "lifecycle_stage": "lead"}},
                {"properties": {"email": "not-an-email", "last_name": "X"}},
                {"properties": {"first_name": "Nobody"}},
                {"properties": {"email": "b@example.com", "created_at": "2020-01-01T00:00:00Z"}},
                {"properties": {"email": "c@example.com", "favourite_colour": "green"}},
                {"id": "999999", "properties": {"first_name": "Ghost"}},
                {"properties": {"email": "d@example.com", "lifecycle_stage": "prospect"}},
                {"properties": "not an object"},
                {"properties": {"last_name": "Ødegaard", "first_name": "Zoë"}}
            ]),
        )
        .await;
    assert_eq!(results.len(), 9);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(results[0]["status"], "created");
    let ann = &results[0]["record"];
    assert!(ann["id"].is_string());
    assert_eq!(ann["properties"]["email"], "ann@example.com");
    assert!(
        ann["properties"]["created_at"].is_string(),
        "created_at is a read-only property"
    );
    assert_eq!(ann["archived"], false);
    assert!(ann["associations"]["companies"]
        .as_array()
        .unwrap()
        .is_empty());

    let expect = |i: usize, code: &str, field: Option<&str>| {
        let r = &results[i];
        assert_eq!(r["status"], "error", "item {i}: {r}");
        assert_eq!(r["error"]["code"], code, "item {i}: {r}");
        if let Some(f) = field {
            assert_eq!(r["error"]["field"], f, "item {i}: {r}");
        }
        assert!(
            r["error"]["message"].as_str().unwrap().len() > 10,
            "item {i} has a readable message"
        );
        assert!(r.get("record").is_none());
    };
    expect(1, "validation", Some("email"));
    assert!(results[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not-an-email"));
    expect(2, "validation", Some("email"));
    expect(3, "read_only", Some("created_at"));
    expect(4, "validation", Some("favourite_colour"));
    expect(5, "not_found", Some("id"));
    expect(6, "validation", Some("lifecycle_stage"));
    expect(7, "validation", None);
    assert_eq!(results[8]["status"], "created");
    assert_eq!(results[8]["record"]["properties"]["last_name"], "Ødegaard");

    // Only the two valid contacts exist.
    let list = demo.get(&token, "/v1/contacts").await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 2);

    // Update: merged properties; clearing with null; an update that changes nothing is fine.
    let id = ann["id"].as_str().unwrap();
    let up = demo
        .batch(
            &token,
            "contacts",
            json!([{"id": id, "properties": {"phone": "+44 20 7946 0000", "first_name": null}}]),
        )
        .await;
    assert_eq!(up[0]["status"], "updated", "{}", up[0]);
    let props = &up[0]["record"]["properties"];
    assert_eq!(props["phone"], "+44 20 7946 0000");
    assert_eq!(props["email"], "ann@example.com");
    assert!(props.get("first_name").is_none());

    // Companies, deals and invoices validate too.
    let r = demo
        .batch(&token, "companies", json!([{"properties": {"domain": "x.io"}}, {"properties": {"name": "X", "employee_count": "lots"}}]))
        .await;
    assert_eq!(r[0]["error"]["field"], "name");
    assert_eq!(r[1]["error"]["field"], "employee_count");
    let r = demo
        .batch(&token, "invoices", json!([{"properties": {"invoice_number": "I-1", "total": "12.5", "status": "Paid", "due_date": "2026-02-30"}}]))
        .await;
    assert_eq!(r[0]["error"]["field"], "due_date");

    // Too many inputs is a request error.
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"properties": {"last_name": format!("n{i}")}}))
        .collect();
    let r = demo
        .post(&token, "/v1/contacts/batch", json!({ "inputs": many }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = demo
        .post(&token, "/v1/contacts/batch", json!({"nope": []}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "bad_request");
    let r = demo.get(&token, "/v1/widgets").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn creates_with_an_idempotency_key_happen_once(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let input = json!([{"properties": {"email": "once@example.com"}, "idempotency_key": "sync-42-contact-7"}]);
    let first = demo.batch(&token, "contacts", input.clone()).await;
    assert_eq!(first[0]["status"], "created");
    let id = first[0]["record"]["id"].as_str().unwrap().to_string();

    // A retry (e.g. after a timeout) returns the first record instead of a duplicate,
    // even when it races with another retry.
    let (a, b) = tokio::join!(
        demo.batch(&token, "contacts", input.clone()),
        demo.batch(&token, "contacts", input.clone())
    );
    for r in [&a[0], &b[0]] {
        assert_eq!(r["status"], "created");
        assert_eq!(r["record"]["id"], id.as_str());
        assert_eq!(r["replayed"], true);
    }
    // Twice in one batch: one record.
    let twice = demo
        .batch(
            &token,
            "contacts",
            json!([
                {"properties": {"email": "twin@example.com"}, "idempotency_key": "k2"},
                {"properties": {"email": "twin@example.com"}, "idempotency_key": "k2"}
            ]),
        )
        .await;
    assert_eq!(twice[0]["record"]["id"], twice[1]["record"]["id"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM records WHERE object = 'contacts'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 2);

    // The same key for another object is refused, not silently answered.
    let other = demo
        .batch(
            &token,
            "companies",
            json!([{"properties": {"name": "Acme"}, "idempotency_key": "sync-42-contact-7"}]),
        )
        .await;
    assert_eq!(other[0]["status"], "error");
    assert_eq!(other[0]["error"]["field"], "idempotency_key");

    // Keys are per account: another account may use the same one.
    let globex = demo.token("globex").await;
    let g = demo.batch(&globex, "contacts", input).await;
    assert_eq!(g[0]["status"], "created");
    assert_ne!(g[0]["record"]["id"], id.as_str());
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn search_compares_trimmed_and_case_insensitively(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let a = demo
        .create(
            &token,
            "contacts",
            json!({"email": "Mixed.Case@Example.COM", "first_name": "Mia", "last_name": "Ng"}),
        )
        .await;
    demo.create(&token, "contacts", json!({"email": "other@example.com"}))
        .await;
    let c1 = demo
        .create(
            &token,
            "companies",
            json!({"name": "Acme Corp", "domain": "acme.com"}),
        )
        .await;
    let c2 = demo
        .create(
            &token,
            "companies",
            json!({"name": "acme corp ", "domain": "acme-corp.io"}),
        )
        .await;

    let r = demo
        .get(
            &token,
            "/v1/contacts/search?email=%20mixed.case%40example.com%20",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r.body), vec![a.clone()]);
    let r = demo.get(&token, "/v1/contacts/search?name=mia%20ng").await;
    assert_eq!(ids(&r.body), vec![a]);
    let r = demo
        .get(&token, "/v1/companies/search?name=ACME%20CORP")
        .await;
    assert_eq!(ids(&r.body), vec![c1.clone(), c2]);
    let r = demo
        .get(&token, "/v1/companies/search?domain=ACME.com")
        .await;
    assert_eq!(ids(&r.body), vec![c1]);
    let r = demo
        .get(&token, "/v1/contacts/search?domain=acme.com")
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "contacts are searched by email or name"
    );
    let r = demo
        .get(&token, "/v1/contacts/search?email=nobody%40example.com")
        .await;
    assert!(r.body["results"].as_array().unwrap().is_empty());
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn associations_are_set_by_batch_and_by_put_and_delete(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let company = demo
        .create(&token, "companies", json!({"name": "Initech"}))
        .await;
    let results = demo
        .batch(
            &token,
            "contacts",
            json!([
                {"properties": {"email": "peter@initech.com"}, "associations": {"companies": [company]}},
                {"properties": {"email": "x@initech.com"}, "associations": {"companies": ["424242"]}},
                {"properties": {"email": "y@initech.com"}, "associations": {"invoices_and_more": []}}
            ]),
        )
        .await;
    assert_eq!(results[0]["status"], "created");
    let peter = results[0]["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        results[0]["record"]["associations"]["companies"],
        json!([company])
    );
    assert_eq!(results[1]["error"]["code"], "not_found");
    assert_eq!(results[1]["error"]["field"], "associations.companies");
    assert_eq!(results[2]["error"]["code"], "validation");

    // Readable from the other side too.
    let c = demo.get(&token, &format!("/v1/companies/{company}")).await;
    assert_eq!(c.body["associations"]["contacts"], json!([peter]));

    // A deal with company and contacts; an invoice with its contact.
    let pipelines = demo.get(&token, "/v1/pipelines").await;
    let stage = pipelines.body["results"][0]["stages"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deal = demo
        .batch(
            &token,
            "deals",
            json!([{"properties": {"title": "TPS licences", "value": 1200, "currency": "USD", "stage_id": stage},
                    "associations": {"companies": [company], "contacts": [peter]}}]),
        )
        .await;
    assert_eq!(deal[0]["status"], "created", "{}", deal[0]);
    let deal_id = deal[0]["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        deal[0]["record"]["properties"]["pipeline_id"], pipelines.body["results"][0]["id"],
        "the stage's pipeline is filled in"
    );

    // PUT / DELETE one association.
    let invoice = demo
        .create(
            &token,
            "invoices",
            json!({"invoice_number": "INV-1", "total": 99.5}),
        )
        .await;
    let put = demo
        .send_json(
            reqwest::Method::PUT,
            &token,
            &format!("/v1/invoices/{invoice}/associations/contacts/{peter}"),
            None,
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["associations"]["contacts"], json!([peter]));
    let p = demo.get(&token, &format!("/v1/contacts/{peter}")).await;
    assert_eq!(p.body["associations"]["invoices"], json!([invoice]));
    assert_eq!(p.body["associations"]["deals"], json!([deal_id]));
    let bad = demo
        .send_json(
            reqwest::Method::PUT,
            &token,
            &format!("/v1/invoices/{invoice}/associations/companies/{company}"),
            None,
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "invoices associate only with contacts"
    );
    let del = demo
        .send_json(
            reqwest::Method::DELETE,
            &token,
            &format!("/v1/contacts/{peter}/associations/companies/{company}"),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(del.body["associations"]["companies"], json!([]));

    // Batch associations replace the list for that object.
    let up = demo
        .batch(
            &token,
            "deals",
            json!([{"id": deal_id, "properties": {}, "associations": {"contacts": []}}]),
        )
        .await;
    assert_eq!(up[0]["record"]["associations"]["contacts"], json!([]));
    assert_eq!(
        up[0]["record"]["associations"]["companies"],
        json!([company])
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn pipelines_schema_and_deal_stages(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let p = demo.get(&token, "/v1/pipelines").await;
    let list = p.body["results"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["label"], "Sales Process");
    let labels: Vec<&str> = list[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "Appointment Set",
            "Qualified",
            "Presentation Given",
            "Decision Maker Bought In",
            "Contract Sent",
            "Won",
            "Lost"
        ]
    );
    assert_eq!(list[0]["stages"][2]["display_order"], 2);
    assert_eq!(list[1]["label"], "Renewals");
    let renewal_stage = list[1]["stages"][0]["id"].as_str().unwrap();
    let sales = list[0]["id"].as_str().unwrap();

    let r = demo
        .batch(&token, "deals", json!([{"properties": {"title": "Mismatch", "pipeline_id": sales, "stage_id": renewal_stage}}]))
        .await;
    assert_eq!(r[0]["error"]["field"], "stage_id");
    assert!(r[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a stage of pipeline"));

    let s = demo.get(&token, "/v1/schema/contacts").await;
    assert_eq!(s.status, StatusCode::OK);
    let fields = s.body["fields"].as_array().unwrap();
    let email = fields.iter().find(|f| f["name"] == "email").unwrap();
    assert_eq!(email["type"], "email");
    let stage = fields
        .iter()
        .find(|f| f["name"] == "lifecycle_stage")
        .unwrap();
    assert_eq!(stage["type"], "enumeration");
    assert_eq!(stage["options"][0]["value"], "subscriber");
    let s = demo.get(&token, "/v1/schema/deals").await;
    let stage = s.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "stage_id")
        .unwrap()
        .clone();
    assert_eq!(stage["required"], true);
    let s = demo.get(&token, "/v1/schema/invoices").await;
    let total = s.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "total")
        .unwrap()
        .clone();
    assert_eq!(
        (total["type"].as_str(), total["required"].as_bool()),
        (Some("number"), Some(true))
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn the_change_feed_orders_changes_and_keeps_tombstones(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let before = demo
        .create(&token, "contacts", json!({"email": "old@example.com"}))
        .await;
    let latest = demo.get(&token, "/v1/contacts/changes/latest").await;
    let from_now = latest.body["cursor"].as_str().unwrap().to_string();

    let a = demo
        .create(&token, "contacts", json!({"email": "a@example.com"}))
        .await;
    let b = demo
        .create(&token, "contacts", json!({"email": "b@example.com"}))
        .await;
    demo.create(&token, "companies", json!({"name": "Not a contact"}))
        .await;
    demo.batch(
        &token,
        "contacts",
        json!([{"id": a, "properties": {"first_name": "Al"}}]),
    )
    .await;
    // Writing what is already there changes nothing and is not a change.
    demo.batch(
        &token,
        "contacts",
        json!([{"id": b, "properties": {"email": "b@example.com"}}]),
    )
    .await;
    assert_eq!(
        demo.delete(&token, &format!("/v1/contacts/{b}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        demo.delete(&token, &format!("/v1/contacts/{b}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        demo.get(&token, &format!("/v1/contacts/{b}")).await.status,
        StatusCode::NOT_FOUND
    );

    let page = demo
        .get(&token, &format!("/v1/contacts/changes?cursor={from_now}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let results = page.body["results"].as_array().unwrap();
    let order: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        vec![a.as_str(), b.as_str()],
        "latest change of each record, in change order"
    );
    assert_eq!(results[0]["properties"]["first_name"], "Al");
    assert_eq!(
        results[1]["deleted"], true,
        "deleted records come as tombstones"
    );
    assert_eq!(results[1]["archived"], true);
    let next = page.body["next_cursor"].as_str().unwrap().to_string();

    // Nothing new: the same cursor comes back.
    let empty = demo
        .get(&token, &format!("/v1/contacts/changes?cursor={next}"))
        .await;
    assert!(empty.body["results"].as_array().unwrap().is_empty());
    assert_eq!(empty.body["next_cursor"], next.as_str());

    // From the beginning, everything including the record made before "latest".
    let all = demo.get(&token, "/v1/contacts/changes?limit=2").await;
    assert_eq!(ids(&all.body), vec![before.clone(), a.clone()]);
    let rest = demo
        .get(
            &token,
            &format!(
                "/v1/contacts/changes?cursor={}",
                all.body["next_cursor"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(ids(&rest.body), vec![b.clone()]);

    // The list skips deleted records and pages by id.
    let list = demo.get(&token, "/v1/contacts?limit=1").await;
    assert_eq!(ids(&list.body), vec![before]);
    let cursor = list.body["next_cursor"].as_str().unwrap().to_string();
    let list = demo
        .get(&token, &format!("/v1/contacts?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&list.body), vec![a.clone()]);
    assert!(list.body["next_cursor"].is_null());
    let since = demo
        .get(&token, "/v1/contacts?updated_since=2999-01-01T00:00:00Z")
        .await;
    assert!(since.body["results"].as_array().unwrap().is_empty());
    let bad = demo.get(&token, "/v1/contacts?cursor=garbage").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"], "invalid_cursor");
    let bad = demo
        .get(&token, &format!("/v1/contacts/changes?cursor={cursor}"))
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "a list cursor is not a change-feed cursor"
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn accounts_never_see_each_others_data(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let acme = demo.token("acme").await;
    let globex = demo.token("globex").await;
    let id = demo
        .create(&acme, "contacts", json!({"email": "secret@acme.com"}))
        .await;
    assert_eq!(
        demo.get(&globex, &format!("/v1/contacts/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(demo.get(&globex, "/v1/contacts").await.body["results"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(demo
        .get(&globex, "/v1/contacts/search?email=secret%40acme.com")
        .await
        .body["results"]
        .as_array()
        .unwrap()
        .is_empty());
    let up = demo
        .batch(
            &globex,
            "contacts",
            json!([{"id": id, "properties": {"first_name": "Hacked"}}]),
        )
        .await;
    assert_eq!(up[0]["error"]["code"], "not_found");
    assert_eq!(
        demo.delete(&globex, &format!("/v1/contacts/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        demo.get(&acme, &format!("/v1/contacts/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        demo.get(&globex, "/v1/me").await.body["account_name"],
        "globex"
    );
    let pipes_a = demo.get(&acme, "/v1/pipelines").await.body["results"][0]["id"].clone();
    let pipes_g = demo.get(&globex, "/v1/pipelines").await.body["results"][0]["id"].clone();
    assert_ne!(pipes_a, pipes_g, "each account has its own pipelines");
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn batch_reads_answer_live_records_and_name_the_missing(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let acme = demo.token("acme").await;
    let globex = demo.token("globex").await;
    let a = demo
        .create(&acme, "contacts", json!({"email": "a@acme.com"}))
        .await;
    let b = demo
        .create(&acme, "contacts", json!({"email": "b@acme.com"}))
        .await;
    let gone = demo
        .create(&acme, "contacts", json!({"email": "gone@acme.com"}))
        .await;
    demo.delete(&acme, &format!("/v1/contacts/{gone}")).await;
    let theirs = demo
        .create(&globex, "contacts", json!({"email": "g@globex.com"}))
        .await;
    let read = demo
        .post(
            &acme,
            "/v1/contacts/batch/read",
            json!({"ids": [b, a, gone, theirs, "not-a-number"]}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    assert_eq!(
        ids(&read.body),
        vec![a.clone(), b.clone()],
        "live records, in id order"
    );
    assert_eq!(read.body["results"][0]["properties"]["email"], "a@acme.com");
    assert_eq!(
        read.body["missing"],
        json!([gone, theirs, "not-a-number"]),
        "deleted, another account's and malformed ids are missing"
    );

    let empty = demo
        .post(&acme, "/v1/contacts/batch/read", json!({"ids": []}))
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let too_many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let big = demo
        .post(&acme, "/v1/contacts/batch/read", json!({ "ids": too_many }))
        .await;
    assert_eq!(big.status, StatusCode::BAD_REQUEST);
    assert!(
        big.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1 to 100"),
        "{:?}",
        big.body
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn email_events_come_as_a_feed(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let contact = demo
        .create(&token, "contacts", json!({"email": "reader@example.com"}))
        .await;

    let no_key = demo
        .http
        .post(format!("{}/admin/events", demo.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status().as_u16(), 401);
    let r = demo
        .admin(
            reqwest::Method::POST,
            "/admin/events",
            Some(json!({"contact_id": contact, "type": "email.opened", "properties": {"subject": "Hello"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    demo.admin(
        reqwest::Method::POST,
        "/admin/events",
        Some(json!({"contact_id": contact, "type": "email.clicked", "properties": {"subject": "Hello", "url": "https://x.example/p"}})),
    )
    .await;
    let bad = demo
        .admin(
            reqwest::Method::POST,
            "/admin/events",
            Some(json!({"contact_id": contact, "type": "email.bounced"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = demo
        .admin(
            reqwest::Method::POST,
            "/admin/events",
            Some(json!({"contact_id": "777777", "type": "email.opened"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let feed = demo.get(&token, "/v1/events?limit=1").await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let first = &feed.body["results"][0];
    assert_eq!(first["type"], "email.opened");
    assert_eq!(first["contact_id"], contact.as_str());
    assert_eq!(first["properties"]["subject"], "Hello");
    assert!(first["occurred_at"].is_string());
    let next = feed.body["next_cursor"].as_str().unwrap().to_string();
    let feed = demo.get(&token, &format!("/v1/events?cursor={next}")).await;
    assert_eq!(feed.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        feed.body["results"][0]["properties"]["url"],
        "https://x.example/p"
    );
    let last = feed.body["next_cursor"].as_str().unwrap().to_string();
    let feed = demo.get(&token, &format!("/v1/events?cursor={last}")).await;
    assert!(feed.body["results"].as_array().unwrap().is_empty());
    assert_eq!(feed.body["next_cursor"], last.as_str());
    let future = demo
        .get(&token, "/v1/events?since=2999-01-01T00:00:00Z")
        .await;
    assert!(future.body["results"].as_array().unwrap().is_empty());

    // Another account sees none of them.
    let globex = demo.token("globex").await;
    assert!(demo.get(&globex, "/v1/events").await.body["results"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn seeding_is_deterministic_messy_and_creates_the_login(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let opts = SeedOptions {
        account: "acme".into(),
        contacts: 600,
        companies: 80,
        deals: 50,
        invoices: 30,
        events: Some(40),
        if_empty: true,
    };
    let report = demo.seed(opts.clone()).await;
    assert!(report.seeded);
    assert_eq!(report.username, "acme-admin");
    assert_eq!(report.events, 40);

    let snapshot = |pool: PgPool| async move {
        let rows: Vec<(String, Value)> = sqlx::query_as(
            "SELECT r.object, r.properties FROM records r JOIN accounts a ON a.id = r.account_id
              WHERE a.name = 'acme' ORDER BY r.id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows
    };
    let first = snapshot(pool.clone()).await;
    assert_eq!(first.len(), 760);

    // --if-empty leaves a filled account alone.
    let again = demo.seed(opts.clone()).await;
    assert!(!again.seeded);
    assert_eq!(snapshot(pool.clone()).await.len(), 760);

    // Same account, same starting point → the same data (ids aside).
    sqlx::query("DELETE FROM records")
        .execute(&pool)
        .await
        .unwrap();
    demo.seed(opts).await;
    let pipelines: Vec<(i64,)> = sqlx::query_as("SELECT id FROM pipelines")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(pipelines.len(), 2, "pipelines are not duplicated");
    let second = snapshot(pool.clone()).await;
    let strip = |rows: &[(String, Value)]| -> Vec<(String, Value)> {
        rows.iter()
            .map(|(o, p)| {
                let mut p = p.clone();
                // Deals name their stage and pipeline by id, which differs per run only if
                // pipelines were recreated; they were not.
                if let Some(m) = p.as_object_mut() {
                    m.remove("close_date");
                    m.remove("due_date");
                }
                (o.clone(), p)
            })
            .collect()
    };
    assert_eq!(strip(&first), strip(&second));

    // Messy like real life.
    let contacts: Vec<Value> = first
        .iter()
        .filter(|(o, _)| o == "contacts")
        .map(|(_, p)| p.clone())
        .collect();
    let emails: Vec<&str> = contacts
        .iter()
        .filter_map(|p| p["email"].as_str())
        .collect();
    assert!(
        contacts.iter().any(|p| p.get("email").is_none()),
        "contacts without email"
    );
    assert!(
        emails
            .iter()
            .any(|e| !email_address::EmailAddress::is_valid(e.trim())),
        "invalid emails"
    );
    let mut normalised = HashSet::new();
    let dupes = emails
        .iter()
        .filter(|e| !normalised.insert(e.trim().to_lowercase()))
        .count();
    assert!(
        dupes > 5,
        "emails differing only by case or spaces: {dupes}"
    );
    assert!(emails
        .iter()
        .any(|e| e.trim() != *e || e.chars().any(|c| c.is_uppercase())));
    assert!(contacts
        .iter()
        .all(|p| p.get("email").is_some() || p.get("last_name").is_some()));
    assert!(
        contacts
            .iter()
            .any(|p| p["last_name"].as_str().is_some_and(|n| !n.is_ascii())),
        "unicode names"
    );
    let companies: Vec<&Value> = first
        .iter()
        .filter(|(o, _)| o == "companies")
        .map(|(_, p)| p)
        .collect();
    let same_name_other_domain = companies.iter().any(|a| {
        companies.iter().any(|b| {
            a["name"] == b["name"]
                && a["domain"] != b["domain"]
                && a["domain"].is_string()
                && b["domain"].is_string()
        })
    });
    assert!(
        same_name_other_domain,
        "duplicate company names with different domains"
    );

    // The seeded admin can sign in and sees the data through the API.
    let token = demo.token("acme").await;
    let page = demo.get(&token, "/v1/contacts?limit=100").await;
    assert_eq!(page.body["results"].as_array().unwrap().len(), 100);
    let events = demo.get(&token, "/v1/events").await;
    assert_eq!(events.body["results"].as_array().unwrap().len(), 40);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn the_web_ui_signs_in_lists_edits_and_simulates_events(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let token = demo.token("acme").await;
    let id = demo
        .create(
            &token,
            "contacts",
            json!({"email": "ui@example.com", "first_name": "Uma"}),
        )
        .await;
    let r = demo
        .http
        .get(format!("{}/ui/contacts", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "signed out: to the login page");

    let login = demo
        .http
        .post(format!("{}/login", demo.url))
        .form(&[("username", "acme-admin"), ("password", "demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let get = |path: String| {
        let demo = &demo;
        let cookie = cookie.clone();
        async move {
            let r = demo
                .http
                .get(format!("{}{path}", demo.url))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = get("/ui/contacts".into()).await;
    assert_eq!(status, 200);
    assert!(html.contains("ui@example.com"));

    let post = demo
        .http
        .post(format!("{}/ui/contacts/{id}", demo.url))
        .header("cookie", &cookie)
        .form(&[
            ("email", "ui@example.com"),
            ("first_name", "Ursula"),
            ("lifecycle_stage", "customer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 303);
    let api = demo.get(&token, &format!("/v1/contacts/{id}")).await;
    assert_eq!(api.body["properties"]["first_name"], "Ursula");
    assert_eq!(api.body["properties"]["lifecycle_stage"], "customer");

    // Validation errors are shown on the page, nothing is saved.
    let bad = demo
        .http
        .post(format!("{}/ui/contacts/{id}", demo.url))
        .header("cookie", &cookie)
        .form(&[("email", "broken@")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 200);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("not a valid email address"));

    let ev = demo
        .http
        .post(format!("{}/ui/contacts/{id}/events", demo.url))
        .header("cookie", &cookie)
        .form(&[("type", "email.clicked")])
        .send()
        .await
        .unwrap();
    assert_eq!(ev.status().as_u16(), 303);
    let feed = demo.get(&token, "/v1/events").await;
    assert_eq!(feed.body["results"][0]["type"], "email.clicked");
    assert_eq!(feed.body["results"][0]["contact_id"], id.as_str());

    let del = demo
        .http
        .post(format!("{}/ui/contacts/{id}/delete", demo.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 303);
    assert_eq!(
        demo.get(&token, &format!("/v1/contacts/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}
