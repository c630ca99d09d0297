//! Content validation: does this text and these attachments fit on that platform?
//!
//! Every platform measures text differently (X weighs characters and links, Bluesky counts
//! graphemes and bytes, Threads counts emoji as bytes, Mastodon charges links a flat rate) and
//! accepts different attachments. [`validate_for`] applies one platform's rules and explains every
//! problem in a sentence a user can act on; [`compatible_platforms`] answers the reverse question
//! for one file. The numbers live in [`limits()`]. [`validate_post`] checks a whole post: its
//! content for every platform it targets, plus the checks about the post itself.
//!
//! Everything here is pure computation on strings, numbers and domain values.
//!
//! Inside, one module per concern: `count` (lengths as each platform measures them, with
//! `emoji`, `url` and `tlds`), `limits` (the numbers), `attachment` (what the validator knows
//! about an attached file: [`MediaInfo`], [`MediaKind`]), `platform_check` (one platform's rules:
//! [`validate_for`]) and `post_check` (the whole post: [`validate_post`]).

mod attachment;
mod count;
mod emoji;
mod limits;
mod platform_check;
mod post_check;
mod tlds;
mod url;

use serde::{Deserialize, Serialize};

pub use attachment::{MediaInfo, MediaKind, SUPPORTED_MIME_TYPES, UnsupportedMediaType};
pub use count::{
    X_URL_LENGTH, count, count_graphemes, count_mastodon, count_threads, count_with,
    count_x_weighted,
};
pub use limits::{
    AspectRatio, AspectRatioRange, KindLimits, MediaLimits, MediaMixing, PlatformLimits,
    TextCounting, limits,
};
pub use platform_check::{compatible_platforms, validate_for};
pub use post_check::{PostIssue, PostIssueCode, PostReport, media_info, validate_post};

/// Settings that vary per account or instance rather than per platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidationOptions {
    /// The Mastodon instance's `configuration.statuses.max_characters` (500 upstream).
    pub mastodon_max_characters: usize,
    /// The Mastodon instance's `configuration.statuses.characters_reserved_per_url` (23
    /// upstream).
    pub mastodon_chars_per_url: usize,
    /// The X account has a subscription that allows long posts (4,000 instead of 280).
    pub x_verified: bool,
    /// The Mastodon instance's `configuration.statuses.max_media_attachments` (4 upstream).
    pub mastodon_max_media: usize,
    /// The Mastodon instance's `configuration.media_attachments.image_size_limit`, in bytes
    /// (images and GIFs; 16 MB when the instance does not say).
    pub mastodon_image_bytes: u64,
    /// The Mastodon instance's `configuration.media_attachments.video_size_limit`, in bytes
    /// (99 MB when the instance does not say).
    pub mastodon_video_bytes: u64,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self {
            mastodon_max_characters: 500,
            mastodon_chars_per_url: 23,
            x_verified: false,
            mastodon_max_media: 4,
            mastodon_image_bytes: 16_000_000,
            mastodon_video_bytes: 99_000_000,
        }
    }
}

/// What kind of problem a [`ContentIssue`] is, for clients that react to specific problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentIssueCode {
    /// Neither text nor media.
    Empty,
    /// The text is longer than the platform's limit, as the platform counts it.
    TooLong,
    /// The text is within the length limit but over the platform's UTF-8 byte cap.
    TooManyBytes,
    /// The text contains a character the platform rejects.
    InvalidCharacter,
    /// More hashtags than the platform allows.
    TooManyHashtags,
    /// More @mentions than the platform allows.
    TooManyMentions,
    /// More links than the platform allows.
    TooManyLinks,
    /// The platform only publishes posts with (a certain kind of) media.
    MediaRequired,
    /// More attachments, or more of one kind, than the platform allows.
    TooManyMedia,
    /// The file's MIME type is not one Multivio can publish anywhere.
    UnsupportedMediaType,
    /// The platform does not accept this kind or format of media.
    MediaTypeNotAllowed,
    /// The file is larger than the platform accepts.
    MediaTooLarge,
    /// The video is longer than the platform accepts.
    VideoTooLong,
    /// The video is shorter than the platform accepts.
    VideoTooShort,
    /// The image has more pixels than the platform accepts.
    ImageTooManyPixels,
    /// The image's shape is outside the platform's accepted aspect ratios.
    AspectRatioNotAllowed,
    /// The platform does not allow these kinds of media in one post.
    MixedMedia,
    /// The post is a thread and the platform publishes no threads.
    ThreadsNotSupported,
}

/// One reason a post does not fit a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentIssue {
    /// Machine-readable kind of problem.
    pub code: ContentIssueCode,
    /// Plain, actionable explanation, e.g. `video too large for Bluesky: 310 MB > 100 MB`.
    pub message: String,
}

/// The verdict of [`validate_for`] for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformReport {
    /// Whether the post can be published as is (`errors` is empty).
    pub valid: bool,
    /// The text's length as the platform counts it.
    pub length: usize,
    /// The platform's text length limit, in the same unit as `length`.
    pub limit: usize,
    /// Every problem found, text first, then each attachment in order, then the set as a whole.
    pub errors: Vec<ContentIssue>,
    /// For a thread: the report of each part after the first, in order (the fields above are
    /// the first part's, and `valid` is every part's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PlatformReport>,
}
