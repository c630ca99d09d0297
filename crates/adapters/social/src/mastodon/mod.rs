//! Mastodon (any instance): per-instance app registration, OAuth, and statuses with media and
//! reply threads, retried safely with `Idempotency-Key`.
//!
//! - **Instances come from users.** Every instance URL is checked with [`http::server_url`]
//!   under [`MastodonConfig::server_policy`] (https to a public address; plain http only to
//!   this machine in development) and reached only through [`http::guarded_client`], which
//!   follows no redirect and refuses names that resolve to private addresses. Every body an
//!   instance sends is read with a size cap ([`http::read_capped`]), and every number it
//!   states is clamped.
//! - **One app per instance and redirect URI** ([`apps`]): registered with `POST /api/v1/apps`
//!   on the first authorisation, kept in the [`InstanceAppStore`] with its client secret
//!   sealed under [`instance_app_aad`](multivio_ports::platform::instance_app_aad), reused
//!   afterwards while the instance still knows it (checked before each authorisation, and
//!   registered again in its place when the instance deleted it). Two processes registering
//!   at once keep the first app stored.
//! - **OAuth** ([`oauth`]): authorisation code with PKCE (S256), scopes `read write`. Tokens
//!   never expire and there is no refresh token, so `refresh` answers
//!   [`OAuthError::NotSupported`](multivio_ports::platform::OAuthError::NotSupported);
//!   `revoke` calls `POST /oauth/revoke`.
//! - **Accounts.** A connection's `provider_account_id` is `username@host` (the account's
//!   username on the instance and the instance URL's host, with its port if any, e.g.
//!   `alice@mastodon.social`): a numeric account id is only unique within one instance, and the
//!   handle form is unique across instances and stable (Mastodon usernames cannot be changed).
//!   Its label is `@username@host`. Its metadata holds `server_url`, `redirect_uri` (to find
//!   the app again when revoking), `username`, `acct`, `account_id`, `url`, `display_name` and
//!   the instance's limits ([`instance`]): `max_characters` and `characters_reserved_per_url`
//!   (read by the core's validation), `max_media_attachments`, `description_limit` and, when the
//!   instance states them, `image_size_limit`, `video_size_limit` and `supported_mime_types`.
//! - **Publishing** ([`publish`]): media first (`POST /api/v2/media`, polling `GET
//!   /api/v1/media/:id` while an upload is processed), then `POST /api/v1/statuses` with the
//!   request's idempotency key as `Idempotency-Key`, so a retry of the same part returns the
//!   status already created instead of a second one — for as long as the instance keeps the
//!   key, about an hour ([`dedup_window`](multivio_ports::platform::Publisher::dedup_window):
//!   [`publish::DEDUP_WINDOW`]). The send guard is asked right before the status is posted;
//!   after the window, a send whose outcome is unknown is looked for in the account's statuses
//!   ([`reconcile`](multivio_ports::platform::Publisher::reconcile)).
//!
//! Tokens and client secrets are never logged; nothing here prints them in `Debug`.

use std::sync::Arc;
use std::time::Duration;

use multivio_ports::platform::InstanceAppStore;
use multivio_ports::vault::TokenVault;

use crate::http::{self, ServerPolicy, SetupError};

pub mod apps;
pub mod instance;
pub mod oauth;
pub mod publish;

pub use instance::InstanceLimits;

/// The scopes Multivio asks for: reading the account, posting statuses and media.
pub const SCOPES: &str = "read write";

/// How long a media upload (the file's bytes) may take by default.
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How the Mastodon adapter registers itself and reaches instances.
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// Which instance URLs users may name.
    pub server_policy: ServerPolicy,
    /// The app's name on instances (`client_name`).
    pub client_name: String,
    /// The app's website, if any.
    pub website: Option<String>,
}

/// How long to wait for an instance to process an uploaded file (video, audio, GIF), which it
/// answers `202 Accepted` and finishes in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPolling {
    /// The pause between two `GET /api/v1/media/:id`.
    pub interval: Duration,
    /// How many times to ask before giving up (the publish then fails as transient, and the
    /// worker retries it later).
    pub max_polls: u32,
}

impl Default for MediaPolling {
    /// Every 2 seconds, for up to 3 minutes.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            max_polls: 90,
        }
    }
}

/// The Mastodon client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher) for every instance.
pub struct Mastodon {
    config: MastodonConfig,
    apps: Arc<dyn InstanceAppStore>,
    vault: Arc<dyn TokenVault>,
    client: reqwest::Client,
    upload_timeout: Duration,
    polling: MediaPolling,
}

impl std::fmt::Debug for Mastodon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mastodon")
            .field("config", &self.config)
            .field("upload_timeout", &self.upload_timeout)
            .field("polling", &self.polling)
            .finish_non_exhaustive()
    }
}

impl Mastodon {
    /// A client for `config`, keeping instance registrations in `apps` (their secrets sealed
    /// with `vault`). Calls time out after [`http::DEFAULT_TIMEOUT`], uploads after
    /// [`DEFAULT_UPLOAD_TIMEOUT`].
    pub fn new(
        config: MastodonConfig,
        apps: Arc<dyn InstanceAppStore>,
        vault: Arc<dyn TokenVault>,
    ) -> Result<Self, SetupError> {
        let client = http::guarded_client(http::DEFAULT_TIMEOUT, config.server_policy)?;
        Ok(Self {
            config,
            apps,
            vault,
            client,
            upload_timeout: DEFAULT_UPLOAD_TIMEOUT,
            polling: MediaPolling::default(),
        })
    }

    /// The same client with other timeouts: `call` for every API call, `upload` for sending a
    /// media file.
    pub fn with_timeouts(mut self, call: Duration, upload: Duration) -> Result<Self, SetupError> {
        self.client = http::guarded_client(call, self.config.server_policy)?;
        self.upload_timeout = upload.max(call);
        Ok(self)
    }

    /// The same client waiting for processed media as `polling` says.
    pub fn with_media_polling(mut self, polling: MediaPolling) -> Self {
        self.polling = polling;
        self
    }

    /// A user-given or stored instance URL, canonical, if the policy allows it.
    fn instance(&self, input: &str) -> Result<String, SetupError> {
        http::server_url(input, self.config.server_policy)
    }
}

/// What an instance said in an error answer (`{"error": …, "error_description": …}`), if
/// anything readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct InstanceError {
    /// `error`: a sentence on API endpoints, a code (`invalid_grant`) on OAuth endpoints.
    error: Option<String>,
    /// `error_description` (OAuth endpoints).
    description: Option<String>,
}

impl InstanceError {
    /// Reads the error body of `response` (capped, never failing).
    async fn read(response: reqwest::Response) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            error: Option<serde_json::Value>,
            error_description: Option<serde_json::Value>,
        }
        let text = |v: Option<serde_json::Value>| {
            v.and_then(|v| v.as_str().map(|s| http::excerpt(s.trim(), 300)))
                .filter(|s| !s.is_empty())
        };
        match http::read_capped(response, http::MAX_ERROR_BYTES)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Body>(&b).ok())
        {
            Some(body) => Self {
                error: text(body.error),
                description: text(body.error_description),
            },
            None => Self::default(),
        }
    }

    /// The most readable text of the answer, or `fallback`.
    fn message(&self, fallback: &str) -> String {
        self.description
            .clone()
            .or_else(|| self.error.clone())
            .unwrap_or_else(|| fallback.to_owned())
    }
}

/// Whether a platform id (account, status, media) is safe to use in a path: ASCII letters,
/// digits, `-` and `_`, 1–64 characters (Mastodon's are decimal strings).
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests;
