use super::*;

#[test]
fn characters_are_counted_as_mastodon_does() {
    assert_eq!(character_count("hello"), 5);
    assert_eq!(
        character_count("see https://example.com/a/very/long/path/indeed ok"),
        4 + 23 + 3
    );
    assert_eq!(character_count("hi @alice@mastodon.social!"), 3 + 6);
    assert_eq!(character_count("héllo wörld"), 11);
    assert_eq!(character_count("http://"), 7);
}

#[test]
fn html_has_paragraphs_and_escapes() {
    assert_eq!(html("a <b>\nc\n\nd"), "<p>a &lt;b&gt;<br />c</p><p>d</p>");
}

#[test]
fn scopes_cover_their_parts() {
    let granted = vec!["read".to_owned(), "write".to_owned()];
    assert!(covers(&granted, &["write:statuses"]));
    assert!(covers(&granted, &["read:accounts", "profile"]));
    assert!(!covers(&["read".to_owned()], &["write:media"]));
    assert!(valid_scope("write:statuses") && !valid_scope("everything"));
}
