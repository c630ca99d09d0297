//! The fake of Facebook (`/facebook`): Facebook Login's dialog and tokens, a person's Pages, Page
//! posts, and the Graph API of the Instagram accounts linked to Pages.
//!
//! - `GET /{version}/dialog/oauth` (`client_id`, `redirect_uri`, `state`, `response_type=code`,
//!   `scope`, comma-separated, with `pages_show_list` and either `pages_manage_posts` and
//!   `pages_read_engagement`, or `instagram_basic` and `instagram_content_publish`): approved at
//!   once by the next login's person, granting its Pages; redirects with `code` and `state`.
//! - `GET /{version}/oauth/access_token`: `client_id`, `client_secret`, `redirect_uri` (byte for
//!   byte the dialog's) and `code` (single use, ten minutes) → a short-lived user token (an
//!   hour); `grant_type=fb_exchange_token`, `client_id`, `client_secret`, `fb_exchange_token` → a
//!   long-lived one (60 days). `{"access_token", "token_type": "bearer", "expires_in"}`.
//! - Graph calls need `access_token` and `appsecret_proof`. `GET /me` (`id`, `name`); `GET
//!   /me/accounts` (a user token with `pages_show_list`): the granted Pages with `id`, `name`,
//!   `category`, `access_token` (the Page token, which does not expire), `tasks` and, when
//!   asked, `instagram_business_account{id,username,name}`; paged (`limit`, `after`).
//! - Posting needs the Page's own token: `POST /{page}/photos` (`url` of a `.jpg`, `.jpeg`,
//!   `.png` or `.gif`, `published=false` for a photo to attach; else code 324) → `{"id"}`;
//!   `POST /{page}/feed` (`message`, `link`, `attached_media[i]={"media_fbid": …}` naming the
//!   Page's unpublished photos, each once; at least one of them; `link` and `attached_media`
//!   not together; the same message twice in a row is a duplicate, code 506) → `{"id":
//!   "{page}_{post}"}`; `POST /{page}/videos` on the video host (`/facebook-video`, as
//!   `graph-video.facebook.com`; only there: elsewhere code 100) (`file_url` of a `.mp4` or
//!   `.mov`, `description`, `title`) → `{"id"}`. `GET /{page}/published_posts` (`fields` among `id`,
//!   `message`, `created_time`; `since`, `until` as Unix times; paged) lists them newest
//!   first.
//! - Instagram accounts linked to a Page, with that Page's token or the token of a person who
//!   granted it: `POST /{ig-user}/media`, `POST /{ig-user}/media_publish`, `GET
//!   /{ig-user}/content_publishing_limit`, `GET /{ig-user}/media`, `GET /{container}`, `GET
//!   /{media}` — as the Instagram fake serves them ([`super::instagram`]).
//!
//! Control (tests):
//! - `POST /facebook/_sandbox/next_login {"name": "…", "pages": [{"name": "…", "instagram":
//!   "username" | null, "tasks": ["CREATE_CONTENT", …], "category": "…"}]}`: who approves the
//!   next login and the Pages it grants, in that order (a person's Page of that name is reused;
//!   an Instagram username links that account to the Page). Answers `{"person": id, "pages":
//!   [{"id", "name", "instagram": id | null}]}`. Without it, "Sandbox Person" grants "Sandbox
//!   Page", linked to the Instagram account `sandbox_ig`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    FacebookCode, Kind, Page, PagePost, Photo, State, UserToken, check_version, fields,
    graph_error, instagram, invalid_param, invalid_token, known_fields, list_page, meta_time, only,
    params, permission_denied, unknown_path, url_kind,
};
use crate::common::{record, token};
use crate::credentials::{FACEBOOK_APP_ID, FACEBOOK_APP_SECRET};
use crate::{SandboxState, lock};

/// The Graph API versions the fake serves (`vNN.0`).
const VERSIONS: std::ops::RangeInclusive<u32> = 21..=26;
/// The tasks a Page grants by default (everything).
const ALL_TASKS: [&str; 6] = [
    "ADVERTISE",
    "ANALYZE",
    "CREATE_CONTENT",
    "MESSAGING",
    "MODERATE",
    "MANAGE",
];
/// The longest Page post message.
const MAX_MESSAGE: usize = 63_206;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/next_login", web::post().to(next_login))
        .route("/{version}/dialog/oauth", web::get().to(dialog))
        .route("/{version}/oauth/access_token", web::get().to(access_token))
        .route("/{version}/{node}", web::get().to(read_node))
        .route("/{version}/{node}/{edge}", web::get().to(read_edge))
        .route("/{version}/{node}/{edge}", web::post().to(write_edge));
}

/// The Graph API's video host (`/facebook-video`, as `graph-video.facebook.com`): video
/// uploads only.
pub fn configure_video(cfg: &mut web::ServiceConfig) {
    cfg.route("/{version}/{node}/{edge}", web::post().to(write_edge));
}

/// Whether `req` came to the video host.
fn on_video_host(req: &HttpRequest) -> bool {
    req.path().starts_with("/facebook-video/")
}

/// A post's public page.
pub(crate) fn post_url(page: &str, id: &str) -> String {
    match id.split_once('_') {
        Some((owner, post)) => format!("https://www.facebook.com/{owner}/posts/{post}"),
        None => format!("https://www.facebook.com/{page}/videos/{id}"),
    }
}

/// Who approves the next login and the Pages it grants (ids).
#[derive(Debug, Clone)]
pub(crate) struct NextLogin {
    person: String,
    pages: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageSpec {
    name: String,
    #[serde(default)]
    instagram: Option<String>,
    #[serde(default)]
    tasks: Option<Vec<String>>,
    #[serde(default)]
    category: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginSpec {
    #[serde(default)]
    name: Option<String>,
    pages: Vec<PageSpec>,
}

/// Creates (or finds) the person and Pages of `spec`.
fn materialize(meta: &mut State, spec: &LoginSpec) -> NextLogin {
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| "Sandbox Person".to_owned());
    let person = match meta.people.values().find(|p| p.name == name) {
        Some(p) => p.id.clone(),
        None => {
            let id = meta.id(100_000);
            meta.people.insert(
                id.clone(),
                super::Person {
                    id: id.clone(),
                    name: name.clone(),
                },
            );
            id
        }
    };
    let mut pages = Vec::new();
    for page in &spec.pages {
        let existing = meta
            .pages
            .values()
            .find(|p| p.owner == person && p.name == page.name)
            .map(|p| p.id.clone());
        let id = match existing {
            Some(id) => id,
            None => {
                let id = meta.id(101_100);
                let token = token("EAAGpage");
                meta.page_tokens.insert(token.clone(), id.clone());
                meta.pages.insert(
                    id.clone(),
                    Page {
                        id: id.clone(),
                        name: page.name.clone(),
                        owner: person.clone(),
                        category: "Local business".to_owned(),
                        tasks: ALL_TASKS.iter().map(|t| (*t).to_owned()).collect(),
                        token,
                        instagram: None,
                    },
                );
                id
            }
        };
        let instagram = page
            .instagram
            .as_ref()
            .map(|username| meta.account(Kind::Instagram, username));
        if let Some(ig) = &instagram
            && let Some(account) = meta.accounts.get_mut(ig)
        {
            account.page = Some(id.clone());
        }
        if let Some(p) = meta.pages.get_mut(&id) {
            if let Some(tasks) = &page.tasks {
                p.tasks = tasks.clone();
            }
            if let Some(category) = &page.category {
                p.category = category.clone();
            }
            if instagram.is_some() {
                p.instagram = instagram;
            }
        }
        pages.push(id);
    }
    NextLogin { person, pages }
}

fn default_login() -> LoginSpec {
    LoginSpec {
        name: None,
        pages: vec![PageSpec {
            name: "Sandbox Page".to_owned(),
            instagram: Some("sandbox_ig".to_owned()),
            tasks: None,
            category: None,
        }],
    }
}

async fn next_login(state: web::Data<SandboxState>, body: web::Json<LoginSpec>) -> HttpResponse {
    let mut meta = lock(&state.meta);
    let login = materialize(&mut meta, &body);
    let pages: Vec<Value> = login
        .pages
        .iter()
        .filter_map(|id| meta.pages.get(id))
        .map(|p| json!({ "id": p.id, "name": p.name, "instagram": p.instagram }))
        .collect();
    let answer = json!({ "person": login.person, "pages": pages });
    meta.next_login = Some(login);
    HttpResponse::Ok().json(answer)
}

// ---- Facebook Login --------------------------------------------------------------------------

async fn dialog(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    record(&state, "facebook", &req, b"");
    if let Err(refused) = check_version(&req, &path, VERSIONS) {
        return refused;
    }
    let q: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != FACEBOOK_APP_ID {
        return HttpResponse::BadRequest().body("Invalid App ID");
    }
    if !matches!(get("response_type"), "" | "code") {
        return HttpResponse::BadRequest().body("Invalid response_type");
    }
    let Ok(mut back) = url::Url::parse(get("redirect_uri")) else {
        return HttpResponse::BadRequest().body("URL blocked: the redirect_uri is not valid");
    };
    let scopes: Vec<String> = get("scope")
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let has = |s: &str| scopes.iter().any(|g| g == s);
    let pages_ok = has("pages_manage_posts") && has("pages_read_engagement");
    let instagram_ok = has("instagram_basic") && has("instagram_content_publish");
    if !has("pages_show_list") || !(pages_ok || instagram_ok) || get("state").is_empty() {
        return HttpResponse::BadRequest().body(
            "Invalid scope or state: pages_show_list with pages_manage_posts and \
             pages_read_engagement, or with instagram_basic and instagram_content_publish",
        );
    }
    let mut meta = lock(&state.meta);
    let login = match meta.next_login.take() {
        Some(login) => login,
        None => materialize(&mut meta, &default_login()),
    };
    let code = token("AQfbcode");
    meta.facebook_codes.insert(
        code.clone(),
        FacebookCode {
            person: login.person,
            pages: login.pages,
            scopes,
            redirect_uri: get("redirect_uri").to_owned(),
            issued: Utc::now(),
        },
    );
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", get("state"));
    HttpResponse::Found()
        .insert_header(("location", back.to_string()))
        .finish()
}

fn issue_user_token(meta: &mut State, code: &FacebookCode, long_lived: bool) -> Value {
    let ttl = if long_lived {
        super::LONG_TTL
    } else {
        super::SHORT_TTL
    };
    let value = token(if long_lived { "EAAGlong" } else { "EAAGshort" });
    meta.user_tokens.insert(
        value.clone(),
        UserToken {
            person: code.person.clone(),
            pages: code.pages.clone(),
            scopes: code.scopes.clone(),
            expires: Utc::now() + Duration::seconds(ttl),
        },
    );
    json!({ "access_token": value, "token_type": "bearer", "expires_in": ttl })
}

async fn access_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    record(&state, "facebook", &req, b"");
    if let Err(refused) = check_version(&req, &path, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != FACEBOOK_APP_ID {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    if get("client_secret") != FACEBOOK_APP_SECRET {
        return graph_error(
            StatusCode::BAD_REQUEST,
            1,
            None,
            "Error validating client secret.",
        );
    }
    let mut meta = lock(&state.meta);
    if get("grant_type") == "fb_exchange_token" {
        if let Err(refused) = only(
            &p,
            &[
                "grant_type",
                "client_id",
                "client_secret",
                "fb_exchange_token",
            ],
        ) {
            return refused;
        }
        let Some(user) = meta
            .user_tokens
            .get(get("fb_exchange_token"))
            .filter(|t| t.expires > Utc::now())
            .cloned()
        else {
            return invalid_token("Invalid OAuth access token - Cannot parse access token");
        };
        let code = FacebookCode {
            person: user.person,
            pages: user.pages,
            scopes: user.scopes,
            redirect_uri: String::new(),
            issued: Utc::now(),
        };
        let answer = issue_user_token(&mut meta, &code, true);
        return HttpResponse::Ok().json(answer);
    }
    if let Err(refused) = only(&p, &["client_id", "client_secret", "redirect_uri", "code"]) {
        return refused;
    }
    let Some(code) = meta.facebook_codes.remove(get("code")) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36_009),
            "This authorization code has been used or is invalid.",
        );
    };
    if code.redirect_uri != get("redirect_uri") {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36_008),
            "Error validating verification code. Please make sure your redirect_uri is identical \
             to the one you used in the OAuth dialog request",
        );
    }
    if (Utc::now() - code.issued).num_seconds() > super::CODE_TTL {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36_007),
            "This authorization code has expired.",
        );
    }
    let answer = issue_user_token(&mut meta, &code, false);
    HttpResponse::Ok().json(answer)
}

// ---- Graph calls -----------------------------------------------------------------------------

/// Who a Graph call is made as.
#[derive(Debug, Clone)]
enum Caller {
    User(UserToken),
    Page(String),
}

/// The caller of a Graph call: a known, unexpired token with its `appsecret_proof`.
fn caller(meta: &State, p: &HashMap<String, String>) -> Result<Caller, HttpResponse> {
    let Some(given) = p.get("access_token") else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            104,
            None,
            "An access token is required to request this resource.",
        ));
    };
    // Computed here, not with the adapter's function, so that the two check each other.
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, FACEBOOK_APP_SECRET.as_bytes());
    let proof = hex::encode(ring::hmac::sign(&key, given.as_bytes()).as_ref());
    match p.get("appsecret_proof") {
        None => {
            return Err(invalid_param(
                "API calls from the server require an appsecret_proof argument",
            ));
        }
        Some(sent) if *sent != proof => {
            return Err(invalid_param(
                "Invalid appsecret_proof provided in the API argument",
            ));
        }
        Some(_) => {}
    }
    if let Some(page) = meta.page_tokens.get(given) {
        return Ok(Caller::Page(page.clone()));
    }
    match meta.user_tokens.get(given) {
        Some(t) if t.expires > Utc::now() => Ok(Caller::User(t.clone())),
        Some(_) => Err(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            Some(463),
            "Error validating access token: Session has expired.",
        )),
        None => Err(invalid_token(
            "Invalid OAuth access token - Cannot parse access token",
        )),
    }
}

/// The Instagram account `ig` when the caller may act for it: its Page's token, or a person
/// who granted that Page with Instagram's permissions.
fn instagram_owner(meta: &State, who: &Caller, ig: &str) -> Result<String, HttpResponse> {
    let Some(page) = meta
        .accounts
        .get(ig)
        .filter(|a| a.kind == Kind::Instagram)
        .and_then(|a| a.page.clone())
    else {
        return Err(invalid_param(&format!(
            "Unsupported request: object {ig} does not exist or is no Instagram account linked \
             to a Page"
        )));
    };
    let allowed = match who {
        Caller::Page(p) => *p == page,
        Caller::User(t) => {
            t.pages.contains(&page) && t.scopes.iter().any(|s| s == "instagram_content_publish")
        }
    };
    if allowed {
        Ok(ig.to_owned())
    } else {
        Err(permission_denied(
            "The token may not act for this Instagram account",
        ))
    }
}

/// The Instagram account owning container or media `id`, when it is linked to a Page.
fn instagram_of_object(meta: &State, id: &str) -> Option<String> {
    let owner = meta
        .containers
        .get(id)
        .filter(|c| c.kind == Kind::Instagram)
        .map(|c| c.owner.clone())
        .or_else(|| {
            meta.published(id)
                .filter(|p| p.kind == Kind::Instagram)
                .map(|p| p.owner.clone())
        })?;
    meta.accounts
        .get(&owner)
        .and_then(|a| a.page.as_ref())
        .map(|_| owner)
}

type Path2 = web::Path<(String, String)>;
type Path3 = web::Path<(String, String, String)>;

async fn read_node(state: web::Data<SandboxState>, req: HttpRequest, path: Path2) -> HttpResponse {
    record(&state, "facebook", &req, b"");
    let (version, node) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut meta = lock(&state.meta);
    let who = match caller(&meta, &p) {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    if let Err(refused) = only(&p, &["fields"]) {
        return refused;
    }
    if node == "me" {
        let asked = fields(&p, "id,name");
        if let Err(refused) = known_fields(&asked, &["id", "name"], "User") {
            return refused;
        }
        let (id, name) = match &who {
            Caller::User(t) => (
                t.person.clone(),
                meta.people.get(&t.person).map(|x| x.name.clone()),
            ),
            Caller::Page(page) => (page.clone(), meta.pages.get(page).map(|x| x.name.clone())),
        };
        let mut answer = json!({ "id": id });
        if asked.iter().any(|f| f == "name") {
            answer["name"] = json!(name);
        }
        return HttpResponse::Ok().json(answer);
    }
    let Some(owner) = instagram_of_object(&meta, &node) else {
        return invalid_param(&format!(
            "Unsupported get request. Object with ID '{node}' does not exist"
        ));
    };
    if let Err(refused) = instagram_owner(&meta, &who, &owner) {
        return refused;
    }
    if meta.containers.contains_key(&node) {
        super::container_status(&mut meta, &node, &owner, &p)
    } else {
        super::read_post(&meta, &node, &owner, &p)
    }
}

async fn read_edge(state: web::Data<SandboxState>, req: HttpRequest, path: Path3) -> HttpResponse {
    record(&state, "facebook", &req, b"");
    let (version, node, edge) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    let p = match params(&req, b"") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let meta = lock(&state.meta);
    let who = match caller(&meta, &p) {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    match (node.as_str(), edge.as_str()) {
        ("me", "accounts") => accounts(&meta, &req, &who, &p),
        (_, "published_posts") if meta.pages.contains_key(&node) => {
            published_posts(&meta, &req, &who, &node, &p)
        }
        (_, "content_publishing_limit" | "media") => {
            let owner = match instagram_owner(&meta, &who, &node) {
                Ok(o) => o,
                Err(refused) => return refused,
            };
            if edge == "media" {
                super::list_posts(&meta, &req, Kind::Instagram, &owner, None, &p)
            } else {
                super::publishing_limit(&meta, Kind::Instagram, &owner, &p)
            }
        }
        _ => unknown_path(&req),
    }
}

/// `GET /me/accounts`: the Pages the person granted.
fn accounts(
    meta: &State,
    req: &HttpRequest,
    who: &Caller,
    p: &HashMap<String, String>,
) -> HttpResponse {
    let Caller::User(user) = who else {
        return invalid_param("Tried accessing nonexisting field (accounts) on node type (Page)");
    };
    if !user.scopes.iter().any(|s| s == "pages_show_list") {
        return permission_denied("Requires pages_show_list permission to list the Pages");
    }
    if let Err(refused) = only(p, &["fields", "limit", "after"]) {
        return refused;
    }
    let asked = fields(p, "id,name,category,access_token,tasks");
    let known = [
        "id",
        "name",
        "category",
        "access_token",
        "tasks",
        "instagram_business_account",
    ];
    if let Err(refused) = known_fields(&asked, &known, "Page") {
        return refused;
    }
    let items: Vec<Value> = user
        .pages
        .iter()
        .filter_map(|id| meta.pages.get(id))
        .map(|page| {
            let mut item = json!({ "id": page.id });
            for field in &asked {
                let name = field.split('{').next().unwrap_or(field);
                match name {
                    "name" => item["name"] = json!(page.name),
                    "category" => item["category"] = json!(page.category),
                    "access_token" => item["access_token"] = json!(page.token),
                    "tasks" => item["tasks"] = json!(page.tasks),
                    "instagram_business_account" => {
                        if let Some(ig) = page.instagram.as_ref().and_then(|i| meta.accounts.get(i))
                        {
                            let inner = field
                                .split_once('{')
                                .map(|(_, rest)| rest.trim_end_matches('}'))
                                .unwrap_or("id");
                            let mut linked = json!({ "id": ig.id });
                            for sub in inner.split(',').map(str::trim) {
                                match sub {
                                    "username" => linked["username"] = json!(ig.username),
                                    "name" => linked["name"] = json!(ig.name),
                                    _ => {}
                                }
                            }
                            item["instagram_business_account"] = linked;
                        }
                    }
                    _ => {}
                }
            }
            item
        })
        .collect();
    list_page(req, p, items).unwrap_or_else(|refused| refused)
}

/// The Page a Page-token call may post to.
fn page_caller(who: &Caller, page: &str) -> Result<(), HttpResponse> {
    match who {
        Caller::Page(p) if p == page => Ok(()),
        Caller::Page(_) => Err(permission_denied("The Page token is for another Page")),
        Caller::User(_) => Err(permission_denied(
            "If posting to a Page, requires a Page access token with pages_read_engagement and \
             pages_manage_posts",
        )),
    }
}

/// `GET /{page}/published_posts`.
fn published_posts(
    meta: &State,
    req: &HttpRequest,
    who: &Caller,
    page: &str,
    p: &HashMap<String, String>,
) -> HttpResponse {
    if let Err(refused) = page_caller(who, page) {
        return refused;
    }
    if let Err(refused) = only(p, &["fields", "limit", "after", "since", "until"]) {
        return refused;
    }
    let asked = fields(p, "id,message,created_time");
    if let Err(refused) = known_fields(&asked, &["id", "message", "created_time"], "Post") {
        return refused;
    }
    let time = |k: &str| -> Result<Option<DateTime<Utc>>, HttpResponse> {
        match p.get(k) {
            Some(v) => v
                .parse::<i64>()
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .map(Some)
                .ok_or_else(|| invalid_param(&format!("Param {k} must be a Unix time"))),
            None => Ok(None),
        }
    };
    let (since, until) = match (time("since"), time("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let items: Vec<Value> = meta
        .page_posts
        .iter()
        .rev()
        .filter(|post| post.page == page)
        .filter(|post| since.is_none_or(|s| post.created_at >= s))
        .filter(|post| until.is_none_or(|u| post.created_at <= u))
        .map(|post| {
            let mut item = json!({ "id": post.id });
            for field in &asked {
                match field.as_str() {
                    "message" if !post.message.is_empty() => item["message"] = json!(post.message),
                    "created_time" => item["created_time"] = json!(meta_time(post.created_at)),
                    _ => {}
                }
            }
            item
        })
        .collect();
    list_page(req, p, items).unwrap_or_else(|refused| refused)
}

async fn write_edge(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: Path3,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "facebook", &req, &body);
    let (version, node, edge) = path.into_inner();
    if let Err(refused) = check_version(&req, &version, VERSIONS) {
        return refused;
    }
    // Videos are uploaded on the video host, and nothing else is.
    if (edge == "videos") != on_video_host(&req) {
        return match edge.as_str() {
            "videos" => graph_error(
                StatusCode::BAD_REQUEST,
                100,
                None,
                "(#100) Video uploads go to the video host (graph-video.facebook.com)",
            ),
            _ => unknown_path(&req),
        };
    }
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut meta = lock(&state.meta);
    let who = match caller(&meta, &p) {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    if meta.pages.contains_key(&node) {
        if let Err(refused) = page_caller(&who, &node) {
            return refused;
        }
        return match edge.as_str() {
            "photos" => photo(&mut meta, &node, &p),
            "feed" => feed(&mut meta, &node, &p),
            "videos" => video(&mut meta, &node, &p),
            _ => unknown_path(&req),
        };
    }
    let owner = match instagram_owner(&meta, &who, &node) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    match edge.as_str() {
        "media" => instagram::create_container(&mut meta, &owner, &p),
        "media_publish" => super::publish(&mut meta, Kind::Instagram, &owner, &p),
        _ => unknown_path(&req),
    }
}

/// `POST /{page}/photos`.
fn photo(meta: &mut State, page: &str, p: &HashMap<String, String>) -> HttpResponse {
    if let Err(refused) = only(p, &["url", "published", "caption"]) {
        return refused;
    }
    let url = p.get("url").cloned().unwrap_or_default();
    if !matches!(url_kind(&url), Some("image" | "gif")) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            324,
            None,
            "(#324) Requires upload file: the url must lead to a JPEG, PNG or GIF image",
        );
    }
    let published = match p.get("published").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return invalid_param("Param published must be a boolean"),
    };
    let id = meta.id(101_200);
    meta.photos.insert(
        id.clone(),
        Photo {
            page: page.to_owned(),
            url: url.clone(),
            published,
            used: published,
        },
    );
    if published {
        let post = format!("{page}_{}", meta.id(101_300));
        meta.page_posts.push(PagePost {
            id: post.clone(),
            page: page.to_owned(),
            message: p.get("caption").cloned().unwrap_or_default(),
            link: None,
            media: vec![format!("photo {url}")],
            created_at: Utc::now(),
        });
        return HttpResponse::Ok().json(json!({ "id": id, "post_id": post }));
    }
    HttpResponse::Ok().json(json!({ "id": id }))
}

/// `POST /{page}/feed`.
fn feed(meta: &mut State, page: &str, p: &HashMap<String, String>) -> HttpResponse {
    if let Err(refused) = only(p, &["message", "link", "attached_media", "published"]) {
        return refused;
    }
    let message = p.get("message").cloned().unwrap_or_default();
    let link = p.get("link").cloned();
    if message.chars().count() > MAX_MESSAGE {
        return invalid_param("Param message must be at most 63206 characters long");
    }
    let mut attached: Vec<(usize, String)> = Vec::new();
    for (key, value) in p {
        let Some(index) = key
            .strip_prefix("attached_media[")
            .and_then(|k| k.strip_suffix(']'))
        else {
            if key == "attached_media" {
                return invalid_param("Param attached_media must be an array: attached_media[0]");
            }
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            return invalid_param(&format!("Param {key} is not a valid index"));
        };
        let parsed: Option<String> = serde_json::from_str::<Value>(value).ok().and_then(|v| {
            v.get("media_fbid")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let Some(fbid) = parsed else {
            return invalid_param(&format!(
                "Param {key} must be {{\"media_fbid\": \"<photo id>\"}}"
            ));
        };
        attached.push((index, fbid));
    }
    attached.sort();
    if attached
        .iter()
        .enumerate()
        .any(|(i, (index, _))| i != *index)
    {
        return invalid_param("Param attached_media must be numbered from 0 without gaps");
    }
    if message.is_empty() && link.is_none() && attached.is_empty() {
        return invalid_param("Missing message, link or attached_media");
    }
    if link.is_some() && !attached.is_empty() {
        return invalid_param("A post with attached_media cannot have a link");
    }
    if let Some(link) = &link
        && url::Url::parse(link).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
    {
        return invalid_param("Param link must be a URL");
    }
    let mut media = Vec::new();
    for (index, fbid) in &attached {
        match meta.photos.get(fbid) {
            Some(photo) if photo.page == page && !photo.published && !photo.used => {
                media.push(format!("photo {}", photo.url));
            }
            _ => {
                return invalid_param(&format!(
                    "param attached_media[{index}] must be an unpublished photo of this Page, \
                     used once"
                ));
            }
        }
    }
    if !message.is_empty() && meta.last_message.get(page) == Some(&message) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            506,
            None,
            "(#506) Duplicate status message",
        );
    }
    for (_, fbid) in &attached {
        if let Some(photo) = meta.photos.get_mut(fbid) {
            photo.used = true;
        }
    }
    let id = format!("{page}_{}", meta.id(101_300));
    if !message.is_empty() {
        meta.last_message.insert(page.to_owned(), message.clone());
    }
    meta.page_posts.push(PagePost {
        id: id.clone(),
        page: page.to_owned(),
        message,
        link,
        media,
        created_at: Utc::now(),
    });
    HttpResponse::Ok().json(json!({ "id": id }))
}

/// `POST /{page}/videos`.
fn video(meta: &mut State, page: &str, p: &HashMap<String, String>) -> HttpResponse {
    if let Err(refused) = only(p, &["file_url", "description", "title", "published"]) {
        return refused;
    }
    let url = p.get("file_url").cloned().unwrap_or_default();
    if url_kind(&url) != Some("video") {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(1_363_030),
            "(#100) Param file_url must lead to an MP4 or MOV video",
        );
    }
    let id = meta.id(101_400);
    meta.page_posts.push(PagePost {
        id: id.clone(),
        page: page.to_owned(),
        message: p.get("description").cloned().unwrap_or_default(),
        link: None,
        media: vec![format!("video {url}")],
        created_at: Utc::now(),
    });
    HttpResponse::Ok().json(json!({ "id": id }))
}
