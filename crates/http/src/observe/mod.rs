//! Cross-cutting HTTP concerns: request ids and access logs, Prometheus metrics, CORS, body
//! limits with problem+json errors, and per-user rate limits.
//!
//! Each piece is independent, so the server binary and the tests can mount only what they need.
//! The intended order on an `App` (actix runs the *last* `wrap` first):
//!
//! ```ignore
//! App::new()
//!     .app_data(observe::json_config(1024 * 1024))
//!     .app_data(observe::payload_config(1024 * 1024))
//!     .app_data(observe::query_config())
//!     .app_data(observe::path_config())
//!     .wrap(observe::cors(&origins))      // innermost: answers preflights
//!     .wrap(observe::ProblemFallback)     // turns actix's plain-text errors into problem+json
//!     .wrap(metrics.middleware())         // counts everything, preflights and 404s included
//!     .wrap(observe::RequestTracing)      // outermost: every answer carries X-Request-Id
//!     .default_service(web::to(observe::not_found))
//! ```

mod cors;
mod errors;
mod metrics;
mod rate_limit;
mod request_id;

pub use cors::{cors, parse_origins};
pub use errors::{
    ProblemFallback, json_config, method_not_allowed, not_found, path_config, payload_config,
    query_config, serde_problem, unsupported_json_content_type,
};
pub use metrics::{DURATION_BUCKETS, Gauge, Metrics, MetricsMiddleware};
pub use rate_limit::{Action, Quota, RateLimited, RateLimits};
pub use request_id::{REQUEST_ID_HEADER, RequestId, RequestTracing};

/// A configuration value this module refuses (at startup, never by panicking).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `*` in `MULTIVIO_CORS_ORIGINS`: refused so that only the deployment's own web clients can
    /// call the API from a browser; a typo'd wildcard must not silently open it to every site.
    #[error(
        "MULTIVIO_CORS_ORIGINS: `*` is not accepted; list each web client origin instead, \
         e.g. `https://app.example.com,https://staging.example.com`"
    )]
    WildcardOrigin,
    /// An entry of `MULTIVIO_CORS_ORIGINS` that is not `http(s)://host[:port]`.
    #[error(
        "MULTIVIO_CORS_ORIGINS: `{origin}` is not an origin: {reason} \
         (expected `http(s)://host[:port]`, e.g. `https://app.example.com`)"
    )]
    InvalidOrigin {
        /// The entry as given.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A rate limit of zero requests per period, which would lock the action out entirely.
    #[error("rate limit for `{action}` must allow at least one request per minute")]
    ZeroRateLimit {
        /// The action's name.
        action: &'static str,
    },
}

/// A boxed, non-`Send` future, as actix middleware returns (actix services run on one thread).
type LocalBoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T>>>;

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
