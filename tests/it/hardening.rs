//! Hardening found by reading the code as an attacker would (issue 15), each through the
//! real server and Postgres: bounded association lists and exports, private export
//! files, a health check that does not leak, sealed tokens bound to their row, headers
//! against framing and sniffing, and install consent bound to the user who started it.

use crate::common::*;
use crate::engine_common::*;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::Aes256Gcm;
use axum::body::Body;
use base64::Engine as _;
use http::{header, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use tandem::connectors::ConnectorError;
use tandem::hub::ObjectType;
use tandem::model::ExportFormat;
use tandem::platform::{connections, AppState, Config};
use uuid::Uuid;

#[sqlx::test]
async fn every_response_forbids_framing_and_sniffing(pool: PgPool) {
    let app = test_app(&pool).await;
    let pages = [
        Request::get("/login").body(Body::empty()).unwrap(),
        Request::get("/healthz").body(Body::empty()).unwrap(),
        Request::get("/oauth/callback").body(Body::empty()).unwrap(),
        Request::post("/api/whoami")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    ];
    for req in pages {
        let path = req.uri().path().to_string();
        let r = send(&app, req).await;
        assert_eq!(r.headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            r.headers["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
    }
}

#[sqlx::test]
async fn the_health_check_says_only_that_the_database_is_down(pool: PgPool) {
    tandem::platform::db::migrate_pool(&pool)
        .await
        .expect("migrations");
    // A pool of its own, closed: every query fails with sqlx's own error text.
    let closed = sqlx::postgres::PgPoolOptions::new()
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    closed.close().await;
    let dir = std::env::temp_dir().join(format!("tandem-test-{}", Uuid::new_v4()));
    let app = tandem::server::app(
        AppState::new(closed, Config::for_tests("unused", dir)).expect("state"),
    );
    let r = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["database"], "unreachable");
    assert_eq!(
        r.body["message"], "The database does not answer.",
        "{}",
        r.text
    );
    assert!(!r.text.contains("pool"), "{}", r.text);
}

#[sqlx::test]
async fn export_files_are_readable_by_tandems_user_only(pool: PgPool) {
    use std::os::unix::fs::PermissionsExt;
    let w = crate::sync_exports::world(&pool).await;
    for (format, kind) in [("csv", ExportFormat::Csv), ("xlsx", ExportFormat::Xlsx)] {
        let v = crate::sync_exports::export(&w, json!({ "sync_id": w.sync_id, "format": format }))
            .await;
        assert_eq!(v["status"], "ready", "{v}");
        let id = Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
        let path = tandem::engine::export::file_path(&w.state.config.data_dir, id, kind);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{format}: {mode:o}");
        let dir = std::fs::metadata(path.parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o077, 0, "the exports folder");
    }
}

#[sqlx::test]
async fn a_token_copied_into_another_connection_does_not_open_there(pool: PgPool) {
    let s = stack(pool).await;
    let acme = s.connect("acme").await;
    let globex = s.connect("globex").await;
    assert!(s.connector(globex).await.identity().await.is_ok());

    // Someone with write access to the database moves acme's sealed token into globex's row.
    sqlx::query(
        "UPDATE connections SET access_token_enc = (SELECT access_token_enc FROM connections WHERE id = $1)
         WHERE id = $2",
    )
    .bind(acme)
    .bind(globex)
    .execute(s.pool())
    .await
    .unwrap();
    let err = s.connector(globex).await.identity().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent { .. }), "{err:?}");
    // The same for a column: the refresh token does not open as the access token.
    sqlx::query("UPDATE connections SET access_token_enc = refresh_token_enc WHERE id = $1")
        .bind(acme)
        .execute(s.pool())
        .await
        .unwrap();
    let err = s.connector(acme).await.identity().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent { .. }), "{err:?}");
}

#[sqlx::test]
async fn tokens_sealed_before_binding_still_work_and_are_resealed_on_refresh(pool: PgPool) {
    let s = stack(pool).await;
    let id = s.connect("acme").await;
    let (access, refresh) = connections::sealed_tokens(s.pool(), &s.state.secret_key, id)
        .await
        .unwrap();
    // The format of earlier versions: base64 of nonce ‖ ciphertext, no associated data.
    let key_file = std::fs::read_to_string(s.data_dir.join("secret.key")).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_file.trim())
        .unwrap();
    let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
    let old = |plain: &str| {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(cipher.encrypt(&nonce, plain.as_bytes()).unwrap());
        base64::engine::general_purpose::STANDARD.encode(out)
    };
    sqlx::query(
        "UPDATE connections SET access_token_enc = $2, refresh_token_enc = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(old(&access.unwrap()))
    .bind(old(&refresh.unwrap()))
    .execute(s.pool())
    .await
    .unwrap();
    assert!(
        s.connector(id).await.identity().await.is_ok(),
        "old values open"
    );

    // The next write (a refresh) seals them bound to their row.
    sqlx::query(
        "UPDATE connections SET token_expires_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(id)
    .execute(s.pool())
    .await
    .unwrap();
    assert!(s.connector(id).await.identity().await.is_ok());
    let (a, r): (String, String) =
        sqlx::query_as("SELECT access_token_enc, refresh_token_enc FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert!(a.starts_with("v2:") && r.starts_with("v2:"), "{a} {r}");
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[sqlx::test]
async fn an_install_approved_in_a_browser_without_the_starters_session_waits_for_them(
    pool: PgPool,
) {
    let s = stack(pool).await;
    s.account("acme").await;
    // The admin starts an install with the Install button…
    let (cookie, _) = s.sign_in(None).await;
    let res = no_redirects()
        .get(format!("{}/oauth/install/demo", s.tandem_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let authorize = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    // …and sends the link to someone else, who approves their own account at the app.
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("username".into(), "acme-admin".into()));
    form.push(("password".into(), "demo".into()));
    form.push(("decision".into(), "allow".into()));
    let res = no_redirects()
        .post(format!("{}/oauth/authorize", s.demo_url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let back = res.headers()["location"].to_str().unwrap().to_string();

    // Their browser has no Tandem session: it is asked, nothing is connected.
    let res = no_redirects().get(&back).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Confirm this install"), "{page}");
    assert!(page.contains("“Demo portal”"), "{page}");
    assert!(page.contains("admin@example.com"), "{page}");
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM connections")
            .fetch_one(s.pool())
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0);
    // Asking again changes nothing: the install is still waiting, not consumed.
    let again = no_redirects().get(&back).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 200);

    // The one way on is signing in as the admin in this browser, which comes back here.
    let start = page.find("href=\"/login?next=").expect("a sign-in link") + 6;
    let href = page[start..start + page[start..].find('"').unwrap()].replace("&amp;", "&");
    let link = url::Url::parse(&format!("{}{href}", s.tandem_url)).unwrap();
    let next = link
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert!(next.starts_with("/oauth/callback?"), "{next}");
    let (cookie, location) = s.sign_in(Some(&next)).await;
    if let Some(location) = location {
        assert_eq!(location, next);
    }
    let res = no_redirects()
        .get(format!("{}{next}", s.tandem_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/settings/integrations/connected-apps/demo?connected="));
    assert_eq!(count().await, 1);
}

#[sqlx::test]
async fn the_same_export_twice_is_one_and_a_person_has_only_a_few_at_once(pool: PgPool) {
    let w = crate::sync_exports::world(&pool).await;
    let start =
        |body: serde_json::Value| call(&w.app, "export_sync_records", Some(&w.admin.token), body);
    let first = start(json!({ "sync_id": w.sync_id, "state": "failed" })).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = start(json!({ "sync_id": w.sync_id, "state": "failed" })).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.body["id"], first.body["id"],
        "the pending export is reused"
    );

    let mut started = 1;
    for state in ["syncing", "excluded", "deleted"] {
        let r = start(json!({ "sync_id": w.sync_id, "state": state })).await;
        if started < tandem::engine::export::MAX_UNFINISHED_PER_USER {
            assert_eq!(r.status, 200, "{}", r.text);
            started += 1;
        } else {
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.body["code"], "too_many_exports");
            assert!(
                r.body["hint"].as_str().unwrap().contains("ready"),
                "{}",
                r.text
            );
        }
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM exports")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, tandem::engine::export::MAX_UNFINISHED_PER_USER);
    // Once they are made, new ones may start.
    w.engine.drain("test-worker").await.unwrap();
    let r = start(json!({ "sync_id": w.sync_id, "state": "deleted" })).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[sqlx::test]
async fn association_lists_page_in_the_query(pool: PgPool) {
    let app = test_app(&pool).await;
    let s = seed_user(
        &pool,
        "acme",
        "boss@example.com",
        tandem::model::Role::SuperAdmin,
    )
    .await;
    let hub = s.hub(&pool);
    let contact = hub
        .create(ObjectType::Contacts, json!({ "email": "ada@example.com" }))
        .await
        .unwrap();
    let mut companies = Vec::new();
    for name in ["Alpha", "Beta", "Gamma"] {
        let c = hub
            .create(ObjectType::Companies, json!({ "name": name }))
            .await
            .unwrap();
        hub.associate(
            (ObjectType::Contacts, contact.id),
            (ObjectType::Companies, c.id),
        )
        .await
        .unwrap();
        companies.push(c.id.to_string());
    }
    let api = s.rest(&app);
    let list = format!(
        "/api/crm/v3/objects/contacts/{}/associations/companies",
        contact.id
    );
    let first = api.get(&format!("{list}?limit=2")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let ids = |r: &serde_json::Value| -> Vec<String> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&first.body), companies[..2]);
    let after = first.body["paging"]["next"]["after"].as_str().unwrap();
    let rest = api.get(&format!("{list}?limit=2&after={after}")).await;
    assert_eq!(ids(&rest.body), companies[2..]);
    assert!(rest.body.get("paging").is_none(), "{}", rest.text);
    let bad = api.get(&format!("{list}?limit=501")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
}
