//! Benchmark of the CRM Syncs tab at scale (`make bench`, through scripts/bench.sh; not
//! part of `make test`): a contacts sync whose record index holds 1,000,000 records in
//! every state, with a day of hourly activity. Times, through the real router (the page
//! with a session cookie, server functions with a private app token):
//! - the object view: the server-side render of the app page (signed in), its sync rows
//!   and counts included, plus the chart data the row loads in the browser (`sync_chart`),
//! - the two server functions the object view polls (`list_syncs`, `sync_chart`),
//! - the first page of the failed list (`list_sync_records`).
//!
//! Each figure is the median of several runs after a warm-up. Prints
//! `BENCH <name> <value> <unit>` lines. Environment: `DATABASE_URL` (a database of its
//! own; bench.sh makes a fresh one), `BENCH_SYNC_RECORDS` (default 1000000),
//! `BENCH_RUNS` (default 15).

use axum::body::{to_bytes, Body};
use http::{header, Request, StatusCode};
use std::time::Instant;
use tandem::model::{Role, SyncInput};
use tandem::platform::{db, portals, tokens, users, AppState, Config};
use tandem::server::app;
use tower::ServiceExt;
use uuid::Uuid;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` a few times to warm up, then `runs` times; answers the median in ms.
async fn median_ms<F, Fut>(runs: u64, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..3 {
        f().await?;
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

/// Sends a request and reads the whole body; fails unless it is a 200 containing `expect`.
async fn fetch(app: &axum::Router, req: Request<Body>, expect: &str) -> anyhow::Result<()> {
    let res = app.clone().oneshot(req).await?;
    let status = res.status();
    let body = to_bytes(res.into_body(), 64 << 20).await?;
    let text = String::from_utf8_lossy(&body);
    anyhow::ensure!(status == StatusCode::OK, "status {status}: {text:.300}");
    if !text.contains(expect) {
        let tail: String = text
            .chars()
            .skip(text.chars().count().saturating_sub(1500))
            .collect();
        anyhow::bail!("the answer lacks {expect:?}: …{tail}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench.sh does)"))?;
    let records = env_num("BENCH_SYNC_RECORDS", 1_000_000) as i64;
    let runs = env_num("BENCH_RUNS", 15);
    let pool = db::migrate(&url).await?;
    let dir = std::env::temp_dir().join(format!("tandem-bench-{}", Uuid::new_v4()));
    let state = AppState::new(pool.clone(), Config::for_tests("unused", dir))?;
    let router = app(state);

    let portal = portals::ensure(&pool, "bench", "Benchmark portal").await?;
    let user = users::create(
        &pool,
        portal,
        users::NewUser {
            email: "bench@example.com".into(),
            name: "Bench Admin".into(),
            password: "a long bench password".into(),
            role: Role::SuperAdmin,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
    let token = tokens::create(&pool, portal, user, "bench")
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?
        .secret;
    let connection: Uuid = sqlx::query_scalar(
        "INSERT INTO connections (portal_id, app, account_id, account_name, connected_by)
         VALUES ($1, 'demo', '1', 'acme', $2) RETURNING id",
    )
    .bind(portal)
    .bind(user)
    .fetch_one(&pool)
    .await?;
    let input = SyncInput::new(connection, "contacts", "contacts");
    let settings = tandem::engine::plan::SyncSettings::new(
        tandem::engine::plan::ObjectKind::Contact,
        tandem::engine::plan::Direction::TwoWay,
        tandem::engine::plan::ConflictWinner::Hub,
    );
    let sync: Uuid = sqlx::query_scalar(
        "INSERT INTO syncs (portal_id, connection_id, hub_object, app_object, input, settings, options, phase, step)
         VALUES ($1, $2, 'contacts', 'contacts', $3, $4, $5, 'listening', 'done') RETURNING id",
    )
    .bind(portal)
    .bind(connection)
    .bind(sqlx::types::Json(&input))
    .bind(sqlx::types::Json(&settings))
    .bind(sqlx::types::Json(tandem::engine::definition::SyncOptions::of(&input)))
    .fetch_one(&pool)
    .await?;

    eprintln!("seeding {records} sync records…");
    let t = Instant::now();
    // 94% syncing, 3% failed (three causes), 2% excluded, 1% deleted.
    sqlx::query(
        "INSERT INTO sync_index (sync_id, hub_id, app_id, label, state, reason_code, message, generation, last_synced_at)
         SELECT $1, i, 'a' || i, 'person' || i || '@example.com',
                CASE WHEN i % 100 < 94 THEN 'syncing' WHEN i % 100 < 97 THEN 'failed'
                     WHEN i % 100 < 99 THEN 'excluded' ELSE 'deleted' END,
                CASE WHEN i % 100 < 94 THEN NULL
                     WHEN i % 100 < 97 THEN (ARRAY['hub_validation', 'app_error', 'auth'])[i % 3 + 1]
                     WHEN i % 100 < 99 THEN 'duplicate' ELSE 'deleted' END,
                CASE WHEN i % 100 >= 94 THEN 'Reason ' || (i % 3) END,
                1, now() - (i % 1440) * interval '1 minute'
         FROM generate_series(1, $2::bigint) AS i",
    )
    .bind(sync)
    .bind(records)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO sync_counts (sync_id, state, n)
         SELECT $1, state, count(*) FROM sync_index WHERE sync_id = $1 GROUP BY state",
    )
    .bind(sync)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO sync_hourly (sync_id, hour, synced, failed)
         SELECT $1, date_trunc('hour', now()) - h * interval '1 hour', $2::bigint / 24, $2::bigint / 800
         FROM generate_series(0, 23) AS h",
    )
    .bind(sync)
    .bind(records)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE sync_index").execute(&pool).await?;
    println!(
        "BENCH seed_sync_index_1m_s {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let bearer = format!("Bearer {token}");
    // Pages are for people: signed in with a session cookie.
    let login = router
        .clone()
        .oneshot(
            Request::post("/api/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(
                    "email=bench%40example.com&password=a+long+bench+password",
                ))?,
        )
        .await?;
    let cookie = login
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    anyhow::ensure!(!cookie.is_empty(), "signing in gave no session cookie");
    let page = || {
        Request::get("/settings/integrations/connected-apps/demo?tab=syncs")
            .header(header::COOKIE, &cookie)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .expect("request")
    };
    let api = |name: &str, body: serde_json::Value| {
        Request::post(format!("/api/{name}"))
            .header(header::AUTHORIZATION, &bearer)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    // The object view: the page as the server renders it, with the sync's row and its
    // counts (the browser then loads the row's 24-hour chart from `sync_chart`), timed as
    // the page plus that call.
    let syncing = records * 94 / 100;
    let syncing_shown = tandem::app::pages::syncs::thousands(syncing);
    let ms = median_ms(runs, || async {
        fetch(&router, page(), &syncing_shown).await?;
        fetch(
            &router,
            api("sync_chart", serde_json::json!({ "id": sync })),
            "synced",
        )
        .await
    })
    .await?;
    println!("BENCH object_view_1m_ms {ms:.2} ms");
    let ms = median_ms(runs, || {
        fetch(
            &router,
            api("list_syncs", serde_json::json!({})),
            "listening",
        )
    })
    .await?;
    println!("BENCH list_syncs_1m_ms {ms:.2} ms");
    let ms = median_ms(runs, || {
        fetch(
            &router,
            api("sync_chart", serde_json::json!({ "id": sync })),
            "synced",
        )
    })
    .await?;
    println!("BENCH sync_chart_1m_ms {ms:.2} ms");
    let ms = median_ms(runs, || {
        fetch(
            &router,
            api(
                "list_sync_records",
                serde_json::json!({ "sync_id": sync, "state": "failed", "limit": 50 }),
            ),
            "failed",
        )
    })
    .await?;
    println!("BENCH failed_list_first_page_1m_ms {ms:.2} ms");
    Ok(())
}
