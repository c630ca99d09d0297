//! Request ids, the per-request tracing span and the access log.
//!
//! This is a small middleware of our own rather than `tracing-actix-web`'s `TracingLogger`:
//! that one always generates a fresh UUID (it cannot keep a caller's `X-Request-Id`, so a request
//! would carry two different ids) and, by default, logs the `Debug` form of error responses,
//! which for JSON errors can quote parts of the request body.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use tracing::Instrument as _;

use super::{UNMATCHED_ROUTE, method_label, route_label};

/// The request and response header carrying the request id (lower case, as HTTP/2 sends it).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest caller-provided request id kept; longer ones are replaced (they would bloat every log
/// line and could be used to smuggle data into logs).
const MAX_LEN: usize = 128;

/// The id of one request: the caller's `X-Request-Id` when it is sane, else a fresh UUIDv4.
///
/// As an extractor it never fails: without [`RequestTracing`] mounted it hands out a fresh id,
/// so a handler asking for it keeps working in tests that mount only the handler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh random id (UUIDv4, hyphenated).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string().into())
    }

    /// The given id if it is 1 to 128 characters of `[A-Za-z0-9._-]`, else `None`.
    ///
    /// The character set keeps ids safe to echo in a header and to print in logs unquoted.
    pub fn parse(candidate: &str) -> Option<Self> {
        let sane = !candidate.is_empty()
            && candidate.len() <= MAX_LEN
            && candidate
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        sane.then(|| Self(candidate.into()))
    }

    /// The id a request was given by [`RequestTracing`], if it went through it.
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.extensions().get::<Self>().cloned()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The caller's header value when sane, else a fresh id.
    fn from_header(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(Self::generate)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(req).unwrap_or_else(Self::generate)))
    }
}

/// Middleware giving every request an id ([`RequestId`]), a tracing span `http_request` with a
/// `request_id` field (so every log line emitted while handling it carries the id), an
/// `X-Request-Id` response header (error responses included) and one access-log line.
///
/// The access log line has `method`, `route` (the matched pattern such as `/v1/posts/{id}`, or
/// `unmatched`), `status`, `latency_ms` and `request_id`; never the raw path or query string
/// (OAuth callbacks carry codes there), headers or bodies. Mount it outermost.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestTracing;

impl<S, B> Transform<S, ServiceRequest> for RequestTracing
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestTracingService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestTracingService { service }))
    }
}

/// The service [`RequestTracing`] wraps around the app.
pub struct RequestTracingService<S> {
    service: S,
}

impl<S> fmt::Debug for RequestTracingService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestTracingService")
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for RequestTracingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
        req.extensions_mut().insert(id.clone());
        let method = method_label(req.method());
        let span = tracing::info_span!("http_request", request_id = %id);
        // The synchronous part of the inner services runs now, so it must be inside the span too.
        let fut = span.in_scope(|| self.service.call(req));
        // Always valid: the id is either a UUID or passed the character check.
        let header = HeaderValue::from_str(id.as_str()).ok();

        Box::pin(
            async move {
                match fut.await {
                    Ok(mut res) => {
                        if let Some(value) = header {
                            res.headers_mut()
                                .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
                        }
                        let route = route_label(res.request());
                        log_request(method, &route, res.status().as_u16(), started, &id);
                        Ok(res)
                    }
                    Err(mut err) => {
                        // An inner middleware failed; actix turns the error into the response
                        // later, so the header is added through a response mapper. The request
                        // went with the error, hence no route pattern.
                        let status = err.as_response_error().status_code().as_u16();
                        if let Some(value) = header {
                            err.add_response_mapper(move |mut res| {
                                res.headers_mut().insert(
                                    HeaderName::from_static(REQUEST_ID_HEADER),
                                    value.clone(),
                                );
                                res
                            });
                        }
                        log_request(method, UNMATCHED_ROUTE, status, started, &id);
                        Err(err)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// The access-log line: info for answered requests, warn for server errors so they stand out.
fn log_request(method: &str, route: &str, status: u16, started: Instant, id: &RequestId) {
    // Microsecond resolution is plenty; whole milliseconds would hide fast routes entirely.
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let request_id = id.as_str();
    if status >= 500 {
        tracing::warn!(method, route, status, latency_ms, request_id, "request");
    } else {
        tracing::info!(method, route, status, latency_ms, request_id, "request");
    }
}

#[cfg(test)]
mod tests;
