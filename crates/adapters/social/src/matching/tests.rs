use super::*;

#[test]
fn x_rewrites_urls_escapes_and_appends_a_media_link_and_still_matches() {
    let sent = "Read this & that: https://example.com/a?b=1 <3\n\nbye";
    let shown = "Read this &amp; that: https://t.co/abcdef1234 &lt;3\n\nbye https://t.co/zzzz";
    assert!(same_text(sent, shown));
    // A bare domain X turned into a link.
    assert!(same_text("see example.com now", "see https://t.co/x1 now"));
    // Punctuation after a link stays outside it on X, and is removed with it here.
    assert!(same_text("(https://a.example/x).", "(https://t.co/q)."));
    assert!(same_text("  padded text  ", "padded text"));
    // A media-only post is the media link alone.
    assert!(same_text("", "https://t.co/media1"));
}

#[test]
fn different_words_do_not_match() {
    assert!(!same_text("hello world", "hello there world"));
    assert!(!same_text("1/3 a thread", "2/3 a thread"));
    assert!(!same_text("", "text"));
}

#[test]
fn words_that_merely_have_dots_are_kept() {
    assert_eq!(comparable("v1.2 e.g. 3.14 ok."), "v1.2 e.g. 3.14 ok.");
    assert_eq!(comparable("node.js rocks"), "rocks");
}

#[test]
fn mastodon_html_becomes_comparable_text() {
    let html = "<p>Hello &amp; welcome<br />line two</p><p>see <a href=\"https://example.com/long/path\" rel=\"nofollow\"><span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/long/pa</span><span class=\"invisible\">th</span></a> &#39;ok&#39;</p>";
    let sent = "Hello & welcome\nline two\n\nsee https://example.com/long/path 'ok'";
    assert!(same_text(sent, &html_text(html)));
    assert!(same_text(
        "#tag @bob",
        &html_text(
            "<p><a href=\"x\" class=\"mention hashtag\">#<span>tag</span></a> <span class=\"h-card\"><a href=\"y\">@<span>bob</span></a></span></p>"
        )
    ));
}

#[test]
fn the_text_sent_is_never_decoded() {
    // Someone wrote an entity in the post: X shows it escaped once more.
    assert!(same_text("AT&amp;T", "AT&amp;amp;T"));
    assert!(!same_text("AT&amp;T", "AT&amp;T"));
}

#[test]
fn unknown_or_broken_entities_are_left_alone() {
    assert_eq!(
        decode_entities("a &bogus; b & c &#xZZ;"),
        "a &bogus; b & c &#xZZ;"
    );
    assert_eq!(decode_entities("&#128512;&#x41;"), "😀A");
}
