//! Instagram professional accounts (business and creator): connected through their Facebook Page
//! or with Instagram Login, published through media containers.
//!
//! - **Connecting** ([`oauth`]), one of two ways, by configuration:
//!   - *Instagram Login* (Business Login for Instagram, when the deployment has an Instagram
//!     app): the code from `{auth}/oauth/authorize` (scopes [`INSTAGRAM_SCOPES`]) is exchanged
//!     at `POST {token}/oauth/access_token` for a short-lived token, that one at `GET
//!     {api}/access_token` (`grant_type=ig_exchange_token`) for a long-lived one (60 days),
//!     refreshed with `GET {api}/refresh_access_token` (`grant_type=ig_refresh_token`); the
//!     account is `GET /me` (`user_id`, `username`). Its calls go to `graph.instagram.com`.
//!   - *Through the Facebook Page* (otherwise, with the Facebook app): Facebook Login with
//!     [`FACEBOOK_SCOPES`]; every granted Page with a linked Instagram professional account
//!     (`instagram_business_account`) gives one connection, published with the Page's token
//!     (which does not expire) on `graph.facebook.com`, with `appsecret_proof`.
//!
//!   A connection's account id is the Instagram user id; its label `@username`; account type
//!   `business`; metadata `ig_user_id`, `username`, `name`, `login` (`instagram` or
//!   `facebook`), and for the second way `page_id` and `page_name`.
//! - **Publishing** ([`publish`]): first `GET /{ig-user-id}/content_publishing_limit`: when the
//!   day's cap is used up, the target is deferred to the time a slot frees (from the account's
//!   recent media), not failed. Then a container from each file's public URL — an image
//!   (`image_url`), a video as a Reel (`media_type=REELS`, `video_url`), or for several files a
//!   `CAROUSEL` container whose `children` are item containers (`is_carousel_item=true`) —
//!   with the text as `caption`, each polled (`status_code`) until `FINISHED`; then `POST
//!   /{ig-user-id}/media_publish` with `creation_id`, the send; then the post's `permalink`.
//!
//! Tokens and app secrets are never logged; nothing here prints them in `Debug`.

mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::facebook::FacebookApp;
use crate::http::{DEFAULT_TIMEOUT, SetupError};
use crate::meta::{ContainerPolling, valid_version};

/// Instagram's authorisation page.
pub const AUTH_URL: &str = "https://www.instagram.com";
/// Where Instagram Login's codes are exchanged.
pub const TOKEN_URL: &str = "https://api.instagram.com";
/// Instagram's Graph API (Instagram Login).
pub const API_URL: &str = "https://graph.instagram.com";

/// The permissions Instagram Login asks for.
pub const INSTAGRAM_SCOPES: &str = "instagram_business_basic,instagram_business_content_publish";

/// The permissions Facebook Login asks for, to reach Instagram accounts through their Page.
pub const FACEBOOK_SCOPES: &str = "instagram_basic,instagram_content_publish,pages_show_list,pages_read_engagement,business_management";

/// An Instagram app (Business Login for Instagram).
#[derive(Clone)]
pub struct InstagramApp {
    /// The Instagram app id (`client_id`).
    pub client_id: String,
    /// The Instagram app secret.
    pub client_secret: Secret,
    /// Base of the authorisation page (`https://www.instagram.com`).
    pub auth_url: String,
    /// Base of the code exchange (`https://api.instagram.com`).
    pub token_url: String,
    /// Base of the Graph API (`https://graph.instagram.com`).
    pub api_url: String,
}

impl std::fmt::Debug for InstagramApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstagramApp")
            .field("client_id", &self.client_id)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// How Instagram accounts are connected and reached.
#[derive(Debug, Clone)]
pub struct InstagramConfig {
    /// Instagram Login's app: when set, accounts connect with Instagram Login.
    pub instagram: Option<InstagramApp>,
    /// The Facebook app: without an Instagram app, accounts connect through their Facebook
    /// Page with it; and connections made that way are published with it.
    pub facebook: Option<FacebookApp>,
    /// The Graph API version (`v25.0`).
    pub version: String,
}

/// How a connection was made, from its metadata's `login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// Instagram Login: `graph.instagram.com` with the account's own token.
    Instagram,
    /// Through the Facebook Page: `graph.facebook.com` with the Page's token.
    Facebook,
}

impl Login {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Login::Instagram => "instagram",
            Login::Facebook => "facebook",
        }
    }
}

/// The Instagram client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Instagram {
    instagram: Option<InstagramApp>,
    facebook: Option<FacebookApp>,
    version: String,
    http: reqwest::Client,
    polling: ContainerPolling,
}

impl Instagram {
    /// A client for `config`: it needs an Instagram app or a Facebook app, with URLs that parse.
    pub fn new(config: InstagramConfig) -> Result<Self, SetupError> {
        if !valid_version(&config.version) {
            return Err(SetupError::Url(format!(
                "`{}` is not a Graph API version (like v25.0)",
                config.version
            )));
        }
        let instagram = match config.instagram {
            Some(app) => {
                for url in [&app.auth_url, &app.token_url, &app.api_url] {
                    url::Url::parse(url)
                        .map_err(|e| SetupError::Url(format!("Instagram URL {url}: {e}")))?;
                }
                if app.client_id.is_empty() || app.client_secret.is_empty() {
                    return Err(SetupError::Url(
                        "Instagram needs an app id and secret".to_owned(),
                    ));
                }
                let trim = |u: &str| u.trim_end_matches('/').to_owned();
                Some(InstagramApp {
                    auth_url: trim(&app.auth_url),
                    token_url: trim(&app.token_url),
                    api_url: trim(&app.api_url),
                    ..app
                })
            }
            None => None,
        };
        let facebook = config
            .facebook
            .map(|app| app.checked("Facebook (for Instagram)"))
            .transpose()?;
        if instagram.is_none() && facebook.is_none() {
            return Err(SetupError::Url(
                "Instagram needs an Instagram app or a Facebook app".to_owned(),
            ));
        }
        Ok(Self {
            instagram,
            facebook,
            version: config.version,
            http: crate::http::client(DEFAULT_TIMEOUT)?,
            polling: ContainerPolling::default(),
        })
    }

    /// The same client polling containers as `polling` says.
    pub fn with_polling(mut self, polling: ContainerPolling) -> Self {
        self.polling = polling;
        self
    }

    /// How new connections are made: Instagram Login when there is an Instagram app.
    pub(crate) fn login(&self) -> Login {
        if self.instagram.is_some() {
            Login::Instagram
        } else {
            Login::Facebook
        }
    }
}

#[cfg(test)]
mod tests;
