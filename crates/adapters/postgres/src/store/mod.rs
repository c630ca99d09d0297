//! The repository ports of `multivio-ports`, on PostgreSQL.
//!
//! Every tenant-scoped call runs in [`in_scope`] with [`Scope::Tenant`] (role `multivio_api`,
//! the tenant's claim) *and* names the tenant's `user_id` in its query: RLS is the second lock,
//! not the only one. Calls that are not tenant-scoped by nature (job claims, webhooks, OAuth
//! callbacks, quota resets) run with [`Scope::Worker`].

mod connections;
mod cursor;
mod idempotency;
mod media;
mod oauth;
mod posts;
mod users;

pub use posts::due_claim_statement;

use std::fmt::Display;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use multivio_domain::{FirebaseUid, Tenant};
use multivio_ports::StoreError;

use crate::tenant::ScopedWork;
use crate::{DbError, PgPool, Scope, in_scope};

/// Every repository port, over one connection pool. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Repositories over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` in one transaction scoped to `tenant`.
    async fn tenant<R, F>(&self, tenant: &Tenant, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        self.as_user(&tenant.firebase_uid, f).await
    }

    /// Runs `f` in one transaction scoped to the user with this Firebase uid (for calls made
    /// before the user's id is known).
    async fn as_user<R, F>(&self, uid: &FirebaseUid, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        in_scope(&self.pool, Scope::Tenant(uid.as_str()), f)
            .await
            .map_err(StoreError::from)
    }

    /// Runs `f` in one transaction as the background worker (all tenants).
    async fn worker<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R, Fail>
            + ScopedWork<'r, R, Fail>
            + Send,
        R: Send,
    {
        in_scope(&self.pool, Scope::Worker, f)
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
                    other => StoreError::Conflict(format!("duplicate ({other})")),
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
fn sha256_hex(secret: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A write that must touch exactly the one row it names: zero rows means it is gone or
/// another tenant's.
fn one_row(touched: usize) -> Result<(), Fail> {
    if touched == 0 {
        return Err(Fail::Store(StoreError::NotFound));
    }
    Ok(())
}
