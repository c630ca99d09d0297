//! Facebook Login, shared by Facebook Pages and by Instagram accounts reached through their
//! Page: the dialog's URL, then code → short-lived user token → long-lived user token → the
//! person and the Pages they granted, each with its Page token.

use multivio_domain::Secret;
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthError};
use serde::Deserialize;

use super::FacebookApp;
use crate::meta::{self, Api, ListPage};

/// Pages of `/me/accounts` read at most (100 Pages each).
const MAX_PAGE_LISTS: usize = 10;

/// The dialog a person approves at: `{auth}/{version}/dialog/oauth` with the app, the redirect
/// URI, the state and `scopes` (comma-separated).
pub(crate) fn authorization_url(
    app: &FacebookApp,
    version: &str,
    request: &AuthorizationRequest,
    scopes: &str,
) -> Result<String, OAuthError> {
    let mut url =
        url::Url::parse(&format!("{}/{version}/dialog/oauth", app.auth_url)).map_err(|e| {
            OAuthError::Transient {
                reason: e.to_string(),
            }
        })?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.app_id)
        .append_pair("redirect_uri", &request.redirect_uri)
        .append_pair("state", request.state.expose())
        .append_pair("response_type", "code")
        .append_pair("scope", scopes);
    Ok(url.to_string())
}

/// A token answer. Its `Debug` hides the token.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The person who approved.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Person {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// An Instagram professional account linked to a Page.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LinkedInstagram {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A Page the person granted, with its token. Its `Debug` hides the token.
#[derive(Clone, Deserialize)]
pub(crate) struct PageGrant {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
    #[serde(default)]
    pub instagram_business_account: Option<LinkedInstagram>,
}

impl std::fmt::Debug for PageGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageGrant")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("tasks", &self.tasks)
            .field(
                "instagram_business_account",
                &self.instagram_business_account,
            )
            .finish_non_exhaustive()
    }
}

impl PageGrant {
    /// Whether the person may publish as the Page (`CREATE_CONTENT`; an answer without tasks
    /// is taken as allowed, and a refusal comes when publishing).
    pub fn may_publish(&self) -> bool {
        self.tasks
            .as_ref()
            .is_none_or(|t| t.iter().any(|task| task == "CREATE_CONTENT"))
    }

    /// The Page token.
    pub fn token(&self) -> Option<Secret> {
        self.access_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(Secret::new)
    }
}

/// What an approval grants: the person, and their Pages in Facebook's order.
#[derive(Debug)]
pub(crate) struct Granted {
    pub person: Person,
    pub pages: Vec<PageGrant>,
}

/// One token call: `GET {api}/{version}/oauth/access_token?{query}`.
async fn token_call(
    http: &reqwest::Client,
    app: &FacebookApp,
    version: &str,
    query: &[(&str, &str)],
) -> Result<TokenAnswer, OAuthError> {
    let response = http
        .get(format!("{}/{version}/oauth/access_token", app.api_url))
        .query(query)
        .send()
        .await
        .map_err(|e| crate::http::oauth_transport_error(&meta::scrubbed(e)))?;
    let answer: TokenAnswer = meta::read(response)
        .await
        .map_err(|f| meta::oauth_failure("Facebook", f))?;
    if answer.access_token.is_empty() {
        return Err(OAuthError::Transient {
            reason: "Facebook answered an empty token".to_owned(),
        });
    }
    Ok(answer)
}

/// Exchanges the code and reads who approved and the Pages they granted (`page_fields` of each,
/// `id,name,access_token,…`).
pub(crate) async fn exchange(
    http: &reqwest::Client,
    app: &FacebookApp,
    version: &str,
    exchange: &CodeExchange,
    page_fields: &str,
) -> Result<Granted, OAuthError> {
    let short = token_call(
        http,
        app,
        version,
        &[
            ("client_id", app.app_id.as_str()),
            ("redirect_uri", exchange.redirect_uri.as_str()),
            ("client_secret", app.app_secret.expose()),
            ("code", exchange.code.expose()),
        ],
    )
    .await?;
    let long = token_call(
        http,
        app,
        version,
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", app.app_id.as_str()),
            ("client_secret", app.app_secret.expose()),
            ("fb_exchange_token", short.access_token.as_str()),
        ],
    )
    .await?;
    let user_token = Secret::new(long.access_token);
    let api = Api::new(
        http,
        &app.api_url,
        version,
        &user_token,
        Some(&app.app_secret),
    );
    let person: Person = api
        .get("/me", &[("fields", "id,name")])
        .await
        .map_err(|f| meta::oauth_failure("Facebook", f))?;
    if !meta::plain_id(&person.id) {
        return Err(OAuthError::Rejected {
            code: "bad_profile".to_owned(),
            reason: "Facebook answered an unusable account id".to_owned(),
        });
    }
    let mut pages: Vec<PageGrant> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGE_LISTS {
        let mut query = vec![("fields", page_fields), ("limit", "100")];
        if let Some(cursor) = &after {
            query.push(("after", cursor));
        }
        let list: ListPage<PageGrant> = api
            .get("/me/accounts", &query)
            .await
            .map_err(|f| meta::oauth_failure("Facebook", f))?;
        after = list.after();
        pages.extend(list.data);
        if after.is_none() {
            break;
        }
    }
    pages.retain(|p| meta::plain_id(&p.id));
    Ok(Granted { person, pages })
}
