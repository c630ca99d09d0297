//! Which PostgreSQL the server uses: `DATABASE_URL`, or a private cluster under the data dir.

use anyhow::Context;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use multivio_postgres::cluster::Cluster;

use crate::{Config, PgCommand};

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

impl Database {
    pub fn url(&self) -> &str {
        &self.url
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
