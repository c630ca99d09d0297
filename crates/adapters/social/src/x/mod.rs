//! X (provider `twitter`): OAuth 2.0 with PKCE, OAuth 1.0a for media uploads, chunked media
//! upload and posts with reply threads.

use multivio_domain::Secret;

use crate::http::SetupError;

/// X's production endpoints.
pub const AUTH_URL: &str = "https://x.com";
/// X's API.
pub const API_URL: &str = "https://api.x.com";
/// X's media uploads (the v2 endpoints live on the API host).
pub const UPLOAD_URL: &str = "https://api.x.com";

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
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The X client.
#[derive(Debug, Clone)]
pub struct X {
    config: XConfig,
}

impl X {
    /// A client for `config`.
    pub fn new(config: XConfig) -> Result<Self, SetupError> {
        Ok(Self { config })
    }
}
