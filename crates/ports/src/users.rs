//! Users, their quota (`user_info`) and their billing records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::contact::Email;
use multivio_domain::quota::Quota;
use multivio_domain::subscription::{BillingOutcome, SubscriptionHistoryEntry};
use multivio_domain::user::{NewUser, Profile, User, VerificationSends};
use multivio_domain::{FirebaseUid, Secret, Tenant, UserId};

use crate::error::StoreError;

/// A user after an upsert, and whether the row was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// The stored user.
    pub user: User,
    /// `true` when the row did not exist.
    pub created: bool,
}

/// Users (`users` rows).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with this Firebase uid (the RLS claim is the uid itself).
    async fn find_by_firebase_uid(&self, uid: &FirebaseUid) -> Result<Option<User>, StoreError>;

    /// Creates the user on first sight, atomically with its `user_info` row holding `quota`
    /// (a full quota whose period starts now) — or, when an account of the same person was
    /// deleted during a period still current, that period continued
    /// ([`Quota::continuing`](multivio_domain::quota::Quota::continuing) over what
    /// [`UserStore::delete`] kept under the uid's hash and, only when `new.email_verified`, the
    /// address's: see [`carryover_keys`](multivio_domain::quota::carryover_keys)); on a known
    /// uid, refreshes `email`, `auth_provider` and `email_verified` (a verified
    /// address stays verified; a changed address takes the identity's flag and voids a pending
    /// verification) and leaves everything else. One statement
    /// (`INSERT … ON CONFLICT (firebase_uid) DO UPDATE`), so concurrent first requests create
    /// one row. An email already used by another uid → [`StoreError::Duplicate`] `email`.
    async fn upsert_from_identity(
        &self,
        new: &NewUser,
        quota: &Quota,
    ) -> Result<Upserted, StoreError>;

    /// The tenant's own user.
    async fn get(&self, tenant: &Tenant) -> Result<User, StoreError>;

    /// Stores the tenant's profile fields; a taken username → [`StoreError::Duplicate`]
    /// `username` (case-insensitive uniqueness is ensured by the domain lower-casing it).
    async fn update_profile(&self, tenant: &Tenant, profile: &Profile) -> Result<User, StoreError>;

    /// Deletes the user and, by cascade, everything they own — keeping, in the same
    /// transaction, what the quota needs for the rest of the current period (its start, the
    /// monthly quota, the posts left) under hashes of the user's
    /// [`carryover_keys`](multivio_domain::quota::carryover_keys), until that period ends. A
    /// period that has already ended is not kept.
    async fn delete(&self, tenant: &Tenant) -> Result<(), StoreError>;

    /// The verification mails recently sent to the tenant (`users.email_verification_sends`),
    /// for the resend limits.
    async fn verification_sends(&self, tenant: &Tenant) -> Result<VerificationSends, StoreError>;

    /// Compare-and-set: only while the stored sends still equal `expected` (so two resends at
    /// once cannot both pass the limits), stores a new verification token's hash (replacing
    /// any previous one) with its expiry, `sent_at` as the last send, and `sends` as the sends
    /// to count — and only while the address is still `email`, the one the token is mailed to
    /// (a token mailed to one address never verifies another). `Ok(false)`, and nothing
    /// written, when the sends or the address changed meanwhile.
    // One compare-and-set of one row: what is expected and what is written, field by field.
    #[allow(clippy::too_many_arguments)]
    async fn record_verification_send(
        &self,
        tenant: &Tenant,
        email: &Email,
        token: &Secret,
        expires_at: DateTime<Utc>,
        sent_at: DateTime<Utc>,
        expected: &VerificationSends,
        sends: &VerificationSends,
    ) -> Result<bool, StoreError>;

    /// Not tenant-scoped (the link is opened without a session). Atomically: finds the user whose
    /// unexpired token is `token`, sets `email_verified`, clears the token (single use) and
    /// returns the tenant; `None` for an unknown, used or expired token.
    async fn confirm_email(
        &self,
        token: &Secret,
        now: DateTime<Utc>,
    ) -> Result<Option<Tenant>, StoreError>;

    /// Not tenant-scoped (billing webhooks): the user with this Stripe customer id.
    async fn find_by_stripe_customer(&self, customer_id: &str) -> Result<Option<User>, StoreError>;

    /// Not tenant-scoped (billing webhooks): the user with this id.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
}

/// The monthly quota (`user_info.monthly_post_quota`, `remaining_posts`, `last_quota_reset`,
/// `quota_anchor`, `quota_resets_at`).
///
/// Consumption and refunds are not here: they happen inside [`crate::posts::PostStore::apply`],
/// atomically with the post change that causes them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// The tenant's quota.
    async fn get(&self, tenant: &Tenant) -> Result<Quota, StoreError>;

    /// Compare-and-set: advances the quota to `next`'s period only if the period's start as
    /// read ([`Quota::last_quota_reset`]; a row without one starts at its creation) still equals
    /// `expected_last_reset` (so concurrent resets apply once). `Ok(false)` when another
    /// reset won. When `next` starts a later period, that period begins with the full quota of
    /// the plan in force as stored (a downgrade waiting for the period's end becomes its
    /// monthly quota; [`QuotaState::advance_to`](multivio_domain::quota::QuotaState::advance_to)),
    /// so the stored quota may differ from `next`: read it again. When it does not, the quota is
    /// written back as stored, with the period's end as [`Quota::resets_at`] computes it (which
    /// repairs an end missing or left stale).
    async fn reset_period(
        &self,
        tenant: &Tenant,
        expected_last_reset: DateTime<Utc>,
        next: &Quota,
    ) -> Result<bool, StoreError>;

    /// Not tenant-scoped (a periodic task): up to `limit` tenants whose period ended at `now`
    /// by the end written with it ([`Quota::resets_at`] as computed then), or for whom none is
    /// written, with their quota. An end that was stale (written by an older build) shows as a
    /// quota that does not [`Quota::needs_reset`]: the caller writes it back.
    async fn due_for_reset(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(Tenant, Quota)>, StoreError>;

    /// Not tenant-scoped (a periodic task): deletes the quota carry-overs of deleted accounts
    /// whose period ended at `now` (see [`UserStore::delete`]); returns how many.
    async fn purge_expired_carryovers(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Whether a billing event was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApplied {
    /// First time: its effects were written.
    Applied,
    /// Seen before: nothing was written.
    AlreadyProcessed,
}

/// Billing state and history.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait BillingStore: Send + Sync {
    /// Records the event id and applies `outcome`, **in one transaction**:
    /// - the event id is inserted into the processed-events table; if it is already there,
    ///   nothing else happens and the answer is [`EventApplied::AlreadyProcessed`];
    /// - `outcome.subscription` (when `Some`) is written to `users` and `user_info` only if the
    ///   stored `last_event_at` still equals `expected_last_event_at`, else
    ///   [`StoreError::Conflict`] and nothing is written (the caller reloads and recomputes);
    /// - the quota (when `outcome.monthly_post_quota` or `outcome.quota_period_start` is
    ///   `Some`) becomes
    ///   [`outcome.quota_after`](multivio_domain::subscription::BillingOutcome::quota_after) of
    ///   the stored one, read under a row lock: an upgrade at once keeping the posts used, a
    ///   downgrade waiting for the period's end (`user_info.pending_monthly_post_quota`), a
    ///   paid invoice's newer period with a full quota;
    /// - `outcome.history` (when `Some`) is inserted into `subscription_history`.
    async fn apply_event(
        &self,
        tenant: &Tenant,
        event_id: &str,
        expected_last_event_at: Option<DateTime<Utc>>,
        outcome: &BillingOutcome,
    ) -> Result<EventApplied, StoreError>;

    /// Records the payment provider's customer of the tenant — only when it has none (a
    /// customer once linked is never replaced). `Ok(false)` when another one is linked;
    /// [`StoreError::Duplicate`] (`stripe_customer_id`) when the customer is another
    /// account's (so is an event naming it for this tenant, from
    /// [`BillingStore::apply_event`]).
    async fn link_customer(&self, tenant: &Tenant, customer_id: &str) -> Result<bool, StoreError>;

    /// The tenant's history, newest first.
    async fn history(&self, tenant: &Tenant) -> Result<Vec<SubscriptionHistoryEntry>, StoreError>;
}
