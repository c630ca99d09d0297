//! Rich text: the links, mentions and hashtags of a post's text, as Bluesky facets — spans
//! given in UTF-8 **byte** offsets (start inclusive, end exclusive).
//!
//! [`facets`] only reads the text; mentions name handles, which the publisher then resolves to
//! DIDs ([`to_json`] leaves out a mention whose handle did not resolve: it stays plain text).

use std::collections::HashMap;

use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

/// What a span of the text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// An `http(s)://` link.
    Link {
        /// The URL, as written.
        uri: String,
    },
    /// `@handle`.
    Mention {
        /// The handle, lower-cased, without `@`.
        handle: String,
    },
    /// `#tag`.
    Tag {
        /// The tag, without `#`.
        tag: String,
    },
}

/// A span of the text with a meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// First byte (inclusive).
    pub start: usize,
    /// Last byte (exclusive).
    pub end: usize,
    /// What it is.
    pub feature: Feature,
}

/// Longest tag: 64 graphemes and 640 bytes.
const MAX_TAG_GRAPHEMES: usize = 64;
const MAX_TAG_BYTES: usize = 640;

/// Characters that end a tag besides white space (soft hyphen, word joiner, zero-width
/// spaces and joiners, the enclosing-screen keycap).
const TAG_BREAKS: [char; 7] = [
    '\u{00AD}', '\u{2060}', '\u{200A}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{20E2}',
];

/// The links, mentions and tags of `text`, in order and never overlapping.
///
/// - A link starts with `http://` or `https://` at the start of the text, after white space or
///   after `(`, and runs to the next white space, without trailing punctuation (`.,;:!?'"`)
///   and without a closing `)` it does not open.
/// - A mention is `@` then a valid handle (`alice.bsky.social`), in the same places.
/// - A tag is `#` (or `＃`) at the start of the text or after white space, then at least one
///   character that is neither a digit nor punctuation, without trailing punctuation; at most
///   64 graphemes.
pub fn facets(text: &str) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let after_space = prev.is_none_or(char::is_whitespace);
        let after_space_or_paren = after_space || prev == Some('(');
        prev = Some(c);
        let candidate = match c {
            'h' | 'H' if after_space_or_paren => link_at(text, i),
            '@' if after_space_or_paren => mention_at(text, i),
            '#' | '＃' if after_space => tag_at(text, i, c.len_utf8()),
            _ => None,
        };
        if let Some(candidate) = candidate
            && found.last().is_none_or(|last| candidate.start >= last.end)
        {
            found.push(candidate);
        }
    }
    found
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn link_at(text: &str, start: usize) -> Option<Candidate> {
    let rest = &text[start..];
    if !(starts_with_ignore_case(rest, "https://") || starts_with_ignore_case(rest, "http://")) {
        return None;
    }
    let mut link = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
    loop {
        if let Some(trimmed) = link.strip_suffix(['.', ',', ';', ':', '!', '?', '\'', '"']) {
            link = trimmed;
        } else if let Some(trimmed) = link.strip_suffix(')')
            && !link.contains('(')
        {
            link = trimmed;
        } else {
            break;
        }
    }
    let parsed = url::Url::parse(link).ok()?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return None;
    }
    Some(Candidate {
        start,
        end: start + link.len(),
        feature: Feature::Link {
            uri: link.to_owned(),
        },
    })
}

fn mention_at(text: &str, at: usize) -> Option<Candidate> {
    let rest = &text[at + 1..];
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-')
        .count();
    let handle = rest[..len].trim_end_matches(['.', '-']);
    if !is_handle(handle) {
        return None;
    }
    Some(Candidate {
        start: at,
        end: at + 1 + handle.len(),
        feature: Feature::Mention {
            handle: handle.to_ascii_lowercase(),
        },
    })
}

/// Whether `handle` has the syntax of an AT Protocol handle: at least two dot-separated labels
/// of 1–63 letters, digits and hyphens (not at either end), the last one starting with a
/// letter, 253 characters at most.
pub fn is_handle(handle: &str) -> bool {
    let labels: Vec<&str> = handle.split('.').collect();
    handle.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.starts_with(|c: char| c.is_ascii_alphabetic()))
}

fn tag_at(text: &str, hash: usize, hash_len: usize) -> Option<Candidate> {
    let rest = &text[hash + hash_len..];
    if rest.starts_with(['\u{FE0F}', '\u{20E3}']) {
        return None; // the keycap emoji #️⃣, not a tag
    }
    let len = rest
        .find(|c: char| c.is_whitespace() || TAG_BREAKS.contains(&c))
        .unwrap_or(rest.len());
    let tag = rest[..len].trim_end_matches(is_punctuation);
    if tag.is_empty()
        || !tag
            .chars()
            .any(|c| !c.is_ascii_digit() && !is_punctuation(c))
        || tag.len() > MAX_TAG_BYTES
        || tag.graphemes(true).count() > MAX_TAG_GRAPHEMES
    {
        return None;
    }
    Some(Candidate {
        start: hash,
        end: hash + hash_len + tag.len(),
        feature: Feature::Tag {
            tag: tag.to_owned(),
        },
    })
}

/// Whether `c` is punctuation (Unicode category P) in the scripts posts are usually written
/// in: ASCII, Latin-1, general punctuation, CJK and full-width forms.
fn is_punctuation(c: char) -> bool {
    matches!(
        c,
        '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | ',' | '-' | '.' | '/' | ':' | ';'
            | '?' | '@' | '[' | '\\' | ']' | '_' | '{' | '}'
            | '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}'
            | '\u{00BF}'
            | '\u{2010}'..='\u{2027}'
            | '\u{2030}'..='\u{2043}'
            | '\u{2045}'..='\u{2051}'
            | '\u{2053}'..='\u{205E}'
            | '\u{3001}'..='\u{3003}'
            | '\u{3008}'..='\u{3011}'
            | '\u{3014}'..='\u{301F}'
            | '\u{FF01}'..='\u{FF03}'
            | '\u{FF05}'..='\u{FF0A}'
            | '\u{FF0C}'..='\u{FF0F}'
            | '\u{FF1A}' | '\u{FF1B}' | '\u{FF1F}' | '\u{FF20}'
            | '\u{FF3B}'..='\u{FF3D}'
            | '\u{FF3F}' | '\u{FF5B}' | '\u{FF5D}'
            | '\u{FF5F}'..='\u{FF65}'
    )
}

/// The distinct handles `candidates` mention, in order.
pub fn mentioned_handles(candidates: &[Candidate]) -> Vec<String> {
    let mut handles: Vec<String> = Vec::new();
    for c in candidates {
        if let Feature::Mention { handle } = &c.feature
            && !handles.contains(handle)
        {
            handles.push(handle.clone());
        }
    }
    handles
}

/// The `facets` of a post record: every link and tag, and every mention whose handle is in
/// `dids` (handle → DID); the others stay plain text.
pub fn to_json(candidates: &[Candidate], dids: &HashMap<String, String>) -> Vec<Value> {
    candidates
        .iter()
        .filter_map(|c| {
            let feature = match &c.feature {
                Feature::Link { uri } => json!({
                    "$type": "app.bsky.richtext.facet#link",
                    "uri": uri,
                }),
                Feature::Mention { handle } => json!({
                    "$type": "app.bsky.richtext.facet#mention",
                    "did": dids.get(handle)?,
                }),
                Feature::Tag { tag } => json!({
                    "$type": "app.bsky.richtext.facet#tag",
                    "tag": tag,
                }),
            };
            Some(json!({
                "index": {"byteStart": c.start, "byteEnd": c.end},
                "features": [feature],
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests;
