//! What every fake shares: the record of requests, the posts listing, the delays tests set
//! (late answers, slow media), and small helpers.

// A refused control or filter answers with the refusal itself; a response is its error.
#![allow(clippy::result_large_err)]

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{SandboxState, lock};

/// How many requests the log keeps (the newest).
pub const MAX_RECORDED: usize = 20_000;

/// Headers the log keeps besides the content type, authorization and idempotency key: the
/// version and protocol headers and the upload headers the fakes check, for tests to read.
pub const RECORDED_HEADERS: [&str; 5] = [
    "linkedin-version",
    "x-restli-protocol-version",
    "content-range",
    "x-upload-content-length",
    "x-upload-content-type",
];

/// A request a fake received, as it came.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// `x`, `bluesky`, `mastodon`, `facebook`, `instagram`, `threads`, `linkedin`, `youtube`,
    /// `pinterest`, `tiktok` or `stripe`.
    pub platform: &'static str,
    /// HTTP method.
    pub method: String,
    /// Path (without the platform's prefix) and query.
    pub path: String,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Authorization`, if any (sandbox credentials only: nothing real reaches the sandbox).
    pub authorization: Option<String>,
    /// `Idempotency-Key`, if any.
    pub idempotency_key: Option<String>,
    /// The headers of [`RECORDED_HEADERS`] it had, by lower-case name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body: text when it is UTF-8 and short, else its size.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A post a fake holds.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxPost {
    /// `x`, `bluesky`, `mastodon`, `facebook`, `instagram` or `threads`.
    pub platform: &'static str,
    /// The account it was posted by (handle or username).
    pub account: String,
    /// The platform's id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// Its media, as `mime (bytes)` (with `: alt text` when given).
    pub media: Vec<String>,
    /// The id of the post it replies to.
    pub reply_to: Option<String>,
    /// Its public URL at the fake.
    pub url: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Keeps a request in the log (the newest [`MAX_RECORDED`]; the oldest is dropped in O(1)).
pub fn record(state: &SandboxState, platform: &'static str, req: &HttpRequest, body: &[u8]) {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let prefix = format!("/{}", platform_prefix(platform));
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let body = match std::str::from_utf8(body) {
        Ok(text) if body.len() <= 16 * 1024 => text.to_owned(),
        _ => format!("<{} bytes>", body.len()),
    };
    let mut log = lock(&state.log);
    if log.len() >= MAX_RECORDED {
        log.pop_front();
    }
    log.push_back(Recorded {
        platform,
        method: req.method().to_string(),
        // Only the fake's own prefix (Facebook's video host, `/facebook-video`, stays named).
        path: path
            .strip_prefix(&prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
            .unwrap_or(&path)
            .to_owned(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        headers: RECORDED_HEADERS
            .iter()
            .filter_map(|name| header(name).map(|v| ((*name).to_owned(), v)))
            .collect(),
        body,
        at: Utc::now(),
    });
}

/// The platform a query names (`x`, `bluesky` or its prefix `bsky`, `mastodon`, `facebook`,
/// `instagram`, `threads`, `linkedin`, `youtube`, `pinterest`, `tiktok`, `stripe`), as posts
/// and requests name it.
pub fn platform_name(given: &str) -> Option<&'static str> {
    match given {
        "x" => Some("x"),
        "bluesky" | "bsky" => Some("bluesky"),
        "mastodon" => Some("mastodon"),
        "facebook" => Some("facebook"),
        "instagram" => Some("instagram"),
        "threads" => Some("threads"),
        "linkedin" => Some("linkedin"),
        "youtube" => Some("youtube"),
        "pinterest" => Some("pinterest"),
        "tiktok" => Some("tiktok"),
        "stripe" => Some("stripe"),
        _ => None,
    }
}

fn platform_prefix(platform: &str) -> &str {
    match platform {
        "bluesky" => "bsky",
        other => other,
    }
}

/// A random token for codes, ids and secrets the fakes hand out.
pub fn token(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// A numeric id (X and Mastodon ids are decimal strings), increasing.
pub fn snowflake(counter: &mut u64) -> String {
    *counter += 1;
    (1_870_000_000_000_000_000u64 + *counter).to_string()
}

/// The media type of a request, without parameters, lower-cased.
pub fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// A delay a test asked for: the next `count` requests of a kind wait `seconds` (late answers:
/// after the post is created; slow media: before the upload is handled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// How long each waits (fractions allowed, at most an hour).
    pub seconds: f64,
    /// How many requests are left to delay.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl Delay {
    /// Uses up one delayed request: how long it waits, or `None` when none is left.
    pub fn take(&mut self) -> Option<std::time::Duration> {
        if self.count == 0 {
            return None;
        }
        self.count -= 1;
        Some(std::time::Duration::from_secs_f64(self.seconds))
    }

    /// A control request's body, `{"seconds": N, "count": K}` (`count` defaults to 1; `0`
    /// clears), checked; the refusal is a 400 saying what is expected.
    pub fn parse(body: &[u8]) -> Result<Delay, HttpResponse> {
        let delay: Delay = serde_json::from_slice(body).map_err(|e| {
            HttpResponse::BadRequest().json(serde_json::json!({
                "error": format!(
                    "expected {{\"seconds\": number, \"count\": integer}}: {e}"
                )
            }))
        })?;
        if !delay.seconds.is_finite() || !(0.0..=3600.0).contains(&delay.seconds) {
            return Err(HttpResponse::BadRequest().json(serde_json::json!({
                "error": "seconds must be between 0 and 3600"
            })));
        }
        Ok(delay)
    }

    /// The answer of a control endpoint: the delay in force (`count` left).
    pub fn answer(self) -> HttpResponse {
        HttpResponse::Ok().json(self)
    }
}

/// Sleeps for `wait`, if any (never while a lock is held: callers take the delay first).
pub async fn pause(wait: Option<std::time::Duration>) {
    if let Some(wait) = wait {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests;
