//! Which PostgreSQL the server uses: `DATABASE_URL`, or a private cluster under the data dir.

use anyhow::Context;
use base64::Engine as _;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_postgres::cluster::Cluster;
use multivio_postgres::{ClaimKeys, PgStore, PoolSettings, Role, RuntimeSetup};
use multivio_vault::Keyring;

use crate::Config;

/// What claim keys are derived for.
pub const CLAIM_PURPOSE: &str = "multivio tenant claims";
/// The ids of the claim keys this server derives (`claim-<keyring key id>`).
pub const CLAIM_KEY_PREFIX: &str = "claim-";
/// Connections of the API's pool.
const API_POOL: usize = 16;
/// Connections of the worker's pool, at least.
const WORKER_POOL: usize = 8;
/// The worker's pool for `concurrency` jobs at once: a job holds a connection only while it
/// talks to the database, but a job whose post a sibling target holds waits on a connection,
/// so the pool grows with the jobs (half of them, from 8 to 32) lest the claims and
/// heartbeats wait behind them.
fn worker_pool_size(concurrency: u32) -> usize {
    (concurrency as usize / 2).clamp(WORKER_POOL, 32)
}

/// The password of a runtime login, derived from the primary sealing key: every process of the
/// deployment knows it without another secret to distribute. (Rotating the primary key rotates
/// it at the next start; give explicit URLs to rotate them separately.)
fn login_password(keyring: &Keyring, role: Role) -> anyhow::Result<String> {
    let (_, secret) = keyring
        .derive(&format!("multivio database login {}", role.login()))
        .into_iter()
        .next()
        .context("the keyring has no key")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret))
}

/// The name of the application database inside a private cluster.
const DATABASE_NAME: &str = "multivio";

/// The database in use, and the private cluster behind it if there is one.
pub struct Database {
    url: String,
    cluster: Option<Cluster>,
}

/// The URL carries a password: never printed.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field(
                "private_cluster",
                &self.cluster.as_ref().map(Cluster::data_dir),
            )
            .finish_non_exhaustive()
    }
}

/// `multivio pg …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum PgCommand {
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

/// What a process runs on: the store over the runtime pools, and the worker login's URL (for
/// the connection a worker listens for new jobs on).
pub struct Runtime {
    /// The store.
    pub store: PgStore,
    /// The worker login's URL (holds its password).
    pub worker_url: String,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL holds the login's password.
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// Which runtime pools a process opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pools {
    /// An API server (with or without an embedded worker): the API login for requests, the
    /// worker login for work across tenants.
    Api,
    /// A worker process: the worker login only.
    WorkerOnly,
}

impl Database {
    /// The owner's URL (migrations, runtime setup).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Applies pending migrations, sets up the runtime logins and claim keys over the owner
    /// connection, checks that each runtime login holds no more than its role, and opens the
    /// runtime pools. The owner connection is not kept.
    pub async fn runtime(
        &self,
        config: &Config,
        keyring: &Keyring,
        pools: Pools,
    ) -> anyhow::Result<Runtime> {
        let applied = multivio_postgres::run_migrations(&self.url).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied migrations");
        }
        let explicit =
            |url: &Option<String>| url.as_deref().filter(|u| !u.is_empty()).map(str::to_owned);
        let mut setup = RuntimeSetup {
            passwords: Vec::new(),
            claim_keys: keyring
                .derive(CLAIM_PURPOSE)
                .into_iter()
                .map(|(kid, secret)| (format!("{CLAIM_KEY_PREFIX}{kid}"), secret.to_vec()))
                .collect(),
            claim_key_prefix: Some(CLAIM_KEY_PREFIX.to_owned()),
        };
        let mut url_of = |role: Role, configured: Option<String>| -> anyhow::Result<String> {
            if let Some(url) = configured {
                return Ok(url);
            }
            let password = login_password(keyring, role)?;
            let url = multivio_postgres::login_url(&self.url, role, &password)?;
            setup.passwords.push((role, password));
            Ok(url)
        };
        let api_url = match pools {
            Pools::Api => Some(url_of(Role::Api, explicit(&config.api_database_url))?),
            Pools::WorkerOnly => None,
        };
        let worker_url = url_of(Role::Worker, explicit(&config.worker_database_url))?;
        multivio_postgres::provision(&self.url, &setup)
            .await
            .context("setting up the runtime database logins")?;
        let pool = |url: &str, role: Role, size: usize| -> anyhow::Result<_> {
            let mut settings = PoolSettings::new(url);
            settings.max_size = size;
            settings.application_name = format!("multivio-{}", role.login());
            Ok(multivio_postgres::build_pool(&settings)?)
        };
        let api = match &api_url {
            Some(url) => {
                multivio_postgres::check_login(url, Role::Api)
                    .await
                    .context("checking the API's database login")?;
                Some(pool(url, Role::Api, API_POOL)?)
            }
            None => None,
        };
        multivio_postgres::check_login(&worker_url, Role::Worker)
            .await
            .context("checking the worker's database login")?;
        let worker = pool(
            &worker_url,
            Role::Worker,
            worker_pool_size(config.worker_concurrency),
        )?;
        let (kid, secret) = <[_]>::first(&setup.claim_keys)
            .context("the keyring has no key to sign tenant claims with")?;
        Ok(Runtime {
            store: PgStore::new(api, worker, ClaimKeys::new(kid.clone(), secret)),
            worker_url,
        })
    }

    /// Stops the private cluster if this process started it.
    pub async fn close(self) {
        let Some(cluster) = self.cluster else { return };
        if !cluster.started_here() {
            return;
        }
        tracing::info!("stopping the private PostgreSQL cluster");
        match tokio::task::spawn_blocking(move || cluster.stop()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("could not stop the private PostgreSQL cluster: {e}"),
            Err(e) => tracing::warn!("could not stop the private PostgreSQL cluster: {e}"),
        }
    }
}

pub async fn open(config: &Config) -> anyhow::Result<Database> {
    if let Some(url) = config.database_url.as_deref().filter(|u| !u.is_empty()) {
        return Ok(Database {
            url: url.to_owned(),
            cluster: None,
        });
    }
    let dir = config.data_dir.join("postgres");
    tracing::info!(dir = %dir.display(), "DATABASE_URL is not set: using a private PostgreSQL cluster");
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(&dir))
        .await
        .context("starting the private PostgreSQL cluster")??;
    tracing::info!(
        port = cluster.port(),
        reused = !cluster.started_here(),
        "private PostgreSQL cluster is up"
    );
    let db = Database {
        url: cluster.url(DATABASE_NAME),
        cluster: Some(cluster),
    };
    if let Err(e) = create_database(&db).await {
        db.close().await;
        return Err(e);
    }
    Ok(db)
}

async fn create_database(db: &Database) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        datname: String,
    }
    let Some(cluster) = &db.cluster else {
        return Ok(());
    };
    let mut admin = AsyncPgConnection::establish(&cluster.url("postgres"))
        .await
        .context("connecting to the private PostgreSQL cluster")?;
    let existing: Vec<Name> =
        diesel::sql_query("SELECT datname::text FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(DATABASE_NAME)
            .load(&mut admin)
            .await?;
    if existing.is_empty() {
        diesel::sql_query(format!("CREATE DATABASE {DATABASE_NAME}"))
            .execute(&mut admin)
            .await
            .context("creating the multivio database")?;
    }
    Ok(())
}

/// `multivio pg …`: the private cluster by hand (for `just db`, tests and scripts).
#[allow(clippy::print_stdout)] // printing is what these commands are for
pub async fn manage(config: &Config, command: PgCommand) -> anyhow::Result<()> {
    let dir = config.data_dir.join("postgres");
    if let PgCommand::Stop = command {
        if let Some(cluster) = tokio::task::spawn_blocking(move || Cluster::attach(&dir)).await?? {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        return Ok(());
    }
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(&dir)).await??;
    let db = Database {
        url: cluster.url(DATABASE_NAME),
        cluster: Some(cluster),
    };
    create_database(&db).await?;
    let Some(cluster) = &db.cluster else {
        return Ok(());
    };
    match command {
        PgCommand::Url { database } => println!("{}", cluster.url(&database)),
        PgCommand::Env => {
            println!(
                "export PGHOST=127.0.0.1 PGPORT={} PGUSER={} PGPASSWORD={} PGDATABASE={DATABASE_NAME}",
                cluster.port(),
                multivio_postgres::cluster::SUPERUSER,
                cluster.password()
            );
        }
        PgCommand::Stop => {}
    }
    Ok(())
}
