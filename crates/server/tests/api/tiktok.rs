//! TikTok through the API against the sandbox's fake — OAuth v2 with the client key, the
//! creator's options read before every post, the upload in TikTok's chunks, the status polled
//! until published, the private-only rule of apps TikTok has not audited — with the publishing
//! worker running.

use std::collections::HashMap;

use multivio_sandbox::credentials::TIKTOK_CLIENT_KEY;
use serde_json::{Value, json};

use crate::Api;
use crate::platform_kit::{
    authorization_url, calls, connect, control, mp4, provider_entry, sealed_tokens, upload_file,
};
use crate::platforms::publish;

#[tokio::test]
async fn tiktok_connects_and_posts_a_video_after_reading_the_creator_s_options() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let entry = provider_entry(&api, "tiktok").await;
    assert_eq!(entry["configured"], true, "{entry}");
    assert_eq!(entry["connect_with"], "oauth");
    assert_eq!(entry["sandbox"], true);
    assert_eq!(
        entry["sandbox_server_url"],
        format!("{}/tiktok", sandbox.url()).as_str()
    );

    let url = authorization_url(&api, "alice", "tiktok").await;
    assert_eq!(url.path(), "/tiktok/v2/auth/authorize/");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_key"], TIKTOK_CLIENT_KEY);
    assert_eq!(q["scope"], multivio_social::tiktok::SCOPES);

    let chosen = control(
        format!("{}/_sandbox/next_user", sandbox.tiktok_url()),
        json!({ "username": "bakery" }),
    )
    .await;
    let connections = connect(&api, "alice", "tiktok").await;
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["provider_account_id"], chosen["open_id"]);
    assert_eq!(connections[0]["metadata"]["username"], "bakery");
    let sealed = sealed_tokens(&api, "tiktok").await;
    assert!(
        sealed
            .iter()
            .all(|t| t.starts_with("v1.") && !t.contains("act."))
    );

    let file = upload_file(&api, "alice", mp4(300 * 1024), "bake.mp4").await;
    let before = sandbox.state().requests().len();
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Bake",
            "universal_content": "How we bake #bread",
            "media_files": [file["id"]],
            "platforms": ["tiktok"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["tiktok"];
    let id = result["platform_post_id"].as_str().unwrap();
    assert_eq!(
        result["url"],
        format!("https://www.tiktok.com/@bakery/video/{id}").as_str()
    );
    let order: Vec<String> = sandbox.state().requests()[before..]
        .iter()
        .filter(|r| r.platform == "tiktok")
        .map(|r| r.path.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(order[0], "/v2/post/publish/creator_info/query/");
    assert_eq!(order[1], "/v2/post/publish/video/init/");
    assert_eq!(order[2], "/upload/");
    assert!(
        order[3..]
            .iter()
            .all(|p| p == "/v2/post/publish/status/fetch/")
    );
    let init: Value = serde_json::from_str(
        &calls(&api, "tiktok", "POST", "/v2/post/publish/video/init/")[0].body,
    )
    .unwrap();
    assert_eq!(init["post_info"]["title"], "How we bake #bread");
    assert_eq!(init["post_info"]["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(init["source_info"]["source"], "FILE_UPLOAD");
    assert_eq!(init["source_info"]["video_size"], 300 * 1024);
    let put = &calls(&api, "tiktok", "PUT", "/upload/")[0];
    assert_eq!(
        put.headers["content-range"],
        format!("bytes 0-{}/{}", 300 * 1024 - 1, 300 * 1024)
    );
    let posts = sandbox.state().posts_of("tiktok").unwrap();
    assert_eq!(posts[0].account, "@bakery");
}

#[tokio::test]
async fn an_unaudited_tiktok_app_posts_privately_only_and_the_result_says_so() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    control(
        format!("{}/_sandbox/app", sandbox.tiktok_url()),
        json!({ "audited": false }),
    )
    .await;
    connect(&api, "alice", "tiktok").await;
    let file = upload_file(&api, "alice", mp4(64 * 1024), "clip.mp4").await;
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Public", "universal_content": "For everyone",
            "media_files": [file["id"]], "platforms": ["tiktok"],
        }),
    )
    .await;
    assert_eq!(post["status"], "failed", "{post}");
    let error = &post["publish_results"]["tiktok"]["error"];
    assert_eq!(error["code"], "tiktok_private_only", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("TikTok allows this app to post only privately until it is audited"),
        "{error}"
    );
    assert!(calls(&api, "tiktok", "POST", "/v2/post/publish/video/init/").is_empty());

    // Asked for privately, it goes out (with no public id or link).
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Private", "universal_content": "Just me",
            "media_files": [file["id"]],
            "platform_content": { "tiktok": { "privacy_level": "SELF_ONLY" } },
            "platforms": ["tiktok"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["tiktok"];
    assert!(
        result["platform_post_id"]
            .as_str()
            .unwrap()
            .starts_with("v_pub_file~")
    );
    assert!(result["url"].is_null());
}

#[tokio::test]
async fn tiktok_needs_a_video() {
    let api = Api::start_with_sandbox().await;
    connect(&api, "alice", "tiktok").await;
    let (status, verdict) = api
        .post(
            "alice",
            "/v1/posts/validate",
            json!({ "name": "Text", "universal_content": "Just text", "platforms": ["tiktok"] }),
        )
        .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["platforms"]["tiktok"]["valid"], false, "{verdict}");
}
