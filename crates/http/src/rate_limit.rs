//! Per-user rate limits on expensive or abusable actions (publishing, connecting accounts), and
//! per-address ones where there is no user (file downloads).
//!
//! In-process GCRA limiters (governor), one per action and keyed by user: limits hold per
//! server process, which is what protects the process and the platforms' quotas of one
//! deployment; several replicas each allow the full rate.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use governor::DefaultKeyedRateLimiter;
use governor::clock::Clock as _;

pub use governor::Quota;

use crate::Problem;
use crate::problem::ProblemType;

/// Default publishes per user and minute.
const PUBLISH_PER_MINUTE: NonZeroU32 = NonZeroU32::MIN.saturating_add(29);
/// Default account connections per user and minute.
const CONNECT_PER_MINUTE: NonZeroU32 = NonZeroU32::MIN.saturating_add(9);

/// Every this many checks of one action, forget users whose bucket is full again, so the map
/// does not grow with every user ever seen.
const CLEANUP_EVERY: u64 = 1024;

/// A rate limit configuration this module refuses (at startup, never by panicking).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A rate limit of zero requests per period, which would lock the action out entirely.
    #[error("rate limit for `{action}` must allow at least one request per minute")]
    ZeroRateLimit {
        /// The action's name.
        action: &'static str,
    },
}

/// A rate-limited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Publishing or scheduling a post (`/v1/posts/{id}/publish`, `/schedule`).
    Publish,
    /// Connecting a social account (`/v1/connections/...`).
    Connect,
    /// Uploading media (`POST /v1/media`).
    Upload,
    /// Reading a file's bytes (`GET /media/{key}`), counted per client address (no sign-in).
    Download,
    /// Other writes: creating drafts, editing posts and media.
    Write,
}

impl Action {
    /// The action's name, as in problem details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Connect => "connect",
            Self::Upload => "upload",
            Self::Download => "download",
            Self::Write => "write",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Named per-user limiters. Cloning is cheap and clones share the counts.
///
/// [`Default`] allows 30 publishes and 10 connections per user and minute (each as a burst that
/// refills evenly over the minute).
#[derive(Debug, Clone)]
pub struct RateLimits {
    buckets: Arc<HashMap<Action, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(&[
            (Action::Publish, Quota::per_minute(PUBLISH_PER_MINUTE)),
            (Action::Connect, Quota::per_minute(CONNECT_PER_MINUTE)),
        ])
    }
}

impl RateLimits {
    /// Limiters with the given quotas; an action not listed is not limited. A later entry for
    /// the same action replaces an earlier one.
    pub fn new(limits: &[(Action, Quota)]) -> Self {
        let buckets = limits
            .iter()
            .map(|&(action, quota)| {
                let bucket = Bucket {
                    limiter: DefaultKeyedRateLimiter::keyed(quota),
                    checks: AtomicU64::new(0),
                };
                (action, bucket)
            })
            .collect();
        Self {
            buckets: Arc::new(buckets),
        }
    }

    /// Limiters allowing `n` requests per user and minute for each listed action, e.g. from
    /// configuration; 0 is refused (it would disable the action, which is not what a limit is for).
    pub fn per_minute(limits: &[(Action, u32)]) -> Result<Self, ConfigError> {
        let quotas = limits
            .iter()
            .map(|&(action, n)| {
                NonZeroU32::new(n)
                    .map(|n| (action, Quota::per_minute(n)))
                    .ok_or(ConfigError::ZeroRateLimit {
                        action: action.as_str(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(&quotas))
    }

    /// Counts one `action` by `user_key` (e.g. the user id); `Err` with a 429 answer carrying
    /// `Retry-After` when the user is over the limit. A refused attempt does not count.
    pub fn check(&self, action: Action, user_key: &str) -> Result<(), RateLimited> {
        let Some(bucket) = self.buckets.get(&action) else {
            return Ok(());
        };
        let checks = bucket.checks.fetch_add(1, Ordering::Relaxed);
        if checks % CLEANUP_EVERY == CLEANUP_EVERY - 1 {
            bucket.limiter.retain_recent();
        }
        match bucket.limiter.check_key(&user_key.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(bucket.limiter.clock().now());
                Err(RateLimited::new(action, wait))
            }
        }
    }

    /// Forgets users whose limits are back to full, freeing memory. [`check`](Self::check)
    /// already does this now and then; call it from a timer for a tidier map.
    pub fn retain_recent(&self) {
        for bucket in self.buckets.values() {
            bucket.limiter.retain_recent();
            bucket.limiter.shrink_to_fit();
        }
    }
}

/// A 429 answer: a problem document plus `Retry-After` (whole seconds, rounded up).
///
/// `Problem` cannot carry headers, hence this type; return it (or `actix_web::Error` from it)
/// from handlers. [`problem`](Self::problem) gives the body alone.
#[derive(Debug, Clone)]
pub struct RateLimited {
    // Boxed so that `Result<(), RateLimited>` stays small on the happy path.
    problem: Box<Problem>,
    retry_after_secs: u64,
}

impl RateLimited {
    fn new(action: Action, wait: Duration) -> Self {
        // Rounded up, and at least 1: a client retrying after 0 s would just be refused again.
        let retry_after_secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let problem = Problem::of(
            ProblemType::TooManyRequests,
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many {action} requests; retry in {retry_after_secs} s"),
        );
        Self {
            problem: Box::new(problem),
            retry_after_secs,
        }
    }

    /// Seconds until the next attempt can succeed.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs
    }

    /// The problem document (without the `Retry-After` header).
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.problem, f)
    }
}

impl std::error::Error for RateLimited {}

impl ResponseError for RateLimited {
    fn status_code(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.problem.error_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        response
    }
}

#[cfg(test)]
mod tests;
