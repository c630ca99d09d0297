//! The extractors that hold requests to the OpenAPI document (`multivio_http::input`), on
//! routes mounted at the document's own paths: what parses but breaks a stated rule is 422
//! naming the field, what does not parse is 400, an unknown platform in the path 404, a method
//! the path does not serve 405 with `Allow`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::test::{self as actix_test, TestRequest};
use actix_web::{App, HttpResponse, web};
use multivio_http::dto::{AuthorizeRequest, PostCreate, PostListQuery, ScheduleRequest};
use multivio_http::input::{Body, OptionalBody, Path, Query};
use multivio_http::rejection;
use serde_json::{Value, json};
use uuid::Uuid;

async fn create(body: Body<PostCreate>) -> HttpResponse {
    let body = body.into_inner();
    HttpResponse::Created().json(json!({ "name": body.name, "targets": body.platforms.len() }))
}

async fn schedule(id: Path<Uuid>, body: Body<ScheduleRequest>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": *id, "at": body.into_inner().schedule_date }))
}

async fn list(query: Query<PostListQuery>) -> HttpResponse {
    let q = query.into_inner();
    HttpResponse::Ok().json(json!({ "limit": q.limit, "status": q.status }))
}

async fn authorize(provider: Path<String>, body: OptionalBody<AuthorizeRequest>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "provider": provider.into_inner(),
        "return_to": body.0.and_then(|b| b.return_to),
    }))
}

async fn rename(id: Path<Uuid>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": *id }))
}

async fn get_me() -> HttpResponse {
    HttpResponse::Ok().finish()
}

macro_rules! app {
    () => {
        actix_test::init_service(
            App::new()
                .app_data(rejection::json_config(1024 * 1024))
                .app_data(rejection::payload_config(1024 * 1024))
                .app_data(rejection::query_config())
                .app_data(rejection::path_config())
                .route("/v1/me", web::get().to(get_me))
                .route("/v1/posts", web::post().to(create))
                .route("/v1/posts", web::get().to(list))
                .route("/v1/posts/{id}/schedule", web::post().to(schedule))
                .route("/v1/connections/{id}", web::patch().to(rename))
                .route(
                    "/v1/connections/{provider}/authorize",
                    web::post().to(authorize),
                )
                .default_service(web::to(rejection::unrouted))
                .wrap(rejection::ProblemFallback),
        )
        .await
    };
}

/// Status, content type, `Allow` and JSON body of the app's answer to `req`.
macro_rules! call {
    ($app:expr, $req:expr $(,)?) => {{
        let res = actix_test::call_service($app, $req.to_request()).await;
        let status = res.status();
        let ct: Option<HeaderValue> = res.headers().get(header::CONTENT_TYPE).cloned();
        let allow: Option<HeaderValue> = res.headers().get(header::ALLOW).cloned();
        let body = actix_test::read_body(res).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, ct, allow, json)
    }};
}

fn post_json(path: &str, body: &Value) -> TestRequest {
    TestRequest::post().uri(path).set_json(body)
}

fn assert_problem(ct: Option<&HeaderValue>, body: &Value) {
    assert_eq!(ct.unwrap().to_str().unwrap(), "application/problem+json");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://multivio.dev/problems/")
    );
}

#[actix_web::test]
async fn a_body_the_schema_accepts_reaches_the_handler() {
    let app = app!();
    let (status, _, _, body) = call!(
        &app,
        post_json(
            "/v1/posts",
            &json!({ "name": "Launch", "platforms": ["x", { "platform": "bluesky", "connection_id": Uuid::nil() }] }),
        ),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({ "name": "Launch", "targets": 2 }));
}

#[actix_web::test]
async fn a_value_breaking_a_rule_is_422_naming_the_field() {
    let app = app!();
    for (body, field) in [
        (json!({ "name": "n".repeat(256) }), "name"),
        (json!({ "name": "   " }), "name"),
        (
            json!({ "name": "p", "platforms": ["myspace"] }),
            "platforms.0",
        ),
        (
            json!({ "name": "p", "content_mode": "both" }),
            "content_mode",
        ),
        (
            json!({ "name": "p", "universal_metadata": [1] }),
            "universal_metadata",
        ),
        (
            json!({ "name": "p", "universal_metadata": { "tag": "nul\u{0}" } }),
            "universal_metadata.tag",
        ),
        (
            json!({ "name": "p", "platform_content": { "myspace": {} } }),
            "platform_content.myspace",
        ),
        (
            json!({ "name": "p", "media_files": ["{67e55044-10b1-426f-9247-bb680e5fe0c8}"] }),
            "media_files.0",
        ),
    ] {
        let (status, ct, _, problem) = call!(&app, post_json("/v1/posts", &body));
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_problem(ct.as_ref(), &problem);
        assert_eq!(
            problem["type"],
            "https://multivio.dev/problems/validation-failed"
        );
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {problem}"
        );
    }
}

#[actix_web::test]
async fn a_body_that_does_not_parse_is_400_or_415() {
    let app = app!();
    for (req, expected) in [
        (
            post_json("/v1/posts", &json!({ "name": "p", "user_id": 2 })),
            400,
        ),
        (post_json("/v1/posts", &json!({ "name": 5 })), 400),
        (post_json("/v1/posts", &json!({})), 400),
        (
            TestRequest::post()
                .uri("/v1/posts")
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload("{\"name\":"),
            400,
        ),
        (
            TestRequest::post()
                .uri("/v1/posts")
                .insert_header((header::CONTENT_TYPE, "text/plain"))
                .set_payload("{\"name\":\"p\"}"),
            415,
        ),
        (
            post_json(
                &format!("/v1/posts/{}/schedule", Uuid::nil()),
                &json!({ "schedule_date": "soon" }),
            ),
            400,
        ),
    ] {
        let (status, ct, _, problem) = call!(&app, req);
        assert_eq!(status.as_u16(), expected, "{problem}");
        assert_problem(ct.as_ref(), &problem);
    }
}

#[actix_web::test]
async fn query_strings_are_held_to_their_parameters() {
    let app = app!();
    let (status, _, _, body) = call!(
        &app,
        TestRequest::get().uri("/v1/posts?limit=500&status=draft"),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "limit": 500, "status": "draft" }));
    for (query, expected, field) in [
        ("status=gone", 422, Some("status")),
        ("platform=myspace", 422, Some("platform")),
        ("owner=2", 400, None),
        ("limit=abc", 400, None),
        ("limit=-1", 400, None),
        ("from=yesterday", 400, None),
    ] {
        let (status, ct, _, problem) =
            call!(&app, TestRequest::get().uri(&format!("/v1/posts?{query}")));
        assert_eq!(status.as_u16(), expected, "{query}: {problem}");
        assert_problem(ct.as_ref(), &problem);
        if let Some(field) = field {
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
    }
}

#[actix_web::test]
async fn path_segments_are_held_to_their_parameters() {
    let app = app!();
    let (status, _, _, problem) = call!(
        &app,
        TestRequest::post().uri("/v1/connections/myspace/authorize")
    );
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an unknown platform: {problem}"
    );
    let (status, _, _, problem) = call!(
        &app,
        post_json(
            "/v1/posts/67e5504410b1426f9247bb680e5fe0c8/schedule",
            &json!({ "schedule_date": "2030-01-01T00:00:00Z" }),
        ),
    );
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an id that is not hyphenated: {problem}"
    );
    assert_eq!(
        problem["type"],
        "https://multivio.dev/problems/invalid-path"
    );
}

#[actix_web::test]
async fn an_optional_body_may_be_absent_or_null_but_not_wrong() {
    let app = app!();
    for req in [
        TestRequest::post().uri("/v1/connections/x/authorize"),
        TestRequest::post()
            .uri("/v1/connections/x/authorize")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("null"),
    ] {
        let (status, _, _, body) = call!(&app, req);
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "provider": "x", "return_to": null }));
    }
    let (status, _, _, body) = call!(
        &app,
        post_json(
            "/v1/connections/mastodon/authorize",
            &json!({ "return_to": "http://localhost:5173/done" }),
        ),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["return_to"], "http://localhost:5173/done");
    for (body, expected) in [
        (json!({ "nope": 1 }), 400),
        (json!({ "return_to": 5 }), 400),
        (json!({ "return_to": "http://a/\r\nx" }), 422),
    ] {
        let (status, _, _, problem) = call!(&app, post_json("/v1/connections/x/authorize", &body));
        assert_eq!(status.as_u16(), expected, "{body}: {problem}");
    }
}

#[actix_web::test]
async fn a_method_the_path_does_not_serve_is_405_with_allow() {
    let app = app!();
    let allow = |v: Option<HeaderValue>| {
        let mut m: Vec<String> = v
            .unwrap()
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_owned)
            .collect();
        m.sort();
        m
    };
    let (status, ct, allowed, problem) = call!(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::PUT)
            .uri("/v1/me")
    );
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{problem}");
    assert_problem(ct.as_ref(), &problem);
    assert_eq!(allow(allowed), ["DELETE", "GET", "PATCH"]);
    // Routed to `PATCH /v1/connections/{id}`, but `bluesky` names the credentials route.
    let (status, _, allowed, problem) =
        call!(&app, TestRequest::patch().uri("/v1/connections/bluesky"));
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{problem}");
    assert_eq!(allow(allowed), ["POST"]);
    let (status, _, _, _) = call!(&app, TestRequest::get().uri("/v1/nothing-here"));
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn requests_and_answers_carrying_secrets_print_them_redacted() {
    use multivio_http::dto::{
        CallbackResponse, CompleteRequest, CredentialConnectRequest, OAuth1CompleteRequest,
    };
    let connect: CredentialConnectRequest = serde_json::from_value(json!({
        "identifier": "ada.example.com", "password": "app-pass-1234"
    }))
    .unwrap();
    let complete: CompleteRequest =
        serde_json::from_value(json!({ "code": "code-5678", "state": "state-9012" })).unwrap();
    let oauth1: OAuth1CompleteRequest = serde_json::from_value(json!({
        "oauth_token": "req-3456", "oauth_verifier": "ver-7890"
    }))
    .unwrap();
    let callback = CallbackResponse {
        provider: "twitter".into(),
        code: "code-5678".into(),
        state: "state-9012".into(),
        complete_with: "/v1/connections/twitter/complete".into(),
    };
    let confirm: multivio_http::dto::ConfirmEmailRequest =
        serde_json::from_value(json!({ "token": "mail-2468" })).unwrap();
    let printed = format!("{connect:?} {complete:?} {oauth1:?} {callback:?} {confirm:?}");
    for secret in [
        "app-pass-1234",
        "code-5678",
        "state-9012",
        "req-3456",
        "ver-7890",
        "mail-2468",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    // What is not secret still helps whoever reads the log.
    assert!(printed.contains("ada.example.com"), "{printed}");
    assert!(printed.contains("password: \"[redacted]\""), "{printed}");
    assert!(
        printed.contains("/v1/connections/twitter/complete"),
        "{printed}"
    );
}
