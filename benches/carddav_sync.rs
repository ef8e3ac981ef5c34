//! Benchmark of the CardDAV connector (`make bench`, through scripts/bench.sh; not part
//! of `make test`): an initial two-way sync of `BENCH_CARDS` (default 10,000) vCards from
//! a real Radicale (scripts/radicale.sh) into an empty hub, in records/s, next to the
//! time Radicale itself needs to answer the same listing (one PROPFIND and the
//! addressbook-multiget REPORTs of 100 cards the connector sends, Radicale's cache warm),
//! as a ratio.
//!
//! Environment: `DATABASE_URL` (a database of its own), `TANDEM_TEST_RADICALE_URL` and
//! `TANDEM_TEST_RADICALE_USERS` (bench.sh starts Radicale and sets them).

use std::time::Instant;
use tandem::engine::worker::Engine;
use tandem::model::*;
use tandem::platform::auth::AuthVia;
use tandem::platform::{db, install, portals, users, AppState, Config};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set (scripts/bench.sh sets it)"))
}

/// A Radicale user with one address book holding `n` cards, written as files (as the
/// tests do: PUTs would take minutes). Answers (user, password, address book path).
async fn address_book(n: usize) -> anyhow::Result<(String, String, String)> {
    let (url, users) = (
        env("TANDEM_TEST_RADICALE_URL")?,
        env("TANDEM_TEST_RADICALE_USERS")?,
    );
    let user = format!("bench{}", uuid::Uuid::new_v4().simple());
    let password = "bench".to_string();
    use std::io::Write;
    writeln!(
        std::fs::OpenOptions::new().append(true).open(&users)?,
        "{user}:{password}"
    )?;
    let path = format!("/{user}/contacts/");
    let made = reqwest::Client::new()
        .request(reqwest::Method::from_bytes(b"MKCOL")?, format!("{url}{path}"))
        .basic_auth(&user, Some(&password))
        .header("content-type", "application/xml")
        .body(r#"<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>"#)
        .send()
        .await?;
    anyhow::ensure!(made.status().as_u16() == 201, "MKCOL: {}", made.status());
    let dir = std::path::Path::new(&users)
        .parent()
        .ok_or_else(|| anyhow::anyhow!("users file"))?
        .join("collections/collection-root")
        .join(path.trim_matches('/'));
    for i in 0..n {
        std::fs::write(
            dir.join(format!("c{i:06}.vcf")),
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c{i:06}\r\nFN:Card {i}\r\nN:{i};Card;;;\r\nEMAIL;TYPE=INTERNET:card{i}@example.com\r\nTEL;TYPE=CELL:+1 555 {i:06}\r\nORG:Bench Inc\r\nEND:VCARD\r\n"
            ),
        )?;
    }
    Ok((user, password, path))
}

/// Radicale's own time for the listing the connector reads: the member PROPFIND, then
/// every card through multigets of 100.
async fn radicale_listing_secs(user: &str, password: &str, path: &str) -> anyhow::Result<f64> {
    let url = env("TANDEM_TEST_RADICALE_URL")?;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let listing = http
        .request(reqwest::Method::from_bytes(b"PROPFIND")?, format!("{url}{path}"))
        .basic_auth(user, Some(password))
        .header("depth", "1")
        .body(r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send()
        .await?
        .text()
        .await?;
    let hrefs: Vec<&str> = listing
        .split("<href>")
        .skip(1)
        .filter_map(|s| s.split("</href>").next())
        .filter(|h| h.ends_with(".vcf"))
        .collect();
    for chunk in hrefs.chunks(100) {
        let body = tandem::connectors::carddav::dav::multiget(chunk);
        let answer = http
            .request(
                reqwest::Method::from_bytes(b"REPORT")?,
                format!("{url}{path}"),
            )
            .basic_auth(user, Some(password))
            .header("depth", "1")
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().as_u16() == 207,
            "multiget: {}",
            answer.status()
        );
        answer.bytes().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cards = std::env::var("BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (user, password, path) = address_book(cards).await?;
    // The first listing after the files were written builds Radicale's own cache of
    // them: the measured one is the second, as Tandem's sync (after the first) sees it.
    radicale_listing_secs(&user, &password, &path).await?;
    let listing_secs = radicale_listing_secs(&user, &password, &path).await?;

    let pool = db::connect(&env("DATABASE_URL")?).await?;
    db::migrate_pool(&pool).await?;
    let dir = std::env::temp_dir().join(format!("tandem-bench-carddav-{}", uuid::Uuid::new_v4()));
    let mut config = Config::for_tests("unused", dir.clone());
    config.apps.app_rate_limit = None;
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
    let input = CredentialInput {
        url: format!("{}{path}", env("TANDEM_TEST_RADICALE_URL")?),
        username: user,
        secret: password,
        choice: None,
    };
    let CredentialInstall::Connected { connection_id, .. } =
        install::install_with_credentials(&state, &admin, "carddav", &input).await?
    else {
        anyhow::bail!("the address book was not connected");
    };
    let engine = Engine::new(pool.clone(), state.config.clone(), state.secret_key.clone());
    let started = Instant::now();
    let sync = tandem::engine::service::create(
        &state,
        portal_id,
        user_id,
        &SyncInput::new(connection_id, "cards", "contacts"),
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
                view.counts.syncing as usize == cards,
                "synced {:?}",
                view.counts
            );
            break;
        }
    }
    let sync_secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    let per_s = cards as f64 / sync_secs;
    let radicale_per_s = cards as f64 / listing_secs;
    println!("BENCH carddav_initial_sync_records_per_s {per_s:.0} records/s");
    println!("BENCH radicale_listing_records_per_s {radicale_per_s:.0} records/s");
    println!(
        "BENCH carddav_initial_sync_vs_radicale_listing_ratio {:.3} ratio",
        per_s / radicale_per_s
    );
    Ok(())
}
