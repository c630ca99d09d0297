//! Pinterest: OAuth with refresh, the account's boards in its metadata, and pins to the board
//! each post names.
//!
//! - **Connecting** ([`oauth`]): the approval at `{auth}/oauth/` (scopes [`SCOPES`],
//!   comma-separated); the code is exchanged at `POST {api}/v5/oauth/token` with HTTP Basic
//!   client authentication and a form body; the account is `GET {api}/v5/user_account`, and its
//!   boards `GET {api}/v5/boards` (every page, up to [`MAX_BOARDS`]), kept in the connection's
//!   metadata as `boards: [{"id", "name", "privacy"}]` so a client can offer them. Account id:
//!   Pinterest's user id (else the username); label: the business name or `username`;
//!   metadata `username`, `account_type`, `boards`. Access tokens last 30 days and are renewed
//!   with the refresh token (`grant_type=refresh_token`, a year).
//! - **Publishing** ([`publish`]): `POST {api}/v5/pins` to the board the post names in
//!   `platform_content.pinterest.board_id` (or the account's only board), with the post's
//!   text as `description`, the optional `title` and `link`, the file's alt text, and
//!   `media_source`: an image by its public URL (`image_url`: Pinterest fetches it), or a
//!   video uploaded first — `POST {api}/v5/media` registers it, the bytes go to the
//!   `upload_url` as a form with the `upload_parameters` Pinterest gave (no token: the form is
//!   signed), `GET {api}/v5/media/{id}` is polled until `succeeded`, then the pin names it
//!   (`video_id`, with a cover frame).
//!
//! Tokens and the client secret are never logged; nothing here prints them in `Debug`.

mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};
use crate::meta::ContainerPolling;

/// Pinterest's authorisation page.
pub const AUTH_URL: &str = "https://www.pinterest.com";
/// Pinterest's API (tokens included).
pub const API_URL: &str = "https://api.pinterest.com";

/// The scopes Multivio asks for: the account, its boards, and pins.
pub const SCOPES: &str = "user_accounts:read,boards:read,pins:read,pins:write";

/// Boards kept in a connection's metadata at most.
pub const MAX_BOARDS: usize = 500;
/// Pages of boards read at most: full pages (250) reach [`MAX_BOARDS`] in two; the rest is room for
/// short pages.
pub const MAX_BOARD_PAGES: usize = 20;

/// Pinterest's app credentials and endpoints.
#[derive(Clone)]
pub struct PinterestConfig {
    /// The app id (`client_id`).
    pub client_id: String,
    /// The app secret.
    pub client_secret: Secret,
    /// Base of the authorisation page (`https://www.pinterest.com`).
    pub auth_url: String,
    /// Base of the API (`https://api.pinterest.com`).
    pub api_url: String,
}

impl std::fmt::Debug for PinterestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinterestConfig")
            .field("client_id", &self.client_id)
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The Pinterest client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Pinterest {
    config: PinterestConfig,
    http: reqwest::Client,
    /// Video uploads take longer than an API call.
    upload_http: reqwest::Client,
    /// How a registered video is polled until Pinterest has processed it.
    polling: ContainerPolling,
}

impl Pinterest {
    /// A client for `config`; its URLs must parse.
    pub fn new(config: PinterestConfig) -> Result<Self, SetupError> {
        for url in [&config.auth_url, &config.api_url] {
            url::Url::parse(url)
                .map_err(|e| SetupError::Url(format!("Pinterest URL {url}: {e}")))?;
        }
        if config.client_id.is_empty() || config.client_secret.is_empty() {
            return Err(SetupError::Url(
                "Pinterest needs an app id and secret".to_owned(),
            ));
        }
        Ok(Self {
            config: PinterestConfig {
                auth_url: config.auth_url.trim_end_matches('/').to_owned(),
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                ..config
            },
            http: crate::http::client(DEFAULT_TIMEOUT)?,
            upload_http: crate::http::client(std::time::Duration::from_secs(600))?,
            polling: ContainerPolling {
                interval: std::time::Duration::from_secs(3),
                max_polls: 100,
            },
        })
    }

    /// The same client polling a registered video as `polling` says.
    pub fn with_polling(mut self, polling: ContainerPolling) -> Self {
        self.polling = polling;
        self
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url)
    }
}

/// Pinterest's error answers: `{"code", "message"}`.
#[derive(Debug, Default, serde::Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

impl ApiError {
    fn parse(text: &str) -> ApiError {
        serde_json::from_str(text).unwrap_or_default()
    }

    fn message(&self) -> &str {
        self.message.as_deref().unwrap_or("no reason given")
    }
}

#[cfg(test)]
mod tests;
