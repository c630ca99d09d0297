//! Telling whether a post found on a platform is the one a send may have created, when the
//! platform keeps no idempotency key to ask with: by its text and its links, as the platform
//! shows them back.
//!
//! A match is recorded as the published post, so a wrong match (the real post then never sent,
//! a wrong link shown) is worse than none: everything here errs towards "not the same".
//!
//! Platforms rewrite what they were sent. X replaces every link with a `t.co` address (its
//! entities tell where each one leads), appends a `t.co` link to the post's media and escapes
//! `&`, `<` and `>` as HTML entities; Mastodon answers HTML, with a link as an `<a href>` whose
//! text is split into spans, a hashtag or a mention as a link with the class `mention`, and
//! paragraphs and line breaks as tags. What the platform shows is therefore read as a
//! [`Shown`]: its text (entities decoded, whitespace collapsed) with the links the platform
//! made in it, each one by its target. Our text must then read the same, character for
//! character, except that where the platform shows a link our text must have that link's
//! target, written the same way (only the scheme and host compared without case, and trailing
//! slashes ignored). Nothing of our text is dropped or guessed at: a word that only looks like
//! a link (`node.js`, `foo.rs`) is text on both sides and compared as such, and two posts that
//! differ only in a link differ.
//!
//! A post with neither text nor a link matches only on the evidence of its media (the caller
//! compares their number): two empty posts are not the same post.

/// The most link alternatives tried in one comparison: past it, not the same (a miss is safe).
const MAX_STEPS: u32 = 10_000;

/// What a platform shows of a post: text, and the links it made in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shown {
    pieces: Vec<Piece>,
    /// Whether the platform also makes links of addresses written without a scheme
    /// (`example.com/x`, `www.example.com`), as X does: their targets then carry one our text
    /// does not.
    bare_links: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text, HTML entities decoded.
    Text(String),
    /// A link the platform made, by its target (the address as it was written in the post).
    Link(String),
    /// A mention the platform made (Mastodon): what it shows (`@bob`), and the host of the
    /// account's page, which our text may have named (`@bob@example.social`).
    Mention { shown: String, host: Option<String> },
}

impl Shown {
    /// An X post: its text (HTML entities and all) and its URL entities as `(url, target)`,
    /// `url` being the `t.co` address in the text and `target` where it leads (`expanded_url`),
    /// or `None` for the link X appends to the post's media, which is no part of the text sent.
    /// A `t.co` address without an entity stays text, and so matches nothing we sent.
    pub(crate) fn x<'a>(
        text: &str,
        links: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Self {
        let links: Vec<(&str, Option<&str>)> = links
            .into_iter()
            .filter(|(url, _)| url.len() > "https://".len())
            .collect();
        let text = decode_entities(text);
        let mut pieces = Vec::new();
        let mut plain = String::new();
        let mut rest = text.as_str();
        'scan: while !rest.is_empty() {
            for (url, target) in &links {
                let Some(after) = rest.strip_prefix(url) else {
                    continue;
                };
                // `https://t.co/abc` is not the start of `https://t.co/abcd`.
                if after.starts_with(|c: char| c.is_alphanumeric()) {
                    continue;
                }
                if !plain.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut plain)));
                }
                if let Some(target) = target {
                    pieces.push(Piece::Link((*target).to_owned()));
                }
                rest = after;
                continue 'scan;
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                plain.push(c);
            }
            rest = chars.as_str();
        }
        if !plain.is_empty() {
            pieces.push(Piece::Text(plain));
        }
        Shown {
            pieces,
            bare_links: true,
        }
    }

    /// A post shown back exactly as it was sent (Meta's `message`, `caption` and `text`): all of
    /// it text, links included.
    pub(crate) fn plain(text: &str) -> Self {
        let pieces = if text.is_empty() {
            Vec::new()
        } else {
            vec![Piece::Text(text.to_owned())]
        };
        Shown {
            pieces,
            bare_links: false,
        }
    }

    /// A Mastodon status's `content` (HTML): the text, a line break or the end of a paragraph
    /// as whitespace; an `<a href>` a link to its `href`, its text aside; an `<a>` with the
    /// class `mention` a hashtag (`#tag`, text as any other) or a mention (`@bob`, its text
    /// and its `href`'s host); other tags removed. Mastodon makes links of addresses with a
    /// scheme only.
    pub(crate) fn mastodon(html: &str) -> Self {
        let mut pieces = Vec::new();
        let mut plain = String::new();
        // Inside an `<a>`: its kind, and its text so far.
        let mut anchor: Option<(Anchor, String)> = None;
        let mut rest = html;
        loop {
            let (text, tag) = match rest.find('<') {
                Some(open) => match rest[open..].find('>') {
                    Some(close) => (&rest[..open], Some(&rest[open + 1..open + close])),
                    // Not a tag: the rest is text.
                    None => (rest, None),
                },
                None => (rest, None),
            };
            match &mut anchor {
                Some((_, inner)) => inner.push_str(text),
                None => plain.push_str(text),
            }
            let Some(tag) = tag else { break };
            rest = &rest[text.len() + tag.len() + 2..];
            let closing = tag.starts_with('/');
            let name = tag
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match name.as_str() {
                "a" if closing => {
                    if let Some((kind, inner)) = anchor.take() {
                        match kind {
                            // Still HTML: decoded with the text around it.
                            Anchor::Text => plain.push_str(&inner),
                            Anchor::Link(href) => {
                                flush(&mut pieces, &mut plain);
                                pieces.push(Piece::Link(href));
                            }
                            Anchor::Mention(host) => {
                                flush(&mut pieces, &mut plain);
                                pieces.push(Piece::Mention {
                                    shown: decode_entities(&inner).trim().to_owned(),
                                    host,
                                });
                            }
                        }
                    }
                }
                "a" if !closing && anchor.is_none() => {
                    anchor = Some((Anchor::of(tag), String::new()));
                }
                "br" | "p" | "div" | "li" => match &mut anchor {
                    Some((_, inner)) => inner.push(' '),
                    None => plain.push(' '),
                },
                _ => {}
            }
        }
        // An `<a>` never closed: its text is text.
        if let Some((_, inner)) = anchor {
            plain.push_str(&inner);
        }
        flush(&mut pieces, &mut plain);
        Shown {
            pieces,
            bare_links: false,
        }
    }
}

/// Moves the text gathered so far (entities decoded) into `pieces`.
fn flush(pieces: &mut Vec<Piece>, plain: &mut String) {
    if !plain.is_empty() {
        pieces.push(Piece::Text(decode_entities(&std::mem::take(plain))));
    }
}

/// What an `<a>` of Mastodon's HTML is.
enum Anchor {
    /// A link to its `href`.
    Link(String),
    /// A mention of an account whose page is on this host.
    Mention(Option<String>),
    /// A hashtag, or an `<a>` without a usable `href`: its text is text.
    Text,
}

impl Anchor {
    /// Reads an `<a …>` tag's attributes (the tag's text between `<` and `>`).
    fn of(tag: &str) -> Self {
        let href = attribute(tag, "href").map(|h| decode_entities(&h));
        let classes = attribute(tag, "class").unwrap_or_default();
        let has = |name: &str| classes.split_whitespace().any(|c| c == name);
        match href {
            _ if has("hashtag") => Anchor::Text,
            Some(href) if has("mention") => Anchor::Mention(host(&href)),
            Some(href) if href.contains("://") => Anchor::Link(href),
            _ => Anchor::Text,
        }
    }
}

/// The value of attribute `name` in a tag's text (`a href="…" class='…'`), quoted or not.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag.split_once(char::is_whitespace)?.1;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace() || c == '>')
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining;
            value
        } else {
            ""
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value.to_owned());
        }
        if key.is_empty() && !rest.starts_with('=') {
            // Nothing more to read (a stray character).
            rest = rest.get(1..).unwrap_or("");
        }
    }
}

/// The host of an address (`https://Host:1/x` → `host:1`), lower case.
fn host(url: &str) -> Option<String> {
    let after = url.split_once("://")?.1;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// One element of a text being compared: a character (whitespace collapsed to one space), or
/// something the platform made.
#[derive(Debug)]
enum Item<'a> {
    Char(char),
    /// A link, by its target in comparable form ([`comparable_url`]).
    Link(String),
    Mention {
        shown: Vec<char>,
        host: Option<&'a str>,
    },
}

/// Whether `sent` (the text Multivio sent) is the text of `shown`, and there is enough to tell:
/// some text or a link, or else `media` attachments (the number both have; the caller compares
/// them).
pub(crate) fn same_post(sent: &str, shown: &Shown, media: usize) -> bool {
    let items = items(shown);
    if items.is_empty() && media == 0 {
        return false;
    }
    let ours = collapse(sent);
    let mut steps = MAX_STEPS;
    align(&items, &ours, shown.bare_links, &mut steps)
}

/// `text`'s characters with every run of whitespace one space, none at either end.
fn collapse(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars());
    }
    out
}

/// What `shown` reads, as [`Item`]s, whitespace collapsed as [`collapse`] does.
fn items(shown: &Shown) -> Vec<Item<'_>> {
    /// The space owed before what comes next, unless it comes first.
    fn push(items: &mut Vec<Item<'_>>, space: &mut bool) {
        if std::mem::take(space) && !items.is_empty() {
            items.push(Item::Char(' '));
        }
    }
    let mut items = Vec::new();
    let mut space = false;
    for piece in &shown.pieces {
        match piece {
            Piece::Text(text) => {
                for c in text.chars() {
                    if c.is_whitespace() {
                        space = true;
                    } else {
                        push(&mut items, &mut space);
                        items.push(Item::Char(c));
                    }
                }
            }
            Piece::Link(target) => {
                push(&mut items, &mut space);
                items.push(Item::Link(comparable_url(target)));
            }
            Piece::Mention { shown, host } => {
                push(&mut items, &mut space);
                items.push(Item::Mention {
                    shown: shown.chars().collect(),
                    host: host.as_deref(),
                });
            }
        }
    }
    items
}

/// Whether `ours` reads as `items`; each link or mention may end at more than one place in
/// `ours` (a trailing slash, a mention with its host), and each is tried, `steps` at most.
fn align(items: &[Item<'_>], ours: &[char], bare: bool, steps: &mut u32) -> bool {
    let mut at = 0;
    for (k, item) in items.iter().enumerate() {
        let ends = match item {
            Item::Char(c) => {
                if ours.get(at) != Some(c) {
                    return false;
                }
                at += 1;
                continue;
            }
            Item::Link(target) => link_ends(target, &ours[at..], bare),
            Item::Mention { shown, host } => mention_ends(shown, *host, &ours[at..]),
        };
        for end in ends {
            if *steps == 0 {
                return false;
            }
            *steps -= 1;
            if align(&items[k + 1..], &ours[at + end..], bare, steps) {
                return true;
            }
        }
        return false;
    }
    at == ours.len()
}

/// Where in `ours` (its start) a link to `target` (comparable) can end: our text has the
/// target there, written the same way, or — where the platform links addresses without a
/// scheme — without the `http://` or `https://` it added.
fn link_ends(target: &str, ours: &[char], bare: bool) -> Vec<usize> {
    let word = ours.iter().take_while(|c| !c.is_whitespace()).count();
    let length = target.chars().count();
    let mut lengths = vec![length];
    if bare {
        for scheme in ["http://", "https://"] {
            if let Some(without) = target.strip_prefix(scheme) {
                lengths.push(without.chars().count());
            }
        }
    }
    let mut ends = Vec::new();
    for base in lengths {
        if base == 0 || base > word {
            continue;
        }
        // Then any slashes: they are ignored at the end of an address.
        let slashes = ours[base..word].iter().take_while(|&&c| c == '/').count();
        for end in base..=base + slashes {
            let written: String = ours[..end].iter().collect();
            let same = comparable_url(&written) == target
                || (bare
                    && !written.contains("://")
                    && ["http://", "https://"]
                        .iter()
                        .any(|scheme| comparable_url(&format!("{scheme}{written}")) == target));
            if same && !ends.contains(&end) {
                ends.push(end);
            }
        }
    }
    // The longest first: a slash is rather part of the address than of the text after it.
    ends.sort_unstable_by(|a, b| b.cmp(a));
    ends
}

/// Where in `ours` (its start) a mention shown as `shown` (`@bob`) can end: after the same
/// name (case aside), or after it and `@host` when the account's page is on `host`.
fn mention_ends(shown: &[char], host: Option<&str>, ours: &[char]) -> Vec<usize> {
    let same = |a: &[char], b: &[char]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
    };
    if shown.is_empty() || ours.len() < shown.len() || !same(&ours[..shown.len()], shown) {
        return Vec::new();
    }
    let mut ends = vec![shown.len()];
    if let Some(host) = host
        && !shown[1..].contains(&'@')
    {
        let with_host: Vec<char> = std::iter::once('@').chain(host.chars()).collect();
        let end = shown.len() + with_host.len();
        if ours.len() >= end && same(&ours[shown.len()..end], &with_host) {
            ends.insert(0, end);
        }
    }
    ends
}

/// An address in comparable form: its scheme and host in lower case, trailing slashes left
/// out; the rest as it is.
fn comparable_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(&scheme.to_ascii_lowercase());
        out.push_str("://");
    }
    out.push_str(&rest[..host_end].to_ascii_lowercase());
    out.push_str(&rest[host_end..]);
    let kept = out.trim_end_matches('/').len();
    out.truncate(kept);
    out
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
