//! Secrets (tokens, passwords) that must never be printed or serialised by accident.

use std::fmt;

/// A secret string: an access token, refresh token, app password, OAuth state or verifier.
///
/// `Debug` and `Display` print `[redacted]`, and the type deliberately implements neither
/// `Serialize` nor `Deserialize`: reading the value takes an explicit [`Secret::expose`].
///
/// Equality is a plain (not constant-time) comparison, meant for tests and bookkeeping; never use
/// it to check a secret a caller presents.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call it only where the value is sent or sealed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests;
