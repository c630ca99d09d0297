#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn form_keys_are_read_as_stripe_nests_them() {
    assert_eq!(
        key_path("line_items[0][price]"),
        Some(vec!["line_items", "0", "price"])
    );
    assert_eq!(key_path("email"), Some(vec!["email"]));
    assert_eq!(key_path("metadata[]"), Some(vec!["metadata", ""]));
    for bad in ["[0]", "a[0", "a]b", "a[0]x", "a[[0]]"] {
        assert_eq!(key_path(bad), None, "{bad}");
    }
}

#[test]
fn the_fake_signs_the_security_docs_vector() {
    assert_eq!(
        sign(
            br#"{"id":"evt_test_webhook","object":"event"}"#,
            "whsec_test_secret",
            1_700_000_000
        ),
        "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
    );
}

#[test]
fn old_api_versions_get_the_old_shapes() {
    assert!(legacy("2024-06-20"));
    assert!(legacy("2025-02-24.acacia"));
    assert!(!legacy("2025-03-31.basil"));
    assert!(!legacy("2025-09-30.clover"));
}
