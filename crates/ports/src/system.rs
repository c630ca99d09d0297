//! Time, ids and randomness.

use chrono::{DateTime, Utc};
use multivio_domain::Secret;
use uuid::Uuid;

/// The current time.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// New ids for rows the core creates (posts, connections, jobs, media).
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh, random (v4) UUID.
    fn new_uuid(&self) -> Uuid;
}

/// Unguessable tokens: OAuth `state`, PKCE verifiers, email verification tokens.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenGenerator: Send + Sync {
    /// At least 128 random bits from a CSPRNG, URL-safe (e.g. base64url without padding, 43
    /// characters for 256 bits, which also makes a valid PKCE verifier).
    fn random_token(&self) -> Secret;
}
