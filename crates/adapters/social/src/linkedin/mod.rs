//! LinkedIn: OpenID Connect sign-in for the member, the organizations (Pages) the member
//! administers as connections of their own, and posts through the versioned Posts API.
//!
//! - **Connecting** ([`oauth`]): the member approves at `{auth}/oauth/v2/authorization`
//!   (scopes [`MEMBER_SCOPES`], and [`ORGANIZATION_SCOPES`] when organizations are on); the
//!   code is exchanged at `POST {auth}/oauth/v2/accessToken` (form body with the client id and
//!   secret: LinkedIn documents no PKCE for web apps); the member is `GET {api}/v2/userinfo`
//!   (`sub` → `urn:li:person:{sub}`, `name`). With the organization scopes granted, `GET
//!   {api}/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED` lists the
//!   organizations the member administers, each named by `GET {api}/rest/organizations/{id}`.
//!   One connection for the member (account type `personal`), one per organization (`page`),
//!   all holding the member's token (60 days); the account id is the URN; metadata `urn`,
//!   `kind` (`person` or `organization`), `name`, and for an organization `vanity_name` and the
//!   `member_urn` whose token it holds. Refresh tokens, which LinkedIn issues to some apps
//!   only, are used when there is one (`grant_type=refresh_token`). The token is not revoked
//!   on disconnecting: the member's and the organizations' connections share it.
//! - **Publishing** ([`publish`]): images through the Images API (`POST
//!   {api}/rest/images?action=initializeUpload` → `PUT` the bytes to the `uploadUrl` → the
//!   `urn:li:image:…` in the post), then `POST {api}/rest/posts` with `author`, the
//!   `commentary` escaped as LinkedIn's "little" text format requires ([`little::escape`]),
//!   `visibility`, `distribution` and `lifecycleState`; the post's URN comes back in the
//!   `x-restli-id` header. Every `/rest` call carries `LinkedIn-Version` ([`VERSION`] unless
//!   configured) and `X-Restli-Protocol-Version: 2.0.0`.
//!
//! Tokens and the client secret are never logged; nothing here prints them in `Debug`.

pub mod little;
mod oauth;
mod publish;

use multivio_domain::Secret;

use crate::http::{DEFAULT_TIMEOUT, SetupError};

/// LinkedIn's authorisation pages and token endpoint.
pub const AUTH_URL: &str = "https://www.linkedin.com";
/// LinkedIn's API.
pub const API_URL: &str = "https://api.linkedin.com";
/// The `LinkedIn-Version` Multivio is written against (`YYYYMM`); LinkedIn serves each version
/// for about a year.
pub const VERSION: &str = "202605";
/// `X-Restli-Protocol-Version` of every `/rest` call.
pub const RESTLI_PROTOCOL: &str = "2.0.0";

/// The scopes for the member: OpenID Connect sign-in and posting as the member.
pub const MEMBER_SCOPES: &str = "openid profile email w_member_social";
/// The scopes for the organizations the member administers (LinkedIn's Community Management
/// API): listing them and posting as them.
pub const ORGANIZATION_SCOPES: &str = "r_organization_admin w_organization_social";

/// Whether `version` is a `LinkedIn-Version`: `YYYYMM`, a month from 2023 on.
pub fn valid_version(version: &str) -> bool {
    version.len() == 6
        && version.bytes().all(|b| b.is_ascii_digit())
        && version[..4].parse::<u32>().is_ok_and(|y| y >= 2023)
        && version[4..]
            .parse::<u32>()
            .is_ok_and(|m| (1..=12).contains(&m))
}

/// LinkedIn's app credentials and endpoints.
#[derive(Clone)]
pub struct LinkedinConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Secret,
    /// Base of the authorisation page and token endpoint (`https://www.linkedin.com`).
    pub auth_url: String,
    /// Base of the API (`https://api.linkedin.com`).
    pub api_url: String,
    /// The `LinkedIn-Version` header (`YYYYMM`).
    pub version: String,
    /// Whether to ask for the organization scopes and connect the organizations the member
    /// administers (the app needs LinkedIn's Community Management API for them).
    pub organizations: bool,
}

impl std::fmt::Debug for LinkedinConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedinConfig")
            .field("client_id", &self.client_id)
            .field("auth_url", &self.auth_url)
            .field("api_url", &self.api_url)
            .field("version", &self.version)
            .field("organizations", &self.organizations)
            .finish_non_exhaustive()
    }
}

/// The LinkedIn client: [`OAuthClient`](multivio_ports::platform::OAuthClient) and
/// [`Publisher`](multivio_ports::platform::Publisher).
#[derive(Debug, Clone)]
pub struct Linkedin {
    config: LinkedinConfig,
    http: reqwest::Client,
}

impl Linkedin {
    /// A client for `config`; its URLs must parse and its version be `YYYYMM`.
    pub fn new(config: LinkedinConfig) -> Result<Self, SetupError> {
        for url in [&config.auth_url, &config.api_url] {
            url::Url::parse(url)
                .map_err(|e| SetupError::Url(format!("LinkedIn URL {url}: {e}")))?;
        }
        if config.client_id.is_empty() || config.client_secret.is_empty() {
            return Err(SetupError::Url(
                "LinkedIn needs a client id and secret".to_owned(),
            ));
        }
        if !valid_version(&config.version) {
            return Err(SetupError::Url(format!(
                "`{}` is not a LinkedIn-Version (YYYYMM, like {VERSION})",
                config.version
            )));
        }
        Ok(Self {
            config: LinkedinConfig {
                auth_url: config.auth_url.trim_end_matches('/').to_owned(),
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                ..config
            },
            http: crate::http::client(DEFAULT_TIMEOUT)?,
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url)
    }

    /// A call to the versioned API (`/rest/…`): the bearer token and LinkedIn's two headers.
    fn rest(&self, method: reqwest::Method, path: &str, token: &Secret) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.api(path))
            .bearer_auth(token.expose())
            .header("LinkedIn-Version", &self.config.version)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL)
    }
}

/// LinkedIn's error answers: `{"status", "serviceErrorCode", "code", "message"}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiError {
    #[serde(default)]
    service_error_code: Option<i64>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ApiError {
    fn parse(text: &str) -> ApiError {
        serde_json::from_str(text).unwrap_or_default()
    }

    fn message(&self) -> &str {
        self.message
            .as_deref()
            .or(self.code.as_deref())
            .unwrap_or("no reason given")
    }
}

#[cfg(test)]
mod tests;
