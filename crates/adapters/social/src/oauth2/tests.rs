use reqwest::StatusCode;

use super::*;

#[test]
fn a_dead_grant_needs_a_new_sign_in() {
    for body in [
        r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        r#"{"error":"invalid_request","error_description":"The provided refresh token is invalid"}"#,
        r#"{"code":1,"message":"Invalid refresh token"}"#,
    ] {
        assert!(
            matches!(
                failure("P", StatusCode::BAD_REQUEST, body),
                OAuthError::InvalidGrant { .. }
            ),
            "{body}"
        );
    }
}

#[test]
fn a_refused_app_or_a_server_error_is_not_a_dead_grant() {
    assert!(matches!(
        failure("P", StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#),
        OAuthError::Rejected { code, .. } if code == "invalid_client"
    ));
    assert!(matches!(
        failure("P", StatusCode::BAD_GATEWAY, "<html>"),
        OAuthError::Transient { .. }
    ));
    assert!(matches!(
        failure("P", StatusCode::FORBIDDEN, "nope"),
        OAuthError::Rejected { code, .. } if code == "http_403"
    ));
}

#[test]
fn a_token_answer_hides_its_tokens_and_reads_its_scopes() {
    let answer: TokenAnswer = serde_json::from_str(
        r#"{"access_token":"at-secret","refresh_token":"rt-secret","expires_in":3600,"scope":"openid,profile w_member_social"}"#,
    )
    .unwrap();
    let shown = format!("{answer:?}");
    assert!(
        !shown.contains("at-secret") && !shown.contains("rt-secret"),
        "{shown}"
    );
    assert!(answer.granted("profile") && answer.granted("w_member_social"));
    assert!(!answer.granted("w_organization_social"));
    let grant = answer.grant("P").unwrap();
    assert_eq!(grant.refresh_token.unwrap().expose(), "rt-secret");
    assert!(grant.expires_at.unwrap() > Utc::now());
    let empty: TokenAnswer = serde_json::from_str("{}").unwrap();
    assert!(empty.grant("P").is_err());
}
