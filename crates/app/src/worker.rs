//! The publishing worker: process one claimed job, record a platform's result.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use multivio_domain::connection::{Connection, ConnectionStatus};
use multivio_domain::job::{ClaimedJob, JobOutcome, RetryPolicy};
use multivio_domain::post::{
    PartResult, Post, PostError, PostStatus, TargetError, TargetOutcome, TargetStatus,
};
use multivio_domain::{JobId, MediaId, Tenant};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::jobs::JobQueue;
use multivio_ports::media::{MediaRepository, MediaStore, MediaStoreError};
use multivio_ports::platform::{
    Attachment, Platforms, PostRef, PublishError, PublishRequest, PublishedPost, ReplyTo,
};
use multivio_ports::posts::{JobStep, PostChange, PostStore, PostWrite};
use multivio_ports::system::Clock;
use multivio_ports::vault::TokenVault;

use crate::credentials::{CredentialKeeper, RefreshError};
use crate::error::{AppError, AppResult};

/// What processing a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobReport {
    /// The target was published.
    Published,
    /// The target failed for good, with this code.
    Failed(String),
    /// The outcome is unknown; the target is surfaced for a person to check.
    Unknown,
    /// The job runs again at this time.
    RetryAt(DateTime<Utc>),
    /// Nothing to do (post deleted or cancelled, target settled…).
    Discarded(String),
    /// Another worker holds the job now; nothing was written.
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
}

impl std::fmt::Debug for PublishWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishWorker")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How long to wait when another process is refreshing the connection's token.
const REFRESH_BUSY_DELAY_SECS: i64 = 10;
/// How often to re-read a post that changed under us before giving up (the job is then retried
/// after its lease).
const MAX_CONFLICTS: usize = 5;

/// How a reply names a posted part.
fn post_ref(part: &PartResult) -> PostRef {
    PostRef {
        id: part.platform_post_id.clone(),
        reference: part.reference.clone(),
    }
}

/// The idempotency key of a (post, target): the same for every attempt.
pub fn idempotency_key(post: &Post, result_key: &str) -> String {
    format!("multivio-{}-{result_key}", post.id)
}

enum Prepared {
    Ready {
        post: Box<Post>,
        key: String,
        connection: Box<Connection>,
    },
    Done(JobReport),
    /// The post changed under us: read it again.
    Again,
}

impl PublishWorker {
    /// The worker.
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
        }
    }

    /// Claims up to `limit` due jobs and processes them one after the other.
    pub async fn run_once(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
    ) -> AppResult<Vec<(JobId, AppResult<JobReport>)>> {
        let claimed = self
            .jobs
            .claim_due(worker_id, self.clock.now(), limit, lease)
            .await?;
        let mut reports = Vec::with_capacity(claimed.len());
        for job in claimed {
            let report = self.process(&job).await;
            if let Err(e) = &report {
                tracing::warn!(job = %job.job_id, error = %e, "job failed; it will be retried after its lease");
            }
            reports.push((job.job_id, report));
        }
        Ok(reports)
    }

    /// Use case *process one publishing job*.
    ///
    /// Loads the post and the account for the job's tenant, starts publishing a due scheduled
    /// post, refreshes the token if it is about to expire, records the target as being sent
    /// (so a crash mid-send is read later as an unknown outcome, never re-sent blindly unless
    /// the platform is idempotent), publishes with a key stable across attempts, then records
    /// the result and completes the job in one atomic step, settling the post (and refunding
    /// its quota unit if every target failed).
    pub async fn process(&self, job: &ClaimedJob) -> AppResult<JobReport> {
        let result = self.process_inner(job).await;
        match result {
            Err(AppError::LeaseLost) => Ok(JobReport::LeaseLost),
            other => other,
        }
    }

    async fn process_inner(&self, job: &ClaimedJob) -> AppResult<JobReport> {
        'attempt: for _ in 0..MAX_CONFLICTS {
            let (post, key, connection) = match self.prepare(job).await? {
                Prepared::Done(report) => return Ok(report),
                Prepared::Again => continue,
                Prepared::Ready {
                    post,
                    key,
                    connection,
                } => (*post, key, *connection),
            };
            let Some(publisher) = self.platforms.publisher(connection.provider) else {
                let reason = format!(
                    "{} is not configured on this server",
                    connection.provider.display_name()
                );
                return self.fail(job, "not_configured", reason).await;
            };
            if post
                .target_result(&key)
                .is_some_and(|r| r.status == TargetStatus::Publishing)
                && !publisher.idempotent()
            {
                return self.unknown(job, "interrupted", format!(
                    "a previous attempt was interrupted while sending to {}; check the account before retrying",
                    connection.provider.display_name()
                ))
                .await;
            }
            let credentials = match self.keeper.fresh(&job.tenant, &connection).await {
                Ok(c) => c,
                Err(e) => return self.refresh_failed(job, &connection, e).await,
            };
            let provider = connection.provider;
            let parts: Vec<(String, Vec<MediaId>)> = post
                .content()
                .parts_for(provider)
                .iter()
                .map(|p| (p.text.to_owned(), p.media_files.to_vec()))
                .collect();
            let base_key = idempotency_key(&post, &key);
            let mut post = post;
            // A thread continues from the first part not yet posted.
            let first = post.target_result(&key).map_or(0, |r| r.parts.len());
            for (index, (text, media_ids)) in parts.iter().enumerate().skip(first) {
                let media = match self.attachments(job, media_ids).await? {
                    Ok(media) => media,
                    Err(report) => return Ok(report),
                };
                // Mark the part as being sent, under the job's lease.
                let mut sending = post.clone();
                sending.begin_target(&key, connection.id, self.clock.now())?;
                match self.apply_running(job, &post, sending).await {
                    Ok(stored) => post = stored,
                    Err(AppError::Conflict(_)) => continue 'attempt,
                    Err(e) => return Err(e),
                }
                let result = post.target_result(&key);
                let done = result.map_or(0, |r| r.parts.len());
                // Recorded parts were sends that succeeded: the retry policy counts the others.
                let attempts = result
                    .map_or(1, |r| r.attempts)
                    .saturating_sub(u32::try_from(done).unwrap_or(u32::MAX));
                let reply_to = if index == 0 {
                    None
                } else {
                    result.and_then(|r| {
                        let root = r.parts.first()?;
                        let parent = r.parts.get(index - 1)?;
                        Some(ReplyTo {
                            root: post_ref(root),
                            parent: post_ref(parent),
                        })
                    })
                };
                let request = PublishRequest {
                    post_id: post.id,
                    target: job.target,
                    text: text.clone(),
                    connection: connection.clone(),
                    credentials: credentials.clone(),
                    media,
                    part: index,
                    reply_to,
                    idempotency_key: if index == 0 {
                        base_key.clone()
                    } else {
                        format!("{base_key}-part{index}")
                    },
                };
                let outcome = publisher.publish(&request).await;
                let last = index + 1 == parts.len();
                match outcome {
                    Ok(published) if parts.len() > 1 => {
                        let part = PartResult {
                            platform_post_id: published.platform_post_id,
                            url: published.url,
                            reference: published.reference,
                        };
                        if last {
                            return self
                                .finish_thread(job, &connection, &key, attempts, part)
                                .await;
                        }
                        post = self.record_part(job, &key, part).await?;
                    }
                    outcome => {
                        return self
                            .handle_publish(job, &connection, attempts, outcome, None)
                            .await;
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
                    1,
                    Ok(PublishedPost {
                        platform_post_id: root.platform_post_id,
                        url: root.url,
                        reference: root.reference,
                    }),
                    None,
                )
                .await;
        }
        Err(AppError::Conflict(
            "the post kept changing; the job will be retried".to_owned(),
        ))
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
            let bytes = match self.media_store.get(&file.filename).await {
                Ok(bytes) => bytes,
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

    /// Writes `changed` (computed from `read`) under the job's lease, keeping the job running.
    async fn apply_running(&self, job: &ClaimedJob, read: &Post, changed: Post) -> AppResult<Post> {
        let change = PostChange {
            job: Some(JobStep {
                job_id: job.job_id,
                fencing_token: job.fencing_token,
                outcome: None,
            }),
            ..PostChange::write(PostWrite::Update {
                post: changed,
                expected_revision: read.revision,
            })
        };
        match self.posts.apply(&job.tenant, change).await {
            Ok(Some(stored)) => Ok(stored),
            Ok(None) => Err(AppError::NotFound("post")),
            Err(StoreError::Conflict(c)) => Err(AppError::Conflict(c)),
            Err(e) => Err(AppError::from_store("post", e)),
        }
    }

    /// Records one posted part of a thread (not the last) under the job's lease, re-reading
    /// the post when another target's result changed it meanwhile.
    async fn record_part(&self, job: &ClaimedJob, key: &str, part: PartResult) -> AppResult<Post> {
        for _ in 0..MAX_CONFLICTS {
            let post = self
                .posts
                .get(&job.tenant, job.post_id)
                .await
                .map_err(|e| AppError::from_store("post", e))?;
            let mut changed = post.clone();
            changed.record_part(key, part.clone(), self.clock.now())?;
            match self.apply_running(job, &post, changed).await {
                Ok(stored) => return Ok(stored),
                Err(AppError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AppError::Conflict(
            "the post kept changing; the job will be retried".to_owned(),
        ))
    }

    /// The last part of a thread went out: it is recorded with the target's final outcome (the
    /// thread's first post) in one step.
    async fn finish_thread(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        key: &str,
        attempts: u32,
        last: PartResult,
    ) -> AppResult<JobReport> {
        let post = self
            .posts
            .get(&job.tenant, job.post_id)
            .await
            .map_err(|e| AppError::from_store("post", e))?;
        let root = post
            .target_result(key)
            .and_then(|r| r.parts.first().cloned())
            .unwrap_or_else(|| last.clone());
        self.handle_publish(
            job,
            connection,
            attempts,
            Ok(PublishedPost {
                platform_post_id: root.platform_post_id,
                url: root.url,
                reference: root.reference,
            }),
            Some(last),
        )
        .await
    }

    /// Loads the post and the account; settles the trivial cases (post gone or cancelled,
    /// target settled, no usable account).
    async fn prepare(&self, job: &ClaimedJob) -> AppResult<Prepared> {
        let tenant = &job.tenant;
        let mut post = match self.posts.get(tenant, job.post_id).await {
            Ok(p) if tenant.owns(p.user_id) => p,
            Ok(_) | Err(StoreError::NotFound) => {
                return self
                    .discard(job, "post not found")
                    .await
                    .map(Prepared::Done);
            }
            Err(e) => return Err(e.into()),
        };
        if !post.platforms.contains(&job.target) {
            return self
                .discard(job, "target no longer selected")
                .await
                .map(Prepared::Done);
        }
        match post.status {
            PostStatus::Publishing => {}
            PostStatus::Scheduled => {
                let revision = post.revision;
                let quota = post.start_publishing(self.clock.now())?;
                let change = PostChange {
                    quota,
                    job: Some(JobStep {
                        job_id: job.job_id,
                        fencing_token: job.fencing_token,
                        outcome: None,
                    }),
                    ..PostChange::write(PostWrite::Update {
                        post,
                        expected_revision: revision,
                    })
                };
                // On a conflict another worker started it: the caller's loop reloads.
                return match self.posts.apply(tenant, change).await {
                    Ok(Some(started)) => self.prepare_publishing(job, started).await,
                    Ok(None) => self
                        .discard(job, "post not found")
                        .await
                        .map(Prepared::Done),
                    Err(StoreError::Conflict(_)) => Ok(Prepared::Again),
                    Err(e) => Err(AppError::from_store("post", e)),
                };
            }
            status => {
                return self
                    .discard(job, &format!("post is {status}"))
                    .await
                    .map(Prepared::Done);
            }
        }
        self.prepare_publishing(job, post).await
    }

    async fn prepare_publishing(&self, job: &ClaimedJob, post: Post) -> AppResult<Prepared> {
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
        let provider = job.target.provider;
        let connection = match job.target.connection_id {
            Some(id) => match self.connections.get(&job.tenant, id).await {
                Ok(c) if job.tenant.owns(c.user_id) && c.provider == provider => Some(c),
                Ok(_) | Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => self
                .connections
                .list_for_provider(&job.tenant, provider)
                .await?
                .into_iter()
                .find(|c| c.is_primary && job.tenant.owns(c.user_id)),
        };
        let Some(connection) = connection else {
            let reason = format!("no {} account is connected", provider.display_name());
            return self
                .fail(job, "no_connection", reason)
                .await
                .map(Prepared::Done);
        };
        if connection.status == ConnectionStatus::NeedsReauth {
            let reason = format!("reconnect your {} account", provider.display_name());
            return self
                .fail(job, "needs_reauth", reason)
                .await
                .map(Prepared::Done);
        }
        Ok(Prepared::Ready {
            post: Box::new(post),
            key,
            connection: Box::new(connection),
        })
    }

    async fn refresh_failed(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        e: RefreshError,
    ) -> AppResult<JobReport> {
        let name = connection.provider.display_name();
        match e {
            RefreshError::NeedsReauth(_) => {
                self.fail(
                    job,
                    "needs_reauth",
                    format!("reconnect your {name} account"),
                )
                .await
            }
            RefreshError::Rejected { code, reason } => self.fail(job, &code, reason).await,
            RefreshError::Busy => {
                let run_at = self.clock.now() + Duration::seconds(REFRESH_BUSY_DELAY_SECS);
                self.reschedule(job, run_at, "token refresh in progress")
                    .await
            }
            RefreshError::Transient {
                reason,
                retry_after,
            } => {
                if self.policy.may_retry(job.attempt) {
                    let run_at = self.clock.now() + self.policy.delay(job.attempt, retry_after);
                    self.reschedule(job, run_at, &format!("token refresh failed: {reason}"))
                        .await
                } else {
                    self.fail(
                        job,
                        "token_refresh_failed",
                        format!("could not refresh the {name} token"),
                    )
                    .await
                }
            }
            RefreshError::App(e) => Err(e),
        }
    }

    async fn handle_publish(
        &self,
        job: &ClaimedJob,
        connection: &Connection,
        attempts: u32,
        outcome: Result<multivio_ports::platform::PublishedPost, PublishError>,
        last_part: Option<PartResult>,
    ) -> AppResult<JobReport> {
        let name = connection.provider.display_name();
        let now = self.clock.now();
        let retry = |error: TargetError, retry_after: Option<Duration>| {
            if self.policy.may_retry(attempts) {
                let run_at = now + self.policy.delay(attempts, retry_after);
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
                retry_after,
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
                TargetOutcome::Unknown(TargetError::new(
                    "unknown_outcome",
                    format!(
                        "{name} did not confirm the post ({reason}); check the account before retrying"
                    ),
                )),
                JobOutcome::Completed,
                JobReport::Unknown,
            ),
        };
        let last_part = matches!(target, TargetOutcome::Published { .. })
            .then_some(last_part)
            .flatten();
        self.record_result_with(job, last_part, target, job_outcome)
            .await?;
        Ok(report)
    }

    async fn fail(&self, job: &ClaimedJob, code: &str, reason: String) -> AppResult<JobReport> {
        let outcome = TargetOutcome::Failed(TargetError::new(code, reason));
        self.record_result(job, outcome, JobOutcome::Completed)
            .await?;
        Ok(JobReport::Failed(code.to_owned()))
    }

    async fn unknown(&self, job: &ClaimedJob, code: &str, reason: String) -> AppResult<JobReport> {
        let outcome = TargetOutcome::Unknown(TargetError::new(code, reason));
        self.record_result(job, outcome, JobOutcome::Completed)
            .await?;
        Ok(JobReport::Unknown)
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
    /// unit is refunded in the same step. Concurrent results for other targets of the same post
    /// are merged by re-reading on a revision conflict. A target that already has a final
    /// outcome is left alone and the job discarded.
    pub async fn record_result(
        &self,
        job: &ClaimedJob,
        outcome: TargetOutcome,
        job_outcome: JobOutcome,
    ) -> AppResult<Post> {
        self.record_result_with(job, None, outcome, job_outcome)
            .await
    }

    /// [`PublishWorker::record_result`], recording first the last part of a thread when there
    /// is one, in the same step.
    async fn record_result_with(
        &self,
        job: &ClaimedJob,
        last_part: Option<PartResult>,
        outcome: TargetOutcome,
        job_outcome: JobOutcome,
    ) -> AppResult<Post> {
        let tenant: &Tenant = &job.tenant;
        for _ in 0..MAX_CONFLICTS {
            let mut post = self
                .posts
                .get(tenant, job.post_id)
                .await
                .map_err(|e| AppError::from_store("post", e))?;
            if !tenant.owns(post.user_id) {
                return Err(AppError::NotFound("post"));
            }
            let key = post.platforms.result_key(&job.target);
            let revision = post.revision;
            if let Some(part) = &last_part {
                match post.record_part(&key, part.clone(), self.clock.now()) {
                    Ok(()) => {}
                    Err(PostError::TargetSettled(_)) => {
                        self.discard(job, "target already settled").await?;
                        return Ok(post);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let settled = match post.record_outcome(&key, outcome.clone(), self.clock.now()) {
                Ok(s) => s,
                Err(PostError::TargetSettled(_)) => {
                    self.discard(job, "target already settled").await?;
                    return Ok(post);
                }
                Err(e) => return Err(e.into()),
            };
            let change = PostChange {
                quota: settled.map(|s| s.quota).unwrap_or_default(),
                job: Some(JobStep {
                    job_id: job.job_id,
                    fencing_token: job.fencing_token,
                    outcome: Some(job_outcome.clone()),
                }),
                ..PostChange::write(PostWrite::Update {
                    post,
                    expected_revision: revision,
                })
            };
            match self.posts.apply(tenant, change).await {
                Ok(Some(stored)) => {
                    if let Some(s) = settled {
                        tracing::info!(post = %stored.id, status = %s.status, "post settled");
                    }
                    return Ok(stored);
                }
                Ok(None) => return Err(AppError::NotFound("post")),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(AppError::from_store("post", e)),
            }
        }
        Err(AppError::Conflict(
            "the post kept changing; the job will be retried".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests;
