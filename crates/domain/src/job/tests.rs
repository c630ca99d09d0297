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
