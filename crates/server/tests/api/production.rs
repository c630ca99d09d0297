//! The application as `multivio serve` builds it, production limits included, and what a
//! repeat finds after a process died mid-request.

use std::sync::Arc;

use multivio::{Application, Overrides};
use multivio_domain::idempotency::IdempotencyKey;
use multivio_domain::post::{Post, PostContent, PostInput, Target};
use multivio_domain::{PostId, Provider};
use multivio_ports::idempotency::{IdempotencyStore, Reservation};
use multivio_ports::posts::{PostChange, PostStore, PostWrite};
use multivio_postgres::testing::TestDb;
use reqwest::Method;
use serde_json::json;

use crate::{Api, RecordingMailer, test_config};

#[tokio::test]
async fn the_default_build_has_the_production_body_limits() {
    let db = TestDb::new().await;
    let data_dir = std::env::temp_dir().join(format!("multivio-prod-{}", uuid::Uuid::new_v4()));
    // No limit flags: what `multivio serve` runs with.
    let config = test_config(&db, &data_dir, &[]);
    assert_eq!(config.max_upload_bytes, 100 * 1024 * 1024);
    let overrides = Overrides {
        mailer: Some(Arc::new(RecordingMailer::default())),
        ..Overrides::default()
    };
    let app = Application::build(&config, overrides).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run(false, std::future::pending()));
    let client = reqwest::Client::new();
    let post = |name_len: usize| {
        let body = format!("{{\"name\":\"{}\"}}", "x".repeat(name_len));
        client
            .post(format!("{base}/v1/posts"))
            .bearer_auth(Api::token("prod"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Just under 1 MiB is read (and refused by the rules: a name is at most 255 characters);
    // just over is refused unread.
    let under = post(1024 * 1024 - 64).await.unwrap();
    assert_eq!(under.status().as_u16(), 422);
    let over = post(1024 * 1024 + 1).await.unwrap();
    assert_eq!(over.status().as_u16(), 413);
    assert!(
        over.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
}

#[tokio::test]
async fn a_request_whose_process_died_after_its_effect_is_answered_not_run_again() {
    let api = Api::start().await;
    let tenant = api.tenant("alice").await;
    let body = json!({ "name": "Once", "universal_content": "hello", "platforms": ["twitter"] });
    let bytes = serde_json::to_vec(&body).unwrap();

    // What a process killed between the effect's commit and the stored answer leaves behind:
    // the key reserved for this exact request, and the post created under that reservation.
    let key = IdempotencyKey::new("crash-1").unwrap();
    let mut fingerprint = b"POST /v1/posts\n".to_vec();
    fingerprint.extend_from_slice(&bytes);
    let Reservation::Reserved(claim) = api
        .store
        .reserve(&tenant, &key, &fingerprint)
        .await
        .unwrap()
    else {
        panic!("the key is new");
    };
    let content = PostContent::parse(PostInput {
        name: "Once".into(),
        universal_content: Some("hello".into()),
        platforms: vec![Target::primary(Provider::X)],
        ..Default::default()
    })
    .unwrap();
    let draft = Post::new_draft(
        PostId(uuid::Uuid::new_v4()),
        tenant.user_id,
        content,
        chrono::Utc::now(),
    );
    let change = PostChange {
        idempotency: Some(claim),
        ..PostChange::write(PostWrite::Insert(draft.clone()))
    };
    api.store.apply(&tenant, change).await.unwrap();

    // The client retries with the same key and body.
    let resp = api
        .req(Method::POST, "alice", "/v1/posts")
        .header("idempotency-key", "crash-1")
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["id"], draft.id.to_string());
    // One post, not two.
    let (_, list) = api.get("alice", "/v1/posts").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
