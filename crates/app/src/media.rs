//! Media: upload (streamed), list, alt text, delete.
//!
//! An upload is read as it arrives ([`MediaService::upload_stream`]): its first bytes say what
//! it is (never the client's name or content type), then
//!
//! - an **image** (JPEG, PNG, GIF, WebP) is held in memory up to [`MAX_IMAGE_BYTES`] (32 MiB),
//!   its header's dimensions checked against [`image::MAX_PIXELS`] (a decompression bomb is
//!   refused before anything is decoded), stored, and a JPEG thumbnail made under bounded
//!   decoding limits is stored next to it (`<key stem>.thumb.jpg`);
//! - a **video** (MP4, QuickTime, WebM) streams to storage chunk by chunk, never whole in
//!   memory, while its container is read for duration, dimensions and codec (MP4 and
//!   QuickTime; see [`multivio_domain::media::video`]).
//!
//! The upload is capped while it streams at the smaller of the largest upload and the room
//! left in the plan's storage quota; the row is then written only if the account's files
//! still fit the quota (concurrent uploads are serialised there), otherwise the bytes are
//! removed again. `platform_compatibility` is computed from the facts read.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use multivio_domain::content::{MediaInfo, MediaKind, compatible_platforms};
use multivio_domain::media::image::{self, ImageError, MAX_IMAGE_BYTES};
use multivio_domain::media::{AltText, ContainerScanner, MediaFile, VideoFacts, probe};
use multivio_domain::page::PageSize;
use multivio_domain::quota::{PlanCatalog, StorageQuota, format_bytes};
use multivio_domain::{FieldError, MediaId, PostId, Tenant};
use multivio_ports::error::Page;
use multivio_ports::media::{
    ByteStream, MediaDeletion, MediaRepository, MediaStore, PutError, QuotaInsert,
};
use multivio_ports::system::{Clock, IdGenerator};
use multivio_ports::users::UserStore;

use crate::error::{AppError, AppResult};

/// Bytes read before the type is decided (more than any type's signature needs).
pub const SNIFF_BYTES: usize = 16 * 1024;
/// Thumbnails decoded at once, process-wide per service: each may take up to
/// [`image::MAX_DECODE_BYTES`] of memory.
pub const CONCURRENT_DECODES: usize = 2;
/// Bytes of images held in memory at once while they are read, process-wide per service: an
/// image past it is refused as busy ([`UploadError::Busy`]) rather than the process growing
/// with every account's uploads (eight images of [`MAX_IMAGE_BYTES`], or many small ones).
pub const IMAGE_BUFFER_BUDGET: usize = 256 << 20;
/// How long an image may take to arrive whole: the bytes it holds in memory meanwhile count
/// against [`IMAGE_BUFFER_BUDGET`], so a client trickling bytes may not keep them for ever
/// (32 MiB at 1 Mbit/s takes about 4.5 minutes).
pub const MAX_IMAGE_READ: std::time::Duration = std::time::Duration::from_secs(600);
/// How long an image waits for room in [`IMAGE_BUFFER_BUDGET`] before it is refused as busy.
const IMAGE_BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// An upload held in memory (the API's former upload path; see [`UploadStream`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaUpload {
    /// The file.
    pub bytes: Vec<u8>,
    /// Name the client gave (kept for display; its extension decides nothing).
    pub original_filename: Option<String>,
    /// Alt text.
    pub alt_text: Option<String>,
}

/// An upload as it arrives: the file's bytes as a stream (the multipart `file` part's chunks,
/// errors mapped to `std::io::Error`).
pub struct UploadStream {
    /// The file's bytes.
    pub body: ByteStream,
    /// Name the client gave (kept for display; its extension decides nothing).
    pub original_filename: Option<String>,
    /// Alt text, when it arrived before the file (otherwise set it afterwards with
    /// [`MediaService::set_alt_text`]).
    pub alt_text: Option<String>,
    /// The file's size when the client declared it exactly (refused at once when over a cap);
    /// `None` when unknown — a multipart request's `Content-Length` is not the file's.
    pub declared_size: Option<u64>,
}

impl std::fmt::Debug for UploadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadStream")
            .field("original_filename", &self.original_filename)
            .field("alt_text", &self.alt_text)
            .field("declared_size", &self.declared_size)
            .finish_non_exhaustive()
    }
}

/// A body fed from elsewhere: chunks sent on the sender come out of the stream, in order,
/// until the sender is dropped. For bodies whose own stream is not `Send` (actix-web's
/// multipart fields): forward each chunk (`Err` to break the upload off, e.g. on a read
/// timeout) while [`MediaService::upload_stream`] reads the other end. At most `capacity`
/// chunks wait in between (back-pressure: the sender waits while storage is behind); once the
/// upload is over, for any reason, sending fails, so the forwarding loop ends.
pub fn body_channel(
    capacity: usize,
) -> (
    tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    ByteStream,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (tx, Box::pin(body))
}

/// Why an upload was refused. Nothing is left stored in any case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    /// The file would take the account's media past its plan's storage (HTTP 413, with both
    /// numbers).
    #[error(
        "storage quota exceeded: {} of {} used",
        format_bytes(*used_bytes),
        format_bytes(*allowed_bytes)
    )]
    StorageQuotaExceeded {
        /// Bytes the account's files take.
        used_bytes: u64,
        /// Bytes the plan allows.
        allowed_bytes: u64,
    },
    /// The file is larger than accepted (HTTP 413): the largest upload, or for an image
    /// [`MAX_IMAGE_BYTES`].
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge {
        /// The cap that was passed.
        max_bytes: u64,
    },
    /// The file has no bytes (HTTP 422).
    #[error("the file is empty")]
    Empty,
    /// The bytes are of no type any platform takes (HTTP 415).
    #[error("unsupported file type")]
    UnsupportedFileType,
    /// An image whose header announces more pixels than are decoded (a decompression bomb);
    /// refused before decoding (HTTP 422).
    #[error("image too large to process: {width} × {height} pixels (at most {max_pixels})")]
    ImageTooLarge {
        /// Width its header announces.
        width: u32,
        /// Height its header announces.
        height: u32,
        /// The most pixels accepted.
        max_pixels: u64,
    },
    /// The upload's body broke off (the client went away, a malformed part) (HTTP 400).
    #[error("the upload broke off: {0}")]
    Body(String),
    /// An image took longer than [`MAX_IMAGE_READ`] to arrive (HTTP 408).
    #[error("the image took longer than {} s to arrive", limit.as_secs())]
    TooSlow {
        /// The limit.
        limit: std::time::Duration,
    },
    /// Invalid input other than the file (the alt text) (HTTP 422).
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// The images being read take all the memory set aside for them
    /// ([`IMAGE_BUFFER_BUDGET`]); the upload may be retried shortly (HTTP 503).
    #[error("too many images are being uploaded at once")]
    Busy,
    /// Anything else (storage or database unavailable…).
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<UploadError> for AppError {
    /// For callers that only speak [`AppError`]: the upload's own refusals become invalid
    /// input about `file` (422), an unsupported type stays one.
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::UnsupportedFileType => AppError::UnsupportedFileType,
            UploadError::Invalid(errors) => AppError::Invalid(errors),
            UploadError::Failed(e) => e,
            UploadError::TooLarge { max_bytes } => {
                AppError::invalid("file", format!("is larger than {max_bytes} bytes"))
            }
            UploadError::Empty => AppError::invalid("file", "is empty"),
            UploadError::Busy => {
                AppError::Unavailable("the images being uploaded fill their memory".to_owned())
            }
            other => AppError::invalid("file", other.to_string()),
        }
    }
}

/// Why a file was not deleted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeleteError {
    /// Scheduled or publishing posts carry the file (HTTP 409 naming them); it can be deleted
    /// once they are published or deleted (or no longer carry it).
    #[error(
        "the file is attached to scheduled or publishing posts: {}",
        post_ids(posts)
    )]
    Attached {
        /// The posts, soonest scheduled first.
        posts: Vec<PostId>,
    },
    /// Anything else (not found, storage unavailable…).
    #[error(transparent)]
    Failed(#[from] AppError),
}

fn post_ids(posts: &[PostId]) -> String {
    posts
        .iter()
        .map(|p| p.0.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<DeleteError> for AppError {
    fn from(e: DeleteError) -> Self {
        match e {
            attached @ DeleteError::Attached { .. } => AppError::Conflict(attached.to_string()),
            DeleteError::Failed(e) => e,
        }
    }
}

/// How much of its storage quota an account uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageUsage {
    /// Bytes its files take.
    pub used_bytes: u64,
    /// Bytes its plan allows.
    pub allowed_bytes: u64,
}

/// Media use cases.
#[derive(Clone)]
pub struct MediaService {
    files: Arc<dyn MediaRepository>,
    store: Arc<dyn MediaStore>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
    max_bytes: u64,
    quota: Option<(Arc<dyn UserStore>, PlanCatalog)>,
    decodes: Arc<tokio::sync::Semaphore>,
    /// Bytes of images in memory ([`IMAGE_BUFFER_BUDGET`]), one permit a byte.
    image_buffers: Arc<tokio::sync::Semaphore>,
    image_budget: usize,
    /// [`MAX_IMAGE_READ`], or a test's.
    image_read_limit: std::time::Duration,
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

/// Bytes stored under `key` whose row is not written yet: dropped before that (the request's
/// future dropped mid-upload), it deletes them and their thumbnail, if any, in a task of its
/// own. Disarmed by taking `key`.
struct Unrecorded {
    store: Arc<dyn MediaStore>,
    key: Option<String>,
}

impl Drop for Unrecorded {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let store = self.store.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    for key in [thumbnail_key(&key), key] {
                        if let Err(e) = store.delete(&key).await {
                            tracing::warn!(%key, error = %e, "bytes of an abandoned upload not deleted");
                        }
                    }
                });
            }
            Err(_) => tracing::warn!(%key, "an upload abandoned outside a runtime left its bytes"),
        }
    }
}

/// Where the thumbnail of the file stored under `filename` lives: next to it,
/// `<user>/<id>.thumb.jpg`.
pub fn thumbnail_key(filename: &str) -> String {
    let stem = match filename.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem,
        _ => filename,
    };
    format!("{stem}.thumb.jpg")
}

fn validate_alt_text(alt_text: Option<String>) -> Result<Option<AltText>, FieldError> {
    alt_text
        .filter(|t| !t.trim().is_empty())
        .map(AltText::new)
        .transpose()
}

/// How an upload stands against its caps.
#[derive(Debug, Clone, Copy)]
struct Caps {
    /// Bytes accepted at most.
    cap: u64,
    /// The largest upload.
    max_bytes: u64,
    used: u64,
    allowed: u64,
}

impl Caps {
    /// The refusal of a file past `cap`: the storage quota's when that was the tighter bound.
    fn over(&self) -> UploadError {
        if self.cap < self.max_bytes {
            UploadError::StorageQuotaExceeded {
                used_bytes: self.used,
                allowed_bytes: self.allowed,
            }
        } else {
            UploadError::TooLarge {
                max_bytes: self.max_bytes,
            }
        }
    }
}

impl MediaService {
    /// The service; uploads larger than `max_bytes` are refused. Without
    /// [`with_storage_quota`](Self::with_storage_quota), storage is not limited.
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
            quota: None,
            decodes: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DECODES)),
            image_buffers: Arc::new(tokio::sync::Semaphore::new(IMAGE_BUFFER_BUDGET)),
            image_budget: IMAGE_BUFFER_BUDGET,
            image_read_limit: MAX_IMAGE_READ,
        }
    }

    /// Sets the bytes of images held in memory at once (default [`IMAGE_BUFFER_BUDGET`]).
    pub fn with_image_buffer_budget(mut self, bytes: usize) -> Self {
        let bytes = bytes.min(tokio::sync::Semaphore::MAX_PERMITS);
        self.image_buffers = Arc::new(tokio::sync::Semaphore::new(bytes));
        self.image_budget = bytes;
        self
    }

    /// Sets how long an image may take to arrive whole (default [`MAX_IMAGE_READ`]).
    pub fn with_image_read_limit(mut self, limit: std::time::Duration) -> Self {
        self.image_read_limit = limit;
        self
    }

    /// Bytes of images held in memory now, being read (this service and its clones).
    pub fn image_bytes_in_memory(&self) -> usize {
        self.image_budget
            .saturating_sub(self.image_buffers.available_permits())
    }

    /// Takes `bytes` more of the image budget into `held`, waiting a little for room; `Busy`
    /// when there is none.
    async fn hold_image_bytes(
        &self,
        held: &mut Option<tokio::sync::OwnedSemaphorePermit>,
        bytes: usize,
    ) -> Result<(), UploadError> {
        let permits = u32::try_from(bytes).map_err(|_| UploadError::Busy)?;
        if permits == 0 {
            return Ok(());
        }
        let room = self.image_buffers.clone().acquire_many_owned(permits);
        let more = tokio::time::timeout(IMAGE_BUDGET_WAIT, room)
            .await
            .map_err(|_| UploadError::Busy)?
            .map_err(|_| UploadError::Busy)?;
        match held {
            Some(permit) => permit.merge(more),
            None => *held = Some(more),
        }
        Ok(())
    }

    /// Limits each account's media to its plan's storage ([`multivio_domain::quota::Plan`]),
    /// the plan read from the user's subscription.
    pub fn with_storage_quota(mut self, users: Arc<dyn UserStore>, plans: PlanCatalog) -> Self {
        self.quota = Some((users, plans));
        self
    }

    /// The largest upload, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where the bytes live (the HTTP layer serves local files from it, or redirects to its
    /// public URLs: [`MediaStore::delivery`]).
    pub fn store(&self) -> Arc<dyn MediaStore> {
        self.store.clone()
    }

    /// The account's storage: used and allowed.
    pub async fn storage(&self, tenant: &Tenant) -> AppResult<StorageUsage> {
        let allowed_bytes = self.allowed_bytes(tenant).await?;
        let used_bytes = self.files.storage_used(tenant).await?;
        Ok(StorageUsage {
            used_bytes,
            allowed_bytes,
        })
    }

    async fn allowed_bytes(&self, tenant: &Tenant) -> AppResult<u64> {
        let Some((users, plans)) = &self.quota else {
            return Ok(u64::MAX);
        };
        let user = users
            .get(tenant)
            .await
            .map_err(|e| AppError::from_store("user", e))?;
        Ok(plans
            .get_or_free(&user.subscription.plan_name)
            .storage_bytes)
    }

    /// Stores an upload held in memory: [`upload_stream`](Self::upload_stream) over its
    /// bytes, its refusals as [`AppError`]s (see `From<UploadError>`).
    pub async fn upload(&self, tenant: &Tenant, upload: MediaUpload) -> AppResult<MediaFile> {
        let size = upload.bytes.len() as u64;
        let body: ByteStream =
            Box::pin(futures_util::stream::iter([Ok(Bytes::from(upload.bytes))]));
        self.upload_stream(
            tenant,
            UploadStream {
                body,
                original_filename: upload.original_filename,
                alt_text: upload.alt_text,
                declared_size: Some(size),
            },
        )
        .await
        .map_err(AppError::from)
    }

    /// Stores an upload as it arrives (see the module's documentation) and its row, with the
    /// platforms that accept the file.
    pub async fn upload_stream(
        &self,
        tenant: &Tenant,
        upload: UploadStream,
    ) -> Result<MediaFile, UploadError> {
        let alt_text =
            validate_alt_text(upload.alt_text).map_err(|e| UploadError::Invalid(vec![e]))?;
        // Before reading anything: is there room at all?
        let allowed = self.allowed_bytes(tenant).await?;
        let used = self
            .files
            .storage_used(tenant)
            .await
            .map_err(AppError::from)?;
        let quota = StorageQuota {
            allowed_bytes: allowed,
        };
        let exceeded =
            |e: multivio_domain::quota::StorageQuotaExceeded| UploadError::StorageQuotaExceeded {
                used_bytes: e.used_bytes,
                allowed_bytes: e.allowed_bytes,
            };
        quota
            .check(used, upload.declared_size.unwrap_or(1).max(1))
            .map_err(exceeded)?;
        if let Some(declared) = upload.declared_size
            && declared > self.max_bytes
        {
            return Err(UploadError::TooLarge {
                max_bytes: self.max_bytes,
            });
        }
        let caps = Caps {
            cap: self.max_bytes.min(quota.remaining(used)),
            max_bytes: self.max_bytes,
            used,
            allowed,
        };

        // The first bytes say what the file is.
        let mut body = upload.body;
        let mut head = BytesMut::new();
        let mut ended = false;
        while head.len() < SNIFF_BYTES {
            match body.next().await {
                Some(Ok(chunk)) => {
                    if (head.len() + chunk.len()) as u64 > caps.cap {
                        return Err(caps.over());
                    }
                    head.extend_from_slice(&chunk);
                }
                Some(Err(e)) => return Err(UploadError::Body(e.to_string())),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if head.is_empty() {
            return Err(UploadError::Empty);
        }
        let probed = probe(&head).ok_or(UploadError::UnsupportedFileType)?;
        let mime = probed.mime;
        let kind = MediaKind::from_mime(mime).map_err(|_| UploadError::UnsupportedFileType)?;
        let id = MediaId(self.ids.new_uuid());
        let filename = format!("{}/{id}.{}", tenant.user_id, extension(mime));

        // Until the row is written, bytes stored under the key count against no quota: a
        // request dropped meanwhile (a client gone, a shutdown) must not leave them behind.
        let mut unrecorded = Unrecorded {
            store: self.store.clone(),
            key: Some(filename.clone()),
        };
        let stored = if kind == MediaKind::Video {
            self.store_video(&filename, mime, head.freeze(), body, ended, caps)
                .await?
        } else {
            self.store_image(&filename, mime, head, body, ended, caps)
                .await?
        };

        let info = MediaInfo {
            mime_type: mime.to_owned(),
            size_bytes: stored.size,
            width: stored.width,
            height: stored.height,
            duration_secs: stored.duration_secs,
            codec: stored.codec.clone(),
        };
        let now = self.clock.now();
        let file = MediaFile {
            id,
            user_id: tenant.user_id,
            filename: filename.clone(),
            original_filename: upload
                .original_filename
                .map(|n| n.chars().take(255).collect()),
            file_type: mime.to_owned(),
            file_size: stored.size,
            cdn_url: Some(self.store.public_url(&filename)),
            thumbnail_url: stored.thumbnail.as_ref().map(|k| self.store.public_url(k)),
            platform_compatibility: compatible_platforms(&info),
            alt_text,
            width: info.width,
            height: info.height,
            duration_secs: info.duration_secs,
            upload_date: now,
            created_at: now,
            updated_at: now,
        };
        // From here the row may be written even if this request goes: bytes deleted under a
        // row would be worse than bytes left over. What each outcome calls for is done below.
        unrecorded.key = None;
        let outcome = self.files.insert_within_quota(tenant, &file, allowed).await;
        match outcome {
            Ok(QuotaInsert::Inserted(stored)) => Ok(*stored),
            Ok(QuotaInsert::OverQuota { used_bytes }) => {
                self.remove_bytes(&filename, stored.thumbnail.is_some())
                    .await;
                Err(UploadError::StorageQuotaExceeded {
                    used_bytes,
                    allowed_bytes: allowed,
                })
            }
            Err(e) => {
                self.remove_bytes(&filename, stored.thumbnail.is_some())
                    .await;
                Err(AppError::from(e).into())
            }
        }
    }

    /// Streams a video to storage, reading its container on the way.
    async fn store_video(
        &self,
        key: &str,
        mime: &'static str,
        head: Bytes,
        rest: ByteStream,
        ended: bool,
        caps: Caps,
    ) -> Result<Stored, UploadError> {
        let scanner = Arc::new(Mutex::new(ContainerScanner::new()));
        let feed = scanner.clone();
        let first = futures_util::stream::iter([Ok(head)]);
        let rest = if ended {
            futures_util::stream::empty().boxed()
        } else {
            rest
        };
        let body: ByteStream = Box::pin(first.chain(rest).inspect(move |chunk| {
            if let (Ok(chunk), Ok(mut scanner)) = (chunk, feed.lock()) {
                scanner.feed(chunk);
            }
        }));
        let size = match self.store.put_stream(key, mime, body, caps.cap).await {
            Ok(stored) => stored.size,
            Err(PutError::TooLarge { .. }) => return Err(caps.over()),
            Err(PutError::Body(e)) => return Err(UploadError::Body(e)),
            Err(PutError::Store(e)) => return Err(AppError::from(e).into()),
        };
        let facts: Option<VideoFacts> = match Arc::try_unwrap(scanner) {
            Ok(scanner) => scanner.into_inner().ok().and_then(ContainerScanner::finish),
            Err(shared) => shared
                .lock()
                .ok()
                .map(|mut s| std::mem::take(&mut *s))
                .and_then(ContainerScanner::finish),
        };
        if facts.is_none() && mime != "video/webm" {
            tracing::info!(key, "no movie description read from the container");
        }
        let facts = facts.unwrap_or(VideoFacts {
            duration_secs: None,
            width: None,
            height: None,
            codec: None,
            has_audio: false,
        });
        Ok(Stored {
            size,
            width: facts.width,
            height: facts.height,
            duration_secs: facts.duration_secs,
            codec: facts.codec,
            thumbnail: None,
        })
    }

    /// Reads an image whole (up to [`MAX_IMAGE_BYTES`]), refuses a decompression bomb, stores
    /// it and its thumbnail.
    async fn store_image(
        &self,
        key: &str,
        mime: &'static str,
        mut bytes: BytesMut,
        mut rest: ByteStream,
        ended: bool,
        caps: Caps,
    ) -> Result<Stored, UploadError> {
        let limit = caps.cap.min(MAX_IMAGE_BYTES);
        let over = || {
            if MAX_IMAGE_BYTES < caps.cap {
                UploadError::TooLarge {
                    max_bytes: MAX_IMAGE_BYTES,
                }
            } else {
                caps.over()
            }
        };
        if bytes.len() as u64 > limit {
            return Err(over());
        }
        // The bytes in memory count against the process's image budget until the image is
        // stored and its thumbnail made (when this returns).
        let mut held = None;
        self.hold_image_bytes(&mut held, bytes.len()).await?;
        if !ended {
            let read_limit = self.image_read_limit;
            let deadline = tokio::time::Instant::now() + read_limit;
            loop {
                let next = tokio::time::timeout_at(deadline, rest.next())
                    .await
                    .map_err(|_| UploadError::TooSlow { limit: read_limit })?;
                let Some(chunk) = next else { break };
                let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(over());
                }
                self.hold_image_bytes(&mut held, chunk.len()).await?;
                bytes.extend_from_slice(&chunk);
            }
        }
        let bytes = bytes.freeze();
        let size = image::inspect(&bytes).map_err(|e| match e {
            ImageError::TooManyPixels {
                width,
                height,
                max_pixels,
                ..
            } => UploadError::ImageTooLarge {
                width,
                height,
                max_pixels,
            },
            ImageError::Unreadable(why) => UploadError::Invalid(vec![FieldError::new(
                "file",
                format!("cannot be read: {why}"),
            )]),
        })?;
        let body: ByteStream = Box::pin(futures_util::stream::iter([Ok(bytes.clone())]));
        let stored = match self.store.put_stream(key, mime, body, limit).await {
            Ok(stored) => stored,
            Err(PutError::TooLarge { .. }) => return Err(over()),
            Err(PutError::Body(e)) => return Err(UploadError::Body(e)),
            Err(PutError::Store(e)) => return Err(AppError::from(e).into()),
        };
        let thumbnail = self.thumbnail(key, mime, bytes, held).await;
        Ok(Stored {
            size: stored.size,
            width: size.map(|s| s.width),
            height: size.map(|s| s.height),
            duration_secs: None,
            codec: None,
            thumbnail,
        })
    }

    /// Makes and stores the thumbnail of the image stored under `key`; `None` (logged) when
    /// the image cannot be decoded or the thumbnail not stored — the upload stands without.
    /// `held`: the image's share of the memory budget, given back when the decoding is over
    /// (even should this future be dropped first: the decoding goes on to its end).
    async fn thumbnail(
        &self,
        key: &str,
        mime: &'static str,
        bytes: Bytes,
        held: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Option<String> {
        let made = {
            let permit = self.decodes.clone().acquire_owned().await.ok()?;
            tokio::task::spawn_blocking(move || {
                let _given_back_after = (permit, held);
                image::thumbnail(&bytes, mime)
            })
            .await
        };
        let jpeg = match made {
            Ok(Ok(jpeg)) => jpeg,
            Ok(Err(e)) => {
                tracing::info!(key, error = %e, "no thumbnail");
                return None;
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "thumbnail task failed");
                return None;
            }
        };
        let thumb = thumbnail_key(key);
        match self.store.put(&thumb, jpeg, image::THUMBNAIL_MIME).await {
            Ok(_) => Some(thumb),
            Err(e) => {
                tracing::warn!(key = %thumb, error = %e, "thumbnail not stored");
                None
            }
        }
    }

    /// Deletes the bytes of `filename` and, when it has one, its thumbnail (failures logged:
    /// the row is what makes a file exist).
    async fn remove_bytes(&self, filename: &str, thumbnail: bool) {
        if let Err(e) = self.store.delete(filename).await {
            tracing::warn!(key = %filename, error = %e, "media bytes not deleted");
        }
        if thumbnail {
            let thumb = thumbnail_key(filename);
            if let Err(e) = self.store.delete(&thumb).await {
                tracing::warn!(key = %thumb, error = %e, "thumbnail not deleted");
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
        let alt = validate_alt_text(alt_text).map_err(|e| AppError::Invalid(vec![e]))?;
        self.get(tenant, id).await?;
        self.files
            .update_alt_text(tenant, id, alt)
            .await
            .map_err(|e| AppError::from_store("media file", e))
    }

    /// Deletes the file — row, bytes and thumbnail — unless a scheduled or publishing post
    /// carries it ([`DeleteError::Attached`], naming the posts).
    pub async fn delete_checked(&self, tenant: &Tenant, id: MediaId) -> Result<(), DeleteError> {
        self.get(tenant, id).await?;
        let deletion = self
            .files
            .delete_unattached(tenant, id)
            .await
            .map_err(|e| AppError::from_store("media file", e))?;
        match deletion {
            MediaDeletion::Attached(posts) => Err(DeleteError::Attached { posts }),
            MediaDeletion::Deleted(file) => {
                self.remove_bytes(&file.filename, file.thumbnail_url.is_some())
                    .await;
                Ok(())
            }
        }
    }

    /// [`delete_checked`](Self::delete_checked), a file still attached answered as
    /// [`AppError::Conflict`] naming the posts.
    pub async fn delete(&self, tenant: &Tenant, id: MediaId) -> AppResult<()> {
        self.delete_checked(tenant, id)
            .await
            .map_err(AppError::from)
    }

    /// Deletes every file of the tenant, bytes and rows, attached or not: what deleting an
    /// account does before the user row goes (the rows would go with it, the bytes would
    /// not). Returns how many.
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
                self.files
                    .delete(tenant, file.id)
                    .await
                    .map_err(|e| AppError::from_store("media file", e))?;
                self.remove_bytes(&file.filename, file.thumbnail_url.is_some())
                    .await;
                deleted += 1;
            }
        }
    }
}

/// What storing the bytes learnt.
#[derive(Debug)]
struct Stored {
    size: u64,
    width: Option<u32>,
    height: Option<u32>,
    duration_secs: Option<f64>,
    codec: Option<String>,
    /// The thumbnail's key.
    thumbnail: Option<String>,
}

#[cfg(test)]
mod tests;
