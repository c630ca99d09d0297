use super::*;
use crate::post::{ContentMode, PlatformContent, PostInput, Target};
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn content(mode: ContentMode, universal: &str, platforms: &[Provider]) -> PostContent {
    PostContent::parse(PostInput {
        name: "p".into(),
        content_mode: mode,
        universal_content: Some(universal.into()),
        platforms: platforms.iter().map(|p| Target::primary(*p)).collect(),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn universal_text_is_checked_against_every_platform() {
    let text = "a".repeat(300);
    let post = content(
        ContentMode::Universal,
        &text,
        &[Provider::X, Provider::Linkedin],
    );
    let report = validate_post(&post, &[], &ValidationOptions::default(), None, now());
    assert!(!report.valid);
    assert!(!report.platforms[&Provider::X].valid, "300 > 280 on X");
    assert!(
        report.platforms[&Provider::Linkedin].valid,
        "300 ≤ 3000 on LinkedIn"
    );
    assert_eq!(report.platforms[&Provider::X].limit, 280);
    let fields: Vec<String> = report
        .field_errors(&post.platforms)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, ["platforms.0"]);
}

#[test]
fn specific_text_is_checked_per_platform() {
    let mut post = content(
        ContentMode::Specific,
        "",
        &[Provider::X, Provider::Linkedin],
    );
    post.platform_content.insert(
        Provider::X,
        PlatformContent {
            content: "short for X".into(),
            thread: vec![],
            extra: Default::default(),
        },
    );
    post.platform_content.insert(
        Provider::Linkedin,
        PlatformContent {
            content: "b".repeat(3001),
            thread: vec![],
            extra: Default::default(),
        },
    );
    let report = validate_post(&post, &[], &ValidationOptions::default(), None, now());
    assert!(report.platforms[&Provider::X].valid);
    assert!(!report.platforms[&Provider::Linkedin].valid);
    assert!(!report.valid);
}

#[test]
fn x_verified_accounts_get_long_posts() {
    let post = content(ContentMode::Universal, &"a".repeat(1000), &[Provider::X]);
    let opts = ValidationOptions {
        x_verified: true,
        ..ValidationOptions::default()
    };
    assert!(validate_post(&post, &[], &opts, None, now()).valid);
}

#[test]
fn schedule_date_must_be_in_the_future_and_platforms_selected() {
    let post = content(ContentMode::Universal, "hello", &[Provider::Bluesky]);
    let opts = ValidationOptions::default();
    assert!(validate_post(&post, &[], &opts, Some(now() + Duration::minutes(1)), now()).valid);
    let past = validate_post(&post, &[], &opts, Some(now()), now());
    assert!(!past.valid);
    assert_eq!(past.errors[0].code, PostIssueCode::ScheduleInPast);
    let none = validate_post(
        &content(ContentMode::Universal, "hi", &[]),
        &[],
        &opts,
        None,
        now(),
    );
    assert_eq!(none.errors[0].code, PostIssueCode::NoPlatforms);
    assert!(!none.valid);
}

#[test]
fn media_rules_apply_per_platform() {
    let post = content(
        ContentMode::Universal,
        "caption",
        &[Provider::Instagram, Provider::Facebook],
    );
    let report = validate_post(&post, &[], &ValidationOptions::default(), None, now());
    assert!(
        !report.platforms[&Provider::Instagram].valid,
        "Instagram requires media"
    );
    let image = MediaInfo {
        mime_type: "image/jpeg".into(),
        size_bytes: 200_000,
        width: Some(1080),
        height: Some(1080),
        duration_secs: None,
        codec: None,
    };
    let report = validate_post(&post, &[image], &ValidationOptions::default(), None, now());
    assert!(report.valid, "{report:?}");
}

fn thread(universal: &str, parts: &[&str], platforms: &[Provider]) -> PostContent {
    PostContent::parse(PostInput {
        name: "t".into(),
        universal_content: Some(universal.into()),
        thread: parts
            .iter()
            .map(|t| crate::post::ThreadPart {
                text: (*t).into(),
                media_files: vec![],
            })
            .collect(),
        platforms: platforms.iter().map(|p| Target::primary(*p)).collect(),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn every_part_of_a_thread_is_counted_as_its_platform_counts() {
    let long = "a".repeat(281);
    let post = thread("1/3", &["2/3", &long], &[Provider::X, Provider::Mastodon]);
    let report = validate_post(&post, &[], &ValidationOptions::default(), None, now());
    let x = &report.platforms[&Provider::X];
    assert_eq!(x.parts.len(), 2);
    assert!(x.parts[0].valid);
    assert!(!x.parts[1].valid, "281 > 280 on X");
    assert!(!x.valid, "a thread is valid only if every part is");
    assert!(
        report.platforms[&Provider::Mastodon].valid,
        "281 ≤ 500 on Mastodon"
    );
    let fields: Vec<String> = report
        .field_errors(&post.platforms)
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.reason))
        .collect();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert!(fields[0].starts_with("platforms.0: part 3:"), "{fields:?}");
}

#[test]
fn platforms_without_threads_refuse_one() {
    let post = thread("1/2", &["2/2"], &[Provider::Linkedin, Provider::Bluesky]);
    let report = validate_post(&post, &[], &ValidationOptions::default(), None, now());
    let linkedin = &report.platforms[&Provider::Linkedin];
    assert!(!linkedin.valid);
    assert_eq!(
        linkedin.errors[0].code,
        ContentIssueCode::ThreadsNotSupported
    );
    assert!(report.platforms[&Provider::Bluesky].valid);
}

#[test]
fn a_parts_media_are_checked_with_that_part() {
    use crate::MediaId;
    let video = MediaId(uuid::Uuid::from_u128(9));
    let post = PostContent::parse(PostInput {
        name: "t".into(),
        universal_content: Some("first".into()),
        thread: vec![crate::post::ThreadPart {
            text: "second, with a video".into(),
            media_files: vec![video],
        }],
        platforms: vec![Target::primary(Provider::Bluesky)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(post.all_media(), vec![video]);
    let too_big = MediaInfo {
        mime_type: "video/mp4".into(),
        size_bytes: 500 * 1024 * 1024,
        width: Some(1280),
        height: Some(720),
        duration_secs: Some(30.0),
        codec: None,
    };
    let report = validate_post(
        &post,
        &[too_big],
        &ValidationOptions::default(),
        None,
        now(),
    );
    let bsky = &report.platforms[&Provider::Bluesky];
    assert!(bsky.errors.is_empty(), "the first part has no media");
    assert!(!bsky.parts[0].valid, "{bsky:?}");
}
