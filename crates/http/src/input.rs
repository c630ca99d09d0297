//! The extractors every handler takes its input through: a JSON body, a query string, path
//! segments. Each parses into the handler's DTO type and then checks the raw input against the
//! schema the OpenAPI document publishes for the operation ([`crate::contract`]), so a request
//! the document refuses is refused, and the document cannot promise less than the server
//! takes.
//!
//! Answers: input that does not parse into the DTO (malformed JSON, wrong shape, unknown
//! fields, wrong types) is `400`, as before any rule is looked at; input that parses but breaks
//! a rule of the schema (length, pattern, enum, format, bounds, item count) is `422
//! validation-failed` with `errors: [{field, reason}]`; a path segment naming no such thing
//! (an unknown platform) is `404`.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use multivio_app::AppError;
use multivio_domain::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Problem;
use crate::contract::{Contract, Violation};
use crate::error::ApiError;
use crate::problem::ProblemType;

/// A JSON body, parsed as `T` and accepted by the operation's documented schema.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let bytes = bytes.await?;
            Ok(Body(parse_json(&req, &bytes)?))
        })
    }
}

/// An optional JSON body: none when the request has an empty body.
#[derive(Debug)]
pub struct OptionalBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalBody<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let bytes = bytes.await?;
            if bytes.is_empty() {
                return Ok(OptionalBody(None));
            }
            Ok(OptionalBody(parse_json::<Option<T>>(&req, &bytes)?))
        })
    }
}

/// Parses a JSON body read as bytes (the idempotent routes hash the exact bytes): 415 for
/// another content type, 400 for malformed JSON or a body that does not parse as `T`, 422 for
/// one the operation's schema refuses.
pub(crate) fn parse_json<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    if !is_json(req) {
        return Err(ApiError(crate::rejection::unsupported_json_content_type()));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError(crate::rejection::serde_problem(&e)))?;
    let parsed =
        T::deserialize(&value).map_err(|e| ApiError(crate::rejection::serde_problem(&e)))?;
    check_body(req, "application/json", &value)?;
    Ok(parsed)
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
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
        })
}

/// Checks a parsed body against the schema the operation documents for `content_type`.
pub(crate) fn check_body(
    req: &HttpRequest,
    content_type: &str,
    value: &Value,
) -> Result<(), ApiError> {
    let contract = Contract::get();
    let schema = operation(req)
        .and_then(|op| contract.body_schema(op, content_type))
        .ok_or_else(|| undocumented(req))?;
    invalid_if_any(contract.check(schema, value, ""))
}

/// A query string, parsed as `T` and accepted by the operation's documented parameters.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The query.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req).map(Query).map_err(Into::into))
    }
}

/// The query of a redirect a third party sends the browser to (the OAuth callbacks): parsed
/// and checked as [`Query`], except that parameters the operation does not document are
/// ignored, as OAuth requires of a client (RFC 6749 §4.1.2: Google adds `scope` and
/// `authuser`, TikTok `scopes`).
#[derive(Debug)]
pub struct RedirectQuery<T>(pub T);

impl<T> RedirectQuery<T> {
    /// The query.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for RedirectQuery<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            check_query(req, Unknown::Ignored)
                .map(RedirectQuery)
                .map_err(Into::into),
        )
    }
}

/// What a query parameter the operation does not document gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    Refused,
    Ignored,
}

fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    check_query(req, Unknown::Refused)
}

fn check_query<T: DeserializeOwned>(req: &HttpRequest, unknown: Unknown) -> Result<T, ApiError> {
    let parsed = web::Query::<T>::from_query(req.query_string())
        .map_err(|e| ApiError(crate::rejection::query_problem(&e)))?
        .into_inner();
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError(crate::rejection::query_problem(&e)))?
        .into_inner();
    let contract = Contract::get();
    let op = operation(req).ok_or_else(|| undocumented(req))?;
    let params = contract.parameters(op, "query");
    let mut violations = Vec::new();
    for (name, value) in &pairs {
        let Some((_, _, schema)) = params.iter().find(|(n, _, _)| n == name) else {
            if unknown == Unknown::Ignored {
                continue;
            }
            return Err(ApiError(Problem::of(
                ProblemType::InvalidQuery,
                StatusCode::BAD_REQUEST,
                format!("invalid query string: unknown parameter `{name}`"),
            )));
        };
        let typed = typed_parameter(contract, schema, value);
        violations.extend(contract.check(schema, &typed, name));
    }
    for (name, required, _) in &params {
        if *required && !pairs.iter().any(|(n, _)| n == name) {
            violations.push(Violation {
                field: (*name).to_owned(),
                reason: "is required".to_owned(),
            });
        }
    }
    invalid_if_any(violations)?;
    Ok(parsed)
}

/// A query or path value as the JSON value its schema describes: a number where the schema
/// takes an integer and the text is one, else the text.
fn typed_parameter(contract: &Contract, schema: &Value, text: &str) -> Value {
    if contract.allows_type(schema, "integer") {
        if let Ok(n) = text.parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(n) = text.parse::<u64>() {
            return Value::from(n);
        }
    }
    Value::String(text.to_owned())
}

/// Path segments, parsed as `T` and accepted by the operation's documented path parameters: a
/// segment of the wrong form (a bad id) is 400, one naming nothing that exists (an unknown
/// platform) is 404.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T> Path<T> {
    /// The segments.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Path<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Path<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_path(req).map(Path))
    }
}

fn parse_path<T: DeserializeOwned + 'static>(req: &HttpRequest) -> Result<T, actix_web::Error> {
    let contract = Contract::get();
    let op = operation(req).ok_or_else(|| undocumented(req))?;
    for (name, _, schema) in contract.parameters(op, "path") {
        let Some(segment) = req.match_info().get(name) else {
            return Err(undocumented(req).into());
        };
        let typed = typed_parameter(contract, schema, segment);
        if let Some(v) = contract.check(schema, &typed, name).into_iter().next() {
            // Another route's path (`PATCH /v1/posts/validate`): the method is what is wrong.
            let allowed = contract.methods_for(req.path());
            if !allowed.is_empty() && !allowed.contains(req.method()) {
                let response = crate::rejection::method_not_allowed_for(req, &allowed);
                return Err(actix_web::error::InternalError::from_response(
                    "method not allowed",
                    response,
                )
                .into());
            }
            return Err(ApiError(if contract.has_enum(schema) {
                Problem::not_found(format!("no such {name} `{segment}`"))
            } else {
                Problem::of(
                    ProblemType::InvalidPath,
                    StatusCode::BAD_REQUEST,
                    format!("invalid path parameter `{}`: {}", v.field, v.reason),
                )
            })
            .into());
        }
    }
    web::Path::<T>::extract(req)
        .into_inner()
        .map(web::Path::into_inner)
        .map_err(|e| {
            ApiError(Problem::of(
                ProblemType::InvalidPath,
                StatusCode::BAD_REQUEST,
                format!("invalid path parameter: {e}"),
            ))
            .into()
        })
}

/// The documented operation the request was routed to.
fn operation(req: &HttpRequest) -> Option<&'static Value> {
    let pattern = req.match_pattern()?;
    Contract::get().operation(req.method(), &pattern)
}

fn invalid_if_any(violations: Vec<Violation>) -> Result<(), ApiError> {
    if violations.is_empty() {
        return Ok(());
    }
    Err(AppError::Invalid(
        violations
            .into_iter()
            .map(|v| {
                let field = if v.field.is_empty() {
                    "body".to_owned()
                } else {
                    v.field
                };
                FieldError::new(field, v.reason)
            })
            .collect(),
    )
    .into())
}

/// A handler took input its operation does not document: a bug of this crate, answered as one
/// (the contract test keeps it unreachable).
fn undocumented(req: &HttpRequest) -> ApiError {
    tracing::error!(
        method = %req.method(),
        route = req.match_pattern().unwrap_or_default(),
        "the route's input is not documented in the OpenAPI document"
    );
    ApiError(Problem::of(
        ProblemType::Internal,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server could not check this request",
    ))
}
