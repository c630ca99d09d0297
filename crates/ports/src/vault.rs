//! Sealing secrets at rest.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multivio_domain::{ConnectionId, Secret};

/// A sealed (encrypted and authenticated) secret, as stored in a column. Opaque to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedToken(pub String);

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The ciphertext does not open with these associated data (tampered, copied from another
    /// row or column, or sealed with an unknown key id).
    #[error("sealed value does not open")]
    Corrupt,
    /// The vault failed (key unavailable…).
    #[error("vault unavailable: {0}")]
    Unavailable(String),
}

/// Seals secrets bound to where they are stored.
///
/// `associated_data` binds a ciphertext to its row and column (see [`credential_aad`]), so a
/// ciphertext copied elsewhere fails to open. Old key ids keep opening after rotation; new seals
/// use the primary key.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TokenVault: Send + Sync {
    /// Encrypts and authenticates `plaintext`.
    async fn seal(
        &self,
        plaintext: &Secret,
        associated_data: &str,
    ) -> Result<SealedToken, VaultError>;
    /// Checks and decrypts `sealed`.
    async fn open(&self, sealed: &SealedToken, associated_data: &str)
    -> Result<Secret, VaultError>;
}

/// The associated data for a credential column of a connection:
/// `social_connections:<connection id>:<column>`.
pub fn credential_aad(connection_id: ConnectionId, column: &str) -> String {
    format!("social_connections:{connection_id}:{column}")
}

/// OAuth 1.0a credentials, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedOAuth1 {
    /// `oauth1_access_token`.
    pub token: SealedToken,
    /// `oauth1_access_token_secret`.
    pub token_secret: SealedToken,
    /// `oauth1_user_id` (not secret).
    pub user_id: Option<String>,
    /// `oauth1_screen_name` (not secret).
    pub screen_name: Option<String>,
    /// `oauth1_created_at`.
    pub created_at: Option<DateTime<Utc>>,
}

/// A connection's credentials as stored: each secret sealed with [`credential_aad`] of its
/// connection and column (`access_token`, `refresh_token`, `oauth1_access_token`,
/// `oauth1_access_token_secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    /// `access_token`.
    pub access_token: SealedToken,
    /// `refresh_token`.
    pub refresh_token: Option<SealedToken>,
    /// `expires_at` (not secret).
    pub expires_at: Option<DateTime<Utc>>,
    /// OAuth 1.0a columns.
    pub oauth1: Option<SealedOAuth1>,
}
