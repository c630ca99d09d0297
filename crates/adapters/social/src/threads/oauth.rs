//! Connecting a Threads account: code → short-lived token → long-lived token, refreshed with
//! itself.

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use serde::Deserialize;

use super::{SCOPES, Threads};
use crate::meta::{self, Api};

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

impl TokenAnswer {
    /// A long-lived token as the connection's credentials: it refreshes itself, so it is its own
    /// refresh token.
    fn grant(self) -> Result<TokenGrant, OAuthError> {
        if self.access_token.is_empty() {
            return Err(OAuthError::Transient {
                reason: "Threads answered an empty token".to_owned(),
            });
        }
        let token = Secret::new(self.access_token);
        Ok(TokenGrant {
            refresh_token: Some(token.clone()),
            access_token: token,
            expires_at: self
                .expires_in
                .map(|secs| Utc::now() + Duration::seconds(secs.clamp(0, 365 * 86_400))),
        })
    }
}

#[derive(Debug, Deserialize)]
struct Me {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl Threads {
    /// `GET {api}{path}?{query}` of the token endpoints (no version).
    async fn token_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<TokenAnswer, OAuthError> {
        let response = self
            .http
            .get(format!("{}{path}", self.config.api_url))
            .query(query)
            .send()
            .await
            .map_err(|e| crate::http::oauth_transport_error(&meta::scrubbed(e)))?;
        meta::read(response)
            .await
            .map_err(|f| meta::oauth_failure("Threads", f))
    }
}

#[async_trait]
impl OAuthClient for Threads {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let mut url = url::Url::parse(&format!("{}/oauth/authorize", self.config.auth_url))
            .map_err(|e| OAuthError::Transient {
                reason: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("response_type", "code")
            .append_pair("state", request.state.expose());
        Ok(url.to_string())
    }

    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let response = self
            .http
            .post(format!("{}/oauth/access_token", self.config.api_url))
            .form(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose()),
                ("code", exchange.code.expose()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", exchange.redirect_uri.as_str()),
            ])
            .send()
            .await
            .map_err(|e| crate::http::oauth_transport_error(&meta::scrubbed(e)))?;
        let short: TokenAnswer = meta::read(response)
            .await
            .map_err(|f| meta::oauth_failure("Threads", f))?;
        let grant = self
            .token_get(
                "/access_token",
                &[
                    ("grant_type", "th_exchange_token"),
                    ("client_secret", self.config.client_secret.expose()),
                    ("access_token", short.access_token.as_str()),
                ],
            )
            .await?
            .grant()?;
        let api = Api::new(
            &self.http,
            &self.config.api_url,
            self.version,
            &grant.access_token,
            None,
        );
        let me: Me = api
            .get("/me", &[("fields", "id,username,name")])
            .await
            .map_err(|f| meta::oauth_failure("Threads", f))?;
        let bad = || OAuthError::Rejected {
            code: "bad_profile".to_owned(),
            reason: "Threads answered an unusable account id".to_owned(),
        };
        if !meta::plain_id(&me.id) {
            return Err(bad());
        }
        let username = me.username.clone().unwrap_or_else(|| me.id.clone());
        Ok(vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(&me.id).map_err(|_| bad())?,
                label: AccountLabel::new(format!("@{username}")).ok(),
                account_type: AccountType::Personal,
                metadata: serde_json::json!({
                    "user_id": me.id,
                    "username": username,
                    "name": me.name,
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

    /// A long-lived token is refreshed with itself (`th_refresh_token`) for another 60 days.
    async fn refresh(
        &self,
        _connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        self.token_get(
            "/refresh_access_token",
            &[
                ("grant_type", "th_refresh_token"),
                ("access_token", refresh_token.expose()),
            ],
        )
        .await?
        .grant()
    }

    async fn revoke(
        &self,
        _connection: &Connection,
        _credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        Err(OAuthError::NotSupported)
    }
}
