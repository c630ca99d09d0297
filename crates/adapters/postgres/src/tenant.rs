//! Transactions scoped to one tenant (or to the background worker), so Row Level Security is
//! the second lock behind the `user_id` every query names.
//!
//! The role, the tenant (`multivio.tenant`, the Firebase uid) and its MAC
//! (`multivio.tenant_mac`) are set with `set_config(…, true)`: they last until the end of the
//! transaction, so a pooled connection never carries one tenant into the next request. A
//! tenant counts only with its MAC (migration 011): a session that names a tenant itself —
//! `multivio.tenant` or the seed's `request.jwt.claim.sub` — without the key sees nothing.

use std::future::Future;

use diesel::connection::TransactionDepthChange;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
};

use crate::{DbError, PgPool};

/// Who a transaction acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A request on behalf of the user with this Firebase uid, named with its MAC. Sees only
    /// that user's rows.
    Tenant(&'a str),
    /// Background work across tenants (job claims, webhooks, quota resets): role
    /// `multivio_worker`, no claim.
    Worker,
}

/// The role a transaction runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `multivio_api`: one tenant, through the policies and column privileges of requests.
    Api,
    /// `multivio_worker`: every tenant, for background work. Tenant-scoped work of the worker
    /// process (settling a post) runs as this role with the tenant's claim set.
    Worker,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Api => "multivio_api",
            Role::Worker => "multivio_worker",
        }
    }
}

/// The keys that authenticate tenant claims: `(key id, secret)`, the first one signing. The
/// database holds the same keys in `multivio_private.claim_keys` (see
/// [`crate::provision::install_claim_keys`]).
#[derive(Clone)]
pub struct ClaimKeys {
    signing: (String, ring::hmac::Key),
}

impl std::fmt::Debug for ClaimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimKeys")
            .field("signing_kid", &self.signing.0)
            .finish_non_exhaustive()
    }
}

impl ClaimKeys {
    /// Signs with `secret` under the key id `kid`.
    pub fn new(kid: impl Into<String>, secret: &[u8]) -> Self {
        Self {
            signing: (
                kid.into(),
                ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            ),
        }
    }

    /// `<kid>.<expiry>.<hex HMAC-SHA256("<expiry>.<uid>")>`: the value of `multivio.tenant_mac`
    /// for `uid`, valid for [`CLAIM_LIFETIME`] from now (migration 013). The expiry is unix
    /// seconds, so the database's clock must agree with this process's within that lifetime.
    pub fn mac(&self, uid: &str) -> String {
        self.mac_until(uid, chrono::Utc::now() + CLAIM_LIFETIME)
    }

    /// The MAC for `uid` valid until `expires` (whole seconds).
    pub fn mac_until(&self, uid: &str, expires: chrono::DateTime<chrono::Utc>) -> String {
        let expires = expires.timestamp();
        let tag = ring::hmac::sign(&self.signing.1, format!("{expires}.{uid}").as_bytes());
        format!("{}.{expires}.{}", self.signing.0, hex::encode(tag.as_ref()))
    }
}

/// How long a tenant claim's MAC is good for: longer than any transaction, short enough that a
/// MAC copied out of a statement log is useless.
pub const CLAIM_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// What a transaction is switched to before its work runs.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// The role.
    pub role: Role,
    /// The tenant claim and its MAC, if the work is for one tenant.
    pub claim: Option<(&'a str, &'a str)>,
    /// Whether the commit waits for the WAL flush (`synchronous_commit`); `false` only for
    /// work a crash may lose and nothing later is based on (the job queue's lease renewals
    /// and completions).
    pub synchronous: bool,
}

/// `text` as an SQL string literal.
///
/// Written by hand because diesel offers no bound parameters in a simple query, and the
/// session's settings are one (sent with `BEGIN`, before the work's first statement is
/// prepared, see [`in_session`]). It is libpq's
/// `PQescapeLiteral` for UTF-8: an escape string (`E'…'`), read the same whatever
/// `standard_conforming_strings` says (a pooler may hand over any server connection), with
/// each backslash and each quote doubled; a NUL, which no literal may hold, is refused.
fn literal(text: &str) -> Result<String, diesel::result::Error> {
    if text.contains('\0') {
        return Err(diesel::result::Error::QueryBuilderError(
            "a session setting holds a NUL character".into(),
        ));
    }
    Ok(format!(
        "E'{}'",
        text.replace('\\', "\\\\").replace('\'', "''")
    ))
}

/// The statement that switches an open transaction to `session`: the role, the tenant claim
/// and its MAC as transaction-local settings (they end with the transaction, so a pooled
/// connection never carries one tenant into the next use).
pub(crate) fn settings_sql(session: Session<'_>) -> Result<String, diesel::result::Error> {
    let (claim, mac) = session.claim.unwrap_or(("", ""));
    // A synchronous session keeps the server's own setting (which may ask more of replicas).
    let relaxed = if session.synchronous {
        ""
    } else {
        ", set_config('synchronous_commit', 'off', true)"
    };
    Ok(format!(
        "SELECT set_config('role', {}, true), set_config('multivio.tenant', {}, true), \
         set_config('multivio.tenant_mac', {}, true){relaxed}",
        literal(session.role.name())?,
        literal(claim)?,
        literal(mac)?,
    ))
}

/// The shape of a closure [`in_session`] runs: given the connection, a `Send` future (so the
/// repositories built on it can be used from `async_trait` ports).
///
/// The connection is shared (`&AsyncPgConnection`, which diesel-async runs queries on too):
/// the transaction's opening statements are in flight while the work's first statement is
/// sent.
pub trait ScopedWork<'r, R, E>:
    FnOnce(&'r mut &'r AsyncPgConnection) -> <Self as ScopedWork<'r, R, E>>::Fut
{
    /// The future the closure returns.
    type Fut: Future<Output = Result<R, E>> + Send;
}

impl<'r, F, Fut, R, E> ScopedWork<'r, R, E> for F
where
    F: FnOnce(&'r mut &'r AsyncPgConnection) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send,
{
    type Fut = Fut;
}

/// Runs `f` in one transaction on a pooled connection, switched to `session`. Commits when
/// `f` returns `Ok`, rolls back otherwise.
///
/// ```no_run
/// # async fn demo(pool: &multivio_postgres::PgPool) -> Result<(), multivio_postgres::DbError> {
/// use multivio_postgres::tenant::{ClaimKeys, Role, Session, in_session};
/// let keys = ClaimKeys::new("k1", &[7; 32]);
/// let mac = keys.mac("firebase-uid");
/// let session = Session { role: Role::Api, claim: Some(("firebase-uid", &mac)), synchronous: true };
/// let n: i64 = in_session(pool, session, async |conn| {
///     use diesel_async::RunQueryDsl;
///     use multivio_postgres::schema::posts;
///     use diesel::prelude::*;
///     Ok::<_, multivio_postgres::DbError>(posts::table.count().get_result(conn).await?)
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn in_session<'a, R, E, F>(pool: &PgPool, session: Session<'a>, f: F) -> Result<R, E>
where
    for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, E>
        + ScopedWork<'r, R, E>
        + Send
        + 'a,
    E: From<diesel::result::Error> + From<DbError> + Send + 'a,
    R: Send + 'a,
{
    let settings = settings_sql(session)?;
    let mut checkout = Checkout(Some(pool.get().await.map_err(DbError::from)?));
    let Some(conn) = checkout.0.as_deref_mut() else {
        return Err(DbError::Config("no connection was checked out".to_owned()).into());
    };
    // Counted as open before anything is sent, so a connection this function lets go of
    // midway is never taken for an idle one (see `Checkout`).
    AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_state()?
        .change_transaction_depth(TransactionDepthChange::IncreaseDepth)?;
    // One round trip for the opening and the work's first statement: `BEGIN`, the session's
    // settings and the work's first statement (or first statements, when the work sends
    // several together) go out together, in that order (each is sent
    // when its future is first polled, and `join` polls them in order; the server runs a
    // connection's messages in the order sent). `BEGIN` is a message of its own, so a batch
    // that fails to parse cannot skip it; a failing setting aborts the transaction and with it
    // every statement of the work. Should `BEGIN` itself fail on a live connection (an
    // administrator's cancel landing on it), the work's statements run each on its own,
    // without the session: as the login's own role with no claim, in a read-only transaction
    // (the pool's default, `PoolSettings::autocommit_writes`; only `BEGIN READ WRITE` opens a
    // writable one), and their answer is discarded.
    let shared: &AsyncPgConnection = conn;
    let (mut opener, mut switcher, mut work) = (shared, shared, shared);
    let opening = async {
        let (begun, switched) = futures_util::future::join(
            opener.batch_execute("BEGIN READ WRITE"),
            switcher.batch_execute(&settings),
        )
        .await;
        begun.and(switched)
    };
    let (opened, outcome) = futures_util::future::join(opening, f(&mut work)).await;
    // The session not entered, whatever the work saw is not its answer.
    let outcome = opened.map_err(E::from).and(outcome);
    let ended = match outcome {
        Ok(value) => AnsiTransactionManager::commit_transaction(conn)
            .await
            .map(|()| value)
            .map_err(E::from),
        Err(error) => {
            // A failed rollback leaves the connection marked broken; the pool discards it.
            let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            Err(error)
        }
    };
    checkout.done();
    ended
}

/// A pooled connection that leaves the pool if dropped before [`Checkout::done`]: work
/// abandoned in the middle of its transaction (a cancelled request) closes its connection, so
/// the server rolls the transaction back and frees its locks as soon as it notices — at once
/// when the transaction is idle, after its statement when one is still running (it ends or
/// meets `statement_timeout`) — not at the connection's next checkout (when the pool would
/// find it broken) or after the idle-in-transaction timeout.
struct Checkout(Option<diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>>);

impl Checkout {
    /// Hands the connection back to the pool (which discards it if diesel marked it broken).
    fn done(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            drop(diesel_async::pooled_connection::deadpool::Object::take(
                object,
            ));
        }
    }
}

/// Runs `f` in one transaction for `scope` as the store does: a tenant as `multivio_api` with
/// its claim signed by `keys`; the worker as `multivio_worker`. The pool's login must be able
/// to take that role (the API login cannot take the worker's).
pub async fn in_scope<'a, R, E, F>(
    pool: &PgPool,
    scope: Scope<'a>,
    keys: &ClaimKeys,
    f: F,
) -> Result<R, E>
where
    for<'r> F: AsyncFnOnce(&'r mut &'r AsyncPgConnection) -> Result<R, E>
        + ScopedWork<'r, R, E>
        + Send
        + 'a,
    E: From<diesel::result::Error> + From<DbError> + Send + 'a,
    R: Send + 'a,
{
    match scope {
        Scope::Tenant(uid) => {
            let mac = keys.mac(uid);
            let session = Session {
                role: Role::Api,
                claim: Some((uid, &mac)),
                synchronous: true,
            };
            in_session(pool, session, f).await
        }
        Scope::Worker => {
            let session = Session {
                role: Role::Worker,
                claim: None,
                synchronous: true,
            };
            in_session(pool, session, f).await
        }
    }
}

#[cfg(test)]
mod literal_tests {
    use super::literal;

    #[test]
    fn literals_escape_quotes_and_backslashes_and_refuse_nul() {
        assert_eq!(literal("plain").unwrap(), "E'plain'");
        assert_eq!(literal(r"o'brien\'; --").unwrap(), r"E'o''brien\\''; --'");
        assert!(literal("a\0b").is_err());
    }
}
