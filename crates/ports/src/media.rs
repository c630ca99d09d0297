//! Media: file rows and the bytes.
//!
//! Bytes move as streams ([`ByteStream`]): an upload is stored as it arrives
//! ([`MediaStore::put_stream`], refused as soon as it passes its cap) and a download is read in
//! chunks, whole or a byte range ([`MediaStore::open`]), so memory per transfer stays bounded
//! whatever the file's size.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
pub use bytes::Bytes;
use chrono::{DateTime, Utc};
pub use futures_core::Stream;
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::page::PageSize;
use multivio_domain::{MediaId, PostId, Tenant};

use crate::error::{Page, StoreError};

/// Bytes arriving (an upload's body) or leaving (a download) in chunks. An `Err` item ends the
/// transfer: the sender's body broke (an upload) or the store failed mid-read (a download).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// What inserting a row within a storage quota did ([`MediaRepository::insert_within_quota`]).
#[derive(Debug, Clone, PartialEq)]
pub enum QuotaInsert {
    /// The row is stored.
    Inserted(Box<MediaFile>),
    /// The row would take the tenant's files past the allowance; nothing was written.
    OverQuota {
        /// Bytes the tenant's files take now.
        used_bytes: u64,
    },
}

/// What deleting a row that may be attached to posts did ([`MediaRepository::delete_unattached`]).
#[derive(Debug, Clone, PartialEq)]
pub enum MediaDeletion {
    /// The row is gone (as it was, for deleting its bytes).
    Deleted(Box<MediaFile>),
    /// Scheduled or publishing posts carry the file; nothing was deleted.
    Attached(Vec<PostId>),
}

/// Media file rows (`media_files`).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait MediaRepository: Send + Sync {
    /// Inserts a row (no storage quota: see [`insert_within_quota`](Self::insert_within_quota)).
    async fn insert(&self, tenant: &Tenant, file: &MediaFile) -> Result<MediaFile, StoreError>;
    /// Inserts a row only when the tenant's files, this one included, take at most
    /// `allowed_bytes` (the sum of `file_size`). Concurrent inserts of one tenant are
    /// serialised, so together they never pass the allowance.
    async fn insert_within_quota(
        &self,
        tenant: &Tenant,
        file: &MediaFile,
        allowed_bytes: u64,
    ) -> Result<QuotaInsert, StoreError>;
    /// Bytes the tenant's files take (the sum of their `file_size`).
    async fn storage_used(&self, tenant: &Tenant) -> Result<u64, StoreError>;
    /// One file.
    async fn get(&self, tenant: &Tenant, id: MediaId) -> Result<MediaFile, StoreError>;
    /// The tenant's files among `ids` (others' and unknown ids are simply absent), in the order
    /// of `ids`.
    async fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[MediaId],
    ) -> Result<Vec<MediaFile>, StoreError>;
    /// A page of the tenant's files, newest first.
    async fn list(
        &self,
        tenant: &Tenant,
        limit: PageSize,
        cursor: Option<String>,
    ) -> Result<Page<MediaFile>, StoreError>;
    /// Sets or clears the alt text.
    async fn update_alt_text(
        &self,
        tenant: &Tenant,
        id: MediaId,
        alt_text: Option<AltText>,
    ) -> Result<MediaFile, StoreError>;
    /// Deletes the row, whatever carries it (account deletion).
    async fn delete(&self, tenant: &Tenant, id: MediaId) -> Result<(), StoreError>;
    /// Deletes the row unless a scheduled or publishing post of the tenant carries it (in its
    /// media, a thread part's, or a platform's thread); `NotFound` when there is no such row.
    async fn delete_unattached(
        &self,
        tenant: &Tenant,
        id: MediaId,
    ) -> Result<MediaDeletion, StoreError>;
}

/// Whether `key` is a relative path of plain segments (`a-z`, `A-Z`, `0-9`, `-`, `_`, `.`),
/// none empty or starting with a dot (no `..`, no hidden or temporary files), at most 512
/// bytes. Only such keys name objects, in every store.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// Why a media store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaStoreError {
    /// No object under that key.
    #[error("object not found")]
    NotFound,
    /// The requested byte range starts past the object's end (HTTP 416).
    #[error("range not satisfiable: the object has {size} bytes")]
    RangeNotSatisfiable {
        /// The object's size.
        size: u64,
    },
    /// The store failed.
    #[error("media store unavailable: {0}")]
    Unavailable(String),
}

/// Why a streamed upload was not stored. Nothing is left under the key in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    /// The body went past `max_bytes`; reading stopped there.
    #[error("more than {max_bytes} bytes")]
    TooLarge {
        /// The cap.
        max_bytes: u64,
    },
    /// The body itself failed (the client went away, a malformed part).
    #[error("the upload broke off: {0}")]
    Body(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] MediaStoreError),
}

/// One byte range of an object, as an HTTP `Range: bytes=…` header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, both included (`last` past the end means up to the end).
    Bounded {
        /// First byte.
        first: u64,
        /// Last byte, included.
        last: u64,
    },
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The one range of a `Range` header value (`bytes=0-99`, `bytes=100-`, `bytes=-500`).
    /// `None` when the header is not one well-formed byte range (another unit, several ranges,
    /// garbage): the whole object is then served, as RFC 9110 allows.
    pub fn parse(header: &str) -> Option<ByteRange> {
        let spec = header.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        let number = |s: &str| -> Option<u64> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        match (first.trim().is_empty(), last.trim().is_empty()) {
            (true, false) => Some(ByteRange::Suffix(number(last)?)),
            (false, true) => Some(ByteRange::From(number(first)?)),
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                (first <= last).then_some(ByteRange::Bounded { first, last })
            }
            (true, true) => None,
        }
    }

    /// The bytes this range names in an object of `size` bytes (end excluded), or `None` when
    /// it names none (it starts past the end, or is an empty suffix): answer 416.
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        match self {
            ByteRange::Bounded { first, last } => {
                (first < size).then(|| first..last.saturating_add(1).min(size))
            }
            ByteRange::From(first) => (first < size).then_some(first..size),
            ByteRange::Suffix(n) => (n > 0 && size > 0).then(|| size - n.min(size)..size),
        }
    }
}

/// What is known of a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// An opaque validator that changes whenever the bytes do, without quotes (the HTTP layer
    /// quotes it for `ETag`).
    pub etag: String,
    /// When the object was written (`Last-Modified`).
    pub last_modified: DateTime<Utc>,
    /// Its MIME type (from the type it was stored with).
    pub content_type: String,
}

/// An object being read: its metadata and the bytes of `range`.
pub struct ObjectRead {
    /// The whole object's metadata (`size` is the total, for `Content-Range`).
    pub meta: ObjectMeta,
    /// The bytes `body` yields: the whole object, or the requested range (end excluded).
    pub range: Range<u64>,
    /// The bytes, in chunks of at most a few hundred KiB.
    pub body: ByteStream,
}

impl std::fmt::Debug for ObjectRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRead")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// What a streamed upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Bytes stored.
    pub size: u64,
}

/// Who hands a file's bytes to readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The API serves them itself (`GET /media/{key}`, from [`MediaStore::open`]): local disk,
    /// or object storage without a public URL.
    Api,
    /// A public URL serves them ([`MediaStore::public_url`], a CDN in front of the bucket):
    /// the API redirects there rather than serving the bytes.
    PublicUrl,
}

/// Media bytes (local disk, S3/R2).
///
/// Keys are relative paths of plain segments (`<user>/<uuid>.<ext>`); a key that is not one
/// names nothing.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores bytes held in memory under `key`, returning the public URL.
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<String, MediaStoreError>;
    /// Stores `body` under `key` as it arrives, never holding it whole in memory; past
    /// `max_bytes` it stops reading and refuses ([`PutError::TooLarge`]). Readers see the
    /// object only once it is complete; on any error nothing is left under the key.
    async fn put_stream(
        &self,
        key: &str,
        content_type: &str,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<StoredObject, PutError>;
    /// Reads the bytes under `key` whole, into memory (small objects, checks). Objects over
    /// the store's read limit (the upload cap) are refused ([`MediaStoreError::Unavailable`])
    /// rather than read. Publishers read through [`MediaBytes`] instead: a range or a stream
    /// at a time.
    async fn get(&self, key: &str) -> Result<Vec<u8>, MediaStoreError>;
    /// The object's metadata (for `HEAD`, `If-None-Match`, `If-Modified-Since`, `If-Range`).
    async fn head(&self, key: &str) -> Result<ObjectMeta, MediaStoreError>;
    /// Opens the object for reading, whole or only `range`, as a stream.
    /// [`MediaStoreError::RangeNotSatisfiable`] when the range names no byte of it.
    async fn open(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectRead, MediaStoreError>;
    /// Deletes `key` (deleting a missing key is not an error).
    async fn delete(&self, key: &str) -> Result<(), MediaStoreError>;
    /// The public URL of `key`.
    fn public_url(&self, key: &str) -> String;
    /// Whether the API serves the bytes or a public URL does.
    fn delivery(&self) -> Delivery;
}

/// A stored file's bytes as a publisher reads them: from media storage when they are needed —
/// one range per chunk of a chunked upload, or a stream — never the whole file in memory
/// unless asked for ([`all`](Self::all), for images).
#[derive(Clone)]
pub struct MediaBytes {
    source: Source,
    len: u64,
}

#[derive(Clone)]
enum Source {
    Store {
        store: Arc<dyn MediaStore>,
        key: String,
    },
    Memory(Bytes),
}

impl MediaBytes {
    /// The object under `key` in `store`, of `len` bytes (its size as [`MediaStore::head`]
    /// gives it).
    pub fn stored(store: Arc<dyn MediaStore>, key: impl Into<String>, len: u64) -> Self {
        Self {
            source: Source::Store {
                store,
                key: key.into(),
            },
            len,
        }
    }

    /// Bytes already in memory (tests, and files made on the way).
    pub fn in_memory(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            len: bytes.len() as u64,
            source: Source::Memory(bytes),
        }
    }

    /// No bytes: a file whose row alone is needed (a lookup on the platform).
    pub fn none() -> Self {
        Self::in_memory(Bytes::new())
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of `range` (end excluded), in memory: one chunk of a chunked upload.
    pub async fn range(&self, range: Range<u64>) -> Result<Bytes, MediaStoreError> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        if range.end > self.len {
            return Err(MediaStoreError::RangeNotSatisfiable { size: self.len });
        }
        match &self.source {
            Source::Memory(bytes) => {
                let start = usize::try_from(range.start).unwrap_or(usize::MAX);
                let end = usize::try_from(range.end).unwrap_or(usize::MAX);
                bytes
                    .get(start..end)
                    .map(|_| bytes.slice(start..end))
                    .ok_or(MediaStoreError::RangeNotSatisfiable { size: self.len })
            }
            Source::Store { store, key } => {
                let read = store
                    .open(
                        key,
                        Some(ByteRange::Bounded {
                            first: range.start,
                            last: range.end - 1,
                        }),
                    )
                    .await?;
                collect(read.body, range.end - range.start).await
            }
        }
    }

    /// The whole file in memory (images, which are small; a video is read by
    /// [`range`](Self::range) or [`stream`](Self::stream)).
    pub async fn all(&self) -> Result<Bytes, MediaStoreError> {
        self.range(0..self.len).await
    }

    /// The whole file as a stream of chunks (a request body streamed to the platform).
    pub async fn stream(&self) -> Result<ByteStream, MediaStoreError> {
        match &self.source {
            Source::Memory(bytes) => Ok(Box::pin(Once(Some(bytes.clone())))),
            Source::Store { store, key } => Ok(store.open(key, None).await?.body),
        }
    }
}

impl std::fmt::Debug for MediaBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("MediaBytes");
        match &self.source {
            Source::Store { key, .. } => d.field("key", key),
            Source::Memory(_) => d.field("in_memory", &true),
        };
        d.field("len", &self.len).finish()
    }
}

impl PartialEq for MediaBytes {
    /// The same object of the same store, or equal bytes in memory.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && match (&self.source, &other.source) {
                (Source::Memory(a), Source::Memory(b)) => a == b,
                (
                    Source::Store { store: a, key: k },
                    Source::Store {
                        store: b,
                        key: other_key,
                    },
                ) => Arc::ptr_eq(a, b) && k == other_key,
                _ => false,
            }
    }
}

/// One chunk, then the end.
struct Once(Option<Bytes>);

impl Stream for Once {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.take().map(Ok))
    }
}

/// Reads `body` into memory; exactly `expected` bytes, or the store is inconsistent.
async fn collect(mut body: ByteStream, expected: u64) -> Result<Bytes, MediaStoreError> {
    let mut bytes = bytes::BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|e| MediaStoreError::Unavailable(e.to_string()))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > expected {
            break;
        }
    }
    if bytes.len() as u64 != expected {
        return Err(MediaStoreError::Unavailable(format!(
            "read {} bytes where {expected} were expected",
            bytes.len()
        )));
    }
    Ok(bytes.freeze())
}

#[cfg(test)]
mod tests;
