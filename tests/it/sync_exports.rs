//! Exports of sync record lists against a real Postgres: the server functions, the
//! background job run by the engine's worker, the files (CSV parsed with `csv`, XLSX read
//! back with `calamine`), the notification, and the download link's rules (signed in,
//! same portal, 24 hours).

use crate::common::*;
use axum::body::{to_bytes, Body};
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::Arc;
use tandem::engine::export::{self, COLUMNS};
use tandem::engine::plan::{ConflictWinner, Direction, ObjectKind, SyncSettings};
use tandem::engine::worker::Engine;
use tandem::model::Role;
use tandem::platform::{db, AppState, Config};
use tandem::server::app;
use tower::ServiceExt;
use uuid::Uuid;

pub(crate) struct World {
    pub(crate) app: axum::Router,
    pub(crate) engine: Arc<Engine>,
    pub(crate) admin: Seeded,
    pub(crate) sync_id: Uuid,
    pub(crate) state: AppState,
}

/// A portal with a connected Demo CRM account and a contacts sync whose index holds
/// records in every state (inserted directly: the export reads only the index).
pub(crate) async fn world(pool: &PgPool) -> World {
    world_with(pool, |_| {}).await
}

async fn world_with(pool: &PgPool, configure: impl FnOnce(&mut Config)) -> World {
    // A failing server function logs why (shown with --nocapture).
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    db::migrate_pool(pool).await.expect("migrations");
    let dir = std::env::temp_dir().join(format!("tandem-export-test-{}", Uuid::new_v4()));
    let mut config = Config::for_tests("unused", dir);
    configure(&mut config);
    let state = AppState::new(pool.clone(), config).expect("state");
    let router = app(state.clone());
    let engine = Engine::new(pool.clone(), state.config.clone(), state.secret_key.clone());
    let admin = seed_user(pool, "acme", "admin@acme.test", Role::SuperAdmin).await;
    let connection: Uuid = sqlx::query_scalar(
        "INSERT INTO connections (portal_id, app, account_id, account_name, connected_by)
         VALUES ($1, 'demo', '1', 'acme', $2) RETURNING id",
    )
    .bind(admin.portal_id)
    .bind(admin.user_id)
    .fetch_one(pool)
    .await
    .unwrap();
    let input = crate::engine_common::contacts_input(connection);
    let settings = SyncSettings::new(ObjectKind::Contact, Direction::TwoWay, ConflictWinner::Hub);
    let sync_id: Uuid = sqlx::query_scalar(
        "INSERT INTO syncs (portal_id, connection_id, hub_object, app_object, input, settings, options, phase, step)
         VALUES ($1, $2, 'contacts', 'contacts', $3, $4, $5, 'listening', 'done') RETURNING id",
    )
    .bind(admin.portal_id)
    .bind(connection)
    .bind(sqlx::types::Json(&input))
    .bind(sqlx::types::Json(&settings))
    .bind(sqlx::types::Json(tandem::engine::definition::SyncOptions::of(&input)))
    .fetch_one(pool)
    .await
    .unwrap();
    // (hub id, app id, label, state, reason code, message)
    type Row<'a> = (
        Option<i64>,
        Option<&'a str>,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
    );
    let rows: &[Row] = &[
        (
            Some(1),
            Some("a1"),
            "ada@example.com",
            "syncing",
            None,
            None,
        ),
        (
            Some(2),
            Some("a2"),
            "grace@example.com",
            "syncing",
            None,
            None,
        ),
        (
            Some(3),
            Some("a3"),
            "zoë.łukasz@example.com",
            "syncing",
            None,
            None,
        ),
        (
            Some(4),
            Some("a4"),
            "jo@",
            "failed",
            Some("hub_validation"),
            Some("The hub refused the record — email: “jo@” is not a valid email address."),
        ),
        (
            Some(5),
            Some("a5"),
            "=cmd|' /C calc'!A0",
            "failed",
            Some("hub_validation"),
            Some("The hub refused the record — email: not valid."),
        ),
        (
            None,
            Some("a6"),
            "Dvořák, Antonín",
            "failed",
            Some("hub_validation"),
            Some("The hub refused the record — phone: must be a phone number."),
        ),
        (
            Some(7),
            Some("a7"),
            "busy@example.com",
            "failed",
            Some("app_error"),
            Some("The app refused the record: 503"),
        ),
        (
            None,
            Some("a8"),
            "dup@example.com",
            "excluded",
            Some("duplicate"),
            Some("Duplicate of app record a1."),
        ),
        (
            None,
            Some("a9"),
            "",
            "excluded",
            Some("no_valid_email"),
            Some("No valid email address."),
        ),
        (
            Some(10),
            None,
            "gone@example.com",
            "deleted",
            Some("deleted"),
            Some("Deleted in the app."),
        ),
    ];
    for (hub_id, app_id, label, st, reason, message) in rows {
        sqlx::query(
            "INSERT INTO sync_index (sync_id, hub_id, app_id, label, state, reason_code, message, field, deleted_side, generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'hub_validation' THEN 'email' END,
                     CASE WHEN $5 = 'deleted' THEN 'app' END, 1)",
        )
        .bind(sync_id)
        .bind(hub_id)
        .bind(app_id)
        .bind(label)
        .bind(st)
        .bind(reason)
        .bind(message)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO sync_counts (sync_id, state, n) SELECT $1, state, count(*) FROM sync_index WHERE sync_id = $1 GROUP BY state",
    )
    .bind(sync_id)
    .execute(pool)
    .await
    .unwrap();
    World {
        app: router,
        engine,
        admin,
        sync_id,
        state,
    }
}

async fn get(
    app: &axum::Router,
    path: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = to_bytes(res.into_body(), 64 << 20).await.unwrap().to_vec();
    (status, headers, bytes)
}

/// Starts an export, lets the worker make it, and returns its finished view.
pub(crate) async fn export(w: &World, body: Value) -> Value {
    let started = call(&w.app, "export_sync_records", Some(&w.admin.token), body).await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(started.body["status"], "queued");
    assert!(
        started.body["download_url"].is_null(),
        "no link before the file exists"
    );
    let ran = w.engine.drain("test-worker").await.unwrap();
    assert!(ran >= 1, "the export job ran");
    let id = started.body["id"].as_str().unwrap();
    let done = call(
        &w.app,
        "export_status",
        Some(&w.admin.token),
        json!({ "id": id }),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    done.body
}

fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[sqlx::test]
async fn failed_records_export_as_csv_and_xlsx_with_every_row(pool: PgPool) {
    let w = world(&pool).await;

    // CSV of the failed list.
    let v = export(
        &w,
        json!({ "sync_id": w.sync_id, "state": "failed", "format": "csv" }),
    )
    .await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["rows"], 4);
    assert_eq!(v["format"], "csv");
    let id = v["id"].as_str().unwrap();
    assert_eq!(v["download_url"], format!("/exports/{id}"));
    assert!(
        v["title"].as_str().unwrap().starts_with("Failed contacts"),
        "{v}"
    );
    let (status, headers, body) = get(
        &w.app,
        &format!("/exports/{id}"),
        Some(&w.admin.token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"tandem-contacts-failed-"),
        "{disposition}"
    );
    assert!(disposition.ends_with(".csv\""), "{disposition}");
    let (header_row, rows) = csv_rows(&body);
    assert_eq!(header_row, COLUMNS.to_vec());
    assert_eq!(rows.len(), 4);
    let labels: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        labels,
        BTreeSet::from([
            "jo@",
            "'=cmd|' /C calc'!A0",
            "Dvořák, Antonín",
            "busy@example.com"
        ]),
        "every failed record once; a formula-looking cell is quoted"
    );
    assert!(rows.iter().all(|r| r[1] == "failed"));
    let jo = rows.iter().find(|r| r[0] == "jo@").unwrap();
    assert_eq!(jo[2], "The hub refused the record");
    assert_eq!(jo[3], "hub_validation");
    assert!(jo[4].contains("not a valid email address"));
    assert_eq!(jo[5], "email");
    assert_eq!(jo[6], "4");
    assert_eq!(jo[7], "a4");

    // XLSX of the same list, read back.
    let v = export(
        &w,
        json!({ "sync_id": w.sync_id, "state": "failed", "format": "xlsx" }),
    )
    .await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["rows"], 4);
    let (status, headers, body) = get(
        &w.app,
        v["download_url"].as_str().unwrap(),
        Some(&w.admin.token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .ends_with(".xlsx\""));
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(body)).expect("a valid XLSX file");
    assert_eq!(book.sheet_names(), vec!["Records".to_string()]);
    let range = book.worksheet_range("Records").unwrap();
    let cells: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(cells[0], COLUMNS.to_vec());
    assert_eq!(cells.len(), 5, "header and four records");
    let labels: BTreeSet<&str> = cells[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        labels,
        BTreeSet::from([
            "jo@",
            "=cmd|' /C calc'!A0",
            "Dvořák, Antonín",
            "busy@example.com"
        ])
    );
    let busy = cells.iter().find(|r| r[0] == "busy@example.com").unwrap();
    assert_eq!(busy[3], "app_error");
    assert_eq!(busy[6], "7", "hub ids are numbers in the sheet");

    // One cause only, and a search, as in the list they came from.
    let v = export(
        &w,
        json!({ "sync_id": w.sync_id, "state": "failed", "reason": "app_error" }),
    )
    .await;
    assert_eq!(v["rows"], 1);
    let v = export(&w, json!({ "sync_id": w.sync_id, "search": "example.com" })).await;
    assert_eq!(v["title"].as_str().unwrap().split(' ').next(), Some("All"));
    // ada, grace, zoë, busy, dup, gone: every state.
    assert_eq!(v["rows"], 6);
    let (_, _, body) = get(
        &w.app,
        v["download_url"].as_str().unwrap(),
        Some(&w.admin.token),
        None,
    )
    .await;
    let (_, rows) = csv_rows(&body);
    let states: BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        states,
        BTreeSet::from(["syncing", "failed", "excluded", "deleted"])
    );

    // The person who asked hears about each export, with the link.
    let notes = call(
        &w.app,
        "list_notifications",
        Some(&w.admin.token),
        json!({}),
    )
    .await;
    let items = notes.body["items"].as_array().unwrap();
    let ready: Vec<&Value> = items
        .iter()
        .filter(|n| n["kind"] == "export_ready")
        .collect();
    assert_eq!(ready.len(), 4, "{}", notes.text);
    assert!(ready
        .iter()
        .all(|n| n["link"].as_str().unwrap().starts_with("/exports/")));
}

#[sqlx::test]
async fn a_ready_export_is_emailed_with_its_link_when_smtp_is_configured(pool: PgPool) {
    let inbox = crate::common::smtp::Inbox::start();
    let smtp_url = inbox.url();
    let w = world_with(&pool, |c| c.smtp_url = Some(smtp_url)).await;
    let v = export(
        &w,
        json!({ "sync_id": w.sync_id, "state": "failed", "format": "xlsx" }),
    )
    .await;
    assert_eq!(v["status"], "ready", "{v}");
    let mail = inbox.wait_for(1).pop().unwrap();
    assert_eq!(mail.to, vec!["admin@acme.test".to_string()]);
    assert!(
        mail.text.contains("Subject: Your export is ready"),
        "{}",
        mail.text
    );
    let link = format!(
        "{}/exports/{}",
        w.state.config.public_url,
        v["id"].as_str().unwrap()
    );
    assert!(
        mail.unwrapped().contains(&link),
        "the download link, in:\n{}",
        mail.text
    );
}

#[sqlx::test]
async fn download_links_need_the_portal_and_expire(pool: PgPool) {
    let w = world(&pool).await;
    let v = export(
        &w,
        json!({ "sync_id": w.sync_id, "state": "excluded", "format": "csv" }),
    )
    .await;
    assert_eq!(v["rows"], 2);
    let id: Uuid = v["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/exports/{id}");

    // Not signed in: 401 for scripts, the sign-in page (then the export's page) for browsers.
    let (status, _, _) = get(&w.app, &path, None, None).await;
    assert_eq!(status, 401);
    let (status, headers, _) =
        get(&w.app, &path, None, Some("text/html,application/xhtml+xml")).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(
        headers[header::LOCATION],
        format!("/login?next=/settings/integrations/exports/{id}").as_str()
    );

    // Another portal's user: the export does not exist for them.
    let other = seed_user(&pool, "globex", "admin@globex.test", Role::SuperAdmin).await;
    let (status, _, _) = get(&w.app, &path, Some(&other.token), None).await;
    assert_eq!(status, 404);
    let r = call(
        &w.app,
        "export_status",
        Some(&other.token),
        json!({ "id": id }),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &w.app,
        "export_sync_records",
        Some(&other.token),
        json!({ "sync_id": w.sync_id }),
    )
    .await;
    assert_eq!(r.status, 404, "another portal's sync cannot be exported");

    // A user without the App Marketplace permission may export (it only reads).
    let viewer = tandem::platform::users::create(
        &pool,
        w.admin.portal_id,
        tandem::platform::users::NewUser {
            email: "viewer@acme.test".into(),
            name: "Viewer".into(),
            password: "correct horse battery".into(),
            role: Role::User,
        },
    )
    .await
    .unwrap();
    let viewer_token = tandem::platform::tokens::create(&pool, w.admin.portal_id, viewer, "t")
        .await
        .unwrap()
        .secret;
    let (status, _, body) = get(&w.app, &path, Some(&viewer_token), None).await;
    assert_eq!(status, 200);
    assert_eq!(csv_rows(&body).1.len(), 2);

    // After 24 hours the link stops working and the file is removed.
    let file = export::file_path(
        &w.state.config.data_dir,
        id,
        tandem::model::ExportFormat::Csv,
    );
    assert!(file.exists());
    sqlx::query("UPDATE exports SET expires_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let (status, _, body) = get(&w.app, &path, Some(&w.admin.token), None).await;
    assert_eq!(status, 410);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["code"], "expired");
    assert!(err["hint"].as_str().unwrap().contains("More → Export"));
    let r = call(
        &w.app,
        "export_status",
        Some(&w.admin.token),
        json!({ "id": id }),
    )
    .await;
    assert_eq!(r.body["status"], "expired");
    assert!(r.body["download_url"].is_null());
    assert_eq!(
        export::purge_expired(&pool, &w.state.config).await.unwrap(),
        1
    );
    assert!(!file.exists(), "the expired file is deleted");
}

#[sqlx::test]
async fn bad_export_requests_say_what_is_wrong(pool: PgPool) {
    let w = world(&pool).await;
    let r = call(
        &w.app,
        "export_sync_records",
        Some(&w.admin.token),
        json!({ "sync_id": w.sync_id, "state": "lost" }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["fields"][0]["field"], "state");
    let r = call(
        &w.app,
        "export_sync_records",
        Some(&w.admin.token),
        json!({ "sync_id": w.sync_id, "format": "pdf" }),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = call(
        &w.app,
        "export_sync_records",
        Some(&w.admin.token),
        json!({ "sync_id": Uuid::new_v4() }),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &w.app,
        "export_sync_records",
        None,
        json!({ "sync_id": w.sync_id }),
    )
    .await;
    assert_eq!(r.status, 401);
    let (status, _, _) = get(&w.app, "/exports/not-a-uuid", Some(&w.admin.token), None).await;
    assert_eq!(status, 404);
    // Still being made: the link says so.
    let started = call(
        &w.app,
        "export_sync_records",
        Some(&w.admin.token),
        json!({ "sync_id": w.sync_id }),
    )
    .await;
    let (status, _, _) = get(
        &w.app,
        &format!("/exports/{}", started.body["id"].as_str().unwrap()),
        Some(&w.admin.token),
        None,
    )
    .await;
    assert_eq!(status, 409);
}

#[sqlx::test]
async fn a_large_list_is_written_in_batches_each_record_once(pool: PgPool) {
    let w = world(&pool).await;
    sqlx::query(
        "INSERT INTO sync_index (sync_id, hub_id, app_id, label, state, reason_code, message, generation)
         SELECT $1, 1000 + n, 'x' || n, 'bulk' || n || '@example.com', 'failed', 'app_validation', 'refused', 1
         FROM generate_series(1, 12000) AS n",
    )
    .bind(w.sync_id)
    .execute(&pool)
    .await
    .unwrap();
    let v = export(&w, json!({ "sync_id": w.sync_id, "state": "failed", "reason": "app_validation", "format": "csv" })).await;
    assert_eq!(v["rows"], 12000);
    let (_, _, body) = get(
        &w.app,
        v["download_url"].as_str().unwrap(),
        Some(&w.admin.token),
        None,
    )
    .await;
    let (_, rows) = csv_rows(&body);
    let labels: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(rows.len(), 12000);
    assert_eq!(labels.len(), 12000, "no record twice");
}

/// The whole path against a real sync: Tandem served on a port, the demo CRM refusing a
/// hub contact it cannot store (no email, no last name), the export asked for over HTTP
/// with a private app token, made by the engine's worker, and downloaded from
/// `/exports/{id}`: the file lists exactly the failed record with the app's reason.
#[sqlx::test]
async fn a_real_sync_s_failed_record_exports_over_http(pool: PgPool) {
    use crate::engine_common::{props, stack};
    use tandem::hub::ObjectType;
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    s.hub_create(ObjectType::Contacts, props(&[("firstname", "Solo")]))
        .await;
    s.hub_create(
        ObjectType::Contacts,
        props(&[("email", "kept@example.com"), ("lastname", "Kept")]),
    )
    .await;
    let sync = s.sync(conn).without_email().create().await;
    let done = s.run_initial(sync.id).await;
    assert_eq!(done.counts.failed, 1);
    assert!(done.counts.syncing >= 1);

    let token =
        tandem::platform::tokens::create(s.pool(), s.admin.portal_id, s.admin.user_id, "export")
            .await
            .unwrap()
            .secret;
    let http = reqwest::Client::new();
    let started: Value = http
        .post(format!("{}/api/export_sync_records", s.tandem_url))
        .bearer_auth(&token)
        .json(&json!({ "sync_id": sync.id, "state": "failed", "format": "csv" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(started["status"], "queued", "{started}");
    let id = started["id"].as_str().expect("an export id").to_string();
    assert!(s.drain().await >= 1, "the worker made the export");
    let ready: Value = http
        .post(format!("{}/api/export_status", s.tandem_url))
        .bearer_auth(&token)
        .json(&json!({ "id": id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["rows"], 1);
    let link = ready["download_url"].as_str().expect("a download link");
    assert_eq!(link, format!("/exports/{id}"));

    // Without the token: refused. With it: the CSV.
    let anonymous = http
        .get(format!("{}{link}", s.tandem_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let file = http
        .get(format!("{}{link}", s.tandem_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    let body = file.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{body}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("State")], "failed");
    assert_eq!(&rows[0][col("Reason code")], "app_validation");
    assert!(rows[0][col("Message")].contains("refused"), "{body}");
    let solo = s.hub_all(ObjectType::Contacts).await;
    let solo = solo
        .iter()
        .find(|r| r.properties.get("firstname").map(String::as_str) == Some("Solo"))
        .expect("the refused hub contact");
    assert_eq!(rows[0][col("Hub id")], solo.id.to_string());

    // The person who asked is told, with the link.
    let link_in_bell: Option<String> = sqlx::query_scalar(
        "SELECT link FROM notifications WHERE user_id = $1 AND kind = 'export_ready'",
    )
    .bind(s.admin.user_id)
    .fetch_optional(s.pool())
    .await
    .unwrap()
    .flatten();
    assert_eq!(link_in_bell.as_deref(), Some(link));
}
