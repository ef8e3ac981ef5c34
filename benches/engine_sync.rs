//! Benchmark of the sync engine (`make bench`, through scripts/bench.sh; not part of
//! `make test`), with every part a real process: the demo app (`tandem demo-app`, rate
//! limit off), Tandem's server (`tandem serve`, webhook receiver, no workers of its own)
//! and one `tandem worker` process doing the sync, whose peak RSS (VmHWM) is measured.
//!
//! 1. A raw Postgres COPY of the contact rows into `hub_records`: the baseline; and into
//!    a table of the same columns without indexes, for reference.
//! 2. An initial two-way contacts sync of 100,000 contacts (peak RSS at 100k), then of
//!    `BENCH_CONTACTS` (default 1,000,000): records/s, peak RSS, ratio to the COPY.
//! 3. On the 100k sync, listening: 100 changes/s for `BENCH_LATENCY_SECS` (default 10)
//!    made in the app, then in the hub; the time until each shows on the other side.
//! 4. A second demo app limited to HubSpot's 190 requests/10 s, and an initial sync of
//!    `BENCH_RATE_CONTACTS` (default 100,000) with the worker told 180 of them (Tandem's
//!    server uses the same account while the sync starts):
//!    the share of the limit the sync used, and the 429 answers it got.
//!
//! The worker's CPU time (user + system) per 10,000 records is read from /proc for each
//! unlimited initial sync.
//!
//! Environment: `DATABASE_URL` (a database of its own; bench.sh makes a fresh one; the
//! benchmark creates more databases on the same server).

use serde_json::{json, Map, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::cell::Cell;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tandem::hub::{records, ObjectType, WriteOrigin};
use tandem::model::*;
use tandem::platform::auth::{AuthVia, Principal};
use tandem::platform::{db, install, portals, users, AppState, Config};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_tandem");

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh database on the benchmark's server; answers its URL.
async fn fresh_database(base: &str, name: &str) -> anyhow::Result<String> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let mut url = url::Url::parse(base)?;
    url.set_path(name);
    Ok(url.to_string())
}

async fn pool(url: &str) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new().max_connections(8).connect(url).await?)
}

/// Kills the child when dropped, so a failed benchmark leaves no process behind.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `BENCH_LOG_DIR=<dir>` keeps each process's log there (`RUST_LOG` as given, else
/// `warn`), to see where the time goes.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Process {
    let mut cmd = Command::new(BIN);
    let stderr = match std::env::var("BENCH_LOG_DIR") {
        Ok(dir) => {
            let file = format!("{dir}/{}-{}.log", args[0], Uuid::new_v4());
            Stdio::from(std::fs::File::create(file).expect("a log file"))
        }
        Err(_) => Stdio::null(),
    };
    cmd.args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Process(cmd.spawn().expect("start tandem"))
}

async fn wait_healthy(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if reqwest::get(format!("{url}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{url} did not start")
}

/// Peak resident memory of a process so far, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> f64 {
    // Linux reports them in clock ticks of USER_HZ, 100 on every architecture it runs on.
    const USER_HZ: f64 = 100.0;
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces), from field 3 on.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / USER_HZ)
        })
        .unwrap_or(0.0)
}

/// The demo app as its own process over its own database.
struct DemoApp {
    url: String,
    pool: PgPool,
    _process: Process,
}

const DEMO_ADMIN_KEY: &str = "demo-admin-key";

impl DemoApp {
    async fn stats(&self) -> anyhow::Result<Value> {
        Ok(reqwest::Client::new()
            .get(format!("{}/admin/stats", self.url))
            .header("X-Admin-Key", DEMO_ADMIN_KEY)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}

/// `rate_limit` as `DEMO_APP_RATE_LIMIT` takes it (`off`, `190/10`).
async fn demo_app(base: &str, name: &str, rate_limit: &str) -> anyhow::Result<DemoApp> {
    let db_url = fresh_database(base, name).await?;
    let pool = pool(&db_url).await?;
    tandem::demo_app::db::MIGRATOR.run(&pool).await?;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let process = spawn(
        &["demo-app"],
        &[
            ("DEMO_APP_DATABASE_URL", &db_url),
            ("DEMO_APP_ADDR", &addr),
            ("DEMO_APP_PUBLIC_URL", &url),
            ("DEMO_APP_RATE_LIMIT", rate_limit),
            ("DEMO_APP_ADMIN_KEY", DEMO_ADMIN_KEY),
        ],
    );
    wait_healthy(&url).await?;
    Ok(DemoApp {
        url,
        pool,
        _process: process,
    })
}

/// One Tandem database with a portal, an admin, its server process and a demo account
/// connected through the real OAuth flow.
struct Tandem {
    state: AppState,
    db_url: String,
    data_dir: String,
    admin: Principal,
    account: String,
    connection_id: Uuid,
    _server: Process,
}

impl Tandem {
    /// `rate_limit` as `TANDEM_APP_RATE_LIMIT` takes it.
    fn worker(&self, demo: &DemoApp, rate_limit: &str) -> Process {
        spawn(
            &["worker", "--concurrency", "4"],
            &[
                ("DATABASE_URL", &self.db_url),
                ("TANDEM_DATA_DIR", &self.data_dir),
                ("TANDEM_DEMO_APP_URL", &demo.url),
                ("TANDEM_PUBLIC_URL", &self.state.config.public_url),
                ("TANDEM_APP_RATE_LIMIT", rate_limit),
            ],
        )
    }

    async fn status(&self, sync_id: Uuid) -> anyhow::Result<SyncView> {
        tandem::engine::service::view(&self.state, self.admin.portal_id, sync_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    }
}

async fn tandem(base: &str, name: &str, demo: &DemoApp, account: &str) -> anyhow::Result<Tandem> {
    let db_url = fresh_database(base, name).await?;
    let pool = pool(&db_url).await?;
    db::migrate_pool(&pool).await?;
    let data_dir = std::env::temp_dir().join(format!("tandem-bench-{}", Uuid::new_v4()));
    let port = free_port();
    let mut config = Config::for_tests(&db_url, data_dir.clone());
    config.public_url = format!("http://127.0.0.1:{port}");
    config.apps.demo_app_url = demo.url.clone();
    config.apps.app_rate_limit = None;
    let state = AppState::new(pool.clone(), config)?;
    let data_dir = data_dir.to_string_lossy().into_owned();
    let addr = format!("127.0.0.1:{port}");
    let server = spawn(
        &["serve"],
        &[
            ("DATABASE_URL", &db_url),
            ("TANDEM_ADDR", &addr),
            ("TANDEM_PUBLIC_URL", &state.config.public_url),
            ("TANDEM_DATA_DIR", &data_dir),
            ("TANDEM_DEMO_APP_URL", &demo.url),
            ("TANDEM_WORKERS", "0"),
        ],
    );
    wait_healthy(&state.config.public_url).await?;

    let portal_id = portals::ensure(&pool, "demo", "Demo portal").await?;
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
    .map_err(|e| anyhow::anyhow!(e.message))?;
    let admin = users::principal(&pool, user_id, AuthVia::Session)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no admin"))?;
    let connection_id = connect(&state, &admin, demo, account).await?;
    Ok(Tandem {
        state,
        db_url,
        data_dir,
        admin,
        account: account.to_string(),
        connection_id,
        _server: server,
    })
}

/// The install as a browser does it: Tandem's authorization URL, the demo app's consent
/// form (Allow), Tandem's callback.
async fn connect(
    state: &AppState,
    admin: &Principal,
    demo: &DemoApp,
    account: &str,
) -> anyhow::Result<Uuid> {
    let start = install::start(state, admin, "demo")
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let url = url::Url::parse(&start.authorization_url)?;
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("username".into(), format!("{account}-admin")));
    form.push(("password".into(), "demo".into()));
    form.push(("decision".into(), "allow".into()));
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("{}/oauth/authorize", demo.url))
        .form(&form)
        .send()
        .await?;
    let back = url::Url::parse(
        res.headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| anyhow::anyhow!("the consent did not redirect"))?,
    )?;
    let param = |k: &str| {
        back.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let done = install::complete(
        state,
        Some(admin),
        install::CallbackParams {
            code: param("code"),
            state: param("state"),
            error: param("error"),
            error_description: param("error_description"),
        },
    )
    .await
    .map_err(|f| anyhow::anyhow!("{}: {}", f.title, f.message))?;
    Ok(done.connection_id)
}

/// What one initial sync measured.
struct SyncRun {
    records_per_s: f64,
    peak_rss_mb: f64,
    /// Worker CPU seconds per 10,000 records.
    cpu_per_10k: f64,
    /// (seconds since the start, demo-app requests so far), sampled while it ran.
    requests: Vec<(f64, u64)>,
}

/// Seeds `contacts` into a new demo account, syncs them two-way into an empty hub with a
/// `tandem worker` process (`worker_rate_limit` as `TANDEM_APP_RATE_LIMIT` takes it);
/// answers what it measured and the setup, listening.
async fn initial_sync(
    base: &str,
    demo: &DemoApp,
    contacts: u32,
    label: &str,
    worker_rate_limit: &str,
) -> anyhow::Result<(SyncRun, Tandem, Process)> {
    let account = format!("bench{label}");
    tandem::demo_app::seed::seed(
        &demo.pool,
        &tandem::demo_app::seed::SeedOptions {
            account: account.clone(),
            contacts,
            companies: 0,
            deals: 0,
            invoices: 0,
            events: Some(0),
            if_empty: false,
        },
    )
    .await?;
    let t = tandem(base, &format!("bench_tandem_{label}"), demo, &account).await?;
    let input = SyncInput {
        connection_id: t.connection_id,
        app_object: "contacts".into(),
        hub_object: "contacts".into(),
        direction: SyncDirection::TwoWay,
        conflict_winner: DefaultApp::Hub,
        mappings: vec![],
        filters: vec![],
        sync_only_with_email: false,
        stage_pairs: vec![],
        match_key: MatchKeyInput::Default,
        propagate_deletes: false,
        event_sync: false,
        sync_associations: false,
    };
    let requests_total = |stats: Value| stats["requests_total"].as_u64().unwrap_or(0);
    let before = requests_total(demo.stats().await?);
    let started = Instant::now();
    let worker = t.worker(demo, worker_rate_limit);
    let sync =
        tandem::engine::service::create(&t.state, t.admin.portal_id, t.admin.user_id, &input)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut peak: f64 = 0.0;
    let mut requests = Vec::new();
    loop {
        peak = peak.max(peak_rss_mb(worker.0.id()));
        let at = started.elapsed().as_secs_f64();
        requests.push((at, requests_total(demo.stats().await?) - before));
        let v = t.status(sync.id).await?;
        if v.phase == SyncPhase::Listening {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    peak = peak.max(peak_rss_mb(worker.0.id()));
    let cpu = cpu_secs(worker.0.id());
    // Every app record is accounted for: synced, or excluded / failed with a reason (the
    // seeded data has duplicate emails on purpose).
    let indexed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_index WHERE sync_id = $1 AND app_id IS NOT NULL",
    )
    .bind(sync.id)
    .fetch_one(&t.state.pool)
    .await?;
    anyhow::ensure!(
        indexed == i64::from(contacts),
        "the sync ended with {indexed} app records in its index, of {contacts}"
    );
    let run = SyncRun {
        records_per_s: f64::from(contacts) / secs,
        peak_rss_mb: peak,
        cpu_per_10k: cpu / f64::from(contacts) * 10_000.0,
        requests,
    };
    Ok((run, t, worker))
}

/// The share of `limit` requests per `window` seconds a sync used: the requests it made
/// in whole windows from its start on (the last sample before its first request), over
/// what those windows allow. A last, partial window would understate the share, a span
/// shorter than one window overstate it.
fn limit_share(samples: &[(f64, u64)], limit: u64, window: f64) -> anyhow::Result<f64> {
    let start = samples
        .iter()
        .take_while(|(_, n)| *n == 0)
        .last()
        .map_or(0.0, |(at, _)| *at);
    let last = samples.last().map_or(start, |(at, _)| *at);
    let windows = ((last - start) / window).floor();
    anyhow::ensure!(windows >= 1.0, "the sync took less than one window");
    let end = start + windows * window;
    let made = samples
        .iter()
        .take_while(|(at, _)| *at <= end)
        .last()
        .map_or(0, |(_, n)| *n);
    Ok(made as f64 / (windows * limit as f64))
}

/// The baseline: the large sync's contact rows, read from the demo app's database,
/// COPYed in one statement into an empty `hub_records` (with the indexes every hub write
/// maintains: search trigrams, sortable columns, email), and into a table of the same
/// columns without any index; answers both rates.
async fn copy_rows_per_s(base: &str, demo: &DemoApp) -> anyhow::Result<(f64, f64)> {
    let url = fresh_database(base, "bench_copy").await?;
    let pool = pool(&url).await?;
    db::migrate_pool(&pool).await?;
    let portal_id = portals::ensure(&pool, "copy", "Copy").await?;
    let rows: Vec<(sqlx::types::Json<Value>,)> = sqlx::query_as(
        "SELECT r.properties FROM records r JOIN accounts a ON a.id = r.account_id
          WHERE a.name = $1 AND r.object = 'contacts' ORDER BY r.id",
    )
    .bind("benchlarge")
    .fetch_all(&demo.pool)
    .await?;
    // COPY's text format: tab-separated, backslash escaped (JSON text has no raw tabs or
    // newlines, only backslashes to double).
    let mut data = String::new();
    for (props,) in &rows {
        let json = props.0.to_string().replace('\\', "\\\\");
        data.push_str(&format!("{portal_id}\tcontacts\t{json}\timport\n"));
    }
    let mut conn = pool.acquire().await?;
    sqlx::query("CREATE TABLE hub_records_unindexed (LIKE hub_records INCLUDING DEFAULTS INCLUDING IDENTITY)")
        .execute(&mut *conn)
        .await?;
    let mut rates = Vec::new();
    for table in ["hub_records", "hub_records_unindexed"] {
        let started = Instant::now();
        let mut copy = conn
            .copy_in_raw(&format!(
                "COPY {table} (portal_id, object, properties, created_by) FROM STDIN"
            ))
            .await?;
        copy.send(data.as_bytes()).await?;
        let n = copy.finish().await?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            n == rows.len() as u64,
            "COPY wrote {n} of {} rows",
            rows.len()
        );
        rates.push(n as f64 / secs);
    }
    Ok((rates[0], rates[1]))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Makes `n` changes at 100/s with `change(i)` and answers the p50 and p99 latency until
/// `seen` (polled every 5 ms; answers the indices that arrived) reported each.
async fn latency<C, CF, S, SF>(n: usize, mut change: C, mut seen: S) -> anyhow::Result<(f64, f64)>
where
    C: FnMut(usize) -> CF,
    CF: std::future::Future<Output = anyhow::Result<()>>,
    S: FnMut() -> SF,
    SF: std::future::Future<Output = anyhow::Result<Vec<usize>>>,
{
    // Sending and looking run side by side: a look starved by a late send would count
    // the sender's delay as the sync's. A change's clock starts when it is sent (it may
    // show on the other side before its write has answered).
    let sent: std::cell::RefCell<HashMap<usize, Instant>> = Default::default();
    let send = async {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        for i in 0..n {
            tick.tick().await;
            sent.borrow_mut().insert(i, Instant::now());
            change(i).await?;
        }
        anyhow::Ok(())
    };
    let look = async {
        // Change index and latency in ms (written to BENCH_LOG_DIR: when the slow ones
        // were made).
        let mut arrivals: Vec<(usize, f64)> = Vec::new();
        let started = Instant::now();
        while arrivals.len() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
            for i in seen().await? {
                if let Some(at) = sent.borrow_mut().remove(&i) {
                    arrivals.push((i, at.elapsed().as_secs_f64() * 1000.0));
                }
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(n as u64 / 100 + 30),
                "{} changes never arrived",
                n - arrivals.len()
            );
        }
        anyhow::Ok(arrivals)
    };
    let ((), mut arrivals) = tokio::try_join!(send, look)?;
    let mut latencies: Vec<f64> = arrivals.iter().map(|(_, ms)| *ms).collect();
    if let Ok(dir) = std::env::var("BENCH_LOG_DIR") {
        arrivals.sort_by_key(|(i, _)| *i);
        let lines: Vec<String> = arrivals
            .iter()
            .map(|(i, ms)| format!("{i} {ms:.0}"))
            .collect();
        std::fs::write(
            format!("{dir}/latency-{}.txt", Uuid::new_v4()),
            lines.join("\n"),
        )?;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&latencies, 0.5), percentile(&latencies, 0.99)))
}

fn index_of(name: Option<&str>, prefix: &str) -> Option<usize> {
    name?.strip_prefix(prefix)?.parse().ok()
}

async fn app_to_hub(t: &Tandem, n: usize) -> anyhow::Result<(f64, f64)> {
    let def = tandem::connectors::registry::app_definition(&t.state.config.apps, "demo")
        .ok_or_else(|| anyhow::anyhow!("no demo app"))?;
    let connector = tandem::platform::connections::connector_for(
        &t.state.pool,
        &t.state.secret_key,
        &def,
        t.connection_id,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
    // Paired records only: duplicates in the seed are excluded and never sync.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT app_id FROM sync_index WHERE state = 'syncing' AND app_id IS NOT NULL
            AND hub_id IS NOT NULL ORDER BY random() LIMIT $1",
    )
    .bind(n as i64)
    .fetch_all(&t.state.pool)
    .await?;
    let since: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM hub_changes")
        .fetch_one(&t.state.pool)
        .await?;
    let since = Rc::new(Cell::new(since));
    let pool = t.state.pool.clone();
    latency(
        n,
        |i| {
            let connector = connector.clone();
            let id = ids[i % ids.len()].clone();
            async move {
                let mut props = Map::new();
                props.insert("first_name".into(), json!(format!("app-{i}")));
                let w = tandem::connectors::RecordWrite {
                    id: Some(id),
                    properties: props,
                    associations: Default::default(),
                    idempotency_key: None,
                };
                connector.write("contacts", vec![w]).await?;
                Ok(())
            }
        },
        || {
            let (pool, since) = (pool.clone(), since.clone());
            async move {
                let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
                    "SELECT c.seq, r.properties->>'firstname' FROM hub_changes c
                       JOIN hub_records r ON r.id = c.record_id
                      WHERE c.seq > $1 AND c.origin_kind = 'sync' ORDER BY c.seq",
                )
                .bind(since.get())
                .fetch_all(&pool)
                .await?;
                if let Some((seq, _)) = rows.last() {
                    since.set(*seq);
                }
                Ok(rows
                    .iter()
                    .filter_map(|(_, name)| index_of(name.as_deref(), "app-"))
                    .collect())
            }
        },
    )
    .await
}

async fn hub_to_app(t: &Tandem, demo: &DemoApp, n: usize) -> anyhow::Result<(f64, f64)> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT hub_id FROM sync_index WHERE state = 'syncing' AND app_id IS NOT NULL
            AND hub_id IS NOT NULL ORDER BY random() LIMIT $1",
    )
    .bind(n as i64)
    .fetch_all(&t.state.pool)
    .await?;
    let account_id: i64 = sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1")
        .bind(&t.account)
        .fetch_one(&demo.pool)
        .await?;
    let since: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(change_seq), 0) FROM records WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_one(&demo.pool)
    .await?;
    let since = Rc::new(Cell::new(since));
    let (pool, portal_id, user_id) = (t.state.pool.clone(), t.admin.portal_id, t.admin.user_id);
    let demo_pool = demo.pool.clone();
    latency(
        n,
        |i| {
            let pool = pool.clone();
            let id = ids[i % ids.len()];
            async move {
                let mut props = HashMap::new();
                props.insert("firstname".to_string(), json!(format!("hub-{i}")));
                records::update(
                    &pool,
                    portal_id,
                    ObjectType::Contacts,
                    id,
                    &props.into_iter().collect(),
                    &WriteOrigin::User(user_id),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(())
            }
        },
        || {
            let (pool, since) = (demo_pool.clone(), since.clone());
            async move {
                let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
                    "SELECT change_seq, properties->>'first_name' FROM records
                      WHERE account_id = $1 AND object = 'contacts' AND change_seq > $2",
                )
                .bind(account_id)
                .bind(since.get())
                .fetch_all(&pool)
                .await?;
                if let Some(max) = rows.iter().map(|r| r.0).max() {
                    since.set(max);
                }
                Ok(rows
                    .iter()
                    .filter_map(|(_, name)| index_of(name.as_deref(), "hub-"))
                    .collect())
            }
        },
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("DATABASE_URL")?;
    let contacts = env_num("BENCH_CONTACTS", 1_000_000) as u32;
    let small = 100_000.min(contacts);
    let changes = (env_num("BENCH_LATENCY_SECS", 10) * 100) as usize;
    let rate_contacts = env_num("BENCH_RATE_CONTACTS", 100_000) as u32;
    let demo = demo_app(&base, "bench_demo_app", "off").await?;

    eprintln!("initial sync of {small} contacts");
    let (small_run, small_setup, worker) =
        initial_sync(&base, &demo, small, "small", "off").await?;
    println!(
        "BENCH initial_sync_peak_rss_mb_100k {:.1} MB",
        small_run.peak_rss_mb
    );

    eprintln!("incremental latency at 100 changes/s, {changes} changes each way");
    let (p50, p99) = app_to_hub(&small_setup, changes).await?;
    println!("BENCH latency_app_to_hub_p50_ms {p50:.0} ms");
    println!("BENCH latency_app_to_hub_p99_ms {p99:.0} ms");
    let (p50, p99) = hub_to_app(&small_setup, &demo, changes).await?;
    println!("BENCH latency_hub_to_app_p50_ms {p50:.0} ms");
    println!("BENCH latency_hub_to_app_p99_ms {p99:.0} ms");
    drop(worker);
    drop(small_setup);

    eprintln!("initial sync of {contacts} contacts");
    let (large_run, large_setup, worker) =
        initial_sync(&base, &demo, contacts, "large", "off").await?;
    drop(worker);
    drop(large_setup);
    let per_s = large_run.records_per_s;
    eprintln!("raw COPY of {contacts} rows");
    let (copy, copy_unindexed) = copy_rows_per_s(&base, &demo).await?;
    println!("BENCH initial_sync_records_per_s {per_s:.0} records/s");
    println!("BENCH copy_rows_per_s {copy:.0} rows/s");
    println!("BENCH initial_sync_vs_copy_ratio {:.3} ratio", per_s / copy);
    // The same rows into a table without indexes: what Postgres does at the least.
    println!("BENCH copy_unindexed_rows_per_s {copy_unindexed:.0} rows/s");
    println!(
        "BENCH initial_sync_vs_unindexed_copy_ratio {:.3} ratio",
        per_s / copy_unindexed
    );
    println!(
        "BENCH initial_sync_peak_rss_mb {:.1} MB",
        large_run.peak_rss_mb
    );
    println!(
        "BENCH initial_sync_worker_cpu_s_per_10k_100k {:.2} s",
        small_run.cpu_per_10k
    );
    println!(
        "BENCH initial_sync_worker_cpu_s_per_10k {:.2} s",
        large_run.cpu_per_10k
    );

    // HubSpot's limit on the demo app. The worker is told 180 of them: the server process
    // (the sync's creation reads the app's fields) uses the same account's window.
    let (limit, worker_limit, window) = (190u64, 180u64, 10u64);
    eprintln!(
        "initial sync of {rate_contacts} contacts, the demo app limited to {limit}/{window} s"
    );
    let limited = demo_app(
        &base,
        "bench_demo_app_limited",
        &format!("{limit}/{window}"),
    )
    .await?;
    let worker_rate_limit = format!("{worker_limit}/{window}");
    let (run, setup, worker) = initial_sync(
        &base,
        &limited,
        rate_contacts,
        "limited",
        &worker_rate_limit,
    )
    .await?;
    drop(worker);
    drop(setup);
    let stats = limited.stats().await?;
    println!(
        "BENCH demo_rate_limit_share_whole_windows {:.3} ratio",
        limit_share(&run.requests, limit, window as f64)?
    );
    println!(
        "BENCH demo_rate_limit_share_busiest_window {:.3} ratio",
        stats["rate_limit_peak_window"].as_f64().unwrap_or(0.0) / limit as f64
    );
    println!("BENCH demo_429_answers {} answers", stats["rate_limited"]);
    Ok(())
}
