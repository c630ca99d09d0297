//! `Idempotency-Key`: a client's name for one logical request, so that repeating it (after a
//! timeout, a crash, a lost answer) does the work once.

use std::fmt;

use uuid::Uuid;

use crate::error::FieldError;

/// A client-chosen idempotency key: 1–255 visible ASCII characters (surrounding spaces are
/// trimmed), as the `Idempotency-Key` header may carry them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Longest key.
    pub const MAX_LEN: usize = 255;

    /// Validates a key.
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let key = value.trim();
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(FieldError::new(
                "Idempotency-Key",
                "use 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self(key.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reserved key, carried into the transaction of the request's effect: the effect commits
/// only while this attempt still holds the reservation, and records what it changed there, so a
/// repeat after a crash finds the effect instead of doing it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The key.
    pub key: IdempotencyKey,
    /// Which reservation of the key this is (a stale reservation taken over gets a new one).
    pub attempt: Uuid,
}

#[cfg(test)]
mod tests;
