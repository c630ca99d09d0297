//! `/v1/media`: uploading files (streamed to storage as they arrive) and their metadata.

use std::io;
use std::time::Duration;

use actix_multipart::{Field, Multipart};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use multivio_app::media::{DeleteError, UploadError, UploadStream, body_channel};
use multivio_domain::media::MediaFile;
use multivio_domain::page::PageSize;
use multivio_domain::{MediaId, Tenant};
use uuid::Uuid;

use super::json;
use crate::caller::Caller;
use crate::dto::{MediaDto, MediaPage, MediaPatch, PageQuery, UploadForm};
use crate::error::{ApiError, invalid};
use crate::input::{Body, Path, Query};
use crate::problem::ProblemType;
use crate::rate_limit::Action;
use crate::{AppState, Problem};

/// Longest accepted `alt_text` part, in bytes.
const MAX_ALT_TEXT_BYTES: usize = 8 * 1024;
/// What a multipart body carries besides the file, at most: boundaries, part headers, the alt
/// text. A body announced larger than the largest file plus this is refused unread.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Chunks waiting between the request and storage (back-pressure beyond that).
const CHUNKS_IN_FLIGHT: usize = 4;

fn bad_upload(detail: impl Into<String>) -> ApiError {
    ApiError(Problem::of(
        ProblemType::MalformedUpload,
        StatusCode::BAD_REQUEST,
        detail,
    ))
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError(
        Problem::of(
            ProblemType::PayloadTooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("files may have at most {max_bytes} bytes"),
        )
        .with("max_bytes", max_bytes),
    )
}

fn timed_out(after: Duration) -> ApiError {
    ApiError(Problem::of(
        ProblemType::RequestTimeout,
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the upload sent nothing for {} s and was broken off",
            after.as_secs()
        ),
    ))
}

/// An upload's refusal as a problem document.
fn upload_problem(e: UploadError) -> ApiError {
    match e {
        UploadError::StorageQuotaExceeded {
            used_bytes,
            allowed_bytes,
        } => ApiError(
            Problem::of(
                ProblemType::StorageQuotaExceeded,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("this file does not fit in your plan's storage: {e}; delete files or change plans"),
            )
            .with("used_bytes", used_bytes)
            .with("allowed_bytes", allowed_bytes),
        ),
        UploadError::TooLarge { max_bytes } => too_large(max_bytes),
        UploadError::Body(why) => bad_upload(why),
        UploadError::TooSlow { limit } => ApiError(Problem::of(
            ProblemType::RequestTimeout,
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the image took longer than {} s to arrive and was broken off",
                limit.as_secs()
            ),
        )),
        UploadError::Busy => ApiError(
            Problem::of(
                ProblemType::Busy,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many images are being uploaded at once; retry shortly",
            )
            .retry_after(5),
        ),
        // The rest as the core words them: 415, or 422 about `file`.
        other => multivio_app::AppError::from(other).into(),
    }
}

/// The next item of a multipart body, or 408 when it takes longer than `timeout`.
async fn next_part(parts: &mut Multipart, timeout: Duration) -> Result<Option<Field>, ApiError> {
    match tokio::time::timeout(timeout, parts.try_next()).await {
        Ok(next) => next.map_err(|e| bad_upload(e.to_string())),
        Err(_) => Err(timed_out(timeout)),
    }
}

/// Reads one small part whole, refusing more than `limit` bytes (413) as soon as they arrive.
async fn read_part(
    field: &mut Field,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(timeout, field.try_next()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => return Ok(bytes),
            Ok(Err(e)) => return Err(bad_upload(e.to_string())),
            Err(_) => return Err(timed_out(timeout)),
        };
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError(Problem::of(
                ProblemType::PayloadTooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("this part may have at most {limit} bytes"),
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
}

/// How forwarding a file part to storage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forwarded {
    /// The part ended, broke, or storage stopped reading.
    Done,
    /// The client sent nothing for the read timeout.
    TimedOut,
}

/// Streams the `file` part to storage as it arrives: actix's multipart fields cannot cross
/// threads, so the part's chunks are forwarded through [`body_channel`] to the upload, which
/// reads the other end; each chunk must come within `timeout`.
async fn stream_file(
    state: &AppState,
    tenant: &Tenant,
    mut field: Field,
    alt_text: Option<String>,
    timeout: Duration,
) -> Result<MediaFile, ApiError> {
    let original_filename = field
        .content_disposition()
        .and_then(|d| d.get_filename())
        .map(str::to_owned);
    let (tx, body) = body_channel(CHUNKS_IN_FLIGHT);
    let forward = async move {
        loop {
            let chunk = match tokio::time::timeout(timeout, field.try_next()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => return Forwarded::Done,
                Ok(Err(e)) => {
                    // The upload ends on this error: nothing is kept.
                    let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                    return Forwarded::Done;
                }
                Err(_) => {
                    let _ = tx
                        .send(Err(io::Error::new(io::ErrorKind::TimedOut, "read timeout")))
                        .await;
                    return Forwarded::TimedOut;
                }
            };
            if tx.send(Ok(chunk)).await.is_err() {
                // The upload is over (refused): stop reading.
                return Forwarded::Done;
            }
        }
    };
    let upload = state.services.media.upload_stream(
        tenant,
        UploadStream {
            body,
            original_filename,
            alt_text,
            declared_size: None,
        },
    );
    tokio::pin!(forward, upload);
    // The upload may finish first (a refusal): the rest of the part is then not waited for.
    let (result, forwarded) = tokio::select! {
        result = &mut upload => (result, Forwarded::Done),
        forwarded = &mut forward => (upload.await, forwarded),
    };
    match result {
        Ok(file) => Ok(file),
        Err(UploadError::Body(_)) if forwarded == Forwarded::TimedOut => Err(timed_out(timeout)),
        Err(e) => Err(upload_problem(e)),
    }
}

/// Reads the multipart body: the file is stored as soon as its part has arrived (into
/// `stored`, for the caller to remove should a later part be refused).
async fn read_upload(
    state: &AppState,
    tenant: &Tenant,
    mut parts: Multipart,
    stored: &mut Option<MediaFile>,
) -> Result<MediaFile, ApiError> {
    let timeout = state.config.uploads.read_timeout;
    let mut alt_text: Option<String> = None;
    let mut alt_text_after = false;
    while let Some(mut field) = next_part(&mut parts, timeout).await? {
        match field.name().unwrap_or_default() {
            "file" if stored.is_none() => {
                let file = stream_file(state, tenant, field, alt_text.clone(), timeout).await?;
                *stored = Some(file);
            }
            "alt_text" if alt_text.is_none() => {
                let bytes = read_part(&mut field, MAX_ALT_TEXT_BYTES, timeout).await?;
                let text =
                    String::from_utf8(bytes).map_err(|_| bad_upload("alt_text is not UTF-8"))?;
                alt_text_after = stored.is_some();
                alt_text = Some(text);
            }
            other => return Err(bad_upload(format!("unexpected part `{other}`"))),
        }
    }
    let Some(file) = stored.clone() else {
        return Err(invalid("file", "is required"));
    };
    if alt_text_after {
        return Ok(state
            .services
            .media
            .set_alt_text(tenant, file.id, alt_text)
            .await?);
    }
    Ok(file)
}

/// Uploads a file (`multipart/form-data`: a `file` part and an optional `alt_text` part, in
/// either order). The file streams to storage as it arrives; its type is read from the bytes
/// (JPEG, PNG, GIF, WebP, MP4, QuickTime, WebM), never from the client's name or content type;
/// the answer says which platforms accept the file. Each account may have a few uploads in
/// progress at once, and an upload that sends nothing for a while is broken off.
#[utoipa::path(post, path = "/v1/media", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = MediaDto),
        (status = 400, description = "- `malformed-upload`: not a multipart body, a part that cannot be read or broke off, an unexpected part"),
        (status = 408, description = "- `request-timeout`: the body sent nothing for `MULTIVIO_UPLOAD_READ_TIMEOUT_SECS` seconds, or an image took longer than 10 minutes to arrive"),
        (status = 413, description = "- `payload-too-large`: a file over `MULTIVIO_MAX_UPLOAD_BYTES` (`max_bytes`), an image over 32 MiB, an `alt_text` over 8 KiB\n- `storage-quota-exceeded`: the file does not fit in the plan's storage (`used_bytes`, `allowed_bytes`)"),
        (status = 415, description = "- `unsupported-file-type`: not a JPEG, PNG, GIF or WebP image, nor an MP4, QuickTime or WebM video"),
        (status = 422, description = "- `validation-failed`: no `file` part, an empty or unreadable file, an image of too many pixels (a decompression bomb), an `alt_text` breaking its rules"),
        (status = 429, description = "- `too-many-requests`: 30 uploads a minute\n- `busy`: the account already has `MULTIVIO_UPLOADS_PER_USER` uploads in progress"),
        (status = 503, description = "- `busy`: the images being uploaded to this process fill the memory set aside for them (256 MiB); retry after `Retry-After`")),
    security(("bearer" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    parts: Multipart,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Upload)?;
    let Ok(_slot) = state.uploads.try_acquire(caller.tenant.user_id) else {
        return Err(ApiError(
            Problem::of(
                ProblemType::Busy,
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this account already has {} uploads in progress; retry when one has finished",
                    state.uploads.per_owner()
                ),
            )
            .retry_after(5),
        ));
    };
    let max_bytes = state.services.media.max_upload_bytes();
    let announced = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > max_bytes.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(too_large(max_bytes));
    }
    let mut stored = None;
    match read_upload(&state, &caller.tenant, parts, &mut stored).await {
        Ok(file) => Ok(json(StatusCode::CREATED, &MediaDto::from(&file))),
        Err(e) => {
            // A part after the file was refused: the upload as a whole is, so the file goes.
            if let Some(file) = stored
                && let Err(gone) = state.services.media.delete(&caller.tenant, file.id).await
            {
                tracing::warn!(media = %file.id, error = %gone, "refused upload not removed");
            }
            Err(e)
        }
    }
}

/// The caller's media, newest first.
#[utoipa::path(get, path = "/v1/media", tag = "media", params(PageQuery),
    responses((status = 200, body = MediaPage),
        (status = 422, description = "- `validation-failed`: a cursor this API did not issue")),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = state
        .services
        .media
        .list(&caller.tenant, PageSize::new(q.limit), q.cursor)
        .await?;
    Ok(json(
        StatusCode::OK,
        &MediaPage {
            items: page.items.iter().map(MediaDto::from).collect(),
            next_cursor: page.next_cursor,
        },
    ))
}

/// One file.
#[utoipa::path(get, path = "/v1/media/{id}", tag = "media",
    params(("id" = Uuid, Path, description = "Media id")),
    responses((status = 200, body = MediaDto), (status = 404, description = "- `not-found`: no such file")),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let file = state
        .services
        .media
        .get(&caller.tenant, MediaId(*id))
        .await?;
    Ok(json(StatusCode::OK, &MediaDto::from(&file)))
}

/// Sets or clears the alternative text.
#[utoipa::path(patch, path = "/v1/media/{id}", tag = "media",
    params(("id" = Uuid, Path, description = "Media id")), request_body = MediaPatch,
    responses((status = 200, body = MediaDto), (status = 404, description = "- `not-found`: no such file")),
    security(("bearer" = [])))]
pub async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
    body: Body<MediaPatch>,
) -> Result<HttpResponse, ApiError> {
    let file = state
        .services
        .media
        .set_alt_text(&caller.tenant, MediaId(*id), body.into_inner().alt_text)
        .await?;
    Ok(json(StatusCode::OK, &MediaDto::from(&file)))
}

/// Deletes the file, bytes too. A file that scheduled or publishing posts carry is kept (409
/// naming them) until they are published or deleted.
#[utoipa::path(delete, path = "/v1/media/{id}", tag = "media",
    params(("id" = Uuid, Path, description = "Media id")),
    responses((status = 204, description = "Deleted, bytes too"), (status = 404, description = "- `not-found`: no such file"),
        (status = 409, description = "- `conflict`: scheduled or publishing posts carry the file (`post_ids`)")),
    security(("bearer" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    match state
        .services
        .media
        .delete_checked(&caller.tenant, MediaId(*id))
        .await
    {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(DeleteError::Attached { posts }) => Err(ApiError(
            Problem::of(
                ProblemType::Conflict,
                StatusCode::CONFLICT,
                "scheduled or publishing posts carry this file; it can be deleted once they are published or deleted, or no longer carry it",
            )
            .with("post_ids", posts.iter().map(|p| p.0).collect::<Vec<_>>()),
        )),
        Err(DeleteError::Failed(e)) => Err(e.into()),
    }
}
