//! Observability: request ids and access logs, and Prometheus request metrics.
//!
//! Each piece is independent, so the server binary and the tests can mount only what they need.
//! Both wrap the whole app, metrics inside request tracing (actix runs the *last* `wrap` first),
//! so that every answer — preflights, 404s and other refusals included — is counted, logged and
//! carries `X-Request-Id`:
//!
//! ```ignore
//! App::new()
//!     // … the rest of the app: routes, `crate::cors`, `crate::rejection` …
//!     .wrap(metrics.middleware())         // counts everything, preflights and 404s included
//!     .wrap(observe::RequestTracing)      // outermost: every answer carries X-Request-Id
//! ```
//!
//! CORS ([`crate::cors`]), per-user rate limits ([`crate::rate_limit`]) and the problem
//! documents of refused requests ([`crate::rejection`]) live in modules of their own.

mod metrics;
mod request_id;

pub use metrics::{DURATION_BUCKETS, Gauge, METRICS_CONTENT_TYPE, Metrics, MetricsMiddleware};
pub use request_id::{REQUEST_ID_HEADER, RequestId, RequestTracing};

/// Metric label for a request method: the standard ones as-is, anything else as `OTHER`, so a
/// client inventing methods cannot create new time series.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The route label of a finished request: its pattern (`/v1/posts/{id}`), or `unmatched` when no
/// route matched, so random URLs cannot blow up metric cardinality or leak into logs.
fn route_label(req: &actix_web::HttpRequest) -> String {
    req.match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned())
}

/// The route label of requests no route matched.
const UNMATCHED_ROUTE: &str = "unmatched";
