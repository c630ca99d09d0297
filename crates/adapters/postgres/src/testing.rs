//! The per-test database harness.
//!
//! Every test gets its own database, cloned from a template that has every migration applied,
//! and dropped when the test's [`TestDb`] goes out of scope. The server is `DATABASE_URL` when
//! set; otherwise a private cluster under `$MULTIVIO_TEST_DATA_DIR/postgres` (default
//! `target/test-data/postgres`), started on first use and shared by every test process
//! (`just test` stops it afterwards with `multivio --data-dir <that dir> pg stop`).
//!
//! The template is named after a hash of the migrations, so changing a migration builds a
//! new template instead of testing against a stale one.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::cluster::Cluster;
use crate::provision::{install_claim_keys, login_url, set_login_password};
use crate::tenant::{ClaimKeys, Role};
use crate::{PgPool, PgStore, PoolSettings, build_pool, run_migrations};

/// The lane a post's publishing steps queue in: steps of posts in one lane share a
/// transaction when they queue behind one another.
pub use crate::store::step_lane;

const TEMPLATE_LOCK_KEY: i64 = 0x6d76_7465_6d70_6c74;
const LOGIN_LOCK_KEY: i64 = 0x6d76_6c6f_6769_6e73;

/// The claim key of test databases (installed in the template).
pub const TEST_CLAIM_KID: &str = "test";
/// Its secret.
pub const TEST_CLAIM_SECRET: [u8; 32] = [7; 32];
/// The password the test harness gives the runtime login roles.
pub const TEST_LOGIN_PASSWORD: &str = "multivio-test-login";

/// The claim keys of test databases.
pub fn test_claim_keys() -> ClaimKeys {
    ClaimKeys::new(TEST_CLAIM_KID, &TEST_CLAIM_SECRET)
}

/// A fresh, migrated database for one test.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
    pool: PgPool,
    api: PgPool,
    worker: PgPool,
}

/// Pool settings that wait as long as a loaded machine needs: a test's burst of connections
/// (fifty concurrent schedules open the pool's 32, each with a password exchange) shares two
/// cores with the other tests' processes, and a connection that takes seconds to open there
/// is slowness, not the failure a test looks for (the price: a test that starves its pool
/// fails after a minute, not after 5 s). The runtime's own limits are [`PoolSettings::new`]'s.
fn patient(mut settings: PoolSettings) -> PoolSettings {
    settings.wait_timeout = std::time::Duration::from_secs(60);
    settings.create_timeout = std::time::Duration::from_secs(60);
    settings
}

impl TestDb {
    /// Creates the database (and, the first time, the template). Panics with a clear message
    /// when no PostgreSQL can be had: a test without its database cannot say anything useful.
    pub async fn new() -> TestDb {
        let admin_url = server_url().to_owned();
        let template = ensure_template(&admin_url).await;
        ensure_logins(&admin_url).await;
        Self::create_from(admin_url, &template).await
    }

    /// An empty database (no migrations applied), for testing the migrations themselves.
    pub async fn empty() -> TestDb {
        Self::create_from(server_url().to_owned(), "template0").await
    }

    async fn create_from(admin_url: String, template: &str) -> TestDb {
        let name = format!("multivio_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .expect("connecting to the test PostgreSQL server");
        // Cloning fails while another session is connected to the template; that is brief
        // (only while the template is being built), so retry.
        let mut attempt = 0;
        loop {
            let created = diesel::sql_query(format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .execute(&mut admin)
            .await;
            match created {
                Ok(_) => break,
                Err(e) if attempt < 50 && e.to_string().contains("being accessed") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("creating test database {name}: {e}"),
            }
        }
        // As the server's start does (provision::restrict_database): a database's privileges
        // are not copied from its template.
        diesel::sql_query(format!(
            "REVOKE TEMPORARY ON DATABASE \"{name}\" FROM PUBLIC"
        ))
        .execute(&mut admin)
        .await
        .expect("restricting the test database");
        let url = with_database(&admin_url, &name);
        let mut settings = patient(PoolSettings::new(url.clone()));
        settings.max_size = 64;
        settings.application_name = "multivio-test".to_owned();
        // The owner's pool sets up and checks rows behind the store's back, in autocommit.
        settings.autocommit_writes = true;
        let pool = build_pool(&settings).expect("building the test pool");
        let login_pool = |role: Role| {
            let mut settings = patient(PoolSettings::new(
                login_url(&url, role, TEST_LOGIN_PASSWORD).expect("a login URL for tests"),
            ));
            settings.max_size = 32;
            settings.application_name = "multivio-test".to_owned();
            build_pool(&settings).expect("building a test login pool")
        };
        TestDb {
            api: login_pool(Role::Api),
            worker: login_pool(Role::Worker),
            name,
            url,
            admin_url,
            pool,
        }
    }

    /// A pool of connections to this test's database as the owner (a superuser), for setting
    /// up and checking rows behind the store's back.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A pool logged in as the API's runtime login (`multivio_api_login`).
    pub fn api_pool(&self) -> &PgPool {
        &self.api
    }

    /// A pool logged in as the worker's runtime login (`multivio_worker_login`).
    pub fn worker_pool(&self) -> &PgPool {
        &self.worker
    }

    /// The store as an API process has it: both runtime logins, the test claim key.
    pub fn store(&self) -> PgStore {
        PgStore::new(
            Some(self.api.clone()),
            self.worker.clone(),
            test_claim_keys(),
        )
    }

    /// The store as a worker-only process has it.
    pub fn worker_store(&self) -> PgStore {
        PgStore::new(None, self.worker.clone(), test_claim_keys())
    }

    /// The URL of this test's database as the worker's runtime login.
    pub fn worker_url(&self) -> String {
        login_url(&self.url, Role::Worker, TEST_LOGIN_PASSWORD).expect("a login URL for tests")
    }

    /// The URL of this test's database as the API's runtime login.
    pub fn api_url(&self) -> String {
        login_url(&self.url, Role::Api, TEST_LOGIN_PASSWORD).expect("a login URL for tests")
    }

    /// The URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        self.api.close();
        self.worker.close();
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; use a thread with
        // its own small runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = AsyncPgConnection::establish(&admin_url).await.ok()?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

/// The maintenance-database URL of the server tests use.
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            return url;
        }
        // `scripts/test.sh` picks a directory the postgres user can reach even when the
        // checkout is under a private home (as root, the cluster runs as postgres).
        let data_dir = std::env::var_os("MULTIVIO_TEST_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/test-data")
            });
        let dir = data_dir.join("postgres");
        let cluster = Cluster::start(&dir).unwrap_or_else(|e| {
            panic!("no DATABASE_URL, and the private test cluster could not start: {e}")
        });
        cluster.url("postgres")
    })
}

/// Creates the migrated template database once per migration set, under an advisory lock
/// so concurrent test processes build it once.
async fn ensure_template(admin_url: &str) -> String {
    let template = format!("multivio_tpl_{}", env!("MULTIVIO_MIGRATIONS_HASH"));
    let mut admin = AsyncPgConnection::establish(admin_url)
        .await
        .expect("connecting to the test PostgreSQL server");
    if template_exists(&mut admin, &template).await {
        return template;
    }
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut admin)
        .await
        .expect("taking the template lock");
    if !template_exists(&mut admin, &template).await {
        // Build under a temporary name and rename, so no test ever clones a half-built one.
        let building = format!("{template}_building");
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut admin)
        .await
        .expect("dropping a stale template build");
        diesel::sql_query(format!("CREATE DATABASE \"{building}\""))
            .execute(&mut admin)
            .await
            .expect("creating the template database");
        let building_url = with_database(admin_url, &building);
        run_migrations(&building_url)
            .await
            .expect("migrating the template database");
        let mut conn = AsyncPgConnection::establish(&building_url)
            .await
            .expect("connecting to the template database");
        install_claim_keys(
            &mut conn,
            &[(TEST_CLAIM_KID.to_owned(), TEST_CLAIM_SECRET.to_vec())],
        )
        .await
        .expect("installing the test claim key");
        drop(conn);
        diesel::sql_query(format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
        ))
        .execute(&mut admin)
        .await
        .expect("publishing the template database");
    }
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut admin)
        .await
        .expect("releasing the template lock");
    template
}

/// Gives the runtime login roles (cluster-wide) the test password, once per process and only
/// when logging in with it fails (another process may have done it already).
async fn ensure_logins(admin_url: &str) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let api = login_url(
            &with_database(admin_url, "postgres"),
            Role::Api,
            TEST_LOGIN_PASSWORD,
        )
        .expect("a login URL for tests");
        if AsyncPgConnection::establish(&api).await.is_ok() {
            return;
        }
        let mut admin = AsyncPgConnection::establish(admin_url)
            .await
            .expect("connecting to the test PostgreSQL server");
        diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<BigInt, _>(LOGIN_LOCK_KEY)
            .execute(&mut admin)
            .await
            .expect("taking the login lock");
        for role in [Role::Api, Role::Worker] {
            set_login_password(&mut admin, role, TEST_LOGIN_PASSWORD)
                .await
                .expect("setting the test login password");
        }
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(LOGIN_LOCK_KEY)
            .execute(&mut admin)
            .await
            .expect("releasing the login lock");
    })
    .await;
}

async fn template_exists(admin: &mut AsyncPgConnection, name: &str) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .get_result(admin)
            .await
            .expect("looking up the template database");
    count.n > 0
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests;
