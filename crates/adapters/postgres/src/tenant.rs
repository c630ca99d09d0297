//! Transactions scoped to one tenant (or to the background worker), so Row Level Security is
//! the second lock behind the `user_id` every query names.
//!
//! The role and the tenant claim are set with `set_config(…, true)`: they last until the end of
//! the transaction, so a pooled connection never carries one tenant into the next request.

use diesel::sql_types::Text;
use std::future::Future;

use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::{DbError, PgPool};

/// Who a transaction acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A request on behalf of the user with this Firebase uid: role `multivio_api`, claim
    /// `request.jwt.claim.sub` = the uid. Sees only that user's rows.
    Tenant(&'a str),
    /// Background work across tenants (job claims, webhooks, quota resets): role
    /// `multivio_worker`, no claim.
    Worker,
}

/// Switches the current transaction to `scope`. Must run inside a transaction: outside one
/// the settings would leak into the connection's next use.
pub async fn enter_scope(
    conn: &mut AsyncPgConnection,
    scope: Scope<'_>,
) -> Result<(), diesel::result::Error> {
    let (role, claim) = match scope {
        Scope::Tenant(uid) => ("multivio_api", uid),
        Scope::Worker => ("multivio_worker", ""),
    };
    diesel::sql_query(
        "SELECT set_config('role', $1, true), set_config('request.jwt.claim.sub', $2, true)",
    )
    .bind::<Text, _>(role)
    .bind::<Text, _>(claim)
    .execute(conn)
    .await?;
    Ok(())
}

/// The shape of a closure [`in_scope`] runs: given the connection, a `Send` future (so the
/// repositories built on it can be used from `async_trait` ports).
pub trait ScopedWork<'r, R, E>:
    FnOnce(&'r mut AsyncPgConnection) -> <Self as ScopedWork<'r, R, E>>::Fut
{
    /// The future the closure returns.
    type Fut: Future<Output = Result<R, E>> + Send;
}

impl<'r, F, Fut, R, E> ScopedWork<'r, R, E> for F
where
    F: FnOnce(&'r mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send,
{
    type Fut = Fut;
}

/// Runs `f` in one transaction on a pooled connection, with the role and claim of `scope`.
/// Commits when `f` returns `Ok`, rolls back otherwise.
///
/// ```no_run
/// # async fn demo(pool: &multivio_postgres::PgPool) -> Result<(), multivio_postgres::DbError> {
/// use multivio_postgres::{Scope, in_scope};
/// let n: i64 = in_scope(pool, Scope::Tenant("firebase-uid"), async |conn| {
///     use diesel_async::RunQueryDsl;
///     use multivio_postgres::schema::posts;
///     use diesel::prelude::*;
///     Ok::<_, multivio_postgres::DbError>(posts::table.count().get_result(conn).await?)
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn in_scope<'a, R, E, F>(pool: &PgPool, scope: Scope<'a>, f: F) -> Result<R, E>
where
    for<'r> F:
        AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R, E> + ScopedWork<'r, R, E> + Send + 'a,
    E: From<diesel::result::Error> + From<DbError> + Send + 'a,
    R: Send + 'a,
{
    let mut pooled = pool.get().await.map_err(DbError::from)?;
    let conn: &mut AsyncPgConnection = &mut pooled;
    AnsiTransactionManager::begin_transaction(conn).await?;
    let outcome = match enter_scope(conn, scope).await {
        Ok(()) => f(&mut *conn).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback leaves the connection marked broken; the pool discards it.
            let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            Err(error)
        }
    }
}
