//! The fake of Bluesky: the entryway and the account's PDS at one base URL (`/bsky`), XRPC at
//! `/bsky/xrpc/<nsid>`, as strict as the reference PDS.
//!
//! - Accounts: any identifier signs in with an app-password-shaped password
//!   (`xxxx-xxxx-xxxx-xxxx`, lower-case letters and digits). The handle is the identifier when
//!   it has a dot, else `<identifier>.bsky.sandbox`; the DID is `did:plc:` and a stable id of
//!   the handle; the DID document names this fake as the PDS.
//! - Sessions: JWT-shaped tokens (signed by nobody) with an `exp` claim — access two hours,
//!   refresh 90 days; a refresh rotates both and revokes the old refresh token.
//! - Errors: `{"error", "message"}` with the real statuses (`ExpiredToken` and `InvalidToken`
//!   are 400, a missing token is 401 `AuthMissing`, a record key in use is 500
//!   `InternalServerError` as the reference PDS answers it, or 409 once `key_in_use` says so).
//!
//! Control endpoints, for tests (`POST`; the first three take optional JSON bodies, the next
//! three require theirs):
//! - `/bsky/_sandbox/expire_access`: every access token issued so far expires now.
//! - `/bsky/_sandbox/fail_next_create` `{"mode": "error" | "store_then_error" |
//!   "store_then_drop"}`: the next `createRecord` answers 500 without storing, stores the
//!   record and then answers 500, or stores it and then drops the connection mid-answer.
//! - `/bsky/_sandbox/rate_limit_next` `{"seconds": 30}`: the next XRPC call answers 429
//!   with the rate-limit headers.
//! - `/bsky/_sandbox/answer_late` `{"seconds": N, "count": K}` (`count` defaults to 1, `0`
//!   clears; `seconds` 0–3600, fractions allowed): the next K `createRecord` calls that store a
//!   record store it at once — it is in `/_sandbox/posts` and readable with `getRecord`
//!   immediately — and only then wait N seconds before answering. A refused call (a record
//!   key in use among them) uses none of them. Answers 200 with the delay in force,
//!   `{"seconds": N, "count": K}`; `GET` on the same path answers what is left.
//! - `/bsky/_sandbox/slow_media` `{"seconds": N, "count": K}`: the next K `uploadBlob` calls
//!   wait N seconds as they arrive, before they are handled. Same answers, and `GET`, as
//!   `answer_late`.
//! - `/bsky/_sandbox/key_in_use` `{"status": 500 | 409}`: how `createRecord` answers a record
//!   key in use from now on — 500 `InternalServerError` (the reference PDS, the default) or
//!   409 `RecordAlreadyExists` (other PDS implementations, and the explicit error the
//!   reference one proposes).

mod validate;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::common::{self, Delay, SandboxPost};
use crate::{SandboxState, lock};

/// The largest image blob a post may reference (`app.bsky.embed.images`, `maxSize` of the
/// current lexicon).
pub const IMAGE_MAX_SIZE: u64 = 2_000_000;
/// The largest upload (the reference PDS's `blobUploadLimit`, 5 MiB).
pub const BLOB_UPLOAD_LIMIT: usize = 5 * 1024 * 1024;
/// The domain of the sandbox's own handles.
pub const HANDLE_DOMAIN: &str = "bsky.sandbox";
/// The only collection the fake stores.
const POST: &str = "app.bsky.feed.post";

const ACCESS_LIFETIME: Duration = Duration::hours(2);
const REFRESH_LIFETIME: Duration = Duration::days(90);

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    /// Handle by DID.
    accounts: HashMap<String, String>,
    /// DID by handle.
    handles: HashMap<String, String>,
    access: HashMap<String, Session>,
    refresh: HashMap<String, Session>,
    /// Uploaded blobs by (DID, CID).
    blobs: HashMap<(String, String), Blob>,
    /// Every record, oldest first.
    records: Vec<Record>,
    /// Where each record is in `records`, by (DID, record key).
    record_index: HashMap<(String, String), usize>,
    next_create: Option<CreateFailure>,
    /// `createRecord`'s answer to a record key in use: 409 `RecordAlreadyExists` when set,
    /// else 500 as the reference PDS.
    key_in_use_conflict: bool,
    rate_limit_next: Option<i64>,
    last_tid_micros: i64,
    /// Records stored at once and answered late.
    answer_late: Delay,
    /// `uploadBlob` calls that wait before they are handled.
    slow_media: Delay,
}

#[derive(Debug, Clone)]
struct Session {
    did: String,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    pub(crate) mime: String,
    pub(crate) size: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) did: String,
    handle: String,
    pub(crate) rkey: String,
    pub(crate) uri: String,
    pub(crate) cid: String,
    pub(crate) value: Value,
    url: String,
    created_at: DateTime<Utc>,
}

/// How the next `createRecord` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateFailure {
    /// 500 before storing.
    Error,
    /// Stores, then answers 500.
    StoreThenError,
    /// Stores, then drops the connection mid-answer.
    StoreThenDrop,
}

impl State {
    fn session(&mut self, did: &str) -> (String, String) {
        let now = Utc::now();
        let access = jwt("at+jwt", "com.atproto.appPass", did, now + ACCESS_LIFETIME);
        let refresh = jwt(
            "refresh+jwt",
            "com.atproto.refresh",
            did,
            now + REFRESH_LIFETIME,
        );
        let session = |lifetime| Session {
            did: did.to_owned(),
            expires_at: now + lifetime,
            revoked: false,
        };
        self.access.insert(access.clone(), session(ACCESS_LIFETIME));
        self.refresh
            .insert(refresh.clone(), session(REFRESH_LIFETIME));
        (access, refresh)
    }

    /// A TID of the current time, never lower than the last one.
    fn next_tid(&mut self) -> String {
        let micros = Utc::now().timestamp_micros().max(self.last_tid_micros + 1);
        self.last_tid_micros = micros;
        tid(micros as u64, 7)
    }

    /// The DID of a repo named by DID or handle.
    fn repo_did(&self, repo: &str) -> Option<String> {
        let repo = repo.to_ascii_lowercase();
        if self.accounts.contains_key(&repo) {
            Some(repo)
        } else {
            self.handles.get(&repo).cloned()
        }
    }

    pub(crate) fn record(&self, did: &str, rkey: &str) -> Option<&Record> {
        self.record_index
            .get(&(did.to_owned(), rkey.to_owned()))
            .map(|&at| &self.records[at])
    }

    fn store(&mut self, record: Record) {
        self.record_index.insert(
            (record.did.clone(), record.rkey.clone()),
            self.records.len(),
        );
        self.records.push(record);
    }

    pub(crate) fn blob(&self, did: &str, cid: &str) -> Option<&Blob> {
        self.blobs.get(&(did.to_owned(), cid.to_owned()))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/xrpc/{nsid}", web::post().to(procedure))
        .route("/xrpc/{nsid}", web::get().to(query))
        .route("/profile/{handle}/post/{rkey}", web::get().to(post_page))
        .route("/_sandbox/expire_access", web::post().to(expire_access))
        .route(
            "/_sandbox/fail_next_create",
            web::post().to(fail_next_create),
        )
        .route("/_sandbox/rate_limit_next", web::post().to(rate_limit_next))
        .route("/_sandbox/key_in_use", web::post().to(key_in_use))
        .route("/_sandbox/answer_late", web::post().to(set_answer_late))
        .route("/_sandbox/answer_late", web::get().to(get_answer_late))
        .route("/_sandbox/slow_media", web::post().to(set_slow_media))
        .route("/_sandbox/slow_media", web::get().to(get_slow_media));
}

/// Every record, as the sandbox lists posts.
pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .records
        .iter()
        .map(|r| {
            let text = r.value.get("text").and_then(Value::as_str).unwrap_or("");
            let media = r
                .value
                .pointer("/embed/images")
                .and_then(Value::as_array)
                .map(|images| {
                    images
                        .iter()
                        .map(|image| {
                            let blob = |k: &str| image.pointer(&format!("/image/{k}")).cloned();
                            let mime = blob("mimeType").and_then(|v| v.as_str().map(str::to_owned));
                            let size = blob("size").and_then(|v| v.as_u64()).unwrap_or(0);
                            let alt = image.get("alt").and_then(Value::as_str).unwrap_or("");
                            let mut line = format!("{} ({size} bytes)", mime.unwrap_or_default());
                            if !alt.is_empty() {
                                line.push_str(&format!(": {alt}"));
                            }
                            line
                        })
                        .collect()
                })
                .unwrap_or_default();
            SandboxPost {
                platform: "bluesky",
                account: r.handle.clone(),
                id: r.uri.clone(),
                text: text.to_owned(),
                media,
                reply_to: r
                    .value
                    .pointer("/reply/parent/uri")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                url: r.url.clone(),
                created_at: r.created_at,
            }
        })
        .collect()
}

// --- XRPC -------------------------------------------------------------------------------------

/// An XRPC error answer: `{"error", "message"}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    status: u16,
    error: String,
    message: String,
}

impl Refusal {
    fn into_response(self) -> HttpResponse {
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST))
            .json(json!({"error": self.error, "message": self.message}))
    }
}

type Answer = Result<HttpResponse, Refusal>;

pub(crate) fn error(status: u16, name: &str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        error: name.to_owned(),
        message: message.into(),
    }
}

fn invalid(message: impl Into<String>) -> Refusal {
    error(400, "InvalidRequest", message)
}

fn internal_error() -> Refusal {
    error(500, "InternalServerError", "Internal Server Error")
}

/// The fake's base URL (`http://host:port/bsky`), from the request.
fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/bsky", info.scheme(), info.host())
}

async fn procedure(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    nsid: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    if nsid.as_str() == "com.atproto.repo.uploadBlob" {
        let wait = lock(&state.bluesky).slow_media.take();
        common::pause(wait).await;
    }
    let (response, late) = {
        let mut s = lock(&state.bluesky);
        if let Some(seconds) = s.rate_limit_next.take() {
            return rate_limited(seconds);
        }
        let stored = s.records.len();
        let answer = match nsid.as_str() {
            "com.atproto.server.createSession" => create_session(&mut s, &req, &body),
            "com.atproto.server.refreshSession" => refresh_session(&mut s, &req),
            "com.atproto.server.deleteSession" => delete_session(&mut s, &req),
            "com.atproto.repo.uploadBlob" => upload_blob(&mut s, &req, &body),
            "com.atproto.repo.createRecord" => create_record(&mut s, &req, &body),
            "com.atproto.repo.getRecord" | "com.atproto.identity.resolveHandle" => {
                Err(invalid("Incorrect HTTP method (POST) expected GET"))
            }
            _ => Err(error(501, "MethodNotImplemented", "Method Not Implemented")),
        };
        // A record stored by this call: answered late when asked for.
        let late = if s.records.len() > stored {
            s.answer_late.take()
        } else {
            None
        };
        (answer.unwrap_or_else(Refusal::into_response), late)
    };
    common::pause(late).await;
    response
}

async fn query(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    nsid: web::Path<String>,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &[]);
    let mut s = lock(&state.bluesky);
    if let Some(seconds) = s.rate_limit_next.take() {
        return rate_limited(seconds);
    }
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    let answer = match nsid.as_str() {
        "com.atproto.repo.getRecord" => get_record(&s, &params),
        "com.atproto.identity.resolveHandle" => resolve_handle(&s, &params),
        "com.atproto.server.createSession"
        | "com.atproto.server.refreshSession"
        | "com.atproto.server.deleteSession"
        | "com.atproto.repo.uploadBlob"
        | "com.atproto.repo.createRecord" => {
            Err(invalid("Incorrect HTTP method (GET) expected POST"))
        }
        _ => Err(error(501, "MethodNotImplemented", "Method Not Implemented")),
    };
    answer.unwrap_or_else(Refusal::into_response)
}

fn rate_limited(seconds: i64) -> HttpResponse {
    let reset = Utc::now().timestamp() + seconds;
    HttpResponse::TooManyRequests()
        .insert_header(("RateLimit-Limit", "3000"))
        .insert_header(("RateLimit-Remaining", "0"))
        .insert_header(("RateLimit-Reset", reset.to_string()))
        .insert_header(("RateLimit-Policy", "3000;w=300"))
        .insert_header(("Retry-After", seconds.to_string()))
        .json(json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}))
}

/// A procedure's JSON input: `Content-Type: application/json` and an object.
fn json_input(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    let content_type = common::content_type(req);
    if content_type.is_empty() {
        return Err(invalid(
            "Request encoding (Content-Type) required but not provided",
        ));
    }
    if content_type != "application/json" {
        return Err(invalid(format!(
            "Wrong request encoding (Content-Type): {content_type}"
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(input)) => Ok(input),
        Ok(_) => Err(invalid("Input must be an object")),
        Err(e) => Err(invalid(format!("Unable to read input: {e}"))),
    }
}

fn required_str<'a>(input: &'a Map<String, Value>, key: &str) -> Result<&'a str, Refusal> {
    match input.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(format!("Input/{key} must be a string"))),
        None => Err(invalid(format!("Input must have the property \"{key}\""))),
    }
}

fn required_param<'a>(params: &'a HashMap<String, String>, key: &str) -> Result<&'a str, Refusal> {
    params
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| invalid(format!("Error: Params must have the property \"{key}\"")))
}

// --- Sessions ---------------------------------------------------------------------------------

/// Whether a password has the shape of an app password: `xxxx-xxxx-xxxx-xxxx`.
fn is_app_password(password: &str) -> bool {
    let groups: Vec<&str> = password.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Whether `handle` has the syntax of a handle (two or more labels, the last not numeric).
pub(crate) fn is_handle(handle: &str) -> bool {
    let labels: Vec<&str> = handle.split('.').collect();
    handle.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// The stable DID of a handle: `did:plc:` and 24 base32 characters of its SHA-256.
fn did_for(handle: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, handle.as_bytes());
    let id: String = base32(hash.as_ref()).chars().take(24).collect();
    format!("did:plc:{id}")
}

fn did_doc(did: &str, handle: &str, base: &str) -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/suites/secp256k1-2019/v1"
        ],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": "zQ3shSandboxKeyNotForVerification"
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": base
        }]
    })
}

fn session_output(s: &mut State, did: &str, req: &HttpRequest) -> HttpResponse {
    let handle = s.accounts.get(did).cloned().unwrap_or_default();
    let (access, refresh) = s.session(did);
    HttpResponse::Ok().json(json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": handle,
        "did": did,
        "didDoc": did_doc(did, &handle, &base_url(req)),
        "active": true,
    }))
}

fn create_session(s: &mut State, req: &HttpRequest, body: &[u8]) -> Answer {
    let input = json_input(req, body)?;
    let identifier = required_str(&input, "identifier")?
        .trim()
        .to_ascii_lowercase();
    let password = required_str(&input, "password")?;
    let refused = || {
        error(
            401,
            "AuthenticationRequired",
            "Invalid identifier or password",
        )
    };
    if password.len() > 512 {
        return Err(error(
            401,
            "AuthenticationRequired",
            "Password too long. Consider resetting your password.",
        ));
    }
    if !is_app_password(password) {
        return Err(refused());
    }
    let handle = if identifier.starts_with("did:") {
        s.accounts.get(&identifier).cloned().ok_or_else(refused)?
    } else if let Some((local, _)) = identifier.split_once('@') {
        format!("{local}.{HANDLE_DOMAIN}")
    } else if identifier.contains('.') {
        identifier
    } else {
        format!("{identifier}.{HANDLE_DOMAIN}")
    };
    if !is_handle(&handle) {
        return Err(refused());
    }
    let did = did_for(&handle);
    s.accounts.insert(did.clone(), handle.clone());
    s.handles.insert(handle, did.clone());
    Ok(session_output(s, &did, req))
}

/// The bearer token of a request: 401 `AuthMissing` without one.
fn bearer(req: &HttpRequest) -> Result<String, Refusal> {
    let header = req
        .headers()
        .get("authorization")
        .ok_or_else(|| error(401, "AuthMissing", "Authentication Required"))?;
    let value = header
        .to_str()
        .map_err(|_| error(400, "InvalidToken", "Malformed authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim().to_owned())
        }
        Some((scheme, _)) if !scheme.eq_ignore_ascii_case("bearer") => Err(error(
            400,
            "InvalidToken",
            format!("Unsupported authorization type: {scheme}"),
        )),
        _ => Err(error(400, "InvalidToken", "Malformed authorization header")),
    }
}

/// The DID of a request's access token.
fn authenticated(s: &State, req: &HttpRequest) -> Result<String, Refusal> {
    let token = bearer(req)?;
    if s.refresh.contains_key(&token) {
        return Err(error(400, "InvalidToken", "Bad token scope"));
    }
    match s.access.get(&token) {
        None => Err(error(400, "InvalidToken", "Token could not be verified")),
        Some(session) if session.expires_at <= Utc::now() => {
            Err(error(400, "ExpiredToken", "Token has expired"))
        }
        Some(session) => Ok(session.did.clone()),
    }
}

/// The refresh token of a request, still valid.
fn refresh_token(s: &State, req: &HttpRequest) -> Result<(String, String), Refusal> {
    let token = bearer(req)?;
    if s.access.contains_key(&token) {
        return Err(error(400, "InvalidToken", "Bad token scope"));
    }
    match s.refresh.get(&token) {
        None => Err(error(400, "InvalidToken", "Token could not be verified")),
        Some(session) if session.revoked => {
            Err(error(400, "ExpiredToken", "Token has been revoked"))
        }
        Some(session) if session.expires_at <= Utc::now() => {
            Err(error(400, "ExpiredToken", "Token has expired"))
        }
        Some(session) => Ok((token, session.did.clone())),
    }
}

fn refresh_session(s: &mut State, req: &HttpRequest) -> Answer {
    let (token, did) = refresh_token(s, req)?;
    if let Some(old) = s.refresh.get_mut(&token) {
        old.revoked = true;
    }
    Ok(session_output(s, &did, req))
}

fn delete_session(s: &mut State, req: &HttpRequest) -> Answer {
    let (token, _) = refresh_token(s, req)?;
    if let Some(old) = s.refresh.get_mut(&token) {
        old.revoked = true;
    }
    Ok(HttpResponse::Ok().finish())
}

fn resolve_handle(s: &State, params: &HashMap<String, String>) -> Answer {
    let handle = required_param(params, "handle")?
        .trim()
        .to_ascii_lowercase();
    if !is_handle(&handle) {
        return Err(invalid("Error: handle must be a valid handle"));
    }
    let did = match s.handles.get(&handle) {
        Some(did) => did.clone(),
        None if handle.ends_with(&format!(".{HANDLE_DOMAIN}")) => did_for(&handle),
        None => return Err(invalid("Unable to resolve handle")),
    };
    Ok(HttpResponse::Ok().json(json!({ "did": did })))
}

// --- Blobs and records ------------------------------------------------------------------------

/// The media type of a file from its first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        Some("video/mp4")
    } else {
        None
    }
}

fn upload_blob(s: &mut State, req: &HttpRequest, body: &[u8]) -> Answer {
    let did = authenticated(s, req)?;
    let content_type = common::content_type(req);
    if content_type.is_empty() {
        return Err(invalid(
            "Request encoding (Content-Type) required but not provided",
        ));
    }
    if body.len() > BLOB_UPLOAD_LIMIT {
        return Err(error(413, "PayloadTooLarge", "request entity too large"));
    }
    let mime = sniff(body).map_or(content_type, str::to_owned);
    let hash = ring::digest::digest(&ring::digest::SHA256, body);
    let cid = format!("bafkrei{}", base32(hash.as_ref()));
    let size = body.len() as u64;
    s.blobs.insert(
        (did, cid.clone()),
        Blob {
            mime: mime.clone(),
            size,
        },
    );
    Ok(HttpResponse::Ok().json(json!({"blob": {
        "$type": "blob",
        "ref": {"$link": cid},
        "mimeType": mime,
        "size": size,
    }})))
}

/// Record-key syntax: `^[a-zA-Z0-9_~.:-]{1,512}$`, not `.` or `..`.
fn is_record_key(key: &str) -> bool {
    (1..=512).contains(&key.len())
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_~.:-".contains(&b))
}

/// TID syntax: 13 characters, `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`.
pub(crate) fn is_tid(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 13
        && b"234567abcdefghij".contains(&bytes[0])
        && bytes[1..].iter().all(|b| TID_ALPHABET.contains(b))
}

const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

fn tid(micros: u64, clock_id: u64) -> String {
    let mut v = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF);
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = TID_ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

fn create_record(s: &mut State, req: &HttpRequest, body: &[u8]) -> Answer {
    let did = authenticated(s, req)?;
    let input = json_input(req, body)?;
    let repo = required_str(&input, "repo")?;
    let repo_did = s
        .repo_did(repo)
        .ok_or_else(|| invalid(format!("Could not find repo: {repo}")))?;
    if repo_did != did {
        return Err(error(
            401,
            "AuthenticationRequired",
            "Authentication Required",
        ));
    }
    let collection = required_str(&input, "collection")?;
    if collection != POST {
        return Err(invalid(format!(
            "The sandbox stores only {POST} records, not {collection}"
        )));
    }
    let mut record = match input.get("record") {
        Some(Value::Object(record)) => record.clone(),
        Some(_) => return Err(invalid("Input/record must be an object")),
        None => return Err(invalid("Input must have the property \"record\"")),
    };
    match record.get("$type") {
        None => {
            record.insert("$type".into(), json!(POST));
        }
        Some(Value::String(t)) if t == POST => {}
        Some(other) => {
            return Err(invalid(format!(
                "Invalid $type: expected {POST}, got {}",
                other.as_str().unwrap_or("a non-string")
            )));
        }
    }
    let rkey = match input.get("rkey") {
        None | Some(Value::Null) => s.next_tid(),
        Some(Value::String(key)) if is_record_key(key) && is_tid(key) => key.clone(),
        Some(Value::String(key)) if is_record_key(key) => {
            return Err(invalid(format!(
                "Invalid record key for {POST}: {key} is not a TID"
            )));
        }
        Some(_) => return Err(invalid("Invalid record key")),
    };
    if let Some(v) = input.get("validate")
        && !v.is_boolean()
    {
        return Err(invalid("Input/validate must be a boolean"));
    }
    let record = Value::Object(record);
    validate::post(s, &did, &record)?;

    let failure = s.next_create.take();
    if failure == Some(CreateFailure::Error) {
        return Err(internal_error());
    }
    if s.record(&did, &rkey).is_some() {
        if s.key_in_use_conflict {
            return Err(error(
                409,
                "RecordAlreadyExists",
                format!("Record already exists: at://{did}/{POST}/{rkey}"),
            ));
        }
        // The reference PDS's answer to a record key in use (bluesky-social/atproto#3718).
        return Err(internal_error());
    }
    let cid = record_cid(&record);
    let uri = format!("at://{did}/{POST}/{rkey}");
    let handle = s.accounts.get(&did).cloned().unwrap_or_default();
    let rev = s.next_tid();
    let commit_hash = ring::digest::digest(&ring::digest::SHA256, format!("{rev}{cid}").as_bytes());
    s.store(Record {
        did: did.clone(),
        handle: handle.clone(),
        rkey: rkey.clone(),
        uri: uri.clone(),
        cid: cid.clone(),
        value: record,
        url: format!("{}/profile/{handle}/post/{rkey}", base_url(req)),
        created_at: Utc::now(),
    });
    match failure {
        Some(CreateFailure::StoreThenError) => return Err(internal_error()),
        Some(CreateFailure::StoreThenDrop) => return Ok(dropped_answer()),
        _ => {}
    }
    Ok(HttpResponse::Ok().json(json!({
        "uri": uri,
        "cid": cid,
        "commit": {"cid": format!("bafyrei{}", base32(commit_hash.as_ref())), "rev": rev},
        "validationStatus": "valid",
    })))
}

/// An answer whose connection is dropped after the first bytes of the body.
fn dropped_answer() -> HttpResponse {
    let chunks = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(web::Bytes::from_static(b"{\"uri\":")),
        Err(std::io::Error::other("the sandbox drops this answer")),
    ]);
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(chunks)
}

/// A stable CID of a record: `bafyrei` and the base32 SHA-256 of its JSON.
fn record_cid(record: &Value) -> String {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    let hash = ring::digest::digest(&ring::digest::SHA256, &bytes);
    format!("bafyrei{}", base32(hash.as_ref()))
}

fn get_record(s: &State, params: &HashMap<String, String>) -> Answer {
    let repo = required_param(params, "repo")?;
    let collection = required_param(params, "collection")?;
    let rkey = required_param(params, "rkey")?;
    let did = s
        .repo_did(repo)
        .ok_or_else(|| invalid("Could not locate record"))?;
    let uri = format!("at://{did}/{collection}/{rkey}");
    let found = s
        .record(&did, rkey)
        .filter(|_| collection == POST)
        .filter(|r| params.get("cid").is_none_or(|cid| *cid == r.cid));
    match found {
        Some(r) => Ok(HttpResponse::Ok().json(json!({
            "uri": r.uri,
            "cid": r.cid,
            "value": r.value,
        }))),
        None => Err(error(
            400,
            "RecordNotFound",
            format!("Could not locate record: {uri}"),
        )),
    }
}

async fn post_page(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &[]);
    let (handle, rkey) = path.into_inner();
    let s = lock(&state.bluesky);
    let found = s
        .repo_did(&handle)
        .and_then(|did| s.record(&did, &rkey).cloned());
    match found {
        Some(r) => HttpResponse::Ok().json(json!({"uri": r.uri, "cid": r.cid, "value": r.value})),
        None => HttpResponse::NotFound().body("no such post"),
    }
}

// --- Control ----------------------------------------------------------------------------------

fn control_input(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn expire_access(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    let mut s = lock(&state.bluesky);
    let past = Utc::now() - Duration::seconds(1);
    for session in s.access.values_mut() {
        session.expires_at = past;
    }
    HttpResponse::NoContent().finish()
}

async fn fail_next_create(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    let input = control_input(&body);
    let mode = match input.get("mode").and_then(Value::as_str).unwrap_or("error") {
        "error" => CreateFailure::Error,
        "store_then_error" => CreateFailure::StoreThenError,
        "store_then_drop" => CreateFailure::StoreThenDrop,
        other => {
            return HttpResponse::BadRequest().body(format!(
                "unknown mode `{other}`: error, store_then_error or store_then_drop"
            ));
        }
    };
    lock(&state.bluesky).next_create = Some(mode);
    HttpResponse::NoContent().finish()
}

async fn key_in_use(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    let conflict = match control_input(&body).get("status").and_then(Value::as_u64) {
        Some(500) => false,
        Some(409) => true,
        _ => return HttpResponse::BadRequest().body("`status` is 500 or 409"),
    };
    lock(&state.bluesky).key_in_use_conflict = conflict;
    HttpResponse::NoContent().finish()
}

async fn rate_limit_next(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    let seconds = control_input(&body)
        .get("seconds")
        .and_then(Value::as_i64)
        .unwrap_or(30)
        .clamp(0, 86_400);
    lock(&state.bluesky).rate_limit_next = Some(seconds);
    HttpResponse::NoContent().finish()
}

async fn set_answer_late(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    match Delay::parse(&body) {
        Ok(delay) => {
            lock(&state.bluesky).answer_late = delay;
            delay.answer()
        }
        Err(refused) => refused,
    }
}

async fn get_answer_late(state: web::Data<SandboxState>) -> HttpResponse {
    let delay = lock(&state.bluesky).answer_late;
    delay.answer()
}

async fn set_slow_media(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    common::record(&state, "bluesky", &req, &body);
    match Delay::parse(&body) {
        Ok(delay) => {
            lock(&state.bluesky).slow_media = delay;
            delay.answer()
        }
        Err(refused) => refused,
    }
}

async fn get_slow_media(state: web::Data<SandboxState>) -> HttpResponse {
    let delay = lock(&state.bluesky).slow_media;
    delay.answer()
}

// --- Encodings --------------------------------------------------------------------------------

/// Lower-case RFC 4648 base32 without padding (the multibase `b` alphabet of CIDs).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// A JWT-shaped token (its signature is random bytes: only this fake reads it).
fn jwt(typ: &str, scope: &str, did: &str, expires_at: DateTime<Utc>) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap_or_default());
    let header = part(json!({"typ": typ, "alg": "ES256K"}));
    let claims = part(json!({
        "scope": scope,
        "sub": did,
        "aud": "did:web:bsky.sandbox",
        "iat": Utc::now().timestamp(),
        "exp": expires_at.timestamp(),
        "jti": common::token(""),
    }));
    let signature = URL_SAFE_NO_PAD.encode(common::token("sig").as_bytes());
    format!("{header}.{claims}.{signature}")
}

#[cfg(test)]
mod tests;
