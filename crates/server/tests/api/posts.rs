//! Posts over HTTP: create, validate, schedule with quota, cancel, idempotency, rate limits,
//! and the profile and verification routes.

use multivio_domain::Provider;
use reqwest::Method;
use serde_json::json;

use crate::{Api, assert_problem};

fn later(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

#[tokio::test]
async fn a_post_goes_from_draft_to_scheduled_and_back_with_its_quota() {
    let api = Api::start().await;
    api.connect("alice", Provider::X, "alice_x").await;
    api.connect("alice", Provider::Bluesky, "alice.bsky.social")
        .await;
    let (status, post) = api
        .post(
            "alice",
            "/v1/posts",
            json!({ "name": "Launch", "universal_content": "We launched! https://example.com", "platforms": ["x", "bluesky"] }),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    assert_eq!(post["status"], "draft");
    assert_eq!(post["platforms"], json!(["twitter", "bluesky"]));
    let id = post["id"].as_str().unwrap().to_owned();

    let (status, scheduled) = api
        .post(
            "alice",
            &format!("/v1/posts/{id}/schedule"),
            json!({ "schedule_date": later(1) }),
        )
        .await;
    assert_eq!(status, 200, "{scheduled}");
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(
        api.get("alice", "/v1/me").await.1["quota"]["remaining_posts"],
        9,
        "one unit for two platforms"
    );

    // Editing a scheduled post is allowed; scheduling again does not consume again.
    let (status, edited) = api
        .send(
            api.req(Method::PATCH, "alice", &format!("/v1/posts/{id}"))
                .json(&json!({ "universal_content": "We launched!" })),
        )
        .await
        .into_parts();
    assert_eq!(status, 200, "{edited}");
    api.post(
        "alice",
        &format!("/v1/posts/{id}/schedule"),
        json!({ "schedule_date": later(2) }),
    )
    .await;
    assert_eq!(
        api.get("alice", "/v1/me").await.1["quota"]["remaining_posts"],
        9
    );

    let (status, cancelled) = api
        .post("alice", &format!("/v1/posts/{id}/cancel"), json!(null))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "draft");
    assert_eq!(
        api.get("alice", "/v1/me").await.1["quota"]["remaining_posts"],
        10,
        "refunded"
    );

    // Cancelling a draft is an illegal transition.
    let (status, body, ct) = api
        .send(api.req(Method::POST, "alice", &format!("/v1/posts/{id}/cancel")))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(status, &body, &ct);

    let (status, _) = api
        .send(api.req(Method::DELETE, "alice", &format!("/v1/posts/{id}")))
        .await
        .into_parts();
    assert_eq!(status, 204);
    assert_eq!(api.get("alice", &format!("/v1/posts/{id}")).await.0, 404);
}

#[tokio::test]
async fn publishing_now_answers_202_and_the_quota_runs_out() {
    let api = Api::start().await;
    api.connect("alice", Provider::Mastodon, "alice@example.social")
        .await;
    let mut last = None;
    for i in 0..11 {
        let (_, post) = api
            .post("alice", "/v1/posts", json!({ "name": format!("p{i}"), "universal_content": "hi", "platforms": ["mastodon"] }))
            .await;
        let id = post["id"].as_str().unwrap().to_owned();
        let (status, body, ct) = api
            .send(api.req(Method::POST, "alice", &format!("/v1/posts/{id}/publish")))
            .await;
        if i < 10 {
            assert_eq!(status, 202, "{body}");
            assert_eq!(body["status"], "publishing");
        } else {
            assert_eq!(status, 429, "{body}");
            assert_problem(status, &body, &ct);
            assert!(body["type"].as_str().unwrap().ends_with("quota-exceeded"));
            assert_eq!(body["monthly_post_quota"], 10);
            last = Some(id);
        }
    }
    let id = last.unwrap();
    assert_eq!(
        api.get("alice", &format!("/v1/posts/{id}")).await.1["status"],
        "draft"
    );
    assert_eq!(
        api.get("alice", "/v1/me").await.1["quota"]["remaining_posts"],
        0
    );
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer() {
    let api = Api::start().await;
    let body = json!({ "name": "once", "universal_content": "hello" });
    let send = |key: &str, body: &serde_json::Value| {
        api.req(Method::POST, "alice", "/v1/posts")
            .header("idempotency-key", key)
            .json(body)
    };
    let (s1, first, _) = api.send(send("k-1", &body)).await;
    let (s2, second, _) = api.send(send("k-1", &body)).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first["id"], second["id"], "the same post");
    let (status, problem, ct) = api.send(send("k-1", &json!({ "name": "other" }))).await;
    assert_eq!(status, 422);
    assert_problem(status, &problem, &ct);
    // Another user's identical key is theirs.
    let (status, bobs, _) = api
        .send(
            api.req(Method::POST, "bob", "/v1/posts")
                .header("idempotency-key", "k-1")
                .json(&body),
        )
        .await;
    assert_eq!(status, 201);
    assert_ne!(bobs["id"], first["id"]);
    assert_eq!(
        api.get("alice", "/v1/posts").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Publishing twice with one key consumes once.
    api.connect("alice", Provider::X, "alice").await;
    let id = first["id"].as_str().unwrap();
    api.send(
        api.req(Method::PATCH, "alice", &format!("/v1/posts/{id}"))
            .json(&json!({ "platforms": ["x"] })),
    )
    .await;
    for _ in 0..2 {
        let (status, body, _) = api
            .send(
                api.req(Method::POST, "alice", &format!("/v1/posts/{id}/publish"))
                    .header("idempotency-key", "pub-1"),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    assert_eq!(
        api.get("alice", "/v1/me").await.1["quota"]["remaining_posts"],
        9
    );
}

#[tokio::test]
async fn publishing_is_rate_limited_per_user() {
    let api = Api::start_with(2).await;
    let id = uuid::Uuid::new_v4();
    for _ in 0..2 {
        let (status, _, _) = api
            .send(api.req(Method::POST, "alice", &format!("/v1/posts/{id}/publish")))
            .await;
        assert_eq!(status, 404);
    }
    let resp = api
        .req(Method::POST, "alice", &format!("/v1/posts/{id}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let (status, _, _) = api
        .send(api.req(Method::POST, "bob", &format!("/v1/posts/{id}/publish")))
        .await;
    assert_eq!(status, 404, "another user is not limited");
}

#[tokio::test]
async fn validate_counts_as_each_platform_counts_and_stores_nothing() {
    let api = Api::start().await;
    let (status, report) = api
        .post(
            "alice",
            "/v1/posts/validate",
            json!({ "name": "x", "universal_content": "Hello 👋 https://example.com/a/very/long/path?x=1 and https://t.co/x", "platforms": ["x", "bluesky", "instagram"] }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false);
    assert_eq!(report["platforms"]["twitter"]["length"], 60);
    assert_eq!(report["platforms"]["twitter"]["limit"], 280);
    assert_eq!(report["platforms"]["bluesky"]["valid"], true);
    assert_eq!(
        report["platforms"]["instagram"]["errors"][0]["code"],
        "media_required"
    );
    assert_eq!(api.get("alice", "/v1/posts").await.1["items"], json!([]));

    // A thread: each part after the first gets its own verdict, with the reason.
    let (status, report) = api
        .post(
            "alice",
            "/v1/posts/validate",
            json!({ "name": "t", "universal_content": "first", "platforms": ["x"],
                    "thread": [{ "text": "x".repeat(290) }] }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let x = &report["platforms"]["twitter"];
    assert_eq!(x["valid"], false, "{report}");
    assert_eq!(x["errors"], json!([]), "the first part is fine");
    assert_eq!(x["parts"][0]["valid"], false, "{report}");
    assert_eq!(x["parts"][0]["length"], 290);
    assert_eq!(x["parts"][0]["errors"][0]["code"], "too_long", "{report}");
}

#[tokio::test]
async fn profile_username_conflicts_and_email_verification() {
    let api = Api::start().await;
    let (status, me) = api
        .send(
            api.req(Method::PATCH, "alice", "/v1/me")
                .json(&json!({ "username": "alice", "bio": "hello" })),
        )
        .await
        .into_parts();
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "alice");
    let (status, body, ct) = api
        .send(
            api.req(Method::PATCH, "bob", "/v1/me")
                .json(&json!({ "username": "alice" })),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(status, &body, &ct);

    // Emulator tokens in these tests say the email is verified: sending is refused.
    let (status, _, _) = api
        .send(api.req(Method::POST, "alice", "/v1/me/email-verification"))
        .await;
    assert_eq!(status, 409);

    let (status, _, _) = api.send(api.req(Method::DELETE, "alice", "/v1/me")).await;
    assert_eq!(status, 204);
    // The next request signs a new account in.
    assert_eq!(
        api.get("alice", "/v1/me").await.1["username"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn health_metrics_and_docs_are_served() {
    let api = Api::start().await;
    api.get("alice", "/v1/posts").await;
    let text = |path: &str| {
        let url = format!("{}{path}", api.base);
        let client = api.client.clone();
        async move {
            let resp = client.get(url).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(text("/healthz").await.0, 200);
    assert_eq!(text("/readyz").await.0, 200);
    let (status, metrics) = text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"multivio_http_requests_total{method="GET",route="/v1/posts",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("multivio_db_pool_connections"));
    assert!(metrics.contains(r#"multivio_job_queue_depth{status="pending"} 0"#));
    let (status, spec) = text("/openapi.json").await;
    assert_eq!(status, 200);
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let (status, page) = text("/docs/").await;
    assert_eq!(status, 200);
    assert!(page.contains("swagger-ui"), "{page}");
    // /docs, as the README names it, leads to the page (the client follows redirects).
    let (status, page) = text("/docs").await;
    assert_eq!(status, 200);
    assert!(page.contains("swagger-ui"), "{page}");
}

trait IntoParts {
    fn into_parts(self) -> (u16, serde_json::Value);
}

impl IntoParts for (u16, serde_json::Value, String) {
    fn into_parts(self) -> (u16, serde_json::Value) {
        (self.0, self.1)
    }
}

/// A post of Alice's to X whose send was interrupted: X's target needs review.
async fn post_needing_review(api: &Api) -> String {
    use multivio_domain::post::{Post, PostContent, PostInput, Target, TargetError, TargetOutcome};
    use multivio_ports::posts::{PostChange, PostStore, PostWrite};
    let tenant = api.tenant("alice").await;
    let content = PostContent::parse(PostInput {
        name: "Interrupted".into(),
        universal_content: Some("hello".into()),
        platforms: vec![Target::primary(Provider::X)],
        ..Default::default()
    })
    .unwrap();
    let now = chrono::Utc::now();
    let mut post = Post::new_draft(
        multivio_domain::PostId(uuid::Uuid::new_v4()),
        tenant.user_id,
        content,
        now,
    );
    post.start_publishing(now).unwrap();
    post.record_outcome(
        "twitter",
        TargetOutcome::NeedsReview(TargetError::new("interrupted", "check the account")),
        now,
    )
    .unwrap();
    let id = post.id.0.to_string();
    api.store
        .apply(&tenant, PostChange::write(PostWrite::Insert(post)))
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_target_needing_review_is_resolved_as_published_or_sent_again() {
    let api = Api::start().await;
    let id = post_needing_review(&api).await;
    let path = format!("/v1/posts/{id}/targets/twitter/review");
    let (_, post) = api.get("alice", &format!("/v1/posts/{id}")).await;
    assert_eq!(post["status"], "failed");
    assert_eq!(post["publish_results"]["twitter"]["status"], "needs_review");

    // Bad requests change nothing.
    for (body, field) in [
        (json!({ "resolution": "maybe" }), "resolution"),
        (
            json!({ "resolution": "published", "url": "javascript:alert(1)" }),
            "url",
        ),
        (
            json!({ "resolution": "resend", "url": "https://x.com/a/status/1" }),
            "url",
        ),
    ] {
        let (status, problem, ct) = api
            .send(api.req(Method::POST, "alice", &path).json(&body))
            .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_problem(status, &problem, &ct);
        assert!(problem.to_string().contains(field), "{problem}");
    }
    let (status, _) = api
        .post(
            "alice",
            &format!("/v1/posts/{id}/targets/bluesky/review"),
            json!({ "resolution": "resend" }),
        )
        .await;
    assert_eq!(status, 404, "no such target");

    // The person found it on X.
    let (status, post) = api
        .post(
            "alice",
            &path,
            json!({ "resolution": "published", "url": "https://x.com/alice/status/42" }),
        )
        .await;
    assert_eq!(status, 200, "{post}");
    assert_eq!(post["status"], "published");
    assert_eq!(post["publish_results"]["twitter"]["status"], "published");
    assert_eq!(
        post["publish_results"]["twitter"]["url"],
        "https://x.com/alice/status/42"
    );
    // Resolved once: the target no longer needs review.
    let (status, _) = api
        .post("alice", &path, json!({ "resolution": "resend" }))
        .await;
    assert_eq!(status, 409);

    // Another one the person did not find: it is sent again, by a new job.
    let id = post_needing_review(&api).await;
    let (status, post) = api
        .post(
            "alice",
            &format!("/v1/posts/{id}/targets/twitter/review"),
            json!({ "resolution": "resend" }),
        )
        .await;
    assert_eq!(status, 200, "{post}");
    assert_eq!(post["status"], "publishing");
    assert_eq!(post["publish_results"]["twitter"]["status"], "pending");
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = api.db.pool().get().await.unwrap();
    let jobs: N = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM publish_jobs WHERE post_id = '{id}' AND status = 'pending'"
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(jobs.n, 1);
}
