//! The social platforms: authorisation, token refresh and publishing.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_domain::connection::{
    AuthorizedAccount, Connection, Credentials, OAuth1Credentials, TokenGrant,
};
use multivio_domain::media::MediaFile;
use multivio_domain::post::Target;
use multivio_domain::{ConnectionId, PostId, Provider, Secret, Tenant};

use crate::error::StoreError;
use crate::media::MediaBytes;

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
    /// The instance of a federated platform (Mastodon), validated by the adapter.
    pub server_url: Option<String>,
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
    /// The same instance as in the authorisation request.
    pub server_url: Option<String>,
}

/// An OAuth 2.0 platform client (one per provider).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OAuthClient: Send + Sync {
    /// The URL to send the user to (with `state`, the S256 PKCE challenge, the scopes the
    /// adapter needs). Async: a federated platform may first register the app with the
    /// instance.
    async fn authorization_url(&self, request: &AuthorizationRequest)
    -> Result<String, OAuthError>;

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

/// A request token of an OAuth 1.0a flow, and where to send the user with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth1Start {
    /// `oauth_token` (public: it travels through the browser and names the flow).
    pub token: String,
    /// `oauth_token_secret` (kept server-side until the exchange).
    pub secret: Secret,
    /// The platform's authorisation page for this token.
    pub authorization_url: String,
}

/// An OAuth 1.0a client (X's, for media uploads): the three-legged flow.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OAuth1Client: Send + Sync {
    /// Obtains a request token whose approval comes back to `callback`.
    async fn request_token(&self, callback: &str) -> Result<OAuth1Start, OAuthError>;

    /// Exchanges the approved request token (and its secret) and the verifier for the
    /// account's access token.
    async fn access_token(
        &self,
        token: &str,
        secret: &Secret,
        verifier: &Secret,
    ) -> Result<OAuth1Credentials, OAuthError>;
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

/// A file attached to a post, with its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The row (type, size, dimensions, alt text, public URL in `cdn_url`).
    pub file: MediaFile,
    /// The bytes, read from media storage as the publisher needs them (empty when only the
    /// row is needed).
    pub bytes: MediaBytes,
}

/// A post on a platform as a reply needs to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRef {
    /// The platform's id (an `at://` URI on Bluesky).
    pub id: String,
    /// What else the platform needs to reply to it (Bluesky's record CID).
    pub reference: Option<String>,
}

/// Where a part of a thread goes: under the thread's first post and the part before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    /// The thread's first post.
    pub root: PostRef,
    /// The part it answers.
    pub parent: PostRef,
}

/// One post — one part of a thread — to one account.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    /// The post (for logs and platform-side references).
    pub post_id: PostId,
    /// The target as the post names it.
    pub target: Target,
    /// The account (its metadata holds page ids, instance URL, limits…).
    pub connection: Connection,
    /// Its credentials, fresh.
    pub credentials: Credentials,
    /// The text of this part, as validated for this platform.
    pub text: String,
    /// This part's media, in order.
    pub media: Vec<Attachment>,
    /// Which part of the thread this is (0 for a single post).
    pub part: usize,
    /// For a part after the first: the posts it replies to.
    pub reply_to: Option<ReplyTo>,
    /// Stable for every attempt at this (post, target, part): send it where the platform
    /// supports idempotency (Mastodon `Idempotency-Key`, a Bluesky record key derived from it).
    pub idempotency_key: String,
    /// The post's name (the title of a YouTube video that has none of its own).
    pub name: String,
    /// The platform's own settings for the post: the keys of `platform_content.<platform>`
    /// besides its text and thread (a Pinterest `board_id`, a YouTube `title`, TikTok's
    /// `privacy_level`…; see `multivio_domain::post::options`), as written.
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// What the platform answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPost {
    /// The platform's id.
    pub platform_post_id: String,
    /// Public URL, when known.
    pub url: Option<String>,
    /// What a reply to it needs besides the id (Bluesky's record CID).
    pub reference: Option<String>,
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
    /// The platform's own publishing cap for the account is used up until `until`
    /// (Instagram's and Threads' posts per 24 hours): the target waits until then — deferred,
    /// not failed, and no send is used up — showing `reason` meanwhile.
    #[error("deferred until {until}: {reason}")]
    Deferred {
        /// When the platform's cap frees a slot.
        until: DateTime<Utc>,
        /// Platform or adapter code.
        code: String,
        /// Plain reason, naming when it will go out.
        reason: String,
    },
    /// The [`SendGuard`] refused the send (the worker no longer holds the job): nothing that
    /// could create the post was sent.
    #[error("not sent: {reason}")]
    NotSent {
        /// Why.
        reason: String,
    },
}

/// Asked by a publisher right before each request that may create the post on the platform —
/// after the steps that are safe to redo, such as media uploads. Lets the worker renew its
/// lease on the job and record that the send is in flight, or stop a worker that lost the job
/// (paused, partitioned) before it posts anything.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SendGuard: Send + Sync {
    /// `Ok`: send now (the send is recorded as in flight). `Err(reason)`: do not send; the
    /// publisher answers [`PublishError::NotSent`].
    async fn before_send(&self) -> Result<(), String>;
}

/// A guard that always lets the send go (tools and tests that hold no job).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unguarded;

#[async_trait]
impl SendGuard for Unguarded {
    async fn before_send(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Publishes to one platform. (No generated mock: a fake that calls the guard as the adapters
/// do is what tests of the worker need.)
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one post (one part of a thread) to one account, calling `guard` right before
    /// the request that may create it (and only then); stops with [`PublishError::NotSent`]
    /// when the guard refuses.
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError>;

    /// For how long after a send the platform deduplicates a re-send with the same idempotency
    /// key (Mastodon's `Idempotency-Key` is kept about an hour; a Bluesky record key derived
    /// from it, for ever). `None`: never (X) — a send interrupted after it may have reached the
    /// platform is then reconciled ([`Publisher::reconcile`]) or left for a person to review,
    /// never re-sent blindly.
    fn dedup_window(&self) -> Option<Duration>;

    /// Whether, for a part without media, the request that may create the post is the first
    /// request this publisher makes (no upload, lookup or container before it, nothing but
    /// building the request between [`Publisher::publish`] being called and the guard being
    /// asked). The worker may then mark the part as being sent in the step that starts the job,
    /// and the guard lets the send through without a write of its own. The default says no.
    fn sends_plain_parts_at_once(&self) -> bool {
        false
    }

    /// Looks for the post a send that began at `sent_at` may have created (the account's
    /// recent posts, matched by text and time). `Ok(None)`: not found — which does not prove
    /// it was not created. The default looks nowhere.
    async fn reconcile(
        &self,
        request: &PublishRequest,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<PublishedPost>, PublishError> {
        let _ = (request, sent_at);
        Ok(None)
    }
}

/// The platform clients configured in this deployment, by provider.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Platforms: Send + Sync {
    /// The OAuth client, if the provider is configured for OAuth.
    fn oauth(&self, provider: Provider) -> Option<Arc<dyn OAuthClient>>;
    /// The OAuth 1.0a client, if the provider has one configured (X, for media uploads).
    fn oauth1(&self, provider: Provider) -> Option<Arc<dyn OAuth1Client>>;
    /// The credential login, if the provider connects with credentials.
    fn credential_login(&self, provider: Provider) -> Option<Arc<dyn CredentialLogin>>;
    /// The publisher, if the provider is configured.
    fn publisher(&self, provider: Provider) -> Option<Arc<dyn Publisher>>;
    /// Where the provider's local fake serves, when this (non-production) deployment points it
    /// at the sandbox instead of the real platform.
    fn sandbox(&self, provider: Provider) -> Option<String> {
        let _ = provider;
        None
    }
}

/// Which approval a pending authorisation is for. Each completes only through its own route,
/// so a state presented to the other one is not used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationFlow {
    /// OAuth 2.0 (or an instance's OAuth): connects accounts. `connection_id` is `None`.
    OAuth2,
    /// OAuth 1.0a: adds tokens to the existing connection `connection_id`.
    OAuth1,
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
    /// PKCE verifier (for an OAuth 1.0a flow: the request token's secret).
    pub pkce_verifier: Secret,
    /// Redirect URI used.
    pub redirect_uri: String,
    /// The instance of a federated platform (Mastodon).
    pub server_url: Option<String>,
    /// The connection an OAuth 1.0a flow adds its tokens to.
    pub connection_id: Option<ConnectionId>,
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

    /// Atomically removes and returns the tenant's pending authorisation of `provider` and
    /// `flow` for `state` (so a replay finds nothing); `None` — and nothing is used up — when
    /// it is unknown, already used, expired at `now`, of another provider or flow, or another
    /// tenant's.
    async fn take(
        &self,
        tenant: &Tenant,
        provider: Provider,
        flow: AuthorizationFlow,
        state: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
}

/// An app registered with one instance of a federated platform (Mastodon's `POST
/// /api/v1/apps`): registered once per instance and redirect URI, then reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceApp {
    /// Which platform.
    pub provider: Provider,
    /// The instance, canonical (`https://mastodon.social`).
    pub server_url: String,
    /// The redirect URI it was registered with.
    pub redirect_uri: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, sealed with [`instance_app_aad`].
    pub client_secret: crate::vault::SealedToken,
    /// When it was stored (the store's clock; ignored by [`InstanceAppStore::put`] and
    /// [`InstanceAppStore::replace`], which stamp it). `None` for an app not stored yet.
    pub registered_at: Option<DateTime<Utc>>,
}

/// The associated data sealing an instance app's client secret.
pub fn instance_app_aad(provider: Provider, server_url: &str, redirect_uri: &str) -> String {
    format!("platform_apps:{provider}:{server_url}:{redirect_uri}:client_secret")
}

/// Apps registered with instances of federated platforms. Not tenant data: every tenant of
/// this deployment uses the same app on an instance.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait InstanceAppStore: Send + Sync {
    /// The app registered for (provider, instance, redirect URI), if any.
    async fn get(
        &self,
        provider: Provider,
        server_url: &str,
        redirect_uri: &str,
    ) -> Result<Option<InstanceApp>, StoreError>;

    /// Stores a newly registered app unless one is stored already for the same (provider,
    /// instance, redirect URI) — two processes registering at once keep the first — and
    /// returns the one stored.
    async fn put(&self, app: &InstanceApp) -> Result<InstanceApp, StoreError>;

    /// Stores `app`, registered again, in place of the stored one for the same (provider,
    /// instance, redirect URI) if that one is still `stale_client_id` (the instance no longer
    /// knows it) — two processes replacing it at once keep the
    /// first — and returns the one stored (`app` is stored as [`Self::put`] would when none is).
    async fn replace(
        &self,
        stale_client_id: &str,
        app: &InstanceApp,
    ) -> Result<InstanceApp, StoreError>;
}
