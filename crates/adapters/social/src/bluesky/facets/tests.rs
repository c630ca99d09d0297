use super::*;

fn spans(text: &str) -> Vec<(&str, Feature)> {
    facets(text)
        .into_iter()
        .map(|c| {
            let bytes = &text.as_bytes()[c.start..c.end];
            (std::str::from_utf8(bytes).unwrap(), c.feature)
        })
        .collect()
}

fn link(uri: &str) -> Feature {
    Feature::Link {
        uri: uri.to_owned(),
    }
}

fn mention(handle: &str) -> Feature {
    Feature::Mention {
        handle: handle.to_owned(),
    }
}

fn tag(tag: &str) -> Feature {
    Feature::Tag {
        tag: tag.to_owned(),
    }
}

#[test]
fn byte_offsets_cut_exactly_the_link_and_the_mention_after_emoji_and_cjk() {
    let text =
        "こんにちは 👋🏽 世界! Read https://example.com/path?q=ü&x=1. Thanks @Alice.bsky.social!";
    let found = facets(text);
    assert_eq!(found.len(), 2, "{found:?}");
    let (l, m) = (&found[0], &found[1]);
    assert_eq!(
        &text.as_bytes()[l.start..l.end],
        "https://example.com/path?q=ü&x=1".as_bytes()
    );
    assert_eq!(
        &text.as_bytes()[m.start..m.end],
        "@Alice.bsky.social".as_bytes()
    );
    // Offsets are bytes, not characters: the prefix holds multi-byte text.
    let chars_before_link = text[..l.start].chars().count();
    assert!(l.start > chars_before_link);
    assert_eq!(l.feature, link("https://example.com/path?q=ü&x=1"));
    assert_eq!(m.feature, mention("alice.bsky.social"));
}

#[test]
fn links_lose_trailing_punctuation_and_unopened_parentheses() {
    assert_eq!(
        spans("see (https://a.example/x), then https://b.example/wiki/Rust_(lang)."),
        vec![
            ("https://a.example/x", link("https://a.example/x")),
            (
                "https://b.example/wiki/Rust_(lang)",
                link("https://b.example/wiki/Rust_(lang)")
            ),
        ]
    );
    assert_eq!(
        spans("HTTPS://Example.com"),
        vec![("HTTPS://Example.com", link("HTTPS://Example.com"))]
    );
    assert!(spans("https:// nothing").is_empty());
    assert!(spans("xhttps://a.example").is_empty(), "inside a word");
    assert!(spans("ftp://a.example").is_empty(), "http(s) only");
}

#[test]
fn mentions_need_a_valid_handle_at_a_word_start() {
    assert_eq!(
        spans("cc @bob.test. and (@carol.example.com)"),
        vec![
            ("@bob.test", mention("bob.test")),
            ("@carol.example.com", mention("carol.example.com")),
        ]
    );
    assert!(spans("mail me@bob.test").is_empty(), "an email address");
    assert!(spans("@bob").is_empty(), "one label");
    assert!(spans("@bob.123").is_empty(), "numeric top-level label");
    assert!(spans("@-bob.test").is_empty());
}

#[test]
fn tags_are_not_numeric_lose_trailing_punctuation_and_stop_at_64_graphemes() {
    assert_eq!(
        spans("#rust, #日本語。 ＃full #2024 #2024年 a#b #️⃣ #"),
        vec![
            ("#rust", tag("rust")),
            ("#日本語", tag("日本語")),
            ("＃full", tag("full")),
            ("#2024年", tag("2024年")),
        ]
    );
    let long = format!("#{}", "a".repeat(64));
    assert_eq!(facets(&long).len(), 1);
    let too_long = format!("#{}", "a".repeat(65));
    assert!(facets(&too_long).is_empty());
}

#[test]
fn overlapping_spans_keep_the_first() {
    let text = "https://a.example/(@bob.test #x";
    assert_eq!(
        spans(text),
        vec![
            (
                "https://a.example/(@bob.test",
                link("https://a.example/(@bob.test")
            ),
            ("#x", tag("x")),
        ]
    );
}

#[test]
fn unresolved_mentions_stay_plain_text_in_the_record() {
    let text = "hi @bob.test and @nobody.example #tag https://x.example";
    let candidates = facets(text);
    assert_eq!(
        mentioned_handles(&candidates),
        vec!["bob.test".to_owned(), "nobody.example".to_owned()]
    );
    let dids = HashMap::from([("bob.test".to_owned(), "did:plc:bob".to_owned())]);
    let json = to_json(&candidates, &dids);
    assert_eq!(
        serde_json::Value::Array(json),
        serde_json::json!([
            {"index": {"byteStart": 3, "byteEnd": 12},
             "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}]},
            {"index": {"byteStart": 33, "byteEnd": 37},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}]},
            {"index": {"byteStart": 38, "byteEnd": 55},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://x.example"}]},
        ])
    );
}
