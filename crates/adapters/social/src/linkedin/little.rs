//! LinkedIn's "little" text format, in which a post's `commentary` is written: mentions
//! (`@[Name](urn:li:organization:1)`), hashtags and templates are markup, so every character
//! the format reserves — `\ | { } @ [ ] ( ) < > # * _ ~` — must be escaped with a backslash
//! to be read as itself. LinkedIn cuts an unescaped text at the first reserved character it
//! cannot read as markup, answering success all the same, so Multivio escapes every one: what
//! a person wrote shows as written.

/// The characters the little format reserves.
pub const RESERVED: [char; 15] = [
    '\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~',
];

/// `text` with every reserved character escaped (a backslash before it).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text an escaped commentary shows when all of it is plain text; otherwise `Err` with
/// the byte offset of the first reserved character not escaped (where LinkedIn would read
/// markup, or cut the text). A backslash before anything but a reserved character, or at the
/// very end, escapes nothing and is refused too.
pub fn unescape(commentary: &str) -> Result<String, usize> {
    let mut out = String::with_capacity(commentary.len());
    let mut chars = commentary.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, next)) if RESERVED.contains(&next) => out.push(next),
                _ => return Err(at),
            }
        } else if RESERVED.contains(&c) {
            return Err(at);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
