//! Finding links in post text the way twitter-text (v3, the JavaScript reference that X's
//! composer runs) finds them, because X and Mastodon bill every link at a fixed length.
//!
//! This is a hand-written port of twitter-text's `extractUrl` regular expression and the
//! post-processing in `extractUrlsWithIndices`, without the regex engine:
//!
//! - a link may not follow a letter, digit, `@`, `$` or `#` (those are mentions, cashtags,
//!   hashtags or the middle of a word);
//! - with `http://` or `https://` the host may be any internationalised domain whose last label is
//!   a known TLD;
//! - without a scheme the host must be ASCII (Latin accents allowed), may not follow `-`, `_`,
//!   `.` or `/`, and `name.cc` with a country-code TLD only counts when a path follows (so
//!   `setup.py` stays text) — except `.co` and `.tv`, which are mostly links;
//! - a path may contain balanced parentheses and never ends in punctuation, so a sentence's full
//!   stop is not part of the link;
//! - `https://t.co/abc` stops after the slug.

use std::ops::Range;

use super::tlds::{is_ascii_cc_tld, is_tld};

/// Byte ranges of the links in `text`, in order.
///
/// With `bare_domains` false only links that carry a scheme are returned (what Mastodon gives a
/// fixed length to); X also counts `example.com` as a link.
pub(super) fn find_urls(text: &str, bare_domains: bool) -> Vec<Range<usize>> {
    let mut urls = Vec::new();
    let mut prev: Option<char> = None;
    // twitter-text's regex consumes the character before a link, so a new match can only start
    // strictly after the end of the previous one.
    let mut last_end: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let before = prev.replace(c);
        if last_end.is_some_and(|end| i <= end) {
            continue;
        }
        if before.is_some_and(|b| !may_precede_url(b)) {
            continue;
        }
        if let Some(m) = match_at(&text[i..], before, bare_domains) {
            if let Some(url) = m.url {
                urls.push(i + url.start..i + url.end);
            }
            last_end = Some(i + m.consumed);
        }
    }
    urls
}

/// What the link pattern matched at one position: maybe a link, and how far it read.
struct Match {
    url: Option<Range<usize>>,
    consumed: usize,
}

fn match_at(s: &str, before: Option<char>, bare_domains: bool) -> Option<Match> {
    if let Some(scheme) = scheme_len(s) {
        let host_len = domain_len(&s[scheme..], LabelChars::Unicode)?;
        let host_end = scheme + host_len;
        let consumed = tail_end(s, host_end).query_end;
        let mut end = consumed;
        if s[scheme..host_end].eq_ignore_ascii_case("t.co")
            && let Some(tco_end) = tco_slug_end(s, host_end)
        {
            end = tco_end;
        }
        return Some(Match {
            url: Some(0..end),
            consumed,
        });
    }

    let host_len = domain_len(s, LabelChars::Ascii)?;
    let tail = tail_end(s, host_len);
    let skipped = Match {
        url: None,
        consumed: tail.query_end,
    };
    if !bare_domains || before.is_some_and(|b| matches!(b, '-' | '_' | '.' | '/')) {
        return Some(skipped);
    }
    if tail.has_path {
        return Some(Match {
            url: Some(0..tail.query_end),
            consumed: tail.query_end,
        });
    }
    // Without a path twitter-text keeps only the domain: a port or query is left as text.
    let host = &s[..host_len];
    if is_short_cc_domain(host) {
        return Some(skipped);
    }
    Some(Match {
        url: Some(0..host_len),
        consumed: tail.query_end,
    })
}

/// `name.cc` (exactly two labels, country-code TLD other than `.co`/`.tv`).
fn is_short_cc_domain(host: &str) -> bool {
    match host.split_once('.') {
        Some((_, tld)) if !tld.contains('.') => {
            is_ascii_cc_tld(tld)
                && !tld.eq_ignore_ascii_case("co")
                && !tld.eq_ignore_ascii_case("tv")
        }
        _ => false,
    }
}

fn may_precede_url(c: char) -> bool {
    !(c.is_ascii_alphanumeric()
        || matches!(
            c,
            '@' | '＠' | '$' | '#' | '＃' | '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}'
        ))
}

fn scheme_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://") {
        Some(8)
    } else if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://") {
        Some(7)
    } else {
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LabelChars {
    /// Hosts after a scheme: anything but ASCII punctuation, spaces and invalid characters.
    Unicode,
    /// Hosts without a scheme: ASCII letters and digits plus Latin accented letters.
    Ascii,
}

impl LabelChars {
    fn allows(self, c: char) -> bool {
        match self {
            LabelChars::Ascii => c.is_ascii_alphanumeric() || is_latin_accent(c),
            LabelChars::Unicode => {
                !(c.is_ascii_punctuation()
                    || c.is_whitespace()
                    || c.is_control()
                    || matches!(
                        c,
                        '\u{FFFE}'
                            | '\u{FEFF}'
                            | '\u{FFFF}'
                            | '\u{200E}'
                            | '\u{200F}'
                            | '\u{202A}'..='\u{202E}'
                            | '\u{2066}'..='\u{2069}'
                    ))
            }
        }
    }

    /// Joiners allowed inside a label (never at its ends).
    fn joins(self, c: char) -> bool {
        match self {
            LabelChars::Unicode => c == '-' || c == '_',
            LabelChars::Ascii => c == '-',
        }
    }
}

/// Byte length of one domain label at the start of `s`.
fn label_len(s: &str, chars: LabelChars) -> Option<usize> {
    let mut end = None;
    for (i, c) in s.char_indices() {
        if chars.allows(c) {
            end = Some(i + c.len_utf8());
        } else if end.is_none() || !chars.joins(c) {
            break;
        }
    }
    end
}

/// Byte length of the host at the start of `s`: labels joined by dots, ending in a known TLD.
///
/// Like the regex, the rightmost label that works as a TLD wins, and a TLD may be a prefix of
/// the last label when what follows cannot continue a TLD (`example.com-foo`,
/// `example.comだよ`). The label before the TLD may not contain `_`.
fn domain_len(s: &str, chars: LabelChars) -> Option<usize> {
    let mut labels: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    loop {
        let len = label_len(&s[pos..], chars)?;
        labels.push(pos..pos + len);
        pos += len;
        match s[pos..].strip_prefix('.') {
            Some(rest) if label_len(rest, chars).is_some() => pos += 1,
            _ => break,
        }
    }
    (1..labels.len()).rev().find_map(|k| {
        if s[labels[k - 1].clone()].contains('_') {
            return None;
        }
        tld_len(&s[labels[k].start..], labels[k].len()).map(|len| labels[k].start + len)
    })
}

/// Length of the TLD at the start of `s`, whose label is `label_len` bytes long.
fn tld_len(s: &str, label_len: usize) -> Option<usize> {
    let label = &s[..label_len];
    // Longest candidate first: the whole label, then ever shorter prefixes.
    std::iter::once(label_len)
        .chain(
            label
                .char_indices()
                .rev()
                .map(|(i, _)| i)
                .filter(|&i| i > 0),
        )
        .find(|&end| {
            let next = s[end..].chars().next();
            is_tld(&label[..end]) && !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '@')
        })
}

struct Tail {
    has_path: bool,
    query_end: usize,
}

/// Optional `:port`, `/path` and `?query` after a host ending at `host_end`.
fn tail_end(s: &str, host_end: usize) -> Tail {
    let mut pos = host_end;
    if let Some(rest) = s[pos..].strip_prefix(':') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            pos += 1 + digits;
        }
    }
    let has_path = s[pos..].starts_with('/');
    if has_path {
        pos = path_end(s, pos);
    }
    if s[pos..].starts_with('?') {
        pos = query_end(s, pos);
    }
    Tail {
        has_path,
        query_end: pos,
    }
}

/// End of a path starting with the `/` at `slash`: the longest run of path characters and
/// balanced parentheses that ends on a character a link may end with.
fn path_end(s: &str, slash: usize) -> usize {
    let mut pos = slash + 1;
    let mut end = pos;
    loop {
        let rest = &s[pos..];
        match rest.chars().next() {
            Some('(') => match balanced_parens_len(rest) {
                Some(len) => {
                    pos += len;
                    end = pos;
                }
                None => break,
            },
            Some(c) if is_path_char(c) => {
                pos += c.len_utf8();
                if is_path_end_char(c) {
                    end = pos;
                }
            }
            _ => break,
        }
    }
    end
}

/// `(x)` or one nested level, `(a(b)c)`, as in Wikipedia links.
fn balanced_parens_len(s: &str) -> Option<usize> {
    let inner = s.strip_prefix('(')?;
    let first = path_run(inner);
    let after = &inner[first..];
    if after.starts_with(')') {
        return (first > 0).then_some(first + 2);
    }
    let nested = after.strip_prefix('(')?;
    let middle = path_run(nested);
    let rest = nested[middle..].strip_prefix(')')?;
    let last = path_run(rest);
    (middle > 0 && rest[last..].starts_with(')')).then_some(1 + first + 1 + middle + 1 + last + 1)
}

fn path_run(s: &str) -> usize {
    s.chars()
        .take_while(|&c| is_path_char(c))
        .map(char::len_utf8)
        .sum()
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!*';:=+,.$/%#[]-_~@|&".contains(c)
        || is_cyrillic(c)
        || is_latin_accent(c)
}

fn is_path_end_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+-=_#/".contains(c) || is_cyrillic(c) || is_latin_accent(c)
}

/// End of a query starting with the `?` at `mark`; the `?` alone is not part of the link.
fn query_end(s: &str, mark: usize) -> usize {
    let mut pos = mark + 1;
    let mut end = mark;
    for c in s[pos..].chars() {
        if !(c.is_ascii_alphanumeric() || "!?*'@();:&=+$/%#[]-_.,~|".contains(c)) {
            break;
        }
        pos += c.len_utf8();
        if c.is_ascii_alphanumeric() || "_&=#/".contains(c) {
            end = pos;
        }
    }
    end
}

/// `https://t.co/slug` ends after the alphanumeric slug.
fn tco_slug_end(s: &str, host_end: usize) -> Option<usize> {
    let slug = s[host_end..].strip_prefix('/')?;
    let len = slug.bytes().take_while(u8::is_ascii_alphanumeric).count();
    (len > 0).then_some(host_end + 1 + len)
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

fn is_latin_accent(c: char) -> bool {
    matches!(c,
        '\u{00C0}'..='\u{00D6}'
        | '\u{00D8}'..='\u{00F6}'
        | '\u{00F8}'..='\u{024F}'
        | '\u{0253}'..='\u{0254}'
        | '\u{0256}'..='\u{0257}'
        | '\u{0259}'
        | '\u{025B}'
        | '\u{0263}'
        | '\u{0268}'
        | '\u{026F}'
        | '\u{0272}'
        | '\u{0289}'
        | '\u{028B}'
        | '\u{02BB}'
        | '\u{0300}'..='\u{036F}'
        | '\u{1E00}'..='\u{1EFF}')
}

#[cfg(test)]
mod tests;
