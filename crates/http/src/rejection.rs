//! Requests refused before (or instead of) a handler, answered as `application/problem+json`:
//! body limits and the extractors' parsing errors (JSON, raw body, query, path), unknown routes
//! and methods, and any other error answer of the framework or its middleware.
//!
//! actix answers malformed input with plain-text bodies (and a bad path segment with 404); these
//! extractor configs, the `default_service` handlers and [`ProblemFallback`] make every such
//! answer a problem document with the right status, and never a 500. Mounting order:
//!
//! ```ignore
//! App::new()
//!     .app_data(rejection::json_config(1024 * 1024))
//!     .app_data(rejection::payload_config(1024 * 1024))
//!     .app_data(rejection::query_config())
//!     .app_data(rejection::path_config())
//!     .wrap(cors::cors(&origins))          // innermost: answers preflights
//!     .wrap(rejection::ProblemFallback)    // turns actix's plain-text errors into problem+json
//!     .wrap(metrics.middleware())          // counts everything, preflights and 404s included
//!     .wrap(observe::RequestTracing)       // outermost: every answer carries X-Request-Id
//!     .default_service(web::to(rejection::not_found))
//! ```

use std::fmt;
use std::future::{Ready, ready};

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{Error, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;
use serde_json::error::Category;

use crate::Problem;
use crate::problem::ProblemType;

const PROBLEM_JSON: &str = "application/problem+json";

/// JSON body extractor config: bodies over `limit_bytes` get 413, a non-JSON content type 415,
/// malformed JSON 400 "Malformed JSON" (with line and column), and JSON of the wrong shape
/// (unknown field, wrong type, missing field) 400 with serde's message, which names the field.
pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit_bytes)
        .error_handler(|err, _req| json_problem(err).into())
}

/// Raw body (`Bytes`/`String`) extractor config with a size cap. actix offers no error hook
/// here: mount [`ProblemFallback`] so its 413/400 answers become problem documents.
pub fn payload_config(limit_bytes: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit_bytes)
}

/// Query string extractor config: a value of the wrong type (`limit=abc`) is 400, not plain text.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| query_problem(&err).into())
}

/// Path extractor config: a segment that does not parse (a bad UUID) is 400 rather than actix's
/// plain-text 404, telling the client its request was malformed rather than the thing missing.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| path_problem(&err).into())
}

/// The `default_service` handler: 404 problem+json for paths no route matches.
pub async fn not_found() -> HttpResponse {
    Problem::not_found("no resource exists at this path").error_response()
}

/// The API's `default_service` handler: 405 problem+json with `Allow` when the path is one the
/// OpenAPI document lists for other methods, else 404 problem+json.
pub async fn unrouted(req: actix_web::HttpRequest) -> HttpResponse {
    let allowed = crate::contract::Contract::get().methods_for(req.path());
    if allowed.is_empty() || allowed.contains(req.method()) {
        return Problem::not_found("no resource exists at this path").error_response();
    }
    method_not_allowed_for(&req, &allowed)
}

/// 405 problem+json with `Allow`, for a request whose path the document lists only for
/// `allowed` methods.
pub(crate) fn method_not_allowed_for(
    req: &actix_web::HttpRequest,
    allowed: &[actix_web::http::Method],
) -> HttpResponse {
    let methods = allowed
        .iter()
        .map(actix_web::http::Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = Problem::of(
        ProblemType::MethodNotAllowed,
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "this resource does not support {}; it supports {methods}",
            req.method()
        ),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&methods) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// A resource's `default_service` handler: 405 problem+json for methods the resource does not
/// serve (`web::resource(..).default_service(web::to(method_not_allowed))`).
pub async fn method_not_allowed() -> HttpResponse {
    Problem::of(
        ProblemType::MethodNotAllowed,
        StatusCode::METHOD_NOT_ALLOWED,
        "this resource does not support the request's method",
    )
    .error_response()
}

fn json_problem(err: JsonPayloadError) -> Problem {
    match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => too_large(limit),
        JsonPayloadError::ContentType => unsupported_json_content_type(),
        JsonPayloadError::Deserialize(err) => serde_problem(&err),
        JsonPayloadError::Payload(err) => payload_problem(&err),
        // Serialize errors belong to responses and cannot reach an extractor; anything added to
        // this non-exhaustive enum later is still the client's body, hence 400 rather than 500.
        other => Problem::of(
            ProblemType::InvalidBody,
            StatusCode::BAD_REQUEST,
            other.to_string(),
        ),
    }
}

/// The problem of a JSON body that serde refused: the same on every route.
pub fn serde_problem(err: &serde_json::Error) -> Problem {
    match err.classify() {
        // serde's message names the field ("unknown field `user_id`, expected one of …",
        // "missing field `name`") and ends with its line and column.
        Category::Data => Problem::of(
            ProblemType::InvalidBody,
            StatusCode::BAD_REQUEST,
            err.to_string(),
        ),
        // Syntax errors include invalid UTF-8; EOF is a truncated document.
        Category::Syntax | Category::Eof | Category::Io => Problem::of(
            ProblemType::MalformedJson,
            StatusCode::BAD_REQUEST,
            format!(
                "malformed JSON at line {} column {}: {err}",
                err.line(),
                err.column()
            ),
        ),
    }
}

/// A JSON route's answer to a body of another content type.
pub fn unsupported_json_content_type() -> Problem {
    Problem::of(
        ProblemType::UnsupportedMediaType,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "the body must be JSON, sent with `Content-Type: application/json`",
    )
}

fn payload_problem(err: &PayloadError) -> Problem {
    match err {
        PayloadError::Overflow => Problem::of(
            ProblemType::PayloadTooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than allowed",
        ),
        other => Problem::of(
            ProblemType::InvalidBody,
            StatusCode::BAD_REQUEST,
            format!("the request body could not be read: {other}"),
        ),
    }
}

fn too_large(limit: usize) -> Problem {
    Problem::of(
        ProblemType::PayloadTooLarge,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

pub(crate) fn query_problem(err: &QueryPayloadError) -> Problem {
    let detail = match err {
        QueryPayloadError::Deserialize(inner) => format!("invalid query string: {inner}"),
        other => format!("invalid query string: {other}"),
    };
    Problem::of(ProblemType::InvalidQuery, StatusCode::BAD_REQUEST, detail)
}

fn path_problem(err: &PathError) -> Problem {
    let detail = match err {
        PathError::Deserialize(inner) => format!("invalid path parameter: {inner}"),
        other => format!("invalid path parameter: {other}"),
    };
    Problem::of(ProblemType::InvalidPath, StatusCode::BAD_REQUEST, detail)
}

/// Middleware turning error answers that are not problem documents yet into one: actix's own
/// (raw body too large, a resource's bare 405, CORS refusals, other crates' errors) keep their
/// status and headers but get an `application/problem+json` body.
///
/// Only responses built from an error, or with an empty body, are rewritten: a handler that
/// deliberately answers an error status with some other body is left alone. For 5xx the
/// detail is generic so that internal error text never reaches the client.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemFallback;

impl<S, B> Transform<S, ServiceRequest> for ProblemFallback
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ProblemFallbackService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ProblemFallbackService { service }))
    }
}

/// The service [`ProblemFallback`] wraps around the app.
pub struct ProblemFallbackService<S> {
    service: S,
}

impl<S> fmt::Debug for ProblemFallbackService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProblemFallbackService")
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for ProblemFallbackService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let fut = self.service.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(res) => {
                    let response = res.response();
                    let empty =
                        matches!(response.body().size(), BodySize::None | BodySize::Sized(0));
                    if needs_problem(response.status(), response.headers())
                        && (empty || response.error().is_some())
                    {
                        let detail = response.error().map(ToString::to_string);
                        let (req, response) = res.into_parts();
                        let problem = problem_response(&response, detail);
                        Ok(ServiceResponse::new(req, problem).map_into_right_body())
                    } else {
                        Ok(res.map_into_left_body())
                    }
                }
                Err(mut err) => {
                    // actix renders this error after us; rewrite the rendering when it happens.
                    let detail = err.to_string();
                    err.add_response_mapper(move |response| {
                        if needs_problem(response.status(), response.headers()) {
                            problem_response(&response, Some(detail.clone()))
                        } else {
                            response
                        }
                    });
                    Err(err)
                }
            }
        })
    }
}

/// An error status whose body is not a problem document.
fn needs_problem(status: StatusCode, headers: &header::HeaderMap) -> bool {
    (status.is_client_error() || status.is_server_error())
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| !ct.trim_start().starts_with(PROBLEM_JSON))
}

/// A problem document with `response`'s status and headers (minus its body's own headers).
fn problem_response<B>(response: &HttpResponse<B>, detail: Option<String>) -> HttpResponse {
    let status = response.status();
    // Named after the reason phrase ("Payload Too Large" → payload-too-large), as the named
    // types of the same statuses are.
    let kind = ProblemType::Status(status);
    let title = kind.title();
    let detail = match detail {
        Some(detail) if status.is_client_error() && !detail.is_empty() => detail,
        _ if status.is_server_error() => "the server could not answer this request".to_owned(),
        _ => format!("the request was refused: {}", title.to_ascii_lowercase()),
    };
    let mut problem = Problem::of(kind, status, detail).error_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    if !problem.headers().contains_key(header::CONTENT_TYPE) {
        problem
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    }
    problem
}

#[cfg(test)]
mod tests;
