//! X (provider `twitter`): OAuth 2.0 with PKCE (confidential client), OAuth 1.0a for media
//! uploads, the chunked media upload and posts with reply threads.
//!
//! Endpoints (all bases configurable): the authorisation page `{auth}/i/oauth2/authorize`;
//! tokens `{api}/2/oauth2/token` and `/2/oauth2/revoke` with HTTP Basic client
//! authentication; `{api}/2/users/me`; `{api}/2/tweets`; the account's own timeline
//! `{api}/2/users/{id}/tweets` (reconciliation); media `{upload}/2/media/upload/
//! initialize`, `/{id}/append`, `/{id}/finalize` and `GET {upload}/2/media/upload?media_id=`;
//! OAuth 1.0a `{api}/oauth/request_token`, `{api}/oauth/authorize`, `{api}/oauth/access_token`.

mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};

/// X's authorisation pages.
pub const AUTH_URL: &str = "https://x.com";
/// X's API.
pub const API_URL: &str = "https://api.x.com";
/// X's media uploads (the v2 endpoints live on the API host).
pub const UPLOAD_URL: &str = "https://api.x.com";

/// The scopes Multivio asks for: read the account, post, upload media, and keep a refresh
/// token.
pub const SCOPES: &str = "tweet.read tweet.write users.read offline.access media.write";

/// X's app credentials and endpoints.
#[derive(Clone)]
pub struct XConfig {
    /// OAuth 2.0 client id.
    pub client_id: String,
    /// OAuth 2.0 client secret (confidential client).
    pub client_secret: Secret,
    /// OAuth 1.0a consumer key and secret, when media go with the account's OAuth 1.0a tokens.
    pub consumer: Option<(String, Secret)>,
    /// Base of the authorisation pages (`https://x.com`).
    pub auth_url: String,
    /// Base of the API (`https://api.x.com`).
    pub api_url: String,
    /// Base of media uploads (`https://api.x.com`).
    pub upload_url: String,
}

impl std::fmt::Debug for XConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XConfig")
            .field("client_id", &self.client_id)
            .field("consumer_key", &self.consumer.as_ref().map(|c| &c.0))
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .field("upload_url", &self.upload_url)
            .finish_non_exhaustive()
    }
}

/// The X client: [`OAuthClient`](multivio_ports::platform::OAuthClient),
/// [`OAuth1Client`](multivio_ports::platform::OAuth1Client) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct X {
    config: XConfig,
    http: reqwest::Client,
    /// How long to wait between media processing checks at most (X's `check_after_secs` is
    /// honoured up to this).
    max_check_delay: std::time::Duration,
}

impl X {
    /// A client for `config`; its URLs must parse.
    pub fn new(config: XConfig) -> Result<Self, SetupError> {
        for url in [&config.auth_url, &config.api_url, &config.upload_url] {
            url::Url::parse(url).map_err(|e| SetupError::Url(format!("X URL {url}: {e}")))?;
        }
        Ok(Self {
            http: crate::http::client(DEFAULT_TIMEOUT)?,
            config: XConfig {
                auth_url: config.auth_url.trim_end_matches('/').to_owned(),
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                upload_url: config.upload_url.trim_end_matches('/').to_owned(),
                ..config
            },
            max_check_delay: std::time::Duration::from_secs(10),
        })
    }

    /// The same client with another cap on the delay between media processing checks.
    pub fn with_max_check_delay(mut self, delay: std::time::Duration) -> Self {
        self.max_check_delay = delay;
        self
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url)
    }

    fn upload_url(&self, path: &str) -> String {
        format!("{}{path}", self.config.upload_url)
    }
}

#[cfg(test)]
mod tests;
