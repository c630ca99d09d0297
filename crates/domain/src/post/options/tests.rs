use serde_json::json;

use super::*;

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

fn fields(errors: Vec<FieldError>) -> Vec<String> {
    errors.into_iter().map(|e| e.field).collect()
}

#[test]
fn defaults_when_nothing_is_set() {
    let none = Map::new();
    assert_eq!(
        LinkedinOptions::parse(&none).unwrap().visibility,
        LinkedinVisibility::Public
    );
    assert_eq!(
        PinterestOptions::parse(&none).unwrap(),
        PinterestOptions::default()
    );
    let tiktok = TiktokOptions::parse(&none).unwrap();
    assert_eq!(tiktok.privacy_level, TiktokPrivacy::PublicToEveryone);
    assert!(!tiktok.disable_comment && !tiktok.disable_duet && !tiktok.disable_stitch);
    let youtube = YoutubeOptions::parse(&none).unwrap();
    assert_eq!(youtube.privacy_status, YoutubePrivacy::Public);
    assert!(!youtube.made_for_kids);
    assert_eq!(youtube.title, None);
}

#[test]
fn each_platform_reads_its_own_keys() {
    let pin = PinterestOptions::parse(&map(json!({
        "board_id": "549755885175", "title": " Spring ", "link": "https://shop.example/spring",
        "hashtags": ["kept", "as", "given"],
    })))
    .unwrap();
    assert_eq!(pin.board_id.as_deref(), Some("549755885175"));
    assert_eq!(pin.title.as_deref(), Some("Spring"));
    assert_eq!(pin.link.as_deref(), Some("https://shop.example/spring"));

    let tiktok = TiktokOptions::parse(&map(json!({
        "privacy_level": "SELF_ONLY", "disable_duet": true,
    })))
    .unwrap();
    assert_eq!(tiktok.privacy_level, TiktokPrivacy::SelfOnly);
    assert!(tiktok.disable_duet && !tiktok.disable_comment);

    let youtube = YoutubeOptions::parse(&map(json!({
        "title": "Our launch", "privacy_status": "unlisted", "made_for_kids": true,
    })))
    .unwrap();
    assert_eq!(youtube.title.as_deref(), Some("Our launch"));
    assert_eq!(youtube.privacy_status.as_str(), "unlisted");
    assert!(youtube.made_for_kids);

    let linkedin = LinkedinOptions::parse(&map(json!({ "visibility": "CONNECTIONS" }))).unwrap();
    assert_eq!(linkedin.visibility.as_str(), "CONNECTIONS");
}

#[test]
fn wrong_values_name_their_field() {
    let errors = check(
        Provider::Pinterest,
        &map(json!({ "board_id": "abc", "title": "t".repeat(101), "link": "ftp://x" })),
    );
    assert_eq!(
        fields(errors),
        [
            "platform_content.pinterest.board_id",
            "platform_content.pinterest.title",
            "platform_content.pinterest.link",
        ]
    );
    let errors = check(
        Provider::Tiktok,
        &map(json!({ "privacy_level": "PUBLIC", "disable_comment": "yes" })),
    );
    assert_eq!(
        fields(errors),
        [
            "platform_content.tiktok.privacy_level",
            "platform_content.tiktok.disable_comment",
        ]
    );
    let errors = check(
        Provider::Youtube,
        &map(json!({ "title": "a <b>", "privacy_status": "Public", "made_for_kids": 1 })),
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].reason.contains('<'), "{errors:?}");
    let errors = check(Provider::Linkedin, &map(json!({ "visibility": 3 })));
    assert_eq!(fields(errors), ["platform_content.linkedin.visibility"]);
}

#[test]
fn rules_apply_to_the_value_as_given() {
    // What the API's document states: lengths and characters of the value as sent, then
    // trimmed; blank is none.
    let padded = format!(" {} ", "t".repeat(99));
    let errors = check(Provider::Youtube, &map(json!({ "title": padded })));
    assert_eq!(fields(errors), ["platform_content.youtube.title"]);
    let fits = format!(" {}", "t".repeat(99));
    let youtube = YoutubeOptions::parse(&map(json!({ "title": fits }))).unwrap();
    assert_eq!(youtube.title.map(|t| t.len()), Some(99));
    let tab = check(Provider::Youtube, &map(json!({ "title": "\tLaunch" })));
    assert_eq!(fields(tab), ["platform_content.youtube.title"]);
    let blank = YoutubeOptions::parse(&map(json!({ "title": "   " }))).unwrap();
    assert_eq!(blank.title, None);
    let errors = check(
        Provider::Pinterest,
        &map(json!({ "board_id": " 5497 ", "link": " https://shop.example/ " })),
    );
    assert_eq!(
        fields(errors),
        [
            "platform_content.pinterest.board_id",
            "platform_content.pinterest.link"
        ]
    );
    let none = PinterestOptions::parse(&map(json!({ "link": "", "title": null }))).unwrap();
    assert_eq!(none, PinterestOptions::default());
}

#[test]
fn stored_settings_are_read_as_an_earlier_version_accepted_them() {
    // Written before the rules became strict: padded values go out trimmed.
    let pin = PinterestOptions::parse(&map(json!({
        "board_id": " 549755885175 ", "link": " https://shop.example/ ", "title": " Spring ",
    })))
    .unwrap();
    assert_eq!(pin.board_id.as_deref(), Some("549755885175"));
    assert_eq!(pin.link.as_deref(), Some("https://shop.example/"));
    assert_eq!(pin.title.as_deref(), Some("Spring"));
    let padded = format!(" {} ", "t".repeat(100));
    let youtube = YoutubeOptions::parse(&map(json!({ "title": padded }))).unwrap();
    assert_eq!(youtube.title.map(|t| t.len()), Some(100));
    // What was never accepted is still refused.
    assert!(PinterestOptions::parse(&map(json!({ "board_id": "abc" }))).is_err());
}

#[test]
fn other_platforms_keep_any_keys() {
    let anything = map(json!({ "board_id": 1, "privacy_level": [], "title": {} }));
    for provider in [Provider::X, Provider::Facebook, Provider::Bluesky] {
        assert!(check(provider, &anything).is_empty());
    }
}

#[test]
fn a_youtube_title_falls_back_to_the_post_name() {
    let none = YoutubeOptions::default();
    assert_eq!(none.title_or("Launch <day>"), "Launch day");
    assert_eq!(none.title_or(&"n".repeat(120)).chars().count(), 100);
    assert_eq!(none.title_or("<>"), "Untitled");
    let set = YoutubeOptions {
        title: Some("Set".into()),
        ..YoutubeOptions::default()
    };
    assert_eq!(set.title_or("Launch"), "Set");
}
