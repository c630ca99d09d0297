use super::*;

#[test]
fn keys_are_visible_ascii_of_bounded_length() {
    assert_eq!(IdempotencyKey::new(" abc-1 ").unwrap().as_str(), "abc-1");
    assert!(IdempotencyKey::new(&"k".repeat(255)).is_ok());
    for bad in ["", "   ", "a b", "é", "tab\there"] {
        assert!(IdempotencyKey::new(bad).is_err(), "{bad:?}");
    }
    assert!(IdempotencyKey::new(&"k".repeat(256)).is_err());
}
