use super::*;

fn x(text: &str) -> usize {
    count(Provider::X, text, &ValidationOptions::default())
}

#[test]
fn x_counts_links_emoji_and_wide_characters_like_twitter_text() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("hello", 5),
        // "Hello " 6 + 👋 2 + " " 1 + link 23 + " and " 5 + link 23.
        (
            "Hello 👋 https://example.com/a/very/long/path?x=1 and https://t.co/x",
            60,
        ),
        // A link shorter than 23 still costs 23; a bare domain is a link too.
        ("https://t.co/x", 23),
        ("example.com", 23),
        ("visit example.com/page.", 6 + 23 + 1),
        // `name.cc` without a path is not a link (twitter-text's invalid short domain)…
        ("setup.py", 8),
        // …except .co and .tv, and with a subdomain or path it is.
        ("t.co", 23),
        ("www.google.jp", 23),
        ("file.txt", 8),
        // twitter-text conformance cases (v3): emoji sequences count 2.
        ("H🐱☺👨\u{200D}👩\u{200D}👧\u{200D}👦", 7),
        ("🙋🏽👨\u{200D}🎤", 4),
        ("🇺🇸", 2),
        ("🇺🇸🇫🇷", 4),
        ("1\u{FE0F}\u{20E3}", 2),
        (
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            2,
        ),
        ("❤\u{FE0F}", 2),
        // © is a letter-like symbol unless VS16 makes it an emoji.
        ("©", 1),
        ("©\u{FE0F}", 2),
        // A skin tone that cannot attach is its own emoji.
        ("😀🏽", 4),
        // CJK and other scripts outside the light ranges count 2.
        ("日本語", 6),
        ("한국어", 6),
        ("Ⴀ ჿ ᄀ", 1 + 1 + 1 + 1 + 2),
        // The light punctuation ranges.
        (
            "\u{2010}\u{2012}\u{2013}\u{2014}\u{2015}\u{2018}\u{2019}\u{201C}\u{201D}",
            9,
        ),
        ("\u{2032}\u{2033}\u{2037}", 3),
        ("\u{200B}\u{200D}", 2),
        ("…\u{2028}", 4),
        // Decomposed accents count once after NFC.
        ("e\u{301}", 1),
        ("é", 1),
        ("cafe\u{301}", 4),
        // Links stop before trailing punctuation and after balanced parentheses.
        (
            "(https://en.wikipedia.org/wiki/Rust_(language)).",
            1 + 23 + 2,
        ),
        // A link glued to a word is not a link.
        ("seehttps://example.com", 22),
        // Emoji right after a link are still emoji.
        ("https://example.com👋🏽", 25),
    ];
    for &(text, expected) in cases {
        assert_eq!(x(text), expected, "{text:?}");
    }
}

#[test]
fn x_limit_boundaries() {
    assert_eq!(x(&"a".repeat(280)), 280);
    assert_eq!(x(&"a".repeat(281)), 281);
    assert_eq!(x(&"語".repeat(140)), 280);
    assert_eq!(x(&"語".repeat(141)), 282);
    assert_eq!(x(&"e\u{301}".repeat(280)), 280);
    assert_eq!(x(&"👨\u{200D}👩\u{200D}👧".repeat(140)), 280);
    assert_eq!(x(&format!("{} https://example.com", "a".repeat(256))), 280);
}

#[test]
fn graphemes_count_what_a_reader_sees() {
    let cases = [
        ("", 0),
        ("hello", 5),
        ("e\u{301}", 1),
        ("🇺🇸", 1),
        ("👨\u{200D}👩\u{200D}👧\u{200D}👦", 1),
        ("👋🏽!", 2),
        ("日本語", 3),
        ("\r\n", 1),
    ];
    for (text, expected) in cases {
        assert_eq!(count_graphemes(text), expected, "{text:?}");
        assert_eq!(
            count(Provider::Bluesky, text, &ValidationOptions::default()),
            expected
        );
    }
}

#[test]
fn threads_counts_emoji_as_utf8_bytes() {
    let cases = [
        ("hello", 5),
        ("日本", 2),
        ("é", 1),
        ("👋", 4),
        ("👋🏽", 8),
        ("❤\u{FE0F}", 6),
        ("🇺🇸", 8),
        ("1\u{FE0F}\u{20E3}", 7),
        ("hi 👋", 3 + 4),
        ("©", 1),
        ("https://example.com", 19),
        // One character a reader sees, however it is written.
        ("e\u{301}", 1),
        ("🇺🇸 e\u{301}!", 8 + 1 + 1 + 1),
    ];
    for (text, expected) in cases {
        assert_eq!(count_threads(text), expected, "{text:?}");
        assert_eq!(
            count(Provider::Threads, text, &ValidationOptions::default()),
            expected
        );
    }
    assert_eq!(count_threads(&"👋".repeat(125)), 500);
}

#[test]
fn mastodon_charges_links_flat_and_remote_mentions_as_local() {
    let cases = [
        ("hello", 5),
        ("https://example.com/a/very/long/path/that/goes/on", 23),
        ("see https://t.co/x", 4 + 23),
        // Only links with a scheme get the flat rate.
        ("example.com", 11),
        ("@alice@mastodon.social hi", "@alice hi".len()),
        ("cc @bob@example.org.", "cc @bob.".len()),
        ("@carol", 6),
        // Not a mention: inside a word (an e-mail address).
        ("mail dave@example.com", 21),
        ("🇺🇸 e\u{301}", 3),
    ];
    for (text, expected) in cases {
        assert_eq!(count_mastodon(text, 23), expected, "{text:?}");
    }
    assert_eq!(count_mastodon("https://example.com", 30), 30);
    let opts = ValidationOptions {
        mastodon_chars_per_url: 10,
        ..ValidationOptions::default()
    };
    assert_eq!(
        count(Provider::Mastodon, "a https://example.com", &opts),
        12
    );
}

#[test]
fn other_platforms_count_scalar_values_not_utf16_units() {
    // Mathematical bold letters are outside the BMP: 2 UTF-16 units each, 1 char.
    let bold = "𝐁𝐨𝐥𝐝";
    for p in [
        Provider::Facebook,
        Provider::Instagram,
        Provider::Linkedin,
        Provider::Pinterest,
        Provider::Tiktok,
        Provider::Youtube,
    ] {
        assert_eq!(count(p, bold, &ValidationOptions::default()), 4, "{p}");
        assert_eq!(
            count(p, "e\u{301}", &ValidationOptions::default()),
            2,
            "{p}"
        );
        assert_eq!(count(p, "👋", &ValidationOptions::default()), 1, "{p}");
    }
}

#[test]
fn hashtags_mentions_and_links_are_tallied() {
    assert_eq!(count_hashtags("#one #two,#three x#no #4ever # &#39; #"), 4);
    assert_eq!(count_hashtags("＃全角 #日本"), 2);
    assert_eq!(count_mentions("@a @b.c hi@d.com @ @_x"), 3);
    assert_eq!(count_distinct_links("a.com b.com a.com https://c.com/x"), 3);
    assert_eq!(count_distinct_links("no links here"), 0);
}
