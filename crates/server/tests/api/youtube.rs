//! YouTube through the API against the sandbox's fake — Google's OAuth with offline access and
//! PKCE, the channel as the account, and the resumable upload checked as Google documents it
//! (the session's metadata and headers, chunks of 256 KiB multiples in order, status queries)
//! — with the publishing worker running.

use std::collections::HashMap;

use multivio_sandbox::credentials::YOUTUBE_CLIENT_ID;
use serde_json::{Value, json};

use crate::Api;
use crate::platform_kit::{
    authorization_url, calls, connect, control, expire_connections, mp4, provider_entry,
    sealed_tokens, upload_file,
};
use crate::platforms::publish;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_youtube_upload_interrupted_after_the_first_chunk_resumes_into_one_complete_video() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let entry = provider_entry(&api, "youtube").await;
    assert_eq!(entry["configured"], true, "{entry}");
    assert_eq!(entry["connect_with"], "oauth");
    assert_eq!(entry["sandbox"], true);
    assert_eq!(
        entry["sandbox_server_url"],
        format!("{}/youtube", sandbox.url()).as_str()
    );

    // Google's consent page: offline access, consent every time, PKCE.
    let url = authorization_url(&api, "alice", "youtube").await;
    assert_eq!(url.path(), "/youtube/o/oauth2/v2/auth");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], YOUTUBE_CLIENT_ID);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], multivio_social::youtube::SCOPES);

    let chosen = control(
        format!("{}/_sandbox/next_user", sandbox.youtube_url()),
        json!({ "name": "Bake Club" }),
    )
    .await;
    let connections = connect(&api, "alice", "youtube").await;
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["provider_account_id"], chosen["channel_id"]);
    assert_eq!(connections[0]["account_label"], "Bake Club");
    assert_eq!(connections[0]["is_primary"], true);
    let sealed = sealed_tokens(&api, "youtube").await;
    assert!(
        sealed
            .iter()
            .all(|t| t.starts_with("v1.") && !t.contains("ya29.sbx-"))
    );

    // A 9 MiB video goes in two chunks (8 MiB, then the rest); the second is cut short.
    control(
        format!("{}/_sandbox/interrupt_upload", sandbox.youtube_url()),
        json!({ "after_chunks": 1, "keep_bytes": 0, "status": 503 }),
    )
    .await;
    let bytes = mp4(9 * MIB);
    let file = upload_file(&api, "alice", bytes.clone(), "launch.mp4").await;
    assert_eq!(file["file_type"], "video/mp4", "{file}");
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Launch",
            "universal_content": "Our launch, in one minute",
            "media_files": [file["id"]],
            "platform_content": { "youtube": { "title": "Launch day", "privacy_status": "private" } },
            "platforms": ["youtube"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["youtube"];
    let id = result["platform_post_id"].as_str().unwrap();
    assert_eq!(
        result["url"],
        format!("https://www.youtube.com/watch?v={id}").as_str()
    );

    let start = &calls(&api, "youtube", "POST", "/upload/youtube/v3/videos")[0];
    let resource: Value = serde_json::from_str(&start.body).unwrap();
    assert_eq!(resource["snippet"]["title"], "Launch day");
    assert_eq!(
        resource["snippet"]["description"],
        "Our launch, in one minute"
    );
    assert_eq!(resource["status"]["privacyStatus"], "private");
    assert_eq!(
        start.headers["x-upload-content-length"],
        (9 * MIB).to_string()
    );
    let total = 9 * MIB;
    let ranges: Vec<String> = calls(&api, "youtube", "PUT", "/upload/youtube/v3/videos")
        .iter()
        .map(|r| r.headers["content-range"].clone())
        .collect();
    assert_eq!(
        ranges,
        [
            format!("bytes 0-{}/{total}", 8 * MIB - 1),
            format!("bytes {}-{}/{total}", 8 * MIB, total - 1),
            format!("bytes */{total}"),
            format!("bytes {}-{}/{total}", 8 * MIB, total - 1),
        ]
    );
    let videos = sandbox.state().posts_of("youtube").unwrap();
    assert_eq!(videos.len(), 1, "one complete video: {videos:?}");
    let sha = multivio_sandbox::digest(&bytes);
    assert_eq!(
        videos[0].media,
        [format!("video/mp4 ({total} bytes, sha256 {sha}, private)")]
    );
    assert_eq!(videos[0].account, "Bake Club");
}

#[tokio::test]
async fn youtube_needs_a_video_and_says_so() {
    let api = Api::start_with_sandbox().await;
    connect(&api, "alice", "youtube").await;
    let (status, refused) = api
        .post(
            "alice",
            "/v1/posts/validate",
            json!({ "name": "Text", "universal_content": "Just text", "platforms": ["youtube"] }),
        )
        .await;
    assert_eq!(status, 200, "{refused}");
    assert_eq!(refused["platforms"]["youtube"]["valid"], false, "{refused}");
    let (status, refused) = api
        .post(
            "alice",
            "/v1/posts",
            json!({
                "name": "Bad",
                "universal_content": "x",
                "platform_content": { "youtube": { "privacy_status": "everyone" } },
                "platforms": ["youtube"],
            }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("platform_content.youtube.privacy_status"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_expired_youtube_token_is_refreshed_before_the_upload() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    connect(&api, "alice", "youtube").await;
    // Google's hour is over: the token is refused, and the stored expiry says so.
    control(
        format!("{}/_sandbox/expire_tokens", sandbox.youtube_url()),
        json!({}),
    )
    .await;
    expire_connections(&api, "youtube").await;
    let file = upload_file(&api, "alice", mp4(64 * 1024), "clip.mp4").await;
    let post = publish(
        &api,
        "alice",
        json!({ "name": "Clip", "media_files": [file["id"]], "platforms": ["youtube"] }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let refreshes: Vec<_> = calls(&api, "youtube", "POST", "/token")
        .into_iter()
        .filter(|r| r.body.contains("grant_type=refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1);
    let start = &calls(&api, "youtube", "POST", "/upload/youtube/v3/videos")[0];
    let resource: Value = serde_json::from_str(&start.body).unwrap();
    assert_eq!(resource["snippet"]["title"], "Clip", "the post's name");
    assert_eq!(resource["status"]["privacyStatus"], "public");
    assert!(resource["snippet"].get("description").is_none());
}
