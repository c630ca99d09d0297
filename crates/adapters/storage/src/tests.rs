use super::*;

#[test]
fn keys_are_plain_relative_paths() {
    for good in [
        "u1/a.jpg",
        "7/0f8fad5b-d9cb-469f-a165-70867728950e.thumb.jpg",
        "a",
    ] {
        assert!(valid_key(good), "{good}");
    }
    for bad in [
        "",
        "/etc/passwd",
        "../etc/passwd",
        "a/../../b",
        "a//b",
        "a/",
        "./a",
        "u1/.a.partial",
        "a\\b",
        "a b",
        "é",
        "a/%2e%2e",
    ] {
        assert!(!valid_key(bad), "{bad}");
    }
    assert!(!valid_key(&"a".repeat(513)));
}

#[test]
fn content_types_follow_the_extension() {
    assert_eq!(content_type_of("1/x.PNG"), "image/png");
    assert_eq!(content_type_of("1/x.thumb.jpg"), "image/jpeg");
    assert_eq!(content_type_of("1/x.mov"), "video/quicktime");
    assert_eq!(content_type_of("1/x"), "application/octet-stream");
}
