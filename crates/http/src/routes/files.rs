//! `/media/{key}`: the bytes of uploaded files — the `cdn_url` of files this process serves.
//!
//! No sign-in: platforms that fetch media by URL (Instagram, Threads, TikTok) and browsers
//! showing a post read these URLs; keys are unguessable (`<user>/<uuid>.<ext>`). Requests are
//! rate-limited per client address (the peer, or behind `MULTIVIO_TRUSTED_PROXIES` the address
//! they name; IPv6 by /64), and each address may have [`DOWNLOADS_PER_CLIENT`] downloads in
//! progress, the process [`DOWNLOADS_IN_TOTAL`]; a download whose client takes no bytes for
//! [`DOWNLOAD_IDLE_TIMEOUT`] gives its place up and is broken off. Bytes stream from storage as the client reads
//! them (a few chunks in memory per download, whatever the file's size), one byte range at a
//! time when asked (`Range`, `If-Range`), with `ETag` and `Last-Modified` so that caches
//! revalidate (`If-None-Match`, `If-Modified-Since` → 304). Caches may keep a file a day
//! (`max-age`): a deleted file may be served from one that long. When the store has public URLs
//! (a CDN in front of the bucket), the API redirects there instead of serving bytes.
//!
//! [`DOWNLOADS_PER_CLIENT`]: crate::transfers::DOWNLOADS_PER_CLIENT
//! [`DOWNLOADS_IN_TOTAL`]: crate::transfers::DOWNLOADS_IN_TOTAL
//! [`DOWNLOAD_IDLE_TIMEOUT`]: crate::transfers::DOWNLOAD_IDLE_TIMEOUT

use std::time::{Duration, SystemTime};

use actix_web::body::SizedStream;
use actix_web::http::header::{
    self, Header, HttpDate, IfModifiedSince, IfNoneMatch, IfRange, TryIntoHeaderValue,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use chrono::{DateTime, Utc};
use multivio_ports::media::{ByteRange, Delivery, MediaStoreError, ObjectMeta, valid_key};

use crate::error::ApiError;
use crate::problem::ProblemType;
use crate::rate_limit::Action;
use crate::transfers::{DOWNLOAD_IDLE_TIMEOUT, Full, Watched, client_key};
use crate::{AppState, Problem};

/// Seconds caches may keep a file without asking again.
const CACHE_SECONDS: u32 = 86_400;

/// Serves the bytes of `key` (`GET` and `HEAD`).
pub async fn serve_file(
    state: web::Data<AppState>,
    request: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let forwarded_for = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = client_key(
        request.peer_addr().map(|a| a.ip()),
        forwarded_for,
        &state.config.trusted_proxies,
    );
    state.limits.check(Action::Download, &client.to_string())?;
    let Some(store) = &state.media_store else {
        return Err(no_such_file());
    };
    // Keys that name nothing in any store are not looked up.
    if !valid_key(&key) {
        return Err(no_such_file());
    }
    if store.delivery() == Delivery::PublicUrl {
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, store.public_url(&key)))
            .finish());
    }
    let meta = store.head(&key).await.map_err(store_error)?;
    let tag = entity_tag(&meta.etag);
    let modified = whole_seconds(meta.last_modified);

    if not_modified(&request, &tag, modified) {
        let mut answer = HttpResponse::NotModified();
        validators(&mut answer, &tag, modified);
        return Ok(answer.finish());
    }

    // Ranges are for GET alone (RFC 9110 §14.2): HEAD describes the whole file.
    let get = request.method() == Method::GET;
    let range = requested_range(&request, &tag, modified).filter(|_| get);
    let (status, bytes) = match range {
        None => (StatusCode::OK, 0..meta.size),
        Some(range) => match range.resolve(meta.size) {
            Some(bytes) => (StatusCode::PARTIAL_CONTENT, bytes),
            None => return Ok(unsatisfiable_answer(meta.size)),
        },
    };
    let mut answer = HttpResponseBuilder::new(status);
    validators(&mut answer, &tag, modified);
    content_headers(&mut answer, &meta);
    if status == StatusCode::PARTIAL_CONTENT {
        answer.insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                bytes.start,
                bytes.end.saturating_sub(1),
                meta.size
            ),
        ));
    }
    let length = bytes.end - bytes.start;
    if !get {
        // The headers of the answer a GET would get; actix sends no body for HEAD.
        let nothing = futures_util::stream::empty::<Result<web::Bytes, std::io::Error>>();
        return Ok(answer.body(SizedStream::new(length, nothing)));
    }
    let slot = state.downloads.try_acquire(client).map_err(|full| {
        let (status, detail) = match full {
            Full::Owner => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many downloads from this address at once; retry shortly",
            ),
            Full::Total => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many downloads at once; retry shortly",
            ),
        };
        ApiError(Problem::of(ProblemType::Busy, status, detail).retry_after(5))
    })?;
    let read = store
        .open(
            &key,
            range.filter(|_| status == StatusCode::PARTIAL_CONTENT),
        )
        .await
        .map_err(store_error)?;
    let length = read.range.end - read.range.start;
    // The slot is held until the bytes are sent, the client is gone, or it has taken none for
    // DOWNLOAD_IDLE_TIMEOUT.
    let body = Watched::new(read.body, slot, DOWNLOAD_IDLE_TIMEOUT);
    Ok(answer.body(SizedStream::new(length, body)))
}

fn no_such_file() -> ApiError {
    ApiError(Problem::not_found("no such file"))
}

fn unsatisfiable(size: u64) -> ApiError {
    ApiError(
        Problem::of(
            ProblemType::RangeNotSatisfiable,
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the range names no byte of this file of {size} bytes"),
        )
        .with("size", size),
    )
}

/// 416 with the file's size in `Content-Range` (RFC 9110 §15.5.17).
fn unsatisfiable_answer(size: u64) -> HttpResponse {
    let mut answer = actix_web::ResponseError::error_response(&unsatisfiable(size));
    if let Ok(value) = header::HeaderValue::from_str(&format!("bytes */{size}")) {
        answer.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    answer
}

fn store_error(e: MediaStoreError) -> ApiError {
    match e {
        MediaStoreError::NotFound => no_such_file(),
        MediaStoreError::RangeNotSatisfiable { size } => unsatisfiable(size),
        other => multivio_app::AppError::from(other).into(),
    }
}

/// The store's validator as an entity tag (unquoted): without the characters an entity tag
/// may not hold (RFC 9110 §8.8.3).
fn entity_tag(validator: &str) -> String {
    validator
        .chars()
        .filter(|&c| c == '!' || ('#'..='~').contains(&c))
        .collect()
}

/// HTTP dates have whole seconds; comparisons with the client's are made on those.
fn whole_seconds(at: DateTime<Utc>) -> SystemTime {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn validators(answer: &mut HttpResponseBuilder, tag: &str, modified: SystemTime) {
    answer
        .insert_header((header::ETAG, format!("\"{tag}\"")))
        .insert_header((header::LAST_MODIFIED, HttpDate::from(modified)))
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={CACHE_SECONDS}"),
        ))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
}

fn content_headers(answer: &mut HttpResponseBuilder, meta: &ObjectMeta) {
    let content_type = meta
        .content_type
        .as_str()
        .try_into_value()
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| header::HeaderValue::from_static("application/octet-stream"));
    answer
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Media only: nothing served here may run script or load anything.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ));
}

/// Whether the client's copy is current (RFC 9110 §13.2.2): `If-None-Match` when sent (weak
/// comparison), else `If-Modified-Since`.
fn not_modified(request: &HttpRequest, tag: &str, modified: SystemTime) -> bool {
    if request.headers().contains_key(header::IF_NONE_MATCH) {
        return match IfNoneMatch::parse(request) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.tag() == tag),
            Err(_) => false,
        };
    }
    match IfModifiedSince::parse(request) {
        Ok(IfModifiedSince(since)) => modified <= SystemTime::from(since),
        Err(_) => false,
    }
}

/// The one byte range asked for, when it applies: `If-Range` must name the current bytes
/// (a strong tag, or exactly the last modification), otherwise the whole file is sent.
fn requested_range(request: &HttpRequest, tag: &str, modified: SystemTime) -> Option<ByteRange> {
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(ByteRange::parse)?;
    if !request.headers().contains_key(header::IF_RANGE) {
        return Some(range);
    }
    let current = match IfRange::parse(request) {
        Ok(IfRange::EntityTag(theirs)) => !theirs.weak && theirs.tag() == tag,
        Ok(IfRange::Date(date)) => SystemTime::from(date) == modified,
        Err(_) => false,
    };
    current.then_some(range)
}
