use super::*;

#[test]
fn the_api_shows_urls_as_t_co_links_escapes_and_links_the_media() {
    let shown = shown_text("a & b <c> https://example.com/x?y=1, ok", false, "1");
    assert!(
        shown.starts_with("a &amp; b &lt;c&gt; https://t.co/"),
        "{shown}"
    );
    assert!(shown.ends_with(", ok"), "{shown}");
    assert!(!shown.contains("example.com"));
    // Whitespace is kept as sent.
    assert_eq!(
        shown_text("one\n\ntwo  three", false, "1"),
        "one\n\ntwo  three"
    );
    // The media link, after the text or alone.
    let with_media = shown_text("pic", true, "2");
    assert!(with_media.starts_with("pic https://t.co/"), "{with_media}");
    assert!(shown_text("", true, "2").starts_with("https://t.co/"));
    // A scheme alone is no link.
    assert_eq!(shown_text("http://", false, "3"), "http://");
    // Stable for a post, different across posts.
    assert_eq!(
        shown_text("https://a.example", false, "4"),
        shown_text("https://a.example", false, "4")
    );
    assert_ne!(
        shown_text("https://a.example", false, "4"),
        shown_text("https://a.example", false, "5")
    );
}

#[test]
fn timeline_parameters_are_read_as_x_reads_them() {
    assert_eq!(numeric_id("123"), Some(123));
    assert_eq!(numeric_id(""), None);
    assert_eq!(numeric_id("12a"), None);
    assert_eq!(numeric_id("12345678901234567890"), None);
    assert!(time_parameter("start_time", "2026-01-02T03:04:05Z", "2010-11-06T00:00:00Z").is_ok());
    for bad in [
        "2026-01-02T03:04:05.000Z",
        "2026-01-02T03:04:05+00:00",
        "2026-01-02",
        "2010-11-05T23:59:59Z",
    ] {
        assert!(
            time_parameter("start_time", bad, "2010-11-06T00:00:00Z").is_err(),
            "{bad}"
        );
    }
}
