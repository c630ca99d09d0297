use super::*;
use actix_web::test::TestRequest;

fn token_of(header: Option<&str>) -> Result<String, AuthError> {
    let mut req = TestRequest::default();
    if let Some(h) = header {
        req = req.insert_header((header::AUTHORIZATION, h));
    }
    bearer_token(&req.to_http_request())
}

#[test]
fn bearer_parsing() {
    assert_eq!(token_of(Some("Bearer abc")).unwrap(), "abc");
    assert_eq!(token_of(Some("bearer   abc ")).unwrap(), "abc");
    assert_eq!(token_of(None), Err(AuthError::MissingToken));
    assert_eq!(token_of(Some("Bearer")), Err(AuthError::MissingToken));
    assert_eq!(token_of(Some("Bearer ")), Err(AuthError::MissingToken));
    assert_eq!(token_of(Some("Basic abc")), Err(AuthError::MissingToken));
    assert_eq!(token_of(Some("abc")), Err(AuthError::MissingToken));
    let req = TestRequest::default()
        .append_header((header::AUTHORIZATION, "Bearer a"))
        .append_header((header::AUTHORIZATION, "Bearer b"))
        .to_http_request();
    assert_eq!(bearer_token(&req), Err(AuthError::Malformed));
}

#[test]
fn rejection_shapes() {
    let r = AuthRejection::from(AuthError::Expired);
    assert_eq!(r.status_code(), StatusCode::UNAUTHORIZED);
    let resp = r.error_response();
    assert_eq!(
        resp.headers().get(header::WWW_AUTHENTICATE).unwrap(),
        r#"Bearer realm="multivio", error="invalid_token""#
    );
    assert_eq!(r.problem().detail, "the token has expired");
    let r = AuthRejection::from(AuthError::CertificatesUnavailable);
    assert_eq!(r.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.error_response()
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .is_none()
    );
}
