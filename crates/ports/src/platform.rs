//! The social platforms: authorisation, token refresh and publishing.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_domain::connection::{AuthorizedAccount, Connection, Credentials, TokenGrant};
use multivio_domain::media::MediaFile;
use multivio_domain::post::Target;
use multivio_domain::{PostId, Provider, Secret, Tenant};

use crate::error::StoreError;

/// Why an authorisation, login, refresh or revoke call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The grant is dead (`invalid_grant`, revoked, wrong password): the connection needs a new
    /// sign-in; don't retry.
    #[error("grant rejected: {reason}")]
    InvalidGrant {
        /// What the platform said.
        reason: String,
    },
    /// The platform refused the request for a reason a person can act on (scope missing,
    /// account type not supported…).
    #[error("rejected ({code}): {reason}")]
    Rejected {
        /// Platform or adapter code.
        code: String,
        /// Plain reason.
        reason: String,
    },
    /// Too many requests; try again later.
    #[error("rate limited")]
    RateLimited {
        /// When the platform says to come back.
        retry_after: Option<Duration>,
    },
    /// Network error or 5xx: retry later.
    #[error("transient: {reason}")]
    Transient {
        /// For logs.
        reason: String,
    },
    /// This platform has no such operation (e.g. no refresh tokens, no revocation endpoint).
    #[error("not supported by this platform")]
    NotSupported,
}

/// What the authorisation URL needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The `state` (≥ 128 random bits), bound server-side to the user and provider.
    pub state: Secret,
    /// The PKCE verifier; the adapter sends its S256 challenge.
    pub pkce_verifier: Secret,
    /// Redirect URI, byte-identical in the token call.
    pub redirect_uri: String,
}

/// What the code exchange needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExchange {
    /// The authorisation code from the callback.
    pub code: Secret,
    /// The PKCE verifier stored with the state.
    pub pkce_verifier: Secret,
    /// The same redirect URI as in the authorisation request.
    pub redirect_uri: String,
}

/// An OAuth 2.0 platform client (one per provider).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OAuthClient: Send + Sync {
    /// The URL to send the user to (with `state`, the S256 PKCE challenge, the scopes the
    /// adapter needs).
    fn authorization_url(&self, request: &AuthorizationRequest) -> Result<String, OAuthError>;

    /// Exchanges the code for tokens and identifies the accounts they grant (a Facebook login
    /// can grant several pages, each with its own token).
    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError>;

    /// New tokens from a refresh token. [`OAuthError::InvalidGrant`] means the connection needs
    /// a new sign-in.
    async fn refresh(
        &self,
        connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError>;

    /// Revokes the credentials where the platform allows ([`OAuthError::NotSupported`]
    /// otherwise).
    async fn revoke(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(), OAuthError>;
}

/// What a credential-based connection needs (Bluesky app password, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// Handle, email or account id.
    pub identifier: String,
    /// App password or equivalent.
    pub password: Secret,
    /// Server or instance base URL, for federated platforms (`None` = the platform's default).
    pub server_url: Option<String>,
}

/// A platform connected with credentials instead of an OAuth redirect.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CredentialLogin: Send + Sync {
    /// Signs in and identifies the account. [`OAuthError::InvalidGrant`] for wrong
    /// credentials.
    async fn login(&self, request: &LoginRequest) -> Result<Vec<AuthorizedAccount>, OAuthError>;
}

/// One post to one account.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    /// The post (for logs and platform-side references).
    pub post_id: PostId,
    /// The target as the post names it.
    pub target: Target,
    /// The account (its metadata holds page ids, instance URL…).
    pub connection: Connection,
    /// Its credentials, fresh.
    pub credentials: Credentials,
    /// The text, as validated for this platform.
    pub text: String,
    /// Attached media, in order (public URLs in `cdn_url`).
    pub media: Vec<MediaFile>,
    /// Stable for every attempt at this (post, target): send it where the platform supports
    /// idempotency (Mastodon `Idempotency-Key`, a Bluesky record key derived from it).
    pub idempotency_key: String,
}

/// What the platform answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPost {
    /// The platform's id.
    pub platform_post_id: String,
    /// Public URL, when known.
    pub url: Option<String>,
}

/// Why publishing failed — each variant decides what the worker does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// 401 / revoked token: the connection needs a new sign-in; the target fails, no retry.
    #[error("unauthorized: {reason}")]
    Unauthorized {
        /// What the platform said.
        reason: String,
    },
    /// 429: retry after the platform's delay.
    #[error("rate limited")]
    RateLimited {
        /// The platform's reset delay, if given.
        retry_after: Option<Duration>,
    },
    /// The platform refused the post for good (too long, media unsupported, daily cap…): the
    /// target fails with this reason, no retry.
    #[error("rejected ({code}): {reason}")]
    Rejected {
        /// Platform or adapter code.
        code: String,
        /// Plain, actionable reason.
        reason: String,
    },
    /// Failed before the platform could have accepted it (connection refused, 5xx before
    /// processing): retry with backoff.
    #[error("transient: {reason}")]
    Transient {
        /// For logs.
        reason: String,
    },
    /// The outcome is unknown (timeout after sending): never re-sent blindly; the target is
    /// marked unknown for a person to check.
    #[error("outcome unknown: {reason}")]
    Unknown {
        /// For logs and the person checking.
        reason: String,
    },
}

/// Publishes to one platform.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one post to one account.
    async fn publish(&self, request: &PublishRequest) -> Result<PublishedPost, PublishError>;

    /// Whether re-sending with the same idempotency key can never create a duplicate (Mastodon,
    /// Bluesky with a derived record key). When `false`, a send interrupted by a crash is marked
    /// unknown instead of being re-sent.
    fn idempotent(&self) -> bool;
}

/// The platform clients configured in this deployment, by provider.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Platforms: Send + Sync {
    /// The OAuth client, if the provider is configured for OAuth.
    fn oauth(&self, provider: Provider) -> Option<Arc<dyn OAuthClient>>;
    /// The credential login, if the provider connects with credentials.
    fn credential_login(&self, provider: Provider) -> Option<Arc<dyn CredentialLogin>>;
    /// The publisher, if the provider is configured.
    fn publisher(&self, provider: Provider) -> Option<Arc<dyn Publisher>>;
}

/// An OAuth authorisation in flight, between the redirect and the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The `state` parameter.
    pub state: Secret,
    /// Who started it.
    pub tenant: Tenant,
    /// For which platform.
    pub provider: Provider,
    /// PKCE verifier.
    pub pkce_verifier: Secret,
    /// Redirect URI used.
    pub redirect_uri: String,
    /// Where to send the user's browser afterwards.
    pub return_to: Option<String>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// Server-side OAuth state: single use, short-lived.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OAuthStateStore: Send + Sync {
    /// Stores a pending authorisation.
    async fn save(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;

    /// Where the browser of a pending authorisation goes after the platform's redirect: its
    /// provider and `return_to`, without using it up; `None` when unknown, used or expired.
    async fn destination(
        &self,
        state: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<(Provider, Option<String>)>, StoreError>;

    /// Atomically removes and returns the tenant's pending authorisation of `provider` for
    /// `state` (so a replay finds nothing); `None` — and nothing is used up — when it is
    /// unknown, already used, expired at `now`, of another provider, or another tenant's.
    async fn take(
        &self,
        tenant: &Tenant,
        provider: Provider,
        state: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
}
