//! `posts` and `post_quota_usage`: reads and the post unit of work, which also writes the
//! post's jobs through [`super::jobs`] (lease check, cancel, enqueue, finish).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use multivio_domain::idempotency::IdempotencyClaim;
use multivio_domain::post::{
    ContentMode, PlatformContent, Post, PostName, PostStatus, Target, TargetResult, Targets,
    ThreadPart,
};
use multivio_domain::quota::QuotaEffect;
use multivio_domain::{MediaId, PostId, Provider, Tenant, UserId};
use multivio_ports::Page;
use multivio_ports::StoreError;
use multivio_ports::posts::{
    AccountRef, Decide, DecideWithAccount, Decision, PostChange, PostQuery, PostStore, PostWrite,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::cursor::Cursor;
use super::jobs::{cancel_jobs_of_post, check_lease, enqueue};
use super::reused::Reused;
use super::steps::StepWork;
use super::{Fail, PgStore, corrupt, storable};
use crate::schema::{idempotency_keys, media_files, posts};

/// A `posts` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = posts)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(super) struct PostRow {
    id: Uuid,
    user_id: i32,
    name: String,
    content_mode: Option<String>,
    universal_content: Option<String>,
    universal_metadata: Option<serde_json::Value>,
    platform_content: Option<serde_json::Value>,
    platforms: Option<serde_json::Value>,
    media_files: Option<serde_json::Value>,
    schedule_date: Option<DateTime<Utc>>,
    status: Option<String>,
    publish_job_id: Option<String>,
    published_at: Option<DateTime<Utc>>,
    publish_results: Option<serde_json::Value>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    revision: i64,
    thread: serde_json::Value,
    quota_unit_held: bool,
}

/// One attached file in the `media_files` column, in the seed's documented shape
/// (`[{"file_id": "…", …}]`); bare id strings are read too.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum MediaRef {
    Object { file_id: MediaId },
    Id(MediaId),
}

fn json_or<T: serde::de::DeserializeOwned + Default>(
    value: Option<serde_json::Value>,
    what: &str,
) -> Result<T, Fail> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| corrupt(what, e)),
    }
}

impl PostRow {
    pub(super) fn into_domain(self) -> Result<Post, Fail> {
        let created_at = self.created_at.unwrap_or_default();
        let targets: Vec<Target> = json_or(self.platforms, "platforms")?;
        let media: Vec<MediaRef> = json_or(self.media_files, "media_files")?;
        let platform_content: BTreeMap<Provider, PlatformContent> =
            json_or(self.platform_content, "platform_content")?;
        let publish_results: BTreeMap<String, TargetResult> =
            json_or(self.publish_results, "publish_results")?;
        let thread: Vec<ThreadPart> = json_or(Some(self.thread), "thread")?;
        Ok(Post {
            id: PostId(self.id),
            user_id: UserId(self.user_id),
            name: PostName::new(&self.name).map_err(|e| corrupt("name", e))?,
            content_mode: self
                .content_mode
                .as_deref()
                .unwrap_or("universal")
                .parse::<ContentMode>()
                .map_err(|e| corrupt("content_mode", e))?,
            universal_content: self.universal_content,
            universal_metadata: self
                .universal_metadata
                .unwrap_or_else(|| serde_json::json!({})),
            platform_content,
            platforms: Targets::new(targets).map_err(|e| corrupt("platforms", e))?,
            media_files: media
                .into_iter()
                .map(|m| match m {
                    MediaRef::Object { file_id } | MediaRef::Id(file_id) => file_id,
                })
                .collect(),
            thread,
            schedule_date: self.schedule_date,
            status: self
                .status
                .as_deref()
                .unwrap_or("draft")
                .parse::<PostStatus>()
                .map_err(|e| corrupt("status", e))?,
            publish_job_id: self.publish_job_id,
            published_at: self.published_at,
            publish_results,
            quota_consumed: self.quota_unit_held,
            revision: self.revision,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        })
    }
}

/// The columns a post write sets.
#[derive(Debug, AsChangeset, Insertable)]
#[diesel(table_name = posts)]
#[diesel(treat_none_as_null = true)]
struct PostColumns {
    name: String,
    content_mode: String,
    universal_content: Option<String>,
    universal_metadata: serde_json::Value,
    platform_content: serde_json::Value,
    platforms: serde_json::Value,
    media_files: serde_json::Value,
    schedule_date: Option<DateTime<Utc>>,
    status: String,
    publish_job_id: Option<String>,
    published_at: Option<DateTime<Utc>>,
    publish_results: serde_json::Value,
    thread: serde_json::Value,
}

impl PostColumns {
    fn of(post: &Post) -> Result<Self, Fail> {
        let json =
            |v: serde_json::Result<serde_json::Value>, what: &str| v.map_err(|e| corrupt(what, e));
        let media: Vec<MediaRef> = post
            .media_files
            .iter()
            .map(|id| MediaRef::Object { file_id: *id })
            .collect();
        Ok(Self {
            name: post.name.as_str().to_owned(),
            content_mode: post.content_mode.as_str().to_owned(),
            universal_content: post.universal_content.clone(),
            universal_metadata: post.universal_metadata.clone(),
            platform_content: json(
                serde_json::to_value(&post.platform_content),
                "platform_content",
            )?,
            platforms: json(serde_json::to_value(&post.platforms), "platforms")?,
            media_files: json(serde_json::to_value(&media), "media_files")?,
            schedule_date: post.schedule_date,
            status: post.status.as_str().to_owned(),
            publish_job_id: post.publish_job_id.clone(),
            published_at: post.published_at,
            publish_results: json(
                serde_json::to_value(&post.publish_results),
                "publish_results",
            )?,
            thread: json(serde_json::to_value(&post.thread), "thread")?,
        })
    }
}

/// The columns of a written post as the database stored them: the revision and `updated_at`
/// it sets, and the timestamps it keeps to the microsecond.
type Stamp = (
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
const STAMP: (
    posts::revision,
    posts::created_at,
    posts::updated_at,
    posts::schedule_date,
    posts::published_at,
) = (
    posts::revision,
    posts::created_at,
    posts::updated_at,
    posts::schedule_date,
    posts::published_at,
);

/// The written post as stored, without reading it back (its `quota_consumed` already reflects
/// the change's quota effect; the row is the tenant's). One difference from a fresh read
/// remains: jsonb keeps a number's value, not its spelling (`1e3` reads back as `1000`).
fn as_stored(mut post: Post, uid: i32, stamp: Stamp) -> Post {
    let (revision, created_at, updated_at, schedule_date, published_at) = stamp;
    post.user_id = UserId(uid);
    post.revision = revision;
    post.created_at = created_at.unwrap_or_default();
    post.updated_at = updated_at.unwrap_or(post.created_at);
    post.schedule_date = schedule_date;
    post.published_at = published_at;
    post
}

async fn load_post(conn: &mut &AsyncPgConnection, user_id: i32, id: Uuid) -> Result<Post, Fail> {
    let row: PostRow = posts::table
        .filter(posts::user_id.eq(user_id))
        .filter(posts::id.eq(id))
        .select(PostRow::as_select())
        .first(conn)
        .await?;
    row.into_domain()
}

/// Zero rows touched by a revision-guarded write: gone (or another tenant's), or changed.
async fn missing_or_conflict(conn: &mut &AsyncPgConnection, user_id: i32, id: Uuid) -> Fail {
    let exists = posts::table
        .filter(posts::user_id.eq(user_id))
        .filter(posts::id.eq(id))
        .select(posts::id)
        .first::<Uuid>(conn)
        .await
        .optional();
    match exists {
        Ok(Some(_)) => Fail::Store(StoreError::Conflict(
            "the post changed since it was read".to_owned(),
        )),
        Ok(None) => Fail::Store(StoreError::NotFound),
        Err(e) => Fail::Db(e),
    }
}

async fn apply_quota(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    post_id: Uuid,
    effect: QuotaEffect,
) -> Result<(), Fail> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    // Both functions (migration 011) act for the transaction's authentic claim only: the API
    // role cannot write the quota columns or the usage rows itself.
    match effect {
        QuotaEffect::None => Ok(()),
        QuotaEffect::Consume => {
            let taken: Taken =
                diesel::sql_query("SELECT multivio_private.consume_post_unit($1, $2) AS taken")
                    .bind::<SqlUuid, _>(post_id)
                    .bind::<Integer, _>(user_id)
                    .get_result(conn)
                    .await?;
            if !taken.taken {
                return Err(Fail::Store(StoreError::QuotaExceeded));
            }
            Ok(())
        }
        QuotaEffect::Refund => {
            diesel::sql_query("SELECT multivio_private.refund_post_unit($1, $2)")
                .bind::<SqlUuid, _>(post_id)
                .bind::<Integer, _>(user_id)
                .execute(conn)
                .await?;
            Ok(())
        }
    }
}

/// Records the post on the request's idempotency reservation — only while this attempt still
/// holds it, so two attempts can never both commit an effect.
async fn record_idempotent_effect(
    conn: &mut &AsyncPgConnection,
    user_id: i32,
    post_id: Uuid,
    claim: &IdempotencyClaim,
) -> Result<(), Fail> {
    let n = diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::user_id.eq(user_id))
            .filter(idempotency_keys::idempotency_key.eq(claim.key.as_str()))
            .filter(idempotency_keys::attempt.eq(claim.attempt))
            .filter(idempotency_keys::post_id.is_null()),
    )
    .set(idempotency_keys::post_id.eq(post_id))
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(Fail::Store(StoreError::Conflict(
            "the idempotency key was taken over by another attempt".to_owned(),
        )));
    }
    Ok(())
}

/// Share-locks the tenant's media rows `ids` until commit (a file's delete waits), or fails
/// with a conflict when one is gone.
async fn keep_media(conn: &mut &AsyncPgConnection, uid: i32, ids: &[MediaId]) -> Result<(), Fail> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = ids.iter().map(|m| m.0).collect();
    let kept: Vec<Uuid> = media_files::table
        .filter(media_files::user_id.eq(uid))
        .filter(media_files::id.eq_any(&ids))
        .select(media_files::id)
        .for_key_share()
        .load(conn)
        .await?;
    match ids.iter().find(|id| !kept.contains(id)) {
        None => Ok(()),
        Some(gone) => Err(Fail::Store(StoreError::Conflict(format!(
            "media file {gone} was deleted"
        )))),
    }
}

/// [`PostStore::apply`]'s unit of work, in the caller's transaction.
async fn apply_in(
    conn: &mut &AsyncPgConnection,
    uid: i32,
    mut change: PostChange,
) -> Result<Option<Post>, Fail> {
    // The platforms' words in the results (post ids, error messages) as PostgreSQL can hold
    // them, in the post returned too.
    if let PostWrite::Insert(post) | PostWrite::Update { post, .. } = &mut change.write {
        storable::results(post);
    }
    // A step's lease check and its post's update go out together (pipelined on the
    // connection, one round trip for both) — below; any other change checks the lease first.
    let pipelined = matches!(change.write, PostWrite::Update { .. });
    if let Some(step) = &change.job
        && !pipelined
    {
        check_lease(conn, uid, step).await?;
    }
    let post_id = match &change.write {
        PostWrite::Insert(post) => post.id.0,
        PostWrite::Update { post, .. } => post.id.0,
        PostWrite::Delete { id, .. } => id.0,
    };
    // A person's change leaving the post scheduled or publishing keeps the files it carries:
    // their rows are share-locked until commit, so a file's delete (which locks its row, then
    // looks for the scheduled posts carrying it) either waits and then sees this post, or
    // went first, and the file is missing here: nothing is written.
    if let (None, PostWrite::Insert(post) | PostWrite::Update { post, .. }) =
        (&change.job, &change.write)
        && matches!(post.status, PostStatus::Scheduled | PostStatus::Publishing)
    {
        keep_media(conn, uid, &post.content().all_media()).await?;
    }
    // A delete cascades to the usage row, so its quota effect goes first — on the post as
    // the change saw it, locked: one changed meanwhile (started publishing, say) is a conflict,
    // not a refund the database refuses.
    if let PostWrite::Delete {
        id,
        expected_revision,
    } = &change.write
    {
        if change.quota != QuotaEffect::None {
            let locked = posts::table
                .filter(posts::user_id.eq(uid))
                .filter(posts::id.eq(id.0))
                .filter(posts::revision.eq(expected_revision))
                .select(posts::id)
                .for_update()
                .first::<Uuid>(conn)
                .await
                .optional()?;
            if locked.is_none() {
                return Err(missing_or_conflict(conn, uid, id.0).await);
            }
        }
        apply_quota(conn, uid, post_id, change.quota).await?;
    }
    // The columns the database sets itself (the revision, `updated_at` by trigger),
    // as stored: with them the written post is the stored one, without reading it back.
    let mut stamped: Option<Stamp> = match &change.write {
        PostWrite::Insert(post) => Some(
            Reused(
                diesel::insert_into(posts::table)
                    .values((
                        posts::id.eq(post.id.0),
                        posts::user_id.eq(uid),
                        posts::revision.eq(post.revision),
                        posts::created_at.eq(post.created_at),
                        posts::updated_at.eq(post.updated_at),
                        PostColumns::of(post)?,
                    ))
                    .returning(STAMP),
            )
            .get_result(conn)
            .await?,
        ),
        PostWrite::Update {
            post,
            expected_revision,
        } => {
            let update = Reused(
                diesel::update(
                    posts::table
                        .filter(posts::user_id.eq(uid))
                        .filter(posts::id.eq(post.id.0))
                        .filter(posts::revision.eq(expected_revision)),
                )
                .set((
                    PostColumns::of(post)?,
                    posts::revision.eq(posts::revision + 1),
                ))
                .returning(STAMP),
            );
            // Both statements run in this transaction (the post is already locked by a step,
            // or not locked by anyone's job); both are awaited before either result counts, so
            // the connection is left with nothing in flight. The lease check goes out first (a
            // statement still to prepare holds the connection's statement cache until it is;
            // neither binds a custom type, whose lookup diesel-async makes before taking the
            // cache), so an error of its own comes first and the update's is "transaction
            // aborted". A lost lease wins over a conflict; the transaction rolls back the update.
            let shared: &AsyncPgConnection = conn;
            let lease = async {
                match &change.job {
                    Some(step) => check_lease(&mut &*shared, uid, step).await,
                    None => Ok(()),
                }
            };
            let write = async { update.get_result(&mut &*shared).await.optional() };
            let (lease, stamp) = futures_util::future::join(lease, write).await;
            lease?;
            let stamp = stamp?;
            match stamp {
                Some(stamp) => Some(stamp),
                None => return Err(missing_or_conflict(conn, uid, post.id.0).await),
            }
        }
        PostWrite::Delete {
            id,
            expected_revision,
        } => {
            let n = diesel::delete(
                posts::table
                    .filter(posts::user_id.eq(uid))
                    .filter(posts::id.eq(id.0))
                    .filter(posts::revision.eq(expected_revision)),
            )
            .execute(conn)
            .await?;
            if n == 0 {
                return Err(missing_or_conflict(conn, uid, id.0).await);
            }
            None
        }
    };
    if !matches!(change.write, PostWrite::Delete { .. }) {
        apply_quota(conn, uid, post_id, change.quota).await?;
        if matches!(change.write, PostWrite::Insert(_)) && change.quota != QuotaEffect::None {
            // The quota unit's mirror on the row (migration 017) wrote the new post again,
            // and its `updated_at` is now the transaction's time, not the post's own.
            stamped = Some(
                posts::table
                    .filter(posts::user_id.eq(uid))
                    .filter(posts::id.eq(post_id))
                    .select(STAMP)
                    .first(conn)
                    .await?,
            );
        }
        if change.cancel_pending_jobs {
            // Claimed jobs too; the job guarding this change is spared.
            // (The nil UUID is never a job's id.)
            let guard = change.job.as_ref().map_or(Uuid::nil(), |j| j.job_id.0);
            cancel_jobs_of_post(conn, uid, post_id, guard).await?;
        }
        enqueue(conn, uid, &change.enqueue).await?;
    }
    if let Some(claim) = &change.idempotency {
        record_idempotent_effect(conn, uid, post_id, claim).await?;
    }
    Ok(match (change.write, stamped) {
        (PostWrite::Insert(post) | PostWrite::Update { post, .. }, Some(stamp)) => {
            Some(as_stored(post, uid, stamp))
        }
        _ => None,
    })
}

#[async_trait]
impl PostStore for PgStore {
    async fn get(&self, tenant: &Tenant, id: PostId) -> Result<Post, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| load_post(conn, uid, id.0).await)
            .await
    }

    async fn list(&self, tenant: &Tenant, query: &PostQuery) -> Result<Page<Post>, StoreError> {
        let uid = tenant.user_id.0;
        let query = query.clone();
        let after = query
            .cursor
            .as_deref()
            .map(Cursor::decode)
            .transpose()
            .map_err(|_| StoreError::InvalidCursor)?;
        let limit = i64::from(query.limit.get());
        self.tenant(tenant, async move |conn| {
            let mut q = posts::table
                .filter(posts::user_id.eq(uid))
                .select(PostRow::as_select())
                .order((posts::created_at.desc(), posts::id.desc()))
                .limit(limit + 1)
                .into_boxed();
            if let Some(status) = query.status {
                q = q.filter(posts::status.eq(status.as_str()));
            }
            if let Some(platform) = query.platform {
                // Served by the GIN index on `platforms`: a bare name or an account object.
                let name = serde_json::json!([platform.as_str()]);
                let object = serde_json::json!([{ "platform": platform.as_str() }]);
                q = q.filter(
                    posts::platforms
                        .contains(name)
                        .or(posts::platforms.contains(object)),
                );
            }
            if let Some(from) = query.from {
                q = q.filter(posts::created_at.ge(from));
            }
            if let Some(to) = query.to {
                q = q.filter(posts::created_at.lt(to));
            }
            if let Some(after) = after {
                // Keyset: strictly older than the last row of the previous page.
                // A row comparison, so the index serves it as a range condition.
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("(posts.created_at, posts.id) < (")
                        .bind::<Timestamptz, _>(after.at)
                        .sql(", ")
                        .bind::<SqlUuid, _>(after.id)
                        .sql(")"),
                );
            }
            let rows: Vec<PostRow> = q.load(conn).await?;
            let more = rows.len() as i64 > limit;
            let items = rows
                .into_iter()
                .take(limit as usize)
                .map(PostRow::into_domain)
                .collect::<Result<Vec<Post>, Fail>>()?;
            let next_cursor = if more {
                items.last().map(|p| {
                    Cursor {
                        at: p.created_at,
                        id: p.id.0,
                    }
                    .encode()
                })
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn apply(&self, tenant: &Tenant, change: PostChange) -> Result<Option<Post>, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| apply_in(conn, uid, change).await)
            .await
    }

    async fn modify(
        &self,
        tenant: &Tenant,
        id: PostId,
        decide: Decide,
    ) -> Result<Post, StoreError> {
        self.step(tenant, id, StepWork::Plain(decide)).await
    }

    async fn modify_with_account(
        &self,
        tenant: &Tenant,
        id: PostId,
        account: AccountRef,
        decide: DecideWithAccount,
    ) -> Result<Post, StoreError> {
        self.step(tenant, id, StepWork::WithAccount(account, decide))
            .await
    }
}

/// The post, read and locked until the transaction ends: concurrent writers of the post wait.
/// After a wait the row read is the version the other writer committed, whole: everything the
/// post is lives in its row (the quota unit too, migration 017).
pub(super) async fn lock_post(
    conn: &mut &AsyncPgConnection,
    uid: i32,
    id: PostId,
) -> Result<PostRow, Fail> {
    Ok(posts::table
        .filter(posts::user_id.eq(uid))
        .filter(posts::id.eq(id.0))
        .select(PostRow::as_select())
        .for_no_key_update()
        .first::<PostRow>(conn)
        .await?)
}

/// [`PostStore::modify`]'s decision over the locked `post`, and its write.
pub(super) async fn decide_in(
    conn: &mut &AsyncPgConnection,
    uid: i32,
    post: Post,
    decide: Decide,
) -> Result<Post, Fail> {
    let change = match decide(&post) {
        Decision::Keep => return Ok(post),
        Decision::Write(change) => *change,
    };
    match &change.write {
        PostWrite::Update {
            post: changed,
            expected_revision,
        } if changed.id == post.id && *expected_revision == post.revision => {}
        _ => {
            return Err(Fail::Store(StoreError::Conflict(
                "the decision's write is not an update of the post it was given".to_owned(),
            )));
        }
    }
    apply_in(conn, uid, change)
        .await?
        .ok_or(Fail::Store(StoreError::NotFound))
}
