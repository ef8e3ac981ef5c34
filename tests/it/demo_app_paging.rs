//! Paging over 100,000 seeded contacts returns every record exactly once, also while
//! records are being updated during the scan; the change feed converges under updates.

use crate::demo_app_common::*;
use http::StatusCode;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tandem::demo_app::seed::SeedOptions;

/// Updates random contacts through the API until told to stop; returns how many.
fn spawn_updater(
    demo: &Demo,
    token: String,
    ids: Vec<i64>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let url = demo.url.clone();
    let http = demo.http.clone();
    tokio::spawn(async move {
        let mut updated = 0;
        let mut round = 0u64;
        while !stop.load(Ordering::SeqCst) {
            round += 1;
            let inputs: Vec<Value> = (0..20)
                .map(|_| {
                    let id = ids[rand::thread_rng().gen_range(0..ids.len())];
                    json!({"id": id.to_string(), "properties": {"job_title": format!("Title {round}")}})
                })
                .collect();
            let res = http
                .post(format!("{url}/v1/contacts/batch"))
                .bearer_auth(&token)
                .json(&json!({ "inputs": inputs }))
                .send()
                .await
                .expect("update request");
            assert_eq!(res.status().as_u16(), 200);
            let body: Value = res.json().await.expect("json");
            updated += body["results"]
                .as_array()
                .expect("results")
                .iter()
                .filter(|r| r["status"] == "updated")
                .count();
        }
        updated
    })
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn paging_100k_contacts_returns_each_exactly_once_during_updates(
    pool_opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_opts
        .max_connections(12)
        .connect_with(connect)
        .await
        .unwrap();
    let demo = start(&pool, |_| {}).await;
    let started = Instant::now();
    let report = demo
        .seed(SeedOptions {
            account: "big".into(),
            contacts: 100_000,
            companies: 200,
            deals: 0,
            invoices: 0,
            events: Some(0),
            if_empty: false,
        })
        .await;
    assert_eq!(report.contacts, 100_000);
    let seeding = started.elapsed();
    println!("seeded 100,000 contacts in {seeding:?}");

    let token = demo.token("big").await;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM records WHERE object = 'contacts' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(ids.len(), 100_000);

    let stop = Arc::new(AtomicBool::new(false));
    let updater = spawn_updater(&demo, token.clone(), ids.clone(), stop.clone());

    let scan = Instant::now();
    let mut seen: HashSet<String> = HashSet::with_capacity(100_000);
    let mut returned = 0usize;
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut updated_during_scan = 0usize;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/contacts?limit=100&cursor={c}"),
            None => "/v1/contacts?limit=100".to_string(),
        };
        let page = demo.get(&token, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let results = page.body["results"].as_array().unwrap();
        assert!(results.len() <= 100);
        for r in results {
            returned += 1;
            let id = r["id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "record {id} returned twice");
            if r["properties"]["job_title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Title "))
            {
                updated_during_scan += 1;
            }
        }
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    let updates = updater.await.unwrap();
    println!(
        "scanned {pages} pages in {:?} while {updates} updates ran",
        scan.elapsed()
    );

    assert_eq!(returned, 100_000, "every record exactly once");
    let expected: HashSet<String> = ids.iter().map(|i| i.to_string()).collect();
    assert_eq!(seen, expected);
    assert!(updates > 0, "updates ran during the scan");
    assert!(
        updated_during_scan > 0,
        "the scan saw records updated while it ran"
    );
    // Our own pool: close it so the test database can be dropped.
    pool.close().await;
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn the_change_feed_converges_while_records_change(
    pool_opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_opts
        .max_connections(12)
        .connect_with(connect)
        .await
        .unwrap();
    let demo = start(&pool, |_| {}).await;
    demo.seed(SeedOptions {
        account: "feed".into(),
        contacts: 3000,
        companies: 20,
        deals: 0,
        invoices: 0,
        events: Some(0),
        if_empty: false,
    })
    .await;
    let token = demo.token("feed").await;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM records WHERE object = 'contacts' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut updater = Some(spawn_updater(
        &demo,
        token.clone(),
        ids.clone(),
        stop.clone(),
    ));
    let mut updates = 0;
    let mut deleted = 0;

    // Read the feed from the beginning while updates (and a few deletes) happen; keep
    // the last version of each record, as an incremental sync would.
    let mut latest: HashMap<String, Value> = HashMap::new();
    let mut cursor = String::new();
    let mut rounds = 0;
    loop {
        let page = demo
            .get(
                &token,
                &format!("/v1/contacts/changes?limit=100&cursor={cursor}"),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let results = page.body["results"].as_array().unwrap().clone();
        for r in &results {
            latest.insert(r["id"].as_str().unwrap().to_string(), r.clone());
        }
        let next = page.body["next_cursor"]
            .as_str()
            .expect("a cursor, always")
            .to_string();
        rounds += 1;
        if rounds == 10 {
            for id in &ids[..5] {
                assert_eq!(
                    demo.delete(&token, &format!("/v1/contacts/{id}"))
                        .await
                        .status,
                    StatusCode::NO_CONTENT
                );
                deleted += 1;
            }
        }
        if results.is_empty() {
            assert_eq!(next, cursor, "an empty page hands back the same cursor");
            match updater.take() {
                // Caught up with the writer: stop it, then read what it left.
                Some(task) => {
                    stop.store(true, Ordering::SeqCst);
                    updates = task.await.unwrap();
                }
                None => break,
            }
        }
        cursor = next;
    }
    assert!(updates > 0);
    assert!(rounds > 30);

    assert_eq!(latest.len(), 3000, "every record appears in the feed");
    // The last version read of each record is its current state.
    let rows: Vec<(i64, Value, bool)> =
        sqlx::query_as("SELECT id, properties, archived FROM records WHERE object = 'contacts'")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (id, props, archived) in rows {
        let seen = &latest[&id.to_string()];
        assert_eq!(seen["archived"], archived, "record {id}");
        assert_eq!(
            seen["properties"]["job_title"], props["job_title"],
            "record {id}"
        );
    }
    let tombstones = latest.values().filter(|r| r["deleted"] == true).count();
    assert_eq!(tombstones, deleted);
    pool.close().await;
}
