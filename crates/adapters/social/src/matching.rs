//! Telling whether a post found on a platform is the one a send may have created, when the
//! platform keeps no idempotency key to ask with: by its text, as the platform shows it back.
//!
//! Platforms rewrite what they were sent: X replaces every URL with a `t.co` link, appends a
//! link to the post's media and escapes `&`, `<` and `>` as HTML entities; Mastodon answers
//! HTML, with links split into spans and paragraphs for line breaks. So what the platform
//! shows has its HTML entities decoded, and then both sides are brought to a comparable form:
//! every URL-like word (a scheme, or a `name.tld[/…]` shape) removed — on both sides, so a word
//! the platform left alone compares equal too — and whitespace collapsed and trimmed.

/// `text` in the comparable form: its words, URL-like ones left out, one space apart.
pub(crate) fn comparable(text: &str) -> String {
    text.split_whitespace()
        .filter(|word| !url_like(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `sent` (the text Multivio sent) and `shown` (the platform's text of a post, HTML
/// entities and all) are the same post text.
pub(crate) fn same_text(sent: &str, shown: &str) -> bool {
    comparable(sent) == comparable(&decode_entities(shown))
}

/// The text of an HTML fragment (Mastodon's `content`): tags removed, a line break or the end
/// of a paragraph as whitespace; entities are left for [`same_text`] to decode.
pub(crate) fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            // Not a tag: keep the rest as text.
            out.push_str(&rest[open..]);
            return out;
        };
        let tag = rest[open + 1..open + close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if matches!(tag.as_str(), "br" | "p" | "div" | "li") {
            out.push(' ');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a word is a URL (or what a platform would make a link of): it has a scheme
/// (`https://…`), or without the punctuation around it it reads `name.tld` or
/// `name.tld/…` with an alphabetic top-level label of two or more letters.
fn url_like(word: &str) -> bool {
    if word.contains("://") {
        return true;
    }
    let bare = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
    let host = bare.split('/').next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// Decodes the HTML entities platforms use: the named ones of XML and `&nbsp;`, and numeric
/// ones (`&#39;`, `&#x27;`). Anything else is left as it is.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let number = name.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
