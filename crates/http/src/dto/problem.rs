//! The schema of error answers, documented once for every route: the problem document
//! [`crate::Problem`] writes.

use serde::Serialize;
use utoipa::ToSchema;

/// The problem details of an error answer (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened.
    pub detail: String,
    /// For validation errors: one entry per field.
    pub errors: Option<Vec<FieldErrorDoc>>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}
