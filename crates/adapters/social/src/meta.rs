//! What Facebook Pages, Instagram and Threads share: Meta's Graph APIs.
//!
//! - **Versions.** Facebook's and Instagram's Graph APIs name a version in every path
//!   (`/v25.0/{id}/feed`); [`GRAPH_VERSION`] is the one Multivio is written against, the one
//!   place it is pinned (a deployment may name another, `MULTIVIO_GRAPH_API_VERSION`). Threads
//!   has its own, [`THREADS_VERSION`].
//! - **Calls** ([`Api`]): the token goes as the documented `access_token` parameter (in the form
//!   body of a `POST`, in the query of a `GET`), with `appsecret_proof` on Facebook's Graph API
//!   (an HMAC of the token under the app secret, so a token copied elsewhere is useless without
//!   the secret); every answer is read with a size cap; ids put in paths are checked first
//!   ([`plain_id`]).
//! - **Errors** ([`GraphError`]): `{"error": {"message", "type", "code", "error_subcode",
//!   "error_user_title", "error_user_msg", "is_transient"}}`, read and turned into what the core
//!   acts on by [`publish_failure`] (each platform first maps its own codes).
//! - **Containers** (Instagram and Threads): a post is a container created from media at public
//!   URLs, polled until it is ready ([`ContainerPolling`]), then published. Both platforms cap
//!   how many posts an account publishes over 24 hours; when the cap is reached the target is
//!   deferred to the time a slot frees ([`deferral`]), read from the account's own recent posts.

use chrono::{DateTime, Duration, Utc};
use multivio_domain::Secret;
use multivio_ports::platform::{Attachment, OAuthError, PublishError, PublishRequest};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::http::{self, MAX_ERROR_BYTES, MAX_RETRY_AFTER};

/// The Graph API version Facebook and Instagram calls name, unless the deployment names another.
pub const GRAPH_VERSION: &str = "v25.0";

/// The Threads API's version.
pub const THREADS_VERSION: &str = "v1.0";

/// Whether `version` is a Graph API version (`v25.0`): `v`, digits, `.`, digits.
pub fn valid_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let digits = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// Whether a Graph id is safe to put in a path: 1–64 ASCII digits, with `_` between digits (a
/// Facebook post id is `{page id}_{post id}`).
pub fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && !id.starts_with('_')
        && !id.ends_with('_')
}

/// `appsecret_proof`: HMAC-SHA256 of the access token under the app secret, hex.
pub fn appsecret_proof(app_secret: &Secret, access_token: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, app_secret.expose().as_bytes());
    hex::encode(ring::hmac::sign(&key, access_token.as_bytes()).as_ref())
}

/// A Graph API error answer, as far as Multivio reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    /// The HTTP status.
    pub status: u16,
    /// `code`.
    pub code: Option<i64>,
    /// `error_subcode`.
    pub subcode: Option<i64>,
    /// `message` (for developers).
    pub message: String,
    /// `error_user_msg` (for the person), when given.
    pub user_message: Option<String>,
    /// `is_transient`.
    pub transient: bool,
    /// `type` (`OAuthException`, …).
    pub kind: Option<String>,
    /// How long the platform asks us to wait (`Retry-After`, or the business use case usage's
    /// `estimated_time_to_regain_access`).
    pub retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorFields,
}

/// The older shape of `api.instagram.com`'s OAuth errors: `{"error_type", "code",
/// "error_message"}` at the top level (`code` is the HTTP status there).
#[derive(Deserialize)]
struct FlatError {
    error_type: String,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorFields {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    error_subcode: Option<serde_json::Value>,
    #[serde(default)]
    error_user_msg: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    is_transient: Option<bool>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// A number Meta sends as a number or a string.
fn number(v: Option<serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl GraphError {
    /// Reads an error answer (capped, never failing: what cannot be read is told as the
    /// message).
    pub async fn read(response: reqwest::Response) -> GraphError {
        let status = response.status().as_u16();
        let retry_after = wait_asked(response.headers());
        let text = match http::read_capped(response, MAX_ERROR_BYTES).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("({})", unreadable(e)),
        };
        Self::parse(status, &text, retry_after)
    }

    /// An error answer from its status and body.
    pub fn parse(status: u16, text: &str, retry_after: Option<Duration>) -> GraphError {
        let clean = |s: String| {
            let s = s.trim();
            (!s.is_empty()).then(|| http::excerpt(s, 300))
        };
        match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) => GraphError {
                status,
                code: number(body.error.code),
                subcode: number(body.error.error_subcode),
                message: body
                    .error
                    .message
                    .or(body.error.error_message)
                    .and_then(clean)
                    .unwrap_or_else(|| "no reason given".to_owned()),
                user_message: body.error.error_user_msg.and_then(clean),
                transient: body.error.is_transient.unwrap_or(false),
                kind: body.error.kind,
                retry_after,
            },
            Err(_) => match serde_json::from_str::<FlatError>(text) {
                Ok(flat) => GraphError {
                    status,
                    message: flat
                        .error_message
                        .and_then(clean)
                        .unwrap_or_else(|| "no reason given".to_owned()),
                    kind: Some(flat.error_type),
                    retry_after,
                    ..GraphError::default()
                },
                Err(_) => GraphError {
                    status,
                    message: clean(text.to_owned()).unwrap_or_else(|| format!("HTTP {status}")),
                    retry_after,
                    ..GraphError::default()
                },
            },
        }
    }

    /// What to tell a person: the message meant for them, else the developer message.
    pub fn reason(&self) -> &str {
        self.user_message.as_deref().unwrap_or(&self.message)
    }

    /// The code and subcode, for logs and stored codes.
    pub fn codes(&self) -> String {
        match (self.code, self.subcode) {
            (Some(c), Some(s)) => format!("{c}/{s}"),
            (Some(c), None) => c.to_string(),
            _ => format!("http_{}", self.status),
        }
    }
}

/// How long Meta asks us to wait: `Retry-After`, else the longest
/// `estimated_time_to_regain_access` (minutes) of `x-business-use-case-usage`. Capped at
/// [`MAX_RETRY_AFTER`].
pub fn wait_asked(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(wait) = http::retry_after(headers, Utc::now()) {
        return Some(wait);
    }
    let usage = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())?;
    let parsed: serde_json::Value = serde_json::from_str(usage).ok()?;
    let minutes = parsed
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_i64())
        .max()?;
    Some(Duration::minutes(
        minutes.clamp(0, MAX_RETRY_AFTER.num_minutes()),
    ))
}

/// Which call failed: what a server error means depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A read: nothing changes, so a failure is transient.
    Read,
    /// A step before the post that is safe to redo (an unpublished photo, a container).
    Prepare,
    /// The call that may create the post: a server error or a lost answer leaves the outcome
    /// unknown.
    Send,
}

/// Why a Graph call did not answer what was asked.
#[derive(Debug)]
pub enum Failure {
    /// The request may not have reached Meta, or its answer was lost.
    Transport(reqwest::Error),
    /// Meta refused, with its error.
    Refused(GraphError),
    /// A success whose body cannot be read.
    Unreadable(String),
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        Failure::Refused(e)
    }
}

/// A caller of one Graph API with one token.
#[derive(Clone)]
pub struct Api<'a> {
    /// The HTTP client.
    pub http: &'a reqwest::Client,
    /// The API's base with its version (`https://graph.facebook.com/v25.0`).
    pub base: String,
    /// The access token.
    pub token: &'a str,
    /// `appsecret_proof`, on Facebook's Graph API.
    pub proof: Option<String>,
}

impl std::fmt::Debug for Api<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl<'a> Api<'a> {
    /// A caller of `{api_url}/{version}` with `token`, proving it with `app_secret` when given.
    pub fn new(
        http: &'a reqwest::Client,
        api_url: &str,
        version: &str,
        token: &'a Secret,
        app_secret: Option<&Secret>,
    ) -> Self {
        Api {
            http,
            base: format!("{api_url}/{version}"),
            token: token.expose(),
            proof: app_secret.map(|s| appsecret_proof(s, token.expose())),
        }
    }

    fn auth<'p>(&'p self, params: &[(&'p str, &'p str)]) -> Vec<(&'p str, &'p str)> {
        let mut all = params.to_vec();
        all.push(("access_token", self.token));
        if let Some(proof) = &self.proof {
            all.push(("appsecret_proof", proof));
        }
        all
    }

    /// `GET {base}{path}?{query}` (with the token), read as JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, Failure> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(&self.auth(query))
            .send()
            .await
            .map_err(|e| Failure::Transport(e.without_url()))?;
        read(response).await
    }

    /// `POST {base}{path}` with a form body (with the token), read as JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, Failure> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&self.auth(form))
            .send()
            .await
            .map_err(|e| Failure::Transport(e.without_url()))?;
        read(response).await
    }
}

/// A Graph answer: JSON of `T` on success, else the error.
pub async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, Failure> {
    if !response.status().is_success() {
        return Err(Failure::Refused(GraphError::read(response).await));
    }
    let bytes = http::read_capped(response, http::MAX_JSON_BYTES)
        .await
        .map_err(|e| Failure::Unreadable(unreadable(e)))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure::Unreadable(format!("the answer: unexpected answer: {e}")))
}

/// Why a body could not be read. [`http::read_capped`] drops the request's URL from the
/// error: Meta's token parameters (`access_token`, `client_secret`) travel in it, and reasons
/// end up in logs and in `publish_results`.
fn unreadable(e: http::BodyError) -> String {
    e.to_string()
}

/// A transport error without the request's URL (see [`unreadable`]).
pub fn scrubbed(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

/// What a failed call means for the post, once the platform's own codes (`special`) are
/// mapped: a refused or expired token needs a new sign-in; rate limits wait; a missing
/// permission, a policy block or a duplicate is refused with a plain reason; a server error is
/// transient — unless it answered the send, whose outcome it leaves unknown.
pub fn publish_failure(
    name: &str,
    step: Step,
    failure: Failure,
    special: impl Fn(&GraphError) -> Option<PublishError>,
) -> PublishError {
    let e = match failure {
        Failure::Transport(e) if step == Step::Send => return http::publish_transport_error(&e),
        Failure::Transport(e) => return http::transient(&e),
        Failure::Unreadable(reason) if step == Step::Send => {
            return PublishError::Unknown {
                reason: format!("{name} accepted the post but its answer cannot be read: {reason}"),
            };
        }
        Failure::Unreadable(reason) => {
            return PublishError::Transient {
                reason: format!("{name}: {reason}"),
            };
        }
        Failure::Refused(e) => e,
    };
    if let Some(mapped) = special(&e) {
        return mapped;
    }
    let key = name.to_ascii_lowercase();
    match (e.code, e.subcode) {
        // Invalid, expired or revoked token; a changed password; the app removed.
        (Some(102 | 190 | 463 | 467), _) => PublishError::Unauthorized {
            reason: format!("{name} refused the token: {}", e.message),
        },
        (Some(4 | 17 | 32 | 613), _) | (Some(80_001..=80_014), _) => PublishError::RateLimited {
            retry_after: e.retry_after,
        },
        (Some(10 | 200..=299), _) => PublishError::Rejected {
            code: format!("{key}_permission"),
            reason: format!(
                "{name} refused: the account did not give Multivio the permission this needs ({}); \
                 connect it again and allow publishing",
                e.reason()
            ),
        },
        (Some(368), _) => PublishError::Rejected {
            code: format!("{key}_blocked"),
            reason: format!(
                "{name} has temporarily blocked this account from posting: {}",
                e.reason()
            ),
        },
        (Some(506), _) => PublishError::Rejected {
            code: "duplicate".to_owned(),
            reason: format!("{name} refused a duplicate of a recent post from this account"),
        },
        _ if e.status == 429 => PublishError::RateLimited {
            retry_after: e.retry_after,
        },
        _ if e.status >= 500 || e.transient || matches!(e.code, Some(1 | 2)) => {
            if step == Step::Send {
                PublishError::Unknown {
                    reason: format!(
                        "{name} answered {} ({}) to the post; it may have been created all the same",
                        e.status, e.message
                    ),
                }
            } else {
                PublishError::Transient {
                    reason: format!("{name} answered {}: {}", e.status, e.message),
                }
            }
        }
        _ => PublishError::Rejected {
            code: format!("{key}_rejected"),
            reason: format!("{name} refused the post: {}", e.reason()),
        },
    }
}

/// What a failed token or profile call means for an authorisation.
pub fn oauth_failure(name: &str, failure: Failure) -> OAuthError {
    let e = match failure {
        Failure::Transport(e) => return http::oauth_transport_error(&e),
        Failure::Unreadable(reason) => {
            return OAuthError::Transient {
                reason: format!("{name}: {reason}"),
            };
        }
        Failure::Refused(e) => e,
    };
    match e.code {
        _ if e.status == 429 => OAuthError::RateLimited {
            retry_after: e.retry_after,
        },
        Some(4 | 17 | 32 | 613) => OAuthError::RateLimited {
            retry_after: e.retry_after,
        },
        // An invalid, used or expired code or token (`OAuthException` 100 with subcode 36007
        // and the like, 190), or a token refused.
        Some(100 | 102 | 190 | 463 | 467) => OAuthError::InvalidGrant {
            reason: format!("{name}: {}", e.message),
        },
        // `api.instagram.com`'s flat errors: an invalid or used code, a wrong redirect URI.
        None if e.status == 400 && e.kind.as_deref() == Some("OAuthException") => {
            OAuthError::InvalidGrant {
                reason: format!("{name}: {}", e.message),
            }
        }
        _ if e.status >= 500 || e.transient || matches!(e.code, Some(1 | 2)) => {
            OAuthError::Transient {
                reason: format!("{name} answered {}: {}", e.status, e.message),
            }
        }
        _ => OAuthError::Rejected {
            code: e.codes(),
            reason: format!("{name} refused the authorisation: {}", e.reason()),
        },
    }
}

/// The public URL of an attachment (its row's `cdn_url`), which Instagram and Threads fetch
/// the file from.
pub fn public_url(name: &str, attachment: &Attachment) -> Result<String, PublishError> {
    let refused = || PublishError::Rejected {
        code: "media_not_public".to_owned(),
        reason: format!(
            "{name} fetches media from a public address, and this file has none; upload it again"
        ),
    };
    let url = attachment.file.cdn_url.as_deref().ok_or_else(refused)?;
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && parsed.host().is_some() => {
            Ok(url.to_owned())
        }
        _ => Err(refused()),
    }
}

/// How often and how long a container is polled until it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerPolling {
    /// The pause between two status reads.
    pub interval: std::time::Duration,
    /// How many reads before giving up (the publish is then transient: the worker tries again
    /// later, with new containers).
    pub max_polls: u32,
}

impl Default for ContainerPolling {
    /// Every 5 seconds for up to 5 minutes (Meta advises reading a container's status about
    /// once a minute for no more than 5 minutes; images are usually ready at once).
    fn default() -> Self {
        Self {
            interval: std::time::Duration::from_secs(5),
            max_polls: 60,
        }
    }
}

/// Reads a container's status (`GET /{id}?fields={fields}`, the state in `state_field`, an
/// explanation in `detail_field`) until it is `FINISHED`, pausing as `polling` says between two
/// reads. `ERROR` refuses the post with the platform's explanation; `EXPIRED`, and still being
/// processed after every read, are transient (the worker tries again later, with new
/// containers).
pub async fn wait_ready(
    api: &Api<'_>,
    name: &str,
    id: &str,
    (fields, state_field, detail_field): (&str, &str, &str),
    polling: &ContainerPolling,
) -> Result<(), PublishError> {
    let polls = polling.max_polls.max(1);
    for poll in 0..polls {
        if poll > 0 {
            tokio::time::sleep(polling.interval).await;
        }
        let answer: serde_json::Value = api
            .get(&format!("/{id}"), &[("fields", fields)])
            .await
            .map_err(|f| publish_failure(name, Step::Prepare, f, |_| None))?;
        let text = |field: &str| answer.get(field).and_then(serde_json::Value::as_str);
        match text(state_field).unwrap_or("") {
            "FINISHED" => return Ok(()),
            "ERROR" => {
                let detail = text(detail_field).unwrap_or("no reason given");
                return Err(PublishError::Rejected {
                    code: format!("{}_media_failed", name.to_ascii_lowercase()),
                    reason: format!(
                        "{name} could not process the media: {}",
                        http::excerpt(detail, 300)
                    ),
                });
            }
            "EXPIRED" | "PUBLISHED" => {
                return Err(PublishError::Transient {
                    reason: format!("{name}'s container {id} can no longer be published"),
                });
            }
            _ => {}
        }
    }
    Err(PublishError::Transient {
        reason: format!("{name} is still processing the media"),
    })
}

/// An account's use of its publishing cap (`content_publishing_limit`,
/// `threads_publishing_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Posts published over the last `duration`.
    pub usage: u32,
    /// Posts allowed over `duration`.
    pub total: u32,
    /// The window, in seconds.
    pub duration: Duration,
}

impl Quota {
    /// Whether no post is left in the window.
    pub fn used_up(&self) -> bool {
        self.total > 0 && self.usage >= self.total
    }
}

/// One entry of a publishing limit's `data`: the usage and config under the names given.
pub fn quota_from(entry: &serde_json::Value, usage: &str, config: &str) -> Option<Quota> {
    let number = |v: &serde_json::Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    let used = number(entry.get(usage)?)?;
    let config = entry.get(config)?;
    let total = number(config.get("quota_total")?)?;
    let duration = config
        .get("quota_duration")
        .and_then(number)
        .unwrap_or(86_400);
    Some(Quota {
        usage: u32::try_from(used).unwrap_or(u32::MAX),
        total: u32::try_from(total).unwrap_or(u32::MAX),
        duration: Duration::seconds(
            i64::try_from(duration.clamp(60, 7 * 86_400)).unwrap_or(86_400),
        ),
    })
}

/// When a used-up cap frees a slot, from the times of the account's recent posts (`posted`,
/// any order): the cap counts posts over a moving window, and the posts it counts are among
/// those listed (the list may hold more: posts made in the app count for nothing), so by the
/// time the `total`-th newest listed post leaves the window, one it counts has left too. With
/// fewer listed (posts deleted since still count), a whole window from `now`. Never before
/// `now` plus a minute, and rounded up to a whole minute.
pub fn reset_at(quota: &Quota, posted: &[DateTime<Utc>], now: DateTime<Utc>) -> DateTime<Utc> {
    let since = now - quota.duration;
    // A post dated later than now (clocks aside) is no post of the window.
    let until = now + Duration::minutes(5);
    let mut recent: Vec<DateTime<Utc>> = posted
        .iter()
        .copied()
        .filter(|t| *t > since && *t <= until)
        .collect();
    recent.sort_unstable_by(|a, b| b.cmp(a));
    let frees = usize::try_from(quota.total)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| recent.get(i))
        .map_or(now + quota.duration, |t| *t + quota.duration);
    ceil_minute(frees.max(now + Duration::minutes(1)))
}

/// The next whole minute at or after `at` (a deferral is told to the minute, and never early).
fn ceil_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp();
    let whole = secs - secs.rem_euclid(60);
    let floor = DateTime::from_timestamp(whole, 0).unwrap_or(at);
    if floor == at {
        at
    } else {
        floor + Duration::minutes(1)
    }
}

/// The plain reason of a deferral: "Instagram allows 25 posts a day for this account; it will go
/// out at 09:14 UTC" (or "tomorrow at…", or the date).
pub fn deferral_reason(name: &str, quota: &Quota, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let when = when(at, now);
    if quota.total == 0 {
        return format!(
            "{name}'s daily publishing limit for this account is reached; it will go out {when}"
        );
    }
    let per = if quota.duration == Duration::days(1) {
        "a day".to_owned()
    } else {
        format!("every {} hours", quota.duration.num_hours().max(1))
    };
    format!(
        "{name} allows {} posts {per} for this account; it will go out {when}",
        quota.total
    )
}

/// `at` in words, from `now`: "at 09:14 UTC", "tomorrow at 09:14 UTC", or with the date.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let day = at.date_naive();
    if day == now.date_naive() {
        format!("at {} UTC", at.format("%H:%M"))
    } else if Some(day) == now.date_naive().succ_opt() {
        format!("tomorrow at {} UTC", at.format("%H:%M"))
    } else {
        format!("on {} at {} UTC", at.format("%Y-%m-%d"), at.format("%H:%M"))
    }
}

/// A deferral to `at`.
pub fn deferral(name: &str, quota: &Quota, at: DateTime<Utc>, now: DateTime<Utc>) -> PublishError {
    PublishError::Deferred {
        until: at,
        code: format!("{}_daily_limit", name.to_ascii_lowercase()),
        reason: deferral_reason(name, quota, at, now),
    }
}

/// A time as Meta writes it in `timestamp` fields (`2026-03-04T12:00:00+0000`), or RFC 3339.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A page of a Graph list (`{"data": [...], "paging": {"cursors": {"after"}, "next"}}`).
#[derive(Debug, Deserialize)]
pub struct ListPage<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Where the next page starts.
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// A list's paging.
#[derive(Debug, Deserialize)]
pub struct Paging {
    /// The cursors.
    #[serde(default)]
    pub cursors: Option<Cursors>,
    /// The next page's URL; absent on the last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// A list's cursors.
#[derive(Debug, Deserialize)]
pub struct Cursors {
    /// After the last item of this page.
    #[serde(default)]
    pub after: Option<String>,
}

impl<T> ListPage<T> {
    /// The cursor of the next page, when there is one.
    pub fn after(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.clone()
    }
}

/// A post of an account's own list (Instagram media, Threads posts): what a reconciliation and
/// a deferral read.
#[derive(Debug, Deserialize)]
pub struct Listed {
    /// Its id.
    pub id: String,
    /// Instagram's caption.
    #[serde(default)]
    pub caption: Option<String>,
    /// Threads' text.
    #[serde(default)]
    pub text: Option<String>,
    /// When it was published.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Its public page.
    #[serde(default)]
    pub permalink: Option<String>,
}

impl Listed {
    /// When it was published, if readable.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        self.timestamp.as_deref().and_then(parse_time)
    }

    /// Its text (caption or text).
    pub fn words(&self) -> &str {
        self.caption
            .as_deref()
            .or(self.text.as_deref())
            .unwrap_or("")
    }
}

/// Reads an account's posts newest first (`GET {path}?fields=…&limit=100`, following cursors)
/// back to `since`, at most `pages` pages.
pub async fn recent_posts(
    api: &Api<'_>,
    path: &str,
    fields: &str,
    since: DateTime<Utc>,
    pages: usize,
) -> Result<Vec<Listed>, Failure> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..pages {
        let mut query = vec![("fields", fields), ("limit", "100")];
        if let Some(cursor) = &after {
            query.push(("after", cursor));
        }
        let page: ListPage<Listed> = api.get(path, &query).await?;
        let next = page.after();
        let reached_end = page.data.iter().any(|p| p.at().is_some_and(|t| t < since));
        found.extend(page.data);
        match next {
            Some(cursor) if !reached_end => after = Some(cursor),
            _ => break,
        }
    }
    Ok(found)
}

/// The one post of `listed` a send begun at `sent_at` may have created: dated from two minutes
/// before to five after it, with the request's text; `None` when none or several are.
pub fn matching<'a>(
    listed: &'a [Listed],
    request: &PublishRequest,
    sent_at: DateTime<Utc>,
) -> Option<&'a Listed> {
    let found: Vec<&Listed> = listed
        .iter()
        .filter(|p| {
            p.at().is_some_and(|at| {
                sent_at - Duration::minutes(2) <= at && at <= sent_at + Duration::minutes(5)
            }) && plain_id(&p.id)
                && crate::matching::same_post(
                    &request.text,
                    &crate::matching::Shown::plain(p.words()),
                    0,
                )
        })
        .collect();
    match found.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// The first link with a scheme in `text` (`https://…` up to whitespace, without a trailing
/// punctuation mark or closing bracket), for Facebook's `link`.
pub fn first_link(text: &str) -> Option<&str> {
    let start = text.match_indices("http").map(|(i, _)| i).find(|&i| {
        let rest = &text[i..];
        (rest.starts_with("https://") || rest.starts_with("http://"))
            && text[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
    })?;
    let rest = &text[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let link = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '"', '\'']);
    let scheme_len = if link.starts_with("https://") { 8 } else { 7 };
    (link.len() > scheme_len).then_some(link)
}

#[cfg(test)]
mod tests;
