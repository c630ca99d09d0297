use super::*;

#[test]
fn firebase_uid_rules() {
    assert!(FirebaseUid::new("abc123").is_ok());
    assert!(FirebaseUid::new("").is_err());
    assert!(FirebaseUid::new("   ").is_err());
    assert!(FirebaseUid::new("a".repeat(128)).is_ok());
    assert!(FirebaseUid::new("a".repeat(129)).is_err());
    assert!(FirebaseUid::new("ab\ncd").is_err());
    assert!(serde_json::from_str::<FirebaseUid>("\"\"").is_err());
}

#[test]
fn uuid_ids_round_trip() {
    let id = PostId(Uuid::from_u128(7));
    let text = id.to_string();
    assert_eq!(text.parse::<PostId>().unwrap(), id);
    assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
}

#[test]
fn tenant_owns_only_its_rows() {
    let t = Tenant::new(UserId(1), FirebaseUid::new("u1").unwrap());
    assert!(t.owns(UserId(1)));
    assert!(!t.owns(UserId(2)));
}
