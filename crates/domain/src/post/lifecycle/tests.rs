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

#[test]
fn a_threads_parts_are_kept_so_a_later_attempt_continues_after_them() {
    let mut p = two_targets();
    p.start_publishing(now()).unwrap();
    let key = "twitter".to_owned();
    p.begin_target(&key, cid(7), now()).unwrap();
    p.record_part(
        &key,
        super::PartResult {
            platform_post_id: "1".into(),
            url: Some("https://x.com/a/status/1".into()),
            reference: None,
        },
        now(),
    )
    .unwrap();
    let r = &p.publish_results[&key];
    assert_eq!(r.status, TargetStatus::Pending, "not sending any more");
    assert_eq!(r.parts.len(), 1);
    p.record_outcome(&key, published(), now()).unwrap();
    assert!(
        p.record_part(
            &key,
            super::PartResult {
                platform_post_id: "2".into(),
                url: None,
                reference: None
            },
            now()
        )
        .is_err(),
        "a settled target takes no more parts"
    );
}
