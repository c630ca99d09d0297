//! The X adapter against the sandbox's fake of X: every call as X documents it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use multivio_ports::media::MediaBytes;
use std::collections::HashMap;

use chrono::Utc;
use multivio_domain::connection::{
    AccountType, AuthorizedAccount, Connection, ConnectionStatus, Credentials, OAuth1Credentials,
};
use multivio_domain::media::MediaFile;
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::platform::{
    Attachment, AuthorizationRequest, CodeExchange, OAuth1Client, OAuthClient, OAuthError, PostRef,
    PublishError, PublishRequest, Publisher, ReplyTo, Unguarded,
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

/// The accounts of an approval whose authorisation URL `consent` may change first (as a browser
/// would open it), the code exchanged as the API does.
async fn approved(x: &X, consent: impl FnOnce(String) -> String) -> Vec<AuthorizedAccount> {
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
    let back = approve(&consent(url)).await;
    assert_eq!(back["state"], "state-1");
    x.exchange_code(&CodeExchange {
        code: Secret::new(back["code"].clone()),
        pkce_verifier: verifier,
        redirect_uri: REDIRECT.into(),
        server_url: None,
    })
    .await
    .unwrap()
}

async fn connect(sandbox: &Sandbox, x: &X) -> (Connection, Credentials) {
    let accounts = approved(x, |url| url).await;
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
        name: "Post".into(),
        options: Default::default(),
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
        bytes: MediaBytes::in_memory(bytes),
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
async fn each_call_needs_its_scopes_on_the_token() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    // The consent asked without `media.write` and `offline.access` (an app asking for less).
    let accounts = approved(&x, |url| {
        let mut narrower = url::Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = narrower
            .query_pairs()
            .into_owned()
            .map(|(k, v)| match k.as_str() {
                "scope" => (k, "tweet.read tweet.write users.read".to_owned()),
                _ => (k, v),
            })
            .collect();
        narrower.query_pairs_mut().clear().extend_pairs(&pairs);
        narrower.into()
    })
    .await;
    let credentials = &accounts[0].credentials;
    assert!(credentials.refresh_token.is_none(), "no offline.access");
    let bearer = format!("Bearer {}", credentials.access_token.expose());
    // Reading the account needs what was granted; uploading media is refused without its scope.
    let me = reqwest::Client::new()
        .get(format!("{}/2/users/me", sandbox.x_url()))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    let upload = reqwest::Client::new()
        .post(format!("{}/2/media/upload/initialize", sandbox.x_url()))
        .header("authorization", &bearer)
        .json(&serde_json::json!({
            "media_type": "image/png", "total_bytes": 10, "media_category": "tweet_image"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 403);
    let problem: serde_json::Value = upload.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("media.write"),
        "{problem}"
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
        .publish(
            &request(&connection, &credentials, "Hello from Multivio"),
            &Unguarded,
        )
        .await
        .unwrap();
    assert!(published.url.unwrap().ends_with(&format!(
        "/sandbox_user/status/{}",
        published.platform_post_id
    )));

    // Four images, uploaded in chunks with the OAuth 2.0 token.
    let mut with_images = request(&connection, &credentials, "four images");
    with_images.media = (0..4).map(|_| png(5 * 1024 * 1024 - 100)).collect();
    let post = x.publish(&with_images, &Unguarded).await.unwrap();
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
        let done = x.publish(&part, &Unguarded).await.unwrap();
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
    x.publish(&gif, &Unguarded).await.unwrap();
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
        x.publish(&bad, &Unguarded).await,
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
    x.publish(&request(&connection, &credentials, "once"), &Unguarded)
        .await
        .unwrap();
    let duplicate = x
        .publish(&request(&connection, &credentials, "once"), &Unguarded)
        .await;
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
        x.publish(&request(&connection, &credentials, "later"), &Unguarded)
            .await,
        Err(PublishError::Unknown { .. })
    ));
    let mut stale = credentials.clone();
    stale.access_token = Secret::new("revoked");
    assert!(matches!(
        x.publish(&request(&connection, &stale, "who"), &Unguarded)
            .await,
        Err(PublishError::Unauthorized { .. })
    ));
    x.revoke(&connection, &credentials).await.unwrap();
    assert!(matches!(
        x.publish(
            &request(&connection, &credentials, "after revoke"),
            &Unguarded
        )
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
    assert_eq!(x.dedup_window(), None);

    // X wrote the post, then answered 500: re-sending would post it twice.
    fault(
        &sandbox,
        "fail_next_tweet",
        serde_json::json!({ "status": 500, "after_create": true }),
    )
    .await;
    let outcome = x
        .publish(
            &request(&connection, &credentials, "written, then 500"),
            &Unguarded,
        )
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
        .publish(
            &request(&connection, &credentials, "not written"),
            &Unguarded,
        )
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
    let outcome = x.publish(&with_image, &Unguarded).await;
    assert!(
        matches!(&outcome, Err(PublishError::Transient { reason }) if reason.contains("500")),
        "{outcome:?}"
    );
    assert_eq!(tweet_calls(&sandbox), 0, "nothing was posted");

    // Nothing was posted, so doing it all again is safe, and works.
    let published = x.publish(&with_image, &Unguarded).await.unwrap();
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
        .publish(
            &request(&connection, &credentials, "sent, no answer"),
            &Unguarded,
        )
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
        .publish(
            &request(&connection, &credentials, "never sent"),
            &Unguarded,
        )
        .await;
    assert!(
        matches!(&outcome, Err(PublishError::Transient { .. })),
        "{outcome:?}"
    );
}

/// A send guard that notes the requests the fake had received each time it was asked, and
/// then allows the send or refuses it.
struct Watch {
    state: std::sync::Arc<multivio_sandbox::SandboxState>,
    refusal: Option<String>,
    asked: std::sync::Mutex<Vec<Vec<multivio_sandbox::Recorded>>>,
}

impl Watch {
    fn new(sandbox: &Sandbox, refusal: Option<&str>) -> Self {
        Self {
            state: sandbox.state(),
            refusal: refusal.map(str::to_owned),
            asked: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// What the fake had received, each time the guard was asked.
    fn asked(&self) -> Vec<Vec<multivio_sandbox::Recorded>> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl multivio_ports::platform::SendGuard for Watch {
    async fn before_send(&self) -> Result<(), String> {
        self.asked.lock().unwrap().push(self.state.requests());
        match &self.refusal {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
}

/// A GET or POST to the fake's own paths, with the JSON answer.
async fn sandbox_call(
    sandbox: &Sandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut call = reqwest::Client::new().request(method, format!("{}{path}", sandbox.x_url()));
    if let Some(body) = body {
        call = call.json(&body);
    }
    let response = call.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn the_guard_is_asked_once_after_the_media_and_a_refusal_posts_nothing() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let mut with_image = request(&connection, &credentials, "guarded");
    with_image.media = vec![png(1000)];

    let refusing = Watch::new(&sandbox, Some("the job was taken over"));
    let outcome = x.publish(&with_image, &refusing).await;
    assert_eq!(
        outcome,
        Err(PublishError::NotSent {
            reason: "the job was taken over".into()
        })
    );
    let asked = refusing.asked();
    assert_eq!(asked.len(), 1, "asked once");
    let paths: Vec<&str> = asked[0].iter().map(|r| r.path.as_str()).collect();
    assert!(paths.contains(&"/2/media/upload/initialize"), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/finalize")), "{paths:?}");
    assert_eq!(tweet_calls(&sandbox), 0, "no post was sent");
    assert!(sandbox.state().posts().is_empty());

    // Allowed: asked once, after the media, before the post — which then goes.
    let allowing = Watch::new(&sandbox, None);
    let published = x.publish(&with_image, &allowing).await.unwrap();
    let asked = allowing.asked();
    assert_eq!(asked.len(), 1);
    let last = asked[0].last().unwrap();
    assert!(last.path.ends_with("/finalize"), "{}", last.path);
    assert!(!asked[0].iter().any(|r| r.path == "/2/tweets"));
    assert_eq!(tweet_calls(&sandbox), 1);
    assert_eq!(sandbox.state().posts()[0].id, published.platform_post_id);
}

#[tokio::test]
async fn reconcile_finds_a_post_x_created_but_answered_late() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let started = Utc::now();
    let root_request = request(
        &connection,
        &credentials,
        "Links & more: https://example.com/a?b=1 <3",
    );
    let root = x.publish(&root_request, &Unguarded).await.unwrap();

    let (status, late) = sandbox_call(
        &sandbox,
        reqwest::Method::POST,
        "/_sandbox/answer_late",
        Some(serde_json::json!({ "seconds": 3, "count": 1 })),
    )
    .await;
    assert_eq!(
        (status, late.clone()),
        (200, serde_json::json!({ "seconds": 3.0, "count": 1 }))
    );

    let mut part = request(
        &connection,
        &credentials,
        "2/2 see example.org/x, then\nbye",
    );
    part.part = 1;
    part.media = vec![png(1000)];
    part.reply_to = Some(ReplyTo {
        root: PostRef {
            id: root.platform_post_id.clone(),
            reference: None,
        },
        parent: PostRef {
            id: root.platform_post_id.clone(),
            reference: None,
        },
    });
    let sent_at = Utc::now();
    let sending = {
        let (x, part) = (x.clone(), part.clone());
        tokio::spawn(async move { x.publish(&part, &Unguarded).await })
    };
    // X has the post at once; the answer is 3 seconds away.
    let mut waited = 0;
    while sandbox.state().posts_of("x").unwrap().len() < 2 {
        assert!(waited < 100, "the post never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        waited += 1;
    }
    assert!(!sending.is_finished(), "answered before the delay");
    let held = sandbox.state().posts_of("x").unwrap();

    let found = x.reconcile(&part, sent_at).await.unwrap().unwrap();
    assert_eq!(found.platform_post_id, held[1].id);
    assert_eq!(
        found.url.as_deref(),
        Some(format!("https://x.com/sandbox_user/status/{}", held[1].id).as_str())
    );
    assert_eq!(found.reference, None);
    // The first part, despite X's t.co link and `&amp;`.
    let root_found = x.reconcile(&root_request, started).await.unwrap().unwrap();
    assert_eq!(root_found.platform_post_id, root.platform_post_id);

    // The same text elsewhere in the thread, another text, or too late a window: not it.
    let mut as_first = part.clone();
    as_first.reply_to = None;
    assert_eq!(x.reconcile(&as_first, sent_at).await.unwrap(), None);
    let mut other = part.clone();
    other.text = "2/2 something else".into();
    assert_eq!(x.reconcile(&other, sent_at).await.unwrap(), None);
    let later = Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(x.reconcile(&part, later).await.unwrap(), None);

    // It asked X's timeline of the account, with the OAuth 2.0 token, from before the send.
    let timeline_call = sandbox
        .state()
        .requests()
        .into_iter()
        .find(|r| {
            r.path.starts_with(&format!(
                "/2/users/{}/tweets?",
                connection.provider_account_id
            ))
        })
        .unwrap();
    assert_eq!(
        timeline_call.authorization.as_deref(),
        Some(format!("Bearer {}", credentials.access_token.expose()).as_str())
    );
    let query: HashMap<String, String> =
        url::Url::parse(&format!("http://h{}", timeline_call.path))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    let start = chrono::DateTime::parse_from_rfc3339(&query["start_time"]).unwrap();
    assert!(start < sent_at && start > sent_at - chrono::Duration::minutes(5));
    assert_eq!(query["max_results"], "100");

    // The late answer comes, naming the same post; the delay is used up.
    let published = sending.await.unwrap().unwrap();
    assert_eq!(published.platform_post_id, found.platform_post_id);
    let (_, left) = sandbox_call(
        &sandbox,
        reqwest::Method::GET,
        "/_sandbox/answer_late",
        None,
    )
    .await;
    assert_eq!(left["count"], 0);
}

#[tokio::test]
async fn reconcile_leaves_two_matching_posts_to_a_person() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let sent_at = Utc::now();
    // Two posts of an image alone: nothing tells them apart.
    let mut image_only = request(&connection, &credentials, "");
    image_only.media = vec![png(1000)];
    let once = x.publish(&image_only, &Unguarded).await.unwrap();
    let found = x.reconcile(&image_only, sent_at).await.unwrap().unwrap();
    assert_eq!(found.platform_post_id, once.platform_post_id);
    x.publish(&image_only, &Unguarded).await.unwrap();
    assert_eq!(x.reconcile(&image_only, sent_at).await.unwrap(), None);
    // Nothing sent at all: not found.
    let never = request(&connection, &credentials, "never sent");
    assert_eq!(x.reconcile(&never, sent_at).await.unwrap(), None);
    // A connection without a numeric account id cannot be looked up.
    let mut broken = never.clone();
    broken.connection.provider_account_id =
        multivio_domain::connection::ProviderAccountId::new("someone").unwrap();
    assert!(matches!(
        x.reconcile(&broken, sent_at).await,
        Err(PublishError::Rejected { .. })
    ));
}

/// `GET /2/users/{id}/tweets` as the account's own token calls it.
async fn timeline(
    sandbox: &Sandbox,
    token: Option<&str>,
    id: &str,
    query: &str,
) -> (u16, serde_json::Value) {
    let mut call =
        reqwest::Client::new().get(format!("{}/2/users/{id}/tweets{query}", sandbox.x_url()));
    if let Some(token) = token {
        call = call.bearer_auth(token);
    }
    let response = call.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_timeline_is_served_as_x_serves_it() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let me = connection.provider_account_id.as_str().to_owned();
    let token = credentials.access_token.expose().to_owned();
    let token = Some(token.as_str());

    // Who may ask, and about whom.
    assert_eq!(timeline(&sandbox, None, &me, "").await.0, 401);
    assert_eq!(timeline(&sandbox, Some("nope"), &me, "").await.0, 401);
    assert_eq!(timeline(&sandbox, token, "abc", "").await.0, 400);
    let (status, other) = timeline(&sandbox, token, "123", "").await;
    assert_eq!(status, 200);
    assert_eq!(other["errors"][0]["title"], "Not Found Error");
    assert!(other.get("data").is_none());

    // Nothing posted yet: no `data`, a count of 0.
    assert_eq!(
        timeline(&sandbox, token, &me, "").await,
        (200, serde_json::json!({ "meta": { "result_count": 0 } }))
    );

    // Parameters are checked as X checks them.
    for bad in [
        "?max_results=4",
        "?max_results=101",
        "?max_results=ten",
        "?start_time=2026-01-01T00:00:00.000Z",
        "?start_time=2026-01-01",
        "?start_time=2009-01-01T00:00:00Z",
        "?start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z",
        "?since_id=abc",
        "?tweet.fields=created_at,bogus",
        "?expansions=everything",
        "?exclude=quotes",
        "?count=5",
        "?max_results=5&max_results=6",
    ] {
        let (status, body) = timeline(&sandbox, token, &me, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            body["type"], "https://api.twitter.com/2/problems/invalid-request",
            "{bad}"
        );
    }

    // Seven posts: a thread of two, an image, four more.
    let first = x
        .publish(
            &request(
                &connection,
                &credentials,
                "one & <two> https://example.com/x",
            ),
            &Unguarded,
        )
        .await
        .unwrap();
    let mut reply = request(&connection, &credentials, "a reply");
    reply.reply_to = Some(ReplyTo {
        root: PostRef {
            id: first.platform_post_id.clone(),
            reference: None,
        },
        parent: PostRef {
            id: first.platform_post_id.clone(),
            reference: None,
        },
    });
    let reply = x.publish(&reply, &Unguarded).await.unwrap();
    let mut image = request(&connection, &credentials, "an image");
    image.media = vec![png(1000)];
    x.publish(&image, &Unguarded).await.unwrap();
    for i in 0..4 {
        x.publish(
            &request(&connection, &credentials, &format!("post {i}")),
            &Unguarded,
        )
        .await
        .unwrap();
    }

    // Default fields only, newest first, five a page, then the rest.
    let (status, page) = timeline(&sandbox, token, &me, "?max_results=5").await;
    assert_eq!(status, 200, "{page}");
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert_eq!(data[0]["text"], "post 3");
    let mut keys: Vec<&str> = data[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["edit_history_tweet_ids", "id", "text"]);
    assert_eq!(page["meta"]["result_count"], 5);
    assert_eq!(page["meta"]["newest_id"], data[0]["id"]);
    assert_eq!(page["meta"]["oldest_id"], data[4]["id"]);
    let next = page["meta"]["next_token"].as_str().unwrap().to_owned();
    let (_, rest) = timeline(
        &sandbox,
        token,
        &me,
        &format!("?max_results=5&pagination_token={next}&tweet.fields=created_at,author_id,conversation_id,referenced_tweets,in_reply_to_user_id,attachments"),
    )
    .await;
    let rest_data = rest["data"].as_array().unwrap();
    assert_eq!(rest_data.len(), 2);
    assert!(rest["meta"].get("next_token").is_none());
    let (shown_reply, shown_first) = (&rest_data[0], &rest_data[1]);
    assert_eq!(shown_reply["id"], reply.platform_post_id.as_str());
    assert_eq!(
        shown_reply["referenced_tweets"],
        serde_json::json!([{ "type": "replied_to", "id": first.platform_post_id }])
    );
    assert_eq!(shown_reply["in_reply_to_user_id"], me.as_str());
    assert_eq!(
        shown_reply["conversation_id"],
        first.platform_post_id.as_str()
    );
    assert_eq!(shown_first["author_id"], me.as_str());
    assert!(shown_first.get("referenced_tweets").is_none());
    assert!(shown_first.get("in_reply_to_user_id").is_none());
    // X's text: entities escaped, the URL a t.co link.
    let text = shown_first["text"].as_str().unwrap();
    assert!(
        text.starts_with("one &amp; &lt;two&gt; https://t.co/"),
        "{text}"
    );
    assert!(!text.contains("example.com"));
    let created = shown_first["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.contains('.'), "{created}");
    // The image's post has its media key and a t.co media link.
    let (_, images) = timeline(&sandbox, token, &me, "?tweet.fields=attachments").await;
    let shown_image = images["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["text"]
                .as_str()
                .unwrap()
                .starts_with("an image https://t.co/")
        })
        .unwrap();
    assert_eq!(
        shown_image["attachments"]["media_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Time and id windows, and replies left out.
    let future = (Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let (_, none) = timeline(&sandbox, token, &me, &format!("?start_time={future}")).await;
    assert_eq!(none, serde_json::json!({ "meta": { "result_count": 0 } }));
    let (_, since) = timeline(
        &sandbox,
        token,
        &me,
        &format!(
            "?since_id={}&exclude=replies&max_results=100",
            first.platform_post_id
        ),
    )
    .await;
    assert_eq!(since["meta"]["result_count"], 5, "{since}");
    let (_, until) = timeline(
        &sandbox,
        token,
        &me,
        &format!("?until_id={}", reply.platform_post_id),
    )
    .await;
    assert_eq!(until["data"][0]["id"], first.platform_post_id.as_str());
    assert_eq!(until["meta"]["result_count"], 1);
}

#[tokio::test]
async fn late_answers_and_slow_media_are_counted_down() {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let x = client(&sandbox);
    let (connection, credentials) = connect(&sandbox, &x).await;
    let post = |text: &str| request(&connection, &credentials, text);

    // Bodies are checked.
    for bad in [
        serde_json::json!({ "seconds": -1 }),
        serde_json::json!({ "seconds": 4000 }),
        serde_json::json!({ "count": 2 }),
        serde_json::json!({ "seconds": 1, "count": 1, "extra": true }),
    ] {
        for path in ["/_sandbox/answer_late", "/_sandbox/slow_media"] {
            let (status, _) =
                sandbox_call(&sandbox, reqwest::Method::POST, path, Some(bad.clone())).await;
            assert_eq!(status, 400, "{path} {bad}");
        }
    }
    let (_, none) =
        sandbox_call(&sandbox, reqwest::Method::GET, "/_sandbox/slow_media", None).await;
    assert_eq!(none["count"], 0);

    // One late answer (count defaults to 1).
    x.publish(&post("first"), &Unguarded).await.unwrap();
    sandbox_call(
        &sandbox,
        reqwest::Method::POST,
        "/_sandbox/answer_late",
        Some(serde_json::json!({ "seconds": 1.5 })),
    )
    .await;
    // A refused post (a duplicate) uses none of it.
    assert!(matches!(
        x.publish(&post("first"), &Unguarded).await,
        Err(PublishError::Rejected { .. })
    ));
    let (_, left) = sandbox_call(
        &sandbox,
        reqwest::Method::GET,
        "/_sandbox/answer_late",
        None,
    )
    .await;
    assert_eq!(left, serde_json::json!({ "seconds": 1.5, "count": 1 }));
    let clock = std::time::Instant::now();
    x.publish(&post("late"), &Unguarded).await.unwrap();
    assert!(clock.elapsed() >= std::time::Duration::from_millis(1500));
    let clock = std::time::Instant::now();
    x.publish(&post("on time"), &Unguarded).await.unwrap();
    assert!(clock.elapsed() < std::time::Duration::from_millis(1500));

    // Slow media: each upload call (initialize, append, finalize) waits.
    let (status, set) = sandbox_call(
        &sandbox,
        reqwest::Method::POST,
        "/_sandbox/slow_media",
        Some(serde_json::json!({ "seconds": 0.4, "count": 3 })),
    )
    .await;
    assert_eq!(
        (status, set),
        (200, serde_json::json!({ "seconds": 0.4, "count": 3 }))
    );
    let mut with_image = post("slow image");
    with_image.media = vec![png(1000)];
    let clock = std::time::Instant::now();
    x.publish(&with_image, &Unguarded).await.unwrap();
    assert!(clock.elapsed() >= std::time::Duration::from_millis(1200));
    let (_, left) =
        sandbox_call(&sandbox, reqwest::Method::GET, "/_sandbox/slow_media", None).await;
    assert_eq!(left["count"], 0);
}
