use super::*;

const LINK: &str = "https://api.example.com/v1/email-verification/confirm?token=abc%2Bdef";

#[test]
fn both_parts_carry_the_product_the_link_and_the_expiry() {
    let message = verification_message(LINK);
    assert_eq!(message.subject(), "Confirm your email address for Multivio");
    for part in [message.text(), message.html()] {
        assert!(part.contains("Multivio"), "{part}");
        assert!(part.contains(LINK), "{part}");
        assert!(part.contains("valid for 24 hours"), "{part}");
        assert!(!part.contains("{{"), "a placeholder was left: {part}");
        assert!(!part.contains("}}"), "a placeholder was left: {part}");
    }
    assert!(message.html().contains(&format!("<a href=\"{LINK}\"")));
    assert!(message.html().starts_with("<!DOCTYPE html>"));
}

#[test]
fn the_templates_use_known_placeholders_only() {
    for template in [TEXT_TEMPLATE, HTML_TEMPLATE] {
        let rendered = render(template, &[("link", "L"), ("hours", "H")]);
        assert!(!rendered.contains("{{"), "{rendered}");
        assert!(template.contains("{{link}}") && template.contains("{{hours}}"));
    }
}

#[test]
fn the_templates_are_ascii_with_short_lines() {
    // 7bit-safe: no transfer encoding needed, and within SMTP's 998-character line limit even
    // with a long link.
    for template in [TEXT_TEMPLATE, HTML_TEMPLATE] {
        assert!(template.is_ascii());
        assert!(template.lines().all(|line| line.len() < 400));
    }
}

#[test]
fn the_link_is_escaped_in_html_and_verbatim_in_text() {
    let hostile = "https://x.example/?a=1&b=\"><script>alert('x')</script>";
    let message = verification_message(hostile);
    assert!(message.text().contains(hostile));
    assert!(!message.html().contains("<script>"));
    assert!(message.html().contains(
        "https://x.example/?a=1&amp;b=&quot;&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    ));
}

#[test]
fn escape_html_replaces_the_five_special_characters_only() {
    assert_eq!(escape_html(""), "");
    assert_eq!(escape_html("plain text é ✓"), "plain text é ✓");
    assert_eq!(escape_html("&<>\"'"), "&amp;&lt;&gt;&quot;&#x27;");
    assert_eq!(
        escape_html("&amp;"),
        "&amp;amp;",
        "escaping twice shows the first one"
    );
    assert_eq!(escape_html("a=b/c?d%20e"), "a=b/c?d%20e");
}

#[test]
fn render_substitutes_in_one_pass() {
    assert_eq!(
        render("{{a}}-{{b}}", &[("a", "{{b}}"), ("b", "x")]),
        "{{b}}-x",
        "a value is not rendered again"
    );
    assert_eq!(render("{{unknown}} {{a}}", &[("a", "1")]), "{{unknown}} 1");
    assert_eq!(render("{{a", &[("a", "1")]), "{{a");
    assert_eq!(render("no placeholders", &[]), "no placeholders");
}

#[test]
fn debug_leaves_out_the_bodies() {
    let debug = format!("{:?}", verification_message(LINK));
    assert!(!debug.contains("abc%2Bdef"), "{debug}");
}
