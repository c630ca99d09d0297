use actix_web::test::TestRequest;

use super::*;

#[test]
fn a_delay_is_used_up_one_request_at_a_time() {
    let mut delay = Delay::parse(br#"{"seconds": 1.5, "count": 2}"#).unwrap();
    assert_eq!(delay.take(), Some(std::time::Duration::from_millis(1500)));
    assert_eq!(delay.take(), Some(std::time::Duration::from_millis(1500)));
    assert_eq!(delay.take(), None);
    assert_eq!(delay.count, 0);
    assert_eq!(Delay::parse(br#"{"seconds": 2}"#).unwrap().count, 1);
    assert_eq!(Delay::default().take(), None);
}

#[test]
fn a_delay_body_is_checked() {
    for bad in [
        &br#"{"seconds": -1}"#[..],
        br#"{"seconds": 3601}"#,
        br#"{"count": 1}"#,
        br#"{"seconds": 1, "count": -1}"#,
        br#"{"seconds": 1, "other": 1}"#,
        b"not json",
    ] {
        let refused = Delay::parse(bad).unwrap_err();
        assert_eq!(refused.status(), 400, "{}", String::from_utf8_lossy(bad));
    }
}

#[actix_web::test]
async fn the_log_keeps_the_newest_requests() {
    let state = SandboxState::default();
    for i in 0..MAX_RECORDED + 5 {
        let req = TestRequest::post()
            .uri(&format!("/x/2/tweets?n={i}"))
            .to_http_request();
        record(&state, "x", &req, b"{}");
    }
    let log = state.requests();
    assert_eq!(log.len(), MAX_RECORDED);
    assert_eq!(log[0].path, "/2/tweets?n=5");
    assert_eq!(
        log.last().unwrap().path,
        format!("/2/tweets?n={}", MAX_RECORDED + 4)
    );
}

#[test]
fn platforms_are_named_as_posts_name_them() {
    assert_eq!(platform_name("x"), Some("x"));
    assert_eq!(platform_name("bsky"), Some("bluesky"));
    assert_eq!(platform_name("bluesky"), Some("bluesky"));
    assert_eq!(platform_name("mastodon"), Some("mastodon"));
    assert_eq!(platform_name("twitter"), None);
}
