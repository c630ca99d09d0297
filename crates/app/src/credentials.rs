//! Credentials: sealing, opening and refreshing a connection's tokens.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use multivio_domain::Tenant;
use multivio_domain::connection::{Connection, ConnectionStatus, Credentials, OAuth1Credentials};
use multivio_domain::{ConnectionId, Secret};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::platform::{OAuthError, Platforms};
use multivio_ports::system::Clock;
use multivio_ports::vault::{
    SealedCredentials, SealedOAuth1, TokenVault, VaultError, credential_aad,
};

use crate::error::{AppError, AppResult};

/// Pauses before storing refreshed tokens again when the store could not be reached.
const STORE_RETRY_PAUSES: [Duration; 2] = [Duration::milliseconds(250), Duration::seconds(1)];

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

/// Seals OAuth 1.0a tokens bound to their connection and columns.
pub async fn seal_oauth1(
    vault: &dyn TokenVault,
    id: ConnectionId,
    o: &OAuth1Credentials,
) -> AppResult<SealedOAuth1> {
    Ok(SealedOAuth1 {
        token: vault
            .seal(&o.token, &credential_aad(id, "oauth1_access_token"))
            .await?,
        token_secret: vault
            .seal(
                &o.token_secret,
                &credential_aad(id, "oauth1_access_token_secret"),
            )
            .await?,
        user_id: o.user_id.clone(),
        screen_name: o.screen_name.clone(),
        created_at: o.created_at,
    })
}

/// Opens sealed credentials of connection `id`.
pub async fn open(
    vault: &dyn TokenVault,
    id: ConnectionId,
    s: &SealedCredentials,
) -> AppResult<Credentials> {
    Ok(open_sealed(vault, id, s).await?)
}

/// [`open`], telling a value that no longer opens ([`VaultError::Corrupt`]: sealed under a key
/// since removed, or damaged) from a vault that is unavailable.
async fn open_sealed(
    vault: &dyn TokenVault,
    id: ConnectionId,
    s: &SealedCredentials,
) -> Result<Credentials, VaultError> {
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
    /// The platform refused the refresh token, but the connection changed meanwhile (signed in
    /// again, or refreshed elsewhere): the refused token was no longer its own, and what is
    /// stored now is current. Nothing was marked.
    #[error("the connection changed while its token was being refreshed")]
    Superseded,
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
    /// The stored credentials no longer open (sealed under a key since removed, or damaged):
    /// the connection is now `needs_reauth`.
    #[error("the stored credentials cannot be opened")]
    Unreadable,
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

    /// [`CredentialKeeper::load`]; credentials that no longer open mark the connection
    /// `needs_reauth` ([`RefreshError::Unreadable`]).
    async fn load_usable(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
    ) -> Result<Credentials, RefreshError> {
        let sealed = self
            .connections
            .credentials(tenant, id)
            .await
            .map_err(|e| AppError::from_store("connection", e))?;
        self.open_usable(tenant, id, &sealed).await
    }

    /// Opens `sealed`, the credentials of connection `id` as read; credentials that no longer
    /// open mark the connection `needs_reauth` ([`RefreshError::Unreadable`]).
    pub async fn open_usable(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        sealed: &SealedCredentials,
    ) -> Result<Credentials, RefreshError> {
        match self.open_sealed(id, sealed).await {
            Ok(c) => Ok(c),
            Err(e) => Err(self.unopened(tenant, id, e).await),
        }
    }

    /// Opens `sealed`, the credentials of connection `id`, and nothing else: what a failure
    /// means for the connection is [`CredentialKeeper::unopened`]'s (for a caller that must
    /// not write meanwhile — the worker opens them while it holds the post, which the vault's
    /// opening must therefore keep short: the in-process vault takes microseconds).
    pub(crate) async fn open_sealed(
        &self,
        id: ConnectionId,
        sealed: &SealedCredentials,
    ) -> Result<Credentials, VaultError> {
        open_sealed(self.vault.as_ref(), id, sealed).await
    }

    /// Credentials of connection `id` that did not open: the refresh error that says so. Ones
    /// that no longer open ([`VaultError::Corrupt`]) mark the connection `needs_reauth`
    /// ([`RefreshError::Unreadable`]); a vault out of reach is passing.
    pub(crate) async fn unopened(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        error: VaultError,
    ) -> RefreshError {
        match error {
            VaultError::Corrupt => {
                if let Err(e) = self
                    .connections
                    .set_status(tenant, id, ConnectionStatus::NeedsReauth)
                    .await
                {
                    return AppError::from(e).into();
                }
                tracing::warn!(connection = %id, "stored credentials do not open; connection needs reauth");
                RefreshError::Unreadable
            }
            e => AppError::from(e).into(),
        }
    }

    /// Use case *refresh a token*: the connection's credentials, refreshed first if the access
    /// token expires within five minutes and a refresh token exists.
    ///
    /// The refresh takes the connection's refresh lock (so concurrent callers make one token
    /// call; the others get [`RefreshError::Busy`]), re-reads the credentials under the lock (a
    /// refresh that just finished elsewhere is reused), keeps the old refresh token when the
    /// platform returns none, and on `invalid_grant` marks the connection `needs_reauth` —
    /// unless the connection changed meanwhile ([`RefreshError::Superseded`]).
    pub async fn fresh(
        &self,
        tenant: &Tenant,
        connection: &Connection,
    ) -> Result<Credentials, RefreshError> {
        let current = self.load_usable(tenant, connection.id).await?;
        self.refreshed_if_expiring(tenant, connection, current)
            .await
    }

    /// `current` (the connection's credentials as read), refreshed first if the access token
    /// expires within five minutes and a refresh token exists, as [`CredentialKeeper::fresh`].
    pub async fn refreshed_if_expiring(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        current: Credentials,
    ) -> Result<Credentials, RefreshError> {
        let now = self.clock.now();
        if !current.needs_refresh(now) {
            return Ok(current);
        }
        self.refresh_if(tenant, connection, current, move |c: &Credentials| {
            c.needs_refresh(now)
        })
        .await
    }

    /// Use case *refresh after the platform refused a token*: `rejected` (the credentials a
    /// publish was just refused with) are refreshed once — unless another process already
    /// replaced them, then those are returned. Without a refresh token the connection needs a
    /// new sign-in ([`RefreshError::NeedsReauth`]).
    pub async fn refresh_rejected(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        rejected: &Credentials,
    ) -> Result<Credentials, RefreshError> {
        let current = self.load_usable(tenant, connection.id).await?;
        if current.access_token != rejected.access_token {
            return Ok(current);
        }
        if current.refresh_token.is_none() || self.platforms.oauth(connection.provider).is_none() {
            self.connections
                .set_status(tenant, connection.id, ConnectionStatus::NeedsReauth)
                .await
                .map_err(AppError::from)?;
            tracing::info!(connection = %connection.id, "platform refused a token that cannot be refreshed; connection needs reauth");
            return Err(RefreshError::NeedsReauth(
                "the platform refused the token and it cannot be refreshed".to_owned(),
            ));
        }
        let refused = rejected.access_token.clone();
        self.refresh_if(tenant, connection, current, move |c: &Credentials| {
            c.access_token == refused
        })
        .await
    }

    /// Refreshes `current` under the connection's refresh lock while `stale` holds for the
    /// credentials as stored (re-read under the lock).
    async fn refresh_if(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        current: Credentials,
        stale: impl Fn(&Credentials) -> bool + Send + Sync,
    ) -> Result<Credentials, RefreshError> {
        let id = connection.id;
        let now = self.clock.now();
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
            .refresh_locked(tenant, connection, client.as_ref(), lock, &stale)
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
        stale: &(dyn Fn(&Credentials) -> bool + Send + Sync),
    ) -> Result<Credentials, RefreshError> {
        let id = connection.id;
        let current = self.load_usable(tenant, id).await?;
        let Some(refresh_token) = current.refresh_token.clone().filter(|_| stale(&current)) else {
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
                // The platform may have replaced the refresh token already: the new one lives
                // only here until stored, so a store that could not be reached is tried again
                // (a few times, while the lock is still ours).
                let mut pauses = STORE_RETRY_PAUSES.iter();
                let mut retried = false;
                loop {
                    match self
                        .connections
                        .store_refreshed(tenant, id, &sealed, lock)
                        .await
                    {
                        Ok(()) => break,
                        // An earlier try may have been written with only its answer lost (the
                        // write released the lock): then the row holds exactly what we sealed.
                        Err(StoreError::Conflict(e)) if retried => {
                            let stored = self
                                .connections
                                .credentials(tenant, id)
                                .await
                                .map_err(AppError::from)?;
                            if stored.access_token != sealed.access_token {
                                return Err(AppError::from(StoreError::Conflict(e)).into());
                            }
                            break;
                        }
                        Err(StoreError::Unavailable(e)) => match pauses.next() {
                            Some(pause) if self.clock.now() + *pause < lock => {
                                tracing::warn!(connection = %id, error = %e, "refreshed tokens not stored yet; trying again");
                                if let Ok(pause) = pause.to_std() {
                                    tokio::time::sleep(pause).await;
                                }
                                retried = true;
                            }
                            _ => return Err(AppError::from(StoreError::Unavailable(e)).into()),
                        },
                        Err(e) => return Err(AppError::from(e).into()),
                    }
                }
                tracing::info!(connection = %id, provider = %connection.provider, "token refreshed");
                Ok(next)
            }
            Err(OAuthError::InvalidGrant { reason }) => {
                let ours = self
                    .connections
                    .refresh_refused(tenant, id, lock)
                    .await
                    .map_err(AppError::from)?;
                if !ours {
                    tracing::info!(connection = %id, "refresh token refused, but the connection changed meanwhile");
                    return Err(RefreshError::Superseded);
                }
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
mod tests;
