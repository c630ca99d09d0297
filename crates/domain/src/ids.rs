//! Identifiers of Multivio's entities, and the [`Tenant`] every scoped operation runs for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;

/// The id of a user (`users.id`, a `SERIAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i32);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

uuid_id!(
    /// The id of a social connection (`social_connections.id`).
    ConnectionId
);
uuid_id!(
    /// The id of a post (`posts.id`).
    PostId
);
uuid_id!(
    /// The id of an uploaded media file (`media_files.id`).
    MediaId
);
uuid_id!(
    /// The id of a durable publishing job.
    JobId
);

/// The Firebase user id (the `sub` claim of a verified ID token; `users.firebase_uid`).
///
/// Non-empty after trimming and at most 128 characters, as Firebase guarantees.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FirebaseUid(String);

impl FirebaseUid {
    /// Longest uid Firebase issues.
    pub const MAX_LEN: usize = 128;

    /// Validates a uid.
    pub fn new(value: impl Into<String>) -> Result<Self, FieldError> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err(FieldError::new("firebase_uid", "must not be empty"));
        }
        if value.chars().count() > Self::MAX_LEN {
            return Err(FieldError::new(
                "firebase_uid",
                "must be at most 128 characters",
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(FieldError::new(
                "firebase_uid",
                "must not contain control characters",
            ));
        }
        Ok(Self(value))
    }

    /// The uid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FirebaseUid {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<FirebaseUid> for String {
    fn from(value: FirebaseUid) -> Self {
        value.0
    }
}

impl fmt::Display for FirebaseUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whom a tenant-scoped operation runs for.
///
/// Passed to every tenant-scoped port method: the PostgreSQL adapter names `user_id` in its
/// `WHERE` clauses and sets the row-level-security claim from `firebase_uid`, so a row of another
/// tenant is invisible twice over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    /// The user's row id.
    pub user_id: UserId,
    /// The user's Firebase uid (the RLS claim).
    pub firebase_uid: FirebaseUid,
}

impl Tenant {
    /// A tenant from its two keys.
    pub fn new(user_id: UserId, firebase_uid: FirebaseUid) -> Self {
        Self {
            user_id,
            firebase_uid,
        }
    }

    /// Whether a row owned by `owner` belongs to this tenant.
    pub fn owns(&self, owner: UserId) -> bool {
        self.user_id == owner
    }
}

#[cfg(test)]
mod tests;
