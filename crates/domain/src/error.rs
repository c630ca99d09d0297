//! Validation errors shared by every value object.

use serde::{Deserialize, Serialize};

/// One invalid input: which field, and why, in words a person can act on.
///
/// The HTTP layer renders a list of these as the `errors` of a `problem+json` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The input field (snake_case, as on the wire; nested fields use dots, e.g. `platforms.0`).
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The one spelling of a path into a request body: its parts joined by dots, list elements by
/// their index — `platforms.0`, `platform_content.twitter.content`.
pub fn field_path(parts: &[&dyn std::fmt::Display]) -> String {
    parts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}
