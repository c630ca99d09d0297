//! Connecting Pinterest: OAuth with HTTP Basic client authentication, the account and its
//! boards.

use async_trait::async_trait;
use chrono::Utc;
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, MAX_BOARD_PAGES, MAX_BOARDS, Pinterest, SCOPES};
use crate::http::{error_text, excerpt, retry_after};
use crate::oauth2::{TokenAnswer, read_token, transport};

/// Boards asked for per page (Pinterest's maximum).
const PAGE: usize = 250;

/// `GET /v5/user_account`.
#[derive(Debug, Deserialize)]
struct UserAccount {
    #[serde(default)]
    id: Option<String>,
    username: String,
    #[serde(default)]
    account_type: Option<String>,
    #[serde(default)]
    business_name: Option<String>,
}

/// A page of `GET /v5/boards`.
#[derive(Debug, Deserialize)]
struct Boards {
    #[serde(default)]
    items: Vec<Board>,
    #[serde(default)]
    bookmark: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Board {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    privacy: Option<String>,
}

/// What a failed read during the sign-in means.
async fn read_failure(response: reqwest::Response, what: &str) -> OAuthError {
    let status = response.status();
    if status.as_u16() == 429 {
        return OAuthError::RateLimited {
            retry_after: retry_after(response.headers(), Utc::now()),
        };
    }
    if status.is_server_error() {
        return OAuthError::Transient {
            reason: format!("Pinterest answered {status} to {what}"),
        };
    }
    let text = error_text(response).await;
    let error = ApiError::parse(&text);
    if status.as_u16() == 401 {
        return OAuthError::InvalidGrant {
            reason: format!("Pinterest refused the new token: {}", error.message()),
        };
    }
    OAuthError::Rejected {
        code: format!("pinterest_{}", status.as_u16()),
        reason: format!(
            "Pinterest refused {what}: {}",
            excerpt(error.message(), 300)
        ),
    }
}

impl Pinterest {
    /// A call to the token endpoint: HTTP Basic with the app's id and secret, a form body.
    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, OAuthError> {
        let response = self
            .http
            .post(self.api("/v5/oauth/token"))
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(form)
            .send()
            .await
            .map_err(transport)?;
        read_token("Pinterest", response).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        token: &Secret,
        what: &str,
    ) -> Result<T, OAuthError> {
        let response = self
            .http
            .get(self.api(path))
            .query(query)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(read_failure(response, what).await);
        }
        crate::http::json_body(response, what)
            .await
            .map_err(|reason| OAuthError::Transient { reason })
    }

    /// The account's boards, in Pinterest's order (at most [`MAX_BOARDS`], read from at most
    /// [`MAX_BOARD_PAGES`] pages: pages that come back short, or empty with a new bookmark each
    /// time, end the listing rather than keep it going).
    async fn boards(&self, token: &Secret) -> Result<Vec<Value>, OAuthError> {
        let mut boards = Vec::new();
        let mut bookmark: Option<String> = None;
        let page_size = PAGE.to_string();
        for _ in 0..MAX_BOARD_PAGES {
            let mut query = vec![("page_size", page_size.as_str())];
            if let Some(b) = bookmark.as_deref() {
                query.push(("bookmark", b));
            }
            let page: Boards = self
                .get_json("/v5/boards", &query, token, "the account's boards")
                .await?;
            for board in page.items {
                if boards.len() >= MAX_BOARDS {
                    return Ok(boards);
                }
                boards.push(json!({
                    "id": board.id,
                    "name": board.name.unwrap_or_default(),
                    "privacy": board.privacy,
                }));
            }
            match page.bookmark.filter(|b| !b.is_empty()) {
                Some(next) if Some(&next) != bookmark.as_ref() => bookmark = Some(next),
                _ => return Ok(boards),
            }
        }
        tracing::warn!(
            boards = boards.len(),
            "Pinterest's board listing went on past {MAX_BOARD_PAGES} pages; kept those read"
        );
        Ok(boards)
    }
}

#[async_trait]
impl OAuthClient for Pinterest {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let mut url =
            url::Url::parse(&format!("{}/oauth/", self.config.auth_url)).map_err(|e| {
                OAuthError::Transient {
                    reason: e.to_string(),
                }
            })?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPES)
            .append_pair("state", request.state.expose());
        Ok(url.to_string())
    }

    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let answer = self
            .token_call(&[
                ("grant_type", "authorization_code"),
                ("code", exchange.code.expose()),
                ("redirect_uri", &exchange.redirect_uri),
            ])
            .await?;
        let grant = answer.grant("Pinterest")?;
        let account: UserAccount = self
            .get_json(
                "/v5/user_account",
                &[],
                &grant.access_token,
                "the account's profile",
            )
            .await?;
        let boards = self.boards(&grant.access_token).await?;
        let id = account
            .id
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| account.username.clone());
        let label = account
            .business_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| account.username.clone());
        Ok(vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(&id).map_err(|_| {
                    OAuthError::Rejected {
                        code: "bad_profile".to_owned(),
                        reason: "Pinterest answered an unusable account id".to_owned(),
                    }
                })?,
                label: AccountLabel::new(&label).ok(),
                account_type: if account.account_type.as_deref() == Some("BUSINESS") {
                    AccountType::Business
                } else {
                    AccountType::Personal
                },
                metadata: json!({
                    "username": account.username,
                    "account_type": account.account_type,
                    "boards": boards,
                }),
            },
            credentials: Credentials {
                access_token: grant.access_token,
                refresh_token: grant.refresh_token,
                expires_at: grant.expires_at,
                oauth1: None,
            },
        }])
    }

    async fn refresh(
        &self,
        _connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        self.token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ])
        .await?
        .grant("Pinterest")
    }

    /// Pinterest documents no revocation for an app; the person removes Multivio from its
    /// settings.
    async fn revoke(
        &self,
        _connection: &Connection,
        _credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        Err(OAuthError::NotSupported)
    }
}
