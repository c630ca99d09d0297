//! Object-level authorization: user B touching user A's post, connection or media gets 404
//! and nothing changes — for every route that takes an id; attaching A's media answers as for
//! media that does not exist.

use multivio_domain::media::MediaFile;
use multivio_domain::{MediaId, Provider};
use multivio_ports::media::MediaRepository;
use reqwest::Method;
use serde_json::json;

use crate::{Api, assert_problem};

#[tokio::test]
async fn another_users_ids_are_not_found_on_every_route_and_nothing_changes() {
    let api = Api::start().await;
    let conn = api.connect("alice", Provider::X, "alice_x").await;
    let (status, post) = api
        .post(
            "alice",
            "/v1/posts",
            json!({ "name": "A's post", "universal_content": "hi", "platforms": ["x"] }),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    let post_id = post["id"].as_str().unwrap().to_owned();
    let alice = api.tenant("alice").await;
    let now = chrono::Utc::now();
    let media = MediaFile {
        id: MediaId(uuid::Uuid::new_v4()),
        user_id: alice.user_id,
        filename: "a.jpg".into(),
        original_filename: None,
        file_type: "image/jpeg".into(),
        file_size: 10,
        cdn_url: None,
        thumbnail_url: None,
        platform_compatibility: vec![Provider::X],
        alt_text: None,
        width: None,
        height: None,
        duration_secs: None,
        upload_date: now,
        created_at: now,
        updated_at: now,
    };
    api.store.insert(&alice, &media).await.unwrap();
    let media_id = media.id.0.to_string();
    let conn_id = conn.0.to_string();
    api.tenant("bob").await;

    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let attempts: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/v1/posts/{post_id}"), None),
        (
            Method::PATCH,
            format!("/v1/posts/{post_id}"),
            Some(json!({ "name": "taken over" })),
        ),
        (Method::DELETE, format!("/v1/posts/{post_id}"), None),
        (
            Method::POST,
            format!("/v1/posts/{post_id}/schedule"),
            Some(json!({ "schedule_date": later })),
        ),
        (Method::POST, format!("/v1/posts/{post_id}/publish"), None),
        (Method::POST, format!("/v1/posts/{post_id}/cancel"), None),
        (Method::POST, format!("/v1/posts/{post_id}/retry"), None),
        (
            Method::POST,
            format!("/v1/posts/{post_id}/targets/twitter/review"),
            Some(json!({ "resolution": "resend" })),
        ),
        (
            Method::PATCH,
            format!("/v1/connections/{conn_id}"),
            Some(json!({ "account_label": "mine" })),
        ),
        (
            Method::POST,
            format!("/v1/connections/{conn_id}/primary"),
            None,
        ),
        (Method::DELETE, format!("/v1/connections/{conn_id}"), None),
        (Method::GET, format!("/v1/media/{media_id}"), None),
        (
            Method::PATCH,
            format!("/v1/media/{media_id}"),
            Some(json!({ "alt_text": "mine" })),
        ),
        (Method::DELETE, format!("/v1/media/{media_id}"), None),
    ];
    for (method, path, body) in attempts {
        let mut rb = api.req(method.clone(), "bob", &path);
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        let (status, body, ct) = api.send(rb).await;
        assert_eq!(status, 404, "{method} {path} as bob: {body}");
        assert_problem(status, &body, &ct);
    }

    // Attaching Alice's media to a post of Bob's is answered as for media that never existed:
    // the body's field names an unknown file (the route's own resource, the post, is not what
    // is missing, so 422 rather than 404), and nothing is created.
    let never = uuid::Uuid::new_v4().to_string();
    let mut answers = Vec::new();
    for id in [&media_id, &never] {
        let (status, problem, ct) = api
            .send(api.req(Method::POST, "bob", "/v1/posts").json(&json!({
                "name": "B's post", "universal_content": "hi", "media_files": [id]
            })))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_problem(status, &problem, &ct);
        assert_eq!(problem["errors"][0]["field"], "media_files.0", "{problem}");
        answers.push(problem.to_string().replace(id.as_str(), "<id>"));
    }
    assert_eq!(answers[0], answers[1]);

    // Bob's lists show none of it.
    assert_eq!(api.get("bob", "/v1/posts").await.1["items"], json!([]));
    assert_eq!(
        api.get("bob", "/v1/connections").await.1["items"],
        json!([])
    );
    assert_eq!(api.get("bob", "/v1/media").await.1["items"], json!([]));

    // Alice's things are as they were.
    let (_, after) = api.get("alice", &format!("/v1/posts/{post_id}")).await;
    assert_eq!(after["name"], "A's post");
    assert_eq!(after["status"], "draft");
    let (_, conns) = api.get("alice", "/v1/connections").await;
    assert_eq!(conns["items"][0]["account_label"], "alice_x");
    assert_eq!(conns["items"][0]["is_primary"], true);
    let (_, m) = api.get("alice", &format!("/v1/media/{media_id}")).await;
    assert_eq!(m["alt_text"], serde_json::Value::Null);
    let (_, me) = api.get("alice", "/v1/me").await;
    assert_eq!(me["quota"]["remaining_posts"], 10);
}

#[tokio::test]
async fn every_v1_route_requires_a_valid_token() {
    let api = Api::start().await;
    let id = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, "/v1/me".to_owned()),
        (Method::GET, "/v1/providers".to_owned()),
        (Method::GET, "/v1/connections".to_owned()),
        (Method::GET, "/v1/posts".to_owned()),
        (Method::POST, "/v1/posts".to_owned()),
        (Method::GET, format!("/v1/posts/{id}")),
        (Method::POST, format!("/v1/posts/{id}/publish")),
        (Method::GET, "/v1/media".to_owned()),
        (Method::GET, "/v1/subscription".to_owned()),
    ] {
        for token in [None, Some("garbage"), Some("a.b.c")] {
            let mut rb = api
                .client
                .request(method.clone(), format!("{}{path}", api.base));
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            let (status, body, ct) = api.send(rb).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert_problem(status, &body, &ct);
        }
    }
}
