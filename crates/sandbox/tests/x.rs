//! The X adapter against the sandbox's fake of X: every call as X documents it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use chrono::Utc;
use multivio_domain::connection::{
    AccountType, Connection, ConnectionStatus, Credentials, OAuth1Credentials,
};
use multivio_domain::media::MediaFile;
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::platform::{
    Attachment, AuthorizationRequest, CodeExchange, OAuth1Client, OAuthClient, OAuthError, PostRef,
    PublishError, PublishRequest, Publisher, ReplyTo,
};
use multivio_sandbox::Sandbox;
use multivio_sandbox::credentials::{
    X_CLIENT_ID, X_CLIENT_SECRET, X_CONSUMER_KEY, X_CONSUMER_SECRET,
};
use multivio_social::x::{X, XConfig};

const REDIRECT: &str = "http://127.0.0.1:9/v1/connections/twitter/callback";

fn client(sandbox: &Sandbox) -> X {
    X::new(XConfig {
        client_id: X_CLIENT_ID.into(),
        client_secret: Secret::new(X_CLIENT_SECRET),
        consumer: Some((X_CONSUMER_KEY.into(), Secret::new(X_CONSUMER_SECRET))),
        auth_url: sandbox.x_url(),
        api_url: sandbox.x_url(),
        upload_url: sandbox.x_url(),
    })
    .unwrap()
    .with_max_check_delay(std::time::Duration::from_millis(10))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows an authorisation URL as the user's browser would, and returns the callback's query.
async fn approve(url: &str) -> HashMap<String, String> {
    let resp = no_redirects().get(url).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        302,
        "{}",
        resp.text().await.unwrap()
    );
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn connect(sandbox: &Sandbox, x: &X) -> (Connection, Credentials) {
    let verifier = Secret::new("verifier-0123456789-0123456789-0123456789-abc");
    let url = x
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("state-1"),
            pkce_verifier: verifier.clone(),
            redirect_uri: REDIRECT.into(),
            server_url: None,
        })
        .await
        .unwrap();
    let back = approve(&url).await;
    assert_eq!(back["state"], "state-1");
    let accounts = x
        .exchange_code(&CodeExchange {
            code: Secret::new(back["code"].clone()),
            pkce_verifier: verifier,
            redirect_uri: REDIRECT.into(),
            server_url: None,
        })
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    let account = accounts.into_iter().next().unwrap();
    let _ = sandbox;
    let now = Utc::now();
    (
        Connection {
            id: ConnectionId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            provider: Provider::X,
            provider_account_id: account.profile.provider_account_id.clone(),
            account_label: account.profile.label.clone(),
            account_type: AccountType::Personal,
            is_primary: true,
            status: ConnectionStatus::Active,
            metadata: account.profile.metadata.clone(),
            expires_at: account.credentials.expires_at,
            created_at: now,
            updated_at: now,
        },
        account.credentials,
    )
}

fn request(connection: &Connection, credentials: &Credentials, text: &str) -> PublishRequest {
    PublishRequest {
        post_id: PostId(uuid::Uuid::new_v4()),
        target: Target::primary(Provider::X),
        connection: connection.clone(),
        credentials: credentials.clone(),
        text: text.into(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: "k".into(),
    }
}

fn png(n: usize) -> Attachment {
    let mut bytes =
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x04\x38\0\0\x04\x38\x08\x06\0\0\0".to_vec();
    bytes.resize(n, 7);
    attachment("image/png", bytes)
}

fn attachment(mime: &str, bytes: Vec<u8>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: "f".into(),
            original_filename: None,
            file_type: mime.into(),
            file_size: bytes.len() as u64,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![],
            alt_text: None,
            width: Some(1080),
            height: Some(1080),
            duration_secs: None,
            upload_date: now,
            created_at: now,
            updated_at: now,
        },
        bytes,
    }
}

#[tokio::test]
async fn connecting_exchanges_the_code_exactly_and_identifies_the_account() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    assert_eq!(
        connection.account_label.as_ref().unwrap().as_str(),
        "@sandbox_user"
    );
    assert_eq!(connection.metadata["username"], "sandbox_user");
    assert!(
        credentials.refresh_token.is_some(),
        "offline.access gives a refresh token"
    );
    assert!(credentials.expires_at.is_some());
    let token_call = sandbox
        .state()
        .requests()
        .into_iter()
        .find(|r| r.path == "/2/oauth2/token")
        .unwrap();
    assert_eq!(token_call.method, "POST");
    assert_eq!(
        token_call.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(token_call.authorization.unwrap().starts_with("Basic "));
    let form: HashMap<String, String> = url::form_urlencoded::parse(token_call.body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(
        form["code_verifier"],
        "verifier-0123456789-0123456789-0123456789-abc"
    );
    assert!(
        !form.contains_key("client_secret"),
        "the secret goes in the Basic header only"
    );
}

#[tokio::test]
async fn a_wrong_verifier_or_a_used_code_never_yields_tokens() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let url = x
        .authorization_url(&AuthorizationRequest {
            state: Secret::new("s"),
            pkce_verifier: Secret::new("right-verifier-right-verifier-right-verifier"),
            redirect_uri: REDIRECT.into(),
            server_url: None,
        })
        .await
        .unwrap();
    let code = approve(&url).await["code"].clone();
    let exchange = |verifier: &str| CodeExchange {
        code: Secret::new(code.clone()),
        pkce_verifier: Secret::new(verifier),
        redirect_uri: REDIRECT.into(),
        server_url: None,
    };
    let wrong = x
        .exchange_code(&exchange("wrong-verifier-wrong-verifier-wrong-ver"))
        .await;
    assert!(
        matches!(wrong, Err(OAuthError::InvalidGrant { .. })),
        "{wrong:?}"
    );
    // The code was used up by the failed attempt, as X does.
    let again = x
        .exchange_code(&exchange("right-verifier-right-verifier-right-verifier"))
        .await;
    assert!(
        matches!(again, Err(OAuthError::InvalidGrant { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_an_old_one_is_dead() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let first = credentials.refresh_token.clone().unwrap();
    let grant = x.refresh(&connection, &first).await.unwrap();
    let second = grant.refresh_token.clone().unwrap();
    assert_ne!(first.expose(), second.expose());
    assert!(matches!(
        x.refresh(&connection, &first).await,
        Err(OAuthError::InvalidGrant { .. })
    ));
    assert!(x.refresh(&connection, &second).await.is_ok());
}

#[tokio::test]
async fn text_images_and_a_thread_are_posted_as_x_documents() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;

    let published = x
        .publish(&request(&connection, &credentials, "Hello from Multivio"))
        .await
        .unwrap();
    assert!(published.url.unwrap().ends_with(&format!(
        "/sandbox_user/status/{}",
        published.platform_post_id
    )));

    // Four images, uploaded in chunks with the OAuth 2.0 token.
    let mut with_images = request(&connection, &credentials, "four images");
    with_images.media = (0..4).map(|_| png(5 * 1024 * 1024 - 100)).collect();
    let post = x.publish(&with_images).await.unwrap();
    let held = sandbox.state().posts();
    let shown = held.iter().find(|p| p.id == post.platform_post_id).unwrap();
    assert_eq!(shown.media.len(), 4);
    let appends = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/append"))
        .count();
    assert_eq!(appends, 8, "each 5 MB image goes in two 4 MiB chunks");

    // A three-part thread: each part replies to the one before it.
    let mut parent: Option<String> = None;
    let mut root: Option<String> = None;
    for (i, text) in ["1/3 a thread", "2/3 goes on", "3/3 ends"]
        .into_iter()
        .enumerate()
    {
        let mut part = request(&connection, &credentials, text);
        part.part = i;
        part.reply_to = parent.as_ref().map(|p| ReplyTo {
            root: PostRef {
                id: root.clone().unwrap(),
                reference: None,
            },
            parent: PostRef {
                id: p.clone(),
                reference: None,
            },
        });
        let done = x.publish(&part).await.unwrap();
        root.get_or_insert(done.platform_post_id.clone());
        parent = Some(done.platform_post_id);
    }
    let posts = sandbox.state().posts();
    let thread: Vec<_> = posts.iter().filter(|p| p.text.contains("/3")).collect();
    assert_eq!(thread.len(), 3);
    assert_eq!(thread[0].reply_to, None);
    assert_eq!(thread[1].reply_to.as_deref(), Some(thread[0].id.as_str()));
    assert_eq!(thread[2].reply_to.as_deref(), Some(thread[1].id.as_str()));
    let tweet_call = sandbox
        .state()
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/2/tweets")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&tweet_call.body).unwrap();
    assert_eq!(body["reply"]["in_reply_to_tweet_id"], thread[1].id.as_str());
    assert_eq!(tweet_call.content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn media_go_with_oauth_1a_when_the_account_has_those_tokens() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, mut credentials) = connect(&sandbox, &x).await;
    let start = x
        .request_token("http://127.0.0.1:9/v1/connections/twitter/oauth1/callback")
        .await
        .unwrap();
    let back = approve(&start.authorization_url).await;
    assert_eq!(back["oauth_token"], start.token);
    let tokens: OAuth1Credentials = x
        .access_token(
            &start.token,
            &start.secret,
            &Secret::new(back["oauth_verifier"].clone()),
        )
        .await
        .unwrap();
    assert_eq!(tokens.screen_name.as_deref(), Some("sandbox_user"));
    credentials.oauth1 = Some(tokens);

    let mut gif = request(&connection, &credentials, "a gif");
    gif.media = vec![attachment("image/gif", b"GIF89a\x01\0\x01\0".repeat(100))];
    x.publish(&gif).await.unwrap();
    let uploads: Vec<_> = sandbox
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/2/media/upload"))
        .collect();
    assert!(
        uploads.len() >= 4,
        "initialize, append, finalize, status: {uploads:?}"
    );
    assert!(
        uploads
            .iter()
            .all(|r| r.authorization.as_deref().unwrap().starts_with("OAuth "))
    );
    // A signature made with a wrong token secret is refused by the fake: proven by forging one.
    let forged = OAuth1Credentials {
        token_secret: Secret::new("not-the-secret"),
        ..credentials.oauth1.clone().unwrap()
    };
    credentials.oauth1 = Some(forged);
    let mut bad = request(&connection, &credentials, "forged");
    bad.media = vec![png(1000)];
    assert!(matches!(
        x.publish(&bad).await,
        Err(PublishError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn refusals_are_told_apart() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    x.publish(&request(&connection, &credentials, "once"))
        .await
        .unwrap();
    let duplicate = x.publish(&request(&connection, &credentials, "once")).await;
    assert!(
        matches!(&duplicate, Err(PublishError::Rejected { code, .. }) if code == "duplicate"),
        "{duplicate:?}"
    );
    fault(
        &sandbox,
        "fail_next_tweet",
        serde_json::json!({ "status": 503 }),
    )
    .await;
    // X may have created the post before failing, and has no idempotency key: never re-sent.
    assert!(matches!(
        x.publish(&request(&connection, &credentials, "later"))
            .await,
        Err(PublishError::Unknown { .. })
    ));
    let mut stale = credentials.clone();
    stale.access_token = Secret::new("revoked");
    assert!(matches!(
        x.publish(&request(&connection, &stale, "who")).await,
        Err(PublishError::Unauthorized { .. })
    ));
    x.revoke(&connection, &credentials).await.unwrap();
    assert!(matches!(
        x.publish(&request(&connection, &credentials, "after revoke"))
            .await,
        Err(PublishError::Unauthorized { .. })
    ));
}

/// Sets a fault of the fake (`fail_next_tweet`, `fail_next_media`).
async fn fault(sandbox: &Sandbox, what: &str, input: serde_json::Value) {
    let status = reqwest::Client::new()
        .post(format!("{}/_sandbox/{what}", sandbox.x_url()))
        .json(&input)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{what}: {status}");
}

fn tweet_calls(sandbox: &Sandbox) -> usize {
    sandbox
        .state()
        .requests()
        .iter()
        .filter(|r| r.path == "/2/tweets")
        .count()
}

#[tokio::test]
async fn a_server_error_creating_the_post_is_an_unknown_outcome() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    assert!(!x.idempotent());

    // X wrote the post, then answered 500: re-sending would post it twice.
    fault(
        &sandbox,
        "fail_next_tweet",
        serde_json::json!({ "status": 500, "after_create": true }),
    )
    .await;
    let outcome = x
        .publish(&request(&connection, &credentials, "written, then 500"))
        .await;
    assert!(
        matches!(&outcome, Err(PublishError::Unknown { reason }) if reason.contains("500")),
        "{outcome:?}"
    );
    let posts = sandbox.state().posts();
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.text == "written, then 500")
            .count(),
        1,
        "the post exists although X answered 500"
    );

    // A 500 before anything was written looks the same from outside: unknown as well.
    fault(
        &sandbox,
        "fail_next_tweet",
        serde_json::json!({ "status": 500 }),
    )
    .await;
    let outcome = x
        .publish(&request(&connection, &credentials, "not written"))
        .await;
    assert!(
        matches!(&outcome, Err(PublishError::Unknown { .. })),
        "{outcome:?}"
    );
    assert_eq!(tweet_calls(&sandbox), 2, "each publish sent the post once");
}

#[tokio::test]
async fn a_server_error_during_the_media_upload_is_transient() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let mut with_image = request(&connection, &credentials, "an image");
    with_image.media = vec![png(1000)];

    fault(
        &sandbox,
        "fail_next_media",
        serde_json::json!({ "status": 500 }),
    )
    .await;
    let outcome = x.publish(&with_image).await;
    assert!(
        matches!(&outcome, Err(PublishError::Transient { reason }) if reason.contains("500")),
        "{outcome:?}"
    );
    assert_eq!(tweet_calls(&sandbox), 0, "nothing was posted");

    // Nothing was posted, so doing it all again is safe, and works.
    let published = x.publish(&with_image).await.unwrap();
    let posts = sandbox.state().posts();
    let shown = posts
        .iter()
        .find(|p| p.id == published.platform_post_id)
        .unwrap();
    assert_eq!(shown.media.len(), 1);
}

/// A server that reads one request, whole, and closes the connection without answering.
async fn hang_up_after_the_request() -> (String, tokio::task::JoinHandle<bool>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                return false;
            }
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    // The whole post arrived; the connection drops with no answer.
                    return text.contains("POST /2/tweets");
                }
            }
        }
    });
    (url, served)
}

#[tokio::test]
async fn a_connection_lost_after_the_post_was_sent_is_unknown_and_one_never_made_is_transient() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (connection, credentials) = connect(&sandbox, &client(&sandbox)).await;
    let at = |api: &str| {
        X::new(XConfig {
            client_id: X_CLIENT_ID.into(),
            client_secret: Secret::new(X_CLIENT_SECRET),
            consumer: None,
            auth_url: api.to_owned(),
            api_url: api.to_owned(),
            upload_url: api.to_owned(),
        })
        .unwrap()
    };

    let (url, served) = hang_up_after_the_request().await;
    let outcome = at(&url)
        .publish(&request(&connection, &credentials, "sent, no answer"))
        .await;
    assert!(served.await.unwrap(), "the post reached the server");
    assert!(
        matches!(&outcome, Err(PublishError::Unknown { .. })),
        "{outcome:?}"
    );

    // Nothing listens: the post never left, retrying is safe.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let outcome = at(&closed)
        .publish(&request(&connection, &credentials, "never sent"))
        .await;
    assert!(
        matches!(&outcome, Err(PublishError::Transient { .. })),
        "{outcome:?}"
    );
}
