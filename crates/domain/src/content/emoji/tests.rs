use super::*;

#[test]
fn unicode_data_answers_what_the_sequences_need() {
    // At least the Unicode version the hand-kept tables this replaces were taken from.
    assert!(unicode_properties::UNICODE_VERSION >= (15, 1, 0));
    for c in ['⭐', '☺', '❤', '↔', '〽', '👋', '🇺', '🏽', '🧑', '🫸'] {
        assert!(is_emoji(c), "{c:?}");
    }
    // ASCII keycap bases are emoji only as keycaps; arrows and CJK are text.
    for c in ['#', '*', '1', 'a', '→', '中', 'é', '\u{200D}', '\u{FE0F}'] {
        assert!(!is_emoji(c), "{c:?}");
    }
    // twitter-text's pictograph range, beyond the `Emoji` property.
    for c in ['\u{1F000}', '\u{1F130}', '\u{1F700}', '\u{1FAFF}'] {
        assert!(!c.is_emoji_char() && is_emoji(c), "{c:?}");
    }
    for c in ['☝', '✍', '👋', '🏃', '🧑', '🫸'] {
        assert!(is_modifier_base(c), "{c:?}");
    }
    for c in ['😀', '⭐', '🏽', '❤'] {
        assert!(!is_modifier_base(c), "{c:?}");
    }
    let tones: Vec<char> = ('\u{1F300}'..='\u{1F3FF}')
        .filter(|&c| is_skin_tone(c))
        .collect();
    assert_eq!(tones, ['🏻', '🏼', '🏽', '🏾', '🏿']);
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
