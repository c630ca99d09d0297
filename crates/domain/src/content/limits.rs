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
    /// Threads: Unicode scalar values, except that an emoji counts as many as its UTF-8 bytes
    /// (Meta's documentation: "Emojis are counted as the number of UTF-8 bytes").
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
        }
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
const MP4: &[&str] = &["video/mp4"];
const MP4_MOV: &[&str] = &["video/mp4", "video/quicktime"];
const MP4_MOV_WEBM: &[&str] = &["video/mp4", "video/quicktime", "video/webm"];

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
/// | LinkedIn | 3,000 chars | ≤9 images (JPEG/PNG ≤10 MB, ≤36,152,320 px) **or** 1 GIF (≤10 MB) **or** 1 video (MP4 ≤5 GB, 3 s–15 min) |
/// | Threads | 500 (emoji = UTF-8 bytes), ≤5 links | ≤10 images (JPEG/PNG ≤8 MB) and videos (MP4/MOV ≤1 GB, ≤5 min), mixed freely; no GIFs |
/// | Bluesky | 300 graphemes and 3,000 bytes | ≤4 images (JPEG/PNG/WebP ≤1,000,000 bytes) **or** 1 video (MP4/MOV/WebM ≤100 MB, ≤3 min); no GIFs |
/// | Mastodon | instance limit (500), links 23 | ≤4 images/GIFs (≤16 MB) **or** 1 video (MP4/MOV/WebM ≤99 MB) |
/// | Pinterest | 500 chars | **required**: exactly 1 image (JPEG/PNG/WebP/GIF ≤20 MB) or video (MP4/MOV ≤2 GB, 4 s–15 min) |
/// | TikTok | 2,200 chars | **required**: exactly 1 video (MP4/MOV/WebM ≤4 GB, 3 s–10 min) |
/// | YouTube | 5,000 chars and 5,000 bytes, no `<` `>` | **required**: exactly 1 video (MP4/MOV/WebM ≤256 GB, ≤12 h) |
///
/// Choices worth knowing:
/// - Facebook photos: 10 MB (its documented per-photo cap), not the 4 MB sometimes quoted for
///   ad images.
/// - Instagram: the API documents JPEG only; PNG is accepted here on the understanding that the
///   publishing adapter converts it. Videos are published as Reels, so the 4:5–1.91:1 feed
///   aspect ratio applies to images only.
/// - GIFs are refused where the platform would flatten them to a still (Instagram, Threads,
///   Bluesky) and count as images where they are first-class (Facebook, Mastodon, Pinterest).
/// - YouTube's description limit is 5,000 *bytes* in the Data API, so both are enforced.
/// - Threads rejects posts with more than five links (since December 2025).
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
                video: Some(KindLimits::new(MP4_MOV, 1, 512 * MB).duration(None, 140)),
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
                video: Some(KindLimits::new(MP4_MOV, 10, 100 * MB).duration(Some(3), 15 * MINUTE)),
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
                video: Some(KindLimits::new(MP4, 1, 5 * GB).duration(Some(3), 15 * MINUTE)),
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
                video: Some(KindLimits::new(MP4_MOV, 10, GB).duration(None, 5 * MINUTE)),
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
                image: Some(KindLimits::new(JPEG_PNG_WEBP, 4, MB)),
                gif: None,
                video: Some(KindLimits::new(MP4_MOV_WEBM, 1, 100 * MB).duration(None, 3 * MINUTE)),
            },
            ..base
        },
        Provider::Mastodon => PlatformLimits {
            max_text_length: opts.mastodon_max_characters,
            text_counting: TextCounting::Mastodon {
                chars_per_url: opts.mastodon_chars_per_url,
            },
            media: MediaLimits {
                required: false,
                max_items: 4,
                mixing: MediaMixing::VideoAlone,
                image: Some(KindLimits::new(JPEG_PNG_WEBP, 4, 16 * MB)),
                gif: Some(KindLimits::new(GIF, 4, 16 * MB)),
                video: Some(KindLimits::new(MP4_MOV_WEBM, 1, 99 * MB)),
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
mod tests {
    use super::*;
    use crate::content::{MediaKind, SUPPORTED_MIME_TYPES};

    #[test]
    fn text_limits_per_platform() {
        let opts = ValidationOptions::default();
        let cases = [
            (Provider::X, 280, TextCounting::XWeighted),
            (Provider::Facebook, 63_206, TextCounting::Chars),
            (Provider::Instagram, 2_200, TextCounting::Chars),
            (Provider::Linkedin, 3_000, TextCounting::Chars),
            (Provider::Threads, 500, TextCounting::CharsEmojiAsUtf8Bytes),
            (Provider::Bluesky, 300, TextCounting::Graphemes),
            (
                Provider::Mastodon,
                500,
                TextCounting::Mastodon { chars_per_url: 23 },
            ),
            (Provider::Pinterest, 500, TextCounting::Chars),
            (Provider::Tiktok, 2_200, TextCounting::Chars),
            (Provider::Youtube, 5_000, TextCounting::Chars),
        ];
        for (platform, max, counting) in cases {
            let l = limits(platform, &opts);
            assert_eq!(l.platform, platform);
            assert_eq!(l.max_text_length, max, "{platform}");
            assert_eq!(l.text_counting, counting, "{platform}");
        }
        assert_eq!(limits(Provider::Bluesky, &opts).max_text_bytes, Some(3_000));
        assert_eq!(limits(Provider::Youtube, &opts).max_text_bytes, Some(5_000));
    }

    #[test]
    fn options_change_x_and_mastodon_only() {
        let opts = ValidationOptions {
            mastodon_max_characters: 11_000,
            mastodon_chars_per_url: 30,
            x_verified: true,
        };
        assert_eq!(limits(Provider::X, &opts).max_text_length, 4_000);
        let m = limits(Provider::Mastodon, &opts);
        assert_eq!(m.max_text_length, 11_000);
        assert_eq!(
            m.text_counting,
            TextCounting::Mastodon { chars_per_url: 30 }
        );
        for p in Provider::ALL
            .into_iter()
            .filter(|p| !matches!(p, Provider::X | Provider::Mastodon))
        {
            assert_eq!(
                limits(p, &opts),
                limits(p, &ValidationOptions::default()),
                "{p}"
            );
        }
    }

    #[test]
    fn media_rules_are_consistent() {
        let supported: Vec<&str> = SUPPORTED_MIME_TYPES.iter().map(|(m, _)| *m).collect();
        for p in Provider::ALL {
            let media = limits(p, &ValidationOptions::default()).media;
            assert!(media.max_items >= 1, "{p}");
            for kind in [MediaKind::Image, MediaKind::Gif, MediaKind::Video] {
                let Some(rules) = media.for_kind(kind) else {
                    continue;
                };
                assert!(
                    rules.max_count >= 1 && rules.max_count <= media.max_items,
                    "{p} {kind}"
                );
                assert!(rules.max_bytes > 0, "{p} {kind}");
                for mime in rules.mime_types {
                    assert!(
                        supported.contains(mime),
                        "{p}: {mime} is not a supported type"
                    );
                    assert_eq!(
                        MediaKind::from_mime(mime),
                        Ok(kind),
                        "{p}: {mime} listed as {kind}"
                    );
                }
                if let (Some(min), Some(max)) = (rules.min_duration_secs, rules.max_duration_secs) {
                    assert!(min < max, "{p} {kind}");
                }
            }
        }
    }

    /// (platform, max items, (max images, image bytes), (max videos, video bytes, video secs))
    type Row = (
        Provider,
        usize,
        Option<(usize, u64)>,
        Option<(usize, u64, u32)>,
    );

    #[test]
    fn media_numbers_per_platform() {
        let opts = ValidationOptions::default();
        let image = |p| limits(p, &opts).media.image;
        let video = |p| limits(p, &opts).media.video;
        let gif = |p| limits(p, &opts).media.gif;
        let cases: [Row; 10] = [
            (Provider::X, 4, Some((4, 5 * MB)), Some((1, 512 * MB, 140))),
            (
                Provider::Facebook,
                10,
                Some((10, 10 * MB)),
                Some((1, 4 * GB, 14_400)),
            ),
            (
                Provider::Instagram,
                10,
                Some((10, 8 * MB)),
                Some((10, 100 * MB, 900)),
            ),
            (
                Provider::Linkedin,
                9,
                Some((9, 10 * MB)),
                Some((1, 5 * GB, 900)),
            ),
            (
                Provider::Threads,
                10,
                Some((10, 8 * MB)),
                Some((10, GB, 300)),
            ),
            (
                Provider::Bluesky,
                4,
                Some((4, 1_000_000)),
                Some((1, 100 * MB, 180)),
            ),
            (
                Provider::Mastodon,
                4,
                Some((4, 16 * MB)),
                Some((1, 99 * MB, 0)),
            ),
            (
                Provider::Pinterest,
                1,
                Some((1, 20 * MB)),
                Some((1, 2 * GB, 900)),
            ),
            (Provider::Tiktok, 1, None, Some((1, 4 * GB, 600))),
            (Provider::Youtube, 1, None, Some((1, 256 * GB, 43_200))),
        ];
        for (p, items, img, vid) in cases {
            assert_eq!(limits(p, &opts).media.max_items, items, "{p}");
            assert_eq!(
                image(p).map(|k| (k.max_count, k.max_bytes)),
                img,
                "{p} images"
            );
            let v = video(p).map(|k| (k.max_count, k.max_bytes, k.max_duration_secs.unwrap_or(0)));
            assert_eq!(v, vid, "{p} videos");
        }
        assert_eq!(
            gif(Provider::X).map(|k| (k.max_count, k.max_bytes)),
            Some((1, 15 * MB))
        );
        assert!(gif(Provider::Instagram).is_none());
        assert!(gif(Provider::Bluesky).is_none());
        assert!(gif(Provider::Threads).is_none());
        assert_eq!(
            image(Provider::Linkedin).and_then(|k| k.max_pixels),
            Some(36_152_320)
        );
        let required: Vec<Provider> = Provider::ALL
            .into_iter()
            .filter(|&p| limits(p, &opts).media.required)
            .collect();
        assert_eq!(
            required,
            [
                Provider::Instagram,
                Provider::Pinterest,
                Provider::Tiktok,
                Provider::Youtube
            ]
        );
    }

    #[test]
    fn aspect_ratio_range_is_inclusive_and_exact() {
        let range = AspectRatioRange {
            min: AspectRatio {
                width: 4,
                height: 5,
            },
            max: AspectRatio {
                width: 191,
                height: 100,
            },
        };
        for (w, h, ok) in [
            (1080, 1350, true),  // exactly 4:5
            (1080, 1351, false), // a hair taller
            (1080, 1080, true),
            (1910, 1000, true), // exactly 1.91:1
            (1911, 1000, false),
            (1080, 1920, false), // 9:16
            (1920, 1080, true),  // 16:9 = 1.78
        ] {
            assert_eq!(range.contains(w, h), ok, "{w}x{h}");
        }
    }

    #[test]
    fn limits_serialise_for_clients() {
        let json = serde_json::to_value(limits(Provider::Mastodon, &ValidationOptions::default()))
            .unwrap();
        assert_eq!(json["platform"], "mastodon");
        assert_eq!(json["text_counting"]["method"], "mastodon");
        assert_eq!(json["text_counting"]["chars_per_url"], 23);
        assert_eq!(json["media"]["mixing"], "video_alone");
        assert_eq!(json["media"]["video"]["mime_types"][2], "video/webm");
    }
}
