//! Social connections.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::connection::{AccountLabel, Connection, ConnectionStatus, ProviderAccountId};
use multivio_domain::{ConnectionId, Provider, Tenant};

use crate::error::StoreError;
use crate::vault::{SealedCredentials, SealedOAuth1};

/// Social connections (`social_connections`), with their sealed credentials.
///
/// One primary per (user, provider) is enforced by the store too: a partial unique index on
/// `(user_id, provider) WHERE is_primary`, so any write that would create a second primary fails
/// with [`StoreError::Conflict`] and writes nothing. Which connection should be primary is
/// decided by `multivio_domain::connection::primary`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// The tenant's connections, oldest first.
    async fn list(&self, tenant: &Tenant) -> Result<Vec<Connection>, StoreError>;

    /// The tenant's connections of one provider, oldest first.
    async fn list_for_provider(
        &self,
        tenant: &Tenant,
        provider: Provider,
    ) -> Result<Vec<Connection>, StoreError>;

    /// One connection.
    async fn get(&self, tenant: &Tenant, id: ConnectionId) -> Result<Connection, StoreError>;

    /// The tenant's connection to that platform account, if any.
    async fn find_by_account(
        &self,
        tenant: &Tenant,
        provider: Provider,
        account: &ProviderAccountId,
    ) -> Result<Option<Connection>, StoreError>;

    /// Inserts a connection with its credentials (sealed with the connection's own id).
    /// [`StoreError::Conflict`] when the account is already connected or when
    /// `connection.is_primary` and another primary exists; nothing is written then.
    async fn insert(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        credentials: &SealedCredentials,
    ) -> Result<Connection, StoreError>;

    /// Reconnects an existing connection: replaces its credentials, label, account type and
    /// metadata from `connection`, sets `status` active, and keeps `is_primary` and
    /// `created_at` as stored.
    async fn reconnect(
        &self,
        tenant: &Tenant,
        connection: &Connection,
        credentials: &SealedCredentials,
    ) -> Result<Connection, StoreError>;

    /// Applies primary-flag changes for the tenant's connections of `provider` in one
    /// transaction, demotions first. [`StoreError::NotFound`] if a connection is not the
    /// tenant's or not of that provider (nothing written).
    async fn set_primary_flags(
        &self,
        tenant: &Tenant,
        provider: Provider,
        changes: &[(ConnectionId, bool)],
    ) -> Result<(), StoreError>;

    /// Stores OAuth 1.0a tokens on the connection (the seed's `oauth1_*` columns), replacing
    /// any before.
    async fn set_oauth1(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        oauth1: &SealedOAuth1,
    ) -> Result<Connection, StoreError>;

    /// Sets or clears the label.
    async fn update_label(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        label: Option<AccountLabel>,
    ) -> Result<Connection, StoreError>;

    /// Sets the status (e.g. `needs_reauth` after the platform rejected the credentials).
    async fn set_status(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        status: ConnectionStatus,
    ) -> Result<(), StoreError>;

    /// In one transaction that locks the tenant's connections of the provider: deletes `id`,
    /// then makes `promote` primary if given — only if no remaining connection is primary by
    /// then. [`StoreError::Conflict`] if `promote` is gone (the caller reloads and recomputes).
    async fn delete(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        promote: Option<ConnectionId>,
    ) -> Result<(), StoreError>;

    /// The account a post's target publishes through, with its sealed credentials, in one
    /// read: connection `id` when the target names one (and it is of `provider`), else the
    /// tenant's primary of `provider`; `None` when there is no such connection. The worker
    /// reads it with the post instead ([`crate::posts::PostStore::modify_with_account`], the
    /// same rule); this is the read for a caller without a post step.
    async fn publishing_account(
        &self,
        tenant: &Tenant,
        provider: Provider,
        id: Option<ConnectionId>,
    ) -> Result<Option<(Connection, SealedCredentials)>, StoreError>;

    /// The sealed credentials of a connection.
    async fn credentials(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
    ) -> Result<SealedCredentials, StoreError>;

    /// Takes the connection's refresh lock until `until` if it is free or expired at `now`
    /// (a conditional `UPDATE … WHERE refresh_locked_until IS NULL OR refresh_locked_until < now`),
    /// so one connection is refreshed at most once at a time across all processes. `Ok(false)`
    /// when someone else holds it.
    async fn try_lock_refresh(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores refreshed credentials (and `expires_at`), sets `status` active and releases the
    /// refresh lock, in one statement — only while the lock taken until `lock` (the `until`
    /// given to [`ConnectionStore::try_lock_refresh`]) is still the caller's: when it expired
    /// and someone else took it, [`StoreError::Conflict`] and nothing is written, so a slow
    /// refresh never overwrites a newer token.
    async fn store_refreshed(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        credentials: &SealedCredentials,
        lock: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Across tenants (for the worker): up to `limit` active connections whose access token
    /// expires before `before` and that hold a refresh token, soonest first, with their
    /// tenants — to refresh ahead of expiry.
    async fn expiring(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(Tenant, Connection)>, StoreError>;

    /// Releases the refresh lock taken until `lock`, without changing the credentials; does
    /// nothing when the lock is someone else's by now.
    async fn unlock_refresh(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        lock: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The platform refused the refresh token: marks the connection `needs_reauth` and
    /// releases the refresh lock — only while the lock taken until `lock` is still the
    /// caller's. `false` (nothing written) when it no longer is: a new sign-in (which clears
    /// the lock) or another refresh came between, and the refused token is no longer the
    /// connection's.
    async fn refresh_refused(
        &self,
        tenant: &Tenant,
        id: ConnectionId,
        lock: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
