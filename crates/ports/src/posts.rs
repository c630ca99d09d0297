//! Posts, and the unit of work that changes a post together with its quota and jobs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::connection::Connection;
use multivio_domain::idempotency::IdempotencyClaim;
use multivio_domain::job::{FencingToken, JobOutcome, NewJob};
use multivio_domain::page::PageSize;
use multivio_domain::post::{Post, PostStatus};
use multivio_domain::quota::QuotaEffect;
use multivio_domain::{ConnectionId, JobId, PostId, Provider, Tenant};

use crate::error::{Page, StoreError};
use crate::vault::SealedCredentials;

/// Filters and page of a post listing (newest first by `created_at`, then id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostQuery {
    /// Only this status.
    pub status: Option<PostStatus>,
    /// Only posts targeting this platform.
    pub platform: Option<Provider>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: PageSize,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// The row write of a [`PostChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostWrite {
    /// Insert a new post (its `revision` is stored as given, normally 0).
    Insert(Post),
    /// Replace the post, only if its stored revision is still `expected_revision`; the stored
    /// revision becomes `expected_revision + 1`.
    Update {
        /// New state.
        post: Post,
        /// Revision the change was computed from.
        expected_revision: i64,
    },
    /// Delete the post, only if its stored revision is still `expected_revision`.
    Delete {
        /// Which post.
        id: PostId,
        /// Revision the decision was made on.
        expected_revision: i64,
    },
}

/// A job whose lease guards the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStep {
    /// The job.
    pub job_id: JobId,
    /// Its current fencing token: the change commits only if it still matches.
    pub fencing_token: FencingToken,
    /// What becomes of the job, in the same transaction; `None` keeps it running (lease held).
    pub outcome: Option<JobOutcome>,
    /// While the job keeps running (`outcome` is `None`): its lease is renewed to at least
    /// this time in the same transaction, so a step that writes before a send needs no
    /// separate renewal.
    pub renew_until: Option<DateTime<Utc>>,
}

/// Everything one use case changes about a post, applied as a unit by [`PostStore::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostChange {
    /// The post row.
    pub write: PostWrite,
    /// The quota effect (the post's `quota_consumed` flag in `write` already reflects it).
    pub quota: QuotaEffect,
    /// Jobs to enqueue.
    pub enqueue: Vec<NewJob>,
    /// Cancel the post's jobs, waiting or claimed (a worker holding one loses its lease, so it
    /// sends nothing), except the job in `job`. Applied before `enqueue`.
    pub cancel_pending_jobs: bool,
    /// A claimed job guarding the change and its outcome.
    pub job: Option<JobStep>,
    /// The `Idempotency-Key` reservation of the request making the change: the change commits
    /// only while that attempt still holds it, and records the post on it.
    pub idempotency: Option<IdempotencyClaim>,
}

impl PostChange {
    /// A change that only writes the post.
    pub fn write(write: PostWrite) -> Self {
        Self {
            write,
            quota: QuotaEffect::None,
            enqueue: Vec::new(),
            cancel_pending_jobs: false,
            job: None,
            idempotency: None,
        }
    }
}

/// What a [`PostStore::modify`] decision does with the post it was handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Apply this change; its write must be an update of that post computed from the revision
    /// handed over.
    Write(Box<PostChange>),
    /// Leave the post as it is.
    Keep,
}

/// A decision over a post, made while the store holds the post locked.
pub type Decide = Box<dyn FnOnce(&Post) -> Decision + Send>;

/// The account a publishing job sends through, as stored: the connection and its sealed
/// credentials, or `None` when there is no such connection (as
/// [`ConnectionStore::publishing_account`](crate::connections::ConnectionStore::publishing_account)
/// answers).
pub type StoredAccount = Option<(Connection, SealedCredentials)>;

/// The decision of a publishing step that needs the account it sends through
/// ([`PostStore::modify_with_account`]): handed the account, it may wait (opening the
/// credentials), then returns the decision over the post. It runs while the post is locked
/// and a pooled connection is held: local, bounded work only — no store call, no network.
pub type DecideWithAccount = Box<
    dyn FnOnce(StoredAccount) -> std::pin::Pin<Box<dyn std::future::Future<Output = Decide> + Send>>
        + Send,
>;

/// Which account a publishing step reads with its post ([`PostStore::modify_with_account`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRef {
    /// The target's platform.
    pub provider: Provider,
    /// The connection the target names; `None` for the tenant's primary of `provider`.
    pub connection: Option<ConnectionId>,
}

/// Posts (`posts`).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PostStore: Send + Sync {
    /// One post.
    async fn get(&self, tenant: &Tenant, id: PostId) -> Result<Post, StoreError>;

    /// A page of the tenant's posts.
    async fn list(&self, tenant: &Tenant, query: &PostQuery) -> Result<Page<Post>, StoreError>;

    /// The unit of work: **everything in `change` happens in one transaction, or nothing does.**
    ///
    /// In order:
    /// 1. if `change.job` is set, the job's fencing token must still match
    ///    ([`StoreError::LeaseLost`] otherwise); its outcome is written (or, while it keeps
    ///    running, its lease renewed to `renew_until`) in the same statement;
    /// 2. the row write, guarded by the expected revision ([`StoreError::Conflict`] when the
    ///    post changed since it was read; [`StoreError::NotFound`] when it is gone or another
    ///    tenant's);
    /// 3. the quota effect on the tenant's `user_info`:
    ///    - `Consume`: `UPDATE user_info SET remaining_posts = remaining_posts - 1 WHERE user_id
    ///      = $1 AND remaining_posts > 0` — zero rows → [`StoreError::QuotaExceeded`], so of two
    ///      posts scheduled with one unit left exactly one succeeds. A post consumes at most
    ///      once: the domain only asks when the post's `quota_consumed` flag was false, and the
    ///      revision check makes two concurrent requests for one post commit at most once;
    ///    - `Refund`: `remaining_posts = LEAST(remaining_posts + 1, monthly_post_quota)` — only
    ///      when the post's unit was consumed in the current period (a reset already replaced
    ///      older ones);
    /// 4. `cancel_pending_jobs`, then `enqueue`;
    /// 5. with `change.idempotency`, the reservation of that attempt records the post
    ///    ([`StoreError::Conflict`] when the attempt no longer holds the reservation).
    ///
    /// Returns the stored post (with its new revision), or `None` after a delete.
    async fn apply(&self, tenant: &Tenant, change: PostChange) -> Result<Option<Post>, StoreError>;

    /// Read, decide and write as one transaction: the post is read and locked until the
    /// transaction ends, `decide` is given it, and a [`Decision::Write`] is applied as
    /// [`PostStore::apply`] applies a change (same order, same errors), in that transaction.
    /// A concurrent writer of the post waits instead of making the change stale, so a step
    /// whose decision depends on the stored post never has to retry on a revision conflict.
    /// `decide` runs at most once, quickly (the row is locked meanwhile). A change's job step
    /// is checked with its write, after the decision: a decision that writes nothing is not
    /// fenced. Steps of a claimed job go through here rather than through `apply`, so that
    /// they lock the post before the job, in the order the API's changes lock them.
    ///
    /// A store may commit several steps (of any tenants) in one transaction, each undone alone
    /// when it fails: a step is answered once its write is durable, and its post stays locked
    /// until then; a failure of the whole transaction fails each of its steps (none written).
    /// Dropping the call does not then undo a step the store has started.
    ///
    /// Returns the post as stored after the decision; [`StoreError::NotFound`] when there is
    /// no such post of the tenant; [`StoreError::Conflict`] when the decision's write is not
    /// an update of that post at the revision handed over (nothing written).
    async fn modify(&self, tenant: &Tenant, id: PostId, decide: Decide)
    -> Result<Post, StoreError>;

    /// [`PostStore::modify`] for a publishing job's step that needs the account it sends
    /// through: the account `account` names is read in the same transaction as the post (as
    /// [`ConnectionStore::publishing_account`](crate::connections::ConnectionStore::publishing_account)
    /// reads it, the two reads sent together), `decide` is handed it and then decides over
    /// the locked post. Saves the account's transaction of its own; the account is not locked.
    /// Same answers and errors as `modify`, and the account read's errors (nothing written);
    /// `decide` is not called when the post is not found.
    async fn modify_with_account(
        &self,
        tenant: &Tenant,
        id: PostId,
        account: AccountRef,
        decide: DecideWithAccount,
    ) -> Result<Post, StoreError>;
}
