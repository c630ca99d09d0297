//! Each platform's limits on post text and attachments.
//!
//! Sizes are in decimal units (1 MB = 1,000,000 bytes, 1 GB = 1,000,000,000 bytes). Platforms
//! often mean binary megabytes, which are larger, so decimal limits can only err on the side of
//! rejecting a file the platform would have taken, never the reverse.

use serde::Serialize;

use super::ValidationOptions;
use crate::Provider;

const KB: u64 = 1_000;
const MB: u64 = 1_000 * KB;
const GB: u64 = 1_000 * MB;
const MINUTE: u32 = 60;
const HOUR: u32 = 60 * MINUTE;

/// The limits one platform puts on a post. Obtain them with [`limits`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlatformLimits {
    /// The platform these limits belong to.
    pub platform: Provider,
    /// Longest text accepted, as measured by [`text_counting`](Self::text_counting).
    pub max_text_length: usize,
    /// How the platform measures text length.
    pub text_counting: TextCounting,
    /// A cap on the UTF-8 size of the text, on platforms that have one on top of the length.
    pub max_text_bytes: Option<usize>,
    /// Characters the platform rejects anywhere in the text.
    pub forbidden_chars: &'static [char],
    /// Most hashtags one post may carry.
    pub max_hashtags: Option<usize>,
    /// Most @mentions one post may carry.
    pub max_mentions: Option<usize>,
    /// Most distinct links one post may carry.
    pub max_links: Option<usize>,
    /// Whether a post with neither text nor media is rejected. Platforms that require media
    /// report that instead, so this is `false` for them.
    pub requires_text_or_media: bool,
    /// What may be attached.
    pub media: MediaLimits,
}

/// How a platform measures the length of a post's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum TextCounting {
    /// twitter-text v3 weighted length (X): after NFC normalisation, code points in
    /// U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 count 1, all others 2;
    /// an emoji sequence counts 2 however many code points it has, and every link counts 23.
    XWeighted,
    /// Extended grapheme clusters (Bluesky): a flag or a family emoji is 1.
    Graphemes,
    /// Mastodon: extended grapheme clusters, where every link with a scheme counts
    /// `chars_per_url` and a remote mention `@user@instance` counts as `@user`.
    Mastodon {
        /// What each link counts for (the instance's `characters_reserved_per_url`).
        chars_per_url: usize,
    },
    /// Threads: extended grapheme clusters, except that an emoji counts as many as its UTF-8
    /// bytes (Meta's documentation: "Emojis are counted as the number of UTF-8 bytes").
    CharsEmojiAsUtf8Bytes,
    /// Unicode scalar values (Rust `chars`), never UTF-16 code units.
    Chars,
}

/// What a platform accepts as attachments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MediaLimits {
    /// Whether a post must carry at least one accepted attachment.
    pub required: bool,
    /// Most attachments of all kinds together.
    pub max_items: usize,
    /// Which kinds may share a post.
    pub mixing: MediaMixing,
    /// Rules for still images, or `None` when the platform takes none.
    pub image: Option<KindLimits>,
    /// Rules for GIFs, or `None` when the platform takes none.
    pub gif: Option<KindLimits>,
    /// Rules for videos, or `None` when the platform takes none.
    pub video: Option<KindLimits>,
}

impl MediaLimits {
    /// The rules for one kind, `None` when the platform does not take that kind.
    pub fn for_kind(&self, kind: super::MediaKind) -> Option<&KindLimits> {
        match kind {
            super::MediaKind::Image => self.image.as_ref(),
            super::MediaKind::Gif => self.gif.as_ref(),
            super::MediaKind::Video => self.video.as_ref(),
        }
    }
}

/// Which kinds of media may be combined in one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaMixing {
    /// Any combination (carousels on Instagram and Threads).
    Any,
    /// Images and GIFs may be combined, but a video must be the only attachment.
    VideoAlone,
    /// All attachments must be of one kind.
    SameKind,
}

/// The rules for one kind of media on one platform.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KindLimits {
    /// Accepted MIME types, in canonical form (see [`super::SUPPORTED_MIME_TYPES`]).
    pub mime_types: &'static [&'static str],
    /// Most attachments of this kind in one post.
    pub max_count: usize,
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Shortest accepted duration, in seconds.
    pub min_duration_secs: Option<u32>,
    /// Longest accepted duration, in seconds.
    pub max_duration_secs: Option<u32>,
    /// Most pixels (width × height).
    pub max_pixels: Option<u64>,
    /// Narrowest and widest accepted shapes.
    pub aspect_ratio: Option<AspectRatioRange>,
    /// Accepted video codecs (sample entry types such as `avc1`), `None` for any.
    pub codecs: Option<&'static [&'static str]>,
}

impl KindLimits {
    const fn new(mime_types: &'static [&'static str], max_count: usize, max_bytes: u64) -> Self {
        Self {
            mime_types,
            max_count,
            max_bytes,
            min_duration_secs: None,
            max_duration_secs: None,
            max_pixels: None,
            aspect_ratio: None,
            codecs: None,
        }
    }

    const fn codecs(mut self, codecs: &'static [&'static str]) -> Self {
        self.codecs = Some(codecs);
        self
    }

    const fn duration(mut self, min: Option<u32>, max: u32) -> Self {
        self.min_duration_secs = min;
        self.max_duration_secs = Some(max);
        self
    }
}

/// An inclusive range of aspect ratios, each written width:height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AspectRatioRange {
    /// The narrowest shape accepted, e.g. 4:5.
    pub min: AspectRatio,
    /// The widest shape accepted, e.g. 191:100 (1.91:1).
    pub max: AspectRatio,
}

impl AspectRatioRange {
    /// Whether a `width` × `height` picture fits. Compared in integers, so 1080×1350 is exactly
    /// 4:5.
    pub fn contains(&self, width: u32, height: u32) -> bool {
        let (w, h) = (u64::from(width), u64::from(height));
        let at_least_min = w * u64::from(self.min.height) >= h * u64::from(self.min.width);
        let at_most_max = w * u64::from(self.max.height) <= h * u64::from(self.max.width);
        at_least_min && at_most_max
    }
}

/// A width:height ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AspectRatio {
    /// Width part.
    pub width: u32,
    /// Height part.
    pub height: u32,
}

const JPEG_PNG: &[&str] = &["image/jpeg", "image/png"];
const JPEG_PNG_WEBP: &[&str] = &["image/jpeg", "image/png", "image/webp"];
const GIF: &[&str] = &["image/gif"];
const MP4_MOV: &[&str] = &["video/mp4", "video/quicktime"];
const MP4_MOV_WEBM: &[&str] = &["video/mp4", "video/quicktime", "video/webm"];
/// H.264 (`avc1`, `avc3`).
const H264: &[&str] = &["avc1", "avc3"];
/// H.264 or HEVC (`hvc1`, `hev1`).
const H264_HEVC: &[&str] = &["avc1", "avc3", "hvc1", "hev1"];

/// X's invalid characters (twitter-text): a post containing one is rejected.
const X_FORBIDDEN: &[char] = &['\u{FFFE}', '\u{FEFF}', '\u{FFFF}'];
/// YouTube descriptions may not contain angle brackets.
const YOUTUBE_FORBIDDEN: &[char] = &['<', '>'];

/// The limits `platform` puts on a post.
///
/// | Platform | Text | Attachments |
/// |---|---|---|
/// | X | 280 weighted (4,000 with `x_verified`) | ≤4 images (JPEG/PNG/WebP ≤5 MB) **or** 1 GIF (≤15 MB) **or** 1 video (MP4/MOV ≤512 MB, ≤140 s) |
/// | Facebook | 63,206 chars | ≤10 images/GIFs (≤10 MB each) **or** 1 video (MP4/MOV ≤4 GB, ≤240 min) |
/// | Instagram | 2,200 chars, ≤30 hashtags, ≤20 mentions | **required**: 1–10 images (JPEG/PNG ≤8 MB, aspect 4:5–1.91:1) and videos (MP4/MOV ≤100 MB, 3 s–15 min), mixed freely; no GIFs |
/// | LinkedIn | 3,000 chars | ≤9 images (JPEG/PNG ≤10 MB, ≤36,152,320 px) **or** 1 GIF (≤10 MB); no video (not published yet) |
/// | Threads | 500 (emoji = UTF-8 bytes), ≤5 links | ≤10 images (JPEG/PNG ≤8 MB) and videos (MP4/MOV ≤1 GB, ≤5 min), mixed freely; no GIFs |
/// | Bluesky | 300 graphemes and 3,000 bytes | ≤4 images (JPEG/PNG/WebP ≤20 MB: larger than the blob limit, they are downscaled when published); no GIFs, no video (not published yet) |
/// | Mastodon | instance limit (500), links 23 | instance limits (≤4 images/GIFs ≤16 MB **or** 1 video ≤99 MB; MP4/MOV/WebM) |
/// | Pinterest | 500 chars | **required**: exactly 1 image (JPEG/PNG/WebP/GIF ≤20 MB) or video (MP4/MOV ≤2 GB, 4 s–15 min) |
/// | TikTok | 2,200 chars | **required**: exactly 1 video (MP4/MOV/WebM ≤4 GB, 3 s–10 min) |
/// | YouTube | 5,000 chars and 5,000 bytes, no `<` `>` | **required**: exactly 1 video (MP4/MOV/WebM ≤256 GB, ≤12 h) |
///
/// Choices worth knowing:
/// - Facebook photos: 10 MB (its documented per-photo cap), not the 4 MB sometimes quoted for
///   ad images.
/// - Instagram: the API's reference names JPEG, yet PNG is commonly taken; PNG is accepted here
///   and sent as it is (Instagram fetches media from their public URL, so nothing is converted),
///   and a refusal comes back as Instagram's own reason. Videos are published as Reels, so the
///   4:5–1.91:1 feed aspect ratio applies to images only.
/// - GIFs are refused where the platform would flatten them to a still (Instagram, Threads,
///   Bluesky) and count as images where they are first-class (Facebook, Mastodon, Pinterest).
/// - YouTube's description limit is 5,000 *bytes* in the Data API, so both are enforced.
/// - Threads rejects posts with more than five links (since December 2025).
/// - Video codecs (when the upload read them from the container): X takes H.264 only,
///   Instagram and Threads H.264 or HEVC; the others transcode what they receive.
pub fn limits(platform: Provider, opts: &ValidationOptions) -> PlatformLimits {
    let base = PlatformLimits {
        platform,
        max_text_length: 0,
        text_counting: TextCounting::Chars,
        max_text_bytes: None,
        forbidden_chars: &[],
        max_hashtags: None,
        max_mentions: None,
        max_links: None,
        requires_text_or_media: true,
        media: MediaLimits {
            required: false,
            max_items: 0,
            mixing: MediaMixing::SameKind,
            image: None,
            gif: None,
            video: None,
        },
    };
    match platform {
        Provider::X => PlatformLimits {
            max_text_length: if opts.x_verified { 4_000 } else { 280 },
            text_counting: TextCounting::XWeighted,
            forbidden_chars: X_FORBIDDEN,
            media: MediaLimits {
                required: false,
                max_items: 4,
                mixing: MediaMixing::SameKind,
                image: Some(KindLimits::new(JPEG_PNG_WEBP, 4, 5 * MB)),
                gif: Some(KindLimits::new(GIF, 1, 15 * MB)),
                video: Some(
                    KindLimits::new(MP4_MOV, 1, 512 * MB)
                        .duration(None, 140)
                        .codecs(H264),
                ),
            },
            ..base
        },
        Provider::Facebook => PlatformLimits {
            max_text_length: 63_206,
            media: MediaLimits {
                required: false,
                max_items: 10,
                mixing: MediaMixing::VideoAlone,
                image: Some(KindLimits::new(JPEG_PNG_WEBP, 10, 10 * MB)),
                gif: Some(KindLimits::new(GIF, 10, 10 * MB)),
                video: Some(KindLimits::new(MP4_MOV, 1, 4 * GB).duration(None, 240 * MINUTE)),
            },
            ..base
        },
        Provider::Instagram => PlatformLimits {
            max_text_length: 2_200,
            max_hashtags: Some(30),
            max_mentions: Some(20),
            requires_text_or_media: false,
            media: MediaLimits {
                required: true,
                max_items: 10,
                mixing: MediaMixing::Any,
                image: Some(KindLimits {
                    aspect_ratio: Some(AspectRatioRange {
                        min: AspectRatio {
                            width: 4,
                            height: 5,
                        },
                        max: AspectRatio {
                            width: 191,
                            height: 100,
                        },
                    }),
                    ..KindLimits::new(JPEG_PNG, 10, 8 * MB)
                }),
                gif: None,
                video: Some(
                    KindLimits::new(MP4_MOV, 10, 100 * MB)
                        .duration(Some(3), 15 * MINUTE)
                        .codecs(H264_HEVC),
                ),
            },
            ..base
        },
        Provider::Linkedin => PlatformLimits {
            max_text_length: 3_000,
            media: MediaLimits {
                required: false,
                max_items: 9,
                mixing: MediaMixing::SameKind,
                image: Some(KindLimits {
                    max_pixels: Some(36_152_320),
                    ..KindLimits::new(JPEG_PNG, 9, 10 * MB)
                }),
                gif: Some(KindLimits::new(GIF, 1, 10 * MB)),
                // LinkedIn takes MP4 ≤5 GB, 3 s–15 min, but Multivio's publisher sends text and
                // images only: a video is refused here rather than scheduled to fail.
                video: None,
            },
            ..base
        },
        Provider::Threads => PlatformLimits {
            max_text_length: 500,
            text_counting: TextCounting::CharsEmojiAsUtf8Bytes,
            max_links: Some(5),
            media: MediaLimits {
                required: false,
                max_items: 10,
                mixing: MediaMixing::Any,
                image: Some(KindLimits::new(JPEG_PNG, 10, 8 * MB)),
                gif: None,
                video: Some(
                    KindLimits::new(MP4_MOV, 10, GB)
                        .duration(None, 5 * MINUTE)
                        .codecs(H264_HEVC),
                ),
            },
            ..base
        },
        Provider::Bluesky => PlatformLimits {
            max_text_length: 300,
            text_counting: TextCounting::Graphemes,
            max_text_bytes: Some(3_000),
            media: MediaLimits {
                required: false,
                max_items: 4,
                mixing: MediaMixing::SameKind,
                // Bluesky's blob limit is about 1 MB, but the publisher downscales and re-encodes
                // a larger image rather than refuse it.
                image: Some(KindLimits::new(JPEG_PNG_WEBP, 4, 20 * MB)),
                gif: None,
                // Bluesky takes MP4/MOV/WebM ≤100 MB, ≤3 min, but Multivio's publisher sends
                // text and images only: a video is refused here rather than scheduled to fail.
                video: None,
            },
            ..base
        },
        Provider::Mastodon => PlatformLimits {
            max_text_length: opts.mastodon_max_characters,
            text_counting: TextCounting::Mastodon {
                chars_per_url: opts.mastodon_chars_per_url,
            },
            // The instance's own limits when its connection has them (`ValidationOptions`):
            // an instance that takes no media at all takes none here either.
            media: MediaLimits {
                required: false,
                max_items: opts.mastodon_max_media,
                mixing: MediaMixing::VideoAlone,
                image: (opts.mastodon_max_media > 0).then_some(KindLimits::new(
                    JPEG_PNG_WEBP,
                    opts.mastodon_max_media,
                    opts.mastodon_image_bytes,
                )),
                gif: (opts.mastodon_max_media > 0).then_some(KindLimits::new(
                    GIF,
                    opts.mastodon_max_media,
                    opts.mastodon_image_bytes,
                )),
                video: (opts.mastodon_max_media > 0).then_some(KindLimits::new(
                    MP4_MOV_WEBM,
                    1,
                    opts.mastodon_video_bytes,
                )),
            },
            ..base
        },
        Provider::Pinterest => PlatformLimits {
            max_text_length: 500,
            requires_text_or_media: false,
            media: MediaLimits {
                required: true,
                max_items: 1,
                mixing: MediaMixing::SameKind,
                image: Some(KindLimits::new(JPEG_PNG_WEBP, 1, 20 * MB)),
                gif: Some(KindLimits::new(GIF, 1, 20 * MB)),
                video: Some(KindLimits::new(MP4_MOV, 1, 2 * GB).duration(Some(4), 15 * MINUTE)),
            },
            ..base
        },
        Provider::Tiktok => PlatformLimits {
            max_text_length: 2_200,
            requires_text_or_media: false,
            media: MediaLimits {
                required: true,
                max_items: 1,
                mixing: MediaMixing::SameKind,
                image: None,
                gif: None,
                video: Some(
                    KindLimits::new(MP4_MOV_WEBM, 1, 4 * GB).duration(Some(3), 10 * MINUTE),
                ),
            },
            ..base
        },
        Provider::Youtube => PlatformLimits {
            max_text_length: 5_000,
            max_text_bytes: Some(5_000),
            forbidden_chars: YOUTUBE_FORBIDDEN,
            requires_text_or_media: false,
            media: MediaLimits {
                required: true,
                max_items: 1,
                mixing: MediaMixing::SameKind,
                image: None,
                gif: None,
                video: Some(KindLimits::new(MP4_MOV_WEBM, 1, 256 * GB).duration(None, 12 * HOUR)),
            },
            ..base
        },
    }
}

#[cfg(test)]
mod tests;
