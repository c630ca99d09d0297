//! Measuring post text the way each platform measures it.

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::ValidationOptions;
use super::emoji::emoji_len;
use super::limits::{TextCounting, limits};
use super::url::find_urls;
use crate::Provider;

/// What every link counts for on X (twitter-text's `transformedURLLength`: links are rewritten
/// to `t.co` addresses of this length).
pub const X_URL_LENGTH: usize = 23;

/// twitter-text weights are in hundredths of a character.
const X_SCALE: usize = 100;
const X_LIGHT: usize = 100;
const X_HEAVY: usize = 200;

/// Length of `text` as `platform` counts it, to compare with
/// [`PlatformLimits::max_text_length`](super::PlatformLimits::max_text_length).
///
/// ```
/// use multivio_domain::Provider;
/// use multivio_domain::content::{count, ValidationOptions};
///
/// let opts = ValidationOptions::default();
/// // X counts CJK double and every link as 23.
/// assert_eq!(count(Provider::X, "日本 https://example.com/a/long/path", &opts), 4 + 1 + 23);
/// // Bluesky counts what a reader sees as one character.
/// assert_eq!(count(Provider::Bluesky, "🇺🇸 e\u{301}", &opts), 3);
/// ```
pub fn count(platform: Provider, text: &str, opts: &ValidationOptions) -> usize {
    count_with(limits(platform, opts).text_counting, text)
}

/// Length of `text` under one counting method.
pub fn count_with(method: TextCounting, text: &str) -> usize {
    match method {
        TextCounting::XWeighted => count_x_weighted(text),
        TextCounting::Graphemes => count_graphemes(text),
        TextCounting::Mastodon { chars_per_url } => count_mastodon(text, chars_per_url),
        TextCounting::CharsEmojiAsUtf8Bytes => count_threads(text),
        TextCounting::Chars => text.chars().count(),
    }
}

/// X's length of `text` in characters (twitter-text v3 weighted length divided by its scale).
///
/// The text is NFC-normalised first. Each link counts [`X_URL_LENGTH`]; each emoji sequence
/// (ZWJ sequences, flags, keycaps, skin tones) counts 2; code points in U+0000–U+10FF,
/// U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 count 1; everything else (CJK, most
/// symbols) counts 2.
pub fn count_x_weighted(text: &str) -> usize {
    let text: String = text.nfc().collect();
    let mut urls = find_urls(&text, true).into_iter().peekable();
    let mut weight = 0;
    let mut pos = 0;
    while let Some(rest) = text.get(pos..).filter(|r| !r.is_empty()) {
        if let Some(url) = urls.next_if(|url| url.start == pos) {
            weight += X_URL_LENGTH * X_SCALE;
            pos = url.end;
        } else if let Some(len) = emoji_len(rest) {
            weight += X_HEAVY;
            pos += len;
        } else if let Some(c) = rest.chars().next() {
            weight += x_char_weight(c);
            pos += c.len_utf8();
        }
    }
    weight / X_SCALE
}

fn x_char_weight(c: char) -> usize {
    match u32::from(c) {
        0x0000..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037 => X_LIGHT,
        _ => X_HEAVY,
    }
}

/// Number of extended grapheme clusters: what a reader sees as one character.
pub fn count_graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// Threads' length: what a reader sees as one character (an extended grapheme cluster: `é`
/// written as `e` and a combining accent is one) counts 1, except that an emoji counts its
/// UTF-8 bytes (👋 is 4, 👋🏽 8, a flag 8). Meta's documentation: "Text posts are limited to 500
/// characters. Emojis are counted as the number of UTF-8 bytes", pointing at a grapheme
/// splitter for what a character is.
pub fn count_threads(text: &str) -> usize {
    text.graphemes(true)
        .map(|grapheme| match emoji_len(grapheme) {
            // The emoji, and whatever else the cluster holds, by their bytes.
            Some(_) => grapheme.len(),
            None => 1,
        })
        .sum()
}

/// Mastodon's length (its `StatusLengthValidator`): grapheme clusters of the text after every
/// link with a scheme is replaced by `chars_per_url` characters and every `@user@instance` by
/// `@user`.
pub fn count_mastodon(text: &str, chars_per_url: usize) -> usize {
    let mut countable = String::with_capacity(text.len());
    let mut pos = 0;
    for url in find_urls(text, false) {
        shorten_mentions(&text[pos..url.start], &mut countable);
        countable.extend(std::iter::repeat_n('x', chars_per_url));
        pos = url.end;
    }
    shorten_mentions(&text[pos..], &mut countable);
    count_graphemes(&countable)
}

/// Copies `text` into `out`, dropping the instance from remote mentions (`@a@b.social` → `@a`),
/// which Mastodon does not charge for.
fn shorten_mentions(text: &str, out: &mut String) {
    let mut pos = 0;
    let mut prev: Option<char> = None;
    while let Some(c) = text[pos..].chars().next() {
        if c == '@' && !prev.is_some_and(|b| is_word(b) || b == '=' || b == '/') {
            let after_at = &text[pos + 1..];
            let user = mention_user_len(after_at);
            let domain = match after_at[user..].strip_prefix('@') {
                Some(rest) if user > 0 => mention_domain_len(rest),
                _ => 0,
            };
            if domain > 0 {
                out.push('@');
                out.push_str(&after_at[..user]);
                pos += 1 + user + 1 + domain;
                prev = text[..pos].chars().next_back();
                continue;
            }
        }
        out.push(c);
        prev = Some(c);
        pos += c.len_utf8();
    }
}

/// Usernames: ASCII letters, digits and `_`, with `.` and `-` allowed inside.
fn mention_user_len(s: &str) -> usize {
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return 0;
    }
    let run = s
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    s[..run].trim_end_matches(['.', '-']).len()
}

/// Instance domains: word characters, with `.` and `-` allowed inside.
fn mention_domain_len(s: &str) -> usize {
    let run: usize = s
        .chars()
        .take_while(|&c| is_word(c) || c == '.' || c == '-')
        .map(char::len_utf8)
        .sum();
    s[..run].trim_end_matches(|c: char| !is_word(c)).len()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Hashtags as Instagram counts them: `#` after a non-word character, followed by a word
/// character.
pub(super) fn count_hashtags(text: &str) -> usize {
    count_sigils(text, &['#', '＃'], is_word)
}

/// @mentions as Instagram counts them (usernames are ASCII letters, digits, `.` and `_`; an
/// `@` inside a word, as in an e-mail address, is not a mention).
pub(super) fn count_mentions(text: &str) -> usize {
    count_sigils(text, &['@', '＠'], |c| {
        c.is_ascii_alphanumeric() || c == '_' || c == '.'
    })
}

fn count_sigils(text: &str, sigils: &[char], starts_name: impl Fn(char) -> bool) -> usize {
    let mut prev: Option<char> = None;
    let mut count = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let before = prev.replace(c);
        if sigils.contains(&c)
            && !before.is_some_and(|b| is_word(b) || b == '&' || sigils.contains(&b))
            && chars.peek().is_some_and(|&n| starts_name(n))
        {
            count += 1;
        }
    }
    count
}

/// Number of distinct links in `text`, bare domains included (Threads' link limit counts
/// `www.facebook.com` too).
pub(super) fn count_distinct_links(text: &str) -> usize {
    find_urls(text, true)
        .into_iter()
        .map(|r| &text[r])
        .collect::<BTreeSet<_>>()
        .len()
}

#[cfg(test)]
mod tests;
