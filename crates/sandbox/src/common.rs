//! What every fake shares: the record of requests, the posts listing, and small helpers.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{SandboxState, lock};

/// A request a fake received, as it came.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// `x`, `bluesky` or `mastodon`.
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
    /// The body: text when it is UTF-8 and short, else its size.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A post a fake holds.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxPost {
    /// `x`, `bluesky` or `mastodon`.
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

/// Keeps a request in the log (at most the last 10,000).
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
    if log.len() >= 10_000 {
        log.remove(0);
    }
    log.push(Recorded {
        platform,
        method: req.method().to_string(),
        path: path.strip_prefix(&prefix).unwrap_or(&path).to_owned(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        body,
        at: Utc::now(),
    });
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
