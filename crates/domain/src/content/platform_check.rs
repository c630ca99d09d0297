//! Checking a post's text and attachments against one platform's limits.

use std::collections::BTreeMap;

use super::attachment::canonical_mime;
use super::count::{count_distinct_links, count_hashtags, count_mentions, count_with};
use super::limits::{KindLimits, MediaMixing, PlatformLimits, limits};
use super::{
    ContentIssue, ContentIssueCode, MediaInfo, MediaKind, PlatformReport, ValidationOptions,
};
use crate::Provider;

/// Checks `text` and `media` against `platform`'s rules and reports every problem found.
///
/// Empty text is only a problem on platforms that need text or media when there is no media
/// either; media-only posts are fine where the platform takes them. Checks that need a file's
/// dimensions or duration are skipped when those are unknown.
///
/// ```
/// use multivio_domain::Provider;
/// use multivio_domain::content::{ContentIssueCode, MediaInfo, ValidationOptions, validate_for};
///
/// let clip = MediaInfo {
///     mime_type: "video/mp4".into(),
///     size_bytes: 310_000_000,
///     width: Some(1080),
///     height: Some(1920),
///     duration_secs: Some(42.0),
///     codec: Some("avc1".into()),
/// };
/// let opts = ValidationOptions::default();
///
/// let report = validate_for(Provider::Mastodon, "New trailer 🎬", &[clip.clone()], &opts);
/// assert!(!report.valid);
/// assert_eq!((report.length, report.limit), (13, 500));
/// assert_eq!(report.errors[0].code, ContentIssueCode::MediaTooLarge);
/// assert_eq!(report.errors[0].message, "video too large for Mastodon: 310 MB > 99 MB");
///
/// assert!(validate_for(Provider::Youtube, "New trailer 🎬", &[clip], &opts).valid);
/// ```
pub fn validate_for(
    platform: Provider,
    text: &str,
    media: &[MediaInfo],
    opts: &ValidationOptions,
) -> PlatformReport {
    let rules = limits(platform, opts);
    let length = count_with(rules.text_counting, text);
    let mut errors = Vec::new();
    check_text(&rules, text, length, media.is_empty(), &mut errors);
    check_media(&rules, media, &mut errors);
    PlatformReport {
        valid: errors.is_empty(),
        length,
        limit: rules.max_text_length,
        errors,
        parts: Vec::new(),
    }
}

/// Every platform that would accept `media` as the only attachment of a post (its type, size,
/// duration, pixel count and, for Instagram, shape), in [`Provider::ALL`] order.
///
/// Uses the default [`ValidationOptions`]: for Mastodon, the upstream instance's media limits
/// (an instance's own apply when a post is validated for its accounts).
pub fn compatible_platforms(media: &MediaInfo) -> Vec<Provider> {
    let opts = ValidationOptions::default();
    Provider::ALL
        .into_iter()
        .filter(|&p| validate_for(p, "", std::slice::from_ref(media), &opts).valid)
        .collect()
}

fn issue(code: ContentIssueCode, message: String) -> ContentIssue {
    ContentIssue { code, message }
}

fn check_text(
    rules: &PlatformLimits,
    text: &str,
    length: usize,
    no_media: bool,
    errors: &mut Vec<ContentIssue>,
) {
    let name = rules.platform.display_name();
    if rules.requires_text_or_media && no_media && text.trim().is_empty() {
        errors.push(issue(
            ContentIssueCode::Empty,
            format!("post is empty: {name} needs text or media"),
        ));
    }
    let too_long = length > rules.max_text_length;
    if too_long {
        errors.push(issue(
            ContentIssueCode::TooLong,
            format!(
                "text too long for {name}: {} > {} characters (remove {})",
                group(length),
                group(rules.max_text_length),
                group(length - rules.max_text_length),
            ),
        ));
    }
    // Cutting to the length limit is the first fix; the byte cap only needs its own message when
    // the length is fine.
    if let Some(max_bytes) = rules.max_text_bytes
        && !too_long
        && text.len() > max_bytes
    {
        errors.push(issue(
            ContentIssueCode::TooManyBytes,
            format!(
                "text too long for {name}: {} > {} bytes of UTF-8 (non-Latin letters and emoji \
                 take several bytes each)",
                group(text.len()),
                group(max_bytes),
            ),
        ));
    }
    let mut forbidden: Vec<char> = text
        .chars()
        .filter(|c| rules.forbidden_chars.contains(c))
        .collect();
    forbidden.sort_unstable();
    forbidden.dedup();
    if !forbidden.is_empty() {
        let shown: Vec<String> = forbidden.iter().map(|&c| describe_char(c)).collect();
        errors.push(issue(
            ContentIssueCode::InvalidCharacter,
            format!(
                "text contains characters {name} rejects: {}",
                shown.join(", ")
            ),
        ));
    }
    let tallies = [
        (
            rules.max_hashtags,
            ContentIssueCode::TooManyHashtags,
            "hashtags",
            count_hashtags as fn(&str) -> usize,
        ),
        (
            rules.max_mentions,
            ContentIssueCode::TooManyMentions,
            "mentions",
            count_mentions,
        ),
        (
            rules.max_links,
            ContentIssueCode::TooManyLinks,
            "links",
            count_distinct_links,
        ),
    ];
    for (max, code, what, tally) in tallies {
        let Some(max) = max else { continue };
        let found = tally(text);
        if found > max {
            errors.push(issue(
                code,
                format!("too many {what} for {name}: {found} > {max}"),
            ));
        }
    }
}

fn check_media(rules: &PlatformLimits, media: &[MediaInfo], errors: &mut Vec<ContentIssue>) {
    let name = rules.platform.display_name();
    let limits = &rules.media;
    let several = media.len() > 1;
    let mut accepted: BTreeMap<MediaKind, usize> = BTreeMap::new();

    for (index, item) in media.iter().enumerate() {
        let label = |noun: &str| {
            if several {
                format!("{noun} {}", index + 1)
            } else {
                noun.to_owned()
            }
        };
        let Ok(kind) = item.kind() else {
            errors.push(issue(
                ContentIssueCode::UnsupportedMediaType,
                format!(
                    "{} has an unsupported type for {name}: \"{}\" (use JPEG, PNG, WebP, GIF, MP4, \
                     MOV or WebM)",
                    label("file"),
                    item.mime_type,
                ),
            ));
            continue;
        };
        let label = label(kind.noun());
        let Some(kind_rules) = limits.for_kind(kind) else {
            errors.push(issue(
                ContentIssueCode::MediaTypeNotAllowed,
                format!(
                    "{label} not accepted: {name} does not take {}",
                    kind.plural()
                ),
            ));
            continue;
        };
        let mime = canonical_mime(&item.mime_type).unwrap_or_default();
        if !kind_rules.mime_types.contains(&mime) {
            errors.push(issue(
                ContentIssueCode::MediaTypeNotAllowed,
                format!(
                    "{label} format not accepted by {name}: {mime} (use {})",
                    kind_rules.mime_types.join(" or "),
                ),
            ));
            continue;
        }
        *accepted.entry(kind).or_default() += 1;
        check_item(name, &label, item, kind_rules, errors);
    }

    let mut too_many = false;
    for (&kind, &found) in &accepted {
        let max = limits.for_kind(kind).map_or(0, |k| k.max_count);
        if found > max {
            too_many = true;
            errors.push(issue(
                ContentIssueCode::TooManyMedia,
                format!("too many {} for {name}: {found} > {max}", kind.plural()),
            ));
        }
    }
    if !too_many && media.len() > limits.max_items {
        errors.push(issue(
            ContentIssueCode::TooManyMedia,
            format!(
                "too many attachments for {name}: {} > {}",
                media.len(),
                limits.max_items
            ),
        ));
    }

    let kinds: Vec<MediaKind> = accepted.keys().copied().collect();
    let mixed = match limits.mixing {
        MediaMixing::Any => None,
        MediaMixing::SameKind if kinds.len() > 1 => Some(format!(
            "{name} can't combine {} in one post: attach only one kind",
            join_or(&kinds.iter().map(|k| k.plural()).collect::<Vec<_>>(), "and"),
        )),
        MediaMixing::VideoAlone if kinds.len() > 1 && kinds.contains(&MediaKind::Video) => Some(
            format!("{name} can't combine a video with other attachments: post it alone"),
        ),
        MediaMixing::SameKind | MediaMixing::VideoAlone => None,
    };
    if let Some(message) = mixed {
        errors.push(issue(ContentIssueCode::MixedMedia, message));
    }

    if limits.required && accepted.is_empty() {
        let nouns: Vec<&str> = [MediaKind::Image, MediaKind::Gif, MediaKind::Video]
            .into_iter()
            .filter(|&k| limits.for_kind(k).is_some())
            .map(MediaKind::noun)
            .collect();
        let article = if nouns.first().is_some_and(|n| n.starts_with('i')) {
            "an"
        } else {
            "a"
        };
        let what = if limits.max_items == 1 {
            format!("{article} {}", join_or(&nouns, "or"))
        } else {
            format!("at least one {}", join_or(&nouns, "or"))
        };
        errors.push(issue(
            ContentIssueCode::MediaRequired,
            format!("{name} requires {what}"),
        ));
    }
}

fn check_item(
    name: &str,
    label: &str,
    item: &MediaInfo,
    rules: &KindLimits,
    errors: &mut Vec<ContentIssue>,
) {
    if item.size_bytes > rules.max_bytes {
        let (size, max) = describe_pair(item.size_bytes, rules.max_bytes, format_bytes);
        errors.push(issue(
            ContentIssueCode::MediaTooLarge,
            format!("{label} too large for {name}: {size} > {max}"),
        ));
    }
    // A NaN or negative duration means the probe failed; treat it like an unknown one.
    if let Some(secs) = item.duration_secs.filter(|d| d.is_finite() && *d >= 0.0) {
        if let Some(max) = rules.max_duration_secs
            && secs > f64::from(max)
        {
            let (got, max) = describe_pair(secs, f64::from(max), format_duration);
            errors.push(issue(
                ContentIssueCode::VideoTooLong,
                format!("{label} too long for {name}: {got} > {max}"),
            ));
        }
        if let Some(min) = rules.min_duration_secs
            && secs < f64::from(min)
        {
            let (got, min) = describe_pair(secs, f64::from(min), format_duration);
            errors.push(issue(
                ContentIssueCode::VideoTooShort,
                format!("{label} too short for {name}: {got} < {min}"),
            ));
        }
    }
    if let (Some(codec), Some(accepted)) = (item.codec.as_deref(), rules.codecs)
        && !accepted.contains(&codec)
    {
        let named = |c: &str| match crate::media::codec_name(c) {
            Some(common) => format!("{common} ({c})"),
            None => c.to_owned(),
        };
        errors.push(issue(
            ContentIssueCode::MediaTypeNotAllowed,
            format!(
                "{label} codec not accepted by {name}: {} (use {})",
                named(codec),
                accepted
                    .iter()
                    .filter_map(|c| crate::media::codec_name(c))
                    .fold(Vec::<&str>::new(), |mut names, n| {
                        if !names.contains(&n) {
                            names.push(n);
                        }
                        names
                    })
                    .join(" or "),
            ),
        ));
    }
    let (Some(width), Some(height)) = (item.width, item.height) else {
        return;
    };
    if let Some(max_pixels) = rules.max_pixels {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > max_pixels {
            errors.push(issue(
                ContentIssueCode::ImageTooManyPixels,
                format!(
                    "{label} too large for {name}: {width}×{height} is {} pixels > {}",
                    group(pixels),
                    group(max_pixels),
                ),
            ));
        }
    }
    if let Some(range) = rules.aspect_ratio
        && width > 0
        && height > 0
        && !range.contains(width, height)
    {
        let ratio = |w: u32, h: u32| trim_decimal(f64::from(w) / f64::from(h), 2);
        errors.push(issue(
            ContentIssueCode::AspectRatioNotAllowed,
            format!(
                "{label} shape not accepted by {name}: {width}×{height} is {}:1, accepted is {}:1 \
                 (portrait {}:{}) to {}:1 (landscape); crop it",
                ratio(width, height),
                ratio(range.min.width, range.min.height),
                range.min.width,
                range.min.height,
                ratio(range.max.width, range.max.height),
            ),
        ));
    }
}

/// "a", "a or b", "a, b or c".
fn join_or(items: &[&str], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// Formats a value and its limit; when both would read the same (1.0004 MB vs 1 MB), falls back
/// to exact numbers so the message never says "1 MB > 1 MB".
fn describe_pair<T: Copy + Exact>(value: T, limit: T, format: fn(T) -> String) -> (String, String) {
    let (v, l) = (format(value), format(limit));
    if v == l {
        (value.exact(), limit.exact())
    } else {
        (v, l)
    }
}

trait Exact {
    fn exact(self) -> String;
}

impl Exact for u64 {
    fn exact(self) -> String {
        format!("{} bytes", group(self))
    }
}

impl Exact for f64 {
    fn exact(self) -> String {
        format!("{} s", trim_decimal(self, 3))
    }
}

const KB: u64 = 1_000;
const MB: u64 = 1_000 * KB;
const GB: u64 = 1_000 * MB;

/// Decimal units, like the limits: 310 MB, 1.5 GB, 999 bytes.
fn format_bytes(bytes: u64) -> String {
    let (unit_size, unit) = match bytes {
        b if b >= GB => (GB, "GB"),
        b if b >= MB => (MB, "MB"),
        b if b >= KB => (KB, "kB"),
        b => return format!("{} bytes", group(b)),
    };
    let value = bytes as f64 / unit_size as f64;
    format!("{} {unit}", trim_decimal(value, 2))
}

/// "45 s", "2 min 20 s", "12 h".
fn format_duration(secs: f64) -> String {
    if secs < 60.0 {
        return format!("{} s", trim_decimal(secs, 1));
    }
    let hours = (secs / 3600.0).floor();
    let minutes = ((secs - hours * 3600.0) / 60.0).floor();
    let seconds = secs - hours * 3600.0 - minutes * 60.0;
    let mut parts = Vec::new();
    if hours > 0.0 {
        parts.push(format!("{hours} h"));
    }
    if minutes > 0.0 {
        parts.push(format!("{minutes} min"));
    }
    let seconds = trim_decimal(seconds, 1);
    if seconds != "0" {
        parts.push(format!("{seconds} s"));
    }
    parts.join(" ")
}

/// `value` with at most `places` decimals and no trailing zeros.
fn trim_decimal(value: f64, places: usize) -> String {
    let s = format!("{value:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Thousands separators: 63206 → "63,206".
fn group(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Printable ASCII as itself in quotes, anything else (often invisible) as its code point.
fn describe_char(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("\"{c}\"")
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

#[cfg(test)]
mod tests;
