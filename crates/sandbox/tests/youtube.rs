//! The YouTube adapter against the sandbox's fake, in process: Google's OAuth with offline
//! access and PKCE, the channel as the account, and resumable uploads that resume after an
//! interruption from the byte Google acknowledged.
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
use multivio_sandbox::credentials::{YOUTUBE_CLIENT_ID, YOUTUBE_CLIENT_SECRET};
use multivio_sandbox::{Recorded, Sandbox};
use multivio_social::youtube::{Youtube, YoutubeConfig};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/v1/connections/youtube/callback";
const KIB: usize = 1024;

fn youtube(sandbox: &Sandbox) -> Youtube {
    Youtube::new(YoutubeConfig {
        client_id: YOUTUBE_CLIENT_ID.into(),
        client_secret: Secret::new(YOUTUBE_CLIENT_SECRET),
        auth_url: sandbox.youtube_url(),
        token_url: sandbox.youtube_url(),
        api_url: sandbox.youtube_url(),
    })
    .unwrap()
    .with_resume_delay(std::time::Duration::from_millis(5))
}

async fn authorize(client: &dyn OAuthClient) -> Result<Vec<(Connection, Credentials)>, OAuthError> {
    let (_, accounts) = common::authorize(
        client,
        Provider::Youtube,
        REDIRECT,
        "a-pkce-verifier-of-enough-length-0123456789abcdef",
    )
    .await?;
    Ok(accounts)
}

/// An MP4-looking file of `size` bytes (its bytes differ with `seed`).
fn video_bytes(size: usize, seed: u32) -> Vec<u8> {
    let mut bytes = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    let mut state = seed;
    while bytes.len() < size {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.push((state >> 16) as u8);
    }
    bytes
}

fn video(bytes: Vec<u8>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "v".into(),
            original_filename: None,
            file_type: "video/mp4".into(),
            file_size: bytes.len() as u64,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: None,
            width: None,
            height: None,
            duration_secs: None,
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
        target: Target::primary(Provider::Youtube),
        connection: connection.clone(),
        credentials: credentials.clone(),
        text: text.into(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: "k".into(),
        name: "Launch <day>".into(),
        options: Default::default(),
    }
}

fn requests(sandbox: &Sandbox, method: &str, path: &str) -> Vec<Recorded> {
    sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == "youtube" && r.method == method && r.path.starts_with(path))
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    multivio_sandbox::digest(bytes)
}

/// The `Content-Range` of every upload request the fake received, in order.
fn upload_ranges(sandbox: &Sandbox) -> Vec<String> {
    requests(sandbox, "PUT", "/upload/youtube/v3/videos")
        .iter()
        .map(|r| r.headers["content-range"].clone())
        .collect()
}

#[tokio::test]
async fn the_channel_connects_with_offline_access_and_pkce() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let chosen = control(
        format!("{}/_sandbox/next_user", sandbox.youtube_url()),
        json!({ "name": "Bake Club" }),
    )
    .await;
    let yt = youtube(&sandbox);
    let accounts = authorize(&yt).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let (channel, credentials) = &accounts[0];
    assert_eq!(channel.provider_account_id.as_str(), chosen["channel_id"]);
    assert_eq!(
        channel.account_label.as_ref().unwrap().as_str(),
        "Bake Club"
    );
    assert_eq!(channel.metadata["custom_url"], "@bakeclub");
    assert!(credentials.refresh_token.is_some(), "offline access");
    let token = &requests(&sandbox, "POST", "/token")[0];
    assert!(token.body.contains("code_verifier="), "{}", token.body);
    assert!(token.body.contains("grant_type=authorization_code"));

    // Refreshed with the same refresh token; revoked, it is dead.
    let refresh = credentials.refresh_token.clone().unwrap();
    let grant = yt.refresh(channel, &refresh).await.unwrap();
    assert!(
        grant.refresh_token.is_none(),
        "Google keeps the refresh token"
    );
    yt.revoke(channel, credentials).await.unwrap();
    assert!(matches!(
        yt.refresh(channel, &refresh).await,
        Err(OAuthError::InvalidGrant { .. })
    ));

    // A Google account without a channel is told so.
    control(
        format!("{}/_sandbox/next_user", sandbox.youtube_url()),
        json!({ "name": "No Channel", "channel": false }),
    )
    .await;
    let refused = authorize(&yt).await.unwrap_err();
    assert!(
        matches!(&refused, OAuthError::Rejected { code, .. } if code == "youtube_no_channel"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_video_is_uploaded_resumably_with_its_title_description_and_privacy() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yt = youtube(&sandbox).with_chunk(256 * KIB);
    let accounts = authorize(&yt).await.unwrap();
    let (channel, credentials) = &accounts[0];
    let bytes = video_bytes(600 * KIB, 1);
    let mut one = request(channel, credentials, "Our launch, in one minute");
    one.media = vec![video(bytes.clone())];
    one.options
        .insert("privacy_status".into(), json!("unlisted"));
    let published = yt.publish(&one, &Unguarded).await.unwrap();
    assert_eq!(
        published.url.as_deref(),
        Some(
            format!(
                "https://www.youtube.com/watch?v={}",
                published.platform_post_id
            )
            .as_str()
        )
    );

    let start = &requests(&sandbox, "POST", "/upload/youtube/v3/videos")[0];
    assert!(
        start.path.contains("uploadType=resumable"),
        "{}",
        start.path
    );
    assert!(
        start.path.contains("part=snippet%2Cstatus") || start.path.contains("part=snippet,status")
    );
    assert_eq!(
        start.headers["x-upload-content-length"],
        bytes.len().to_string()
    );
    assert_eq!(start.headers["x-upload-content-type"], "video/mp4");
    let resource: Value = serde_json::from_str(&start.body).unwrap();
    assert_eq!(
        resource["snippet"]["title"], "Launch day",
        "the post's name, made acceptable"
    );
    assert_eq!(
        resource["snippet"]["description"],
        "Our launch, in one minute"
    );
    assert_eq!(resource["status"]["privacyStatus"], "unlisted");
    assert_eq!(resource["status"]["selfDeclaredMadeForKids"], false);
    let ranges = upload_ranges(&sandbox);
    assert_eq!(
        ranges,
        [
            "bytes 0-262143/614400",
            "bytes 262144-524287/614400",
            "bytes 524288-614399/614400",
        ]
    );
    let posts = sandbox.state().posts_of("youtube").unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].media,
        [format!(
            "video/mp4 (614400 bytes, sha256 {}, unlisted)",
            sha256(&bytes)
        )]
    );

    // The same bytes again: YouTube rejects the duplicate.
    let refused = yt.publish(&one, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { code, .. } if code == "duplicate"),
        "{refused:?}"
    );
    // No video: said plainly.
    let refused = yt
        .publish(&request(channel, credentials, "Text only"), &Unguarded)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { reason, .. } if reason.contains("YouTube requires a video")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_upload_interrupted_after_the_first_chunk_resumes_from_the_acknowledged_byte() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yt = youtube(&sandbox).with_chunk(512 * KIB);
    let accounts = authorize(&yt).await.unwrap();
    let (channel, credentials) = &accounts[0];
    // The second chunk is cut short after 256 KiB of it arrived.
    control(
        format!("{}/_sandbox/interrupt_upload", sandbox.youtube_url()),
        json!({ "after_chunks": 1, "keep_bytes": 256 * KIB, "status": 503 }),
    )
    .await;
    let bytes = video_bytes(1300 * KIB, 2);
    let mut one = request(channel, credentials, "Resumed");
    one.media = vec![video(bytes.clone())];
    yt.publish(&one, &Unguarded).await.unwrap();
    let ranges = upload_ranges(&sandbox);
    assert_eq!(
        ranges,
        [
            "bytes 0-524287/1331200",
            "bytes 524288-1048575/1331200",
            "bytes */1331200",
            "bytes 786432-1310719/1331200",
            "bytes 1310720-1331199/1331200",
        ],
        "after the status query, the upload goes on from the byte after Google's Range"
    );
    let posts = sandbox.state().posts_of("youtube").unwrap();
    assert_eq!(posts.len(), 1, "one complete video");
    assert!(posts[0].media[0].contains(&format!("1331200 bytes, sha256 {}", sha256(&bytes))));
}

#[tokio::test]
async fn an_expired_upload_session_starts_over_unless_its_last_chunk_left() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yt = youtube(&sandbox).with_chunk(512 * KIB);
    let accounts = authorize(&yt).await.unwrap();
    let (channel, credentials) = &accounts[0];
    let bytes = video_bytes(1300 * KIB, 3);
    let mut post = request(channel, credentials, "Expired");
    post.media = vec![video(bytes.clone())];
    // Expired before its second chunk: no video, so the next attempt uploads it again.
    control(
        format!("{}/_sandbox/interrupt_upload", sandbox.youtube_url()),
        json!({ "after_chunks": 1, "expire_session": true }),
    )
    .await;
    let refused = yt.publish(&post, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Transient { reason } if reason.contains("expired")),
        "{refused:?}"
    );
    assert!(
        sandbox
            .state()
            .posts_of("youtube")
            .unwrap_or_default()
            .is_empty()
    );
    yt.publish(&post, &Unguarded).await.unwrap();
    assert_eq!(sandbox.state().posts_of("youtube").unwrap().len(), 1);
    // Expired as its last chunk left: the video may exist — unknown, never sent again.
    control(
        format!("{}/_sandbox/interrupt_upload", sandbox.youtube_url()),
        json!({ "after_chunks": 2, "expire_session": true }),
    )
    .await;
    let mut last = request(channel, credentials, "Expired at the end");
    last.media = vec![video(video_bytes(1300 * KIB, 4))];
    let refused = yt.publish(&last, &Unguarded).await.unwrap_err();
    assert!(
        matches!(refused, PublishError::Unknown { .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_last_chunk_that_cannot_be_checked_is_an_unknown_outcome_not_a_retry() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yt = youtube(&sandbox).with_chunk(512 * KIB);
    let accounts = authorize(&yt).await.unwrap();
    let (channel, credentials) = &accounts[0];
    // The last chunk is cut short, and the token runs out with it: the status query is
    // refused (401). The video may exist; a retry would upload it again in a new session.
    control(
        format!("{}/_sandbox/interrupt_upload", sandbox.youtube_url()),
        json!({ "after_chunks": 2, "keep_bytes": 0, "status": 503, "expire_tokens": true }),
    )
    .await;
    let mut one = request(channel, credentials, "Unchecked");
    one.media = vec![video(video_bytes(1300 * KIB, 3))];
    let refused = yt.publish(&one, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Unknown { reason } if reason.contains("may have been created")),
        "{refused:?}"
    );
    let ranges = upload_ranges(&sandbox);
    assert_eq!(
        ranges.last().map(String::as_str),
        Some("bytes */1331200"),
        "the query was made, and nothing sent after it"
    );
}

#[tokio::test]
async fn an_upload_that_never_advances_ends_as_a_passing_failure() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yt = youtube(&sandbox).with_chunk(256 * KIB);
    let accounts = authorize(&yt).await.unwrap();
    let (channel, credentials) = &accounts[0];
    // After the first chunk, Google keeps answering 308 with the same Range.
    control(
        format!("{}/_sandbox/interrupt_upload", sandbox.youtube_url()),
        json!({ "after_chunks": 1, "stall": true }),
    )
    .await;
    let mut one = request(channel, credentials, "Stuck");
    one.media = vec![video(video_bytes(1300 * KIB, 4))];
    let refused = yt.publish(&one, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Transient { reason } if reason.contains("made no progress") && reason.contains("holds 262144 of 1331200")),
        "{refused:?}"
    );
    let ranges = upload_ranges(&sandbox);
    // The first chunk, then the second sent again and again: a bounded number of times.
    assert_eq!(ranges[0], "bytes 0-262143/1331200");
    assert!(
        ranges[1..]
            .iter()
            .all(|r| r == "bytes 262144-524287/1331200"),
        "{ranges:?}"
    );
    assert_eq!(ranges.len(), 1 + 9, "{ranges:?}");
    assert!(
        sandbox
            .state()
            .posts_of("youtube")
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn refusals_are_told_as_youtube_means_them() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yt = youtube(&sandbox);
    let accounts = authorize(&yt).await.unwrap();
    let (channel, credentials) = &accounts[0];
    let mut bad_title = request(channel, credentials, "x");
    bad_title.media = vec![video(video_bytes(10 * KIB, 3))];
    bad_title
        .options
        .insert("privacy_status".into(), json!("everyone"));
    assert!(matches!(
        yt.publish(&bad_title, &Unguarded).await.unwrap_err(),
        PublishError::Rejected { code, .. } if code == "invalid_options"
    ));
    control(
        format!("{}/_sandbox/expire_tokens", sandbox.youtube_url()),
        json!({}),
    )
    .await;
    let mut ok = request(channel, credentials, "x");
    ok.media = vec![video(video_bytes(10 * KIB, 4))];
    assert!(matches!(
        yt.publish(&ok, &Unguarded).await.unwrap_err(),
        PublishError::Unauthorized { .. }
    ));
    assert!(yt.dedup_window().is_none());
}
