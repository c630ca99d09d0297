use super::*;
use chrono::TimeZone;

#[test]
fn username_rules() {
    assert_eq!(Username::new("Ada_L").unwrap().as_str(), "ada_l");
    assert!(Username::new("ab").is_err());
    assert!(Username::new("a".repeat(31)).is_err());
    assert!(Username::new("_ada").is_err());
    assert!(Username::new("ada lovelace").is_err());
    assert!(Username::new("adà").is_err());
    assert!(Username::new("ada.l-9").is_ok());
}

#[test]
fn auth_provider_maps_password_to_email() {
    assert_eq!(
        AuthProvider::from_firebase("password").unwrap().as_str(),
        "email"
    );
    assert_eq!(
        AuthProvider::from_firebase("google.com").unwrap().as_str(),
        "google.com"
    );
    assert!(AuthProvider::new("x".repeat(51)).is_err());
}

#[test]
fn profile_update_collects_every_error() {
    let input = ProfileInput {
        username: Some(Some("!!".into())),
        display_name: Some(Some("d".repeat(101))),
        avatar_url: Some(Some("notaurl".into())),
        bio: Some(Some("line one\nline two".into())),
        ..Default::default()
    };
    let errors = ProfileUpdate::parse(input).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["username", "display_name", "avatar_url"]);
}

#[test]
fn profile_update_sets_clears_and_keeps() {
    let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let mut user = sample_user(now);
    user.profile.bio = Some("old bio".into());
    user.profile.full_name = Some("Ada".into());
    let update = ProfileUpdate::parse(ProfileInput {
        username: Some(Some("Ada".into())),
        bio: Some(Some("   ".into())),
        ..Default::default()
    })
    .unwrap();
    user.apply_profile(&update, now);
    assert_eq!(user.profile.username, Some(Username::new("ada").unwrap()));
    assert_eq!(user.profile.bio, None);
    assert_eq!(user.profile.full_name.as_deref(), Some("Ada"));
    assert!(
        ProfileUpdate::parse(ProfileInput::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn verification_mail_is_for_an_unverified_address_that_can_receive_it() {
    let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let mut user = sample_user(now);
    assert_eq!(user.verification_refused(), None);
    user.email = Email::new("uid-1@no-email.invalid").unwrap();
    assert_eq!(
        user.verification_refused(),
        Some("the account has no email address to verify")
    );
    user.email_verified = true;
    assert_eq!(
        user.verification_refused(),
        Some("email is already verified")
    );
}

#[test]
fn new_user_drops_unusable_optional_claims() {
    let identity = VerifiedIdentity {
        firebase_uid: FirebaseUid::new("uid").unwrap(),
        email: Email::new("a@b.co").unwrap(),
        email_verified: true,
        auth_provider: AuthProvider::email(),
        name: Some("  Ada Lovelace ".into()),
        picture: Some("data:image/png;base64,xx".into()),
    };
    let new = NewUser::from_identity(&identity);
    assert_eq!(new.full_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(new.avatar_url, None);
}

pub(crate) fn sample_user(now: DateTime<Utc>) -> User {
    User {
        id: UserId(1),
        firebase_uid: FirebaseUid::new("uid-1").unwrap(),
        email: Email::new("ada@example.com").unwrap(),
        email_verified: false,
        auth_provider: AuthProvider::email(),
        profile: Profile::default(),
        is_active: true,
        is_verified: false,
        subscription: Subscription::free(),
        email_verification_sent_at: None,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn verification_mail_is_limited_to_five_a_day() {
    let now = Utc.with_ymd_and_hms(2025, 1, 2, 12, 0, 0).unwrap();
    let policy = ResendPolicy::standard();
    let hours = |h: i64| now - chrono::Duration::hours(h);
    // Four within the day: a fifth may go, and all five are kept.
    let four = VerificationSends::new(vec![hours(3), hours(20), hours(1), hours(10)]);
    let five = four.send_at(now, None, &policy).unwrap();
    assert_eq!(
        five.times(),
        [hours(20), hours(10), hours(3), hours(1), now]
    );
    // A sixth waits until the oldest (20 h ago) leaves the day.
    assert_eq!(
        five.send_at(now + chrono::Duration::hours(1), None, &policy),
        Err(chrono::Duration::hours(3))
    );
    // Once it has, one may go; sends older than a day are dropped.
    let later = now + chrono::Duration::hours(4);
    let next = five.send_at(later, None, &policy).unwrap();
    assert_eq!(next.times(), [hours(10), hours(3), hours(1), now, later]);
}

#[test]
fn verification_mail_is_limited_to_one_a_minute() {
    let now = Utc.with_ymd_and_hms(2025, 1, 2, 12, 0, 0).unwrap();
    let policy = ResendPolicy::standard();
    let sends = VerificationSends::new(vec![now - chrono::Duration::seconds(20)]);
    assert_eq!(
        sends.send_at(now, None, &policy),
        Err(chrono::Duration::seconds(40))
    );
    // The last send recorded before sends were counted counts too.
    assert_eq!(
        VerificationSends::default().send_at(
            now,
            Some(now - chrono::Duration::seconds(50)),
            &policy
        ),
        Err(chrono::Duration::seconds(10))
    );
    assert_eq!(
        VerificationSends::default()
            .send_at(now, None, &policy)
            .unwrap()
            .times(),
        [now]
    );
}

#[test]
fn when_both_limits_apply_the_longer_wait_is_reported() {
    let now = Utc.with_ymd_and_hms(2025, 1, 2, 12, 0, 0).unwrap();
    let policy = ResendPolicy {
        min_interval: chrono::Duration::hours(2),
        max_per_window: 2,
        window: chrono::Duration::hours(24),
    };
    let sends = VerificationSends::new(vec![
        now - chrono::Duration::hours(23),
        now - chrono::Duration::hours(1),
    ]);
    // Minute rule: 1 h more; daily rule: 1 h more too. Then a longer interval wins.
    assert_eq!(
        sends.send_at(now, None, &policy),
        Err(chrono::Duration::hours(1))
    );
    let strict = ResendPolicy {
        min_interval: chrono::Duration::hours(5),
        ..policy
    };
    assert_eq!(
        sends.send_at(now, None, &strict),
        Err(chrono::Duration::hours(4))
    );
    // More sends stored than allowed (a lowered limit): wait until enough have left.
    let many = VerificationSends::new((1..=4).map(|h| now - chrono::Duration::hours(h)).collect());
    assert_eq!(
        many.send_at(now, None, &policy),
        Err(chrono::Duration::hours(22))
    );
    let none = ResendPolicy {
        max_per_window: 0,
        ..policy
    };
    assert!(
        VerificationSends::default()
            .send_at(now, None, &none)
            .is_err()
    );
}
