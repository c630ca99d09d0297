//! YouTube: Google OAuth with offline access, the channel as the account, and videos through
//! the resumable upload protocol.
//!
//! - **Connecting** ([`oauth`]): Google's consent page `{auth}/o/oauth2/v2/auth` (scopes
//!   [`SCOPES`], `access_type=offline` and `prompt=consent` so Google issues a refresh token
//!   every time, PKCE with S256); the code is exchanged at `POST {token}/token` (form body with
//!   the client id and secret, and the PKCE verifier); the account is the channel, `GET
//!   {api}/youtube/v3/channels?part=snippet&mine=true` (one connection per channel answered; a
//!   Google account without a channel is refused in plain words). Account id: the channel id
//!   (`UC…`); label: its title; metadata `channel_id`, `title`, `custom_url`. Access tokens last
//!   an hour and are refreshed with the refresh token (`grant_type=refresh_token`; Google keeps
//!   the refresh token the same). Disconnecting revokes the grant (`POST {token}/revoke`).
//! - **Publishing** ([`publish`]): one video, uploaded resumably: `POST
//!   {api}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with the video
//!   resource as JSON (title, description, privacy status, made for kids) and the file's size
//!   and type (`X-Upload-Content-Length`, `X-Upload-Content-Type`) → the session URL in
//!   `Location`; then the bytes in chunks of [`CHUNK`] (a multiple of 256 KiB), each a `PUT`
//!   with its `Content-Range`, answered `308` (with `Range`, what Google holds) until the last,
//!   answered with the video. An interrupted chunk (a server error, a connection lost) is
//!   followed by a status query (`Content-Range: bytes */<total>`), and the upload resumes from
//!   the byte after the `Range` Google acknowledged.
//!
//! Tokens and the client secret are never logged; the session URL (a capability) never
//! appears in a reason.

mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};

/// Google's consent page.
pub const AUTH_URL: &str = "https://accounts.google.com";
/// Google's token endpoint (`/token`, `/revoke`).
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com";
/// Google's APIs (the YouTube Data API and its uploads).
pub const API_URL: &str = "https://www.googleapis.com";

/// The scopes Multivio asks for: uploading videos, and reading the channel.
pub const SCOPES: &str = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly";

/// Bytes per `PUT` of a resumable upload (Google wants a multiple of 256 KiB).
pub const CHUNK: usize = 8 * 1024 * 1024;
/// Google's chunk granularity.
pub const CHUNK_GRANULARITY: usize = 256 * 1024;

/// YouTube's (Google's) app credentials and endpoints.
#[derive(Clone)]
pub struct YoutubeConfig {
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret,
    /// Base of the consent page (`https://accounts.google.com`).
    pub auth_url: String,
    /// Base of the token endpoint (`https://oauth2.googleapis.com`).
    pub token_url: String,
    /// Base of the API (`https://www.googleapis.com`).
    pub api_url: String,
}

impl std::fmt::Debug for YoutubeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YoutubeConfig")
            .field("client_id", &self.client_id)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The YouTube client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Youtube {
    config: YoutubeConfig,
    http: reqwest::Client,
    /// Uploads need more time than an API call: a chunk of 8 MiB on a slow line.
    upload_http: reqwest::Client,
    chunk: usize,
    /// The first pause before resuming an interrupted upload (doubling each time).
    resume_delay: std::time::Duration,
}

impl Youtube {
    /// A client for `config`; its URLs must parse.
    pub fn new(config: YoutubeConfig) -> Result<Self, SetupError> {
        for url in [&config.auth_url, &config.token_url, &config.api_url] {
            url::Url::parse(url).map_err(|e| SetupError::Url(format!("YouTube URL {url}: {e}")))?;
        }
        if config.client_id.is_empty() || config.client_secret.is_empty() {
            return Err(SetupError::Url(
                "YouTube needs a client id and secret".to_owned(),
            ));
        }
        Ok(Self {
            config: YoutubeConfig {
                auth_url: config.auth_url.trim_end_matches('/').to_owned(),
                token_url: config.token_url.trim_end_matches('/').to_owned(),
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                ..config
            },
            http: crate::http::client(DEFAULT_TIMEOUT)?,
            upload_http: crate::http::client(std::time::Duration::from_secs(300))?,
            chunk: CHUNK,
            resume_delay: std::time::Duration::from_millis(500),
        })
    }

    /// The same client uploading `chunk` bytes per request (rounded down to a multiple of 256
    /// KiB, at least 256 KiB).
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        self.chunk = (chunk / CHUNK_GRANULARITY).max(1) * CHUNK_GRANULARITY;
        self
    }

    /// The same client pausing `delay` (doubling) before resuming an interrupted upload.
    pub fn with_resume_delay(mut self, delay: std::time::Duration) -> Self {
        self.resume_delay = delay;
        self
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url)
    }
}

/// Google's error answers: `{"error": {"code", "message", "errors": [{"reason", …}]}}`.
#[derive(Debug, Default, serde::Deserialize)]
struct GoogleError {
    #[serde(default)]
    error: Option<GoogleErrorBody>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct GoogleErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<GoogleErrorItem>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct GoogleErrorItem {
    #[serde(default)]
    reason: Option<String>,
}

impl GoogleError {
    fn parse(text: &str) -> GoogleError {
        serde_json::from_str(text).unwrap_or_default()
    }

    fn reason(&self) -> Option<&str> {
        self.error
            .as_ref()
            .and_then(|e| e.errors.iter().find_map(|i| i.reason.as_deref()))
    }

    fn message(&self) -> &str {
        self.error
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .unwrap_or("no reason given")
    }
}

#[cfg(test)]
mod tests;
