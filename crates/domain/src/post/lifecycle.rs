//! The post lifecycle: which action is allowed in which status, and what it does to the
//! targets' results and to the quota.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{
    PartResult, Post, PostContent, PostStatus, Target, TargetError, TargetResult, TargetStatus,
};
use crate::error::FieldError;
use crate::ids::{ConnectionId, JobId};
use crate::job::NewJob;
use crate::quota::QuotaEffect;

/// The one rule for a schedule date: strictly after `now`.
pub fn check_schedule_date(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), FieldError> {
    if at <= now {
        return Err(FieldError::new("schedule_date", "must be in the future"));
    }
    if !crate::time::is_kept(&at) {
        // 9999-12-31T23:59:59-01:00, say: RFC 3339 could not write it back.
        return Err(FieldError::new(
            "schedule_date",
            "must be before the year 10000",
        ));
    }
    Ok(())
}

/// Something done to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostAction {
    /// Change its content.
    Edit,
    /// Schedule (or reschedule) it.
    Schedule,
    /// Start publishing (now, or because it is due).
    Publish,
    /// Cancel a scheduled post back to draft.
    Cancel,
    /// Publish its failed targets again.
    Retry,
    /// Delete it.
    Delete,
    /// Record a target's outcome.
    RecordResult,
}

impl fmt::Display for PostAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Edit => "edit",
            Self::Schedule => "schedule",
            Self::Publish => "publish",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
            Self::Delete => "delete",
            Self::RecordResult => "record a result for",
        })
    }
}

/// The action is not allowed in the post's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a post that is {from}")]
pub struct TransitionError {
    /// The post's status.
    pub from: PostStatus,
    /// What was attempted.
    pub action: PostAction,
}

/// Why a lifecycle action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// Not allowed in this status.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The post is not ready for the action (no targets, schedule date not in the future…).
    #[error("invalid post: {0:?}")]
    Invalid(Vec<FieldError>),
    /// Retry was asked but no target failed (published and unknown targets are never re-sent).
    #[error("no failed target to retry")]
    NothingToRetry,
    /// No target has that result key.
    #[error("the post has no target `{0}`")]
    UnknownTarget(String),
    /// The target already has a final outcome (a duplicate or late job).
    #[error("target `{0}` is already settled")]
    TargetSettled(String),
    /// Only a target that needs review can be resolved.
    #[error("target `{0}` does not need review")]
    NotUnderReview(String),
    /// The target is bound to the account it went out on ([`TargetResult::bound_connection`]),
    /// not the one named.
    #[error("target `{key}` went out on another account")]
    BoundElsewhere {
        /// The target's key.
        key: String,
        /// The account it is bound to.
        bound: ConnectionId,
    },
    /// A thread's interrupted part is not its last: the parts after it reply to it.
    #[error(
        "part {part} of {parts} of `{key}` was interrupted; the parts after it reply to it, so \
         it cannot be marked published — remove it from the platform if it is there, then send \
         it again"
    )]
    PartsLeft {
        /// The target's key.
        key: String,
        /// The interrupted part (1-based).
        part: usize,
        /// Parts in the thread.
        parts: usize,
    },
}

/// What finished publishing looks like: the post's final status, and what happens to its quota
/// unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Published, partially published or failed.
    pub status: PostStatus,
    /// [`QuotaEffect::Refund`] when every target failed.
    pub quota: QuotaEffect,
}

/// What a person found when checking a target that needs review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// It is on the platform.
    Published {
        /// Its public URL, when the person gives it.
        url: Option<String>,
    },
    /// It is not: send it again.
    Resend,
}

impl Resolution {
    /// "It is there", with the URL a person gives: an absolute `https` URL of at most 2,048
    /// characters, without spaces, control characters or credentials — anything else (a
    /// `javascript:` link a client would render) is refused.
    pub fn published(url: Option<&str>) -> Result<Self, FieldError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Self::Published { url: None });
        };
        let host = url
            .strip_prefix("https://")
            .and_then(|r| r.split(['/', '?', '#']).next());
        if url.len() > 2048
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
            || host.is_none_or(|h| h.is_empty() || h.contains('@'))
        {
            return Err(FieldError::new(
                "url",
                "must be the post's address, an https URL of at most 2048 characters",
            ));
        }
        Ok(Self::Published {
            url: Some(url.to_owned()),
        })
    }
}

/// What resolving a review changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The target to publish again (a re-send).
    pub enqueue: Option<Target>,
    /// What happens to the quota unit.
    pub quota: QuotaEffect,
    /// The post's final status, when this settled it.
    pub settled: Option<Settled>,
}

/// What a platform call came to, for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetOutcome {
    /// Accepted by the platform.
    Published {
        /// The platform's post id.
        platform_post_id: Option<String>,
        /// Public URL.
        url: Option<String>,
    },
    /// Definitely not published; no more attempts.
    Failed(TargetError),
    /// Maybe published: no more automatic attempts, a person must check.
    NeedsReview(TargetError),
    /// Not published this time; another attempt is scheduled.
    RetryLater(TargetError),
    /// Maybe published (the platform did not answer after the send), and the platform
    /// deduplicates a re-send: another attempt is scheduled, and the target stays `publishing`
    /// with the time of its first send, so that attempt looks for the post before sending and
    /// re-sends only while the platform still deduplicates.
    RetryInFlight(TargetError),
}

impl Post {
    fn deny(&self, action: PostAction) -> PostError {
        PostError::Transition(TransitionError {
            from: self.status,
            action,
        })
    }

    fn require_targets(&self) -> Result<(), PostError> {
        if self.platforms.is_empty() {
            return Err(PostError::Invalid(vec![FieldError::new(
                "platforms",
                "select at least one platform",
            )]));
        }
        Ok(())
    }

    fn take_quota(&mut self) -> QuotaEffect {
        if self.quota_consumed {
            QuotaEffect::None
        } else {
            self.quota_consumed = true;
            QuotaEffect::Consume
        }
    }

    fn give_back_quota(&mut self) -> QuotaEffect {
        if self.quota_consumed {
            self.quota_consumed = false;
            QuotaEffect::Refund
        } else {
            QuotaEffect::None
        }
    }

    /// Replaces the content. Allowed while draft or scheduled — or failed with every target
    /// failed (nothing went out): it becomes a draft again. A scheduled post must keep at least
    /// one target.
    pub fn edit(&mut self, content: PostContent, now: DateTime<Utc>) -> Result<(), PostError> {
        match self.status {
            PostStatus::Draft => {}
            PostStatus::Failed if self.nothing_went_out() => {
                // Nothing went out: the post is a draft again, its results start over.
                self.status = PostStatus::Draft;
                self.publish_results.clear();
            }
            PostStatus::Scheduled if content.platforms.is_empty() => {
                return Err(PostError::Invalid(vec![FieldError::new(
                    "platforms",
                    "a scheduled post needs at least one platform",
                )]));
            }
            PostStatus::Scheduled => {}
            _ => return Err(self.deny(PostAction::Edit)),
        }
        // Taken apart whole, so that a field added to the content cannot be left out here.
        let PostContent {
            name,
            content_mode,
            universal_content,
            universal_metadata,
            platform_content,
            platforms,
            media_files,
            thread,
        } = content;
        self.name = name;
        self.content_mode = content_mode;
        self.universal_content = universal_content;
        self.universal_metadata = universal_metadata;
        self.platform_content = platform_content;
        self.platforms = platforms;
        self.media_files = media_files;
        self.thread = thread;
        self.updated_at = now;
        Ok(())
    }

    /// The jobs that publish `targets` at `run_at`, one per target, each id from `new_id`; the
    /// post records the first as its `publish_job_id` (the seed's background job tracking).
    pub fn plan_jobs(
        &mut self,
        targets: &[Target],
        run_at: DateTime<Utc>,
        mut new_id: impl FnMut() -> JobId,
    ) -> Vec<NewJob> {
        let jobs: Vec<NewJob> = targets
            .iter()
            .map(|t| NewJob {
                id: new_id(),
                post_id: self.id,
                target: *t,
                run_at,
            })
            .collect();
        self.publish_job_id = jobs.first().map(|j| j.id.to_string());
        jobs
    }

    /// [`Post::plan_jobs`] for every target of the post.
    pub fn plan_all_jobs(
        &mut self,
        run_at: DateTime<Utc>,
        new_id: impl FnMut() -> JobId,
    ) -> Vec<NewJob> {
        let targets = self.platforms.as_slice().to_vec();
        self.plan_jobs(&targets, run_at, new_id)
    }

    /// Draft → scheduled (consumes the post's quota unit unless it holds one), or reschedules a
    /// scheduled post (no quota change). A failed post whose every target failed (nothing went
    /// out) may be scheduled again too, its results starting over. `at` must be after `now`.
    pub fn schedule(
        &mut self,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<QuotaEffect, PostError> {
        let again = self.status == PostStatus::Failed && self.nothing_went_out();
        if !matches!(self.status, PostStatus::Draft | PostStatus::Scheduled) && !again {
            return Err(self.deny(PostAction::Schedule));
        }
        self.require_targets()?;
        check_schedule_date(at, now).map_err(|e| PostError::Invalid(vec![e]))?;
        if again {
            self.publish_results.clear();
        }
        self.status = PostStatus::Scheduled;
        self.schedule_date = Some(at);
        self.updated_at = now;
        Ok(self.take_quota())
    }

    /// Draft or scheduled → publishing: every target gets a fresh pending result. Consumes the
    /// quota unit unless the post holds one (a scheduled post already does).
    pub fn start_publishing(&mut self, now: DateTime<Utc>) -> Result<QuotaEffect, PostError> {
        if !matches!(self.status, PostStatus::Draft | PostStatus::Scheduled) {
            return Err(self.deny(PostAction::Publish));
        }
        self.require_targets()?;
        self.status = PostStatus::Publishing;
        self.publish_results = self
            .platforms
            .keyed()
            .into_iter()
            .map(|(k, t)| (k, TargetResult::pending(&t)))
            .collect();
        self.published_at = None;
        self.updated_at = now;
        Ok(self.take_quota())
    }

    /// Scheduled → draft, before anything went out: the schedule date is cleared and the quota
    /// unit refunded.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> Result<QuotaEffect, PostError> {
        if self.status != PostStatus::Scheduled {
            return Err(self.deny(PostAction::Cancel));
        }
        self.status = PostStatus::Draft;
        self.schedule_date = None;
        self.updated_at = now;
        Ok(self.give_back_quota())
    }

    /// Every target failed for certain: nothing went out, nothing may have.
    fn nothing_went_out(&self) -> bool {
        self.publish_results
            .values()
            .all(|r| r.status == TargetStatus::Failed && r.parts.is_empty())
    }

    /// Whether the post may be deleted (any status but publishing), and what happens to its
    /// quota unit: a scheduled post is refunded as if cancelled.
    pub fn deletion(&self) -> Result<QuotaEffect, PostError> {
        match self.status {
            PostStatus::Publishing => Err(self.deny(PostAction::Delete)),
            PostStatus::Scheduled if self.quota_consumed => Ok(QuotaEffect::Refund),
            _ => Ok(QuotaEffect::None),
        }
    }

    /// The result of the target with that key.
    pub fn target_result(&self, key: &str) -> Option<&TargetResult> {
        self.publish_results.get(key)
    }

    fn result_mut(
        &mut self,
        key: &str,
        action: PostAction,
    ) -> Result<&mut TargetResult, PostError> {
        if self.status != PostStatus::Publishing {
            return Err(self.deny(action));
        }
        self.publish_results
            .get_mut(key)
            .ok_or_else(|| PostError::UnknownTarget(key.to_owned()))
    }

    /// Marks a target as being sent through `connection_id` (one more attempt). The result is
    /// stored *before* the platform is called, so a worker dying mid-send leaves `publishing`
    /// behind, which the next attempt reads as "outcome unknown". A target bound to another
    /// account ([`TargetResult::bound_connection`]) is refused.
    pub fn begin_target(
        &mut self,
        key: &str,
        connection_id: ConnectionId,
        now: DateTime<Utc>,
    ) -> Result<(), PostError> {
        let result = self.result_mut(key, PostAction::RecordResult)?;
        if result.status.is_terminal() {
            return Err(PostError::TargetSettled(key.to_owned()));
        }
        if let Some(bound) = result.bound_connection()
            && bound != connection_id
        {
            return Err(PostError::BoundElsewhere {
                key: key.to_owned(),
                bound,
            });
        }
        // A send re-made while the last one's outcome is open keeps the first one's time: the
        // platform's deduplication window runs from it.
        if result.status != TargetStatus::Publishing || result.last_attempt_at.is_none() {
            result.last_attempt_at = Some(now);
        }
        result.status = TargetStatus::Publishing;
        result.connection_id = Some(connection_id);
        result.attempts += 1;
        self.updated_at = now;
        Ok(())
    }

    /// Records one part of a thread the platform accepted, before the next part is sent: the
    /// target goes back to pending with the part kept, so a later attempt — after a crash, a
    /// retry — continues from the first part not yet posted and never posts one twice.
    pub fn record_part(
        &mut self,
        key: &str,
        part: PartResult,
        now: DateTime<Utc>,
    ) -> Result<(), PostError> {
        let result = self.result_mut(key, PostAction::RecordResult)?;
        if result.status.is_terminal() {
            return Err(PostError::TargetSettled(key.to_owned()));
        }
        result.parts.push(part);
        result.status = TargetStatus::Pending;
        result.error = None;
        self.updated_at = now;
        Ok(())
    }

    /// Records what happened to one target. When every target has a final outcome the post
    /// settles: all published → published; some → partially published; none → failed, and if
    /// every target failed (none unknown, which might have gone out) the quota unit is refunded.
    pub fn record_outcome(
        &mut self,
        key: &str,
        outcome: TargetOutcome,
        now: DateTime<Utc>,
    ) -> Result<Option<Settled>, PostError> {
        let result = self.result_mut(key, PostAction::RecordResult)?;
        if result.status.is_terminal() {
            return Err(PostError::TargetSettled(key.to_owned()));
        }
        match outcome {
            TargetOutcome::Published {
                platform_post_id,
                url,
            } => {
                result.status = TargetStatus::Published;
                result.platform_post_id = platform_post_id;
                result.url = url;
                result.error = None;
                result.published_at = Some(now);
                self.published_at = Some(self.published_at.map_or(now, |t| t.min(now)));
            }
            TargetOutcome::Failed(error) => {
                result.status = TargetStatus::Failed;
                result.error = Some(error);
            }
            TargetOutcome::NeedsReview(error) => {
                result.status = TargetStatus::NeedsReview;
                result.error = Some(error);
            }
            TargetOutcome::RetryLater(error) => {
                result.status = TargetStatus::Pending;
                result.error = Some(error);
            }
            TargetOutcome::RetryInFlight(error) => {
                result.status = TargetStatus::Publishing;
                result.error = Some(error);
            }
        }
        self.updated_at = now;
        Ok(self.settle())
    }

    /// The status the results add up to, or `None` while a target is still pending or sending.
    pub fn derived_status(&self) -> Option<PostStatus> {
        let results = self.publish_results.values();
        if self.publish_results.is_empty() || results.clone().any(|r| !r.status.is_terminal()) {
            return None;
        }
        let published = results
            .filter(|r| r.status == TargetStatus::Published)
            .count();
        Some(if published == self.publish_results.len() {
            PostStatus::Published
        } else if published > 0 {
            PostStatus::PartiallyPublished
        } else {
            PostStatus::Failed
        })
    }

    fn settle(&mut self) -> Option<Settled> {
        let status = self.derived_status()?;
        self.status = status;
        // Only when nothing went out: a thread whose first parts were posted keeps its unit.
        let quota = if self.nothing_went_out() {
            self.give_back_quota()
        } else {
            QuotaEffect::None
        };
        Some(Settled { status, quota })
    }

    /// Use case *resolve a target that needs review*, once a person has checked the account:
    /// either it did go out ([`Resolution::Published`], with its URL when known) — recorded as
    /// published, and the post settles — or it did not ([`Resolution::Resend`]) — the target
    /// is sent again (a thread continues after its recorded parts) and the post is publishing
    /// again; the returned target is to be enqueued. Only a target in `needs_review`.
    pub fn resolve_review(
        &mut self,
        key: &str,
        resolution: Resolution,
        now: DateTime<Utc>,
    ) -> Result<Resolved, PostError> {
        let target = self
            .platforms
            .by_key(key)
            .ok_or_else(|| PostError::UnknownTarget(key.to_owned()))?;
        let parts = self.content().parts_for(target.provider).len();
        let result = self
            .publish_results
            .get_mut(key)
            .ok_or_else(|| PostError::UnknownTarget(key.to_owned()))?;
        if result.status != TargetStatus::NeedsReview {
            return Err(PostError::NotUnderReview(key.to_owned()));
        }
        let interrupted = result.parts.len();
        match resolution {
            // The parts after an interrupted one reply to it: without its id they cannot go.
            Resolution::Published { .. } if interrupted + 1 < parts => Err(PostError::PartsLeft {
                key: key.to_owned(),
                part: interrupted + 1,
                parts,
            }),
            Resolution::Published { url } => {
                result.status = TargetStatus::Published;
                result.url = url.or_else(|| result.parts.first().and_then(|p| p.url.clone()));
                result.platform_post_id = result
                    .platform_post_id
                    .take()
                    .or_else(|| result.parts.first().map(|p| p.platform_post_id.clone()));
                result.error = None;
                result.published_at = Some(now);
                self.published_at = Some(self.published_at.map_or(now, |t| t.min(now)));
                self.updated_at = now;
                let settled = self.settle();
                Ok(Resolved {
                    enqueue: None,
                    quota: settled.map(|s| s.quota).unwrap_or_default(),
                    settled,
                })
            }
            Resolution::Resend => {
                result.status = TargetStatus::Pending;
                result.error = None;
                self.status = PostStatus::Publishing;
                self.updated_at = now;
                Ok(Resolved {
                    enqueue: Some(target),
                    quota: self.take_quota(),
                    settled: None,
                })
            }
        }
    }

    /// Failed or partially published → publishing again, for the failed targets only
    /// (published and unknown targets are never re-sent). Returns the targets to enqueue, and
    /// consumes the quota unit again if it had been refunded.
    pub fn retry_failed(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Target>, QuotaEffect), PostError> {
        if !matches!(
            self.status,
            PostStatus::Failed | PostStatus::PartiallyPublished
        ) {
            return Err(self.deny(PostAction::Retry));
        }
        let failed: Vec<String> = self
            .publish_results
            .iter()
            .filter(|(_, r)| r.status == TargetStatus::Failed)
            .map(|(k, _)| k.clone())
            .collect();
        let targets: Vec<Target> = failed
            .iter()
            .filter_map(|k| self.platforms.by_key(k))
            .collect();
        if targets.is_empty() {
            return Err(PostError::NothingToRetry);
        }
        for key in &failed {
            if let Some(r) = self.publish_results.get_mut(key) {
                r.status = TargetStatus::Pending;
                r.error = None;
            }
        }
        self.status = PostStatus::Publishing;
        self.updated_at = now;
        Ok((targets, self.take_quota()))
    }
}

#[cfg(test)]
mod tests;
