//! `/v1/media`: uploaded files.

use chrono::{DateTime, Utc};
use multivio_domain::media::MediaFile;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaDto {
    /// Id.
    pub id: Uuid,
    /// Stored name.
    pub filename: String,
    /// Name given at upload.
    pub original_filename: Option<String>,
    /// MIME type, sniffed from the bytes.
    pub file_type: String,
    /// Size in bytes.
    pub file_size: u64,
    /// Public URL.
    pub cdn_url: Option<String>,
    /// Thumbnail URL.
    pub thumbnail_url: Option<String>,
    /// Platforms that accept this file.
    pub platform_compatibility: Vec<String>,
    /// Alternative text.
    pub alt_text: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration of a video, in seconds.
    pub duration_secs: Option<f64>,
    /// Uploaded.
    pub upload_date: DateTime<Utc>,
}

impl From<&MediaFile> for MediaDto {
    fn from(f: &MediaFile) -> Self {
        Self {
            id: f.id.0,
            filename: f.filename.clone(),
            original_filename: f.original_filename.clone(),
            file_type: f.file_type.clone(),
            file_size: f.file_size,
            cdn_url: f.cdn_url.clone(),
            thumbnail_url: f.thumbnail_url.clone(),
            platform_compatibility: f
                .platform_compatibility
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            alt_text: f.alt_text.as_ref().map(|a| a.as_str().to_owned()),
            width: f.width,
            height: f.height,
            duration_secs: f.duration_secs,
            upload_date: f.upload_date,
        }
    }
}

/// A page of media, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaPage {
    /// Files.
    pub items: Vec<MediaDto>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// New alternative text (`null` clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaPatch {
    /// Alternative text.
    #[schema(schema_with = super::rules::alt_text)]
    pub alt_text: Option<String>,
}

/// An upload (`multipart/form-data`): the file's bytes and, optionally, its alternative text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadForm {
    /// The bytes (the type is read from them, never from the part's content type).
    #[schema(schema_with = super::rules::file_bytes)]
    pub file: Vec<u8>,
    /// Alternative text.
    #[schema(schema_with = super::rules::upload_alt_text)]
    pub alt_text: Option<String>,
}
