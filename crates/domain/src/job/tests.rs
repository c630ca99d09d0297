use super::*;

#[test]
fn backoff_doubles_and_caps() {
    let p = RetryPolicy::default();
    assert_eq!(p.delay(1, None), Duration::seconds(30));
    assert_eq!(p.delay(2, None), Duration::seconds(60));
    assert_eq!(p.delay(3, None), Duration::seconds(120));
    assert_eq!(p.delay(30, None), Duration::hours(1));
    assert_eq!(
        p.delay(1, Some(Duration::seconds(900))),
        Duration::seconds(900)
    );
    assert_eq!(
        p.delay(3, Some(Duration::seconds(5))),
        Duration::seconds(120)
    );
    assert!(p.may_retry(4));
    assert!(!p.may_retry(5));
}

#[test]
fn jitter_spreads_between_half_and_the_whole_delay() {
    let p = RetryPolicy::default();
    assert_eq!(p.jittered_delay(2, 0.0), Duration::seconds(30));
    assert_eq!(p.jittered_delay(2, 1.0), Duration::seconds(60));
    assert_eq!(p.jittered_delay(2, 0.5), Duration::seconds(45));
    // Out-of-range draws are clamped; huge attempt counts stay at the cap.
    assert_eq!(p.jittered_delay(2, 7.0), Duration::seconds(60));
    assert_eq!(p.jittered_delay(u32::MAX, 1.0), Duration::hours(1));
}

#[test]
fn rate_limits_defer_to_the_reset_and_claims_are_capped() {
    let p = RetryPolicy::default();
    assert_eq!(
        p.rate_limit_delay(Some(Duration::seconds(90))),
        Duration::seconds(90)
    );
    assert_eq!(
        p.rate_limit_delay(Some(Duration::days(3))),
        Duration::hours(1)
    );
    assert_eq!(
        p.rate_limit_delay(Some(Duration::zero())),
        Duration::seconds(1)
    );
    assert_eq!(p.rate_limit_delay(None), Duration::seconds(30));
    assert_eq!(p.delay(1, Some(Duration::days(3))), Duration::hours(1));
    assert!(p.may_claim(12));
    assert!(!p.may_claim(13));
}
