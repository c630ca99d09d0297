//! `/v1/providers`: the supported platforms.

use serde::Serialize;
use utoipa::ToSchema;

/// A supported platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDto {
    /// Name used everywhere in the API (`twitter` for X).
    pub provider: String,
    /// Name for people.
    pub display_name: String,
    /// Whether this deployment can connect and publish to it.
    pub configured: bool,
    /// How accounts connect: `oauth`, `credentials`, or null when not configured.
    pub connect_with: Option<String>,
    /// Text and media limits, counted as the platform counts.
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
}
