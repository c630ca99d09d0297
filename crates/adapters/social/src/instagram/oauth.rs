//! Connecting Instagram accounts: Instagram Login, or Facebook Login and the Pages' linked
//! accounts.

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use serde::Deserialize;

use super::{FACEBOOK_SCOPES, INSTAGRAM_SCOPES, Instagram, InstagramApp, Login};
use crate::facebook::login;
use crate::meta::{self, Api};

/// The fields read of each granted Page.
const PAGE_FIELDS: &str = "id,name,access_token,tasks,instagram_business_account{id,username,name}";

/// The code exchange's answer: `{"data": [{…}]}` or, formerly, the fields at the top.
#[derive(Deserialize)]
#[serde(untagged)]
enum ShortAnswer {
    Wrapped { data: Vec<ShortToken> },
    Flat(ShortToken),
}

/// A short-lived token. Its `Debug` hides it.
#[derive(Deserialize)]
struct ShortToken {
    access_token: String,
}

/// A long-lived token. Its `Debug` hides it.
#[derive(Deserialize)]
struct LongToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl std::fmt::Debug for LongToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongToken")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl LongToken {
    /// The token as the connection's credentials: the long-lived token refreshes itself, so it
    /// is its own refresh token.
    fn grant(self) -> Result<TokenGrant, OAuthError> {
        if self.access_token.is_empty() {
            return Err(OAuthError::Transient {
                reason: "Instagram answered an empty token".to_owned(),
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

/// `GET /me` with Instagram Login.
#[derive(Debug, Deserialize)]
struct Me {
    user_id: serde_json::Value,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    account_type: Option<String>,
}

/// An id Meta sends as a number or a string.
fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bad_profile(what: &str) -> OAuthError {
    OAuthError::Rejected {
        code: "bad_profile".to_owned(),
        reason: format!("Instagram answered an unusable {what}"),
    }
}

impl Instagram {
    fn instagram_app(&self) -> Result<&InstagramApp, OAuthError> {
        self.instagram.as_ref().ok_or(OAuthError::NotSupported)
    }

    /// `GET {api}/{path}?{query}` of the token endpoints (no version).
    async fn token_get(
        &self,
        app: &InstagramApp,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<LongToken, OAuthError> {
        let response = self
            .http
            .get(format!("{}{path}", app.api_url))
            .query(query)
            .send()
            .await
            .map_err(|e| crate::http::oauth_transport_error(&meta::scrubbed(e)))?;
        meta::read(response)
            .await
            .map_err(|f| meta::oauth_failure("Instagram", f))
    }

    async fn exchange_instagram(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let app = self.instagram_app()?;
        let response = self
            .http
            .post(format!("{}/oauth/access_token", app.token_url))
            .form(&[
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.expose()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", exchange.redirect_uri.as_str()),
                ("code", exchange.code.expose()),
            ])
            .send()
            .await
            .map_err(|e| crate::http::oauth_transport_error(&meta::scrubbed(e)))?;
        let short = match meta::read::<ShortAnswer>(response)
            .await
            .map_err(|f| meta::oauth_failure("Instagram", f))?
        {
            ShortAnswer::Flat(token) => token,
            ShortAnswer::Wrapped { data } => data
                .into_iter()
                .next()
                .ok_or_else(|| bad_profile("token answer"))?,
        };
        let grant = self
            .token_get(
                app,
                "/access_token",
                &[
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", app.client_secret.expose()),
                    ("access_token", short.access_token.as_str()),
                ],
            )
            .await?
            .grant()?;
        let api = Api::new(
            &self.http,
            &app.api_url,
            &self.version,
            &grant.access_token,
            None,
        );
        let me: Me = api
            .get("/me", &[("fields", "user_id,username,name,account_type")])
            .await
            .map_err(|f| meta::oauth_failure("Instagram", f))?;
        let id = id_text(&me.user_id)
            .filter(|id| meta::plain_id(id))
            .ok_or_else(|| bad_profile("account id"))?;
        let username = me.username.clone().unwrap_or_else(|| id.clone());
        Ok(vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(&id)
                    .map_err(|_| bad_profile("account id"))?,
                label: AccountLabel::new(format!("@{username}")).ok(),
                account_type: AccountType::Business,
                metadata: serde_json::json!({
                    "ig_user_id": id,
                    "username": username,
                    "name": me.name,
                    "account_type": me.account_type,
                    "login": Login::Instagram.as_str(),
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

    async fn exchange_facebook(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let app = self.facebook.as_ref().ok_or(OAuthError::NotSupported)?;
        let granted =
            login::exchange(&self.http, app, &self.version, exchange, PAGE_FIELDS).await?;
        let mut accounts = Vec::new();
        for page in &granted.pages {
            let Some(linked) = &page.instagram_business_account else {
                continue;
            };
            let (Some(token), true) = (page.token(), meta::plain_id(&linked.id)) else {
                continue;
            };
            let Ok(id) = ProviderAccountId::new(&linked.id) else {
                continue;
            };
            let username = linked.username.clone().unwrap_or_else(|| linked.id.clone());
            accounts.push(AuthorizedAccount {
                profile: AccountProfile {
                    provider_account_id: id,
                    label: AccountLabel::new(format!("@{username}")).ok(),
                    account_type: AccountType::Business,
                    metadata: serde_json::json!({
                        "ig_user_id": linked.id,
                        "username": username,
                        "name": linked.name,
                        "login": Login::Facebook.as_str(),
                        "page_id": page.id,
                        "page_name": page.name,
                    }),
                },
                credentials: Credentials {
                    access_token: token,
                    refresh_token: None,
                    expires_at: None,
                    oauth1: None,
                },
            });
        }
        if accounts.is_empty() {
            return Err(OAuthError::Rejected {
                code: "no_instagram_account".to_owned(),
                reason: "none of the Facebook Pages you granted has an Instagram professional \
                         account linked: link one in the Page's settings, then connect again"
                    .to_owned(),
            });
        }
        Ok(accounts)
    }
}

#[async_trait]
impl OAuthClient for Instagram {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        match (&self.instagram, &self.facebook) {
            (Some(app), _) => {
                let mut url = url::Url::parse(&format!("{}/oauth/authorize", app.auth_url))
                    .map_err(|e| OAuthError::Transient {
                        reason: e.to_string(),
                    })?;
                url.query_pairs_mut()
                    .append_pair("client_id", &app.client_id)
                    .append_pair("redirect_uri", &request.redirect_uri)
                    .append_pair("response_type", "code")
                    .append_pair("scope", INSTAGRAM_SCOPES)
                    .append_pair("state", request.state.expose());
                Ok(url.to_string())
            }
            (None, Some(app)) => {
                login::authorization_url(app, &self.version, request, FACEBOOK_SCOPES)
            }
            (None, None) => Err(OAuthError::NotSupported),
        }
    }

    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        match self.login() {
            Login::Instagram => self.exchange_instagram(exchange).await,
            Login::Facebook => self.exchange_facebook(exchange).await,
        }
    }

    /// An Instagram Login token is refreshed with itself (`ig_refresh_token`), for another 60
    /// days; a Page token (connections through Facebook) does not expire.
    async fn refresh(
        &self,
        connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        if connection.metadata_str("login") != Some(Login::Instagram.as_str()) {
            return Err(OAuthError::NotSupported);
        }
        let app = self.instagram_app()?;
        self.token_get(
            app,
            "/refresh_access_token",
            &[
                ("grant_type", "ig_refresh_token"),
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
