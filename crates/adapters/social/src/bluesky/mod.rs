//! Bluesky (AT Protocol): sign-in with an app password, session refresh, and posts with rich
//! text, images and reply threads.
//!
//! - [`CredentialLogin`]: `com.atproto.server.createSession` at the server the user names (or
//!   the configured entryway); the account's own PDS is read from the session's DID document.
//! - [`OAuthClient`]: only `refresh` (`refreshSession`, both tokens rotate) and `revoke`
//!   (`deleteSession`) apply; Bluesky has no authorisation redirect for app passwords.
//! - [`Publisher`]: one `app.bsky.feed.post` record per call, at a record key derived from the
//!   idempotency key, so a retry can never publish twice ([`Publisher::dedup_window`] is
//!   practically for ever). The [`SendGuard`] is asked right before `createRecord`, after the
//!   mentions are resolved, the posts replied to are read and the images uploaded.
//!
//! Tokens and passwords never reach a log: they travel as [`Secret`]s and only
//! `Authorization` headers and the sign-in body carry them.
//!
//! Servers are user-chosen (the server named at sign-in, the PDS of a DID document): they are
//! reached only through [`http::guarded_client`], and every answer is read with a size cap
//! ([`http::read_capped`]), so none can make Multivio read without end.

pub mod facets;
pub mod images;
mod publish;
mod session;
pub mod tid;

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::Secret;
use multivio_domain::connection::{AuthorizedAccount, Connection, Credentials, TokenGrant};
use multivio_ports::platform::{
    AuthorizationRequest, CodeExchange, CredentialLogin, LoginRequest, OAuthClient, OAuthError,
    PublishError, PublishRequest, PublishedPost, Publisher, SendGuard,
};
use serde::Deserialize;

use crate::http::{self, ServerPolicy, SetupError};

/// Bluesky's main entryway, where sign-ins go when the user names no server.
pub const SERVICE_URL: &str = "https://bsky.social";

/// The largest image blob Multivio sends by default: the 1 MB Bluesky accepted until April
/// 2026 (the current lexicon allows 2 MB, older servers and apps still expect 1 MB).
pub const DEFAULT_MAX_IMAGE_BYTES: usize = 1_000_000;

/// Most images in one post.
pub const MAX_IMAGES: usize = 4;

/// How the Bluesky adapter reaches the network.
#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    /// Where sign-ins go when the user names no server (the main entryway,
    /// `https://bsky.social`).
    pub service_url: String,
    /// Which user-given server URLs are allowed.
    pub server_policy: ServerPolicy,
    /// The largest image blob, in bytes: larger images are downscaled and re-encoded.
    pub max_image_bytes: usize,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        Self {
            service_url: SERVICE_URL.to_owned(),
            server_policy: ServerPolicy::PublicHttpsOnly,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
        }
    }
}

/// The Bluesky client: a [`CredentialLogin`], an [`OAuthClient`] (refresh and revoke only) and
/// a [`Publisher`].
#[derive(Debug, Clone)]
pub struct Bluesky {
    config: BlueskyConfig,
    http: reqwest::Client,
}

impl Bluesky {
    /// A client for `config`: its entryway is checked against its server policy, and every
    /// server it calls (the entryway, the user's server, the account's PDS) must resolve to
    /// addresses the policy allows.
    pub fn new(config: BlueskyConfig) -> Result<Self, SetupError> {
        let service_url = http::server_url(&config.service_url, config.server_policy)?;
        if config.max_image_bytes == 0 {
            return Err(SetupError::Url(
                "the largest Bluesky image must be at least one byte".to_owned(),
            ));
        }
        let http = http::guarded_client(http::DEFAULT_TIMEOUT, config.server_policy)?;
        Ok(Self {
            config: BlueskyConfig {
                service_url,
                ..config
            },
            http,
        })
    }

    /// The configuration in use (the entryway made canonical).
    pub fn config(&self) -> &BlueskyConfig {
        &self.config
    }

    /// The server a connection's calls go to: its PDS (`pds_url`), else the server it signed
    /// in to, else the entryway — checked against the server policy again.
    fn pds_of(&self, connection: &Connection) -> Result<String, SetupError> {
        let stored = connection
            .metadata_str("pds_url")
            .or_else(|| connection.metadata_str("service_url"));
        match stored {
            Some(url) => http::server_url(url, self.config.server_policy),
            None => Ok(self.config.service_url.clone()),
        }
    }
}

/// The URL of an XRPC method on a server.
fn xrpc(base: &str, nsid: &str) -> String {
    format!("{base}/xrpc/{nsid}")
}

/// An XRPC error answer: `{"error": "...", "message": "..."}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct XrpcError {
    status: u16,
    error: String,
    message: String,
    retry_after: Option<chrono::Duration>,
}

impl XrpcError {
    /// Reads a failed answer (at most [`http::MAX_ERROR_BYTES`] of it; a body that is not the
    /// envelope gives `HTTP <status>` and an excerpt of the body, one that cannot be read says
    /// why).
    async fn read(response: reqwest::Response) -> XrpcError {
        #[derive(Deserialize)]
        struct Envelope {
            error: Option<String>,
            message: Option<String>,
        }
        let status = response.status().as_u16();
        let retry_after = http::retry_after(response.headers(), Utc::now());
        let (error, message) = match http::read_capped(response, http::MAX_ERROR_BYTES).await {
            Ok(body) => {
                let envelope = serde_json::from_slice::<Envelope>(&body).ok();
                let (error, message) = envelope.map_or((None, None), |e| (e.error, e.message));
                (
                    error,
                    message.unwrap_or_else(|| {
                        http::excerpt(String::from_utf8_lossy(&body).trim(), 200)
                    }),
                )
            }
            Err(e) => (None, e.to_string()),
        };
        XrpcError {
            status,
            error: error.unwrap_or_else(|| format!("HTTP {status}")),
            message,
            retry_after,
        }
    }

    /// An expired, revoked or unverifiable token (HTTP 400 on Bluesky, not 401).
    fn is_token_error(&self) -> bool {
        matches!(self.error.as_str(), "ExpiredToken" | "InvalidToken")
    }

    fn describe(&self) -> String {
        format!("{} ({}): {}", self.error, self.status, self.message)
    }
}

#[async_trait]
impl CredentialLogin for Bluesky {
    async fn login(&self, request: &LoginRequest) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        self.create_session(request).await.map(|a| vec![a])
    }
}

#[async_trait]
impl OAuthClient for Bluesky {
    /// Bluesky accounts connect with an app password ([`CredentialLogin`]).
    async fn authorization_url(
        &self,
        _request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        Err(OAuthError::NotSupported)
    }

    /// Bluesky accounts connect with an app password ([`CredentialLogin`]).
    async fn exchange_code(
        &self,
        _exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        Err(OAuthError::NotSupported)
    }

    async fn refresh(
        &self,
        connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        self.refresh_session(connection, refresh_token).await
    }

    /// Ends the session of the refresh token (`deleteSession`); a session already ended counts
    /// as revoked. Without a refresh token there is nothing to end: [`OAuthError::NotSupported`]
    /// (the access token lapses within two hours). The app password itself stays valid until
    /// the user deletes it in Bluesky's settings.
    async fn revoke(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        match &credentials.refresh_token {
            Some(refresh) => self.delete_session(connection, refresh).await,
            None => Err(OAuthError::NotSupported),
        }
    }
}

/// How long Bluesky is said to deduplicate a re-send: ten years, i.e. for as long as the
/// post exists. The "idempotency key" is the record key itself, derived from the request's
/// key and part, and a repo holds one record per key: a re-send at any time after the first
/// is refused and [`Publisher::publish`] reads the record back, answering the post already
/// there. (Should the user delete that post, a re-send would publish it again — a deleted
/// post is not one to protect.)
pub const DEDUP_WINDOW: Duration = Duration::days(3650);

#[async_trait]
impl Publisher for Bluesky {
    async fn publish(
        &self,
        request: &PublishRequest,
        guard: &dyn SendGuard,
    ) -> Result<PublishedPost, PublishError> {
        self.publish_post(request, guard).await
    }

    /// Every attempt at a part writes the same record key, and a second write to it is
    /// refused then read back: a retry never duplicates a post ([`DEDUP_WINDOW`]).
    fn dedup_window(&self) -> Option<Duration> {
        Some(DEDUP_WINDOW)
    }
}
