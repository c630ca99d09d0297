//! The HTTP API over a real server on port 0, a real PostgreSQL, and fakes only where no local
//! part exists (platforms, mail, billing). One test binary for every API test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_debug_implementations
)]

mod authz;
mod input;
mod media;
mod oauth;
mod posts;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use multivio_app::services::{RandomIds, SystemClock};
use multivio_app::{Ports, Services, Settings};
use multivio_domain::connection::{
    AccountLabel, AccountType, Connection, ConnectionStatus, ProviderAccountId,
};
use multivio_domain::contact::Email;
use multivio_domain::{ConnectionId, Provider, Secret, Tenant};
use multivio_http::auth::{FirebaseConfig, FirebaseVerifier, mint_emulator_token};
use multivio_http::observe::{Action, Metrics, RateLimits};
use multivio_http::{AppState, HttpConfig, TenantCache};
use multivio_ports::billing::{BillingError, BillingGateway, CheckoutRequest};
use multivio_ports::connections::ConnectionStore;
use multivio_ports::mail::{MailError, Mailer};
use multivio_ports::users::UserStore;
use multivio_ports::vault::{SealedCredentials, TokenVault, credential_aad};
use multivio_postgres::PgStore;
use multivio_postgres::testing::TestDb;
use multivio_social::Registry;
use multivio_storage::LocalDisk;
use multivio_vault::{AesGcmVault, Keyring, RandomTokens};
use serde_json::Value;

const PROJECT: &str = "multivio-test";

/// Mail that is kept for the test to read.
#[derive(Debug, Default)]
pub struct RecordingMailer(pub Mutex<Vec<(String, String)>>);

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send_verification(&self, to: &Email, token: &Secret) -> Result<(), MailError> {
        self.0
            .lock()
            .unwrap()
            .push((to.as_str().to_owned(), token.expose().to_owned()));
        Ok(())
    }
}

struct NoBilling;

#[async_trait]
impl BillingGateway for NoBilling {
    async fn checkout_url(&self, _: &CheckoutRequest) -> Result<String, BillingError> {
        Err(BillingError::NotConfigured)
    }
    async fn portal_url(&self, _: &str) -> Result<String, BillingError> {
        Err(BillingError::NotConfigured)
    }
}

/// A running API.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub store: PgStore,
    pub vault: Arc<AesGcmVault>,
    pub mailer: Arc<RecordingMailer>,
    pub db: TestDb,
    _server: actix_web::dev::ServerHandle,
}

impl Api {
    pub async fn start() -> Api {
        Self::start_with(30).await
    }

    pub async fn start_with(publish_per_minute: u32) -> Api {
        Self::start_full(publish_per_minute, Registry::empty()).await
    }

    pub async fn start_full(publish_per_minute: u32, platforms: Registry) -> Api {
        let db = TestDb::new().await;
        let store = PgStore::new(db.pool().clone());
        let arc = Arc::new(store.clone());
        let vault = Arc::new(AesGcmVault::new(
            Keyring::from_config("test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
        ));
        let mailer = Arc::new(RecordingMailer::default());
        let media_dir = std::env::temp_dir().join(format!("multivio-api-{}", uuid::Uuid::new_v4()));
        let media_store: Arc<dyn multivio_ports::media::MediaStore> =
            Arc::new(LocalDisk::new(media_dir, "http://localhost/media"));
        let ports = Ports {
            users: arc.clone(),
            quotas: arc.clone(),
            billing: arc.clone(),
            connections: arc.clone(),
            posts: arc.clone(),
            jobs: arc.clone(),
            media: arc.clone(),
            media_store: media_store.clone(),
            oauth_states: arc.clone(),
            vault: vault.clone(),
            platforms: Arc::new(platforms),
            billing_gateway: Arc::new(NoBilling),
            mailer: mailer.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            tokens: Arc::new(RandomTokens::default()),
        };
        let state = AppState {
            services: Arc::new(Services::new(ports, &Settings::new("http://localhost"))),
            pool: db.pool().clone(),
            store: store.clone(),
            idempotency: arc,
            tenants: Arc::new(TenantCache::default()),
            verifier: FirebaseVerifier::new(FirebaseConfig::new(PROJECT).with_emulator(true))
                .unwrap(),
            limits: RateLimits::per_minute(&[
                (Action::Publish, publish_per_minute),
                (Action::Connect, 10),
            ])
            .unwrap(),
            metrics: Metrics::new(),
            config: Arc::new(HttpConfig {
                cors_origins: vec!["http://localhost:3000".into()],
                json_limit: 64 * 1024,
                upload_limit: 256 * 1024,
            }),
            media_store: Some(media_store),
            media_permits: Arc::new(tokio::sync::Semaphore::new(4)),
        };
        let server = actix_web::HttpServer::new(move || multivio_http::app(state.clone()))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Api {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            store,
            vault,
            mailer,
            db,
            _server: handle,
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
