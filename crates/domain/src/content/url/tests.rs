use super::*;

fn urls(text: &str) -> Vec<&str> {
    find_urls(text, true)
        .into_iter()
        .map(|r| &text[r])
        .collect()
}

#[test]
fn finds_links_like_twitter_text() {
    let cases: &[(&str, &[&str])] = &[
        ("https://example.com", &["https://example.com"]),
        ("HTTP://EXAMPLE.COM/A", &["HTTP://EXAMPLE.COM/A"]),
        (
            "Hello 👋 https://example.com/a/very/long/path?x=1 and https://t.co/x",
            &["https://example.com/a/very/long/path?x=1", "https://t.co/x"],
        ),
        ("example.com", &["example.com"]),
        ("see example.com.", &["example.com"]),
        ("a.photography", &["a.photography"]),
        ("github.com/foo/bar", &["github.com/foo/bar"]),
        ("www.google.jp", &["www.google.jp"]),
        ("google.jp/foo", &["google.jp/foo"]),
        ("t.co and twitch.tv", &["t.co", "twitch.tv"]),
        ("münchen.de/x", &["münchen.de/x"]),
        ("https://münchen.de", &["https://münchen.de"]),
        ("https://example.com/path.", &["https://example.com/path"]),
        (
            "(https://example.com/a_(b))",
            &["https://example.com/a_(b)"],
        ),
        (
            "https://en.wikipedia.org/wiki/Rust_(language), ok",
            &["https://en.wikipedia.org/wiki/Rust_(language)"],
        ),
        (
            "https://example.com/?q=a+b&c=d.",
            &["https://example.com/?q=a+b&c=d"],
        ),
        ("https://example.com?", &["https://example.com"]),
        ("http://example.com:8080/x", &["http://example.com:8080/x"]),
        ("example.com:8080", &["example.com"]),
        ("https://example.comだよね", &["https://example.com"]),
        ("https://t.co/abc123~def", &["https://t.co/abc123"]),
        ("a.com,b.org", &["a.com", "b.org"]),
        ("http://example.com/ü", &["http://example.com/ü"]),
        (
            "https://sub_domain.example.com",
            &["https://sub_domain.example.com"],
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(urls(text), *expected, "{text:?}");
    }
}

#[test]
fn leaves_non_links_alone() {
    for text in [
        "setup.py",
        "README.md",
        "file.txt",
        "google.jp",
        "user@example.com",
        "@example.com",
        "#example.com",
        "$example.com",
        "fooexample",
        "http://localhost:8080/x",
        "http://192.168.0.1/x",
        "ftp://example.com",
        "-example.com",
        "_example.com",
        "/example.com",
        "example.com@",
        "hello. world",
        "https://",
        "",
    ] {
        assert_eq!(urls(text), Vec::<&str>::new(), "{text:?}");
    }
}

#[test]
fn scheme_only_mode_skips_bare_domains() {
    let text = "example.com and https://example.org/x";
    let found: Vec<&str> = find_urls(text, false)
        .into_iter()
        .map(|r| &text[r])
        .collect();
    assert_eq!(found, ["https://example.org/x"]);
}
