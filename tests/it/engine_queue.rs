//! The job queue against a real Postgres: leases, no double work, reruns, lost leases.

use sqlx::PgPool;
use std::collections::HashSet;
use std::time::Duration;
use tandem::engine::queue::{self, NewJob};

fn job(key: &str) -> NewJob<'static> {
    NewJob {
        kind: "test",
        sync_id: None,
        dedupe_key: Some(key.to_string()),
        payload: serde_json::json!({ "key": key }),
        delay: Duration::ZERO,
    }
}

#[sqlx::test]
async fn concurrent_workers_never_take_the_same_job(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    for i in 0..200 {
        queue::enqueue(&mut conn, job(&format!("k{i}")))
            .await
            .unwrap();
    }
    drop(conn);
    let mut handles = Vec::new();
    for w in 0..8 {
        let pool = pool.clone();
        handles.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            while let Some(j) = queue::dequeue(&pool, &format!("w{w}"), Duration::from_secs(60))
                .await
                .unwrap()
            {
                let mut tx = pool.begin().await.unwrap();
                assert!(queue::complete(&mut tx, &j).await.unwrap());
                tx.commit().await.unwrap();
                taken.push(j.id);
            }
            taken
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200, "every job done");
    assert_eq!(unique.len(), 200, "no job done twice");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test]
async fn a_job_asked_for_while_running_runs_again(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    queue::enqueue(&mut conn, job("feed")).await.unwrap();
    queue::enqueue(&mut conn, job("feed")).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "deduplicated while waiting");

    let running = queue::dequeue(&pool, "w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    // A change arrives while it runs.
    queue::enqueue(&mut conn, job("feed")).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert!(queue::complete(&mut tx, &running).await.unwrap());
    tx.commit().await.unwrap();
    let again = queue::dequeue(&pool, "w2", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        again.is_some(),
        "the job runs once more after the change that arrived meanwhile"
    );
}

#[sqlx::test]
async fn a_worker_that_lost_its_lease_cannot_complete(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    queue::enqueue(&mut conn, job("slow")).await.unwrap();
    let first = queue::dequeue(&pool, "stalled", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    // The lease expires; another worker takes the job over.
    let mut second = None;
    for _ in 0..200 {
        second = queue::dequeue(&pool, "fresh", Duration::from_secs(60))
            .await
            .unwrap();
        if second.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = second.expect("the expired lease is taken over");
    assert_eq!(second.id, first.id);
    let mut tx = pool.begin().await.unwrap();
    assert!(
        !queue::complete(&mut tx, &first).await.unwrap(),
        "the stalled worker must roll back"
    );
    tx.rollback().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert!(queue::complete(&mut tx, &second).await.unwrap());
    tx.commit().await.unwrap();
}

#[sqlx::test]
async fn released_jobs_wait_for_their_delay(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    queue::enqueue(&mut conn, job("retry")).await.unwrap();
    let j = queue::dequeue(&pool, "w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert!(queue::release(
        &mut tx,
        &j,
        Duration::from_secs(3600),
        Some("503 from the app"),
        false
    )
    .await
    .unwrap());
    tx.commit().await.unwrap();
    assert!(queue::dequeue(&pool, "w", Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());
    let (attempts, error): (i32, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(error.as_deref(), Some("503 from the app"));
}

#[sqlx::test]
async fn jobs_of_one_sync_never_run_at_once(pool: PgPool) {
    let s = crate::engine_common::stack(pool.clone()).await;
    let conn = s.connect("acme").await;
    let first = s.sync(conn).create().await.id;
    let second = s.sync(conn).objects("companies").create().await.id;
    sqlx::query("DELETE FROM jobs")
        .execute(&pool)
        .await
        .unwrap();
    let mut c = pool.acquire().await.unwrap();
    for kind in ["hub_changes", "app_changes", "retry"] {
        queue::enqueue(&mut c, NewJob::new(kind, first))
            .await
            .unwrap();
    }
    queue::enqueue(&mut c, NewJob::new("hub_changes", second))
        .await
        .unwrap();
    queue::enqueue(&mut c, job("no-sync")).await.unwrap();

    let lease = Duration::from_secs(60);
    let a = queue::dequeue(&pool, "w1", lease).await.unwrap().unwrap();
    assert_eq!(a.sync_id, Some(first));
    let b = queue::dequeue(&pool, "w2", lease).await.unwrap().unwrap();
    assert_eq!(
        b.sync_id,
        Some(second),
        "the first sync is busy: the next sync's job"
    );
    let c3 = queue::dequeue(&pool, "w3", lease).await.unwrap().unwrap();
    assert_eq!(c3.sync_id, None);
    assert!(
        queue::dequeue(&pool, "w4", lease).await.unwrap().is_none(),
        "both syncs are busy"
    );
    let mut tx = pool.begin().await.unwrap();
    assert!(queue::complete(&mut tx, &a).await.unwrap());
    tx.commit().await.unwrap();
    let d = queue::dequeue(&pool, "w4", lease).await.unwrap().unwrap();
    assert_eq!(d.sync_id, Some(first), "free again once its job ended");
    assert_ne!(d.id, a.id);

    // Many workers racing: never two leases of one sync at the same time.
    sqlx::query("DELETE FROM jobs")
        .execute(&pool)
        .await
        .unwrap();
    for i in 0..60 {
        let sync = if i % 2 == 0 { first } else { second };
        let mut j = NewJob::new("test", sync);
        j.dedupe_key = None;
        queue::enqueue(&mut c, j).await.unwrap();
    }
    drop(c);
    let running = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
    let mut handles = Vec::new();
    for w in 0..6 {
        let (pool, running) = (pool.clone(), running.clone());
        handles.push(tokio::spawn(async move {
            let mut done = 0;
            loop {
                let Some(j) = queue::dequeue(&pool, &format!("r{w}"), lease)
                    .await
                    .unwrap()
                else {
                    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    if left == 0 {
                        return done;
                    }
                    tokio::task::yield_now().await;
                    continue;
                };
                let sync = j.sync_id.unwrap();
                assert!(
                    running.lock().unwrap().insert(sync),
                    "two jobs of one sync at once"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.lock().unwrap().remove(&sync);
                let mut tx = pool.begin().await.unwrap();
                assert!(queue::complete(&mut tx, &j).await.unwrap());
                tx.commit().await.unwrap();
                done += 1;
            }
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 60, "every job ran once");
}
