use super::*;

fn error(status: u16, name: &str) -> XrpcError {
    XrpcError {
        status,
        error: name.to_owned(),
        message: "Invalid app.bsky.feed.post record: something".to_owned(),
        retry_after: Some(chrono::Duration::seconds(30)),
    }
}

#[test]
fn failures_of_a_publication_tell_the_worker_what_to_do() {
    assert!(matches!(
        publish_error(error(400, "ExpiredToken"), "the post"),
        PublishError::Unauthorized { .. }
    ));
    assert!(matches!(
        publish_error(error(400, "InvalidToken"), "the post"),
        PublishError::Unauthorized { .. }
    ));
    assert!(matches!(
        publish_error(error(401, "AuthMissing"), "the post"),
        PublishError::Unauthorized { .. }
    ));
    assert_eq!(
        publish_error(error(429, "RateLimitExceeded"), "the post"),
        PublishError::RateLimited {
            retry_after: Some(chrono::Duration::seconds(30))
        }
    );
    assert!(matches!(
        publish_error(error(503, "HTTP 503"), "the post"),
        PublishError::Transient { .. }
    ));
    assert_eq!(
        publish_error(error(400, "InvalidRequest"), "the post"),
        PublishError::Rejected {
            code: "InvalidRequest".to_owned(),
            reason: "Bluesky refused the post: Invalid app.bsky.feed.post record: something"
                .to_owned()
        }
    );
    assert!(matches!(
        publish_error(error(413, "PayloadTooLarge"), "the image"),
        PublishError::Rejected { code, reason }
            if code == "PayloadTooLarge" && reason == "Bluesky refused the image: it is too large"
    ));
}

#[test]
fn at_uris_name_a_repo_a_collection_and_a_key() {
    assert_eq!(
        parse_at_uri("at://did:plc:abc/app.bsky.feed.post/3l25zusnsfctk"),
        Some(("did:plc:abc", "app.bsky.feed.post", "3l25zusnsfctk"))
    );
    assert_eq!(parse_at_uri("https://bsky.app/profile/a/post/b"), None);
    assert_eq!(parse_at_uri("at://did:plc:abc/app.bsky.feed.post"), None);
    assert_eq!(
        parse_at_uri("at://did:plc:abc/app.bsky.feed.post/k/extra"),
        None
    );
    assert_eq!(parse_at_uri("at://did:plc:abc//k"), None);
}
