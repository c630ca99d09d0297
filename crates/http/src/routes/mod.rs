//! The `/v1` routes.

pub mod billing;
pub mod connections;
pub mod me;
pub mod media;
pub mod posts;
pub mod providers;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse};
use multivio_app::AppError;
use multivio_app::error::AppResult;
use multivio_app::idempotency::Answer;
use multivio_domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use multivio_domain::post::Post;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::caller::Caller;
use crate::dto::PostDto;
use crate::error::ApiError;
use crate::{AppState, Problem, ProblemType};

/// A JSON answer with a status.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

/// Parses a JSON body read as bytes (the idempotent routes hash the exact bytes), with the
/// same answers as the JSON extractor: 415 for another content type, 400 for bad JSON.
pub(crate) fn parse_json<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError(crate::rejection::unsupported_json_content_type()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError(crate::rejection::serde_problem(&e)))
}

/// The `Idempotency-Key` header, if any.
fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| IdempotencyKey::new(v).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError(Problem::of(
                ProblemType::InvalidIdempotencyKey,
                StatusCode::BAD_REQUEST,
                "use 1 to 255 visible ASCII characters",
            ))
        })
}

/// Runs a post-changing use case at most once per `Idempotency-Key` (the rules are the core's:
/// [`multivio_app::idempotency::IdempotencyService`]) and answers the post with `success`.
pub(crate) async fn idempotent<F, Fut>(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    body: &[u8],
    success: StatusCode,
    op: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Option<IdempotencyClaim>) -> Fut,
    Fut: std::future::Future<Output = AppResult<Post>>,
{
    let key = idempotency_key(req)?;
    let mut fingerprint = format!("{} {}\n", req.method(), req.path()).into_bytes();
    fingerprint.extend_from_slice(body);
    let outcome = state
        .services
        .idempotency
        .run(&caller.tenant, key.as_ref(), &fingerprint, op, |post| {
            Ok(Answer {
                status: success.as_u16(),
                body: serde_json::to_value(PostDto::from(post))
                    .map_err(|e| AppError::Unavailable(e.to_string()))?,
            })
        })
        .await?;
    let status = StatusCode::from_u16(outcome.answer.status).unwrap_or(success);
    let mut response = HttpResponse::build(status);
    if outcome.replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    Ok(response.json(outcome.answer.body))
}
