//! The publishing worker: process one claimed job, record a platform's result.
//!
//! A job is one target of one post. Its lifecycle (see docs/architecture.md): claimed with a
//! lease and a fencing token; right before each send the lease is renewed and the target
//! marked `publishing` ([`SendGuard`]; by the job's first step when the send follows it at
//! once), so a send is either not made (nothing recorded, nothing posted)
//! or recorded as possibly made; the platform's answer is recorded with the job's
//! outcome in one fenced step. A send found `publishing` by a later claim — its worker died
//! mid-send — is re-sent only within the platform's deduplication window, otherwise looked up
//! on the platform ([`Publisher::reconcile`]) or left for a person to review. Whatever goes
//! wrong, a job is claimed at most [`RetryPolicy::max_claims`] times: then its target fails (or
//! needs review, if a send may have gone out) and the post settles.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use multivio_domain::connection::{Connection, ConnectionStatus, Credentials};
use multivio_domain::job::{ClaimedJob, JobOutcome, RetryPolicy};
use multivio_domain::post::{
    PartResult, Post, PostError, PostStatus, TargetError, TargetOutcome, TargetStatus,
};
use multivio_domain::quota::QuotaEffect;
use multivio_domain::{ConnectionId, JobId, MediaId};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::jobs::JobQueue;
use multivio_ports::media::{MediaBytes, MediaRepository, MediaStore, MediaStoreError};
use multivio_ports::platform::{
    Attachment, Platforms, PostRef, PublishError, PublishRequest, PublishedPost, Publisher,
    ReplyTo, SendGuard,
};
use multivio_ports::posts::{
    AccountRef, Decide, DecideWithAccount, Decision, JobStep, PostChange, PostStore, PostWrite,
    StoredAccount,
};
use multivio_ports::system::Clock;
use multivio_ports::vault::{TokenVault, VaultError};

use crate::credentials::{CredentialKeeper, RefreshError};
use crate::error::{AppError, AppResult};

/// What processing a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobReport {
    /// The target was published.
    Published,
    /// The target failed for good, with this code.
    Failed(String),
    /// The target may have gone out: a person reviews it.
    NeedsReview,
    /// The job runs again at this time.
    RetryAt(DateTime<Utc>),
    /// Nothing to do (post deleted or cancelled, target settled…).
    Discarded(String),
    /// Another worker holds the job now; nothing was written and nothing sent.
    LeaseLost,
}

/// The ports [`PublishWorker`] uses.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct WorkerPorts {
    /// Posts (and the unit of work).
    pub posts: Arc<dyn PostStore>,
    /// Job queue.
    pub jobs: Arc<dyn JobQueue>,
    /// Connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Media rows.
    pub media: Arc<dyn MediaRepository>,
    /// Media bytes.
    pub media_store: Arc<dyn MediaStore>,
    /// Token vault.
    pub vault: Arc<dyn TokenVault>,
    /// Platform clients.
    pub platforms: Arc<dyn Platforms>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Publishes posts, one claimed job (one target) at a time.
#[derive(Clone)]
pub struct PublishWorker {
    posts: Arc<dyn PostStore>,
    jobs: Arc<dyn JobQueue>,
    connections: Arc<dyn ConnectionStore>,
    media: Arc<dyn MediaRepository>,
    media_store: Arc<dyn MediaStore>,
    platforms: Arc<dyn Platforms>,
    clock: Arc<dyn Clock>,
    keeper: CredentialKeeper,
    policy: RetryPolicy,
    lease: Duration,
    /// Connections whose refresh ahead of expiry failed lately, and when to try them again
    /// (this process only; the lock keeps processes from refreshing one at the same time).
    refresh_later: Arc<Mutex<std::collections::HashMap<ConnectionId, DateTime<Utc>>>>,
}

/// How long a connection whose refresh ahead of expiry failed is left alone by the sweep
/// (publishing still refreshes it when it must).
const REFRESH_RETRY_AFTER: Duration = Duration::minutes(15);

impl std::fmt::Debug for PublishWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishWorker")
            .field("policy", &self.policy)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// How long to wait when another process is refreshing the connection's token.
const REFRESH_BUSY_DELAY_SECS: i64 = 10;
/// The longest a platform's publishing cap defers a target ([`PublishError::Deferred`]):
/// Instagram's and Threads' caps count posts over 24 hours, so their reset is never further; a
/// later time a platform states is read as this.
pub const MAX_DEFERRAL: Duration = Duration::hours(25);
/// A job's lease unless [`PublishWorker::with_lease`] says otherwise. The worker renews it while
/// the job runs (a heartbeat) and right before each send.
pub const DEFAULT_LEASE: Duration = Duration::seconds(60);

/// How a reply names a posted part.
fn post_ref(part: &PartResult) -> PostRef {
    PostRef {
        id: part.platform_post_id.clone(),
        reference: part.reference.clone(),
    }
}

/// What part `index` of a thread replies to: the thread's first post and the part before.
fn reply_to(post: &Post, key: &str, index: usize) -> Option<ReplyTo> {
    let result = post.target_result(key)?;
    let parent = result.parts.get(index.checked_sub(1)?)?;
    let root = result.parts.first()?;
    Some(ReplyTo {
        root: post_ref(root),
        parent: post_ref(parent),
    })
}

/// The idempotency key of a (post, target): the same for every attempt.
pub fn idempotency_key(post: &Post, result_key: &str) -> String {
    format!("multivio-{}-{result_key}", post.id)
}

/// A fraction in `[0, 1)` that differs from job to job and attempt to attempt, so workers
/// retrying together spread out. (Derived, not random: the core holds no random source, and
/// spreading is all it is for.)
fn jitter(job: &ClaimedJob) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for b in job
        .job_id
        .0
        .as_bytes()
        .iter()
        .chain(job.attempt.to_le_bytes().iter())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 1000) as f64 / 1000.0
}

enum Prepared {
    Ready {
        /// The account the job publishes through, read with the post.
        account: Account,
        post: Box<Post>,
        key: String,
        /// When the first step also marked the target as being sent (its first part to send).
        marked: Option<DateTime<Utc>>,
    },
    Done(JobReport),
}

/// The account a job publishes through, read with its credentials in the post's first step.
/// Credentials that no longer open mark the connection `needs_reauth` once that step is over
/// (whatever it found; not when the post is gone or the step failed); the rest of what is
/// wrong with the account is acted on once the step has found the post still to publish.
enum Account {
    /// No connection of the target's platform (or the one it names is gone).
    Missing,
    /// The account needs a new sign-in.
    NeedsReauth,
    /// No client for the platform on this server.
    NotConfigured,
    /// Its credentials could not be made usable.
    Unusable(Box<Connection>, RefreshError),
    /// Ready to send (its credentials as read: refreshed before the send if about to expire).
    Ready {
        connection: Box<Connection>,
        publisher: Arc<dyn Publisher>,
        credentials: Box<Credentials>,
    },
}

/// The account as the first step resolved it: credentials that did not open are acted on
/// after the step ([`PublishWorker::settle_account`]).
type Opened = Result<Account, (Box<Connection>, VaultError)>;

/// What became of a send found in flight (its worker died mid-send).
enum Recovered {
    /// Safe to send again: the platform deduplicates it.
    Resend,
    /// The platform has it.
    Found(PublishedPost),
    /// Nobody can tell: a person reviews it.
    Review,
}

/// The [`SendGuard`] of one part: renews the job's lease and records the target as being sent
/// (under the job's fencing token), right before the publisher sends.
struct PartGuard<'a> {
    worker: &'a PublishWorker,
    job: &'a ClaimedJob,
    key: &'a str,
    connection_id: ConnectionId,
    /// The post as last read or written.
    post: Mutex<Post>,
    /// Why the guard refused, when it did.
    refusal: Mutex<Option<AppError>>,
    /// When the job's first step already marked this send (and renewed the lease).
    marked: Option<DateTime<Utc>>,
}

impl<'a> PartGuard<'a> {
    fn new(
        worker: &'a PublishWorker,
        job: &'a ClaimedJob,
        key: &'a str,
        connection_id: ConnectionId,
        post: Post,
    ) -> Self {
        Self {
            worker,
            job,
            key,
            connection_id,
            post: Mutex::new(post),
            refusal: Mutex::new(None),
            marked: None,
        }
    }

    /// A guard whose send the job's first step marked at `at`, renewing the lease with it.
    fn marked(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.marked = at;
        self
    }

    /// Why the send was withheld: a lost lease, or an error to handle as any other.
    fn refusal(&self) -> AppError {
        let taken = match self.refusal.lock() {
            Ok(mut r) => r.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        taken.unwrap_or(AppError::LeaseLost)
    }

    fn post(&self) -> Post {
        match self.post.lock() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_post(&self, post: Post) {
        match self.post.lock() {
            Ok(mut p) => *p = post,
            Err(poisoned) => *poisoned.into_inner() = post,
        }
    }

    /// Marks the target as being sent, renewing the job's lease in the same transaction.
    async fn begin(&self) -> AppResult<()> {
        let w = self.worker;
        let now = w.clock.now();
        let key = self.key.to_owned();
        let connection_id = self.connection_id;
        let running = w.running(self.job);
        let (stored, ()) = w
            .modify(self.job, move |post| {
                let mut sending = post.clone();
                sending.begin_target(&key, connection_id, now)?;
                Ok((Some(running_change(post, sending, running)), ()))
            })
            .await?;
        self.set_post(stored);
        Ok(())
    }
}

#[async_trait]
impl SendGuard for PartGuard<'_> {
    async fn before_send(&self) -> Result<(), String> {
        // Marked by the step that started the job, moments ago: the lease renewed then is
        // certainly still this job's (no other worker can claim it before it ends), so the
        // mark stands. Past half the lease (a platform call before the send took long), the
        // mark is made again under the job's fencing token, as for any other send.
        if let Some(at) = self.marked
            && self.worker.clock.now() < at + self.worker.lease / 2
        {
            return Ok(());
        }
        match self.begin().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let reason = match &e {
                    AppError::LeaseLost => "another worker holds the job now".to_owned(),
                    other => other.to_string(),
                };
                match self.refusal.lock() {
                    Ok(mut r) => *r = Some(e),
                    Err(poisoned) => *poisoned.into_inner() = Some(e),
                }
                Err(reason)
            }
        }
    }
}

impl PublishWorker {
    /// The worker, with [`DEFAULT_LEASE`].
    pub fn new(ports: WorkerPorts, policy: RetryPolicy) -> Self {
        let keeper = CredentialKeeper::new(
            ports.connections.clone(),
            ports.vault,
            ports.platforms.clone(),
            ports.clock.clone(),
        );
        Self {
            posts: ports.posts,
            jobs: ports.jobs,
            connections: ports.connections,
            media: ports.media,
            media_store: ports.media_store,
            platforms: ports.platforms,
            clock: ports.clock,
            keeper,
            policy,
            lease: DEFAULT_LEASE,
            refresh_later: Arc::default(),
        }
    }

    /// The same worker with jobs leased for `lease` at a time.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a claimed job is the worker's before it must be renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Claims up to `limit` due jobs (and jobs whose worker died), each leased for
    /// [`PublishWorker::lease`].
    pub async fn claim(&self, worker_id: &str, limit: u32) -> AppResult<Vec<ClaimedJob>> {
        Ok(self
            .jobs
            .claim_due(worker_id, self.clock.now(), limit, self.lease)
            .await?)
    }

    /// Renews the lease of a job being processed. `Ok(false)`: another worker holds it now
    /// (this one's next write or send is refused anyway).
    pub async fn heartbeat(&self, job: &ClaimedJob) -> AppResult<bool> {
        match self
            .jobs
            .extend_lease(job.job_id, job.fencing_token, self.clock.now() + self.lease)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::LeaseLost) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// When the next job becomes claimable, if any.
    pub async fn next_due(&self) -> AppResult<Option<DateTime<Utc>>> {
        Ok(self.jobs.next_due().await?)
    }

    /// Claims up to `limit` due jobs and processes them one after the other (the server's loop
    /// processes them concurrently, with heartbeats).
    pub async fn run_once(
        &self,
        worker_id: &str,
        limit: u32,
    ) -> AppResult<Vec<(JobId, AppResult<JobReport>)>> {
        let claimed = self.claim(worker_id, limit).await?;
        let mut reports = Vec::with_capacity(claimed.len());
        for job in claimed {
            let report = self.process(&job).await;
            reports.push((job.job_id, report));
        }
        Ok(reports)
    }

    /// Use case *refresh tokens ahead of expiry*: up to `limit` connections whose token
    /// expires within the refresh margin are refreshed, one refresh per connection at a time
    /// across all workers (a connection being refreshed elsewhere is skipped). One whose refresh
    /// fails is left alone for a while, without keeping the others waiting. Returns how many
    /// were refreshed.
    ///
    /// Stops before the next connection once `stopping()` holds: a caller shutting down waits
    /// for this instead of dropping it, since a refresh dropped between the platform's answer
    /// and its storing loses the new tokens — and with them a single-use refresh token.
    pub async fn refresh_expiring(
        &self,
        limit: u32,
        stopping: impl Fn() -> bool + Send + Sync,
    ) -> AppResult<usize> {
        let now = self.clock.now();
        let before =
            now + Duration::seconds(multivio_domain::connection::Credentials::REFRESH_MARGIN_SECS);
        let skip: std::collections::HashSet<ConnectionId> = {
            let mut later = match self.refresh_later.lock() {
                Ok(l) => l,
                Err(poisoned) => poisoned.into_inner(),
            };
            later.retain(|_, at| *at > now);
            later.keys().copied().collect()
        };
        let wanted = limit.saturating_add(u32::try_from(skip.len()).unwrap_or(u32::MAX));
        let due = self.connections.expiring(before, wanted).await?;
        let mut refreshed = 0;
        for (tenant, connection) in due
            .into_iter()
            .filter(|(_, c)| !skip.contains(&c.id))
            .take(limit as usize)
        {
            if stopping() {
                break;
            }
            match self.keeper.fresh(&tenant, &connection).await {
                Ok(c) if c.expires_at.is_none_or(|at| at > before) => refreshed += 1,
                // Still expiring: the platform refreshes none (or gave a short token).
                Ok(_) => self.refresh_later(connection.id, now),
                Err(RefreshError::Busy | RefreshError::Superseded) => {}
                Err(e) => {
                    tracing::info!(connection = %connection.id, error = %e, "refresh ahead of expiry failed");
                    self.refresh_later(connection.id, now);
                }
            }
        }
        Ok(refreshed)
    }

    fn refresh_later(&self, id: ConnectionId, now: DateTime<Utc>) {
        let mut later = match self.refresh_later.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        later.insert(id, now + REFRESH_RETRY_AFTER);
    }

    /// Use case *process one publishing job*.
    ///
    /// Reads the account the job publishes through, then the post: starts publishing a due
    /// scheduled post (marking the send in the same step when it follows at once), refreshes
    /// the token if it is about to expire, publishes each part with a key stable across
    /// attempts — the [`SendGuard`] renewing the lease and recording the send right before it
    /// goes — then records the result and completes the job in one atomic step, settling the
    /// post (and refunding its quota unit if every target failed).
    ///
    /// Never leaves the job running: an error reschedules it with backoff, and a job past its
    /// claim cap gives its target up.
    pub async fn process(&self, job: &ClaimedJob) -> AppResult<JobReport> {
        let outcome = if self.policy.may_claim(job.attempt) {
            self.process_inner(job).await
        } else {
            self.give_up(job, "it was tried too many times").await
        };
        match outcome {
            Ok(report) => Ok(report),
            Err(AppError::LeaseLost) => Ok(JobReport::LeaseLost),
            Err(e) => self.after_error(job, e).await,
        }
    }

    /// An error while processing: the job runs again later, or — past its claim cap — its
    /// target is given up. Only an error writing that down is returned.
    async fn after_error(&self, job: &ClaimedJob, error: AppError) -> AppResult<JobReport> {
        tracing::warn!(job = %job.job_id, attempt = job.attempt, error = %error, "publishing job failed");
        let outcome = if self.policy.may_claim(job.attempt + 1) {
            let run_at = self.clock.now() + self.policy.jittered_delay(job.attempt, jitter(job));
            self.reschedule(job, run_at, &error.to_string()).await
        } else {
            self.give_up(job, &error.to_string()).await
        };
        match outcome {
            Err(AppError::LeaseLost) => Ok(JobReport::LeaseLost),
            other => other,
        }
    }

    /// The job's target fails with a plain reason (or needs review, when a send may have gone
    /// out), so the post settles. When the post cannot be read, the job gives up on a later run
    /// instead (a store out of reach for a while), so its post is not left publishing with no
    /// job — for as many claims again as the cap; then, or when the post is gone, the job is
    /// discarded (a row that never reads: the store reports it as unavailable too).
    async fn give_up(&self, job: &ClaimedJob, why: &str) -> AppResult<JobReport> {
        let post = match self.posts.get(&job.tenant, job.post_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => return self.discard(job, "post not found").await,
            Err(e @ StoreError::Unavailable(_))
                if job.attempt <= self.policy.max_claims.saturating_mul(2) =>
            {
                tracing::warn!(job = %job.job_id, error = %e, "could not read a given-up job's post yet");
                let run_at =
                    self.clock.now() + self.policy.jittered_delay(job.attempt, jitter(job));
                return self
                    .reschedule(job, run_at, &format!("giving up: {e}"))
                    .await;
            }
            Err(e) => {
                tracing::error!(job = %job.job_id, error = %e, "giving up a job whose post does not read");
                return self.discard(job, &format!("post unreadable: {e}")).await;
            }
        };
        let key = post.platforms.result_key(&job.target);
        let name = job.target.provider.display_name();
        let in_flight = post
            .target_result(&key)
            .is_some_and(|r| r.status == TargetStatus::Publishing);
        let tries = job.attempt.saturating_sub(1);
        let result = if in_flight {
            self.review(
                job,
                "interrupted",
                format!(
                    "Multivio stopped trying after {tries} attempts while a send to {name} was \
                     in progress ({why}); check the account, then mark it published or send \
                     it again"
                ),
            )
            .await
        } else {
            // A post still scheduled never started (its account, say, never read): it starts
            // now with this target failed, so it settles rather than staying scheduled in the
            // past with no job left.
            let outcome = TargetOutcome::Failed(TargetError::new(
                "gave_up",
                format!("Multivio could not publish to {name} after {tries} attempts: {why}"),
            ));
            let start = post.status == PostStatus::Scheduled;
            self.record_result_with(job, None, start, outcome, JobOutcome::Completed)
                .await
                .map(|_| JobReport::Failed("gave_up".to_owned()))
        };
        match result {
            Err(AppError::LeaseLost) => Err(AppError::LeaseLost),
            // A passing failure: the job runs again later and gives up then.
            Err(e @ (AppError::Conflict(_) | AppError::Unavailable(_))) => {
                tracing::warn!(job = %job.job_id, error = %e, "could not record a given-up job yet");
                let run_at =
                    self.clock.now() + self.policy.jittered_delay(job.attempt, jitter(job));
                self.reschedule(job, run_at, &format!("giving up: {e}"))
                    .await
            }
            // The post has no such target (it never started publishing): nothing to settle.
            Err(e) => {
                tracing::error!(job = %job.job_id, error = %e, "could not record a given-up job");
                self.discard(job, &format!("given up: {why}")).await
            }
            ok => ok,
        }
    }

    async fn process_inner(&self, job: &ClaimedJob) -> AppResult<JobReport> {
        let (account, post, key, marked) = match self.prepare(job).await? {
            Prepared::Done(report) => return Ok(report),
            Prepared::Ready {
                account,
                post,
                key,
                marked,
            } => (account, *post, key, marked),
        };
        let provider = job.target.provider;
        let platform = provider.display_name();
        // A target found being sent (a worker died mid-send, or the platform left the outcome
        // open) may be on the platform: nothing that stops this attempt may settle it as not
        // sent (unless this job's first step just marked it).
        let may_be_out = marked.is_none()
            && post
                .target_result(&key)
                .is_some_and(|r| r.status == TargetStatus::Publishing);
        let (connection, publisher, mut credentials) = match account {
            Account::Ready {
                connection,
                publisher,
                credentials,
            } => {
                let current = *credentials;
                if marked.is_some() {
                    // Marked because the token had more than the refresh margin left moments
                    // ago: nothing may come between the mark and the send, not even a refresh
                    // that crossed the margin meanwhile (a failed one would leave the target
                    // looking interrupted).
                    (*connection, publisher, current)
                } else {
                    match self
                        .keeper
                        .refreshed_if_expiring(&job.tenant, &connection, current)
                        .await
                    {
                        Ok(fresh) => (*connection, publisher, fresh),
                        Err(e) => {
                            return self
                                .refresh_failed(job, &connection, e, may_be_out, false)
                                .await;
                        }
                    }
                }
            }
            Account::Missing => {
                let bound = post
                    .target_result(&key)
                    .and_then(|r| r.bound_connection())
                    .is_some();
                let reason = if bound {
                    format!("the {platform} account it went out on is no longer connected")
                } else {
                    format!("no {platform} account is connected")
                };
                return self
                    .fail_or_review(job, may_be_out, "no_connection", reason)
                    .await;
            }
            Account::NeedsReauth => {
                let reason = format!("reconnect your {platform} account");
                return self
                    .fail_or_review(job, may_be_out, "needs_reauth", reason)
                    .await;
            }
            Account::NotConfigured => {
                let reason = format!("{platform} is not configured on this server");
                return self
                    .fail_or_review(job, may_be_out, "not_configured", reason)
                    .await;
            }
            Account::Unusable(connection, e) => {
                return self
                    .refresh_failed(job, &connection, e, may_be_out, false)
                    .await;
            }
        };
        let parts: Vec<(String, Vec<MediaId>)> = post
            .content()
            .parts_for(provider)
            .iter()
            .map(|p| (p.text.to_owned(), p.media_files.to_vec()))
            .collect();
        let base_key = idempotency_key(&post, &key);
        let name = post.name.as_str().to_owned();
        let options = post
            .platform_content
            .get(&provider)
            .map(|c| c.extra.clone())
            .unwrap_or_default();
        let mut post = post;
        // A thread continues from the first part not yet posted.
        let mut index = post.target_result(&key).map_or(0, |r| r.parts.len());
        let mut refreshed = false;
        // (Found being sent, unless this job's first step just marked it.)
        let mut in_flight = may_be_out;
        let mut marked = marked;
        // This part may already be on the platform (its earlier send's outcome is open) and is
        // being sent again under the same key: until it is confirmed, nothing may settle it as
        // not sent.
        let mut resending = false;
        while index < parts.len() {
            let (text, media_ids) = &parts[index];
            let request = |media: Vec<Attachment>| PublishRequest {
                post_id: post.id,
                target: job.target,
                text: text.clone(),
                connection: connection.clone(),
                credentials: credentials.clone(),
                media,
                part: index,
                reply_to: reply_to(&post, &key, index),
                idempotency_key: if index == 0 {
                    base_key.clone()
                } else {
                    format!("{base_key}-part{index}")
                },
                name: name.clone(),
                options: options.clone(),
            };
            // What a lookup on the platform compares with: the media rows, not their bytes.
            let lookup = request(self.media_rows(job, media_ids).await?);
            // A previous worker died while this part was being sent, or the platform left the
            // last send's outcome open.
            let found = if std::mem::take(&mut in_flight) {
                match self
                    .recover(job, publisher.as_ref(), &post, &key, &lookup)
                    .await?
                {
                    Recovered::Resend => {
                        resending = true;
                        None
                    }
                    Recovered::Found(published) => Some(published),
                    Recovered::Review => {
                        let name = provider.display_name();
                        return self
                            .review(
                                job,
                                "interrupted",
                                format!(
                                    "a send to {name} was interrupted and {name} offers no \
                                     way to tell whether it went out; check the account, \
                                     then mark it published or send it again"
                                ),
                            )
                            .await;
                    }
                }
            } else {
                None
            };
            let outcome = match found {
                Some(published) => Ok(published),
                None => {
                    let media = match self.attachments(job, media_ids).await? {
                        Ok(media) => media,
                        Err(report) => return Ok(report),
                    };
                    let guard = PartGuard::new(self, job, &key, connection.id, post.clone())
                        .marked(marked.take());
                    let outcome = publisher.publish(&request(media), &guard).await;
                    post = guard.post();
                    if matches!(outcome, Err(PublishError::NotSent { .. })) {
                        // Nothing was sent: a lost lease ends here, anything else is an
                        // error like any other (the job runs again later).
                        return Err(guard.refusal());
                    }
                    outcome
                }
            };
            // The platform did not say (a timeout after sending): look before deciding.
            let outcome = match outcome {
                Err(PublishError::Unknown { reason }) => {
                    match self
                        .recover(job, publisher.as_ref(), &post, &key, &lookup)
                        .await?
                    {
                        Recovered::Found(published) => Ok(published),
                        // The platform deduplicates a re-send: try again later, the send
                        // still counted as possibly made.
                        Recovered::Resend => {
                            return self.retry_in_flight(job, &connection, reason, None).await;
                        }
                        Recovered::Review => Err(PublishError::Unknown { reason }),
                    }
                }
                // A re-send of a part that may have gone out, put off by the platform: it stays
                // in flight with its first send's time, so that the next attempt looks for it
                // again and re-sends only while the platform still deduplicates (a plain retry
                // would start the window afresh, and a re-send past the real one could post
                // twice).
                Err(PublishError::Transient { reason }) if resending => {
                    return self.retry_in_flight(job, &connection, reason, None).await;
                }
                Err(PublishError::RateLimited { retry_after }) if resending => {
                    let delay = self.policy.rate_limit_delay(retry_after);
                    let reason = "rate limited".to_owned();
                    return self
                        .retry_in_flight(job, &connection, reason, Some(delay))
                        .await;
                }
                Err(PublishError::Deferred { until, reason, .. }) if resending => {
                    // Past the platform's memory of the key, the wait would only end in review.
                    let window_ends = post
                        .target_result(&key)
                        .and_then(|r| r.last_attempt_at)
                        .zip(publisher.dedup_window())
                        .map(|(sent, window)| sent + window);
                    if window_ends.is_none_or(|end| until >= end) {
                        let name = provider.display_name();
                        let reason = format!(
                            "{name} never confirmed the post and will not take it again before \
                             it forgets the first send ({reason})"
                        );
                        return self.review_may_be_out(job, reason).await;
                    }
                    let delay = Self::deferral_delay(self.clock.now(), until);
                    return self
                        .retry_in_flight(job, &connection, reason, Some(delay))
                        .await;
                }
                other => other,
            };
            let last = index + 1 == parts.len();
            match outcome {
                // Refused with nothing sent: nothing to write either.
                Err(PublishError::NotSent { reason }) => {
                    tracing::info!(job = %job.job_id, %reason, "send withheld");
                    return Err(AppError::LeaseLost);
                }
                // A refused token is refreshed once; the part is sent again (a 401 means
                // it was not posted).
                Err(PublishError::Unauthorized { reason }) if !refreshed => {
                    refreshed = true;
                    tracing::info!(connection = %connection.id, %reason, "platform refused the token; refreshing it once");
                    match self
                        .keeper
                        .refresh_rejected(&job.tenant, &connection, &credentials)
                        .await
                    {
                        Ok(fresh) => credentials = fresh,
                        // Unless it is a re-send (the first may be out), the 401 shows this
                        // part was not posted: a wait puts the target back to pending.
                        Err(e) => {
                            return self
                                .refresh_failed(job, &connection, e, resending, !resending)
                                .await;
                        }
                    }
                }
                // Refused again after a refresh, while the part may be out: a person checks.
                Err(PublishError::Unauthorized { reason }) if resending => {
                    self.connections
                        .set_status(&job.tenant, connection.id, ConnectionStatus::NeedsReauth)
                        .await?;
                    tracing::info!(connection = %connection.id, %reason, "platform refused the token during a re-send; connection needs reauth");
                    let reason = format!("reconnect your {} account", provider.display_name());
                    return self.review_may_be_out(job, reason).await;
                }
                Ok(published) if parts.len() > 1 => {
                    let part = PartResult {
                        platform_post_id: published.platform_post_id,
                        url: published.url,
                        reference: published.reference,
                    };
                    if last {
                        return self.finish_thread(job, &connection, &key, post, part).await;
                    }
                    post = self.record_part(job, &key, part).await?;
                    index += 1;
                    resending = false;
                }
                outcome => {
                    return self.handle_publish(job, &connection, outcome, None).await;
                }
            }
        }
        // Every part was posted before (a settled thread is discarded in prepare).
        let root = post
            .target_result(&key)
            .and_then(|r| r.parts.first().cloned());
        let Some(root) = root else {
            return self.discard(job, "nothing to post").await;
        };
        return self
            .handle_publish(
                job,
                &connection,
                Ok(PublishedPost {
                    platform_post_id: root.platform_post_id,
                    url: root.url,
                    reference: root.reference,
                }),
                None,
            )
            .await;
    }

    /// A part whose send was in flight when its worker died: re-sent when the platform still
    /// deduplicates it, else looked up on the platform, else left for review.
    async fn recover(
        &self,
        job: &ClaimedJob,
        publisher: &dyn Publisher,
        post: &Post,
        key: &str,
        request: &PublishRequest,
    ) -> AppResult<Recovered> {
        let now = self.clock.now();
        let sent_at = post.target_result(key).and_then(|r| r.last_attempt_at);
        // Without the time of the send, look back as far as a claim can last.
        let since = sent_at.unwrap_or(
            now - self.lease * i32::try_from(self.policy.max_claims).unwrap_or(i32::MAX),
        );
        // Look first, even where a re-send would be deduplicated: the first send may still be
        // under way on a slow platform.
        match publisher.reconcile(request, since).await {
            Ok(Some(found)) => {
                tracing::info!(job = %job.job_id, platform_post_id = %found.platform_post_id, "an interrupted send was found on the platform");
                return Ok(Recovered::Found(found));
            }
            Ok(None) => {}
            // The lookup itself may work later: try again then (the send stays in flight).
            Err(PublishError::Transient { reason }) => {
                return Err(AppError::Unavailable(format!(
                    "looking up an interrupted send: {reason}"
                )));
            }
            Err(PublishError::RateLimited { .. }) => {
                return Err(AppError::Unavailable(
                    "looking up an interrupted send: rate limited".to_owned(),
                ));
            }
            Err(e) => {
                tracing::info!(job = %job.job_id, error = %e, "looking up an interrupted send failed");
            }
        }
        if let (Some(window), Some(at)) = (publisher.dedup_window(), sent_at)
            && now - at < window
        {
            return Ok(Recovered::Resend);
        }
        Ok(Recovered::Review)
    }

    /// A send whose outcome the platform left open, on a platform that deduplicates a re-send:
    /// the job runs again later (looking first, then re-sending with the same key); past the
    /// tries, a person reviews it. A platform's own `wait` (a rate limit) uses no try up.
    async fn retry_in_flight(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        reason: String,
        wait: Option<Duration>,
    ) -> AppResult<JobReport> {
        let name = connection.provider.display_name();
        if wait.is_none() && !self.policy.may_retry(job.attempt) {
            return self
                .review(
                    job,
                    "unknown_outcome",
                    format!(
                        "{name} never confirmed the post ({reason}); check the account, then \
                         mark it published or send it again"
                    ),
                )
                .await;
        }
        let run_at = self.clock.now()
            + wait.unwrap_or_else(|| self.policy.jittered_delay(job.attempt, jitter(job)));
        let error = TargetError::new(
            "unconfirmed",
            format!("{name} did not confirm the post yet ({reason}); checking again"),
        );
        self.record_result(
            job,
            TargetOutcome::RetryInFlight(error),
            JobOutcome::RetryAt {
                run_at,
                reason: reason.clone(),
            },
        )
        .await?;
        Ok(JobReport::RetryAt(run_at))
    }

    /// The media rows of one part, without their bytes (for a lookup on the platform).
    async fn media_rows(&self, job: &ClaimedJob, ids: &[MediaId]) -> AppResult<Vec<Attachment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .media
            .get_many(&job.tenant, ids)
            .await?
            .into_iter()
            .map(|file| Attachment {
                file,
                bytes: MediaBytes::none(),
            })
            .collect())
    }

    /// The attachments of one part, with their bytes; `Err(report)` when a file is gone (the
    /// target then fails).
    async fn attachments(
        &self,
        job: &ClaimedJob,
        ids: &[MediaId],
    ) -> AppResult<Result<Vec<Attachment>, JobReport>> {
        if ids.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let files = self.media.get_many(&job.tenant, ids).await?;
        if files.len() != ids.len() {
            let report = self
                .fail(
                    job,
                    "media_missing",
                    "an attached media file was deleted".to_owned(),
                )
                .await?;
            return Ok(Err(report));
        }
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            // The bytes are read when the publisher needs them, a chunk or a stream at a time.
            let bytes = match self.media_store.head(&file.filename).await {
                Ok(meta) => MediaBytes::stored(self.media_store.clone(), &file.filename, meta.size),
                Err(MediaStoreError::NotFound) => {
                    let report = self
                        .fail(
                            job,
                            "media_missing",
                            "an attached media file's bytes are gone".to_owned(),
                        )
                        .await?;
                    return Ok(Err(report));
                }
                Err(e) => return Err(e.into()),
            };
            attachments.push(Attachment { file, bytes });
        }
        Ok(Ok(attachments))
    }

    /// Records one posted part of a thread (not the last) under the job's lease.
    async fn record_part(&self, job: &ClaimedJob, key: &str, part: PartResult) -> AppResult<Post> {
        let now = self.clock.now();
        let key = key.to_owned();
        let running = self.running(job);
        let (stored, ()) = self
            .modify(job, move |post| {
                let mut changed = post.clone();
                changed.record_part(&key, part, now)?;
                Ok((Some(running_change(post, changed, running)), ()))
            })
            .await?;
        Ok(stored)
    }

    /// Use case step over the post as stored, while the store holds it locked
    /// ([`PostStore::modify`]): `decide` returns the change to apply (or none) and what the
    /// caller needs besides; a domain refusal comes back as the error, nothing written.
    async fn modify<T, F>(&self, job: &ClaimedJob, decide: F) -> AppResult<(Post, T)>
    where
        F: FnOnce(&Post) -> AppResult<(Option<PostChange>, T)> + Send + 'static,
        T: Send + 'static,
    {
        // The decision runs inside the store's transaction; what it found comes back here.
        let (found, outcome) = std::sync::mpsc::channel::<AppResult<T>>();
        let decide: Decide = Box::new(move |post: &Post| {
            let (decision, kept) = split(decide(post));
            // The receiver outlives the store's call.
            let _ = found.send(kept);
            decision
        });
        let stored = self
            .posts
            .modify(&job.tenant, job.post_id, decide)
            .await
            .map_err(|e| AppError::from_store("post", e))?;
        let value = outcome.try_recv().map_err(|_| {
            AppError::Unavailable("the post store did not hand the post over".to_owned())
        })??;
        Ok((stored, value))
    }

    /// The job as the guard of a step that keeps it running: its lease is renewed with the step.
    fn running(&self, job: &ClaimedJob) -> JobStep {
        JobStep {
            job_id: job.job_id,
            fencing_token: job.fencing_token,
            outcome: None,
            renew_until: Some(self.clock.now() + self.lease),
        }
    }

    /// The last part of a thread went out: it is recorded with the target's final outcome (the
    /// thread's first post) in one step.
    async fn finish_thread(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        key: &str,
        post: Post,
        last: PartResult,
    ) -> AppResult<JobReport> {
        // The parts before the last were recorded by this job: `post` has them.
        let root = post
            .target_result(key)
            .and_then(|r| r.parts.first().cloned())
            .unwrap_or_else(|| last.clone());
        self.handle_publish(
            job,
            connection,
            Ok(PublishedPost {
                platform_post_id: root.platform_post_id,
                url: root.url,
                reference: root.reference,
            }),
            Some(last),
        )
        .await
    }

    /// The account the job publishes through, as `stored` (read with the post), its
    /// credentials opened — all of it but what a failure to open them means for the
    /// connection, which [`PublishWorker::settle_account`] acts on once the step is over.
    async fn resolve_account(
        keeper: &CredentialKeeper,
        platforms: &dyn Platforms,
        job: &ClaimedJob,
        stored: StoredAccount,
    ) -> Opened {
        let provider = job.target.provider;
        let Some((connection, sealed)) = stored else {
            return Ok(Account::Missing);
        };
        if !job.tenant.owns(connection.user_id) || connection.provider != provider {
            return Ok(Account::Missing);
        }
        if connection.status == ConnectionStatus::NeedsReauth {
            return Ok(Account::NeedsReauth);
        }
        let Some(publisher) = platforms.publisher(provider) else {
            return Ok(Account::NotConfigured);
        };
        match keeper.open_sealed(connection.id, &sealed).await {
            Ok(credentials) => Ok(Account::Ready {
                connection: Box::new(connection),
                publisher,
                credentials: Box::new(credentials),
            }),
            Err(e) => Err((Box::new(connection), e)),
        }
    }

    /// The account as resolved, with credentials that did not open acted on (ones that no
    /// longer open mark the connection `needs_reauth`).
    async fn settle_account(&self, job: &ClaimedJob, opened: Opened) -> Account {
        match opened {
            Ok(account) => account,
            Err((connection, e)) => {
                let e = self.keeper.unopened(&job.tenant, connection.id, e).await;
                Account::Unusable(connection, e)
            }
        }
    }

    /// The post's first step for the job, as [`PublishWorker::modify`], with `account` (the
    /// one the job publishes through) read in the same transaction
    /// ([`PostStore::modify_with_account`]) and handed to `decide` with the post, and with the
    /// id of the connection read, if any.
    async fn modify_with_account<T, F>(
        &self,
        job: &ClaimedJob,
        account: AccountRef,
        decide: F,
    ) -> AppResult<(Post, Account, T)>
    where
        F: FnOnce(&Opened, Option<ConnectionId>, &Post) -> AppResult<(Option<PostChange>, T)>
            + Send
            + 'static,
        T: Send + 'static,
    {
        // The decision runs inside the store's transaction; what it found comes back here.
        let (found, outcome) = std::sync::mpsc::channel::<(Opened, AppResult<T>)>();
        let keeper = self.keeper.clone();
        let platforms = self.platforms.clone();
        let claimed = job.clone();
        let with_account: DecideWithAccount = Box::new(move |stored| {
            Box::pin(async move {
                let read = stored.as_ref().map(|(connection, _)| connection.id);
                let opened =
                    Self::resolve_account(&keeper, platforms.as_ref(), &claimed, stored).await;
                let decide: Decide = Box::new(move |post: &Post| {
                    let (decision, kept) = split(decide(&opened, read, post));
                    // The receiver outlives the store's call.
                    let _ = found.send((opened, kept));
                    decision
                });
                decide
            })
        });
        let stored = self
            .posts
            .modify_with_account(&job.tenant, job.post_id, account, with_account)
            .await
            .map_err(|e| AppError::from_store("post", e))?;
        let (opened, value) = outcome.try_recv().map_err(|_| {
            AppError::Unavailable("the post store did not hand the post over".to_owned())
        })?;
        let account = self.settle_account(job, opened).await;
        Ok((stored, account, value?))
    }

    /// Reads the account and the post and settles the trivial cases (post gone or cancelled,
    /// target settled).
    ///
    /// One step reads the account the job publishes through and the post, and, for the first
    /// of the post's jobs, starts publishing it (the store holds the post while one decides:
    /// its other jobs find it publishing). With the account ready to send through a publisher
    /// that sends a part without media at once ([`Publisher::sends_plain_parts_at_once`]) and
    /// a token with more than the refresh margin left, the same step marks the target as being
    /// sent when its next part has no media — the send follows at once, so the mark
    /// [`PartGuard`] would make right before it is made here, saving a transaction; otherwise
    /// the guard marks it after the publisher's own preparations (uploads, lookups).
    async fn prepare(&self, job: &ClaimedJob) -> AppResult<Prepared> {
        let now = self.clock.now();
        let running = self.running(job);
        let (tenant, target) = (job.tenant.clone(), job.target);
        // The job's account: the one its target names, or the platform's primary.
        let named = AccountRef {
            provider: target.provider,
            connection: target.connection_id,
        };
        let step = self
            .modify_with_account(job, named, move |account, read_id, read| {
                if !tenant.owns(read.user_id) || !read.platforms.contains(&target) {
                    return Ok((None, (None, None)));
                }
                // A target that went out on an account goes on there only
                // (`TargetResult::bound_connection`), even when the primary changed since: the
                // account read is not it, so that one is read next.
                let rebind = read
                    .target_result(&read.platforms.result_key(&target))
                    .and_then(|r| r.bound_connection())
                    .filter(|bound| Some(*bound) != read_id);
                // Nothing comes between this step and the send: the mark may be made here.
                let ready = match account {
                    Ok(Account::Ready {
                        connection,
                        publisher,
                        credentials,
                    }) if rebind.is_none()
                        && publisher.sends_plain_parts_at_once()
                        && !credentials.needs_refresh(now) =>
                    {
                        Some(connection.id)
                    }
                    _ => None,
                };
                let mut next = read.clone();
                let mut quota = Default::default();
                let started = read.status == PostStatus::Scheduled;
                if started {
                    quota = next.start_publishing(now)?;
                }
                let marked = ready.and_then(|id| mark_plain_send(&mut next, &target, id, now));
                if !started && marked.is_none() {
                    return Ok((None, (None, rebind)));
                }
                let change = PostChange {
                    quota,
                    ..running_change(read, next, running)
                };
                Ok((Some(change), (marked, rebind)))
            })
            .await;
        let step = match step {
            Ok((post, _, (marked, Some(bound)))) if job.tenant.owns(post.user_id) => {
                // (A connection gone reads as none: the target then cannot go on.)
                let bound = AccountRef {
                    connection: Some(bound),
                    ..named
                };
                self.modify_with_account(job, bound, |_, _, _| Ok((None, ())))
                    .await
                    .map(|(post, account, ())| (post, account, marked))
            }
            Ok((post, account, (marked, _))) => Ok((post, account, marked)),
            Err(e) => Err(e),
        };
        let (post, account, marked) = match step {
            Ok((post, account, marked)) if job.tenant.owns(post.user_id) => (post, account, marked),
            Ok(_) | Err(AppError::NotFound(_)) => {
                return self
                    .discard(job, "post not found")
                    .await
                    .map(Prepared::Done);
            }
            Err(e) => return Err(e),
        };
        if !post.platforms.contains(&job.target) {
            return self
                .discard(job, "target no longer selected")
                .await
                .map(Prepared::Done);
        }
        if post.status != PostStatus::Publishing {
            let status = post.status;
            return self
                .discard(job, &format!("post is {status}"))
                .await
                .map(Prepared::Done);
        }
        self.prepare_publishing(job, account, post, marked).await
    }

    async fn prepare_publishing(
        &self,
        job: &ClaimedJob,
        account: Account,
        post: Post,
        marked: Option<DateTime<Utc>>,
    ) -> AppResult<Prepared> {
        let key = post.platforms.result_key(&job.target);
        match post.target_result(&key).map(|r| r.status) {
            None => {
                return self
                    .discard(job, "target has no result")
                    .await
                    .map(Prepared::Done);
            }
            Some(s) if s.is_terminal() => {
                return self
                    .discard(job, "target already settled")
                    .await
                    .map(Prepared::Done);
            }
            Some(_) => {}
        }
        Ok(Prepared::Ready {
            account,
            post: Box::new(post),
            key,
            marked,
        })
    }

    /// A refresh of the account's token failed: the target fails (a refused or unreadable
    /// sign-in, retries used up) or the job waits (a refresh elsewhere, a passing failure) —
    /// but when the part `may_be_out` (an earlier send's outcome is open), what would fail the
    /// target leaves it for a person to check instead. `unsent`: the target was marked as being
    /// sent, but the platform refused the token, so nothing went out — a wait also puts the
    /// target back to pending (left `publishing`, the next attempt would take it for a send
    /// whose outcome is open).
    async fn refresh_failed(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        e: RefreshError,
        may_be_out: bool,
        unsent: bool,
    ) -> AppResult<JobReport> {
        let name = connection.provider.display_name();
        match e {
            RefreshError::NeedsReauth(_) => {
                let reason = format!("reconnect your {name} account");
                self.fail_or_review(job, may_be_out, "needs_reauth", reason)
                    .await
            }
            RefreshError::Unreadable => {
                let reason = format!(
                    "the stored sign-in of your {name} account can no longer be read; \
                     reconnect the account"
                );
                self.fail_or_review(job, may_be_out, "needs_reauth", reason)
                    .await
            }
            RefreshError::Rejected { code, reason } => {
                self.fail_or_review(job, may_be_out, &code, reason).await
            }
            RefreshError::Busy => {
                let run_at = self.clock.now() + Duration::seconds(REFRESH_BUSY_DELAY_SECS);
                self.wait_for_token(job, run_at, "token refresh in progress", unsent)
                    .await
            }
            RefreshError::Superseded => {
                let run_at = self.clock.now() + Duration::seconds(REFRESH_BUSY_DELAY_SECS);
                self.wait_for_token(job, run_at, "the account was signed in again", unsent)
                    .await
            }
            RefreshError::Transient {
                reason,
                retry_after,
            } => {
                if self.policy.may_retry(job.attempt) {
                    let delay = match retry_after {
                        Some(_) => self.policy.rate_limit_delay(retry_after),
                        None => self.policy.jittered_delay(job.attempt, jitter(job)),
                    };
                    let run_at = self.clock.now() + delay;
                    let reason = format!("token refresh failed: {reason}");
                    self.wait_for_token(job, run_at, &reason, unsent).await
                } else {
                    let reason = format!("could not refresh the {name} token");
                    self.fail_or_review(job, may_be_out, "token_refresh_failed", reason)
                        .await
                }
            }
            // Nothing went out (`unsent`): the target must not stay marked as being sent.
            RefreshError::App(e) if unsent => {
                let delay = self.policy.jittered_delay(job.attempt, jitter(job));
                let reason = format!("token refresh failed: {e}");
                self.wait_for_token(job, self.clock.now() + delay, &reason, true)
                    .await
            }
            RefreshError::App(e) => Err(e),
        }
    }

    async fn handle_publish(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        outcome: Result<PublishedPost, PublishError>,
        last_part: Option<PartResult>,
    ) -> AppResult<JobReport> {
        let name = connection.provider.display_name();
        let now = self.clock.now();
        // Each claim is one try; a rate limit waits for the platform's reset without using one
        // up (the claim cap still bounds it).
        let retry = |error: TargetError, delay: Option<Duration>| {
            let rate_limited = delay.is_some();
            if rate_limited || self.policy.may_retry(job.attempt) {
                let run_at = now
                    + delay.unwrap_or_else(|| self.policy.jittered_delay(job.attempt, jitter(job)));
                let reason = error.message.clone();
                (
                    TargetOutcome::RetryLater(error),
                    JobOutcome::RetryAt { run_at, reason },
                    JobReport::RetryAt(run_at),
                )
            } else {
                let code = error.code.clone();
                (
                    TargetOutcome::Failed(error),
                    JobOutcome::Completed,
                    JobReport::Failed(code),
                )
            }
        };
        let (target, job_outcome, report) = match outcome {
            Ok(published) => (
                TargetOutcome::Published {
                    platform_post_id: Some(published.platform_post_id),
                    url: published.url,
                },
                JobOutcome::Completed,
                JobReport::Published,
            ),
            Err(PublishError::Unauthorized { reason }) => {
                self.connections
                    .set_status(&job.tenant, connection.id, ConnectionStatus::NeedsReauth)
                    .await?;
                tracing::info!(connection = %connection.id, %reason, "platform refused the token; connection needs reauth");
                let error =
                    TargetError::new("needs_reauth", format!("reconnect your {name} account"));
                (
                    TargetOutcome::Failed(error),
                    JobOutcome::Completed,
                    JobReport::Failed("needs_reauth".to_owned()),
                )
            }
            Err(PublishError::RateLimited { retry_after }) => retry(
                TargetError::new("rate_limited", format!("{name} asked us to slow down")),
                Some(self.policy.rate_limit_delay(retry_after)),
            ),
            // The platform's daily cap: wait for the slot it frees, however far (bounded).
            Err(PublishError::Deferred {
                until,
                code,
                reason,
            }) => retry(
                TargetError::new(code, reason),
                Some(Self::deferral_delay(now, until)),
            ),
            Err(PublishError::Transient { reason }) => retry(
                TargetError::new("transient", format!("{name} is not responding: {reason}")),
                None,
            ),
            Err(PublishError::Rejected { code, reason }) => {
                let report = JobReport::Failed(code.clone());
                (
                    TargetOutcome::Failed(TargetError::new(code, reason)),
                    JobOutcome::Completed,
                    report,
                )
            }
            Err(PublishError::Unknown { reason }) => (
                TargetOutcome::NeedsReview(TargetError::new(
                    "unknown_outcome",
                    format!(
                        "{name} did not confirm the post ({reason}); check the account before retrying"
                    ),
                )),
                JobOutcome::Completed,
                JobReport::NeedsReview,
            ),
            // Withheld by the guard before anything was sent (the callers stop earlier; kept
            // for completeness): nothing to record.
            Err(PublishError::NotSent { .. }) => return Err(AppError::LeaseLost),
        };
        let last_part = matches!(target, TargetOutcome::Published { .. })
            .then_some(last_part)
            .flatten();
        // What the platform confirmed, for the log should it not be recorded (the job went to
        // another worker meanwhile, the database failed): the next attempt looks the post up
        // on the platform (or a person checks), and the id here is how an operator finds it.
        let confirmed = match &target {
            TargetOutcome::Published {
                platform_post_id,
                url,
            } => Some((platform_post_id.clone(), url.clone())),
            _ => None,
        };
        match self
            .record_result_with(job, last_part, false, target, job_outcome)
            .await
        {
            Err(e) if confirmed.is_some() => {
                let (platform_post_id, url) = confirmed.unwrap_or_default();
                tracing::warn!(
                    job = %job.job_id,
                    post = %job.post_id,
                    target = %job.target,
                    platform_post_id = platform_post_id.as_deref().unwrap_or("-"),
                    url = url.as_deref().unwrap_or("-"),
                    error = %e,
                    "the platform has the post, but its result was not recorded"
                );
                Err(e)
            }
            Err(e) => Err(e),
            Ok(_) => Ok(report),
        }
    }

    /// Fails the target, or — when it `may_be_out` (an earlier send's outcome is open) — leaves
    /// it for a person to check, with the same reason.
    async fn fail_or_review(
        &self,
        job: &ClaimedJob,
        may_be_out: bool,
        code: &str,
        reason: String,
    ) -> AppResult<JobReport> {
        if may_be_out {
            self.review_may_be_out(job, reason).await
        } else {
            self.fail(job, code, reason).await
        }
    }

    /// Leaves a target that may be on the platform for a person to check: `reason`, and what
    /// to do.
    async fn review_may_be_out(&self, job: &ClaimedJob, reason: String) -> AppResult<JobReport> {
        let reason = format!(
            "{reason}; an earlier send may have posted this: check the account, then mark it \
             published or send it again"
        );
        self.review(job, "unknown_outcome", reason).await
    }

    /// How long, from `now`, to wait for a platform's cap to free a slot at `until` (at least a
    /// second, at most [`MAX_DEFERRAL`]).
    fn deferral_delay(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
        (until - now).clamp(Duration::seconds(1), MAX_DEFERRAL)
    }

    async fn fail(&self, job: &ClaimedJob, code: &str, reason: String) -> AppResult<JobReport> {
        let outcome = TargetOutcome::Failed(TargetError::new(code, reason));
        self.record_result(job, outcome, JobOutcome::Completed)
            .await?;
        Ok(JobReport::Failed(code.to_owned()))
    }

    async fn review(&self, job: &ClaimedJob, code: &str, reason: String) -> AppResult<JobReport> {
        let outcome = TargetOutcome::NeedsReview(TargetError::new(code, reason));
        self.record_result(job, outcome, JobOutcome::Completed)
            .await?;
        Ok(JobReport::NeedsReview)
    }

    async fn discard(&self, job: &ClaimedJob, reason: &str) -> AppResult<JobReport> {
        let outcome = JobOutcome::Discarded {
            reason: reason.to_owned(),
        };
        self.jobs
            .complete(job.job_id, job.fencing_token, &outcome)
            .await?;
        Ok(JobReport::Discarded(reason.to_owned()))
    }

    /// The job waits for a usable token until `run_at`; with `unsent` (see
    /// [`PublishWorker::refresh_failed`]) the target goes back to pending in the same step.
    async fn wait_for_token(
        &self,
        job: &ClaimedJob,
        run_at: DateTime<Utc>,
        reason: &str,
        unsent: bool,
    ) -> AppResult<JobReport> {
        if !unsent {
            return self.reschedule(job, run_at, reason).await;
        }
        let name = job.target.provider.display_name();
        let error = TargetError::new(
            "token_refresh",
            format!("waiting for a new {name} token: {reason}"),
        );
        let outcome = JobOutcome::RetryAt {
            run_at,
            reason: reason.to_owned(),
        };
        self.record_result(job, TargetOutcome::RetryLater(error), outcome)
            .await?;
        Ok(JobReport::RetryAt(run_at))
    }

    async fn reschedule(
        &self,
        job: &ClaimedJob,
        run_at: DateTime<Utc>,
        reason: &str,
    ) -> AppResult<JobReport> {
        let outcome = JobOutcome::RetryAt {
            run_at,
            reason: reason.to_owned(),
        };
        self.jobs
            .complete(job.job_id, job.fencing_token, &outcome)
            .await?;
        Ok(JobReport::RetryAt(run_at))
    }

    /// Use case *record platform result*: writes one target's outcome into the post and
    /// finishes the job (`job_outcome`) in one atomic step — only while the job's fencing token
    /// still matches ([`AppError::LeaseLost`] otherwise, nothing written). When the post
    /// settles, its status is derived from all targets and, if every target failed, its quota
    /// unit is refunded in the same step. The outcome is decided over the post as stored while
    /// the store holds it, so concurrent results for the post's other targets wait for each
    /// other and none is lost or retried. A target that already has a final
    /// outcome is left alone and the job discarded.
    pub async fn record_result(
        &self,
        job: &ClaimedJob,
        outcome: TargetOutcome,
        job_outcome: JobOutcome,
    ) -> AppResult<Post> {
        self.record_result_with(job, None, false, outcome, job_outcome)
            .await
    }

    /// [`PublishWorker::record_result`], recording first the last part of a thread when there
    /// is one, in the same step; with `start`, a post still scheduled starts publishing in
    /// that step first.
    async fn record_result_with(
        &self,
        job: &ClaimedJob,
        last_part: Option<PartResult>,
        start: bool,
        outcome: TargetOutcome,
        job_outcome: JobOutcome,
    ) -> AppResult<Post> {
        let now = self.clock.now();
        let tenant = job.tenant.clone();
        let step = JobStep {
            job_id: job.job_id,
            fencing_token: job.fencing_token,
            outcome: Some(job_outcome),
            renew_until: None,
        };
        let target = job.target;
        let (stored, recorded) = self
            .modify(job, move |read| {
                if !tenant.owns(read.user_id) {
                    return Err(AppError::NotFound("post"));
                }
                let key = read.platforms.result_key(&target);
                let mut post = read.clone();
                let mut quota = QuotaEffect::None;
                if start && read.status == PostStatus::Scheduled && read.platforms.contains(&target)
                {
                    quota = post.start_publishing(now)?;
                }
                if let Some(part) = last_part {
                    match post.record_part(&key, part, now) {
                        Ok(()) => {}
                        Err(PostError::TargetSettled(_)) => return Ok((None, None)),
                        Err(e) => return Err(e.into()),
                    }
                }
                let settled = match post.record_outcome(&key, outcome, now) {
                    Ok(s) => s,
                    Err(PostError::TargetSettled(_)) => return Ok((None, None)),
                    Err(e) => return Err(e.into()),
                };
                let change = PostChange {
                    quota: settled.map_or(quota, |s| s.quota),
                    job: Some(step),
                    ..PostChange::write(PostWrite::Update {
                        post,
                        expected_revision: read.revision,
                    })
                };
                Ok((Some(change), Some(settled.map(|s| s.status))))
            })
            .await?;
        match recorded {
            // A target that already has a final outcome is left alone; the job is discarded.
            None => {
                self.discard(job, "target already settled").await?;
            }
            Some(Some(status)) => {
                tracing::info!(post = %stored.id, %status, "post settled");
            }
            Some(None) => {}
        }
        Ok(stored)
    }
}

/// Marks `target` of `post` (publishing) as being sent through `connection_id` when its next
/// part has no media and it is neither settled nor already being sent (a send found in flight
/// is looked into first); the time of the mark, or `None` with `post` unchanged.
/// A step's decision as the store takes it, and what the caller keeps of it: a domain
/// refusal writes nothing and comes back as the error.
fn split<T>(decided: AppResult<(Option<PostChange>, T)>) -> (Decision, AppResult<T>) {
    match decided {
        Ok((Some(change), value)) => (Decision::Write(Box::new(change)), Ok(value)),
        Ok((None, value)) => (Decision::Keep, Ok(value)),
        Err(e) => (Decision::Keep, Err(e)),
    }
}

fn mark_plain_send(
    post: &mut Post,
    target: &multivio_domain::post::Target,
    connection_id: ConnectionId,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if post.status != PostStatus::Publishing {
        return None;
    }
    let key = post.platforms.result_key(target);
    // (A settled target is refused by `begin_target` below.)
    let result = post.target_result(&key)?;
    if result.status == TargetStatus::Publishing {
        return None;
    }
    let next = result.parts.len();
    let plain = post
        .content()
        .parts_for(target.provider)
        .get(next)
        .is_some_and(|part| part.media_files.is_empty());
    if !plain {
        return None;
    }
    post.begin_target(&key, connection_id, now).ok()?;
    Some(now)
}

/// A change writing `changed` (computed from `read`) while the job keeps running.
fn running_change(read: &Post, changed: Post, running: JobStep) -> PostChange {
    PostChange {
        job: Some(running),
        ..PostChange::write(PostWrite::Update {
            post: changed,
            expected_revision: read.revision,
        })
    }
}

#[cfg(test)]
mod tests;
