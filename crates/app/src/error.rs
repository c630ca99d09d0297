//! The use cases' error: what went wrong, in terms a caller can map to an answer.

use chrono::{DateTime, Duration, Utc};
use multivio_domain::FieldError;
use multivio_domain::Provider;
use multivio_domain::post::{PostError, TransitionError};
use multivio_ports::StoreError;
use multivio_ports::billing::BillingError;
use multivio_ports::media::MediaStoreError;
use multivio_ports::platform::OAuthError;
use multivio_ports::vault::VaultError;

/// Why a use case failed.
///
/// The HTTP layer maps each variant to one status (404, 403, 409, 429, 400/422, 502, 401, 503…);
/// `Unavailable` carries an internal cause for the logs, never for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// No such thing for this tenant (also when it exists but belongs to someone else).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this (inactive account…).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The state changed or a unique value is taken; retrying may help after a reload.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The monthly post quota is used up.
    #[error("monthly post quota exceeded")]
    QuotaExceeded {
        /// The plan's quota, when known.
        monthly_post_quota: Option<u32>,
        /// When the period resets, when known.
        resets_at: Option<DateTime<Utc>>,
    },
    /// The input is invalid; one entry per problem.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// The post's status does not allow the action.
    #[error(transparent)]
    IllegalTransition(#[from] TransitionError),
    /// A platform refused the request for a reason the user can act on.
    #[error("{provider} rejected the request ({code}): {reason}")]
    PlatformRejected {
        /// Which platform.
        provider: Provider,
        /// Platform or adapter code.
        code: String,
        /// Plain reason.
        reason: String,
    },
    /// Credentials were refused (a platform grant is dead and the account must be connected
    /// again).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Too many requests; try later.
    #[error("rate limited")]
    RateLimited {
        /// How long to wait, when known.
        retry_after: Option<Duration>,
    },
    /// A request that must prove where it comes from (a signed webhook) does not: its
    /// signature is missing, wrong or expired, or what it carries cannot be read. The reason
    /// is safe to show.
    #[error("not accepted: {0}")]
    Unverified(String),
    /// The feature or platform is not configured in this deployment.
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// The worker's claim on a job expired and another worker holds it now: drop the job
    /// (only the worker's use cases return this).
    #[error("job lease lost")]
    LeaseLost,
    /// An uploaded file is of no type any platform takes (judged from its bytes).
    #[error("unsupported file type")]
    UnsupportedFileType,
    /// A request with the same `Idempotency-Key` is still running.
    #[error("a request with this idempotency key is still running")]
    IdempotencyInProgress,
    /// The `Idempotency-Key` was used before for a different request.
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// A dependency failed (database, vault, platform outage…). Internal detail for logs.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl AppError {
    /// An invalid-input error about one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }

    /// Maps a store error, naming what was not found.
    pub fn from_store(what: &'static str, e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound(what),
            other => other.into(),
        }
    }

    /// Maps a platform authorisation error.
    pub fn from_oauth(provider: Provider, e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidGrant { reason } => Self::Unauthorized(reason),
            OAuthError::Rejected { code, reason } => Self::PlatformRejected {
                provider,
                code,
                reason,
            },
            OAuthError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            OAuthError::Transient { reason } => Self::Unavailable(format!("{provider}: {reason}")),
            OAuthError::NotSupported => {
                Self::NotConfigured(format!("{provider} does not support this"))
            }
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("resource"),
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Duplicate { field } => Self::Conflict(format!("{field} is already taken")),
            StoreError::QuotaExceeded => Self::QuotaExceeded {
                monthly_post_quota: None,
                resets_at: None,
            },
            StoreError::LeaseLost => Self::LeaseLost,
            StoreError::InvalidCursor => {
                Self::invalid("cursor", "is not a cursor from a previous page")
            }
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}

impl From<PostError> for AppError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::Transition(t) => Self::IllegalTransition(t),
            PostError::Invalid(errors) => Self::Invalid(errors),
            PostError::UnknownTarget(_) => Self::NotFound("target"),
            other => Self::Conflict(other.to_string()),
        }
    }
}

impl From<VaultError> for AppError {
    fn from(e: VaultError) -> Self {
        Self::Unavailable(format!("token vault: {e}"))
    }
}

impl From<BillingError> for AppError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::NotConfigured => Self::NotConfigured("billing".to_owned()),
            BillingError::UnknownPlan(plan) => {
                Self::invalid("plan", format!("plan {plan} is not for sale"))
            }
            BillingError::Unavailable(cause) => Self::Unavailable(format!("billing: {cause}")),
            BillingError::AlreadySubscribed => Self::Conflict(
                "already subscribed: change or cancel the plan in the billing portal".to_owned(),
            ),
        }
    }
}

impl From<MediaStoreError> for AppError {
    fn from(e: MediaStoreError) -> Self {
        match e {
            MediaStoreError::NotFound => Self::NotFound("media bytes"),
            MediaStoreError::RangeNotSatisfiable { size } => {
                Self::invalid("range", format!("is outside the file's {size} bytes"))
            }
            MediaStoreError::Unavailable(cause) => {
                Self::Unavailable(format!("media store: {cause}"))
            }
        }
    }
}

/// Shorthand for use-case results.
pub type AppResult<T> = Result<T, AppError>;
