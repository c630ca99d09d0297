//! The TikTok adapter against the sandbox's fake, in process: OAuth v2 with the client key,
//! the creator's options read before every post, the chunked upload TikTok's rules require,
//! the status polled until published, and TikTok's refusals in plain words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::control;
use multivio_domain::connection::{Connection, Credentials};
use multivio_domain::media::MediaFile;
use multivio_domain::post::Target;
use multivio_domain::{MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::media::MediaBytes;
use multivio_ports::platform::{
    Attachment, OAuthClient, OAuthError, PublishError, PublishRequest, Publisher, Unguarded,
};
use multivio_sandbox::credentials::{TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET};
use multivio_sandbox::{Recorded, Sandbox};
use multivio_social::meta::ContainerPolling;
use multivio_social::tiktok::{Tiktok, TiktokConfig, WHOLE_BELOW};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/v1/connections/tiktok/callback";

fn tiktok(sandbox: &Sandbox) -> Tiktok {
    Tiktok::new(TiktokConfig {
        client_key: TIKTOK_CLIENT_KEY.into(),
        client_secret: Secret::new(TIKTOK_CLIENT_SECRET),
        auth_url: sandbox.tiktok_url(),
        api_url: sandbox.tiktok_url(),
    })
    .unwrap()
    .with_polling(ContainerPolling {
        interval: std::time::Duration::from_millis(5),
        max_polls: 20,
    })
}

async fn authorize(client: &dyn OAuthClient) -> Result<Vec<(Connection, Credentials)>, OAuthError> {
    let (back, accounts) = common::authorize(client, Provider::Tiktok, REDIRECT, "unused").await?;
    assert_eq!(back["scopes"], "user.info.basic,video.publish,video.upload");
    Ok(accounts)
}

fn video(size: usize, duration: Option<f64>) -> Attachment {
    let mut bytes = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    bytes.resize(size, 3);
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "v".into(),
            original_filename: None,
            file_type: "video/mp4".into(),
            file_size: size as u64,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: None,
            width: None,
            height: None,
            duration_secs: duration,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes: MediaBytes::in_memory(bytes),
    }
}

fn request(connection: &Connection, credentials: &Credentials, text: &str) -> PublishRequest {
    PublishRequest {
        post_id: PostId(uuid::Uuid::new_v4()),
        target: Target::primary(Provider::Tiktok),
        connection: connection.clone(),
        credentials: credentials.clone(),
        text: text.into(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: "k".into(),
        name: "Post".into(),
        options: Default::default(),
    }
}

fn requests(sandbox: &Sandbox) -> Vec<Recorded> {
    sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == "tiktok")
        .collect()
}

fn calls(sandbox: &Sandbox, method: &str, path: &str) -> Vec<Recorded> {
    requests(sandbox)
        .into_iter()
        .filter(|r| r.method == method && r.path.starts_with(path))
        .collect()
}

#[tokio::test]
async fn a_creator_connects_and_a_video_goes_out_after_its_creator_info() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let chosen = control(
        format!("{}/_sandbox/next_user", sandbox.tiktok_url()),
        json!({ "username": "bakery" }),
    )
    .await;
    let tt = tiktok(&sandbox);
    let accounts = authorize(&tt).await.unwrap();
    let (account, credentials) = &accounts[0];
    assert_eq!(account.provider_account_id.as_str(), chosen["open_id"]);
    assert_eq!(
        account.account_label.as_ref().unwrap().as_str(),
        "Sandbox bakery"
    );
    assert_eq!(account.metadata["username"], "bakery");
    assert!(credentials.refresh_token.is_some());
    let token = &calls(&sandbox, "POST", "/v2/oauth/token/")[0];
    assert!(token.body.contains("client_key=sbxtiktokclientkey"));

    let mut one = request(account, credentials, "How we bake #bread");
    one.media = vec![video(2000, Some(12.0))];
    let before = requests(&sandbox).len();
    let published = tt.publish(&one, &Unguarded).await.unwrap();
    assert_eq!(
        published.url.as_deref(),
        Some(
            format!(
                "https://www.tiktok.com/@bakery/video/{}",
                published.platform_post_id
            )
            .as_str()
        )
    );
    let paths: Vec<String> = requests(&sandbox)[before..]
        .iter()
        .filter(|r| r.path.starts_with("/v2/post/") || r.path.starts_with("/upload/"))
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /v2/post/publish/creator_info/query/",
            "POST /v2/post/publish/video/init/",
            "PUT /upload/",
            "POST /v2/post/publish/status/fetch/",
            "POST /v2/post/publish/status/fetch/",
        ],
        "the creator's options first, then the upload, then the status until published"
    );
    let init: Value =
        serde_json::from_str(&calls(&sandbox, "POST", "/v2/post/publish/video/init/")[0].body)
            .unwrap();
    assert_eq!(init["post_info"]["title"], "How we bake #bread");
    assert_eq!(init["post_info"]["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(
        init["post_info"]["disable_stitch"], true,
        "the creator has stitches off"
    );
    assert_eq!(
        init["source_info"],
        json!({ "source": "FILE_UPLOAD", "video_size": 2000, "chunk_size": 2000, "total_chunk_count": 1 })
    );
    let put = &calls(&sandbox, "PUT", "/upload/")[0];
    assert_eq!(put.headers["content-range"], "bytes 0-1999/2000");
    assert_eq!(put.content_type.as_deref(), Some("video/mp4"));
    let posts = sandbox.state().posts_of("tiktok").unwrap();
    assert_eq!(posts[0].account, "@bakery");
    assert_eq!(posts[0].text, "How we bake #bread");

    // No video: said plainly.
    let refused = tt
        .publish(&request(account, credentials, "Just words"), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { reason, .. } if reason == "TikTok requires a video"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_large_video_goes_in_chunks_as_tiktok_counts_them() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let tt = tiktok(&sandbox).with_chunk(WHOLE_BELOW);
    let accounts = authorize(&tt).await.unwrap();
    let (account, credentials) = &accounts[0];
    let size = 2 * WHOLE_BELOW + WHOLE_BELOW / 2;
    let mut big = request(account, credentials, "Big");
    big.media = vec![video(size, None)];
    tt.publish(&big, &Unguarded).await.unwrap();
    let init: Value =
        serde_json::from_str(&calls(&sandbox, "POST", "/v2/post/publish/video/init/")[0].body)
            .unwrap();
    assert_eq!(init["source_info"]["chunk_size"], WHOLE_BELOW);
    assert_eq!(init["source_info"]["total_chunk_count"], 2, "rounded down");
    let ranges: Vec<String> = calls(&sandbox, "PUT", "/upload/")
        .iter()
        .map(|r| r.headers["content-range"].clone())
        .collect();
    assert_eq!(
        ranges,
        [
            format!("bytes 0-{}/{size}", WHOLE_BELOW - 1),
            format!("bytes {WHOLE_BELOW}-{}/{size}", size - 1),
        ],
        "the last chunk takes the rest"
    );
}

#[tokio::test]
async fn status_reads_over_tiktok_s_limit_wait_and_never_lead_to_a_second_upload() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let tt = tiktok(&sandbox);
    let accounts = authorize(&tt).await.unwrap();
    let (account, credentials) = &accounts[0];
    let mut post = request(account, credentials, "Limited");
    post.media = vec![video(1000, None)];

    // Two reads refused as over the limit: the adapter reads again and the post is published.
    control(
        format!("{}/_sandbox/rate_limit_status", sandbox.tiktok_url()),
        json!({ "reads": 2 }),
    )
    .await;
    let published = tt.publish(&post, &Unguarded).await.unwrap();
    assert!(!published.platform_post_id.is_empty());
    assert_eq!(
        calls(&sandbox, "POST", "/v2/post/publish/status/fetch/").len(),
        2 + 2,
        "two refused reads, then one processing and one complete"
    );

    // Refused for every read: the video is with TikTok, so the outcome is unknown — not a
    // rate limit the worker would retry by uploading the video again.
    control(
        format!("{}/_sandbox/rate_limit_status", sandbox.tiktok_url()),
        json!({ "reads": 1000 }),
    )
    .await;
    let refused = tt.publish(&post, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Unknown { reason } if reason.contains("still processing")),
        "{refused:?}"
    );
    assert_eq!(
        calls(&sandbox, "PUT", "/upload/").len(),
        2,
        "one upload each"
    );

    // TikTok unavailable for two reads: read again, published.
    control(
        format!("{}/_sandbox/rate_limit_status", sandbox.tiktok_url()),
        json!({ "reads": 2, "status": 503 }),
    )
    .await;
    let published = tt.publish(&post, &Unguarded).await.unwrap();
    assert!(!published.platform_post_id.is_empty());
    // Unavailable for every read: unknown, saying why.
    control(
        format!("{}/_sandbox/rate_limit_status", sandbox.tiktok_url()),
        json!({ "reads": 1000, "status": 503 }),
    )
    .await;
    let refused = tt.publish(&post, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Unknown { reason } if reason.contains("503")),
        "{refused:?}"
    );
    assert_eq!(calls(&sandbox, "PUT", "/upload/").len(), 4);
}

#[tokio::test]
async fn an_unaudited_app_may_post_privately_only_and_says_so() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    control(
        format!("{}/_sandbox/app", sandbox.tiktok_url()),
        json!({ "audited": false }),
    )
    .await;
    let tt = tiktok(&sandbox);
    let accounts = authorize(&tt).await.unwrap();
    let (account, credentials) = &accounts[0];
    let mut public = request(account, credentials, "Hello");
    public.media = vec![video(1000, None)];
    let refused = tt.publish(&public, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { code, reason } if code == "tiktok_private_only" && reason.starts_with("TikTok allows this app to post only privately until it is audited")),
        "{refused:?}"
    );
    assert!(
        calls(&sandbox, "POST", "/v2/post/publish/video/init/").is_empty(),
        "refused before anything was sent"
    );
    let mut private = public.clone();
    private
        .options
        .insert("privacy_level".into(), json!("SELF_ONLY"));
    let published = tt.publish(&private, &Unguarded).await.unwrap();
    assert!(
        published.platform_post_id.starts_with("v_pub_file~"),
        "a private post's publish id"
    );
    assert!(published.url.is_none());
}

#[tokio::test]
async fn a_creator_s_limits_and_tiktok_s_refusals_are_told_in_plain_words() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    control(
        format!("{}/_sandbox/next_user", sandbox.tiktok_url()),
        json!({ "username": "quiet", "private_account": true, "max_duration": 60 }),
    )
    .await;
    let tt = tiktok(&sandbox);
    let accounts = authorize(&tt).await.unwrap();
    let (account, credentials) = &accounts[0];
    let mut public = request(account, credentials, "Hi");
    public.media = vec![video(1000, Some(30.0))];
    let refused = tt.publish(&public, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { code, reason } if code == "tiktok_privacy" && reason.contains("FOLLOWER_OF_CREATOR")),
        "{refused:?}"
    );
    let mut long = public.clone();
    long.options
        .insert("privacy_level".into(), json!("FOLLOWER_OF_CREATOR"));
    long.media = vec![video(1000, Some(90.0))];
    assert!(matches!(
        tt.publish(&long, &Unguarded).await.unwrap_err(),
        PublishError::Rejected { code, .. } if code == "tiktok_video_too_long"
    ));

    control(
        format!("{}/_sandbox/fail_next_publish", sandbox.tiktok_url()),
        json!({ "reason": "frame_rate_check_failed" }),
    )
    .await;
    let mut ok = long.clone();
    ok.media = vec![video(1000, Some(30.0))];
    let failed = tt.publish(&ok, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&failed, PublishError::Rejected { reason, .. } if reason.contains("frame rate")),
        "{failed:?}"
    );

    // Tokens: expired is refused; the refresh token rotates and the old one is dead.
    control(
        format!("{}/_sandbox/expire_tokens", sandbox.tiktok_url()),
        json!({}),
    )
    .await;
    assert!(matches!(
        tt.publish(&ok, &Unguarded).await.unwrap_err(),
        PublishError::Unauthorized { .. }
    ));
    let old = credentials.refresh_token.clone().unwrap();
    let grant = tt.refresh(account, &old).await.unwrap();
    assert!(grant.refresh_token.is_some());
    assert!(matches!(
        tt.refresh(account, &old).await,
        Err(OAuthError::InvalidGrant { .. })
    ));
    ok.credentials = credentials.refreshed(grant);
    tt.publish(&ok, &Unguarded).await.unwrap();
    assert!(tt.dedup_window().is_none());
}
