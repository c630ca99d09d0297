use chrono::TimeZone;

use super::*;

fn doc(services: Value) -> Value {
    json!({"id": "did:plc:abc", "alsoKnownAs": ["at://alice.test"], "service": services})
}

#[test]
fn the_pds_is_the_atproto_pds_service_of_the_right_type_and_scheme() {
    let pds = json!({"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                     "serviceEndpoint": "https://pds.example.com"});
    assert_eq!(
        pds_endpoint("did:plc:abc", &doc(json!([pds]))),
        Some("https://pds.example.com".to_owned())
    );
    let full = json!({"id": "did:plc:abc#atproto_pds", "type": "AtprotoPersonalDataServer",
                      "serviceEndpoint": "http://127.0.0.1:9/bsky"});
    assert_eq!(
        pds_endpoint("did:plc:abc", &doc(json!([{"id": "#other"}, full]))),
        Some("http://127.0.0.1:9/bsky".to_owned())
    );
    let wrong_type = json!({"id": "#atproto_pds", "type": "Other",
                            "serviceEndpoint": "https://pds.example.com"});
    assert_eq!(pds_endpoint("did:plc:abc", &doc(json!([wrong_type]))), None);
    let wrong_scheme = json!({"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                              "serviceEndpoint": "ftp://pds.example.com"});
    assert_eq!(
        pds_endpoint("did:plc:abc", &doc(json!([wrong_scheme]))),
        None
    );
    assert_eq!(
        pds_endpoint("did:plc:other", &doc(json!([pds]))),
        None,
        "another DID's document"
    );
    assert_eq!(pds_endpoint("did:plc:abc", &json!({})), None);
}

fn jwt(claims: Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.c2ln",
        part(&json!({"typ": "at+jwt", "alg": "ES256K"})),
        part(&claims)
    )
}

#[test]
fn the_access_expiry_comes_from_the_token_or_two_hours() {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let exp = (now + Duration::hours(2)).timestamp();
    assert_eq!(
        access_expiry(&jwt(json!({"exp": exp})), now),
        now + Duration::hours(2) - Duration::seconds(60)
    );
    let fallback = now + Duration::minutes(110);
    assert_eq!(access_expiry("opaque", now), fallback);
    assert_eq!(access_expiry(&jwt(json!({"sub": "x"})), now), fallback);
    let past = (now - Duration::hours(1)).timestamp();
    assert_eq!(access_expiry(&jwt(json!({"exp": past})), now), fallback);
    let far = (now + Duration::days(400)).timestamp();
    assert_eq!(access_expiry(&jwt(json!({"exp": far})), now), fallback);
}

fn error(status: u16, name: &str) -> XrpcError {
    XrpcError {
        status,
        error: name.to_owned(),
        message: "message".to_owned(),
        retry_after: None,
    }
}

#[test]
fn sign_in_and_refresh_failures_tell_the_core_what_to_do() {
    assert!(matches!(
        login_error(error(401, "AuthenticationRequired")),
        OAuthError::InvalidGrant { .. }
    ));
    assert!(matches!(
        login_error(error(401, "AccountTakedown")),
        OAuthError::Rejected { code, .. } if code == "AccountTakedown"
    ));
    assert!(matches!(
        login_error(error(429, "RateLimitExceeded")),
        OAuthError::RateLimited { .. }
    ));
    assert!(matches!(
        login_error(error(502, "HTTP 502")),
        OAuthError::Transient { .. }
    ));
    assert!(matches!(
        login_error(error(400, "InvalidRequest")),
        OAuthError::Rejected { code, reason } if code == "InvalidRequest" && reason == "message"
    ));
    for dead in [
        error(400, "ExpiredToken"),
        error(400, "InvalidToken"),
        error(401, "AccountTakedown"),
    ] {
        assert!(matches!(
            refresh_error(dead),
            OAuthError::InvalidGrant { .. }
        ));
    }
    assert!(matches!(
        refresh_error(error(400, "InvalidRequest")),
        OAuthError::Rejected { .. }
    ));
    assert!(matches!(
        refresh_error(error(503, "HTTP 503")),
        OAuthError::Transient { .. }
    ));
}
