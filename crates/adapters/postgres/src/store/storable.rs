//! What PostgreSQL cannot hold, taken out of values that come from outside: a NUL character,
//! refused in `text` columns and in jsonb strings (as an error that fails the whole write).
//!
//! What a person sends is refused with a NUL by the API's contract. What a platform answers —
//! a display name in a connection's metadata, a post id or an error message in a post's
//! results, a reason in a job's last error — is written with each NUL replaced by U+FFFD
//! instead: refusing it would lose a publish result or a connection over one character.

use std::borrow::Cow;

use multivio_domain::post::Post;
use serde_json::Value;

const NUL: char = '\0';

/// `text` with every NUL replaced.
pub(crate) fn text(text: &str) -> Cow<'_, str> {
    if text.contains(NUL) {
        Cow::Owned(text.replace(NUL, "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` with every NUL replaced, cut to its first `max` characters (a `VARCHAR(max)`).
pub(crate) fn varchar(text: &str, max: usize) -> String {
    self::text(text).chars().take(max).collect()
}

/// `post`'s results (the platforms' words: post ids, URLs, error messages) with every NUL
/// replaced.
pub(crate) fn results(post: &mut Post) {
    let Ok(value) = serde_json::to_value(&post.publish_results) else {
        return;
    };
    if let Cow::Owned(clean) = json(&value)
        && let Ok(results) = serde_json::from_value(clean)
    {
        // An id changed so is no longer the platform's (a reply to it would be refused).
        tracing::warn!(post = %post.id.0, "a platform's answer held a NUL; stored with it replaced");
        post.publish_results = results;
    }
}

/// `value` with every NUL replaced, in strings and in keys, at any depth.
pub(crate) fn json(value: &Value) -> Cow<'_, Value> {
    if holds_nul(value) {
        Cow::Owned(scrubbed(value))
    } else {
        Cow::Borrowed(value)
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(NUL),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains(NUL) || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn scrubbed(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(text(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(scrubbed).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (text(k).into_owned(), scrubbed(v)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    }
}

#[cfg(test)]
mod tests;
