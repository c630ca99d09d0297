//! The Pinterest adapter against the sandbox's fake, in process: OAuth with HTTP Basic, the
//! boards in the connection's metadata, image pins by URL and video pins through a registered,
//! uploaded and processed video.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::control;
use multivio_domain::connection::{AccountType, Connection, Credentials};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::post::Target;
use multivio_domain::{MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::media::MediaBytes;
use multivio_ports::platform::{
    Attachment, OAuthClient, OAuthError, PublishError, PublishRequest, Publisher, Unguarded,
};
use multivio_sandbox::credentials::{PINTEREST_APP_ID, PINTEREST_APP_SECRET};
use multivio_sandbox::{Recorded, Sandbox};
use multivio_social::meta::ContainerPolling;
use multivio_social::pinterest::{Pinterest, PinterestConfig};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/v1/connections/pinterest/callback";

fn pinterest(sandbox: &Sandbox) -> Pinterest {
    Pinterest::new(PinterestConfig {
        client_id: PINTEREST_APP_ID.into(),
        client_secret: Secret::new(PINTEREST_APP_SECRET),
        auth_url: sandbox.pinterest_url(),
        api_url: sandbox.pinterest_url(),
    })
    .unwrap()
    .with_polling(ContainerPolling {
        interval: std::time::Duration::from_millis(5),
        max_polls: 20,
    })
}

async fn authorize(client: &dyn OAuthClient) -> Result<Vec<(Connection, Credentials)>, OAuthError> {
    let (_, accounts) = common::authorize(client, Provider::Pinterest, REDIRECT, "unused").await?;
    Ok(accounts)
}

fn file(mime: &str, url: &str, bytes: Vec<u8>, alt: Option<&str>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "f".into(),
            original_filename: None,
            file_type: mime.into(),
            file_size: bytes.len() as u64,
            cdn_url: Some(url.into()),
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: alt.map(|a| AltText::new(a).unwrap()),
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

fn mp4(size: usize) -> Vec<u8> {
    let mut bytes = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    bytes.resize(size, 7);
    bytes
}

fn request(connection: &Connection, credentials: &Credentials, text: &str) -> PublishRequest {
    PublishRequest {
        post_id: PostId(uuid::Uuid::new_v4()),
        target: Target::primary(Provider::Pinterest),
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

fn requests(sandbox: &Sandbox, method: &str, path: &str) -> Vec<Recorded> {
    sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == "pinterest" && r.method == method && r.path.starts_with(path))
        .collect()
}

#[tokio::test]
async fn the_account_connects_with_its_boards_and_pins_an_image_to_the_chosen_one() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let chosen = control(
        format!("{}/_sandbox/next_user", sandbox.pinterest_url()),
        json!({ "username": "bakery", "boards": [
            "Recipes", "Shop", { "name": "Drafts", "privacy": "SECRET" },
        ]}),
    )
    .await;
    let pin = pinterest(&sandbox);
    let accounts = authorize(&pin).await.unwrap();
    let (account, credentials) = &accounts[0];
    assert_eq!(account.provider_account_id.as_str(), chosen["id"]);
    assert_eq!(account.account_type, AccountType::Business);
    assert_eq!(account.metadata["username"], "bakery");
    let boards: Vec<&str> = account.metadata["boards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        boards,
        ["Recipes", "Shop"],
        "secret boards need a scope not asked for"
    );
    assert!(credentials.refresh_token.is_some());
    let token = &requests(&sandbox, "POST", "/v5/oauth/token")[0];
    assert!(
        token
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );
    assert!(!token.body.contains("client_secret"));

    let shop = chosen["boards"][1]["id"].as_str().unwrap();
    let mut one = request(account, credentials, "Fresh bread, every morning");
    one.media = vec![file(
        "image/png",
        "https://media.example/u/1/bread.png",
        vec![1, 2, 3],
        Some("A loaf"),
    )];
    one.options =
        json!({ "board_id": shop, "title": "Bread", "link": "https://shop.example/bread" })
            .as_object()
            .cloned()
            .unwrap();
    let published = pin.publish(&one, &Unguarded).await.unwrap();
    assert_eq!(
        published.url.as_deref(),
        Some(
            format!(
                "https://www.pinterest.com/pin/{}/",
                published.platform_post_id
            )
            .as_str()
        )
    );
    let sent: Value =
        serde_json::from_str(&requests(&sandbox, "POST", "/v5/pins")[0].body).unwrap();
    assert_eq!(sent["board_id"], shop);
    assert_eq!(sent["description"], "Fresh bread, every morning");
    assert_eq!(sent["title"], "Bread");
    assert_eq!(sent["link"], "https://shop.example/bread");
    assert_eq!(sent["alt_text"], "A loaf");
    assert_eq!(
        sent["media_source"],
        json!({ "source_type": "image_url", "url": "https://media.example/u/1/bread.png" })
    );
    let pins = sandbox.state().posts_of("pinterest").unwrap();
    assert_eq!(pins[0].media[0], "board Shop");
}

#[tokio::test]
async fn a_video_is_registered_uploaded_to_storage_and_processed_before_its_pin() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    control(
        format!("{}/_sandbox/media_polls", sandbox.pinterest_url()),
        json!({ "polls": 2 }),
    )
    .await;
    let pin = pinterest(&sandbox);
    let accounts = authorize(&pin).await.unwrap();
    let (account, credentials) = &accounts[0];
    // One board: the pin goes there without being told.
    let mut video = request(account, credentials, "How we bake");
    video.media = vec![file(
        "video/mp4",
        "https://media.example/u/1/bake.mp4",
        mp4(5000),
        None,
    )];
    pin.publish(&video, &Unguarded).await.unwrap();
    let upload = &requests(&sandbox, "POST", "/media-uploads/")[0];
    assert!(
        upload.authorization.is_none(),
        "the signed form is the authorization"
    );
    assert!(
        upload
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(
        requests(&sandbox, "GET", "/v5/media/").len(),
        3,
        "processing twice, then succeeded"
    );
    let sent: Value =
        serde_json::from_str(&requests(&sandbox, "POST", "/v5/pins")[0].body).unwrap();
    assert_eq!(sent["media_source"]["source_type"], "video_id");
    assert_eq!(
        sent["board_id"], account.metadata["boards"][0]["id"],
        "the account's only board"
    );
    let pins = sandbox.state().posts_of("pinterest").unwrap();
    assert_eq!(pins[0].media[1], "video (5000 bytes)");
}

#[tokio::test]
async fn boards_and_refusals_are_told_in_plain_words() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    control(
        format!("{}/_sandbox/next_user", sandbox.pinterest_url()),
        json!({ "username": "travel", "boards": ["Alps", "Coast"] }),
    )
    .await;
    let pin = pinterest(&sandbox);
    let accounts = authorize(&pin).await.unwrap();
    let (account, credentials) = &accounts[0];
    let image = file("image/jpeg", "https://media.example/a.jpg", vec![1], None);

    let mut unchosen = request(account, credentials, "Where?");
    unchosen.media = vec![image.clone()];
    let refused = pin.publish(&unchosen, &Unguarded).await.unwrap_err();
    assert!(
        matches!(&refused, PublishError::Rejected { code, reason } if code == "pinterest_board_required" && reason.contains("Alps (") && reason.contains("Coast (")),
        "{refused:?}"
    );
    let mut elsewhere = unchosen.clone();
    elsewhere.options.insert("board_id".into(), json!("12345"));
    assert!(matches!(
        pin.publish(&elsewhere, &Unguarded).await.unwrap_err(),
        PublishError::Rejected { code, .. } if code == "pinterest_board_not_found"
    ));
    let mut no_media = request(account, credentials, "Text only");
    no_media.options = elsewhere.options.clone();
    assert!(matches!(
        pin.publish(&no_media, &Unguarded).await.unwrap_err(),
        PublishError::Rejected { code, .. } if code == "pinterest_media_required"
    ));

    // A server error once the pin was made: unknown, never a failure.
    let board = account.metadata["boards"][0]["id"].clone();
    let mut ok = unchosen.clone();
    ok.options.insert("board_id".into(), board);
    control(
        format!("{}/_sandbox/fail_next_pin", sandbox.pinterest_url()),
        json!({ "status": 502, "after_create": true }),
    )
    .await;
    assert!(matches!(
        pin.publish(&ok, &Unguarded).await.unwrap_err(),
        PublishError::Unknown { .. }
    ));
    assert!(pin.dedup_window().is_none());

    // Expired: refused; refreshed: a new access token, the refresh token kept.
    control(
        format!("{}/_sandbox/expire_tokens", sandbox.pinterest_url()),
        json!({}),
    )
    .await;
    assert!(matches!(
        pin.publish(&ok, &Unguarded).await.unwrap_err(),
        PublishError::Unauthorized { .. }
    ));
    let grant = pin
        .refresh(account, credentials.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    assert!(grant.refresh_token.is_none());
    let fresh = credentials.refreshed(grant);
    ok.credentials = fresh;
    ok.text = "Alps at dawn".into();
    pin.publish(&ok, &Unguarded).await.unwrap();
    assert!(matches!(
        pin.refresh(account, &Secret::new("pinr_nope")).await,
        Err(OAuthError::InvalidGrant { .. })
    ));
}
