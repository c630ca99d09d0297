//! The [`Authenticated`] extractor: `Authorization: Bearer <Firebase ID token>` → the caller.

use std::future::{Future, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::{AuthError, FirebaseVerifier, VerifiedToken};
use crate::Problem;
use crate::problem::ProblemType;

/// The verified caller of a request: extract it in a handler to require a valid Firebase ID
/// token.
///
/// It reads `Authorization: Bearer <token>` and verifies the token with the
/// [`FirebaseVerifier`] registered as `web::Data<FirebaseVerifier>` (or as plain app data). On
/// failure the request is answered with an [`AuthRejection`]: 401 `application/problem+json`
/// with `WWW-Authenticate: Bearer …`, or 503 when Google's certificates are unavailable.
/// A token already verified earlier in the same request (say, by a guard that extracted it) is
/// not verified again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub VerifiedToken);

impl Authenticated {
    /// The caller's Firebase uid.
    pub fn uid(&self) -> &str {
        &self.0.uid
    }

    /// The verified token.
    pub fn into_inner(self) -> VerifiedToken {
        self.0
    }
}

impl std::ops::Deref for Authenticated {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

impl FromRequest for Authenticated {
    type Error = AuthRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthRejection>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(token) = req.extensions().get::<VerifiedToken>() {
            return Box::pin(ready(Ok(Self(token.clone()))));
        }
        let verifier = req
            .app_data::<web::Data<FirebaseVerifier>>()
            .map(|data| data.get_ref().clone())
            .or_else(|| req.app_data::<FirebaseVerifier>().cloned());
        let Some(verifier) = verifier else {
            tracing::error!("no FirebaseVerifier is registered; refusing the request");
            return Box::pin(ready(Err(AuthRejection::not_configured())));
        };
        let token = match bearer_token(req) {
            Ok(token) => token,
            Err(error) => return Box::pin(ready(Err(AuthRejection::from(error)))),
        };
        let req = req.clone();
        Box::pin(async move {
            match verifier.verify(&token).await {
                Ok(verified) => {
                    req.extensions_mut().insert(verified.clone());
                    Ok(Self(verified))
                }
                Err(error) => {
                    tracing::debug!(reason = error.code(), "bearer token refused");
                    Err(AuthRejection::from(error))
                }
            }
        })
    }
}

/// The token of `Authorization: Bearer <token>`. A missing header, another scheme or an empty
/// token is [`AuthError::MissingToken`]; several `Authorization` headers or one that is not
/// visible ASCII are [`AuthError::Malformed`].
fn bearer_token(req: &HttpRequest) -> Result<String, AuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next().ok_or(AuthError::MissingToken)?;
    if values.next().is_some() {
        return Err(AuthError::Malformed);
    }
    let value = value.to_str().map_err(|_| AuthError::Malformed)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token.to_owned())
}

/// Why [`Authenticated`] refused a request: a problem+json answer, with a `WWW-Authenticate`
/// challenge when it is a 401.
#[derive(Debug)]
pub struct AuthRejection {
    problem: Problem,
    challenge: Option<&'static str>,
    error: Option<AuthError>,
}

impl AuthRejection {
    fn not_configured() -> Self {
        Self {
            problem: Problem::of(
                ProblemType::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
                "authentication is not configured on this server",
            ),
            challenge: None,
            error: None,
        }
    }

    /// The problem document answered.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The token failure, if it was one (not a server misconfiguration).
    pub fn error(&self) -> Option<&AuthError> {
        self.error.as_ref()
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        let (problem, challenge) = match &error {
            AuthError::MissingToken => (
                Problem::of(
                    ProblemType::MissingToken,
                    StatusCode::UNAUTHORIZED,
                    "send a Firebase ID token as `Authorization: Bearer <token>`",
                ),
                Some(r#"Bearer realm="multivio""#),
            ),
            AuthError::CertificatesUnavailable => (
                Problem::of(
                    ProblemType::AuthUnavailable,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the token signing certificates could not be loaded; try again shortly",
                ),
                None,
            ),
            other => (
                Problem::of(
                    ProblemType::InvalidToken,
                    StatusCode::UNAUTHORIZED,
                    other.to_string(),
                ),
                Some(r#"Bearer realm="multivio", error="invalid_token""#),
            ),
        };
        Self {
            problem,
            challenge,
            error: Some(error),
        }
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problem.fmt(f)
    }
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        self.problem.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.problem.error_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests;
