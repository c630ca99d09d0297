use chrono::{TimeZone, Utc};
use multivio_domain::connection::{
    AccountType, Connection, ConnectionStatus, Credentials, ProviderAccountId,
};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, UserId};
use multivio_ports::media::MediaBytes;
use multivio_ports::platform::{PostRef, ReplyTo};
use serde_json::{Value, json};

use super::*;

fn said(text: &str) -> InstanceError {
    InstanceError {
        error: Some(text.into()),
        description: None,
    }
}

#[test]
fn answers_map_to_what_the_worker_does() {
    let status = Step::Status { reply: false };
    let code = |s: u16| StatusCode::from_u16(s).unwrap();
    assert!(matches!(
        answer_error(
            status,
            code(401),
            &said("The access token is invalid"),
            None
        ),
        PublishError::Unauthorized { .. }
    ));
    assert!(matches!(
        answer_error(status, code(429), &said("Too many requests"), Some(chrono::Duration::seconds(60))),
        PublishError::RateLimited { retry_after: Some(d) } if d.num_seconds() == 60
    ));
    match answer_error(
        status,
        code(422),
        &said("Validation failed: Text character limit of 500 exceeded"),
        None,
    ) {
        PublishError::Rejected { code, reason } => {
            assert_eq!(code, "mastodon_rejected");
            assert_eq!(
                reason,
                "The Mastodon instance refused the post: Validation failed: Text character limit of 500 exceeded"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        answer_error(Step::Status { reply: true }, code(404), &said("The post you are trying to reply to does not appear to exist."), None),
        PublishError::Rejected { code, .. } if code == "mastodon_reply_target_missing"
    ));
    assert!(matches!(
        answer_error(Step::Upload, code(422), &said("File type of uploaded media could not be verified"), None),
        PublishError::Rejected { code, .. } if code == "mastodon_media_rejected"
    ));
    // A server error answering the status may come after it was stored; answering a file,
    // nothing was posted.
    for s in [500, 502, 503] {
        assert!(matches!(
            answer_error(status, code(s), &InstanceError::default(), None),
            PublishError::Unknown { .. }
        ));
        assert!(matches!(
            answer_error(Step::Upload, code(s), &InstanceError::default(), None),
            PublishError::Transient { .. }
        ));
    }
    assert!(matches!(
        answer_error(status, code(408), &InstanceError::default(), None),
        PublishError::Transient { .. }
    ));
}

fn attachment(original: Option<&str>, stored: &str) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::nil()),
            user_id: UserId(1),
            filename: stored.into(),
            original_filename: original.map(str::to_owned),
            file_type: "image/png".into(),
            file_size: 3,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: Some(AltText::new("alt").unwrap()),
            width: None,
            height: None,
            duration_secs: None,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes: MediaBytes::in_memory(vec![1, 2, 3]),
    }
}

#[test]
fn file_names_are_safe() {
    assert_eq!(
        file_name(&attachment(Some("cat.png"), "k/1.png")),
        "cat.png"
    );
    assert_eq!(
        file_name(&attachment(Some("C:\\x\\d\"og.png"), "k/1.png")),
        "dog.png"
    );
    assert_eq!(file_name(&attachment(Some("…"), "keys/abc.png")), "abc.png");
    assert_eq!(file_name(&attachment(None, "..")), "upload");
}

#[test]
fn the_link_prefers_url_then_uri() {
    let s = |url: Option<&str>, uri: Option<&str>| Status {
        id: "1".into(),
        url: url.map(str::to_owned),
        uri: uri.map(str::to_owned),
    };
    assert_eq!(
        link(&s(
            Some("https://m.example/@a/1"),
            Some("https://m.example/users/a/statuses/1")
        ))
        .as_deref(),
        Some("https://m.example/@a/1")
    );
    assert_eq!(
        link(&s(None, Some("https://m.example/users/a/statuses/1"))).as_deref(),
        Some("https://m.example/users/a/statuses/1")
    );
    assert_eq!(link(&s(Some("javascript:alert(1)"), None)), None);
}

fn request(text: &str) -> PublishRequest {
    let now = Utc::now();
    PublishRequest {
        post_id: PostId::from_uuid(uuid::Uuid::nil()),
        target: Target::primary(Provider::Mastodon),
        connection: Connection {
            id: ConnectionId::from_uuid(uuid::Uuid::nil()),
            user_id: UserId(1),
            provider: Provider::Mastodon,
            provider_account_id: ProviderAccountId::new("7").unwrap(),
            account_label: None,
            account_type: AccountType::Personal,
            is_primary: true,
            status: ConnectionStatus::Active,
            metadata: json!({ "server_url": "https://m.example", "account_id": "7" }),
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

fn listed(value: Value) -> Listed {
    serde_json::from_value(value).unwrap()
}

fn sent_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

#[test]
fn a_status_outside_the_window_or_undated_is_not_the_send() {
    let req = request("hello");
    let dated = |created_at: &str| {
        listed(json!({ "id": "1", "content": "<p>hello</p>", "created_at": created_at }))
            .is_sent(&req, sent_at())
    };
    assert!(dated("2026-03-04T12:00:00.000Z"));
    assert!(dated("2026-03-04T11:58:00.000Z"));
    assert!(dated("2026-03-04T12:05:00.000Z"));
    assert!(!dated("2026-03-04T11:57:59.000Z"));
    assert!(!dated("2026-03-04T12:05:01.000Z"));
    assert!(!dated("2026-03-04T12:20:00.000Z"));
    assert!(!listed(json!({ "id": "1", "content": "<p>hello</p>" })).is_sent(&req, sent_at()));
}

#[test]
fn links_mentions_and_a_content_warning() {
    let html = |href: &str| {
        format!(
            "<p>New episode: <a href=\"{href}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\"><span class=\"invisible\">https://</span><span class=\"\">pod.example/ep/2</span><span class=\"invisible\"></span></a> with <span class=\"h-card\"><a href=\"https://m.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> <a href=\"https://m.example/tags/pod\" class=\"mention hashtag\" rel=\"tag\">#<span>pod</span></a></p>"
        )
    };
    let status = |href: &str, spoiler: &str| {
        listed(json!({
            "id": "1", "created_at": "2026-03-04T12:00:01.000Z",
            "content": html(href), "spoiler_text": spoiler,
        }))
    };
    let req = request("New episode: https://pod.example/ep/2 with @bob #pod");
    assert!(status("https://pod.example/ep/2", "").is_sent(&req, sent_at()));
    assert!(!status("https://pod.example/ep/1", "").is_sent(&req, sent_at()));
    assert!(!status("https://pod.example/ep/2", "spoilers").is_sent(&req, sent_at()));
    assert!(
        !status("https://pod.example/ep/2", "")
            .is_sent(&request("New episode: with @bob #pod"), sent_at())
    );
}

#[test]
fn empty_statuses_match_only_on_their_media_counted_from_the_rows() {
    let empty = |media: usize| {
        listed(json!({
            "id": "1", "created_at": "2026-03-04T12:00:00.000Z", "content": "",
            "media_attachments": vec![json!({ "id": "m", "type": "image" }); media],
        }))
    };
    let mut req = request("");
    assert!(!empty(0).is_sent(&req, sent_at()), "nothing to tell it by");
    let mut row = attachment(None, "k/1.png");
    row.bytes = MediaBytes::none();
    req.media = vec![row.clone(), row];
    assert!(!empty(1).is_sent(&req, sent_at()));
    assert!(empty(2).is_sent(&req, sent_at()));
}

#[test]
fn a_reply_matches_only_where_the_part_replies() {
    let status = listed(json!({
        "id": "2", "created_at": "2026-03-04T12:00:00.000Z", "content": "<p>2/2</p>",
        "in_reply_to_id": "1",
    }));
    let mut part = request("2/2");
    assert!(!status.is_sent(&part, sent_at()));
    let parent = PostRef {
        id: "1".into(),
        reference: None,
    };
    part.reply_to = Some(ReplyTo {
        root: parent.clone(),
        parent,
    });
    assert!(status.is_sent(&part, sent_at()));
}
