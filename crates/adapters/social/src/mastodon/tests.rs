use super::*;

#[test]
fn ids_used_in_paths_are_plain() {
    assert!(plain_id("103254962155278888"));
    assert!(plain_id("abc-DEF_1"));
    assert!(!plain_id(""));
    assert!(!plain_id("../../oauth/token"));
    assert!(!plain_id("1?x=2"));
    assert!(!plain_id(&"9".repeat(65)));
}

#[test]
fn error_messages_prefer_the_description() {
    let said = InstanceError {
        error: Some("invalid_grant".into()),
        description: Some("The provided authorization grant is invalid".into()),
    };
    assert_eq!(
        said.message("x"),
        "The provided authorization grant is invalid"
    );
    assert_eq!(InstanceError::default().message("fallback"), "fallback");
}

#[test]
fn polling_is_bounded_by_default() {
    let p = MediaPolling::default();
    assert!(p.max_polls > 0 && p.max_polls <= 200);
    assert!(p.interval <= Duration::from_secs(10));
}

#[test]
fn registered_credentials_are_usable_only_when_printable_and_complete() {
    let registered = |client_id: &str, client_secret: &str| apps::Registered {
        client_id: client_id.to_owned(),
        client_secret: client_secret.to_owned(),
    };
    assert!(registered("TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM", "s").is_usable());
    for (id, secret) in [
        ("", "s"),
        ("id", ""),
        ("a\u{0}b", "s"),
        ("a\nb", "s"),
        (&"x".repeat(256), "s"),
    ] {
        assert!(!registered(id, secret).is_usable(), "{id:?}");
    }
}
