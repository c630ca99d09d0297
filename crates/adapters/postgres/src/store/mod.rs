//! The repository ports of `multivio-ports`, on PostgreSQL.
//!
//! Every tenant-scoped call runs in one transaction with the tenant's signed claim (as
//! `multivio_api` on the API pool, or as `multivio_worker` in a worker-only process) *and*
//! names the tenant's `user_id` in its query: RLS is the second lock, not the only one. Calls
//! that are not tenant-scoped by nature (sign-in, job claims, webhooks, OAuth callbacks, quota
//! resets, verification tokens) run as `multivio_worker` on the worker pool.

mod apps;
mod connections;
mod cursor;
mod idempotency;
mod jobs;
mod media;
mod oauth;
mod posts;
mod reused;
mod steps;
mod storable;
mod users;

pub use connections::expiring_statement;
pub use jobs::{due_claim_statement, next_due_statement};
#[cfg(feature = "testing")]
pub use steps::lane_of as step_lane;
pub use users::WEBHOOK_EVENT_DAYS;

use std::fmt::Display;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use multivio_domain::{FirebaseUid, Tenant};
use multivio_ports::StoreError;

use crate::tenant::{ClaimKeys, Role, ScopedWork, Session, in_session};
use crate::{DbError, PgPool};

/// Every repository port, over the process's connection pools. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    /// Logged in as `multivio_api_login`; `None` in a worker-only process.
    api: Option<PgPool>,
    /// Logged in as `multivio_worker_login`.
    worker: PgPool,
    keys: ClaimKeys,
    /// The publishing steps' group commit (`steps`).
    steps: std::sync::Arc<steps::Lanes>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("api_pool", &self.api.is_some())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Repositories over the API pool (tenant requests) and the worker pool (work across
    /// tenants), signing tenant claims with `keys`. Without an API pool (a worker-only process)
    /// tenant-scoped work runs on the worker pool, as the worker role with the tenant's claim.
    pub fn new(api: Option<PgPool>, worker: PgPool, keys: ClaimKeys) -> Self {
        Self {
            api,
            worker,
            keys,
            steps: std::sync::Arc::default(),
        }
    }

    /// The pools, API first (for pool metrics).
    pub fn pools(&self) -> impl Iterator<Item = &PgPool> {
        self.api.iter().chain(std::iter::once(&self.worker))
    }

    /// The worker pool.
    pub fn worker_pool(&self) -> &PgPool {
        &self.worker
    }

    /// Runs `f` in one transaction scoped to `tenant`.
    async fn tenant<R, F>(&self, tenant: &Tenant, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        self.as_user(&tenant.firebase_uid, f).await
    }

    /// The pool and role of tenant-scoped work: the API's, or in a worker-only process the
    /// worker's.
    fn tenant_pool(&self) -> (&PgPool, Role) {
        match &self.api {
            Some(api) => (api, Role::Api),
            None => (&self.worker, Role::Worker),
        }
    }

    /// Runs `f` in one transaction scoped to the user with this Firebase uid (for calls made
    /// before the user's id is known).
    async fn as_user<R, F>(&self, uid: &FirebaseUid, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        let mac = self.keys.mac(uid.as_str());
        let (pool, role) = self.tenant_pool();
        let session = Session {
            role,
            claim: Some((uid.as_str(), &mac)),
            synchronous: true,
        };
        in_session(pool, session, f).await.map_err(StoreError::from)
    }

    /// Runs `f` in one transaction as the worker role, with the claim of the user with this
    /// Firebase uid (sign-in: the worker writes what the API role may not, and a registration
    /// still names only the claimed user).
    async fn worker_as<R, F>(&self, uid: &FirebaseUid, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        let mac = self.keys.mac(uid.as_str());
        let session = Session {
            role: Role::Worker,
            claim: Some((uid.as_str(), &mac)),
            synchronous: true,
        };
        in_session(&self.worker, session, f)
            .await
            .map_err(StoreError::from)
    }

    /// Runs `f` in one transaction as the background worker (all tenants).
    async fn worker<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        self.worker_session(true, f).await
    }

    /// [`worker`](Self::worker) for job bookkeeping that a crash may lose (asynchronous
    /// commit): lease renewals and completions of jobs. A lost renewal lets the lease run out
    /// sooner (another worker then takes the job, and this one's next fenced write is
    /// refused); a lost completion runs the job again, which finds its target settled. Not
    /// claims (they take fencing tokens from a sequence, whose advance a crash could lose and
    /// hand out twice), nor posts (the next write of a post expects the revision the last one
    /// made, which a lost write's successor could make again with other contents).
    async fn worker_relaxed<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        self.worker_session(false, f).await
    }

    async fn worker_session<R, F>(&self, synchronous: bool, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        let session = Session {
            role: Role::Worker,
            claim: None,
            synchronous,
        };
        in_session(&self.worker, session, f)
            .await
            .map_err(StoreError::from)
    }
}

/// Why a transaction body stopped: a database error (mapped to a [`StoreError`] by its
/// meaning at the end), or a store error decided by the body itself.
#[derive(Debug)]
pub(crate) enum Fail {
    Db(DieselError),
    Pool(DbError),
    Store(StoreError),
}

impl From<DieselError> for Fail {
    fn from(e: DieselError) -> Self {
        Fail::Db(e)
    }
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        Fail::Pool(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<Fail> for StoreError {
    fn from(fail: Fail) -> Self {
        match fail {
            Fail::Db(e) => from_diesel(e),
            Fail::Pool(e) => StoreError::Unavailable(e.to_string()),
            Fail::Store(e) => e,
        }
    }
}

/// What a database error means to the core.
fn from_diesel(e: DieselError) -> StoreError {
    match e {
        DieselError::NotFound => StoreError::NotFound,
        DieselError::DatabaseError(kind, info) => {
            let constraint = info.constraint_name().unwrap_or_default();
            match kind {
                DatabaseErrorKind::UniqueViolation => match constraint {
                    "users_email_key" | "idx_users_email" => StoreError::Duplicate {
                        field: "email".to_owned(),
                    },
                    "users_username_key" | "idx_users_username" => StoreError::Duplicate {
                        field: "username".to_owned(),
                    },
                    "uniq_social_connections_primary" => StoreError::Conflict(
                        "another connection of this provider is primary".to_owned(),
                    ),
                    "social_connections_user_id_provider_provider_account_id_key" => {
                        StoreError::Conflict("this account is already connected".to_owned())
                    }
                    // Not a concurrent change to retry: the customer is another account's.
                    "idx_users_stripe_customer_id" => StoreError::Duplicate {
                        field: "stripe_customer_id".to_owned(),
                    },
                    // Constraint names are the schema's business, not a client's.
                    other => {
                        tracing::warn!(constraint = other, "unexpected unique violation");
                        StoreError::Conflict("a conflicting record exists".to_owned())
                    }
                },
                // A row of another tenant named directly: the policy refuses it. To the
                // caller it does not exist.
                DatabaseErrorKind::ForeignKeyViolation => StoreError::NotFound,
                _ if info.message().contains("row-level security") => StoreError::NotFound,
                DatabaseErrorKind::SerializationFailure => {
                    StoreError::Conflict("concurrent update; retry".to_owned())
                }
                _ => StoreError::Unavailable(info.message().to_owned()),
            }
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// A stored value the domain refuses: the row is corrupt (or was written by something else).
fn corrupt(what: &str, e: impl Display) -> Fail {
    Fail::Store(StoreError::Unavailable(format!(
        "stored {what} is invalid: {e}"
    )))
}

/// Counts from the core are `u32`; columns are `INTEGER`.
fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Columns are `INTEGER`; negative stored counts read as zero.
fn to_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// The hex SHA-256 of a secret: what is stored instead of tokens that are only ever compared
/// (email verification, OAuth state), so a database leak does not leak usable tokens.
fn sha256_hex(secret: impl AsRef<[u8]>) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, secret.as_ref()))
}

/// A write that must touch exactly the one row it names: zero rows means it is gone or
/// another tenant's.
fn one_row(touched: usize) -> Result<(), Fail> {
    if touched == 0 {
        return Err(Fail::Store(StoreError::NotFound));
    }
    Ok(())
}

#[async_trait::async_trait]
impl multivio_ports::status::SystemStatus for PgStore {
    async fn ready(&self) -> Result<bool, StoreError> {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct Version {
            #[diesel(sql_type = Text)]
            version: String,
        }
        let mut conn = self
            .worker
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let applied: Vec<Version> = match diesel_async::RunQueryDsl::load(
            diesel::sql_query("SELECT version FROM __diesel_schema_migrations"),
            &mut conn,
        )
        .await
        {
            Ok(rows) => rows,
            // No migrations table yet, or not readable: reachable, but not migrated.
            Err(DieselError::DatabaseError(_, info))
                if info.message().contains("does not exist")
                    || info.message().contains("permission denied") =>
            {
                return Ok(false);
            }
            Err(e) => return Err(StoreError::Unavailable(e.to_string())),
        };
        let applied: std::collections::HashSet<String> =
            applied.into_iter().map(|v| v.version).collect();
        Ok(crate::migrate::embedded_versions()
            .iter()
            .all(|v| applied.contains(v)))
    }

    async fn queue_depth(&self) -> Result<multivio_ports::status::QueueDepth, StoreError> {
        self.job_counts().await
    }

    fn pool_usage(&self) -> multivio_ports::status::PoolUsage {
        self.pools().map(|p| p.status()).fold(
            Default::default(),
            |u: multivio_ports::status::PoolUsage, s| {
                let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
                multivio_ports::status::PoolUsage {
                    open: u.open + n(s.size),
                    idle: u.idle + n(s.available),
                    max: u.max + n(s.max_size),
                    waiting: u.waiting + n(s.waiting),
                }
            },
        )
    }
}
