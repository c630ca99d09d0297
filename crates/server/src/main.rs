//! `multivio`: the Multivio server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

mod database;

/// Multivio: publish one post to many social platforms, now or on a schedule.
///
/// With nothing configured, Multivio keeps everything under its data directory: a private
/// PostgreSQL cluster (started from the system's PostgreSQL binaries) and, later, media and
/// generated keys. Set DATABASE_URL to use an existing PostgreSQL server instead.
#[derive(Debug, Parser)]
#[command(name = "multivio", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API.
    ///
    /// Applies pending migrations first, then listens on MULTIVIO_LISTEN (default
    /// 127.0.0.1:8080). GET /healthz answers while the process is up; GET /readyz answers 200
    /// once the database is reachable and migrated. Ctrl-C or SIGTERM stops it gracefully,
    /// and stops the private PostgreSQL cluster if this process started it.
    Serve,
    /// Apply pending database migrations and exit.
    ///
    /// Safe to run while servers are starting: migrations are applied under a PostgreSQL
    /// advisory lock, so concurrent runs end with one applied set.
    Migrate,
    /// Manage the private PostgreSQL cluster under the data directory.
    #[command(subcommand)]
    Pg(PgCommand),
}

#[derive(Debug, Subcommand)]
enum PgCommand {
    /// Start the cluster if it is not running, and print a URL for one of its databases.
    Url {
        /// The database to name in the URL.
        #[arg(default_value = "multivio")]
        database: String,
    },
    /// Start the cluster if it is not running, and print PGHOST, PGPORT, PGUSER and
    /// PGPASSWORD assignments for `eval` (for psql and PostgreSQL's other tools).
    Env,
    /// Stop the cluster if it is running.
    Stop,
}

/// Settings shared by every command (each also read from its environment variable).
#[derive(Debug, Args)]
struct Config {
    /// PostgreSQL URL. Unset: a private cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Address to listen on.
    #[arg(
        long,
        env = "MULTIVIO_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// Where the private database, local media and generated keys live.
    #[arg(
        long,
        env = "MULTIVIO_DATA_DIR",
        default_value = "./.multivio",
        global = true
    )]
    data_dir: PathBuf,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve(&cli.config).await,
            Command::Migrate => migrate(&cli.config).await,
            Command::Pg(pg) => database::manage(&cli.config, pg).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("MULTIVIO_LOG_FORMAT").is_ok_and(|f| f == "json");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let db = database::open(config).await?;
    let outcome = run_server(config, &db).await;
    db.close().await;
    outcome
}

async fn run_server(config: &Config, db: &database::Database) -> anyhow::Result<()> {
    let applied = multivio_postgres::run_migrations(db.url()).await?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    let pool = multivio_postgres::build_pool(&multivio_postgres::PoolSettings::new(db.url()))?;
    let state = multivio_http::AppState { pool };
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(multivio_http::configure(state.clone()))
    })
    .shutdown_timeout(10)
    .disable_signals()
    .bind(config.listen)
    .with_context(|| format!("could not listen on {}", config.listen))?
    .run();
    tracing::info!("Multivio listening on http://{}", config.listen);
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        handle.stop(true).await;
    });
    server.await.context("HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM; both mean a graceful stop.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the server");
            let _ = interrupt.await;
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = database::open(config).await?;
    let outcome = multivio_postgres::run_migrations(db.url()).await;
    db.close().await;
    let applied = outcome?;
    if applied.is_empty() {
        tracing::info!("database already up to date");
    } else {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    Ok(())
}
