//! `/v1/media`: uploaded files' metadata.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use futures_util::TryStreamExt;
use multivio_app::media::MediaUpload;
use multivio_domain::MediaId;
use multivio_domain::media::probe;
use multivio_domain::page::PageSize;
use multivio_ports::media::MediaStoreError;
use uuid::Uuid;

use super::json;
use crate::caller::Caller;
use crate::dto::{MediaDto, MediaPage, MediaPatch, PageQuery, UploadForm};
use crate::error::{ApiError, invalid};
use crate::input::{Body, Path, Query};
use crate::problem::ProblemType;
use crate::rate_limit::Action;
use crate::{AppState, Problem};

/// A place among the requests holding a whole file in memory; waits briefly, then answers 503
/// rather than queueing without bound.
async fn media_permit(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        state.media_permits.acquire(),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError(
            Problem::of(
                ProblemType::Busy,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many file transfers at once; try again shortly",
            )
            .retry_after(5),
        )),
    }
}

/// Longest accepted `alt_text` part, in bytes.
const MAX_ALT_TEXT_BYTES: usize = 8 * 1024;

fn bad_upload(detail: impl Into<String>) -> ApiError {
    ApiError(Problem::of(
        ProblemType::MalformedUpload,
        StatusCode::BAD_REQUEST,
        detail,
    ))
}

/// Reads one multipart part, refusing more than `limit` bytes (413) as soon as they arrive.
async fn read_part(field: &mut actix_multipart::Field, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .try_next()
        .await
        .map_err(|e| bad_upload(e.to_string()))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError(Problem::of(
                ProblemType::PayloadTooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("files may have at most {limit} bytes"),
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Uploads a file (`multipart/form-data`: a `file` part and an optional `alt_text` part). The
/// type is read from the bytes (JPEG, PNG, GIF, WebP, MP4, QuickTime, WebM), never from the
/// client's content type; the answer says which platforms accept the file.
#[utoipa::path(post, path = "/v1/media", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = MediaDto),
        (status = 400, description = "- `malformed-upload`: not a multipart body, a part that cannot be read, an unexpected part"),
        (status = 413, description = "- `payload-too-large`: a file over `MULTIVIO_MAX_UPLOAD_BYTES`, an `alt_text` over 8 KiB"),
        (status = 415, description = "- `unsupported-file-type`: not a JPEG, PNG, GIF or WebP image, nor an MP4, QuickTime or WebM video"),
        (status = 422, description = "- `validation-failed`: no `file` part, an empty or unreadable file, an `alt_text` breaking its rules"),
        (status = 429, description = "- `too-many-requests`: 30 uploads a minute"),
        (status = 503, description = "- `busy`: too many file transfers at once")),
    security(("bearer" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    mut parts: Multipart,
) -> Result<HttpResponse, ApiError> {
    caller.limit(&state, Action::Upload)?;
    let _permit = media_permit(&state).await?;
    let limit = state.config.upload_limit.max(1);
    let mut file: Option<(Option<String>, Vec<u8>)> = None;
    let mut alt_text = None;
    while let Some(mut field) = parts
        .try_next()
        .await
        .map_err(|e| bad_upload(e.to_string()))?
    {
        match field.name().unwrap_or_default() {
            "file" if file.is_none() => {
                let name = field
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .map(str::to_owned);
                file = Some((name, read_part(&mut field, limit).await?));
            }
            "alt_text" if alt_text.is_none() => {
                let bytes = read_part(&mut field, MAX_ALT_TEXT_BYTES).await?;
                alt_text = Some(
                    String::from_utf8(bytes).map_err(|_| bad_upload("alt_text is not UTF-8"))?,
                );
            }
            other => return Err(bad_upload(format!("unexpected part `{other}`"))),
        }
    }
    let Some((original_filename, bytes)) = file else {
        return Err(invalid("file", "is required"));
    };
    let stored = state
        .services
        .media
        .upload(
            &caller.tenant,
            MediaUpload {
                bytes,
                original_filename,
                alt_text,
            },
        )
        .await?;
    Ok(json(StatusCode::CREATED, &MediaDto::from(&stored)))
}

/// The bytes of an uploaded file (the `cdn_url` of local storage). Keys are unguessable
/// (`<user>/<uuid>.<ext>`).
pub async fn serve_file(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let _permit = media_permit(&state).await?;
    let Some(store) = &state.media_store else {
        return Err(ApiError(Problem::not_found("no such file")));
    };
    let bytes = store.get(&key).await.map_err(|e| match e {
        MediaStoreError::NotFound => ApiError(Problem::not_found("no such file")),
        other => multivio_app::AppError::from(other).into(),
    })?;
    let mime = probe(&bytes).map_or("application/octet-stream", |p| p.mime);
    Ok(HttpResponse::Ok()
        .content_type(mime)
        .insert_header(("cache-control", "public, max-age=31536000, immutable"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(bytes))
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

/// Deletes the file, bytes too.
#[utoipa::path(delete, path = "/v1/media/{id}", tag = "media",
    params(("id" = Uuid, Path, description = "Media id")),
    responses((status = 204, description = "Deleted, bytes too"), (status = 404, description = "- `not-found`: no such file")),
    security(("bearer" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .media
        .delete(&caller.tenant, MediaId(*id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
