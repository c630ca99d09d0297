use super::*;
use uuid::Uuid;

fn cid(n: u128) -> ConnectionId {
    ConnectionId(Uuid::from_u128(n))
}

#[test]
fn serialises_names_and_objects() {
    let t = Targets::new(vec![
        Target::primary(Provider::X),
        Target::account(Provider::Mastodon, cid(1)),
    ])
    .unwrap();
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(
        json,
        serde_json::json!(["twitter", {"platform": "mastodon",
            "connection_id": "00000000-0000-0000-0000-000000000001"}])
    );
    let back: Targets = serde_json::from_value(json).unwrap();
    assert_eq!(back, t);
}

#[test]
fn reads_the_seed_form_and_the_x_alias() {
    let t: Targets = serde_json::from_str(r#"["x", "linkedin", {"platform": "bluesky"}]"#).unwrap();
    assert_eq!(
        t.as_slice(),
        &[
            Target::primary(Provider::X),
            Target::primary(Provider::Linkedin),
            Target::primary(Provider::Bluesky)
        ]
    );
    assert!(serde_json::from_str::<Targets>(r#"["myspace"]"#).is_err());
}

#[test]
fn duplicates_are_dropped_and_mixing_is_rejected() {
    let t = Targets::new(vec![
        Target::primary(Provider::X),
        Target::primary(Provider::X),
        Target::account(Provider::Threads, cid(1)),
        Target::account(Provider::Threads, cid(1)),
    ])
    .unwrap();
    assert_eq!(t.len(), 2);
    let err = Targets::new(vec![
        Target::primary(Provider::X),
        Target::account(Provider::X, cid(2)),
    ])
    .unwrap_err();
    assert_eq!(err.field, "platforms");
    assert!(serde_json::from_str::<Targets>(
        r#"["twitter", {"platform": "twitter", "connection_id": "00000000-0000-0000-0000-000000000002"}]"#
    )
    .is_err());
}

#[test]
fn result_keys_use_the_platform_unless_it_has_several_accounts() {
    let t = Targets::new(vec![
        Target::primary(Provider::X),
        Target::account(Provider::Mastodon, cid(1)),
        Target::account(Provider::Mastodon, cid(2)),
        Target::account(Provider::Bluesky, cid(3)),
    ])
    .unwrap();
    let keys: Vec<String> = t.keyed().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "twitter",
            &cid(1).to_string(),
            &cid(2).to_string(),
            "bluesky"
        ]
    );
    assert_eq!(
        t.by_key("bluesky"),
        Some(Target::account(Provider::Bluesky, cid(3)))
    );
    assert_eq!(t.by_key("facebook"), None);
    assert_eq!(t.providers().len(), 3);
}
