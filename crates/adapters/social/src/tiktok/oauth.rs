//! Connecting TikTok: OAuth v2 with the client key, the account by its `open_id`.

use async_trait::async_trait;
use chrono::Utc;
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use serde::Deserialize;
use serde_json::json;

use super::{Envelope, SCOPES, Tiktok};
use crate::http::{error_text, excerpt, retry_after};
use crate::oauth2::{TokenAnswer, read_token, transport};

#[derive(Debug, Deserialize)]
struct UserData {
    user: User,
}

#[derive(Debug, Deserialize)]
struct User {
    #[serde(default)]
    display_name: Option<String>,
}

impl Tiktok {
    /// A call to the token endpoint (form body, the app's key and secret in it).
    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, OAuthError> {
        let mut body: Vec<(&str, &str)> = form.to_vec();
        body.push(("client_key", &self.config.client_key));
        body.push(("client_secret", self.config.client_secret.expose()));
        let response = self
            .http
            .post(self.api("/v2/oauth/token/"))
            .form(&body)
            .send()
            .await
            .map_err(transport)?;
        read_token("TikTok", response).await
    }

    /// The account's display name.
    async fn display_name(&self, token: &Secret) -> Result<Option<String>, OAuthError> {
        let response = self
            .http
            .get(self.api("/v2/user/info/"))
            .query(&[("fields", "open_id,union_id,avatar_url,display_name")])
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.as_u16() == 429 {
            return Err(OAuthError::RateLimited {
                retry_after: retry_after(response.headers(), Utc::now()),
            });
        }
        if status.is_server_error() {
            return Err(OAuthError::Transient {
                reason: format!("TikTok answered {status} to the account's profile"),
            });
        }
        if !status.is_success() {
            let text = error_text(response).await;
            let envelope: Envelope<serde_json::Value> =
                serde_json::from_str(&text).unwrap_or_default();
            let message = envelope
                .error
                .map(|e| e.message)
                .unwrap_or_else(|| excerpt(&text, 200));
            return Err(if status.as_u16() == 401 {
                OAuthError::InvalidGrant {
                    reason: format!("TikTok refused the new token: {message}"),
                }
            } else {
                OAuthError::Rejected {
                    code: format!("tiktok_{}", status.as_u16()),
                    reason: format!("TikTok would not show the account: {message}"),
                }
            });
        }
        let envelope: Envelope<UserData> = crate::http::json_body(response, "TikTok user info")
            .await
            .map_err(|reason| OAuthError::Transient { reason })?;
        Ok(envelope.data.and_then(|d| d.user.display_name))
    }
}

#[async_trait]
impl OAuthClient for Tiktok {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let mut url = url::Url::parse(&format!("{}/v2/auth/authorize/", self.config.auth_url))
            .map_err(|e| OAuthError::Transient {
                reason: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("client_key", &self.config.client_key)
            .append_pair("scope", SCOPES)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("state", request.state.expose());
        Ok(url.to_string())
    }

    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let answer = self
            .token_call(&[
                ("code", exchange.code.expose()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", &exchange.redirect_uri),
            ])
            .await?;
        if !answer.granted("video.publish") {
            return Err(OAuthError::Rejected {
                code: "tiktok_scope".to_owned(),
                reason: "posting videos was not allowed; connect again and allow it".to_owned(),
            });
        }
        let open_id = answer
            .open_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| OAuthError::Transient {
                reason: "TikTok's token answer names no account (open_id)".to_owned(),
            })?;
        let grant = answer.grant("TikTok")?;
        let display_name = self.display_name(&grant.access_token).await?;
        // The username, for links to posts; a creator TikTok will not describe yet still
        // connects.
        let username = match self.creator(&grant.access_token).await {
            Ok(creator) => creator.creator_username,
            Err(e) => {
                tracing::warn!(error = %e, "TikTok's creator info was not available at sign-in");
                None
            }
        };
        let label = display_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| username.as_ref().map(|u| format!("@{u}")))
            .unwrap_or_else(|| "TikTok account".to_owned());
        Ok(vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(&open_id).map_err(|_| {
                    OAuthError::Rejected {
                        code: "bad_profile".to_owned(),
                        reason: "TikTok answered an unusable account id".to_owned(),
                    }
                })?,
                label: AccountLabel::new(&label).ok(),
                account_type: AccountType::Personal,
                metadata: json!({
                    "open_id": open_id,
                    "display_name": display_name,
                    "username": username,
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
        .grant("TikTok")
    }

    async fn revoke(
        &self,
        _connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        let response = self
            .http
            .post(self.api("/v2/oauth/revoke/"))
            .form(&[
                ("client_key", self.config.client_key.as_str()),
                ("client_secret", self.config.client_secret.expose()),
                ("token", credentials.access_token.expose()),
            ])
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(OAuthError::Transient {
            reason: format!("TikTok answered {status} to the revocation"),
        })
    }
}
