//! Media: upload, list, alt text, delete.

use std::sync::Arc;

use multivio_domain::content::{MediaInfo, compatible_platforms};
use multivio_domain::media::{AltText, MediaFile, probe};
use multivio_domain::page::PageSize;
use multivio_domain::{MediaId, Tenant};
use multivio_ports::error::Page;
use multivio_ports::media::{MediaRepository, MediaStore};
use multivio_ports::system::{Clock, IdGenerator};

use crate::error::{AppError, AppResult};

/// An upload, after the HTTP layer read the bytes and sniffed their type from the bytes
/// themselves (never from the client's content type).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaUpload {
    /// The file.
    pub bytes: Vec<u8>,
    /// Name the client gave (kept for display; its extension decides nothing).
    pub original_filename: Option<String>,
    /// Alt text.
    pub alt_text: Option<String>,
}

/// Media use cases.
#[derive(Clone)]
pub struct MediaService {
    files: Arc<dyn MediaRepository>,
    store: Arc<dyn MediaStore>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
    max_bytes: u64,
}

impl std::fmt::Debug for MediaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaService")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

fn extension(mime: &str) -> &'static str {
    match mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => "bin",
    }
}

impl MediaService {
    /// The service; uploads larger than `max_bytes` are refused.
    pub fn new(
        files: Arc<dyn MediaRepository>,
        store: Arc<dyn MediaStore>,
        ids: Arc<dyn IdGenerator>,
        clock: Arc<dyn Clock>,
        max_bytes: u64,
    ) -> Self {
        Self {
            files,
            store,
            ids,
            clock,
            max_bytes,
        }
    }

    /// The largest upload, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where the bytes live (the HTTP layer serves local files from it).
    pub fn store(&self) -> Arc<dyn MediaStore> {
        self.store.clone()
    }

    /// Stores the bytes and the row, with the platforms that accept the file. Unsupported types
    /// and oversized files are refused before anything is stored; if the row cannot be written
    /// the bytes are deleted again.
    pub async fn upload(&self, tenant: &Tenant, upload: MediaUpload) -> AppResult<MediaFile> {
        let size = u64::try_from(upload.bytes.len()).unwrap_or(u64::MAX);
        if size == 0 {
            return Err(AppError::invalid("file", "is empty"));
        }
        if size > self.max_bytes {
            return Err(AppError::invalid(
                "file",
                format!("is larger than {} bytes", self.max_bytes),
            ));
        }
        // The type is what the bytes say, never what the client declared.
        let probed = probe(&upload.bytes).ok_or(AppError::UnsupportedFileType)?;
        let mime_type = probed.mime.to_owned();
        let info = MediaInfo {
            mime_type: mime_type.clone(),
            size_bytes: size,
            width: probed.width,
            height: probed.height,
            duration_secs: None,
        };
        info.kind()
            .map_err(|e| AppError::invalid("file", e.to_string()))?;
        let alt_text = match upload.alt_text.filter(|t| !t.trim().is_empty()) {
            Some(t) => Some(AltText::new(t).map_err(|e| AppError::Invalid(vec![e]))?),
            None => None,
        };
        let id = MediaId(self.ids.new_uuid());
        let filename = format!("{}/{id}.{}", tenant.user_id, extension(&mime_type));
        let url = self.store.put(&filename, upload.bytes, &mime_type).await?;
        let now = self.clock.now();
        let file = MediaFile {
            id,
            user_id: tenant.user_id,
            filename: filename.clone(),
            original_filename: upload
                .original_filename
                .map(|n| n.chars().take(255).collect()),
            file_type: mime_type,
            file_size: size,
            cdn_url: Some(url),
            thumbnail_url: None,
            platform_compatibility: compatible_platforms(&info),
            alt_text,
            width: info.width,
            height: info.height,
            duration_secs: info.duration_secs,
            upload_date: now,
            created_at: now,
            updated_at: now,
        };
        match self.files.insert(tenant, &file).await {
            Ok(stored) => Ok(stored),
            Err(e) => {
                if let Err(cleanup) = self.store.delete(&filename).await {
                    tracing::warn!(key = %filename, error = %cleanup, "orphaned media bytes");
                }
                Err(e.into())
            }
        }
    }

    /// One file.
    pub async fn get(&self, tenant: &Tenant, id: MediaId) -> AppResult<MediaFile> {
        let file = self
            .files
            .get(tenant, id)
            .await
            .map_err(|e| AppError::from_store("media file", e))?;
        if !tenant.owns(file.user_id) {
            return Err(AppError::NotFound("media file"));
        }
        Ok(file)
    }

    /// A page of the tenant's files.
    pub async fn list(
        &self,
        tenant: &Tenant,
        limit: PageSize,
        cursor: Option<String>,
    ) -> AppResult<Page<MediaFile>> {
        Ok(self.files.list(tenant, limit, cursor).await?)
    }

    /// Sets (or, with `None` / blank, clears) the alt text.
    pub async fn set_alt_text(
        &self,
        tenant: &Tenant,
        id: MediaId,
        alt_text: Option<String>,
    ) -> AppResult<MediaFile> {
        let alt = match alt_text.filter(|t| !t.trim().is_empty()) {
            Some(t) => Some(AltText::new(t).map_err(|e| AppError::Invalid(vec![e]))?),
            None => None,
        };
        self.get(tenant, id).await?;
        self.files
            .update_alt_text(tenant, id, alt)
            .await
            .map_err(|e| AppError::from_store("media file", e))
    }

    /// Deletes the row, then the bytes (a failure to delete the bytes is logged, not
    /// returned: the row is what makes the file exist).
    pub async fn delete(&self, tenant: &Tenant, id: MediaId) -> AppResult<()> {
        let file = self.get(tenant, id).await?;
        self.files
            .delete(tenant, id)
            .await
            .map_err(|e| AppError::from_store("media file", e))?;
        if let Err(e) = self.store.delete(&file.filename).await {
            tracing::warn!(key = %file.filename, error = %e, "media bytes not deleted");
        }
        Ok(())
    }

    /// Deletes every file of the tenant, bytes and rows: what deleting an account does before
    /// the user row goes (the rows would go with it, the bytes would not). Returns how many.
    pub async fn delete_all(&self, tenant: &Tenant) -> AppResult<usize> {
        let mut deleted = 0;
        loop {
            // Always the first page: each round deletes what it lists.
            let page = self
                .files
                .list(tenant, PageSize::new(Some(PageSize::MAX)), None)
                .await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            for file in page.items {
                self.delete(tenant, file.id).await?;
                deleted += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
