//! Sessions: sign-in with an app password (`createSession`), refresh (`refreshSession`, both
//! tokens rotate) and sign-out (`deleteSession`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{LoginRequest, OAuthError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Bluesky, XrpcError, xrpc};
use crate::http;

/// How long an access token lives when its own expiry cannot be read: Bluesky's two hours, less
/// a margin.
const FALLBACK_ACCESS_LIFETIME: Duration = Duration::minutes(110);
/// Subtracted from a token's own expiry, for clock differences.
const CLOCK_MARGIN: Duration = Duration::seconds(60);

/// What `createSession` and `refreshSession` answer (no `Debug`: it holds the tokens).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionOutput {
    access_jwt: String,
    refresh_jwt: String,
    handle: String,
    did: String,
    #[serde(default)]
    did_doc: Option<Value>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    status: Option<String>,
}

impl Bluesky {
    pub(super) async fn create_session(
        &self,
        request: &LoginRequest,
    ) -> Result<AuthorizedAccount, OAuthError> {
        let (server, named) = match request.server_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => (
                http::server_url(url, self.config.server_policy).map_err(|e| {
                    OAuthError::Rejected {
                        code: "invalid_server".to_owned(),
                        reason: e.to_string(),
                    }
                })?,
                true,
            ),
            _ => (self.config.service_url.clone(), false),
        };
        let identifier = request.identifier.trim();
        if identifier.is_empty() || request.password.is_empty() {
            return Err(OAuthError::Rejected {
                code: "credentials_required".to_owned(),
                reason: "enter your Bluesky handle and an app password".to_owned(),
            });
        }
        let body = json!({
            "identifier": identifier.trim_start_matches('@'),
            "password": request.password.expose(),
        });
        let response = self
            .http
            .post(xrpc(&server, "com.atproto.server.createSession"))
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if named {
                    http::named_server_transport_error(&e, &server)
                } else {
                    http::oauth_transport_error(&e)
                }
            })?;
        if !response.status().is_success() {
            return Err(login_error(XrpcError::read(response).await));
        }
        let session: SessionOutput = http::json_body(response, "Bluesky sign-in")
            .await
            .map_err(|reason| OAuthError::Transient { reason })?;
        if session.active == Some(false) {
            let status = session.status.as_deref().unwrap_or("inactive");
            return Err(OAuthError::Rejected {
                code: "AccountInactive".to_owned(),
                reason: format!("this Bluesky account is {status}; it cannot publish"),
            });
        }
        let pds = match session
            .did_doc
            .as_ref()
            .and_then(|doc| pds_endpoint(&session.did, doc))
        {
            Some(endpoint) => {
                http::server_url(&endpoint, self.config.server_policy).map_err(|e| {
                    OAuthError::Rejected {
                        code: "invalid_pds".to_owned(),
                        reason: format!("the account's Bluesky server is not allowed: {e}"),
                    }
                })?
            }
            None => server.clone(),
        };
        account(session, &pds, &server, Utc::now())
    }

    pub(super) async fn refresh_session(
        &self,
        connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        let pds = self.pds_of(connection).map_err(|e| OAuthError::Rejected {
            code: "invalid_pds".to_owned(),
            reason: e.to_string(),
        })?;
        let response = self
            .http
            .post(xrpc(&pds, "com.atproto.server.refreshSession"))
            .bearer_auth(refresh_token.expose())
            .send()
            .await
            .map_err(|e| http::oauth_transport_error(&e))?;
        if !response.status().is_success() {
            return Err(refresh_error(XrpcError::read(response).await));
        }
        let session: SessionOutput = http::json_body(response, "Bluesky session refresh")
            .await
            .map_err(|reason| OAuthError::Transient { reason })?;
        Ok(TokenGrant {
            expires_at: Some(access_expiry(&session.access_jwt, Utc::now())),
            access_token: Secret::new(session.access_jwt),
            refresh_token: Some(Secret::new(session.refresh_jwt)),
        })
    }

    pub(super) async fn delete_session(
        &self,
        connection: &Connection,
        refresh_token: &Secret,
    ) -> Result<(), OAuthError> {
        let pds = self.pds_of(connection).map_err(|e| OAuthError::Rejected {
            code: "invalid_pds".to_owned(),
            reason: e.to_string(),
        })?;
        let response = self
            .http
            .post(xrpc(&pds, "com.atproto.server.deleteSession"))
            .bearer_auth(refresh_token.expose())
            .send()
            .await
            .map_err(|e| http::oauth_transport_error(&e))?;
        if response.status().is_success() {
            return Ok(());
        }
        let e = XrpcError::read(response).await;
        match e.status {
            // Expired, revoked or unknown: the session is over already.
            400 if e.is_token_error() => Ok(()),
            401 => Ok(()),
            429 => Err(OAuthError::RateLimited {
                retry_after: e.retry_after,
            }),
            s if s >= 500 => Err(OAuthError::Transient {
                reason: e.describe(),
            }),
            _ => Err(OAuthError::Rejected {
                code: e.error,
                reason: e.message,
            }),
        }
    }
}

/// The connected account of a session.
fn account(
    session: SessionOutput,
    pds: &str,
    server: &str,
    now: DateTime<Utc>,
) -> Result<AuthorizedAccount, OAuthError> {
    let malformed = |what: &str| OAuthError::Transient {
        reason: format!("Bluesky sign-in: unexpected answer: {what}"),
    };
    if !session.did.starts_with("did:") {
        return Err(malformed("the account id is not a DID"));
    }
    let provider_account_id =
        ProviderAccountId::new(&session.did).map_err(|e| malformed(&e.to_string()))?;
    // `handle.invalid` means the handle no longer verifies: the DID names the account instead.
    let label = if session.handle == "handle.invalid" {
        &session.did
    } else {
        &session.handle
    };
    let metadata = json!({
        "did": session.did,
        "handle": session.handle,
        "pds_url": pds,
        "service_url": server,
    });
    Ok(AuthorizedAccount {
        profile: AccountProfile {
            provider_account_id,
            label: AccountLabel::new(label).ok(),
            account_type: AccountType::Personal,
            metadata,
        },
        credentials: Credentials {
            expires_at: Some(access_expiry(&session.access_jwt, now)),
            access_token: Secret::new(session.access_jwt),
            refresh_token: Some(Secret::new(session.refresh_jwt)),
            oauth1: None,
        },
    })
}

/// The PDS of `did` from its DID document: the `service` entry `#atproto_pds` (or
/// `<did>#atproto_pds`) of type `AtprotoPersonalDataServer` with an http(s) endpoint. `None`
/// when there is none, or the document is another DID's.
pub(super) fn pds_endpoint(did: &str, doc: &Value) -> Option<String> {
    if doc
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id != did)
    {
        return None;
    }
    let full_id = format!("{did}#atproto_pds");
    doc.get("service")?.as_array()?.iter().find_map(|service| {
        let id = service.get("id")?.as_str()?;
        let kind = service.get("type")?.as_str()?;
        let endpoint = service.get("serviceEndpoint")?.as_str()?;
        let usable = (id == "#atproto_pds" || id == full_id)
            && kind == "AtprotoPersonalDataServer"
            && (endpoint.starts_with("https://") || endpoint.starts_with("http://"))
            && url::Url::parse(endpoint).is_ok();
        usable.then(|| endpoint.to_owned())
    })
}

/// When an access token expires: its `exp` claim (read, not verified: the token is opaque to
/// us, this only schedules the refresh) less a minute, or two hours less a margin when it
/// cannot be read or is implausible.
pub(super) fn access_expiry(jwt: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let exp = jwt
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|claims| claims.get("exp").and_then(Value::as_i64))
        .and_then(|exp| DateTime::<Utc>::from_timestamp(exp, 0));
    match exp {
        Some(at) if at > now + CLOCK_MARGIN && at <= now + Duration::days(1) => at - CLOCK_MARGIN,
        _ => now + FALLBACK_ACCESS_LIFETIME,
    }
}

/// A refused sign-in.
fn login_error(e: XrpcError) -> OAuthError {
    match (e.status, e.error.as_str()) {
        (401, "AuthenticationRequired") => OAuthError::InvalidGrant {
            reason: format!(
                "Bluesky refused the identifier or app password: {}",
                e.message
            ),
        },
        (401, "AuthFactorTokenRequired") => OAuthError::Rejected {
            code: e.error,
            reason: "Bluesky asks for an email code: sign in with an app password (Settings → \
                     Privacy and security → App passwords) instead of the account password"
                .to_owned(),
        },
        (429, _) => OAuthError::RateLimited {
            retry_after: e.retry_after,
        },
        (s, _) if s >= 500 => OAuthError::Transient {
            reason: e.describe(),
        },
        _ => OAuthError::Rejected {
            code: e.error,
            reason: e.message,
        },
    }
}

/// A refused refresh: a dead refresh token (400 `ExpiredToken` / `InvalidToken`, or any 401)
/// means the account must sign in again.
fn refresh_error(e: XrpcError) -> OAuthError {
    match e.status {
        400 if e.is_token_error() => OAuthError::InvalidGrant {
            reason: e.describe(),
        },
        401 => OAuthError::InvalidGrant {
            reason: e.describe(),
        },
        429 => OAuthError::RateLimited {
            retry_after: e.retry_after,
        },
        s if s >= 500 => OAuthError::Transient {
            reason: e.describe(),
        },
        _ => OAuthError::Rejected {
            code: e.error,
            reason: e.message,
        },
    }
}

#[cfg(test)]
mod tests;
