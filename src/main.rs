//! The `tandem` binary (server build only; the WASM build has no `main`).

/// mimalloc: the sync's worker allocates and frees many small strings and maps per record,
/// and spent about 45 % of its own CPU in glibc's malloc and free.
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use tracing_subscriber::EnvFilter;

    // No transparent huge pages for this process: where the system enables them always,
    // a 2 MB region the allocator touches can become resident as a whole, and the worker
    // must stay small and flat in memory (measured with this off: 70-87 MB at 100k and 1M).
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }

    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = tandem::server::cli::Cli::parse();
    match tandem::server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build starts from `tandem::hydrate`, not from here.
}
