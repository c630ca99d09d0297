//! Connecting LinkedIn: the member through OpenID Connect, and the organizations the member
//! administers.

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

use super::{ApiError, Linkedin, MEMBER_SCOPES, ORGANIZATION_SCOPES};
use crate::http::{error_text, excerpt, retry_after};
use crate::oauth2::{TokenAnswer, read_token, transport};

/// Organizations listed at most (LinkedIn pages ACLs by `start`/`count`).
const MAX_ORGANIZATIONS: usize = 100;

/// `GET /v2/userinfo` (OpenID Connect).
#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
}

/// A page of `GET /rest/organizationAcls`.
#[derive(Debug, Deserialize)]
struct Acls {
    #[serde(default)]
    elements: Vec<Acl>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Acl {
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// `GET /rest/organizations/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Organization {
    #[serde(default)]
    localized_name: Option<String>,
    #[serde(default)]
    vanity_name: Option<String>,
}

/// The number of an organization URN (`urn:li:organization:123` → `123`).
fn organization_id(urn: &str) -> Option<&str> {
    urn.strip_prefix("urn:li:organization:")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
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
            reason: format!("LinkedIn answered {status} to {what}"),
        };
    }
    let text = error_text(response).await;
    let error = ApiError::parse(&text);
    if status.as_u16() == 401 {
        return OAuthError::InvalidGrant {
            reason: format!("LinkedIn refused the new token: {}", error.message()),
        };
    }
    OAuthError::Rejected {
        code: format!("linkedin_{}", status.as_u16()),
        reason: format!("LinkedIn refused {what}: {}", excerpt(error.message(), 300)),
    }
}

impl Linkedin {
    /// A call to the token endpoint (form body, the app's credentials in it).
    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, OAuthError> {
        let mut body: Vec<(&str, &str)> = form.to_vec();
        body.push(("client_id", &self.config.client_id));
        body.push(("client_secret", self.config.client_secret.expose()));
        let response = self
            .http
            .post(format!("{}/oauth/v2/accessToken", self.config.auth_url))
            .form(&body)
            .send()
            .await
            .map_err(transport)?;
        read_token("LinkedIn", response).await
    }

    async fn userinfo(&self, token: &Secret) -> Result<UserInfo, OAuthError> {
        let response = self
            .http
            .get(self.api("/v2/userinfo"))
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(read_failure(response, "the member's profile").await);
        }
        crate::http::json_body(response, "LinkedIn userinfo")
            .await
            .map_err(|reason| OAuthError::Transient { reason })
    }

    /// The organizations the member administers (approved `ADMINISTRATOR` role), as (URN,
    /// name, vanity name), in LinkedIn's order.
    async fn organizations(
        &self,
        token: &Secret,
    ) -> Result<Vec<(String, String, Option<String>)>, OAuthError> {
        let response = self
            .rest(reqwest::Method::GET, "/rest/organizationAcls", token)
            .query(&[
                ("q", "roleAssignee"),
                ("role", "ADMINISTRATOR"),
                ("state", "APPROVED"),
                ("start", "0"),
                ("count", &MAX_ORGANIZATIONS.to_string()),
            ])
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(read_failure(response, "the list of the member's organizations").await);
        }
        let acls: Acls = crate::http::json_body(response, "LinkedIn organizationAcls")
            .await
            .map_err(|reason| OAuthError::Transient { reason })?;
        let mut found: Vec<String> = Vec::new();
        for acl in acls.elements {
            let administers = acl.role.as_deref() == Some("ADMINISTRATOR")
                && acl.state.as_deref().is_none_or(|s| s == "APPROVED");
            if let Some(urn) = acl.organization
                && administers
                && organization_id(&urn).is_some()
                && !found.contains(&urn)
            {
                found.push(urn);
            }
        }
        let mut organizations = Vec::with_capacity(found.len());
        for urn in found {
            let id = organization_id(&urn).unwrap_or_default();
            let response = self
                .rest(
                    reqwest::Method::GET,
                    &format!("/rest/organizations/{id}"),
                    token,
                )
                .send()
                .await
                .map_err(transport)?;
            if !response.status().is_success() {
                return Err(read_failure(response, "an organization's name").await);
            }
            let org: Organization = crate::http::json_body(response, "LinkedIn organization")
                .await
                .map_err(|reason| OAuthError::Transient { reason })?;
            let name = org
                .localized_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| format!("Organization {id}"));
            organizations.push((urn, name, org.vanity_name));
        }
        Ok(organizations)
    }
}

fn credentials(grant: &TokenGrant) -> Credentials {
    Credentials {
        access_token: grant.access_token.clone(),
        refresh_token: grant.refresh_token.clone(),
        expires_at: grant.expires_at,
        oauth1: None,
    }
}

#[async_trait]
impl OAuthClient for Linkedin {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        let mut url = url::Url::parse(&format!("{}/oauth/v2/authorization", self.config.auth_url))
            .map_err(|e| OAuthError::Transient {
                reason: e.to_string(),
            })?;
        let scopes = if self.config.organizations {
            format!("{MEMBER_SCOPES} {ORGANIZATION_SCOPES}")
        } else {
            MEMBER_SCOPES.to_owned()
        };
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("state", request.state.expose())
            .append_pair("scope", &scopes);
        // Scopes are separated by %20, not the form encoding's `+`.
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
            ])
            .await?;
        let grant = answer.grant("LinkedIn")?;
        let member = self.userinfo(&grant.access_token).await?;
        let unusable = || OAuthError::Rejected {
            code: "bad_profile".to_owned(),
            reason: "LinkedIn answered an unusable member id".to_owned(),
        };
        if member.sub.is_empty() || member.sub.contains(':') {
            return Err(unusable());
        }
        let member_urn = format!("urn:li:person:{}", member.sub);
        let name = member
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                let parts: Vec<&str> =
                    [member.given_name.as_deref(), member.family_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .filter(|p| !p.is_empty())
                        .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
            .unwrap_or_else(|| "LinkedIn member".to_owned());
        let mut accounts = vec![AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(&member_urn).map_err(|_| unusable())?,
                label: AccountLabel::new(&name).ok(),
                account_type: AccountType::Personal,
                metadata: json!({ "urn": member_urn, "kind": "person", "name": name }),
            },
            credentials: credentials(&grant),
        }];
        // The organizations, when the member granted what listing them and posting as them
        // needs (an app without LinkedIn's Community Management API has neither).
        if self.config.organizations
            && answer.granted("r_organization_admin")
            && answer.granted("w_organization_social")
        {
            let organizations = match self.organizations(&grant.access_token).await {
                Ok(found) => found,
                // The member still connects; the organizations are left out, and said so.
                Err(OAuthError::Rejected { reason, .. }) => {
                    tracing::warn!(%reason, "LinkedIn would not list the member's organizations");
                    Vec::new()
                }
                Err(other) => return Err(other),
            };
            for (urn, org_name, vanity) in organizations {
                let Ok(account_id) = ProviderAccountId::new(&urn) else {
                    continue;
                };
                accounts.push(AuthorizedAccount {
                    profile: AccountProfile {
                        provider_account_id: account_id,
                        label: AccountLabel::new(&org_name).ok(),
                        account_type: AccountType::Page,
                        metadata: json!({
                            "urn": urn,
                            "kind": "organization",
                            "name": org_name,
                            "vanity_name": vanity,
                            "member_urn": member_urn,
                        }),
                    },
                    credentials: credentials(&grant),
                });
            }
        }
        Ok(accounts)
    }

    /// LinkedIn issues refresh tokens to some apps only; with one, the access token is renewed
    /// (the refresh token itself is kept until it expires).
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
        .grant("LinkedIn")
    }

    /// Not revoked: the member's token is shared by the member's connection and every
    /// organization's, which stay connected. (The member can remove Multivio from LinkedIn's
    /// settings.)
    async fn revoke(
        &self,
        _connection: &Connection,
        _credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        Err(OAuthError::NotSupported)
    }
}
