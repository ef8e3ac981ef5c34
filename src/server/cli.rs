//! The `tandem` command line: `serve`, `worker`, `migrate`, `seed`, `token`, `demo-app`.

use super::seed;
use crate::platform::{db, portals, tokens, users, AppState, Config};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    about = "Tandem: a self-hostable CRM hub with two-way data sync.",
    long_about = "Tandem: a self-hostable CRM hub with two-way data sync.\n\n\
        Configuration comes from the environment: DATABASE_URL, TANDEM_ADDR, TANDEM_PUBLIC_URL, \
        TANDEM_DATA_DIR, TANDEM_SECRET_KEY, TANDEM_SMTP_URL, TANDEM_ADMIN_PASSWORD (see the README)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI, the automation API and the webhook receiver (TANDEM_ADDR, default 127.0.0.1:3000).
    Serve,
    /// Run sync workers that share the job queue with the server (and each other).
    Worker {
        /// Jobs run at once by this process.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Create the database when missing and apply every migration.
    Migrate,
    /// Create the demo portal with its admin login.
    Seed(SeedArgs),
    /// Private app tokens for the automation API.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The bundled demo CRM, a separate third-party app with its own database
    /// (DEMO_APP_* variables; default http://127.0.0.1:3100). Without a subcommand: serve.
    DemoApp {
        #[command(subcommand)]
        command: Option<DemoAppCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoAppCommand {
    /// Serve the demo app's OAuth server, REST API, webhooks and web UI.
    Serve,
    /// Fill an account with deterministic, realistically messy data; creates the account
    /// and its admin user `<account>-admin` (password `demo`) when missing.
    Seed(DemoSeedArgs),
}

#[derive(Debug, Args)]
pub struct DemoSeedArgs {
    /// Account name (lower-case letters, digits, dashes), e.g. `acme`.
    #[arg(long)]
    pub account: String,
    #[arg(long, default_value_t = 200)]
    pub contacts: u32,
    #[arg(long, default_value_t = 40)]
    pub companies: u32,
    #[arg(long, default_value_t = 60)]
    pub deals: u32,
    #[arg(long, default_value_t = 40)]
    pub invoices: u32,
    /// Email events (opens, clicks); default: one per four contacts.
    #[arg(long)]
    pub events: Option<u32>,
    /// Do nothing when the account already has records.
    #[arg(long)]
    pub if_empty: bool,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The portal to seed; `demo` gets the admin login admin@example.com.
    #[arg(long, default_value = seed::DEMO_PORTAL)]
    pub portal: String,
    /// Hub records to generate (realistic, deterministic, messy on purpose; loaded with COPY).
    #[command(flatten)]
    pub records: crate::hub::generator::SeedRecords,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; the secret is printed on the last line.
    Create {
        /// Portal slug, e.g. `demo`.
        #[arg(long)]
        portal: String,
        /// The email of the user the token acts for.
        #[arg(long)]
        user: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "command line")]
        name: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            db::migrate(&config.database_url).await?;
            println!(
                "Database is up to date ({}).",
                crate::support::redact(&config.database_url)
            );
            Ok(())
        }
        Command::Seed(args) => {
            let pool = db::migrate(&config.database_url).await?;
            if args.portal != seed::DEMO_PORTAL {
                if !args.records.any() {
                    bail!(
                        "only the `{}` portal can be seeded for now",
                        seed::DEMO_PORTAL
                    );
                }
                let portal_id = portals::ensure(&pool, &args.portal, &args.portal).await?;
                println!("{}", args.records.run(&pool, portal_id).await?);
                return Ok(());
            }
            let login = seed::demo_portal(&pool, &config).await?;
            println!(
                "Demo portal ready. Sign in as {} with password {}",
                login.email, login.password
            );
            if login.generated {
                println!(
                    "(password generated now and kept in {}; set TANDEM_ADMIN_PASSWORD to choose one)",
                    config.data_dir.join("admin-password").display()
                );
            }
            if args.records.any() {
                let portal_id = portals::id_by_slug(&pool, &args.portal)
                    .await?
                    .context("the demo portal vanished")?;
                println!("{}", args.records.run(&pool, portal_id).await?);
            }
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { portal, user, name },
        } => {
            let pool = db::connect(&config.database_url).await?;
            let portal_id = portals::id_by_slug(&pool, &portal)
                .await?
                .with_context(|| {
                    format!("there is no portal `{portal}`; run `tandem seed` first")
                })?;
            let user_id = users::id_by_email(&pool, portal_id, &user)
                .await?
                .with_context(|| format!("there is no user {user} in portal `{portal}`"))?;
            let created = tokens::create(&pool, portal_id, user_id, &name)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!(
                "Token “{}” created for {user} in portal `{portal}`:",
                created.token.name
            );
            println!("{}", created.secret);
            Ok(())
        }
        Command::Worker { concurrency } => {
            let pool = db::migrate(&config.database_url).await?;
            let key = crate::platform::secrets::SecretKey::load(&config.data_dir)?;
            let engine = crate::engine::worker::Engine::new(pool, std::sync::Arc::new(config), key);
            let stop = crate::engine::worker::spawn(engine, concurrency, "worker");
            println!("Tandem worker running {concurrency} job(s) at a time; Ctrl-C stops it.");
            crate::support::shutdown_signal().await;
            let _ = stop.send(true);
            Ok(())
        }
        Command::DemoApp { command } => demo_app(command).await,
    }
}

async fn demo_app(command: Option<DemoAppCommand>) -> anyhow::Result<()> {
    use crate::demo_app;
    let config = demo_app::DemoConfig::from_env()?;
    match command.unwrap_or(DemoAppCommand::Serve) {
        DemoAppCommand::Serve => demo_app::serve(config).await,
        DemoAppCommand::Seed(a) => {
            let pool = demo_app::db::migrate(&config.database_url).await?;
            let started = std::time::Instant::now();
            let report = demo_app::seed::seed(
                &pool,
                &demo_app::seed::SeedOptions {
                    account: a.account,
                    contacts: a.contacts,
                    companies: a.companies,
                    deals: a.deals,
                    invoices: a.invoices,
                    events: a.events,
                    if_empty: a.if_empty,
                },
            )
            .await?;
            if report.seeded {
                println!(
                    "Seeded account `{}` with {} contacts, {} companies, {} deals, {} invoices and {} email events in {:.1}s.",
                    report.account,
                    report.contacts,
                    report.companies,
                    report.deals,
                    report.invoices,
                    report.events,
                    started.elapsed().as_secs_f64()
                );
            } else {
                println!(
                    "Account `{}` already has records; left as it is.",
                    report.account
                );
            }
            println!(
                "Sign in as {} with password {}",
                report.username, report.password
            );
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::migrate(&config.database_url).await?;
    let addr = config.addr;
    let public_url = config.public_url.clone();
    let state = AppState::new(pool.clone(), config)?;

    // Expired sessions are removed in the background.
    let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
    tokio::spawn(async move {
        use tower_sessions::ExpiredDeletion;
        let _ = store
            .continuously_delete_expired(tokio::time::Duration::from_secs(3600))
            .await;
    });

    // Sync workers in this process (`TANDEM_WORKERS`, default 2; 0 leaves the work to
    // `tandem worker` processes).
    let workers: usize = std::env::var("TANDEM_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let stop_engine = (workers > 0).then(|| {
        let engine = crate::engine::worker::Engine::new(
            state.pool.clone(),
            state.config.clone(),
            state.secret_key.clone(),
        );
        crate::engine::worker::spawn(engine, workers, "serve")
    });

    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}; is another Tandem running? Set TANDEM_ADDR")
    })?;
    tracing::info!(%addr, "listening");
    println!("Tandem is serving on {public_url}");
    // Each request knows its client's address: sign-in throttles per client.
    let app = super::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(crate::support::shutdown_signal())
        .await
        .context("server error");
    if let Some(stop) = stop_engine {
        let _ = stop.send(true);
    }
    served
}
