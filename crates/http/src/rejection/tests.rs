#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn serde_err(body: &str) -> serde_json::Error {
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Dto {
        name: String,
        count: u32,
    }
    serde_json::from_str::<Dto>(body).unwrap_err()
}

#[test]
fn syntax_errors_are_malformed_json_with_position() {
    let p = serde_problem(&serde_err("{\"name\": \"a\",\n  oops}"));
    assert_eq!(p.status, 400);
    assert!(p.kind.ends_with("/malformed-json"));
    assert!(p.detail.contains("line 2 column 3"), "{}", p.detail);
    let eof = serde_problem(&serde_err("{"));
    assert!(eof.kind.ends_with("/malformed-json"));
}

#[test]
fn data_errors_name_the_field() {
    let p = serde_problem(&serde_err(r#"{"name":"a","count":1,"user_id":2}"#));
    assert!(p.kind.ends_with("/invalid-body"));
    assert!(p.detail.contains("unknown field `user_id`"), "{}", p.detail);
    let p = serde_problem(&serde_err(r#"{"name":"a"}"#));
    assert!(p.detail.contains("missing field `count`"), "{}", p.detail);
}

#[test]
fn overflow_is_413() {
    let p = json_problem(JsonPayloadError::Overflow { limit: 10 });
    assert_eq!(p.status, 413);
    assert_eq!(json_problem(JsonPayloadError::ContentType).status, 415);
    assert_eq!(
        json_problem(JsonPayloadError::Payload(PayloadError::Overflow)).status,
        413
    );
}

#[test]
fn fallback_keeps_status_and_headers() {
    let original = HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET"))
        .content_type("text/plain")
        .finish();
    let problem = problem_response(&original, None);
    assert_eq!(problem.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        problem.headers().get(header::ALLOW),
        Some(&HeaderValue::from_static("GET"))
    );
    assert_eq!(
        problem.headers().get(header::CONTENT_TYPE),
        Some(&HeaderValue::from_static(PROBLEM_JSON))
    );
}

#[actix_web::test]
async fn fallback_hides_server_error_text() {
    let original = HttpResponse::InternalServerError().finish();
    let problem = problem_response(&original, Some("db password wrong".to_owned()));
    let body = actix_web::body::to_bytes(problem.into_body())
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("the server could not answer"), "{body}");
    assert!(!body.contains("password"), "{body}");
}
