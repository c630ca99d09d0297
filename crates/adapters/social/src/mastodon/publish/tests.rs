use chrono::Utc;
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::{MediaId, UserId};

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
    for s in [500, 502, 503] {
        assert!(matches!(
            answer_error(status, code(s), &InstanceError::default(), None),
            PublishError::Transient { .. }
        ));
    }
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
        bytes: vec![1, 2, 3],
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
