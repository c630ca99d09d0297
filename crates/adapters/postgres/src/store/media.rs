//! `media_files`: the media file rows (the bytes live in a `MediaStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::page::PageSize;
use multivio_domain::{MediaId, PostId, Provider, Tenant, UserId};
use multivio_ports::media::{MediaDeletion, MediaRepository, QuotaInsert};
use multivio_ports::{Page, StoreError};
use uuid::Uuid;

use super::cursor::Cursor;
use super::{Fail, PgStore, corrupt, one_row};
use crate::schema::media_files;

/// A `media_files` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = media_files)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct MediaRow {
    id: Uuid,
    user_id: i32,
    filename: String,
    original_filename: Option<String>,
    file_type: Option<String>,
    file_size: Option<i32>,
    cdn_url: Option<String>,
    thumbnail_url: Option<String>,
    platform_compatibility: Option<serde_json::Value>,
    alt_text: Option<String>,
    upload_date: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    width: Option<i32>,
    height: Option<i32>,
    duration_secs: Option<f64>,
}

impl MediaRow {
    fn of(user_id: i32, f: &MediaFile) -> Result<Self, Fail> {
        Ok(Self {
            id: f.id.0,
            user_id,
            filename: f.filename.clone(),
            original_filename: f.original_filename.clone(),
            file_type: Some(f.file_type.clone()),
            // The seed's column is INTEGER: files over 2 GiB cannot be recorded.
            file_size: Some(i32::try_from(f.file_size).map_err(|_| {
                Fail::Store(StoreError::Conflict("file too large to record".to_owned()))
            })?),
            cdn_url: f.cdn_url.clone(),
            thumbnail_url: f.thumbnail_url.clone(),
            platform_compatibility: Some(
                serde_json::to_value(&f.platform_compatibility)
                    .map_err(|e| corrupt("platform_compatibility", e))?,
            ),
            alt_text: f.alt_text.as_ref().map(|a| a.as_str().to_owned()),
            upload_date: Some(f.upload_date),
            created_at: Some(f.created_at),
            updated_at: Some(f.updated_at),
            width: f.width.map(|w| i32::try_from(w).unwrap_or(i32::MAX)),
            height: f.height.map(|h| i32::try_from(h).unwrap_or(i32::MAX)),
            duration_secs: f.duration_secs,
        })
    }

    fn into_domain(self) -> Result<MediaFile, Fail> {
        let created_at = self.created_at.unwrap_or_default();
        let platform_compatibility: Vec<Provider> = match self.platform_compatibility {
            None | Some(serde_json::Value::Null) => Vec::new(),
            // Unknown platform names (written by something else) are dropped, not fatal.
            Some(v) => serde_json::from_value::<Vec<String>>(v)
                .map_err(|e| corrupt("platform_compatibility", e))?
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
        };
        Ok(MediaFile {
            id: MediaId(self.id),
            user_id: UserId(self.user_id),
            filename: self.filename,
            original_filename: self.original_filename,
            file_type: self.file_type.unwrap_or_default(),
            file_size: self
                .file_size
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            cdn_url: self.cdn_url,
            thumbnail_url: self.thumbnail_url,
            platform_compatibility,
            alt_text: self
                .alt_text
                .map(AltText::new)
                .transpose()
                .map_err(|e| corrupt("alt_text", e))?,
            width: self.width.and_then(|w| u32::try_from(w).ok()),
            height: self.height.and_then(|h| u32::try_from(h).ok()),
            duration_secs: self.duration_secs,
            upload_date: self.upload_date.unwrap_or(created_at),
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        })
    }
}

/// The advisory lock class serialising one tenant's media inserts (the tenant's id is the
/// second key): `pg_advisory_xact_lock(MEDIA_QUOTA_LOCK, user_id)`.
const MEDIA_QUOTA_LOCK: i32 = 0x4d44_5141; // "MDQA"

/// Bytes the user's files take.
async fn used_bytes(conn: &mut &AsyncPgConnection, user_id: i32) -> Result<u64, Fail> {
    let sum: Option<i64> = media_files::table
        .filter(media_files::user_id.eq(user_id))
        .select(diesel::dsl::sum(media_files::file_size))
        .first(conn)
        .await?;
    Ok(sum.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// The user's scheduled or publishing posts that carry the file: in `media_files` (objects
/// `{"file_id": …}` or bare ids), a thread part's `media_files`, or a platform's thread.
const ATTACHED: &str = "\
SELECT id FROM posts
WHERE user_id = $1
  AND status IN ('scheduled', 'publishing')
  AND (jsonb_path_exists(COALESCE(media_files, '[]'), '$[*] ? (@ == $id || @.file_id == $id)', $2)
    OR jsonb_path_exists(thread, '$[*].media_files[*] ? (@ == $id)', $2)
    OR jsonb_path_exists(COALESCE(platform_content, '{}'), '$.*.thread[*].media_files[*] ? (@ == $id)', $2))
ORDER BY schedule_date NULLS LAST, id";

#[derive(QueryableByName)]
struct PostIdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

async fn load(conn: &mut &AsyncPgConnection, user_id: i32, id: Uuid) -> Result<MediaFile, Fail> {
    media_files::table
        .filter(media_files::user_id.eq(user_id))
        .filter(media_files::id.eq(id))
        .select(MediaRow::as_select())
        .first(conn)
        .await?
        .into_domain()
}

#[async_trait]
impl MediaRepository for PgStore {
    async fn insert(&self, tenant: &Tenant, file: &MediaFile) -> Result<MediaFile, StoreError> {
        let uid = tenant.user_id.0;
        let file = file.clone();
        self.tenant(tenant, async move |conn| {
            let row: MediaRow = diesel::insert_into(media_files::table)
                .values(MediaRow::of(uid, &file)?)
                .returning(MediaRow::as_returning())
                .get_result(conn)
                .await?;
            row.into_domain()
        })
        .await
    }

    async fn insert_within_quota(
        &self,
        tenant: &Tenant,
        file: &MediaFile,
        allowed_bytes: u64,
    ) -> Result<QuotaInsert, StoreError> {
        let uid = tenant.user_id.0;
        let file = file.clone();
        self.tenant(tenant, async move |conn| {
            // One insert of this tenant at a time, until commit: the sum read next stays true
            // until the row is in.
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind::<diesel::sql_types::Int4, _>(MEDIA_QUOTA_LOCK)
                .bind::<diesel::sql_types::Int4, _>(uid)
                .execute(conn)
                .await?;
            let used = used_bytes(conn, uid).await?;
            if used.saturating_add(file.file_size) > allowed_bytes {
                return Ok(QuotaInsert::OverQuota { used_bytes: used });
            }
            let row: MediaRow = diesel::insert_into(media_files::table)
                .values(MediaRow::of(uid, &file)?)
                .returning(MediaRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(QuotaInsert::Inserted(Box::new(row.into_domain()?)))
        })
        .await
    }

    async fn storage_used(&self, tenant: &Tenant) -> Result<u64, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| used_bytes(conn, uid).await)
            .await
    }

    async fn delete_unattached(
        &self,
        tenant: &Tenant,
        id: MediaId,
    ) -> Result<MediaDeletion, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            // The row, locked until commit: a concurrent delete waits and then finds nothing.
            let file = media_files::table
                .filter(media_files::user_id.eq(uid))
                .filter(media_files::id.eq(id.0))
                .select(MediaRow::as_select())
                .for_update()
                .first(conn)
                .await?
                .into_domain()?;
            let needle = serde_json::json!({ "id": id.0.to_string() });
            let posts: Vec<PostIdRow> = diesel::sql_query(ATTACHED)
                .bind::<diesel::sql_types::Int4, _>(uid)
                .bind::<diesel::sql_types::Jsonb, _>(needle)
                .load(conn)
                .await?;
            if !posts.is_empty() {
                return Ok(MediaDeletion::Attached(
                    posts.into_iter().map(|p| PostId(p.id)).collect(),
                ));
            }
            one_row(
                diesel::delete(
                    media_files::table
                        .filter(media_files::user_id.eq(uid))
                        .filter(media_files::id.eq(id.0)),
                )
                .execute(conn)
                .await?,
            )?;
            Ok(MediaDeletion::Deleted(Box::new(file)))
        })
        .await
    }

    async fn get(&self, tenant: &Tenant, id: MediaId) -> Result<MediaFile, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| load(conn, uid, id.0).await)
            .await
    }

    async fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[MediaId],
    ) -> Result<Vec<MediaFile>, StoreError> {
        let uid = tenant.user_id.0;
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        self.tenant(tenant, async move |conn| {
            let rows: Vec<MediaRow> = media_files::table
                .filter(media_files::user_id.eq(uid))
                .filter(media_files::id.eq_any(&ids))
                .select(MediaRow::as_select())
                .load(conn)
                .await?;
            let mut files = rows
                .into_iter()
                .map(MediaRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            files.sort_by_key(|f| ids.iter().position(|i| *i == f.id.0));
            Ok(files)
        })
        .await
    }

    async fn list(
        &self,
        tenant: &Tenant,
        limit: PageSize,
        cursor: Option<String>,
    ) -> Result<Page<MediaFile>, StoreError> {
        let uid = tenant.user_id.0;
        let after = cursor
            .as_deref()
            .map(Cursor::decode)
            .transpose()
            .map_err(|_| StoreError::InvalidCursor)?;
        let limit = i64::from(limit.get());
        self.tenant(tenant, async move |conn| {
            let mut q = media_files::table
                .filter(media_files::user_id.eq(uid))
                .select(MediaRow::as_select())
                .order((media_files::upload_date.desc(), media_files::id.desc()))
                .limit(limit + 1)
                .into_boxed();
            if let Some(after) = after {
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "(media_files.upload_date, media_files.id) < (",
                    )
                    .bind::<diesel::sql_types::Timestamptz, _>(after.at)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(after.id)
                    .sql(")"),
                );
            }
            let rows: Vec<MediaRow> = q.load(conn).await?;
            let more = rows.len() as i64 > limit;
            let items = rows
                .into_iter()
                .take(limit as usize)
                .map(MediaRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = if more {
                items.last().map(|f| {
                    Cursor {
                        at: f.upload_date,
                        id: f.id.0,
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

    async fn update_alt_text(
        &self,
        tenant: &Tenant,
        id: MediaId,
        alt_text: Option<AltText>,
    ) -> Result<MediaFile, StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            let row: MediaRow = diesel::update(
                media_files::table
                    .filter(media_files::user_id.eq(uid))
                    .filter(media_files::id.eq(id.0)),
            )
            .set(media_files::alt_text.eq(alt_text.as_ref().map(AltText::as_str)))
            .returning(MediaRow::as_returning())
            .get_result(conn)
            .await?;
            row.into_domain()
        })
        .await
    }

    async fn delete(&self, tenant: &Tenant, id: MediaId) -> Result<(), StoreError> {
        let uid = tenant.user_id.0;
        self.tenant(tenant, async move |conn| {
            one_row(
                diesel::delete(
                    media_files::table
                        .filter(media_files::user_id.eq(uid))
                        .filter(media_files::id.eq(id.0)),
                )
                .execute(conn)
                .await?,
            )?;
            Ok(())
        })
        .await
    }
}
