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
use multivio_ports::idempotency::Reservation;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::{AppState, Problem};

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
        return Err(ApiError(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request body",
            e.to_string(),
        ))
    })
}

/// The `Idempotency-Key` header, if any: 1–255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "use 1 to 255 visible ASCII characters",
        ))),
    }
}

/// Runs `work` at most once per `Idempotency-Key`: a repeat with the same key and the same
/// request answers the first answer and does nothing new; the same key with another request
/// is refused (422), and one still running answers 409.
pub(crate) async fn idempotent<F, Fut>(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    body: &[u8],
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = idempotency_key(req)? else {
        let (status, value) = work().await?;
        return Ok(json(status, &value));
    };
    let mut fingerprint = format!("{} {}\n", req.method(), req.path()).into_bytes();
    fingerprint.extend_from_slice(body);
    let hash: String = ring::digest::digest(&ring::digest::SHA256, &fingerprint)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let store = &state.idempotency;
    match store
        .reserve(&caller.tenant, &key, &hash)
        .await
        .map_err(multivio_app::AppError::from)?
    {
        Reservation::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok(HttpResponse::build(status)
                .insert_header(("idempotent-replayed", "true"))
                .json(body))
        }
        Reservation::InProgress => Err(ApiError(Problem::new(
            StatusCode::CONFLICT,
            "idempotency-in-progress",
            "Request in progress",
            "a request with this Idempotency-Key is still running",
        ))),
        Reservation::Mismatch => Err(ApiError(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for a different request",
        ))),
        Reservation::Reserved => match work().await {
            Ok((status, value)) => {
                if let Err(e) = store
                    .complete(&caller.tenant, &key, status.as_u16(), &value)
                    .await
                {
                    tracing::warn!(error = %e, "could not store an idempotent answer");
                }
                Ok(json(status, &value))
            }
            Err(error) => {
                // A refused request changed nothing: the same key may try again.
                if let Err(e) = store.release(&caller.tenant, &key).await {
                    tracing::warn!(error = %e, "could not release an idempotency key");
                }
                Err(error)
            }
        },
    }
}

/// Serialises a DTO for an idempotent answer.
pub(crate) fn value<T: Serialize>(dto: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(dto).map_err(|e| multivio_app::AppError::Unavailable(e.to_string()).into())
}
