//! Connecting Pages: Facebook Login, one account per Page.

use async_trait::async_trait;
use multivio_domain::Secret;
use multivio_domain::connection::{
    AccountLabel, AccountProfile, AccountType, AuthorizedAccount, Connection, Credentials,
    ProviderAccountId, TokenGrant,
};
use multivio_ports::platform::{AuthorizationRequest, CodeExchange, OAuthClient, OAuthError};

use super::{Facebook, SCOPES, login};

/// The fields read of each granted Page.
const PAGE_FIELDS: &str = "id,name,category,access_token,tasks";

#[async_trait]
impl OAuthClient for Facebook {
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<String, OAuthError> {
        login::authorization_url(&self.app, &self.version, request, SCOPES)
    }

    /// One account per granted Page the person may publish as, in Facebook's order, each with
    /// its Page token; none is a refusal saying so.
    async fn exchange_code(
        &self,
        exchange: &CodeExchange,
    ) -> Result<Vec<AuthorizedAccount>, OAuthError> {
        let granted =
            login::exchange(&self.http, &self.app, &self.version, exchange, PAGE_FIELDS).await?;
        let mut accounts = Vec::new();
        for page in granted.pages.iter().filter(|p| p.may_publish()) {
            let (Some(token), Ok(id)) = (page.token(), ProviderAccountId::new(&page.id)) else {
                continue;
            };
            let name = page.name.clone().unwrap_or_else(|| page.id.clone());
            accounts.push(AuthorizedAccount {
                profile: AccountProfile {
                    provider_account_id: id,
                    label: AccountLabel::new(&name).ok(),
                    account_type: AccountType::Page,
                    metadata: serde_json::json!({
                        "page_id": page.id,
                        "page_name": name,
                        "category": page.category,
                        "user_id": granted.person.id,
                        "user_name": granted.person.name,
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
                code: "no_pages".to_owned(),
                reason: "Facebook granted no Page you can publish to: connect again and choose \
                         at least one Page you manage"
                    .to_owned(),
            });
        }
        Ok(accounts)
    }

    /// Page tokens from a long-lived user token do not expire: there is nothing to refresh.
    async fn refresh(
        &self,
        _connection: &Connection,
        _refresh_token: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        Err(OAuthError::NotSupported)
    }

    /// Revoking needs the person's user token, which is not kept.
    async fn revoke(
        &self,
        _connection: &Connection,
        _credentials: &Credentials,
    ) -> Result<(), OAuthError> {
        Err(OAuthError::NotSupported)
    }
}
