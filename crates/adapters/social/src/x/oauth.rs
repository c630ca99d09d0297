//! X's authorisations: OAuth 2.0 with PKCE as a confidential client, and the OAuth 1.0a
//! three-legged flow that adds media-upload tokens to a connection.

use async_trait::async_trait;
use chrono::{Duration, Utc};
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    OAuth1Credentials, ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{
    AuthorizationRequest, CodeExchange, OAuth1Client, OAuth1Start, OAuthClient, OAuthError,
};
use serde::Deserialize;

use super::{SCOPES, X};
use crate::http::{
    MAX_JSON_BYTES, error_text, excerpt, oauth_transport_error, read_capped, retry_after,
};
use crate::oauth1::{Nonce, Signer};
use crate::pkce::s256_challenge;

/// `POST /2/oauth2/token`'s answer. Its `Debug` hides the tokens.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Debug, Deserialize)]
struct Me {
    data: MeData,
}

#[derive(Debug, Deserialize)]
struct MeData {
    id: String,
    username: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    verified: Option<bool>,
    #[serde(default)]
    verified_type: Option<String>,
}

/// What a failed token call means. X answers `invalid_request` where RFC 6749 says
/// `invalid_grant` (an expired, used or wrong code or refresh token): both need a new sign-in.
async fn token_failure(response: reqwest::Response) -> OAuthError {
    let status = response.status();
    if status.as_u16() == 429 {
        return OAuthError::RateLimited {
            retry_after: retry_after(response.headers(), Utc::now()),
        };
    }
    if status.is_server_error() {
        return OAuthError::Transient {
            reason: format!("X answered {status}"),
        };
    }
    let text = error_text(response).await;
    let parsed: Option<TokenError> = serde_json::from_str(&text).ok();
    match parsed {
        Some(e) if e.error == "invalid_grant" || e.error == "invalid_request" => {
            OAuthError::InvalidGrant {
                reason: if e.error_description.is_empty() {
                    e.error
                } else {
                    e.error_description
                },
            }
        }
        Some(e) if !e.error.is_empty() => OAuthError::Rejected {
            code: e.error,
            reason: excerpt(&e.error_description, 300),
        },
        _ => OAuthError::Rejected {
            code: format!("http_{}", status.as_u16()),
            reason: format!("X refused the authorisation: {}", excerpt(&text, 300)),
        },
    }
}

impl X {
    /// A token call: form-encoded, HTTP Basic with the client id and secret.
    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, OAuthError> {
        let response = self
            .http
            .post(self.api("/2/oauth2/token"))
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(form)
            .send()
            .await
            .map_err(|e| oauth_transport_error(&e))?;
        if !response.status().is_success() {
            return Err(token_failure(response).await);
        }
        crate::http::json_body(response, "X token")
            .await
            .map_err(|reason| OAuthError::Transient { reason })
    }

    fn grant(answer: TokenAnswer) -> TokenGrant {
        TokenGrant {
            access_token: Secret::new(answer.access_token),
            refresh_token: answer.refresh_token.map(Secret::new),
            expires_at: answer
                .expires_in
                .map(|secs| Utc::now() + Duration::seconds(secs.clamp(0, 365 * 86400))),
        }
    }

    /// The account an access token is for.
    async fn me(&self, access_token: &Secret) -> Result<MeData, OAuthError> {
        let response = self
            .http
            .get(self.api("/2/users/me"))
            .query(&[("user.fields", "verified,verified_type")])
            .bearer_auth(access_token.expose())
            .send()
            .await
            .map_err(|e| oauth_transport_error(&e))?;
        let status = response.status();
        if status.as_u16() == 401 {
            return Err(OAuthError::InvalidGrant {
                reason: "X refused the new token".to_owned(),
            });
        }
        if !status.is_success() {
            return Err(token_failure(response).await);
        }
        crate::http::json_body::<Me>(response, "X users/me")
            .await
            .map(|me| me.data)
            .map_err(|reason| OAuthError::Transient { reason })
    }

    fn signer<'a>(
        &'a self,
        token: Option<&'a str>,
        token_secret: &'a str,
    ) -> Result<Signer<'a>, OAuthError> {
        let (key, secret) = self
            .config
            .consumer
            .as_ref()
            .ok_or(OAuthError::NotSupported)?;
        Ok(Signer {
            consumer_key: key,
            consumer_secret: secret.expose(),
            token,
            token_secret,
        })
    }
}

/// The system's random number generator failed: no nonce could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's random number generator failed; no OAuth 1.0a nonce could be made")]
pub(super) struct NoRandomness;

/// A fresh OAuth 1.0a nonce: 128 random bits, hex. A failed generator is an error, never a
/// predictable (all-zero) nonce.
pub(super) fn nonce() -> Result<String, NoRandomness> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| NoRandomness)?;
    Ok(hex::encode(bytes))
}

pub(super) fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

#[async_trait]
impl OAuthClient for X {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let mut url = url::Url::parse(&format!("{}/i/oauth2/authorize", self.config.auth_url))
            .map_err(|e| OAuthError::Transient {
                reason: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", request.state.expose())
            .append_pair("code_challenge", &s256_challenge(&request.pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        // X wants scopes separated by %20, not the form encoding's `+`.
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
        let grant = Self::grant(answer);
        let me = self.me(&grant.access_token).await?;
        let reject = |what: &str| OAuthError::Rejected {
            code: "bad_profile".to_owned(),
            reason: format!("X answered an unusable {what}"),
        };
        let verified = me.verified == Some(true)
            || me
                .verified_type
                .as_deref()
                .is_some_and(|t| matches!(t, "blue" | "business" | "government"));
        Ok(vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(&me.id).map_err(|_| reject("id"))?,
                label: AccountLabel::new(format!("@{}", me.username)).ok(),
                account_type: AccountType::Personal,
                metadata: serde_json::json!({
                    "user_id": me.id,
                    "username": me.username,
                    "name": me.name,
                    "verified": verified,
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
        // X's refresh tokens rotate: the answer carries the next one.
        let answer = self
            .token_call(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ])
            .await?;
        Ok(Self::grant(answer))
    }

    async fn revoke(
        &self,
        _connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        let mut tokens = vec![(credentials.access_token.expose(), "access_token")];
        if let Some(refresh) = &credentials.refresh_token {
            tokens.push((refresh.expose(), "refresh_token"));
        }
        for (token, hint) in tokens {
            let response = self
                .http
                .post(self.api("/2/oauth2/revoke"))
                .basic_auth(
                    &self.config.client_id,
                    Some(self.config.client_secret.expose()),
                )
                .form(&[("token", token), ("token_type_hint", hint)])
                .send()
                .await
                .map_err(|e| oauth_transport_error(&e))?;
            if !response.status().is_success() {
                return Err(token_failure(response).await);
            }
        }
        Ok(())
    }
}

/// Reads a form-encoded OAuth 1.0a answer (at most [`MAX_JSON_BYTES`]).
async fn read_form(response: reqwest::Response) -> Result<String, OAuthError> {
    let bytes = read_capped(response, MAX_JSON_BYTES)
        .await
        .map_err(|e| OAuthError::Transient {
            reason: format!("X OAuth 1.0a: {e}"),
        })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses X's form-encoded OAuth 1.0a answers (sent as `text/html`, whatever they claim).
fn form_answer(text: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

async fn oauth1_failure(response: reqwest::Response) -> OAuthError {
    let status = response.status();
    if status.as_u16() == 429 {
        return OAuthError::RateLimited {
            retry_after: retry_after(response.headers(), Utc::now()),
        };
    }
    if status.is_server_error() {
        return OAuthError::Transient {
            reason: format!("X answered {status}"),
        };
    }
    let text = error_text(response).await;
    OAuthError::InvalidGrant {
        reason: format!("X refused the OAuth 1.0a request: {}", excerpt(&text, 200)),
    }
}

#[async_trait]
impl OAuth1Client for X {
    async fn request_token(&self, callback: &str) -> Result<OAuth1Start, OAuthError> {
        let url = url::Url::parse(&self.api("/oauth/request_token")).map_err(|e| {
            OAuthError::Transient {
                reason: e.to_string(),
            }
        })?;
        let signer = self.signer(None, "")?;
        let nonce = nonce().map_err(|e| OAuthError::Transient {
            reason: e.to_string(),
        })?;
        let header = signer.authorization(
            "POST",
            &url,
            &[("oauth_callback", callback)],
            &[],
            &Nonce {
                nonce: &nonce,
                timestamp: unix_now(),
                with_version: true,
            },
        );
        let response = self
            .http
            .post(url.as_str())
            .header("authorization", header)
            .send()
            .await
            .map_err(|e| oauth_transport_error(&e))?;
        if !response.status().is_success() {
            return Err(oauth1_failure(response).await);
        }
        let answer = form_answer(&read_form(response).await?);
        let (Some(token), Some(secret)) =
            (answer.get("oauth_token"), answer.get("oauth_token_secret"))
        else {
            return Err(OAuthError::Transient {
                reason: "X's request token answer lacks the token".to_owned(),
            });
        };
        if answer.get("oauth_callback_confirmed").map(String::as_str) != Some("true") {
            return Err(OAuthError::Rejected {
                code: "callback_not_confirmed".to_owned(),
                reason: "X did not confirm the callback URL".to_owned(),
            });
        }
        let mut authorize =
            url::Url::parse(&self.api("/oauth/authorize")).map_err(|e| OAuthError::Transient {
                reason: e.to_string(),
            })?;
        authorize
            .query_pairs_mut()
            .append_pair("oauth_token", token);
        Ok(OAuth1Start {
            token: token.clone(),
            secret: Secret::new(secret.clone()),
            authorization_url: authorize.to_string(),
        })
    }

    async fn access_token(
        &self,
        token: &str,
        secret: &Secret,
        verifier: &Secret,
    ) -> Result<OAuth1Credentials, OAuthError> {
        let url = url::Url::parse(&self.api("/oauth/access_token")).map_err(|e| {
            OAuthError::Transient {
                reason: e.to_string(),
            }
        })?;
        let signer = self.signer(Some(token), secret.expose())?;
        let nonce = nonce().map_err(|e| OAuthError::Transient {
            reason: e.to_string(),
        })?;
        let header = signer.authorization(
            "POST",
            &url,
            &[("oauth_verifier", verifier.expose())],
            &[],
            &Nonce {
                nonce: &nonce,
                timestamp: unix_now(),
                with_version: true,
            },
        );
        let response = self
            .http
            .post(url.as_str())
            .header("authorization", header)
            .send()
            .await
            .map_err(|e| oauth_transport_error(&e))?;
        if !response.status().is_success() {
            return Err(oauth1_failure(response).await);
        }
        let answer = form_answer(&read_form(response).await?);
        let (Some(token), Some(token_secret)) =
            (answer.get("oauth_token"), answer.get("oauth_token_secret"))
        else {
            return Err(OAuthError::Transient {
                reason: "X's access token answer lacks the token".to_owned(),
            });
        };
        Ok(OAuth1Credentials {
            token: Secret::new(token.clone()),
            token_secret: Secret::new(token_secret.clone()),
            user_id: answer.get("user_id").cloned(),
            screen_name: answer.get("screen_name").cloned(),
            created_at: Some(Utc::now()),
        })
    }
}

#[cfg(test)]
mod tests;
