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

    // Year 10000 in UTC (from 9999-12-31T23:59:59-01:00): not a time kept.
    let late = chrono::DateTime::from_timestamp(crate::time::LAST_UNIX_SECOND + 1, 0).unwrap();
    assert!(matches!(
        p.schedule(late, now()),
        Err(PostError::Invalid(e)) if e[0].reason == "must be before the year 10000"
    ));

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
        TargetOutcome::NeedsReview(TargetError::new("timeout", "?")),
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
    assert_eq!(
        p.publish_results["twitter"].status,
        TargetStatus::NeedsReview
    );

    let mut only_unknown = draft(vec![Target::primary(Provider::X)]);
    only_unknown.start_publishing(now()).unwrap();
    only_unknown
        .record_outcome(
            "twitter",
            TargetOutcome::NeedsReview(TargetError::new("timeout", "?")),
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
fn an_edit_replaces_the_whole_content_its_thread_too() {
    let mut p = two_targets();
    p.schedule(now() + Duration::hours(1), now()).unwrap();
    let mut c = p.content();
    c.name = crate::post::PostName::new("Renamed").unwrap();
    c.universal_content = Some("First part, corrected".into());
    c.universal_metadata = serde_json::json!({ "campaign": "spring" });
    c.media_files = vec![crate::ids::MediaId(Uuid::from_u128(9))];
    c.thread = vec![crate::post::ThreadPart {
        text: "Second part, corrected".into(),
        media_files: vec![],
    }];
    p.edit(c.clone(), now()).unwrap();
    assert_eq!(p.content(), c);
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

#[test]
fn a_target_stays_on_the_account_it_went_out_on() {
    let mut p = two_targets();
    p.start_publishing(now()).unwrap();
    let key = "twitter".to_owned();
    let bound = |p: &Post| p.publish_results[&key].bound_connection();
    assert_eq!(bound(&p), None, "nothing sent yet");
    // Refused before anything went out: any account may take the next attempt.
    p.begin_target(&key, cid(7), now()).unwrap();
    assert_eq!(bound(&p), Some(cid(7)), "the outcome is open");
    let retry = TargetOutcome::RetryLater(TargetError::new("rate_limited", "later"));
    p.record_outcome(&key, retry, now()).unwrap();
    assert_eq!(bound(&p), None);
    p.begin_target(&key, cid(8), now()).unwrap();
    // Sent, outcome open: only that account may go on.
    assert_eq!(
        p.begin_target(&key, cid(7), now()),
        Err(PostError::BoundElsewhere {
            key: key.clone(),
            bound: cid(8)
        })
    );
    // A thread's first part is out: its other parts reply to it, on that account only.
    let part = super::PartResult {
        platform_post_id: "1".into(),
        url: None,
        reference: None,
    };
    p.record_part(&key, part, now()).unwrap();
    assert_eq!(p.publish_results[&key].status, TargetStatus::Pending);
    assert_eq!(bound(&p), Some(cid(8)));
    assert!(matches!(
        p.begin_target(&key, cid(7), now()),
        Err(PostError::BoundElsewhere { .. })
    ));
    p.begin_target(&key, cid(8), now()).unwrap();
}

fn needs_review() -> TargetOutcome {
    TargetOutcome::NeedsReview(TargetError::new("interrupted", "check the account"))
}

#[test]
fn a_target_under_review_is_resolved_as_published_or_sent_again() {
    let mut p = two_targets();
    p.start_publishing(now()).unwrap();
    p.record_outcome("twitter", needs_review(), now()).unwrap();
    p.record_outcome("bluesky", published(), now()).unwrap();
    assert_eq!(p.status, PostStatus::PartiallyPublished);
    // Only a target under review can be resolved.
    assert_eq!(
        p.resolve_review("bluesky", Resolution::Resend, now()),
        Err(PostError::NotUnderReview("bluesky".into()))
    );
    assert_eq!(
        p.resolve_review("linkedin", Resolution::Resend, now()),
        Err(PostError::UnknownTarget("linkedin".into()))
    );

    // The person found it on X.
    let mut found = p.clone();
    let url = "https://x.com/ada/status/1".to_owned();
    let r = found
        .resolve_review(
            "twitter",
            Resolution::Published {
                url: Some(url.clone()),
            },
            now(),
        )
        .unwrap();
    assert_eq!(r.enqueue, None);
    assert_eq!(r.settled.map(|s| s.status), Some(PostStatus::Published));
    assert_eq!(found.status, PostStatus::Published);
    assert_eq!(found.publish_results["twitter"].url, Some(url));
    assert_eq!(found.publish_results["twitter"].error, None);

    // The person did not: it is sent again, the post publishing until it settles.
    let r = p
        .resolve_review("twitter", Resolution::Resend, now())
        .unwrap();
    assert_eq!(r.enqueue, Some(Target::primary(Provider::X)));
    assert_eq!(r.quota, QuotaEffect::None, "the post still holds its unit");
    assert_eq!(p.status, PostStatus::Publishing);
    assert_eq!(p.publish_results["twitter"].status, TargetStatus::Pending);
    assert_eq!(p.publish_results["bluesky"].status, TargetStatus::Published);
}

#[test]
fn a_post_that_failed_everywhere_can_be_edited_and_scheduled_again() {
    let mut p = two_targets();
    p.schedule(now() + Duration::hours(1), now()).unwrap();
    p.start_publishing(now()).unwrap();
    p.record_outcome("twitter", failed(), now()).unwrap();
    let s = p
        .record_outcome("bluesky", failed(), now())
        .unwrap()
        .unwrap();
    assert_eq!(s.quota, QuotaEffect::Refund);
    let content = p.content().clone();
    let mut edited = p.clone();
    edited.edit(content, now()).unwrap();
    assert_eq!(edited.status, PostStatus::Draft);
    assert!(edited.publish_results.is_empty());
    assert_eq!(
        p.schedule(now() + Duration::hours(2), now()),
        Ok(QuotaEffect::Consume)
    );
    assert_eq!(p.status, PostStatus::Scheduled);
    assert!(p.publish_results.is_empty());

    // Not when something may have gone out.
    let mut maybe = two_targets();
    maybe.start_publishing(now()).unwrap();
    maybe.record_outcome("twitter", failed(), now()).unwrap();
    maybe
        .record_outcome("bluesky", needs_review(), now())
        .unwrap();
    assert_eq!(maybe.status, PostStatus::Failed);
    assert!(matches!(
        maybe.schedule(now() + Duration::hours(2), now()),
        Err(PostError::Transition(_))
    ));
    let content = maybe.content().clone();
    assert!(matches!(
        maybe.edit(content, now()),
        Err(PostError::Transition(_))
    ));
}

#[test]
fn beginning_a_send_records_when() {
    let mut p = two_targets();
    p.start_publishing(now()).unwrap();
    p.begin_target("twitter", cid(1), now() + Duration::seconds(5))
        .unwrap();
    let r = &p.publish_results["twitter"];
    assert_eq!(r.attempts, 1);
    assert_eq!(r.last_attempt_at, Some(now() + Duration::seconds(5)));
}

#[test]
fn a_published_resolution_takes_only_a_web_address() {
    assert_eq!(
        Resolution::published(Some(" https://x.com/ada/status/1 ")),
        Ok(Resolution::Published {
            url: Some("https://x.com/ada/status/1".into())
        })
    );
    assert_eq!(
        Resolution::published(None),
        Ok(Resolution::Published { url: None })
    );
    assert_eq!(
        Resolution::published(Some("")),
        Ok(Resolution::Published { url: None })
    );
    for bad in [
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "ftp://x.com/a",
        "http://x.com/a",
        "https://user@evil.example/a",
        "https://x.com/a b",
        &format!("https://x.com/{}", "a".repeat(2048)),
    ] {
        assert!(Resolution::published(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn a_resend_while_the_outcome_is_open_keeps_the_first_send_time() {
    let mut p = two_targets();
    p.start_publishing(now()).unwrap();
    p.begin_target("twitter", cid(1), now()).unwrap();
    p.record_outcome(
        "twitter",
        TargetOutcome::RetryInFlight(TargetError::new("timeout", "no answer")),
        now(),
    )
    .unwrap();
    let r = &p.publish_results["twitter"];
    assert_eq!(r.status, TargetStatus::Publishing, "still possibly sent");
    assert_eq!(p.status, PostStatus::Publishing);
    p.begin_target("twitter", cid(1), now() + Duration::minutes(20))
        .unwrap();
    let r = &p.publish_results["twitter"];
    assert_eq!(r.last_attempt_at, Some(now()), "the first send's time");
    assert_eq!(r.attempts, 2);
}

#[test]
fn a_thread_that_posted_parts_keeps_its_unit_when_it_fails() {
    let mut p = draft(vec![Target::primary(Provider::X)]);
    p.thread = vec![crate::post::ThreadPart {
        text: "two".into(),
        media_files: vec![],
    }];
    p.schedule(now() + Duration::hours(1), now()).unwrap();
    p.start_publishing(now()).unwrap();
    p.record_part(
        "twitter",
        PartResult {
            platform_post_id: "1".into(),
            url: None,
            reference: None,
        },
        now(),
    )
    .unwrap();
    let s = p
        .record_outcome("twitter", failed(), now())
        .unwrap()
        .unwrap();
    assert_eq!(s.status, PostStatus::Failed);
    assert_eq!(s.quota, QuotaEffect::None, "the first part went out");
    // And it is no draft to edit again: something is on the platform.
    assert!(matches!(
        p.schedule(now() + Duration::hours(2), now()),
        Err(PostError::Transition(_))
    ));
}

#[test]
fn an_interrupted_part_before_the_last_cannot_be_marked_published() {
    let mut p = draft(vec![Target::primary(Provider::X)]);
    p.thread = vec![
        crate::post::ThreadPart {
            text: "two".into(),
            media_files: vec![],
        },
        crate::post::ThreadPart {
            text: "three".into(),
            media_files: vec![],
        },
    ];
    p.start_publishing(now()).unwrap();
    p.record_part(
        "twitter",
        PartResult {
            platform_post_id: "1".into(),
            url: None,
            reference: None,
        },
        now(),
    )
    .unwrap();
    p.record_outcome("twitter", needs_review(), now()).unwrap();
    assert_eq!(
        p.resolve_review("twitter", Resolution::Published { url: None }, now()),
        Err(PostError::PartsLeft {
            key: "twitter".into(),
            part: 2,
            parts: 3
        })
    );
    // Sending it again continues the thread from part 2.
    let r = p
        .resolve_review("twitter", Resolution::Resend, now())
        .unwrap();
    assert_eq!(r.enqueue, Some(Target::primary(Provider::X)));
    assert_eq!(p.publish_results["twitter"].parts.len(), 1);
}
