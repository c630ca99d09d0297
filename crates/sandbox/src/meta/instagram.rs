//! The fake of Instagram Login and Instagram's Graph API (`/instagram`), and Instagram's media
//! containers, which the Facebook fake serves too for accounts linked to a Page.
//!
//! - `GET /oauth/authorize` (`client_id`, `redirect_uri`, `response_type=code`, `scope` with
//!   `instagram_business_basic` and `instagram_business_content_publish`, `state`): approved at
//!   once by the next account; redirects with `code` and `state` (and Instagram's `#_`).
//! - `POST /oauth/access_token` (form: `client_id`, `client_secret`,
//!   `grant_type=authorization_code`, `redirect_uri` byte for byte, `code` single use) →
//!   `{"data": [{"access_token", "user_id", "permissions"}]}` (a short-lived token); errors as
//!   `{"error_type": "OAuthException", "code": 400, "error_message"}`.
//! - `GET /access_token?grant_type=ig_exchange_token&client_secret&access_token` → a long-lived
//!   token (60 days); `GET /refresh_access_token?grant_type=ig_refresh_token&access_token` → a
//!   new one, once the token is a day old. `{"access_token", "token_type", "expires_in"}`.
//! - `GET /{version}/me` (`id`, `user_id`, `username`, `name`, `account_type`, `media_count`).
//! - Containers, `POST /{version}/{ig-user}/media`: an image (`image_url` of a `.jpg`, `.jpeg`
//!   or `.png`), a Reel (`media_type=REELS`, `video_url` of a `.mp4` or `.mov`), a carousel item
//!   (`is_carousel_item=true` with an image, or `media_type=VIDEO` and `video_url`), or a
//!   carousel (`media_type=CAROUSEL`, `children`: 2–10 finished items of the account, each
//!   once); `caption` at most 2,200 characters (not on items) → `{"id"}`. `GET /{container}`
//!   (`status_code`, `status`). `POST /{ig-user}/media_publish` (`creation_id`) → `{"id"}`.
//!   `GET /{ig-user}/content_publishing_limit` (`fields`: `quota_usage`, `config`; `since`).
//!   `GET /{ig-user}/media` (`fields` among `id`, `caption`, `timestamp`, `permalink`,
//!   `media_type`, `username`; paged), newest first. `GET /{media}` (the same fields).
//!
//! Control (tests), on `/instagram/_sandbox/`:
//! - `next_user {"username"}`: who approves the next Instagram Login.
//! - `container_polls {"polls": N}`: each container created afterwards answers `IN_PROGRESS`
//!   for its first N status reads (`GET` answers the number in force).
//! - `publishing_limit {"username", "quota_total"?, "published_at": [RFC 3339 times]}`: the
//!   account's cap, and publications made through the API earlier (counted by the cap, listed
//!   among its media, not among the sandbox's posts).
//! - `age_tokens {"hours": H}`: every Instagram token was issued H hours earlier.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{
    Age, Container, Content, Kind, Limit, NextUser, Polls, State, check_version, fields,
    graph_error, invalid_param, known_fields, only, params, permission_denied, take_children,
    token_account, unknown_path, url_kind,
};
use crate::common::record;
use crate::credentials::{INSTAGRAM_APP_ID, INSTAGRAM_APP_SECRET};
use crate::{SandboxState, lock};

/// The Graph API versions the fake serves (`vNN.0`).
const VERSIONS: std::ops::RangeInclusive<u32> = 21..=26;
/// The permissions Instagram Login must be asked for.
const SCOPES: [&str; 2] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
];
/// The longest caption.
const MAX_CAPTION: usize = 2_200;
/// The most items of a carousel.
const MAX_CHILDREN: usize = 10;

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

/// An error of `api.instagram.com`'s OAuth endpoints.
fn flat_error(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "error_type": "OAuthException",
        "code": 400,
        "error_message": message,
    }))
}

/// `POST /{ig-user}/media`: a container of `owner`.
pub(crate) fn create_container(
    meta: &mut State,
    owner: &str,
    p: &HashMap<String, String>,
) -> HttpResponse {
    let allowed = [
        "image_url",
        "video_url",
        "media_type",
        "caption",
        "is_carousel_item",
        "children",
        "alt_text",
        "share_to_feed",
        "cover_url",
        "thumb_offset",
        "location_id",
        "user_tags",
        "collaborators",
    ];
    if let Err(refused) = only(p, &allowed) {
        return refused;
    }
    let get = |k: &str| p.get(k).map(String::as_str);
    let item = match get("is_carousel_item") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return invalid_param("Param is_carousel_item must be a boolean"),
    };
    let caption = get("caption").unwrap_or("").to_owned();
    if caption.chars().count() > MAX_CAPTION {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(2_207_010),
            "The caption is too long: at most 2,200 characters",
        );
    }
    if item && !caption.is_empty() {
        return invalid_param("A carousel item has no caption; the carousel has it");
    }
    let media_url = |key: &str, wanted: &str| -> Result<String, HttpResponse> {
        let url = get(key).unwrap_or("");
        match url_kind(url) {
            Some(kind) if kind == wanted => Ok(url.to_owned()),
            Some(_) => Err(graph_error(
                StatusCode::BAD_REQUEST,
                9004,
                Some(2_207_005),
                "The media format is not supported: images are JPEG (or PNG), videos MP4 or MOV",
            )),
            None => Err(graph_error(
                StatusCode::BAD_REQUEST,
                9004,
                Some(2_207_052),
                "The media could not be fetched from this uri",
            )),
        }
    };
    let content = match (get("media_type"), item) {
        (None | Some("IMAGE"), _) => {
            if get("video_url").is_some() {
                return invalid_param("A video needs media_type REELS (or VIDEO in a carousel)");
            }
            match media_url("image_url", "image") {
                Ok(url) => Content::Image(url),
                Err(refused) => return refused,
            }
        }
        (Some("REELS"), false) | (Some("VIDEO"), true) => {
            if get("image_url").is_some() {
                return invalid_param("A video container takes video_url, not image_url");
            }
            match media_url("video_url", "video") {
                Ok(url) => Content::Video(url),
                Err(refused) => return refused,
            }
        }
        (Some("CAROUSEL"), false) => {
            if get("image_url").is_some() || get("video_url").is_some() {
                return invalid_param("A carousel takes children, not media URLs");
            }
            let children = get("children").unwrap_or("").to_owned();
            match take_children(meta, Kind::Instagram, owner, &children, MAX_CHILDREN) {
                Ok(ids) => Content::Carousel(ids),
                Err(refused) => return refused,
            }
        }
        (Some(other), _) => {
            return invalid_param(&format!(
                "Param media_type {other} is not valid here (REELS, CAROUSEL, or VIDEO for a \
                 carousel item)"
            ));
        }
    };
    let alt = get("alt_text").map(str::to_owned);
    super::new_container(
        meta,
        Container {
            kind: Kind::Instagram,
            owner: owner.to_owned(),
            content,
            text: caption,
            carousel_item: item,
            reply_to: None,
            alt_text: alt,
            polls_left: 0,
            used: false,
            published: None,
        },
    )
}

async fn next_user(state: web::Data<SandboxState>, body: web::Json<NextUser>) -> HttpResponse {
    super::set_next_user(&state, Kind::Instagram, body.into_inner())
}

async fn set_polls(state: web::Data<SandboxState>, body: web::Json<Polls>) -> HttpResponse {
    super::set_container_polls(&state, Kind::Instagram, Some(body.into_inner()))
}

async fn get_polls(state: web::Data<SandboxState>) -> HttpResponse {
    super::set_container_polls(&state, Kind::Instagram, None)
}

async fn set_limit(state: web::Data<SandboxState>, body: web::Json<Limit>) -> HttpResponse {
    super::set_publishing_limit(&state, Kind::Instagram, body.into_inner())
}

async fn age(state: web::Data<SandboxState>, body: web::Json<Age>) -> HttpResponse {
    super::age_tokens(&state, Kind::Instagram, body.into_inner())
}

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "instagram", &req, b"");
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    super::authorize(
        &mut lock(&state.meta),
        Kind::Instagram,
        &p,
        INSTAGRAM_APP_ID,
        &SCOPES,
    )
}

async fn code_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "instagram", &req, &body);
    if crate::common::content_type(&req) != "application/x-www-form-urlencoded" {
        return flat_error("The request body must be form-encoded");
    }
    let f: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != INSTAGRAM_APP_ID || get("client_secret") != INSTAGRAM_APP_SECRET {
        return flat_error("Invalid platform app");
    }
    if get("grant_type") != "authorization_code" {
        return flat_error("Invalid grant_type: authorization_code expected");
    }
    let mut meta = lock(&state.meta);
    let Some(granted) =
        super::take_code(&mut meta, Kind::Instagram, get("code"), get("redirect_uri"))
    else {
        return flat_error("Invalid authorization code");
    };
    let account = granted.account;
    let (value, _) = super::issue(&mut meta, Kind::Instagram, &account, granted.scopes, false);
    let user_id: serde_json::Value = account
        .parse::<u64>()
        .map_or_else(|_| json!(account), |n| json!(n));
    HttpResponse::Ok().json(json!({
        "data": [{
            "access_token": value,
            "user_id": user_id,
            "permissions": SCOPES.join(","),
        }]
    }))
}

async fn exchange(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "instagram", &req, b"");
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    super::long_lived_token(
        &mut lock(&state.meta),
        Kind::Instagram,
        &p,
        false,
        INSTAGRAM_APP_SECRET,
    )
}

async fn refresh(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "instagram", &req, b"");
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    super::long_lived_token(
        &mut lock(&state.meta),
        Kind::Instagram,
        &p,
        true,
        INSTAGRAM_APP_SECRET,
    )
}

type Path2 = web::Path<(String, String)>;
type Path3 = web::Path<(String, String, String)>;

async fn read_node(state: web::Data<SandboxState>, req: HttpRequest, path: Path2) -> HttpResponse {
    record(&state, "instagram", &req, b"");
    let (version, node) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut meta = lock(&state.meta);
    let owner = match token_account(&meta, Kind::Instagram, &p) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(&p, &["fields"]) {
        return refused;
    }
    if node == "me" {
        let asked = fields(&p, "id,username");
        let known = [
            "id",
            "user_id",
            "username",
            "name",
            "account_type",
            "media_count",
        ];
        if let Err(refused) = known_fields(&asked, &known, "User") {
            return refused;
        }
        let Some(account) = meta.accounts.get(&owner).cloned() else {
            return permission_denied("The token's account no longer exists");
        };
        let media = meta.published.iter().filter(|m| m.owner == owner).count();
        // `id` is app-scoped; `user_id` is the professional account's id, used to publish.
        let mut answer = json!({ "id": format!("9{}", account.id) });
        for field in &asked {
            match field.as_str() {
                "user_id" => answer["user_id"] = json!(account.id),
                "username" => answer["username"] = json!(account.username),
                "name" => answer["name"] = json!(account.name),
                "account_type" => answer["account_type"] = json!("BUSINESS"),
                "media_count" => answer["media_count"] = json!(media),
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

/// The account a call on node `node` is for: the token's own (`me` or its id).
fn own_node(owner: &str, node: &str) -> Result<(), HttpResponse> {
    if node == "me" || node == owner {
        Ok(())
    } else {
        Err(permission_denied(
            "The token is not for this Instagram account",
        ))
    }
}

async fn read_edge(state: web::Data<SandboxState>, req: HttpRequest, path: Path3) -> HttpResponse {
    record(&state, "instagram", &req, b"");
    let (version, node, edge) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let meta = lock(&state.meta);
    let owner = match token_account(&meta, Kind::Instagram, &p) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = own_node(&owner, &node) {
        return refused;
    }
    match edge.as_str() {
        "content_publishing_limit" => super::publishing_limit(&meta, Kind::Instagram, &owner, &p),
        "media" => super::list_posts(&meta, &req, Kind::Instagram, &owner, None, &p),
        _ => unknown_path(&req),
    }
}

async fn write_edge(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: Path3,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "instagram", &req, &body);
    let (version, node, edge) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut meta = lock(&state.meta);
    let owner = match token_account(&meta, Kind::Instagram, &p) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = own_node(&owner, &node) {
        return refused;
    }
    match edge.as_str() {
        "media" => create_container(&mut meta, &owner, &p),
        "media_publish" => super::publish(&mut meta, Kind::Instagram, &owner, &p),
        _ => unknown_path(&req),
    }
}
