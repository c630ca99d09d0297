//! RFC 9457 problem details (`application/problem+json`), the shape of every error answer,
//! and [`ProblemType`], the one list of kinds of problem this API answers.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Where problem type URIs live: `<base>/<slug>`.
pub const PROBLEM_BASE: &str = "https://multivio.dev/problems";

macro_rules! problem_types {
    ($($(#[$doc:meta])* $variant:ident => $slug:literal, $title:literal;)*) => {
        /// Every kind of problem the API answers: its `type` slug and its `title`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProblemType {
            $($(#[$doc])* $variant,)*
            /// An error actix answered by itself, named after its status (`payload-too-large`).
            Status(StatusCode),
        }

        impl ProblemType {
            /// Every named type (for documentation and tests).
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant),*];

            /// The slug at the end of the type URI.
            pub fn slug(self) -> String {
                match self {
                    $(ProblemType::$variant => $slug.to_owned(),)*
                    ProblemType::Status(status) => status
                        .canonical_reason()
                        .unwrap_or("error")
                        .to_ascii_lowercase()
                        .replace([' ', '\''], "-"),
                }
            }

            /// The short, fixed summary.
            pub fn title(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $title,)*
                    ProblemType::Status(status) => status.canonical_reason().unwrap_or("Error"),
                }
            }
        }
    };
}

problem_types! {
    /// Nothing of that kind exists for the caller.
    NotFound => "not-found", "Not found";
    /// The caller may not do this.
    Forbidden => "forbidden", "Forbidden";
    /// The state changed or a unique value is taken.
    Conflict => "conflict", "Conflict";
    /// The post's status does not allow the action.
    IllegalTransition => "illegal-transition", "Not allowed in this state";
    /// Input that parsed but breaks a rule; `errors` lists `{field, reason}`.
    ValidationFailed => "validation-failed", "Invalid input";
    /// A body that is not JSON at all (syntax, truncation, encoding) — on every route.
    MalformedJson => "malformed-json", "Malformed JSON";
    /// A JSON body of the wrong shape (unknown or missing fields, wrong types).
    InvalidBody => "invalid-body", "Invalid request body";
    /// A multipart upload that could not be read.
    MalformedUpload => "malformed-upload", "Malformed upload";
    /// A query string that does not parse.
    InvalidQuery => "invalid-query", "Invalid query string";
    /// A path segment that does not parse (a bad id).
    InvalidPath => "invalid-path", "Invalid path parameter";
    /// A body in a content type the route does not take.
    UnsupportedMediaType => "unsupported-media-type", "Unsupported media type";
    /// An uploaded file of a type no platform takes.
    UnsupportedFileType => "unsupported-file-type", "Unsupported file type";
    /// A body over the route's limit.
    PayloadTooLarge => "payload-too-large", "Payload too large";
    /// A file that would take the account's media past its plan's storage; `used_bytes` and
    /// `allowed_bytes` say where it stands.
    StorageQuotaExceeded => "storage-quota-exceeded", "Storage quota exceeded";
    /// A body whose next bytes did not arrive in time.
    RequestTimeout => "request-timeout", "Request timeout";
    /// A byte range that names no byte of the file.
    RangeNotSatisfiable => "range-not-satisfiable", "Range not satisfiable";
    /// A method the resource does not serve.
    MethodNotAllowed => "method-not-allowed", "Method not allowed";
    /// A per-user rate limit of this API.
    TooManyRequests => "too-many-requests", "Too many requests";
    /// The monthly post quota is used up.
    QuotaExceeded => "quota-exceeded", "Monthly post quota exceeded";
    /// A platform's own rate limit.
    RateLimited => "rate-limited", "Too many requests";
    /// An `Idempotency-Key` header that is not 1–255 visible ASCII characters.
    InvalidIdempotencyKey => "invalid-idempotency-key", "Invalid Idempotency-Key";
    /// The same `Idempotency-Key` is still running.
    IdempotencyInProgress => "idempotency-in-progress", "Request in progress";
    /// The `Idempotency-Key` was used for another request.
    IdempotencyKeyReused => "idempotency-key-reused", "Idempotency-Key reused";
    /// The platform refused for a reason the user can act on.
    PlatformRejected => "platform-rejected", "The platform refused the request";
    /// A platform grant is dead: connect the account again.
    ReconnectRequired => "reconnect-required", "The platform account must be connected again";
    /// A platform's authorisation did not complete.
    AuthorizationFailed => "authorization-failed", "Authorization failed";
    /// A signed request (a webhook) whose signature is missing, wrong or expired.
    Unverified => "unverified", "Signature not accepted";
    /// The feature or platform is not configured in this deployment.
    NotConfigured => "not-configured", "Not configured in this deployment";
    /// No bearer token.
    MissingToken => "missing-token", "Authentication required";
    /// A bearer token that does not verify.
    InvalidToken => "invalid-token", "Invalid token";
    /// A token without the credentials the route needs (e.g. the metrics token).
    Unauthenticated => "unauthenticated", "Authentication required";
    /// Tokens cannot be checked right now (the identity provider's keys are unreachable).
    AuthUnavailable => "auth-unavailable", "Authentication unavailable";
    /// A verified identity the product cannot use (no usable subject or email).
    UnusableIdentity => "unusable-identity", "Unusable identity";
    /// Too many uploads of the account at once; retry when one has finished.
    Busy => "busy", "Busy";
    /// The process is not ready to serve (database unreachable or not migrated).
    NotReady => "not-ready", "Not ready";
    /// A dependency failed; retry shortly.
    Unavailable => "unavailable", "Temporarily unavailable";
    /// A bug on our side; the cause is in the logs under the request id.
    Internal => "internal", "Internal error";
}

/// A problem details document.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time, for a person.
    pub detail: String,
    /// Extension members (`errors`, `resets_at`…), flattened into the document.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of kind `kind` with the given status and detail.
    pub fn of(kind: ProblemType, status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{PROBLEM_BASE}/{}", kind.slug()),
            title: kind.title().to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            extensions: serde_json::Map::new(),
            retry_after: None,
        }
    }

    /// A 404: nothing of that kind exists (for this caller).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::of(ProblemType::NotFound, StatusCode::NOT_FOUND, detail)
    }

    /// Adds an extension member.
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        if let Ok(value) = serde_json::to_value(value) {
            self.extensions.insert(name.to_owned(), value);
        }
        self
    }

    /// Sets `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if let Some(seconds) = self.retry_after {
            response.insert_header((RETRY_AFTER, seconds.to_string()));
        }
        response.json(self)
    }
}

#[cfg(test)]
mod tests;
