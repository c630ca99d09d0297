use super::*;
use ContentIssueCode as C;

const MB: u64 = 1_000_000;
const GB: u64 = 1_000_000_000;

fn file(mime: &str, size_bytes: u64) -> MediaInfo {
    MediaInfo {
        mime_type: mime.into(),
        size_bytes,
        width: None,
        height: None,
        duration_secs: None,
        codec: None,
    }
}

fn jpeg(size_bytes: u64) -> MediaInfo {
    file("image/jpeg", size_bytes)
}

fn sized(mut media: MediaInfo, width: u32, height: u32) -> MediaInfo {
    media.width = Some(width);
    media.height = Some(height);
    media
}

fn mp4(size_bytes: u64, secs: f64) -> MediaInfo {
    MediaInfo {
        duration_secs: Some(secs),
        ..file("video/mp4", size_bytes)
    }
}

fn report(platform: Provider, text: &str, media: &[MediaInfo]) -> PlatformReport {
    validate_for(platform, text, media, &ValidationOptions::default())
}

fn codes(platform: Provider, text: &str, media: &[MediaInfo]) -> Vec<ContentIssueCode> {
    report(platform, text, media)
        .errors
        .into_iter()
        .map(|e| e.code)
        .collect()
}

fn messages(platform: Provider, text: &str, media: &[MediaInfo]) -> Vec<String> {
    report(platform, text, media)
        .errors
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[test]
fn report_carries_length_limit_and_validity() {
    let r = report(Provider::X, "日本 https://example.com", &[]);
    assert_eq!(
        r,
        PlatformReport {
            valid: true,
            length: 4 + 1 + 23,
            limit: 280,
            errors: vec![],
            parts: vec![],
        }
    );
    let r = report(Provider::X, &"a".repeat(281), &[]);
    assert!(!r.valid);
    assert_eq!((r.length, r.limit), (281, 280));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"][0]["code"], "too_long");
    assert_eq!(
        json["errors"][0]["message"],
        "text too long for X: 281 > 280 characters (remove 1)"
    );
    let back: PlatformReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn empty_posts() {
    let needs_text_or_media = [
        Provider::X,
        Provider::Facebook,
        Provider::Linkedin,
        Provider::Threads,
        Provider::Bluesky,
        Provider::Mastodon,
    ];
    for p in needs_text_or_media {
        assert_eq!(codes(p, "", &[]), [C::Empty], "{p}");
        assert_eq!(codes(p, " \n\t", &[]), [C::Empty], "{p}");
        assert_eq!(
            codes(p, "", &[jpeg(100_000)]),
            [],
            "{p}: media-only posts are fine"
        );
        assert_eq!(codes(p, "hi", &[]), [], "{p}");
    }
    // Where media is required, that is the problem to report, not the missing text.
    for p in [
        Provider::Instagram,
        Provider::Pinterest,
        Provider::Tiktok,
        Provider::Youtube,
    ] {
        assert_eq!(codes(p, "", &[]), [C::MediaRequired], "{p}");
    }
    assert_eq!(
        messages(Provider::X, "", &[]),
        ["post is empty: X needs text or media"]
    );
}

#[test]
fn x_text_limits() {
    assert_eq!(codes(Provider::X, &"a".repeat(280), &[]), []);
    assert_eq!(codes(Provider::X, &"a".repeat(281), &[]), [C::TooLong]);
    assert_eq!(codes(Provider::X, &"語".repeat(140), &[]), []);
    assert_eq!(codes(Provider::X, &"語".repeat(141), &[]), [C::TooLong]);
    assert_eq!(codes(Provider::X, &"e\u{301}".repeat(280), &[]), []);
    let verified = ValidationOptions {
        x_verified: true,
        ..ValidationOptions::default()
    };
    let long = "a".repeat(4_000);
    assert!(validate_for(Provider::X, &long, &[], &verified).valid);
    assert_eq!(
        validate_for(Provider::X, &long, &[], &verified).limit,
        4_000
    );
    assert!(!validate_for(Provider::X, &format!("{long}a"), &[], &verified).valid);
    assert_eq!(
        codes(Provider::X, "zero\u{FEFF}width", &[]),
        [C::InvalidCharacter]
    );
    assert_eq!(
        messages(Provider::X, "a\u{FEFF}b\u{FFFF}\u{FEFF}", &[]),
        ["text contains characters X rejects: U+FEFF, U+FFFF"]
    );
}

#[test]
fn bluesky_needs_both_graphemes_and_bytes() {
    let accents = "e\u{301}";
    let r = report(Provider::Bluesky, &accents.repeat(300), &[]);
    assert!(r.valid, "{r:?}");
    assert_eq!((r.length, r.limit), (300, 300));
    assert_eq!(
        codes(Provider::Bluesky, &accents.repeat(301), &[]),
        [C::TooLong]
    );
    // 120 family emoji: 120 graphemes but 25 bytes each.
    let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦".repeat(121);
    assert_eq!(family.len(), 3_025);
    let r = report(Provider::Bluesky, &family, &[]);
    assert_eq!(r.length, 121);
    assert_eq!(
        r.errors.iter().map(|e| e.code).collect::<Vec<_>>(),
        [C::TooManyBytes]
    );
    assert_eq!(
        r.errors[0].message,
        "text too long for Bluesky: 3,025 > 3,000 bytes of UTF-8 (non-Latin letters and emoji \
         take several bytes each)"
    );
}

#[test]
fn other_text_limits() {
    let cases: &[(Provider, String, &[ContentIssueCode])] = &[
        (Provider::Threads, "a".repeat(500), &[]),
        (Provider::Threads, "a".repeat(501), &[C::TooLong]),
        (Provider::Threads, "👋".repeat(125), &[]),
        (Provider::Threads, "👋".repeat(126), &[C::TooLong]),
        (
            Provider::Threads,
            "a.com b.com c.com d.com e.com a.com".into(),
            &[],
        ),
        (
            Provider::Threads,
            "a.com b.com c.com d.com e.com f.com".into(),
            &[C::TooManyLinks],
        ),
        (Provider::Linkedin, "a".repeat(3_000), &[]),
        (Provider::Linkedin, "a".repeat(3_001), &[C::TooLong]),
        (Provider::Facebook, "a".repeat(63_206), &[]),
        (Provider::Facebook, "a".repeat(63_207), &[C::TooLong]),
        (Provider::Mastodon, "a".repeat(500), &[]),
        (Provider::Mastodon, "a".repeat(501), &[C::TooLong]),
        (
            Provider::Mastodon,
            format!("{} https://example.com/{}", "a".repeat(476), "p".repeat(99)),
            &[],
        ),
    ];
    for (p, text, expected) in cases {
        assert_eq!(
            codes(*p, text, &[]),
            *expected,
            "{p} {} chars",
            text.chars().count()
        );
    }
    let photo = [jpeg(MB)];
    let hashtags = |n: usize| {
        (0..n)
            .map(|i| format!("#tag{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mentions = |n: usize| {
        (0..n)
            .map(|i| format!("@user{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(codes(Provider::Instagram, &"a".repeat(2_200), &photo), []);
    assert_eq!(
        codes(Provider::Instagram, &"a".repeat(2_201), &photo),
        [C::TooLong]
    );
    assert_eq!(codes(Provider::Instagram, &hashtags(30), &photo), []);
    assert_eq!(
        codes(Provider::Instagram, &hashtags(31), &photo),
        [C::TooManyHashtags]
    );
    assert_eq!(codes(Provider::Instagram, &mentions(20), &photo), []);
    assert_eq!(
        codes(Provider::Instagram, &mentions(21), &photo),
        [C::TooManyMentions]
    );
    let clip = [mp4(MB, 30.0)];
    assert_eq!(
        codes(Provider::Pinterest, &"a".repeat(501), &photo),
        [C::TooLong]
    );
    assert_eq!(codes(Provider::Tiktok, &"a".repeat(2_200), &clip), []);
    assert_eq!(
        codes(Provider::Tiktok, &"a".repeat(2_201), &clip),
        [C::TooLong]
    );
    assert_eq!(codes(Provider::Youtube, &"a".repeat(5_000), &clip), []);
    assert_eq!(
        codes(Provider::Youtube, &"a".repeat(5_001), &clip),
        [C::TooLong]
    );
    assert_eq!(
        codes(Provider::Youtube, &"é".repeat(2_501), &clip),
        [C::TooManyBytes]
    );
    assert_eq!(
        codes(Provider::Youtube, "a <b> c", &clip),
        [C::InvalidCharacter]
    );
    assert_eq!(
        messages(Provider::Youtube, "a <b> c", &clip),
        ["text contains characters YouTube rejects: \"<\", \">\""]
    );
    let mastodon = ValidationOptions {
        mastodon_max_characters: 1_000,
        ..Default::default()
    };
    let r = validate_for(Provider::Mastodon, &"a".repeat(1_000), &[], &mastodon);
    assert!(r.valid);
    assert_eq!(r.limit, 1_000);
}

#[test]
fn media_rules_per_platform() {
    let img = || jpeg(MB);
    let png = |bytes| file("image/png", bytes);
    let webp = || file("image/webp", MB);
    let gif = |bytes| file("image/gif", bytes);
    let mov = |bytes, secs| MediaInfo {
        duration_secs: Some(secs),
        ..file("video/quicktime", bytes)
    };
    let webm = |bytes, secs| MediaInfo {
        duration_secs: Some(secs),
        ..file("video/webm", bytes)
    };
    let n = |count: usize, item: MediaInfo| vec![item; count];
    use Provider::*;
    let cases: Vec<(Provider, Vec<MediaInfo>, Vec<ContentIssueCode>)> = vec![
        // X: ≤4 images ≤5 MB, or 1 GIF ≤15 MB, or 1 video ≤512 MB and ≤140 s.
        (X, n(4, jpeg(5 * MB)), vec![]),
        (X, n(5, img()), vec![C::TooManyMedia]),
        (X, vec![jpeg(5 * MB + 1)], vec![C::MediaTooLarge]),
        (X, vec![webp(), png(MB)], vec![]),
        (X, vec![gif(15 * MB)], vec![]),
        (X, vec![gif(15 * MB + 1)], vec![C::MediaTooLarge]),
        (X, n(2, gif(MB)), vec![C::TooManyMedia]),
        (X, vec![img(), gif(MB)], vec![C::MixedMedia]),
        (X, vec![img(), mp4(MB, 10.0)], vec![C::MixedMedia]),
        (X, vec![mp4(512 * MB, 140.0)], vec![]),
        (X, vec![mp4(512 * MB + 1, 10.0)], vec![C::MediaTooLarge]),
        (X, vec![mp4(MB, 140.5)], vec![C::VideoTooLong]),
        (X, vec![mov(MB, 10.0)], vec![]),
        (X, vec![webm(MB, 10.0)], vec![C::MediaTypeNotAllowed]),
        (X, n(2, mp4(MB, 10.0)), vec![C::TooManyMedia]),
        // Facebook: ≤10 images/GIFs ≤10 MB, or 1 video ≤4 GB.
        (Facebook, n(10, jpeg(10 * MB)), vec![]),
        (Facebook, n(11, img()), vec![C::TooManyMedia]),
        (Facebook, vec![jpeg(10 * MB + 1)], vec![C::MediaTooLarge]),
        (Facebook, vec![img(), gif(MB)], vec![]),
        (Facebook, vec![mp4(4 * GB, 3_600.0)], vec![]),
        (
            Facebook,
            vec![mp4(4 * GB + 1, 60.0)],
            vec![C::MediaTooLarge],
        ),
        (Facebook, vec![img(), mp4(MB, 10.0)], vec![C::MixedMedia]),
        (Facebook, n(2, mp4(MB, 10.0)), vec![C::TooManyMedia]),
        // Instagram: required, 1–10 mixed, JPEG/PNG ≤8 MB at 4:5–1.91:1, video ≤100 MB 3 s–15 min.
        (Instagram, vec![], vec![C::MediaRequired]),
        (Instagram, vec![sized(jpeg(8 * MB), 1080, 1350)], vec![]),
        (Instagram, vec![png(MB)], vec![]),
        (Instagram, vec![jpeg(8 * MB + 1)], vec![C::MediaTooLarge]),
        (
            Instagram,
            vec![webp()],
            vec![C::MediaTypeNotAllowed, C::MediaRequired],
        ),
        (
            Instagram,
            vec![gif(MB)],
            vec![C::MediaTypeNotAllowed, C::MediaRequired],
        ),
        (
            Instagram,
            vec![sized(img(), 1080, 1920)],
            vec![C::AspectRatioNotAllowed],
        ),
        (
            Instagram,
            vec![sized(img(), 2000, 1000)],
            vec![C::AspectRatioNotAllowed],
        ),
        (
            Instagram,
            vec![sized(img(), 1080, 1080), mp4(MB, 30.0), img()],
            vec![],
        ),
        (
            Instagram,
            [n(5, img()), n(5, mp4(MB, 30.0))].concat(),
            vec![],
        ),
        (
            Instagram,
            [n(6, img()), n(5, mp4(MB, 30.0))].concat(),
            vec![C::TooManyMedia],
        ),
        (Instagram, n(11, img()), vec![C::TooManyMedia]),
        (Instagram, vec![mp4(100 * MB, 900.0)], vec![]),
        (
            Instagram,
            vec![mp4(100 * MB + 1, 30.0)],
            vec![C::MediaTooLarge],
        ),
        (Instagram, vec![mp4(MB, 2.5)], vec![C::VideoTooShort]),
        (Instagram, vec![mp4(MB, 901.0)], vec![C::VideoTooLong]),
        // LinkedIn: ≤9 images ≤10 MB ≤36 MP, or 1 GIF; no video (not published yet).
        (Linkedin, n(9, img()), vec![]),
        (Linkedin, n(10, img()), vec![C::TooManyMedia]),
        (Linkedin, vec![sized(img(), 6_000, 6_000)], vec![]),
        (
            Linkedin,
            vec![sized(img(), 8_000, 6_000)],
            vec![C::ImageTooManyPixels],
        ),
        (Linkedin, vec![jpeg(10 * MB + 1)], vec![C::MediaTooLarge]),
        (Linkedin, vec![webp()], vec![C::MediaTypeNotAllowed]),
        (Linkedin, vec![gif(MB)], vec![]),
        (Linkedin, vec![img(), gif(MB)], vec![C::MixedMedia]),
        (Linkedin, vec![mp4(MB, 30.0)], vec![C::MediaTypeNotAllowed]),
        (Linkedin, vec![mov(MB, 30.0)], vec![C::MediaTypeNotAllowed]),
        // Threads: ≤10 mixed, JPEG/PNG ≤8 MB, video ≤1 GB ≤5 min.
        (Threads, [n(5, img()), n(5, mp4(MB, 30.0))].concat(), vec![]),
        (Threads, n(11, img()), vec![C::TooManyMedia]),
        (Threads, vec![jpeg(8 * MB + 1)], vec![C::MediaTooLarge]),
        (Threads, vec![gif(MB)], vec![C::MediaTypeNotAllowed]),
        (Threads, vec![mp4(GB, 300.0)], vec![]),
        (Threads, vec![mp4(GB + 1, 30.0)], vec![C::MediaTooLarge]),
        (Threads, vec![mp4(MB, 301.0)], vec![C::VideoTooLong]),
        // Bluesky: ≤4 images ≤20 MB (downscaled to the blob limit when published); no video
        // (not published yet), no GIFs.
        (Bluesky, n(4, jpeg(1_000_001)), vec![]),
        (Bluesky, vec![jpeg(20 * MB + 1)], vec![C::MediaTooLarge]),
        (Bluesky, n(5, jpeg(500_000)), vec![C::TooManyMedia]),
        (Bluesky, vec![mp4(MB, 30.0)], vec![C::MediaTypeNotAllowed]),
        (Bluesky, vec![webm(MB, 30.0)], vec![C::MediaTypeNotAllowed]),
        (Bluesky, vec![gif(500_000)], vec![C::MediaTypeNotAllowed]),
        // Mastodon: ≤4 images/GIFs ≤16 MB, or 1 video ≤99 MB.
        (Mastodon, vec![img(), img(), gif(MB), webp()], vec![]),
        (Mastodon, n(5, img()), vec![C::TooManyMedia]),
        (Mastodon, vec![jpeg(16 * MB + 1)], vec![C::MediaTooLarge]),
        (Mastodon, vec![img(), mp4(MB, 30.0)], vec![C::MixedMedia]),
        (Mastodon, vec![webm(99 * MB, 3_600.0)], vec![]),
        (
            Mastodon,
            vec![mp4(99 * MB + 1, 30.0)],
            vec![C::MediaTooLarge],
        ),
        // Pinterest: exactly 1 image ≤20 MB or video ≤2 GB (4 s–15 min).
        (Pinterest, vec![jpeg(20 * MB)], vec![]),
        (Pinterest, vec![gif(MB)], vec![]),
        (Pinterest, vec![jpeg(20 * MB + 1)], vec![C::MediaTooLarge]),
        (Pinterest, n(2, img()), vec![C::TooManyMedia]),
        (
            Pinterest,
            vec![img(), mp4(MB, 30.0)],
            vec![C::TooManyMedia, C::MixedMedia],
        ),
        (Pinterest, vec![mp4(2 * GB, 900.0)], vec![]),
        (Pinterest, vec![mp4(MB, 3.0)], vec![C::VideoTooShort]),
        // TikTok: exactly 1 video ≤4 GB, 3 s–10 min.
        (Tiktok, vec![mp4(4 * GB, 600.0)], vec![]),
        (Tiktok, vec![webm(MB, 30.0)], vec![]),
        (
            Tiktok,
            vec![img()],
            vec![C::MediaTypeNotAllowed, C::MediaRequired],
        ),
        (Tiktok, vec![mp4(MB, 601.0)], vec![C::VideoTooLong]),
        (Tiktok, vec![mp4(4 * GB + 1, 60.0)], vec![C::MediaTooLarge]),
        (Tiktok, n(2, mp4(MB, 30.0)), vec![C::TooManyMedia]),
        // YouTube: exactly 1 video ≤256 GB, ≤12 h.
        (Youtube, vec![mp4(256 * GB, 43_200.0)], vec![]),
        (
            Youtube,
            vec![mp4(256 * GB + 1, 60.0)],
            vec![C::MediaTooLarge],
        ),
        (Youtube, vec![mp4(MB, 43_201.0)], vec![C::VideoTooLong]),
        (
            Youtube,
            vec![gif(MB)],
            vec![C::MediaTypeNotAllowed, C::MediaRequired],
        ),
    ];
    for (p, media, expected) in cases {
        let text = "caption";
        assert_eq!(codes(p, text, &media), expected, "{p} with {media:?}");
    }
}

#[test]
fn unknown_types_are_rejected_everywhere() {
    let pdf = file("application/pdf", 1_000);
    for p in Provider::ALL {
        assert!(codes(p, "hi", std::slice::from_ref(&pdf)).contains(&C::UnsupportedMediaType));
    }
    assert_eq!(
        messages(Provider::X, "hi", &[pdf]),
        [
            "file has an unsupported type for X: \"application/pdf\" (use JPEG, PNG, WebP, GIF, \
          MP4, MOV or WebM)"
        ]
    );
}

#[test]
fn unknown_or_garbage_measurements_skip_their_checks() {
    let no_duration = file("video/mp4", 1_000);
    assert!(report(Provider::X, "hi", &[no_duration]).valid);
    for secs in [f64::NAN, f64::INFINITY, -1.0] {
        assert!(
            report(Provider::Tiktok, "hi", &[mp4(1_000, secs)]).valid,
            "{secs}"
        );
    }
    let no_size = MediaInfo {
        width: Some(100),
        ..jpeg(1_000)
    };
    assert!(report(Provider::Instagram, "", &[no_size]).valid);
    assert!(report(Provider::Instagram, "", &[sized(jpeg(1_000), 0, 0)]).valid);
}

#[test]
fn messages_are_plain_and_actionable() {
    let cases: Vec<(Provider, Vec<MediaInfo>, &str)> = vec![
        (
            Provider::Bluesky,
            vec![mp4(310 * MB, 30.0)],
            "video not accepted: Bluesky does not take videos",
        ),
        (
            Provider::Bluesky,
            vec![jpeg(25 * MB)],
            "image too large for Bluesky: 25 MB > 20 MB",
        ),
        (
            Provider::X,
            vec![jpeg(MB), jpeg(6_500_000)],
            "image 2 too large for X: 6.5 MB > 5 MB",
        ),
        (
            Provider::X,
            vec![mp4(MB, 141.0)],
            "video too long for X: 2 min 21 s > 2 min 20 s",
        ),
        (
            Provider::X,
            vec![mp4(MB, 140.04)],
            "video too long for X: 140.04 s > 140 s",
        ),
        (
            Provider::Youtube,
            vec![mp4(MB, 50_000.0)],
            "video too long for YouTube: 13 h 53 min 20 s > 12 h",
        ),
        (
            Provider::Tiktok,
            vec![mp4(MB, 1.5)],
            "video too short for TikTok: 1.5 s < 3 s",
        ),
        (
            Provider::Facebook,
            vec![mp4(5_500_000_000, 60.0)],
            "video too large for Facebook: 5.5 GB > 4 GB",
        ),
        (
            Provider::X,
            vec![jpeg(MB); 5],
            "too many images for X: 5 > 4",
        ),
        (
            Provider::X,
            vec![jpeg(MB), mp4(MB, 1.0)],
            "X can't combine images and videos in one post: attach only one kind",
        ),
        (
            Provider::Mastodon,
            vec![jpeg(MB), mp4(MB, 1.0)],
            "Mastodon can't combine a video with other attachments: post it alone",
        ),
        (Provider::Tiktok, vec![], "TikTok requires a video"),
        (
            Provider::Instagram,
            vec![],
            "Instagram requires at least one image or video",
        ),
        (
            Provider::Pinterest,
            vec![],
            "Pinterest requires an image, GIF or video",
        ),
        (
            Provider::Instagram,
            vec![file("image/gif", 1)],
            "GIF not accepted: Instagram does not take GIFs",
        ),
        (
            Provider::Instagram,
            vec![file("image/webp", 1)],
            "image format not accepted by Instagram: image/webp (use image/jpeg or image/png)",
        ),
        (
            Provider::Instagram,
            vec![sized(jpeg(MB), 1080, 1920)],
            "image shape not accepted by Instagram: 1080×1920 is 0.56:1, accepted is 0.8:1 \
             (portrait 4:5) to 1.91:1 (landscape); crop it",
        ),
        (
            Provider::Linkedin,
            vec![sized(jpeg(MB), 8_000, 6_000)],
            "image too large for LinkedIn: 8000×6000 is 48,000,000 pixels > 36,152,320",
        ),
    ];
    for (p, media, expected) in cases {
        let found = messages(p, "caption", &media);
        assert!(found.iter().any(|m| m == expected), "{p}: {found:?}");
    }
}

#[test]
fn compatible_platforms_for_single_files() {
    use Provider::*;
    let cases: Vec<(MediaInfo, Vec<Provider>)> = vec![
        (
            sized(jpeg(500_000), 1080, 1080),
            vec![
                X, Facebook, Instagram, Linkedin, Threads, Bluesky, Mastodon, Pinterest,
            ],
        ),
        (
            file("image/webp", 2 * MB),
            vec![X, Facebook, Bluesky, Mastodon, Pinterest],
        ),
        (
            sized(jpeg(3 * MB), 1080, 1920),
            vec![X, Facebook, Linkedin, Threads, Bluesky, Mastodon, Pinterest],
        ),
        (
            file("image/gif", 5 * MB),
            vec![X, Facebook, Linkedin, Mastodon, Pinterest],
        ),
        // Videos: not to LinkedIn or Bluesky (not published there yet).
        (
            mp4(50 * MB, 60.0),
            vec![
                X, Facebook, Instagram, Threads, Mastodon, Pinterest, Tiktok, Youtube,
            ],
        ),
        (
            MediaInfo {
                duration_secs: Some(30.0),
                ..file("video/quicktime", 20 * MB)
            },
            vec![
                X, Facebook, Instagram, Threads, Mastodon, Pinterest, Tiktok, Youtube,
            ],
        ),
        (
            MediaInfo {
                duration_secs: Some(30.0),
                ..file("video/webm", 20 * MB)
            },
            vec![Mastodon, Tiktok, Youtube],
        ),
        (mp4(2 * GB, 20.0 * 60.0), vec![Facebook, Youtube]),
        (mp4(MB, 2.0), vec![X, Facebook, Threads, Mastodon, Youtube]),
        (file("application/pdf", 1_000), vec![]),
    ];
    for (media, expected) in cases {
        assert_eq!(compatible_platforms(&media), expected, "{media:?}");
    }
}

#[test]
fn formatting_helpers() {
    assert_eq!(format_bytes(999), "999 bytes");
    assert_eq!(format_bytes(1_500), "1.5 kB");
    assert_eq!(format_bytes(310 * MB), "310 MB");
    assert_eq!(format_bytes(5_242_880), "5.24 MB");
    assert_eq!(format_bytes(256 * GB), "256 GB");
    assert_eq!(format_duration(42.0), "42 s");
    assert_eq!(format_duration(140.0), "2 min 20 s");
    assert_eq!(format_duration(900.0), "15 min");
    assert_eq!(format_duration(43_200.0), "12 h");
    assert_eq!(group(63_206_u32), "63,206");
    assert_eq!(group(100_usize), "100");
    assert_eq!(group(1_000_000_u64), "1,000,000");
    assert_eq!(
        join_or(&["image", "GIF", "video"], "or"),
        "image, GIF or video"
    );
    assert_eq!(describe_char('<'), "\"<\"");
    assert_eq!(describe_char('\u{FEFF}'), "U+FEFF");
}

#[test]
fn video_codecs_read_from_the_container_narrow_the_platforms() {
    use Provider::*;
    let with = |codec: &str| MediaInfo {
        codec: Some(codec.to_owned()),
        width: Some(1080),
        height: Some(1920),
        ..mp4(20 * MB, 30.0)
    };
    let avc = compatible_platforms(&with("avc1"));
    assert_eq!(
        avc,
        Provider::ALL
            .into_iter()
            .filter(|p| !matches!(p, Linkedin | Bluesky))
            .collect::<Vec<_>>()
    );
    let hevc = compatible_platforms(&with("hvc1"));
    assert!(!hevc.contains(&X), "{hevc:?}");
    assert!(hevc.contains(&Instagram) && hevc.contains(&Threads) && hevc.contains(&Youtube));
    let prores = compatible_platforms(&with("apcn"));
    assert!(
        !prores.contains(&X) && !prores.contains(&Instagram) && !prores.contains(&Threads),
        "{prores:?}"
    );
    assert!(prores.contains(&Youtube) && prores.contains(&Mastodon));
    let r = report(X, "", &[with("apcn")]);
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert_eq!(r.errors[0].code, C::MediaTypeNotAllowed);
    assert_eq!(
        r.errors[0].message,
        "video codec not accepted by X: ProRes (apcn) (use H.264)"
    );
    // Unknown codec: not judged.
    assert_eq!(compatible_platforms(&mp4(20 * MB, 30.0)), avc);
}
