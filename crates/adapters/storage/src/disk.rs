//! Media bytes in a local directory.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use multivio_ports::media::{
    ByteRange, ByteStream, Delivery, MediaStore, MediaStoreError, ObjectMeta, ObjectRead, PutError,
    StoredObject,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{READ_CHUNK, content_type_of, invalid_key, valid_key};

/// Objects larger than this are not read whole into memory by [`MediaStore::get`] unless
/// [`LocalDisk::with_read_limit`] says otherwise.
pub const DEFAULT_READ_LIMIT: u64 = 1 << 30;

/// Media bytes in a local directory, served by the API at `<public_base>/<key>`.
#[derive(Debug, Clone)]
pub struct LocalDisk {
    root: PathBuf,
    public_base: String,
    read_limit: u64,
}

/// A temporary file that is removed unless it was renamed into place — also when the upload
/// is abandoned (its future dropped) midway.
#[derive(Debug)]
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

static PARTIALS: AtomicU64 = AtomicU64::new(0);

fn unavailable(e: std::io::Error) -> MediaStoreError {
    MediaStoreError::Unavailable(e.to_string())
}

fn not_found_or_unavailable(e: std::io::Error) -> MediaStoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        MediaStoreError::NotFound
    } else {
        unavailable(e)
    }
}

impl LocalDisk {
    /// Bytes under `root`, served at `<public_base>/<key>`.
    pub fn new(root: impl Into<PathBuf>, public_base: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            public_base: public_base.into().trim_end_matches('/').to_owned(),
            read_limit: DEFAULT_READ_LIMIT,
        }
    }

    /// The largest object [`MediaStore::get`] reads into memory (the upload cap).
    pub fn with_read_limit(mut self, bytes: u64) -> Self {
        self.read_limit = bytes;
        self
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`; only [`valid_key`]s name one, so a key never points outside the
    /// root, nor at a temporary file.
    fn path(&self, key: &str) -> Result<PathBuf, MediaStoreError> {
        if valid_key(key) {
            Ok(self.root.join(key))
        } else {
            Err(invalid_key(key))
        }
    }

    /// A key that cannot name a file names nothing.
    fn existing_path(&self, key: &str) -> Result<PathBuf, MediaStoreError> {
        self.path(key).map_err(|_| MediaStoreError::NotFound)
    }

    async fn meta_of(
        &self,
        key: &str,
        metadata: &std::fs::Metadata,
    ) -> Result<ObjectMeta, MediaStoreError> {
        if !metadata.is_file() {
            return Err(MediaStoreError::NotFound);
        }
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let nanos = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let last_modified = DateTime::<Utc>::from(modified);
        Ok(ObjectMeta {
            size: metadata.len(),
            etag: format!("{:x}-{:x}", metadata.len(), nanos),
            last_modified,
            content_type: content_type_of(key).to_owned(),
        })
    }

    async fn write_stream(
        &self,
        key: &str,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<StoredObject, PutError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir).await.map_err(unavailable)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            PARTIALS.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut partial = Partial {
            path: dir.join(format!(".{name}.{unique}.partial")),
            kept: false,
        };
        let mut file = tokio::fs::File::create(&partial.path)
            .await
            .map_err(unavailable)?;
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
            size = size.saturating_add(chunk.len() as u64);
            if size > max_bytes {
                return Err(PutError::TooLarge { max_bytes });
            }
            file.write_all(&chunk).await.map_err(unavailable)?;
        }
        file.flush().await.map_err(unavailable)?;
        file.sync_all().await.map_err(unavailable)?;
        drop(file);
        // Into place at once: a reader sees no file or the whole one.
        tokio::fs::rename(&partial.path, &path)
            .await
            .map_err(unavailable)?;
        partial.kept = true;
        Ok(StoredObject { size })
    }
}

/// Reads `len` bytes of `file` from where it stands, in chunks.
fn chunks(file: tokio::fs::File, len: u64) -> ByteStream {
    Box::pin(futures_util::stream::unfold(
        (file, len),
        |(mut file, left)| async move {
            if left == 0 {
                return None;
            }
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(READ_CHUNK);
            let mut buf = vec![0u8; want];
            match file.read(&mut buf).await {
                Ok(0) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file is shorter than it was",
                    )),
                    (file, 0),
                )),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, left - n as u64)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        },
    ))
}

#[async_trait]
impl MediaStore for LocalDisk {
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<String, MediaStoreError> {
        let size = bytes.len() as u64;
        let body: ByteStream = Box::pin(futures_util::stream::iter([Ok(Bytes::from(bytes))]));
        match self.write_stream(key, body, size).await {
            Ok(_) => Ok(self.public_url(key)),
            Err(PutError::Store(e)) => Err(e),
            Err(other) => Err(MediaStoreError::Unavailable(other.to_string())),
        }
    }

    async fn put_stream(
        &self,
        key: &str,
        _content_type: &str,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<StoredObject, PutError> {
        self.write_stream(key, body, max_bytes).await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, MediaStoreError> {
        let path = self.existing_path(key)?;
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(not_found_or_unavailable)?;
        if !metadata.is_file() {
            return Err(MediaStoreError::NotFound);
        }
        if metadata.len() > self.read_limit {
            return Err(MediaStoreError::Unavailable(format!(
                "{key} has {} bytes, more than the {} read whole",
                metadata.len(),
                self.read_limit
            )));
        }
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(not_found_or_unavailable)?;
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        // Never more than the limit, even if the file grew meanwhile.
        (&mut file)
            .take(self.read_limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(unavailable)?;
        if bytes.len() as u64 > self.read_limit {
            return Err(MediaStoreError::Unavailable(format!(
                "{key} grew past the {} bytes read whole",
                self.read_limit
            )));
        }
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, MediaStoreError> {
        let path = self.existing_path(key)?;
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(not_found_or_unavailable)?;
        self.meta_of(key, &metadata).await
    }

    async fn open(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectRead, MediaStoreError> {
        let path = self.existing_path(key)?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(not_found_or_unavailable)?;
        // The metadata of the open file: what is read is what is described.
        let metadata = file.metadata().await.map_err(unavailable)?;
        let meta = self.meta_of(key, &metadata).await?;
        let range = match range {
            None => 0..meta.size,
            Some(r) => r
                .resolve(meta.size)
                .ok_or(MediaStoreError::RangeNotSatisfiable { size: meta.size })?,
        };
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start))
                .await
                .map_err(unavailable)?;
        }
        Ok(ObjectRead {
            body: chunks(file, range.end - range.start),
            meta,
            range,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base)
    }

    fn delivery(&self) -> Delivery {
        Delivery::Api
    }
}
