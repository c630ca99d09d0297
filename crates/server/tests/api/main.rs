//! The HTTP API over a real server on port 0, a real PostgreSQL, and fakes only where no local
//! part exists (platforms, mail, billing). One test binary for every API test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_debug_implementations
)]

mod authz;
mod billing;
mod engine;
mod input;
mod linkedin;
mod media;
mod meta;
mod oauth;
mod pinterest;
mod platform_kit;
mod platforms;
mod posts;
mod production;
mod tiktok;
mod youtube;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use multivio::{Application, Config, Overrides};
use multivio_domain::connection::{
    AccountLabel, AccountType, Connection, ConnectionStatus, ProviderAccountId,
};
use multivio_domain::contact::Email;
use multivio_domain::{ConnectionId, Provider, Secret, Tenant};
use multivio_http::auth::mint_emulator_token;
use multivio_http::rate_limit::{Action, RateLimits};
use multivio_ports::connections::ConnectionStore;
use multivio_ports::mail::{MailError, Mailer};
use multivio_ports::users::UserStore;
use multivio_ports::vault::{SealedCredentials, TokenVault, credential_aad};
use multivio_postgres::PgStore;
use multivio_postgres::testing::TestDb;
use multivio_social::Registry;
use multivio_vault::{AesGcmVault, Keyring};
use serde_json::Value;

const PROJECT: &str = "multivio-test";
const TOKEN_KEYS: &str = "test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Mail that is kept for the test to read.
#[derive(Debug, Default)]
pub struct RecordingMailer(pub Mutex<Vec<(String, String)>>);

#[async_trait]
impl Mailer for RecordingMailer {
    fn can_address(&self, _to: &Email) -> bool {
        true
    }

    async fn send_verification(&self, to: &Email, token: &Secret) -> Result<(), MailError> {
        self.0
            .lock()
            .unwrap()
            .push((to.as_str().to_owned(), token.expose().to_owned()));
        Ok(())
    }
}

/// A running API, built by the same function as `multivio serve`.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub store: PgStore,
    pub vault: Arc<AesGcmVault>,
    pub mailer: Arc<RecordingMailer>,
    pub db: TestDb,
    pub data_dir: std::path::PathBuf,
    /// The platforms' fakes, when the server was started against them.
    pub sandbox: Option<multivio_sandbox::Sandbox>,
}

/// The configuration of a test server: flags as an operator would pass them, on a test
/// database whose runtime logins the harness manages.
pub fn test_config(db: &TestDb, data_dir: &std::path::Path, extra: &[&str]) -> Config {
    let mut flags = vec![
        format!("--database-url={}", db.url()),
        format!("--api-database-url={}", db.api_url()),
        format!("--worker-database-url={}", db.worker_url()),
        "--listen=127.0.0.1:0".to_owned(),
        format!("--data-dir={}", data_dir.display()),
        "--public-url=http://localhost".to_owned(),
        format!("--firebase-project-id={PROJECT}"),
        "--firebase-emulator-host=127.0.0.1:9099".to_owned(),
        format!("--token-keys={TOKEN_KEYS}"),
        "--cors-origins=http://localhost:3000".to_owned(),
        // Tests that want the platforms' fakes name their own (--sandbox-url).
        "--sandbox=false".to_owned(),
    ];
    flags.extend(extra.iter().map(|f| (*f).to_owned()));
    Config::from_flags(flags).unwrap()
}

impl Api {
    pub async fn start() -> Api {
        Self::start_with(30).await
    }

    pub async fn start_with(publish_per_minute: u32) -> Api {
        Self::start_full(publish_per_minute, Registry::empty()).await
    }

    pub async fn start_full(publish_per_minute: u32, platforms: Registry) -> Api {
        Self::start_configured(
            publish_per_minute,
            platforms,
            &["--max-upload-bytes=262144"],
        )
        .await
    }

    pub async fn start_configured(
        publish_per_minute: u32,
        platforms: Registry,
        extra_flags: &[&str],
    ) -> Api {
        let limits = RateLimits::per_minute(&[
            (Action::Publish, publish_per_minute),
            (Action::Connect, 10),
            (Action::Write, 120),
        ])
        .unwrap();
        Self::start_limited(limits, platforms, extra_flags).await
    }

    /// A server with these rate limits (an action not named is not limited).
    pub async fn start_limited(
        limits: RateLimits,
        platforms: Registry,
        extra_flags: &[&str],
    ) -> Api {
        let db = TestDb::new().await;
        let data_dir = std::env::temp_dir().join(format!("multivio-api-{}", uuid::Uuid::new_v4()));
        let config = test_config(&db, &data_dir, extra_flags);
        let mailer = Arc::new(RecordingMailer::default());
        let overrides = Overrides {
            platforms: Some(Arc::new(platforms)),
            mailer: Some(mailer.clone()),
            rate_limits: Some(limits),
            ..Overrides::default()
        };
        let app = Application::build(&config, overrides).await.unwrap();
        let port = app.port();
        tokio::spawn(app.run(false, std::future::pending()));
        Api {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            store: db.store(),
            vault: Arc::new(AesGcmVault::new(Keyring::from_config(TOKEN_KEYS).unwrap())),
            mailer,
            db,
            data_dir,
            sandbox: None,
        }
    }

    /// A server whose platforms are the sandbox's fakes (as `just run` has them), with the
    /// publishing worker running beside it, as `multivio serve` runs it.
    pub async fn start_with_sandbox() -> Api {
        Self::start_with_sandbox_and(true).await
    }

    /// [`Api::start_with_sandbox`], with or without the worker beside the API (without: the
    /// test runs `multivio worker` processes of its own).
    pub async fn start_with_sandbox_and(with_worker: bool) -> Api {
        Self::start_sandboxed(with_worker, &[], true).await
    }

    /// A server over the sandbox with more flags; `record_mail` false leaves mail to the
    /// configuration (`--smtp-url`) instead of [`RecordingMailer`].
    pub async fn start_sandboxed(with_worker: bool, extra: &[&str], record_mail: bool) -> Api {
        let sandbox = multivio_sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let db = TestDb::new().await;
        let data_dir = std::env::temp_dir().join(format!("multivio-api-{}", uuid::Uuid::new_v4()));
        let sandbox_url = format!("--sandbox-url={}", sandbox.url());
        let mut flags = vec![sandbox_url.as_str(), "--max-upload-bytes=10485760"];
        flags.extend_from_slice(extra);
        let mut config = test_config(&db, &data_dir, &flags);
        config.sandbox = true;
        let mailer = Arc::new(RecordingMailer::default());
        let overrides = Overrides {
            mailer: record_mail.then(|| mailer.clone() as Arc<dyn Mailer>),
            ..Overrides::default()
        };
        let app = Application::build(&config, overrides).await.unwrap();
        let port = app.port();
        tokio::spawn(app.run(with_worker, std::future::pending()));
        Api {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            store: db.store(),
            vault: Arc::new(AesGcmVault::new(Keyring::from_config(TOKEN_KEYS).unwrap())),
            mailer,
            db,
            data_dir,
            sandbox: Some(sandbox),
        }
    }

    /// The sandbox this server publishes to.
    pub fn sandbox(&self) -> &multivio_sandbox::Sandbox {
        self.sandbox.as_ref().expect("started with the sandbox")
    }

    /// Waits (a bounded while) until the post leaves `publishing`, and returns it.
    pub async fn settled(&self, uid: &str, id: &str) -> Value {
        self.settled_within(uid, id, std::time::Duration::from_secs(30))
            .await
    }

    /// Waits up to `max` until the post is neither scheduled nor publishing, and returns it.
    pub async fn settled_within(&self, uid: &str, id: &str, max: std::time::Duration) -> Value {
        let start = std::time::Instant::now();
        loop {
            let (status, post) = self.get(uid, &format!("/v1/posts/{id}")).await;
            assert_eq!(status, 200, "{post}");
            if post["status"] != "publishing" && post["status"] != "scheduled" {
                return post;
            }
            assert!(
                start.elapsed() < max,
                "post {id} did not settle in {max:?}: {post}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub fn token(uid: &str) -> String {
        mint_emulator_token(
            PROJECT,
            uid,
            Some(&format!("{uid}@example.com")),
            true,
            std::time::Duration::from_secs(3600),
            chrono::Utc::now(),
        )
    }

    /// A request as `uid`.
    pub fn req(&self, method: reqwest::Method, uid: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(Self::token(uid))
    }

    /// Sends and reads status and JSON body (Null when empty).
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value, String) {
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, body, content_type)
    }

    pub async fn get(&self, uid: &str, path: &str) -> (u16, Value) {
        let (s, b, _) = self.send(self.req(reqwest::Method::GET, uid, path)).await;
        (s, b)
    }

    pub async fn post(&self, uid: &str, path: &str, body: Value) -> (u16, Value) {
        let (s, b, _) = self
            .send(self.req(reqwest::Method::POST, uid, path).json(&body))
            .await;
        (s, b)
    }

    /// The tenant of `uid` (signing it in first).
    pub async fn tenant(&self, uid: &str) -> Tenant {
        assert_eq!(self.get(uid, "/v1/me").await.0, 200);
        self.store
            .find_by_firebase_uid(&multivio_domain::FirebaseUid::new(uid).unwrap())
            .await
            .unwrap()
            .unwrap()
            .tenant()
    }

    /// Connects an account of `provider` for `uid` directly through the store (no platform
    /// is reachable in tests), with credentials sealed as the core seals them.
    pub async fn connect(&self, uid: &str, provider: Provider, account: &str) -> ConnectionId {
        let tenant = self.tenant(uid).await;
        let existing = self
            .store
            .list_for_provider(&tenant, provider)
            .await
            .unwrap();
        let id = ConnectionId(uuid::Uuid::new_v4());
        let now = chrono::Utc::now();
        let conn = Connection {
            id,
            user_id: tenant.user_id,
            provider,
            provider_account_id: ProviderAccountId::new(account).unwrap(),
            account_label: Some(AccountLabel::new(account).unwrap()),
            account_type: AccountType::Personal,
            is_primary: existing.is_empty(),
            status: ConnectionStatus::Active,
            metadata: serde_json::json!({}),
            expires_at: None,
            created_at: now,
            updated_at: now,
        };
        let access = self
            .vault
            .seal(
                &Secret::new("access-token"),
                &credential_aad(id, "access_token"),
            )
            .await
            .unwrap();
        let creds = SealedCredentials {
            access_token: access,
            refresh_token: None,
            expires_at: None,
            oauth1: None,
        };
        self.store.insert(&tenant, &conn, &creds).await.unwrap();
        id
    }
}

/// Every error answer is a problem document.
pub fn assert_problem(status: u16, body: &Value, content_type: &str) {
    assert!(
        content_type.starts_with("application/problem+json"),
        "{status}: content type {content_type}, body {body}"
    );
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)), "{body}");
    assert!(
        body["type"].is_string() && body["title"].is_string(),
        "{body}"
    );
}
