//! The fake of LinkedIn (`/linkedin`): its OAuth with OpenID Connect, the member's profile, the
//! organizations a member administers, the Images API and the Posts API.
//!
//! - `GET /oauth/v2/authorization` (`response_type=code`, `client_id`, `redirect_uri`,
//!   `state`, `scope` space-separated with `openid`, `profile` and `w_member_social`; the
//!   organization scopes `r_organization_admin`/`rw_organization_admin` and
//!   `w_organization_social` optional): approved at once by the next member; redirects with
//!   `code` and `state`.
//! - `POST /oauth/v2/accessToken` (form-encoded only; `client_id` and `client_secret` in the
//!   body): `grant_type=authorization_code` (`code` single use, ten minutes, `redirect_uri`
//!   byte for byte) or `refresh_token` → `{"access_token", "expires_in": 5183999,
//!   "refresh_token", "refresh_token_expires_in", "scope"}` (scopes comma-separated, as
//!   LinkedIn writes them; the refresh token is not rotated). Errors
//!   `{"error", "error_description"}`. `POST /oauth/v2/revoke` (`client_id`,
//!   `client_secret`, `token`).
//! - `GET /v2/userinfo` (bearer, `openid` and `profile` granted) → `{"sub", "name",
//!   "given_name", "family_name", "picture", "email", "email_verified", "locale"}`.
//! - Every `/rest/…` call needs `LinkedIn-Version` (`YYYYMM`, 202506–202612 served; a missing
//!   one is a 400 `VERSION_MISSING`, another a 426 `NONEXISTENT_VERSION`) and
//!   `X-Restli-Protocol-Version: 2.0.0` (else 400); a bad token is a 401 (`serviceErrorCode`
//!   65600, or 65601 when expired). Errors `{"status", "serviceErrorCode", "code",
//!   "message"}`.
//! - `GET /rest/organizationAcls?q=roleAssignee` (`role`, `state`, `start`, `count`
//!   optional filters; an organization scope granted, else 403) → `{"paging", "elements":
//!   [{"roleAssignee", "role", "state", "organization"}]}`. `GET /rest/organizations/{id}`
//!   (the member one of its administrators) → `{"id", "localizedName", "vanityName"}`.
//! - `POST /rest/images?action=initializeUpload` (JSON `{"initializeUploadRequest": {"owner"}}`,
//!   the owner the member or an organization it administers with `w_organization_social`) →
//!   `{"value": {"uploadUrlExpiresAt", "uploadUrl", "image": "urn:li:image:…"}}`; `PUT
//!   {uploadUrl}` (`/linkedin/dms-uploads/{id}`, the member's bearer token; the bytes of a
//!   JPEG, PNG or GIF, once) → 201.
//! - `POST /rest/posts` (JSON, `application/json`): `author` (the member's
//!   `urn:li:person:…` with `w_member_social`, or an organization it administers with
//!   `w_organization_social`, else 403), `commentary` (LinkedIn's little text format: every
//!   reserved character escaped — an unescaped one cuts the text there, as LinkedIn does, and
//!   the fake keeps what LinkedIn would show; at most 3,000 characters), `visibility`
//!   (`PUBLIC`, `LOGGED_IN`, or `CONNECTIONS` for a member), `distribution.feedDistribution`
//!   (`MAIN_FEED` or `NONE`), `lifecycleState: PUBLISHED`; optional
//!   `isReshareDisabledByAuthor`, `content` (`media.id` one image, or `multiImage.images`
//!   2–20, each uploaded by the author); any other field is a 422 ("unrecognized field"), a
//!   missing one a 422 ("field is required"). The same commentary twice from an author is a
//!   422 `DUPLICATE_POST`. Created: 201, no body, the post's URN in `x-restli-id`.
//!
//! Control (tests), on `/linkedin/_sandbox/`:
//! - `POST next_member {"name": "…", "organizations": [{"name": "…", "role":
//!   "ADMINISTRATOR"}]}` (`organizations` and `role` optional; `ADMINISTRATOR` by default, or
//!   `ANALYST`, `CONTENT_ADMIN`…): who approves the next authorisation (default "Sandbox
//!   Member" with no organization); the same name is the same member or organization. Answers
//!   `{"urn", "name", "organizations": [{"urn", "name", "role"}]}`.
//! - `POST fail_next_post {"status": 500, "after_create": false}`: the next `POST /rest/posts`
//!   answers that status, creating nothing — or, with `after_create`, once the post is made.
//! - `POST expire_tokens`: every access token issued so far has expired (refresh tokens live
//!   on).

// The fake's checks answer with the refusal itself, as LinkedIn would; a response is their
// error.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{SandboxPost, bearer, content_type, record, token};
use crate::credentials::{LINKEDIN_CLIENT_ID, LINKEDIN_CLIENT_SECRET};
use crate::{SandboxState, lock};

/// The oldest and newest `LinkedIn-Version` served.
const VERSIONS: std::ops::RangeInclusive<u32> = 202_506..=202_612;
const CODE_TTL: i64 = 600;
/// An access token's life (60 days, as LinkedIn answers it).
const ACCESS_TTL: i64 = 5_183_999;
/// A refresh token's life (a year).
const REFRESH_TTL: i64 = 31_535_999;
/// The longest commentary, in characters of the text shown.
const MAX_COMMENTARY: usize = 3_000;

/// A member.
#[derive(Debug, Clone)]
struct Member {
    sub: String,
    name: String,
    /// Organization ids and the member's role in each.
    roles: Vec<(String, String)>,
}

/// An organization.
#[derive(Debug, Clone)]
struct Organization {
    id: String,
    name: String,
    vanity: String,
}

#[derive(Debug, Clone)]
struct Code {
    sub: String,
    scopes: Vec<String>,
    redirect_uri: String,
    issued: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Grant {
    sub: String,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Image {
    owner: String,
    /// The member whose token initialised it.
    sub: String,
    /// The upload address's id.
    upload: String,
    /// `mime (n bytes)` once uploaded.
    uploaded: Option<String>,
}

#[derive(Debug, Clone)]
struct Post {
    id: String,
    author: String,
    commentary: String,
    shown: String,
    media: Vec<String>,
    created_at: DateTime<Utc>,
}

/// What the next `POST /rest/posts` answers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    status: u16,
    #[serde(default)]
    after_create: bool,
}

/// A test's choice of the next approving member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextMember {
    name: String,
    #[serde(default)]
    organizations: Vec<NextOrganization>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextOrganization {
    name: String,
    #[serde(default = "administrator")]
    role: String,
}

fn administrator() -> String {
    "ADMINISTRATOR".to_owned()
}

/// What the fake holds.
#[derive(Debug, Default)]
pub struct State {
    counter: u64,
    members: HashMap<String, Member>,
    member_names: HashMap<String, String>,
    organizations: HashMap<String, Organization>,
    organization_names: HashMap<String, String>,
    next_member: Option<String>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    images: HashMap<String, Image>,
    uploads: HashMap<String, String>,
    posts: Vec<Post>,
    /// (author, commentary) of every post: LinkedIn refuses a duplicate.
    commentaries: HashSet<(String, String)>,
    fail_next_post: Option<FailNext>,
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn member(&mut self, name: &str) -> String {
        if let Some(sub) = self.member_names.get(name) {
            return sub.clone();
        }
        let n = self.next_id();
        let sub = format!("Sbx{n:07}mBr");
        self.members.insert(
            sub.clone(),
            Member {
                sub: sub.clone(),
                name: name.to_owned(),
                roles: Vec::new(),
            },
        );
        self.member_names.insert(name.to_owned(), sub.clone());
        sub
    }

    fn organization(&mut self, name: &str) -> String {
        if let Some(id) = self.organization_names.get(name) {
            return id.clone();
        }
        let id = (10_000_000 + self.next_id()).to_string();
        let vanity: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.organizations.insert(
            id.clone(),
            Organization {
                id: id.clone(),
                name: name.to_owned(),
                vanity,
            },
        );
        self.organization_names.insert(name.to_owned(), id.clone());
        id
    }

    /// Whether `grant`'s member may post (and upload) as `urn`: itself with `w_member_social`,
    /// or an organization it administers with `w_organization_social`.
    fn may_act_as(&self, grant: &Grant, urn: &str) -> bool {
        if let Some(sub) = urn.strip_prefix("urn:li:person:") {
            return sub == grant.sub && grant.scopes.iter().any(|s| s == "w_member_social");
        }
        let Some(id) = urn.strip_prefix("urn:li:organization:") else {
            return false;
        };
        grant.scopes.iter().any(|s| s == "w_organization_social")
            && self.members.get(&grant.sub).is_some_and(|m| {
                m.roles
                    .iter()
                    .any(|(org, role)| org == id && role == "ADMINISTRATOR")
            })
    }

    fn author_name(&self, urn: &str) -> String {
        if let Some(sub) = urn.strip_prefix("urn:li:person:") {
            return self
                .members
                .get(sub)
                .map_or_else(|| urn.to_owned(), |m| m.name.clone());
        }
        urn.strip_prefix("urn:li:organization:")
            .and_then(|id| self.organizations.get(id))
            .map_or_else(|| urn.to_owned(), |o| o.name.clone())
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/next_member", web::post().to(next_member))
        .route("/_sandbox/fail_next_post", web::post().to(fail_next_post))
        .route("/_sandbox/expire_tokens", web::post().to(expire_tokens))
        .route("/oauth/v2/authorization", web::get().to(authorize))
        .route("/oauth/v2/accessToken", web::post().to(access_token))
        .route("/oauth/v2/revoke", web::post().to(revoke))
        .route("/v2/userinfo", web::get().to(userinfo))
        .route("/rest/organizationAcls", web::get().to(organization_acls))
        .route("/rest/organizations/{id}", web::get().to(organization))
        .route("/rest/images", web::post().to(initialize_upload))
        .route("/dms-uploads/{id}", web::put().to(upload))
        .route("/rest/posts", web::post().to(create_post));
}

/// Every post the fake holds, oldest first.
pub fn posts(state: &State) -> Vec<SandboxPost> {
    state
        .posts
        .iter()
        .map(|p| SandboxPost {
            platform: "linkedin",
            account: state.author_name(&p.author),
            id: p.id.clone(),
            text: p.shown.clone(),
            media: p.media.clone(),
            reply_to: None,
            url: format!("https://www.linkedin.com/feed/update/{}/", p.id),
            created_at: p.created_at,
        })
        .collect()
}

// ---- answers in LinkedIn's shapes ------------------------------------------------------------

fn oauth_error(error: &str, description: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error, "error_description": description }))
}

fn api_error(status: StatusCode, service_code: i64, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "status": status.as_u16(),
        "serviceErrorCode": service_code,
        "code": code,
        "message": message,
    }))
}

fn unprocessable(message: &str) -> HttpResponse {
    HttpResponse::UnprocessableEntity().json(json!({ "message": message, "status": 422 }))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// The member of a bearer token, checked.
fn grant(state: &State, req: &HttpRequest) -> Result<Grant, HttpResponse> {
    let invalid = || {
        api_error(
            StatusCode::UNAUTHORIZED,
            65_600,
            "INVALID_ACCESS_TOKEN",
            "Invalid access token",
        )
    };
    let token = bearer(req).ok_or_else(invalid)?;
    let grant = state.access.get(&token).cloned().ok_or_else(invalid)?;
    if grant.expires <= Utc::now() {
        return Err(api_error(
            StatusCode::UNAUTHORIZED,
            65_601,
            "EXPIRED_ACCESS_TOKEN",
            "The token used in the request has expired",
        ));
    }
    Ok(grant)
}

/// The headers of every versioned call.
fn versioned(req: &HttpRequest) -> Result<(), HttpResponse> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let Some(version) = header("linkedin-version") else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            0,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    let active = version.len() == 6
        && version
            .parse::<u32>()
            .is_ok_and(|v| VERSIONS.contains(&v) && (1..=12).contains(&(v % 100)));
    if !active {
        return Err(api_error(
            StatusCode::UPGRADE_REQUIRED,
            0,
            "NONEXISTENT_VERSION",
            &format!("Requested version {version} is not active"),
        ));
    }
    if header("x-restli-protocol-version") != Some("2.0.0") {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            0,
            "ILLEGAL_ARGUMENT",
            "X-Restli-Protocol-Version 2.0.0 is required",
        ));
    }
    Ok(())
}

// ---- OAuth -----------------------------------------------------------------------------------

async fn authorize(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "linkedin", &req, b"");
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("response_type") != "code" || get("client_id") != LINKEDIN_CLIENT_ID {
        return HttpResponse::BadRequest().body("The client_id or response_type is not valid");
    }
    let redirect_uri = get("redirect_uri");
    let Ok(redirect) = url::Url::parse(redirect_uri) else {
        return HttpResponse::BadRequest().body("The redirect_uri is not valid");
    };
    // LinkedIn separates scopes with spaces (a `+` in the query is one).
    let scopes: Vec<String> = get("scope")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let missing: Vec<&str> = ["openid", "profile", "w_member_social"]
        .into_iter()
        .filter(|s| !scopes.iter().any(|g| g == s))
        .collect();
    if !missing.is_empty() || get("state").is_empty() {
        return HttpResponse::BadRequest().body(format!(
            "unauthorized_scope_error or missing state: the scope must include {}",
            missing.join(", ")
        ));
    }
    let known = [
        "openid",
        "profile",
        "email",
        "w_member_social",
        "r_organization_admin",
        "rw_organization_admin",
        "w_organization_social",
        "r_organization_social",
    ];
    if let Some(unknown) = scopes.iter().find(|s| !known.contains(&s.as_str())) {
        return HttpResponse::BadRequest().body(format!(
            "unauthorized_scope_error: Scope \"{unknown}\" is not authorized for your application"
        ));
    }
    let mut li = lock(&state.linkedin);
    let name = li
        .next_member
        .take()
        .unwrap_or_else(|| "Sandbox Member".to_owned());
    let sub = li.member(&name);
    let code = token("AQT-code-");
    li.codes.insert(
        code.clone(),
        Code {
            sub,
            scopes,
            redirect_uri: redirect_uri.to_owned(),
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

fn issue(
    li: &mut State,
    sub: &str,
    scopes: &[String],
    refresh: Option<(String, DateTime<Utc>)>,
) -> Value {
    let access = token("AQV-li-");
    let grant = Grant {
        sub: sub.to_owned(),
        scopes: scopes.to_vec(),
        expires: Utc::now() + Duration::seconds(ACCESS_TTL),
    };
    li.access.insert(access.clone(), grant.clone());
    let (refresh, refresh_expires) = refresh.unwrap_or_else(|| {
        let value = token("AQX-li-");
        let expires = Utc::now() + Duration::seconds(REFRESH_TTL);
        li.refresh.insert(
            value.clone(),
            Grant {
                expires,
                ..grant.clone()
            },
        );
        (value, expires)
    });
    json!({
        "access_token": access,
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
        "refresh_token_expires_in": (refresh_expires - Utc::now()).num_seconds().max(0),
        "scope": scopes.join(","),
    })
}

async fn access_token(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "linkedin", &req, &body);
    if content_type(&req) != "application/x-www-form-urlencoded" {
        return oauth_error(
            "invalid_request",
            "The request must be form-encoded (application/x-www-form-urlencoded)",
        );
    }
    let f = form(&body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != LINKEDIN_CLIENT_ID || get("client_secret") != LINKEDIN_CLIENT_SECRET {
        return HttpResponse::Unauthorized().json(json!({
            "error": "invalid_client",
            "error_description": "Client authentication failed",
        }));
    }
    let mut li = lock(&state.linkedin);
    match get("grant_type") {
        "authorization_code" => {
            let Some(code) = li.codes.remove(get("code")) else {
                return oauth_error(
                    "invalid_request",
                    "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired.",
                );
            };
            if code.redirect_uri != get("redirect_uri")
                || Utc::now() - code.issued > Duration::seconds(CODE_TTL)
            {
                return oauth_error(
                    "invalid_request",
                    "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired.",
                );
            }
            HttpResponse::Ok().json(issue(&mut li, &code.sub, &code.scopes, None))
        }
        "refresh_token" => {
            let given = get("refresh_token").to_owned();
            let Some(old) = li.refresh.get(&given).cloned() else {
                return oauth_error("invalid_request", "The provided refresh token is invalid");
            };
            if old.expires <= Utc::now() {
                return oauth_error("invalid_request", "The provided refresh token has expired");
            }
            HttpResponse::Ok().json(issue(
                &mut li,
                &old.sub,
                &old.scopes,
                Some((given, old.expires)),
            ))
        }
        _ => oauth_error(
            "invalid_request",
            "A required parameter \"grant_type\" is missing or not supported",
        ),
    }
}

async fn revoke(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "linkedin", &req, &body);
    let f = form(&body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != LINKEDIN_CLIENT_ID || get("client_secret") != LINKEDIN_CLIENT_SECRET {
        return oauth_error("invalid_client", "Client authentication failed");
    }
    let mut li = lock(&state.linkedin);
    li.access.remove(get("token"));
    li.refresh.remove(get("token"));
    HttpResponse::Ok().finish()
}

async fn userinfo(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "linkedin", &req, b"");
    let li = lock(&state.linkedin);
    let grant = match grant(&li, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !["openid", "profile"]
        .iter()
        .all(|s| grant.scopes.iter().any(|g| g == s))
    {
        return api_error(
            StatusCode::FORBIDDEN,
            100,
            "ACCESS_DENIED",
            "Not enough permissions to access: userinfo.GET.NO_VERSION",
        );
    }
    let Some(member) = li.members.get(&grant.sub) else {
        return api_error(StatusCode::NOT_FOUND, 0, "NOT_FOUND", "Member not found");
    };
    let mut words = member.name.splitn(2, ' ');
    let given = words.next().unwrap_or_default();
    let family = words.next().unwrap_or_default();
    let mut answer = json!({
        "sub": member.sub,
        "name": member.name,
        "given_name": given,
        "family_name": family,
        "picture": format!("https://media.licdn.example/{}.jpg", member.sub),
        "locale": { "country": "US", "language": "en" },
    });
    if grant.scopes.iter().any(|s| s == "email") {
        answer["email"] = json!(format!(
            "{}@members.linkedin.example",
            member.sub.to_ascii_lowercase()
        ));
        answer["email_verified"] = json!(true);
    }
    HttpResponse::Ok().json(answer)
}

// ---- organizations ---------------------------------------------------------------------------

fn may_read_organizations(grant: &Grant) -> bool {
    grant
        .scopes
        .iter()
        .any(|s| s == "r_organization_admin" || s == "rw_organization_admin")
}

async fn organization_acls(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    record(&state, "linkedin", &req, b"");
    if let Err(refused) = versioned(&req) {
        return refused;
    }
    let li = lock(&state.linkedin);
    let grant = match grant(&li, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let q = query(&req);
    let known = ["q", "role", "state", "start", "count", "projection"];
    if let Some(unknown) = q.keys().find(|k| !known.contains(&k.as_str())) {
        return api_error(
            StatusCode::BAD_REQUEST,
            0,
            "ILLEGAL_ARGUMENT",
            &format!("Unknown query parameter {unknown}"),
        );
    }
    if q.get("q").map(String::as_str) != Some("roleAssignee") {
        return api_error(
            StatusCode::BAD_REQUEST,
            0,
            "ILLEGAL_ARGUMENT",
            "The finder q=roleAssignee is required",
        );
    }
    if !may_read_organizations(&grant) {
        return api_error(
            StatusCode::FORBIDDEN,
            100,
            "ACCESS_DENIED",
            "Not enough permissions to access: organizationAcls.FINDER-roleAssignee",
        );
    }
    let number = |k: &str, default: usize| -> Result<usize, HttpResponse> {
        match q.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                api_error(
                    StatusCode::BAD_REQUEST,
                    0,
                    "ILLEGAL_ARGUMENT",
                    &format!("{k} must be a number"),
                )
            }),
        }
    };
    let (start, count) = match (number("start", 0), number("count", 10)) {
        (Ok(s), Ok(c)) => (s, c.min(100)),
        (Err(refused), _) | (_, Err(refused)) => return refused,
    };
    let Some(member) = li.members.get(&grant.sub) else {
        return api_error(StatusCode::NOT_FOUND, 0, "NOT_FOUND", "Member not found");
    };
    let all: Vec<Value> = member
        .roles
        .iter()
        .filter(|(_, role)| q.get("role").is_none_or(|r| r == role))
        .filter(|_| q.get("state").is_none_or(|s| s == "APPROVED"))
        .map(|(org, role)| {
            json!({
                "roleAssignee": format!("urn:li:person:{}", member.sub),
                "role": role,
                "state": "APPROVED",
                "organization": format!("urn:li:organization:{org}"),
            })
        })
        .collect();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(start).take(count).collect();
    HttpResponse::Ok().json(json!({
        "paging": { "start": start, "count": count, "total": total, "links": [] },
        "elements": page,
    }))
}

async fn organization(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    record(&state, "linkedin", &req, b"");
    if let Err(refused) = versioned(&req) {
        return refused;
    }
    let li = lock(&state.linkedin);
    let grant = match grant(&li, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let id = path.into_inner();
    let Some(org) = li.organizations.get(&id) else {
        return api_error(
            StatusCode::NOT_FOUND,
            0,
            "NOT_FOUND",
            "Organization not found",
        );
    };
    let administers = li.members.get(&grant.sub).is_some_and(|m| {
        m.roles
            .iter()
            .any(|(o, role)| *o == id && role == "ADMINISTRATOR")
    });
    if !may_read_organizations(&grant) || !administers {
        return api_error(
            StatusCode::FORBIDDEN,
            100,
            "ACCESS_DENIED",
            &format!(
                "Not enough permissions to access: organizations.GET urn:li:organization:{id}"
            ),
        );
    }
    HttpResponse::Ok().json(json!({
        "id": org.id.parse::<u64>().unwrap_or_default(),
        "localizedName": org.name,
        "vanityName": org.vanity,
        "name": { "localized": { "en_US": org.name }, "preferredLocale": { "country": "US", "language": "en" } },
    }))
}

// ---- images ----------------------------------------------------------------------------------

/// Refuses a JSON body's fields outside `allowed` and reports the missing `required` ones, as
/// LinkedIn's 422 does.
fn check_fields(
    object: &serde_json::Map<String, Value>,
    at: &str,
    allowed: &[&str],
    required: &[&str],
) -> Result<(), HttpResponse> {
    let mut errors = Vec::new();
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(format!(
                "ERROR :: {at}/{key} :: unrecognized field found but not allowed"
            ));
        }
    }
    for key in required {
        if !object.contains_key(*key) {
            errors.push(format!(
                "ERROR :: {at}/{key} :: field is required but not found and has no default value"
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(unprocessable(&(errors.join("\n") + "\n")))
    }
}

fn json_object(
    req: &HttpRequest,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, HttpResponse> {
    if content_type(req) != "application/json" {
        return Err(api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            0,
            "UNSUPPORTED_MEDIA_TYPE",
            "The body must be application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(api_error(
            StatusCode::BAD_REQUEST,
            0,
            "ILLEGAL_ARGUMENT",
            "Request body could not be converted to data map",
        )),
    }
}

async fn initialize_upload(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "linkedin", &req, &body);
    if let Err(refused) = versioned(&req) {
        return refused;
    }
    if query(&req).get("action").map(String::as_str) != Some("initializeUpload") {
        return api_error(
            StatusCode::BAD_REQUEST,
            0,
            "ILLEGAL_ARGUMENT",
            "The action parameter must be initializeUpload",
        );
    }
    let object = match json_object(&req, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    if let Err(refused) = check_fields(
        &object,
        "",
        &["initializeUploadRequest"],
        &["initializeUploadRequest"],
    ) {
        return refused;
    }
    let Some(inner) = object
        .get("initializeUploadRequest")
        .and_then(Value::as_object)
    else {
        return unprocessable("ERROR :: /initializeUploadRequest :: must be a record\n");
    };
    if let Err(refused) = check_fields(
        inner,
        "/initializeUploadRequest",
        &["owner", "mediaLibraryMetadata"],
        &["owner"],
    ) {
        return refused;
    }
    let owner = inner
        .get("owner")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut li = lock(&state.linkedin);
    let grant = match grant(&li, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !li.may_act_as(&grant, &owner) {
        return api_error(
            StatusCode::FORBIDDEN,
            100,
            "ACCESS_DENIED",
            &format!(
                "Not enough permissions to access: images.ACTION-initializeUpload for owner {owner}"
            ),
        );
    }
    let n = li.next_id();
    let urn = format!("urn:li:image:D4E10Sbx{n:08}");
    let upload = token("upl");
    li.uploads.insert(upload.clone(), urn.clone());
    li.images.insert(
        urn.clone(),
        Image {
            owner,
            sub: grant.sub,
            upload: upload.clone(),
            uploaded: None,
        },
    );
    let info = req.connection_info();
    let upload_url = format!(
        "{}://{}/linkedin/dms-uploads/{upload}",
        info.scheme(),
        info.host()
    );
    HttpResponse::Ok().json(json!({
        "value": {
            "uploadUrlExpiresAt": (Utc::now() + Duration::hours(1)).timestamp_millis(),
            "uploadUrl": upload_url,
            "image": urn,
        }
    }))
}

/// The image type of `bytes` by their signature.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

async fn upload(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "linkedin", &req, &body);
    let mut li = lock(&state.linkedin);
    let grant = match grant(&li, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    let id = path.into_inner();
    let Some(urn) = li.uploads.get(&id).cloned() else {
        return HttpResponse::NotFound().finish();
    };
    let Some(image) = li.images.get_mut(&urn) else {
        return HttpResponse::NotFound().finish();
    };
    if image.sub != grant.sub || image.upload != id {
        return HttpResponse::Forbidden().finish();
    }
    if image.uploaded.is_some() {
        return HttpResponse::BadRequest().body("This upload is complete already");
    }
    let Some(mime) = image_type(&body) else {
        return HttpResponse::BadRequest().body("The upload is not a JPEG, PNG or GIF image");
    };
    image.uploaded = Some(format!("{mime} ({} bytes)", body.len()));
    HttpResponse::Created().finish()
}

// ---- posts -----------------------------------------------------------------------------------

/// What LinkedIn shows of a little-format commentary: escaped characters as themselves,
/// hashtags (`#word`) and mentions (`@[Name](urn:li:…)`) as their text, and nothing from the
/// first other unescaped reserved character on (LinkedIn cuts the text there).
fn shown(commentary: &str) -> String {
    // LinkedIn's documented reserved characters, written out here rather than taken from the
    // adapter, so that the two check each other.
    let reserved = [
        '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
    ];
    let chars: Vec<char> = commentary.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some(next) if reserved.contains(next) => {
                    out.push(*next);
                    i += 2;
                    continue;
                }
                _ => break,
            }
        }
        if c == '#' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) {
            out.push(c);
            i += 1;
            continue;
        }
        if c == '@' && chars.get(i + 1) == Some(&'[') {
            let rest: String = chars[i..].iter().collect();
            if let Some((name, after)) = rest[2..].split_once("](")
                && let Some((urn, _)) = after.split_once(')')
                && urn.starts_with("urn:li:")
                && !name.contains(']')
            {
                out.push_str(name);
                i += 2 + name.chars().count() + 2 + urn.chars().count() + 1;
                continue;
            }
            break;
        }
        if reserved.contains(&c) {
            break;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The images of a post's `content`, checked: each uploaded by `author`.
fn content_images(li: &State, author: &str, content: &Value) -> Result<Vec<String>, HttpResponse> {
    let Some(object) = content.as_object() else {
        return Err(unprocessable("ERROR :: /content :: must be a record\n"));
    };
    check_fields(
        object,
        "/content",
        &[
            "media",
            "multiImage",
            "article",
            "poll",
            "carousel",
            "celebration",
        ],
        &[],
    )?;
    let mut ids: Vec<(String, Option<String>)> = Vec::new();
    if let Some(media) = object.get("media") {
        let Some(m) = media.as_object() else {
            return Err(unprocessable(
                "ERROR :: /content/media :: must be a record\n",
            ));
        };
        check_fields(m, "/content/media", &["id", "altText", "title"], &["id"])?;
        ids.push((
            m.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
            m.get("altText").and_then(Value::as_str).map(str::to_owned),
        ));
    }
    if let Some(multi) = object.get("multiImage") {
        let images = multi
            .get("images")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !(2..=20).contains(&images.len()) {
            return Err(unprocessable(
                "ERROR :: /content/multiImage/images :: a multi-image post has 2 to 20 images\n",
            ));
        }
        for image in images {
            let Some(m) = image.as_object() else {
                return Err(unprocessable(
                    "ERROR :: /content/multiImage/images :: must be records\n",
                ));
            };
            check_fields(m, "/content/multiImage/images", &["id", "altText"], &["id"])?;
            ids.push((
                m.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
                m.get("altText").and_then(Value::as_str).map(str::to_owned),
            ));
        }
    }
    if ids.is_empty() && object.get("article").is_none() {
        return Err(unprocessable("ERROR :: /content :: no content given\n"));
    }
    let mut media = Vec::with_capacity(ids.len());
    for (id, alt) in ids {
        let Some(image) = li.images.get(&id) else {
            return Err(unprocessable(&format!(
                "ERROR :: /content :: {id} is not an image"
            )));
        };
        if image.owner != author {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                100,
                "ACCESS_DENIED",
                &format!("{id} belongs to another owner"),
            ));
        }
        let Some(uploaded) = &image.uploaded else {
            return Err(unprocessable(&format!(
                "ERROR :: /content :: {id} has not been uploaded"
            )));
        };
        media.push(match alt {
            Some(alt) => format!("{uploaded}: {alt}"),
            None => uploaded.clone(),
        });
    }
    Ok(media)
}

async fn create_post(
    state: web::Data<SandboxState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    record(&state, "linkedin", &req, &body);
    if let Err(refused) = versioned(&req) {
        return refused;
    }
    let object = match json_object(&req, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    let allowed = [
        "author",
        "commentary",
        "visibility",
        "distribution",
        "lifecycleState",
        "isReshareDisabledByAuthor",
        "content",
        "contentLandingPage",
        "contentCallToActionLabel",
        "reshareContext",
        "container",
    ];
    let required = [
        "author",
        "commentary",
        "visibility",
        "distribution",
        "lifecycleState",
    ];
    if let Err(refused) = check_fields(&object, "", &allowed, &required) {
        return refused;
    }
    let text = |k: &str| object.get(k).and_then(Value::as_str);
    let (Some(author), Some(commentary), Some(visibility), Some(lifecycle)) = (
        text("author"),
        text("commentary"),
        text("visibility"),
        text("lifecycleState"),
    ) else {
        return unprocessable(
            "ERROR :: author, commentary, visibility and lifecycleState are strings\n",
        );
    };
    if lifecycle != "PUBLISHED" {
        return unprocessable(
            "ERROR :: /lifecycleState :: only PUBLISHED posts are created here\n",
        );
    }
    let person = author.starts_with("urn:li:person:");
    match visibility {
        "PUBLIC" | "LOGGED_IN" => {}
        "CONNECTIONS" if person => {}
        _ => {
            return unprocessable(&format!(
                "ERROR :: /visibility :: {visibility} is not a visibility of this author\n"
            ));
        }
    }
    let feed = object
        .get("distribution")
        .and_then(|d| d.get("feedDistribution"))
        .and_then(Value::as_str);
    if !matches!(feed, Some("MAIN_FEED" | "NONE")) {
        return unprocessable(
            "ERROR :: /distribution/feedDistribution :: field is required: MAIN_FEED or NONE\n",
        );
    }
    let shown_text = shown(commentary);
    if shown_text.chars().count() > MAX_COMMENTARY {
        return unprocessable(
            "ERROR :: /commentary :: commentary is longer than 3000 characters\n",
        );
    }
    let mut guard = lock(&state.linkedin);
    let li = &mut *guard;
    let grant = match grant(li, &req) {
        Ok(g) => g,
        Err(refused) => return refused,
    };
    if !li.may_act_as(&grant, author) {
        return api_error(
            StatusCode::FORBIDDEN,
            100,
            "ACCESS_DENIED",
            "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260501",
        );
    }
    let media = match object.get("content") {
        None => Vec::new(),
        Some(content) => match content_images(li, author, content) {
            Ok(m) => m,
            Err(refused) => return refused,
        },
    };
    if media.is_empty() && commentary.is_empty() {
        return unprocessable("ERROR :: /commentary :: a post without content needs commentary\n");
    }
    let fail = li.fail_next_post.take();
    if let Some(fail) = fail.filter(|f| !f.after_create) {
        return api_error(
            StatusCode::from_u16(fail.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            0,
            "INTERNAL_SERVER_ERROR",
            "Internal Server Error",
        );
    }
    let key = (author.to_owned(), commentary.to_owned());
    if !commentary.is_empty() && li.commentaries.contains(&key) {
        let earlier = li
            .posts
            .iter()
            .rev()
            .find(|p| p.author == author && p.commentary == commentary)
            .map_or_else(String::new, |p| p.id.clone());
        return HttpResponse::UnprocessableEntity().json(json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "code": "DUPLICATE_POST",
            "message": format!("Content is a duplicate of {earlier}"),
            "status": 422,
        }));
    }
    let n = li.next_id();
    let id = format!("urn:li:share:7{n:018}");
    li.commentaries.insert(key);
    li.posts.push(Post {
        id: id.clone(),
        author: author.to_owned(),
        commentary: commentary.to_owned(),
        shown: shown_text,
        media,
        created_at: Utc::now(),
    });
    if let Some(fail) = fail {
        return api_error(
            StatusCode::from_u16(fail.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            0,
            "INTERNAL_SERVER_ERROR",
            "Internal Server Error",
        );
    }
    HttpResponse::Created()
        .insert_header(("x-restli-id", id.clone()))
        .insert_header(("x-linkedin-id", id))
        .finish()
}

// ---- control ---------------------------------------------------------------------------------

async fn next_member(state: web::Data<SandboxState>, body: web::Json<NextMember>) -> HttpResponse {
    let next = body.into_inner();
    let mut li = lock(&state.linkedin);
    let sub = li.member(&next.name);
    let mut organizations = Vec::new();
    let mut roles = Vec::new();
    for org in &next.organizations {
        let id = li.organization(&org.name);
        roles.push((id.clone(), org.role.clone()));
        organizations.push(json!({
            "urn": format!("urn:li:organization:{id}"),
            "name": org.name,
            "role": org.role,
        }));
    }
    if let Some(member) = li.members.get_mut(&sub) {
        member.roles = roles;
    }
    li.next_member = Some(next.name.clone());
    HttpResponse::Ok().json(json!({
        "urn": format!("urn:li:person:{sub}"),
        "name": next.name,
        "organizations": organizations,
    }))
}

async fn fail_next_post(state: web::Data<SandboxState>, body: web::Json<FailNext>) -> HttpResponse {
    let fail = body.into_inner();
    if !(400..=599).contains(&fail.status) {
        return HttpResponse::BadRequest().json(json!({ "error": "status must be 400–599" }));
    }
    lock(&state.linkedin).fail_next_post = Some(fail);
    HttpResponse::Ok().json(json!({ "status": fail.status, "after_create": fail.after_create }))
}

async fn expire_tokens(state: web::Data<SandboxState>) -> HttpResponse {
    let mut li = lock(&state.linkedin);
    let now = Utc::now();
    let mut expired = 0;
    for grant in li.access.values_mut() {
        grant.expires = now;
        expired += 1;
    }
    HttpResponse::Ok().json(json!({ "expired": expired }))
}

#[cfg(test)]
mod tests;
