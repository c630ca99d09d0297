//! Threads: OAuth with long-lived tokens, posts and reply threads through media containers.
//!
//! - **Connecting** ([`oauth`]): the code from `{auth}/oauth/authorize` (scopes [`SCOPES`]) is
//!   exchanged at `POST {api}/oauth/access_token` for a short-lived token (an hour), that one
//!   at `GET {api}/access_token` (`grant_type=th_exchange_token`) for a long-lived one (60
//!   days); the account is `GET /me` (`id`, `username`, `name`). The long-lived token is
//!   refreshed with itself (`GET {api}/refresh_access_token`, `grant_type=th_refresh_token`,
//!   once it is a day old), so it is also kept as the connection's refresh token. Threads
//!   documents no PKCE: the app secret authenticates the code exchange. Account id: the Threads
//!   user id; label `@username`; metadata `user_id`, `username`, `name`.
//! - **Publishing** ([`publish`]): first `GET /{user}/threads_publishing_limit` (250 posts, and
//!   1,000 replies, a day): at the cap the target is deferred to when a slot frees, from the
//!   account's own recent posts (or replies). Then a container (`POST /{user}/threads`):
//!   `TEXT` (`text`), `IMAGE` (`image_url`), `VIDEO` (`video_url`), or for several files a
//!   `CAROUSEL` whose `children` are item containers (`is_carousel_item=true`); a part after
//!   the first of a thread replies to the one before (`reply_to_id`); images carry their alt
//!   text (`alt_text`). Each container is polled (`status`) until `FINISHED`; then `POST
//!   /{user}/threads_publish` with `creation_id` — the send — and the post's `permalink`.
//!   The text is at most 500 characters as Threads counts them (the core's validation, emoji
//!   as their UTF-8 bytes); media go by their public URL.
//!
//! Tokens and the app secret are never logged; nothing here prints them in `Debug`.

mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};
use crate::meta::{ContainerPolling, THREADS_VERSION};

/// Threads' authorisation page.
pub const AUTH_URL: &str = "https://threads.net";
/// Threads' API (tokens and the Graph API).
pub const API_URL: &str = "https://graph.threads.net";

/// The permissions Multivio asks for: the profile, publishing, and replies — posting them and
/// reading their own cap (`threads_manage_replies`), and reading them back
/// (`threads_read_replies`: a reply interrupted midway is looked for among the account's).
pub const SCOPES: &str =
    "threads_basic,threads_content_publish,threads_manage_replies,threads_read_replies";

/// Threads' app credentials and endpoints.
#[derive(Clone)]
pub struct ThreadsConfig {
    /// The Threads app id (`client_id`).
    pub client_id: String,
    /// The Threads app secret.
    pub client_secret: Secret,
    /// Base of the authorisation page (`https://threads.net`).
    pub auth_url: String,
    /// Base of the API (`https://graph.threads.net`).
    pub api_url: String,
}

impl std::fmt::Debug for ThreadsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadsConfig")
            .field("client_id", &self.client_id)
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The Threads client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Threads {
    config: ThreadsConfig,
    version: &'static str,
    http: reqwest::Client,
    polling: ContainerPolling,
}

impl Threads {
    /// A client for `config`; its URLs must parse.
    pub fn new(config: ThreadsConfig) -> Result<Self, SetupError> {
        for url in [&config.auth_url, &config.api_url] {
            url::Url::parse(url).map_err(|e| SetupError::Url(format!("Threads URL {url}: {e}")))?;
        }
        if config.client_id.is_empty() || config.client_secret.is_empty() {
            return Err(SetupError::Url(
                "Threads needs an app id and secret".to_owned(),
            ));
        }
        Ok(Self {
            config: ThreadsConfig {
                auth_url: config.auth_url.trim_end_matches('/').to_owned(),
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                ..config
            },
            version: THREADS_VERSION,
            http: crate::http::client(DEFAULT_TIMEOUT)?,
            polling: ContainerPolling::default(),
        })
    }

    /// The same client polling containers as `polling` says.
    pub fn with_polling(mut self, polling: ContainerPolling) -> Self {
        self.polling = polling;
        self
    }
}

#[cfg(test)]
mod tests;
