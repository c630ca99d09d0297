//! Mass assignment and bad input: every one is a 4xx problem document, never a 500, and
//! nothing is stored.

use reqwest::Method;
use serde_json::json;

use crate::{Api, assert_problem};

#[tokio::test]
async fn clients_cannot_set_owner_status_results_quota_or_plan() {
    let api = Api::start().await;
    let (_, post) = api.post("alice", "/v1/posts", json!({ "name": "p" })).await;
    let post_id = post["id"].as_str().unwrap().to_owned();
    let conn = api
        .connect("alice", multivio_domain::Provider::X, "alice")
        .await
        .0;
    let forged = [
        (
            Method::POST,
            "/v1/posts".to_owned(),
            json!({ "name": "p", "user_id": 2 }),
        ),
        (
            Method::POST,
            "/v1/posts".to_owned(),
            json!({ "name": "p", "status": "published" }),
        ),
        (
            Method::POST,
            "/v1/posts".to_owned(),
            json!({ "name": "p", "publish_results": {} }),
        ),
        (
            Method::PATCH,
            format!("/v1/posts/{post_id}"),
            json!({ "status": "published" }),
        ),
        (
            Method::PATCH,
            format!("/v1/posts/{post_id}"),
            json!({ "user_id": 2 }),
        ),
        (
            Method::PATCH,
            "/v1/me".to_owned(),
            json!({ "plan_name": "business" }),
        ),
        (
            Method::PATCH,
            "/v1/me".to_owned(),
            json!({ "remaining_posts": 1000 }),
        ),
        (
            Method::PATCH,
            "/v1/me".to_owned(),
            json!({ "monthly_post_quota": 1000 }),
        ),
        (
            Method::PATCH,
            "/v1/me".to_owned(),
            json!({ "email_verified": true, "bio": "x" }),
        ),
        (
            Method::PATCH,
            "/v1/me".to_owned(),
            json!({ "subscription_status": "active" }),
        ),
        (
            Method::PATCH,
            format!("/v1/connections/{conn}"),
            json!({ "is_primary": false }),
        ),
        (
            Method::PATCH,
            format!("/v1/connections/{conn}"),
            json!({ "user_id": 2 }),
        ),
    ];
    for (method, path, body) in forged {
        let (status, answer, ct) = api
            .send(api.req(method.clone(), "alice", &path).json(&body))
            .await;
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_problem(status, &answer, &ct);
    }
    let (_, me) = api.get("alice", "/v1/me").await;
    assert_eq!(me["plan"]["name"], "free");
    assert_eq!(me["quota"]["remaining_posts"], 10);
    assert_eq!(me["bio"], serde_json::Value::Null);
    let (_, posts) = api.get("alice", "/v1/posts").await;
    assert_eq!(posts["items"].as_array().unwrap().len(), 1);
    assert_eq!(posts["items"][0]["status"], "draft");
}

#[tokio::test]
async fn bad_input_never_yields_a_500() {
    let api = Api::start().await;
    let (_, post) = api.post("alice", "/v1/posts", json!({ "name": "p" })).await;
    let post_id = post["id"].as_str().unwrap().to_owned();
    // Over the production JSON limit of 1 MiB.
    let huge = "x".repeat(1024 * 1024 + 1);
    let long_name = "n".repeat(10_000);
    let raw = |method: Method, path: &str, ct: &str, body: Vec<u8>| {
        api.req(method, "alice", path)
            .header("content-type", ct)
            .body(body)
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "malformed JSON",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                b"{\"name\":".to_vec(),
            ),
            400,
        ),
        (
            "not an object",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                b"[1,2]".to_vec(),
            ),
            400,
        ),
        (
            "wrong type",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                br#"{"name": 5}"#.to_vec(),
            ),
            400,
        ),
        (
            "missing field",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                b"{}".to_vec(),
            ),
            400,
        ),
        (
            "huge body",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                format!("{{\"name\":\"{huge}\"}}").into_bytes(),
            ),
            413,
        ),
        (
            "huge patch",
            raw(
                Method::PATCH,
                "/v1/me",
                "application/json",
                format!("{{\"bio\":\"{huge}\"}}").into_bytes(),
            ),
            413,
        ),
        (
            "oversized string",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                format!("{{\"name\":\"{long_name}\"}}").into_bytes(),
            ),
            422,
        ),
        (
            "oversized bio",
            raw(
                Method::PATCH,
                "/v1/me",
                "application/json",
                format!("{{\"bio\":\"{}\"}}", "b".repeat(6000)).into_bytes(),
            ),
            422,
        ),
        (
            "invalid UTF-8",
            raw(
                Method::POST,
                "/v1/posts",
                "application/json",
                b"{\"name\":\"\xff\xfe\"}".to_vec(),
            ),
            400,
        ),
        (
            "invalid UTF-8 patch",
            raw(
                Method::PATCH,
                "/v1/me",
                "application/json",
                b"{\"bio\":\"\xc3\x28\"}".to_vec(),
            ),
            400,
        ),
        (
            "text/plain",
            raw(
                Method::POST,
                "/v1/posts",
                "text/plain",
                b"{\"name\":\"p\"}".to_vec(),
            ),
            415,
        ),
        (
            "text/plain patch",
            raw(Method::PATCH, "/v1/me", "text/plain", b"{}".to_vec()),
            415,
        ),
        (
            "bad uuid",
            api.req(Method::GET, "alice", "/v1/posts/not-a-uuid"),
            400,
        ),
        (
            "bad uuid delete",
            api.req(Method::DELETE, "alice", "/v1/media/123"),
            400,
        ),
        (
            "negative limit",
            api.req(Method::GET, "alice", "/v1/posts?limit=-1"),
            400,
        ),
        (
            "limit not a number",
            api.req(Method::GET, "alice", "/v1/media?limit=abc"),
            400,
        ),
        (
            "bad cursor",
            api.req(Method::GET, "alice", "/v1/posts?cursor=%%%"),
            422,
        ),
        (
            "forged cursor",
            api.req(Method::GET, "alice", "/v1/media?cursor=MTIzOm5vcGU"),
            422,
        ),
        (
            // A date before PostgreSQL's first (7537 BC), well-formed otherwise.
            "forged cursor dated too early",
            api.req(Method::GET, "alice", "/v1/posts?cursor=LTMwMDAwMDAwMDAwMDAwMDAwMDowMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA"),
            422,
        ),
        (
            // After 9999: no row of the store's is dated then (AD 11476).
            "forged cursor dated too late",
            api.req(Method::GET, "alice", "/v1/media?cursor=MzAwMDAwMDAwMDAwMDAwMDAwOjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw"),
            422,
        ),
        (
            "unknown query key",
            api.req(Method::GET, "alice", "/v1/posts?owner=2"),
            400,
        ),
        (
            "unknown status",
            api.req(Method::GET, "alice", "/v1/posts?status=gone"),
            422,
        ),
        (
            "bad date",
            api.req(Method::GET, "alice", "/v1/posts?from=yesterday"),
            400,
        ),
        (
            // Before PostgreSQL's first date, and after 9999: not RFC 3339's four-digit years.
            "date too early",
            api.req(Method::GET, "alice", "/v1/posts?from=-10000-01-01T00:00:00Z"),
            422,
        ),
        (
            "date too late",
            api.req(Method::GET, "alice", "/v1/posts?to=%2B12345-01-01T00:00:00Z"),
            422,
        ),
        (
            "unknown platform",
            api.req(Method::POST, "alice", "/v1/posts")
                .json(&json!({ "name": "p", "platforms": ["myspace"] })),
            422,
        ),
        (
            "bad content mode",
            api.req(Method::POST, "alice", "/v1/posts")
                .json(&json!({ "name": "p", "content_mode": "both" })),
            422,
        ),
        (
            "metadata not an object",
            api.req(Method::POST, "alice", "/v1/posts")
                .json(&json!({ "name": "p", "universal_metadata": [1] })),
            422,
        ),
        (
            "schedule in the past",
            api.req(
                Method::POST,
                "alice",
                &format!("/v1/posts/{post_id}/schedule"),
            )
            .json(&json!({ "schedule_date": "2001-01-01T00:00:00Z" })),
            422,
        ),
        (
            "schedule not a date",
            api.req(
                Method::POST,
                "alice",
                &format!("/v1/posts/{post_id}/schedule"),
            )
            .json(&json!({ "schedule_date": "soon" })),
            400,
        ),
        (
            "bad idempotency key",
            api.req(Method::POST, "alice", "/v1/posts")
                .header("idempotency-key", "")
                .json(&json!({ "name": "p" })),
            400,
        ),
        (
            "unknown route",
            api.req(Method::GET, "alice", "/v1/nothing-here"),
            404,
        ),
        (
            "unknown provider",
            api.req(Method::POST, "alice", "/v1/connections/myspace/authorize"),
            404,
        ),
        (
            "provider not configured",
            api.req(Method::POST, "alice", "/v1/connections/x/authorize")
                .json(&json!({})),
            501,
        ),
        (
            "open redirect",
            api.req(Method::POST, "alice", "/v1/connections/x/authorize")
                .json(&json!({ "return_to": "https://evil.example/" })),
            422,
        ),
        (
            "return_to with a control character",
            api.req(Method::POST, "alice", "/v1/connections/x/authorize")
                .json(&json!({ "return_to": "http://localhost:3000/\r\nSet-Cookie: x" })),
            422,
        ),
        (
            "callback without state",
            api.client
                .get(format!("{}/v1/connections/x/callback?code=abc", api.base)),
            400,
        ),
        (
            "callback with a forged state",
            api.client.get(format!(
                "{}/v1/connections/x/callback?code=abc&state=forged",
                api.base
            )),
            400,
        ),
        (
            "billing not configured",
            api.req(Method::POST, "alice", "/v1/billing/checkout")
                .json(&json!({ "plan": "pro" })),
            501,
        ),
    ];
    for (name, rb, expected) in cases {
        let (status, body, ct) = api.send(rb).await;
        assert_eq!(status, expected, "{name}: {body}");
        assert_problem(status, &body, &ct);
    }
    let (_, posts) = api.get("alice", "/v1/posts").await;
    assert_eq!(
        posts["items"].as_array().unwrap().len(),
        1,
        "nothing was stored"
    );
}

#[tokio::test]
async fn page_sizes_are_clamped() {
    let api = Api::start().await;
    for i in 0..3 {
        api.post("alice", "/v1/posts", json!({ "name": format!("p{i}") }))
            .await;
    }
    let (status, page) = api.get("alice", "/v1/posts?limit=0").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "0 reads as 1");
    let (status, page) = api.get("alice", "/v1/posts?limit=100000").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(api.get("alice", "/v1/media?limit=0").await.0, 200);
}
