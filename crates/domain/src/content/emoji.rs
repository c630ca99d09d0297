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

const VS16: char = '\u{FE0F}';
const ZWJ: char = '\u{200D}';
const KEYCAP: char = '\u{20E3}';
const CANCEL_TAG: char = '\u{E007F}';
/// Emoji that are plain text unless followed by VS16.
const TEXT_DEFAULT: [char; 4] = ['©', '®', '™', '♟'];

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
        Some(tag) if is_tag(tag) && base == '\u{1F3F4}' => {
            // Subdivision flags: a run of tags closed by CANCEL TAG; without it the black flag
            // stands alone.
            let mut tags_len = tag.len_utf8();
            for c in rest {
                tags_len += c.len_utf8();
                if c == CANCEL_TAG {
                    return Some(end + tags_len);
                }
                if !is_tag(c) {
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

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

fn is_skin_tone(c: char) -> bool {
    ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007F}').contains(&c)
}

/// Code points that are emoji on their own (Unicode `Emoji` property, minus the ASCII keycap
/// bases). Outside the BMP the whole 1F000–1FAFF block is taken, as twitter-text's matcher
/// does: everything there weighs the same on X either way, and Threads is better over-counted
/// than under-counted.
fn is_emoji(c: char) -> bool {
    let cp = u32::from(c);
    if (0x1_F000..=0x1_FAFF).contains(&cp) {
        return true;
    }
    BMP_EMOJI
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Unicode 15.1 `Emoji_Modifier_Base`: the emoji a skin tone may follow.
fn is_modifier_base(c: char) -> bool {
    let cp = u32::from(c);
    MODIFIER_BASES
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&cp))
}

/// BMP code points with the Unicode 15.1 `Emoji` property (sorted, non-overlapping).
const BMP_EMOJI: &[(u32, u32)] = &[
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2194, 0x2199),
    (0x21A9, 0x21AA),
    (0x231A, 0x231B),
    (0x2328, 0x2328),
    (0x23CF, 0x23CF),
    (0x23E9, 0x23F3),
    (0x23F8, 0x23FA),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25AB),
    (0x25B6, 0x25B6),
    (0x25C0, 0x25C0),
    (0x25FB, 0x25FE),
    (0x2600, 0x2604),
    (0x260E, 0x260E),
    (0x2611, 0x2611),
    (0x2614, 0x2615),
    (0x2618, 0x2618),
    (0x261D, 0x261D),
    (0x2620, 0x2620),
    (0x2622, 0x2623),
    (0x2626, 0x2626),
    (0x262A, 0x262A),
    (0x262E, 0x262F),
    (0x2638, 0x263A),
    (0x2640, 0x2640),
    (0x2642, 0x2642),
    (0x2648, 0x2653),
    (0x265F, 0x2660),
    (0x2663, 0x2663),
    (0x2665, 0x2666),
    (0x2668, 0x2668),
    (0x267B, 0x267B),
    (0x267E, 0x267F),
    (0x2692, 0x2697),
    (0x2699, 0x2699),
    (0x269B, 0x269C),
    (0x26A0, 0x26A1),
    (0x26A7, 0x26A7),
    (0x26AA, 0x26AB),
    (0x26B0, 0x26B1),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26C8, 0x26C8),
    (0x26CE, 0x26CF),
    (0x26D1, 0x26D1),
    (0x26D3, 0x26D4),
    (0x26E9, 0x26EA),
    (0x26F0, 0x26F5),
    (0x26F7, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2702, 0x2702),
    (0x2705, 0x2705),
    (0x2708, 0x270D),
    (0x270F, 0x270F),
    (0x2712, 0x2712),
    (0x2714, 0x2714),
    (0x2716, 0x2716),
    (0x271D, 0x271D),
    (0x2721, 0x2721),
    (0x2728, 0x2728),
    (0x2733, 0x2734),
    (0x2744, 0x2744),
    (0x2747, 0x2747),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2763, 0x2764),
    (0x2795, 0x2797),
    (0x27A1, 0x27A1),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
];

/// Unicode 15.1 `Emoji_Modifier_Base`.
const MODIFIER_BASES: &[(u32, u32)] = &[
    (0x261D, 0x261D),
    (0x26F9, 0x26F9),
    (0x270A, 0x270D),
    (0x1_F385, 0x1_F385),
    (0x1_F3C2, 0x1_F3C4),
    (0x1_F3C7, 0x1_F3C7),
    (0x1_F3CA, 0x1_F3CC),
    (0x1_F442, 0x1_F443),
    (0x1_F446, 0x1_F450),
    (0x1_F466, 0x1_F478),
    (0x1_F47C, 0x1_F47C),
    (0x1_F481, 0x1_F483),
    (0x1_F485, 0x1_F487),
    (0x1_F48F, 0x1_F48F),
    (0x1_F491, 0x1_F491),
    (0x1_F4AA, 0x1_F4AA),
    (0x1_F574, 0x1_F575),
    (0x1_F57A, 0x1_F57A),
    (0x1_F590, 0x1_F590),
    (0x1_F595, 0x1_F596),
    (0x1_F645, 0x1_F647),
    (0x1_F64B, 0x1_F64F),
    (0x1_F6A3, 0x1_F6A3),
    (0x1_F6B4, 0x1_F6B6),
    (0x1_F6C0, 0x1_F6C0),
    (0x1_F6CC, 0x1_F6CC),
    (0x1_F90C, 0x1_F90C),
    (0x1_F90F, 0x1_F90F),
    (0x1_F918, 0x1_F91F),
    (0x1_F926, 0x1_F926),
    (0x1_F930, 0x1_F939),
    (0x1_F93C, 0x1_F93E),
    (0x1_F977, 0x1_F977),
    (0x1_F9B5, 0x1_F9B6),
    (0x1_F9B8, 0x1_F9B9),
    (0x1_F9BB, 0x1_F9BB),
    (0x1_F9CD, 0x1_F9CF),
    (0x1_F9D1, 0x1_F9DD),
    (0x1_FAC3, 0x1_FAC5),
    (0x1_FAF0, 0x1_FAF8),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_disjoint() {
        for table in [BMP_EMOJI, MODIFIER_BASES] {
            assert!(table.iter().all(|&(lo, hi)| lo <= hi));
            assert!(table.windows(2).all(|w| w[0].1 < w[1].0));
        }
    }

    #[test]
    fn whole_sequences_are_one_emoji() {
        let cases = [
            "👋",
            "❤\u{FE0F}",
            "👋🏽",
            "👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "🧑🏽\u{200D}💻",
            "🏳\u{FE0F}\u{200D}🌈",
            "🇺🇸",
            "#\u{FE0F}\u{20E3}",
            "1\u{20E3}",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "©\u{FE0F}",
            "⭐",
            "☺",
        ];
        for emoji in cases {
            assert_eq!(emoji_len(emoji), Some(emoji.len()), "{emoji:?}");
            let followed = format!("{emoji}x");
            assert_eq!(emoji_len(&followed), Some(emoji.len()), "{followed:?}");
        }
    }

    #[test]
    fn stops_where_the_sequence_stops() {
        // Two flags side by side are two emoji, not one run of four regional indicators.
        assert_eq!(emoji_len("🇺🇸🇫🇷"), Some("🇺🇸".len()));
        assert_eq!(emoji_len("😀😀"), Some("😀".len()));
        // A skin tone on something that cannot take one is not part of it.
        assert_eq!(emoji_len("😀🏽"), Some("😀".len()));
        // A dangling ZWJ is left out.
        assert_eq!(emoji_len("👨\u{200D}a"), Some("👨".len()));
        // An unterminated tag run leaves the black flag alone.
        assert_eq!(emoji_len("🏴\u{E0067}x"), Some("🏴".len()));
        // Text presentation selector is not swallowed.
        assert_eq!(emoji_len("☺\u{FE0E}"), Some("☺".len()));
    }

    #[test]
    fn ordinary_text_is_not_emoji() {
        for text in [
            "a",
            "1",
            "#tag",
            "*",
            "1\u{FE0F}",
            "→\u{FE0F}",
            "中",
            "é",
            " ",
            "",
            "©",
            "®x",
            "™ ",
        ] {
            assert_eq!(emoji_len(text), None, "{text:?}");
        }
    }
}
