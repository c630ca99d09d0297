//! `publish_jobs`: the job queue (claims with leases and fencing tokens, outcomes, depth for
//! `/metrics`) and the job writes of a post's unit of work ([`super::posts`]): the lease check
//! guarding a worker's step, cancelling a post's jobs, enqueueing new ones, finishing a job.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use multivio_domain::job::{ClaimedJob, FencingToken, JobOutcome, NewJob};
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, FirebaseUid, JobId, PostId, Provider, Tenant, UserId};
use multivio_ports::StoreError;
use multivio_ports::jobs::JobQueue;
use multivio_ports::posts::JobStep;
use multivio_ports::status::QueueDepth;
use uuid::Uuid;

use super::reused::Reused;
use super::{Fail, PgStore, corrupt, storable};
use crate::schema::publish_jobs;

diesel::define_sql_function! {
    /// PostgreSQL's `GREATEST` (for timestamps; NULL arguments are ignored).
    fn greatest(a: Nullable<Timestamptz>, b: Timestamptz) -> Nullable<Timestamptz>;
}

/// A lease renewed to at least `until`: never shortened (a heartbeat and a step's renewal may
/// cross).
fn renewed_to(
    until: DateTime<Utc>,
) -> diesel::dsl::Eq<publish_jobs::leased_until, greatest<publish_jobs::leased_until, DateTime<Utc>>>
{
    publish_jobs::leased_until.eq(greatest(publish_jobs::leased_until, until))
}

/// Checks (and locks) the job guarding a change in one statement: its fencing token must still
/// be current. A job that finishes with the change gets its outcome here; one that keeps
/// running gets its lease renewed to `renew_until` (never shortened), when given.
///
/// On a shared connection: the step's other writes may be sent in the same round trip
/// ([`super::posts`]), the transaction making them one.
pub(super) async fn check_lease(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    step: &JobStep,
) -> Result<(), Fail> {
    if let Some(outcome) = &step.outcome {
        return finish_job(
            conn,
            Some(user_id),
            step.job_id.0,
            step.fencing_token.0,
            outcome,
        )
        .await;
    }
    let guard = publish_jobs::table
        .filter(publish_jobs::id.eq(step.job_id.0))
        .filter(publish_jobs::user_id.eq(user_id))
        .filter(publish_jobs::fencing_token.eq(step.fencing_token.0))
        .filter(publish_jobs::status.eq("running"));
    let n = match step.renew_until {
        Some(until) => {
            Reused(diesel::update(guard).set(renewed_to(until)))
                .execute(conn)
                .await?
        }
        None => guard
            .select(publish_jobs::id)
            .for_update()
            .load::<Uuid>(conn)
            .await?
            .len(),
    };
    if n == 0 {
        return Err(Fail::Store(StoreError::LeaseLost));
    }
    Ok(())
}

/// Cancels the post's pending and claimed jobs, except `spared` (the job guarding the change).
/// Claimed ones too: a worker holding one finds its lease gone at its next step, before it
/// sends anything.
pub(super) async fn cancel_jobs_of_post(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    post_id: Uuid,
    spared: Uuid,
) -> Result<(), Fail> {
    diesel::update(
        publish_jobs::table
            .filter(publish_jobs::user_id.eq(user_id))
            .filter(publish_jobs::post_id.eq(post_id))
            .filter(publish_jobs::status.eq_any(["pending", "running"]))
            .filter(publish_jobs::id.ne(spared)),
    )
    .set((
        publish_jobs::status.eq("cancelled"),
        publish_jobs::leased_until.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues new jobs of the user's post (nothing when there are none).
pub(super) async fn enqueue(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    jobs: &[NewJob],
) -> Result<(), Fail> {
    if !jobs.is_empty() {
        let rows: Vec<_> = jobs
            .iter()
            .map(|job| {
                (
                    publish_jobs::id.eq(job.id.0),
                    publish_jobs::user_id.eq(user_id),
                    publish_jobs::post_id.eq(job.post_id.0),
                    publish_jobs::provider.eq(job.target.provider.as_str()),
                    publish_jobs::connection_id.eq(job.target.connection_id.map(|c| c.0)),
                    publish_jobs::run_at.eq(job.run_at),
                )
            })
            .collect();
        diesel::insert_into(publish_jobs::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Writes a job's outcome, guarded by its fencing token (and its user, when given).
pub(super) async fn finish_job(
    conn: &mut &AsyncPgConnection,
    user_id: Option<i32>,
    job_id: Uuid,
    token: i64,
    outcome: &JobOutcome,
) -> Result<(), Fail> {
    // With a user, the job must be that user's; without one (the queue's own calls), any.
    let of_user = diesel::dsl::sql::<Bool>("(")
        .bind::<Nullable<Integer>, _>(user_id)
        .sql(" IS NULL OR publish_jobs.user_id = ")
        .bind::<Nullable<Integer>, _>(user_id)
        .sql(")");
    let guard = publish_jobs::table
        .filter(publish_jobs::id.eq(job_id))
        .filter(publish_jobs::fencing_token.eq(token))
        .filter(publish_jobs::status.eq("running"))
        .filter(of_user);
    let no_lease = (
        publish_jobs::leased_until.eq(None::<DateTime<Utc>>),
        publish_jobs::leased_by.eq(None::<String>),
    );
    let n = match outcome {
        JobOutcome::Completed => {
            Reused(diesel::update(guard).set((publish_jobs::status.eq("completed"), no_lease)))
                .execute(conn)
                .await?
        }
        JobOutcome::RetryAt { run_at, reason } => {
            Reused(diesel::update(guard).set((
                publish_jobs::status.eq("pending"),
                publish_jobs::run_at.eq(run_at),
                publish_jobs::last_error.eq(storable::text(reason)),
                no_lease,
            )))
            .execute(conn)
            .await?
        }
        JobOutcome::Discarded { reason } => {
            Reused(diesel::update(guard).set((
                publish_jobs::status.eq("discarded"),
                publish_jobs::last_error.eq(storable::text(reason)),
                no_lease,
            )))
            .execute(conn)
            .await?
        }
    };
    if n == 0 {
        return Err(Fail::Store(StoreError::LeaseLost));
    }
    Ok(())
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Integer)]
    user_id: i32,
    #[diesel(sql_type = Text)]
    firebase_uid: String,
    #[diesel(sql_type = SqlUuid)]
    post_id: Uuid,
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    connection_id: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    attempt: i32,
    #[diesel(sql_type = BigInt)]
    fencing_token: i64,
}

impl ClaimedRow {
    fn into_domain(self) -> Result<ClaimedJob, Fail> {
        let provider = self
            .provider
            .parse::<Provider>()
            .map_err(|e| corrupt("provider", e))?;
        Ok(ClaimedJob {
            job_id: JobId(self.id),
            tenant: Tenant::new(
                UserId(self.user_id),
                FirebaseUid::new(self.firebase_uid).map_err(|e| corrupt("firebase_uid", e))?,
            ),
            post_id: PostId(self.post_id),
            target: Target {
                provider,
                connection_id: self.connection_id.map(ConnectionId),
            },
            attempt: u32::try_from(self.attempt).unwrap_or(0),
            fencing_token: FencingToken(self.fencing_token),
        })
    }
}

/// How long a job for a provider this build does not know waits before a worker looks again.
const UNKNOWN_PROVIDER_PAUSE: chrono::Duration = chrono::Duration::minutes(1);

/// Gives a just-claimed job back to the queue, due at `run_at`, as if this claim had not
/// happened (its attempt uncounted), with `reason` as its last error.
async fn hand_back(
    conn: &mut &AsyncPgConnection,
    id: Uuid,
    token: i64,
    run_at: DateTime<Utc>,
    reason: &str,
) -> Result<(), Fail> {
    diesel::update(
        publish_jobs::table
            .filter(publish_jobs::id.eq(id))
            .filter(publish_jobs::fencing_token.eq(token))
            .filter(publish_jobs::status.eq("running")),
    )
    .set((
        publish_jobs::status.eq("pending"),
        publish_jobs::run_at.eq(run_at),
        publish_jobs::attempt.eq(publish_jobs::attempt - 1),
        publish_jobs::last_error.eq(storable::text(&format!(
            "left for a build that knows its provider: {reason}"
        ))
        .into_owned()),
        publish_jobs::leased_until.eq(None::<DateTime<Utc>>),
        publish_jobs::leased_by.eq(None::<String>),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `$4` jobs selected by `candidates` (an index-served subquery that must lock
/// with `FOR UPDATE SKIP LOCKED`): lease, new fencing token, one more attempt.
fn claim_sql(candidates: &str) -> String {
    format!(
        "WITH picked AS ({candidates})
         UPDATE publish_jobs j
            SET status = 'running', leased_by = $1, leased_until = $2 + $3 * interval '1 millisecond',
                attempt = j.attempt + 1, fencing_token = nextval('publish_job_fencing_seq')
           FROM picked, users u
          WHERE j.id = picked.id AND u.id = j.user_id
      RETURNING j.id, j.user_id, u.firebase_uid::text AS firebase_uid, j.post_id,
                j.provider::text AS provider, j.connection_id, j.attempt, j.fencing_token"
    )
}

/// Expired leases first: their jobs were started by a worker that died or stalled.
const EXPIRED: &str = "SELECT id FROM publish_jobs
     WHERE status = 'running' AND leased_until < $2
     ORDER BY leased_until LIMIT $4 FOR UPDATE SKIP LOCKED";
const DUE: &str = "SELECT id FROM publish_jobs
     WHERE status = 'pending' AND run_at <= $2
     ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED";

/// The statement a worker runs to claim due jobs (for `EXPLAIN` in tests and tools).
pub fn due_claim_statement() -> String {
    claim_sql(DUE)
}

/// When the next job becomes claimable: each `min` is one probe of a partial index
/// (`idx_publish_jobs_due`, `idx_publish_jobs_lease`); `LEAST` skips a NULL (none of a kind).
const NEXT_DUE: &str = "SELECT LEAST(
       (SELECT min(run_at) FROM publish_jobs WHERE status = 'pending'),
       (SELECT min(leased_until) FROM publish_jobs WHERE status = 'running')) AS next_due";

/// The statement behind [`JobQueue::next_due`] (for `EXPLAIN` in tests and tools).
pub fn next_due_statement() -> &'static str {
    NEXT_DUE
}

#[derive(QueryableByName)]
struct NextDue {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    next_due: Option<DateTime<Utc>>,
}

#[async_trait]
impl JobQueue for PgStore {
    async fn claim_due(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let worker_id = worker_id.to_owned();
        let lease_ms = lease.num_milliseconds();
        // Flushed: a claim takes a fencing token from a sequence, and a sequence's advance lost
        // in a crash could hand the same token to a second worker.
        self.worker(async move |conn| {
            let mut claimed = Vec::new();
            for candidates in [EXPIRED, DUE] {
                let room = i64::from(limit) - claimed.len() as i64;
                if room <= 0 {
                    break;
                }
                // Two fixed statements, prepared once per connection.
                let rows: Vec<ClaimedRow> = Reused(
                    diesel::sql_query(claim_sql(candidates))
                        .bind::<Text, _>(&worker_id)
                        .bind::<Timestamptz, _>(now)
                        .bind::<BigInt, _>(lease_ms)
                        .bind::<BigInt, _>(room),
                )
                .load(conn)
                .await?;
                for row in rows {
                    let (id, token) = (row.id, row.fencing_token);
                    let unknown_provider = row.provider.parse::<Provider>().is_err();
                    match row.into_domain() {
                        Ok(job) => claimed.push(job),
                        // A provider this build does not know: a newer build's, during a
                        // rolling deploy. Handed back for a build that knows it, its attempt
                        // not counted — discarding it would leave its post publishing for
                        // good.
                        Err(Fail::Store(e)) if unknown_provider => {
                            tracing::warn!(job = %id, error = %e, "a publish job for a provider this build does not know; handed back");
                            hand_back(conn, id, token, now + UNKNOWN_PROVIDER_PAUSE, &e.to_string())
                                .await?;
                        }
                        // Any other row the core cannot read (an invalid user id) would roll
                        // back every claim and, sorting first, stop the queue for every
                        // worker: it is set aside, visibly, with the claim, and the rest go
                        // on.
                        Err(Fail::Store(e)) => {
                            tracing::error!(job = %id, error = %e, "a publish job cannot be read; discarded");
                            let reason = e.to_string();
                            finish_job(conn, None, id, token, &JobOutcome::Discarded { reason })
                                .await?;
                        }
                        Err(other) => return Err(other),
                    }
                }
            }
            Ok(claimed)
        })
        .await
    }

    async fn complete(
        &self,
        job_id: JobId,
        fencing_token: FencingToken,
        outcome: &JobOutcome,
    ) -> Result<(), StoreError> {
        let outcome = outcome.clone();
        self.worker_relaxed(async move |conn| {
            finish_job(conn, None, job_id.0, fencing_token.0, &outcome).await
        })
        .await
    }

    async fn extend_lease(
        &self,
        job_id: JobId,
        fencing_token: FencingToken,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.worker_relaxed(async move |conn| {
            let n = Reused(
                diesel::update(
                    publish_jobs::table
                        .filter(publish_jobs::id.eq(job_id.0))
                        .filter(publish_jobs::fencing_token.eq(fencing_token.0))
                        .filter(publish_jobs::status.eq("running")),
                )
                .set(renewed_to(until)),
            )
            .execute(conn)
            .await?;
            if n == 0 {
                return Err(Fail::Store(StoreError::LeaseLost));
            }
            Ok(())
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.worker(async move |conn| {
            let row: NextDue = diesel::sql_query(NEXT_DUE).get_result(conn).await?;
            Ok(row.next_due)
        })
        .await
    }
}

impl PgStore {
    /// Jobs waiting and running, for `/metrics`: one statement over the partial indexes.
    pub(crate) async fn job_counts(&self) -> Result<QueueDepth, StoreError> {
        self.worker(async move |conn| {
            let (pending, running): (i64, i64) = publish_jobs::table
                .select((
                    diesel::dsl::count(publish_jobs::id)
                        .aggregate_filter(publish_jobs::status.eq("pending")),
                    diesel::dsl::count(publish_jobs::id)
                        .aggregate_filter(publish_jobs::status.eq("running")),
                ))
                .filter(publish_jobs::status.eq_any(["pending", "running"]))
                .get_result(conn)
                .await?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            Ok(QueueDepth {
                pending: n(pending),
                running: n(running),
            })
        })
        .await
    }
}
