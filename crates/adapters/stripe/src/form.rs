//! Stripe's request bodies: `application/x-www-form-urlencoded`, nested parameters written as
//! `line_items[0][price]` and `metadata[user_id]`.
//!
//! Pairs keep the order they are added in, so the same request always has the same bytes (its
//! idempotency key's fingerprint depends on them). Keys and values are percent-encoded as
//! forms are (space as `+`), except that a key's brackets stay as they are, as Stripe's own
//! libraries send them.

use std::fmt::Write as _;

/// A form body being built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// An empty form.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `key=value`.
    pub(crate) fn push(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pairs.push((key.into(), value.into()));
        self
    }

    /// The pairs, in order.
    #[cfg(test)]
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The encoded body.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, key, true);
            out.push('=');
            encode_into(&mut out, value, false);
        }
        out
    }
}

/// Form encoding (the `application/x-www-form-urlencoded` byte set): unreserved bytes as they
/// are, space as `+`, the rest as `%XX`; `[` and `]` kept in keys.
fn encode_into(out: &mut String, text: &str, key: bool) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b));
            }
            b'[' | b']' if key => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
