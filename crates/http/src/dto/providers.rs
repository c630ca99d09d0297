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
    /// Whether this (local) deployment points the platform at the sandbox's fake instead of
    /// the real platform: nothing leaves the machine.
    pub sandbox: bool,
    /// With the sandbox: the server URL to connect with (Mastodon's instance, Bluesky's
    /// server).
    pub sandbox_server_url: Option<String>,
    /// Text and media limits, counted as the platform counts.
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
}
