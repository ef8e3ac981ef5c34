//! The whole stack for engine tests: Tandem's router served on a real port over the
//! test's Postgres database, the demo app served on another port over its own fresh
//! database, an admin who connected a demo account through the real OAuth flow, and an
//! engine whose jobs the test drains (no sleeping, no background workers).

use crate::common::PortalHub;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::future::IntoFuture;
use std::sync::Arc;
use tandem::connectors::{registry, Connector, RecordWrite};
use tandem::demo_app::{self, seed, DemoConfig, DemoState};
use tandem::engine::worker::Engine;
use tandem::hub::{records, ObjectType, WriteOrigin};
use tandem::model::*;
use tandem::platform::auth::{AuthVia, Principal};
use tandem::platform::{connections, db, install, portals, users, AppState, Config};
use tandem::server::app;
use uuid::Uuid;

/// The HubSpot-wire servers' limit in tests, as (requests per 10 s, the env form).
pub const HUBSPOT_RATE: (u32, &str) = (1000, "1000/10");
/// Tandem's OAuth app at the HubSpot-wire servers: (client id, client secret).
pub const HUBSPOT_CLIENT: (&str, &str) = ("tandem-test-app", "hubspot-wire-client-secret");

pub struct Stack {
    pub state: AppState,
    pub data_dir: std::path::PathBuf,
    pub tandem_url: String,
    pub demo: DemoState,
    pub demo_url: String,
    pub demo_pool: PgPool,
    demo_database: String,
    pub engine: Arc<Engine>,
    pub admin: Principal,
}

/// A fresh database on the test server for the demo app (it has its own migrations),
/// with its name.
async fn demo_database() -> (PgPool, String) {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set by the test runner");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .expect("connect");
    let name = format!("tdemo_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    let mut url = url::Url::parse(&base).expect("url");
    url.set_path(&name);
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(url.as_str())
        .await
        .expect("connect demo db");
    (pool, name)
}

pub async fn stack(pool: PgPool) -> Stack {
    stack_with(pool, |_| {}).await
}

pub async fn stack_with(pool: PgPool, tweak: impl FnOnce(&mut DemoConfig)) -> Stack {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,tandem=info".into()),
        )
        .with_test_writer()
        .try_init();
    db::migrate_pool(&pool).await.expect("migrations");
    let (demo_pool, demo_database) = demo_database().await;
    let mut demo_config = DemoConfig::for_tests("unused");
    tweak(&mut demo_config);
    let demo = demo_app::prepare(demo_pool.clone(), demo_config)
        .await
        .expect("demo app");
    let demo_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let demo_url = format!("http://{}", demo_listener.local_addr().expect("addr"));
    tokio::spawn(axum::serve(demo_listener, demo_app::router(demo.clone())).into_future());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tandem_url = format!("http://{}", listener.local_addr().expect("addr"));
    let dir = std::env::temp_dir().join(format!("tandem-engine-{}", Uuid::new_v4()));
    let mut config = Config::for_tests("unused", dir.clone());
    config.public_url = tandem_url.clone();
    config.apps.demo_app_url = demo_url.clone();
    // Tests go as fast as the demo app lets them (its own limit is off in tests).
    config.apps.app_rate_limit = None;
    // The HubSpot-wire servers of the tests (tests/it/hubspot.rs) allow as much.
    config.apps.hubspot.rate_limit = (HUBSPOT_RATE.0, std::time::Duration::from_secs(10));
    config.apps.hubspot.client = Some((HUBSPOT_CLIENT.0.into(), HUBSPOT_CLIENT.1.into()));
    let state = AppState::new(pool.clone(), config).expect("state");
    tokio::spawn(axum::serve(listener, app(state.clone())).into_future());

    let portal_id = portals::ensure(&pool, "demo", "Demo portal")
        .await
        .expect("portal");
    let user_id = users::create(
        &pool,
        portal_id,
        users::NewUser {
            email: "admin@example.com".into(),
            name: "Admin".into(),
            password: "correct horse battery".into(),
            role: Role::SuperAdmin,
        },
    )
    .await
    .expect("admin");
    let admin = users::principal(&pool, user_id, AuthVia::Session)
        .await
        .expect("principal")
        .expect("admin");
    let engine = Engine::new(pool.clone(), state.config.clone(), state.secret_key.clone());
    Stack {
        state,
        data_dir: dir,
        tandem_url,
        demo,
        demo_url,
        demo_pool,
        demo_database,
        engine,
        admin,
    }
}

/// The demo app's database goes with its stack: sqlx drops the test's own database, not
/// this one, and a run makes dozens of them (about 30 MB each). Kept when the test
/// failed, to look into.
impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if std::thread::panicking() {
            return;
        }
        let name = self.demo_database.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with
        // its own runtime does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&base)
                    .await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!(
                "could not drop the demo database {}: {e}",
                self.demo_database
            );
        }
    }
}

impl Stack {
    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// Tandem's test database as a URL, for `tandem worker` processes.
    pub fn database_url(&self) -> String {
        let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let mut url = url::Url::parse(&base).expect("url");
        url.set_path(
            self.state
                .pool
                .connect_options()
                .get_database()
                .expect("a database name"),
        );
        url.to_string()
    }

    /// A `tandem worker` process sharing this test's database, secret key and demo app.
    pub fn spawn_worker(&self, concurrency: usize) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["worker", "--concurrency", &concurrency.to_string()])
            .env("DATABASE_URL", self.database_url())
            .env("TANDEM_DATA_DIR", &self.data_dir)
            .env("TANDEM_DEMO_APP_URL", &self.demo_url)
            .env("TANDEM_PUBLIC_URL", &self.tandem_url)
            .env("TANDEM_APP_RATE_LIMIT", "off")
            .env("TANDEM_HUBSPOT_RATE_LIMIT", HUBSPOT_RATE.1)
            .env("TANDEM_JOB_LEASE_SECS", "3")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start tandem worker")
    }

    pub async fn seed_app(&self, account: &str, contacts: u32, companies: u32, deals: u32) {
        seed::seed(
            &self.demo.pool,
            &seed::SeedOptions {
                account: account.into(),
                contacts,
                companies,
                deals,
                invoices: 0,
                events: Some(0),
                if_empty: false,
            },
        )
        .await
        .expect("seed");
    }

    pub async fn account(&self, account: &str) {
        seed::ensure_account(&self.demo.pool, account)
            .await
            .expect("account");
    }

    /// Installs the demo app for `account` the way a browser would: Tandem's install
    /// link, the demo app's consent form (Allow), Tandem's callback.
    pub async fn connect(&self, account: &str) -> Uuid {
        self.connect_with_scope(account, None).await
    }

    /// As [`Stack::connect`], with the consent narrowed to `scope` (space-separated) when given.
    pub async fn connect_with_scope(&self, account: &str, scope: Option<&str>) -> Uuid {
        self.account(account).await;
        let start = install::start(&self.state, &self.admin, "demo")
            .await
            .expect("install starts");
        let url = url::Url::parse(&start.authorization_url).expect("url");
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        if let Some(scope) = scope {
            form.retain(|(k, _)| k != "scope");
            form.push(("scope".into(), scope.into()));
        }
        form.push(("username".into(), format!("{account}-admin")));
        form.push(("password".into(), "demo".into()));
        form.push(("decision".into(), "allow".into()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = http
            .post(format!("{}/oauth/authorize", self.demo_url))
            .form(&form)
            .send()
            .await
            .expect("consent");
        assert_eq!(res.status().as_u16(), 302);
        let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let param = |k: &str| {
            back.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let done = install::complete(
            &self.state,
            Some(&self.admin),
            install::CallbackParams {
                code: param("code"),
                state: param("state"),
                error: param("error"),
                error_description: param("error_description"),
            },
        )
        .await
        .unwrap_or_else(|f| panic!("install failed: {} {}", f.title, f.message));
        done.connection_id
    }

    /// Signs the admin in over HTTP, as the login form does; returns the session cookie
    /// (`name=value`) and where the sign-in says to go next (`next`, when given).
    pub async fn sign_in(&self, next: Option<&str>) -> (String, Option<String>) {
        let mut form = vec![
            ("email", "admin@example.com"),
            ("password", "correct horse battery"),
        ];
        if let Some(next) = next {
            form.push(("next", next));
        }
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/api/login", self.tandem_url))
            .header("origin", &self.tandem_url)
            .form(&form)
            .send()
            .await
            .expect("sign in");
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "sign-in: {}",
            res.status()
        );
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("tandem_session="))
            .expect("a session cookie");
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (cookie, location)
    }

    /// The connector of a stored connection, whatever its app.
    pub async fn connector(&self, connection_id: Uuid) -> Arc<dyn Connector> {
        let app: String = sqlx::query_scalar("SELECT app FROM connections WHERE id = $1")
            .bind(connection_id)
            .fetch_one(self.pool())
            .await
            .expect("connection");
        let def = registry::app_definition(&self.state.config.apps, &app).unwrap();
        connections::connector_for(
            &self.state.pool,
            &self.state.secret_key,
            &def,
            connection_id,
        )
        .await
        .unwrap()
    }

    /// A sync to set up, from [`contacts_input`]: the builder changes what a test needs.
    pub fn sync(&self, connection_id: Uuid) -> SyncBuilder<'_> {
        SyncBuilder {
            stack: self,
            input: contacts_input(connection_id),
        }
    }

    pub async fn create_sync(&self, input: &SyncInput) -> SyncView {
        tandem::engine::service::create(
            &self.state,
            self.admin.portal_id,
            self.admin.user_id,
            input,
        )
        .await
        .unwrap_or_else(|e| panic!("create_sync: {e:?}"))
    }

    /// Runs every due job, and again once the webhooks the demo app owes Tandem have
    /// arrived (the engine's own writes send some back, which queue their pairs until a
    /// job looked at them): the engine needs no sleeping in tests.
    pub async fn drain(&self) -> usize {
        let mut n = 0;
        for _ in 0..20 {
            let ran = self.engine.drain("test").await.expect("engine runs");
            n += ran;
            if !self.webhooks_arrived().await && ran == 0 {
                break;
            }
        }
        n
    }

    /// Waits (up to 3 s) for the demo app's due webhooks to be delivered; answers
    /// whether some were owed and all arrived (not when a test's faults hold them back).
    pub async fn webhooks_arrived(&self) -> bool {
        let mut waited = false;
        for _ in 0..300 {
            let owed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM webhook_deliveries
                 WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now() + interval '1 second'",
            )
            .fetch_one(&self.demo_pool)
            .await
            .expect("demo outbox");
            if owed == 0 {
                return waited;
            }
            waited = true;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    /// Runs jobs until the sync listens for changes (initial sync done).
    /// Runs the sync's initial sync in `tandem worker` processes, the first killed with
    /// SIGKILL once the sync is `kill_at` percent done; returns once the sync listens.
    pub async fn initial_sync_through_a_kill(&self, sync_id: Uuid, kill_at: u8) {
        use std::time::{Duration, Instant};
        let mut worker = self.spawn_worker(2);
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let v = self.status(sync_id).await;
            if v.progress.percent >= kill_at || v.phase == SyncPhase::Listening {
                break;
            }
            assert!(Instant::now() < deadline, "no progress: {v:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worker.kill().expect("SIGKILL");
        worker.wait().expect("reaped");
        let mut worker = self.spawn_worker(2);
        let deadline = Instant::now() + Duration::from_secs(600);
        while self.status(sync_id).await.phase != SyncPhase::Listening {
            assert!(Instant::now() < deadline, "the initial sync did not finish");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = worker.kill();
        let _ = worker.wait();
    }

    /// Installs a credential app through the automation API, as a script would: the
    /// server function with the admin's session. Answers the status and the body.
    pub async fn install_over_http(&self, app: &str, input: Value) -> (u16, Value) {
        let (cookie, _) = self.sign_in(None).await;
        let res = reqwest::Client::new()
            .post(format!("{}/api/install_with_credentials", self.tandem_url))
            .header("cookie", cookie)
            .header("origin", &self.tandem_url)
            .json(&json!({ "app": app, "input": input }))
            .send()
            .await
            .expect("install_with_credentials");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn run_initial(&self, sync_id: Uuid) -> SyncView {
        let v = self
            .run_until(sync_id, |v| v.phase == SyncPhase::Listening)
            .await;
        assert_eq!(
            v.phase,
            SyncPhase::Listening,
            "the initial sync stalled: {v:?}"
        );
        v
    }

    /// Runs the sync's jobs until none is left (a sync turned off drops its own).
    pub async fn settle(&self, sync_id: Uuid) -> SyncView {
        self.run_until(sync_id, |_| false).await
    }

    /// Runs jobs until `done` holds for the sync or it has no job left. A job waiting
    /// on a retry delay (or another worker's lease) is waited for until the queue says
    /// it is due, not polled for.
    async fn run_until(&self, sync_id: Uuid, done: impl Fn(&SyncView) -> bool) -> SyncView {
        loop {
            self.drain().await;
            let v = self.status(sync_id).await;
            if done(&v) {
                return v;
            }
            match self.next_job_due(Some(sync_id), false).await {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return v,
            }
        }
    }

    /// How long until the first job of `sync_id` (all syncs: `None`) can be leased, of
    /// those retrying after an error when `retrying`; `None` when there is no such job.
    async fn next_job_due(
        &self,
        sync_id: Option<Uuid>,
        retrying: bool,
    ) -> Option<std::time::Duration> {
        let secs: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM min(GREATEST(run_at, COALESCE(locked_until, run_at))) - now())::float8
               FROM jobs
              WHERE ($1::uuid IS NULL OR sync_id = $1)
                AND (NOT $2 OR (last_error IS NOT NULL AND attempts > 0))",
        )
        .bind(sync_id)
        .bind(retrying)
        .fetch_one(self.pool())
        .await
        .expect("jobs");
        secs.map(|s| std::time::Duration::from_secs_f64(s.max(0.0)))
    }

    /// Queues a job of the sync now, as the engine's triggers do.
    pub async fn enqueue(&self, kind: &str, sync_id: Uuid) {
        let mut conn = self.pool().acquire().await.unwrap();
        tandem::engine::queue::enqueue(
            &mut conn,
            tandem::engine::queue::NewJob::new(kind, sync_id),
        )
        .await
        .unwrap();
    }

    pub async fn set_enabled(&self, sync_id: Uuid, enabled: bool) {
        tandem::engine::service::set_enabled(&self.state, self.admin.portal_id, sync_id, enabled)
            .await
            .unwrap();
    }

    pub async fn status(&self, sync_id: Uuid) -> SyncView {
        tandem::engine::service::view(&self.state, self.admin.portal_id, sync_id)
            .await
            .expect("status")
    }

    /// App-side writes and deletes change the demo app's feed and send webhooks to
    /// Tandem; the safety-net poll makes the engine look without waiting for them.
    pub async fn pick_up_changes(&self) {
        self.engine.schedule_once().await.expect("schedule");
        let syncs: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM syncs WHERE enabled AND phase = 'listening'")
                .fetch_all(self.pool())
                .await
                .unwrap();
        for id in syncs {
            for kind in ["app_changes", "hub_changes"] {
                self.enqueue(kind, id).await;
            }
        }
        self.drain().await;
        // Under load a call to the app can fail transiently: its job is retried after a
        // backoff, which the drain above does not wait for (at most 30 s; a job that keeps
        // failing is for the test's assertions to report).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while let Some(wait) = self.next_job_due(None, true).await {
            if std::time::Instant::now() + wait > deadline {
                return;
            }
            tokio::time::sleep(wait).await;
            self.drain().await;
        }
    }

    /// The hub of the test's portal, written to by its admin.
    pub fn hub(&self) -> PortalHub<'_> {
        PortalHub {
            pool: self.pool(),
            portal: self.admin.portal_id,
            origin: WriteOrigin::User(self.admin.user_id),
        }
    }

    pub async fn hub_create(&self, object: ObjectType, props: Value) -> records::Record {
        self.hub()
            .create(object, props)
            .await
            .unwrap_or_else(|e| panic!("hub create: {e:?}"))
    }

    /// A hub contact with an email and a first name.
    pub async fn hub_contact(&self, email: &str, first_name: &str) -> records::Record {
        let props = props(&[("email", email), ("firstname", first_name)]);
        self.hub_create(ObjectType::Contacts, props).await
    }

    pub async fn hub_update(&self, object: ObjectType, id: i64, props: Value) {
        self.hub()
            .update(object, id, props)
            .await
            .unwrap_or_else(|e| panic!("hub update: {e:?}"));
    }

    /// Every live hub record of an object (paging through the scan).
    pub async fn hub_all(&self, object: ObjectType) -> Vec<records::Record> {
        let mut all: Vec<records::Record> = Vec::new();
        loop {
            let page = records::scan(
                self.pool(),
                self.admin.portal_id,
                object,
                all.last().map(|r| r.id),
                5_000,
                false,
            )
            .await
            .unwrap();
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    pub async fn hub_by_email(&self, email: &str) -> Option<records::Record> {
        records::find_contacts_by_email(self.pool(), self.admin.portal_id, email)
            .await
            .unwrap()
            .pop()
    }

    pub async fn app_write(
        &self,
        connection_id: Uuid,
        object: &str,
        id: Option<&str>,
        props: Value,
    ) -> tandem::connectors::AppRecord {
        let w = RecordWrite {
            id: id.map(str::to_string),
            properties: props.as_object().unwrap().clone(),
            associations: Default::default(),
            idempotency_key: None,
        };
        self.connector(connection_id)
            .await
            .write(object, vec![w])
            .await
            .unwrap()
            .pop()
            .unwrap()
            .expect("app accepts the write")
    }

    pub async fn app_create(
        &self,
        connection_id: Uuid,
        object: &str,
        props: Value,
    ) -> tandem::connectors::AppRecord {
        self.app_write(connection_id, object, None, props).await
    }

    pub async fn app_update(
        &self,
        connection_id: Uuid,
        object: &str,
        id: &str,
        props: Value,
    ) -> tandem::connectors::AppRecord {
        self.app_write(connection_id, object, Some(id), props).await
    }

    /// An app contact with an email and a first name, the record most tests start from.
    pub async fn app_contact(
        &self,
        connection_id: Uuid,
        email: &str,
        first_name: &str,
    ) -> tandem::connectors::AppRecord {
        let props = json!({"email": email, "first_name": first_name});
        self.app_create(connection_id, "contacts", props).await
    }

    /// A read of one app record, answered as the app answers reads (a list).
    pub async fn app_read(
        &self,
        connection_id: Uuid,
        object: &str,
        id: &str,
    ) -> Vec<tandem::connectors::AppRecord> {
        self.connector(connection_id)
            .await
            .read(object, &[id.to_string()])
            .await
            .unwrap()
    }

    /// Every live app record of an object (paging through the REST API).
    pub async fn app_all(
        &self,
        connection_id: Uuid,
        object: &str,
    ) -> Vec<tandem::connectors::AppRecord> {
        let c = self.connector(connection_id).await;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = c.list(object, cursor.as_deref(), 100).await.unwrap();
            out.extend(page.records);
            match page.next_cursor {
                Some(n) => cursor = Some(n),
                None => return out,
            }
        }
    }

    /// Requests counted by the demo app, by endpoint pattern and status.
    pub async fn demo_stats(&self) -> Value {
        reqwest::Client::new()
            .get(format!("{}/admin/stats", self.demo_url))
            .header("X-Admin-Key", "demo-admin-key")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn set_faults(&self, faults: Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/admin/faults", self.demo_url))
            .header("X-Admin-Key", "demo-admin-key")
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    pub async fn counts(&self, sync_id: Uuid) -> SyncCounts {
        self.status(sync_id).await.counts
    }

    /// The reason codes of the sync's excluded and failed records, in index order.
    pub async fn reasons(&self, sync_id: Uuid) -> Vec<String> {
        self.index_states(sync_id)
            .await
            .into_iter()
            .filter_map(|r| r.3)
            .collect()
    }

    /// The sync's record list, filtered to one state.
    pub async fn records_in_state(
        &self,
        sync_id: Uuid,
        state: tandem::model::RecordState,
    ) -> tandem::model::SyncRecordPage {
        tandem::engine::service::records(
            self.pool(),
            self.admin.portal_id,
            sync_id,
            &tandem::engine::service::RecordQuery {
                selection: tandem::engine::index::Selection {
                    state: Some(state),
                    ..Default::default()
                },
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    pub async fn index_states(
        &self,
        sync_id: Uuid,
    ) -> Vec<(Option<i64>, Option<String>, String, Option<String>)> {
        sqlx::query_as("SELECT hub_id, app_id, state, reason_code FROM sync_index WHERE sync_id = $1 ORDER BY id")
            .bind(sync_id)
            .fetch_all(self.pool())
            .await
            .unwrap()
    }
}

/// The sync every test starts from: contacts both ways, matched by email, the hub
/// winning conflicts.
pub fn contacts_input(connection_id: Uuid) -> SyncInput {
    SyncInput::new(connection_id, "contacts", "contacts")
}

/// A sync's settings being put together: `s.sync(conn).objects("deals").create().await`.
pub struct SyncBuilder<'a> {
    stack: &'a Stack,
    input: SyncInput,
}

impl SyncBuilder<'_> {
    /// The same object on both sides.
    pub fn objects(mut self, object: &str) -> Self {
        self.input.app_object = object.into();
        self.input.hub_object = object.into();
        self
    }

    pub fn conflict_winner(mut self, winner: DefaultApp) -> Self {
        self.input.conflict_winner = winner;
        self
    }

    /// Adds a custom mapping, always written.
    pub fn mapping(
        mut self,
        hub_property: &str,
        app_field: &str,
        direction: SyncDirection,
    ) -> Self {
        self.input.mappings.push(MappingInput {
            hub_property: hub_property.into(),
            app_field: app_field.into(),
            direction,
            enabled: true,
            write_policy: WritePolicy::Always,
            options: vec![],
            custom: true,
        });
        self
    }

    pub fn filter(mut self, side: SideInput, field: &str, op: FilterOp) -> Self {
        self.input.filters.push(FilterInput {
            side,
            field: field.into(),
            op,
        });
        self
    }

    pub fn stage_pairs(mut self, pairs: Vec<StagePairInput>) -> Self {
        self.input.stage_pairs = pairs;
        self
    }

    /// Contacts without an email sync too, and none is matched to another.
    pub fn without_email(mut self) -> Self {
        self.input.sync_only_with_email = false;
        self.input.match_key = MatchKeyInput::None;
        self
    }

    pub fn event_sync(mut self) -> Self {
        self.input.event_sync = true;
        self
    }

    pub fn input(self) -> SyncInput {
        self.input
    }

    pub async fn create(self) -> SyncView {
        self.stack.create_sync(&self.input).await
    }

    /// Creates the sync and runs its initial sync; answers its view once it listens.
    pub async fn run_initial(self) -> SyncView {
        let stack = self.stack;
        let sync = self.create().await;
        stack.run_initial(sync.id).await
    }
}

pub fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

pub fn props(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}
