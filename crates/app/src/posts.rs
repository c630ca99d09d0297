//! Posts: create, edit, delete, validate, schedule, publish now, cancel, retry failed targets.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use multivio_domain::connection::{Connection, ConnectionStatus};
use multivio_domain::content::{PostReport, ValidationOptions, media_info, validate_post};
use multivio_domain::idempotency::IdempotencyClaim;
use multivio_domain::media::MediaFile;
use multivio_domain::post::{
    ContentMode, PlatformContent, Post, PostContent, PostInput, PostStatus, Target, Targets,
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
        let resolved = self.resolve(tenant, &content).await?;
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
        let resolved = self.resolve(tenant, &content).await?;
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
        let resolved = self.resolve(tenant, &content).await?;
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
        let resolved = self.resolve(tenant, &post.content()).await?;
        if matches!(post.status, PostStatus::Draft | PostStatus::Scheduled) {
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
        let resolved = self.resolve(tenant, &post.content()).await?;
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
                "the post was changed concurrently; reload it".to_owned(),
            )),
            Err(e) => Err(AppError::from_store("post", e)),
        }
    }

    /// Checks that the media and explicit connections a post names are the tenant's.
    async fn resolve(&self, tenant: &Tenant, content: &PostContent) -> AppResult<Resolved> {
        let mut errors = Vec::new();
        let media = if content.media_files.is_empty() {
            Vec::new()
        } else {
            self.media.get_many(tenant, &content.media_files).await?
        };
        let media: Vec<MediaFile> = media
            .into_iter()
            .filter(|m| tenant.owns(m.user_id))
            .collect();
        for (i, id) in content.media_files.iter().enumerate() {
            if !media.iter().any(|m| m.id == *id) {
                errors.push(FieldError::new(
                    format!("media_files.{i}"),
                    format!("unknown media file {id}"),
                ));
            }
        }
        let connections = if content.platforms.is_empty() {
            Vec::new()
        } else {
            self.connections.list(tenant).await?
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
        // Keep media in the post's order.
        let media = content
            .media_files
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
/// `"verified": true`; Mastodon limits from `max_characters` and `characters_reserved_per_url`,
/// the strictest of the accounts used.
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
        .filter_map(|c| as_usize(c.metadata_u64("characters_reserved_per_url")))
        .max()
    {
        opts.mastodon_chars_per_url = per_url;
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use chrono::Duration;
    use multivio_domain::UserId;
    use multivio_domain::page::PageSize;
    use multivio_domain::post::{PostAction, TargetError, TargetOutcome, TransitionError};
    use multivio_ports::connections::MockConnectionStore;
    use multivio_ports::media::MockMediaRepository;
    use multivio_ports::posts::MockPostStore;
    use multivio_ports::users::MockQuotaStore;
    use std::sync::Mutex;
    use uuid::Uuid;

    fn pid(n: u128) -> PostId {
        PostId(Uuid::from_u128(n))
    }

    fn input(platforms: Vec<Target>) -> PostInput {
        PostInput {
            name: "Launch".into(),
            universal_content: Some("Hello from Multivio".into()),
            platforms,
            ..Default::default()
        }
    }

    fn post(n: u128, platforms: Vec<Target>) -> Post {
        let content = PostContent::parse(input(platforms)).unwrap();
        let mut p = Post::new_draft(pid(n), UserId(1), content, now() - Duration::hours(1));
        p.revision = 3;
        p
    }

    fn x_and_bluesky() -> Vec<Target> {
        vec![
            Target::primary(Provider::X),
            Target::primary(Provider::Bluesky),
        ]
    }

    fn quota(remaining: u32) -> Quota {
        Quota {
            monthly_post_quota: 10,
            remaining_posts: remaining,
            last_quota_reset: now() - Duration::days(3),
        }
    }

    struct Deps {
        posts: MockPostStore,
        connections: MockConnectionStore,
        media: MockMediaRepository,
        quotas: MockQuotaStore,
    }

    impl Deps {
        fn new() -> Self {
            let mut connections = MockConnectionStore::new();
            connections.expect_list().returning(|_| {
                Ok(vec![
                    connection(1, Provider::X, true, 10),
                    connection(2, Provider::Bluesky, true, 10),
                ])
            });
            let mut quotas = MockQuotaStore::new();
            quotas.expect_get().returning(|_| Ok(quota(5)));
            Self {
                posts: MockPostStore::new(),
                connections,
                media: MockMediaRepository::new(),
                quotas,
            }
        }

        fn with_post(mut self, p: Post) -> Self {
            self.posts.expect_get().returning(move |_, id| {
                if id == p.id {
                    Ok(p.clone())
                } else {
                    Err(StoreError::NotFound)
                }
            });
            self
        }

        fn build(self) -> PostService {
            PostService::new(PostPorts {
                posts: Arc::new(self.posts),
                connections: Arc::new(self.connections),
                media: Arc::new(self.media),
                quotas: Arc::new(self.quotas),
                ids: ids(),
                clock: clock(),
            })
        }
    }

    fn updated(change: &PostChange) -> &Post {
        match &change.write {
            PostWrite::Update { post, .. } | PostWrite::Insert(post) => post,
            PostWrite::Delete { .. } => panic!("not a write"),
        }
    }

    fn echo(change: PostChange) -> Result<Option<Post>, StoreError> {
        Ok(match change.write {
            PostWrite::Insert(p) => Some(p),
            PostWrite::Update {
                mut post,
                expected_revision,
            } => {
                post.revision = expected_revision + 1;
                Some(post)
            }
            PostWrite::Delete { .. } => None,
        })
    }

    // ---- create ----

    #[tokio::test]
    async fn create_stores_a_draft_without_touching_the_quota() {
        let mut d = Deps::new();
        d.posts
            .expect_apply()
            .withf(|t, c| {
                *t == tenant()
                    && matches!(&c.write, PostWrite::Insert(p) if p.status == PostStatus::Draft && p.user_id == UserId(1))
                    && c.quota == QuotaEffect::None
                    && c.enqueue.is_empty()
            })
            .times(1)
            .returning(|_, c| echo(c));
        let p = d
            .build()
            .create(&tenant(), input(x_and_bluesky()), None, None)
            .await
            .unwrap();
        assert_eq!(p.status, PostStatus::Draft);
    }

    #[tokio::test]
    async fn create_with_a_date_schedules_consumes_and_enqueues_one_job_per_target() {
        let at = now() + Duration::days(1);
        let mut d = Deps::new();
        d.posts
            .expect_apply()
            .withf(move |_, c| {
                let p = updated(c);
                p.status == PostStatus::Scheduled
                    && p.quota_consumed
                    && c.quota == QuotaEffect::Consume
                    && c.enqueue.len() == 2
                    && c.enqueue
                        .iter()
                        .all(|j| j.run_at == at && j.post_id == p.id)
            })
            .times(1)
            .returning(|_, c| echo(c));
        let p = d
            .build()
            .create(&tenant(), input(x_and_bluesky()), Some(at), None)
            .await
            .unwrap();
        assert_eq!(p.schedule_date, Some(at));
    }

    #[tokio::test]
    async fn create_rejects_bad_structure_unknown_media_and_foreign_accounts() {
        let d = Deps::new();
        let bad = PostInput {
            name: " ".into(),
            ..input(vec![])
        };
        assert!(
            matches!(d.build().create(&tenant(), bad, None, None).await, Err(AppError::Invalid(e)) if e[0].field == "name")
        );

        let mut d = Deps::new();
        d.media.expect_get_many().returning(|_, _| Ok(vec![]));
        d.posts.expect_apply().never();
        let with_media = PostInput {
            media_files: vec![MediaId(Uuid::from_u128(9))],
            ..input(x_and_bluesky())
        };
        assert!(matches!(
            d.build().create(&tenant(), with_media, None, None).await,
            Err(AppError::Invalid(e)) if e[0].field == "media_files.0"
        ));

        let mut d = Deps::new();
        d.posts.expect_apply().never();
        let foreign = input(vec![Target::account(Provider::Mastodon, cid(77))]);
        assert!(matches!(
            d.build().create(&tenant(), foreign, None, None).await,
            Err(AppError::Invalid(e)) if e[0].field == "platforms.0"
        ));
    }

    #[tokio::test]
    async fn create_scheduled_with_content_too_long_for_x_is_invalid() {
        let mut d = Deps::new();
        d.posts.expect_apply().never();
        let long = PostInput {
            universal_content: Some("a".repeat(281)),
            ..input(x_and_bluesky())
        };
        let r = d
            .build()
            .create(&tenant(), long, Some(now() + Duration::hours(1)), None)
            .await;
        assert!(
            matches!(r, Err(AppError::Invalid(e)) if e.iter().any(|e| e.field == "platforms.0"))
        );
    }

    // ---- read ----

    #[tokio::test]
    async fn get_hides_other_tenants_posts() {
        let mut foreign = post(1, x_and_bluesky());
        foreign.user_id = UserId(2);
        let d = Deps::new().with_post(foreign);
        let svc = d.build();
        assert_eq!(
            svc.get(&tenant(), pid(1)).await,
            Err(AppError::NotFound("post"))
        );
        assert_eq!(
            svc.get(&tenant(), pid(2)).await,
            Err(AppError::NotFound("post"))
        );
    }

    #[tokio::test]
    async fn list_passes_the_page_size_and_refuses_a_reversed_range() {
        let mut d = Deps::new();
        d.posts
            .expect_list()
            .withf(|_, q| q.limit.get() == 100)
            .times(1)
            .returning(|_, _| {
                Ok(Page {
                    items: vec![],
                    next_cursor: None,
                })
            });
        let svc = d.build();
        let q = |from, to| PostQuery {
            status: None,
            platform: None,
            from,
            to,
            limit: PageSize::new(Some(500)),
            cursor: None,
        };
        assert!(svc.list(&tenant(), q(None, None)).await.is_ok());
        assert!(matches!(
            svc.list(&tenant(), q(Some(now()), Some(now() - Duration::days(1)))).await,
            Err(AppError::Invalid(e)) if e[0].field == "from"
        ));
    }

    // ---- edit / delete ----

    #[tokio::test]
    async fn edit_merges_the_patch_into_a_draft() {
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts
            .expect_apply()
            .withf(|_, c| {
                matches!(&c.write, PostWrite::Update { post, expected_revision: 3 }
                    if post.name.as_str() == "Renamed" && post.universal_content.as_deref() == Some("Hello from Multivio"))
                    && !c.cancel_pending_jobs
            })
            .times(1)
            .returning(|_, c| echo(c));
        let patch = PostPatch {
            name: Some("Renamed".into()),
            ..Default::default()
        };
        let p = d.build().edit(&tenant(), pid(1), patch).await.unwrap();
        assert_eq!(p.revision, 4);
    }

    #[tokio::test]
    async fn editing_a_scheduled_post_replaces_its_jobs() {
        let mut p = post(1, x_and_bluesky());
        let at = now() + Duration::hours(5);
        p.schedule(at, now() - Duration::hours(1)).unwrap();
        let mut d = Deps::new().with_post(p);
        d.posts
            .expect_apply()
            .withf(move |_, c| {
                c.cancel_pending_jobs
                    && c.enqueue.len() == 1
                    && c.enqueue[0].target == Target::primary(Provider::Bluesky)
                    && c.enqueue[0].run_at == at
                    && c.quota == QuotaEffect::None
            })
            .times(1)
            .returning(|_, c| echo(c));
        let patch = PostPatch {
            platforms: Some(vec![Target::primary(Provider::Bluesky)]),
            ..Default::default()
        };
        d.build().edit(&tenant(), pid(1), patch).await.unwrap();
    }

    #[tokio::test]
    async fn edit_failures() {
        let mut publishing = post(1, x_and_bluesky());
        publishing.start_publishing(now()).unwrap();
        let mut d = Deps::new().with_post(publishing);
        d.posts.expect_apply().never();
        assert_eq!(
            d.build()
                .edit(&tenant(), pid(1), PostPatch::default())
                .await,
            Err(AppError::IllegalTransition(TransitionError {
                from: PostStatus::Publishing,
                action: PostAction::Edit
            }))
        );

        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts
            .expect_apply()
            .returning(|_, _| Err(StoreError::Conflict("revision".into())));
        assert!(matches!(
            d.build()
                .edit(&tenant(), pid(1), PostPatch::default())
                .await,
            Err(AppError::Conflict(_))
        ));

        let d = Deps::new().with_post(post(1, x_and_bluesky()));
        assert_eq!(
            d.build()
                .edit(&tenant(), pid(9), PostPatch::default())
                .await,
            Err(AppError::NotFound("post"))
        );
    }

    #[tokio::test]
    async fn deleting_a_scheduled_post_cancels_jobs_and_refunds() {
        let mut p = post(1, x_and_bluesky());
        p.schedule(now() + Duration::hours(1), now()).unwrap();
        let mut d = Deps::new().with_post(p);
        d.posts
            .expect_apply()
            .withf(|_, c| {
                matches!(
                    c.write,
                    PostWrite::Delete {
                        expected_revision: 3,
                        ..
                    }
                ) && c.quota == QuotaEffect::Refund
                    && c.cancel_pending_jobs
            })
            .times(1)
            .returning(|_, c| echo(c));
        d.build().delete(&tenant(), pid(1)).await.unwrap();
    }

    #[tokio::test]
    async fn delete_failures() {
        let mut p = post(1, x_and_bluesky());
        p.start_publishing(now()).unwrap();
        let mut d = Deps::new().with_post(p);
        d.posts.expect_apply().never();
        let svc = d.build();
        assert!(matches!(
            svc.delete(&tenant(), pid(1)).await,
            Err(AppError::IllegalTransition(_))
        ));
        assert_eq!(
            svc.delete(&tenant(), pid(2)).await,
            Err(AppError::NotFound("post"))
        );
    }

    // ---- validate ----

    #[tokio::test]
    async fn validate_reports_per_platform_with_account_settings() {
        let mut d = Deps::new();
        d.connections.checkpoint();
        d.connections.expect_list().returning(|_| {
            let mut x = connection(1, Provider::X, true, 1);
            x.metadata = serde_json::json!({"verified": true});
            Ok(vec![x, connection(2, Provider::Bluesky, true, 1)])
        });
        let text = PostInput {
            name: "".into(),
            universal_content: Some("a".repeat(400)),
            ..input(x_and_bluesky())
        };
        let report = d.build().validate(&tenant(), text, None).await.unwrap();
        assert!(
            report.platforms[&Provider::X].valid,
            "verified X allows 4000"
        );
        assert!(
            !report.platforms[&Provider::Bluesky].valid,
            "400 > 300 graphemes"
        );
        assert!(!report.valid);
    }

    // ---- schedule ----

    #[tokio::test]
    async fn schedule_consumes_one_unit_and_enqueues_jobs() {
        let at = now() + Duration::hours(2);
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts
            .expect_apply()
            .withf(move |_, c| {
                let p = updated(c);
                p.status == PostStatus::Scheduled
                    && c.quota == QuotaEffect::Consume
                    && c.enqueue.len() == 2
                    && c.enqueue.iter().all(|j| j.run_at == at)
                    && matches!(
                        c.write,
                        PostWrite::Update {
                            expected_revision: 3,
                            ..
                        }
                    )
            })
            .times(1)
            .returning(|_, c| echo(c));
        let p = d
            .build()
            .schedule(&tenant(), pid(1), at, None)
            .await
            .unwrap();
        assert_eq!(p.status, PostStatus::Scheduled);
    }

    #[tokio::test]
    async fn a_platform_may_be_scheduled_before_its_account_is_connected() {
        // No LinkedIn account yet: the schedule is accepted (the account is resolved when the
        // job runs), while publishing now needs the account.
        let at = now() + Duration::hours(2);
        let mut d = Deps::new().with_post(post(1, vec![Target::primary(Provider::Linkedin)]));
        d.posts
            .expect_apply()
            .withf(|_, c| updated(c).status == PostStatus::Scheduled && c.enqueue.len() == 1)
            .times(1)
            .returning(|_, c| echo(c));
        let p = d
            .build()
            .schedule(&tenant(), pid(1), at, None)
            .await
            .unwrap();
        assert_eq!(p.status, PostStatus::Scheduled);

        let mut d = Deps::new().with_post(post(1, vec![Target::primary(Provider::Linkedin)]));
        d.posts.expect_apply().never();
        let r = d.build().publish_now(&tenant(), pid(1), None).await;
        assert!(
            matches!(r, Err(AppError::Invalid(e)) if e[0].field == "platforms.0" && e[0].reason.contains("connect"))
        );
    }

    #[tokio::test]
    async fn schedule_failures() {
        // Date in the past.
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts.expect_apply().never();
        let r = d
            .build()
            .schedule(&tenant(), pid(1), now() - Duration::minutes(1), None)
            .await;
        assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "schedule_date"));

        // A named account that is not connected.
        let ghost = multivio_domain::ConnectionId(uuid::Uuid::from_u128(404));
        let mut d =
            Deps::new().with_post(post(1, vec![Target::account(Provider::Linkedin, ghost)]));
        d.posts.expect_apply().never();
        let r = d
            .build()
            .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
            .await;
        assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].field == "platforms.0"));

        // Account needs reauth.
        let mut d = Deps::new().with_post(post(1, vec![Target::primary(Provider::X)]));
        d.connections.checkpoint();
        d.connections.expect_list().returning(|_| {
            let mut c = connection(1, Provider::X, true, 1);
            c.status = ConnectionStatus::NeedsReauth;
            Ok(vec![c])
        });
        let r = d
            .build()
            .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
            .await;
        assert!(matches!(r, Err(AppError::Invalid(e)) if e[0].reason.contains("reconnect")));

        // Already published.
        let mut p = post(1, x_and_bluesky());
        p.status = PostStatus::Published;
        let d = Deps::new().with_post(p);
        let r = d
            .build()
            .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
            .await;
        assert!(matches!(
            r,
            Err(AppError::IllegalTransition(TransitionError {
                from: PostStatus::Published,
                ..
            }))
        ));

        // Wrong tenant.
        let d = Deps::new().with_post(post(1, x_and_bluesky()));
        let r = d
            .build()
            .schedule(&other_tenant(), pid(2), now() + Duration::hours(1), None)
            .await;
        assert_eq!(r, Err(AppError::NotFound("post")));
    }

    #[tokio::test]
    async fn schedule_reports_quota_exceeded_with_the_reset_date() {
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts
            .expect_apply()
            .returning(|_, _| Err(StoreError::QuotaExceeded));
        let r = d
            .build()
            .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
            .await;
        assert_eq!(
            r,
            Err(AppError::QuotaExceeded {
                monthly_post_quota: Some(10),
                resets_at: quota(0).resets_at()
            })
        );
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.quotas.checkpoint();
        d.quotas.expect_get().returning(|_| Ok(quota(0)));
        d.posts.expect_apply().never();
        let r = d
            .build()
            .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
            .await;
        assert!(matches!(r, Err(AppError::QuotaExceeded { .. })));
    }

    /// The store below behaves like the PostgreSQL adapter's conditional `UPDATE … WHERE
    /// remaining_posts > 0`: two posts race for the last unit.
    #[tokio::test]
    async fn quota_at_one_with_two_posts_scheduled_serves_exactly_one() {
        let remaining = Arc::new(Mutex::new(quota(1)));
        let mut d = Deps::new();
        d.quotas.checkpoint();
        let r = remaining.clone();
        d.quotas
            .expect_get()
            .returning(move |_| Ok(*r.lock().unwrap()));
        let (p1, p2) = (post(1, x_and_bluesky()), post(2, x_and_bluesky()));
        d.posts
            .expect_get()
            .returning(move |_, id| Ok(if id == p1.id { p1.clone() } else { p2.clone() }));
        let r = remaining.clone();
        d.posts.expect_apply().returning(move |_, c| {
            let mut q = r.lock().unwrap();
            if c.quota == QuotaEffect::Consume {
                *q = q.consume().map_err(|_| StoreError::QuotaExceeded)?;
            }
            echo(c)
        });
        let svc = d.build();
        let at = now() + Duration::hours(1);
        let t = tenant();
        let (a, b) = tokio::join!(
            svc.schedule(&t, pid(1), at, None),
            svc.schedule(&t, pid(2), at, None)
        );
        let results = [a, b];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert_eq!(
            results
                .iter()
                .filter(|r| matches!(r, Err(AppError::QuotaExceeded { .. })))
                .count(),
            1
        );
        assert_eq!(remaining.lock().unwrap().remaining_posts, 0);
    }

    #[tokio::test]
    async fn an_ended_period_is_reset_before_consuming() {
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.quotas.checkpoint();
        d.quotas.expect_get().returning(|_| {
            Ok(Quota {
                monthly_post_quota: 10,
                remaining_posts: 0,
                last_quota_reset: now() - Duration::days(45),
            })
        });
        d.quotas
            .expect_reset_period()
            .times(1)
            .returning(|_, _, _| Ok(true));
        d.posts.expect_apply().times(1).returning(|_, c| echo(c));
        d.build()
            .schedule(&tenant(), pid(1), now() + Duration::hours(1), None)
            .await
            .unwrap();
    }

    // ---- publish now / cancel / retry ----

    #[tokio::test]
    async fn publish_now_consumes_and_enqueues_due_jobs() {
        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts
            .expect_apply()
            .withf(|_, c| {
                let p = updated(c);
                p.status == PostStatus::Publishing
                    && p.publish_results.len() == 2
                    && c.quota == QuotaEffect::Consume
                    && c.enqueue.iter().all(|j| j.run_at == now())
                    && c.enqueue.len() == 2
                    && p.publish_job_id == Some(c.enqueue[0].id.to_string())
            })
            .times(1)
            .returning(|_, c| echo(c));
        d.build()
            .publish_now(&tenant(), pid(1), None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn publishing_a_scheduled_post_now_replaces_its_jobs_without_consuming_again() {
        let mut p = post(1, x_and_bluesky());
        p.schedule(now() + Duration::hours(3), now()).unwrap();
        let mut d = Deps::new().with_post(p);
        d.posts
            .expect_apply()
            .withf(|_, c| {
                c.quota == QuotaEffect::None && c.cancel_pending_jobs && c.enqueue.len() == 2
            })
            .times(1)
            .returning(|_, c| echo(c));
        d.build()
            .publish_now(&tenant(), pid(1), None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn publish_now_failures() {
        let mut p = post(1, x_and_bluesky());
        p.start_publishing(now()).unwrap();
        let d = Deps::new().with_post(p);
        assert!(matches!(
            d.build().publish_now(&tenant(), pid(1), None).await,
            Err(AppError::IllegalTransition(_))
        ));

        let mut d = Deps::new().with_post(post(1, x_and_bluesky()));
        d.posts
            .expect_apply()
            .returning(|_, _| Err(StoreError::QuotaExceeded));
        assert!(matches!(
            d.build().publish_now(&tenant(), pid(1), None).await,
            Err(AppError::QuotaExceeded { .. })
        ));

        let d = Deps::new().with_post(post(1, x_and_bluesky()));
        assert_eq!(
            d.build().publish_now(&tenant(), pid(5), None).await,
            Err(AppError::NotFound("post"))
        );
    }

    #[tokio::test]
    async fn cancel_refunds_and_cancels_jobs() {
        let mut p = post(1, x_and_bluesky());
        p.schedule(now() + Duration::hours(3), now()).unwrap();
        let mut d = Deps::new().with_post(p);
        d.posts
            .expect_apply()
            .withf(|_, c| {
                updated(c).status == PostStatus::Draft
                    && c.quota == QuotaEffect::Refund
                    && c.cancel_pending_jobs
            })
            .times(1)
            .returning(|_, c| echo(c));
        let p = d.build().cancel(&tenant(), pid(1)).await.unwrap();
        assert_eq!((p.status, p.quota_consumed), (PostStatus::Draft, false));
    }

    #[tokio::test]
    async fn cancel_failures() {
        let d = Deps::new().with_post(post(1, x_and_bluesky()));
        let svc = d.build();
        assert_eq!(
            svc.cancel(&tenant(), pid(1)).await,
            Err(AppError::IllegalTransition(TransitionError {
                from: PostStatus::Draft,
                action: PostAction::Cancel
            }))
        );
        assert_eq!(
            svc.cancel(&tenant(), pid(3)).await,
            Err(AppError::NotFound("post"))
        );
    }

    fn settled(outcomes: [TargetOutcome; 2]) -> Post {
        let mut p = post(1, x_and_bluesky());
        p.start_publishing(now()).unwrap();
        let [a, b] = outcomes;
        p.record_outcome("twitter", a, now()).unwrap();
        p.record_outcome("bluesky", b, now()).unwrap();
        p
    }

    fn ok() -> TargetOutcome {
        TargetOutcome::Published {
            platform_post_id: Some("1".into()),
            url: None,
        }
    }

    fn failed() -> TargetOutcome {
        TargetOutcome::Failed(TargetError::new("rejected", "no"))
    }

    #[tokio::test]
    async fn retry_requeues_only_failed_targets() {
        let mut d = Deps::new().with_post(settled([ok(), failed()]));
        d.posts
            .expect_apply()
            .withf(|_, c| {
                c.enqueue.len() == 1
                    && c.enqueue[0].target == Target::primary(Provider::Bluesky)
                    && c.quota == QuotaEffect::None
                    && updated(c).status == PostStatus::Publishing
            })
            .times(1)
            .returning(|_, c| echo(c));
        d.build().retry(&tenant(), pid(1)).await.unwrap();
    }

    #[tokio::test]
    async fn retry_after_a_total_failure_consumes_again() {
        let mut d = Deps::new().with_post(settled([failed(), failed()]));
        d.posts
            .expect_apply()
            .withf(|_, c| c.quota == QuotaEffect::Consume && c.enqueue.len() == 2)
            .times(1)
            .returning(|_, c| echo(c));
        d.build().retry(&tenant(), pid(1)).await.unwrap();

        let mut d = Deps::new().with_post(settled([failed(), failed()]));
        d.posts
            .expect_apply()
            .returning(|_, _| Err(StoreError::QuotaExceeded));
        assert!(matches!(
            d.build().retry(&tenant(), pid(1)).await,
            Err(AppError::QuotaExceeded { .. })
        ));
    }

    #[tokio::test]
    async fn retry_failures() {
        let unknown = TargetOutcome::Unknown(TargetError::new("timeout", "?"));
        let d = Deps::new().with_post(settled([ok(), unknown]));
        assert!(matches!(
            d.build().retry(&tenant(), pid(1)).await,
            Err(AppError::Conflict(_))
        ));

        let d = Deps::new().with_post(post(1, x_and_bluesky()));
        assert!(matches!(
            d.build().retry(&tenant(), pid(1)).await,
            Err(AppError::IllegalTransition(_))
        ));
        let d = Deps::new().with_post(post(1, x_and_bluesky()));
        assert_eq!(
            d.build().retry(&tenant(), pid(4)).await,
            Err(AppError::NotFound("post"))
        );
    }

    #[test]
    fn validation_options_follow_the_accounts_used() {
        let mut x = connection(1, Provider::X, true, 1);
        x.metadata = serde_json::json!({"verified": true});
        let mut m1 = connection(2, Provider::Mastodon, true, 1);
        m1.metadata =
            serde_json::json!({"max_characters": 1000, "characters_reserved_per_url": 23});
        let mut m2 = connection(3, Provider::Mastodon, false, 1);
        m2.metadata = serde_json::json!({"max_characters": 700});
        let all = [x.clone(), m1, m2];
        let targets = Targets::new(vec![
            Target::primary(Provider::X),
            Target::account(Provider::Mastodon, cid(2)),
            Target::account(Provider::Mastodon, cid(3)),
        ])
        .unwrap();
        let opts = validation_options(&targets, &all);
        assert!(opts.x_verified);
        assert_eq!(opts.mastodon_max_characters, 700);
        let only_primary = Targets::new(vec![Target::primary(Provider::Mastodon)]).unwrap();
        assert_eq!(
            validation_options(&only_primary, &all).mastodon_max_characters,
            1000
        );
        assert!(!validation_options(&only_primary, &all).x_verified);
        let unverified = [connection(1, Provider::X, true, 1)];
        let x_only = Targets::new(vec![Target::primary(Provider::X)]).unwrap();
        assert!(!validation_options(&x_only, &unverified).x_verified);
    }
}
