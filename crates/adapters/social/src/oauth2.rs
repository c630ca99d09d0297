//! What the platforms with a plain OAuth 2.0 token endpoint share (LinkedIn, Google for
//! YouTube, Pinterest, TikTok): reading a token answer into a grant, and a refused token call
//! into the error the core acts on.
//!
//! Token answers are read with the size cap of [`crate::http::json_body`]; their `Debug`
//! hides the tokens; a refusal's reason carries the platform's words, never a URL or a token.

use chrono::{Duration, Utc};
use multivio_domain::Secret;
use multivio_domain::connection::TokenGrant;
use multivio_ports::platform::OAuthError;
use serde::Deserialize;

use crate::http::{MAX_JSON_BYTES, excerpt, read_capped, retry_after};

/// Longest token life believed: a platform's "expires in ten years" is read as a year, so
/// the token is still checked (and refreshed) now and then.
const MAX_TOKEN_LIFE: i64 = 365 * 86_400;

/// A token endpoint's answer. Its `Debug` hides the tokens.
#[derive(Deserialize)]
pub struct TokenAnswer {
    /// The access token.
    #[serde(default)]
    pub access_token: String,
    /// The refresh token, when the platform issues one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// The scopes granted (space- or comma-separated, as the platform writes them).
    #[serde(default)]
    pub scope: Option<String>,
    /// TikTok: the account the token is for.
    #[serde(default)]
    pub open_id: Option<String>,
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
            .field("scope", &self.scope)
            .field("open_id", &self.open_id)
            .finish()
    }
}

impl TokenAnswer {
    /// Whether `scope` was granted (the list split on spaces and commas).
    pub fn granted(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split([' ', ',']).any(|g| g == scope))
    }

    /// The tokens as a grant; an empty access token is an unusable answer.
    pub fn grant(&self, name: &str) -> Result<TokenGrant, OAuthError> {
        if self.access_token.is_empty() {
            return Err(OAuthError::Transient {
                reason: format!("{name} answered no access token"),
            });
        }
        Ok(TokenGrant {
            access_token: Secret::new(self.access_token.clone()),
            refresh_token: self
                .refresh_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            expires_at: self
                .expires_in
                .map(|secs| Utc::now() + Duration::seconds(secs.clamp(0, MAX_TOKEN_LIFE))),
        })
    }
}

/// An OAuth error answer (RFC 6749 §5.2), and the other shapes platforms use.
#[derive(Debug, Default, Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
    /// Pinterest's and others' `{"code", "message"}`.
    #[serde(default)]
    message: Option<String>,
}

impl ErrorAnswer {
    /// The `error` code when it is a string (Google, LinkedIn, TikTok).
    fn code(&self) -> Option<&str> {
        self.error
            .as_ref()
            .and_then(|e| e.as_str())
            .filter(|e| !e.is_empty())
    }

    fn reason(&self) -> String {
        self.error_description
            .clone()
            .or_else(|| self.message.clone())
            .or_else(|| self.code().map(str::to_owned))
            .unwrap_or_else(|| "no reason given".to_owned())
    }
}

/// What a refused token call means: rate limits wait, server errors are transient, a dead
/// code or refresh token (`invalid_grant`, or `invalid_request` as LinkedIn and X answer it,
/// or a bare 400/401) needs a new sign-in, a refused app (`invalid_client`…) is a rejection.
fn failure(name: &str, status: reqwest::StatusCode, text: &str) -> OAuthError {
    if status.is_server_error() {
        return OAuthError::Transient {
            reason: format!("{name} answered {status} to a token call"),
        };
    }
    let parsed: ErrorAnswer = serde_json::from_str(text).unwrap_or_default();
    let reason = excerpt(&parsed.reason(), 300);
    match parsed.code() {
        Some("invalid_grant" | "invalid_request") => OAuthError::InvalidGrant { reason },
        Some(code) => OAuthError::Rejected {
            code: code.to_owned(),
            reason: format!("{name} refused the authorisation: {reason}"),
        },
        None if matches!(status.as_u16(), 400 | 401) => OAuthError::InvalidGrant { reason },
        None => OAuthError::Rejected {
            code: format!("http_{}", status.as_u16()),
            reason: format!("{name} refused the authorisation: {reason}"),
        },
    }
}

/// Reads a token endpoint's answer: the tokens, or what the refusal means. Some platforms
/// (TikTok) answer a refusal with 200 and an `error`: that is a refusal too.
pub async fn read_token(
    name: &str,
    response: reqwest::Response,
) -> Result<TokenAnswer, OAuthError> {
    let status = response.status();
    if status.as_u16() == 429 {
        return Err(OAuthError::RateLimited {
            retry_after: retry_after(response.headers(), Utc::now()),
        });
    }
    let bytes = read_capped(response, MAX_JSON_BYTES)
        .await
        .map_err(|e| OAuthError::Transient {
            reason: format!("{name} token: {e}"),
        })?;
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        return Err(failure(name, status, &text));
    }
    let refused: ErrorAnswer = serde_json::from_str(&text).unwrap_or_default();
    if refused.code().is_some() {
        return Err(failure(name, reqwest::StatusCode::BAD_REQUEST, &text));
    }
    serde_json::from_str(&text).map_err(|e| OAuthError::Transient {
        reason: format!("{name} token: unexpected answer: {e}"),
    })
}

/// A transport failure of a call made during authorisation, without its URL.
pub fn transport(e: reqwest::Error) -> OAuthError {
    crate::http::oauth_transport_error(&e.without_url())
}

#[cfg(test)]
mod tests;
