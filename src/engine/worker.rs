//! Workers: take jobs from the queue and run them; a listener turns Postgres
//! notifications (hub changes, webhook deliveries, new jobs) into jobs and wake-ups; a
//! scheduler adds the periodic safety nets (app polling, retries, missed notifications).
//! `tandem serve` runs a few workers in-process, `tandem worker` runs more elsewhere;
//! they all share one queue.

use super::definition::{self, SyncRow};
use super::queue::{self, Job, NewJob};
use super::runner::{self, BatchError, Outcome, Run, Stop};
use crate::connectors::{registry, Capabilities, ChangeNotices, Connector};
use crate::model::SyncPhase;
use crate::platform::connections;
use crate::platform::secrets::SecretKey;
use crate::platform::Config;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

/// How long a worker owns a job before another may take it over
/// (`TANDEM_JOB_LEASE_SECS`, default 120): a crashed worker's job resumes after it.
pub(crate) fn lease() -> Duration {
    std::env::var("TANDEM_JOB_LEASE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(120))
}
/// A job blocked by something a person must fix is looked at again after this.
const BLOCKED_RETRY: Duration = Duration::from_secs(300);

/// A connection's connector and what its app can do.
type AppAccess = (Arc<dyn Connector>, Capabilities);

pub struct Engine {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub key: SecretKey,
    /// One connector (rate limiter, HTTP client) per connection and process, with what
    /// its app can do.
    connectors: Mutex<HashMap<Uuid, AppAccess>>,
    wake: Notify,
    /// Seconds between safety-net polls of each app (`TANDEM_POLL_SECS`, default 60).
    pub poll_every: Duration,
    /// Apps that send no change notices, with the interval they are polled at.
    polled: Vec<(String, Duration)>,
}

impl Engine {
    pub fn new(pool: PgPool, config: Arc<Config>, key: SecretKey) -> Arc<Self> {
        let poll_every = std::env::var("TANDEM_POLL_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(60));
        let polled = registry::app_definitions(&config.apps)
            .iter()
            .filter_map(|d| match d.capabilities().change_notices {
                ChangeNotices::Polling(every) => Some((d.listing().id.clone(), every)),
                ChangeNotices::Webhooks => None,
            })
            .collect();
        Arc::new(Engine {
            pool,
            config,
            key,
            connectors: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            poll_every,
            polled,
        })
    }

    async fn connector(&self, connection_id: Uuid, app: &str) -> Result<AppAccess, BatchError> {
        let cached = self
            .connectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&connection_id)
            .cloned();
        if let Some(c) = cached {
            return Ok(c);
        }
        let def = registry::app_definition(&self.config.apps, app).ok_or_else(|| {
            BatchError::new(
                Stop::TurnOff,
                format!("The app `{app}` is not available in this version of Tandem."),
            )
        })?;
        let c = connections::connector_for(&self.pool, &self.key, &def, connection_id)
            .await
            .map_err(|e| BatchError::new(Stop::Pause, e.message))?;
        let entry = (c, def.capabilities());
        self.connectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(connection_id, entry.clone());
        Ok(entry)
    }

    /// Runs the next due job, if any. `Ok(false)`: the queue had nothing due.
    pub async fn run_one(&self, worker: &str) -> anyhow::Result<bool> {
        let Some(job) = queue::dequeue(&self.pool, worker, lease()).await? else {
            return Ok(false);
        };
        self.run_job(&job).await?;
        Ok(true)
    }

    /// Runs a leased job and records how it ended, in a span naming the job: every line
    /// logged meanwhile, the runner's too, carries its sync and kind.
    #[tracing::instrument(
        skip_all,
        fields(job = job.id, kind = %job.kind, sync_id = job.sync_id.map(tracing::field::display)),
        err
    )]
    async fn run_job(&self, job: &Job) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let outcome = self.execute(job).await;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            ok = outcome.is_ok(),
            "job ran"
        );
        match outcome {
            Ok(_) => {
                if let Some(sync_id) = job.sync_id {
                    definition::clear_error(&mut *self.pool.acquire().await?, sync_id).await?;
                }
            }
            Err(e) if e.stop == Stop::TurnOff => {
                tracing::warn!(error = %e.error, "sync turned off");
                if let Some(sync_id) = job.sync_id {
                    super::notify::turn_off_by_error(&self.pool, &self.config, sync_id, &e.error)
                        .await?;
                }
            }
            Err(e) => {
                let delay = if e.stop == Stop::Pause {
                    BLOCKED_RETRY
                } else {
                    e.retry_after.unwrap_or_else(|| {
                        queue::backoff(
                            job.attempts,
                            Duration::from_secs(1),
                            Duration::from_secs(600),
                        )
                    })
                };
                tracing::warn!(error = %e.error, ?delay, "job will be retried");
                let mut tx = self.pool.begin().await?;
                queue::release(&mut tx, job, delay, Some(&e.error), false).await?;
                if let Some(sync_id) = job.sync_id {
                    definition::set_error(&mut tx, sync_id, &e.error).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn execute(&self, job: &Job) -> Result<Outcome, BatchError> {
        if job.kind == super::export::KIND {
            return super::export::run(&self.pool, &self.config, job).await;
        }
        let Some(sync_id) = job.sync_id else {
            return self.finish(job).await;
        };
        let mut conn = self.pool.acquire().await?;
        let Some(sync) = definition::get_any(&mut conn, sync_id).await? else {
            drop(conn);
            return self.finish(job).await;
        };
        drop(conn);
        if !sync.enabled {
            return self.finish(job).await;
        }
        let listening = sync.phase == SyncPhase::Listening;
        if matches!(
            job.kind.as_str(),
            runner::HUB_CHANGES | runner::APP_CHANGES | runner::EVENTS | runner::RETRY
        ) && !listening
        {
            // The initial sync replays these when it completes.
            return self.finish(job).await;
        }
        let app: (String, String) =
            sqlx::query_as("SELECT app, status FROM connections WHERE id = $1")
                .bind(sync.connection_id)
                .fetch_one(&self.pool)
                .await?;
        if app.1 != "connected" {
            return Err(BatchError::new(
                Stop::Pause,
                "The connected account needs reconnecting: the sync is paused until then.",
            ));
        }
        let hub_object = super::hub_side::object_type(&sync.hub_object).ok_or_else(|| {
            BatchError::new(
                Stop::TurnOff,
                format!("The hub has no object called {}.", sync.hub_object),
            )
        })?;
        let (connector, capabilities) = self.connector(sync.connection_id, &app.0).await?;
        let run = Run {
            pool: &self.pool,
            config: &self.config,
            sync: &sync,
            connector,
            capabilities,
            hub_object,
            schema: super::hub_side::load_schema(&self.pool, sync.portal_id, hub_object).await?,
        };
        runner::run(&run, job).await
    }

    async fn finish(&self, job: &Job) -> Result<Outcome, BatchError> {
        runner::complete(&self.pool, job).await
    }

    /// Runs jobs until none is due: what tests call instead of sleeping.
    pub async fn drain(&self, worker: &str) -> anyhow::Result<usize> {
        let mut n = 0;
        // A ready job is skipped while another transaction holds its row for a moment
        // (a webhook asking for the same job again): the queue is only empty when no
        // ready job is left. Bounded, so a job held for long cannot hang the caller.
        for _ in 0..200 {
            while self.run_one(worker).await? {
                n += 1;
            }
            if !queue::any_ready(&self.pool).await? {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(n)
    }

    /// A worker loop until `shutdown` turns true.
    pub async fn work(self: Arc<Self>, worker: String, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.run_one(&worker).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "worker error"),
            }
            // A notice that came while this loop was busy left a permit (`notify_one`):
            // it wakes at once rather than after the second's sleep.
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Turns notifications into jobs and wake-ups.
    pub async fn listen(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let result = async {
                let mut listener = PgListener::connect_with(&self.pool).await?;
                listener
                    .listen_all([queue::CHANNEL, crate::hub::changes::CHANNEL])
                    .await?;
                loop {
                    tokio::select! {
                        n = listener.recv() => {
                            let n = n?;
                            match n.channel() {
                                c if c == crate::hub::changes::CHANNEL => self.on_hub_change(n.payload()).await?,
                                _ => {}
                            }
                            // One loop per notice: the others would only find the job
                            // taken (a busy loop looks at the queue again by itself).
                            self.wake.notify_one();
                        }
                        _ = shutdown.changed() => return Ok::<(), anyhow::Error>(()),
                    }
                }
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "listener lost; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// A sync's own writes need no look (the feed would show them as its echoes; the
    /// scheduler moves its position past them), everyone else's do, at once.
    async fn on_hub_change(&self, payload: &str) -> anyhow::Result<()> {
        let Some(notice) = crate::hub::changes::ChangeNotice::parse(payload) else {
            return Ok(());
        };
        let ids = definition::listening_in_portal(&self.pool, notice.portal_id).await?;
        let mut conn = self.pool.acquire().await?;
        for id in ids {
            if notice.origin == Some(crate::hub::WriteOrigin::Sync(id)) {
                continue;
            }
            queue::enqueue(&mut conn, NewJob::new(runner::HUB_CHANGES, id)).await?;
        }
        Ok(())
    }

    /// The periodic safety nets, every few seconds in every process (jobs are
    /// deduplicated); often enough that a polled app is asked on time.
    pub async fn schedule(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let tick = self
            .polled
            .iter()
            .map(|(_, every)| *every / 10)
            .min()
            .unwrap_or(Duration::from_secs(5))
            .clamp(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            if let Err(e) = self.schedule_once().await {
                tracing::warn!(error = %e, "scheduler error");
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    pub async fn schedule_once(&self) -> anyhow::Result<()> {
        let due = definition::due_safety_nets(&self.pool, self.poll_every, &self.polled).await?;
        let mut conn = self.pool.acquire().await?;
        for sync in due {
            if sync.poll {
                queue::enqueue(&mut conn, NewJob::new(runner::APP_CHANGES, sync.id)).await?;
                if sync.event_sync {
                    queue::enqueue(&mut conn, NewJob::new(runner::EVENTS, sync.id)).await?;
                }
            }
            if sync.retry {
                queue::enqueue(&mut conn, NewJob::new(runner::RETRY, sync.id)).await?;
            }
            if sync.behind {
                queue::enqueue(&mut conn, NewJob::new(runner::HUB_CHANGES, sync.id)).await?;
            }
        }
        // Deliveries older than a day were acted on long ago (the change feed is the truth).
        sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < now() - interval '1 day'")
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// Starts `workers` worker loops, the listener and the scheduler; returns the shutdown switch.
pub fn spawn(engine: Arc<Engine>, workers: usize, name: &str) -> watch::Sender<bool> {
    let (tx, rx) = watch::channel(false);
    for i in 0..workers.max(1) {
        let id = format!("{name}-{}-{i}", std::process::id());
        tokio::spawn(engine.clone().work(id, rx.clone()));
    }
    tokio::spawn(engine.clone().listen(rx.clone()));
    tokio::spawn(engine.schedule(rx));
    tx
}

/// For status views: is a sync row enabled and where is it.
pub fn is_listening(sync: &SyncRow) -> bool {
    sync.enabled && sync.phase == SyncPhase::Listening
}
