//! The job queue in Postgres, shared by `tandem serve` and any number of `tandem worker`
//! processes: no job done twice, none lost.
//!
//! A worker *leases* a job (`FOR UPDATE SKIP LOCKED`, then `locked_by` + `locked_until`)
//! instead of holding a transaction open during slow HTTP calls. The work's own database
//! writes and the job's completion commit in one transaction, and completion only
//! succeeds while the lease is still ours: a worker that stalled past its lease (and
//! whose job another worker took over) has its transaction rolled back. A crashed
//! worker's lease simply expires.
//!
//! Jobs with a `dedupe_key` exist at most once while waiting; asking again while one
//! runs sets `rerun`, so a change that arrives during a run is never missed.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// The NOTIFY channel workers listen on to pick up new jobs at once.
pub const CHANNEL: &str = "jobs";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub sync_id: Option<Uuid>,
    pub payload: Value,
    pub attempts: i32,
    pub locked_by: Option<String>,
}

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub sync_id: Option<Uuid>,
    pub dedupe_key: Option<String>,
    pub payload: Value,
    pub delay: Duration,
}

impl<'a> NewJob<'a> {
    pub fn new(kind: &'a str, sync_id: Uuid) -> Self {
        NewJob {
            kind,
            sync_id: Some(sync_id),
            dedupe_key: Some(format!("{kind}:{sync_id}")),
            payload: Value::Object(Default::default()),
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Adds a job, or (same `dedupe_key`) brings the waiting one forward / marks the running
/// one for a rerun.
pub async fn enqueue(conn: &mut PgConnection, job: NewJob<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, sync_id, dedupe_key, payload, run_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
         ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO UPDATE SET
             run_at = LEAST(jobs.run_at, EXCLUDED.run_at),
             rerun = jobs.rerun OR (jobs.locked_until IS NOT NULL AND jobs.locked_until > now())",
    )
    .bind(job.kind)
    .bind(job.sync_id)
    .bind(job.dedupe_key)
    .bind(job.payload)
    .bind(job.delay.as_secs_f64())
    .execute(&mut *conn)
    .await?;
    if job.delay.is_zero() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Leases the next due job for `worker`, or `None`. Jobs of one sync never run at once
/// (a record is never planned by two jobs from two snapshots): a job whose sync has
/// another leased job waits for it. Such jobs are not even locked while looking: the
/// worker ending the other job must find them free, not skipped as held by a looker
/// (it would sleep, the job waiting for the next notice).
pub async fn dequeue(pool: &PgPool, worker: &str, lease: Duration) -> sqlx::Result<Option<Job>> {
    let mut tx = pool.begin().await?;
    let candidates: Vec<(i64, Option<Uuid>)> = sqlx::query_as(
        "SELECT id, sync_id FROM jobs j
         WHERE run_at <= now() AND (locked_until IS NULL OR locked_until < now())
           AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.sync_id = j.sync_id AND o.id <> j.id
                                                  AND o.locked_until > now())
         ORDER BY run_at, id
         FOR UPDATE SKIP LOCKED
         LIMIT 20",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut busy: Vec<Uuid> = Vec::new();
    for (id, sync_id) in candidates {
        if let Some(sync_id) = sync_id {
            if busy.contains(&sync_id) || !sync_is_free(&mut tx, sync_id, id).await? {
                busy.push(sync_id);
                continue;
            }
        }
        let job = sqlx::query_as(
            "UPDATE jobs SET locked_by = $2, locked_until = now() + make_interval(secs => $3),
                 attempts = attempts + 1
             WHERE id = $1
             RETURNING id, kind, sync_id, payload, attempts, locked_by",
        )
        .bind(id)
        .bind(worker)
        .bind(lease.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Some(job));
    }
    // Ended here, not on drop: a dropped transaction's rollback runs later, on a pool
    // task, and until then its advisory locks make the syncs it looked at seem busy.
    tx.rollback().await?;
    Ok(None)
}

/// Whether some job could be leased now: due, not leased, and its sync not busy.
pub async fn any_ready(pool: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs j
          WHERE j.run_at <= now() AND (j.locked_until IS NULL OR j.locked_until < now())
            AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.sync_id = j.sync_id AND o.id <> j.id
                                                   AND o.locked_until > now()))",
    )
    .fetch_one(pool)
    .await
}

/// Whether no other job of the sync holds a lease. Leasing happens under the sync's
/// advisory lock, held until commit, and the check runs after taking it (a statement
/// whose snapshot sees every lease committed before): two workers cannot both pass.
async fn sync_is_free(conn: &mut PgConnection, sync_id: Uuid, job_id: i64) -> sqlx::Result<bool> {
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 7))")
            .bind(sync_id)
            .fetch_one(&mut *conn)
            .await?;
    if !locked {
        return Ok(false);
    }
    let leased: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE sync_id = $1 AND id <> $2 AND locked_until > now())",
    )
    .bind(sync_id)
    .bind(job_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(!leased)
}

/// Ends a job inside the transaction that commits its work. `false` means the lease was
/// lost (another worker owns the job now): the caller must roll back.
pub async fn complete(conn: &mut PgConnection, job: &Job) -> sqlx::Result<bool> {
    let deleted: Option<i64> = sqlx::query_scalar(
        "DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND NOT rerun RETURNING id",
    )
    .bind(job.id)
    .bind(&job.locked_by)
    .fetch_optional(&mut *conn)
    .await?;
    if deleted.is_some() {
        return Ok(true);
    }
    // Asked for again while it ran: run once more, now.
    let again: Option<i64> = sqlx::query_scalar(
        "UPDATE jobs SET rerun = false, locked_by = NULL, locked_until = NULL, run_at = now(), attempts = 0
         WHERE id = $1 AND locked_by = $2 RETURNING id",
    )
    .bind(job.id)
    .bind(&job.locked_by)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(again.is_some())
}

/// Releases a job to run again after `delay` (the next chunk of a long job, or a retry
/// after a transient failure), inside the transaction that commits what was done so far.
/// `false` means the lease was lost.
pub async fn release(
    conn: &mut PgConnection,
    job: &Job,
    delay: Duration,
    error: Option<&str>,
    reset_attempts: bool,
) -> sqlx::Result<bool> {
    let done: Option<i64> = sqlx::query_scalar(
        "UPDATE jobs SET locked_by = NULL, locked_until = NULL,
             run_at = now() + make_interval(secs => $3), last_error = $4,
             attempts = CASE WHEN $5 THEN 0 ELSE attempts END, rerun = false
         WHERE id = $1 AND locked_by = $2 RETURNING id",
    )
    .bind(job.id)
    .bind(&job.locked_by)
    .bind(delay.as_secs_f64())
    .bind(error)
    .bind(reset_attempts)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(done.is_some())
}

/// Keeps a lease alive during a long step; `false` means the lease was lost.
pub async fn extend(conn: &mut PgConnection, job: &Job, lease: Duration) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3) WHERE id = $1 AND locked_by = $2",
    )
    .bind(job.id)
    .bind(&job.locked_by)
    .bind(lease.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Job {
    /// Where a paged job goes on (see [`set_after`]); 0 on its first run.
    pub fn after(&self) -> i64 {
        self.payload
            .get("after")
            .and_then(|v| v.as_i64())
            .unwrap_or(0)
    }
}

/// A paged job remembers where it is: the next run goes on after `last`.
pub async fn set_after(conn: &mut PgConnection, job: &Job, last: i64) -> sqlx::Result<()> {
    set_payload(conn, job, "after", &serde_json::json!(last)).await
}

pub async fn remove_payload(conn: &mut PgConnection, job: &Job, key: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET payload = payload - $2::text WHERE id = $1")
        .bind(job.id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets `key` of the job's payload, for its next run.
pub async fn set_payload(
    conn: &mut PgConnection,
    job: &Job,
    key: &str,
    value: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET payload = payload || jsonb_build_object($2::text, $3::jsonb) WHERE id = $1")
        .bind(job.id)
        .bind(key)
        .bind(sqlx::types::Json(value))
        .execute(conn)
        .await?;
    Ok(())
}

/// Drops every job of a sync, running or waiting (the sync is off).
pub async fn delete_for_sync(conn: &mut PgConnection, sync_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE sync_id = $1")
        .bind(sync_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Capped exponential backoff with full jitter, for attempt `n` (1-based).
pub fn backoff(attempt: i32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 16).saturating_sub(1) as u32);
    let ceiling = exp.min(cap);
    let jitter: f64 = rand::random();
    ceiling.mul_f64(0.5 + jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(60);
        for attempt in 1..30 {
            let d = backoff(attempt, base, cap);
            assert!(d <= cap, "attempt {attempt}: {d:?}");
            let ceiling = base.saturating_mul(1 << (attempt.min(16) - 1)).min(cap);
            assert!(
                d >= ceiling / 2,
                "attempt {attempt}: {d:?} below half of {ceiling:?}"
            );
        }
        assert!(backoff(1, base, cap) <= base);
    }
}
