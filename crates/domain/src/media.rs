//! Uploaded media files: what a file is from its bytes ([`probe`]), images' sizes,
//! decompression-bomb refusal and thumbnails ([`image`]), and videos' duration, dimensions and
//! codec from their container ([`video`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{MediaId, UserId};
use crate::provider::Provider;
use crate::text;

pub mod image;
mod probe;
pub mod video;

pub use probe::{Probed, probe};
pub use video::{ContainerScanner, VideoFacts, codec_name};

/// Alternative text for accessibility: trimmed, 1–1,500 characters (Mastodon's limit, the most
/// generous of the platforms; adapters truncate for stricter ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AltText(String);

impl AltText {
    /// Longest alt text.
    pub const MAX_LEN: usize = 1500;

    /// Validates alt text.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        text::bounded("alt_text", value.as_ref(), 1, Self::MAX_LEN, true).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AltText {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<AltText> for String {
    fn from(value: AltText) -> Self {
        value.0
    }
}

/// An uploaded file (`media_files` row, plus the dimensions and duration the upload measured).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaFile {
    /// Row id.
    pub id: MediaId,
    /// Owner.
    pub user_id: UserId,
    /// Stored name (the media store's key).
    pub filename: String,
    /// Name the client gave.
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
    pub platform_compatibility: Vec<Provider>,
    /// Alt text.
    pub alt_text: Option<AltText>,
    /// Width in pixels (images, video).
    pub width: Option<u32>,
    /// Height in pixels (images, video).
    pub height: Option<u32>,
    /// Duration in seconds (video, audio).
    pub duration_secs: Option<f64>,
    /// Upload time.
    pub upload_date: DateTime<Utc>,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
}

impl MediaFile {
    /// Whether the file is an image.
    pub fn is_image(&self) -> bool {
        self.file_type.starts_with("image/")
    }

    /// Whether the file is a video.
    pub fn is_video(&self) -> bool {
        self.file_type.starts_with("video/")
    }
}

#[cfg(test)]
mod tests;
