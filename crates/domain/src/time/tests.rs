use super::*;

#[test]
fn years_1_to_9999_are_kept_and_nothing_beyond() {
    let at = |micros| DateTime::from_timestamp_micros(micros).unwrap();
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, and a microsecond beyond each.
    assert!(is_kept(&at(-62_135_596_800_000_000)));
    assert!(is_kept(&at(253_402_300_799_999_999)));
    assert!(!is_kept(&at(-62_135_596_800_000_001)));
    assert!(!is_kept(&at(253_402_300_800_000_000)));
    assert_eq!(
        DateTime::from_timestamp(LAST_UNIX_SECOND, 0).map(|t| t.to_rfc3339()),
        Some("9999-12-31T23:59:59+00:00".to_owned())
    );
}
