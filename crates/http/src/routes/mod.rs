//! The `/v1` routes, and `/media/{key}` (the bytes of uploaded files).

pub mod billing;
pub mod connections;
pub mod files;
pub mod me;
pub mod media;
pub mod posts;
pub mod providers;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use multivio_app::AppError;
use multivio_app::error::AppResult;
use multivio_app::idempotency::Answer;
use multivio_domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use multivio_domain::post::Post;
use serde::Serialize;

use crate::caller::Caller;
use crate::dto::PostDto;
use crate::error::ApiError;
use crate::{AppState, Problem, ProblemType};

/// A JSON answer with a status.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

pub(crate) use crate::input::parse_json;

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
