//! The fake of Threads (`/threads`): its OAuth, long-lived tokens and publishing API
//! (`v1.0`).
//!
//! - `GET /oauth/authorize` (`client_id`, `redirect_uri`, `scope` with `threads_basic` and
//!   `threads_content_publish`, `response_type=code`, `state`): approved at once by the next
//!   account; redirects with `code` and `state`.
//! - `POST /oauth/access_token` (form: `client_id`, `client_secret`, `code` single use,
//!   `grant_type=authorization_code`, `redirect_uri` byte for byte) → `{"access_token",
//!   "user_id"}`, a short-lived token (an hour).
//! - `GET /access_token?grant_type=th_exchange_token&client_secret&access_token` → a long-lived
//!   token (60 days); `GET /refresh_access_token?grant_type=th_refresh_token&access_token` → a
//!   new one, only for a long-lived token at least a day old and not expired.
//! - `GET /v1.0/me` (`id`, `username`, `name`, `threads_profile_picture_url`,
//!   `threads_biography`).
//! - `POST /v1.0/{user}/threads`: `media_type` `TEXT` (`text` required), `IMAGE` (`image_url`
//!   of a `.jpg`, `.jpeg` or `.png`), `VIDEO` (`video_url` of a `.mp4` or `.mov`) or
//!   `CAROUSEL` (`children`: 2–20 finished items of the account, each once); `is_carousel_item`
//!   for items; `text` at most 500 characters as Threads counts them (an emoji as its UTF-8
//!   bytes) and at most 5 distinct links (`THREADS_API__LINK_LIMIT_EXCEEDED`); `reply_to_id`
//!   an existing Threads post; `alt_text` → `{"id"}`. `GET /v1.0/{container}` (`status`,
//!   `error_message`). `POST /v1.0/{user}/threads_publish` (`creation_id`) → `{"id"}`. `GET
//!   /v1.0/{user}/threads_publishing_limit` (`fields`: `quota_usage`, `config`,
//!   `reply_quota_usage`, `reply_config`). `GET /v1.0/{user}/threads` (its posts) and
//!   `/replies` (its replies), newest first (`fields` among `id`, `text`, `timestamp`,
//!   `permalink`, `media_type`, `username`; paged). `GET /v1.0/{media}`.
//! - Permissions, as granted at the authorisation: `threads_read_replies` to read `/replies`,
//!   `threads_manage_replies` to post a reply (`reply_to_id`) or read the reply cap (`reply_*`
//!   fields); `(#10)` otherwise.
//!
//! Control (tests), on `/threads/_sandbox/`: `next_user`, `container_polls`,
//! `publishing_limit`, `age_tokens`, as the Instagram fake's.

use std::collections::{BTreeSet, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use multivio_domain::content::count_threads;
use serde_json::json;

use super::{
    Age, Container, Content, Kind, Limit, NextUser, Polls, State, check_version, fields,
    graph_error, invalid_param, known_fields, only, params, permission_denied, require_scope,
    take_children, token_account, unknown_path, url_kind,
};
use crate::common::record;
use crate::credentials::{THREADS_APP_ID, THREADS_APP_SECRET};
use crate::{SandboxState, lock};

/// The API's only version.
const VERSIONS: std::ops::RangeInclusive<u32> = 1..=1;
/// The permissions Threads must be asked for.
const SCOPES: [&str; 2] = ["threads_basic", "threads_content_publish"];
/// The longest text, as Threads counts.
const MAX_TEXT: usize = 500;
/// The most distinct links in a post.
const MAX_LINKS: usize = 5;
/// The most items of a carousel.
const MAX_CHILDREN: usize = 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/next_user", web::post().to(next_user))
        .route("/_sandbox/container_polls", web::post().to(set_polls))
        .route("/_sandbox/container_polls", web::get().to(get_polls))
        .route("/_sandbox/publishing_limit", web::post().to(set_limit))
        .route("/_sandbox/age_tokens", web::post().to(age))
        .route("/oauth/authorize", web::get().to(authorize))
        .route("/oauth/access_token", web::post().to(code_token))
        .route("/access_token", web::get().to(exchange))
        .route("/refresh_access_token", web::get().to(refresh))
        .route("/{version}/{node}", web::get().to(read_node))
        .route("/{version}/{node}/{edge}", web::get().to(read_edge))
        .route("/{version}/{node}/{edge}", web::post().to(write_edge));
}

/// The distinct links of a text: words with a scheme or starting `www.` (trailing punctuation
/// aside).
fn links(text: &str) -> usize {
    text.split_whitespace()
        .map(|w| w.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))
        .collect::<BTreeSet<_>>()
        .len()
}

/// `POST /{user}/threads`: a container of `owner`.
fn create_container(meta: &mut State, owner: &str, p: &HashMap<String, String>) -> HttpResponse {
    let allowed = [
        "media_type",
        "text",
        "image_url",
        "video_url",
        "is_carousel_item",
        "children",
        "reply_to_id",
        "alt_text",
        "reply_control",
        "topic_tag",
        "link_attachment",
        "quote_post_id",
    ];
    if let Err(refused) = only(p, &allowed) {
        return refused;
    }
    let get = |k: &str| p.get(k).map(String::as_str);
    let text = get("text").unwrap_or("").to_owned();
    if count_threads(&text) > MAX_TEXT {
        return invalid_param("Param text must be at most 500 characters long.");
    }
    if links(&text) > MAX_LINKS {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "THREADS_API__LINK_LIMIT_EXCEEDED: a post may have at most 5 links",
        );
    }
    let item = match get("is_carousel_item") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return invalid_param("Param is_carousel_item must be a boolean"),
    };
    let reply_to = get("reply_to_id").map(str::to_owned);
    if let Some(parent) = &reply_to {
        let exists = meta
            .published_index
            .get(parent)
            .is_some_and(|&i| meta.published[i].kind == Kind::Threads);
        if !exists {
            return invalid_param("Param reply_to_id is not a Threads post");
        }
    }
    let media_url = |key: &str, wanted: &str| -> Result<String, HttpResponse> {
        let url = get(key).unwrap_or("");
        match url_kind(url) {
            Some(kind) if kind == wanted => Ok(url.to_owned()),
            _ => Err(invalid_param(&format!(
                "Param {key} must be the public URL of {}",
                if wanted == "image" {
                    "a JPEG or PNG image"
                } else {
                    "an MP4 or MOV video"
                }
            ))),
        }
    };
    let content = match get("media_type") {
        Some("TEXT") if !item => {
            if text.is_empty() {
                return invalid_param("Param text is required for a TEXT post");
            }
            if get("image_url").is_some() || get("video_url").is_some() {
                return invalid_param("A TEXT post has no media");
            }
            Content::Text
        }
        Some("IMAGE") => match media_url("image_url", "image") {
            Ok(url) => Content::Image(url),
            Err(refused) => return refused,
        },
        Some("VIDEO") => match media_url("video_url", "video") {
            Ok(url) => Content::Video(url),
            Err(refused) => return refused,
        },
        Some("CAROUSEL") if !item => {
            let children = get("children").unwrap_or("").to_owned();
            match take_children(meta, Kind::Threads, owner, &children, MAX_CHILDREN) {
                Ok(ids) => Content::Carousel(ids),
                Err(refused) => return refused,
            }
        }
        Some(other) => {
            return invalid_param(&format!("Param media_type {other} is not valid here"));
        }
        None => return invalid_param("The parameter media_type is required"),
    };
    let alt = get("alt_text").map(str::to_owned);
    super::new_container(
        meta,
        Container {
            kind: Kind::Threads,
            owner: owner.to_owned(),
            content,
            text,
            carousel_item: item,
            reply_to,
            alt_text: alt,
            polls_left: 0,
            used: false,
            published: None,
        },
    )
}

async fn next_user(state: web::Data<SandboxState>, body: web::Json<NextUser>) -> HttpResponse {
    super::set_next_user(&state, Kind::Threads, body.into_inner())
}

async fn set_polls(state: web::Data<SandboxState>, body: web::Json<Polls>) -> HttpResponse {
    super::set_container_polls(&state, Kind::Threads, Some(body.into_inner()))
}

async fn get_polls(state: web::Data<SandboxState>) -> HttpResponse {
    super::set_container_polls(&state, Kind::Threads, None)
}

async fn set_limit(state: web::Data<SandboxState>, body: web::Json<Limit>) -> HttpResponse {
    super::set_publishing_limit(&state, Kind::Threads, body.into_inner())
}

async fn age(state: web::Data<SandboxState>, body: web::Json<Age>) -> HttpResponse {
    super::age_tokens(&state, Kind::Threads, body.into_inner())
}

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "threads", &req, b"");
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    super::authorize(
        &mut lock(&state.meta),
        Kind::Threads,
        &p,
        THREADS_APP_ID,
        &SCOPES,
    )
}

async fn code_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "threads", &req, &body);
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(
        &p,
        &[
            "client_id",
            "client_secret",
            "code",
            "grant_type",
            "redirect_uri",
        ],
    ) {
        return refused;
    }
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != THREADS_APP_ID || get("client_secret") != THREADS_APP_SECRET {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "Error validating client secret.",
        );
    }
    if get("grant_type") != "authorization_code" {
        return invalid_param("grant_type must be authorization_code");
    }
    let mut meta = lock(&state.meta);
    let Some(granted) =
        super::take_code(&mut meta, Kind::Threads, get("code"), get("redirect_uri"))
    else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36_009),
            "Invalid authorization code: used, expired, or for another redirect_uri",
        );
    };
    let account = granted.account;
    let (value, _) = super::issue(&mut meta, Kind::Threads, &account, granted.scopes, false);
    let user_id: serde_json::Value = account
        .parse::<u64>()
        .map_or_else(|_| json!(account), |n| json!(n));
    HttpResponse::Ok().json(json!({ "access_token": value, "user_id": user_id }))
}

async fn exchange(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "threads", &req, b"");
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    super::long_lived_token(
        &mut lock(&state.meta),
        Kind::Threads,
        &p,
        false,
        THREADS_APP_SECRET,
    )
}

async fn refresh(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "threads", &req, b"");
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    super::long_lived_token(
        &mut lock(&state.meta),
        Kind::Threads,
        &p,
        true,
        THREADS_APP_SECRET,
    )
}

type Path2 = web::Path<(String, String)>;
type Path3 = web::Path<(String, String, String)>;

async fn read_node(state: web::Data<SandboxState>, req: HttpRequest, path: Path2) -> HttpResponse {
    record(&state, "threads", &req, b"");
    let (version, node) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut meta = lock(&state.meta);
    let owner = match token_account(&meta, Kind::Threads, &p) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(&p, &["fields"]) {
        return refused;
    }
    if node == "me" {
        let asked = fields(&p, "id");
        let known = [
            "id",
            "username",
            "name",
            "threads_profile_picture_url",
            "threads_biography",
        ];
        if let Err(refused) = known_fields(&asked, &known, "ThreadsUser") {
            return refused;
        }
        let Some(account) = meta.accounts.get(&owner).cloned() else {
            return permission_denied("The token's account no longer exists");
        };
        let mut answer = json!({ "id": account.id });
        for field in &asked {
            match field.as_str() {
                "username" => answer["username"] = json!(account.username),
                "name" => answer["name"] = json!(account.name),
                "threads_biography" => answer["threads_biography"] = json!(""),
                _ => {}
            }
        }
        return HttpResponse::Ok().json(answer);
    }
    if meta.containers.contains_key(&node) {
        super::container_status(&mut meta, &node, &owner, &p)
    } else {
        super::read_post(&meta, &node, &owner, &p)
    }
}

fn own_node(owner: &str, node: &str) -> Result<(), HttpResponse> {
    if node == "me" || node == owner {
        Ok(())
    } else {
        Err(permission_denied(
            "The token is not for this Threads account",
        ))
    }
}

async fn read_edge(state: web::Data<SandboxState>, req: HttpRequest, path: Path3) -> HttpResponse {
    record(&state, "threads", &req, b"");
    let (version, node, edge) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let meta = lock(&state.meta);
    let owner = match token_account(&meta, Kind::Threads, &p) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = own_node(&owner, &node) {
        return refused;
    }
    // Reading replies takes a permission of its own; the reply cap, the replies' publishing
    // permission.
    let needs = match edge.as_str() {
        "replies" => Some("threads_read_replies"),
        "threads_publishing_limit" if p.get("fields").is_some_and(|f| f.contains("reply_")) => {
            Some("threads_manage_replies")
        }
        _ => None,
    };
    if let Some(Err(refused)) = needs.map(|scope| require_scope(&meta, &p, scope)) {
        return refused;
    }
    match edge.as_str() {
        "threads_publishing_limit" => super::publishing_limit(&meta, Kind::Threads, &owner, &p),
        "threads" => super::list_posts(&meta, &req, Kind::Threads, &owner, Some(false), &p),
        "replies" => super::list_posts(&meta, &req, Kind::Threads, &owner, Some(true), &p),
        _ => unknown_path(&req),
    }
}

async fn write_edge(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: Path3,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "threads", &req, &body);
    let (version, node, edge) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut meta = lock(&state.meta);
    let owner = match token_account(&meta, Kind::Threads, &p) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = own_node(&owner, &node) {
        return refused;
    }
    if edge == "threads"
        && p.contains_key("reply_to_id")
        && let Err(refused) = require_scope(&meta, &p, "threads_manage_replies")
    {
        return refused;
    }
    match edge.as_str() {
        "threads" => create_container(&mut meta, &owner, &p),
        "threads_publish" => super::publish(&mut meta, Kind::Threads, &owner, &p),
        _ => unknown_path(&req),
    }
}
