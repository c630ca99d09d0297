use super::*;

#[test]
fn threads_errors_become_plain_reasons() {
    let links = GraphError {
        status: 400,
        code: Some(100),
        message: "THREADS_API__LINK_LIMIT_EXCEEDED: a post may have at most 5 links".into(),
        ..GraphError::default()
    };
    assert!(matches!(
        special(&links),
        Some(PublishError::Rejected { code, .. }) if code == "threads_too_many_links"
    ));
    let long = GraphError {
        status: 400,
        code: Some(100),
        message: "Param text must be at most 500 characters long.".into(),
        ..GraphError::default()
    };
    assert!(matches!(
        special(&long),
        Some(PublishError::Rejected { code, .. }) if code == "threads_text_too_long"
    ));
    assert!(special(&GraphError::default()).is_none());
}

#[test]
fn the_cap_is_told_by_its_code() {
    let cap = GraphError {
        status: 400,
        code: Some(9),
        subcode: Some(2_207_042),
        ..GraphError::default()
    };
    assert!(cap_reached(&cap));
    assert!(!cap_reached(&GraphError {
        code: Some(100),
        ..GraphError::default()
    }));
}

#[test]
fn replies_count_against_the_replies_cap() {
    assert_eq!(Cap::Posts.fields(), ("quota_usage", "config"));
    assert_eq!(Cap::Replies.fields(), ("reply_quota_usage", "reply_config"));
    assert_eq!(Cap::Posts.edge(), "threads");
    assert_eq!(Cap::Replies.edge(), "replies");
}
