//! Media: file rows and the bytes.

use async_trait::async_trait;
use multivio_domain::media::{AltText, MediaFile};
use multivio_domain::page::PageSize;
use multivio_domain::{MediaId, Tenant};

use crate::error::{Page, StoreError};

/// Media file rows (`media_files`).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait MediaRepository: Send + Sync {
    /// Inserts a row.
    async fn insert(&self, tenant: &Tenant, file: &MediaFile) -> Result<MediaFile, StoreError>;
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
    /// Deletes the row.
    async fn delete(&self, tenant: &Tenant, id: MediaId) -> Result<(), StoreError>;
}

/// Why a media store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaStoreError {
    /// No object under that key.
    #[error("object not found")]
    NotFound,
    /// The store failed.
    #[error("media store unavailable: {0}")]
    Unavailable(String),
}

/// Media bytes (local disk, S3/R2).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores bytes under `key`, returning the public URL.
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<String, MediaStoreError>;
    /// Reads the bytes under `key`.
    async fn get(&self, key: &str) -> Result<Vec<u8>, MediaStoreError>;
    /// Deletes `key` (deleting a missing key is not an error).
    async fn delete(&self, key: &str) -> Result<(), MediaStoreError>;
    /// The public URL of `key`.
    fn public_url(&self, key: &str) -> String;
}
