//! `Idempotency-Key` for API requests: a repeat with the same key answers the first response
//! and does nothing new.

use async_trait::async_trait;
use multivio_domain::Tenant;

use crate::error::StoreError;

/// What a reservation of a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new and now reserved for this request: run it, then [`IdempotencyStore::complete`]
    /// (or [`IdempotencyStore::release`] if it failed in a way worth retrying).
    Reserved,
    /// The same request ran before: answer what it answered.
    Replay {
        /// Its HTTP status.
        status: u16,
        /// Its JSON body.
        body: serde_json::Value,
    },
    /// The same key is running right now (a reservation left without an answer for a few
    /// minutes is abandoned, and the next request takes it over).
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// Stored answers of idempotent requests, per tenant and key.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Reserves `key` for the request whose fingerprint is `request_hash`, atomically (two
    /// concurrent requests with one key: one is `Reserved`, the other `InProgress`).
    async fn reserve(
        &self,
        tenant: &Tenant,
        key: &str,
        request_hash: &str,
    ) -> Result<Reservation, StoreError>;

    /// Stores the answer of a reserved key.
    async fn complete(
        &self,
        tenant: &Tenant,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Forgets a reserved key whose request failed without effect, so it may be retried.
    async fn release(&self, tenant: &Tenant, key: &str) -> Result<(), StoreError>;
}
