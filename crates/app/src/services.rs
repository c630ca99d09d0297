//! Every use case, assembled from one set of ports: what the HTTP layer, the worker and
//! embedding services hold.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use multivio_domain::job::RetryPolicy;
use multivio_domain::quota::PlanCatalog;
use multivio_ports::billing::{BillingGateway, BillingWebhooks};
use multivio_ports::connections::ConnectionStore;
use multivio_ports::idempotency::IdempotencyStore;
use multivio_ports::jobs::JobQueue;
use multivio_ports::mail::Mailer;
use multivio_ports::media::{MediaRepository, MediaStore};
use multivio_ports::platform::{OAuthStateStore, Platforms};
use multivio_ports::posts::PostStore;
use multivio_ports::status::SystemStatus;
use multivio_ports::system::{Clock, IdGenerator, TokenGenerator};
use multivio_ports::users::{BillingStore, QuotaStore, UserStore};
use multivio_ports::vault::TokenVault;
use uuid::Uuid;

use crate::billing::{BillingPorts, BillingService};
use crate::connections::{ConnectionPorts, ConnectionService, ConnectionSettings};
use crate::idempotency::IdempotencyService;
use crate::media::MediaService;
use crate::posts::{PostPorts, PostService};
use crate::quota::QuotaService;
use crate::users::UserService;
use crate::worker::{PublishWorker, WorkerPorts};

/// Every port the use cases need.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Ports {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Quotas.
    pub quotas: Arc<dyn QuotaStore>,
    /// Billing state and history.
    pub billing: Arc<dyn BillingStore>,
    /// Connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Posts (the unit of work).
    pub posts: Arc<dyn PostStore>,
    /// The job queue.
    pub jobs: Arc<dyn JobQueue>,
    /// Media rows.
    pub media: Arc<dyn MediaRepository>,
    /// Media bytes.
    pub media_store: Arc<dyn MediaStore>,
    /// OAuth state.
    pub oauth_states: Arc<dyn OAuthStateStore>,
    /// Answers of idempotent requests.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Readiness, queue depth and pool usage.
    pub status: Arc<dyn SystemStatus>,
    /// Token sealing.
    pub vault: Arc<dyn TokenVault>,
    /// Platform clients.
    pub platforms: Arc<dyn Platforms>,
    /// Billing provider.
    pub billing_gateway: Arc<dyn BillingGateway>,
    /// The billing provider's webhook deliveries.
    pub billing_webhooks: Arc<dyn BillingWebhooks>,
    /// Mail.
    pub mailer: Arc<dyn Mailer>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Unguessable tokens.
    pub tokens: Arc<dyn TokenGenerator>,
}

/// Deployment settings the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Plans: their monthly post quotas and media storage.
    pub plans: PlanCatalog,
    /// External base URL, without a trailing slash (OAuth redirect URIs).
    pub public_url: String,
    /// How long an OAuth authorisation may take.
    pub oauth_state_ttl: Duration,
    /// Largest media upload, in bytes.
    pub max_upload_bytes: u64,
    /// Publishing retries.
    pub retry: RetryPolicy,
    /// How long a worker holds a claimed job before renewing it (see
    /// [`crate::worker::DEFAULT_LEASE`]).
    pub job_lease: Duration,
}

impl Settings {
    /// Defaults for `public_url`: free plan only, 10-minute OAuth state, 100 MB uploads.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            plans: PlanCatalog::default(),
            public_url: public_url.into(),
            oauth_state_ttl: Duration::minutes(10),
            max_upload_bytes: 100 * 1024 * 1024,
            retry: RetryPolicy::default(),
            job_lease: crate::worker::DEFAULT_LEASE,
        }
    }
}

/// Every use case.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Services {
    /// Users and profiles.
    pub users: UserService,
    /// Quota.
    pub quota: QuotaService,
    /// Social connections.
    pub connections: ConnectionService,
    /// Posts.
    pub posts: PostService,
    /// Media.
    pub media: MediaService,
    /// Billing.
    pub billing: BillingService,
    /// Requests that run once per `Idempotency-Key`.
    pub idempotency: IdempotencyService,
    /// The publishing worker.
    pub worker: PublishWorker,
    /// The platform clients (to tell which are configured).
    pub platforms: Arc<dyn Platforms>,
    /// Readiness, queue depth and pool usage.
    pub status: Arc<dyn SystemStatus>,
}

impl Services {
    /// Assembles every use case over `ports`.
    pub fn new(ports: Ports, settings: &Settings) -> Self {
        Self {
            users: UserService::new(
                ports.users.clone(),
                ports.quotas.clone(),
                ports.mailer.clone(),
                ports.tokens.clone(),
                ports.clock.clone(),
                settings.plans.clone(),
            ),
            quota: QuotaService::new(ports.quotas.clone(), ports.clock.clone()),
            connections: ConnectionService::new(
                ConnectionPorts {
                    connections: ports.connections.clone(),
                    vault: ports.vault.clone(),
                    platforms: ports.platforms.clone(),
                    states: ports.oauth_states.clone(),
                    ids: ports.ids.clone(),
                    tokens: ports.tokens.clone(),
                    clock: ports.clock.clone(),
                },
                ConnectionSettings {
                    public_url: settings.public_url.trim_end_matches('/').to_owned(),
                    state_ttl: settings.oauth_state_ttl,
                },
            ),
            posts: PostService::new(PostPorts {
                posts: ports.posts.clone(),
                connections: ports.connections.clone(),
                media: ports.media.clone(),
                quotas: ports.quotas.clone(),
                ids: ports.ids.clone(),
                clock: ports.clock.clone(),
            }),
            media: MediaService::new(
                ports.media.clone(),
                ports.media_store.clone(),
                ports.ids.clone(),
                ports.clock.clone(),
                settings.max_upload_bytes,
            )
            .with_storage_quota(ports.users.clone(), settings.plans.clone()),
            billing: BillingService::new(
                BillingPorts {
                    users: ports.users.clone(),
                    billing: ports.billing.clone(),
                    quotas: ports.quotas.clone(),
                    gateway: ports.billing_gateway.clone(),
                    webhooks: ports.billing_webhooks.clone(),
                    clock: ports.clock.clone(),
                },
                settings.plans.clone(),
            ),
            worker: PublishWorker::new(
                WorkerPorts {
                    posts: ports.posts.clone(),
                    jobs: ports.jobs.clone(),
                    connections: ports.connections.clone(),
                    media: ports.media.clone(),
                    media_store: ports.media_store.clone(),
                    vault: ports.vault.clone(),
                    platforms: ports.platforms.clone(),
                    clock: ports.clock.clone(),
                },
                settings.retry,
            )
            .with_lease(settings.job_lease),
            idempotency: IdempotencyService::new(ports.idempotency, ports.posts),
            platforms: ports.platforms,
            status: ports.status,
        }
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Random (v4) UUIDs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_uuid(&self) -> Uuid {
        Uuid::new_v4()
    }
}
