//! Wake-ups for workers: `LISTEN multivio_jobs` on a dedicated connection.
//!
//! Migration 014 sends `NOTIFY multivio_jobs` when a job becomes pending — enqueued, retried
//! (`complete` with `RetryAt`), or moved to another `run_at` — at the commit of the change.
//! The payload is the job's `run_at` as Unix epoch seconds (for an insert of many jobs, the
//! earliest). Claims, lease renewals and the other outcomes send nothing, and neither does an
//! expiring lease: a worker finds those with [`multivio_ports::jobs::JobQueue::next_due`], so
//! it should never sleep longer than until then (and caps its sleep anyway: a notification is
//! a hint, lost while no listener is connected).
//!
//! diesel-async drives the connection on a task of its own from the moment it opens, so
//! notifications are read off the socket (and queued for [`JobListener::wait`]) while no
//! query runs and nobody waits.
//!
//! A worker's loop:
//!
//! ```no_run
//! # async fn demo(store: multivio_postgres::PgStore, url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use multivio_ports::jobs::JobQueue;
//! use multivio_postgres::JobListener;
//! let cap = Duration::from_secs(30);
//! let mut listener = JobListener::connect(url).await?;
//! loop {
//!     // Listening before looking: a job enqueued in between is not missed.
//!     let claimed = store.claim_due("w1", chrono::Utc::now(), 25, chrono::Duration::minutes(5)).await?;
//!     // … run them …
//!     if !claimed.is_empty() {
//!         continue;
//!     }
//!     let sleep = match store.next_due().await? {
//!         Some(at) => (at - chrono::Utc::now()).to_std().unwrap_or_default().min(cap),
//!         None => cap,
//!     };
//!     if let Err(e) = listener.wait(sleep).await {
//!         tracing::warn!(error = %e, "job listener lost; reconnecting");
//!         listener = JobListener::connect(url).await?; // (with a backoff in real code)
//!     }
//! }
//! # }
//! ```

use std::pin::pin;
use std::time::{Duration, Instant};

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::{FutureExt, StreamExt};

use crate::DbError;

/// The channel migration 014's triggers notify.
pub const JOBS_CHANNEL: &str = "multivio_jobs";

/// Longest wait for the connection to open or for a health check to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// After this long without hearing from the server, a wait that times out checks the
/// connection with a round trip, so a silently dead one is noticed.
const CHECK_AFTER: Duration = Duration::from_secs(30);

/// A dedicated connection (not from the pool: it holds its `LISTEN` for its whole life) that
/// tells a worker when a job became due.
///
/// Connect with the worker's runtime login (any role may `LISTEN`). When the connection
/// breaks, [`JobListener::wait`] answers an error and the listener is done: connect a new
/// one (notifications sent while none was connected are lost, so look at the queue again
/// after reconnecting).
pub struct JobListener {
    conn: AsyncPgConnection,
    /// When the server was last heard from (a notification or a health check).
    heard: Instant,
}

impl std::fmt::Debug for JobListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobListener").finish_non_exhaustive()
    }
}

impl JobListener {
    /// Opens a connection to `url` and runs `LISTEN multivio_jobs` on it. Notifications are
    /// kept from then on until [`JobListener::wait`] takes them.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url))
            .await
            .map_err(|_| {
                DbError::Connect(diesel::ConnectionError::BadConnection(
                    "timed out opening the job listener's connection".to_owned(),
                ))
            })??;
        conn.batch_execute(&format!(
            "SET application_name = 'multivio-job-listener'; LISTEN {JOBS_CHANNEL}"
        ))
        .await?;
        Ok(Self {
            conn,
            heard: Instant::now(),
        })
    }

    /// Waits up to `max` for a notification. `Ok(true)` when one arrived (or had arrived
    /// since the last call) — any others already received are taken too, so a burst wakes
    /// the caller once; `Ok(false)` when `max` passed without one. An error means the
    /// connection is broken: drop the listener and [connect](JobListener::connect) again.
    ///
    /// Cancel-safe: a wait dropped before it returns loses no notification.
    pub async fn wait(&mut self, max: Duration) -> Result<bool, DbError> {
        let arrived = {
            let mut notifications = pin!(self.conn.notifications_stream());
            match tokio::time::timeout(max, notifications.next()).await {
                Err(_elapsed) => false,
                Ok(Some(first)) => {
                    first?;
                    // Take what else is already here. An error behind them is reported by
                    // the next wait (the stream ends after it).
                    while let Some(Some(Ok(_))) = notifications.next().now_or_never() {}
                    true
                }
                Ok(None) => return Err(closed()),
            }
        };
        if arrived || self.heard.elapsed() < CHECK_AFTER {
            if arrived {
                self.heard = Instant::now();
            }
            return Ok(arrived);
        }
        // Nothing for a while: make sure the connection is still there.
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            diesel::sql_query("SELECT 1").execute(&mut self.conn),
        )
        .await
        {
            Ok(done) => {
                done?;
                self.heard = Instant::now();
                Ok(false)
            }
            Err(_elapsed) => Err(DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new("the job listener's connection did not answer".to_owned()),
            ))),
        }
    }
}

/// The error of a listener whose connection has ended.
fn closed() -> DbError {
    DbError::Query(DieselError::DatabaseError(
        DatabaseErrorKind::ClosedConnection,
        Box::new("the job listener's connection was closed".to_owned()),
    ))
}

#[cfg(all(test, feature = "testing"))]
mod tests;
