//! The whole stack for engine tests: Tandem's router served on a real port over the
//! test's Postgres database, the demo app served on another port over its own fresh
//! database, an admin who connected a demo account through the real OAuth flow, and an
//! engine whose jobs the test drains (no sleeping, no background workers).

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

    pub fn connector(&self, connection_id: Uuid) -> Arc<dyn Connector> {
        let def = registry::app_definition(&self.state.config.apps, "demo").unwrap();
        connections::connector_for(
            &self.state.pool,
            &self.state.secret_key,
            &def,
            connection_id,
        )
        .unwrap()
    }

    pub fn contacts_input(&self, connection_id: Uuid) -> SyncInput {
        SyncInput {
            connection_id,
            app_object: "contacts".into(),
            hub_object: "contacts".into(),
            direction: SyncDirection::TwoWay,
            conflict_winner: DefaultApp::Hub,
            mappings: vec![],
            filters: vec![],
            sync_only_with_email: true,
            stage_pairs: vec![],
            match_key: MatchKeyInput::Default,
            propagate_deletes: false,
            event_sync: false,
            sync_associations: true,
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
        .unwrap_or_else(|e| panic!("create_sync: {} {:?}", e.message, e.fields))
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
    pub async fn run_initial(&self, sync_id: Uuid) -> SyncView {
        for _ in 0..100_000 {
            let n = self.drain().await;
            let v = self.status(sync_id).await;
            if v.phase == SyncPhase::Listening {
                return v;
            }
            if n == 0 {
                // Waiting on a retry delay: let the clock move.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        panic!("the initial sync did not finish");
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
        let mut conn = self.pool().acquire().await.unwrap();
        let syncs: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM syncs WHERE enabled AND phase = 'listening'")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        for id in syncs {
            for kind in ["app_changes", "hub_changes"] {
                tandem::engine::queue::enqueue(
                    &mut conn,
                    tandem::engine::queue::NewJob::new(kind, id),
                )
                .await
                .unwrap();
            }
        }
        drop(conn);
        self.drain().await;
        // Under load a call to the app can fail transiently: its job is retried after a
        // backoff, which the drain above does not wait for (at most 30 s; a job that keeps
        // failing is for the test's assertions to report).
        for _ in 0..1_500 {
            let retrying: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE last_error IS NOT NULL AND attempts > 0",
            )
            .fetch_one(self.pool())
            .await
            .unwrap();
            if retrying == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.drain().await;
        }
    }

    pub async fn hub_create(&self, object: ObjectType, props: Value) -> records::Record {
        let map = props
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        records::create(
            self.pool(),
            self.admin.portal_id,
            object,
            &map,
            &WriteOrigin::User(self.admin.user_id),
        )
        .await
        .unwrap_or_else(|e| panic!("hub create: {e:?}"))
    }

    pub async fn hub_update(&self, object: ObjectType, id: i64, props: Value) {
        let map = props
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        records::update(
            self.pool(),
            self.admin.portal_id,
            object,
            id,
            &map,
            &WriteOrigin::User(self.admin.user_id),
        )
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
            .write(object, vec![w])
            .await
            .unwrap()
            .pop()
            .unwrap()
            .expect("app accepts the write")
    }

    /// Every live app record of an object (paging through the REST API).
    pub async fn app_all(
        &self,
        connection_id: Uuid,
        object: &str,
    ) -> Vec<tandem::connectors::AppRecord> {
        let c = self.connector(connection_id);
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
