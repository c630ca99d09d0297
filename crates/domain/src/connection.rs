//! Social connections: the platform accounts a user has connected, and their credentials.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{ConnectionId, UserId};
use crate::provider::Provider;
use crate::secret::Secret;
use crate::text;

pub mod primary;

/// The platform's id of the connected account (`provider_account_id`): non-empty, ≤ 255
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderAccountId(String);

impl ProviderAccountId {
    /// Validates an account id.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        text::bounded("provider_account_id", value.as_ref(), 1, 255, false).map(Self)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderAccountId {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ProviderAccountId> for String {
    fn from(value: ProviderAccountId) -> Self {
        value.0
    }
}

impl fmt::Display for ProviderAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user-friendly name for a connection (`account_label`): trimmed, 1–255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountLabel(String);

impl AccountLabel {
    /// Validates a label.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        text::bounded("account_label", value.as_ref(), 1, 255, false).map(Self)
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountLabel {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<AccountLabel> for String {
    fn from(value: AccountLabel) -> Self {
        value.0
    }
}

/// The kind of account (`account_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// A person's own account (the seed's default).
    #[default]
    Personal,
    /// A business or creator account.
    Business,
    /// A page (Facebook) or organization (LinkedIn).
    Page,
}

impl AccountType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Business => "business",
            Self::Page => "page",
        }
    }
}

impl FromStr for AccountType {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "personal" => Ok(Self::Personal),
            "business" => Ok(Self::Business),
            "page" => Ok(Self::Page),
            other => Err(FieldError::new(
                "account_type",
                format!("unknown account type `{other}`"),
            )),
        }
    }
}

/// Whether a connection can be used to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Usable.
    #[default]
    Active,
    /// The platform rejected its credentials (revoked, `invalid_grant`): the user must connect
    /// it again; its jobs fail without calling the platform.
    NeedsReauth,
}

impl ConnectionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
        }
    }
}

impl FromStr for ConnectionStatus {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "active" => Ok(Self::Active),
            "needs_reauth" => Ok(Self::NeedsReauth),
            other => Err(FieldError::new(
                "status",
                format!("unknown connection status `{other}`"),
            )),
        }
    }
}

/// A connected platform account (`social_connections` row without its credentials, which are
/// loaded separately and only where needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Row id.
    pub id: ConnectionId,
    /// Owner.
    pub user_id: UserId,
    /// Platform.
    pub provider: Provider,
    /// The account's id on the platform (unique per user and provider).
    pub provider_account_id: ProviderAccountId,
    /// Friendly name.
    pub account_label: Option<AccountLabel>,
    /// Kind of account.
    pub account_type: AccountType,
    /// Whether this is the user's primary account for the provider (exactly one per user and
    /// provider while any exists).
    pub is_primary: bool,
    /// Usable or needing a new sign-in.
    pub status: ConnectionStatus,
    /// Platform-specific data (a JSON object: page id, instance URL, screen name, …).
    pub metadata: serde_json::Value,
    /// When the access token expires, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the account was connected (decides which one is promoted to primary).
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
}

impl Connection {
    /// A metadata string field, if present.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(serde_json::Value::as_str)
    }

    /// A metadata boolean field, if present.
    pub fn metadata_bool(&self, key: &str) -> Option<bool> {
        self.metadata.get(key).and_then(serde_json::Value::as_bool)
    }

    /// A metadata unsigned integer field, if present.
    pub fn metadata_u64(&self, key: &str) -> Option<u64> {
        self.metadata.get(key).and_then(serde_json::Value::as_u64)
    }
}

/// OAuth 1.0a user credentials (X media upload; the seed's `oauth1_*` columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth1Credentials {
    /// `oauth1_access_token`.
    pub token: Secret,
    /// `oauth1_access_token_secret`.
    pub token_secret: Secret,
    /// `oauth1_user_id`.
    pub user_id: Option<String>,
    /// `oauth1_screen_name`.
    pub screen_name: Option<String>,
    /// `oauth1_created_at`.
    pub created_at: Option<DateTime<Utc>>,
}

/// A connection's credentials, in the clear (sealed at rest by the token vault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access token (or Bluesky access JWT).
    pub access_token: Secret,
    /// Refresh token (or Bluesky refresh JWT), when the platform issues one.
    pub refresh_token: Option<Secret>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// OAuth 1.0a credentials, for X.
    pub oauth1: Option<OAuth1Credentials>,
}

impl Credentials {
    /// How long before expiry a token is refreshed.
    pub const REFRESH_MARGIN_SECS: i64 = 5 * 60;

    /// Whether the access token has expired or expires within `margin` of `now`.
    pub fn expires_within(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        self.expires_at.is_some_and(|at| at - margin <= now)
    }

    /// Whether the access token should be refreshed before use: it expires within
    /// [`Self::REFRESH_MARGIN_SECS`] and a refresh token exists.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token.is_some()
            && self.expires_within(now, Duration::seconds(Self::REFRESH_MARGIN_SECS))
    }

    /// The credentials after a refresh: the new access token and expiry, the new refresh token
    /// or, when the platform returned none, the old one; OAuth 1.0a credentials are untouched.
    pub fn refreshed(&self, grant: TokenGrant) -> Credentials {
        Credentials {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token.or_else(|| self.refresh_token.clone()),
            expires_at: grant.expires_at,
            oauth1: self.oauth1.clone(),
        }
    }
}

/// Tokens a platform's token endpoint returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// New access token.
    pub access_token: Secret,
    /// New refresh token, if one was returned.
    pub refresh_token: Option<Secret>,
    /// Expiry of the access token.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who a platform says the authorised account is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    /// The account's platform id.
    pub provider_account_id: ProviderAccountId,
    /// Display name / handle to use as the default label.
    pub label: Option<AccountLabel>,
    /// Kind of account.
    pub account_type: AccountType,
    /// Platform-specific data to keep (never tokens).
    pub metadata: serde_json::Value,
}

/// One account an authorisation grants, with its own credentials (a Facebook login can grant
/// several pages, each with its own page token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedAccount {
    /// Who it is.
    pub profile: AccountProfile,
    /// Its credentials.
    pub credentials: Credentials,
}

#[cfg(test)]
mod tests;
