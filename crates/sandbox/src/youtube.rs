//! The fake of YouTube (`/youtube`): Google's OAuth (consent page, token endpoint,
//! revocation), the YouTube Data API's channel listing and resumable video uploads.
//!
//! - `GET /o/oauth2/v2/auth` (`client_id`, `redirect_uri`, `response_type=code`, `scope`
//!   space-separated with `…/auth/youtube.upload` or `…/auth/youtube`, `state`; optional
//!   `access_type=offline`, `prompt=consent`, `include_granted_scopes`, and PKCE
//!   `code_challenge` with `code_challenge_method=S256`): approved at once by the next user;
//!   redirects with `code`, `state` and `scope`.
//! - `POST /token` (form-encoded; the client id and secret in the body or HTTP Basic):
//!   `grant_type=authorization_code` (`code` single use, ten minutes; `redirect_uri` byte for
//!   byte; `code_verifier` matching the challenge) or `refresh_token` → `{"access_token",
//!   "expires_in": 3599, "scope", "token_type": "Bearer"}`, with a `refresh_token` only for
//!   `access_type=offline` (as Google: on the first consent, or every time with
//!   `prompt=consent`); refresh tokens are not rotated. Errors `{"error",
//!   "error_description"}` (`invalid_grant`, `invalid_client`, `redirect_uri_mismatch`). `POST
//!   /revoke` (`token`) ends the grant (its refresh and access tokens).
//! - `GET /youtube/v3/channels` (`part` with `snippet`, `mine=true`) → `{"kind", "items":
//!   [{"kind", "id": "UC…", "snippet": {"title", "customUrl", "description"}}], "pageInfo"}`
//!   (`items` empty for a user without a channel).
//! - `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` (bearer with an
//!   upload scope; `Content-Type: application/json`; `X-Upload-Content-Length` the file's size,
//!   `X-Upload-Content-Type` `video/*` or `application/octet-stream`): the video resource —
//!   `snippet` (`title` 1–100 characters, `description` ≤ 5,000 bytes, neither with `<` or
//!   `>`; `tags`, `categoryId`, `defaultLanguage` accepted) and `status` (`privacyStatus`
//!   `public`/`unlisted`/`private`, `selfDeclaredMadeForKids`, `embeddable`, `license`,
//!   `publicStatsViewable`, `publishAt` accepted), each named in `part`; an unknown field is a
//!   400 → 200 with the session URL in `Location` (`…?upload_id=…`). A channel-less user is a
//!   401 `youtubeSignupRequired`.
//! - `PUT {session}` with `Content-Range: bytes <first>-<last>/<total>`: the chunk must start
//!   at the bytes already received, its length match the range, and every chunk but the last
//!   be a multiple of 256 KiB → `308` with `Range: bytes=0-<last received>`; the last one
//!   creates the video → 200 with the video resource (`uploadStatus` `uploaded`, or `rejected`
//!   with `rejectionReason` `duplicate` for the same bytes twice on a channel). `PUT {session}`
//!   with `Content-Range: bytes */<total>` and no body asks where it stands: `308` (with `Range`
//!   once anything was received) or 200 with the video.
//!
//! Control (tests), on `/youtube/_sandbox/`:
//! - `POST next_user {"name": "…", "channel": true}`: who approves the next consent (default
//!   "Sandbox Creator"), and whether the Google account has a channel. Answers `{"name",
//!   "channel_id"}`.
//! - `POST interrupt_upload {"after_chunks": 1, "keep_bytes": 0, "status": 503}`: in the next
//!   upload session, the chunk after `after_chunks` chunks were received whole is cut short —
//!   the fake keeps its first `keep_bytes` (a multiple of 256 KiB) and answers `status` (a
//!   5xx), as a server failing mid-chunk; with `"expire_tokens": true`, every access token
//!   issued so far expires with it (a token that ran out during a long upload); with
//!   `"stall": true`, that chunk and every one after it is dropped and answered `308` with the
//!   Range held before it (an upload that never advances); with `"expire_session": true`, the
//!   session has expired by that chunk: it and all that follows in the session is a `404`.
//! - `POST expire_tokens`: every access token issued so far has expired.
//!
//! `/_sandbox/posts` lists each video: the text is its title (and description, on the next
//! line), the media `mime (n bytes, sha256 <hex>, <privacy>)`.

// The fake's checks answer with the refusal itself, as Google would; a response is their error.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{SandboxPost, bearer, content_type, record, token};
use crate::credentials::{YOUTUBE_CLIENT_ID, YOUTUBE_CLIENT_SECRET};
use crate::{SandboxState, lock};

const CODE_TTL: i64 = 600;
const ACCESS_TTL: i64 = 3599;
/// Google's chunk granularity.
const GRANULARITY: usize = 256 * 1024;
/// The scopes that allow uploads.
const UPLOAD_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
];
/// The scopes the fake knows.
const KNOWN_SCOPES: [&str; 6] = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.readonly",
    "openid",
    "email",
    "profile",
];

#[derive(Debug, Clone)]
struct User {
    channel: Option<Channel>,
    /// Clients this user has consented to (a refresh token is issued on the first consent).
    consented: HashSet<String>,
}

#[derive(Debug, Clone)]
struct Channel {
    id: String,
    title: String,
    custom_url: String,
}

#[derive(Debug, Clone)]
struct Code {
    user: String,
    scopes: Vec<String>,
    redirect_uri: String,
    challenge: Option<String>,
    refresh: bool,
    issued: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Grant {
    user: String,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
    /// The refresh token it came from (revoking that ends it).
    family: String,
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    total: usize,
    content_type: String,
    resource: Value,
    received: Vec<u8>,
    chunks: u32,
    /// This session's interruption, taken when it started.
    interrupt: Option<Interrupt>,
    video: Option<String>,
}

#[derive(Debug, Clone)]
struct Video {
    id: String,
    channel: Channel,
    title: String,
    description: String,
    privacy: String,
    made_for_kids: bool,
    content_type: String,
    size: usize,
    sha256: String,
    upload_status: &'static str,
    created_at: DateTime<Utc>,
}

/// A chunk cut short, as a test asked.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Interrupt {
    #[serde(default = "one")]
    after_chunks: u32,
    #[serde(default)]
    keep_bytes: usize,
    #[serde(default = "unavailable")]
    status: u16,
    /// Every access token issued so far expires as the chunk is cut (a token that ran out
    /// during a long upload).
    #[serde(default)]
    expire_tokens: bool,
    /// Instead of a failure: from that chunk on, every chunk is dropped and answered `308`
    /// with the Range held before it (an upload that never advances).
    #[serde(default)]
    stall: bool,
    /// Instead of a failure: the session has expired by that chunk — it and everything sent to
    /// the session after it is answered `404`.
    #[serde(default)]
    expire_session: bool,
}

fn one() -> u32 {
    1
}

fn unavailable() -> u16 {
    503
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextUser {
    name: String,
    #[serde(default = "yes")]
    channel: bool,
}

fn yes() -> bool {
    true
}

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    counter: u64,
    users: HashMap<String, User>,
    next_user: Option<String>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    sessions: HashMap<String, Session>,
    videos: Vec<Video>,
    interrupt: Option<Interrupt>,
}

impl State {
    fn user(&mut self, name: &str, channel: bool) -> &mut User {
        self.counter += 1;
        let n = self.counter;
        let user = self.users.entry(name.to_owned()).or_insert_with(|| User {
            channel: None,
            consented: HashSet::new(),
        });
        match (&user.channel, channel) {
            (None, true) => {
                let slug: String = name
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                user.channel = Some(Channel {
                    id: format!("UCsbx{n:017}"),
                    title: name.to_owned(),
                    custom_url: format!("@{slug}"),
                });
            }
            (Some(_), false) => user.channel = None,
            _ => {}
        }
        user
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/next_user", web::post().to(next_user))
        .route(
            "/_sandbox/interrupt_upload",
            web::post().to(interrupt_upload),
        )
        .route("/_sandbox/expire_tokens", web::post().to(expire_tokens))
        .route("/o/oauth2/v2/auth", web::get().to(authorize))
        .route("/token", web::post().to(token_endpoint))
        .route("/revoke", web::post().to(revoke))
        .route("/youtube/v3/channels", web::get().to(channels))
        .route("/upload/youtube/v3/videos", web::post().to(start_upload))
        .route("/upload/youtube/v3/videos", web::put().to(put_upload));
}

/// Every video the fake holds, oldest first.
pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .videos
        .iter()
        .filter(|v| v.upload_status == "uploaded")
        .map(|v| SandboxPost {
            platform: "youtube",
            account: v.channel.title.clone(),
            id: v.id.clone(),
            text: if v.description.is_empty() {
                v.title.clone()
            } else {
                format!("{}\n{}", v.title, v.description)
            },
            media: vec![format!(
                "{} ({} bytes, sha256 {}, {})",
                v.content_type, v.size, v.sha256, v.privacy
            )],
            reply_to: None,
            url: format!("https://www.youtube.com/watch?v={}", v.id),
            created_at: v.created_at,
        })
        .collect()
}

// ---- answers in Google's shapes --------------------------------------------------------------

fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": error, "error_description": description }))
}

fn api_error(status: StatusCode, reason: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "message": message, "domain": "youtube.video", "reason": reason }],
        }
    }))
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn grant(state: &State, req: &HttpRequest) -> Result<Grant, HttpResponse> {
    let unauthorized = |message: &str| {
        HttpResponse::Unauthorized()
            .insert_header(("www-authenticate", "Bearer realm=\"https://accounts.google.com/\""))
            .json(json!({
                "error": {
                    "code": 401,
                    "message": message,
                    "errors": [{ "message": message, "domain": "global", "reason": "authError", "location": "Authorization" }],
                    "status": "UNAUTHENTICATED",
                }
            }))
    };
    let token = bearer(req).ok_or_else(|| unauthorized("Login Required."))?;
    let grant = state
        .access
        .get(&token)
        .cloned()
        .ok_or_else(|| unauthorized("Invalid Credentials"))?;
    if grant.expires <= Utc::now() {
        return Err(unauthorized("Invalid Credentials"));
    }
    Ok(grant)
}

// ---- OAuth -----------------------------------------------------------------------------------

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "youtube", &req, b"");
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != YOUTUBE_CLIENT_ID {
        return HttpResponse::Unauthorized()
            .body("Error 401: invalid_client — The OAuth client was not found.");
    }
    if get("response_type") != "code" {
        return HttpResponse::BadRequest()
            .body("Error 400: invalid_request — response_type must be code");
    }
    let redirect_uri = get("redirect_uri");
    let Ok(redirect) = url::Url::parse(redirect_uri) else {
        return HttpResponse::BadRequest().body("Error 400: redirect_uri_mismatch");
    };
    let scopes: Vec<String> = get("scope")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return HttpResponse::BadRequest().body(format!("Error 400: invalid_scope — {unknown}"));
    }
    if !scopes.iter().any(|s| UPLOAD_SCOPES.contains(&s.as_str())) || get("state").is_empty() {
        return HttpResponse::BadRequest()
            .body("Error 400: invalid_request — a YouTube upload scope and a state are required");
    }
    let challenge = match (q.get("code_challenge"), get("code_challenge_method")) {
        (None, _) => None,
        (Some(c), "S256") if c.len() >= 43 => Some(c.clone()),
        _ => {
            return HttpResponse::BadRequest()
                .body("Error 400: invalid_request — code_challenge_method must be S256");
        }
    };
    let offline = match get("access_type") {
        "" | "online" => false,
        "offline" => true,
        _ => return HttpResponse::BadRequest().body("Error 400: invalid_request — access_type"),
    };
    let consent = get("prompt").split(' ').any(|p| p == "consent");
    let mut yt = lock(&state.youtube);
    let name = yt
        .next_user
        .take()
        .unwrap_or_else(|| "Sandbox Creator".to_owned());
    if !yt.users.contains_key(&name) {
        yt.user(&name, true);
    }
    let first = yt
        .users
        .get_mut(&name)
        .is_none_or(|u| u.consented.insert(YOUTUBE_CLIENT_ID.to_owned()));
    let code = token("4/0Sbx-");
    yt.codes.insert(
        code.clone(),
        Code {
            user: name,
            scopes: scopes.clone(),
            redirect_uri: redirect_uri.to_owned(),
            challenge,
            refresh: offline && (first || consent),
            issued: Utc::now(),
        },
    );
    let mut to = redirect;
    to.query_pairs_mut()
        .append_pair("state", get("state"))
        .append_pair("code", &code)
        .append_pair("scope", &scopes.join(" "));
    HttpResponse::Found()
        .insert_header(("location", to.to_string()))
        .finish()
}

/// The client of a token call: in the body, or HTTP Basic.
fn client(req: &HttpRequest, form: &HashMap<String, String>) -> Option<(String, String)> {
    if let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) {
        return Some((id.clone(), secret.clone()));
    }
    let basic = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn issue(
    yt: &mut State,
    user: &str,
    scopes: &[String],
    family: Option<String>,
    with_refresh: bool,
) -> Value {
    let access = token("ya29.sbx-");
    let family = family.unwrap_or_else(|| token("1//0sbx-"));
    yt.access.insert(
        access.clone(),
        Grant {
            user: user.to_owned(),
            scopes: scopes.to_vec(),
            expires: Utc::now() + Duration::seconds(ACCESS_TTL),
            family: family.clone(),
        },
    );
    let mut answer = json!({
        "access_token": access,
        "expires_in": ACCESS_TTL,
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    });
    if with_refresh {
        yt.refresh.insert(
            family.clone(),
            Grant {
                user: user.to_owned(),
                scopes: scopes.to_vec(),
                expires: Utc::now() + Duration::days(3650),
                family: family.clone(),
            },
        );
        answer["refresh_token"] = json!(family);
    }
    answer
}

async fn token_endpoint(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "youtube", &req, &body);
    if content_type(&req) != "application/x-www-form-urlencoded" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be form-encoded",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match client(&req, &form) {
        Some((id, secret)) if id == YOUTUBE_CLIENT_ID && secret == YOUTUBE_CLIENT_SECRET => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            );
        }
    }
    let mut yt = lock(&state.youtube);
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = yt.codes.remove(get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            if Utc::now() - code.issued > Duration::seconds(CODE_TTL) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            if code.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            if let Some(challenge) = &code.challenge
                && s256(get("code_verifier")) != *challenge
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code verifier.",
                );
            }
            HttpResponse::Ok().json(issue(&mut yt, &code.user, &code.scopes, None, code.refresh))
        }
        "refresh_token" => {
            let Some(old) = yt.refresh.get(get("refresh_token")).cloned() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            };
            HttpResponse::Ok().json(issue(
                &mut yt,
                &old.user,
                &old.scopes,
                Some(old.family),
                false,
            ))
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        ),
    }
}

async fn revoke(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "youtube", &req, &body);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let given = form.get("token").cloned().unwrap_or_default();
    let mut yt = lock(&state.youtube);
    let family = yt
        .refresh
        .get(&given)
        .or_else(|| yt.access.get(&given))
        .map(|g| g.family.clone());
    let Some(family) = family else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        );
    };
    yt.refresh.retain(|_, g| g.family != family);
    yt.access.retain(|_, g| g.family != family);
    HttpResponse::Ok().finish()
}

// ---- the Data API ----------------------------------------------------------------------------

async fn channels(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "youtube", &req, b"");
    let yt = lock(&state.youtube);
    let grant = match grant(&yt, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let q = query(&req);
    let known = ["part", "mine", "id", "maxResults", "pageToken", "fields"];
    if let Some(unknown) = q.keys().find(|k| !known.contains(&k.as_str())) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "unknownParameter",
            &format!("Unknown parameter {unknown}"),
        );
    }
    let parts: Vec<&str> = q.get("part").map_or(vec![], |p| p.split(',').collect());
    if parts.is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "required",
            "No filter selected. Expected one of: mine, id, forHandle.",
        );
    }
    if q.get("mine").map(String::as_str) != Some("true") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "missingRequiredParameter",
            "mine=true is required here",
        );
    }
    let items: Vec<Value> = yt
        .users
        .get(&grant.user)
        .and_then(|u| u.channel.clone())
        .map(|c| {
            let mut item = json!({ "kind": "youtube#channel", "etag": token("e"), "id": c.id });
            if parts.contains(&"snippet") {
                item["snippet"] = json!({
                    "title": c.title,
                    "description": "",
                    "customUrl": c.custom_url,
                    "publishedAt": "2020-01-01T00:00:00Z",
                });
            }
            item
        })
        .into_iter()
        .collect();
    HttpResponse::Ok().json(json!({
        "kind": "youtube#channelListResponse",
        "etag": token("e"),
        "pageInfo": { "totalResults": items.len(), "resultsPerPage": 5 },
        "items": items,
    }))
}

/// Refuses fields outside `allowed` (Google: "Invalid JSON payload received. Unknown name").
fn only(object: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), HttpResponse> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!(
                "Invalid JSON payload received. Unknown name \"{unknown}\" at '{at}': Cannot find field."
            ),
        )),
        None => Ok(()),
    }
}

/// Checks the video resource of a new upload.
fn check_resource(resource: &Value, parts: &[&str]) -> Result<(), HttpResponse> {
    let Some(object) = resource.as_object() else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "parseError",
            "Parse Error",
        ));
    };
    only(object, "video", &["snippet", "status"])?;
    for key in object.keys() {
        if !parts.contains(&key.as_str()) {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "unexpectedPart",
                &format!("The request sets {key} but the part parameter does not name it"),
            ));
        }
    }
    let snippet = object.get("snippet").and_then(Value::as_object);
    let Some(snippet) = snippet else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalidTitle",
            "The request metadata does not specify a valid video title.",
        ));
    };
    only(
        snippet,
        "video.snippet",
        &[
            "title",
            "description",
            "tags",
            "categoryId",
            "defaultLanguage",
            "defaultAudioLanguage",
        ],
    )?;
    let title = snippet.get("title").and_then(Value::as_str).unwrap_or("");
    if title.trim().is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalidTitle",
            "The request metadata specifies an invalid video title.",
        ));
    }
    if let Some(description) = snippet.get("description") {
        let text = description.as_str().unwrap_or("<");
        if text.len() > 5000 || text.contains(['<', '>']) {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "invalidDescription",
                "The request metadata specifies an invalid video description.",
            ));
        }
    }
    if let Some(status) = object.get("status") {
        let Some(status) = status.as_object() else {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "parseError",
                "Parse Error",
            ));
        };
        only(
            status,
            "video.status",
            &[
                "privacyStatus",
                "selfDeclaredMadeForKids",
                "embeddable",
                "license",
                "publicStatsViewable",
                "publishAt",
                "containsSyntheticMedia",
            ],
        )?;
        let privacy = status
            .get("privacyStatus")
            .and_then(Value::as_str)
            .unwrap_or("public");
        if !matches!(privacy, "public" | "unlisted" | "private") {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "invalidValue",
                &format!(
                    "Invalid value '{privacy}'. Values must be one of: [private, public, unlisted]"
                ),
            ));
        }
        if status
            .get("selfDeclaredMadeForKids")
            .is_some_and(|v| !v.is_boolean())
        {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "invalidValue",
                "selfDeclaredMadeForKids must be a boolean",
            ));
        }
    }
    Ok(())
}

async fn start_upload(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "youtube", &req, &body);
    let q = query(&req);
    if q.get("uploadType").map(String::as_str) != Some("resumable") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "Only uploadType=resumable is served here",
        );
    }
    let parts: Vec<&str> = q.get("part").map_or(vec![], |p| p.split(',').collect());
    if parts.is_empty()
        || parts
            .iter()
            .any(|p| !["snippet", "status", "contentDetails", "id"].contains(p))
    {
        return api_error(
            StatusCode::BAD_REQUEST,
            "unknownPart",
            "The part parameter is missing or names an unknown part",
        );
    }
    if content_type(&req) != "application/json" {
        return api_error(
            StatusCode::BAD_REQUEST,
            "parseError",
            "The metadata must be application/json",
        );
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(total) = header("x-upload-content-length").and_then(|v| v.parse::<usize>().ok())
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badContent",
            "X-Upload-Content-Length is required",
        );
    };
    if total == 0 {
        return api_error(StatusCode::BAD_REQUEST, "badContent", "The video is empty");
    }
    let media_type =
        header("x-upload-content-type").unwrap_or_else(|| "application/octet-stream".to_owned());
    if !(media_type.starts_with("video/") || media_type == "application/octet-stream") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidVideoMetadata",
            &format!(
                "Media type '{media_type}' is not supported. Valid media types: [video/*, application/octet-stream]"
            ),
        );
    }
    let resource: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return api_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error"),
    };
    if let Err(refused) = check_resource(&resource, &parts) {
        return refused;
    }
    let mut yt = lock(&state.youtube);
    let grant = match grant(&yt, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !grant
        .scopes
        .iter()
        .any(|s| UPLOAD_SCOPES.contains(&s.as_str()))
    {
        return api_error(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        );
    }
    if yt
        .users
        .get(&grant.user)
        .is_none_or(|u| u.channel.is_none())
    {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "youtubeSignupRequired",
            "Unauthorized",
        );
    }
    let upload_id = token("SBX-");
    let interrupt = yt.interrupt.take();
    yt.sessions.insert(
        upload_id.clone(),
        Session {
            user: grant.user,
            total,
            content_type: media_type,
            resource,
            received: Vec::new(),
            chunks: 0,
            interrupt,
            video: None,
        },
    );
    let info = req.connection_info();
    let location = format!(
        "{}://{}/youtube/upload/youtube/v3/videos?uploadType=resumable&part={}&upload_id={upload_id}",
        info.scheme(),
        info.host(),
        parts.join(","),
    );
    HttpResponse::Ok()
        .insert_header(("location", location))
        .insert_header(("x-guploader-uploadid", upload_id))
        .finish()
}

fn video_json(video: &Video) -> Value {
    let mut status = json!({
        "uploadStatus": video.upload_status,
        "privacyStatus": video.privacy,
        "license": "youtube",
        "embeddable": true,
        "publicStatsViewable": true,
        "selfDeclaredMadeForKids": video.made_for_kids,
    });
    if video.upload_status == "rejected" {
        status["rejectionReason"] = json!("duplicate");
    }
    json!({
        "kind": "youtube#video",
        "etag": token("e"),
        "id": video.id,
        "snippet": {
            "publishedAt": video.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "channelId": video.channel.id,
            "title": video.title,
            "description": video.description,
            "channelTitle": video.channel.title,
            "categoryId": "22",
        },
        "status": status,
    })
}

/// Where a session stands: `308` with the `Range` received, or the video.
fn standing(yt: &State, session: &Session) -> HttpResponse {
    if let Some(id) = &session.video
        && let Some(video) = yt.videos.iter().find(|v| &v.id == id)
    {
        return HttpResponse::Ok().json(video_json(video));
    }
    let mut answer = HttpResponse::build(StatusCode::PERMANENT_REDIRECT);
    if !session.received.is_empty() {
        answer.insert_header(("range", format!("bytes=0-{}", session.received.len() - 1)));
    }
    answer
        .insert_header(("x-guploader-uploadid", "sbx"))
        .finish()
}

/// The range of a chunk: `bytes a-b/total` (`None` for a status query, `bytes */total`).
fn content_range(req: &HttpRequest) -> Result<(Option<(usize, usize)>, usize), HttpResponse> {
    let bad = || {
        api_error(
            StatusCode::BAD_REQUEST,
            "badContent",
            "Failed to parse Content-Range header.",
        )
    };
    let value = req
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad)?;
    let rest = value.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let total: usize = total.parse().map_err(|_| bad())?;
    if range == "*" {
        return Ok((None, total));
    }
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if b < a {
        return Err(bad());
    }
    Ok((Some((a, b)), total))
}

async fn put_upload(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "youtube", &req, &body);
    let q = query(&req);
    let Some(upload_id) = q.get("upload_id").cloned() else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "upload_id is required",
        );
    };
    let (range, total) = match content_range(&req) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let mut guard = lock(&state.youtube);
    let yt = &mut *guard;
    // The session URL is the capability; a token sent with it must still be valid.
    if bearer(&req).is_some()
        && let Err(refused) = grant(yt, &req)
    {
        return refused;
    }
    let Some(mut session) = yt.sessions.remove(&upload_id) else {
        return HttpResponse::NotFound().body("Not Found: no such upload session");
    };
    if range.is_some()
        && session
            .interrupt
            .is_some_and(|i| i.expire_session && session.chunks == i.after_chunks)
    {
        // Expired: forgotten, with what it received.
        return HttpResponse::NotFound().body("Not Found: no such upload session");
    }
    let answer = chunk(yt, &mut session, range, total, &body);
    yt.sessions.insert(upload_id, session);
    answer
}

/// One `PUT` to a session: a chunk, or a status query.
fn chunk(
    yt: &mut State,
    session: &mut Session,
    range: Option<(usize, usize)>,
    total: usize,
    body: &[u8],
) -> HttpResponse {
    if total != session.total {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badContent",
            "The Content-Range total differs from X-Upload-Content-Length",
        );
    }
    let Some((first, last)) = range else {
        if !body.is_empty() {
            return api_error(
                StatusCode::BAD_REQUEST,
                "badContent",
                "A status query has no body",
            );
        }
        return standing(yt, session);
    };
    if session.video.is_some() {
        return standing(yt, session);
    }
    if first != session.received.len() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badContent",
            &format!(
                "The chunk starts at {first}, but {} bytes were received: query the upload and resume after its Range",
                session.received.len()
            ),
        );
    }
    if body.len() != last - first + 1 || last >= total {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badContent",
            "The chunk's length does not match its Content-Range",
        );
    }
    let final_chunk = last + 1 == total;
    if !final_chunk && !body.len().is_multiple_of(GRANULARITY) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badContent",
            "Every chunk but the last must be a multiple of 256 KiB",
        );
    }
    if let Some(interrupt) = session.interrupt
        && interrupt.stall
        && session.chunks >= interrupt.after_chunks
    {
        return standing(yt, session);
    }
    if let Some(interrupt) = session.interrupt
        && session.chunks == interrupt.after_chunks
    {
        session.interrupt = None;
        let kept =
            interrupt.keep_bytes.min(body.len().saturating_sub(1)) / GRANULARITY * GRANULARITY;
        session.received.extend_from_slice(&body[..kept]);
        if interrupt.expire_tokens {
            expire_all(&mut yt.access);
        }
        return api_error(
            StatusCode::from_u16(interrupt.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "backendError",
            "Backend Error",
        );
    }
    session.received.extend_from_slice(body);
    session.chunks += 1;
    if !final_chunk {
        return standing(yt, session);
    }
    // The last byte: the video is made.
    let Some(channel) = yt.users.get(&session.user).and_then(|u| u.channel.clone()) else {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "youtubeSignupRequired",
            "Unauthorized",
        );
    };
    let text = |part: &str, key: &str| {
        session.resource[part][key]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let sha256 = crate::digest(&session.received);
    let duplicate = yt
        .videos
        .iter()
        .any(|v| v.channel.id == channel.id && v.sha256 == sha256 && v.upload_status == "uploaded");
    yt.counter += 1;
    let id: String = {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("sbx{:08}", yt.counter).as_bytes());
        raw.chars().take(11).collect()
    };
    let privacy = session.resource["status"]["privacyStatus"]
        .as_str()
        .unwrap_or("public")
        .to_owned();
    let video = Video {
        id: id.clone(),
        channel,
        title: text("snippet", "title"),
        description: text("snippet", "description"),
        privacy,
        made_for_kids: session.resource["status"]["selfDeclaredMadeForKids"]
            .as_bool()
            .unwrap_or(false),
        content_type: session.content_type.clone(),
        size: session.received.len(),
        sha256,
        upload_status: if duplicate { "rejected" } else { "uploaded" },
        created_at: Utc::now(),
    };
    let answer = HttpResponse::Ok().json(video_json(&video));
    yt.videos.push(video);
    session.video = Some(id);
    // The bytes are kept as their hash; the session remembers its video.
    session.received = Vec::new();
    answer
}

// ---- control ---------------------------------------------------------------------------------

async fn next_user(state: web::Data<SandboxState>, body: web::Json<NextUser>) -> HttpResponse {
    let next = body.into_inner();
    let mut yt = lock(&state.youtube);
    let channel = yt
        .user(&next.name, next.channel)
        .channel
        .as_ref()
        .map(|c| c.id.clone());
    yt.next_user = Some(next.name.clone());
    HttpResponse::Ok().json(json!({ "name": next.name, "channel_id": channel }))
}

async fn interrupt_upload(
    state: web::Data<SandboxState>,
    body: web::Json<Interrupt>,
) -> HttpResponse {
    let interrupt = body.into_inner();
    if !(500..=599).contains(&interrupt.status) || !interrupt.keep_bytes.is_multiple_of(GRANULARITY)
    {
        return HttpResponse::BadRequest().json(json!({
            "error": "status must be 5xx and keep_bytes a multiple of 262144"
        }));
    }
    lock(&state.youtube).interrupt = Some(interrupt);
    HttpResponse::Ok().json(json!({
        "after_chunks": interrupt.after_chunks,
        "keep_bytes": interrupt.keep_bytes,
        "status": interrupt.status,
    }))
}

/// Every access token issued so far expires now.
fn expire_all(access: &mut HashMap<String, Grant>) {
    let now = Utc::now();
    for grant in access.values_mut() {
        grant.expires = now;
    }
}

async fn expire_tokens(state: web::Data<SandboxState>) -> HttpResponse {
    let mut yt = lock(&state.youtube);
    expire_all(&mut yt.access);
    HttpResponse::Ok().json(json!({ "expired": yt.access.len() }))
}
