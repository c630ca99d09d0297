//! The fake of X (`/x`): OAuth 2.0 with PKCE (`/i/oauth2/authorize`, `/2/oauth2/token`,
//! `/2/oauth2/revoke`), OAuth 1.0a (`/oauth/request_token`, `/oauth/authorize`,
//! `/oauth/access_token`), `/2/users/me`, `/2/tweets`, the account's own timeline
//! (`GET /2/users/{id}/tweets`) and the chunked media upload (`/2/media/upload/initialize`,
//! `/{id}/append`, `/{id}/finalize`, `GET /2/media/upload`).
//!
//! Strict as X is: confidential-client Basic auth on token calls, the PKCE verifier against
//! the challenge, the redirect URI byte for byte, single-use codes and rotating refresh tokens
//! (issued only with `offline.access`), each OAuth 2.0 call's scopes on its token (`users.read`
//! and `tweet.read` to read, `tweet.write` too to post, `media.write` to upload; else 403),
//! OAuth 1.0a signatures (RFC 5849, the multipart and JSON bodies unsigned) with fresh nonces,
//! `application/json` posts, ≤ 4 images or one GIF or video, weighted text length, replies to
//! existing posts, no duplicate text. Errors have X's shapes (OAuth errors
//! `{"error","error_description"}`, API problems `{"title","detail","type","status"}`).
//!
//! As X does, the API shows a post's text with every URL (an address with a scheme, or one
//! starting `www.`) replaced by a `t.co` link, `&`, `<` and `>` escaped as HTML entities, and a
//! `t.co` link to its media appended (the create answer and the timeline alike);
//! `/_sandbox/posts` lists the text as it was sent. Posts are at most 280 weighted characters,
//! or 25,000 for an account with a subscription (`/_sandbox/premium`); the text of a post over
//! 280 is shown truncated (cut at a space, `…` appended) and whole in its `note_tweet`.
//!
//! The timeline, `GET /2/users/{id}/tweets`, as X serves it: a user-context caller (OAuth 2.0
//! bearer or OAuth 1.0a, else 401); `id` digits only (else 400); the fake knows only the
//! caller's own timeline — another id answers 200 with X's `Not Found Error` in `errors`.
//! Parameters (an unknown one is a 400): `max_results` 5–100 (default 10), `start_time` and
//! `end_time` as `YYYY-MM-DDTHH:mm:ssZ` (second granularity, inclusive, not before
//! 2010-11-06T00:00:00Z, start before end, `end_time` at least 10 seconds before the request),
//! `since_id` and `until_id` (exclusive),
//! `exclude` (`replies`, `retweets`), `pagination_token` (a `next_token` of this timeline),
//! `tweet.fields` (X's names; served: `id`, `text`, `edit_history_tweet_ids`, `created_at`,
//! `author_id`, `conversation_id`, `in_reply_to_user_id`, `referenced_tweets`, `attachments`,
//! `entities` (`urls` only), `note_tweet`, `possibly_sensitive`, `reply_settings`,
//! `public_metrics`, `edit_controls`; the others are accepted and left out), `expansions`
//! (X's names, checked; no `includes` are produced),
//! `user.fields`, `media.fields`, `place.fields`, `poll.fields` (accepted). Only the newest
//! 3,200 posts are on it. The answer: `{"data": [post…] newest first, "meta": {"result_count",
//! "newest_id", "oldest_id", "next_token"?}}`; with nothing to show, `{"meta":
//! {"result_count": 0}}` and no `data`. Each post has `id`, `text` and
//! `edit_history_tweet_ids`, plus the requested fields (`referenced_tweets`: `[{"type":
//! "replied_to", "id"}]` and `in_reply_to_user_id` for a reply only, `attachments: {"media_keys":
//! ["3_<media id>"]}` with media only, `created_at` as `2026-01-02T03:04:05.678Z`,
//! `entities: {"urls": [{"start", "end", "url", "expanded_url", "display_url"}…]}` when the
//! text has links — the media link's with its `media_key` — `start` and `end` counting code
//! points of the text with its HTML entities decoded, `note_tweet: {"text", "entities"}` for a
//! post over 280 characters: its whole text, escaped as `text` is, without the media link).
//!
//! Control (tests):
//! - `POST /x/_sandbox/next_user {"username": "…"}` names who approves the next authorisation
//!   (default `sandbox_user`).
//! - `POST /x/_sandbox/premium {"username": "…", "premium": true}` gives the account a
//!   subscription (long posts, up to 25,000 characters), or with `false` takes it away;
//!   answers the same object.
//! - `POST /x/_sandbox/fail_next_tweet {"status": 503}` answers the next `POST /2/tweets` with
//!   that status, creating nothing — or, with `"after_create": true`, answering it once the
//!   next post is created (as a server failing after the write does).
//! - `POST /x/_sandbox/fail_next_media {"status": 500}` answers the next media upload call
//!   (initialize, append, finalize or status) with that status, changing nothing.
//! - `POST /x/_sandbox/answer_late {"seconds": N, "count": K}` (`count` defaults to 1, `0`
//!   clears; `seconds` 0–3600, fractions allowed): the next K `POST /2/tweets` that create a
//!   post create it at once — it is in `/_sandbox/posts` and on the timeline immediately —
//!   and only then wait N seconds before answering. A refused request uses none of them.
//!   Answers 200 with the delay in force, `{"seconds": N, "count": K}`; `GET` on the same path
//!   answers what is left (`count` goes down as requests use it).
//! - `POST /x/_sandbox/slow_media {"seconds": N, "count": K}`: the next K media upload calls
//!   (initialize, append, finalize or status, each counts one) wait N seconds as they arrive,
//!   before they are handled. Same answers, and `GET`, as `answer_late`.

// The fake's checks answer with the refusal itself, as X would; a response is their error.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use multivio_domain::Provider;
use multivio_domain::content::{ValidationOptions, count};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{Delay, SandboxPost, bearer, content_type, pause, record, snowflake, token};
use crate::credentials::{X_CLIENT_ID, X_CLIENT_SECRET, X_CONSUMER_KEY, X_CONSUMER_SECRET};
use crate::{SandboxState, lock};

const REQUIRED_SCOPES: [&str; 3] = ["tweet.read", "tweet.write", "users.read"];
const CODE_TTL: i64 = 600;
const ACCESS_TTL: i64 = 7200;
const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
const MAX_GIF_BYTES: usize = 15 * 1024 * 1024;
const MAX_VIDEO_BYTES: usize = 512 * 1024 * 1024;
const MAX_CHUNK_BYTES: usize = 5 * 1024 * 1024;
/// Only the newest this many posts of an account are on its timeline.
const TIMELINE_DEPTH: usize = 3200;
/// The query parameters of `GET /2/users/{id}/tweets`.
const TIMELINE_PARAMETERS: [&str; 13] = [
    "end_time",
    "exclude",
    "expansions",
    "max_results",
    "media.fields",
    "pagination_token",
    "place.fields",
    "poll.fields",
    "since_id",
    "start_time",
    "tweet.fields",
    "until_id",
    "user.fields",
];
/// X's `tweet.fields`.
const TWEET_FIELDS: [&str; 30] = [
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "suggested_source_links",
    "text",
    "withheld",
];
/// X's `expansions` of posts.
const EXPANSIONS: [&str; 13] = [
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "entities.note.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
];

/// A sandbox account.
#[derive(Debug, Clone)]
struct User {
    id: String,
    username: String,
}

#[derive(Debug, Clone)]
struct Code {
    user: User,
    redirect_uri: String,
    challenge: String,
    scope: String,
    issued: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Media {
    owner: String,
    media_type: String,
    category: String,
    total_bytes: usize,
    received: usize,
    segments: HashSet<u32>,
    finalized: bool,
    /// Status checks left before processing succeeds (GIF and video).
    checks_left: u32,
}

#[derive(Debug, Clone)]
struct Tweet {
    id: String,
    author: User,
    /// The text as it was sent.
    text: String,
    /// The text as X's API shows it (`t.co` links, HTML entities, the media link; truncated
    /// for a long post) and its links.
    shown: String,
    links: Vec<UrlEntity>,
    /// A long post's whole text as shown (without the media link), and its links.
    note: Option<(String, Vec<UrlEntity>)>,
    media: Vec<String>,
    reply_to: Option<String>,
    /// The author of the post it replies to.
    in_reply_to_user_id: Option<String>,
    /// The thread's first post.
    conversation_id: String,
    created_at: DateTime<Utc>,
}

/// A link in a post's text, as X's `entities.urls` has it.
#[derive(Debug, Clone)]
struct UrlEntity {
    /// Code points of the text (entities decoded) before it, and up to its end.
    start: usize,
    end: usize,
    /// The `t.co` address in the text.
    url: String,
    /// The address as written (`http://` added to one without a scheme), or the media's page.
    expanded_url: String,
    display_url: String,
    /// The media link's: the first attachment's key.
    media_key: Option<String>,
}

impl UrlEntity {
    fn json(&self) -> Value {
        let mut entity = json!({
            "start": self.start,
            "end": self.end,
            "url": self.url,
            "expanded_url": self.expanded_url,
            "display_url": self.display_url,
        });
        if let Some(key) = &self.media_key {
            entity["media_key"] = json!(key);
        }
        entity
    }
}

/// An OAuth 1.0a request token: its secret, callback, and once approved, who approved it
/// with which verifier.
#[derive(Debug, Clone)]
struct RequestToken {
    secret: String,
    callback: String,
    approved: Option<(User, String)>,
}

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    counter: u64,
    users: HashMap<String, User>,
    next_user: Option<String>,
    codes: HashMap<String, Code>,
    /// access token → (user, expiry, the scopes granted)
    access: HashMap<String, (User, DateTime<Utc>, String)>,
    /// refresh token → (user, scope)
    refresh: HashMap<String, (User, String)>,
    /// OAuth 1.0a request tokens.
    request_tokens: HashMap<String, RequestToken>,
    /// OAuth 1.0a access tokens → (secret, user)
    oauth1: HashMap<String, (String, User)>,
    nonces: HashSet<String>,
    media: HashMap<String, Media>,
    /// Every post, oldest first.
    tweets: Vec<Tweet>,
    /// Where each post is in `tweets`, by id.
    tweet_index: HashMap<String, usize>,
    /// (author id, text, reply_to) of every post with text: X refuses a duplicate.
    texts: HashSet<(String, String, Option<String>)>,
    /// Each author's posts, oldest first (positions in `tweets`), by author id.
    timelines: HashMap<String, Vec<usize>>,
    /// The status the next `POST /2/tweets` answers, and whether it creates the post first.
    fail_next_tweet: Option<FailNext>,
    /// The status the next media upload call answers.
    fail_next_media: Option<u16>,
    /// Posts created at once and answered late.
    answer_late: Delay,
    /// Media upload calls that wait before they are handled.
    slow_media: Delay,
    /// Usernames of the accounts with a subscription (long posts).
    premium: HashSet<String>,
}

impl State {
    fn user(&mut self, username: &str) -> User {
        if let Some(u) = self.users.get(username) {
            return u.clone();
        }
        let user = User {
            id: snowflake(&mut self.counter),
            username: username.to_owned(),
        };
        self.users.insert(username.to_owned(), user.clone());
        user
    }

    fn tweet(&self, id: &str) -> Option<&Tweet> {
        self.tweet_index.get(id).map(|&at| &self.tweets[at])
    }

    fn approving_user(&mut self) -> User {
        let name = self
            .next_user
            .take()
            .unwrap_or_else(|| "sandbox_user".to_owned());
        self.user(&name)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/i/oauth2/authorize", web::get().to(authorize))
        .route("/2/oauth2/token", web::post().to(oauth2_token))
        .route("/2/oauth2/revoke", web::post().to(revoke))
        .route("/2/users/me", web::get().to(users_me))
        .route("/2/tweets", web::post().to(create_tweet))
        .route("/2/users/{id}/tweets", web::get().to(user_tweets))
        .route("/2/media/upload/initialize", web::post().to(media_init))
        .route("/2/media/upload/{id}/append", web::post().to(media_append))
        .route(
            "/2/media/upload/{id}/finalize",
            web::post().to(media_finalize),
        )
        .route("/2/media/upload", web::get().to(media_status))
        .route("/oauth/request_token", web::post().to(request_token))
        .route("/oauth/authorize", web::get().to(oauth1_authorize))
        .route("/oauth/access_token", web::post().to(access_token))
        .route("/_sandbox/next_user", web::post().to(next_user))
        .route("/_sandbox/premium", web::post().to(set_premium))
        .route("/_sandbox/fail_next_tweet", web::post().to(fail_next_tweet))
        .route("/_sandbox/fail_next_media", web::post().to(fail_next_media))
        .route("/_sandbox/answer_late", web::post().to(set_answer_late))
        .route("/_sandbox/answer_late", web::get().to(get_answer_late))
        .route("/_sandbox/slow_media", web::post().to(set_slow_media))
        .route("/_sandbox/slow_media", web::get().to(get_slow_media));
}

pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .tweets
        .iter()
        .map(|t| SandboxPost {
            platform: "x",
            account: format!("@{}", t.author.username),
            id: t.id.clone(),
            text: t.text.clone(),
            media: t
                .media
                .iter()
                .map(|id| {
                    state.media.get(id).map_or_else(
                        || id.clone(),
                        |m| format!("{} ({} bytes)", m.media_type, m.total_bytes),
                    )
                })
                .collect(),
            reply_to: t.reply_to.clone(),
            url: format!("https://x.com/{}/status/{}", t.author.username, t.id),
            created_at: t.created_at,
        })
        .collect()
}

// ---- answers in X's shapes -------------------------------------------------------------------

fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": error, "error_description": description }))
}

fn problem(status: StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(json!({
            "title": status.canonical_reason().unwrap_or("Error"),
            "detail": detail,
            "type": "about:blank",
            "status": status.as_u16(),
        }))
}

fn invalid_request(detail: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "errors": [{ "message": detail }],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }))
}

fn unauthorized() -> HttpResponse {
    problem(StatusCode::UNAUTHORIZED, "Unauthorized")
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// The client of a confidential-client token call: `Authorization: Basic` with the sandbox's
/// client id and secret.
fn client_authenticated(req: &HttpRequest) -> bool {
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{X_CLIENT_ID}:{X_CLIENT_SECRET}"));
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|given| given == expected)
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The request's URL as the client signed it (scheme, host and path; the query is signed
/// separately).
fn request_url(req: &HttpRequest) -> Option<url::Url> {
    let info = req.connection_info();
    url::Url::parse(&format!(
        "{}://{}{}",
        info.scheme(),
        info.host(),
        req.uri()
            .path_and_query()
            .map_or(req.path(), |p| p.as_str())
    ))
    .ok()
}

/// Checks an OAuth 1.0a `Authorization` header (RFC 5849): known consumer, fresh timestamp and
/// nonce, the signature over the query, the protocol parameters and a form body (`form`), with
/// the secret of `token_secret(oauth_token)`. Returns the protocol parameters.
fn verify_oauth1(
    state: &mut State,
    req: &HttpRequest,
    form_params: &[(String, String)],
    token_secret: impl Fn(&State, &str) -> Option<String>,
) -> Result<HashMap<String, String>, HttpResponse> {
    let refused = |why: &str| {
        HttpResponse::Unauthorized().json(json!({
            "errors": [{ "code": 32, "message": format!("Could not authenticate you. ({why})") }]
        }))
    };
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused("no Authorization header"))?;
    let params = multivio_social::oauth1::parse_authorization(header)
        .ok_or_else(|| refused("not an OAuth header"))?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if get("oauth_consumer_key").as_deref() != Some(X_CONSUMER_KEY) {
        return Err(refused("unknown consumer"));
    }
    if get("oauth_signature_method").as_deref() != Some("HMAC-SHA1") {
        return Err(refused("signature method"));
    }
    let timestamp: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| refused("timestamp"))?;
    if (Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err(refused("stale timestamp"));
    }
    let nonce = get("oauth_nonce").ok_or_else(|| refused("nonce"))?;
    if !state.nonces.insert(format!("{timestamp}:{nonce}")) {
        return Err(refused("nonce used before"));
    }
    let token = get("oauth_token");
    let secret = match &token {
        Some(t) => token_secret(state, t).ok_or_else(|| refused("unknown token"))?,
        None => String::new(),
    };
    let signature = get("oauth_signature").ok_or_else(|| refused("no signature"))?;
    let url = request_url(req).ok_or_else(|| refused("url"))?;
    let protocol: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k.starts_with("oauth_"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let form: Vec<(&str, &str)> = form_params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signer = multivio_social::oauth1::Signer {
        consumer_key: X_CONSUMER_KEY,
        consumer_secret: X_CONSUMER_SECRET,
        token: token.as_deref(),
        token_secret: &secret,
    };
    let expected = signer.signature(req.method().as_str(), &url, &protocol, &form);
    if expected != signature {
        return Err(refused("signature does not match"));
    }
    Ok(params.into_iter().collect())
}

/// Who a user-context call is for: an OAuth 2.0 bearer token granted every scope in `needs`
/// (403 naming the first one missing, as X answers), or an OAuth 1.0a signature (the app's
/// permission covers every call). Bodies of API calls (JSON, multipart) are never part of the
/// signature.
fn caller(state: &mut State, req: &HttpRequest, needs: &[&str]) -> Result<User, HttpResponse> {
    if let Some(token) = bearer(req) {
        return match state.access.get(&token) {
            Some((user, expiry, scope)) if *expiry > Utc::now() => {
                match needs.iter().find(|n| !scope.split(' ').any(|s| s == **n)) {
                    Some(missing) => Err(HttpResponse::Forbidden().json(json!({
                        "title": "Forbidden",
                        "type": "about:blank",
                        "status": 403,
                        "detail": format!("The token was not granted the {missing} scope this endpoint requires."),
                    }))),
                    None => Ok(user.clone()),
                }
            }
            _ => Err(unauthorized()),
        };
    }
    let params = verify_oauth1(state, req, &[], |s, t| {
        s.oauth1.get(t).map(|(secret, _)| secret.clone())
    })?;
    let token = params.get("oauth_token").cloned().unwrap_or_default();
    state
        .oauth1
        .get(&token)
        .map(|(_, user)| user.clone())
        .ok_or_else(unauthorized)
}

// ---- OAuth 2.0 -------------------------------------------------------------------------------

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "x", &req, b"");
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("response_type") != "code" || get("client_id") != X_CLIENT_ID {
        return HttpResponse::BadRequest()
            .body("Something went wrong: unknown client or response type");
    }
    let redirect_uri = get("redirect_uri");
    let Ok(redirect) = url::Url::parse(redirect_uri) else {
        return HttpResponse::BadRequest().body("Something went wrong: redirect_uri");
    };
    let scopes: HashSet<&str> = get("scope").split(' ').collect();
    if REQUIRED_SCOPES.iter().any(|s| !scopes.contains(s))
        || get("state").is_empty()
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() < 43
    {
        return HttpResponse::BadRequest().body("Something went wrong: scope, state or PKCE");
    }
    let mut x = lock(&state.x);
    let user = x.approving_user();
    let code = token("xcode-");
    x.codes.insert(
        code.clone(),
        Code {
            user,
            redirect_uri: redirect_uri.to_owned(),
            challenge: get("code_challenge").to_owned(),
            scope: get("scope").to_owned(),
            issued: Utc::now(),
        },
    );
    let mut back = redirect;
    back.query_pairs_mut()
        .append_pair("state", get("state"))
        .append_pair("code", &code);
    HttpResponse::Found()
        .insert_header(("location", back.to_string()))
        .finish()
}

fn issue_tokens(x: &mut State, user: User, scope: &str) -> Value {
    let access = token("xat-");
    x.access.insert(
        access.clone(),
        (
            user.clone(),
            Utc::now() + Duration::seconds(ACCESS_TTL),
            scope.to_owned(),
        ),
    );
    let mut answer = json!({
        "token_type": "bearer",
        "expires_in": ACCESS_TTL,
        "access_token": access,
        "scope": scope,
    });
    if scope.split(' ').any(|s| s == "offline.access") {
        let refresh = token("xrt-");
        x.refresh.insert(refresh.clone(), (user, scope.to_owned()));
        answer["refresh_token"] = json!(refresh);
    }
    answer
}

async fn oauth2_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    if content_type(&req) != "application/x-www-form-urlencoded" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter [grant_type].",
        );
    }
    if !client_authenticated(&req) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let f = form(&body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let mut x = lock(&state.x);
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = x.codes.remove(get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                );
            };
            if (Utc::now() - code.issued).num_seconds() > CODE_TTL
                || code.redirect_uri != get("redirect_uri")
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                );
            }
            if s256(get("code_verifier")) != code.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the code verifier did not match the code challenge.",
                );
            }
            let answer = issue_tokens(&mut x, code.user, &code.scope);
            HttpResponse::Ok().json(answer)
        }
        "refresh_token" => match x.refresh.remove(get("refresh_token")) {
            Some((user, scope)) => {
                let answer = issue_tokens(&mut x, user, &scope);
                HttpResponse::Ok().json(answer)
            }
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Value passed for the token was invalid.",
            ),
        },
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Value passed for the grant type was invalid.",
        ),
    }
}

async fn revoke(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    if !client_authenticated(&req) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let f = form(&body);
    let token = f.get("token").cloned().unwrap_or_default();
    let mut x = lock(&state.x);
    x.access.remove(&token);
    x.refresh.remove(&token);
    HttpResponse::Ok().json(json!({ "revoked": true }))
}

async fn users_me(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "x", &req, b"");
    let mut x = lock(&state.x);
    match caller(&mut x, &req, &["tweet.read", "users.read"]) {
        Ok(user) => HttpResponse::Ok().json(json!({
            "data": { "id": user.id, "name": format!("Sandbox {}", user.username), "username": user.username }
        })),
        Err(refused) => refused,
    }
}

// ---- posts -----------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TweetMedia {
    media_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TweetReply {
    in_reply_to_tweet_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTweet {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<TweetMedia>,
    #[serde(default)]
    reply: Option<TweetReply>,
}

async fn create_tweet(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    let mut late = None;
    let response = create_tweet_locked(&mut lock(&state.x), &req, &body, &mut late);
    pause(late).await;
    response
}

/// Creates a post; `late` is set to how long to wait before answering when the post was
/// created and a late answer was asked for.
fn create_tweet_locked(
    x: &mut State,
    req: &HttpRequest,
    body: &[u8],
    late: &mut Option<std::time::Duration>,
) -> HttpResponse {
    let author = match caller(x, req, &["tweet.read", "tweet.write", "users.read"]) {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    if content_type(req) != "application/json" {
        return invalid_request("Requests with bodies must have content-type of application/json.");
    }
    if let Some(fault) = x.fail_next_tweet.take_if(|f| !f.after_create) {
        return fault.answer();
    }
    let tweet: NewTweet = match serde_json::from_slice(body) {
        Ok(t) => t,
        Err(e) => return invalid_request(&e.to_string()),
    };
    let text = tweet.text.unwrap_or_default();
    let media_ids = tweet.media.map(|m| m.media_ids).unwrap_or_default();
    if text.is_empty() && media_ids.is_empty() {
        return invalid_request("text or media is required");
    }
    let limit = if x.premium.contains(&author.username) {
        LONG_POST_LIMIT
    } else {
        POST_LIMIT
    };
    if count(Provider::X, &text, &ValidationOptions::default()) > limit {
        return problem(
            StatusCode::FORBIDDEN,
            &format!("You are not permitted to create a Tweet with more than {limit} characters."),
        );
    }
    if media_ids.len() > 4 {
        return invalid_request("Your media IDs are invalid.");
    }
    let mut kinds = Vec::new();
    for id in &media_ids {
        match x.media.get(id) {
            Some(m) if m.owner == author.id && m.finalized && m.checks_left == 0 => {
                kinds.push(m.category.clone());
            }
            _ => return invalid_request("Your media IDs are invalid."),
        }
    }
    let one_only = kinds.iter().any(|k| k == "tweet_gif" || k == "tweet_video");
    if one_only && kinds.len() > 1 {
        return invalid_request("Your media IDs are invalid.");
    }
    let reply_to = tweet.reply.map(|r| r.in_reply_to_tweet_id);
    let parent = match &reply_to {
        Some(parent) => match x.tweet(parent) {
            Some(p) => Some((p.author.id.clone(), p.conversation_id.clone())),
            None => {
                return problem(
                    StatusCode::FORBIDDEN,
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                );
            }
        },
        None => None,
    };
    let key = (author.id.clone(), text.clone(), reply_to.clone());
    if !text.is_empty() && x.texts.contains(&key) {
        return problem(
            StatusCode::FORBIDDEN,
            "You are not allowed to create a Tweet with duplicate content.",
        );
    }
    let id = snowflake(&mut x.counter);
    let media_link = media_ids.first().map(|first| {
        let video = x
            .media
            .get(first)
            .is_some_and(|m| m.category == "tweet_video");
        (
            format!("3_{first}"),
            format!(
                "https://x.com/{}/status/{id}/{}/1",
                author.username,
                if video { "video" } else { "photo" }
            ),
        )
    });
    let shown = render(&text, media_link, &id);
    // Never earlier than the post before it: timelines are searched by time.
    let created_at = x
        .tweets
        .last()
        .map_or_else(Utc::now, |last| Utc::now().max(last.created_at));
    let (in_reply_to_user_id, conversation_id) = match parent {
        Some((user, conversation)) => (Some(user), conversation),
        None => (None, id.clone()),
    };
    if !text.is_empty() {
        x.texts.insert(key);
    }
    let at = x.tweets.len();
    x.timelines.entry(author.id.clone()).or_default().push(at);
    x.tweet_index.insert(id.clone(), at);
    let answer_text = shown.text.clone();
    x.tweets.push(Tweet {
        id: id.clone(),
        author,
        text,
        shown: shown.text,
        links: shown.links,
        note: shown.note,
        media: media_ids,
        reply_to,
        in_reply_to_user_id,
        conversation_id,
        created_at,
    });
    *late = x.answer_late.take();
    if let Some(fault) = x.fail_next_tweet.take() {
        return fault.answer();
    }
    HttpResponse::Created().json(json!({
        "data": { "id": id, "text": answer_text, "edit_history_tweet_ids": [id] }
    }))
}

/// The weighted characters of a post, and of a subscriber's post.
const POST_LIMIT: usize = 280;
const LONG_POST_LIMIT: usize = 25_000;
/// Where a long post's shown `text` is cut (then `…`), in characters.
const TRUNCATED_AT: usize = 270;

/// A post's text as X's API shows it.
#[derive(Debug)]
struct Rendered {
    /// `text`: truncated for a long post, the media link appended.
    text: String,
    /// Its `entities.urls`.
    links: Vec<UrlEntity>,
    /// For a post over 280 characters, `note_tweet`: the whole text, its links.
    note: Option<(String, Vec<UrlEntity>)>,
}

/// A post's text as X's API shows it: every URL a `t.co` link (punctuation closing it kept
/// outside; an address starting `www.` too, to `http://…`), `&`, `<` and `>` as HTML entities,
/// and a `t.co` link to its media at the end (`media`: the first attachment's key and page).
fn render(text: &str, media: Option<(String, String)>, id: &str) -> Rendered {
    // The text with its t.co links, not yet escaped, and where they are in it (code points).
    let mut plain = String::with_capacity(text.len() + 32);
    let mut links = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        let lower = word.to_ascii_lowercase();
        let has_scheme = ["http://", "https://"]
            .iter()
            .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
        let www = lower.starts_with("www.") && lower.len() > "www.".len();
        if has_scheme || www {
            let url = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
            let short = t_co(id, url);
            let expanded = if has_scheme {
                url.to_owned()
            } else {
                format!("http://{url}")
            };
            let start = plain.chars().count();
            plain.push_str(&short);
            links.push(UrlEntity {
                start,
                end: start + short.chars().count(),
                url: short,
                display_url: display(&expanded),
                expanded_url: expanded,
                media_key: None,
            });
            plain.push_str(&word[url.len()..]);
        } else {
            plain.push_str(word);
        }
        let space_end = after
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(after.len());
        plain.push_str(&after[..space_end]);
        rest = &after[space_end..];
    }
    let long = count(Provider::X, text, &ValidationOptions::default()) > POST_LIMIT;
    let note = long.then(|| (escape_html(&plain), links.clone()));
    if long {
        // Cut at the last space within the first characters, never inside a link.
        let cut: String = plain.chars().take(TRUNCATED_AT).collect();
        let cut = cut
            .rfind(char::is_whitespace)
            .map_or(cut.as_str(), |at| &cut[..at])
            .trim_end()
            .to_owned();
        let kept = cut.chars().count();
        links.retain(|l| l.end <= kept);
        plain = format!("{cut}…");
    }
    if let Some((key, page)) = media {
        if !plain.is_empty() {
            plain.push(' ');
        }
        let short = t_co(id, "media");
        let start = plain.chars().count();
        plain.push_str(&short);
        links.push(UrlEntity {
            start,
            end: start + short.chars().count(),
            display_url: format!("pic.x.com/{}", short.trim_start_matches("https://t.co/")),
            url: short,
            expanded_url: page,
            media_key: Some(key),
        });
    }
    Rendered {
        text: escape_html(&plain),
        links,
        note,
    }
}

/// What X displays of a link: without its scheme (and `www.`), cut after 25 characters.
fn display(url: &str) -> String {
    let bare = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_start_matches("www.");
    if bare.chars().count() > 26 {
        format!("{}…", bare.chars().take(25).collect::<String>())
    } else {
        bare.to_owned()
    }
}

/// The text alone, as [`render`] shows it.
#[cfg(test)]
fn shown_text(text: &str, media: bool, id: &str) -> String {
    let media = media.then(|| {
        (
            "3_1".to_owned(),
            format!("https://x.com/i/status/{id}/photo/1"),
        )
    });
    render(text, media, id).text
}

/// A stable `t.co` link for `what` in post `id`.
fn t_co(id: &str, what: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, format!("{id} {what}").as_bytes());
    let code: String = hex::encode(hash.as_ref()).chars().take(10).collect();
    format!("https://t.co/{code}")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ---- the timeline ----------------------------------------------------------------------------

/// X's answer to an invalid query parameter.
fn invalid_parameter(name: &str, value: &str, message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "errors": [{ "parameters": { name: [value] }, "message": message }],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }))
}

/// An id as X takes it: 1–19 digits.
fn numeric_id(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A time parameter: `YYYY-MM-DDTHH:mm:ssZ`, on or after `earliest`.
fn time_parameter(name: &str, value: &str, earliest: &str) -> Result<DateTime<Utc>, HttpResponse> {
    let parsed = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ")
        .ok()
        .filter(|_| value.len() == 20)
        .map(|t| t.and_utc());
    let Some(at) = parsed else {
        return Err(invalid_parameter(
            name,
            value,
            &format!(
                "Invalid '{name}':'{value}'. '{name}' must be a date-time of the form \
                 YYYY-MM-DDTHH:mm:ssZ (ISO 8601/RFC 3339, no fraction of a second)."
            ),
        ));
    };
    let floor = chrono::NaiveDateTime::parse_from_str(earliest, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| t.and_utc())
        .unwrap_or_default();
    if at < floor {
        return Err(invalid_parameter(
            name,
            value,
            &format!("Invalid '{name}':'{value}'. '{name}' must be on or after {earliest}"),
        ));
    }
    Ok(at)
}

/// A comma-separated list, each among `allowed`.
fn list_parameter<'a>(
    name: &str,
    value: &'a str,
    allowed: &[&str],
) -> Result<Vec<&'a str>, HttpResponse> {
    let items: Vec<&str> = value.split(',').collect();
    match items.iter().find(|i| !allowed.contains(i)) {
        Some(bad) => Err(invalid_parameter(
            name,
            value,
            &format!(
                "The `{name}` query parameter value [{bad}] is not one of [{}]",
                allowed.join(",")
            ),
        )),
        None => Ok(items),
    }
}

/// A post as the timeline shows it, with the requested fields.
fn tweet_json(t: &Tweet, fields: &HashSet<&str>) -> Value {
    let mut post = json!({
        "id": t.id,
        "text": t.shown,
        "edit_history_tweet_ids": [t.id],
    });
    let mut add = |name: &str, value: Value| {
        if fields.contains(name) {
            post[name] = value;
        }
    };
    add(
        "created_at",
        json!(
            t.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
    );
    add("author_id", json!(t.author.id));
    add("conversation_id", json!(t.conversation_id));
    add("possibly_sensitive", json!(false));
    add("reply_settings", json!("everyone"));
    add(
        "public_metrics",
        json!({
            "retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
            "bookmark_count": 0, "impression_count": 0,
        }),
    );
    add(
        "edit_controls",
        json!({
            "edits_remaining": 5,
            "is_edit_eligible": true,
            "editable_until": (t.created_at + Duration::hours(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }),
    );
    if let Some(parent) = &t.reply_to {
        add(
            "referenced_tweets",
            json!([{ "type": "replied_to", "id": parent }]),
        );
    }
    if let Some(user) = &t.in_reply_to_user_id {
        add("in_reply_to_user_id", json!(user));
    }
    if !t.media.is_empty() {
        let keys: Vec<String> = t.media.iter().map(|m| format!("3_{m}")).collect();
        add("attachments", json!({ "media_keys": keys }));
    }
    if !t.links.is_empty() {
        let urls: Vec<Value> = t.links.iter().map(UrlEntity::json).collect();
        add("entities", json!({ "urls": urls }));
    }
    if let Some((text, links)) = &t.note {
        let mut note = json!({ "text": text });
        if !links.is_empty() {
            let urls: Vec<Value> = links.iter().map(UrlEntity::json).collect();
            note["entities"] = json!({ "urls": urls });
        }
        add("note_tweet", note);
    }
    post
}

/// The next page's token for the post `id` (the newest post of that page).
fn page_token(id: &str) -> String {
    format!("7140{id}")
}

async fn user_tweets(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    record(&state, "x", &req, b"");
    let mut x = lock(&state.x);
    let me = match caller(&mut x, &req, &["tweet.read", "users.read"]) {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let id = path.into_inner();
    if numeric_id(&id).is_none() {
        return invalid_parameter(
            "id",
            &id,
            &format!("The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$"),
        );
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned() {
        if !TIMELINE_PARAMETERS.contains(&key.as_str()) {
            return invalid_parameter(
                &key,
                &value,
                &format!(
                    "The query parameter [{key}] is not one of [id,{}]",
                    TIMELINE_PARAMETERS.join(",")
                ),
            );
        }
        if params.contains_key(&key) {
            return invalid_parameter(
                &key,
                &value,
                &format!("Duplicate parameters are not allowed: the `{key}` query parameter"),
            );
        }
        params.insert(key, value);
    }
    let get = |k: &str| params.get(k).map(String::as_str);
    let max_results = match get("max_results") {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (5..=100).contains(&n) => n,
            _ => {
                return invalid_parameter(
                    "max_results",
                    v,
                    &format!(
                        "The `max_results` query parameter value [{v}] is not between 5 and 100"
                    ),
                );
            }
        },
    };
    let start = match get("start_time") {
        Some(v) => match time_parameter("start_time", v, "2010-11-06T00:00:00Z") {
            Ok(t) => Some(t),
            Err(refused) => return refused,
        },
        None => None,
    };
    let end = match get("end_time") {
        Some(v) => match time_parameter("end_time", v, "2010-11-06T00:00:01Z") {
            Ok(t) => Some(t),
            Err(refused) => return refused,
        },
        None => None,
    };
    if let Some(e) = end
        && e > Utc::now() - Duration::seconds(10)
    {
        let v = get("end_time").unwrap_or_default();
        return invalid_parameter(
            "end_time",
            v,
            &format!(
                "Invalid 'end_time':'{v}'. 'end_time' must be a minimum of 10 seconds prior to \
                 the request time."
            ),
        );
    }
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        let v = get("start_time").unwrap_or_default();
        return invalid_parameter(
            "start_time",
            v,
            &format!("Invalid 'start_time':'{v}'. 'start_time' must be before 'end_time'"),
        );
    }
    let mut ids = HashMap::new();
    for name in ["since_id", "until_id"] {
        if let Some(v) = get(name) {
            match numeric_id(v) {
                Some(n) => {
                    ids.insert(name, n);
                }
                None => {
                    return invalid_parameter(
                        name,
                        v,
                        &format!(
                            "The `{name}` query parameter value [{v}] does not match ^[0-9]{{1,19}}$"
                        ),
                    );
                }
            }
        }
    }
    let exclude = match get("exclude") {
        Some(v) => match list_parameter("exclude", v, &["replies", "retweets"]) {
            Ok(items) => items,
            Err(refused) => return refused,
        },
        None => Vec::new(),
    };
    let fields: HashSet<&str> = match get("tweet.fields") {
        Some(v) => match list_parameter("tweet.fields", v, &TWEET_FIELDS) {
            Ok(items) => items.into_iter().collect(),
            Err(refused) => return refused,
        },
        None => HashSet::new(),
    };
    if let Some(v) = get("expansions")
        && let Err(refused) = list_parameter("expansions", v, &EXPANSIONS)
    {
        return refused;
    }
    if id != me.id {
        return HttpResponse::Ok().json(json!({
            "errors": [{
                "value": id,
                "detail": format!("Could not find user with id: [{id}]."),
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "id",
                "resource_id": id,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }]
        }));
    }
    let all = x.timelines.get(&me.id).map_or(&[][..], Vec::as_slice);
    let visible = &all[all.len().saturating_sub(TIMELINE_DEPTH)..];
    let tweets = &x.tweets;
    let number = |at: usize| numeric_id(&tweets[at].id).unwrap_or(0);
    // The posts in range are visible[lower..upper], oldest first.
    let mut lower = 0;
    let mut upper = visible.len();
    if let Some(start) = start {
        lower = lower.max(visible.partition_point(|&at| tweets[at].created_at < start));
    }
    if let Some(end) = end {
        // Second granularity, inclusive: the whole second of `end_time`.
        let end = end + Duration::seconds(1);
        upper = upper.min(visible.partition_point(|&at| tweets[at].created_at < end));
    }
    if let Some(&since) = ids.get("since_id") {
        lower = lower.max(visible.partition_point(|&at| number(at) <= since));
    }
    if let Some(&until) = ids.get("until_id") {
        upper = upper.min(visible.partition_point(|&at| number(at) < until));
    }
    if let Some(token) = get("pagination_token") {
        // Ids grow along the timeline: the token's post is found by bisection.
        let newest = token.strip_prefix("7140").and_then(numeric_id).filter(|n| {
            let at = visible.partition_point(|&at| number(at) < *n);
            visible.get(at).is_some_and(|&at| number(at) == *n)
        });
        match newest {
            Some(newest) => {
                upper = upper.min(visible.partition_point(|&at| number(at) <= newest));
            }
            None => {
                return invalid_parameter(
                    "pagination_token",
                    token,
                    &format!("The `pagination_token` query parameter value [{token}] is not valid"),
                );
            }
        }
    }
    let skip_replies = exclude.contains(&"replies");
    let mut shown = Vec::new();
    let mut next = None;
    if lower < upper {
        for &at in visible[lower..upper].iter().rev() {
            let t = &tweets[at];
            if skip_replies && t.reply_to.is_some() {
                continue;
            }
            if shown.len() == max_results {
                next = Some(page_token(&t.id));
                break;
            }
            shown.push(t);
        }
    }
    if shown.is_empty() {
        return HttpResponse::Ok().json(json!({ "meta": { "result_count": 0 } }));
    }
    let mut meta = json!({
        "result_count": shown.len(),
        "newest_id": shown.first().map(|t| t.id.clone()),
        "oldest_id": shown.last().map(|t| t.id.clone()),
    });
    if let Some(next) = next {
        meta["next_token"] = json!(next);
    }
    let data: Vec<Value> = shown.iter().map(|t| tweet_json(t, &fields)).collect();
    HttpResponse::Ok().json(json!({ "data": data, "meta": meta }))
}

// ---- media -----------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaInit {
    media_type: String,
    total_bytes: u64,
    #[serde(default)]
    media_category: Option<String>,
}

fn media_json(id: &str, m: &Media) -> Value {
    let mut data = json!({
        "id": id,
        "media_key": format!("3_{id}"),
        "size": m.total_bytes,
        "expires_after_secs": 86400,
    });
    if m.finalized && (m.category == "tweet_gif" || m.category == "tweet_video") {
        data["processing_info"] = if m.checks_left == 0 {
            json!({ "state": "succeeded", "progress_percent": 100 })
        } else {
            json!({ "state": "in_progress", "check_after_secs": 1, "progress_percent": 50 })
        };
    }
    json!({ "data": data })
}

/// Waits as `slow_media` asks, when it does (the lock is not held while waiting).
async fn slow_media(state: &SandboxState) {
    let wait = lock(&state.x).slow_media.take();
    pause(wait).await;
}

async fn media_init(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    slow_media(&state).await;
    let mut x = lock(&state.x);
    let owner = match caller(&mut x, &req, &["media.write"]) {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    if let Some(status) = x.fail_next_media.take() {
        return server_error(status);
    }
    if content_type(&req) != "application/json" {
        return invalid_request("Requests with bodies must have content-type of application/json.");
    }
    let init: MediaInit = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return invalid_request(&e.to_string()),
    };
    let category = init.media_category.unwrap_or_else(|| {
        match init.media_type.as_str() {
            "image/gif" => "tweet_gif",
            t if t.starts_with("video/") => "tweet_video",
            _ => "tweet_image",
        }
        .to_owned()
    });
    let limit = match category.as_str() {
        "tweet_image" => MAX_IMAGE_BYTES,
        "tweet_gif" => MAX_GIF_BYTES,
        "tweet_video" | "amplify_video" => MAX_VIDEO_BYTES,
        _ => return invalid_request("media_category is invalid"),
    };
    let supported = [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    ];
    if !supported.contains(&init.media_type.as_str()) {
        return invalid_request("media_type is invalid");
    }
    let total = usize::try_from(init.total_bytes).unwrap_or(usize::MAX);
    if total == 0 || total > limit {
        return invalid_request("total_bytes is invalid for this media category");
    }
    let id = snowflake(&mut x.counter);
    let media = Media {
        owner: owner.id,
        media_type: init.media_type,
        category: category.clone(),
        total_bytes: total,
        received: 0,
        segments: HashSet::new(),
        finalized: false,
        checks_left: if category == "tweet_image" { 0 } else { 2 },
    };
    let answer = json!({ "data": { "id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86400 } });
    x.media.insert(id, media);
    HttpResponse::Ok().json(answer)
}

/// The parts of a multipart body: name → bytes.
async fn multipart_parts(
    req: &HttpRequest,
    body: web::Bytes,
) -> Result<HashMap<String, Vec<u8>>, String> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut multipart = actix_multipart::Multipart::new(req.headers(), stream);
    let mut parts = HashMap::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| e.to_string())?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        parts.insert(name, bytes);
    }
    Ok(parts)
}

async fn media_append(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    slow_media(&state).await;
    if content_type(&req) != "multipart/form-data" {
        return invalid_request("append takes multipart/form-data");
    }
    let parts = match multipart_parts(&req, body).await {
        Ok(p) => p,
        Err(e) => return invalid_request(&e),
    };
    let mut x = lock(&state.x);
    let owner = match caller(&mut x, &req, &["media.write"]) {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    if let Some(status) = x.fail_next_media.take() {
        return server_error(status);
    }
    let segment: Option<u32> = parts
        .get("segment_index")
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.trim().parse().ok());
    let (Some(segment), Some(chunk)) = (segment, parts.get("media")) else {
        return invalid_request("segment_index and media are required");
    };
    if chunk.is_empty() || chunk.len() > MAX_CHUNK_BYTES || segment > 999 {
        return invalid_request("media segment is invalid");
    }
    match x.media.get_mut(path.as_str()) {
        Some(m) if m.owner == owner.id && !m.finalized => {
            if !m.segments.insert(segment) {
                return invalid_request("segment_index was sent before");
            }
            m.received += chunk.len();
            HttpResponse::Ok()
                .json(json!({ "data": { "expires_at": Utc::now().timestamp() + 86400 } }))
        }
        _ => invalid_request("media_id is invalid"),
    }
}

async fn media_finalize(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    slow_media(&state).await;
    let mut x = lock(&state.x);
    let owner = match caller(&mut x, &req, &["media.write"]) {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    if let Some(status) = x.fail_next_media.take() {
        return server_error(status);
    }
    let id = path.into_inner();
    match x.media.get_mut(&id) {
        Some(m) if m.owner == owner.id && !m.finalized => {
            if m.received != m.total_bytes {
                return invalid_request(
                    "File size does not correspond to the size declared at initialize.",
                );
            }
            m.finalized = true;
            let answer = media_json(&id, m);
            HttpResponse::Ok().json(answer)
        }
        _ => invalid_request("media_id is invalid"),
    }
}

async fn media_status(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "x", &req, b"");
    slow_media(&state).await;
    let mut x = lock(&state.x);
    let owner = match caller(&mut x, &req, &["media.write"]) {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    if let Some(status) = x.fail_next_media.take() {
        return server_error(status);
    }
    let q = query(&req);
    let id = q.get("media_id").cloned().unwrap_or_default();
    match x.media.get_mut(&id) {
        Some(m) if m.owner == owner.id && m.finalized => {
            let answer = media_json(&id, m);
            m.checks_left = m.checks_left.saturating_sub(1);
            HttpResponse::Ok().json(answer)
        }
        _ => invalid_request("media_id is invalid"),
    }
}

// ---- OAuth 1.0a ------------------------------------------------------------------------------

async fn request_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    let mut x = lock(&state.x);
    let params = match verify_oauth1(&mut x, &req, &[], |_, _| None) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let Some(callback) = params.get("oauth_callback").filter(|c| !c.is_empty()) else {
        return HttpResponse::Unauthorized().json(json!({
            "errors": [{ "code": 32, "message": "Could not authenticate you. (oauth_callback)" }]
        }));
    };
    let (token, secret) = (token("x1rt-"), token("x1rs-"));
    x.request_tokens.insert(
        token.clone(),
        RequestToken {
            secret: secret.clone(),
            callback: callback.clone(),
            approved: None,
        },
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "oauth_token={token}&oauth_token_secret={secret}&oauth_callback_confirmed=true"
        ))
}

async fn oauth1_authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "x", &req, b"");
    let q = query(&req);
    let token = q.get("oauth_token").cloned().unwrap_or_default();
    let mut x = lock(&state.x);
    let user = x.approving_user();
    let Some(pending) = x.request_tokens.get_mut(&token) else {
        return HttpResponse::BadRequest().body("This page is no longer valid.");
    };
    let verifier = crate::common::token("x1v-");
    pending.approved = Some((user, verifier.clone()));
    let Ok(mut back) = url::Url::parse(&pending.callback) else {
        return HttpResponse::BadRequest().body("The callback is not a URL.");
    };
    back.query_pairs_mut()
        .append_pair("oauth_token", &token)
        .append_pair("oauth_verifier", &verifier);
    HttpResponse::Found()
        .insert_header(("location", back.to_string()))
        .finish()
}

async fn access_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "x", &req, &body);
    let form_params: Vec<(String, String)> =
        if content_type(&req) == "application/x-www-form-urlencoded" {
            url::form_urlencoded::parse(&body).into_owned().collect()
        } else {
            Vec::new()
        };
    let mut x = lock(&state.x);
    let params = match verify_oauth1(&mut x, &req, &form_params, |s, t| {
        s.request_tokens.get(t).map(|r| r.secret.clone())
    }) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let token = params.get("oauth_token").cloned().unwrap_or_default();
    let verifier = params
        .get("oauth_verifier")
        .cloned()
        .or_else(|| query(&req).get("oauth_verifier").cloned())
        .or_else(|| {
            form_params
                .iter()
                .find(|(k, _)| k == "oauth_verifier")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_default();
    match x.request_tokens.remove(&token).and_then(|r| r.approved) {
        Some((user, expected)) if expected == verifier => {
            let (access, secret) = (token_string("x1at-", &user), crate::common::token("x1as-"));
            x.oauth1
                .insert(access.clone(), (secret.clone(), user.clone()));
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(format!(
                    "oauth_token={access}&oauth_token_secret={secret}&user_id={}&screen_name={}",
                    user.id, user.username
                ))
        }
        _ => HttpResponse::Unauthorized()
            .content_type("text/plain")
            .body("Error processing your OAuth request: Invalid oauth_verifier parameter"),
    }
}

/// An OAuth 1.0a access token shaped like X's (`<user id>-<random>`).
fn token_string(prefix: &str, user: &User) -> String {
    format!("{}-{}", user.id, crate::common::token(prefix))
}

// ---- control ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct NextUser {
    username: String,
}

async fn next_user(state: web::Data<SandboxState>, body: web::Json<NextUser>) -> HttpResponse {
    lock(&state.x).next_user = Some(body.into_inner().username);
    HttpResponse::NoContent().finish()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Premium {
    username: String,
    premium: bool,
}

async fn set_premium(state: web::Data<SandboxState>, body: web::Json<Premium>) -> HttpResponse {
    let Premium { username, premium } = body.into_inner();
    let mut x = lock(&state.x);
    if premium {
        x.premium.insert(username.clone());
    } else {
        x.premium.remove(&username);
    }
    HttpResponse::Ok().json(json!({ "username": username, "premium": premium }))
}

/// A fault of `POST /2/tweets`.
#[derive(Debug, Clone, Copy, Deserialize)]
struct FailNext {
    status: u16,
    /// Whether the post is created before the failure is answered.
    #[serde(default)]
    after_create: bool,
}

impl FailNext {
    fn answer(self) -> HttpResponse {
        server_error(self.status)
    }
}

/// A problem answer with `status` (503 when it is not a status).
fn server_error(status: u16) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    problem(status, status.canonical_reason().unwrap_or("Error"))
}

async fn fail_next_tweet(
    state: web::Data<SandboxState>,
    body: web::Json<FailNext>,
) -> HttpResponse {
    lock(&state.x).fail_next_tweet = Some(body.into_inner());
    HttpResponse::NoContent().finish()
}

#[derive(Debug, Deserialize)]
struct FailMedia {
    status: u16,
}

async fn fail_next_media(
    state: web::Data<SandboxState>,
    body: web::Json<FailMedia>,
) -> HttpResponse {
    lock(&state.x).fail_next_media = Some(body.into_inner().status);
    HttpResponse::NoContent().finish()
}

async fn set_answer_late(state: web::Data<SandboxState>, body: web::Bytes) -> HttpResponse {
    match Delay::parse(&body) {
        Ok(delay) => {
            lock(&state.x).answer_late = delay;
            delay.answer()
        }
        Err(refused) => refused,
    }
}

async fn get_answer_late(state: web::Data<SandboxState>) -> HttpResponse {
    let delay = lock(&state.x).answer_late;
    delay.answer()
}

async fn set_slow_media(state: web::Data<SandboxState>, body: web::Bytes) -> HttpResponse {
    match Delay::parse(&body) {
        Ok(delay) => {
            lock(&state.x).slow_media = delay;
            delay.answer()
        }
        Err(refused) => refused,
    }
}

async fn get_slow_media(state: web::Data<SandboxState>) -> HttpResponse {
    let delay = lock(&state.x).slow_media;
    delay.answer()
}

#[cfg(test)]
mod tests;
