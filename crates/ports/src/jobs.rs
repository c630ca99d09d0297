//! The durable publishing job queue.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_domain::JobId;
use multivio_domain::job::{ClaimedJob, FencingToken, JobOutcome};

use crate::error::StoreError;

/// Publishing jobs. Jobs are enqueued by [`crate::posts::PostStore::apply`], in the same
/// transaction as the post change; a rolled-back change leaves no job.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Claims up to `limit` jobs whose `run_at` has come and that are not leased (or whose lease
    /// expired), `FOR UPDATE SKIP LOCKED`, setting `leased_until = now + lease`, incrementing
    /// `attempt` and issuing a new, larger fencing token for each. Safe with many workers: a job
    /// is held by one worker at a time.
    async fn claim_due(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Finishes, reschedules or discards a job — only if `fencing_token` still matches
    /// ([`StoreError::LeaseLost`] otherwise, and nothing changes). Used when no post change goes
    /// with it; otherwise the outcome travels in [`crate::posts::PostChange::job`].
    async fn complete(
        &self,
        job_id: JobId,
        fencing_token: FencingToken,
        outcome: &JobOutcome,
    ) -> Result<(), StoreError>;

    /// Renews the lease of a job the caller holds to at least `until` (never shortening it) —
    /// only while `fencing_token` is still current and the job running
    /// ([`StoreError::LeaseLost`] otherwise). Workers renew while a job runs (a heartbeat);
    /// the step before each send renews with its write ([`crate::posts::JobStep`]).
    async fn extend_lease(
        &self,
        job_id: JobId,
        fencing_token: FencingToken,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// When the next job becomes claimable: the earliest `run_at` of a pending job or
    /// `leased_until` of a running one; `None` when there is none.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
}
