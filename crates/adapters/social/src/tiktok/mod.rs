//! TikTok: OAuth v2 with refresh, and direct posts of a video uploaded in chunks.
//!
//! - **Connecting** ([`oauth`]): the approval at `{auth}/v2/auth/authorize/` (`client_key`,
//!   scopes [`SCOPES`], comma-separated); the code is exchanged at `POST
//!   {api}/v2/oauth/token/` (form body with the client key and secret); the account is the
//!   token's `open_id`, named by `GET {api}/v2/user/info/` (`display_name`) and the creator's
//!   `creator_username`. Access tokens last a day and are refreshed with the refresh token
//!   (`grant_type=refresh_token`; TikTok may answer a new one). Disconnecting revokes the token
//!   (`POST {api}/v2/oauth/revoke/`).
//! - **Publishing** ([`publish`]): before every post, `POST
//!   {api}/v2/post/publish/creator_info/query/` — the privacy levels TikTok offers this
//!   creator now and the longest video it may post; a privacy the creator is not offered is
//!   refused in plain words (an app TikTok has not audited is offered `SELF_ONLY` only: "TikTok
//!   allows this app to post only privately until it is audited"), and so is a video longer
//!   than allowed. Then `POST {api}/v2/post/publish/video/init/` (`post_info`: the caption as
//!   `title`, `privacy_level`, the interaction switches; `source_info`: `FILE_UPLOAD` with the
//!   size and chunking TikTok requires), the bytes in order to the `upload_url` (`PUT`, each
//!   with its `Content-Range`), and `POST {api}/v2/post/publish/status/fetch/` until
//!   `PUBLISH_COMPLETE` (or `FAILED`, told in plain words). A post without a video is refused:
//!   "TikTok requires a video".
//!
//! Tokens and the client secret are never logged; the upload URL (a capability) never
//! appears in a reason.

mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};
use crate::meta::ContainerPolling;

/// TikTok's authorisation page.
pub const AUTH_URL: &str = "https://www.tiktok.com";
/// TikTok's API (tokens included).
pub const API_URL: &str = "https://open.tiktokapis.com";

/// The scopes Multivio asks for: the profile, direct posts, uploads.
pub const SCOPES: &str = "user.info.basic,video.publish,video.upload";

/// Bytes per chunk of a video larger than this (TikTok takes 5 MB to 64 MB per chunk).
pub const CHUNK: usize = 10_000_000;
/// Below this size a video goes whole, in one chunk (TikTok's rule).
pub const WHOLE_BELOW: usize = 5 * 1024 * 1024;

/// TikTok's app credentials and endpoints.
#[derive(Clone)]
pub struct TiktokConfig {
    /// The app's client key.
    pub client_key: String,
    /// The app's client secret.
    pub client_secret: Secret,
    /// Base of the authorisation page (`https://www.tiktok.com`).
    pub auth_url: String,
    /// Base of the API (`https://open.tiktokapis.com`).
    pub api_url: String,
}

impl std::fmt::Debug for TiktokConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiktokConfig")
            .field("client_key", &self.client_key)
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The TikTok client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Tiktok {
    config: TiktokConfig,
    http: reqwest::Client,
    upload_http: reqwest::Client,
    chunk: usize,
    /// How the post's status is fetched until TikTok has published it.
    polling: ContainerPolling,
}

impl Tiktok {
    /// A client for `config`; its URLs must parse.
    pub fn new(config: TiktokConfig) -> Result<Self, SetupError> {
        for url in [&config.auth_url, &config.api_url] {
            url::Url::parse(url).map_err(|e| SetupError::Url(format!("TikTok URL {url}: {e}")))?;
        }
        if config.client_key.is_empty() || config.client_secret.is_empty() {
            return Err(SetupError::Url(
                "TikTok needs a client key and secret".to_owned(),
            ));
        }
        Ok(Self {
            config: TiktokConfig {
                auth_url: config.auth_url.trim_end_matches('/').to_owned(),
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                ..config
            },
            http: crate::http::client(DEFAULT_TIMEOUT)?,
            upload_http: crate::http::client(std::time::Duration::from_secs(300))?,
            chunk: CHUNK,
            // Ten minutes of reads, six a minute: TikTok allows 30 a minute per token, so five
            // posts of one account can be followed at once.
            polling: ContainerPolling {
                interval: std::time::Duration::from_secs(10),
                max_polls: 60,
            },
        })
    }

    /// The same client sending chunks of `chunk` bytes (at least [`WHOLE_BELOW`]) for videos of
    /// more than that.
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        self.chunk = chunk.max(WHOLE_BELOW);
        self
    }

    /// The same client fetching a post's status as `polling` says.
    pub fn with_polling(mut self, polling: ContainerPolling) -> Self {
        self.polling = polling;
        self
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url)
    }

    /// The chunking TikTok wants for `size` bytes: (chunk size, chunk count). Under
    /// [`WHOLE_BELOW`], or no larger than one chunk, the whole video; otherwise chunks of
    /// `self.chunk`, the last one taking the rest (so it may be up to twice as large).
    pub(crate) fn chunking(&self, size: usize) -> (usize, usize) {
        if size < WHOLE_BELOW || size <= self.chunk {
            return (size, 1);
        }
        (self.chunk, size / self.chunk)
    }
}

/// TikTok's answer envelope: `{"data": …, "error": {"code", "message", "log_id"}}`.
#[derive(Debug, Default, serde::Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    error: Option<ApiError>,
}

#[derive(Debug, Default, Clone, serde::Deserialize)]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl ApiError {
    fn is_ok(&self) -> bool {
        self.code.is_empty() || self.code == "ok"
    }
}

#[cfg(test)]
mod tests;
