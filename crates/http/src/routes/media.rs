//! `/v1/media`: uploaded files' metadata.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use multivio_domain::MediaId;
use uuid::Uuid;

use super::json;
use crate::AppState;
use crate::caller::Caller;
use crate::dto::{MediaDto, MediaPage, MediaPatch, PageQuery};
use crate::error::ApiError;

/// The caller's media, newest first.
#[utoipa::path(get, path = "/v1/media", tag = "media", params(PageQuery),
    responses((status = 200, body = MediaPage), (status = 422, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = state
        .services
        .media
        .list(&caller.tenant, q.limit.unwrap_or(20), q.cursor)
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
    responses((status = 200, body = MediaDto), (status = 404, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
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
    responses((status = 200, body = MediaDto), (status = 404, body = crate::dto::ProblemDoc),
        (status = 422, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<MediaPatch>,
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
    responses((status = 204), (status = 404, body = crate::dto::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .media
        .delete(&caller.tenant, MediaId(*id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
