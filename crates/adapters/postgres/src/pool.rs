//! The connection pool: deadpool over diesel-async, with explicit timeouts everywhere so a
//! stuck database makes requests fail fast instead of hanging.

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::{Hook, HookError, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;

/// A pool of PostgreSQL connections.
pub type PgPool = Pool<AsyncPgConnection>;

/// How the pool connects and how long it waits.
#[derive(Clone)]
pub struct PoolSettings {
    /// The PostgreSQL URL (`postgres://user:password@host:port/database`).
    pub url: String,
    /// Most connections open at once.
    pub max_size: usize,
    /// Longest wait for a free connection before the request fails.
    pub wait_timeout: Duration,
    /// Longest time to open a new connection.
    pub create_timeout: Duration,
    /// Longest time to check a returned connection before reuse.
    pub recycle_timeout: Duration,
    /// `statement_timeout` set on every connection.
    pub statement_timeout: Duration,
    /// `application_name` set on every connection (shows in `pg_stat_activity`).
    pub application_name: String,
    /// Whether a statement outside a transaction may write. `false` (the default) for the
    /// runtime pools: their work runs in [`crate::in_session`]'s transactions, opened
    /// `READ WRITE`, and a statement that would run outside one (its `BEGIN` failed while the
    /// statement was already on its way) can then change nothing.
    pub autocommit_writes: bool,
}

impl PoolSettings {
    /// Defaults suited to an API process: 16 connections, 5 s waits, 30 s statements.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            create_timeout: Duration::from_secs(5),
            recycle_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(30),
            application_name: "multivio".to_owned(),
            autocommit_writes: false,
        }
    }
}

/// The URL's password never reaches a log through `{:?}`.
impl std::fmt::Debug for PoolSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolSettings")
            .field("url", &redact_password(&self.url))
            .field("max_size", &self.max_size)
            .field("wait_timeout", &self.wait_timeout)
            .field("create_timeout", &self.create_timeout)
            .field("recycle_timeout", &self.recycle_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .field("autocommit_writes", &self.autocommit_writes)
            .finish()
    }
}

/// `url` with its password (if any) replaced; an unparsable URL is hidden whole.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.into()
        }
        Err(_) => "[unparsable URL, redacted]".to_owned(),
    }
}

/// Builds the pool. Connections are opened lazily; each new one gets `application_name`,
/// `statement_timeout`, an idle-in-transaction timeout and (unless `autocommit_writes`)
/// read-only as the default for transactions before first use.
///
/// A connection handed out again is not checked with a query first (`RecyclingMethod::Fast`:
/// one round trip less per transaction); one that failed is marked broken by diesel and
/// dropped by the pool, so a database restart costs the requests then in flight, not every
/// later one.
pub fn build_pool(settings: &PoolSettings) -> Result<PgPool, DbError> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(&settings.url, config);
    let application_name = settings.application_name.clone();
    let statement_timeout = format!("{}ms", settings.statement_timeout.as_millis());
    let read_only = if settings.autocommit_writes {
        "off"
    } else {
        "on"
    };
    Pool::builder(manager)
        .max_size(settings.max_size)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.create_timeout))
        .recycle_timeout(Some(settings.recycle_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .post_create(Hook::async_fn(
            move |conn: &mut AsyncPgConnection, _metrics| {
                let application_name = application_name.clone();
                let statement_timeout = statement_timeout.clone();
                Box::pin(async move {
                    diesel::sql_query(
                        "SELECT set_config('application_name', $1, false), \
                            set_config('statement_timeout', $2, false), \
                            set_config('idle_in_transaction_session_timeout', '60s', false), \
                            set_config('default_transaction_read_only', $3, false)",
                    )
                    .bind::<diesel::sql_types::Text, _>(application_name)
                    .bind::<diesel::sql_types::Text, _>(statement_timeout)
                    .bind::<diesel::sql_types::Text, _>(read_only)
                    .execute(conn)
                    .await
                    .map_err(|e| HookError::message(format!("connection setup failed: {e}")))?;
                    Ok(())
                })
            },
        ))
        .build()
        .map_err(|e| DbError::Config(e.to_string()))
}

#[cfg(test)]
mod tests;
