//! The engine across processes: `tandem worker` processes share the queue with the
//! server without doing anything twice, a worker killed with SIGKILL in the middle of
//! an initial sync loses and duplicates nothing, and a sync converges while the app
//! fails a fifth of its requests.

use crate::engine_common::*;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tandem::hub::generator::{generate, GenerateOptions};
use tandem::hub::ObjectType;
use tandem::model::SyncPhase;
use uuid::Uuid;

async fn wait_listening(s: &Stack, sync_id: Uuid, limit: Duration) {
    let deadline = Instant::now() + limit;
    while s.status(sync_id).await.phase != SyncPhase::Listening {
        assert!(
            Instant::now() < deadline,
            "the initial sync did not finish in {limit:?}: {:?}",
            s.status(sync_id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn email_key(v: Option<&serde_json::Value>) -> Option<String> {
    let e = v?.as_str()?.trim().to_lowercase();
    tandem::engine::plan::normalise_email(&e)
}

/// The end state every test below must reach: every record of both sides is in the
/// index exactly once, the app got one new record per hub-only contact, and no email
/// is paired twice.
async fn assert_converged(
    s: &Stack,
    conn: Uuid,
    sync_id: Uuid,
    app_before: &[tandem::connectors::AppRecord],
) {
    let hub = s.hub_all(ObjectType::Contacts).await;
    let app = s.app_all(conn, "contacts").await;
    let before: HashSet<String> = app_before
        .iter()
        .filter_map(|r| email_key(r.properties.get("email")))
        .collect();
    let hub_only = hub
        .iter()
        .filter_map(|r| tandem::engine::plan::normalise_email(r.properties.get("email")?))
        .filter(|e| !before.contains(e))
        .count();
    let reasons: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT state, COALESCE(reason_code, ''), count(*) FROM sync_index WHERE sync_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(sync_id)
    .fetch_all(s.pool())
    .await
    .unwrap();
    let sample: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT message, label FROM sync_index WHERE sync_id = $1 AND state = 'failed' LIMIT 5",
    )
    .bind(sync_id)
    .fetch_all(s.pool())
    .await
    .unwrap();
    // Hub contacts the app refused (e.g. a lifecycle stage it has no option for) are
    // failed, not created.
    let refused: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_index WHERE sync_id = $1 AND state = 'failed' AND app_id IS NULL")
        .bind(sync_id)
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(
        app.len(),
        app_before.len() + hub_only - refused as usize,
        "one app record per hub-only contact, no duplicate; index: {reasons:?}; failures: {sample:?}"
    );
    let (hub_ids, app_ids): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT hub_id), count(DISTINCT app_id) FROM sync_index WHERE sync_id = $1",
    )
    .bind(sync_id)
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(
        hub_ids as usize,
        hub.len(),
        "every hub contact is in the index once"
    );
    assert_eq!(
        app_ids as usize,
        app.len(),
        "every app contact is in the index once"
    );
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_index WHERE sync_id = $1 AND state IN ('pending', 'indexed')",
    )
    .bind(sync_id)
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(pending, 0, "nothing left half done");
    // The counters agree with the index, state by state, with nothing counted that has no
    // row. Both are read in one snapshot: the server still marks pairs queued as the
    // app's notices of the engine's last writes arrive.
    let mut tx = s.pool().begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut by_state = Vec::new();
    for sql in [
        "SELECT state, n FROM sync_counts WHERE sync_id = $1 AND n <> 0 ORDER BY state",
        "SELECT state, count(*) FROM sync_index WHERE sync_id = $1 GROUP BY state ORDER BY state",
    ] {
        let rows: Vec<(String, i64)> = sqlx::query_as(sql)
            .bind(sync_id)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        by_state.push(rows);
    }
    assert_eq!(by_state[0], by_state[1], "counted, then in the index");
}

async fn seed_both(s: &Stack, conn: Uuid, hub_contacts: u64, app_contacts: u32) {
    generate(
        s.pool(),
        s.admin.portal_id,
        &GenerateOptions {
            contacts: hub_contacts,
            companies: 0,
            deals: 0,
            invoices: 0,
            seed: 7,
        },
    )
    .await
    .expect("hub seed");
    let _ = conn;
    s.seed_app("acme", app_contacts, 0, 0).await;
}

#[sqlx::test]
async fn worker_processes_share_the_queue_with_the_server_and_nothing_is_written_twice(
    pool: PgPool,
) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    seed_both(&s, conn, 600, 600).await;
    let app_before = s.app_all(conn, "contacts").await;
    let sync = s.sync(conn).create().await;
    let mut workers = vec![s.spawn_worker(2), s.spawn_worker(2)];
    // The server's own workers take part too.
    let stop = tandem::engine::worker::spawn(s.engine.clone(), 2, "server");
    wait_listening(&s, sync.id, Duration::from_secs(300)).await;
    let _ = stop.send(true);
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert_converged(&s, conn, sync.id, &app_before).await;
    // Each hub-only contact was sent to the app exactly once: the number of records
    // created equals the number of creates the engine logged.
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_activity WHERE sync_id = $1 AND kind = 'created_in_app'",
    )
    .bind(sync.id)
    .fetch_one(s.pool())
    .await
    .unwrap();
    let app_after = s.app_all(conn, "contacts").await;
    assert_eq!(created as usize, app_after.len() - app_before.len());
}

#[sqlx::test]
async fn an_initial_sync_killed_twice_resumes_with_no_duplicate_and_nothing_missing(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    // 20,000 contacts in all.
    seed_both(&s, conn, 10_000, 10_000).await;
    let app_before = s.app_all(conn, "contacts").await;
    let sync = s.sync(conn).create().await;
    let progress = |v: &tandem::model::SyncView| v.progress.percent;
    for kill_at in [20u8, 55u8] {
        let mut worker = s.spawn_worker(2);
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let v = s.status(sync.id).await;
            if progress(&v) >= kill_at + (rand::random::<u8>() % 10)
                || v.phase == SyncPhase::Listening
            {
                break;
            }
            assert!(Instant::now() < deadline, "no progress: {v:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worker.kill().expect("SIGKILL");
        worker.wait().expect("reaped");
    }
    let mut worker = s.spawn_worker(2);
    wait_listening(&s, sync.id, Duration::from_secs(900)).await;
    let _ = worker.kill();
    let _ = worker.wait();
    assert_converged(&s, conn, sync.id, &app_before).await;
}

#[sqlx::test]
async fn a_sync_converges_while_the_app_fails_a_fifth_of_its_requests(pool: PgPool) {
    let s = stack(pool).await;
    let conn = s.connect("acme").await;
    seed_both(&s, conn, 300, 300).await;
    let app_before = s.app_all(conn, "contacts").await;
    s.set_faults(json!({"error_rate": 0.2, "latency_ms": 5, "rate_limit": {"requests": 40, "window_secs": 1}})).await;
    let sync = s.sync(conn).create().await;
    let stop = tandem::engine::worker::spawn(s.engine.clone(), 2, "server");
    wait_listening(&s, sync.id, Duration::from_secs(600)).await;
    // Changes keep flowing under faults too.
    let hub = s.hub_all(ObjectType::Contacts).await;
    let target = hub
        .iter()
        .find(|r| r.properties.contains_key("email"))
        .unwrap();
    s.hub_update(
        ObjectType::Contacts,
        target.id,
        json!({"firstname": "UnderFire"}),
    )
    .await;
    let email = target.properties["email"].clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The connector retries the injected failures.
        let app = s.app_all(conn, "contacts").await;
        let hit = app.iter().find(|r| {
            email_key(r.properties.get("email")) == tandem::engine::plan::normalise_email(&email)
        });
        if hit
            .and_then(|r| r.properties.get("first_name"))
            .and_then(|v| v.as_str())
            == Some("UnderFire")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change did not arrive under faults"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    s.set_faults(json!({"error_rate": 0.0, "latency_ms": 0, "rate_limit": null}))
        .await;
    let stats = s.demo_stats().await;
    assert!(
        stats["errors_injected"].as_u64().unwrap_or(0) > 0,
        "faults were really injected: {stats}"
    );
    assert_converged(&s, conn, sync.id, &app_before).await;
}
