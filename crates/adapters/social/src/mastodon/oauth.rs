//! Connecting an account: the authorisation URL, the code exchange (with the account and its
//! instance's limits), and revocation. Mastodon tokens never expire and come without a refresh
//! token, so there is nothing to refresh.

use async_trait::async_trait;
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{InstanceError, Mastodon, SCOPES, plain_id};
use crate::{http, pkce};

/// `POST /oauth/token`'s answer (no `expires_in`, no `refresh_token` on Mastodon).
#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) access_token: String,
}

/// `GET /api/v1/accounts/verify_credentials` (the fields Multivio keeps).
#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) acct: Option<String>,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
}

/// The instance's host, with its port if any (`mastodon.social`, `127.0.0.1:8080`).
pub fn instance_host(instance: &str) -> Option<String> {
    let url = url::Url::parse(instance).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// The authorisation URL at `instance` for an app, as Mastodon documents it.
pub fn authorize_url(
    instance: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &Secret,
    pkce_verifier: &Secret,
) -> Result<String, OAuthError> {
    let mut url = url::Url::parse(&format!("{instance}/oauth/authorize")).map_err(|e| {
        OAuthError::Rejected {
            code: "mastodon_server_url".into(),
            reason: format!("`{instance}` is not a server URL: {e}"),
        }
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", SCOPES)
        .append_pair("state", state.expose())
        .append_pair("code_challenge", &pkce::s256_challenge(pkce_verifier))
        .append_pair("code_challenge_method", "S256");
    Ok(url.into())
}

fn truncated(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The profile of `account` on `instance`, with the instance's `limits` in its metadata.
pub(crate) fn profile(
    instance: &str,
    redirect_uri: &str,
    account: &Account,
    limits: &super::InstanceLimits,
) -> Result<AccountProfile, OAuthError> {
    let host = instance_host(instance).unwrap_or_else(|| instance.to_owned());
    let refused = |what: &str| OAuthError::Rejected {
        code: "mastodon_account_invalid".into(),
        reason: format!("The Mastodon instance described the account with an unusable {what}."),
    };
    if !plain_id(&account.id) {
        return Err(refused("id"));
    }
    let username_ok = !account.username.is_empty()
        && account.username.len() <= 64
        && account
            .username
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !username_ok {
        return Err(refused("username"));
    }
    let provider_account_id = ProviderAccountId::new(format!("{}@{host}", account.username))
        .map_err(|_| refused("handle"))?;
    let label = AccountLabel::new(format!("@{}@{host}", account.username)).ok();
    let mut metadata = Map::new();
    metadata.insert("server_url".into(), instance.into());
    metadata.insert("redirect_uri".into(), redirect_uri.into());
    metadata.insert("username".into(), account.username.clone().into());
    metadata.insert(
        "acct".into(),
        truncated(account.acct.as_deref().unwrap_or(&account.username), 255).into(),
    );
    metadata.insert("account_id".into(), account.id.clone().into());
    if let Some(url) = account
        .url
        .as_deref()
        .filter(|u| u.len() <= 2048 && (u.starts_with("https://") || u.starts_with("http://")))
    {
        metadata.insert("url".into(), url.into());
    }
    if let Some(name) = account
        .display_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        metadata.insert("display_name".into(), truncated(name.trim(), 255).into());
    }
    limits.write_to(&mut metadata);
    Ok(AccountProfile {
        provider_account_id,
        label,
        account_type: AccountType::Personal,
        metadata: Value::Object(metadata),
    })
}

/// An error answer of an OAuth endpoint (`/oauth/token`, `/oauth/revoke`).
fn oauth_error(
    status: u16,
    said: &InstanceError,
    retry_after: Option<chrono::Duration>,
) -> OAuthError {
    let code = said.error.clone().unwrap_or_default();
    match (status, code.as_str()) {
        (429, _) => OAuthError::RateLimited { retry_after },
        (s, _) if s >= 500 => OAuthError::Transient {
            reason: format!("HTTP {s}"),
        },
        (_, "invalid_grant") => OAuthError::InvalidGrant {
            reason: said.message("the authorisation code was refused"),
        },
        (s, _) => OAuthError::Rejected {
            code: if code.is_empty() || code.len() > 64 || code.contains(' ') {
                format!("mastodon_http_{s}")
            } else {
                code.clone()
            },
            reason: said.message(&format!("the Mastodon instance answered HTTP {s}")),
        },
    }
}

/// An error answer of an API endpoint (`verify_credentials`).
fn api_error(
    status: u16,
    said: &InstanceError,
    retry_after: Option<chrono::Duration>,
) -> OAuthError {
    match status {
        401 => OAuthError::InvalidGrant {
            reason: said.message("the access token is invalid"),
        },
        429 => OAuthError::RateLimited { retry_after },
        s if s >= 500 => OAuthError::Transient {
            reason: format!("HTTP {s}"),
        },
        s => OAuthError::Rejected {
            code: format!("mastodon_http_{s}"),
            reason: said.message(&format!("the Mastodon instance answered HTTP {s}")),
        },
    }
}

impl Mastodon {
    /// The canonical instance of a request, or a refusal a person can act on.
    fn requested_instance(&self, server_url: Option<&str>) -> Result<String, OAuthError> {
        let input = server_url
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OAuthError::Rejected {
                code: "mastodon_server_required".into(),
                reason: "Name your Mastodon server (e.g. mastodon.social).".into(),
            })?;
        self.instance(input).map_err(|e| OAuthError::Rejected {
            code: "mastodon_server_url".into(),
            reason: e.to_string(),
        })
    }

    /// `GET /api/v1/accounts/verify_credentials`.
    async fn verify_credentials(
        &self,
        instance: &str,
        token: &Secret,
    ) -> Result<Account, OAuthError> {
        let response = self
            .client
            .get(format!("{instance}/api/v1/accounts/verify_credentials"))
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| http::oauth_transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = http::retry_after(response.headers(), chrono::Utc::now());
            let said = InstanceError::read(response).await;
            return Err(api_error(status.as_u16(), &said, retry_after));
        }
        http::json_body(response, "Mastodon account")
            .await
            .map_err(|reason| OAuthError::Transient { reason })
    }
}

#[async_trait]
impl OAuthClient for Mastodon {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let instance = self.requested_instance(request.server_url.as_deref())?;
        let app = self.app(&instance, &request.redirect_uri).await?;
        authorize_url(
            &instance,
            &app.client_id,
            &request.redirect_uri,
            &request.state,
            &request.pkce_verifier,
        )
    }

    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let instance = self.requested_instance(exchange.server_url.as_deref())?;
        let app = self
            .stored_app(&instance, &exchange.redirect_uri)
            .await?
            .ok_or_else(|| OAuthError::Rejected {
                code: "mastodon_app_unknown".into(),
                reason: "Multivio has no app on this Mastodon instance; start connecting again."
                    .into(),
            })?;
        let response = self
            .client
            .post(format!("{instance}/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", exchange.code.expose()),
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.expose()),
                ("redirect_uri", exchange.redirect_uri.as_str()),
                ("code_verifier", exchange.pkce_verifier.expose()),
            ])
            .send()
            .await
            .map_err(|e| http::oauth_transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = http::retry_after(response.headers(), chrono::Utc::now());
            let said = InstanceError::read(response).await;
            return Err(oauth_error(status.as_u16(), &said, retry_after));
        }
        let token: TokenAnswer = http::json_body(response, "Mastodon token")
            .await
            .map_err(|reason| OAuthError::Transient { reason })?;
        if token.access_token.is_empty() {
            return Err(OAuthError::Transient {
                reason: "Mastodon token: empty access token".into(),
            });
        }
        let access_token = Secret::new(token.access_token);
        let account = self.verify_credentials(&instance, &access_token).await?;
        let limits = self.instance_limits(&instance).await;
        let profile = profile(&instance, &exchange.redirect_uri, &account, &limits)?;
        tracing::info!(%instance, account = %profile.provider_account_id, "Mastodon account authorised");
        Ok(vec![AuthorizedAccount {
            profile,
            credentials: Credentials {
                access_token,
                refresh_token: None,
                expires_at: None,
                oauth1: None,
            },
        }])
    }

    async fn refresh(
        &self,
        _connection: &Connection,
        _refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        Err(OAuthError::NotSupported)
    }

    async fn revoke(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        let missing = |what: &str| OAuthError::Rejected {
            code: "mastodon_connection_incomplete".into(),
            reason: format!("The connection does not name its {what}."),
        };
        let instance = self.requested_instance(Some(
            connection
                .metadata_str("server_url")
                .ok_or_else(|| missing("Mastodon server"))?,
        ))?;
        let redirect_uri = connection
            .metadata_str("redirect_uri")
            .ok_or_else(|| missing("redirect URI"))?;
        let app = self
            .stored_app(&instance, redirect_uri)
            .await?
            .ok_or_else(|| OAuthError::Rejected {
                code: "mastodon_app_unknown".into(),
                reason: "Multivio has no app on this Mastodon instance to revoke the token with."
                    .into(),
            })?;
        let response = self
            .client
            .post(format!("{instance}/oauth/revoke"))
            .form(&[
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.expose()),
                ("token", credentials.access_token.expose()),
            ])
            .send()
            .await
            .map_err(|e| http::oauth_transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = http::retry_after(response.headers(), chrono::Utc::now());
        let said = InstanceError::read(response).await;
        Err(oauth_error(status.as_u16(), &said, retry_after))
    }
}

#[cfg(test)]
mod tests;
