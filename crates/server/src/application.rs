//! The application, built in one place: `main` and every test call [`Application::build`]
//! (zero2prod's `Application::build`), so what is tested is what runs.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use multivio_app::Services;

use crate::database::{self, Database, Pools};
use crate::wiring::{self, Overrides};
use crate::{Config, worker};

/// A built application: database ready, services assembled, listeners bound.
#[allow(missing_debug_implementations)]
pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: actix_web::dev::Server,
    metrics_server: Option<actix_web::dev::Server>,
    services: Arc<Services>,
    worker_loop: worker::WorkerLoop,
    db: Database,
    sandbox: Option<multivio_sandbox::Sandbox>,
}

impl Application {
    /// Opens the database (migrations, runtime logins), assembles every use case and the HTTP
    /// state, and binds the API's listener (and the metrics listener when configured).
    /// Nothing is served until [`Application::run`].
    pub async fn build(config: &Config, overrides: Overrides) -> anyhow::Result<Self> {
        // Settings that refuse to start are refused before anything is started.
        config.check_exposure()?;
        let verifier = wiring::firebase(config)?;
        let sandbox = start_sandbox(config, &overrides).await?;
        let sandbox_url = sandbox
            .as_ref()
            .map(|s| s.url().to_owned())
            .or_else(|| crate::platforms::sandbox_url(config));
        let db = database::open(config).await?;
        match Self::assemble(config, overrides, verifier, sandbox_url.as_deref(), &db).await {
            Ok((port, metrics_port, server, metrics_server, services, worker_loop)) => {
                // Billing without Stripe settings goes to the sandbox this process started:
                // its deliveries come here.
                if let Some(sandbox) = &sandbox
                    && config
                        .stripe_secret_key
                        .as_deref()
                        .is_none_or(str::is_empty)
                {
                    crate::outbound::register_sandbox_webhook(
                        &sandbox.stripe_url(),
                        &config.public_url(),
                    )
                    .await;
                }
                Ok(Self {
                    port,
                    metrics_port,
                    server,
                    metrics_server,
                    services,
                    worker_loop,
                    db,
                    sandbox,
                })
            }
            Err(e) => {
                db.close().await;
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn assemble(
        config: &Config,
        overrides: Overrides,
        verifier: multivio_http::auth::FirebaseVerifier,
        sandbox_url: Option<&str>,
        db: &Database,
    ) -> anyhow::Result<(
        u16,
        Option<u16>,
        actix_web::dev::Server,
        Option<actix_web::dev::Server>,
        Arc<Services>,
        worker::WorkerLoop,
    )> {
        let keyring = config.keyring()?;
        let runtime = db.runtime(config, &keyring, Pools::Api).await?;
        let worker_loop = worker_loop(config, &runtime);
        let services = wiring::services(config, runtime.store, keyring, sandbox_url, &overrides)?;
        let state = wiring::http_state(config, services.clone(), verifier, &overrides)?;
        let api_state = state.clone();
        let server = actix_web::HttpServer::new(move || multivio_http::app(api_state.clone()))
            .shutdown_timeout(10)
            .disable_signals()
            .bind(config.listen)
            .with_context(|| format!("could not listen on {}", config.listen))?;
        let port = server
            .addrs()
            .first()
            .map(|a| a.port())
            .context("the API listener has no address")?;
        let (metrics_server, metrics_port) = match config.metrics_listen {
            Some(addr) => {
                let server =
                    actix_web::HttpServer::new(move || multivio_http::metrics_app(state.clone()))
                        .workers(1)
                        .disable_signals()
                        .bind(addr)
                        .with_context(|| format!("could not listen on {addr} for metrics"))?;
                let port = server.addrs().first().map(|a| a.port());
                (Some(server.run()), port)
            }
            None => (None, None),
        };
        Ok((
            port,
            metrics_port,
            server.run(),
            metrics_server,
            services,
            worker_loop,
        ))
    }

    /// The port the API listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, if there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// The use cases, as the handlers hold them.
    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// Serves until `shutdown` resolves, with a publishing worker beside the API when
    /// `with_worker`; then finishes requests in flight, stops the worker after its job in hand,
    /// and stops the private database cluster if this process started it.
    pub async fn run(
        self,
        with_worker: bool,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = with_worker.then(|| {
            tokio::spawn(worker::run(
                self.services.clone(),
                self.worker_loop.clone(),
                stop_rx,
            ))
        });
        let handle = self.server.handle();
        let metrics_handle = self.metrics_server.as_ref().map(|s| s.handle());
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            // The worker stops claiming at once and ends the job in hand while requests drain.
            let _ = stop_tx.send(true);
            if let Some(metrics) = metrics_handle {
                metrics.stop(true).await;
            }
            handle.stop(true).await;
        });
        if let Some(metrics) = self.metrics_server {
            tokio::spawn(metrics);
        }
        let served = self.server.await.context("HTTP server failed");
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
        self.db.close().await;
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Locally (never in production), serves the sandbox's fakes on `MULTIVIO_SANDBOX_LISTEN` unless
/// the platforms are overridden or an already running sandbox is named
/// (`MULTIVIO_SANDBOX_URL`). An address in use refuses the start: platforms pointed at
/// whatever listens there could be sent a user's credentials.
async fn start_sandbox(
    config: &Config,
    overrides: &Overrides,
) -> anyhow::Result<Option<multivio_sandbox::Sandbox>> {
    if config.production
        || !config.sandbox
        || overrides.platforms.is_some()
        || config.sandbox_url.as_deref().is_some_and(|u| !u.is_empty())
    {
        return Ok(None);
    }
    let sandbox = multivio_sandbox::Sandbox::start(config.sandbox_listen)
        .await
        .with_context(|| {
            format!(
                "the sandbox cannot listen on {}: set MULTIVIO_SANDBOX_LISTEN to a free \
                 address, MULTIVIO_SANDBOX_URL to a sandbox already running (`multivio \
                 sandbox`), or MULTIVIO_SANDBOX=false",
                config.sandbox_listen
            )
        })?;
    tracing::warn!(
        "SANDBOX: local fakes of every platform and of Stripe at {} (posts at {}/); \
         platforms without credentials publish there, never to the real platforms (each is \
         named as it is set up), and billing without Stripe settings checks out there",
        sandbox.url(),
        sandbox.url()
    );
    Ok(Some(sandbox))
}

/// How this process's worker runs.
fn worker_loop(config: &Config, runtime: &database::Runtime) -> worker::WorkerLoop {
    worker::WorkerLoop {
        worker_id: worker::worker_id(),
        concurrency: config.worker_concurrency,
        listen_url: Some(runtime.worker_url.clone()),
    }
}

/// A worker process: the database, and only the use cases publishing needs — no HTTP state, no
/// identity provider. Runs until `shutdown` resolves.
pub async fn run_worker(
    config: &Config,
    overrides: Overrides,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = database::open(config).await?;
    let outcome = async {
        let keyring = config.keyring()?;
        let runtime = db.runtime(config, &keyring, Pools::WorkerOnly).await?;
        let worker_loop = worker_loop(config, &runtime);
        let sandbox_url = crate::platforms::sandbox_url(config);
        let services = wiring::services(
            config,
            runtime.store,
            keyring,
            sandbox_url.as_deref(),
            &overrides,
        )?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        worker::run(services, worker_loop, stop_rx).await;
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    outcome
}
