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
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nested_keys_keep_their_brackets_and_values_are_encoded() {
        let form = Form::new()
            .push("line_items[0][price]", "price_123")
            .push(
                "success_url",
                "https://app.example/ok?session={CHECKOUT_SESSION_ID}&a=b c",
            )
            .push("metadata[user_id]", "42")
            .push("email", "ann+billing@example.com");
        assert_eq!(
            form.encode(),
            "line_items[0][price]=price_123\
             &success_url=https%3A%2F%2Fapp.example%2Fok%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D%26a%3Db+c\
             &metadata[user_id]=42\
             &email=ann%2Bbilling%40example.com"
        );
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_pairs() {
        let form = Form::new().push("a[b]", "é & ü = ?").push("k[x y]", "[1]");
        let decoded: Vec<(String, String)> = url::form_urlencoded::parse(form.encode().as_bytes())
            .into_owned()
            .collect();
        assert_eq!(decoded, form.pairs());
    }
}
