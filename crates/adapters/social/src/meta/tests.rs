use chrono::TimeZone;

use super::*;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, h, m, s).unwrap()
}

fn day_quota(total: u32) -> Quota {
    Quota {
        usage: total,
        total,
        duration: Duration::days(1),
    }
}

#[test]
fn versions_and_ids_are_checked_before_they_go_into_a_path() {
    assert!(valid_version("v25.0"));
    assert!(valid_version("v1.0"));
    for bad in ["25.0", "v25", "v25.0/../x", "v.0", "vx.0", ""] {
        assert!(!valid_version(bad), "{bad}");
    }
    assert!(plain_id("17841405822304914"));
    assert!(plain_id("1011000000001_1013000000002"));
    for bad in ["", "_1", "1_", "me", "1/feed", "1?x=2", &"9".repeat(65)] {
        assert!(!plain_id(bad), "{bad}");
    }
}

#[test]
fn the_proof_is_the_hmac_of_the_token_under_the_app_secret() {
    // HMAC-SHA256(key = "secret", message = "token"), hex: a known answer, computed apart
    // (Python's `hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()`).
    let proof = appsecret_proof(&Secret::new("secret"), "token");
    assert_eq!(
        proof,
        "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"
    );
    assert_ne!(proof, appsecret_proof(&Secret::new("other"), "token"));
}

#[test]
fn graph_errors_are_read_with_their_codes_and_the_persons_message() {
    let e = GraphError::parse(
        400,
        r#"{"error":{"message":"The image size is too large.","type":"OAuthException","code":36000,"error_subcode":2207004,"is_transient":false,"error_user_msg":"It should be less than 8 MiB."}}"#,
        None,
    );
    assert_eq!((e.code, e.subcode), (Some(36000), Some(2_207_004)));
    assert_eq!(e.reason(), "It should be less than 8 MiB.");
    assert_eq!(e.codes(), "36000/2207004");
    assert_eq!(e.kind.as_deref(), Some("OAuthException"));
    // Codes sent as strings, Instagram Login's flat shape, and text.
    let e = GraphError::parse(400, r#"{"error":{"message":"x","code":"190"}}"#, None);
    assert_eq!(e.code, Some(190));
    let e = GraphError::parse(
        400,
        r#"{"error_type":"OAuthException","code":400,"error_message":"Invalid authorization code"}"#,
        None,
    );
    assert_eq!(e.code, None);
    assert_eq!(e.message, "Invalid authorization code");
    let e = GraphError::parse(502, "<html>bad gateway</html>", None);
    assert_eq!(e.message, "<html>bad gateway</html>");
    assert_eq!(e.codes(), "http_502");
}

fn refused(status: u16, code: i64, subcode: Option<i64>) -> Failure {
    Failure::Refused(GraphError {
        status,
        code: Some(code),
        subcode,
        message: "said".into(),
        ..GraphError::default()
    })
}

#[test]
fn failures_map_to_what_the_worker_does() {
    let map = |step, f| publish_failure("Facebook", step, f, |_| None);
    assert!(matches!(
        map(Step::Send, refused(400, 190, Some(463))),
        PublishError::Unauthorized { .. }
    ));
    assert!(matches!(
        map(Step::Send, refused(400, 32, None)),
        PublishError::RateLimited { .. }
    ));
    assert!(matches!(
        map(Step::Read, refused(400, 80_001, None)),
        PublishError::RateLimited { .. }
    ));
    assert!(matches!(
        map(Step::Send, refused(403, 200, None)),
        PublishError::Rejected { code, .. } if code == "facebook_permission"
    ));
    assert!(matches!(
        map(Step::Send, refused(400, 506, None)),
        PublishError::Rejected { code, .. } if code == "duplicate"
    ));
    assert!(matches!(
        map(Step::Send, refused(400, 368, None)),
        PublishError::Rejected { code, .. } if code == "facebook_blocked"
    ));
    // A server error is transient before the post, unknown for the post itself.
    assert!(matches!(
        map(Step::Prepare, refused(500, 2, None)),
        PublishError::Transient { .. }
    ));
    assert!(matches!(
        map(Step::Send, refused(500, 2, None)),
        PublishError::Unknown { .. }
    ));
    assert!(matches!(
        map(Step::Send, Failure::Unreadable("x".into())),
        PublishError::Unknown { .. }
    ));
    assert!(matches!(
        map(Step::Read, Failure::Unreadable("x".into())),
        PublishError::Transient { .. }
    ));
    match map(Step::Send, refused(400, 100, None)) {
        PublishError::Rejected { code, reason } => {
            assert_eq!(code, "facebook_rejected");
            assert_eq!(reason, "Facebook refused the post: said");
        }
        other => panic!("{other:?}"),
    }
    // The platform's own mapping comes first.
    let special = |e: &GraphError| {
        (e.subcode == Some(7)).then(|| PublishError::Transient {
            reason: "mine".into(),
        })
    };
    assert!(matches!(
        publish_failure("Instagram", Step::Send, refused(400, 1, Some(7)), special),
        PublishError::Transient { reason } if reason == "mine"
    ));
}

#[test]
fn authorisation_failures_ask_for_a_new_sign_in_only_for_a_dead_code() {
    assert!(matches!(
        oauth_failure("Facebook", refused(400, 100, Some(36_009))),
        OAuthError::InvalidGrant { .. }
    ));
    assert!(matches!(
        oauth_failure("Facebook", refused(400, 4, None)),
        OAuthError::RateLimited { .. }
    ));
    assert!(matches!(
        oauth_failure("Facebook", refused(500, 1, None)),
        OAuthError::Transient { .. }
    ));
    assert!(matches!(
        oauth_failure("Facebook", refused(400, 10, None)),
        OAuthError::Rejected { .. }
    ));
    let flat = GraphError::parse(
        400,
        r#"{"error_type":"OAuthException","code":400,"error_message":"Invalid authorization code"}"#,
        None,
    );
    assert!(matches!(
        oauth_failure("Instagram", Failure::Refused(flat)),
        OAuthError::InvalidGrant { .. }
    ));
}

#[test]
fn business_use_case_usage_tells_how_long_to_wait() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-business-use-case-usage",
        r#"{"123":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":7},{"type":"pages","estimated_time_to_regain_access":3}]}"#
            .parse()
            .unwrap(),
    );
    assert_eq!(wait_asked(&headers), Some(Duration::minutes(7)));
    headers.insert(
        "x-business-use-case-usage",
        r#"{"1":[{"estimated_time_to_regain_access":100000}]}"#
            .parse()
            .unwrap(),
    );
    assert_eq!(wait_asked(&headers), Some(MAX_RETRY_AFTER));
    assert_eq!(wait_asked(&reqwest::header::HeaderMap::new()), None);
}

#[test]
fn a_used_up_cap_frees_a_slot_when_the_oldest_counted_post_leaves_the_window() {
    let now = at(10, 0, 0);
    let quota = day_quota(3);
    assert!(quota.used_up());
    // Three posts in the window: the third newest leaves it 24 hours after it was made.
    let posted = [at(9, 0, 0), now - Duration::hours(23), at(2, 30, 0)];
    assert_eq!(
        reset_at(&quota, &posted, now),
        now - Duration::hours(23) + Duration::days(1)
    );
    // More listed than counted (posts made in the app): the third newest bounds it.
    let posted = [
        at(9, 0, 0),
        at(8, 0, 0),
        at(7, 0, 0),
        now - Duration::hours(20),
    ];
    assert_eq!(
        reset_at(&quota, &posted, now),
        at(7, 0, 0) + Duration::days(1)
    );
    // A date far in the future (a platform's mistake) is no post of the window.
    let posted = [at(9, 0, 0), at(8, 0, 0), DateTime::<Utc>::MAX_UTC];
    assert_eq!(reset_at(&quota, &posted, now), now + Duration::days(1));
    // Posts older than the window do not count; fewer than the cap: a whole window.
    let posted = [at(9, 0, 0), now - Duration::hours(30)];
    assert_eq!(reset_at(&quota, &posted, now), now + Duration::days(1));
    // Rounded up to the minute, and never sooner than a minute from now.
    let posted = [
        at(9, 0, 1),
        at(9, 0, 0),
        now - Duration::days(1) + Duration::seconds(5),
    ];
    assert_eq!(reset_at(&quota, &posted, now), now + Duration::minutes(1));
    let posted = [
        at(9, 0, 0),
        at(8, 0, 0),
        now - Duration::hours(23) + Duration::seconds(1),
    ];
    assert_eq!(
        reset_at(&quota, &posted, now),
        now + Duration::hours(1) + Duration::minutes(1)
    );
}

#[test]
fn the_deferral_says_the_cap_and_when_it_goes_out() {
    let now = at(10, 0, 0);
    let quota = day_quota(25);
    assert_eq!(
        deferral_reason("Instagram", &quota, at(11, 14, 0), now),
        "Instagram allows 25 posts a day for this account; it will go out at 11:14 UTC"
    );
    assert_eq!(
        deferral_reason("Instagram", &quota, at(9, 14, 0) + Duration::days(1), now),
        "Instagram allows 25 posts a day for this account; it will go out tomorrow at 09:14 UTC"
    );
    assert_eq!(
        deferral_reason("Threads", &quota, at(9, 0, 0) + Duration::days(3), now),
        "Threads allows 25 posts a day for this account; it will go out on 2026-03-07 at 09:00 UTC"
    );
    let unknown = Quota {
        usage: 0,
        total: 0,
        duration: Duration::days(1),
    };
    assert_eq!(
        deferral_reason("Threads", &unknown, at(12, 0, 0), now),
        "Threads's daily publishing limit for this account is reached; it will go out at 12:00 UTC"
    );
    assert!(matches!(
        deferral("Instagram", &quota, at(11, 14, 0), now),
        PublishError::Deferred { until, code, .. } if until == at(11, 14, 0) && code == "instagram_daily_limit"
    ));
}

#[test]
fn publishing_limits_are_read_from_their_fields() {
    let entry = serde_json::json!({
        "quota_usage": 4, "config": { "quota_total": 250, "quota_duration": 86400 },
        "reply_quota_usage": "1000", "reply_config": { "quota_total": 1000, "quota_duration": 86400 },
    });
    assert_eq!(
        quota_from(&entry, "quota_usage", "config"),
        Some(Quota {
            usage: 4,
            total: 250,
            duration: Duration::days(1)
        })
    );
    let replies = quota_from(&entry, "reply_quota_usage", "reply_config").unwrap();
    assert!(replies.used_up());
    assert_eq!(
        quota_from(
            &serde_json::json!({ "quota_usage": 1 }),
            "quota_usage",
            "config"
        ),
        None
    );
    // A cap of nothing is no cap.
    assert!(
        !Quota {
            usage: 3,
            total: 0,
            duration: Duration::days(1)
        }
        .used_up()
    );
}

#[test]
fn meta_times_and_links_are_read() {
    assert_eq!(parse_time("2026-03-04T10:00:00+0000"), Some(at(10, 0, 0)));
    assert_eq!(parse_time("2026-03-04T10:00:00Z"), Some(at(10, 0, 0)));
    assert_eq!(parse_time("yesterday"), None);
    assert_eq!(
        first_link("Menu: https://example.com/menu. Come by"),
        Some("https://example.com/menu")
    );
    assert_eq!(
        first_link("(see http://a.example/x?y=1)"),
        Some("http://a.example/x?y=1")
    );
    assert_eq!(first_link("nohttps://example.com"), None);
    assert_eq!(first_link("just https:// and text"), None);
    assert_eq!(first_link("no links"), None);
}

#[tokio::test]
async fn a_failed_call_never_tells_its_token() {
    let http = crate::http::client(std::time::Duration::from_secs(5)).unwrap();
    let token = Secret::new("EAAG-very-secret-token");
    let app_secret = Secret::new("app-secret");
    // Nothing listens on the discard port: the call fails in transport.
    let api = Api::new(
        &http,
        "http://127.0.0.1:9",
        "v25.0",
        &token,
        Some(&app_secret),
    );
    let failed = api
        .get::<serde_json::Value>("/me", &[("fields", "id")])
        .await
        .unwrap_err();
    let reason = publish_failure("Facebook", Step::Read, failed, |_| None).to_string();
    assert!(!reason.contains("EAAG-very-secret-token"), "{reason}");
    assert!(!reason.contains("appsecret_proof"), "{reason}");
    let failed = api
        .post::<serde_json::Value>("/1/feed", &[("message", "x")])
        .await
        .unwrap_err();
    let reason = oauth_failure("Facebook", failed).to_string();
    assert!(!reason.contains("EAAG-very-secret-token"), "{reason}");
}
