//! How to reach a user: the email address.
//!
//! A leaf of value objects that both [`crate::user`] (a user's address) and
//! [`crate::subscription`] (the address billing knows a customer by) use, so that neither has to
//! import the other for it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// An email address, trimmed and lower-cased (Firebase lower-cases addresses too, and
/// `users.email` is unique).
///
/// Checked for shape only (one `@`, a non-empty local part, a dotted domain, ≤ 255 characters);
/// whether it exists is the mail round-trip's job.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Longest address (`users.email` is `VARCHAR(255)`).
    pub const MAX_LEN: usize = 255;

    /// Validates and normalises an address.
    pub fn new(value: impl AsRef<str>) -> Result<Self, FieldError> {
        let value = value.as_ref().trim().to_lowercase();
        let invalid = || FieldError::new("email", "must be an email address");
        if value.is_empty() || value.chars().count() > Self::MAX_LEN {
            return Err(if value.is_empty() {
                FieldError::new("email", "must not be empty")
            } else {
                FieldError::new("email", "must be at most 255 characters")
            });
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || !domain_ok
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        Ok(Self(value))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether mail can be delivered to the address at all: not under `.invalid`, the
    /// top-level domain reserved never to exist (RFC 2606), where a user without an address
    /// gets a placeholder.
    pub fn can_receive_mail(&self) -> bool {
        !self.0.ends_with(".invalid")
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
