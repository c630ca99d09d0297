//! Posts: create, edit, delete, validate, schedule, publish now, cancel, retry failed targets.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use multivio_domain::connection::{Connection, ConnectionStatus};
use multivio_domain::content::{PostReport, ValidationOptions, media_info, validate_post};
use multivio_domain::idempotency::IdempotencyClaim;
use multivio_domain::media::MediaFile;
use multivio_domain::post::{
    ContentMode, PlatformContent, Post, PostContent, PostInput, PostStatus, Resolution, Target,
    Targets, ThreadPart,
};
use multivio_domain::quota::{Quota, QuotaEffect};
use multivio_domain::{FieldError, JobId, MediaId, PostId, Provider, Tenant, field_path};
use multivio_ports::StoreError;
use multivio_ports::connections::ConnectionStore;
use multivio_ports::error::Page;
use multivio_ports::media::MediaRepository;
use multivio_ports::posts::{PostChange, PostQuery, PostStore, PostWrite};
use multivio_ports::system::{Clock, IdGenerator};
use multivio_ports::users::QuotaStore;

use crate::error::{AppError, AppResult};
use crate::quota::QuotaService;

/// A partial edit: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostPatch {
    /// Name.
    pub name: Option<String>,
    /// Mode.
    pub content_mode: Option<ContentMode>,
    /// Universal text (`Some(None)` clears it).
    pub universal_content: Option<Option<String>>,
    /// Universal metadata.
    pub universal_metadata: Option<serde_json::Value>,
    /// Per-platform content (replaces the whole map).
    pub platform_content: Option<BTreeMap<Provider, PlatformContent>>,
    /// Targets (replaces the list).
    pub platforms: Option<Vec<Target>>,
    /// Media (replaces the list).
    pub media_files: Option<Vec<MediaId>>,
    /// The parts of a universal thread after the first (replaces the list).
    pub thread: Option<Vec<ThreadPart>>,
}

impl PostPatch {
    fn merge(self, post: &Post) -> PostInput {
        PostInput {
            name: self.name.unwrap_or_else(|| post.name.as_str().to_owned()),
            content_mode: self.content_mode.unwrap_or(post.content_mode),
            universal_content: self
                .universal_content
                .unwrap_or_else(|| post.universal_content.clone()),
            universal_metadata: Some(
                self.universal_metadata
                    .unwrap_or_else(|| post.universal_metadata.clone()),
            ),
            platform_content: self
                .platform_content
                .unwrap_or_else(|| post.platform_content.clone()),
            platforms: self
                .platforms
                .unwrap_or_else(|| post.platforms.as_slice().to_vec()),
            media_files: self.media_files.unwrap_or_else(|| post.media_files.clone()),
            thread: self.thread.unwrap_or_else(|| post.thread.clone()),
        }
    }
}

/// The ports [`PostService`] uses.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct PostPorts {
    /// Posts (and the unit of work).
    pub posts: Arc<dyn PostStore>,
    /// Connections, to resolve targets.
    pub connections: Arc<dyn ConnectionStore>,
    /// Media rows.
    pub media: Arc<dyn MediaRepository>,
    /// Quota.
    pub quotas: Arc<dyn QuotaStore>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Post use cases.
#[derive(Clone)]
pub struct PostService {
    posts: Arc<dyn PostStore>,
    connections: Arc<dyn ConnectionStore>,
    media: Arc<dyn MediaRepository>,
    quota: QuotaService,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PostService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostService").finish_non_exhaustive()
    }
}

/// Which of the tenant's accounts [`PostService::resolve`] reads.
#[derive(Clone, Copy)]
enum Accounts {
    /// Only to check the accounts the targets name (a draft: nothing is validated against
    /// the accounts, so a draft whose targets name none costs no read).
    Named,
    /// Every account (validation and scheduling use each target's account settings).
    All,
}

/// What the references of a post resolve to.
struct Resolved {
    media: Vec<MediaFile>,
    connections: Vec<Connection>,
}

impl PostService {
    /// The service.
    pub fn new(ports: PostPorts) -> Self {
        Self {
            quota: QuotaService::new(ports.quotas, ports.clock.clone()),
            posts: ports.posts,
            connections: ports.connections,
            media: ports.media,
            ids: ports.ids,
            clock: ports.clock,
        }
    }

    /// One post.
    pub async fn get(&self, tenant: &Tenant, id: PostId) -> AppResult<Post> {
        let post = self
            .posts
            .get(tenant, id)
            .await
            .map_err(|e| AppError::from_store("post", e))?;
        if !tenant.owns(post.user_id) {
            return Err(AppError::NotFound("post"));
        }
        Ok(post)
    }

    /// A page of the tenant's posts (`limit` 1–100).
    pub async fn list(&self, tenant: &Tenant, query: PostQuery) -> AppResult<Page<Post>> {
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from > to
        {
            return Err(AppError::invalid("from", "must not be after `to`"));
        }
        Ok(self.posts.list(tenant, &query).await?)
    }

    /// Use case *create post*: a draft, or — with `schedule_date` — a scheduled post (which
    /// must then be publishable and consumes a quota unit).
    pub async fn create(
        &self,
        tenant: &Tenant,
        input: PostInput,
        schedule_date: Option<DateTime<Utc>>,
        idempotency: Option<IdempotencyClaim>,
    ) -> AppResult<Post> {
        let content = PostContent::parse(input).map_err(AppError::Invalid)?;
        let accounts = match schedule_date {
            None => Accounts::Named,
            Some(_) => Accounts::All,
        };
        let resolved = self.resolve(tenant, &content, accounts).await?;
        let now = self.clock.now();
        let mut post = Post::new_draft(PostId(self.ids.new_uuid()), tenant.user_id, content, now);
        let Some(at) = schedule_date else {
            let change = PostChange {
                idempotency,
                ..PostChange::write(PostWrite::Insert(post))
            };
            return self.commit(tenant, change, None).await;
        };
        self.ensure_publishable(&post.content(), &resolved, Some(at), When::Later)?;
        let quota = post.schedule(at, now)?;
        let jobs = post.plan_all_jobs(at, || JobId(self.ids.new_uuid()));
        let change = PostChange {
            quota,
            enqueue: jobs,
            idempotency,
            ..PostChange::write(PostWrite::Insert(post))
        };
        let current = self.quota_for(tenant, quota).await?;
        self.commit(tenant, change, current).await
    }

    /// Use case *edit post*: allowed while draft or scheduled; a scheduled post must stay
    /// publishable, and its jobs are replaced to match its new targets.
    pub async fn edit(&self, tenant: &Tenant, id: PostId, patch: PostPatch) -> AppResult<Post> {
        let mut post = self.get(tenant, id).await?;
        let content = PostContent::parse(patch.merge(&post)).map_err(AppError::Invalid)?;
        let accounts = match post.status {
            PostStatus::Scheduled => Accounts::All,
            _ => Accounts::Named,
        };
        let resolved = self.resolve(tenant, &content, accounts).await?;
        let revision = post.revision;
        post.edit(content, self.clock.now())?;
        let mut enqueue = Vec::new();
        let scheduled = post.status == PostStatus::Scheduled;
        if let (true, Some(at)) = (scheduled, post.schedule_date) {
            self.ensure_publishable(&post.content(), &resolved, None, When::Later)?;
            enqueue = post.plan_all_jobs(at, || JobId(self.ids.new_uuid()));
        }
        let change = PostChange {
            enqueue,
            cancel_pending_jobs: scheduled,
            ..PostChange::write(PostWrite::Update {
                post,
                expected_revision: revision,
            })
        };
        self.commit(tenant, change, None).await
    }

    /// Use case *delete post*: any status but publishing; a scheduled post's jobs are cancelled
    /// and its quota unit refunded.
    pub async fn delete(&self, tenant: &Tenant, id: PostId) -> AppResult<()> {
        let post = self.get(tenant, id).await?;
        let quota = post.deletion()?;
        let change = PostChange {
            quota,
            cancel_pending_jobs: true,
            ..PostChange::write(PostWrite::Delete {
                id,
                expected_revision: post.revision,
            })
        };
        self.commit_raw(tenant, change, None).await.map(|_| ())
    }

    /// Use case *validate post* (dry run, nothing stored): the per-platform report, using the
    /// tenant's accounts' settings (X long posts, Mastodon instance limits). A blank name is
    /// allowed here.
    pub async fn validate(
        &self,
        tenant: &Tenant,
        mut input: PostInput,
        schedule_date: Option<DateTime<Utc>>,
    ) -> AppResult<PostReport> {
        if input.name.trim().is_empty() {
            "untitled".clone_into(&mut input.name);
        }
        let content = PostContent::parse(input).map_err(AppError::Invalid)?;
        let resolved = self.resolve(tenant, &content, Accounts::All).await?;
        Ok(self.report(&content, &resolved, schedule_date))
    }

    /// Use case *schedule*: draft → scheduled at a future date (or reschedule), consuming the
    /// post's quota unit unless it holds one; the post must be publishable.
    pub async fn schedule(
        &self,
        tenant: &Tenant,
        id: PostId,
        at: DateTime<Utc>,
        idempotency: Option<IdempotencyClaim>,
    ) -> AppResult<Post> {
        let mut post = self.get(tenant, id).await?;
        let resolved = self.resolve(tenant, &post.content(), Accounts::All).await?;
        // (Other statuses are refused by the lifecycle below; a failed post that may be
        // scheduled again is checked like a draft.)
        if matches!(
            post.status,
            PostStatus::Draft | PostStatus::Scheduled | PostStatus::Failed
        ) {
            self.ensure_publishable(&post.content(), &resolved, Some(at), When::Later)?;
        }
        let revision = post.revision;
        let quota = post.schedule(at, self.clock.now())?;
        let jobs = post.plan_all_jobs(at, || JobId(self.ids.new_uuid()));
        let change = PostChange {
            quota,
            enqueue: jobs,
            cancel_pending_jobs: true,
            idempotency,
            ..PostChange::write(PostWrite::Update {
                post,
                expected_revision: revision,
            })
        };
        let current = self.quota_for(tenant, quota).await?;
        self.commit(tenant, change, current).await
    }

    /// Use case *publish now*: draft or scheduled → publishing, one job per target due now
    /// (replacing a scheduled post's jobs); consumes the quota unit unless the post holds one.
    pub async fn publish_now(
        &self,
        tenant: &Tenant,
        id: PostId,
        idempotency: Option<IdempotencyClaim>,
    ) -> AppResult<Post> {
        let mut post = self.get(tenant, id).await?;
        let resolved = self.resolve(tenant, &post.content(), Accounts::All).await?;
        if matches!(post.status, PostStatus::Draft | PostStatus::Scheduled) {
            self.ensure_publishable(&post.content(), &resolved, None, When::Now)?;
        }
        let now = self.clock.now();
        let revision = post.revision;
        let quota = post.start_publishing(now)?;
        let jobs = post.plan_all_jobs(now, || JobId(self.ids.new_uuid()));
        let change = PostChange {
            quota,
            enqueue: jobs,
            cancel_pending_jobs: true,
            idempotency,
            ..PostChange::write(PostWrite::Update {
                post,
                expected_revision: revision,
            })
        };
        let current = self.quota_for(tenant, quota).await?;
        self.commit(tenant, change, current).await
    }

    /// Use case *cancel*: scheduled → draft before anything went out; jobs cancelled, quota
    /// unit refunded.
    pub async fn cancel(&self, tenant: &Tenant, id: PostId) -> AppResult<Post> {
        let mut post = self.get(tenant, id).await?;
        let revision = post.revision;
        let quota = post.cancel(self.clock.now())?;
        let change = PostChange {
            quota,
            cancel_pending_jobs: true,
            ..PostChange::write(PostWrite::Update {
                post,
                expected_revision: revision,
            })
        };
        self.commit(tenant, change, None).await
    }

    /// Use case *retry failed targets*: failed or partially published → publishing, with new
    /// jobs for the failed targets only (published and unknown ones are never re-sent); consumes
    /// the quota unit again if it had been refunded.
    pub async fn retry(&self, tenant: &Tenant, id: PostId) -> AppResult<Post> {
        let mut post = self.get(tenant, id).await?;
        let now = self.clock.now();
        let revision = post.revision;
        let (targets, quota) = post.retry_failed(now)?;
        let jobs = post.plan_jobs(&targets, now, || JobId(self.ids.new_uuid()));
        let change = PostChange {
            quota,
            enqueue: jobs,
            ..PostChange::write(PostWrite::Update {
                post,
                expected_revision: revision,
            })
        };
        let current = self.quota_for(tenant, quota).await?;
        self.commit(tenant, change, current).await
    }

    /// Use case *resolve a target that needs review*: after checking the account, the user
    /// says the post is there ([`Resolution::Published`], with its URL when known) or is not
    /// ([`Resolution::Resend`]: a new job sends it — a thread continues after its recorded
    /// parts). Only a target in `needs_review`.
    pub async fn resolve_review(
        &self,
        tenant: &Tenant,
        id: PostId,
        key: &str,
        resolution: Resolution,
    ) -> AppResult<Post> {
        let mut post = self.get(tenant, id).await?;
        let now = self.clock.now();
        let revision = post.revision;
        let resolved = post.resolve_review(key, resolution, now)?;
        let jobs = match resolved.enqueue {
            Some(target) => post.plan_jobs(&[target], now, || JobId(self.ids.new_uuid())),
            None => Vec::new(),
        };
        let change = PostChange {
            quota: resolved.quota,
            enqueue: jobs,
            ..PostChange::write(PostWrite::Update {
                post,
                expected_revision: revision,
            })
        };
        let current = self.quota_for(tenant, resolved.quota).await?;
        self.commit(tenant, change, current).await
    }

    /// Before a change that consumes: the quota with its period current (so a new month's
    /// units are there), kept to explain a refusal.
    async fn quota_for(&self, tenant: &Tenant, effect: QuotaEffect) -> AppResult<Option<Quota>> {
        if effect != QuotaEffect::Consume {
            return Ok(None);
        }
        let quota = self.quota.current(tenant).await?;
        if quota.remaining_posts == 0 {
            return Err(quota_exceeded(Some(&quota)));
        }
        Ok(Some(quota))
    }

    async fn commit(
        &self,
        tenant: &Tenant,
        change: PostChange,
        quota: Option<Quota>,
    ) -> AppResult<Post> {
        self.commit_raw(tenant, change, quota)
            .await?
            .ok_or_else(|| AppError::Unavailable("post store returned no post".to_owned()))
    }

    async fn commit_raw(
        &self,
        tenant: &Tenant,
        change: PostChange,
        quota: Option<Quota>,
    ) -> AppResult<Option<Post>> {
        match self.posts.apply(tenant, change).await {
            Ok(post) => Ok(post),
            Err(StoreError::QuotaExceeded) => Err(quota_exceeded(quota.as_ref())),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict(
                "the post, or a file it carries, was changed concurrently; reload it".to_owned(),
            )),
            Err(e) => Err(AppError::from_store("post", e)),
        }
    }

    /// Checks that the media and explicit connections a post names are the tenant's; with
    /// [`Accounts::All`] also reads the accounts its other targets publish through.
    async fn resolve(
        &self,
        tenant: &Tenant,
        content: &PostContent,
        accounts: Accounts,
    ) -> AppResult<Resolved> {
        let mut errors = Vec::new();
        // Every part's media: the post's own first, then those only later parts carry.
        let ids = content.all_media();
        let media = if ids.is_empty() {
            Vec::new()
        } else {
            self.media.get_many(tenant, &ids).await?
        };
        let media: Vec<MediaFile> = media
            .into_iter()
            .filter(|m| tenant.owns(m.user_id))
            .collect();
        for id in &ids {
            if !media.iter().any(|m| m.id == *id) {
                let field = match content.media_files.iter().position(|m| m == id) {
                    Some(at) => field_path(&[&"media_files", &at]),
                    None => "thread".to_owned(),
                };
                errors.push(FieldError::new(field, format!("unknown media file {id}")));
            }
        }
        let wanted = match accounts {
            Accounts::All => !content.platforms.is_empty(),
            Accounts::Named => content.platforms.iter().any(|t| t.connection_id.is_some()),
        };
        let connections = if wanted {
            self.connections.list(tenant).await?
        } else {
            Vec::new()
        };
        let connections: Vec<Connection> = connections
            .into_iter()
            .filter(|c| tenant.owns(c.user_id))
            .collect();
        for (i, t) in content.platforms.iter().enumerate() {
            if let Some(id) = t.connection_id
                && !connections
                    .iter()
                    .any(|c| c.id == id && c.provider == t.provider)
            {
                errors.push(FieldError::new(
                    format!("platforms.{i}"),
                    format!("no {} account {id} is connected", t.provider.display_name()),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        // In the order validation reads them (the post's, then later parts').
        let media = ids
            .iter()
            .filter_map(|id| media.iter().find(|m| m.id == *id).cloned())
            .collect();
        Ok(Resolved { media, connections })
    }

    fn report(
        &self,
        content: &PostContent,
        resolved: &Resolved,
        schedule_date: Option<DateTime<Utc>>,
    ) -> PostReport {
        let infos: Vec<_> = resolved.media.iter().map(media_info).collect();
        let opts = validation_options(&content.platforms, &resolved.connections);
        validate_post(content, &infos, &opts, schedule_date, self.clock.now())
    }

    /// A post may be scheduled or published only if every platform accepts its content and no
    /// target's account needs reconnecting. Publishing now also needs an account for every
    /// target; a scheduled post may target a platform whose account is connected later (the
    /// account is resolved when the job runs, and a target still without one fails then).
    fn ensure_publishable(
        &self,
        content: &PostContent,
        resolved: &Resolved,
        schedule_date: Option<DateTime<Utc>>,
        when: When,
    ) -> AppResult<()> {
        let report = self.report(content, resolved, schedule_date);
        let mut errors = report.field_errors(&content.platforms);
        for (i, t) in content.platforms.iter().enumerate() {
            match target_connection(t, &resolved.connections) {
                None if when == When::Later && t.connection_id.is_none() => {}
                None => errors.push(FieldError::new(
                    field_path(&[&"platforms", &i]),
                    format!("connect a {} account first", t.provider.display_name()),
                )),
                Some(c) if c.status == ConnectionStatus::NeedsReauth => {
                    errors.push(FieldError::new(
                        field_path(&[&"platforms", &i]),
                        format!("reconnect your {} account", t.provider.display_name()),
                    ))
                }
                Some(_) => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(errors))
        }
    }
}

/// When a post goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Now,
    Later,
}

fn quota_exceeded(quota: Option<&Quota>) -> AppError {
    AppError::QuotaExceeded {
        monthly_post_quota: quota.map(|q| q.monthly_post_quota),
        resets_at: quota.and_then(Quota::resets_at),
    }
}

/// The connection a target publishes through: the named one, or the provider's primary.
pub fn target_connection<'a>(
    target: &Target,
    connections: &'a [Connection],
) -> Option<&'a Connection> {
    match target.connection_id {
        Some(id) => connections
            .iter()
            .find(|c| c.id == id && c.provider == target.provider),
        None => connections
            .iter()
            .find(|c| c.provider == target.provider && c.is_primary),
    }
}

/// Per-account validation settings, from the connections the targets resolve to (their
/// metadata, as the social adapters store it): X long posts only if every X account used has
/// `"verified": true`; Mastodon limits from `max_characters`, `characters_reserved_per_url`,
/// `max_media_attachments`, `image_size_limit` and `video_size_limit`, the strictest of the
/// accounts used.
pub fn validation_options(targets: &Targets, connections: &[Connection]) -> ValidationOptions {
    let mut opts = ValidationOptions::default();
    let used: Vec<&Connection> = targets
        .iter()
        .filter_map(|t| target_connection(t, connections))
        .collect();
    let x: Vec<&&Connection> = used.iter().filter(|c| c.provider == Provider::X).collect();
    opts.x_verified = !x.is_empty() && x.iter().all(|c| c.metadata_bool("verified") == Some(true));
    let mastodon = used.iter().filter(|c| c.provider == Provider::Mastodon);
    let as_usize = |v: Option<u64>| v.and_then(|v| usize::try_from(v).ok()).filter(|v| *v > 0);
    if let Some(max) = mastodon
        .clone()
        .filter_map(|c| as_usize(c.metadata_u64("max_characters")))
        .min()
    {
        opts.mastodon_max_characters = max;
    }
    if let Some(per_url) = mastodon
        .clone()
        .filter_map(|c| as_usize(c.metadata_u64("characters_reserved_per_url")))
        .max()
    {
        opts.mastodon_chars_per_url = per_url;
    }
    if let Some(n) = mastodon
        .clone()
        .filter_map(|c| as_usize(c.metadata_u64("max_media_attachments")))
        .min()
    {
        opts.mastodon_max_media = n;
    }
    let smallest = |key: &str| {
        mastodon
            .clone()
            .filter_map(|c| c.metadata_u64(key))
            .filter(|v| *v > 0)
            .min()
    };
    if let Some(bytes) = smallest("image_size_limit") {
        opts.mastodon_image_bytes = bytes;
    }
    if let Some(bytes) = smallest("video_size_limit") {
        opts.mastodon_video_bytes = bytes;
    }
    opts
}

#[cfg(test)]
mod tests;
