use super::*;
use chrono::TimeZone;

#[test]
fn value_rules() {
    assert!(ProviderAccountId::new("").is_err());
    assert!(ProviderAccountId::new("x".repeat(256)).is_err());
    assert_eq!(AccountLabel::new("  @ada ").unwrap().as_str(), "@ada");
    assert_eq!("page".parse::<AccountType>().unwrap(), AccountType::Page);
    assert!("group".parse::<AccountType>().is_err());
    assert_eq!(
        "needs_reauth".parse::<ConnectionStatus>().unwrap(),
        ConnectionStatus::NeedsReauth
    );
    assert_eq!(
        serde_json::to_string(&ConnectionStatus::NeedsReauth).unwrap(),
        "\"needs_reauth\""
    );
}

#[test]
fn refresh_is_due_near_expiry_only_with_a_refresh_token() {
    let now = Utc.with_ymd_and_hms(2025, 5, 1, 12, 0, 0).unwrap();
    let mut c = Credentials {
        access_token: Secret::new("a"),
        refresh_token: Some(Secret::new("r")),
        expires_at: Some(now + Duration::minutes(10)),
        oauth1: None,
    };
    assert!(!c.needs_refresh(now));
    c.expires_at = Some(now + Duration::minutes(4));
    assert!(c.needs_refresh(now));
    c.expires_at = Some(now - Duration::minutes(1));
    assert!(c.needs_refresh(now));
    c.refresh_token = None;
    assert!(!c.needs_refresh(now));
    c.expires_at = None;
    assert!(!c.expires_within(now, Duration::hours(1)));
}

#[test]
fn refresh_keeps_the_old_refresh_token_when_none_is_returned() {
    let old = Credentials {
        access_token: Secret::new("a1"),
        refresh_token: Some(Secret::new("r1")),
        expires_at: None,
        oauth1: None,
    };
    let kept = old.refreshed(TokenGrant {
        access_token: Secret::new("a2"),
        refresh_token: None,
        expires_at: None,
    });
    assert_eq!(kept.refresh_token, Some(Secret::new("r1")));
    assert_eq!(kept.access_token, Secret::new("a2"));
    let rotated = old.refreshed(TokenGrant {
        access_token: Secret::new("a3"),
        refresh_token: Some(Secret::new("r3")),
        expires_at: None,
    });
    assert_eq!(rotated.refresh_token, Some(Secret::new("r3")));
}
