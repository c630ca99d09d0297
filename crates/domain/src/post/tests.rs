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
            thread: vec![],
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
        serde_json::to_string(&TargetStatus::NeedsReview).unwrap(),
        "\"needs_review\""
    );
    // Rows written before the status had its name still read.
    assert_eq!(
        serde_json::from_str::<TargetStatus>("\"unknown\"").unwrap(),
        TargetStatus::NeedsReview
    );
}

#[test]
fn threads_are_checked_and_split_into_parts() {
    let part = |t: &str| ThreadPart {
        text: t.into(),
        media_files: vec![],
    };
    let input = |thread: Vec<ThreadPart>| PostInput {
        name: "t".into(),
        universal_content: Some("first".into()),
        thread,
        platforms: vec![Target::primary(Provider::X)],
        ..Default::default()
    };
    let ok = PostContent::parse(input(vec![part("second"), part("third")])).unwrap();
    let parts = ok.parts_for(Provider::X);
    assert_eq!(
        parts.iter().map(|p| p.text).collect::<Vec<_>>(),
        ["first", "second", "third"]
    );
    let errors =
        PostContent::parse(input(vec![part("  "), part(&"a".repeat(100_001))])).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["thread.0", "thread.1.text"]);
    let too_many = PostContent::parse(input((0..25).map(|_| part("x")).collect())).unwrap_err();
    assert_eq!(too_many[0].field, "thread");
}

#[test]
fn a_platform_may_have_its_own_thread() {
    let mut content = BTreeMap::new();
    content.insert(
        Provider::Bluesky,
        PlatformContent {
            content: "sky 1".into(),
            thread: vec![ThreadPart {
                text: "sky 2".into(),
                media_files: vec![],
            }],
            extra: Default::default(),
        },
    );
    let c = PostContent::parse(PostInput {
        name: "t".into(),
        content_mode: ContentMode::Specific,
        platform_content: content,
        platforms: vec![
            Target::primary(Provider::Bluesky),
            Target::primary(Provider::X),
        ],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.parts_for(Provider::Bluesky).len(), 2);
    assert_eq!(c.parts_for(Provider::X).len(), 1);
    let stored = serde_json::to_value(&c.platform_content[&Provider::Bluesky]).unwrap();
    assert_eq!(stored["thread"][0]["text"], "sky 2");
}

#[test]
fn parse_checks_the_settings_a_platform_reads() {
    let mut bad = input(vec![Target::primary(Provider::Pinterest)]);
    bad.platform_content.insert(
        Provider::Pinterest,
        PlatformContent {
            extra: serde_json::json!({ "board_id": "not a board" })
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        },
    );
    let fields: Vec<String> = PostContent::parse(bad)
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, ["platform_content.pinterest.board_id"]);
}
