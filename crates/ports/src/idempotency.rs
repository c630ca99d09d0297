//! `Idempotency-Key` for API requests: a repeat with the same key answers the first response
//! and does nothing new — also when the first attempt's process died after its effect
//! committed and before its answer was stored.

use async_trait::async_trait;
use multivio_domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use multivio_domain::{PostId, Tenant};

use crate::error::StoreError;

/// What a reservation of a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new (or its earlier reservation was abandoned before any effect) and is now
    /// reserved for this attempt: run the request, passing the claim into the transaction of
    /// its effect, then [`IdempotencyStore::complete`] (or [`IdempotencyStore::release`] if it
    /// failed without effect).
    Reserved(IdempotencyClaim),
    /// The same request ran before: answer what it answered.
    Replay {
        /// Its HTTP status.
        status: u16,
        /// Its JSON body.
        body: serde_json::Value,
    },
    /// The same request's effect committed (on this post) but its answer was never stored —
    /// the process stopped in between. Answer from the effect; never run it again.
    Committed {
        /// The post the effect created or changed.
        post_id: PostId,
    },
    /// The same key is running right now (a reservation left with neither effect nor answer
    /// for a few minutes is abandoned, and the next request takes it over).
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// Stored answers of idempotent requests, per tenant and key.
///
/// The effect side lives in [`crate::posts::PostStore::apply`]: a change carrying a claim
/// records its post on the reservation in the same transaction, and commits only while that
/// attempt still holds the reservation.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Reserves `key` for the request whose fingerprint (method, path and body bytes) is
    /// `fingerprint`, atomically: two concurrent requests with one key get one `Reserved` and
    /// one `InProgress`.
    async fn reserve(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
        fingerprint: &[u8],
    ) -> Result<Reservation, StoreError>;

    /// Stores the answer of a reserved key.
    async fn complete(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Forgets this attempt's reservation when its request failed without effect, so the key
    /// may be retried. Does nothing once an effect is recorded.
    async fn release(&self, tenant: &Tenant, claim: &IdempotencyClaim) -> Result<(), StoreError>;
}
