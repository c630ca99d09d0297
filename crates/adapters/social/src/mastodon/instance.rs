//! An instance's limits (`GET /api/v2/instance`, or `/api/v1/instance` on servers older than
//! 4.0), read defensively: every number is clamped to sane bounds and every list is bounded,
//! so whatever an instance states cannot make Multivio allocate or loop without limit.

use serde_json::{Map, Value};

use super::Mastodon;
use crate::http;

/// Bounds and defaults of the limits an instance states.
pub mod bounds {
    use std::ops::RangeInclusive;

    /// `max_characters`: Mastodon's default, and the accepted range.
    pub const MAX_CHARACTERS: (u64, RangeInclusive<u64>) = (500, 1..=100_000);
    /// `characters_reserved_per_url`.
    pub const CHARACTERS_PER_URL: (u64, RangeInclusive<u64>) = (23, 0..=500);
    /// `max_media_attachments` (at least one: an odd value, negative say, does not take media
    /// away from the instance's accounts).
    pub const MEDIA_ATTACHMENTS: (u64, RangeInclusive<u64>) = (4, 1..=16);
    /// `description_limit` (alt text).
    pub const DESCRIPTION_LIMIT: (u64, RangeInclusive<u64>) = (1500, 1..=10_000);
    /// `image_size_limit` and `video_size_limit`, in bytes (no default: unknown stays unknown).
    pub const SIZE_LIMIT: RangeInclusive<u64> = 1..=1024 * 1024 * 1024;
    /// How many `supported_mime_types` are kept.
    pub const MAX_MIME_TYPES: usize = 64;
    /// The longest media type kept.
    pub const MAX_MIME_LEN: usize = 100;
}

/// What an instance allows in a status, as Multivio keeps it in the connection's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceLimits {
    /// Characters in a status (`configuration.statuses.max_characters`).
    pub max_characters: u64,
    /// Characters every URL counts as.
    pub characters_reserved_per_url: u64,
    /// Attachments in a status.
    pub max_media_attachments: u64,
    /// Characters of an attachment's description (alt text).
    pub description_limit: u64,
    /// Largest image, in bytes, if stated.
    pub image_size_limit: Option<u64>,
    /// Largest video, in bytes, if stated.
    pub video_size_limit: Option<u64>,
    /// Media types accepted, if stated.
    pub supported_mime_types: Option<Vec<String>>,
}

impl Default for InstanceLimits {
    /// Mastodon's defaults.
    fn default() -> Self {
        Self {
            max_characters: bounds::MAX_CHARACTERS.0,
            characters_reserved_per_url: bounds::CHARACTERS_PER_URL.0,
            max_media_attachments: bounds::MEDIA_ATTACHMENTS.0,
            description_limit: bounds::DESCRIPTION_LIMIT.0,
            image_size_limit: None,
            video_size_limit: None,
            supported_mime_types: None,
        }
    }
}

/// A non-negative whole number from a JSON number or numeric string: floats are truncated,
/// negatives read as 0, anything too large as `u64::MAX` (then clamped by the caller).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            if n.as_i64().is_some() {
                Some(0)
            } else {
                n.as_f64().filter(|f| f.is_finite()).map(|f| {
                    if f <= 0.0 {
                        0
                    } else {
                        f.min(u64::MAX as f64) as u64
                    }
                })
            }
        }),
        Value::String(s) if s.len() <= 32 => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

fn clamped(value: Option<&Value>, (default, range): (u64, std::ops::RangeInclusive<u64>)) -> u64 {
    value
        .and_then(number)
        .map_or(default, |n| n.clamp(*range.start(), *range.end()))
}

fn size(value: Option<&Value>) -> Option<u64> {
    let range = bounds::SIZE_LIMIT;
    value
        .and_then(number)
        .map(|n| n.clamp(*range.start(), *range.end()))
}

/// A media type as `type/subtype` with token characters only.
fn plausible_mime(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    s.len() <= bounds::MAX_MIME_LEN
        && s.split_once('/')
            .is_some_and(|(kind, sub)| token(kind) && token(sub))
}

fn mime_types(value: Option<&Value>) -> Option<Vec<String>> {
    let list = value?.as_array()?;
    let mut out: Vec<String> = Vec::new();
    for item in list.iter().take(bounds::MAX_MIME_TYPES * 4) {
        if out.len() >= bounds::MAX_MIME_TYPES {
            break;
        }
        if let Some(s) = item.as_str().map(str::to_ascii_lowercase)
            && plausible_mime(&s)
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    Some(out)
}

impl InstanceLimits {
    /// The limits stated by a `/api/v2/instance` or `/api/v1/instance` answer (both keep them
    /// under `configuration`; older servers and forks state `max_toot_chars` at the top).
    pub fn from_instance(body: &Value) -> Self {
        let config = body.get("configuration");
        let statuses = config.and_then(|c| c.get("statuses"));
        let media = config.and_then(|c| c.get("media_attachments"));
        fn pick<'a>(section: Option<&'a Value>, key: &str) -> Option<&'a Value> {
            section.and_then(|s| s.get(key))
        }
        let max_characters =
            pick(statuses, "max_characters").or_else(|| body.get("max_toot_chars"));
        Self {
            max_characters: clamped(max_characters, bounds::MAX_CHARACTERS),
            characters_reserved_per_url: clamped(
                pick(statuses, "characters_reserved_per_url"),
                bounds::CHARACTERS_PER_URL,
            ),
            max_media_attachments: clamped(
                pick(statuses, "max_media_attachments"),
                bounds::MEDIA_ATTACHMENTS,
            ),
            description_limit: clamped(pick(media, "description_limit"), bounds::DESCRIPTION_LIMIT),
            image_size_limit: size(pick(media, "image_size_limit")),
            video_size_limit: size(pick(media, "video_size_limit")),
            supported_mime_types: mime_types(pick(media, "supported_mime_types")),
        }
    }

    /// Adds the limits to a connection's metadata.
    pub fn write_to(&self, metadata: &mut Map<String, Value>) {
        metadata.insert("max_characters".into(), self.max_characters.into());
        metadata.insert(
            "characters_reserved_per_url".into(),
            self.characters_reserved_per_url.into(),
        );
        metadata.insert(
            "max_media_attachments".into(),
            self.max_media_attachments.into(),
        );
        metadata.insert("description_limit".into(), self.description_limit.into());
        if let Some(n) = self.image_size_limit {
            metadata.insert("image_size_limit".into(), n.into());
        }
        if let Some(n) = self.video_size_limit {
            metadata.insert("video_size_limit".into(), n.into());
        }
        if let Some(types) = &self.supported_mime_types {
            metadata.insert("supported_mime_types".into(), types.clone().into());
        }
    }

    /// The alt text limit kept in a connection's metadata (clamped again: metadata is data).
    pub fn description_limit_of(metadata: &Value) -> usize {
        let limit = clamped(metadata.get("description_limit"), bounds::DESCRIPTION_LIMIT);
        usize::try_from(limit).unwrap_or(usize::MAX)
    }
}

impl Mastodon {
    /// The instance's limits: `/api/v2/instance`, or `/api/v1/instance` when that is 404.
    /// An instance that does not answer, answers too much or answers nonsense gets Mastodon's
    /// defaults: the limits help validation, they are no reason to refuse a connection.
    pub(crate) async fn instance_limits(&self, instance: &str) -> InstanceLimits {
        for path in ["/api/v2/instance", "/api/v1/instance"] {
            let response = match self.client.get(format!("{instance}{path}")).send().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%instance, error = %e, "Mastodon instance limits unavailable");
                    break;
                }
            };
            let status = response.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                continue;
            }
            if !status.is_success() {
                tracing::warn!(%instance, %status, "Mastodon instance limits unavailable");
                break;
            }
            match http::json_body::<Value>(response, "Mastodon instance").await {
                Ok(body) => return InstanceLimits::from_instance(&body),
                Err(e) => {
                    tracing::warn!(%instance, error = %e, "Mastodon instance limits unreadable");
                    break;
                }
            }
        }
        InstanceLimits::default()
    }
}

#[cfg(test)]
mod tests;
