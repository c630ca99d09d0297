//! The sandbox's own pages: what the fakes hold, for a person and as JSON.
//!
//! - `GET /_sandbox/posts` — every post, oldest first, as `[{"platform", "account", "id",
//!   "text", "media", "reply_to", "url", "created_at"}]`. Filters (query, all optional,
//!   combined with "and"): `platform` (`x`, `bluesky` or `bsky`, `mastodon`, `facebook`,
//!   `instagram`, `threads`, `linkedin`, `youtube`, `pinterest`, `tiktok`: only that fake is
//!   read), `account` (exact), `text` (exact). Any other parameter is a 400.
//! - `GET /_sandbox/duplicates` — the texts an account posted more than once, as
//!   `[{"platform", "account", "text", "count", "ids"}]` (oldest first; `[]` when every text was
//!   posted once). Filter: `platform`.
//! - `GET /_sandbox/requests` — the requests received (the newest
//!   [`MAX_RECORDED`](crate::MAX_RECORDED)), oldest first, as `[{"platform", "method", "path",
//!   "content_type", "authorization", "idempotency_key", "body", "at"}]`. Filters: `platform`,
//!   `method` (exact), `path` (a prefix of the path, which excludes the fake's prefix and
//!   includes the query).

// A refused control or filter answers with the refusal itself; a response is its error.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::common::{SandboxPost, platform_name};
use crate::{SandboxState, lock};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/_sandbox/posts", web::get().to(posts))
        .route("/_sandbox/duplicates", web::get().to(duplicates))
        .route("/_sandbox/requests", web::get().to(requests));
}

/// The query's parameters, each at most once and among `allowed` (else the 400 to answer).
fn filters(req: &HttpRequest, allowed: &[&str]) -> Result<HashMap<String, String>, HttpResponse> {
    let mut found = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned() {
        if !allowed.contains(&key.as_str()) {
            return Err(HttpResponse::BadRequest().json(serde_json::json!({
                "error": format!("unknown filter `{key}`; allowed: {}", allowed.join(", "))
            })));
        }
        if found.insert(key.clone(), value).is_some() {
            return Err(HttpResponse::BadRequest().json(serde_json::json!({
                "error": format!("`{key}` is given twice")
            })));
        }
    }
    if let Some(platform) = found.get("platform") {
        match platform_name(platform) {
            Some(name) => {
                found.insert("platform".to_owned(), name.to_owned());
            }
            None => {
                return Err(HttpResponse::BadRequest().json(serde_json::json!({
                    "error": format!("unknown platform `{platform}`: x, bluesky, mastodon, facebook, instagram, threads, linkedin, youtube, pinterest, tiktok or stripe")
                })));
            }
        }
    }
    Ok(found)
}

/// The posts of the platform filter (only that fake is read), oldest first.
fn posts_for(state: &SandboxState, f: &HashMap<String, String>) -> Vec<SandboxPost> {
    match f.get("platform") {
        Some(platform) => state.posts_of(platform).unwrap_or_default(),
        None => state.posts(),
    }
}

async fn posts(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    let f = match filters(&req, &["platform", "account", "text"]) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let mut list = posts_for(&state, &f);
    if let Some(account) = f.get("account") {
        list.retain(|p| &p.account == account);
    }
    if let Some(text) = f.get("text") {
        list.retain(|p| &p.text == text);
    }
    HttpResponse::Ok().json(list)
}

/// Posts of one account with one text, created more than once.
#[derive(Debug, Serialize)]
struct Duplicate {
    platform: &'static str,
    account: String,
    text: String,
    count: usize,
    ids: Vec<String>,
}

async fn duplicates(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    let f = match filters(&req, &["platform"]) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let mut groups: HashMap<(&'static str, String, String), usize> = HashMap::new();
    let mut found: Vec<Duplicate> = Vec::new();
    for post in posts_for(&state, &f) {
        let key = (post.platform, post.account.clone(), post.text.clone());
        match groups.get(&key) {
            Some(&at) => {
                found[at].count += 1;
                found[at].ids.push(post.id);
            }
            None => {
                groups.insert(key, found.len());
                found.push(Duplicate {
                    platform: post.platform,
                    account: post.account,
                    text: post.text,
                    count: 1,
                    ids: vec![post.id],
                });
            }
        }
    }
    found.retain(|d| d.count > 1);
    HttpResponse::Ok().json(found)
}

async fn requests(state: web::Data<SandboxState>, req: HttpRequest) -> HttpResponse {
    let f = match filters(&req, &["platform", "method", "path"]) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let log = lock(&state.log);
    let list: Vec<_> = log
        .iter()
        .filter(|r| f.get("platform").is_none_or(|p| r.platform == p))
        .filter(|r| f.get("method").is_none_or(|m| &r.method == m))
        .filter(|r| f.get("path").is_none_or(|p| r.path.starts_with(p.as_str())))
        .collect();
    HttpResponse::Ok().json(list)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(state: web::Data<SandboxState>) -> HttpResponse {
    let mut rows = String::new();
    for p in state.posts().iter().rev() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.created_at.format("%Y-%m-%d %H:%M:%S"),
            p.platform,
            escape(&p.account),
            escape(&p.text),
            escape(&p.media.join(", ")),
            escape(p.reply_to.as_deref().unwrap_or("")),
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=6>Nothing published yet.</td></tr>");
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=utf-8><title>Multivio sandbox</title>\
             <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .6em;\
             border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}</style></head>\
             <body><h1>Multivio sandbox</h1><p>Local fakes of X, Bluesky, Mastodon, Facebook, Instagram, Threads, LinkedIn, YouTube, Pinterest and TikTok. Nothing \
             here leaves this machine. <a href=\"/_sandbox/posts\">posts as JSON</a> · \
             <a href=\"/_sandbox/requests\">requests received</a></p><table><tr><th>when</th>\
             <th>platform</th><th>account</th><th>text</th><th>media</th><th>reply to</th></tr>\
             {rows}</table></body></html>"
        ))
}
