//! The fake of Pinterest (`/pinterest`): its OAuth, the account and its boards, pins, and video
//! uploads (registered, sent to storage as a signed form, processed).
//!
//! - `GET /oauth/` (`client_id`, `redirect_uri`, `response_type=code`, `scope`
//!   comma-separated with `boards:read` and `pins:write`, `state`): approved at once by the
//!   next account; redirects with `code` and `state`.
//! - `POST /v5/oauth/token` (HTTP Basic with the app's id and secret — not in the body —, a
//!   form body): `grant_type=authorization_code` (`code` single use, ten minutes,
//!   `redirect_uri` byte for byte) or `refresh_token` (`refresh_token`, optional `scope`) →
//!   `{"access_token": "pina_…", "refresh_token": "pinr_…", "response_type", "token_type":
//!   "bearer", "expires_in": 2592000, "refresh_token_expires_in": 31536000, "scope"}` (a
//!   refresh answers no new refresh token). Errors `{"code", "message"}`.
//! - Every `/v5/…` call: the bearer token (401 `{"code": 2, …}` when unknown or expired); JSON
//!   bodies only (`application/json`); an unknown field is a 400 (`{"code": 1, …}`).
//! - `GET /v5/user_account` → `{"account_type", "id", "username", "business_name",
//!   "profile_image", "website_url"}`. `GET /v5/boards` (`page_size` 1–250, default 25;
//!   `bookmark`) → `{"items": [{"id", "name", "description", "privacy", "owner"}], "bookmark"}`.
//! - `POST /v5/pins`: `board_id` (a board of the account, else 404), `media_source` (required:
//!   `image_url` with `url` an absolute http(s) URL of a `.jpg`, `.jpeg`, `.png`, `.gif`,
//!   `.webp`, `.bmp` or `.tiff`; or `video_id` with `media_id` a processed upload of the
//!   account and a cover — `cover_image_url`, `cover_image_data` or
//!   `cover_image_key_frame_time`), optional `title` (≤ 100 characters), `description` (≤ 800),
//!   `link` (http(s), ≤ 2,048), `alt_text` (≤ 500), `board_section_id`, `dominant_color`,
//!   `note`, `parent_pin_id` → 201 with the pin.
//! - `POST /v5/media` (`{"media_type": "video"}`) → 201 `{"media_id", "media_type",
//!   "upload_url", "upload_parameters"}`; `POST {upload_url}` (`/pinterest/media-uploads/`, as
//!   storage: a multipart form with every upload parameter as given and the `file` last, no
//!   `Authorization`) → 204; `GET /v5/media/{id}` → `{"media_id", "media_type", "status"}`:
//!   `registered` until uploaded, then `processing` for as many reads as a test asks, then
//!   `succeeded`.
//!
//! Control (tests), on `/pinterest/_sandbox/`:
//! - `POST next_user {"username": "…", "boards": ["Recipes", {"name": "Drafts", "privacy":
//!   "SECRET"}]}`: who approves the next authorisation (default `sandbox_pinner` with one board,
//!   "Sandbox board"), with these boards (created on first use). Answers `{"username", "id",
//!   "boards": [{"id", "name", "privacy"}]}`.
//! - `POST media_polls {"polls": N}`: how many status reads an uploaded video answers
//!   `processing` (default 1).
//! - `POST fail_next_pin {"status": 500, "after_create": false}`: the next `POST /v5/pins`
//!   answers that status, creating nothing — or, with `after_create`, once the pin is made.
//! - `POST expire_tokens`: every access token issued so far has expired.

// The fake's checks answer with the refusal itself, as Pinterest would; a response is their
// error.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{SandboxPost, bearer, content_type, record, token};
use crate::credentials::{PINTEREST_APP_ID, PINTEREST_APP_SECRET};
use crate::{SandboxState, lock};

const CODE_TTL: i64 = 600;
const ACCESS_TTL: i64 = 2_592_000;
const REFRESH_TTL: i64 = 31_536_000;
const REQUIRED_SCOPES: [&str; 2] = ["boards:read", "pins:write"];
const KNOWN_SCOPES: [&str; 10] = [
    "ads:read",
    "boards:read",
    "boards:read_secret",
    "boards:write",
    "boards:write_secret",
    "pins:read",
    "pins:read_secret",
    "pins:write",
    "pins:write_secret",
    "user_accounts:read",
];

#[derive(Debug, Clone)]
struct Account {
    id: String,
    username: String,
    /// Board ids, in order.
    boards: Vec<String>,
}

#[derive(Debug, Clone)]
struct Board {
    id: String,
    owner: String,
    name: String,
    privacy: String,
}

#[derive(Debug, Clone)]
struct Code {
    account: String,
    scopes: Vec<String>,
    redirect_uri: String,
    issued: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Grant {
    account: String,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Media {
    owner: String,
    /// The signed form's fields the upload must carry.
    parameters: Map<String, Value>,
    /// `mime (n bytes)` once uploaded.
    uploaded: Option<String>,
    polls_left: u32,
}

#[derive(Debug, Clone)]
struct Pin {
    id: String,
    owner: String,
    board: String,
    title: Option<String>,
    description: String,
    link: Option<String>,
    media: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    status: u16,
    #[serde(default)]
    after_create: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextUser {
    username: String,
    #[serde(default)]
    boards: Vec<BoardSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum BoardSpec {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        privacy: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Polls {
    polls: u32,
}

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    counter: u64,
    accounts: HashMap<String, Account>,
    usernames: HashMap<String, String>,
    boards: HashMap<String, Board>,
    next_user: Option<String>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    media: HashMap<String, Media>,
    media_polls: Option<u32>,
    pins: Vec<Pin>,
    fail_next_pin: Option<FailNext>,
}

impl State {
    fn id(&mut self) -> String {
        self.counter += 1;
        (549_755_800_000 + self.counter).to_string()
    }

    fn account(&mut self, username: &str) -> String {
        if let Some(id) = self.usernames.get(username) {
            return id.clone();
        }
        let id = self.id();
        self.accounts.insert(
            id.clone(),
            Account {
                id: id.clone(),
                username: username.to_owned(),
                boards: Vec::new(),
            },
        );
        self.usernames.insert(username.to_owned(), id.clone());
        id
    }

    fn board(&mut self, owner: &str, name: &str, privacy: &str) -> String {
        let existing = self.accounts.get(owner).and_then(|a| {
            a.boards
                .iter()
                .find(|b| self.boards.get(*b).is_some_and(|b| b.name == name))
                .cloned()
        });
        if let Some(id) = existing {
            return id;
        }
        let id = self.id();
        self.boards.insert(
            id.clone(),
            Board {
                id: id.clone(),
                owner: owner.to_owned(),
                name: name.to_owned(),
                privacy: privacy.to_owned(),
            },
        );
        if let Some(account) = self.accounts.get_mut(owner) {
            account.boards.push(id.clone());
        }
        id
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/next_user", web::post().to(next_user))
        .route("/_sandbox/media_polls", web::post().to(media_polls))
        .route("/_sandbox/fail_next_pin", web::post().to(fail_next_pin))
        .route("/_sandbox/expire_tokens", web::post().to(expire_tokens))
        .route("/oauth/", web::get().to(authorize))
        .route("/v5/oauth/token", web::post().to(token_endpoint))
        .route("/v5/user_account", web::get().to(user_account))
        .route("/v5/boards", web::get().to(boards))
        .route("/v5/pins", web::post().to(create_pin))
        .route("/v5/media", web::post().to(register_media))
        .route("/v5/media/{id}", web::get().to(media_status))
        .route("/media-uploads/", web::post().to(storage_upload));
}

/// Every pin the fake holds, oldest first.
pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .pins
        .iter()
        .map(|p| {
            let mut media = vec![
                format!(
                    "board {}",
                    state.boards.get(&p.board).map_or("?", |b| b.name.as_str())
                ),
                p.media.clone(),
            ];
            if let Some(link) = &p.link {
                media.push(format!("link {link}"));
            }
            SandboxPost {
                platform: "pinterest",
                account: state
                    .accounts
                    .get(&p.owner)
                    .map_or_else(|| p.owner.clone(), |a| a.username.clone()),
                id: p.id.clone(),
                text: match &p.title {
                    Some(title) => format!("{title}\n{}", p.description),
                    None => p.description.clone(),
                },
                media,
                reply_to: None,
                url: format!("https://www.pinterest.com/pin/{}/", p.id),
                created_at: p.created_at,
            }
        })
        .collect()
}

// ---- answers in Pinterest's shapes -----------------------------------------------------------

fn error(status: StatusCode, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "code": code, "message": message }))
}

fn invalid(message: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, 1, message)
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn grant(state: &State, req: &HttpRequest) -> Result<Grant, HttpResponse> {
    let refused = || error(StatusCode::UNAUTHORIZED, 2, "Authentication failed.");
    let token = bearer(req).ok_or_else(refused)?;
    let grant = state.access.get(&token).cloned().ok_or_else(refused)?;
    if grant.expires <= Utc::now() {
        return Err(refused());
    }
    Ok(grant)
}

fn json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, HttpResponse> {
    if content_type(req) != "application/json" {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            1,
            "Unsupported media type: send application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(invalid("Invalid JSON body")),
    }
}

fn only(object: &Map<String, Value>, allowed: &[&str]) -> Result<(), HttpResponse> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(&format!(
            "Invalid request: Additional properties are not allowed ('{unknown}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

// ---- OAuth -----------------------------------------------------------------------------------

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "pinterest", &req, b"");
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != PINTEREST_APP_ID || get("response_type") != "code" {
        return HttpResponse::BadRequest().body("Invalid client_id or response_type");
    }
    let Ok(redirect) = url::Url::parse(get("redirect_uri")) else {
        return HttpResponse::BadRequest().body("Invalid redirect_uri");
    };
    let scopes: Vec<String> = get("scope")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return HttpResponse::BadRequest().body(format!("Invalid scope: {unknown}"));
    }
    if REQUIRED_SCOPES
        .iter()
        .any(|r| !scopes.iter().any(|s| s == r))
        || get("state").is_empty()
    {
        return HttpResponse::BadRequest()
            .body("The scope must include boards:read and pins:write, and a state is required");
    }
    let mut pin = lock(&state.pinterest);
    let username = pin
        .next_user
        .take()
        .unwrap_or_else(|| "sandbox_pinner".to_owned());
    let fresh = !pin.usernames.contains_key(&username);
    let account = pin.account(&username);
    if fresh {
        pin.board(&account, "Sandbox board", "PUBLIC");
    }
    let code = token("pinc_");
    pin.codes.insert(
        code.clone(),
        Code {
            account,
            scopes,
            redirect_uri: get("redirect_uri").to_owned(),
            issued: Utc::now(),
        },
    );
    let mut to = redirect;
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", get("state"));
    HttpResponse::Found()
        .insert_header(("location", to.to_string()))
        .finish()
}

fn basic_client(req: &HttpRequest) -> Option<(String, String)> {
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

fn issue(pin: &mut State, account: &str, scopes: &[String], with_refresh: bool) -> Value {
    let access = token("pina_");
    pin.access.insert(
        access.clone(),
        Grant {
            account: account.to_owned(),
            scopes: scopes.to_vec(),
            expires: Utc::now() + Duration::seconds(ACCESS_TTL),
        },
    );
    let mut answer = json!({
        "access_token": access,
        "response_type": if with_refresh { "authorization_code" } else { "refresh_token" },
        "token_type": "bearer",
        "expires_in": ACCESS_TTL,
        "scope": scopes.join(","),
    });
    if with_refresh {
        let refresh = token("pinr_");
        pin.refresh.insert(
            refresh.clone(),
            Grant {
                account: account.to_owned(),
                scopes: scopes.to_vec(),
                expires: Utc::now() + Duration::seconds(REFRESH_TTL),
            },
        );
        answer["refresh_token"] = json!(refresh);
        answer["refresh_token_expires_in"] = json!(REFRESH_TTL);
    }
    answer
}

async fn token_endpoint(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "pinterest", &req, &body);
    match basic_client(&req) {
        Some((id, secret)) if id == PINTEREST_APP_ID && secret == PINTEREST_APP_SECRET => {}
        _ => return error(StatusCode::UNAUTHORIZED, 2, "Authentication failed."),
    }
    if content_type(&req) != "application/x-www-form-urlencoded" {
        return invalid("The body must be application/x-www-form-urlencoded");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.contains_key("client_secret") {
        return invalid("The client authenticates with HTTP Basic, not in the body");
    }
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let mut pin = lock(&state.pinterest);
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = pin.codes.remove(get("code")) else {
                return invalid("Invalid authorization code");
            };
            if code.redirect_uri != get("redirect_uri")
                || Utc::now() - code.issued > Duration::seconds(CODE_TTL)
            {
                return invalid("Invalid authorization code or redirect_uri");
            }
            HttpResponse::Ok().json(issue(&mut pin, &code.account, &code.scopes, true))
        }
        "refresh_token" => {
            let Some(old) = pin.refresh.get(get("refresh_token")).cloned() else {
                return invalid("Invalid refresh token");
            };
            if old.expires <= Utc::now() {
                return invalid("Refresh token expired");
            }
            HttpResponse::Ok().json(issue(&mut pin, &old.account, &old.scopes, false))
        }
        _ => invalid("Invalid grant_type"),
    }
}

// ---- the API ---------------------------------------------------------------------------------

async fn user_account(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "pinterest", &req, b"");
    let pin = lock(&state.pinterest);
    let grant = match grant(&pin, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let Some(account) = pin.accounts.get(&grant.account) else {
        return error(StatusCode::NOT_FOUND, 3, "User not found.");
    };
    HttpResponse::Ok().json(json!({
        "account_type": "BUSINESS",
        "id": account.id,
        "username": account.username,
        "business_name": format!("{} (business)", account.username),
        "profile_image": format!("https://i.pinimg.example/{}.jpg", account.id),
        "website_url": null,
        "board_count": account.boards.len(),
    }))
}

async fn boards(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "pinterest", &req, b"");
    let pin = lock(&state.pinterest);
    let grant = match grant(&pin, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !grant.scopes.iter().any(|s| s == "boards:read") {
        return error(
            StatusCode::FORBIDDEN,
            29,
            "You are not permitted to access that resource.",
        );
    }
    let q = query(&req);
    if let Some(unknown) = q
        .keys()
        .find(|k| !["page_size", "bookmark", "privacy"].contains(&k.as_str()))
    {
        return invalid(&format!("Unknown parameter {unknown}"));
    }
    let page_size = match q.get("page_size").map(|p| p.parse::<usize>()) {
        None => 25,
        Some(Ok(n)) if (1..=250).contains(&n) => n,
        Some(_) => return invalid("page_size must be 1 to 250"),
    };
    let start = match q
        .get("bookmark")
        .map(|b| b.strip_prefix("bm-").map(str::parse::<usize>))
    {
        None => 0,
        Some(Some(Ok(n))) => n,
        Some(_) => return invalid("Invalid bookmark"),
    };
    let ids = pin
        .accounts
        .get(&grant.account)
        .map(|a| a.boards.clone())
        .unwrap_or_default();
    let items: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(page_size)
        .filter_map(|id| pin.boards.get(id))
        .filter(|b| b.privacy != "SECRET" || grant.scopes.iter().any(|s| s == "boards:read_secret"))
        .map(|b| {
            json!({
                "id": b.id,
                "name": b.name,
                "description": "",
                "privacy": b.privacy,
                "owner": { "username": pin.accounts.get(&b.owner).map(|a| a.username.clone()) },
            })
        })
        .collect();
    let end = start + page_size;
    HttpResponse::Ok().json(json!({
        "items": items,
        "bookmark": if end < ids.len() { json!(format!("bm-{end}")) } else { Value::Null },
    }))
}

/// Whether `url` names an image by its extension.
fn image_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let path = parsed.path().to_ascii_lowercase();
    matches!(parsed.scheme(), "http" | "https")
        && parsed.host().is_some()
        && [".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tiff"]
            .iter()
            .any(|e| path.ends_with(e))
}

/// Checks a pin's `media_source`; answers how the listing shows it.
fn media_source(pin: &State, owner: &str, source: &Value) -> Result<String, HttpResponse> {
    let Some(source) = source.as_object() else {
        return Err(invalid("media_source must be an object"));
    };
    match source.get("source_type").and_then(Value::as_str) {
        Some("image_url") => {
            only(source, &["source_type", "url", "is_standard"])?;
            let url = source.get("url").and_then(Value::as_str).unwrap_or("");
            if !image_url(url) {
                return Err(invalid(
                    "Sorry, we could not fetch the image: media_source.url must be the public URL of an image",
                ));
            }
            Ok(format!("image {url}"))
        }
        Some("video_id") => {
            only(
                source,
                &[
                    "source_type",
                    "media_id",
                    "cover_image_url",
                    "cover_image_content_type",
                    "cover_image_data",
                    "cover_image_key_frame_time",
                    "is_standard",
                ],
            )?;
            let has_cover = [
                "cover_image_url",
                "cover_image_data",
                "cover_image_key_frame_time",
            ]
            .iter()
            .any(|k| source.contains_key(*k));
            if !has_cover {
                return Err(invalid(
                    "A video pin needs a cover: cover_image_url, cover_image_data or cover_image_key_frame_time",
                ));
            }
            let id = source.get("media_id").and_then(Value::as_str).unwrap_or("");
            let Some(media) = pin.media.get(id).filter(|m| m.owner == owner) else {
                return Err(error(StatusCode::NOT_FOUND, 3, "Media not found."));
            };
            match (&media.uploaded, media.polls_left) {
                (Some(uploaded), 0) => Ok(uploaded.clone()),
                _ => Err(invalid("The media upload is not processed yet")),
            }
        }
        Some(other) => Err(invalid(&format!("Unsupported source_type {other}"))),
        None => Err(invalid("media_source.source_type is required")),
    }
}

async fn create_pin(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "pinterest", &req, &body);
    let object = match json_object(&req, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    let allowed = [
        "board_id",
        "board_section_id",
        "media_source",
        "title",
        "description",
        "link",
        "alt_text",
        "dominant_color",
        "note",
        "parent_pin_id",
    ];
    if let Err(refused) = only(&object, &allowed) {
        return refused;
    }
    let text = |k: &str| object.get(k).and_then(Value::as_str);
    let over = |k: &str, max: usize| text(k).is_some_and(|t| t.chars().count() > max);
    if over("title", 100) || over("description", 800) || over("alt_text", 500) || over("link", 2048)
    {
        return invalid(
            "Invalid request: a field is longer than Pinterest allows (title 100, description 800, alt_text 500, link 2048)",
        );
    }
    if let Some(link) = text("link")
        && !(link.starts_with("https://") || link.starts_with("http://"))
    {
        return invalid("Invalid request: link must be an http(s) URL");
    }
    let mut guard = lock(&state.pinterest);
    let pin = &mut *guard;
    let grant = match grant(pin, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !grant.scopes.iter().any(|s| s == "pins:write") {
        return error(
            StatusCode::FORBIDDEN,
            29,
            "You are not permitted to access that resource.",
        );
    }
    let Some(board) = text("board_id") else {
        return invalid("Invalid request: board_id is required");
    };
    if pin
        .boards
        .get(board)
        .is_none_or(|b| b.owner != grant.account)
    {
        return error(StatusCode::NOT_FOUND, 2, "Board not found.");
    }
    let Some(source) = object.get("media_source") else {
        return invalid("Invalid request: media_source is required");
    };
    let media = match media_source(pin, &grant.account, source) {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    let fail = pin.fail_next_pin.take();
    if let Some(fail) = fail.filter(|f| !f.after_create) {
        return error(
            StatusCode::from_u16(fail.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            8,
            "Something went wrong on our end.",
        );
    }
    let id = pin.id();
    let created = Pin {
        id: id.clone(),
        owner: grant.account.clone(),
        board: board.to_owned(),
        title: text("title").map(str::to_owned),
        description: text("description").unwrap_or("").to_owned(),
        link: text("link").map(str::to_owned),
        media,
        created_at: Utc::now(),
    };
    let answer = json!({
        "id": id,
        "created_at": created.created_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "board_id": created.board,
        "title": created.title,
        "description": created.description,
        "link": created.link,
        "alt_text": text("alt_text"),
        "board_owner": { "username": pin.accounts.get(&grant.account).map(|a| a.username.clone()) },
        "media": { "media_type": if created.media.starts_with("image ") { "image" } else { "video" } },
    });
    pin.pins.push(created);
    if let Some(fail) = fail {
        return error(
            StatusCode::from_u16(fail.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            8,
            "Something went wrong on our end.",
        );
    }
    HttpResponse::Created().json(answer)
}

async fn register_media(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "pinterest", &req, &body);
    let object = match json_object(&req, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(&object, &["media_type"]) {
        return refused;
    }
    if object.get("media_type").and_then(Value::as_str) != Some("video") {
        return invalid("Invalid request: media_type must be video");
    }
    let mut pin = lock(&state.pinterest);
    let grant = match grant(&pin, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let media_id = pin.id();
    let key = format!("uploads/{}/{media_id}", token("k"));
    let mut parameters = Map::new();
    for (name, value) in [
        ("x-amz-date", "20260101T000000Z".to_owned()),
        ("x-amz-signature", token("sig")),
        ("x-amz-security-token", token("sts")),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("key", key),
        ("policy", token("pol")),
        (
            "x-amz-credential",
            "SANDBOX/20260101/us-east-1/s3/aws4_request".to_owned(),
        ),
        ("Content-Type", "multipart/form-data".to_owned()),
    ] {
        parameters.insert(name.to_owned(), json!(value));
    }
    let polls = pin.media_polls.unwrap_or(1);
    pin.media.insert(
        media_id.clone(),
        Media {
            owner: grant.account,
            parameters: parameters.clone(),
            uploaded: None,
            polls_left: polls,
        },
    );
    let info = req.connection_info();
    HttpResponse::Created().json(json!({
        "media_id": media_id,
        "media_type": "video",
        "upload_url": format!("{}://{}/pinterest/media-uploads/", info.scheme(), info.host()),
        "upload_parameters": parameters,
    }))
}

/// The parts of a multipart body, in order.
async fn parts(req: &HttpRequest, body: web::Bytes) -> Result<Vec<(String, Vec<u8>)>, String> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut multipart = actix_multipart::Multipart::new(req.headers(), stream);
    let mut out = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| e.to_string())?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        out.push((name, bytes));
    }
    Ok(out)
}

fn storage_error(code: &str, message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("application/xml")
        .body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ))
}

async fn storage_upload(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "pinterest", &req, &body);
    if req.headers().contains_key("authorization") {
        return storage_error(
            "InvalidArgument",
            "Only one auth mechanism allowed; the form's policy is the authorization",
        );
    }
    if content_type(&req) != "multipart/form-data" {
        return storage_error("PreconditionFailed", "The upload is a multipart form");
    }
    let fields = match parts(&req, body).await {
        Ok(f) => f,
        Err(e) => return storage_error("MalformedPOSTRequest", &e),
    };
    let Some((last, file)) = fields.last() else {
        return storage_error("MalformedPOSTRequest", "The form is empty");
    };
    if last != "file" || fields.iter().filter(|(n, _)| n == "file").count() != 1 {
        return storage_error(
            "InvalidArgument",
            "The file must be the last field of the form, once",
        );
    }
    let file = file.clone();
    let given: HashMap<&str, String> = fields
        .iter()
        .filter(|(n, _)| n != "file")
        .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let key = given.get("key").cloned().unwrap_or_default();
    let mut pin = lock(&state.pinterest);
    let Some(media) = pin
        .media
        .values_mut()
        .find(|m| m.parameters.get("key").and_then(Value::as_str) == Some(key.as_str()))
    else {
        return storage_error("AccessDenied", "Invalid according to Policy: no such key");
    };
    for (name, value) in &media.parameters {
        if given.get(name.as_str()).map(String::as_str) != value.as_str() {
            return storage_error(
                "AccessDenied",
                &format!("Invalid according to Policy: {name} is missing or altered"),
            );
        }
    }
    if media.uploaded.is_some() {
        return storage_error("AccessDenied", "This upload is complete already");
    }
    if file.is_empty() || file.get(4..8) != Some(b"ftyp".as_slice()) {
        return storage_error("InvalidArgument", "The file is not an MP4 or MOV video");
    }
    media.uploaded = Some(format!("video ({} bytes)", file.len()));
    HttpResponse::NoContent().finish()
}

async fn media_status(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    record(&state, "pinterest", &req, b"");
    let mut pin = lock(&state.pinterest);
    let grant = match grant(&pin, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let id = path.into_inner();
    let Some(media) = pin.media.get_mut(&id).filter(|m| m.owner == grant.account) else {
        return error(StatusCode::NOT_FOUND, 3, "Media not found.");
    };
    let status = match (&media.uploaded, media.polls_left) {
        (None, _) => "registered",
        (Some(_), 0) => "succeeded",
        (Some(_), _) => {
            media.polls_left -= 1;
            "processing"
        }
    };
    HttpResponse::Ok().json(json!({ "media_id": id, "media_type": "video", "status": status }))
}

// ---- control ---------------------------------------------------------------------------------

async fn next_user(state: web::Data<SandboxState>, body: web::Json<NextUser>) -> HttpResponse {
    let next = body.into_inner();
    let mut pin = lock(&state.pinterest);
    let account = pin.account(&next.username);
    let mut boards = Vec::new();
    for spec in &next.boards {
        let (name, privacy) = match spec {
            BoardSpec::Name(name) => (name.clone(), "PUBLIC".to_owned()),
            BoardSpec::Full { name, privacy } => (
                name.clone(),
                privacy.clone().unwrap_or_else(|| "PUBLIC".to_owned()),
            ),
        };
        let id = pin.board(&account, &name, &privacy);
        boards.push(json!({ "id": id, "name": name, "privacy": privacy }));
    }
    pin.next_user = Some(next.username.clone());
    HttpResponse::Ok().json(json!({ "username": next.username, "id": account, "boards": boards }))
}

async fn media_polls(state: web::Data<SandboxState>, body: web::Json<Polls>) -> HttpResponse {
    let polls = body.into_inner();
    lock(&state.pinterest).media_polls = Some(polls.polls);
    HttpResponse::Ok().json(json!({ "polls": polls.polls }))
}

async fn fail_next_pin(state: web::Data<SandboxState>, body: web::Json<FailNext>) -> HttpResponse {
    let fail = body.into_inner();
    if !(400..=599).contains(&fail.status) {
        return HttpResponse::BadRequest().json(json!({ "error": "status must be 400–599" }));
    }
    lock(&state.pinterest).fail_next_pin = Some(fail);
    HttpResponse::Ok().json(json!({ "status": fail.status, "after_create": fail.after_create }))
}

async fn expire_tokens(state: web::Data<SandboxState>) -> HttpResponse {
    let mut pin = lock(&state.pinterest);
    let now = Utc::now();
    for grant in pin.access.values_mut() {
        grant.expires = now;
    }
    HttpResponse::Ok().json(json!({ "expired": pin.access.len() }))
}
