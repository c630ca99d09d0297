//! The Mastodon adapter against the sandbox's instance, in process: app registration, OAuth
//! with PKCE, instance limits, statuses with media and threads, and safe retries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use multivio_ports::media::MediaBytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use multivio_domain::connection::{AuthorizedAccount, Connection, ConnectionStatus};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, MediaId, PostId, Provider, Secret, UserId};
use multivio_ports::error::StoreError;
use multivio_ports::platform::{
    Attachment, AuthorizationRequest, CodeExchange, InstanceApp, InstanceAppStore, OAuthClient,
    OAuthError, PostRef, PublishError, PublishRequest, Publisher, ReplyTo, Unguarded,
};
use multivio_ports::vault::{SealedToken, TokenVault, VaultError};
use multivio_sandbox::{Recorded, Sandbox};
use multivio_social::http::ServerPolicy;
use multivio_social::mastodon::{Mastodon, MastodonConfig, MediaPolling};
use serde_json::{Value, json};

const REDIRECT_URI: &str = "http://localhost:8080/v1/connections/mastodon/callback";

/// Instance apps in memory; `put` keeps the first.
#[derive(Default)]
struct Apps(Mutex<HashMap<(Provider, String, String), InstanceApp>>);

#[async_trait]
impl InstanceAppStore for Apps {
    async fn get(
        &self,
        provider: Provider,
        server_url: &str,
        redirect_uri: &str,
    ) -> Result<Option<InstanceApp>, StoreError> {
        let key = (provider, server_url.to_owned(), redirect_uri.to_owned());
        Ok(self.0.lock().unwrap().get(&key).cloned())
    }

    async fn put(&self, app: &InstanceApp) -> Result<InstanceApp, StoreError> {
        let key = (
            app.provider,
            app.server_url.clone(),
            app.redirect_uri.clone(),
        );
        Ok(self
            .0
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| stamped(app))
            .clone())
    }

    async fn replace(
        &self,
        stale_client_id: &str,
        app: &InstanceApp,
    ) -> Result<InstanceApp, StoreError> {
        let key = (
            app.provider,
            app.server_url.clone(),
            app.redirect_uri.clone(),
        );
        let mut apps = self.0.lock().unwrap();
        let stored = apps.entry(key).or_insert_with(|| stamped(app));
        if stored.client_id == stale_client_id {
            *stored = stamped(app);
        }
        Ok(stored.clone())
    }
}

/// `app` as a store keeps it: stamped with the time it was stored.
fn stamped(app: &InstanceApp) -> InstanceApp {
    InstanceApp {
        registered_at: Some(Utc::now()),
        ..app.clone()
    }
}

/// "Seals" as `sealed:<aad>:<secret>`: enough to see the right associated data is used.
struct Vault;

#[async_trait]
impl TokenVault for Vault {
    async fn seal(&self, plaintext: &Secret, aad: &str) -> Result<SealedToken, VaultError> {
        Ok(SealedToken(format!("sealed:{aad}:{}", plaintext.expose())))
    }

    async fn open(&self, sealed: &SealedToken, aad: &str) -> Result<Secret, VaultError> {
        sealed
            .0
            .strip_prefix(&format!("sealed:{aad}:"))
            .map(Secret::new)
            .ok_or(VaultError::Corrupt)
    }
}

struct World {
    sandbox: Sandbox,
    apps: Arc<Apps>,
    mastodon: Mastodon,
}

fn adapter(apps: Arc<Apps>, call_timeout: Duration) -> Mastodon {
    Mastodon::new(
        MastodonConfig {
            server_policy: ServerPolicy::AllowLoopback,
            client_name: "Multivio".into(),
            website: Some("https://multivio.dev".into()),
        },
        apps,
        Arc::new(Vault),
    )
    .unwrap()
    .with_timeouts(call_timeout, Duration::from_secs(10))
    .unwrap()
    .with_media_polling(MediaPolling {
        interval: Duration::from_millis(10),
        max_polls: 20,
    })
}

async fn world() -> World {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let apps = Arc::new(Apps::default());
    let mastodon = adapter(apps.clone(), Duration::from_secs(5));
    World {
        sandbox,
        apps,
        mastodon,
    }
}

impl World {
    fn instance(&self) -> String {
        self.sandbox.mastodon_url()
    }

    fn host(&self) -> String {
        self.sandbox.url().trim_start_matches("http://").to_owned()
    }

    /// The requests the instance received to `method path` (path without its query).
    fn requests(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.sandbox
            .state()
            .requests()
            .into_iter()
            .filter(|r| {
                r.platform == "mastodon"
                    && r.method == method
                    && r.path.split('?').next() == Some(path)
            })
            .collect()
    }

    /// The polls of processed media (`GET /api/v1/media/:id`).
    fn polls(&self) -> Vec<Recorded> {
        self.sandbox
            .state()
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/media/"))
            .collect()
    }

    async fn control(&self, path: &str, body: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_sandbox/{path}", self.instance()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    fn authorization(&self, state: &str, verifier: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            state: Secret::new(state),
            pkce_verifier: Secret::new(verifier),
            redirect_uri: REDIRECT_URI.into(),
            // As a user types it: no scheme is added for loopback, so give it whole.
            server_url: Some(format!("{}/", self.instance())),
        }
    }

    /// Follows an authorisation URL (the sandbox approves at once): the redirect's query.
    async fn approve(&self, url: &str) -> HashMap<String, String> {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    /// Connects an account (the sandbox's default user unless `username`).
    async fn connect(&self, username: Option<&str>) -> AuthorizedAccount {
        if let Some(username) = username {
            self.control("next_user", json!({ "username": username }))
                .await;
        }
        let verifier = format!("verifier-{}", uuid::Uuid::new_v4());
        let url = self
            .mastodon
            .authorization_url(&self.authorization("st", &verifier))
            .await
            .unwrap();
        let query = self.approve(&url).await;
        let mut accounts = self
            .mastodon
            .exchange_code(&CodeExchange {
                code: Secret::new(query["code"].clone()),
                pkce_verifier: Secret::new(verifier),
                redirect_uri: REDIRECT_URI.into(),
                server_url: Some(self.instance()),
            })
            .await
            .unwrap();
        assert_eq!(accounts.len(), 1);
        accounts.remove(0)
    }

    fn stored_app(&self) -> InstanceApp {
        self.apps
            .0
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap()
    }
}

fn connection(account: &AuthorizedAccount) -> Connection {
    let now = Utc::now();
    Connection {
        id: ConnectionId(uuid::Uuid::new_v4()),
        user_id: UserId(1),
        provider: Provider::Mastodon,
        provider_account_id: account.profile.provider_account_id.clone(),
        account_label: account.profile.label.clone(),
        account_type: account.profile.account_type,
        is_primary: true,
        status: ConnectionStatus::Active,
        metadata: account.profile.metadata.clone(),
        expires_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn request(account: &AuthorizedAccount, text: &str, key: &str) -> PublishRequest {
    let connection = connection(account);
    PublishRequest {
        post_id: PostId(uuid::Uuid::new_v4()),
        target: Target::account(Provider::Mastodon, connection.id),
        connection,
        credentials: account.credentials.clone(),
        text: text.into(),
        media: Vec::new(),
        part: 0,
        reply_to: None,
        idempotency_key: key.into(),
        name: "Post".into(),
        options: Default::default(),
    }
}

fn attachment(mime: &str, bytes: Vec<u8>, alt: Option<&str>) -> Attachment {
    let now = Utc::now();
    Attachment {
        file: MediaFile {
            id: MediaId(uuid::Uuid::new_v4()),
            user_id: UserId(1),
            filename: format!("media/{}", uuid::Uuid::new_v4()),
            original_filename: Some(format!("file.{}", mime.split('/').nth(1).unwrap())),
            file_type: mime.into(),
            file_size: bytes.len() as u64,
            cdn_url: None,
            thumbnail_url: None,
            platform_compatibility: vec![Provider::Mastodon],
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

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorize_url_names_the_app_registered_once_per_instance() {
    let w = world().await;
    let first = w
        .mastodon
        .authorization_url(&w.authorization("state-1", "verifier-1"))
        .await
        .unwrap();
    let second = w
        .mastodon
        .authorization_url(&w.authorization("state-2", "verifier-2"))
        .await
        .unwrap();

    let registrations = w.requests("POST", "/api/v1/apps");
    assert_eq!(
        registrations.len(),
        1,
        "one app per instance and redirect URI"
    );
    let registered: Value = serde_json::from_str(&registrations[0].body).unwrap();
    assert_eq!(
        registered,
        json!({"client_name": "Multivio", "redirect_uris": [REDIRECT_URI],
               "scopes": "read write", "website": "https://multivio.dev"})
    );

    let app = w.stored_app();
    assert_eq!(
        app.server_url,
        w.instance(),
        "stored under the canonical URL"
    );
    assert_eq!(app.redirect_uri, REDIRECT_URI);
    assert!(app.client_secret.0.starts_with(&format!(
        "sealed:platform_apps:mastodon:{}:{REDIRECT_URI}:client_secret:",
        w.instance()
    )));

    for (url, state, verifier) in [
        (&first, "state-1", "verifier-1"),
        (&second, "state-2", "verifier-2"),
    ] {
        assert!(
            url.starts_with(&format!("{}/oauth/authorize?", w.instance())),
            "{url}"
        );
        let parsed = url::Url::parse(url).unwrap();
        let q: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], app.client_id);
        assert_eq!(q["redirect_uri"], REDIRECT_URI);
        assert_eq!(q["scope"], "read write");
        assert_eq!(q["state"], state);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            multivio_social::pkce::s256_challenge(&Secret::new(verifier))
        );
        assert!(url.contains("scope=read+write"), "{url}");
    }

    // Another redirect URI is another app.
    let mut other = w.authorization("state-3", "verifier-3");
    other.redirect_uri = "http://localhost:9090/callback".into();
    w.mastodon.authorization_url(&other).await.unwrap();
    assert_eq!(w.requests("POST", "/api/v1/apps").len(), 2);

    // Instances users may not name are refused before any request.
    let mut private = w.authorization("s", "v");
    private.server_url = Some("http://10.0.0.1".into());
    assert!(matches!(
        w.mastodon.authorization_url(&private).await,
        Err(OAuthError::Rejected { code, .. }) if code == "mastodon_server_url"
    ));
    private.server_url = None;
    assert!(matches!(
        w.mastodon.authorization_url(&private).await,
        Err(OAuthError::Rejected { code, .. }) if code == "mastodon_server_required"
    ));
    // An instance where nothing answers: the person's address to check, not an outage.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    private.server_url = Some(format!("http://{}", closed.local_addr().unwrap()));
    drop(closed);
    let unreachable = w.mastodon.authorization_url(&private).await;
    assert!(
        matches!(&unreachable, Err(OAuthError::Rejected { code, .. }) if code == "server_unreachable"),
        "{unreachable:?}"
    );
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_the_instance_deleted_unused_is_registered_again() {
    let w = world().await;
    // An authorisation begun and abandoned: the app holds no token.
    w.mastodon
        .authorization_url(&w.authorization("abandoned", "verifier-0"))
        .await
        .unwrap();
    let first = w.stored_app();
    // The next one checks the stored app with a token of its own, revoked at once, and keeps it.
    w.mastodon
        .authorization_url(&w.authorization("kept", "verifier-1"))
        .await
        .unwrap();
    assert_eq!(w.stored_app(), first);
    assert_eq!(w.requests("POST", "/api/v1/apps").len(), 1);
    let checks = w.requests("POST", "/oauth/token");
    assert_eq!(checks.len(), 1);
    let check = form(&checks[0].body);
    assert_eq!(check["grant_type"], "client_credentials");
    assert_eq!(check["client_id"], first.client_id);
    assert_eq!(check["scope"], "read");
    assert_eq!(w.requests("POST", "/oauth/revoke").len(), 1);

    // A day later the instance's vacuum deleted it: the next authorisation registers a new app
    // in its place, and the whole flow works with it.
    let vacuum: Value = reqwest::Client::new()
        .post(format!("{}/_sandbox/vacuum_apps", w.instance()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(vacuum["deleted"], 1);
    // (An app stored within the hour is not replaced: the instance is told no again later.)
    let young = w
        .mastodon
        .authorization_url(&w.authorization("young", "verifier-3"))
        .await;
    assert!(
        matches!(&young, Err(OAuthError::Rejected { code, .. }) if code == "mastodon_app_refused"),
        "{young:?}"
    );
    assert_eq!(w.requests("POST", "/api/v1/apps").len(), 1);
    // The vacuum only deletes apps a day old: the stored one is.
    w.apps.0.lock().unwrap().values_mut().for_each(|app| {
        app.registered_at = Some(Utc::now() - chrono::Duration::days(1));
    });
    let account = w.connect(None).await;
    let second = w.stored_app();
    assert_ne!(second.client_id, first.client_id);
    assert_eq!(w.requests("POST", "/api/v1/apps").len(), 2);
    assert_eq!(w.apps.0.lock().unwrap().len(), 1, "replaced, not added");
    w.mastodon
        .publish(
            &request(&account, "Through the app registered again", "k-1"),
            &Unguarded,
        )
        .await
        .unwrap();
    // An app holding an account's token is not vacuumed, and is kept.
    w.control("vacuum_apps", json!({})).await;
    w.mastodon
        .authorization_url(&w.authorization("later", "verifier-2"))
        .await
        .unwrap();
    assert_eq!(w.stored_app(), second);
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_is_replaced_only_when_the_instance_says_it_does_not_know_it() {
    let w = world().await;
    w.mastodon
        .authorization_url(&w.authorization("first", "verifier-0"))
        .await
        .unwrap();
    let stored = w.stored_app();
    // A failing check, an instance without the grant, a 401 that names no client: the app
    // is kept and the authorisation goes on with it.
    for code in [503, 400, 401] {
        w.control("faults", json!({ "fail_next_token": code }))
            .await;
        let url = w
            .mastodon
            .authorization_url(&w.authorization("again", "verifier-1"))
            .await
            .unwrap();
        assert!(url.contains(&stored.client_id), "{code}: {url}");
        assert_eq!(w.stored_app(), stored, "{code}");
    }
    assert_eq!(w.requests("POST", "/api/v1/apps").len(), 1);
    // A secret this vault cannot open (a key missing from the keyring) is refused, never
    // replaced: the app is live, and its connections are revoked with it.
    w.apps.0.lock().unwrap().values_mut().for_each(|app| {
        app.client_secret = SealedToken("sealed-under-another-key".into());
    });
    let refused = w
        .mastodon
        .authorization_url(&w.authorization("locked", "verifier-2"))
        .await;
    assert!(
        matches!(&refused, Err(OAuthError::Rejected { code, .. }) if code == "mastodon_app_unreadable"),
        "{refused:?}"
    );
    assert_eq!(w.stored_app().client_id, stored.client_id);
    assert_eq!(w.requests("POST", "/api/v1/apps").len(), 1);
    w.sandbox.stop().await;
}

/// A store where another process wins the race: the first `get` finds nothing, and `put`
/// hands back the app stored meanwhile.
struct Racing {
    inner: Apps,
    hide_next_get: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl InstanceAppStore for Racing {
    async fn get(
        &self,
        provider: Provider,
        server_url: &str,
        redirect_uri: &str,
    ) -> Result<Option<InstanceApp>, StoreError> {
        if self
            .hide_next_get
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(None);
        }
        self.inner.get(provider, server_url, redirect_uri).await
    }

    async fn put(&self, app: &InstanceApp) -> Result<InstanceApp, StoreError> {
        self.inner.put(app).await
    }

    async fn replace(
        &self,
        stale_client_id: &str,
        app: &InstanceApp,
    ) -> Result<InstanceApp, StoreError> {
        self.inner.replace(stale_client_id, app).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_registration_keeps_the_first_app() {
    let w = world().await;
    // The app the other process registered and stored first.
    let theirs: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/apps", w.instance()))
        .json(&json!({"client_name": "Multivio", "redirect_uris": REDIRECT_URI, "scopes": "read write"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let aad =
        multivio_ports::platform::instance_app_aad(Provider::Mastodon, &w.instance(), REDIRECT_URI);
    let store = Arc::new(Racing {
        inner: Apps::default(),
        hide_next_get: true.into(),
    });
    store
        .inner
        .put(&InstanceApp {
            provider: Provider::Mastodon,
            server_url: w.instance(),
            redirect_uri: REDIRECT_URI.into(),
            client_id: theirs["client_id"].as_str().unwrap().into(),
            client_secret: Vault
                .seal(
                    &Secret::new(theirs["client_secret"].as_str().unwrap()),
                    &aad,
                )
                .await
                .unwrap(),
            registered_at: None,
        })
        .await
        .unwrap();
    let mastodon = Mastodon::new(
        MastodonConfig {
            server_policy: ServerPolicy::AllowLoopback,
            client_name: "Multivio".into(),
            website: None,
        },
        store,
        Arc::new(Vault),
    )
    .unwrap();

    let url = mastodon
        .authorization_url(&w.authorization("s", "v"))
        .await
        .unwrap();
    assert_eq!(
        w.requests("POST", "/api/v1/apps").len(),
        2,
        "ours was registered too"
    );
    let q: HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_id"], theirs["client_id"].as_str().unwrap());
    // And the code exchange authenticates as that app.
    let code = w.approve(&url).await["code"].clone();
    mastodon
        .exchange_code(&CodeExchange {
            code: Secret::new(code),
            pkce_verifier: Secret::new("v"),
            redirect_uri: REDIRECT_URI.into(),
            server_url: Some(w.instance()),
        })
        .await
        .unwrap();
    let sent = form(&w.requests("POST", "/oauth/token")[0].body);
    assert_eq!(sent["client_id"], theirs["client_id"].as_str().unwrap());
    assert_eq!(
        sent["client_secret"],
        theirs["client_secret"].as_str().unwrap()
    );
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_is_exchanged_for_the_account_with_its_instance_limits() {
    let w = world().await;
    let url = w
        .mastodon
        .authorization_url(&w.authorization("the-state", "the-verifier"))
        .await
        .unwrap();
    let query = w.approve(&url).await;
    assert_eq!(query["state"], "the-state");
    let code = query["code"].clone();

    let accounts = w
        .mastodon
        .exchange_code(&CodeExchange {
            code: Secret::new(code.clone()),
            pkce_verifier: Secret::new("the-verifier"),
            redirect_uri: REDIRECT_URI.into(),
            server_url: Some(w.instance()),
        })
        .await
        .unwrap();

    // The exact token request.
    let app = w.stored_app();
    let secret = Vault
        .open(
            &app.client_secret,
            &multivio_ports::platform::instance_app_aad(
                Provider::Mastodon,
                &app.server_url,
                REDIRECT_URI,
            ),
        )
        .await
        .unwrap();
    let token_requests = w.requests("POST", "/oauth/token");
    assert_eq!(token_requests.len(), 1);
    assert_eq!(
        token_requests[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let sent = form(&token_requests[0].body);
    let expected: HashMap<String, String> = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", app.client_id.as_str()),
        ("client_secret", secret.expose()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", "the-verifier"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(sent, expected);

    let account = &accounts[0];
    let host = w.host();
    let profile = &account.profile;
    assert_eq!(
        profile.provider_account_id.as_str(),
        format!("sandbox_user@{host}")
    );
    assert_eq!(
        profile.label.as_ref().unwrap().as_str(),
        format!("@sandbox_user@{host}")
    );
    assert_eq!(
        profile.account_type,
        multivio_domain::connection::AccountType::Personal
    );
    let m = &profile.metadata;
    assert_eq!(m["server_url"], w.instance());
    assert_eq!(m["redirect_uri"], REDIRECT_URI);
    assert_eq!(m["username"], "sandbox_user");
    assert_eq!(m["acct"], "sandbox_user");
    assert!(m["account_id"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(m["url"], format!("{}/@sandbox_user", w.instance()));
    assert_eq!(m["max_characters"], 500);
    assert_eq!(m["characters_reserved_per_url"], 23);
    assert_eq!(m["max_media_attachments"], 4);
    assert_eq!(m["description_limit"], 1500);
    assert_eq!(m["image_size_limit"], 16 * 1024 * 1024);
    assert_eq!(m["video_size_limit"], 103_809_024);
    assert!(
        m["supported_mime_types"]
            .as_array()
            .unwrap()
            .contains(&json!("video/mp4"))
    );
    assert!(
        !m.to_string()
            .contains(account.credentials.access_token.expose()),
        "no token in metadata"
    );
    assert_eq!(account.credentials.refresh_token, None);
    assert_eq!(account.credentials.expires_at, None);

    let verify = w.requests("GET", "/api/v1/accounts/verify_credentials");
    assert_eq!(
        verify[0].authorization.as_deref(),
        Some(format!("Bearer {}", account.credentials.access_token.expose()).as_str())
    );

    // The code is single use.
    let replay = w
        .mastodon
        .exchange_code(&CodeExchange {
            code: Secret::new(code),
            pkce_verifier: Secret::new("the-verifier"),
            redirect_uri: REDIRECT_URI.into(),
            server_url: Some(w.instance()),
        })
        .await;
    assert!(
        matches!(replay, Err(OAuthError::InvalidGrant { .. })),
        "{replay:?}"
    );

    // A second user is a second account; tokens never need refreshing.
    let bob = w.connect(Some("bob")).await;
    assert_eq!(
        bob.profile.provider_account_id.as_str(),
        format!("bob@{host}")
    );
    assert_ne!(bob.profile.metadata["account_id"], m["account_id"]);
    assert_eq!(
        w.mastodon
            .refresh(&connection(&bob), &Secret::new("none"))
            .await,
        Err(OAuthError::NotSupported)
    );
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_verifier_is_an_invalid_grant() {
    let w = world().await;
    let url = w
        .mastodon
        .authorization_url(&w.authorization("s", "right-verifier"))
        .await
        .unwrap();
    let code = w.approve(&url).await["code"].clone();
    let exchange = |verifier: &str| CodeExchange {
        code: Secret::new(code.clone()),
        pkce_verifier: Secret::new(verifier),
        redirect_uri: REDIRECT_URI.into(),
        server_url: Some(w.instance()),
    };
    match w.mastodon.exchange_code(&exchange("wrong-verifier")).await {
        Err(OAuthError::InvalidGrant { reason }) => {
            assert!(
                reason.contains("authorization grant is invalid"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A redirect URI other than the authorisation's has no app to exchange with.
    let mut other_uri = exchange("right-verifier");
    other_uri.redirect_uri = "http://localhost:1/elsewhere".into();
    assert!(matches!(
        w.mastodon.exchange_code(&other_uri).await,
        Err(OAuthError::Rejected { code, .. }) if code == "mastodon_app_unknown"
    ));
    // The failed attempt did not use the code up (as Doorkeeper).
    assert!(
        w.mastodon
            .exchange_code(&exchange("right-verifier"))
            .await
            .is_ok()
    );
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_published_with_its_idempotency_key() {
    let w = world().await;
    let account = w.connect(None).await;
    let published = w
        .mastodon
        .publish(
            &request(&account, "Hello from Multivio", "key-text-1"),
            &Unguarded,
        )
        .await
        .unwrap();
    assert_eq!(
        w.mastodon.dedup_window(),
        Some(chrono::Duration::minutes(50))
    );

    let posts = w.sandbox.state().posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.platform, "mastodon");
    assert_eq!(post.account, "@sandbox_user");
    assert_eq!(post.text, "Hello from Multivio");
    assert_eq!(post.id, published.platform_post_id);
    assert_eq!(published.reference, None);
    assert_eq!(
        published.url.as_deref(),
        Some(format!("{}/@sandbox_user/{}", w.instance(), post.id).as_str())
    );

    let sent = w.requests("POST", "/api/v1/statuses");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key.as_deref(), Some("key-text-1"));
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({"status": "Hello from Multivio", "media_ids": [], "visibility": "public"})
    );
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_images_go_with_their_descriptions() {
    let w = world().await;
    let account = w.connect(None).await;
    let mut req = request(&account, "Four pictures", "key-images");
    req.media = (1..=4)
        .map(|i| {
            attachment(
                "image/png",
                vec![i; 100 * i as usize],
                Some(&format!("picture {i}")),
            )
        })
        .collect();
    let published = w.mastodon.publish(&req, &Unguarded).await.unwrap();

    let uploads = w.requests("POST", "/api/v2/media");
    assert_eq!(uploads.len(), 4);
    for u in &uploads {
        assert!(
            u.content_type
                .as_deref()
                .unwrap()
                .starts_with("multipart/form-data; boundary=")
        );
        assert!(u.authorization.as_deref().unwrap().starts_with("Bearer "));
    }
    assert!(w.polls().is_empty(), "images are processed at once");
    let posts = w.sandbox.state().posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].id, published.platform_post_id);
    assert_eq!(
        posts[0].media,
        vec![
            "image/png (100 bytes): picture 1",
            "image/png (200 bytes): picture 2",
            "image/png (300 bytes): picture 3",
            "image/png (400 bytes): picture 4",
        ]
    );
    let status: Value =
        serde_json::from_str(&w.requests("POST", "/api/v1/statuses")[0].body).unwrap();
    assert_eq!(status["media_ids"].as_array().unwrap().len(), 4);

    // Alt text longer than the instance allows is cut to its limit.
    let mut short = request(&account, "", "key-short-alt");
    short.connection.metadata["description_limit"] = json!(5);
    short.media = vec![attachment("image/jpeg", vec![7; 10], Some("abcdefghij"))];
    w.mastodon.publish(&short, &Unguarded).await.unwrap();
    let posts = w.sandbox.state().posts();
    assert_eq!(posts[1].media, vec!["image/jpeg (10 bytes): abcde"]);
    assert_eq!(posts[1].text, "");
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_is_polled_until_processed() {
    let w = world().await;
    let account = w.connect(None).await;
    let mut req = request(&account, "A video", "key-video");
    req.media = vec![attachment("video/mp4", vec![0; 4096], Some("a short clip"))];
    w.mastodon.publish(&req, &Unguarded).await.unwrap();

    assert_eq!(w.requests("POST", "/api/v2/media").len(), 1);
    let polls = w.polls();
    assert_eq!(polls.len(), 3, "206, 206, then 200");
    assert!(polls.iter().all(|p| p.path == polls[0].path));
    assert_eq!(
        w.sandbox.state().posts()[0].media,
        vec!["video/mp4 (4096 bytes): a short clip"]
    );

    // A file that never finishes processing fails the attempt as transient, posting nothing.
    w.control("faults", json!({"media_processing_polls": 1000}))
        .await;
    let mut slow = request(&account, "Another video", "key-video-2");
    slow.media = vec![attachment("video/mp4", vec![0; 10], None)];
    let outcome = w.mastodon.publish(&slow, &Unguarded).await;
    assert!(
        matches!(outcome, Err(PublishError::Transient { .. })),
        "{outcome:?}"
    );
    assert_eq!(w.sandbox.state().posts().len(), 1);
    assert!(w.requests("POST", "/api/v1/statuses").len() == 1);
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_replies_part_to_part() {
    let w = world().await;
    let account = w.connect(None).await;
    let mut published: Vec<PostRef> = Vec::new();
    for part in 0..3 {
        let mut req = request(
            &account,
            &format!("part {}", part + 1),
            &format!("thread:{part}"),
        );
        req.part = part;
        req.reply_to = published.last().map(|parent| ReplyTo {
            root: published[0].clone(),
            parent: parent.clone(),
        });
        let post = w.mastodon.publish(&req, &Unguarded).await.unwrap();
        published.push(PostRef {
            id: post.platform_post_id,
            reference: post.reference,
        });
    }
    let posts = w.sandbox.state().posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0].reply_to, None);
    assert_eq!(posts[1].reply_to.as_deref(), Some(published[0].id.as_str()));
    assert_eq!(posts[2].reply_to.as_deref(), Some(published[1].id.as_str()));
    let bodies: Vec<Value> = w
        .requests("POST", "/api/v1/statuses")
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert!(bodies[0].get("in_reply_to_id").is_none());
    assert_eq!(bodies[2]["in_reply_to_id"], json!(published[1].id));

    // A reply to a status that is gone is refused for good.
    let mut orphan = request(&account, "orphan", "thread:orphan");
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
        w.mastodon.publish(&orphan, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "mastodon_reply_target_missing"
    ));
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_answer_returns_the_same_status() {
    let w = world().await;
    let account = w.connect(None).await;
    let impatient = adapter(w.apps.clone(), Duration::from_millis(800));
    w.control("faults", json!({"store_then_hang_ms": 3000}))
        .await;

    let req = request(&account, "Posted once, whatever happens", "post-1:target:0");
    let first = impatient.publish(&req, &Unguarded).await;
    assert!(
        matches!(
            first,
            Err(PublishError::Unknown { .. } | PublishError::Transient { .. })
        ),
        "{first:?}"
    );
    assert_eq!(w.sandbox.state().posts().len(), 1, "the instance stored it");

    // The worker retries because the instance deduplicates the key within the window.
    assert!(impatient.dedup_window().is_some());
    let second = impatient.publish(&req, &Unguarded).await.unwrap();
    let posts = w.sandbox.state().posts();
    assert_eq!(posts.len(), 1, "exactly one status");
    assert_eq!(second.platform_post_id, posts[0].id);

    let sent = w.requests("POST", "/api/v1/statuses");
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|r| r.idempotency_key.as_deref() == Some("post-1:target:0"))
    );
    // The key is per account: another account's same key posts its own status.
    let bob = w.connect(Some("bob")).await;
    w.mastodon
        .publish(&request(&bob, "Bob's", "post-1:target:0"), &Unguarded)
        .await
        .unwrap();
    assert_eq!(w.sandbox.state().posts().len(), 2);
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_map_to_what_the_worker_does() {
    let w = world().await;
    let account = w.connect(None).await;

    match w
        .mastodon
        .publish(&request(&account, &"x".repeat(501), "too-long"), &Unguarded)
        .await
    {
        Err(PublishError::Rejected { code, reason }) => {
            assert_eq!(code, "mastodon_rejected");
            assert_eq!(
                reason,
                "The Mastodon instance refused the post: Validation failed: Text character limit of 500 exceeded"
            );
        }
        other => panic!("{other:?}"),
    }
    // URLs count 23: 480 letters and a long URL fit.
    let with_url = format!(
        "{} https://example.com/{}",
        "y".repeat(470),
        "z".repeat(200)
    );
    w.mastodon
        .publish(&request(&account, &with_url, "with-url"), &Unguarded)
        .await
        .unwrap();

    w.control("faults", json!({"fail_next_status": 429})).await;
    match w
        .mastodon
        .publish(&request(&account, "later", "rl"), &Unguarded)
        .await
    {
        Err(PublishError::RateLimited {
            retry_after: Some(d),
        }) => {
            assert!((50..=60).contains(&d.num_seconds()), "{d:?}")
        }
        other => panic!("{other:?}"),
    }
    // A server error answering the status may come after it was stored: unknown, for the core
    // to look for it (and re-send with the same key only within the window).
    w.control("faults", json!({"fail_next_status": 503})).await;
    assert!(matches!(
        w.mastodon
            .publish(&request(&account, "later", "busy"), &Unguarded)
            .await,
        Err(PublishError::Unknown { .. })
    ));
    // One answering a file is retried: no status was sent.
    w.control("faults", json!({"fail_next_media": 503})).await;
    let mut busy_media = request(&account, "pic", "busy-media");
    busy_media.media = vec![attachment("image/png", vec![1; 10], None)];
    assert!(matches!(
        w.mastodon.publish(&busy_media, &Unguarded).await,
        Err(PublishError::Transient { .. })
    ));
    w.control("faults", json!({"fail_next_media": 422})).await;
    let mut media = request(&account, "pic", "bad-media");
    media.media = vec![attachment("image/png", vec![1; 10], None)];
    assert!(matches!(
        w.mastodon.publish(&media, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "mastodon_media_rejected"
    ));
    let mut unsupported = request(&account, "doc", "bad-type");
    unsupported.media = vec![attachment("application/pdf", vec![1; 10], None)];
    assert!(matches!(
        w.mastodon.publish(&unsupported, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "mastodon_media_rejected"
    ));

    // Revoking sends the app's credentials and the token; the token then stops working.
    let conn = connection(&account);
    w.mastodon
        .revoke(&conn, &account.credentials)
        .await
        .unwrap();
    let revoke = w.requests("POST", "/oauth/revoke");
    let sent = form(&revoke[0].body);
    assert_eq!(sent["client_id"], w.stored_app().client_id);
    assert!(!sent["client_secret"].is_empty());
    assert_eq!(sent["token"], account.credentials.access_token.expose());
    assert!(matches!(
        w.mastodon
            .publish(&request(&account, "after", "after-revoke"), &Unguarded)
            .await,
        Err(PublishError::Unauthorized { .. })
    ));
    // A connection without its instance cannot be published to.
    let mut lost = request(&account, "x", "lost");
    lost.connection.metadata = json!({});
    assert!(matches!(
        w.mastodon.publish(&lost, &Unguarded).await,
        Err(PublishError::Rejected { code, .. }) if code == "mastodon_connection_incomplete"
    ));
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_instance_limits_are_clamped_or_refused() {
    let w = world().await;
    w.control(
        "instance",
        json!({"body": {"domain": "evil.example", "configuration": {
            "statuses": {"max_characters": 1_000_000_000_000u64, "characters_reserved_per_url": 1_000_000,
                         "max_media_attachments": 100_000},
            "media_attachments": {"description_limit": -1, "image_size_limit": 1e30,
                                  "supported_mime_types": (0..5000).map(|i| format!("image/x-{i}")).collect::<Vec<_>>()}}}}),
    )
    .await;
    let account = w.connect(None).await;
    let m = &account.profile.metadata;
    assert_eq!(m["max_characters"], 100_000);
    assert_eq!(m["characters_reserved_per_url"], 500);
    assert_eq!(m["max_media_attachments"], 16);
    assert_eq!(m["description_limit"], 1);
    assert_eq!(m["image_size_limit"], 1024 * 1024 * 1024);
    assert_eq!(m["supported_mime_types"].as_array().unwrap().len(), 64);

    // 256 MiB streamed before the limits: the answer is refused after its first megabyte and
    // the connection gets Mastodon's defaults.
    w.control(
        "instance",
        json!({"body": {"configuration": {"statuses": {"max_characters": 1_000_000_000_000u64}}},
               "padding_bytes": 256u64 * 1024 * 1024}),
    )
    .await;
    let started = Instant::now();
    let account = w.connect(Some("carol")).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(account.profile.metadata["max_characters"], 500);
    assert_eq!(account.profile.metadata["characters_reserved_per_url"], 23);

    // An instance without /api/v2/instance is read from /api/v1/instance.
    w.control(
        "instance",
        json!({"v2_missing": true, "body": {"uri": "old.example", "max_toot_chars": 5000}}),
    )
    .await;
    let account = w.connect(Some("dave")).await;
    assert_eq!(account.profile.metadata["max_characters"], 5000);
    assert_eq!(w.requests("GET", "/api/v1/instance").len(), 1);
    w.sandbox.stop().await;
}

/// A send guard that notes the requests the instance had received each time it was asked,
/// and then allows the send or refuses it.
struct Watch {
    state: Arc<multivio_sandbox::SandboxState>,
    refusal: Option<String>,
    asked: Mutex<Vec<Vec<Recorded>>>,
}

impl Watch {
    fn new(sandbox: &Sandbox, refusal: Option<&str>) -> Self {
        Self {
            state: sandbox.state(),
            refusal: refusal.map(str::to_owned),
            asked: Mutex::new(Vec::new()),
        }
    }

    fn asked(&self) -> Vec<Vec<Recorded>> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait]
impl multivio_ports::platform::SendGuard for Watch {
    async fn before_send(&self) -> Result<(), String> {
        self.asked.lock().unwrap().push(self.state.requests());
        match &self.refusal {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
}

impl World {
    /// A control call with its status and JSON answer.
    async fn control_answer(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut call =
            reqwest::Client::new().request(method, format!("{}/_sandbox/{path}", self.instance()));
        if let Some(body) = body {
            call = call.json(&body);
        }
        let response = call.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/v1/accounts/:id/statuses` with `query`, and the token when given: the
    /// status, the `Link` header and the statuses.
    async fn account_statuses(
        &self,
        id: &str,
        query: &str,
        token: Option<&str>,
    ) -> (u16, Option<String>, Value) {
        let mut call = reqwest::Client::new().get(format!(
            "{}/api/v1/accounts/{id}/statuses{query}",
            self.instance()
        ));
        if let Some(token) = token {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.unwrap();
        let status = response.status().as_u16();
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, link, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts a status directly, as another client of the account would.
    async fn post_status(&self, token: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/statuses", self.instance()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_is_asked_once_after_the_media_and_a_refusal_posts_nothing() {
    let w = world().await;
    let account = w.connect(None).await;
    let mut req = request(&account, "guarded", "key-guarded");
    req.media = vec![attachment("image/png", vec![1; 10], Some("a dot"))];

    let refusing = Watch::new(&w.sandbox, Some("lease lost"));
    assert_eq!(
        w.mastodon.publish(&req, &refusing).await,
        Err(PublishError::NotSent {
            reason: "lease lost".into()
        })
    );
    assert_eq!(refusing.asked().len(), 1);
    assert_eq!(
        w.requests("POST", "/api/v2/media").len(),
        1,
        "the file went"
    );
    assert!(w.requests("POST", "/api/v1/statuses").is_empty());
    assert!(w.sandbox.state().posts().is_empty());

    let allowing = Watch::new(&w.sandbox, None);
    let published = w.mastodon.publish(&req, &allowing).await.unwrap();
    let asked = allowing.asked();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].last().unwrap().path, "/api/v2/media");
    assert!(!asked[0].iter().any(|r| r.path == "/api/v1/statuses"));
    assert_eq!(w.requests("POST", "/api/v1/statuses").len(), 1);
    assert_eq!(w.sandbox.state().posts()[0].id, published.platform_post_id);
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_a_status_the_instance_answered_late() {
    let w = world().await;
    let account = w.connect(None).await;
    let started = Utc::now();
    let root_req = request(
        &account,
        "Root & <links>: https://example.com/a/very/long/path/indeed",
        "k-root",
    );
    let root = w.mastodon.publish(&root_req, &Unguarded).await.unwrap();

    let (status, set) = w
        .control_answer(
            reqwest::Method::POST,
            "answer_late",
            Some(json!({"seconds": 3, "count": 1})),
        )
        .await;
    assert_eq!((status, set), (200, json!({"seconds": 3.0, "count": 1})));
    let mut part = request(&account, "2/2 it's #done\n\nsee example.org", "k-part");
    part.part = 1;
    part.media = vec![attachment("image/png", vec![1; 10], None)];
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
        let (late, part) = (
            adapter(w.apps.clone(), Duration::from_secs(10)),
            part.clone(),
        );
        tokio::spawn(async move { late.publish(&part, &Unguarded).await })
    };
    let clock = Instant::now();
    while w.sandbox.state().posts_of("mastodon").unwrap().len() < 2 {
        assert!(
            clock.elapsed() < Duration::from_secs(2),
            "the status never appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!sending.is_finished(), "answered before the delay");
    let held = w.sandbox.state().posts_of("mastodon").unwrap();

    let found = w.mastodon.reconcile(&part, sent_at).await.unwrap().unwrap();
    assert_eq!(found.platform_post_id, held[1].id);
    assert_eq!(
        found.url.as_deref(),
        Some(format!("{}/@sandbox_user/{}", w.instance(), held[1].id).as_str())
    );
    let root_found = w
        .mastodon
        .reconcile(&root_req, started)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(root_found.platform_post_id, root.platform_post_id);

    // Not it: as a first part, another text, fewer media, a window after it.
    let mut as_first = part.clone();
    as_first.reply_to = None;
    assert_eq!(
        w.mastodon.reconcile(&as_first, sent_at).await.unwrap(),
        None
    );
    let mut other = part.clone();
    other.text = "2/2 not this".into();
    assert_eq!(w.mastodon.reconcile(&other, sent_at).await.unwrap(), None);
    let mut no_media = part.clone();
    no_media.media.clear();
    assert_eq!(
        w.mastodon.reconcile(&no_media, sent_at).await.unwrap(),
        None
    );
    let later = Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(w.mastodon.reconcile(&part, later).await.unwrap(), None);

    // A connection stored without the account id: the instance is asked who it is.
    let mut without_id = part.clone();
    if let Some(metadata) = without_id.connection.metadata.as_object_mut() {
        metadata.remove("account_id");
    }
    let again = w.mastodon.reconcile(&without_id, sent_at).await.unwrap();
    assert_eq!(again, Some(found.clone()));
    assert!(
        !w.requests("GET", "/api/v1/accounts/verify_credentials")
            .is_empty()
    );

    let published = sending.await.unwrap().unwrap();
    assert_eq!(published.platform_post_id, found.platform_post_id);
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_leaves_two_matching_statuses_to_a_person() {
    let w = world().await;
    let account = w.connect(None).await;
    let sent_at = Utc::now();
    let token = account.credentials.access_token.expose().to_owned();
    let req = request(&account, "twice", "k-twice");
    let once = w.mastodon.publish(&req, &Unguarded).await.unwrap();
    let found = w.mastodon.reconcile(&req, sent_at).await.unwrap().unwrap();
    assert_eq!(found.platform_post_id, once.platform_post_id);
    // The same text again, from another client without a key: two candidates.
    w.post_status(&token, json!({"status": "twice"})).await;
    assert_eq!(w.mastodon.reconcile(&req, sent_at).await.unwrap(), None);
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_statuses_are_listed_as_mastodon_lists_them() {
    let w = world().await;
    let account = w.connect(None).await;
    let token = account.credentials.access_token.expose().to_owned();
    let id = account.profile.metadata["account_id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(w.account_statuses("999", "", None).await.0, 404);
    assert_eq!(w.account_statuses(&id, "", Some("wrong")).await.0, 401);
    let (status, link, none) = w.account_statuses(&id, "", None).await;
    assert_eq!((status, link, none), (200, None, json!([])));

    let mut ids = Vec::new();
    for i in 0..44 {
        let posted = w
            .post_status(&token, json!({"status": format!("status {i}")}))
            .await;
        ids.push(posted["id"].as_str().unwrap().to_owned());
    }
    let reply = w
        .post_status(
            &token,
            json!({"status": "a reply", "in_reply_to_id": ids[0]}),
        )
        .await;
    let private = w
        .post_status(
            &token,
            json!({"status": "followers only", "visibility": "private"}),
        )
        .await;
    w.post_status(
        &token,
        json!({"status": "a direct one", "visibility": "direct"}),
    )
    .await;

    // Default 20, newest first; the owner sees the private status, nobody sees the direct.
    let (_, link, page) = w.account_statuses(&id, "", Some(&token)).await;
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 20);
    assert_eq!(page[0]["id"], private["id"]);
    assert_eq!(page[1]["id"], reply["id"]);
    assert_eq!(page[1]["in_reply_to_id"], ids[0].as_str());
    assert!(
        page[0]["content"]
            .as_str()
            .unwrap()
            .contains("followers only")
    );
    let link = link.unwrap();
    assert!(
        link.contains(&format!(
            "max_id={}>; rel=\"next\"",
            page[19]["id"].as_str().unwrap()
        )),
        "{link}"
    );
    assert!(
        link.contains(&format!(
            "min_id={}>; rel=\"prev\"",
            page[0]["id"].as_str().unwrap()
        )),
        "{link}"
    );
    let (_, _, public) = w.account_statuses(&id, "", None).await;
    assert_eq!(public[0]["id"], reply["id"], "no private status for others");

    // At most 40; then older than max_id; newer than since_id; the page after min_id.
    let (_, _, many) = w.account_statuses(&id, "?limit=100", Some(&token)).await;
    assert_eq!(many.as_array().unwrap().len(), 40);
    let (_, _, older) = w
        .account_statuses(&id, &format!("?max_id={}&limit=3", ids[10]), None)
        .await;
    let older: Vec<&str> = older
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(older, [ids[9].as_str(), ids[8].as_str(), ids[7].as_str()]);
    let (_, _, newer) = w
        .account_statuses(
            &id,
            &format!("?since_id={}&limit=2&exclude_replies=true", ids[40]),
            None,
        )
        .await;
    let newer: Vec<&str> = newer
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(newer, [ids[43].as_str(), ids[42].as_str()]);
    let (_, _, after) = w
        .account_statuses(&id, &format!("?min_id={}&limit=2", ids[40]), None)
        .await;
    let after: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(after, [ids[42].as_str(), ids[41].as_str()]);
    let (_, _, media) = w.account_statuses(&id, "?only_media=true", None).await;
    assert_eq!(media, json!([]));
    let (_, _, pinned) = w.account_statuses(&id, "?pinned=true", None).await;
    assert_eq!(pinned, json!([]));
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answers_and_slow_media_are_counted_down() {
    let w = world().await;
    let account = w.connect(None).await;

    // A late answer, used by the status that creates; its repeat is answered at once.
    w.control_answer(
        reqwest::Method::POST,
        "answer_late",
        Some(json!({"seconds": 1.2, "count": 2})),
    )
    .await;
    let req = request(&account, "late", "k-late");
    let clock = Instant::now();
    let first = w.mastodon.publish(&req, &Unguarded).await.unwrap();
    assert!(clock.elapsed() >= Duration::from_millis(1200));
    let clock = Instant::now();
    assert_eq!(w.mastodon.publish(&req, &Unguarded).await.unwrap(), first);
    assert!(clock.elapsed() < Duration::from_millis(1200));
    let (_, left) = w
        .control_answer(reqwest::Method::GET, "answer_late", None)
        .await;
    assert_eq!(left, json!({"seconds": 1.2, "count": 1}));
    let (status, cleared) = w
        .control_answer(
            reqwest::Method::POST,
            "answer_late",
            Some(json!({"seconds": 0, "count": 0})),
        )
        .await;
    assert_eq!((status, cleared["count"].clone()), (200, json!(0)));

    // Slow media: each upload waits as it arrives.
    let (status, _) = w
        .control_answer(
            reqwest::Method::POST,
            "slow_media",
            Some(json!({"seconds": 0.6, "count": 2})),
        )
        .await;
    assert_eq!(status, 200);
    let mut with_media = request(&account, "two files", "k-media");
    with_media.media = vec![
        attachment("image/png", vec![1; 10], None),
        attachment("image/png", vec![2; 10], None),
    ];
    let clock = Instant::now();
    w.mastodon.publish(&with_media, &Unguarded).await.unwrap();
    assert!(clock.elapsed() >= Duration::from_millis(1200));
    let (_, left) = w
        .control_answer(reqwest::Method::GET, "slow_media", None)
        .await;
    assert_eq!(left["count"], 0);
    let (status, _) = w
        .control_answer(
            reqwest::Method::POST,
            "slow_media",
            Some(json!({"later": 1})),
        )
        .await;
    assert_eq!(status, 400);
    w.sandbox.stop().await;
}
