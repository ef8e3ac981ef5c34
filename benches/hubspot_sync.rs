//! Benchmark of the HubSpot connector's use of HubSpot's rate limit (`make bench`,
//! through scripts/bench.sh; not part of `make test`): a two-way initial sync between a
//! hub of `BENCH_HUBSPOT_CONTACTS` (default 10,000) contacts and a HubSpot-wire portal
//! (tests/support/hubspot_wire) of as many others, the portal limited to HubSpot's
//! 190 requests per rolling 10 s and Tandem configured with that limit. Prints the
//! share of the limit used in the busiest window and over the whole sync (the goal:
//! at least 0.9 in the busiest window) and the 429 answers (the goal: none).
//!
//! Environment: `DATABASE_URL` (a database of its own).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tandem::engine::worker::Engine;
use tandem::model::*;
use tandem::platform::auth::AuthVia;
use tandem::platform::{db, install, portals, users, AppState, Config};

const TOKEN: &str = "pat-bench-token";
const LIMIT: u32 = 190;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let contacts: usize = std::env::var("BENCH_HUBSPOT_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut wire = Command::new(env!("CARGO_BIN_EXE_hubspot-wire"))
        .args(["--addr", "127.0.0.1:0", "--token", TOKEN])
        .args([
            "--rate-max",
            &LIMIT.to_string(),
            "--rate-interval-ms",
            "10000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(
        wire.stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("stdout"))?,
    )
    .read_line(&mut line)?;
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{url}/_wire/{path}");
    http.post(control("seed"))
        .json(&json!({ "object": "contacts", "count": contacts, "prefix": "app",
            "modified_from_ms": chrono::Utc::now().timestamp_millis() - 60_000, "modified_span_ms": 60_000 }))
        .send()
        .await?
        .error_for_status()?;

    let pool = db::connect(&std::env::var("DATABASE_URL")?).await?;
    db::migrate_pool(&pool).await?;
    let dir = std::env::temp_dir().join(format!("tandem-bench-hubspot-{}", uuid::Uuid::new_v4()));
    let mut config = Config::for_tests("unused", dir.clone());
    config.apps.hubspot.rate_limit = (LIMIT, Duration::from_secs(10));
    let state = AppState::new(pool.clone(), config)?;
    let portal_id = portals::ensure(&pool, "bench", "Bench portal").await?;
    let user_id = users::create(
        &pool,
        portal_id,
        users::NewUser {
            email: "bench@example.com".into(),
            name: "Bench".into(),
            password: "bench password 1".into(),
            role: Role::SuperAdmin,
        },
    )
    .await?;
    let admin = users::principal(&pool, user_id, AuthVia::Session)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no admin"))?;
    for chunk in (0..contacts).collect::<Vec<_>>().chunks(100) {
        let inputs: Vec<_> = chunk
            .iter()
            .map(|i| {
                std::collections::BTreeMap::from([
                    ("email".to_string(), json!(format!("hub-{i}@example.com"))),
                    ("firstname".to_string(), json!("Hub")),
                ])
            })
            .collect();
        tandem::hub::records::create_many(
            &pool,
            portal_id,
            tandem::hub::ObjectType::Contacts,
            &inputs,
            &tandem::hub::WriteOrigin::System,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let input = CredentialInput {
        url: url.clone(),
        secret: TOKEN.into(),
        ..Default::default()
    };
    let CredentialInstall::Connected { connection_id, .. } =
        install::install_with_credentials(&state, &admin, "hubspot", &input).await?
    else {
        anyhow::bail!("HubSpot was not connected");
    };
    http.post(control("stats/reset")).send().await?;
    let engine = Engine::new(pool.clone(), state.config.clone(), state.secret_key.clone());
    let started = Instant::now();
    let sync = tandem::engine::service::create(
        &state,
        portal_id,
        user_id,
        &SyncInput::new(connection_id, "contacts", "contacts"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    loop {
        engine.drain("bench").await?;
        let view = tandem::engine::service::view(&state, portal_id, sync.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if view.phase == SyncPhase::Listening {
            anyhow::ensure!(
                view.counts.syncing as usize == 2 * contacts,
                "synced {:?}",
                view.counts
            );
            break;
        }
        // A job waiting out the rate limit's pause: let it come due.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let stats: Value = http.get(control("stats")).send().await?.json().await?;
    let _ = wire.kill();
    let _ = std::fs::remove_dir_all(dir);
    let requests = stats["requests"].as_f64().unwrap_or(0.0);
    let peak = stats["max_in_window"].as_f64().unwrap_or(0.0);
    let allowed = f64::from(LIMIT) * secs / 10.0;
    println!(
        "BENCH hubspot_initial_sync_records_per_s {:.0} records/s",
        2.0 * contacts as f64 / secs
    );
    println!("BENCH hubspot_requests {requests:.0} requests");
    println!(
        "BENCH hubspot_rate_limit_share_busiest_window {:.3} ratio",
        peak / f64::from(LIMIT)
    );
    println!(
        "BENCH hubspot_rate_limit_share_whole_sync {:.3} ratio",
        requests / allowed
    );
    println!(
        "BENCH hubspot_429_answers {} answers",
        stats["rate_limited"]
    );
    Ok(())
}
