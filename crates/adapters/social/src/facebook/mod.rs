//! Facebook Pages: Facebook Login, one connection per Page, and posts to a Page's feed.
//!
//! - **Login** ([`login`]): the authorisation code from `{auth}/{version}/dialog/oauth`
//!   (scopes [`SCOPES`]) is exchanged at `GET {api}/{version}/oauth/access_token` for a
//!   short-lived user token, that one for a long-lived user token (`grant_type=
//!   fb_exchange_token`), and the Pages it manages are read from `GET /me/accounts` — each with a
//!   Page token that does not expire, because it comes from a long-lived user token. Facebook
//!   Login documents no PKCE for this flow: the app secret authenticates the code exchange, and
//!   the state binds the approval to the person who started it.
//! - **Connections**: one per Page the person granted and may create content on (the
//!   `CREATE_CONTENT` task), in Facebook's order (the first is primary when the person had no
//!   Facebook connection yet); account type `page`, the Page id as the account id, its name as
//!   the label; metadata `page_id`, `page_name`, `category`, and the person's `user_id` and
//!   `user_name`. The Page token is the connection's only credential (no refresh token: it does
//!   not expire; a revoked one asks for a new sign-in). The user token is not kept. A person
//!   keeps the Pages they want by disconnecting the others.
//! - **Publishing** ([`publish`]): text and a link with `POST /{page-id}/feed` (`message`,
//!   `link`: the text's first link); photos first uploaded unpublished (`POST
//!   /{page-id}/photos`, `url`, `published=false`) and attached to the feed post
//!   (`attached_media[i]={"media_fbid": …}`); a video with `POST /{page-id}/videos`
//!   (`file_url`, `description`). Media go by their public URL. Every call carries
//!   `appsecret_proof`.
//!
//! Tokens and the app secret are never logged; nothing here prints them in `Debug`.

pub(crate) mod login;
mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};
use crate::meta::valid_version;

/// Facebook's dialogs.
pub const AUTH_URL: &str = "https://www.facebook.com";
/// Facebook's Graph API.
pub const API_URL: &str = "https://graph.facebook.com";
/// The Graph API's host for video uploads (`POST /{page}/videos`), as Meta's Video API
/// documents it.
pub const VIDEO_URL: &str = "https://graph-video.facebook.com";

/// The permissions a Page connection asks for: list the Pages, read them, post as them
/// (`business_management` lists the Pages a business portfolio holds).
pub const SCOPES: &str =
    "pages_show_list,pages_read_engagement,pages_manage_posts,business_management";

/// A Facebook app (Meta app): its id and secret, and where its dialogs and Graph API are.
#[derive(Clone)]
pub struct FacebookApp {
    /// The app id (`client_id`).
    pub app_id: String,
    /// The app secret.
    pub app_secret: Secret,
    /// Base of the dialogs (`https://www.facebook.com`).
    pub auth_url: String,
    /// Base of the Graph API (`https://graph.facebook.com`).
    pub api_url: String,
    /// Base of the Graph API for video uploads (`https://graph-video.facebook.com`).
    pub video_url: String,
}

impl std::fmt::Debug for FacebookApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookApp")
            .field("app_id", &self.app_id)
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .field("video_url", &self.video_url)
            .finish_non_exhaustive()
    }
}

impl FacebookApp {
    /// The same app with its URLs checked and without trailing slashes.
    pub(crate) fn checked(self, what: &str) -> Result<Self, SetupError> {
        for url in [&self.auth_url, &self.api_url, &self.video_url] {
            url::Url::parse(url).map_err(|e| SetupError::Url(format!("{what} URL {url}: {e}")))?;
        }
        if self.app_id.is_empty() || self.app_secret.is_empty() {
            return Err(SetupError::Url(format!(
                "{what} needs an app id and secret"
            )));
        }
        Ok(FacebookApp {
            auth_url: self.auth_url.trim_end_matches('/').to_owned(),
            api_url: self.api_url.trim_end_matches('/').to_owned(),
            video_url: self.video_url.trim_end_matches('/').to_owned(),
            ..self
        })
    }
}

/// The Facebook Pages client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Facebook {
    app: FacebookApp,
    version: String,
    http: reqwest::Client,
}

impl Facebook {
    /// A client for `app` on Graph API `version` (`v25.0`); its URLs must parse.
    pub fn new(app: FacebookApp, version: &str) -> Result<Self, SetupError> {
        if !valid_version(version) {
            return Err(SetupError::Url(format!(
                "`{version}` is not a Graph API version (like v25.0)"
            )));
        }
        Ok(Self {
            app: app.checked("Facebook")?,
            version: version.to_owned(),
            http: crate::http::client(DEFAULT_TIMEOUT)?,
        })
    }
}

#[cfg(test)]
mod tests;
