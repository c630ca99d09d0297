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
fn verification_mail_is_throttled() {
    let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let mut user = sample_user(now);
    let minute = chrono::Duration::minutes(1);
    assert!(user.may_send_verification(now, minute));
    user.email_verification_sent_at = Some(now - chrono::Duration::seconds(30));
    assert!(!user.may_send_verification(now, minute));
    user.email_verification_sent_at = Some(now - minute);
    assert!(user.may_send_verification(now, minute));
    user.email_verified = true;
    assert!(!user.may_send_verification(now, minute));
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
