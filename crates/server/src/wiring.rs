//! From configuration to a running application: the adapters behind every port.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use multivio_app::services::{RandomIds, SystemClock};
use multivio_app::{Ports, Services, Settings};
use multivio_domain::Secret;
use multivio_domain::contact::Email;
use multivio_domain::quota::PlanCatalog;
use multivio_http::auth::{FirebaseConfig, FirebaseVerifier, Profile};
use multivio_http::observe::{Action, Metrics, RateLimits};
use multivio_http::{AppState, HttpConfig, TenantCache};
use multivio_ports::billing::{BillingError, BillingGateway, CheckoutRequest};
use multivio_ports::mail::{MailError, Mailer};
use multivio_postgres::{PgPool, PgStore};
use multivio_social::Registry;
use multivio_storage::LocalDisk;
use multivio_vault::{AesGcmVault, Keyring, RandomTokens};

use crate::Config;

/// The Firebase project used when none is configured: tokens minted by `multivio dev-token`.
pub const LOCAL_PROJECT: &str = "multivio-local";

/// How ID tokens are verified, from the configuration; local runs accept emulator tokens.
pub fn firebase(config: &Config) -> anyhow::Result<FirebaseVerifier> {
    let profile = if config.production {
        Profile::Production
    } else {
        Profile::Development
    };
    let (project, emulator) = match config
        .firebase_project_id
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        Some(project) => (project.to_owned(), config.firebase_emulator_host.is_some()),
        None if config.production => {
            anyhow::bail!("MULTIVIO_FIREBASE_PROJECT_ID is required in production")
        }
        // Unsigned tokens are a local convenience: never on an address others can reach.
        None if !config.listen.ip().is_loopback() => anyhow::bail!(
            "MULTIVIO_LISTEN is {}, not a loopback address: set MULTIVIO_FIREBASE_PROJECT_ID \
             (unsigned local tokens are accepted only on 127.0.0.1 / ::1)",
            config.listen
        ),
        None => (LOCAL_PROJECT.to_owned(), true),
    };
    let mut firebase = FirebaseConfig::new(project)
        .with_profile(profile)
        .with_emulator(emulator);
    if let Some(url) = &config.firebase_certs_url {
        firebase = firebase.with_certs_url(url.clone());
    }
    if emulator {
        tracing::warn!(
            project = %firebase.project_id,
            "FIREBASE EMULATOR MODE: unsigned ID tokens are accepted. Never expose this server; \
             mint tokens with `multivio dev-token`."
        );
    }
    FirebaseVerifier::new(firebase).context("invalid Firebase configuration")
}

/// Everything the handlers share, over the given database.
pub fn app_state(config: &Config, pool: PgPool) -> anyhow::Result<AppState> {
    let store = PgStore::new(pool.clone());
    let keyring = match config.token_keys.as_deref().filter(|k| !k.is_empty()) {
        Some(keys) => Keyring::from_config(keys).context("MULTIVIO_TOKEN_KEYS")?,
        None if config.production => anyhow::bail!("MULTIVIO_TOKEN_KEYS is required in production"),
        None => Keyring::load_or_generate(&config.data_dir.join("token-keys"))
            .context("loading the token sealing key from the data directory")?,
    };
    let public_url = config.public_url();
    let plans = match config.plans.as_deref().filter(|p| !p.is_empty()) {
        Some(plans) => {
            PlanCatalog::parse(plans).map_err(|e| anyhow::anyhow!("MULTIVIO_PLANS: {e}"))?
        }
        None => PlanCatalog::default(),
    };
    let cors_origins = match config.cors_origins.as_deref() {
        Some(origins) => {
            multivio_http::observe::parse_origins(origins).context("MULTIVIO_CORS_ORIGINS")?
        }
        None => Vec::new(),
    };
    let store_arc = Arc::new(store.clone());
    let media_store: Arc<dyn multivio_ports::media::MediaStore> = Arc::new(LocalDisk::new(
        config.data_dir.join("media"),
        format!("{public_url}/media"),
    ));
    let ports = Ports {
        users: store_arc.clone(),
        quotas: store_arc.clone(),
        billing: store_arc.clone(),
        connections: store_arc.clone(),
        posts: store_arc.clone(),
        jobs: store_arc.clone(),
        media: store_arc.clone(),
        media_store: media_store.clone(),
        oauth_states: store_arc.clone(),
        vault: Arc::new(AesGcmVault::new(keyring)),
        platforms: Arc::new(Registry::empty()),
        billing_gateway: Arc::new(NoBilling),
        // Verification tokens in a log are fine on a developer's machine, not in production.
        mailer: if config.production {
            Arc::new(NoMail)
        } else {
            Arc::new(LogMailer {
                public_url: public_url.clone(),
            })
        },
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        tokens: Arc::new(RandomTokens::default()),
    };
    let mut settings = Settings::new(public_url);
    settings.plans = plans;
    let upload_limit = usize::try_from(settings.max_upload_bytes).unwrap_or(usize::MAX);
    Ok(AppState {
        services: Arc::new(Services::new(ports, &settings)),
        pool,
        store: store.clone(),
        idempotency: store_arc,
        tenants: Arc::new(TenantCache::default()),
        verifier: firebase(config)?,
        limits: RateLimits::per_minute(&[
            (Action::Publish, 30),
            (Action::Connect, 10),
            (Action::Upload, 30),
        ])
        .context("rate limits")?,
        metrics: Metrics::new(),
        config: Arc::new(HttpConfig {
            cors_origins,
            json_limit: 1024 * 1024,
            upload_limit,
        }),
        media_store: Some(media_store),
        media_permits: Arc::new(tokio::sync::Semaphore::new(4)),
    })
}

/// Mail for local runs: the verification link goes to the log instead of an inbox.
#[derive(Debug)]
struct LogMailer {
    public_url: String,
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send_verification(&self, to: &Email, token: &Secret) -> Result<(), MailError> {
        tracing::info!(
            to = to.as_str(),
            "email verification (MULTIVIO_SMTP_URL is not set, so it is logged instead of sent): \
             POST {}/v1/email-verification/confirm with {{\"token\": \"{}\"}}",
            self.public_url,
            token.expose()
        );
        Ok(())
    }
}

/// Mail in production until an SMTP relay is configured: nothing is sent, and nothing secret
/// is logged.
#[derive(Debug)]
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send_verification(&self, _to: &Email, _token: &Secret) -> Result<(), MailError> {
        Err(MailError("no mail relay is configured".to_owned()))
    }
}

/// Billing when no Stripe account is configured.
#[derive(Debug)]
struct NoBilling;

#[async_trait]
impl BillingGateway for NoBilling {
    async fn checkout_url(&self, _request: &CheckoutRequest) -> Result<String, BillingError> {
        Err(BillingError::NotConfigured)
    }

    async fn portal_url(&self, _customer_id: &str) -> Result<String, BillingError> {
        Err(BillingError::NotConfigured)
    }
}
