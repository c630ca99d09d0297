#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn defaults_are_30_and_10_per_minute() {
    let limits = RateLimits::default();
    assert!((0..30).all(|_| limits.check(Action::Publish, "u1").is_ok()));
    assert!(limits.check(Action::Publish, "u1").is_err());
    assert!((0..10).all(|_| limits.check(Action::Connect, "u1").is_ok()));
    assert!(limits.check(Action::Connect, "u1").is_err());
}

#[test]
fn retry_after_rounds_up() {
    let limited = RateLimited::new(Action::Publish, Duration::from_millis(19_001));
    assert_eq!(limited.retry_after_secs(), 20);
    assert_eq!(
        RateLimited::new(Action::Publish, Duration::ZERO).retry_after_secs(),
        1
    );
    assert_eq!(
        RateLimited::new(Action::Publish, Duration::from_secs(6)).retry_after_secs(),
        6
    );
}

#[test]
fn zero_per_minute_is_refused() {
    assert_eq!(
        RateLimits::per_minute(&[(Action::Connect, 0)]).map(|_| ()),
        Err(ConfigError::ZeroRateLimit { action: "connect" })
    );
    assert!(RateLimits::per_minute(&[(Action::Connect, 1)]).is_ok());
}

#[test]
fn unlisted_action_is_unlimited() {
    let limits = RateLimits::new(&[]);
    assert!((0..1000).all(|_| limits.check(Action::Publish, "u").is_ok()));
}

#[test]
fn cleanup_keeps_limits() {
    let limits = RateLimits::per_minute(&[(Action::Publish, 1)]).unwrap();
    assert!(limits.check(Action::Publish, "u").is_ok());
    for i in 0..CLEANUP_EVERY * 2 {
        let _ = limits.check(Action::Publish, &format!("other{i}"));
    }
    limits.retain_recent();
    // "u" is still within its minute, so cleanup must not have reset it.
    assert!(limits.check(Action::Publish, "u").is_err());
}
