use super::*;
use chrono::TimeZone;
use uuid::Uuid;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

pub(crate) fn input(platforms: Vec<Target>) -> PostInput {
    PostInput {
        name: "Launch".into(),
        universal_content: Some("Hello world".into()),
        platforms,
        ..Default::default()
    }
}

pub(crate) fn draft(platforms: Vec<Target>) -> Post {
    let content = PostContent::parse(input(platforms)).unwrap();
    Post::new_draft(PostId(Uuid::from_u128(1)), UserId(1), content, now())
}

#[test]
fn post_name_rules() {
    assert_eq!(PostName::new("  Launch ").unwrap().as_str(), "Launch");
    assert!(PostName::new(" ").is_err());
    assert!(PostName::new("n".repeat(256)).is_err());
    assert!(PostName::new("n".repeat(255)).is_ok());
}

#[test]
fn parse_reports_every_structural_error() {
    let bad = PostInput {
        name: "".into(),
        universal_metadata: Some(serde_json::json!([1])),
        platforms: vec![
            Target::primary(Provider::X),
            Target::account(Provider::X, ConnectionId(Uuid::nil())),
        ],
        media_files: (0..21).map(|n| MediaId(Uuid::from_u128(n))).collect(),
        ..Default::default()
    };
    let fields: Vec<String> = PostContent::parse(bad)
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        ["name", "universal_metadata", "platforms", "media_files"]
    );
}

#[test]
fn parse_normalises() {
    let m = MediaId(Uuid::from_u128(5));
    let c = PostContent::parse(PostInput {
        name: "n".into(),
        universal_content: Some("  ".into()),
        media_files: vec![m, m],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.universal_content, None);
    assert_eq!(c.media_files, vec![m]);
    assert_eq!(c.universal_metadata, serde_json::json!({}));
}

#[test]
fn text_depends_on_the_mode() {
    let mut post = draft(vec![Target::primary(Provider::X)]);
    assert_eq!(post.text_for(Provider::X), Some("Hello world"));
    post.content_mode = ContentMode::Specific;
    assert_eq!(post.text_for(Provider::X), None);
    post.platform_content.insert(
        Provider::X,
        PlatformContent {
            content: "Hi X".into(),
            extra: Default::default(),
        },
    );
    assert_eq!(post.text_for(Provider::X), Some("Hi X"));
}

#[test]
fn platform_content_keeps_extra_fields() {
    let json =
        serde_json::json!({"twitter": {"content": "hi", "hashtags": ["a"], "max_length": 280}});
    let map: BTreeMap<Provider, PlatformContent> = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        map[&Provider::X].extra["hashtags"],
        serde_json::json!(["a"])
    );
    assert_eq!(serde_json::to_value(&map).unwrap(), json);
}

#[test]
fn statuses_round_trip() {
    for s in [
        "draft",
        "scheduled",
        "publishing",
        "published",
        "partially_published",
        "failed",
    ] {
        assert_eq!(s.parse::<PostStatus>().unwrap().as_str(), s);
    }
    assert!("deleted".parse::<PostStatus>().is_err());
    assert_eq!(
        serde_json::to_string(&TargetStatus::Unknown).unwrap(),
        "\"unknown\""
    );
}
