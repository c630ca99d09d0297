//! The schema of error answers, documented once for every route: the problem document
//! [`crate::Problem`] writes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document (`application/problem+json`): every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// `https://multivio.dev/problems/<slug>`: the kind of problem (the slugs are listed in
    /// docs/api.md).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened this time, for a person.
    pub detail: String,
    /// `validation-failed`: one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorDoc>>,
    /// `quota-exceeded`: the plan's posts per month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_post_quota: Option<u32>,
    /// `quota-exceeded`: when the quota resets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<DateTime<Utc>>,
    /// `platform-rejected`: the platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `platform-rejected`: the platform's reason, as a code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    /// The field: its path in the body (`platforms.0`, `thread.1.text`), or a parameter's name.
    pub field: String,
    /// Why it is refused.
    pub reason: String,
}
