//! `multivio`: the Multivio server.

use anyhow::Context;
use clap::{Parser, Subcommand};
use multivio::database::{self, PgCommand};
use multivio::{Application, Config, Overrides};

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
    /// Serve the sandbox alone: local fakes of every platform (X, Bluesky, Mastodon, Facebook,
    /// Instagram, Threads, LinkedIn, Pinterest, TikTok, YouTube) and of Stripe that keep what
    /// they receive (a page at /, JSON at /_sandbox/posts). `serve` starts one by itself locally;
    /// this is for workers and tests on their own. Refused in production.
    Sandbox,
    /// Manage the private PostgreSQL cluster under the data directory.
    #[command(subcommand)]
    Pg(PgCommand),
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
            Command::Worker => {
                multivio::run_worker(&cli.config, Overrides::default(), shutdown_signal()).await
            }
            Command::Migrate => migrate(&cli.config).await,
            Command::Sandbox => sandbox(&cli.config).await,
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
    let app = Application::build(config, Overrides::default()).await?;
    tracing::info!("Multivio listening on http://{}", config.listen);
    if let (Some(addr), Some(port)) = (config.metrics_listen, app.metrics_port()) {
        tracing::info!("metrics on http://{}:{port}/metrics", addr.ip());
    }
    app.run(with_worker, shutdown_signal()).await
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
        .unwrap_or(multivio::LOCAL_PROJECT);
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

async fn sandbox(config: &Config) -> anyhow::Result<()> {
    if config.production {
        anyhow::bail!("the sandbox is for local runs: it is refused in production");
    }
    let sandbox = multivio_sandbox::Sandbox::start(config.sandbox_listen)
        .await
        .with_context(|| format!("could not listen on {}", config.sandbox_listen))?;
    tracing::info!(
        "sandbox: fakes of every platform and of Stripe at {}/<platform>; posts at {}/",
        sandbox.url(),
        sandbox.url()
    );
    shutdown_signal().await;
    sandbox.stop().await;
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
