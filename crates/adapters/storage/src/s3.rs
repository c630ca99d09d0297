//! Media bytes in S3-compatible object storage: Cloudflare R2, AWS S3, MinIO.
//!
//! Uploads smaller than [`PART_BYTES`] go up in one `PutObject`; larger ones as a multipart
//! upload of [`PART_BYTES`] parts (equal parts, as R2 requires), at most
//! [`PARTS_IN_FLIGHT`] at once, so an upload holds at most about
//! `(PARTS_IN_FLIGHT + 1) × PART_BYTES` in memory whatever its size. An upload refused at its
//! cap, failed or abandoned is aborted: no object and no parts are left.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use multivio_ports::media::{
    ByteRange, ByteStream, Delivery, MediaStore, MediaStoreError, ObjectMeta, ObjectRead, PutError,
    StoredObject,
};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};

use crate::{content_type_of, invalid_key, valid_key};

/// Size of each part of a multipart upload (S3's smallest part is 5 MiB).
pub const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts uploaded at once.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Where and how to reach the bucket.
#[derive(Clone, Default)]
pub struct S3Config {
    /// Bucket name (`MULTIVIO_S3_BUCKET`).
    pub bucket: String,
    /// Endpoint (`MULTIVIO_S3_ENDPOINT`): R2's `https://<account>.r2.cloudflarestorage.com`,
    /// MinIO's address; unset for AWS S3. `http://` is accepted (a local MinIO).
    pub endpoint: Option<String>,
    /// Region (`AWS_REGION`; R2 takes `auto`). Default `us-east-1`.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
    /// The bucket's public base URL (`MULTIVIO_S3_PUBLIC_URL`: a CDN, R2's `r2.dev` or custom
    /// domain): objects are handed out at `<public_url>/<key>`. Unset: the API serves them,
    /// at `<api_media_base>/<key>`.
    pub public_url: Option<String>,
    /// Where the API serves media (`<public API URL>/media`), used without `public_url`.
    pub api_media_base: String,
    /// The largest object [`MediaStore::get`] reads whole (the upload cap).
    pub read_limit: u64,
    /// How long a request may wait for the bucket's next bytes: its answer's headers, then
    /// each read of its body ([`S3Config::READ_TIMEOUT`]). There is no limit on a request as
    /// a whole: a download streams as fast as its client takes it, for as long as that lasts.
    pub read_timeout: std::time::Duration,
}

impl S3Config {
    /// The default [`S3Config::read_timeout`].
    pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("public_url", &self.public_url)
            .field("api_media_base", &self.api_media_base)
            .field("read_limit", &self.read_limit)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// Media bytes in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<AmazonS3>,
    public_base: String,
    delivery: Delivery,
    read_limit: u64,
}

fn unavailable(e: object_store::Error) -> MediaStoreError {
    match e {
        object_store::Error::NotFound { .. } => MediaStoreError::NotFound,
        other => MediaStoreError::Unavailable(format!("s3: {other}")),
    }
}

fn path_of(key: &str) -> Result<Path, MediaStoreError> {
    if !valid_key(key) {
        return Err(invalid_key(key));
    }
    Path::parse(key).map_err(|_| invalid_key(key))
}

/// A multipart upload that is aborted unless it was completed — also when the upload's
/// future is dropped midway (the abort then runs on the runtime, in the background).
struct Pending(Option<WriteMultipart>);

impl Pending {
    fn take(&mut self) -> Option<WriteMultipart> {
        self.0.take()
    }

    async fn abort(&mut self) {
        if let Some(upload) = self.0.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(error = %e, "multipart upload not aborted");
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(error = %e, "abandoned multipart upload not aborted");
                }
            });
        }
    }
}

/// The HTTP client's limits. object_store's default limits each request as a whole to 30 s,
/// which would cut a download to a slow client (resumed with a range a few times, then given
/// up): no limit as a whole, and a stalled bucket is caught by the read timeout instead (until
/// an answer's headers — so a part's upload too — then between reads of its body).
pub(crate) fn client_options(read_timeout: std::time::Duration) -> ClientOptions {
    ClientOptions::new()
        .with_timeout_disabled()
        .with_read_timeout(read_timeout)
}

impl S3Store {
    /// A store over the configured bucket. Fails on an incomplete configuration (no bucket,
    /// a malformed endpoint); nothing is contacted yet.
    pub fn new(config: S3Config) -> Result<Self, MediaStoreError> {
        // reqwest runs on rustls with *ring*, as every other client of Multivio.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if config.bucket.trim().is_empty() {
            return Err(MediaStoreError::Unavailable(
                "MULTIVIO_S3_BUCKET is empty".to_owned(),
            ));
        }
        let mut builder = AmazonS3Builder::new()
            .with_client_options(client_options(config.read_timeout))
            .with_bucket_name(config.bucket.trim())
            .with_region(config.region.as_deref().unwrap_or("us-east-1"));
        if let Some(endpoint) = config.endpoint.as_deref().filter(|e| !e.is_empty()) {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(endpoint.starts_with("http://"))
                // Path-style requests (`<endpoint>/<bucket>/<key>`): what MinIO and R2 take.
                .with_virtual_hosted_style_request(false);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        let store = builder
            .build()
            .map_err(|e| MediaStoreError::Unavailable(format!("S3 configuration: {e}")))?;
        let (public_base, delivery) = match config.public_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => (url.trim_end_matches('/').to_owned(), Delivery::PublicUrl),
            None => (
                config.api_media_base.trim_end_matches('/').to_owned(),
                Delivery::Api,
            ),
        };
        Ok(Self {
            store: Arc::new(store),
            public_base,
            delivery,
            read_limit: config.read_limit,
        })
    }

    fn attributes(content_type: &str) -> Attributes {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        attributes
    }

    /// The object's metadata, and its ETag as the store gave it (for `If-Match`).
    async fn meta(
        &self,
        key: &str,
        path: &Path,
    ) -> Result<(ObjectMeta, Option<String>), MediaStoreError> {
        let head = self
            .store
            .get_opts(
                path,
                GetOptions {
                    head: true,
                    ..GetOptions::default()
                },
            )
            .await
            .map_err(unavailable)?;
        let content_type = head
            .attributes
            .get(&Attribute::ContentType)
            .map(|v| v.as_ref().to_owned())
            .unwrap_or_else(|| content_type_of(key).to_owned());
        let meta = ObjectMeta {
            size: head.meta.size,
            etag: head
                .meta
                .e_tag
                .as_deref()
                .map(|e| e.trim_matches('"').to_owned())
                .unwrap_or_else(|| {
                    format!(
                        "{:x}-{:x}",
                        head.meta.size,
                        head.meta.last_modified.timestamp()
                    )
                }),
            last_modified: head.meta.last_modified,
            content_type,
        };
        Ok((meta, head.meta.e_tag))
    }

    async fn upload(
        &self,
        key: &str,
        content_type: &str,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<StoredObject, PutError> {
        let path = path_of(key)?;
        let mut size: u64 = 0;
        let mut first: Vec<Bytes> = Vec::new();
        let mut buffered = 0usize;
        let next = |size: &mut u64, chunk: Option<Result<Bytes, std::io::Error>>| match chunk {
            None => Ok(None),
            Some(Err(e)) => Err(PutError::Body(e.to_string())),
            Some(Ok(chunk)) => {
                *size = size.saturating_add(chunk.len() as u64);
                if *size > max_bytes {
                    Err(PutError::TooLarge { max_bytes })
                } else {
                    Ok(Some(chunk))
                }
            }
        };
        // Up to one part in memory: a small object goes up in one request.
        while buffered < PART_BYTES {
            match next(&mut size, body.next().await)? {
                Some(chunk) => {
                    buffered += chunk.len();
                    first.push(chunk);
                }
                None => {
                    let payload: PutPayload = first.into_iter().collect();
                    self.store
                        .put_opts(
                            &path,
                            payload,
                            PutOptions {
                                attributes: Self::attributes(content_type),
                                ..PutOptions::default()
                            },
                        )
                        .await
                        .map_err(unavailable)?;
                    return Ok(StoredObject { size });
                }
            }
        }
        let upload = self
            .store
            .put_multipart_opts(
                &path,
                PutMultipartOptions {
                    attributes: Self::attributes(content_type),
                    ..PutMultipartOptions::default()
                },
            )
            .await
            .map_err(unavailable)?;
        let mut pending = Pending(Some(WriteMultipart::new_with_chunk_size(
            upload, PART_BYTES,
        )));
        let result: Result<(), PutError> = async {
            for chunk in first.drain(..) {
                if let Some(writer) = pending.0.as_mut() {
                    writer.put(chunk);
                }
            }
            loop {
                let chunk = match next(&mut size, body.next().await) {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(e),
                };
                if let Some(writer) = pending.0.as_mut() {
                    writer
                        .wait_for_capacity(PARTS_IN_FLIGHT)
                        .await
                        .map_err(unavailable)?;
                    writer.put(chunk);
                }
            }
        }
        .await;
        match result {
            Ok(()) => {
                if let Some(writer) = pending.take() {
                    // A failed completion aborts the upload itself. In a task of its own: this
                    // future dropped mid-completion would otherwise drop the writer, and with
                    // it the only way to abort, leaving the parts in the bucket. Completed for
                    // a caller gone meanwhile, the object is deleted: nobody will record it.
                    let (done, finished) = tokio::sync::oneshot::channel();
                    let (store, orphan) = (self.store.clone(), path.clone());
                    tokio::spawn(async move {
                        if let Err(Ok(_)) = done.send(writer.finish().await)
                            && let Err(e) = store.delete(&orphan).await
                        {
                            tracing::warn!(key = %orphan, error = %e, "an upload completed for nobody was not deleted");
                        }
                    });
                    finished
                        .await
                        .map_err(|_| {
                            MediaStoreError::Unavailable("s3: the completion stopped".to_owned())
                        })?
                        .map_err(unavailable)?;
                }
                Ok(StoredObject { size })
            }
            Err(e) => {
                pending.abort().await;
                Err(e)
            }
        }
    }
}

#[async_trait]
impl MediaStore for S3Store {
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<String, MediaStoreError> {
        let path = path_of(key)?;
        self.store
            .put_opts(
                &path,
                PutPayload::from(bytes),
                PutOptions {
                    attributes: Self::attributes(content_type),
                    ..PutOptions::default()
                },
            )
            .await
            .map_err(unavailable)?;
        Ok(self.public_url(key))
    }

    async fn put_stream(
        &self,
        key: &str,
        content_type: &str,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<StoredObject, PutError> {
        self.upload(key, content_type, body, max_bytes).await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, MediaStoreError> {
        let path = path_of(key).map_err(|_| MediaStoreError::NotFound)?;
        let read = self.store.get(&path).await.map_err(unavailable)?;
        if read.meta.size > self.read_limit {
            return Err(MediaStoreError::Unavailable(format!(
                "{key} has {} bytes, more than the {} read whole",
                read.meta.size, self.read_limit
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(read.meta.size).unwrap_or(0));
        let mut stream = read.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(unavailable)?;
            if (bytes.len() + chunk.len()) as u64 > self.read_limit {
                return Err(MediaStoreError::Unavailable(format!(
                    "{key} is longer than the {} bytes read whole",
                    self.read_limit
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, MediaStoreError> {
        let path = path_of(key).map_err(|_| MediaStoreError::NotFound)?;
        Ok(self.meta(key, &path).await?.0)
    }

    async fn open(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectRead, MediaStoreError> {
        let path = path_of(key).map_err(|_| MediaStoreError::NotFound)?;
        let (meta, etag) = self.meta(key, &path).await?;
        let range = match range {
            None => 0..meta.size,
            Some(r) => r
                .resolve(meta.size)
                .ok_or(MediaStoreError::RangeNotSatisfiable { size: meta.size })?,
        };
        let body: ByteStream = if range.is_empty() {
            Box::pin(futures_util::stream::empty())
        } else {
            let read = self
                .store
                .get_opts(
                    &path,
                    GetOptions {
                        range: Some(GetRange::Bounded(range.clone())),
                        // The bytes described above, or an error: never another version's.
                        if_match: etag,
                        ..GetOptions::default()
                    },
                )
                .await
                .map_err(unavailable)?;
            Box::pin(
                read.into_stream()
                    .map(|chunk| chunk.map_err(std::io::Error::other)),
            )
        };
        Ok(ObjectRead { meta, range, body })
    }

    async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        let path = path_of(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base)
    }

    fn delivery(&self) -> Delivery {
        self.delivery
    }
}
