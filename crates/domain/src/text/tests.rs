use super::*;

#[test]
fn bounded_trims_and_counts_characters() {
    assert_eq!(bounded("f", "  héllo ", 1, 5, false).unwrap(), "héllo");
    assert!(bounded("f", "   ", 1, 5, false).is_err());
    assert!(bounded("f", "abcdef", 1, 5, false).is_err());
    assert!(bounded("f", "a\nb", 1, 5, false).is_err());
    assert!(bounded("f", "a\nb", 1, 5, true).is_ok());
    assert!(bounded("f", "ab", 3, 5, false).is_err());
}

#[test]
fn http_url_rules() {
    assert!(http_url("u", "https://cdn.example.com/a.png").is_ok());
    assert!(http_url("u", "http://localhost:8080").is_ok());
    assert!(http_url("u", "ftp://x").is_err());
    assert!(http_url("u", "https://").is_err());
    assert!(http_url("u", "https://a b").is_err());
    assert!(http_url("u", "javascript:alert(1)").is_err());
}
