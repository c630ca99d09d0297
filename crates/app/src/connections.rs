//! Connecting platform accounts: OAuth and credential sign-in, primary accounts, disconnect.

use std::sync::Arc;

use chrono::Duration;
use multivio_domain::connection::{
    AccountLabel, AuthorizedAccount, Connection, ConnectionStatus, Credentials, primary,
};
use multivio_domain::{ConnectionId, Provider, Secret, Tenant};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::platform::{
    AuthorizationFlow, AuthorizationRequest, CodeExchange, LoginRequest, OAuthStateStore,
    PendingAuthorization, Platforms,
};
use multivio_ports::system::{Clock, IdGenerator, TokenGenerator};
use multivio_ports::vault::TokenVault;

use crate::credentials::{self, CredentialKeeper, RefreshError, seal_oauth1};
use crate::error::{AppError, AppResult};

/// Settings of the connection flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// External base URL (`MULTIVIO_PUBLIC_URL`), without a trailing slash; redirect URIs are
    /// `<public_url>/v1/connections/<provider>/callback`.
    pub public_url: String,
    /// How long an OAuth `state` stays valid.
    pub state_ttl: Duration,
}

/// The end of an OAuth flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The connections created or updated.
    pub connections: Vec<Connection>,
    /// Where to send the browser.
    pub return_to: Option<String>,
}

/// Connection use cases.
#[derive(Clone)]
pub struct ConnectionService {
    connections: Arc<dyn ConnectionStore>,
    vault: Arc<dyn TokenVault>,
    platforms: Arc<dyn Platforms>,
    states: Arc<dyn OAuthStateStore>,
    ids: Arc<dyn IdGenerator>,
    tokens: Arc<dyn TokenGenerator>,
    clock: Arc<dyn Clock>,
    keeper: CredentialKeeper,
    settings: ConnectionSettings,
}

impl std::fmt::Debug for ConnectionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The ports [`ConnectionService`] uses.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct ConnectionPorts {
    /// Connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Token vault.
    pub vault: Arc<dyn TokenVault>,
    /// Platform clients.
    pub platforms: Arc<dyn Platforms>,
    /// OAuth state.
    pub states: Arc<dyn OAuthStateStore>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Random tokens.
    pub tokens: Arc<dyn TokenGenerator>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

impl ConnectionService {
    /// The service.
    pub fn new(ports: ConnectionPorts, settings: ConnectionSettings) -> Self {
        let keeper = CredentialKeeper::new(
            ports.connections.clone(),
            ports.vault.clone(),
            ports.platforms.clone(),
            ports.clock.clone(),
        );
        Self {
            connections: ports.connections,
            vault: ports.vault,
            platforms: ports.platforms,
            states: ports.states,
            ids: ports.ids,
            tokens: ports.tokens,
            clock: ports.clock,
            keeper,
            settings,
        }
    }

    fn redirect_uri(&self, provider: Provider) -> String {
        format!(
            "{}/v1/connections/{provider}/callback",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    /// Starts an OAuth connection: stores a single-use `state` bound to the tenant and provider
    /// with a PKCE verifier, and returns the platform's authorisation URL. A federated
    /// platform (Mastodon) needs the instance's `server_url`.
    pub async fn start_authorization(
        &self,
        tenant: &Tenant,
        provider: Provider,
        return_to: Option<String>,
        server_url: Option<String>,
    ) -> AppResult<String> {
        let client = self
            .platforms
            .oauth(provider)
            .ok_or_else(|| AppError::NotConfigured(format!("{provider} OAuth")))?;
        let pending = PendingAuthorization {
            state: self.tokens.random_token(),
            tenant: tenant.clone(),
            provider,
            pkce_verifier: self.tokens.random_token(),
            redirect_uri: self.redirect_uri(provider),
            return_to,
            server_url: server_url.clone(),
            connection_id: None,
            expires_at: self.clock.now() + self.settings.state_ttl,
        };
        let url = client
            .authorization_url(&AuthorizationRequest {
                state: pending.state.clone(),
                pkce_verifier: pending.pkce_verifier.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                server_url,
            })
            .await
            .map_err(|e| AppError::from_oauth(provider, e))?;
        self.states.save(&pending).await?;
        Ok(url)
    }

    /// Where the platform's redirect sends the browser next: the `return_to` of the pending
    /// authorisation (which stays pending). Unknown, used or expired state, or another
    /// provider's → invalid.
    pub async fn callback_destination(
        &self,
        provider: Provider,
        state: &Secret,
    ) -> AppResult<Option<String>> {
        self.states
            .destination(state, self.clock.now())
            .await?
            .filter(|(p, _)| *p == provider)
            .map(|(_, return_to)| return_to)
            .ok_or_else(|| AppError::invalid("state", "is invalid or expired"))
    }

    /// Use case *connect account (OAuth completion)*, by the signed-in user who started it:
    /// takes the `state` (single use; unknown, replayed, expired, for another provider or
    /// started by another user → invalid, and the token endpoint is never called), exchanges
    /// the code, and creates or updates one connection per granted account.
    ///
    /// Binding the completion to the caller is what stops a "connect" link being used to
    /// attach the victim's platform account to someone else's tenant.
    pub async fn complete_authorization(
        &self,
        caller: &Tenant,
        provider: Provider,
        state: &Secret,
        code: &Secret,
    ) -> AppResult<Connected> {
        // Checked first: a malformed callback does not use the state up.
        if code.is_empty() {
            return Err(AppError::invalid("code", "is required"));
        }
        let pending = self
            .states
            .take(
                caller,
                provider,
                AuthorizationFlow::OAuth2,
                state,
                self.clock.now(),
            )
            .await?
            // The store already answers only the caller's own state of this provider and flow.
            .filter(|p| p.provider == provider && p.tenant == *caller)
            .filter(|p| p.connection_id.is_none())
            .ok_or_else(|| AppError::invalid("state", "is invalid or expired"))?;
        let client = self
            .platforms
            .oauth(provider)
            .ok_or_else(|| AppError::NotConfigured(format!("{provider} OAuth")))?;
        let accounts = client
            .exchange_code(&CodeExchange {
                code: code.clone(),
                pkce_verifier: pending.pkce_verifier.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                server_url: pending.server_url.clone(),
            })
            .await
            .map_err(|e| AppError::from_oauth(provider, e))?;
        let connections = self
            .save_accounts(&pending.tenant, provider, accounts)
            .await?;
        Ok(Connected {
            connections,
            return_to: pending.return_to,
        })
    }

    /// Starts an OAuth 1.0a approval that adds media-upload tokens to connection `id` (X):
    /// obtains a request token whose secret is kept server-side, bound to the tenant, the
    /// provider and the connection, and returns the platform's approval page.
    pub async fn start_oauth1(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        return_to: Option<String>,
    ) -> AppResult<String> {
        let connection = self.get_own(tenant, id).await?;
        let provider = connection.provider;
        let client = self
            .platforms
            .oauth1(provider)
            .ok_or_else(|| AppError::NotConfigured(format!("{provider} OAuth 1.0a")))?;
        let callback = format!(
            "{}/v1/connections/{provider}/oauth1/callback",
            self.settings.public_url.trim_end_matches('/')
        );
        let start = client
            .request_token(&callback)
            .await
            .map_err(|e| AppError::from_oauth(provider, e))?;
        self.states
            .save(&PendingAuthorization {
                state: Secret::new(start.token.clone()),
                tenant: tenant.clone(),
                provider,
                pkce_verifier: start.secret.clone(),
                redirect_uri: callback,
                return_to,
                server_url: None,
                connection_id: Some(id),
                expires_at: self.clock.now() + self.settings.state_ttl,
            })
            .await?;
        Ok(start.authorization_url)
    }

    /// Use case *complete an OAuth 1.0a approval*, by the signed-in user who started it: takes
    /// the request token (single use; another user's or provider's → invalid, the platform is
    /// not called), exchanges it with the verifier, checks the approval is for the connection's
    /// own account, and stores the sealed tokens on the connection.
    pub async fn complete_oauth1(
        &self,
        caller: &Tenant,
        provider: Provider,
        oauth_token: &str,
        verifier: &Secret,
    ) -> AppResult<Connected> {
        if verifier.is_empty() {
            return Err(AppError::invalid("oauth_verifier", "is required"));
        }
        let pending = self
            .states
            .take(
                caller,
                provider,
                AuthorizationFlow::OAuth1,
                &Secret::new(oauth_token),
                self.clock.now(),
            )
            .await?
            .filter(|p| p.provider == provider && p.tenant == *caller)
            .ok_or_else(|| AppError::invalid("oauth_token", "is invalid or expired"))?;
        let Some(id) = pending.connection_id else {
            return Err(AppError::invalid("oauth_token", "is invalid or expired"));
        };
        let connection = self.get_own(caller, id).await?;
        let client = self
            .platforms
            .oauth1(provider)
            .ok_or_else(|| AppError::NotConfigured(format!("{provider} OAuth 1.0a")))?;
        let tokens = client
            .access_token(oauth_token, &pending.pkce_verifier, verifier)
            .await
            .map_err(|e| AppError::from_oauth(provider, e))?;
        if tokens
            .user_id
            .as_deref()
            .is_some_and(|u| u != connection.provider_account_id.as_str())
        {
            return Err(AppError::PlatformRejected {
                provider,
                code: "other_account".to_owned(),
                reason: format!(
                    "the approval was given by another {} account than {}",
                    provider.display_name(),
                    connection
                        .account_label
                        .as_ref()
                        .map_or("this connection's", |l| l.as_str())
                ),
            });
        }
        let sealed = seal_oauth1(self.vault.as_ref(), id, &tokens).await?;
        let updated = self
            .connections
            .set_oauth1(caller, id, &sealed)
            .await
            .map_err(|e| AppError::from_store("connection", e))?;
        Ok(Connected {
            connections: vec![updated],
            return_to: pending.return_to,
        })
    }

    /// The tenant's own connection `id`.
    async fn get_own(&self, tenant: &Tenant, id: ConnectionId) -> AppResult<Connection> {
        let connection = self
            .connections
            .get(tenant, id)
            .await
            .map_err(|e| AppError::from_store("connection", e))?;
        if !tenant.owns(connection.user_id) {
            return Err(AppError::NotFound("connection"));
        }
        Ok(connection)
    }

    /// Use case *connect account (credentials)*: signs in to a credential-based platform
    /// (Bluesky app password…) and creates or updates the connection.
    pub async fn connect_with_credentials(
        &self,
        tenant: &Tenant,
        provider: Provider,
        request: LoginRequest,
    ) -> AppResult<Vec<Connection>> {
        if request.identifier.trim().is_empty() {
            return Err(AppError::invalid("identifier", "is required"));
        }
        if request.password.is_empty() {
            return Err(AppError::invalid("password", "is required"));
        }
        let login = self
            .platforms
            .credential_login(provider)
            .ok_or_else(|| AppError::NotConfigured(format!("{provider} sign-in")))?;
        let accounts = login
            .login(&request)
            .await
            .map_err(|e| AppError::from_oauth(provider, e))?;
        self.save_accounts(tenant, provider, accounts).await
    }

    async fn save_accounts(
        &self,
        tenant: &Tenant,
        provider: Provider,
        accounts: Vec<AuthorizedAccount>,
    ) -> AppResult<Vec<Connection>> {
        if accounts.is_empty() {
            return Err(AppError::PlatformRejected {
                provider,
                code: "no_account".to_owned(),
                reason: "the platform granted access to no account".to_owned(),
            });
        }
        let mut saved = Vec::with_capacity(accounts.len());
        for account in accounts {
            saved.push(self.save_account(tenant, provider, account).await?);
        }
        Ok(saved)
    }

    /// Creates the connection (primary if it is the provider's first), or, when the account is
    /// already connected, replaces its credentials and profile and reactivates it.
    async fn save_account(
        &self,
        tenant: &Tenant,
        provider: Provider,
        account: AuthorizedAccount,
    ) -> AppResult<Connection> {
        let now = self.clock.now();
        // A concurrent connect can win the insert (same account, or the first primary): retry
        // once with fresh state.
        for attempt in 0..2 {
            let existing = self
                .connections
                .find_by_account(tenant, provider, &account.profile.provider_account_id)
                .await?;
            if let Some(current) = existing {
                let next = Connection {
                    account_label: account
                        .profile
                        .label
                        .clone()
                        .or(current.account_label.clone()),
                    account_type: account.profile.account_type,
                    metadata: account.profile.metadata.clone(),
                    status: ConnectionStatus::Active,
                    expires_at: account.credentials.expires_at,
                    updated_at: now,
                    ..current
                };
                let sealed =
                    credentials::seal(self.vault.as_ref(), next.id, &account.credentials).await?;
                return Ok(self.connections.reconnect(tenant, &next, &sealed).await?);
            }
            let siblings = self.connections.list_for_provider(tenant, provider).await?;
            let connection = Connection {
                id: ConnectionId(self.ids.new_uuid()),
                user_id: tenant.user_id,
                provider,
                provider_account_id: account.profile.provider_account_id.clone(),
                account_label: account.profile.label.clone(),
                account_type: account.profile.account_type,
                is_primary: primary::on_connect(&siblings),
                status: ConnectionStatus::Active,
                metadata: account.profile.metadata.clone(),
                expires_at: account.credentials.expires_at,
                created_at: now,
                updated_at: now,
            };
            let sealed =
                credentials::seal(self.vault.as_ref(), connection.id, &account.credentials).await?;
            match self.connections.insert(tenant, &connection, &sealed).await {
                Ok(stored) => {
                    tracing::info!(connection = %stored.id, %provider, "account connected");
                    return Ok(stored);
                }
                Err(StoreError::Conflict(_)) if attempt == 0 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the account was connected concurrently".to_owned(),
        ))
    }

    /// The tenant's connections (never their tokens).
    pub async fn list(&self, tenant: &Tenant) -> AppResult<Vec<Connection>> {
        Ok(self.connections.list(tenant).await?)
    }

    async fn get(&self, tenant: &Tenant, id: ConnectionId) -> AppResult<Connection> {
        let c = self
            .connections
            .get(tenant, id)
            .await
            .map_err(|e| AppError::from_store("connection", e))?;
        if !tenant.owns(c.user_id) {
            return Err(AppError::NotFound("connection"));
        }
        Ok(c)
    }

    /// Renames a connection (`None` clears the label).
    pub async fn rename(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        label: Option<String>,
    ) -> AppResult<Connection> {
        let label = match label.filter(|l| !l.trim().is_empty()) {
            Some(l) => Some(AccountLabel::new(l).map_err(|e| AppError::Invalid(vec![e]))?),
            None => None,
        };
        self.get(tenant, id).await?;
        self.connections
            .update_label(tenant, id, label)
            .await
            .map_err(|e| AppError::from_store("connection", e))
    }

    /// Use case *set primary*: makes the connection its provider's primary, demoting the old one
    /// (one transaction).
    pub async fn set_primary(&self, tenant: &Tenant, id: ConnectionId) -> AppResult<Connection> {
        let target = self.get(tenant, id).await?;
        let siblings = self
            .connections
            .list_for_provider(tenant, target.provider)
            .await?;
        let changes =
            primary::make_primary(&siblings, id).map_err(|_| AppError::NotFound("connection"))?;
        if !changes.is_empty() {
            self.connections
                .set_primary_flags(tenant, target.provider, &changes)
                .await
                .map_err(|e| AppError::from_store("connection", e))?;
        }
        Ok(Connection {
            is_primary: true,
            ..target
        })
    }

    /// Use case *disconnect*: revokes the credentials where the platform allows (best effort),
    /// deletes the connection and, if it was the primary, promotes the oldest remaining one —
    /// in one transaction.
    pub async fn disconnect(&self, tenant: &Tenant, id: ConnectionId) -> AppResult<()> {
        let connection = self.get(tenant, id).await?;
        self.revoke(tenant, &connection).await;
        for attempt in 0..2 {
            let remaining: Vec<Connection> = self
                .connections
                .list_for_provider(tenant, connection.provider)
                .await?
                .into_iter()
                .filter(|c| c.id != id)
                .collect();
            let promote = primary::after_removal(&remaining);
            match self.connections.delete(tenant, id, promote).await {
                Ok(()) => {
                    tracing::info!(connection = %id, promoted = ?promote, "account disconnected");
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) if attempt == 0 => continue,
                Err(e) => return Err(AppError::from_store("connection", e)),
            }
        }
        Err(AppError::Conflict(
            "connections changed concurrently".to_owned(),
        ))
    }

    async fn revoke(&self, tenant: &Tenant, connection: &Connection) {
        let Some(client) = self.platforms.oauth(connection.provider) else {
            return;
        };
        let creds: Credentials = match self.keeper.load(tenant, connection.id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(connection = %connection.id, error = %e, "cannot open credentials to revoke");
                return;
            }
        };
        if let Err(e) = client.revoke(connection, &creds).await {
            tracing::info!(connection = %connection.id, error = %e, "revocation failed; disconnecting anyway");
        }
    }

    /// Use case *refresh a token* for one connection: refreshes it now if it is near expiry.
    pub async fn refresh(&self, tenant: &Tenant, id: ConnectionId) -> AppResult<()> {
        let connection = self.get(tenant, id).await?;
        match self.keeper.fresh(tenant, &connection).await {
            Ok(_) => Ok(()),
            Err(RefreshError::NeedsReauth(reason)) => Err(AppError::Unauthorized(reason)),
            Err(RefreshError::Unreadable) => Err(AppError::Unauthorized(
                "the stored sign-in can no longer be read; reconnect the account".to_owned(),
            )),
            Err(RefreshError::Busy) => {
                Err(AppError::Conflict("a refresh is in progress".to_owned()))
            }
            // Signed in again meanwhile: the connection is as fresh as it gets.
            Err(RefreshError::Superseded) => Ok(()),
            Err(RefreshError::Rejected { code, reason }) => Err(AppError::PlatformRejected {
                provider: connection.provider,
                code,
                reason,
            }),
            Err(RefreshError::Transient {
                retry_after: Some(d),
                ..
            }) => Err(AppError::RateLimited {
                retry_after: Some(d),
            }),
            Err(RefreshError::Transient { reason, .. }) => Err(AppError::Unavailable(reason)),
            Err(RefreshError::App(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
