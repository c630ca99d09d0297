use super::*;

#[test]
fn parse_accepts_sane_ids() {
    for ok in ["a", "abc-DEF_123.x", &"x".repeat(128)] {
        assert_eq!(
            RequestId::parse(ok).map(|id| id.to_string()).as_deref(),
            Some(ok)
        );
    }
}

#[test]
fn parse_refuses_others() {
    for bad in [
        "",
        &"x".repeat(129),
        "a b",
        "a\nb",
        "a\"b",
        "é",
        "a/b",
        "a;b",
        "{x}",
    ] {
        assert!(RequestId::parse(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn from_header_falls_back_to_uuid() {
    let generated = RequestId::from_header(Some(&HeaderValue::from_static("bad id")));
    assert!(uuid::Uuid::parse_str(generated.as_str()).is_ok());
    let missing = RequestId::from_header(None);
    assert!(uuid::Uuid::parse_str(missing.as_str()).is_ok());
    assert_ne!(generated, missing);
    let kept = RequestId::from_header(Some(&HeaderValue::from_static("abc-123")));
    assert_eq!(kept.as_str(), "abc-123");
}
