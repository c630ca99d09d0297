use chrono::TimeZone;
use multivio_domain::connection::{
    AccountType, Connection, ConnectionStatus, Credentials, ProviderAccountId,
};
use multivio_domain::media::MediaFile;
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::media::MediaBytes;
use multivio_ports::platform::{PostRef, ReplyTo};
use serde_json::{Value, json};

use super::*;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, h, m, s).unwrap()
}

fn request(text: &str) -> PublishRequest {
    let now = at(0, 0, 0);
    PublishRequest {
        post_id: PostId::from_uuid(uuid::Uuid::nil()),
        target: Target::primary(Provider::X),
        connection: Connection {
            id: ConnectionId::from_uuid(uuid::Uuid::nil()),
            user_id: UserId(1),
            provider: Provider::X,
            provider_account_id: ProviderAccountId::new("42").unwrap(),
            account_label: None,
            account_type: AccountType::Personal,
            is_primary: true,
            status: ConnectionStatus::Active,
            metadata: json!({}),
            expires_at: None,
            created_at: now,
            updated_at: now,
        },
        credentials: Credentials {
            access_token: Secret::new("token"),
            refresh_token: None,
            expires_at: None,
            oauth1: None,
        },
        text: text.into(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: "k".into(),
        name: "Post".into(),
        options: Default::default(),
    }
}

/// A media row as the worker passes it to a lookup: the file's metadata, no bytes.
fn row() -> Attachment {
    let now = at(0, 0, 0);
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::nil()),
            user_id: UserId(1),
            filename: "f.png".into(),
            original_filename: None,
            file_type: "image/png".into(),
            file_size: 1000,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: None,
            width: None,
            height: None,
            duration_secs: None,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes: MediaBytes::none(),
    }
}

fn post(value: Value) -> TimelinePost {
    serde_json::from_value(value).unwrap()
}

const SENT: &str = "2026-03-04T12:00:00Z";

fn sent_at() -> DateTime<Utc> {
    at(12, 0, 0)
}

#[test]
fn a_post_outside_the_window_or_undated_is_not_the_send() {
    let req = request("hello");
    let dated = |created_at: &str| {
        post(json!({ "id": "1", "text": "hello", "created_at": created_at }))
            .is_sent(&req, sent_at())
    };
    assert!(dated(SENT));
    assert!(dated("2026-03-04T11:58:00.000Z"));
    assert!(dated("2026-03-04T12:05:00.000Z"));
    assert!(!dated("2026-03-04T11:57:59.999Z"));
    // A send cannot create a post long after it began.
    assert!(!dated("2026-03-04T12:05:00.001Z"));
    assert!(!dated("2026-03-04T12:20:00.000Z"));
    // Undated: nothing says it is the send's.
    assert!(!post(json!({ "id": "1", "text": "hello" })).is_sent(&req, sent_at()));
}

#[test]
fn links_are_compared_by_where_x_says_they_lead() {
    let shown = |target: &str| {
        post(json!({
            "id": "1",
            "text": "New episode: https://t.co/AbCdEf1234",
            "created_at": SENT,
            "entities": { "urls": [{
                "start": 13, "end": 36,
                "url": "https://t.co/AbCdEf1234",
                "expanded_url": target,
                "display_url": "pod.example/ep/2",
            }]},
        }))
    };
    let req = request("New episode: https://pod.example/ep/2");
    assert!(shown("https://pod.example/ep/2").is_sent(&req, sent_at()));
    assert!(!shown("https://pod.example/ep/1").is_sent(&req, sent_at()));
    // No entities: the t.co address is all there is, and it is not ours.
    let bare = post(json!({
        "id": "1", "text": "New episode: https://t.co/AbCdEf1234", "created_at": SENT,
    }));
    assert!(!bare.is_sent(&req, sent_at()));
}

#[test]
fn link_only_posts_are_told_apart() {
    let link_only = |target: &str| {
        post(json!({
            "id": "1", "text": "https://t.co/zzzzzzzzzz", "created_at": SENT,
            "entities": { "urls": [{ "start": 0, "end": 23, "url": "https://t.co/zzzzzzzzzz",
                "expanded_url": target, "display_url": "x" }]},
        }))
    };
    let req = request("https://example.com/a");
    assert!(link_only("https://example.com/a").is_sent(&req, sent_at()));
    assert!(!link_only("https://example.com/b").is_sent(&req, sent_at()));
}

#[test]
fn the_media_link_is_x_s_and_the_media_are_counted_from_the_rows() {
    let shown = post(json!({
        "id": "1",
        "text": "an image https://t.co/mmmmmmmmmm",
        "created_at": SENT,
        "attachments": { "media_keys": ["3_1", "3_2"] },
        "entities": { "urls": [{
            "start": 9, "end": 32, "url": "https://t.co/mmmmmmmmmm",
            "expanded_url": "https://x.com/someone/status/1/photo/1",
            "display_url": "pic.x.com/mmmmmmmmmm", "media_key": "3_1",
        }]},
    }));
    let mut req = request("an image");
    assert!(!shown.is_sent(&req, sent_at()), "no media in the request");
    req.media = vec![row()];
    assert!(!shown.is_sent(&req, sent_at()), "one of two");
    req.media = vec![row(), row()];
    assert!(req.media.iter().all(|m| m.bytes.is_empty()));
    assert!(shown.is_sent(&req, sent_at()));
}

#[test]
fn a_long_post_is_compared_by_its_whole_text() {
    let long = format!("{} the end https://example.com/long", "word ".repeat(80));
    let shown = json!({
        "id": "1",
        "text": format!("{}…", &long[..270]),
        "created_at": SENT,
        "note_tweet": {
            "text": long.replace("https://example.com/long", "https://t.co/nnnnnnnnnn"),
            "entities": { "urls": [{ "start": 409, "end": 432, "url": "https://t.co/nnnnnnnnnn",
                "expanded_url": "https://example.com/long", "display_url": "example.com/long" }]},
        },
    });
    assert!(post(shown.clone()).is_sent(&request(&long), sent_at()));
    assert!(!post(shown.clone()).is_sent(&request(&long.replace("the end", "an end")), sent_at()));
    // Without the note, only the truncated text: not the same.
    let mut truncated = shown;
    truncated.as_object_mut().unwrap().remove("note_tweet");
    assert!(!post(truncated).is_sent(&request(&long), sent_at()));
}

#[test]
fn a_reply_matches_only_where_the_part_replies() {
    let shown = post(json!({
        "id": "2", "text": "2/2", "created_at": SENT,
        "referenced_tweets": [{ "type": "replied_to", "id": "1" }],
    }));
    let mut part = request("2/2");
    assert!(!shown.is_sent(&part, sent_at()));
    let parent = PostRef {
        id: "1".into(),
        reference: None,
    };
    part.reply_to = Some(ReplyTo {
        root: parent.clone(),
        parent,
    });
    assert!(shown.is_sent(&part, sent_at()));
}

#[test]
fn the_timeline_window_is_whole_seconds_never_too_close_to_now() {
    let sent = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap() + Duration::milliseconds(400);
    // Long after: both ends, in whole seconds around the window.
    let (start, end) = timeline_window(sent, at(13, 0, 0));
    assert_eq!(start, at(11, 58, 0));
    assert_eq!(end, Some(at(12, 5, 1)));
    // Right after the send: no end_time (it would be in X's last 10 seconds, or later).
    let (start, end) = timeline_window(sent, at(12, 0, 30));
    assert_eq!((start, end), (at(11, 58, 0), None));
    // 10 seconds past the window's end (rounded up): the end is given.
    let (_, end) = timeline_window(sent, at(12, 5, 11));
    assert_eq!(end, Some(at(12, 5, 1)));
    let (_, end) = timeline_window(sent, at(12, 5, 10));
    assert_eq!(end, None);
    // A send dated ahead of this clock: the start is not too close to now either.
    let (start, end) = timeline_window(at(12, 10, 0), at(12, 0, 0));
    assert_eq!((start, end), (at(11, 59, 50), None));
}
