//! `/v1/connections`: connected accounts and the ways to connect one (OAuth or credentials).

use chrono::{DateTime, Utc};
use multivio_domain::connection::Connection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A connected platform account (never its tokens).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionDto {
    /// Id.
    pub id: Uuid,
    /// Platform.
    pub provider: String,
    /// The account's id on the platform.
    pub provider_account_id: String,
    /// Label.
    pub account_label: Option<String>,
    /// `personal`, `business` or `page`.
    pub account_type: String,
    /// The provider's primary account of the user.
    pub is_primary: bool,
    /// `active` or `needs_reauth`.
    pub status: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Platform-specific data.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

impl From<&Connection> for ConnectionDto {
    fn from(c: &Connection) -> Self {
        Self {
            id: c.id.0,
            provider: c.provider.as_str().to_owned(),
            provider_account_id: c.provider_account_id.as_str().to_owned(),
            account_label: c.account_label.as_ref().map(|l| l.as_str().to_owned()),
            account_type: c.account_type.as_str().to_owned(),
            is_primary: c.is_primary,
            status: c.status.as_str().to_owned(),
            expires_at: c.expires_at,
            metadata: c.metadata.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// New label of a connection (`null` clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    /// Label.
    #[schema(schema_with = super::rules::account_label)]
    pub account_label: Option<String>,
}

/// Start an OAuth authorisation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// Where to send the browser when the flow ends.
    #[serde(default)]
    #[schema(schema_with = super::rules::return_to)]
    pub return_to: Option<String>,
    /// The instance, for a federated platform (Mastodon): `https://mastodon.social`.
    #[serde(default)]
    #[schema(schema_with = super::rules::server_url)]
    pub server_url: Option<String>,
}

/// Where to send the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeResponse {
    /// The platform's authorisation page.
    pub authorization_url: String,
}

/// The OAuth callback's query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// Authorisation code.
    pub code: Option<String>,
    /// The state given at the start.
    pub state: Option<String>,
    /// Error reported by the platform.
    pub error: Option<String>,
}

/// What the callback hands over when no `return_to` was given.
#[derive(Serialize, ToSchema)]
pub struct CallbackResponse {
    /// Platform.
    pub provider: String,
    /// The authorisation code.
    pub code: String,
    /// The state.
    pub state: String,
    /// What to call with them, signed in.
    pub complete_with: String,
}

/// `code` and `state` from the callback.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The authorisation code.
    #[schema(schema_with = super::rules::token)]
    pub code: String,
    /// The state.
    pub state: String,
}

/// Credentials of a platform that connects without a redirect (Bluesky app password,
/// Mastodon…).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialConnectRequest {
    /// Handle, email or account id.
    #[schema(schema_with = super::rules::identifier)]
    pub identifier: String,
    /// App password or equivalent.
    #[schema(schema_with = super::rules::token)]
    pub password: String,
    /// Instance URL for federated platforms.
    #[serde(default)]
    #[schema(schema_with = super::rules::server_url)]
    pub server_url: Option<String>,
}

/// A list of connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// The connections.
    pub items: Vec<ConnectionDto>,
}

/// The OAuth 1.0a callback's query (X's redirect after the approval).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OAuth1CallbackQuery {
    /// The request token.
    pub oauth_token: Option<String>,
    /// The verifier of the approval.
    pub oauth_verifier: Option<String>,
    /// Set (to the token) when the user refused.
    pub denied: Option<String>,
}

/// Completing an OAuth 1.0a approval: what the callback handed over.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth1CompleteRequest {
    /// The request token.
    pub oauth_token: String,
    /// The verifier.
    #[schema(schema_with = super::rules::token)]
    pub oauth_verifier: String,
}

/// What the OAuth 1.0a callback hands over when no `return_to` was given.
#[derive(Serialize, ToSchema)]
pub struct OAuth1CallbackResponse {
    /// Platform.
    pub provider: String,
    /// The request token.
    pub oauth_token: String,
    /// The verifier.
    pub oauth_verifier: String,
    /// The call that completes the approval.
    pub complete_with: String,
}

redacted_debug!(CallbackQuery { error; code, state });
redacted_debug!(CallbackResponse { provider, complete_with; code, state });
redacted_debug!(CompleteRequest { ; code, state });
redacted_debug!(CredentialConnectRequest { identifier, server_url; password });
redacted_debug!(OAuth1CallbackQuery { ; oauth_token, oauth_verifier, denied });
redacted_debug!(OAuth1CompleteRequest { ; oauth_token, oauth_verifier });
redacted_debug!(OAuth1CallbackResponse { provider, complete_with; oauth_token, oauth_verifier });
