//! Recognising emoji sequences, for the platforms that count an emoji differently from the
//! characters it is made of (X counts a sequence as one double-width unit, Threads counts its
//! UTF-8 bytes).
//!
//! twitter-text finds candidates with a permissive matcher and keeps those its emoji table knows.
//! Carrying the whole emoji table would be a lot of data for little gain, so instead a sequence
//! is accepted when it is well formed: a keycap, a pair of regional indicators (a flag), or
//! emoji joined by ZWJ, each optionally followed by VS16, a skin tone on a modifier base, or tag
//! characters. The two approaches only disagree on sequences no vendor draws as one glyph (say
//! two unrelated emoji glued with ZWJ), where we count one unit and X counts each part.
//!
//! Which code points are emoji, modifier bases or skin tones is Unicode's data, as the
//! `unicode-properties` crate carries it; only the sequence grammar is written here.

use std::ops::RangeInclusive;

use unicode_properties::emoji::{is_regional_indicator, is_tag_character};
use unicode_properties::{EmojiStatus, UnicodeEmoji};

const VS16: char = '\u{FE0F}';
const ZWJ: char = '\u{200D}';
const KEYCAP: char = '\u{20E3}';
const CANCEL_TAG: char = '\u{E007F}';
/// The black flag, the only base tag sequences (subdivision flags) are defined on.
const BLACK_FLAG: char = '\u{1F3F4}';
/// Emoji that are plain text unless followed by VS16. Unicode gives them the `Emoji` property
/// like any other; this is where twemoji (which twitter-text uses) departs from it.
const TEXT_DEFAULT: [char; 4] = ['©', '®', '™', '♟'];
/// Outside the BMP, twitter-text's matcher takes every code point from Mahjong Tiles to
/// Symbols and Pictographs Extended-A as an emoji candidate, including the symbols there that
/// lack the `Emoji` property and the code points not yet assigned: everything there weighs the
/// same on X either way, and Threads is better over-counted than under-counted.
const TWITTER_TEXT_PICTOGRAPHS: RangeInclusive<char> = '\u{1F000}'..='\u{1FAFF}';

/// Byte length of the emoji sequence that starts `text`, if one does.
pub(super) fn emoji_len(text: &str) -> Option<usize> {
    let first = text.chars().next()?;
    if matches!(first, '#' | '*' | '0'..='9') {
        return keycap_len(text);
    }
    if is_regional_indicator(first) {
        let rest = &text[first.len_utf8()..];
        return Some(match rest.chars().next() {
            Some(second) if is_regional_indicator(second) => first.len_utf8() + second.len_utf8(),
            _ => first.len_utf8(),
        });
    }
    let mut end = element_len(text)?;
    while let Some(rest) = text[end..].strip_prefix(ZWJ) {
        match element_len(rest) {
            Some(len) => end += ZWJ.len_utf8() + len,
            None => break,
        }
    }
    Some(end)
}

/// `#`, `*` or a digit becomes an emoji only with the combining keycap (VS16 optional).
fn keycap_len(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().skip(1);
    match chars.next() {
        Some((i, KEYCAP)) => Some(i + KEYCAP.len_utf8()),
        Some((_, VS16)) => match chars.next() {
            Some((i, KEYCAP)) => Some(i + KEYCAP.len_utf8()),
            _ => None,
        },
        _ => None,
    }
}

/// One emoji with its presentation selector, skin tone or tag suffix.
fn element_len(text: &str) -> Option<usize> {
    let base = text.chars().next()?;
    if !is_emoji(base) {
        return None;
    }
    let mut end = base.len_utf8();
    let mut rest = text[end..].chars();
    if TEXT_DEFAULT.contains(&base) {
        // twemoji (which twitter-text uses) only takes these as emoji when VS16 asks for it:
        // a bare © is a letter-like symbol, not a picture.
        return (rest.next() == Some(VS16)).then_some(end + VS16.len_utf8());
    }
    match rest.next() {
        Some(VS16) => end += VS16.len_utf8(),
        Some(tone) if is_skin_tone(tone) && is_modifier_base(base) => end += tone.len_utf8(),
        Some(tag) if is_tag_character(tag) && base == BLACK_FLAG => {
            // Subdivision flags: a run of tags closed by CANCEL TAG; without it the black flag
            // stands alone.
            let mut tags_len = tag.len_utf8();
            for c in rest {
                tags_len += c.len_utf8();
                if c == CANCEL_TAG {
                    return Some(end + tags_len);
                }
                if !is_tag_character(c) {
                    break;
                }
            }
        }
        // Anything else, VS15 (text presentation) included, is left for the caller to count as
        // an ordinary character: the base alone is still an emoji.
        _ => {}
    }
    Some(end)
}

/// Code points that are emoji on their own: Unicode's `Emoji` property minus the ASCII keycap
/// bases (which are emoji only as keycaps), plus twitter-text's pictograph range.
fn is_emoji(c: char) -> bool {
    !c.is_ascii() && (c.is_emoji_char() || TWITTER_TEXT_PICTOGRAPHS.contains(&c))
}

/// Unicode's `Emoji_Modifier_Base`: the emoji a skin tone may follow.
fn is_modifier_base(c: char) -> bool {
    matches!(
        c.emoji_status(),
        EmojiStatus::EmojiModifierBase | EmojiStatus::EmojiPresentationAndModifierBase
    )
}

/// Unicode's `Emoji_Modifier`: the five skin tones.
fn is_skin_tone(c: char) -> bool {
    c.emoji_status() == EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
}

#[cfg(test)]
mod tests;
