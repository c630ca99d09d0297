//! The fake of TikTok (`/tiktok`): OAuth v2 with the client key, the user's profile, and the
//! Content Posting API's direct posts (creator info, init, chunked upload, status).
//!
//! - `GET /v2/auth/authorize/` (`client_key`, `scope` comma-separated with `user.info.basic`
//!   and `video.publish`, `response_type=code`, `redirect_uri`, `state`): approved at once by
//!   the next user; redirects with `code`, `scopes` and `state`.
//! - `POST /v2/oauth/token/` (form-encoded: `client_key`, `client_secret`, `grant_type`;
//!   `code` single use and `redirect_uri` byte for byte, or `refresh_token`) →
//!   `{"access_token": "act.…", "expires_in": 86400, "open_id", "refresh_token": "rft.…",
//!   "refresh_expires_in", "scope", "token_type": "Bearer"}`; a refresh answers a new refresh
//!   token and ends the old one. Refusals are `{"error", "error_description", "log_id"}`
//!   (answered 200, as TikTok does). `POST /v2/oauth/revoke/` (`client_key`,
//!   `client_secret`, `token`).
//! - The API answers `{"data", "error": {"code", "message", "log_id"}}` (`code` `ok` on
//!   success); the bearer token is required (`access_token_invalid`, 401), as is the scope
//!   (`scope_not_authorized`, 401).
//! - `GET /v2/user/info/?fields=…` (`open_id`, `union_id`, `avatar_url`, `display_name`;
//!   others of `user.info.profile`/`stats` refused) → `{"data": {"user": {…}}}`.
//! - `POST /v2/post/publish/creator_info/query/` (`video.publish`, `Content-Type:
//!   application/json; charset=UTF-8`) → `creator_username`, `creator_nickname`,
//!   `privacy_level_options` (a public account: `PUBLIC_TO_EVERYONE`, `MUTUAL_FOLLOW_FRIENDS`,
//!   `SELF_ONLY`; a private one: `FOLLOWER_OF_CREATOR`, `MUTUAL_FOLLOW_FRIENDS`, `SELF_ONLY`; for
//!   an app not audited: `SELF_ONLY` only), `comment_disabled`, `duet_disabled`,
//!   `stitch_disabled`, `max_video_post_duration_sec`.
//! - `POST /v2/post/publish/video/init/` (JSON as above): `post_info` (`privacy_level`
//!   required and among the creator's options — `privacy_level_option_mismatch` —, and for an
//!   app not audited `SELF_ONLY` — `unaudited_client_can_only_post_to_private_accounts`, 403;
//!   `title` ≤ 2,200 characters; `disable_comment`, `disable_duet`, `disable_stitch`,
//!   `video_cover_timestamp_ms`, `brand_content_toggle`, `brand_organic_toggle`, `is_aigc`) and
//!   `source_info` (`source` `FILE_UPLOAD` — `PULL_FROM_URL` is refused, the fake verifies no
//!   domain — with `video_size`, `chunk_size` and `total_chunk_count` as TikTok requires: under
//!   5 MB one chunk of the whole video; otherwise chunks of 5–64 MB, the count the size divided
//!   by the chunk size rounded down, at most 1,000; a last chunk up to 128 MB) → `{"data":
//!   {"publish_id", "upload_url"}}`.
//! - `PUT {upload_url}` (`/tiktok/upload/?upload_id=…&upload_token=…`): each chunk in order,
//!   `Content-Type` `video/mp4`, `video/quicktime` or `video/webm`, `Content-Range: bytes
//!   <first>-<last>/<total>` matching the chunking declared → 206, the last one 201.
//! - `POST /v2/post/publish/status/fetch/` (`{"publish_id"}`) → `status`
//!   `PROCESSING_UPLOAD` (with `uploaded_bytes`) until the last byte, then `PROCESSING_UPLOAD`
//!   for as many reads as a test asks, then `PUBLISH_COMPLETE` (a public post with
//!   `publicaly_available_post_id`, TikTok's spelling) or `FAILED` with a `fail_reason`.
//!
//! Control (tests), on `/tiktok/_sandbox/`:
//! - `POST next_user {"username": "…", "private_account": false, "max_duration": 600}`: who
//!   approves the next authorisation (default `sandbox_creator`). Answers `{"open_id",
//!   "username"}`.
//! - `POST app {"audited": false}`: whether TikTok has audited the app (default: audited).
//! - `POST status_polls {"polls": N}`: status reads answering `PROCESSING_UPLOAD` after the
//!   upload (default 1).
//! - `POST rate_limit_status {"reads": N, "status": 429}`: the next N status reads are refused
//!   as over TikTok's limit (30 a minute per token): 429 `rate_limit_exceeded`; with
//!   `"status": 503`, as TikTok unavailable: 503 `internal_error`.
//! - `POST fail_next_publish {"reason": "duration_check_failed"}`: the next uploaded post
//!   ends `FAILED` with that reason.
//! - `POST expire_tokens`: every access token issued so far has expired.

// The fake's checks answer with the refusal itself, as TikTok would; a response is their error.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{SandboxPost, bearer, content_type, record, token};
use crate::credentials::{TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET};
use crate::{SandboxState, lock};

const CODE_TTL: i64 = 600;
const ACCESS_TTL: i64 = 86_400;
const REFRESH_TTL: i64 = 31_536_000;
const MB5: usize = 5 * 1024 * 1024;
const MB64: usize = 64 * 1024 * 1024;
const MB128: usize = 128 * 1024 * 1024;
const KNOWN_SCOPES: [&str; 6] = [
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.publish",
    "video.upload",
    "video.list",
];

#[derive(Debug, Clone)]
struct User {
    open_id: String,
    username: String,
    private_account: bool,
    max_duration: u32,
}

#[derive(Debug, Clone)]
struct Code {
    user: String,
    scopes: Vec<String>,
    redirect_uri: String,
    issued: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Grant {
    user: String,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Publish {
    id: String,
    user: String,
    upload_id: String,
    upload_token: String,
    title: String,
    privacy: String,
    size: usize,
    chunk: usize,
    count: usize,
    received: usize,
    chunks: usize,
    content_type: Option<String>,
    polls_left: u32,
    fail: Option<String>,
    post_id: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextUser {
    username: String,
    #[serde(default)]
    private_account: bool,
    #[serde(default = "ten_minutes")]
    max_duration: u32,
}

fn ten_minutes() -> u32 {
    600
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct App {
    audited: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Polls {
    polls: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    reason: String,
}

/// What the fake holds.
#[derive(Debug)]
pub struct State {
    counter: u64,
    users: HashMap<String, User>,
    usernames: HashMap<String, String>,
    next_user: Option<String>,
    /// Whether TikTok has audited the app (an unaudited app posts privately only).
    audited: bool,
    codes: HashMap<String, Code>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    publishes: Vec<Publish>,
    status_polls: u32,
    /// Status reads still to refuse as over the rate limit (or, with `unavailable_status`,
    /// as TikTok being unavailable).
    limited_status_reads: u32,
    unavailable_status: bool,
    fail_next: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            counter: 0,
            users: HashMap::new(),
            usernames: HashMap::new(),
            next_user: None,
            audited: true,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            publishes: Vec::new(),
            status_polls: 1,
            limited_status_reads: 0,
            unavailable_status: false,
            fail_next: None,
        }
    }
}

impl State {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn user(&mut self, username: &str) -> String {
        if let Some(id) = self.usernames.get(username) {
            return id.clone();
        }
        let n = self.next();
        let open_id = format!("-000sbx{n:010}-tt");
        self.users.insert(
            open_id.clone(),
            User {
                open_id: open_id.clone(),
                username: username.to_owned(),
                private_account: false,
                max_duration: 600,
            },
        );
        self.usernames.insert(username.to_owned(), open_id.clone());
        open_id
    }

    /// The privacy levels TikTok offers `user` now.
    fn options(&self, user: &User) -> Vec<&'static str> {
        if !self.audited {
            vec!["SELF_ONLY"]
        } else if user.private_account {
            vec!["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        } else {
            vec!["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/next_user", web::post().to(next_user))
        .route("/_sandbox/app", web::post().to(set_app))
        .route("/_sandbox/status_polls", web::post().to(status_polls))
        .route(
            "/_sandbox/rate_limit_status",
            web::post().to(rate_limit_status),
        )
        .route(
            "/_sandbox/fail_next_publish",
            web::post().to(fail_next_publish),
        )
        .route("/_sandbox/expire_tokens", web::post().to(expire_tokens))
        .route("/v2/auth/authorize/", web::get().to(authorize))
        .route("/v2/oauth/token/", web::post().to(token_endpoint))
        .route("/v2/oauth/revoke/", web::post().to(revoke))
        .route("/v2/user/info/", web::get().to(user_info))
        .route(
            "/v2/post/publish/creator_info/query/",
            web::post().to(creator_info),
        )
        .route("/v2/post/publish/video/init/", web::post().to(video_init))
        .route(
            "/v2/post/publish/status/fetch/",
            web::post().to(status_fetch),
        )
        .route("/upload/", web::put().to(upload));
}

/// Every post the fake published, oldest first.
pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .publishes
        .iter()
        .filter_map(|p| {
            let id = p.post_id.clone()?;
            let username = state
                .users
                .get(&p.user)
                .map_or_else(|| p.user.clone(), |u| u.username.clone());
            Some(SandboxPost {
                platform: "tiktok",
                account: format!("@{username}"),
                url: format!("https://www.tiktok.com/@{username}/video/{id}"),
                id,
                text: p.title.clone(),
                media: vec![format!(
                    "{} ({} bytes, {})",
                    p.content_type.as_deref().unwrap_or("video"),
                    p.size,
                    p.privacy
                )],
                reply_to: None,
                created_at: p.created_at,
            })
        })
        .collect()
}

// ---- answers in TikTok's shapes --------------------------------------------------------------

fn envelope(status: StatusCode, data: Value, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "data": data,
        "error": { "code": code, "message": message, "log_id": token("2026sbx") },
    }))
}

fn ok(data: Value) -> HttpResponse {
    envelope(StatusCode::OK, data, "ok", "")
}

fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    envelope(status, json!({}), code, message)
}

fn oauth_error(error: &str, description: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "error": error,
        "error_description": description,
        "log_id": token("2026sbx"),
    }))
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn grant(state: &State, req: &HttpRequest, scope: &str) -> Result<Grant, HttpResponse> {
    let invalid = || {
        refuse(
            StatusCode::UNAUTHORIZED,
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        )
    };
    let token = bearer(req).ok_or_else(invalid)?;
    let grant = state.access.get(&token).cloned().ok_or_else(invalid)?;
    if grant.expires <= Utc::now() {
        return Err(invalid());
    }
    if !grant.scopes.iter().any(|s| s == scope) {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "scope_not_authorized",
            &format!(
                "The user did not authorize the scope required for completing this request: {scope}"
            ),
        ));
    }
    Ok(grant)
}

/// A JSON body sent as TikTok documents it (`application/json; charset=UTF-8`).
fn json_body(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, HttpResponse> {
    if content_type(req) != "application/json" {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "The request body must be application/json; charset=UTF-8",
        ));
    }
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "The body is not a JSON object",
        )),
    }
}

fn only(object: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), HttpResponse> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            &format!("Unknown field {at}{unknown}"),
        )),
        None => Ok(()),
    }
}

// ---- OAuth -----------------------------------------------------------------------------------

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "tiktok", &req, b"");
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_key") != TIKTOK_CLIENT_KEY || get("response_type") != "code" {
        return HttpResponse::BadRequest().body("client_key or response_type is not valid");
    }
    let Ok(redirect) = url::Url::parse(get("redirect_uri")) else {
        return HttpResponse::BadRequest().body("redirect_uri is not valid");
    };
    let scopes: Vec<String> = get("scope")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return HttpResponse::BadRequest().body(format!("scope {unknown} is not valid"));
    }
    if !["user.info.basic", "video.publish"]
        .iter()
        .all(|r| scopes.iter().any(|s| s == r))
        || get("state").is_empty()
    {
        return HttpResponse::BadRequest().body(
            "the scope must include user.info.basic and video.publish, and a state is required",
        );
    }
    let mut tt = lock(&state.tiktok);
    let username = tt
        .next_user
        .take()
        .unwrap_or_else(|| "sandbox_creator".to_owned());
    let user = tt.user(&username);
    let code = token("tt-code-");
    tt.codes.insert(
        code.clone(),
        Code {
            user,
            scopes: scopes.clone(),
            redirect_uri: get("redirect_uri").to_owned(),
            issued: Utc::now(),
        },
    );
    let mut to = redirect;
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scopes", &scopes.join(","))
        .append_pair("state", get("state"));
    HttpResponse::Found()
        .insert_header(("location", to.to_string()))
        .finish()
}

fn issue(tt: &mut State, user: &str, scopes: &[String]) -> Value {
    let access = token("act.");
    let refresh = token("rft.");
    tt.access.insert(
        access.clone(),
        Grant {
            user: user.to_owned(),
            scopes: scopes.to_vec(),
            expires: Utc::now() + Duration::seconds(ACCESS_TTL),
        },
    );
    tt.refresh.insert(
        refresh.clone(),
        Grant {
            user: user.to_owned(),
            scopes: scopes.to_vec(),
            expires: Utc::now() + Duration::seconds(REFRESH_TTL),
        },
    );
    json!({
        "access_token": access,
        "expires_in": ACCESS_TTL,
        "open_id": user,
        "refresh_expires_in": REFRESH_TTL,
        "refresh_token": refresh,
        "scope": scopes.join(","),
        "token_type": "Bearer",
    })
}

async fn token_endpoint(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "tiktok", &req, &body);
    if content_type(&req) != "application/x-www-form-urlencoded" {
        return oauth_error(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("client_key") != TIKTOK_CLIENT_KEY || get("client_secret") != TIKTOK_CLIENT_SECRET {
        return oauth_error("invalid_client", "Client key or secret is incorrect.");
    }
    let mut tt = lock(&state.tiktok);
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = tt.codes.remove(get("code")) else {
                return oauth_error("invalid_grant", "Authorization code is expired.");
            };
            if code.redirect_uri != get("redirect_uri")
                || Utc::now() - code.issued > Duration::seconds(CODE_TTL)
            {
                return oauth_error(
                    "invalid_grant",
                    "Authorization code is expired or the redirect_uri differs.",
                );
            }
            HttpResponse::Ok().json(issue(&mut tt, &code.user, &code.scopes))
        }
        "refresh_token" => {
            let Some(old) = tt.refresh.remove(get("refresh_token")) else {
                return oauth_error("invalid_grant", "Refresh token is invalid or expired.");
            };
            if old.expires <= Utc::now() {
                return oauth_error("invalid_grant", "Refresh token is invalid or expired.");
            }
            HttpResponse::Ok().json(issue(&mut tt, &old.user, &old.scopes))
        }
        _ => oauth_error("unsupported_grant_type", "The grant_type is not supported."),
    }
}

async fn revoke(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "tiktok", &req, &body);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("client_key") != TIKTOK_CLIENT_KEY || get("client_secret") != TIKTOK_CLIENT_SECRET {
        return oauth_error("invalid_client", "Client key or secret is incorrect.");
    }
    let mut tt = lock(&state.tiktok);
    if let Some(grant) = tt.access.remove(get("token")) {
        tt.refresh.retain(|_, g| g.user != grant.user);
        tt.access.retain(|_, g| g.user != grant.user);
    }
    HttpResponse::Ok().json(json!({}))
}

// ---- the API ---------------------------------------------------------------------------------

async fn user_info(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "tiktok", &req, b"");
    let tt = lock(&state.tiktok);
    let grant = match grant(&tt, &req, "user.info.basic") {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let fields = query(&req).get("fields").cloned().unwrap_or_default();
    let fields: Vec<&str> = fields.split(',').filter(|f| !f.is_empty()).collect();
    if fields.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "fields is required",
        );
    }
    let basic = [
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
    ];
    if let Some(other) = fields.iter().find(|f| !basic.contains(f)) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "scope_not_authorized",
            &format!("The field {other} needs a scope the user did not authorize"),
        );
    }
    let Some(user) = tt.users.get(&grant.user) else {
        return refuse(StatusCode::NOT_FOUND, "invalid_params", "no such user");
    };
    let mut answer = Map::new();
    for field in fields {
        let value = match field {
            "open_id" => json!(user.open_id),
            "union_id" => json!(format!("u{}", user.open_id)),
            "display_name" => json!(format!("Sandbox {}", user.username)),
            _ => json!(format!(
                "https://p16.tiktokcdn.example/{}.jpeg",
                user.username
            )),
        };
        answer.insert(field.to_owned(), value);
    }
    ok(json!({ "user": answer }))
}

async fn creator_info(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "tiktok", &req, &body);
    if let Err(refused) = json_body(&req, &body) {
        return refused;
    }
    let tt = lock(&state.tiktok);
    let grant = match grant(&tt, &req, "video.publish") {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let Some(user) = tt.users.get(&grant.user) else {
        return refuse(StatusCode::NOT_FOUND, "invalid_params", "no such user");
    };
    ok(json!({
        "creator_avatar_url": format!("https://p16.tiktokcdn.example/{}.jpeg", user.username),
        "creator_username": user.username,
        "creator_nickname": format!("Sandbox {}", user.username),
        "privacy_level_options": tt.options(user),
        "comment_disabled": false,
        "duet_disabled": false,
        "stitch_disabled": true,
        "max_video_post_duration_sec": user.max_duration,
    }))
}

/// Checks `source_info`'s chunking against TikTok's rules: (size, chunk, count).
fn chunking(source: &Map<String, Value>) -> Result<(usize, usize, usize), HttpResponse> {
    let bad = |why: &str| refuse(StatusCode::BAD_REQUEST, "invalid_params", why);
    let number = |k: &str| {
        source
            .get(k)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    let (Some(size), Some(chunk), Some(count)) = (
        number("video_size"),
        number("chunk_size"),
        number("total_chunk_count"),
    ) else {
        return Err(bad(
            "video_size, chunk_size and total_chunk_count are required for FILE_UPLOAD",
        ));
    };
    if size == 0 || chunk == 0 {
        return Err(bad("The video is empty"));
    }
    if size < MB5 && (chunk != size || count != 1) {
        return Err(bad(
            "A video under 5 MB goes whole: chunk_size is video_size, in 1 chunk",
        ));
    }
    if size >= MB5 && !(size <= MB64 && chunk == size && count == 1) {
        if !(MB5..=MB64).contains(&chunk) {
            return Err(bad("chunk_size must be between 5 MB and 64 MB"));
        }
        if count != size / chunk || !(1..=1000).contains(&count) {
            return Err(bad(
                "total_chunk_count must be video_size / chunk_size, rounded down (1 to 1000)",
            ));
        }
        if size - (count - 1) * chunk > MB128 {
            return Err(bad("The last chunk may hold at most 128 MB"));
        }
    }
    Ok((size, chunk, count))
}

async fn video_init(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "tiktok", &req, &body);
    let object = match json_body(&req, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(&object, &["post_info", "source_info"], "") {
        return refused;
    }
    let (Some(post), Some(source)) = (
        object.get("post_info").and_then(Value::as_object),
        object.get("source_info").and_then(Value::as_object),
    ) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "post_info and source_info are required",
        );
    };
    if let Err(refused) = only(
        post,
        &[
            "title",
            "privacy_level",
            "disable_duet",
            "disable_comment",
            "disable_stitch",
            "video_cover_timestamp_ms",
            "brand_content_toggle",
            "brand_organic_toggle",
            "is_aigc",
        ],
        "post_info.",
    ) {
        return refused;
    }
    if let Err(refused) = only(
        source,
        &[
            "source",
            "video_size",
            "chunk_size",
            "total_chunk_count",
            "video_url",
        ],
        "source_info.",
    ) {
        return refused;
    }
    match source.get("source").and_then(Value::as_str) {
        Some("FILE_UPLOAD") => {}
        Some("PULL_FROM_URL") => {
            return refuse(
                StatusCode::FORBIDDEN,
                "url_ownership_unverified",
                "The video URL's domain or prefix is not verified for this app",
            );
        }
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_params",
                "source_info.source is required",
            );
        }
    }
    let (size, chunk, count) = match chunking(source) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let title = post
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if title.encode_utf16().count() > 2200 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "post_info.title is longer than 2200 characters",
        );
    }
    for flag in [
        "disable_duet",
        "disable_comment",
        "disable_stitch",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
    ] {
        if post.get(flag).is_some_and(|v| !v.is_boolean()) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_params",
                &format!("post_info.{flag} must be a boolean"),
            );
        }
    }
    let Some(privacy) = post
        .get("privacy_level")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "post_info.privacy_level is required",
        );
    };
    let mut tt = lock(&state.tiktok);
    let grant = match grant(&tt, &req, "video.publish") {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let Some(user) = tt.users.get(&grant.user).cloned() else {
        return refuse(StatusCode::NOT_FOUND, "invalid_params", "no such user");
    };
    if !tt.audited && privacy != "SELF_ONLY" {
        return refuse(
            StatusCode::FORBIDDEN,
            "unaudited_client_can_only_post_to_private_accounts",
            "Unaudited clients can only post to private accounts",
        );
    }
    if !tt.options(&user).contains(&privacy.as_str()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options",
        );
    }
    let n = tt.next();
    let id = format!("v_pub_file~v2-1.{}", 7_400_000_000_000_000_000u64 + n);
    let upload_id = format!("{}", 7_400_000_000_000_000_000u64 + n);
    let upload_token = token("ut");
    let fail = tt.fail_next.take();
    let polls = tt.status_polls;
    tt.publishes.push(Publish {
        id: id.clone(),
        user: grant.user,
        upload_id: upload_id.clone(),
        upload_token: upload_token.clone(),
        title,
        privacy,
        size,
        chunk,
        count,
        received: 0,
        chunks: 0,
        content_type: None,
        polls_left: polls,
        fail,
        post_id: None,
        created_at: Utc::now(),
    });
    let info = req.connection_info();
    ok(json!({
        "publish_id": id,
        "upload_url": format!(
            "{}://{}/tiktok/upload/?upload_id={upload_id}&upload_token={upload_token}",
            info.scheme(),
            info.host()
        ),
    }))
}

async fn upload(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "tiktok", &req, &body);
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let mut tt = lock(&state.tiktok);
    let Some(publish) = tt
        .publishes
        .iter_mut()
        .find(|p| p.upload_id == get("upload_id") && p.upload_token == get("upload_token"))
    else {
        return HttpResponse::NotFound().body("no such upload");
    };
    let media_type = content_type(&req);
    if !["video/mp4", "video/quicktime", "video/webm"].contains(&media_type.as_str()) {
        return HttpResponse::BadRequest()
            .body("Content-Type must be video/mp4, video/quicktime or video/webm");
    }
    let range = req
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split_once('/'))
        .and_then(|(r, t)| {
            let (a, b) = r.split_once('-')?;
            Some((
                a.parse::<usize>().ok()?,
                b.parse::<usize>().ok()?,
                t.parse::<usize>().ok()?,
            ))
        });
    let Some((first, last, total)) = range else {
        return HttpResponse::BadRequest()
            .body("Content-Range bytes <first>-<last>/<total> is required");
    };
    if publish.chunks >= publish.count {
        return HttpResponse::BadRequest().body("The upload is complete already");
    }
    let index = publish.chunks;
    let expected_first = index * publish.chunk;
    let expected_last = if index + 1 == publish.count {
        publish.size - 1
    } else {
        expected_first + publish.chunk - 1
    };
    if total != publish.size
        || first != expected_first
        || last != expected_last
        || body.len() != last - first + 1
    {
        return HttpResponse::BadRequest().body(format!(
            "Chunk {index} must be bytes {expected_first}-{expected_last}/{}, in order",
            publish.size
        ));
    }
    publish.received += body.len();
    publish.chunks += 1;
    publish.content_type = Some(media_type);
    if publish.chunks == publish.count {
        HttpResponse::Created().finish()
    } else {
        HttpResponse::PartialContent().finish()
    }
}

async fn status_fetch(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "tiktok", &req, &body);
    let object = match json_body(&req, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(&object, &["publish_id"], "") {
        return refused;
    }
    let mut guard = lock(&state.tiktok);
    let tt = &mut *guard;
    let grant = match grant(tt, &req, "video.publish") {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if tt.limited_status_reads > 0 {
        tt.limited_status_reads -= 1;
        if tt.unavailable_status {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal_error",
                "Something went wrong. Please try again later.",
            );
        }
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Request blocked due to exceeding the rate limit",
        );
    }
    let wanted = object
        .get("publish_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let counter = tt.counter + 1;
    let Some(publish) = tt
        .publishes
        .iter_mut()
        .find(|p| p.id == wanted && p.user == grant.user)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_publish_id",
            "The publish_id does not exist",
        );
    };
    if publish.chunks < publish.count {
        return ok(json!({ "status": "PROCESSING_UPLOAD", "uploaded_bytes": publish.received }));
    }
    if publish.polls_left > 0 {
        publish.polls_left -= 1;
        return ok(json!({ "status": "PROCESSING_UPLOAD", "uploaded_bytes": publish.received }));
    }
    if let Some(reason) = &publish.fail {
        return ok(json!({ "status": "FAILED", "fail_reason": reason }));
    }
    let public = publish.privacy == "PUBLIC_TO_EVERYONE";
    if publish.post_id.is_none() {
        publish.post_id = Some(if public {
            (7_300_000_000_000_000_000u64 + counter).to_string()
        } else {
            publish.id.clone()
        });
        publish.created_at = Utc::now();
        tt.counter = counter;
    }
    let Some(publish) = tt.publishes.iter().find(|p| p.id == wanted) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_publish_id",
            "The publish_id does not exist",
        );
    };
    let mut data = json!({ "status": "PUBLISH_COMPLETE", "uploaded_bytes": publish.received });
    if public && let Some(id) = &publish.post_id {
        data["publicaly_available_post_id"] = json!([id.parse::<u64>().unwrap_or_default()]);
    }
    ok(data)
}

// ---- control ---------------------------------------------------------------------------------

async fn next_user(state: web::Data<SandboxState>, body: web::Json<NextUser>) -> HttpResponse {
    let next = body.into_inner();
    let mut tt = lock(&state.tiktok);
    let open_id = tt.user(&next.username);
    if let Some(user) = tt.users.get_mut(&open_id) {
        user.private_account = next.private_account;
        user.max_duration = next.max_duration;
    }
    tt.next_user = Some(next.username.clone());
    HttpResponse::Ok().json(json!({ "open_id": open_id, "username": next.username }))
}

async fn set_app(state: web::Data<SandboxState>, body: web::Json<App>) -> HttpResponse {
    let app = body.into_inner();
    lock(&state.tiktok).audited = app.audited;
    HttpResponse::Ok().json(json!({ "audited": app.audited }))
}

async fn status_polls(state: web::Data<SandboxState>, body: web::Json<Polls>) -> HttpResponse {
    let polls = body.into_inner();
    lock(&state.tiktok).status_polls = polls.polls;
    HttpResponse::Ok().json(json!({ "polls": polls.polls }))
}

#[derive(Deserialize)]
struct LimitedReads {
    reads: u32,
    /// 429 (the default) or 503.
    #[serde(default)]
    status: Option<u16>,
}

async fn rate_limit_status(
    state: web::Data<SandboxState>,
    body: web::Json<LimitedReads>,
) -> HttpResponse {
    let LimitedReads { reads, status } = body.into_inner();
    let status = status.unwrap_or(429);
    if status != 429 && status != 503 {
        return HttpResponse::BadRequest().body("status must be 429 or 503");
    }
    let mut tt = lock(&state.tiktok);
    tt.limited_status_reads = reads;
    tt.unavailable_status = status == 503;
    HttpResponse::Ok().json(json!({ "reads": reads, "status": status }))
}

async fn fail_next_publish(
    state: web::Data<SandboxState>,
    body: web::Json<FailNext>,
) -> HttpResponse {
    let fail = body.into_inner();
    lock(&state.tiktok).fail_next = Some(fail.reason.clone());
    HttpResponse::Ok().json(json!({ "reason": fail.reason }))
}

async fn expire_tokens(state: web::Data<SandboxState>) -> HttpResponse {
    let mut tt = lock(&state.tiktok);
    let now = Utc::now();
    for grant in tt.access.values_mut() {
        grant.expires = now;
    }
    HttpResponse::Ok().json(json!({ "expired": tt.access.len() }))
}
