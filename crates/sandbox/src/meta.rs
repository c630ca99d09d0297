//! The fakes of Meta's platforms: Facebook Pages (`/facebook`, with the Instagram accounts
//! linked to Pages), Instagram Login (`/instagram`) and Threads (`/threads`). They share one
//! world, as Meta's APIs do: a Page's linked Instagram account is the same account whether it is
//! reached through Facebook's Graph API or Instagram's.
//!
//! What every one of them checks, as Meta does:
//!
//! - **Versions**: Facebook's and Instagram's Graph API paths start with a version,
//!   `v21.0`–`v26.0` (anything else is an unknown path, code 2500); Threads' with `v1.0`.
//! - **Tokens**: the documented `access_token` parameter (query of a `GET`, form body of a
//!   `POST`); on Facebook's Graph API also `appsecret_proof`, the HMAC-SHA256 of the token under
//!   the app secret (an app that requires it, as Multivio's should). A missing token is code
//!   104, an unknown or expired one 190, a wrong proof 100.
//! - **Bodies**: `POST`s are form-encoded (`application/x-www-form-urlencoded`); parameters a
//!   call does not take are refused (code 100), as are missing required ones.
//! - **Errors** have Graph's shape: `{"error": {"message", "type": "OAuthException", "code",
//!   "error_subcode", "error_user_msg", "is_transient", "fbtrace_id"}}`.
//! - **Media** are fetched by the platform from public URLs: the fakes do not fetch them (tests'
//!   servers are not reachable at their public URL) but check each is an absolute `http(s)` URL
//!   whose file extension is a format the platform takes (`.jpg`, `.jpeg`, `.png` images;
//!   Facebook also `.gif`; `.mp4`, `.mov` videos).
//! - **Containers** (Instagram, Threads): each answers `IN_PROGRESS` for as many status reads
//!   as a test asks (`…/_sandbox/container_polls`), then `FINISHED`; publishing one that is not
//!   finished, or twice, is refused. Accounts have a publishing cap over a moving 24 hours
//!   (Instagram 25 by default, Threads 250 posts and 1,000 replies) counting every API
//!   publication, those a test says were made earlier included; at the cap, publishing is
//!   refused (code 9, subcode 2207042).
//!
//! See each platform's module for its endpoints and controls: [`facebook`], [`instagram`],
//! [`threads`].

// The fakes' checks answer with the refusal itself, as Meta would; a response is their error.
#![allow(clippy::result_large_err)]

pub(crate) mod facebook;
pub(crate) mod instagram;
pub(crate) mod threads;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{SandboxPost, content_type, token};
use crate::{SandboxState, lock};

/// How long an authorisation code is valid.
const CODE_TTL: i64 = 600;
/// A short-lived token's life.
const SHORT_TTL: i64 = 3600;
/// A long-lived token's life (60 days, as Meta answers it).
const LONG_TTL: i64 = 5_184_000;
/// How old a long-lived token must be before it may be refreshed.
const REFRESH_AFTER: i64 = 86_400;
/// The publishing window.
const WINDOW: i64 = 86_400;

/// Instagram's default publishing cap.
pub(crate) const INSTAGRAM_CAP: u32 = 25;
/// Threads' publishing cap for posts.
pub(crate) const THREADS_CAP: u32 = 250;
/// Threads' publishing cap for replies.
pub(crate) const THREADS_REPLY_CAP: u32 = 1000;

/// Instagram or Threads: the platforms of containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Instagram,
    Threads,
}

impl Kind {
    pub(crate) fn platform(self) -> &'static str {
        match self {
            Kind::Instagram => "instagram",
            Kind::Threads => "threads",
        }
    }
}

/// A Facebook user.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub id: String,
    pub name: String,
}

/// A Facebook Page.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub category: String,
    pub tasks: Vec<String>,
    /// Its Page token (it does not expire).
    pub token: String,
    /// The Instagram account linked to it.
    pub instagram: Option<String>,
}

/// A Facebook user token: who, which Pages they granted, until when.
#[derive(Debug, Clone)]
pub(crate) struct UserToken {
    pub person: String,
    pub pages: Vec<String>,
    pub scopes: Vec<String>,
    pub expires: DateTime<Utc>,
}

/// A Facebook authorisation code.
#[derive(Debug, Clone)]
pub(crate) struct FacebookCode {
    pub person: String,
    pub pages: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub issued: DateTime<Utc>,
}

/// A photo uploaded to a Page.
#[derive(Debug, Clone)]
pub(crate) struct Photo {
    pub page: String,
    pub url: String,
    pub published: bool,
    /// Attached to a post already.
    pub used: bool,
}

/// A post on a Page's feed (or a video).
#[derive(Debug, Clone)]
pub(crate) struct PagePost {
    pub id: String,
    pub page: String,
    pub message: String,
    pub link: Option<String>,
    pub media: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// An Instagram or Threads account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub kind: Kind,
    pub username: String,
    pub name: String,
    /// The Page it is linked to (Instagram).
    pub page: Option<String>,
    pub cap: u32,
    pub reply_cap: u32,
    /// When each API publication counted by the cap happened (replies apart).
    pub published_at: Vec<DateTime<Utc>>,
    pub replied_at: Vec<DateTime<Utc>>,
}

/// An Instagram Login or Threads authorisation code.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub kind: Kind,
    pub account: String,
    /// The permissions asked for (and granted).
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub issued: DateTime<Utc>,
}

/// An Instagram Login or Threads token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    pub account: String,
    /// The permissions granted with the code it came from.
    pub scopes: Vec<String>,
    pub long_lived: bool,
    pub issued: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// What a container holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Text,
    Image(String),
    Video(String),
    Carousel(Vec<String>),
}

/// An Instagram or Threads media container.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub kind: Kind,
    pub owner: String,
    pub content: Content,
    pub text: String,
    pub carousel_item: bool,
    pub reply_to: Option<String>,
    pub alt_text: Option<String>,
    /// Status reads left answering `IN_PROGRESS`.
    pub polls_left: u32,
    /// Made part of a carousel, or published.
    pub used: bool,
    pub published: Option<String>,
}

/// A published Instagram or Threads post.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub id: String,
    pub kind: Kind,
    pub owner: String,
    pub text: String,
    pub media: Vec<String>,
    pub reply_to: Option<String>,
    pub created_at: DateTime<Utc>,
    /// How many items a carousel had (0 otherwise).
    pub children: usize,
    /// Said by a test to have been published earlier (not listed among the sandbox's posts).
    pub earlier: bool,
}

/// What the Meta fakes hold.
#[derive(Debug, Default)]
pub struct State {
    counter: u64,
    pub(crate) people: HashMap<String, Person>,
    pub(crate) next_login: Option<facebook::NextLogin>,
    pub(crate) facebook_codes: HashMap<String, FacebookCode>,
    pub(crate) user_tokens: HashMap<String, UserToken>,
    pub(crate) pages: HashMap<String, Page>,
    pub(crate) page_tokens: HashMap<String, String>,
    pub(crate) photos: HashMap<String, Photo>,
    pub(crate) page_posts: Vec<PagePost>,
    /// The last message posted on each Page (Facebook refuses the same one twice in a row).
    pub(crate) last_message: HashMap<String, String>,
    pub(crate) accounts: HashMap<String, Account>,
    pub(crate) usernames: HashMap<(Kind, String), String>,
    pub(crate) next_user: HashMap<Kind, String>,
    pub(crate) codes: HashMap<String, Code>,
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) containers: HashMap<String, Container>,
    pub(crate) container_polls: HashMap<Kind, u32>,
    pub(crate) published: Vec<Published>,
    pub(crate) published_index: HashMap<String, usize>,
}

impl State {
    /// A fresh numeric id with `prefix` digits (Meta ids are decimal strings).
    pub(crate) fn id(&mut self, prefix: u64) -> String {
        self.counter += 1;
        (prefix * 1_000_000_000 + self.counter).to_string()
    }

    /// The Instagram or Threads account named `username`, created on first use.
    pub(crate) fn account(&mut self, kind: Kind, username: &str) -> String {
        if let Some(id) = self.usernames.get(&(kind, username.to_owned())) {
            return id.clone();
        }
        let id = self.id(match kind {
            Kind::Instagram => 17_841_400,
            Kind::Threads => 26_000_000,
        });
        let (cap, reply_cap) = match kind {
            Kind::Instagram => (INSTAGRAM_CAP, INSTAGRAM_CAP),
            Kind::Threads => (THREADS_CAP, THREADS_REPLY_CAP),
        };
        self.accounts.insert(
            id.clone(),
            Account {
                id: id.clone(),
                kind,
                username: username.to_owned(),
                name: format!("Sandbox {username}"),
                page: None,
                cap,
                reply_cap,
                published_at: Vec::new(),
                replied_at: Vec::new(),
            },
        );
        self.usernames
            .insert((kind, username.to_owned()), id.clone());
        id
    }

    fn published(&self, id: &str) -> Option<&Published> {
        self.published_index.get(id).map(|&i| &self.published[i])
    }
}

/// Every post the Meta fakes hold, oldest first, for `platform` (`facebook`, `instagram` or
/// `threads`).
pub fn posts(state: &State, platform: &str) -> Vec<SandboxPost> {
    match platform {
        "facebook" => state
            .page_posts
            .iter()
            .map(|p| SandboxPost {
                platform: "facebook",
                account: state
                    .pages
                    .get(&p.page)
                    .map_or_else(|| p.page.clone(), |page| page.name.clone()),
                id: p.id.clone(),
                text: p.message.clone(),
                media: p
                    .media
                    .iter()
                    .cloned()
                    .chain(p.link.iter().map(|l| format!("link {l}")))
                    .collect(),
                reply_to: None,
                url: facebook::post_url(&p.page, &p.id),
                created_at: p.created_at,
            })
            .collect(),
        _ => {
            let kind = if platform == "threads" {
                Kind::Threads
            } else {
                Kind::Instagram
            };
            state
                .published
                .iter()
                .filter(|p| p.kind == kind && !p.earlier)
                .map(|p| SandboxPost {
                    platform: kind.platform(),
                    account: state
                        .accounts
                        .get(&p.owner)
                        .map_or_else(|| p.owner.clone(), |a| format!("@{}", a.username)),
                    id: p.id.clone(),
                    text: p.text.clone(),
                    media: p.media.clone(),
                    reply_to: p.reply_to.clone(),
                    url: permalink(state, p),
                    created_at: p.created_at,
                })
                .collect()
        }
    }
}

// ---- answers in Meta's shapes ----------------------------------------------------------------

/// A Graph error answer.
pub(crate) fn graph_error(
    status: StatusCode,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> HttpResponse {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": false,
        "fbtrace_id": token("Sbx"),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
        error["error_user_msg"] = json!(message);
    }
    HttpResponse::build(status).json(json!({ "error": error }))
}

/// `(#100)`: a parameter is missing or wrong.
pub(crate) fn invalid_param(message: &str) -> HttpResponse {
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        None,
        &format!("(#100) {message}"),
    )
}

/// Code 190: the token is unknown, expired or not for this.
pub(crate) fn invalid_token(message: &str) -> HttpResponse {
    graph_error(StatusCode::BAD_REQUEST, 190, None, message)
}

/// Code 200: the token lacks a permission for this object.
pub(crate) fn permission_denied(message: &str) -> HttpResponse {
    graph_error(
        StatusCode::FORBIDDEN,
        200,
        None,
        &format!("(#200) {message}"),
    )
}

/// An unknown path (a wrong version, an unknown object or edge).
pub(crate) fn unknown_path(req: &HttpRequest) -> HttpResponse {
    graph_error(
        StatusCode::BAD_REQUEST,
        2500,
        None,
        &format!("Unknown path components: {}", req.path()),
    )
}

/// Checks a Graph version path segment against `versions`.
pub(crate) fn check_version(
    req: &HttpRequest,
    version: &str,
    versions: std::ops::RangeInclusive<u32>,
) -> Result<(), HttpResponse> {
    let major = version
        .strip_prefix('v')
        .and_then(|v| v.strip_suffix(".0"))
        .and_then(|v| v.parse::<u32>().ok());
    match major {
        Some(m) if versions.contains(&m) => Ok(()),
        _ => Err(unknown_path(req)),
    }
}

/// A call's parameters: the query, and for a `POST` its form body (which must be
/// form-encoded), later ones winning.
pub(crate) fn params(
    req: &HttpRequest,
    body: &[u8],
) -> Result<HashMap<String, String>, HttpResponse> {
    let mut all: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    if req.method() == actix_web::http::Method::POST {
        if !body.is_empty() && content_type(req) != "application/x-www-form-urlencoded" {
            return Err(invalid_param(
                "the request body must be form-encoded (application/x-www-form-urlencoded)",
            ));
        }
        all.extend(url::form_urlencoded::parse(body).into_owned());
    }
    Ok(all)
}

/// Refuses a parameter outside `allowed` (the token and its proof are always allowed).
pub(crate) fn only(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), HttpResponse> {
    for key in params.keys() {
        let base = key.split('[').next().unwrap_or(key);
        if !allowed.contains(&base) && key != "access_token" && key != "appsecret_proof" {
            return Err(invalid_param(&format!(
                "Param {key} is not a valid parameter"
            )));
        }
    }
    Ok(())
}

/// The fields a `fields` parameter asks for, at the top level (`a,b{c,d}` → `a`, `b{c,d}`).
pub(crate) fn fields(params: &HashMap<String, String>, default: &str) -> Vec<String> {
    let given = params.get("fields").map_or(default, String::as_str);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in given.chars() {
        match c {
            '{' => {
                depth += 1;
                current.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect()
}

/// Refuses a field outside `known` (Graph: "Tried accessing nonexisting field").
pub(crate) fn known_fields(
    asked: &[String],
    known: &[&str],
    node: &str,
) -> Result<(), HttpResponse> {
    for field in asked {
        let name = field.split('{').next().unwrap_or(field);
        if !known.contains(&name) {
            return Err(invalid_param(&format!(
                "Tried accessing nonexisting field ({name}) on node type ({node})"
            )));
        }
    }
    Ok(())
}

/// A time as Meta writes it in `timestamp` and `created_time` (`2026-03-04T12:00:00+0000`).
pub(crate) fn meta_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// One page of a list (newest first): `limit` (default 25, at most 100) items from the cursor
/// `after`, with Graph's paging.
pub(crate) fn list_page(
    req: &HttpRequest,
    params: &HashMap<String, String>,
    items: Vec<Value>,
) -> Result<HttpResponse, HttpResponse> {
    let limit: usize = match params.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| *l >= 1)
            .ok_or_else(|| invalid_param("Param limit must be a positive integer"))?
            .min(100),
        None => 25,
    };
    let start: usize = match params.get("after") {
        Some(cursor) => cursor
            .strip_prefix("cursor-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| invalid_param("Param after is not a valid cursor"))?,
        None => 0,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let end = start + page.len();
    let mut answer = json!({ "data": page });
    if !answer["data"].as_array().is_some_and(Vec::is_empty) {
        let mut paging = json!({
            "cursors": { "before": format!("cursor-{start}"), "after": format!("cursor-{end}") }
        });
        if end < total {
            let info = req.connection_info();
            let mut next = url::Url::parse(&format!(
                "{}://{}{}",
                info.scheme(),
                info.host(),
                req.path()
            ))
            .map_err(|_| unknown_path(req))?;
            for (k, v) in params.iter().filter(|(k, _)| k.as_str() != "after") {
                next.query_pairs_mut().append_pair(k, v);
            }
            next.query_pairs_mut()
                .append_pair("after", &format!("cursor-{end}"));
            paging["next"] = json!(next.to_string());
        }
        answer["paging"] = paging;
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// What a media URL is by its extension: `image`, `gif` or `video`; `None` when it is no
/// absolute `http(s)` URL or names no such file.
pub(crate) fn url_kind(url: &str) -> Option<&'static str> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return None;
    }
    let ext = parsed
        .path()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())?;
    match ext.as_str() {
        "jpg" | "jpeg" | "png" => Some("image"),
        "gif" => Some("gif"),
        "mp4" | "mov" => Some("video"),
        _ => None,
    }
}

// ---- OAuth of Instagram Login and Threads ----------------------------------------------------

/// Who approves the next authorisation of `kind` (the default account unless a test named
/// one).
pub(crate) fn approving(state: &mut State, kind: Kind) -> String {
    let name = state.next_user.remove(&kind).unwrap_or_else(|| match kind {
        Kind::Instagram => "sandbox_ig".to_owned(),
        Kind::Threads => "sandbox_threads".to_owned(),
    });
    state.account(kind, &name)
}

/// Issues a token of `kind` for `account`, with the permissions `scopes`.
pub(crate) fn issue(
    state: &mut State,
    kind: Kind,
    account: &str,
    scopes: Vec<String>,
    long_lived: bool,
) -> (String, i64) {
    let prefix = match (kind, long_lived) {
        (Kind::Instagram, false) => "IGshort",
        (Kind::Instagram, true) => "IGlong",
        (Kind::Threads, false) => "THshort",
        (Kind::Threads, true) => "THlong",
    };
    let ttl = if long_lived { LONG_TTL } else { SHORT_TTL };
    let value = token(prefix);
    let now = Utc::now();
    state.tokens.insert(
        value.clone(),
        Token {
            kind,
            account: account.to_owned(),
            scopes,
            long_lived,
            issued: now,
            expires: now + Duration::seconds(ttl),
        },
    );
    (value, ttl)
}

/// The account a valid token of `kind` is for.
pub(crate) fn token_account(
    state: &State,
    kind: Kind,
    params: &HashMap<String, String>,
) -> Result<String, HttpResponse> {
    let Some(given) = params.get("access_token") else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            104,
            None,
            "An access token is required to request this resource.",
        ));
    };
    match state.tokens.get(given) {
        Some(t) if t.kind == kind && t.expires > Utc::now() => Ok(t.account.clone()),
        Some(t) if t.kind == kind => Err(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            Some(463),
            "Error validating access token: Session has expired.",
        )),
        _ => Err(invalid_token(
            "Invalid OAuth access token - Cannot parse access token",
        )),
    }
}

/// `GET …/access_token?grant_type={exchange}` and `GET …/refresh_access_token?grant_type=
/// {refresh}`: a short-lived token for a long-lived one (with the app secret), a long-lived one
/// at least a day old for a new one.
pub(crate) fn long_lived_token(
    state: &mut State,
    kind: Kind,
    params: &HashMap<String, String>,
    refresh: bool,
    client_secret: &str,
) -> HttpResponse {
    let (grant, needs_secret) = match (kind, refresh) {
        (Kind::Instagram, false) => ("ig_exchange_token", true),
        (Kind::Instagram, true) => ("ig_refresh_token", false),
        (Kind::Threads, false) => ("th_exchange_token", true),
        (Kind::Threads, true) => ("th_refresh_token", false),
    };
    if params.get("grant_type").map(String::as_str) != Some(grant) {
        return invalid_param(&format!("grant_type must be {grant}"));
    }
    if needs_secret && params.get("client_secret").map(String::as_str) != Some(client_secret) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "Error validating client secret.",
        );
    }
    let allowed: &[&str] = if needs_secret {
        &["grant_type", "client_secret"]
    } else {
        &["grant_type"]
    };
    if let Err(refused) = only(params, allowed) {
        return refused;
    }
    let given = params.get("access_token").cloned().unwrap_or_default();
    let now = Utc::now();
    let (account, scopes) = match state.tokens.get(&given) {
        Some(t) if t.kind == kind && t.expires > now => {
            if refresh && !t.long_lived {
                return invalid_param("Only long-lived tokens can be refreshed");
            }
            if refresh && (now - t.issued).num_seconds() < REFRESH_AFTER {
                return invalid_param(
                    "The long-lived token must be at least 24 hours old to be refreshed",
                );
            }
            if !refresh && t.long_lived {
                return invalid_param("The token is a long-lived token already");
            }
            (t.account.clone(), t.scopes.clone())
        }
        _ => return invalid_token("Invalid OAuth access token - Cannot parse access token"),
    };
    let (value, ttl) = issue(state, kind, &account, scopes, true);
    HttpResponse::Ok().json(json!({
        "access_token": value,
        "token_type": "bearer",
        "expires_in": ttl,
    }))
}

/// Checks an authorisation request of Instagram Login or Threads and approves it at once: a
/// redirect to `redirect_uri` with `code` and `state`.
pub(crate) fn authorize(
    state: &mut State,
    kind: Kind,
    params: &HashMap<String, String>,
    client_id: &str,
    scopes: &[&str],
) -> HttpResponse {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != client_id || get("response_type") != "code" {
        return HttpResponse::BadRequest().body("Invalid platform app or response type");
    }
    let Ok(mut back) = url::Url::parse(get("redirect_uri")) else {
        return HttpResponse::BadRequest().body("Invalid redirect_uri");
    };
    let asked: Vec<String> = get("scope")
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    if scopes.iter().any(|s| !asked.iter().any(|a| a == s)) || get("state").is_empty() {
        return HttpResponse::BadRequest().body(format!(
            "Invalid scope or state: the scope must include {}",
            scopes.join(",")
        ));
    }
    let account = approving(state, kind);
    let code = token(match kind {
        Kind::Instagram => "IGcode",
        Kind::Threads => "THcode",
    });
    state.codes.insert(
        code.clone(),
        Code {
            kind,
            account,
            scopes: asked,
            redirect_uri: get("redirect_uri").to_owned(),
            issued: Utc::now(),
        },
    );
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", get("state"));
    let mut location = back.to_string();
    if kind == Kind::Instagram {
        // Instagram appends `#_` to the redirect; browsers keep it out of the request.
        location.push_str("#_");
    }
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

/// Takes a code of `kind` for `redirect_uri` (single use, ten minutes).
pub(crate) fn take_code(
    state: &mut State,
    kind: Kind,
    code: &str,
    redirect_uri: &str,
) -> Option<Code> {
    let found = state.codes.remove(code)?;
    (found.kind == kind
        && found.redirect_uri == redirect_uri
        && (Utc::now() - found.issued).num_seconds() <= CODE_TTL)
        .then_some(found)
}

/// Refuses, as the Graph API does, a call whose (valid) token was not granted `scope`.
pub(crate) fn require_scope(
    state: &State,
    params: &HashMap<String, String>,
    scope: &str,
) -> Result<(), HttpResponse> {
    let granted = params
        .get("access_token")
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|t| t.scopes.iter().any(|s| s == scope));
    if granted {
        Ok(())
    } else {
        Err(graph_error(
            StatusCode::FORBIDDEN,
            10,
            None,
            &format!("(#10) Application does not have permission for this action: {scope}"),
        ))
    }
}

// ---- containers (Instagram and Threads) ------------------------------------------------------

/// Stores a new container (its `IN_PROGRESS` reads as a test asked) and answers its id.
pub(crate) fn new_container(state: &mut State, mut container: Container) -> HttpResponse {
    let kind = container.kind;
    let id = state.id(match kind {
        Kind::Instagram => 17_890_000,
        Kind::Threads => 18_100_000,
    });
    container.polls_left = state.container_polls.get(&kind).copied().unwrap_or(0);
    state.containers.insert(id.clone(), container);
    HttpResponse::Ok().json(json!({ "id": id }))
}

/// The carousel items named by `children` (2 to `max`): finished item containers of `owner`
/// of this platform, not used yet; they are marked used.
pub(crate) fn take_children(
    state: &mut State,
    kind: Kind,
    owner: &str,
    children: &str,
    max: usize,
) -> Result<Vec<String>, HttpResponse> {
    let ids: Vec<String> = children
        .split(',')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if ids.len() < 2 || ids.len() > max {
        return Err(invalid_param(&format!(
            "A carousel has 2 to {max} children; {} given",
            ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for id in &ids {
        let ok = state.containers.get(id).is_some_and(|c| {
            c.kind == kind && c.owner == owner && c.carousel_item && !c.used && c.polls_left == 0
        });
        if !ok || !seen.insert(id.clone()) {
            return Err(invalid_param(&format!(
                "Param children must name finished carousel items of this account; {id} is not one"
            )));
        }
    }
    for id in &ids {
        if let Some(c) = state.containers.get_mut(id) {
            c.used = true;
        }
    }
    Ok(ids)
}

/// `GET /{container}`: its status (`status_code` on Instagram, `status` on Threads), reading
/// one of its `IN_PROGRESS` answers.
pub(crate) fn container_status(
    state: &mut State,
    id: &str,
    owner: &str,
    params: &HashMap<String, String>,
) -> HttpResponse {
    let Some(container) = state.containers.get_mut(id) else {
        return invalid_param("Object does not exist");
    };
    if container.owner != owner {
        return permission_denied("The token is not for the owner of this container");
    }
    let kind = container.kind;
    let status = if container.published.is_some() {
        "PUBLISHED"
    } else if container.polls_left > 0 {
        container.polls_left -= 1;
        "IN_PROGRESS"
    } else {
        "FINISHED"
    };
    let asked = fields(params, "id");
    let known: &[&str] = match kind {
        Kind::Instagram => &["id", "status_code", "status"],
        Kind::Threads => &["id", "status", "error_message"],
    };
    if let Err(refused) = known_fields(&asked, known, "Container") {
        return refused;
    }
    let mut answer = json!({ "id": id });
    for field in &asked {
        match (kind, field.as_str()) {
            (Kind::Instagram, "status_code") | (Kind::Threads, "status") => {
                answer[field.as_str()] = json!(status);
            }
            (Kind::Instagram, "status") => {
                answer["status"] = json!(format!("{status}: sandbox container"));
            }
            _ => {}
        }
    }
    HttpResponse::Ok().json(answer)
}

/// The account's publications counted by its cap within the window.
fn usage(times: &[DateTime<Utc>], now: DateTime<Utc>) -> usize {
    times
        .iter()
        .filter(|t| **t > now - Duration::seconds(WINDOW))
        .count()
}

/// `POST /{user}/media_publish` and `/{user}/threads_publish`: publishes a finished container
/// (not a carousel item) of the account, once, within its cap.
pub(crate) fn publish(
    state: &mut State,
    kind: Kind,
    owner: &str,
    params: &HashMap<String, String>,
) -> HttpResponse {
    if let Err(refused) = only(params, &["creation_id"]) {
        return refused;
    }
    let Some(creation) = params.get("creation_id").cloned() else {
        return invalid_param("The parameter creation_id is required");
    };
    let Some(container) = state.containers.get(&creation).cloned() else {
        return invalid_param("Param creation_id is not a valid container id");
    };
    if container.kind != kind || container.owner != owner || container.carousel_item {
        return invalid_param("Param creation_id is not a container this account may publish");
    }
    if container.published.is_some() {
        return graph_error(
            StatusCode::BAD_REQUEST,
            9007,
            Some(2_207_006),
            "The media has already been published",
        );
    }
    if container.polls_left > 0 {
        return graph_error(
            StatusCode::BAD_REQUEST,
            9007,
            Some(2_207_027),
            "The media is not ready for publishing, please wait for a moment",
        );
    }
    let now = Utc::now();
    let reply = container.reply_to.is_some();
    let Some(account) = state.accounts.get(owner).cloned() else {
        return invalid_token("The token's account no longer exists");
    };
    let (used, cap) = if reply {
        (usage(&account.replied_at, now), account.reply_cap)
    } else {
        (usage(&account.published_at, now), account.cap)
    };
    if used >= cap as usize {
        return graph_error(
            StatusCode::BAD_REQUEST,
            9,
            Some(2_207_042),
            "You reached maximum number of posts that is allowed to be published by Content Publishing API.",
        );
    }
    let id = state.id(match kind {
        Kind::Instagram => 17_950_000,
        Kind::Threads => 18_200_000,
    });
    // `image <url>[: alt text]`, `video <url>`.
    let describe = |c: &Container| match &c.content {
        Content::Image(url) => match &c.alt_text {
            Some(alt) => format!("image {url}: {alt}"),
            None => format!("image {url}"),
        },
        Content::Video(url) => format!("video {url}"),
        _ => String::new(),
    };
    let (media, children) = match &container.content {
        Content::Text => (Vec::new(), 0),
        Content::Image(_) | Content::Video(_) => (vec![describe(&container)], 0),
        Content::Carousel(items) => (
            items
                .iter()
                .filter_map(|c| state.containers.get(c))
                .map(describe)
                .collect(),
            items.len(),
        ),
    };
    if let Some(c) = state.containers.get_mut(&creation) {
        c.published = Some(id.clone());
        c.used = true;
    }
    if let Some(a) = state.accounts.get_mut(owner) {
        if reply {
            a.replied_at.push(now);
        } else {
            a.published_at.push(now);
        }
    }
    state
        .published_index
        .insert(id.clone(), state.published.len());
    state.published.push(Published {
        id: id.clone(),
        kind,
        owner: owner.to_owned(),
        text: container.text.clone(),
        media,
        reply_to: container.reply_to.clone(),
        created_at: now,
        children,
        earlier: false,
    });
    HttpResponse::Ok().json(json!({ "id": id }))
}

/// `GET /{user}/content_publishing_limit` and `/{user}/threads_publishing_limit`.
pub(crate) fn publishing_limit(
    state: &State,
    kind: Kind,
    owner: &str,
    params: &HashMap<String, String>,
) -> HttpResponse {
    let known: &[&str] = match kind {
        Kind::Instagram => &["quota_usage", "config", "rate_limit_settings"],
        Kind::Threads => &["quota_usage", "config", "reply_quota_usage", "reply_config"],
    };
    let allowed: &[&str] = match kind {
        Kind::Instagram => &["fields", "since"],
        Kind::Threads => &["fields"],
    };
    if let Err(refused) = only(params, allowed) {
        return refused;
    }
    let asked = fields(params, "quota_usage");
    if let Err(refused) = known_fields(&asked, known, "PublishingLimit") {
        return refused;
    }
    let Some(account) = state.accounts.get(owner) else {
        return invalid_token("The token's account no longer exists");
    };
    let now = Utc::now();
    let since = match params.get("since") {
        Some(s) => match s
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
        {
            Some(t) if t >= now - Duration::seconds(WINDOW) => Some(t),
            _ => return invalid_param("Param since must be a Unix time within the last 24 hours"),
        },
        None => None,
    };
    let count = |times: &[DateTime<Utc>]| match since {
        Some(s) => times.iter().filter(|t| **t >= s).count(),
        None => usage(times, now),
    };
    let config = |total: u32| json!({ "quota_total": total, "quota_duration": WINDOW });
    let mut entry = json!({});
    for field in &asked {
        match field.as_str() {
            "quota_usage" => entry["quota_usage"] = json!(count(&account.published_at)),
            "config" | "rate_limit_settings" => entry[field.as_str()] = config(account.cap),
            "reply_quota_usage" => entry["reply_quota_usage"] = json!(count(&account.replied_at)),
            "reply_config" => entry["reply_config"] = config(account.reply_cap),
            _ => {}
        }
    }
    HttpResponse::Ok().json(json!({ "data": [entry] }))
}

/// A published post's public page.
pub(crate) fn permalink(state: &State, post: &Published) -> String {
    let code = post.id.chars().rev().take(8).collect::<String>();
    match post.kind {
        Kind::Instagram => format!("https://www.instagram.com/p/Sbx{code}/"),
        Kind::Threads => {
            let user = state
                .accounts
                .get(&post.owner)
                .map_or("sandbox", |a| a.username.as_str());
            format!("https://www.threads.net/@{user}/post/Sbx{code}")
        }
    }
}

/// A published post's fields (`GET /{media}`, and the items of the account's lists).
fn post_json(state: &State, post: &Published, asked: &[String]) -> Value {
    let mut answer = json!({ "id": post.id });
    for field in asked {
        match field.as_str() {
            "caption" | "text" => answer[field.as_str()] = json!(post.text),
            "timestamp" => answer["timestamp"] = json!(meta_time(post.created_at)),
            "permalink" => answer["permalink"] = json!(permalink(state, post)),
            "media_type" => {
                let kind = if post.children > 0 {
                    "CAROUSEL_ALBUM"
                } else if post.media.iter().any(|m| m.starts_with("video")) {
                    "VIDEO"
                } else if post.media.is_empty() {
                    "TEXT_POST"
                } else {
                    "IMAGE"
                };
                answer["media_type"] = json!(kind);
            }
            "username" => {
                answer["username"] =
                    json!(state.accounts.get(&post.owner).map(|a| a.username.clone()));
            }
            _ => {}
        }
    }
    answer
}

/// The fields a published post has, per platform.
fn post_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Instagram => &[
            "id",
            "caption",
            "timestamp",
            "permalink",
            "media_type",
            "username",
        ],
        Kind::Threads => &[
            "id",
            "text",
            "timestamp",
            "permalink",
            "media_type",
            "username",
        ],
    }
}

/// `GET /{media}`: a published post of the token's account.
pub(crate) fn read_post(
    state: &State,
    id: &str,
    owner: &str,
    params: &HashMap<String, String>,
) -> HttpResponse {
    let Some(post) = state.published(id) else {
        return invalid_param("Object does not exist");
    };
    if post.owner != owner {
        return permission_denied("The token is not for the owner of this post");
    }
    let asked = fields(params, "id");
    if let Err(refused) = known_fields(&asked, post_fields(post.kind), "Media") {
        return refused;
    }
    HttpResponse::Ok().json(post_json(state, post, &asked))
}

/// `GET /{user}/media`, `/{user}/threads`, `/{user}/replies`: the account's posts (or only its
/// replies, or only its posts), newest first.
pub(crate) fn list_posts(
    state: &State,
    req: &HttpRequest,
    kind: Kind,
    owner: &str,
    replies: Option<bool>,
    params: &HashMap<String, String>,
) -> HttpResponse {
    if let Err(refused) = only(params, &["fields", "limit", "after", "since", "until"]) {
        return refused;
    }
    let asked = fields(params, "id");
    if let Err(refused) = known_fields(&asked, post_fields(kind), "Media") {
        return refused;
    }
    let items: Vec<Value> = state
        .published
        .iter()
        .rev()
        .filter(|p| p.kind == kind && p.owner == owner)
        .filter(|p| replies.is_none_or(|r| p.reply_to.is_some() == r))
        .map(|p| post_json(state, p, &asked))
        .collect();
    list_page(req, params, items).unwrap_or_else(|refused| refused)
}

// ---- controls shared by Instagram and Threads ------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NextUser {
    username: String,
}

/// `POST /{instagram|threads}/_sandbox/next_user {"username"}`.
pub(crate) fn set_next_user(
    state: &web::Data<SandboxState>,
    kind: Kind,
    body: NextUser,
) -> HttpResponse {
    let mut meta = lock(&state.meta);
    meta.next_user.insert(kind, body.username.clone());
    let id = meta.account(kind, &body.username);
    HttpResponse::Ok().json(json!({ "username": body.username, "id": id }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Polls {
    polls: u32,
}

/// `POST /{instagram|threads}/_sandbox/container_polls {"polls": N}`; `GET` answers the number
/// in force.
pub(crate) fn set_container_polls(
    state: &web::Data<SandboxState>,
    kind: Kind,
    body: Option<Polls>,
) -> HttpResponse {
    let mut meta = lock(&state.meta);
    if let Some(body) = body {
        if body.polls > 1000 {
            return HttpResponse::BadRequest()
                .json(json!({ "error": "polls must be at most 1000" }));
        }
        meta.container_polls.insert(kind, body.polls);
    }
    let polls = meta.container_polls.get(&kind).copied().unwrap_or(0);
    HttpResponse::Ok().json(json!({ "polls": polls }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    username: String,
    #[serde(default)]
    quota_total: Option<u32>,
    #[serde(default)]
    published_at: Vec<DateTime<Utc>>,
}

/// `POST /{instagram|threads}/_sandbox/publishing_limit {"username", "quota_total"?,
/// "published_at": [times]}`: the account's cap, and API publications made earlier (listed
/// among its media, counted by the cap). Answers the account's usage.
pub(crate) fn set_publishing_limit(
    state: &web::Data<SandboxState>,
    kind: Kind,
    body: Limit,
) -> HttpResponse {
    let mut guard = lock(&state.meta);
    let meta = &mut *guard;
    let owner = meta.account(kind, &body.username);
    for at in &body.published_at {
        let id = meta.id(match kind {
            Kind::Instagram => 17_950_000,
            Kind::Threads => 18_200_000,
        });
        meta.published.push(Published {
            id,
            kind,
            owner: owner.clone(),
            text: "(published earlier through the API)".to_owned(),
            media: Vec::new(),
            reply_to: None,
            created_at: *at,
            children: 0,
            earlier: true,
        });
    }
    // The list stays newest last, as publications are.
    meta.published.sort_by_key(|p| p.created_at);
    let index: HashMap<String, usize> = meta
        .published
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), i))
        .collect();
    meta.published_index = index;
    let Some(account) = meta.accounts.get_mut(&owner) else {
        return HttpResponse::NotFound().finish();
    };
    if let Some(total) = body.quota_total {
        account.cap = total;
    }
    account.published_at.extend(body.published_at);
    let now = Utc::now();
    HttpResponse::Ok().json(json!({
        "id": owner,
        "quota_total": account.cap,
        "quota_usage": usage(&account.published_at, now),
        "published_at": account
            .published_at
            .iter()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Age {
    hours: i64,
}

/// `POST /{instagram|threads}/_sandbox/age_tokens {"hours": H}`: every token of the platform
/// was issued H hours earlier than it was (and expires as much earlier), so a long-lived one
/// may be refreshed.
pub(crate) fn age_tokens(state: &web::Data<SandboxState>, kind: Kind, body: Age) -> HttpResponse {
    if !(0..=24 * 90).contains(&body.hours) {
        return HttpResponse::BadRequest().json(json!({ "error": "hours must be 0 to 2160" }));
    }
    let mut meta = lock(&state.meta);
    let shift = Duration::hours(body.hours);
    let mut aged = 0;
    for t in meta.tokens.values_mut().filter(|t| t.kind == kind) {
        t.issued -= shift;
        t.expires -= shift;
        aged += 1;
    }
    HttpResponse::Ok().json(json!({ "aged": aged }))
}

#[cfg(test)]
mod tests;
