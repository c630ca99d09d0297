//! What we know about an attached file, and what kind of media it is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An attached file as the validator sees it: its type, size and, when known, its dimensions
/// and duration.
///
/// Unknown dimensions or duration are not errors: the checks that need them are skipped, since
/// the upload pipeline may only learn them after probing the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The MIME type, e.g. `image/jpeg` or `video/mp4` (case and parameters are ignored).
    pub mime_type: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Width in pixels, when known.
    pub width: Option<u32>,
    /// Height in pixels, when known.
    pub height: Option<u32>,
    /// Duration in seconds for videos (and animated GIFs), when known.
    pub duration_secs: Option<f64>,
    /// A video's codec as its container names it (the sample entry type: `avc1`, `hvc1`…),
    /// when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

impl MediaInfo {
    /// The kind of media this file is, from its MIME type.
    ///
    /// # Errors
    ///
    /// [`UnsupportedMediaType`] when the MIME type is not one Multivio can publish.
    pub fn kind(&self) -> Result<MediaKind, UnsupportedMediaType> {
        MediaKind::from_mime(&self.mime_type)
    }
}

/// The kinds of media platforms tell apart.
///
/// GIFs are their own kind because platforms treat them differently from stills: X takes one
/// GIF instead of four images, Instagram takes none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A still image: JPEG, PNG or WebP.
    Image,
    /// An (often animated) GIF.
    Gif,
    /// A video: MP4, QuickTime or WebM.
    Video,
}

/// Every MIME type Multivio can publish, in canonical form, with its kind.
///
/// Deliberately short: these are the formats at least one platform's API accepts for feed
/// posts. Anything else (HEIC, AVI, PDF…) is rejected up front rather than failing at publish
/// time.
pub const SUPPORTED_MIME_TYPES: [(&str, MediaKind); 7] = [
    ("image/jpeg", MediaKind::Image),
    ("image/png", MediaKind::Image),
    ("image/webp", MediaKind::Image),
    ("image/gif", MediaKind::Gif),
    ("video/mp4", MediaKind::Video),
    ("video/quicktime", MediaKind::Video),
    ("video/webm", MediaKind::Video),
];

impl MediaKind {
    /// The kind of a MIME type such as `image/png` or `Video/MP4; codecs="avc1"`.
    ///
    /// # Errors
    ///
    /// [`UnsupportedMediaType`] for any type outside [`SUPPORTED_MIME_TYPES`].
    pub fn from_mime(mime: &str) -> Result<Self, UnsupportedMediaType> {
        canonical_mime(mime)
            .and_then(|canonical| {
                SUPPORTED_MIME_TYPES
                    .iter()
                    .find(|(m, _)| *m == canonical)
                    .map(|(_, k)| *k)
            })
            .ok_or_else(|| UnsupportedMediaType(mime.to_owned()))
    }

    /// The kind's name as used on the wire (`image`, `gif`, `video`).
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Gif => "gif",
            MediaKind::Video => "video",
        }
    }

    /// The kind's plural, for messages ("images").
    pub(crate) const fn plural(self) -> &'static str {
        match self {
            MediaKind::Image => "images",
            MediaKind::Gif => "GIFs",
            MediaKind::Video => "videos",
        }
    }

    /// The kind's name in a sentence ("GIF", not "gif").
    pub(crate) const fn noun(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Gif => "GIF",
            MediaKind::Video => "video",
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MediaKind {
    type Err = UnsupportedMediaType;

    /// Parses a MIME type (not a kind name): `"image/gif".parse()` is [`MediaKind::Gif`].
    fn from_str(mime: &str) -> Result<Self, Self::Err> {
        Self::from_mime(mime)
    }
}

/// The MIME type in the form platform rules list it: lower-case, parameters dropped, and the
/// common non-standard `image/jpg` spelled `image/jpeg`. `None` if it is not a supported type.
pub(crate) fn canonical_mime(mime: &str) -> Option<&'static str> {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let essence = match essence.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        other => other,
    };
    SUPPORTED_MIME_TYPES
        .iter()
        .map(|(m, _)| *m)
        .find(|m| *m == essence)
}

/// The file's MIME type is not one Multivio can publish anywhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported media type `{0}`")]
pub struct UnsupportedMediaType(pub String);

#[cfg(test)]
mod tests;
