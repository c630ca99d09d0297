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

/// Exponential backoff: `base × 2^(attempt−1)`, capped, for at most `max_attempts` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before giving up (including the first).
    pub max_attempts: u32,
    /// Delay after the first failure.
    pub base_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt is allowed after `attempts` sends.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }

    /// Delay before the next attempt after `attempts` sends (≥ 1); a platform's `retry_after`
    /// wins when longer.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let backoff = self
            .base_delay
            .checked_mul(1_i32 << exp)
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        retry_after.map_or(backoff, |r| r.max(backoff))
    }
}

#[cfg(test)]
mod tests;
