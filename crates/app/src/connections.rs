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
    AuthorizationRequest, CodeExchange, LoginRequest, OAuthStateStore, PendingAuthorization,
    Platforms,
};
use multivio_ports::system::{Clock, IdGenerator, TokenGenerator};
use multivio_ports::vault::TokenVault;

use crate::credentials::{self, CredentialKeeper, RefreshError};
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
        let pending = self
            .states
            .take(caller, provider, state, self.clock.now())
            .await?
            // The store already answers only the caller's own state of this provider.
            .filter(|p| p.provider == provider && p.tenant == *caller)
            .ok_or_else(|| AppError::invalid("state", "is invalid or expired"))?;
        if code.is_empty() {
            return Err(AppError::invalid("code", "is required"));
        }
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
            Err(RefreshError::Busy) => {
                Err(AppError::Conflict("a refresh is in progress".to_owned()))
            }
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
mod tests {
    use super::*;
    use crate::testing::*;
    use multivio_domain::connection::{AccountProfile, AccountType, ProviderAccountId};
    use multivio_ports::connections::MockConnectionStore;
    use multivio_ports::platform::{
        MockCredentialLogin, MockOAuthClient, MockOAuthStateStore, MockPlatforms, OAuthClient,
        OAuthError,
    };
    use multivio_ports::system::MockTokenGenerator;
    use multivio_ports::vault::SealedToken;

    struct Deps {
        connections: MockConnectionStore,
        platforms: MockPlatforms,
        states: MockOAuthStateStore,
    }

    impl Deps {
        fn new() -> Self {
            Self {
                connections: MockConnectionStore::new(),
                platforms: MockPlatforms::new(),
                states: MockOAuthStateStore::new(),
            }
        }

        fn with_oauth(mut self, client: MockOAuthClient) -> Self {
            let client: Arc<dyn OAuthClient> = Arc::new(client);
            self.platforms
                .expect_oauth()
                .returning(move |_| Some(client.clone()));
            self
        }

        fn build(self) -> ConnectionService {
            let mut tokens = MockTokenGenerator::new();
            let n = std::sync::atomic::AtomicU32::new(0);
            tokens.expect_random_token().returning(move || {
                Secret::new(format!(
                    "rand{}",
                    n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                ))
            });
            ConnectionService::new(
                ConnectionPorts {
                    connections: Arc::new(self.connections),
                    vault: fake_vault(),
                    platforms: Arc::new(self.platforms),
                    states: Arc::new(self.states),
                    ids: ids(),
                    tokens: Arc::new(tokens),
                    clock: clock(),
                },
                ConnectionSettings {
                    public_url: "https://api.example.com/".into(),
                    state_ttl: Duration::minutes(10),
                },
            )
        }
    }

    fn account(id: &str) -> AuthorizedAccount {
        AuthorizedAccount {
            profile: AccountProfile {
                provider_account_id: ProviderAccountId::new(id).unwrap(),
                label: Some(AccountLabel::new(format!("@{id}")).unwrap()),
                account_type: AccountType::Personal,
                metadata: serde_json::json!({"screen_name": id}),
            },
            credentials: credentials("access"),
        }
    }

    fn pending(provider: Provider) -> PendingAuthorization {
        PendingAuthorization {
            state: Secret::new("state"),
            tenant: tenant(),
            provider,
            pkce_verifier: Secret::new("verifier"),
            redirect_uri: "https://api.example.com/v1/connections/twitter/callback".into(),
            return_to: Some("https://app.example.com/done".into()),
            server_url: None,
            connection_id: None,
            expires_at: now() + Duration::minutes(5),
        }
    }

    #[tokio::test]
    async fn start_authorization_binds_state_and_pkce_to_the_tenant() {
        let mut client = MockOAuthClient::new();
        client
            .expect_authorization_url()
            .withf(|r| {
                r.state.expose() == "rand0"
                    && r.pkce_verifier.expose() == "rand1"
                    && r.redirect_uri == "https://api.example.com/v1/connections/twitter/callback"
            })
            .returning(|_| Ok("https://x.com/i/oauth2/authorize?state=rand0".into()));
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_save()
            .withf(|p| {
                p.tenant == tenant()
                    && p.provider == Provider::X
                    && p.expires_at == now() + Duration::minutes(10)
            })
            .times(1)
            .returning(|_| Ok(()));
        let url = d
            .build()
            .start_authorization(&tenant(), Provider::X, None, None)
            .await
            .unwrap();
        assert!(url.starts_with("https://x.com/"));
    }

    #[tokio::test]
    async fn start_authorization_of_an_unconfigured_platform() {
        let mut d = Deps::new();
        d.platforms.expect_oauth().returning(|_| None);
        assert!(matches!(
            d.build()
                .start_authorization(&tenant(), Provider::Tiktok, None, None)
                .await,
            Err(AppError::NotConfigured(_))
        ));
    }

    #[tokio::test]
    async fn first_account_of_a_provider_is_connected_as_primary() {
        let mut client = MockOAuthClient::new();
        client
            .expect_exchange_code()
            .withf(|e| e.code.expose() == "code" && e.pkce_verifier.expose() == "verifier")
            .times(1)
            .returning(|_| Ok(vec![account("ada")]));
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_take()
            .returning(|_, _, _, _| Ok(Some(pending(Provider::X))));
        d.connections
            .expect_find_by_account()
            .returning(|_, _, _| Ok(None));
        d.connections
            .expect_list_for_provider()
            .returning(|_, _| Ok(vec![]));
        d.connections
            .expect_insert()
            .withf(|t, c, sealed| {
                let aad = format!("social_connections:{}:access_token", c.id);
                *t == tenant()
                    && c.is_primary
                    && c.user_id == tenant().user_id
                    && sealed.access_token == SealedToken(format!("sealed({aad})|access"))
            })
            .times(1)
            .returning(|_, c, _| Ok(c.clone()));
        let done = d
            .build()
            .complete_authorization(
                &tenant(),
                Provider::X,
                &Secret::new("state"),
                &Secret::new("code"),
            )
            .await
            .unwrap();
        assert_eq!(done.connections.len(), 1);
        assert!(done.connections[0].is_primary);
        assert_eq!(
            done.return_to.as_deref(),
            Some("https://app.example.com/done")
        );
    }

    #[tokio::test]
    async fn second_account_is_not_primary_and_a_known_account_is_reconnected() {
        let mut client = MockOAuthClient::new();
        client
            .expect_exchange_code()
            .returning(|_| Ok(vec![account("new"), account("acct-1")]));
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_take()
            .returning(|_, _, _, _| Ok(Some(pending(Provider::X))));
        d.connections
            .expect_find_by_account()
            .returning(|_, _, acct| {
                Ok((acct.as_str() == "acct-1").then(|| {
                    let mut c = connection(1, Provider::X, true, 10);
                    c.status = ConnectionStatus::NeedsReauth;
                    c
                }))
            });
        d.connections
            .expect_list_for_provider()
            .returning(|_, _| Ok(vec![connection(1, Provider::X, true, 10)]));
        d.connections
            .expect_insert()
            .withf(|_, c, _| !c.is_primary)
            .times(1)
            .returning(|_, c, _| Ok(c.clone()));
        d.connections
            .expect_reconnect()
            .withf(|_, c, sealed| {
                c.id == cid(1)
                    && c.is_primary
                    && c.status == ConnectionStatus::Active
                    && sealed
                        .access_token
                        .0
                        .starts_with(&format!("sealed(social_connections:{}:", cid(1)))
            })
            .times(1)
            .returning(|_, c, _| Ok(c.clone()));
        let done = d
            .build()
            .complete_authorization(
                &tenant(),
                Provider::X,
                &Secret::new("state"),
                &Secret::new("code"),
            )
            .await
            .unwrap();
        assert_eq!(done.connections.len(), 2);
    }

    #[tokio::test]
    async fn a_lost_race_for_the_first_primary_is_retried() {
        let mut client = MockOAuthClient::new();
        client
            .expect_exchange_code()
            .returning(|_| Ok(vec![account("ada")]));
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_take()
            .returning(|_, _, _, _| Ok(Some(pending(Provider::X))));
        d.connections
            .expect_find_by_account()
            .returning(|_, _, _| Ok(None));
        let mut seq = mockall::Sequence::new();
        d.connections
            .expect_list_for_provider()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec![]));
        d.connections
            .expect_insert()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Err(StoreError::Conflict("primary exists".into())));
        d.connections
            .expect_list_for_provider()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec![connection(9, Provider::X, true, 0)]));
        d.connections
            .expect_insert()
            .withf(|_, c, _| !c.is_primary)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, c, _| Ok(c.clone()));
        let done = d
            .build()
            .complete_authorization(
                &tenant(),
                Provider::X,
                &Secret::new("state"),
                &Secret::new("code"),
            )
            .await;
        assert!(!done.unwrap().connections[0].is_primary);
    }

    #[tokio::test]
    async fn bad_state_never_reaches_the_token_endpoint() {
        let mut client = MockOAuthClient::new();
        client.expect_exchange_code().never();
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_take()
            .withf(|t, p, _, _| *t == tenant() && *p == Provider::X)
            .returning(|_, _, s, _| {
                Ok((s.expose() == "other-provider").then(|| pending(Provider::Linkedin)))
            });
        let svc = d.build();
        for state in ["replayed", "other-provider"] {
            let r = svc
                .complete_authorization(
                    &tenant(),
                    Provider::X,
                    &Secret::new(state),
                    &Secret::new("code"),
                )
                .await;
            assert!(
                matches!(r, Err(AppError::Invalid(e)) if e[0].field == "state"),
                "{state}"
            );
        }
    }

    #[tokio::test]
    async fn only_the_user_who_started_a_connection_can_complete_it() {
        // Someone else's browser bringing back the code (a "connect" link sent to a victim)
        // must not attach the victim's account to the tenant that started the flow.
        let mut client = MockOAuthClient::new();
        client.expect_exchange_code().never();
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_take()
            .returning(|_, _, _, _| Ok(Some(pending(Provider::X))));
        d.connections.expect_insert().never();
        let r = d
            .build()
            .complete_authorization(
                &other_tenant(),
                Provider::X,
                &Secret::new("state"),
                &Secret::new("code"),
            )
            .await;
        assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "state"));
    }

    #[tokio::test]
    async fn the_callback_destination_keeps_the_state_pending() {
        let mut d = Deps::new();
        d.states.expect_take().never();
        d.states.expect_destination().returning(|s, _| {
            Ok((s.expose() == "state")
                .then(|| (Provider::X, Some("https://app.example.com/done".to_owned()))))
        });
        let svc = d.build();
        assert_eq!(
            svc.callback_destination(Provider::X, &Secret::new("state"))
                .await,
            Ok(Some("https://app.example.com/done".into()))
        );
        for (provider, state) in [(Provider::Linkedin, "state"), (Provider::X, "forged")] {
            let r = svc
                .callback_destination(provider, &Secret::new(state))
                .await;
            assert!(matches!(r, Err(AppError::Invalid(_))), "{provider} {state}");
        }
    }

    #[tokio::test]
    async fn platform_refusing_the_code_is_reported() {
        let mut client = MockOAuthClient::new();
        client.expect_exchange_code().returning(|_| {
            Err(OAuthError::Rejected {
                code: "invalid_scope".into(),
                reason: "offline.access missing".into(),
            })
        });
        let mut d = Deps::new().with_oauth(client);
        d.states
            .expect_take()
            .returning(|_, _, _, _| Ok(Some(pending(Provider::X))));
        let r = d
            .build()
            .complete_authorization(
                &tenant(),
                Provider::X,
                &Secret::new("state"),
                &Secret::new("code"),
            )
            .await;
        assert!(matches!(
            r,
            Err(AppError::PlatformRejected {
                provider: Provider::X,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn credential_login_connects_and_reports_bad_passwords() {
        let mut login = MockCredentialLogin::new();
        login
            .expect_login()
            .returning(|r| match r.password.expose() {
                "app-pass" => Ok(vec![account("ada.bsky.social")]),
                _ => Err(OAuthError::InvalidGrant {
                    reason: "bad password".into(),
                }),
            });
        let login: Arc<dyn multivio_ports::platform::CredentialLogin> = Arc::new(login);
        let mut d = Deps::new();
        d.platforms
            .expect_credential_login()
            .returning(move |_| Some(login.clone()));
        d.connections
            .expect_find_by_account()
            .returning(|_, _, _| Ok(None));
        d.connections
            .expect_list_for_provider()
            .returning(|_, _| Ok(vec![]));
        d.connections
            .expect_insert()
            .times(1)
            .returning(|_, c, _| Ok(c.clone()));
        let svc = d.build();
        let req = |p: &str| LoginRequest {
            identifier: "ada.bsky.social".into(),
            password: Secret::new(p),
            server_url: None,
        };
        let made = svc
            .connect_with_credentials(&tenant(), Provider::Bluesky, req("app-pass"))
            .await
            .unwrap();
        assert_eq!(made[0].provider, Provider::Bluesky);
        assert_eq!(
            svc.connect_with_credentials(&tenant(), Provider::Bluesky, req("wrong"))
                .await,
            Err(AppError::Unauthorized("bad password".into()))
        );
        assert!(matches!(
            svc.connect_with_credentials(&tenant(), Provider::Bluesky, req(""))
                .await,
            Err(AppError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn set_primary_demotes_the_old_primary() {
        let mut d = Deps::new();
        d.connections
            .expect_get()
            .returning(|_, id| Ok(connection(id.0.as_u128(), Provider::X, false, 1)));
        d.connections.expect_list_for_provider().returning(|_, _| {
            Ok(vec![
                connection(1, Provider::X, true, 3),
                connection(2, Provider::X, false, 1),
            ])
        });
        d.connections
            .expect_set_primary_flags()
            .withf(|_, p, changes| {
                *p == Provider::X && changes == [(cid(1), false), (cid(2), true)]
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let c = d.build().set_primary(&tenant(), cid(2)).await.unwrap();
        assert!(c.is_primary);
    }

    #[tokio::test]
    async fn set_primary_of_a_foreign_or_missing_connection_is_not_found() {
        let mut d = Deps::new();
        d.connections
            .expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        assert_eq!(
            d.build().set_primary(&tenant(), cid(5)).await,
            Err(AppError::NotFound("connection"))
        );
        let mut d = Deps::new();
        d.connections.expect_get().returning(|_, _| {
            let mut c = connection(5, Provider::X, false, 1);
            c.user_id = other_tenant().user_id;
            Ok(c)
        });
        d.connections.expect_set_primary_flags().never();
        assert_eq!(
            d.build().set_primary(&tenant(), cid(5)).await,
            Err(AppError::NotFound("connection"))
        );
    }

    #[tokio::test]
    async fn disconnecting_the_primary_of_three_promotes_the_oldest_remaining() {
        let mut client = MockOAuthClient::new();
        client
            .expect_revoke()
            .times(1)
            .returning(|_, _| Err(OAuthError::NotSupported));
        let mut d = Deps::new().with_oauth(client);
        d.connections
            .expect_get()
            .returning(|_, _| Ok(connection(1, Provider::X, true, 30)));
        d.connections.expect_credentials().returning(|_, id| {
            let creds = credentials("a");
            let rt = creds.refresh_token.clone().unwrap();
            Ok(multivio_ports::vault::SealedCredentials {
                access_token: SealedToken(format!(
                    "sealed(social_connections:{id}:access_token)|a"
                )),
                refresh_token: Some(SealedToken(format!(
                    "sealed(social_connections:{id}:refresh_token)|{}",
                    rt.expose()
                ))),
                expires_at: creds.expires_at,
                oauth1: None,
            })
        });
        d.connections.expect_list_for_provider().returning(|_, _| {
            Ok(vec![
                connection(1, Provider::X, true, 30),
                connection(2, Provider::X, false, 5),
                connection(3, Provider::X, false, 20),
            ])
        });
        d.connections
            .expect_delete()
            .withf(|_, id, promote| *id == cid(1) && *promote == Some(cid(3)))
            .times(1)
            .returning(|_, _, _| Ok(()));
        d.build().disconnect(&tenant(), cid(1)).await.unwrap();
    }

    #[tokio::test]
    async fn disconnecting_a_secondary_promotes_nobody() {
        let mut d = Deps::new();
        d.platforms.expect_oauth().returning(|_| None);
        d.connections
            .expect_get()
            .returning(|_, _| Ok(connection(2, Provider::Bluesky, false, 1)));
        d.connections.expect_list_for_provider().returning(|_, _| {
            Ok(vec![
                connection(1, Provider::Bluesky, true, 9),
                connection(2, Provider::Bluesky, false, 1),
            ])
        });
        d.connections
            .expect_delete()
            .withf(|_, _, promote| promote.is_none())
            .times(1)
            .returning(|_, _, _| Ok(()));
        d.build().disconnect(&tenant(), cid(2)).await.unwrap();
    }

    #[tokio::test]
    async fn disconnect_of_a_missing_connection_is_not_found() {
        let mut d = Deps::new();
        d.connections
            .expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        d.connections.expect_delete().never();
        assert_eq!(
            d.build().disconnect(&tenant(), cid(1)).await,
            Err(AppError::NotFound("connection"))
        );
    }

    #[tokio::test]
    async fn rename_validates_the_label() {
        let mut d = Deps::new();
        d.connections
            .expect_get()
            .returning(|_, _| Ok(connection(1, Provider::X, true, 1)));
        d.connections
            .expect_update_label()
            .withf(|_, _, l| l.as_ref().map(AccountLabel::as_str) == Some("Work"))
            .returning(|_, _, l| {
                let mut c = connection(1, Provider::X, true, 1);
                c.account_label = l;
                Ok(c)
            });
        let svc = d.build();
        assert_eq!(
            svc.rename(&tenant(), cid(1), Some(" Work ".into()))
                .await
                .unwrap()
                .account_label
                .unwrap()
                .as_str(),
            "Work"
        );
        assert!(matches!(
            svc.rename(&tenant(), cid(1), Some("x".repeat(300))).await,
            Err(AppError::Invalid(_))
        ));
    }

    fn expiring_store(d: &mut Deps) {
        d.connections
            .expect_get()
            .returning(|_, _| Ok(connection(1, Provider::X, true, 1)));
        d.connections.expect_credentials().returning(|_, id| {
            Ok(multivio_ports::vault::SealedCredentials {
                access_token: SealedToken(format!(
                    "sealed(social_connections:{id}:access_token)|old"
                )),
                refresh_token: Some(SealedToken(format!(
                    "sealed(social_connections:{id}:refresh_token)|r"
                ))),
                expires_at: Some(now()),
                oauth1: None,
            })
        });
    }

    #[tokio::test]
    async fn refresh_use_case_refreshes_an_expiring_token() {
        let mut client = MockOAuthClient::new();
        client.expect_refresh().times(1).returning(|_, _| {
            Ok(multivio_domain::connection::TokenGrant {
                access_token: Secret::new("new"),
                refresh_token: None,
                expires_at: Some(now() + Duration::hours(2)),
            })
        });
        let mut d = Deps::new().with_oauth(client);
        expiring_store(&mut d);
        d.connections
            .expect_try_lock_refresh()
            .returning(|_, _, _, _| Ok(true));
        d.connections
            .expect_store_refreshed()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        d.build().refresh(&tenant(), cid(1)).await.unwrap();
    }

    #[tokio::test]
    async fn refresh_use_case_failures() {
        let mut client = MockOAuthClient::new();
        client.expect_refresh().returning(|_, _| {
            Err(OAuthError::InvalidGrant {
                reason: "revoked".into(),
            })
        });
        let mut d = Deps::new().with_oauth(client);
        expiring_store(&mut d);
        d.connections
            .expect_try_lock_refresh()
            .returning(|_, _, _, _| Ok(true));
        d.connections
            .expect_set_status()
            .withf(|_, _, s| *s == ConnectionStatus::NeedsReauth)
            .times(1)
            .returning(|_, _, _| Ok(()));
        d.connections
            .expect_unlock_refresh()
            .returning(|_, _, _| Ok(()));
        assert_eq!(
            d.build().refresh(&tenant(), cid(1)).await,
            Err(AppError::Unauthorized("revoked".into()))
        );

        let mut d = Deps::new().with_oauth(MockOAuthClient::new());
        expiring_store(&mut d);
        d.connections
            .expect_try_lock_refresh()
            .returning(|_, _, _, _| Ok(false));
        assert!(matches!(
            d.build().refresh(&tenant(), cid(1)).await,
            Err(AppError::Conflict(_))
        ));

        let mut d = Deps::new();
        d.connections
            .expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        assert_eq!(
            d.build().refresh(&tenant(), cid(1)).await,
            Err(AppError::NotFound("connection"))
        );
    }
}
