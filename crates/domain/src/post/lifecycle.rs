//! The post lifecycle: which action is allowed in which status, and what it does to the
//! targets' results and to the quota.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{Post, PostContent, PostStatus, Target, TargetError, TargetResult, TargetStatus};
use crate::error::FieldError;
use crate::ids::ConnectionId;
use crate::quota::QuotaEffect;

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
    Unknown(TargetError),
    /// Not published this time; another attempt is scheduled.
    RetryLater(TargetError),
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

    /// Replaces the content. Allowed while draft or scheduled; a scheduled post must keep at
    /// least one target.
    pub fn edit(&mut self, content: PostContent, now: DateTime<Utc>) -> Result<(), PostError> {
        match self.status {
            PostStatus::Draft => {}
            PostStatus::Scheduled if content.platforms.is_empty() => {
                return Err(PostError::Invalid(vec![FieldError::new(
                    "platforms",
                    "a scheduled post needs at least one platform",
                )]));
            }
            PostStatus::Scheduled => {}
            _ => return Err(self.deny(PostAction::Edit)),
        }
        self.name = content.name;
        self.content_mode = content.content_mode;
        self.universal_content = content.universal_content;
        self.universal_metadata = content.universal_metadata;
        self.platform_content = content.platform_content;
        self.platforms = content.platforms;
        self.media_files = content.media_files;
        self.updated_at = now;
        Ok(())
    }

    /// Draft → scheduled (consumes the post's quota unit unless it holds one), or reschedules a
    /// scheduled post (no quota change). `at` must be after `now`.
    pub fn schedule(
        &mut self,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<QuotaEffect, PostError> {
        if !matches!(self.status, PostStatus::Draft | PostStatus::Scheduled) {
            return Err(self.deny(PostAction::Schedule));
        }
        self.require_targets()?;
        if at <= now {
            return Err(PostError::Invalid(vec![FieldError::new(
                "schedule_date",
                "must be in the future",
            )]));
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
    /// behind, which the next attempt reads as "outcome unknown".
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
        result.status = TargetStatus::Publishing;
        result.connection_id = Some(connection_id);
        result.attempts += 1;
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
            TargetOutcome::Unknown(error) => {
                result.status = TargetStatus::Unknown;
                result.error = Some(error);
            }
            TargetOutcome::RetryLater(error) => {
                result.status = TargetStatus::Pending;
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
        let all_failed = self
            .publish_results
            .values()
            .all(|r| r.status == TargetStatus::Failed);
        let quota = if all_failed {
            self.give_back_quota()
        } else {
            QuotaEffect::None
        };
        Some(Settled { status, quota })
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
mod tests {
    use super::*;
    use crate::post::tests::{draft, now};
    use crate::provider::Provider;
    use chrono::Duration;
    use uuid::Uuid;

    fn cid(n: u128) -> ConnectionId {
        ConnectionId(Uuid::from_u128(n))
    }

    fn two_targets() -> Post {
        draft(vec![
            Target::primary(Provider::X),
            Target::primary(Provider::Bluesky),
        ])
    }

    fn published() -> TargetOutcome {
        TargetOutcome::Published {
            platform_post_id: Some("1".into()),
            url: None,
        }
    }

    fn failed() -> TargetOutcome {
        TargetOutcome::Failed(TargetError::new("rejected", "no"))
    }

    fn transition(from: PostStatus, action: PostAction) -> PostError {
        PostError::Transition(TransitionError { from, action })
    }

    #[test]
    fn schedule_consumes_once_and_needs_a_future_date_and_targets() {
        let mut p = two_targets();
        assert!(matches!(
            p.schedule(now(), now()),
            Err(PostError::Invalid(_))
        ));
        assert_eq!(
            p.schedule(now() + Duration::hours(1), now()),
            Ok(QuotaEffect::Consume)
        );
        assert_eq!(p.status, PostStatus::Scheduled);
        assert!(p.quota_consumed);
        // Rescheduling keeps the unit.
        assert_eq!(
            p.schedule(now() + Duration::hours(2), now()),
            Ok(QuotaEffect::None)
        );
        assert_eq!(p.schedule_date, Some(now() + Duration::hours(2)));

        let mut empty = draft(vec![]);
        assert!(matches!(
            empty.schedule(now() + Duration::hours(1), now()),
            Err(PostError::Invalid(_))
        ));
        assert_eq!(empty.status, PostStatus::Draft);
    }

    #[test]
    fn cancel_refunds_and_a_second_schedule_consumes_again() {
        let mut p = two_targets();
        p.schedule(now() + Duration::hours(1), now()).unwrap();
        assert_eq!(p.cancel(now()), Ok(QuotaEffect::Refund));
        assert_eq!(
            (p.status, p.schedule_date, p.quota_consumed),
            (PostStatus::Draft, None, false)
        );
        assert_eq!(
            p.cancel(now()),
            Err(transition(PostStatus::Draft, PostAction::Cancel))
        );
        assert_eq!(
            p.schedule(now() + Duration::hours(1), now()),
            Ok(QuotaEffect::Consume)
        );
    }

    #[test]
    fn publish_now_consumes_unless_scheduled() {
        let mut p = two_targets();
        assert_eq!(p.start_publishing(now()), Ok(QuotaEffect::Consume));
        assert_eq!(p.status, PostStatus::Publishing);
        assert_eq!(p.publish_results.len(), 2);
        assert!(
            p.publish_results
                .values()
                .all(|r| r.status == TargetStatus::Pending)
        );
        assert_eq!(
            p.start_publishing(now()),
            Err(transition(PostStatus::Publishing, PostAction::Publish))
        );

        let mut s = two_targets();
        s.schedule(now() + Duration::hours(1), now()).unwrap();
        assert_eq!(s.start_publishing(now()), Ok(QuotaEffect::None));
    }

    #[test]
    fn all_published_settles_published() {
        let mut p = two_targets();
        p.start_publishing(now()).unwrap();
        p.begin_target("twitter", cid(1), now()).unwrap();
        assert_eq!(p.record_outcome("twitter", published(), now()), Ok(None));
        assert_eq!(p.status, PostStatus::Publishing);
        let later = now() + Duration::minutes(1);
        let settled = p.record_outcome("bluesky", published(), later).unwrap();
        assert_eq!(
            settled,
            Some(Settled {
                status: PostStatus::Published,
                quota: QuotaEffect::None
            })
        );
        assert_eq!(p.published_at, Some(now()));
        assert_eq!(p.publish_results["twitter"].attempts, 1);
        assert_eq!(p.publish_results["twitter"].connection_id, Some(cid(1)));
    }

    #[test]
    fn some_published_settles_partially_published_without_refund() {
        let mut p = two_targets();
        p.start_publishing(now()).unwrap();
        p.record_outcome("twitter", published(), now()).unwrap();
        let s = p
            .record_outcome("bluesky", failed(), now())
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            Settled {
                status: PostStatus::PartiallyPublished,
                quota: QuotaEffect::None
            }
        );
        assert!(p.quota_consumed);
    }

    #[test]
    fn every_target_failed_settles_failed_and_refunds() {
        let mut p = two_targets();
        p.start_publishing(now()).unwrap();
        p.record_outcome("twitter", failed(), now()).unwrap();
        let s = p
            .record_outcome("bluesky", failed(), now())
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            Settled {
                status: PostStatus::Failed,
                quota: QuotaEffect::Refund
            }
        );
        assert!(!p.quota_consumed);
        assert_eq!(p.published_at, None);
    }

    #[test]
    fn unknown_outcome_is_not_refunded_and_not_retried() {
        let mut p = two_targets();
        p.start_publishing(now()).unwrap();
        p.record_outcome(
            "twitter",
            TargetOutcome::Unknown(TargetError::new("timeout", "?")),
            now(),
        )
        .unwrap();
        let s = p
            .record_outcome("bluesky", failed(), now())
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            Settled {
                status: PostStatus::Failed,
                quota: QuotaEffect::None
            }
        );
        let (targets, quota) = p.retry_failed(now()).unwrap();
        assert_eq!(targets, vec![Target::primary(Provider::Bluesky)]);
        assert_eq!(quota, QuotaEffect::None);
        assert_eq!(p.publish_results["twitter"].status, TargetStatus::Unknown);

        let mut only_unknown = draft(vec![Target::primary(Provider::X)]);
        only_unknown.start_publishing(now()).unwrap();
        only_unknown
            .record_outcome(
                "twitter",
                TargetOutcome::Unknown(TargetError::new("timeout", "?")),
                now(),
            )
            .unwrap();
        assert_eq!(
            only_unknown.retry_failed(now()),
            Err(PostError::NothingToRetry)
        );
    }

    #[test]
    fn retry_resends_failed_targets_only_and_reconsumes_after_refund() {
        let mut p = two_targets();
        p.start_publishing(now()).unwrap();
        p.record_outcome("twitter", published(), now()).unwrap();
        p.record_outcome("bluesky", failed(), now()).unwrap();
        let (targets, quota) = p.retry_failed(now()).unwrap();
        assert_eq!(
            (targets, quota),
            (vec![Target::primary(Provider::Bluesky)], QuotaEffect::None)
        );
        assert_eq!(p.status, PostStatus::Publishing);
        assert_eq!(p.publish_results["twitter"].status, TargetStatus::Published);
        assert_eq!(p.publish_results["bluesky"].status, TargetStatus::Pending);

        let mut all_failed = two_targets();
        all_failed.start_publishing(now()).unwrap();
        all_failed
            .record_outcome("twitter", failed(), now())
            .unwrap();
        all_failed
            .record_outcome("bluesky", failed(), now())
            .unwrap();
        let (targets, quota) = all_failed.retry_failed(now()).unwrap();
        assert_eq!((targets.len(), quota), (2, QuotaEffect::Consume));
    }

    #[test]
    fn retry_later_keeps_the_target_pending() {
        let mut p = draft(vec![Target::primary(Provider::X)]);
        p.start_publishing(now()).unwrap();
        p.begin_target("twitter", cid(1), now()).unwrap();
        let out = p.record_outcome(
            "twitter",
            TargetOutcome::RetryLater(TargetError::new("rate_limited", "wait")),
            now(),
        );
        assert_eq!(out, Ok(None));
        let r = &p.publish_results["twitter"];
        assert_eq!((r.status, r.attempts), (TargetStatus::Pending, 1));
        p.begin_target("twitter", cid(1), now()).unwrap();
        assert_eq!(p.publish_results["twitter"].attempts, 2);
    }

    #[test]
    fn settled_targets_and_unknown_keys_are_refused() {
        let mut p = two_targets();
        p.start_publishing(now()).unwrap();
        p.record_outcome("twitter", failed(), now()).unwrap();
        assert_eq!(
            p.record_outcome("twitter", published(), now()),
            Err(PostError::TargetSettled("twitter".into()))
        );
        assert_eq!(
            p.begin_target("twitter", cid(1), now()),
            Err(PostError::TargetSettled("twitter".into()))
        );
        assert_eq!(
            p.record_outcome("facebook", published(), now()),
            Err(PostError::UnknownTarget("facebook".into()))
        );
        let mut d = two_targets();
        assert_eq!(
            d.record_outcome("twitter", published(), now()),
            Err(transition(PostStatus::Draft, PostAction::RecordResult))
        );
    }

    #[test]
    fn illegal_transitions_are_typed() {
        let mut p = two_targets();
        assert_eq!(
            p.retry_failed(now()),
            Err(transition(PostStatus::Draft, PostAction::Retry))
        );
        p.start_publishing(now()).unwrap();
        let c = p.content();
        assert_eq!(
            p.edit(c, now()),
            Err(transition(PostStatus::Publishing, PostAction::Edit))
        );
        assert_eq!(
            p.deletion(),
            Err(transition(PostStatus::Publishing, PostAction::Delete))
        );
        assert_eq!(
            p.cancel(now()),
            Err(transition(PostStatus::Publishing, PostAction::Cancel))
        );
        assert_eq!(
            p.schedule(now() + Duration::hours(1), now()),
            Err(transition(PostStatus::Publishing, PostAction::Schedule))
        );
        p.record_outcome("twitter", published(), now()).unwrap();
        p.record_outcome("bluesky", published(), now()).unwrap();
        assert_eq!(p.status, PostStatus::Published);
        assert_eq!(
            p.retry_failed(now()),
            Err(transition(PostStatus::Published, PostAction::Retry))
        );
        assert_eq!(p.deletion(), Ok(QuotaEffect::None));
        assert_eq!(
            TransitionError {
                from: PostStatus::Published,
                action: PostAction::Cancel
            }
            .to_string(),
            "cannot cancel a post that is published"
        );
    }

    #[test]
    fn deleting_a_scheduled_post_refunds() {
        let mut p = two_targets();
        assert_eq!(p.deletion(), Ok(QuotaEffect::None));
        p.schedule(now() + Duration::hours(1), now()).unwrap();
        assert_eq!(p.deletion(), Ok(QuotaEffect::Refund));
    }

    #[test]
    fn edit_is_allowed_while_draft_or_scheduled() {
        let mut p = two_targets();
        let mut c = p.content();
        c.name = crate::post::PostName::new("Renamed").unwrap();
        p.edit(c.clone(), now()).unwrap();
        assert_eq!(p.name.as_str(), "Renamed");
        p.schedule(now() + Duration::hours(1), now()).unwrap();
        p.edit(c.clone(), now()).unwrap();
        c.platforms = crate::post::Targets::empty();
        assert!(matches!(p.edit(c, now()), Err(PostError::Invalid(_))));
    }
}
