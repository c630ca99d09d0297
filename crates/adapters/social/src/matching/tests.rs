use super::*;

/// An X post's text with its URL entities: `(t.co, Some(target))`, or `None` for the media link.
fn x(text: &str, links: &[(&str, Option<&str>)]) -> Shown {
    Shown::x(text, links.iter().copied())
}

#[test]
fn x_rewrites_urls_escapes_and_appends_a_media_link_and_still_matches() {
    let sent = "Read this & that: https://example.com/a?b=1 <3\n\nbye";
    let shown = x(
        "Read this &amp; that: https://t.co/abcdef1234 &lt;3\n\nbye https://t.co/zzzz",
        &[
            ("https://t.co/abcdef1234", Some("https://example.com/a?b=1")),
            ("https://t.co/zzzz", None),
        ],
    );
    assert!(same_post(sent, &shown, 1));
    // Punctuation after a link stays outside it on X.
    let shown = x(
        "(https://t.co/q).",
        &[("https://t.co/q", Some("https://a.example/x"))],
    );
    assert!(same_post("(https://a.example/x).", &shown, 0));
    assert!(same_post("  padded\ttext  ", &x("padded text", &[]), 0));
    // A media-only post is the media link alone.
    let media_only = x("https://t.co/media1", &[("https://t.co/media1", None)]);
    assert!(same_post("", &media_only, 1));
}

#[test]
fn two_posts_that_differ_only_in_a_link_differ() {
    let shown = x(
        "New episode: https://t.co/aaaa",
        &[("https://t.co/aaaa", Some("https://pod.example/ep/2"))],
    );
    assert!(same_post(
        "New episode: https://pod.example/ep/2",
        &shown,
        0
    ));
    assert!(!same_post(
        "New episode: https://pod.example/ep/1",
        &shown,
        0
    ));
    assert!(!same_post("New episode:", &shown, 0));
    assert!(!same_post(
        "New episode: https://pod.example/ep/2 more",
        &shown,
        0
    ));
    // Two links, in order.
    let two = x(
        "a https://t.co/1111 b https://t.co/2222",
        &[
            ("https://t.co/1111", Some("https://one.example")),
            ("https://t.co/2222", Some("https://two.example")),
        ],
    );
    assert!(same_post(
        "a https://one.example b https://two.example",
        &two,
        0
    ));
    assert!(!same_post(
        "a https://two.example b https://one.example",
        &two,
        0
    ));
}

#[test]
fn link_only_posts_match_only_the_same_link() {
    let shown = x(
        "https://t.co/bbbb",
        &[("https://t.co/bbbb", Some("https://example.com/b"))],
    );
    assert!(same_post("https://example.com/b", &shown, 0));
    assert!(!same_post("https://example.com/a", &shown, 0));
    assert!(!same_post("", &shown, 0));
    // A t.co address X gave no entity for says nothing of where it leads: not ours.
    assert!(!same_post(
        "https://example.com/b",
        &x("https://t.co/bbbb", &[]),
        0
    ));
}

#[test]
fn nothing_to_compare_is_no_match_without_media() {
    assert!(!same_post("", &x("", &[]), 0));
    assert!(!same_post("   ", &x(" \n ", &[]), 0));
    assert!(same_post("", &x("", &[]), 2));
    // The media link removed: nothing left but the media.
    let media_only = x("https://t.co/m", &[("https://t.co/m", None)]);
    assert!(!same_post("", &media_only, 0));
}

#[test]
fn only_the_scheme_and_host_are_compared_without_case_and_trailing_slashes_ignored() {
    let shown = |target: &str| x("see https://t.co/c", &[("https://t.co/c", Some(target))]);
    assert!(same_post(
        "see HTTPS://Example.COM/",
        &shown("https://example.com"),
        0
    ));
    assert!(same_post(
        "see https://example.com",
        &shown("https://example.com/"),
        0
    ));
    assert!(same_post(
        "see https://example.com/a/",
        &shown("https://example.com/a"),
        0
    ));
    assert!(!same_post(
        "see https://example.com/A",
        &shown("https://example.com/a"),
        0
    ));
    assert!(!same_post(
        "see http://example.com",
        &shown("https://example.com"),
        0
    ));
    assert!(!same_post(
        "see https://example.com/a?x=1",
        &shown("https://example.com/a?x=2"),
        0
    ));
    // A slash the text has after the link is compared as text.
    assert!(same_post(
        "see https://example.com/ /",
        &x(
            "see https://t.co/c /",
            &[("https://t.co/c", Some("https://example.com"))]
        ),
        0
    ));
}

#[test]
fn x_links_addresses_without_a_scheme_with_one() {
    let shown = x(
        "see https://t.co/d now",
        &[("https://t.co/d", Some("http://example.com/x"))],
    );
    assert!(same_post("see example.com/x now", &shown, 0));
    assert!(same_post("see http://example.com/x now", &shown, 0));
    assert!(!same_post("see example.org/x now", &shown, 0));
    assert!(!same_post("see https://example.com/x now", &shown, 0));
    let www = x(
        "www: https://t.co/e",
        &[("https://t.co/e", Some("http://www.example.com"))],
    );
    assert!(same_post("www: www.example.com", &www, 0));
    // Mastodon makes no links without a scheme: there the address must be written with one.
    let html = Shown::mastodon("<p><a href=\"http://example.com/x\">example.com/x</a></p>");
    assert!(!same_post("example.com/x", &html, 0));
    assert!(same_post("http://example.com/x", &html, 0));
}

#[test]
fn words_that_merely_have_dots_are_text() {
    assert!(same_post(
        "Try node.js and foo.rs",
        &x("Try node.js and foo.rs", &[]),
        0
    ));
    assert!(!same_post(
        "Try node.js today",
        &x("Try deno.js today", &[]),
        0
    ));
    assert!(!same_post("see foo.rs", &x("see bar.rs", &[]), 0));
    assert!(!same_post("v1.2 e.g. 3.14", &x("v1.3 e.g. 3.14", &[]), 0));
    // Not even a real domain is dropped: X would have linked it, and shown where to.
    assert!(!same_post("see example.com", &x("see", &[]), 0));
}

#[test]
fn different_words_do_not_match() {
    assert!(!same_post("hello world", &x("hello there world", &[]), 0));
    assert!(!same_post("1/3 a thread", &x("2/3 a thread", &[]), 0));
    assert!(!same_post("", &x("text", &[]), 0));
    assert!(!same_post("text", &x("", &[]), 1));
}

#[test]
fn a_t_co_address_is_not_the_start_of_a_longer_one() {
    let shown = x(
        "https://t.co/abcd",
        &[("https://t.co/abc", Some("https://example.com"))],
    );
    assert!(!same_post("https://example.comd", &shown, 0));
    assert!(!same_post("https://example.com", &shown, 0));
}

#[test]
fn mastodon_html_with_links_tags_and_mentions() {
    let html = "<p>Hello &amp; welcome<br />line two</p><p>see <a href=\"https://example.com/long/path?a=1&amp;b=2\" target=\"_blank\" rel=\"nofollow noopener noreferrer\"><span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/long/pa</span><span class=\"invisible\">th?a=1&amp;b=2</span></a> &#39;ok&#39;</p>";
    let shown = Shown::mastodon(html);
    let sent = "Hello & welcome\nline two\n\nsee https://example.com/long/path?a=1&b=2 'ok'";
    assert!(same_post(sent, &shown, 0));
    assert!(!same_post(
        "Hello & welcome\nline two\n\nsee https://example.com/long/path?a=1&b=3 'ok'",
        &shown,
        0
    ));

    let tagged = Shown::mastodon(
        "<p><a href=\"https://m.example/tags/tag\" class=\"mention hashtag\" rel=\"tag\">#<span>tag</span></a> <span class=\"h-card\" translate=\"no\"><a href=\"https://m.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> <span class=\"h-card\"><a href=\"https://other.example/@eve\" class=\"u-url mention\">@<span>eve</span></a></span></p>",
    );
    assert!(same_post("#tag @bob @eve", &tagged, 0));
    // A remote account is shown by its name alone; its host is the page's.
    assert!(same_post("#tag @bob @eve@other.example", &tagged, 0));
    assert!(same_post(
        "#tag @bob@m.example @Eve@Other.Example",
        &tagged,
        0
    ));
    assert!(!same_post("#tag @bob @eve@elsewhere.example", &tagged, 0));
    assert!(!same_post("#tag @bob @mallory", &tagged, 0));
    assert!(!same_post("#other @bob @eve", &tagged, 0));
}

#[test]
fn mastodon_link_only_statuses_match_only_the_same_link() {
    let link = |href: &str| {
        Shown::mastodon(&format!(
            "<p><a href=\"{href}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\"><span class=\"invisible\">https://</span><span class=\"\">example.com/1</span><span class=\"invisible\"></span></a></p>"
        ))
    };
    assert!(same_post(
        "https://example.com/1",
        &link("https://example.com/1"),
        0
    ));
    // What the link reads does not count, where it leads does.
    assert!(!same_post(
        "https://example.com/1",
        &link("https://example.com/2"),
        0
    ));
    assert!(!same_post("", &link("https://example.com/1"), 0));
    assert!(!same_post("", &Shown::mastodon("<p></p>"), 0));
    assert!(same_post("", &Shown::mastodon(""), 1));
}

#[test]
fn mastodon_anchor_text_is_decoded_once() {
    let shown = Shown::mastodon("<p><a>&amp;lt;</a> &amp;amp;</p>");
    assert!(same_post("&lt; &amp;", &shown, 0));
    assert!(!same_post("< &", &shown, 0));
    // A broken tag is text.
    assert!(same_post("a <b", &Shown::mastodon("<p>a &lt;b</p>"), 0));
    assert!(same_post("a <b", &Shown::mastodon("a <b"), 0));
}

#[test]
fn attributes_are_read_quoted_or_not() {
    assert_eq!(
        attribute("a class='u-url mention' href=https://x.example/@a", "href").as_deref(),
        Some("https://x.example/@a")
    );
    assert_eq!(
        attribute("a download class=\"x\"", "class").as_deref(),
        Some("x")
    );
    assert_eq!(attribute("a", "href"), None);
    assert_eq!(attribute("a =\"x\" = href", "href"), None);
}

#[test]
fn the_text_sent_is_never_decoded() {
    // Someone wrote an entity in the post: X shows it escaped once more.
    assert!(same_post("AT&amp;T", &x("AT&amp;amp;T", &[]), 0));
    assert!(!same_post("AT&amp;T", &x("AT&amp;T", &[]), 0));
}

#[test]
fn unknown_or_broken_entities_are_left_alone() {
    assert_eq!(
        decode_entities("a &bogus; b & c &#xZZ;"),
        "a &bogus; b & c &#xZZ;"
    );
    assert_eq!(decode_entities("&#128512;&#x41;"), "😀A");
}

#[test]
fn comparable_urls() {
    assert_eq!(comparable_url("HTTPS://Ex.COM/A/"), "https://ex.com/A");
    assert_eq!(comparable_url("https://ex.com/?q=A"), "https://ex.com/?q=A");
    assert_eq!(comparable_url("https://ex.com//"), "https://ex.com");
    assert_eq!(comparable_url("Ex.com/A"), "ex.com/A");
}

#[test]
fn many_ambiguous_links_are_bounded() {
    // Every link may end before or after its slash: the alternatives are tried a bounded
    // number of times, and the answer is still right when found within them.
    let n = 40;
    let links: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("https://t.co/l{i:04}"),
                "https://a.example".to_owned(),
            )
        })
        .collect();
    let text: Vec<&str> = links.iter().map(|(url, _)| url.as_str()).collect();
    let shown = Shown::x(
        &text.join("/"),
        links.iter().map(|(u, t)| (u.as_str(), Some(t.as_str()))),
    );
    // Each link written with a slash, then the slash between them.
    let ours = vec!["https://a.example/"; n].join("/");
    assert!(same_post(&ours, &shown, 0));
    let mut wrong = ours.clone();
    wrong.push('x');
    assert!(!same_post(&wrong, &shown, 0));
}
