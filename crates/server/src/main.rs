//! `multivio`: the Multivio server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

mod database;
mod wiring;
mod worker;

/// Multivio: publish one post to many social platforms, now or on a schedule.
///
/// With nothing configured, Multivio keeps everything under its data directory: a private
/// PostgreSQL cluster (started from the system's PostgreSQL binaries), media files and the
/// generated token-sealing key. Set DATABASE_URL to use an existing PostgreSQL server instead.
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
    /// Run the HTTP API, and a publishing worker beside it.
    ///
    /// Applies pending migrations first, then listens on MULTIVIO_LISTEN (default
    /// 127.0.0.1:8080): the API under /v1, interactive docs at /docs, the OpenAPI document at
    /// /openapi.json, Prometheus metrics at /metrics. GET /healthz answers while the process is
    /// up; GET /readyz answers 200 once the database is reachable and migrated. Ctrl-C or
    /// SIGTERM stops it gracefully (requests in flight finish, the worker ends its round), and
    /// stops the private PostgreSQL cluster if this process started it.
    Serve {
        /// Don't run the publishing worker in this process (run `multivio worker` elsewhere).
        #[arg(long, env = "MULTIVIO_NO_WORKER")]
        no_worker: bool,
    },
    /// Run only the publishing worker: publishes due posts to every target, retries what is
    /// safe to retry, and resets ended quota periods. Any number may run at once.
    Worker,
    /// Apply pending database migrations and exit.
    ///
    /// Safe to run while servers are starting: migrations are applied under a PostgreSQL
    /// advisory lock, so concurrent runs end with one applied set.
    Migrate,
    /// Print a Firebase Auth Emulator ID token for local use.
    ///
    /// Accepted only while the server runs in emulator mode: with no
    /// MULTIVIO_FIREBASE_PROJECT_ID (the local default, project `multivio-local`) or with
    /// FIREBASE_AUTH_EMULATOR_HOST set. Use it as `Authorization: Bearer <token>`.
    DevToken {
        /// The Firebase uid of the user.
        #[arg(long, default_value = "dev-user")]
        uid: String,
        /// The user's email.
        #[arg(long, default_value = "dev@example.com")]
        email: String,
        /// How long the token is valid, in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
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
#[derive(Args)]
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
    /// External base URL (OAuth redirect URIs, media URLs). Default: http://<listen>.
    #[arg(long, env = "MULTIVIO_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// Firebase project whose ID tokens are accepted. Unset: emulator tokens of the local
    /// project `multivio-local` (see `dev-token`).
    #[arg(long, env = "MULTIVIO_FIREBASE_PROJECT_ID", global = true)]
    firebase_project_id: Option<String>,
    /// Accept Firebase Auth Emulator (unsigned) tokens for the configured project.
    #[arg(long, env = "FIREBASE_AUTH_EMULATOR_HOST", global = true)]
    firebase_emulator_host: Option<String>,
    /// Google's x509 certificate set for ID tokens (tests point it at a fake).
    #[arg(long, env = "MULTIVIO_FIREBASE_CERTS_URL", global = true)]
    firebase_certs_url: Option<String>,
    /// Keys sealing tokens at rest: `kid:base64key,...`, the first one seals. Unset: a key
    /// generated into the data directory.
    #[arg(
        long,
        env = "MULTIVIO_TOKEN_KEYS",
        global = true,
        hide_env_values = true
    )]
    token_keys: Option<String>,
    /// Web client origins allowed to call the API from a browser (comma-separated).
    #[arg(long, env = "MULTIVIO_CORS_ORIGINS", global = true)]
    cors_origins: Option<String>,
    /// Paid plans and their monthly post quotas, e.g. `pro=100,business=1000` (free has 10).
    #[arg(long, env = "MULTIVIO_PLANS", global = true)]
    plans: Option<String>,
    /// Production profile: refuses emulator tokens and generated keys.
    #[arg(long, env = "MULTIVIO_PRODUCTION", global = true)]
    production: bool,
}

/// Secrets (the database URL's password, the token keys) never reach a log through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "[redacted]" } else { "unset" };
        f.debug_struct("Config")
            .field("database_url", &redacted(self.database_url.is_some()))
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("firebase_project_id", &self.firebase_project_id)
            .field("firebase_emulator_host", &self.firebase_emulator_host)
            .field("firebase_certs_url", &self.firebase_certs_url)
            .field("token_keys", &redacted(self.token_keys.is_some()))
            .field("cors_origins", &self.cors_origins)
            .field("plans", &self.plans)
            .field("production", &self.production)
            .finish()
    }
}

impl Config {
    /// The external base URL, without a trailing slash.
    fn public_url(&self) -> String {
        self.public_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
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
            Command::Serve { no_worker } => serve(&cli.config, !no_worker).await,
            Command::Worker => run_worker(&cli.config).await,
            Command::Migrate => migrate(&cli.config).await,
            Command::Pg(pg) => database::manage(&cli.config, pg).await,
            Command::DevToken {
                uid,
                email,
                minutes,
            } => dev_token(&cli.config, &uid, &email, minutes),
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

async fn serve(config: &Config, with_worker: bool) -> anyhow::Result<()> {
    let db = database::open(config).await?;
    let outcome = run_server(config, &db, with_worker).await;
    db.close().await;
    outcome
}

async fn run_worker(config: &Config) -> anyhow::Result<()> {
    let db = database::open(config).await?;
    let outcome = async {
        multivio_postgres::run_migrations(db.url()).await?;
        let pool = multivio_postgres::build_pool(&multivio_postgres::PoolSettings::new(db.url()))?;
        let state = wiring::app_state(config, pool)?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        worker::run(state.services.clone(), worker_id(), stop_rx).await;
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    outcome
}

/// A worker's name in job leases: host and process.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}

async fn run_server(
    config: &Config,
    db: &database::Database,
    with_worker: bool,
) -> anyhow::Result<()> {
    let applied = multivio_postgres::run_migrations(db.url()).await?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    let pool = multivio_postgres::build_pool(&multivio_postgres::PoolSettings::new(db.url()))?;
    let state = wiring::app_state(config, pool)?;
    let worker_services = state.services.clone();
    let server = actix_web::HttpServer::new(move || multivio_http::app(state.clone()))
        .shutdown_timeout(10)
        .disable_signals()
        .bind(config.listen)
        .with_context(|| format!("could not listen on {}", config.listen))?
        .run();
    tracing::info!("Multivio listening on http://{}", config.listen);
    // Bound first, so a port already in use stops us before the worker starts.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker =
        with_worker.then(|| tokio::spawn(worker::run(worker_services, worker_id(), stop_rx)));
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        // The worker stops claiming at once and ends the job in hand while requests drain.
        let _ = stop_tx.send(true);
        handle.stop(true).await;
    });
    let served = server.await.context("HTTP server failed");
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    served?;
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

/// Prints an emulator token (see [`Command::DevToken`]).
#[allow(clippy::print_stdout)] // the token is the command's output
fn dev_token(config: &Config, uid: &str, email: &str, minutes: u64) -> anyhow::Result<()> {
    if config.production {
        anyhow::bail!("dev-token is refused in production: emulator tokens are not accepted there");
    }
    let project = config
        .firebase_project_id
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(wiring::LOCAL_PROJECT);
    let token = multivio_http::auth::mint_emulator_token(
        project,
        uid,
        Some(email),
        true,
        std::time::Duration::from_secs(minutes.saturating_mul(60)),
        chrono::Utc::now(),
    );
    println!("{token}");
    Ok(())
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
