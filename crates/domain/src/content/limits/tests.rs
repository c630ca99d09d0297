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
        mastodon_max_media: 6,
        mastodon_image_bytes: 20_000_000,
        mastodon_video_bytes: 200_000_000,
    };
    assert_eq!(limits(Provider::X, &opts).max_text_length, 4_000);
    let m = limits(Provider::Mastodon, &opts);
    assert_eq!(m.max_text_length, 11_000);
    assert_eq!(
        m.text_counting,
        TextCounting::Mastodon { chars_per_url: 30 }
    );
    assert_eq!(m.media.max_items, 6);
    assert_eq!(m.media.image.unwrap().max_count, 6);
    assert_eq!(m.media.image.unwrap().max_bytes, 20_000_000);
    assert_eq!(m.media.gif.unwrap().max_bytes, 20_000_000);
    assert_eq!(m.media.video.unwrap().max_bytes, 200_000_000);
    assert_eq!(m.media.video.unwrap().max_count, 1);
    // An instance that takes no media.
    let none = limits(
        Provider::Mastodon,
        &ValidationOptions {
            mastodon_max_media: 0,
            ..ValidationOptions::default()
        },
    );
    assert_eq!(
        (none.media.image, none.media.gif, none.media.video),
        (None, None, None)
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
        (Provider::Linkedin, 9, Some((9, 10 * MB)), None),
        (
            Provider::Threads,
            10,
            Some((10, 8 * MB)),
            Some((10, GB, 300)),
        ),
        (Provider::Bluesky, 4, Some((4, 20 * MB)), None),
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
    let json =
        serde_json::to_value(limits(Provider::Mastodon, &ValidationOptions::default())).unwrap();
    assert_eq!(json["platform"], "mastodon");
    assert_eq!(json["text_counting"]["method"], "mastodon");
    assert_eq!(json["text_counting"]["chars_per_url"], 23);
    assert_eq!(json["media"]["mixing"], "video_alone");
    assert_eq!(json["media"]["video"]["mime_types"][2], "video/webm");
}
