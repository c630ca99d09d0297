//! Publishing jobs: one durable job per post target, and the retry policy.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{JobId, PostId, Tenant};
use crate::post::Target;

/// A lease's fencing token: each claim of a job gets a larger one, and a write carrying an older
/// token is refused, so a worker that paused past its lease changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub i64);

/// A job to enqueue: publish `post_id` to `target` at `run_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Job id.
    pub id: JobId,
    /// The post.
    pub post_id: PostId,
    /// Where to.
    pub target: Target,
    /// Not before.
    pub run_at: DateTime<Utc>,
}

/// A job a worker has claimed, with its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// Job id.
    pub job_id: JobId,
    /// Whose post.
    pub tenant: Tenant,
    /// The post.
    pub post_id: PostId,
    /// Where to.
    pub target: Target,
    /// 1 for the first claim, then 2, 3… (a claim after a lost lease counts too).
    pub attempt: u32,
    /// Token to present when recording the outcome.
    pub fencing_token: FencingToken,
}

/// What becomes of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done: the target has a final outcome.
    Completed,
    /// Run again at `run_at` (transient failure, rate limit, refresh in progress…).
    RetryAt {
        /// When.
        run_at: DateTime<Utc>,
        /// Why, for operators.
        reason: String,
    },
    /// Nothing to do (post deleted, cancelled, or target already settled).
    Discarded {
        /// Why, for operators.
        reason: String,
    },
}

/// When a job runs again, and when it stops trying.
///
/// Sends that failed transiently (5xx, network) back off exponentially — `base × 2^(n−1)`,
/// capped at `max_delay` — with jitter, for at most `max_attempts` sends. A platform's rate
/// limit defers the job to the platform's reset time without using up a send. Whatever
/// happens, a job is claimed at most `max_claims` times (each rescue of a dead worker's job and
/// each retry counts): past that its target fails with a plain reason, so no post stays
/// publishing forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends before giving up on transient failures (including the first).
    pub max_attempts: u32,
    /// Delay after the first failure.
    pub base_delay: Duration,
    /// Longest delay (also the longest rate-limit deferral).
    pub max_delay: Duration,
    /// Claims of one job before it gives up, whatever the reasons.
    pub max_claims: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
            max_claims: 12,
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt is allowed after `attempts` sends.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }

    /// Whether a job claimed for the `claim`-th time may still run.
    pub fn may_claim(&self, claim: u32) -> bool {
        claim <= self.max_claims
    }

    /// Delay before the next attempt after `attempts` sends (≥ 1), without jitter; a
    /// platform's `retry_after` wins when longer (capped at `max_delay`).
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let backoff = self
            .base_delay
            .checked_mul(1_i32 << exp)
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        retry_after.map_or(backoff, |r| r.min(self.max_delay).max(backoff))
    }

    /// [`RetryPolicy::delay`] with "equal jitter": between half the delay and the whole of
    /// it, by `jitter` in `[0, 1]` (a random draw: workers retrying together spread out).
    pub fn jittered_delay(&self, attempts: u32, jitter: f64) -> Duration {
        let full = self.delay(attempts, None);
        let half = full / 2;
        let spread = (half.num_milliseconds() as f64 * jitter.clamp(0.0, 1.0)) as i64;
        half + Duration::milliseconds(spread)
    }

    /// How long a rate-limited send waits: the platform's reset delay (capped at `max_delay`),
    /// or the first backoff step when it gave none.
    pub fn rate_limit_delay(&self, retry_after: Option<Duration>) -> Duration {
        retry_after
            .map_or(self.base_delay, |r| r.min(self.max_delay))
            .max(Duration::seconds(1))
    }
}

#[cfg(test)]
mod tests;
