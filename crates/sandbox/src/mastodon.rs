//! The fake of a Mastodon instance, mounted at `/mastodon` (the instance's URL is
//! `<sandbox>/mastodon`; its `domain` is the `Host` it is reached at).
//!
//! It is as strict as a real instance (Mastodon 4.5 with Doorkeeper), with the same status
//! codes and error bodies:
//!
//! - `POST /api/v1/apps` (JSON or form): `client_name` and `redirect_uris` (a string or an
//!   array of absolute URIs) are required; `scopes` defaults to `read`. Answers the
//!   CredentialApplication with `client_id` and `client_secret`.
//! - `GET /oauth/authorize` approves at once: it checks the client, that `redirect_uri` is
//!   registered for it (else 400 JSON), then `response_type=code`, that `scope` (default
//!   `read`) is within the app's scopes, and a PKCE `code_challenge` with
//!   `code_challenge_method=S256` (else a redirect with `error=…`); then it redirects to
//!   `redirect_uri?code=…&state=…`. The approving user is `sandbox_user`, or the one named by
//!   `POST /_sandbox/next_user` for the next authorisation only.
//! - `POST /oauth/token` (form or JSON): `grant_type=authorization_code`, `code`,
//!   `redirect_uri`, `code_verifier`; the client authenticates with `client_id` and
//!   `client_secret` in the body or with HTTP Basic (401 `invalid_client` otherwise). A code
//!   is single use, expires after 10 minutes and is bound to its client and redirect URI; the
//!   verifier must match the S256 challenge (400 `invalid_grant` otherwise). The token never
//!   expires, has no refresh token, and is reused when the same user authorises the same app
//!   again (`reuse_access_token`).
//!   `grant_type=client_credentials` (the same client authentication) grants the app a token
//!   of its own for `scope` (default `read`; 400 `invalid_scope` beyond the app's scopes),
//!   which acts for no account (422 on account endpoints).
//! - `POST /oauth/revoke`: `client_id`, `client_secret` (or Basic), `token`; 200 `{}` (also
//!   for an unknown token), 403 `unauthorized_client` for another app's token.
//! - `GET /api/v1/accounts/verify_credentials` (Bearer; `read`, `read:accounts` or `profile`).
//! - `GET /api/v2/instance` and `GET /api/v1/instance`: 500 characters, 23 per URL, 4
//!   attachments, 1,500 characters of description, 16 MiB images, 99 MiB videos.
//! - `POST /api/v2/media` (Bearer, `write` or `write:media`; multipart): `file` is required and
//!   must carry a supported media type; `description` at most 1,500 characters. Images answer
//!   200 with `url`; video, audio and GIFs answer 202 with `url: null`, and `GET
//!   /api/v1/media/:id` then answers 206 while processing (twice by default) and 200 after.
//!   An attachment not yours, or already attached, is 404.
//! - `POST /api/v1/statuses` (Bearer, `write` or `write:statuses`; JSON or form): `status`
//!   or `media_ids` required; at most 500 characters (a URL counts as 23, a mention as its
//!   `@username`); at most 4 attachments, each yours, unattached and processed, and no video
//!   beside other files (422 with Mastodon's messages); `in_reply_to_id` must exist (404).
//!   `Idempotency-Key` is honoured per account for one hour: a repeat answers the status
//!   created the first time (200) and creates nothing. Answers 200 with the Status.
//! - A Status's `content` is the HTML Mastodon renders: paragraphs (`<p>`) at blank lines,
//!   `<br />` at line breaks, the text escaped; every address with a scheme a link — `<a
//!   href="…" target="_blank" rel="nofollow noopener noreferrer">` with the address split into
//!   `invisible` and `ellipsis` spans, punctuation closing it kept outside; a hashtag `<a
//!   href="…/tags/tag" class="mention hashtag" rel="tag">#<span>tag</span></a>`; a mention of
//!   an account of this instance (`@bob`, or `@bob@` its domain) `<span class="h-card"
//!   translate="no"><a href="…/@bob" class="u-url mention">@<span>bob</span></a></span>`
//!   (other mentions stay text); `mentions` and `tags` list them.
//! - `GET /api/v1/statuses/:id`.
//! - `GET /api/v1/accounts/:id/statuses`: public, but a token given must be valid (401) and
//!   carry `read` or `read:statuses` (403); an unknown account is 404. Newest first; `limit`
//!   (default 20, at most 40), `max_id` (older than), `since_id` and `min_id` (newer than; with
//!   `min_id` the page is the one just after it), `exclude_replies`, `only_media`, `pinned`
//!   (the fake pins nothing: `[]`), `exclude_reblogs` and `tagged` (accepted). Direct statuses
//!   are never listed, private ones only to their author. A `Link` header names the `next`
//!   (`max_id`) and `prev` (`min_id`) pages.
//!
//! Control endpoints, for tests:
//!
//! - `POST /_sandbox/next_user {"username": "bob"}`: the next authorisation is approved by
//!   `bob` (an account created on first use), then `sandbox_user` again.
//! - `POST /_sandbox/vacuum_apps`: deletes at once what Mastodon's applications vacuum deletes
//!   once an app is a day old: every app that holds no token in force and no authorisation
//!   code (and its revoked tokens); answers `{"deleted": n}`.
//! - `POST /_sandbox/faults {…}`: sets faults (the fields given; the others stay), answering
//!   the faults in force; `DELETE /_sandbox/faults` clears them all:
//!   - `"store_then_hang_ms": n`: the next status create stores the status (and its
//!     idempotency key), then waits `n` ms before answering, as an instance whose answer is
//!     lost after it posted;
//!   - `"fail_next_status": code`: the next status create answers `code` (429 with
//!     `X-RateLimit-*` headers resetting in 60 s, 503 with Mastodon's temporary-problem body,
//!     any other code with a generic body) and stores nothing;
//!   - `"fail_next_media": code`: the same for the next media upload;
//!   - `"fail_next_token": code`: the same for the next `POST /oauth/token`, whatever its
//!     client and grant;
//!   - `"media_processing_polls": n`: how many times `GET /api/v1/media/:id` answers 206
//!     for uploads made from now on (default 2).
//! - `POST /_sandbox/instance {"body": {…}, "padding_bytes": n, "v2_missing": bool}`: what
//!   the instance endpoints answer: `body` replaces the answer of `/api/v2/instance` (of
//!   `/api/v1/instance` when `v2_missing`, which makes `/api/v2/instance` a 404);
//!   `padding_bytes` streams that many bytes of a `padding` string before the body's fields
//!   (chunked, never held in memory), as a hostile instance would. `{}` restores the defaults.
//! - `POST /_sandbox/answer_late {"seconds": N, "count": K}` (`count` defaults to 1, `0`
//!   clears; `seconds` 0–3600, fractions allowed): the next K `POST /api/v1/statuses` that
//!   create a status create it at once — with its idempotency key, in `/_sandbox/posts` and
//!   the account's statuses immediately — and only then wait N seconds before answering. A
//!   refused request, or a repeat answered from its idempotency key, uses none of them.
//!   Answers 200 with the delay in force, `{"seconds": N, "count": K}`; `GET` on the same path
//!   answers what is left.
//! - `POST /_sandbox/slow_media {"seconds": N, "count": K}`: the next K `POST /api/v2/media`
//!   wait N seconds as they arrive, before they are handled. Same answers, and `GET`, as
//!   `answer_late`.
//!
//! All the paths above are under the instance's URL (`/mastodon/_sandbox/…`).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::common::{self, Delay, SandboxPost};
use crate::{SandboxState, lock};

const PLATFORM: &str = "mastodon";
/// Who approves an authorisation unless a test names someone else.
pub const DEFAULT_USER: &str = "sandbox_user";
const MAX_CHARACTERS: usize = 500;
const CHARACTERS_PER_URL: usize = 23;
const MAX_MEDIA: usize = 4;
const DESCRIPTION_LIMIT: usize = 1500;
const IMAGE_SIZE_LIMIT: usize = 16 * 1024 * 1024;
const VIDEO_SIZE_LIMIT: usize = 103_809_024;
const DEFAULT_PROCESSING_POLLS: u32 = 2;
const CODE_TTL_MINUTES: i64 = 10;
const IDEMPOTENCY_TTL_HOURS: i64 = 1;
const SUPPORTED_MIME_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "video/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/mp4",
];
const INVALID_TOKEN: &str = "The access token is invalid";
const OUT_OF_SCOPE: &str = "This action is outside the authorized scopes";
const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does \
     not match the redirection URI used in the authorization request, or was issued to another \
     client.";
const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client \
     authentication included, or unsupported authentication method.";
const INVALID_REQUEST: &str = "The request is missing a required parameter, includes an \
     unsupported parameter value, or is otherwise malformed.";

/// An app registered with `POST /api/v1/apps`.
#[derive(Debug, Clone)]
struct App {
    id: String,
    name: String,
    website: Option<String>,
    scopes: Vec<String>,
    redirect_uris: Vec<String>,
    client_id: String,
    client_secret: String,
}

/// An authorisation code.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    username: String,
    scopes: Vec<String>,
    challenge: String,
    expires_at: DateTime<Utc>,
}

/// An access token.
#[derive(Debug, Clone)]
struct Token {
    client_id: String,
    /// Who authorised it; empty for an app's own token (`client_credentials`).
    username: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    username: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Media {
    id: String,
    owner: String,
    mime: String,
    kind: &'static str,
    size: usize,
    description: Option<String>,
    polls_left: u32,
    status_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Status {
    id: String,
    account: String,
    text: String,
    media: Vec<String>,
    in_reply_to_id: Option<String>,
    visibility: String,
    application: String,
    url: String,
    uri: String,
    created_at: DateTime<Utc>,
}

/// Faults a test sets (see the module docs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_then_hang_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fail_next_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fail_next_media: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fail_next_token: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_processing_polls: Option<u32>,
}

/// What the instance endpoints answer instead of the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceOverride {
    #[serde(default)]
    body: Option<Map<String, Value>>,
    #[serde(default)]
    padding_bytes: u64,
    #[serde(default)]
    v2_missing: bool,
}

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    counter: u64,
    apps: HashMap<String, App>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Token>,
    accounts: HashMap<String, Account>,
    next_user: Option<String>,
    media: HashMap<String, Media>,
    /// Every status, oldest first.
    statuses: Vec<Status>,
    /// Where each status is in `statuses`, by id.
    status_index: HashMap<String, usize>,
    /// Each account's statuses, oldest first (positions in `statuses`), by username.
    account_statuses: HashMap<String, Vec<usize>>,
    /// How many replies each status has, by id.
    replies: HashMap<String, usize>,
    /// Usernames by account id.
    account_ids: HashMap<String, String>,
    /// (username, key) → (status id, when the key was first used).
    idempotency: HashMap<(String, String), (String, DateTime<Utc>)>,
    /// The keys of `idempotency` in the order they were stored, to expire them from the front.
    idempotency_order: VecDeque<(DateTime<Utc>, (String, String))>,
    faults: Faults,
    instance: InstanceOverride,
    /// Statuses created at once and answered late.
    answer_late: Delay,
    /// Media uploads that wait before they are handled.
    slow_media: Delay,
}

impl State {
    fn account(&mut self, username: &str) -> Account {
        if let Some(a) = self.accounts.get(username) {
            return a.clone();
        }
        let account = Account {
            id: common::snowflake(&mut self.counter),
            username: username.to_owned(),
            created_at: Utc::now(),
        };
        self.accounts.insert(username.to_owned(), account.clone());
        self.account_ids
            .insert(account.id.clone(), username.to_owned());
        account
    }

    fn status(&self, id: &str) -> Option<&Status> {
        self.status_index.get(id).map(|&at| &self.statuses[at])
    }

    /// Forgets the idempotency keys older than their hour (oldest first: O(1) per key).
    fn expire_idempotency(&mut self, now: DateTime<Utc>) {
        let ttl = chrono::Duration::hours(IDEMPOTENCY_TTL_HOURS);
        while let Some((at, _)) = self.idempotency_order.front() {
            if now - *at < ttl {
                break;
            }
            if let Some((stored_at, key)) = self.idempotency_order.pop_front()
                && self
                    .idempotency
                    .get(&key)
                    .is_some_and(|(_, t)| *t == stored_at)
            {
                self.idempotency.remove(&key);
            }
        }
    }

    fn store(&mut self, status: Status) {
        let at = self.statuses.len();
        self.status_index.insert(status.id.clone(), at);
        self.account_statuses
            .entry(status.account.clone())
            .or_default()
            .push(at);
        if let Some(parent) = &status.in_reply_to_id {
            *self.replies.entry(parent.clone()).or_default() += 1;
        }
        self.statuses.push(status);
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/apps", web::post().to(create_app))
        .route("/oauth/authorize", web::get().to(authorize))
        .route("/oauth/token", web::post().to(token))
        .route("/oauth/revoke", web::post().to(revoke))
        .route(
            "/api/v1/accounts/verify_credentials",
            web::get().to(verify_credentials),
        )
        .route("/api/v2/instance", web::get().to(instance_v2))
        .route("/api/v1/instance", web::get().to(instance_v1))
        .route("/api/v2/media", web::post().to(upload_media))
        .route("/api/v1/media/{id}", web::get().to(get_media))
        .route("/api/v1/statuses", web::post().to(create_status))
        .route("/api/v1/statuses/{id}", web::get().to(get_status))
        .route(
            "/api/v1/accounts/{id}/statuses",
            web::get().to(account_statuses),
        )
        .route("/_sandbox/next_user", web::post().to(set_next_user))
        .route("/_sandbox/vacuum_apps", web::post().to(vacuum_apps))
        .route("/_sandbox/faults", web::post().to(set_faults))
        .route("/_sandbox/faults", web::delete().to(clear_faults))
        .route("/_sandbox/instance", web::post().to(set_instance))
        .route("/_sandbox/answer_late", web::post().to(set_answer_late))
        .route("/_sandbox/answer_late", web::get().to(get_answer_late))
        .route("/_sandbox/slow_media", web::post().to(set_slow_media))
        .route("/_sandbox/slow_media", web::get().to(get_slow_media));
}

pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .statuses
        .iter()
        .map(|s| SandboxPost {
            platform: PLATFORM,
            account: format!("@{}", s.account),
            id: s.id.clone(),
            text: s.text.clone(),
            media: s
                .media
                .iter()
                .filter_map(|id| state.media.get(id))
                .map(|m| match &m.description {
                    Some(d) => format!("{} ({} bytes): {d}", m.mime, m.size),
                    None => format!("{} ({} bytes)", m.mime, m.size),
                })
                .collect(),
            reply_to: s.in_reply_to_id.clone(),
            url: s.url.clone(),
            created_at: s.created_at,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The instance's URL as the request reached it.
fn instance_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/{PLATFORM}", info.scheme(), info.host())
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message }))
}

/// An error answer, boxed to keep `Result`s small.
type Refused = Box<HttpResponse>;

fn refuse(status: StatusCode, message: &str) -> Refused {
    Box::new(error(status, message))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": error, "error_description": description }))
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Request parameters as Rails reads them: a JSON object, or a form where `key[]` collects an
/// array.
fn params(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Refused> {
    let content_type = common::content_type(req);
    if content_type == "application/json" {
        if body.is_empty() {
            return Ok(Map::new());
        }
        return match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(refuse(
                StatusCode::BAD_REQUEST,
                "Error occurred while parsing request parameters",
            )),
        };
    }
    if content_type == "application/x-www-form-urlencoded" || body.is_empty() {
        let mut map = Map::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            if let Some(name) = key.strip_suffix("[]") {
                let entry = map
                    .entry(name.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(Value::String(value.into_owned()));
                }
            } else {
                map.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
        return Ok(map);
    }
    Err(refuse(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported content type",
    ))
}

/// A parameter as text (JSON numbers too, as Rails reads them).
fn text(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A parameter as a list of texts (a single value is a list of one).
fn list(params: &Map<String, Value>, key: &str) -> Vec<String> {
    match params.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn scopes_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn valid_scope(scope: &str) -> bool {
    matches!(
        scope,
        "read" | "write" | "follow" | "push" | "profile" | "admin:read" | "admin:write"
    ) || scope.split_once(':').is_some_and(|(top, sub)| {
        matches!(top, "read" | "write" | "admin:read" | "admin:write") && !sub.is_empty()
    })
}

/// Whether `granted` covers `needed` (`write` covers `write:statuses`).
fn covers(granted: &[String], needed: &[&str]) -> bool {
    needed.iter().any(|n| {
        granted
            .iter()
            .any(|g| g == n || n.split_once(':').is_some_and(|(top, _)| g == top))
    })
}

/// The token's user and scopes, or Mastodon's 401.
fn authenticate(state: &State, req: &HttpRequest) -> Result<(String, Vec<String>), Refused> {
    let token = common::bearer(req)
        .and_then(|t| state.tokens.get(&t).filter(|t| !t.revoked).cloned())
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, INVALID_TOKEN))?;
    if token.username.is_empty() {
        // An app's own token acts for no account.
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This method requires an authenticated user",
        ));
    }
    Ok((token.username, token.scopes))
}

/// The client a token request authenticates as: HTTP Basic, or `client_id` and
/// `client_secret` in the body.
fn client<'a>(state: &'a State, req: &HttpRequest, params: &Map<String, Value>) -> Option<&'a App> {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (id, secret) =
        basic.or_else(|| Some((text(params, "client_id")?, text(params, "client_secret")?)))?;
    state
        .apps
        .get(&id)
        .filter(|app| constant_time_eq(app.client_secret.as_bytes(), secret.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// Characters as Mastodon counts them: a URL counts as 23, a mention of a remote account as
/// its `@username` only.
pub(crate) fn character_count(text: &str) -> usize {
    fn weight(word: &str) -> usize {
        let lower = word.to_ascii_lowercase();
        let url = ["http://", "https://"]
            .iter()
            .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
        if url {
            return CHARACTERS_PER_URL;
        }
        if let Some(rest) = word.strip_prefix('@')
            && let Some((user, domain)) = rest.split_once('@')
            && !user.is_empty()
            && domain.contains('.')
        {
            return 1 + user.chars().count();
        }
        word.chars().count()
    }
    let mut count = 0;
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            count += weight(&word) + 1;
            word.clear();
        } else {
            word.push(c);
        }
    }
    count + weight(&word)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A status's text as the HTML Mastodon renders, without links (no instance to link to).
#[cfg(test)]
fn html(text: &str) -> String {
    render(text, "", "", |_| None).html
}

/// A status's text as Mastodon renders it.
#[derive(Debug, Default)]
struct Rendered {
    /// `content`.
    html: String,
    /// The accounts mentioned (their usernames) and the hashtags, in order, once each.
    mentions: Vec<String>,
    tags: Vec<String>,
}

/// A status's text as the HTML Mastodon renders: paragraphs, line breaks, escaped; links,
/// hashtags, and mentions of the accounts `local` knows (it answers their username as the
/// account has it) on this instance (`instance`, its domain `domain`).
fn render(
    text: &str,
    instance: &str,
    domain: &str,
    local: impl Fn(&str) -> Option<String>,
) -> Rendered {
    let mut out = Rendered::default();
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        out.html.push_str("<p>");
        for (n, line) in paragraph.split('\n').enumerate() {
            if n > 0 {
                out.html.push_str("<br />");
            }
            let mut rest = line;
            while !rest.is_empty() {
                let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let (word, after) = rest.split_at(word_end);
                render_word(word, instance, domain, &local, &mut out);
                let space_end = after
                    .find(|c: char| !c.is_whitespace())
                    .unwrap_or(after.len());
                out.html.push_str(&after[..space_end]);
                rest = &after[space_end..];
            }
        }
        out.html.push_str("</p>");
    }
    out
}

/// One word of a status, as [`render`] renders it.
fn render_word(
    word: &str,
    instance: &str,
    domain: &str,
    local: &impl Fn(&str) -> Option<String>,
    out: &mut Rendered,
) {
    let lower = word.to_ascii_lowercase();
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
    if let Some(scheme) = scheme {
        let url = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        let mut prefix = scheme.len();
        if lower[prefix..].starts_with("www.") {
            prefix += "www.".len();
        }
        let shown: String = url[prefix..].chars().take(30).collect();
        let hidden = &url[prefix + shown.len()..];
        out.html.push_str(&format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\">\
             <span class=\"invisible\">{}</span><span class=\"{}\">{}</span>\
             <span class=\"invisible\">{}</span></a>",
            escape(url),
            escape(&url[..prefix]),
            if hidden.is_empty() { "" } else { "ellipsis" },
            escape(&shown),
            escape(hidden),
        ));
        out.html.push_str(&escape(&word[url.len()..]));
        return;
    }
    let name_len = |s: &str| {
        s.char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(s.len(), |(at, _)| at)
    };
    if let Some(after) = word.strip_prefix('#') {
        let tag = &after[..name_len(after)];
        if !instance.is_empty() && tag.chars().any(char::is_alphabetic) {
            out.html.push_str(&format!(
                "<a href=\"{instance}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                escape(&tag.to_lowercase()),
                escape(tag)
            ));
            out.html.push_str(&escape(&after[tag.len()..]));
            if !out.tags.contains(&tag.to_lowercase()) {
                out.tags.push(tag.to_lowercase());
            }
            return;
        }
    }
    if let Some(after) = word.strip_prefix('@') {
        let name = &after[..name_len(after)];
        let mut end = name.len();
        // `@bob@this.instance` names a local account too; another domain, a remote one.
        let mut remote = false;
        if let Some(host) = after[end..].strip_prefix('@') {
            let host_len = host
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '_')))
                .map_or(host.len(), |(at, _)| at);
            let host = host[..host_len].trim_end_matches(['.', ':', '-']);
            if host.eq_ignore_ascii_case(domain) {
                end += 1 + host.len();
            } else if !host.is_empty() {
                remote = true;
            }
        }
        if !instance.is_empty()
            && !name.is_empty()
            && !remote
            && let Some(username) = local(name)
        {
            out.html.push_str(&format!(
                "<span class=\"h-card\" translate=\"no\"><a href=\"{instance}/@{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
                escape(&username),
                escape(&username)
            ));
            out.html.push_str(&escape(&after[end..]));
            if !out.mentions.contains(&username) {
                out.mentions.push(username);
            }
            return;
        }
    }
    out.html.push_str(&escape(word));
}

fn account_json(instance: &str, account: &Account) -> Value {
    json!({
        "id": account.id,
        "username": account.username,
        "acct": account.username,
        "display_name": format!("Sandbox {}", account.username),
        "locked": false,
        "bot": false,
        "created_at": iso(account.created_at),
        "note": "<p>An account of the Multivio sandbox.</p>",
        "url": format!("{instance}/@{}", account.username),
        "uri": format!("{instance}/users/{}", account.username),
        "avatar": format!("{instance}/avatars/original/missing.png"),
        "header": format!("{instance}/headers/original/missing.png"),
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "source": {"privacy": "public", "sensitive": false, "language": "", "note": "", "fields": []},
        "emojis": [],
        "fields": [],
    })
}

fn media_json(instance: &str, media: &Media) -> Value {
    let done = media.polls_left == 0;
    let url = format!(
        "{instance}/system/media_attachments/files/{}/original",
        media.id
    );
    json!({
        "id": media.id,
        "type": media.kind,
        "url": if done { Value::String(url.clone()) } else { Value::Null },
        "preview_url": format!("{instance}/system/media_attachments/files/{}/small", media.id),
        "remote_url": null,
        "meta": {},
        "description": media.description,
        "blurhash": null,
    })
}

fn status_json(state: &State, instance: &str, status: &Status) -> Value {
    let account = state
        .accounts
        .get(&status.account)
        .map(|a| account_json(instance, a))
        .unwrap_or(Value::Null);
    let in_reply_to_account_id = status.in_reply_to_id.as_ref().and_then(|parent| {
        let parent = state.status(parent)?;
        state.accounts.get(&parent.account).map(|a| a.id.clone())
    });
    let media: Vec<Value> = status
        .media
        .iter()
        .filter_map(|id| state.media.get(id))
        .map(|m| media_json(instance, m))
        .collect();
    let domain = url::Url::parse(instance)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| u.port().map_or(h.to_owned(), |p| format!("{h}:{p}")))
        })
        .unwrap_or_default();
    let content = render(&status.text, instance, &domain, |name| {
        state
            .accounts
            .values()
            .find(|a| a.username.eq_ignore_ascii_case(name))
            .map(|a| a.username.clone())
    });
    let mentions: Vec<Value> = content
        .mentions
        .iter()
        .filter_map(|name| state.accounts.get(name))
        .map(|a| {
            json!({
                "id": a.id, "username": a.username, "acct": a.username,
                "url": format!("{instance}/@{}", a.username),
            })
        })
        .collect();
    let tags: Vec<Value> = content
        .tags
        .iter()
        .map(|tag| json!({ "name": tag, "url": format!("{instance}/tags/{tag}") }))
        .collect();
    json!({
        "id": status.id,
        "uri": status.uri,
        "url": status.url,
        "created_at": iso(status.created_at),
        "content": content.html,
        "visibility": status.visibility,
        "sensitive": false,
        "spoiler_text": "",
        "language": null,
        "in_reply_to_id": status.in_reply_to_id,
        "in_reply_to_account_id": in_reply_to_account_id,
        "media_attachments": media,
        "account": account,
        "application": {"name": status.application, "website": null},
        "mentions": mentions,
        "tags": tags,
        "emojis": [],
        "reblogs_count": 0,
        "favourites_count": 0,
        "replies_count": state.replies.get(&status.id).copied().unwrap_or(0),
        "reblog": null,
        "poll": null,
        "card": null,
        "text": null,
        "edited_at": null,
    })
}

/// The rate-limit headers Mastodon adds to API answers.
fn with_rate_limit(
    mut builder: actix_web::HttpResponseBuilder,
    remaining: u32,
) -> actix_web::HttpResponseBuilder {
    let reset = Utc::now() + chrono::Duration::seconds(60);
    builder
        .insert_header(("X-RateLimit-Limit", "300"))
        .insert_header(("X-RateLimit-Remaining", remaining.to_string()))
        .insert_header((
            "X-RateLimit-Reset",
            reset.to_rfc3339_opts(SecondsFormat::Micros, true),
        ));
    builder
}

/// The answer of an injected failure.
fn fault(code: u16) -> HttpResponse {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        429 => with_rate_limit(HttpResponse::build(status), 0)
            .json(json!({"error": "Too many requests"})),
        503 => error(
            status,
            "There was a temporary problem serving your request, please try again",
        ),
        401 => error(status, INVALID_TOKEN),
        _ => error(status, "Sandbox fault"),
    }
}

// ---------------------------------------------------------------------------------------------
// Apps and OAuth

async fn create_app(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let name = text(&p, "client_name").unwrap_or_default();
    if name.trim().is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Application name can't be blank",
        );
    }
    let redirect_uris: Vec<String> = list(&p, "redirect_uris")
        .iter()
        .flat_map(|s| {
            s.split('\n')
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    if redirect_uris.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Redirect URI can't be blank",
        );
    }
    for uri in &redirect_uris {
        if uri == "urn:ietf:wg:oauth:2.0:oob" {
            continue;
        }
        match url::Url::parse(uri) {
            Ok(u) if u.fragment().is_some() => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Validation failed: Redirect URI cannot contain a fragment.",
                );
            }
            Ok(u) if !u.cannot_be_a_base() => {}
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Validation failed: Redirect URI must be an absolute URI.",
                );
            }
        }
    }
    let scopes = scopes_of(&text(&p, "scopes").unwrap_or_else(|| "read".to_owned()));
    if scopes.is_empty() || !scopes.iter().all(|s| valid_scope(s)) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Scopes must be a valid scope",
        );
    }
    let website = text(&p, "website").filter(|w| !w.is_empty());
    let mut s = lock(&state.mastodon);
    let app = App {
        id: common::snowflake(&mut s.counter),
        name,
        website,
        scopes,
        redirect_uris,
        client_id: common::token(""),
        client_secret: common::token(""),
    };
    s.apps.insert(app.client_id.clone(), app.clone());
    HttpResponse::Ok().json(json!({
        "id": app.id,
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "client_secret_expires_at": 0,
    }))
}

async fn authorize(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let q: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut s = lock(&state.mastodon);
    let Some(app) = get("client_id").and_then(|id| s.apps.get(id)).cloned() else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT);
    };
    let Some(redirect_uri) =
        get("redirect_uri").filter(|r| app.redirect_uris.iter().any(|u| u == r))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "The requested redirect uri is malformed or doesn't match client redirect URI.",
        );
    };
    let redirect = |pairs: &[(&str, &str)]| {
        let mut target = redirect_uri.to_owned();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = get("state") {
            query.append_pair("state", state);
        }
        target.push(if target.contains('?') { '&' } else { '?' });
        target.push_str(&query.finish());
        HttpResponse::Found()
            .insert_header(("Location", target))
            .finish()
    };
    if get("response_type") != Some("code") {
        return redirect(&[
            ("error", "unsupported_response_type"),
            (
                "error_description",
                "The authorization server does not support this response type.",
            ),
        ]);
    }
    let scopes = scopes_of(get("scope").unwrap_or("read"));
    if scopes.is_empty() || !scopes.iter().all(|s| covers(&app.scopes, &[s.as_str()])) {
        return redirect(&[
            ("error", "invalid_scope"),
            (
                "error_description",
                "The requested scope is invalid, unknown, or malformed.",
            ),
        ]);
    }
    let Some(challenge) = get("code_challenge") else {
        return redirect(&[
            ("error", "invalid_request"),
            (
                "error_description",
                "Missing required parameter: code_challenge.",
            ),
        ]);
    };
    if get("code_challenge_method") != Some("S256") {
        return redirect(&[
            ("error", "invalid_request"),
            (
                "error_description",
                "The code challenge method must be S256.",
            ),
        ]);
    }
    let username = s
        .next_user
        .take()
        .unwrap_or_else(|| DEFAULT_USER.to_owned());
    s.account(&username);
    let code = common::token("code_");
    s.codes.insert(
        code.clone(),
        Grant {
            client_id: app.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            username,
            scopes,
            challenge: challenge.to_owned(),
            expires_at: Utc::now() + chrono::Duration::minutes(CODE_TTL_MINUTES),
        },
    );
    if redirect_uri == "urn:ietf:wg:oauth:2.0:oob" {
        return HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(code);
    }
    redirect(&[("code", &code)])
}

async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<SandboxState>) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let mut s = lock(&state.mastodon);
    if let Some(code) = s.faults.fail_next_token.take() {
        return fault(code);
    }
    let Some(app) = client(&s, &req, &p).cloned() else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT);
    };
    if text(&p, "grant_type").as_deref() == Some("client_credentials") {
        return app_token(&mut s, &app, &p);
    }
    if text(&p, "grant_type").as_deref() != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let (Some(code), Some(redirect_uri)) = (text(&p, "code"), text(&p, "redirect_uri")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", INVALID_REQUEST);
    };
    let now = Utc::now();
    let Some(grant) = s
        .codes
        .get(&code)
        .filter(|g| {
            g.client_id == app.client_id && g.redirect_uri == redirect_uri && g.expires_at > now
        })
        .cloned()
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", INVALID_GRANT);
    };
    let Some(verifier) = text(&p, "code_verifier").filter(|v| !v.is_empty()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", INVALID_REQUEST);
    };
    if !constant_time_eq(s256(&verifier).as_bytes(), grant.challenge.as_bytes()) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", INVALID_GRANT);
    }
    s.codes.remove(&code);
    let reused = s
        .tokens
        .iter()
        .find(|(_, t)| {
            !t.revoked
                && t.client_id == app.client_id
                && t.username == grant.username
                && t.scopes == grant.scopes
        })
        .map(|(value, t)| (value.clone(), t.created_at));
    let (access_token, created_at) = reused.unwrap_or_else(|| {
        let value = common::token("tok_");
        s.tokens.insert(
            value.clone(),
            Token {
                client_id: app.client_id.clone(),
                username: grant.username.clone(),
                scopes: grant.scopes.clone(),
                created_at: now,
                revoked: false,
            },
        );
        (value, now)
    });
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "scope": grant.scopes.join(" "),
        "created_at": created_at.timestamp(),
    }))
}

/// `grant_type=client_credentials`: a token of the app's own, for the scopes asked (`read` by
/// default), which must be among the app's.
fn app_token(s: &mut State, app: &App, p: &Map<String, Value>) -> HttpResponse {
    let scopes = scopes_of(&text(p, "scope").unwrap_or_else(|| "read".to_owned()));
    if scopes.is_empty() || !scopes.iter().all(|scope| app.scopes.contains(scope)) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let now = Utc::now();
    let value = common::token("tok_");
    s.tokens.insert(
        value.clone(),
        Token {
            client_id: app.client_id.clone(),
            username: String::new(),
            scopes: scopes.clone(),
            created_at: now,
            revoked: false,
        },
    );
    HttpResponse::Ok().json(json!({
        "access_token": value,
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "created_at": now.timestamp(),
    }))
}

async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let mut s = lock(&state.mastodon);
    let Some(app) = client(&s, &req, &p).cloned() else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT);
    };
    let Some(value) = text(&p, "token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", INVALID_REQUEST);
    };
    match s.tokens.get_mut(&value) {
        None => HttpResponse::Ok().json(json!({})),
        Some(t) if t.client_id != app.client_id => oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        ),
        Some(t) => {
            t.revoked = true;
            HttpResponse::Ok().json(json!({}))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts and the instance

async fn verify_credentials(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let s = lock(&state.mastodon);
    let (username, scopes) = match authenticate(&s, &req) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if !covers(&scopes, &["read:accounts", "profile"]) {
        return error(StatusCode::FORBIDDEN, OUT_OF_SCOPE);
    }
    let Some(account) = s.accounts.get(&username) else {
        return error(StatusCode::FORBIDDEN, "Your login is currently disabled");
    };
    with_rate_limit(HttpResponse::Ok(), 299).json(account_json(&instance_url(&req), account))
}

fn default_instance(req: &HttpRequest) -> Map<String, Value> {
    let domain = req.connection_info().host().to_owned();
    let instance = instance_url(req);
    let body = json!({
        "domain": domain,
        "title": "Multivio sandbox",
        "version": "4.5.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A local fake of a Mastodon instance, for development and tests.",
        "usage": {"users": {"active_month": 1}},
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": null, "status": null},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {
                "max_characters": MAX_CHARACTERS,
                "max_media_attachments": MAX_MEDIA,
                "characters_reserved_per_url": CHARACTERS_PER_URL,
            },
            "media_attachments": {
                "supported_mime_types": SUPPORTED_MIME_TYPES,
                "description_limit": DESCRIPTION_LIMIT,
                "image_size_limit": IMAGE_SIZE_LIMIT,
                "image_matrix_limit": 33_177_600,
                "video_size_limit": VIDEO_SIZE_LIMIT,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            },
            "polls": {"max_options": 4, "max_characters_per_option": 50,
                      "min_expiration": 300, "max_expiration": 2_629_746},
            "translation": {"enabled": false},
        },
        "registrations": {"enabled": false, "approval_required": false, "message": null},
        "contact": {"email": "", "account": null},
        "rules": [],
        "thumbnail": {"url": format!("{instance}/packs/media/images/preview.png")},
        "api_versions": {"mastodon": 6},
    });
    match body {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `body` as JSON, with `padding` bytes of a `padding` string streamed before its fields.
fn padded(body: Map<String, Value>, padding: u64) -> HttpResponse {
    if padding == 0 {
        return HttpResponse::Ok().json(Value::Object(body));
    }
    let rest = serde_json::to_string(&Value::Object(body)).unwrap_or_else(|_| "{}".to_owned());
    let rest = rest.trim_start_matches('{').to_owned();
    let tail = if rest == "}" {
        "\"}".to_owned()
    } else {
        format!("\",{rest}")
    };
    const CHUNK: u64 = 64 * 1024;
    let filler = web::Bytes::from(vec![b'a'; CHUNK as usize]);
    let head = futures_util::stream::once(futures_util::future::ready(web::Bytes::from_static(
        b"{\"padding\":\"",
    )));
    let middle = futures_util::stream::unfold(padding, move |left| {
        let filler = filler.clone();
        async move {
            (left > 0).then(|| {
                let n = left.min(CHUNK);
                (filler.slice(..n as usize), left - n)
            })
        }
    });
    let end = futures_util::stream::once(futures_util::future::ready(web::Bytes::from(tail)));
    let stream = head.chain(middle).chain(end).map(Ok::<_, actix_web::Error>);
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .streaming(stream)
}

async fn instance_v2(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let over = lock(&state.mastodon).instance.clone();
    if over.v2_missing {
        return error(StatusCode::NOT_FOUND, "Record not found");
    }
    let answer = over.body.unwrap_or_else(|| default_instance(&req));
    padded(answer, over.padding_bytes)
}

async fn instance_v1(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let over = lock(&state.mastodon).instance.clone();
    if over.v2_missing
        && let Some(answer) = over.body
    {
        return padded(answer, over.padding_bytes);
    }
    let mut answer = default_instance(&req);
    // The v1 shape names the domain `uri` and has no `domain`.
    if let Some(domain) = answer.remove("domain") {
        answer.insert("uri".into(), domain);
    }
    HttpResponse::Ok().json(Value::Object(answer))
}

// ---------------------------------------------------------------------------------------------
// Media

/// One multipart part.
struct Part {
    name: String,
    content_type: Option<String>,
    data: Vec<u8>,
}

async fn multipart_parts(req: &HttpRequest, body: web::Bytes) -> Result<Vec<Part>, String> {
    let stream = futures_util::stream::once(futures_util::future::ready(Ok::<
        _,
        actix_web::error::PayloadError,
    >(body)));
    let mut multipart = actix_multipart::Multipart::new(req.headers(), stream);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| e.to_string())?;
        let name = field.name().unwrap_or_default().to_owned();
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_ascii_lowercase());
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            data.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        parts.push(Part {
            name,
            content_type,
            data,
        });
    }
    Ok(parts)
}

async fn upload_media(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let wait = lock(&state.mastodon).slow_media.take();
    common::pause(wait).await;
    {
        let mut s = lock(&state.mastodon);
        let (_, scopes) = match authenticate(&s, &req) {
            Ok(found) => found,
            Err(response) => return *response,
        };
        if !covers(&scopes, &["write:media"]) {
            return error(StatusCode::FORBIDDEN, OUT_OF_SCOPE);
        }
        if let Some(code) = s.faults.fail_next_media.take() {
            return fault(code);
        }
    }
    if common::content_type(&req) != "multipart/form-data" {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File can't be blank",
        );
    }
    let parts = match multipart_parts(&req, body).await {
        Ok(parts) => parts,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid multipart body: {e}"),
            );
        }
    };
    let Some(file) = parts
        .iter()
        .find(|p| p.name == "file")
        .filter(|p| !p.data.is_empty())
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File can't be blank",
        );
    };
    let Some(mime) = file.content_type.clone() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "File type of uploaded media could not be verified",
        );
    };
    let invalid = || {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File content type is invalid, File is invalid",
        )
    };
    if !SUPPORTED_MIME_TYPES.contains(&mime.as_str()) {
        return invalid();
    }
    let (kind, limit) = match mime.split('/').next() {
        _ if mime == "image/gif" => ("gifv", VIDEO_SIZE_LIMIT),
        Some("image") => ("image", IMAGE_SIZE_LIMIT),
        Some("video") => ("video", VIDEO_SIZE_LIMIT),
        _ => ("audio", VIDEO_SIZE_LIMIT),
    };
    if file.data.len() > limit {
        return invalid();
    }
    let description = match parts.iter().find(|p| p.name == "description") {
        Some(p) => match String::from_utf8(p.data.clone()) {
            Ok(d) if d.chars().count() > DESCRIPTION_LIMIT => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Validation failed: Description is too long (maximum is 1500 characters)",
                );
            }
            Ok(d) => Some(d).filter(|d| !d.is_empty()),
            Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid byte sequence in UTF-8"),
        },
        None => None,
    };
    let instance = instance_url(&req);
    let mut s = lock(&state.mastodon);
    let Ok((owner, _)) = authenticate(&s, &req) else {
        return error(StatusCode::UNAUTHORIZED, INVALID_TOKEN);
    };
    let polls_left = if kind == "image" {
        0
    } else {
        s.faults
            .media_processing_polls
            .unwrap_or(DEFAULT_PROCESSING_POLLS)
    };
    let media = Media {
        id: common::snowflake(&mut s.counter),
        owner,
        mime,
        kind,
        size: file.data.len(),
        description,
        polls_left,
        status_id: None,
    };
    s.media.insert(media.id.clone(), media.clone());
    let status = if polls_left == 0 {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    with_rate_limit(HttpResponse::build(status), 29).json(media_json(&instance, &media))
}

async fn get_media(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let mut s = lock(&state.mastodon);
    let (username, scopes) = match authenticate(&s, &req) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if !covers(&scopes, &["write:media"]) {
        return error(StatusCode::FORBIDDEN, OUT_OF_SCOPE);
    }
    let Some(media) = s
        .media
        .get_mut(path.as_str())
        .filter(|m| m.owner == username && m.status_id.is_none())
    else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    let status = if media.polls_left > 0 {
        media.polls_left -= 1;
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    // The answer shows the state before this poll advanced it.
    let mut shown = media.clone();
    if status == StatusCode::PARTIAL_CONTENT {
        shown.polls_left = shown.polls_left.max(1);
    }
    HttpResponse::build(status).json(media_json(&instance_url(&req), &shown))
}

// ---------------------------------------------------------------------------------------------
// Statuses

async fn create_status(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let instance = instance_url(&req);
    let (response, hang) = {
        let mut s = lock(&state.mastodon);
        match create_status_locked(&mut s, &req, &body, &instance) {
            Ok((status, hang)) => (
                with_rate_limit(HttpResponse::Ok(), 299).json(status_json(&s, &instance, &status)),
                hang,
            ),
            Err(response) => (*response, None),
        }
    };
    common::pause(hang).await;
    response
}

/// Creates a status (or finds the one an idempotency key names): the status and how long to
/// wait before answering (a hang fault, a late answer), or the error answer.
fn create_status_locked(
    s: &mut State,
    req: &HttpRequest,
    body: &[u8],
    instance: &str,
) -> Result<(Status, Option<Duration>), Refused> {
    let token = common::bearer(req)
        .and_then(|t| s.tokens.get(&t).filter(|t| !t.revoked).cloned())
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, INVALID_TOKEN))?;
    if !covers(&token.scopes, &["write:statuses"]) {
        return Err(refuse(StatusCode::FORBIDDEN, OUT_OF_SCOPE));
    }
    if let Some(code) = s.faults.fail_next_status.take() {
        return Err(Box::new(fault(code)));
    }
    let p = params(req, body)?;
    let username = token.username.clone();
    let now = Utc::now();
    s.expire_idempotency(now);
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|k| !k.is_empty());
    if let Some(key) = &key
        && let Some((id, _)) = s.idempotency.get(&(username.clone(), key.clone()))
    {
        return match s.status(id) {
            Some(existing) => Ok((existing.clone(), None)),
            None => Err(refuse(StatusCode::NOT_FOUND, "Record not found")),
        };
    }
    if p.contains_key("scheduled_at") {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The sandbox does not schedule statuses",
        ));
    }
    let in_reply_to_id = text(&p, "in_reply_to_id").filter(|v| !v.is_empty());
    if let Some(parent) = &in_reply_to_id
        && s.status(parent).is_none()
    {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "The post you are trying to reply to does not appear to exist.",
        ));
    }
    let visibility = text(&p, "visibility").unwrap_or_else(|| "public".to_owned());
    if !matches!(
        visibility.as_str(),
        "public" | "unlisted" | "private" | "direct"
    ) {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Visibility is not included in the list",
        ));
    }
    let media_ids = list(&p, "media_ids");
    if media_ids.len() > MAX_MEDIA {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Cannot attach more than {MAX_MEDIA} files"),
        ));
    }
    let missing: Vec<&String> = media_ids
        .iter()
        .filter(|id| {
            !s.media
                .get(*id)
                .is_some_and(|m| m.owner == username && m.status_id.is_none())
        })
        .collect();
    if !missing.is_empty() {
        let ids: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "Media {} not found or already attached to another post",
                ids.join(", ")
            ),
        ));
    }
    let attached: Vec<&Media> = media_ids.iter().filter_map(|id| s.media.get(id)).collect();
    if attached.iter().any(|m| m.polls_left > 0) {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot attach files that have not finished processing. Try again in a moment!",
        ));
    }
    if attached.len() > 1 && attached.iter().any(|m| m.kind != "image") {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot attach a video to a post that already contains images",
        ));
    }
    let status_text = text(&p, "status").unwrap_or_default();
    if status_text.trim().is_empty() && media_ids.is_empty() {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Text can't be blank",
        ));
    }
    if character_count(&status_text) > MAX_CHARACTERS {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"),
        ));
    }
    let id = common::snowflake(&mut s.counter);
    let application = s
        .apps
        .get(&token.client_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let status = Status {
        url: format!("{instance}/@{username}/{id}"),
        uri: format!("{instance}/users/{username}/statuses/{id}"),
        id: id.clone(),
        account: username.clone(),
        text: status_text,
        media: media_ids.clone(),
        in_reply_to_id,
        visibility,
        application,
        created_at: now,
    };
    for media_id in &media_ids {
        if let Some(m) = s.media.get_mut(media_id) {
            m.status_id = Some(id.clone());
        }
    }
    s.store(status.clone());
    if let Some(key) = key {
        let key = (username, key);
        s.idempotency.insert(key.clone(), (id, now));
        s.idempotency_order.push_back((now, key));
    }
    let hang = s
        .faults
        .store_then_hang_ms
        .take()
        .map(Duration::from_millis);
    let late = s.answer_late.take();
    Ok((status, hang.max(late)))
}

async fn get_status(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let s = lock(&state.mastodon);
    match s.status(path.as_str()) {
        Some(status) => HttpResponse::Ok().json(status_json(&s, &instance_url(&req), status)),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

/// A status id as a number, for ordering (ids are decimal and increasing).
fn id_number(id: &str) -> Option<u64> {
    id.parse().ok()
}

/// Whether a query flag is set as Rails reads booleans (`true`, `1`, `on`…).
fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params
        .get(key)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "t" | "on"))
}

async fn account_statuses(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let instance = instance_url(&req);
    let s = lock(&state.mastodon);
    let viewer = if common::bearer(&req).is_some() {
        let (username, scopes) = match authenticate(&s, &req) {
            Ok(found) => found,
            Err(response) => return *response,
        };
        if !covers(&scopes, &["read:statuses"]) {
            return error(StatusCode::FORBIDDEN, OUT_OF_SCOPE);
        }
        Some(username)
    } else {
        None
    };
    let id = path.into_inner();
    let Some(owner) = s.account_ids.get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    let limit = match params.get("limit") {
        None => 20,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map_or(0, |n| {
                usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX)
            })
            .min(40),
    };
    let bound = |key: &str| params.get(key).and_then(|v| id_number(v));
    let (max_id, since_id, min_id) = (bound("max_id"), bound("since_id"), bound("min_id"));
    let own = viewer.as_deref() == Some(owner.as_str());
    let listed = |st: &&Status| {
        let visible = match st.visibility.as_str() {
            "public" | "unlisted" => true,
            "private" => own,
            _ => false,
        };
        visible
            && !(flag(&params, "exclude_replies") && st.in_reply_to_id.is_some())
            && !(flag(&params, "only_media") && st.media.is_empty())
            && params.get("tagged").is_none_or(|tag| {
                st.text
                    .to_lowercase()
                    .split_whitespace()
                    .any(|w| w.trim_start_matches('#') == tag.to_lowercase() && w.starts_with('#'))
            })
    };
    let positions = s
        .account_statuses
        .get(&owner)
        .map_or(&[][..], Vec::as_slice);
    let number = |at: usize| id_number(&s.statuses[at].id).unwrap_or(0);
    // Ids grow with time: the candidates are positions[lower..upper], oldest first.
    let mut lower = 0;
    let mut upper = positions.len();
    if let Some(max) = max_id {
        upper = positions.partition_point(|&at| number(at) < max);
    }
    for newer_than in [since_id, min_id].into_iter().flatten() {
        lower = lower.max(positions.partition_point(|&at| number(at) <= newer_than));
    }
    let mut page: Vec<&Status> = Vec::new();
    if !flag(&params, "pinned") && lower < upper {
        let range = positions[lower..upper].iter().map(|&at| &s.statuses[at]);
        if min_id.is_some() {
            // The page just after `min_id`, shown newest first.
            page = range.filter(listed).take(limit).collect();
            page.reverse();
        } else {
            page = range.rev().filter(listed).take(limit).collect();
        }
    }
    let base = format!("{instance}/api/v1/accounts/{id}/statuses");
    let mut response = with_rate_limit(HttpResponse::Ok(), 299);
    if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
        response.insert_header((
            "Link",
            format!(
                "<{base}?limit={limit}&max_id={}>; rel=\"next\", <{base}?limit={limit}&min_id={}>; rel=\"prev\"",
                oldest.id, newest.id
            ),
        ));
    }
    let body: Vec<Value> = page
        .iter()
        .map(|st| status_json(&s, &instance, st))
        .collect();
    response.json(body)
}

// ---------------------------------------------------------------------------------------------
// Control

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextUser {
    username: String,
}

async fn set_next_user(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let Ok(next) = serde_json::from_slice::<NextUser>(&body) else {
        return error(StatusCode::BAD_REQUEST, "expected {\"username\": \"…\"}");
    };
    let valid = !next.username.is_empty()
        && next.username.len() <= 30
        && next
            .username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a username is 1–30 letters, digits or underscores",
        );
    }
    lock(&state.mastodon).next_user = Some(next.username.clone());
    HttpResponse::Ok().json(json!({ "next_user": next.username }))
}

/// What Mastodon's applications vacuum does once an app is a day old, at once: deletes
/// every app that holds no token in force and no authorisation code, with its revoked tokens.
async fn vacuum_apps(state: web::Data<SandboxState>) -> HttpResponse {
    let mut guard = lock(&state.mastodon);
    let s = &mut *guard;
    let held: std::collections::HashSet<String> = s
        .tokens
        .values()
        .filter(|t| !t.revoked)
        .map(|t| t.client_id.clone())
        .chain(s.codes.values().map(|g| g.client_id.clone()))
        .collect();
    let before = s.apps.len();
    s.apps.retain(|client_id, _| held.contains(client_id));
    let apps = &s.apps;
    s.tokens.retain(|_, t| apps.contains_key(&t.client_id));
    HttpResponse::Ok().json(json!({ "deleted": before - s.apps.len() }))
}

async fn set_faults(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    let given: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("unknown faults: {e}")),
    };
    let mut s = lock(&state.mastodon);
    let faults = &mut s.faults;
    faults.store_then_hang_ms = given.store_then_hang_ms.or(faults.store_then_hang_ms);
    faults.fail_next_status = given.fail_next_status.or(faults.fail_next_status);
    faults.fail_next_media = given.fail_next_media.or(faults.fail_next_media);
    faults.fail_next_token = given.fail_next_token.or(faults.fail_next_token);
    faults.media_processing_polls = given
        .media_processing_polls
        .or(faults.media_processing_polls);
    HttpResponse::Ok().json(&*faults)
}

async fn clear_faults(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    lock(&state.mastodon).faults = Faults::default();
    HttpResponse::Ok().json(json!({}))
}

async fn set_instance(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    match serde_json::from_slice::<InstanceOverride>(&body) {
        Ok(over) => {
            lock(&state.mastodon).instance = over;
            HttpResponse::Ok().json(json!({}))
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            &format!("unexpected instance override: {e}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Delays

async fn set_answer_late(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    match Delay::parse(&body) {
        Ok(delay) => {
            lock(&state.mastodon).answer_late = delay;
            delay.answer()
        }
        Err(refused) => refused,
    }
}

async fn get_answer_late(state: web::Data<SandboxState>) -> HttpResponse {
    let delay = lock(&state.mastodon).answer_late;
    delay.answer()
}

async fn set_slow_media(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    common::record(&state, PLATFORM, &req, &body);
    match Delay::parse(&body) {
        Ok(delay) => {
            lock(&state.mastodon).slow_media = delay;
            delay.answer()
        }
        Err(refused) => refused,
    }
}

async fn get_slow_media(state: web::Data<SandboxState>) -> HttpResponse {
    let delay = lock(&state.mastodon).slow_media;
    delay.answer()
}

#[cfg(test)]
mod tests;
