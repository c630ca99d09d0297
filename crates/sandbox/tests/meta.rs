//! The Facebook, Instagram and Threads adapters against the sandbox's fakes of Meta's platforms,
//! in process: the fakes refuse what the platforms refuse, and the adapters turn each answer
//! into what the core acts on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use multivio_ports::media::MediaBytes;
use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{Duration, SubsecRound, Utc};
use multivio_domain::connection::{AccountType, Connection, ConnectionStatus, Credentials};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::platform::{
    Attachment, AuthorizationRequest, CodeExchange, OAuthClient, OAuthError, PostRef, PublishError,
    PublishRequest, Publisher, ReplyTo, SendGuard, Unguarded,
};
use multivio_sandbox::Sandbox;
use multivio_sandbox::credentials::{
    FACEBOOK_APP_ID, FACEBOOK_APP_SECRET, INSTAGRAM_APP_ID, INSTAGRAM_APP_SECRET, THREADS_APP_ID,
    THREADS_APP_SECRET,
};
use multivio_social::facebook::{Facebook, FacebookApp};
use multivio_social::instagram::{Instagram, InstagramApp, InstagramConfig};
use multivio_social::meta::{ContainerPolling, GRAPH_VERSION, appsecret_proof};
use multivio_social::threads::{Threads, ThreadsConfig};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/v1/connections/meta/callback";

const FAST: ContainerPolling = ContainerPolling {
    interval: std::time::Duration::from_millis(5),
    max_polls: 20,
};

fn facebook_app(sandbox: &Sandbox) -> FacebookApp {
    FacebookApp {
        app_id: FACEBOOK_APP_ID.into(),
        app_secret: Secret::new(FACEBOOK_APP_SECRET),
        auth_url: sandbox.facebook_url(),
        api_url: sandbox.facebook_url(),
        video_url: sandbox.facebook_video_url(),
    }
}

fn facebook(sandbox: &Sandbox) -> Facebook {
    Facebook::new(facebook_app(sandbox), GRAPH_VERSION).unwrap()
}

fn instagram(sandbox: &Sandbox) -> Instagram {
    Instagram::new(InstagramConfig {
        instagram: Some(InstagramApp {
            client_id: INSTAGRAM_APP_ID.into(),
            client_secret: Secret::new(INSTAGRAM_APP_SECRET),
            auth_url: sandbox.instagram_url(),
            token_url: sandbox.instagram_url(),
            api_url: sandbox.instagram_url(),
        }),
        facebook: Some(facebook_app(sandbox)),
        version: GRAPH_VERSION.into(),
    })
    .unwrap()
    .with_polling(FAST)
}

fn threads(sandbox: &Sandbox) -> Threads {
    Threads::new(ThreadsConfig {
        client_id: THREADS_APP_ID.into(),
        client_secret: Secret::new(THREADS_APP_SECRET),
        auth_url: sandbox.threads_url(),
        api_url: sandbox.threads_url(),
    })
    .unwrap()
    .with_polling(FAST)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The query of the address a redirect answer sends the browser to.
fn redirect_query(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Runs an authorisation through the fake (approved at once) and exchanges its code.
async fn authorize(client: &dyn OAuthClient) -> Result<Vec<(Connection, Credentials)>, OAuthError> {
    let request = AuthorizationRequest {
        state: Secret::new("state-1"),
        pkce_verifier: Secret::new("unused-verifier"),
        redirect_uri: REDIRECT.into(),
        server_url: None,
    };
    let url = client.authorization_url(&request).await.unwrap();
    let response = no_redirects().get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 302, "{url}");
    let back = redirect_query(&response);
    assert_eq!(back["state"], "state-1");
    let accounts = client
        .exchange_code(&CodeExchange {
            code: Secret::new(back["code"].clone()),
            pkce_verifier: request.pkce_verifier,
            redirect_uri: REDIRECT.into(),
            server_url: None,
        })
        .await?;
    let now = Utc::now();
    Ok(accounts
        .into_iter()
        .map(|account| {
            (
                Connection {
                    id: ConnectionId(uuid::Uuid::new_v4()),
                    user_id: UserId(1),
                    provider: Provider::Facebook,
                    provider_account_id: account.profile.provider_account_id.clone(),
                    account_label: account.profile.label.clone(),
                    account_type: account.profile.account_type,
                    is_primary: true,
                    status: ConnectionStatus::Active,
                    metadata: account.profile.metadata.clone(),
                    expires_at: account.credentials.expires_at,
                    created_at: now,
                    updated_at: now,
                },
                account.credentials,
            )
        })
        .collect())
}

fn request(connection: &Connection, credentials: &Credentials, text: &str) -> PublishRequest {
    PublishRequest {
        post_id: PostId(uuid::Uuid::new_v4()),
        target: Target::primary(connection.provider),
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

/// A media row at a public URL (the fakes judge the file by its URL, and never fetch it).
fn media(mime: &str, url: &str, alt: Option<&str>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "f".into(),
            original_filename: None,
            file_type: mime.into(),
            file_size: 1000,
            cdn_url: Some(url.into()),
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: alt.map(|a| AltText::new(a).unwrap()),
            width: Some(1080),
            height: Some(1080),
            duration_secs: None,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes: MediaBytes::none(),
    }
}

async fn control(url: String, body: Value) -> Value {
    // Building an adapter's client installs the TLS provider every client needs.
    multivio_social::http::client(std::time::Duration::from_secs(5)).unwrap();
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}

/// A Graph call by hand: status and body.
async fn graph(builder: reqwest::RequestBuilder) -> (u16, Value) {
    let response = builder.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn error_code(body: &Value) -> (i64, Option<i64>) {
    (
        body["error"]["code"].as_i64().unwrap(),
        body["error"]["error_subcode"].as_i64(),
    )
}

#[tokio::test]
async fn facebook_connects_only_the_pages_a_person_may_publish_to_and_a_code_works_once() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    control(
        format!("{}/_sandbox/next_login", sandbox.facebook_url()),
        json!({ "pages": [
            { "name": "Read only", "tasks": ["ANALYZE"] },
            { "name": "Mine" },
        ]}),
    )
    .await;
    let client = facebook(&sandbox);
    let accounts = authorize(&client).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].0.account_type, AccountType::Page);
    assert_eq!(
        accounts[0].0.account_label.as_ref().unwrap().as_str(),
        "Mine"
    );
    assert!(accounts[0].1.refresh_token.is_none() && accounts[0].1.expires_at.is_none());

    // The code was used: exchanging it again is a dead grant.
    let code = sandbox
        .state()
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/oauth/access_token?"))
        .map(|r| {
            url::form_urlencoded::parse(r.path.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect::<HashMap<String, String>>()["code"]
                .clone()
        })
        .unwrap();
    let again = client
        .exchange_code(&CodeExchange {
            code: Secret::new(code),
            pkce_verifier: Secret::new("unused"),
            redirect_uri: REDIRECT.into(),
            server_url: None,
        })
        .await;
    assert!(
        matches!(again, Err(OAuthError::InvalidGrant { .. })),
        "{again:?}"
    );

    // A login granting no Page that can be published to is refused with a plain reason.
    control(
        format!("{}/_sandbox/next_login", sandbox.facebook_url()),
        json!({ "name": "Reader", "pages": [{ "name": "Theirs", "tasks": ["ANALYZE"] }] }),
    )
    .await;
    assert!(matches!(
        authorize(&client).await,
        Err(OAuthError::Rejected { code, .. }) if code == "no_pages"
    ));
    sandbox.stop().await;
}

#[tokio::test]
async fn the_facebook_fake_refuses_what_the_graph_api_refuses() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (page, credentials) = authorize(&facebook(&sandbox)).await.unwrap().remove(0);
    let token = credentials.access_token.expose().to_owned();
    let proof = appsecret_proof(&Secret::new(FACEBOOK_APP_SECRET), &token);
    let base = sandbox.facebook_url();
    let feed = format!(
        "{base}/{GRAPH_VERSION}/{}/feed",
        page.provider_account_id.as_str()
    );
    let http = reqwest::Client::new();

    // No proof, a wrong one, an old version, a JSON body.
    let (status, body) = graph(
        http.post(&feed)
            .form(&[("message", "a"), ("access_token", &token)]),
    )
    .await;
    assert_eq!((status, error_code(&body).0), (400, 100), "{body}");
    let (_, body) = graph(http.post(&feed).form(&[
        ("message", "a"),
        ("access_token", &token),
        ("appsecret_proof", "00"),
    ]))
    .await;
    assert_eq!(error_code(&body).0, 100, "{body}");
    let old = format!("{base}/v12.0/{}/feed", page.provider_account_id.as_str());
    let (_, body) = graph(http.post(&old).form(&[
        ("message", "a"),
        ("access_token", &token),
        ("appsecret_proof", &proof),
    ]))
    .await;
    assert_eq!(error_code(&body).0, 2500, "{body}");
    let (_, body) = graph(
        http.post(&feed)
            .json(&json!({ "message": "a", "access_token": token })),
    )
    .await;
    assert_eq!(error_code(&body).0, 100, "{body}");
    // An unknown token.
    let (_, body) = graph(http.post(&feed).form(&[
        ("message", "a"),
        ("access_token", "EAAGnope"),
        (
            "appsecret_proof",
            &appsecret_proof(&Secret::new(FACEBOOK_APP_SECRET), "EAAGnope"),
        ),
    ]))
    .await;
    assert_eq!(error_code(&body).0, 190, "{body}");
    // A video sent to the Graph API's main host, not its video host.
    let videos = format!(
        "{base}/{GRAPH_VERSION}/{}/videos",
        page.provider_account_id.as_str()
    );
    let (status, body) = graph(http.post(&videos).form(&[
        ("file_url", "https://cdn.example/m/v.mp4"),
        ("access_token", &token),
        ("appsecret_proof", &proof),
    ]))
    .await;
    assert_eq!((status, error_code(&body).0), (400, 100), "{body}");

    // The adapter: a duplicate message is refused as one; a photo the Page cannot fetch too.
    let client = facebook(&sandbox);
    client
        .publish(&request(&page, &credentials, "Same words"), &Unguarded)
        .await
        .unwrap();
    let again = client
        .publish(&request(&page, &credentials, "Same words"), &Unguarded)
        .await;
    assert!(
        matches!(again, Err(PublishError::Rejected { ref code, .. }) if code == "duplicate"),
        "{again:?}"
    );
    let mut with_pdf = request(&page, &credentials, "A document");
    with_pdf.media = vec![media("image/png", "https://cdn.example/m/file.pdf", None)];
    assert!(matches!(
        client.publish(&with_pdf, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "facebook_media_unreachable"
    ));
    sandbox.stop().await;
}

#[tokio::test]
async fn facebook_reconciles_a_post_it_made_and_never_guesses_between_two() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = facebook(&sandbox);
    let (page, credentials) = authorize(&client).await.unwrap().remove(0);
    let sent_at = Utc::now();
    let made = client
        .publish(
            &request(&page, &credentials, "Find me https://example.com/x"),
            &Unguarded,
        )
        .await
        .unwrap();
    let found = client
        .reconcile(
            &request(&page, &credentials, "Find me https://example.com/x"),
            sent_at,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.platform_post_id, made.platform_post_id);
    assert_eq!(found.url, made.url);
    assert_eq!(
        client
            .reconcile(&request(&page, &credentials, "Not this"), sent_at)
            .await
            .unwrap(),
        None
    );
    // Too long before the send: not it.
    assert_eq!(
        client
            .reconcile(
                &request(&page, &credentials, "Find me https://example.com/x"),
                sent_at + Duration::minutes(10)
            )
            .await
            .unwrap(),
        None
    );
    sandbox.stop().await;
}

/// A guard that, right before the send, has another app use up the account's cap.
struct CapReachedMeanwhile {
    url: String,
    username: String,
}

#[async_trait]
impl SendGuard for CapReachedMeanwhile {
    async fn before_send(&self) -> Result<(), String> {
        control(
            self.url.clone(),
            json!({ "username": self.username, "quota_total": 1, "published_at": [Utc::now()] }),
        )
        .await;
        Ok(())
    }
}

#[tokio::test]
async fn instagram_defers_at_the_cap_whether_read_first_or_answered_by_the_publish() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = instagram(&sandbox);
    let (account, credentials) = authorize(&client).await.unwrap().remove(0);
    assert_eq!(account.metadata["login"], "instagram");
    let limit = format!("{}/_sandbox/publishing_limit", sandbox.instagram_url());
    let mut post = request(&account, &credentials, "A loaf");
    post.media = vec![media("image/jpeg", "https://cdn.example/m/a.jpg", None)];

    // Published elsewhere meanwhile: `media_publish` refuses, and the target waits for the
    // slot the earlier publication frees, a day after it.
    let before = Utc::now();
    let guard = CapReachedMeanwhile {
        url: limit.clone(),
        username: "sandbox_ig".into(),
    };
    match client.publish(&post, &guard).await {
        Err(PublishError::Deferred {
            until,
            code,
            reason,
        }) => {
            assert_eq!(code, "instagram_daily_limit");
            // Meta dates posts to the second: the slot is computed from `before`'s second.
            let before = before.trunc_subsecs(0);
            assert!(
                until >= before + Duration::days(1)
                    && until <= Utc::now() + Duration::days(1) + Duration::minutes(1),
                "{until}"
            );
            assert!(
                reason.starts_with(
                    "Instagram allows 1 posts a day for this account; it will go out tomorrow at "
                ),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Read first now: nothing is created.
    let containers = |s: &Sandbox| {
        s.state()
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/media"))
            .count()
    };
    let created = containers(&sandbox);
    assert!(matches!(
        client.publish(&post, &Unguarded).await,
        Err(PublishError::Deferred { .. })
    ));
    assert_eq!(containers(&sandbox), created);
    sandbox.stop().await;
}

#[tokio::test]
async fn an_instagram_container_is_published_only_once_finished_and_found_again_by_its_caption() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = instagram(&sandbox);
    let (account, credentials) = authorize(&client).await.unwrap().remove(0);
    control(
        format!("{}/_sandbox/container_polls", sandbox.instagram_url()),
        json!({ "polls": 3 }),
    )
    .await;
    let mut post = request(&account, &credentials, "A Reel");
    post.media = vec![media("video/mp4", "https://cdn.example/m/v.mp4", None)];
    let sent_at = Utc::now();
    let published = client.publish(&post, &Unguarded).await.unwrap();
    let requests = sandbox.state().requests();
    let reel = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/media"))
        .unwrap();
    let body: HashMap<String, String> = url::form_urlencoded::parse(reel.body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(body["media_type"], "REELS");
    assert_eq!(body["video_url"], "https://cdn.example/m/v.mp4");
    let reads = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("fields=status_code"))
        .count();
    assert_eq!(reads, 4, "three in progress, then finished");

    // Publishing a container by hand before it is ready is refused, as Instagram does.
    let token = credentials.access_token.expose();
    let base = format!(
        "{}/{GRAPH_VERSION}/{}",
        sandbox.instagram_url(),
        account.provider_account_id.as_str()
    );
    let (_, created) = graph(reqwest::Client::new().post(format!("{base}/media")).form(&[
        ("image_url", "https://cdn.example/m/b.jpg"),
        ("access_token", token),
    ]))
    .await;
    let (_, refused) = graph(
        reqwest::Client::new()
            .post(format!("{base}/media_publish"))
            .form(&[
                ("creation_id", created["id"].as_str().unwrap()),
                ("access_token", token),
            ]),
    )
    .await;
    assert_eq!(error_code(&refused), (9007, Some(2_207_027)), "{refused}");

    // The post is found again by its caption around the send.
    let found = client.reconcile(&post, sent_at).await.unwrap().unwrap();
    assert_eq!(found.platform_post_id, published.platform_post_id);
    assert_eq!(found.url, published.url);
    sandbox.stop().await;
}

#[tokio::test]
async fn instagram_login_tokens_refresh_once_a_day_old() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = instagram(&sandbox);
    let (account, credentials) = authorize(&client).await.unwrap().remove(0);
    let refresh = credentials.refresh_token.clone().unwrap();
    assert_eq!(refresh, credentials.access_token);
    // Too fresh to refresh.
    assert!(client.refresh(&account, &refresh).await.is_err());
    control(
        format!("{}/_sandbox/age_tokens", sandbox.instagram_url()),
        json!({ "hours": 25 }),
    )
    .await;
    let grant = client.refresh(&account, &refresh).await.unwrap();
    assert_ne!(grant.access_token, credentials.access_token);
    assert_eq!(grant.refresh_token.as_ref(), Some(&grant.access_token));
    assert!(grant.expires_at.unwrap() > Utc::now() + Duration::days(59));
    // The new token publishes.
    let fresh = Credentials {
        access_token: grant.access_token,
        refresh_token: grant.refresh_token,
        expires_at: grant.expires_at,
        oauth1: None,
    };
    let mut post = request(&account, &fresh, "After the refresh");
    post.media = vec![media("image/jpeg", "https://cdn.example/m/a.jpg", None)];
    client.publish(&post, &Unguarded).await.unwrap();
    sandbox.stop().await;
}

#[tokio::test]
async fn threads_refuses_what_threads_refuses_in_plain_words() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = threads(&sandbox);
    let (account, credentials) = authorize(&client).await.unwrap().remove(0);
    let refused = |text: String| {
        let post = request(&account, &credentials, &text);
        let client = &client;
        async move { client.publish(&post, &Unguarded).await }
    };
    // 500 as Threads counts: 125 waving hands are 500; one more character is too many.
    assert!(refused("👋".repeat(125)).await.is_ok());
    assert!(matches!(
        refused(format!("{}!", "👋".repeat(125))).await,
        Err(PublishError::Rejected { code, .. }) if code == "threads_text_too_long"
    ));
    let links = (0..6)
        .map(|i| format!("https://example.com/{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(matches!(
        refused(links).await,
        Err(PublishError::Rejected { code, .. }) if code == "threads_too_many_links"
    ));
    // A reply to a post that does not exist.
    let mut orphan = request(&account, &credentials, "reply");
    orphan.reply_to = Some(ReplyTo {
        root: PostRef {
            id: "1".into(),
            reference: None,
        },
        parent: PostRef {
            id: "1".into(),
            reference: None,
        },
    });
    assert!(matches!(
        client.publish(&orphan, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "threads_rejected"
    ));
    sandbox.stop().await;
}

/// A Threads token granted `scope` at the authorisation, and its account's id.
async fn threads_token(sandbox: &Sandbox, scope: &str) -> (String, String) {
    let base = sandbox.threads_url();
    let response = no_redirects()
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", THREADS_APP_ID),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("response_type", "code"),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let back = redirect_query(&response);
    let (status, token) = graph(
        reqwest::Client::new()
            .post(format!("{base}/oauth/access_token"))
            .form(&[
                ("client_id", THREADS_APP_ID),
                ("client_secret", THREADS_APP_SECRET),
                ("code", back["code"].as_str()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    (
        token["access_token"].as_str().unwrap().to_owned(),
        token["user_id"].to_string(),
    )
}

#[tokio::test]
async fn threads_replies_take_the_permissions_threads_asks_for() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("{}/v1.0", sandbox.threads_url());
    // Multivio's authorisation, and one with only what publishing a post needs.
    let (account, credentials) = authorize(&threads(&sandbox)).await.unwrap().remove(0);
    let full = (
        credentials.access_token.expose().to_owned(),
        account.provider_account_id.as_str().to_owned(),
    );
    let bare = threads_token(&sandbox, "threads_basic,threads_content_publish").await;
    let http = reqwest::Client::new();
    for (token, user) in [&bare, &full] {
        let granted = token == &full.0;
        let (status, body) = graph(
            http.get(format!("{base}/{user}/replies"))
                .query(&[("access_token", token.as_str()), ("fields", "id,text")]),
        )
        .await;
        assert_eq!(status == 200, granted, "replies: {body}");
        let (status, body) = graph(
            http.get(format!("{base}/{user}/threads_publishing_limit"))
                .query(&[
                    ("access_token", token.as_str()),
                    ("fields", "reply_quota_usage,reply_config"),
                ]),
        )
        .await;
        assert_eq!(status == 200, granted, "reply cap: {body}");
        if !granted {
            assert_eq!(error_code(&body).0, 10, "{body}");
        }
        // The posts' own cap and a post need no reply permission.
        let (status, body) = graph(
            http.get(format!("{base}/{user}/threads_publishing_limit"))
                .query(&[("access_token", token.as_str()), ("fields", "quota_usage")]),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, root) = graph(http.post(format!("{base}/{user}/threads")).form(&[
            ("access_token", token.as_str()),
            ("media_type", "TEXT"),
            ("text", "root"),
        ]))
        .await;
        assert_eq!(status, 200, "{root}");
        let (status, published) =
            graph(http.post(format!("{base}/{user}/threads_publish")).form(&[
                ("access_token", token.as_str()),
                ("creation_id", root["id"].as_str().unwrap()),
            ]))
            .await;
        assert_eq!(status, 200, "{published}");
        let (status, body) = graph(http.post(format!("{base}/{user}/threads")).form(&[
            ("access_token", token.as_str()),
            ("media_type", "TEXT"),
            ("text", "a reply"),
            ("reply_to_id", published["id"].as_str().unwrap()),
        ]))
        .await;
        assert_eq!(status == 200, granted, "reply: {body}");
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn a_threads_carousel_carries_its_items_and_their_alt_text() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = threads(&sandbox);
    let (account, credentials) = authorize(&client).await.unwrap().remove(0);
    let mut post = request(&account, &credentials, "Two things");
    post.media = vec![
        media("image/png", "https://cdn.example/m/a.png", Some("a cat")),
        media("video/quicktime", "https://cdn.example/m/b.mov", None),
    ];
    let published = client.publish(&post, &Unguarded).await.unwrap();
    let held = sandbox.state().posts_of("threads").unwrap();
    let held = held
        .iter()
        .find(|p| p.id == published.platform_post_id)
        .unwrap();
    assert_eq!(
        held.media,
        [
            "image https://cdn.example/m/a.png: a cat",
            "video https://cdn.example/m/b.mov"
        ]
    );
    assert_eq!(held.text, "Two things");
    sandbox.stop().await;
}
