//! The Bluesky adapter against the sandbox's fake of Bluesky, in process: sign-in, refresh,
//! posts with facets, images and threads, and retries that never publish twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, RgbImage};
use multivio_domain::connection::{
    AccountType, AuthorizedAccount, Connection, ConnectionStatus, Credentials,
};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::media::MediaBytes;
use multivio_ports::platform::{
    Attachment, CredentialLogin, LoginRequest, OAuthClient, OAuthError, PostRef, PublishError,
    PublishRequest, PublishedPost, Publisher, ReplyTo, SendGuard, Unguarded,
};
use multivio_sandbox::{Recorded, Sandbox};
use multivio_social::bluesky::{Bluesky, BlueskyConfig, tid};
use multivio_social::http::ServerPolicy;
use serde_json::{Value, json};

const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";

async fn sandbox() -> (Sandbox, Bluesky) {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let bluesky = Bluesky::new(BlueskyConfig {
        service_url: sandbox.bluesky_url(),
        server_policy: ServerPolicy::AllowLoopback,
        max_image_bytes: 1_000_000,
    })
    .unwrap();
    (sandbox, bluesky)
}

async fn login(bluesky: &Bluesky, identifier: &str) -> AuthorizedAccount {
    let mut accounts = bluesky
        .login(&LoginRequest {
            identifier: identifier.to_owned(),
            password: Secret::new(APP_PASSWORD),
            server_url: None,
        })
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    accounts.remove(0)
}

fn connection(account: &AuthorizedAccount) -> Connection {
    let now = Utc::now();
    Connection {
        id: ConnectionId::from_uuid(uuid::Uuid::new_v4()),
        user_id: UserId(1),
        provider: Provider::Bluesky,
        provider_account_id: account.profile.provider_account_id.clone(),
        account_label: account.profile.label.clone(),
        account_type: account.profile.account_type,
        is_primary: true,
        status: ConnectionStatus::Active,
        metadata: account.profile.metadata.clone(),
        expires_at: account.credentials.expires_at,
        created_at: now,
        updated_at: now,
    }
}

fn request(account: &AuthorizedAccount, key: &str, text: &str) -> PublishRequest {
    PublishRequest {
        post_id: PostId::from_uuid(uuid::Uuid::nil()),
        target: Target::primary(Provider::Bluesky),
        connection: connection(account),
        credentials: account.credentials.clone(),
        text: text.to_owned(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: key.to_owned(),
        name: "Post".into(),
        options: Default::default(),
    }
}

fn png(width: u32, height: u32, noisy: bool) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let img = RgbImage::from_fn(width, height, |x, y| {
        if noisy {
            image::Rgb([next(), next(), next()])
        } else {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }
    });
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn attachment(bytes: Vec<u8>, mime: &str, size: (u32, u32), alt: Option<&str>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId::from_uuid(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "stored".to_owned(),
            original_filename: None,
            file_type: mime.to_owned(),
            file_size: bytes.len() as u64,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![Provider::Bluesky],
            alt_text: alt.map(|a| AltText::new(a).unwrap()),
            width: Some(size.0),
            height: Some(size.1),
            duration_secs: None,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes: MediaBytes::in_memory(bytes),
    }
}

fn calls(sandbox: &Sandbox, nsid: &str) -> Vec<Recorded> {
    let path = format!("/xrpc/{nsid}");
    sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path == path || r.path.starts_with(&format!("{path}?")))
        .collect()
}

fn body(recorded: &Recorded) -> Value {
    serde_json::from_str(&recorded.body).unwrap()
}

async fn control(sandbox: &Sandbox, what: &str, input: Value) {
    let status = multivio_social::http::client(std::time::Duration::from_secs(10))
        .unwrap()
        .post(format!("{}/_sandbox/{what}", sandbox.bluesky_url()))
        .json(&input)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{what}: {status}");
}

fn rkey_of(post: &PublishedPost) -> &str {
    post.platform_post_id.rsplit('/').next().unwrap()
}

#[tokio::test]
async fn an_app_password_signs_in_and_names_the_account_its_pds_and_tokens() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let did = account.profile.provider_account_id.as_str().to_owned();
    assert!(did.starts_with("did:plc:"), "{did}");
    assert_eq!(
        account.profile.label.as_ref().unwrap().as_str(),
        "alice.bsky.sandbox"
    );
    assert_eq!(account.profile.account_type, AccountType::Personal);
    assert_eq!(
        account.profile.metadata,
        json!({
            "did": did,
            "handle": "alice.bsky.sandbox",
            "pds_url": sandbox.bluesky_url(),
            "service_url": sandbox.bluesky_url(),
        })
    );
    let credentials = &account.credentials;
    assert_eq!(credentials.access_token.expose().split('.').count(), 3);
    assert!(credentials.refresh_token.is_some());
    let expires_at = credentials.expires_at.unwrap();
    assert!(expires_at > Utc::now() + Duration::minutes(100));
    assert!(expires_at < Utc::now() + Duration::hours(2));
    assert!(
        !format!("{account:?}").contains(credentials.access_token.expose()),
        "tokens never show in Debug"
    );

    let sign_in = calls(&sandbox, "com.atproto.server.createSession");
    assert_eq!(sign_in.len(), 1);
    assert_eq!(sign_in[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(
        body(&sign_in[0]),
        json!({"identifier": "alice", "password": APP_PASSWORD})
    );

    // A handle with a dot is the handle; the server may be named explicitly.
    let named = bluesky
        .login(&LoginRequest {
            identifier: "@Carol.Example.com".to_owned(),
            password: Secret::new(APP_PASSWORD),
            server_url: Some(sandbox.bluesky_url()),
        })
        .await
        .unwrap();
    assert_eq!(
        named[0].profile.label.as_ref().unwrap().as_str(),
        "carol.example.com"
    );
    // The same handle is the same account.
    assert_eq!(
        login(&bluesky, "alice").await.profile.provider_account_id,
        account.profile.provider_account_id
    );
}

#[tokio::test]
async fn a_wrong_password_or_a_refused_server_is_not_a_sign_in() {
    let (sandbox, bluesky) = sandbox().await;
    let wrong = bluesky
        .login(&LoginRequest {
            identifier: "alice".to_owned(),
            password: Secret::new("wrong-wrong-wrong-wrong"),
            server_url: None,
        })
        .await;
    assert!(
        matches!(&wrong, Err(OAuthError::InvalidGrant { reason }) if reason.contains("Invalid identifier or password")),
        "{wrong:?}"
    );
    let private = bluesky
        .login(&LoginRequest {
            identifier: "alice".to_owned(),
            password: Secret::new(APP_PASSWORD),
            server_url: Some("http://10.0.0.1".to_owned()),
        })
        .await;
    assert!(
        matches!(&private, Err(OAuthError::Rejected { code, .. }) if code == "invalid_server"),
        "{private:?}"
    );
    // A server named by the person where nothing answers: their address to check.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = bluesky
        .login(&LoginRequest {
            identifier: "alice".to_owned(),
            password: Secret::new(APP_PASSWORD),
            server_url: Some(nowhere),
        })
        .await;
    assert!(
        matches!(&unreachable, Err(OAuthError::Rejected { code, .. }) if code == "server_unreachable"),
        "{unreachable:?}"
    );
    assert_eq!(calls(&sandbox, "com.atproto.server.createSession").len(), 1);
}

#[tokio::test]
async fn a_refresh_rotates_both_tokens_and_the_old_refresh_token_is_dead() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let conn = connection(&account);
    let first = account.credentials.refresh_token.clone().unwrap();

    let grant = bluesky.refresh(&conn, &first).await.unwrap();
    let second = grant.refresh_token.clone().unwrap();
    assert_ne!(second, first);
    assert_ne!(grant.access_token, account.credentials.access_token);
    assert!(grant.expires_at.unwrap() > Utc::now() + Duration::minutes(100));
    let call = &calls(&sandbox, "com.atproto.server.refreshSession")[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {}", first.expose()).as_str())
    );

    let reused = bluesky.refresh(&conn, &first).await;
    assert!(
        matches!(&reused, Err(OAuthError::InvalidGrant { reason }) if reason.contains("ExpiredToken")),
        "{reused:?}"
    );
    let access_as_refresh = bluesky.refresh(&conn, &grant.access_token).await;
    assert!(
        matches!(access_as_refresh, Err(OAuthError::InvalidGrant { .. })),
        "{access_as_refresh:?}"
    );

    // The new pair works; revoking ends it.
    let credentials = account.credentials.refreshed(grant);
    let mut req = request(&account, "k-refreshed", "after a refresh");
    req.credentials = credentials.clone();
    bluesky.publish(&req, &Unguarded).await.unwrap();
    bluesky.revoke(&conn, &credentials).await.unwrap();
    assert!(matches!(
        bluesky.refresh(&conn, &second).await,
        Err(OAuthError::InvalidGrant { .. })
    ));
    // Revoking a dead session again is fine.
    bluesky.revoke(&conn, &credentials).await.unwrap();
    assert!(matches!(
        bluesky
            .revoke(
                &conn,
                &Credentials {
                    refresh_token: None,
                    ..credentials
                }
            )
            .await,
        Err(OAuthError::NotSupported)
    ));
}

#[tokio::test]
async fn a_text_post_sends_exactly_one_record_with_facets_at_its_derived_key() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let did = account.profile.provider_account_id.as_str().to_owned();
    // Bob exists at the fake (his handle resolves); nobody.example.com does not.
    let bob = login(&bluesky, "bob").await;
    let bob_did = bob.profile.provider_account_id.as_str().to_owned();
    let text = "こんにちは 👋🏽 世界! Read https://example.com/ü?x=1. cc @bob.bsky.sandbox and \
                @nobody.example.com #Rust";
    let key = "multivio-00000000-0000-0000-0000-000000000001-bluesky";
    let post = bluesky
        .publish(&request(&account, key, text), &Unguarded)
        .await
        .unwrap();

    let rkey = tid::record_key(key, 0);
    assert!(tid::is_valid(&rkey));
    assert_eq!(
        post.platform_post_id,
        format!("at://{did}/app.bsky.feed.post/{rkey}")
    );
    assert_eq!(
        post.url.as_deref(),
        Some(format!("https://bsky.app/profile/alice.bsky.sandbox/post/{rkey}").as_str())
    );

    let created = calls(&sandbox, "com.atproto.repo.createRecord");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(
        created[0].authorization.as_deref(),
        Some(format!("Bearer {}", account.credentials.access_token.expose()).as_str())
    );
    let mut sent = body(&created[0]);
    let created_at = sent["record"]["createdAt"].as_str().unwrap().to_owned();
    assert_eq!(
        created_at.len(),
        "2026-01-01T00:00:00.000Z".len(),
        "{created_at}"
    );
    assert!(created_at.ends_with('Z'));
    chrono::DateTime::parse_from_rfc3339(&created_at).unwrap();
    sent["record"]["createdAt"] = json!("<now>");
    let span = |s: &str| {
        let start = text.find(s).unwrap();
        json!({"byteStart": start, "byteEnd": start + s.len()})
    };
    assert_eq!(
        sent,
        json!({
            "repo": did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": "<now>",
                "facets": [
                    {"index": span("https://example.com/ü?x=1"), "features": [
                        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/ü?x=1"}]},
                    {"index": span("@bob.bsky.sandbox"), "features": [
                        {"$type": "app.bsky.richtext.facet#mention", "did": bob_did}]},
                    {"index": span("#Rust"), "features": [
                        {"$type": "app.bsky.richtext.facet#tag", "tag": "Rust"}]},
                ],
            },
        })
    );
    // The byte spans cut exactly the link and the mention.
    let facets = sent["record"]["facets"].as_array().unwrap();
    let cut = |i: usize| {
        let index = &facets[i]["index"];
        let (start, end) = (
            index["byteStart"].as_u64().unwrap() as usize,
            index["byteEnd"].as_u64().unwrap() as usize,
        );
        text[start..end].to_owned()
    };
    assert_eq!(cut(0), "https://example.com/ü?x=1");
    assert_eq!(cut(1), "@bob.bsky.sandbox");
    assert_eq!(
        calls(&sandbox, "com.atproto.identity.resolveHandle").len(),
        2
    );

    let posts = sandbox.state().posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].id, post.platform_post_id);
    assert_eq!(posts[0].text, text);
    assert_eq!(posts[0].account, "alice.bsky.sandbox");
    assert!(post.reference.as_deref().unwrap().starts_with("bafyrei"));
}

#[tokio::test]
async fn four_images_are_uploaded_and_embedded_with_alt_text_and_aspect_ratio() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let mut req = request(&account, "k-images", "four images");
    req.media = (0..4u32)
        .map(|i| {
            let (w, h) = (40 + i * 10, 30);
            let alt = (i != 3).then(|| format!("picture {i}"));
            attachment(png(w, h, false), "image/png", (w, h), alt.as_deref())
        })
        .collect();
    bluesky.publish(&req, &Unguarded).await.unwrap();

    let uploads = calls(&sandbox, "com.atproto.repo.uploadBlob");
    assert_eq!(uploads.len(), 4);
    for (upload, attachment) in uploads.iter().zip(&req.media) {
        assert_eq!(upload.content_type.as_deref(), Some("image/png"));
        assert_eq!(upload.body, format!("<{} bytes>", attachment.bytes.len()));
        assert!(
            upload
                .authorization
                .as_deref()
                .unwrap()
                .starts_with("Bearer ")
        );
    }
    let sent = body(&calls(&sandbox, "com.atproto.repo.createRecord")[0]);
    let embed = &sent["record"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    let images = embed["images"].as_array().unwrap();
    assert_eq!(images.len(), 4);
    for (i, image) in images.iter().enumerate() {
        let expected_alt = if i == 3 {
            String::new()
        } else {
            format!("picture {i}")
        };
        assert_eq!(image["alt"], json!(expected_alt));
        assert_eq!(
            image["aspectRatio"],
            json!({"width": 40 + i * 10, "height": 30})
        );
        assert_eq!(image["image"]["$type"], "blob");
        assert_eq!(image["image"]["mimeType"], "image/png");
        assert_eq!(image["image"]["size"], json!(req.media[i].bytes.len()));
        assert!(
            image["image"]["ref"]["$link"]
                .as_str()
                .unwrap()
                .starts_with("bafkrei")
        );
    }
    let posts = sandbox.state().posts();
    assert_eq!(
        posts[0].media[0],
        format!("image/png ({} bytes): picture 0", req.media[0].bytes.len())
    );
    assert_eq!(
        posts[0].media[3],
        format!("image/png ({} bytes)", req.media[3].bytes.len())
    );

    // A fifth image, or a video, is refused before anything is sent.
    let before = sandbox.state().requests().len();
    let mut five = request(&account, "k-five", "five");
    five.media = (0..5)
        .map(|_| attachment(png(8, 8, false), "image/png", (8, 8), None))
        .collect();
    assert!(matches!(
        bluesky.publish(&five, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "too_many_images"
    ));
    let mut video = request(&account, "k-video", "a video");
    video.media = vec![attachment(
        b"\0\0\0\x18ftypmp42".to_vec(),
        "video/mp4",
        (8, 8),
        None,
    )];
    assert_eq!(
        bluesky.publish(&video, &Unguarded).await,
        Err(PublishError::Rejected {
            code: "video_not_supported".to_owned(),
            reason: "video on Bluesky is not supported yet".to_owned()
        })
    );
    assert_eq!(sandbox.state().requests().len(), before);
}

#[tokio::test]
async fn a_three_part_thread_replies_to_its_root_and_to_the_part_before() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let key = |part: usize| format!("multivio-00000000-0000-0000-0000-000000000002-bluesky:{part}");
    let first = bluesky
        .publish(&request(&account, &key(0), "1/3 a thread"), &Unguarded)
        .await
        .unwrap();
    let as_ref = |p: &PublishedPost| PostRef {
        id: p.platform_post_id.clone(),
        reference: p.reference.clone(),
    };
    let mut second_req = request(&account, &key(1), "2/3 continued");
    second_req.part = 1;
    second_req.reply_to = Some(ReplyTo {
        root: as_ref(&first),
        parent: as_ref(&first),
    });
    let second = bluesky.publish(&second_req, &Unguarded).await.unwrap();
    let mut third_req = request(&account, &key(2), "3/3 the end");
    third_req.part = 2;
    third_req.reply_to = Some(ReplyTo {
        root: as_ref(&first),
        // Without its CID: the adapter reads it back.
        parent: PostRef {
            id: second.platform_post_id.clone(),
            reference: None,
        },
    });
    let third = bluesky.publish(&third_req, &Unguarded).await.unwrap();

    let created = calls(&sandbox, "com.atproto.repo.createRecord");
    assert_eq!(created.len(), 3);
    let strong = |p: &PublishedPost| json!({"uri": p.platform_post_id, "cid": p.reference});
    assert!(body(&created[0])["record"].get("reply").is_none());
    assert_eq!(
        body(&created[1])["record"]["reply"],
        json!({"root": strong(&first), "parent": strong(&first)})
    );
    assert_eq!(
        body(&created[2])["record"]["reply"],
        json!({"root": strong(&first), "parent": strong(&second)})
    );
    let keys: Vec<&str> = [&first, &second, &third].map(rkey_of).to_vec();
    assert_eq!(
        keys,
        (0..3)
            .map(|p| tid::record_key(&key(p), p))
            .collect::<Vec<_>>()
    );
    let posts = sandbox.state().posts();
    let replies: Vec<Option<&str>> = posts.iter().map(|p| p.reply_to.as_deref()).collect();
    assert_eq!(
        replies,
        vec![
            None,
            Some(first.platform_post_id.as_str()),
            Some(second.platform_post_id.as_str())
        ]
    );

    // A reply to a post the fake does not hold is refused with Bluesky's reason.
    let mut orphan = request(&account, &key(9), "orphan");
    orphan.reply_to = Some(ReplyTo {
        root: as_ref(&first),
        parent: PostRef {
            id: format!("{}x", first.platform_post_id),
            reference: first.reference.clone(),
        },
    });
    let reads = calls(&sandbox, "com.atproto.repo.getRecord").len();
    let refused = bluesky.publish(&orphan, &Unguarded).await;
    assert!(
        matches!(&refused, Err(PublishError::Rejected { code, reason })
            if code == "InvalidRequest" && reason.starts_with("Bluesky refused the post: ")),
        "{refused:?}"
    );
    // A refusal that names no record key in use stands without a look at the key (the reads
    // before it are of the posts replied to).
    let after = calls(&sandbox, "com.atproto.repo.getRecord");
    assert!(
        after[reads..]
            .iter()
            .all(|call| !call.path.contains(&tid::record_key(&key(9), 0))),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_3_mb_image_is_downscaled_below_the_limit_and_accepted() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let big = png(1280, 800, true);
    assert!(big.len() > 2_900_000, "{}", big.len());
    let mut req = request(&account, "k-big", "a large picture");
    req.media = vec![attachment(big, "image/png", (1280, 800), Some("noise"))];
    bluesky.publish(&req, &Unguarded).await.unwrap();

    let upload = &calls(&sandbox, "com.atproto.repo.uploadBlob")[0];
    assert_eq!(upload.content_type.as_deref(), Some("image/jpeg"));
    let sent = body(&calls(&sandbox, "com.atproto.repo.createRecord")[0]);
    let image = &sent["record"]["embed"]["images"][0];
    let size = image["image"]["size"].as_u64().unwrap();
    assert!(size <= 1_000_000, "{size}");
    assert_eq!(upload.body, format!("<{size} bytes>"));
    assert_eq!(image["image"]["mimeType"], "image/jpeg");
    let (w, h) = (
        image["aspectRatio"]["width"].as_f64().unwrap(),
        image["aspectRatio"]["height"].as_f64().unwrap(),
    );
    assert!(w < 1280.0);
    assert!((h - w * 800.0 / 1280.0).abs() <= 1.0, "{w}x{h}");
    assert_eq!(
        sandbox.state().posts()[0].media,
        vec![format!("image/jpeg ({size} bytes): noise")]
    );
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_finds_the_post_instead_of_publishing_it_twice() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let req = request(&account, "k-retry", "published once");

    // The fake stores the record, then drops the connection mid-answer: the adapter reads
    // the record key back and finds the post.
    control(
        &sandbox,
        "fail_next_create",
        json!({"mode": "store_then_drop"}),
    )
    .await;
    let first = bluesky.publish(&req, &Unguarded).await.unwrap();
    // A later retry of the same part (say, after a crash) collides with the record key —
    // HTTP 500 — and is reconciled the same way.
    let again = bluesky.publish(&req, &Unguarded).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(rkey_of(&first), tid::record_key("k-retry", 0));
    assert_eq!(calls(&sandbox, "com.atproto.repo.createRecord").len(), 2);
    assert_eq!(calls(&sandbox, "com.atproto.repo.getRecord").len(), 2);
    let posts = sandbox.state().posts();
    assert_eq!(posts.len(), 1, "one record, not two");
    assert_eq!(posts[0].id, first.platform_post_id);

    // Stored, then a 500: found at once.
    let req = request(&account, "k-retry-500", "stored then failed");
    control(
        &sandbox,
        "fail_next_create",
        json!({"mode": "store_then_error"}),
    )
    .await;
    let stored = bluesky.publish(&req, &Unguarded).await.unwrap();
    assert_eq!(bluesky.publish(&req, &Unguarded).await.unwrap(), stored);
    assert_eq!(sandbox.state().posts().len(), 2);

    // A 500 before storing: nothing there, a transient failure, and the retry publishes.
    let req = request(&account, "k-retry-lost", "failed before storing");
    control(&sandbox, "fail_next_create", json!({"mode": "error"})).await;
    let failed = bluesky.publish(&req, &Unguarded).await;
    assert!(
        matches!(&failed, Err(PublishError::Transient { reason }) if reason.contains("retrying is safe")),
        "{failed:?}"
    );
    assert_eq!(sandbox.state().posts().len(), 2);
    let published = bluesky.publish(&req, &Unguarded).await.unwrap();
    assert_eq!(rkey_of(&published), tid::record_key("k-retry-lost", 0));
    assert_eq!(sandbox.state().posts().len(), 3);
    assert!(bluesky.dedup_window() >= Some(Duration::days(365)));

    // A PDS that refuses a record key in use with 409 `RecordAlreadyExists`: the retry finds
    // the post too, and writes nothing.
    control(&sandbox, "key_in_use", json!({"status": 409})).await;
    let reads = calls(&sandbox, "com.atproto.repo.getRecord").len();
    assert_eq!(bluesky.publish(&req, &Unguarded).await.unwrap(), published);
    assert_eq!(
        calls(&sandbox, "com.atproto.repo.getRecord").len(),
        reads + 1
    );
    assert_eq!(sandbox.state().posts().len(), 3);
}

#[tokio::test]
async fn an_expired_token_or_a_rate_limit_tells_the_worker_what_to_do() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;

    control(&sandbox, "rate_limit_next", json!({"seconds": 42})).await;
    let limited = bluesky
        .publish(&request(&account, "k-limited", "slow down"), &Unguarded)
        .await;
    match limited {
        Err(PublishError::RateLimited {
            retry_after: Some(wait),
        }) => assert!((41..=42).contains(&wait.num_seconds()), "{wait}"),
        other => panic!("{other:?}"),
    }

    control(&sandbox, "expire_access", json!({})).await;
    let expired = bluesky
        .publish(&request(&account, "k-expired", "too late"), &Unguarded)
        .await;
    assert!(
        matches!(&expired, Err(PublishError::Unauthorized { reason }) if reason.contains("ExpiredToken")),
        "{expired:?}"
    );
    // The refresh token still works, and the new access token publishes.
    let grant = bluesky
        .refresh(
            &connection(&account),
            account.credentials.refresh_token.as_ref().unwrap(),
        )
        .await
        .unwrap();
    let mut req = request(&account, "k-expired", "in time");
    req.credentials = account.credentials.refreshed(grant);
    bluesky.publish(&req, &Unguarded).await.unwrap();
    assert_eq!(sandbox.state().posts().len(), 1);
}

/// A hostile server: answers every request with `status` and a chunked body that never ends
/// (no length announced); the task gives how many bytes it sent before the client hung up.
async fn endless_server(status: u16) -> (String, tokio::task::JoinHandle<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let head = format!(
            "HTTP/1.1 {status} Flood\r\ncontent-type: application/json\r\n\
             transfer-encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n"
        );
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let mut chunk = format!("{:x}\r\n", 16 * 1024).into_bytes();
        chunk.extend_from_slice(&[b' '; 16 * 1024]);
        chunk.extend_from_slice(b"\r\n");
        let mut sent = 0usize;
        // 256 MiB at most, so that a client reading without a cap still ends the test.
        while sent < 256 * 1024 * 1024 && socket.write_all(&chunk).await.is_ok() {
            sent += 16 * 1024;
        }
        sent
    });
    (url, task)
}

#[tokio::test]
async fn a_server_streaming_an_endless_answer_is_cut_off_at_the_cap() {
    let login_at = |server: String| async move {
        let bluesky = Bluesky::new(BlueskyConfig {
            service_url: server,
            server_policy: ServerPolicy::AllowLoopback,
            max_image_bytes: 1_000_000,
        })
        .unwrap();
        bluesky
            .login(&LoginRequest {
                identifier: "alice".to_owned(),
                password: Secret::new(APP_PASSWORD),
                server_url: None,
            })
            .await
    };

    // A "session" that never ends: refused once it passes 1 MiB.
    let (server, flood) = endless_server(200).await;
    let outcome = login_at(server).await;
    assert!(
        matches!(&outcome, Err(OAuthError::Transient { reason })
            if reason == "Bluesky sign-in: the answer is larger than 1048576 bytes"),
        "{outcome:?}"
    );
    let sent = tokio::time::timeout(std::time::Duration::from_secs(20), flood)
        .await
        .expect("the server stops once Multivio hangs up")
        .unwrap();
    assert!(sent < 256 * 1024 * 1024, "hung up after {sent} bytes");

    // An error answer that never ends: refused once it passes 64 KiB, and said so.
    let (server, _flood) = endless_server(400).await;
    let outcome = login_at(server).await;
    assert!(
        matches!(&outcome, Err(OAuthError::Rejected { code, reason })
            if code == "HTTP 400" && reason == "the answer is larger than 65536 bytes"),
        "{outcome:?}"
    );
}

/// A send guard that notes the requests the fake had received each time it was asked, and
/// then allows the send or refuses it.
struct Watch {
    state: std::sync::Arc<multivio_sandbox::SandboxState>,
    refusal: Option<String>,
    asked: std::sync::Mutex<Vec<Vec<Recorded>>>,
}

impl Watch {
    fn new(sandbox: &Sandbox, refusal: Option<&str>) -> Self {
        Self {
            state: sandbox.state(),
            refusal: refusal.map(str::to_owned),
            asked: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn asked(&self) -> Vec<Vec<Recorded>> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl SendGuard for Watch {
    async fn before_send(&self) -> Result<(), String> {
        self.asked.lock().unwrap().push(self.state.requests());
        match &self.refusal {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
}

/// A control of the fake, with its status and JSON answer.
async fn control_answer(
    sandbox: &Sandbox,
    method: reqwest::Method,
    what: &str,
    input: Option<Value>,
) -> (u16, Value) {
    let mut call = multivio_social::http::client(std::time::Duration::from_secs(10))
        .unwrap()
        .request(method, format!("{}/_sandbox/{what}", sandbox.bluesky_url()));
    if let Some(input) = input {
        call = call.json(&input);
    }
    let response = call.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_guard_is_asked_once_after_the_images_and_a_refusal_writes_nothing() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let mut req = request(&account, "k-guarded", "guarded @alice.bsky.sandbox");
    req.media = vec![attachment(png(20, 20, false), "image/png", (20, 20), None)];

    let refusing = Watch::new(&sandbox, Some("paused"));
    assert_eq!(
        bluesky.publish(&req, &refusing).await,
        Err(PublishError::NotSent {
            reason: "paused".to_owned()
        })
    );
    assert_eq!(refusing.asked().len(), 1);
    assert_eq!(calls(&sandbox, "com.atproto.repo.uploadBlob").len(), 1);
    assert!(calls(&sandbox, "com.atproto.repo.createRecord").is_empty());
    assert!(sandbox.state().posts().is_empty());

    // Allowed: asked once, after the mention was resolved and the image uploaded, before the
    // record was written — which then is.
    let allowing = Watch::new(&sandbox, None);
    let published = bluesky.publish(&req, &allowing).await.unwrap();
    let asked = allowing.asked();
    assert_eq!(asked.len(), 1);
    let seen: Vec<&str> = asked[0].iter().map(|r| r.path.as_str()).collect();
    assert!(
        seen.last()
            .unwrap()
            .starts_with("/xrpc/com.atproto.repo.uploadBlob"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|p| p.starts_with("/xrpc/com.atproto.identity.resolveHandle"))
    );
    assert!(
        !seen
            .iter()
            .any(|p| p.starts_with("/xrpc/com.atproto.repo.createRecord"))
    );
    assert_eq!(calls(&sandbox, "com.atproto.repo.createRecord").len(), 1);
    assert_eq!(rkey_of(&published), tid::record_key("k-guarded", 0));
    // Bluesky needs no reconciliation: the record key finds the post.
    assert_eq!(bluesky.reconcile(&req, Utc::now()).await, Ok(None));
}

#[tokio::test]
async fn a_late_answer_stores_the_record_first_and_a_resend_finds_it() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let req = request(&account, "k-late", "answered late");

    let (status, set) = control_answer(
        &sandbox,
        reqwest::Method::POST,
        "answer_late",
        Some(json!({"seconds": 2, "count": 2})),
    )
    .await;
    assert_eq!((status, set), (200, json!({"seconds": 2.0, "count": 2})));
    let sending = {
        let (bluesky, req) = (bluesky.clone(), req.clone());
        tokio::spawn(async move { bluesky.publish(&req, &Unguarded).await })
    };
    let mut waited = 0;
    while sandbox.state().posts_of("bsky").unwrap().is_empty() {
        assert!(waited < 100, "the record never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        waited += 1;
    }
    assert!(!sending.is_finished(), "answered before the delay");
    // Another worker sending the same part meanwhile: the key is in use (no delay used), the
    // record is read back, the same post.
    let clock = std::time::Instant::now();
    let resent = bluesky.publish(&req, &Unguarded).await.unwrap();
    assert!(clock.elapsed() < std::time::Duration::from_secs(2));
    let (_, left) = control_answer(&sandbox, reqwest::Method::GET, "answer_late", None).await;
    assert_eq!(left["count"], 1, "a refused write uses no delay");
    let first = sending.await.unwrap().unwrap();
    assert_eq!(resent, first);
    assert_eq!(sandbox.state().posts().len(), 1);
}

#[tokio::test]
async fn slow_media_delays_each_blob_upload() {
    let (sandbox, bluesky) = sandbox().await;
    let account = login(&bluesky, "alice").await;
    let mut req = request(&account, "k-slow", "two images");
    req.media = (0..2)
        .map(|_| attachment(png(20, 20, false), "image/png", (20, 20), None))
        .collect();
    let (status, _) = control_answer(
        &sandbox,
        reqwest::Method::POST,
        "slow_media",
        Some(json!({"seconds": 0.5, "count": 2})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = control_answer(
        &sandbox,
        reqwest::Method::POST,
        "slow_media",
        Some(json!({"seconds": "soon"})),
    )
    .await;
    assert_eq!(status, 400, "the delay in force stays");
    let clock = std::time::Instant::now();
    bluesky.publish(&req, &Unguarded).await.unwrap();
    assert!(clock.elapsed() >= std::time::Duration::from_millis(1000));
    let (_, left) = control_answer(&sandbox, reqwest::Method::GET, "slow_media", None).await;
    assert_eq!(left, json!({"seconds": 0.5, "count": 0}));
}
