//! Connecting YouTube: Google OAuth with offline access, the channel as the account.

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

use super::{GoogleError, SCOPES, Youtube};
use crate::http::{error_text, excerpt, retry_after};
use crate::oauth2::{TokenAnswer, read_token, transport};
use crate::pkce::s256_challenge;

/// `GET /youtube/v3/channels`.
#[derive(Debug, Deserialize)]
struct Channels {
    #[serde(default)]
    items: Vec<Channel>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
    #[serde(default)]
    snippet: Option<Snippet>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snippet {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    custom_url: Option<String>,
}

impl Youtube {
    /// A call to the token endpoint (form body, the app's credentials in it).
    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, OAuthError> {
        let mut body: Vec<(&str, &str)> = form.to_vec();
        body.push(("client_id", &self.config.client_id));
        body.push(("client_secret", self.config.client_secret.expose()));
        let response = self
            .http
            .post(format!("{}/token", self.config.token_url))
            .form(&body)
            .send()
            .await
            .map_err(transport)?;
        read_token("Google", response).await
    }

    /// The channels the token is for.
    async fn channels(&self, token: &Secret) -> Result<Vec<Channel>, OAuthError> {
        let response = self
            .http
            .get(self.api("/youtube/v3/channels"))
            .query(&[("part", "snippet"), ("mine", "true")])
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
                reason: format!("YouTube answered {status} to the channel's profile"),
            });
        }
        if !status.is_success() {
            let text = error_text(response).await;
            let error = GoogleError::parse(&text);
            return Err(match (status.as_u16(), error.reason()) {
                (401, _) => OAuthError::InvalidGrant {
                    reason: format!("Google refused the new token: {}", error.message()),
                },
                (_, Some("quotaExceeded" | "rateLimitExceeded")) => {
                    OAuthError::RateLimited { retry_after: None }
                }
                _ => OAuthError::Rejected {
                    code: format!("youtube_{}", status.as_u16()),
                    reason: format!(
                        "YouTube would not show the channel: {}",
                        excerpt(error.message(), 300)
                    ),
                },
            });
        }
        let channels: Channels = crate::http::json_body(response, "YouTube channels")
            .await
            .map_err(|reason| OAuthError::Transient { reason })?;
        Ok(channels.items)
    }
}

#[async_trait]
impl OAuthClient for Youtube {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let mut url = url::Url::parse(&format!("{}/o/oauth2/v2/auth", self.config.auth_url))
            .map_err(|e| OAuthError::Transient {
                reason: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPES)
            // A refresh token, and every time: consent is asked again, so a second connection
            // of the same channel gets one too.
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("include_granted_scopes", "true")
            .append_pair("state", request.state.expose())
            .append_pair("code_challenge", &s256_challenge(&request.pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url.as_str().replace('+', "%20"))
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
                ("code_verifier", exchange.pkce_verifier.expose()),
            ])
            .await?;
        if !answer.granted("https://www.googleapis.com/auth/youtube.upload")
            && !answer.granted("https://www.googleapis.com/auth/youtube")
        {
            return Err(OAuthError::Rejected {
                code: "youtube_scope".to_owned(),
                reason: "uploading videos was not allowed; connect again and allow it".to_owned(),
            });
        }
        let grant = answer.grant("Google")?;
        let channels = self.channels(&grant.access_token).await?;
        if channels.is_empty() {
            return Err(OAuthError::Rejected {
                code: "youtube_no_channel".to_owned(),
                reason: "this Google account has no YouTube channel; create one on YouTube, \
                         then connect again"
                    .to_owned(),
            });
        }
        let mut accounts = Vec::with_capacity(channels.len());
        for channel in channels {
            let Ok(id) = ProviderAccountId::new(&channel.id) else {
                continue;
            };
            let snippet = channel.snippet.unwrap_or(Snippet {
                title: None,
                custom_url: None,
            });
            let title = snippet
                .title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "YouTube channel".to_owned());
            accounts.push(AuthorizedAccount {
                profile: AccountProfile {
                    provider_account_id: id,
                    label: AccountLabel::new(&title).ok(),
                    account_type: AccountType::Personal,
                    metadata: json!({
                        "channel_id": channel.id,
                        "title": title,
                        "custom_url": snippet.custom_url,
                    }),
                },
                credentials: Credentials {
                    access_token: grant.access_token.clone(),
                    refresh_token: grant.refresh_token.clone(),
                    expires_at: grant.expires_at,
                    oauth1: None,
                },
            });
        }
        Ok(accounts)
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
        .grant("Google")
    }

    /// Revokes the grant (its refresh token when there is one: that ends the access tokens
    /// too).
    async fn revoke(
        &self,
        _connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        let token = credentials
            .refresh_token
            .as_ref()
            .unwrap_or(&credentials.access_token);
        let response = self
            .http
            .post(format!("{}/revoke", self.config.token_url))
            .form(&[("token", token.expose())])
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        // Already revoked or expired is revoked.
        if status.is_success() || status.as_u16() == 400 {
            return Ok(());
        }
        Err(OAuthError::Transient {
            reason: format!("Google answered {status} to the revocation"),
        })
    }
}
