//! Small helpers for bounded text fields (crate-private).

use crate::error::FieldError;

/// Trims `value` and checks its length in characters is within `min..=max`, with no control
/// characters other than line breaks and tabs when `multiline` is set.
pub(crate) fn bounded(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, FieldError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(if min == 1 {
            FieldError::new(field, "must not be empty")
        } else {
            FieldError::new(field, format!("must be at least {min} characters"))
        });
    }
    if len > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let bad_control = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if trimmed.chars().any(bad_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Checks an absolute `http(s)` URL of at most 2,048 characters, without whitespace.
pub(crate) fn http_url(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| FieldError::new(field, "must be an http(s) URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(FieldError::new(field, "must name a host"));
    }
    if value.chars().count() > 2048 {
        return Err(FieldError::new(field, "must be at most 2048 characters"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(field, "must not contain spaces"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests;

/// Escapes text for an HTML element or a quoted attribute: `&`, `<`, `>`, `"` and `'` (what the
/// product's own pages and mails put their values through; five characters, so by hand).
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
