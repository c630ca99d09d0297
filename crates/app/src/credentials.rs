//! Credentials: sealing, opening and refreshing a connection's tokens.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use multivio_domain::Tenant;
use multivio_domain::connection::{Connection, ConnectionStatus, Credentials, OAuth1Credentials};
use multivio_domain::{ConnectionId, Secret};
use multivio_ports::connections::ConnectionStore;
use multivio_ports::platform::{OAuthError, Platforms};
use multivio_ports::system::Clock;
use multivio_ports::vault::{SealedCredentials, SealedOAuth1, TokenVault, credential_aad};

use crate::error::{AppError, AppResult};

/// Seals each secret of `credentials` bound to its connection and column.
pub async fn seal(
    vault: &dyn TokenVault,
    id: ConnectionId,
    c: &Credentials,
) -> AppResult<SealedCredentials> {
    let seal = |s: &Secret, column: &'static str| {
        let aad = credential_aad(id, column);
        let s = s.clone();
        async move { vault.seal(&s, &aad).await }
    };
    let refresh_token = match &c.refresh_token {
        Some(t) => Some(seal(t, "refresh_token").await?),
        None => None,
    };
    let oauth1 = match &c.oauth1 {
        Some(o) => Some(SealedOAuth1 {
            token: seal(&o.token, "oauth1_access_token").await?,
            token_secret: seal(&o.token_secret, "oauth1_access_token_secret").await?,
            user_id: o.user_id.clone(),
            screen_name: o.screen_name.clone(),
            created_at: o.created_at,
        }),
        None => None,
    };
    Ok(SealedCredentials {
        access_token: seal(&c.access_token, "access_token").await?,
        refresh_token,
        expires_at: c.expires_at,
        oauth1,
    })
}

/// Opens sealed credentials of connection `id`.
pub async fn open(
    vault: &dyn TokenVault,
    id: ConnectionId,
    s: &SealedCredentials,
) -> AppResult<Credentials> {
    let refresh_token = match &s.refresh_token {
        Some(t) => Some(vault.open(t, &credential_aad(id, "refresh_token")).await?),
        None => None,
    };
    let oauth1 = match &s.oauth1 {
        Some(o) => Some(OAuth1Credentials {
            token: vault
                .open(&o.token, &credential_aad(id, "oauth1_access_token"))
                .await?,
            token_secret: vault
                .open(
                    &o.token_secret,
                    &credential_aad(id, "oauth1_access_token_secret"),
                )
                .await?,
            user_id: o.user_id.clone(),
            screen_name: o.screen_name.clone(),
            created_at: o.created_at,
        }),
        None => None,
    };
    Ok(Credentials {
        access_token: vault
            .open(&s.access_token, &credential_aad(id, "access_token"))
            .await?,
        refresh_token,
        expires_at: s.expires_at,
        oauth1,
    })
}

/// Why fresh credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// The platform refused the refresh token: the connection is now `needs_reauth`.
    #[error("the account must be connected again: {0}")]
    NeedsReauth(String),
    /// Another process is refreshing this connection right now; try again shortly.
    #[error("a refresh is already in progress")]
    Busy,
    /// The platform refused the refresh for another reason.
    #[error("refresh rejected ({code}): {reason}")]
    Rejected {
        /// Platform code.
        code: String,
        /// Reason.
        reason: String,
    },
    /// Temporary failure (network, 5xx, rate limit).
    #[error("refresh failed temporarily: {reason}")]
    Transient {
        /// For logs.
        reason: String,
        /// The platform's delay, if any.
        retry_after: Option<Duration>,
    },
    /// Store or vault failure.
    #[error(transparent)]
    App(#[from] AppError),
}

/// Keeps connections' credentials usable: opens them and refreshes them before they expire, at
/// most once at a time per connection.
#[derive(Clone)]
pub struct CredentialKeeper {
    connections: Arc<dyn ConnectionStore>,
    vault: Arc<dyn TokenVault>,
    platforms: Arc<dyn Platforms>,
    clock: Arc<dyn Clock>,
    lock_for: Duration,
}

impl std::fmt::Debug for CredentialKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialKeeper")
            .field("lock_for", &self.lock_for)
            .finish_non_exhaustive()
    }
}

impl CredentialKeeper {
    /// A keeper; a refresh lock lasts 60 seconds at most.
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        vault: Arc<dyn TokenVault>,
        platforms: Arc<dyn Platforms>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            connections,
            vault,
            platforms,
            clock,
            lock_for: Duration::seconds(60),
        }
    }

    /// The connection's credentials, opened, as stored.
    pub async fn load(&self, tenant: &Tenant, id: ConnectionId) -> AppResult<Credentials> {
        let sealed = self
            .connections
            .credentials(tenant, id)
            .await
            .map_err(|e| AppError::from_store("connection", e))?;
        open(self.vault.as_ref(), id, &sealed).await
    }

    /// Use case *refresh a token*: the connection's credentials, refreshed first if the access
    /// token expires within five minutes and a refresh token exists.
    ///
    /// The refresh takes the connection's refresh lock (so concurrent callers make one token
    /// call; the others get [`RefreshError::Busy`]), re-reads the credentials under the lock (a
    /// refresh that just finished elsewhere is reused), keeps the old refresh token when the
    /// platform returns none, and on `invalid_grant` marks the connection `needs_reauth`.
    pub async fn fresh(
        &self,
        tenant: &Tenant,
        connection: &Connection,
    ) -> Result<Credentials, RefreshError> {
        let id = connection.id;
        let now = self.clock.now();
        let current = self.load(tenant, id).await?;
        if !current.needs_refresh(now) {
            return Ok(current);
        }
        let Some(client) = self.platforms.oauth(connection.provider) else {
            return Ok(current);
        };
        let lock = now + self.lock_for;
        let locked = self
            .connections
            .try_lock_refresh(tenant, id, now, lock)
            .await
            .map_err(AppError::from)?;
        if !locked {
            return Err(RefreshError::Busy);
        }
        let result = self
            .refresh_locked(tenant, connection, client.as_ref(), lock)
            .await;
        if result.is_err() {
            // Best effort: the lock expires by itself if this fails too.
            if let Err(e) = self.connections.unlock_refresh(tenant, id, lock).await {
                tracing::warn!(connection = %id, error = %e, "could not release refresh lock");
            }
        }
        result
    }

    async fn refresh_locked(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        client: &dyn multivio_ports::platform::OAuthClient,
        lock: DateTime<Utc>,
    ) -> Result<Credentials, RefreshError> {
        let id = connection.id;
        let current = self.load(tenant, id).await?;
        let now = self.clock.now();
        let Some(refresh_token) = current
            .refresh_token
            .clone()
            .filter(|_| current.needs_refresh(now))
        else {
            // Someone refreshed while we waited for the lock.
            self.connections
                .unlock_refresh(tenant, id, lock)
                .await
                .map_err(AppError::from)?;
            return Ok(current);
        };
        match client.refresh(connection, &refresh_token).await {
            Ok(grant) => {
                let next = current.refreshed(grant);
                let sealed = seal(self.vault.as_ref(), id, &next).await?;
                self.connections
                    .store_refreshed(tenant, id, &sealed, lock)
                    .await
                    .map_err(AppError::from)?;
                tracing::info!(connection = %id, provider = %connection.provider, "token refreshed");
                Ok(next)
            }
            Err(OAuthError::InvalidGrant { reason }) => {
                self.connections
                    .set_status(tenant, id, ConnectionStatus::NeedsReauth)
                    .await
                    .map_err(AppError::from)?;
                tracing::info!(connection = %id, "refresh token refused; connection needs reauth");
                Err(RefreshError::NeedsReauth(reason))
            }
            Err(OAuthError::NotSupported) => {
                self.connections
                    .unlock_refresh(tenant, id, lock)
                    .await
                    .map_err(AppError::from)?;
                Ok(current)
            }
            Err(OAuthError::Rejected { code, reason }) => {
                Err(RefreshError::Rejected { code, reason })
            }
            Err(OAuthError::RateLimited { retry_after }) => Err(RefreshError::Transient {
                reason: "rate limited".to_owned(),
                retry_after,
            }),
            Err(OAuthError::Transient { reason }) => Err(RefreshError::Transient {
                reason,
                retry_after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use multivio_domain::Provider;
    use multivio_domain::connection::TokenGrant;
    use multivio_ports::StoreError;
    use multivio_ports::connections::MockConnectionStore;
    use multivio_ports::platform::{MockOAuthClient, MockPlatforms, OAuthClient};
    use multivio_ports::vault::SealedToken;
    use std::sync::Mutex;

    #[tokio::test]
    async fn each_column_is_sealed_with_its_own_associated_data() {
        let vault = fake_vault();
        let mut creds = credentials("a");
        creds.oauth1 = Some(OAuth1Credentials {
            token: Secret::new("o1"),
            token_secret: Secret::new("o1s"),
            user_id: Some("42".into()),
            screen_name: Some("ada".into()),
            created_at: None,
        });
        let sealed = seal(vault.as_ref(), cid(1), &creds).await.unwrap();
        let aad = |col: &str| format!("sealed(social_connections:{}:{col})|", cid(1));
        assert!(sealed.access_token.0.starts_with(&aad("access_token")));
        assert!(
            sealed
                .refresh_token
                .as_ref()
                .unwrap()
                .0
                .starts_with(&aad("refresh_token"))
        );
        assert!(
            sealed
                .oauth1
                .as_ref()
                .unwrap()
                .token_secret
                .0
                .starts_with(&aad("oauth1_access_token_secret"))
        );
        assert_eq!(open(vault.as_ref(), cid(1), &sealed).await.unwrap(), creds);
        // Moved to another row, or a column swapped: does not open.
        assert!(open(vault.as_ref(), cid(2), &sealed).await.is_err());
        let mut swapped = sealed.clone();
        swapped.access_token = sealed.refresh_token.clone().unwrap();
        assert_eq!(
            open(vault.as_ref(), cid(1), &swapped).await,
            Err(AppError::Unavailable(
                "token vault: sealed value does not open".into()
            ))
        );
    }

    fn sealed(access: &str, expires_in: chrono::Duration) -> SealedCredentials {
        let id = cid(1);
        SealedCredentials {
            access_token: SealedToken(format!(
                "sealed(social_connections:{id}:access_token)|{access}"
            )),
            refresh_token: Some(SealedToken(format!(
                "sealed(social_connections:{id}:refresh_token)|r-{access}"
            ))),
            expires_at: Some(now() + expires_in),
            oauth1: None,
        }
    }

    fn keeper(store: MockConnectionStore, client: Option<MockOAuthClient>) -> CredentialKeeper {
        let mut platforms = MockPlatforms::new();
        let client: Option<Arc<dyn OAuthClient>> =
            client.map(|c| Arc::new(c) as Arc<dyn OAuthClient>);
        platforms.expect_oauth().returning(move |_| client.clone());
        CredentialKeeper::new(Arc::new(store), fake_vault(), Arc::new(platforms), clock())
    }

    #[tokio::test]
    async fn fresh_tokens_are_used_as_they_are() {
        let mut store = MockConnectionStore::new();
        store
            .expect_credentials()
            .returning(|_, _| Ok(sealed("a", chrono::Duration::hours(1))));
        store.expect_try_lock_refresh().never();
        let c = keeper(store, None)
            .fresh(&tenant(), &connection(1, Provider::X, true, 1))
            .await
            .unwrap();
        assert_eq!(c.access_token.expose(), "a");
    }

    #[tokio::test]
    async fn a_refresh_finished_elsewhere_is_reused() {
        let reads = Arc::new(Mutex::new(0));
        let mut store = MockConnectionStore::new();
        let r = reads.clone();
        store.expect_credentials().returning(move |_, _| {
            let mut n = r.lock().unwrap();
            *n += 1;
            Ok(if *n == 1 {
                sealed("old", chrono::Duration::minutes(1))
            } else {
                sealed("new", chrono::Duration::hours(2))
            })
        });
        store
            .expect_try_lock_refresh()
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        store
            .expect_unlock_refresh()
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut client = MockOAuthClient::new();
        client.expect_refresh().never();
        let c = keeper(store, Some(client))
            .fresh(&tenant(), &connection(1, Provider::X, true, 1))
            .await
            .unwrap();
        assert_eq!(c.access_token.expose(), "new");
    }

    #[tokio::test]
    async fn a_rotated_refresh_token_is_stored_sealed() {
        let mut store = MockConnectionStore::new();
        store
            .expect_credentials()
            .returning(|_, _| Ok(sealed("old", chrono::Duration::minutes(1))));
        store
            .expect_try_lock_refresh()
            .returning(|_, _, _, _| Ok(true));
        store
            .expect_store_refreshed()
            .withf(|_, _, s, _| {
                s.refresh_token
                    .as_ref()
                    .is_some_and(|t| t.0.ends_with("|rotated"))
                    && s.access_token.0.ends_with("|fresh")
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let mut client = MockOAuthClient::new();
        client.expect_refresh().times(1).returning(|_, _| {
            Ok(TokenGrant {
                access_token: Secret::new("fresh"),
                refresh_token: Some(Secret::new("rotated")),
                expires_at: None,
            })
        });
        let c = keeper(store, Some(client))
            .fresh(&tenant(), &connection(1, Provider::X, true, 1))
            .await
            .unwrap();
        assert_eq!(c.refresh_token.unwrap().expose(), "rotated");
    }

    #[tokio::test]
    async fn transient_refresh_failures_release_the_lock() {
        let mut store = MockConnectionStore::new();
        store
            .expect_credentials()
            .returning(|_, _| Ok(sealed("old", chrono::Duration::minutes(1))));
        store
            .expect_try_lock_refresh()
            .returning(|_, _, _, _| Ok(true));
        store
            .expect_unlock_refresh()
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut client = MockOAuthClient::new();
        client.expect_refresh().returning(|_, _| {
            Err(OAuthError::Transient {
                reason: "503".into(),
            })
        });
        let r = keeper(store, Some(client))
            .fresh(&tenant(), &connection(1, Provider::X, true, 1))
            .await;
        assert!(matches!(r, Err(RefreshError::Transient { .. })));
    }

    #[tokio::test]
    async fn missing_credentials_are_not_found() {
        let mut store = MockConnectionStore::new();
        store
            .expect_credentials()
            .returning(|_, _| Err(StoreError::NotFound));
        let r = keeper(store, None).load(&tenant(), cid(1)).await;
        assert_eq!(r, Err(AppError::NotFound("connection")));
    }
}
