//! Use-case errors → problem+json, in one place. Internal causes are logged (with the request
//! id of the surrounding span), never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use multivio_app::AppError;

use crate::Problem;
use crate::problem::ProblemType;

/// An error answer of a handler.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError(p)
    }
}

impl From<crate::rate_limit::RateLimited> for ApiError {
    fn from(limited: crate::rate_limit::RateLimited) -> Self {
        ApiError(
            limited
                .problem()
                .clone()
                .retry_after(limited.retry_after_secs()),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(problem_of(e))
    }
}

/// A 422 for one invalid field (the handlers' own checks).
pub fn invalid(field: &str, reason: &str) -> ApiError {
    AppError::invalid(field, reason).into()
}

fn problem_of(e: AppError) -> Problem {
    use StatusCode as S;
    match e {
        AppError::NotFound(what) => Problem::not_found(format!("{what} not found")),
        AppError::Forbidden(why) => Problem::of(ProblemType::Forbidden, S::FORBIDDEN, why),
        AppError::Conflict(why) => Problem::of(ProblemType::Conflict, S::CONFLICT, why),
        AppError::QuotaExceeded {
            monthly_post_quota,
            resets_at,
        } => {
            let mut p = Problem::of(
                ProblemType::QuotaExceeded,
                S::TOO_MANY_REQUESTS,
                match resets_at {
                    Some(at) => format!(
                        "no posts left this month; the quota resets at {}",
                        at.to_rfc3339()
                    ),
                    None => "no posts left this month".to_owned(),
                },
            )
            .with("monthly_post_quota", monthly_post_quota)
            .with("resets_at", resets_at);
            if let Some(at) = resets_at {
                let secs = (at - chrono::Utc::now()).num_seconds().max(1);
                p = p.retry_after(u64::try_from(secs).unwrap_or(1));
            }
            p
        }
        AppError::Invalid(errors) => {
            let detail = match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.reason),
                many => format!("{} fields are invalid", many.len()),
            };
            Problem::of(
                ProblemType::ValidationFailed,
                S::UNPROCESSABLE_ENTITY,
                detail,
            )
            .with(
                "errors",
                errors
                    .iter()
                    .map(|e| serde_json::json!({ "field": e.field, "reason": e.reason }))
                    .collect::<Vec<_>>(),
            )
        }
        AppError::IllegalTransition(t) => {
            Problem::of(ProblemType::IllegalTransition, S::CONFLICT, t.to_string())
        }
        AppError::PlatformRejected {
            provider,
            code,
            reason,
        } => Problem::of(
            ProblemType::PlatformRejected,
            S::UNPROCESSABLE_ENTITY,
            format!("{}: {reason}", provider.display_name()),
        )
        .with("provider", provider.as_str())
        .with("code", code),
        AppError::Unauthorized(reason) => {
            Problem::of(ProblemType::ReconnectRequired, S::CONFLICT, reason)
        }
        AppError::RateLimited { retry_after } => {
            let secs = retry_after.map(|d| d.num_seconds().max(1)).unwrap_or(60);
            Problem::of(
                ProblemType::RateLimited,
                S::TOO_MANY_REQUESTS,
                "try again later",
            )
            .retry_after(u64::try_from(secs).unwrap_or(60))
        }
        AppError::Unverified(why) => Problem::of(ProblemType::Unverified, S::BAD_REQUEST, why),
        AppError::NotConfigured(what) => {
            Problem::of(ProblemType::NotConfigured, S::NOT_IMPLEMENTED, what)
        }
        AppError::UnsupportedFileType => Problem::of(
            ProblemType::UnsupportedFileType,
            S::UNSUPPORTED_MEDIA_TYPE,
            "upload a JPEG, PNG, GIF or WebP image, or an MP4, QuickTime or WebM video",
        ),
        AppError::IdempotencyInProgress => Problem::of(
            ProblemType::IdempotencyInProgress,
            S::CONFLICT,
            "a request with this Idempotency-Key is still running",
        ),
        AppError::IdempotencyKeyReused => Problem::of(
            ProblemType::IdempotencyKeyReused,
            S::UNPROCESSABLE_ENTITY,
            "this Idempotency-Key was used for a different request",
        ),
        AppError::LeaseLost | AppError::Unavailable(_) => {
            tracing::error!(error = %e, "request failed");
            Problem::of(
                ProblemType::Unavailable,
                S::SERVICE_UNAVAILABLE,
                "the service could not complete the request; try again shortly",
            )
            .retry_after(5)
        }
    }
}
