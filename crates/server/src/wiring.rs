//! From configuration to the application: the adapters behind every port (services), then the
//! HTTP state over the services. [`crate::Application`] calls these for `main` and for every
//! test alike; tests change only what [`Overrides`] names.

use std::sync::Arc;

use anyhow::Context;
use multivio_app::services::{RandomIds, SystemClock};
use multivio_app::{Ports, Services, Settings};
use multivio_domain::Secret;
use multivio_http::auth::{FirebaseConfig, FirebaseVerifier, Profile};
use multivio_http::observe::Metrics;
use multivio_http::rate_limit::{Action, RateLimits};
use multivio_http::transfers::{
    DOWNLOADS_IN_TOTAL, DOWNLOADS_PER_CLIENT, DownloadSlots, UploadSettings, UploadSlots,
};
use multivio_http::{AppState, HttpConfig, MetricsToken, QueueGauge, TenantCache};
use multivio_ports::billing::BillingGateway;
use multivio_ports::mail::Mailer;
use multivio_ports::media::MediaStore;
use multivio_ports::platform::Platforms;
use multivio_ports::system::Clock;
use multivio_postgres::PgStore;
use multivio_storage::{LocalDisk, S3Config, S3Store};
use multivio_vault::{AesGcmVault, Keyring, RandomTokens};

use crate::Config;

/// The Firebase project used when none is configured: tokens minted by `multivio dev-token`.
pub const LOCAL_PROJECT: &str = "multivio-local";

/// Parts a test (or an embedding service) puts in place of the configured ones.
#[derive(Default, Clone)]
#[allow(missing_debug_implementations)]
pub struct Overrides {
    /// The platform clients.
    pub platforms: Option<Arc<dyn Platforms>>,
    /// Outgoing mail.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// The billing provider.
    pub billing: Option<Arc<dyn BillingGateway>>,
    /// Time.
    pub clock: Option<Arc<dyn Clock>>,
    /// Per-user rate limits of the API.
    pub rate_limits: Option<RateLimits>,
}

/// Every use case over the store, with the adapters the configuration names (platforms
/// without credentials at the sandbox's `sandbox_url`, locally).
pub fn services(
    config: &Config,
    store: PgStore,
    keyring: Keyring,
    sandbox_url: Option<&str>,
    overrides: &Overrides,
) -> anyhow::Result<Arc<Services>> {
    let public_url = config.public_url();
    let store = Arc::new(store);
    let media_store = media_store(config, &public_url)?;
    let mailer: Arc<dyn Mailer> = match &overrides.mailer {
        Some(mailer) => mailer.clone(),
        None => crate::outbound::mailer(config)?,
    };
    let plans = config.plans()?;
    let billing = crate::outbound::billing(config, &plans, sandbox_url)?;
    let vault: Arc<dyn multivio_ports::vault::TokenVault> = Arc::new(AesGcmVault::new(keyring));
    let platforms: Arc<dyn Platforms> = match &overrides.platforms {
        Some(platforms) => platforms.clone(),
        None => Arc::new(crate::platforms::registry(
            config,
            sandbox_url,
            store.clone(),
            vault.clone(),
        )?),
    };
    let ports = Ports {
        users: store.clone(),
        quotas: store.clone(),
        billing: store.clone(),
        connections: store.clone(),
        posts: store.clone(),
        jobs: store.clone(),
        media: store.clone(),
        media_store,
        oauth_states: store.clone(),
        idempotency: store.clone(),
        status: store,
        vault,
        platforms,
        billing_gateway: overrides.billing.clone().unwrap_or(billing.gateway),
        billing_webhooks: billing.webhooks,
        mailer,
        clock: overrides
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock)),
        ids: Arc::new(RandomIds),
        tokens: Arc::new(RandomTokens::default()),
    };
    let mut settings = Settings::new(public_url);
    settings.plans = plans;
    settings.max_upload_bytes = config.max_upload_bytes;
    settings.job_lease = chrono::Duration::seconds(i64::from(config.job_lease_seconds));
    Ok(Arc::new(Services::new(ports, &settings)))
}

/// Where media bytes live: the S3-compatible bucket `MULTIVIO_S3_BUCKET` names (objects at
/// `MULTIVIO_S3_PUBLIC_URL` when set, else served by the API), or the data directory's
/// `media/` (served by the API at `<public URL>/media/<key>`).
pub fn media_store(config: &Config, public_url: &str) -> anyhow::Result<Arc<dyn MediaStore>> {
    let api_media_base = format!("{}/media", public_url.trim_end_matches('/'));
    let set = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    Ok(match set(&config.s3_bucket) {
        Some(bucket) => Arc::new(
            S3Store::new(S3Config {
                bucket,
                endpoint: set(&config.s3_endpoint),
                region: set(&config.aws_region),
                access_key_id: set(&config.aws_access_key_id),
                secret_access_key: set(&config.aws_secret_access_key),
                session_token: set(&config.aws_session_token),
                public_url: set(&config.s3_public_url),
                api_media_base,
                read_limit: config.max_upload_bytes,
                read_timeout: S3Config::READ_TIMEOUT,
            })
            .context("MULTIVIO_S3_BUCKET")?,
        ),
        None => Arc::new(
            LocalDisk::new(config.data_dir.join("media"), api_media_base)
                .with_read_limit(config.max_upload_bytes),
        ),
    })
}

/// The rate limits of the API, per minute, when `MULTIVIO_RATE_LIMITS` names none: per user,
/// and for file downloads (`/media/{key}`, no sign-in) per client address.
pub const DEFAULT_RATE_LIMITS: [(Action, u32); 5] = [
    (Action::Publish, 30),
    (Action::Connect, 10),
    (Action::Upload, 30),
    (Action::Download, 600),
    (Action::Write, 120),
];

/// The per-user rate limits of the API, per minute: the defaults, each replaced by the one
/// `setting` (`MULTIVIO_RATE_LIMITS`, e.g. `publish=60,write=600`) names.
pub fn rate_limits(setting: Option<&str>) -> anyhow::Result<RateLimits> {
    let mut limits = DEFAULT_RATE_LIMITS;
    for item in setting
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (name, per_minute) = item
            .split_once('=')
            .with_context(|| format!("MULTIVIO_RATE_LIMITS: `{item}` is not name=per_minute"))?;
        let per_minute: u32 = per_minute.trim().parse().with_context(|| {
            format!("MULTIVIO_RATE_LIMITS: `{item}`: the limit is a whole number of requests")
        })?;
        let slot = limits
            .iter_mut()
            .find(|(action, _)| action.as_str() == name.trim())
            .with_context(|| {
                format!(
                    "MULTIVIO_RATE_LIMITS: `{name}` is none of publish, connect, upload, \
                     download, write"
                )
            })?;
        slot.1 = per_minute;
    }
    RateLimits::per_minute(&limits).context("MULTIVIO_RATE_LIMITS")
}

/// What the HTTP handlers share, over `services`.
pub fn http_state(
    config: &Config,
    services: Arc<Services>,
    verifier: FirebaseVerifier,
    overrides: &Overrides,
) -> anyhow::Result<AppState> {
    let cors_origins = match config.cors_origins.as_deref() {
        Some(origins) => {
            multivio_http::cors::parse_origins(origins).context("MULTIVIO_CORS_ORIGINS")?
        }
        None => Vec::new(),
    };
    let metrics_token = match config.metrics_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => Some(
            MetricsToken::new(&Secret::new(token))
                .context("no system randomness to protect the metrics token")?,
        ),
        None => None,
    };
    let http = HttpConfig {
        cors_origins,
        metrics_token,
        metrics_on_api: config.metrics_listen.is_none(),
        uploads: UploadSettings {
            per_user: usize::from(config.uploads_per_user),
            read_timeout: std::time::Duration::from_secs(config.upload_read_timeout_secs),
        },
        trusted_proxies: config.trusted_proxies()?,
        ..HttpConfig::default()
    };
    Ok(AppState {
        media_store: Some(services.media.store()),
        services,
        queue_gauge: Arc::new(QueueGauge::default()),
        tenants: Arc::new(TenantCache::default()),
        verifier,
        limits: match &overrides.rate_limits {
            Some(limits) => limits.clone(),
            None => rate_limits(config.rate_limits.as_deref())?,
        },
        metrics: Metrics::new(),
        uploads: UploadSlots::new(http.uploads.per_user, usize::MAX),
        downloads: DownloadSlots::new(DOWNLOADS_PER_CLIENT, DOWNLOADS_IN_TOTAL),
        config: Arc::new(http),
    })
}

/// How ID tokens are verified, from the configuration; local runs accept emulator tokens, and
/// unsigned tokens are accepted only on a loopback listen address whatever the settings.
pub fn firebase(config: &Config) -> anyhow::Result<FirebaseVerifier> {
    let profile = if config.production {
        Profile::Production
    } else {
        Profile::Development
    };
    let loopback = config.listen.ip().is_loopback();
    let (project, emulator) = match config
        .firebase_project_id
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        Some(project) => (project.to_owned(), config.firebase_emulator_host.is_some()),
        None if config.production => {
            anyhow::bail!("MULTIVIO_FIREBASE_PROJECT_ID is required in production")
        }
        None => (LOCAL_PROJECT.to_owned(), true),
    };
    if emulator && !loopback {
        anyhow::bail!(
            "MULTIVIO_LISTEN is {}, not a loopback address, and unsigned (emulator) ID tokens \
             would be accepted: set MULTIVIO_FIREBASE_PROJECT_ID and unset \
             FIREBASE_AUTH_EMULATOR_HOST (unsigned tokens are accepted only on 127.0.0.1 / ::1)",
            config.listen
        );
    }
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

#[cfg(test)]
mod tests;
